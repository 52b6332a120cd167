//! The server through its real HTTP API: one test binary, a module per area.

mod agents;
mod alertmanager;
mod changes;
mod channels;
mod cluster;
mod crowd;
mod database;
mod drafts;
mod gate;
mod helpers;
mod incidents;
mod integrations;
mod latency;
mod layout;
mod listen;
mod monitors;
mod notify;
mod objects;
mod ops;
mod peers;
mod prometheus;
mod reports;
mod series;
mod signals;
mod subscribers;
