//! Accounts: registration, sessions, profiles and password resets.

pub mod domain;

pub use domain::{Bio, EmailAddress, Password, Username, ValidationError};
