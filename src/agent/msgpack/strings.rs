//! v0.5's string table: each distinct string of a payload once.

use super::writer::{Writer, str_bytes};

/// v0.5's table: each distinct string of a payload once, MessagePack-encoded, the
/// empty string first; looked up by a hash of its bytes (open addressing, linear
/// probing, at most half full), no allocation once grown. In front of it, strings
/// looked up by where they are: most of a payload's strings are the same few names
/// and tags (`&'static str`s, the exporter's service), found again by address without
/// hashing or comparing their bytes.
#[derive(Default)]
pub(super) struct StringTable {
    /// Recently seen strings by address: (address, length, place); only for strings
    /// that stay put while the payload is written ([`StringTable::index_stable`]).
    /// Emptied with the table.
    pub(super) recent: Vec<(usize, usize, u32)>,
    /// The strings in the order they were added, each encoded as a MessagePack string.
    pub(super) encoded: Vec<u8>,
    /// Where each string's bytes (after its header) are in `encoded`, and how long.
    pub(super) places: Vec<(u32, u32)>,
    /// By hash: 0 for a free slot, else the string's place in `places` plus one, beside
    /// the hash's upper half (most mismatches rejected without comparing bytes).
    pub(super) slots: Vec<(u32, u32)>,
}

impl StringTable {
    /// Empties the table for the next payload; `""` is string 0.
    pub(super) fn clear(&mut self) {
        self.encoded.clear();
        self.places.clear();
        self.slots.fill((0, 0));
        self.recent.clear();
        self.recent.resize(RECENT, (0, 0, 0));
        self.index("");
    }

    /// [`StringTable::index`] for a string whose memory holds it, unchanged, until the
    /// table is next cleared: the same address and length are the same string.
    #[inline]
    pub(super) fn index_stable(&mut self, s: &str) -> u32 {
        let address = s.as_ptr() as usize;
        let slot = (address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) % RECENT;
        match self.recent.get(slot) {
            Some(&(seen, len, place)) if seen == address && len == s.len() => place,
            _ => {
                let place = self.index(s);
                if let Some(entry) = self.recent.get_mut(slot) {
                    *entry = (address, s.len(), place);
                }
                place
            }
        }
    }

    /// How many strings the table holds.
    pub(super) fn len(&self) -> usize {
        self.places.len()
    }

    /// The place of `s` in the table, added at the end if it is new.
    #[inline]
    pub(super) fn index(&mut self, s: &str) -> u32 {
        let bytes = str_bytes(s);
        if (self.places.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let hash = hash(bytes);
        let check = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            match self.slots[slot] {
                (0, _) => break,
                (place, seen) if seen == check && self.bytes(place - 1) == bytes => {
                    return place - 1;
                }
                _ => slot = (slot + 1) & mask,
            }
        }
        let place = self.places.len() as u32;
        Writer(&mut self.encoded).str_head(bytes.len());
        let start = u32::try_from(self.encoded.len()).unwrap_or(u32::MAX);
        self.places.push((start, bytes.len() as u32));
        self.encoded.extend_from_slice(bytes);
        self.slots[slot] = (place + 1, check);
        place
    }

    /// The bytes of string `place`. (A table past 4 GiB, which no batch comes near,
    /// would give wrong places: strings would then be compared with the wrong bytes and
    /// written again, never mixed up, since a place is the string's index.)
    pub(super) fn bytes(&self, place: u32) -> &[u8] {
        let (start, len) = self.places.get(place as usize).copied().unwrap_or_default();
        let (start, end) = (start as usize, start as usize + len as usize);
        self.encoded.get(start..end).unwrap_or_default()
    }

    /// Doubles the slots (64 at first) and puts every string back.
    #[cold]
    pub(super) fn grow(&mut self) {
        let len = (self.slots.len() * 2).max(64);
        self.slots = vec![(0, 0); len];
        let mask = len - 1;
        for place in 0..self.places.len() as u32 {
            let hash = hash(self.bytes(place));
            let mut slot = hash as usize & mask;
            while self.slots[slot].0 != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = (place + 1, (hash >> 32) as u32);
        }
    }
}

/// How many strings [`StringTable::index_stable`] remembers by address.
pub(super) const RECENT: usize = 256;

/// A fast hash of a short string, eight bytes at a time (the multiply-rotate step of
/// `rustc`'s FxHash), finished with a multiply so that the low bits, which pick the
/// slot, depend on every byte.
#[inline]
pub(super) fn hash(bytes: &[u8]) -> u64 {
    pub(super) const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        hash = (hash.rotate_left(5) ^ word).wrapping_mul(K);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    }
    (hash ^ (hash >> 29)).wrapping_mul(K)
}
