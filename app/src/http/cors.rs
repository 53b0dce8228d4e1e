//! CORS for `/api` (`BLOG_HTTP__CORS_ALLOWED_ORIGINS`): off unless origins are
//! listed. Pages from a listed origin may call the API with a bearer token;
//! no cookies are involved, so credentials are never allowed. Nothing is
//! refused here: a browser enforces CORS, the server only grants it (a
//! preflight from another origin gets the API's usual 405 without grants).

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Request, Response};

use crate::config::origins::Origins;

/// The methods the API uses.
const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// The request headers a client of the API sends beyond the safelisted ones.
const REQUEST_HEADERS: &str = "authorization, content-type, if-none-match, x-request-id";
/// The response headers a script may read beyond the safelisted ones.
const EXPOSED: &str = "etag, location, retry-after, www-authenticate, x-request-id";
/// How long a browser may reuse a preflight answer (seconds).
const MAX_AGE: &str = "600";

/// The request's `Origin` when it is allowed.
pub fn allowed_origin(req: &Request, origins: &Origins) -> Option<HeaderValue> {
    let origin = req.headers().get(header::ORIGIN)?;
    origins
        .allows(origin.to_str().ok()?)
        .then(|| origin.clone())
}

/// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`)
/// from an allowed origin for a method the API uses; `None` for anything
/// else, which goes on to the routes.
pub fn preflight(req: &Request, origin: Option<&HeaderValue>) -> Option<Response> {
    let origin = origin?;
    if req.method() != Method::OPTIONS {
        return None;
    }
    let requested = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
        .to_str()
        .ok()?;
    if !METHODS.split(", ").any(|m| m == requested) {
        return None;
    }
    Some(
        Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone())
            .header(header::ACCESS_CONTROL_ALLOW_METHODS, METHODS)
            .header(header::ACCESS_CONTROL_ALLOW_HEADERS, REQUEST_HEADERS)
            .header(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE)
            .header(
                header::VARY,
                "origin, access-control-request-method, access-control-request-headers",
            )
            .finish(),
    )
}

/// Grants an allowed origin the answer; every API answer varies by origin
/// while CORS is on (a shared cache must not hand one origin's grant to
/// another).
pub fn decorate(resp: &mut Response, origin: Option<HeaderValue>) {
    let headers = resp.headers_mut();
    // Appended, not inserted: the answer may already vary by something else
    // (`Accept-Encoding` from compression).
    let varies_by_origin = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|f| f.trim().eq_ignore_ascii_case("origin"))
        })
    });
    if !varies_by_origin {
        headers.append(header::VARY, HeaderValue::from_static("origin"));
    }
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
}
