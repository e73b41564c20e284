//! Each member's view of the log, hashed, so that a relay that shows two members
//! different logs (another order, a message left out and the numbers closed up) is
//! caught by the next message of either.
//!
//! Every client keeps, for the epoch it is in, a hash chain over the log's messages of
//! that epoch as it processed them: `H_0 = SHA-256("kith log view v1\0" ‖ MLS group id ‖
//! epoch)`, `H_n = SHA-256(H_{n-1} ‖ SHA-256(payload_n))`, over the padded ciphertext
//! every member receives alike. A message carries, inside the encryption
//! (`AppMessage::V3`), the sender's `(epoch, n, H_n)`: how many of the epoch's messages
//! it had processed, and their hash. A receiver at position `p` (messages of the epoch
//! before this one) compares: `n > p` means the sender had seen messages that did not
//! reach us; `n <= p` with our `H_n` different means we were shown other messages, or
//! another order, than the sender.
//!
//! Why per epoch: a commit starts a new chain that every member of the epoch shares
//! (newcomers join at an epoch's start), so no one needs history from before they came.
//! Why nothing is claimed after a hole: retention removes a member's oldest messages
//! when they were away, so a client whose log of the epoch has a hole (a gap in the
//! relay's numbers, or an admin's repair) stops comparing, and stops sending its view,
//! until the next epoch. The relay can hide a withheld message behind such a hole; the
//! senders' counters (`counters.rs`) still name it.
//!
//! Kept: the chain's head and the last [`KEPT`] positions' hashes (a sender's view is
//! a moment old, never far behind), in `views/<group hex>`.

use super::records::GroupRecord;
use super::{Client, Result};
use crate::payload::LogView;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How many positions back a sender's view can be compared.
const KEPT: u32 = 256;

const HEAD: &[u8] = b"head";

fn ns_views(g: &GroupRecord) -> String {
    format!("views/{}", g.relay_group.to_hex())
}

fn start(g: &GroupRecord, epoch: u64) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"kith log view v1\0")
        .chain_update(&g.mls_group_id)
        .chain_update(epoch.to_be_bytes())
        .finalize()
        .into()
}

fn short(h: &[u8; 32]) -> [u8; 16] {
    let mut s = [0; 16];
    s.copy_from_slice(&h[..16]);
    s
}

/// The chain's head for the epoch this client is in.
#[derive(Serialize, Deserialize)]
struct Head {
    epoch: u64,
    /// Messages of the epoch processed.
    seen: u32,
    hash: [u8; 32],
    /// The log of this epoch had a hole here: nothing is compared or claimed.
    broken: bool,
}

/// What a sender's view says against ours.
#[derive(Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The sender had processed this many more of the epoch's messages than reached us
    /// before their message.
    Withheld(u32),
    /// Same count, other messages or another order.
    Different,
}

impl Client {
    fn view_head(&self, g: &GroupRecord, epoch: u64) -> Result<Head> {
        match self.get::<Head>(&ns_views(g), HEAD)? {
            Some(h) if h.epoch == epoch => Ok(h),
            _ => Ok(Head {
                epoch,
                seen: 0,
                hash: start(g, epoch),
                broken: false,
            }),
        }
    }

    fn put_head(&self, g: &GroupRecord, head: &Head) -> Result<()> {
        self.put(&ns_views(g), HEAD, head)
    }

    /// Our view, for a message we send in `epoch` (`None` after a hole).
    pub(crate) fn own_view(&self, g: &GroupRecord, epoch: u64) -> Result<Option<LogView>> {
        let head = self.view_head(g, epoch)?;
        Ok((!head.broken).then(|| LogView {
            epoch,
            seen: head.seen,
            hash: short(&head.hash),
        }))
    }

    /// Adds a message of `epoch` to our chain (uncommitted: the caller's commit of the
    /// message carries it).
    pub(crate) fn view_append(&self, g: &GroupRecord, epoch: u64, payload: &[u8]) -> Result<()> {
        let mut head = self.view_head(g, epoch)?;
        if head.seen == 0 && !head.broken {
            // A new epoch: the old one's positions go.
            self.db().delete_namespace(&ns_views(g))?;
        }
        head.hash = Sha256::new()
            .chain_update(head.hash)
            .chain_update(Sha256::digest(payload))
            .finalize()
            .into();
        head.seen = head.seen.saturating_add(1);
        self.put(
            &ns_views(g),
            &(head.seen % KEPT).to_be_bytes(),
            &(head.seen, head.hash),
        )?;
        self.put_head(g, &head)
    }

    /// Our log of `epoch` has a hole: stop comparing and claiming until the next epoch.
    pub(crate) fn view_hole(&self, g: &GroupRecord, epoch: u64) -> Result<()> {
        let mut head = self.view_head(g, epoch)?;
        head.broken = true;
        self.put_head(g, &head)
    }

    /// Compares a sender's view with ours, for a message at our position (before we add
    /// it).
    pub(crate) fn view_check(
        &self,
        g: &GroupRecord,
        epoch: u64,
        theirs: &LogView,
    ) -> Result<Option<Mismatch>> {
        let head = self.view_head(g, epoch)?;
        if head.broken || theirs.epoch != epoch {
            return Ok(None);
        }
        if theirs.seen > head.seen {
            return Ok(Some(Mismatch::Withheld(theirs.seen - head.seen)));
        }
        let ours = if theirs.seen == head.seen {
            Some(head.hash)
        } else if theirs.seen == 0 {
            Some(start(g, epoch))
        } else {
            self.get::<(u32, [u8; 32])>(&ns_views(g), &(theirs.seen % KEPT).to_be_bytes())?
                .filter(|(at, _)| *at == theirs.seen)
                .map(|(_, h)| h)
        };
        // Too far back to compare: nothing is claimed.
        Ok(ours
            .filter(|h| short(h) != theirs.hash)
            .map(|_| Mismatch::Different))
    }
}
