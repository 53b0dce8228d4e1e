//! Typed, validated configuration.
//!
//! Layers, later ones winning: built-in defaults (the `Default` impls below) →
//! an optional TOML file named by `BLOG_CONFIG_FILE` → environment variables
//! `BLOG_<SECTION>__<KEY>` (nested keys also use `__`, e.g.
//! `BLOG_RATE_LIMIT__LOGIN_PER_IP__MAX`). Any setting may instead be read
//! from a file with `BLOG_<SECTION>__<KEY>_FILE=/path`, which is how
//! Kubernetes Secrets are mounted; a trailing newline is stripped.
//!
//! Secrets are wrapped in [`Secret`], whose `Debug` never prints the value,
//! so `tracing::info!(?settings)` is safe.
//!
//! Tests build [`Settings`] directly (`Settings::default()` plus field
//! overrides) and call [`Settings::validate`].

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

mod load;

pub use load::ConfigError;

/// A value that must never appear in logs or debug output.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The only way to read the value: grep for `expose` to audit its uses.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Local,
    Production,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub environment: Environment,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub s3: S3Settings,
    pub smtp: SmtpSettings,
    pub auth: AuthSettings,
    pub avatars: AvatarSettings,
    pub rate_limit: RateLimitSettings,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// Base URL clients use to reach us (reset links, avatar URLs).
    pub public_url: String,
    pub shutdown_grace_seconds: u64,
    /// After SIGTERM, keep accepting requests this long (readiness already
    /// 503) so load balancers notice before the listener closes.
    pub shutdown_drain_seconds: u64,
    /// Upper bound for request bodies (JSON); avatars have their own limit.
    pub max_body_bytes: usize,
    /// How many reverse-proxy hops in front of us append to `X-Forwarded-For`.
    pub trusted_proxies: usize,
    /// Whether `/readyz` fails while Redis is down. The app works without
    /// Redis (cache bypassed), so `false` keeps pods in the Service during a
    /// Redis outage; `true` is the stricter "all dependencies up" reading.
    pub readiness_requires_redis: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            public_url: "http://localhost:8080".into(),
            shutdown_grace_seconds: 20,
            shutdown_drain_seconds: 0,
            max_body_bytes: 1024 * 1024,
            trusted_proxies: 0,
            readiness_requires_redis: true,
        }
    }
}

impl HttpSettings {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// Plain TCP as well: opportunistic TLS without verification would give
    /// a false sense of security, and verifying would break servers with
    /// self-signed certificates that `prefer` is expected to accept.
    #[default]
    Prefer,
    /// TLS, with the server certificate verified against
    /// `database.ssl_root_cert` (a PEM bundle) or the system's roots, and its
    /// name against `database.host` (libpq's `verify-full`).
    Require,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct DatabaseSettings {
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    pub password: Option<Secret>,
    pub ssl_mode: SslMode,
    /// PEM file of the CA(s) that signed the server certificate, for
    /// `ssl_mode = require`; the system's roots when unset.
    pub ssl_root_cert: Option<String>,
    pub pool_max_size: usize,
    pub connect_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// How long a request waits for a free pooled connection before 503.
    pub pool_wait_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 5432,
            name: "blog".into(),
            user: "blog".into(),
            password: None,
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            pool_max_size: 16,
            connect_timeout_ms: 3000,
            statement_timeout_ms: 5000,
            pool_wait_timeout_ms: 2000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    /// May carry a password (`redis://:pw@host`), hence a secret.
    pub url: Secret,
    /// Upper bound on every Redis call; past it Redis counts as down.
    pub timeout_ms: u64,
    /// Safety-net TTL of cached reads (invalidation is by generation).
    pub cache_ttl_seconds: u64,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("redis://localhost:6379"),
            timeout_ms: 250,
            cache_ttl_seconds: 60,
        }
    }
}

impl RedisSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Where the S3 client's credentials come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum S3CredentialSource {
    /// `access_key`/`secret_key`, or anonymous when they are not set.
    #[default]
    Static,
    /// The pod's cloud identity (EKS IRSA and Pod Identity, web identity,
    /// instance metadata), as the AWS SDKs look for it; no static keys.
    DefaultChain,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub credential_source: S3CredentialSource,
    pub access_key: Option<Secret>,
    pub secret_key: Option<Secret>,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: "http://localhost:8333".into(),
            region: "us-east-1".into(),
            bucket: "blog-media".into(),
            credential_source: S3CredentialSource::Static,
            access_key: None,
            secret_key: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<Secret>,
    pub password: Option<Secret>,
    pub from: String,
    pub timeout_seconds: u64,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 1025,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "Blog <no-reply@localhost>".into(),
            timeout_seconds: 10,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    pub session_ttl_hours: u64,
    pub password_reset_ttl_minutes: u64,
    /// PBKDF2-HMAC-SHA256 iterations for new hashes (OWASP 2023: ≥ 600 000).
    pub pbkdf2_iterations: u32,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_ttl_hours: 24 * 14,
            password_reset_ttl_minutes: 60,
            pbkdf2_iterations: 600_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AvatarSettings {
    pub max_bytes: usize,
    /// Decoded width × height above which an upload is refused (bombs).
    pub max_pixels: u64,
    /// Stored avatars fit in a `size` × `size` box.
    pub size: u32,
}

impl Default for AvatarSettings {
    fn default() -> Self {
        Self {
            max_bytes: 5 * 1024 * 1024,
            max_pixels: 40_000_000,
            size: 300,
        }
    }
}

/// `max` attempts per `window_seconds`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Limit {
    pub max: u32,
    pub window_seconds: u64,
}

impl Default for Limit {
    fn default() -> Self {
        Self {
            max: 10,
            window_seconds: 60,
        }
    }
}

impl Limit {
    pub const fn new(max: u32, window_seconds: u64) -> Self {
        Self {
            max,
            window_seconds,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// When Redis is unreachable: `false` (default) lets requests through
    /// (availability first), `true` refuses them with 503.
    pub fail_closed: bool,
    pub login_per_ip: Limit,
    pub login_per_account: Limit,
    pub register_per_ip: Limit,
    pub password_reset_per_ip: Limit,
    pub password_reset_per_account: Limit,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            fail_closed: false,
            login_per_ip: Limit::new(20, 60),
            login_per_account: Limit::new(5, 60),
            register_per_ip: Limit::new(5, 3600),
            password_reset_per_ip: Limit::new(5, 3600),
            password_reset_per_account: Limit::new(3, 3600),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct LogSettings {
    /// `None` → derived from the environment (production → JSON).
    pub format: Option<LogFormat>,
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: None,
            filter: "info".into(),
        }
    }
}

impl Settings {
    /// JSON logs in production unless the format is set explicitly.
    pub fn log_format(&self) -> LogFormat {
        self.log.format.unwrap_or(match self.environment {
            Environment::Production => LogFormat::Json,
            Environment::Local => LogFormat::Pretty,
        })
    }
}
