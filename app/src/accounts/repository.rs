//! SQL for users, sessions and password resets. Functions take any client
//! (pooled connection or transaction) so the service decides what runs
//! atomically.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::domain::{Bio, EmailAddress, Username};
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub bio: String,
    pub avatar_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, username, email, password_hash, bio, avatar_key, created_at";
/// The same columns qualified, for joins.
const U_COLUMNS: &str =
    "u.id, u.username, u.email, u.password_hash, u.bio, u.avatar_key, u.created_at";

fn user(row: &Row) -> UserRow {
    user_at(row, 0)
}

/// A user whose columns start at index `at`.
fn user_at(row: &Row, at: usize) -> UserRow {
    UserRow {
        id: row.get(at),
        username: row.get(at + 1),
        email: row.get(at + 2),
        password_hash: row.get(at + 3),
        bio: row.get(at + 4),
        avatar_key: row.get(at + 5),
        created_at: row.get(at + 6),
    }
}

/// Unique violations become the 409 naming the taken field; the unique
/// indexes (not a prior SELECT) are what make registration race-safe.
pub fn map_unique(err: tokio_postgres::Error) -> ApiError {
    let constraint = err.as_db_error().and_then(|e| e.constraint());
    match constraint {
        Some("users_username_lower_key") => ApiError::Conflict {
            code: "username_taken",
            detail: "this username is already taken".into(),
        },
        Some("users_email_lower_key") => ApiError::Conflict {
            code: "email_taken",
            detail: "an account with this email already exists".into(),
        },
        _ => err.into(),
    }
}

pub async fn insert_user(
    c: &impl GenericClient,
    username: &Username,
    email: &EmailAddress,
    password_hash: &str,
) -> Result<UserRow, ApiError> {
    let sql = format!(
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    );
    let row = c
        .query_one(&sql, &[&username.as_str(), &email.as_str(), &password_hash])
        .await
        .map_err(map_unique)?;
    Ok(user(&row))
}

/// Like [`insert_user`] but a taken username or email is `Ok(None)` (import).
pub async fn insert_user_if_new(
    c: &impl GenericClient,
    username: &Username,
    email: &EmailAddress,
    password_hash: &str,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let row = c
        .query_opt(
            "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING RETURNING id",
            &[&username.as_str(), &email.as_str(), &password_hash],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn find_by_id(c: &impl GenericClient, id: i64) -> Result<Option<UserRow>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(c.query_opt(&sql, &[&id]).await?.as_ref().map(user))
}

pub async fn find_by_username(
    c: &impl GenericClient,
    username: &str,
) -> Result<Option<UserRow>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(username) = lower($1)");
    Ok(c.query_opt(&sql, &[&username]).await?.as_ref().map(user))
}

pub async fn find_by_email(
    c: &impl GenericClient,
    email: &str,
) -> Result<Option<UserRow>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)");
    Ok(c.query_opt(&sql, &[&email]).await?.as_ref().map(user))
}

/// Log-in by username or email. Usernames may contain `@`, so both are
/// tried; an exact username match wins over an email match.
pub async fn find_by_login(
    c: &impl GenericClient,
    login: &str,
) -> Result<Option<UserRow>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users \
         WHERE lower(username) = lower($1) OR lower(email) = lower($1) \
         ORDER BY (lower(username) = lower($1)) DESC LIMIT 1"
    );
    Ok(c.query_opt(&sql, &[&login]).await?.as_ref().map(user))
}

/// Sets the given fields, leaves the others.
pub async fn update_profile(
    c: &impl GenericClient,
    id: i64,
    username: Option<&Username>,
    email: Option<&EmailAddress>,
    bio: Option<&Bio>,
) -> Result<Option<UserRow>, ApiError> {
    let sql = format!(
        "UPDATE users SET username = COALESCE($2, username), email = COALESCE($3, email), \
         bio = COALESCE($4, bio), updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row = c
        .query_opt(
            &sql,
            &[
                &id,
                &username.map(Username::as_str),
                &email.map(EmailAddress::as_str),
                &bio.map(Bio::as_str),
            ],
        )
        .await
        .map_err(map_unique)?;
    Ok(row.as_ref().map(user))
}

pub async fn set_password_hash(
    c: &impl GenericClient,
    id: i64,
    hash: &str,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        &[&id, &hash],
    )
    .await?;
    Ok(())
}

/// Replaces `old` by `new` only if the stored hash is still `old`, so an
/// upgrade on log-in never overwrites a password changed meanwhile.
pub async fn upgrade_password_hash(
    c: &impl GenericClient,
    id: i64,
    old: &str,
    new: &str,
) -> Result<(), ApiError> {
    c.execute(
        "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
        &[&id, &old, &new],
    )
    .await?;
    Ok(())
}

/// Sets (or clears) the avatar key; returns the updated user and the key it
/// replaced, read under the same row lock.
pub async fn replace_avatar_key(
    c: &impl GenericClient,
    id: i64,
    key: Option<&str>,
) -> Result<Option<(UserRow, Option<String>)>, ApiError> {
    let sql = format!(
        "UPDATE users u SET avatar_key = $2, updated_at = now() \
         FROM (SELECT id, avatar_key FROM users WHERE id = $1 FOR UPDATE) old \
         WHERE u.id = old.id \
         RETURNING {U_COLUMNS}, old.avatar_key"
    );
    let row = c.query_opt(&sql, &[&id, &key]).await?;
    Ok(row.map(|r| (user(&r), r.get(7))))
}

pub async fn create_session(
    c: &impl GenericClient,
    user_id: i64,
    token_hash: &[u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    c.execute(
        "INSERT INTO sessions (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
        &[&user_id, &&token_hash[..], &expires_at],
    )
    .await?;
    Ok(())
}

/// Drops a user's expired sessions (housekeeping on log-in keeps the table
/// from growing without a separate job).
pub async fn delete_expired_sessions(c: &impl GenericClient, user_id: i64) -> Result<(), ApiError> {
    c.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND expires_at <= now()",
        &[&user_id],
    )
    .await?;
    Ok(())
}

pub async fn delete_session(c: &impl GenericClient, session_id: i64) -> Result<(), ApiError> {
    c.execute("DELETE FROM sessions WHERE id = $1", &[&session_id])
        .await?;
    Ok(())
}

pub async fn delete_sessions(c: &impl GenericClient, user_id: i64) -> Result<u64, ApiError> {
    Ok(
        c.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await?,
    )
}

pub async fn insert_reset(
    c: &impl GenericClient,
    user_id: i64,
    token_hash: &[u8; 32],
    expires_at: DateTime<Utc>,
) -> Result<(), ApiError> {
    c.execute(
        "INSERT INTO password_resets (user_id, token_hash, expires_at) VALUES ($1, $2, $3)",
        &[&user_id, &&token_hash[..], &expires_at],
    )
    .await?;
    Ok(())
}

/// A usable (unused, unexpired) reset token: its id and its user.
pub async fn find_usable_reset(
    c: &impl GenericClient,
    token_hash: &[u8; 32],
) -> Result<Option<(i64, UserRow)>, ApiError> {
    let sql = format!(
        "SELECT r.id, {U_COLUMNS} FROM password_resets r JOIN users u ON u.id = r.user_id \
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()"
    );
    let row = c.query_opt(&sql, &[&&token_hash[..]]).await?;
    Ok(row.map(|r| (r.get(0), user_at(&r, 1))))
}

/// Marks the reset used if it still is usable; `false` if another request
/// consumed it first (or it expired meanwhile). The conditional UPDATE is
/// what makes tokens single-use under concurrency.
pub async fn consume_reset(c: &impl GenericClient, reset_id: i64) -> Result<bool, ApiError> {
    let n = c
        .execute(
            "UPDATE password_resets SET used_at = now() \
             WHERE id = $1 AND used_at IS NULL AND expires_at > now()",
            &[&reset_id],
        )
        .await?;
    Ok(n == 1)
}

/// Invalidates every other outstanding reset token of the user.
pub async fn consume_all_resets(c: &impl GenericClient, user_id: i64) -> Result<(), ApiError> {
    c.execute(
        "UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        &[&user_id],
    )
    .await?;
    Ok(())
}
