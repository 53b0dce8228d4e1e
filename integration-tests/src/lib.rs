//! Shared harness for the end-to-end tests: real Postgres and Redis (containers), a real
//! S3 server and a real SMTP server (in-process), and the service itself on a random port.
//!
//! Run: `cargo test -p integration-tests` (Docker required). Without registry access, build
//! the local images (`dockerfiles/build-offline-images.sh`) and set
//! `BLOG_TEST_POSTGRES_IMAGE=localhost/postgres:15-bookworm` and
//! `BLOG_TEST_REDIS_IMAGE=localhost/redis:7-bookworm`. Without Docker the tests print a
//! skip notice, or fail when `CI=true`. Containers carry the label `blog-integration-tests`
//! and are removed when the test process exits.
//!
//! Each `#[tokio::test]` has its own runtime, which dies with the test. Shared servers
//! therefore run on one runtime of their own that lives as long as the test binary.

pub mod containers;
pub mod s3;
pub mod smtp;
pub mod test_app;

use std::sync::LazyLock;

use testcontainers::{ContainerAsync, GenericImage};
use tokio::sync::OnceCell;

pub use s3::S3Server;
pub use smtp::{Mail, SmtpServer};
pub use test_app::{
    PASSWORD, TestApp, TestUser, expect_problem, expect_problem_4xx, expect_status,
};

/// The runtime that owns the shared servers and the Docker client that started the
/// containers (container handles must be driven from it).
pub static INFRA_RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("test-infra")
        .enable_all()
        .build()
        .expect("infra runtime")
});

/// Servers shared by every test of one test binary.
pub struct Infra {
    pub postgres: ContainerAsync<GenericImage>,
    pub postgres_port: u16,
    pub redis: ContainerAsync<GenericImage>,
    pub redis_port: u16,
    pub s3: S3Server,
    pub smtp: SmtpServer,
}

static INFRA: OnceCell<Option<&'static Infra>> = OnceCell::const_new();

/// The shared servers, started on first use. `None` when Docker is unavailable outside CI
/// (after printing why); with `CI=true` a missing Docker is a failure, not a skip.
pub async fn infra() -> Option<&'static Infra> {
    *INFRA
        .get_or_init(|| async {
            if !containers::docker_available() {
                let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
                assert!(
                    !in_ci,
                    "Docker is not reachable and CI=true: the integration tests must run here. \
                     Start Docker or set DOCKER_HOST."
                );
                eprintln!(
                    "SKIPPED: Docker is not reachable, so the end-to-end tests cannot start \
                     Postgres and Redis. Start Docker (or set DOCKER_HOST) to run them."
                );
                return None;
            }
            let infra = INFRA_RUNTIME
                .spawn(async {
                    let ((postgres, postgres_port), (redis, redis_port), s3) = tokio::join!(
                        containers::start_postgres(),
                        containers::start_redis(None),
                        S3Server::start()
                    );
                    Infra {
                        postgres,
                        postgres_port,
                        redis,
                        redis_port,
                        s3,
                        smtp: SmtpServer::start(),
                    }
                })
                .await
                .expect("starting the shared test servers failed (see the panic above)");
            Some(&*Box::leak(Box::new(infra)))
        })
        .await
}

/// Runs `fut` on the infra runtime (for container operations such as stop/start).
pub async fn on_infra_runtime<F>(fut: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    INFRA_RUNTIME.spawn(fut).await.expect("infra task panicked")
}

/// A random lowercase suffix for names of databases, buckets, users.
pub fn random_suffix(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// Creates a fresh database for one test and returns its name.
pub async fn create_database(infra: &Infra) -> String {
    let name = format!("test_{}", random_suffix(16));
    let admin = containers::admin_client_on("postgres", infra.postgres_port)
        .await
        .expect("admin connection");
    admin
        .simple_query(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    name
}
