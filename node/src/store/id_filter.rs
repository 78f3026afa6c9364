//! An in-memory filter of every event id the store holds, so that appending new events (the
//! common case) needs no RocksDB lookup to prove their ids unused. A "maybe" answer is checked
//! against the `event_ids` column family; a "no" is certain.
//!
//! A blocked Bloom filter: each id sets 6 bits inside one 512-bit block (one cache line). It grows
//! by adding segments of doubling capacity, each sized for 10 bits per id (about 1% false
//! positives). It is built at open by scanning the id index's keys, about 1.3 bytes per stored
//! event, and fed by the writer after each commit.
//!
//! It also keeps the greatest id of each tenant: an id above it is certainly new. Ids are UUIDv7s,
//! which grow with the time they are made, so most new events are proved new by that comparison
//! alone, without touching the Bloom filter's memory (one cache miss per segment).

use std::sync::{Arc, OnceLock};

use renkei_proto::MunicipalityCode;
use rustc_hash::FxHashMap;

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

/// The bits an id sets, within a block: one mask per word of the block. They depend on the hash
/// only, so they are computed once for every segment.
pub(crate) type Masks = [u64; WORDS_PER_BLOCK];

fn masks(hash: u64) -> Masks {
    let mut masks = [0u64; WORDS_PER_BLOCK];
    let mut h = hash as u32;
    for _ in 0..PROBES {
        h = h.wrapping_mul(0x9E37_79B9).rotate_left(9) ^ 0x7F4A_7C15;
        let bit = (h as usize) % BITS_PER_BLOCK;
        masks[bit / 64] |= 1 << (bit % 64);
    }
    masks
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

    /// Returns the block's words (multiply-shift range reduction of the high half of the hash).
    fn block(&self, hash: u64) -> &[u64] {
        let block = self.block_start(hash);
        &self.words[block..block + WORDS_PER_BLOCK]
    }

    fn block_start(&self, hash: u64) -> usize {
        (((hash >> 32) * self.blocks as u64) >> 32) as usize * WORDS_PER_BLOCK
    }

    fn insert(&mut self, block: usize, masks: &Masks) {
        for (word, mask) in self.words[block..block + WORDS_PER_BLOCK]
            .iter_mut()
            .zip(masks)
        {
            *word |= mask;
        }
        self.len += 1;
    }

    /// Checks every word without an early exit, so that the loads of several segments (and of
    /// successive ids) overlap instead of waiting for each other's cache misses.
    fn may_contain(&self, hash: u64, masks: &Masks) -> bool {
        self.block(hash)
            .iter()
            .zip(masks)
            .fold(true, |all, (word, mask)| all & (word & mask == *mask))
    }
}

/// See the module documentation.
pub(crate) struct IdFilter {
    segments: Vec<Segment>,
    /// The greatest id inserted, per tenant.
    newest: FxHashMap<MunicipalityCode, u128>,
    /// The ids stored before the store was opened, once a helper thread has read them all
    /// (`None`: this filter holds every id itself).
    before_open: Option<Arc<OnceLock<IdFilter>>>,
}

impl IdFilter {
    pub fn new() -> Self {
        Self {
            segments: vec![Segment::new(FIRST_CAPACITY)],
            newest: FxHashMap::default(),
            before_open: None,
        }
    }

    /// A filter of the ids inserted from now on, beside those stored before, which `earlier`
    /// holds once it is built; until then, any id at or below a tenant's newest (`newest`) may
    /// be stored. The store serves at once and proves ids new by their order meanwhile.
    pub fn opened(
        newest: FxHashMap<MunicipalityCode, u128>,
        earlier: Arc<OnceLock<IdFilter>>,
    ) -> Self {
        Self {
            newest,
            before_open: Some(earlier),
            ..Self::new()
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
        let value = id.as_uuid().as_u128();
        let newest = self.newest.entry(tenant).or_insert(value);
        *newest = (*newest).max(value);
        let hash = Self::hash(tenant, id);
        let last = self.last_with_room();
        last.insert(last.block_start(hash), &masks(hash));
    }

    /// Returns the segment new ids go to, adding one if the last is full.
    fn last_with_room(&mut self) -> &mut Segment {
        // There is always a segment: one is created in `new` and none is ever removed.
        let last = self.segments.last().expect("at least one segment");
        if last.len >= last.capacity {
            let capacity = last.capacity * 2;
            self.segments.push(Segment::new(capacity));
        }
        self.segments.last_mut().expect("at least one segment")
    }

    /// Inserts a tenant's ids. `scratch` is a buffer the caller may keep between calls.
    ///
    /// The blocks and bits are computed first and set afterwards, so that the second loop is
    /// short enough for the processor to have many of its cache misses in flight at once.
    pub fn insert_all(
        &mut self,
        tenant: MunicipalityCode,
        ids: &[EventId],
        scratch: &mut Vec<(usize, Masks)>,
    ) {
        let Some(max) = ids.iter().map(|id| id.as_uuid().as_u128()).max() else {
            return;
        };
        let newest = self.newest.entry(tenant).or_insert(max);
        *newest = (*newest).max(max);
        let mut ids = ids;
        while !ids.is_empty() {
            let last = self.last_with_room();
            let (now, later) = ids.split_at((last.capacity - last.len).min(ids.len()));
            scratch.clear();
            scratch.extend(now.iter().map(|id| {
                let hash = Self::hash(tenant, *id);
                (last.block_start(hash), masks(hash))
            }));
            for (block, masks) in scratch.iter() {
                last.insert(*block, masks);
            }
            ids = later;
        }
    }

    /// Returns false only if the id was never inserted.
    pub fn may_contain(&self, tenant: MunicipalityCode, id: EventId) -> bool {
        match self.newest.get(&tenant) {
            Some(newest) if id.as_uuid().as_u128() <= *newest => {}
            _ => return false,
        }
        let hash = Self::hash(tenant, id);
        let masks = masks(hash);
        self.segments
            .iter()
            .fold(false, |any, s| any | s.may_contain(hash, &masks))
            || self
                .before_open
                .as_ref()
                .is_some_and(|earlier| earlier.get().is_none_or(|f| f.may_contain(tenant, id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opened_filter_says_maybe_for_older_ids_until_the_stored_ones_are_read() {
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        // ids made in time order: the even ones stored before the open, the odd ones not
        let ids: Vec<EventId> = (0..2_000).map(|_| EventId::new_v7()).collect();
        let (stored, absent): (Vec<_>, Vec<_>) = ids.chunks(2).map(|p| (p[0], p[1])).unzip();
        let newest = stored
            .iter()
            .map(|id| id.as_uuid().as_u128())
            .max()
            .unwrap();
        let earlier = Arc::new(OnceLock::new());
        let mut filter =
            IdFilter::opened([(tenant, newest)].into_iter().collect(), earlier.clone());
        // while the stored ids are being read, every older id may be stored, a newer one not
        assert!(
            stored
                .iter()
                .chain(&absent[..absent.len() - 1])
                .all(|id| filter.may_contain(tenant, *id))
        );
        let later = EventId::new_v7();
        assert!(!filter.may_contain(tenant, later));
        // once they are read, the stored ones are still known and the absent ones rarely
        let mut read = IdFilter::new();
        for id in &stored {
            read.insert(tenant, *id);
        }
        assert!(earlier.set(read).is_ok());
        assert!(stored.iter().all(|id| filter.may_contain(tenant, *id)));
        let false_positives = absent
            .iter()
            .filter(|id| filter.may_contain(tenant, **id))
            .count();
        assert!(
            false_positives < absent.len() / 20,
            "{false_positives} false positives"
        );
        // and ids inserted after the open are known too
        filter.insert(tenant, later);
        assert!(filter.may_contain(tenant, later));
    }

    #[test]
    fn never_forgets_and_rarely_errs() {
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        let mut filter = IdFilter::new();
        // Ids made in time order, every other one inserted, in shuffled order: the others lie
        // below the newest id, so that only the Bloom filter can rule them out.
        let ids: Vec<EventId> = (0..400_000).map(|_| EventId::new_v7()).collect();
        let (mut inserted, absent): (Vec<_>, Vec<_>) =
            ids.chunks(2).map(|pair| (pair[0], pair[1])).unzip();
        inserted.reverse();
        inserted[..100_000].sort();
        for id in &inserted {
            filter.insert(tenant, *id);
        }
        assert!(inserted.iter().all(|id| filter.may_contain(tenant, *id)));
        let false_positives = absent
            .iter()
            .take(100_000)
            .filter(|id| filter.may_contain(tenant, **id))
            .count();
        assert!(false_positives < 5_000, "{false_positives} false positives");
        assert!(false_positives > 0, "the Bloom filter was not exercised");
        assert!(
            !filter.may_contain(tenant, EventId::new_v7()),
            "newer than every id"
        );
        let other: MunicipalityCode = "162027".parse().unwrap();
        filter.insert(other, EventId::new_v7());
        let cross = inserted
            .iter()
            .take(100_000)
            .filter(|id| filter.may_contain(other, **id))
            .count();
        assert!(cross < 5_000, "{cross} false positives across tenants");
    }
}
