//! Query plans in tests: EXPLAIN ANALYZE of the statements the app runs,
//! and what a keyset page may read.

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

/// `EXPLAIN (ANALYZE, COSTS OFF)` of `statement` with `params`, as text.
pub async fn explain(db: &Client, statement: &str, params: &[&(dyn ToSql + Sync)]) -> String {
    let explain = db
        .prepare(&format!("EXPLAIN (ANALYZE, COSTS OFF) {statement}"))
        .await
        .unwrap();
    let lines: Vec<String> = db
        .query(&explain, params)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    lines.join("\n")
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
