//! The chart against the app's settings catalogue
//! ([`blog::config::catalogue::all`]), which is derived from the one place
//! settings are defined (`app/src/config`).
//!
//! The chart's rule (charts/blog/README.md, "Settings"): every setting that
//! is neither a secret nor in [`DERIVED`] has a value at the camelCase of its
//! path ([`value_path`]), a property there in values.schema.json with the
//! app's rules, and one line in `blog.config` that renders it into the
//! ConfigMap; secrets reach the pods as `BLOG_…_FILE`. `tests/settings.rs`
//! checks this; this module holds the exception lists and generates the
//! values of [`EVERY_SETTING`] from the catalogue, so a new setting needs no
//! fixture edit.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use blog::config::catalogue::{self, SettingDoc};
use serde_json::{Value, json};

use crate::{Scenario, chart_dir};

/// Settings the chart renders itself, so they have no value of their own:
/// (setting, why). These may appear in the ConfigMap even when secret.
pub const DERIVED: &[(&str, &str)] = &[
    (
        "http.host",
        "the container listens on every address; only the pod's own network namespace sees it",
    ),
    (
        "http.port",
        "fixed at 8080: the container port, probes, Service and NetworkPolicies all name it",
    ),
    (
        "database.ssl_root_cert",
        "the path where the chart mounts database.caSecret's certificate",
    ),
    (
        "redis.url",
        "a secret (an external Redis URL may hold a password), except the bundled Redis's \
         (redis.enabled), which has none and which the chart writes into the ConfigMap",
    ),
];

/// Settings whose schema range is narrower than the app's: (setting, why).
/// Any other bound must equal the app's.
pub const STRICTER: &[(&str, &str)] = &[(
    "smtp.port",
    "the app's port type allows 0 (for http.port: any free port); no SMTP server listens on 0",
)];

/// Why the bundled Redis's values are no settings.
const BUNDLED_REDIS: &str = "the bundled Redis server's own deployment, not the app's";

/// Values in the settings' sections of values.yaml that are no settings:
/// (path, why); a path covers the values under it. The Secrets of one's own
/// (`s3.accessKeySecret` for the secret `s3.access_key`) and the inline
/// secrets (`secrets.s3AccessKey`) need no entry: they are checked against
/// the secret settings.
pub const CHART_ONLY: &[(&str, &str)] = &[
    (
        "database.caSecret",
        "the Secret with the database server's CA, from which the chart derives database.ssl_root_cert",
    ),
    (
        "redis.enabled",
        "whether the release runs its own Redis, whose URL the chart then derives",
    ),
    ("redis.image", BUNDLED_REDIS),
    ("redis.runAsUser", BUNDLED_REDIS),
    ("redis.maxmemory", BUNDLED_REDIS),
    ("redis.maxmemoryPolicy", BUNDLED_REDIS),
    ("redis.resources", BUNDLED_REDIS),
    ("redis.podAnnotations", BUNDLED_REDIS),
    ("redis.podLabels", BUNDLED_REDIS),
    (
        "s3.credentials",
        "whether the static keys s3.access_key and s3.secret_key are mounted",
    ),
    (
        "s3.webIdentity",
        "a projected token for AWS web identity, read by the AWS SDK's default chain \
         (s3.credential_source), not by a setting",
    ),
    (
        "smtp.auth",
        "whether smtp.username and smtp.password are mounted",
    ),
];

/// Values that are no settings but make the chart take every setting from
/// its own value rather than derive it.
fn chart_knobs() -> Value {
    json!({
        // The bundled Postgres and Redis derive database.host, .port, .name,
        // .user, .ssl_mode and redis.url; external ones need their secrets.
        "postgresql": {"enabled": false},
        "redis": {"enabled": false},
        "secrets": {
            "databasePassword": "not-a-real-password",
            "redisUrl": "redis://redis.example.internal:6379/1",
        },
        // The dev SeaweedFS and Mailpit derive s3.endpoint and smtp.*.
        "seaweedfs": {"enabled": false},
        "mailpit": {"enabled": false},
        // Room for whatever drain and grace times the settings get.
        "terminationGracePeriodSeconds": 3600,
    })
}

/// Every scenario's app setting at a value other than the app's and the
/// chart's default (and integers all different, so two swapped lines show).
pub const EVERY_SETTING: Scenario = Scenario {
    generated: Some(first_values),
    ..Scenario::new("every-setting")
};

/// Every setting at a second value, different from [`EVERY_SETTING`]'s: a
/// template line that ignores its value cannot render both.
pub const EVERY_SETTING_AGAIN: Scenario = Scenario {
    generated: Some(second_values),
    ..Scenario::new("every-setting-again")
};

fn first_values() -> Value {
    values_for(0)
}

fn second_values() -> Value {
    values_for(1)
}

/// The values file of variant 0 or 1: the chart knobs plus every setting.
fn values_for(variant: usize) -> Value {
    let mut values = chart_knobs();
    for (setting, pair) in generated_settings() {
        insert(
            &mut values,
            &value_path(&setting.key),
            pair[variant].clone(),
        );
    }
    values
}

/// Every catalogue entry.
pub fn all() -> &'static [SettingDoc] {
    static ALL: OnceLock<Vec<SettingDoc>> = OnceLock::new();
    ALL.get_or_init(catalogue::all)
}

pub fn is_derived(setting: &SettingDoc) -> bool {
    DERIVED.iter().any(|(key, _)| *key == setting.key)
}

/// The settings that have a value of their own in the chart.
pub fn valued() -> impl Iterator<Item = &'static SettingDoc> {
    all().iter().filter(|s| !s.secret && !is_derived(s))
}

/// `rate_limit.login_per_ip.max` → `rateLimit.loginPerIp.max`.
pub fn value_path(key: &str) -> String {
    key.split('.').map(camel).collect::<Vec<_>>().join(".")
}

/// `login_per_ip` → `loginPerIp`.
pub fn camel(snake: &str) -> String {
    let mut out = String::new();
    for (i, word) in snake.split('_').enumerate() {
        let mut chars = word.chars();
        if i > 0
            && let Some(first) = chars.next()
        {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        } else {
            out.push_str(word);
        }
    }
    out
}

/// Where an operator gives a secret setting: its inline value
/// (`secrets.s3AccessKey`) and a Secret of their own (`s3.accessKeySecret`).
pub fn secret_value_paths(key: &str) -> (String, String) {
    (
        format!("secrets.{}", camel(&key.replace('.', "_"))),
        format!("{}Secret", value_path(key)),
    )
}

/// charts/blog/values.yaml, parsed.
pub fn chart_values() -> &'static Value {
    static VALUES: OnceLock<Value> = OnceLock::new();
    VALUES.get_or_init(|| {
        let text = std::fs::read_to_string(chart_dir().join("values.yaml")).expect("values.yaml");
        serde_norway::from_str(&text).expect("values.yaml is YAML")
    })
}

/// charts/blog/values.schema.json, parsed.
pub fn chart_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text =
            std::fs::read_to_string(chart_dir().join("values.schema.json")).expect("values schema");
        serde_json::from_str(&text).expect("values.schema.json is JSON")
    })
}

/// The value at a dotted path.
pub fn value_at<'a>(values: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(values, |v, part| v.get(part))
}

/// The schema of the value at a dotted path, following `$ref`s.
pub fn schema_at(path: &str) -> Option<&'static Value> {
    let root = chart_schema();
    let resolve = |schema: &'static Value| match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference.strip_prefix('#').and_then(|p| root.pointer(p)),
        None => Some(schema),
    };
    path.split('.')
        .try_fold(root, |schema, part| {
            resolve(schema)?.get("properties")?.get(part)
        })
        .and_then(resolve)
}

/// A setting's value as its environment variable spells it.
pub fn env_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Two different valid values for every setting with a value of its own,
/// neither the app's nor the chart's default where the setting has room
/// (a boolean has not: its second value is the chart's default).
pub fn generated_settings() -> &'static [(&'static SettingDoc, [Value; 2])] {
    static GENERATED: OnceLock<Vec<(&'static SettingDoc, [Value; 2])>> = OnceLock::new();
    GENERATED.get_or_init(|| {
        let mut used = BTreeSet::new();
        valued()
            .map(|s| {
                let chart_default = value_at(chart_values(), &value_path(&s.key));
                (s, two_values(s, chart_default, &mut used))
            })
            .collect()
    })
}

fn two_values(
    s: &SettingDoc,
    chart_default: Option<&Value>,
    used: &mut BTreeSet<u64>,
) -> [Value; 2] {
    let app_default = s.default.as_ref().filter(|v| !v.is_null());
    let is_default = |v: &Value| Some(v) == app_default || Some(v) == chart_default;

    if !s.choices.is_empty() {
        let choices: Vec<Value> = s.choices.iter().map(|c| json!(c)).collect();
        // Neither default first, then not the chart's default, then the rest.
        let mut ordered: Vec<&Value> = choices.iter().filter(|c| !is_default(c)).collect();
        ordered.extend(
            choices
                .iter()
                .filter(|c| is_default(c) && Some(*c) != chart_default),
        );
        ordered.extend(choices.iter().filter(|c| Some(*c) == chart_default));
        assert!(ordered.len() >= 2, "{}: fewer than two choices", s.key);
        return [ordered[0].clone(), ordered[1].clone()];
    }
    let reference = chart_default.or(app_default);
    if let Some(Value::Bool(b)) = reference {
        return [json!(!b), json!(b)];
    }
    let numeric =
        s.minimum.is_some() || s.maximum.is_some() || matches!(reference, Some(Value::Number(_)));
    if numeric {
        let lo = s.minimum.unwrap_or(0);
        let hi = s.maximum.unwrap_or(lo.saturating_add(1_000_000));
        let base = reference
            .and_then(Value::as_u64)
            .unwrap_or(lo)
            .clamp(lo, hi);
        let picked: Vec<u64> = (base.saturating_add(1)..=hi)
            .chain((lo..base).rev())
            .filter(|n| !is_default(&json!(n)) && !used.contains(n))
            .take(2)
            .collect();
        assert!(
            picked.len() == 2,
            "{}: no two free values in {lo}–{hi} besides the defaults",
            s.key
        );
        used.extend(&picked);
        return [json!(picked[0]), json!(picked[1])];
    }
    // Text: keep the shape of the default (a URL, a mailbox) so that the
    // app accepts it.
    let slug = s.key.replace(['.', '_'], "-");
    let default = s.default_text();
    [("a", "A"), ("b", "B")].map(|(v, upper)| {
        // A URL, or a list of web origins (one is a valid list).
        if default.starts_with("http://")
            || default.starts_with("https://")
            || s.rule.contains("origins")
        {
            json!(format!("https://{slug}-{v}.example.org"))
        } else if s.rule.contains("CIDR") {
            json!(format!("198.51.100.0/{}", if v == "a" { 24 } else { 25 }))
        } else if default.contains('<') && default.ends_with('>') {
            json!(format!("Blog {upper} <{slug}-{v}@example.org>"))
        } else {
            json!(format!("{slug}-{v}"))
        }
    })
}

/// Sets a dotted path in a JSON map, creating the maps on the way.
fn insert(values: &mut Value, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("a path");
    let mut at = values;
    for part in parts {
        at = at
            .as_object_mut()
            .expect("a map")
            .entry(part)
            .or_insert_with(|| json!({}));
    }
    at.as_object_mut()
        .expect("a map")
        .insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_the_camel_case_of_the_settings() {
        assert_eq!(
            value_path("rate_limit.login_per_ip.max"),
            "rateLimit.loginPerIp.max"
        );
        assert_eq!(
            value_path("auth.pbkdf2_iterations"),
            "auth.pbkdf2Iterations"
        );
        assert_eq!(value_path("environment"), "environment");
        assert_eq!(
            secret_value_paths("s3.access_key"),
            (
                "secrets.s3AccessKey".to_owned(),
                "s3.accessKeySecret".to_owned()
            )
        );
    }

    #[test]
    fn generated_values_differ_from_the_defaults_and_between_variants() {
        let generated = generated_settings();
        assert!(generated.len() > 40, "{}", generated.len());
        for (s, [first, second]) in generated {
            assert_ne!(first, second, "{}", s.key);
            let chart = value_at(chart_values(), &value_path(&s.key));
            assert_ne!(Some(first), chart, "{}", s.key);
            // Only two values to choose from: one of them is the app's default.
            let two_way = s.choices.len() == 2 || first.is_boolean();
            if !two_way {
                assert_ne!(Some(first), s.default.as_ref(), "{}", s.key);
            }
        }
    }
}
