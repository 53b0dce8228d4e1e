//! Conditional GETs of the public post reads: `ETag` and `If-None-Match`.
//!
//! The entity tag is derived from the read's [`Version`] (the read cache's
//! generation and key: no Postgres, and at most one Redis round trip, none
//! while the replica's copy of the generation is fresh), so a client that
//! still holds the current page gets `304 Not Modified` without the server
//! loading, serialising or sending anything.
//!
//! The tags are weak (`W/"…"`): the answer carries `views`, which moves on
//! every read of a post without changing the generation, so two answers with
//! one tag are equivalent, not byte for byte equal. Weak tags also stay
//! valid whatever `Content-Encoding` the compression layer picked, which a
//! strong tag would not (RFC 9110 §8.8.3.3).

use sha2::{Digest as _, Sha256};

use crate::posts::Version;

/// The `ETag` value for `version`. Besides the version it covers what else
/// shapes the JSON: the release (fields may change between versions) and
/// the public URL the links are built on, so a tag from another release or
/// deployment never validates.
pub fn etag(public_url: &str, version: &Version) -> String {
    let mut hash = Sha256::new();
    for part in [env!("CARGO_PKG_VERSION"), public_url, version.as_str()] {
        // Length-prefixed: no two different lists of parts hash alike.
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    // 80 bits tell versions apart; the header stays short.
    format!("W/\"{}\"", hex::encode(&hash.finalize()[..10]))
}

/// Whether `If-None-Match` names `etag`, by the weak comparison GET uses
/// (RFC 9110 §13.1.2): `W/` is ignored on both sides. `*` is not handled
/// here: it depends on whether the resource exists ([`any`]).
pub fn matches(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(header) = if_none_match else {
        return false;
    };
    let wanted = opaque(etag);
    header
        .split(',')
        .map(str::trim)
        .filter(|tag| *tag != "*")
        .any(|tag| opaque(tag) == wanted)
}

/// `If-None-Match: *`: any current representation counts as held.
pub fn any(if_none_match: Option<&str>) -> bool {
    if_none_match.is_some_and(|h| h.split(',').any(|tag| tag.trim() == "*"))
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// What a conditional read decided, before any loading: either the client's
/// copy is current (`Unchanged`, with the tag to send back) or the read goes
/// ahead at `version`, and its answer carries `etag`.
pub enum Decision {
    Unchanged(String),
    Load {
        version: Option<Version>,
        etag: Option<String>,
    },
}

/// Decides a conditional read of `version` (`None`: Redis unavailable, so
/// no validator: the read goes ahead and the answer has no `ETag`).
pub fn decide(public_url: &str, version: Option<Version>, if_none_match: Option<&str>) -> Decision {
    let etag = version.as_ref().map(|v| etag(public_url, v));
    match etag {
        Some(tag) if matches(if_none_match, &tag) => Decision::Unchanged(tag),
        etag => Decision::Load { version, etag },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_comparison_over_a_list() {
        let tag = "W/\"abc\"";
        assert!(matches(Some("W/\"abc\""), tag));
        assert!(matches(Some("\"abc\""), tag), "W/ is ignored for GET");
        assert!(matches(Some("\"x\", W/\"abc\""), tag));
        assert!(matches(Some("\"x\",W/\"abc\" "), tag));
        assert!(!matches(Some("W/\"abd\""), tag));
        assert!(!matches(Some("abc"), tag), "quotes are part of the tag");
        assert!(!matches(Some("*"), tag), "`*` is decided by `any`");
        assert!(!matches(Some(""), tag));
        assert!(!matches(None, tag));
    }

    #[test]
    fn star_means_any() {
        assert!(any(Some("*")));
        assert!(any(Some("\"a\", *")));
        assert!(!any(Some("\"*\"")));
        assert!(!any(None));
    }
}
