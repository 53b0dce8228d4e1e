//! The pages for readers: the home page, a post, an author's page, About.

use askama::Template;
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::comments::CommentsView;
use super::{
    Layout, PageError, Pager, PostView, author_url, avatar_src, render, session, tag_path,
};
use crate::accounts::ProfileError;
use crate::comments::ListCommentsError;
use crate::pagination::{PageRequest, Position};
use crate::posts::{
    AuthorPostsError, GetPostError, PostPage, SearchError, SearchQuery, TagPostsError, TagSlug,
};
use crate::startup::AppState;

/// Posts per page, as in the original.
pub const PER_PAGE: u32 = 5;
/// Old `?page=N` links deeper than this go to the first page instead of
/// paying for an OFFSET scan.
const MAX_LEGACY_PAGE: u32 = 10_000;

/// Comments shown per page under a post.
const COMMENTS_PER_PAGE: u32 = 50;

#[derive(Debug, Deserialize)]
pub struct PostQuery {
    /// Where the next page of comments starts.
    comments: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
    before: Option<String>,
    /// The Django original's page number.
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    posts: Vec<PostView>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "author.html")]
struct AuthorPage {
    layout: Layout,
    author: String,
    author_avatar: String,
    bio: String,
    posts: Vec<PostView>,
    pager: Pager,
    /// A staff visitor on another active account's page: where the
    /// "deactivate" button posts.
    deactivate_url: Option<String>,
}

/// A search result on the page.
struct SearchHitView {
    post: PostView,
    /// Escaped text with `<mark>`s ([`crate::posts::snippet_html`]).
    snippet: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPageView {
    layout: Layout,
    /// The query as typed (escaped by the template).
    query: String,
    /// Whether there was a query to search for.
    searched: bool,
    error: Option<String>,
    hits: Vec<SearchHitView>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    layout: Layout,
    tag: String,
    /// The tag's feeds.
    atom: String,
    rss: String,
    posts: Vec<PostView>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "post.html")]
struct PostPageView {
    layout: Layout,
    post: PostView,
    comments: CommentsView,
    /// For anonymous visitors: the log-in link that comes back here.
    login_to_comment: Option<String>,
    /// A staff visitor on another's public post: offer to unpublish it.
    staff_unpublish: bool,
    /// schema.org `BlogPosting` for search engines, as JSON safe inside
    /// `<script>`: `<`, `>` and `&` are JSON escapes, so no text can close
    /// the element. A data block: the CSP's "no script" does not apply to
    /// what is never run.
    json_ld: String,
}

/// The `BlogPosting` of `post` (see [`PostPageView::json_ld`]).
fn json_ld(state: &AppState, post: &crate::posts::Post) -> String {
    let base = &state.site.public_url;
    let value = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post.title,
        "description": post.excerpt,
        "url": format!("{base}{}", super::post_path(post)),
        "datePublished": post.shown_at().to_rfc3339(),
        "dateModified": post.updated_at.to_rfc3339(),
        "author": {
            "@type": "Person",
            "name": post.author.username,
            "url": format!("{base}{}", author_url(&post.author.username)),
        },
    });
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[derive(Template)]
#[template(path = "about.html")]
struct AboutPage {
    layout: Layout,
}

fn pager(base: &str, page: &PostPage) -> Pager {
    Pager {
        newer: page.newer.map(|c| format!("{base}?before={}", c.encode())),
        older: page.older.map(|c| format!("{base}?after={}", c.encode())),
    }
}

fn page_request(q: &ListQuery) -> Result<PageRequest, PageError> {
    PageRequest::parse_either(q.after.as_deref(), q.before.as_deref(), Some(PER_PAGE))
        .map_err(|_| PageError::BadLink("This link to a page of posts is not valid."))
}

/// A 302 (the target moves as posts are written).
fn found(path: &str) -> Response {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(poem::http::header::LOCATION, session::location(path))
        .finish()
}

#[handler]
pub async fn home(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Query(q): Query<ListQuery>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if let Some(page) = &q.page {
        // `/?page=N` from the original: where that page starts now.
        let number = page.trim().parse::<u32>().unwrap_or(1);
        if number <= 1 || number > MAX_LEGACY_PAGE {
            return found("/");
        }
        return match state.posts.cursor_at_page(number, PER_PAGE).await {
            Ok(Some(cursor)) => found(&format!("/?after={}", cursor.encode())),
            Ok(None) => found("/"),
            Err(e) => PageError::from(e).page(&state, &visitor, jar, req),
        };
    }
    let request = match page_request(&q) {
        Ok(r) => r,
        Err(e) => return e.page(&state, &visitor, jar, req),
    };
    let page = match state.posts.list(request).await {
        Ok(page) => page,
        Err(e) => return PageError::from(e).page(&state, &visitor, jar, req),
    };
    // Newer than the newest: the first page is the right one.
    if page.items.is_empty() && matches!(request.position, Position::Before(_)) {
        return found("/");
    }
    let now = state.posts.now();
    let view = HomePage {
        layout: Layout::new(&state, &visitor, jar, "Home").canonical(&state, "/"),
        pager: pager("/", &page),
        posts: page
            .items
            .into_iter()
            .map(|p| PostView::new(p, &visitor, now))
            .collect(),
    };
    render(&view, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn about(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let view = AboutPage {
        layout: Layout::new(&state, &visitor, jar, "About").canonical(&state, "/about/"),
    };
    render(&view, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn post_detail(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(segment): Path<String>,
    Query(q): Query<PostQuery>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    // `<id>-<slug>`, or the original's `<id>`: the id finds the post, the
    // slug only makes the URL readable.
    let Some((id, slug)) = super::parse_post_segment(&segment) else {
        return PageError::NotFound("There is no such post.").page(&state, &visitor, jar, req);
    };
    match state.posts.find(id, visitor.user.as_ref()).await {
        Ok(post) if slug != post.slug() => {
            // Old links and links from before a title change: one permanent
            // redirect to the canonical URL, no view counted.
            super::moved_permanently(&super::post_path(&post))
        }
        Ok(mut post) => {
            // Comments page by page (`?comments=<cursor>`), oldest first.
            let comments_req =
                match PageRequest::parse(q.comments.as_deref(), Some(COMMENTS_PER_PAGE)) {
                    Ok(r) => r,
                    Err(_) => {
                        return PageError::BadLink("This link to more comments is not valid.")
                            .page(&state, &visitor, jar, req);
                    }
                };
            let comments = match state
                .comments
                .list(id, visitor.user.as_ref(), comments_req)
                .await
            {
                Ok(page) => page,
                Err(ListCommentsError::NotFound) => {
                    return PageError::NotFound("There is no such post. It may have been deleted.")
                        .page(&state, &visitor, jar, req);
                }
                Err(ListCommentsError::Failed(e)) => {
                    return PageError::from(e).page(&state, &visitor, jar, req);
                }
            };
            post.views = state.posts.count_view(id).await;
            let json_ld = json_ld(&state, &post);
            let now = state.posts.now();
            let public = post.is_public_at(now);
            let post = PostView::new(post, &visitor, now);
            let comments =
                CommentsView::new(comments, &visitor, post.id, &post.url, post.author_id);
            let view = PostPageView {
                layout: Layout::new(&state, &visitor, jar, &post.title)
                    .canonical(&state, &post.url),
                staff_unpublish: public
                    && !post.mine
                    && visitor.user.as_ref().is_some_and(|u| u.is_staff()),
                login_to_comment: visitor.user.is_none().then(|| {
                    format!(
                        "/login/?next={}",
                        super::url_component(&format!("{}#comments", post.url))
                    )
                }),
                comments,
                post,
                json_ld,
            };
            render(&view, StatusCode::OK, &visitor).into_response(req)
        }
        // An old link of the Django original whose post was imported under
        // another id (its own was taken here): send it on for good.
        Err(GetPostError::NotFound) => match state.posts.moved_from_django(id).await {
            // Straight to the canonical URL: one hop, not two.
            Ok(Some(moved)) => match state.posts.find(moved, visitor.user.as_ref()).await {
                Ok(post) => super::moved_permanently(&super::post_path(&post)),
                Err(_) => super::moved_permanently(&format!("/post/{moved}/")),
            },
            Ok(None) => PageError::NotFound("There is no such post. It may have been deleted.")
                .page(&state, &visitor, jar, req),
            Err(e) => PageError::from(e).page(&state, &visitor, jar, req),
        },
        Err(GetPostError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

#[handler]
pub async fn author(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(username): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let no_such_user = || PageError::NotFound("There is no user with this name.");
    if q.page.is_some() {
        return found(&author_url(&username));
    }
    let request = match page_request(&q) {
        Ok(r) => r,
        Err(e) => return e.page(&state, &visitor, jar, req),
    };
    let profile = match state.accounts.public_profile(&username).await {
        Ok(p) => p,
        Err(ProfileError::NotFound) => return no_such_user().page(&state, &visitor, jar, req),
        Err(ProfileError::Failed(e)) => return PageError::from(e).page(&state, &visitor, jar, req),
    };
    let page = match state
        .posts
        .list_by_author(&profile.username, visitor.user.as_ref(), request)
        .await
    {
        Ok(page) => page,
        Err(AuthorPostsError::NoSuchAuthor) => {
            return no_such_user().page(&state, &visitor, jar, req);
        }
        Err(AuthorPostsError::Failed(e)) => {
            return PageError::from(e).page(&state, &visitor, jar, req);
        }
    };
    let base = author_url(&profile.username);
    if page.items.is_empty() && matches!(request.position, Position::Before(_)) {
        return found(&base);
    }
    let now = state.posts.now();
    let view = AuthorPage {
        layout: Layout::new(
            &state,
            &visitor,
            jar,
            &format!("Posts by {}", profile.username),
        )
        .canonical(&state, &base),
        pager: pager(&base, &page),
        author_avatar: avatar_src(profile.avatar_key.as_deref()),
        deactivate_url: visitor
            .user
            .as_ref()
            .is_some_and(|u| u.is_staff() && u.id() != profile.id && profile.is_active)
            .then(|| format!("{base}/deactivate/")),
        bio: profile.bio,
        author: profile.username,
        posts: page
            .items
            .into_iter()
            .map(|p| PostView::new(p, &visitor, now))
            .collect(),
    };
    render(&view, StatusCode::OK, &visitor).into_response(req)
}

/// `/tag/<slug>/`: the published posts with one tag, newest first. Any
/// spelling that normalises to the tag (`/tag/Web%20Dev/`) redirects to
/// its canonical URL; a tag without published posts is not found.
#[handler]
pub async fn tag_page(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(tag): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let no_such_tag = || PageError::NotFound("No published post has this tag.");
    let Some(slug) = TagSlug::lookup(&tag) else {
        return no_such_tag().page(&state, &visitor, jar, req);
    };
    let base = tag_path(slug.as_str());
    if slug.as_str() != tag || q.page.is_some() {
        return super::moved_permanently(&base);
    }
    let request = match page_request(&q) {
        Ok(r) => r,
        Err(e) => return e.page(&state, &visitor, jar, req),
    };
    let page = match state.posts.list_by_tag(slug.as_str(), request).await {
        Ok(page) => page,
        Err(TagPostsError::InvalidTag) => return no_such_tag().page(&state, &visitor, jar, req),
        Err(TagPostsError::Failed(e)) => {
            return PageError::from(e).page(&state, &visitor, jar, req);
        }
    };
    if page.items.is_empty() {
        return match request.position {
            // Past the newest or the oldest: the first page is the place.
            Position::Before(_) | Position::After(_) => found(&base),
            Position::First => no_such_tag().page(&state, &visitor, jar, req),
        };
    }
    let now = state.posts.now();
    let view = TagPage {
        layout: Layout::new(
            &state,
            &visitor,
            jar,
            &format!("Posts tagged {}", slug.as_str()),
        )
        .canonical(&state, &base),
        atom: format!("{base}atom.xml"),
        rss: format!("{base}rss.xml"),
        pager: pager(&base, &page),
        tag: slug.as_str().to_owned(),
        posts: page
            .items
            .into_iter()
            .map(|p| PostView::new(p, &visitor, now))
            .collect(),
    };
    render(&view, StatusCode::OK, &visitor).into_response(req)
}

/// `/search/?q=…&page=N`: the search box's results, ten per page. A bad
/// query (too long, control characters) comes back with its message, 400.
#[handler]
pub async fn search(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Query(params): Query<SearchParams>,
) -> Response {
    const PER_PAGE: u32 = 10;
    let visitor = session::visitor(&state, jar).await;
    let raw = params.q.unwrap_or_default();
    let page = params
        .page
        .as_deref()
        .and_then(|p| p.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, crate::posts::search::MAX_PAGES);
    let title = match raw.trim() {
        "" => "Search".to_owned(),
        q => format!("Search: {q}"),
    };
    let mut view = SearchPageView {
        layout: Layout::new(&state, &visitor, jar, &title),
        searched: false,
        error: None,
        hits: Vec::new(),
        next: None,
        query: raw.clone(),
    };
    if raw.trim().is_empty() {
        return render(&view, StatusCode::OK, &visitor).into_response(req);
    }
    let result = match SearchQuery::parse(&raw) {
        Ok(query) => state.posts.search(&query, page, PER_PAGE).await,
        Err(e) => Err(SearchError::InvalidQuery(e)),
    };
    let found = match result {
        Ok(found) => found,
        Err(SearchError::InvalidQuery(e)) => {
            view.error = Some(format!("The search {}.", e.message));
            return render(&view, StatusCode::BAD_REQUEST, &visitor).into_response(req);
        }
        Err(SearchError::Failed(e)) => return PageError::from(e).page(&state, &visitor, jar, req),
    };
    let now = state.posts.now();
    view.searched = true;
    view.next = found
        .next_page
        .map(|n| format!("/search/?q={}&page={n}", super::url_component(raw.trim())));
    view.hits = found
        .items
        .into_iter()
        .map(|hit| SearchHitView {
            post: PostView::new(hit.post, &visitor, now),
            snippet: hit.snippet_html,
        })
        .collect();
    render(&view, StatusCode::OK, &visitor).into_response(req)
}
