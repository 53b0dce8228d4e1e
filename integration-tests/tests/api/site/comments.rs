//! Comments and staff moderation on the website: the list and the form
//! under a post, editing and deleting (by the comment's author, the post's
//! author), closing comments from the post form, comment counts on lists,
//! and staff's "unpublish" and "deactivate" buttons.

use integration_tests::TestApp;
use reqwest::StatusCode;

use super::{Web, id_of};

/// The comment id a "posted" redirect points at (`…#comment-<id>`).
fn comment_of(location: &str) -> String {
    location
        .rsplit_once("#comment-")
        .unwrap_or_else(|| panic!("no comment anchor in {location}"))
        .1
        .to_owned()
}

#[tokio::test]
async fn readers_comment_edit_and_delete_and_authors_close_comments() {
    let app = TestApp::spawn().await;
    let writer = Web::new(&app);
    writer.new_user().await;
    let post = writer.write("Talk to me", "Say something.").await;
    let id = id_of(&post);

    // Anonymous readers are asked to log in, and get no form (and no cookie).
    let anonymous = Web::new(&app);
    let shown = anonymous.get(&post).await;
    shown.assert_contains("0 comments");
    shown.assert_contains("Log in</a> to comment.");
    assert!(!shown.html.contains("Add a comment"), "{}", shown.html);
    assert!(shown.header("set-cookie").is_empty(), "{:?}", shown.headers);

    let reader = Web::new(&app);
    let reader_name = reader.new_user().await;
    let action = format!("/post/{id}/comments/");
    let posted = reader
        .submit(
            &post,
            &action,
            &[(
                "content",
                "Nice *post* <script>alert(1)</script> [x](javascript:alert(1))",
            )],
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.html);
    let comment = comment_of(posted.location());
    let shown = reader.get(&post).await;
    shown
        .assert_contains("Your comment has been posted.")
        .assert_contains("1 comment</h2>")
        .assert_contains(&format!("id=\"comment-{comment}\""))
        .assert_contains("<em>post</em>")
        .assert_contains(&format!("/comment/{comment}/edit/"))
        .assert_contains(&format!("/comment/{comment}/delete/"))
        .assert_contains(&reader_name);
    assert!(!shown.html.contains("<script>alert"), "{}", shown.html);
    assert!(!shown.html.contains("javascript:"), "{}", shown.html);

    // A blank comment gets the form back with the error, nothing stored.
    let blank = reader.submit(&post, &action, &[("content", "   ")]).await;
    assert_eq!(
        blank.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        blank.html
    );
    blank.assert_contains("field-error");
    // Without the form's token nothing is written.
    let forged = reader.post(&action, &[("content", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.html);
    let count: i64 = app
        .db
        .query_one("SELECT count(*) FROM comments", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);

    // The lists show the count.
    anonymous.get("/").await.assert_contains("1 comment</a>");

    // Its author edits it.
    let edit = format!("/comment/{comment}/edit/");
    reader.get(&edit).await.assert_contains("Nice *post*");
    let edited = reader
        .submit(&edit, &edit, &[("content", "Nicer **post**")])
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.html);
    reader
        .get(&post)
        .await
        .assert_contains("Your comment has been updated.")
        .assert_contains("<strong>post</strong>");

    // The post's author may delete it but not edit it; strangers neither.
    let shown = writer.get(&post).await;
    shown.assert_contains(&format!("/comment/{comment}/delete/"));
    assert!(!shown.html.contains(&edit), "{}", shown.html);
    assert_eq!(writer.get(&edit).await.status, StatusCode::FORBIDDEN);
    let stranger = Web::new(&app);
    stranger.new_user().await;
    let shown = stranger.get(&post).await;
    assert!(
        !shown.html.contains(&format!("/comment/{comment}/delete/")),
        "{}",
        shown.html
    );
    let refused = stranger
        .submit(&post, &format!("/comment/{comment}/delete/"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

    // The writer closes comments from the post form.
    let update = format!("/post/{id}/update/");
    let closed = writer
        .submit(
            &update,
            &update,
            &[
                ("title", "Talk to me"),
                ("content", "Say something."),
                ("comments_closed", "on"),
            ],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.html);
    writer
        .get(&update)
        .await
        .assert_contains("name=\"comments_closed\" type=\"checkbox\" checked");
    let shown = reader.get(&post).await;
    shown.assert_contains("Comments are closed.");
    assert!(!shown.html.contains("Add a comment"), "{}", shown.html);
    assert!(!shown.html.contains(&edit), "{}", shown.html);
    let late = reader
        .submit(&post, &action, &[("content", "Too late")])
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.html);
    late.assert_contains("closed the comments");

    // Deleting still works; the count follows.
    let deleted = writer
        .submit(&post, &format!("/comment/{comment}/delete/"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.html);
    writer
        .get(&post)
        .await
        .assert_contains("The comment has been deleted.")
        .assert_contains("0 comments");
    assert!(
        !anonymous.get("/").await.html.contains("comment</a>"),
        "the home page still counts a deleted comment"
    );
}

#[tokio::test]
async fn many_comments_come_in_pages_under_the_post() {
    let app = TestApp::spawn().await;
    let writer = Web::new(&app);
    let name = writer.new_user().await;
    let post = writer.write("Popular", "Everyone has a view.").await;
    let id: i64 = id_of(&post).parse().unwrap();
    let author_id: i64 = app
        .db
        .query_one("SELECT id FROM users WHERE username = $1", &[&name])
        .await
        .unwrap()
        .get(0);
    app.db
        .execute(
            "INSERT INTO comments (post_id, author_id, content, content_html, created_at, updated_at) \
             SELECT $1, $2, 'c' || g, '<p>comment number ' || g || '.</p>', \
             now() - interval '1 hour' + g * interval '1 ms', now() - interval '1 hour' + g * interval '1 ms' \
             FROM generate_series(1, 120) g",
            &[&id, &author_id],
        )
        .await
        .unwrap();
    let first = writer.get(&post).await;
    first
        .assert_contains("120 comments")
        .assert_contains("comment number 1.")
        .assert_contains("comment number 50.");
    assert!(
        !first.html.contains("comment number 51."),
        "more than a page"
    );
    // "More comments" leads on, page by page, to the last.
    let mut seen = 50;
    let mut page = first;
    while let Some(start) = page.html.find("href=\"/post/") {
        let href = page.html[start + 6..].split('"').next().unwrap().to_owned();
        if !href.contains("?comments=") {
            // Another link to the post (the canonical one): look further.
            page.html = page.html[start + 6..].to_owned();
            continue;
        }
        let next = writer.get(&href.replace("&amp;", "&")).await;
        assert_eq!(next.status, StatusCode::OK, "{href}: {}", next.html);
        seen += next.html.matches("<article class=\"comment\"").count();
        page = next;
    }
    assert_eq!(seen, 120);
    // A forged cursor is a helpful 400, not a 500.
    let bad = writer.get(&format!("{post}?comments=nonsense")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.html);
}

#[tokio::test]
async fn staff_unpublish_posts_and_deactivate_accounts_from_the_pages() {
    let app = TestApp::spawn().await;
    let writer = Web::new(&app);
    let writer_name = writer.new_user().await;
    let post = writer.write("Spam spam spam", "Buy now.").await;
    let staff = Web::new(&app);
    let staff_name = staff.new_user().await;

    // Not staff yet: no buttons, and the actions are refused.
    let shown = staff.get(&post).await;
    assert!(
        !shown.html.contains("Unpublish (moderation)"),
        "{}",
        shown.html
    );
    let refused = staff
        .submit(&post, &format!("/post/{}/unpublish/", id_of(&post)), &[])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.html);

    app.db
        .execute(
            "UPDATE users SET is_staff = true WHERE username = $1",
            &[&staff_name],
        )
        .await
        .unwrap();
    staff
        .get(&post)
        .await
        .assert_contains("Unpublish (moderation)");
    // Not on their own posts: they edit those.
    let own = staff.write("Staff notes", "Mine.").await;
    assert!(
        !staff
            .get(&own)
            .await
            .html
            .contains("Unpublish (moderation)")
    );

    let done = staff
        .submit(&post, &format!("/post/{}/unpublish/", id_of(&post)), &[])
        .await;
    assert_eq!(done.location(), "/");
    staff
        .get("/")
        .await
        .assert_contains("The post has been unpublished");
    assert_eq!(
        Web::new(&app).get(&post).await.status,
        StatusCode::NOT_FOUND
    );
    // Its author still has it, as a draft.
    writer
        .get(&post)
        .await
        .assert_contains("<strong class=\"badge\">Draft</strong>");

    // Deactivating the writer logs them out everywhere.
    let author_page = format!("/user/{writer_name}");
    staff
        .get(&author_page)
        .await
        .assert_contains("Deactivate account (moderation)");
    let gone = staff
        .submit(&author_page, &format!("{author_page}/deactivate/"), &[])
        .await;
    assert_eq!(gone.location(), author_page);
    let profile = writer.get("/profile/").await;
    assert!(
        profile.status.is_redirection() && profile.location().starts_with("/login/"),
        "a deactivated account is still logged in: {}",
        profile.status
    );
    let again = writer
        .login(&writer_name, integration_tests::PASSWORD)
        .await;
    // The same answer as a wrong password: the account is not revealed.
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        again.html
    );
    again.assert_contains("Please enter a correct username");
    let log: Vec<String> = app
        .db
        .query("SELECT action FROM moderation_actions ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(log, ["unpublish_post", "deactivate_account"]);
}
