//! SQL for users, sessions and password resets. Functions take any client
//! (pooled connection or transaction) so the service decides what runs
//! atomically. Columns are read by name, statements are prepared once per
//! connection (`prepare_cached`), and every failure names its statement
//! ([`DbError`]). Times come from the service's clock, never from `now()`,
//! so that expiry is decided by one clock.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::domain::{Bio, EmailAddress, Username};
use crate::db::{self, DbError, FromRow, Id};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub bio: String,
    pub avatar_key: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Django's `is_active`: an inactive account cannot log in. Cached rows
    /// written before the column existed count as active.
    #[serde(default = "active")]
    pub is_active: bool,
    /// Staff may moderate (unpublish posts, delete comments, deactivate
    /// accounts): Django's `is_staff`, or granted with `blog staff grant`.
    #[serde(default)]
    pub is_staff: bool,
}

fn active() -> bool {
    true
}

impl FromRow for UserRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            password_hash: row.try_get("password_hash")?,
            bio: row.try_get("bio")?,
            avatar_key: row.try_get("avatar_key")?,
            created_at: row.try_get("created_at")?,
            is_active: row.try_get("is_active")?,
            is_staff: row.try_get("is_staff")?,
        })
    }
}

/// The unique index on `lower(username)`.
pub const USERNAME_KEY: &str = "users_username_lower_key";
/// The unique index on `lower(email)`.
pub const EMAIL_KEY: &str = "users_email_lower_key";

/// A user and the avatar key it had before an update.
pub struct AvatarChange {
    pub user: UserRow,
    pub previous_key: Option<String>,
}

impl FromRow for AvatarChange {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            user: UserRow::from_row(row)?,
            previous_key: row.try_get("previous_avatar_key")?,
        })
    }
}

/// A usable password reset and the user it is for.
pub struct UsableReset {
    pub reset_id: i64,
    pub user: UserRow,
}

impl FromRow for UsableReset {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            reset_id: row.try_get("reset_id")?,
            user: UserRow::from_row(row)?,
        })
    }
}

/// A live session and the user who owns it.
pub struct SessionUser {
    pub session_id: i64,
    pub user: UserRow,
}

impl FromRow for SessionUser {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            session_id: row.try_get("session_id")?,
            user: UserRow::from_row(row)?,
        })
    }
}

pub async fn insert_user(
    c: &impl GenericClient,
    username: &Username,
    email: &EmailAddress,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<UserRow, DbError> {
    db::query_one(
        c,
        "insert user",
        "INSERT INTO users (username, email, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING *",
        &[&username.as_str(), &email.as_str(), &password_hash, &now],
    )
    .await
}

/// Like [`insert_user`] but a taken username or email is `Ok(None)` (import).
pub async fn insert_user_if_new(
    c: &impl GenericClient,
    username: &Username,
    email: &EmailAddress,
    password_hash: &str,
) -> Result<Option<i64>, DbError> {
    let row: Option<Id> = db::query_opt(
        c,
        "import user",
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING RETURNING id",
        &[&username.as_str(), &email.as_str(), &password_hash],
    )
    .await?;
    Ok(row.map(|r| r.0))
}

pub async fn find_by_id(c: &impl GenericClient, id: i64) -> Result<Option<UserRow>, DbError> {
    db::query_opt(
        c,
        "find user by id",
        "SELECT * FROM users WHERE id = $1",
        &[&id],
    )
    .await
}

pub async fn find_by_username(
    c: &impl GenericClient,
    username: &str,
) -> Result<Option<UserRow>, DbError> {
    db::query_opt(
        c,
        "find user by username",
        "SELECT * FROM users WHERE lower(username) = lower($1)",
        &[&username],
    )
    .await
}

pub async fn find_by_email(
    c: &impl GenericClient,
    email: &str,
) -> Result<Option<UserRow>, DbError> {
    db::query_opt(
        c,
        "find user by email",
        "SELECT * FROM users WHERE lower(email) = lower($1)",
        &[&email],
    )
    .await
}

/// Log-in by username or email. Usernames may contain `@`, so both are
/// tried; an exact username match wins over an email match.
pub async fn find_by_login(
    c: &impl GenericClient,
    login: &str,
) -> Result<Option<UserRow>, DbError> {
    db::query_opt(
        c,
        "find user by login",
        "SELECT * FROM users \
         WHERE lower(username) = lower($1) OR lower(email) = lower($1) \
         ORDER BY (lower(username) = lower($1)) DESC LIMIT 1",
        &[&login],
    )
    .await
}

/// Sets the given fields, leaves the others.
pub async fn update_profile(
    c: &impl GenericClient,
    id: i64,
    username: Option<&Username>,
    email: Option<&EmailAddress>,
    bio: Option<&Bio>,
    now: DateTime<Utc>,
) -> Result<Option<UserRow>, DbError> {
    db::query_opt(
        c,
        "update profile",
        "UPDATE users SET username = COALESCE($2, username), email = COALESCE($3, email), \
         bio = COALESCE($4, bio), updated_at = $5 WHERE id = $1 RETURNING *",
        &[
            &id,
            &username.map(Username::as_str),
            &email.map(EmailAddress::as_str),
            &bio.map(Bio::as_str),
            &now,
        ],
    )
    .await
}

pub async fn set_password_hash(
    c: &impl GenericClient,
    id: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    db::execute(
        c,
        "set password hash",
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
        &[&id, &hash, &now],
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
) -> Result<(), DbError> {
    db::execute(
        c,
        "upgrade password hash",
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
    now: DateTime<Utc>,
) -> Result<Option<AvatarChange>, DbError> {
    db::query_opt(
        c,
        "replace avatar key",
        "UPDATE users u SET avatar_key = $2, updated_at = $3 \
         FROM (SELECT id, avatar_key FROM users WHERE id = $1 FOR UPDATE) old \
         WHERE u.id = old.id \
         RETURNING u.*, old.avatar_key AS previous_avatar_key",
        &[&id, &key, &now],
    )
    .await
}

pub async fn create_session(
    c: &impl GenericClient,
    user_id: i64,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    db::execute(
        c,
        "create session",
        "INSERT INTO sessions (user_id, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        &[&user_id, &&token_hash[..], &now, &expires_at],
    )
    .await?;
    Ok(())
}

/// The session whose token hashes to `token_hash`, if it has not expired,
/// with its user.
pub async fn find_session(
    c: &impl GenericClient,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<SessionUser>, DbError> {
    db::query_opt(
        c,
        "find session",
        "SELECT s.id AS session_id, u.* FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.is_active",
        &[&&token_hash[..], &now],
    )
    .await
}

/// Drops a user's expired sessions (housekeeping on log-in keeps the table
/// from growing without a separate job).
pub async fn delete_expired_sessions(
    c: &impl GenericClient,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    db::execute(
        c,
        "delete expired sessions",
        "DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2",
        &[&user_id, &now],
    )
    .await?;
    Ok(())
}

/// Django's `last_login`, kept up to date here.
pub async fn record_login(
    c: &impl GenericClient,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    db::execute(
        c,
        "record log-in",
        "UPDATE users SET last_login_at = $2 WHERE id = $1",
        &[&user_id, &now],
    )
    .await?;
    Ok(())
}

pub async fn delete_session(c: &impl GenericClient, session_id: i64) -> Result<(), DbError> {
    db::execute(
        c,
        "delete session",
        "DELETE FROM sessions WHERE id = $1",
        &[&session_id],
    )
    .await?;
    Ok(())
}

pub async fn delete_sessions(c: &impl GenericClient, user_id: i64) -> Result<u64, DbError> {
    db::execute(
        c,
        "delete sessions",
        "DELETE FROM sessions WHERE user_id = $1",
        &[&user_id],
    )
    .await
}

pub async fn insert_reset(
    c: &impl GenericClient,
    user_id: i64,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    db::execute(
        c,
        "insert password reset",
        "INSERT INTO password_resets (user_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
        &[&user_id, &&token_hash[..], &now, &expires_at],
    )
    .await?;
    Ok(())
}

/// A usable (unused, unexpired) reset token: its id and its user.
pub async fn find_usable_reset(
    c: &impl GenericClient,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<UsableReset>, DbError> {
    db::query_opt(
        c,
        "find password reset",
        "SELECT r.id AS reset_id, u.* FROM password_resets r JOIN users u ON u.id = r.user_id \
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2",
        &[&&token_hash[..], &now],
    )
    .await
}

/// Marks the reset used if it still is usable; `false` if another request
/// consumed it first (or it expired meanwhile). The conditional UPDATE is
/// what makes tokens single-use under concurrency.
pub async fn consume_reset(
    c: &impl GenericClient,
    reset_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let n = db::execute(
        c,
        "consume password reset",
        "UPDATE password_resets SET used_at = $2 \
         WHERE id = $1 AND used_at IS NULL AND expires_at > $2",
        &[&reset_id, &now],
    )
    .await?;
    Ok(n == 1)
}

/// Invalidates every other outstanding reset token of the user.
pub async fn consume_all_resets(
    c: &impl GenericClient,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    db::execute(
        c,
        "consume all password resets",
        "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
        &[&user_id, &now],
    )
    .await?;
    Ok(())
}
