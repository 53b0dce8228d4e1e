//! Issue 13, item 13: CORS on `/api` is off by default; with an allow-list, preflights from
//! a listed origin are answered and its answers carry the grant, others get none.

use integration_tests::{TestApp, expect_status};
use reqwest::{Method, Response};

const ALLOWED: &str = "https://app.example.org";
const OTHER: &str = "https://evil.example.net";

async fn preflight(app: &TestApp, origin: &str, method: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url("/api/posts"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

async fn get_from(app: &TestApp, origin: &str) -> Response {
    app.client
        .get(app.url("/api/posts"))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = TestApp::spawn().await;
    let answer = preflight(&app, ALLOWED, "POST").await;
    assert_ne!(answer.status(), 204);
    assert_eq!(header(&answer, "access-control-allow-origin"), None);
    let read = get_from(&app, ALLOWED).await;
    assert_eq!(read.status(), 200);
    assert_eq!(header(&read, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn listed_origins_get_preflights_and_grants_others_do_not() {
    let app = TestApp::spawn_with(|s| {
        s.http.cors_allowed_origins = format!("{ALLOWED}, http://localhost:3000").parse().unwrap();
    })
    .await;

    let answer = preflight(&app, ALLOWED, "POST").await;
    assert_eq!(answer.status(), 204);
    assert_eq!(
        header(&answer, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    let methods = header(&answer, "access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = header(&answer, "access-control-allow-headers").unwrap();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
    assert!(header(&answer, "access-control-max-age").is_some());
    assert_eq!(header(&answer, "access-control-allow-credentials"), None);

    // The real request: granted, readable headers exposed, cache keyed by origin.
    let user = app.new_user().await;
    let created = app
        .client
        .post(app.url("/api/posts"))
        .header("origin", ALLOWED)
        .bearer_auth(&user.token)
        .json(&serde_json::json!({"title": "From a browser", "content": "cross-origin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&created, "access-control-allow-origin").as_deref(),
        Some(ALLOWED)
    );
    let exposed = header(&created, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("location"), "{exposed}");
    assert!(header(&created, "vary").unwrap().contains("origin"));
    expect_status(created, 201).await;

    // Another origin: no preflight answer, no grant (the browser then blocks the call).
    let refused = preflight(&app, OTHER, "POST").await;
    assert_ne!(refused.status(), 204);
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    let read = get_from(&app, OTHER).await;
    assert_eq!(read.status(), 200);
    assert_eq!(header(&read, "access-control-allow-origin"), None);
    assert!(header(&read, "vary").unwrap().contains("origin"));

    // A method the API does not use is not granted.
    assert_ne!(preflight(&app, ALLOWED, "TRACE").await.status(), 204);
    // The site is same-origin only: no grants outside /api.
    let page = app
        .client
        .get(app.url("/"))
        .header("origin", ALLOWED)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&page, "access-control-allow-origin"), None);
}
