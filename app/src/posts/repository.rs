//! SQL for posts. Every list query is a keyset scan on an index matching its
//! `ORDER BY`, with separate statements for the first page and later pages
//! (an `$1 IS NULL OR …` predicate would stop a generic plan from using the
//! index bound).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::domain::{PostContent, PostTitle};
use crate::error::ApiError;
use crate::pagination::Cursor;

#[derive(Debug, Clone, PartialEq, Eq)]
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

/// One page plus the cursor of the next one (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<PostRow>,
    pub next_cursor: Option<Cursor>,
}

const SELECT: &str = "SELECT p.id, p.title, p.content, p.created_at, p.updated_at, \
                      u.id, u.username, u.avatar_key \
                      FROM posts p JOIN users u ON u.id = p.author_id";

fn from_row(row: &Row) -> PostRow {
    PostRow {
        id: row.get(0),
        title: row.get(1),
        content: row.get(2),
        created_at: row.get(3),
        updated_at: row.get(4),
        author_id: row.get(5),
        author_username: row.get(6),
        author_avatar_key: row.get(7),
    }
}

fn page(rows: Vec<Row>, limit: u32) -> Page {
    // One extra row was fetched to learn whether another page exists.
    let mut items: Vec<PostRow> = rows.iter().map(from_row).collect();
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
pub async fn list(pool: &Pool, cursor: Option<Cursor>, limit: u32) -> Result<Page, ApiError> {
    let conn = pool.get().await?;
    let fetch = i64::from(limit) + 1;
    let rows = match cursor {
        None => {
            let sql = format!("{SELECT} ORDER BY p.created_at DESC, p.id DESC LIMIT $1");
            conn.query(&sql, &[&fetch]).await?
        }
        Some(c) => {
            let sql = format!(
                "{SELECT} WHERE (p.created_at, p.id) < ($1, $2) \
                 ORDER BY p.created_at DESC, p.id DESC LIMIT $3"
            );
            conn.query(&sql, &[&c.created_at, &c.id, &fetch]).await?
        }
    };
    Ok(page(rows, limit))
}

/// One author's posts, newest first.
pub async fn list_by_author(
    pool: &Pool,
    author_id: i64,
    cursor: Option<Cursor>,
    limit: u32,
) -> Result<Page, ApiError> {
    let conn = pool.get().await?;
    let fetch = i64::from(limit) + 1;
    let rows = match cursor {
        None => {
            let sql = format!(
                "{SELECT} WHERE p.author_id = $1 ORDER BY p.created_at DESC, p.id DESC LIMIT $2"
            );
            conn.query(&sql, &[&author_id, &fetch]).await?
        }
        Some(c) => {
            let sql = format!(
                "{SELECT} WHERE p.author_id = $1 AND (p.created_at, p.id) < ($2, $3) \
                 ORDER BY p.created_at DESC, p.id DESC LIMIT $4"
            );
            conn.query(&sql, &[&author_id, &c.created_at, &c.id, &fetch])
                .await?
        }
    };
    Ok(page(rows, limit))
}

/// The id of the user named `username` (case-insensitive).
pub async fn find_author(pool: &Pool, username: &str) -> Result<Option<i64>, ApiError> {
    let conn = pool.get().await?;
    let row = conn
        .query_opt(
            "SELECT id FROM users WHERE lower(username) = lower($1)",
            &[&username],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

pub async fn get(pool: &Pool, id: i64) -> Result<Option<PostRow>, ApiError> {
    let conn = pool.get().await?;
    let sql = format!("{SELECT} WHERE p.id = $1");
    Ok(conn.query_opt(&sql, &[&id]).await?.as_ref().map(from_row))
}

pub async fn create(
    pool: &Pool,
    author_id: i64,
    title: &PostTitle,
    content: &PostContent,
) -> Result<PostRow, ApiError> {
    let conn = pool.get().await?;
    let sql = format!(
        "WITH p AS (INSERT INTO posts (author_id, title, content) VALUES ($1, $2, $3) \
         RETURNING id, title, content, created_at, updated_at, author_id) \
         {}",
        SELECT.replace("FROM posts p", "FROM p")
    );
    let row = conn
        .query_one(&sql, &[&author_id, &title.as_str(), &content.as_str()])
        .await?;
    Ok(from_row(&row))
}

/// Applies the given changes if `user_id` wrote post `id`: 404 if there is
/// no such post, 403 if someone else wrote it.
pub async fn update(
    pool: &Pool,
    id: i64,
    user_id: i64,
    title: Option<&PostTitle>,
    content: Option<&PostContent>,
) -> Result<PostRow, ApiError> {
    let conn = pool.get().await?;
    let sql = format!(
        "WITH p AS (UPDATE posts SET title = COALESCE($3, title), content = COALESCE($4, content), \
         updated_at = now() WHERE id = $1 AND author_id = $2 \
         RETURNING id, title, content, created_at, updated_at, author_id) \
         {}",
        SELECT.replace("FROM posts p", "FROM p")
    );
    let row = conn
        .query_opt(
            &sql,
            &[
                &id,
                &user_id,
                &title.map(PostTitle::as_str),
                &content.map(PostContent::as_str),
            ],
        )
        .await?;
    match row {
        Some(row) => Ok(from_row(&row)),
        None => Err(not_found_or_forbidden(&conn, id).await),
    }
}

/// Deletes post `id` if `user_id` wrote it (404 / 403 otherwise).
pub async fn delete(pool: &Pool, id: i64, user_id: i64) -> Result<(), ApiError> {
    let conn = pool.get().await?;
    let deleted = conn
        .execute(
            "DELETE FROM posts WHERE id = $1 AND author_id = $2",
            &[&id, &user_id],
        )
        .await?;
    if deleted == 1 {
        Ok(())
    } else {
        Err(not_found_or_forbidden(&conn, id).await)
    }
}

async fn not_found_or_forbidden(conn: &deadpool_postgres::Object, id: i64) -> ApiError {
    match conn
        .query_opt("SELECT 1 FROM posts WHERE id = $1", &[&id])
        .await
    {
        Ok(Some(_)) => ApiError::Forbidden("only the author may change this post".into()),
        Ok(None) => ApiError::not_found("post"),
        Err(e) => e.into(),
    }
}
