//! Liveness and readiness probes.

use std::time::Duration;

use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::json;

use super::problem::{self, SERVICE_UNAVAILABLE};
use crate::startup::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_millis(1000);

/// Liveness: the process is up and serving. Never touches dependencies, so
/// a database outage does not get every pod restarted.
#[handler]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: Postgres answers `SELECT 1` and Redis answers `PING`, each
/// within a second; 503 as soon as shutdown has started so load balancers
/// stop sending new requests. With `http.readiness_requires_redis = false`
/// a Redis outage is reported in `checks` but does not fail the probe: the
/// app serves without Redis, and failing would empty the Service.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    if state.shutdown.is_triggered() {
        return unavailable("shutting down", json!({}));
    }
    let (pg, redis) = tokio::join!(check_postgres(&state), state.kv.ping());
    if let Err(e) = &pg {
        tracing::warn!(error = %e, "readiness: Postgres check failed");
    }
    if let Err(e) = &redis {
        tracing::warn!(error = %e, "readiness: Redis check failed");
    }
    let (pg_ok, redis_ok) = (pg.is_ok(), redis.is_ok());
    let checks = json!({ "postgres": status(pg_ok), "redis": status(redis_ok) });
    if is_ready(
        pg_ok,
        redis_ok,
        state.settings.http.readiness_requires_redis,
    ) {
        Json(json!({ "status": "ready", "checks": checks })).into_response()
    } else {
        unavailable("a dependency is unavailable", checks)
    }
}

/// Postgres is always required; Redis only when configured so.
fn is_ready(pg_ok: bool, redis_ok: bool, requires_redis: bool) -> bool {
    pg_ok && (redis_ok || !requires_redis)
}

fn status(ok: bool) -> &'static str {
    if ok { "ok" } else { "unavailable" }
}

async fn check_postgres(state: &AppState) -> anyhow::Result<()> {
    tokio::time::timeout(CHECK_TIMEOUT, async {
        let conn = state.db.get().await?;
        conn.query_one("SELECT 1", &[]).await?;
        anyhow::Ok(())
    })
    .await
    .map_err(|_| anyhow::anyhow!("timed out"))?
}

fn unavailable(detail: &str, checks: serde_json::Value) -> Response {
    let problem = problem::Problem::new(&SERVICE_UNAVAILABLE, detail).details();
    let mut body = serde_json::to_value(&problem).unwrap_or_default();
    body["checks"] = checks;
    let mut resp = problem::problem_response(&problem);
    resp.set_body(body.to_string());
    resp
}

#[cfg(test)]
mod tests {
    use super::is_ready;

    #[test]
    fn redis_counts_only_when_required() {
        // (postgres, redis, requires_redis) -> ready
        for (pg, redis, requires, ready) in [
            (true, true, true, true),
            (true, false, true, false),
            (true, false, false, true),
            (true, true, false, true),
            (false, true, true, false),
            (false, true, false, false),
            (false, false, false, false),
        ] {
            assert_eq!(
                is_ready(pg, redis, requires),
                ready,
                "{pg} {redis} {requires}"
            );
        }
    }
}
