//! The account pages: register, log in and out, profile with picture, and
//! password reset by mail.

use askama::Template;
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Multipart, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use tokio::io::AsyncReadExt as _;

use super::session::{self, Flash, Visitor};
use super::{
    FieldErrors, Layout, MessagePage, PageError, avatar_src, render, require_login, see_other,
    wait_text,
};
use crate::accounts::{
    LoginError, RegisterError, ResetConfirmError, ResetRequestError, SetAvatarError,
    UpdateProfileError,
};
use crate::avatars::AvatarError;
use crate::error::Limited;
use crate::http::client_ip::ClientIp;
use crate::startup::AppState;

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    layout: Layout,
    username: String,
    email: String,
    errors: FieldErrors,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    next: String,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    avatar: String,
    current_username: String,
    current_email: String,
    username: String,
    email: String,
    bio: String,
    max_mb: u64,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage {
    layout: Layout,
    email: String,
    errors: FieldErrors,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "password_reset_confirm.html")]
struct ResetConfirmPage {
    layout: Layout,
    action: String,
    errors: FieldErrors,
}

/// A form answered with 429 and `Retry-After`, or the 503 page when rate
/// limiting itself is down (fail-closed).
fn limited(
    limit: Limited,
    state: &AppState,
    visitor: &Visitor,
    jar: &CookieJar,
    req: &Request,
    form: impl FnOnce(String) -> Response,
) -> Response {
    match limit {
        Limited::TooMany {
            retry_after_seconds,
        } => {
            let mut resp = form(wait_text(retry_after_seconds));
            resp.set_status(StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
            resp
        }
        Limited::Unavailable => PageError::from(limit).page(state, visitor, jar, req),
    }
}

fn message(
    state: &AppState,
    visitor: &Visitor,
    jar: &CookieJar,
    heading: &str,
    paragraphs: &[&str],
    link: Option<(&str, &str)>,
) -> MessagePage {
    MessagePage {
        layout: Layout::new(state, visitor, jar, heading),
        heading: heading.to_owned(),
        paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
        link: link.map(|(h, t)| (h.to_owned(), t.to_owned())),
    }
}

// ---- registration ----

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password1: String,
    #[serde(default)]
    password2: String,
}

#[handler]
pub async fn register_form(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await.with_csrf(&state, jar);
    if visitor.is_logged_in() {
        return see_other("/");
    }
    let page = RegisterPage {
        layout: Layout::new(&state, &visitor, jar, "Register"),
        username: String::new(),
        email: String::new(),
        errors: FieldErrors::default(),
        notice: None,
    };
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn register(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    ip: ClientIp,
    Form(form): Form<RegisterForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let again = |errors: FieldErrors, notice: Option<String>, status: StatusCode| {
        let page = RegisterPage {
            layout: Layout::new(&state, &visitor, jar, "Register"),
            username: form.username.clone(),
            email: form.email.clone(),
            errors,
            notice,
        };
        render(&page, status, &visitor).into_response(req)
    };
    if form.password1 != form.password2 {
        let mut errors = FieldErrors::default();
        errors.add("password2", "The two password fields didn’t match.");
        return again(errors, None, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let result = state
        .accounts
        .register(
            &ip.to_string(),
            &form.username,
            &form.email,
            &form.password1,
        )
        .await;
    match result {
        Ok(_) => {
            session::set_flash(&state, jar, Flash::Registered);
            see_other("/login/")
        }
        Err(RegisterError::Invalid(errors)) => again(
            FieldErrors::from_validation(&errors, &[("password", "password1")]),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(RegisterError::UsernameTaken) => {
            let mut errors = FieldErrors::default();
            errors.add("username", "A user with that username already exists.");
            again(errors, None, StatusCode::CONFLICT)
        }
        Err(RegisterError::EmailTaken) => {
            let mut errors = FieldErrors::default();
            errors.add("email", "An account with this email already exists.");
            again(errors, None, StatusCode::CONFLICT)
        }
        Err(RegisterError::RateLimited(limit)) => limited(limit, &state, &visitor, jar, req, |n| {
            again(
                FieldErrors::default(),
                Some(n),
                StatusCode::TOO_MANY_REQUESTS,
            )
        }),
        Err(RegisterError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

// ---- log in and out ----

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[handler]
pub async fn login_form(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Query(q): Query<LoginQuery>,
) -> Response {
    let visitor = session::visitor(&state, jar).await.with_csrf(&state, jar);
    let next = q
        .next
        .as_deref()
        .and_then(session::local_path)
        .unwrap_or("/")
        .to_owned();
    if visitor.is_logged_in() {
        return see_other(&next);
    }
    let page = LoginPage {
        layout: Layout::new(&state, &visitor, jar, "Log in"),
        username: String::new(),
        next,
        notice: None,
    };
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn login(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    ip: ClientIp,
    Form(form): Form<LoginForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let next = session::local_path(&form.next).unwrap_or("/").to_owned();
    let again = |notice: String, status: StatusCode| {
        let page = LoginPage {
            layout: Layout::new(&state, &visitor, jar, "Log in"),
            username: form.username.clone(),
            next: next.clone(),
            notice: Some(notice),
        };
        render(&page, status, &visitor).into_response(req)
    };
    match state
        .accounts
        .login(&ip.to_string(), &form.username, &form.password)
        .await
    {
        Ok(new) => {
            session::start_session(&state, jar, new.token);
            see_other(&next)
        }
        Err(LoginError::InvalidCredentials) => again(
            "Please enter a correct username (or email) and password. Both may be case-sensitive."
                .into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(LoginError::RateLimited(limit)) => limited(limit, &state, &visitor, jar, req, |n| {
            again(n, StatusCode::TOO_MANY_REQUESTS)
        }),
        Err(LoginError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[handler]
pub async fn logout(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let Some(user) = &visitor.user else {
        return see_other("/");
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    if let Err(e) = state.accounts.logout(user).await {
        return PageError::from(e).page(&state, &visitor, jar, req);
    }
    session::end_session(&state, jar);
    session::set_flash(&state, jar, Flash::LoggedOut);
    see_other("/")
}

#[handler]
pub async fn logout_everywhere(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let Some(user) = &visitor.user else {
        return see_other("/");
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    if let Err(e) = state.accounts.logout_everywhere(user).await {
        return PageError::from(e).page(&state, &visitor, jar, req);
    }
    session::end_session(&state, jar);
    session::set_flash(&state, jar, Flash::LoggedOutEverywhere);
    see_other("/")
}

// ---- profile ----

#[handler]
pub async fn profile_form(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, "/profile/") {
        Ok(user) => user.user,
        Err(redirect) => return redirect.response(),
    };
    let page = ProfilePage {
        layout: Layout::new(&state, &visitor, jar, "Profile"),
        avatar: avatar_src(user.avatar_key.as_deref()),
        current_username: user.username.clone(),
        current_email: user.email.clone(),
        max_mb: max_mb(&state),
        username: user.username,
        email: user.email,
        bio: user.bio,
        errors: FieldErrors::default(),
    };
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

fn max_mb(state: &AppState) -> u64 {
    state.settings.avatars.max_bytes.get().div_ceil(1024 * 1024)
}

/// The profile form's fields, read from its multipart body with bounds.
#[derive(Default)]
struct ProfileForm {
    csrf: String,
    username: String,
    email: String,
    bio: String,
    image: Vec<u8>,
    /// The file was larger than the avatar limit.
    image_too_large: bool,
}

/// Text fields are small; anything longer is cut (the domain rules refuse
/// long values anyway, and the whole body is bounded by `limit_body`).
const TEXT_FIELD_LIMIT: u64 = 16 * 1024;

async fn read_profile_form(
    mut multipart: Multipart,
    max_image: usize,
) -> Result<ProfileForm, String> {
    let mut form = ProfileForm::default();
    while let Some(field) = multipart.next_field().await.map_err(|e| e.to_string())? {
        let name = field.name().unwrap_or_default().to_owned();
        let limit = if name == "image" {
            max_image as u64 + 1
        } else {
            TEXT_FIELD_LIMIT
        };
        let mut bytes = Vec::new();
        field
            .into_async_read()
            .take(limit)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| e.to_string())?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => form.csrf = text(),
            "username" => form.username = text(),
            "email" => form.email = text(),
            "bio" => form.bio = text().replace("\r\n", "\n"),
            "image" => {
                form.image_too_large = bytes.len() > max_image;
                form.image = bytes;
            }
            _ => {}
        }
    }
    Ok(form)
}

fn avatar_message(e: &AvatarError) -> &'static str {
    match e {
        AvatarError::UnsupportedFormat => "Upload a PNG, JPEG or WebP image.",
        AvatarError::TooManyPixels { .. } => "This image has too many pixels; use a smaller one.",
        AvatarError::TooMuchMemory { .. } => {
            "This image is too large to process (too many pixels or too deep colours); use a smaller one."
        }
        AvatarError::Corrupt(_) => "This file is not a readable image.",
    }
}

#[handler]
pub async fn profile(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    multipart: Multipart,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let who = match require_login(&visitor, "/profile/") {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    let max_image = state.settings.avatars.max_bytes.as_usize();
    let form = match read_profile_form(multipart, max_image).await {
        Ok(form) => form,
        Err(_) => {
            return PageError::BadLink("The form could not be read; please send it again.")
                .page(&state, &visitor, jar, req);
        }
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let again = |errors: FieldErrors, status: StatusCode| {
        let page = ProfilePage {
            layout: Layout::new(&state, &visitor, jar, "Profile"),
            avatar: avatar_src(who.user.avatar_key.as_deref()),
            current_username: who.user.username.clone(),
            current_email: who.user.email.clone(),
            max_mb: max_mb(&state),
            username: form.username.clone(),
            email: form.email.clone(),
            bio: form.bio.clone(),
            errors,
        };
        render(&page, status, &visitor).into_response(req)
    };
    // The picture is checked (decoded and resized) before anything is
    // written, so a bad picture changes nothing at all.
    let avatar = if form.image_too_large {
        let mut errors = FieldErrors::default();
        errors.add(
            "image",
            format!("The picture is larger than {} MB.", max_mb(&state)),
        );
        return again(errors, StatusCode::PAYLOAD_TOO_LARGE);
    } else if form.image.is_empty() {
        None
    } else {
        match state.accounts.prepare_avatar(form.image.clone()).await {
            Ok(prepared) => Some(prepared),
            Err(SetAvatarError::Image(e)) => {
                let mut errors = FieldErrors::default();
                errors.add("image", avatar_message(&e));
                return again(errors, StatusCode::UNPROCESSABLE_ENTITY);
            }
            Err(SetAvatarError::Busy { .. }) => {
                let mut errors = FieldErrors::default();
                errors.add(
                    "image",
                    "Many pictures are being processed right now; please send it again in a few seconds.",
                );
                return again(errors, StatusCode::SERVICE_UNAVAILABLE);
            }
            Err(SetAvatarError::Unauthenticated) => return see_other("/login/"),
            Err(SetAvatarError::Failed(e)) => {
                return PageError::from(e).page(&state, &visitor, jar, req);
            }
        }
    };
    let updated = state
        .accounts
        .update_profile(
            &who,
            Some(&form.username),
            Some(&form.email),
            Some(&form.bio),
        )
        .await;
    match updated {
        Ok(_) => {}
        Err(UpdateProfileError::Invalid(errors)) => {
            return again(
                FieldErrors::from_validation(&errors, &[]),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
        Err(UpdateProfileError::UsernameTaken) => {
            let mut errors = FieldErrors::default();
            errors.add("username", "A user with that username already exists.");
            return again(errors, StatusCode::CONFLICT);
        }
        Err(UpdateProfileError::EmailTaken) => {
            let mut errors = FieldErrors::default();
            errors.add("email", "An account with this email already exists.");
            return again(errors, StatusCode::CONFLICT);
        }
        Err(UpdateProfileError::Unauthenticated) => return see_other("/login/"),
        Err(UpdateProfileError::Failed(e)) => {
            return PageError::from(e).page(&state, &visitor, jar, req);
        }
    }
    if let Some(prepared) = avatar {
        match state.accounts.set_avatar(&who, prepared).await {
            Ok(_) => {}
            Err(SetAvatarError::Unauthenticated) => return see_other("/login/"),
            Err(SetAvatarError::Image(e)) => {
                let mut errors = FieldErrors::default();
                errors.add("image", avatar_message(&e));
                return again(errors, StatusCode::UNPROCESSABLE_ENTITY);
            }
            Err(SetAvatarError::Busy { .. }) => {
                let mut errors = FieldErrors::default();
                errors.add(
                    "image",
                    "Many pictures are being processed right now; please send it again in a few seconds.",
                );
                return again(errors, StatusCode::SERVICE_UNAVAILABLE);
            }
            Err(SetAvatarError::Failed(e)) => {
                return PageError::from(e).page(&state, &visitor, jar, req);
            }
        }
    }
    session::set_flash(&state, jar, Flash::ProfileUpdated);
    see_other("/profile/")
}

// ---- password reset ----

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

#[handler]
pub async fn reset_form(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await.with_csrf(&state, jar);
    let page = ResetPage {
        layout: Layout::new(&state, &visitor, jar, "Reset password"),
        email: String::new(),
        errors: FieldErrors::default(),
        notice: None,
    };
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn reset(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    ip: ClientIp,
    Form(form): Form<ResetForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let again = |errors: FieldErrors, notice: Option<String>, status: StatusCode| {
        let page = ResetPage {
            layout: Layout::new(&state, &visitor, jar, "Reset password"),
            email: form.email.clone(),
            errors,
            notice,
        };
        render(&page, status, &visitor).into_response(req)
    };
    match state
        .accounts
        .request_password_reset(&ip.to_string(), &form.email)
        .await
    {
        Ok(()) => see_other("/password-reset/done/"),
        Err(ResetRequestError::Invalid(errors)) => again(
            FieldErrors::from_validation(&errors, &[]),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(ResetRequestError::RateLimited(limit)) => {
            limited(limit, &state, &visitor, jar, req, |n| {
                again(
                    FieldErrors::default(),
                    Some(n),
                    StatusCode::TOO_MANY_REQUESTS,
                )
            })
        }
    }
}

#[handler]
pub async fn reset_done(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let page = message(
        &state,
        &visitor,
        jar,
        "Check your mail",
        &[
            "If an account uses this address, an email with instructions to reset your password is on its way.",
            "The link in it works once and for a limited time. If nothing arrives, check the spam folder.",
        ],
        Some(("/login/", "Back to log in")),
    );
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

/// Only base64url characters: anything else cannot be one of our tokens
/// (and must not reach a `Location` header).
fn plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn invalid_link_page(
    state: &AppState,
    visitor: &Visitor,
    jar: &CookieJar,
    req: &Request,
) -> Response {
    let page = message(
        state,
        visitor,
        jar,
        "Invalid reset link",
        &[
            "This password reset link is invalid, has expired or was already used. Ask for a new one.",
        ],
        Some(("/password-reset/", "Request a new link")),
    );
    render(&page, StatusCode::BAD_REQUEST, visitor).into_response(req)
}

#[handler]
pub async fn reset_confirm_form(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(token): Path<String>,
) -> Response {
    let visitor = session::visitor(&state, jar).await.with_csrf(&state, jar);
    if !plausible_token(&token) {
        return invalid_link_page(&state, &visitor, jar, req);
    }
    match state.accounts.reset_token_is_usable(&token).await {
        Ok(true) => {
            let page = ResetConfirmPage {
                layout: Layout::new(&state, &visitor, jar, "Choose a new password"),
                action: format!("/password-reset-confirm/{token}/"),
                errors: FieldErrors::default(),
            };
            let mut resp = render(&page, StatusCode::OK, &visitor).into_response(req);
            // The token is in the address: keep it out of every cache.
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Ok(false) => invalid_link_page(&state, &visitor, jar, req),
        Err(e) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ResetConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    new_password1: String,
    #[serde(default)]
    new_password2: String,
}

#[handler]
pub async fn reset_confirm(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(token): Path<String>,
    Form(form): Form<ResetConfirmForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    if !plausible_token(&token) {
        return invalid_link_page(&state, &visitor, jar, req);
    }
    let again = |errors: FieldErrors| {
        let page = ResetConfirmPage {
            layout: Layout::new(&state, &visitor, jar, "Choose a new password"),
            action: format!("/password-reset-confirm/{token}/"),
            errors,
        };
        render(&page, StatusCode::UNPROCESSABLE_ENTITY, &visitor).into_response(req)
    };
    if form.new_password1 != form.new_password2 {
        let mut errors = FieldErrors::default();
        errors.add("new_password2", "The two password fields didn’t match.");
        return again(errors);
    }
    match state
        .accounts
        .confirm_password_reset(&token, &form.new_password1)
        .await
    {
        Ok(()) => {
            // Every session was revoked, this browser's too.
            session::end_session(&state, jar);
            see_other("/password-reset-complete/")
        }
        Err(ResetConfirmError::Invalid(errors)) => again(FieldErrors::from_validation(
            &errors,
            &[("new_password", "new_password1")],
        )),
        Err(ResetConfirmError::InvalidToken) => invalid_link_page(&state, &visitor, jar, req),
        Err(ResetConfirmError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

#[handler]
pub async fn reset_complete(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let page = message(
        &state,
        &visitor,
        jar,
        "Password reset complete",
        &[Flash::PasswordChanged.text()],
        Some(("/login/", "Log in")),
    );
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

#[derive(Debug, Default, Deserialize)]
pub struct OldResetQuery {
    #[serde(default)]
    token: String,
}

/// `/reset-password?token=…`, the link of mails sent before the site had
/// its reset pages: the same page under its new address.
#[handler]
pub async fn old_reset_link(Query(q): Query<OldResetQuery>) -> Response {
    if plausible_token(&q.token) {
        super::moved_permanently(&format!("/password-reset-confirm/{}/", q.token))
    } else {
        super::moved_permanently("/password-reset/")
    }
}
