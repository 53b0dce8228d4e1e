//! Comment use cases. Reads go through the posts' read cache (one version
//! per post and page, moved by every write like any post change); writes
//! check the post's gate under a lock and move the cache generation (the
//! post's `comment_count` is in every list).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::domain::CommentContent;
use super::repository::{self as repo, CommentRow, PostGate};
use crate::accounts::AuthenticatedUser;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::db::{self, Op as _};
use crate::error::{Failure, FailureContext as _, Limited, ValidationErrors};
use crate::moderation::{self, Action};
use crate::pagination::{Cursor, PageRequest};
use crate::posts::{Author, Posts, Read};
use crate::rate_limit::{RateLimiter, Scope};

/// A comment as readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub post_id: i64,
    /// The source, as written (trimmed).
    pub content: String,
    /// Sanitised HTML, safe to put in a page as it is.
    pub html: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author: Author,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Self {
            id: r.id,
            post_id: r.post_id,
            content: r.content,
            html: r.content_html,
            created_at: r.created_at,
            updated_at: r.updated_at,
            author: Author {
                id: r.author_id,
                username: r.author_username,
                avatar_key: r.author_avatar_key,
            },
        }
    }
}

/// A page of a post's comments, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentPage {
    pub items: Vec<Comment>,
    /// Where the next page starts; `None` on the last.
    pub next: Option<Cursor>,
    /// Whether the post's author closed its comments.
    pub closed: bool,
    /// Whether the post is public (else only its author reads this page,
    /// which then gets no validator).
    pub public: bool,
}

/// The post does not exist or the viewer may not see it (another's draft
/// or scheduled post: its existence is its author's business).
#[derive(Debug, thiserror::Error)]
pub enum ListCommentsError {
    #[error("no post has this id")]
    NotFound,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum CreateCommentError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    RateLimited(#[from] Limited),
    /// No published post has this id (drafts and scheduled posts take no
    /// comments, whoever asks).
    #[error("no published post has this id")]
    NotFound,
    #[error("the author closed the comments on this post")]
    Closed,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum EditCommentError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("no comment has this id")]
    NotFound,
    #[error("only its author may change this comment")]
    NotAuthor,
    #[error("the author closed the comments on this post")]
    Closed,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteCommentError {
    #[error("no comment has this id")]
    NotFound,
    #[error("only the comment's author, the post's author or staff may delete this comment")]
    Forbidden,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// The comment use cases. Cheap to clone.
#[derive(Clone)]
pub struct Comments(Arc<Deps>);

struct Deps {
    db: Pool,
    posts: Posts,
    cache: Cache,
    clock: Clock,
    limiter: RateLimiter,
}

fn public(gate: &PostGate, now: DateTime<Utc>) -> bool {
    gate.published_at.is_some_and(|at| at <= now)
}

/// Whether `viewer` sees the post behind `gate`: everybody once it is
/// public, its author always.
fn visible(gate: &PostGate, viewer: Option<&AuthenticatedUser>, now: DateTime<Utc>) -> bool {
    public(gate, now) || viewer.is_some_and(|v| v.id() == gate.author_id)
}

impl Comments {
    pub fn new(db: Pool, posts: Posts, cache: Cache, clock: Clock, limiter: RateLimiter) -> Self {
        Self(Arc::new(Deps {
            db,
            posts,
            cache,
            clock,
            limiter,
        }))
    }

    async fn conn(&self, op: &'static str) -> Result<deadpool_postgres::Object, Failure> {
        Ok(db::connect(&self.0.db, op).await?)
    }

    /// Page `req` of post `post_id`'s comments, oldest first.
    pub async fn list(
        &self,
        post_id: i64,
        viewer: Option<&AuthenticatedUser>,
        req: PageRequest,
    ) -> Result<CommentPage, ListCommentsError> {
        let version = self.0.posts.version(Read::Comments(post_id, req)).await;
        self.list_at(post_id, viewer, req, version.as_ref()).await
    }

    /// [`Self::list`] at a version read by [`Posts::version`] (for
    /// `Read::Comments(post_id, req)`).
    pub async fn list_at(
        &self,
        post_id: i64,
        viewer: Option<&AuthenticatedUser>,
        req: PageRequest,
        version: Option<&crate::posts::Version>,
    ) -> Result<CommentPage, ListCommentsError> {
        const OP: &str = "listing comments";
        // The gate is cached with the page and checked against the viewer
        // and the time on every read, as a post is.
        let (gate, page): (PostGate, repo::Page) = self
            .0
            .posts
            .cached(version, || async {
                let conn = self.conn(OP).await?;
                let gate = repo::gate(&conn, post_id, false)
                    .await
                    .context(OP)?
                    .ok_or(ListCommentsError::NotFound)?;
                let page = repo::list(&conn, post_id, req).await.context(OP)?;
                Ok::<_, ListCommentsError>((gate, page))
            })
            .await?;
        let now = self.0.clock.now();
        if !visible(&gate, viewer, now) {
            return Err(ListCommentsError::NotFound);
        }
        Ok(CommentPage {
            items: page.items.into_iter().map(Comment::from).collect(),
            next: page.next,
            closed: gate.comments_closed,
            public: public(&gate, now),
        })
    }

    /// `who` comments on post `post_id`, from `client_ip`.
    pub async fn create(
        &self,
        who: &AuthenticatedUser,
        client_ip: &str,
        post_id: i64,
        content: &str,
    ) -> Result<Comment, CreateCommentError> {
        let content =
            CommentContent::parse(content).map_err(|e| CreateCommentError::Invalid(e.into()))?;
        let limiter = &self.0.limiter;
        limiter
            .check(Scope::CommentPerAccount, &format!("account:{}", who.id()))
            .await?;
        limiter.check(Scope::CommentPerIp, client_ip).await?;
        // Rendered before taking a connection (see `Posts::create`).
        let html = content.html();
        const OP: &str = "commenting";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let gate = repo::gate(&tx, post_id, true)
            .await
            .context(OP)?
            .ok_or(CreateCommentError::NotFound)?;
        let now = self.0.clock.now();
        if !public(&gate, now) {
            return Err(CreateCommentError::NotFound);
        }
        if gate.comments_closed {
            return Err(CreateCommentError::Closed);
        }
        let row = repo::create(&tx, post_id, who.id(), content.as_str(), &html, now)
            .await
            .context(OP)?;
        tx.commit().await.op("commit").context(OP)?;
        self.0.cache.invalidate_posts().await;
        Ok(Comment::from(row))
    }

    /// A comment its author is about to edit (the website's form): the
    /// same answers as [`Self::edit`] would give.
    pub async fn find_own(
        &self,
        who: &AuthenticatedUser,
        id: i64,
    ) -> Result<Comment, EditCommentError> {
        const OP: &str = "reading a comment";
        let conn = self.conn(OP).await?;
        let row = repo::find(&conn, id)
            .await
            .context(OP)?
            .ok_or(EditCommentError::NotFound)?;
        let gate = repo::gate(&conn, row.post_id, false)
            .await
            .context(OP)?
            .filter(|g| visible(g, Some(who), self.0.clock.now()))
            .ok_or(EditCommentError::NotFound)?;
        if row.author_id != who.id() {
            return Err(EditCommentError::NotAuthor);
        }
        if gate.comments_closed {
            return Err(EditCommentError::Closed);
        }
        Ok(Comment::from(row))
    }

    /// The comment's author changes its text, while comments are open.
    pub async fn edit(
        &self,
        who: &AuthenticatedUser,
        id: i64,
        content: &str,
    ) -> Result<Comment, EditCommentError> {
        let content =
            CommentContent::parse(content).map_err(|e| EditCommentError::Invalid(e.into()))?;
        let html = content.html();
        const OP: &str = "editing a comment";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let now = self.0.clock.now();
        let current = repo::lock(&tx, id)
            .await
            .context(OP)?
            .filter(|c| visible(&c.post, Some(who), now))
            .ok_or(EditCommentError::NotFound)?;
        if current.author_id != who.id() {
            return Err(EditCommentError::NotAuthor);
        }
        if current.post.comments_closed {
            return Err(EditCommentError::Closed);
        }
        let row = repo::update(&tx, id, content.as_str(), &html, now)
            .await
            .context(OP)?;
        tx.commit().await.op("commit").context(OP)?;
        self.0.cache.invalidate_posts().await;
        Ok(Comment::from(row))
    }

    /// Deletes a comment: its author, the post's author, or staff (whose
    /// deletion of others' comments is recorded in the moderation log).
    pub async fn delete(
        &self,
        who: &AuthenticatedUser,
        id: i64,
    ) -> Result<i64, DeleteCommentError> {
        const OP: &str = "deleting a comment";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let now = self.0.clock.now();
        let current = repo::lock(&tx, id)
            .await
            .context(OP)?
            .filter(|c| who.is_staff() || visible(&c.post, Some(who), now))
            .ok_or(DeleteCommentError::NotFound)?;
        let own = current.author_id == who.id() || current.post.author_id == who.id();
        if !own && !who.is_staff() {
            return Err(DeleteCommentError::Forbidden);
        }
        repo::delete(&tx, id).await.context(OP)?;
        if !own {
            moderation::record(
                &tx,
                who,
                Action::DeleteComment,
                id,
                &CommentContent::summary(&current.content),
                "",
                now,
            )
            .await
            .context(OP)?;
        }
        tx.commit().await.op("commit").context(OP)?;
        tracing::info!(
            comment_id = id,
            post_id = current.post_id,
            by = who.id(),
            "comment deleted"
        );
        self.0.cache.invalidate_posts().await;
        Ok(current.post_id)
    }
}
