//! The avatar upload body: `multipart/form-data` with a file field `avatar`.
//!
//! A hand-written extractor rather than poem-openapi's `Upload` (which
//! spools the whole field to a temporary file first): the field is read
//! incrementally and refused with 413 as soon as it passes
//! `avatars.max_bytes`, whether or not the client declared a length.

use poem::web::Multipart;
use poem::{FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::AsyncReadExt as _;

use crate::error::ApiError;
use crate::startup::AppState;

pub const FIELD: &str = "avatar";
const CONTENT_TYPE: &str = "multipart/form-data";

/// The raw bytes of the `avatar` field, at most `avatars.max_bytes` long.
#[derive(Debug)]
pub struct AvatarUpload {
    pub bytes: Vec<u8>,
}

fn malformed(detail: impl Into<String>) -> poem::Error {
    ApiError::Malformed(detail.into()).into()
}

impl<'a> ApiExtractor<'a> for AvatarUpload {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(_registry: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
        let file = MetaSchema {
            description: Some("A PNG, JPEG or WebP image."),
            ..MetaSchema::new_with_format("string", "binary")
        };
        let schema = MetaSchema {
            required: vec![FIELD],
            properties: vec![(FIELD, MetaSchemaRef::Inline(Box::new(file)))],
            ..MetaSchema::new("object")
        };
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: CONTENT_TYPE,
                schema: MetaSchemaRef::Inline(Box::new(schema)),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let is_multipart = request
            .content_type()
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with(CONTENT_TYPE));
        if !is_multipart {
            return Err(ApiError::UnsupportedMediaType(
                "send the avatar as multipart/form-data with a file field `avatar`".into(),
            )
            .into());
        }
        let max = request
            .data::<AppState>()
            .map(|s| s.settings.avatars.max_bytes)
            .unwrap_or(5 * 1024 * 1024);

        let mut multipart = <Multipart as FromRequest>::from_request(request, body)
            .await
            .map_err(|e| malformed(format!("invalid multipart body: {e}")))?;
        loop {
            let field = multipart
                .next_field()
                .await
                .map_err(|e| malformed(format!("invalid multipart body: {e}")))?
                .ok_or_else(|| malformed("the multipart body has no `avatar` field"))?;
            if field.name() != Some(FIELD) {
                // Other fields are ignored, but still read through (bounded
                // by the request body limit) to reach the next one.
                continue;
            }
            let mut bytes = Vec::new();
            field
                .into_async_read()
                .take(max as u64 + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| malformed(format!("could not read the avatar: {e}")))?;
            if bytes.len() > max {
                return Err(ApiError::PayloadTooLarge(format!(
                    "the avatar is larger than {max} bytes"
                ))
                .into());
            }
            if bytes.is_empty() {
                return Err(ApiError::validation(FIELD, "must not be empty").into());
            }
            return Ok(Self { bytes });
        }
    }
}
