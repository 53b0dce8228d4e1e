//! The HTTP surface: routes, OpenAPI document, and the middleware every
//! request goes through.

pub mod accounts;
pub mod allow;
pub mod auth;
pub mod client_ip;
pub mod health;
pub mod media;
pub mod metrics;
pub mod posts;
pub mod problem;
pub mod reset_page;
pub mod strict;

use std::time::Instant;

use poem::PathPattern;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::middleware::CatchPanic;
use poem::{Body, Endpoint, EndpointExt as _, IntoResponse as _, Request, Response, Route, get};
use poem_openapi::{OpenApiService, Tags};
use tokio::io::AsyncReadExt as _;
use tracing::Instrument as _;

use crate::startup::AppState;
use problem::{INTERNAL_ERROR, MALFORMED_BODY, PAYLOAD_TOO_LARGE, into_problem};

/// OpenAPI tags shared by all operation groups.
#[derive(Tags)]
pub enum ApiTags {
    /// Blog posts: public reads, author-only writes.
    Posts,
    /// Registration and public profiles.
    Users,
    /// Log-in and log-out (bearer tokens).
    Sessions,
    /// The authenticated user's own account.
    Me,
    /// Password reset by email.
    PasswordResets,
}

/// The request id, reused from `X-Request-Id` when the caller sent a sane
/// one, generated otherwise. Available to handlers as request data.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The API and its OpenAPI document. The server URL is relative so the
/// document (and `/docs`) work behind any host name or proxy.
pub type Api = OpenApiService<(posts::PostsApi, accounts::AccountsApi), ()>;

pub fn openapi_service() -> Api {
    OpenApiService::new(
        (posts::PostsApi, accounts::AccountsApi),
        "Blog API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A blog: accounts with avatars and password reset, and posts. \
         Errors are RFC 9457 `application/problem+json` documents with a stable `code`. \
         Authenticate with `Authorization: Bearer <token>` from `POST /api/sessions`.",
    )
    .server("/api")
}

/// The OpenAPI document as served: poem-openapi's, finished by
/// [`problem::finish_spec`].
pub fn openapi_json(api: &Api) -> String {
    problem::finish_spec(&api.spec())
}

/// `/api/openapi.json`, `/api/openapi.yaml` and the Swagger UI at `/docs`,
/// all showing the finished document.
fn with_spec_routes(routes: Route, api: &Api, json: String) -> Route {
    let yaml = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| serde_yaml::to_string(&v).ok())
        .unwrap_or_default();
    // Swagger UI embeds the document; swap poem-openapi's for ours.
    let docs = api.swagger_ui_html().replace(&api.spec(), &json);
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone()).into_response());
    let docs = std::sync::Arc::new(docs);
    routes
        .at(
            "/api/openapi.json",
            get(poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json")
                    .body(json.clone())
            })),
        )
        .at(
            "/api/openapi.yaml",
            get(poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/x-yaml")
                    .header("Content-Disposition", "inline; filename=\"openapi.yaml\"")
                    .body(yaml.clone())
            })),
        )
        .at("/docs", get(docs.clone()))
        .at("/docs/", get(docs))
}

/// The whole application as one endpoint.
pub fn app(state: AppState) -> impl Endpoint<Output = Response> {
    let api = openapi_service();
    let spec = openapi_json(&api);
    // Routes outside the OpenAPI document, for the `Allow` of their 405s;
    // keep in step with the table below.
    let allow = std::sync::Arc::new(allow::AllowTable::new(
        &spec,
        "/api",
        &[
            ("/healthz", &[Method::GET]),
            ("/readyz", &[Method::GET]),
            ("/metrics", &[Method::GET]),
            ("/api/openapi.json", &[Method::GET]),
            ("/api/openapi.yaml", &[Method::GET]),
            ("/media/avatars/*key", &[Method::GET]),
            ("/reset-password", &[Method::GET, Method::POST]),
        ],
    ));

    let routes = Route::new()
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .at("/metrics", get(metrics::metrics));
    let routes = with_spec_routes(routes, &api, spec.clone())
        .nest("/media", media::routes())
        .at(
            "/reset-password",
            get(reset_page::show).post(reset_page::submit),
        )
        .nest("/api", api);

    let documented = std::sync::Arc::new(allow::DocumentedStatuses::new(&spec, "/api"));
    let metrics = state.metrics.clone();
    let max_body = state.settings.http.max_body_bytes.as_usize();
    let max_avatar = state.settings.avatars.max_bytes.as_usize();
    routes
        .with(CatchPanic::new().with_handler(panic_response))
        .data(state)
        .around(move |next, mut req| {
            let metrics = metrics.clone();
            let allow = allow.clone();
            let documented = documented.clone();
            async move {
                let request_id = request_id(&req);
                req.set_data(RequestId(request_id.clone()));
                let method = req.method().clone();
                let path = req.uri().path().to_owned();
                let span = tracing::info_span!(
                    "request",
                    request_id = %request_id,
                    method = %method,
                    path = %req.uri().path(),
                );
                let started = Instant::now();
                // Avatars arrive as multipart bodies bigger than JSON ones.
                let limit = if req.uri().path().starts_with("/api/me/avatar") {
                    max_avatar + 64 * 1024
                } else {
                    max_body
                };
                let result = async move {
                    if let Some(refused) = limit_body(&mut req, limit).await {
                        return refused;
                    }
                    match next.call(req).await {
                        Ok(resp) => resp,
                        Err(err) => into_problem(err),
                    }
                }
                .instrument(span.clone())
                .await;

                let mut resp = result;
                if resp.status() == StatusCode::METHOD_NOT_ALLOWED
                    && !resp.headers().contains_key(header::ALLOW)
                    && let Some(value) = allow.lookup(&path)
                {
                    resp.headers_mut().insert(header::ALLOW, value.clone());
                }
                let status = resp.status();
                if documented.is_documented(&method, &path, status.as_u16()) == Some(false) {
                    metrics.http_undocumented_responses_total.inc();
                    span.in_scope(|| {
                        tracing::error!(
                            status = status.as_u16(),
                            "the OpenAPI document does not list this answer for the operation"
                        );
                    });
                }
                let route = resp
                    .data::<PathPattern>()
                    .map(|p| p.0.to_string())
                    .unwrap_or_else(|| "unmatched".into());
                let elapsed = started.elapsed();
                metrics
                    .http_requests_total
                    .with_label_values(&[method.as_str(), &route, status.as_str()])
                    .inc();
                metrics
                    .http_request_duration_seconds
                    .with_label_values(&[method.as_str(), &route])
                    .observe(elapsed.as_secs_f64());
                span.in_scope(|| {
                    tracing::info!(
                        status = status.as_u16(),
                        route = %route,
                        latency_ms = elapsed.as_secs_f64() * 1000.0,
                        "request finished"
                    );
                });
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    resp.headers_mut().insert(REQUEST_ID_HEADER, value);
                }
                Ok::<_, poem::Error>(resp)
            }
        })
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic message itself was already printed by the panic hook.
    tracing::error!("handler panicked");
    problem::simple(
        &INTERNAL_ERROR,
        "the server failed to handle this request; it has been logged",
    )
}

/// Refuses bodies over `limit` bytes with 413: at once when
/// `Content-Length` says so, otherwise (chunked) by buffering at most
/// `limit + 1` bytes, so an endless stream can't exhaust memory.
async fn limit_body(req: &mut Request, limit: usize) -> Option<Response> {
    let too_large = |len: String| {
        Some(problem::simple(
            &PAYLOAD_TOO_LARGE,
            format!("request body is {len} bytes; the limit is {limit}"),
        ))
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => too_large(len.to_string()),
        Some(_) => None,
        None => {
            let mut buf = Vec::new();
            let read = req
                .take_body()
                .into_async_read()
                .take(limit as u64 + 1)
                .read_to_end(&mut buf)
                .await;
            if let Err(e) = read {
                return Some(problem::simple(
                    &MALFORMED_BODY,
                    format!("failed to read the request body: {e}"),
                ));
            }
            if buf.len() > limit {
                return too_large(format!("more than {limit}"));
            }
            req.set_body(Body::from(buf));
            None
        }
    }
}

fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        // Echoed into logs and headers: accept only short, plain ids.
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut id = crate::tokens::generate();
            id.truncate(22);
            id
        })
}
