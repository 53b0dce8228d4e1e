//! Posts: domain rules (`domain`), SQL (`repository`) and the use cases
//! (`service`) that the API and the website call.

pub mod domain;
pub mod markdown;
pub mod repository;
pub mod search;
pub mod service;
pub mod tags;

pub use domain::{PostBody, PostContent, PostFormat, PostStatus, PostTitle, Publishing};
pub use repository::TagCount;
pub use search::{SearchQuery, snippet_html};
pub use service::{
    Author, AuthorPostsError, CreatePostError, DeletePostError, GetPostError, NewPost, Post,
    PostEdit, PostPage, Posts, Read, SearchError, SearchHit, SearchPage, TagPostsError,
    UpdatePostError, Version, is_own_list,
};
pub use tags::{MAX_TAGS, TagSlug};
