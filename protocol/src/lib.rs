//! The Kith wire protocol, shared by the relay (`kith-relay`) and the client (`kith`).
//!
//! This crate does no I/O. It holds:
//! - [`frame`]: every frame that crosses the WebSocket, with one binary encoding
//!   (postcard) and bounded, panic-free decoding;
//! - [`ids`]: group ids, slot ids, sequence numbers and epochs;
//! - [`limits`]: every size and count limit, as named constants;
//! - [`error`]: the typed error codes a relay answers with;
//! - [`invite`]: one-time invite codes (generation, parsing with checksum, HKDF split
//!   into slot id and slot key) and the invite string `kith://host/CODE`;
//! - [`access`]: per-epoch relay access keys derived from an MLS exporter secret, and
//!   the challenge signature that proves holding one;
//! - [`padding`]: padding of every stored blob to a few size buckets;
//! - [`aead`]: the file chunk sealing format, XChaCha20-Poly1305 and SHA-256, as plain
//!   functions compiled optimized even in debug builds.
//!
//! The format is specified in `docs/PROTOCOL.md`; this crate is its reference.
#![forbid(unsafe_code)]

pub mod access;
pub mod aead;
pub mod error;
pub mod frame;
pub mod ids;
pub mod invite;
pub mod limits;
pub mod padding;

pub use error::ErrorCode;
pub use frame::{
    AdminPublicKey, BlobId, ClientFrame, DecodeError, KnockEntry, Message, MessageKind, PostKind,
    Push, RelayFrame, RepairRecord, Request, RequestId, Response,
};
pub use ids::{Epoch, GroupId, Seq, SlotId};

/// The protocol version this crate speaks. A relay answers a `Hello` naming any other
/// version with [`ErrorCode::UnsupportedVersion`] and closes.
pub const PROTOCOL_VERSION: u16 = 1;

/// The WebSocket path of the relay endpoint.
pub const WS_PATH: &str = "/v1";
