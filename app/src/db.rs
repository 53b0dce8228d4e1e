//! Postgres: the connection pool, the embedded migrations, and [`DbError`],
//! what every repository function returns.

use std::sync::Arc;

use anyhow::Context as _;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseSettings, ExposeSecret as _, Settings, SslMode};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A failed database call, named after the statement that failed so that a
/// logged error says what was being done ("insert user: db error: …").
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Postgres is down, restarting, out of connections, or took longer than
    /// the statement timeout; the pool waited longer than its wait timeout.
    #[error("{op}: the database is unavailable: {source}")]
    Unavailable {
        op: &'static str,
        #[source]
        source: anyhow::Error,
    },
    /// A unique index refused the row; `constraint` names the index, so the
    /// caller can tell which value was taken.
    #[error("{op}: duplicate value for {constraint}")]
    Unique {
        op: &'static str,
        constraint: String,
    },
    /// Anything else: a bug (bad SQL, a row that does not decode) or data
    /// the domain rules should have refused.
    #[error("{op}: {source}")]
    Other {
        op: &'static str,
        #[source]
        source: anyhow::Error,
    },
}

impl DbError {
    pub fn from_postgres(op: &'static str, err: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let code = err.code().cloned();
        match code {
            Some(c) if c == SqlState::UNIQUE_VIOLATION => Self::Unique {
                op,
                constraint: err
                    .as_db_error()
                    .and_then(|db| db.constraint())
                    .unwrap_or_default()
                    .to_owned(),
            },
            Some(c)
                if c == SqlState::QUERY_CANCELED
                    || c == SqlState::ADMIN_SHUTDOWN
                    || c == SqlState::CRASH_SHUTDOWN
                    || c == SqlState::CANNOT_CONNECT_NOW
                    || c == SqlState::TOO_MANY_CONNECTIONS =>
            {
                Self::Unavailable {
                    op,
                    source: err.into(),
                }
            }
            // No SQLSTATE and a closed connection: the server went away.
            None if err.is_closed() => Self::Unavailable {
                op,
                source: err.into(),
            },
            _ => Self::Other {
                op,
                source: err.into(),
            },
        }
    }

    pub fn from_pool(op: &'static str, err: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match err {
            PoolError::Timeout(_) | PoolError::Closed => Self::Unavailable {
                op,
                source: err.into(),
            },
            PoolError::Backend(e) => match Self::from_postgres(op, e) {
                // A connection that cannot even be made is an outage.
                Self::Other { op, source } => Self::Unavailable { op, source },
                other => other,
            },
            other => Self::Other {
                op,
                source: anyhow::anyhow!("pool error: {other}"),
            },
        }
    }

    /// The unique index that refused a row, if that is what happened.
    pub fn unique_constraint(&self) -> Option<&str> {
        match self {
            Self::Unique { constraint, .. } => Some(constraint),
            _ => None,
        }
    }
}

impl From<DbError> for crate::error::Failure {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable { .. } => Self::Unavailable(err.into()),
            DbError::Unique { .. } | DbError::Other { .. } => Self::Internal(err.into()),
        }
    }
}

/// `.op("insert user")` names a failed statement (see [`DbError`]).
pub trait Op<T> {
    fn op(self, op: &'static str) -> Result<T, DbError>;
}

impl<T> Op<T> for Result<T, tokio_postgres::Error> {
    fn op(self, op: &'static str) -> Result<T, DbError> {
        self.map_err(|e| DbError::from_postgres(op, e))
    }
}

impl<T> Op<T> for Result<T, deadpool_postgres::PoolError> {
    fn op(self, op: &'static str) -> Result<T, DbError> {
        self.map_err(|e| DbError::from_pool(op, e))
    }
}

/// A type read from a row by column name, never by position.
pub trait FromRow: Sized {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, tokio_postgres::Error>;
}

/// A row's `id` column alone.
pub struct Id(pub i64);

impl FromRow for Id {
    fn from_row(row: &tokio_postgres::Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self(row.try_get("id")?))
    }
}

/// Reads every row of `rows` as `T`.
pub fn from_rows<T: FromRow>(
    op: &'static str,
    rows: &[tokio_postgres::Row],
) -> Result<Vec<T>, DbError> {
    rows.iter()
        .map(T::from_row)
        .collect::<Result<_, _>>()
        .op(op)
}

/// Runs a cached prepared statement (prepared once per pooled connection)
/// and maps every returned row.
pub async fn query<T: FromRow>(
    client: &impl deadpool_postgres::GenericClient,
    op: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<T>, DbError> {
    let statement = client.prepare_cached(sql).await.op(op)?;
    let rows = client.query(&statement, params).await.op(op)?;
    from_rows(op, &rows)
}

/// Like [`query`] for at most one row.
pub async fn query_opt<T: FromRow>(
    client: &impl deadpool_postgres::GenericClient,
    op: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<T>, DbError> {
    let statement = client.prepare_cached(sql).await.op(op)?;
    match client.query_opt(&statement, params).await.op(op)? {
        Some(row) => T::from_row(&row).op(op).map(Some),
        None => Ok(None),
    }
}

/// Like [`query`] for exactly one row.
pub async fn query_one<T: FromRow>(
    client: &impl deadpool_postgres::GenericClient,
    op: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<T, DbError> {
    let statement = client.prepare_cached(sql).await.op(op)?;
    let row = client.query_one(&statement, params).await.op(op)?;
    T::from_row(&row).op(op)
}

/// A statement without rows; the number of rows it changed.
pub async fn execute(
    client: &impl deadpool_postgres::GenericClient,
    op: &'static str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<u64, DbError> {
    let statement = client.prepare_cached(sql).await.op(op)?;
    client.execute(&statement, params).await.op(op)
}

/// A pooled connection, or [`DbError::Unavailable`] when none comes in time.
pub async fn connect(pool: &Pool, op: &'static str) -> Result<deadpool_postgres::Object, DbError> {
    pool.get().await.op(op)
}

/// Key of the session-level advisory lock held while migrating, so that
/// replicas starting together apply migrations one at a time. Arbitrary but
/// fixed: the ASCII of "blogmigr".
pub const MIGRATION_LOCK_KEY: i64 = 0x626c_6f67_6d69_6772;

fn pg_config(db: &DatabaseSettings, statement_timeout: bool) -> tokio_postgres::Config {
    let mut cfg = tokio_postgres::Config::new();
    cfg.host(&db.host)
        .port(db.port)
        .dbname(&db.name)
        .user(&db.user)
        .application_name("blog")
        .connect_timeout(db.connect_timeout_ms.get())
        .ssl_mode(match db.ssl_mode {
            // `prefer` goes with `NoTls` below, which makes it plain text.
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require => tokio_postgres::config::SslMode::Require,
        });
    if let Some(password) = &db.password {
        cfg.password(password.expose_secret());
    }
    if statement_timeout {
        // Server-side bound on every statement: a slow query turns into a 503
        // instead of holding a pooled connection indefinitely.
        //
        // `plan_cache_mode` stays `auto`: the list statements carry their
        // page size as a literal (posts::repository::sql), so their generic
        // plan is estimated for a page and Postgres keeps it from the sixth
        // execution on. Forcing generic plans on every statement instead made
        // the uncached list 8.7 req/s at 1M posts when it still said
        // `LIMIT $n` (bench/RESULTS.md, 2026-12-02).
        //
        // No JIT: Postgres compiles a statement whose estimated cost is over
        // `jit_above_cost` on every execution, and the estimate is not what
        // runs. The `LIMIT $n` list at 1M posts was estimated at 700k (a
        // tenth of the table) and read 7 rows in 0.15 ms after 195 ms of
        // compiling; the tag counts took 368 ms with it, 212 without. Every
        // statement here reads a page or a key: none runs long enough for
        // compiled expressions to pay back.
        cfg.options(format!(
            "-c statement_timeout={} -c jit=off",
            db.statement_timeout_ms.units()
        ));
    }
    cfg
}

/// Builds the pool. It connects lazily: nothing is dialled until the first
/// `get()`, so this never fails because Postgres is down.
pub fn pool(db: &DatabaseSettings) -> anyhow::Result<Pool> {
    let config = ManagerConfig {
        // `Fast` trusts a connection that has not reported an error;
        // broken ones are detected on use and dropped.
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match tls(db)? {
        Some(tls) => Manager::from_config(pg_config(db, true), tls, config),
        None => Manager::from_config(pg_config(db, true), NoTls, config),
    };
    Pool::builder(manager)
        .max_size(db.pool_max_size.as_usize())
        .wait_timeout(Some(db.pool_wait_timeout_ms.get()))
        .create_timeout(Some(db.connect_timeout_ms.get()))
        .recycle_timeout(Some(db.connect_timeout_ms.get()))
        .runtime(Runtime::Tokio1)
        .build()
        .context("building the Postgres pool")
}

/// Applies the embedded migrations under a Postgres advisory lock on one
/// dedicated connection: concurrent callers (replicas starting together)
/// wait for the first to finish, then find nothing left to do.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = &settings.database;
    let cfg = pg_config(db, false);
    let connected = match tls(db)? {
        Some(tls) => cfg
            .connect(tls)
            .await
            .map(|(c, conn)| (c, spawn_connection(conn))),
        None => cfg
            .connect(NoTls)
            .await
            .map(|(c, conn)| (c, spawn_connection(conn))),
    };
    let (mut client, conn_task) = connected.with_context(|| {
        format!(
            "connecting to Postgres at {}:{}/{}",
            db.host, db.port, db.name
        )
    })?;

    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .context("taking the migration advisory lock")?;
    let result = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .context("applying migrations");
    // Released explicitly so the lock does not outlive a failed run; closing
    // the connection would release it too.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    drop(client);
    let _ = conn_task.await;

    let report = result?;
    for m in report.applied_migrations() {
        tracing::info!(version = m.version(), name = m.name(), "applied migration");
    }
    unlock.context("releasing the migration advisory lock")?;
    Ok(())
}

fn spawn_connection<S, T>(
    connection: tokio_postgres::Connection<S, T>,
) -> tokio::task::JoinHandle<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection closed with an error");
        }
    })
}

/// The TLS connector for `ssl_mode = require`, verifying the server against
/// `ssl_root_cert` or the system roots; `None` for plain connections.
fn tls(db: &DatabaseSettings) -> anyhow::Result<Option<MakeRustlsConnect>> {
    if db.ssl_mode != SslMode::Require {
        return Ok(None);
    }
    let mut roots = rustls::RootCertStore::empty();
    match &db.ssl_root_cert {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("BLOG_DATABASE__SSL_ROOT_CERT: cannot read {path}"))?
            {
                let cert = cert
                    .with_context(|| format!("BLOG_DATABASE__SSL_ROOT_CERT: bad PEM in {path}"))?;
                roots.add(cert).with_context(|| {
                    format!("BLOG_DATABASE__SSL_ROOT_CERT: bad certificate in {path}")
                })?;
            }
        }
        None => {
            // Unreadable individual system certificates are skipped, as
            // every TLS client does.
            let (added, _) =
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            tracing::debug!(added, "loaded system root certificates for Postgres TLS");
        }
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "BLOG_DATABASE__SSL_MODE=require but no root certificate was found (set BLOG_DATABASE__SSL_ROOT_CERT)"
    );
    rustls_connector(roots).map(Some)
}

/// TLS to another Postgres (the Django original's, for `blog
/// import-django`), verified against the system roots.
pub fn native_roots_tls() -> anyhow::Result<MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    anyhow::ensure!(!roots.is_empty(), "no system root certificate was found");
    rustls_connector(roots)
}

fn rustls_connector(roots: rustls::RootCertStore) -> anyhow::Result<MakeRustlsConnect> {
    // Explicit provider: both ring and aws-lc-rs are in the dependency tree,
    // and rustls refuses to guess between them.
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("configuring TLS for Postgres")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Names and versions of the embedded migrations (for tests and `--help`).
pub fn embedded_migrations() -> Vec<(i32, String)> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| (m.version(), m.name().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_initial_migration_is_embedded() {
        let migrations = embedded_migrations();
        assert_eq!(migrations.first(), Some(&(1, "initial".to_owned())));
    }

    #[test]
    fn pool_creation_does_not_dial() {
        let db = DatabaseSettings {
            host: "203.0.113.1".into(), // TEST-NET-3: would hang if dialled
            pool_max_size: crate::config::units::Count::of(3),
            ..DatabaseSettings::default()
        };
        let pool = pool(&db).unwrap();
        assert_eq!(pool.status().max_size, 3);
        assert_eq!(pool.status().size, 0);
    }
}
