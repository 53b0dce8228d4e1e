//! The website, page by page, in-process against the real dependencies:
//! what each page shows, escaping, forms (CSRF, validation, flash), who may
//! do what, redirects, error pages, headers and caching. The same story in a
//! real browser is in `tests/browser.rs`.

mod accounts;
mod comments;
mod feeds;
mod pages;
mod publishing;
mod search;
mod tags;
mod writing;

use integration_tests::{PASSWORD, TestApp, random_suffix};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

/// A browser without JavaScript: keeps cookies, follows no redirects, and
/// claims its own client address (per-IP limits are per `Web`).
pub struct Web<'a> {
    pub app: &'a TestApp,
    pub client: reqwest::Client,
}

/// An answer: status, headers and text.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub html: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The `Location` of a redirect, as a path.
    pub fn location(&self) -> &str {
        assert!(
            self.status.is_redirection(),
            "expected a redirect, got {}:\n{}",
            self.status,
            self.html
        );
        self.header("location")
    }

    /// The CSRF token of the (first) form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .html
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field on the page:\n{}", self.html))
            + marker.len();
        self.html[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn assert_contains(&self, text: &str) -> &Self {
        assert!(
            self.html.contains(text),
            "page ({}) lacks {text:?}:\n{}",
            self.status,
            self.html
        );
        self
    }
}

impl<'a> Web<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let ip = format!(
            "10.{}.{}.{}",
            rand::random::<u8>(),
            rand::random::<u8>(),
            rand::random::<u8>().max(1)
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(&ip).unwrap());
        headers.insert("accept", HeaderValue::from_static("text/html"));
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .unwrap();
        Self { app, client }
    }

    pub async fn get(&self, path: &str) -> Page {
        page(self.client.get(self.app.url(path)).send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        page(
            self.client
                .post(self.app.url(path))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens `form_page`, then posts `fields` and its CSRF token to `action`.
    pub async fn submit(&self, form_page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let form = self.get(form_page).await;
        assert_eq!(form.status, StatusCode::OK, "{form_page}: {}", form.html);
        let csrf = form.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Registers `username` (password [`PASSWORD`]) through the site.
    pub async fn register(&self, username: &str) -> Page {
        let email = format!("{username}@example.test");
        self.submit(
            "/register/",
            "/register/",
            &[
                ("username", username),
                ("email", &email),
                ("password1", PASSWORD),
                ("password2", PASSWORD),
            ],
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Page {
        self.submit(
            "/login/",
            "/login/",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// A new account, logged in; its name.
    pub async fn new_user(&self) -> String {
        let username = format!("reader_{}", random_suffix(8));
        assert_eq!(self.register(&username).await.location(), "/login/");
        assert_eq!(self.login(&username, PASSWORD).await.location(), "/");
        username
    }

    /// Writes a post through the form; its path (`/post/<id>/`).
    pub async fn write(&self, title: &str, content: &str) -> String {
        let done = self
            .submit(
                "/post/new/",
                "/post/new/",
                &[("title", title), ("content", content)],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
        done.location().to_owned()
    }
}

/// The id in a post's path: `/post/<id>-<slug>/` (or `…/#comment-3`) → `<id>`.
pub fn id_of(path: &str) -> String {
    path.trim_start_matches("/post/")
        .split(['-', '/'])
        .next()
        .unwrap()
        .to_owned()
}

pub async fn page(resp: reqwest::Response) -> Page {
    Page {
        status: resp.status(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}
