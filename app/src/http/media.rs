//! `GET /media/avatars/{key}`: avatar images from S3, and the bundled
//! default. Outside the OpenAPI document: these are plain image URLs that
//! API responses link to (`avatar_url`).

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Response, Route, get, handler};

use super::problem::{self, Documented as _};
use crate::avatars::{DEFAULT_AVATAR, DEFAULT_AVATAR_PNG};
use crate::problem_doc;
use crate::startup::AppState;

problem_doc!(AVATAR_NOT_FOUND = 404 "not_found", "No avatar has this key.", "avatar not found");

/// Keys are unique per upload, so a response never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The default image may be redesigned; let caches revalidate daily.
const DEFAULT_CACHE: &str = "public, max-age=86400";

pub fn routes() -> Route {
    Route::new().at("/avatars/*key", get(avatar))
}

fn png(bytes: Vec<u8>, cache_control: &'static str) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("image/png")
        .header(header::CACHE_CONTROL, cache_control)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        // Served from our origin: make sure it can never run as a document.
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        )
        .body(bytes)
}

#[handler]
async fn avatar(state: Data<&AppState>, Path(key): Path<String>) -> Response {
    if key == DEFAULT_AVATAR {
        return png(DEFAULT_AVATAR_PNG.to_vec(), DEFAULT_CACHE);
    }
    match state.accounts.avatar_image(&key).await {
        Ok(Some(bytes)) => png(bytes, IMMUTABLE),
        Ok(None) => problem::simple(&AVATAR_NOT_FOUND, "avatar not found"),
        Err(failure) => failure.problem().into_response("get_avatar"),
    }
}
