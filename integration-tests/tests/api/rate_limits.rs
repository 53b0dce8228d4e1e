//! Rate limits on log-in, registration and password reset (Redis-backed).

use integration_tests::{TestApp, expect_problem, expect_status};
use serde_json::json;

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("429 carries a numeric Retry-After")
}

#[tokio::test]
async fn repeated_failed_logins_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.login_per_account = blog::config::Limit::new(3, 60);
    })
    .await;
    let user = app.new_user().await; // one successful log-in counts too
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..6 {
        let response = app.login(&user.username, "wrong password!!").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.unwrap_or_else(|| panic!("never rate limited: {statuses:?}"));
    assert!(
        statuses.contains(&401),
        "wrong passwords are 401 first: {statuses:?}"
    );
    let seconds = retry_after(&limited);
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    expect_problem(limited, 429, "rate_limited").await;
    // The right password is limited too while the window lasts (per account, not per
    // failure), and from another client address as well.
    let other_ip = app
        .client
        .post(app.url("/api/sessions"))
        .header("x-forwarded-for", "192.0.2.77")
        .json(&json!({"username": user.username, "password": integration_tests::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(other_ip.status(), 429);
    // Other accounts are unaffected.
    let other = app.new_user().await;
    expect_status(app.get_authed("/api/me", &other.token).await, 200).await;
}

#[tokio::test]
async fn registrations_per_address_are_limited() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.register_per_ip.max = blog::config::units::Count::of(2)
    })
    .await;
    app.new_user().await;
    app.new_user().await;
    let response = app
        .register(
            "third_user",
            "third@example.test",
            integration_tests::PASSWORD,
        )
        .await;
    assert_eq!(response.status(), 429);
    retry_after(&response);
    expect_problem(response, 429, "rate_limited").await;
    let rows: i64 = app
        .db
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn password_reset_requests_per_account_are_limited() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app
            .post_json("/api/password-resets", &json!({"email": user.email}), None)
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        vec![202, 202, 202, 429],
        "default: 3 per account per hour"
    );
    assert_eq!(app.mails_to(&user.email, 3).await.len(), 3);
}

/// Issue 13, item 2: the per-account log-in budget belongs to the account, not to the
/// name typed, so its username and its email (in any case) share one budget of 5; a name
/// that matches no account gets exactly the same answers.
#[tokio::test]
async fn an_account_has_one_login_budget_whatever_name_is_typed() {
    let app = TestApp::spawn().await; // default: 5 log-ins per account per minute
    let user = app.new_user().await; // its successful log-in is attempt 1
    let names = [
        user.username.clone(),
        user.email.clone(),
        user.username.to_uppercase(),
        user.email.to_uppercase(),
        user.email.clone(),
    ];
    let mut statuses = Vec::new();
    for name in &names {
        statuses.push(app.login(name, "wrong password!!").await.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 429],
        "username and email are one account: 5 attempts in all"
    );

    let unknown = format!("nobody_{}", integration_tests::random_suffix(6));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            app.login(&unknown, "wrong password!!")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429],
        "an unknown name is limited like an account"
    );
}

/// Issue 13, item 8: `X-Forwarded-For` is believed only from the proxies' networks. A
/// client that reaches the service directly (here: loopback, while the proxy is elsewhere)
/// and writes its own header gets no fresh per-address budget per request.
#[tokio::test]
async fn a_forged_forwarded_header_from_an_untrusted_peer_gets_no_fresh_budget() {
    let app = TestApp::spawn_with(|s| {
        s.http.trusted_proxy_networks = "192.0.2.10/32".parse().unwrap();
    })
    .await;
    let mut statuses = Vec::new();
    for i in 1..=7 {
        let response = app
            .client
            .post(app.url("/api/password-resets"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({"email": format!("nobody{i}@example.test")}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        [202, 202, 202, 202, 202, 429, 429],
        "5 reset requests per address an hour, whatever address the header claims"
    );
}
