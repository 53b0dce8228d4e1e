//! Keyset (cursor) pagination, newest first on `(created_at, id)`.
//!
//! A cursor names the last item of the previous page; the next page is
//! "everything strictly older", which an index on `(created_at DESC, id DESC)`
//! answers by reading just one page, however deep. Cursors are opaque to
//! clients: base64url of `v1:<created_at µs since epoch>:<id>`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 5;
pub const MAX_LIMIT: u32 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "v1:{}:{}",
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn decode(raw: &str) -> Result<Self, ApiError> {
        let invalid =
            || ApiError::Malformed("`cursor` is not a cursor returned by this API".into());
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
        let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
        Ok(Self { created_at, id })
    }
}

/// Page size: default 5 (the original's), 1..=100.
pub fn limit(requested: Option<u32>) -> Result<u32, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::Malformed(format!(
            "`limit` must be between 1 and {MAX_LIMIT} (got {n})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_with_microsecond_precision() {
        let c = Cursor {
            created_at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
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
    fn garbage_cursors_are_rejected_as_malformed() {
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
            let err = Cursor::decode(raw).unwrap_err();
            assert_eq!(err.code(), "malformed_request", "{raw}");
        }
    }

    #[test]
    fn limit_defaults_to_five_and_caps_at_one_hundred() {
        assert_eq!(limit(None).unwrap(), 5);
        assert_eq!(limit(Some(1)).unwrap(), 1);
        assert_eq!(limit(Some(100)).unwrap(), 100);
        assert_eq!(limit(Some(101)).unwrap_err().code(), "malformed_request");
        assert_eq!(limit(Some(0)).unwrap_err().code(), "malformed_request");
    }
}
