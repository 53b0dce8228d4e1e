//! Reading: home, post, author and About pages, navigation, escaping,
//! error pages, headers and caching.

use integration_tests::TestApp;
use reqwest::StatusCode;

use super::Web;

#[tokio::test]
async fn home_shows_five_posts_a_page_with_older_and_newer_links() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    for i in 1..=12 {
        app.create_post(&author.token, &format!("Post number {i:02}"), "Body")
            .await;
    }
    let web = Web::new(&app);
    let first = web.get("/").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("content-type"), "text/html; charset=utf-8");
    for i in 8..=12 {
        first.assert_contains(&format!("Post number {i:02}"));
    }
    assert!(!first.html.contains("Post number 07"));
    assert!(!first.html.contains("Newer posts"));
    // Author name links to the author page, with the avatar next to it.
    first.assert_contains(&format!("href=\"/user/{}\"", author.username));
    first.assert_contains("src=\"/media/avatars/default.png\"");

    let older = between(&first.html, "rel=\"next\" href=\"", "\"");
    let second = web.get(&older.replace("&amp;", "&")).await;
    for i in 3..=7 {
        second.assert_contains(&format!("Post number {i:02}"));
    }
    let newer = between(&second.html, "rel=\"prev\" href=\"", "\"");
    let back = web.get(&newer).await;
    for i in 8..=12 {
        back.assert_contains(&format!("Post number {i:02}"));
    }
    let third = web
        .get(&between(&second.html, "rel=\"next\" href=\"", "\""))
        .await;
    third.assert_contains("Post number 01");
    assert!(!third.html.contains("Older posts"), "the last page");

    // The original's page numbers still lead somewhere sensible.
    let legacy = web.get("/?page=2").await;
    assert_eq!(legacy.status, StatusCode::FOUND);
    let moved = web.get(legacy.location()).await;
    moved.assert_contains("Post number 07");
    assert!(!moved.html.contains("Post number 08"));
    for page in ["/?page=1", "/?page=999", "/?page=abc"] {
        assert_eq!(web.get(page).await.location(), "/", "{page}");
    }
    // A forged cursor is a helpful 400 page, not a 500.
    let forged = web.get("/?after=not-a-cursor").await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    forged.assert_contains("not valid");
}

/// The text of escaped HTML (the entities our escaping produces).
fn unescape(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#39;", "'")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

pub fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in:\n{text}"))
        + start.len();
    text[from..].split(end).next().unwrap().to_owned()
}

#[tokio::test]
async fn post_and_author_pages_escape_hostile_text() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let hostile = "<script>alert('x')</script> & <img src=x onerror=alert(1)>";
    let post = app.create_post(&author.token, hostile, hostile).await;
    let id = post["id"].as_i64().unwrap();
    let web = Web::new(&app);

    // The original's `/post/<id>/` moves permanently to the canonical URL.
    let old = web.get(&format!("/post/{id}/")).await;
    assert_eq!(old.status, StatusCode::MOVED_PERMANENTLY);
    let canonical = format!("/post/{id}-script-alert-x-script-img-src-x-onerror-alert-1/");
    assert_eq!(old.location(), canonical);
    let page = web.get(&canonical).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.html.contains("<script>alert"), "{}", page.html);
    assert!(!page.html.contains("<img src=x"), "{}", page.html);
    // Shown as the text it is: escaped in the markup, equal once unescaped.
    assert!(
        unescape(&page.html).contains(&format!("<h1>{hostile}</h1>")),
        "{}",
        page.html
    );
    page.assert_contains(&format!(
        "<link rel=\"canonical\" href=\"http://blog.test{canonical}\">"
    ));
    // Search engines and link previews: OpenGraph and a JSON-LD
    // BlogPosting, which no title can break out of.
    assert!(
        unescape(&page.html).contains(&format!(
            "<meta property=\"og:title\" content=\"{hostile}\">"
        )),
        "{}",
        page.html
    );
    let ld = between(
        &page.html,
        "<script type=\"application/ld+json\">",
        "</script>",
    );
    let ld: serde_json::Value = serde_json::from_str(&ld).expect("JSON-LD parses");
    assert_eq!(ld["@type"], "BlogPosting");
    assert_eq!(ld["headline"], hostile);
    assert_eq!(ld["url"], format!("http://blog.test{canonical}"));
    assert_eq!(
        page.html.matches("<script").count(),
        1,
        "only the data block"
    );
    // A reader sees no edit buttons.
    assert!(!page.html.contains("/update/"));

    let home = web.get("/").await;
    assert!(!home.html.contains("<script>alert"));

    let author_page = web.get(&format!("/user/{}", author.username)).await;
    assert_eq!(author_page.status, StatusCode::OK);
    author_page.assert_contains(&format!("Posts by {}", author.username));
    assert!(!author_page.html.contains("<script>"));
    assert!(unescape(&author_page.html).contains(hostile));
    // Case-insensitive, and with a trailing slash.
    let upper = web
        .get(&format!("/user/{}/", author.username.to_uppercase()))
        .await;
    assert_eq!(upper.status, StatusCode::OK);

    for missing in ["/post/999999/", "/post/abc/", "/user/nobody_here_at_all"] {
        let page = web.get(missing).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
        page.assert_contains("<h1>Page not found</h1>");
    }
    let about = web.get("/about/").await;
    assert_eq!(about.status, StatusCode::OK);
    about.assert_contains("<h1>About</h1>");
}

#[tokio::test]
async fn errors_are_pages_for_browsers_and_problems_for_the_api() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    // A browser asking for an unknown page gets an HTML 404.
    let page = web.get("/no/such/page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.header("content-type").starts_with("text/html"));
    page.assert_contains("Page not found");
    // A method the page does not take: an HTML 405 with `Allow`.
    let logout = web.get("/logout/").await;
    assert_eq!(logout.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(logout.header("allow"), "POST");
    assert!(logout.header("content-type").starts_with("text/html"));
    // A program (no HTML in `Accept`) keeps getting problem documents...
    let plain = app.get("/no/such/page").await;
    assert_eq!(plain.status(), 404);
    assert_eq!(plain.headers()["content-type"], "application/problem+json");
    // ...and the API never swaps to HTML, whatever `Accept` says.
    for path in ["/api/nope", "/api/posts/999999"] {
        let resp = web.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    let list = web.client.get(app.url("/api/posts")).send().await.unwrap();
    assert!(
        list.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // And the site never answers JSON, whatever `Accept` says.
    let json_please = app
        .client
        .get(app.url("/"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert!(
        json_please.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn pages_carry_security_headers_and_cache_validators() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    let home = web.get("/").await;
    let csp = home.header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "report-uri /csp-report",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    // Reports are counted (and logged), whatever they hold.
    let before = app.metrics.csp_violations_total.get();
    for body in [
        r#"{"csp-report":{"document-uri":"http://blog.test/","violated-directive":"script-src-elem","blocked-uri":"inline"}}"#,
        "not json",
    ] {
        let resp = app
            .client
            .post(app.url("/csp-report"))
            .header("content-type", "application/csp-report")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.metrics.csp_violations_total.get(), before + 2);
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(home.header("x-content-type-options"), "nosniff");
    assert_eq!(home.header("referrer-policy"), "same-origin");
    assert!(
        home.header("strict-transport-security").is_empty(),
        "no HSTS on http"
    );
    assert!(home.header("cache-control").starts_with("public"));
    // Reading pages set no cookie (they stay cacheable); pages with a form
    // give an anonymous visitor a CSRF cookie, and are private then.
    assert!(
        home.header("set-cookie").is_empty(),
        "{}",
        home.header("set-cookie")
    );
    let login = web.get("/login/").await;
    assert!(login.header("set-cookie").starts_with("csrf="));
    assert!(login.header("cache-control").starts_with("private"));

    // ETag and a 304 for a page that did not change.
    let etag = home.header("etag").to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let again = web
        .client
        .get(app.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // The stylesheet: fingerprinted, cached for a year, no other origin.
    let css = super::pages::between(&home.html, "<link rel=\"stylesheet\" href=\"", "\"");
    assert!(
        css.starts_with("/static/site.") && css.ends_with(".css"),
        "{css}"
    );
    let sheet = web.client.get(app.url(&css)).send().await.unwrap();
    assert_eq!(sheet.status(), 200);
    assert_eq!(
        sheet.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        sheet
            .text()
            .await
            .unwrap()
            .contains("prefers-color-scheme: dark")
    );
    assert_eq!(
        web.get("/static/site.css").await.status,
        StatusCode::NOT_FOUND
    );
    for external in ["http://", "https://", "//"] {
        assert!(
            !home.html.contains(&format!("src=\"{external}"))
                && !home.html.contains(&format!("href=\"{external}cdn")),
            "loads from another origin"
        );
    }

    // A logged-in visitor's pages are private.
    web.new_user().await;
    let mine = web.get("/").await;
    assert!(
        mine.header("cache-control").starts_with("private"),
        "{}",
        mine.header("cache-control")
    );
    assert_eq!(mine.header("vary"), "Cookie");
}

#[tokio::test]
async fn on_https_cookies_are_host_only_and_secure_and_hsts_is_sent() {
    let app = TestApp::spawn_with(|s| s.http.public_url = "https://blog.test".into()).await;
    let resp = app
        .client
        .get(app.url("/login/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-csrf="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
}
