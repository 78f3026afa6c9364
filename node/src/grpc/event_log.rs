//! The `EventLog` gRPC service over the [`EventStore`].

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use renkei_proto::{MunicipalityCode, v1};
use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::{convert, status_from_store};
use crate::store::{Direction, EventStore, GlobalPosition, StoreError};

/// Streams `EventLog.Append` refuses: the programme's registers and sync's own streams.
const RESERVED_STREAM_PREFIXES: [&str; 2] = [
    crate::programme::STREAM_PREFIX,
    crate::sync::outbox::SYNC_STREAMS,
];

/// The default number of events a read returns.
const DEFAULT_PAGE: usize = 500;
/// The most events a read returns.
const MAX_PAGE: usize = 10_000;

/// Serves the event log of the municipalities a node is configured for.
#[derive(Clone)]
pub struct EventLogService {
    store: EventStore,
    served: Arc<HashSet<MunicipalityCode>>,
    /// Turns true when the node shuts down; live subscriptions end then.
    stopping: watch::Receiver<bool>,
    /// The most bytes of events one read answer carries: a page stops early rather than exceed
    /// the gRPC message limit (the caller reads on from the last position it got).
    answer_bytes: usize,
}

impl EventLogService {
    /// `answer_bytes`: the largest read answer, below the server's encoding limit.
    pub fn new(
        store: EventStore,
        served: impl IntoIterator<Item = MunicipalityCode>,
        stopping: watch::Receiver<bool>,
        answer_bytes: usize,
    ) -> Self {
        Self {
            store,
            served: Arc::new(served.into_iter().collect()),
            stopping,
            answer_bytes,
        }
    }

    /// Converts a page of events, keeping as many as fit in `answer_bytes` (at least one).
    fn fit(&self, events: Vec<crate::store::RecordedEvent>) -> Vec<v1::RecordedEvent> {
        let mut total = 0usize;
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let wire = convert::recorded(event);
            // Field tag and length prefix of a repeated message: at most 11 bytes.
            total += prost::Message::encoded_len(&wire) + 11;
            if total > self.answer_bytes && !out.is_empty() {
                break;
            }
            out.push(wire);
        }
        out
    }

    fn tenant(&self, value: &str) -> Result<MunicipalityCode, Status> {
        let code = convert::municipality(value).map_err(status_from_store)?;
        if !self.served.contains(&code) {
            return Err(status_from_store(StoreError::UnknownTenant(code)));
        }
        Ok(code)
    }
}

fn page_size(max_count: u32) -> usize {
    match max_count {
        0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::RecordedEvent, Status>> + Send>>;

#[tonic::async_trait]
impl v1::EventLog for EventLogService {
    #[tracing::instrument(skip_all, fields(municipality = %request.get_ref().municipality_code, stream = %request.get_ref().stream, events = request.get_ref().events.len()))]
    async fn append(
        &self,
        request: Request<v1::AppendRequest>,
    ) -> Result<Response<v1::AppendResponse>, Status> {
        let (req, by) = crate::access::split(request);
        let tenant = self.tenant(&req.municipality_code)?;
        let decode = || -> Result<_, StoreError> {
            let stream = convert::stream(&req.stream)?;
            let expected = convert::expected_version(req.expected_version)?;
            let events = req
                .events
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    // The actor is who signed in; the client's may only add a display name.
                    convert::new_event(i, e).map(|mut e| {
                        e.actor = crate::access::actor_of(by.as_ref(), &e.actor);
                        e
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((stream, expected, events))
        };
        let (stream, expected, events) = decode().map_err(status_from_store)?;
        if let Some(prefix) = RESERVED_STREAM_PREFIXES
            .iter()
            .find(|p| stream.as_str().starts_with(*p))
        {
            // The programme's registers and the sync streams are written only by the node's own
            // services, which check the domain rules (and, for the outbox, make the facts the
            // prefecture receives): a raw append there would bypass them.
            return Err(status_from_store(StoreError::InvalidArgument {
                field: "stream".to_owned(),
                value: stream.as_str().to_owned(),
                reason: format!(
                    "streams under {prefix:?} are written only by the node's own services \
                     (use the MunicipalProgram API to record the programme)"
                ),
            }));
        }
        let outcome = self
            .store
            .append(tenant, stream, expected, events)
            .await
            .map_err(status_from_store)?;
        Ok(Response::new(v1::AppendResponse {
            first_stream_version: outcome.first_stream_version,
            last_stream_version: outcome.last_stream_version,
            first_position: outcome.first_position.get(),
            last_position: outcome.last_position.get(),
            deduplicated: outcome.deduplicated,
        }))
    }

    async fn read_stream(
        &self,
        request: Request<v1::ReadStreamRequest>,
    ) -> Result<Response<v1::ReadStreamResponse>, Status> {
        let req = request.into_inner();
        let tenant = self.tenant(&req.municipality_code)?;
        let stream = convert::stream(&req.stream).map_err(status_from_store)?;
        let direction = match v1::Direction::try_from(req.direction) {
            Ok(v1::Direction::Unspecified | v1::Direction::Forward) => Direction::Forward,
            Ok(v1::Direction::Backward) => Direction::Backward,
            Err(_) => {
                return Err(status_from_store(StoreError::invalid(
                    "direction",
                    req.direction,
                    "is not a Direction",
                )));
            }
        };
        let store = self.store.clone();
        let max_bytes = self.answer_bytes;
        let (events, version) = super::blocking(move || {
            store
                .read_stream_bounded(
                    tenant,
                    &stream,
                    req.from_version,
                    direction,
                    page_size(req.max_count),
                    max_bytes,
                )
                .map_err(status_from_store)
        })
        .await?;
        Ok(Response::new(v1::ReadStreamResponse {
            events: self.fit(events),
            stream_version: version,
        }))
    }

    async fn read_all(
        &self,
        request: Request<v1::ReadAllRequest>,
    ) -> Result<Response<v1::ReadAllResponse>, Status> {
        let req = request.into_inner();
        let tenant = self.tenant(&req.municipality_code)?;
        // Read the committed position first: the page never reaches past it by more than
        // what committed in between, and the caller learns how far the log went.
        let store = self.store.clone();
        let max_bytes = self.answer_bytes;
        let (last, events) = super::blocking(move || {
            let last = store.last_position(tenant).map_err(status_from_store)?;
            let events = store
                .read_all_bounded(
                    tenant,
                    GlobalPosition(req.from_position),
                    page_size(req.max_count),
                    max_bytes,
                )
                .map_err(status_from_store)?;
            Ok((last, events))
        })
        .await?;
        let last = events.last().map_or(last, |e| e.global_position.max(last));
        Ok(Response::new(v1::ReadAllResponse {
            events: self.fit(events),
            last_position: last.get(),
        }))
    }

    type SubscribeStream = EventStream;

    async fn subscribe(
        &self,
        request: Request<v1::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = request.into_inner();
        let tenant = self.tenant(&req.municipality_code)?;
        let subscription = self
            .store
            .subscribe(tenant, GlobalPosition(req.from_position))
            .map_err(status_from_store)?;
        let mut stopping = self.stopping.clone();
        let stop = async move {
            // An error means the node dropped its sender: it is stopping too.
            let _ = stopping.wait_for(|s| *s).await;
        };
        let stream = subscription
            .map(|item| item.map(convert::recorded).map_err(status_from_store))
            .take_until(stop);
        Ok(Response::new(Box::pin(stream)))
    }
}
