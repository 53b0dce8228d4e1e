//! One error type for the whole API, rendered as RFC 9457
//! `application/problem+json` with a stable machine-readable `code`.
//!
//! [`ApiError`] is what handlers and repositories return. It documents every
//! status it can produce in the OpenAPI; operations that want a precise list
//! return [`ApiErrors<MASK>`] instead (e.g. `ApiErrors<{ status::NOT_FOUND }>`),
//! which converts from `ApiError` with `?`. 500 and 503 are always listed
//! because any operation touching Postgres can produce them.
//!
//! poem's and poem-openapi's own errors (bad JSON, wrong content type, body
//! too big, unknown route…) are mapped to the same shape by [`into_problem`],
//! installed as a catch-all in `http::app`.

use std::fmt;

use poem::Response;
use poem::http::{HeaderValue, StatusCode, header};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Object)]
#[oai(rename = "Problem", example)]
pub struct ProblemDetails {
    /// Always `about:blank`: `code` identifies the problem.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub type_: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code, repeated for convenience.
    pub status: u16,
    /// Human-readable explanation specific to this occurrence.
    pub detail: String,
    /// Stable snake_case identifier clients can branch on, e.g. `validation_failed`.
    pub code: String,
    /// Per-field messages for `validation_failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<FieldError>>,
}

impl poem_openapi::types::Example for ProblemDetails {
    fn example() -> Self {
        ApiError::Validation(vec![FieldError::new("title", "must not be empty")]).to_problem()
    }
}

/// What is wrong with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, Object)]
pub struct FieldError {
    /// The field's name in the request body, e.g. `title`.
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: well-formed input that breaks a rule (title too long…).
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 400: input we cannot even parse (bad cursor, bad JSON…).
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// 409; `code` is `conflict` or something more specific like `username_taken`.
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests, retry in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// 503: a dependency (Postgres, S3, SMTP) is unavailable right now.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A 4xx whose `code` is more specific than the status's generic one
    /// (`invalid_credentials` 401, `invalid_reset_token` 400,
    /// `image_too_large` / `invalid_image` 422).
    #[error("{detail}")]
    Coded {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    /// 500: a bug or an unexpected failure. Logged, never shown to clients.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn not_found(what: impl fmt::Display) -> Self {
        Self::NotFound(format!("{what} not found"))
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Coded { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::Malformed(_) => "malformed_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict { code, .. } => code,
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServiceUnavailable(_) => "service_unavailable",
            Self::Coded { code, .. } => code,
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn to_problem(&self) -> ProblemDetails {
        let status = self.status();
        let detail = match self {
            Self::Validation(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            Self::Internal(_) => {
                "the server failed to handle this request; it has been logged".into()
            }
            other => other.to_string(),
        };
        ProblemDetails {
            type_: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail,
            code: self.code().into(),
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        if let Self::Internal(err) = self {
            // Inside the request span, so the log line carries the request id.
            tracing::error!(error = ?err, "request failed with an internal error");
        }
        let mut resp = problem_response(&self.to_problem());
        if let Self::RateLimited {
            retry_after_seconds,
        } = self
        {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        resp
    }
}

pub fn problem_response(problem: &ProblemDetails) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type(PROBLEM_JSON)
        .body(body)
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        match err.code() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => Self::Conflict {
                code: "conflict",
                detail: "a resource with these values already exists".into(),
            },
            // Input that slipped past the domain types; still the client's
            // fault, so 4xx rather than 500.
            Some(c)
                if *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::NOT_NULL_VIOLATION
                    || *c == SqlState::STRING_DATA_RIGHT_TRUNCATION =>
            {
                let field = err
                    .as_db_error()
                    .and_then(|db| db.column().or(db.constraint()))
                    .unwrap_or("body")
                    .to_owned();
                Self::Validation(vec![FieldError::new(field, "value is not allowed")])
            }
            Some(c)
                if *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE
                    || *c == SqlState::UNTRANSLATABLE_CHARACTER =>
            {
                Self::Malformed("text must not contain NUL characters".into())
            }
            Some(c) if *c == SqlState::FOREIGN_KEY_VIOLATION => Self::Conflict {
                code: "conflict",
                detail: "a referenced resource no longer exists".into(),
            },
            Some(c) if *c == SqlState::QUERY_CANCELED => {
                Self::ServiceUnavailable("the database took too long to answer".into())
            }
            Some(c)
                if *c == SqlState::ADMIN_SHUTDOWN
                    || *c == SqlState::CANNOT_CONNECT_NOW
                    || *c == SqlState::TOO_MANY_CONNECTIONS =>
            {
                Self::ServiceUnavailable("the database is unavailable".into())
            }
            // No SQLSTATE and a closed connection: the server went away.
            None if err.is_closed() => {
                Self::ServiceUnavailable("the database is unavailable".into())
            }
            _ => Self::Internal(err.into()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match err {
            PoolError::Timeout(_) | PoolError::Backend(_) | PoolError::Closed => {
                tracing::warn!(error = %err, "no database connection available");
                Self::ServiceUnavailable("the database is unavailable".into())
            }
            other => Self::Internal(anyhow::anyhow!("pool error: {other}")),
        }
    }
}

/// Bit flags naming the statuses an operation documents (see [`ApiErrors`]).
pub mod status {
    pub const BAD_REQUEST: u32 = 1 << 0;
    pub const UNAUTHORIZED: u32 = 1 << 1;
    pub const FORBIDDEN: u32 = 1 << 2;
    pub const NOT_FOUND: u32 = 1 << 3;
    pub const CONFLICT: u32 = 1 << 4;
    pub const PAYLOAD_TOO_LARGE: u32 = 1 << 5;
    pub const UNSUPPORTED_MEDIA_TYPE: u32 = 1 << 6;
    pub const UNPROCESSABLE: u32 = 1 << 7;
    pub const TOO_MANY_REQUESTS: u32 = 1 << 8;
    /// Always documented: 500 and 503.
    pub const ALWAYS: u32 = 1 << 9 | 1 << 10;
    pub const ALL: u32 = (1 << 11) - 1;
}

const STATUS_DOCS: [(u32, u16, &str); 11] = [
    (
        status::BAD_REQUEST,
        400,
        "Malformed request (`malformed_request`): unparsable JSON or parameters; `invalid_reset_token` for a bad reset token.",
    ),
    (
        status::UNAUTHORIZED,
        401,
        "Missing, unknown or expired bearer token (`unauthorized`); wrong log-in credentials (`invalid_credentials`).",
    ),
    (
        status::FORBIDDEN,
        403,
        "Authenticated but not allowed (`forbidden`).",
    ),
    (status::NOT_FOUND, 404, "No such resource (`not_found`)."),
    (
        status::CONFLICT,
        409,
        "Conflicts with existing data (`conflict`, `username_taken`, `email_taken`).",
    ),
    (
        status::PAYLOAD_TOO_LARGE,
        413,
        "Body too large (`payload_too_large`).",
    ),
    (
        status::UNSUPPORTED_MEDIA_TYPE,
        415,
        "Wrong content type (`unsupported_media_type`).",
    ),
    (
        status::UNPROCESSABLE,
        422,
        "Input breaks a rule (`validation_failed`, see `errors`); an avatar that does not decode (`invalid_image`) or has too many pixels (`image_too_large`).",
    ),
    (
        status::TOO_MANY_REQUESTS,
        429,
        "Rate limited (`rate_limited`); see `Retry-After`.",
    ),
    (
        1 << 9,
        500,
        "Unexpected failure (`internal_error`), logged with the request id.",
    ),
    (
        1 << 10,
        503,
        "A dependency is unavailable (`service_unavailable`); retry later.",
    ),
];

fn meta_for(mask: u32) -> MetaResponses {
    let mask = mask | status::ALWAYS;
    MetaResponses {
        responses: STATUS_DOCS
            .iter()
            .filter(|(bit, _, _)| mask & bit != 0)
            .map(|(_, status, description)| MetaResponse {
                description,
                status: Some(*status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: PROBLEM_JSON,
                    schema: ProblemDetails::schema_ref(),
                }],
                headers: if *status == 429 {
                    vec![MetaHeader {
                        name: "Retry-After".into(),
                        description: Some("Seconds until the limit resets.".into()),
                        required: true,
                        deprecated: false,
                        schema: u64::schema_ref(),
                    }]
                } else {
                    vec![]
                },
            })
            .collect(),
    }
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        meta_for(status::ALL)
    }

    fn register(registry: &mut Registry) {
        ProblemDetails::register(registry);
    }
}

/// [`ApiError`] documented with only the statuses in `MASK` (plus 500/503).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiErrors<const MASK: u32>(#[from] pub ApiError);

impl<const MASK: u32> poem::error::ResponseError for ApiErrors<MASK> {
    fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn as_response(&self) -> Response {
        poem::error::ResponseError::as_response(&self.0)
    }
}

impl<const MASK: u32> ApiResponse for ApiErrors<MASK> {
    fn meta() -> MetaResponses {
        meta_for(MASK)
    }

    fn register(registry: &mut Registry) {
        ProblemDetails::register(registry);
    }
}

impl<const MASK: u32> From<tokio_postgres::Error> for ApiErrors<MASK> {
    fn from(err: tokio_postgres::Error) -> Self {
        Self(err.into())
    }
}

impl<const MASK: u32> From<deadpool_postgres::PoolError> for ApiErrors<MASK> {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        Self(err.into())
    }
}

/// Turns any error that escaped an endpoint into a problem response: ours
/// render themselves; poem's are classified by status so that parse errors,
/// unknown routes and oversized bodies become 4xx problems with a code.
pub fn into_problem(err: poem::Error) -> Response {
    let status = err.status();
    let message = err.to_string();
    let mut original = err.into_response();
    if original.content_type() == Some(PROBLEM_JSON) {
        return original;
    }
    let (code, detail) = match status.as_u16() {
        400 => ("malformed_request", message),
        401 => (
            "unauthorized",
            "missing or invalid bearer token".to_string(),
        ),
        403 => ("forbidden", message),
        404 => ("not_found", "no such resource".to_string()),
        405 => (
            "method_not_allowed",
            "method not allowed on this resource".to_string(),
        ),
        413 => ("payload_too_large", "request body too large".to_string()),
        415 => ("unsupported_media_type", message),
        422 => ("validation_failed", message),
        429 => ("rate_limited", message),
        503 => ("service_unavailable", "service unavailable".to_string()),
        s if (400..500).contains(&s) => ("bad_request", message),
        _ => {
            tracing::error!(error = %message, status = %status, "unhandled error");
            (
                "internal_error",
                "the server failed to handle this request; it has been logged".to_string(),
            )
        }
    };
    let status = if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE {
        status
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let problem = ProblemDetails {
        type_: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
        code: code.into(),
        errors: None,
    };
    let mut resp = problem_response(&problem);
    // Extensions carry the matched route template (for metrics).
    *resp.extensions_mut() = std::mem::take(original.extensions_mut());
    // Keep e.g. `Allow` on 405s and `WWW-Authenticate` on 401s.
    for name in [header::ALLOW, header::WWW_AUTHENTICATE] {
        if let Some(value) = original.headers().get(&name) {
            resp.headers_mut().insert(name, value.clone());
        }
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(resp: Response) -> serde_json::Value {
        let bytes = resp.into_body().into_bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_error_has_problem_shape_and_field_errors() {
        let err = ApiError::validation("title", "must be at most 100 characters");
        let resp = poem::error::ResponseError::as_response(&err);
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(resp.content_type(), Some(PROBLEM_JSON));
        let json = body_json(resp).await;
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["title"], "Unprocessable Entity");
        assert_eq!(json["status"], 422);
        assert_eq!(json["code"], "validation_failed");
        assert_eq!(json["errors"][0]["field"], "title");
        assert_eq!(
            json["errors"][0]["message"],
            "must be at most 100 characters"
        );
    }

    #[tokio::test]
    async fn internal_error_does_not_leak_details() {
        let err = ApiError::internal(anyhow::anyhow!("password=hunter2 in connection string"));
        let resp = poem::Error::from(err).into_response();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let json = body_json(resp).await;
        assert_eq!(json["code"], "internal_error");
        assert!(!json.to_string().contains("hunter2"));
        assert!(json.get("errors").is_none());
    }

    #[tokio::test]
    async fn rate_limited_sets_retry_after() {
        let resp = poem::Error::from(ApiError::RateLimited {
            retry_after_seconds: 42,
        })
        .into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get(header::RETRY_AFTER).unwrap(), "42");
        assert_eq!(body_json(resp).await["code"], "rate_limited");
    }

    #[tokio::test]
    async fn poem_errors_are_mapped_to_problems() {
        let resp = into_problem(poem::error::NotFoundError.into());
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(resp.content_type(), Some(PROBLEM_JSON));
        assert_eq!(body_json(resp).await["code"], "not_found");

        let resp = into_problem(poem::Error::from_string("boom", StatusCode::BAD_GATEWAY));
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let json = body_json(resp).await;
        assert_eq!(json["code"], "internal_error");
        assert!(!json.to_string().contains("boom"));
    }

    #[tokio::test]
    async fn api_errors_wrapper_renders_like_the_inner_error() {
        let wrapped: ApiErrors<{ status::NOT_FOUND }> = ApiError::not_found("post").into();
        let resp = poem::Error::from(wrapped).into_response();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let json = body_json(resp).await;
        assert_eq!(json["code"], "not_found");
        assert_eq!(json["detail"], "post not found");
    }

    #[test]
    fn masks_select_documented_statuses() {
        let statuses: Vec<_> = meta_for(status::NOT_FOUND | status::UNAUTHORIZED)
            .responses
            .iter()
            .filter_map(|r| r.status)
            .collect();
        assert_eq!(statuses, vec![401, 404, 500, 503]);
    }
}
