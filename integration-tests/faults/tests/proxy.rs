//! The fault proxy between a client and a tiny echo server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use renkei_faults::proxy::{Direction, Proxy, ProxyControl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long any predicate may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// An echo server on a free port: every byte received is sent back.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let (mut read, mut write) = socket.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    address
}

async fn echo_once(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut back))
        .await
        .expect("echo within patience")
        .unwrap();
    back
}

/// Waits (bounded) until `predicate` holds of the proxy's stats.
async fn wait_stats(
    control: &ProxyControl,
    predicate: impl Fn(&renkei_faults::proxy::ProxyStats) -> bool,
) {
    let deadline = Instant::now() + PATIENCE;
    while !predicate(&control.stats()) {
        assert!(
            Instant::now() < deadline,
            "stats never matched: {:?}",
            control.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether `stream` yields no byte for `window` (the absence of traffic can only be observed
/// over a window).
async fn silent_for(stream: &mut TcpStream, window: Duration) -> bool {
    let mut byte = [0u8; 1];
    tokio::time::timeout(window, stream.read(&mut byte))
        .await
        .is_err()
}

#[tokio::test]
async fn passes_bytes_both_ways() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(echo_once(&mut client, b"hello").await, b"hello");
    let big = vec![7u8; 300_000];
    assert_eq!(echo_once(&mut client, &big).await, big);
    let control = proxy.control();
    wait_stats(&control, |stats| {
        stats.connections == 1
            && stats.bytes_upstream == 300_005
            && stats.bytes_downstream == 300_005
    })
    .await;
    drop(client);
    wait_stats(&control, |stats| stats.open_connections == 0).await;
}

#[tokio::test]
async fn a_partition_blocks_and_healing_restores() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let control = proxy.control();
    let mut old = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(echo_once(&mut old, b"before").await, b"before");

    control.partition(true);
    old.write_all(b"during").await.unwrap();
    let mut during = TcpStream::connect(proxy.address()).await.unwrap();
    during.write_all(b"new").await.unwrap();
    assert!(silent_for(&mut old, Duration::from_millis(300)).await);
    assert!(silent_for(&mut during, Duration::from_millis(50)).await);
    assert_eq!(control.stats().bytes_downstream, 6);

    control.partition(false);
    // The connections that lived through the partition are closed: EOF or reset.
    for stream in [&mut old, &mut during] {
        let mut rest = Vec::new();
        let outcome = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
            .await
            .expect("closed within patience");
        assert!(
            outcome.is_err() || rest.is_empty(),
            "no byte of the partition passes"
        );
    }
    let mut fresh = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(echo_once(&mut fresh, b"after").await, b"after");
}

#[tokio::test]
async fn a_delay_holds_each_chunk() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let control = proxy.control();
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(echo_once(&mut client, b"warm").await, b"warm");

    control.delay(Duration::from_millis(100), Duration::from_millis(20));
    let started = Instant::now();
    assert_eq!(echo_once(&mut client, b"slow").await, b"slow");
    // Delayed on the way up and again on the way down.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "round trip took {took:?}"
    );

    // Order is kept under jitter.
    let mut expected = Vec::new();
    for i in 0..20u8 {
        client.write_all(&[i]).await.unwrap();
        expected.push(i);
    }
    let mut back = vec![0u8; expected.len()];
    tokio::time::timeout(PATIENCE, client.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, expected);

    control.delay(Duration::ZERO, Duration::ZERO);
    let started = Instant::now();
    assert_eq!(echo_once(&mut client, b"fast").await, b"fast");
    assert!(started.elapsed() < Duration::from_millis(200));
}

#[tokio::test]
async fn one_way_loss_discards_one_direction() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let control = proxy.control();
    let mut client = TcpStream::connect(proxy.address()).await.unwrap();

    // Replies lost: the request reaches the server, its echo is discarded.
    control.drop_direction(Direction::Downstream, true);
    client.write_all(b"lost reply").await.unwrap();
    wait_stats(&control, |stats| {
        stats.bytes_dropped == 10 && stats.bytes_upstream == 10
    })
    .await;
    assert!(silent_for(&mut client, Duration::from_millis(100)).await);
    control.drop_direction(Direction::Downstream, false);

    // Requests lost: nothing reaches the server, so nothing comes back.
    control.drop_direction(Direction::Upstream, true);
    client.write_all(b"lost request").await.unwrap();
    wait_stats(&control, |stats| stats.bytes_dropped == 22).await;
    assert!(silent_for(&mut client, Duration::from_millis(100)).await);
    assert_eq!(control.stats().bytes_upstream, 10);
    control.drop_direction(Direction::Upstream, false);

    assert_eq!(echo_once(&mut client, b"back").await, b"back");
}

#[tokio::test]
async fn a_stall_freezes_open_connections_only() {
    let proxy = Proxy::start(echo_server().await).await.unwrap();
    let control = proxy.control();
    let mut old = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(echo_once(&mut old, b"before").await, b"before");
    wait_stats(&control, |stats| stats.connections == 1).await;

    control.stall();
    old.write_all(b"frozen").await.unwrap();
    let mut fresh = TcpStream::connect(proxy.address()).await.unwrap();
    assert_eq!(echo_once(&mut fresh, b"fresh").await, b"fresh");
    assert!(
        silent_for(&mut old, Duration::from_millis(200)).await,
        "frozen, not closed"
    );
}
