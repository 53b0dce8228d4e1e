//! The avatar upload body: `multipart/form-data` with a file field `avatar`.
//!
//! A hand-written extractor rather than poem-openapi's `Upload` (which
//! spools the whole field to a temporary file first). Extraction only checks
//! the content type and keeps the body unread; [`AvatarUpload::read`] then
//! reads the field incrementally and refuses it with 413 as soon as it
//! passes `avatars.max_bytes`, whether or not the client declared a length.
//! The handler authenticates before reading, so anonymous clients cannot
//! make us buffer uploads.

use poem::http::header;
use poem::web::Multipart;
use poem::{Body, FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::AsyncReadExt as _;

use crate::error::ApiError;
use crate::startup::AppState;

pub const FIELD: &str = "avatar";
const CONTENT_TYPE: &str = "multipart/form-data";

/// The still unread multipart body of an avatar upload.
pub struct AvatarUpload {
    content_type: String,
    body: Body,
    max_bytes: usize,
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
        let content_type = request.content_type().unwrap_or_default().to_owned();
        let max_bytes = request
            .data::<AppState>()
            .map(|s| s.settings.avatars.max_bytes)
            .unwrap_or(5 * 1024 * 1024);
        let body = body.take()?;
        Ok(Self {
            content_type,
            body,
            max_bytes,
        })
    }
}

impl AvatarUpload {
    /// The bytes of the `avatar` field, at most `avatars.max_bytes` long.
    pub async fn read(self) -> Result<Vec<u8>, ApiError> {
        let malformed =
            |e: &dyn std::fmt::Display| ApiError::Malformed(format!("invalid multipart body: {e}"));
        // poem parses multipart from a request; rebuild a minimal one around
        // the body we kept.
        let request = Request::builder()
            .header(header::CONTENT_TYPE, self.content_type)
            .finish();
        let mut body = RequestBody::new(self.body);
        let mut multipart = <Multipart as FromRequest>::from_request(&request, &mut body)
            .await
            .map_err(|e| malformed(&e))?;
        loop {
            let field = multipart
                .next_field()
                .await
                .map_err(|e| malformed(&e))?
                .ok_or_else(|| {
                    ApiError::Malformed("the multipart body has no `avatar` field".into())
                })?;
            if field.name() != Some(FIELD) {
                // Other fields are skipped (bounded by the request body
                // limit) to reach the next one.
                continue;
            }
            let mut bytes = Vec::new();
            field
                .into_async_read()
                .take(self.max_bytes as u64 + 1)
                .read_to_end(&mut bytes)
                .await
                .map_err(|e| malformed(&e))?;
            if bytes.len() > self.max_bytes {
                return Err(ApiError::PayloadTooLarge(format!(
                    "the avatar is larger than {} bytes",
                    self.max_bytes
                )));
            }
            if bytes.is_empty() {
                return Err(ApiError::validation(FIELD, "must not be empty"));
            }
            return Ok(bytes);
        }
    }
}
