//! The renkei prefecture tier (都道府県層): a Raft-replicated ledger of the facts the
//! municipalities of one prefecture report, on openraft 0.9 and RocksDB.
//!
//! Layout:
//! - [`ledger`]: the domain core — per-municipality fact sequences, applied once and in order.
//!   No I/O;
//! - [`types`]: the openraft type configuration ([`types::TypeConfig`]) and the Raft command and
//!   response carried in log entries;
//! - [`store`]: the RocksDB log store and state machine (openraft's `RaftLogStorage` and
//!   `RaftStateMachine`), one database with separate column families, every key encoding in
//!   `store::keys`; the state machine in parts — applying entries, the one request-id
//!   deduplication of retried commands, the tally engine's records, reads, snapshots;
//! - [`network`]: the outgoing Raft transport over gRPC (`RaftService`), with timeouts and
//!   reconnects;
//! - [`facts`]: the fact path the services share — this prefecture's municipalities, the checks
//!   of a write of facts, the one group-committed way into the Raft log and the other commands'
//!   way into it, reads with the consistency asked for, acknowledged sequences;
//! - [`access`]: who is calling — the `[[callers]]` by token digest, node certificates, and the
//!   gate (served behind `renkei_proto::server::access::GateLayer`) that identifies a caller before a
//!   request's body is read;
//! - [`application`]: the application methods the gRPC services and the console both call —
//!   `Surveys` (tallies, exports, completeness, submissions and reviews, regions, the (ク) items
//!   and designations), `Exchange` (facts up, items down, sync state) and `Support` (the
//!   prefecture's support activities);
//! - [`cycle`]: the tally of the PDCA cycle (令和2年〜) — per region and for the prefecture, the
//!   municipalities' goals per care scene, indicator kinds, evaluations and PDCA steps, and the
//!   activities per care scene — from the cycle records the tally engine keeps;
//! - [`error`]: the tier's errors and the one mapping of them to gRPC codes (`to_status`);
//! - [`grpc`]: the gRPC services — internal `RaftService`, client-facing `PrefectureLedger`,
//!   `Federation`, `PrefectureSurvey`, `PrefectureSupport`, `ClusterAdmin` — each handler
//!   decoding, calling one application method and encoding;
//! - [`metrics`]: the replica's Prometheus gauges (Raft, per-municipality sync) and timings;
//! - [`client`]: a client that follows leader redirects and retries with the same request id;
//! - [`config`]: the node's configuration (TOML file, environment, flags) and its validation;
//! - [`server`]: [`server::run`], which serves a replica on a listener until a shutdown future
//!   resolves — the binary and the tests both call it;
//! - [`survey`]: the national implementation-status survey: tallies per item (実施している /
//!   年度内に実施予定 / 実施していない with percentages of n), exports in the national format
//!   (CSV in UTF-8 with BOM or Shift_JIS, XLSX, JSON with a checksum) and the national merge of
//!   the prefectures' exports, and a survey's tally in its wire form;
//! - [`support`]: the prefecture's own support of its municipalities (都道府県による市町村支援):
//!   support activities by category and the municipalities each supported, a fiscal year's
//!   picture with the municipalities that received none;
//! - [`sync_monitor`]: what this replica has seen of each municipality's sync (in memory);
//! - [`regions`]: regions (圏域) — 二次医療圏 and the other kinds — as region sets in force for a
//!   range of fiscal years, read from `SetRegions` CSV and checked against the official list;
//! - [`tally`]: the tally engine's maintained state — status evidence per municipality, the
//!   region sets, survey submissions and reviews — folded in by the state machine;
//! - [`web`]: the prefecture console — the web pages officers use, served by every replica on
//!   `web_listen` (HTTPS under `[tls]`), an adapter over the same [`application`] methods as
//!   [`grpc`];
//! - [`wide_area`]: the cross-municipal items (ク): resources beyond a municipality, unified forms
//!   and their adoption, liaison agreements, wide-area meetings, designations per 圏域.
//!
//! The library never prints and never exits the process.

// openraft's `StorageError` (224 bytes) is the error type its storage traits require; boxing it
// at every call would only move the cost.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod application;
pub mod client;
pub mod config;
pub mod cycle;
pub mod error;
pub mod facts;
pub mod group_commit;
pub mod grpc;
pub mod ledger;
pub mod metrics;
pub mod network;
pub mod regions;
pub mod server;
pub mod store;
pub mod support;
pub mod survey;
pub mod sync_monitor;
pub mod tally;
pub mod types;
pub mod web;
pub mod wide_area;

#[cfg(test)]
mod tests {
    /// The prefecture tier stands beside the municipal node, not on it: what both need lives in
    /// `renkei-proto`, so `renkei-prefecture` links neither the node's event store nor its
    /// personal-data vault (ARCHITECTURE.md, "The crates").
    #[test]
    fn the_prefecture_does_not_depend_on_the_municipal_node() {
        let manifest: toml::Table =
            toml::from_str(include_str!("../Cargo.toml")).expect("federation/Cargo.toml parses");
        for table in ["dependencies", "build-dependencies"] {
            let deps = manifest.get(table).and_then(|t| t.as_table());
            let names: Vec<&String> = deps.map(|d| d.keys().collect()).unwrap_or_default();
            assert!(
                !names.iter().any(|n| n.as_str() == "renkei-node"),
                "[{table}] of federation/Cargo.toml names renkei-node: {names:?}"
            );
            if table == "dependencies" {
                assert!(names.iter().any(|n| n.as_str() == "renkei-proto"));
            }
        }
    }
}
