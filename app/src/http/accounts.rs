//! Accounts over HTTP: `/api/users`, `/api/sessions`, `/api/me…` and
//! `/api/password-resets…`. Handlers only translate between HTTP and
//! [`crate::accounts::Accounts`]; the answers each use case's errors get are
//! documented here, once.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::{Deserialize, Serialize};

use super::ApiTags;
use super::auth::BearerAuth;
use super::client_ip::ClientIp;
use super::nullable::OptionalNullable;
use super::problem::{ApiError, Problem};
use super::strict::{Text, rules};
use crate::accounts::{
    AuthError, ChangePasswordError, LoginError, ProfileError, RegisterError, ResetConfirmError,
    ResetRequestError, SetAvatarError, UpdateProfileError, UserRow,
};
use crate::avatars::{AvatarError, avatar_url};
use crate::error::{Failure, Limited};
use crate::startup::AppState;
use crate::{documented, operation, problem_doc};

mod upload;

pub use upload::{AvatarUpload, UploadError};

/// Your own profile (includes your email).
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct PrivateProfile {
    /// The account's numeric identifier.
    pub id: i64,
    /// 1–150 characters (NFKC-normalised), letters, digits and `@ . + - _`;
    /// case as chosen, unique whatever its case.
    pub username: String,
    /// Your email address, with its domain lower-cased; unique whatever its
    /// case. Never shown to other users.
    pub email: String,
    /// Free text, at most 500 characters; empty if not set.
    pub bio: String,
    /// Absolute URL of the avatar (the default image if none is set).
    pub avatar_url: String,
    /// When the account was created.
    pub joined_at: DateTime<Utc>,
    /// Whether the account may moderate (`/api/moderation`).
    pub is_staff: bool,
}

/// What anybody may see about a user.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct PublicProfile {
    /// The username, in the case its owner chose.
    pub username: String,
    /// Free text, at most 500 characters; empty if not set.
    pub bio: String,
    /// Absolute URL of the avatar (the default image if none is set).
    pub avatar_url: String,
    /// When the account was created.
    pub joined_at: DateTime<Utc>,
    /// How many of the user's posts are published (drafts and posts
    /// scheduled for later are not counted, whoever asks).
    pub post_count: i64,
}

fn private_profile(state: &AppState, u: UserRow) -> PrivateProfile {
    PrivateProfile {
        avatar_url: avatar_url(&state.settings.http.public_url, u.avatar_key.as_deref()),
        id: u.id,
        username: u.username,
        email: u.email,
        bio: u.bio,
        joined_at: u.created_at,
        is_staff: u.is_staff,
    }
}

fn public_profile(state: &AppState, u: UserRow, post_count: i64) -> PublicProfile {
    PublicProfile {
        avatar_url: avatar_url(&state.settings.http.public_url, u.avatar_key.as_deref()),
        username: u.username,
        bio: u.bio,
        joined_at: u.created_at,
        post_count,
    }
}

/// A new account.
///
/// - `username`: 1–150 characters, letters, digits and `@ . + - _`; unique
///   whatever its case.
/// - `email`: a valid address; unique whatever its case (the domain is
///   stored lower-cased).
/// - `password`: 8 characters to 1024 bytes, not entirely numeric, not the
///   username.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Registration {
    /// 1–150 characters after NFKC normalisation: letters, digits and
    /// `@ . + - _`, not `.` or `..`. Unique whatever its case.
    pub username: Text<rules::NewUsername>,
    /// A valid address of at most 254 bytes (surrounding whitespace is
    /// trimmed, the domain lower-cased). Unique whatever its case.
    pub email: Text<rules::Email>,
    /// At least 8 characters and at most 1024 bytes, not entirely numeric,
    /// not the username (whatever its case).
    #[oai(write_only)]
    pub password: Text<rules::NewPassword>,
}

/// Credentials for logging in.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct Credentials {
    /// Username or email address (case-insensitive).
    pub username: Text<rules::Login>,
    /// The account's password.
    #[oai(write_only)]
    pub password: Text<rules::AnyPassword>,
}

/// A new session. Send the token as `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct Session {
    /// Opaque, shown once; only its hash is stored.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// When the token stops working (`auth.session_ttl_hours` after log-in,
    /// 14 days by default), unless revoked earlier.
    pub expires_at: DateTime<Utc>,
    // No doc comment: poem-openapi would wrap the `$ref` in `allOf` to carry
    // it, and generated clients then model a second, identical `SessionUser`
    // (issue 13, item 14). The type's own description says what it is.
    pub user: PrivateProfile,
}

/// Changes to your profile; absent (or `null`) fields stay as they are.
/// Same rules as at registration; `bio` is at most 500 characters (line
/// breaks allowed, other control characters not).
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ProfileChanges {
    /// New username, or absent (or `null`) to keep it: 1–150 characters, letters,
    /// digits and `@ . + - _`, unique whatever its case.
    pub username: OptionalNullable<Text<rules::NewUsername>>,
    /// New email address, or absent (or `null`) to keep it: valid, at most 254 bytes,
    /// unique whatever its case.
    pub email: OptionalNullable<Text<rules::Email>>,
    /// New bio, or absent (or `null`) to keep it: at most 500 characters, line breaks
    /// and tabs allowed, other control characters not. Empty clears it.
    pub bio: OptionalNullable<Text<rules::BioText>>,
}

/// A password change. `new_password` follows the registration rules.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct PasswordChange {
    /// Your password as it is now.
    #[oai(write_only)]
    pub current_password: Text<rules::AnyPassword>,
    /// At least 8 characters and at most 1024 bytes, not entirely numeric,
    /// not your username (whatever its case).
    #[oai(write_only)]
    pub new_password: Text<rules::NewPassword>,
}

/// Ask for a password reset mail.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ResetRequest {
    /// The address of the account (a valid address, at most 254 bytes).
    pub email: Text<rules::Email>,
}

/// The same answer whether or not the address belongs to an account.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(example)]
pub struct ResetRequested {
    /// Always the same sentence, for humans.
    pub message: String,
}

/// Complete a reset with the token from the mail.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct ResetConfirmation {
    /// The token from the reset mail (single-use, valid for
    /// `auth.password_reset_ttl_minutes`, 60 by default).
    pub token: Text<rules::Token>,
    /// At least 8 characters and at most 1024 bytes, not entirely numeric,
    /// not the account's username (whatever its case).
    #[oai(write_only)]
    pub new_password: Text<rules::NewPassword>,
}

#[derive(ApiResponse)]
pub enum Registered {
    /// The account was created. Log in with `POST /sessions`.
    #[oai(status = 201)]
    Created(
        Json<PrivateProfile>,
        /// The new user's public profile.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum LoggedIn {
    /// Logged in.
    #[oai(status = 201)]
    Created(Json<Session>),
}

#[derive(ApiResponse)]
pub enum Profile {
    /// Your profile, as it is now.
    #[oai(status = 200)]
    Ok(Json<PrivateProfile>),
}

#[derive(ApiResponse)]
pub enum Public {
    /// The user's public profile.
    #[oai(status = 200)]
    Ok(Json<PublicProfile>),
}

#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
pub enum Accepted {
    /// Accepted: if the address belongs to an account, a mail with a reset
    /// link is on its way.
    #[oai(status = 202)]
    Accepted(Json<ResetRequested>),
}

/// Percent-encodes everything but RFC 3986 unreserved characters and the
/// `@ +` usernames may contain (header values must be ASCII; usernames may
/// hold any letter).
fn path_segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b'+') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub const RESET_REQUESTED: &str =
    "If an account uses this email address, a message with a reset link has been sent to it.";

problem_doc!(REGISTER_INVALID = 422 "validation_failed",
    "The username, email or password breaks a rule; `errors` lists each (`invalid_username`, `invalid_email`, `invalid_password`).",
    "password: must be at least 8 characters",
    [("password", "invalid_password", "must be at least 8 characters")]);
problem_doc!(USERNAME_TAKEN = 409 "username_taken",
    "Another account has this username (whatever its case).",
    "this username is already taken");
problem_doc!(EMAIL_TAKEN = 409 "email_taken",
    "Another account has this email address (whatever its case).",
    "an account with this email already exists");
problem_doc!(INVALID_CREDENTIALS = 401 "invalid_credentials",
    "Wrong username/email or password: one answer for an unknown account and a wrong password.",
    "wrong username/email or password");
problem_doc!(USER_NOT_FOUND = 404 "not_found",
    "No user has this username (matched case-insensitively).",
    "no user has this username");
problem_doc!(PROFILE_INVALID = 422 "validation_failed",
    "A new username, email or bio breaks a rule; `errors` lists each (`invalid_username`, `invalid_email`, `invalid_bio`).",
    "bio: must be at most 500 characters",
    [("bio", "invalid_bio", "must be at most 500 characters")]);
problem_doc!(ACCOUNT_GONE = 401 "unauthorized",
    "The account behind the token no longer exists.",
    "the account no longer exists");
problem_doc!(PASSWORD_CHANGE_INVALID = 422 "validation_failed",
    "`current_password` is wrong (`incorrect_password`) or `new_password` breaks a rule (`invalid_password`).",
    "current_password: is incorrect",
    [("current_password", "incorrect_password", "is incorrect")]);
problem_doc!(RESET_EMAIL_INVALID = 422 "validation_failed",
    "The address is not a valid email address (`invalid_email`); nothing is said about accounts.",
    "email: must contain '@'",
    [("email", "invalid_email", "must contain '@'")]);
problem_doc!(INVALID_RESET_TOKEN = 400 "invalid_reset_token",
    "The reset token is unknown, expired or already used; ask for a new mail.",
    "the reset token is invalid, expired or already used");
problem_doc!(RESET_PASSWORD_INVALID = 422 "validation_failed",
    "`new_password` breaks a rule (`invalid_password`); the token stays usable for another try.",
    "new_password: must not be entirely numeric",
    [("new_password", "invalid_password", "must not be entirely numeric")]);
problem_doc!(AVATAR_UNSUPPORTED = 415 "unsupported_media_type",
    "The file is not a PNG, JPEG or WebP image by its bytes (name and declared type are ignored).",
    "only PNG, JPEG and WebP images are accepted");
problem_doc!(IMAGE_TOO_LARGE = 422 "image_too_large",
    "The image has more pixels than `avatars.max_pixels`, or would take more memory to decode \
     than `avatars.max_decode_bytes` (pixels × bytes per pixel); refused from its header, before decoding.",
    "the image is 10000×10000 pixels; at most 40000000 pixels are accepted");
problem_doc!(IMAGE_WORK_BUSY = 503 "busy",
    "Every image worker of the replica is busy (their number bounds its memory); retry after `Retry-After` seconds.",
    "every image worker is busy; try again in 2 s");
problem_doc!(INVALID_IMAGE = 422 "invalid_image",
    "The file starts like an image but does not decode.",
    "the image could not be decoded: unexpected end of file");

documented!(RegisterError {
    RegisterError::RateLimited(e) => via Limited(e);
    RegisterError::Invalid(e) => REGISTER_INVALID, |p: Problem| p.with_errors(e);
    RegisterError::UsernameTaken => USERNAME_TAKEN;
    RegisterError::EmailTaken => EMAIL_TAKEN;
    RegisterError::Failed(e) => via Failure(e);
});
documented!(LoginError {
    LoginError::RateLimited(e) => via Limited(e);
    LoginError::InvalidCredentials => INVALID_CREDENTIALS;
    LoginError::Failed(e) => via Failure(e);
});
documented!(ProfileError {
    ProfileError::NotFound => USER_NOT_FOUND;
    ProfileError::Failed(e) => via Failure(e);
});
documented!(UpdateProfileError {
    UpdateProfileError::Invalid(e) => PROFILE_INVALID, |p: Problem| p.with_errors(e);
    UpdateProfileError::UsernameTaken => USERNAME_TAKEN;
    UpdateProfileError::EmailTaken => EMAIL_TAKEN;
    UpdateProfileError::Unauthenticated => ACCOUNT_GONE;
    UpdateProfileError::Failed(e) => via Failure(e);
});
documented!(ChangePasswordError {
    ChangePasswordError::RateLimited(e) => via Limited(e);
    ChangePasswordError::Invalid(e) => PASSWORD_CHANGE_INVALID, |p: Problem| p.with_errors(e);
    ChangePasswordError::Unauthenticated => ACCOUNT_GONE;
    ChangePasswordError::Failed(e) => via Failure(e);
});
documented!(ResetRequestError {
    ResetRequestError::RateLimited(e) => via Limited(e);
    ResetRequestError::Invalid(e) => RESET_EMAIL_INVALID, |p: Problem| p.with_errors(e);
});
documented!(ResetConfirmError {
    ResetConfirmError::InvalidToken => INVALID_RESET_TOKEN;
    ResetConfirmError::Invalid(e) => RESET_PASSWORD_INVALID, |p: Problem| p.with_errors(e);
    ResetConfirmError::Failed(e) => via Failure(e);
});
documented!(AvatarError {
    AvatarError::UnsupportedFormat => AVATAR_UNSUPPORTED;
    AvatarError::TooManyPixels { .. } => IMAGE_TOO_LARGE;
    AvatarError::TooMuchMemory { .. } => IMAGE_TOO_LARGE;
    AvatarError::Corrupt(_) => INVALID_IMAGE;
});
documented!(SetAvatarError {
    SetAvatarError::Image(e) => via AvatarError(e);
    SetAvatarError::Busy { retry_after_seconds } => IMAGE_WORK_BUSY, |p: Problem| p.retry_after(*retry_after_seconds);
    SetAvatarError::Unauthenticated => ACCOUNT_GONE;
    SetAvatarError::Failed(e) => via Failure(e);
});

operation!(Register = "register": RegisterError; json_body);
operation!(GetUser = "get_user": ProfileError, Failure);
operation!(Login = "login": LoginError; json_body);
operation!(Logout = "logout": AuthError, Failure);
operation!(LogoutEverywhere = "logout_everywhere": AuthError, Failure);
operation!(GetMe = "get_me": AuthError);
operation!(UpdateMe = "update_me": AuthError, UpdateProfileError; json_body);
operation!(ChangePassword = "change_password": AuthError, ChangePasswordError; json_body);
operation!(UploadAvatar = "upload_avatar": AuthError, UploadError, SetAvatarError);
operation!(DeleteAvatar = "delete_avatar": AuthError);
operation!(RequestPasswordReset = "request_password_reset": ResetRequestError; json_body);
operation!(ConfirmPasswordReset = "confirm_password_reset": ResetConfirmError; json_body);

pub struct AccountsApi;

#[OpenApi]
impl AccountsApi {
    /// Register
    ///
    /// Creates an account. 409 `username_taken` or `email_taken` if either is
    /// in use (case-insensitively); 422 `validation_failed` lists every
    /// broken rule. Rate-limited per client address.
    #[oai(
        path = "/users",
        method = "post",
        operation_id = "register",
        tag = "ApiTags::Users"
    )]
    async fn register(
        &self,
        state: Data<&AppState>,
        ip: ClientIp,
        body: Json<Registration>,
    ) -> Result<Registered, ApiError<Register>> {
        let Registration {
            username,
            email,
            password,
        } = body.0;
        let user = state
            .accounts
            .register(&ip.to_string(), &username, &email, &password)
            .await?;
        let location = format!("/api/users/{}", path_segment(&user.username));
        Ok(Registered::Created(
            Json(private_profile(&state, user)),
            location,
        ))
    }

    /// Public profile
    ///
    /// Any user's username, bio, avatar and join date (never the email).
    /// The username is matched case-insensitively.
    #[oai(
        path = "/users/:username",
        method = "get",
        operation_id = "get_user",
        tag = "ApiTags::Users"
    )]
    async fn get_user(
        &self,
        state: Data<&AppState>,
        /// The username (case-insensitive).
        username: Path<String>,
    ) -> Result<Public, ApiError<GetUser>> {
        let user = state.accounts.public_profile(&username.0).await?;
        let posts = state.posts.public_count(user.id).await?;
        Ok(Public::Ok(Json(public_profile(&state, user, posts))))
    }

    /// Log in
    ///
    /// Exchanges a username (or email) and password for a bearer token that
    /// expires after `auth.session_ttl_hours` (14 days by default). Wrong
    /// credentials get 401 `invalid_credentials`, the same answer for an
    /// unknown account and a wrong password. Rate-limited per client address
    /// and per account.
    #[oai(
        path = "/sessions",
        method = "post",
        operation_id = "login",
        tag = "ApiTags::Sessions"
    )]
    async fn login(
        &self,
        state: Data<&AppState>,
        ip: ClientIp,
        body: Json<Credentials>,
    ) -> Result<LoggedIn, ApiError<Login>> {
        let session = state
            .accounts
            .login(&ip.to_string(), &body.0.username, &body.0.password)
            .await?;
        Ok(LoggedIn::Created(Json(Session {
            token: session.token,
            token_type: "Bearer".into(),
            expires_at: session.expires_at,
            user: private_profile(&state, session.user),
        })))
    }

    /// Log out
    ///
    /// Revokes the token used for this request.
    #[oai(
        path = "/sessions/current",
        method = "delete",
        operation_id = "logout",
        tag = "ApiTags::Sessions"
    )]
    async fn logout(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<NoContent, ApiError<Logout>> {
        let who = state.authenticate(&auth).await?;
        state.accounts.logout(&who).await?;
        Ok(NoContent::Done)
    }

    /// Log out everywhere
    ///
    /// Revokes every token of the current user, this one included.
    #[oai(
        path = "/sessions",
        method = "delete",
        operation_id = "logout_everywhere",
        tag = "ApiTags::Sessions"
    )]
    async fn logout_everywhere(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<NoContent, ApiError<LogoutEverywhere>> {
        let who = state.authenticate(&auth).await?;
        state.accounts.logout_everywhere(&who).await?;
        Ok(NoContent::Done)
    }

    /// Your profile
    ///
    /// The authenticated user's own profile, email included.
    #[oai(
        path = "/me",
        method = "get",
        operation_id = "get_me",
        tag = "ApiTags::Me"
    )]
    async fn get_me(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<Profile, ApiError<GetMe>> {
        let who = state.authenticate(&auth).await?;
        Ok(Profile::Ok(Json(private_profile(&state, who.user))))
    }

    /// Update your profile
    ///
    /// Changes any of username, email and bio. 409 `username_taken` /
    /// `email_taken` if the new value is in use.
    #[oai(
        path = "/me",
        method = "patch",
        operation_id = "update_me",
        tag = "ApiTags::Me"
    )]
    async fn update_me(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<ProfileChanges>,
    ) -> Result<Profile, ApiError<UpdateMe>> {
        let who = state.authenticate(&auth).await?;
        let ProfileChanges {
            username,
            email,
            bio,
        } = body.0;
        let user = state
            .accounts
            .update_profile(
                &who,
                username.0.as_deref(),
                email.0.as_deref(),
                bio.0.as_deref(),
            )
            .await?;
        Ok(Profile::Ok(Json(private_profile(&state, user))))
    }

    /// Change your password
    ///
    /// Needs the current password (422 `validation_failed` on
    /// `current_password` if it is wrong; attempts are rate-limited like
    /// log-ins). **Revokes every session, this one included: log in again
    /// with the new password.**
    #[oai(
        path = "/me/password",
        method = "put",
        operation_id = "change_password",
        tag = "ApiTags::Me"
    )]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<PasswordChange>,
    ) -> Result<NoContent, ApiError<ChangePassword>> {
        let who = state.authenticate(&auth).await?;
        state
            .accounts
            .change_password(&who, &body.0.current_password, &body.0.new_password)
            .await?;
        Ok(NoContent::Done)
    }

    /// Upload your avatar
    ///
    /// `multipart/form-data` with one file field `avatar`: a PNG, JPEG or
    /// WebP image (recognised from its bytes; the declared type and file
    /// name are ignored) of at most `avatars.max_bytes` (5 MB by default,
    /// else 413 `payload_too_large`), `avatars.max_pixels` pixels and
    /// `avatars.max_decode_bytes` decoded (else 422 `image_too_large`). Other
    /// formats get 415 `unsupported_media_type`, undecodable images 422
    /// `invalid_image`. The image is resized to fit 300×300 and stored as PNG
    /// without its metadata. A replica decodes `avatars.max_concurrent` images
    /// at once; an upload that waited 5 s for one gets 503 `busy` with
    /// `Retry-After`.
    #[oai(
        path = "/me/avatar",
        method = "put",
        operation_id = "upload_avatar",
        tag = "ApiTags::Me"
    )]
    async fn upload_avatar(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        upload: AvatarUpload,
    ) -> Result<Profile, ApiError<UploadAvatar>> {
        let who = state.authenticate(&auth).await?;
        let bytes = upload.read().await?;
        let avatar = state.accounts.prepare_avatar(bytes).await?;
        let user = state.accounts.set_avatar(&who, avatar).await?;
        Ok(Profile::Ok(Json(private_profile(&state, user))))
    }

    /// Remove your avatar
    ///
    /// Back to the default image.
    #[oai(
        path = "/me/avatar",
        method = "delete",
        operation_id = "delete_avatar",
        tag = "ApiTags::Me"
    )]
    async fn delete_avatar(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
    ) -> Result<Profile, ApiError<DeleteAvatar>> {
        let who = state.authenticate(&auth).await?;
        let user = state.accounts.remove_avatar(&who).await?;
        Ok(Profile::Ok(Json(private_profile(&state, user))))
    }

    /// Request a password reset
    ///
    /// Always 202 with the same body, whether or not the address belongs to
    /// an account (the mail is sent in the background, so timing does not
    /// tell either). The mail holds a single-use link to the website's reset
    /// page (`/password-reset-confirm/{token}/`, a web page outside this API)
    /// and the raw token, which API clients send to
    /// `POST /api/password-resets/confirm`; valid for `auth.password_reset_ttl_minutes`
    /// (60 by default). 422 only for a malformed address. Rate-limited per
    /// client address and per address.
    #[oai(
        path = "/password-resets",
        method = "post",
        operation_id = "request_password_reset",
        tag = "ApiTags::PasswordResets"
    )]
    async fn request_reset(
        &self,
        state: Data<&AppState>,
        ip: ClientIp,
        body: Json<ResetRequest>,
    ) -> Result<Accepted, ApiError<RequestPasswordReset>> {
        state
            .accounts
            .request_password_reset(&ip.to_string(), &body.0.email)
            .await?;
        Ok(Accepted::Accepted(Json(ResetRequested {
            message: RESET_REQUESTED.into(),
        })))
    }

    /// Complete a password reset
    ///
    /// Sets the new password, uses up the token and revokes every session.
    /// 400 `invalid_reset_token` if the token is unknown, used or expired;
    /// 422 if the new password breaks a rule (the token then stays usable).
    #[oai(
        path = "/password-resets/confirm",
        method = "post",
        operation_id = "confirm_password_reset",
        tag = "ApiTags::PasswordResets"
    )]
    async fn confirm_reset(
        &self,
        state: Data<&AppState>,
        body: Json<ResetConfirmation>,
    ) -> Result<NoContent, ApiError<ConfirmPasswordReset>> {
        state
            .accounts
            .confirm_password_reset(&body.0.token, &body.0.new_password)
            .await?;
        Ok(NoContent::Done)
    }
}

// Examples shown in the OpenAPI document. Request objects with write-only
// fields (passwords) have none: poem-openapi leaves write-only fields out of
// an object's example, which would show an incomplete request.

fn example_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T09:30:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

impl Example for PrivateProfile {
    fn example() -> Self {
        PrivateProfile {
            id: 1,
            username: "corey".into(),
            email: "corey@blog.example".into(),
            bio: "Writes about Python and Django.".into(),
            avatar_url: "https://blog.example/media/avatars/default.png".into(),
            joined_at: example_time(),
            is_staff: false,
        }
    }
}

impl Example for PublicProfile {
    fn example() -> Self {
        let p = PrivateProfile::example();
        PublicProfile {
            username: p.username,
            bio: p.bio,
            avatar_url: p.avatar_url,
            joined_at: p.joined_at,
            post_count: 12,
        }
    }
}

impl Example for Session {
    fn example() -> Self {
        Session {
            token: "example-token-0123456789abcdefghijklmnopqr".into(),
            token_type: "Bearer".into(),
            expires_at: example_time() + chrono::Duration::days(14),
            user: PrivateProfile::example(),
        }
    }
}

impl Example for ProfileChanges {
    fn example() -> Self {
        ProfileChanges {
            username: None.into(),
            email: None.into(),
            bio: Some(Text::new("Writes about Python, Django and Rust.")).into(),
        }
    }
}

impl Example for ResetRequest {
    fn example() -> Self {
        ResetRequest {
            email: Text::new("corey@blog.example"),
        }
    }
}

impl Example for ResetRequested {
    fn example() -> Self {
        ResetRequested {
            message: RESET_REQUESTED.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_segments_are_ascii() {
        assert_eq!(path_segment("alice.b+c@d_e-f"), "alice.b+c@d_e-f");
        assert_eq!(path_segment("émile"), "%C3%A9mile");
    }
}
