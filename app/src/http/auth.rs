//! Bearer-token authentication for the API: the token goes to
//! [`crate::accounts::Accounts::authenticate`]; what it answers when the
//! token is no good is documented here, once.

use poem::Request;
use poem::http::header;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::accounts::{AuthError, AuthenticatedUser};
use crate::error::Failure;
use crate::startup::AppState;
use crate::{documented, problem_doc};

/// An opaque token from `POST /api/sessions`, sent as
/// `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque")]
pub struct BearerAuth(pub Bearer);

problem_doc!(UNAUTHORIZED = 401 "unauthorized",
    "No bearer token, or one that is unknown, expired or revoked (log in again with `POST /sessions`).",
    "the session token is unknown, expired or revoked");

documented!(AuthError {
    AuthError::Unauthenticated => UNAUTHORIZED;
    AuthError::Failed(e) => via Failure(e);
});

impl AppState {
    /// The user behind the request's bearer token.
    pub async fn authenticate(&self, auth: &BearerAuth) -> Result<AuthenticatedUser, AuthError> {
        self.accounts.authenticate(&auth.0.token).await
    }

    /// Who reads, on operations anybody may call that show an author more
    /// (their drafts): nobody without an `Authorization` header, the token's
    /// user with one. A token that is sent but no good is refused (401), not
    /// read as "anonymous": a client whose session expired learns it instead
    /// of seeing its drafts vanish. (poem-openapi has no optional security
    /// scheme, hence the header read by hand.)
    pub async fn viewer(&self, req: &Request) -> Result<Option<AuthenticatedUser>, AuthError> {
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthError::Unauthenticated)?;
        self.accounts.authenticate(token).await.map(Some)
    }
}
