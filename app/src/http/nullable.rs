//! Fields that may be `null`, described so that generated clients model
//! them as they are (issue 13, item 14):
//!
//! - [`Nullable`]: always sent, `null` when it has no value. poem-openapi
//!   makes every `Option<T>` field optional (absent from `required`), so a
//!   generated client models "maybe missing" on top of "maybe null"
//!   (openapi-python-client's `Unset`) although the server always sends it.
//! - [`OptionalNullable`]: may be absent or `null` (request bodies).
//!
//! Both describe a nullable `$ref` as `oneOf: [$ref]` + `nullable`:
//! poem-openapi's `allOf: [$ref, {nullable}]` makes openapi-python-client
//! drop the whole model ("Invalid property in union").

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A value or `null`; `REQUIRED`: whether the field is always present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NullableField<T, const REQUIRED: bool>(pub Option<T>);

/// Always present in a body; `null` for `None`.
pub type Nullable<T> = NullableField<T, true>;
/// Absent or `null` both mean `None`.
pub type OptionalNullable<T> = NullableField<T, false>;

impl<T, const REQUIRED: bool> From<Option<T>> for NullableField<T, REQUIRED> {
    fn from(value: Option<T>) -> Self {
        Self(value)
    }
}

impl<T: Type, const REQUIRED: bool> Type for NullableField<T, REQUIRED> {
    const IS_REQUIRED: bool = REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            // A `$ref` cannot carry `nullable` beside it in OpenAPI 3.0.
            reference @ MetaSchemaRef::Reference(_) => {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    nullable: true,
                    one_of: vec![reference],
                    ..MetaSchema::ANY
                }))
            }
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Some(value) => value.raw_element_iter(),
            None => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ToJSON, const REQUIRED: bool> ToJSON for NullableField<T, REQUIRED> {
    fn to_json(&self) -> Option<Value> {
        Some(
            self.0
                .as_ref()
                .and_then(ToJSON::to_json)
                .unwrap_or(Value::Null),
        )
    }
}

impl<T: ParseFromJSON, const REQUIRED: bool> ParseFromJSON for NullableField<T, REQUIRED> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::Null) => Ok(Self(None)),
            None if !REQUIRED => Ok(Self(None)),
            Some(value) => T::parse_from_json(Some(value))
                .map(|v| Self(Some(v)))
                .map_err(ParseError::propagate),
            None => Err(ParseError::expected_input()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_sent_and_required() {
        const { assert!(<Nullable<u64> as Type>::IS_REQUIRED) };
        assert_eq!(Nullable::<u64>::from(None).to_json(), Some(Value::Null));
        assert_eq!(Nullable::from(Some(7u64)).to_json(), Some(Value::from(7)));
        let MetaSchemaRef::Inline(schema) = <Nullable<u64> as Type>::schema_ref() else {
            panic!("inline schema expected");
        };
        assert!(schema.nullable);
        assert!(<Nullable<u64> as ParseFromJSON>::parse_from_json(None).is_err());
        const { assert!(!<OptionalNullable<u64> as Type>::IS_REQUIRED) };
        assert_eq!(
            <OptionalNullable<u64> as ParseFromJSON>::parse_from_json(None).unwrap(),
            NullableField(None)
        );
        assert_eq!(
            <Nullable<u64> as ParseFromJSON>::parse_from_json(Some(Value::Null)).unwrap(),
            NullableField(None)
        );
    }
}
