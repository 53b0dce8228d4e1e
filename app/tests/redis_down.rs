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
        cache: Cache::new(kv, &s.redis, metrics.clone()),
        metrics,
    }
}

/// Issue 13, item 5: with Redis down the limits still hold, per replica.
#[tokio::test]
async fn rate_limiter_falls_back_to_local_limits_and_counts_it() {
    let state = state(false);
    let limiter = &state.rate_limiter;
    let limit = blog::config::Limit::new(3, 60);
    for _ in 0..3 {
        limiter
            .check_limit(Scope::LoginPerIp, "192.0.2.1", limit)
            .await
            .unwrap();
    }
    match limiter
        .check_limit(Scope::LoginPerIp, "192.0.2.1", limit)
        .await
    {
        Err(Limited::TooMany {
            retry_after_seconds,
        }) => assert!((1..=60).contains(&retry_after_seconds)),
        other => panic!("the 4th attempt passed the limit of 3: {other:?}"),
    }
    // Other subjects and scopes have their own windows.
    limiter
        .check_limit(Scope::LoginPerIp, "192.0.2.2", limit)
        .await
        .unwrap();
    limiter
        .check_limit(Scope::LoginPerAccount, "192.0.2.1", limit)
        .await
        .unwrap();
    assert_eq!(state.metrics.rate_limit_local_fallback_total.get(), 6);
    assert_eq!(
        state
            .metrics
            .rate_limit_rejected_total
            .with_label_values(&["login_ip"])
            .get(),
        1
    );
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
    assert_eq!(state.metrics.rate_limit_local_fallback_total.get(), 0);
}

#[tokio::test]
async fn cache_and_counters_degrade_to_misses_quickly() {
    let state = state(false);
    let started = Instant::now();
    assert!(state.cache.publication_state().await.is_none());
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
