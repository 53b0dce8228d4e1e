//! Drafts and scheduled posts through the API: who sees them (by id, in the
//! lists, the author's list, the profile's count, for anonymous readers,
//! another user and the author), publishing rules, a scheduled post showing
//! up on its own at its time through a warm cache, ordering and the plans
//! of the list queries.

use std::borrow::Cow;
use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use integration_tests::plans::{self, Plan};
use integration_tests::{TestApp, TestUser, expect_problem, expect_status};
use serde_json::{Value, json};

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A time field of an answer (any RFC 3339 form).
fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not a time: {v}: {e}"))
}

async fn create(app: &TestApp, who: &TestUser, body: Value) -> Value {
    expect_status(
        app.post_json("/api/posts", &body, Some(&who.token)).await,
        201,
    )
    .await
}

/// Every id of a list, following `next_cursor`, as `token`'s user (or
/// anonymously).
async fn walk(app: &TestApp, path: &str, limit: u32, token: Option<&str>) -> Vec<i64> {
    let mut all = Vec::new();
    let mut url = format!("{path}?limit={limit}");
    for _ in 0..1000 {
        let resp = match token {
            Some(t) => app.get_authed(&url, t).await,
            None => app.get(&url).await,
        };
        let page = expect_status(resp, 200).await;
        all.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{path}?limit={limit}&cursor={cursor}"),
            None => return all,
        }
    }
    panic!("pagination did not end");
}

/// Drafts and future posts exist for their author only: by id, in every
/// list and in counts, for an anonymous reader and for another user.
#[tokio::test]
async fn drafts_and_scheduled_posts_are_seen_by_their_author_only() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let other = app.new_user().await;
    let published = create(&app, &author, json!({"title": "Out", "content": "x"})).await;
    assert_eq!(published["status"], "published", "{published}");
    assert!(published["published_at"].is_string(), "{published}");
    let draft = create(
        &app,
        &author,
        json!({"title": "Draft", "content": "x", "status": "draft"}),
    )
    .await;
    assert_eq!(draft["status"], "draft", "{draft}");
    assert!(draft["published_at"].is_null(), "{draft}");
    let later = rfc3339(Utc::now() + chrono::Duration::hours(1));
    let scheduled = create(
        &app,
        &author,
        json!({"title": "Later", "content": "x", "published_at": later}),
    )
    .await;
    assert_eq!(scheduled["status"], "published", "{scheduled}");
    assert_eq!(
        time(&scheduled["published_at"]),
        time(&json!(later)),
        "{scheduled}"
    );
    let [p, d, s] = [&published, &draft, &scheduled].map(|v| v["id"].as_i64().unwrap());

    // By id.
    for hidden in [d, s] {
        let path = format!("/api/posts/{hidden}");
        expect_problem(app.get(&path).await, 404, "not_found").await;
        expect_problem(app.get_authed(&path, &other.token).await, 404, "not_found").await;
        let mine = expect_status(app.get_authed(&path, &author.token).await, 200).await;
        assert_eq!(mine["id"], hidden);
    }
    expect_status(app.get(&format!("/api/posts/{p}")).await, 200).await;
    // A token that is sent must be a valid one.
    expect_problem(
        app.get_authed(&format!("/api/posts/{d}"), "not-a-token")
            .await,
        401,
        "unauthorized",
    )
    .await;
    let resp = app
        .client
        .get(app.url(&format!("/api/posts/{p}")))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    expect_problem(resp, 401, "unauthorized").await;

    // The blog's list is the same for everybody, the author included.
    for token in [
        None,
        Some(other.token.as_str()),
        Some(author.token.as_str()),
    ] {
        assert_eq!(
            walk(&app, "/api/posts", 2, token).await,
            vec![p],
            "{token:?}"
        );
    }
    // The author's list: public posts for others, everything for the author.
    let author_path = format!("/api/users/{}/posts", author.username);
    assert_eq!(walk(&app, &author_path, 1, None).await, vec![p]);
    assert_eq!(
        walk(&app, &author_path, 1, Some(&other.token)).await,
        vec![p]
    );
    let own = walk(&app, &author_path, 1, Some(&author.token)).await;
    assert_eq!(
        own.iter().copied().collect::<HashSet<_>>(),
        HashSet::from([p, d, s]),
        "{own:?}"
    );
    assert_eq!(own.len(), 3, "each post once: {own:?}");
    // Whatever case the author's name is typed in.
    let upper = format!("/api/users/{}/posts", author.username.to_uppercase());
    assert_eq!(walk(&app, &upper, 5, Some(&author.token)).await.len(), 3);
    expect_problem(
        app.get_authed(&author_path, "not-a-token").await,
        401,
        "unauthorized",
    )
    .await;

    // Counts hold only what readers see, whoever asks.
    let profile_path = format!("/api/users/{}", author.username);
    for token in [
        None,
        Some(other.token.as_str()),
        Some(author.token.as_str()),
    ] {
        let resp = match token {
            Some(t) => app.get_authed(&profile_path, t).await,
            None => app.get(&profile_path).await,
        };
        let profile = expect_status(resp, 200).await;
        assert_eq!(profile["post_count"], 1, "{profile}");
    }

    // Another user cannot learn that a draft exists: 404, not 403.
    for hidden in [d, s] {
        let path = format!("/api/posts/{hidden}");
        expect_problem(
            app.patch_json(&path, &json!({"title": "mine now"}), Some(&other.token))
                .await,
            404,
            "not_found",
        )
        .await;
        expect_problem(
            app.delete(&path, Some(&other.token)).await,
            404,
            "not_found",
        )
        .await;
    }
    expect_problem(
        app.patch_json(
            &format!("/api/posts/{p}"),
            &json!({"title": "x"}),
            Some(&other.token),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let still: i64 = app
        .db
        .query_one("SELECT count(*) FROM posts WHERE title = 'mine now'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(still, 0);
}

/// The author publishes, schedules, reschedules and unpublishes; requests
/// that make no sense are refused with the field and a stable code.
#[tokio::test]
async fn authors_publish_schedule_and_unpublish() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let draft = create(
        &app,
        &author,
        json!({"title": "Soon", "content": "x", "status": "draft"}),
    )
    .await;
    let id = draft["id"].as_i64().unwrap();
    let path = format!("/api/posts/{id}");
    let patch = |body: Value| {
        let (app, path, token) = (&app, &path, &author.token);
        async move { app.patch_json(path, &body, Some(token)).await }
    };

    // Edits keep a draft a draft.
    let edited = expect_status(patch(json!({"content": "more"})).await, 200).await;
    assert_eq!(edited["status"], "draft");
    assert!(ids(&expect_status(app.get("/api/posts").await, 200).await).is_empty());

    // `published` publishes a draft now.
    let before = Utc::now() - chrono::Duration::seconds(1);
    let out = expect_status(patch(json!({"status": "published"})).await, 200).await;
    let at = time(&out["published_at"]);
    assert!(at >= before && at <= Utc::now(), "{out}");
    assert_eq!(
        ids(&expect_status(app.get("/api/posts").await, 200).await),
        vec![id]
    );
    // ... and keeps the date of a post already published.
    let again = expect_status(
        patch(json!({"status": "published", "title": "Soon!"})).await,
        200,
    )
    .await;
    assert_eq!(again["published_at"], out["published_at"]);

    // A future time schedules it (gone from the list until then).
    let later = rfc3339(Utc::now() + chrono::Duration::days(2));
    let moved = expect_status(patch(json!({"published_at": later})).await, 200).await;
    assert_eq!(time(&moved["published_at"]), time(&json!(later)));
    expect_problem(app.get(&path).await, 404, "not_found").await;
    assert!(ids(&expect_status(app.get("/api/posts").await, 200).await).is_empty());

    // `draft` unpublishes.
    let back = expect_status(patch(json!({"status": "draft"})).await, 200).await;
    assert_eq!(back["status"], "draft");
    assert!(back["published_at"].is_null());
    let stored: Option<DateTime<Utc>> = app
        .db
        .query_one("SELECT published_at FROM posts WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, None);

    // A time in the past backdates: the post takes its place in the list.
    let old = create(&app, &author, json!({"title": "Today", "content": "x"})).await;
    let past = rfc3339(Utc::now() - chrono::Duration::days(30));
    expect_status(patch(json!({"published_at": past})).await, 200).await;
    assert_eq!(
        ids(&expect_status(app.get("/api/posts").await, 200).await),
        vec![old["id"].as_i64().unwrap(), id]
    );

    // Nonsense is refused, and changes nothing.
    for body in [
        json!({"status": "draft", "published_at": later}),
        json!({"published_at": "1969-12-31T23:59:59Z"}),
        json!({"title": "", "status": "draft", "published_at": later}),
    ] {
        let problem = expect_problem(patch(body.clone()).await, 422, "validation_failed").await;
        let codes: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&"invalid_published_at"), "{body}: {problem}");
    }
    let problem = expect_problem(
        app.post_json(
            "/api/posts",
            &json!({"title": "t", "content": "c", "status": "draft", "published_at": later}),
            Some(&author.token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "published_at", "{problem}");
    for body in [
        json!({"status": "archived"}),
        json!({"published_at": "tomorrow"}),
        json!({"published_at": 12}),
    ] {
        expect_problem(patch(body).await, 400, "malformed_request").await;
    }
    let now: i64 = app
        .db
        .query_one("SELECT count(*) FROM posts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(now, 2, "refused requests stored nothing");
}

/// No job runs at a scheduled time and nothing is written: the cached
/// lists expire at the next publication they saw coming.
#[tokio::test]
async fn a_scheduled_post_appears_on_its_own_at_its_time_through_a_warm_cache() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let first = create(&app, &author, json!({"title": "First", "content": "x"})).await["id"]
        .as_i64()
        .unwrap();
    let at = Utc::now() + chrono::Duration::seconds(3);
    let scheduled = create(
        &app,
        &author,
        json!({"title": "On time", "content": "x", "published_at": rfc3339(at)}),
    )
    .await["id"]
        .as_i64()
        .unwrap();

    let author_path = format!("/api/users/{}/posts", author.username);
    let hits = || {
        app.metrics
            .cache_requests_total
            .with_label_values(&["hit"])
            .get()
    };
    let before = hits();
    for path in ["/api/posts", author_path.as_str()] {
        for _ in 0..2 {
            let page = expect_status(app.get(path).await, 200).await;
            assert_eq!(ids(&page), vec![first], "{path} before its time");
        }
    }
    assert!(
        hits() >= before + 2,
        "the second reads came from the cache (so the test proves expiry)"
    );

    // Past its time, with no write in between (the TTL is 60 s).
    let wait = (at - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(300);
    tokio::time::sleep(wait).await;
    for path in ["/api/posts", author_path.as_str()] {
        let page = expect_status(app.get(path).await, 200).await;
        assert_eq!(ids(&page), vec![scheduled, first], "{path} after its time");
    }
    let post = expect_status(app.get(&format!("/api/posts/{scheduled}")).await, 200).await;
    assert_eq!(post["title"], "On time");
    let profile = expect_status(
        app.get(&format!("/api/users/{}", author.username)).await,
        200,
    )
    .await;
    assert_eq!(profile["post_count"], 2);
}

/// Lists are ordered by publication (not by writing); the author's own
/// list walks every post once whatever the page size, drafts by their
/// last edit.
#[tokio::test]
async fn lists_follow_publication_times_and_the_own_list_pages_through_everything() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let now = Utc::now();
    let mut expected_public = Vec::new();
    // Written in this order, published in the reverse one.
    for days in [1, 2, 3] {
        let at = rfc3339(now - chrono::Duration::days(days));
        let post = create(
            &app,
            &author,
            json!({"title": format!("{days} days ago"), "content": "x", "published_at": at}),
        )
        .await;
        expected_public.push(post["id"].as_i64().unwrap());
    }
    assert_eq!(
        ids(&expect_status(app.get("/api/posts?limit=10").await, 200).await),
        expected_public
    );
    for limit in [1, 2] {
        assert_eq!(walk(&app, "/api/posts", limit, None).await, expected_public);
    }
    let mut drafts = Vec::new();
    for i in 0..3 {
        let d = create(
            &app,
            &author,
            json!({"title": format!("draft {i}"), "content": "x", "status": "draft"}),
        )
        .await;
        drafts.push(d["id"].as_i64().unwrap());
    }
    // Ties on the sort key are the hard case for keyset pagination.
    app.db
        .execute(
            "UPDATE posts SET updated_at = '2024-01-01T00:00:00Z' WHERE published_at IS NULL",
            &[],
        )
        .await
        .unwrap();
    let own_path = format!("/api/users/{}/posts", author.username);
    let mut expected_own: Vec<(DateTime<Utc>, i64)> = app
        .db
        .query("SELECT listed_at, id FROM posts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    expected_own.sort_by(|a, b| b.cmp(a));
    let expected_own: Vec<i64> = expected_own.into_iter().map(|(_, id)| id).collect();
    assert_eq!(expected_own.len(), 6);
    for limit in [1, 2, 4, 100] {
        assert_eq!(
            walk(&app, &own_path, limit, Some(&author.token)).await,
            expected_own,
            "limit {limit}"
        );
    }
    // Drafts dated 2024 come after the posts published days ago.
    assert_eq!(&expected_own[..3], &expected_public[..]);
}

/// The app's own connections run with the settings `db::pool` gives them:
/// no JIT (a compile on every execution of a statement the planner thinks
/// dear) and the statement timeout.
#[tokio::test]
async fn the_apps_connections_run_without_jit_and_with_the_timeout() {
    let app = TestApp::spawn().await;
    let pool = blog::db::pool(&app.settings.database).unwrap();
    let conn = pool.get().await.unwrap();
    // `setting` in the parameter's own unit (milliseconds for the timeout).
    let setting = |name: &'static str| {
        let conn = &conn;
        async move {
            conn.query_one("SELECT setting FROM pg_settings WHERE name = $1", &[&name])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(setting("jit").await, "off");
    let timeout = app.settings.database.statement_timeout_ms.units();
    assert_eq!(setting("statement_timeout").await, timeout.to_string());
}

/// The plan of every list statement, on a table big enough for the planner
/// to prefer an index when one fits: each reads its index from the bound
/// `published_at <= now` (first page) or the cursor (deep page), and stops
/// after a page.
#[tokio::test]
async fn every_list_reads_its_index_on_the_first_and_a_deep_page() {
    use blog::posts::repository::sql;
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let author_id = author.id.as_i64().unwrap();
    // 30 000 posts, a tenth drafts and a tenth scheduled.
    app.db
        .batch_execute(&format!(
            "INSERT INTO posts (author_id, title, content, created_at, updated_at, published_at) \
             SELECT {author_id}, 'p' || g, 'x', now() - g * interval '1 minute', \
                    now() - g * interval '1 minute', \
                    CASE WHEN g % 10 = 0 THEN NULL \
                         WHEN g % 10 = 1 THEN now() + g * interval '1 minute' \
                         ELSE now() - g * interval '1 minute' END \
             FROM generate_series(1, 30000) AS g; ANALYZE posts;"
        ))
        .await
        .unwrap();
    let now: &str = &plans::at(Utc::now());
    let deep: &str = &plans::at(Utc::now() - chrono::Duration::minutes(20_000));
    let author: &str = &author_id.to_string();
    let id = "1";
    // A page of 6: 7 rows, the last telling whether there is another page.
    let cases: Vec<(&str, Cow<str>, Vec<&str>, &str)> = vec![
        (
            "list, first page",
            sql::LIST_FIRST.rows(7),
            vec![now],
            "posts_published_at_id_idx",
        ),
        (
            "list, deep page",
            sql::LIST_AFTER.rows(7),
            vec![now, deep, id],
            "posts_published_at_id_idx",
        ),
        (
            "list, newer page",
            sql::LIST_BEFORE.rows(7),
            vec![now, deep, id],
            "posts_published_at_id_idx",
        ),
        (
            "author, first page",
            sql::AUTHOR_FIRST.rows(7),
            vec![author, now],
            "posts_author_published_at_id_idx",
        ),
        (
            "author, deep page",
            sql::AUTHOR_AFTER.rows(7),
            vec![author, now, deep, id],
            "posts_author_published_at_id_idx",
        ),
        (
            "own, first page",
            sql::OWN_FIRST.rows(7),
            vec![author],
            "posts_author_listed_at_id_idx",
        ),
        (
            "own, deep page",
            sql::OWN_AFTER.rows(7),
            vec![author, deep, id],
            "posts_author_listed_at_id_idx",
        ),
        (
            "next publication",
            Cow::Borrowed(sql::NEXT_PUBLICATION),
            vec![now],
            "posts_published_at_id_idx",
        ),
    ];
    for (label, statement, args, index) in cases {
        for plan in Plan::BOTH {
            let text = plans::explain(&app.db, &statement, &args, plan).await;
            // One page (and the row that tells whether there is another).
            plans::assert_one_page(
                &format!("{label} ({plan:?} plan)"),
                &text,
                &format!("using {index} on posts"),
                "posts",
                7.0,
            );
        }
    }

    // And that generic plan is the one Postgres keeps (`plan_cache_mode =
    // auto`): from the sixth execution on, no statement is planned again.
    let now = Utc::now();
    let deep = now - chrono::Duration::minutes(20_000);
    let id = 1_i64;
    type Params<'a> = Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)>;
    let runs: Vec<(Cow<str>, Params)> = vec![
        (sql::LIST_FIRST.rows(7), vec![&now]),
        (sql::LIST_AFTER.rows(7), vec![&now, &deep, &id]),
        (sql::AUTHOR_FIRST.rows(7), vec![&author_id, &now]),
        (sql::OWN_AFTER.rows(7), vec![&author_id, &deep, &id]),
    ];
    for (statement, params) in &runs {
        let prepared = app.db.prepare(statement).await.unwrap();
        for _ in 0..10 {
            let rows = app.db.query(&prepared, params).await.unwrap();
            assert_eq!(rows.len(), 7);
        }
        let counts = app
            .db
            .query_one(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
                 WHERE statement = $1",
                &[&statement.as_ref()],
            )
            .await
            .unwrap();
        let (generic, custom): (i64, i64) = (counts.get(0), counts.get(1));
        assert_eq!((generic, custom), (5, 5), "{statement}");
    }
}
