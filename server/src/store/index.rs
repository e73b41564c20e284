//! Where each message record lies ([`super::packs`]), as sled keeps it: per group, one
//! key for [`SPAN`] consecutive sequence numbers, and a live count per pack.
//!
//! | key | value |
//! |---|---|
//! | `I` group(16) chunk(8 BE), chunk = seq / [`SPAN`] | per stored seq, in order: `slot u8 ‖ pack u64 LE ‖ offset u64 LE ‖ len u32 LE`, slot = seq % [`SPAN`] |
//! | `P` pack(8 BE) | `count u64 LE ‖ bytes u64 LE`: the records pointed to in the pack |
//!
//! A full chunk is 2688 bytes, below [`super::values::THRESHOLD`], so it stays in sled's
//! leaf. A chunk's value starts with a slot (< 128), never with the first byte of a value
//! reference.

use super::packs::Pointer;
use super::{Result, StoreError};
use kith_protocol::{GroupId, Seq};
use std::collections::BTreeMap;

/// Sequence numbers per index key.
pub const SPAN: u64 = 128;
/// The index's key kind.
pub const INDEX: u8 = b'I';
/// The live counts' key kind.
pub const LIVE: u8 = b'P';
const ENTRY: usize = 1 + Pointer::LEN;

/// The index key of the chunk holding `seq`.
pub fn key(group: &GroupId, seq: Seq) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[0] = INDEX;
    k[1..17].copy_from_slice(&group.0);
    k[17..].copy_from_slice(&(seq / SPAN).to_be_bytes());
    k
}

/// The first sequence number a chunk key covers.
pub fn first_seq(key: &[u8]) -> Result<Seq> {
    let chunk: [u8; 8] = key
        .get(17..25)
        .and_then(|b| b.try_into().ok())
        .ok_or(StoreError::Corrupt)?;
    Ok(u64::from_be_bytes(chunk) * SPAN)
}

/// The live-count key of a pack.
pub fn live_key(pack: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = LIVE;
    k[1..].copy_from_slice(&pack.to_be_bytes());
    k
}

/// What a pack holds that something points to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Live {
    /// Records.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Live {
    /// As sled stores it.
    pub fn encode(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.count.to_le_bytes());
        v[8..].copy_from_slice(&self.bytes.to_le_bytes());
        v
    }

    /// From sled.
    pub fn decode(v: &[u8]) -> Result<Self> {
        if v.len() != 16 {
            return Err(StoreError::Corrupt);
        }
        Ok(Self {
            count: u64::from_le_bytes(v[..8].try_into().expect("8 bytes")),
            bytes: u64::from_le_bytes(v[8..].try_into().expect("8 bytes")),
        })
    }

    /// Counts a record in (`true`) or out.
    pub fn add(&mut self, len: u32, plus: bool) {
        if plus {
            self.count += 1;
            self.bytes += u64::from(len);
        } else {
            self.count = self.count.saturating_sub(1);
            self.bytes = self.bytes.saturating_sub(u64::from(len));
        }
    }
}

/// One chunk's pointers, by slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk(BTreeMap<u8, Pointer>);

impl Chunk {
    /// From sled's value.
    pub fn decode(v: &[u8]) -> Result<Self> {
        if !v.len().is_multiple_of(ENTRY) {
            return Err(StoreError::Corrupt);
        }
        let mut out = BTreeMap::new();
        for e in v.chunks_exact(ENTRY) {
            if u64::from(e[0]) >= SPAN {
                return Err(StoreError::Corrupt);
            }
            out.insert(e[0], Pointer::decode(&e[1..]).ok_or(StoreError::Corrupt)?);
        }
        Ok(Self(out))
    }

    /// As sled stores it.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.0.len() * ENTRY);
        for (slot, p) in &self.0 {
            v.push(*slot);
            p.encode(&mut v);
        }
        v
    }

    /// Where `seq`'s record lies, if the chunk has it.
    pub fn get(&self, seq: Seq) -> Option<Pointer> {
        self.0.get(&((seq % SPAN) as u8)).copied()
    }

    /// Points `seq` at `p` (or at nothing); returns what it pointed at.
    pub fn set(&mut self, seq: Seq, p: Option<Pointer>) -> Option<Pointer> {
        let slot = (seq % SPAN) as u8;
        match p {
            Some(p) => self.0.insert(slot, p),
            None => self.0.remove(&slot),
        }
    }

    /// Whether no record is left.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pointers at or after `from`, with their sequence numbers, given the chunk's
    /// first sequence number.
    pub fn from(&self, first: Seq, from: Seq) -> impl Iterator<Item = (Seq, Pointer)> + '_ {
        self.0
            .iter()
            .map(move |(slot, p)| (first + u64::from(*slot), *p))
            .filter(move |(seq, _)| *seq >= from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_reject_garbage() {
        let g = GroupId([5; 16]);
        let p = |n: u64| Pointer {
            pack: n,
            offset: n * 100,
            len: n as u32,
        };
        let mut c = Chunk::default();
        for seq in [256, 300, 383] {
            assert_eq!(c.set(seq, Some(p(seq))), None);
        }
        assert_eq!(c.set(300, Some(p(1))), Some(p(300)));
        let back = Chunk::decode(&c.encode()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.get(383), Some(p(383)));
        let k = key(&g, 300);
        assert_eq!(k, key(&g, 256));
        assert_ne!(k, key(&g, 384));
        let first = first_seq(&k).unwrap();
        assert_eq!(first, 256);
        let seqs: Vec<_> = back.from(first, 290).map(|(s, _)| s).collect();
        assert_eq!(seqs, vec![300, 383]);
        assert_eq!(c.set(256, None), Some(p(256)));
        assert_eq!(c.set(300, None), Some(p(1)));
        assert_eq!(c.set(383, None), Some(p(383)));
        assert!(c.is_empty() && c.encode().is_empty());
        // A full chunk stays in sled's leaf.
        let mut full = Chunk::default();
        for seq in 0..SPAN {
            full.set(seq, Some(p(seq)));
        }
        assert!(full.encode().len() < super::super::values::THRESHOLD);
        assert!(Chunk::decode(&[1, 2, 3]).is_err());
        let mut bad = full.encode();
        bad[0] = 200;
        assert!(Chunk::decode(&bad).is_err());
        let l = Live {
            count: 3,
            bytes: 900,
        };
        assert_eq!(Live::decode(&l.encode()).unwrap(), l);
    }
}
