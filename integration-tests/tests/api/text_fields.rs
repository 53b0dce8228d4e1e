//! Issue 13, item 4: NUL, C0/C1 control characters and bidirectional formatting, field by
//! field over the API (docs/contracts.md, "Text fields"). The site's forms call the same
//! use cases.

use integration_tests::{PASSWORD, TestApp, expect_problem, expect_status, random_suffix};
use reqwest::Response;
use serde_json::{Value, json};

const NUL: &str = "\0";
/// C0 (escape), DEL and C1 (control sequence introducer).
const CONTROLS: [&str; 3] = ["\u{1b}", "\u{7f}", "\u{9b}"];
/// Right-to-left override and a right-to-left isolate.
const BIDI: [&str; 2] = ["\u{202E}", "\u{2067}"];

/// A 422 `validation_failed` naming `field`.
async fn refused(response: Response, field: &str, what: &str) {
    let problem = expect_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.iter().any(|f| f.ends_with(field)),
        "{what}: expected an error on {field}: {problem}"
    );
}

fn refused_in_every_field() -> Vec<&'static str> {
    [NUL].into_iter().chain(CONTROLS).chain(BIDI).collect()
}

#[tokio::test]
async fn account_fields_refuse_controls_and_bidi_formatting() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.register_per_ip = blog::config::Limit::new(1000, 3600);
        s.rate_limit.password_reset_per_ip = blog::config::Limit::new(1000, 3600);
        // Every refused password change counts as a guess of the current one.
        s.rate_limit.login_per_account = blog::config::Limit::new(1000, 3600);
    })
    .await;
    let user = app.new_user().await;
    let fresh = || format!("t_{}", random_suffix(8));

    for c in refused_in_every_field() {
        let what = format!("{c:?}");
        let name = fresh();
        refused(
            app.register(
                &format!("{name}{c}"),
                &format!("{name}@example.test"),
                PASSWORD,
            )
            .await,
            "username",
            &what,
        )
        .await;
        refused(
            app.register(&name, &format!("{name}{c}@example.test"), PASSWORD)
                .await,
            "email",
            &what,
        )
        .await;
        for (field, value) in [
            ("username", json!(format!("{name}{c}"))),
            ("email", json!(format!("{name}@exam{c}ple.test"))),
            ("bio", json!(format!("my{c}bio"))),
        ] {
            refused(
                app.patch_json("/api/me", &json!({ field: value }), Some(&user.token))
                    .await,
                field,
                &what,
            )
            .await;
        }
        refused(
            app.post_json(
                "/api/password-resets",
                &json!({"email": format!("{name}{c}@example.test")}),
                None,
            )
            .await,
            "email",
            &what,
        )
        .await;
    }
    // Passwords are never displayed: controls are refused, bidirectional formatting is not.
    for c in [NUL].into_iter().chain(CONTROLS).chain(["\t", "\n"]) {
        let what = format!("{c:?}");
        let name = fresh();
        refused(
            app.register(
                &name,
                &format!("{name}@example.test"),
                &format!("{PASSWORD}{c}"),
            )
            .await,
            "password",
            &what,
        )
        .await;
        refused(
            app.put_json(
                "/api/me/password",
                &json!({"current_password": PASSWORD, "new_password": format!("{PASSWORD}{c}")}),
                Some(&user.token),
            )
            .await,
            "new_password",
            &what,
        )
        .await;
    }
    let name = fresh();
    expect_status(
        app.register(
            &name,
            &format!("{name}@example.test"),
            &format!("{PASSWORD}{}", BIDI[0]),
        )
        .await,
        201,
    )
    .await;
    // Long text keeps tab and line breaks (forms send CRLF) and the harmless marks.
    let me = expect_status(
        app.patch_json(
            "/api/me",
            &json!({"bio": "one\ttwo\r\nthree\u{200F}"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(me["bio"], "one\ttwo\r\nthree\u{200F}");
}

/// PBKDF2 pads the key with zeros, so `pw\0` would verify as `pw`: refused instead.
#[tokio::test]
async fn a_password_with_trailing_nul_does_not_log_in() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    for password in [format!("{PASSWORD}\0"), format!("{PASSWORD}\0\0\0")] {
        expect_problem(
            app.login(&user.username, &password).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    refused(
        app.put_json(
            "/api/me/password",
            &json!({"current_password": format!("{PASSWORD}\0"), "new_password": "another secret 1"}),
            Some(&user.token),
        )
        .await,
        "current_password",
        "NUL in the current password",
    )
    .await;
    // The reset form refuses a new password with NUL too, and the token stays usable.
    expect_status(
        app.post_json("/api/password-resets", &json!({"email": user.email}), None)
            .await,
        202,
    )
    .await;
    let token = app.reset_token_from_mail(&user.email, 1).await;
    refused(
        confirm(&app, &token, &format!("{PASSWORD}\0")).await,
        "new_password",
        "NUL",
    )
    .await;
    expect_status(confirm(&app, &token, "a fresh password 2").await, 204).await;
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> Response {
    app.post_json(
        "/api/password-resets/confirm",
        &json!({"token": token, "new_password": password}),
        None,
    )
    .await
}

#[tokio::test]
async fn post_fields_refuse_controls_and_titles_refuse_bidi_formatting() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let post = app
        .create_post(&user.token, "A title", "Some content")
        .await;
    let path = format!("/api/posts/{}", post["id"]);
    for c in [NUL].into_iter().chain(CONTROLS) {
        let what = format!("{c:?}");
        for (field, body) in [
            (
                "title",
                json!({"title": format!("a{c}b"), "content": "fine"}),
            ),
            (
                "content",
                json!({"title": "fine", "content": format!("a{c}b")}),
            ),
        ] {
            refused(
                app.post_json("/api/posts", &body, Some(&user.token)).await,
                field,
                &what,
            )
            .await;
            let patch: Value = json!({ field: body[field] });
            refused(
                app.patch_json(&path, &patch, Some(&user.token)).await,
                field,
                &what,
            )
            .await;
        }
    }
    for c in BIDI {
        let what = format!("{c:?}");
        let body = json!({"title": format!("a{c}b"), "content": "fine"});
        refused(
            app.post_json("/api/posts", &body, Some(&user.token)).await,
            "title",
            &what,
        )
        .await;
        // Right-to-left authors need them in the body.
        let created = app
            .create_post(&user.token, "fine", &format!("a{c}b"))
            .await;
        assert_eq!(created["content"], format!("a{c}b"));
    }
    let kept = app.create_post(&user.token, "Tabs", "a\tb\r\nc\nd").await;
    assert_eq!(kept["content"], "a\tb\r\nc\nd");
}
