//! Fault injection for renkei's fault suite (`renkei-integration-tests`).
//!
//! - [`lazyfs`]: a FUSE filesystem, served from the test process, that keeps what was written
//!   but not fsynced only until a simulated power cut ([`Faults::cut_power`]), like Jepsen's
//!   LazyFS; it also slows fsyncs, fails writes and fills up on demand.
//! - [`proxy`]: a TCP proxy between processes that partitions, drops one direction, delays
//!   and stalls connections on demand.
//!
//! The filesystem needs root and `/dev/fuse` ([`fuse_available`] tells the tests whether to
//! skip).

pub mod lazyfs;
pub mod proxy;

pub use lazyfs::{CutReport, Faults, LazyFs, Stats, fuse_available};
