//! Tags: what a writer types ("Rust", "  web  dev", "ＲＵＳＴ") becomes one
//! slug ("rust", "web-dev", "rust"), so the same topic is one tag whatever
//! its case, its Unicode form or its spacing.

use unicode_normalization::UnicodeNormalization as _;

use crate::error::{ValidationError, ValidationErrors};

/// Tags on one post, at most.
pub const MAX_TAGS: usize = 10;
/// Characters in a tag's slug, at most.
pub const TAG_MAX_CHARS: usize = 50;

/// A tag as stored and put in URLs: NFKC-normalised, lower case, letters
/// and digits of any script and `+ # _`, every other run of characters
/// (spaces, punctuation) one `-`, none at either end; 1–50 characters.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TagSlug(String);

impl TagSlug {
    /// `field` names the tag in errors (`tags[3]`).
    pub fn parse(raw: &str, field: String) -> Result<Self, ValidationError> {
        let err = |msg: String| ValidationError::new(field.clone(), "invalid_tag", msg);
        // Bounded before any work: a tag is a word or a few, not a text.
        let raw_chars = raw.chars().count();
        if raw_chars > TAG_MAX_CHARS * 4 {
            return Err(err(format!(
                "must be at most {TAG_MAX_CHARS} characters (got {raw_chars})"
            )));
        }
        // Compatibility forms first (full-width letters, ligatures), then
        // case; lower-casing can leave a string that is not NFKC again.
        let folded: String = raw.nfkc().flat_map(char::to_lowercase).nfkc().collect();
        let mut slug = String::with_capacity(folded.len());
        let mut dash = false;
        for c in folded.chars() {
            if c.is_alphanumeric() || matches!(c, '+' | '#' | '_') {
                if dash && !slug.is_empty() {
                    slug.push('-');
                }
                dash = false;
                slug.push(c);
            } else {
                dash = true;
            }
        }
        let chars = slug.chars().count();
        if chars == 0 {
            return Err(err("must contain a letter or a digit".into()));
        }
        if chars > TAG_MAX_CHARS {
            return Err(err(format!(
                "must be at most {TAG_MAX_CHARS} characters (got {chars})"
            )));
        }
        Ok(Self(slug))
    }

    /// A slug from a URL or a query: the same normalisation, so `/tag/Rust/`
    /// finds `rust`; `None` for what can be no tag.
    pub fn lookup(raw: &str) -> Option<Self> {
        Self::parse(raw, String::new()).ok()
    }

    /// A slug read back from the database (already normalised).
    pub fn from_stored(slug: String) -> Self {
        Self(slug)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A post's tags: at most [`MAX_TAGS`] distinct slugs, in the order first
/// written (a duplicate after normalisation counts once).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<TagSlug>);

impl Tags {
    pub fn parse(raw: &[impl AsRef<str>]) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut tags: Vec<TagSlug> = Vec::new();
        for (i, tag) in raw.iter().enumerate() {
            if let Some(slug) = errors.check(TagSlug::parse(tag.as_ref(), format!("tags[{i}]")))
                && !tags.contains(&slug)
            {
                tags.push(slug);
            }
            // Thousands of tags stop here, not after thousands of checks.
            if tags.len() > MAX_TAGS || errors.0.len() >= MAX_TAGS {
                break;
            }
        }
        if tags.len() > MAX_TAGS {
            errors.0.insert(
                0,
                ValidationError::new(
                    "tags",
                    "too_many_tags",
                    format!("must be at most {MAX_TAGS} different tags"),
                ),
            );
        }
        errors.finish()?;
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[TagSlug] {
        &self.0
    }

    pub fn slugs(&self) -> Vec<&str> {
        self.0.iter().map(TagSlug::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(raw: &str) -> String {
        TagSlug::parse(raw, "tag".into()).unwrap().0
    }

    #[test]
    fn case_unicode_forms_and_spaces_make_one_slug() {
        assert_eq!(slug("Rust"), "rust");
        assert_eq!(slug("  Web \t Dev  "), "web-dev");
        assert_eq!(slug("ＲＵＳＴ"), "rust"); // full-width
        assert_eq!(slug("ﬁsh"), "fish"); // ligature
        assert_eq!(slug("Café"), slug("Cafe\u{301}")); // composed or not
        assert_eq!(slug("C++"), "c++");
        assert_eq!(slug("C#"), "c#");
        assert_eq!(slug("node.js"), "node-js");
        assert_eq!(slug("ÜBER straße"), "über-straße");
        assert_eq!(slug("日本語"), "日本語");
        assert_eq!(slug("--a--b--"), "a-b");
        assert_eq!(slug("<script>"), "script");
    }

    #[test]
    fn empty_and_long_tags_are_refused() {
        for bad in ["", "   ", "---", "!!!", "\u{0}"] {
            let e = TagSlug::parse(bad, "tags[0]".into()).unwrap_err();
            assert_eq!(
                (e.field.as_ref(), e.code),
                ("tags[0]", "invalid_tag"),
                "{bad:?}"
            );
        }
        assert!(TagSlug::parse(&"a".repeat(50), String::new()).is_ok());
        assert!(TagSlug::parse(&"a".repeat(51), String::new()).is_err());
        assert!(TagSlug::parse(&"a ".repeat(1000), String::new()).is_err());
    }

    #[test]
    fn at_most_ten_distinct_tags_duplicates_counted_once() {
        let ten: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse(&ten).unwrap().as_slice().len(), 10);
        let mut dupes = ten.clone();
        dupes.extend(["T0".to_owned(), " t1 ".to_owned()]);
        assert_eq!(
            Tags::parse(&dupes).unwrap().slugs(),
            Tags::parse(&ten).unwrap().slugs()
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        let e = Tags::parse(&eleven).unwrap_err();
        assert_eq!(e.0[0].code, "too_many_tags");
        let many: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse(&many).unwrap_err().0[0].code, "too_many_tags");
        let bad = Tags::parse(&["ok", "", "fine"]).unwrap_err();
        assert_eq!(bad.0.len(), 1);
        assert_eq!(bad.0[0].field, "tags[1]");
    }
}
