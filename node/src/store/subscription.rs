//! Live subscriptions: catch up from a cursor, then follow commits.
//!
//! The cursor is the next global position to deliver. When its buffer is empty the subscription
//! reads the next page from RocksDB if the tenant's committed position is at or past the cursor,
//! and otherwise waits for the committed position to change. Commits are published only after
//! their batch is durable and in position order, so pages never skip a position; the cursor
//! only moves forwards, so nothing is delivered twice. Pages are read only when the consumer polls,
//! which is the back-pressure: a slow consumer costs one page of memory.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use futures::future::BoxFuture;
use renkei_proto::MunicipalityCode;
use tokio::sync::watch;

use super::{EventStore, GlobalPosition, RecordedEvent, StoreError};

/// Events read from the store per page.
const PAGE: usize = 256;

/// A live stream of one tenant's events; see [`EventStore::subscribe`]. It ends when the store
/// is closed, and yields an error (then ends) if a read fails.
pub struct Subscription {
    inner: Pin<Box<dyn Stream<Item = Result<RecordedEvent, StoreError>> + Send>>,
}

struct State {
    store: EventStore,
    tenant: MunicipalityCode,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    committed: watch::Receiver<u64>,
    failed: bool,
}

impl Subscription {
    pub(crate) fn new(
        store: EventStore,
        tenant: MunicipalityCode,
        from: GlobalPosition,
        committed: watch::Receiver<u64>,
    ) -> Self {
        let state = State {
            store,
            tenant,
            next: from.get().max(1),
            buffer: VecDeque::new(),
            committed,
            failed: false,
        };
        let inner = futures::stream::unfold(state, |state| -> BoxFuture<'static, _> {
            Box::pin(next_event(state))
        });
        Self {
            inner: Box::pin(inner),
        }
    }
}

async fn next_event(mut s: State) -> Option<(Result<RecordedEvent, StoreError>, State)> {
    if s.failed {
        return None;
    }
    loop {
        if let Some(event) = s.buffer.pop_front() {
            return Some((Ok(event), s));
        }
        // Mark the current value seen before reading, so a commit landing during the read
        // still wakes the wait below.
        let committed = *s.committed.borrow_and_update();
        if committed >= s.next {
            match s.store.read_all(s.tenant, GlobalPosition(s.next), PAGE) {
                Ok(page) if !page.is_empty() => {
                    if let Some(last) = page.last() {
                        s.next = last.global_position.get() + 1;
                    }
                    s.buffer.extend(page);
                    continue;
                }
                // Published but not yet readable cannot happen (the write precedes the
                // publication); should it, wait for the next commit instead of spinning.
                Ok(_) => {}
                Err(e) => {
                    s.failed = true;
                    return Some((Err(e), s));
                }
            }
        }
        if s.committed.changed().await.is_err() {
            return None;
        }
    }
}

impl Stream for Subscription {
    type Item = Result<RecordedEvent, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
