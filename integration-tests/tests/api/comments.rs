//! Comments through the API (issue 11): readers comment on public posts and
//! read them oldest first page by page; the Markdown they write is a small
//! language rendered to HTML that cannot run; only the right people write,
//! edit and delete; a post's author closes and reopens comments; comments are
//! rate limited, carry ETags, go with their post, and a post with thousands
//! of them still answers in bounded pages with the right `comment_count`.

use std::collections::HashSet;

use chrono::Utc;
use integration_tests::json::{id_of, ids, time, urlencode};
use integration_tests::{TestApp, TestUser, expect_problem, expect_problem_4xx, expect_status};
use reqwest::Response;
use serde_json::{Value, json};

fn comments_path(post: i64) -> String {
    format!("/api/posts/{post}/comments")
}

fn comment_path(comment: i64) -> String {
    format!("/api/comments/{comment}")
}

async fn get_as(app: &TestApp, path: &str, token: Option<&str>) -> Response {
    match token {
        Some(t) => app.get_authed(path, t).await,
        None => app.get(path).await,
    }
}

async fn post_comment(app: &TestApp, post: i64, who: &TestUser, content: &str) -> Response {
    app.post_json(
        &comments_path(post),
        &json!({ "content": content }),
        Some(&who.token),
    )
    .await
}

/// A comment that must be accepted; returns the Comment.
async fn comment(app: &TestApp, post: i64, who: &TestUser, content: &str) -> Value {
    expect_status(post_comment(app, post, who, content).await, 201).await
}

async fn create_post(app: &TestApp, who: &TestUser, body: Value) -> i64 {
    id_of(
        &expect_status(
            app.post_json("/api/posts", &body, Some(&who.token)).await,
            201,
        )
        .await,
    )
}

/// Every comment id of a post, following `next_cursor`, as `token`'s user
/// (or anonymously); no page holds more than `limit`.
async fn walk(app: &TestApp, post: i64, limit: u32, token: Option<&str>) -> Vec<i64> {
    let path = comments_path(post);
    let mut all = Vec::new();
    let mut url = format!("{path}?limit={limit}");
    for _ in 0..1000 {
        let page = expect_status(get_as(app, &url, token).await, 200).await;
        let got = ids(&page);
        assert!(
            got.len() <= limit as usize,
            "{url}: {} items for limit {limit}",
            got.len()
        );
        all.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("{path}?limit={limit}&cursor={}", urlencode(c)),
            None => return all,
        }
    }
    panic!("pagination of {path} did not end");
}

/// `comment_count` of the post by id and in the blog's list (which must hold it).
async fn counts(app: &TestApp, post: i64) -> (i64, i64) {
    let by_id = expect_status(app.get(&format!("/api/posts/{post}")).await, 200).await;
    let list = expect_status(app.get("/api/posts?limit=100").await, 200).await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| id_of(p) == post)
        .unwrap_or_else(|| panic!("post {post} not in {list}"))
        .clone();
    (
        by_id["comment_count"]
            .as_i64()
            .unwrap_or_else(|| panic!("no comment_count in {by_id}")),
        listed["comment_count"]
            .as_i64()
            .unwrap_or_else(|| panic!("no comment_count in {listed}")),
    )
}

async fn stored_comments(app: &TestApp) -> i64 {
    app.db
        .query_one("SELECT count(*) FROM comments", &[])
        .await
        .unwrap()
        .get(0)
}

/// The source of every tag in `html` (the text between `<` and `>`),
/// lowercased: what a browser would treat as markup, as opposed to text.
fn tags_in(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or("").to_lowercase())
        .collect()
}

/// Nothing in `html` can run or load: no script, image or heading element, no
/// event handler or `javascript:` URL in any tag.
fn assert_inert(source: &str, html: &str) {
    let lower = html.to_lowercase();
    for bad in ["<script", "<img", "<h1", "javascript:"] {
        assert!(!lower.contains(bad), "{source:?} left {bad:?} in {html}");
    }
    // Raw HTML may be shown escaped (as text, `&lt;img … onerror=…&gt;`),
    // which is harmless; inside a tag it would run.
    for tag in tags_in(html) {
        assert!(
            !tag.contains("onerror") && !tag.contains("javascript"),
            "{source:?} left a live attribute in <{tag}>: {html}"
        );
    }
}

/// A 422 `validation_failed` with `invalid_content` on `content`.
async fn invalid_content(response: Response, what: &str) {
    let problem = expect_problem(response, 422, "validation_failed").await;
    assert_eq!(
        problem["errors"][0]["field"], "content",
        "{what}: {problem}"
    );
    assert_eq!(
        problem["errors"][0]["code"], "invalid_content",
        "{what}: {problem}"
    );
}

/// The whole life of a comment as readers see it: written (201, Location,
/// every field), listed oldest first page by page, and counted on the post
/// by id and in the blog's list as comments come and go.
#[tokio::test]
async fn readers_comment_on_a_published_post_and_read_them_oldest_first() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let other = app.new_user().await;
    let post = app
        .create_post(&author.token, "Open", "Say something")
        .await;
    let post_id = id_of(&post);
    assert_eq!(post["comment_count"], 0, "a new post: {post}");
    assert_eq!(post["comments_closed"], false, "open by default: {post}");

    let before = Utc::now() - chrono::Duration::seconds(1);
    let source = "Nice *post*, see [the docs](https://example.com/docs) <b onclick=x>!</b>";
    let resp = post_comment(&app, post_id, &reader, source).await;
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .expect("201 carries a Location");
    let first = expect_status(resp, 201).await;
    let first_id = id_of(&first);
    assert!(
        location.ends_with(&comment_path(first_id)),
        "Location {location} for {first}"
    );
    assert_eq!(first["post_id"], post_id, "{first}");
    assert_eq!(first["content"], source, "the source is kept as written");
    assert_eq!(first["author"]["username"], reader.username.as_str());
    assert!(
        first["author"]["avatar_url"].is_string(),
        "the author's avatar: {first}"
    );
    let html = first["content_html"].as_str().unwrap();
    assert!(html.contains("<em>post</em>"), "Markdown rendered: {html}");
    // The raw tag is dropped or shown escaped; either way no live handler.
    assert!(
        tags_in(html).iter().all(|t| !t.contains("onclick")),
        "sanitised: {html}"
    );
    let created = time(&first["created_at"]);
    assert!(created >= before && created <= Utc::now(), "{first}");
    assert!(time(&first["updated_at"]) >= created, "{first}");
    assert_eq!(counts(&app, post_id).await, (1, 1));

    // Four more, from two readers; the list is by age, oldest first.
    let mut written = vec![first_id];
    for i in 0..4 {
        let who = if i % 2 == 0 { &other } else { &reader };
        written.push(id_of(
            &comment(&app, post_id, who, &format!("comment {i}")).await,
        ));
    }
    assert_eq!(
        written.iter().collect::<HashSet<_>>().len(),
        5,
        "distinct ids: {written:?}"
    );
    // Each id once and in order, whatever the page size; for anybody.
    for limit in [2, 1, 5, 100] {
        assert_eq!(
            walk(&app, post_id, limit, None).await,
            written,
            "limit {limit}"
        );
    }
    assert_eq!(walk(&app, post_id, 2, Some(&other.token)).await, written);
    // The default page (50) holds all five and says there is no more.
    let page = expect_status(app.get(&comments_path(post_id)).await, 200).await;
    assert_eq!(ids(&page), written);
    assert!(page["next_cursor"].is_null(), "{page}");
    // A listed comment is the one that was written.
    let listed = &page["items"][0];
    for field in ["id", "post_id", "content", "content_html", "author"] {
        assert_eq!(listed[field], first[field], "{field}: {listed} vs {first}");
    }
    // Within the database's precision (microseconds) of the answer to the write.
    let drift = (time(&listed["created_at"]) - created)
        .num_microseconds()
        .unwrap();
    assert!(drift.abs() <= 1, "{listed} vs {first}");
    assert_eq!(counts(&app, post_id).await, (5, 5));

    // Deletes (by the comment's author, by the post's author) count down.
    expect_status(
        app.delete(&comment_path(written[0]), Some(&reader.token))
            .await,
        204,
    )
    .await;
    expect_status(
        app.delete(&comment_path(written[1]), Some(&author.token))
            .await,
        204,
    )
    .await;
    assert_eq!(counts(&app, post_id).await, (3, 3));
    assert_eq!(walk(&app, post_id, 2, None).await, written[2..].to_vec());
}

/// Comments are a small Markdown language: emphasis, code and links (marked
/// `nofollow ugc`) render; headings keep their text only; images, raw HTML
/// and `javascript:` links never make markup that runs or loads.
#[tokio::test]
async fn comment_markdown_is_a_small_language_that_cannot_run() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let post_id = id_of(&app.create_post(&author.token, "Hostile", "x").await);

    let hostile = [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "<img src=x onerror=alert(1)>",
        "![i](http://e/x.png)",
        "# Heading",
    ];
    let mut written = Vec::new();
    for source in hostile {
        let c = comment(&app, post_id, &reader, source).await;
        assert_eq!(c["content"], source, "the source is kept as written");
        assert_inert(source, c["content_html"].as_str().unwrap());
        written.push(c);
    }
    // A heading's text stays, as text.
    assert!(
        written[4]["content_html"]
            .as_str()
            .unwrap()
            .contains("Heading"),
        "{}",
        written[4]
    );

    let normal = comment(
        &app,
        post_id,
        &reader,
        "**Bold** and `code`, see [site](https://example.com/page)",
    )
    .await;
    let html = normal["content_html"].as_str().unwrap();
    assert!(html.contains("<strong>Bold</strong>"), "{html}");
    assert!(html.contains("<code>code</code>"), "{html}");
    let link = tags_in(html)
        .into_iter()
        .find(|t| t.starts_with("a ") && t.contains("https://example.com/page"))
        .unwrap_or_else(|| panic!("no link in {html}"));
    let rel = link
        .split("rel=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no rel on <{link}>"));
    let rels: Vec<&str> = rel.split_whitespace().collect();
    assert!(
        rels.contains(&"nofollow") && rels.contains(&"ugc"),
        "a reader's link is not endorsed: rel=\"{rel}\""
    );
    assert_inert("normal", html);

    // What is stored and listed is the same safe HTML.
    let page = expect_status(app.get(&comments_path(post_id)).await, 200).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), hostile.len() + 1, "{page}");
    for (item, source) in items.iter().zip(hostile) {
        assert_inert(source, item["content_html"].as_str().unwrap());
    }
}

/// Content is 1–5000 characters after trimming, without NUL; the body has
/// exactly one field. Refusals name the field, and store nothing.
#[tokio::test]
async fn invalid_comments_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    // Refused attempts may count towards the per-account rate limit: the
    // refused and the accepted ones come from different accounts.
    let refused = app.new_user().await;
    let accepted = app.new_user().await;
    let post_id = id_of(&app.create_post(&author.token, "Strict", "x").await);
    let path = comments_path(post_id);

    for (what, content) in [
        ("empty", String::new()),
        ("blank", " \n\t  \r\n ".to_owned()),
        ("5001 characters", "x".repeat(5001)),
    ] {
        invalid_content(post_comment(&app, post_id, &refused, &content).await, what).await;
    }
    // NUL: refused as a bad value (422 on `content`) or as a bad body (400).
    let nul = expect_problem_4xx(post_comment(&app, post_id, &refused, "a\0b").await).await;
    match nul["status"].as_u64() {
        Some(422) => assert_eq!(nul["errors"][0]["field"], "content", "{nul}"),
        Some(400) => {}
        _ => panic!("NUL: expected 400 or 422, got {nul}"),
    }
    // Unknown fields, a missing or mistyped `content`: a malformed body.
    for body in [
        json!({"content": "ok", "post_id": post_id}),
        json!({"content": "ok", "author_id": 1}),
        json!({}),
        json!({"content": 5}),
        json!({"content": null}),
    ] {
        expect_problem(
            app.post_json(&path, &body, Some(&refused.token)).await,
            400,
            "malformed_request",
        )
        .await;
    }
    assert_eq!(
        stored_comments(&app).await,
        0,
        "refused requests stored nothing"
    );

    // The bounds themselves pass: 5000 characters (not bytes), counted
    // after trimming.
    let longest = comment(&app, post_id, &accepted, &"é".repeat(5000)).await;
    assert_eq!(longest["content"].as_str().unwrap().chars().count(), 5000);
    comment(
        &app,
        post_id,
        &accepted,
        &format!("  {}\n", "x".repeat(5000)),
    )
    .await;
    let short = comment(&app, post_id, &accepted, "k").await;
    assert_eq!(stored_comments(&app).await, 3);

    // Edits follow the same rules, and a refused edit changes nothing.
    let edit = comment_path(id_of(&short));
    for (what, content) in [("blank", "   ".to_owned()), ("long", "y".repeat(5001))] {
        invalid_content(
            app.patch_json(&edit, &json!({ "content": content }), Some(&accepted.token))
                .await,
            what,
        )
        .await;
    }
    expect_problem(
        app.patch_json(
            &edit,
            &json!({"content": "ok", "post_id": 1}),
            Some(&accepted.token),
        )
        .await,
        400,
        "malformed_request",
    )
    .await;
    let page = expect_status(app.get(&path).await, 200).await;
    assert_eq!(page["items"][2]["content"], "k", "{page}");
}

/// Who may do what: a token to write; only public posts take or show
/// comments (their author included, for writing); only the comment's
/// author edits; the comment's author or the post's author delete; a
/// hidden post or an unknown comment is 404, not 403.
#[tokio::test]
async fn only_the_right_people_comment_edit_and_delete() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let stranger = app.new_user().await;
    let public = id_of(&app.create_post(&author.token, "Public", "x").await);
    let draft = create_post(
        &app,
        &author,
        json!({"title": "Draft", "content": "x", "status": "draft"}),
    )
    .await;
    let later = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let scheduled = create_post(
        &app,
        &author,
        json!({"title": "Later", "content": "x", "published_at": later}),
    )
    .await;

    // No token, or a bad one: 401.
    let body = json!({"content": "anonymous"});
    expect_problem(
        app.post_json(&comments_path(public), &body, None).await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(
        app.post_json(&comments_path(public), &body, Some("not-a-token"))
            .await,
        401,
        "unauthorized",
    )
    .await;

    // Posts nobody else can read take no comments, not even from their author.
    for hidden in [draft, scheduled, 999_999_999] {
        for who in [&reader, &author] {
            expect_problem(
                post_comment(&app, hidden, who, "hello").await,
                404,
                "not_found",
            )
            .await;
        }
        for token in [None, Some(stranger.token.as_str())] {
            expect_problem(
                get_as(&app, &comments_path(hidden), token).await,
                404,
                "not_found",
            )
            .await;
        }
    }
    // The author may read the (empty) comments of their own hidden posts.
    for hidden in [draft, scheduled] {
        let page = expect_status(
            app.get_authed(&comments_path(hidden), &author.token).await,
            200,
        )
        .await;
        assert_eq!(ids(&page), Vec::<i64>::new(), "{page}");
    }
    assert_eq!(stored_comments(&app).await, 0);

    let mine = comment(&app, public, &reader, "first version").await;
    let mine_id = id_of(&mine);
    let path = comment_path(mine_id);

    // Editing: the comment's author only; anybody else 403, nothing changes.
    let change = json!({"content": "hijacked"});
    for who in [&stranger, &author] {
        expect_problem(
            app.patch_json(&path, &change, Some(&who.token)).await,
            403,
            "forbidden",
        )
        .await;
    }
    expect_problem(
        app.patch_json(&path, &change, None).await,
        401,
        "unauthorized",
    )
    .await;
    let edited = expect_status(
        app.patch_json(
            &path,
            &json!({"content": "second *version*"}),
            Some(&reader.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(id_of(&edited), mine_id);
    assert_eq!(edited["content"], "second *version*");
    assert!(
        edited["content_html"]
            .as_str()
            .unwrap()
            .contains("<em>version</em>"),
        "re-rendered: {edited}"
    );
    assert_eq!(time(&edited["created_at"]), time(&mine["created_at"]));
    assert!(
        time(&edited["updated_at"]) > time(&mine["updated_at"]),
        "updated_at moves: {mine} -> {edited}"
    );
    assert!(time(&edited["updated_at"]) >= time(&edited["created_at"]));
    let page = expect_status(app.get(&comments_path(public)).await, 200).await;
    assert_eq!(page["items"][0]["content"], "second *version*", "{page}");

    // Unknown comments: 404 for every verb.
    let unknown = comment_path(999_999_999);
    expect_problem(
        app.patch_json(&unknown, &change, Some(&reader.token)).await,
        404,
        "not_found",
    )
    .await;
    expect_problem(
        app.delete(&unknown, Some(&reader.token)).await,
        404,
        "not_found",
    )
    .await;

    // Deleting: not a stranger; the comment's author yes.
    expect_problem(
        app.delete(&path, Some(&stranger.token)).await,
        403,
        "forbidden",
    )
    .await;
    expect_problem(app.delete(&path, None).await, 401, "unauthorized").await;
    assert_eq!(
        walk(&app, public, 10, None).await,
        vec![mine_id],
        "still there"
    );
    expect_status(app.delete(&path, Some(&reader.token)).await, 204).await;
    expect_problem(
        app.delete(&path, Some(&reader.token)).await,
        404,
        "not_found",
    )
    .await;
    expect_problem(
        app.patch_json(&path, &change, Some(&reader.token)).await,
        404,
        "not_found",
    )
    .await;
    // The post's author deletes someone else's comment on their post.
    let theirs = id_of(&comment(&app, public, &stranger, "off topic").await);
    expect_status(
        app.delete(&comment_path(theirs), Some(&author.token)).await,
        204,
    )
    .await;
    assert_eq!(walk(&app, public, 10, None).await, Vec::<i64>::new());
    assert_eq!(stored_comments(&app).await, 0);
    assert_eq!(counts(&app, public).await, (0, 0));

    // A comment whose post goes back to draft is as hidden as its post.
    let kept = id_of(&comment(&app, public, &reader, "before unpublishing").await);
    expect_status(
        app.patch_json(
            &format!("/api/posts/{public}"),
            &json!({"status": "draft"}),
            Some(&author.token),
        )
        .await,
        200,
    )
    .await;
    expect_problem(
        app.patch_json(
            &comment_path(kept),
            &json!({"content": "edited"}),
            Some(&reader.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_problem(app.get(&comments_path(public)).await, 404, "not_found").await;
}

/// The post's author closes comments: no new ones and no edits (409), but
/// deletes still work and the comments stay readable; nobody else can
/// close; reopening lets comments in again; a post can start closed.
#[tokio::test]
async fn a_posts_author_closes_and_reopens_comments() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let other = app.new_user().await;
    let post_id = id_of(&app.create_post(&author.token, "Closing", "x").await);
    let post_path = format!("/api/posts/{post_id}");
    let early = id_of(&comment(&app, post_id, &reader, "early").await);
    let kept = id_of(&comment(&app, post_id, &reader, "kept").await);

    let closed = expect_status(
        app.patch_json(
            &post_path,
            &json!({"comments_closed": true}),
            Some(&author.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(closed["comments_closed"], true, "{closed}");
    let read = expect_status(app.get(&post_path).await, 200).await;
    assert_eq!(read["comments_closed"], true, "{read}");
    let list = expect_status(app.get("/api/posts").await, 200).await;
    assert_eq!(list["items"][0]["comments_closed"], true, "{list}");

    // Someone else cannot reopen them (the post is not theirs).
    expect_problem(
        app.patch_json(
            &post_path,
            &json!({"comments_closed": false}),
            Some(&other.token),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    // Other edits, and `null`, keep the setting.
    for body in [json!({"title": "Closed"}), json!({"comments_closed": null})] {
        let out = expect_status(
            app.patch_json(&post_path, &body, Some(&author.token)).await,
            200,
        )
        .await;
        assert_eq!(out["comments_closed"], true, "{body}: {out}");
    }

    expect_problem(
        post_comment(&app, post_id, &reader, "too late").await,
        409,
        "comments_closed",
    )
    .await;
    expect_problem(
        post_comment(&app, post_id, &other, "me too").await,
        409,
        "comments_closed",
    )
    .await;
    expect_problem(
        app.patch_json(
            &comment_path(kept),
            &json!({"content": "changed"}),
            Some(&reader.token),
        )
        .await,
        409,
        "comments_closed",
    )
    .await;
    // Deleting still works; what is left stays readable and unchanged.
    expect_status(
        app.delete(&comment_path(early), Some(&reader.token)).await,
        204,
    )
    .await;
    let page = expect_status(app.get(&comments_path(post_id)).await, 200).await;
    assert_eq!(ids(&page), vec![kept]);
    assert_eq!(page["items"][0]["content"], "kept");
    assert_eq!(counts(&app, post_id).await, (1, 1));

    // Reopened: comments and edits again.
    let open = expect_status(
        app.patch_json(
            &post_path,
            &json!({"comments_closed": false}),
            Some(&author.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(open["comments_closed"], false, "{open}");
    let later = id_of(&comment(&app, post_id, &other, "open again").await);
    expect_status(
        app.patch_json(
            &comment_path(kept),
            &json!({"content": "changed"}),
            Some(&reader.token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(walk(&app, post_id, 1, None).await, vec![kept, later]);

    // A post can be written closed; absent means open.
    let born_closed = expect_status(
        app.post_json(
            "/api/posts",
            &json!({"title": "Quiet", "content": "x", "comments_closed": true}),
            Some(&author.token),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(born_closed["comments_closed"], true, "{born_closed}");
    expect_problem(
        post_comment(&app, id_of(&born_closed), &reader, "hello").await,
        409,
        "comments_closed",
    )
    .await;
    let explicit_open = create_post(
        &app,
        &author,
        json!({"title": "Chatty", "content": "x", "comments_closed": null}),
    )
    .await;
    comment(&app, explicit_open, &reader, "hello").await;
}

/// `rate_limit.comment_per_account`: the fourth comment in the window is
/// 429 with Retry-After, stores nothing, and other accounts are unaffected.
#[tokio::test]
async fn comments_per_account_are_rate_limited() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.comment_per_account = blog::config::Limit::new(3, 60);
    })
    .await;
    let author = app.new_user().await;
    let chatty = app.new_user().await;
    let quiet = app.new_user().await;
    let post_id = id_of(&app.create_post(&author.token, "Busy", "x").await);
    for i in 0..3 {
        comment(&app, post_id, &chatty, &format!("comment {i}")).await;
    }
    let limited = post_comment(&app, post_id, &chatty, "one too many").await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("429 carries a numeric Retry-After");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    expect_problem(limited, 429, "rate_limited").await;
    // Per account: another one (same client address) still comments.
    comment(&app, post_id, &quiet, "my first").await;
    assert_eq!(
        stored_comments(&app).await,
        4,
        "the limited comment is not stored"
    );
    assert_eq!(counts(&app, post_id).await, (4, 4));
}

/// A post's comments carry an `ETag`; sending it back is 304 until a
/// comment is written, edited or deleted. The author's view of a hidden
/// post's comments is private and carries none.
#[tokio::test]
async fn comment_lists_answer_304_until_they_change() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let post_id = id_of(&app.create_post(&author.token, "Tagged", "x").await);
    let path = comments_path(post_id);
    let first = id_of(&comment(&app, post_id, &reader, "one").await);

    let etag_of = |resp: &Response| {
        resp.headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let conditional = |etag: String| {
        let (app, path) = (&app, &path);
        async move {
            app.client
                .get(app.url(path))
                .header("if-none-match", etag)
                .send()
                .await
                .unwrap()
        }
    };

    let resp = app.get(&path).await;
    let etag = etag_of(&resp).expect("the comments carry an ETag");
    assert_eq!(ids(&expect_status(resp, 200).await), vec![first]);
    let same = conditional(etag.clone()).await;
    assert_eq!(same.status(), 304);
    assert_eq!(etag_of(&same).as_deref(), Some(etag.as_str()));
    assert!(same.bytes().await.unwrap().is_empty(), "304 has no body");

    // A new comment: the old tag gets the new list, under a new tag.
    let second = id_of(&comment(&app, post_id, &reader, "two").await);
    let resp = conditional(etag.clone()).await;
    let new_tag = etag_of(&resp).expect("ETag");
    assert_ne!(new_tag, etag, "a new comment changes the tag");
    assert_eq!(ids(&expect_status(resp, 200).await), vec![first, second]);
    assert_eq!(conditional(new_tag.clone()).await.status(), 304);

    // An edit and a delete change it too.
    expect_status(
        app.patch_json(
            &comment_path(second),
            &json!({"content": "two, edited"}),
            Some(&reader.token),
        )
        .await,
        200,
    )
    .await;
    let resp = conditional(new_tag.clone()).await;
    let edited_tag = etag_of(&resp).expect("ETag");
    assert_ne!(edited_tag, new_tag, "an edit changes the tag");
    assert_eq!(
        expect_status(resp, 200).await["items"][1]["content"],
        "two, edited"
    );
    expect_status(
        app.delete(&comment_path(first), Some(&reader.token)).await,
        204,
    )
    .await;
    let resp = conditional(edited_tag.clone()).await;
    assert_ne!(etag_of(&resp).as_deref(), Some(edited_tag.as_str()));
    assert_eq!(ids(&expect_status(resp, 200).await), vec![second]);

    // The author reading a draft's comments: 200 without a tag; anyone
    // else gets 404 whatever they send.
    let draft = create_post(
        &app,
        &author,
        json!({"title": "Draft", "content": "x", "status": "draft"}),
    )
    .await;
    let own = app.get_authed(&comments_path(draft), &author.token).await;
    assert_eq!(etag_of(&own), None, "a private answer has no ETag");
    expect_status(own, 200).await;
    let resp = app
        .client
        .get(app.url(&comments_path(draft)))
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

/// Deleting a post deletes its comments: the list is gone and no row is
/// left behind.
#[tokio::test]
async fn deleting_a_post_deletes_its_comments() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let doomed = id_of(&app.create_post(&author.token, "Doomed", "x").await);
    let survivor = id_of(&app.create_post(&author.token, "Survivor", "x").await);
    let gone = id_of(&comment(&app, doomed, &reader, "one").await);
    comment(&app, doomed, &author, "two").await;
    let stays = id_of(&comment(&app, survivor, &reader, "elsewhere").await);

    expect_status(
        app.delete(&format!("/api/posts/{doomed}"), Some(&author.token))
            .await,
        204,
    )
    .await;
    expect_problem(app.get(&comments_path(doomed)).await, 404, "not_found").await;
    let left: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM comments WHERE post_id = $1::bigint",
            &[&doomed],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the post's comments are gone");
    expect_problem(
        app.patch_json(
            &comment_path(gone),
            &json!({"content": "still here?"}),
            Some(&reader.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    // Only that post's.
    assert_eq!(walk(&app, survivor, 10, None).await, vec![stays]);
    assert_eq!(stored_comments(&app).await, 1);
}

/// Thousands of comments on one post: the count is right (kept by the
/// database, so rows written outside the app count too), a page never holds
/// more than 100, and walking the whole list with the cursor ends, with
/// every comment once and in order.
#[tokio::test]
async fn thousands_of_comments_come_in_bounded_pages() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let post_id = id_of(&app.create_post(&author.token, "Popular", "x").await);
    let reader_id = reader.id.as_i64().expect("numeric user id");
    // Before any read of the post, so no cached answer predates the rows.
    app.db
        .execute(
            "INSERT INTO comments (post_id, author_id, content, content_html, created_at, updated_at) \
             SELECT $1::bigint, $2::bigint, 'c' || g, '<p>c' || g || '</p>', \
                    now() + g * interval '1 ms', now() + g * interval '1 ms' \
             FROM generate_series(1, 3000) g",
            &[&post_id, &reader_id],
        )
        .await
        .unwrap();
    let expected: Vec<i64> = app
        .db
        .query(
            "SELECT id::bigint FROM comments WHERE post_id = $1::bigint ORDER BY created_at, id",
            &[&post_id],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(expected.len(), 3000);

    assert_eq!(counts(&app, post_id).await, (3000, 3000));

    let path = comments_path(post_id);
    for bad in [1000, 101, 0] {
        expect_problem(
            app.get(&format!("{path}?limit={bad}")).await,
            400,
            "malformed_request",
        )
        .await;
    }
    let first = expect_status(app.get(&path).await, 200).await;
    assert_eq!(ids(&first), expected[..50], "default page: the 50 oldest");
    assert!(first["next_cursor"].is_string(), "more to come");
    let first_item = &first["items"][0];
    assert_eq!(first_item["content"], "c1");
    assert_eq!(first_item["author"]["username"], reader.username.as_str());

    // To the end, 100 at a time: 30 pages, every comment once, in order.
    let walked = walk(&app, post_id, 100, None).await;
    assert_eq!(walked.len(), 3000);
    assert_eq!(walked, expected, "every comment once, oldest first");

    // The app's own writes count on top.
    comment(&app, post_id, &reader, "one more").await;
    assert_eq!(counts(&app, post_id).await, (3001, 3001));
}
