//! Conditional GETs (`ETag`, `If-None-Match` -> 304 without Postgres) and response
//! compression (`br`, `gzip`) of the public post reads.

use std::io::Read as _;
use std::time::Duration;

use blog::config::units::Seconds;
use integration_tests::{TestApp, expect_status};
use reqwest::Response;
use serde_json::{Value, json};

async fn get_with(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = app.client.get(app.url(path));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.expect("GET")
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

/// A 200 with an `ETag`; returns the tag and the body.
async fn tagged(app: &TestApp, path: &str) -> (String, Value) {
    let resp = app.get(path).await;
    let etag = header(&resp, "etag").unwrap_or_else(|| panic!("{path}: no ETag"));
    assert!(
        etag.starts_with("W/\"") && etag.ends_with('"'),
        "{path}: a weak tag, got {etag}"
    );
    (etag, expect_status(resp, 200).await)
}

/// 304 for `If-None-Match: etag`: the same tag back, no body.
async fn not_modified(app: &TestApp, path: &str, if_none_match: &str, etag: &str) {
    let resp = get_with(app, path, &[("if-none-match", if_none_match)]).await;
    assert_eq!(
        resp.status(),
        304,
        "{path} with If-None-Match {if_none_match}"
    );
    assert_eq!(header(&resp, "etag").as_deref(), Some(etag), "{path}");
    assert!(
        resp.bytes().await.unwrap().is_empty(),
        "{path}: 304 has no body"
    );
}

async fn views(app: &TestApp, id: i64) -> u64 {
    let post = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    post["views"]
        .as_u64()
        .unwrap_or_else(|| panic!("views: {post}"))
}

/// Every public read carries a weak `ETag`; sending it back answers 304, also with
/// Postgres out of reach and the page gone from the cache, which is only possible if
/// the 304 never needs Postgres. A change gives every read a new tag at once; a 304 of
/// a post still counts the view.
#[tokio::test]
async fn if_none_match_answers_304_without_postgres_and_changes_show_at_once() {
    // Cached pages expire after a second: after the lock-out below, a read that needed
    // the page would have to go to Postgres.
    let app = TestApp::spawn_with(|s| s.redis.cache_ttl_seconds = Seconds::of(1)).await;
    let user = app.new_user().await;
    let post = app.create_post(&user.token, "tagged", "body").await;
    let id = post["id"].as_i64().unwrap();
    let paths = [
        "/api/posts".to_owned(),
        "/api/posts?limit=3".to_owned(),
        format!("/api/posts/{id}"),
        format!("/api/users/{}/posts", user.username.to_uppercase()),
    ];

    let mut tags = Vec::new();
    for path in &paths {
        let (etag, _) = tagged(&app, path).await;
        not_modified(&app, path, &etag, &etag).await;
        // Weak comparison, and a list of tags.
        let strong = etag.trim_start_matches("W/");
        not_modified(&app, path, &format!("\"other\", {strong}"), &etag).await;
        let other = get_with(&app, path, &[("if-none-match", "W/\"other\"")]).await;
        assert_eq!(header(&other, "etag").as_deref(), Some(etag.as_str()));
        expect_status(other, 200).await;
        tags.push(etag);
    }
    assert_eq!(
        tags.iter().collect::<std::collections::HashSet<_>>().len(),
        tags.len(),
        "each read has its own tag: {tags:?}"
    );
    // `*`: any current copy.
    not_modified(&app, &paths[2], "*", &tags[2]).await;

    // The author edits: every read has a new tag on the very next request, and an old
    // tag gets the new content.
    expect_status(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"title": "retitled"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    let mut fresh = Vec::new();
    for (path, old) in paths.iter().zip(&tags) {
        let resp = get_with(&app, path, &[("if-none-match", old)]).await;
        let etag = header(&resp, "etag").expect("ETag");
        assert_ne!(&etag, old, "{path}: the edit must change the tag");
        let body = expect_status(resp, 200).await;
        let title = body["title"]
            .as_str()
            .or(body["items"][0]["title"].as_str());
        assert_eq!(title, Some("retitled"), "{path}: {body}");
        fresh.push(etag);
    }

    // Postgres out of reach: the app's role may not log in and its connections are cut.
    let before = views(&app, id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // the cached pages expire
    let role = &app.settings.database.user;
    app.db
        .batch_execute(&format!("ALTER ROLE {role} NOLOGIN"))
        .await
        .unwrap();
    app.db
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            &[role],
        )
        .await
        .unwrap();
    for (path, etag) in paths.iter().zip(&fresh) {
        not_modified(&app, path, etag, etag).await;
    }
    // The control: without the tag the same read needs Postgres, and fails.
    let unconditional = app.get("/api/posts").await;
    assert_eq!(
        unconditional.status(),
        503,
        "Postgres must be out of reach here: {}",
        unconditional.text().await.unwrap_or_default()
    );

    app.db
        .batch_execute(&format!("ALTER ROLE {role} LOGIN"))
        .await
        .unwrap();
    // The 304 of the post counted one view, the read in `views` another.
    assert_eq!(views(&app, id).await, before + 2);
}

fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "br" => brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .expect("valid brotli"),
        "gzip" => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip"),
        other => panic!("unexpected Content-Encoding {other}"),
    };
    out
}

/// `br` or `gzip` as the client prefers; the same JSON once decoded, a `Content-Length`
/// that matches, one `ETag` whatever the coding, `Vary: Accept-Encoding`. Not for
/// refused codings, tiny answers, 304s or the website's pages.
#[tokio::test]
async fn api_answers_are_compressed_as_the_client_asks() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    for i in 0..5 {
        app.create_post(
            &user.token,
            &format!("post {i}"),
            &"Some words that repeat, as prose does. ".repeat(20),
        )
        .await;
    }
    let path = "/api/posts";
    let plain = app.get(path).await;
    assert!(header(&plain, "content-encoding").is_none());
    assert!(
        header(&plain, "vary").is_some_and(|v| v.to_lowercase().contains("accept-encoding")),
        "Vary: {:?}",
        header(&plain, "vary")
    );
    let etag = header(&plain, "etag").expect("ETag");
    let identity = plain.bytes().await.unwrap();
    assert!(identity.len() > 1024, "a page big enough to compress");

    for (accept, coding) in [
        ("gzip, deflate, br, zstd", "br"),
        ("br", "br"),
        ("gzip", "gzip"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0, *", "gzip"),
    ] {
        let resp = get_with(&app, path, &[("accept-encoding", accept)]).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            header(&resp, "content-encoding").as_deref(),
            Some(coding),
            "{accept}"
        );
        assert_eq!(
            header(&resp, "etag").as_deref(),
            Some(etag.as_str()),
            "{accept}"
        );
        let length: usize = header(&resp, "content-length")
            .expect("Content-Length")
            .parse()
            .unwrap();
        let body = resp.bytes().await.unwrap();
        assert_eq!(body.len(), length, "{accept}");
        assert!(
            body.len() * 3 < identity.len(),
            "{accept}: {} of {} bytes",
            body.len(),
            identity.len()
        );
        let decoded: Value = serde_json::from_slice(&decode(coding, &body)).unwrap();
        assert_eq!(decoded, serde_json::from_slice::<Value>(&identity).unwrap());
    }

    for refused in ["identity", "br;q=0, gzip;q=0", "*;q=0", "compress"] {
        let resp = get_with(&app, path, &[("accept-encoding", refused)]).await;
        assert!(header(&resp, "content-encoding").is_none(), "{refused}");
        assert_eq!(resp.bytes().await.unwrap(), identity, "{refused}");
    }
    let resp = get_with(
        &app,
        path,
        &[("accept-encoding", "br"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(resp.status(), 304);
    assert!(
        header(&resp, "content-encoding").is_none(),
        "a 304 has no body to encode"
    );
    let small = get_with(&app, "/api/posts/999999999", &[("accept-encoding", "br")]).await;
    assert_eq!(small.status(), 404);
    assert!(
        header(&small, "content-encoding").is_none(),
        "too small to be worth it"
    );
    let spec = get_with(&app, "/api/openapi.json", &[("accept-encoding", "gzip")]).await;
    assert_eq!(header(&spec, "content-encoding").as_deref(), Some("gzip"));
    let spec = decode("gzip", &spec.bytes().await.unwrap());
    serde_json::from_slice::<Value>(&spec).expect("the OpenAPI document, decoded");
    // The website's pages hold CSRF tokens under cookie sessions: never compressed.
    let page = get_with(&app, "/", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(page.status(), 200);
    assert!(header(&page, "content-encoding").is_none());
}

/// Time changes tags too: a scheduled post becoming public (no write, no
/// job) makes every tag taken before its time stale, so a client holding
/// one gets the new page, not a 304 of the old one. Answers only the author
/// may see (their draft, their own list) carry no tag at all.
#[tokio::test]
async fn a_scheduled_post_changes_the_tags_at_its_time_and_private_answers_have_none() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let first = app.create_post(&author.token, "First", "x").await["id"]
        .as_i64()
        .unwrap();
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let scheduled = expect_status(
        app.post_json(
            "/api/posts",
            &json!({"title": "On time", "content": "x", "published_at": at.to_rfc3339()}),
            Some(&author.token),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let draft = expect_status(
        app.post_json(
            "/api/posts",
            &json!({"title": "Draft", "content": "x", "status": "draft"}),
            Some(&author.token),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let ids = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect()
    };
    let by_author = format!("/api/users/{}/posts", author.username);
    let bearer = format!("Bearer {}", author.token);

    let (list_tag, page) = tagged(&app, "/api/posts").await;
    assert_eq!(ids(&page), vec![first]);
    not_modified(&app, "/api/posts", &list_tag, &list_tag).await;
    let (author_tag, _) = tagged(&app, &by_author).await;
    let (post_tag, _) = tagged(&app, &format!("/api/posts/{first}")).await;

    // The author's own views: 200 with their unpublished posts, no tag.
    let own = get_with(&app, &by_author, &[("authorization", &bearer)]).await;
    assert_eq!(header(&own, "etag"), None, "the author's own list");
    let own = expect_status(own, 200).await;
    assert_eq!(ids(&own).len(), 3, "{own}");
    for id in [scheduled, draft] {
        let path = format!("/api/posts/{id}");
        let resp = get_with(&app, &path, &[("authorization", &bearer)]).await;
        assert_eq!(header(&resp, "etag"), None, "{path} as its author");
        expect_status(resp, 200).await;
        let resp = get_with(&app, &path, &[("if-none-match", "*")]).await;
        assert_eq!(resp.status(), 404, "{path} for others, whatever they send");
    }

    // Past its time, with no write in between (the cache TTL is longer).
    let wait = (at - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(300);
    tokio::time::sleep(wait).await;
    for (path, old) in [
        ("/api/posts".to_owned(), &list_tag),
        (by_author.clone(), &author_tag),
    ] {
        let resp = get_with(&app, &path, &[("if-none-match", old)]).await;
        let new = header(&resp, "etag");
        let page = expect_status(resp, 200).await;
        assert_eq!(ids(&page), vec![scheduled, first], "{path} after its time");
        assert!(
            new.is_some_and(|t| &t != old),
            "{path}: a new tag after the publication"
        );
    }
    let resp = get_with(
        &app,
        &format!("/api/posts/{first}"),
        &[("if-none-match", &post_tag)],
    )
    .await;
    assert_eq!(resp.status(), 200, "every tag changes at a publication");
    let (_, post) = tagged(&app, &format!("/api/posts/{scheduled}")).await;
    assert_eq!(post["title"], "On time", "public now, and tagged");
}
