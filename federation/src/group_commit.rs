//! Group commit on the Raft path: concurrent writes of facts arriving at the leader are
//! coalesced into one Raft entry ([`Command::WriteBatch`]), so that a dozen nodes pushing one
//! fact each share one log append, one replication round and one fsync per replica instead of
//! queueing for one each.
//!
//! A writer hands its write (request id and checked facts) to [`FactWriter::write`] and waits.
//! A task takes the first waiting write and every other already waiting, up to
//! [`MAX_GROUP_WRITES`] writes and [`renkei_proto::MAX_WRITE_FACT_BYTES`] of payload (one write
//! alone may reach it), waiting up to [`LINGER`] for the writers the last entry answered (they
//! come back one by one once it is committed), and proposes them as one entry; at most
//! [`IN_FLIGHT`] entries are proposed at a time, so that writes arriving meanwhile wait together
//! for the next one. The
//! state machine applies the writes of an entry in order, each exactly as it would apply it
//! alone (its own request id, its own outcome), and each writer gets its own outcome back, or
//! the entry's error. A single waiting write is proposed as a plain [`Command::WriteFacts`].

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::Instrument;

use crate::error::FederationError;
use crate::ledger::{FactRecord, WriteOutcome};
use crate::types::{Command, CommandResponse, Raft, Write};

/// The most writes coalesced into one Raft entry.
pub const MAX_GROUP_WRITES: usize = 256;
/// How many entries of coalesced writes may be proposed and not yet committed at a time.
pub const IN_FLIGHT: usize = 1;
/// How long a group waits for the writers the last entry answered before it is proposed without
/// them; a lone writer never waits (its last group was itself).
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(1);
/// How many writes may wait to be proposed before writers wait to hand theirs over.
const QUEUE: usize = 4 * MAX_GROUP_WRITES;

struct Waiting {
    write: Write,
    bytes: usize,
    /// The writer's span: the entry's `raft_write` span belongs to the first writer's trace and
    /// follows from the others'.
    span: tracing::Span,
    reply: oneshot::Sender<Result<WriteOutcome, FederationError>>,
}

/// The one path by which checked facts reach the Raft log; cheap to clone, shared by the
/// services that write facts (`PrefectureLedger.WriteFacts`, `Federation.PushFacts`).
#[derive(Clone)]
pub struct FactWriter {
    queue: mpsc::Sender<Waiting>,
}

impl FactWriter {
    /// Starts the task that proposes the coalesced writes to `raft` (call within a Tokio
    /// runtime); it ends when every `FactWriter` is dropped.
    pub fn start(raft: Raft) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(propose(raft, rx));
        Self { queue }
    }

    /// Commits one write of checked facts through Raft and returns its outcome.
    pub async fn write(
        &self,
        request_id: String,
        facts: Vec<FactRecord>,
    ) -> Result<WriteOutcome, FederationError> {
        let bytes = facts.iter().map(|f| f.payload.len()).sum();
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            write: Write { request_id, facts },
            bytes,
            span: tracing::Span::current(),
            reply,
        };
        let shutting_down = || FederationError::Stopped("the replica is shutting down".to_owned());
        self.queue
            .send(waiting)
            .await
            .map_err(|_| shutting_down())?;
        answer.await.map_err(|_| shutting_down())?
    }
}

/// Takes waiting writes in groups and proposes each group as one entry.
async fn propose(raft: Raft, mut rx: mpsc::Receiver<Waiting>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    // A write too big to join the group before it leads the next one.
    let mut carried: Option<Waiting> = None;
    // The size of the group proposed last: how many writers its answers will bring back.
    let mut last_group = 1;
    loop {
        // The semaphore is never closed, so acquiring only waits.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // The writers the last entry answered come back one by one, while others may already
        // wait: expect them all, so that two half groups do not take turns for ever.
        let expected =
            (rx.len() + usize::from(carried.is_some()) + last_group).min(MAX_GROUP_WRITES);
        let first = match carried.take() {
            Some(first) => first,
            None => match rx.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        let mut bytes = first.bytes;
        let mut group = vec![first];
        // While fewer than expected have arrived, wait up to LINGER for the others rather than
        // propose part of them.
        let deadline = tokio::time::Instant::now() + LINGER;
        while group.len() < MAX_GROUP_WRITES {
            let next = match rx.try_recv() {
                Ok(next) => next,
                Err(mpsc::error::TryRecvError::Empty) if group.len() < expected => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(next)) => next,
                        _ => break,
                    }
                }
                Err(_) => break,
            };
            if bytes + next.bytes > renkei_proto::MAX_WRITE_FACT_BYTES {
                carried = Some(next);
                break;
            }
            bytes += next.bytes;
            group.push(next);
        }
        last_group = group.len();
        let raft = raft.clone();
        tokio::spawn(async move {
            commit(&raft, group).await;
            drop(slot);
        });
    }
}

/// Proposes a group as one entry and answers each of its writers.
async fn commit(raft: &Raft, group: Vec<Waiting>) {
    let started = std::time::Instant::now();
    let facts: usize = group.iter().map(|w| w.write.facts.len()).sum();
    let span =
        tracing::info_span!(parent: &group[0].span, "raft_write", writes = group.len(), facts);
    for other in &group[1..] {
        span.follows_from(&other.span);
    }
    let (command, replies): (Command, Vec<_>) = if group.len() == 1 {
        let Waiting { write, reply, .. } = group.into_iter().next().expect("one write");
        (
            Command::WriteFacts {
                request_id: write.request_id,
                facts: write.facts,
            },
            vec![reply],
        )
    } else {
        let (writes, replies) = group.into_iter().map(|w| (w.write, w.reply)).unzip();
        (Command::WriteBatch { writes }, replies)
    };
    let n = replies.len();
    let outcomes: Result<Vec<WriteOutcome>, _> =
        match raft.client_write(command).instrument(span).await {
            Ok(written) => match written.data {
                CommandResponse::Written(outcome) if n == 1 => Ok(vec![outcome]),
                CommandResponse::WrittenBatch(outcomes) if outcomes.len() == n => Ok(outcomes),
                _ => Err(None),
            },
            Err(e) => Err(Some(e)),
        };
    metrics::histogram!("renkei_raft_write_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("renkei_raft_writes_per_entry").record(n as f64);
    match outcomes {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A writer that stopped waiting no longer needs its answer.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            for reply in replies {
                let error = match &e {
                    Some(e) => FederationError::from(e.clone()),
                    None => FederationError::FailedPrecondition(
                        "the state machine gave no outcome for a write".to_owned(),
                    ),
                };
                let _ = reply.send(Err(error));
            }
        }
    }
}
