//! The website: server-rendered pages for readers and writers, on the same
//! use cases as the API (`accounts`, `posts`). The paths are the Django
//! original's, so old links keep working.
//!
//! Pages are askama templates (`app/templates`), checked when the crate
//! compiles and HTML-escaped by default; no page needs JavaScript. What a
//! use case's error means for a page (a message next to a field, a 404 page,
//! a 429 with the wait) is decided here, once per use case, the way
//! `http::problem` does it for the API.

mod accounts;
pub mod assets;
mod comments;
mod feeds;
mod moderation;
mod posts;
mod read;
pub mod session;

use askama::Template;
use chrono::{DateTime, Utc};
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::Data;
use poem::web::cookie::CookieJar;
use poem::{Request, Response, Route, get, handler};
use sha2::{Digest as _, Sha256};

use crate::accounts::AuthenticatedUser;
use crate::avatars;
use crate::error::{Failure, Limited, ValidationErrors};
use crate::posts::Post;
use crate::startup::AppState;
use session::{CookieNames, Flash, Visitor};

/// What the site needs besides the use cases.
pub struct SiteConfig {
    pub cookies: CookieNames,
    /// `https://…` public URL: send HSTS.
    pub https: bool,
    /// Absolute URL prefix for canonical links.
    pub public_url: String,
}

impl SiteConfig {
    pub fn new(public_url: &str) -> Self {
        Self {
            cookies: CookieNames::for_public_url(public_url),
            https: public_url.starts_with("https://"),
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// The site's routes (everything outside `/api`, `/docs`, the probes and
/// `/media`), as `(path, methods)` for the 405 `Allow` table too.
pub const ROUTES: &[(&str, &[Method])] = &[
    ("/", &[Method::GET]),
    ("/about/", &[Method::GET]),
    ("/post/new/", &[Method::GET, Method::POST]),
    ("/post/:id/", &[Method::GET]),
    ("/post/:id/update/", &[Method::GET, Method::POST]),
    ("/post/:id/delete/", &[Method::GET, Method::POST]),
    ("/user/:username", &[Method::GET]),
    ("/user/:username/", &[Method::GET]),
    ("/register/", &[Method::GET, Method::POST]),
    ("/login/", &[Method::GET, Method::POST]),
    ("/logout/", &[Method::POST]),
    ("/logout/everywhere/", &[Method::POST]),
    ("/profile/", &[Method::GET, Method::POST]),
    ("/password-reset/", &[Method::GET, Method::POST]),
    ("/password-reset/done/", &[Method::GET]),
    (
        "/password-reset-confirm/:token/",
        &[Method::GET, Method::POST],
    ),
    ("/password-reset-complete/", &[Method::GET]),
    ("/reset-password", &[Method::GET]),
    ("/static/:file", &[Method::GET]),
    ("/feeds/:file", &[Method::GET]),
    ("/user/:username/:file", &[Method::GET]),
    ("/tag/:tag/", &[Method::GET]),
    ("/tag/:tag/:file", &[Method::GET]),
    ("/search/", &[Method::GET]),
    ("/sitemap.xml", &[Method::GET]),
    ("/robots.txt", &[Method::GET]),
];

/// Adds the site's routes to `routes` (the app wraps everything in a
/// `CookieJarManager`, which the pages' `&CookieJar` needs).
pub fn add_routes(routes: Route) -> Route {
    routes
        .at("/", get(read::home))
        .at("/about/", get(read::about))
        .at("/post/new/", get(posts::new_form).post(posts::create))
        .at("/post/:id/", get(read::post_detail))
        .at(
            "/post/:id/update/",
            get(posts::update_form).post(posts::update),
        )
        .at(
            "/post/:id/delete/",
            get(posts::delete_form).post(posts::delete),
        )
        .at("/post/:id/comments/", poem::post(comments::create))
        .at(
            "/comment/:id/edit/",
            get(comments::edit_form).post(comments::edit),
        )
        .at("/comment/:id/delete/", poem::post(comments::delete))
        .at("/post/:id/unpublish/", poem::post(moderation::unpublish))
        .at(
            "/user/:username/deactivate/",
            poem::post(moderation::deactivate),
        )
        .at("/user/:username", get(read::author))
        .at("/user/:username/", get(read::author))
        .at(
            "/register/",
            get(accounts::register_form).post(accounts::register),
        )
        .at("/login/", get(accounts::login_form).post(accounts::login))
        .at("/logout/", poem::post(accounts::logout))
        .at(
            "/logout/everywhere/",
            poem::post(accounts::logout_everywhere),
        )
        .at(
            "/profile/",
            get(accounts::profile_form).post(accounts::profile),
        )
        .at(
            "/password-reset/",
            get(accounts::reset_form).post(accounts::reset),
        )
        .at("/password-reset/done/", get(accounts::reset_done))
        .at(
            "/password-reset-confirm/:token/",
            get(accounts::reset_confirm_form).post(accounts::reset_confirm),
        )
        .at("/password-reset-complete/", get(accounts::reset_complete))
        .at("/reset-password", get(accounts::old_reset_link))
        .at("/static/:file", get(assets::serve))
        .at("/feeds/:file", get(feeds::blog_feed))
        .at("/user/:username/:file", get(feeds::author_feed))
        .at("/tag/:tag/", get(read::tag_page))
        .at("/tag/:tag/:file", get(feeds::tag_feed))
        .at("/search/", get(read::search))
        .at("/sitemap.xml", get(feeds::sitemap))
        .at("/robots.txt", get(feeds::robots))
        .at("/csp-report", poem::post(csp_report))
}

/// What every page shows around its content.
pub struct Layout {
    pub title: String,
    /// The logged-in user's name.
    pub user: Option<String>,
    pub csrf: String,
    pub flash: Option<&'static str>,
    pub css: String,
    pub icon: String,
    pub canonical: Option<String>,
}

impl Layout {
    pub fn new(state: &AppState, visitor: &Visitor, jar: &CookieJar, title: &str) -> Self {
        Self {
            title: title.to_owned(),
            user: visitor.user.as_ref().map(|u| u.username().to_owned()),
            csrf: visitor.csrf_token(),
            flash: session::take_flash(state, jar).map(Flash::text),
            css: assets::url("site.css"),
            icon: assets::url("favicon.svg"),
            canonical: None,
        }
    }

    pub fn canonical(mut self, state: &AppState, path: &str) -> Self {
        self.canonical = Some(format!("{}{path}", state.site.public_url));
        self
    }
}

/// Messages per form field, shown next to the field.
#[derive(Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field.to_owned(), message.into()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The domain's errors, each under the form field it belongs to
    /// (`rename` maps a domain field to the form's name for it).
    pub fn from_validation(errors: &ValidationErrors, rename: &[(&str, &str)]) -> Self {
        let mut out = Self::default();
        for e in &errors.0 {
            // One field for a list's items: `tags[2]` is the `tags` field.
            let name = e.field.split('[').next().unwrap_or_default();
            let field = rename
                .iter()
                .find(|(from, _)| *from == name)
                .map_or(name, |(_, to)| *to);
            out.add(field, sentence(&e.message));
        }
        out
    }
}

/// "must not be empty" → "This field must not be empty."
fn sentence(message: &str) -> String {
    let trimmed = message.trim_end_matches('.');
    if trimmed.starts_with("must") || trimmed.starts_with("may") || trimmed.starts_with("is ") {
        format!("This field {trimmed}.")
    } else {
        let mut chars = trimmed.chars();
        match chars.next() {
            Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
            None => String::new(),
        }
    }
}

/// A post as the pages show it.
pub struct PostView {
    pub id: i64,
    /// `/post/<id>-<slug>/`, the canonical path.
    pub url: String,
    pub edit_url: String,
    pub delete_url: String,
    pub title: String,
    /// Sanitised when the post was written (`posts::markdown`), or escaped
    /// plain text: safe to put in the page as it is.
    pub html: String,
    pub excerpt: String,
    pub author: String,
    pub author_url: String,
    pub avatar: String,
    /// "May 1, 2026", as the original showed it.
    pub date: String,
    pub datetime: String,
    /// When it was last edited, if it was.
    pub updated: Option<String>,
    /// The visitor wrote it (offer update and delete).
    pub mine: bool,
    /// Why readers do not see it yet ("Draft", "Scheduled for …"), shown
    /// to its author; `None` once it is public.
    pub badge: Option<String>,
    /// Its tags: the slug and the tag page's path.
    pub tags: Vec<(String, String)>,
    /// How many comments it has.
    pub comment_count: i64,
    /// Its author's id (who may delete comments on it).
    pub author_id: i64,
}

impl PostView {
    /// `now`: the instant the page is made at (is the post public yet?).
    pub fn new(post: Post, visitor: &Visitor, now: DateTime<Utc>) -> Self {
        let mine = visitor
            .user
            .as_ref()
            .is_some_and(|u| u.id() == post.author.id);
        let badge = match post.published_at {
            None => Some("Draft".to_owned()),
            Some(at) if at > now => Some(format!(
                "Scheduled for {}",
                at.format("%B %-d, %Y, %H:%M UTC")
            )),
            Some(_) => None,
        };
        // The publication date, as readers see it (a draft: its last edit).
        let shown = post.shown_at();
        Self {
            id: post.id,
            url: post_path(&post),
            edit_url: format!("/post/{}/update/", post.id),
            delete_url: format!("/post/{}/delete/", post.id),
            author_url: author_url(&post.author.username),
            avatar: avatar_src(post.author.avatar_key.as_deref()),
            date: shown.format("%B %-d, %Y").to_string(),
            datetime: shown.to_rfc3339(),
            updated: (post.published_at.is_some()
                && post.updated_at > shown + chrono::Duration::seconds(1))
            .then(|| post.updated_at.format("%B %-d, %Y").to_string()),
            badge,
            tags: post
                .tags
                .into_iter()
                .map(|t| {
                    let path = tag_path(&t);
                    (t, path)
                })
                .collect(),
            comment_count: post.comment_count,
            author_id: post.author.id,
            title: post.title,
            html: post.html,
            excerpt: post.excerpt,
            author: post.author.username,
            mine,
        }
    }
}

/// The id in a post's path segment, `<id>-<slug>` or `<id>`, with the
/// slug (which only makes the URL readable; it may be stale or missing).
pub fn parse_post_segment(segment: &str) -> Option<(i64, &str)> {
    let (number, slug) = segment.split_once('-').unwrap_or((segment, ""));
    // Digits only: `+1` or ` 1` would parse as numbers but are not our URLs.
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((number.parse().ok()?, slug))
}

/// The path segment that names a post: `<id>-<slug>`, or `<id>` when the
/// title has no letters or digits.
pub fn post_segment(post: &Post) -> String {
    match post.slug() {
        slug if slug.is_empty() => post.id.to_string(),
        slug => format!("{}-{}", post.id, url_component(&slug)),
    }
}

/// The canonical path of a post's page: `/post/<id>-<slug>/`. The
/// original's `/post/<id>/` and stale slugs redirect to it.
pub fn post_path(post: &Post) -> String {
    format!("/post/{}/", post_segment(post))
}

/// The absolute URL of a post's page (the API's `url`).
pub fn post_url(public_url: &str, post: &Post) -> String {
    format!("{}{}", public_url.trim_end_matches('/'), post_path(post))
}

/// `/user/<name>`, the name percent-encoded as a path segment.
pub fn author_url(username: &str) -> String {
    format!("/user/{}", path_segment(username))
}

/// `/tag/<slug>/`, the slug percent-encoded as a path segment (tags may
/// hold `#`, `+` and any script).
pub fn tag_path(slug: &str) -> String {
    format!("/tag/{}/", path_segment(slug))
}

/// `text` percent-encoded as one path segment.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b'+') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Site-relative avatar URL (same origin, so the CSP's `img-src 'self'`
/// holds whatever the public URL is).
pub fn avatar_src(key: Option<&str>) -> String {
    avatars::avatar_url("", key)
}

/// Links to the neighbouring pages of a list.
pub struct Pager {
    pub newer: Option<String>,
    pub older: Option<String>,
}

/// A page ready to send: rendered HTML with its status.
pub struct Html {
    pub status: StatusCode,
    pub body: String,
    /// Public pages may be cached (and revalidated); a logged-in visitor's
    /// are private.
    pub private: bool,
}

/// Renders `template`; a template error (a bug) becomes the 500 page.
pub fn render(template: &impl Template, status: StatusCode, visitor: &Visitor) -> Html {
    match template.render() {
        Ok(body) => Html {
            status,
            body,
            private: visitor.is_logged_in(),
        },
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            Html {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: plain_error_page(500),
                private: true,
            }
        }
    }
}

impl Html {
    /// The response, with `ETag` and `If-None-Match` handled for 200s.
    pub fn into_response(self, req: &Request) -> Response {
        self.into_response_as(req, "text/html; charset=utf-8")
    }

    /// The same for another type of document (feeds, the sitemap).
    pub fn into_response_as(self, req: &Request, content_type: &'static str) -> Response {
        let mut resp = Response::builder()
            .status(self.status)
            .content_type(content_type);
        resp = resp.header(header::VARY, "Cookie");
        resp = resp.header(
            header::CACHE_CONTROL,
            if self.private {
                "private, no-cache"
            } else {
                "public, no-cache"
            },
        );
        if self.status == StatusCode::OK {
            let digest = Sha256::digest(self.body.as_bytes());
            let etag = format!("W/\"{}\"", hex::encode(&digest[..12]));
            let matches = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
            let resp = resp.header(header::ETAG, etag);
            if matches {
                return resp.status(StatusCode::NOT_MODIFIED).finish();
            }
            return resp.body(self.body);
        }
        resp.body(self.body)
    }
}

/// A 303 to `path` (after a successful POST, and for old URLs).
pub fn see_other(path: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, session::location(path))
        .finish()
}

pub fn moved_permanently(path: &str) -> Response {
    Response::builder()
        .status(StatusCode::MOVED_PERMANENTLY)
        .header(header::LOCATION, session::location(path))
        .finish()
}

/// The message page (errors, confirmations).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub paragraphs: Vec<String>,
    pub link: Option<(String, String)>,
}

/// What went wrong, as a page.
pub enum PageError {
    /// A malformed link (a cursor that is not ours…): 400.
    BadLink(&'static str),
    NotFound(&'static str),
    Forbidden(&'static str),
    /// The request cannot be done in the current state (comments closed).
    Conflict(&'static str),
    /// The form's CSRF token was missing or wrong.
    Csrf,
    RateLimited(u64),
    Failed(Failure),
}

impl From<Failure> for PageError {
    fn from(f: Failure) -> Self {
        Self::Failed(f)
    }
}

impl From<Limited> for PageError {
    fn from(l: Limited) -> Self {
        match l {
            Limited::TooMany {
                retry_after_seconds,
            } => Self::RateLimited(retry_after_seconds),
            Limited::Unavailable => Self::Failed(Failure::Unavailable(anyhow::anyhow!(
                "rate limiting unavailable"
            ))),
        }
    }
}

impl PageError {
    /// The error page for this visitor.
    pub fn page(
        self,
        state: &AppState,
        visitor: &Visitor,
        jar: &CookieJar,
        req: &Request,
    ) -> Response {
        let (status, heading, text, retry) = match self {
            PageError::BadLink(what) => (StatusCode::BAD_REQUEST, "This link is not valid", what.to_owned(), None),
            PageError::NotFound(what) => (StatusCode::NOT_FOUND, "Page not found", what.to_owned(), None),
            PageError::Forbidden(what) => (StatusCode::FORBIDDEN, "Not allowed", what.to_owned(), None),
            PageError::Conflict(what) => (StatusCode::CONFLICT, "Not possible now", what.to_owned(), None),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was sent from another page or has expired, so nothing was changed. Go back, reload the page and send it again.".to_owned(),
                None,
            ),
            PageError::RateLimited(seconds) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                wait_text(seconds),
                Some(seconds),
            ),
            PageError::Failed(failure) => {
                let unavailable = matches!(failure, Failure::Unavailable(_));
                if unavailable {
                    tracing::warn!(error = %failure, "a page could not be served");
                } else {
                    tracing::error!(error = %failure, "a page failed with an internal error");
                }
                if unavailable {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Temporarily unavailable",
                        "The blog cannot do this right now. Please try again in a moment.".to_owned(),
                        Some(5),
                    )
                } else {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Something went wrong",
                        "The server failed to show this page. The problem has been logged.".to_owned(),
                        None,
                    )
                }
            }
        };
        let page = MessagePage {
            layout: Layout::new(state, visitor, jar, heading),
            heading: heading.to_owned(),
            paragraphs: vec![text],
            link: Some(("/".into(), "Back to the home page".into())),
        };
        let mut resp = render(&page, status, visitor).into_response(req);
        if let Some(seconds) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        resp
    }
}

/// "Try again in 42 seconds." (or minutes for long waits).
pub fn wait_text(seconds: u64) -> String {
    if seconds >= 120 {
        format!(
            "Too many attempts. Try again in {} minutes.",
            seconds.div_ceil(60)
        )
    } else {
        format!("Too many attempts. Try again in {seconds} seconds.")
    }
}

/// An error page without a visitor (middleware: unknown routes, bodies
/// refused before any handler): no user menu, no CSRF token needed.
pub fn plain_error_page(status: u16) -> String {
    let (heading, text) = match status {
        404 => (
            "Page not found",
            "There is nothing at this address. It may have moved, or the link may be wrong.",
        ),
        403 => ("Not allowed", "You are not allowed to do this."),
        405 => (
            "Not allowed here",
            "This address does not accept that kind of request.",
        ),
        413 => (
            "Too large",
            "What you sent is larger than the blog accepts.",
        ),
        429 => (
            "Too many requests",
            "Too many attempts. Wait a moment and try again.",
        ),
        503 => (
            "Temporarily unavailable",
            "The blog cannot do this right now. Please try again in a moment.",
        ),
        s if s < 500 => (
            "This request could not be handled",
            "Go back and try again.",
        ),
        _ => (
            "Something went wrong",
            "The server failed to show this page. The problem has been logged.",
        ),
    };
    let page = MessagePage {
        layout: Layout {
            title: heading.to_owned(),
            user: None,
            csrf: String::new(),
            flash: None,
            css: assets::url("site.css"),
            icon: assets::url("favicon.svg"),
            canonical: None,
        },
        heading: heading.to_owned(),
        paragraphs: vec![text.to_owned()],
        link: Some(("/".into(), "Back to the home page".into())),
    };
    page.render()
        .unwrap_or_else(|_| format!("<!doctype html><title>{status}</title><h1>{status}</h1>"))
}

/// Whether a request asked for HTML (a browser): error answers outside
/// `/api` are then pages instead of problem documents.
pub fn wants_html(req_accept: Option<&str>) -> bool {
    req_accept.is_some_and(|a| a.contains("text/html"))
}

/// The security headers of every page, and what the request middleware
/// adds to every answer.
pub fn security_headers(resp: &mut Response, https: bool, docs_csp: Option<&str>) {
    let headers = resp.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    // A shared cache must never keep an answer that sets a cookie (a
    // session, a flash message going away).
    if headers.contains_key(header::SET_COOKIE)
        && headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("public"))
    {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if is_html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let csp = docs_csp.unwrap_or(PAGE_CSP);
        if let Ok(value) = HeaderValue::from_str(csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// No script at all, styles and images only from this origin, forms only to
/// it, never framed. Browsers report violations to `/csp-report` (counted in
/// `csp_violations_total`): on pages that never run script, any report is
/// injected markup or a broken page, worth an alert.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; report-uri /csp-report";

/// A browser's CSP violation report (`report-uri`, `application/csp-report`
/// JSON): counted and logged (what was blocked, where), answered 204. Read
/// up to 16 KiB; anything else is still counted, as the browser sent it.
#[handler]
async fn csp_report(state: Data<&AppState>, body: poem::Body) -> StatusCode {
    state.metrics.csp_violations_total.inc();
    let report: serde_json::Value = match body.into_bytes_limit(16 * 1024).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    let field = |name: &str| -> String {
        report["csp-report"][name]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect()
    };
    tracing::warn!(
        document = field("document-uri"),
        directive = field("violated-directive"),
        blocked = field("blocked-uri"),
        "content security policy violation reported"
    );
    StatusCode::NO_CONTENT
}

/// The log-in page, coming back to a page afterwards.
pub struct ToLogin(String);

impl ToLogin {
    pub fn response(&self) -> Response {
        see_other(&format!("/login/?next={}", url_component(&self.0)))
    }
}

/// The logged-in user, or the way to the log-in page that comes back.
pub fn require_login(visitor: &Visitor, back_to: &str) -> Result<AuthenticatedUser, ToLogin> {
    visitor
        .user
        .clone()
        .ok_or_else(|| ToLogin(back_to.to_owned()))
}

/// Percent-encodes a query-string component.
pub fn url_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_segments_carry_an_id_and_maybe_a_slug() {
        assert_eq!(parse_post_segment("42"), Some((42, "")));
        assert_eq!(
            parse_post_segment("42-blog-like-a-pro"),
            Some((42, "blog-like-a-pro"))
        );
        for bad in ["", "-1", "+1", "abc", "1a-b", "99999999999999999999"] {
            assert_eq!(parse_post_segment(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn author_urls_encode_the_name() {
        assert_eq!(author_url("corey"), "/user/corey");
        assert_eq!(author_url("a.b+c@d"), "/user/a.b+c@d");
        assert_eq!(author_url("émile"), "/user/%C3%A9mile");
        assert_eq!(author_url("x/y"), "/user/x%2Fy");
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(
            sentence("must not be empty"),
            "This field must not be empty."
        );
        assert_eq!(sentence("is incorrect"), "This field is incorrect.");
        assert_eq!(sentence("only PNG images"), "Only PNG images.");
    }

    #[test]
    fn plain_error_pages_render_for_every_status() {
        for status in [400, 403, 404, 405, 413, 429, 500, 503] {
            let page = plain_error_page(status);
            assert!(page.starts_with("<!doctype html>"), "{status}");
            assert!(page.contains("<h1>"), "{status}");
        }
    }

    #[test]
    fn waits_are_said_in_seconds_or_minutes() {
        assert_eq!(wait_text(42), "Too many attempts. Try again in 42 seconds.");
        assert_eq!(
            wait_text(3600),
            "Too many attempts. Try again in 60 minutes."
        );
    }
}
