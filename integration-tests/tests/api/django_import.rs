//! `blog import-django` against a fixture made by a real Django: the original's two
//! models (integration-tests/django/original) on a database of the test Postgres, users
//! with `set_password`, profiles with pictures made by Pillow, posts, and `dumpdata`
//! (integration-tests/django/make_fixture.py, in a virtualenv from PyPI made once under
//! $BLOG_CACHE_DIR by integration-tests/django/setup.sh). The same database is then also
//! imported live. No Python, venv or PyPI: the tests fail, saying what is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use blog::import::{Options, Pictures, Report, S3Source, Source};
use integration_tests::deps::Database;
use integration_tests::{TestApp, expect_problem_4xx, expect_status, infra, random_suffix};
use serde_json::Value;
use tokio::sync::OnceCell;

struct Fixture {
    dir: PathBuf,
    db: Database,
    manifest: Value,
}

impl Fixture {
    fn dump(&self) -> String {
        self.dir.join("dump.json").display().to_string()
    }

    fn media(&self) -> Pictures {
        Pictures::Dir(self.dir.join("media"))
    }

    fn live_url(&self) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            self.db.user,
            self.db.password,
            infra_port(),
            self.db.name
        )
    }

    fn password(&self, user: &str) -> String {
        self.manifest["users"][user]["password"]
            .as_str()
            .unwrap_or_else(|| panic!("no password for {user} in the manifest"))
            .to_owned()
    }
}

static PG_PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();

fn infra_port() -> u16 {
    *PG_PORT.get().expect("fixture made first")
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Made once per test binary: the Django database and its dump are only read by the tests.
async fn fixture() -> &'static Fixture {
    static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();
    FIXTURE
        .get_or_init(|| async {
            let infra = infra().await;
            PG_PORT.get_or_init(|| infra.postgres.port);
            let db = infra.postgres.create_database().await;
            let dir = std::env::temp_dir().join(format!("blog-django-{}", random_suffix(10)));
            let (db2, dir2) = (db.clone(), dir.clone());
            let port = infra.postgres.port;
            tokio::task::spawn_blocking(move || make_fixture(&db2, port, &dir2))
                .await
                .expect("fixture task");
            let manifest: Value =
                serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
            Fixture { dir, db, manifest }
        })
        .await
}

fn make_fixture(db: &Database, port: u16, out: &Path) {
    let setup = Command::new("bash")
        .arg(repo_path("django/setup.sh"))
        .output()
        .expect("running integration-tests/django/setup.sh (is bash installed?)");
    assert!(
        setup.status.success(),
        "the Django fixture needs Python 3 with venv and pip, and PyPI the first time \
         (integration-tests/django/setup.sh): {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = String::from_utf8(setup.stdout).unwrap().trim().to_owned();
    let made = Command::new(&python)
        .arg(repo_path("django/make_fixture.py"))
        .arg(out)
        .env("DJANGO_DB_HOST", "127.0.0.1")
        .env("DJANGO_DB_PORT", port.to_string())
        .env("DJANGO_DB_NAME", &db.name)
        .env("DJANGO_DB_USER", &db.user)
        .env("DJANGO_DB_PASSWORD", &db.password)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running make_fixture.py");
    assert!(
        made.status.success(),
        "make_fixture.py failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );
}

fn options(source: Source, pictures: Pictures) -> Options {
    let mut o = Options::new(source);
    o.pictures = pictures;
    o.skip_invalid = false;
    o
}

async fn import(app: &TestApp, options: Options) -> Report {
    blog::import::run(&app.settings, options, &|line| eprintln!("import: {line}"))
        .await
        .expect("import")
}

/// Every row the import writes, as text, in a stable order. `exact` includes what differs
/// between two equivalent imports (random avatar keys, time of import).
async fn snapshot(app: &TestApp, exact: bool) -> Vec<String> {
    let avatar = if exact {
        "avatar_key"
    } else {
        "avatar_key IS NOT NULL"
    };
    let imported_at = if exact { ", imported_at" } else { "" };
    let updated = if exact { ", updated_at" } else { "" };
    let queries = [
        format!(
            "SELECT id, username, email, password_hash, is_active, is_staff, is_superuser, \
             created_at, last_login_at, {avatar}{updated} FROM users ORDER BY id"
        ),
        format!("SELECT id, author_id, title, content, created_at{updated} FROM posts ORDER BY id"),
        format!(
            "SELECT model, django_id, our_id, encode(fingerprint, 'hex'){imported_at} \
             FROM django_imports ORDER BY model, django_id"
        ),
    ];
    let mut out = Vec::new();
    for q in queries {
        for msg in app.db.simple_query(&q).await.expect(&q) {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = msg {
                let cols: Vec<&str> = (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL"))
                    .collect();
                out.push(cols.join(" | "));
            }
        }
    }
    out
}

async fn count(app: &TestApp, table: &str) -> i64 {
    app.db
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

async fn s3_objects(app: &TestApp) -> usize {
    let bucket = app.infra.s3.bucket(&app.settings.s3.bucket);
    bucket
        .list("avatars/".into(), None)
        .await
        .map(|pages| pages.iter().map(|p| p.contents.len()).sum())
        .unwrap_or(0)
}

/// What the Django database holds, read independently of the importer.
async fn django_truth(f: &Fixture) -> (Vec<tokio_postgres::Row>, Vec<tokio_postgres::Row>) {
    let db = infra().await.postgres.admin(&f.db.name).await.unwrap();
    let users = db
        .query(
            "SELECT id::bigint, username, email, password, is_active, is_staff, is_superuser, \
             date_joined, last_login FROM auth_user ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let posts = db
        .query(
            "SELECT p.id::bigint, p.title, p.content, p.date_posted, u.username \
             FROM blog_post p JOIN auth_user u ON u.id = p.author_id ORDER BY p.id",
            &[],
        )
        .await
        .unwrap();
    (users, posts)
}

/// Everything the original had is here, as it was: accounts (hashes, flags, dates),
/// pictures, posts (dates, authorship, content), through the real API and site.
async fn check_imported(app: &TestApp, f: &Fixture, report: &Report) {
    assert!(!report.refused, "{report}");
    assert_eq!(report.users.created, 5, "{report}");
    assert_eq!(report.posts.created, 5, "{report}");
    assert_eq!(report.profiles.created, 3, "{report}");
    assert_eq!(report.pictures.stored, 2, "{report}");
    assert_eq!(report.pictures.default, 1, "{report}");
    assert_eq!(report.pictures.failed, 2, "{report}");
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("of auth.user #4") && notes.contains("dave.jpg"),
        "{notes}"
    );
    assert!(
        notes.contains("of auth.user #5") && notes.contains("erin.jpg"),
        "{notes}"
    );

    let (users, posts) = django_truth(f).await;
    for u in &users {
        let username: String = u.get(1);
        let ours = app
            .db
            .query_one(
                "SELECT email, password_hash, is_active, is_staff, is_superuser, created_at, \
                 last_login_at, avatar_key FROM users WHERE username = $1",
                &[&username],
            )
            .await
            .unwrap_or_else(|e| panic!("{username} not imported: {e}"));
        assert_eq!(ours.get::<_, String>(0), u.get::<_, String>(2));
        assert_eq!(
            ours.get::<_, String>(1),
            u.get::<_, String>(3),
            "hash kept until log-in"
        );
        for col in 2..5 {
            assert_eq!(
                ours.get::<_, bool>(col),
                u.get::<_, bool>(col + 2),
                "{username} flag {col}"
            );
        }
        let joined: chrono::DateTime<chrono::Utc> = u.get(7);
        assert_eq!(
            ours.get::<_, chrono::DateTime<chrono::Utc>>(5),
            joined,
            "{username}"
        );
        let last: Option<chrono::DateTime<chrono::Utc>> = u.get(8);
        assert_eq!(
            ours.get::<_, Option<chrono::DateTime<chrono::Utc>>>(6),
            last,
            "{username}"
        );
        let key: Option<String> = ours.get(7);
        let expects_picture = matches!(username.as_str(), "alice" | "carol");
        assert_eq!(key.is_some(), expects_picture, "{username}: {key:?}");
        if let Some(key) = key {
            // Through the site's media route: the stored, resized PNG.
            let resp = app.get(&format!("/media/avatars/{key}")).await;
            assert_eq!(resp.status(), 200);
            let png = resp.bytes().await.unwrap();
            let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap();
            let expected = if username == "alice" {
                (300, 225)
            } else {
                (120, 90)
            };
            assert_eq!((img.width(), img.height()), expected, "{username}");
        }
    }

    for p in &posts {
        let id: i64 = p.get(0);
        // Django ids are kept (they were free here): the old link is the new one.
        let post = expect_status(app.get(&format!("/api/posts/{id}")).await, 200).await;
        assert_eq!(post["title"], p.get::<_, String>(1));
        assert_eq!(post["content"], p.get::<_, String>(2), "content as written");
        let posted: chrono::DateTime<chrono::Utc> = p.get(3);
        let ours: chrono::DateTime<chrono::Utc> =
            post["created_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(ours, posted);
        // Django has no drafts: public from `date_posted`.
        let published: chrono::DateTime<chrono::Utc> =
            post["published_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(published, posted);
        assert_eq!(post["author"]["username"], p.get::<_, String>(4));
        let (status, _) = page_at(app, &format!("/post/{id}/")).await;
        assert_eq!(status, 200, "old link /post/{id}/");
    }

    // The Django passwords work through the real API; the inactive account does not.
    for user in ["alice", "bob", "dave"] {
        let token = app.token_for(user, &f.password(user)).await;
        let me = expect_status(app.get_authed("/api/me", &token).await, 200).await;
        assert_eq!(me["username"], user);
        // Django's staff (alice, dave) are staff here: they may moderate.
        let django_staff: bool = users
            .iter()
            .find(|u| u.get::<_, String>(1) == user)
            .unwrap()
            .get(5);
        assert_eq!(me["is_staff"], django_staff, "{user}");
        let log = app.get_authed("/api/moderation/actions", &token).await;
        assert_eq!(log.status(), if django_staff { 200 } else { 403 }, "{user}");
    }
    expect_problem_4xx(app.login("carol", &f.password("carol")).await).await;
    let hash: String = app
        .db
        .query_one(
            "SELECT password_hash FROM users WHERE username = 'alice'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        hash.starts_with("$pbkdf2-sha256$"),
        "upgraded on first log-in: {hash}"
    );
}

#[tokio::test]
async fn a_dumpdata_file_moves_everything_and_a_second_run_changes_nothing() {
    let f = fixture().await;
    let app = TestApp::spawn().await;
    let report = import(&app, options(Source::Dump(f.dump()), f.media())).await;
    check_imported(&app, f, &report).await;

    let before = snapshot(&app, true).await;
    let objects = s3_objects(&app).await;
    let again = import(&app, options(Source::Dump(f.dump()), f.media())).await;
    assert!(again.changed_nothing(), "{again}");
    assert_eq!(again.users.unchanged, 5, "{again}");
    assert_eq!(again.posts.unchanged, 5, "{again}");
    assert_eq!(again.profiles.unchanged, 3, "{again}");
    assert!(again.to_string().contains("nothing changed"), "{again}");
    assert_eq!(snapshot(&app, true).await, before);
    assert_eq!(s3_objects(&app).await, objects);
}

#[tokio::test]
async fn the_live_database_and_s3_pictures_import_like_the_dump() {
    let f = fixture().await;
    // The original's django-storages bucket: `<location>/profile_pics/…`.
    let app = TestApp::spawn().await;
    let mut original = app.settings.s3.clone();
    original.bucket = format!("orig-{}", random_suffix(8));
    let storage = blog::storage::Storage::from_settings(&original).unwrap();
    storage.ensure_bucket().await.unwrap();
    for entry in std::fs::read_dir(f.dir.join("media/profile_pics")).unwrap() {
        let path = entry.unwrap().path();
        let key = format!(
            "media/profile_pics/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        storage
            .put(
                &key,
                &std::fs::read(&path).unwrap(),
                "application/octet-stream",
            )
            .await
            .unwrap();
    }
    let pictures = Pictures::s3(
        &app.settings.s3,
        S3Source {
            bucket: original.bucket.clone(),
            prefix: "media".into(),
            endpoint: None,
            region: None,
            access_key: None,
            secret_key: None,
        },
    )
    .unwrap();
    let live = import(&app, options(Source::Postgres(f.live_url()), pictures)).await;
    check_imported(&app, f, &live).await;

    // Same rows as an import of the dump into a fresh service.
    let other = TestApp::spawn().await;
    import(&other, options(Source::Dump(f.dump()), f.media())).await;
    let strip_logins = |rows: Vec<String>| -> Vec<String> {
        // check_imported logged in (upgrading hashes, setting last_login) on `app` only.
        rows.into_iter()
            .filter(|r| !r.contains("@example.com"))
            .collect()
    };
    assert_eq!(
        strip_logins(snapshot(&app, false).await),
        strip_logins(snapshot(&other, false).await)
    );
}

#[tokio::test]
async fn an_interrupted_import_resumes_to_the_state_of_one_clean_run() {
    let f = fixture().await;
    let clean = TestApp::spawn().await;
    import(&clean, options(Source::Dump(f.dump()), f.media())).await;

    let app = TestApp::spawn().await;
    let gz = format!("{}.gz", f.dump());
    let mut first = options(Source::Dump(gz.clone()), f.media());
    first.batch_size = 1;
    first.stop_after_batches = Some(4);
    let err = blog::import::run(&app.settings, first, &|_| {})
        .await
        .expect_err("stopped after 4 batches");
    assert!(err.to_string().contains("stopped after 4 batches"), "{err}");
    assert_eq!(count(&app, "users").await, 4, "whole batches only");
    assert_eq!(count(&app, "posts").await, 0);

    let mut second = options(Source::Dump(gz.clone()), f.media());
    second.batch_size = 2;
    // Three batches of users (two of them already done), one of profiles.
    second.stop_after_batches = Some(4);
    blog::import::run(&app.settings, second, &|_| {})
        .await
        .expect_err("stopped again, among the profiles");
    assert_eq!(count(&app, "users").await, 5);
    assert_eq!(count(&app, "posts").await, 0);
    let rest = import(&app, options(Source::Dump(gz), f.media())).await;
    assert_eq!(rest.users.unchanged, 5, "{rest}");
    assert_eq!(snapshot(&app, false).await, snapshot(&clean, false).await);
}

#[tokio::test]
async fn a_dry_run_reports_everything_and_changes_nothing() {
    let f = fixture().await;
    let app = TestApp::spawn().await;
    let before = snapshot(&app, true).await;
    let mut dry = options(Source::Dump(f.dump()), f.media());
    dry.dry_run = true;
    let report = import(&app, dry).await;
    assert!(report.to_string().starts_with("DRY RUN"), "{report}");
    assert_eq!(report.users.created, 5, "{report}");
    assert_eq!(report.posts.created, 5, "{report}");
    assert_eq!(report.pictures.stored, 2, "{report}");
    assert_eq!(report.pictures.failed, 2, "{report}");
    assert_eq!(snapshot(&app, true).await, before);
    assert_eq!(s3_objects(&app).await, 0);
    // And the real run then does what the dry run said.
    let real = import(&app, options(Source::Dump(f.dump()), f.media())).await;
    assert_eq!(
        (real.users, real.profiles, real.posts),
        (report.users, report.profiles, report.posts)
    );
}

#[tokio::test]
async fn conflicts_are_reported_with_both_sides_and_skipped() {
    let f = fixture().await;
    let app = TestApp::spawn().await;
    // Someone here already has bob's name, with another email.
    expect_status(
        app.register("Bob", "robert@elsewhere.test", "another password 1")
            .await,
        201,
    )
    .await;
    let report = import(&app, options(Source::Dump(f.dump()), f.media())).await;
    assert_eq!(report.users.created, 4, "{report}");
    assert_eq!(report.users.skipped, 1, "{report}");
    assert_eq!(report.posts.skipped, 2, "bob's posts: {report}");
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("auth.user #2 (bob <bob@example.com>): skipped, conflict: its username is taken here by user #1 (Bob <robert@elsewhere.test>)"),
        "{notes}"
    );
    // Not merged: our Bob keeps his password.
    app.token_for("Bob", "another password 1").await;
    expect_problem_4xx(app.login("bob", &f.password("bob")).await).await;
}

#[tokio::test]
async fn an_old_link_whose_id_was_taken_redirects_to_the_imported_post() {
    let f = fixture().await;
    let app = TestApp::spawn().await;
    let native = app.new_user().await;
    let first = app
        .create_post(&native.token, "Written here first", "Takes id 1.")
        .await;
    assert_eq!(first["id"], 1);
    let report = import(&app, options(Source::Dump(f.dump()), f.media())).await;
    let notes = report.notes.join("\n");
    assert!(
        notes.contains("blog.post #1: imported as post #"),
        "{notes}"
    );
    let moved: i64 = app
        .db
        .query_one(
            "SELECT our_id FROM django_imports WHERE model = 'blog.post' AND django_id = 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(moved > 5, "a fresh id past the imported ones: {moved}");
    let (status, page) = page_at(&app, "/post/1/").await;
    assert_eq!(status, 200, "our own post 1 stays");
    assert!(!page.contains("Hello from Django"), "{page}");
    expect_status(
        app.delete(&format!("/api/posts/{}", first["id"]), Some(&native.token))
            .await,
        204,
    )
    .await;
    let resp = app.get("/post/1/").await;
    assert_eq!(resp.status(), 301);
    // One hop, to the imported post's canonical URL.
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("/post/{moved}-")),
        "{location}"
    );
    let page = app.get(&location).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Hello from Django"));
}

/// The page at `path`, following the site's redirects (old links, slugs);
/// its status and text.
async fn page_at(app: &TestApp, path: &str) -> (u16, String) {
    let mut path = path.to_owned();
    for _ in 0..3 {
        let resp = app.get(&path).await;
        if resp.status().is_redirection() {
            path = resp.headers()["location"].to_str().unwrap().to_owned();
            continue;
        }
        return (resp.status().as_u16(), resp.text().await.unwrap());
    }
    panic!("more than 3 redirects, last to {path}");
}

#[tokio::test]
async fn bad_input_is_reported_with_django_ids_and_nothing_is_written() {
    let f = fixture().await;
    let app = TestApp::spawn().await;
    let mut items: Vec<Value> = serde_json::from_slice(&std::fs::read(f.dump()).unwrap()).unwrap();
    let post = |pk: Value, title: &str, author: Value| {
        serde_json::json!({"model": "blog.post", "pk": pk, "fields": {
            "title": title, "content": "x", "date_posted": "2020-01-01T00:00:00Z", "author": author}})
    };
    items.push(serde_json::json!({"model": "sessions.session", "pk": "abc", "fields": {}}));
    items.push(post(101.into(), "dangling", 999.into()));
    items.push(post(102.into(), &"y".repeat(101), 1.into()));
    items.push(post(103.into(), "nul \u{0} inside", 1.into()));
    items.push(post(104.into(), "wrong author type", "alice".into()));
    items.push(post(105.into(), "first of a pair", 1.into()));
    items.push(post(105.into(), "second of a pair", 1.into()));
    items.push(post("x".into(), "bad pk", 1.into()));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&items).unwrap()).unwrap();
    let source = || Source::Dump(bad.display().to_string());

    let refused = import(&app, options(source(), f.media())).await;
    assert!(refused.refused, "{refused}");
    let text = refused.to_string();
    for expected in [
        "blog.post #101: author: auth.user #999 is neither in the input nor imported before",
        "blog.post #102: title",
        "blog.post #103: title: contains a NUL character",
        "blog.post #104: author: expected a user id",
        "blog.post #105: pk: appears more than once",
        "blog.post #\"x\": pk: not a positive integer",
        "sessions.session (1)",
        "REFUSED: 7 invalid objects; nothing was imported",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert_eq!(
        (count(&app, "users").await, count(&app, "posts").await),
        (0, 0)
    );

    // Malformed JSON: an error, nothing written.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"[{\"model\": \"auth.user\", ").unwrap();
    let err = blog::import::run(
        &app.settings,
        options(Source::Dump(broken.display().to_string()), f.media()),
        &|_| {},
    )
    .await
    .expect_err("malformed JSON");
    assert!(format!("{err:#}").contains("not valid JSON"), "{err:#}");
    assert_eq!(count(&app, "users").await, 0);

    // --skip-invalid imports the rest.
    let mut skip = options(source(), f.media());
    skip.skip_invalid = true;
    let report = import(&app, skip).await;
    assert_eq!(report.posts.created, 5, "{report}");
    assert_eq!(report.posts.invalid, 7, "{report}");
    assert_eq!(count(&app, "posts").await, 5);
}
