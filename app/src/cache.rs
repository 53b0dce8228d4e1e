//! Read-through cache for public post reads, in Redis.
//!
//! Invalidation is by generation: every cached key embeds the current value
//! of `posts:generation`, and any write that can change a public read (post
//! created/edited/deleted, author renamed or new avatar) increments it after
//! its transaction commits. Readers then look up keys that do not exist yet,
//! so a writer sees their change on their very next read; old entries simply
//! expire (`redis.cache_ttl_seconds`). An increment that failed because Redis
//! was down is made again before the writing replica's next read, and a
//! generation never repeats after Redis lost its data (it starts at the
//! current time in milliseconds): cached pages and the `ETag`s derived from
//! keys never name older content.
//!
//! Time changes public reads too: a scheduled post becomes public at its
//! `published_at` with no write at all. So keys also embed the next
//! scheduled publication, kept beside the generation
//! (`posts:next_publication`, written for one generation: `<generation>:<ms>`
//! or `<generation>:-` for none) and read with it in one round trip; once
//! that instant has passed, or after a write moved the generation, readers
//! ask Postgres for the next one and look up keys that do not exist yet. An
//! entry is kept no longer than until that publication ([`Cache::put_for`]).
//!
//! With Redis unavailable every method degrades to "miss" / no-op.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::kv::Kv;
use crate::metrics::Metrics;

const GENERATION_KEY: &str = "posts:generation";
const NEXT_PUBLICATION_KEY: &str = "posts:next_publication";

/// The next scheduled publication as far as the cache knows: `None` when it
/// is not known for the current generation, `Some(None)` when nothing is
/// scheduled.
pub type NextPublication = Option<Option<DateTime<Utc>>>;

#[derive(Clone)]
pub struct Cache {
    kv: Kv,
    ttl_seconds: u64,
    metrics: Metrics,
    /// An invalidation this replica could not make (Redis was down when it
    /// wrote): made before its next read, so that a write during an outage
    /// does not leave the old generation, and the `ETag`s derived from it,
    /// current once Redis is back.
    missed_invalidation: Arc<AtomicBool>,
}

impl Cache {
    pub fn new(kv: Kv, ttl_seconds: u64, metrics: Metrics) -> Self {
        Self {
            kv,
            ttl_seconds,
            metrics,
            missed_invalidation: Arc::default(),
        }
    }

    /// Current generation and the next publication recorded for it (one
    /// round trip), or `None` when Redis is unavailable (bypass).
    pub async fn publication_state(&self) -> Option<(u64, NextPublication)> {
        if self.missed_invalidation.load(Ordering::Relaxed) {
            // Redis may be back: the write's invalidation first.
            self.invalidate_posts().await;
        }
        let state = self
            .kv
            .cmd::<(Option<u64>, Option<String>)>(
                "cache generation",
                redis::cmd("MGET")
                    .arg(GENERATION_KEY)
                    .arg(NEXT_PUBLICATION_KEY),
            )
            .await;
        let generation = match state {
            Ok((Some(generation), next)) => {
                return Some((generation, next.and_then(|n| parse_next(&n, generation))));
            }
            // A Redis that lost its data (restarted without persistence,
            // flushed): a fresh start, never a number used before.
            Ok((None, _)) => self.start_generation().await,
            Err(_) => None,
        };
        if generation.is_none() {
            self.metrics
                .cache_requests_total
                .with_label_values(&["bypass"])
                .inc();
        }
        generation.map(|g| (g, None))
    }

    /// Starts the generation at the current time in milliseconds (unless
    /// another replica just did), so that a generation never comes back
    /// after Redis lost its data: counting again from 0 would give new
    /// content the `ETag`s of old pages. The current generation, `None`
    /// when Redis is unavailable.
    async fn start_generation(&self) -> Option<u64> {
        let mut pipe = redis::pipe();
        pipe.add_command(start_generation_cmd())
            .ignore()
            .cmd("GET")
            .arg(GENERATION_KEY);
        self.kv
            .pipe::<(Option<u64>,)>("cache generation start", &pipe)
            .await
            .ok()
            .and_then(|(g,)| g)
    }

    /// Records the next scheduled publication (`None`: nothing scheduled)
    /// as known for `generation`. Best effort: without it, readers ask
    /// Postgres again.
    pub async fn set_next_publication(&self, generation: u64, next: Option<DateTime<Utc>>) {
        let value = match next {
            Some(at) => format!("{generation}:{}", at.timestamp_millis()),
            None => format!("{generation}:-"),
        };
        let _ = self
            .kv
            .cmd::<()>(
                "cache next publication",
                // No expiry: it is believed for its generation only, and
                // must outlive the cached pages so that a 304 never needs
                // Postgres while the publication is ahead.
                redis::cmd("SET").arg(NEXT_PUBLICATION_KEY).arg(value),
            )
            .await;
    }

    /// Key for `parts` under generation `generation`. `v2`: the shape of
    /// cached posts changed with publication times; entries of the older
    /// shape must not be read as drafts by a new release (serde would take
    /// the missing field for `None`), so they are not looked up at all.
    pub fn key(generation: u64, parts: &[&str]) -> String {
        format!("posts:v2:g{generation}:{}", parts.join(":"))
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
        self.put_for(key, value, None).await;
    }

    /// Stores `value` for the configured TTL, or for `max_age` if that is
    /// shorter (an entry true only until some instant); nothing when
    /// `max_age` is under a millisecond.
    pub async fn put_for<T: Serialize>(&self, key: &str, value: &T, max_age: Option<Duration>) {
        let ttl_ms = self.ttl_seconds.saturating_mul(1000);
        let ttl_ms = max_age.map_or(ttl_ms, |max| {
            ttl_ms.min(u64::try_from(max.as_millis()).unwrap_or(u64::MAX))
        });
        if ttl_ms == 0 {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let _ = self
            .kv
            .cmd::<()>(
                "cache put",
                redis::cmd("SET").arg(key).arg(bytes).arg("PX").arg(ttl_ms),
            )
            .await;
    }

    /// Call after committing any change visible in public post reads. If
    /// Redis is down, it is made again before this replica's next read
    /// (meanwhile reads bypass the cache and carry no `ETag`).
    pub async fn invalidate_posts(&self) {
        // Started as in `start_generation` if Redis lost it, then moved.
        let mut pipe = redis::pipe();
        pipe.add_command(start_generation_cmd())
            .ignore()
            .cmd("INCR")
            .arg(GENERATION_KEY)
            .ignore();
        let made = self.kv.pipe::<()>("cache invalidate", &pipe).await.is_ok();
        self.missed_invalidation.store(!made, Ordering::Relaxed);
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

/// Sets the generation to the current time in milliseconds if it is
/// missing (see [`Cache::start_generation`]).
fn start_generation_cmd() -> redis::Cmd {
    let start = u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default();
    let mut cmd = redis::cmd("SET");
    cmd.arg(GENERATION_KEY).arg(start).arg("NX");
    cmd
}

/// `<generation>:<ms>` or `<generation>:-`, believed only for `generation`.
fn parse_next(value: &str, generation: u64) -> NextPublication {
    let (g, at) = value.split_once(':')?;
    if g.parse::<u64>().ok()? != generation {
        return None;
    }
    if at == "-" {
        return Some(None);
    }
    DateTime::from_timestamp_millis(at.parse().ok()?).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_publication_is_believed_for_its_generation_only() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(parse_next("7:1700000000123", 7), Some(Some(at)));
        assert_eq!(parse_next("7:-", 7), Some(None));
        assert_eq!(
            parse_next("6:1700000000123", 7),
            None,
            "an older generation's"
        );
        assert_eq!(parse_next("8:-", 7), None);
        assert_eq!(parse_next("garbage", 7), None);
        assert_eq!(parse_next("7:x", 7), None);
    }
}
