//! `/api/posts` and `/api/users/{username}/posts`: translation between HTTP
//! and [`crate::posts::Posts`], and the answers each operation documents.

use chrono::{DateTime, Utc};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::ApiTags;
use super::auth::BearerAuth;
use super::conditional::{self, Decision};
use super::nullable::{Nullable, OptionalNullable};
use super::problem::{ApiError, Problem};
use super::rendered::{JsonBytes, ShowsViews};
use super::strict::{StrictString, Text, rules};
use crate::accounts::AuthError;
use crate::avatars::avatar_url;
use crate::error::Failure;
use crate::pagination::{self, Cursor, PageError, PageRequest};
use crate::posts::{
    AuthorPostsError, CreatePostError, DeletePostError, GetPostError, NewPost as NewPostData,
    PostEdit, Read, SearchError, SearchQuery, TagPostsError, TagSlug, UpdatePostError, Version,
    is_own_list,
};
use crate::startup::AppState;
use crate::{documented, operation, problem_doc};

/// Who wrote a post.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
pub struct AuthorSummary {
    /// The author's username.
    pub username: String,
    /// Absolute URL of the author's avatar (a default image if none is set).
    pub avatar_url: String,
}

/// How a post's `content` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PostFormat {
    /// Shown as written, line breaks kept.
    Plain,
    /// CommonMark with tables, strikethrough, task lists and footnotes;
    /// raw HTML is sanitised by an allow-list (no scripts, event handlers,
    /// `javascript:`/`data:` URLs, frames, forms or outside images).
    Markdown,
}

impl From<PostFormat> for crate::posts::PostFormat {
    fn from(f: PostFormat) -> Self {
        match f {
            PostFormat::Plain => Self::Plain,
            PostFormat::Markdown => Self::Markdown,
        }
    }
}

impl From<crate::posts::PostFormat> for PostFormat {
    fn from(f: crate::posts::PostFormat) -> Self {
        match f {
            crate::posts::PostFormat::Plain => Self::Plain,
            crate::posts::PostFormat::Markdown => Self::Markdown,
        }
    }
}

/// Whether a post is a `draft` (its author's alone) or `published` (public
/// from `published_at`, which may be to come: a scheduled post).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    /// Only its author sees it (by id and in their own author list); it has
    /// no `published_at`.
    Draft,
    /// Everybody sees it from `published_at` on; until then (a scheduled
    /// post) only its author does.
    Published,
}

impl From<PostStatus> for crate::posts::PostStatus {
    fn from(s: PostStatus) -> Self {
        match s {
            PostStatus::Draft => Self::Draft,
            PostStatus::Published => Self::Published,
        }
    }
}

impl From<crate::posts::PostStatus> for PostStatus {
    fn from(s: crate::posts::PostStatus) -> Self {
        match s {
            crate::posts::PostStatus::Draft => Self::Draft,
            crate::posts::PostStatus::Published => Self::Published,
        }
    }
}

fn publishing(
    status: Option<PostStatus>,
    published_at: Option<DateTime<Utc>>,
) -> crate::posts::Publishing {
    crate::posts::Publishing {
        status: status.map(Into::into),
        at: published_at,
    }
}

/// A blog post with its author.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct Post {
    /// Identifier, used in `/api/posts/{id}`.
    pub id: i64,
    /// Trimmed title, 1–100 characters.
    pub title: String,
    /// Body text, exactly as written (the source, in `format`).
    pub content: String,
    // How `content` is written. Not a doc comment: it would wrap the `$ref`
    // in `allOf`, and generated clients model a duplicate type for it.
    pub format: PostFormat,
    /// `content` rendered to sanitised HTML, safe to embed as it is.
    pub content_html: String,
    /// The first paragraph as plain text, at most 300 characters (ends
    /// with `…` when cut).
    pub excerpt: String,
    /// The post's page on the website (absolute URL, with its slug).
    pub url: String,
    /// When the post was written.
    pub created_at: DateTime<Utc>,
    /// When the post was last edited (equals `created_at` if never).
    pub updated_at: DateTime<Utc>,
    // `draft` or `published`. Not a doc comment, as for `format`.
    pub status: PostStatus,
    /// When the post is (or was, or will be: a scheduled post) public;
    /// `null` for a draft. Lists are ordered by it.
    pub published_at: Nullable<DateTime<Utc>>,
    pub author: AuthorSummary,
    /// Its tags, normalised (lower case, Unicode NFKC, spaces and
    /// punctuation as `-`), in the writer's order; at most 10.
    pub tags: Vec<String>,
    /// Times the post was read through `GET /api/posts/{id}`; `null` when
    /// the counter is temporarily unavailable.
    pub views: Nullable<u64>,
    /// Comments on the post (`GET /api/posts/{id}/comments`).
    pub comment_count: i64,
    /// Whether its author closed its comments: no new comments, no edits
    /// (deleting stays possible).
    pub comments_closed: bool,
}

/// A page of posts, newest published first.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct PostPage {
    /// At most `limit` posts.
    pub items: Vec<Post>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Nullable<String>,
}

/// A new post. `title`: 1–100 characters once surrounding whitespace is
/// trimmed, one line. `content`: non-blank, at most 100 000 characters,
/// stored verbatim. Published at once unless `status` is `draft` or
/// `published_at` is given (a future time schedules the post).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewPost {
    /// 1–100 characters after trimming, one line (no control characters).
    pub title: Text<rules::Title>,
    /// Non-blank, at most 100 000 characters, no NUL.
    pub content: Text<rules::Content>,
    /// How `content` is written; `plain` when absent or `null`.
    pub format: OptionalNullable<PostFormat>,
    /// `published` when absent or `null`. A `draft` takes no `published_at`.
    pub status: OptionalNullable<PostStatus>,
    /// When the post becomes public (1970–9999); now when absent or `null`.
    /// A future time schedules it: only its author sees it until then.
    pub published_at: OptionalNullable<DateTime<Utc>>,
    /// At most 10 distinct tags once normalised (`Web Dev` and `web-dev`
    /// are one tag), each 1–50 characters with a letter or a digit; none
    /// when absent or `null`.
    pub tags: OptionalNullable<Vec<StrictString>>,
    /// `true` writes the post with its comments closed; open when absent
    /// or `null`.
    pub comments_closed: OptionalNullable<bool>,
}

/// Changes to a post; absent (or `null`) fields stay as they are. Same rules
/// as for a new post.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PostChanges {
    /// New title, or absent (or `null`) to keep it.
    pub title: OptionalNullable<Text<rules::Title>>,
    /// New content, or absent (or `null`) to keep it.
    pub content: OptionalNullable<Text<rules::Content>>,
    /// New format (the content is rendered again), or absent (or `null`)
    /// to keep it.
    pub format: OptionalNullable<PostFormat>,
    /// `draft` unpublishes the post (it takes no `published_at`);
    /// `published` publishes a draft now (a published post keeps its
    /// time). Absent or `null`: as it is.
    pub status: OptionalNullable<PostStatus>,
    /// A new publication time (publishes a draft; a future time schedules
    /// or reschedules the post). Absent or `null`: as it is.
    pub published_at: OptionalNullable<DateTime<Utc>>,
    /// The post's new tags, all of them (`[]` removes every tag), same
    /// rules as for a new post. Absent or `null`: as they are.
    pub tags: OptionalNullable<Vec<StrictString>>,
    /// `true` closes the post's comments (no new ones, no edits), `false`
    /// reopens them. Absent or `null`: as they are.
    pub comments_closed: OptionalNullable<bool>,
}

/// A post that matches a search.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct SearchHit {
    // The post, as `GET /posts/{id}` answers it. Not a doc comment: it would
    // wrap the `$ref` in `allOf`, and generated clients model a duplicate.
    pub post: Post,
    /// Where the body matches, as HTML safe to embed: the post's text
    /// escaped, the matched words in `<mark>` (the start of the body when
    /// only the title matches).
    pub snippet_html: String,
}

/// A page of search results, best match first.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct SearchResults {
    /// At most `limit` matches.
    pub items: Vec<SearchHit>,
    /// Pass as `page` for more results; `null` on the last page (at most
    /// 10 pages are served).
    pub next_page: Nullable<u32>,
}

#[derive(ApiResponse)]
pub enum Searched {
    /// One page of results.
    #[oai(status = 200)]
    Ok(
        Json<SearchResults>,
        /// Weak validator of this page, as for the post lists.
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

/// A tag and how many published posts carry it.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct TagSummary {
    /// The normalised tag, as `GET /posts?tag=` takes it.
    pub tag: String,
    /// Published posts with this tag (drafts and scheduled posts are not
    /// counted).
    pub posts: i64,
    /// The tag's page on the website (absolute URL).
    pub url: String,
}

/// A page of tags, by name.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct TagPage {
    /// At most `limit` tags, each with at least one published post.
    pub items: Vec<TagSummary>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Nullable<String>,
}

#[derive(ApiResponse)]
pub enum Tags {
    /// One page of tags, by name.
    #[oai(status = 200)]
    Ok(
        Json<TagPage>,
        /// Weak validator of this page, as for the post lists.
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
pub enum CreatedPost {
    /// The post was created.
    #[oai(status = 201)]
    Created(
        Json<Post>,
        /// Where the new post can be read.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum OnePost {
    /// The post, with its current view count.
    #[oai(status = 200)]
    Ok(Json<Post>),
}

/// `GET /posts/{id}`: the post, or 304 when the client's copy is current.
// Made once per request and turned into the response at once: boxing the
// post would cost an allocation on every 200 to save stack on a 304.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
pub enum ReadPost {
    /// The post, with its current view count.
    #[oai(status = 200)]
    Ok(
        JsonBytes<Post>,
        /// Weak validator of this answer: send it back in `If-None-Match`.
        /// It changes when the post or its author changes, or a scheduled
        /// post becomes public, not when only `views` does. Absent while the
        /// cache (Redis) is unavailable, and on an author's own draft or
        /// scheduled post.
        #[oai(header = "ETag")]
        Option<String>,
    ),
    /// `If-None-Match` names the current `ETag`: the copy the client holds
    /// is current (only `views` may have moved). The read is still counted
    /// as a view. No body.
    #[oai(status = 304)]
    NotModified(
        /// The current validator (the one matched).
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum Posts {
    /// One page of posts, newest first.
    #[oai(status = 200)]
    Ok(
        JsonBytes<PostPage>,
        /// Weak validator of this page: send it back in `If-None-Match`.
        /// It changes when any post or author changes, or a scheduled post
        /// becomes public, not when only `views` do. Absent while the cache
        /// (Redis) is unavailable, and on an author's own list.
        #[oai(header = "ETag")]
        Option<String>,
    ),
    /// `If-None-Match` names the page's current `ETag`: the copy the client
    /// holds is current (only `views` may have moved). No body.
    #[oai(status = 304)]
    NotModified(
        /// The current validator (the one matched).
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum DeletedPost {
    /// The post is gone.
    #[oai(status = 204)]
    Deleted,
}

problem_doc!(AUTHOR_NOT_FOUND = 404 "not_found",
    "No user has this username (matched case-insensitively).",
    "no user has this username");
problem_doc!(POST_NOT_FOUND = 404 "not_found",
    "No post has this id (it may have been deleted), or it is someone else's draft or scheduled post.",
    "no post has this id");
problem_doc!(POST_INVALID = 422 "validation_failed",
    "The title, content or publication breaks a rule; `errors` lists each (`invalid_title`, `invalid_content`, `invalid_published_at`: a draft with a publication time, or a time outside 1970–9999).",
    "title: must be at most 100 characters (got 101)",
    [("title", "invalid_title", "must be at most 100 characters (got 101)")]);
problem_doc!(NOT_AUTHOR_EDIT = 403 "forbidden",
    "The post exists but was written by someone else; only its author may edit it.",
    "only the author may change this post");
problem_doc!(NOT_AUTHOR_DELETE = 403 "forbidden",
    "The post exists but was written by someone else; only its author may delete it.",
    "only the author may delete this post");

documented!(AuthorPostsError {
    AuthorPostsError::NoSuchAuthor => AUTHOR_NOT_FOUND;
    AuthorPostsError::Failed(e) => via Failure(e);
});
documented!(SearchError {
    SearchError::InvalidQuery(_) => super::problem::MALFORMED_PARAMETER;
    SearchError::Failed(e) => via Failure(e);
});
documented!(TagPostsError {
    TagPostsError::InvalidTag => super::problem::MALFORMED_PARAMETER;
    TagPostsError::Failed(e) => via Failure(e);
});
documented!(GetPostError {
    GetPostError::NotFound => POST_NOT_FOUND;
    GetPostError::Failed(e) => via Failure(e);
});
documented!(CreatePostError {
    CreatePostError::Invalid(e) => POST_INVALID, |p: Problem| p.with_errors(e);
    CreatePostError::Failed(e) => via Failure(e);
});
documented!(UpdatePostError {
    UpdatePostError::Invalid(e) => POST_INVALID, |p: Problem| p.with_errors(e);
    UpdatePostError::NotFound => POST_NOT_FOUND;
    UpdatePostError::NotAuthor => NOT_AUTHOR_EDIT;
    UpdatePostError::Failed(e) => via Failure(e);
});
documented!(DeletePostError {
    DeletePostError::NotFound => POST_NOT_FOUND;
    DeletePostError::NotAuthor => NOT_AUTHOR_DELETE;
    DeletePostError::Failed(e) => via Failure(e);
});

operation!(ListPosts = "list_posts": PageError, TagPostsError; parameters);
operation!(ListTags = "list_tags": Failure; parameters);
operation!(SearchPosts = "search_posts": SearchError; parameters);
operation!(ListUserPosts = "list_user_posts": PageError, AuthError, AuthorPostsError; parameters);
operation!(GetPost = "get_post": AuthError, GetPostError; parameters);
operation!(CreatePost = "create_post": AuthError, CreatePostError; json_body);
operation!(UpdatePost = "update_post": AuthError, UpdatePostError; json_body, parameters);
operation!(DeletePost = "delete_post": AuthError, DeletePostError; parameters);

fn default_limit() -> u32 {
    pagination::DEFAULT_LIMIT
}

fn default_tag_limit() -> u32 {
    50
}

fn default_search_limit() -> u32 {
    10
}

fn first_page() -> u32 {
    1
}

pub struct PostsApi;

#[OpenApi(tag = "ApiTags::Posts")]
impl PostsApi {
    /// List posts
    ///
    /// The published posts, newest first (by `published_at`), `limit` per
    /// page (default 5, at most 100): the same list for everybody, without
    /// drafts and without scheduled posts until their time. Follow
    /// `next_cursor` for older posts; a page costs the same however deep it
    /// is. With `tag`, only the posts carrying that tag.
    #[oai(path = "/posts", method = "get", operation_id = "list_posts")]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Opaque cursor from a previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Only posts with this tag, normalised as when writing (`Rust`
        /// finds `rust`). A tag no published post has gives an empty page;
        /// one that cannot be a tag (no letter or digit, over 50
        /// characters) is 400.
        tag: Query<Option<String>>,
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
    ) -> Result<Posts, ApiError<ListPosts>> {
        let req = PageRequest::parse(cursor.0.as_deref(), Some(limit.0))?;
        let inm = if_none_match.0.as_deref();
        let tag = tag.0.as_deref();
        if tag.is_some_and(|t| TagSlug::lookup(t).is_none()) {
            return Err(TagPostsError::InvalidTag.into());
        }
        let read = match tag {
            Some(tag) => Read::ByTag(tag, req),
            None => Read::Posts(req),
        };
        let version = state.posts.version(read).await;
        let (version, etag) = match conditional::decide(public_url(&state), version, inm) {
            Decision::Unchanged(etag) => return Ok(Posts::NotModified(etag)),
            Decision::Load { version, etag } => (version, etag),
        };
        if let Some(kept) = kept_page(&state, version.as_ref(), etag.as_deref(), inm).await {
            return Ok(kept);
        }
        let page = match tag {
            Some(tag) => {
                state
                    .posts
                    .list_by_tag_at(tag, req, version.as_ref())
                    .await?
            }
            None => state
                .posts
                .list_at(req, version.as_ref())
                .await
                .map_err(TagPostsError::from)?,
        };
        Ok(page_answer(&state, page, version.as_ref(), etag, inm))
    }

    /// Search posts
    ///
    /// Full-text search of the published posts (title and body, English
    /// stemming: `writing` finds `write`), best match first, words in the
    /// title counting more. `q` takes words, `"a phrase"`, `or` and
    /// `-excluded` (as web search engines do); 1–200 characters (400
    /// otherwise); a query of only stop words or operators matches
    /// nothing. `limit` per page (default 10, at most 20), `page` 1–10.
    #[oai(path = "/search", method = "get", operation_id = "search_posts")]
    async fn search(
        &self,
        state: Data<&AppState>,
        /// What to look for.
        #[oai(validator(max_length = 1000))]
        q: Query<String>,
        /// The page of results (1-based).
        #[oai(
            default = "first_page",
            validator(minimum(value = "1"), maximum(value = "10"))
        )]
        page: Query<u32>,
        /// Results per page.
        #[oai(
            default = "default_search_limit",
            validator(minimum(value = "1"), maximum(value = "20"))
        )]
        limit: Query<u32>,
        /// `ETag`s of copies the client holds (a 304 answers when one is
        /// current), or `*`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Searched, ApiError<SearchPosts>> {
        let query = SearchQuery::parse(&q.0).map_err(SearchError::InvalidQuery)?;
        let inm = if_none_match.0.as_deref();
        let version = state
            .posts
            .version(Read::Search(&query, page.0, limit.0))
            .await;
        let (version, etag) = match conditional::decide(public_url(&state), version, inm) {
            Decision::Unchanged(etag) => return Ok(Searched::NotModified(etag)),
            Decision::Load { version, etag } => (version, etag),
        };
        let found = state
            .posts
            .search_at(&query, page.0, limit.0, version.as_ref())
            .await?;
        let results = SearchResults {
            items: found
                .items
                .into_iter()
                .map(|hit| SearchHit {
                    post: to_post(&state, hit.post),
                    snippet_html: hit.snippet_html,
                })
                .collect(),
            next_page: found.next_page.into(),
        };
        Ok(match etag {
            Some(etag) if conditional::any(inm) => Searched::NotModified(etag),
            etag => Searched::Ok(Json(results), etag),
        })
    }

    /// List tags
    ///
    /// The tags that published posts carry, by name, each with how many
    /// published posts carry it; `limit` per page (default 50, at most
    /// 100). Follow `next_cursor` for the next page.
    #[oai(path = "/tags", method = "get", operation_id = "list_tags")]
    async fn tags(
        &self,
        state: Data<&AppState>,
        /// Opaque cursor from a previous page's `next_cursor`.
        #[oai(validator(max_length = 200))]
        cursor: Query<Option<String>>,
        /// Page size.
        #[oai(
            default = "default_tag_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u32>,
        /// `ETag`s of copies the client holds (a 304 answers when one is
        /// current), or `*`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<Tags, ApiError<ListTags>> {
        // The cursor is the last tag of the previous page; anything else
        // only starts the list somewhere else.
        let after = cursor.0.unwrap_or_default();
        // One more than asked: whether there is a next page.
        let fetch = limit.0 + 1;
        let inm = if_none_match.0.as_deref();
        let version = state.posts.version(Read::Tags(&after, fetch)).await;
        let (version, etag) = match conditional::decide(public_url(&state), version, inm) {
            Decision::Unchanged(etag) => return Ok(Tags::NotModified(etag)),
            Decision::Load { version, etag } => (version, etag),
        };
        let mut tags = state.posts.tags_at(&after, fetch, version.as_ref()).await?;
        let more = tags.len() > limit.0 as usize;
        tags.truncate(limit.0 as usize);
        let next_cursor = more.then(|| tags.last().map(|t| t.slug.clone())).flatten();
        let page = TagPage {
            items: tags
                .into_iter()
                .map(|t| TagSummary {
                    url: format!(
                        "{}{}",
                        public_url(&state).trim_end_matches('/'),
                        crate::site::tag_path(&t.slug)
                    ),
                    tag: t.slug,
                    posts: t.posts,
                })
                .collect(),
            next_cursor: next_cursor.into(),
        };
        Ok(match etag {
            Some(etag) if conditional::any(inm) => Tags::NotModified(etag),
            etag => Tags::Ok(Json(page), etag),
        })
    }

    /// List an author's posts
    ///
    /// The published posts of one user (username matched
    /// case-insensitively), newest first, paginated like `GET /posts`. 404
    /// if there is no such user. With the author's own bearer token
    /// (optional: `Authorization: Bearer <token>`), their drafts and
    /// scheduled posts too, a draft placed by its last edit; a token that
    /// is sent must be valid (401).
    #[oai(
        path = "/users/:username/posts",
        method = "get",
        operation_id = "list_user_posts"
    )]
    async fn list_by_author(
        &self,
        state: Data<&AppState>,
        /// The author's username (case-insensitive).
        username: Path<String>,
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
    ) -> Result<Posts, ApiError<ListUserPosts>> {
        let req = PageRequest::parse(cursor.0.as_deref(), Some(limit.0))?;
        let viewer = state.viewer(request).await?;
        if let Some(me) = viewer.filter(|v| is_own_list(v, &username.0)) {
            // Their drafts too: an answer for them alone, without validator.
            let page = state.posts.list_own(&me, req).await?;
            return Ok(Posts::Ok(
                state.rendered.render(None, to_page(&state, page)),
                None,
            ));
        }
        let inm = if_none_match.0.as_deref();
        let version = state.posts.version(Read::ByAuthor(&username.0, req)).await;
        let (version, etag) = match conditional::decide(public_url(&state), version, inm) {
            Decision::Unchanged(etag) => return Ok(Posts::NotModified(etag)),
            Decision::Load { version, etag } => (version, etag),
        };
        if let Some(kept) = kept_page(&state, version.as_ref(), etag.as_deref(), inm).await {
            return Ok(kept);
        }
        let page = state
            .posts
            .list_by_author_at(&username.0, req, version.as_ref())
            .await?;
        Ok(page_answer(&state, page, version.as_ref(), etag, inm))
    }

    /// Read a post
    ///
    /// Counts one view, also when the answer is 304. A draft or a scheduled
    /// post is found only with its author's bearer token (optional:
    /// `Authorization: Bearer <token>`; a token that is sent must be valid,
    /// 401); for anybody else it does not exist (404).
    #[oai(path = "/posts/:id", method = "get", operation_id = "get_post")]
    async fn get(
        &self,
        state: Data<&AppState>,
        /// The post's `id`.
        id: Path<i64>,
        /// `ETag`s of copies the client holds (a 304 answers when one is
        /// current), or `*`.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
        request: &Request,
    ) -> Result<ReadPost, ApiError<GetPost>> {
        let viewer = state.viewer(request).await?;
        let inm = if_none_match.0.as_deref();
        let version = state.posts.version(Read::Post(id.0)).await;
        let (version, etag) = match conditional::decide(public_url(&state), version, inm) {
            // Only public answers carry a validator, and a version stays
            // current only while nobody's post changes visibility: a
            // matching tag names a post that is still public.
            Decision::Unchanged(etag) => {
                // The reader read it, from their own copy: still a view.
                state.posts.count_view(id.0).await;
                return Ok(ReadPost::NotModified(etag));
            }
            Decision::Load { version, etag } => (version, etag),
        };
        // Kept only for a post public at this version, which it stays while
        // the version is current (see `Decision::Unchanged` above).
        let kept = etag
            .as_ref()
            .zip(version.as_ref())
            .and_then(|(_, v)| state.rendered.get(v.as_str()));
        if let (Some(template), Some(etag)) = (kept, etag.clone()) {
            let views = state.posts.count_view(id.0).await;
            return Ok(if conditional::any(inm) {
                ReadPost::NotModified(etag)
            } else {
                ReadPost::Ok(
                    template.fill(views.as_ref().map(std::slice::from_ref)),
                    Some(etag),
                )
            });
        }
        let post = state
            .posts
            .get_at(id.0, viewer.as_ref(), version.as_ref())
            .await?;
        // The author's view of their draft or scheduled post is theirs
        // alone: no validator another client could replay.
        let etag = etag.filter(|_| post.is_public_at(state.posts.now()));
        Ok(match etag {
            // `*`: any current copy will do, and the post exists.
            Some(etag) if conditional::any(inm) => ReadPost::NotModified(etag),
            etag => {
                let key = version.as_ref().filter(|_| etag.is_some());
                let answer = state
                    .rendered
                    .render(key.map(Version::as_str), to_post(&state, post));
                ReadPost::Ok(answer, etag)
            }
        })
    }

    /// Write a post
    ///
    /// The authenticated user becomes its author. Published at once, as a
    /// draft (`status: draft`), or scheduled (`published_at` in the future).
    #[oai(path = "/posts", method = "post", operation_id = "create_post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<NewPost>,
    ) -> Result<CreatedPost, ApiError<CreatePost>> {
        let who = state.authenticate(&auth).await?;
        let post = state
            .posts
            .create(
                &who,
                NewPostData {
                    title: &body.title,
                    content: &body.content,
                    format: body.format.0.unwrap_or(PostFormat::Plain).into(),
                    publishing: publishing(body.status.0, body.published_at.0),
                    tags: &strings(body.tags.0.as_deref().unwrap_or_default()),
                    comments_closed: body.comments_closed.0.unwrap_or(false),
                },
            )
            .await?;
        let location = format!("/api/posts/{}", post.id);
        Ok(CreatedPost::Created(Json(to_post(&state, post)), location))
    }

    /// Edit a post
    ///
    /// Only its author may edit it (someone else's draft or scheduled post
    /// is not found). `status` and `published_at` publish, schedule,
    /// reschedule or unpublish it.
    #[oai(path = "/posts/:id", method = "patch", operation_id = "update_post")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The post's `id`.
        id: Path<i64>,
        body: Json<PostChanges>,
    ) -> Result<OnePost, ApiError<UpdatePost>> {
        let who = state.authenticate(&auth).await?;
        let post = state
            .posts
            .update(
                &who,
                id.0,
                PostEdit {
                    title: body.title.0.as_deref(),
                    content: body.content.0.as_deref(),
                    format: body.format.0.map(Into::into),
                    publishing: publishing(body.status.0, body.published_at.0),
                    tags: body.tags.0.as_deref().map(strings).as_deref(),
                    comments_closed: body.comments_closed.0,
                },
            )
            .await?;
        Ok(OnePost::Ok(Json(to_post(&state, post))))
    }

    /// Delete a post
    ///
    /// Only its author may delete it (someone else's draft or scheduled
    /// post is not found).
    #[oai(path = "/posts/:id", method = "delete", operation_id = "delete_post")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The post's `id`.
        id: Path<i64>,
    ) -> Result<DeletedPost, ApiError<DeletePost>> {
        let who = state.authenticate(&auth).await?;
        state.posts.delete(&who, id.0).await?;
        Ok(DeletedPost::Deleted)
    }
}

fn strings(list: &[StrictString]) -> Vec<String> {
    list.iter().map(|s| s.0.clone()).collect()
}

pub(super) fn public_url(state: &AppState) -> &str {
    &state.settings.http.public_url
}

/// A loaded page as an answer: 304 for `If-None-Match: *` (a page always
/// exists once loaded), else the page with its `ETag`.
/// A public page at `version` from its kept JSON (see `rendered`), if
/// there is one: no loading, no serialising, only the view counts read.
async fn kept_page(
    state: &AppState,
    version: Option<&Version>,
    etag: Option<&str>,
    if_none_match: Option<&str>,
) -> Option<Posts> {
    let etag = etag?.to_owned();
    let template = state.rendered.get(version?.as_str())?;
    if conditional::any(if_none_match) {
        return Some(Posts::NotModified(etag));
    }
    let views = state.posts.views(template.ids()).await;
    Some(Posts::Ok(template.fill(views.as_deref()), Some(etag)))
}

/// A loaded page as the answer; its JSON is kept for `version` when the
/// answer has a validator (a public page).
fn page_answer(
    state: &AppState,
    page: crate::posts::PostPage,
    version: Option<&Version>,
    etag: Option<String>,
    if_none_match: Option<&str>,
) -> Posts {
    match etag {
        Some(etag) if conditional::any(if_none_match) => Posts::NotModified(etag),
        etag => {
            let key = version.filter(|_| etag.is_some()).map(Version::as_str);
            Posts::Ok(state.rendered.render(key, to_page(state, page)), etag)
        }
    }
}

impl ShowsViews for Post {
    fn view_slots(&mut self) -> Vec<(i64, &mut Nullable<u64>)> {
        vec![(self.id, &mut self.views)]
    }
}

impl ShowsViews for PostPage {
    fn view_slots(&mut self) -> Vec<(i64, &mut Nullable<u64>)> {
        self.items
            .iter_mut()
            .map(|p| (p.id, &mut p.views))
            .collect()
    }
}

pub(super) fn to_post(state: &AppState, post: crate::posts::Post) -> Post {
    let url = crate::site::post_url(&state.settings.http.public_url, &post);
    let status = post.status().into();
    Post {
        id: post.id,
        title: post.title,
        content: post.content,
        format: post.format.into(),
        content_html: post.html,
        excerpt: post.excerpt,
        url,
        created_at: post.created_at,
        updated_at: post.updated_at,
        status,
        published_at: post.published_at.into(),
        author: AuthorSummary {
            avatar_url: avatar_url(
                &state.settings.http.public_url,
                post.author.avatar_key.as_deref(),
            ),
            username: post.author.username,
        },
        tags: post.tags,
        views: post.views.into(),
        comment_count: post.comment_count,
        comments_closed: post.comments_closed,
    }
}

fn to_page(state: &AppState, page: crate::posts::PostPage) -> PostPage {
    PostPage {
        items: page
            .items
            .into_iter()
            .map(|post| to_post(state, post))
            .collect(),
        next_cursor: page.older.map(|c| c.encode()).into(),
    }
}

// Examples shown in the OpenAPI document.

impl Example for Post {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-05-01T09:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Post {
            id: 42,
            title: "Blog Like a Pro".into(),
            content: "Write in *Markdown*, or plain text.".into(),
            format: PostFormat::Markdown,
            content_html: "<p>Write in <em>Markdown</em>, or plain text.</p>\n".into(),
            excerpt: "Write in Markdown, or plain text.".into(),
            url: "https://blog.example/post/42-blog-like-a-pro/".into(),
            created_at: at,
            updated_at: at,
            status: PostStatus::Published,
            published_at: Some(at).into(),
            author: AuthorSummary {
                username: "corey".into(),
                avatar_url: "https://blog.example/media/avatars/default.png".into(),
            },
            tags: vec!["python".into(), "web-dev".into()],
            views: Some(7).into(),
            comment_count: 3,
            comments_closed: false,
        }
    }
}

impl Example for PostPage {
    fn example() -> Self {
        let post = Post::example();
        let next = Cursor {
            at: post.created_at,
            id: post.id,
        };
        PostPage {
            items: vec![post],
            next_cursor: Some(next.encode()).into(),
        }
    }
}

impl Example for NewPost {
    fn example() -> Self {
        NewPost {
            title: Text::new("Blog Like a Pro"),
            content: Text::new("Write in *Markdown*, or plain text."),
            format: Some(PostFormat::Markdown).into(),
            status: Some(PostStatus::Published).into(),
            published_at: None.into(),
            tags: Some(vec![
                StrictString("Python".into()),
                StrictString("Web Dev".into()),
            ])
            .into(),
            comments_closed: None.into(),
        }
    }
}

impl Example for PostChanges {
    fn example() -> Self {
        PostChanges {
            title: Some(Text::new("Blog Like a Pro, updated")).into(),
            content: None.into(),
            format: None.into(),
            status: None.into(),
            published_at: None.into(),
            tags: None.into(),
            comments_closed: None.into(),
        }
    }
}

impl Example for TagSummary {
    fn example() -> Self {
        TagSummary {
            tag: "web-dev".into(),
            posts: 12,
            url: "https://blog.example/tag/web-dev/".into(),
        }
    }
}

impl Example for TagPage {
    fn example() -> Self {
        TagPage {
            items: vec![TagSummary::example()],
            next_cursor: Some("web-dev".to_owned()).into(),
        }
    }
}

impl Example for SearchHit {
    fn example() -> Self {
        SearchHit {
            post: Post::example(),
            snippet_html: "Write in <mark>Markdown</mark>, or plain text.".into(),
        }
    }
}

impl Example for SearchResults {
    fn example() -> Self {
        SearchResults {
            items: vec![SearchHit::example()],
            next_page: Some(2).into(),
        }
    }
}
