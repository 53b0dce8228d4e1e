//! Bearer-token authentication.

use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::error::ApiError;
use crate::startup::AppState;

/// An opaque token from `POST /api/sessions`, sent as
/// `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque")]
pub struct BearerAuth(pub Bearer);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub id: i64,
    pub username: String,
    /// The session row, so log-out can revoke exactly this one.
    pub session_id: i64,
}

/// Resolves a bearer token to its user: 401 for unknown or expired tokens.
/// Only the token's SHA-256 is looked up; the token itself is never stored.
pub async fn authenticate(
    state: &AppState,
    auth: &BearerAuth,
) -> Result<AuthenticatedUser, ApiError> {
    let token = auth.0.token.trim();
    // Our tokens are 43 characters; don't hash megabytes of junk.
    if token.is_empty() || token.len() > 256 {
        return Err(unauthorized());
    }
    let hash = crate::tokens::hash(token);
    let conn = state.db.get().await?;
    let row = conn
        .query_opt(
            "SELECT s.id, u.id, u.username FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > now()",
            &[&&hash[..]],
        )
        .await?;
    match row {
        Some(row) => Ok(AuthenticatedUser {
            session_id: row.get(0),
            id: row.get(1),
            username: row.get(2),
        }),
        None => Err(unauthorized()),
    }
}

fn unauthorized() -> ApiError {
    ApiError::Unauthorized("the bearer token is unknown, expired or revoked".into())
}
