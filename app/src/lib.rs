//! The blog service library: a blog (accounts, posts) on Postgres, Redis,
//! S3 and SMTP. `main.rs` is a thin CLI over this.
//!
//! Layers, and the error type each uses:
//! - domain: `accounts` and `posts` (value types, repositories, use cases).
//!   They know nothing of HTTP; use cases return one `thiserror` enum each,
//!   built from [`error::Failure`], [`error::ValidationErrors`] and
//!   [`error::Limited`]; repositories return [`db::DbError`].
//! - infrastructure the use cases are given: `db`, `cache`, `kv`,
//!   `rate_limit`, `storage`, `mail`, `passwords`, `tokens`, `avatars`,
//!   `clock`, `pagination`, `text` (the characters text fields refuse).
//! - the HTTP edges: `http` (the API, probes, metrics), whose `http::problem`
//!   maps every domain error, once, to problem+json; and `site` (the
//!   website's pages), which maps them to pages and form messages.
//! - wiring: `config` (settings), `startup` (builds everything, runs the
//!   server), `telemetry`, `import` (CLI).

pub mod accounts;
pub mod avatars;
pub mod backup;
pub mod cache;
pub mod clock;
pub mod comments;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod import;
pub mod kv;
pub mod mail;
pub mod metrics;
pub mod moderation;
pub mod pagination;
pub mod passwords;
pub mod posts;
pub mod rate_limit;
pub mod site;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod text;
pub mod tokens;

pub use config::Settings;
pub use startup::{AppState, Application};
