//! The pages for writers: a new post, updating and deleting one's own.

use askama::Template;
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::session::{self, Flash, Visitor};
use super::{FieldErrors, Layout, PageError, PostView, render, require_login, see_other};
use crate::error::ValidationErrors;
use crate::posts::{CreatePostError, DeletePostError, GetPostError, PostFormat, UpdatePostError};
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
}

impl PostForm {
    fn format(&self) -> Result<PostFormat, ValidationErrors> {
        PostFormat::parse(self.format.as_deref().unwrap_or("markdown")).map_err(Into::into)
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
    errors: FieldErrors,
}

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
    title: String,
    content: String,
    markdown: bool,
    errors: FieldErrors,
) -> PostFormPage {
    PostFormPage {
        layout: Layout::new(state, visitor, jar, "New post"),
        heading: "New post",
        submit: "Post",
        action: "/post/new/".into(),
        cancel: "/".into(),
        title,
        content,
        markdown,
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
        String::new(),
        String::new(),
        true,
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
    let markdown = form.format.as_deref() != Some("plain");
    let created = match form.format() {
        Ok(format) => {
            state
                .posts
                .create(&user, &form.title, &form.content, format)
                .await
        }
        Err(e) => Err(CreatePostError::Invalid(e)),
    };
    match created {
        Ok(post) => {
            session::set_flash(&state, jar, Flash::PostCreated);
            see_other(&super::post_path(&post))
        }
        Err(CreatePostError::Invalid(errors)) => {
            let errors = FieldErrors::from_validation(&errors, &[]);
            let page = new_post_page(
                &state,
                &visitor,
                jar,
                form.title,
                form.content,
                markdown,
                errors,
            );
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
    let post = match state.posts.find(id).await {
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
    let page = PostFormPage {
        layout: Layout::new(&state, &visitor, jar, "Update post"),
        heading: "Update post",
        submit: "Update",
        action: format!("/post/{}/update/", post.id),
        cancel: super::post_path(&post),
        markdown: post.format == PostFormat::Markdown,
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
    let markdown = form.format.as_deref() != Some("plain");
    let updated = match form.format() {
        Ok(format) => {
            state
                .posts
                .update(
                    &user,
                    id,
                    Some(&form.title),
                    Some(&form.content),
                    Some(format),
                )
                .await
        }
        Err(e) => Err(UpdatePostError::Invalid(e)),
    };
    match updated {
        Ok(post) => {
            session::set_flash(&state, jar, Flash::PostUpdated);
            see_other(&super::post_path(&post))
        }
        Err(UpdatePostError::Invalid(errors)) => {
            let page = PostFormPage {
                layout: Layout::new(&state, &visitor, jar, "Update post"),
                heading: "Update post",
                submit: "Update",
                // The post's own page redirects to its canonical URL.
                cancel: format!("/post/{id}/"),
                action,
                title: form.title,
                content: form.content,
                markdown,
                errors: FieldErrors::from_validation(&errors, &[]),
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
                post: PostView::new(post, &visitor),
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
