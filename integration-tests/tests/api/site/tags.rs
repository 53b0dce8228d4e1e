//! Tags on the website: written in the post form, shown as links, a page
//! and feeds per tag, in the sitemap; unpublished posts' tags nowhere.

use integration_tests::{TestApp, random_suffix};
use reqwest::StatusCode;
use serde_json::json;

use super::Web;
use super::feeds::feedparser;

#[tokio::test]
async fn tags_from_the_form_to_their_pages_feeds_and_the_sitemap() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    let me = web.new_user().await;
    let tag = format!("tag{}", random_suffix(6).to_lowercase());
    let secret = format!("secret{}", random_suffix(6).to_lowercase());

    // The form: commas between tags, case and spaces do not matter.
    let done = web
        .submit(
            "/post/new/",
            "/post/new/",
            &[
                ("title", "First tagged"),
                ("content", "x"),
                (
                    "tags",
                    &format!(" {} , Web  Dev,, {tag} ", tag.to_uppercase()),
                ),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    let first = done.location().to_owned();
    let shown = web.get(&first).await;
    shown
        .assert_contains(&format!("<a href=\"/tag/{tag}/\" rel=\"tag\">#{tag}</a>"))
        .assert_contains("<a href=\"/tag/web-dev/\" rel=\"tag\">#web-dev</a>")
        .assert_contains(&format!(
            "<meta property=\"article:tag\" content=\"{tag}\">"
        ));
    let id = first
        .trim_start_matches("/post/")
        .split('-')
        .next()
        .unwrap()
        .to_owned();
    web.get(&format!("/post/{id}/update/"))
        .await
        .assert_contains(&format!("value=\"{tag}, web-dev\""));

    // Eleven tags: the form comes back with the message by the field.
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let refused = web
        .submit(
            "/post/new/",
            "/post/new/",
            &[
                ("title", "Too many"),
                ("content", "x"),
                ("tags", &eleven.join(",")),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    refused
        .assert_contains("id=\"tags-error\"")
        .assert_contains("at most 10")
        .assert_contains(&format!("value=\"{}\"", eleven.join(",")));

    // A second published post and a draft, through the API.
    let second = web
        .submit(
            "/post/new/",
            "/post/new/",
            &[("title", "Second tagged"), ("content", "x"), ("tags", &tag)],
        )
        .await
        .location()
        .to_owned();
    let author = app.new_user().await;
    let draft = app
        .post_json(
            "/api/posts",
            &json!({"title": "Hidden draft", "content": "x", "status": "draft",
                    "tags": [&tag, &secret]}),
            Some(&author.token),
        )
        .await;
    assert_eq!(draft.status(), 201);

    let page = web.get(&format!("/tag/{tag}/")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    page.assert_contains(&format!(
        "Posts tagged <span class=\"tag-name\">#{tag}</span>"
    ))
    .assert_contains(&second)
    .assert_contains(&first)
    .assert_contains(&format!(
        "<link rel=\"canonical\" href=\"http://blog.test/tag/{tag}/\">"
    ))
    .assert_contains(&format!("href=\"/tag/{tag}/atom.xml\""));
    assert!(!page.html.contains("Hidden draft"), "{}", page.html);
    assert!(
        page.html.find("Second tagged") < page.html.find("First tagged"),
        "newest first"
    );
    // Another spelling: a permanent redirect to the tag's URL.
    let other = web.get(&format!("/tag/{}/", tag.to_uppercase())).await;
    assert_eq!(other.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(other.location(), format!("/tag/{tag}/"));
    // Tags only drafts carry, and what can be no tag: not found.
    for missing in [format!("/tag/{secret}/"), "/tag/!!!/".to_owned()] {
        let page = web.get(&missing).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{missing}");
        page.assert_contains("No published post has this tag.");
    }

    for (file, version) in [("atom.xml", "atom10"), ("rss.xml", "rss20")] {
        let feed = web.get(&format!("/tag/{tag}/{file}")).await;
        assert_eq!(feed.status, StatusCode::OK, "{file}: {}", feed.html);
        let parsed = feedparser(&feed.html);
        assert_eq!(parsed["bozo"], 0, "{parsed}");
        assert_eq!(parsed["version"], version);
        assert_eq!(parsed["title"], format!("Posts tagged {tag}"));
        let titles: Vec<&str> = parsed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["Second tagged", "First tagged"], "{parsed}");
        assert_eq!(
            web.get(&format!("/tag/{secret}/{file}")).await.status,
            StatusCode::NOT_FOUND
        );
    }

    let map = web.get("/sitemap.xml").await;
    map.assert_contains(&format!("<loc>http://blog.test/tag/{tag}/</loc>"))
        .assert_contains("<loc>http://blog.test/tag/web-dev/</loc>");
    assert!(!map.html.contains(&secret), "{}", map.html);
    let _ = me;
}
