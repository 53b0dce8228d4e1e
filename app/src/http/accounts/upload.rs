//! The avatar upload body: `multipart/form-data` with a file field `avatar`.
//!
//! A hand-written extractor rather than poem-openapi's `Upload` (which
//! spools the whole field to a temporary file first). Extraction only checks
//! the content type and keeps the body unread; [`AvatarUpload::read`] then
//! reads the field incrementally and refuses it with 413 as soon as it
//! passes `avatars.max_bytes`, whether or not the client declared a length.
//! The handler authenticates before reading, so an anonymous client never
//! gets the multipart parser to run; the body itself may already have been
//! buffered up to the avatar limit by `limit_body` in `http/mod.rs` (only
//! when it is sent without a `Content-Length`).

use poem::http::header;
use poem::web::Multipart;
use poem::{Body, FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::AsyncReadExt as _;

use crate::error::{ValidationError, ValidationErrors};
use crate::http::problem::{self, Problem};
use crate::startup::AppState;
use crate::{documented, problem_doc};

pub const FIELD: &str = "avatar";
const CONTENT_TYPE: &str = "multipart/form-data";

/// What can be wrong with the upload body itself.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("send the avatar as multipart/form-data with a file field `avatar`")]
    NotMultipart,
    #[error("invalid multipart body: {0}")]
    Malformed(String),
    #[error("the multipart body has no `avatar` field")]
    MissingField,
    #[error("the avatar is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Empty(ValidationErrors),
}

problem_doc!(NOT_MULTIPART = 415 "unsupported_media_type",
    "The body is not `multipart/form-data`.",
    "send the avatar as multipart/form-data with a file field `avatar`");
problem_doc!(BAD_MULTIPART = 400 "malformed_request",
    "The multipart body does not parse or has no `avatar` field.",
    "the multipart body has no `avatar` field");
problem_doc!(AVATAR_TOO_LARGE = 413 "payload_too_large",
    "The file is larger than `avatars.max_bytes` (5 MB by default).",
    "the avatar is larger than 5242880 bytes");
problem_doc!(EMPTY_AVATAR = 422 "validation_failed",
    "The `avatar` field is empty (`empty_file`).",
    "avatar: must not be empty",
    [("avatar", "empty_file", "must not be empty")]);

documented!(UploadError {
    UploadError::NotMultipart => NOT_MULTIPART;
    UploadError::Malformed(_) => BAD_MULTIPART;
    UploadError::MissingField => BAD_MULTIPART;
    UploadError::TooLarge(_) => AVATAR_TOO_LARGE;
    UploadError::Empty(e) => EMPTY_AVATAR, |p: Problem| p.with_errors(e);
});

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
            return Err(poem::Error::from_response(problem::simple(
                &NOT_MULTIPART,
                UploadError::NotMultipart.to_string(),
            )));
        }
        let content_type = request.content_type().unwrap_or_default().to_owned();
        let max_bytes = request
            .data::<AppState>()
            .map(|s| s.settings.avatars.max_bytes.as_usize())
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
    pub async fn read(self) -> Result<Vec<u8>, UploadError> {
        let malformed = |e: &dyn std::fmt::Display| UploadError::Malformed(e.to_string());
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
                .ok_or(UploadError::MissingField)?;
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
                return Err(UploadError::TooLarge(self.max_bytes));
            }
            if bytes.is_empty() {
                return Err(UploadError::Empty(
                    ValidationError::new(FIELD, "empty_file", "must not be empty").into(),
                ));
            }
            return Ok(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::problem::{Documented as _, VALIDATION_FAILED};

    #[test]
    fn an_empty_file_is_a_validation_failure_naming_the_field() {
        let err = UploadError::Empty(
            ValidationError::new(FIELD, "empty_file", "must not be empty").into(),
        );
        let problem = err.problem();
        assert_eq!(problem.code(), VALIDATION_FAILED.code);
        assert_eq!(problem.details().errors.unwrap()[0].field, FIELD);
    }
}
