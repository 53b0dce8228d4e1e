//! Comments on posts: readers' replies to published posts, in a Markdown
//! subset rendered once on write (`posts::markdown`, reader rules: no
//! headings, tables or images; links `nofollow ugc`).
//!
//! `domain` holds the value types, `repository` the SQL, `service` the use
//! cases and their error enums (no HTTP here: the API and the website map
//! them). Who may do what:
//! - comment: any signed-in reader, on a post public now whose comments
//!   are open, within the per-account and per-address rate limits;
//! - edit: the comment's author, while the post's comments are open;
//! - delete: the comment's author, the post's author, or staff (recorded in
//!   the moderation log when staff act on others' comments).

pub mod domain;
pub mod repository;
pub mod service;

pub use domain::{COMMENT_MAX_CHARS, CommentContent};
pub use service::{
    Comment, CommentPage, Comments, CreateCommentError, DeleteCommentError, EditCommentError,
    ListCommentsError,
};
