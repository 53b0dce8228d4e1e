//! Password reset by email, over real SMTP to the mail catcher.

use std::time::Duration;

use integration_tests::{PASSWORD, TestApp, expect_problem, expect_problem_4xx};
use serde_json::json;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn request_reset(app: &TestApp, email: &str) -> (u16, String) {
    let response = app
        .post_json("/api/password-resets", &json!({"email": email}), None)
        .await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/password-resets/confirm",
        &json!({"token": token, "new_password": password}),
        None,
    )
    .await
}

#[tokio::test]
async fn unknown_emails_get_the_same_answer_and_no_mail() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let known = request_reset(&app, &user.email).await;
    let unknown_email = format!(
        "nobody-{}@example.test",
        integration_tests::random_suffix(6)
    );
    let unknown = request_reset(&app, &unknown_email).await;
    assert_eq!(known.0, 202);
    assert_eq!(
        known, unknown,
        "the answer must not reveal whether the account exists"
    );

    assert_eq!(app.mails_to(&user.email, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(app.infra.mail.mails_to(&unknown_email).await.is_empty());
}

#[tokio::test]
async fn reset_sets_the_password_revokes_sessions_and_is_single_use() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let (status, _) = request_reset(&app, &user.email.to_uppercase()).await;
    assert_eq!(status, 202);
    let mail = app
        .mails_to(&user.email, 1)
        .await
        .pop()
        .expect("a reset mail");
    assert!(
        mail.text()
            .contains("http://blog.test/password-reset-confirm/"),
        "link uses the public URL"
    );
    let token = integration_tests::test_app::reset_token(&mail);
    assert!(token.len() >= 43, "token too short: {token}");

    // The token is stored hashed.
    let raw_stored: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM password_resets WHERE position(convert_to($1, 'UTF8') in token_hash) > 0",
            &[&token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(raw_stored, 0);

    // A password the rules refuse leaves the token usable.
    expect_problem(
        confirm(&app, &token, "short").await,
        422,
        "validation_failed",
    )
    .await;
    let ok = confirm(&app, &token, NEW_PASSWORD).await;
    assert!(ok.status().is_success(), "{}", ok.status());

    expect_problem(
        app.get_authed("/api/me", &user.token).await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem_4xx(app.login(&user.username, PASSWORD).await).await;
    app.token_for(&user.username, NEW_PASSWORD).await;
    expect_problem(
        confirm(&app, &token, "yet another passphrase").await,
        400,
        "invalid_reset_token",
    )
    .await;
    app.token_for(&user.username, NEW_PASSWORD).await;
}

#[tokio::test]
async fn bogus_expired_and_superseded_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    expect_problem(
        confirm(&app, "made-up-token", NEW_PASSWORD).await,
        400,
        "invalid_reset_token",
    )
    .await;

    request_reset(&app, &user.email).await;
    request_reset(&app, &user.email).await;
    let mails = app.mails_to(&user.email, 2).await;
    assert_eq!(mails.len(), 2);
    let first = integration_tests::test_app::reset_token(&mails[0]);
    let second = integration_tests::test_app::reset_token(&mails[1]);
    assert_ne!(first, second);

    // Expire every outstanding token.
    app.db
        .execute(
            "UPDATE password_resets SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    expect_problem(
        confirm(&app, &first, NEW_PASSWORD).await,
        400,
        "invalid_reset_token",
    )
    .await;

    request_reset(&app, &user.email).await;
    let third = integration_tests::test_app::reset_token(&app.mails_to(&user.email, 3).await[2]);
    assert!(
        confirm(&app, &third, NEW_PASSWORD)
            .await
            .status()
            .is_success()
    );
    // Using one token retires the others.
    app.db
        .execute(
            "UPDATE password_resets SET expires_at = now() + interval '1 hour'",
            &[],
        )
        .await
        .unwrap();
    expect_problem(
        confirm(&app, &second, "other passphrase here").await,
        400,
        "invalid_reset_token",
    )
    .await;
    app.token_for(&user.username, NEW_PASSWORD).await;
}

#[tokio::test]
async fn malformed_reset_requests_are_4xx() {
    let app = TestApp::spawn().await;
    expect_problem_4xx(
        app.post_json(
            "/api/password-resets",
            &json!({"email": "not an email"}),
            None,
        )
        .await,
    )
    .await;
    expect_problem_4xx(
        app.post_json("/api/password-resets", &json!({}), None)
            .await,
    )
    .await;
    expect_problem_4xx(
        app.post_json("/api/password-resets/confirm", &json!({"token": 5}), None)
            .await,
    )
    .await;
}
