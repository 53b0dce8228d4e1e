//! Probes, metrics, the OpenAPI document and the bundled docs page.

use integration_tests::{TestApp, expect_status};

#[tokio::test]
async fn liveness_and_readiness_report_ok() {
    let app = TestApp::spawn().await;
    expect_status(app.get("/healthz").await, 200).await;
    let ready = expect_status(app.get("/readyz").await, 200).await;
    assert_eq!(ready["checks"]["postgres"], "ok", "{ready}");
    assert_eq!(ready["checks"]["redis"], "ok", "{ready}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    expect_status(app.get("/api/posts").await, 200).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    let line = text
        .lines()
        .find(|l| l.starts_with("http_requests_total{") && l.contains("200"))
        .unwrap_or_else(|| panic!("no http_requests_total sample with status 200:\n{text}"));
    assert!(line.contains("/api/posts"), "route label missing: {line}");
    assert!(
        text.contains("http_request_duration_seconds"),
        "latency histogram missing"
    );
}

/// Issue 13, item 6: by default `/metrics` has a port of its own, so whatever reaches the
/// API (the compose proxy, the Ingress) cannot read it.
#[tokio::test]
async fn metrics_are_served_on_their_own_port_not_the_api_s() {
    let port = integration_tests::free_port();
    let app = TestApp::spawn_with(|s| {
        s.http.metrics_port = blog::config::units::Count::of(u64::from(port));
    })
    .await;
    expect_status(app.get("/api/posts").await, 200).await;
    let on_api = app.get("/metrics").await;
    assert_eq!(
        on_api.status(),
        404,
        "/metrics must not be on the API's port"
    );
    let response = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("http_requests_total{") && l.contains("/api/posts")),
        "{text}"
    );
    // Only /metrics there: the API is not reachable through the metrics port.
    let api = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/posts"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
}

/// The document itself is a reviewed snapshot (`app/tests/openapi.rs`);
/// here only that the running server serves it in both formats.
#[tokio::test]
async fn openapi_document_is_served_as_json_and_yaml() {
    let app = TestApp::spawn().await;
    let doc = expect_status(app.get("/api/openapi.json").await, 200).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "not OpenAPI 3: {}",
        doc["openapi"]
    );
    let yaml = app.get("/api/openapi.yaml").await;
    assert_eq!(yaml.status(), 200);
    assert!(yaml.text().await.unwrap().contains("openapi:"));
}

/// The `src`/`href` values of `<script>` and `<link>` tags.
fn asset_urls(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    for tag in ["<script", "<link"] {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(tag) {
            let start = from + pos;
            let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
            let element = &html[start..end];
            for attr in ["src=", "href="] {
                if let Some(a) = element.to_ascii_lowercase().find(attr) {
                    let value = element[a + attr.len()..]
                        .trim_start_matches(['"', '\''])
                        .split(['"', '\'', ' '])
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    urls.push(value);
                }
            }
            from = end;
        }
    }
    urls
}

#[tokio::test]
async fn docs_page_is_self_contained() {
    let app = TestApp::spawn().await;
    let mut response = app.get("/docs").await;
    if response.status().is_redirection() {
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        response = app.get(&location).await;
    }
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.unwrap();
    assert!(
        html.to_ascii_lowercase().contains("swagger"),
        "not Swagger UI"
    );
    for url in asset_urls(&html) {
        assert!(
            !url.starts_with("http:") && !url.starts_with("https:") && !url.starts_with("//"),
            "/docs loads an external asset: {url}"
        );
    }
}

#[test]
fn asset_url_scan_finds_external_scripts() {
    // The scanner above must be able to fail.
    let html = r#"<link rel="stylesheet" href="https://cdn.example/ui.css"><script src='//cdn.example/ui.js'></script><script>inline()</script>"#;
    assert_eq!(
        asset_urls(html),
        vec![
            "//cdn.example/ui.js".to_owned(),
            "https://cdn.example/ui.css".to_owned()
        ]
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let generated = app.get("/api/posts").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());
    let other = app.get("/api/nothing-here").await;
    assert_ne!(
        other.headers()["x-request-id"].to_str().unwrap(),
        id,
        "one id per request"
    );

    let sane = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "from-the-proxy.42")
        .send()
        .await
        .unwrap();
    assert_eq!(sane.headers()["x-request-id"], "from-the-proxy.42");
    // Anything else is replaced, so logs cannot be forged through it.
    let hostile = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "a b\tc")
        .send()
        .await
        .unwrap();
    let replaced = hostile.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(replaced, "a b\tc");
    assert!(!replaced.is_empty());
}
