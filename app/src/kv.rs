//! Redis access that can never hold a request hostage.
//!
//! Redis only serves optional features here (read cache, view counter, rate
//! limits), so every call is bounded by `redis.timeout_ms`, and after a
//! failure a short circuit breaker skips Redis entirely for a second: with
//! Redis down a request pays at most one timeout per second per replica
//! instead of one per call. Failures are counted in `redis_errors_total` and
//! logged at warn at most once every 10 s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, RedisError};

use crate::config::{ExposeSecret as _, RedisSettings};
use crate::metrics::Metrics;

const BREAKER_OPEN_MS: u64 = 1000;
const WARN_EVERY_MS: u64 = 10_000;

/// Redis could not be used for this call (down, slow, or broken circuit).
#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct Unavailable(pub String);

#[derive(Clone)]
pub struct Kv {
    manager: ConnectionManager,
    timeout: Duration,
    metrics: Metrics,
    state: Arc<BreakerState>,
}

#[derive(Default)]
struct BreakerState {
    open_until_ms: AtomicU64,
    last_warn_ms: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

impl Kv {
    /// Does not connect: the manager dials on first use and reconnects by
    /// itself, so Redis being down at start-up is fine.
    pub fn new(settings: &RedisSettings, metrics: Metrics) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.url.expose_secret())
            .map_err(|_| anyhow::anyhow!("BLOG_REDIS__URL: not a valid Redis URL"))?;
        let timeout = settings.timeout_ms.get();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            manager,
            timeout,
            metrics,
            state: Arc::default(),
        })
    }

    /// Runs one command or pipeline (anything `query_async`-able through
    /// `f`), bounded by the timeout and the circuit breaker.
    pub async fn run<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if now_ms() < self.state.open_until_ms.load(Ordering::Relaxed) {
            return Err(Unavailable("circuit open after a recent failure".into()));
        }
        let result = match tokio::time::timeout(self.timeout, f(self.manager.clone())).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => Unavailable(e.to_string()),
            Err(_) => Unavailable(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        self.record_failure(what, &result);
        Err(result)
    }

    /// `cmd` with arguments, e.g. `kv.cmd("incr", redis::cmd("INCR").arg(key))`.
    pub async fn cmd<T: FromRedisValue>(
        &self,
        what: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, Unavailable> {
        self.run(
            what,
            |mut conn| async move { cmd.query_async(&mut conn).await },
        )
        .await
    }

    pub async fn pipe<T: FromRedisValue>(
        &self,
        what: &'static str,
        pipe: &redis::Pipeline,
    ) -> Result<T, Unavailable> {
        self.run(
            what,
            |mut conn| async move { pipe.query_async(&mut conn).await },
        )
        .await
    }

    /// A PING that ignores the breaker, for readiness checks.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        let mut conn = self.manager.clone();
        match tokio::time::timeout(
            self.timeout,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await
        {
            Ok(Ok(_)) => {
                self.state.open_until_ms.store(0, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => Err(Unavailable(e.to_string())),
            Err(_) => Err(Unavailable("PING timed out".into())),
        }
    }

    fn record_failure(&self, what: &'static str, err: &Unavailable) {
        let now = now_ms();
        self.state
            .open_until_ms
            .store(now + BREAKER_OPEN_MS, Ordering::Relaxed);
        self.metrics.redis_errors_total.inc();
        let last = self.state.last_warn_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .state
                .last_warn_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(operation = what, error = %err, "Redis unavailable; degrading (further warnings suppressed for 10 s)");
        }
    }
}
