//! Full-text search through the API: ranking, stemming and the query
//! syntax, unpublished posts never found, snippets that cannot carry
//! markup, bounded queries and pages, and the GIN index in the plan.

use chrono::Utc;
use integration_tests::plans::{self, Plan};
use integration_tests::{TestApp, TestUser, expect_problem, expect_status};
use serde_json::{Value, json};

async fn create(app: &TestApp, who: &TestUser, body: Value) -> i64 {
    expect_status(
        app.post_json("/api/posts", &body, Some(&who.token)).await,
        201,
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

fn search_path(q: &str) -> String {
    let encoded: String = q
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("/api/search?q={encoded}")
}

async fn hits(app: &TestApp, q: &str) -> Vec<Value> {
    let page = expect_status(app.get(&search_path(q)).await, 200).await;
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .clone()
}

async fn ids(app: &TestApp, q: &str) -> Vec<i64> {
    hits(app, q)
        .await
        .iter()
        .map(|h| h["post"]["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn search_ranks_stems_and_finds_published_posts_only() {
    let app = TestApp::spawn().await;
    let me = app.new_user().await;
    let word = format!("zyx{}", integration_tests::random_suffix(6).to_lowercase());
    // The word in the body only, then in the title: the title ranks first.
    let in_body = create(
        &app,
        &me,
        json!({"title": "Something else", "content": format!("A long text about {word} and more.")}),
    )
    .await;
    let in_title = create(
        &app,
        &me,
        json!({"title": format!("All about {word}"), "content": "Nothing here."}),
    )
    .await;
    let draft = create(
        &app,
        &me,
        json!({"title": format!("{word} draft"), "content": "x", "status": "draft"}),
    )
    .await;
    let later = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let scheduled = create(
        &app,
        &me,
        json!({"title": format!("{word} later"), "content": "x", "published_at": later}),
    )
    .await;
    assert_eq!(ids(&app, &word).await, vec![in_title, in_body]);
    for hidden in [draft, scheduled] {
        assert!(!ids(&app, &word).await.contains(&hidden));
    }

    // Stemming, phrases, or, exclusion.
    let stem = create(
        &app,
        &me,
        json!({"title": "Stems", "content": format!("{word} writing tests")}),
    )
    .await;
    assert_eq!(
        ids(&app, &format!("{word} written")).await,
        Vec::<i64>::new()
    );
    assert_eq!(ids(&app, &format!("{word} writes")).await, vec![stem]);
    assert_eq!(ids(&app, &format!("\"{word} writing\"")).await, vec![stem]);
    let excluded = ids(&app, &format!("{word} -nothing")).await;
    assert!(
        !excluded.contains(&in_title) && excluded.contains(&in_body),
        "{excluded:?}"
    );

    // Operators or stop words only: nothing, not an error.
    for q in ["\"", "-", "or", "the and of", "!!! ( ) | & :*", "<->"] {
        assert_eq!(hits(&app, q).await.len(), 0, "{q:?}");
    }
    // Empty, too long, control characters: 400.
    for q in ["", "   ", &"a".repeat(201), "a\u{1}b"] {
        expect_problem(app.get(&search_path(q)).await, 400, "malformed_request").await;
    }
    expect_problem(app.get("/api/search").await, 400, "malformed_request").await;
}

#[tokio::test]
async fn snippets_mark_the_words_and_escape_everything_else() {
    let app = TestApp::spawn().await;
    let me = app.new_user().await;
    let word = format!("qwv{}", integration_tests::random_suffix(6).to_lowercase());
    let content = format!(
        "<script>alert(1)</script> <img src=x onerror=alert(2)> before {word} after \
         \u{E000}stray marker\u{E001} & \"quotes\""
    );
    create(
        &app,
        &me,
        json!({"title": "Hostile", "content": content, "format": "plain"}),
    )
    .await;
    let found = hits(&app, &word).await;
    assert_eq!(found.len(), 1);
    let snippet = found[0]["snippet_html"].as_str().unwrap();
    // The words around the match, as text (Postgres's parser drops what
    // it reads as tags; what it does not comes back escaped), and no mark
    // but the match's: the post's own markers are taken out.
    assert!(
        snippet.contains(&format!("<mark>{word}</mark>")),
        "{snippet}"
    );
    assert!(snippet.contains("stray marker"), "{snippet}");
    assert!(
        !snippet.contains("<script") && !snippet.contains("<img"),
        "{snippet}"
    );
    assert_eq!(
        snippet.matches('<').count(),
        2,
        "only one <mark> and its end: {snippet}"
    );
    assert_eq!(found[0]["post"]["title"], "Hostile");
}

#[tokio::test]
async fn results_page_within_bounds_and_answer_304() {
    let app = TestApp::spawn().await;
    let me = app.new_user().await;
    let word = format!("pgw{}", integration_tests::random_suffix(6).to_lowercase());
    let mut all = Vec::new();
    for i in 0..25 {
        all.push(
            create(
                &app,
                &me,
                json!({"title": format!("Result {i}"), "content": format!("{word} body")}),
            )
            .await,
        );
    }
    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let body = expect_status(
            app.get(&format!("{}&limit=10&page={page}", search_path(&word)))
                .await,
            200,
        )
        .await;
        seen.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["post"]["id"].as_i64().unwrap()),
        );
        match body["next_page"].as_u64() {
            Some(n) => page = n,
            None => break,
        }
    }
    seen.sort_unstable();
    all.sort_unstable();
    assert_eq!(seen, all, "every result once over the pages");
    for bad in ["&page=0", "&page=11", "&limit=0", "&limit=21"] {
        expect_problem(
            app.get(&format!("{}{bad}", search_path(&word))).await,
            400,
            "malformed_request",
        )
        .await;
    }
    let first = app.get(&search_path(&word)).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    expect_status(first, 200).await;
    let again = app
        .client
        .get(app.url(&search_path(&word)))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // A new matching post: a new page at once.
    create(
        &app,
        &me,
        json!({"title": format!("{word} newest"), "content": "x"}),
    )
    .await;
    let after = app
        .client
        .get(app.url(&search_path(&word)))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
}

/// 30,000 posts, newest last (as ids grow): `common` in every post (the
/// oldest 100 with it in their title, which ranks higher), `medium` in every
/// 50th, `rare needle` in every 1000th.
async fn seed_for_tiers(app: &TestApp) -> (i64, i64) {
    let author = app.new_user().await;
    let author_id = author.id.as_i64().unwrap();
    app.db
        .batch_execute(&format!(
            "INSERT INTO posts (author_id, title, content, created_at, updated_at, published_at) \
             SELECT {author_id}, CASE WHEN g <= 100 THEN 'common title ' ELSE 'Post ' END || g, \
                    'common words here ' || md5(g::text) \
                    || CASE WHEN g % 50 = 0 THEN ' medium' ELSE '' END \
                    || CASE WHEN g % 1000 = 0 THEN ' rare needle' ELSE '' END, \
                    now(), now(), now() - (30001 - g) * interval '1 second' \
             FROM generate_series(1, 30000) AS g ORDER BY g"
        ))
        .await
        .unwrap();
    // What autovacuum does after a bulk load: the GIN's pending list
    // merged into the index, statistics taken.
    app.db.batch_execute("VACUUM ANALYZE posts").await.unwrap();
    let row = app
        .db
        .query_one("SELECT min(id), max(id) FROM posts", &[])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

async fn search_ids(app: &TestApp, q: &str, limit: i64, skip: i64) -> Vec<i64> {
    use blog::posts::repository::sql;
    app.db
        .query(sql::SEARCH, &[&q, &Utc::now(), &limit, &skip])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i64>("id"))
        .collect()
}

/// Which matches compete (`sql::SEARCH`'s tiers): the newest 2000 posts for
/// words that common, a window of newest posts sized by how common the words
/// are lately, every match for rare words; at most 200 in all.
#[tokio::test]
async fn common_words_rank_the_newest_posts_and_rare_words_every_post() {
    let app = TestApp::spawn().await;
    let (first, last) = seed_for_tiers(&app).await;

    // Every post matches: the 2000 newest compete, so the old title matches
    // (which rank highest over all posts) are not among the best 200.
    let common = search_ids(&app, "common", 200, 0).await;
    assert_eq!(common.len(), 200);
    assert!(common.iter().all(|&id| id > last - 2000), "{common:?}");
    assert!(
        search_ids(&app, "common", 21, 200).await.is_empty(),
        "200 at most"
    );

    // 1 in 50: 40 in the probe, so a window of 800000 / 40 = 20000 ids
    // (whole blocks of 4096) holding ≥ 200 matches; nothing older.
    let medium = search_ids(&app, "medium", 200, 0).await;
    assert_eq!(medium.len(), 200);
    let since = ((last - 20_000) >> 12) << 12;
    assert!(medium.iter().all(|&id| id >= since), "{medium:?}");
    assert!(
        medium.iter().any(|&id| id <= last - 2000),
        "beyond the probe"
    );

    // 1 in 1000: 2 in the probe, so every match competes, the oldest too.
    let rare = search_ids(&app, "rare needle", 200, 0).await;
    assert_eq!(rare.len(), 30);
    assert!(rare.contains(&(first + 999)), "the oldest match: {rare:?}");
}

/// A two-word query reads the GIN index, not every post, in the generic plan a
/// prepared statement gets from its 6th execution on a connection too.
#[tokio::test]
async fn a_two_word_query_reads_the_gin_index() {
    use blog::posts::repository::sql;
    let app = TestApp::spawn().await;
    seed_for_tiers(&app).await;
    let now = Utc::now();
    let (limit, skip) = (11_i64, 0_i64);
    let at: &str = &plans::at(now);
    for plan in Plan::BOTH {
        for words in ["rare needle", "medium words", "common words"] {
            let args = [&format!("'{words}'")[..], at, "11", "0"];
            let text = plans::explain(&app.db, sql::SEARCH, &args, plan).await;
            let label = format!("{words} ({plan:?} plan)");
            assert!(
                text.contains("posts_search_blocks_idx"),
                "{label}: no GIN index:\n{text}"
            );
            assert!(!text.contains("Seq Scan on posts"), "{label}:\n{text}");
            // No scan of the publication index (every published post).
            assert!(
                !text.contains("posts_published_at_id_idx"),
                "{label}:\n{text}"
            );
        }
    }
    let found = app
        .db
        .query(sql::SEARCH, &[&"rare needle", &now, &limit, &skip])
        .await
        .unwrap();
    assert_eq!(found.len(), 11, "30 matches, one page and one more");
}
