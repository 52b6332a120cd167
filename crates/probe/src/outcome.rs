//! What a probe concluded: [`Outcome`], the probable [`Cause`] of a failure and its [`Detail`].
//! The vocabulary lives in [`downbeat_domain::probe`], with its words; it is re-exported here
//! so that `downbeat_probe::{Cause, Detail, Outcome}` keep working.

pub use downbeat_domain::probe::{Cause, Detail, Facts, Outcome, UnknownWord};
