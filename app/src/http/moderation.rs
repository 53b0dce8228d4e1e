//! `/api/moderation`: staff actions and their log, translated to and from
//! [`crate::moderation::Moderation`].

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::ApiTags;
use super::auth::BearerAuth;
use super::nullable::{Nullable, OptionalNullable};
use super::problem::{ApiError, Problem};
use super::strict::{Text, rules};
use crate::accounts::AuthError;
use crate::error::Failure;
use crate::moderation::{AccountActionError, ActionRow, ActionsError, UnpublishError};
use crate::pagination::{Cursor, PageError};
use crate::startup::AppState;
use crate::{documented, operation, problem_doc};

/// What a moderator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A post made a draft (`target_id`: the post).
    UnpublishPost,
    /// Someone else's comment deleted (`target_id`: the comment).
    DeleteComment,
    /// An account deactivated, its sessions revoked (`target_id`: the user).
    DeactivateAccount,
    /// An account allowed to log in again (`target_id`: the user).
    ReactivateAccount,
}

impl From<crate::moderation::Action> for ActionKind {
    fn from(a: crate::moderation::Action) -> Self {
        use crate::moderation::Action as A;
        match a {
            A::UnpublishPost => Self::UnpublishPost,
            A::DeleteComment => Self::DeleteComment,
            A::DeactivateAccount => Self::DeactivateAccount,
            A::ReactivateAccount => Self::ReactivateAccount,
        }
    }
}

/// One recorded staff action.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct ModerationAction {
    /// Identifier of the record.
    pub id: i64,
    // What was done. Not a doc comment: it would wrap the `$ref` in `allOf`.
    pub action: ActionKind,
    /// The moderator's username when they acted.
    pub moderator: String,
    /// The id of the post, comment or user acted on.
    pub target_id: i64,
    /// What it was then: a post's title, a username, a comment's first words.
    pub target: String,
    /// Why, as the moderator wrote it; empty when they did not.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct ModerationLog {
    /// At most `limit` actions.
    pub items: Vec<ModerationAction>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Nullable<String>,
}

/// Why the moderator acts (kept in the log).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ModerationReason {
    /// At most 500 characters; none when absent or `null`.
    pub reason: OptionalNullable<Text<rules::ReasonText>>,
}

#[derive(ApiResponse)]
pub enum Recorded {
    /// Done, and recorded.
    #[oai(status = 200)]
    Ok(Json<ModerationAction>),
}

#[derive(ApiResponse)]
pub enum Log {
    /// One page of the log, newest first.
    #[oai(status = 200)]
    Ok(Json<ModerationLog>),
}

problem_doc!(NOT_STAFF = 403 "forbidden",
    "Only staff may moderate (Django's `is_staff`, or `blog staff grant <username>`).",
    "only staff may moderate");
problem_doc!(POST_NOT_FOUND = 404 "not_found", "No post has this id.", "no post has this id");
problem_doc!(NOT_PUBLISHED = 409 "not_published",
    "The post is already a draft.", "this post is not published (it is a draft)");
problem_doc!(REASON_INVALID = 422 "validation_failed",
    "The reason breaks a rule; `errors` says which (`invalid_reason`).",
    "reason: must be at most 500 characters (got 501)",
    [("reason", "invalid_reason", "must be at most 500 characters (got 501)")]);
problem_doc!(USER_NOT_FOUND = 404 "not_found",
    "No user has this username (matched case-insensitively).", "no user has this username");
problem_doc!(OWN_ACCOUNT = 409 "own_account",
    "Moderators cannot deactivate their own account.",
    "moderators cannot deactivate their own account");
problem_doc!(ALREADY_INACTIVE = 409 "already_inactive",
    "The account is already deactivated.", "this account is already inactive");
problem_doc!(ALREADY_ACTIVE = 409 "already_active",
    "The account is already active.", "this account is already active");

documented!(UnpublishError {
    UnpublishError::NotStaff => NOT_STAFF;
    UnpublishError::Invalid(e) => REASON_INVALID, |p: Problem| p.with_errors(e);
    UnpublishError::NotFound => POST_NOT_FOUND;
    UnpublishError::NotPublished => NOT_PUBLISHED;
    UnpublishError::Failed(e) => via Failure(e);
});
documented!(AccountActionError {
    AccountActionError::NotStaff => NOT_STAFF;
    AccountActionError::Invalid(e) => REASON_INVALID, |p: Problem| p.with_errors(e);
    AccountActionError::NotFound => USER_NOT_FOUND;
    AccountActionError::OwnAccount => OWN_ACCOUNT;
    AccountActionError::AlreadyInactive => ALREADY_INACTIVE;
    AccountActionError::AlreadyActive => ALREADY_ACTIVE;
    AccountActionError::Failed(e) => via Failure(e);
});
documented!(ActionsError {
    ActionsError::NotStaff => NOT_STAFF;
    ActionsError::Failed(e) => via Failure(e);
});

operation!(UnpublishPost = "unpublish_post": AuthError, UnpublishError; json_body, parameters);
operation!(DeactivateUser = "deactivate_user": AuthError, AccountActionError; json_body, parameters);
operation!(ReactivateUser = "reactivate_user": AuthError, AccountActionError; json_body, parameters);
operation!(ListModeration = "list_moderation_actions": AuthError, ActionsError, PageError; parameters);

fn default_limit() -> u32 {
    50
}

pub struct ModerationApi;

#[OpenApi(tag = "ApiTags::Moderation")]
impl ModerationApi {
    /// Unpublish a post (staff)
    ///
    /// Makes anybody's published or scheduled post a draft: readers lose
    /// it everywhere, its author keeps it. Recorded in the log.
    #[oai(
        path = "/moderation/posts/:id/unpublish",
        method = "post",
        operation_id = "unpublish_post"
    )]
    async fn unpublish(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The post's `id`.
        id: Path<i64>,
        body: Json<ModerationReason>,
    ) -> Result<Recorded, ApiError<UnpublishPost>> {
        let who = state.authenticate(&auth).await?;
        let row = state
            .moderation
            .unpublish_post(&who, id.0, body.reason.0.as_deref())
            .await?;
        Ok(Recorded::Ok(Json(to_action(row))))
    }

    /// Deactivate an account (staff)
    ///
    /// It can no longer log in (log-in answers as for a wrong password) and
    /// every session it has is revoked at once. Recorded in the log.
    #[oai(
        path = "/moderation/users/:username/deactivate",
        method = "post",
        operation_id = "deactivate_user"
    )]
    async fn deactivate(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The username (case-insensitive).
        username: Path<String>,
        body: Json<ModerationReason>,
    ) -> Result<Recorded, ApiError<DeactivateUser>> {
        let who = state.authenticate(&auth).await?;
        let row = state
            .moderation
            .deactivate(&who, &username.0, body.reason.0.as_deref())
            .await?;
        Ok(Recorded::Ok(Json(to_action(row))))
    }

    /// Reactivate an account (staff)
    ///
    /// It may log in again; sessions revoked on deactivation stay revoked.
    /// Recorded in the log.
    #[oai(
        path = "/moderation/users/:username/reactivate",
        method = "post",
        operation_id = "reactivate_user"
    )]
    async fn reactivate(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The username (case-insensitive).
        username: Path<String>,
        body: Json<ModerationReason>,
    ) -> Result<Recorded, ApiError<ReactivateUser>> {
        let who = state.authenticate(&auth).await?;
        let row = state
            .moderation
            .reactivate(&who, &username.0, body.reason.0.as_deref())
            .await?;
        Ok(Recorded::Ok(Json(to_action(row))))
    }

    /// The moderation log (staff)
    ///
    /// Every staff action, newest first, `limit` per page (default 50, at
    /// most 100); follow `next_cursor`.
    #[oai(
        path = "/moderation/actions",
        method = "get",
        operation_id = "list_moderation_actions"
    )]
    async fn actions(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Opaque cursor from a previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u32>,
    ) -> Result<Log, ApiError<ListModeration>> {
        let who = state.authenticate(&auth).await?;
        let after = cursor.0.as_deref().map(Cursor::decode).transpose()?;
        let page = state.moderation.actions(&who, after, limit.0).await?;
        Ok(Log::Ok(Json(ModerationLog {
            items: page.items.into_iter().map(to_action).collect(),
            next_cursor: page.next.map(|c| c.encode()).into(),
        })))
    }
}

fn to_action(a: ActionRow) -> ModerationAction {
    ModerationAction {
        id: a.id,
        action: a.action.into(),
        moderator: a.moderator,
        target_id: a.target_id,
        target: a.target,
        reason: a.reason,
        at: a.at,
    }
}

impl Example for ModerationAction {
    fn example() -> Self {
        ModerationAction {
            id: 3,
            action: ActionKind::UnpublishPost,
            moderator: "editor".into(),
            target_id: 42,
            target: "Buy cheap watches".into(),
            reason: "spam".into(),
            at: DateTime::parse_from_rfc3339("2026-05-03T08:00:00Z")
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
        }
    }
}

impl Example for ModerationLog {
    fn example() -> Self {
        let a = ModerationAction::example();
        let next = Cursor { at: a.at, id: a.id };
        ModerationLog {
            items: vec![a],
            next_cursor: Some(next.encode()).into(),
        }
    }
}

impl Example for ModerationReason {
    fn example() -> Self {
        ModerationReason {
            reason: Some(Text::new("spam")).into(),
        }
    }
}
