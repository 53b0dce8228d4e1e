//! Account domain types. Each is built only through `parse`, so holding one
//! proves the value passed the rules ("parse, don't validate").

use std::fmt;

pub use crate::error::ValidationError;
use crate::text;

/// Django's username rule: 1–150 characters, letters, digits and `@.+-_`,
/// after Unicode NFKC normalisation (as Django does, so that look-alikes such
/// as fullwidth `ａｌｉｃｅ` and `alice` are the same name). Case is preserved
/// for display; uniqueness is case-insensitive (enforced by the database on
/// `lower(username)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_CHARS: usize = 150;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: &str| ValidationError::new("username", "invalid_username", msg);
        let normalized = normalize(raw);
        let raw = normalized.as_str();
        let count = raw.chars().count();
        if count == 0 {
            return Err(err("must not be empty"));
        }
        if count > Self::MAX_CHARS {
            return Err(err("must be at most 150 characters"));
        }
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '@' | '.' | '+' | '-' | '_'))
        {
            return Err(err(
                "may contain only letters, digits and the characters @ . + - _",
            ));
        }
        // Django allows these, but they cannot be addressed as a path segment
        // in `/api/users/{username}` (clients normalise them away).
        if raw == "." || raw == ".." {
            return Err(err("must not be '.' or '..'"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The NFKC form of a username, for parsing and for look-ups (log-in,
/// profile URLs) so that every spelling finds the stored name.
pub fn normalize(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    raw.nfkc().collect()
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A syntactically valid, deliverable-looking email address. Normalised like
/// Django's `normalize_email`: surrounding whitespace trimmed and the domain
/// lower-cased (the local part is case-sensitive per RFC 5321).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// RFC 5321 path limit.
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: &str| ValidationError::new("email", "invalid_email", msg);
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(err("must not be empty"));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(err("must be at most 254 bytes"));
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(err("must contain '@'"));
        };
        // Stricter than RFC 5322 on purpose: no quoted local parts, spaces,
        // control or bidirectional formatting characters, which are legal (or
        // invisible) but mostly used for abuse and look-alike addresses.
        if local.is_empty()
            || local.contains(['@', '"', '\\'])
            || raw
                .chars()
                .any(|c| c.is_whitespace() || text::is_control(c) || text::is_bidi_formatting(c))
        {
            return Err(err("is not a valid email address"));
        }
        let domain = domain.to_lowercase();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(err("must have a domain name such as example.com"));
        }
        // lettre's own check guarantees the reset mail can be addressed.
        if lettre::Address::new(local, &domain).is_err() {
            return Err(err("is not a valid email address"));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password that passed the rules (Django's default validators,
/// simplified). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Bounds the hashing cost an attacker can make us pay per request.
    pub const MAX_BYTES: usize = 1024;

    /// Checks a password chosen by `username` (registration, change, reset).
    pub fn parse(raw: &str, username: &str) -> Result<Self, ValidationError> {
        let err = |msg: &str| ValidationError::new("password", "invalid_password", msg);
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(err("must be at least 8 characters"));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(err("must be at most 1024 bytes"));
        }
        if raw.chars().all(|c| c.is_numeric()) {
            return Err(err("must not be entirely numeric"));
        }
        // NUL is the same as its absence to PBKDF2 (the key is zero-padded),
        // and no control character can be typed reliably on every device.
        if raw.chars().any(text::is_control) {
            return Err(err("must not contain control characters"));
        }
        if raw.to_lowercase() == username.to_lowercase() {
            return Err(err("must not be the same as the username"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Free-text profile bio, at most 500 characters; tab and line breaks but
/// no other control characters, and no bidirectional embeddings, overrides
/// or isolates (the bio is shown beside the username).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new(
                "bio",
                "invalid_bio",
                "must be at most 500 characters",
            ));
        }
        // Control characters other than line breaks and tabs have no place in
        // a bio and confuse terminals/log viewers.
        if raw.chars().any(text::is_control_in_long_text) {
            return Err(ValidationError::new(
                "bio",
                "invalid_bio",
                "must not contain control characters",
            ));
        }
        if raw.chars().any(text::is_bidi_reordering) {
            return Err(ValidationError::new(
                "bio",
                "invalid_bio",
                "must not contain bidirectional embeddings, overrides or isolates",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_django_rule() {
        for ok in [
            "a",
            "alice",
            "Bob_99",
            "x.y+z-w@q",
            "émile",
            &"a".repeat(150),
        ] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "with space",
            "semi;colon",
            "slash/",
            "tab\t",
            ".",
            "..",
            &"a".repeat(151),
        ] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.code, "invalid_username", "{bad:?}");
            assert_eq!(err.field, "username");
        }
    }

    #[test]
    fn usernames_are_nfkc_normalised() {
        assert_eq!(Username::parse("ａｌｉｃｅ").unwrap().as_str(), "alice");
        // "e" + combining acute accent becomes the single character "é".
        assert_eq!(Username::parse("e\u{301}mile").unwrap().as_str(), "émile");
        assert_eq!(normalize("ﬁx"), "fix");
    }

    #[test]
    fn username_length_counts_characters_not_bytes() {
        assert!(Username::parse(&"é".repeat(150)).is_ok());
        assert!(Username::parse(&"é".repeat(151)).is_err());
    }

    #[test]
    fn emails_are_trimmed_and_domain_lowercased() {
        let e = EmailAddress::parse("  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Alice.Smith@example.com");
    }

    #[test]
    fn invalid_emails_are_rejected() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@localhost",
            "al ice@example.com",
            "\"quoted\"@example.com",
            "alice@exa mple.com",
            "alice@[127.0.0.1]",
            "alice@-example.com",
            "a@b@example.com",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert_eq!(err.code, "invalid_email", "{bad:?}");
        }
    }

    #[test]
    fn password_rules() {
        assert!(Password::parse("correct horse", "alice").is_ok());
        let code = |pw: &str, user: &str| Password::parse(pw, user).unwrap_err().code;
        assert_eq!(code("short1!", "alice"), "invalid_password");
        assert_eq!(code("12345678901", "alice"), "invalid_password");
        assert_eq!(code("AliceSmith", "alicesmith"), "invalid_password");
        assert_eq!(code(&"x".repeat(1025), "alice"), "invalid_password");
        assert!(Password::parse(&"x".repeat(1024), "alice").is_ok());
    }

    #[test]
    fn password_length_counts_characters() {
        // 7 characters, 14 bytes: still too short.
        assert!(Password::parse("ééééééé", "alice").is_err());
        assert!(Password::parse("éééééééé", "alice").is_ok());
    }

    #[test]
    fn password_debug_is_redacted() {
        let pw = Password::parse("super secret", "alice").unwrap();
        assert!(!format!("{pw:?}").contains("secret"));
    }

    /// Issue 13, item 4: NUL, C0/C1 controls and bidirectional formatting, per field.
    #[test]
    fn controls_and_bidi_formatting_per_field() {
        let (nul, bell, csi, rlo, isolate, rlm) =
            ("\0", "\u{7}", "\u{9b}", "\u{202E}", "\u{2067}", "\u{200F}");
        for c in [nul, bell, csi, rlo, isolate, rlm, "\t", "\n"] {
            assert!(Username::parse(&format!("ali{c}ce")).is_err(), "{c:?}");
            assert!(
                EmailAddress::parse(&format!("ali{c}ce@example.com")).is_err(),
                "{c:?}"
            );
            assert!(
                EmailAddress::parse(&format!("alice@exa{c}mple.com")).is_err(),
                "{c:?}"
            );
        }
        for c in [nul, bell, csi, "\t", "\n"] {
            let err = Password::parse(&format!("correct horse{c}"), "alice").unwrap_err();
            assert_eq!(err.code, "invalid_password", "{c:?}");
        }
        // Never displayed: bidirectional formatting is just characters there.
        assert!(Password::parse(&format!("correct{rlo}horse"), "alice").is_ok());
        for c in [nul, bell, csi, rlo, isolate] {
            assert_eq!(
                Bio::parse(&format!("my{c}bio")).unwrap_err().code,
                "invalid_bio",
                "{c:?}"
            );
        }
        for c in ["\t", "\n", "\r\n", rlm] {
            assert!(Bio::parse(&format!("my{c}bio")).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn bio_rules() {
        assert!(Bio::parse("").is_ok());
        assert!(Bio::parse("Line one\nline two").is_ok());
        assert!(Bio::parse(&"é".repeat(500)).is_ok());
        assert_eq!(
            Bio::parse(&"é".repeat(501)).unwrap_err().code,
            "invalid_bio"
        );
        assert_eq!(Bio::parse("bell\u{7}").unwrap_err().code, "invalid_bio");
    }
}
