//! Moderation use cases. Each checks that the caller is staff, makes its
//! change and records it in one transaction, then moves the read cache.

use std::sync::Arc;

use deadpool_postgres::Pool;

use super::Action;
use super::repository::{self as repo, ActionRow};
use crate::accounts::AuthenticatedUser;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::db::{self, Op as _};
use crate::error::{Failure, FailureContext as _, ValidationError, ValidationErrors};
use crate::pagination::Cursor;
use crate::text;

/// Why a moderator acted: optional, at most [`Reason::MAX_CHARS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new("reason", "invalid_reason", msg);
        let reason = raw.unwrap_or_default().trim();
        let chars = reason.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(err(format!(
                "must be at most {} characters (got {chars})",
                Self::MAX_CHARS
            )));
        }
        if reason.chars().any(text::is_control_in_long_text) {
            return Err(err(
                "must not contain control characters other than tab and line breaks".into(),
            ));
        }
        Ok(Self(reason.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpublishError {
    #[error("only staff may moderate")]
    NotStaff,
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("no post has this id")]
    NotFound,
    #[error("this post is not published (it is a draft)")]
    NotPublished,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountActionError {
    #[error("only staff may moderate")]
    NotStaff,
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("no user has this username")]
    NotFound,
    #[error("moderators cannot deactivate their own account")]
    OwnAccount,
    #[error("this account is already inactive")]
    AlreadyInactive,
    #[error("this account is already active")]
    AlreadyActive,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    #[error("only staff may read the moderation log")]
    NotStaff,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// A page of the log, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPage {
    pub items: Vec<ActionRow>,
    pub next: Option<Cursor>,
}

/// The moderation use cases. Cheap to clone.
#[derive(Clone)]
pub struct Moderation(Arc<Deps>);

struct Deps {
    db: Pool,
    cache: Cache,
    clock: Clock,
}

impl Moderation {
    pub fn new(db: Pool, cache: Cache, clock: Clock) -> Self {
        Self(Arc::new(Deps { db, cache, clock }))
    }

    async fn conn(&self, op: &'static str) -> Result<deadpool_postgres::Object, Failure> {
        Ok(db::connect(&self.0.db, op).await?)
    }

    /// Makes another's post a draft: readers lose it everywhere (by id,
    /// lists, tags, search, feeds, sitemap), its author keeps it.
    pub async fn unpublish_post(
        &self,
        who: &AuthenticatedUser,
        id: i64,
        reason: Option<&str>,
    ) -> Result<ActionRow, UnpublishError> {
        if !who.is_staff() {
            return Err(UnpublishError::NotStaff);
        }
        let reason = Reason::parse(reason).map_err(|e| UnpublishError::Invalid(e.into()))?;
        const OP: &str = "unpublishing a post";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let post = repo::lock_post(&tx, id)
            .await
            .context(OP)?
            .ok_or(UnpublishError::NotFound)?;
        if post.published_at.is_none() {
            return Err(UnpublishError::NotPublished);
        }
        repo::unpublish(&tx, id).await.context(OP)?;
        let now = self.0.clock.now();
        let action = repo::record(
            &tx,
            who,
            Action::UnpublishPost,
            id,
            &post.title,
            reason.as_str(),
            now,
        )
        .await
        .context(OP)?;
        tx.commit().await.op("commit").context(OP)?;
        tracing::info!(post_id = id, by = who.id(), "post unpublished by staff");
        self.0.cache.invalidate_posts().await;
        Ok(action)
    }

    /// Deactivates an account: it can no longer log in and every session it
    /// has is revoked at once (its tokens stop working on the next request).
    pub async fn deactivate(
        &self,
        who: &AuthenticatedUser,
        username: &str,
        reason: Option<&str>,
    ) -> Result<ActionRow, AccountActionError> {
        self.set_active(who, username, reason, false).await
    }

    /// Lets a deactivated account log in again (its old sessions stay
    /// revoked).
    pub async fn reactivate(
        &self,
        who: &AuthenticatedUser,
        username: &str,
        reason: Option<&str>,
    ) -> Result<ActionRow, AccountActionError> {
        self.set_active(who, username, reason, true).await
    }

    async fn set_active(
        &self,
        who: &AuthenticatedUser,
        username: &str,
        reason: Option<&str>,
        active: bool,
    ) -> Result<ActionRow, AccountActionError> {
        if !who.is_staff() {
            return Err(AccountActionError::NotStaff);
        }
        let reason = Reason::parse(reason).map_err(|e| AccountActionError::Invalid(e.into()))?;
        if crate::accounts::Username::parse(username).is_err() {
            return Err(AccountActionError::NotFound);
        }
        const OP: &str = "changing an account's state";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let user = repo::lock_user(&tx, username)
            .await
            .context(OP)?
            .ok_or(AccountActionError::NotFound)?;
        if user.id == who.id() {
            return Err(AccountActionError::OwnAccount);
        }
        match (user.is_active, active) {
            (false, false) => return Err(AccountActionError::AlreadyInactive),
            (true, true) => return Err(AccountActionError::AlreadyActive),
            _ => {}
        }
        repo::set_active(&tx, user.id, active).await.context(OP)?;
        if !active {
            crate::accounts::repository::delete_sessions(&tx, user.id)
                .await
                .context(OP)?;
        }
        let action = if active {
            Action::ReactivateAccount
        } else {
            Action::DeactivateAccount
        };
        let now = self.0.clock.now();
        let row = repo::record(
            &tx,
            who,
            action,
            user.id,
            &user.username,
            reason.as_str(),
            now,
        )
        .await
        .context(OP)?;
        tx.commit().await.op("commit").context(OP)?;
        tracing::info!(
            user_id = user.id,
            by = who.id(),
            action = action.as_str(),
            "account moderated"
        );
        Ok(row)
    }

    /// The log, newest first: `limit` actions after `after`.
    pub async fn actions(
        &self,
        who: &AuthenticatedUser,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<ActionPage, ActionsError> {
        if !who.is_staff() {
            return Err(ActionsError::NotStaff);
        }
        const OP: &str = "reading the moderation log";
        let conn = self.conn(OP).await?;
        let mut items = repo::list(&conn, after, i64::from(limit) + 1)
            .await
            .context(OP)?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = more
            .then(|| items.last().map(|a| Cursor { at: a.at, id: a.id }))
            .flatten();
        Ok(ActionPage { items, next })
    }
}

/// `blog staff grant|revoke <username>`: grants or withdraws staff with the
/// service's own settings; an error when no account has this username.
pub async fn set_staff(
    settings: &crate::config::Settings,
    username: &str,
    staff: bool,
) -> anyhow::Result<()> {
    const OP: &str = "setting staff";
    let pool = crate::db::pool(&settings.database)?;
    let conn = db::connect(&pool, OP).await.context(OP)?;
    let found = repo::set_staff(&conn, username, staff).await.context(OP)?;
    anyhow::ensure!(found, "no user has the username {username:?}");
    tracing::info!(username, staff, "staff changed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_optional_and_bounded() {
        assert_eq!(Reason::parse(None).unwrap().as_str(), "");
        assert_eq!(Reason::parse(Some("  spam ")).unwrap().as_str(), "spam");
        assert!(Reason::parse(Some(&"x".repeat(500))).is_ok());
        let e = Reason::parse(Some(&"x".repeat(501))).unwrap_err();
        assert_eq!((e.field.as_ref(), e.code), ("reason", "invalid_reason"));
        assert!(Reason::parse(Some("a\0b")).is_err());
    }

    #[test]
    fn actions_round_trip() {
        for a in [
            Action::UnpublishPost,
            Action::DeleteComment,
            Action::DeactivateAccount,
            Action::ReactivateAccount,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("ban"), None);
    }
}
