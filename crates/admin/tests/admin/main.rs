//! The admin area through real HTTP: one test binary, a module per concern. Every test
//! runs its own server on 127.0.0.1:0 with a fresh SQLite store and a manual clock.

mod browser;
mod changes;
mod comments;
mod config;
mod escaping;
mod forms;
mod helpers;
mod login;
mod messages;
mod notifications;
mod roles;
