//! SQL for comments. A post's comments are a keyset scan of
//! `comments_post_created_at_id_idx`, oldest first; columns are read by name.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::db::{self, DbError, FromRow};
use crate::pagination::{Cursor, PageRequest, Position};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommentRow {
    pub id: i64,
    pub post_id: i64,
    pub content: String,
    pub content_html: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author_id: i64,
    pub author_username: String,
    pub author_avatar_key: Option<String>,
}

impl FromRow for CommentRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            post_id: row.try_get("post_id")?,
            content: row.try_get("content")?,
            content_html: row.try_get("content_html")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            author_id: row.try_get("author_id")?,
            author_username: row.try_get("author_username")?,
            author_avatar_key: row.try_get("author_avatar_key")?,
        })
    }
}

/// The columns of [`CommentRow`] from `$from c` joined with its author.
macro_rules! select_comments {
    ($from:literal) => {
        concat!(
            "SELECT c.id, c.post_id, c.content, c.content_html, c.created_at, c.updated_at, \
             c.author_id, u.username AS author_username, u.avatar_key AS author_avatar_key \
             FROM ",
            $from,
            " c JOIN users u ON u.id = c.author_id"
        )
    };
}

pub mod sql {
    /// `$1` the post, `$2` rows.
    pub const LIST_FIRST: &str = concat!(
        select_comments!("comments"),
        " WHERE c.post_id = $1 ORDER BY c.created_at, c.id LIMIT $2"
    );
    /// `$1` the post, `($2, $3)` the cursor, `$4` rows.
    pub const LIST_AFTER: &str = concat!(
        select_comments!("comments"),
        " WHERE c.post_id = $1 AND (c.created_at, c.id) > ($2, $3)",
        " ORDER BY c.created_at, c.id LIMIT $4"
    );
}

/// What decides who may see and comment on a post.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostGate {
    pub author_id: i64,
    pub published_at: Option<DateTime<Utc>>,
    pub comments_closed: bool,
}

impl FromRow for PostGate {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            author_id: row.try_get("author_id")?,
            published_at: row.try_get("published_at")?,
            comments_closed: row.try_get("comments_closed")?,
        })
    }
}

/// Post `id`'s gate; `lock`: held against closing until the transaction
/// ends (a comment is never added to a post closed meanwhile).
pub async fn gate(
    c: &impl GenericClient,
    id: i64,
    lock: bool,
) -> Result<Option<PostGate>, DbError> {
    const PLAIN: &str = "SELECT author_id, published_at, comments_closed FROM posts WHERE id = $1";
    const LOCKED: &str =
        "SELECT author_id, published_at, comments_closed FROM posts WHERE id = $1 FOR SHARE";
    db::query_opt(
        c,
        "read post gate",
        if lock { LOCKED } else { PLAIN },
        &[&id],
    )
    .await
}

/// One page of a post's comments, oldest first, and the cursor of the next.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub items: Vec<CommentRow>,
    pub next: Option<Cursor>,
}

/// Page `req` of post `post_id`'s comments (`Position::Before` reads from the
/// start: comments are paged forwards only).
pub async fn list(c: &impl GenericClient, post_id: i64, req: PageRequest) -> Result<Page, DbError> {
    let fetch = i64::from(req.limit) + 1;
    let mut rows: Vec<CommentRow> = match req.position {
        Position::After(cur) => {
            let params: [&(dyn ToSql + Sync); 4] = [&post_id, &cur.at, &cur.id, &fetch];
            db::query(c, "list comments", sql::LIST_AFTER, &params).await?
        }
        Position::First | Position::Before(_) => {
            db::query(c, "list comments", sql::LIST_FIRST, &[&post_id, &fetch]).await?
        }
    };
    let more = rows.len() > req.limit as usize;
    rows.truncate(req.limit as usize);
    let next = more
        .then(|| {
            rows.last().map(|r| Cursor {
                at: r.created_at,
                id: r.id,
            })
        })
        .flatten();
    Ok(Page { items: rows, next })
}

pub async fn find(c: &impl GenericClient, id: i64) -> Result<Option<CommentRow>, DbError> {
    const SQL: &str = concat!(select_comments!("comments"), " WHERE c.id = $1");
    db::query_opt(c, "find comment", SQL, &[&id]).await
}

pub async fn create(
    c: &impl GenericClient,
    post_id: i64,
    author_id: i64,
    content: &str,
    html: &str,
    now: DateTime<Utc>,
) -> Result<CommentRow, DbError> {
    const SQL: &str = concat!(
        "WITH c AS (INSERT INTO comments \
         (post_id, author_id, content, content_html, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING *) ",
        select_comments!("c")
    );
    db::query_one(
        c,
        "create comment",
        SQL,
        &[&post_id, &author_id, &content, &html, &now],
    )
    .await
}

/// A comment with what decides who may change it, locked until the
/// transaction ends.
#[derive(Debug, Clone)]
pub struct Locked {
    pub author_id: i64,
    pub content: String,
    pub post_id: i64,
    pub post: PostGate,
}

impl FromRow for Locked {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            author_id: row.try_get("author_id")?,
            content: row.try_get("content")?,
            post_id: row.try_get("post_id")?,
            post: PostGate {
                author_id: row.try_get("post_author_id")?,
                published_at: row.try_get("published_at")?,
                comments_closed: row.try_get("comments_closed")?,
            },
        })
    }
}

pub async fn lock(c: &impl GenericClient, id: i64) -> Result<Option<Locked>, DbError> {
    db::query_opt(
        c,
        "lock comment",
        "SELECT c.author_id, c.content, c.post_id, p.author_id AS post_author_id, \
         p.published_at, p.comments_closed \
         FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.id = $1 \
         FOR UPDATE OF c FOR SHARE OF p",
        &[&id],
    )
    .await
}

pub async fn update(
    c: &impl GenericClient,
    id: i64,
    content: &str,
    html: &str,
    now: DateTime<Utc>,
) -> Result<CommentRow, DbError> {
    const SQL: &str = concat!(
        "WITH c AS (UPDATE comments SET content = $2, content_html = $3, updated_at = $4 \
         WHERE id = $1 RETURNING *) ",
        select_comments!("c")
    );
    db::query_one(c, "update comment", SQL, &[&id, &content, &html, &now]).await
}

pub async fn delete(c: &impl GenericClient, id: i64) -> Result<(), DbError> {
    db::execute(
        c,
        "delete comment",
        "DELETE FROM comments WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}
