//! A TCP proxy the fault suite puts between two processes to break the network on demand.
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` and forwards every accepted connection to a
//! target; the tests point a client at [`Proxy::address`] instead of the target. A
//! [`ProxyControl`] (cheap to clone) then changes, at runtime:
//!
//! - [`ProxyControl::partition`]: no byte passes in either direction on any connection, old or
//!   new (new ones are accepted and held open). Healing closes every connection that lived
//!   through the partition, so clients notice and reconnect; later connections pass.
//! - [`ProxyControl::drop_direction`]: one-way loss, bytes in one direction are discarded.
//! - [`ProxyControl::delay`]: each chunk waits `base` plus up to `jitter` before it is passed
//!   on; order is kept.
//! - [`ProxyControl::stall`]: the connections open now freeze mid-stream for good, without
//!   closing; new connections pass.
//!
//! [`ProxyControl::stats`] counts connections and bytes.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// Which way bytes flow through the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client (who connected to the proxy) to the target.
    Upstream,
    /// From the target back to the client.
    Downstream,
}

/// A running proxy. Dropping it stops accepting and closes every forwarded connection.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    control: ProxyControl,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Starts forwarding connections made to a new port on 127.0.0.1 to `target`.
    /// Must be called within a tokio runtime, which then runs the proxy.
    pub async fn start(target: SocketAddr) -> io::Result<Proxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let control = ProxyControl {
            shared: Arc::new(Shared {
                mode: watch::Sender::new(Mode::default()),
                stats: Counters::default(),
            }),
        };
        let acceptor = tokio::spawn(accept(listener, target, Arc::clone(&control.shared)));
        Ok(Proxy {
            address,
            control,
            acceptor,
        })
    }

    /// Where clients connect instead of the target.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle that changes the proxy's faults at runtime.
    pub fn control(&self) -> ProxyControl {
        self.control.clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The acceptor owns every connection's task: aborting it closes them all.
        self.acceptor.abort();
    }
}

/// Changes the faults of a running [`Proxy`]; every clone acts on the same proxy.
#[derive(Clone, Debug)]
pub struct ProxyControl {
    shared: Arc<Shared>,
}

/// Counters of a proxy's traffic since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open_connections: u64,
    /// Bytes passed from clients to the target.
    pub bytes_upstream: u64,
    /// Bytes passed from the target to clients.
    pub bytes_downstream: u64,
    /// Bytes discarded by [`ProxyControl::drop_direction`].
    pub bytes_dropped: u64,
}

impl ProxyControl {
    /// `true`: no byte passes on any connection, in either direction; new connections are
    /// accepted and held. `false` (heal): the connections that lived through the partition are
    /// closed (their clients reconnect), new ones pass.
    pub fn partition(&self, on: bool) {
        self.shared.mode.send_modify(|mode| {
            if on && !mode.partitioned {
                mode.partition_epoch += 1;
            }
            mode.partitioned = on;
        });
    }

    /// `true`: bytes flowing in `direction` are discarded (one-way loss); `false`: they pass.
    pub fn drop_direction(&self, direction: Direction, on: bool) {
        self.shared.mode.send_modify(|mode| match direction {
            Direction::Upstream => mode.drop_upstream = on,
            Direction::Downstream => mode.drop_downstream = on,
        });
    }

    /// Each chunk waits `base` plus a random part of `jitter` before it is passed on, in
    /// order. Zero and zero turn it off.
    pub fn delay(&self, base: Duration, jitter: Duration) {
        self.shared.mode.send_modify(|mode| {
            mode.delay = base;
            mode.jitter = jitter;
        });
    }

    /// The connections open now freeze for good, mid-stream, without closing (a peer that
    /// hangs); connections accepted afterwards pass.
    pub fn stall(&self) {
        self.shared
            .mode
            .send_modify(|mode| mode.stall_epoch = mode.next_connection);
    }

    /// Traffic so far.
    pub fn stats(&self) -> ProxyStats {
        let counters = &self.shared.stats;
        ProxyStats {
            connections: counters.connections.load(Ordering::Relaxed),
            open_connections: counters.open.load(Ordering::Relaxed),
            bytes_upstream: counters.upstream.load(Ordering::Relaxed),
            bytes_downstream: counters.downstream.load(Ordering::Relaxed),
            bytes_dropped: counters.dropped.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
struct Shared {
    /// The faults in force; connections watch it.
    mode: watch::Sender<Mode>,
    stats: Counters,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    open: AtomicU64,
    upstream: AtomicU64,
    downstream: AtomicU64,
    dropped: AtomicU64,
}

/// The faults in force.
#[derive(Clone, Copy, Debug, Default)]
struct Mode {
    partitioned: bool,
    /// Partitions begun so far: a connection that saw one begin is closed when it heals.
    partition_epoch: u64,
    drop_upstream: bool,
    drop_downstream: bool,
    delay: Duration,
    jitter: Duration,
    /// Connections numbered below this are stalled for good.
    stall_epoch: u64,
    /// The number the next accepted connection gets.
    next_connection: u64,
}

/// What a connection knows of itself when it compares with the [`Mode`].
#[derive(Clone, Copy, Debug)]
struct Connection {
    number: u64,
    /// The partition epoch when it was accepted.
    partition_epoch: u64,
    /// Accepted during a partition.
    born_partitioned: bool,
}

impl Connection {
    /// Lived through a partition: to be closed once it heals.
    fn doomed(&self, mode: &Mode) -> bool {
        self.born_partitioned || mode.partition_epoch > self.partition_epoch
    }

    /// No byte may pass now.
    fn blocked(&self, mode: &Mode) -> bool {
        mode.partitioned || self.number < mode.stall_epoch || self.doomed(mode)
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    // Owned here so that aborting this task (dropping the proxy) aborts every connection.
    let mut connections = JoinSet::new();
    loop {
        let client = tokio::select! {
            accepted = listener.accept() => accepted,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((client, _)) = client else {
            // Out of descriptors and the like: try again shortly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let mut connection = None;
        shared.mode.send_modify(|mode| {
            connection = Some(Connection {
                number: mode.next_connection,
                partition_epoch: mode.partition_epoch,
                born_partitioned: mode.partitioned,
            });
            mode.next_connection += 1;
        });
        let Some(connection) = connection else {
            continue;
        };
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        shared.stats.open.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            serve(client, target, connection, &shared).await;
            shared.stats.open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Forwards one connection until either side closes both ways, or it is closed on heal.
async fn serve(client: TcpStream, target: SocketAddr, connection: Connection, shared: &Shared) {
    let mut mode = shared.mode.subscribe();
    if connection.born_partitioned {
        // Held open, nothing passes; closed once the partition heals.
        let _ = mode.wait_for(|mode| !mode.partitioned).await;
        return;
    }
    let Ok(upstream) = TcpStream::connect(target).await else {
        // The target is down: the client sees its connection closed.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let both_ways = async {
        tokio::join!(
            pump(
                client_read,
                upstream_write,
                Direction::Upstream,
                connection,
                shared
            ),
            pump(
                upstream_read,
                client_write,
                Direction::Downstream,
                connection,
                shared
            ),
        )
    };
    tokio::select! {
        _ = both_ways => {}
        _ = mode.wait_for(|mode| connection.doomed(mode) && !mode.partitioned) => {}
    }
}

/// Copies one direction chunk by chunk, applying the faults in force to each chunk.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    connection: Connection,
    shared: &Shared,
) {
    let mut mode = shared.mode.subscribe();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut jitter = Jitter::new(connection.number, direction);
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(read) => read,
        };
        // Hold the chunk while no byte may pass.
        let now = match mode.wait_for(|mode| !connection.blocked(mode)).await {
            // Copied out at once: the borrow of the watched value must not live across awaits.
            Ok(now) => *now,
            Err(_) => return,
        };
        let dropped = match direction {
            Direction::Upstream => now.drop_upstream,
            Direction::Downstream => now.drop_downstream,
        };
        let bytes = read as u64;
        if dropped {
            shared.stats.dropped.fetch_add(bytes, Ordering::Relaxed);
            continue;
        }
        let wait = now.delay + jitter.part_of(now.jitter);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
        let counter = match direction {
            Direction::Upstream => &shared.stats.upstream,
            Direction::Downstream => &shared.stats.downstream,
        };
        counter.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// A small pseudo-random source for the delay's jitter (xorshift; no need for quality).
struct Jitter(u64);

impl Jitter {
    fn new(connection: u64, direction: Direction) -> Jitter {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos().into());
        Jitter((seed ^ connection.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ direction as u64) | 1)
    }

    /// A random duration in `0..=max`.
    fn part_of(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.0 % nanos.saturating_add(1))
    }
}
