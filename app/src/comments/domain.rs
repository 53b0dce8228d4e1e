//! A comment's text: what is accepted, and its rendering.

use crate::error::ValidationError;
use crate::posts::markdown::{self, Author};
use crate::text;

/// At most this many characters (the V7 CHECK says the same).
pub const COMMENT_MAX_CHARS: usize = 5_000;

/// A comment's source: not blank, at most [`COMMENT_MAX_CHARS`], no control
/// characters but tab and line breaks. Stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentContent(String);

impl CommentContent {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new("content", "invalid_content", msg);
        let content = raw.trim();
        if content.is_empty() {
            return Err(err("must not be empty".into()));
        }
        let chars = content.chars().count();
        if chars > COMMENT_MAX_CHARS {
            return Err(err(format!(
                "must be at most {COMMENT_MAX_CHARS} characters (got {chars})"
            )));
        }
        if content.chars().any(text::is_control_in_long_text) {
            return Err(err(
                "must not contain control characters other than tab and line breaks".into(),
            ));
        }
        Ok(Self(content.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sanitised HTML of the comment (reader rules).
    pub fn html(&self) -> String {
        markdown::render(&self.0, Author::Reader).html
    }

    /// A short plain description (the moderation log's target).
    pub fn summary(text: &str) -> String {
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if flat.chars().count() <= 80 {
            return flat;
        }
        let mut out: String = flat.chars().take(79).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_rules() {
        assert_eq!(CommentContent::parse("  hi \n").unwrap().as_str(), "hi");
        for bad in ["", "   \n\t", "a\0b", "a\u{1b}b"] {
            let e = CommentContent::parse(bad).unwrap_err();
            assert_eq!((e.field.as_ref(), e.code), ("content", "invalid_content"));
        }
        assert!(CommentContent::parse(&"é".repeat(COMMENT_MAX_CHARS)).is_ok());
        assert!(CommentContent::parse(&"é".repeat(COMMENT_MAX_CHARS + 1)).is_err());
        assert!(CommentContent::parse("tab\tand\r\nlines").is_ok());
    }

    #[test]
    fn rendered_with_the_reader_rules() {
        let c = CommentContent::parse(
            "# Big\n\n*em* [a](https://example.com) ![i](/x.png) <script>alert(1)</script> [j](javascript:alert(1))",
        )
        .unwrap();
        let html = c.html();
        assert!(html.contains("<em>em</em>"), "{html}");
        assert!(html.contains("rel=\"nofollow ugc noopener\""), "{html}");
        for bad in ["<h1", "<img", "<script", "javascript:"] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
    }

    #[test]
    fn pathological_comments_render_in_bounded_time_and_size() {
        // At the length cap: deep quotes and lists, unclosed brackets and
        // emphasis, thousands of raw tags.
        let started = std::time::Instant::now();
        for source in [
            ">".repeat(COMMENT_MAX_CHARS),
            "- ".repeat(COMMENT_MAX_CHARS / 2),
            "[".repeat(COMMENT_MAX_CHARS),
            "*_".repeat(COMMENT_MAX_CHARS / 2),
            "<div>".repeat(COMMENT_MAX_CHARS / 5),
            "<a href=x>".repeat(COMMENT_MAX_CHARS / 10),
        ] {
            let c = CommentContent::parse(&source).unwrap();
            let html = c.html();
            assert!(html.len() < 20 * source.len() + 1000, "{}", html.len());
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn summaries_are_short_and_flat() {
        assert_eq!(CommentContent::summary("a\n\nb"), "a b");
        let long = CommentContent::summary(&"word ".repeat(100));
        assert_eq!(long.chars().count(), 80);
        assert!(long.ends_with('…'));
    }
}
