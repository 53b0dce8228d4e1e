//! Feeds, the sitemap and robots.txt: well-formed whatever the posts hold,
//! absolute URLs, conditional requests, and valid for a real feed parser
//! (Python's feedparser from the pinned tools venv: `bozo` must be 0).

use std::process::Command;

use integration_tests::TestApp;
use reqwest::StatusCode;
use serde_json::json;

use super::Web;

/// What feedparser makes of `xml`: (bozo, feed title, entry titles, links).
pub fn feedparser(xml: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.xml");
    std::fs::write(&file, xml).unwrap();
    let script = r#"
import json, sys, feedparser
d = feedparser.parse(sys.argv[1])
print(json.dumps({
    "bozo": int(d.bozo),
    "error": str(d.get("bozo_exception", "")),
    "version": d.version,
    "title": d.feed.get("title"),
    "entries": [{"title": e.get("title"), "link": e.get("link"),
                 "author": e.get("author"), "content": (e.get("content") or [{}])[0].get("value", e.get("summary"))}
                for e in d.entries],
}))
"#;
    let out = Command::new(integration_tests::tool("python3"))
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "feedparser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn feeds_are_valid_whatever_the_posts_hold_and_answer_304() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let title = "Ampersands & <angle> ]]> \"quotes\" 'single'";
    let content = "Body with control characters and *markdown* <script>alert(1)</script>";
    let created = app
        .post_json(
            "/api/posts",
            &json!({"title": title, "content": content, "format": "markdown"}),
            Some(&author.token),
        )
        .await;
    assert_eq!(created.status(), 201);
    // Characters XML cannot carry, as imported or older data may hold them
    // (the API refuses them): straight into the row.
    app.db
        .execute(
            "UPDATE posts SET title = title || chr(1), \
             content_html = replace(content_html, 'control', chr(1) || 'control' || chr(27)) \
             WHERE title = $1",
            &[&title],
        )
        .await
        .unwrap();
    // Written after the change above, so no cached list predates it.
    app.create_post(&author.token, "Second post", "plain text")
        .await;
    let web = Web::new(&app);

    for (path, version, content_type) in [
        ("/feeds/atom.xml", "atom10", "application/atom+xml"),
        ("/feeds/rss.xml", "rss20", "application/rss+xml"),
        (
            &format!("/user/{}/atom.xml", author.username) as &str,
            "atom10",
            "application/atom+xml",
        ),
        (
            &format!("/user/{}/rss.xml", author.username),
            "rss20",
            "application/rss+xml",
        ),
    ] {
        let feed = web.get(path).await;
        assert_eq!(feed.status, StatusCode::OK, "{path}: {}", feed.html);
        assert!(
            feed.header("content-type").starts_with(content_type),
            "{path}"
        );
        assert!(
            feed.headers.get("set-cookie").is_none(),
            "{path} sets a cookie"
        );
        assert!(
            !feed.html.contains('\u{1}') && !feed.html.contains("<script"),
            "{}",
            feed.html
        );
        let parsed = feedparser(&feed.html);
        assert_eq!(parsed["bozo"], 0, "{path} is not well-formed: {parsed}");
        assert_eq!(parsed["version"], version, "{parsed}");
        let entries = parsed["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{parsed}");
        // Newest first; titles come back exactly; links are absolute.
        assert_eq!(entries[0]["title"], "Second post");
        assert_eq!(entries[1]["title"], title, "{parsed}");
        for e in entries {
            let link = e["link"].as_str().unwrap();
            assert!(link.starts_with("http://blog.test/post/"), "{link}");
        }
        let html = entries[1]["content"].as_str().unwrap();
        assert!(html.contains("<em>markdown</em>"), "{html}");
        assert!(html.contains("control characters"), "{html}");

        // Revalidation costs no body.
        let etag = feed.header("etag").to_owned();
        assert!(!etag.is_empty(), "{path}: no ETag");
        let again = web
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }

    // An author's feed names only their posts; unknown authors and feeds 404.
    let other = app.new_user().await;
    app.create_post(&other.token, "Someone else's", "x").await;
    let mine = web
        .get(&format!("/user/{}/atom.xml", author.username))
        .await;
    assert!(!mine.html.contains("Someone else"), "{}", mine.html);
    for missing in ["/user/nobody_here_at_all/atom.xml", "/feeds/feed.json"] {
        assert_eq!(
            web.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
}

#[tokio::test]
async fn sitemap_and_robots_point_crawlers_at_the_public_pages() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let post = app.create_post(&author.token, "Mapped post", "x").await;
    let web = Web::new(&app);

    let map = web.get("/sitemap.xml").await;
    assert_eq!(map.status, StatusCode::OK);
    assert!(map.header("content-type").starts_with("application/xml"));
    let id = post["id"].as_i64().unwrap();
    map.assert_contains(&format!(
        "<loc>http://blog.test/post/{id}-mapped-post/</loc>"
    ))
    .assert_contains(&format!(
        "<loc>http://blog.test/user/{}</loc>",
        author.username
    ))
    .assert_contains("<loc>http://blog.test/</loc>");

    let robots = web.get("/robots.txt").await;
    assert_eq!(robots.status, StatusCode::OK);
    robots
        .assert_contains("Disallow: /api/")
        .assert_contains("Sitemap: http://blog.test/sitemap.xml");

    // Pages say where their feeds are.
    web.get("/")
        .await
        .assert_contains("<link rel=\"alternate\" type=\"application/atom+xml\"");
}
