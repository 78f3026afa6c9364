//! The registers' states kept in memory, so that deciding a command costs the same whatever the
//! length of its register's history.
//!
//! Each register (one stream: `programme/trainings`, `programme/plan/2024`, …) of each tenant has
//! a [`Slot`]: the aggregate's state folded from its stream, the stream's version, and the keys of
//! the records it holds. A command locks its register's slot, decides against the state (or, when
//! its record is already there, against the history as the retry contract says), queues its
//! append with the slot's version as the expected version, applies its events to the state and
//! lets go of the lock; the next command of the register is decided while the append is being
//! written. The store writes appends in the order they were queued and checks each expected
//! version, so a command decided on events whose append then failed is refused with a wrong
//! expected version and decided again on a state reloaded from the stream. The state is loaded
//! from the stream on a register's first command after start, and again after any failure.
//!
//! Only the programme service writes programme streams (the event log refuses them), so a slot
//! is the only writer of its stream in the process.
//!
//! At most [`MAX_LOADED`] registers are kept in memory (a node may host 1,741 towns): when one
//! more is loaded, the states of the least recently used registers not in use are dropped, to be
//! loaded again from their streams on their next command.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use renkei_proto::MunicipalityCode;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::domain::{Aggregate, RecordKey};
use crate::store::StreamId;

/// A register's state as of its stream's version, with the keys of the records it holds.
pub(super) struct Folded<A> {
    pub state: A,
    pub version: u64,
    pub keys: HashSet<RecordKey>,
}

impl<A: Aggregate> Folded<A> {
    /// Folds a register's events.
    pub fn new(events: &[A::Event], version: u64) -> Self {
        let mut folded = Self {
            state: A::default(),
            version: 0,
            keys: HashSet::new(),
        };
        folded.apply(events);
        folded.version = version;
        folded
    }

    /// Folds events in and counts them into the version.
    pub fn apply(&mut self, events: &[A::Event]) {
        for e in events {
            self.state.apply(e);
            if let Some(key) = A::event_key(e) {
                self.keys.insert(key);
            }
        }
        self.version += events.len() as u64;
    }
}

/// How many registers' states are kept in memory at most.
pub const MAX_LOADED: usize = 128;

/// One register's place in memory.
#[derive(Default)]
pub(super) struct Slot {
    /// Whether `state` holds a state (kept beside it, so that counting needs no lock).
    loaded: AtomicBool,
    /// When the register was last used, on the [`Registers`]' clock.
    last_used: AtomicU64,
    /// The folded state (a `Folded<A>` of the register's aggregate); `None` until loaded, and
    /// after a failure.
    pub state: tokio::sync::Mutex<Option<Box<dyn Any + Send>>>,
    /// Set when an append failed after the state took its events in: the state is reloaded by
    /// the next command. Set without the lock, so that a failing append never waits for it.
    stale: AtomicBool,
    /// Held for reading by every queued append until it is answered; taken for writing by a
    /// command that must read the stream as written (a retry), which waits for them.
    in_flight: Arc<RwLock<()>>,
}

impl Slot {
    /// Marks the state out of date.
    pub fn invalidate(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Whether the state must be reloaded; clears the mark (call with the state locked).
    pub fn take_stale(&self) -> bool {
        self.stale.swap(false, Ordering::SeqCst)
    }

    /// A token an append holds until it is answered.
    pub async fn in_flight(&self) -> OwnedRwLockReadGuard<()> {
        self.in_flight.clone().read_owned().await
    }

    /// Waits until every queued append of the register is answered (call with the state locked,
    /// so that no other is queued meanwhile).
    pub async fn settled(&self) {
        drop(self.in_flight.write().await);
    }
}

/// The slots of the registers in memory, by tenant and stream.
type SlotMap = HashMap<(MunicipalityCode, StreamId), Arc<Slot>>;

/// Every register's slot, by tenant and stream; cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Registers {
    slots: Arc<Mutex<SlotMap>>,
    /// A clock that ticks once per use of a register.
    clock: Arc<AtomicU64>,
}

impl Registers {
    /// Notes that `slot` now holds a loaded state, and drops the states of the least recently
    /// used registers not in use while more than [`MAX_LOADED`] are kept.
    pub fn loaded(&self, slot: &Arc<Slot>) {
        slot.loaded.store(true, Ordering::SeqCst);
        let mut kept: Vec<(u64, Arc<Slot>)> = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|s| s.loaded.load(Ordering::SeqCst) && !Arc::ptr_eq(s, slot))
            .map(|s| (s.last_used.load(Ordering::SeqCst), s.clone()))
            .collect();
        if kept.len() < MAX_LOADED {
            return;
        }
        kept.sort_by_key(|(used, _)| *used);
        let excess = kept.len() + 1 - MAX_LOADED;
        let mut dropped = 0;
        for (_, other) in kept {
            if dropped == excess {
                break;
            }
            // A register in use is skipped: its command holds the lock.
            if let Ok(mut state) = other.state.try_lock() {
                *state = None;
                other.loaded.store(false, Ordering::SeqCst);
                dropped += 1;
            }
        }
    }

    /// How many registers' states are in memory.
    pub fn in_memory(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|s| s.loaded.load(Ordering::SeqCst))
            .count()
    }

    /// Returns the slot of a register, creating it empty, and notes its use.
    pub fn slot(&self, tenant: MunicipalityCode, stream: &StreamId) -> Arc<Slot> {
        let slot = self.slot_of(tenant, stream);
        slot.last_used
            .store(self.clock.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
        slot
    }

    fn slot_of(&self, tenant: MunicipalityCode, stream: &StreamId) -> Arc<Slot> {
        // A panic while holding this lock cannot leave the map inconsistent (insertion is
        // atomic), so a poisoned lock is taken over.
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry((tenant, stream.clone())).or_default().clone()
    }
}
