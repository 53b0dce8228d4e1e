//! Writing through the site: new, update and delete posts, only by their
//! author, only with a valid CSRF token, with messages that keep the input.

use integration_tests::TestApp;
use reqwest::StatusCode;

use super::Web;

#[tokio::test]
async fn an_author_writes_updates_and_deletes_a_post() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    let me = web.new_user().await;

    let url = web.write("My first post", "Line one\nLine two").await;
    // The canonical URL: the id and a slug of the title.
    let id = url
        .strip_prefix("/post/")
        .and_then(|rest| rest.strip_suffix("-my-first-post/"))
        .unwrap_or_else(|| panic!("not /post/<id>-my-first-post/: {url}"));
    let edit = format!("/post/{id}/update/");
    let shown = web.get(&url).await;
    shown.assert_contains("Your post has been created.");
    shown.assert_contains("<h1>My first post</h1>");
    // Markdown by default: the two lines are one paragraph.
    shown.assert_contains("<p>Line one\nLine two</p>");
    shown.assert_contains(&edit);
    // The flash is shown once.
    assert!(!web.get(&url).await.html.contains("has been created"));
    // On the home page and the author page.
    web.get("/").await.assert_contains("My first post");
    web.get(&format!("/user/{me}"))
        .await
        .assert_contains("My first post");

    let form = web.get(&edit).await;
    form.assert_contains("value=\"My first post\"");
    form.assert_contains("<option value=\"markdown\" selected>");
    let updated = web
        .submit(
            &edit,
            &edit,
            &[
                ("title", "My first post, edited"),
                ("content", "New *body*"),
                ("format", "plain"),
            ],
        )
        .await;
    // A new title, a new slug; the old URL now redirects to it.
    let url = format!("/post/{id}-my-first-post-edited/");
    assert_eq!(updated.location(), url);
    let shown = web.get(&url).await;
    shown.assert_contains("Your post has been updated.");
    shown.assert_contains("My first post, edited");
    shown.assert_contains("New *body*");
    let old = web.get(&format!("/post/{id}-my-first-post/")).await;
    assert_eq!(old.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(old.location(), url);
    assert!(
        web.get(&edit)
            .await
            .html
            .contains("<option value=\"plain\" selected>")
    );

    let confirm = web.get(&format!("{url}delete/")).await;
    confirm.assert_contains("Are you sure you want to delete the post");
    let deleted = web
        .submit(&format!("{url}delete/"), &format!("{url}delete/"), &[])
        .await;
    assert_eq!(deleted.location(), "/");
    web.get("/")
        .await
        .assert_contains("Your post has been deleted.");
    assert_eq!(web.get(&url).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invalid_input_comes_back_with_messages_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    web.new_user().await;
    let long_title = "x".repeat(101);
    let page = web
        .submit(
            "/post/new/",
            "/post/new/",
            &[("title", &long_title), ("content", "  \n ")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    page.assert_contains("This field must be at most 100 characters (got 101).");
    page.assert_contains("This field must not be empty.");
    page.assert_contains(&format!("value=\"{long_title}\""));
    page.assert_contains("aria-invalid=\"true\" aria-describedby=\"title-error\"");
    // Control characters in a title are refused the same way.
    let page = web
        .submit(
            "/post/new/",
            "/post/new/",
            &[("title", "bell\u{7}"), ("content", "body")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let count = app
        .db
        .query_one("SELECT count(*) FROM posts", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(count, 0);
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_change_nothing() {
    let app = TestApp::spawn().await;
    let web = Web::new(&app);
    web.new_user().await;
    let url = web.write("Kept", "Body").await;
    for token in ["", "forged-token"] {
        let page = web
            .post(
                "/post/new/",
                &[("csrf", token), ("title", "Sneaky"), ("content", "x")],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{token:?}");
        page.assert_contains("This form has expired");
        let page = web.post(&format!("{url}delete/"), &[("csrf", token)]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
    }
    // A token from another visitor's session does not work either.
    let other = Web::new(&app);
    other.new_user().await;
    let foreign = other.get("/post/new/").await.csrf();
    let page = web
        .post(&format!("{url}delete/"), &[("csrf", &foreign)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Nothing changed.
    web.get(&url).await.assert_contains("<h1>Kept</h1>");
    assert!(!web.get("/").await.html.contains("Sneaky"));
}

#[tokio::test]
async fn only_the_author_may_update_or_delete() {
    let app = TestApp::spawn().await;
    let author = Web::new(&app);
    author.new_user().await;
    let url = author.write("Mine", "Body").await;

    let other = Web::new(&app);
    other.new_user().await;
    assert!(!other.get(&url).await.html.contains("update/"));
    for page in [format!("{url}update/"), format!("{url}delete/")] {
        let shown = other.get(&page).await;
        assert_eq!(shown.status, StatusCode::FORBIDDEN, "{page}");
        shown.assert_contains("Only the author");
    }
    let csrf = other.get("/post/new/").await.csrf();
    let tried = other
        .post(
            &format!("{url}update/"),
            &[("csrf", &csrf), ("title", "Stolen"), ("content", "x")],
        )
        .await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN);
    let tried = other
        .post(&format!("{url}delete/"), &[("csrf", &csrf)])
        .await;
    assert_eq!(tried.status, StatusCode::FORBIDDEN);
    author.get(&url).await.assert_contains("<h1>Mine</h1>");

    // Anonymous visitors are sent to log in, and come back afterwards.
    let anonymous = Web::new(&app);
    let redirect = anonymous.get("/post/new/").await;
    assert_eq!(redirect.location(), "/login/?next=/post/new/");
    let redirect = anonymous.get(&format!("{url}update/")).await;
    assert_eq!(redirect.location(), format!("/login/?next={url}update/"));
}
