//! The service *in its image*: the app image (`BLOG_TEST_APP_IMAGE`, built by
//! `scripts/build-image.sh`) runs read-only on a Docker network with Postgres, Redis and
//! SeaweedFS (S3) containers, after the image's own `migrate` command.
//!
//! With `CI=true` a missing `BLOG_TEST_APP_IMAGE` fails; elsewhere the tests are skipped
//! with a message. Images: `BLOG_TEST_POSTGRES_IMAGE`, `BLOG_TEST_REDIS_IMAGE`,
//! `BLOG_TEST_S3_IMAGE` (`dockerfiles/build-offline-images.sh --env` sets all of them).

use std::io::Cursor;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use integration_tests::containers::{docker_available, image_from_env};
use integration_tests::random_suffix;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use testcontainers::core::{CmdWaitFor, ExecCommand, IntoContainerPort, Mount, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// What `BLOG_HTTP__PUBLIC_URL` is set to: avatar URLs start with it.
const PUBLIC_URL: &str = "http://blog.test";
const GRACE_SECONDS: u64 = 20;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The app image under test, or `None` (after saying why) when these tests cannot run here.
fn app_image() -> Option<String> {
    let image = std::env::var("BLOG_TEST_APP_IMAGE")
        .ok()
        .filter(|v| !v.trim().is_empty());
    match image {
        Some(image) => {
            assert!(
                docker_available(),
                "BLOG_TEST_APP_IMAGE is set but Docker is not reachable"
            );
            Some(image)
        }
        None => {
            assert!(
                !in_ci(),
                "BLOG_TEST_APP_IMAGE must name the app image when CI=true \
                 (build it with scripts/build-image.sh)"
            );
            eprintln!(
                "SKIPPED: set BLOG_TEST_APP_IMAGE (e.g. \"$(scripts/build-image.sh)\") \
                 to test the app image"
            );
            None
        }
    }
}

/// `name:tag` from `var` (or `default`) as a container request without a wait strategy:
/// readiness is checked by the tests themselves, the same way for every image flavour.
fn generic(var: &str, default: &str) -> GenericImage {
    let (name, tag) = image_from_env(var, default);
    GenericImage::new(name, tag).with_wait_for(WaitFor::Nothing)
}

fn docker_json(args: &[&str]) -> Value {
    let out = Command::new("docker").args(args).output().expect("docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("docker JSON output")
}

/// `KEY=value` words whose key looks like it names a secret and whose value is not empty.
fn secret_like_assignments(text: &str) -> Vec<String> {
    const WORDS: [&str; 5] = ["PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL"];
    text.split(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ';')
        .filter_map(|word| word.split_once('='))
        .filter(|(key, value)| {
            let key = key.trim_start_matches('-').to_ascii_uppercase();
            !value.is_empty() && WORDS.iter().any(|w| key.contains(w))
        })
        .map(|(key, _)| key.to_owned())
        .collect()
}

#[test]
fn secret_detector_catches_assignments_and_ignores_the_rest() {
    assert_eq!(
        secret_like_assignments("ENV BLOG_S3__SECRET_KEY=abc PATH=/usr/bin"),
        ["BLOG_S3__SECRET_KEY"]
    );
    assert_eq!(
        secret_like_assignments("|2 DB_PASSWORD=hunter2 /bin/sh -c true"),
        ["DB_PASSWORD"]
    );
    assert!(secret_like_assignments("BLOG_DATABASE__PASSWORD_FILE= RUN apt-get").is_empty());
    assert!(secret_like_assignments("LABEL org.opencontainers.image.version=0.1.0").is_empty());
}

/// The image's metadata: non-root numeric user, the documented entrypoint, OCI labels
/// naming the commit, and nothing secret in its environment or in any layer's command.
#[test]
fn image_runs_as_non_root_and_carries_no_secrets() {
    let Some(image) = app_image() else { return };
    let inspect = docker_json(&["image", "inspect", &image]);
    let config = &inspect[0]["Config"];

    let user = config["User"].as_str().unwrap_or_default();
    let (uid, gid) = user.split_once(':').unwrap_or((user, ""));
    let uid: u32 = uid
        .parse()
        .unwrap_or_else(|_| panic!("User must be a numeric UID, got {user:?}"));
    assert_ne!(uid, 0, "the image must not run as root");
    if !gid.is_empty() {
        assert_ne!(gid.parse::<u32>().expect("numeric GID"), 0, "GID 0");
    }

    assert_eq!(config["Entrypoint"], json!(["/usr/local/bin/blog"]));
    assert_eq!(config["Cmd"], json!(["serve"]));
    assert!(config["ExposedPorts"]["8080/tcp"].is_object());
    assert_eq!(
        config["Healthcheck"]["Test"],
        json!(["CMD", "/usr/local/bin/blog", "healthcheck"])
    );

    let labels = &config["Labels"];
    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .unwrap_or_default();
    let sha = revision.trim_end_matches("-dirty");
    assert!(
        sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
        "revision label must be the git SHA, got {revision:?}"
    );
    for label in [
        "org.opencontainers.image.source",
        "org.opencontainers.image.version",
        "org.opencontainers.image.created",
    ] {
        assert!(
            labels[label].as_str().is_some_and(|v| !v.is_empty()),
            "label {label} missing"
        );
    }

    let env: Vec<&str> = config["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let secret_env = secret_like_assignments(&env.join(" "));
    assert!(
        secret_env.is_empty(),
        "secret-like ENV in the image: {secret_env:?}"
    );

    let history = Command::new("docker")
        .args([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            &image,
        ])
        .output()
        .expect("docker history");
    assert!(history.status.success());
    let history = String::from_utf8_lossy(&history.stdout);
    assert!(
        history.contains("/usr/local/bin/blog"),
        "history looks wrong:\n{history}"
    );
    let secret_history = secret_like_assignments(&history);
    assert!(
        secret_history.is_empty(),
        "secret-like assignments in the image history: {secret_history:?}\n{history}"
    );
}

/// Postgres, Redis and S3 on a private network; the app containers join it.
struct Stack {
    network: String,
    env: Vec<(String, String)>,
    _postgres: ContainerAsync<GenericImage>,
    _redis: ContainerAsync<GenericImage>,
    _s3: ContainerAsync<GenericImage>,
}

async fn exec_ok(container: &ContainerAsync<GenericImage>, cmd: &[&str]) -> (bool, String) {
    match container
        .exec(ExecCommand::new(cmd.iter().copied()).with_cmd_ready_condition(CmdWaitFor::exit()))
        .await
    {
        Ok(mut result) => {
            let stdout = result.stdout_to_vec().await.unwrap_or_default();
            let code = result.exit_code().await.ok().flatten();
            (
                code == Some(0),
                String::from_utf8_lossy(&stdout).into_owned(),
            )
        }
        Err(_) => (false, String::new()),
    }
}

/// Waits until `cmd` succeeds inside `container` (the images' own health probes).
async fn wait_until(container: &ContainerAsync<GenericImage>, cmd: &[&str], limit: Duration) {
    let started = Instant::now();
    while !exec_ok(container, cmd).await.0 {
        assert!(
            started.elapsed() < limit,
            "{cmd:?} did not succeed within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn logs(container: &ContainerAsync<GenericImage>) -> String {
    let out = container.stdout_to_vec().await.unwrap_or_default();
    let err = container.stderr_to_vec().await.unwrap_or_default();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    )
}

impl Stack {
    async fn start() -> Stack {
        let network = format!("blog-ct-{}", random_suffix(10));
        // Throwaway credentials of throwaway containers on a private network.
        let db_password = random_suffix(20);
        let s3_access = format!("ct{}", random_suffix(10));
        let s3_secret = random_suffix(24);

        let postgres = generic("BLOG_TEST_POSTGRES_IMAGE", "postgres:16-alpine")
            .with_network(&network)
            .with_container_name(format!("{network}-pg"))
            .with_env_var("POSTGRES_USER", "blog")
            .with_env_var("POSTGRES_DB", "blog")
            .with_env_var("POSTGRES_PASSWORD", &db_password)
            .start();
        let redis = generic("BLOG_TEST_REDIS_IMAGE", "redis:7-alpine")
            .with_network(&network)
            .with_container_name(format!("{network}-redis"))
            .start();
        let s3 = generic("BLOG_TEST_S3_IMAGE", "chrislusf/seaweedfs:4.48")
            .with_network(&network)
            .with_container_name(format!("{network}-s3"))
            .with_env_var("AWS_ACCESS_KEY_ID", &s3_access)
            .with_env_var("AWS_SECRET_ACCESS_KEY", &s3_secret)
            .with_cmd([
                "mini",
                "-dir=/data",
                "-ip=127.0.0.1",
                "-ip.bind=0.0.0.0",
                "-master.telemetry=false",
                "-admin.ui=false",
            ])
            .start();
        let (postgres, redis, s3) = tokio::join!(postgres, redis, s3);
        let (postgres, redis, s3) = (
            postgres.expect("postgres container"),
            redis.expect("redis container"),
            s3.expect("s3 container"),
        );
        let limit = Duration::from_secs(120);
        tokio::join!(
            // TCP, not the socket: the official image's init-time server is socket-only.
            wait_until(
                &postgres,
                &["pg_isready", "-h", "127.0.0.1", "-U", "blog", "-d", "blog"],
                limit
            ),
            wait_until(&redis, &["redis-cli", "ping"], limit),
            wait_until(
                &s3,
                &[
                    "wget",
                    "-q",
                    "-O",
                    "/dev/null",
                    "http://127.0.0.1:8333/healthz"
                ],
                limit
            ),
        );

        let env = [
            ("BLOG_ENVIRONMENT", "production".to_owned()),
            ("BLOG_HTTP__PUBLIC_URL", PUBLIC_URL.to_owned()),
            (
                "BLOG_HTTP__SHUTDOWN_GRACE_SECONDS",
                GRACE_SECONDS.to_string(),
            ),
            ("BLOG_DATABASE__HOST", format!("{network}-pg")),
            ("BLOG_DATABASE__NAME", "blog".to_owned()),
            ("BLOG_DATABASE__USER", "blog".to_owned()),
            ("BLOG_DATABASE__PASSWORD", db_password),
            ("BLOG_DATABASE__SSL_MODE", "disable".to_owned()),
            ("BLOG_REDIS__URL", format!("redis://{network}-redis:6379")),
            ("BLOG_S3__ENDPOINT", format!("http://{network}-s3:8333")),
            ("BLOG_S3__BUCKET", "blog-media".to_owned()),
            ("BLOG_S3__ACCESS_KEY", s3_access),
            ("BLOG_S3__SECRET_KEY", s3_secret),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Stack {
            network,
            env,
            _postgres: postgres,
            _redis: redis,
            _s3: s3,
        }
    }

    /// The app image with the stack's settings, read-only with an in-memory /tmp, as the
    /// image's own user (the tests never override it).
    fn app(&self) -> testcontainers::ContainerRequest<GenericImage> {
        let mut request = generic("BLOG_TEST_APP_IMAGE", "blog:local")
            .with_exposed_port(8080.tcp())
            .with_network(&self.network)
            .with_readonly_rootfs(true)
            .with_mount(Mount::tmpfs_mount("/tmp"))
            .with_cap_drop("ALL");
        for (key, value) in &self.env {
            request = request.with_env_var(key, value);
        }
        request
    }

    /// Runs `blog migrate` in the image and expects exit code 0.
    async fn migrate(&self) {
        let migrate = self
            .app()
            .with_cmd(["migrate"])
            .start()
            .await
            .expect("migrate container");
        let started = Instant::now();
        while migrate.is_running().await.unwrap_or(false) {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "migrate still running after 120 s:\n{}",
                logs(&migrate).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let code = migrate.exit_code().await.expect("exit code");
        assert_eq!(
            code,
            Some(0),
            "`blog migrate` failed:\n{}",
            logs(&migrate).await
        );
    }

    /// Starts the app (`serve`), waits for `/readyz`, and returns it with its base URL.
    async fn serve(&self) -> (ContainerAsync<GenericImage>, String) {
        let started = Instant::now();
        let app = self.app().start().await.expect("app container");
        let port = app
            .get_host_port_ipv4(8080.tcp())
            .await
            .expect("published port");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        loop {
            let ready = client
                .get(format!("{base}/readyz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                break;
            }
            assert!(
                app.is_running().await.unwrap_or(false),
                "the app container exited:\n{}",
                logs(&app).await
            );
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "not ready after 60 s:\n{}",
                logs(&app).await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A figure for the README, not an assertion (timings vary by machine).
        eprintln!(
            "container start to /readyz 200: {} ms",
            started.elapsed().as_millis()
        );
        (app, base)
    }
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

async fn json_status(response: reqwest::Response, expected: u16) -> Value {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, expected, "unexpected status, body: {body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Registers a user and logs in; returns the bearer token.
async fn user_token(client: &reqwest::Client, base: &str) -> String {
    let username = format!("ct_{}", random_suffix(8));
    let password = "container test passphrase 42";
    let registered = client
        .post(format!("{base}/api/users"))
        .json(&json!({"username": username, "email": format!("{username}@example.test"), "password": password}))
        .send()
        .await
        .expect("register");
    let registered = json_status(registered, 201).await;
    assert_eq!(registered["username"], json!(username));
    let session = client
        .post(format!("{base}/api/sessions"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("log in");
    let session = json_status(session, 201).await;
    session["token"].as_str().expect("token").to_owned()
}

/// The full path through the containerised app: register, log in, post, upload an avatar
/// to S3 and read it back; and the container really is read-only and non-root.
#[tokio::test(flavor = "multi_thread")]
async fn app_container_serves_the_api_read_only_as_non_root() {
    if app_image().is_none() {
        return;
    }
    let stack = Stack::start().await;
    stack.migrate().await;
    let (app, base) = stack.serve().await;

    let (ok, uid) = exec_ok(&app, &["id", "-u"]).await;
    assert!(ok, "id -u failed");
    assert_ne!(uid.trim(), "0", "the server process must not run as root");
    assert!(
        !exec_ok(&app, &["touch", "/usr/local/bin/probe"]).await.0,
        "the root filesystem must be read-only"
    );
    assert!(
        exec_ok(&app, &["touch", "/tmp/probe"]).await.0,
        "/tmp must stay writable"
    );

    let client = reqwest::Client::new();
    let token = user_token(&client, &base).await;
    let post = client
        .post(format!("{base}/api/posts"))
        .bearer_auth(&token)
        .json(&json!({"title": "From a container", "content": "Read-only and non-root."}))
        .send()
        .await
        .expect("create post");
    let post = json_status(post, 201).await;
    let fetched = client
        .get(format!("{base}/api/posts/{}", post["id"]))
        .send()
        .await
        .expect("get post");
    assert_eq!(
        json_status(fetched, 200).await["title"],
        json!("From a container")
    );

    let form = Form::new().part(
        "avatar",
        Part::bytes(png(640, 480))
            .file_name("me.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let profile = client
        .put(format!("{base}/api/me/avatar"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .expect("upload avatar");
    let profile = json_status(profile, 200).await;
    let avatar_url = profile["avatar_url"].as_str().expect("avatar_url");
    let path = avatar_url
        .strip_prefix(PUBLIC_URL)
        .unwrap_or_else(|| panic!("avatar_url {avatar_url} not under {PUBLIC_URL}"));
    assert!(
        !path.ends_with("/default.png"),
        "avatar not replaced: {path}"
    );

    let avatar = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("get avatar");
    assert_eq!(avatar.status(), 200);
    let bytes = avatar.bytes().await.expect("avatar bytes");
    let decoded = image::load_from_memory(&bytes).expect("the stored avatar is an image");
    // 640×480 resized to fit 300×300.
    assert_eq!((decoded.width(), decoded.height()), (300, 225));
}

/// `docker stop` (SIGTERM) while a request is in flight: the request completes, and the
/// container exits 0 well within the grace period.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_in_flight_request_finish_and_exits_zero() {
    if app_image().is_none() {
        return;
    }
    let stack = Stack::start().await;
    stack.migrate().await;
    let (app, base) = stack.serve().await;
    let client = reqwest::Client::new();
    let token = user_token(&client, &base).await;

    // An avatar upload whose body trickles in over ~3 s: the request is in flight for
    // the whole time, and the stop signal arrives in the middle of it.
    let bytes = png(400, 400);
    let len = bytes.len() as u64;
    let chunks: Vec<Vec<u8>> = bytes
        .chunks(bytes.len() / 10 + 1)
        .map(<[u8]>::to_vec)
        .collect();
    let body = futures::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(body), len)
        .file_name("slow.png")
        .mime_str("image/png")
        .unwrap();
    let upload = client
        .put(format!("{base}/api/me/avatar"))
        .bearer_auth(&token)
        .multipart(Form::new().part("avatar", part))
        .timeout(Duration::from_secs(60))
        .send();

    let stop = async {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let started = Instant::now();
        // Docker's stop: the image's STOPSIGNAL (SIGTERM), SIGKILL after 30 s.
        app.stop_with_timeout(Some(30)).await.expect("docker stop");
        started.elapsed()
    };
    let (response, stop_took) = tokio::join!(upload, stop);

    let response = response.expect("the in-flight upload must get a response");
    let profile = json_status(response, 200).await;
    assert!(
        profile["avatar_url"]
            .as_str()
            .is_some_and(|u| !u.ends_with("/default.png")),
        "the upload finished but the avatar is not set: {profile}"
    );
    let code = app.exit_code().await.expect("exit code");
    assert_eq!(
        code,
        Some(0),
        "exit code after SIGTERM:\n{}",
        logs(&app).await
    );
    assert!(
        stop_took < Duration::from_secs(GRACE_SECONDS),
        "stopping took {stop_took:?}, longer than the {GRACE_SECONDS} s grace period"
    );
    eprintln!(
        "docker stop with a request in flight took {} ms",
        stop_took.as_millis()
    );
}
