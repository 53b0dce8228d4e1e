//! Query plans in tests: EXPLAIN ANALYZE of the statements the app runs,
//! and what a keyset page may read.

use chrono::{DateTime, Utc};
use tokio_postgres::{Client, SimpleQueryMessage};

/// Which plan of a prepared statement to explain. Postgres plans a prepared
/// statement's first five executions for their values (custom plans), then
/// keeps one plan for any values (the generic plan) if it looks no dearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Custom,
    Generic,
}

impl Plan {
    pub const BOTH: [Plan; 2] = [Plan::Custom, Plan::Generic];
}

/// `EXPLAIN (ANALYZE, COSTS OFF)` of `statement` run as a prepared statement
/// with `args` (SQL literals for `$1`, `$2`, …) under `plan`, as text.
///
/// Through `PREPARE` and `EXPLAIN EXECUTE`, not a parameterised `EXPLAIN`:
/// Postgres plans the statement inside a parameterised `EXPLAIN` for the
/// values bound to it, a custom plan whatever `plan_cache_mode` says, so the
/// generic plan the app's statements end up with would never be seen.
pub async fn explain(db: &Client, statement: &str, args: &[&str], plan: Plan) -> String {
    let mode = match plan {
        Plan::Custom => "force_custom_plan",
        Plan::Generic => "force_generic_plan",
    };
    db.batch_execute(&format!(
        "SET plan_cache_mode = {mode}; PREPARE plan_probe AS {statement}"
    ))
    .await
    .unwrap();
    let messages = db
        .simple_query(&format!(
            "EXPLAIN (ANALYZE, COSTS OFF) EXECUTE plan_probe({})",
            args.join(", ")
        ))
        .await
        .unwrap();
    db.batch_execute("DEALLOCATE plan_probe; RESET plan_cache_mode")
        .await
        .unwrap();
    let lines: Vec<&str> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .collect();
    lines.join("\n")
}

/// `at` as a SQL literal for [`explain`]'s `args`.
pub fn at(at: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", at.to_rfc3339())
}

/// Asserts that `plan` reads one page of `scan` (e.g. `using <index> on
/// posts`): at most `max_rows` index rows, no sequential scan of `table`, and
/// no sort but of one post's tags (at most ten rows, `ORDER BY x.position`
/// in the tags sub-select).
pub fn assert_one_page(label: &str, plan: &str, scan: &str, table: &str, max_rows: f64) {
    let line = plan
        .lines()
        .find(|l| l.contains(scan))
        .unwrap_or_else(|| panic!("{label} does not read {scan}:\n{plan}"));
    let read: f64 = line
        .split("rows=")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no row count in {line:?}"));
    assert!(
        read <= max_rows,
        "{label} read {read} rows of its index:\n{plan}"
    );
    assert!(
        !plan.contains(&format!("Seq Scan on {table}")),
        "{label}:\n{plan}"
    );
    assert!(
        !plan
            .lines()
            .any(|l| l.contains("Sort Key") && !l.contains("x.\"position\"")),
        "{label} sorts:\n{plan}"
    );
}
