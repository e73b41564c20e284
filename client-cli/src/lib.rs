//! The faces of the Kith client over one engine (crate `kith-engine`): the scriptable
//! `kith` commands ([`cli`]), the full-screen chat ([`chat`]) and the profile daemon
//! ([`daemon`]), which serves the commands and the engine's events to other processes
//! over JSON-RPC ([`rpc`]). [`args`] is the command line, which the daemon's methods
//! mirror.
//!
//! The engine's modules are re-exported under their old names so that the tests,
//! benchmarks and fuzz targets keep one path to them (`kith::engine`, `kith::store`, …).
#![forbid(unsafe_code)]

pub mod args;
pub mod chat;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod help;
pub mod rpc;

pub use kith_engine::{
    AuthInfo, ConnectOptions, FetchPage, RelayConnection, RelayError, doctor, engine, identity,
    live, payload, relay, seal, store,
};
