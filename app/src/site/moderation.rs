//! Staff actions on the website: a button on another's post (unpublish)
//! and on an author's page (deactivate). The same use cases as the API
//! (`moderation`), recorded in its log.

use poem::web::cookie::CookieJar;
use poem::web::{Data, Form, Path};
use poem::{Request, Response, handler};

use super::comments::CsrfForm;
use super::session::{self, Flash};
use super::{PageError, require_login, see_other};
use crate::moderation::{AccountActionError, UnpublishError};
use crate::startup::AppState;

#[handler]
pub async fn unpublish(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let user = match require_login(&visitor, &format!("/post/{id}/")) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(form.csrf()) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let error = match state.moderation.unpublish_post(&user, id, None).await {
        Ok(_) => {
            session::set_flash(&state, jar, Flash::PostUnpublished);
            return see_other("/");
        }
        Err(UnpublishError::NotStaff) => PageError::Forbidden("Only staff may unpublish posts."),
        Err(UnpublishError::NotFound | UnpublishError::Invalid(_)) => {
            PageError::NotFound("There is no such post.")
        }
        Err(UnpublishError::NotPublished) => PageError::Conflict("This post is already a draft."),
        Err(UnpublishError::Failed(e)) => PageError::from(e),
    };
    error.page(&state, &visitor, jar, req)
}

#[handler]
pub async fn deactivate(
    req: &Request,
    state: Data<&AppState>,
    jar: &CookieJar,
    Path(username): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = session::visitor(&state, jar).await;
    let back = super::author_url(&username);
    let user = match require_login(&visitor, &back) {
        Ok(user) => user,
        Err(redirect) => return redirect.response(),
    };
    if !visitor.csrf_ok(form.csrf()) {
        return PageError::Csrf.page(&state, &visitor, jar, req);
    }
    let error = match state.moderation.deactivate(&user, &username, None).await {
        Ok(_) => {
            session::set_flash(&state, jar, Flash::AccountDeactivated);
            return see_other(&back);
        }
        Err(AccountActionError::NotStaff) => {
            PageError::Forbidden("Only staff may deactivate accounts.")
        }
        Err(AccountActionError::NotFound | AccountActionError::Invalid(_)) => {
            PageError::NotFound("There is no user with this name.")
        }
        Err(AccountActionError::OwnAccount) => {
            PageError::Conflict("You cannot deactivate your own account.")
        }
        Err(AccountActionError::AlreadyInactive | AccountActionError::AlreadyActive) => {
            PageError::Conflict("This account is already deactivated.")
        }
        Err(AccountActionError::Failed(e)) => PageError::from(e),
    };
    error.page(&state, &visitor, jar, req)
}
