//! Fault tests: the service keeps its promises while parts of the stack fail.
//!
//! Each test starts its own stack with the Docker CLI on a private network —
//! Postgres, Redis, S3, two app replicas (`BLOG_TEST_APP_IMAGE`) behind nginx
//! with the compose stack's proxy config (`dockerfiles/nginx/blog.conf`) —
//! runs a bounded load generator through the proxy (reads and authenticated
//! writes), injects one fault, and then checks what the clients saw and that
//! every write acknowledged with a 2xx is in the database.
//!
//! Containers get fixed addresses on a /24 of their own so that a restarted
//! replica comes back where nginx (which resolves its upstreams once) expects
//! it; the test process reaches them directly over the bridge (Linux).
//!
//! Skipped unless `BLOG_TEST_APP_IMAGE` is set; required when `CI=true`.
//! Tests run one at a time (two stacks at once would starve a 2-core box and
//! turn latency assertions into noise).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex as AsyncMutex;

/// Serialises the tests of this file (see the module docs).
static SERIAL: AsyncMutex<()> = AsyncMutex::const_new(());

/// Per-request client timeout: far above any bound the service promises, so a
/// hang shows up as a measured latency, and as a failure only if it is absurd.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// Database timeouts given to the replicas; an outage must fail requests
/// within roughly their sum (waiting for a pooled connection, then opening one).
const DB_CONNECT_TIMEOUT_MS: u64 = 1_000;
const DB_POOL_WAIT_TIMEOUT_MS: u64 = 1_000;
const DB_STATEMENT_TIMEOUT_MS: u64 = 2_000;

mod docker {
    //! A thin async wrapper over the `docker` CLI.

    use tokio::process::Command;

    pub async fn run(args: &[&str]) -> Result<String, String> {
        let out = Command::new("docker")
            .args(args)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("cannot run docker: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!(
                "docker {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    pub async fn must(args: &[&str]) -> String {
        run(args).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Blocking variant for `Drop`, where no runtime may be left.
    pub fn run_blocking(args: &[&str]) -> Option<String> {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .ok()?;
        Some(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Images: the public defaults, or the local ones CI builds
/// (`dockerfiles/build-offline-images.sh --env` exports these variables).
struct Images {
    app: String,
    postgres: String,
    redis: String,
    s3: String,
    proxy: String,
}

impl Images {
    /// `None` (skip) when no app image was built, except in CI.
    fn from_env() -> Option<Self> {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let Some(app) = std::env::var("BLOG_TEST_APP_IMAGE")
            .ok()
            .filter(|v| !v.is_empty())
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "BLOG_TEST_APP_IMAGE must name the app image when CI=true"
            );
            eprintln!("skipped: set BLOG_TEST_APP_IMAGE to run the fault tests");
            return None;
        };
        Some(Self {
            app,
            postgres: var("BLOG_TEST_POSTGRES_IMAGE", "postgres:16-alpine"),
            redis: var("BLOG_TEST_REDIS_IMAGE", "redis:7-alpine"),
            s3: var("BLOG_TEST_S3_IMAGE", "chrislusf/seaweedfs:4.48"),
            // The compose file's variable, exported by the same script.
            proxy: var(
                "BLOG_TEST_PROXY_IMAGE",
                &var("PROXY_IMAGE", "nginx:1.27-alpine"),
            ),
        })
    }
}

/// One container of the stack, at a fixed address.
#[derive(Clone)]
struct Node {
    name: String,
    ip: String,
}

struct Stack {
    network: String,
    containers: Vec<String>,
    postgres: Node,
    redis: Node,
    apps: Vec<Node>,
    proxy_url: String,
    db_password: String,
}

impl Stack {
    async fn start(images: &Images) -> Stack {
        let id = unique_id();
        let (network, subnet) = create_network(&format!("blog-faults-{id}")).await;
        let node = |suffix: &str, host: u8| Node {
            name: format!("blog-faults-{id}-{suffix}"),
            ip: format!("{subnet}.{host}"),
        };
        let mut stack = Stack {
            network,
            containers: Vec::new(),
            postgres: node("postgres", 10),
            redis: node("redis", 11),
            apps: vec![node("app1", 20), node("app2", 21)],
            proxy_url: String::new(),
            db_password: format!("pw-{id}"),
        };
        let s3 = node("s3", 12);
        let proxy = node("proxy", 30);

        let pg_env = [
            "POSTGRES_USER=blog".to_owned(),
            "POSTGRES_DB=blog".to_owned(),
            format!("POSTGRES_PASSWORD={}", stack.db_password),
        ];
        stack
            .run_detached(
                &stack.postgres.clone(),
                &env_args(&pg_env),
                &images.postgres,
                &[],
            )
            .await;
        stack
            .run_detached(&stack.redis.clone(), &[], &images.redis, &[])
            .await;
        let s3_env = env_args(&[
            "AWS_ACCESS_KEY_ID=faults".into(),
            "AWS_SECRET_ACCESS_KEY=faults-secret".into(),
        ]);
        // `weed mini`: master, volume, filer and S3 in one process.
        let weed = [
            "mini",
            "-dir=/data",
            "-ip=127.0.0.1",
            "-ip.bind=0.0.0.0",
            "-master.telemetry=false",
            "-admin.ui=false",
        ];
        stack.run_detached(&s3, &s3_env, &images.s3, &weed).await;

        // Migrations retried until Postgres and S3 accept them.
        let app_env = stack.app_env(&s3);
        let mut migrate = vec!["run", "--rm", "--network", &stack.network];
        let env_flags = env_args(&app_env);
        migrate.extend(env_flags.iter().map(String::as_str));
        migrate.extend([images.app.as_str(), "migrate"]);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match docker::run(&migrate).await {
                Ok(_) => break,
                Err(e) if Instant::now() > deadline => panic!("migrations never succeeded: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }

        for (n, app) in stack.apps.clone().iter().enumerate() {
            // The names the proxy config knows the replicas by.
            let mut flags = vec!["--network-alias".to_owned(), format!("app{}", n + 1)];
            flags.extend(env_flags.iter().cloned());
            stack
                .run_detached(app, &flags, &images.app, &["serve"])
                .await;
        }
        for app in stack.apps.clone() {
            wait_ready(&app).await;
        }

        // The compose stack's own proxy config, as shipped.
        let conf = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../dockerfiles/nginx/blog.conf"
        );
        let mount = format!("{conf}:/etc/nginx/conf.d/default.conf:ro");
        stack
            .run_detached(
                &proxy,
                &["-v".into(), mount, "-p".into(), "127.0.0.1::80".into()],
                &images.proxy,
                &[],
            )
            .await;
        let port = docker::must(&["port", &proxy.name, "80/tcp"]).await;
        let port = port
            .lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .expect("published proxy port")
            .to_owned();
        stack.proxy_url = format!("http://127.0.0.1:{port}");
        wait_http_ok(&format!("{}/readyz", stack.proxy_url)).await;
        stack
    }

    async fn run_detached(&mut self, node: &Node, extra: &[String], image: &str, cmd: &[&str]) {
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &node.name,
            "--network",
            &self.network,
            "--ip",
            &node.ip,
        ];
        args.extend(extra.iter().map(String::as_str));
        args.push(image);
        args.extend(cmd);
        docker::must(&args).await;
        self.containers.push(node.name.clone());
    }

    fn app_env(&self, s3: &Node) -> Vec<String> {
        vec![
            "BLOG_ENVIRONMENT=production".into(),
            "BLOG_LOG__FILTER=warn".into(),
            format!("BLOG_DATABASE__HOST={}", self.postgres.ip),
            format!("BLOG_DATABASE__PASSWORD={}", self.db_password),
            "BLOG_DATABASE__SSL_MODE=disable".into(),
            format!("BLOG_DATABASE__CONNECT_TIMEOUT_MS={DB_CONNECT_TIMEOUT_MS}"),
            format!("BLOG_DATABASE__POOL_WAIT_TIMEOUT_MS={DB_POOL_WAIT_TIMEOUT_MS}"),
            format!("BLOG_DATABASE__STATEMENT_TIMEOUT_MS={DB_STATEMENT_TIMEOUT_MS}"),
            format!("BLOG_REDIS__URL=redis://{}:6379", self.redis.ip),
            format!("BLOG_S3__ENDPOINT=http://{}:8333", s3.ip),
            "BLOG_S3__ACCESS_KEY=faults".into(),
            "BLOG_S3__SECRET_KEY=faults-secret".into(),
            // No mail is sent by these tests; an address nobody listens on.
            format!("BLOG_SMTP__HOST={}", s3.ip),
            "BLOG_HTTP__TRUSTED_PROXIES=1".into(),
            "BLOG_HTTP__SHUTDOWN_GRACE_SECONDS=20".into(),
        ]
    }

    async fn db(&self) -> tokio_postgres::Client {
        let conn = format!(
            "host={} user=blog password={} dbname=blog connect_timeout=5",
            self.postgres.ip, self.db_password
        );
        let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
            .await
            .expect("connect to the stack's Postgres");
        tokio::spawn(connection);
        client
    }

    /// Every write the clients saw acknowledged is in the database.
    async fn assert_no_lost_writes(&self, acked: &[Acked]) {
        assert!(!acked.is_empty(), "the load acknowledged no write at all");
        let ids: Vec<String> = acked.iter().map(|a| a.id.clone()).collect();
        let rows = self
            .db()
            .await
            .query(
                "SELECT id::text, title FROM posts WHERE id::text = ANY($1)",
                &[&ids],
            )
            .await
            .expect("query posts");
        let stored: std::collections::HashMap<String, String> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let lost: Vec<&Acked> = acked
            .iter()
            .filter(|a| stored.get(&a.id) != Some(&a.title))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged writes are missing, e.g. {:?}",
            lost.len(),
            acked.len(),
            lost.iter().take(5).map(|a| &a.id).collect::<Vec<_>>()
        );
        eprintln!("all {} acknowledged writes are stored", acked.len());
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for name in &self.containers {
                if let Some(logs) = docker::run_blocking(&["logs", "--tail", "40", name]) {
                    eprintln!("---- logs of {name} ----\n{logs}");
                }
            }
        }
        let mut rm = vec!["rm", "-f", "-v"];
        rm.extend(self.containers.iter().map(String::as_str));
        docker::run_blocking(&rm);
        docker::run_blocking(&["network", "rm", &self.network]);
    }
}

fn env_args(env: &[String]) -> Vec<String> {
    env.iter()
        .flat_map(|e| ["-e".to_owned(), e.clone()])
        .collect()
}

fn unique_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{}-{nanos:x}", std::process::id())
}

/// A network on a random 10.x.y.0/24 (retried on overlap with existing ones);
/// dynamic addresses (the migrate run) come from the upper half, fixed ones
/// from the lower. Returns the name and the "10.x.y" prefix.
async fn create_network(name: &str) -> (String, String) {
    let mut last_err = String::new();
    for attempt in 0..8u32 {
        let seed = rand::random::<u16>();
        let prefix = format!("10.{}.{}", 200 + (seed >> 8) % 50, seed & 0xff);
        let subnet = format!("--subnet={prefix}.0/24");
        let range = format!("--ip-range={prefix}.128/25");
        match docker::run(&["network", "create", &subnet, &range, name]).await {
            Ok(_) => return (name.to_owned(), prefix),
            Err(e) => {
                last_err = e;
                eprintln!("network attempt {attempt} failed, retrying");
            }
        }
    }
    panic!("cannot create a docker network: {last_err}");
}

async fn wait_ready(app: &Node) {
    wait_http_ok(&format!("http://{}:8080/readyz", app.ip)).await;
}

async fn wait_http_ok(url: &str) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{url} never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---------------------------------------------------------------- the load

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    List,
    Detail,
    Author,
    Create,
}

/// What a client saw for one request.
#[derive(Clone, Debug)]
struct Sample {
    op: Op,
    /// Since the load started.
    started: Duration,
    latency: Duration,
    /// HTTP status, or `None` for a transport error / client timeout.
    status: Option<u16>,
    problem_json: bool,
    error: Option<String>,
}

impl Sample {
    fn ok(&self) -> bool {
        matches!(self.status, Some(s) if s < 400)
    }
    fn ended(&self) -> Duration {
        self.started + self.latency
    }
}

#[derive(Clone, Debug)]
struct Acked {
    id: String,
    title: String,
}

struct Load {
    t0: Instant,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    acked: Arc<Mutex<Vec<Acked>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Workers, each with at most one request in flight (so "in flight at an
/// instant" is bounded by this number).
const WORKERS: usize = 6;
/// Pause between a worker's requests: keeps the load bounded (a few hundred
/// requests per second at most) on a 2-core machine.
const PACING: Duration = Duration::from_millis(15);
/// Hard cap per worker, whatever happens to the stop flag.
const MAX_REQUESTS_PER_WORKER: usize = 20_000;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    username: String,
}

impl Client {
    async fn signed_up(base: &str) -> Client {
        let http = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .pool_max_idle_per_host(WORKERS)
            .build()
            .expect("client");
        let username = format!("fault{}", rand::random::<u32>());
        let password = "correct horse battery staple";
        let r = http
            .post(format!("{base}/api/users"))
            .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": password}))
            .send()
            .await
            .expect("register");
        assert_eq!(
            r.status(),
            201,
            "register: {}",
            r.text().await.unwrap_or_default()
        );
        let r = http
            .post(format!("{base}/api/sessions"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("log in");
        assert_eq!(
            r.status(),
            201,
            "log in: {}",
            r.text().await.unwrap_or_default()
        );
        let body: Value = r.json().await.expect("session json");
        let token = body["token"].as_str().expect("token").to_owned();
        Client {
            http,
            base: base.to_owned(),
            token,
            username,
        }
    }
}

impl Load {
    async fn start(client: Client) -> Load {
        let client = Arc::new(client);
        // Something to read from the first request on.
        let seed = create_post(&client, "seed").await.expect("seed post");
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let acked = Arc::new(Mutex::new(vec![seed]));
        let t0 = Instant::now();
        let workers = (0..WORKERS)
            .map(|w| {
                let (client, stop, samples, acked) =
                    (client.clone(), stop.clone(), samples.clone(), acked.clone());
                tokio::spawn(async move {
                    for n in 0..MAX_REQUESTS_PER_WORKER {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let op = [Op::List, Op::Detail, Op::Create, Op::Author][(n + w) % 4];
                        let sample = one_request(&client, op, w, n, t0, &acked).await;
                        samples.lock().expect("samples").push(sample);
                        tokio::time::sleep(PACING).await;
                    }
                })
            })
            .collect();
        Load {
            t0,
            stop,
            samples,
            acked,
            workers,
        }
    }

    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    async fn finish(self) -> (Vec<Sample>, Vec<Acked>) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.await.expect("load worker panicked");
        }
        let samples = self.samples.lock().expect("samples").clone();
        let acked = self.acked.lock().expect("acked").clone();
        (samples, acked)
    }
}

async fn create_post(client: &Client, title: &str) -> Result<Acked, String> {
    let r = client
        .http
        .post(format!("{}/api/posts", client.base))
        .bearer_auth(&client.token)
        .json(&json!({"title": title, "content": "written under fault injection"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 201 {
        return Err(format!("status {}", r.status()));
    }
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    let id = match &body["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(Acked {
        id,
        title: title.to_owned(),
    })
}

async fn one_request(
    client: &Client,
    op: Op,
    worker: usize,
    n: usize,
    t0: Instant,
    acked: &Mutex<Vec<Acked>>,
) -> Sample {
    let base = &client.base;
    let title = format!("fault w{worker} n{n}");
    let req = match op {
        Op::List => client.http.get(format!("{base}/api/posts?limit=10")),
        Op::Detail => {
            let id = {
                let acked = acked.lock().expect("acked");
                acked[n % acked.len()].id.clone()
            };
            client.http.get(format!("{base}/api/posts/{id}"))
        }
        Op::Author => client.http.get(format!(
            "{base}/api/users/{}/posts?limit=10",
            client.username
        )),
        Op::Create => client
            .http
            .post(format!("{base}/api/posts"))
            .bearer_auth(&client.token)
            .json(&json!({"title": title, "content": "written under fault injection"})),
    };
    let started = t0.elapsed();
    let begin = Instant::now();
    let result = req.send().await;
    let mut sample = Sample {
        op,
        started,
        latency: Duration::ZERO,
        status: None,
        problem_json: false,
        error: None,
    };
    match result {
        Err(e) => sample.error = Some(e.to_string()),
        Ok(r) => {
            let status = r.status().as_u16();
            sample.status = Some(status);
            sample.problem_json = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/problem+json"));
            match r.bytes().await {
                Err(e) => {
                    sample.status = None;
                    sample.error = Some(format!("reading the body: {e}"));
                }
                Ok(body) if op == Op::Create && status == 201 => {
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let id = match &body["id"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    acked.lock().expect("acked").push(Acked { id, title });
                }
                Ok(body) if status >= 400 && !sample.problem_json => {
                    sample.error = Some(String::from_utf8_lossy(&body).chars().take(200).collect());
                }
                Ok(_) => {}
            }
        }
    }
    sample.latency = begin.elapsed();
    sample
}

// ---------------------------------------------------------------- reporting

struct Summary {
    total: usize,
    failed: Vec<Sample>,
    max_latency: Duration,
}

fn summarize(samples: &[Sample], from: Duration, to: Duration) -> Summary {
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.started >= from && s.started < to)
        .collect();
    Summary {
        total: window.len(),
        failed: window
            .iter()
            .filter(|s| !s.ok())
            .map(|s| (*s).clone())
            .collect(),
        max_latency: window.iter().map(|s| s.latency).max().unwrap_or_default(),
    }
}

fn report(label: &str, s: &Summary) {
    eprintln!(
        "{label}: {} requests, {} failed, max latency {} ms",
        s.total,
        s.failed.len(),
        s.max_latency.as_millis()
    );
    for f in s.failed.iter().take(10) {
        eprintln!("    {f:?}");
    }
}

const ALL: Duration = Duration::MAX;

async fn setup() -> Option<(Stack, Load)> {
    let images = Images::from_env()?;
    let stack = Stack::start(&images).await;
    let client = Client::signed_up(&stack.proxy_url).await;
    let load = Load::start(client).await;
    Some((stack, load))
}

// ---------------------------------------------------------------- the tests

/// A rolling update: each replica in turn gets SIGTERM, drains, exits, starts
/// again and becomes ready before the next one goes. No client may notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_loses_no_request() {
    let _serial = SERIAL.lock().await;
    let Some((stack, load)) = setup().await else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    for app in &stack.apps {
        let t = Instant::now();
        docker::must(&["stop", "--time", "25", &app.name]).await;
        let stopped = t.elapsed();
        let code = docker::must(&["inspect", "--format", "{{.State.ExitCode}}", &app.name]).await;
        assert_eq!(code, "0", "{} did not exit cleanly on SIGTERM", app.name);
        tokio::time::sleep(Duration::from_secs(1)).await;
        docker::must(&["start", &app.name]).await;
        wait_ready(app).await;
        eprintln!(
            "{}: drained and exited 0 in {} ms, ready again after {} ms",
            app.name,
            stopped.as_millis(),
            t.elapsed().as_millis()
        );
        // Like a Deployment's minReadySeconds: nginx's passive health check
        // (fail_timeout) must see the replica live before the next one goes.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let (samples, acked) = load.finish().await;
    let all = summarize(&samples, Duration::ZERO, ALL);
    report("rolling restart", &all);
    assert!(all.total > 200, "too little load to prove anything");
    assert!(
        all.failed.is_empty(),
        "requests failed during a rolling restart"
    );
    stack.assert_no_lost_writes(&acked).await;
}

/// SIGKILL on one replica: only the requests it had in flight may fail
/// (non-idempotent ones; nginx retries the others), and none after that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_replica_fails_only_requests_in_flight() {
    let _serial = SERIAL.lock().await;
    let Some((stack, load)) = setup().await else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let victim = &stack.apps[0];
    let kill_started = load.now();
    docker::must(&["kill", "--signal", "KILL", &victim.name]).await;
    let kill_done = load.now();
    // Traffic on the survivor alone, then the victim comes back.
    tokio::time::sleep(Duration::from_secs(6)).await;
    docker::must(&["start", &victim.name]).await;
    wait_ready(victim).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (samples, acked) = load.finish().await;

    let all = summarize(&samples, Duration::ZERO, ALL);
    report("SIGKILL one replica", &all);
    assert!(all.total > 200, "too little load to prove anything");
    // In flight at the kill: started before it and still running then.
    let in_flight = samples
        .iter()
        .filter(|s| s.started <= kill_done && s.ended() >= kill_started)
        .count();
    eprintln!(
        "in flight around the kill: {in_flight}; failed: {}",
        all.failed.len()
    );
    for f in &all.failed {
        assert!(
            f.started <= kill_done && f.ended() >= kill_started,
            "a request that was not in flight at the kill failed: {f:?}"
        );
    }
    assert!(
        all.failed.len() <= WORKERS,
        "more failures than requests in flight"
    );
    stack.assert_no_lost_writes(&acked).await;
}

/// Redis is a cache and a counter store, not a dependency of correctness:
/// with it gone reads and writes go on; when it returns the cache fills
/// again, with no burst of errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_is_invisible_to_clients() {
    let _serial = SERIAL.lock().await;
    let Some((stack, load)) = setup().await else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let down = load.now();
    docker::must(&["stop", "--time", "2", &stack.redis.name]).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let up = load.now();
    docker::must(&["start", &stack.redis.name]).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (samples, acked) = load.finish().await;

    let before = summarize(&samples, Duration::ZERO, down);
    let during = summarize(&samples, down, up);
    let after = summarize(&samples, up, ALL);
    report("before the Redis outage", &before);
    report("Redis down", &during);
    report("Redis back", &after);
    assert!(
        during.total > 50 && after.total > 50,
        "too little load to prove anything"
    );
    assert!(
        during.failed.is_empty(),
        "requests failed while Redis was down"
    );
    assert!(
        after.failed.is_empty(),
        "requests failed after Redis came back"
    );
    let writes_during = samples
        .iter()
        .filter(|s| s.op == Op::Create && s.started >= down && s.started < up && s.ok())
        .count();
    assert!(writes_during > 0, "no write succeeded while Redis was down");

    // The service uses Redis again: keys were written after the restart
    // (it has no persistence here, so every key is new).
    let keys = docker::must(&["exec", &stack.redis.name, "redis-cli", "DBSIZE"]).await;
    let keys: u64 = keys.trim().parse().unwrap_or(0);
    eprintln!("Redis keys after recovery: {keys}");
    assert!(keys > 0, "nothing was written to Redis after it came back");
    // The view counter (kept in Redis) counts again.
    let views = |body: Value| body["views"].as_u64();
    let url = format!("{}/api/posts/{}", stack.proxy_url, acked[0].id);
    let http = reqwest::Client::new();
    let first: Value = http
        .get(&url)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    let second: Value = http
        .get(&url)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    let (first, second) = (views(first), views(second));
    eprintln!("views after recovery: {first:?} then {second:?}");
    assert!(
        matches!((first, second), (Some(a), Some(b)) if b > a),
        "the view counter did not resume: {first:?} then {second:?}"
    );
    stack.assert_no_lost_writes(&acked).await;
}

/// A Postgres restart: while it is down requests fail fast with a 503
/// problem, none hangs past the configured timeouts, and the replicas
/// recover by themselves once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_fails_fast_and_recovers() {
    let _serial = SERIAL.lock().await;
    let Some((stack, load)) = setup().await else {
        return;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let down = load.now();
    docker::must(&["stop", "--time", "5", &stack.postgres.name]).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    docker::must(&["start", &stack.postgres.name]).await;
    let started_again = load.now();
    // Recovered: a write through the proxy succeeds again.
    let deadline = Instant::now() + Duration::from_secs(60);
    let recovered = loop {
        let ok = samples_since(&load, started_again)
            .iter()
            .rev()
            .take(2 * WORKERS)
            .filter(|s| s.ok())
            .count();
        if ok >= 2 * WORKERS {
            break load.now();
        }
        assert!(
            Instant::now() < deadline,
            "the service did not recover from the Postgres restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let steady = load.now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (samples, acked) = load.finish().await;

    let before = summarize(&samples, Duration::ZERO, down);
    let outage = summarize(&samples, down, recovered);
    let after = summarize(&samples, steady, ALL);
    report("before the Postgres restart", &before);
    report("Postgres down and restarting", &outage);
    report("steady after recovery", &after);
    eprintln!(
        "recovered {} ms after Postgres was started again ({} ms after it was stopped)",
        (recovered - started_again).as_millis(),
        (recovered - down).as_millis()
    );
    assert!(before.failed.is_empty(), "requests failed before the fault");
    assert!(
        !outage.failed.is_empty(),
        "the outage was not observed at all"
    );
    for f in &outage.failed {
        assert!(
            f.status == Some(503) && f.problem_json,
            "a request failed during the outage other than with a 503 problem: {f:?}"
        );
    }
    let bound = Duration::from_millis(
        DB_CONNECT_TIMEOUT_MS + DB_POOL_WAIT_TIMEOUT_MS + DB_STATEMENT_TIMEOUT_MS,
    ) + Duration::from_secs(1);
    assert!(
        outage.max_latency <= bound,
        "a request hung for {} ms during the outage (bound {} ms)",
        outage.max_latency.as_millis(),
        bound.as_millis()
    );
    assert!(
        after.total > 50 && after.failed.is_empty(),
        "errors after recovery"
    );
    stack.assert_no_lost_writes(&acked).await;
}

fn samples_since(load: &Load, from: Duration) -> Vec<Sample> {
    load.samples
        .lock()
        .expect("samples")
        .iter()
        .filter(|s| s.started >= from)
        .cloned()
        .collect()
}
