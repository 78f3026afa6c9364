//! `GET /metrics` of both tiers: the process's one Prometheus recorder and the endpoint that
//! serves it as text, refreshing gauges read from live state just before each scrape.

use std::future::Future;
use std::sync::OnceLock;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Returns the process's Prometheus recorder, installing it on first use (a process has one).
pub fn handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics is empty");
                None
            }
        })
        .clone()
}

/// Serves `GET /metrics` on `listener` until `shutdown` resolves; `refresh` runs before each
/// scrape to set gauges read from live state (the prefecture replica uses it for Raft's).
pub async fn serve_with(
    listener: TcpListener,
    refresh: impl Fn() + Clone + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let recorder = handle();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let refresh = refresh.clone();
            let recorder = recorder.clone();
            async move {
                refresh();
                recorder.map(|h| h.render()).unwrap_or_default()
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
