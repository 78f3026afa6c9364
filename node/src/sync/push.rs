//! The pusher: sends the outbox's facts to the prefecture cluster, oldest first, in batches of
//! several municipalities, one batch in flight (the back-pressure: the outbox is read only as fast
//! as the prefecture acknowledges).
//!
//! It starts from the sequences the prefecture acknowledges (asked once at start and again after
//! any failure), so restarts of either side resume where the prefecture stands, and facts the
//! prefecture already holds are answered as duplicates without effect. Failures are retried with
//! jittered exponential backoff; meanwhile facts wait durably in the outbox.
//!
//! A refusal that retrying cannot cure (the prefecture does not let this node speak for a
//! municipality, or finds a fact invalid) must not hold up the other municipalities: the pusher
//! then sends one municipality per batch for a while to find the one refused, holds that one back
//! (its facts stay in the outbox, its sync state names the refusal) and tries it again later,
//! after 30 s and then twice as long each time up to 10 minutes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use renkei_proto::MunicipalityCode;
use renkei_proto::cluster::{ClusterCallError, Replicas};
use renkei_proto::v1::{self, FederationClient};
use tokio::sync::watch;
use tonic::transport::Channel;
use tracing::Instrument;

use super::board::SyncBoard;
use super::outbox::Outbox;
use crate::config::SyncConfig;

/// The first pause after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long one call keeps finding the leader before the failure is reported.
const CALL_PATIENCE: Duration = Duration::from_secs(5);
/// How long a municipality whose facts the prefecture refused is first held back.
const FIRST_HOLD: Duration = Duration::from_secs(30);
const MAX_HOLD: Duration = Duration::from_secs(600);
/// How long batches carry one municipality each after a refusal of a mixed batch.
const SOLO_FOR: Duration = Duration::from_secs(60);

/// True for a refusal that sending the same facts again cannot cure.
fn permanent(e: &ClusterCallError) -> bool {
    use tonic::Code;
    matches!(e, ClusterCallError::Refused(status) if matches!(
        status.code(),
        Code::InvalidArgument
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::ResourceExhausted
            | Code::NotFound
    ))
}

/// Municipalities held back after the prefecture refused their facts.
#[derive(Default)]
struct Holds {
    /// Until when, and how long the next hold lasts.
    held: BTreeMap<MunicipalityCode, (Instant, Duration)>,
    /// Until when batches carry one municipality each.
    solo_until: Option<Instant>,
}

impl Holds {
    /// The tenants not held back now.
    fn active(&self, tenants: &[MunicipalityCode], now: Instant) -> Vec<MunicipalityCode> {
        tenants
            .iter()
            .copied()
            .filter(|m| self.held.get(m).is_none_or(|(until, _)| *until <= now))
            .collect()
    }

    fn solo(&self, now: Instant) -> bool {
        self.solo_until.is_some_and(|u| u > now)
    }

    fn hold(&mut self, m: MunicipalityCode, e: &ClusterCallError, now: Instant) {
        let next = self.held.get(&m).map_or(FIRST_HOLD, |(_, d)| *d);
        tracing::error!(
            municipality = %m,
            error = %e,
            retry_in_s = next.as_secs(),
            "the prefecture refused this municipality's facts; they wait in the outbox while \
             the other municipalities sync"
        );
        self.held.insert(m, (now + next, (next * 2).min(MAX_HOLD)));
    }

    fn succeeded(&mut self, tenants: &[MunicipalityCode]) {
        for m in tenants {
            self.held.remove(m);
        }
    }
}

/// The largest message exchanged with the prefecture.
const MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// A cheap source of jitter (no security role): SplitMix64 seeded from the clock.
pub(super) struct Jitter(u64);

impl Jitter {
    pub(super) fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            ^ u64::from(std::process::id());
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a pause between half of `base` and `base`.
    pub(super) fn pause(&mut self, base: Duration) -> Duration {
        let half = base / 2;
        half + Duration::from_nanos(self.next() % (half.as_nanos() as u64).max(1))
    }
}

/// Exponential backoff with jitter.
pub(super) struct Backoff {
    next: Duration,
    jitter: Jitter,
}

impl Backoff {
    pub(super) fn new() -> Self {
        Self {
            next: FIRST_BACKOFF,
            jitter: Jitter::new(),
        }
    }

    pub(super) fn reset(&mut self) {
        self.next = FIRST_BACKOFF;
    }

    /// Waits the next pause, or until `stop`; returns false when stopping.
    pub(super) async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let pause = self.jitter.pause(self.next);
        self.next = (self.next * 2).min(MAX_BACKOFF);
        tokio::select! {
            _ = tokio::time::sleep(pause) => true,
            _ = stop.wait_for(|s| *s) => false,
        }
    }
}

/// A connection to the prefecture's `Federation` service that follows its leader.
pub(super) struct Prefecture {
    replicas: Replicas,
    token: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Prefecture {
    pub(super) fn new(config: &SyncConfig, tls: renkei_proto::tls::ClientTls) -> Self {
        Self {
            replicas: Replicas::new(config.prefecture.clone())
                .with_retry_for(CALL_PATIENCE)
                .with_tls(tls),
            // Validated at configuration: printable ASCII without spaces.
            token: config
                .token
                .as_ref()
                .and_then(|t| format!("Bearer {t}").parse().ok()),
        }
    }

    pub(super) fn current(&self) -> &str {
        self.replicas.current()
    }

    fn request<T>(
        token: &Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
        message: T,
    ) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        crate::telemetry::inject_current(request.metadata_mut());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        request
    }

    fn client(channel: Channel) -> FederationClient<Channel> {
        FederationClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    pub(super) async fn acknowledged(
        &mut self,
        tenants: &[MunicipalityCode],
    ) -> Result<v1::GetAcknowledgedResponse, ClusterCallError> {
        let message = v1::GetAcknowledgedRequest {
            municipalities: tenants.iter().map(ToString::to_string).collect(),
            consistency: v1::ReadConsistency::Linearizable as i32,
        };
        let token = self.token.clone();
        self.replicas
            .call(|channel| {
                let request = Self::request(&token, message.clone());
                async move { Self::client(channel).get_acknowledged(request).await }
            })
            .await
    }

    pub(super) async fn push(
        &mut self,
        message: v1::PushFactsRequest,
    ) -> Result<v1::WriteFactsResponse, ClusterCallError> {
        let token = self.token.clone();
        self.replicas
            .call(|channel| {
                let request = Self::request(&token, message.clone());
                async move { Self::client(channel).push_facts(request).await }
            })
            .await
    }

    pub(super) async fn pull(
        &mut self,
        message: v1::PullDownRequest,
    ) -> Result<v1::PullDownResponse, ClusterCallError> {
        let token = self.token.clone();
        self.replicas
            .call(|channel| {
                let request = Self::request(&token, message.clone());
                async move { Self::client(channel).pull_down(request).await }
            })
            .await
    }
}

/// Pushes the tenants' facts until `stop` turns true.
pub async fn run(
    outbox: Outbox,
    tenants: Vec<MunicipalityCode>,
    config: SyncConfig,
    tls: renkei_proto::tls::ClientTls,
    board: SyncBoard,
    mut stop: watch::Receiver<bool>,
) {
    let mut prefecture = Prefecture::new(&config, tls);
    let mut backoff = Backoff::new();
    // The prefecture's acknowledged sequences as last heard; empty means "ask again".
    let mut acked: BTreeMap<MunicipalityCode, u64> = BTreeMap::new();
    let instance = uuid::Uuid::now_v7().simple().to_string();
    let mut writes: u64 = 0;
    let mut start = 0usize;
    let mut holds = Holds::default();
    while !*stop.borrow() {
        let now = Instant::now();
        let active = holds.active(&tenants, now);
        if active.is_empty() {
            // Every municipality is held back: wait for the first hold to end.
            let until = holds.held.values().map(|(u, _)| *u).min().unwrap_or(now);
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        if acked.is_empty() {
            match prefecture.acknowledged(&active).await {
                Ok(reply) => {
                    let now = Utc::now();
                    for a in reply.acknowledged {
                        if let Ok(m) = a.municipality.parse::<MunicipalityCode>() {
                            acked.insert(m, a.acknowledged);
                            board.acknowledged(m, a.acknowledged, now);
                        }
                    }
                    board.set_peer(prefecture.current());
                    backoff.reset();
                }
                Err(e) if permanent(&e) && active.len() > 1 => {
                    // Find the municipality refused: ask for each alone.
                    for m in &active {
                        match prefecture.acknowledged(std::slice::from_ref(m)).await {
                            Err(e) if permanent(&e) => {
                                report(&board, std::slice::from_ref(m), &e);
                                holds.hold(*m, &e, now);
                            }
                            _ => {}
                        }
                    }
                    continue;
                }
                Err(e) => {
                    report(&board, &active, &e);
                    if permanent(&e) {
                        holds.hold(active[0], &e, now);
                    } else if !backoff.wait(&mut stop).await {
                        return;
                    }
                    continue;
                }
            }
        }
        // Arm the wake-up before reading, so facts produced meanwhile are not missed.
        let produced = board.wait_produced();
        tokio::pin!(produced);
        produced.as_mut().enable();
        let batch = match collect(
            &outbox,
            &active,
            &acked,
            &board,
            config.batch_facts,
            start,
            holds.solo(now),
        ) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                if !backoff.wait(&mut stop).await {
                    return;
                }
                continue;
            }
        };
        start = start.wrapping_add(1);
        if batch.facts.is_empty() {
            tokio::select! {
                _ = produced => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            continue;
        }
        writes += 1;
        let in_batch: Vec<MunicipalityCode> = batch.municipalities.clone();
        let message = v1::PushFactsRequest {
            request_id: format!("{instance}-{writes}"),
            facts: batch.facts,
            produced: batch.produced,
        };
        // One span per batch; its context travels with the call, so the prefecture's handling
        // of the batch is part of the same trace.
        let span = tracing::info_span!(
            "sync_batch",
            request_id = %message.request_id,
            facts = message.facts.len()
        );
        let sent = tokio::select! {
            sent = prefecture.push(message).instrument(span) => sent,
            _ = stop.wait_for(|s| *s) => return,
        };
        match sent {
            Ok(reply) => {
                let now = Utc::now();
                // Each result carries the municipality's acknowledged sequence after its fact.
                for (m, result) in batch.order.iter().zip(&reply.results) {
                    acked.insert(*m, result.acknowledged);
                }
                for m in &in_batch {
                    if let Some(a) = acked.get(m) {
                        board.acknowledged(*m, *a, now);
                    }
                }
                board.set_peer(prefecture.current());
                backoff.reset();
                holds.succeeded(&in_batch);
            }
            Err(e) if permanent(&e) => {
                report(&board, &in_batch, &e);
                if let [m] = in_batch.as_slice() {
                    holds.hold(*m, &e, now);
                } else {
                    // One of them is refused: send one municipality per batch to find it.
                    holds.solo_until = Some(now + SOLO_FOR);
                }
                acked.clear();
            }
            Err(e) => {
                report(&board, &in_batch, &e);
                // Ask the prefecture where it stands before sending again.
                acked.clear();
                if !backoff.wait(&mut stop).await {
                    return;
                }
            }
        }
    }
}

fn report(board: &SyncBoard, tenants: &[MunicipalityCode], e: &ClusterCallError) {
    let text = e.reason();
    tracing::warn!(error = %text, "sync with the prefecture failed; retrying");
    let now = Utc::now();
    for m in tenants {
        board.failed(*m, &text, now);
    }
}

/// One push being assembled.
struct Batch {
    facts: Vec<v1::Fact>,
    /// The municipality of each fact, in order.
    order: Vec<MunicipalityCode>,
    municipalities: Vec<MunicipalityCode>,
    produced: Vec<v1::ProducedSequence>,
}

/// Takes the oldest unacknowledged facts of the tenants, an equal share of the batch each first,
/// starting from a rotating tenant.
fn collect(
    outbox: &Outbox,
    tenants: &[MunicipalityCode],
    acked: &BTreeMap<MunicipalityCode, u64>,
    board: &SyncBoard,
    max: usize,
    start: usize,
    solo: bool,
) -> Result<Batch, crate::store::StoreError> {
    let mut batch = Batch {
        facts: Vec::new(),
        order: Vec::new(),
        municipalities: Vec::new(),
        produced: Vec::new(),
    };
    let mut pending: Vec<(MunicipalityCode, u64, u64)> = tenants
        .iter()
        .filter_map(|m| {
            let produced = board.get(*m).produced;
            let a = acked.get(m).copied().unwrap_or(0);
            (produced > a).then_some((*m, a, produced))
        })
        .collect();
    if pending.is_empty() {
        return Ok(batch);
    }
    if solo {
        // One municipality per batch, taking turns.
        pending = vec![pending[start % pending.len()]];
    }
    // Every waiting municipality gets an equal share of the batch first, so a quiet one is never
    // queued behind busy neighbours; room left over goes to those with more waiting.
    let share = max.div_ceil(pending.len()).max(1);
    let mut taken: Vec<u64> = pending.iter().map(|(_, a, _)| *a).collect();
    let mut rounds = [share, max];
    if share >= max {
        rounds = [max, 0];
    }
    let mut chunks: BTreeMap<MunicipalityCode, Vec<super::outbox::OutboxFact>> = BTreeMap::new();
    let mut count = 0usize;
    for round in rounds {
        for i in 0..pending.len() {
            let room = max - count;
            if room == 0 || round == 0 {
                break;
            }
            let k = (start + i) % pending.len();
            let (m, _, produced) = pending[k];
            if taken[k] >= produced {
                continue;
            }
            let facts = outbox.read(m, taken[k] + 1, round.min(room))?;
            taken[k] += facts.len() as u64;
            count += facts.len();
            chunks.entry(m).or_default().extend(facts);
        }
    }
    for (m, _, produced) in &pending {
        let Some(facts) = chunks.remove(m) else {
            continue;
        };
        if facts.is_empty() {
            continue;
        }
        let code = m.to_string();
        batch.municipalities.push(*m);
        batch.produced.push(v1::ProducedSequence {
            municipality: code.clone(),
            produced: *produced,
        });
        for f in facts {
            batch.order.push(*m);
            batch.facts.push(v1::Fact {
                municipality: code.clone(),
                sequence: f.sequence,
                payload: f.payload,
            });
        }
    }
    Ok(batch)
}
