//! Tags through the API: normalisation and limits on write, `?tag=` lists
//! with keyset pagination, the tag list with counts, and unpublished posts
//! never showing (in a tag's list, in counts, in the tag list), down to the
//! plans of the tag queries.

use std::collections::HashSet;

use chrono::Utc;
use integration_tests::json::{ids, urlencode};
use integration_tests::plans::{self, Plan};
use integration_tests::{TestApp, TestUser, expect_problem, expect_status};
use serde_json::{Value, json};

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Value {
    expect_status(
        app.post_json("/api/posts", &body, Some(&who.token)).await,
        201,
    )
    .await
}

/// Every id of `/api/posts?tag=…`, following `next_cursor`.
async fn walk(app: &TestApp, tag: &str, limit: u32) -> Vec<i64> {
    let mut all = Vec::new();
    let mut url = format!("/api/posts?tag={tag}&limit={limit}");
    for _ in 0..100 {
        let page = expect_status(app.get(&url).await, 200).await;
        all.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/posts?tag={tag}&limit={limit}&cursor={c}"),
            None => return all,
        }
    }
    panic!("pagination did not end");
}

/// Every tag of `/api/tags`, following `next_cursor`, as `(tag, posts)`.
async fn all_tags(app: &TestApp, limit: u32) -> Vec<(String, i64)> {
    let mut all = Vec::new();
    let mut url = format!("/api/tags?limit={limit}");
    for _ in 0..1000 {
        let page = expect_status(app.get(&url).await, 200).await;
        for t in page["items"].as_array().unwrap() {
            all.push((
                t["tag"].as_str().unwrap().to_owned(),
                t["posts"].as_i64().unwrap(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/tags?limit={limit}&cursor={}", urlencode(c)),
            None => return all,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn tags_are_normalised_on_write_and_replaced_as_a_whole() {
    let app = TestApp::spawn().await;
    let me = app.new_user().await;
    let post = create(
        &app,
        &me,
        json!({"title": "Tagged", "content": "x",
               "tags": ["Rust", "  web \t dev ", "RUST", "ＲＵＳＴ", "C++", "Café"]}),
    )
    .await;
    assert_eq!(post["tags"], json!(["rust", "web-dev", "c++", "café"]));
    let id = post["id"].as_i64().unwrap();
    let path = format!("/api/posts/{id}");
    assert_eq!(
        expect_status(app.get(&path).await, 200).await["tags"],
        post["tags"],
        "read back as written"
    );

    // Absent or null: kept. A list: the whole new set. []: none.
    let kept = expect_status(
        app.patch_json(
            &path,
            &json!({"title": "Retitled", "tags": null}),
            Some(&me.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(kept["tags"], post["tags"]);
    let replaced = expect_status(
        app.patch_json(&path, &json!({"tags": ["Go", "rust"]}), Some(&me.token))
            .await,
        200,
    )
    .await;
    assert_eq!(replaced["tags"], json!(["go", "rust"]));
    assert_eq!(
        expect_status(app.get(&path).await, 200).await["tags"],
        json!(["go", "rust"])
    );
    let cleared = expect_status(
        app.patch_json(&path, &json!({"tags": []}), Some(&me.token))
            .await,
        200,
    )
    .await;
    assert_eq!(cleared["tags"], json!([]));

    // Eleven distinct tags, and tags that normalise to nothing or are too
    // long: 422 with a code per rule, and nothing written.
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let problem = expect_problem(
        app.post_json(
            "/api/posts",
            &json!({"title": "Too many", "content": "x", "tags": eleven}),
            Some(&me.token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "too_many_tags", "{problem}");
    // Tags are strings: `false` or `5` is a malformed body, not "false".
    for bad in [
        json!([false]),
        json!([5]),
        json!(["ok", null]),
        json!("rust"),
    ] {
        expect_problem(
            app.post_json(
                "/api/posts",
                &json!({"title": "Typed", "content": "x", "tags": bad}),
                Some(&me.token),
            )
            .await,
            400,
            "malformed_request",
        )
        .await;
    }
    // Duplicates count once: eleven spellings of ten tags pass.
    let mut ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    ten.push("T0".into());
    create(
        &app,
        &me,
        json!({"title": "Ten", "content": "x", "tags": ten}),
    )
    .await;
    let problem = expect_problem(
        app.patch_json(
            &path,
            &json!({"tags": ["fine", "!!!", "x".repeat(51)]}),
            Some(&me.token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["tags[1]", "tags[2]"], "{problem}");
    assert!(
        problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["code"] == "invalid_tag"),
        "{problem}"
    );
    assert_eq!(
        expect_status(app.get(&path).await, 200).await["tags"],
        json!([]),
        "a refused edit changes nothing"
    );
    // Thousands of tags: a bounded answer, not thousands of checks.
    let many: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    expect_problem(
        app.patch_json(&path, &json!({"tags": many}), Some(&me.token))
            .await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_tag_lists_its_published_posts_only_page_by_page_and_counts_them() {
    let app = TestApp::spawn().await;
    let me = app.new_user().await;
    let other = app.new_user().await;
    let tag = format!(
        "pager{}",
        integration_tests::random_suffix(6).to_lowercase()
    );
    let mut published = Vec::new();
    for i in 0..7 {
        let who = if i % 2 == 0 { &me } else { &other };
        let post = create(
            &app,
            who,
            json!({"title": format!("P{i}"), "content": "x", "tags": [tag.to_uppercase(), "shared"]}),
        )
        .await;
        published.push(post["id"].as_i64().unwrap());
    }
    let secret = format!(
        "secret{}",
        integration_tests::random_suffix(6).to_lowercase()
    );
    let draft = create(
        &app,
        &me,
        json!({"title": "Draft", "content": "x", "status": "draft", "tags": [&tag, &secret]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let later = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let scheduled = create(
        &app,
        &me,
        json!({"title": "Later", "content": "x", "published_at": later, "tags": [&tag, &secret]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();

    // Newest first, each once, whatever the page size and spelling.
    let newest_first: Vec<i64> = published.iter().rev().copied().collect();
    for limit in [1, 3, 7, 100] {
        assert_eq!(walk(&app, &tag, limit).await, newest_first, "limit {limit}");
    }
    assert_eq!(walk(&app, &tag.to_uppercase(), 3).await, newest_first);
    for hidden in [draft, scheduled] {
        assert!(!walk(&app, &tag, 100).await.contains(&hidden));
    }
    assert_eq!(
        walk(&app, &secret, 10).await,
        Vec::<i64>::new(),
        "only unpublished posts"
    );
    assert_eq!(
        walk(&app, "never-used-anywhere", 10).await,
        Vec::<i64>::new()
    );
    for bad in ["!!!", "%20", &"x".repeat(300)] {
        expect_problem(
            app.get(&format!("/api/posts?tag={bad}")).await,
            400,
            "malformed_request",
        )
        .await;
    }

    // The tag list: published posts counted, unpublished-only tags absent.
    let tags = all_tags(&app, 100).await;
    assert!(tags.contains(&(tag.clone(), 7)), "{tags:?}");
    assert!(!tags.iter().any(|(t, _)| *t == secret), "{tags:?}");

    // Unpublishing and publishing move the counts and the lists at once.
    expect_status(
        app.patch_json(
            &format!("/api/posts/{}", published[0]),
            &json!({"status": "draft"}),
            Some(&me.token),
        )
        .await,
        200,
    )
    .await;
    expect_status(
        app.patch_json(
            &format!("/api/posts/{draft}"),
            &json!({"status": "published"}),
            Some(&me.token),
        )
        .await,
        200,
    )
    .await;
    let now_listed = walk(&app, &tag, 4).await;
    assert_eq!(now_listed.len(), 7, "{now_listed:?}");
    assert_eq!(now_listed[0], draft, "published now, so newest");
    assert!(!now_listed.contains(&published[0]));
    let tags = all_tags(&app, 100).await;
    assert!(tags.contains(&(secret.clone(), 1)), "{tags:?}");
    // Deleting a post takes it out of its tags.
    expect_status(
        app.delete(&format!("/api/posts/{draft}"), Some(&me.token))
            .await,
        204,
    )
    .await;
    assert!(!all_tags(&app, 100).await.iter().any(|(t, _)| *t == secret));
}

#[tokio::test]
async fn the_tag_list_pages_by_name_and_answers_304() {
    let app = TestApp::spawn().await;
    let me = app.new_user().await;
    let prefix = format!("z{}", integration_tests::random_suffix(5).to_lowercase());
    let names: Vec<String> = ["a", "b", "c", "d", "e", "c#", "日本語"]
        .iter()
        .map(|s| format!("{prefix}-{s}"))
        .collect();
    create(
        &app,
        &me,
        json!({"title": "Many tags", "content": "x", "tags": names}),
    )
    .await;
    for limit in [1, 2, 100] {
        let tags = all_tags(&app, limit).await;
        let seen: HashSet<&String> = tags.iter().map(|(t, _)| t).collect();
        assert_eq!(seen.len(), tags.len(), "each tag once (limit {limit})");
        let mine: Vec<&String> = tags
            .iter()
            .map(|(t, _)| t)
            .filter(|t| t.starts_with(&prefix))
            .collect();
        assert_eq!(mine.len(), names.len(), "limit {limit}: {tags:?}");
        let mut sorted = mine.clone();
        sorted.sort();
        assert_eq!(mine, sorted, "by name");
    }
    let first = app.get("/api/tags").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let body = expect_status(first, 200).await;
    let item = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == format!("{prefix}-c#"))
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    assert_eq!(item["url"], format!("http://blog.test/tag/{prefix}-c%23/"));
    let again = app
        .client
        .get(app.url("/api/tags"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

/// A tag's page is a keyset scan of `post_tags_tag_published_at_idx`: one
/// page of index entries on the first page and on a deep one.
#[tokio::test]
async fn a_tag_page_reads_its_index_on_the_first_and_a_deep_page() {
    use blog::posts::repository::sql;
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let author_id = author.id.as_i64().unwrap();
    // 20 000 posts under one tag (a tenth drafts, a tenth scheduled) and
    // 20 000 under another.
    app.db
        .batch_execute(&format!(
            "INSERT INTO tags (slug) VALUES ('plan-a'), ('plan-b') ON CONFLICT DO NOTHING; \
             WITH p AS (INSERT INTO posts (author_id, title, content, created_at, updated_at, published_at) \
               SELECT {author_id}, 'p' || g, 'x', now(), now(), \
                 CASE WHEN g % 10 = 0 THEN NULL \
                      WHEN g % 10 = 1 THEN now() + g * interval '1 minute' \
                      ELSE now() - g * interval '1 minute' END \
               FROM generate_series(1, 40000) AS g RETURNING id, published_at) \
             INSERT INTO post_tags (post_id, tag_id, position, published_at) \
               SELECT p.id, t.id, 0, p.published_at FROM p \
               JOIN tags t ON t.slug = CASE WHEN p.id % 2 = 0 THEN 'plan-a' ELSE 'plan-b' END; \
             ANALYZE posts; ANALYZE post_tags; ANALYZE tags;"
        ))
        .await
        .unwrap();
    let tag_id: i64 = app
        .db
        .query_one("SELECT id FROM tags WHERE slug = 'plan-a'", &[])
        .await
        .unwrap()
        .get(0);
    let now: &str = &plans::at(Utc::now());
    let deep: &str = &plans::at(Utc::now() - chrono::Duration::minutes(30_000));
    let tag: &str = &tag_id.to_string();
    let id: &str = &i64::MAX.to_string();
    // A page of 6: 7 rows, the last telling whether there is another page.
    let cases = [
        ("tag, first page", sql::TAG_FIRST.rows(7), vec![tag, now]),
        (
            "tag, deep page",
            sql::TAG_AFTER.rows(7),
            vec![tag, now, deep, id],
        ),
        (
            "tag, newer page",
            sql::TAG_BEFORE.rows(7),
            vec![tag, now, deep, id],
        ),
    ];
    for (label, statement, args) in cases {
        for plan in Plan::BOTH {
            let label = format!("{label} ({plan:?} plan)");
            let text = plans::explain(&app.db, &statement, &args, plan).await;
            plans::assert_one_page(
                &label,
                &text,
                "using post_tags_tag_published_at_idx on post_tags",
                "post_tags pt",
                7.0,
            );
            assert!(!text.contains("Seq Scan on posts"), "{label}:\n{text}");
        }
    }
}
