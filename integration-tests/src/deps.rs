//! The service's dependencies — Postgres, Redis, S3 (SeaweedFS) and the mail catcher — as
//! containers of the images in `dockerfiles/images.env`, on a network of their own and
//! published on 127.0.0.1. The one definition behind every test (the in-process API tests,
//! the app image tests, the fault tests) and behind `test-stack` (scripts/lib.sh's host
//! stack for the fuzzer and the benchmark).
//!
//! One [`Deps`] serves many apps: [`Deps::isolate`] hands each its own database (and
//! role), Redis logical database and bucket, and every test mails unique addresses, so
//! tests run in parallel. [`Deps::env`] says how to reach it all, as the `BLOG_*`
//! variables of docs/contracts.md, from the host or from a container on the network.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::docker::{Container, Network, Run, random_suffix};
use crate::images::Image;

/// Fixed addresses on the network ([`Network::ip`]).
const POSTGRES_IP: u8 = 10;
const REDIS_IP: u8 = 11;
const S3_IP: u8 = 12;
const MAIL_IP: u8 = 13;

/// How long a dependency may take to answer after its container started (a cold
/// Postgres initialises its data directory first; the machine may be busy).
const READY_LIMIT: Duration = Duration::from_secs(120);

pub struct Deps {
    pub postgres: Postgres,
    pub redis: Redis,
    pub s3: S3,
    pub mail: MailCatcher,
    /// Declared last: removed after the containers on it.
    pub network: Network,
}

/// Where a client of [`Deps::env`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// On the host: published ports on 127.0.0.1.
    Host,
    /// In a container on [`Deps::network`]: fixed addresses, the images' own ports.
    Network,
}

/// One app's share of a [`Deps`].
#[derive(Clone, Debug)]
pub struct Slot {
    pub database: Database,
    pub redis_db: u32,
    pub bucket: String,
}

impl Deps {
    /// Starts the four containers (names start with `name`) and waits until each answers.
    /// With `redis_host_port`, Redis is published at that port so that it can be stopped
    /// and started again at the same address.
    pub async fn start(name: &str, redis_host_port: Option<u16>) -> Deps {
        let name = format!("{name}-{}", random_suffix(6));
        let network = Network::create(&name).await;
        let redis_name = format!("{name}-redis");
        let (postgres, redis, s3, mail) = tokio::join!(
            Postgres::start(&network, &name),
            Redis::start(
                &network,
                &redis_name,
                Some(network.ip(REDIS_IP)),
                redis_host_port
            ),
            S3::start(&network, &name),
            MailCatcher::start(&network, &name),
        );
        Deps {
            postgres,
            redis,
            s3,
            mail,
            network,
        }
    }

    /// A fresh database (owned by a fresh role), Redis logical database and bucket name.
    /// The bucket is created by the app (`blog migrate` or `Storage::ensure_bucket`).
    pub async fn isolate(&self) -> Slot {
        // Redis runs with 10 000 logical databases; 0 is left alone.
        static NEXT_REDIS_DB: AtomicU32 = AtomicU32::new(1);
        Slot {
            database: self.postgres.create_database().await,
            redis_db: NEXT_REDIS_DB.fetch_add(1, Ordering::Relaxed),
            bucket: format!("t-{}", random_suffix(12)),
        }
    }

    /// The settings that point an app at `slot`, as `BLOG_*` environment variables.
    pub fn env(&self, slot: &Slot, side: Side) -> Vec<(String, String)> {
        let host = |ip: u8, published: u16, native: u16| match side {
            Side::Host => ("127.0.0.1".to_owned(), published),
            Side::Network => (self.network.ip(ip), native),
        };
        let (db_host, db_port) = host(POSTGRES_IP, self.postgres.port, 5432);
        let (redis_host, redis_port) = host(REDIS_IP, self.redis.port, 6379);
        let (s3_host, s3_port) = host(S3_IP, self.s3.port, 8333);
        let (smtp_host, smtp_port) = host(MAIL_IP, self.mail.smtp_port, 1025);
        [
            ("BLOG_DATABASE__HOST", db_host),
            ("BLOG_DATABASE__PORT", db_port.to_string()),
            ("BLOG_DATABASE__NAME", slot.database.name.clone()),
            ("BLOG_DATABASE__USER", slot.database.user.clone()),
            ("BLOG_DATABASE__PASSWORD", slot.database.password.clone()),
            ("BLOG_DATABASE__SSL_MODE", "disable".into()),
            (
                "BLOG_REDIS__URL",
                format!("redis://{redis_host}:{redis_port}/{}", slot.redis_db),
            ),
            ("BLOG_S3__ENDPOINT", format!("http://{s3_host}:{s3_port}")),
            ("BLOG_S3__REGION", S3::REGION.into()),
            ("BLOG_S3__BUCKET", slot.bucket.clone()),
            ("BLOG_S3__ACCESS_KEY", self.s3.access_key.clone()),
            ("BLOG_S3__SECRET_KEY", self.s3.secret_key.clone()),
            ("BLOG_SMTP__HOST", smtp_host),
            ("BLOG_SMTP__PORT", smtp_port.to_string()),
            ("BLOG_SMTP__TLS", "none".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// A database of its own, owned by a role of its own (the app is no superuser).
#[derive(Clone, Debug)]
pub struct Database {
    pub name: String,
    pub user: String,
    pub password: String,
}

pub struct Postgres {
    pub container: Container,
    /// The published port on 127.0.0.1.
    pub port: u16,
    ip: String,
    /// Superuser password of a throwaway container.
    password: String,
}

impl Postgres {
    pub const SUPERUSER: &str = "postgres";

    async fn start(network: &Network, name: &str) -> Postgres {
        let password = random_suffix(20);
        let ip = network.ip(POSTGRES_IP);
        let container = Run::new(Image::Postgres.reference(), format!("{name}-postgres"))
            .network(network, Some(ip.clone()))
            .publish(5432, None)
            .env("POSTGRES_USER", Self::SUPERUSER)
            .env("POSTGRES_PASSWORD", &password)
            .env("POSTGRES_DB", "postgres")
            // Many test databases and connections at once. No fsync: nothing here must
            // survive a crash of the machine (a stopped container keeps its data).
            .cmd(["postgres", "-c", "max_connections=500", "-c", "fsync=off"])
            .hint(Image::Postgres.hint())
            .start()
            .await;
        let port = container.host_port(5432).await;
        let postgres = Postgres {
            container,
            port,
            ip,
            password,
        };
        postgres
            .container
            .wait_until("accepting logins", READY_LIMIT, || async {
                match postgres.admin("postgres").await {
                    Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
                    Err(_) => false,
                }
            })
            .await;
        postgres
    }

    /// A superuser connection to `database` through the published port (the connection
    /// task runs on the current runtime).
    pub async fn admin(
        &self,
        database: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        self.connect("127.0.0.1", self.port, database).await
    }

    /// The same over the network's bridge at the container's own address, which does not
    /// change when the container restarts (its published port may).
    pub async fn admin_via_network(
        &self,
        database: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        self.connect(&self.ip, 5432, database).await
    }

    async fn connect(
        &self,
        host: &str,
        port: u16,
        database: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(host)
            .port(port)
            .user(Self::SUPERUSER)
            .password(&self.password)
            .dbname(database)
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    pub async fn create_database(&self) -> Database {
        let name = format!("test_{}", random_suffix(16));
        let password = random_suffix(24);
        let admin = self.admin("postgres").await.expect("admin connection");
        // Names and password are [a-z_], so they need no quoting. One statement at a time:
        // CREATE DATABASE refuses the implicit transaction of a multi-statement query.
        // Every role may connect to a new database until PUBLIC loses that right.
        for statement in [
            format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'"),
            format!("CREATE DATABASE {name} OWNER {name}"),
            format!("REVOKE CONNECT ON DATABASE {name} FROM PUBLIC"),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        Database {
            user: name.clone(),
            name,
            password,
        }
    }
}

pub struct Redis {
    pub container: Container,
    /// The published port on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    /// A Redis on `network` (at `ip` if given), published at `host_port` if given (so it
    /// can be stopped and started again at the same address) or a random port.
    pub async fn start(
        network: &Network,
        name: &str,
        ip: Option<String>,
        host_port: Option<u16>,
    ) -> Redis {
        let container = Run::new(Image::Redis.reference(), name)
            .network(network, ip)
            .publish(6379, host_port)
            // Many logical databases, so every app gets its own (`redis://…/N`); a cache
            // and a counter store: nothing to persist.
            .cmd([
                "redis-server",
                "--protected-mode",
                "no",
                "--databases",
                "10000",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .hint(Image::Redis.hint())
            .start()
            .await;
        let port = container.host_port(6379).await;
        let redis = Redis { container, port };
        redis.wait_ready(READY_LIMIT).await;
        redis
    }

    /// Waits until `PING` gets `+PONG` through the published port.
    pub async fn wait_ready(&self, limit: Duration) {
        self.container
            .wait_until("answering PING", limit, || self.ping())
            .await;
    }

    /// `PING` answered with `+PONG` (a bare TCP connect can succeed before Redis is up,
    /// through Docker's userland proxy).
    pub async fn ping(&self) -> bool {
        let attempt = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
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
}

/// SeaweedFS (`weed mini`), with credentials required.
pub struct S3 {
    pub container: Container,
    /// The published port on 127.0.0.1.
    pub port: u16,
    pub access_key: String,
    pub secret_key: String,
}

impl S3 {
    pub const REGION: &str = "us-east-1";

    async fn start(network: &Network, name: &str) -> S3 {
        // Throwaway credentials of a throwaway container.
        let access_key = format!("it{}", random_suffix(10));
        let secret_key = random_suffix(24);
        let container = Run::new(Image::S3.reference(), format!("{name}-s3"))
            .network(network, Some(network.ip(S3_IP)))
            .publish(8333, None)
            // With these set, SeaweedFS refuses unsigned and wrongly signed requests.
            .env("AWS_ACCESS_KEY_ID", &access_key)
            .env("AWS_SECRET_ACCESS_KEY", &secret_key)
            .cmd([
                "mini",
                "-dir=/data",
                "-ip=127.0.0.1",
                "-ip.bind=0.0.0.0",
                "-master.telemetry=false",
                "-admin.ui=false",
                // A bucket takes a volume of its own at its first write, and by default
                // the volume count is the free disk divided by 1 GiB (tens): tests make
                // hundreds of buckets. Volumes are sparse, so this reserves nothing.
                "-volume.max=2000",
            ])
            .hint(Image::S3.hint())
            .start()
            .await;
        let port = container.host_port(8333).await;
        let s3 = S3 {
            container,
            port,
            access_key,
            secret_key,
        };
        s3.container
            .wait_until("serving signed S3 requests", READY_LIMIT, || async {
                s3::Bucket::list_buckets(s3.region(), s3.credentials())
                    .await
                    .is_ok()
            })
            .await;
        s3
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn region(&self) -> s3::Region {
        s3::Region::Custom {
            region: Self::REGION.to_owned(),
            endpoint: self.endpoint(),
        }
    }

    fn credentials(&self) -> s3::creds::Credentials {
        s3::creds::Credentials::new(
            Some(&self.access_key),
            Some(&self.secret_key),
            None,
            None,
            None,
        )
        .expect("credentials")
    }

    /// A client bucket handle (path-style, as the app uses), for checks from the tests.
    pub fn bucket(&self, name: &str) -> Box<s3::Bucket> {
        s3::Bucket::new(name, self.region(), self.credentials())
            .expect("bucket")
            .with_path_style()
    }
}

/// The compose stack's mail catcher (Mailpit, or its local stand-in with the same API):
/// SMTP on 1025, the messages on `/api/v1/...` at 8025.
pub struct MailCatcher {
    pub container: Container,
    /// Published ports on 127.0.0.1.
    pub smtp_port: u16,
    pub http_port: u16,
}

/// A message as the catcher received it over SMTP.
#[derive(Clone, Debug)]
pub struct Mail {
    pub id: String,
    pub to: Vec<String>,
    pub subject: String,
    text: String,
    pub html: String,
}

impl Mail {
    /// The plain-text body, decoded.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl MailCatcher {
    async fn start(network: &Network, name: &str) -> MailCatcher {
        let container = Run::new(Image::Mail.reference(), format!("{name}-mail"))
            .network(network, Some(network.ip(MAIL_IP)))
            .publish(1025, None)
            .publish(8025, None)
            // Both keep 500 messages by default; a test run sends more.
            .env("MP_MAX_MESSAGES", "100000")
            .env("MAILCATCHER_MAX_MESSAGES", "100000")
            .hint(Image::Mail.hint())
            .start()
            .await;
        let smtp_port = container.host_port(1025).await;
        let http_port = container.host_port(8025).await;
        let mail = MailCatcher {
            container,
            smtp_port,
            http_port,
        };
        mail.container
            .wait_until(
                "accepting mail and serving its API",
                READY_LIMIT,
                || async { mail.smtp_greets().await && mail.get("/livez", &[]).await.is_ok() },
            )
            .await;
        mail
    }

    /// The inbox and its API, for people and scripts.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    async fn smtp_greets(&self) -> bool {
        let attempt = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.smtp_port)).await?;
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await?;
            stream.write_all(b"QUIT\r\n").await?;
            Ok::<_, std::io::Error>(&buf == b"220 ")
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), attempt).await,
            Ok(Ok(true))
        )
    }

    /// GET on the API. A client per call: a client outlives neither the runtime of the
    /// test that made it nor its connections.
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<String, String> {
        let url = format!("{}{path}", self.url());
        let response = reqwest::Client::new()
            .get(&url)
            .query(query)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("GET {url}: {status} {body}"))
        }
    }

    async fn get_json(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let body = self
            .get(path, query)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// Every message received so far for `address` (exact, case-insensitive), oldest first.
    pub async fn mails_to(&self, address: &str) -> Vec<Mail> {
        let query = format!("to:\"{}\"", address.to_ascii_lowercase());
        let found = self
            .get_json("/api/v1/search", &[("query", &query), ("limit", "1000")])
            .await;
        let wanted = address.to_ascii_lowercase();
        let mut mails = Vec::new();
        // Newest first in the answer.
        for summary in found["messages"].as_array().into_iter().flatten().rev() {
            let to = addresses(&summary["To"]);
            if !to.iter().any(|a| a.to_ascii_lowercase() == wanted) {
                continue; // the search matches substrings
            }
            let id = summary["ID"].as_str().expect("message ID").to_owned();
            let message = self.get_json(&format!("/api/v1/message/{id}"), &[]).await;
            mails.push(Mail {
                id,
                to,
                subject: message["Subject"].as_str().unwrap_or_default().to_owned(),
                text: message["Text"].as_str().unwrap_or_default().to_owned(),
                html: message["HTML"].as_str().unwrap_or_default().to_owned(),
            });
        }
        mails
    }

    /// Waits up to `limit` for at least `count` messages to `address` (the app may send
    /// in the background after answering); returns what arrived.
    pub async fn wait_for_mails(&self, address: &str, count: usize, limit: Duration) -> Vec<Mail> {
        let started = std::time::Instant::now();
        loop {
            let mails = self.mails_to(address).await;
            if mails.len() >= count || started.elapsed() > limit {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn addresses(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["Address"].as_str().map(str::to_owned))
        .collect()
}
