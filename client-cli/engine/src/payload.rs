//! What travels inside MLS application messages: a versioned serde enum, padded inside
//! the encryption so that the ciphertext's length reveals only a size class.

use kith_protocol::padding::BUCKETS;
use serde::{Deserialize, Serialize};

/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 128;
/// The longest text message, in bytes (so that it fits the largest bucket with room).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// How far a text is over [`MAX_TEXT_BYTES`], as a person counts: `(characters too
/// many, characters in all)`; `None` when it fits. The limit is in bytes, and a
/// Cyrillic letter takes two: a reader is told characters, which they can count.
pub fn chars_over_limit(text: &str) -> Option<(usize, usize)> {
    if text.len() <= MAX_TEXT_BYTES {
        return None;
    }
    let fit = text
        .char_indices()
        .take_while(|(at, c)| at + c.len_utf8() <= MAX_TEXT_BYTES)
        .count();
    let total = text.chars().count();
    Some((total - fit, total))
}

/// Room left in every relay bucket for the MLS framing around our padded payload: the
/// group id, epoch, sender data, signature and AEAD tags (about 200 bytes for our
/// ciphersuite; measured in the engine's tests).
pub const MLS_OVERHEAD: usize = 320;

/// An application message, versioned: a new client can add variants to [`Body`] or a
/// new version; an old client shows what it cannot read as such instead of failing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppMessage {
    /// Version 1.
    V1(Body),
    /// Version 2: the content with the sender's count of its messages to the group,
    /// inside the encryption, so that the others see which of the sender's messages did
    /// not reach them (the relay's numbers prove nothing: it can renumber).
    V2 {
        /// 1 for the sender's first message to the group, then one more for each.
        counter: u64,
        /// The content.
        body: Body,
    },
    /// Version 3: as version 2, with the sender's view of the log when it wrote this
    /// (`engine/views.rs`), so that the others see whether the relay showed them the
    /// same messages in the same order.
    V3 {
        /// As in version 2.
        counter: u64,
        /// The sender's view; `None` when its log of the epoch has a hole.
        view: Option<LogView>,
        /// The content.
        body: Body,
    },
    /// A message of the sender's posted again, at the copy of the group the sender went
    /// to when the relay it was first posted at could not be reached (or came back), for
    /// the members who could not read it there (`engine/reposts.rs`). A receiver that
    /// has it already (by the sender's counter) drops it without a word.
    Again {
        /// The counter the message had when first posted.
        counter: u64,
        /// The content, as first posted.
        body: Body,
    },
}

/// A sender's view of the group's log, at the moment it wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogView {
    /// The epoch.
    pub epoch: u64,
    /// How many of the epoch's messages the sender had processed.
    pub seen: u32,
    /// The first 16 bytes of the hash chain over them.
    pub hash: [u8; 16],
}

/// The content of a version-1 application message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// A text message.
    Text {
        /// The text.
        text: String,
        /// When the sender sent it, by the sender's clock, Unix seconds. Inside the
        /// encryption, so the relay cannot change it.
        sent_at: u64,
    },
    /// The sender's display name (sent on joining, and when it changes).
    Profile {
        /// The name.
        name: String,
    },
    /// The sender leaves the group and asks an admin to commit its removal. (An MLS
    /// self-remove proposal would block every member's sending until committed, which
    /// OpenMLS enforces; a request that admins turn into a removal does not.)
    LeaveRequest,
    /// A file. Its chunks are blobs on the relay, sealed under `key`; this message is
    /// what makes them readable, so only members who received it can open the file.
    File(FileRef),
    /// Earlier messages handed to a member who just joined, when the group shares
    /// history with newcomers. Only the addressee keeps them; they are marked as history
    /// told by the sender, since their original signatures do not travel with them.
    History {
        /// The newcomer.
        to: [u8; 32],
        /// The messages, oldest first.
        entries: Vec<HistoryEntry>,
        /// The last part of the history: the newcomer accepts no more after it.
        last: bool,
    },
    /// Deletes a message for everyone: its sender may delete it, and so may an admin.
    Delete {
        /// The relay sequence number the message came with.
        seq: u64,
    },
    /// Hides every message of `member` (an admin's moderation, sent with its removal).
    HideFrom {
        /// The member's identity key.
        member: [u8; 32],
    },
    /// The sender's device was unlocked with its duress passphrase, and the member had
    /// chosen to tell the groups (`kith passphrase --duress --notify`): sent just before
    /// its leave request, and before the profile is destroyed. It names no one: it can
    /// only speak of its (MLS-authenticated) sender, and receivers show it as that
    /// client's claim, never more (a patched client can send it falsely). Clients
    /// older than this variant cannot decode it and show "a message this version cannot
    /// read"; the variant is last, so every earlier one encodes as before.
    DuressNotice,
}

/// What opens a file: the blobs that hold it and the key that seals them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, zeroize::ZeroizeOnDrop)]
pub struct FileRef {
    /// The file's name as the sender gave it (cleaned before display or saving).
    #[zeroize(skip)]
    pub name: String,
    /// Its size in bytes.
    #[zeroize(skip)]
    pub size: u64,
    /// SHA-256 of the whole plaintext, checked after download.
    #[zeroize(skip)]
    pub sha256: [u8; 32],
    /// The fresh ChaCha20-Poly1305 key its chunks are sealed under.
    pub key: [u8; 32],
    /// The plaintext bytes per chunk (the last chunk is padded to the same size).
    #[zeroize(skip)]
    pub chunk_size: u32,
    /// The relay blob id (SHA-256 of the sealed chunk) of every chunk, in order.
    #[zeroize(skip)]
    pub chunks: Vec<[u8; 32]>,
    /// When the sender sent it, by the sender's clock, Unix seconds (inside the
    /// encryption, like a text's).
    #[zeroize(skip)]
    pub sent_at: u64,
}

impl std::fmt::Debug for FileRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileRef({:?}, {} bytes)", self.name, self.size)
    }
}

/// One message of shared history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Who sent it.
    pub sender: [u8; 32],
    /// When, Unix seconds.
    pub time: u64,
    /// What it was.
    pub content: HistoryContent,
}

/// What a shared-history message was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HistoryContent {
    /// A text.
    Text(String),
    /// A file.
    File(FileRef),
}

/// What it takes to admit a joiner: enough to read the answer and seal the welcome. Part
/// of the group's MLS-agreed state (engine/state.rs) while the invite is open.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, zeroize::ZeroizeOnDrop)]
pub struct InviteSecret {
    /// The slot id.
    pub slot: [u8; 32],
    /// The slot key.
    pub slot_key: [u8; 32],
    /// The inviter's ephemeral X25519 secret.
    pub eph_secret: [u8; 32],
    /// The management token for the slot.
    pub manage_token: [u8; 32],
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// Whether the joiner needs an admin's approval; false: any member admits on sight.
    pub needs_approval: bool,
}

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteSecret(…)")
    }
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    /// Too large for the largest bucket.
    #[error("{}", kith_i18n::t!("net-payload-too-large"))]
    TooLarge,
    /// Malformed padding or encoding.
    #[error("{}", kith_i18n::t!("net-payload-malformed"))]
    Malformed,
}

impl AppMessage {
    /// Encodes and pads: the result's length is a bucket size minus [`MLS_OVERHEAD`].
    pub fn to_padded(&self) -> Result<Vec<u8>, PayloadError> {
        let data = postcard::to_stdvec(self).map_err(|_| PayloadError::Malformed)?;
        let size = BUCKETS
            .iter()
            .filter(|&&b| b > MLS_OVERHEAD)
            .map(|b| b - MLS_OVERHEAD)
            .find(|&s| s >= data.len() + 4)
            .ok_or(PayloadError::TooLarge)?;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(&data);
        out.resize(size, 0);
        Ok(out)
    }

    /// Unpads and decodes.
    pub fn from_padded(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() < 4 {
            return Err(PayloadError::Malformed);
        }
        let len = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let data = bytes.get(4..4 + len).ok_or(PayloadError::Malformed)?;
        if bytes[4 + len..].iter().any(|&b| b != 0) {
            return Err(PayloadError::Malformed);
        }
        match postcard::take_from_bytes(data) {
            Ok((m, [])) => Ok(m),
            _ => Err(PayloadError::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_told_in_characters() {
        assert_eq!(chars_over_limit(&"a".repeat(MAX_TEXT_BYTES)), None);
        assert_eq!(
            chars_over_limit(&"a".repeat(MAX_TEXT_BYTES + 3)),
            Some((3, MAX_TEXT_BYTES + 3))
        );
        // Cyrillic: two bytes a letter, so half as many fit.
        let text = "я".repeat(MAX_TEXT_BYTES / 2 + 10);
        assert_eq!(chars_over_limit(&text), Some((10, MAX_TEXT_BYTES / 2 + 10)));
    }

    #[test]
    fn round_trip_and_size_classes() {
        let m = AppMessage::V1(Body::Text {
            text: "hi".into(),
            sent_at: 1,
        });
        let p = m.to_padded().unwrap();
        assert_eq!(p.len(), 1024 - MLS_OVERHEAD);
        assert_eq!(AppMessage::from_padded(&p).unwrap(), m);
        let long = AppMessage::V1(Body::Text {
            text: "x".repeat(2000),
            sent_at: 1,
        });
        assert_eq!(long.to_padded().unwrap().len(), 4096 - MLS_OVERHEAD);
        // The duress notice, the newest body, comes out as its variant number (7) after
        // V3's fields: older variants keep their numbers.
        let notice = AppMessage::V3 {
            counter: 1,
            view: None,
            body: Body::DuressNotice,
        };
        assert_eq!(postcard::to_stdvec(&notice).unwrap(), [2, 1, 0, 7]);
        let padded = notice.to_padded().unwrap();
        assert_eq!(AppMessage::from_padded(&padded).unwrap(), notice);
        let mut bad = p.clone();
        bad[600] = 1;
        assert_eq!(AppMessage::from_padded(&bad), Err(PayloadError::Malformed));
        assert_eq!(
            AppMessage::from_padded(&[0, 0, 0, 9]),
            Err(PayloadError::Malformed)
        );
    }
}
