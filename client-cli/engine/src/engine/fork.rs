//! Telling a fork from a tampered label. Every message carries, in its MLS authenticated
//! data, a one-way tag of the sender's epoch authenticator (`fork_tag`): members in
//! different views of the same epoch carry different tags. But the tag travels in the
//! clear, so anyone on the way can change it, and one message whose tag differs from
//! ours is no evidence of anything: it is first opened again with our tag put back (if
//! it then opens, only the label was changed), and a fork is claimed only when two
//! different messages carry the same foreign tag and neither opens with ours.

use super::records::GroupRecord;
use super::{Client, Result};
use kith_protocol::GroupId;
use sha2::{Digest, Sha256};

/// Messages with one foreign tag that make a fork claim.
const FORK_EVIDENCE: usize = 2;

/// The namespace of the foreign tags seen in a group (tag → the messages that carried
/// it, by hash).
pub fn ns_foreign(group: &GroupId) -> String {
    format!("foreign-tags/{}", group.to_hex())
}

/// An MLS variable-length integer (RFC 9420 §2.1.2): the value and its length.
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    if len > 4 {
        return None;
    }
    let mut v = (first & 0x3f) as usize;
    for i in 1..len {
        v = (v << 8) | *b.get(i)? as usize;
    }
    Some((v, len))
}

/// `mls` (a serialized MLSMessage holding a PrivateMessage) with its authenticated data
/// replaced by `tag`, of the same length. `None` if it is not laid out as expected.
pub fn relabelled(mls: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
    // version (2), wire_format (2), group_id<V>, epoch (8), content_type (1), aad<V>.
    let (gid_len, n) = varint(mls.get(4..)?)?;
    let at = 4 + n + gid_len + 8 + 1;
    let (aad_len, n) = varint(mls.get(at..)?)?;
    if aad_len != tag.len() {
        return None;
    }
    let start = at + n;
    let mut out = mls.to_vec();
    out.get_mut(start..start + aad_len)?.copy_from_slice(tag);
    Some(out)
}

impl Client {
    /// Records that the message `mls` carried the foreign tag `tag` and did not open
    /// with ours either; returns whether that now makes evidence of a fork.
    pub(crate) fn foreign_tag_seen(&self, g: &GroupRecord, tag: &[u8], mls: &[u8]) -> Result<bool> {
        let ns = ns_foreign(&g.relay_group);
        let mut seen: Vec<[u8; 32]> = self.get(&ns, tag)?.unwrap_or_default();
        let this: [u8; 32] = Sha256::digest(mls).into();
        if !seen.contains(&this) && seen.len() < FORK_EVIDENCE {
            seen.push(this);
            self.put(&ns, tag, &seen)?;
        }
        Ok(seen.len() >= FORK_EVIDENCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relabelling_replaces_exactly_the_authenticated_data() {
        // version 1, PrivateMessage, a 3-byte group id, epoch 7, content type 1, a
        // 4-byte aad, then the rest.
        let msg = [
            0, 1, 0, 2, 3, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 7, 1, 4, 0xa, 0xb, 0xc, 0xd, 0x55,
        ];
        let out = relabelled(&msg, &[1, 2, 3, 4]).unwrap();
        assert_eq!(out[18..22], [1, 2, 3, 4]);
        assert_eq!(out[..18], msg[..18]);
        assert_eq!(out[22..], msg[22..]);
        assert_eq!(relabelled(&msg, &[1, 2, 3]), None, "another length");
        assert_eq!(relabelled(&msg[..20], &[1, 2, 3, 4]), None, "cut short");
    }
}
