//! Post fields as types that can only hold valid values ("parse, don't
//! validate"): the service parses once, the repository accepts only these
//! types.

use crate::error::ValidationError;

pub const TITLE_MAX_CHARS: usize = 100;
pub const CONTENT_MAX_CHARS: usize = 100_000;

/// 1–100 characters (Unicode scalar values, as Postgres' `char_length`
/// counts) after trimming surrounding whitespace, which is not kept; no
/// control characters (a title is one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTitle(String);

impl PostTitle {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new("title", "invalid_title", msg);
        let title = raw.trim();
        let chars = title.chars().count();
        if chars == 0 {
            return Err(err("must not be empty".into()));
        }
        at_most(chars, TITLE_MAX_CHARS).map_err(err)?;
        if title.chars().any(char::is_control) {
            return Err(err("must not contain control characters".into()));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Non-blank text of at most 100 000 characters, stored exactly as sent
/// (whitespace is meaningful in a body). NUL is refused: Postgres `text`
/// cannot hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent(String);

impl PostContent {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new("content", "invalid_content", msg);
        if raw.trim().is_empty() {
            return Err(err("must not be empty".into()));
        }
        at_most(raw.chars().count(), CONTENT_MAX_CHARS).map_err(err)?;
        if raw.contains('\0') {
            return Err(err("must not contain NUL characters".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn at_most(chars: usize, max: usize) -> Result<(), String> {
    if chars > max {
        return Err(format!("must be at most {max} characters (got {chars})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_limited_to_100_characters() {
        assert_eq!(PostTitle::parse("  Hello  ").unwrap().as_str(), "Hello");
        assert!(PostTitle::parse(&"a".repeat(100)).is_ok());
        let err = PostTitle::parse(&"a".repeat(101)).unwrap_err();
        assert_eq!(err.field, "title");
        assert_eq!(err.code, "invalid_title");
        assert!(err.message.contains("at most 100"), "{}", err.message);
    }

    #[test]
    fn title_length_counts_characters_not_bytes() {
        // 100 × "é" is 200 bytes but 100 characters.
        assert!(PostTitle::parse(&"é".repeat(100)).is_ok());
        assert!(PostTitle::parse(&"日".repeat(101)).is_err());
    }

    #[test]
    fn blank_and_control_character_titles_are_refused() {
        for bad in ["", "   ", "\t\n", "two\nlines", "nul\0byte"] {
            assert!(PostTitle::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_must_be_non_blank_and_is_kept_verbatim() {
        assert_eq!(PostContent::parse("  body\n").unwrap().as_str(), "  body\n");
        assert!(PostContent::parse("").is_err());
        assert!(PostContent::parse(" \n\t ").is_err());
        assert!(PostContent::parse("a\0b").is_err());
        assert!(PostContent::parse(&"x".repeat(CONTENT_MAX_CHARS)).is_ok());
        assert!(PostContent::parse(&"x".repeat(CONTENT_MAX_CHARS + 1)).is_err());
    }
}
