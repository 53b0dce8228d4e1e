//! Postgres and Redis in containers, started with testcontainers.
//!
//! Images come from `BLOG_TEST_POSTGRES_IMAGE` / `BLOG_TEST_REDIS_IMAGE` (`name:tag`), so CI
//! without registry access can point at locally built images. Readiness is "a real
//! connection succeeds", which works for the official images and the local Debian ones
//! alike (their log lines differ).

use std::net::TcpStream as StdTcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testcontainers::core::{ContainerPort, IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const POSTGRES_USER: &str = "postgres";
/// Throwaway password of a throwaway container bound to 127.0.0.1; not a secret.
pub const POSTGRES_PASSWORD: &str = "integration-tests";
pub const LABEL: &str = "blog-integration-tests";

/// `name:tag` from `var`, falling back to `default`. The tag is always explicit.
pub fn image_from_env(var: &str, default: &str) -> (String, String) {
    let spec = std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_owned());
    // Split at the last ':' that comes after the last '/', so `localhost:5000/pg` keeps its port.
    let slash = spec.rfind('/').map_or(0, |i| i + 1);
    match spec[slash..].rfind(':') {
        Some(i) => (
            spec[..slash + i].to_owned(),
            spec[slash + i + 1..].to_owned(),
        ),
        None => (spec, "latest".to_owned()),
    }
}

pub fn postgres_image() -> (String, String) {
    image_from_env("BLOG_TEST_POSTGRES_IMAGE", "postgres:16-alpine")
}

pub fn redis_image() -> (String, String) {
    image_from_env("BLOG_TEST_REDIS_IMAGE", "redis:7-alpine")
}

/// Is a Docker daemon reachable? Checked up front so a missing Docker is a clear skip
/// (or a loud failure in CI) instead of an obscure error deep inside a test.
pub fn docker_available() -> bool {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        if let Some(path) = host.strip_prefix("unix://") {
            return std::os::unix::net::UnixStream::connect(path).is_ok();
        }
        if let Some(addr) = host.strip_prefix("tcp://") {
            return StdTcpStream::connect(addr).is_ok();
        }
        return true;
    }
    std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok()
}

/// Containers live in statics for the whole test binary, and statics are never dropped, so
/// a detached watcher removes them once this process is gone (even after a panic or kill).
fn remove_when_process_exits(container_id: &str) {
    let pid = std::process::id();
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; docker rm -f -v {container_id} >/dev/null 2>&1"
    );
    let spawned = std::os::unix::process::CommandExt::process_group(
        Command::new("sh").args(["-c", &script]),
        0, // own process group: a Ctrl-C on the test run must not kill the watcher
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn();
    if let Err(err) = spawned {
        eprintln!("cannot spawn the container reaper for {container_id}: {err}");
    }
}

fn missing_image_hint(name: &str, tag: &str, var: &str, err: impl std::fmt::Display) -> String {
    let local = if var.contains("POSTGRES") {
        "localhost/postgres:15-bookworm"
    } else {
        "localhost/redis:7-bookworm"
    };
    format!(
        "cannot start container {name}:{tag}: {err}\n\
         Without registry access, build local images with \
         dockerfiles/build-offline-images.sh and set {var}={local}."
    )
}

/// Starts a Postgres container and waits until it accepts a real login.
pub async fn start_postgres() -> (ContainerAsync<GenericImage>, u16) {
    let (name, tag) = postgres_image();
    let container = GenericImage::new(&name, &tag)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_env_var("POSTGRES_USER", POSTGRES_USER)
        .with_env_var("POSTGRES_PASSWORD", POSTGRES_PASSWORD)
        .with_env_var("POSTGRES_DB", "postgres")
        .with_label(LABEL, "postgres")
        // Tests create many databases and connections at once.
        .with_cmd(["postgres", "-c", "max_connections=500", "-c", "fsync=off"])
        .start()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{}",
                missing_image_hint(&name, &tag, "BLOG_TEST_POSTGRES_IMAGE", e)
            )
        });
    remove_when_process_exits(container.id());
    let port = container
        .get_host_port_ipv4(5432.tcp())
        .await
        .expect("postgres port");
    wait_for_postgres(port, Duration::from_secs(90)).await;
    (container, port)
}

pub async fn wait_for_postgres(port: u16, limit: Duration) {
    let started = Instant::now();
    loop {
        match admin_client_on("postgres", port).await {
            Ok(client) if client.simple_query("SELECT 1").await.is_ok() => return,
            Ok(_) => {}
            Err(err) if started.elapsed() > limit => {
                panic!("postgres on 127.0.0.1:{port} not ready after {limit:?}: {err}")
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A superuser connection to `database` (the connection task runs on the current runtime).
pub async fn admin_client_on(
    database: &str,
    port: u16,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user(POSTGRES_USER)
        .password(POSTGRES_PASSWORD)
        .dbname(database)
        .connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Starts a Redis container. With `host_port`, the mapping is fixed so that the container
/// can be stopped and started again at the same address (Docker reassigns random ports).
pub async fn start_redis(host_port: Option<u16>) -> (ContainerAsync<GenericImage>, u16) {
    let (name, tag) = redis_image();
    let mut request = GenericImage::new(&name, &tag)
        .with_exposed_port(6379.tcp())
        .with_wait_for(WaitFor::Nothing)
        .with_label(LABEL, "redis")
        // Spelled out because passing any arguments replaces the image's default command:
        // listen on all interfaces of the container, and many logical databases so every
        // test app gets its own (`redis://…/N`).
        .with_cmd([
            "--bind",
            "0.0.0.0",
            "--protected-mode",
            "no",
            "--databases",
            "10000",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
    if let Some(port) = host_port {
        request = request.with_mapped_port(port, ContainerPort::Tcp(6379));
    }
    let container = request.start().await.unwrap_or_else(|e| {
        panic!(
            "{}",
            missing_image_hint(&name, &tag, "BLOG_TEST_REDIS_IMAGE", e)
        )
    });
    remove_when_process_exits(container.id());
    let port = container
        .get_host_port_ipv4(6379.tcp())
        .await
        .expect("redis port");
    wait_for_redis(port, Duration::from_secs(60)).await;
    (container, port)
}

/// Waits until `PING` gets `+PONG` (a bare TCP connect can succeed before Redis is up,
/// through Docker's userland proxy).
pub async fn wait_for_redis(port: u16, limit: Duration) {
    let started = Instant::now();
    while !redis_ping(port).await {
        assert!(
            started.elapsed() < limit,
            "redis on 127.0.0.1:{port} not ready after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn redis_ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut buf = [0u8; 7];
        stream.read_exact(&mut buf).await?;
        Ok::<_, std::io::Error>(&buf == b"+PONG\r\n")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Ok(true))
    )
}

/// A TCP port that nothing listens on right now (for "dependency is down" tests and for
/// fixed port mappings).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
