//! Read-through cache for public post reads, in Redis.
//!
//! Invalidation is by generation: every cached key embeds the current value
//! of `posts:generation`, and any write that can change a public read (post
//! created/edited/deleted, author renamed or new avatar) increments it after
//! its transaction commits. Readers then look up keys that do not exist yet,
//! so a writer sees their change on their very next read; old entries simply
//! expire (`redis.cache_ttl_seconds`, also the bound on staleness if the
//! increment itself failed because Redis was down at that moment).
//!
//! With Redis unavailable every method degrades to "miss" / no-op.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::kv::Kv;
use crate::metrics::Metrics;

const GENERATION_KEY: &str = "posts:generation";

#[derive(Clone)]
pub struct Cache {
    kv: Kv,
    ttl_seconds: u64,
    metrics: Metrics,
}

impl Cache {
    pub fn new(kv: Kv, ttl_seconds: u64, metrics: Metrics) -> Self {
        Self {
            kv,
            ttl_seconds,
            metrics,
        }
    }

    /// Current generation, or `None` when Redis is unavailable (bypass).
    pub async fn generation(&self) -> Option<u64> {
        match self
            .kv
            .cmd::<Option<u64>>("cache generation", redis::cmd("GET").arg(GENERATION_KEY))
            .await
        {
            Ok(generation) => Some(generation.unwrap_or(0)),
            Err(_) => {
                self.metrics
                    .cache_requests_total
                    .with_label_values(&["bypass"])
                    .inc();
                None
            }
        }
    }

    /// Key for `parts` under generation `generation`.
    pub fn key(generation: u64, parts: &[&str]) -> String {
        format!("posts:g{generation}:{}", parts.join(":"))
    }

    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let raw: Option<Vec<u8>> = match self.kv.cmd("cache get", redis::cmd("GET").arg(key)).await
        {
            Ok(raw) => raw,
            Err(_) => {
                self.metrics
                    .cache_requests_total
                    .with_label_values(&["bypass"])
                    .inc();
                return None;
            }
        };
        // An entry that no longer deserializes (older release) is a miss.
        let value = raw.and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let result = if value.is_some() { "hit" } else { "miss" };
        self.metrics
            .cache_requests_total
            .with_label_values(&[result])
            .inc();
        value
    }

    pub async fn put<T: Serialize>(&self, key: &str, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let _ = self
            .kv
            .cmd::<()>(
                "cache put",
                redis::cmd("SET")
                    .arg(key)
                    .arg(bytes)
                    .arg("EX")
                    .arg(self.ttl_seconds),
            )
            .await;
    }

    /// Call after committing any change visible in public post reads.
    /// Best effort: if Redis is down, entries expire within the TTL.
    pub async fn invalidate_posts(&self) {
        let _ = self
            .kv
            .cmd::<u64>("cache invalidate", redis::cmd("INCR").arg(GENERATION_KEY))
            .await;
    }

    /// Counts a view of post `id`; `None` when Redis is unavailable.
    pub async fn record_view(&self, id: i64) -> Option<u64> {
        self.kv
            .cmd("views incr", redis::cmd("INCR").arg(views_key(id)))
            .await
            .ok()
    }

    /// View counts of several posts in one round trip (0 for never viewed);
    /// `None` when Redis is unavailable.
    pub async fn views(&self, ids: &[i64]) -> Option<Vec<u64>> {
        if ids.is_empty() {
            return Some(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for id in ids {
            cmd.arg(views_key(*id));
        }
        let counts: Vec<Option<u64>> = self.kv.cmd("views mget", &cmd).await.ok()?;
        Some(counts.into_iter().map(Option::unwrap_or_default).collect())
    }

    pub async fn forget_views(&self, id: i64) {
        let _ = self
            .kv
            .cmd::<()>("views del", redis::cmd("DEL").arg(views_key(id)))
            .await;
    }
}

fn views_key(id: i64) -> String {
    format!("post:{id}:views")
}
