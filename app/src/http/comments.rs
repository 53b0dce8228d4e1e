//! `/api/posts/{id}/comments` and `/api/comments/{id}`: translation between
//! HTTP and [`crate::comments::Comments`].

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::ApiTags;
use super::auth::BearerAuth;
use super::client_ip::ClientIp;
use super::conditional::{self, Decision};
use super::nullable::Nullable;
use super::posts::{AuthorSummary, public_url};
use super::problem::{ApiError, Problem};
use super::strict::{Text, rules};
use crate::accounts::AuthError;
use crate::avatars::avatar_url;
use crate::comments::{
    CreateCommentError, DeleteCommentError, EditCommentError, ListCommentsError,
};
use crate::error::{Failure, Limited};
use crate::pagination::{Cursor, PageError, PageRequest};
use crate::posts::Read;
use crate::startup::AppState;
use crate::{documented, operation, problem_doc};

/// A reader's comment on a post.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct Comment {
    /// Identifier, used in `/api/comments/{id}`.
    pub id: i64,
    /// The post it answers.
    pub post_id: i64,
    /// The text as written (trimmed): a Markdown subset (emphasis, links,
    /// code, quotes, lists; no headings, tables or images).
    pub content: String,
    /// `content` rendered to sanitised HTML, safe to embed as it is; links
    /// carry `rel="nofollow ugc noopener"`.
    pub content_html: String,
    pub author: AuthorSummary,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it was last edited (equals `created_at` if never).
    pub updated_at: DateTime<Utc>,
}

/// A page of a post's comments, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct CommentPage {
    /// At most `limit` comments.
    pub items: Vec<Comment>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Nullable<String>,
    /// Whether the post's author closed its comments (no new ones).
    pub comments_closed: bool,
}

/// A comment's text: 1–5000 characters once trimmed, a Markdown subset;
/// no control characters but tab and line breaks.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewComment {
    /// The text (see the schema's description).
    pub content: Text<rules::CommentText>,
}

#[derive(ApiResponse)]
pub enum Comments {
    /// One page of comments, oldest first.
    #[oai(status = 200)]
    Ok(
        Json<CommentPage>,
        /// Weak validator of this page: send it back in `If-None-Match`.
        /// Absent while the cache (Redis) is unavailable, and on the
        /// comments of a post only its author sees.
        #[oai(header = "ETag")]
        Option<String>,
    ),
    /// `If-None-Match` names the page's current `ETag`. No body.
    #[oai(status = 304)]
    NotModified(
        /// The current validator (the one matched).
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum CreatedComment {
    /// The comment was written.
    #[oai(status = 201)]
    Created(
        Json<Comment>,
        /// Where it can be changed or deleted.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum OneComment {
    /// The comment as it now is.
    #[oai(status = 200)]
    Ok(Json<Comment>),
}

#[derive(ApiResponse)]
pub enum DeletedComment {
    /// The comment is gone.
    #[oai(status = 204)]
    Deleted,
}

problem_doc!(POST_NOT_FOUND = 404 "not_found",
    "No post has this id, or it is someone else's draft or scheduled post.",
    "no post has this id");
problem_doc!(NO_PUBLISHED_POST = 404 "not_found",
    "No published post has this id: drafts and scheduled posts take no comments (not even from their author).",
    "no published post has this id");
problem_doc!(COMMENTS_CLOSED = 409 "comments_closed",
    "The post's author closed its comments: no new comments and no edits (deleting stays possible).",
    "the author closed the comments on this post");
problem_doc!(COMMENT_INVALID = 422 "validation_failed",
    "The text breaks a rule; `errors` says which (`invalid_content`).",
    "content: must not be empty",
    [("content", "invalid_content", "must not be empty")]);
problem_doc!(COMMENT_NOT_FOUND = 404 "not_found",
    "No comment has this id (it may have been deleted), or it is on a post you cannot see.",
    "no comment has this id");
problem_doc!(NOT_COMMENT_AUTHOR = 403 "forbidden",
    "The comment was written by someone else; only its author may edit it.",
    "only its author may change this comment");
problem_doc!(DELETE_FORBIDDEN = 403 "forbidden",
    "Only the comment's author, the post's author or staff may delete it.",
    "only the comment's author, the post's author or staff may delete this comment");

documented!(ListCommentsError {
    ListCommentsError::NotFound => POST_NOT_FOUND;
    ListCommentsError::Failed(e) => via Failure(e);
});
documented!(CreateCommentError {
    CreateCommentError::Invalid(e) => COMMENT_INVALID, |p: Problem| p.with_errors(e);
    CreateCommentError::RateLimited(e) => via Limited(e);
    CreateCommentError::NotFound => NO_PUBLISHED_POST;
    CreateCommentError::Closed => COMMENTS_CLOSED;
    CreateCommentError::Failed(e) => via Failure(e);
});
documented!(EditCommentError {
    EditCommentError::Invalid(e) => COMMENT_INVALID, |p: Problem| p.with_errors(e);
    EditCommentError::NotFound => COMMENT_NOT_FOUND;
    EditCommentError::NotAuthor => NOT_COMMENT_AUTHOR;
    EditCommentError::Closed => COMMENTS_CLOSED;
    EditCommentError::Failed(e) => via Failure(e);
});
documented!(DeleteCommentError {
    DeleteCommentError::NotFound => COMMENT_NOT_FOUND;
    DeleteCommentError::Forbidden => DELETE_FORBIDDEN;
    DeleteCommentError::Failed(e) => via Failure(e);
});

operation!(ListComments = "list_comments": PageError, AuthError, ListCommentsError; parameters);
operation!(CreateComment = "create_comment": AuthError, CreateCommentError; json_body, parameters);
operation!(UpdateComment = "update_comment": AuthError, EditCommentError; json_body, parameters);
operation!(DeleteComment = "delete_comment": AuthError, DeleteCommentError; parameters);

fn default_limit() -> u32 {
    50
}

pub struct CommentsApi;

#[OpenApi(tag = "ApiTags::Comments")]
impl CommentsApi {
    /// List a post's comments
    ///
    /// Oldest first, `limit` per page (default 50, at most 100); follow
    /// `next_cursor`. A draft or scheduled post's comments are found only
    /// with its author's bearer token (optional; a token that is sent must
    /// be valid, 401).
    #[oai(
        path = "/posts/:id/comments",
        method = "get",
        operation_id = "list_comments"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// The post's `id`.
        id: Path<i64>,
        /// Opaque cursor from a previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u32>,
        /// `ETag`s of copies the client holds (a 304 answers when one is
        /// current), or `*`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
        request: &Request,
    ) -> Result<Comments, ApiError<ListComments>> {
        let req = PageRequest::parse(cursor.0.as_deref(), Some(limit.0))?;
        let viewer = state.viewer(request).await?;
        let inm = if_none_match.0.as_deref();
        let version = state.posts.version(Read::Comments(id.0, req)).await;
        let (version, etag) = match conditional::decide(public_url(&state), version, inm) {
            // Only public pages carry a validator (see `get_post`).
            Decision::Unchanged(etag) => return Ok(Comments::NotModified(etag)),
            Decision::Load { version, etag } => (version, etag),
        };
        let page = state
            .comments
            .list_at(id.0, viewer.as_ref(), req, version.as_ref())
            .await?;
        let etag = etag.filter(|_| page.public);
        let body = CommentPage {
            items: page
                .items
                .into_iter()
                .map(|c| to_comment(&state, c))
                .collect(),
            next_cursor: page.next.map(|c: Cursor| c.encode()).into(),
            comments_closed: page.closed,
        };
        Ok(match etag {
            Some(etag) if conditional::any(inm) => Comments::NotModified(etag),
            etag => Comments::Ok(Json(body), etag),
        })
    }

    /// Comment on a post
    ///
    /// The authenticated user comments on a published post whose comments
    /// are open. Limited per account and per client address (429 with
    /// `Retry-After`).
    #[oai(
        path = "/posts/:id/comments",
        method = "post",
        operation_id = "create_comment"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        ip: ClientIp,
        /// The post's `id`.
        id: Path<i64>,
        body: Json<NewComment>,
    ) -> Result<CreatedComment, ApiError<CreateComment>> {
        let who = state.authenticate(&auth).await?;
        let comment = state
            .comments
            .create(&who, &ip.to_string(), id.0, &body.content)
            .await?;
        let location = format!("/api/comments/{}", comment.id);
        Ok(CreatedComment::Created(
            Json(to_comment(&state, comment)),
            location,
        ))
    }

    /// Edit a comment
    ///
    /// Only its author may, while the post's comments are open.
    #[oai(
        path = "/comments/:id",
        method = "patch",
        operation_id = "update_comment"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The comment's `id`.
        id: Path<i64>,
        body: Json<NewComment>,
    ) -> Result<OneComment, ApiError<UpdateComment>> {
        let who = state.authenticate(&auth).await?;
        let comment = state.comments.edit(&who, id.0, &body.content).await?;
        Ok(OneComment::Ok(Json(to_comment(&state, comment))))
    }

    /// Delete a comment
    ///
    /// Its author, the post's author, or staff (recorded in the moderation
    /// log) may; also when comments are closed.
    #[oai(
        path = "/comments/:id",
        method = "delete",
        operation_id = "delete_comment"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The comment's `id`.
        id: Path<i64>,
    ) -> Result<DeletedComment, ApiError<DeleteComment>> {
        let who = state.authenticate(&auth).await?;
        state.comments.delete(&who, id.0).await?;
        Ok(DeletedComment::Deleted)
    }
}

fn to_comment(state: &AppState, c: crate::comments::Comment) -> Comment {
    Comment {
        id: c.id,
        post_id: c.post_id,
        content: c.content,
        content_html: c.html,
        author: AuthorSummary {
            avatar_url: avatar_url(public_url(state), c.author.avatar_key.as_deref()),
            username: c.author.username,
        },
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

impl Example for Comment {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-05-02T10:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Comment {
            id: 7,
            post_id: 42,
            content: "Thanks, *very* useful.".into(),
            content_html: "<p>Thanks, <em>very</em> useful.</p>\n".into(),
            author: AuthorSummary {
                username: "reader".into(),
                avatar_url: "https://blog.example/media/avatars/default.png".into(),
            },
            created_at: at,
            updated_at: at,
        }
    }
}

impl Example for CommentPage {
    fn example() -> Self {
        let c = Comment::example();
        let next = Cursor {
            at: c.created_at,
            id: c.id,
        };
        CommentPage {
            items: vec![c],
            next_cursor: Some(next.encode()).into(),
            comments_closed: false,
        }
    }
}

impl Example for NewComment {
    fn example() -> Self {
        NewComment {
            content: Text::new("Thanks, *very* useful."),
        }
    }
}
