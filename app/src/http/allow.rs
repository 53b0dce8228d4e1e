//! The `Allow` header of 405 answers (RFC 9110 §15.5.6 makes it a MUST).
//! poem's router knows the methods of a path but does not say them, so the
//! table is built once at start-up from the OpenAPI document (every API
//! operation) plus the few plain routes declared next to it in `http::app`.

use std::collections::BTreeSet;

use poem::http::{HeaderValue, Method};

/// Path templates (segments; `None` matches any one segment, `Some("*")`
/// any rest) with the `Allow` value for each.
pub struct AllowTable {
    routes: Vec<(Vec<Option<String>>, HeaderValue)>,
}

impl AllowTable {
    /// `spec` is the OpenAPI JSON whose paths live under `prefix`;
    /// `extra` are routes outside it, e.g. `("/reset-password", &[GET, POST])`.
    pub fn new(spec: &str, prefix: &str, extra: &[(&str, &[Method])]) -> Self {
        let mut routes = Vec::new();
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, item) in paths {
                let methods = item
                    .as_object()
                    .into_iter()
                    .flat_map(|ops| ops.keys())
                    .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                    .collect::<Vec<_>>();
                routes.push((format!("{prefix}{path}"), methods));
            }
        }
        routes.extend(extra.iter().map(|(p, m)| (p.to_string(), m.to_vec())));
        Self {
            routes: routes
                .into_iter()
                .filter_map(|(path, methods)| Some((template(&path), allow_value(&methods)?)))
                .collect(),
        }
    }

    /// The `Allow` value for a request path, if a known route matches it.
    pub fn lookup(&self, path: &str) -> Option<&HeaderValue> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        self.routes
            .iter()
            .find(|(tpl, _)| matches(tpl, &segments))
            .map(|(_, v)| v)
    }
}

fn template(path: &str) -> Vec<Option<String>> {
    path.trim_end_matches('/')
        .split('/')
        .map(|s| {
            let param = (s.starts_with('{') && s.ends_with('}')) || s.starts_with(':');
            (!param).then(|| if s.starts_with('*') { "*" } else { s }.to_owned())
        })
        .collect()
}

fn matches(tpl: &[Option<String>], segments: &[&str]) -> bool {
    if let Some(Some(last)) = tpl.last()
        && last == "*"
    {
        let fixed = &tpl[..tpl.len() - 1];
        return segments.len() > fixed.len() && matches(fixed, &segments[..fixed.len()]);
    }
    tpl.len() == segments.len()
        && tpl
            .iter()
            .zip(segments)
            .all(|(t, s)| t.as_deref().is_none_or(|t| t == *s))
}

/// poem answers HEAD wherever GET is routed, so it is listed with it.
fn allow_value(methods: &[Method]) -> Option<HeaderValue> {
    let mut set: BTreeSet<&str> = methods.iter().map(Method::as_str).collect();
    if set.contains("GET") {
        set.insert("HEAD");
    }
    let value = set.into_iter().collect::<Vec<_>>().join(", ");
    HeaderValue::from_str(&value)
        .ok()
        .filter(|_| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_and_lists_head_with_get() {
        let spec = r#"{"paths":{"/posts":{"get":{},"post":{}},"/posts/{id}":{"get":{},"patch":{},"delete":{}}}}"#;
        let table = AllowTable::new(
            spec,
            "/api",
            &[
                ("/media/avatars/*key", &[Method::GET]),
                ("/x", &[Method::POST]),
            ],
        );
        assert_eq!(table.lookup("/api/posts").unwrap(), "GET, HEAD, POST");
        assert_eq!(
            table.lookup("/api/posts/12").unwrap(),
            "DELETE, GET, HEAD, PATCH"
        );
        assert_eq!(table.lookup("/media/avatars/a/b.png").unwrap(), "GET, HEAD");
        assert_eq!(table.lookup("/x").unwrap(), "POST");
        assert!(table.lookup("/api/posts/12/x").is_none());
        assert!(table.lookup("/media/avatars").is_none());
    }
}
