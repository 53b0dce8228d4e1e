//! `GET/POST /reset-password`: the page the reset mail links to.
//!
//! The service is API-first, but a mail link has to open something in a
//! browser (the Django original had a page too). This is a plain HTML form,
//! no script, no cookies: it posts the token and the new password back here,
//! and the same use case as `POST /api/password-resets/confirm` runs.

use poem::http::{StatusCode, header};
use poem::web::{Data, Form, Query};
use poem::{Response, handler};
use serde::Deserialize;

use crate::accounts::ResetConfirmError;
use crate::startup::AppState;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Reset your password</title></head>\n<body>\n<h1>Reset your password</h1>\n{body}\n</body></html>\n"
    );
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        // The page has no script and posts only to itself.
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(html)
}

fn form(token: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>\n", escape(e)))
        .unwrap_or_default();
    format!(
        "{error}<form method=\"post\" action=\"reset-password\">\n\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\n\
         <p><label>New password <input type=\"password\" name=\"new_password\" \
         autocomplete=\"new-password\" minlength=\"8\" required></label></p>\n\
         <p><label>Repeat it <input type=\"password\" name=\"confirm_password\" \
         autocomplete=\"new-password\" minlength=\"8\" required></label></p>\n\
         <p><button type=\"submit\">Set the new password</button></p>\n</form>\n\
         <p>At least 8 characters, not only digits, not your username.</p>",
        escape(token)
    )
}

#[handler]
pub async fn show(Query(q): Query<TokenQuery>) -> Response {
    if q.token.is_empty() {
        return page(
            StatusCode::BAD_REQUEST,
            "<p>This link is incomplete: open the link from the mail again.</p>",
        );
    }
    page(StatusCode::OK, &form(&q.token, None))
}

#[handler]
pub async fn submit(state: Data<&AppState>, Form(f): Form<ResetForm>) -> Response {
    if f.new_password != f.confirm_password {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &form(&f.token, Some("The two passwords differ.")),
        );
    }
    match state
        .accounts
        .confirm_password_reset(&f.token, &f.new_password)
        .await
    {
        Ok(()) => page(
            StatusCode::OK,
            "<p>Your password has been changed, and every session was logged out. \
             Log in again with the new password.</p>",
        ),
        Err(ResetConfirmError::Invalid(errors)) => {
            let message = errors
                .0
                .iter()
                .map(|e| format!("Password {}.", e.message))
                .collect::<Vec<_>>()
                .join(" ");
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &form(&f.token, Some(&message)),
            )
        }
        Err(ResetConfirmError::InvalidToken) => page(
            StatusCode::BAD_REQUEST,
            "<p>This reset link is invalid, has expired or was already used. \
             Ask for a new one.</p>",
        ),
        Err(ResetConfirmError::Failed(failure)) => {
            tracing::warn!(error = %failure, "password reset page failed");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "<p>The password could not be changed right now. Try again later.</p>",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::Endpoint as _;

    #[test]
    fn the_token_is_escaped_into_the_form() {
        let html = form("abc\"><script>x</script>", Some("<b>"));
        assert!(html.contains("value=\"abc&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(html.contains("&lt;b&gt;"));
        assert!(!html.contains("<script>"));
    }

    #[tokio::test]
    async fn missing_token_is_400_and_pages_forbid_scripts() {
        let resp = page(StatusCode::OK, "x");
        let csp = resp.headers().get(header::CONTENT_SECURITY_POLICY).unwrap();
        assert!(csp.to_str().unwrap().starts_with("default-src 'none'"));
        let resp = show
            .call(
                poem::Request::builder()
                    .uri("/reset-password".parse().unwrap())
                    .finish(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
}
