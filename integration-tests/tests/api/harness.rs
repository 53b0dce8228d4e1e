//! Proves the test support itself: real Postgres (a database and role per app), Redis,
//! S3 and SMTP, and that without Docker every test fails instead of passing.

use std::time::Duration;

use integration_tests::{Side, infra, random_suffix};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[tokio::test]
async fn each_app_gets_its_own_database_and_role() {
    let infra = infra().await;
    let (a, b) = (infra.isolate().await, infra.isolate().await);
    assert_ne!(a.database.name, b.database.name);
    assert_ne!(a.redis_db, b.redis_db);
    assert_ne!(a.bucket, b.bucket);

    // The app's role logs in to its own database, is no superuser, and cannot reach the
    // other app's database.
    let env = infra.env(&a, Side::Host);
    let setting = |key: &str| {
        env.iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{key} missing from {env:?}"))
    };
    let connect = |database: String| {
        let mut config = tokio_postgres::Config::new();
        config
            .host(setting("BLOG_DATABASE__HOST"))
            .port(setting("BLOG_DATABASE__PORT").parse().unwrap())
            .user(setting("BLOG_DATABASE__USER"))
            .password(setting("BLOG_DATABASE__PASSWORD"))
            .dbname(database);
        async move { config.connect(tokio_postgres::NoTls).await }
    };
    let (client, connection) = connect(a.database.name.clone())
        .await
        .expect("the slot's role logs in to its database");
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), a.database.name);
    assert!(
        !row.get::<_, bool>(1),
        "the app's role must not be a superuser"
    );
    assert!(
        connect(b.database.name.clone()).await.is_err(),
        "a role must not connect to another test's database"
    );
}

#[tokio::test]
async fn redis_answers_ping() {
    assert!(infra().await.redis.ping().await);
}

#[tokio::test]
async fn s3_stores_and_returns_objects() {
    let infra = infra().await;
    let name = format!("harness-{}", random_suffix(8));
    let bucket = infra.s3.bucket(&name);
    s3::Bucket::create_with_path_style(
        &name,
        bucket.region.clone(),
        bucket.credentials().await.expect("creds"),
        s3::BucketConfiguration::default(),
    )
    .await
    .expect("create bucket");
    bucket
        .put_object("hello.txt", b"hello s3")
        .await
        .expect("put");
    let got = bucket.get_object("hello.txt").await.expect("get");
    assert_eq!(got.status_code(), 200);
    assert_eq!(got.bytes().as_ref(), b"hello s3");

    let wrong = s3::Bucket::new(
        &name,
        bucket.region.clone(),
        s3::creds::Credentials::new(Some("nobody"), Some("wrong"), None, None, None).unwrap(),
    )
    .unwrap()
    .with_path_style();
    let denied = wrong.get_object("hello.txt").await;
    assert!(
        !matches!(denied, Ok(ref r) if r.status_code() == 200),
        "the S3 server must check signatures"
    );
}

/// Real SMTP in, the catcher's API out, by recipient: only the mail to this address.
#[tokio::test]
async fn the_mail_catcher_receives_smtp_and_lists_mail_by_recipient() {
    let infra = infra().await;
    let to = format!("{}@example.test", random_suffix(10));
    let other = format!("x{to}"); // contains `to`: the API's search matches substrings
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(infra.mail.smtp_port)
        .build();
    for (address, body) in [(&other, "token=other"), (&to, "token=abc123")] {
        let message = Message::builder()
            .from("Blog <no-reply@localhost>".parse().unwrap())
            .to(address.parse().unwrap())
            .subject("hi")
            .body(body.to_owned())
            .unwrap();
        mailer.send(message).await.expect("send");
    }
    let mails = infra
        .mail
        .wait_for_mails(&to.to_uppercase(), 1, Duration::from_secs(5))
        .await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, [to.as_str()]);
    assert!(mails[0].text().contains("token=abc123"), "{mails:?}");
    assert_eq!(infra.mail.mails_to(&other).await.len(), 1);
    assert!(
        infra
            .mail
            .mails_to(&format!("nobody-{to}"))
            .await
            .is_empty()
    );
}

/// Runs one harness test of this same binary in a child process whose Docker is
/// unreachable, with or without `CI=true`.
fn run_without_docker(ci: bool) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "harness::redis_answers_ping", "--nocapture"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("CI");
    if ci {
        cmd.env("CI", "true");
    }
    let out = cmd.output().expect("run the test binary");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "without Docker a test must fail (CI={ci}): {output}"
    );
    output
}

#[test]
fn without_docker_tests_fail_and_say_how_to_fix_it() {
    for ci in [false, true] {
        let output = run_without_docker(ci);
        assert!(
            output.contains("Docker is not reachable")
                && output.contains("Start the Docker daemon (or point DOCKER_HOST at one)"),
            "the failure says what is wrong and what to do (CI={ci}): {output}"
        );
        assert!(
            output.contains("1 failed"),
            "the test ran and failed (CI={ci}): {output}"
        );
    }
}
