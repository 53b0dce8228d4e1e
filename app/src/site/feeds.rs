//! Feeds and crawler files: Atom 1.0 and RSS 2.0 of the newest posts (the
//! whole blog, and each author), `sitemap.xml` and `robots.txt`.
//!
//! The XML comes from askama templates (`app/templates/feed_*.xml`), which
//! escape every value as they do for pages; what escaping cannot fix,
//! characters XML 1.0 does not allow at all (C0 controls but tab and line
//! breaks, U+FFFE, U+FFFF), is dropped by [`xml_text`] first, so a feed is
//! well-formed whatever a title or a body holds. URLs are absolute, from the
//! public URL. Feeds do not look at the visitor (no session read, no cookie
//! set): the same bytes for everyone, `public` and revalidated by `ETag`.
//! So they hold the public posts only, even for their author: drafts and
//! scheduled posts appear when readers may see them.

use std::borrow::Cow;

use askama::Template;
use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use super::session::Visitor;
use super::{Html, PageError, post_path};
use crate::pagination::{PageRequest, Position};
use crate::posts::{AuthorPostsError, Post, PostPage, TagPostsError, TagSlug};
use crate::startup::AppState;

/// Entries in a feed: the newest posts.
pub const FEED_ENTRIES: u32 = 20;
/// Posts listed in `sitemap.xml` (the newest; one sitemap file holds at
/// most 50 000 URLs).
pub const SITEMAP_POSTS: u32 = 100;
/// Tag pages in the sitemap, at most (by name).
pub const SITEMAP_TAGS: u32 = 1000;

/// `text` without the characters XML 1.0 cannot carry, even escaped.
pub fn xml_text(text: &str) -> Cow<'_, str> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    }
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

/// One post in a feed, every text made XML-safe.
struct Entry {
    title: String,
    /// Permanent: `/post/<id>/` never changes, the slugged URL may.
    id: String,
    url: String,
    author: String,
    author_url: String,
    published: DateTime<Utc>,
    updated: DateTime<Utc>,
    summary: String,
    html: String,
}

impl Entry {
    fn new(base: &str, post: Post) -> Self {
        Self {
            id: format!("{base}/post/{}/", post.id),
            url: format!("{base}{}", post_path(&post)),
            author_url: format!("{base}{}", super::author_url(&post.author.username)),
            title: xml_text(&post.title).into_owned(),
            author: xml_text(&post.author.username).into_owned(),
            published: post.shown_at(),
            updated: post.updated_at,
            summary: xml_text(&post.excerpt).into_owned(),
            html: xml_text(&post.html).into_owned(),
        }
    }

    fn published_rfc3339(&self) -> String {
        self.published
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn updated_rfc3339(&self) -> String {
        self.updated
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn published_rfc2822(&self) -> String {
        self.published.to_rfc2822()
    }
}

/// What both feed formats show.
struct Feed {
    title: String,
    /// The feed's own URL.
    self_url: String,
    /// The page the feed follows.
    page_url: String,
    updated: DateTime<Utc>,
    entries: Vec<Entry>,
}

impl Feed {
    fn new(
        state: &AppState,
        title: String,
        self_path: &str,
        page_path: &str,
        page: PostPage,
    ) -> Self {
        let base = state.site.public_url.as_str();
        let entries: Vec<Entry> = page
            .items
            .into_iter()
            .map(|p| Entry::new(base, p))
            .collect();
        // The newest change; a fixed instant for an empty feed, so its ETag
        // does not change every second.
        let updated = entries
            .iter()
            .map(|e| e.updated)
            .max()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        Self {
            title: xml_text(&title).into_owned(),
            self_url: format!("{base}{self_path}"),
            page_url: format!("{base}{page_path}"),
            updated,
            entries,
        }
    }

    fn updated_rfc3339(&self) -> String {
        self.updated
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn updated_rfc2822(&self) -> String {
        self.updated.to_rfc2822()
    }
}

#[derive(Template)]
#[template(path = "feed_atom.xml")]
struct Atom {
    feed: Feed,
}

#[derive(Template)]
#[template(path = "feed_rss.xml")]
struct Rss {
    feed: Feed,
}

#[derive(Template)]
#[template(path = "sitemap.xml")]
struct Sitemap {
    base: String,
    posts: Vec<Entry>,
    authors: Vec<(String, DateTime<Utc>)>,
    /// Tag pages (absolute URLs).
    tags: Vec<String>,
}

#[derive(Clone, Copy)]
enum Format {
    Atom,
    Rss,
}

impl Format {
    fn of(file: &str) -> Option<Self> {
        match file {
            "atom.xml" => Some(Self::Atom),
            "rss.xml" => Some(Self::Rss),
            _ => None,
        }
    }

    fn render(self, feed: Feed) -> (Result<String, askama::Error>, &'static str) {
        match self {
            Self::Atom => (
                Atom { feed }.render(),
                "application/atom+xml; charset=utf-8",
            ),
            Self::Rss => (Rss { feed }.render(), "application/rss+xml; charset=utf-8"),
        }
    }
}

fn newest(limit: u32) -> PageRequest {
    PageRequest {
        position: Position::First,
        limit,
    }
}

/// A rendered XML or text document: public, with `ETag`/304 like the pages.
fn document(
    req: &Request,
    rendered: Result<String, askama::Error>,
    content_type: &'static str,
) -> Response {
    match rendered {
        Ok(body) => Html {
            status: StatusCode::OK,
            body,
            private: false,
        }
        .into_response_as(req, content_type),
        Err(e) => {
            tracing::error!(error = %e, "a feed failed to render");
            Html {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: super::plain_error_page(500),
                private: true,
            }
            .into_response(req)
        }
    }
}

/// An error as a page; feeds read no session, so the page is an anonymous
/// visitor's.
fn error_page(e: PageError, state: &AppState, jar: &CookieJar, req: &Request) -> Response {
    e.page(state, &Visitor::anonymous(), jar, req)
}

/// `/feeds/atom.xml`, `/feeds/rss.xml`: the newest posts of the blog.
#[handler]
pub async fn blog_feed(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(file): Path<String>,
) -> Response {
    let Some(format) = Format::of(&file) else {
        return error_page(
            PageError::NotFound("There is no such feed."),
            &state,
            jar,
            req,
        );
    };
    match state.posts.list(newest(FEED_ENTRIES)).await {
        Ok(page) => {
            let feed = Feed::new(&state, "Blog".into(), &format!("/feeds/{file}"), "/", page);
            let (rendered, content_type) = format.render(feed);
            document(req, rendered, content_type)
        }
        Err(e) => error_page(e.into(), &state, jar, req),
    }
}

/// `/user/<name>/atom.xml`, `/user/<name>/rss.xml`: one author's newest posts.
#[handler]
pub async fn author_feed(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path((username, file)): Path<(String, String)>,
) -> Response {
    let Some(format) = Format::of(&file) else {
        return error_page(
            PageError::NotFound("There is no such feed."),
            &state,
            jar,
            req,
        );
    };
    match state
        .posts
        // Nobody's feed holds drafts: feeds read no session.
        .list_by_author(&username, None, newest(FEED_ENTRIES))
        .await
    {
        Ok(page) => {
            // The author's name as written, not as typed in the URL.
            let name = page
                .items
                .first()
                .map_or_else(|| username.clone(), |p| p.author.username.clone());
            let author_path = super::author_url(&name);
            let feed = Feed::new(
                &state,
                format!("Posts by {name}"),
                &format!("{author_path}/{file}"),
                &author_path,
                page,
            );
            let (rendered, content_type) = format.render(feed);
            document(req, rendered, content_type)
        }
        Err(AuthorPostsError::NoSuchAuthor) => error_page(
            PageError::NotFound("There is no such author."),
            &state,
            jar,
            req,
        ),
        Err(AuthorPostsError::Failed(e)) => error_page(e.into(), &state, jar, req),
    }
}

/// `/tag/<slug>/atom.xml`, `/tag/<slug>/rss.xml`: one tag's newest posts.
#[handler]
pub async fn tag_feed(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path((tag, file)): Path<(String, String)>,
) -> Response {
    let no_such_feed = || {
        error_page(
            PageError::NotFound("There is no such feed."),
            &state,
            jar,
            req,
        )
    };
    let (Some(format), Some(slug)) = (Format::of(&file), TagSlug::lookup(&tag)) else {
        return no_such_feed();
    };
    match state
        .posts
        .list_by_tag(slug.as_str(), newest(FEED_ENTRIES))
        .await
    {
        // A tag without published posts has no feed (as it has no page).
        Ok(page) if page.items.is_empty() => no_such_feed(),
        Ok(page) => {
            let tag_path = super::tag_path(slug.as_str());
            let feed = Feed::new(
                &state,
                format!("Posts tagged {}", slug.as_str()),
                &format!("{tag_path}{file}"),
                &tag_path,
                page,
            );
            let (rendered, content_type) = format.render(feed);
            document(req, rendered, content_type)
        }
        Err(TagPostsError::InvalidTag) => no_such_feed(),
        Err(TagPostsError::Failed(e)) => error_page(e.into(), &state, jar, req),
    }
}

/// `/sitemap.xml`: the home page, the newest posts, their authors and the
/// tags with published posts.
#[handler]
pub async fn sitemap(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let tags = match state.posts.tags("", SITEMAP_TAGS).await {
        Ok(tags) => tags,
        Err(e) => return error_page(e.into(), &state, jar, req),
    };
    match state.posts.list(newest(SITEMAP_POSTS)).await {
        Ok(page) => {
            let base = state.site.public_url.clone();
            let posts: Vec<Entry> = page
                .items
                .into_iter()
                .map(|p| Entry::new(&base, p))
                .collect();
            let mut authors: Vec<(String, DateTime<Utc>)> = Vec::new();
            for post in &posts {
                match authors.iter_mut().find(|(url, _)| *url == post.author_url) {
                    Some((_, newest)) => *newest = (*newest).max(post.updated),
                    None => authors.push((post.author_url.clone(), post.updated)),
                }
            }
            let tags = tags
                .iter()
                .map(|t| format!("{base}{}", super::tag_path(&t.slug)))
                .collect();
            let rendered = Sitemap {
                base,
                posts,
                authors,
                tags,
            }
            .render();
            document(req, rendered, "application/xml; charset=utf-8")
        }
        Err(e) => error_page(e.into(), &state, jar, req),
    }
}

/// `/robots.txt`: everything readable may be crawled but the forms and the
/// API; where the sitemap is.
#[handler]
pub async fn robots(req: &Request, state: Data<&AppState>) -> Response {
    let body = format!(
        "User-agent: *\nDisallow: /api/\nDisallow: /login/\nDisallow: /register/\n\
         Disallow: /profile/\nDisallow: /password-reset/\nDisallow: /post/new/\nDisallow: /search/\n\
         Sitemap: {}/sitemap.xml\n",
        state.site.public_url
    );
    document(req, Ok(body), "text/plain; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_drops_what_xml_cannot_carry() {
        assert_eq!(xml_text("plain & <ok>"), "plain & <ok>");
        assert!(matches!(xml_text("tab\tline\nok"), Cow::Borrowed(_)));
        assert_eq!(
            xml_text("a\u{0}b\u{1}c\u{1B}d\u{FFFF}e\u{85}"),
            "abcde\u{85}"
        );
    }
}
