//! Accounts through the site: register, log in and out, sessions shared
//! with the API, the profile with its picture, password reset by mail, and
//! the rate limits.

use integration_tests::{PASSWORD, TestApp, expect_status, random_suffix};
use reqwest::StatusCode;

use super::Web;

#[tokio::test]
async fn register_log_in_and_out() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    let name = format!("newbie_{}", random_suffix(6));
    let done = web.register(&name).await;
    assert_eq!(done.location(), "/login/");
    web.get("/login/")
        .await
        .assert_contains("Your account has been created! You are now able to log in.");

    let wrong = web.login(&name, "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    wrong.assert_contains("Please enter a correct username");
    wrong.assert_contains(&format!("value=\"{name}\""));

    let ok = web.login(&name, PASSWORD).await;
    assert_eq!(ok.location(), "/");
    let cookie = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("session="))
        .expect("a session cookie");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let home = web.get("/").await;
    home.assert_contains(&format!("Profile ({name})"));

    // The browser session is a row like the API's, revoked on log-out.
    assert_eq!(sessions(&app, &name).await, 1);
    let csrf = home.csrf();
    let out = web.post("/logout/", &[("csrf", &csrf)]).await;
    assert_eq!(out.location(), "/");
    assert_eq!(sessions(&app, &name).await, 0);
    let after = web.get("/").await;
    after.assert_contains("You have been logged out.");
    after.assert_contains("href=\"/login/\"");

    // Taken names and mismatched passwords are said next to the field.
    let again = web.register(&name).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    again.assert_contains("A user with that username already exists.");
    let mismatch = web
        .submit(
            "/register/",
            "/register/",
            &[
                ("username", "someone_else"),
                ("email", "someone@example.test"),
                ("password1", PASSWORD),
                ("password2", "different"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    mismatch.assert_contains("didn’t match");
    mismatch.assert_contains("value=\"someone@example.test\"");
}

async fn sessions(app: &TestApp, username: &str) -> i64 {
    app.db
        .query_one(
            "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.username = $1",
            &[&username],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
}

#[tokio::test]
async fn after_log_in_only_local_paths_are_followed() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    for (next, expected) in [
        ("/post/new/", "/post/new/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ] {
        let web = Web::new(&app);
        let form = web.get(&format!("/login/?next={}", urlencode(next))).await;
        let csrf = form.csrf();
        let done = web
            .post(
                "/login/",
                &[
                    ("csrf", &csrf),
                    ("username", &user.username),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(done.location(), expected, "next={next}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn sessions_are_shared_with_the_api_and_revoked_together() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    let name = web.new_user().await;
    let api_token = app.token_for(&name, PASSWORD).await;

    // "Log out everywhere" on the site ends the API token too.
    let csrf = web.get("/profile/").await.csrf();
    let out = web.post("/logout/everywhere/", &[("csrf", &csrf)]).await;
    assert_eq!(out.location(), "/");
    assert_eq!(app.get_authed("/api/me", &api_token).await.status(), 401);
    assert_eq!(
        web.get("/profile/").await.location(),
        "/login/?next=/profile/"
    );

    // A password change through the API ends the browser session.
    assert_eq!(web.login(&name, PASSWORD).await.location(), "/");
    let token = app.token_for(&name, PASSWORD).await;
    expect_status(
        app.put_json(
            "/api/me/password",
            &serde_json::json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
            Some(&token),
        )
        .await,
        204,
    )
    .await;
    assert_eq!(
        web.get("/profile/").await.location(),
        "/login/?next=/profile/"
    );
}

#[tokio::test]
async fn the_profile_page_updates_details_and_picture() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    let name = web.new_user().await;
    let page = web.get("/profile/").await;
    page.assert_contains("src=\"/media/avatars/default.png\"");
    page.assert_contains("alt=\"Your current profile picture\"");
    let csrf = page.csrf();

    let png = tiny_png();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.clone())
        .text("username", format!("{name}_x"))
        .text("email", format!("{name}@example.test"))
        .text("bio", "Writes things.")
        .part(
            "image",
            reqwest::multipart::Part::bytes(png)
                .file_name("me.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let done = super::page(
        web.client
            .post(app.url("/profile/"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(done.location(), "/profile/");
    let page = web.get("/profile/").await;
    page.assert_contains("Your account has been updated.");
    page.assert_contains(&format!("<h1>{name}_x</h1>"));
    page.assert_contains("Writes things.");
    let avatar = super::pages::between(&page.html, "<img class=\"avatar\" src=\"", "\"");
    assert!(avatar.starts_with("/media/avatars/") && avatar != "/media/avatars/default.png");
    let image = web.client.get(app.url(&avatar)).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");

    // A bad picture (text named .png) comes back with a message; nothing
    // changes, not even the other fields sent with it.
    let csrf = page.csrf();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("username", "renamed_by_a_bad_upload")
        .text("email", format!("{name}@example.test"))
        .text("bio", "")
        .part(
            "image",
            reqwest::multipart::Part::bytes(b"definitely not an image".to_vec())
                .file_name("evil.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let refused = super::page(
        web.client
            .post(app.url("/profile/"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains("Upload a PNG, JPEG or WebP image.");
    refused.assert_contains("value=\"renamed_by_a_bad_upload\"");
    let page = web.get("/profile/").await;
    page.assert_contains(&format!("<h1>{name}_x</h1>"));
    page.assert_contains(&avatar);
    page.assert_contains("Writes things.");

    // A bio with a control character is refused next to the field.
    let csrf = page.csrf();
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("username", format!("{name}_x"))
        .text("email", format!("{name}@example.test"))
        .text("bio", "bell\u{7}");
    let refused = super::page(
        web.client
            .post(app.url("/profile/"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused.assert_contains("id=\"bio-error\"");
}

/// A 2×2 PNG.
fn tiny_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(2, 2, |x, y| image::Rgb([x as u8 * 100, y as u8 * 100, 50]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

#[tokio::test]
async fn password_reset_through_the_pages_and_the_mail() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let web = Web::new(&app);
    let asked = web
        .submit(
            "/password-reset/",
            "/password-reset/",
            &[("email", &user.email)],
        )
        .await;
    assert_eq!(asked.location(), "/password-reset/done/");
    web.get("/password-reset/done/")
        .await
        .assert_contains("Check your mail");

    let mail = app
        .mails_to(&user.email, 1)
        .await
        .pop()
        .expect("a reset mail");
    let token = integration_tests::test_app::reset_token(&mail);
    let link = format!("http://blog.test/password-reset-confirm/{token}/");
    assert!(mail.text().contains(&link), "{}", mail.text());
    let path = format!("/password-reset-confirm/{token}/");
    let form = web.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.header("cache-control"), "no-store");
    form.assert_contains("Choose a new password");

    let mismatch = web
        .submit(
            &path,
            &path,
            &[
                ("new_password1", "new passphrase 1"),
                ("new_password2", "other"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    let weak = web
        .submit(
            &path,
            &path,
            &[
                ("new_password1", "12345678901"),
                ("new_password2", "12345678901"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    weak.assert_contains("This field must not be entirely numeric.");
    let done = web
        .submit(
            &path,
            &path,
            &[
                ("new_password1", "new passphrase 1"),
                ("new_password2", "new passphrase 1"),
            ],
        )
        .await;
    assert_eq!(done.location(), "/password-reset-complete/");
    web.get("/password-reset-complete/")
        .await
        .assert_contains("Your password has been set");
    assert_eq!(
        web.login(&user.username, "new passphrase 1")
            .await
            .location(),
        "/"
    );
    // The old API token died with the reset.
    assert_eq!(app.get_authed("/api/me", &user.token).await.status(), 401);

    // The link works once.
    let used = web.get(&path).await;
    assert_eq!(used.status, StatusCode::BAD_REQUEST);
    used.assert_contains("Invalid reset link");
    // Old mails' links still land on the page; junk does not reach a header.
    let old = web.get(&format!("/reset-password?token={token}")).await;
    assert_eq!(old.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(old.location(), path);
    let junk = web
        .get("/reset-password?token=%22%3E%3Cscript%3Ealert(1)%3C/script%3E")
        .await;
    assert_eq!(junk.location(), "/password-reset/");
    let hostile = web.get("/password-reset-confirm/%3Cscript%3E/").await;
    assert_eq!(hostile.status, StatusCode::BAD_REQUEST);
    assert!(!hostile.html.contains("<script>"));
}

#[tokio::test]
async fn the_log_in_page_shows_the_wait_when_rate_limited() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.login_per_account = blog::config::Limit::new(2, 600);
    })
    .await;
    let user = app.new_user().await;
    let web = Web::new(&app);
    let mut last = None;
    for _ in 0..3 {
        last = Some(web.login(&user.username, "wrong password!").await);
    }
    let page = last.unwrap();
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = page.header("retry-after").parse().unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
    page.assert_contains("Too many attempts. Try again in");
}
