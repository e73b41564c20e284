//! `kith-relay`: stores and delivers ciphertext for groups it cannot read.
//!
//! Start reading at [`server::start`]; the request logic is in [`connection`] (sockets,
//! limits) and [`relay`] (groups, epochs, invites, retention); storage is behind the
//! [`store::Store`] trait. `ARCHITECTURE.md` at the repository root has the map.
#![forbid(unsafe_code)]

pub mod admin;
pub mod coalesce;
pub mod config;
pub mod connection;
pub mod crash;
pub mod docs;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod relay;
pub mod server;
pub mod store;
pub mod tls;

pub use config::{Cli, Settings};
pub use server::{Running, start};
