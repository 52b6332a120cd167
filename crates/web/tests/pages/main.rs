//! downbeat-web's integration tests: one binary, a real server on 127.0.0.1:0 per test with
//! a fresh SQLite store and a manual clock.

mod breakdowns;
mod browser;
mod cache;
mod changes;
mod comments;
mod form;
mod geoip;
mod helpers;
mod incidents;
mod machine;
mod mmdb;
mod official;
mod render;
mod statuspage;
mod subscribe;
