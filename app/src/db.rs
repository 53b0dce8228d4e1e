//! Postgres: the connection pool and the embedded migrations.

use std::time::Duration;

use anyhow::Context as _;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::{DatabaseSettings, Settings, SslMode};

mod embedded {
    refinery::embed_migrations!("migrations");
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
        .connect_timeout(Duration::from_millis(db.connect_timeout_ms))
        .ssl_mode(match db.ssl_mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            // `require` is refused by config validation; `prefer` with NoTls
            // connects in plain text.
            SslMode::Prefer | SslMode::Require => tokio_postgres::config::SslMode::Prefer,
        });
    if let Some(password) = &db.password {
        cfg.password(password.expose());
    }
    if statement_timeout {
        // Server-side bound on every statement: a slow query turns into a 503
        // instead of holding a pooled connection indefinitely.
        cfg.options(format!("-c statement_timeout={}", db.statement_timeout_ms));
    }
    cfg
}

/// Builds the pool. It connects lazily: nothing is dialled until the first
/// `get()`, so this never fails because Postgres is down.
pub fn pool(db: &DatabaseSettings) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        pg_config(db, true),
        NoTls,
        ManagerConfig {
            // `Fast` trusts a connection that has not reported an error;
            // broken ones are detected on use and dropped.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(db.pool_max_size)
        .wait_timeout(Some(Duration::from_millis(db.pool_wait_timeout_ms)))
        .create_timeout(Some(Duration::from_millis(db.connect_timeout_ms)))
        .recycle_timeout(Some(Duration::from_millis(db.connect_timeout_ms)))
        .runtime(Runtime::Tokio1)
        .build()
        .context("building the Postgres pool")
}

/// Applies the embedded migrations under a Postgres advisory lock on one
/// dedicated connection: concurrent callers (replicas starting together)
/// wait for the first to finish, then find nothing left to do.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = &settings.database;
    let (mut client, connection) =
        pg_config(db, false).connect(NoTls).await.with_context(|| {
            format!(
                "connecting to Postgres at {}:{}/{}",
                db.host, db.port, db.name
            )
        })?;
    let conn_task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection closed with an error");
        }
    });

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
            pool_max_size: 3,
            ..DatabaseSettings::default()
        };
        let pool = pool(&db).unwrap();
        assert_eq!(pool.status().max_size, 3);
        assert_eq!(pool.status().size, 0);
    }
}
