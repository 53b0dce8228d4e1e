//! The HTTP surface: routes, OpenAPI document, and the middleware every
//! request goes through.

pub mod accounts;
pub mod allow;
pub mod auth;
pub mod client_ip;
pub mod comments;
pub mod compression;
pub mod conditional;
pub mod cors;
pub mod health;
pub mod media;
pub mod metrics;
pub mod moderation;
pub mod nullable;
pub mod posts;
pub mod problem;
pub mod rendered;
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
    /// Readers' comments on posts.
    Comments,
    /// Staff actions (unpublishing posts, deactivating accounts) and their log.
    Moderation,
}

/// The request id, reused from `X-Request-Id` when the caller sent a sane
/// one, generated otherwise. Available to handlers as request data.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The API and its OpenAPI document. The server URL is relative so the
/// document (and `/docs`) work behind any host name or proxy.
pub type Api = OpenApiService<
    (
        posts::PostsApi,
        comments::CommentsApi,
        accounts::AccountsApi,
        moderation::ModerationApi,
    ),
    (),
>;

pub fn openapi_service() -> Api {
    OpenApiService::new(
        (
            posts::PostsApi,
            comments::CommentsApi,
            accounts::AccountsApi,
            moderation::ModerationApi,
        ),
        "Blog API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A blog: accounts with avatars and password reset, and posts. \
         The website is at `/`, this API at `/api`, these docs at `/docs`. \
         Errors are RFC 9457 `application/problem+json` documents with a stable `code`; \
         each operation lists the answers it can give, with an example per code. \
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
fn with_spec_routes(routes: Route, json: String, docs: String) -> Route {
    let yaml = serde_json::from_str::<serde_json::Value>(&json)
        .ok()
        .and_then(|v| serde_yaml::to_string(&v).ok())
        .unwrap_or_default();
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

/// Whether the request's `Cookie` headers carry a cookie called `name`
/// (whatever its value). The cookie jar is not parsed yet where this is
/// asked.
fn has_cookie(headers: &poem::http::HeaderMap, name: &str) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim().split_once('=').is_some_and(|(n, _)| n == name))
}

/// The whole application as one endpoint.
pub fn app(state: AppState) -> impl Endpoint<Output = Response> {
    let api = openapi_service();
    let raw_spec = api.spec();
    let spec = problem::finish_spec(&raw_spec);
    // Swagger UI embeds the document; swap poem-openapi's for ours.
    let docs_html = api.swagger_ui_html().replace(&raw_spec, &spec);
    // Routes outside the OpenAPI document, for the `Allow` of their 405s;
    // keep in step with the table below (the site keeps its own table).
    // `/metrics` is here only when it has no port of its own.
    let metrics_here = state.settings.http.metrics_port.get() == 0;
    let mut plain: Vec<(&str, &[Method])> = vec![
        ("/healthz", &[Method::GET]),
        ("/readyz", &[Method::GET]),
        ("/api/openapi.json", &[Method::GET]),
        ("/api/openapi.yaml", &[Method::GET]),
        ("/docs", &[Method::GET]),
        ("/media/avatars/*key", &[Method::GET]),
    ];
    if metrics_here {
        plain.push(("/metrics", &[Method::GET]));
    }
    plain.extend_from_slice(crate::site::ROUTES);
    let allow = std::sync::Arc::new(allow::AllowTable::new(&spec, "/api", &plain));
    let docs_csp = std::sync::Arc::new(docs_csp(&docs_html));

    let mut routes = Route::new()
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz));
    if metrics_here {
        routes = routes.at("/metrics", get(metrics::metrics));
    }
    let routes = with_spec_routes(routes, spec.clone(), docs_html)
        .nest("/media", media::routes())
        .nest("/api", api);
    let routes = crate::site::add_routes(routes);

    let documented = std::sync::Arc::new(allow::DocumentedStatuses::new(&spec, "/api"));
    let metrics = state.metrics.clone();
    let max_body = state.settings.http.max_body_bytes.as_usize();
    let max_avatar = state.settings.avatars.max_bytes.as_usize();
    let https = state.site.https;
    let cors = std::sync::Arc::new(state.settings.http.cors_allowed_origins.clone());
    let session_cookie = state.site.cookies.session;
    routes
        .with(poem::middleware::CookieJarManager::new())
        .with(CatchPanic::new().with_handler(panic_response))
        .data(state)
        .around(move |next, mut req| {
            let metrics = metrics.clone();
            let allow = allow.clone();
            let documented = documented.clone();
            let docs_csp = docs_csp.clone();
            let cors = cors.clone();
            async move {
                let accept = req
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let accept_encoding = req
                    .headers()
                    .get(header::ACCEPT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
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
                // A signed-in user may have written on another replica a
                // moment ago: their reads skip the replica's copy of the
                // cache generation (see `cache`).
                let signed_in = req.headers().contains_key(header::AUTHORIZATION)
                    || has_cookie(req.headers(), session_cookie);
                let cors_on = !cors.is_empty() && is_api_path(&path);
                let origin = cors_on.then(|| cors::allowed_origin(&req, &cors)).flatten();
                let preflight = cors_on
                    .then(|| cors::preflight(&req, origin.as_ref()))
                    .flatten();
                // Avatars arrive as multipart bodies bigger than JSON ones.
                let limit = if req.uri().path().starts_with("/api/me/avatar")
                    || req.uri().path() == "/profile/"
                {
                    max_avatar + 64 * 1024
                } else {
                    max_body
                };
                let result = async move {
                    if let Some(answer) = preflight {
                        return answer;
                    }
                    if let Some(refused) = limit_body(&mut req, limit).await {
                        return refused;
                    }
                    match next.call(req).await {
                        Ok(resp) => resp,
                        Err(err) => into_problem(err),
                    }
                }
                .instrument(span.clone());
                let result = crate::cache::reading_own_writes(signed_in, result).await;

                let mut resp = result;
                if cors_on {
                    cors::decorate(&mut resp, origin);
                }
                if resp.status() == StatusCode::METHOD_NOT_ALLOWED
                    && !resp.headers().contains_key(header::ALLOW)
                    && let Some(value) = allow.lookup(&path)
                {
                    resp.headers_mut().insert(header::ALLOW, value.clone());
                }
                // Outside the API a browser gets pages, not problem
                // documents, for the errors nothing else rendered (unknown
                // addresses, refused methods and bodies). The API never
                // answers HTML, whatever `Accept` says.
                if !is_api_path(&path)
                    && resp.content_type() == Some(problem::PROBLEM_JSON)
                    && crate::site::wants_html(accept.as_deref())
                {
                    let page = crate::site::plain_error_page(resp.status().as_u16());
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    resp.headers_mut().remove(header::CONTENT_LENGTH);
                    resp.set_body(page);
                }
                let docs = path == "/docs" || path == "/docs/";
                crate::site::security_headers(&mut resp, https, docs.then_some(docs_csp.as_str()));
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
                // Last: everything above reads or sets headers, not the body.
                if is_api_path(&path) {
                    resp = compression::compress(accept_encoding.as_deref(), resp).await;
                }
                Ok::<_, poem::Error>(resp)
            }
        })
}

/// `/metrics` alone, for its own port (`http.metrics_port`): whatever can
/// reach the API cannot read it, and scrapers need no route to the API.
pub fn metrics_app(state: AppState) -> impl Endpoint<Output = Response> {
    Route::new()
        .at("/metrics", get(metrics::metrics))
        .data(state)
        .catch_all_error(|err| async move { into_problem(err) })
}

fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The Swagger UI page's CSP: its inline script and styles by hash (no
/// `unsafe-inline`), everything else from this origin only.
fn docs_csp(html: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};
    let hashes = |tag: &str| -> Vec<String> {
        let open = format!("<{tag}");
        let close = format!("</{tag}>");
        let mut out = Vec::new();
        let mut rest = html;
        while let Some(start) = rest.find(&open) {
            let after = &rest[start..];
            let Some(body_start) = after.find('>') else {
                break;
            };
            let Some(end) = after.find(&close) else { break };
            let body = &after[body_start + 1..end];
            let digest = Sha256::digest(body.as_bytes());
            out.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
            rest = &after[end + close.len()..];
        }
        out
    };
    format!(
        "default-src 'none'; script-src {}; style-src 'self' {}; img-src 'self' data:; \
         connect-src 'self'; font-src 'self' data:; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        hashes("script").join(" "),
        hashes("style").join(" ")
    )
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
/// `limit + 1` bytes, so an endless stream can't exhaust memory. Either way
/// the rest of a refused body is read and thrown away first (bounded, see
/// [`drain`]), so the answer reaches the client and the connection stays
/// usable.
async fn limit_body(req: &mut Request, limit: usize) -> Option<Response> {
    let too_large = |len: String, drained: bool| {
        let mut resp = problem::simple(
            &PAYLOAD_TOO_LARGE,
            format!("request body is {len} bytes; the limit is {limit}"),
        );
        if !drained {
            // The unread rest makes the connection unusable: say so.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Some(resp)
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => {
            let drained = len <= DRAIN_MAX_BYTES && drain(req.take_body()).await;
            too_large(len.to_string(), drained)
        }
        Some(_) => None,
        None => {
            let mut body = req.take_body().into_async_read();
            let mut buf = Vec::new();
            let read = (&mut body)
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
                let drained = drain(Body::from_async_read(body)).await;
                return too_large(format!("more than {limit}"), drained);
            }
            req.set_body(Body::from(buf));
            None
        }
    }
}

/// The most of a refused body [`drain`] reads: above the largest body any
/// proxy in front is configured to pass (the compose proxy's 8 MiB, the
/// Ingress' avatar limit plus slack), so a proxy never meets a closed
/// connection while it is still sending. A client sending more directly to a
/// replica gets its 413 and a closed connection.
const DRAIN_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// How long [`drain`] waits for the rest of a refused body: a slow sender
/// cannot hold a worker longer than this.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and discards the rest of a refused body, at most
/// [`DRAIN_MAX_BYTES`] within [`DRAIN_TIMEOUT`]; true when it all came.
///
/// Why: answering 413 and closing while the peer is still sending makes
/// the kernel reset the connection, and a reverse proxy that sees the reset
/// before the answer turns the 413 into a 502 and marks the replica down
/// (issue 13, item 10: 31 of 60 oversized uploads through nginx).
async fn drain(body: Body) -> bool {
    let mut rest = body.into_async_read().take(DRAIN_MAX_BYTES + 1);
    match tokio::time::timeout(
        DRAIN_TIMEOUT,
        tokio::io::copy(&mut rest, &mut tokio::io::sink()),
    )
    .await
    {
        Ok(Ok(read)) => read <= DRAIN_MAX_BYTES,
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_by_its_exact_name_in_any_cookie_header() {
        let mut headers = poem::http::HeaderMap::new();
        assert!(!has_cookie(&headers, "session"));
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; sessionx=2"));
        assert!(!has_cookie(&headers, "session"), "a longer name");
        headers.append(header::COOKIE, HeaderValue::from_static("b=3;session=tok"));
        assert!(has_cookie(&headers, "session"));
        assert!(!has_cookie(&headers, "tok"), "a value is not a name");
    }
}
