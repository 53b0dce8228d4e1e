//! The pages for writers: a new post, updating and deleting one's own.

use askama::Template;
use chrono::{DateTime, NaiveDateTime, Utc};
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::session::{self, Flash, Visitor};
use super::{FieldErrors, Layout, PageError, PostView, render, require_login, see_other};
use crate::error::ValidationErrors;
use crate::posts::{
    CreatePostError, DeletePostError, GetPostError, NewPost, PostEdit, PostFormat, Publishing,
    UpdatePostError,
};
use crate::startup::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
    /// `markdown` or `plain` (a select; absent counts as Markdown, the
    /// form's default).
    #[serde(default)]
    format: Option<String>,
    /// The button used: `publish` or `draft` (absent: pressing Enter in
    /// a browser that sends no button, or an older form: publish a new
    /// post, keep an edited one as it is).
    #[serde(default)]
    action: Option<String>,
    /// An optional publication time, `YYYY-MM-DDTHH:MM[:SS]` in UTC (a
    /// `datetime-local` field).
    #[serde(default)]
    publish_at: String,
    /// Tags, separated by commas ("Rust, web dev").
    #[serde(default)]
    tags: String,
    /// A checkbox: present (`on`) when the post's comments are closed.
    #[serde(default)]
    comments_closed: Option<String>,
}

/// The form's field for the domain's `published_at`.
const FIELD_NAMES: &[(&str, &str)] = &[("published_at", "publish_at")];

impl PostForm {
    /// The tags typed, split at commas; empty entries (`a,,b`, a trailing
    /// comma) are not tags.
    fn tag_list(&self) -> Vec<String> {
        self.tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The format and the publication asked for, or every field in error.
    fn choices(&self) -> Result<(PostFormat, Publishing), ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let format = errors.check(PostFormat::parse(
            self.format.as_deref().unwrap_or("markdown"),
        ));
        let at = errors.check(parse_publish_at(&self.publish_at));
        let publishing = match self.action.as_deref() {
            // A draft has no time; the field may still show a scheduled
            // post's, which "Save draft" sets aside rather than refuses.
            Some("draft") => Some(Publishing::draft()),
            Some("publish") => at.map(Publishing::published),
            None => at.map(|at| Publishing { status: None, at }),
            Some(_) => {
                errors.0.push(crate::error::ValidationError::new(
                    "action",
                    "invalid_action",
                    "Choose Publish or Save draft.",
                ));
                None
            }
        };
        match (format, publishing) {
            (Some(format), Some(publishing)) if errors.0.is_empty() => Ok((format, publishing)),
            _ => Err(errors),
        }
    }

    fn markdown(&self) -> bool {
        self.format.as_deref() != Some("plain")
    }
}

/// The `datetime-local` field's value as a UTC instant; empty is none.
fn parse_publish_at(raw: &str) -> Result<Option<DateTime<Utc>>, crate::error::ValidationError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let parsed = (raw.len() <= 32)
        .then(|| {
            [
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(raw, f).ok())
        })
        .flatten();
    match parsed {
        Some(at) => Ok(Some(at.and_utc())),
        None => Err(crate::error::ValidationError::new(
            "published_at",
            "invalid_published_at",
            "Enter a date and time like 2026-05-01T09:30 (UTC), or leave it empty.",
        )),
    }
}

/// The field's value for a post: its time if it is scheduled (so that
/// saving keeps it), empty otherwise (saving keeps a past date without
/// it being shown to the second).
fn publish_at_value(post: &crate::posts::Post, now: DateTime<Utc>) -> String {
    match post.published_at {
        Some(at) if at > now => at.format("%Y-%m-%dT%H:%M:%S").to_string(),
        _ => String::new(),
    }
}

/// The message after saving, by what became of the post.
fn saved_flash(post: &crate::posts::Post, now: DateTime<Utc>, created: bool) -> Flash {
    match post.published_at {
        None => Flash::DraftSaved,
        Some(at) if at > now => Flash::PostScheduled,
        Some(_) if created => Flash::PostCreated,
        Some(_) => Flash::PostUpdated,
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

#[derive(Template)]
#[template(path = "post_form.html")]
struct PostFormPage {
    layout: Layout,
    heading: &'static str,
    submit: &'static str,
    action: String,
    cancel: String,
    title: String,
    content: String,
    markdown: bool,
    publish_at: String,
    /// The tags as typed (or the post's, joined with `, `).
    tags: String,
    /// The secondary button's text ("Save draft", or for a post readers
    /// see, one that says it unpublishes).
    draft_label: &'static str,
    /// The "close comments" checkbox.
    comments_closed: bool,
    errors: FieldErrors,
}

const SAVE_DRAFT: &str = "Save draft";
const UNPUBLISH: &str = "Unpublish (save as draft)";

#[derive(Template)]
#[template(path = "post_delete.html")]
struct DeletePage {
    layout: Layout,
    post: PostView,
}

fn new_post_page(
    state: &AppState,
    visitor: &Visitor,
    jar: &CookieJar,
    form: PostForm,
    errors: FieldErrors,
) -> PostFormPage {
    PostFormPage {
        layout: Layout::new(state, visitor, jar, "New post"),
        heading: "New post",
        submit: "Publish",
        action: "/post/new/".into(),
        cancel: "/".into(),
        markdown: form.markdown(),
        title: form.title,
        content: form.content,
        publish_at: form.publish_at,
        tags: form.tags,
        draft_label: SAVE_DRAFT,
        comments_closed: form.comments_closed.is_some(),
        errors,
    }
}

#[handler]
pub async fn new_form(req: &Request, state: Data<&AppState>, jar: &CookieJar) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if let Err(redirect) = require_login(&visitor, "/post/new/") {
        return redirect.response();
    }
    let page = new_post_page(
        &state,
        &visitor,
        jar,
        PostForm::default(),
        FieldErrors::default(),
    );
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn create(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Form(form): Form<PostForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, "/post/new/") {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let created = match form.choices() {
        Ok((format, publishing)) => {
            state
                .posts
                .create(
                    &user,
                    NewPost {
                        title: &form.title,
                        content: &form.content,
                        format,
                        publishing,
                        tags: &form.tag_list(),
                        comments_closed: form.comments_closed.is_some(),
                    },
                )
                .await
        }
        Err(e) => Err(CreatePostError::Invalid(e)),
    };
    match created {
        Ok(post) => {
            let flash = saved_flash(&post, state.posts.now(), true);
            session::set_flash(&state, jar, flash);
            see_other(&super::post_path(&post))
        }
        Err(CreatePostError::Invalid(errors)) => {
            let errors = FieldErrors::from_validation(&errors, FIELD_NAMES);
            let page = new_post_page(&state, &visitor, jar, form, errors);
            render(&page, StatusCode::UNPROCESSABLE_ENTITY, &visitor).into_response(req)
        }
        Err(CreatePostError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

/// The post `id` if the visitor wrote it; otherwise the page to show.
async fn own_post(
    state: &AppState,
    visitor: &Visitor,
    id: &str,
) -> Result<crate::posts::Post, PageError> {
    let not_found = PageError::NotFound("There is no such post. It may have been deleted.");
    let (id, _) =
        super::parse_post_segment(id).ok_or(PageError::NotFound("There is no such post."))?;
    let post = match state.posts.find(id, visitor.user.as_ref()).await {
        Ok(post) => post,
        Err(GetPostError::NotFound) => return Err(not_found),
        Err(GetPostError::Failed(e)) => return Err(e.into()),
    };
    let mine = visitor
        .user
        .as_ref()
        .is_some_and(|u| u.id() == post.author.id);
    if !mine {
        return Err(PageError::Forbidden(
            "Only the author of a post may change or delete it.",
        ));
    }
    Ok(post)
}

#[handler]
pub async fn update_form(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<String>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if let Err(redirect) = require_login(&visitor, &format!("/post/{id}/update/")) {
        return redirect.response();
    }
    let post = match own_post(&state, &visitor, &id).await {
        Ok(post) => post,
        Err(e) => return e.page(&state, &visitor, jar, req),
    };
    let now = state.posts.now();
    let public = post.is_public_at(now);
    let page = PostFormPage {
        layout: Layout::new(&state, &visitor, jar, "Update post"),
        heading: "Update post",
        submit: if public { "Update" } else { "Publish" },
        action: format!("/post/{}/update/", post.id),
        cancel: super::post_path(&post),
        markdown: post.format == PostFormat::Markdown,
        publish_at: publish_at_value(&post, now),
        tags: post.tags.join(", "),
        draft_label: if public { UNPUBLISH } else { SAVE_DRAFT },
        comments_closed: post.comments_closed,
        title: post.title,
        content: post.content,
        errors: FieldErrors::default(),
    };
    render(&page, StatusCode::OK, &visitor).into_response(req)
}

#[handler]
pub async fn update(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<String>,
    Form(form): Form<PostForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, &format!("/post/{id}/update/")) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let Some((id, _)) = super::parse_post_segment(&id) else {
        return PageError::NotFound("There is no such post.").page(&state, &visitor, jar, req);
    };
    let action = format!("/post/{id}/update/");
    let updated = match form.choices() {
        Ok((format, publishing)) => {
            state
                .posts
                .update(
                    &user,
                    id,
                    PostEdit {
                        title: Some(&form.title),
                        content: Some(&form.content),
                        format: Some(format),
                        publishing,
                        tags: Some(&form.tag_list()),
                        comments_closed: Some(form.comments_closed.is_some()),
                    },
                )
                .await
        }
        Err(e) => Err(UpdatePostError::Invalid(e)),
    };
    match updated {
        Ok(post) => {
            let flash = saved_flash(&post, state.posts.now(), false);
            session::set_flash(&state, jar, flash);
            see_other(&super::post_path(&post))
        }
        Err(UpdatePostError::Invalid(errors)) => {
            let page = PostFormPage {
                layout: Layout::new(&state, &visitor, jar, "Update post"),
                heading: "Update post",
                submit: "Publish",
                // The post's own page redirects to its canonical URL.
                cancel: format!("/post/{id}/"),
                action,
                markdown: form.markdown(),
                title: form.title,
                content: form.content,
                publish_at: form.publish_at,
                tags: form.tags,
                draft_label: SAVE_DRAFT,
                comments_closed: form.comments_closed.is_some(),
                errors: FieldErrors::from_validation(&errors, FIELD_NAMES),
            };
            render(&page, StatusCode::UNPROCESSABLE_ENTITY, &visitor).into_response(req)
        }
        Err(UpdatePostError::NotFound) => {
            PageError::NotFound("There is no such post. It may have been deleted.")
                .page(&state, &visitor, jar, req)
        }
        Err(UpdatePostError::NotAuthor) => {
            PageError::Forbidden("Only the author of a post may change it.")
                .page(&state, &visitor, jar, req)
        }
        Err(UpdatePostError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

#[handler]
pub async fn delete_form(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<String>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    if let Err(redirect) = require_login(&visitor, &format!("/post/{id}/delete/")) {
        return redirect.response();
    }
    match own_post(&state, &visitor, &id).await {
        Ok(post) => {
            let page = DeletePage {
                layout: Layout::new(&state, &visitor, jar, "Delete post"),
                post: PostView::new(post, &visitor, state.posts.now()),
            };
            render(&page, StatusCode::OK, &visitor).into_response(req)
        }
        Err(e) => e.page(&state, &visitor, jar, req),
    }
}

#[handler]
pub async fn delete(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, &format!("/post/{id}/delete/")) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let Some((id, _)) = super::parse_post_segment(&id) else {
        return PageError::NotFound("There is no such post.").page(&state, &visitor, jar, req);
    };
    match state.posts.delete(&user, id).await {
        Ok(()) => {
            session::set_flash(&state, jar, Flash::PostDeleted);
            see_other("/")
        }
        Err(DeletePostError::NotFound) => {
            PageError::NotFound("There is no such post. It may have been deleted already.")
                .page(&state, &visitor, jar, req)
        }
        Err(DeletePostError::NotAuthor) => {
            PageError::Forbidden("Only the author of a post may delete it.")
                .page(&state, &visitor, jar, req)
        }
        Err(DeletePostError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}
