//! Hostile and broken requests: always a 4xx problem document with a `code`, never a 500,
//! and nothing half-written.

use integration_tests::{TestApp, expect_problem, expect_problem_4xx};
use serde_json::json;

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    app.db
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn broken_json_bodies_are_400_malformed_request() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let json_type = "application/json";
    let post = reqwest::Method::POST;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", br#"{"title": "a", "content": "#.to_vec()),
        ("not json", b"title=a&content=b".to_vec()),
        ("empty", Vec::new()),
        ("array", b"[]".to_vec()),
        ("wrong types", br#"{"title": 5, "content": ["b"]}"#.to_vec()),
        ("missing field", br#"{"title": "a"}"#.to_vec()),
        (
            "unknown field",
            br#"{"title": "a", "content": "b", "author_id": 1}"#.to_vec(),
        ),
        ("null", br#"{"title": null, "content": "b"}"#.to_vec()),
        (
            "bad utf-8",
            b"{\"title\": \"\xff\xfe\", \"content\": \"b\"}".to_vec(),
        ),
        (
            "nested deep",
            format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        ),
    ];
    for (name, body) in cases {
        let response = raw(
            &app,
            post.clone(),
            "/api/posts",
            json_type,
            body,
            Some(&user.token),
        )
        .await;
        let problem = expect_problem_4xx(response).await;
        assert_eq!(problem["status"], 400, "{name}: {problem}");
        assert_eq!(problem["code"], "malformed_request", "{name}: {problem}");
    }
    let register_cases: Vec<&[u8]> = vec![
        br#"{"username": "x"#,
        br#"{"username": 1, "email": "a@b.test", "password": "long enough pass"}"#,
        br#"{"username": "ok_name", "email": "a@b.test", "password": "long enough pass", "is_admin": true}"#,
        b"{\"username\": \"\xc3\x28\", \"email\": \"a@b.test\", \"password\": \"long enough pass\"}",
    ];
    for body in register_cases {
        let response = raw(
            &app,
            post.clone(),
            "/api/users",
            json_type,
            body.to_vec(),
            None,
        )
        .await;
        expect_problem(response, 400, "malformed_request").await;
    }
    assert_eq!(rows(&app, "posts").await, 0);
    assert_eq!(rows(&app, "users").await, 1, "only the fixture user exists");
}

#[tokio::test]
async fn wrong_content_types_are_415() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let body = serde_json::to_vec(&json!({"title": "a", "content": "b"})).unwrap();
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let response = raw(
            &app,
            reqwest::Method::POST,
            "/api/posts",
            content_type,
            body.clone(),
            Some(&user.token),
        )
        .await;
        expect_problem(response, 415, "unsupported_media_type").await;
    }
    let no_type = app
        .client
        .post(app.url("/api/posts"))
        .bearer_auth(&user.token)
        .body(body)
        .send()
        .await
        .unwrap();
    expect_problem_4xx(no_type).await;
    assert_eq!(rows(&app, "posts").await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app =
        TestApp::spawn_with(|s| s.http.max_body_bytes = blog::config::units::Count::of(64 * 1024))
            .await;
    let user = app.new_user().await;
    let huge =
        serde_json::to_vec(&json!({"title": "big", "content": "x".repeat(200_000)})).unwrap();
    let response = raw(
        &app,
        reqwest::Method::POST,
        "/api/posts",
        "application/json",
        huge.clone(),
        Some(&user.token),
    )
    .await;
    expect_problem(response, 413, "payload_too_large").await;
    // Also when the client does not announce the length (chunked).
    let stream = futures::stream::iter(
        huge.chunks(8192)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let chunked = app
        .client
        .post(app.url("/api/posts"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    expect_problem(chunked, 413, "payload_too_large").await;
    assert_eq!(rows(&app, "posts").await, 0);
}

#[tokio::test]
async fn bad_paths_parameters_and_methods_are_4xx() {
    let app = TestApp::spawn().await;
    expect_problem(app.get("/api/nothing-here").await, 404, "not_found").await;
    expect_problem(app.get("/no/such/page").await, 404, "not_found").await;
    for path in [
        "/api/posts/abc",
        "/api/posts/1.5",
        "/api/posts/99999999999999999999999",
    ] {
        let problem = expect_problem_4xx(app.get(path).await).await;
        assert!(
            problem["status"] == 400 || problem["status"] == 404,
            "{path}: {problem}"
        );
    }
    let problem =
        expect_problem_4xx(app.client.put(app.url("/api/posts")).send().await.unwrap()).await;
    assert_eq!(problem["status"], 405, "{problem}");
    assert_eq!(problem["code"], "method_not_allowed");
    // Malformed Authorization headers are 401, never 500.
    for header in [
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer \u{7f}",
        "bearer  x y z",
    ] {
        let response = app
            .client
            .post(app.url("/api/posts"))
            .header("authorization", header)
            .json(&json!({"title": "t", "content": "c"}))
            .send()
            .await;
        if let Ok(response) = response {
            expect_problem(response, 401, "unauthorized").await;
        }
    }
    expect_problem(
        app.get_authed("/api/me", &"x".repeat(5000)).await,
        401,
        "unauthorized",
    )
    .await;
}
