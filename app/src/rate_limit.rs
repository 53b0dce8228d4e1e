//! Fixed-window rate limits kept in Redis, shared by all replicas.
//!
//! A window starts at the first attempt for a (scope, subject) pair and lasts
//! `window_seconds`; attempt number `max + 1` inside it is refused with 429
//! and `Retry-After` set to the seconds left. Subjects (client addresses,
//! lower-cased usernames or emails) are hashed before they become keys, so
//! Redis never holds the raw identifiers.
//!
//! **When Redis is unavailable the limiter fails open** by default: the
//! request is allowed, `rate_limit_fail_open_total` is incremented and a
//! warning is logged (rate-limited). Rationale: Redis is an optional
//! dependency everywhere else, and refusing every log-in during a Redis
//! outage is a worse failure than briefly losing brute-force protection
//! (passwords are still PBKDF2 at ≥ 600 000 iterations, so guessing stays
//! slow). Operators who prefer the opposite set
//! `BLOG_RATE_LIMIT__FAIL_CLOSED=true`: limited use cases then fail with
//! [`Limited::Unavailable`] (503 on the API) while Redis is down.

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
}

/// What is being limited; the scope names the Redis key and the metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    LoginPerIp,
    LoginPerAccount,
    RegisterPerIp,
    PasswordResetPerIp,
    PasswordResetPerAccount,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::LoginPerIp => "login_ip",
            Scope::LoginPerAccount => "login_account",
            Scope::RegisterPerIp => "register_ip",
            Scope::PasswordResetPerIp => "password_reset_ip",
            Scope::PasswordResetPerAccount => "password_reset_account",
        }
    }

    fn limit(self, s: &RateLimitSettings) -> Limit {
        match self {
            Scope::LoginPerIp => s.login_per_ip,
            Scope::LoginPerAccount => s.login_per_account,
            Scope::RegisterPerIp => s.register_per_ip,
            Scope::PasswordResetPerIp => s.password_reset_per_ip,
            Scope::PasswordResetPerAccount => s.password_reset_per_account,
        }
    }
}

impl RateLimiter {
    pub fn new(kv: Kv, settings: RateLimitSettings, metrics: Metrics) -> Self {
        Self {
            kv,
            settings,
            metrics,
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
        match self.kv.pipe::<(u64, i64)>("rate limit", &pipe).await {
            Ok((count, _)) if count <= limit.max.get() => Ok(()),
            Ok((_, ttl)) => {
                self.metrics
                    .rate_limit_rejected_total
                    .with_label_values(&[scope.name()])
                    .inc();
                Err(Limited::TooMany {
                    retry_after_seconds: u64::try_from(ttl)
                        .unwrap_or(limit.window_seconds.units())
                        .max(1),
                })
            }
            Err(_) if self.settings.fail_closed => Err(Limited::Unavailable),
            Err(_) => {
                self.metrics.rate_limit_fail_open_total.inc();
                Ok(())
            }
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
}
