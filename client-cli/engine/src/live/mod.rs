//! The live engine: one task that owns the profile's [`Client`](crate::engine::Client),
//! driven by [`Command`]s and reporting [`Event`]s, so that a face never waits on the
//! network or the store. `kith chat` runs it in its own process; `kith daemon` runs it
//! once for every face that connects to the profile's socket.
//!
//! - [`task`]: the loop (subscriptions, catch-up, outbox, reconnecting, failover);
//! - [`messages`]: what a face and the loop say to each other;
//! - `links`: one connection per relay, each with its own state and backoff.

mod links;
pub mod messages;
pub mod task;

pub use messages::{Command, ConnState, Event, GroupView, OutState};
