//! An in-memory filter of every event id the store holds, so that appending new events (the
//! common case) needs no RocksDB lookup to prove their ids unused. A "maybe" answer is checked
//! against the `event_ids` column family; a "no" is certain.
//!
//! A blocked Bloom filter: each id sets 6 bits inside one 512-bit block (one cache line). It grows
//! by adding segments of doubling capacity, each sized for 10 bits per id (about 1% false
//! positives). It is built at open by scanning the id index's keys, about 1.3 bytes per stored
//! event, and fed by the writer after each commit.

use renkei_proto::MunicipalityCode;

use super::EventId;

const BITS_PER_ID: usize = 10;
const WORDS_PER_BLOCK: usize = 8;
const BITS_PER_BLOCK: usize = WORDS_PER_BLOCK * 64;
const PROBES: u32 = 6;
const FIRST_CAPACITY: usize = 1 << 16;

struct Segment {
    words: Vec<u64>,
    blocks: usize,
    capacity: usize,
    len: usize,
}

impl Segment {
    fn new(capacity: usize) -> Self {
        let blocks = (capacity * BITS_PER_ID).div_ceil(BITS_PER_BLOCK).max(1);
        Self {
            words: vec![0; blocks * WORDS_PER_BLOCK],
            blocks,
            capacity,
            len: 0,
        }
    }

    /// Returns the block's first word and the bit positions (0..512) of the probes.
    fn probes(&self, hash: u64) -> (usize, impl Iterator<Item = usize> + use<>) {
        let block = ((hash >> 32) as usize % self.blocks) * WORDS_PER_BLOCK;
        let mut h = hash as u32;
        let bits = (0..PROBES).map(move |_| {
            h = h.wrapping_mul(0x9E37_79B9).rotate_left(9) ^ 0x7F4A_7C15;
            (h as usize) % BITS_PER_BLOCK
        });
        (block, bits)
    }

    fn insert(&mut self, hash: u64) {
        let (block, bits) = self.probes(hash);
        for bit in bits {
            self.words[block + bit / 64] |= 1 << (bit % 64);
        }
        self.len += 1;
    }

    fn may_contain(&self, hash: u64) -> bool {
        let (block, mut bits) = self.probes(hash);
        bits.all(|bit| self.words[block + bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// See the module documentation.
pub(crate) struct IdFilter {
    segments: Vec<Segment>,
}

impl IdFilter {
    pub fn new() -> Self {
        Self {
            segments: vec![Segment::new(FIRST_CAPACITY)],
        }
    }

    fn hash(tenant: MunicipalityCode, id: EventId) -> u64 {
        let v = id.as_uuid().as_u128();
        let mut x = (v as u64) ^ ((v >> 64) as u64).rotate_left(23) ^ u64::from(tenant.get());
        // splitmix64 finaliser: ids from clients need not be random.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }

    pub fn insert(&mut self, tenant: MunicipalityCode, id: EventId) {
        let hash = Self::hash(tenant, id);
        // There is always a segment: one is created in `new` and none is ever removed.
        let last = self.segments.last_mut().expect("at least one segment");
        if last.len >= last.capacity {
            let capacity = last.capacity * 2;
            self.segments.push(Segment::new(capacity));
        }
        let last = self.segments.last_mut().expect("at least one segment");
        last.insert(hash);
    }

    /// Returns false only if the id was never inserted.
    pub fn may_contain(&self, tenant: MunicipalityCode, id: EventId) -> bool {
        let hash = Self::hash(tenant, id);
        self.segments.iter().any(|s| s.may_contain(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_forgets_and_rarely_errs() {
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        let mut filter = IdFilter::new();
        let inserted: Vec<EventId> = (0..200_000).map(|_| EventId::new_v7()).collect();
        for id in &inserted {
            filter.insert(tenant, *id);
        }
        assert!(inserted.iter().all(|id| filter.may_contain(tenant, *id)));
        let false_positives = (0..100_000)
            .filter(|_| filter.may_contain(tenant, EventId::new_v7()))
            .count();
        assert!(false_positives < 5_000, "{false_positives} false positives");
        let other: MunicipalityCode = "162027".parse().unwrap();
        let cross = inserted
            .iter()
            .take(100_000)
            .filter(|id| filter.may_contain(other, **id))
            .count();
        assert!(cross < 5_000, "{cross} false positives across tenants");
    }
}
