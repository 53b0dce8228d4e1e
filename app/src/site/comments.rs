//! Comments on the website: the list under a post, the form to write one,
//! editing and deleting (the same use cases as the API, `comments`).

use askama::Template;
use poem::http::StatusCode;
use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;

use super::session::{self, Flash, Visitor};
use super::{
    FieldErrors, Layout, PageError, author_url, avatar_src, render, require_login, see_other,
};
use crate::comments::{
    Comment, CommentPage, CreateCommentError, DeleteCommentError, EditCommentError,
};
use crate::http::client_ip::ClientIp;
use crate::startup::AppState;

/// A comment as the post page shows it.
pub struct CommentView {
    pub id: i64,
    pub author: String,
    pub author_url: String,
    pub avatar: String,
    pub date: String,
    pub datetime: String,
    /// Sanitised when written (reader rules): safe as it is.
    pub html: String,
    pub edited: bool,
    /// The visitor wrote it and comments are open.
    pub can_edit: bool,
    /// The visitor wrote it, wrote the post, or is staff.
    pub can_delete: bool,
}

impl CommentView {
    pub fn new(c: Comment, visitor: &Visitor, post_author_id: i64, closed: bool) -> Self {
        let me = visitor.user.as_ref();
        let own = me.is_some_and(|u| u.id() == c.author.id);
        Self {
            id: c.id,
            author_url: author_url(&c.author.username),
            avatar: avatar_src(c.author.avatar_key.as_deref()),
            date: c.created_at.format("%B %-d, %Y, %H:%M").to_string(),
            datetime: c.created_at.to_rfc3339(),
            edited: c.updated_at > c.created_at + chrono::Duration::seconds(1),
            can_edit: own && !closed,
            can_delete: own || me.is_some_and(|u| u.id() == post_author_id || u.is_staff()),
            author: c.author.username,
            html: c.html,
        }
    }
}

/// The comments part of a post page.
pub struct CommentsView {
    pub items: Vec<CommentView>,
    /// The link to the next page of comments, if there is one.
    pub more: Option<String>,
    pub closed: bool,
    /// Show the form: a signed-in visitor, a public post, open comments.
    pub can_comment: bool,
    /// Where the form posts.
    pub action: String,
}

impl CommentsView {
    pub fn new(
        page: CommentPage,
        visitor: &Visitor,
        post_id: i64,
        post_path: &str,
        post_author_id: i64,
    ) -> Self {
        let closed = page.closed;
        Self {
            more: page
                .next
                .map(|c| format!("{post_path}?comments={}#comments", c.encode())),
            can_comment: visitor.user.is_some() && page.public && !closed,
            action: format!("/post/{post_id}/comments/"),
            items: page
                .items
                .into_iter()
                .map(|c| CommentView::new(c, visitor, post_author_id, closed))
                .collect(),
            closed,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    content: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

impl CsrfForm {
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The form alone: a comment with an error, or one being edited.
#[derive(Template)]
#[template(path = "comment_form.html")]
struct CommentFormPage {
    layout: Layout,
    heading: &'static str,
    action: String,
    cancel: String,
    content: String,
    errors: FieldErrors,
}

fn post_path(id: i64) -> String {
    // The post page redirects to its canonical URL.
    format!("/post/{id}/")
}

#[handler]
pub async fn create(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    ip: ClientIp,
    Path(id): Path<i64>,
    Form(form): Form<CommentForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let back = post_path(id);
    let user = match require_login(&visitor, &back) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    match state
        .comments
        .create(&user, &ip.to_string(), id, &form.content)
        .await
    {
        Ok(c) => {
            session::set_flash(&state, jar, Flash::CommentPosted);
            see_other(&format!("{back}#comment-{}", c.id))
        }
        Err(CreateCommentError::Invalid(errors)) => {
            let page = CommentFormPage {
                layout: Layout::new(&state, &visitor, jar, "Your comment"),
                heading: "Your comment",
                action: format!("/post/{id}/comments/"),
                cancel: back,
                content: form.content,
                errors: FieldErrors::from_validation(&errors, &[]),
            };
            render(&page, StatusCode::UNPROCESSABLE_ENTITY, &visitor).into_response(req)
        }
        Err(CreateCommentError::RateLimited(l)) => {
            PageError::from(l).page(&state, &visitor, jar, req)
        }
        Err(CreateCommentError::NotFound) => {
            PageError::NotFound("There is no published post here to comment on.")
                .page(&state, &visitor, jar, req)
        }
        Err(CreateCommentError::Closed) => {
            PageError::Conflict("The author has closed the comments on this post.")
                .page(&state, &visitor, jar, req)
        }
        Err(CreateCommentError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}

fn edit_error(e: EditCommentError) -> PageError {
    match e {
        EditCommentError::NotFound | EditCommentError::Invalid(_) => {
            PageError::NotFound("There is no such comment. It may have been deleted.")
        }
        EditCommentError::NotAuthor => PageError::Forbidden("Only its author may edit a comment."),
        EditCommentError::Closed => {
            PageError::Conflict("The author has closed the comments on this post.")
        }
        EditCommentError::Failed(e) => PageError::from(e),
    }
}

#[handler]
pub async fn edit_form(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<i64>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, &format!("/comment/{id}/edit/")) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    match state.comments.find_own(&user, id).await {
        Ok(c) => {
            let page = CommentFormPage {
                layout: Layout::new(&state, &visitor, jar, "Edit comment"),
                heading: "Edit comment",
                action: format!("/comment/{id}/edit/"),
                cancel: format!("{}#comment-{id}", post_path(c.post_id)),
                content: c.content,
                errors: FieldErrors::default(),
            };
            render(&page, StatusCode::OK, &visitor).into_response(req)
        }
        Err(e) => edit_error(e).page(&state, &visitor, jar, req),
    }
}

#[handler]
pub async fn edit(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<i64>,
    Form(form): Form<CommentForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, &format!("/comment/{id}/edit/")) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(&form.csrf) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    match state.comments.edit(&user, id, &form.content).await {
        Ok(c) => {
            session::set_flash(&state, jar, Flash::CommentUpdated);
            see_other(&format!("{}#comment-{id}", post_path(c.post_id)))
        }
        Err(EditCommentError::Invalid(errors)) => {
            let page = CommentFormPage {
                layout: Layout::new(&state, &visitor, jar, "Edit comment"),
                heading: "Edit comment",
                action: format!("/comment/{id}/edit/"),
                cancel: "/".into(),
                content: form.content,
                errors: FieldErrors::from_validation(&errors, &[]),
            };
            render(&page, StatusCode::UNPROCESSABLE_ENTITY, &visitor).into_response(req)
        }
        Err(e) => edit_error(e).page(&state, &visitor, jar, req),
    }
}

#[handler]
pub async fn delete(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, "/") {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(form.csrf()) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    match state.comments.delete(&user, id).await {
        Ok(post_id) => {
            session::set_flash(&state, jar, Flash::CommentDeleted);
            see_other(&format!("{}#comments", post_path(post_id)))
        }
        Err(DeleteCommentError::NotFound) => {
            PageError::NotFound("There is no such comment. It may have been deleted already.")
                .page(&state, &visitor, jar, req)
        }
        Err(DeleteCommentError::Forbidden) => PageError::Forbidden(
            "Only the comment's author, the post's author or staff may delete a comment.",
        )
        .page(&state, &visitor, jar, req),
        Err(DeleteCommentError::Failed(e)) => PageError::from(e).page(&state, &visitor, jar, req),
    }
}
