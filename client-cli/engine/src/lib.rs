//! The Kith engine: everything a Kith client does, with no face of its own. The
//! terminal commands, the chat screen and the profile daemon (crate `kith`) are faces
//! over it; nothing here knows a terminal, a command line or a socket protocol.
//!
//! - [`engine`]: groups, invites, sync, sending — the [`engine::Client`] every face holds;
//! - [`live`]: the long-running loop over a `Client` (commands in, events out);
//! - [`store`]: the encrypted local store and OpenMLS's storage provider over it;
//! - [`relay`]: the async connection to a relay;
//! - [`doctor`]: why a relay cannot be reached, step by step;
//! - [`seal`]: sealing of invitations, answers and welcomes;
//! - [`payload`]: what travels inside MLS application messages;
//! - [`identity`]: fingerprints, safety numbers, credential checks.
#![forbid(unsafe_code)]

pub mod doctor;
pub mod engine;
pub mod identity;
pub mod live;
pub mod payload;
pub mod relay;
pub mod seal;
pub mod store;

pub use relay::{AuthInfo, ConnectOptions, FetchPage, RelayConnection, RelayError};
