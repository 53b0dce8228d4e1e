//! Staff moderation: unpublishing any post, deleting any comment (see
//! `comments`), deactivating and reactivating accounts. Staff are the users
//! with `is_staff` (imported from Django's, or granted with `blog staff
//! grant <username>`). Every action is recorded in `moderation_actions`
//! (who, what, on what, when, why) in the transaction that makes it.
//!
//! `repository` holds the SQL, `service` the use cases and their error
//! enums; the API maps them (no HTTP here).

pub mod repository;
pub mod service;

pub use repository::{ActionRow, record};
pub use service::{
    AccountActionError, ActionPage, ActionsError, Moderation, Reason, UnpublishError, set_staff,
};

/// What a moderator did (`moderation_actions.action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    UnpublishPost,
    DeleteComment,
    DeactivateAccount,
    ReactivateAccount,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::UnpublishPost => "unpublish_post",
            Action::DeleteComment => "delete_comment",
            Action::DeactivateAccount => "deactivate_account",
            Action::ReactivateAccount => "reactivate_account",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Action::UnpublishPost,
            Action::DeleteComment,
            Action::DeactivateAccount,
            Action::ReactivateAccount,
        ]
        .into_iter()
        .find(|a| a.as_str() == raw)
    }
}
