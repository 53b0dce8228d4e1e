//! Posts: CRUD rules, keyset pagination, author lists, validation, views, cache freshness.

use std::collections::HashSet;

use integration_tests::{TestApp, expect_problem, expect_problem_4xx, expect_status};
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

/// Follows `next_cursor` from `first` until the end; returns every id in order.
async fn walk(app: &TestApp, path: &str, limit: u32) -> Vec<i64> {
    let mut all = Vec::new();
    let mut url = format!("{path}?limit={limit}");
    for _ in 0..1000 {
        let page = expect_status(app.get(&url).await, 200).await;
        let page_ids = ids(&page);
        assert!(page_ids.len() <= limit as usize);
        all.extend(page_ids);
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{path}?limit={limit}&cursor={cursor}"),
            None => return all,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn pages_walk_every_post_once_newest_first_even_with_equal_timestamps() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    for i in 0..13 {
        app.create_post(&user.token, &format!("post {i}"), "body")
            .await;
    }
    // Ties are the hard case for keyset pagination: give ten posts the same instant.
    app.db
        .execute(
            "UPDATE posts SET published_at = '2024-01-01T00:00:00Z' WHERE id IN \
             (SELECT id FROM posts ORDER BY id LIMIT 10)",
            &[],
        )
        .await
        .unwrap();

    let first = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(ids(&first).len(), 5, "default page size is 5");

    let mut expected: Vec<(String, i64)> = app
        .db
        .query("SELECT published_at::text, id FROM posts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();

    for limit in [1, 3, 5, 100] {
        let walked = walk(&app, "/api/posts", limit).await;
        assert_eq!(walked, expected, "limit {limit}");
        assert_eq!(walked.iter().collect::<HashSet<_>>().len(), 13);
    }
}

#[tokio::test]
async fn page_size_is_bounded() {
    let app = TestApp::spawn().await;
    expect_status(app.get("/api/posts?limit=100").await, 200).await;
    for bad in ["101", "0", "-1", "abc"] {
        let problem = expect_problem_4xx(app.get(&format!("/api/posts?limit={bad}")).await).await;
        assert_eq!(problem["status"], 400, "limit={bad}: {problem}");
    }
    expect_problem_4xx(app.get("/api/posts?cursor=not-a-cursor").await).await;
}

#[tokio::test]
async fn author_lists_hold_only_their_posts() {
    let app = TestApp::spawn().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let a1 = app.create_post(&alice.token, "a1", "x").await["id"]
        .as_i64()
        .unwrap();
    let b1 = app.create_post(&bob.token, "b1", "x").await["id"]
        .as_i64()
        .unwrap();
    let a2 = app.create_post(&alice.token, "a2", "x").await["id"]
        .as_i64()
        .unwrap();

    let alices = walk(&app, &format!("/api/users/{}/posts", alice.username), 5).await;
    assert_eq!(alices, vec![a2, a1]);
    // Usernames match case-insensitively.
    let upper = alice.username.to_uppercase();
    let page = expect_status(app.get(&format!("/api/users/{upper}/posts")).await, 200).await;
    assert_eq!(ids(&page), vec![a2, a1]);
    assert_eq!(
        walk(&app, &format!("/api/users/{}/posts", bob.username), 5).await,
        vec![b1]
    );
    for item in page["items"].as_array().unwrap() {
        assert_eq!(item["author"]["username"], alice.username.as_str());
        assert!(
            item["author"]["avatar_url"]
                .as_str()
                .is_some_and(|u| !u.is_empty())
        );
    }
    expect_problem(
        app.get("/api/users/nobody_here/posts").await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn titles_are_1_to_100_characters_and_content_is_required() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let hundred = "é".repeat(100); // characters, not bytes
    let post = app.create_post(&user.token, &hundred, "body").await;
    assert_eq!(post["title"], hundred.as_str());

    for (title, content) in [
        ("x".repeat(101), "body".to_owned()),
        (String::new(), "body".to_owned()),
        ("   ".to_owned(), "body".to_owned()),
        ("ok".to_owned(), String::new()),
        ("ok".to_owned(), " \n ".to_owned()),
    ] {
        let response = app
            .post_json(
                "/api/posts",
                &json!({"title": title, "content": content}),
                Some(&user.token),
            )
            .await;
        let problem = expect_problem_4xx(response).await;
        assert_eq!(problem["status"], 422, "{problem}");
    }
    let count: i64 = app
        .db
        .query_one("SELECT count(*) FROM posts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "rejected posts must not be stored");

    let id = post["id"].as_i64().unwrap();
    let too_long = app
        .patch_json(
            &format!("/api/posts/{id}"),
            &json!({"title": "y".repeat(101)}),
            Some(&user.token),
        )
        .await;
    expect_problem_4xx(too_long).await;
}

#[tokio::test]
async fn editing_bumps_updated_at_and_keeps_created_at() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let post = app.create_post(&user.token, "first", "body").await;
    let id = post["id"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let edited = expect_status(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"content": "new body"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(edited["title"], "first");
    assert_eq!(edited["content"], "new body");
    assert_eq!(edited["created_at"], post["created_at"]);
    let before =
        chrono::DateTime::parse_from_rfc3339(post["updated_at"].as_str().unwrap()).unwrap();
    let after =
        chrono::DateTime::parse_from_rfc3339(edited["updated_at"].as_str().unwrap()).unwrap();
    assert!(after > before, "updated_at {after} not after {before}");
    let read = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(read["content"], "new body");
}

#[tokio::test]
async fn views_count_each_read() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let id = app.create_post(&user.token, "t", "c").await["id"]
        .as_i64()
        .unwrap();
    // The list first: its JSON is kept from now on (`http::rendered`), and
    // later reads of it write the current counts into the kept JSON.
    let page = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(page["items"][0]["views"].as_u64(), Some(0), "{page}");
    let first = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    let second = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    let (a, b) = (
        first["views"].as_u64().unwrap(),
        second["views"].as_u64().unwrap(),
    );
    assert!(a >= 1, "{first}");
    assert_eq!(b, a + 1, "the post's kept JSON shows the new count");
    let page = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(
        page["items"][0]["views"].as_u64(),
        Some(b),
        "lists show the counter too"
    );
    let third = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(third["views"].as_u64(), Some(b + 1));
    let page = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(page["items"][0]["views"].as_u64(), Some(b + 1), "{page}");
    assert_eq!(page, expect_status(app.get("/api/posts").await, 200).await);
}

#[tokio::test]
async fn writers_see_their_changes_in_the_next_read() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let id = app.create_post(&user.token, "old", "c").await["id"]
        .as_i64()
        .unwrap();
    // Warm the cache for the list, the author list and the detail.
    let author_path = format!("/api/users/{}/posts", user.username);
    for path in [
        "/api/posts",
        author_path.as_str(),
        &format!("/api/posts/{id}"),
    ] {
        expect_status(app.get(path).await, 200).await;
        expect_status(app.get(path).await, 200).await;
    }

    let new_id = app.create_post(&user.token, "new", "c").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        ids(&expect_status(app.get("/api/posts").await, 200).await)[0],
        new_id
    );
    assert_eq!(
        ids(&expect_status(app.get(&author_path).await, 200).await)[0],
        new_id
    );

    expect_status(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"title": "renamed"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    let detail = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(detail["title"], "renamed");

    expect_status(
        app.delete(&format!("/api/posts/{id}"), Some(&user.token))
            .await,
        204,
    )
    .await;
    expect_problem(app.get(&format!("/api/posts/{id}")).await, 404, "not_found").await;
    assert_eq!(
        ids(&expect_status(app.get("/api/posts").await, 200).await),
        vec![new_id]
    );
}

#[tokio::test]
async fn only_the_author_may_change_a_post() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let other = app.new_user().await;
    let id = app.create_post(&author.token, "mine", "c").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/posts/{id}");

    expect_problem(
        app.patch_json(&path, &json!({"title": "x"}), Some(&other.token))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_problem(
        app.delete(&path, Some(&other.token)).await,
        403,
        "forbidden",
    )
    .await;
    expect_problem(
        app.patch_json(&path, &json!({"title": "x"}), None).await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(app.delete(&path, None).await, 401, "unauthorized").await;
    expect_problem(
        app.post_json("/api/posts", &json!({"title": "t", "content": "c"}), None)
            .await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.post_json(
            "/api/posts",
            &json!({"title": "t", "content": "c"}),
            Some("not-a-real-token"),
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.patch_json(
            "/api/posts/999999",
            &json!({"title": "x"}),
            Some(&author.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_problem(
        app.delete("/api/posts/999999", Some(&author.token)).await,
        404,
        "not_found",
    )
    .await;
    expect_problem(app.get("/api/posts/999999").await, 404, "not_found").await;

    let still = expect_status(app.get(&path).await, 200).await;
    assert_eq!(still["title"], "mine");
}

/// Markdown is rendered once, when written, to sanitised HTML stored next to
/// the source; plain text (the default, and every older post) is escaped.
#[tokio::test]
async fn markdown_is_rendered_on_write_sanitised_and_plain_text_stays_as_written() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;

    let plain = app
        .create_post(&user.token, "Plain", "*not emphasis* <b>x</b>\nline two")
        .await;
    assert_eq!(plain["format"], "plain", "{plain}");
    let html = plain["content_html"].as_str().unwrap();
    assert!(
        html.contains("*not emphasis* &lt;b&gt;x&lt;/b&gt;"),
        "{html}"
    );
    assert_eq!(plain["excerpt"], "*not emphasis* <b>x</b> line two");
    // `null`, as the schema allows, means the same as absent.
    let null = expect_status(
        app.post_json(
            "/api/posts",
            &json!({"title": "Null", "content": "*x*", "format": null}),
            Some(&user.token),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(null["format"], "plain", "{null}");

    let source = "# Hello, World\n\nSome *em* text.\n\n<script>alert(1)</script>\n\n\
                  [click](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n| a |\n|---|\n| 1 |\n";
    let created = expect_status(
        app.post_json(
            "/api/posts",
            &json!({"title": "Hello, World", "content": source, "format": "markdown"}),
            Some(&user.token),
        )
        .await,
        201,
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["format"], "markdown");
    assert_eq!(created["content"], source, "the source is kept as written");
    let html = created["content_html"].as_str().unwrap();
    for part in [
        "<h1>Hello, World</h1>",
        "<em>em</em>",
        "<table>",
        "<td>1</td>",
    ] {
        assert!(html.contains(part), "{part} missing in {html}");
    }
    for bad in ["<script", "javascript:", "onerror", "src=\"x\""] {
        assert!(!html.contains(bad), "{bad} survived in {html}");
    }
    assert_eq!(created["excerpt"], "Some em text.");
    assert_eq!(
        created["url"],
        format!("http://blog.test/post/{id}-hello-world/"),
        "{created}"
    );
    // Stored, not rendered on each read.
    let stored: String = app
        .db
        .query_one("SELECT content_html FROM posts WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get("content_html");
    assert_eq!(stored, html);
    let read = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(read["content_html"], html);

    // A new format alone renders the same source again.
    let changed = expect_status(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"format": "plain"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["format"], "plain");
    assert!(
        changed["content_html"]
            .as_str()
            .unwrap()
            .contains("# Hello, World"),
        "{changed}"
    );
    // New content alone keeps the format.
    let changed = expect_status(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"content": "_still plain_"}),
            Some(&user.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["format"], "plain");
    assert!(
        changed["content_html"]
            .as_str()
            .unwrap()
            .contains("_still plain_")
    );

    // An unknown format is refused and changes nothing.
    let problem = expect_problem_4xx(
        app.patch_json(
            &format!("/api/posts/{id}"),
            &json!({"format": "html", "content": "<b>x</b>"}),
            Some(&user.token),
        )
        .await,
    )
    .await;
    assert_eq!(problem["status"], 400, "{problem}");
    let read = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    assert_eq!(read["content"], "_still plain_");
}

/// Posts written before Markdown (no stored rendering) show as they did.
#[tokio::test]
async fn posts_without_a_stored_rendering_are_shown_as_plain_text() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let post = app
        .create_post(&user.token, "Old", "<i>old</i>\n\nsecond")
        .await;
    let id = post["id"].as_i64().unwrap();
    // What the migration leaves on an existing row.
    app.db
        .execute(
            "UPDATE posts SET content_html = '', excerpt = '', format = 'plain' WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    // The cache holds the rendering of before; a write elsewhere clears it.
    app.create_post(&user.token, "New", "x").await;
    let read = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
    let html = read["content_html"].as_str().unwrap();
    assert!(html.contains("&lt;i&gt;old&lt;/i&gt;\n\nsecond"), "{html}");
    assert_eq!(read["excerpt"], "<i>old</i>");
}
