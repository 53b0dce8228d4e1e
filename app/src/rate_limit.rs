//! Fixed-window rate limits kept in Redis, shared by all replicas.
//!
//! A window starts at the first attempt for a (scope, subject) pair and lasts
//! `window_seconds`; attempt number `max + 1` inside it is refused with 429
//! and `Retry-After` set to the seconds left. Subjects (client addresses,
//! lower-cased usernames or emails) are hashed before they become keys, so
//! Redis never holds the raw identifiers.
//!
//! **When Redis is unavailable each replica limits on its own** by default:
//! the same fixed windows are counted in this process's memory
//! ([`LocalWindows`]) and `rate_limit_local_fallback_total` is incremented.
//! Rationale: Redis is an optional dependency everywhere else, and refusing
//! every log-in during a Redis outage is a worse failure than limits that
//! are per replica for a while (with N replicas an attacker gets at most N
//! times the budget, instead of no limit at all). Operators who prefer to
//! refuse set `BLOG_RATE_LIMIT__FAIL_CLOSED=true`: limited use cases then
//! fail with [`Limited::Unavailable`] (503 on the API) while Redis is down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use crate::config::{Limit, RateLimitSettings};
use crate::error::Limited;
use crate::kv::Kv;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct RateLimiter {
    kv: Kv,
    settings: RateLimitSettings,
    metrics: Metrics,
    /// Stands in for Redis while it is unreachable.
    local: Arc<LocalWindows>,
}

/// What is being limited; the scope names the Redis key and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    LoginPerIp,
    LoginPerAccount,
    RegisterPerIp,
    PasswordResetPerIp,
    PasswordResetPerAccount,
    CommentPerAccount,
    CommentPerIp,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::LoginPerIp => "login_ip",
            Scope::LoginPerAccount => "login_account",
            Scope::RegisterPerIp => "register_ip",
            Scope::PasswordResetPerIp => "password_reset_ip",
            Scope::PasswordResetPerAccount => "password_reset_account",
            Scope::CommentPerAccount => "comment_account",
            Scope::CommentPerIp => "comment_ip",
        }
    }

    fn limit(self, s: &RateLimitSettings) -> Limit {
        match self {
            Scope::LoginPerIp => s.login_per_ip,
            Scope::LoginPerAccount => s.login_per_account,
            Scope::RegisterPerIp => s.register_per_ip,
            Scope::PasswordResetPerIp => s.password_reset_per_ip,
            Scope::PasswordResetPerAccount => s.password_reset_per_account,
            Scope::CommentPerAccount => s.comment_per_account,
            Scope::CommentPerIp => s.comment_per_ip,
        }
    }
}

impl RateLimiter {
    pub fn new(kv: Kv, settings: RateLimitSettings, metrics: Metrics) -> Self {
        Self {
            kv,
            settings,
            metrics,
            local: Arc::default(),
        }
    }

    /// Counts one attempt by `subject` (an IP address, or a lower-cased
    /// username/email) in `scope` against the configured limit.
    pub async fn check(&self, scope: Scope, subject: &str) -> Result<(), Limited> {
        self.check_limit(scope, subject, scope.limit(&self.settings))
            .await
    }

    /// Same as [`RateLimiter::check`] with an explicit limit.
    pub async fn check_limit(
        &self,
        scope: Scope,
        subject: &str,
        limit: Limit,
    ) -> Result<(), Limited> {
        if !self.settings.enabled {
            return Ok(());
        }
        let key = key(scope, subject);
        // SET NX starts the window on the first attempt only; INCR counts;
        // TTL tells a refused client when to come back. One round trip.
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("EX")
            .arg(limit.window_seconds.units())
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&key)
            .cmd("TTL")
            .arg(&key);
        let refused = |retry_after_seconds: u64| {
            self.metrics
                .rate_limit_rejected_total
                .with_label_values(&[scope.name()])
                .inc();
            Err(Limited::TooMany {
                retry_after_seconds: retry_after_seconds.max(1),
            })
        };
        match self.kv.pipe::<(u64, i64)>("rate limit", &pipe).await {
            Ok((count, _)) if count <= limit.max.get() => Ok(()),
            Ok((_, ttl)) => refused(u64::try_from(ttl).unwrap_or(limit.window_seconds.units())),
            Err(_) if self.settings.fail_closed => Err(Limited::Unavailable),
            Err(_) => {
                self.metrics.rate_limit_local_fallback_total.inc();
                match self.local.hit(key, limit, Instant::now()) {
                    Ok(()) => Ok(()),
                    Err(retry_after) => refused(retry_after),
                }
            }
        }
    }
}

/// Fixed windows counted in this process: the limiter's stand-in while
/// Redis is unreachable. Windows started during an outage are forgotten
/// when Redis is back (Redis counts from zero then).
#[derive(Default)]
struct LocalWindows(Mutex<HashMap<String, LocalWindow>>);

struct LocalWindow {
    ends: Instant,
    count: u64,
}

/// Bounds the memory of [`LocalWindows`] (~100 bytes a subject).
const LOCAL_MAX_SUBJECTS: usize = 100_000;

impl LocalWindows {
    /// Counts one attempt; `Err(seconds until the window ends)` past the limit.
    fn hit(&self, key: String, limit: Limit, now: Instant) -> Result<(), u64> {
        let mut windows = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= LOCAL_MAX_SUBJECTS && !windows.contains_key(&key) {
            windows.retain(|_, w| w.ends > now);
            if windows.len() >= LOCAL_MAX_SUBJECTS {
                // Only a flood of distinct subjects fills it: bounded memory
                // matters more than the windows it forgets.
                tracing::warn!("in-memory rate-limit table full: cleared");
                windows.clear();
            }
        }
        let fresh = || LocalWindow {
            ends: now + Duration::from_secs(limit.window_seconds.units()),
            count: 0,
        };
        let window = windows.entry(key).or_insert_with(fresh);
        if window.ends <= now {
            *window = fresh();
        }
        window.count += 1;
        if window.count <= limit.max.get() {
            Ok(())
        } else {
            Err(window
                .ends
                .saturating_duration_since(now)
                .as_secs_f64()
                .ceil() as u64)
        }
    }
}

fn key(scope: Scope, subject: &str) -> String {
    let digest = Sha256::digest(subject.as_bytes());
    format!("rl:{}:{}", scope.name(), hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hide_the_subject_and_separate_scopes() {
        let a = key(Scope::LoginPerAccount, "alice@example.com");
        assert!(a.starts_with("rl:login_account:"));
        assert!(!a.contains("alice"));
        assert_eq!(a, key(Scope::LoginPerAccount, "alice@example.com"));
        assert_ne!(a, key(Scope::PasswordResetPerAccount, "alice@example.com"));
        assert_ne!(a, key(Scope::LoginPerAccount, "bob@example.com"));
    }

    #[test]
    fn local_windows_count_per_subject_and_restart_after_the_window() {
        let local = LocalWindows::default();
        let limit = Limit::new(2, 60);
        let t0 = Instant::now();
        assert_eq!(local.hit("a".into(), limit, t0), Ok(()));
        assert_eq!(local.hit("a".into(), limit, t0), Ok(()));
        assert_eq!(local.hit("b".into(), limit, t0), Ok(()), "per subject");
        let later = t0 + Duration::from_millis(20_500);
        assert_eq!(local.hit("a".into(), limit, later), Err(40));
        let next_window = t0 + Duration::from_secs(60);
        assert_eq!(local.hit("a".into(), limit, next_window), Ok(()));
    }

    #[test]
    fn local_windows_stay_bounded() {
        let local = LocalWindows::default();
        let limit = Limit::new(1, 60);
        let now = Instant::now();
        for i in 0..=LOCAL_MAX_SUBJECTS {
            assert_eq!(local.hit(i.to_string(), limit, now), Ok(()));
        }
        assert!(local.0.lock().unwrap().len() <= LOCAL_MAX_SUBJECTS);
    }
}
