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

/// The statuses the OpenAPI document lists for each operation, so that the
/// request middleware can notice an answer the document does not mention
/// (counted in `http_undocumented_responses_total`; the tests require 0).
pub struct DocumentedStatuses {
    routes: Vec<(Template, Vec<Answers>)>,
}

/// A path template: literal segments, `None` for a parameter.
type Template = Vec<Option<String>>;
/// The statuses documented for one method.
type Answers = (Method, Vec<u16>);

impl DocumentedStatuses {
    pub fn new(spec: &str, prefix: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut routes = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let ops = item
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(method, op)| {
                    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()?;
                    let statuses = op["responses"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|(status, _)| status.parse().ok())
                        .collect();
                    Some((method, statuses))
                })
                .collect();
            routes.push((template(&format!("{prefix}{path}")), ops));
        }
        Self { routes }
    }

    /// `Some(false)` when `path` is a documented operation for `method` and
    /// `status` is not among its documented answers; `None` when the
    /// request is not a documented operation at all (unknown path, method
    /// not allowed).
    pub fn is_documented(&self, method: &Method, path: &str, status: u16) -> Option<bool> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let (_, ops) = self
            .routes
            .iter()
            .find(|(tpl, _)| matches(tpl, &segments))?;
        let (_, statuses) = ops.iter().find(|(m, _)| m == method)?;
        Some(statuses.contains(&status))
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
    fn documented_statuses_are_looked_up_by_template_and_method() {
        let spec = r#"{"paths":{"/posts/{id}":{"get":{"responses":{"200":{},"404":{}}}}}}"#;
        let table = DocumentedStatuses::new(spec, "/api");
        assert_eq!(
            table.is_documented(&Method::GET, "/api/posts/7", 404),
            Some(true)
        );
        assert_eq!(
            table.is_documented(&Method::HEAD, "/api/posts/7", 200),
            Some(true)
        );
        assert_eq!(
            table.is_documented(&Method::GET, "/api/posts/7", 500),
            Some(false)
        );
        assert_eq!(table.is_documented(&Method::PUT, "/api/posts/7", 405), None);
        assert_eq!(table.is_documented(&Method::GET, "/api/nope", 404), None);
    }

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
