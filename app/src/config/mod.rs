//! Typed configuration: **the one place a setting is defined.**
//!
//! Layers, later ones winning: built-in defaults (the `Default` impls below) →
//! an optional TOML file named by `BLOG_CONFIG_FILE` → environment variables
//! `BLOG_<SECTION>__<KEY>` (nested keys also use `__`, e.g.
//! `BLOG_RATE_LIMIT__LOGIN_PER_IP__MAX`). Any setting may instead be read
//! from a file with `BLOG_<SECTION>__<KEY>_FILE=/path`, which is how
//! Kubernetes Secrets are mounted; a trailing newline is stripped.
//!
//! To add a setting: add a field below with a doc comment (it becomes the
//! description in docs/contracts.md) and a type that carries its rules
//! ([`units::Count`], [`units::Seconds`]… for ranges and durations, an enum
//! for choices, [`Secret`] for secrets). Then run the settings tests: they
//! regenerate nothing silently, they fail and say which of
//! docs/contracts.md, .env.example and the Helm chart (values, schema,
//! ConfigMap) miss it. [`schema`] is what they compare against.
//!
//! Secrets are [`Secret`]s (`secrecy`), whose `Debug` never prints the
//! value, so `tracing::info!(?settings)` is safe; they are never serialized
//! either (the serialized defaults are the lowest configuration layer).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod catalogue;
mod load;
pub mod networks;
pub mod origins;
pub mod units;

pub use load::ConfigError;
pub use secrecy::{ExposeSecret, SecretString as Secret};
use units::{Count, Hours, Millis, Minutes, Seconds};

/// The settings as a JSON Schema (descriptions, defaults, ranges; secrets
/// marked `x-secret`), for the generated documentation and the consistency
/// tests.
pub fn schema() -> serde_json::Value {
    let settings = schemars::generate::SchemaSettings::draft07().for_deserialize();
    serde_json::to_value(settings.into_generator().into_root_schema_for::<Settings>())
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Human-readable logs.
    #[default]
    Local,
    /// JSON logs.
    Production,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct Settings {
    /// `local` (human-readable logs) or `production` (JSON logs).
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

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct HttpSettings {
    /// Address to listen on.
    #[schemars(length(min = 1))]
    pub host: String,
    /// TCP port to listen on (0 picks a free one).
    pub port: u16,
    /// Base URL clients use to reach the service (reset links, avatar URLs).
    #[schemars(regex(pattern = r"^https?://"))]
    pub public_url: String,
    /// After SIGTERM, how long in-flight requests get to finish.
    pub shutdown_grace_seconds: Seconds<0, 3600>,
    /// After SIGTERM, keep accepting requests this long (readiness already
    /// 503) so load balancers notice before the listener closes; an
    /// alternative to a `preStop` sleep.
    pub shutdown_drain_seconds: Seconds<0, 3600>,
    /// Upper bound for request bodies (JSON); avatars have their own limit.
    pub max_body_bytes: Count<1024, 67_108_864>,
    /// How many reverse-proxy hops in front of the service append to
    /// `X-Forwarded-For` (whose client address is then trusted).
    pub trusted_proxies: Count<0, 16>,
    /// The networks those proxies connect from (comma-separated CIDRs): a
    /// hop's `X-Forwarded-For` entry is believed only when the address that
    /// handed the request on is in one of them, so a client reaching the
    /// service directly cannot choose its own address. Required when
    /// `trusted_proxies` is above 0.
    pub trusted_proxy_networks: networks::Networks,
    /// Web origins whose pages may call `/api` from a browser (CORS), as
    /// comma-separated `https://host[:port]`; empty (the default) turns CORS
    /// off, so browsers only let this site's own pages call the API.
    pub cors_allowed_origins: origins::Origins,
    /// TCP port that serves `/metrics` alone, apart from the API, so that
    /// what reaches the API (a proxy, an Ingress) never exposes it; 0 serves
    /// `/metrics` on `port` with the API instead.
    pub metrics_port: Count<0, 65535>,
    /// Whether `/readyz` fails while Redis is down. The app serves without
    /// Redis (cache bypassed), so `false` keeps pods in the Service during a
    /// Redis outage; Redis is still reported in `checks`.
    pub readiness_requires_redis: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            public_url: "http://localhost:8080".into(),
            shutdown_grace_seconds: Seconds::of(20),
            shutdown_drain_seconds: Seconds::of(0),
            max_body_bytes: Count::of(1024 * 1024),
            trusted_proxies: Count::of(0),
            trusted_proxy_networks: networks::Networks::default(),
            cors_allowed_origins: origins::Origins::default(),
            metrics_port: Count::of(9090),
            readiness_requires_redis: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
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

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct DatabaseSettings {
    /// Postgres host name or address.
    #[schemars(length(min = 1))]
    pub host: String,
    /// Postgres port.
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Database name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Role to connect as.
    #[schemars(length(min = 1))]
    pub user: String,
    /// Password of `user`.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>", extend("x-secret" = true))]
    pub password: Option<Secret>,
    /// `disable` and `prefer` connect in plain text; `require` is TLS with
    /// the certificate and host name verified (libpq's `verify-full`).
    pub ssl_mode: SslMode,
    /// PEM file of the CA(s) that signed the server certificate, for
    /// `ssl_mode = require`; the system's roots when unset.
    pub ssl_root_cert: Option<String>,
    /// Most connections one replica opens.
    pub pool_max_size: Count<1, 1000>,
    /// Bound on opening a connection.
    pub connect_timeout_ms: Millis<100, 120_000>,
    /// Server-side bound on every statement: a slow query becomes a 503
    /// instead of holding a pooled connection.
    pub statement_timeout_ms: Millis<100, 3_600_000>,
    /// How long a request waits for a free pooled connection before 503.
    pub pool_wait_timeout_ms: Millis<10, 120_000>,
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
            pool_max_size: Count::of(16),
            connect_timeout_ms: Millis::of(3000),
            statement_timeout_ms: Millis::of(5000),
            pool_wait_timeout_ms: Millis::of(2000),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` URL; may carry a password, hence secret.
    #[serde(skip_serializing)]
    #[schemars(with = "String", extend("x-secret" = true, "default" = "redis://localhost:6379"))]
    pub url: Secret,
    /// Upper bound on every Redis call; past it Redis counts as down (and
    /// is skipped for a second).
    pub timeout_ms: Millis<10, 10_000>,
    /// Safety-net lifetime of cached reads (invalidation is by generation).
    pub cache_ttl_seconds: Seconds<1, 86_400>,
    /// How long a replica believes the cache generation it last read from
    /// Redis: the bound within which other replicas' writes show on this
    /// one (its own writes show at once). Within it, cache hits and view
    /// counts need no Redis round trip. 0: ask Redis on every read.
    pub local_staleness_ms: Millis<0, 10_000>,
    /// Memory for cached reads kept inside each replica, measured as their
    /// JSON size, and as much again for the API's answers to them, kept
    /// serialised (0: none; hits then come from Redis and are serialised
    /// on every read).
    pub local_cache_mib: Count<0, 1024>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: Secret::from("redis://localhost:6379"),
            timeout_ms: Millis::of(250),
            cache_ttl_seconds: Seconds::of(60),
            local_staleness_ms: Millis::of(1000),
            local_cache_mib: Count::of(8),
        }
    }
}

/// Where the S3 client's credentials come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum S3CredentialSource {
    /// `access_key`/`secret_key`, or anonymous when they are not set.
    #[default]
    Static,
    /// The pod's cloud identity (EKS IRSA and Pod Identity, web identity,
    /// instance metadata), as the AWS SDKs look for it; no static keys.
    DefaultChain,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct S3Settings {
    /// S3-compatible endpoint URL (path-style requests).
    #[schemars(length(min = 1))]
    pub endpoint: String,
    /// Region name used for request signing.
    #[schemars(length(min = 1))]
    pub region: String,
    /// Bucket for avatars (created by `blog migrate` if missing).
    #[schemars(length(min = 1))]
    pub bucket: String,
    /// `static`: `access_key`/`secret_key` (anonymous when unset);
    /// `default_chain`: the pod's cloud identity (EKS IRSA or Pod Identity,
    /// web identity, instance metadata), never together with static keys.
    pub credential_source: S3CredentialSource,
    /// Access key; unset with `secret_key` for anonymous access.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>", extend("x-secret" = true))]
    pub access_key: Option<Secret>,
    /// Secret key; set together with `access_key`.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>", extend("x-secret" = true))]
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

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (local catchers).
    #[default]
    None,
    /// STARTTLS required (port 587; Gmail with an app password).
    Starttls,
    /// Implicit TLS (port 465).
    Tls,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct SmtpSettings {
    /// SMTP server host.
    #[schemars(length(min = 1))]
    pub host: String,
    /// SMTP server port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: SmtpTls,
    /// SMTP user name; set together with `password`.
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>", extend("x-secret" = true))]
    pub username: Option<Secret>,
    /// SMTP password (an app password for Gmail).
    #[serde(skip_serializing)]
    #[schemars(with = "Option<String>", extend("x-secret" = true))]
    pub password: Option<Secret>,
    /// Sender of outgoing mail, `Name <address>`.
    #[schemars(length(min = 1))]
    pub from: String,
    /// Bound on one SMTP conversation.
    pub timeout_seconds: Seconds<1, 300>,
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
            timeout_seconds: Seconds::of(10),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct AuthSettings {
    /// Lifetime of a session (bearer token) from log-in.
    pub session_ttl_hours: Hours<1, 8760>,
    /// Lifetime of a password reset link.
    pub password_reset_ttl_minutes: Minutes<1, 1440>,
    /// PBKDF2-HMAC-SHA256 iterations for new hashes (OWASP 2023 floor:
    /// 600 000; lower is refused).
    pub pbkdf2_iterations: Count<600_000, 10_000_000>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_ttl_hours: Hours::of(24 * 14),
            password_reset_ttl_minutes: Minutes::of(60),
            pbkdf2_iterations: Count::of(600_000),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct AvatarSettings {
    /// Largest avatar upload accepted.
    pub max_bytes: Count<1024, 52_428_800>,
    /// Decoded width × height above which an upload is refused (bombs).
    pub max_pixels: Count<1, 400_000_000>,
    /// Memory one decode may take: width × height × bytes per pixel (a
    /// 16-bit RGBA image needs 8 per pixel, 8-bit RGB 3); larger images are
    /// refused from their header. Times `max_concurrent`, it bounds a
    /// replica's image memory: keep both well under the pod's memory limit.
    pub max_decode_bytes: Count<1_048_576, 4_294_967_296>,
    /// Uploads decoded at once per replica; more wait up to 5 s, then get 503
    /// `busy` with `Retry-After`.
    pub max_concurrent: Count<1, 64>,
    /// Stored avatars fit in a `size` × `size` box.
    pub size: Count<16, 2048>,
}

impl Default for AvatarSettings {
    fn default() -> Self {
        Self {
            max_bytes: Count::of(5 * 1024 * 1024),
            max_pixels: Count::of(40_000_000),
            // Two decodes at once fit the chart's default 256 Mi limit beside
            // the server's own ~30 MB: a 20-megapixel photo (8-bit RGB,
            // 60 MB) fits, a 16-bit RGBA image over 8 megapixels does not.
            max_decode_bytes: Count::of(64 * 1024 * 1024),
            max_concurrent: Count::of(2),
            size: Count::of(300),
        }
    }
}

/// `max` attempts per `window_seconds`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct Limit {
    /// Attempts allowed per window.
    pub max: Count<1, 1_000_000>,
    /// Length of the window, from the first attempt.
    pub window_seconds: Seconds<1, 86_400>,
}

impl Limit {
    pub fn new(max: u64, window_seconds: u64) -> Self {
        Self {
            max: Count::of(max),
            window_seconds: Seconds::of(window_seconds),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Whether the limits below apply at all.
    pub enabled: bool,
    /// When Redis is unreachable: `false` keeps limiting with each replica's
    /// own in-memory counters (counted in `rate_limit_local_fallback_total`),
    /// `true` refuses limited requests with 503.
    pub fail_closed: bool,
    /// Log-in attempts per client address.
    #[schemars(extend("default" = {"max": 20, "window_seconds": 60}))]
    pub login_per_ip: Limit,
    /// Log-in attempts (and password changes) per account.
    #[schemars(extend("default" = {"max": 5, "window_seconds": 60}))]
    pub login_per_account: Limit,
    /// Registrations per client address.
    #[schemars(extend("default" = {"max": 5, "window_seconds": 3600}))]
    pub register_per_ip: Limit,
    /// Password reset requests per client address.
    #[schemars(extend("default" = {"max": 5, "window_seconds": 3600}))]
    pub password_reset_per_ip: Limit,
    /// Password reset requests per email address.
    #[schemars(extend("default" = {"max": 3, "window_seconds": 3600}))]
    pub password_reset_per_account: Limit,
    /// Comments written per account.
    #[schemars(extend("default" = {"max": 10, "window_seconds": 60}))]
    pub comment_per_account: Limit,
    /// Comments written per client address.
    #[schemars(extend("default" = {"max": 30, "window_seconds": 60}))]
    pub comment_per_ip: Limit,
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
            comment_per_account: Limit::new(10, 60),
            comment_per_ip: Limit::new(30, 60),
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One compact human-readable line per event.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(default)]
pub struct LogSettings {
    /// `pretty` or `json`; unset: JSON in production, pretty otherwise.
    pub format: Option<LogFormat>,
    /// An `EnvFilter` directive, e.g. `info,blog=debug` (`RUST_LOG` wins).
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
