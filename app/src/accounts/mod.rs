//! Accounts: registration, sessions, profiles, avatars and password resets.

pub mod domain;
pub mod repository;
pub mod service;

pub use domain::{Bio, EmailAddress, Password, Username, ValidationError};
