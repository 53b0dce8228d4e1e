//! The API edge's one error conversion: domain errors → RFC 9457
//! `application/problem+json` with a stable machine-readable `code`.
//!
//! How the pieces fit:
//! - [`ProblemDoc`] is one documented answer (status, code, what it means).
//! - [`Documented`] is implemented once per domain error type, with the
//!   [`documented!`](crate::documented) macro, which generates both the
//!   exhaustive `match` from error variant to answer and the list of answers
//!   from the same table: an answer the API can give is always documented.
//! - An operation declares which domain error types it returns with
//!   [`operation!`](crate::operation); its handler returns
//!   `Result<_, ApiError<ThatOperation>>`, so `?` accepts exactly those
//!   types, and the OpenAPI document lists exactly their answers (plus the
//!   framework's own: a body that does not parse, is too large or has the
//!   wrong type; a malformed parameter).
//! - [`into_problem`] maps poem's own errors (unknown route, bad JSON…) to the
//!   same shape; it is installed as a catch-all in `http::app`.
//!
//! Internal errors are logged here, with their `anyhow` context chain and the
//! operation id, inside the request span (so with the request id); clients
//! only ever see "the server failed".

use std::collections::BTreeMap;
use std::marker::PhantomData;

use poem::Response;
use poem::http::{HeaderValue, StatusCode, header};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{Failure, Limited, ValidationErrors};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The RFC 6750 challenge of a 401 when no bearer token was sent (or the
/// operation does not take one, as log-in).
pub const BEARER_CHALLENGE: &str = "Bearer";
/// ... and when the token sent is unknown, expired or revoked (every
/// `unauthorized` answer of an operation follows a token that was sent).
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer error="invalid_token""#;

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
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
        VALIDATION_FAILED.example()
    }
}

/// What is wrong with one field of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
pub struct FieldError {
    /// The field's name in the request body, e.g. `title`.
    pub field: String,
    /// Stable identifier of the broken rule, e.g. `invalid_title`.
    pub code: String,
    /// What is wrong with it, for people.
    pub message: String,
}

impl From<&ValidationErrors> for Vec<FieldError> {
    fn from(errors: &ValidationErrors) -> Self {
        errors
            .0
            .iter()
            .map(|e| FieldError {
                field: e.field.to_string(),
                code: e.code.to_owned(),
                message: e.message.clone(),
            })
            .collect()
    }
}

/// One answer an operation documents: its status, its `code`, what it means,
/// and the `detail` (and for validation failures the `errors`) its example
/// shows.
#[derive(Debug, PartialEq, Eq)]
pub struct ProblemDoc {
    pub status: u16,
    pub code: &'static str,
    pub description: &'static str,
    pub example_detail: &'static str,
    /// `(field, code, message)` of the example's `errors`.
    pub example_errors: &'static [(&'static str, &'static str, &'static str)],
}

impl ProblemDoc {
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The example body shown in the OpenAPI document.
    pub fn example(&self) -> ProblemDetails {
        let errors = (!self.example_errors.is_empty()).then(|| {
            self.example_errors
                .iter()
                .map(|(field, code, message)| FieldError {
                    field: (*field).into(),
                    code: (*code).into(),
                    message: (*message).into(),
                })
                .collect()
        });
        ProblemDetails {
            type_: "about:blank".into(),
            title: self.status().canonical_reason().unwrap_or("Error").into(),
            status: self.status,
            detail: self.example_detail.into(),
            code: self.code.into(),
            errors,
        }
    }
}

/// Declares a `pub const` [`ProblemDoc`]:
/// `problem_doc!(NAME = 409 "code", "description", "example detail");`, for
/// validation failures followed by `[("field", "code", "message"), …]`.
#[macro_export]
macro_rules! problem_doc {
    ($name:ident = $status:literal $code:literal, $description:literal, $example:literal $(, [$(($f:literal, $c:literal, $m:literal)),* $(,)?])?) => {
        pub const $name: $crate::http::problem::ProblemDoc = $crate::http::problem::ProblemDoc {
            status: $status,
            code: $code,
            description: $description,
            example_detail: $example,
            example_errors: &[$($(($f, $c, $m)),*)?],
        };
    };
}

// Answers shared by several domain errors. Each domain error's own answers
// live next to its `documented!` table.
problem_doc!(MALFORMED_BODY = 400 "malformed_request",
    "The body is not JSON of the documented shape (bad syntax, wrong types, missing or unknown fields, bad UTF-8).",
    "Parse error: expected `string`, found `5` at `title`");
problem_doc!(MALFORMED_PARAMETER = 400 "malformed_request",
    "A path or query parameter is malformed or out of range.",
    "failed to parse parameter `limit`: verification failed. maximum(100, exclusive: false)");
problem_doc!(PAYLOAD_TOO_LARGE = 413 "payload_too_large",
    "The body is larger than the server accepts (`http.max_body_bytes`).",
    "request body is 2000000 bytes; the limit is 1048576");
problem_doc!(UNSUPPORTED_MEDIA_TYPE = 415 "unsupported_media_type",
    "The body is not sent as `application/json`.",
    "the content type `text/plain` is not supported");
problem_doc!(VALIDATION_FAILED = 422 "validation_failed",
    "Well-formed input that breaks a rule; `errors` lists every broken rule with its field and code.",
    "title: must not be empty",
    [("title", "invalid_title", "must not be empty")]);
problem_doc!(RATE_LIMITED = 429 "rate_limited",
    "Too many attempts from this client or for this account; retry after `Retry-After` seconds.",
    "too many attempts; retry in 42 s");
problem_doc!(SERVICE_UNAVAILABLE = 503 "service_unavailable",
    "A dependency (database, object storage, rate limiting) is unavailable right now; retry later.",
    "the service is temporarily unavailable; try again shortly");
problem_doc!(INTERNAL_ERROR = 500 "internal_error",
    "Unexpected failure; logged with the request id (`X-Request-Id`).",
    "the server failed to handle this request; it has been logged");

/// An error answer, ready to be sent.
#[derive(Debug)]
pub struct Problem {
    doc: &'static ProblemDoc,
    detail: String,
    errors: Option<Vec<FieldError>>,
    retry_after_seconds: Option<u64>,
    /// What failed inside, for the log; never sent.
    cause: Option<String>,
}

impl Problem {
    pub fn new(doc: &'static ProblemDoc, detail: impl Into<String>) -> Self {
        Self {
            doc,
            detail: detail.into(),
            errors: None,
            retry_after_seconds: None,
            cause: None,
        }
    }

    pub fn with_errors(mut self, errors: &ValidationErrors) -> Self {
        self.errors = Some(errors.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn doc(&self) -> &'static ProblemDoc {
        self.doc
    }

    pub fn status(&self) -> StatusCode {
        self.doc.status()
    }

    pub fn code(&self) -> &'static str {
        self.doc.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn details(&self) -> ProblemDetails {
        ProblemDetails {
            type_: "about:blank".into(),
            title: self.status().canonical_reason().unwrap_or("Error").into(),
            status: self.doc.status,
            detail: self.detail.clone(),
            code: self.doc.code.into(),
            errors: self.errors.clone(),
        }
    }

    /// Logs an internal cause (once, in the request span) and renders.
    pub fn into_response(self, operation: &str) -> Response {
        if let Some(cause) = &self.cause {
            if self.doc.status >= 500 && self.doc.status != 503 {
                tracing::error!(operation, error = %cause, "request failed with an internal error");
            } else {
                tracing::warn!(operation, error = %cause, "a dependency is unavailable");
            }
        }
        let mut resp = problem_response(&self.details());
        if let Some(seconds) = self.retry_after_seconds {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.doc.status == 401 {
            let challenge = match self.doc.code {
                "unauthorized" => INVALID_TOKEN_CHALLENGE,
                _ => BEARER_CHALLENGE,
            };
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        resp
    }
}

/// A domain error type the API knows how to answer. Implement it with
/// [`documented!`](crate::documented), which keeps `docs` and `problem` in step.
pub trait Documented {
    /// Every answer [`Documented::problem`] can give.
    fn docs() -> Vec<&'static ProblemDoc>;
    fn problem(&self) -> Problem;
}

/// Implements [`Documented`] for a domain error type from one table of
/// `pattern => answer;` arms, where an answer is a [`ProblemDoc`] constant
/// (the error's `Display` becomes the `detail`), the constant followed by a
/// closure that adjusts the [`Problem`], or `via Type(binding)` to delegate
/// to another documented type (`Type` a single name in scope). The arms are one exhaustive `match`, and the
/// documented answers are collected from the same arms.
#[macro_export]
macro_rules! documented {
    ($ty:ty { $($arms:tt)* }) => {
        // `detail` is passed down so that the arms built below and the
        // binding in the final rule are the same identifier (hygiene).
        $crate::documented!(@arms $ty; detail; []; []; $($arms)*);
    };
    (@arms $ty:ty; $detail:ident; [$($docs:expr),*]; [$($arms:tt)*];) => {
        impl $crate::http::problem::Documented for $ty {
            fn docs() -> Vec<&'static $crate::http::problem::ProblemDoc> {
                let mut docs: Vec<&'static $crate::http::problem::ProblemDoc> = Vec::new();
                $( docs.extend($docs); )*
                docs
            }

            #[allow(clippy::redundant_closure_call, unused_variables)]
            fn problem(&self) -> $crate::http::problem::Problem {
                let $detail = self.to_string();
                match self {
                    $($arms)*
                }
            }
        }
    };
    (@arms $ty:ty; $detail:ident; [$($docs:expr),*]; [$($arms:tt)*]; $pat:pat => via $via:ident ($e:ident); $($rest:tt)*) => {
        $crate::documented!(@arms $ty; $detail;
            [$($docs,)* <$via as $crate::http::problem::Documented>::docs()];
            [$($arms)* $pat => $crate::http::problem::Documented::problem($e),];
            $($rest)*);
    };
    (@arms $ty:ty; $detail:ident; [$($docs:expr),*]; [$($arms:tt)*]; $pat:pat => $doc:path, $adjust:expr; $($rest:tt)*) => {
        $crate::documented!(@arms $ty; $detail;
            [$($docs,)* [&$doc]];
            [$($arms)* $pat => ($adjust)($crate::http::problem::Problem::new(&$doc, $detail)),];
            $($rest)*);
    };
    (@arms $ty:ty; $detail:ident; [$($docs:expr),*]; [$($arms:tt)*]; $pat:pat => $doc:path; $($rest:tt)*) => {
        $crate::documented!(@arms $ty; $detail;
            [$($docs,)* [&$doc]];
            [$($arms)* $pat => $crate::http::problem::Problem::new(&$doc, $detail),];
            $($rest)*);
    };
}

impl Documented for Failure {
    fn docs() -> Vec<&'static ProblemDoc> {
        vec![&SERVICE_UNAVAILABLE, &INTERNAL_ERROR]
    }

    fn problem(&self) -> Problem {
        let (doc, detail) = match self {
            Failure::Unavailable(_) => (
                &SERVICE_UNAVAILABLE,
                "the service is temporarily unavailable; try again shortly",
            ),
            Failure::Internal(_) => (
                &INTERNAL_ERROR,
                "the server failed to handle this request; it has been logged",
            ),
        };
        Problem {
            cause: Some(format!("{self:#}")),
            ..Problem::new(doc, detail)
        }
    }
}

documented!(Limited {
    Limited::TooMany { retry_after_seconds } => RATE_LIMITED, |p: Problem| p.retry_after(*retry_after_seconds);
    Limited::Unavailable => SERVICE_UNAVAILABLE;
});

documented!(crate::pagination::PageError {
    crate::pagination::PageError::BadCursor => MALFORMED_PARAMETER;
    crate::pagination::PageError::BadLimit(_) => MALFORMED_PARAMETER;
});

/// What a request can get wrong before its handler runs, documented for
/// the operations it applies to (see [`operation!`](crate::operation)).
pub mod framework {
    use super::*;

    /// Operations with a JSON body.
    pub fn json_body() -> Vec<&'static ProblemDoc> {
        vec![&MALFORMED_BODY, &PAYLOAD_TOO_LARGE, &UNSUPPORTED_MEDIA_TYPE]
    }

    /// Operations with path or query parameters that can fail to parse.
    pub fn parameters() -> Vec<&'static ProblemDoc> {
        vec![&MALFORMED_PARAMETER]
    }

    /// Every operation: a handler can always fail unexpectedly.
    pub fn always() -> Vec<&'static ProblemDoc> {
        vec![&INTERNAL_ERROR]
    }
}

/// One API operation's error answers (implemented by
/// [`operation!`](crate::operation)).
pub trait Operation: Send + Sync + 'static {
    /// The OpenAPI `operationId`, for logs.
    const ID: &'static str;
    fn docs() -> Vec<&'static ProblemDoc>;
}

/// The error type of an operation's handler: a [`Problem`] from one of the
/// domain errors the operation declared.
pub struct ApiError<O> {
    problem: Problem,
    operation: PhantomData<fn() -> O>,
}

impl<O> ApiError<O> {
    pub fn new(problem: Problem) -> Self {
        Self {
            problem,
            operation: PhantomData,
        }
    }

    pub fn problem(&self) -> &Problem {
        &self.problem
    }
}

impl<O> std::fmt::Debug for ApiError<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problem.fmt(f)
    }
}

impl<O> std::fmt::Display for ApiError<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem.detail)
    }
}

impl<O> std::error::Error for ApiError<O> {}

impl<O: Operation> poem::error::ResponseError for ApiError<O> {
    fn status(&self) -> StatusCode {
        self.problem.status()
    }

    fn as_response(&self) -> Response {
        let p = &self.problem;
        Problem {
            doc: p.doc,
            detail: p.detail.clone(),
            errors: p.errors.clone(),
            retry_after_seconds: p.retry_after_seconds,
            cause: p.cause.clone(),
        }
        .into_response(O::ID)
    }
}

impl<O: Operation> ApiResponse for ApiError<O> {
    fn meta() -> MetaResponses {
        responses(&O::docs())
    }

    fn register(registry: &mut Registry) {
        ProblemDetails::register(registry);
    }
}

/// Declares an operation marker type and the domain errors its handler may
/// return: `operation!(CreatePost = "create_post": AuthError, CreatePostError; json_body);`
/// The names after `;` are [`framework`] functions adding what the request
/// itself can get wrong.
#[macro_export]
macro_rules! operation {
    ($name:ident = $id:literal : $($err:ty),* $(; $($framework:ident),*)?) => {
        pub enum $name {}

        impl $crate::http::problem::Operation for $name {
            const ID: &'static str = $id;

            fn docs() -> Vec<&'static $crate::http::problem::ProblemDoc> {
                let mut docs = $crate::http::problem::framework::always();
                $( docs.extend(<$err as $crate::http::problem::Documented>::docs()); )*
                $($( docs.extend($crate::http::problem::framework::$framework()); )*)?
                docs
            }
        }

        $(
            impl From<$err> for $crate::http::problem::ApiError<$name> {
                fn from(err: $err) -> Self {
                    Self::new($crate::http::problem::Documented::problem(&err))
                }
            }
        )*
    };
}

/// The OpenAPI responses for a set of answers: one per status, each code
/// described, with an example per code. The examples travel in an inline
/// schema's `example` under `x-examples` until [`finish_spec`] moves them
/// to the media type (poem-openapi's media type has no `examples`).
fn responses(docs: &[&'static ProblemDoc]) -> MetaResponses {
    let mut by_status: BTreeMap<u16, Vec<&'static ProblemDoc>> = BTreeMap::new();
    for doc in docs {
        let list = by_status.entry(doc.status).or_default();
        if !list.contains(doc) {
            list.push(doc);
        }
    }
    MetaResponses {
        responses: by_status
            .into_iter()
            .map(|(status, docs)| {
                let mut codes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for d in &docs {
                    let descriptions = codes.entry(d.code).or_default();
                    if !descriptions.contains(&d.description) {
                        descriptions.push(d.description);
                    }
                }
                let description = codes
                    .iter()
                    .map(|(code, texts)| format!("`{code}`: {}", texts.join(" ")))
                    .collect::<Vec<_>>()
                    .join("\n\n");
                let examples: serde_json::Map<String, serde_json::Value> = docs
                    .iter()
                    .map(|d| {
                        (
                            d.code.to_owned(),
                            serde_json::to_value(d.example()).unwrap_or_default(),
                        )
                    })
                    .collect();
                let schema = MetaSchema {
                    all_of: vec![ProblemDetails::schema_ref()],
                    example: Some(json!({ EXAMPLES_KEY: examples })),
                    ..MetaSchema::ANY
                };
                MetaResponse {
                    // Built once per document; poem-openapi wants `&'static str`.
                    description: Box::leak(description.into_boxed_str()),
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: MetaSchemaRef::Inline(Box::new(schema)),
                    }],
                    headers: match status {
                        429 => vec![MetaHeader {
                            name: "Retry-After".into(),
                            description: Some("Seconds until the limit resets.".into()),
                            required: true,
                            deprecated: false,
                            schema: u64::schema_ref(),
                        }],
                        503 => vec![MetaHeader {
                            name: "Retry-After".into(),
                            description: Some(
                                "Seconds to wait before retrying, when the server can tell \
                                 (e.g. `busy`)."
                                    .into(),
                            ),
                            required: false,
                            deprecated: false,
                            schema: u64::schema_ref(),
                        }],
                        401 => vec![MetaHeader {
                            name: "WWW-Authenticate".into(),
                            description: Some(
                                "RFC 6750 challenge: `Bearer`, or `Bearer error=\"invalid_token\"` \
                                 when the token sent is unknown, expired or revoked."
                                    .into(),
                            ),
                            required: true,
                            deprecated: false,
                            schema: String::schema_ref(),
                        }],
                        _ => vec![],
                    },
                }
            })
            .collect(),
    }
}

const EXAMPLES_KEY: &str = "x-examples";

/// Finishes the generated document: problem responses refer to the
/// `Problem` schema directly and carry one example per code on the media
/// type (see [`responses`]).
pub fn finish_spec(spec: &str) -> String {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(spec) else {
        return spec.to_owned();
    };
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for op in paths
            .values_mut()
            .filter_map(|item| item.as_object_mut())
            .flat_map(|item| item.values_mut())
        {
            let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut()) else {
                continue;
            };
            for media in responses
                .values_mut()
                .filter_map(|r| r.get_mut("content"))
                .filter_map(|c| c.as_object_mut())
                .flat_map(|c| c.values_mut())
            {
                let Some(examples) = media
                    .pointer_mut(&format!("/schema/example/{EXAMPLES_KEY}"))
                    .map(serde_json::Value::take)
                else {
                    continue;
                };
                let reference = media.pointer("/schema/allOf/0").cloned();
                if let (Some(reference), Some(examples)) = (reference, examples.as_object()) {
                    media["schema"] = reference;
                    media["examples"] = examples
                        .iter()
                        .map(|(code, value)| {
                            (code.clone(), json!({ "summary": code, "value": value }))
                        })
                        .collect::<serde_json::Map<_, _>>()
                        .into();
                }
            }
        }
    }
    serde_json::to_string(&doc).unwrap_or_else(|_| spec.to_owned())
}

pub fn problem_response(problem: &ProblemDetails) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type(PROBLEM_JSON)
        .body(body)
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
    // A 401 here is the framework refusing a request without a (parsable)
    // bearer token: the plain challenge (RFC 6750 3.1: no error code).
    if status == StatusCode::UNAUTHORIZED && !resp.headers().contains_key(header::WWW_AUTHENTICATE)
    {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(BEARER_CHALLENGE),
        );
    }
    resp
}

/// A plain problem response outside any operation (middleware, probes,
/// plain routes).
pub fn simple(doc: &'static ProblemDoc, detail: impl Into<String>) -> Response {
    Problem::new(doc, detail).into_response("-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ValidationError;

    async fn body_json(resp: Response) -> serde_json::Value {
        let bytes = resp.into_body().into_bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn validation_problems_carry_every_field_with_its_code() {
        let errors = ValidationErrors(vec![ValidationError::new(
            "title",
            "invalid_title",
            "must be at most 100 characters",
        )]);
        let resp = Problem::new(&VALIDATION_FAILED, errors.to_string())
            .with_errors(&errors)
            .into_response("test");
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(resp.content_type(), Some(PROBLEM_JSON));
        let json = body_json(resp).await;
        assert_eq!(json["type"], "about:blank");
        assert_eq!(json["title"], "Unprocessable Entity");
        assert_eq!(json["status"], 422);
        assert_eq!(json["code"], "validation_failed");
        assert_eq!(json["errors"][0]["field"], "title");
        assert_eq!(json["errors"][0]["code"], "invalid_title");
        assert_eq!(
            json["errors"][0]["message"],
            "must be at most 100 characters"
        );
    }

    #[tokio::test]
    async fn internal_failures_do_not_leak_details() {
        let failure = Failure::internal(anyhow::anyhow!("password=hunter2 in connection string"));
        let resp = failure.problem().into_response("test");
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let json = body_json(resp).await;
        assert_eq!(json["code"], "internal_error");
        assert!(!json.to_string().contains("hunter2"));
        assert!(json.get("errors").is_none());
    }

    #[tokio::test]
    async fn rate_limited_sets_retry_after() {
        let resp = Limited::TooMany {
            retry_after_seconds: 42,
        }
        .problem()
        .into_response("test");
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

    #[test]
    fn answers_sharing_a_status_become_one_response_with_an_example_per_code() {
        problem_doc!(A = 409 "username_taken", "Taken.", "this username is already taken");
        problem_doc!(B = 409 "email_taken", "Taken too.", "an account with this email already exists");
        let meta = responses(&[&A, &B, &INTERNAL_ERROR]);
        let statuses: Vec<_> = meta.responses.iter().filter_map(|r| r.status).collect();
        assert_eq!(statuses, vec![409, 500]);
        let conflict = &meta.responses[0];
        assert!(conflict.description.contains("`username_taken`: Taken."));
        assert!(conflict.description.contains("`email_taken`: Taken too."));
        let MetaSchemaRef::Inline(schema) = &conflict.content[0].schema else {
            panic!("inline schema expected");
        };
        let examples = &schema.example.as_ref().unwrap()[EXAMPLES_KEY];
        assert_eq!(examples["email_taken"]["status"], 409);
        assert_eq!(examples["username_taken"]["code"], "username_taken");
    }

    #[test]
    fn finishing_the_spec_moves_examples_to_the_media_type() {
        let spec = json!({"paths": {"/x": {"get": {"responses": {"409": {"content": {
            PROBLEM_JSON: {"schema": {"allOf": [{"$ref": "#/components/schemas/Problem"}],
                           "example": {EXAMPLES_KEY: {"a": {"code": "a"}}}}}}}}}}}});
        let done: serde_json::Value =
            serde_json::from_str(&finish_spec(&spec.to_string())).unwrap();
        let media = &done["paths"]["/x"]["get"]["responses"]["409"]["content"][PROBLEM_JSON];
        assert_eq!(media["schema"]["$ref"], "#/components/schemas/Problem");
        assert_eq!(media["examples"]["a"]["value"]["code"], "a");
    }
}
