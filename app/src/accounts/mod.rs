//! Accounts: registration, sessions, profiles, avatars and password resets.
//!
//! `domain` holds the value types (parse, don't validate), `repository` the
//! SQL, `service` the use cases and their error enums. Callers (the API, the
//! website, the CLI) use [`Accounts`].

pub mod domain;
pub mod repository;
pub mod service;

pub use domain::{Bio, EmailAddress, Password, Username};
pub use repository::UserRow;
pub use service::{
    Accounts, AccountsConfig, AuthError, AuthenticatedUser, ChangePasswordError, LoginError,
    NewSession, PreparedAvatar, ProfileError, RegisterError, ResetConfirmError, ResetRequestError,
    SetAvatarError, UpdateProfileError,
};
