//! The API contract: the OpenAPI document as served is a snapshot
//! (`tests/snapshots/`), so any change to it shows up in review
//! (`cargo insta review`, or `INSTA_UPDATE=always` to accept). And every
//! answer the framework gives before a handler runs (a body that does not
//! parse, is too large or has the wrong type; a malformed parameter; no
//! token) is one the document lists for that operation; the answers of the
//! handlers themselves are listed by construction (`http::problem`).

use blog::config::Settings;
use blog::startup::AppState;
use poem::http::Method;
use poem::test::TestClient;
use serde_json::Value;

fn state() -> AppState {
    let mut s = Settings::default();
    // Nothing listens on port 1: anything reaching the database gets a 503.
    s.database.host = "127.0.0.1".into();
    s.database.port = 1;
    s.redis.url = "redis://127.0.0.1:1".into();
    AppState::new(s).expect("state builds without dialling anything")
}

fn document() -> Value {
    serde_json::from_str(&blog::http::openapi_json(&blog::http::openapi_service())).unwrap()
}

#[test]
fn the_openapi_document_is_the_reviewed_one() {
    insta::assert_json_snapshot!("openapi", document());
}

/// Sends, to every operation of the document, each kind of request the
/// framework refuses before the handler, and checks the answer's status is
/// one the operation documents; the middleware's undocumented-answer
/// counter must stay at 0 throughout.
#[tokio::test]
async fn every_answer_the_framework_gives_is_documented() {
    let state = state();
    let metrics = state.metrics.clone();
    let cli = TestClient::new(blog::http::app(state));
    let doc = document();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let documented: Vec<u16> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|s| s.parse().unwrap())
                .collect();
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let concrete = |id: &str| {
                format!(
                    "/api{}",
                    path.replace("{id}", id).replace("{username}", "someone")
                )
            };
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.keys().any(|k| k.starts_with("application/json")));
            let secured = op["security"].is_array();
            let mut attempts: Vec<(&str, poem::test::TestRequestBuilder<'_, _>)> = vec![(
                "as is",
                cli.request(method.clone(), concrete("1"))
                    .header("authorization", "Bearer not-a-real-token")
                    .content_type("application/json")
                    .body("{}"),
            )];
            if secured {
                attempts.push((
                    "without a token",
                    cli.request(method.clone(), concrete("1")),
                ));
            }
            if path.contains("{id}") {
                attempts.push((
                    "with a malformed id",
                    cli.request(method.clone(), concrete("abc")),
                ));
            }
            if json_body {
                for (what, content_type, body) in [
                    ("with bad JSON", "application/json", "{\"x\":".to_string()),
                    ("as text/plain", "text/plain", "hello".to_string()),
                    (
                        "with a body over the limit",
                        "application/json",
                        format!("{{\"x\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)),
                    ),
                ] {
                    attempts.push((
                        what,
                        cli.request(method.clone(), concrete("1"))
                            .header("authorization", "Bearer not-a-real-token")
                            .content_type(content_type)
                            .body(body),
                    ));
                }
            }
            for (what, request) in attempts {
                let status = request.send().await.0.status().as_u16();
                assert!(
                    documented.contains(&status),
                    "{method} {path} {what}: answered {status}, documents {documented:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} requests checked");
    assert_eq!(metrics.http_undocumented_responses_total.get(), 0);
}

/// The counter itself works: an answer the document does not list is
/// counted (here a 405 is not an operation of the document, so it is not;
/// a 404 for an unknown post id is listed, so it is not either).
#[tokio::test]
async fn undocumented_answers_are_counted() {
    let table = blog::http::allow::DocumentedStatuses::new(
        &blog::http::openapi_json(&blog::http::openapi_service()),
        "/api",
    );
    assert_eq!(
        table.is_documented(&Method::GET, "/api/posts/1", 404),
        Some(true)
    );
    assert_eq!(
        table.is_documented(&Method::GET, "/api/posts/1", 409),
        Some(false)
    );
    assert_eq!(table.is_documented(&Method::PUT, "/api/posts/1", 405), None);
}
