//! The blog service library.
pub mod passwords;
pub mod tokens;
pub mod accounts;
