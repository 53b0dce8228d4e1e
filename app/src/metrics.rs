//! Prometheus metrics, kept in a registry owned by the application (not the
//! global default one) so that several apps in one test process don't clash.

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests_total: IntCounterVec,
    pub http_request_duration_seconds: HistogramVec,
    pub db_pool_size: IntGauge,
    pub db_pool_available: IntGauge,
    pub db_pool_waiting: IntGauge,
    pub db_pool_max_size: IntGauge,
    pub redis_errors_total: IntCounter,
    /// Checks decided by the per-replica fallback while Redis is down.
    pub rate_limit_local_fallback_total: IntCounter,
    pub rate_limit_rejected_total: IntCounterVec,
    pub cache_requests_total: IntCounterVec,
    /// Cache hits answered from the replica's own memory (also counted as
    /// `hit` in `cache_requests_total`).
    pub cache_local_hits_total: IntCounter,
    /// Views not counted because too many posts' views were already
    /// waiting for Redis (see `cache::MAX_PENDING_VIEWS`).
    pub views_dropped_total: IntCounter,
    /// API answers whose status the OpenAPI document does not list for the
    /// operation: always 0 unless the contract is broken.
    pub http_undocumented_responses_total: IntCounter,
    /// Content-Security-Policy violations browsers reported for the site's
    /// pages (`/csp-report`): 0 unless something tried to run or load what
    /// the policy forbids, e.g. injected markup.
    pub csp_violations_total: IntCounter,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests_total = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route template and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let http_request_duration_seconds = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route template",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let db_pool_size = gauge(
            "db_pool_connections",
            "Open Postgres connections in the pool",
        );
        let db_pool_available = gauge("db_pool_available", "Idle Postgres connections in the pool");
        let db_pool_waiting = gauge(
            "db_pool_waiting",
            "Requests waiting for a Postgres connection",
        );
        let db_pool_max_size = gauge("db_pool_max_size", "Configured maximum pool size");
        let redis_errors_total =
            IntCounter::new("redis_errors_total", "Redis calls that failed or timed out")
                .expect("valid metric");
        let rate_limit_local_fallback_total = IntCounter::new(
            "rate_limit_local_fallback_total",
            "Rate-limit checks decided by this replica's in-memory limiter because Redis was unavailable",
        )
        .expect("valid metric");
        let rate_limit_rejected_total = IntCounterVec::new(
            Opts::new(
                "rate_limit_rejected_total",
                "Requests refused by a rate limit",
            ),
            &["scope"],
        )
        .expect("valid metric");
        let cache_requests_total = IntCounterVec::new(
            Opts::new(
                "cache_requests_total",
                "Read-cache lookups by result (hit, miss, bypass)",
            ),
            &["result"],
        )
        .expect("valid metric");
        let http_undocumented_responses_total = IntCounter::new(
            "http_undocumented_responses_total",
            "API responses whose status the OpenAPI document does not list for the operation",
        )
        .expect("valid metric");

        let cache_local_hits_total = IntCounter::new(
            "cache_local_hits_total",
            "Read-cache hits answered from this replica's memory, without Redis",
        )
        .expect("valid metric");
        let views_dropped_total = IntCounter::new(
            "views_dropped_total",
            "Post views not counted: too many posts' views already waited for Redis",
        )
        .expect("valid metric");
        let csp_violations_total = IntCounter::new(
            "csp_violations_total",
            "Content-Security-Policy violations reported by browsers for the website's pages",
        )
        .expect("valid metric");

        for c in [
            Box::new(http_requests_total.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_request_duration_seconds.clone()),
            Box::new(db_pool_size.clone()),
            Box::new(db_pool_available.clone()),
            Box::new(db_pool_waiting.clone()),
            Box::new(db_pool_max_size.clone()),
            Box::new(redis_errors_total.clone()),
            Box::new(rate_limit_local_fallback_total.clone()),
            Box::new(rate_limit_rejected_total.clone()),
            Box::new(cache_requests_total.clone()),
            Box::new(cache_local_hits_total.clone()),
            Box::new(views_dropped_total.clone()),
            Box::new(http_undocumented_responses_total.clone()),
            Box::new(csp_violations_total.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }

        Self {
            registry,
            http_requests_total,
            http_request_duration_seconds,
            db_pool_size,
            db_pool_available,
            db_pool_waiting,
            db_pool_max_size,
            redis_errors_total,
            rate_limit_local_fallback_total,
            rate_limit_rejected_total,
            cache_requests_total,
            cache_local_hits_total,
            views_dropped_total,
            http_undocumented_responses_total,
            csp_violations_total,
        }
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("encoding to a Vec cannot fail");
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
