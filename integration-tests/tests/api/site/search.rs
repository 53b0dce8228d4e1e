//! The search box and its page: results with marked words, the query kept
//! in the box and escaped, bad queries explained, more results linked.

use integration_tests::{TestApp, random_suffix};
use reqwest::StatusCode;
use serde_json::json;

use super::Web;

#[tokio::test]
async fn the_search_page_finds_marks_and_escapes() {
    let app = TestApp::spawn().await;
    let author = app.new_user().await;
    let word = format!("srch{}", random_suffix(6).to_lowercase());
    for i in 0..12 {
        let created = app
            .post_json(
                "/api/posts",
                &json!({"title": format!("Found {i}"),
                        "content": format!("<b>bold?</b> text with {word} inside")}),
                Some(&author.token),
            )
            .await;
        assert_eq!(created.status(), 201);
    }
    let web = Web::new(&app);

    let home = web.get("/").await;
    home.assert_contains(
        "<form class=\"inline search\" method=\"get\" action=\"/search/\" role=\"search\">",
    );

    let page = web.get(&format!("/search/?q={word}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    page.assert_contains(&format!("<mark>{word}</mark>"))
        .assert_contains(&format!("bold?  text with <mark>{word}</mark> inside"))
        .assert_contains(&format!("value=\"{word}\""))
        .assert_contains(&format!("href=\"/search/?q={word}&#38;page=2\""))
        .assert_contains("<meta name=\"robots\" content=\"noindex\">");
    assert_eq!(page.html.matches("<article class=\"post\">").count(), 10);
    assert!(!page.html.contains("<b>"), "the post's markup stays out");
    let second = web.get(&format!("/search/?q={word}&page=2")).await;
    assert_eq!(second.html.matches("<article class=\"post\">").count(), 2);

    // The query comes back escaped, whatever it holds.
    let hostile = web
        .get("/search/?q=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(hostile.status, StatusCode::OK);
    assert!(!hostile.html.contains("<script>alert"), "{}", hostile.html);
    hostile.assert_contains("value=\"&#34;&#62;&#60;script&#62;alert(1)");

    // Too long: the page says why, 400.
    let long = web.get(&format!("/search/?q={}", "a".repeat(201))).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST);
    long.assert_contains("id=\"q-error\"")
        .assert_contains("at most 200 characters");
    // No query: just the form.
    let empty = web.get("/search/").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(!empty.html.contains("No published post matches"));
}
