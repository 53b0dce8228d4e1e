//! The HTTP surface that needs no running Postgres or Redis: error mapping
//! of poem's own failures, input limits, probes, metrics and the OpenAPI
//! document. The pool and Redis client connect lazily, so the app is built
//! against closed ports; anything reaching them would get a 503, which these
//! tests would notice.
//!
//! Full flows against real servers live in `integration-tests/`.

use blog::config::Settings;
use blog::startup::AppState;
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem::{Endpoint, Response};
use serde_json::Value;

fn settings() -> Settings {
    let mut s = Settings::default();
    // Nothing listens on port 1: connections are refused immediately.
    s.database.host = "127.0.0.1".into();
    s.database.port = 1;
    s.redis.url = "redis://127.0.0.1:1".into();
    s.http.max_body_bytes = blog::config::units::Count::of(4096);
    s
}

fn client() -> TestClient<impl Endpoint<Output = Response>> {
    let state = AppState::new(settings()).expect("state builds without dialling anything");
    TestClient::new(blog::http::app(state))
}

async fn problem(resp: TestResponse, status: StatusCode, code: &str) -> Value {
    resp.assert_status(status);
    resp.assert_content_type("application/problem+json");
    let body: Value = resp.0.into_body().into_json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["type"], "about:blank");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

const TOKEN: &str = "Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let cli = client();
    problem(
        cli.get("/nope").send().await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        cli.put("/api/posts/1").send().await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn missing_token_is_401_before_any_database_access() {
    let cli = client();
    let resp = cli
        .post("/api/posts")
        .content_type("application/json")
        .body(r#"{"title":"t","content":"c"}"#)
        .send()
        .await;
    problem(resp, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn malformed_bodies_are_400_not_500() {
    let cli = client();
    for body in [
        r#"{"title":"t""#,                          // truncated
        r#"{"title":5,"content":"c"}"#,             // wrong type
        r#"{"title":"t"}"#,                         // missing field
        r#"{"title":"t","content":"c","extra":1}"#, // unknown field
        "\u{feff}not json",
    ] {
        let resp = cli
            .post("/api/posts")
            .header("authorization", TOKEN)
            .content_type("application/json")
            .body(body)
            .send()
            .await;
        problem(resp, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
    let invalid_utf8 = cli
        .post("/api/posts")
        .header("authorization", TOKEN)
        .content_type("application/json")
        .body(b"{\"title\":\"\xff\xfe\",\"content\":\"c\"}".to_vec())
        .send()
        .await;
    problem(invalid_utf8, StatusCode::BAD_REQUEST, "malformed_request").await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let resp = client()
        .post("/api/posts")
        .header("authorization", TOKEN)
        .content_type("text/plain")
        .body("hello")
        .send()
        .await;
    problem(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let big = format!(r#"{{"title":"t","content":"{}"}}"#, "x".repeat(5000));
    let resp = client()
        .post("/api/posts")
        .header("authorization", TOKEN)
        .content_type("application/json")
        .body(big)
        .send()
        .await;
    problem(resp, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn bad_pagination_parameters_are_400() {
    let cli = client();
    for query in ["limit=101", "limit=0", "limit=abc", "cursor=not-a-cursor"] {
        let resp = cli.get(format!("/api/posts?{query}")).send().await;
        problem(resp, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
    let resp = cli.get("/api/posts/abc").send().await;
    problem(resp, StatusCode::BAD_REQUEST, "malformed_request").await;
}

#[tokio::test]
async fn postgres_down_is_503_not_500() {
    let resp = client().get("/api/posts").send().await;
    problem(resp, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable").await;
}

#[tokio::test]
async fn probes_reflect_dependencies() {
    // Relaxing the Redis requirement never relaxes Postgres: with both down,
    // readiness fails either way and reports both. (The 200-with-Redis-down
    // case needs a real Postgres: see the unit test in `http::health`.)
    for requires_redis in [true, false] {
        let mut s = settings();
        s.http.readiness_requires_redis = requires_redis;
        let cli = TestClient::new(blog::http::app(AppState::new(s).unwrap()));
        cli.get("/healthz").send().await.assert_status_is_ok();
        let body = problem(
            cli.get("/readyz").send().await,
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        )
        .await;
        assert_eq!(
            body["checks"]["postgres"], "unavailable",
            "{requires_redis}"
        );
        assert_eq!(body["checks"]["redis"], "unavailable", "{requires_redis}");
    }
}

#[tokio::test]
async fn readiness_turns_503_once_shutdown_starts() {
    let state = AppState::new(settings()).unwrap();
    state.shutdown.trigger();
    let cli = TestClient::new(blog::http::app(state));
    let body = problem(
        cli.get("/readyz").send().await,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(body["detail"], "shutting down");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let cli = client();
    let resp = cli
        .get("/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    resp.assert_header("x-request-id", "abc-123");
    // Junk (spaces, overlong) is replaced, not echoed.
    let resp = cli
        .get("/healthz")
        .header("x-request-id", "a b")
        .send()
        .await;
    let id = resp
        .0
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "a b");
    assert!(!id.is_empty());
}

#[tokio::test]
async fn metrics_use_route_templates() {
    let state = AppState::new(settings()).expect("state");
    let cli = TestClient::new(blog::http::app(state.clone()));
    // `/metrics` has a port of its own by default: not on the API's.
    cli.get("/metrics")
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
    cli.get("/api/posts/123456").send().await;
    cli.get("/no/such/thing").send().await;
    let resp = TestClient::new(blog::http::metrics_app(state))
        .get("/metrics")
        .send()
        .await;
    resp.assert_status_is_ok();
    let text = resp.0.into_body().into_string().await.unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/posts/:param0",status="503"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains("123456"), "raw paths must not become labels");
    for name in [
        "http_request_duration_seconds_bucket",
        "db_pool_max_size",
        "redis_errors_total",
        "rate_limit_local_fallback_total",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_without_a_cdn() {
    let resp = client().get("/docs").send().await;
    resp.assert_status_is_ok();
    let html = resp.0.into_body().into_string().await.unwrap();
    assert!(html.contains("swagger"), "not the Swagger UI");
    for cdn in [
        "unpkg.com",
        "cdn.jsdelivr.net",
        "cdnjs.cloudflare.com",
        "fonts.googleapis.com",
    ] {
        assert!(!html.contains(cdn), "loads from {cdn}");
    }
}

async fn openapi_doc() -> Value {
    let resp = client().get("/api/openapi.json").send().await;
    resp.assert_status_is_ok();
    resp.0.into_body().into_json().await.unwrap()
}

/// The fields the service serialises as `null` (last page, counter down)
/// must be nullable in the schema, or clients validating responses reject
/// them (found by schemathesis), and required, since they are always sent
/// (generated clients otherwise model them as maybe missing; issue 13).
#[tokio::test]
async fn fields_sent_as_null_are_nullable_in_the_schema() {
    let doc = openapi_doc().await;
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [("PostPage", "next_cursor"), ("Post", "views")] {
        let prop = &schemas[schema]["properties"][field];
        assert_eq!(prop["nullable"], true, "{schema}.{field}: {prop}");
        let required = schemas[schema]["required"].as_array().cloned();
        assert!(
            required.unwrap_or_default().iter().any(|r| r == field),
            "{schema}.{field} is always sent: it must be required"
        );
    }
    // The other way round: a value the schema marks nullable really
    // round-trips as `null` rather than being left out.
    let page = blog::http::posts::PostPage {
        items: vec![],
        next_cursor: None.into(),
    };
    let json = serde_json::to_value(&page).unwrap();
    assert!(json["next_cursor"].is_null() && json.as_object().unwrap().contains_key("next_cursor"));
}

/// RFC 9110 §15.5.6: a 405 MUST list the methods the resource supports.
#[tokio::test]
async fn method_not_allowed_lists_the_allowed_methods() {
    let cli = client();
    let cases = [
        (
            poem::http::Method::PUT,
            "/api/posts/1",
            "DELETE, GET, HEAD, PATCH",
        ),
        (poem::http::Method::TRACE, "/api/posts", "GET, HEAD, POST"),
        (poem::http::Method::PATCH, "/api/me/avatar", "DELETE, PUT"),
        (poem::http::Method::POST, "/healthz", "GET, HEAD"),
        (poem::http::Method::DELETE, "/reset-password", "GET, HEAD"),
        (poem::http::Method::GET, "/logout/", "POST"),
        (
            poem::http::Method::PUT,
            "/post/1/update/",
            "GET, HEAD, POST",
        ),
        (
            poem::http::Method::POST,
            "/media/avatars/a/b.png",
            "GET, HEAD",
        ),
    ];
    for (method, path, allow) in cases {
        let resp = cli.request(method.clone(), path).send().await;
        assert_eq!(allow_of(&resp), allow, "{method} {path}");
        problem(resp, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    }

    // Every documented path: a method it lacks gets exactly its methods.
    let doc = openapi_doc().await;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let mut methods: Vec<String> = ops
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        if methods.iter().any(|m| m == "GET") {
            methods.push("HEAD".into());
        }
        methods.sort();
        let concrete = format!(
            "/api{}",
            path.replace("{id}", "1").replace("{username}", "someone")
        );
        let resp = cli
            .request(poem::http::Method::TRACE, &concrete)
            .send()
            .await;
        resp.assert_status(StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(allow_of(&resp), methods.join(", "), "TRACE {concrete}");
    }
}

fn allow_of(resp: &TestResponse) -> &str {
    resp.0
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
}

/// Supply chain (RUSTSEC-2026-0194, RUSTSEC-2026-0195, ignored in deny.toml):
/// poem-openapi pulls in quick-xml 0.36, whose XML parser is quadratic on
/// duplicate attribute names and allocates without bound for namespaces. That
/// code runs only when a request body is parsed as XML, so no operation may
/// accept XML: none documents an XML request body, and every operation that
/// takes a body (and every form of the website) answers a hostile XML document with
/// 415 before any parser sees it. If an XML payload is ever added, this test
/// fails and the deny.toml ignores have to go.
#[tokio::test]
async fn xml_bodies_are_refused_by_every_operation_that_takes_a_body() {
    let doc = openapi_doc().await;
    // The site's forms first: every route that takes a POST.
    let mut targets: Vec<(poem::http::Method, String)> = blog::site::ROUTES
        .iter()
        .filter(|(_, methods)| methods.contains(&poem::http::Method::POST))
        .map(|(path, _)| {
            let concrete = path.replace(":id", "1").replace(":token", "x");
            (poem::http::Method::POST, concrete)
        })
        .collect();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Some(body) = op.get("requestBody") else {
                continue;
            };
            let media_types: Vec<&String> = body["content"].as_object().unwrap().keys().collect();
            assert!(
                !media_types.iter().any(|m| m.contains("xml")),
                "{method} {path} accepts {media_types:?}"
            );
            let concrete = format!(
                "/api{}",
                path.replace("{id}", "1").replace("{username}", "someone")
            );
            targets.push((method.to_ascii_uppercase().parse().unwrap(), concrete));
        }
    }
    assert!(
        targets.len() > 8,
        "only {} operations with a body",
        targets.len()
    );

    // Both advisories' shapes in one small document (well under the body
    // limit, so 413 cannot answer first): one start tag repeating an attribute
    // name, and a pile of namespace declarations.
    let attributes: String = (0..40).map(|i| format!(r#" a="{i}""#)).collect();
    let namespaces: String = (0..40)
        .map(|i| format!(r#" xmlns:n{i}="urn:n{i}""#))
        .collect();
    let xml =
        format!(r#"<?xml version="1.0"?><post{namespaces}><title{attributes}>t</title></post>"#);
    assert!(xml.len() < 4096);

    let cli = client();
    for (method, path) in &targets {
        for content_type in ["application/xml", "text/xml", "application/atom+xml"] {
            let resp = cli
                .request(method.clone(), path)
                .header("authorization", TOKEN)
                .content_type(content_type)
                .body(xml.clone())
                .send()
                .await;
            let status = resp.0.status();
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} with {content_type}"
            );
            problem(
                resp,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
        }
    }
}
