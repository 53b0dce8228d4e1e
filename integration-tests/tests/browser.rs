//! The website in a real browser: Debian's Chromium, driven over WebDriver
//! (`chromedriver`, started here on a free port and stopped with the test)
//! from Rust with `fantoccini`, against the real service in-process
//! ([`TestApp`]: real Postgres, Redis, S3 and the SMTP catcher).
//!
//! One story, the way a person uses the site: register, log in, write a
//! post, edit it, find it on the home and author pages, save a draft (marked
//! on the author page, not on the home page) and publish it, upload a profile
//! picture through the file input, comment on the post, log out, reset the
//! password through the mail, log in with the new one, delete the post. Every page on the way is
//! checked three ways, inside the browser:
//! - axe-core finds no serious or critical violation (the counts of every
//!   impact are printed per page, for the record);
//! - every form control and button has an accessible name;
//! - Tab alone reaches every link, button and field of the page, and the key
//!   actions (the navigation, logging in, posting, confirming a deletion) are
//!   done with the keyboard only.
//!
//! A second test sends the OWASP XSS vectors through every field and shows
//! that no page runs or loads anything from them (see its doc).
//!
//! Screenshots of the home page and a post at 375 and 1280 px wide (light
//! and dark colour scheme) go to `$CARGO_TARGET_DIR/screenshots`.
//!
//! Needs `chromedriver` and `chromium` (`$BLOG_CHROMEDRIVER` and
//! `$BLOG_CHROMIUM`, else from PATH) and axe-core's `axe.min.js`
//! (`$BLOG_AXE_JS`, else the tools cache): `scripts/install-tools.sh --browser`
//! installs all three, and `scripts/test.sh` exports the variables. A missing
//! one fails the test with how to install it; nothing is skipped, in CI or
//! outside it.
//!
//! Run alone:
//! `eval "$(scripts/install-tools.sh --env --browser)" && cargo test --release -p integration-tests --test browser`

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use integration_tests::{PASSWORD, TestApp, free_port, random_suffix};
use serde_json::{Value, json};

/// How long a page may take to show what a step waits for.
const PAGE_WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_in_a_real_browser_with_axe_on_every_page() {
    let tools = Tools::find();
    let app = TestApp::spawn().await;
    let driver = ChromeDriver::start(&tools, ColorScheme::Light).await;
    let mut b = Browser::open(&driver, &app, &tools).await;
    let files = tempfile::tempdir().expect("temp dir");

    // Someone else has written already, so the pages look lived in.
    let other = app.new_user().await;
    app.create_post(
        &other.token,
        "Welcome to the blog",
        "Anyone can read here; with an account you can write too.\n\nThis line is a second paragraph.",
    )
    .await;
    app.create_post(
        &other.token,
        "On keyboards",
        "Everything on this site works with the keyboard alone.",
    )
    .await;

    // Home, anonymous; the navigation by keyboard: Register is reachable
    // and Enter follows it.
    b.visit("/").await;
    b.wait_for_text("Latest posts").await;
    b.check_page("home (anonymous)").await;
    b.tab_to("a", "Register").await;
    b.press(Key::Enter).await;
    b.wait_for_path("/register/").await;
    b.wait_for_text("Join today").await;
    b.check_page("register").await;

    // Registration: a mismatch is said next to the field, the form keeps
    // what was typed.
    let name = format!("ada_{}", random_suffix(6));
    let email = format!("{name}@example.test");
    b.fill("#username", &name).await;
    b.fill("#email", &email).await;
    b.fill("#password1", PASSWORD).await;
    b.fill("#password2", "something else entirely").await;
    b.click_button("Sign up").await;
    b.wait_for_text("didn’t match").await;
    assert_eq!(b.value("#username").await, name);
    b.check_page("register (with errors)").await;
    b.fill("#password1", PASSWORD).await;
    b.fill("#password2", PASSWORD).await;
    b.click_button("Sign up").await;
    b.wait_for_path("/login/").await;
    b.wait_for_text("Your account has been created! You are now able to log in.")
        .await;
    b.check_page("log in").await;

    // Log in with the keyboard only.
    b.tab_to("input", "username").await;
    b.type_text(&name).await;
    b.press(Key::Tab).await;
    b.type_text(PASSWORD).await;
    b.tab_to("button", "Log in").await;
    b.press(Key::Enter).await;
    b.wait_for_path("/").await;
    b.wait_for_nav(&format!("Profile ({name})")).await;

    // About, through the navigation.
    b.click_link("About").await;
    b.wait_for_path("/about/").await;
    b.wait_for_text("This is a small blog").await;
    b.check_page("about").await;
    b.axe_finds_a_planted_violation().await;

    // A new post, written and sent with the keyboard only.
    b.click_link("New post").await;
    b.wait_for_path("/post/new/").await;
    b.check_page("new post").await;
    b.tab_to("input", "title").await;
    b.type_text("First light").await;
    b.press(Key::Tab).await;
    b.type_text("Written in a real browser, with the keyboard alone.")
        .await;
    b.tab_to("button", "Publish").await;
    b.press(Key::Enter).await;
    b.wait_for_text("Your post has been created.").await;
    // The canonical URL: `/post/<id>-<slug of the title>/`.
    let post_path = b.path().await;
    let id = post_path
        .strip_prefix("/post/")
        .and_then(|rest| rest.strip_suffix("-first-light/"))
        .unwrap_or_else(|| panic!("after posting: {post_path}"))
        .to_owned();
    b.wait_for_text("First light").await;
    b.check_page("post (the author's)").await;

    // Edit it.
    b.click_link("Update").await;
    b.wait_for_path(&format!("/post/{id}/update/")).await;
    assert_eq!(b.value("#title").await, "First light");
    b.check_page("update post").await;
    b.fill("#title", "First light, edited").await;
    b.fill(
        "#content",
        "Written in a real browser, then edited.\n\nA second paragraph keeps its line breaks.",
    )
    .await;
    b.click_button("Update").await;
    // A new title, a new slug (the old URL redirects to it).
    let post_path = format!("/post/{id}-first-light-edited/");
    b.wait_for_path(&post_path).await;
    b.wait_for_text("Your post has been updated.").await;
    b.wait_for_text("First light, edited").await;
    b.wait_for_text("A second paragraph keeps its line breaks.")
        .await;

    // On the home page, newest first, with its author; then the author page.
    b.visit("/").await;
    b.wait_for_text("First light, edited").await;
    let first = b.text("article.post h2").await;
    assert_eq!(first, "First light, edited", "the newest post comes first");
    b.wait_for_text("Welcome to the blog").await;
    b.check_page("home (logged in)").await;
    b.click_link(&name).await;
    b.wait_for_path(&format!("/user/{name}")).await;
    b.wait_for_text(&format!("Posts by {name}")).await;
    b.wait_for_text("First light, edited").await;
    assert!(
        !b.main_text().await.contains("Welcome to the blog"),
        "the author page shows only the author's posts"
    );
    b.check_page("author").await;

    // A draft: saved, shown to its author only and marked, then published.
    b.click_link("New post").await;
    b.wait_for_path("/post/new/").await;
    b.fill("#title", "Second thoughts").await;
    b.fill("#content", "Not ready yet.").await;
    b.click_button("Save draft").await;
    b.wait_for_text("Your draft has been saved. Only you can see it.")
        .await;
    b.wait_for_text("Only you can see this post until it is published.")
        .await;
    b.check_page("draft (the author's)").await;
    let draft_path = b.path().await;
    let draft_id = draft_path
        .strip_prefix("/post/")
        .and_then(|rest| rest.strip_suffix("-second-thoughts/"))
        .unwrap_or_else(|| panic!("after saving a draft: {draft_path}"))
        .to_owned();
    b.visit(&format!("/user/{name}")).await;
    b.wait_for_text("Second thoughts").await;
    b.wait_for_in("article.post .badge", "Draft").await;
    b.check_page("author (with a draft)").await;
    b.visit("/").await;
    b.wait_for_text("First light, edited").await;
    assert!(
        !b.main_text().await.contains("Second thoughts"),
        "a draft is not on the home page, even for its author"
    );
    b.visit(&draft_path).await;
    b.click_link("Update").await;
    b.wait_for_path(&format!("/post/{draft_id}/update/")).await;
    b.check_page("update draft").await;
    b.fill("#content", "Ready now.").await;
    b.click_button("Publish").await;
    b.wait_for_text("Your post has been updated.").await;
    b.wait_for_text("Ready now.").await;
    assert!(!b.main_text().await.contains("Only you can see this post"));
    b.visit("/").await;
    b.wait_for_text("Second thoughts").await;
    let first = b.text("article.post h2").await;
    assert_eq!(first, "Second thoughts", "published now, so the newest");

    // The profile: a real picture through the file input.
    b.click_link(&format!("Profile ({name})")).await;
    b.wait_for_path("/profile/").await;
    b.check_page("profile").await;
    let before = b.attr("img.avatar", "src").await;
    assert_eq!(before, "/media/avatars/default.png");
    let picture = files.path().join("portrait.png");
    write_portrait(&picture);
    b.find("#image")
        .await
        .send_keys(picture.to_str().expect("utf-8 temp path"))
        .await
        .expect("choose the picture in the file input");
    b.fill("#bio", "Writes about light.").await;
    b.click_button("Update").await;
    b.wait_for_text("Your account has been updated.").await;
    let after = b.attr("img.avatar", "src").await;
    assert!(
        after.starts_with("/media/avatars/") && after != before,
        "the new picture is shown: {after}"
    );
    b.wait_for_image_loaded("img.avatar").await;
    assert_eq!(b.value("#bio").await, "Writes about light.");
    b.check_page("profile (updated)").await;

    // A comment on their post, through the form under it; the page with
    // its comment passes the same checks.
    b.visit(&post_path).await;
    b.fill("#comment-content", "Thanks for *reading*.").await;
    b.click_button("Comment").await;
    b.wait_for_text("Your comment has been posted.").await;
    b.wait_for_in("section.comments", "Thanks for reading.")
        .await;
    assert_eq!(b.text("section.comments em").await, "reading");
    b.check_page("post with a comment").await;

    // Screenshots: the home page and a post, phone and desktop.
    b.visit("/").await;
    b.wait_for_text("First light, edited").await;
    b.screenshots("home").await;
    b.visit(&post_path).await;
    b.wait_for_text("First light, edited").await;
    b.screenshots("post").await;

    // Log out.
    b.click_button("Log out").await;
    b.wait_for_path("/").await;
    b.wait_for_text("You have been logged out.").await;
    b.wait_for_nav("Log in").await;
    b.visit(&post_path).await;
    b.wait_for_text("First light, edited").await;
    b.check_page("post (a reader's)").await;

    // Forgot the password: the mail, its link, a new password.
    b.visit("/login/").await;
    b.click_link("Forgot your password?").await;
    b.wait_for_path("/password-reset/").await;
    b.check_page("password reset").await;
    b.fill("#email", &email).await;
    b.click_button("Request password reset").await;
    b.wait_for_path("/password-reset/done/").await;
    b.wait_for_text("Check your mail").await;
    b.check_page("password reset done").await;
    let mail = app
        .mails_to(&email, 1)
        .await
        .pop()
        .expect("the reset mail in the catcher");
    let link = reset_link(mail.text());
    b.visit_url(&app.local_url(&link)).await;
    b.wait_for_text("Choose a new password").await;
    b.check_page("password reset confirm").await;
    let new_password = "a brand new passphrase";
    b.fill("#new_password1", new_password).await;
    b.fill("#new_password2", new_password).await;
    b.click_button("Reset password").await;
    b.wait_for_path("/password-reset-complete/").await;
    b.wait_for_text("Your password has been set").await;
    b.check_page("password reset complete").await;

    // The old password no longer works; the new one does.
    b.visit("/login/").await;
    b.fill("#username", &name).await;
    b.fill("#password", PASSWORD).await;
    b.click_button("Log in").await;
    b.wait_for_text("Please enter a correct username").await;
    b.check_page("log in (refused)").await;
    b.fill("#password", new_password).await;
    b.click_button("Log in").await;
    b.wait_for_path("/").await;
    b.wait_for_nav(&format!("Profile ({name})")).await;

    // Delete the post, confirming with the keyboard only.
    b.visit(&post_path).await;
    b.click_link("Delete").await;
    b.wait_for_path(&format!("/post/{id}/delete/")).await;
    b.wait_for_text("Are you sure you want to delete the post “First light, edited”?")
        .await;
    b.check_page("delete post").await;
    b.tab_to("button", "Yes, delete").await;
    b.press(Key::Enter).await;
    b.wait_for_path("/").await;
    b.wait_for_text("Your post has been deleted.").await;
    assert!(!b.main_text().await.contains("First light"));
    b.visit(&post_path).await;
    b.wait_for_text("Page not found").await;
    b.check_page("404 (deleted post)").await;
    b.visit("/no/such/page").await;
    b.wait_for_text("Page not found").await;
    b.check_page("404 (unknown address)").await;

    b.print_report();
    b.close().await;

    // The same pages in the dark colour scheme: contrast is checked again
    // (axe's color-contrast rule), and the screenshots taken.
    let dark_driver = ChromeDriver::start(&tools, ColorScheme::Dark).await;
    let mut dark = Browser::open(&dark_driver, &app, &tools).await;
    assert!(
        dark.execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![]
        )
        .await
        .as_bool()
        .unwrap_or(false),
        "the second browser prefers the dark scheme"
    );
    for (label, path, expect) in [
        ("home (dark)", "/", "Welcome to the blog"),
        ("log in (dark)", "/login/", "Forgot your password?"),
        ("register (dark)", "/register/", "Join today"),
        ("about (dark)", "/about/", "This is a small blog"),
        ("404 (dark)", &*post_path, "Page not found"),
    ] {
        dark.visit(path).await;
        dark.wait_for_text(expect).await;
        dark.check_page(label).await;
    }
    dark.login(&name, new_password).await;
    dark.visit("/post/new/").await;
    dark.check_page("new post (dark)").await;
    dark.fill("#title", "Dark and light").await;
    dark.fill("#content", "Colours for both schemes.").await;
    dark.click_button("Publish").await;
    dark.wait_for_text("Your post has been created.").await;
    dark.check_page("post (dark)").await;
    let dark_post = dark.path().await;
    dark.visit(&format!("{dark_post}delete/")).await;
    dark.check_page("delete post (dark)").await;
    dark.visit("/profile/").await;
    dark.check_page("profile (dark)").await;
    dark.visit("/").await;
    dark.wait_for_text("Dark and light").await;
    dark.screenshots("home-dark").await;
    dark.visit(&dark_post).await;
    dark.wait_for_text("Dark and light").await;
    dark.screenshots("post-dark").await;
    dark.print_report();
    dark.close().await;
}

/// What a page holds that could run or load something: script elements
/// (but the JSON-LD data block), event-handler attributes, `javascript:`,
/// `vbscript:` and `data:` URLs in any attribute that takes a URL (a search
/// box's `value` may hold the text `javascript:`), inline styles, frames,
/// plugins, SVG/MathML, `<base>`, `<meta http-equiv>`, outside stylesheets
/// and images (an `<img>` whose outside `src` the sanitiser removed loads
/// nothing and is left alone), forms to other sites. Run in the page (WebDriver scripts are
/// not subject to its CSP); an empty list on a page the site made.
const INJECTED: &str = r#"
const URL_ATTRIBUTES = ['href', 'src', 'action', 'formaction', 'data', 'background', 'poster',
  'xlink:href', 'cite', 'srcdoc', 'codebase', 'dynsrc', 'lowsrc', 'ping', 'manifest', 'longdesc'];
const bad = [];
for (const el of document.querySelectorAll('*')) {
  for (const a of el.attributes) {
    const n = a.name.toLowerCase();
    if (n.startsWith('on')) bad.push(el.tagName + '[' + n + ']');
    if (n === 'style') bad.push(el.tagName + '[style]');
    if (URL_ATTRIBUTES.includes(n)
        && /^(javascript|vbscript|data):/i.test(a.value.replace(/[\s\u0000-\u001f]/g, '')))
      bad.push(el.tagName + '[' + n + '=' + a.value.slice(0, 40) + ']');
  }
}
for (const s of document.querySelectorAll('script'))
  if (s.type !== 'application/ld+json') bad.push('SCRIPT');
for (const sel of ['iframe', 'frame', 'object', 'embed', 'applet', 'svg', 'math', 'base',
    'meta[http-equiv]', 'style', 'bgsound', 'input[type=image]', 'link[rel~=stylesheet]:not([href^="/static/"])',
    'form:not([action^="/"])', 'img[src]:not([src^="/"])', 'img[src^="//"]', '[srcset]'])
  for (const el of document.querySelectorAll(sel)) bad.push(sel + ': ' + el.outerHTML.slice(0, 80));
return bad;
"#;

/// Issue 11's XSS sweep: the OWASP filter-evasion vectors
/// (`integration_tests::xss`) go through every field a person can fill in
/// (post titles, bodies in both formats and tags, comments, the bio, search
/// queries), and every page that shows them is rendered in Chromium, signed
/// out and as their author. On each page: no dialog opened, nothing that can
/// run or load is in the DOM (`INJECTED`), and at the end no Content-Security-
/// Policy violation was reported (`csp_violations_total`). Each of the three
/// checks is first shown to catch a planted script, so none passes by being
/// blind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owasp_xss_vectors_in_every_field_run_nowhere_in_a_real_browser() {
    use integration_tests::xss::VECTORS;
    let tools = Tools::find();
    let app = TestApp::spawn_with(|s| {
        s.rate_limit.comment_per_account = blog::config::Limit::new(1000, 60);
        s.rate_limit.comment_per_ip = blog::config::Limit::new(1000, 60);
    })
    .await;
    let author = app.new_user().await;
    let token = author.token.as_str();

    // The bio: as many vectors as fit in its 500 characters.
    let mut bio = String::new();
    for v in VECTORS {
        if bio.chars().count() + v.chars().count() < 500 && !v.contains('\t') {
            bio.push_str(v);
            bio.push('\n');
        }
    }
    let resp = app
        .patch_json("/api/me", &json!({"bio": bio}), Some(token))
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // Two posts with every vector in the body, one per format.
    let all = VECTORS.join("\n\n");
    let mut posts = Vec::new();
    for format in ["markdown", "plain"] {
        let post = app
            .post_json(
                "/api/posts",
                &json!({"title": format!("Every vector, {format}"), "content": all, "format": format}),
                Some(token),
            )
            .await;
        assert_eq!(post.status(), 201);
        posts.push(post.json::<Value>().await.unwrap());
    }
    // A post per vector that can be a title, each vector also its body and,
    // when short, a tag.
    let mut titled = 0;
    for v in VECTORS {
        if v.chars().count() > 100 || v.chars().any(char::is_control) {
            continue;
        }
        let tags: Vec<&str> = if v.chars().count() <= 40 {
            vec![v]
        } else {
            vec![]
        };
        let post = app
            .post_json(
                "/api/posts",
                &json!({"title": v, "content": v, "format": "markdown", "tags": tags}),
                Some(token),
            )
            .await;
        let status = post.status();
        let body: Value = post.json().await.unwrap();
        assert_eq!(status, 201, "{v}: {body}");
        posts.push(body);
        titled += 1;
    }
    assert!(titled >= 40, "only {titled} vectors made titles");
    // Every vector as a comment, by another reader.
    let reader = app.new_user().await;
    let first_id = posts[0]["id"].as_i64().unwrap();
    let mut comment_ids = Vec::new();
    for v in VECTORS {
        let c = app
            .post_json(
                &format!("/api/posts/{first_id}/comments"),
                &json!({"content": v}),
                Some(&reader.token),
            )
            .await;
        assert_eq!(c.status(), 201, "{v}");
        comment_ids.push(c.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }

    // The pages that show it all.
    let mut pages: Vec<String> = vec!["/".into(), format!("/user/{}", author.username)];
    for p in &posts {
        let url = p["url"].as_str().unwrap();
        pages.push(
            url.trim_start_matches(integration_tests::test_app::PUBLIC_URL)
                .to_owned(),
        );
        for tag in p["tags"].as_array().unwrap() {
            pages.push(blog::site::tag_path(tag.as_str().unwrap()));
        }
    }
    for v in VECTORS {
        if v.chars().count() <= 200 && !v.chars().any(char::is_control) {
            pages.push(format!("/search/?q={}", blog::site::url_component(v)));
        }
    }

    let driver = ChromeDriver::start(&tools, ColorScheme::Light).await;
    let b = Browser::open(&driver, &app, &tools).await;

    // The checks catch what they look for: a planted element, a dialog and
    // an inline script (refused by the CSP, and reported).
    b.visit("/about/").await;
    b.wait_for_text("This is a small blog").await;
    assert!(b.injected().await.is_empty(), "{:?}", b.injected().await);
    b.execute(
        "const i = document.createElement('img'); i.setAttribute('onerror', 'alert(1)'); \
         i.src = 'x'; document.body.append(i);",
        vec![],
    )
    .await;
    assert!(
        !b.injected().await.is_empty(),
        "a planted handler went unseen"
    );
    b.execute("setTimeout(() => alert('planted'), 0);", vec![])
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        b.client.get_alert_text().await.ok().as_deref(),
        Some("planted"),
        "a planted dialog went unseen"
    );
    b.client
        .dismiss_alert()
        .await
        .expect("dismiss the planted dialog");
    let before = app.metrics.csp_violations_total.get();
    b.execute(
        "const s = document.createElement('script'); s.textContent = 'window.ran = 1'; \
         document.body.append(s);",
        vec![],
    )
    .await;
    let started = Instant::now();
    while app.metrics.csp_violations_total.get() == before {
        assert!(
            started.elapsed() < PAGE_WAIT,
            "the CSP refused a planted script but no report was counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.execute("return window.ran === undefined;", vec![]).await,
        json!(true),
        "an inline script ran despite the CSP"
    );
    let baseline = app.metrics.csp_violations_total.get();

    // Every page, signed out, then as the author (their edit forms too) and
    // the commenter (the comment forms).
    let mut visited = 0;
    let sweep = |who: &'static str, pages: Vec<String>| {
        let b = &b;
        async move {
            let mut n = 0;
            for page in pages {
                b.visit(&page).await;
                b.find("main").await;
                if let Ok(text) = b.client.get_alert_text().await {
                    panic!("{page} ({who}) opened a dialog: {text}");
                }
                let found = b.injected().await;
                assert!(found.is_empty(), "{page} ({who}) holds {found:?}");
                n += 1;
            }
            n
        }
    };
    visited += sweep("signed out", pages.clone()).await;
    b.login(&author.username, PASSWORD).await;
    let mut own = pages.clone();
    own.push("/profile/".into());
    for p in &posts {
        own.push(format!("/post/{}/update/", p["id"]));
    }
    visited += sweep("the author", own).await;
    b.visit("/").await;
    b.click_button("Log out").await;
    b.wait_for_text("You have been logged out.").await;
    b.login(&reader.username, PASSWORD).await;
    let edits = comment_ids
        .iter()
        .map(|id| format!("/comment/{id}/edit/"))
        .collect();
    visited += sweep("the commenter", edits).await;
    // Reports are sent after the page: give the last ones time to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reported = app.metrics.csp_violations_total.get() - baseline;
    println!(
        "{} vectors through {titled} titles, 2 bodies, {} comments, the bio, tags and \
         search: {visited} pages rendered, {reported} CSP violations",
        VECTORS.len(),
        comment_ids.len()
    );
    assert_eq!(reported, 0, "the browser reported CSP violations");
    b.close().await;
}

/// The `…/password-reset-confirm/<token>/` link in a reset mail.
fn reset_link(text: &str) -> String {
    let start = text
        .find("http")
        .unwrap_or_else(|| panic!("no link in the reset mail:\n{text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    assert!(
        link.contains("/password-reset-confirm/"),
        "the mail's link is not a reset link: {link}"
    );
    link
}

/// A 200×200 PNG portrait (a gradient with a disc), a real file for the
/// file input.
fn write_portrait(path: &Path) {
    let img = image::RgbImage::from_fn(200, 200, |x, y| {
        let (dx, dy) = (x as i32 - 100, y as i32 - 90);
        if dx * dx + dy * dy < 55 * 55 {
            image::Rgb([240, 200, 160])
        } else {
            image::Rgb([30 + (x / 2) as u8, 90, 140 + (y / 4) as u8])
        }
    });
    img.save(path).expect("write the portrait PNG");
}

// ---- the tools ----

/// Where chromedriver, Chromium and axe-core are.
struct Tools {
    chromedriver: PathBuf,
    chromium: PathBuf,
    axe_js: String,
}

const INSTALL_HINT: &str = "install Debian's chromium and chromium-driver \
     (`scripts/install-tools.sh --browser` does it when run as root; by hand: \
     `apt-get install chromium chromium-driver`) and run with \
     `eval \"$(scripts/install-tools.sh --env --browser)\"`, which also sets \
     BLOG_CHROMEDRIVER, BLOG_CHROMIUM and BLOG_AXE_JS";

impl Tools {
    /// Finds the three or fails saying how to install them (under CI=true as
    /// anywhere else: this test never skips).
    fn find() -> Tools {
        let chromedriver = executable("BLOG_CHROMEDRIVER", "chromedriver");
        let chromium = executable("BLOG_CHROMIUM", "chromium");
        let axe_path = std::env::var_os("BLOG_AXE_JS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let cache = std::env::var_os("BLOG_CACHE_DIR")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/blog"))
                    })
                    .unwrap_or_default();
                cache.join("tools/axe-4.12.1/axe.min.js")
            });
        let axe_js = std::fs::read_to_string(&axe_path).unwrap_or_else(|e| {
            panic!(
                "axe-core not found at {} ({e}): run `scripts/install-tools.sh` (it takes \
                 axe.min.js from the pinned axe-playwright-python wheel) and set BLOG_AXE_JS; {}",
                axe_path.display(),
                ci_note()
            )
        });
        assert!(
            axe_js.starts_with("/*! axe v4.12.1"),
            "{} is not axe-core 4.12.1",
            axe_path.display()
        );
        Tools {
            chromedriver,
            chromium,
            axe_js,
        }
    }
}

fn ci_note() -> &'static str {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        "CI=true: a missing browser fails the run"
    } else {
        "the browser test does not skip without them"
    }
}

/// `$var` if set (it must exist), else `name` from PATH.
fn executable(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "{var}={} does not exist: {INSTALL_HINT} ({})",
            path.display(),
            ci_note()
        );
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed: {INSTALL_HINT} ({})", ci_note()))
}

#[derive(Clone, Copy, PartialEq)]
enum ColorScheme {
    Light,
    Dark,
}

/// chromedriver on a free port of 127.0.0.1, in a process group of its own
/// with the Chromium it starts; the group is killed on drop, whatever state
/// the test ends in.
struct ChromeDriver {
    url: String,
    child: Child,
    chromium: PathBuf,
    scheme: ColorScheme,
    /// Chromium's profile, thrown away afterwards.
    profile: tempfile::TempDir,
    log: PathBuf,
}

impl ChromeDriver {
    async fn start(tools: &Tools, scheme: ColorScheme) -> ChromeDriver {
        let profile = tempfile::tempdir().expect("temp dir for the browser profile");
        let log = profile.path().with_extension("chromedriver.log");
        let port = free_port();
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; {INSTALL_HINT}",
                    tools.chromedriver.display()
                )
            });
        let mut driver = ChromeDriver {
            url: format!("http://127.0.0.1:{port}"),
            child,
            chromium: tools.chromium.clone(),
            scheme,
            profile,
            log,
        };
        driver.wait_ready().await;
        driver
    }

    /// Until `/status` says ready (chromedriver answers within a second or
    /// two); fails with its log if it exits or never gets there.
    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "chromedriver exited ({status}) before it was ready; its log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(resp) = http.get(format!("{}/status", self.url)).send().await
                && let Ok(body) = resp.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver at {} not ready after 30 s; its log:\n{}",
                self.url,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A headless Chromium session.
    async fn session(&self) -> Client {
        let mut args = vec![
            "--headless=new".to_owned(),
            format!("--user-data-dir={}", self.profile.path().display()),
            "--window-size=1280,900".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--lang=en-US".to_owned(),
            "--disable-gpu".to_owned(),
            // Docker's /dev/shm is 64 MB: too small for Chromium's renderers.
            "--disable-dev-shm-usage".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
        ];
        // Chromium refuses to run its sandbox as root (CI and these machines
        // are root); the pages it loads are our own.
        if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            args.push("--no-sandbox".to_owned());
        }
        if self.scheme == ColorScheme::Dark {
            // Blink's preferred colour scheme: 0 is dark.
            args.push("--blink-settings=preferredColorScheme=0".to_owned());
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": self.chromium, "args": args}),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "no Chromium session from chromedriver ({e}); its log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )
            });
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("set timeouts");
        client
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

// ---- the browser ----

/// Counts of axe's violations on one page, per impact: (rules, elements).
type Impacts = BTreeMap<String, (usize, usize)>;

const IMPACTS: [&str; 4] = ["critical", "serious", "moderate", "minor"];

struct Browser<'a> {
    client: Client,
    app: &'a TestApp,
    axe_js: &'a str,
    report: Vec<(String, Impacts, usize)>,
    scheme: ColorScheme,
}

impl<'a> Browser<'a> {
    async fn open(driver: &ChromeDriver, app: &'a TestApp, tools: &'a Tools) -> Browser<'a> {
        Browser {
            client: driver.session().await,
            app,
            axe_js: &tools.axe_js,
            report: Vec::new(),
            scheme: driver.scheme,
        }
    }

    async fn close(self) {
        self.client.close().await.expect("end the browser session");
    }

    async fn visit(&self, path: &str) {
        self.visit_url(&self.app.url(path)).await;
    }

    async fn visit_url(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed ({e}): {script:.200}"))
    }

    /// What [`INJECTED`] finds in the current page.
    async fn injected(&self) -> Vec<String> {
        let found = self.execute(INJECTED, vec![]).await;
        serde_json::from_value(found.clone())
            .unwrap_or_else(|e| panic!("the DOM check returned {found} ({e})"))
    }

    async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current URL")
            .path()
            .to_owned()
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}", self.path().await),
        }
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    async fn main_text(&self) -> String {
        self.text("main").await
    }

    async fn attr(&self, css: &str, name: &str) -> String {
        self.find(css)
            .await
            .attr(name)
            .await
            .expect("attribute")
            .unwrap_or_default()
    }

    async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    }

    /// Replaces a field's content, typing like a person.
    async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type into the field");
    }

    async fn click_button(&self, label: &str) {
        let xpath = format!("//button[normalize-space(.)={}]", xpath_literal(label));
        match self.client.find(Locator::XPath(&xpath)).await {
            Ok(button) => button.click().await.expect("click the button"),
            Err(e) => panic!("no button {label:?} on {}: {e}", self.path().await),
        }
    }

    async fn click_link(&self, text: &str) {
        match self.client.find(Locator::LinkText(text)).await {
            Ok(link) => link.click().await.expect("click the link"),
            Err(e) => panic!("no link {text:?} on {}: {e}", self.path().await),
        }
    }

    async fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        loop {
            let now = self.path().await;
            if now == path {
                return;
            }
            assert!(
                started.elapsed() < PAGE_WAIT,
                "still at {now}, expected {path}; the page says:\n{}",
                self.main_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's main content shows `text` (as rendered: what
    /// a person reads, not the HTML).
    async fn wait_for_text(&self, text: &str) {
        self.wait_for_in("main", text).await;
    }

    async fn wait_for_nav(&self, text: &str) {
        self.wait_for_in("header", text).await;
    }

    async fn wait_for_in(&self, css: &str, text: &str) {
        let started = Instant::now();
        loop {
            let shown = self
                .execute(
                    "const e = document.querySelector(arguments[0]); \
                     return e ? e.innerText : '';",
                    vec![json!(css)],
                )
                .await;
            let shown = shown.as_str().unwrap_or_default();
            if shown.contains(text) {
                return;
            }
            assert!(
                started.elapsed() < PAGE_WAIT,
                "{} does not show {text:?} in {css}; it shows:\n{shown}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_image_loaded(&self, css: &str) {
        let started = Instant::now();
        loop {
            let width = self
                .execute(
                    "const i = document.querySelector(arguments[0]); \
                     return i && i.complete ? i.naturalWidth : 0;",
                    vec![json!(css)],
                )
                .await;
            if width.as_u64().unwrap_or(0) > 0 {
                return;
            }
            assert!(
                started.elapsed() < PAGE_WAIT,
                "the image {css} did not load"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn login(&self, name: &str, password: &str) {
        self.visit("/login/").await;
        self.fill("#username", name).await;
        self.fill("#password", password).await;
        self.click_button("Log in").await;
        self.wait_for_path("/").await;
        self.wait_for_nav(&format!("Profile ({name})")).await;
    }

    // ---- the keyboard ----

    async fn press(&self, key: Key) {
        let key: char = key.into();
        self.keys(&[key]).await;
    }

    async fn type_text(&self, text: &str) {
        self.keys(&text.chars().collect::<Vec<_>>()).await;
    }

    async fn keys(&self, keys: &[char]) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for &value in keys {
            actions = actions
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("keyboard input");
    }

    /// What has the focus: `tag|name-or-id|text`.
    async fn focused(&self) -> String {
        self.execute(
            "const e = document.activeElement; \
             if (!e || e === document.body) return ''; \
             return e.tagName.toLowerCase() + '|' + (e.id || e.name || '') + '|' + \
                    (e.innerText || e.value || '').trim();",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Presses Tab until a `tag` whose id, name or text is `what` has the
    /// focus: only the keyboard gets there.
    async fn tab_to(&self, tag: &str, what: &str) {
        let mut seen = Vec::new();
        for _ in 0..80 {
            self.press(Key::Tab).await;
            let now = self.focused().await;
            let mut parts = now.splitn(3, '|');
            let (t, id, text) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            if t == tag && (id == what || text == what) {
                return;
            }
            seen.push(now);
        }
        panic!(
            "Tab never reaches {tag} {what:?} on {}; it went through {seen:#?}",
            self.path().await
        );
    }

    /// Every link, button and field of the page that is rendered must get
    /// the focus from Tab alone.
    async fn check_tab_order(&self, page: &str) -> usize {
        let all = self
            .execute(
                "document.activeElement && document.activeElement.blur(); \
                 const all = [...document.querySelectorAll(\
                   'a[href], button, input:not([type=hidden]), textarea, select, [tabindex]')]\
                   .filter(e => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length > 0); \
                 all.forEach((e, i) => e.dataset.kb = String(i)); \
                 window.scrollTo(0, 0); \
                 return all.map(e => e.outerHTML.slice(0, 120));",
                vec![],
            )
            .await;
        let all: Vec<String> = serde_json::from_value(all).expect("elements");
        let mut reached = std::collections::BTreeSet::new();
        // Tab goes on from where the focus last was, and past the last
        // element comes back to the first: twice round covers every start.
        for _ in 0..all.len() * 2 + 4 {
            self.press(Key::Tab).await;
            let index = self
                .execute(
                    "const e = document.activeElement; return e && e.dataset ? (e.dataset.kb ?? null) : null;",
                    vec![],
                )
                .await;
            if let Some(i) = index.as_str().and_then(|i| i.parse::<usize>().ok()) {
                reached.insert(i);
            }
            if reached.len() == all.len() {
                break;
            }
        }
        let missed: Vec<&String> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !reached.contains(i))
            .map(|(_, e)| e)
            .collect();
        assert!(missed.is_empty(), "{page}: Tab never reaches {missed:#?}");
        all.len()
    }

    /// Every field and button has an accessible name (a label with text,
    /// `aria-label` or `aria-labelledby`).
    async fn check_labels(&self, page: &str) -> usize {
        let result = self
            .execute(
                "const named = e => (e.labels && [...e.labels].some(l => l.innerText.trim())) \
                   || (e.getAttribute('aria-label') || '').trim() \
                   || (e.getAttribute('aria-labelledby') || '').trim(); \
                 const controls = [...document.querySelectorAll(\
                   'input:not([type=hidden]):not([type=submit]):not([type=button]), textarea, select')]; \
                 const buttons = [...document.querySelectorAll('button, input[type=submit], input[type=button]')]; \
                 const bad = controls.filter(e => !named(e)) \
                   .concat(buttons.filter(b => !(b.innerText || b.value || '').trim() && !named(b))) \
                   .map(e => e.outerHTML); \
                 return {count: controls.length + buttons.length, bad};",
                vec![],
            )
            .await;
        let bad = result["bad"].as_array().cloned().unwrap_or_default();
        assert!(
            bad.is_empty(),
            "{page}: form controls without a label: {bad:#?}"
        );
        result["count"].as_u64().unwrap_or(0) as usize
    }

    /// The scan can fail: an unlabelled field planted in the page (and
    /// removed again) is reported as axe's critical `label` violation, so
    /// the zeros above come from a working axe under the page's CSP.
    async fn axe_finds_a_planted_violation(&self) {
        self.execute(
            "const i = document.createElement('input'); i.id = 'axe-probe'; \
             document.querySelector('main').append(i);",
            vec![],
        )
        .await;
        let violations = self.axe_violations("probe").await;
        self.execute("document.getElementById('axe-probe').remove();", vec![])
            .await;
        assert!(
            violations.iter().any(|v| v["id"] == "label"
                && v["impact"] == "critical"
                && v["nodes"].to_string().contains("axe-probe")),
            "axe-core misses an unlabelled field: {violations:#?}"
        );
    }

    /// axe-core's violations on the page as it is now. WebDriver's scripts
    /// run through the DevTools protocol, which the page's CSP
    /// (`default-src 'none'`: no script at all) does not govern, so axe gets
    /// in without weakening the production headers.
    async fn axe_violations(&self, page: &str) -> Vec<Value> {
        let loaded = self
            .execute(
                &format!("{}\n;return typeof window.axe;", self.axe_js),
                vec![],
            )
            .await;
        assert_eq!(loaded, "object", "{page}: axe-core did not load");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 axe.run(document, {resultTypes: ['violations']}) \
                   .then(r => done({violations: r.violations.map(v => ({ \
                       id: v.id, impact: v.impact, help: v.help, \
                       nodes: v.nodes.map(n => n.target.join(' ') + ': ' + (n.failureSummary || ''))}))})) \
                   .catch(e => done({error: String(e)}));",
                vec![],
            )
            .await
            .unwrap_or_else(|e| panic!("{page}: axe.run failed: {e}"));
        assert!(
            result["error"].is_null(),
            "{page}: axe.run failed: {}",
            result["error"]
        );
        result["violations"].as_array().cloned().unwrap_or_default()
    }

    /// axe-core in the page: no serious or critical violation; the counts
    /// per impact.
    async fn axe(&self, page: &str) -> Impacts {
        let violations = self.axe_violations(page).await;
        let mut impacts: Impacts = IMPACTS.iter().map(|i| (i.to_string(), (0, 0))).collect();
        for v in &violations {
            let impact = v["impact"].as_str().unwrap_or("minor").to_owned();
            let entry = impacts.entry(impact).or_default();
            entry.0 += 1;
            entry.1 += v["nodes"].as_array().map_or(0, Vec::len);
        }
        let blocking: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            blocking.is_empty(),
            "{page}: axe-core finds serious or critical violations:\n{}",
            serde_json::to_string_pretty(&blocking).unwrap_or_default()
        );
        if !violations.is_empty() {
            println!(
                "{page}: axe (moderate/minor): {}",
                serde_json::to_string(&violations).unwrap_or_default()
            );
        }
        impacts
    }

    /// The three checks on the page as it is now; the figures go to the
    /// report.
    async fn check_page(&mut self, page: &str) {
        let label = if self.scheme == ColorScheme::Dark && !page.contains("dark") {
            format!("{page} (dark)")
        } else {
            page.to_owned()
        };
        let controls = self.check_labels(&label).await;
        let impacts = self.axe(&label).await;
        let focusable = self.check_tab_order(&label).await;
        println!(
            "checked {label}: {focusable} reachable by Tab, {controls} labelled controls, axe {}",
            summary(&impacts)
        );
        self.report.push((label, impacts, focusable));
    }

    fn print_report(&self) {
        println!("\naxe-core 4.12.1, violations per page as rules/elements:");
        println!(
            "{:<32} {:>9} {:>9} {:>9} {:>9}",
            "page", "critical", "serious", "moderate", "minor"
        );
        for (page, impacts, _) in &self.report {
            let cell = |i: &str| {
                let (rules, nodes) = impacts.get(i).copied().unwrap_or_default();
                format!("{rules}/{nodes}")
            };
            println!(
                "{page:<32} {:>9} {:>9} {:>9} {:>9}",
                cell("critical"),
                cell("serious"),
                cell("moderate"),
                cell("minor")
            );
        }
    }

    /// The page at a phone's and a desktop's width, as PNGs under the target
    /// directory's `screenshots/`.
    async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        for (width, height) in [(375u32, 812u32), (1280, 800)] {
            self.set_viewport(width, height).await;
            let png = self.client.screenshot().await.expect("screenshot");
            let path = dir.join(format!("{name}-{width}.png"));
            std::fs::write(&path, &png).expect("write screenshot");
            let img = image::load_from_memory(&png).expect("a PNG screenshot");
            assert_eq!(img.width(), width, "{} is {width} px wide", path.display());
            // Nothing sticks out sideways on a phone.
            let overflow = self
                .execute(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                    vec![],
                )
                .await;
            assert_eq!(
                overflow.as_i64(),
                Some(0),
                "{name} at {width} px scrolls sideways"
            );
            println!("screenshot: {}", path.display());
        }
        self.set_viewport(1280, 900).await;
    }

    /// Resizes the window so that the page's viewport is `width`×`height`.
    async fn set_viewport(&self, width: u32, height: u32) {
        let (width, height) = (i64::from(width), i64::from(height));
        let mut outer = (width, height);
        for _ in 0..3 {
            self.client
                .set_window_size(outer.0 as u32, outer.1 as u32)
                .await
                .expect("resize the window");
            let inner = self
                .execute("return [window.innerWidth, window.innerHeight];", vec![])
                .await;
            let (w, h) = (
                inner[0].as_i64().unwrap_or(0),
                inner[1].as_i64().unwrap_or(0),
            );
            if (w, h) == (width, height) {
                return;
            }
            // The window's frame, if any, is the difference.
            outer = (outer.0 + width - w, outer.1 + height - h);
        }
        panic!("cannot make the viewport {width}×{height}");
    }
}

fn summary(impacts: &Impacts) -> String {
    IMPACTS
        .iter()
        .map(|i| {
            let (rules, nodes) = impacts.get(*i).copied().unwrap_or_default();
            format!("{i} {rules}/{nodes}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$CARGO_TARGET_DIR/screenshots`, else `screenshots` beside the profile
/// directory that holds this test binary (`target/release/deps/..`).
fn screenshot_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("screenshots");
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(|target| target.join("screenshots"))
        .expect("the target directory")
}

/// `s` as an XPath string literal.
fn xpath_literal(s: &str) -> String {
    if s.contains('"') {
        format!("'{s}'")
    } else {
        format!("\"{s}\"")
    }
}
