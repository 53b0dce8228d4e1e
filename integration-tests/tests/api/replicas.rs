//! Two replicas of the service on one Postgres and one Redis, as a Deployment with
//! `replicaCount: 2` runs: each keeps the cache generation for `redis.local_staleness_ms`
//! and counts views in memory, so these tests prove the bounds the cache module states.
//! A writer sees their change at once on the replica they wrote to, the other replica
//! within the bound (also when Redis is down), and no view is lost under concurrent load.

use std::time::{Duration, Instant};

use blog::kv::Kv;
use blog::metrics::Metrics;
use futures::StreamExt as _;
use integration_tests::json::ids;
use integration_tests::{TestApp, expect_status};
use serde_json::json;

/// The default `redis.local_staleness_ms`, which these tests run with.
const BOUND: Duration = Duration::from_millis(1000);
/// What a loaded 2-core CI machine adds to the bound: scheduling, a request, a
/// Postgres query.
const MARGIN: Duration = Duration::from_millis(750);

/// A second replica of `app`: same settings, hence the same database, Redis
/// database and bucket; a port of its own.
async fn replica(app: &TestApp) -> TestApp {
    TestApp::start(app.infra, app.settings.clone()).await
}

/// How long until `read` on `app` lists `id` first, polling every 20 ms; panics after
/// `limit`.
async fn until_listed(app: &TestApp, path: &str, id: i64, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let page = expect_status(app.get(path).await, 200).await;
        if ids(&page).first() == Some(&id) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{path} on the other replica still lacks post {id} after {:?}: {page}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_write_shows_at_once_where_it_was_made_and_within_the_bound_elsewhere() {
    let a = TestApp::spawn().await;
    assert_eq!(a.settings.redis.local_staleness_ms.get(), BOUND);
    let b = replica(&a).await;
    let author = a.new_user().await;
    let first = a.create_post(&author.token, "first", "x").await["id"]
        .as_i64()
        .unwrap();
    // Both replicas hold the first page, and B answers it from its memory.
    for app in [&a, &b] {
        for _ in 0..3 {
            assert_eq!(
                ids(&expect_status(app.get("/api/posts").await, 200).await)[0],
                first
            );
        }
    }
    assert!(
        b.metrics.cache_local_hits_total.get() >= 1,
        "the replica answered hits from memory (else the test proves nothing about it)"
    );

    for round in 0..3 {
        let id = a
            .create_post(&author.token, &format!("round {round}"), "x")
            .await["id"]
            .as_i64()
            .unwrap();
        // The writer's replica: the very next read.
        let page = expect_status(a.get("/api/posts").await, 200).await;
        assert_eq!(ids(&page)[0], id, "the writer's replica shows it at once");
        let waited = until_listed(&b, "/api/posts", id, BOUND + MARGIN).await;
        eprintln!("round {round}: the other replica showed the post after {waited:?}");
        // And the post itself, whose page B may hold too.
        expect_status(b.get(&format!("/api/posts/{id}")).await, 200).await;
    }

    // A signed-in reader sees a write at once on any replica: B asks Redis for
    // their reads. B has just read the post (its copy of the generation is fresh).
    let path = format!("/api/posts/{first}");
    for round in 0..3 {
        let title = format!("edited {round}");
        assert_ne!(expect_status(b.get(&path).await, 200).await["title"], title);
        let edit = json!({ "title": title });
        expect_status(a.patch_json(&path, &edit, Some(&author.token)).await, 200).await;
        let read = expect_status(b.get_authed(&path, &author.token).await, 200).await;
        assert_eq!(read["title"], title, "the writer, on the other replica");
        let page = expect_status(
            b.get_authed("/api/posts?limit=100", &author.token).await,
            200,
        )
        .await;
        let listed = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == first)
            .unwrap_or_else(|| panic!("post {first} in {page}"));
        assert_eq!(
            listed["title"], title,
            "the writer's list, on the other replica"
        );
    }
}

/// Redis goes away just after a write on A: A's invalidation fails, and B must not
/// keep serving its memory past the bound; it reads Postgres instead. When Redis is
/// back (empty), both replicas agree again.
#[tokio::test]
async fn the_bound_holds_while_redis_is_down() {
    let (a, redis) = TestApp::spawn_with_own_redis().await;
    let b = replica(&a).await;
    let author = a.new_user().await;
    let first = a.create_post(&author.token, "before", "x").await["id"]
        .as_i64()
        .unwrap();
    for app in [&a, &b] {
        assert_eq!(
            ids(&expect_status(app.get("/api/posts").await, 200).await)[0],
            first
        );
    }

    redis.container.stop(2).await;
    let during = a.create_post(&author.token, "during", "x").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        ids(&expect_status(a.get("/api/posts").await, 200).await)[0],
        during,
        "the writer's replica, Redis down"
    );
    let waited = until_listed(
        &b,
        "/api/posts",
        during,
        BOUND + MARGIN + a.settings.redis.timeout_ms.get(),
    )
    .await;
    eprintln!("Redis down: the other replica showed the post after {waited:?}");

    redis.container.start().await;
    redis.wait_ready(Duration::from_secs(30)).await;
    let after = a.create_post(&author.token, "after", "x").await["id"]
        .as_i64()
        .unwrap();
    // The breaker may keep Redis skipped for a second: well within the limit.
    let waited = until_listed(&b, "/api/posts", after, Duration::from_secs(10)).await;
    eprintln!("Redis back: the other replica showed the post after {waited:?}");
    let page = expect_status(a.get("/api/posts").await, 200).await;
    assert_eq!(ids(&page)[..3], [after, during, first]);
}

/// 600 reads of one post, 48 at a time, spread over two replicas that count in memory
/// and add to Redis in batches: Redis holds exactly 600 once they flushed, and a third
/// replica reads that count.
#[tokio::test]
async fn views_counted_in_batches_are_exact_under_concurrent_load() {
    const READS: usize = 600;
    let a = TestApp::spawn().await;
    let mut b = replica(&a).await;
    let author = a.new_user().await;
    let id = a.create_post(&author.token, "popular", "x").await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/posts/{id}");
    let shown: Vec<u64> = futures::stream::iter(0..READS)
        .map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            let path = path.clone();
            async move {
                expect_status(app.get(&path).await, 200).await["views"]
                    .as_u64()
                    .expect("a count")
            }
        })
        .buffer_unordered(48)
        .collect()
        .await;
    assert_eq!(shown.len(), READS);
    assert!(
        shown.iter().all(|&n| (1..=READS as u64).contains(&n)),
        "every answer shows a count between 1 and {READS}"
    );

    let kv = Kv::new(&a.settings.redis, Metrics::new()).unwrap();
    let key = format!("post:{id}:views");
    let in_redis = || async {
        kv.cmd::<Option<u64>>("test", redis::cmd("GET").arg(&key))
            .await
            .unwrap()
            .unwrap_or_default()
    };
    // B stops: its last views are flushed on the way out.
    b.stop().await.unwrap();
    let started = Instant::now();
    while in_redis().await < READS as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "Redis holds {} of {READS} views after 5 s",
            in_redis().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        in_redis().await,
        READS as u64,
        "none lost, none counted twice"
    );

    // A new replica reads Redis's count, plus its own view.
    let c = replica(&a).await;
    let post = expect_status(c.get(&path).await, 200).await;
    assert_eq!(post["views"].as_u64(), Some(READS as u64 + 1), "{post}");
    let page = expect_status(c.get("/api/posts").await, 200).await;
    assert_eq!(page["items"][0]["views"].as_u64(), Some(READS as u64 + 1));
}
