//! `TestApp`: the real service in-process on a random port, wired to the binary's shared
//! [`Deps`] with its own database, Redis logical database and S3 bucket, so tests run in
//! parallel.

use std::time::Duration;

use blog::config::Settings;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Deps, Mail, Side, infra, random_suffix};

/// The base URL the app is told it lives at; links it generates start with this and
/// [`TestApp::local_url`] maps them back to the real address.
pub const PUBLIC_URL: &str = "http://blog.test";
/// Every test registers users with this password unless it says otherwise.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    pub infra: &'static Deps,
    pub settings: Settings,
    /// A superuser connection to this test's database, for checking rows.
    pub db: tokio_postgres::Client,
    /// The client address this test's requests claim (via `X-Forwarded-For`, one trusted
    /// proxy hop), so per-IP rate limits are per test.
    pub client_ip: String,
    /// The app's metrics: every API answer it gave must be in the OpenAPI
    /// document (checked when the `TestApp` is dropped).
    pub metrics: blog::metrics::Metrics,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A registered user with a live token.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub token: String,
    pub id: Value,
}

impl TestApp {
    /// The app with test defaults. Panics (saying what to do) without Docker.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// The app with settings adjusted by `customize` after the test defaults are set.
    pub async fn spawn_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
        let infra = infra().await;
        let settings = Self::settings_for(infra, customize).await;
        Self::start(infra, settings).await
    }

    /// The app on a Redis of its own at a fixed port, so that the test can stop
    /// and start it again (`redis.container`).
    pub async fn spawn_with_own_redis() -> (TestApp, crate::deps::Redis) {
        let infra = infra().await;
        let name = format!("{}-redis-{}", infra.network.name, random_suffix(4));
        let redis =
            crate::deps::Redis::start(&infra.network, &name, None, Some(crate::free_port())).await;
        let port = redis.port;
        let app = Self::spawn_with(|s| {
            s.redis.url = blog::config::Secret::from(format!("redis://127.0.0.1:{port}"));
        })
        .await;
        (app, redis)
    }

    /// Test settings: every dependency points at the shared ones, in a slot of its own,
    /// read from the same `BLOG_*` variables an app container or the host stack gets.
    pub async fn settings_for(
        infra: &'static Deps,
        customize: impl FnOnce(&mut Settings),
    ) -> Settings {
        let slot = infra.isolate().await;
        let mut env = infra.env(&slot, Side::Host);
        env.extend(
            [
                ("BLOG_HTTP__HOST", "127.0.0.1"),
                ("BLOG_HTTP__PORT", "0"),
                ("BLOG_HTTP__PUBLIC_URL", PUBLIC_URL),
                ("BLOG_HTTP__SHUTDOWN_GRACE_SECONDS", "10"),
                ("BLOG_HTTP__TRUSTED_PROXIES", "1"),
                // The test client connects from loopback and claims its own address.
                ("BLOG_HTTP__TRUSTED_PROXY_NETWORKS", "127.0.0.1/32"),
                // Parallel apps cannot share a metrics port: /metrics on the API's port
                // (its own port is tested in api_contract).
                ("BLOG_HTTP__METRICS_PORT", "0"),
                // Debug builds on a busy 2-core CI machine: a realistic margin for Redis.
                ("BLOG_REDIS__TIMEOUT_MS", "1000"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let mut settings = Settings::load_from(env).expect("test settings");
        customize(&mut settings);
        settings
    }

    /// Migrates, makes sure the bucket exists (as `blog migrate` does), and serves.
    pub async fn start(infra: &'static Deps, settings: Settings) -> TestApp {
        blog::db::migrate(&settings).await.expect("migrations");
        blog::storage::Storage::from_settings(&settings.s3)
            .expect("storage settings")
            .ensure_bucket()
            .await
            .expect("create the bucket");

        let application = blog::startup::Application::build(settings.clone())
            .await
            .expect("build the application");
        let address = format!("http://{}", application.local_addr());
        let metrics = application.state().metrics.clone();
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(application.run_with_shutdown(async move {
            let _ = stop.await;
        }));

        let client_ip = format!(
            "10.{}.{}.{}",
            rand::random::<u8>(),
            rand::random::<u8>(),
            rand::random::<u8>().max(1)
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_str(&client_ip).unwrap(),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            // Generous: debug builds hash PBKDF2 (600k rounds) slowly on a busy 2-core machine.
            .timeout(Duration::from_secs(120))
            .build()
            .expect("http client");
        let db = infra
            .postgres
            .admin(&settings.database.name)
            .await
            .expect("test database connection");

        TestApp {
            address,
            client,
            infra,
            settings,
            db,
            client_ip,
            metrics,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Maps a URL the app generated from its public URL onto the test server.
    pub fn local_url(&self, public: &str) -> String {
        match public.strip_prefix(PUBLIC_URL) {
            Some(path) => self.url(path),
            None if public.starts_with('/') => self.url(public),
            None => panic!("{public} does not start with the public URL {PUBLIC_URL}"),
        }
    }

    /// Triggers graceful shutdown and waits for the server to finish.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.expect("server task panicked"),
            None => Ok(()),
        }
    }

    /// Starts shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// The server task, to await after [`TestApp::begin_shutdown`].
    pub fn server_task(&mut self) -> JoinHandle<anyhow::Result<()>> {
        self.server.take().expect("server task already taken")
    }

    // ---- thin HTTP helpers ----

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_authed(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("POST")
    }

    pub async fn patch_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.patch(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("PATCH")
    }

    pub async fn put_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.put(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("PUT")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.delete(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("DELETE")
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/users",
            &json!({"username": username, "email": email, "password": password}),
            None,
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/api/sessions",
            &json!({"username": username, "password": password}),
            None,
        )
        .await
    }

    /// Registers a fresh user (random name) and logs in.
    pub async fn new_user(&self) -> TestUser {
        let username = format!("user_{}", random_suffix(8));
        let email = format!("{username}@example.test");
        self.user(&username, &email).await
    }

    /// Registers `username`/`email` with [`PASSWORD`] and logs in.
    pub async fn user(&self, username: &str, email: &str) -> TestUser {
        let registered = expect_status(self.register(username, email, PASSWORD).await, 201).await;
        let token = self.token_for(username, PASSWORD).await;
        TestUser {
            username: username.into(),
            email: email.into(),
            password: PASSWORD.into(),
            token,
            id: registered["id"].clone(),
        }
    }

    /// Logs in and returns the bearer token.
    pub async fn token_for(&self, username: &str, password: &str) -> String {
        let session = expect_status(self.login(username, password).await, 201).await;
        session["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {session}"))
            .to_owned()
    }

    pub async fn create_post(&self, token: &str, title: &str, content: &str) -> Value {
        expect_status(
            self.post_json(
                "/api/posts",
                &json!({"title": title, "content": content}),
                Some(token),
            )
            .await,
            201,
        )
        .await
    }

    /// The mails the app sent to `email`, waiting up to 10 s for at least `count`.
    pub async fn mails_to(&self, email: &str, count: usize) -> Vec<Mail> {
        self.infra
            .mail
            .wait_for_mails(email, count, Duration::from_secs(10))
            .await
    }

    /// The password reset token from the latest reset mail to `email`.
    pub async fn reset_token_from_mail(&self, email: &str, nth: usize) -> String {
        let mails = self.mails_to(email, nth).await;
        assert!(
            mails.len() >= nth,
            "expected {nth} mail(s) to {email}, got {}",
            mails.len()
        );
        reset_token(&mails[nth - 1])
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Every test doubles as a check of the API contract: an answer the
        // OpenAPI document does not list for its operation fails the test
        // that provoked it (the app logged which one).
        if !std::thread::panicking() {
            let undocumented = self.metrics.http_undocumented_responses_total.get();
            assert_eq!(
                undocumented, 0,
                "the app gave {undocumented} API answer(s) the OpenAPI document does not list \
                 (see the error log line \"the OpenAPI document does not list this answer\")"
            );
        }
    }
}

/// The token in a reset mail's `…/password-reset-confirm/<token>/` link.
pub fn reset_token(mail: &Mail) -> String {
    let text = mail.text();
    let marker = "password-reset-confirm/";
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no reset link in mail:\n{text}"))
        + marker.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '%'))
        .collect()
}

/// Asserts the status (printing the body when it differs) and returns the JSON body
/// (`Value::Null` for an empty one).
pub async fn expect_status(response: Response, status: u16) -> Value {
    let got = response.status();
    let url = response.url().clone();
    let text = response.text().await.expect("body");
    assert_eq!(
        got,
        StatusCode::from_u16(status).unwrap(),
        "unexpected status from {url}; body: {text}"
    );
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// Asserts an RFC 9457 problem with this status and `code`; returns the document.
pub async fn expect_problem(response: Response, status: u16, code: &str) -> Value {
    let (got, problem) = problem_document(response).await;
    assert_eq!(got, status, "wrong status: {problem}");
    assert_eq!(problem["code"], code, "wrong code in {problem}");
    problem
}

/// Asserts a 4xx `application/problem+json` with a non-empty `code`; returns it.
pub async fn expect_problem_4xx(response: Response) -> Value {
    let (status, problem) = problem_document(response).await;
    assert!(
        (400..500).contains(&status),
        "expected a 4xx, got {status}: {problem}"
    );
    problem
}

/// Checks the response is `application/problem+json` whose `status` matches the HTTP
/// status and which carries a `code`; returns the status and the document.
async fn problem_document(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let url = response.url().clone();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    assert!(
        content_type.starts_with("application/problem+json"),
        "expected application/problem+json from {url} ({status}), got {content_type:?}: {text}"
    );
    let problem: Value = serde_json::from_str(&text).expect("problem body is JSON");
    assert_eq!(
        problem["status"], status,
        "status field of {problem} from {url}"
    );
    assert!(
        problem["code"].as_str().is_some_and(|c| !c.is_empty()),
        "problem without a code from {url}: {problem}"
    );
    (status, problem)
}
