//! Proves the harness itself: real Postgres (a database per test), Redis, S3 and SMTP.

use std::time::Duration;

use integration_tests::{containers, create_database, infra};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

#[tokio::test]
async fn each_test_gets_its_own_database() {
    let Some(infra) = infra().await else { return };
    let a = create_database(infra).await;
    let b = create_database(infra).await;
    assert_ne!(a, b);
    let client = containers::admin_client_on(&a, infra.postgres_port)
        .await
        .expect("connect to the new database");
    let row = client
        .query_one("SELECT current_database()", &[])
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), a);
}

#[tokio::test]
async fn redis_answers_ping() {
    let Some(infra) = infra().await else { return };
    assert!(containers::redis_ping(infra.redis_port).await);
}

#[tokio::test]
async fn s3_stores_and_returns_objects() {
    let Some(infra) = infra().await else { return };
    let name = format!("harness-{}", integration_tests::random_suffix(8));
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

#[tokio::test]
async fn smtp_sink_receives_mail() {
    let Some(infra) = infra().await else { return };
    let to = format!("{}@example.test", integration_tests::random_suffix(10));
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(infra.smtp.port)
        .build();
    let message = Message::builder()
        .from("Blog <no-reply@localhost>".parse().unwrap())
        .to(to.parse().unwrap())
        .subject("hi")
        .body("token=abc123".to_owned())
        .unwrap();
    mailer.send(message).await.expect("send");
    let mails = infra
        .smtp
        .wait_for_mails(&to, 1, Duration::from_secs(5))
        .await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].text().contains("token=abc123"));
}

/// Runs one harness test of this same binary in a child process whose Docker is
/// unreachable, with or without `CI=true`.
fn run_without_docker(ci: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "harness::redis_answers_ping", "--nocapture"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("CI");
    if ci {
        cmd.env("CI", "true");
    }
    cmd.output().expect("run the test binary")
}

#[test]
fn without_docker_tests_skip_loudly_or_fail_in_ci() {
    let local = run_without_docker(false);
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert!(
        local.status.success(),
        "outside CI a missing Docker is a skip: {stderr}"
    );
    assert!(
        stderr.contains("SKIPPED: Docker is not reachable"),
        "the skip is announced: {stderr}"
    );

    let ci = run_without_docker(true);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&ci.stdout),
        String::from_utf8_lossy(&ci.stderr)
    );
    assert!(
        !ci.status.success(),
        "with CI=true a missing Docker fails: {output}"
    );
    assert!(
        output.contains("Docker is not reachable and CI=true"),
        "{output}"
    );
}

#[test]
fn image_names_split_into_name_and_tag() {
    use integration_tests::containers::image_from_env;
    let cases = [
        (
            "localhost/postgres:15-bookworm",
            ("localhost/postgres", "15-bookworm"),
        ),
        ("localhost:5000/redis:7", ("localhost:5000/redis", "7")),
        ("localhost:5000/redis", ("localhost:5000/redis", "latest")),
        ("postgres:16-alpine", ("postgres", "16-alpine")),
    ];
    for (spec, (name, tag)) in cases {
        assert_eq!(
            image_from_env("BLOG_TEST_UNSET_VARIABLE_FOR_THIS_TEST", spec),
            (name.to_owned(), tag.to_owned())
        );
    }
}
