//! With Redis unreachable (nothing listens on the port), the optional
//! features degrade as documented instead of failing requests, and every
//! call returns quickly.

use std::time::{Duration, Instant};

use blog::cache::Cache;
use blog::config::Settings;
use blog::config::units::Millis;
use blog::error::Limited;
use blog::kv::Kv;
use blog::metrics::Metrics;
use blog::rate_limit::{RateLimiter, Scope};

/// The Redis helpers as the app wires them, against a closed port.
struct State {
    rate_limiter: RateLimiter,
    cache: Cache,
    metrics: Metrics,
}

fn state(fail_closed: bool) -> State {
    let mut s = Settings::default();
    s.redis.url = "redis://127.0.0.1:1".into();
    s.redis.timeout_ms = Millis::of(200);
    s.rate_limit.fail_closed = fail_closed;
    let metrics = Metrics::new();
    let kv = Kv::new(&s.redis, metrics.clone()).unwrap();
    State {
        rate_limiter: RateLimiter::new(kv.clone(), s.rate_limit.clone(), metrics.clone()),
        cache: Cache::new(kv, 60, metrics.clone()),
        metrics,
    }
}

#[tokio::test]
async fn rate_limiter_fails_open_by_default_and_counts_it() {
    let state = state(false);
    for _ in 0..3 {
        state
            .rate_limiter
            .check(Scope::LoginPerIp, "192.0.2.1")
            .await
            .unwrap();
    }
    assert_eq!(state.metrics.rate_limit_fail_open_total.get(), 3);
    assert!(state.metrics.redis_errors_total.get() >= 1);
}

#[tokio::test]
async fn rate_limiter_can_fail_closed() {
    let state = state(true);
    let err = state
        .rate_limiter
        .check(Scope::LoginPerAccount, "alice")
        .await
        .unwrap_err();
    assert_eq!(err, Limited::Unavailable);
    assert_eq!(state.metrics.rate_limit_fail_open_total.get(), 0);
}

#[tokio::test]
async fn cache_and_counters_degrade_to_misses_quickly() {
    let state = state(false);
    let started = Instant::now();
    assert_eq!(state.cache.generation().await, None);
    assert_eq!(state.cache.get::<String>("posts:g0:x").await, None);
    state.cache.put("posts:g0:x", &"v").await;
    state.cache.invalidate_posts().await;
    assert_eq!(state.cache.record_view(1).await, None);
    assert_eq!(state.cache.views(&[1, 2]).await, None);
    // One timeout at most, then the circuit breaker answers at once.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}
