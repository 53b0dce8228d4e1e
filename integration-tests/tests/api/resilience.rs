//! Redis is optional: with it down, reads and writes still work, `/readyz` says so, the
//! rate limiter follows its configured choice (per-replica limits, or 503), and everything
//! resumes when it is back.

use std::time::{Duration, Instant};

use integration_tests::deps::Redis;
use integration_tests::{PASSWORD, TestApp, expect_problem, expect_status, free_port, infra};
use serde_json::{Value, json};

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.get("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Everything a user does, checked to work without Redis.
async fn use_the_app_without_redis(app: &TestApp) {
    let user = app.new_user().await; // register + log in: limited in memory
    let post = app
        .create_post(&user.token, "no redis", "still works")
        .await;
    let id = post["id"].as_i64().unwrap();
    let read = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(read["title"], "no redis");
    assert!(
        read["views"].is_null(),
        "views are unknown without Redis: {read}"
    );
    let list = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(list["items"][0]["id"], id);
    // No cache generation, no validator: no `ETag`, and `If-None-Match` can't match.
    let conditional = app
        .client
        .get(app.url("/api/posts"))
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert!(conditional.headers().get("etag").is_none());
    assert_eq!(expect_status(conditional, 200).await["items"][0]["id"], id);
    expect_status(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"title": "edited"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    let read = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(read["title"], "edited", "no stale cache");
    let reset = app
        .post_json("/api/password-resets", &json!({"email": user.email}), None)
        .await;
    assert_eq!(reset.status(), 202);
}

#[tokio::test]
async fn a_dead_redis_degrades_gracefully_and_the_limits_hold_per_replica() {
    let dead = free_port();
    let app = TestApp::spawn_with(|s| {
        s.redis.url = blog::config::Secret::from(format!("redis://127.0.0.1:{dead}"));
    })
    .await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["redis"], "unavailable", "{body}");
    assert_eq!(body["checks"]["postgres"], "ok", "{body}");
    expect_status(app.get("/healthz").await, 200).await;
    use_the_app_without_redis(&app).await;

    // Issue 13, item 5: log-in, registration and reset stay throttled by the replica's
    // own counters (5 log-ins per account, the first one by `new_user`).
    let user = app.new_user().await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let response = app.login(&user.username, "wrong password!!").await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429], "log-in per account");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app
            .post_json("/api/password-resets", &json!({"email": user.email}), None)
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [202, 202, 202, 429], "reset: 3 per account");
    // Registrations per address: 5 an hour, two used above.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let name = format!("later_{i}_{}", integration_tests::random_suffix(4));
        let response = app
            .register(&name, &format!("{name}@example.test"), PASSWORD)
            .await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 429], "registration per address");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let fallback = metrics
        .lines()
        .find_map(|l| l.strip_prefix("rate_limit_local_fallback_total "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no rate_limit_local_fallback_total in {metrics}"));
    assert!(fallback >= 15, "every check counted: {fallback}");
}

#[tokio::test]
async fn with_fail_closed_the_limited_endpoints_refuse_while_redis_is_down() {
    let dead = free_port();
    let app = TestApp::spawn_with(|s| {
        s.redis.url = blog::config::Secret::from(format!("redis://127.0.0.1:{dead}"));
        s.rate_limit.fail_closed = true;
    })
    .await;
    expect_problem(
        app.login("someone", PASSWORD).await,
        503,
        "service_unavailable",
    )
    .await;
    expect_problem(
        app.register("someone", "someone@example.test", PASSWORD)
            .await,
        503,
        "service_unavailable",
    )
    .await;
    // Reads are not rate limited and still work.
    expect_status(app.get("/api/posts").await, 200).await;
}

#[tokio::test]
async fn redis_stopping_and_coming_back() {
    let (app, redis) = TestApp::spawn_with_own_redis().await;
    let user = app.new_user().await;
    let id = app.create_post(&user.token, "counted", "c").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/posts/{id}");
    let views = expect_status(app.get(&path).await, 200).await["views"]
        .as_u64()
        .unwrap();
    assert_eq!(
        expect_status(app.get(&path).await, 200).await["views"].as_u64(),
        Some(views + 1)
    );

    // A tag taken before the outage; writes happen during it.
    let before = app.get("/api/posts").await;
    let old_tag = before.headers()["etag"].to_str().unwrap().to_owned();
    expect_status(before, 200).await;

    redis.container.stop(2).await;
    wait_until(
        "readiness to report Redis down",
        Duration::from_secs(15),
        || async { readiness(&app).await.0 == 503 },
    )
    .await;
    assert_eq!(readiness(&app).await.1["checks"]["redis"], "unavailable");
    use_the_app_without_redis(&app).await;

    redis.container.start().await;
    redis.wait_ready(Duration::from_secs(30)).await;
    wait_until("readiness to recover", Duration::from_secs(30), || async {
        readiness(&app).await.0 == 200
    })
    .await;
    // Redis came back empty (no persistence in tests), and the generation
    // does not count from the start again: the tag taken before the outage
    // names older content, so it gets the new page, not a 304.
    let resp = app
        .client
        .get(app.url("/api/posts"))
        .header("if-none-match", &old_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "a tag from before the outage is stale");
    assert_ne!(
        resp.headers().get("etag").map(|t| t.to_str().unwrap()),
        Some(old_tag.as_str())
    );
    // The counter resumes.
    wait_until(
        "views to be counted again",
        Duration::from_secs(10),
        || async { expect_status(app.get(&path).await, 200).await["views"].is_u64() },
    )
    .await;
    let a = expect_status(app.get(&path).await, 200).await["views"]
        .as_u64()
        .unwrap();
    let b = expect_status(app.get(&path).await, 200).await["views"]
        .as_u64()
        .unwrap();
    assert_eq!(b, a + 1);
    // And the cache still shows writes at once.
    let newer = app
        .create_post(&user.token, "after redis came back", "c")
        .await["id"]
        .clone();
    expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(
        expect_status(app.get("/api/posts").await, 200).await["items"][0]["id"],
        newer
    );
}

#[tokio::test]
async fn readiness_can_ignore_redis_but_still_reports_it() {
    let dead = free_port();
    let app = TestApp::spawn_with(|s| {
        s.redis.url = blog::config::Secret::from(format!("redis://127.0.0.1:{dead}"));
        s.http.readiness_requires_redis = false;
    })
    .await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["redis"], "unavailable", "{body}");
    assert_eq!(body["checks"]["postgres"], "ok", "{body}");
}

/// A write while Redis is unreachable (paused: it keeps its data, so the old
/// generation and the cached pages are still there when it answers again)
/// moves the generation once Redis is back: a client holding a tag from
/// before gets the new page, not a 304 of the cached old one.
#[tokio::test]
async fn a_write_during_a_redis_outage_changes_the_tags_once_redis_is_back() {
    let infra = infra().await;
    let name = format!(
        "{}-redis-{}",
        infra.network.name,
        integration_tests::random_suffix(4)
    );
    let redis = Redis::start(&infra.network, &name, None, None).await;
    let port = redis.port;
    let app = TestApp::spawn_with(|s| {
        s.redis.url = blog::config::Secret::from(format!("redis://127.0.0.1:{port}"));
    })
    .await;
    let user = app.new_user().await;
    let first = app.create_post(&user.token, "before", "c").await["id"].clone();
    let tagged = app.get("/api/posts").await;
    let old_tag = tagged.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(expect_status(tagged, 200).await["items"][0]["id"], first);

    redis.container.pause().await;
    wait_until(
        "readiness to report Redis down",
        Duration::from_secs(15),
        || async { readiness(&app).await.0 == 503 },
    )
    .await;
    let during = app.create_post(&user.token, "during", "c").await["id"].clone();
    redis.container.unpause().await;
    wait_until("readiness to recover", Duration::from_secs(30), || async {
        readiness(&app).await.0 == 200
    })
    .await;

    let resp = app
        .client
        .get(app.url("/api/posts"))
        .header("if-none-match", &old_tag)
        .send()
        .await
        .unwrap();
    let new_tag = resp
        .headers()
        .get("etag")
        .map(|t| t.to_str().unwrap().to_owned());
    let page = expect_status(resp, 200).await;
    assert_eq!(page["items"][0]["id"], during, "the write shows: {page}");
    assert!(new_tag.is_some_and(|t| t != old_tag), "a new tag");
}
