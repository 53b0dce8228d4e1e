//! Reading the layers (defaults, TOML file, environment, `_FILE` secrets)
//! into [`Settings`] and checking every value, with errors that name the
//! environment variable to fix.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::{ExposeSecret as _, Settings};

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

        // The defaults are the lowest layer, so that a partial override
        // (`BLOG_RATE_LIMIT__REGISTER_PER_IP__MAX` alone) keeps the other
        // defaults of its group. Secrets are not serialized: theirs come from
        // the `Default` impls.
        let defaults = config::Config::try_from(&Settings::default()).map_err(from_config_error)?;
        let mut builder = config::Config::builder().add_source(defaults);
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

    /// The rules types cannot carry: non-empty strings (read from the
    /// schema's `minLength`, so they are stated once) and the rules that tie
    /// settings together. Ranges and units are checked when the values are
    /// read (see [`super::units`]). The first failure names its setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let schema = super::schema();
        let values = serde_json::to_value(self).map_err(|e| ConfigError {
            setting: "configuration".into(),
            message: e.to_string(),
        })?;
        check_lengths(&schema, &schema, &values, "")?;

        if self.http.trusted_proxies.get() > 0 && self.http.trusted_proxy_networks.is_empty() {
            return Err(ConfigError::new(
                "http.trusted_proxy_networks",
                "must name the proxies' networks (CIDRs) when BLOG_HTTP__TRUSTED_PROXIES is above 0",
            ));
        }
        let url = &self.http.public_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::new(
                "http.public_url",
                "must start with http:// or https://",
            ));
        }
        if let Some(path) = &self.database.ssl_root_cert
            && !Path::new(path).is_file()
        {
            return Err(ConfigError::new(
                "database.ssl_root_cert",
                format!("{path} is not a readable file"),
            ));
        }
        let redis = self.redis.url.expose_secret();
        if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            // Don't echo the URL: it may hold a password.
            return Err(ConfigError::new(
                "redis.url",
                "must start with redis:// or rediss://",
            ));
        }
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
        if self.smtp.username.is_some() != self.smtp.password.is_some() {
            return Err(ConfigError::new(
                "smtp.password",
                "smtp username and password must be set together",
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(ConfigError::new("log.filter", e.to_string()));
        }
        Ok(())
    }
}

/// Checks every string against its schema's `minLength` (the non-empty
/// rule), following `$ref`s and nested objects.
fn check_lengths(
    root: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
) -> Result<(), ConfigError> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
            .unwrap_or(schema),
        None => schema,
    };
    // Nested structs appear as `allOf: [{$ref}]` when the field has its
    // own description or default.
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check_lengths(root, part, value, path)?;
    }
    if let (Some(min), Some(text)) = (
        schema.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (text.trim().chars().count() as u64) < min
    {
        return Err(ConfigError::new(path, "must not be empty"));
    }
    if let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (key, sub) in properties {
            if let Some(v) = object.get(key) {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                check_lengths(root, sub, v, &child)?;
            }
        }
    }
    Ok(())
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
    use crate::config::{LogFormat, S3CredentialSource, SslMode};
    use secrecy::ExposeSecret as _;

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
        assert_eq!(s.database.pool_max_size.get(), 16);
        assert_eq!(s.http.shutdown_grace_seconds.units(), 20);
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
        assert_eq!(s.database.pool_max_size.get(), 3);
        assert_eq!(s.rate_limit.login_per_ip.max.get(), 7);
        // The rest of the group keeps its own default.
        assert_eq!(s.rate_limit.login_per_ip.window_seconds.units(), 60);
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
            s.database.password.as_ref().map(|p| p.expose_secret()),
            Some("hunter2")
        );
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.to_lowercase().contains("redacted"), "{debug}");
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
        s.database.pool_max_size = crate::config::units::Count::of(2);
        s.validate().unwrap();
        // Ranges are part of the types: an out-of-range value cannot be built.
        assert!(crate::config::units::Count::<600_000, 10_000_000>::new(1000).is_err());
        // What types cannot say is checked by `validate`, naming the variable.
        s.database.host = " ".into();
        assert_eq!(s.validate().unwrap_err().setting, "BLOG_DATABASE__HOST");
    }

    #[test]
    fn a_partial_override_keeps_the_rest_of_its_group() {
        let s =
            Settings::load_from(env(&[("BLOG_RATE_LIMIT__REGISTER_PER_IP__MAX", "50")])).unwrap();
        assert_eq!(s.rate_limit.register_per_ip.max.get(), 50);
        assert_eq!(s.rate_limit.register_per_ip.window_seconds.units(), 3600);
    }

    #[test]
    fn durations_are_read_in_the_unit_their_name_says() {
        let s = Settings::load_from(env(&[
            ("BLOG_REDIS__TIMEOUT_MS", "750"),
            ("BLOG_AUTH__SESSION_TTL_HOURS", "2"),
        ]))
        .unwrap();
        assert_eq!(
            s.redis.timeout_ms.get(),
            std::time::Duration::from_millis(750)
        );
        assert_eq!(
            s.auth.session_ttl_hours.get(),
            std::time::Duration::from_secs(7200)
        );
        let err = Settings::load_from(env(&[("BLOG_REDIS__TIMEOUT_MS", "5")])).unwrap_err();
        assert_eq!(err.setting, "BLOG_REDIS__TIMEOUT_MS");
        assert!(err.message.contains("between 10 and 10000"), "{err}");
    }
}
