//! `/api/posts` and `/api/users/{username}/posts`.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::ApiTags;
use super::auth::{BearerAuth, authenticate};
use super::strict::StrictString;
use crate::avatars::avatar_url;
use crate::cache::Cache;
use crate::error::status::{
    BAD_REQUEST, FORBIDDEN, NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHORIZED, UNPROCESSABLE,
    UNSUPPORTED_MEDIA_TYPE,
};
use crate::error::{ApiError, ApiErrors, FieldError};
use crate::pagination::{self, Cursor};
use crate::posts::repository::{self, Page, PostRow};
use crate::posts::{PostContent, PostTitle};
use crate::startup::AppState;

/// Who wrote a post.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
pub struct AuthorSummary {
    /// The author's username.
    pub username: String,
    /// Absolute URL of the author's avatar (a default image if none is set).
    pub avatar_url: String,
}

/// A blog post with its author.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct Post {
    /// Identifier, used in `/api/posts/{id}`.
    pub id: i64,
    /// Trimmed title, 1–100 characters.
    pub title: String,
    /// Body text, exactly as written.
    pub content: String,
    /// When the post was written.
    pub created_at: DateTime<Utc>,
    /// When the post was last edited (equals `created_at` if never).
    pub updated_at: DateTime<Utc>,
    pub author: AuthorSummary,
    /// Times the post was read through `GET /api/posts/{id}`; `null` when
    /// the counter is temporarily unavailable.
    #[oai(nullable)]
    pub views: Option<u64>,
}

/// A page of posts, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct PostPage {
    /// At most `limit` posts.
    pub items: Vec<Post>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A new post. `title`: 1–100 characters once surrounding whitespace is
/// trimmed, one line. `content`: non-blank, at most 100 000 characters,
/// stored verbatim.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewPost {
    /// 1–100 characters after trimming, one line.
    pub title: StrictString,
    /// Non-blank, at most 100 000 characters.
    pub content: StrictString,
}

/// Changes to a post; absent (or `null`) fields stay as they are. Same rules
/// as for a new post.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PostChanges {
    /// New title, or absent to keep it.
    pub title: Option<StrictString>,
    /// New content, or absent to keep it.
    pub content: Option<StrictString>,
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

#[derive(ApiResponse)]
pub enum Posts {
    /// One page of posts, newest first.
    #[oai(status = 200)]
    Ok(Json<PostPage>),
}

#[derive(ApiResponse)]
pub enum DeletedPost {
    /// The post is gone.
    #[oai(status = 204)]
    Deleted,
}

fn default_limit() -> u32 {
    pagination::DEFAULT_LIMIT
}

pub struct PostsApi;

#[OpenApi(tag = "ApiTags::Posts")]
impl PostsApi {
    /// List posts
    ///
    /// All posts, newest first, `limit` per page (default 5, at most 100).
    /// Follow `next_cursor` for older posts; a page costs the same however
    /// deep it is.
    #[oai(path = "/posts", method = "get", operation_id = "list_posts")]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Opaque cursor from a previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Page size.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<u32>,
    ) -> Result<Posts, ApiErrors<BAD_REQUEST>> {
        let limit = pagination::limit(Some(limit.0))?;
        let cursor_raw = cursor.0.as_deref();
        let cursor = cursor_raw.map(Cursor::decode).transpose()?;
        let state = *state;
        let page = cached(
            state,
            &["list", cursor_raw.unwrap_or("-"), &limit.to_string()],
            || async move {
                Ok(to_page(
                    state,
                    repository::list(&state.db, cursor, limit).await?,
                ))
            },
        )
        .await?;
        Ok(Posts::Ok(Json(with_views(state, page).await)))
    }

    /// List an author's posts
    ///
    /// The posts of one user (username matched case-insensitively), newest
    /// first, paginated like `GET /posts`. 404 if there is no such user.
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
    ) -> Result<Posts, ApiErrors<{ BAD_REQUEST | NOT_FOUND }>> {
        let limit = pagination::limit(Some(limit.0))?;
        let cursor_raw = cursor.0.as_deref();
        let cursor = cursor_raw.map(Cursor::decode).transpose()?;
        let state = *state;
        let username = username.0.to_lowercase();
        let key = [
            "author",
            username.as_str(),
            cursor_raw.unwrap_or("-"),
            &limit.to_string(),
        ];
        let page = cached(state, &key, || async {
            let author = repository::find_author(&state.db, &username)
                .await?
                .ok_or_else(|| ApiError::not_found("user"))?;
            Ok(to_page(
                state,
                repository::list_by_author(&state.db, author, cursor, limit).await?,
            ))
        })
        .await?;
        Ok(Posts::Ok(Json(with_views(state, page).await)))
    }

    /// Read a post
    ///
    /// Counts one view.
    #[oai(path = "/posts/:id", method = "get", operation_id = "get_post")]
    async fn get(
        &self,
        state: Data<&AppState>,
        /// The post's `id`.
        id: Path<i64>,
    ) -> Result<OnePost, ApiErrors<{ BAD_REQUEST | NOT_FOUND }>> {
        let state = *state;
        let id = id.0;
        let mut post = cached(state, &["post", &id.to_string()], || async move {
            let row = repository::get(&state.db, id)
                .await?
                .ok_or_else(|| ApiError::not_found("post"))?;
            Ok(to_post(state, row))
        })
        .await?;
        post.views = state.cache.record_view(id).await;
        Ok(OnePost::Ok(Json(post)))
    }

    /// Write a post
    ///
    /// The authenticated user becomes its author.
    #[oai(path = "/posts", method = "post", operation_id = "create_post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<NewPost>,
    ) -> Result<
        CreatedPost,
        ApiErrors<
            {
                BAD_REQUEST
                    | UNAUTHORIZED
                    | PAYLOAD_TOO_LARGE
                    | UNSUPPORTED_MEDIA_TYPE
                    | UNPROCESSABLE
            },
        >,
    > {
        let user = authenticate(&state, &auth).await?;
        let (title, content) = collect_errors(
            PostTitle::parse(&body.title),
            PostContent::parse(&body.content),
        )?;
        let row = repository::create(&state.db, user.id, &title, &content).await?;
        state.cache.invalidate_posts().await;
        let location = format!("/api/posts/{}", row.id);
        let mut post = to_post(&state, row);
        post.views = Some(0);
        Ok(CreatedPost::Created(Json(post), location))
    }

    /// Edit a post
    ///
    /// Only its author may edit it.
    #[oai(path = "/posts/:id", method = "patch", operation_id = "update_post")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The post's `id`.
        id: Path<i64>,
        body: Json<PostChanges>,
    ) -> Result<
        OnePost,
        ApiErrors<
            {
                BAD_REQUEST
                    | UNAUTHORIZED
                    | FORBIDDEN
                    | NOT_FOUND
                    | PAYLOAD_TOO_LARGE
                    | UNSUPPORTED_MEDIA_TYPE
                    | UNPROCESSABLE
            },
        >,
    > {
        let user = authenticate(&state, &auth).await?;
        let (title, content) = collect_errors(
            body.title.as_deref().map(PostTitle::parse).transpose(),
            body.content.as_deref().map(PostContent::parse).transpose(),
        )?;
        let row =
            repository::update(&state.db, id.0, user.id, title.as_ref(), content.as_ref()).await?;
        state.cache.invalidate_posts().await;
        let mut post = to_post(&state, row);
        post.views = state
            .cache
            .views(&[post.id])
            .await
            .and_then(|v| v.first().copied());
        Ok(OnePost::Ok(Json(post)))
    }

    /// Delete a post
    ///
    /// Only its author may delete it.
    #[oai(path = "/posts/:id", method = "delete", operation_id = "delete_post")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The post's `id`.
        id: Path<i64>,
    ) -> Result<DeletedPost, ApiErrors<{ BAD_REQUEST | UNAUTHORIZED | FORBIDDEN | NOT_FOUND }>>
    {
        let user = authenticate(&state, &auth).await?;
        repository::delete(&state.db, id.0, user.id).await?;
        state.cache.invalidate_posts().await;
        state.cache.forget_views(id.0).await;
        Ok(DeletedPost::Deleted)
    }
}

/// Both fields' errors at once, so a client can show them together.
fn collect_errors<A, B>(
    a: Result<A, FieldError>,
    b: Result<B, FieldError>,
) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err(ApiError::Validation(
            [a.err(), b.err()].into_iter().flatten().collect(),
        )),
    }
}

/// Read-through cache under the current generation (see `cache`).
async fn cached<T, F, Fut>(state: &AppState, parts: &[&str], load: F) -> Result<T, ApiError>
where
    T: Serialize + serde::de::DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let Some(generation) = state.cache.generation().await else {
        return load().await;
    };
    let key = Cache::key(generation, parts);
    if let Some(hit) = state.cache.get(&key).await {
        return Ok(hit);
    }
    let value = load().await?;
    state.cache.put(&key, &value).await;
    Ok(value)
}

async fn with_views(state: &AppState, mut page: PostPage) -> PostPage {
    let ids: Vec<i64> = page.items.iter().map(|p| p.id).collect();
    match state.cache.views(&ids).await {
        Some(counts) => {
            for (post, views) in page.items.iter_mut().zip(counts) {
                post.views = Some(views);
            }
        }
        None => page.items.iter_mut().for_each(|p| p.views = None),
    }
    page
}

fn to_post(state: &AppState, row: PostRow) -> Post {
    Post {
        id: row.id,
        title: row.title,
        content: row.content,
        created_at: row.created_at,
        updated_at: row.updated_at,
        author: AuthorSummary {
            avatar_url: avatar_url(&state.settings, row.author_avatar_key.as_deref()),
            username: row.author_username,
        },
        views: None,
    }
}

fn to_page(state: &AppState, page: Page) -> PostPage {
    PostPage {
        items: page
            .items
            .into_iter()
            .map(|row| to_post(state, row))
            .collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
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
            content: "Posts are plain text; line breaks are kept.".into(),
            created_at: at,
            updated_at: at,
            author: AuthorSummary {
                username: "corey".into(),
                avatar_url: "https://blog.example/media/avatars/default.png".into(),
            },
            views: Some(7),
        }
    }
}

impl Example for PostPage {
    fn example() -> Self {
        let post = Post::example();
        let next = Cursor {
            created_at: post.created_at,
            id: post.id,
        };
        PostPage {
            items: vec![post],
            next_cursor: Some(next.encode()),
        }
    }
}

impl Example for NewPost {
    fn example() -> Self {
        NewPost {
            title: StrictString("Blog Like a Pro".into()),
            content: StrictString("Posts are plain text; line breaks are kept.".into()),
        }
    }
}

impl Example for PostChanges {
    fn example() -> Self {
        PostChanges {
            title: Some(StrictString("Blog Like a Pro, updated".into())),
            content: None,
        }
    }
}
