//! Staff moderation through the API (issue 11): only staff (`users.is_staff`)
//! may moderate; they unpublish others' posts (gone for everybody but the
//! author, from every list, search and tag counts), delete others'
//! comments, deactivate accounts (sessions revoked at once, no log-in) and
//! reactivate them; every such act is in the moderation log, newest first.

use chrono::Utc;
use integration_tests::json::{id_of, ids, time, urlencode};
use integration_tests::{TestApp, TestUser, expect_problem, expect_status, random_suffix};
use reqwest::Response;
use serde_json::{Value, json};

/// Makes `who` staff with what `blog staff grant` runs.
async fn make_staff(app: &TestApp, who: &TestUser) {
    blog::moderation::set_staff(&app.settings, &who.username, true)
        .await
        .expect("blog staff grant");
}

async fn unpublish(app: &TestApp, post: i64, body: Value, token: Option<&str>) -> Response {
    app.post_json(
        &format!("/api/moderation/posts/{post}/unpublish"),
        &body,
        token,
    )
    .await
}

/// `POST /api/moderation/users/{username}/{action}` (`deactivate`, `reactivate`).
async fn account_action(
    app: &TestApp,
    action: &str,
    username: &str,
    body: Value,
    token: Option<&str>,
) -> Response {
    app.post_json(
        &format!("/api/moderation/users/{username}/{action}"),
        &body,
        token,
    )
    .await
}

/// Checks a ModerationAction: what, by whom, on what, why, and when (now).
fn assert_action(
    action: &Value,
    kind: &str,
    moderator: &TestUser,
    target_id: i64,
    target: &str,
    reason: &str,
) {
    assert!(action["id"].as_i64().is_some(), "{action}");
    assert_eq!(action["action"], kind, "{action}");
    assert_eq!(action["moderator"], moderator.username.as_str(), "{action}");
    assert_eq!(action["target_id"], target_id, "{action}");
    assert_eq!(action["target"], target, "{action}");
    assert_eq!(action["reason"], reason, "{action}");
    let at = time(&action["at"]);
    let now = Utc::now();
    assert!(
        at <= now && at > now - chrono::Duration::minutes(5),
        "{action}"
    );
}

/// Every action of the log, following `next_cursor`; no page above `limit`.
async fn log(app: &TestApp, staff: &TestUser, limit: u32) -> Vec<Value> {
    let mut all = Vec::new();
    let mut url = format!("/api/moderation/actions?limit={limit}");
    for _ in 0..100 {
        let page = expect_status(app.get_authed(&url, &staff.token).await, 200).await;
        let items = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {page}"));
        assert!(items.len() <= limit as usize, "{url}: {page}");
        all.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                url = format!(
                    "/api/moderation/actions?limit={limit}&cursor={}",
                    urlencode(c)
                )
            }
            None => return all,
        }
    }
    panic!("pagination of the moderation log did not end");
}

/// Every moderation endpoint: 401 without a token, 403 `forbidden` for a
/// user who is not staff (whatever the target, so nothing leaks), nothing
/// changed. The profile says who is staff, read at each request.
#[tokio::test]
async fn moderation_is_for_staff_only_and_the_profile_says_who_is_staff() {
    let app = TestApp::spawn().await;
    let plain = app.new_user().await;
    let target = app.new_user().await;
    let moderator = app.new_user().await;
    let post = id_of(&app.create_post(&target.token, "Innocent", "x").await);

    for who in [&plain, &moderator] {
        let me = expect_status(app.get_authed("/api/me", &who.token).await, 200).await;
        assert_eq!(me["is_staff"], false, "nobody is staff by default: {me}");
    }

    for token in [None, Some(plain.token.as_str())] {
        let (status, code) = match token {
            None => (401, "unauthorized"),
            Some(_) => (403, "forbidden"),
        };
        for post in [post, 999_999_999] {
            expect_problem(
                unpublish(&app, post, json!({"reason": "no"}), token).await,
                status,
                code,
            )
            .await;
        }
        for name in [target.username.as_str(), "nobody_at_all"] {
            expect_problem(
                account_action(&app, "deactivate", name, json!({}), token).await,
                status,
                code,
            )
            .await;
            expect_problem(
                account_action(&app, "reactivate", name, json!({}), token).await,
                status,
                code,
            )
            .await;
        }
        let resp = match token {
            Some(t) => app.get_authed("/api/moderation/actions", t).await,
            None => app.get("/api/moderation/actions").await,
        };
        expect_problem(resp, status, code).await;
    }
    // Nothing happened: the post is public, the target's session works.
    expect_status(app.get(&format!("/api/posts/{post}")).await, 200).await;
    expect_status(app.get_authed("/api/me", &target.token).await, 200).await;

    // Made staff (as `blog staff grant` does): the same session may moderate.
    make_staff(&app, &moderator).await;
    let me = expect_status(app.get_authed("/api/me", &moderator.token).await, 200).await;
    assert_eq!(me["is_staff"], true, "{me}");
    let others = expect_status(app.get_authed("/api/me", &plain.token).await, 200).await;
    assert_eq!(others["is_staff"], false, "{others}");
    let empty = expect_status(
        app.get_authed("/api/moderation/actions", &moderator.token)
            .await,
        200,
    )
    .await;
    assert_eq!(ids(&empty), Vec::<i64>::new(), "nothing was done: {empty}");
    assert!(empty["next_cursor"].is_null(), "{empty}");

    // Revoked (as `blog staff revoke` does): forbidden again.
    app.db
        .execute(
            "UPDATE users SET is_staff = false WHERE username = $1",
            &[&moderator.username],
        )
        .await
        .unwrap();
    expect_problem(
        app.get_authed("/api/moderation/actions", &moderator.token)
            .await,
        403,
        "forbidden",
    )
    .await;
    let me = expect_status(app.get_authed("/api/me", &moderator.token).await, 200).await;
    assert_eq!(me["is_staff"], false, "{me}");
}

/// Staff unpublish another's post: it becomes the author's draft, gone for
/// everybody else by id, from the blog's and the author's public list, from
/// search and from tag counts (through warm caches); once only; the reason
/// is bounded.
#[tokio::test]
async fn staff_unpublish_a_post_and_only_its_author_still_sees_it() {
    let app = TestApp::spawn().await;
    let staff = app.new_user().await;
    make_staff(&app, &staff).await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let word = format!("zq{}", random_suffix(8));
    let tag = format!("mod{}", random_suffix(6));
    let title = format!("Buy {word} now");
    let spam = id_of(
        &expect_status(
            app.post_json(
                "/api/posts",
                &json!({"title": title, "content": format!("cheap {word} here"), "tags": [tag]}),
                Some(&author.token),
            )
            .await,
            201,
        )
        .await,
    );
    let fine = id_of(&app.create_post(&author.token, "Fine", "harmless").await);
    let spam_path = format!("/api/posts/{spam}");
    let search = format!("/api/search?q={word}");
    let author_list = format!("/api/users/{}/posts", author.username);

    // Seen everywhere first (and so cached).
    assert_eq!(
        ids(&expect_status(app.get("/api/posts").await, 200).await),
        vec![fine, spam]
    );
    let found = expect_status(app.get(&search).await, 200).await;
    assert_eq!(found["items"][0]["post"]["id"], spam, "{found}");
    let tags = expect_status(app.get("/api/tags?limit=100").await, 200).await;
    assert!(
        tags["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tag"] == tag.as_str() && t["posts"] == 1),
        "{tags}"
    );
    expect_status(app.get_authed(&spam_path, &reader.token).await, 200).await;

    let action = expect_status(
        unpublish(&app, spam, json!({"reason": "spam"}), Some(&staff.token)).await,
        200,
    )
    .await;
    assert_action(&action, "unpublish_post", &staff, spam, &title, "spam");

    // Gone for everybody else.
    expect_problem(app.get(&spam_path).await, 404, "not_found").await;
    expect_problem(
        app.get_authed(&spam_path, &reader.token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        ids(&expect_status(app.get("/api/posts").await, 200).await),
        vec![fine]
    );
    assert_eq!(
        ids(&expect_status(app.get(&author_list).await, 200).await),
        vec![fine]
    );
    let found = expect_status(app.get(&search).await, 200).await;
    assert_eq!(
        found["items"].as_array().map(Vec::len),
        Some(0),
        "not found any more: {found}"
    );
    let tags = expect_status(app.get("/api/tags?limit=100").await, 200).await;
    assert!(
        !tags["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["tag"] == tag.as_str()),
        "its only post is unpublished: {tags}"
    );
    // The author still has it, as a draft.
    let own = expect_status(app.get_authed(&spam_path, &author.token).await, 200).await;
    assert_eq!(own["status"], "draft", "{own}");
    assert_eq!(own["title"], title.as_str());
    let own_list = expect_status(app.get_authed(&author_list, &author.token).await, 200).await;
    assert!(ids(&own_list).contains(&spam), "{own_list}");

    // Once only; drafts and unknown posts cannot be unpublished.
    expect_problem(
        unpublish(&app, spam, json!({}), Some(&staff.token)).await,
        409,
        "not_published",
    )
    .await;
    let draft = id_of(
        &expect_status(
            app.post_json(
                "/api/posts",
                &json!({"title": "Unfinished", "content": "x", "status": "draft"}),
                Some(&author.token),
            )
            .await,
            201,
        )
        .await,
    );
    expect_problem(
        unpublish(&app, draft, json!({}), Some(&staff.token)).await,
        409,
        "not_published",
    )
    .await;
    expect_problem(
        unpublish(&app, 999_999_999, json!({}), Some(&staff.token)).await,
        404,
        "not_found",
    )
    .await;

    // A reason is at most 500 characters; a refused request changes nothing.
    let problem = expect_problem(
        unpublish(
            &app,
            fine,
            json!({"reason": "r".repeat(501)}),
            Some(&staff.token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");
    expect_status(app.get(&format!("/api/posts/{fine}")).await, 200).await;
    // No reason: recorded as "".
    let action = expect_status(
        unpublish(&app, fine, json!({}), Some(&staff.token)).await,
        200,
    )
    .await;
    assert_action(&action, "unpublish_post", &staff, fine, "Fine", "");
    assert_eq!(log(&app, &staff, 50).await.len(), 2, "two unpublications");
}

/// Staff delete someone else's comment on someone else's post, and the log
/// records it; the comment's author, the post's author or staff deleting
/// their own comment do not moderate and record nothing.
#[tokio::test]
async fn staff_delete_others_comments_and_only_that_is_logged() {
    let app = TestApp::spawn().await;
    let staff = app.new_user().await;
    make_staff(&app, &staff).await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let post = id_of(&app.create_post(&author.token, "Discussed", "x").await);
    let comments = format!("/api/posts/{post}/comments");
    let mut written = Vec::new();
    for (who, content) in [
        (&reader, "Buy cheap watches"),
        (&reader, "my own mistake"),
        (&staff, "staff speaking as a reader"),
        (&reader, "rude"),
    ] {
        let c = expect_status(
            app.post_json(&comments, &json!({"content": content}), Some(&who.token))
                .await,
            201,
        )
        .await;
        written.push(id_of(&c));
    }
    let [spam, own, staffs, rude] = written[..] else {
        unreachable!()
    };
    let delete = |id: i64, who: &TestUser| {
        let (app, token) = (&app, who.token.clone());
        async move {
            app.delete(&format!("/api/comments/{id}"), Some(&token))
                .await
        }
    };

    expect_status(delete(spam, &staff).await, 204).await;
    let page = expect_status(app.get(&comments).await, 200).await;
    assert_eq!(ids(&page), vec![own, staffs, rude], "{page}");
    let post_now = expect_status(app.get(&format!("/api/posts/{post}")).await, 200).await;
    assert_eq!(post_now["comment_count"], 3, "{post_now}");
    let actions = log(&app, &staff, 50).await;
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["action"], "delete_comment");
    assert_eq!(actions[0]["moderator"], staff.username.as_str());
    assert_eq!(actions[0]["target_id"], spam);
    assert_eq!(actions[0]["reason"], "");
    assert!(
        actions[0]["target"]
            .as_str()
            .is_some_and(|t| t.contains("cheap watches")),
        "the comment as it was: {}",
        actions[0]
    );

    // Not moderation: the comment's author, staff on their own comment, the
    // post's author on their post.
    expect_status(delete(own, &reader).await, 204).await;
    expect_status(delete(staffs, &staff).await, 204).await;
    expect_status(delete(rude, &author).await, 204).await;
    assert_eq!(
        expect_status(app.get(&comments).await, 200).await["items"],
        json!([])
    );
    let actions = log(&app, &staff, 50).await;
    assert_eq!(actions.len(), 1, "nothing more recorded: {actions:?}");
}

/// Deactivation revokes every session at once and refuses log-in exactly
/// like a wrong password, until reactivated (old sessions stay revoked).
/// Not twice, not oneself, not an unknown user; the reason is bounded.
#[tokio::test]
async fn deactivated_accounts_are_locked_out_until_reactivated() {
    let app = TestApp::spawn().await;
    let staff = app.new_user().await;
    make_staff(&app, &staff).await;
    let target = app.new_user().await;
    let second = app.token_for(&target.username, &target.password).await;
    let target_id = target.id.as_i64().expect("numeric user id");
    for token in [&target.token, &second] {
        expect_status(app.get_authed("/api/me", token).await, 200).await;
    }

    let action = expect_status(
        account_action(
            &app,
            "deactivate",
            &target.username,
            json!({"reason": "abuse"}),
            Some(&staff.token),
        )
        .await,
        200,
    )
    .await;
    assert_action(
        &action,
        "deactivate_account",
        &staff,
        target_id,
        &target.username,
        "abuse",
    );
    // Every session, at once.
    for token in [&target.token, &second] {
        expect_problem(app.get_authed("/api/me", token).await, 401, "unauthorized").await;
    }
    // The right password: the same answer as a wrong one.
    expect_problem(
        app.login(&target.username, &target.password).await,
        401,
        "invalid_credentials",
    )
    .await;
    expect_problem(
        account_action(
            &app,
            "deactivate",
            &target.username,
            json!({}),
            Some(&staff.token),
        )
        .await,
        409,
        "already_inactive",
    )
    .await;
    expect_problem(
        account_action(
            &app,
            "deactivate",
            &staff.username,
            json!({}),
            Some(&staff.token),
        )
        .await,
        409,
        "own_account",
    )
    .await;
    expect_status(app.get_authed("/api/me", &staff.token).await, 200).await;
    expect_problem(
        account_action(
            &app,
            "deactivate",
            "nobody_at_all",
            json!({}),
            Some(&staff.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_problem(
        account_action(
            &app,
            "reactivate",
            "nobody_at_all",
            json!({}),
            Some(&staff.token),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let problem = expect_problem(
        account_action(
            &app,
            "reactivate",
            &target.username,
            json!({"reason": "x".repeat(501)}),
            Some(&staff.token),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");

    // Reactivated (so the refused request did not): log-in works again.
    let action = expect_status(
        account_action(
            &app,
            "reactivate",
            &target.username,
            json!({"reason": null}),
            Some(&staff.token),
        )
        .await,
        200,
    )
    .await;
    assert_action(
        &action,
        "reactivate_account",
        &staff,
        target_id,
        &target.username,
        "",
    );
    expect_problem(
        account_action(
            &app,
            "reactivate",
            &target.username,
            json!({}),
            Some(&staff.token),
        )
        .await,
        409,
        "already_active",
    )
    .await;
    let fresh = app.token_for(&target.username, &target.password).await;
    let me = expect_status(app.get_authed("/api/me", &fresh).await, 200).await;
    assert_eq!(me["username"], target.username.as_str());
    for token in [&target.token, &second] {
        expect_problem(app.get_authed("/api/me", token).await, 401, "unauthorized").await;
    }
}

/// The log holds every action, newest first, with who, what, on what and
/// why, and pages by cursor (each action once whatever the page size).
#[tokio::test]
async fn the_moderation_log_lists_every_action_newest_first_page_by_page() {
    let app = TestApp::spawn().await;
    let staff = app.new_user().await;
    make_staff(&app, &staff).await;
    let author = app.new_user().await;
    let reader = app.new_user().await;
    let kept = id_of(&app.create_post(&author.token, "Kept", "x").await);
    let pulled = id_of(&app.create_post(&author.token, "Pulled", "x").await);
    let comment = id_of(
        &expect_status(
            app.post_json(
                &format!("/api/posts/{kept}/comments"),
                &json!({"content": "spam spam spam"}),
                Some(&reader.token),
            )
            .await,
            201,
        )
        .await,
    );

    expect_status(
        unpublish(
            &app,
            pulled,
            json!({"reason": "off-topic"}),
            Some(&staff.token),
        )
        .await,
        200,
    )
    .await;
    expect_status(
        app.delete(&format!("/api/comments/{comment}"), Some(&staff.token))
            .await,
        204,
    )
    .await;
    expect_status(
        account_action(
            &app,
            "deactivate",
            &reader.username,
            json!({"reason": "spammer"}),
            Some(&staff.token),
        )
        .await,
        200,
    )
    .await;
    expect_status(
        account_action(
            &app,
            "reactivate",
            &reader.username,
            json!({}),
            Some(&staff.token),
        )
        .await,
        200,
    )
    .await;

    let reader_id = reader.id.as_i64().unwrap();
    let all = log(&app, &staff, 50).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert_action(
        &all[0],
        "reactivate_account",
        &staff,
        reader_id,
        &reader.username,
        "",
    );
    assert_action(
        &all[1],
        "deactivate_account",
        &staff,
        reader_id,
        &reader.username,
        "spammer",
    );
    assert_eq!(all[2]["action"], "delete_comment", "{}", all[2]);
    assert_eq!(all[2]["target_id"], comment, "{}", all[2]);
    assert_action(
        &all[3],
        "unpublish_post",
        &staff,
        pulled,
        "Pulled",
        "off-topic",
    );
    for pair in all.windows(2) {
        assert!(
            time(&pair[0]["at"]) >= time(&pair[1]["at"]),
            "newest first: {pair:?}"
        );
    }
    let expected: Vec<i64> = all.iter().map(id_of).collect();
    let mut distinct = expected.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{expected:?}");

    for limit in [1, 3, 100] {
        let paged: Vec<i64> = log(&app, &staff, limit).await.iter().map(id_of).collect();
        assert_eq!(paged, expected, "limit {limit}");
    }
    for bad in [0, 101] {
        expect_problem(
            app.get_authed(
                &format!("/api/moderation/actions?limit={bad}"),
                &staff.token,
            )
            .await,
            400,
            "malformed_request",
        )
        .await;
    }
}

#[tokio::test]
async fn the_staff_command_grants_and_revokes_by_username_in_any_case() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let me = |token: String| {
        let app = &app;
        async move { expect_status(app.get_authed("/api/me", &token).await, 200).await }
    };
    assert_eq!(me(user.token.clone()).await["is_staff"], json!(false));
    blog::moderation::set_staff(&app.settings, &user.username.to_uppercase(), true)
        .await
        .expect("grant");
    assert_eq!(me(user.token.clone()).await["is_staff"], json!(true));
    blog::moderation::set_staff(&app.settings, &user.username, false)
        .await
        .expect("revoke");
    assert_eq!(me(user.token.clone()).await["is_staff"], json!(false));
    let err = blog::moderation::set_staff(&app.settings, "nobody_here", true)
        .await
        .expect_err("an unknown username is an error");
    assert!(err.to_string().contains("nobody_here"), "{err:#}");
}
