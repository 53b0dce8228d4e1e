//! Account use cases: registration, sessions, profiles, avatars, password
//! changes and resets. [`Accounts`] holds its dependencies explicitly (pool,
//! rate limiter, cache, object storage, mailer, clock) and every use case
//! returns its own error enum; nothing here knows how the result reaches a
//! client (the API and the website both call these).
//!
//! Rules are checked here, through the domain types; what must be atomic
//! runs in one transaction here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::domain::{self, Bio, EmailAddress, Password, Username};
use super::repository::{self as repo, UserRow};
use crate::avatars::{self, AvatarError};
use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::{AuthSettings, AvatarSettings};
use crate::db::{self, DbError, Op as _};
use crate::error::{Failure, FailureContext as _, Limited, ValidationError, ValidationErrors};
use crate::mail::Mailer;
use crate::passwords::{self, Verification};
use crate::rate_limit::{RateLimiter, Scope};
use crate::storage::Storage;

/// Who is making a request: the user behind a live session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The session row, so log-out can revoke exactly this one.
    pub session_id: i64,
    /// The user as stored when the token was checked.
    pub user: UserRow,
}

impl AuthenticatedUser {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    pub fn username(&self) -> &str {
        &self.user.username
    }

    /// Whether they may moderate (see `moderation`).
    pub fn is_staff(&self) -> bool {
        self.user.is_staff
    }
}

/// A new session: the raw token (shown once) and the user.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserRow,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    RateLimited(#[from] Limited),
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("this username is already taken")]
    UsernameTaken,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(transparent)]
    RateLimited(#[from] Limited),
    /// Unknown account or wrong password: one answer for both.
    #[error("wrong username/email or password")]
    InvalidCredentials,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No session for this token: never issued, expired, revoked, or its
    /// account is gone.
    #[error("the session token is unknown, expired or revoked")]
    Unauthenticated,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("no user has this username")]
    NotFound,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateProfileError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("this username is already taken")]
    UsernameTaken,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("the account no longer exists")]
    Unauthenticated,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error(transparent)]
    RateLimited(#[from] Limited),
    /// A wrong `current_password` or a `new_password` that breaks a rule.
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("the account no longer exists")]
    Unauthenticated,
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum ResetRequestError {
    #[error(transparent)]
    RateLimited(#[from] Limited),
    #[error("{0}")]
    Invalid(ValidationErrors),
}

#[derive(Debug, thiserror::Error)]
pub enum ResetConfirmError {
    #[error("the reset token is invalid, expired or already used")]
    InvalidToken,
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Failed(#[from] Failure),
}

#[derive(Debug, thiserror::Error)]
pub enum SetAvatarError {
    #[error(transparent)]
    Image(#[from] AvatarError),
    /// Every image worker of this replica stayed busy for
    /// [`IMAGE_WORK_WAIT`]: memory, not CPU, is what bounds them.
    #[error("every image worker is busy; try again in {retry_after_seconds} s")]
    Busy { retry_after_seconds: u64 },
    #[error("the account no longer exists")]
    Unauthenticated,
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// An avatar that passed the checks, as the PNG that will be stored.
pub struct PreparedAvatar(Vec<u8>);

impl PreparedAvatar {
    /// The upload rules (sniffing, pixel and memory limits, resizing,
    /// re-encoding) without an [`Accounts`]: `blog import-django` runs the
    /// Django original's pictures through exactly these.
    pub async fn from_upload(bytes: Vec<u8>, cfg: &AvatarSettings) -> Result<Self, SetAvatarError> {
        let cfg = cfg.clone();
        let png = tokio::task::spawn_blocking(move || avatars::process(&bytes, &cfg))
            .await
            .map_err(Failure::internal)
            .context("resizing an avatar")??;
        Ok(Self(png))
    }

    /// The PNG to store.
    pub fn png(&self) -> &[u8] {
        &self.0
    }
}

/// Settings the account use cases need.
#[derive(Debug, Clone)]
pub struct AccountsConfig {
    pub auth: AuthSettings,
    pub avatars: AvatarSettings,
    /// Base URL for links in mails.
    pub public_url: String,
}

/// The account use cases. Cheap to clone.
#[derive(Clone)]
pub struct Accounts(Arc<Deps>);

struct Deps {
    db: Pool,
    limiter: RateLimiter,
    /// Post reads embed the author's name and avatar.
    cache: Cache,
    storage: Arc<Storage>,
    mailer: Arc<Mailer>,
    clock: Clock,
    config: AccountsConfig,
    /// At most `avatars.max_concurrent` decodes at once: each may take
    /// `avatars.max_decode_bytes`, and together they must fit the replica's
    /// memory limit.
    image_work: Arc<tokio::sync::Semaphore>,
}

/// How long an upload waits for an image worker before it is answered
/// [`SetAvatarError::Busy`]: long enough to ride out a burst, short enough
/// not to hold the connection (and its buffered body) for long.
const IMAGE_WORK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Rate-limit subject for a name that matches no account (or that is not
/// looked up): every spelling of it (case, Unicode form) is one subject. The
/// prefix keeps it apart from [`account_subject`], so no typed name can spend
/// a real account's budget.
fn name_subject(login: &str) -> String {
    format!("name:{}", domain::normalize(login.trim()).to_lowercase())
}

/// Rate-limit subject for an existing account: its username and its email
/// (in any spelling) share one budget, so naming the account both ways does
/// not double the guesses.
fn account_subject(user_id: i64) -> String {
    format!("account:{user_id}")
}

/// A unique index refusing a username or email is the use case's own
/// answer (the indexes, not a prior SELECT, make this race-safe); any other
/// database error is a failure.
fn taken<E: From<Failure>>(err: DbError, username: E, email: E, doing: &'static str) -> E {
    match err.unique_constraint() {
        Some(repo::USERNAME_KEY) => username,
        Some(repo::EMAIL_KEY) => email,
        _ => Failure::from(err).context(doing).into(),
    }
}

impl Accounts {
    pub fn new(
        db: Pool,
        limiter: RateLimiter,
        cache: Cache,
        storage: Arc<Storage>,
        mailer: Arc<Mailer>,
        clock: Clock,
        config: AccountsConfig,
    ) -> Self {
        Self(Arc::new(Deps {
            db,
            limiter,
            cache,
            storage,
            mailer,
            clock,
            image_work: Arc::new(tokio::sync::Semaphore::new(
                config.avatars.max_concurrent.as_usize(),
            )),
            config,
        }))
    }

    fn iterations(&self) -> u32 {
        self.0.config.auth.pbkdf2_iterations.as_u32()
    }

    fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    async fn conn(&self, op: &'static str) -> Result<deadpool_postgres::Object, Failure> {
        Ok(db::connect(&self.0.db, op).await?)
    }

    pub async fn register(
        &self,
        client_ip: &str,
        username: &str,
        email: &str,
        password: &str,
    ) -> Result<UserRow, RegisterError> {
        self.0
            .limiter
            .check(Scope::RegisterPerIp, client_ip)
            .await?;
        let mut errors = ValidationErrors::default();
        let username = errors.check(Username::parse(username));
        let email = errors.check(EmailAddress::parse(email));
        let password = errors.check(Password::parse(
            password,
            username.as_ref().map_or("", |u| u.as_str()),
        ));
        errors.finish().map_err(RegisterError::Invalid)?;
        let (Some(username), Some(email), Some(password)) = (username, email, password) else {
            unreachable!("finish() returned early");
        };

        let hash = passwords::hash_blocking(password.into_inner(), self.iterations()).await;
        let conn = self.conn("registering").await?;
        repo::insert_user(&conn, &username, &email, &hash, self.now())
            .await
            .map_err(|e| {
                taken(
                    e,
                    RegisterError::UsernameTaken,
                    RegisterError::EmailTaken,
                    "registering",
                )
            })
    }

    pub async fn login(
        &self,
        client_ip: &str,
        login: &str,
        password: &str,
    ) -> Result<NewSession, LoginError> {
        let limiter = &self.0.limiter;
        limiter.check(Scope::LoginPerIp, client_ip).await?;
        // Bounded before hashing; the answer does not depend on the account.
        // NUL cannot be in a stored name (and Postgres refuses it in text),
        // nor in a password: PBKDF2 would take `pw\0` for `pw`.
        let looked_up = password.len() <= Password::MAX_BYTES
            && login.len() <= 512
            && !login.contains('\0')
            && !password.contains('\0');
        let login = domain::normalize(login.trim());
        let found = if looked_up {
            // No pooled connection is held while hashing (hundreds of milliseconds).
            repo::find_by_login(&self.conn("logging in").await?, &login)
                .await
                .context("logging in")?
        } else {
            None
        };
        // Counted once the account is known, so its username and email share
        // one budget; unknown names are counted by their normalised spelling
        // and get the same answers (401, then 429) as real accounts.
        let subject = match &found {
            Some(user) => account_subject(user.id),
            None => name_subject(&login),
        };
        limiter.check(Scope::LoginPerAccount, &subject).await?;
        let Some(user) = found else {
            // Same work as a real verification (see `passwords::verify`), so
            // timing does not reveal whether the account exists.
            passwords::burn_blocking(self.iterations()).await;
            return Err(LoginError::InvalidCredentials);
        };
        let verification = passwords::verify_blocking(
            password.to_owned(),
            user.password_hash.clone(),
            self.iterations(),
        )
        .await;
        // Checked after the hash, so that the answer and its timing are those
        // of a wrong password: an inactive (deactivated or imported inactive)
        // account is not revealed. As Django's ModelBackend does.
        if !user.is_active {
            tracing::info!(user_id = user.id, "log-in refused: inactive account");
            return Err(LoginError::InvalidCredentials);
        }
        let upgraded = match verification {
            Verification::Invalid => return Err(LoginError::InvalidCredentials),
            Verification::Valid {
                needs_rehash: false,
            } => None,
            // Imported Django hash or an old iteration count: store a current
            // PHC hash now that we know the password.
            Verification::Valid { needs_rehash: true } => {
                Some(passwords::hash_blocking(password.to_owned(), self.iterations()).await)
            }
        };

        let conn = self.conn("logging in").await?;
        if let Some(new) = upgraded {
            repo::upgrade_password_hash(&conn, user.id, &user.password_hash, &new)
                .await
                .context("logging in")?;
            tracing::info!(user_id = user.id, "password hash upgraded");
        }
        let token = crate::tokens::generate();
        let now = self.now();
        let expires_at = now + self.0.config.auth.session_ttl_hours.get();
        repo::delete_expired_sessions(&conn, user.id, now)
            .await
            .context("logging in")?;
        repo::record_login(&conn, user.id, now)
            .await
            .context("logging in")?;
        repo::create_session(
            &conn,
            user.id,
            &crate::tokens::hash(&token),
            now,
            expires_at,
        )
        .await
        .context("logging in")?;
        Ok(NewSession {
            token,
            expires_at,
            user,
        })
    }

    /// Resolves a session token to its user. Only the token's SHA-256 is
    /// looked up; the token itself is never stored.
    pub async fn authenticate(&self, token: &str) -> Result<AuthenticatedUser, AuthError> {
        let token = token.trim();
        // Our tokens are 43 characters; don't hash megabytes of junk.
        if token.is_empty() || token.len() > 256 {
            return Err(AuthError::Unauthenticated);
        }
        let conn = self.conn("authenticating").await?;
        let found = repo::find_session(&conn, &crate::tokens::hash(token), self.now())
            .await
            .context("authenticating")?;
        match found {
            Some(s) => Ok(AuthenticatedUser {
                session_id: s.session_id,
                user: s.user,
            }),
            None => Err(AuthError::Unauthenticated),
        }
    }

    pub async fn logout(&self, who: &AuthenticatedUser) -> Result<(), Failure> {
        let conn = self.conn("logging out").await?;
        repo::delete_session(&conn, who.session_id)
            .await
            .context("logging out")
    }

    pub async fn logout_everywhere(&self, who: &AuthenticatedUser) -> Result<(), Failure> {
        let conn = self.conn("logging out everywhere").await?;
        repo::delete_sessions(&conn, who.id())
            .await
            .context("logging out everywhere")?;
        Ok(())
    }

    pub async fn public_profile(&self, username: &str) -> Result<UserRow, ProfileError> {
        // Anything that is not a valid username cannot exist: skip the query.
        if Username::parse(username).is_err() {
            return Err(ProfileError::NotFound);
        }
        let conn = self.conn("reading a profile").await?;
        repo::find_by_username(&conn, &domain::normalize(username))
            .await
            .context("reading a profile")?
            .ok_or(ProfileError::NotFound)
    }

    pub async fn update_profile(
        &self,
        who: &AuthenticatedUser,
        username: Option<&str>,
        email: Option<&str>,
        bio: Option<&str>,
    ) -> Result<UserRow, UpdateProfileError> {
        let mut errors = ValidationErrors::default();
        let username = username.and_then(|u| errors.check(Username::parse(u)));
        let email = email.and_then(|e| errors.check(EmailAddress::parse(e)));
        let bio = bio.and_then(|b| errors.check(Bio::parse(b)));
        errors.finish().map_err(UpdateProfileError::Invalid)?;

        let conn = self.conn("updating a profile").await?;
        let updated = repo::update_profile(
            &conn,
            who.id(),
            username.as_ref(),
            email.as_ref(),
            bio.as_ref(),
            self.now(),
        )
        .await;
        let after = match updated {
            Ok(Some(user)) => user,
            Ok(None) => return Err(UpdateProfileError::Unauthenticated),
            Err(e) => {
                return Err(taken(
                    e,
                    UpdateProfileError::UsernameTaken,
                    UpdateProfileError::EmailTaken,
                    "updating a profile",
                ));
            }
        };
        if after.username != who.user.username {
            // Post responses embed the author's username.
            self.0.cache.invalidate_posts().await;
        }
        Ok(after)
    }

    /// Sets a new password and revokes every session (the caller's included).
    pub async fn change_password(
        &self,
        who: &AuthenticatedUser,
        current: &str,
        new: &str,
    ) -> Result<(), ChangePasswordError> {
        // A stolen token must not allow unlimited guessing of the password.
        self.0
            .limiter
            .check(Scope::LoginPerAccount, &account_subject(who.id()))
            .await?;
        let current_ok = current.len() <= Password::MAX_BYTES
            && !current.contains('\0')
            && passwords::verify_blocking(
                current.to_owned(),
                who.user.password_hash.clone(),
                self.iterations(),
            )
            .await
            .is_valid();
        if !current_ok {
            return Err(ChangePasswordError::Invalid(
                ValidationError::new("current_password", "incorrect_password", "is incorrect")
                    .into(),
            ));
        }
        let new = Password::parse(new, who.username())
            .map_err(|e| ChangePasswordError::Invalid(e.for_field("new_password").into()))?;
        let hash = passwords::hash_blocking(new.into_inner(), self.iterations()).await;
        self.replace_password(who.id(), &hash, None)
            .await
            .context("changing a password")?;
        Ok(())
    }

    /// New hash, every session revoked, every reset token used up, and
    /// (for a reset) this reset consumed: all or nothing. `false` when the
    /// reset was consumed by someone else first.
    async fn replace_password(
        &self,
        user_id: i64,
        hash: &str,
        reset_id: Option<i64>,
    ) -> Result<bool, DbError> {
        let now = self.now();
        let mut conn = db::connect(&self.0.db, "replace password").await?;
        let tx = conn.transaction().await.op("replace password")?;
        if let Some(reset_id) = reset_id
            && !repo::consume_reset(&tx, reset_id, now).await?
        {
            return Ok(false);
        }
        repo::set_password_hash(&tx, user_id, hash, now).await?;
        repo::delete_sessions(&tx, user_id).await?;
        repo::consume_all_resets(&tx, user_id, now).await?;
        tx.commit().await.op("replace password")?;
        Ok(true)
    }

    /// Starts a password reset. Returns immediately: the lookup, token
    /// creation and mail happen in a background task, so the answer (and
    /// its timing) is the same whether or not `email` belongs to an account.
    pub async fn request_password_reset(
        &self,
        client_ip: &str,
        email: &str,
    ) -> Result<(), ResetRequestError> {
        let limiter = &self.0.limiter;
        limiter.check(Scope::PasswordResetPerIp, client_ip).await?;
        limiter
            .check(Scope::PasswordResetPerAccount, &name_subject(email))
            .await?;
        // A malformed address reveals nothing about accounts: say so.
        let email = EmailAddress::parse(email).map_err(|e| ResetRequestError::Invalid(e.into()))?;
        let accounts = self.clone();
        tokio::spawn(async move {
            if let Err(err) = accounts.send_reset(&email).await {
                tracing::warn!(error = %format!("{err:#}"), "password reset mail not sent");
            }
        });
        Ok(())
    }

    async fn send_reset(&self, email: &EmailAddress) -> anyhow::Result<()> {
        let conn = db::connect(&self.0.db, "password reset").await?;
        let Some(user) = repo::find_by_email(&conn, email.as_str()).await? else {
            tracing::info!("password reset requested for an unknown email");
            return Ok(());
        };
        // As Django's PasswordResetForm: a reset would not let an inactive
        // account log in anyway, so no mail is sent.
        if !user.is_active {
            tracing::info!(
                user_id = user.id,
                "password reset requested for an inactive account"
            );
            return Ok(());
        }
        let token = crate::tokens::generate();
        let ttl = self.0.config.auth.password_reset_ttl_minutes;
        let now = self.now();
        let expires_at = now + ttl.get();
        repo::insert_reset(
            &conn,
            user.id,
            &crate::tokens::hash(&token),
            now,
            expires_at,
        )
        .await?;
        drop(conn);
        // The stored address, not the typed one (they may differ in case).
        let to = EmailAddress::parse(&user.email)?;
        self.0
            .mailer
            .send_password_reset(
                &to,
                &user.username,
                &self.0.config.public_url,
                &token,
                ttl.units(),
            )
            .await?;
        tracing::info!(user_id = user.id, "password reset mail sent");
        Ok(())
    }

    /// Whether `token` is a usable reset token right now (the site shows the
    /// form only for those).
    pub async fn reset_token_is_usable(&self, token: &str) -> Result<bool, Failure> {
        let token = token.trim();
        if token.is_empty() || token.len() > 256 {
            return Ok(false);
        }
        let conn = self.conn("checking a reset token").await?;
        let found = repo::find_usable_reset(&conn, &crate::tokens::hash(token), self.now())
            .await
            .context("checking a reset token")?;
        Ok(found.is_some())
    }

    /// Completes a reset: new password, token used, every session revoked,
    /// all in one transaction.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<(), ResetConfirmError> {
        let token = token.trim();
        if token.is_empty() || token.len() > 256 {
            return Err(ResetConfirmError::InvalidToken);
        }
        let token_hash = crate::tokens::hash(token);
        let conn = self.conn("confirming a password reset").await?;
        let reset = repo::find_usable_reset(&conn, &token_hash, self.now())
            .await
            .context("confirming a password reset")?
            .ok_or(ResetConfirmError::InvalidToken)?;
        drop(conn);
        // Checked before the token is consumed: a rejected password leaves the
        // token usable for a second try.
        let password = Password::parse(new_password, &reset.user.username)
            .map_err(|e| ResetConfirmError::Invalid(e.for_field("new_password").into()))?;
        let hash = passwords::hash_blocking(password.into_inner(), self.iterations()).await;
        let replaced = self
            .replace_password(reset.user.id, &hash, Some(reset.reset_id))
            .await
            .context("confirming a password reset")?;
        if !replaced {
            return Err(ResetConfirmError::InvalidToken);
        }
        tracing::info!(user_id = reset.user.id, "password reset completed");
        Ok(())
    }

    /// Checks, decodes and resizes an uploaded picture (`bytes` already
    /// size-checked) without storing anything, so that a form can refuse a
    /// bad picture before it changes anything else.
    pub async fn prepare_avatar(&self, bytes: Vec<u8>) -> Result<PreparedAvatar, SetAvatarError> {
        let busy = SetAvatarError::Busy {
            retry_after_seconds: 2,
        };
        let _permit = match tokio::time::timeout(IMAGE_WORK_WAIT, self.0.image_work.acquire()).await
        {
            Ok(Ok(permit)) => permit,
            // Closed never happens (the semaphore is never closed); treat as busy.
            Ok(Err(_)) | Err(_) => {
                tracing::warn!("avatar upload refused: every image worker is busy");
                return Err(busy);
            }
        };
        PreparedAvatar::from_upload(bytes, &self.0.config.avatars).await
    }

    /// Stores a prepared avatar, then points the user at it and deletes the
    /// previous image.
    pub async fn set_avatar(
        &self,
        who: &AuthenticatedUser,
        avatar: PreparedAvatar,
    ) -> Result<UserRow, SetAvatarError> {
        let png = avatar.0;
        let key = avatars::new_key(who.id());
        let storage = &self.0.storage;
        storage
            .put(&avatars::object_key(&key), &png, "image/png")
            .await
            .context("storing an avatar")?;

        let updated = async {
            let conn = db::connect(&self.0.db, "set avatar").await?;
            repo::replace_avatar_key(&conn, who.id(), Some(&key), self.now()).await
        }
        .await;
        let change = match updated {
            Ok(Some(change)) => change,
            other => {
                // Nothing points at the new object: don't leave it behind.
                if let Err(e) = storage.delete(&avatars::object_key(&key)).await {
                    tracing::warn!(error = %e, "orphaned avatar object not deleted");
                }
                return match other {
                    Err(e) => Err(Failure::from(e).context("setting an avatar").into()),
                    Ok(_) => Err(SetAvatarError::Unauthenticated),
                };
            }
        };
        self.delete_old_avatar(change.previous_key).await;
        self.0.cache.invalidate_posts().await;
        Ok(change.user)
    }

    /// Back to the default avatar.
    pub async fn remove_avatar(&self, who: &AuthenticatedUser) -> Result<UserRow, AuthError> {
        let conn = self.conn("removing an avatar").await?;
        let change = repo::replace_avatar_key(&conn, who.id(), None, self.now())
            .await
            .context("removing an avatar")?
            .ok_or(AuthError::Unauthenticated)?;
        drop(conn);
        let changed = change.previous_key.is_some();
        self.delete_old_avatar(change.previous_key).await;
        if changed {
            self.0.cache.invalidate_posts().await;
        }
        Ok(change.user)
    }

    /// The stored PNG of avatar `key` (as in `avatar_url`), `None` if there
    /// is no such avatar.
    pub async fn avatar_image(&self, key: &str) -> Result<Option<Vec<u8>>, Failure> {
        // Only keys of the shape we generate: no `..`, no other prefixes.
        if !avatars::is_valid_key(key) {
            return Ok(None);
        }
        self.0
            .storage
            .get(&avatars::object_key(key))
            .await
            .context("reading an avatar")
    }

    /// Best effort: the database no longer references it, so a failure only
    /// leaves an unreachable object behind (logged), never a broken profile.
    async fn delete_old_avatar(&self, old: Option<String>) {
        if let Some(old) = old
            && let Err(e) = self.0.storage.delete(&avatars::object_key(&old)).await
        {
            tracing::warn!(error = %e, key = %old, "old avatar object not deleted");
        }
    }
}
