//! `GET /metrics`: Prometheus text exposition.

use poem::web::Data;
use poem::{IntoResponse, Response, handler};

use crate::startup::AppState;

#[handler]
pub async fn metrics(state: Data<&AppState>) -> Response {
    // Pool gauges are sampled at scrape time rather than kept up to date.
    let status = state.db.status();
    let m = &state.metrics;
    m.db_pool_size.set(status.size as i64);
    m.db_pool_available.set(status.available as i64);
    m.db_pool_waiting.set(status.waiting as i64);
    m.render()
        .with_content_type("text/plain; version=0.0.4; charset=utf-8")
        .into_response()
}
