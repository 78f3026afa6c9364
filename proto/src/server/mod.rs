//! What the servers of both tiers share — the municipal node (`renkei-node`) and the prefecture
//! replica (`renkei-prefecture`) — so that the prefecture links neither the node's event store
//! nor its personal-data vault:
//!
//! - [`access`]: bearer-token credentials (weak and placeholder tokens refused), the rule that a
//!   server reachable from other machines needs someone configured to call it, and the tower
//!   layer that decides a gRPC call before its body is read ([`access::GateLayer`]);
//! - [`backup`]: the online backup routine (a directory with `data/` and a manifest), the copy
//!   back into a data directory, and its gRPC status and reply;
//! - [`metrics`]: `GET /metrics` (Prometheus text) with gauges refreshed before each scrape;
//! - [`storage`]: what RocksDB leaves unsaid when it refuses to open a database (the damaged
//!   write-ahead log's name);
//! - [`telemetry`]: logs, OpenTelemetry traces carried across processes, the shutdown signal;
//! - [`web`]: the web pages' kit (sessions and CSRF, HTTPS serving, the layout and stylesheet,
//!   SVG charts).

pub mod access;
pub mod backup;
pub mod metrics;
pub mod storage;
pub mod telemetry;
pub mod web;
