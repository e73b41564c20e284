//! A set of byte ranges: which parts of a file were written since its last sync, so that
//! a sync writes only those to the backing file instead of the whole file.

use std::collections::BTreeMap;

/// Disjoint, non-adjacent half-open ranges `[start, end)`, keyed by start.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    /// Adds `[start, end)`, merging it with every range it overlaps or touches.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        let (mut start, mut end) = (start, end);
        // Ranges are disjoint and sorted, so their ends are sorted too: walking back from
        // the last range that starts at or before `end`, the first one that ends before
        // `start` ends the run of ranges to merge.
        let merged: Vec<u64> = self
            .0
            .range(..=end)
            .rev()
            .take_while(|(_, e)| **e >= start)
            .map(|(s, _)| *s)
            .collect();
        for s in merged {
            let e = self.0.remove(&s).unwrap_or(s);
            start = start.min(s);
            end = end.max(e);
        }
        self.0.insert(start, end);
    }

    /// Drops everything at or beyond `len` (the file was truncated to `len`).
    pub fn clip(&mut self, len: u64) {
        let _ = self.0.split_off(&len);
        if let Some((_, end)) = self.0.iter_mut().next_back()
            && *end > len
        {
            *end = len;
        }
    }

    /// Empties the set.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The ranges, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.0.iter().map(|(s, e)| (*s, *e))
    }

    /// Whether no range is in the set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(r: &RangeSet) -> Vec<(u64, u64)> {
        r.iter().collect()
    }

    #[test]
    fn merges_overlapping_and_touching_ranges() {
        let mut r = RangeSet::default();
        r.insert(10, 20);
        r.insert(30, 40);
        assert_eq!(ranges(&r), vec![(10, 20), (30, 40)]);
        r.insert(20, 25);
        assert_eq!(ranges(&r), vec![(10, 25), (30, 40)]);
        r.insert(5, 35);
        assert_eq!(ranges(&r), vec![(5, 40)]);
        r.insert(50, 50);
        assert_eq!(ranges(&r), vec![(5, 40)], "an empty range adds nothing");
        r.insert(0, 1);
        r.insert(45, 60);
        assert_eq!(ranges(&r), vec![(0, 1), (5, 40), (45, 60)]);
        r.insert(12, 13);
        assert_eq!(ranges(&r), vec![(0, 1), (5, 40), (45, 60)]);
    }

    #[test]
    fn clip_cuts_at_the_new_length() {
        let mut r = RangeSet::default();
        r.insert(0, 10);
        r.insert(20, 30);
        r.insert(40, 50);
        r.clip(25);
        assert_eq!(ranges(&r), vec![(0, 10), (20, 25)]);
        r.clip(20);
        assert_eq!(ranges(&r), vec![(0, 10)]);
        r.clip(0);
        assert!(r.is_empty());
    }

    #[test]
    fn matches_a_bitmap_on_pseudo_random_inserts() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let mut r = RangeSet::default();
            let mut bits = [false; 128];
            for _ in 0..12 {
                let s = next() % 128;
                let e = (s + next() % 24).min(128);
                r.insert(s, e);
                bits[s as usize..e as usize].fill(true);
                if next() % 5 == 0 {
                    let len = next() % 128;
                    r.clip(len);
                    bits[len as usize..].fill(false);
                }
            }
            let mut want = Vec::new();
            let mut i = 0;
            while i < 128 {
                if bits[i] {
                    let s = i;
                    while i < 128 && bits[i] {
                        i += 1;
                    }
                    want.push((s as u64, i as u64));
                } else {
                    i += 1;
                }
            }
            assert_eq!(ranges(&r), want);
        }
    }
}
