//! Post fields as types that can only hold valid values ("parse, don't
//! validate"): the service parses once, the repository accepts only these
//! types.

use chrono::{DateTime, Utc};

use super::markdown::{self, Author};
use crate::error::ValidationError;
use crate::text;

pub const TITLE_MAX_CHARS: usize = 100;
pub const CONTENT_MAX_CHARS: usize = 100_000;

/// 1–100 characters (Unicode scalar values, as Postgres' `char_length`
/// counts) after trimming surrounding whitespace, which is not kept; no
/// control characters (a title is one line) and no bidirectional
/// embeddings, overrides or isolates (it is shown among other titles).
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
        if title.chars().any(text::is_control) {
            return Err(err("must not contain control characters".into()));
        }
        if title.chars().any(text::is_bidi_reordering) {
            return Err(err(
                "must not contain bidirectional embeddings, overrides or isolates".into(),
            ));
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Non-blank text of at most 100 000 characters, stored exactly as sent
/// (whitespace is meaningful in a body). Control characters other than tab
/// and line breaks are refused (NUL cannot even be stored in Postgres
/// `text`); bidirectional formatting is kept, as right-to-left authors need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostContent(String);

impl PostContent {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new("content", "invalid_content", msg);
        if raw.trim().is_empty() {
            return Err(err("must not be empty".into()));
        }
        at_most(raw.chars().count(), CONTENT_MAX_CHARS).map_err(err)?;
        if raw.chars().any(text::is_control_in_long_text) {
            return Err(err(
                "must not contain control characters other than tab and line breaks".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a post's content is written: shown as written, or Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostFormat {
    /// Shown as written, line breaks kept (every post from before Markdown,
    /// and imported ones).
    #[default]
    Plain,
    /// CommonMark with tables, strikethrough, task lists and footnotes,
    /// sanitised (see [`markdown`]).
    Markdown,
}

impl PostFormat {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "plain" => Ok(Self::Plain),
            "markdown" => Ok(Self::Markdown),
            other => Err(ValidationError::new(
                "format",
                "invalid_format",
                format!(
                    "must be `plain` or `markdown` (got {:?})",
                    other.chars().take(20).collect::<String>()
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Markdown => "markdown",
        }
    }
}

/// A post's content with its rendering: the HTML (safe to put in a page as
/// it is) and the excerpt shown on lists. Rendered once, when written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostBody {
    pub content: PostContent,
    pub format: PostFormat,
    pub html: String,
    pub excerpt: String,
}

impl PostBody {
    pub fn render(content: PostContent, format: PostFormat) -> Self {
        let (html, excerpt) = rendering(content.as_str(), format);
        Self {
            content,
            format,
            html,
            excerpt,
        }
    }
}

/// The HTML and excerpt of `content` written in `format`.
pub fn rendering(content: &str, format: PostFormat) -> (String, String) {
    match format {
        PostFormat::Plain => (
            markdown::plain_html(content),
            markdown::plain_excerpt(content),
        ),
        PostFormat::Markdown => {
            let r = markdown::render(content, Author::Writer);
            (r.html, r.excerpt)
        }
    }
}

/// The readable part of a post's URL (`/post/<id>-<slug>/`): the title in
/// lower case, letters and digits of any script kept, everything else one
/// `-`, at most 60 characters. Derived from the title on every read, so it
/// follows edits; the id alone finds the post and a stale slug redirects.
pub fn slug(title: &str) -> String {
    let mut out = String::with_capacity(title.len().min(64));
    let mut dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            let sep = dash && !out.is_empty();
            if out.chars().count() + usize::from(sep) + 1 > 60 {
                break;
            }
            if sep {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out
}

/// Whether a post is a draft or published. A published post whose
/// `published_at` is still to come is scheduled: published for its author,
/// not yet there for anyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    /// Seen by its author only, with no publication time.
    Draft,
    /// Public from `published_at` on.
    Published,
}

impl PostStatus {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "draft" => Ok(Self::Draft),
            "published" => Ok(Self::Published),
            other => Err(ValidationError::new(
                "status",
                "invalid_status",
                format!(
                    "must be `draft` or `published` (got {:?})",
                    other.chars().take(20).collect::<String>()
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }
}

/// The earliest and latest publication times accepted: any real date, and
/// nothing a cursor or Postgres could not carry.
const EARLIEST_PUBLICATION: i64 = 0; // 1970-01-01T00:00:00Z
const LATEST_PUBLICATION: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// What a writer asks about publication, each part optional: a status, a
/// publication time, both or neither (the API's `status` and
/// `published_at`, the site's "Save draft"/"Publish" and time field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Publishing {
    pub status: Option<PostStatus>,
    pub at: Option<DateTime<Utc>>,
}

impl Publishing {
    pub fn draft() -> Self {
        Self {
            status: Some(PostStatus::Draft),
            at: None,
        }
    }

    pub fn published(at: Option<DateTime<Utc>>) -> Self {
        Self {
            status: Some(PostStatus::Published),
            at,
        }
    }

    /// The `published_at` a post gets: `None` for a draft. `current` is the
    /// post's (`None` for a new post, `Some(None)` for a draft); the answer
    /// is `None` when nothing changes. Rules: a time publishes at that time
    /// (a future one schedules); `published` alone publishes now, or keeps
    /// the time of a post already published; `draft` unpublishes and takes
    /// no time; a new post without either is published now.
    pub fn resolve(
        self,
        current: Option<Option<DateTime<Utc>>>,
        now: DateTime<Utc>,
    ) -> Result<Option<Option<DateTime<Utc>>>, ValidationError> {
        let err = |msg: &str| ValidationError::new("published_at", "invalid_published_at", msg);
        if let Some(at) = self.at {
            let secs = at.timestamp();
            if !(EARLIEST_PUBLICATION..=LATEST_PUBLICATION).contains(&secs) {
                return Err(err("must be between 1970-01-01 and 9999-12-31"));
            }
        }
        Ok(match (self.status, self.at, current) {
            (Some(PostStatus::Draft), Some(_), _) => {
                return Err(err(
                    "a draft has no publication time: send `published` to schedule the post",
                ));
            }
            (Some(PostStatus::Draft), None, _) => Some(None),
            (_, Some(at), _) => Some(Some(at)),
            // Published already: its date stays (an edit is not a new post).
            (Some(PostStatus::Published), None, Some(Some(_))) => None,
            (Some(PostStatus::Published), None, _) | (None, None, None) => Some(Some(now)),
            (None, None, Some(_)) => None,
        })
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

    /// Issue 13, item 4: NUL, C0/C1 controls and bidirectional formatting, per field.
    #[test]
    fn controls_and_bidi_formatting_per_field() {
        for c in ["\0", "\u{7}", "\u{1b}", "\u{7f}", "\u{9b}", "\t", "\n"] {
            assert_eq!(
                PostTitle::parse(&format!("a{c}b")).unwrap_err().code,
                "invalid_title",
                "{c:?}"
            );
        }
        for c in ["\u{202E}", "\u{202A}", "\u{2066}", "\u{2069}"] {
            assert_eq!(
                PostTitle::parse(&format!("a{c}b")).unwrap_err().code,
                "invalid_title",
                "{c:?}"
            );
            assert!(PostContent::parse(&format!("a{c}b")).is_ok(), "{c:?}");
        }
        assert!(
            PostTitle::parse("a\u{200F}b").is_ok(),
            "marks do not reorder"
        );
        for c in ["\0", "\u{7}", "\u{1b}", "\u{7f}", "\u{9b}"] {
            assert_eq!(
                PostContent::parse(&format!("a{c}b")).unwrap_err().code,
                "invalid_content",
                "{c:?}"
            );
        }
        for c in ["\t", "\n", "\r\n"] {
            assert!(PostContent::parse(&format!("a{c}b")).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn slugs_keep_letters_and_digits_of_any_script() {
        assert_eq!(slug("Blog Like a Pro!"), "blog-like-a-pro");
        assert_eq!(
            slug("  Ça va?  Über 9000 — 日本語 "),
            "ça-va-über-9000-日本語"
        );
        assert_eq!(slug("<script>alert(1)</script>"), "script-alert-1-script");
        assert_eq!(slug("!!!"), "");
        assert!(slug(&"word ".repeat(40)).chars().count() <= 60);
    }

    #[test]
    fn formats_parse_by_name() {
        assert_eq!(PostFormat::parse("markdown").unwrap(), PostFormat::Markdown);
        assert_eq!(PostFormat::parse("plain").unwrap(), PostFormat::Plain);
        let err = PostFormat::parse("html").unwrap_err();
        assert_eq!((err.field.as_ref(), err.code), ("format", "invalid_format"));
    }

    #[test]
    fn a_body_is_rendered_by_its_format() {
        let content = PostContent::parse("*hi* <b>x</b>").unwrap();
        let md = PostBody::render(content.clone(), PostFormat::Markdown);
        assert!(md.html.contains("<em>hi</em>"), "{}", md.html);
        let plain = PostBody::render(content, PostFormat::Plain);
        assert!(plain.html.contains("*hi* &lt;b&gt;"), "{}", plain.html);
        assert_eq!(plain.excerpt, "*hi* <b>x</b>");
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

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn publishing_rules() {
        let now = t("2026-05-01T10:00:00Z");
        let later = t("2026-06-01T00:00:00Z");
        let earlier = t("2026-01-01T00:00:00Z");
        let p = Publishing::default;
        // New posts: published now unless said otherwise.
        assert_eq!(p().resolve(None, now), Ok(Some(Some(now))));
        assert_eq!(Publishing::draft().resolve(None, now), Ok(Some(None)));
        assert_eq!(
            Publishing::published(Some(later)).resolve(None, now),
            Ok(Some(Some(later)))
        );
        // A time alone publishes at that time, a draft too.
        let at = Publishing {
            status: None,
            at: Some(later),
        };
        assert_eq!(at.resolve(Some(None), now), Ok(Some(Some(later))));
        // Edits: nothing said, nothing changes; `published` keeps the date
        // of a published post and publishes a draft now.
        assert_eq!(p().resolve(Some(Some(earlier)), now), Ok(None));
        assert_eq!(p().resolve(Some(None), now), Ok(None));
        assert_eq!(
            Publishing::published(None).resolve(Some(Some(earlier)), now),
            Ok(None)
        );
        assert_eq!(
            Publishing::published(None).resolve(Some(None), now),
            Ok(Some(Some(now)))
        );
        assert_eq!(
            Publishing::draft().resolve(Some(Some(earlier)), now),
            Ok(Some(None))
        );
        // A draft with a time, and times out of range, are refused.
        let bad = Publishing {
            status: Some(PostStatus::Draft),
            at: Some(later),
        };
        let err = bad.resolve(None, now).unwrap_err();
        assert_eq!(
            (err.field.as_ref(), err.code),
            ("published_at", "invalid_published_at")
        );
        for secs in [-1, LATEST_PUBLICATION + 1] {
            let far = Publishing::published(DateTime::from_timestamp(secs, 0));
            assert!(far.resolve(None, now).is_err(), "{secs}");
        }
        assert_eq!(PostStatus::parse("draft"), Ok(PostStatus::Draft));
        assert_eq!(
            PostStatus::parse("Draft").unwrap_err().code,
            "invalid_status"
        );
    }
}
