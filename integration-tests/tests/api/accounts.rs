//! Accounts: registration rules, sessions and their revocation, profiles (imported users: django_import.rs).

use integration_tests::{
    PASSWORD, TestApp, expect_problem, expect_problem_4xx, expect_status, random_suffix,
};
use serde_json::json;

async fn user_count(app: &TestApp) -> i64 {
    app.db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn usernames_are_unique_whatever_their_case_and_emails_too() {
    let app = TestApp::spawn().await;
    let name = format!("Alice_{}", random_suffix(6));
    expect_status(
        app.register(&name, &format!("{name}@example.test"), PASSWORD)
            .await,
        201,
    )
    .await;

    let upper = name.to_uppercase();
    expect_problem(
        app.register(&upper, "other@example.test", PASSWORD).await,
        409,
        "username_taken",
    )
    .await;
    expect_problem(
        app.register(
            "someone_else",
            &format!("{}@EXAMPLE.test", name.to_lowercase()),
            PASSWORD,
        )
        .await,
        409,
        "email_taken",
    )
    .await;
    assert_eq!(
        user_count(&app).await,
        1,
        "refused registrations leave no row"
    );
}

#[tokio::test]
async fn invalid_registrations_are_422_with_field_errors_and_store_nothing() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.register_per_ip.max = blog::config::units::Count::of(100)
    })
    .await;
    for (username, email, password, field) in [
        ("", "a@example.test", PASSWORD, "username"),
        ("has space", "a@example.test", PASSWORD, "username"),
        (&*"x".repeat(151), "a@example.test", PASSWORD, "username"),
        ("valid_name", "not-an-email", PASSWORD, "email"),
        ("valid_name", "a@example.test", "short", "password"),
    ] {
        let problem = expect_problem(
            app.register(username, email, password).await,
            422,
            "validation_failed",
        )
        .await;
        let errors = problem["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {problem}"));
        assert!(
            errors
                .iter()
                .any(|e| e["field"].as_str().is_some_and(|f| f.contains(field))),
            "expected an error on {field}: {problem}"
        );
    }
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn wrong_credentials_are_one_answer_for_unknown_users_and_wrong_passwords() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let wrong_password =
        expect_problem_4xx(app.login(&user.username, "wrong password!!").await).await;
    let unknown_user =
        expect_problem_4xx(app.login("nobody_at_all", "wrong password!!").await).await;
    assert_eq!(wrong_password["status"], 401);
    assert_eq!(wrong_password["code"], unknown_user["code"]);
    assert_eq!(wrong_password["detail"], unknown_user["detail"]);
}

#[tokio::test]
async fn session_tokens_work_until_logout() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let session = expect_status(app.login(&user.username, PASSWORD).await, 201).await;
    assert_eq!(
        session["token_type"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("bearer")
    );
    assert!(session["expires_at"].is_string());
    assert_eq!(session["user"]["username"], user.username.as_str());
    let token = session["token"].as_str().unwrap();
    assert!(
        token.len() >= 43,
        "a 256-bit token is at least 43 base64 characters"
    );

    // Tokens are stored hashed: the raw token appears nowhere in the database.
    let stored: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM sessions WHERE position(convert_to($1, 'UTF8') in token_hash) > 0",
            &[&token],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);

    let me = expect_status(app.get_authed("/api/me", token).await, 200).await;
    assert_eq!(me["username"], user.username.as_str());
    assert_eq!(me["email"], user.email.as_str());

    expect_status(app.delete("/api/sessions/current", Some(token)).await, 204).await;
    expect_problem(app.get_authed("/api/me", token).await, 401, "unauthorized").await;
    // The other session (from `new_user`) is untouched.
    expect_status(app.get_authed("/api/me", &user.token).await, 200).await;
}

#[tokio::test]
async fn logout_everywhere_revokes_every_session() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let second = app.token_for(&user.username, PASSWORD).await;
    expect_status(app.delete("/api/sessions", Some(&second)).await, 204).await;
    expect_problem(
        app.get_authed("/api/me", &user.token).await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.get_authed("/api/me", &second).await,
        401,
        "unauthorized",
    )
    .await;
    let left: i64 = app
        .db
        .query_one("SELECT count(*) FROM sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    // Logging in again works.
    let third = app.token_for(&user.username, PASSWORD).await;
    expect_status(app.get_authed("/api/me", &third).await, 200).await;
}

#[tokio::test]
async fn profiles_can_be_edited_and_read_publicly() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    let new_name = format!("renamed_{}", random_suffix(6));
    let updated = expect_status(
        app.patch_json(
            "/api/me",
            &json!({"username": new_name, "bio": "I write."}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["username"], new_name.as_str());
    assert_eq!(updated["bio"], "I write.");

    let public = expect_status(app.get(&format!("/api/users/{new_name}")).await, 200).await;
    assert_eq!(public["username"], new_name.as_str());
    assert_eq!(public["bio"], "I write.");
    assert!(
        public.get("email").is_none_or(|e| e.is_null()),
        "public profiles hide the email: {public}"
    );
    assert!(
        public["avatar_url"]
            .as_str()
            .is_some_and(|u| u.contains("default")),
        "{public}"
    );
    expect_problem(
        app.get(&format!("/api/users/{}", user.username)).await,
        404,
        "not_found",
    )
    .await;

    expect_problem(
        app.patch_json(
            "/api/me",
            &json!({"username": other.username.to_uppercase()}),
            Some(&user.token),
        )
        .await,
        409,
        "username_taken",
    )
    .await;
    expect_problem(
        app.patch_json("/api/me", &json!({"email": other.email}), Some(&user.token))
            .await,
        409,
        "email_taken",
    )
    .await;
    expect_problem(
        app.patch_json("/api/me", &json!({"bio": "x"}), None).await,
        401,
        "unauthorized",
    )
    .await;
}

/// `null` in a change means "keep it", as the document says (the fields are
/// `nullable`): schemathesis sends `{"email": null}` as a schema-valid
/// request, and a generated client sends `null` for an unset optional.
#[tokio::test]
async fn null_in_profile_changes_keeps_the_field() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let updated = expect_status(
        app.patch_json(
            "/api/me",
            &json!({"username": null, "email": null, "bio": "kept the rest"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["username"], user.username.as_str());
    assert_eq!(updated["email"], user.email.as_str());
    assert_eq!(updated["bio"], "kept the rest");

    let doc = expect_status(app.get("/api/openapi.json").await, 200).await;
    for field in ["username", "email", "bio"] {
        assert_eq!(
            doc["components"]["schemas"]["ProfileChanges"]["properties"][field]["nullable"], true,
            "ProfileChanges.{field} must be documented as nullable"
        );
    }
    for field in ["title", "content"] {
        assert_eq!(
            doc["components"]["schemas"]["PostChanges"]["properties"][field]["nullable"], true,
            "PostChanges.{field} must be documented as nullable"
        );
    }
}

#[tokio::test]
async fn changing_the_password_revokes_sessions() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let new_password = "a different long passphrase";
    expect_problem(
        app.put_json(
            "/api/me/password",
            &json!({"current_password": "not my password", "new_password": new_password}),
            Some(&user.token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let changed = app
        .put_json(
            "/api/me/password",
            &json!({"current_password": PASSWORD, "new_password": new_password}),
            Some(&user.token),
        )
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());
    expect_problem(
        app.get_authed("/api/me", &user.token).await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem_4xx(app.login(&user.username, PASSWORD).await).await;
    app.token_for(&user.username, new_password).await;
}

#[tokio::test]
async fn inactive_accounts_cannot_log_in_and_lose_their_sessions() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let other = app.new_user().await;
    app.db
        .execute(
            "UPDATE users SET is_active = false WHERE username = $1",
            &[&user.username],
        )
        .await
        .unwrap();
    // The same answer as a wrong password: an inactive account is not revealed.
    let inactive = expect_problem_4xx(app.login(&user.username, PASSWORD).await).await;
    let wrong = expect_problem_4xx(app.login(&other.username, "not the password").await).await;
    assert_eq!(inactive["status"], wrong["status"]);
    assert_eq!(inactive["code"], wrong["code"]);
    // A session from before the deactivation no longer authenticates.
    assert_eq!(app.get_authed("/api/me", &user.token).await.status(), 401);
    app.token_for(&other.username, PASSWORD).await;
    let last_login: Option<chrono::DateTime<chrono::Utc>> = app
        .db
        .query_one(
            "SELECT last_login_at FROM users WHERE username = $1",
            &[&other.username],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        last_login.is_some(),
        "log-ins are recorded as Django's last_login"
    );
}
