//! Reading the layers (defaults, TOML file, environment, `_FILE` secrets)
//! into [`Settings`] and checking every value, with errors that name the
//! environment variable to fix.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::Settings;

/// A setting that is missing, unreadable or out of range; the message names
/// it as the environment variable an operator would set.
#[derive(Debug, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            setting: env_name(key),
            message: message.into(),
        }
    }
}

/// `database.pool_max_size` → `BLOG_DATABASE__POOL_MAX_SIZE`.
fn env_name(key: &str) -> String {
    format!("BLOG_{}", key.replace('.', "__").to_uppercase())
}

const ENV_PREFIX: &str = "BLOG_";
const CONFIG_FILE_VAR: &str = "BLOG_CONFIG_FILE";

impl Settings {
    /// Reads the process environment (and the file it names) and validates.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::vars())
    }

    /// Same as [`Settings::load`] with an explicit environment, for tests.
    pub fn load_from(env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut plain: HashMap<String, String> = HashMap::new();
        let mut overrides: Vec<(String, String)> = Vec::new();
        let mut file = None;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == CONFIG_FILE_VAR {
                file = Some(value);
                continue;
            }
            match rest.strip_suffix("_FILE") {
                // Only `SECTION__KEY_FILE` names are file references; a
                // top-level `BLOG_X_FILE` is not a setting of ours.
                Some(key) if key.contains("__") => {
                    let key = key.to_lowercase().replace("__", ".");
                    let content = std::fs::read_to_string(&value).map_err(|e| {
                        ConfigError::new(
                            &format!("{key}_file"),
                            format!("cannot read {value}: {e}"),
                        )
                    })?;
                    overrides.push((key, content.trim_end_matches(['\r', '\n']).to_owned()));
                }
                _ => {
                    plain.insert(name, value);
                }
            }
        }

        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !Path::new(&path).is_file() {
                return Err(ConfigError {
                    setting: CONFIG_FILE_VAR.into(),
                    message: format!("{path} is not a readable file"),
                });
            }
            builder = builder.add_source(config::File::new(&path, config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("BLOG")
                .prefix_separator("_")
                .separator("__")
                .source(Some(plain.into_iter().collect())),
        );
        for (key, value) in overrides {
            builder = builder
                .set_override(key.as_str(), value)
                .map_err(|e| ConfigError::new(&key, e.to_string()))?;
        }
        let raw = builder.build().map_err(from_config_error)?;
        let settings: Settings = raw.try_deserialize().map_err(from_config_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Range and consistency checks; the first failure names its setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn range<T: PartialOrd + fmt::Display>(
            key: &str,
            v: T,
            lo: T,
            hi: T,
        ) -> Result<(), ConfigError> {
            if v < lo || v > hi {
                return Err(ConfigError::new(
                    key,
                    format!("must be between {lo} and {hi} (got {v})"),
                ));
            }
            Ok(())
        }
        fn non_empty(key: &str, v: &str) -> Result<(), ConfigError> {
            if v.trim().is_empty() {
                return Err(ConfigError::new(key, "must not be empty"));
            }
            Ok(())
        }

        non_empty("http.host", &self.http.host)?;
        if !(self.http.public_url.starts_with("http://")
            || self.http.public_url.starts_with("https://"))
        {
            return Err(ConfigError::new(
                "http.public_url",
                "must start with http:// or https://",
            ));
        }
        range(
            "http.shutdown_grace_seconds",
            self.http.shutdown_grace_seconds,
            0,
            3600,
        )?;
        range(
            "http.max_body_bytes",
            self.http.max_body_bytes,
            1024,
            64 * 1024 * 1024,
        )?;
        range("http.trusted_proxies", self.http.trusted_proxies, 0, 16)?;

        let db = &self.database;
        non_empty("database.host", &db.host)?;
        non_empty("database.name", &db.name)?;
        non_empty("database.user", &db.user)?;
        range("database.port", db.port, 1, u16::MAX)?;
        range("database.pool_max_size", db.pool_max_size, 1, 1000)?;
        range(
            "database.connect_timeout_ms",
            db.connect_timeout_ms,
            100,
            120_000,
        )?;
        range(
            "database.statement_timeout_ms",
            db.statement_timeout_ms,
            100,
            3_600_000,
        )?;
        range(
            "database.pool_wait_timeout_ms",
            db.pool_wait_timeout_ms,
            10,
            120_000,
        )?;
        if let Some(path) = &db.ssl_root_cert
            && !Path::new(path).is_file()
        {
            return Err(ConfigError::new(
                "database.ssl_root_cert",
                format!("{path} is not a readable file"),
            ));
        }

        let url = self.redis.url.expose();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            // Don't echo the URL: it may hold a password.
            return Err(ConfigError::new(
                "redis.url",
                "must start with redis:// or rediss://",
            ));
        }
        range("redis.timeout_ms", self.redis.timeout_ms, 10, 10_000)?;
        range(
            "redis.cache_ttl_seconds",
            self.redis.cache_ttl_seconds,
            1,
            86_400,
        )?;

        non_empty("s3.endpoint", &self.s3.endpoint)?;
        non_empty("s3.region", &self.s3.region)?;
        non_empty("s3.bucket", &self.s3.bucket)?;
        if self.s3.access_key.is_some() != self.s3.secret_key.is_some() {
            return Err(ConfigError::new(
                "s3.secret_key",
                "s3 access_key and secret_key must be set together",
            ));
        }
        if self.s3.credential_source == super::S3CredentialSource::DefaultChain
            && self.s3.access_key.is_some()
        {
            return Err(ConfigError::new(
                "s3.credential_source",
                "default_chain uses the cloud identity and would ignore BLOG_S3__ACCESS_KEY: \
                 unset the keys, or use static",
            ));
        }

        non_empty("smtp.host", &self.smtp.host)?;
        non_empty("smtp.from", &self.smtp.from)?;
        if self.smtp.username.is_some() != self.smtp.password.is_some() {
            return Err(ConfigError::new(
                "smtp.password",
                "smtp username and password must be set together",
            ));
        }
        range("smtp.timeout_seconds", self.smtp.timeout_seconds, 1, 300)?;

        range(
            "auth.session_ttl_hours",
            self.auth.session_ttl_hours,
            1,
            24 * 365,
        )?;
        range(
            "auth.password_reset_ttl_minutes",
            self.auth.password_reset_ttl_minutes,
            1,
            24 * 60,
        )?;
        range(
            "auth.pbkdf2_iterations",
            self.auth.pbkdf2_iterations,
            600_000,
            10_000_000,
        )?;

        range(
            "avatars.max_bytes",
            self.avatars.max_bytes,
            1024,
            50 * 1024 * 1024,
        )?;
        range(
            "avatars.max_pixels",
            self.avatars.max_pixels,
            1,
            400_000_000,
        )?;
        range("avatars.size", self.avatars.size, 16, 2048)?;

        let rl = &self.rate_limit;
        for (key, limit) in [
            ("rate_limit.login_per_ip", rl.login_per_ip),
            ("rate_limit.login_per_account", rl.login_per_account),
            ("rate_limit.register_per_ip", rl.register_per_ip),
            ("rate_limit.password_reset_per_ip", rl.password_reset_per_ip),
            (
                "rate_limit.password_reset_per_account",
                rl.password_reset_per_account,
            ),
        ] {
            range(&format!("{key}.max"), limit.max, 1, 1_000_000)?;
            range(
                &format!("{key}.window_seconds"),
                limit.window_seconds,
                1,
                86_400,
            )?;
        }

        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(ConfigError::new("log.filter", e.to_string()));
        }
        Ok(())
    }
}

fn from_config_error(err: config::ConfigError) -> ConfigError {
    if let config::ConfigError::Type {
        key: Some(key),
        unexpected,
        expected,
        ..
    } = &err
    {
        return ConfigError::new(key, format!("expected {expected}, got {unexpected}"));
    }
    // Other errors (serde's unknown variants…) end in "for key `a.b`".
    let msg = err.to_string();
    match msg.rsplit_once(" for key `") {
        Some((what, key)) => ConfigError::new(key.trim_end_matches('`'), what.trim_end()),
        None => ConfigError {
            setting: "configuration".into(),
            message: msg,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LogFormat, S3CredentialSource, Secret, SslMode};

    /// Writes `content` to a file of a per-test temporary directory.
    fn temp_file(test: &str, name: &str, content: &str) -> String {
        let dir = std::env::temp_dir().join(format!("blog-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, content).unwrap();
        file.to_str().unwrap().to_owned()
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_match_the_contract() {
        let s = Settings::load_from(env(&[])).unwrap();
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.http.host, "0.0.0.0");
        assert_eq!(s.database.pool_max_size, 16);
        assert_eq!(s.http.shutdown_grace_seconds, 20);
        assert!(s.http.readiness_requires_redis);
        assert_eq!(s.log_format(), LogFormat::Pretty);
    }

    #[test]
    fn environment_overrides_nested_keys() {
        let s = Settings::load_from(env(&[
            ("BLOG_HTTP__PORT", "9000"),
            ("BLOG_DATABASE__POOL_MAX_SIZE", "3"),
            ("BLOG_RATE_LIMIT__LOGIN_PER_IP__MAX", "7"),
            ("BLOG_ENVIRONMENT", "production"),
            ("BLOG_HTTP__READINESS_REQUIRES_REDIS", "false"),
            ("UNRELATED", "x"),
        ]))
        .unwrap();
        assert_eq!(s.http.port, 9000);
        assert!(!s.http.readiness_requires_redis);
        assert_eq!(s.database.pool_max_size, 3);
        assert_eq!(s.rate_limit.login_per_ip.max, 7);
        assert_eq!(s.log_format(), LogFormat::Json);
    }

    #[test]
    fn out_of_range_value_names_the_variable() {
        let err = Settings::load_from(env(&[("BLOG_DATABASE__POOL_MAX_SIZE", "0")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_DATABASE__POOL_MAX_SIZE");
        assert!(
            err.to_string()
                .starts_with("BLOG_DATABASE__POOL_MAX_SIZE: must be between 1 and 1000")
        );
    }

    #[test]
    fn non_numeric_value_names_the_variable() {
        let err = Settings::load_from(env(&[("BLOG_HTTP__PORT", "eighty")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_HTTP__PORT", "{err}");
    }

    #[test]
    fn unknown_enum_value_is_rejected() {
        let err = Settings::load_from(env(&[("BLOG_SMTP__TLS", "sometimes")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_SMTP__TLS", "{err}");
    }

    #[test]
    fn toml_file_is_a_layer_below_the_environment() {
        let path = &temp_file(
            "config-test",
            "blog.toml",
            "[http]\nport = 7000\npublic_url = \"https://blog.example\"\n",
        );
        let s = Settings::load_from(env(&[("BLOG_CONFIG_FILE", path)])).unwrap();
        assert_eq!(s.http.port, 7000);
        assert_eq!(s.http.public_url, "https://blog.example");
        let s = Settings::load_from(env(&[
            ("BLOG_CONFIG_FILE", path),
            ("BLOG_HTTP__PORT", "7001"),
        ]))
        .unwrap();
        assert_eq!(s.http.port, 7001);
        assert_eq!(s.http.public_url, "https://blog.example");
    }

    #[test]
    fn missing_config_file_is_an_error() {
        let err = Settings::load_from(env(&[("BLOG_CONFIG_FILE", "/nonexistent/blog.toml")]))
            .unwrap_err();
        assert_eq!(err.setting, "BLOG_CONFIG_FILE");
    }

    #[test]
    fn secrets_are_read_from_files_and_never_debug_printed() {
        let file = temp_file("secret-test", "db-password", "hunter2\n");
        let s = Settings::load_from(env(&[("BLOG_DATABASE__PASSWORD_FILE", &file)])).unwrap();
        assert_eq!(
            s.database.password.as_ref().map(Secret::expose),
            Some("hunter2")
        );
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("redacted"));
    }

    #[test]
    fn unreadable_secret_file_names_the_variable() {
        let err = Settings::load_from(env(&[("BLOG_SMTP__PASSWORD_FILE", "/nonexistent/pw")]))
            .unwrap_err();
        assert_eq!(err.setting, "BLOG_SMTP__PASSWORD_FILE");
    }

    #[test]
    fn postgres_tls_settings_are_checked() {
        let s = Settings::load_from(env(&[("BLOG_DATABASE__SSL_MODE", "require")])).unwrap();
        assert_eq!(s.database.ssl_mode, SslMode::Require);
        let err = Settings::load_from(env(&[
            ("BLOG_DATABASE__SSL_MODE", "require"),
            ("BLOG_DATABASE__SSL_ROOT_CERT", "/nonexistent/ca.pem"),
        ]))
        .unwrap_err();
        assert_eq!(err.setting, "BLOG_DATABASE__SSL_ROOT_CERT");
        let err =
            Settings::load_from(env(&[("BLOG_DATABASE__SSL_MODE", "verify-ca")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_DATABASE__SSL_MODE");
    }

    #[test]
    fn s3_credential_source_is_static_unless_asked_and_never_mixed_with_keys() {
        let s = Settings::load_from(env(&[])).unwrap();
        assert_eq!(s.s3.credential_source, S3CredentialSource::Static);
        let s =
            Settings::load_from(env(&[("BLOG_S3__CREDENTIAL_SOURCE", "default_chain")])).unwrap();
        assert_eq!(s.s3.credential_source, S3CredentialSource::DefaultChain);
        let err = Settings::load_from(env(&[
            ("BLOG_S3__CREDENTIAL_SOURCE", "default_chain"),
            ("BLOG_S3__ACCESS_KEY", "AKIAEXAMPLE"),
            ("BLOG_S3__SECRET_KEY", "secret"),
        ]))
        .unwrap_err();
        assert_eq!(err.setting, "BLOG_S3__CREDENTIAL_SOURCE");
        let err = Settings::load_from(env(&[("BLOG_S3__CREDENTIAL_SOURCE", "irsa")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_S3__CREDENTIAL_SOURCE", "{err}");
    }

    #[test]
    fn redis_url_error_does_not_echo_the_password() {
        let err =
            Settings::load_from(env(&[("BLOG_REDIS__URL", "http://:topsecret@host")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_REDIS__URL");
        assert!(!err.to_string().contains("topsecret"));
    }

    #[test]
    fn tests_can_build_and_tweak_settings_directly() {
        let mut s = Settings::default();
        s.http.port = 0;
        s.database.pool_max_size = 2;
        s.validate().unwrap();
        s.auth.pbkdf2_iterations = 1000;
        assert_eq!(
            s.validate().unwrap_err().setting,
            "BLOG_AUTH__PBKDF2_ITERATIONS"
        );
    }
}
