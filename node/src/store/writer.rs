//! The writer thread: group commit of appends.
//!
//! It takes the first waiting message, then every other already queued (up to a group limit),
//! stages each append against the state so far — the database plus what earlier appends of the
//! same group staged — and writes the whole group in one `WriteBatch` with `sync = true`. Answers
//! go out only after that write returns, so an answered append is on disk; a failed write fails
//! every append of the group and writes nothing.
//!
//! Staging checks everything before it touches the batch, so a refused append leaves no trace.
//!
//! A write that fails stops the writer for good: the group is answered with the error, every
//! message after it is refused with it, and the failure is published (`Writer::fail`) for the
//! node to stop. RocksDB goes read-only after a failed write anyway, and after a failed fsync
//! only a restart — a replay of the write-ahead log — says what the disk holds.
//!
//! What the next group needs but the answers do not — adding the written ids to the id filter,
//! freeing the events — is done by a helper thread while the group is being written
//! ([`FilterKeeper`]), so that with a single appender it does not add to each append's latency.

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use chrono::Utc;
use renkei_proto::MunicipalityCode;
use rocksdb::{DB, WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot, watch};

use super::codec::StoredEvent;
use super::id_filter::IdFilter;
use super::{
    AppendOutcome, EventId, ExpectedVersion, GlobalPosition, NewEvent, StoreError, StreamId,
    Tenant, TenantMap, cf, keys,
};

/// The most events written in one group (one fsync).
const MAX_GROUP_EVENTS: usize = 20_000;

pub(crate) enum WriterMsg {
    Append(AppendJob),
    AddTenants {
        codes: Vec<MunicipalityCode>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Ends the thread once every message queued before it is handled.
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

pub(crate) struct AppendJob {
    pub tenant: MunicipalityCode,
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) struct Writer {
    db: Arc<DB>,
    /// A buffer for encoding events, kept from one group to the next.
    buf: Vec<u8>,
    /// Every event id in the store (no false negatives), kept up to date by a helper thread.
    filter: FilterKeeper,
    /// Last committed global position per hosted tenant; owned by this thread.
    positions: HashMap<MunicipalityCode, u64>,
    tenants: TenantMap,
    /// The write failure that stopped the writer, once there is one.
    failure: watch::Sender<Option<StoreError>>,
}

/// What the appends staged so far in the current group changed, on top of the database.
#[derive(Default)]
struct Overlay {
    heads: FxHashMap<(MunicipalityCode, StreamId), u64>,
    positions: FxHashMap<MunicipalityCode, u64>,
    /// Event ids staged in this group: where they went and which job and event they came from.
    ids: FxHashMap<(MunicipalityCode, EventId), Staging>,
    /// Whether `ids` is kept: only when the group holds more than one append.
    track_ids: bool,
    /// A reusable buffer for encoding events.
    buf: Vec<u8>,
}

/// Where an event staged in the current group went.
#[derive(Clone, Copy)]
struct Staging {
    position: GlobalPosition,
    stream_version: u64,
    job: usize,
    event: usize,
}

/// What is recorded under an event id of an append: its position and stored form.
type Found = Option<(GlobalPosition, StoredEvent)>;

enum Staged {
    Written(AppendOutcome),
    Duplicate(AppendOutcome),
}

impl Writer {
    pub fn new(
        db: Arc<DB>,
        filter: IdFilter,
        positions: HashMap<MunicipalityCode, u64>,
        tenants: TenantMap,
        failure: watch::Sender<Option<StoreError>>,
    ) -> Self {
        Self {
            db,
            buf: Vec::new(),
            filter: FilterKeeper::new(filter),
            positions,
            tenants,
            failure,
        }
    }

    /// The error every message is refused with once a write has failed.
    fn stopped(&self) -> Option<StoreError> {
        self.failure.borrow().as_ref().map(|e| {
            let cause = match e {
                StoreError::Storage(message) => message.clone(),
                other => other.to_string(),
            };
            StoreError::Storage(format!(
                "the event store stopped after a failed write ({cause}); the node is stopping"
            ))
        })
    }

    /// Records that a write failed: from now on every message is refused, and the node stops.
    fn fail(&self, error: &StoreError) {
        tracing::error!(
            error = %error,
            "a write to the event store failed: it is refused, and the node stops (restart it once \
             its disk is healthy: it recovers every acknowledged write from its write-ahead log)"
        );
        self.failure.send_if_modified(|failure| {
            if failure.is_some() {
                return false;
            }
            *failure = Some(error.clone());
            true
        });
    }

    pub fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        while let Some(first) = rx.blocking_recv() {
            if let Some(error) = self.stopped() {
                let shutdown = matches!(first, WriterMsg::Shutdown { .. });
                refuse_with(first, &error);
                if shutdown {
                    rx.close();
                    while let Ok(msg) = rx.try_recv() {
                        refuse_with(msg, &error);
                    }
                    return;
                }
                continue;
            }
            let mut jobs = Vec::new();
            let mut n_events = 0;
            let mut next = Some(first);
            let mut shutdown = None;
            while let Some(msg) = next.take() {
                match msg {
                    WriterMsg::Append(job) => {
                        n_events += job.events.len();
                        jobs.push(job);
                    }
                    WriterMsg::AddTenants { codes, reply } => {
                        // Rare: commit what is gathered first so the order of effects holds.
                        self.commit_group(std::mem::take(&mut jobs));
                        n_events = 0;
                        let _ = reply.send(self.add_tenants(&codes));
                    }
                    WriterMsg::Shutdown { reply } => {
                        shutdown = Some(reply);
                        break;
                    }
                }
                if n_events < MAX_GROUP_EVENTS {
                    next = rx.try_recv().ok();
                }
            }
            self.commit_group(jobs);
            if let Some(reply) = shutdown {
                rx.close();
                // Appends that raced the shutdown are refused, not dropped silently.
                while let Ok(msg) = rx.try_recv() {
                    refuse(msg);
                }
                let _ = reply.send(());
                return;
            }
        }
    }

    fn add_tenants(&mut self, codes: &[MunicipalityCode]) -> Result<(), StoreError> {
        if let Some(error) = self.stopped() {
            return Err(error);
        }
        let tenants_cf = cf(&self.db, keys::CF_TENANTS)?;
        let mut batch = WriteBatch::default();
        for code in codes {
            batch.put_cf(tenants_cf, keys::tenant(*code), []);
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(super::SYNC_ACKS);
        if let Err(e) = self.db.write_opt(batch, &opts) {
            let error = StoreError::from(e);
            self.fail(&error);
            return Err(error);
        }
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        for code in codes {
            self.positions.entry(*code).or_insert(0);
            tenants.entry(*code).or_insert_with(|| {
                Arc::new(Tenant {
                    committed: watch::Sender::new(0),
                })
            });
        }
        Ok(())
    }

    fn commit_group(&mut self, mut jobs: Vec<AppendJob>) {
        if jobs.is_empty() {
            return;
        }
        // A group gathered behind a message that met the failure (tenants added) is refused.
        if let Some(error) = self.stopped() {
            for job in jobs {
                let _ = job.reply.send(Err(error.clone()));
            }
            return;
        }
        let filter = self.filter.take();
        let recorded_at = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        // Sized for the whole group up front: growing it would copy it over and over.
        let mut batch = WriteBatch::with_capacity_bytes(batch_bytes(&jobs));
        let mut overlay = Overlay {
            // Ids need tracking only to catch a retry racing its original in the same group.
            track_ids: jobs.len() > 1,
            buf: std::mem::take(&mut self.buf),
            ..Overlay::default()
        };
        let mut results = Vec::with_capacity(jobs.len());
        let mut written = 0usize;
        for index in 0..jobs.len() {
            let result = self.stage(&filter, &jobs, index, &mut overlay, &mut batch, recorded_at);
            if matches!(result, Ok(Staged::Written(_))) {
                written += 1;
            }
            results.push(result);
        }
        self.buf = std::mem::take(&mut overlay.buf);
        // The appended events go to the filter thread, which adds their ids to the filter while
        // the group is written, and frees them. Should the write fail, the filter holds ids that
        // are not stored, which costs a lookup, never a wrong answer.
        let mut appended = Vec::new();
        let mut counts = Vec::new();
        for (job, result) in jobs.iter_mut().zip(&results) {
            if matches!(result, Ok(Staged::Written(_))) {
                counts.push((job.tenant, job.events.len()));
                appended.push((job.tenant, std::mem::take(&mut job.events)));
            }
        }
        self.filter.hand_over(filter, appended);
        let write_result = if written > 0 {
            let mut opts = WriteOptions::default();
            opts.set_sync(super::SYNC_ACKS);
            let started = std::time::Instant::now();
            let result = self.db.write_opt(batch, &opts).map_err(StoreError::from);
            metrics::histogram!("renkei_store_fsync_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::histogram!("renkei_store_group_commit_appends").record(written as f64);
            result
        } else {
            Ok(())
        };
        // A failure is published once the group is answered (below).
        if write_result.is_ok() {
            for (tenant, last) in &overlay.positions {
                self.positions.insert(*tenant, *last);
                let tenants = self.tenants.read().unwrap_or_else(|e| e.into_inner());
                if let Some(t) = tenants.get(tenant) {
                    t.committed.send_replace(*last);
                }
            }
        }
        for (job, result) in jobs.into_iter().zip(results) {
            let answer = match (result, &write_result) {
                (Err(e), _) => Err(e),
                (Ok(Staged::Written(o) | Staged::Duplicate(o)), Ok(())) => Ok(o),
                (Ok(_), Err(e)) => Err(e.clone()),
            };
            let _ = job.reply.send(answer);
        }
        if let Err(e) = &write_result {
            self.fail(e);
        }
        if write_result.is_ok() {
            for (tenant, n) in counts {
                metrics::counter!(
                    "renkei_store_events_appended_total",
                    "municipality" => tenant.to_string()
                )
                .increment(n as u64);
            }
        }
    }

    fn stage(
        &self,
        filter: &IdFilter,
        jobs: &[AppendJob],
        index: usize,
        overlay: &mut Overlay,
        batch: &mut WriteBatch,
        recorded_at: i64,
    ) -> Result<Staged, StoreError> {
        let job = &jobs[index];
        let tenant = job.tenant;
        let committed = *self
            .positions
            .get(&tenant)
            .ok_or(StoreError::UnknownTenant(tenant))?;

        // 1. Idempotency: are any of these ids recorded already (on disk or earlier in the group)?
        if let Some(found) =
            self.find_ids(filter, jobs, tenant, &job.events, overlay, recorded_at)?
        {
            return self.check_retry(job, &found).map(Staged::Duplicate);
        }

        // 2. Optimistic concurrency.
        let head_key = (tenant, job.stream.clone());
        let current = match overlay.heads.get(&head_key) {
            Some(v) => *v,
            None => self
                .db
                .get_cf(
                    cf(&self.db, keys::CF_HEADS)?,
                    keys::head(tenant, &job.stream),
                )?
                .and_then(|v| keys::decode_u64(&v))
                .unwrap_or(0),
        };
        if !job.expected.admits(current) {
            return Err(StoreError::WrongExpectedVersion {
                stream: job.stream.to_string(),
                expected: job.expected,
                actual: current,
            });
        }

        // 3. Everything checked: stage the writes.
        let events_cf = cf(&self.db, keys::CF_EVENTS)?;
        let streams_cf = cf(&self.db, keys::CF_STREAMS)?;
        let ids_cf = cf(&self.db, keys::CF_EVENT_IDS)?;
        let heads_cf = cf(&self.db, keys::CF_HEADS)?;
        let last_position = overlay.positions.get(&tenant).copied().unwrap_or(committed);
        let first_position = last_position + 1;
        let first_version = current + 1;
        for (i, event) in job.events.iter().enumerate() {
            let position = GlobalPosition(first_position + i as u64);
            let version = first_version + i as u64;
            StoredEvent::encode_new(event, &job.stream, version, recorded_at, &mut overlay.buf);
            batch.put_cf(events_cf, keys::event(tenant, position), &overlay.buf);
            batch.put_cf(
                ids_cf,
                keys::event_id(tenant, event.event_id),
                position.get().to_be_bytes(),
            );
            if overlay.track_ids {
                overlay.ids.insert(
                    (tenant, event.event_id),
                    Staging {
                        position,
                        stream_version: version,
                        job: index,
                        event: i,
                    },
                );
            }
        }
        let n = job.events.len() as u64;
        let last_version = current + n;
        batch.put_cf(
            streams_cf,
            keys::stream_run(tenant, &job.stream, first_version),
            // A batch holds at most max_batch_events (far below u32::MAX) events.
            keys::encode_run_value(first_position, job.events.len() as u32),
        );
        batch.put_cf(
            heads_cf,
            keys::head(tenant, &job.stream),
            last_version.to_be_bytes(),
        );
        overlay.heads.insert(head_key, last_version);
        overlay.positions.insert(tenant, last_position + n);
        Ok(Staged::Written(AppendOutcome {
            first_stream_version: first_version,
            last_stream_version: last_version,
            first_position: GlobalPosition(first_position),
            last_position: GlobalPosition(last_position + n),
            deduplicated: false,
        }))
    }

    /// Looks each event id up, in the group's overlay first, then in the database. Returns
    /// `None` when none is recorded (the common case, which allocates nothing), and otherwise
    /// what is recorded under each id.
    fn find_ids(
        &self,
        filter: &IdFilter,
        jobs: &[AppendJob],
        tenant: MunicipalityCode,
        events: &[NewEvent],
        overlay: &Overlay,
        recorded_at: i64,
    ) -> Result<Option<Vec<Found>>, StoreError> {
        let mut found: Vec<Found> = Vec::new();
        let mut found_any = false;
        // Ids the filter cannot rule out are looked up in RocksDB, all at once.
        let mut maybe = Vec::new();
        for (i, event) in events.iter().enumerate() {
            let staged = if overlay.ids.is_empty() {
                None
            } else {
                overlay.ids.get(&(tenant, event.event_id))
            };
            if let Some(s) = staged {
                // Rare (a retry racing its original): rebuild the staged event to compare.
                let original = &jobs[s.job];
                let stored = StoredEvent::new(
                    &original.events[s.event],
                    &original.stream,
                    s.stream_version,
                    recorded_at,
                );
                if found.is_empty() {
                    found.resize(events.len(), None);
                }
                found[i] = Some((s.position, stored));
                found_any = true;
            } else if filter.may_contain(tenant, event.event_id) {
                maybe.push(i);
            }
        }
        if maybe.is_empty() {
            return Ok(found_any.then_some(found));
        }
        let ids_cf = cf(&self.db, keys::CF_EVENT_IDS)?;
        let id_keys: Vec<_> = maybe
            .iter()
            .map(|i| keys::event_id(tenant, events[*i].event_id))
            .collect();
        let on_disk =
            self.db
                .batched_multi_get_cf(ids_cf, id_keys.iter().map(|k| k.as_slice()), false);
        for (i, disk) in maybe.into_iter().zip(on_disk) {
            let Some(value) = disk? else { continue };
            let event = &events[i];
            let position =
                GlobalPosition(keys::decode_u64(&value).ok_or_else(|| StoreError::Corrupt {
                    key: format!("event_ids/{}", event.event_id),
                    reason: "value is not a u64".into(),
                })?);
            let key = keys::event(tenant, position);
            let bytes = self
                .db
                .get_cf(cf(&self.db, keys::CF_EVENTS)?, key)?
                .ok_or_else(|| StoreError::Corrupt {
                    key: format!("events/{key:02x?}"),
                    reason: "indexed event is missing".into(),
                })?;
            if found.is_empty() {
                found.resize(events.len(), None);
            }
            found[i] = Some((position, StoredEvent::decode_at(&key, &bytes)?));
            found_any = true;
        }
        Ok(found_any.then_some(found))
    }

    /// Decides whether a batch some of whose ids are recorded is a faithful retry: every id
    /// recorded, with the same content, in the same stream, at consecutive positions.
    fn check_retry(&self, job: &AppendJob, found: &[Found]) -> Result<AppendOutcome, StoreError> {
        let conflict =
            |index: usize, position: GlobalPosition, reason: &str| StoreError::EventIdConflict {
                index,
                event_id: job.events[index].event_id,
                position,
                reason: reason.into(),
            };
        let Some(first_found) = found.iter().position(Option::is_some) else {
            unreachable!("check_retry is called only when some id is recorded")
        };
        let Some((anchor_pos, anchor)) = &found[first_found] else {
            unreachable!("first_found indexes a found id")
        };
        if let Some(missing) = found.iter().position(Option::is_none) {
            return Err(conflict(
                first_found,
                *anchor_pos,
                &format!(
                    "the batch mixes recorded and new events (events[{missing}] is new); a retry must repeat the original batch"
                ),
            ));
        }
        let mut outcome = AppendOutcome {
            first_stream_version: anchor.stream_version,
            last_stream_version: anchor.stream_version,
            first_position: *anchor_pos,
            last_position: *anchor_pos,
            deduplicated: true,
        };
        for (i, (event, hit)) in job.events.iter().zip(found).enumerate() {
            // Every entry is Some: checked just above.
            let Some((position, stored)) = hit else {
                unreachable!("all ids found")
            };
            if !stored.same_content(event, &job.stream) {
                return Err(conflict(
                    i,
                    *position,
                    "it was recorded with different content or in another stream",
                ));
            }
            if i > 0
                && (position.get() != outcome.last_position.get() + 1
                    || stored.stream_version != outcome.last_stream_version + 1)
            {
                return Err(conflict(
                    i,
                    *position,
                    "the batch does not repeat the original batch in its order",
                ));
            }
            outcome.last_position = *position;
            outcome.last_stream_version = stored.stream_version;
        }
        Ok(outcome)
    }
}

/// An upper estimate of the bytes a group's `WriteBatch` takes: per event its record (the
/// envelope's fields but the strings and the payload take at most 80 bytes), its key and its
/// id-index entry with their framing (under 60 bytes); per append a stream run and a head.
fn batch_bytes(jobs: &[AppendJob]) -> usize {
    jobs.iter()
        .map(|job| {
            let stream = job.stream.as_str().len();
            let events: usize = job
                .events
                .iter()
                .map(|e| e.payload.len() + e.event_type.len() + e.actor.len() + stream + 160)
                .sum();
            events + 2 * (stream + 48)
        })
        .sum::<usize>()
        + 64
}

/// What the filter thread is handed: the filter, and the events of a group's appends per tenant.
type FilterWork = (IdFilter, Vec<(MunicipalityCode, Vec<NewEvent>)>);

/// Owns the id filter for the writer thread, and a helper thread that adds each group's ids to it
/// while the writer waits for that group's fsync. The filter is moved to the helper and back, so
/// the writer never stages against a filter that lacks the ids of a group it staged before.
struct FilterKeeper {
    /// The filter, when the helper has given it back (or was never handed it).
    filter: Option<IdFilter>,
    work: Option<std::sync::mpsc::Sender<FilterWork>>,
    done: std::sync::mpsc::Receiver<IdFilter>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FilterKeeper {
    fn new(filter: IdFilter) -> Self {
        let (work, work_rx) = std::sync::mpsc::channel::<FilterWork>();
        let (done_tx, done) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("renkei-store-ids".into())
            .spawn(move || {
                let mut scratch = Vec::new();
                let mut ids = Vec::new();
                for (mut filter, appended) in work_rx {
                    for (tenant, events) in &appended {
                        ids.clear();
                        ids.extend(events.iter().map(|e| e.event_id));
                        filter.insert_all(*tenant, &ids, &mut scratch);
                    }
                    if done_tx.send(filter).is_err() {
                        return;
                    }
                    // Freed here, after the filter is back, and off the writer thread.
                    drop(appended);
                }
            });
        // Without the helper the writer updates the filter itself.
        let (work, thread) = match thread {
            Ok(thread) => (Some(work), Some(thread)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the id filter thread; the writer updates the filter");
                (None, None)
            }
        };
        Self {
            filter: Some(filter),
            work,
            done,
            thread,
        }
    }

    /// Returns the filter, holding the ids of every group staged so far, once the helper is done
    /// with it.
    fn take(&mut self) -> IdFilter {
        match self.filter.take() {
            Some(filter) => filter,
            // The helper gives every filter it is handed back; it only ends when `work` is
            // dropped, which happens in `drop` only.
            None => self
                .done
                .recv()
                .expect("the id filter thread gives the filter back"),
        }
    }

    /// Adds the appended events' ids to the filter (on the helper thread when there is one).
    fn hand_over(
        &mut self,
        mut filter: IdFilter,
        appended: Vec<(MunicipalityCode, Vec<NewEvent>)>,
    ) {
        if appended.is_empty() {
            self.filter = Some(filter);
            return;
        }
        let appended = match &self.work {
            Some(work) => match work.send((filter, appended)) {
                Ok(()) => return,
                Err(std::sync::mpsc::SendError(back)) => {
                    filter = back.0;
                    back.1
                }
            },
            None => appended,
        };
        let (mut scratch, mut ids) = (Vec::new(), Vec::new());
        for (tenant, events) in &appended {
            ids.clear();
            ids.extend(events.iter().map(|e| e.event_id));
            filter.insert_all(*tenant, &ids, &mut scratch);
        }
        self.filter = Some(filter);
    }
}

impl Drop for FilterKeeper {
    fn drop(&mut self) {
        self.work = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn refuse(msg: WriterMsg) {
    refuse_with(msg, &StoreError::Closed);
}

/// Answers a message with `error` (a shutdown is acknowledged).
fn refuse_with(msg: WriterMsg, error: &StoreError) {
    match msg {
        WriterMsg::Append(job) => {
            let _ = job.reply.send(Err(error.clone()));
        }
        WriterMsg::AddTenants { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        WriterMsg::Shutdown { reply } => {
            let _ = reply.send(());
        }
    }
}
