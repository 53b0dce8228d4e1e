//! Drafts and scheduled posts on the website: the form's "Save draft" and
//! "Publish" with an optional time, the author's view of them, and that no
//! page, feed or sitemap shows them to anybody else (anonymous or logged
//! in).

use chrono::Utc;
use integration_tests::TestApp;
use reqwest::StatusCode;

use super::{Page, Web, id_of};

async fn save(web: &Web<'_>, title: &str, action: &str, publish_at: &str) -> Page {
    web.submit(
        "/post/new/",
        "/post/new/",
        &[
            ("title", title),
            ("content", "Some text."),
            ("action", action),
            ("publish_at", publish_at),
        ],
    )
    .await
}

#[tokio::test]
async fn drafts_and_scheduled_posts_stay_off_every_page_feed_and_sitemap_but_their_authors() {
    let app = TestApp::spawn().await;
    let writer = Web::new(&app);
    let author = writer.new_user().await;

    let public = writer.write("Visible words", "Out there.").await;
    let saved = save(&writer, "Secret draft", "draft", "").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.html);
    let draft = saved.location().to_owned();
    let shown = writer.get(&draft).await;
    shown.assert_contains("Your draft has been saved. Only you can see it.");
    shown.assert_contains("<strong class=\"badge\">Draft</strong>");
    shown.assert_contains("Only you can see this post until it is published.");
    let later = (Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%dT%H:%M");
    let saved = save(&writer, "Future plans", "publish", &later.to_string()).await;
    let scheduled = saved.location().to_owned();
    let shown = writer.get(&scheduled).await;
    shown.assert_contains("Your post is scheduled.");
    shown.assert_contains("Scheduled for ");

    // The author finds both on their own page, marked.
    let mine = writer.get(&format!("/user/{author}")).await;
    for title in ["Visible words", "Secret draft", "Future plans"] {
        mine.assert_contains(title);
    }
    mine.assert_contains("<strong class=\"badge\">Draft</strong>");
    mine.assert_contains("Scheduled for ");
    // The home page, the feeds and the sitemap are the readers' (the same
    // for the author).
    let anonymous = Web::new(&app);
    let other = Web::new(&app);
    other.new_user().await;
    let author_page = format!("/user/{author}");
    let author_atom = format!("/user/{author}/atom.xml");
    let author_rss = format!("/user/{author}/rss.xml");
    for (who, web) in [
        ("anonymous", &anonymous),
        ("another user", &other),
        ("the author", &writer),
    ] {
        let mut paths = vec![
            "/",
            "/feeds/atom.xml",
            "/feeds/rss.xml",
            "/sitemap.xml",
            author_atom.as_str(),
            author_rss.as_str(),
        ];
        if who != "the author" {
            paths.push(author_page.as_str());
        }
        for path in paths {
            let page = web.get(path).await;
            assert_eq!(page.status, StatusCode::OK, "{who} {path}");
            // The sitemap has URLs, not titles.
            page.assert_contains(if path == "/sitemap.xml" {
                &public
            } else {
                "Visible words"
            });
            for hidden in [
                "Secret draft",
                "Future plans",
                draft.as_str(),
                scheduled.as_str(),
            ] {
                assert!(
                    !page.html.contains(hidden),
                    "{who} sees {hidden:?} on {path}:\n{}",
                    page.html
                );
            }
            if path.ends_with(".xml") {
                let id = id_of(&public);
                assert!(page.html.contains(&format!("/post/{id}")), "{path}");
            }
        }
        if who == "the author" {
            continue;
        }
        // The posts themselves, their old URLs and their forms: not found
        // (not "forbidden": nobody else learns they exist).
        for hidden in [&draft, &scheduled] {
            let id = id_of(hidden);
            for path in [
                hidden.clone(),
                format!("/post/{id}/"),
                format!("/post/{id}/update/"),
                format!("/post/{id}/delete/"),
            ] {
                let page = web.get(&path).await;
                let form = path.ends_with("/update/") || path.ends_with("/delete/");
                let expected = if who == "anonymous" && form {
                    // Forms send anonymous visitors to log in first.
                    StatusCode::SEE_OTHER
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(page.status, expected, "{who} {path}: {}", page.html);
                assert!(!page.html.contains("Secret draft") && !page.html.contains("Future"));
            }
        }
    }
    // Another user's forms, sent anyway, change nothing.
    let id = id_of(&draft);
    let token_page = other.get("/post/new/").await;
    let csrf = token_page.csrf();
    let update = other
        .post(
            &format!("/post/{id}/update/"),
            &[
                ("csrf", csrf.as_str()),
                ("title", "Taken"),
                ("content", "x"),
                ("action", "publish"),
            ],
        )
        .await;
    assert_eq!(update.status, StatusCode::NOT_FOUND);
    let delete = other
        .post(&format!("/post/{id}/delete/"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    writer.get(&draft).await.assert_contains("Secret draft");
}

#[tokio::test]
async fn a_draft_is_saved_then_published_through_the_form() {
    let app = TestApp::spawn().await;
    let writer = Web::new(&app);
    writer.new_user().await;
    let reader = Web::new(&app);

    let form = writer.get("/post/new/").await;
    form.assert_contains("name=\"action\" value=\"publish\">Publish</button>");
    form.assert_contains("name=\"action\" value=\"draft\" class=\"secondary\">Save draft</button>");
    form.assert_contains("<label for=\"publish_at\">");

    // A time that is no time: the form again, with the input and a message.
    let bad = save(&writer, "Work in progress", "publish", "next tuesday").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    bad.assert_contains("value=\"next tuesday\"");
    bad.assert_contains("Enter a date and time like 2026-05-01T09:30 (UTC)");
    bad.assert_contains("value=\"Work in progress\"");

    let draft = save(&writer, "Work in progress", "draft", "").await;
    let path = draft.location().to_owned();
    let id = id_of(&path);
    assert_eq!(reader.get(&path).await.status, StatusCode::NOT_FOUND);
    let edit = format!("/post/{id}/update/");
    let form = writer.get(&edit).await;
    form.assert_contains(">Publish</button>");
    form.assert_contains(">Save draft</button>");

    let published = writer
        .submit(
            &edit,
            &edit,
            &[
                ("title", "Work in progress"),
                ("content", "Done now."),
                ("action", "publish"),
                ("publish_at", ""),
            ],
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::SEE_OTHER,
        "{}",
        published.html
    );
    let page = reader.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_contains("Done now.");
    assert!(!page.html.contains("class=\"badge\""));
    reader.get("/").await.assert_contains("Work in progress");

    // A published post's form says what the second button does.
    let form = writer.get(&edit).await;
    form.assert_contains(">Update</button>");
    form.assert_contains(">Unpublish (save as draft)</button>");
    // Scheduling it again takes it off the site until then; its time is
    // kept in the form, and "Save draft" sets it aside.
    let later = (Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:00")
        .to_string();
    let fields = |action: &'static str, at: String| {
        vec![
            ("title", "Work in progress".to_owned()),
            ("content", "Done now.".to_owned()),
            ("action", action.to_owned()),
            ("publish_at", at),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let (writer, edit) = (&writer, &edit);
        async move {
            let borrowed: Vec<(&str, &str)> =
                fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            writer.submit(edit, edit, &borrowed).await
        }
    };
    let rescheduled = send(fields("publish", later.clone())).await;
    assert_eq!(rescheduled.status, StatusCode::SEE_OTHER);
    assert_eq!(reader.get(&path).await.status, StatusCode::NOT_FOUND);
    writer
        .get(&edit)
        .await
        .assert_contains(&format!("value=\"{later}\""));
    let unpublished = send(fields("draft", later)).await;
    assert_eq!(
        unpublished.status,
        StatusCode::SEE_OTHER,
        "{}",
        unpublished.html
    );
    writer
        .get(&path)
        .await
        .assert_contains("<strong class=\"badge\">Draft</strong>");
    assert_eq!(reader.get(&path).await.status, StatusCode::NOT_FOUND);
    assert!(!reader.get("/").await.html.contains("Work in progress"));
}
