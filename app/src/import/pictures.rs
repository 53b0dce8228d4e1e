//! Where the Django original keeps its profile pictures: a media directory
//! (MEDIA_ROOT) or a `django-storages` S3 bucket (keys `[location/]profile_pics/…`).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use s3::Bucket;

use crate::config::{S3CredentialSource, S3Settings};
use crate::storage::open_bucket;

/// Django's `ImageField(default='default.jpg')`: the picture every profile
/// has until its user uploads one. It maps to our default avatar.
pub const DJANGO_DEFAULT_PICTURE: &str = "default.jpg";

pub enum Pictures {
    /// No picture source given: every own picture is reported as missing.
    None,
    Dir(PathBuf),
    S3 {
        bucket: Box<Bucket>,
        /// django-storages' `AWS_LOCATION`: empty, or ending in `/`.
        prefix: String,
    },
}

/// Where the original's S3 bucket is: our S3 settings (endpoint, region,
/// credentials) unless overridden.
pub struct S3Source {
    pub bucket: String,
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
}

impl Pictures {
    pub fn s3(ours: &S3Settings, src: S3Source) -> anyhow::Result<Self> {
        let mut settings = ours.clone();
        if let Some(endpoint) = src.endpoint {
            settings.endpoint = endpoint;
        }
        if let Some(region) = src.region {
            settings.region = region;
        }
        if let (Some(access), Some(secret)) = (src.access_key, src.secret_key) {
            settings.credential_source = S3CredentialSource::Static;
            settings.access_key = Some(access.into());
            settings.secret_key = Some(secret.into());
        }
        let bucket = open_bucket(&settings, &src.bucket, Duration::from_secs(30))?;
        let mut prefix = src.prefix.trim_start_matches('/').to_owned();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Self::S3 { bucket, prefix })
    }

    /// The picture's bytes, or why there are none (missing, unreadable,
    /// larger than `max_bytes`, a name that leaves the media root).
    pub async fn fetch(&self, name: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
        let relative = safe_relative(name)?;
        let bytes = match self {
            Self::None => {
                return Err("no picture source given (--media DIR or --media-s3-bucket)".into());
            }
            Self::Dir(root) => {
                let path = root.join(&relative);
                let meta = tokio::fs::metadata(&path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if meta.len() > max_bytes {
                    return Err(too_large(meta.len(), max_bytes));
                }
                tokio::fs::read(&path)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            Self::S3 { bucket, prefix } => {
                let key = format!("{prefix}{}", relative.to_string_lossy());
                let resp = bucket
                    .get_object(&key)
                    .await
                    .map_err(|e| format!("s3://{}/{key}: {e}", bucket.name()))?;
                match resp.status_code() {
                    200..=299 => resp.to_vec(),
                    404 => return Err(format!("s3://{}/{key}: no such object", bucket.name())),
                    status => {
                        return Err(format!("s3://{}/{key}: answered {status}", bucket.name()));
                    }
                }
            }
        };
        if bytes.len() as u64 > max_bytes {
            return Err(too_large(bytes.len() as u64, max_bytes));
        }
        Ok(bytes)
    }
}

fn too_large(len: u64, max: u64) -> String {
    format!("{len} bytes, more than the {max} bytes an avatar upload may have")
}

/// The name as a path inside the media root: relative, no `..`. The name
/// comes from the dump, which is data, not a path to trust.
fn safe_relative(name: &str) -> Result<PathBuf, String> {
    let path = Path::new(name);
    let clean = !name.is_empty()
        && !name.contains('\\')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if clean {
        Ok(path.to_path_buf())
    } else {
        Err(format!("{name:?} is not a file name under the media root"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_under_the_media_root() {
        assert!(safe_relative("profile_pics/a.jpg").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../secret.jpg",
            "profile_pics/../../x",
            "a\\b.jpg",
        ] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn missing_and_oversized_files_are_reasons_not_errors() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("big.jpg"), vec![0u8; 2048]).unwrap();
        let pictures = Pictures::Dir(dir.clone());
        assert!(
            pictures
                .fetch("nope.jpg", 4096)
                .await
                .unwrap_err()
                .contains("nope.jpg")
        );
        assert!(
            pictures
                .fetch("big.jpg", 1024)
                .await
                .unwrap_err()
                .contains("2048 bytes")
        );
        assert_eq!(pictures.fetch("big.jpg", 4096).await.unwrap().len(), 2048);
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("blog-pictures-{}", crate::tokens::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
