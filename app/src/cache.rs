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
//! ## This replica's memory in front of Redis
//!
//! A cache hit used to cost three Redis round trips (the generation, the
//! entry, the view counters) and a JSON deserialisation. Now, with
//! `redis.local_staleness_ms` above 0 (default 1000):
//!
//! - The generation and next publication read from Redis are believed for
//!   `local_staleness_ms` before they are asked again. This replica's own
//!   writes move its copy at once (the new generation comes back from the
//!   `INCR`), so a writer on this replica sees the change in the next read;
//!   another replica's writes show here within `local_staleness_ms`. A copy
//!   that old and a Redis that does not answer mean "no version": reads go
//!   to Postgres, so an outage never stretches the bound.
//! - Entries are also kept in this process as the values themselves (no
//!   deserialisation on a hit), at most `redis.local_cache_mib` of their
//!   JSON size, evicted by quick_cache (S3-FIFO) and never older than
//!   the Redis entry would be (`cache_ttl_seconds`, or the next publication).
//!   Keys embed the generation, so a stale entry is never looked up.
//! - View counts are counted here and added to Redis in batches (`INCRBY`,
//!   every [`VIEW_FLUSH_PERIOD`] and at shutdown): no increment is lost,
//!   and one that Redis refused is kept (up to [`MAX_PENDING_VIEWS`] posts)
//!   and added when it is back. A count shown is Redis's at most
//!   `local_staleness_ms` old plus this replica's own views since.
//! - A signed-in user's request (the edge says so with
//!   [`reading_own_writes`]) asks Redis for the generation every time: they
//!   may have written on another replica a moment ago, and see it at once
//!   whichever replica answers. The bound is for anonymous readers.
//!
//! With Redis unavailable every method degrades to "miss" / no-op.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::RedisSettings;
use crate::kv::Kv;
use crate::metrics::Metrics;

const GENERATION_KEY: &str = "posts:generation";
const NEXT_PUBLICATION_KEY: &str = "posts:next_publication";

/// How often counted views are added to Redis.
pub const VIEW_FLUSH_PERIOD: Duration = Duration::from_millis(200);
/// Posts whose views wait for Redis, at most: past it, views of further
/// posts are not counted while Redis is away (`views_dropped_total`).
pub const MAX_PENDING_VIEWS: usize = 100_000;
/// Redis counts remembered, at most (the older ones are read again).
const MAX_KNOWN_VIEWS: usize = 100_000;

tokio::task_local! {
    /// Whether the reads of the current request must see every write
    /// already made anywhere (see [`reading_own_writes`]).
    static READ_OWN_WRITES: bool;
}

/// Runs `f` (one request) with reads that see every write already made,
/// on any replica, when `on`: the generation comes from Redis, never from
/// this replica's copy.
pub async fn reading_own_writes<F: Future>(on: bool, f: F) -> F::Output {
    READ_OWN_WRITES.scope(on, f).await
}

fn must_read_own_writes() -> bool {
    READ_OWN_WRITES.try_with(|on| *on).unwrap_or(false)
}

/// The next scheduled publication as far as the cache knows: `None` when it
/// is not known for the current generation, `Some(None)` when nothing is
/// scheduled.
pub type NextPublication = Option<Option<DateTime<Utc>>>;

#[derive(Clone)]
pub struct Cache {
    kv: Kv,
    ttl: Duration,
    metrics: Metrics,
    /// An invalidation this replica could not make (Redis was down when it
    /// wrote): made before its next read, so that a write during an outage
    /// does not leave the old generation, and the `ETag`s derived from it,
    /// current once Redis is back.
    missed_invalidation: Arc<AtomicBool>,
    local: Arc<Local>,
}

/// What this replica keeps in memory (see the module docs).
struct Local {
    /// 0: nothing is kept; every read asks Redis, every view is an `INCR`.
    staleness: Duration,
    state: Mutex<Option<Known>>,
    entries: Option<quick_cache::sync::Cache<String, Entry, ByJsonSize>>,
    views: Mutex<Views>,
}

/// The generation (and next publication) as last read from Redis.
#[derive(Clone, Copy)]
struct Known {
    generation: u64,
    next: NextPublication,
    read_at: Instant,
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    json_bytes: u64,
    expires: Instant,
}

#[derive(Clone)]
struct ByJsonSize;

impl quick_cache::Weighter<String, Entry> for ByJsonSize {
    fn weight(&self, key: &String, entry: &Entry) -> u64 {
        key.len() as u64 + entry.json_bytes
    }
}

#[derive(Default)]
struct Views {
    /// Counted here, not yet sent to Redis.
    pending: HashMap<i64, u64>,
    /// Being added by the flush in progress.
    flushing: HashMap<i64, u64>,
    /// Redis's count as last read or written, and when.
    known: HashMap<i64, (u64, Instant)>,
}

impl Views {
    fn shown(&self, id: i64, redis: u64) -> u64 {
        let here = |m: &HashMap<i64, u64>| m.get(&id).copied().unwrap_or_default();
        redis + here(&self.flushing) + here(&self.pending)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data stays consistent whatever panicked while holding it (plain
    // maps and copies), so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Cache {
    pub fn new(kv: Kv, settings: &RedisSettings, metrics: Metrics) -> Self {
        let staleness = settings.local_staleness_ms.get();
        let capacity = settings.local_cache_mib.get() * 1024 * 1024;
        let entries = (!staleness.is_zero() && capacity > 0)
            .then(|| quick_cache::sync::Cache::with_weighter(1024, capacity, ByJsonSize));
        Self {
            kv,
            ttl: settings.cache_ttl_seconds.get(),
            metrics,
            missed_invalidation: Arc::default(),
            local: Arc::new(Local {
                staleness,
                state: Mutex::new(None),
                entries,
                views: Mutex::default(),
            }),
        }
    }

    /// Current generation and the next publication recorded for it, or
    /// `None` when Redis is unavailable (bypass). From this replica's copy
    /// while it is younger than `local_staleness_ms`, else one round trip.
    pub async fn publication_state(&self) -> Option<(u64, NextPublication)> {
        if self.missed_invalidation.load(Ordering::Relaxed) {
            // Redis may be back: the write's invalidation first.
            self.invalidate_posts().await;
        }
        if let Some(known) = *lock(&self.local.state)
            && known.read_at.elapsed() < self.local.staleness
            && !must_read_own_writes()
        {
            return Some((known.generation, known.next));
        }
        let asked = Instant::now();
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
                let next = next.and_then(|n| parse_next(&n, generation));
                self.remember(generation, next, asked);
                return Some((generation, next));
            }
            // A Redis that lost its data (restarted without persistence,
            // flushed): a fresh start, never a number used before.
            Ok((None, _)) => self.start_generation().await,
            Err(_) => None,
        };
        match generation {
            Some(g) => self.remember(g, None, asked),
            None => {
                // Never believed past the bound while Redis is away.
                *lock(&self.local.state) = None;
                self.metrics
                    .cache_requests_total
                    .with_label_values(&["bypass"])
                    .inc();
            }
        }
        generation.map(|g| (g, None))
    }

    /// Keeps `generation` as read at `asked`, unless a newer reading (or
    /// this replica's own invalidation) got there first.
    fn remember(&self, generation: u64, next: NextPublication, asked: Instant) {
        if self.local.staleness.is_zero() {
            return;
        }
        let mut state = lock(&self.local.state);
        if state.is_some_and(|k| k.read_at > asked) {
            return;
        }
        *state = Some(Known {
            generation,
            next,
            read_at: asked,
        });
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
        {
            let mut state = lock(&self.local.state);
            if let Some(known) = state.as_mut()
                && known.generation == generation
            {
                known.next = Some(next);
            }
        }
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

    pub async fn get<T>(&self, key: &str) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        if let Some(value) = self.get_local::<T>(key) {
            self.metrics
                .cache_requests_total
                .with_label_values(&["hit"])
                .inc();
            self.metrics.cache_local_hits_total.inc();
            return Some(value);
        }
        let raw: Option<(Vec<u8>, i64)> = match self
            .kv
            .pipe(
                "cache get",
                redis::pipe().cmd("GET").arg(key).cmd("PTTL").arg(key),
            )
            .await
        {
            Ok((Some(bytes), ttl_ms)) => Some((bytes, ttl_ms)),
            Ok((None, _)) => None,
            Err(_) => {
                self.metrics
                    .cache_requests_total
                    .with_label_values(&["bypass"])
                    .inc();
                return None;
            }
        };
        // An entry that no longer deserializes (older release) is a miss.
        let value = raw.and_then(|(bytes, ttl_ms)| {
            let value: T = serde_json::from_slice(&bytes).ok()?;
            // Kept here no longer than Redis keeps it.
            let left = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or_default());
            self.put_local(key, &value, bytes.len(), left);
            Some(value)
        });
        let result = if value.is_some() { "hit" } else { "miss" };
        self.metrics
            .cache_requests_total
            .with_label_values(&[result])
            .inc();
        value
    }

    fn get_local<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        let entries = self.local.entries.as_ref()?;
        let entry = entries.get(key)?;
        if entry.expires <= Instant::now() {
            entries.remove(key);
            return None;
        }
        entry.value.downcast_ref::<T>().cloned()
    }

    fn put_local<T: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
        value: &T,
        json_bytes: usize,
        max_age: Duration,
    ) {
        let Some(entries) = self.local.entries.as_ref() else {
            return;
        };
        if max_age.is_zero() {
            return;
        }
        entries.insert(
            key.to_owned(),
            Entry {
                value: Arc::new(value.clone()),
                json_bytes: json_bytes as u64,
                expires: Instant::now() + max_age,
            },
        );
    }

    pub async fn put<T>(&self, key: &str, value: &T)
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        self.put_for(key, value, None).await;
    }

    /// Stores `value` for the configured TTL, or for `max_age` if that is
    /// shorter (an entry true only until some instant); nothing when
    /// `max_age` is under a millisecond.
    pub async fn put_for<T>(&self, key: &str, value: &T, max_age: Option<Duration>)
    where
        T: Serialize + Clone + Send + Sync + 'static,
    {
        let ttl = max_age.map_or(self.ttl, |max| self.ttl.min(max));
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        self.put_local(key, value, bytes.len(), Duration::from_millis(ttl_ms));
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
        let asked = Instant::now();
        // Started as in `start_generation` if Redis lost it, then moved.
        let mut pipe = redis::pipe();
        pipe.add_command(start_generation_cmd())
            .ignore()
            .cmd("INCR")
            .arg(GENERATION_KEY);
        let made = self.kv.pipe::<(u64,)>("cache invalidate", &pipe).await;
        match made {
            // This replica's next read is at the new generation.
            Ok((generation,)) => self.remember(generation, None, asked),
            Err(_) => *lock(&self.local.state) = None,
        }
        self.missed_invalidation
            .store(made.is_err(), Ordering::Relaxed);
    }

    /// Counts a view of post `id`; the count with it, `None` when Redis is
    /// unavailable.
    pub async fn record_view(&self, id: i64) -> Option<u64> {
        if self.local.staleness.is_zero() {
            return self
                .kv
                .cmd("views incr", redis::cmd("INCR").arg(views_key(id)))
                .await
                .ok();
        }
        {
            let mut views = lock(&self.local.views);
            if views.pending.len() >= MAX_PENDING_VIEWS && !views.pending.contains_key(&id) {
                self.metrics.views_dropped_total.inc();
            } else {
                *views.pending.entry(id).or_default() += 1;
            }
        }
        self.views(&[id]).await?.first().copied()
    }

    /// View counts of several posts (0 for never viewed): at most one round
    /// trip, none when this replica read them lately; `None` when Redis is
    /// unavailable.
    pub async fn views(&self, ids: &[i64]) -> Option<Vec<u64>> {
        if ids.is_empty() {
            return Some(Vec::new());
        }
        let staleness = self.local.staleness;
        let stale: Vec<i64> = if staleness.is_zero() {
            ids.to_vec()
        } else {
            let views = lock(&self.local.views);
            ids.iter()
                .copied()
                .filter(|id| {
                    views
                        .known
                        .get(id)
                        .is_none_or(|(_, at)| at.elapsed() >= staleness)
                })
                .collect()
        };
        let mut read = HashMap::new();
        if !stale.is_empty() {
            let asked = Instant::now();
            let mut cmd = redis::cmd("MGET");
            for id in &stale {
                cmd.arg(views_key(*id));
            }
            let counts: Vec<Option<u64>> = self.kv.cmd("views mget", &cmd).await.ok()?;
            if staleness.is_zero() {
                return Some(counts.into_iter().map(Option::unwrap_or_default).collect());
            }
            read.extend(
                stale
                    .into_iter()
                    .zip(counts.into_iter().map(Option::unwrap_or_default)),
            );
            let mut views = lock(&self.local.views);
            if views.known.len() + read.len() > MAX_KNOWN_VIEWS {
                views.known.retain(|_, (_, at)| at.elapsed() < staleness);
                if views.known.len() + read.len() > MAX_KNOWN_VIEWS {
                    views.known.clear();
                }
            }
            for (&id, &count) in &read {
                // A flush that ended meanwhile knows better.
                if views.known.get(&id).is_none_or(|(_, at)| *at < asked) {
                    views.known.insert(id, (count, asked));
                }
            }
        }
        let views = lock(&self.local.views);
        Some(
            ids.iter()
                .map(|id| {
                    let redis = views
                        .known
                        .get(id)
                        .map(|(n, _)| *n)
                        .or_else(|| read.get(id).copied())
                        .unwrap_or_default();
                    views.shown(*id, redis)
                })
                .collect(),
        )
    }

    /// Adds the views counted here to Redis (one pipeline). Views Redis
    /// refused stay counted here for the next flush.
    pub async fn flush_views(&self) {
        let batch: Vec<(i64, u64)> = {
            let mut views = lock(&self.local.views);
            if !views.flushing.is_empty() || views.pending.is_empty() {
                return;
            }
            let pending = std::mem::take(&mut views.pending);
            views.flushing = pending.clone();
            pending.into_iter().collect()
        };
        let mut pipe = redis::pipe();
        for (id, n) in &batch {
            pipe.cmd("INCRBY").arg(views_key(*id)).arg(*n);
        }
        let totals: Result<Vec<u64>, _> = self.kv.pipe("views flush", &pipe).await;
        let now = Instant::now();
        let mut views = lock(&self.local.views);
        let flushed = std::mem::take(&mut views.flushing);
        match totals {
            Ok(totals) => {
                for ((id, _), total) in batch.iter().zip(totals) {
                    views.known.insert(*id, (total, now));
                }
            }
            Err(_) => {
                for (id, n) in flushed {
                    *views.pending.entry(id).or_default() += n;
                }
            }
        }
    }

    /// Flushes counted views every [`VIEW_FLUSH_PERIOD`] until `stop`
    /// completes, then once more.
    pub async fn flush_views_until(&self, stop: impl Future<Output = ()>) {
        let mut tick = tokio::time::interval(VIEW_FLUSH_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                _ = tick.tick() => self.flush_views().await,
            }
        }
        self.flush_views().await;
    }

    pub async fn forget_views(&self, id: i64) {
        {
            let mut views = lock(&self.local.views);
            views.pending.remove(&id);
            views.known.remove(&id);
        }
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
