//! SQL for posts. Every list query is a keyset scan on an index matching its
//! `ORDER BY`, with separate statements for the first page and later pages
//! (an `$1 IS NULL OR …` predicate would stop a generic plan from using the
//! index bound). Columns are read by name and statements are prepared once
//! per connection.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::domain::{PostBody, PostTitle};
use crate::db::{self, DbError, FromRow, Id};
use crate::pagination::{Cursor, PageRequest, Position};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostRow {
    pub id: i64,
    pub title: String,
    pub content: String,
    /// `plain` or `markdown` (a CHECK constraint holds it to these).
    pub format: String,
    /// The sanitised HTML rendered when the post was written; empty for
    /// posts written before Markdown (and imported ones): rendered on read.
    pub content_html: String,
    pub excerpt: String,
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
            format: row.try_get("format")?,
            content_html: row.try_get("content_html")?,
            excerpt: row.try_get("excerpt")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            author_id: row.try_get("author_id")?,
            author_username: row.try_get("author_username")?,
            author_avatar_key: row.try_get("author_avatar_key")?,
        })
    }
}

/// One page, newest first, with where the neighbouring pages start.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub items: Vec<PostRow>,
    /// Cursor for the next older page; `None` on the last page.
    pub older: Option<Cursor>,
    /// Cursor for the next newer page; `None` on the first page (as far as
    /// this page can tell: a page reached with an older-cursor always offers
    /// one, which may turn out empty if posts were deleted meanwhile).
    pub newer: Option<Cursor>,
}

/// The columns of [`PostRow`] from `posts p` joined with its author `u`.
macro_rules! select_posts {
    ($from:literal) => {
        concat!(
            "SELECT p.id, p.title, p.content, p.format, p.content_html, p.excerpt, p.created_at, p.updated_at, p.author_id, \
             u.username AS author_username, u.avatar_key AS author_avatar_key \
             FROM ",
            $from,
            " p JOIN users u ON u.id = p.author_id"
        )
    };
}

fn cursor_of(p: &PostRow) -> Cursor {
    Cursor {
        created_at: p.created_at,
        id: p.id,
    }
}

/// Builds a page from `limit + 1` rows fetched in the direction of `req`
/// (one extra row tells whether another page exists that way).
fn page(mut rows: Vec<PostRow>, req: PageRequest) -> Page {
    let limit = req.limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    match req.position {
        Position::First | Position::After(_) => Page {
            older: if more {
                rows.last().map(cursor_of)
            } else {
                None
            },
            newer: match req.position {
                Position::After(_) => rows.first().map(cursor_of),
                _ => None,
            },
            items: rows,
        },
        Position::Before(_) => {
            // Read oldest first; shown newest first.
            rows.reverse();
            Page {
                older: rows.last().map(cursor_of),
                newer: if more {
                    rows.first().map(cursor_of)
                } else {
                    None
                },
                items: rows,
            }
        }
    }
}

/// All posts, newest first.
pub async fn list(c: &impl GenericClient, req: PageRequest) -> Result<Page, DbError> {
    let fetch = i64::from(req.limit) + 1;
    let rows = match req.position {
        Position::First => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $1"
            );
            db::query(c, "list posts", SQL, &[&fetch]).await?
        }
        Position::After(cur) => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE (p.created_at, p.id) < ($1, $2)",
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $3"
            );
            db::query(c, "list posts", SQL, &[&cur.created_at, &cur.id, &fetch]).await?
        }
        Position::Before(cur) => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE (p.created_at, p.id) > ($1, $2)",
                " ORDER BY p.created_at ASC, p.id ASC LIMIT $3"
            );
            db::query(
                c,
                "list newer posts",
                SQL,
                &[&cur.created_at, &cur.id, &fetch],
            )
            .await?
        }
    };
    Ok(page(rows, req))
}

/// One author's posts, newest first.
pub async fn list_by_author(
    c: &impl GenericClient,
    author_id: i64,
    req: PageRequest,
) -> Result<Page, DbError> {
    let fetch = i64::from(req.limit) + 1;
    let rows = match req.position {
        Position::First => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE p.author_id = $1",
                " ORDER BY p.created_at DESC, p.id DESC LIMIT $2"
            );
            db::query(c, "list author posts", SQL, &[&author_id, &fetch]).await?
        }
        Position::After(cur) => {
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
        Position::Before(cur) => {
            const SQL: &str = concat!(
                select_posts!("posts"),
                " WHERE p.author_id = $1 AND (p.created_at, p.id) > ($2, $3)",
                " ORDER BY p.created_at ASC, p.id ASC LIMIT $4"
            );
            db::query(
                c,
                "list newer author posts",
                SQL,
                &[&author_id, &cur.created_at, &cur.id, &fetch],
            )
            .await?
        }
    };
    Ok(page(rows, req))
}

/// The cursor that starts page `number` (1-based, `per_page` items) of all
/// posts: for old `/?page=N` links. An OFFSET scan, so it costs as much as
/// the page is deep; `None` past the end.
pub async fn cursor_at_page(
    c: &impl GenericClient,
    number: u32,
    per_page: u32,
) -> Result<Option<Cursor>, DbError> {
    let offset = i64::from(number.saturating_sub(1)) * i64::from(per_page) - 1;
    struct At(Cursor);
    impl FromRow for At {
        fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
            Ok(Self(Cursor {
                created_at: row.try_get("created_at")?,
                id: row.try_get("id")?,
            }))
        }
    }
    let at: Option<At> = db::query_opt(
        c,
        "find page by number",
        "SELECT created_at, id FROM posts ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
        &[&offset],
    )
    .await?;
    Ok(at.map(|a| a.0))
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

/// Our id of the post imported from the Django original's post
/// `django_id` (`blog import-django`), if there is one and it still exists.
pub async fn imported_from_django(
    c: &impl GenericClient,
    django_id: i64,
) -> Result<Option<i64>, DbError> {
    let found: Option<db::Id> = db::query_opt(
        c,
        "find imported post",
        "SELECT p.id FROM django_imports d JOIN posts p ON p.id = d.our_id \
         WHERE d.model = 'blog.post' AND d.django_id = $1",
        &[&django_id],
    )
    .await?;
    Ok(found.map(|id| id.0))
}

pub async fn create(
    c: &impl GenericClient,
    author_id: i64,
    title: &PostTitle,
    body: &PostBody,
    now: DateTime<Utc>,
) -> Result<PostRow, DbError> {
    const SQL: &str = concat!(
        "WITH p AS (INSERT INTO posts \
         (author_id, title, content, format, content_html, excerpt, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *) ",
        select_posts!("p")
    );
    db::query_one(
        c,
        "create post",
        SQL,
        &[
            &author_id,
            &title.as_str(),
            &body.content.as_str(),
            &body.format.as_str(),
            &body.html,
            &body.excerpt,
            &now,
        ],
    )
    .await
}

/// What an edit starts from: the post's author and current body, locked
/// until the transaction ends (so a body and its rendering never come from
/// two different edits).
pub struct Editing {
    pub author_id: i64,
    pub content: String,
    pub format: String,
}

impl FromRow for Editing {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            author_id: row.try_get("author_id")?,
            content: row.try_get("content")?,
            format: row.try_get("format")?,
        })
    }
}

pub async fn lock_for_edit(c: &impl GenericClient, id: i64) -> Result<Option<Editing>, DbError> {
    db::query_opt(
        c,
        "lock post",
        "SELECT author_id, content, format FROM posts WHERE id = $1 FOR UPDATE",
        &[&id],
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

/// Applies the given changes to post `id` (the caller has checked the
/// author under [`lock_for_edit`]).
pub async fn update(
    c: &impl GenericClient,
    id: i64,
    title: Option<&PostTitle>,
    body: Option<&PostBody>,
    now: DateTime<Utc>,
) -> Result<PostRow, DbError> {
    const SQL: &str = concat!(
        "WITH p AS (UPDATE posts SET title = COALESCE($2, title), \
         content = COALESCE($3, content), format = COALESCE($4, format), \
         content_html = COALESCE($5, content_html), excerpt = COALESCE($6, excerpt), \
         updated_at = $7 WHERE id = $1 RETURNING *) ",
        select_posts!("p")
    );
    db::query_one(
        c,
        "update post",
        SQL,
        &[
            &id,
            &title.map(PostTitle::as_str),
            &body.map(|b| b.content.as_str()),
            &body.map(|b| b.format.as_str()),
            &body.map(|b| b.html.as_str()),
            &body.map(|b| b.excerpt.as_str()),
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
