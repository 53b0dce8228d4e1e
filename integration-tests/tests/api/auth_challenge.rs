//! Issue 13, item 12: every 401 carries an RFC 6750 challenge, `WWW-Authenticate: Bearer`,
//! with `error="invalid_token"` when the token sent is no good; the document says so.

use integration_tests::{TestApp, expect_problem, expect_status};
use reqwest::Response;

fn challenge(response: &Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("401 without WWW-Authenticate from {}", response.url()))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_401_carries_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;

    // No token, or not a bearer one: the plain challenge, no error code (RFC 6750 3.1).
    let none = app.get("/api/me").await;
    assert_eq!(challenge(&none), "Bearer");
    expect_problem(none, 401, "unauthorized").await;
    let basic = app
        .client
        .get(app.url("/api/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(challenge(&basic), "Bearer");
    expect_problem(basic, 401, "unauthorized").await;

    // A token that was never issued, and one that was revoked.
    let unknown = app.get_authed("/api/me", "not-a-token-we-issued").await;
    assert_eq!(challenge(&unknown), r#"Bearer error="invalid_token""#);
    expect_problem(unknown, 401, "unauthorized").await;
    expect_status(
        app.delete("/api/sessions/current", Some(&user.token)).await,
        204,
    )
    .await;
    let revoked = app.get_authed("/api/me", &user.token).await;
    assert_eq!(challenge(&revoked), r#"Bearer error="invalid_token""#);
    expect_problem(revoked, 401, "unauthorized").await;

    // Wrong credentials: no token was involved.
    let wrong = app.login(&user.username, "not the password").await;
    assert_eq!(challenge(&wrong), "Bearer");
    expect_problem(wrong, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn the_document_describes_the_challenge_on_every_401() {
    let app = TestApp::spawn().await;
    let doc = expect_status(app.get("/api/openapi.json").await, 200).await;
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(unauthorized) = op.pointer("/responses/401") {
                seen += 1;
                assert_eq!(
                    unauthorized.pointer("/headers/WWW-Authenticate/required"),
                    Some(&serde_json::Value::Bool(true)),
                    "{method} {path}: {unauthorized}"
                );
            }
        }
    }
    assert!(seen >= 5, "only {seen} operations document a 401");
}
