//! Post use cases: public reads through the Redis read cache (see `cache`),
//! view counting, and author-only writes. [`Posts`] holds its dependencies
//! (pool, cache, clock); each use case returns its own error enum.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::domain::{self, PostBody, PostContent, PostFormat, PostStatus, PostTitle, Publishing};
use super::repository::{self as repo, Page, PostRow, TagCount};
use super::search::{self, SearchQuery};
use super::tags::{TagSlug, Tags};
use crate::accounts::{AuthenticatedUser, Username};
use crate::cache::Cache;
use crate::clock::Clock;
use crate::db::{self, Op as _};
use crate::error::{Failure, FailureContext as _, ValidationError, ValidationErrors};
use crate::pagination::{Cursor, PageRequest};

/// Who wrote a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub id: i64,
    pub username: String,
    /// `None`: the default avatar.
    pub avatar_key: Option<String>,
}

/// A post as readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: i64,
    pub title: String,
    /// The source, exactly as written.
    pub content: String,
    pub format: PostFormat,
    /// The content as sanitised HTML, safe to put in a page as it is.
    pub html: String,
    /// The first paragraph as plain text, capped (lists, feeds).
    pub excerpt: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `None`: a draft. May be to come (a scheduled post).
    pub published_at: Option<DateTime<Utc>>,
    pub author: Author,
    /// Its tags' slugs, in the order the writer gave them (at most ten).
    pub tags: Vec<String>,
    /// Reads counted so far; `None` while the counter (Redis) is unavailable.
    pub views: Option<u64>,
    /// Whether its author closed its comments (no new ones, no edits).
    pub comments_closed: bool,
    /// How many comments it has.
    pub comment_count: i64,
}

impl Post {
    /// The readable part of the post's URL (see [`domain::slug`]).
    pub fn slug(&self) -> String {
        domain::slug(&self.title)
    }

    pub fn status(&self) -> PostStatus {
        match self.published_at {
            Some(_) => PostStatus::Published,
            None => PostStatus::Draft,
        }
    }

    /// Whether readers other than the author see it at `now`.
    pub fn is_public_at(&self, now: DateTime<Utc>) -> bool {
        is_public(self.published_at, now)
    }

    /// The date shown with the post: its publication, or for a draft its
    /// last edit.
    pub fn shown_at(&self) -> DateTime<Utc> {
        self.published_at.unwrap_or(self.updated_at)
    }
}

fn is_public(published_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    published_at.is_some_and(|at| at <= now)
}

/// Whether `username` names `viewer` (in any case): their own list.
pub fn is_own_list(viewer: &AuthenticatedUser, username: &str) -> bool {
    viewer.username().to_lowercase() == username.to_lowercase()
}

/// Whether `viewer` may see a post by `author_id` published at
/// `published_at`: everybody once it is public, its author always.
fn visible(
    author_id: i64,
    published_at: Option<DateTime<Utc>>,
    viewer: Option<&AuthenticatedUser>,
    now: DateTime<Utc>,
) -> bool {
    is_public(published_at, now) || viewer.is_some_and(|v| v.id() == author_id)
}

impl From<PostRow> for Post {
    fn from(row: PostRow) -> Self {
        // A value the CHECK constraint does not allow cannot come back;
        // plain text is the safe reading of anything else.
        let format = PostFormat::parse(&row.format).unwrap_or_default();
        // Posts from before Markdown and imported ones carry no rendering:
        // plain text is escaped here, which is cheap.
        let (html, excerpt) = if row.content_html.is_empty() {
            domain::rendering(&row.content, format)
        } else {
            (row.content_html, row.excerpt)
        };
        Self {
            id: row.id,
            title: row.title,
            content: row.content,
            format,
            html,
            excerpt,
            created_at: row.created_at,
            updated_at: row.updated_at,
            published_at: row.published_at,
            author: Author {
                id: row.author_id,
                username: row.author_username,
                avatar_key: row.author_avatar_key,
            },
            tags: row.tags,
            views: None,
            comments_closed: row.comments_closed,
            comment_count: row.comment_count,
        }
    }
}

/// A page of posts, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPage {
    pub items: Vec<Post>,
    /// Where the next older page starts; `None` on the last page.
    pub older: Option<Cursor>,
    /// Where the next newer page starts; `None` on the first page.
    pub newer: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorPostsError {
    #[error("no user has this username")]
    NoSuchAuthor,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// A post that matches a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub post: Post,
    /// Where the body matches, as HTML: escaped text with the matches in
    /// `<mark>` (the start of the body when only the title matches).
    pub snippet_html: String,
}

/// A page of search results, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    /// The page after this one, if there are more results (and it is
    /// within [`search::MAX_PAGES`]).
    pub next_page: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("{0}")]
    InvalidQuery(ValidationError),
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum TagPostsError {
    #[error("not a tag: a tag has letters or digits, at most 50 characters")]
    InvalidTag,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// Another's draft or scheduled post is "not found": its existence is
/// the author's business.
#[derive(Debug, thiserror::Error)]
pub enum GetPostError {
    #[error("no post has this id")]
    NotFound,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum CreatePostError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdatePostError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("no post has this id")]
    NotFound,
    #[error("only the author may change this post")]
    NotAuthor,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum DeletePostError {
    #[error("no post has this id")]
    NotFound,
    #[error("only the author may delete this post")]
    NotAuthor,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// A public read: what [`Posts::version`] names.
#[derive(Debug, Clone, Copy)]
pub enum Read<'a> {
    /// A page of all posts ([`Posts::list`]).
    Posts(PageRequest),
    /// A page of one author's posts, by username in any case
    /// ([`Posts::list_by_author`]).
    ByAuthor(&'a str, PageRequest),
    /// One post ([`Posts::get`]).
    Post(i64),
    /// A page of one tag's posts, by its slug or anything that normalises
    /// to it ([`Posts::list_by_tag`]).
    ByTag(&'a str, PageRequest),
    /// A page of the tag list ([`Posts::tags`]): after a slug, a size.
    Tags(&'a str, u32),
    /// A page of search results ([`Posts::search`]): the query, the page
    /// (1-based) and its size.
    Search(&'a SearchQuery, u32, u32),
    /// A page of a post's comments (`comments::Comments::list`).
    Comments(i64, PageRequest),
}

/// Where a public read stands in the read cache: its key under the current
/// generation and the next scheduled publication. Any change that can alter
/// the read (a post written, edited, published or deleted, an author
/// renamed or given a new picture) moves the generation, and time alone
/// changes it only when a scheduled post becomes public, which moves the
/// next publication; so two equal versions of one read name the same
/// content, the same posts visible to the same people. Only view counts,
/// which are not cached, may differ. Reading it costs no Postgres and at
/// most one Redis round trip (none while the replica's copy of the
/// generation is fresh, see `cache`), which is what makes it a cheap
/// validator for conditional requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    key: String,
    /// The next scheduled publication: the version is current until then.
    until: Option<DateTime<Utc>>,
}

impl Version {
    /// The cache key: the generation, the next publication and the read,
    /// e.g. `posts:v2:g7:n-:list:-:5`.
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// What an edit changes ([`Posts::update`]); `None` keeps a field.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostEdit<'a> {
    pub title: Option<&'a str>,
    pub content: Option<&'a str>,
    /// A new format renders the content again.
    pub format: Option<PostFormat>,
    pub publishing: Publishing,
    /// The post's whole set of tags (`Some(&[])` removes them all).
    pub tags: Option<&'a [String]>,
    /// Closes (`Some(true)`) or reopens its comments.
    pub comments_closed: Option<bool>,
}

/// A new post ([`Posts::create`]).
#[derive(Debug, Clone, Copy)]
pub struct NewPost<'a> {
    pub title: &'a str,
    pub content: &'a str,
    pub format: PostFormat,
    pub publishing: Publishing,
    pub tags: &'a [String],
    /// Written with its comments closed.
    pub comments_closed: bool,
}

/// The post use cases. Cheap to clone.
#[derive(Clone)]
pub struct Posts(Arc<Deps>);

struct Deps {
    db: Pool,
    cache: Cache,
    clock: Clock,
}

impl Posts {
    pub fn new(db: Pool, cache: Cache, clock: Clock) -> Self {
        Self(Arc::new(Deps { db, cache, clock }))
    }

    /// The time the use cases see (pages say "scheduled" against it).
    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    async fn conn(&self, op: &'static str) -> Result<deadpool_postgres::Object, Failure> {
        Ok(db::connect(&self.0.db, op).await?)
    }

    /// The posts public now, newest first: the same for everybody (an
    /// author finds their drafts in their own list).
    pub async fn list(&self, req: PageRequest) -> Result<PostPage, Failure> {
        let version = self.version(Read::Posts(req)).await;
        self.list_at(req, version.as_ref()).await
    }

    /// [`Self::list`] at a version already read by [`Self::version`] (for
    /// `Read::Posts(req)`), saving the round trip that reads it again.
    pub async fn list_at(
        &self,
        req: PageRequest,
        version: Option<&Version>,
    ) -> Result<PostPage, Failure> {
        let page = self
            .cached(version, || async {
                let conn = self.conn("listing posts").await?;
                let now = self.0.clock.now();
                repo::list(&conn, now, req).await.context("listing posts")
            })
            .await?;
        Ok(self.with_views(page).await)
    }

    /// One author's posts, newest first (username matched
    /// case-insensitively). For the author themself, drafts and scheduled
    /// posts too (newest first by publication, a draft by its last edit),
    /// read from the database: a writer sees each change at once.
    pub async fn list_by_author(
        &self,
        username: &str,
        viewer: Option<&AuthenticatedUser>,
        req: PageRequest,
    ) -> Result<PostPage, AuthorPostsError> {
        if let Some(me) = viewer.filter(|v| is_own_list(v, username)) {
            return self.list_own(me, req).await;
        }
        let version = self.version(Read::ByAuthor(username, req)).await;
        self.list_by_author_at(username, req, version.as_ref())
            .await
    }

    /// An author's own list, drafts and scheduled posts included: theirs
    /// alone, so never cached and never given a validator.
    pub async fn list_own(
        &self,
        me: &AuthenticatedUser,
        req: PageRequest,
    ) -> Result<PostPage, AuthorPostsError> {
        const OP: &str = "listing one's own posts";
        let conn = self.conn(OP).await?;
        let page = repo::list_own(&conn, me.id(), req).await.context(OP)?;
        Ok(self.with_views(page).await)
    }

    /// The public part of [`Self::list_by_author`] at a version read by
    /// [`Self::version`].
    pub async fn list_by_author_at(
        &self,
        username: &str,
        req: PageRequest,
        version: Option<&Version>,
    ) -> Result<PostPage, AuthorPostsError> {
        // Anything that is not a valid username cannot have posts.
        if Username::parse(username).is_err() {
            return Err(AuthorPostsError::NoSuchAuthor);
        }
        let username = username.to_lowercase();
        let page = self
            .cached(version, || async {
                let conn = self.conn("listing an author's posts").await?;
                let author = repo::find_author(&conn, &username)
                    .await
                    .context("listing an author's posts")?
                    .ok_or(AuthorPostsError::NoSuchAuthor)?;
                let now = self.0.clock.now();
                Ok::<_, AuthorPostsError>(
                    repo::list_by_author(&conn, author, now, req)
                        .await
                        .context("listing an author's posts")?,
                )
            })
            .await?;
        Ok(self.with_views(page).await)
    }

    /// The posts public now under one tag (`tag` is normalised as when
    /// writing: `Rust` finds `rust`), newest first. A tag nobody used, or
    /// used only on drafts, has no posts.
    pub async fn list_by_tag(
        &self,
        tag: &str,
        req: PageRequest,
    ) -> Result<PostPage, TagPostsError> {
        let version = self.version(Read::ByTag(tag, req)).await;
        self.list_by_tag_at(tag, req, version.as_ref()).await
    }

    /// [`Self::list_by_tag`] at a version read by [`Self::version`].
    pub async fn list_by_tag_at(
        &self,
        tag: &str,
        req: PageRequest,
        version: Option<&Version>,
    ) -> Result<PostPage, TagPostsError> {
        let tag = TagSlug::lookup(tag).ok_or(TagPostsError::InvalidTag)?;
        const OP: &str = "listing a tag's posts";
        let page = self
            .cached(version, || async {
                let conn = self.conn(OP).await?;
                let Some(tag_id) = repo::find_tag(&conn, tag.as_str()).await.context(OP)? else {
                    return Ok::<_, TagPostsError>(Page::default());
                };
                let now = self.0.clock.now();
                Ok(repo::list_by_tag(&conn, tag_id, now, req)
                    .await
                    .context(OP)?)
            })
            .await?;
        Ok(self.with_views(page).await)
    }

    /// Tags with public posts and how many, by slug: `limit` after the
    /// slug `after` (`""`: from the start).
    pub async fn tags(&self, after: &str, limit: u32) -> Result<Vec<TagCount>, Failure> {
        let version = self.version(Read::Tags(after, limit)).await;
        self.tags_at(after, limit, version.as_ref()).await
    }

    /// [`Self::tags`] at a version read by [`Self::version`].
    pub async fn tags_at(
        &self,
        after: &str,
        limit: u32,
        version: Option<&Version>,
    ) -> Result<Vec<TagCount>, Failure> {
        const OP: &str = "listing tags";
        self.cached(version, || async {
            let conn = self.conn(OP).await?;
            repo::tags(&conn, self.0.clock.now(), after, limit)
                .await
                .context(OP)
        })
        .await
    }

    /// The published posts matching `query`, best first (words in the title
    /// count more), page `page` (1-based, at most [`search::MAX_PAGES`]) of
    /// `per_page` (at most [`search::MAX_PER_PAGE`]).
    pub async fn search(
        &self,
        query: &SearchQuery,
        page: u32,
        per_page: u32,
    ) -> Result<SearchPage, SearchError> {
        let version = self.version(Read::Search(query, page, per_page)).await;
        self.search_at(query, page, per_page, version.as_ref())
            .await
    }

    /// [`Self::search`] at a version read by [`Self::version`].
    pub async fn search_at(
        &self,
        query: &SearchQuery,
        page: u32,
        per_page: u32,
        version: Option<&Version>,
    ) -> Result<SearchPage, SearchError> {
        let page = page.clamp(1, search::MAX_PAGES);
        let per_page = per_page.clamp(1, search::MAX_PER_PAGE);
        const OP: &str = "searching posts";
        // One more than the page: whether there is a next one.
        let rows: Vec<(PostRow, String)> = self
            .cached(version, || async {
                let conn = self.conn(OP).await?;
                let now = self.0.clock.now();
                let rows = repo::search(
                    &conn,
                    query.as_str(),
                    now,
                    per_page + 1,
                    (page - 1) * per_page,
                )
                .await
                .context(OP)?;
                Ok::<_, SearchError>(rows.into_iter().map(|r| (r.post, r.snippet)).collect())
            })
            .await?;
        let more = rows.len() > per_page as usize;
        let mut items: Vec<SearchHit> = rows
            .into_iter()
            .take(per_page as usize)
            .map(|(row, snippet)| SearchHit {
                post: Post::from(row),
                snippet_html: search::snippet_html(&snippet),
            })
            .collect();
        let ids: Vec<i64> = items.iter().map(|h| h.post.id).collect();
        if let Some(counts) = self.0.cache.views(&ids).await {
            for (hit, views) in items.iter_mut().zip(counts) {
                hit.post.views = Some(views);
            }
        }
        Ok(SearchPage {
            items,
            next_page: (more && page < search::MAX_PAGES).then_some(page + 1),
        })
    }

    /// The current version of a public read (see [`Version`]): one Redis
    /// round trip and no Postgres, except once per generation and per
    /// publication time passed, when the next scheduled publication is
    /// looked up (an indexed `min`). `None` when Redis or Postgres is
    /// unavailable (reads then bypass the cache and have no version) or the
    /// read names nothing that can exist (a malformed username).
    pub async fn version(&self, read: Read<'_>) -> Option<Version> {
        let parts = match read {
            Read::Posts(req) => vec!["list".to_owned(), req.key()],
            Read::ByAuthor(username, req) => {
                Username::parse(username).ok()?;
                vec!["author".to_owned(), username.to_lowercase(), req.key()]
            }
            Read::Post(id) => vec!["post".to_owned(), id.to_string()],
            Read::ByTag(tag, req) => {
                let tag = TagSlug::lookup(tag)?;
                vec!["tag".to_owned(), tag.as_str().to_owned(), req.key()]
            }
            // The slug is user input: hashed into a key of bounded length
            // and alphabet (it may hold `:`).
            Read::Tags(after, limit) => {
                vec!["tags".to_owned(), key_part(after), limit.to_string()]
            }
            Read::Search(query, page, limit) => vec![
                "search".to_owned(),
                key_part(query.as_str()),
                page.to_string(),
                limit.to_string(),
            ],
            Read::Comments(id, req) => vec!["comments".to_owned(), id.to_string(), req.key()],
        };
        let now = self.0.clock.now();
        let (generation, known) = self.0.cache.publication_state().await?;
        let until = match known {
            // Still ahead (or none scheduled): every read of this generation
            // is the same until then.
            Some(next) if next.is_none_or(|at| now < at) => next,
            // Unknown for this generation, or passed: the database says
            // which publication comes next. Written for this generation
            // only, so a lookup that raced with a write is never believed
            // after it.
            _ => {
                const OP: &str = "finding the next publication";
                let conn = self.conn(OP).await.ok()?;
                let next = repo::next_publication(&conn, now).await.ok()?;
                self.0.cache.set_next_publication(generation, next).await;
                next
            }
        };
        let stamp = until.map_or_else(
            || "n-".to_owned(),
            |at| format!("n{}", at.timestamp_millis()),
        );
        let mut keyed: Vec<&str> = vec![&stamp];
        keyed.extend(parts.iter().map(String::as_str));
        Some(Version {
            key: Cache::key(generation, &keyed),
            until,
        })
    }

    /// How many of an author's posts readers see now (drafts and scheduled
    /// posts are not counted, whoever asks).
    pub async fn public_count(&self, author_id: i64) -> Result<i64, Failure> {
        const OP: &str = "counting an author's posts";
        let conn = self.conn(OP).await?;
        repo::count_public_by_author(&conn, author_id, self.0.clock.now())
            .await
            .context(OP)
    }

    /// Where page `number` (1-based, `per_page` posts) of the public posts
    /// starts, for links from the Django original (`/?page=N`); `None` for
    /// the first page and past the end. Costs as much as the page is deep
    /// (an OFFSET scan), so callers bound `number`.
    pub async fn cursor_at_page(
        &self,
        number: u32,
        per_page: u32,
    ) -> Result<Option<Cursor>, Failure> {
        if number <= 1 {
            return Ok(None);
        }
        let conn = self.conn("finding a page by number").await?;
        repo::cursor_at_page(&conn, self.0.clock.now(), number, per_page)
            .await
            .context("finding a page by number")
    }

    /// Reads a post and counts the view. Another's draft or scheduled post
    /// is [`GetPostError::NotFound`].
    pub async fn get(
        &self,
        id: i64,
        viewer: Option<&AuthenticatedUser>,
    ) -> Result<Post, GetPostError> {
        let version = self.version(Read::Post(id)).await;
        self.get_at(id, viewer, version.as_ref()).await
    }

    /// [`Self::get`] at a version read by [`Self::version`].
    pub async fn get_at(
        &self,
        id: i64,
        viewer: Option<&AuthenticatedUser>,
        version: Option<&Version>,
    ) -> Result<Post, GetPostError> {
        let mut post = self.find_at(id, viewer, version).await?;
        post.views = self.count_view(id).await;
        Ok(post)
    }

    /// Reads a post without counting a view (edit forms, redirects to the
    /// canonical URL); `views` is `None`. Visibility as for [`Posts::get`].
    pub async fn find(
        &self,
        id: i64,
        viewer: Option<&AuthenticatedUser>,
    ) -> Result<Post, GetPostError> {
        let version = self.version(Read::Post(id)).await;
        self.find_at(id, viewer, version.as_ref()).await
    }

    async fn find_at(
        &self,
        id: i64,
        viewer: Option<&AuthenticatedUser>,
        version: Option<&Version>,
    ) -> Result<Post, GetPostError> {
        // The row is cached whoever it is visible to, and checked against
        // the viewer and the time on every read.
        let row: PostRow = self
            .cached(version, || async {
                let conn = self.conn("reading a post").await?;
                repo::get(&conn, id)
                    .await
                    .context("reading a post")?
                    .ok_or(GetPostError::NotFound)
            })
            .await?;
        if !visible(row.author_id, row.published_at, viewer, self.0.clock.now()) {
            return Err(GetPostError::NotFound);
        }
        Ok(Post::from(row))
    }

    /// The view counts of posts already read (0 for none), as the answers
    /// show them; `None` while Redis is unavailable.
    pub async fn views(&self, ids: &[i64]) -> Option<Vec<u64>> {
        self.0.cache.views(ids).await
    }

    /// Counts one read of post `id`; the count so far, `None` while the
    /// counter is unavailable.
    pub async fn count_view(&self, id: i64) -> Option<u64> {
        self.0.cache.record_view(id).await
    }

    /// Where the Django original's post `django_id` lives now (old links
    /// `/post/<django id>/`), if it was imported under another id.
    pub async fn moved_from_django(&self, django_id: i64) -> Result<Option<i64>, Failure> {
        let conn = self.conn("finding an imported post").await?;
        let id = repo::imported_from_django(&conn, django_id)
            .await
            .context("finding an imported post")?;
        Ok(id.filter(|&id| id != django_id))
    }

    /// Writes a post: published now unless `publishing` says draft or
    /// gives a time (see [`Publishing::resolve`]).
    pub async fn create(
        &self,
        who: &AuthenticatedUser,
        new: NewPost<'_>,
    ) -> Result<Post, CreatePostError> {
        let NewPost {
            title,
            content,
            format,
            publishing,
            tags,
            comments_closed,
        } = new;
        let now = self.0.clock.now();
        let mut errors = ValidationErrors::default();
        let title = errors.check(PostTitle::parse(title));
        let content = errors.check(PostContent::parse(content));
        let published_at = errors.check(publishing.resolve(None, now));
        let tags = errors.merge(Tags::parse(tags));
        let (Some(title), Some(content), Some(published_at), Some(tags)) =
            (title, content, published_at, tags)
        else {
            return Err(CreatePostError::Invalid(errors));
        };
        // Rendered before taking a connection: Markdown of 100 000
        // characters takes milliseconds, a pooled connection is scarcer.
        let body = PostBody::render(content, format);
        const OP: &str = "creating a post";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let mut row = repo::create(
            &tx,
            who.id(),
            &title,
            &body,
            published_at.flatten(),
            comments_closed,
            now,
        )
        .await
        .context(OP)?;
        repo::set_tags(&tx, row.id, &tags.slugs())
            .await
            .context(OP)?;
        tx.commit().await.op("commit").context(OP)?;
        row.tags = tags.slugs().into_iter().map(str::to_owned).collect();
        self.0.cache.invalidate_posts().await;
        let mut post = Post::from(row);
        post.views = Some(0);
        Ok(post)
    }

    /// Changes the given fields; only the author may. A new content or
    /// format renders the post again; `publishing` may publish, schedule,
    /// reschedule or unpublish it (see [`Publishing::resolve`]).
    pub async fn update(
        &self,
        who: &AuthenticatedUser,
        id: i64,
        edit: PostEdit<'_>,
    ) -> Result<Post, UpdatePostError> {
        let PostEdit {
            title,
            content,
            format,
            publishing,
            tags,
            comments_closed,
        } = edit;
        let now = self.0.clock.now();
        let mut errors = ValidationErrors::default();
        let title = errors.check(title.map(PostTitle::parse).transpose());
        let content = errors.check(content.map(PostContent::parse).transpose());
        // What makes a request invalid does not depend on the post (the
        // post is only needed for what a valid one means).
        errors.check(publishing.resolve(None, now));
        let tags = errors.merge(tags.map(Tags::parse).transpose());
        let (Some(title), Some(content), Some(tags)) = (title, content, tags) else {
            return Err(UpdatePostError::Invalid(errors));
        };
        errors.finish().map_err(UpdatePostError::Invalid)?;
        const OP: &str = "updating a post";
        let mut conn = self.conn(OP).await?;
        let tx = conn.transaction().await.op("begin").context(OP)?;
        let current = repo::lock_for_edit(&tx, id)
            .await
            .context(OP)?
            .ok_or(UpdatePostError::NotFound)?;
        if current.author_id != who.id() {
            // Another's draft does not exist, as far as others can tell.
            return Err(if is_public(current.published_at, now) {
                UpdatePostError::NotAuthor
            } else {
                UpdatePostError::NotFound
            });
        }
        let published_at = publishing
            .resolve(Some(current.published_at), now)
            .map_err(|e| UpdatePostError::Invalid(e.into()))?;
        let body = if content.is_some() || format.is_some() {
            let format =
                format.unwrap_or_else(|| PostFormat::parse(&current.format).unwrap_or_default());
            let content = match content {
                Some(c) => c,
                // Stored content met the rules when it was written; if a
                // rule was tightened since, the edit says which, as it would
                // for new content.
                None => PostContent::parse(&current.content)
                    .map_err(|e| UpdatePostError::Invalid(e.into()))?,
            };
            Some(PostBody::render(content, format))
        } else {
            None
        };
        let mut row = repo::update(
            &tx,
            id,
            title.as_ref(),
            body.as_ref(),
            published_at,
            comments_closed,
            now,
        )
        .await
        .context(OP)?;
        if let Some(tags) = tags {
            repo::set_tags(&tx, id, &tags.slugs()).await.context(OP)?;
            row.tags = tags.slugs().into_iter().map(str::to_owned).collect();
        }
        tx.commit().await.op("commit").context(OP)?;
        self.0.cache.invalidate_posts().await;
        let mut post = Post::from(row);
        post.views = self
            .0
            .cache
            .views(&[post.id])
            .await
            .and_then(|v| v.first().copied());
        Ok(post)
    }

    /// Deletes a post; only the author may.
    pub async fn delete(&self, who: &AuthenticatedUser, id: i64) -> Result<(), DeletePostError> {
        let conn = self.conn("deleting a post").await?;
        let deleted = repo::delete(&conn, id, who.id())
            .await
            .context("deleting a post")?;
        if !deleted {
            return Err(
                match repo::author_of(&conn, id)
                    .await
                    .context("deleting a post")?
                {
                    // Another's draft does not exist, as far as others can tell.
                    Some(a) if is_public(a.published_at, self.0.clock.now()) => {
                        DeletePostError::NotAuthor
                    }
                    _ => DeletePostError::NotFound,
                },
            );
        }
        self.0.cache.invalidate_posts().await;
        self.0.cache.forget_views(id).await;
        Ok(())
    }

    /// Read-through cache at `version` (see `cache`); without one (Redis
    /// unavailable), a plain load.
    pub(crate) async fn cached<T, E, F, Fut>(
        &self,
        version: Option<&Version>,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let cache = &self.0.cache;
        let Some(version) = version else {
            return load().await;
        };
        if let Some(hit) = cache.get(&version.key).await {
            return Ok(hit);
        }
        let value = load().await?;
        // Kept no longer than the version is current: past its next
        // publication, readers look for another key anyway.
        let max_age = version
            .until
            .map(|at| (at - self.0.clock.now()).to_std().unwrap_or_default());
        cache.put_for(&version.key, &value, max_age).await;
        Ok(value)
    }

    async fn with_views(&self, page: Page) -> PostPage {
        let ids: Vec<i64> = page.items.iter().map(|p| p.id).collect();
        let counts = self.0.cache.views(&ids).await;
        let items = page
            .items
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let mut post = Post::from(row);
                post.views = counts.as_ref().and_then(|c| c.get(i).copied());
                post
            })
            .collect();
        PostPage {
            items,
            older: page.older,
            newer: page.newer,
        }
    }
}

/// `text` as a cache-key part: hex of its SHA-256 (bounded length, no `:`).
fn key_part(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..12])
}
