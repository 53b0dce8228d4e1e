//! Account use cases. Handlers parse HTTP, call one of these, and render the
//! result; everything that must be atomic runs in one transaction here.

use chrono::{DateTime, Duration, Utc};
use poem::http::StatusCode;

use super::domain::{Bio, EmailAddress, Password, Username, ValidationError};
use super::repository::{self as repo, UserRow};
use crate::error::{ApiError, FieldError};
use crate::http::auth::AuthenticatedUser;
use crate::passwords::{self, Verification};
use crate::rate_limit::Scope;
use crate::startup::AppState;

impl From<ValidationError> for FieldError {
    fn from(e: ValidationError) -> Self {
        FieldError::new(e.field, e.message)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        ApiError::Validation(vec![e.into()])
    }
}

/// Collects every broken rule of a request body into one 422.
#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn check<T>(&mut self, result: Result<T, ValidationError>) -> Option<T> {
        result.map_err(|e| self.0.push(e.into())).ok()
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

pub fn invalid_credentials() -> ApiError {
    ApiError::Coded {
        status: StatusCode::UNAUTHORIZED,
        code: "invalid_credentials",
        detail: "wrong username/email or password".into(),
    }
}

pub fn invalid_reset_token() -> ApiError {
    ApiError::Coded {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_reset_token",
        detail: "the reset token is invalid, expired or already used".into(),
    }
}

fn iterations(state: &AppState) -> u32 {
    state.settings.auth.pbkdf2_iterations
}

/// Rate-limit subjects for accounts: every spelling of a name (case,
/// Unicode form) counts against the same account.
fn account_subject(login: &str) -> String {
    super::domain::normalize(login.trim()).to_lowercase()
}

pub async fn register(
    state: &AppState,
    client_ip: &str,
    username: &str,
    email: &str,
    password: &str,
) -> Result<UserRow, ApiError> {
    state
        .rate_limiter
        .check(Scope::RegisterPerIp, client_ip)
        .await?;
    let mut errors = Errors::default();
    let username = errors.check(Username::parse(username));
    let email = errors.check(EmailAddress::parse(email));
    let password = errors.check(Password::parse(
        password,
        username.as_ref().map_or("", |u| u.as_str()),
    ));
    errors.finish()?;
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        unreachable!("errors.finish() returned early");
    };

    let hash = passwords::hash_blocking(password.into_inner(), iterations(state)).await;
    let conn = state.db.get().await?;
    repo::insert_user(&conn, &username, &email, &hash).await
}

/// A new session: the raw token (shown once) and the user.
pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserRow,
}

pub async fn login(
    state: &AppState,
    client_ip: &str,
    login: &str,
    password: &str,
) -> Result<NewSession, ApiError> {
    let limiter = &state.rate_limiter;
    limiter.check(Scope::LoginPerIp, client_ip).await?;
    limiter
        .check(Scope::LoginPerAccount, &account_subject(login))
        .await?;
    // Bounded before hashing; the answer does not depend on the account.
    if password.len() > Password::MAX_BYTES || login.len() > 512 {
        return Err(invalid_credentials());
    }

    let login = super::domain::normalize(login.trim());
    // No pooled connection is held while hashing (hundreds of milliseconds).
    let found = repo::find_by_login(&state.db.get().await?, &login).await?;
    let Some(user) = found else {
        // Same work as a real verification, so timing does not reveal
        // whether the account exists.
        passwords::burn_blocking(password.to_owned(), iterations(state)).await;
        return Err(invalid_credentials());
    };
    let verification = passwords::verify_blocking(
        password.to_owned(),
        user.password_hash.clone(),
        iterations(state),
    )
    .await;
    let upgraded = match verification {
        Verification::Invalid => return Err(invalid_credentials()),
        Verification::Valid {
            needs_rehash: false,
        } => None,
        // Imported Django hash or an old iteration count: store a current
        // PHC hash now that we know the password.
        Verification::Valid { needs_rehash: true } => {
            Some(passwords::hash_blocking(password.to_owned(), iterations(state)).await)
        }
    };

    let conn = state.db.get().await?;
    if let Some(new) = upgraded {
        repo::upgrade_password_hash(&conn, user.id, &user.password_hash, &new).await?;
        tracing::info!(user_id = user.id, "password hash upgraded");
    }

    let token = crate::tokens::generate();
    let ttl_hours = i64::try_from(state.settings.auth.session_ttl_hours).unwrap_or(24 * 14);
    let expires_at = Utc::now() + Duration::hours(ttl_hours);
    repo::delete_expired_sessions(&conn, user.id).await?;
    repo::create_session(&conn, user.id, &crate::tokens::hash(&token), expires_at).await?;
    Ok(NewSession {
        token,
        expires_at,
        user,
    })
}

pub async fn logout(state: &AppState, who: &AuthenticatedUser) -> Result<(), ApiError> {
    let conn = state.db.get().await?;
    repo::delete_session(&conn, who.session_id).await
}

pub async fn logout_everywhere(state: &AppState, who: &AuthenticatedUser) -> Result<(), ApiError> {
    let conn = state.db.get().await?;
    repo::delete_sessions(&conn, who.id).await?;
    Ok(())
}

pub async fn me(state: &AppState, who: &AuthenticatedUser) -> Result<UserRow, ApiError> {
    let conn = state.db.get().await?;
    repo::find_by_id(&conn, who.id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

pub async fn public_profile(state: &AppState, username: &str) -> Result<UserRow, ApiError> {
    // Anything that is not a valid username cannot exist: skip the query.
    if Username::parse(username).is_err() {
        return Err(ApiError::not_found("user"));
    }
    let conn = state.db.get().await?;
    repo::find_by_username(&conn, &super::domain::normalize(username))
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

pub async fn update_profile(
    state: &AppState,
    who: &AuthenticatedUser,
    username: Option<&str>,
    email: Option<&str>,
    bio: Option<&str>,
) -> Result<UserRow, ApiError> {
    let mut errors = Errors::default();
    let username = username.and_then(|u| errors.check(Username::parse(u)));
    let email = email.and_then(|e| errors.check(EmailAddress::parse(e)));
    let bio = bio.and_then(|b| errors.check(Bio::parse(b)));
    errors.finish()?;

    let conn = state.db.get().await?;
    let before = repo::find_by_id(&conn, who.id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let after = repo::update_profile(
        &conn,
        who.id,
        username.as_ref(),
        email.as_ref(),
        bio.as_ref(),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("user"))?;
    if after.username != before.username {
        // Post responses embed the author's username.
        state.cache.invalidate_posts().await;
    }
    Ok(after)
}

/// Sets a new password and revokes every session (the caller's included).
pub async fn change_password(
    state: &AppState,
    who: &AuthenticatedUser,
    current: &str,
    new: &str,
) -> Result<(), ApiError> {
    // A stolen token must not allow unlimited guessing of the password.
    state
        .rate_limiter
        .check(Scope::LoginPerAccount, &account_subject(&who.username))
        .await?;
    let user = repo::find_by_id(&state.db.get().await?, who.id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let current_ok = current.len() <= Password::MAX_BYTES
        && passwords::verify_blocking(
            current.to_owned(),
            user.password_hash.clone(),
            iterations(state),
        )
        .await
        .is_valid();
    if !current_ok {
        return Err(ApiError::validation("current_password", "is incorrect"));
    }
    let new = Password::parse(new, &user.username)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("new_password", e.message)]))?;
    let hash = passwords::hash_blocking(new.into_inner(), iterations(state)).await;

    let mut conn = state.db.get().await?;
    let tx = conn.transaction().await?;
    repo::set_password_hash(&tx, user.id, &hash).await?;
    repo::delete_sessions(&tx, user.id).await?;
    repo::consume_all_resets(&tx, user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Starts a password reset. Returns immediately: the lookup, token creation
/// and mail happen in a background task, so the answer (and its timing) is
/// the same whether or not `email` belongs to an account.
pub async fn request_password_reset(
    state: &AppState,
    client_ip: &str,
    email: &str,
) -> Result<(), ApiError> {
    let limiter = &state.rate_limiter;
    limiter.check(Scope::PasswordResetPerIp, client_ip).await?;
    limiter
        .check(Scope::PasswordResetPerAccount, &account_subject(email))
        .await?;
    // A malformed address reveals nothing about accounts: say so.
    let email = EmailAddress::parse(email)?;
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = send_reset(&state, &email).await {
            tracing::warn!(error = %err, "password reset mail not sent");
        }
    });
    Ok(())
}

async fn send_reset(state: &AppState, email: &EmailAddress) -> anyhow::Result<()> {
    let conn = state.db.get().await?;
    let Some(user) = repo::find_by_email(&conn, email.as_str()).await? else {
        tracing::info!("password reset requested for an unknown email");
        return Ok(());
    };
    let token = crate::tokens::generate();
    let ttl = state.settings.auth.password_reset_ttl_minutes;
    let expires_at = Utc::now() + Duration::minutes(i64::try_from(ttl).unwrap_or(60));
    repo::insert_reset(&conn, user.id, &crate::tokens::hash(&token), expires_at).await?;
    drop(conn);
    // The stored address, not the typed one (they may differ in case).
    let to = EmailAddress::parse(&user.email)?;
    state
        .mailer
        .send_password_reset(
            &to,
            &user.username,
            &state.settings.http.public_url,
            &token,
            ttl,
        )
        .await?;
    tracing::info!(user_id = user.id, "password reset mail sent");
    Ok(())
}

/// Completes a reset: new password, token used, every session revoked, all
/// in one transaction.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &str,
    new_password: &str,
) -> Result<(), ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > 256 {
        return Err(invalid_reset_token());
    }
    let token_hash = crate::tokens::hash(token);
    let (reset_id, user) = repo::find_usable_reset(&state.db.get().await?, &token_hash)
        .await?
        .ok_or_else(invalid_reset_token)?;
    // Checked before the token is consumed: a rejected password leaves the
    // token usable for a second try.
    let password = Password::parse(new_password, &user.username)
        .map_err(|e| ApiError::Validation(vec![FieldError::new("new_password", e.message)]))?;
    let hash = passwords::hash_blocking(password.into_inner(), iterations(state)).await;

    let mut conn = state.db.get().await?;
    let tx = conn.transaction().await?;
    if !repo::consume_reset(&tx, reset_id).await? {
        return Err(invalid_reset_token());
    }
    repo::set_password_hash(&tx, user.id, &hash).await?;
    repo::consume_all_resets(&tx, user.id).await?;
    repo::delete_sessions(&tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = user.id, "password reset completed");
    Ok(())
}

fn avatar_error(err: crate::avatars::AvatarError) -> ApiError {
    use crate::avatars::AvatarError;
    match err {
        AvatarError::UnsupportedFormat => ApiError::UnsupportedMediaType(err.to_string()),
        AvatarError::TooManyPixels { .. } => ApiError::Coded {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "image_too_large",
            detail: err.to_string(),
        },
        AvatarError::Corrupt(_) => ApiError::Coded {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_image",
            detail: err.to_string(),
        },
    }
}

/// S3 key of an avatar whose database key is `key`.
pub fn avatar_object_key(key: &str) -> String {
    format!("avatars/{key}")
}

/// Validates, resizes and stores a new avatar, then points the user at it
/// and deletes the previous image. `bytes` is already size-checked.
pub async fn set_avatar(
    state: &AppState,
    who: &AuthenticatedUser,
    bytes: Vec<u8>,
) -> Result<UserRow, ApiError> {
    let cfg = state.settings.avatars.clone();
    let png = tokio::task::spawn_blocking(move || crate::avatars::process(&bytes, &cfg))
        .await
        .map_err(ApiError::internal)?
        .map_err(avatar_error)?;
    let key = crate::avatars::new_key(who.id);
    state
        .storage
        .put(&avatar_object_key(&key), &png, "image/png")
        .await?;

    let updated = async {
        let conn = state.db.get().await?;
        repo::replace_avatar_key(&conn, who.id, Some(&key)).await
    }
    .await;
    let (user, old) = match updated {
        Ok(Some(found)) => found,
        other => {
            // Nothing points at the new object: don't leave it behind.
            if let Err(e) = state.storage.delete(&avatar_object_key(&key)).await {
                tracing::warn!(error = %e, "orphaned avatar object not deleted");
            }
            return Err(other.err().unwrap_or_else(|| ApiError::not_found("user")));
        }
    };
    delete_old_avatar(state, old).await;
    state.cache.invalidate_posts().await;
    Ok(user)
}

/// Back to the default avatar.
pub async fn remove_avatar(state: &AppState, who: &AuthenticatedUser) -> Result<UserRow, ApiError> {
    let conn = state.db.get().await?;
    let (user, old) = repo::replace_avatar_key(&conn, who.id, None)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    drop(conn);
    let changed = old.is_some();
    delete_old_avatar(state, old).await;
    if changed {
        state.cache.invalidate_posts().await;
    }
    Ok(user)
}

/// Best effort: the database no longer references it, so a failure only
/// leaves an unreachable object behind (logged), never a broken profile.
async fn delete_old_avatar(state: &AppState, old: Option<String>) {
    if let Some(old) = old
        && let Err(e) = state.storage.delete(&avatar_object_key(&old)).await
    {
        tracing::warn!(error = %e, key = %old, "old avatar object not deleted");
    }
}
