//! The pages for writers: a new post, updating and deleting one's own.

use askama::Template;
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::session::{self, Flash, Visitor};
use super::{FieldErrors, Layout, PageError, PostView, render, require_login, see_other};
use crate::posts::{CreatePostError, DeletePostError, GetPostError, UpdatePostError};
use crate::startup::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
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
    match state.posts.create(&user, &form.title, &form.content).await {
        Ok(post) => {
            session::set_flash(&state, jar, Flash::PostCreated);
            see_other(&super::post_url(post.id))
        }
        Err(CreatePostError::Invalid(errors)) => {
            let errors = FieldErrors::from_validation(&errors, &[]);
            let page = new_post_page(&state, &visitor, jar, form.title, form.content, errors);
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
    let id = id
        .parse::<i64>()
        .map_err(|_| PageError::NotFound("There is no such post."))?;
    let post = match state.posts.get(id).await {
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
    let url = super::post_url(post.id);
    let page = PostFormPage {
        layout: Layout::new(&state, &visitor, jar, "Update post"),
        heading: "Update post",
        submit: "Update",
        action: format!("{url}update/"),
        cancel: url,
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
    let Ok(id) = id.parse::<i64>() else {
        return PageError::NotFound("There is no such post.").page(&state, &visitor, jar, req);
    };
    let url = super::post_url(id);
    match state
        .posts
        .update(&user, id, Some(&form.title), Some(&form.content))
        .await
    {
        Ok(_) => {
            session::set_flash(&state, jar, Flash::PostUpdated);
            see_other(&url)
        }
        Err(UpdatePostError::Invalid(errors)) => {
            let page = PostFormPage {
                layout: Layout::new(&state, &visitor, jar, "Update post"),
                heading: "Update post",
                submit: "Update",
                action: format!("{url}update/"),
                cancel: url,
                title: form.title,
                content: form.content,
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
    let Ok(id) = id.parse::<i64>() else {
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
