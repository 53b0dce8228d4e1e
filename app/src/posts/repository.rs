//! SQL for posts. Every list query is a keyset scan on an index matching its
//! `ORDER BY`, with separate statements for the first page and later pages
//! (an `$1 IS NULL OR …` predicate would stop a generic plan from using the
//! index bound). Columns are read by name and statements are prepared once
//! per connection.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

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
    /// `None`: a draft. Public from this instant on, which may be to come.
    pub published_at: Option<DateTime<Utc>>,
    pub author_id: i64,
    pub author_username: String,
    pub author_avatar_key: Option<String>,
    /// Its tags' slugs, in the order the writer gave them.
    pub tags: Vec<String>,
    /// Whether its author closed its comments.
    #[serde(default)]
    pub comments_closed: bool,
    /// How many comments it has (V7's `comment_counts`).
    #[serde(default)]
    pub comment_count: i64,
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
            published_at: row.try_get("published_at")?,
            author_id: row.try_get("author_id")?,
            author_username: row.try_get("author_username")?,
            author_avatar_key: row.try_get("author_avatar_key")?,
            tags: row.try_get("tags")?,
            comments_closed: row.try_get("comments_closed")?,
            comment_count: row.try_get("comment_count")?,
        })
    }
}

/// One page, newest first, with where the neighbouring pages start.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Page {
    pub items: Vec<PostRow>,
    /// Cursor for the next older page; `None` on the last page.
    pub older: Option<Cursor>,
    /// Cursor for the next newer page; `None` on the first page (as far as
    /// this page can tell: a page reached with an older-cursor always offers
    /// one, which may turn out empty if posts were deleted meanwhile).
    pub newer: Option<Cursor>,
}

/// The columns of [`PostRow`] from `posts p` joined with its author `u`
/// (and with `$join`, e.g. a tag's `post_tags pt`, before it). A post's tags
/// are at most ten rows of the `post_tags` primary key.
macro_rules! select_posts {
    ($from:literal) => {
        select_posts!($from, "")
    };
    ($from:literal, $join:literal) => {
        concat!(
            "SELECT p.id, p.title, p.content, p.format, p.content_html, p.excerpt, p.created_at, \
             p.updated_at, p.published_at, p.author_id, \
             u.username AS author_username, u.avatar_key AS author_avatar_key, \
             ARRAY(SELECT t.slug FROM post_tags x JOIN tags t ON t.id = x.tag_id \
             WHERE x.post_id = p.id ORDER BY x.position) AS tags, p.comments_closed, \
             coalesce((SELECT n.comments::bigint FROM comment_counts n WHERE n.post_id = p.id), 0) \
             AS comment_count \
             FROM ",
            $join,
            $from,
            " p JOIN users u ON u.id = p.author_id"
        )
    };
}

/// Where a row sits in a list: its `listed_at` (V4), which is its
/// publication time in every list that holds only published posts.
fn cursor_of(p: &PostRow) -> Cursor {
    Cursor {
        at: p.published_at.unwrap_or(p.updated_at),
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

/// The list statements, public so that the plan tests (`integration-tests`)
/// EXPLAIN exactly what runs. Each public list reads `published_at <= now`
/// as its index bound (`posts_published_at_id_idx`,
/// `posts_author_published_at_id_idx`): scheduled posts and drafts are
/// never read. An author's own list reads `posts_author_listed_at_id_idx`.
///
/// The list statements take the page size as a literal (`LIMIT 7`), one
/// prepared statement per size asked for ([`Limited`]), so that the plan
/// Postgres keeps for a statement after its first executions (a generic
/// plan) is estimated for one page. With `LIMIT $n` it was estimated for a
/// tenth of the table: dearer than a custom plan, so every execution was
/// planned again (29 % of the machine's CPU on uncached pages), and forced
/// generic, its estimate (cost 700k at 1M posts) had Postgres JIT-compile it
/// on every execution (bench/RESULTS.md, 2026-12-02, third run). The plan
/// tests EXPLAIN both plans of each.
pub mod sql {
    use std::borrow::Cow;
    use std::sync::OnceLock;

    use crate::pagination::MAX_LIMIT;

    /// The most rows a list reads: a page and the row after it.
    const MOST_ROWS: usize = MAX_LIMIT as usize + 1;

    /// A statement ending in `LIMIT ` and the texts with each row count
    /// written after it, made when first asked for.
    pub struct Limited {
        head: &'static str,
        texts: [OnceLock<Box<str>>; MOST_ROWS + 1],
    }

    impl Limited {
        const fn new(head: &'static str) -> Self {
            Self {
                head,
                texts: [const { OnceLock::new() }; MOST_ROWS + 1],
            }
        }

        /// The statement reading at most `rows` rows. Any count works; the
        /// ones a page can ask for are kept, so each is one prepared
        /// statement per pooled connection.
        pub fn rows(&self, rows: u32) -> Cow<'_, str> {
            let text = || format!("{}{rows}", self.head);
            match self.texts.get(rows as usize) {
                Some(kept) => Cow::Borrowed(kept.get_or_init(|| text().into_boxed_str())),
                None => Cow::Owned(text()),
            }
        }
    }

    /// `$1` now.
    pub static LIST_FIRST: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.published_at <= $1",
        " ORDER BY p.published_at DESC, p.id DESC LIMIT "
    ));
    /// `$1` now, `($2, $3)` the cursor.
    pub static LIST_AFTER: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.published_at <= $1 AND (p.published_at, p.id) < ($2, $3)",
        " ORDER BY p.published_at DESC, p.id DESC LIMIT "
    ));
    pub static LIST_BEFORE: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.published_at <= $1 AND (p.published_at, p.id) > ($2, $3)",
        " ORDER BY p.published_at ASC, p.id ASC LIMIT "
    ));
    /// `$1` the author, `$2` now.
    pub static AUTHOR_FIRST: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.author_id = $1 AND p.published_at <= $2",
        " ORDER BY p.published_at DESC, p.id DESC LIMIT "
    ));
    /// `$1` the author, `$2` now, `($3, $4)` the cursor.
    pub static AUTHOR_AFTER: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.author_id = $1 AND p.published_at <= $2",
        " AND (p.published_at, p.id) < ($3, $4)",
        " ORDER BY p.published_at DESC, p.id DESC LIMIT "
    ));
    pub static AUTHOR_BEFORE: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.author_id = $1 AND p.published_at <= $2",
        " AND (p.published_at, p.id) > ($3, $4)",
        " ORDER BY p.published_at ASC, p.id ASC LIMIT "
    ));
    /// `$1` the author.
    pub static OWN_FIRST: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.author_id = $1",
        " ORDER BY p.listed_at DESC, p.id DESC LIMIT "
    ));
    /// `$1` the author, `($2, $3)` the cursor.
    pub static OWN_AFTER: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.author_id = $1 AND (p.listed_at, p.id) < ($2, $3)",
        " ORDER BY p.listed_at DESC, p.id DESC LIMIT "
    ));
    pub static OWN_BEFORE: Limited = Limited::new(concat!(
        select_posts!("posts"),
        " WHERE p.author_id = $1 AND (p.listed_at, p.id) > ($2, $3)",
        " ORDER BY p.listed_at ASC, p.id ASC LIMIT "
    ));
    /// `$1` the tag, `$2` now: `post_tags_tag_published_at_idx`,
    /// whose `published_at` the V5 trigger keeps equal to the post's.
    pub static TAG_FIRST: Limited = Limited::new(concat!(
        // `post_tags pt JOIN (posts p JOIN users u ON …) ON p.id = pt.post_id`
        select_posts!("posts", "post_tags pt JOIN "),
        " ON p.id = pt.post_id",
        " WHERE pt.tag_id = $1 AND pt.published_at <= $2",
        " ORDER BY pt.published_at DESC, pt.post_id DESC LIMIT "
    ));
    /// `$1` the tag, `$2` now, `($3, $4)` the cursor.
    pub static TAG_AFTER: Limited = Limited::new(concat!(
        select_posts!("posts", "post_tags pt JOIN "),
        " ON p.id = pt.post_id",
        " WHERE pt.tag_id = $1 AND pt.published_at <= $2",
        " AND (pt.published_at, pt.post_id) < ($3, $4)",
        " ORDER BY pt.published_at DESC, pt.post_id DESC LIMIT "
    ));
    pub static TAG_BEFORE: Limited = Limited::new(concat!(
        select_posts!("posts", "post_tags pt JOIN "),
        " ON p.id = pt.post_id",
        " WHERE pt.tag_id = $1 AND pt.published_at <= $2",
        " AND (pt.published_at, pt.post_id) > ($3, $4)",
        " ORDER BY pt.published_at ASC, pt.post_id ASC LIMIT "
    ));
    /// `$1` now, `$2` the slug to start after (`''` for the first page),
    /// `$3` rows: tags by slug with how many posts are public under each
    /// (one index range of `post_tags_tag_published_at_idx` per tag).
    pub const TAGS: &str = "SELECT t.slug, c.n FROM tags t \
         CROSS JOIN LATERAL (SELECT count(*) AS n FROM post_tags pt \
         WHERE pt.tag_id = t.id AND pt.published_at <= $1) c \
         WHERE t.slug > $2 AND c.n > 0 ORDER BY t.slug LIMIT $3";
    /// `$1` the query (`websearch_to_tsquery` syntax), `$2` now, `$3` rows,
    /// `$4` rows to skip (within the best [`SEARCH_CAP`] matches).
    ///
    /// Which matches compete: ranking every match of a common word means
    /// visiting every one of them (12,000 heap pages for two words at 1M
    /// posts), so the newest posts are searched first, in tiers, and the
    /// best 200 of the first tier that holds 200 matches are ranked:
    /// 1. the probe: the 2000 newest posts (the primary key backwards);
    /// 2. the window: when the probe holds fewer, the newest
    ///    `800000 / max(n, 4)` ids (≈ 400 matches at the probe's rate, at
    ///    most 200,000 ids; whole blocks of 4096 ids read through
    ///    `posts_search_blocks_idx`, V8), if it holds 200 matches;
    /// 3. otherwise every match: cheap when the words are rare; as costly
    ///    as ranking them all (the only tier that is) when they were common
    ///    only long ago.
    ///
    /// A blog of fewer posts than the window, or words this rare, always
    /// gets every match ranked; for common words the best of the recent
    /// posts win over older ones. Then the page's rows are read and only
    /// they get a snippet (`ts_headline` reads a whole post), marking
    /// matches with U+E000 … U+E001, which the caller escapes around.
    ///
    /// Written for prepared statements, whose generic plan (from the 6th
    /// execution on a connection) must be as good as a custom one: the
    /// query is parsed in a subquery, so no plan depends on its words; the
    /// gated tiers are one-time filters that skip their scans; and the
    /// publication bound is `coalesce(…) <= $2`, which no index matches
    /// (`published_at <= $2` made the generic plan AND the GIN bitmap with
    /// every published post from `posts_published_at_id_idx`: 200+ ms).
    pub const SEARCH: &str = concat!(
        "WITH newest AS MATERIALIZED (",
        "SELECT p.id, p.published_at, ",
        "ts_rank_cd(p.search, (SELECT websearch_to_tsquery('english', $1))) AS rank ",
        "FROM (SELECT id, published_at, search FROM posts ORDER BY id DESC LIMIT 2000) p ",
        "WHERE p.search @@ (SELECT websearch_to_tsquery('english', $1)) AND p.published_at <= $2), ",
        "probe AS MATERIALIZED (",
        "SELECT count(*) AS n, ",
        "(SELECT max(id) FROM posts) - 800000 / greatest(count(*), 4) AS since, ",
        "(SELECT max(id) FROM posts) AS last, (SELECT min(id) FROM posts) AS first ",
        "FROM newest), ",
        "recent AS MATERIALIZED (",
        "SELECT p.id, p.published_at, ",
        "ts_rank_cd(p.search, (SELECT websearch_to_tsquery('english', $1))) AS rank FROM posts p ",
        "WHERE (SELECT n < 200 AND since > first FROM probe) ",
        "AND p.search @@ (SELECT websearch_to_tsquery('english', $1)) ",
        // `id >> 12`: exactly the expression V8 indexes.
        "AND (p.id >> 12) = ANY (ARRAY(SELECT generate_series(since >> 12, last >> 12) FROM probe)) ",
        "AND coalesce(p.published_at, 'infinity') <= $2), ",
        "top AS (SELECT id, published_at, rank FROM (",
        "SELECT id, published_at, rank FROM newest WHERE (SELECT n >= 200 FROM probe) ",
        "UNION ALL ",
        "SELECT id, published_at, rank FROM recent WHERE (SELECT count(*) >= 200 FROM recent) ",
        "UNION ALL ",
        "SELECT p.id, p.published_at, ",
        "ts_rank_cd(p.search, (SELECT websearch_to_tsquery('english', $1))) AS rank FROM posts p ",
        "WHERE (SELECT n < 200 FROM probe) AND (SELECT count(*) < 200 FROM recent) ",
        "AND p.search @@ (SELECT websearch_to_tsquery('english', $1)) ",
        "AND coalesce(p.published_at, 'infinity') <= $2",
        ") c ORDER BY rank DESC, published_at DESC, id DESC LIMIT 200), ",
        "hits AS (SELECT id, rank FROM top ",
        "ORDER BY rank DESC, published_at DESC, id DESC LIMIT $3 OFFSET $4), ",
        "page AS (",
        select_posts!("posts"),
        " WHERE p.id IN (SELECT id FROM hits)) ",
        // The markers cannot come from the post itself: taken out first.
        "SELECT page.*, ts_headline('english', ",
        "translate(page.content, '\u{E000}\u{E001}', ''), ",
        "websearch_to_tsquery('english', $1), ",
        "'StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=30, MinWords=12, ",
        "MaxFragments=2, FragmentDelimiter=\" … \"') AS snippet ",
        "FROM page JOIN hits h ON h.id = page.id ",
        "ORDER BY h.rank DESC, page.published_at DESC, page.id DESC"
    );
    /// Matches ranked at most by [`SEARCH`] (its `LIMIT 200`): every page of
    /// every size the API allows.
    pub const SEARCH_CAP: u32 = 200;
    /// `$1` now.
    pub const NEXT_PUBLICATION: &str =
        "SELECT min(published_at) AS next FROM posts WHERE published_at > $1";
}

/// The posts public at `now`, newest first.
pub async fn list(
    c: &impl GenericClient,
    now: DateTime<Utc>,
    req: PageRequest,
) -> Result<Page, DbError> {
    let fetch = req.limit + 1;
    let rows = match req.position {
        Position::First => {
            db::query(c, "list posts", &sql::LIST_FIRST.rows(fetch), &[&now]).await?
        }
        Position::After(cur) => {
            let params: [&(dyn ToSql + Sync); 3] = [&now, &cur.at, &cur.id];
            db::query(c, "list posts", &sql::LIST_AFTER.rows(fetch), &params).await?
        }
        Position::Before(cur) => {
            let params: [&(dyn ToSql + Sync); 3] = [&now, &cur.at, &cur.id];
            db::query(
                c,
                "list newer posts",
                &sql::LIST_BEFORE.rows(fetch),
                &params,
            )
            .await?
        }
    };
    Ok(page(rows, req))
}

/// The posts tagged `tag_id` public at `now`, newest first.
pub async fn list_by_tag(
    c: &impl GenericClient,
    tag_id: i64,
    now: DateTime<Utc>,
    req: PageRequest,
) -> Result<Page, DbError> {
    let fetch = req.limit + 1;
    let rows = match req.position {
        Position::First => {
            let params: [&(dyn ToSql + Sync); 2] = [&tag_id, &now];
            db::query(c, "list tag posts", &sql::TAG_FIRST.rows(fetch), &params).await?
        }
        Position::After(cur) => {
            let params: [&(dyn ToSql + Sync); 4] = [&tag_id, &now, &cur.at, &cur.id];
            db::query(c, "list tag posts", &sql::TAG_AFTER.rows(fetch), &params).await?
        }
        Position::Before(cur) => {
            let params: [&(dyn ToSql + Sync); 4] = [&tag_id, &now, &cur.at, &cur.id];
            db::query(
                c,
                "list newer tag posts",
                &sql::TAG_BEFORE.rows(fetch),
                &params,
            )
            .await?
        }
    };
    Ok(page(rows, req))
}

/// A post that matches a search, with a snippet of its body around the
/// matches (plain text; matches between U+E000 and U+E001).
pub struct SearchRow {
    pub post: PostRow,
    pub snippet: String,
}

impl FromRow for SearchRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            post: PostRow::from_row(row)?,
            snippet: row.try_get("snippet")?,
        })
    }
}

/// The published posts matching `query`, best first: `limit` after
/// skipping `skip`.
pub async fn search(
    c: &impl GenericClient,
    query: &str,
    now: DateTime<Utc>,
    limit: u32,
    skip: u32,
) -> Result<Vec<SearchRow>, DbError> {
    db::query(
        c,
        "search posts",
        sql::SEARCH,
        &[&query, &now, &i64::from(limit), &i64::from(skip)],
    )
    .await
}

/// The id of the tag `slug` (already normalised), if any post ever had it.
pub async fn find_tag(c: &impl GenericClient, slug: &str) -> Result<Option<i64>, DbError> {
    let found: Option<Id> = db::query_opt(
        c,
        "find tag",
        "SELECT id FROM tags WHERE slug = $1",
        &[&slug],
    )
    .await?;
    Ok(found.map(|id| id.0))
}

/// A tag and how many posts are public under it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TagCount {
    pub slug: String,
    pub posts: i64,
}

impl FromRow for TagCount {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            slug: row.try_get("slug")?,
            posts: row.try_get("n")?,
        })
    }
}

/// Tags with public posts at `now`, by slug, after `after` (`""`: from
/// the start), at most `limit`.
pub async fn tags(
    c: &impl GenericClient,
    now: DateTime<Utc>,
    after: &str,
    limit: u32,
) -> Result<Vec<TagCount>, DbError> {
    db::query(
        c,
        "list tags",
        sql::TAGS,
        &[&now, &after, &i64::from(limit)],
    )
    .await
}

/// Gives post `id` exactly `slugs` (normalised, distinct, at most ten), in
/// that order, creating the tags that do not exist yet. Inside the
/// transaction that writes the post.
pub async fn set_tags(c: &impl GenericClient, id: i64, slugs: &[&str]) -> Result<(), DbError> {
    db::execute(
        c,
        "delete post tags",
        "DELETE FROM post_tags WHERE post_id = $1",
        &[&id],
    )
    .await?;
    if slugs.is_empty() {
        return Ok(());
    }
    // Sorted so that concurrent writers create shared tags in one order
    // (no deadlock between two posts inserting `a` and `b` crosswise).
    let mut sorted = slugs.to_vec();
    sorted.sort_unstable();
    db::execute(
        c,
        "create tags",
        "INSERT INTO tags (slug) SELECT unnest($1::text[]) ON CONFLICT (slug) DO NOTHING",
        &[&sorted],
    )
    .await?;
    db::execute(
        c,
        "tag post",
        "INSERT INTO post_tags (post_id, tag_id, position, published_at) \
         SELECT $1, t.id, (s.ord - 1)::smallint, p.published_at \
         FROM unnest($2::text[]) WITH ORDINALITY AS s(slug, ord) \
         JOIN tags t ON t.slug = s.slug JOIN posts p ON p.id = $1",
        &[&id, &slugs],
    )
    .await?;
    Ok(())
}

/// One author's posts public at `now`, newest first.
pub async fn list_by_author(
    c: &impl GenericClient,
    author_id: i64,
    now: DateTime<Utc>,
    req: PageRequest,
) -> Result<Page, DbError> {
    let fetch = req.limit + 1;
    let rows = match req.position {
        Position::First => {
            let params: [&(dyn ToSql + Sync); 2] = [&author_id, &now];
            db::query(
                c,
                "list author posts",
                &sql::AUTHOR_FIRST.rows(fetch),
                &params,
            )
            .await?
        }
        Position::After(cur) => {
            let params: [&(dyn ToSql + Sync); 4] = [&author_id, &now, &cur.at, &cur.id];
            db::query(
                c,
                "list author posts",
                &sql::AUTHOR_AFTER.rows(fetch),
                &params,
            )
            .await?
        }
        Position::Before(cur) => {
            let params: [&(dyn ToSql + Sync); 4] = [&author_id, &now, &cur.at, &cur.id];
            db::query(
                c,
                "list newer author posts",
                &sql::AUTHOR_BEFORE.rows(fetch),
                &params,
            )
            .await?
        }
    };
    Ok(page(rows, req))
}

/// Every post of one author, drafts and scheduled ones included, as only
/// the author sees them: newest `listed_at` first (a draft at its last
/// edit).
pub async fn list_own(
    c: &impl GenericClient,
    author_id: i64,
    req: PageRequest,
) -> Result<Page, DbError> {
    let fetch = req.limit + 1;
    let rows = match req.position {
        Position::First => {
            db::query(
                c,
                "list own posts",
                &sql::OWN_FIRST.rows(fetch),
                &[&author_id],
            )
            .await?
        }
        Position::After(cur) => {
            let params: [&(dyn ToSql + Sync); 3] = [&author_id, &cur.at, &cur.id];
            db::query(c, "list own posts", &sql::OWN_AFTER.rows(fetch), &params).await?
        }
        Position::Before(cur) => {
            let params: [&(dyn ToSql + Sync); 3] = [&author_id, &cur.at, &cur.id];
            db::query(
                c,
                "list newer own posts",
                &sql::OWN_BEFORE.rows(fetch),
                &params,
            )
            .await?
        }
    };
    Ok(page(rows, req))
}

/// The next instant after `now` at which a scheduled post becomes public,
/// if any: until then every public list read at `now` stays true. One
/// probe of `posts_published_at_id_idx`.
pub async fn next_publication(
    c: &impl GenericClient,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbError> {
    struct Next(Option<DateTime<Utc>>);
    impl FromRow for Next {
        fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
            Ok(Self(row.try_get("next")?))
        }
    }
    let next: Next = db::query_one(
        c,
        "find the next publication",
        sql::NEXT_PUBLICATION,
        &[&now],
    )
    .await?;
    Ok(next.0)
}

/// How many of an author's posts are public at `now`.
pub async fn count_public_by_author(
    c: &impl GenericClient,
    author_id: i64,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    struct Count(i64);
    impl FromRow for Count {
        fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
            Ok(Self(row.try_get("n")?))
        }
    }
    let n: Count = db::query_one(
        c,
        "count author posts",
        "SELECT count(*) AS n FROM posts WHERE author_id = $1 AND published_at <= $2",
        &[&author_id, &now],
    )
    .await?;
    Ok(n.0)
}

/// The cursor that starts page `number` (1-based, `per_page` items) of the
/// posts public at `now`: for old `/?page=N` links. An OFFSET scan, so it
/// costs as much as the page is deep; `None` past the end.
pub async fn cursor_at_page(
    c: &impl GenericClient,
    now: DateTime<Utc>,
    number: u32,
    per_page: u32,
) -> Result<Option<Cursor>, DbError> {
    let offset = i64::from(number.saturating_sub(1)) * i64::from(per_page) - 1;
    struct At(Cursor);
    impl FromRow for At {
        fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
            Ok(Self(Cursor {
                at: row.try_get("published_at")?,
                id: row.try_get("id")?,
            }))
        }
    }
    let at: Option<At> = db::query_opt(
        c,
        "find page by number",
        "SELECT published_at, id FROM posts WHERE published_at <= $1 \
         ORDER BY published_at DESC, id DESC OFFSET $2 LIMIT 1",
        &[&now, &offset],
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
    published_at: Option<DateTime<Utc>>,
    comments_closed: bool,
    now: DateTime<Utc>,
) -> Result<PostRow, DbError> {
    const SQL: &str = concat!(
        "WITH p AS (INSERT INTO posts \
         (author_id, title, content, format, content_html, excerpt, created_at, updated_at, \
         published_at, comments_closed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING *) ",
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
            &published_at,
            &comments_closed,
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
    pub published_at: Option<DateTime<Utc>>,
}

impl FromRow for Editing {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            author_id: row.try_get("author_id")?,
            content: row.try_get("content")?,
            format: row.try_get("format")?,
            published_at: row.try_get("published_at")?,
        })
    }
}

pub async fn lock_for_edit(c: &impl GenericClient, id: i64) -> Result<Option<Editing>, DbError> {
    db::query_opt(
        c,
        "lock post",
        "SELECT author_id, content, format, published_at FROM posts WHERE id = $1 FOR UPDATE",
        &[&id],
    )
    .await
}

/// Who wrote a post and when it is public, if it exists (to tell 404 from
/// 403: another's draft is "not found").
pub struct Authorship {
    pub author_id: i64,
    pub published_at: Option<DateTime<Utc>>,
}

impl FromRow for Authorship {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            author_id: row.try_get("author_id")?,
            published_at: row.try_get("published_at")?,
        })
    }
}

pub async fn author_of(c: &impl GenericClient, id: i64) -> Result<Option<Authorship>, DbError> {
    db::query_opt(
        c,
        "find post author",
        "SELECT author_id, published_at FROM posts WHERE id = $1",
        &[&id],
    )
    .await
}

/// Applies the given changes to post `id` (the caller has checked the
/// author under [`lock_for_edit`]). `published_at`: `None` keeps it,
/// `Some(None)` makes the post a draft.
pub async fn update(
    c: &impl GenericClient,
    id: i64,
    title: Option<&PostTitle>,
    body: Option<&PostBody>,
    published_at: Option<Option<DateTime<Utc>>>,
    comments_closed: Option<bool>,
    now: DateTime<Utc>,
) -> Result<PostRow, DbError> {
    const SQL: &str = concat!(
        "WITH p AS (UPDATE posts SET title = COALESCE($2, title), \
         content = COALESCE($3, content), format = COALESCE($4, format), \
         content_html = COALESCE($5, content_html), excerpt = COALESCE($6, excerpt), \
         published_at = CASE WHEN $8 THEN $9 ELSE published_at END, \
         comments_closed = COALESCE($10, comments_closed), \
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
            &published_at.is_some(),
            &published_at.flatten(),
            &comments_closed,
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
