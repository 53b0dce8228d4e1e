//! The blog service library: an API-first blog (accounts, posts) on
//! Postgres, Redis, S3 and SMTP. `main.rs` is a thin CLI over this.

pub mod accounts;
pub mod avatars;
pub mod backup;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod import;
pub mod kv;
pub mod mail;
pub mod metrics;
pub mod pagination;
pub mod passwords;
pub mod posts;
pub mod rate_limit;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod tokens;

pub use config::Settings;
pub use startup::{AppState, Application};
