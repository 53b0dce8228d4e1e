//! Error types shared by the domain services (`accounts`, `posts`) and the
//! infrastructure they use. Nothing here knows about HTTP: the API edge
//! (`http::problem`) maps each of these, once, to a problem+json response,
//! and the website maps them to pages.
//!
//! Which layer uses which type:
//! - repositories and `db` return [`crate::db::DbError`] (with the name of
//!   the statement that failed);
//! - services return one `thiserror` enum per use case (`RegisterError`,
//!   `UpdatePostError`…), whose variants are the outcomes a caller must tell
//!   apart; everything that is not the caller's fault is a [`Failure`];
//! - rule violations in input are [`ValidationErrors`], with a stable
//!   machine `code` per field.

use std::borrow::Cow;
use std::fmt;

/// One rule broken by one input field. `field` names it as clients spell it
/// (`title`, `new_password`), `code` is stable and machine-readable
/// (`invalid_title`), `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: Cow<'static, str>,
    pub code: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(
        field: impl Into<Cow<'static, str>>,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// The same rule reported under another field name (a password checked
    /// for `new_password` rather than `password`).
    pub fn for_field(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = field.into();
        self
    }
}

/// Every rule an input broke, so a client can show them all at once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationError> for ValidationErrors {
    fn from(e: ValidationError) -> Self {
        Self(vec![e])
    }
}

impl ValidationErrors {
    /// Keeps the value of `result`, or records its error.
    pub fn check<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// Keeps the value of `result`, or records all its errors.
    pub fn merge<T>(&mut self, result: Result<T, ValidationErrors>) -> Option<T> {
        result.map_err(|e| self.0.extend(e.0)).ok()
    }

    /// `Err(self)` if any rule was broken.
    pub fn finish(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The message for `field`, if it broke a rule (forms show it next to
    /// the field).
    pub fn message_for(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Validates two fields at once: both values, or every error of both.
pub fn both<A, B>(
    a: Result<A, ValidationError>,
    b: Result<B, ValidationError>,
) -> Result<(A, B), ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let a = errors.check(a);
    let b = errors.check(b);
    errors.finish()?;
    match (a, b) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => unreachable!("finish() returned early when a value is missing"),
    }
}

/// A use case could not complete for a reason that is not the caller's
/// fault. Carries the chain of what was being done (`anyhow` context), which
/// the edge logs and never shows.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A dependency (Postgres, S3, SMTP, rate limiting in fail-closed mode)
    /// is down or too slow right now; retrying later may work.
    #[error("{0:#}")]
    Unavailable(anyhow::Error),
    /// A bug or an unexpected answer from a dependency.
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

impl Failure {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    /// Adds what the caller was doing to the chain.
    pub fn context(self, what: &'static str) -> Self {
        match self {
            Self::Unavailable(e) => Self::Unavailable(e.context(what)),
            Self::Internal(e) => Self::Internal(e.context(what)),
        }
    }
}

/// `.context("…")` for results whose error becomes a [`Failure`].
pub trait FailureContext<T> {
    fn context(self, what: &'static str) -> Result<T, Failure>;
}

impl<T, E: Into<Failure>> FailureContext<T> for Result<T, E> {
    fn context(self, what: &'static str) -> Result<T, Failure> {
        self.map_err(|e| e.into().context(what))
    }
}

/// A rate limit refused the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Limited {
    /// Too many attempts in the current window.
    #[error("too many attempts; retry in {retry_after_seconds} s")]
    TooMany { retry_after_seconds: u64 },
    /// Limits cannot be checked (Redis down) and the limiter fails closed.
    #[error("rate limiting is unavailable; try again shortly")]
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_collects_every_error() {
        let ok: Result<u8, ValidationError> = Ok(1);
        let bad = || -> Result<u8, ValidationError> {
            Err(ValidationError::new(
                "title",
                "invalid_title",
                "must not be empty",
            ))
        };
        assert_eq!(both(ok.clone(), ok.clone()).unwrap(), (1, 1));
        let errs = both(bad(), bad()).unwrap_err();
        assert_eq!(errs.0.len(), 2);
        assert_eq!(errs.message_for("title"), Some("must not be empty"));
        assert_eq!(both(ok, bad()).unwrap_err().0.len(), 1);
    }

    #[test]
    fn failure_context_keeps_the_chain() {
        let f = Failure::internal(anyhow::anyhow!("connection reset")).context("creating a post");
        assert_eq!(f.to_string(), "creating a post: connection reset");
    }
}
