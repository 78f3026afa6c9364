//! The writer thread: group commit of appends.
//!
//! It takes the first waiting message, then every other already queued (up to a group limit),
//! stages each append against the state so far — the database plus what earlier appends of the
//! same group staged — and writes the whole group in one `WriteBatch` with `sync = true`. Answers
//! go out only after that write returns, so an answered append is on disk; a failed write fails
//! every append of the group and writes nothing.
//!
//! Staging checks everything before it touches the batch, so a refused append leaves no trace.

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
    /// Every event id in the store (no false negatives).
    filter: IdFilter,
    /// Last committed global position per hosted tenant; owned by this thread.
    positions: HashMap<MunicipalityCode, u64>,
    tenants: TenantMap,
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
    ) -> Self {
        Self {
            db,
            filter,
            positions,
            tenants,
        }
    }

    pub fn run(mut self, mut rx: mpsc::Receiver<WriterMsg>) {
        while let Some(first) = rx.blocking_recv() {
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
        let tenants_cf = cf(&self.db, keys::CF_TENANTS)?;
        let mut batch = WriteBatch::default();
        for code in codes {
            batch.put_cf(tenants_cf, keys::tenant(*code), []);
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
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

    fn commit_group(&mut self, jobs: Vec<AppendJob>) {
        if jobs.is_empty() {
            return;
        }
        let recorded_at = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let mut batch = WriteBatch::default();
        let mut overlay = Overlay {
            // Ids need tracking only to catch a retry racing its original in the same group.
            track_ids: jobs.len() > 1,
            ..Overlay::default()
        };
        let mut results = Vec::with_capacity(jobs.len());
        let mut written = 0usize;
        for index in 0..jobs.len() {
            let result = self.stage(&jobs, index, &mut overlay, &mut batch, recorded_at);
            if matches!(result, Ok(Staged::Written(_))) {
                written += 1;
            }
            results.push(result);
        }
        let write_result = if written > 0 {
            let mut opts = WriteOptions::default();
            opts.set_sync(true);
            let started = std::time::Instant::now();
            let result = self.db.write_opt(batch, &opts).map_err(StoreError::from);
            metrics::histogram!("renkei_store_fsync_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::histogram!("renkei_store_group_commit_appends").record(written as f64);
            result
        } else {
            Ok(())
        };
        match &write_result {
            Ok(()) => {
                for (job, result) in jobs.iter().zip(&results) {
                    if matches!(result, Ok(Staged::Written(_))) {
                        metrics::counter!(
                            "renkei_store_events_appended_total",
                            "municipality" => job.tenant.to_string()
                        )
                        .increment(job.events.len() as u64);
                        for event in &job.events {
                            self.filter.insert(job.tenant, event.event_id);
                        }
                    }
                }
                for (tenant, last) in &overlay.positions {
                    self.positions.insert(*tenant, *last);
                    let tenants = self.tenants.read().unwrap_or_else(|e| e.into_inner());
                    if let Some(t) = tenants.get(tenant) {
                        t.committed.send_replace(*last);
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "event store write failed; the group is refused"),
        }
        let answers = jobs.into_iter().map(|job| job.reply).zip(results);
        for (reply, result) in answers {
            let answer = match (result, &write_result) {
                (Err(e), _) => Err(e),
                (Ok(Staged::Written(o) | Staged::Duplicate(o)), Ok(())) => Ok(o),
                (Ok(_), Err(e)) => Err(e.clone()),
            };
            let _ = reply.send(answer);
        }
    }

    fn stage(
        &self,
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
        let found = self.find_ids(jobs, tenant, &job.events, overlay, recorded_at)?;
        if let Some(first_found) = found.iter().position(Option::is_some) {
            return self
                .check_retry(job, &found, first_found)
                .map(Staged::Duplicate);
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

    /// Looks each event id up, in the group's overlay first, then in the database.
    fn find_ids(
        &self,
        jobs: &[AppendJob],
        tenant: MunicipalityCode,
        events: &[NewEvent],
        overlay: &Overlay,
        recorded_at: i64,
    ) -> Result<Vec<Option<(GlobalPosition, StoredEvent)>>, StoreError> {
        let mut found: Vec<Option<(GlobalPosition, StoredEvent)>> = vec![None; events.len()];
        // Ids the filter cannot rule out are looked up in RocksDB, all at once.
        let mut maybe = Vec::new();
        for (i, event) in events.iter().enumerate() {
            if let Some(s) = overlay.ids.get(&(tenant, event.event_id)) {
                // Rare (a retry racing its original): rebuild the staged event to compare.
                let original = &jobs[s.job];
                let stored = StoredEvent::new(
                    &original.events[s.event],
                    &original.stream,
                    s.stream_version,
                    recorded_at,
                );
                found[i] = Some((s.position, stored));
            } else if self.filter.may_contain(tenant, event.event_id) {
                maybe.push(i);
            }
        }
        if maybe.is_empty() {
            return Ok(found);
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
            found[i] = Some((position, StoredEvent::decode_at(&key, &bytes)?));
        }
        Ok(found)
    }

    /// Decides whether a batch some of whose ids are recorded is a faithful retry: every id
    /// recorded, with the same content, in the same stream, at consecutive positions.
    fn check_retry(
        &self,
        job: &AppendJob,
        found: &[Option<(GlobalPosition, StoredEvent)>],
        first_found: usize,
    ) -> Result<AppendOutcome, StoreError> {
        let conflict =
            |index: usize, position: GlobalPosition, reason: &str| StoreError::EventIdConflict {
                index,
                event_id: job.events[index].event_id,
                position,
                reason: reason.into(),
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

fn refuse(msg: WriterMsg) {
    match msg {
        WriterMsg::Append(job) => {
            let _ = job.reply.send(Err(StoreError::Closed));
        }
        WriterMsg::AddTenants { reply, .. } => {
            let _ = reply.send(Err(StoreError::Closed));
        }
        WriterMsg::Shutdown { reply } => {
            let _ = reply.send(());
        }
    }
}
