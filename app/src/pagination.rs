//! Keyset (cursor) pagination, newest first on `(time, id)`: a post's
//! publication time in the public lists, its `listed_at` in an author's own
//! list (the same instant for published posts).
//!
//! A cursor names the last item of the previous page; the next page is
//! "everything strictly older", which an index on `(time DESC, id DESC)`
//! answers by reading just one page, however deep. Cursors are opaque to
//! clients: base64url of `v1:<time µs since epoch>:<id>` (cursors from before
//! publication times still work: every older post was published when it was
//! written).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

pub const DEFAULT_LIMIT: u32 = 5;
pub const MAX_LIMIT: u32 = 100;

/// A page request a client got wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("`cursor` is not a cursor returned by this API")]
    BadCursor,
    #[error("`limit` must be between 1 and {MAX_LIMIT} (got {0})")]
    BadLimit(u32),
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The newest items.
    First,
    /// The items just older than the cursor (the API's `cursor`, the site's
    /// "older posts").
    After(Cursor),
    /// The items just newer than the cursor (the site's "newer posts"):
    /// the same index read backwards, so it costs the same at any depth.
    Before(Cursor),
}

/// Which page of a list, and how many items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub position: Position,
    pub limit: u32,
}

impl PageRequest {
    /// The API's form: `cursor` from a previous `next_cursor`.
    pub fn parse(cursor: Option<&str>, limit: Option<u32>) -> Result<Self, PageError> {
        Self::parse_either(cursor, None, limit)
    }

    /// The site's form: `after` (older) or `before` (newer), not both.
    pub fn parse_either(
        after: Option<&str>,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Self, PageError> {
        let position = match (after, before) {
            (None, None) => Position::First,
            (Some(after), None) => Position::After(Cursor::decode(after)?),
            (None, Some(before)) => Position::Before(Cursor::decode(before)?),
            (Some(_), Some(_)) => return Err(PageError::BadCursor),
        };
        Ok(Self {
            position,
            limit: self::limit(limit)?,
        })
    }

    /// A stable text form (cache keys).
    pub fn key(&self) -> String {
        let position = match self.position {
            Position::First => "-".to_owned(),
            Position::After(c) => format!("a{}", c.encode()),
            Position::Before(c) => format!("b{}", c.encode()),
        };
        format!("{position}:{}", self.limit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", self.at.timestamp_micros(), self.id))
    }

    pub fn decode(raw: &str) -> Result<Self, PageError> {
        let invalid = || PageError::BadCursor;
        if raw.len() > 64 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
        let mut parts = text.split(':');
        let (Some("v1"), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let id: i64 = id.parse().map_err(|_| invalid())?;
        let at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Self { at, id })
    }
}

/// Page size: default 5 (the original's), 1..=100.
pub fn limit(requested: Option<u32>) -> Result<u32, PageError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(PageError::BadLimit(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_with_microsecond_precision() {
        let c = Cursor {
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: 42,
        };
        let encoded = c.encode();
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Cursor::decode(&encoded).unwrap(), c);
    }

    #[test]
    fn garbage_cursors_are_rejected() {
        let forged = URL_SAFE_NO_PAD.encode("v2:1:2");
        let extra = URL_SAFE_NO_PAD.encode("v1:1:2:3");
        let nonnum = URL_SAFE_NO_PAD.encode("v1:abc:2");
        let huge = URL_SAFE_NO_PAD.encode(format!("v1:{}:2", i64::MAX));
        for raw in [
            "",
            "!!!",
            "djE6MTox=",
            forged.as_str(),
            extra.as_str(),
            nonnum.as_str(),
            huge.as_str(),
            &"A".repeat(65),
        ] {
            assert_eq!(Cursor::decode(raw), Err(PageError::BadCursor), "{raw}");
        }
    }

    #[test]
    fn limit_defaults_to_five_and_caps_at_one_hundred() {
        assert_eq!(limit(None).unwrap(), 5);
        assert_eq!(limit(Some(1)).unwrap(), 1);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        assert_eq!(limit(Some(101)), Err(PageError::BadLimit(101)));
        assert_eq!(limit(Some(0)), Err(PageError::BadLimit(0)));
    }
}
