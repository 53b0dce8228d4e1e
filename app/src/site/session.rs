//! Browser sessions, CSRF tokens and flash messages.
//!
//! A browser session is the same opaque, hashed, revocable token the API
//! hands out, carried in a cookie instead of a header: HttpOnly (scripts
//! never see it), SameSite=Lax (not sent on cross-site POSTs), and on https
//! `Secure` with the `__Host-` prefix (no subdomain can set or shadow it).
//! Log-out, "log out everywhere" and password changes delete the session
//! row, so the cookie stops working at once.
//!
//! CSRF: every state-changing form carries a token derived from the
//! session token (or, before log-in, from a random `csrf` cookie): a page of
//! another site can neither read the cookie nor compute the token. A POST
//! whose token does not match changes nothing and gets a 403 page.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::http::HeaderValue;
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::accounts::AuthenticatedUser;
use crate::startup::AppState;

/// Cookie names; on https the `__Host-` prefix pins them to this host.
pub struct CookieNames {
    pub session: &'static str,
    pub csrf: &'static str,
    pub flash: &'static str,
    secure: bool,
}

impl CookieNames {
    pub fn for_public_url(public_url: &str) -> Self {
        if public_url.starts_with("https://") {
            Self {
                session: "__Host-session",
                csrf: "__Host-csrf",
                flash: "__Host-flash",
                secure: true,
            }
        } else {
            Self {
                session: "session",
                csrf: "csrf",
                flash: "flash",
                secure: false,
            }
        }
    }

    /// A cookie with this site's attributes.
    pub fn cookie(&self, name: &str, value: String, max_age_seconds: i64) -> Cookie {
        let mut cookie = Cookie::new_with_str(name, value);
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_secure(self.secure);
        cookie.set_max_age(std::time::Duration::from_secs(
            u64::try_from(max_age_seconds).unwrap_or(0),
        ));
        cookie
    }

    /// Deletes cookie `name` in the browser: an expired cookie with the same
    /// attributes (a `__Host-` cookie is only replaced by one that has them).
    pub fn remove(&self, jar: &CookieJar, name: &str) {
        jar.add(self.cookie(name, String::new(), 0));
    }
}

/// Who is looking at a page.
pub struct Visitor {
    /// `None` for anonymous visitors.
    pub user: Option<AuthenticatedUser>,
    /// What the CSRF token of this visitor's forms is derived from: the
    /// session token, or the `csrf` cookie of an anonymous visitor (who only
    /// gets one when a page with a form is shown: reading pages set no
    /// cookie, so they stay cacheable).
    csrf_seed: Option<String>,
    /// The session cookie named a session that no longer exists: clear it.
    pub stale_session: bool,
}

impl Visitor {
    /// Nobody in particular: for answers that are the same whoever asks
    /// (feeds, the sitemap), which read no session.
    pub fn anonymous() -> Self {
        Self {
            user: None,
            csrf_seed: None,
            stale_session: false,
        }
    }

    /// The token a form must carry (empty before a form page gave this
    /// visitor a seed).
    pub fn csrf_token(&self) -> String {
        self.csrf_seed
            .as_deref()
            .map(csrf_token)
            .unwrap_or_default()
    }

    /// Whether `submitted` is this visitor's token (constant time).
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        let expected = self.csrf_token();
        !expected.is_empty()
            && !submitted.is_empty()
            && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }

    /// Makes sure an anonymous visitor has a CSRF seed, for a page with a
    /// form (sets the `csrf` cookie when it is new).
    pub fn with_csrf(mut self, state: &AppState, jar: &CookieJar) -> Self {
        if self.csrf_seed.is_none() {
            let names = &state.site.cookies;
            let seed = crate::tokens::generate();
            // A day: long enough for a slow form, short enough to rotate.
            jar.add(names.cookie(names.csrf, seed.clone(), 24 * 3600));
            self.csrf_seed = Some(seed);
        }
        self
    }

    pub fn is_logged_in(&self) -> bool {
        self.user.is_some()
    }
}

/// The CSRF token for a seed: not the seed itself, so a token seen in a
/// page's HTML never reveals the session token.
fn csrf_token(seed: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"blog csrf v1\0")
        .chain_update(seed.as_bytes())
        .finalize();
    URL_SAFE_NO_PAD.encode(&digest[..24])
}

/// Resolves the visitor from the request's cookies.
pub async fn visitor(state: &AppState, jar: &CookieJar) -> Visitor {
    let names = &state.site.cookies;
    let mut stale_session = false;
    if let Some(token) = jar.get(names.session).map(|c| c.value_str().to_owned()) {
        match state.accounts.authenticate(&token).await {
            Ok(user) => {
                return Visitor {
                    user: Some(user),
                    csrf_seed: Some(token),
                    stale_session: false,
                };
            }
            Err(crate::accounts::AuthError::Unauthenticated) => {
                stale_session = true;
                names.remove(jar, names.session);
            }
            // The database is down: show the page as to an anonymous visitor
            // (reads may still work from the cache); forms will fail later.
            Err(crate::accounts::AuthError::Failed(e)) => {
                tracing::warn!(error = %e, "session check failed");
            }
        }
    }
    let seed = jar
        .get(names.csrf)
        .map(|c| c.value_str().to_owned())
        .filter(|v| v.len() >= 32);
    Visitor {
        user: None,
        csrf_seed: seed,
        stale_session,
    }
}

/// Starts a browser session with a token from `Accounts::login`.
pub fn start_session(state: &AppState, jar: &CookieJar, token: String) {
    let names = &state.site.cookies;
    let ttl = state.settings.auth.session_ttl_hours.get().as_secs();
    jar.add(names.cookie(names.session, token, i64::try_from(ttl).unwrap_or(i64::MAX)));
    // The pre-log-in CSRF seed is not needed any more.
    names.remove(jar, names.csrf);
}

pub fn end_session(state: &AppState, jar: &CookieJar) {
    let names = &state.site.cookies;
    names.remove(jar, names.session);
}

/// The messages shown once after a redirect. Only these fixed texts travel
/// (as their code), so a crafted cookie cannot put words on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flash {
    PostCreated,
    DraftSaved,
    PostScheduled,
    PostUpdated,
    PostDeleted,
    Registered,
    LoggedIn,
    LoggedOut,
    LoggedOutEverywhere,
    ProfileUpdated,
    PasswordChanged,
    CommentPosted,
    CommentUpdated,
    CommentDeleted,
    PostUnpublished,
    AccountDeactivated,
}

impl Flash {
    const ALL: [Flash; 16] = [
        Flash::PostCreated,
        Flash::DraftSaved,
        Flash::PostScheduled,
        Flash::PostUpdated,
        Flash::PostDeleted,
        Flash::Registered,
        Flash::LoggedIn,
        Flash::LoggedOut,
        Flash::LoggedOutEverywhere,
        Flash::ProfileUpdated,
        Flash::PasswordChanged,
        Flash::CommentPosted,
        Flash::CommentUpdated,
        Flash::CommentDeleted,
        Flash::PostUnpublished,
        Flash::AccountDeactivated,
    ];

    fn code(self) -> &'static str {
        match self {
            Flash::PostCreated => "post_created",
            Flash::DraftSaved => "draft_saved",
            Flash::PostScheduled => "post_scheduled",
            Flash::PostUpdated => "post_updated",
            Flash::PostDeleted => "post_deleted",
            Flash::Registered => "registered",
            Flash::LoggedIn => "logged_in",
            Flash::LoggedOut => "logged_out",
            Flash::LoggedOutEverywhere => "logged_out_everywhere",
            Flash::ProfileUpdated => "profile_updated",
            Flash::PasswordChanged => "password_changed",
            Flash::CommentPosted => "comment_posted",
            Flash::CommentUpdated => "comment_updated",
            Flash::CommentDeleted => "comment_deleted",
            Flash::PostUnpublished => "post_unpublished",
            Flash::AccountDeactivated => "account_deactivated",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Flash::PostCreated => "Your post has been created.",
            Flash::DraftSaved => "Your draft has been saved. Only you can see it.",
            Flash::PostScheduled => {
                "Your post is scheduled. Only you can see it until its publication time."
            }
            Flash::PostUpdated => "Your post has been updated.",
            Flash::PostDeleted => "Your post has been deleted.",
            Flash::Registered => "Your account has been created! You are now able to log in.",
            Flash::LoggedIn => "You are logged in.",
            Flash::LoggedOut => "You have been logged out.",
            Flash::LoggedOutEverywhere => "You have been logged out on every device.",
            Flash::ProfileUpdated => "Your account has been updated.",
            Flash::PasswordChanged => {
                "Your password has been set, and every session was logged out. You may log in now."
            }
            Flash::CommentPosted => "Your comment has been posted.",
            Flash::CommentUpdated => "Your comment has been updated.",
            Flash::CommentDeleted => "The comment has been deleted.",
            Flash::PostUnpublished => {
                "The post has been unpublished: only its author sees it now. The action is logged."
            }
            Flash::AccountDeactivated => {
                "The account has been deactivated and logged out everywhere. The action is logged."
            }
        }
    }
}

/// Leaves a message for the next page.
pub fn set_flash(state: &AppState, jar: &CookieJar, flash: Flash) {
    let names = &state.site.cookies;
    jar.add(names.cookie(names.flash, flash.code().to_owned(), 60));
}

/// Takes the pending message, if any (it is shown once).
pub fn take_flash(state: &AppState, jar: &CookieJar) -> Option<Flash> {
    let names = &state.site.cookies;
    let code = jar.get(names.flash)?.value_str().to_owned();
    names.remove(jar, names.flash);
    Flash::ALL.into_iter().find(|f| f.code() == code)
}

/// A path safe to redirect to after log-in: local, absolute, and not
/// protocol-relative (`//evil.example`) or backslash-tricked.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2000;
    ok.then_some(next)
}

/// `Location` for a redirect to `path` (already a local path).
pub fn location(path: &str) -> HeaderValue {
    HeaderValue::from_str(path).unwrap_or_else(|_| HeaderValue::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        for ok in ["/", "/post/1/", "/profile/?x=1"] {
            assert_eq!(local_path(ok), Some(ok));
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/\n/x",
            "",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_seed_and_hide_it() {
        let a = csrf_token("session-a");
        assert_eq!(a, csrf_token("session-a"));
        assert_ne!(a, csrf_token("session-b"));
        assert!(!a.contains("session-a"));
        let visitor = Visitor {
            user: None,
            csrf_seed: Some("seed".into()),
            stale_session: false,
        };
        assert!(visitor.csrf_ok(&csrf_token("seed")));
        assert!(!visitor.csrf_ok(""));
        assert!(!visitor.csrf_ok(&csrf_token("other")));
        let seedless = Visitor {
            user: None,
            csrf_seed: None,
            stale_session: false,
        };
        assert_eq!(seedless.csrf_token(), "");
        assert!(!seedless.csrf_ok(""), "no seed, no valid token");
    }

    #[test]
    fn flash_codes_round_trip_and_unknown_codes_show_nothing() {
        for f in Flash::ALL {
            assert_eq!(
                Flash::ALL.into_iter().find(|g| g.code() == f.code()),
                Some(f)
            );
        }
    }

    #[test]
    fn cookies_are_host_only_secure_on_https() {
        let names = CookieNames::for_public_url("https://blog.example");
        assert_eq!(names.session, "__Host-session");
        let c = names.cookie(names.session, "t".into(), 60);
        let text = c.to_string();
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=60"] {
            assert!(text.contains(attr), "{text}");
        }
        let plain = CookieNames::for_public_url("http://localhost:8080");
        assert!(
            !plain
                .cookie("session", "t".into(), 60)
                .to_string()
                .contains("Secure")
        );
    }
}
