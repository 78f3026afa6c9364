//! Logs, traces and the shutdown signal of the renkei binaries (`renkei-node`,
//! `renkei-prefecture`).
//!
//! - [`init`] installs the `tracing` subscriber: log lines on stderr (text or JSON, filtered by
//!   `RUST_LOG`) and, when an OTLP endpoint is configured, an OpenTelemetry layer exporting every
//!   span over OTLP/gRPC in batches (off by default);
//! - trace context travels between processes as W3C `traceparent` metadata: [`inject_current`]
//!   puts the current span's context on an outgoing request (the node's sync client does it for
//!   each batch), and [`grpc_server_span`] opens each incoming call's span as the child of the
//!   caller's — so one sync batch is one trace across the node and the prefecture;
//! - [`ShutdownSignal`] resolves on Ctrl-C or SIGTERM; it is installed before a binary announces
//!   its address, so a signal sent right after the announcement is never missed.

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How often finished spans are sent to the OTLP endpoint.
const EXPORT_INTERVAL: Duration = Duration::from_millis(500);

/// Keeps the span exporter alive; [`Telemetry::shutdown`] sends what is still buffered.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("telemetry: flushing spans at shutdown failed: {e}");
        }
    }
}

/// Checks an OTLP endpoint from a configuration: an `http://` or `https://` URL.
pub fn validate_endpoint(field: &str, text: &str) -> Result<String, String> {
    let ok = (text.starts_with("http://") || text.starts_with("https://"))
        && text.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{field}: {text:?} is not an OTLP/gRPC endpoint such as http://127.0.0.1:4317"
        ))
    }
}

/// Installs the process's subscriber. Must run inside a Tokio runtime when `otlp_endpoint` is
/// set (the exporter's batches are sent from a task). `service` names the process in traces.
pub fn init(service: &'static str, json: bool, otlp_endpoint: Option<&str>) -> Telemetry {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(fmt.json())
    } else {
        Box::new(fmt)
    };
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let (provider, otel) = match otlp_endpoint.map(|e| exporter(service, e)) {
        Some(Ok(provider)) => {
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service));
            (Some(provider), Some(layer))
        }
        Some(Err(e)) => {
            eprintln!("{service}: traces are not exported: {e}");
            (None, None)
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(fmt)
        .with(filter)
        .with(otel)
        .init();
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "exporting traces over OTLP");
    }
    Telemetry { provider }
}

fn exporter(service: &'static str, endpoint: &str) -> Result<SdkTracerProvider, String> {
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
    // The batch processor runs on the Tokio runtime: the gRPC exporter needs its reactor.
    let processor = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio)
        .with_batch_config(
            opentelemetry_sdk::trace::BatchConfigBuilder::default()
                .with_scheduled_delay(EXPORT_INTERVAL)
                .build(),
        )
        .build();
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource)
        .build())
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Puts the current span's trace context on an outgoing request's metadata (`traceparent`).
/// Does nothing visible when traces are not exported.
pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut MetadataInjector(metadata));
    });
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The span of one incoming gRPC call, child of the caller's span when the request carries a
/// trace context; for `tonic::transport::Server::trace_fn`.
pub fn grpc_server_span(request: &http::Request<()>) -> tracing::Span {
    let method = request.uri().path();
    let span = tracing::info_span!(
        "grpc",
        otel.name = method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.method = method
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    let _ = span.set_parent(parent);
    span
}

/// Runs a binary's server on a new Tokio runtime with [`init`]'s subscriber installed, flushes
/// the spans at the end, and turns the outcome into the process's exit code (errors are logged
/// and printed on stderr as `<service>: <error>`).
pub fn run_service<F>(
    service: &'static str,
    json: bool,
    otlp_endpoint: Option<String>,
    serve: F,
) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{service}: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let telemetry = init(service, json, otlp_endpoint.as_deref());
        let result = serve.await;
        telemetry.shutdown();
        result
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "{service} failed");
            eprintln!("{service}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM. Create it before announcing the listening address.
pub struct ShutdownSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    /// Installs the handlers now (inside a Tokio runtime).
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let term = signal(SignalKind::terminate())
                .map_err(|e| {
                    tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the process");
                })
                .ok();
            Self { term }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the signal.
    pub async fn wait(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        match self.term {
            Some(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            None => {
                let _ = ctrl_c.await;
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown signal received");
    }
}
