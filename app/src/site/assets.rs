//! The site's static files, embedded in the binary and served under
//! fingerprinted names (`/static/site.3f2a9c1d.css`): the name changes with
//! the content, so they can be cached for a year and never go stale, and
//! nothing is loaded from another origin.

use std::sync::LazyLock;

use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{Response, handler};
use sha2::{Digest as _, Sha256};

struct Asset {
    /// Name without the fingerprint, e.g. `site.css`.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: [Asset; 2] = [
    Asset {
        name: "site.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/site.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/favicon.svg"),
    },
];

/// `(fingerprinted name, asset)`, computed once.
static FINGERPRINTED: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = hex::encode(&Sha256::digest(a.bytes)[..6]);
            let (stem, ext) = a.name.rsplit_once('.').unwrap_or((a.name, ""));
            (format!("{stem}.{digest}.{ext}"), a)
        })
        .collect()
});

/// The URL of asset `name` (e.g. `site.css`) under its current fingerprint.
pub fn url(name: &str) -> String {
    FINGERPRINTED
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(f, _)| format!("/static/{f}"))
        .unwrap_or_else(|| format!("/static/{name}"))
}

/// `GET /static/<fingerprinted name>`; any other name is a 404.
#[handler]
pub async fn serve(Path(file): Path<String>) -> Response {
    match FINGERPRINTED.iter().find(|(f, _)| *f == file) {
        Some((_, asset)) => Response::builder()
            .content_type(asset.content_type)
            .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
            .body(asset.bytes),
        None => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_a_content_fingerprint() {
        let css = url("site.css");
        assert!(
            css.starts_with("/static/site.") && css.ends_with(".css"),
            "{css}"
        );
        assert_eq!(css.len(), "/static/site.".len() + 12 + ".css".len());
        assert_ne!(url("favicon.svg"), "/static/favicon.svg");
    }
}
