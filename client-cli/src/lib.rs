//! The Kith client library: one engine ([`engine::Client`]) under two faces, the
//! scriptable `kith` commands ([`cli`]) and the full-screen chat ([`chat`]).
//!
//! - [`chat`]: `kith chat`, the terminal chat screen over the same engine;
//! - [`engine`]: groups, invites, sync, sending — everything a command does;
//! - [`store`]: the encrypted local store and OpenMLS's storage provider over it;
//! - [`relay`]: the async connection to a relay;
//! - [`seal`]: sealing of invitations, answers and welcomes;
//! - [`payload`]: what travels inside MLS application messages;
//! - [`identity`]: fingerprints, safety numbers, credential checks.
#![forbid(unsafe_code)]

pub mod chat;
pub mod cli;
mod cli_admin;
pub mod docs;
pub mod doctor;
pub mod engine;
pub mod identity;
pub mod payload;
pub mod relay;
pub mod seal;
pub mod store;

pub use relay::{AuthInfo, ConnectOptions, FetchPage, RelayConnection, RelayError};
