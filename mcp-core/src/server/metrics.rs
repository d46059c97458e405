//! Prometheus metrics of a server: requests by method, tool and outcome, latency
//! histograms by method, and requests in flight. Served as text at `/metrics`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    tool: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

type LatencyFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// The server's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    in_flight: Gauge<i64, std::sync::atomic::AtomicI64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 50 us to about 50 s.
    Histogram::new(exponential_buckets(0.000_05, 4.0, 11))
}

/// Decrements the in-flight gauge when the request ends, however it ends.
pub(crate) struct InFlight<'a>(&'a Gauge<i64, std::sync::atomic::AtomicI64>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("mcp");
        let requests = Family::<RequestLabels, Counter<u64, AtomicU64>>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let in_flight = Gauge::default();
        registry.register("requests", "Requests handled, by method, tool and outcome", requests.clone());
        registry.register("request_duration_seconds", "Time to answer a request, by method", latency.clone());
        registry.register("requests_in_flight", "Requests being handled now", in_flight.clone());
        Self { registry, requests, latency, in_flight }
    }

    /// Counts a request as in flight until the guard drops.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Records a finished request. `tool` must be a registered name (or empty), so that a
    /// client cannot make the label set grow without bound.
    pub(crate) fn finish(&self, method: &str, tool: &str, outcome: &'static str, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_string(), tool: tool.to_string(), outcome })
            .inc();
        self.latency.get_or_create(&MethodLabels { method: method.to_string() }).observe(seconds);
    }

    /// The Prometheus text exposition.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        text
    }
}
