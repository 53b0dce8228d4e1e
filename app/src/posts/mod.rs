//! Posts: domain rules (`domain`), SQL (`repository`) and the use cases
//! (`service`) that the API and the website call.

pub mod domain;
pub mod markdown;
pub mod repository;
pub mod service;

pub use domain::{PostBody, PostContent, PostFormat, PostTitle};
pub use service::{
    Author, AuthorPostsError, CreatePostError, DeletePostError, GetPostError, Post, PostPage,
    Posts, Read, UpdatePostError, Version,
};
