//! Every setting as a flat list (variable name, default, rules, description),
//! derived from the settings types through their JSON Schema. It renders the
//! table in docs/contracts.md and the `BLOG_*` block of .env.example
//! (`blog settings`), and the consistency tests compare the Helm chart
//! against it.

use serde_json::Value;

/// One setting.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingDoc {
    /// Dotted path, e.g. `rate_limit.login_per_ip.max`.
    pub key: String,
    /// Its environment variable, e.g. `BLOG_RATE_LIMIT__LOGIN_PER_IP__MAX`.
    pub env: String,
    pub description: String,
    /// `None` when unset by default.
    pub default: Option<Value>,
    pub secret: bool,
    /// The rule a value must follow, e.g. `1–1000` or `disable, prefer, require`.
    pub rule: String,
    /// Bounds of a number (durations in their unit).
    pub minimum: Option<u64>,
    pub maximum: Option<u64>,
    /// The values a choice may take.
    pub choices: Vec<String>,
}

impl SettingDoc {
    /// The default as an environment variable would spell it (empty if none).
    pub fn default_text(&self) -> String {
        match &self.default {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// `database.pool_max_size` → `BLOG_DATABASE__POOL_MAX_SIZE`.
pub fn env_name(key: &str) -> String {
    format!("BLOG_{}", key.replace('.', "__").to_uppercase())
}

/// Every setting, in declaration order.
pub fn all() -> Vec<SettingDoc> {
    let root = super::schema();
    let mut out = Vec::new();
    walk(&root, &root, "", None, None, &mut out);
    out
}

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference
            .strip_prefix('#')
            .and_then(|p| root.pointer(p))
            .unwrap_or(schema);
    }
    if let Some([only]) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        return resolve(root, only);
    }
    schema
}

fn walk(
    root: &Value,
    schema: &Value,
    key: &str,
    description: Option<&str>,
    default: Option<&Value>,
    out: &mut Vec<SettingDoc>,
) {
    let target = resolve(root, schema);
    if let Some(properties) = target.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            let child = if key.is_empty() {
                name.clone()
            } else {
                format!("{key}.{name}")
            };
            let sub_default = sub
                .get("default")
                .or_else(|| default.and_then(|d| d.get(name)));
            // A group's own description (`login_per_ip`: "Log-in attempts per
            // client address.") prefixes those of its members.
            let own = sub.get("description").and_then(Value::as_str);
            let combined = match (description, own) {
                (Some(group), Some(own)) if !key.is_empty() => Some(format!(
                    "{}: {}{}",
                    group.trim_end_matches('.'),
                    own[..1].to_lowercase(),
                    &own[1..]
                )),
                (_, own) => own.map(str::to_owned),
            };
            walk(root, sub, &child, combined.as_deref(), sub_default, out);
        }
        return;
    }
    let description = description
        .or_else(|| target.get("description").and_then(Value::as_str))
        .unwrap_or_default();
    out.push(SettingDoc {
        key: key.to_owned(),
        env: env_name(key),
        description: description.split_whitespace().collect::<Vec<_>>().join(" "),
        default: default.cloned(),
        secret: schema.get("x-secret") == Some(&Value::Bool(true)),
        rule: rule(root, target),
        minimum: target.get("minimum").and_then(Value::as_u64),
        maximum: target.get("maximum").and_then(Value::as_u64),
        choices: choices(root, target),
    });
}

fn choices(root: &Value, schema: &Value) -> Vec<String> {
    let schema = schema
        .get("anyOf")
        .and_then(Value::as_array)
        .and_then(|v| {
            v.iter()
                .find(|s| s.get("type") != Some(&Value::String("null".into())))
        })
        .map_or(schema, |s| resolve(root, s));
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        return variants
            .iter()
            .filter_map(|c| c.get("const").or_else(|| c.pointer("/enum/0")))
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    schema
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn rule(root: &Value, schema: &Value) -> String {
    // `Option<T>`: T's rule, or unset.
    if let Some(variants) = schema.get("anyOf").and_then(Value::as_array) {
        let inner: Vec<String> = variants
            .iter()
            .filter(|v| v.get("type") != Some(&Value::String("null".into())))
            .map(|v| rule(root, resolve(root, v)))
            .collect();
        return format!("{}, or unset", inner.join(", "));
    }
    if let Some(rule) = schema.get("x-rule").and_then(Value::as_str) {
        return rule.to_owned();
    }
    if schema.get("pattern").and_then(Value::as_str) == Some("^https?://") {
        return "an http:// or https:// URL".into();
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let names: Vec<String> = choices
            .iter()
            .filter_map(|c| c.get("const").or_else(|| c.pointer("/enum/0")))
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if !names.is_empty() {
            return names.join(", ");
        }
    }
    if let Some(items) = schema.get("enum").and_then(Value::as_array) {
        return items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", ");
    }
    let unit = schema
        .get("x-unit")
        .and_then(Value::as_str)
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    match (
        schema.get("minimum").and_then(Value::as_u64),
        schema.get("maximum").and_then(Value::as_u64),
    ) {
        (Some(lo), Some(hi)) => return format!("{lo}–{hi}{unit}"),
        (Some(lo), None) => return format!("≥ {lo}{unit}"),
        _ => {}
    }
    match schema.get("type") {
        Some(Value::String(t)) if t == "boolean" => "true, false".into(),
        Some(Value::String(t)) if t == "string" => {
            if schema.get("minLength").is_some() {
                "non-empty text".into()
            } else {
                "text".into()
            }
        }
        Some(Value::Array(_)) => "text, or unset".into(),
        _ => String::new(),
    }
}

/// The settings table of docs/contracts.md.
pub fn markdown_table() -> String {
    let mut out = String::from("| variable | default | values | what |\n|---|---|---|---|\n");
    for s in all() {
        let default = if s.secret {
            "(secret)".to_owned()
        } else {
            match s.default_text() {
                d if d.is_empty() => "(unset)".into(),
                d => format!("`{d}`"),
            }
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            s.env,
            default,
            s.rule,
            s.description.replace('|', "\\|")
        ));
    }
    out
}

/// The `BLOG_*` block of .env.example: every setting, commented out with
/// its default, so that a developer sees what can be set.
pub fn env_example() -> String {
    let mut out = String::new();
    for s in all() {
        out.push_str(&format!("# {}\n", s.description));
        if s.secret {
            out.push_str(&format!("#{}_FILE=\n", s.env));
        } else {
            out.push_str(&format!("#{}={}\n", s.env, s.default_text()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_listed_with_its_variable_and_rule() {
        let all = all();
        let get = |key: &str| {
            all.iter()
                .find(|s| s.key == key)
                .unwrap_or_else(|| panic!("{key} missing"))
        };
        let pool = get("database.pool_max_size");
        assert_eq!(pool.env, "BLOG_DATABASE__POOL_MAX_SIZE");
        assert_eq!(pool.rule, "1–1000");
        assert_eq!(pool.default_text(), "16");
        assert!(!pool.description.is_empty());
        let window = get("rate_limit.register_per_ip.window_seconds");
        assert_eq!(window.default_text(), "3600");
        assert_eq!(window.rule, "1–86400 seconds");
        assert!(get("database.password").secret);
        assert!(get("redis.url").secret);
        assert_eq!(get("smtp.tls").rule, "none, starttls, tls");
        assert_eq!(get("smtp.tls").choices, ["none", "starttls", "tls"]);
        assert_eq!(get("log.format").choices, ["pretty", "json"]);
        assert_eq!(
            (pool.minimum, pool.maximum),
            (Some(1), Some(1000)),
            "{pool:?}"
        );
        assert!(
            all.iter().all(|s| !s.description.is_empty()),
            "a setting has no doc comment"
        );
    }
}
