//! SQL for posts. Every list query is a keyset scan on an index matching its
//! `ORDER BY`, with separate statements for the first page and later pages
//! (an `$1 IS NULL OR …` predicate would stop a generic plan from using the
//! index bound). Columns are read by name and statements are prepared once
//! per connection.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::domain::{PostContent, PostTitle};
use crate::db::{self, DbError, FromRow};
use crate::pagination::{Cursor, PageRequest};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostRow {
    pub id: i64,
    pub title: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author_id: i64,
    pub author_username: String,
    pub author_avatar_key: Option<String>,
}

impl FromRow for PostRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            title: row.try_get("title")?,
            content: row.try_get("content")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            author_id: row.try_get("author_id")?,
            author_username: row.try_get("author_username")?,
            author_avatar_key: row.try_get("author_avatar_key")?,
        })
    }
}

/// One page plus the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub items: Vec<PostRow>,
    pub next_cursor: Option<Cursor>,
}

/// The columns of [`PostRow`] from `posts p` joined with its author `u`.
macro_rules! select_posts {
    ($from:literal) => {
        concat!(
            "SELECT p.id, p.title, p.content, p.created_at, p.updated_at, p.author_id, \
             u.username AS author_username, u.avatar_key AS author_avatar_key \
             FROM ",
            $from,
            " p JOIN users u ON u.id = p.author_id"
        )
    };
}

fn page(items: Vec<PostRow>, limit: u32) -> Page {
    // One extra row was fetched to learn whether another page exists.
    let mut items = items;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|p| Cursor {
            created_at: p.created_at,
            id: p.id,
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

/// All posts, newest first.
pub async fn list(c: &impl GenericClient, req: PageRequest) -> Result<Page, DbError> {
    let fetch = i64::from(req.limit) + 1;
    let rows = match req.cursor {
        None => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $1"
            );
            db::query(c, "list posts", SQL, &[&fetch]).await?
        }
        Some(cur) => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE (p.created_at, p.id) < ($1, $2)",
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $3"
            );
            db::query(c, "list posts", SQL, &[&cur.created_at, &cur.id, &fetch]).await?
        }
    };
    Ok(page(rows, req.limit))
}

/// One author's posts, newest first.
pub async fn list_by_author(
    c: &impl GenericClient,
    author_id: i64,
    req: PageRequest,
) -> Result<Page, DbError> {
    let fetch = i64::from(req.limit) + 1;
    let rows = match req.cursor {
        None => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE p.author_id = $1",
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $2"
            );
            db::query(c, "list author posts", SQL, &[&author_id, &fetch]).await?
        }
        Some(cur) => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE p.author_id = $1 AND (p.created_at, p.id) < ($2, $3)",
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $4"
            );
            db::query(
                c,
                "list author posts",
                SQL,
                &[&author_id, &cur.created_at, &cur.id, &fetch],
            )
            .await?
        }
    };
    Ok(page(rows, req.limit))
}

struct Id(i64);

impl FromRow for Id {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self(row.try_get("id")?))
    }
}

/// The id of the user named `username` (case-insensitive).
pub async fn find_author(c: &impl GenericClient, username: &str) -> Result<Option<i64>, DbError> {
    let found: Option<Id> = db::query_opt(
        c,
        "find author",
        "SELECT id FROM users WHERE lower(username) = lower($1)",
        &[&username],
    )
    .await?;
    Ok(found.map(|id| id.0))
}

pub async fn get(c: &impl GenericClient, id: i64) -> Result<Option<PostRow>, DbError> {
    const SQL: &str = concat!(select_posts!("posts"), " WHERE p.id = $1");
    db::query_opt(c, "get post", SQL, &[&id]).await
}

pub async fn create(
    c: &impl GenericClient,
    author_id: i64,
    title: &PostTitle,
    content: &PostContent,
    now: DateTime<Utc>,
) -> Result<PostRow, DbError> {
    const SQL: &str = concat!(
        "WITH p AS (INSERT INTO posts (author_id, title, content, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING *) ",
        select_posts!("p")
    );
    db::query_one(
        c,
        "create post",
        SQL,
        &[&author_id, &title.as_str(), &content.as_str(), &now],
    )
    .await
}

/// Whether a post exists, and who wrote it (to tell 404 from 403).
pub async fn author_of(c: &impl GenericClient, id: i64) -> Result<Option<i64>, DbError> {
    struct Author(i64);
    impl FromRow for Author {
        fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
            Ok(Self(row.try_get("author_id")?))
        }
    }
    let found: Option<Author> = db::query_opt(
        c,
        "find post author",
        "SELECT author_id FROM posts WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(found.map(|a| a.0))
}

/// Applies the given changes if `author_id` wrote post `id`; `None` if not
/// (no such post, or another author's).
pub async fn update(
    c: &impl GenericClient,
    id: i64,
    author_id: i64,
    title: Option<&PostTitle>,
    content: Option<&PostContent>,
    now: DateTime<Utc>,
) -> Result<Option<PostRow>, DbError> {
    const SQL: &str = concat!(
        "WITH p AS (UPDATE posts SET title = COALESCE($3, title), \
         content = COALESCE($4, content), updated_at = $5 \
         WHERE id = $1 AND author_id = $2 RETURNING *) ",
        select_posts!("p")
    );
    db::query_opt(
        c,
        "update post",
        SQL,
        &[
            &id,
            &author_id,
            &title.map(PostTitle::as_str),
            &content.map(PostContent::as_str),
            &now,
        ],
    )
    .await
}

/// Deletes post `id` if `author_id` wrote it; whether it did.
pub async fn delete(c: &impl GenericClient, id: i64, author_id: i64) -> Result<bool, DbError> {
    let n = db::execute(
        c,
        "delete post",
        "DELETE FROM posts WHERE id = $1 AND author_id = $2",
        &[&id, &author_id],
    )
    .await?;
    Ok(n == 1)
}
