//! SQL for moderation: the log, and the changes staff make.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::Action;
use crate::accounts::AuthenticatedUser;
use crate::db::{self, DbError, FromRow};
use crate::pagination::Cursor;

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub id: i64,
    /// The moderator's username when they acted.
    pub moderator: String,
    pub action: Action,
    /// The post, comment or account acted on.
    pub target_id: i64,
    /// What it was when they acted (a title, a username, a comment's start).
    pub target: String,
    /// Why, as the moderator said ("" when they did not).
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl FromRow for ActionRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        let action: String = row.try_get("action")?;
        Ok(Self {
            id: row.try_get("id")?,
            moderator: row.try_get("moderator")?,
            // The CHECK constraint allows only these.
            action: Action::parse(&action).unwrap_or(Action::DeleteComment),
            target_id: row.try_get("target_id")?,
            target: row.try_get("target")?,
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        })
    }
}

/// Records `action` by `moderator` (in the caller's transaction, so an
/// action and its record commit together).
pub async fn record(
    c: &impl GenericClient,
    moderator: &AuthenticatedUser,
    action: Action,
    target_id: i64,
    target: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<ActionRow, DbError> {
    db::query_one(
        c,
        "record moderation",
        "INSERT INTO moderation_actions \
         (moderator_id, moderator, action, target_id, target, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        &[
            &moderator.id(),
            &moderator.username(),
            &action.as_str(),
            &target_id,
            &target,
            &reason,
            &at,
        ],
    )
    .await
}

/// The log, newest first: `limit` rows after `after`.
pub async fn list(
    c: &impl GenericClient,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<ActionRow>, DbError> {
    match after {
        None => {
            db::query(
                c,
                "list moderation",
                "SELECT * FROM moderation_actions ORDER BY at DESC, id DESC LIMIT $1",
                &[&limit],
            )
            .await
        }
        Some(cur) => {
            let params: [&(dyn ToSql + Sync); 3] = [&cur.at, &cur.id, &limit];
            db::query(
                c,
                "list moderation",
                "SELECT * FROM moderation_actions WHERE (at, id) < ($1, $2) \
                 ORDER BY at DESC, id DESC LIMIT $3",
                &params,
            )
            .await
        }
    }
}

/// A post's title and publication, locked for the change.
pub struct LockedPost {
    pub title: String,
    pub published_at: Option<DateTime<Utc>>,
}

impl FromRow for LockedPost {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            title: row.try_get("title")?,
            published_at: row.try_get("published_at")?,
        })
    }
}

pub async fn lock_post(c: &impl GenericClient, id: i64) -> Result<Option<LockedPost>, DbError> {
    db::query_opt(
        c,
        "lock post",
        "SELECT title, published_at FROM posts WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await
}

/// Makes post `id` a draft: its author keeps it, readers lose it.
pub async fn unpublish(c: &impl GenericClient, id: i64) -> Result<(), DbError> {
    db::execute(
        c,
        "unpublish post",
        "UPDATE posts SET published_at = NULL WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

/// An account's id, name and state, locked for the change.
pub struct LockedUser {
    pub id: i64,
    pub username: String,
    pub is_active: bool,
}

impl FromRow for LockedUser {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            is_active: row.try_get("is_active")?,
        })
    }
}

pub async fn lock_user(
    c: &impl GenericClient,
    username: &str,
) -> Result<Option<LockedUser>, DbError> {
    db::query_opt(
        c,
        "lock user",
        "SELECT id, username, is_active FROM users WHERE lower(username) = lower($1) FOR UPDATE",
        &[&username],
    )
    .await
}

pub async fn set_active(c: &impl GenericClient, id: i64, active: bool) -> Result<(), DbError> {
    db::execute(
        c,
        "set account state",
        "UPDATE users SET is_active = $2 WHERE id = $1",
        &[&id, &active],
    )
    .await?;
    Ok(())
}

/// Grants or withdraws staff; whether the account exists.
pub async fn set_staff(
    c: &impl GenericClient,
    username: &str,
    staff: bool,
) -> Result<bool, DbError> {
    let n = db::execute(
        c,
        "set staff",
        "UPDATE users SET is_staff = $2 WHERE lower(username) = lower($1)",
        &[&username, &staff],
    )
    .await?;
    Ok(n == 1)
}
