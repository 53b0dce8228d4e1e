//! Object storage on any S3-compatible endpoint (rust-s3, path-style).
//!
//! rust-s3 is built without `fail-on-err`, so non-2xx answers come back as
//! data and are classified here: "not found" is a normal outcome, anything
//! else means storage is unavailable (a [`Failure::Unavailable`], 503 for API
//! clients, never a 500).

use std::time::Duration;

use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};

use crate::config::{ExposeSecret as _, S3CredentialSource, S3Settings};
use crate::error::Failure;

/// Upper bound on every storage request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid S3 configuration: {0}")]
    Config(String),
    /// Network failure, timeout, or an unexpected status from the server.
    #[error("object storage is unavailable: {0}")]
    Unavailable(String),
}

impl From<StorageError> for Failure {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Unavailable(_) => Failure::Unavailable(err.into()),
            StorageError::Config(_) => Failure::Internal(err.into()),
        }
    }
}

fn unavailable(err: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(err.to_string())
}

/// A handle on the configured bucket. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    bucket: Box<Bucket>,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not derived: `Bucket`'s Debug would print the credentials.
        f.debug_struct("Storage")
            .field("bucket", &self.bucket.name())
            .field("endpoint", &self.bucket.region().endpoint())
            .finish()
    }
}

/// The credentials `s3.credential_source` selects.
///
/// `static`: the configured keys, or anonymous without them. Never the
/// ambient chain, which would pick up whatever the environment, profile files
/// or a metadata endpoint happen to offer.
///
/// `default_chain`: the pod's cloud identity, tried in the AWS SDKs' order:
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, the profile file, web identity
/// (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`: EKS IRSA or any cluster's
/// projected ServiceAccount token), the container endpoint (EKS Pod Identity,
/// ECS), EC2 instance metadata. Temporary credentials are refreshed by the
/// client before they expire. Blocking HTTP: call at start-up only.
pub fn credentials(settings: &S3Settings) -> Result<Credentials, StorageError> {
    match settings.credential_source {
        S3CredentialSource::Static => match (&settings.access_key, &settings.secret_key) {
            (Some(access), Some(secret)) => Credentials::new(
                Some(access.expose_secret()),
                Some(secret.expose_secret()),
                None,
                None,
                None,
            ),
            _ => Credentials::anonymous(),
        }
        .map_err(|e| StorageError::Config(e.to_string())),
        S3CredentialSource::DefaultChain => Credentials::default().map_err(|e| {
            StorageError::Config(format!(
                "BLOG_S3__CREDENTIAL_SOURCE=default_chain found no credentials \
                 (AWS_ACCESS_KEY_ID, AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, \
                 AWS_CONTAINER_CREDENTIALS_FULL_URI, instance metadata): {e}"
            ))
        }),
    }
}

/// A path-style handle on bucket `name` of the configured endpoint, with the
/// configured credentials and a bound on every request.
pub fn open_bucket(
    settings: &S3Settings,
    name: &str,
    request_timeout: Duration,
) -> Result<Box<Bucket>, StorageError> {
    let region = Region::Custom {
        region: settings.region.clone(),
        endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
    };
    Bucket::new(name, region, credentials(settings)?)
        .map_err(|e| StorageError::Config(e.to_string()))?
        .with_path_style()
        .with_request_timeout(request_timeout)
        .map_err(|e| StorageError::Config(e.to_string()))
}

impl Storage {
    /// Builds the client; does not connect (except to fetch cloud
    /// credentials with `s3.credential_source = default_chain`).
    pub fn from_settings(settings: &S3Settings) -> Result<Self, StorageError> {
        let bucket = open_bucket(settings, &settings.bucket, REQUEST_TIMEOUT)?;
        Ok(Self { bucket })
    }

    pub fn bucket_name(&self) -> String {
        self.bucket.name()
    }

    pub async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), StorageError> {
        let resp = self
            .bucket
            .put_object_with_content_type(key, bytes, content_type)
            .await
            .map_err(unavailable)?;
        match resp.status_code() {
            200..=299 => Ok(()),
            status => Err(unavailable(format!("PUT {key} answered {status}"))),
        }
    }

    /// The object's bytes, or `None` if there is no such key.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let resp = self.bucket.get_object(key).await.map_err(unavailable)?;
        match resp.status_code() {
            200..=299 => Ok(Some(resp.to_vec())),
            404 => Ok(None),
            status => Err(unavailable(format!("GET {key} answered {status}"))),
        }
    }

    /// Deletes `key`; deleting a missing key succeeds (S3 semantics).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let resp = self.bucket.delete_object(key).await.map_err(unavailable)?;
        match resp.status_code() {
            200..=299 | 404 => Ok(()),
            status => Err(unavailable(format!("DELETE {key} answered {status}"))),
        }
    }

    /// Creates the bucket unless it exists. Safe to run concurrently and
    /// repeatedly (`blog migrate` calls it on every start).
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        let created = Bucket::create_with_path_style(
            &self.bucket.name(),
            self.bucket.region(),
            self.bucket.credentials().await.map_err(unavailable)?,
            BucketConfiguration::default(),
        )
        .await
        .map_err(unavailable)?;
        match created.response_code {
            // 409: BucketAlreadyOwnedByYou / BucketAlreadyExists.
            200..=299 | 409 => return Ok(()),
            _ => {}
        }
        // Credentials allowed to use a bucket may not be allowed to create
        // one (403): accept the bucket if it answers for a missing key.
        let resp = self
            .bucket
            .get_object(".blog-bucket-probe")
            .await
            .map_err(unavailable)?;
        let body = String::from_utf8_lossy(resp.as_slice());
        if resp.status_code() == 404 && body.contains("NoSuchKey") {
            return Ok(());
        }
        Err(unavailable(format!(
            "cannot create bucket {} (status {}): {}",
            self.bucket.name(),
            created.response_code,
            created.response_text.chars().take(300).collect::<String>()
        )))
    }
}

/// Settings whose endpoint refuses connections (a port just closed), for the
/// tests of failure paths here and in `backup`.
#[cfg(test)]
pub(crate) fn closed_endpoint() -> S3Settings {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    S3Settings {
        endpoint: format!("http://127.0.0.1:{port}"),
        ..S3Settings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn debug_does_not_print_credentials() {
        let settings = S3Settings {
            access_key: Some(Secret::from("AKIAEXAMPLE")),
            secret_key: Some(Secret::from("very-secret-key")),
            ..S3Settings::default()
        };
        let storage = Storage::from_settings(&settings).unwrap();
        let debug = format!("{storage:?}");
        assert!(debug.contains("blog-media"), "{debug}");
        assert!(!debug.contains("very-secret-key"), "{debug}");
        assert!(!debug.contains("AKIAEXAMPLE"), "{debug}");
    }

    /// Nothing listens on the port: every call is `Unavailable` (→ 503), none
    /// hangs or panics.
    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable() {
        let storage = Storage::from_settings(&closed_endpoint()).unwrap();
        assert!(matches!(
            storage.get("avatars/1/x.png").await,
            Err(StorageError::Unavailable(_))
        ));
        assert!(matches!(
            storage.put("avatars/1/x.png", b"x", "image/png").await,
            Err(StorageError::Unavailable(_))
        ));
        assert!(matches!(
            storage.ensure_bucket().await,
            Err(StorageError::Unavailable(_))
        ));
        let failure: Failure = storage.delete("k").await.unwrap_err().into();
        assert!(matches!(failure, Failure::Unavailable(_)), "{failure:?}");
    }
}
