//! The whole story of the spec in one run, as a user would live it.

use integration_tests::{PASSWORD, TestApp, expect_problem, expect_problem_4xx, expect_status};
use serde_json::json;

use crate::avatars::{fetch_avatar, png, upload};

#[tokio::test]
async fn register_post_edit_delete_avatar_and_reset() {
    let app = TestApp::spawn().await;

    // Register and log in.
    let alice = app.new_user().await;
    let bob = app.new_user().await;

    // Write, edit, read, delete.
    let post = app
        .create_post(&alice.token, "Hello", "My first post")
        .await;
    let id = post["id"].as_i64().unwrap();
    assert_eq!(post["author"]["username"], alice.username.as_str());
    let path = format!("/api/posts/{id}");
    let edited = expect_status(
        app.patch_json(&path, &json!({"title": "Hello, world"}), Some(&alice.token))
            .await,
        200,
    )
    .await;
    assert_eq!(edited["title"], "Hello, world");
    let listed = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(listed["items"][0]["id"], id);

    // Another user is refused, anonymous is refused, a missing post is 404.
    expect_problem(
        app.patch_json(&path, &json!({"title": "mine now"}), Some(&bob.token))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_problem(app.delete(&path, Some(&bob.token)).await, 403, "forbidden").await;
    expect_problem(app.delete(&path, None).await, 401, "unauthorized").await;
    expect_problem(app.get("/api/posts/424242").await, 404, "not_found").await;

    let second = app.create_post(&alice.token, "Second", "Another").await["id"]
        .as_i64()
        .unwrap();
    expect_status(app.delete(&path, Some(&alice.token)).await, 204).await;
    expect_problem(app.get(&path).await, 404, "not_found").await;

    // Avatar: a real PNG in, at most 300×300 out.
    let me = expect_status(
        upload(&app, &alice.token, png(1024, 768), "me.png", "image/png").await,
        200,
    )
    .await;
    let (w, h) = fetch_avatar(&app, me["avatar_url"].as_str().unwrap()).await;
    assert!(w <= 300 && h <= 300, "{w}×{h}");
    let post = expect_status(app.get(&format!("/api/posts/{second}")).await, 200).await;
    assert_eq!(post["author"]["avatar_url"], me["avatar_url"]);

    // Password reset through the mail.
    let requested = app
        .post_json("/api/password-resets", &json!({"email": alice.email}), None)
        .await;
    assert_eq!(requested.status(), 202);
    let token = app.reset_token_from_mail(&alice.email, 1).await;
    let new_password = "my new long passphrase";
    let confirmed = app
        .post_json(
            "/api/password-resets/confirm",
            &json!({"token": token, "new_password": new_password}),
            None,
        )
        .await;
    assert!(confirmed.status().is_success(), "{}", confirmed.status());

    // The old session and the old password are dead; the new password works; the reset
    // token does not work twice.
    expect_problem(
        app.get_authed("/api/me", &alice.token).await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem_4xx(app.login(&alice.username, PASSWORD).await).await;
    let fresh = app.token_for(&alice.username, new_password).await;
    let me = expect_status(app.get_authed("/api/me", &fresh).await, 200).await;
    assert_eq!(me["username"], alice.username.as_str());
    let again = app
        .post_json(
            "/api/password-resets/confirm",
            &json!({"token": token, "new_password": "third passphrase here"}),
            None,
        )
        .await;
    expect_problem(again, 400, "invalid_reset_token").await;
}
