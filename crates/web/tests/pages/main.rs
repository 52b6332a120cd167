//! downbeat-web's integration tests: one binary, a real server on 127.0.0.1:0 per test with
//! a fresh SQLite store and a manual clock.

mod browser;
mod cache;
mod form;
mod helpers;
mod incidents;
mod machine;
mod render;
