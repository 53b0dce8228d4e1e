//! Full-text search: what a query may be, and the highlighted snippet made
//! safe to put in a page.
//!
//! Postgres parses the query (`websearch_to_tsquery`: words, `"phrases"`,
//! `or`, `-excluded`; it never fails on syntax, and a query of stop words or
//! operators only matches nothing). Here it is only bounded.

use crate::error::ValidationError;

/// Characters in a query, at most: a question, not a document.
pub const QUERY_MAX_CHARS: usize = 200;
/// Results per page, at most, and pages: the best 200 matches are the ones
/// worth reading; deeper is the job of better words.
pub const MAX_PER_PAGE: u32 = 20;
pub const MAX_PAGES: u32 = 10;
// The statement ranks at most `SEARCH_CAP` matches: enough for every page.
const _: () = assert!(super::repository::sql::SEARCH_CAP >= MAX_PAGES * MAX_PER_PAGE);

/// Where a match starts and ends in a snippet from the database (private-use
/// characters, chosen by the `SEARCH` statement's `ts_headline` options).
const START: char = '\u{E000}';
const STOP: char = '\u{E001}';

/// A query as searched: trimmed, 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery(String);

impl SearchQuery {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new("q", "invalid_query", msg);
        let q = raw.trim();
        if q.is_empty() {
            return Err(err("must not be empty".into()));
        }
        let chars = q.chars().count();
        if chars > QUERY_MAX_CHARS {
            return Err(err(format!(
                "must be at most {QUERY_MAX_CHARS} characters (got {chars})"
            )));
        }
        if q.chars().any(|c| c.is_control() || c == START || c == STOP) {
            return Err(err("must not contain control characters".into()));
        }
        Ok(Self(q.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `snippet` from the database as HTML: every character escaped, then the
/// match markers (only they) made `<mark>` elements, balanced whatever the
/// text held. The post's own text can never become markup.
pub fn snippet_html(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 32);
    let mut open = false;
    for c in snippet.chars() {
        match c {
            START if !open => {
                out.push_str("<mark>");
                open = true;
            }
            STOP if open => {
                out.push_str("</mark>");
                open = false;
            }
            // A stray marker (the post held one): dropped.
            START | STOP => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && !matches!(c, '\n' | '\t') => {}
            c => out.push(c),
        }
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_bounded_and_trimmed() {
        assert_eq!(
            SearchQuery::parse("  rust web ").unwrap().as_str(),
            "rust web"
        );
        assert!(SearchQuery::parse("   ").is_err());
        assert!(SearchQuery::parse(&"a".repeat(200)).is_ok());
        let e = SearchQuery::parse(&"a".repeat(201)).unwrap_err();
        assert_eq!((e.field.as_ref(), e.code), ("q", "invalid_query"));
        assert!(SearchQuery::parse("a\u{0}b").is_err());
        assert!(SearchQuery::parse("a\u{E000}b").is_err());
        // Operators only: a valid query (it matches nothing).
        assert!(SearchQuery::parse("\" - or | ! & ( )").is_ok());
    }

    #[test]
    fn snippets_escape_everything_but_the_marks() {
        assert_eq!(
            snippet_html("<script>alert(1)</script> \u{E000}Rust\u{E001} & \"q\""),
            "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Rust</mark> &amp; &quot;q&quot;"
        );
        // Unbalanced or stray markers never leave an element open.
        assert_eq!(snippet_html("\u{E001}a\u{E000}b"), "a<mark>b</mark>");
        assert_eq!(
            snippet_html("\u{E000}a\u{E000}b\u{E001}\u{E001}"),
            "<mark>ab</mark>"
        );
        assert_eq!(snippet_html("a\u{1b}b"), "ab");
    }
}
