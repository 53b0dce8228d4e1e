//! Posts: domain rules and persistence.

pub mod domain;
pub mod repository;

pub use domain::{PostContent, PostTitle};
