//! A JSON string field that accepts only JSON strings.
//!
//! poem-openapi's `String` silently turns `5` or `true` into `"5"`/`"true"`;
//! for request bodies a wrong type should be a 400, so write bodies use
//! [`StrictString`] (documented as a plain `string`).

use std::borrow::Cow;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrictString(pub String);

impl Deref for StrictString {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Type for StrictString {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for StrictString {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Self(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for StrictString {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_json_strings_parse() {
        assert_eq!(
            StrictString::parse_from_json(Some(json!("hi"))).unwrap(),
            StrictString("hi".into())
        );
        for bad in [
            json!(5),
            json!(true),
            json!(null),
            json!(["a"]),
            json!({"a": 1}),
        ] {
            assert!(
                StrictString::parse_from_json(Some(bad.clone())).is_err(),
                "{bad}"
            );
        }
        assert!(StrictString::parse_from_json(None).is_err());
    }
}

/// What the OpenAPI schema says about a text field: the rules the domain
/// enforces that a JSON Schema can express, so that clients (and generated
/// test data) know them. The domain still checks everything itself and
/// answers with its own messages.
pub trait TextRules: Send + Sync + 'static {
    const MIN_LENGTH: Option<usize> = None;
    const MAX_LENGTH: Option<usize> = None;
    /// An ECMA-262 regular expression the value matches.
    const PATTERN: Option<&'static str> = None;
    const FORMAT: Option<&'static str> = None;
}

/// A JSON string (like [`StrictString`]) whose schema carries the rules of
/// `R`.
pub struct Text<R>(pub String, std::marker::PhantomData<R>);

impl<R> Text<R> {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into(), std::marker::PhantomData)
    }
}

impl<R> std::fmt::Debug for Text<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<R> Deref for Text<R> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<R: TextRules> Type for Text<R> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            min_length: R::MIN_LENGTH,
            max_length: R::MAX_LENGTH,
            pattern: R::PATTERN.map(str::to_owned),
            format: R::FORMAT,
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<R: TextRules> ParseFromJSON for Text<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => Ok(Self::new(s)),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<R: TextRules> ToJSON for Text<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// The rules of the text fields of request bodies.
pub mod rules {
    use super::TextRules;
    use crate::accounts::{Bio, EmailAddress, Password, Username};
    use crate::posts::domain::{CONTENT_MAX_CHARS, TITLE_MAX_CHARS};

    /// Control characters (C0, DEL, C1), which titles and names refuse.
    macro_rules! no_controls {
        () => {
            r"\u0000-\u001f\u007f-\u009f"
        };
    }

    /// Control characters long text refuses (all but tab, LF and CR).
    macro_rules! long_text_controls {
        () => {
            r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
        };
    }

    /// Bidirectional embeddings, overrides and isolates (`crate::text`).
    macro_rules! bidi_reordering {
        () => {
            r"\u202a-\u202e\u2066-\u2069"
        };
    }

    pub struct Title;
    impl TextRules for Title {
        const MIN_LENGTH: Option<usize> = Some(1);
        const MAX_LENGTH: Option<usize> = Some(TITLE_MAX_CHARS);
        const PATTERN: Option<&'static str> = Some(concat!(
            "^[^",
            no_controls!(),
            bidi_reordering!(),
            "]*[^\\s",
            no_controls!(),
            bidi_reordering!(),
            "][^",
            no_controls!(),
            bidi_reordering!(),
            "]*$"
        ));
    }

    pub struct Content;
    impl TextRules for Content {
        const MIN_LENGTH: Option<usize> = Some(1);
        const MAX_LENGTH: Option<usize> = Some(CONTENT_MAX_CHARS);
        const PATTERN: Option<&'static str> = Some(concat!(
            "^[^",
            long_text_controls!(),
            "]*[^\\s",
            long_text_controls!(),
            "][^",
            long_text_controls!(),
            "]*$"
        ));
    }

    /// A comment: the rules of post content, shorter.
    pub struct CommentText;
    impl TextRules for CommentText {
        const MIN_LENGTH: Option<usize> = Some(1);
        const MAX_LENGTH: Option<usize> = Some(crate::comments::COMMENT_MAX_CHARS);
        const PATTERN: Option<&'static str> = Content::PATTERN;
    }

    pub struct ReasonText;
    impl TextRules for ReasonText {
        const MAX_LENGTH: Option<usize> = Some(crate::moderation::Reason::MAX_CHARS);
        const PATTERN: Option<&'static str> = Some(concat!("^[^", long_text_controls!(), "]*$"));
    }

    pub struct NewUsername;
    impl TextRules for NewUsername {
        const MIN_LENGTH: Option<usize> = Some(1);
        const MAX_LENGTH: Option<usize> = Some(Username::MAX_CHARS);
        const PATTERN: Option<&'static str> = Some(r"^(?!\.\.?$)[\w.@+-]+$");
    }

    pub struct Email;
    impl TextRules for Email {
        const MIN_LENGTH: Option<usize> = Some(3);
        const MAX_LENGTH: Option<usize> = Some(EmailAddress::MAX_LEN);
        const FORMAT: Option<&'static str> = Some("email");
    }

    pub struct NewPassword;
    impl TextRules for NewPassword {
        const MIN_LENGTH: Option<usize> = Some(Password::MIN_CHARS);
        const MAX_LENGTH: Option<usize> = Some(Password::MAX_BYTES);
        /// Not only digits, no control characters.
        const PATTERN: Option<&'static str> = Some(concat!("^(?=.*\\D)[^", no_controls!(), "]*$"));
        const FORMAT: Option<&'static str> = Some("password");
    }

    pub struct AnyPassword;
    impl TextRules for AnyPassword {
        const MAX_LENGTH: Option<usize> = Some(Password::MAX_BYTES);
        const FORMAT: Option<&'static str> = Some("password");
    }

    pub struct Login;
    impl TextRules for Login {
        const MIN_LENGTH: Option<usize> = Some(1);
        const MAX_LENGTH: Option<usize> = Some(512);
    }

    pub struct BioText;
    impl TextRules for BioText {
        const MAX_LENGTH: Option<usize> = Some(Bio::MAX_CHARS);
        const PATTERN: Option<&'static str> = Some(concat!(
            "^[^",
            long_text_controls!(),
            bidi_reordering!(),
            "]*$"
        ));
    }

    pub struct Token;
    impl TextRules for Token {
        const MIN_LENGTH: Option<usize> = Some(1);
        const MAX_LENGTH: Option<usize> = Some(256);
    }
}
