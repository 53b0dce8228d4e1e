//! Logical backups in object storage: what `blog backup upload|list|download`
//! do with the archives that `pg_dump` writes and `pg_restore` reads.
//!
//! The Postgres tools run in the Postgres image and this binary in the app
//! image (the two cannot share one: musl and glibc); they meet at a file in a
//! shared directory (the chart's backup and restore pods, the restore drill).
//!
//! A backup is two objects under a prefix: `<name>` (the custom-format dump,
//! `<database>-<UTC yyyymmddThhmmssZ>.dump`) and `<name>.sha256` (one line in
//! `sha256sum` format). The checksum is written after the dump has been
//! uploaded and its size checked, so a backup is *complete* only once both
//! exist: listing, retention and `download latest` ignore anything else, and
//! `download` verifies every byte against the checksum before the file gets
//! its final name.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use s3::Bucket;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::S3Settings;
use crate::storage::{self, StorageError};

/// Bound on one S3 request. A download is a single GET of the whole dump, so
/// this is generous; the Job's own deadline bounds the whole run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);

const DUMP_SUFFIX: &str = ".dump";
const CHECKSUM_SUFFIX: &str = ".sha256";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no complete backup under {0}")]
    NoBackup(String),
    #[error("backup {0} not found (or its checksum is missing: an unfinished upload)")]
    NotFound(String),
    #[error(
        "backup {name}: checksum mismatch (expected {expected}, got {actual}); the file was removed"
    )]
    Corrupt {
        name: String,
        expected: String,
        actual: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

fn unavailable(err: impl std::fmt::Display) -> BackupError {
    BackupError::Storage(StorageError::Unavailable(err.to_string()))
}

/// A complete backup: the dump and its checksum are both in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// `<database>-<yyyymmddThhmmssZ>.dump`
    pub name: String,
    /// When pg_dump started (UTC), from the name: `yyyymmddThhmmssZ`.
    pub taken_at: String,
    pub size: u64,
}

/// What an upload did.
#[derive(Debug)]
pub struct Uploaded {
    pub backup: Backup,
    pub sha256: String,
    /// Objects deleted by retention (older backups, unfinished uploads).
    pub pruned: Vec<String>,
}

/// The UTC timestamp of a backup name, if it is one
/// (`<database>-yyyymmddThhmmssZ.dump`, database of `[A-Za-z0-9._-]`).
pub fn taken_at(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(DUMP_SUFFIX)?;
    let (database, stamp) = stem.rsplit_once('-')?;
    let valid_database = !database.is_empty()
        && database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let b = stamp.as_bytes();
    let valid_stamp = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    (valid_database && valid_stamp).then_some(stamp)
}

/// The checksum object's body, as `sha256sum` writes it (`sha256sum -c` reads it).
pub fn checksum_line(sha256: &str, name: &str) -> String {
    format!("{sha256}  {name}\n")
}

/// The hex digest in a checksum object's body.
pub fn parse_checksum(body: &str) -> Option<String> {
    let digest = body.split_whitespace().next()?;
    (digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| digest.to_ascii_lowercase())
}

/// One object under the prefix: its name (the key without the prefix) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub size: u64,
}

/// The complete backups among a listing, newest first.
pub fn complete(objects: &[Listed]) -> Vec<Backup> {
    let mut backups: Vec<Backup> = objects
        .iter()
        .filter_map(|o| {
            let stamp = taken_at(&o.name)?;
            let has_checksum = objects
                .iter()
                .any(|c| c.name == format!("{}{CHECKSUM_SUFFIX}", o.name));
            has_checksum.then(|| Backup {
                name: o.name.clone(),
                taken_at: stamp.to_owned(),
                size: o.size,
            })
        })
        .collect();
    backups.sort_by(|a, b| (&b.taken_at, &b.name).cmp(&(&a.taken_at, &a.name)));
    backups
}

/// The object names retention removes: every backup but the newest
/// `keep_last` complete ones, and unfinished uploads (a dump without
/// checksum, or a checksum without dump) older than the newest complete
/// backup. Objects that are not backups are never touched, and a running
/// upload (newer than every complete backup) is left alone.
pub fn to_prune(objects: &[Listed], keep_last: usize) -> Vec<String> {
    let backups = complete(objects);
    let Some(newest) = backups.first() else {
        return Vec::new();
    };
    let kept: Vec<&str> = backups
        .iter()
        .take(keep_last.max(1))
        .map(|b| b.name.as_str())
        .collect();
    let mut out = Vec::new();
    for o in objects {
        let dump = o.name.strip_suffix(CHECKSUM_SUFFIX).unwrap_or(&o.name);
        let Some(stamp) = taken_at(dump) else {
            continue;
        };
        let is_complete = backups.iter().any(|b| b.name == dump);
        let remove = if is_complete {
            !kept.contains(&dump)
        } else {
            (stamp, dump) < (newest.taken_at.as_str(), newest.name.as_str())
        };
        if remove {
            out.push(o.name.clone());
        }
    }
    out.sort();
    out
}

/// A bucket and prefix holding backups.
pub struct BackupStore {
    bucket: Box<Bucket>,
    prefix: String,
}

impl BackupStore {
    /// `bucket`: None (or empty) for the app's own `s3.bucket`. `prefix`:
    /// empty, or ending in `/`.
    pub fn new(
        settings: &S3Settings,
        bucket: Option<&str>,
        prefix: &str,
    ) -> Result<Self, BackupError> {
        if !(prefix.is_empty() || prefix.ends_with('/')) || prefix.starts_with('/') {
            return Err(BackupError::Usage(format!(
                "--prefix {prefix:?}: must be empty or end with '/' (and not start with one)"
            )));
        }
        let name = bucket.filter(|b| !b.is_empty()).unwrap_or(&settings.bucket);
        let bucket = storage::open_bucket(settings, name, REQUEST_TIMEOUT)?;
        Ok(Self {
            bucket,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Every object directly under the prefix.
    pub async fn objects(&self) -> Result<Vec<Listed>, BackupError> {
        let pages = self
            .bucket
            .list(self.prefix.clone(), Some("/".to_owned()))
            .await
            .map_err(unavailable)?;
        Ok(pages
            .into_iter()
            .flat_map(|page| page.contents)
            .filter_map(|o| {
                Some(Listed {
                    name: o.key.strip_prefix(&self.prefix)?.to_owned(),
                    size: o.size,
                })
            })
            .collect())
    }

    /// The complete backups, newest first.
    pub async fn list(&self) -> Result<Vec<Backup>, BackupError> {
        Ok(complete(&self.objects().await?))
    }

    /// Uploads `path` (a dump file, or a directory holding exactly one
    /// `*.dump`) and its checksum, then applies retention.
    pub async fn upload(&self, path: &Path, keep_last: usize) -> Result<Uploaded, BackupError> {
        let file = dump_file(path)?;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| taken_at(n).is_some())
            .ok_or_else(|| {
                BackupError::Usage(format!(
                    "{}: not a backup name (<database>-<yyyymmddThhmmssZ>.dump)",
                    file.display()
                ))
            })?
            .to_owned();
        if self.exists(&format!("{name}{CHECKSUM_SUFFIX}")).await? {
            return Err(BackupError::Usage(format!(
                "backup {name} already exists; refusing to overwrite it"
            )));
        }
        let size = tokio::fs::metadata(&file)
            .await
            .map_err(io_error(&file))?
            .len();
        let opened = tokio::fs::File::open(&file)
            .await
            .map_err(io_error(&file))?;
        let mut reader = Hashing::new(opened);
        let sent = self
            .bucket
            .put_object_stream_with_content_type(
                &mut reader,
                self.key(&name),
                "application/octet-stream",
            )
            .await
            .map_err(unavailable)?;
        if !(200..300).contains(&sent.status_code()) {
            return Err(unavailable(format!(
                "PUT {} answered {}",
                self.key(&name),
                sent.status_code()
            )));
        }
        let (sha256, hashed) = reader.finish();
        // What the server holds must be what was read, and what was read the
        // whole file: only then does the checksum make the backup complete.
        let stored = self.size_of(&name).await?;
        if hashed != size || stored != Some(size) {
            return Err(unavailable(format!(
                "upload of {name} incomplete: file {size} bytes, read {hashed}, stored {stored:?}"
            )));
        }
        self.put_small(
            &format!("{name}{CHECKSUM_SUFFIX}"),
            checksum_line(&sha256, &name).as_bytes(),
            "text/plain",
        )
        .await?;
        let pruned = self.prune(keep_last).await?;
        let backup = Backup {
            taken_at: taken_at(&name).unwrap_or_default().to_owned(),
            name,
            size,
        };
        Ok(Uploaded {
            backup,
            sha256,
            pruned,
        })
    }

    /// Deletes what [`to_prune`] selects; returns the names deleted.
    pub async fn prune(&self, keep_last: usize) -> Result<Vec<String>, BackupError> {
        let doomed = to_prune(&self.objects().await?, keep_last);
        for name in &doomed {
            let resp = self
                .bucket
                .delete_object(self.key(name))
                .await
                .map_err(unavailable)?;
            if !matches!(resp.status_code(), 200..=299 | 404) {
                return Err(unavailable(format!(
                    "DELETE {} answered {}",
                    self.key(name),
                    resp.status_code()
                )));
            }
        }
        Ok(doomed)
    }

    /// Downloads a backup (`latest` or a name) to `out`, verifying its
    /// SHA-256. The bytes go to `<out>.partial` first; only a verified file
    /// gets the final name, a corrupt one is deleted.
    pub async fn download(&self, which: &str, out: &Path) -> Result<(Backup, String), BackupError> {
        let backups = self.list().await?;
        let backup = if which == "latest" {
            backups.into_iter().next().ok_or_else(|| {
                BackupError::NoBackup(format!("s3://{}/{}", self.bucket.name(), self.prefix))
            })?
        } else {
            backups
                .into_iter()
                .find(|b| b.name == which)
                .ok_or_else(|| BackupError::NotFound(which.to_owned()))?
        };
        let checksum = self
            .get_small(&format!("{}{CHECKSUM_SUFFIX}", backup.name))
            .await?;
        let expected = parse_checksum(&checksum).ok_or_else(|| {
            unavailable(format!("{}{CHECKSUM_SUFFIX} holds no SHA-256", backup.name))
        })?;

        let mut partial = out.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = tokio::fs::File::create(&partial)
            .await
            .map_err(io_error(&partial))?;
        let mut writer = Hashing::new(file);
        let fetched = self
            .bucket
            .get_object_to_writer(self.key(&backup.name), &mut writer)
            .await;
        let (actual, written) = writer.finish();
        let failure = match fetched {
            Err(e) => Some(unavailable(e)),
            Ok(status) if !(200..300).contains(&status) => Some(unavailable(format!(
                "GET {} answered {status}",
                self.key(&backup.name)
            ))),
            Ok(_) if actual != expected => Some(BackupError::Corrupt {
                name: backup.name.clone(),
                expected,
                actual: format!("{actual} over {written} bytes"),
            }),
            Ok(_) => None,
        };
        if let Some(err) = failure {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(err);
        }
        tokio::fs::rename(&partial, out)
            .await
            .map_err(io_error(out))?;
        Ok((backup, actual))
    }

    async fn exists(&self, name: &str) -> Result<bool, BackupError> {
        Ok(self.size_of(name).await?.is_some())
    }

    async fn size_of(&self, name: &str) -> Result<Option<u64>, BackupError> {
        let (head, status) = self
            .bucket
            .head_object(self.key(name))
            .await
            .map_err(unavailable)?;
        match status {
            200..=299 => Ok(head.content_length.and_then(|l| u64::try_from(l).ok())),
            404 => Ok(None),
            status => Err(unavailable(format!(
                "HEAD {} answered {status}",
                self.key(name)
            ))),
        }
    }

    async fn put_small(
        &self,
        name: &str,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<(), BackupError> {
        let resp = self
            .bucket
            .put_object_with_content_type(self.key(name), bytes, content_type)
            .await
            .map_err(unavailable)?;
        match resp.status_code() {
            200..=299 => Ok(()),
            status => Err(unavailable(format!(
                "PUT {} answered {status}",
                self.key(name)
            ))),
        }
    }

    async fn get_small(&self, name: &str) -> Result<String, BackupError> {
        let resp = self
            .bucket
            .get_object(self.key(name))
            .await
            .map_err(unavailable)?;
        match resp.status_code() {
            200..=299 => Ok(String::from_utf8_lossy(resp.as_slice()).into_owned()),
            404 => Err(BackupError::NotFound(name.to_owned())),
            status => Err(unavailable(format!(
                "GET {} answered {status}",
                self.key(name)
            ))),
        }
    }
}

/// The dump to upload: `path` itself, or the only `*.dump` in directory `path`
/// (the chart's dump container names the file; the upload container finds it).
fn dump_file(path: &Path) -> Result<PathBuf, BackupError> {
    if !path.is_dir() {
        return Ok(path.to_owned());
    }
    let mut dumps = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_error(path))? {
        let entry = entry.map_err(io_error(path))?.path();
        if entry.extension().is_some_and(|e| e == "dump") && entry.is_file() {
            dumps.push(entry);
        }
    }
    match dumps.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(BackupError::Usage(format!(
            "{}: no *.dump file (did pg_dump succeed?)",
            path.display()
        ))),
        _ => Err(BackupError::Usage(format!(
            "{}: {} *.dump files, expected one",
            path.display(),
            dumps.len()
        ))),
    }
}

/// Wraps a reader or writer and hashes the bytes that pass through it, so the
/// checksum is of exactly what was uploaded or downloaded, in one pass.
struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    bytes: u64,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The hex SHA-256 and the number of bytes seen.
    fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }

    fn seen(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Hashing<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let new = buf.filled()[before..].to_vec();
            self.seen(&new);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Hashing<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.seen(&buf[..n]);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn listed(names: &[&str]) -> Vec<Listed> {
        names
            .iter()
            .map(|n| Listed {
                name: (*n).to_owned(),
                size: 1,
            })
            .collect()
    }

    #[test]
    fn backup_names_carry_their_time() {
        assert_eq!(
            taken_at("blog-20260101T031700Z.dump"),
            Some("20260101T031700Z")
        );
        assert_eq!(
            taken_at("my.db_1-x-20260101T031700Z.dump"),
            Some("20260101T031700Z")
        );
        for bad in [
            "blog-20260101T031700Z",
            "blog-20260101T031700Z.dump.sha256",
            "-20260101T031700Z.dump",
            "blog-2026010T1031700Z.dump",
            "blog-20260101X031700Z.dump",
            "blog-2026a101T031700Z.dump",
            "a/b-20260101T031700Z.dump",
            "blog.dump",
        ] {
            assert_eq!(taken_at(bad), None, "{bad}");
        }
    }

    #[test]
    fn checksum_round_trips_in_sha256sum_format() {
        let digest = "ab".repeat(32);
        let line = checksum_line(&digest, "blog-20260101T031700Z.dump");
        assert_eq!(line, format!("{digest}  blog-20260101T031700Z.dump\n"));
        assert_eq!(parse_checksum(&line), Some(digest));
        assert_eq!(parse_checksum("nothex  x"), None);
        assert_eq!(parse_checksum(""), None);
        assert_eq!(parse_checksum(&"a".repeat(63)), None);
    }

    #[test]
    fn only_dumps_with_a_checksum_are_backups_newest_first() {
        let objects = listed(&[
            "blog-20260101T031700Z.dump",
            "blog-20260101T031700Z.dump.sha256",
            "blog-20260103T031700Z.dump",
            "blog-20260103T031700Z.dump.sha256",
            "blog-20260104T031700Z.dump",
            "notes.txt",
        ]);
        let names: Vec<_> = complete(&objects).into_iter().map(|b| b.name).collect();
        assert_eq!(
            names,
            ["blog-20260103T031700Z.dump", "blog-20260101T031700Z.dump"]
        );
    }

    #[test]
    fn retention_keeps_the_newest_and_spares_a_running_upload() {
        let objects = listed(&[
            "blog-20260101T031700Z.dump",
            "blog-20260101T031700Z.dump.sha256",
            // unfinished, older than the newest complete one: garbage
            "blog-20260102T031700Z.dump",
            "blog-20260103T031700Z.dump",
            "blog-20260103T031700Z.dump.sha256",
            "blog-20260104T031700Z.dump",
            "blog-20260104T031700Z.dump.sha256",
            // a checksum whose dump is gone
            "blog-20260101T000000Z.dump.sha256",
            // in progress (newer than every complete backup): untouched
            "blog-20260105T031700Z.dump",
            "README",
        ]);
        assert_eq!(
            to_prune(&objects, 2),
            [
                "blog-20260101T000000Z.dump.sha256",
                "blog-20260101T031700Z.dump",
                "blog-20260101T031700Z.dump.sha256",
                "blog-20260102T031700Z.dump",
            ]
        );
        // keep_last 0 still keeps the newest: retention never empties the store.
        assert_eq!(to_prune(&objects, 0).len(), 6);
        assert!(!to_prune(&objects, 0).iter().any(|n| n.contains("20260104")));
        // Without any complete backup nothing is removed.
        assert!(to_prune(&listed(&["blog-20260102T031700Z.dump"]), 1).is_empty());
    }

    #[test]
    fn prefix_must_be_a_directory() {
        let settings = S3Settings::default();
        for bad in ["backups", "/backups/"] {
            assert!(matches!(
                BackupStore::new(&settings, None, bad),
                Err(BackupError::Usage(_))
            ));
        }
        assert!(BackupStore::new(&settings, None, "backups/postgres/").is_ok());
        assert!(BackupStore::new(&settings, Some("other"), "").is_ok());
    }

    #[test]
    fn a_spool_directory_must_hold_exactly_one_dump() {
        let dir = std::env::temp_dir().join(format!("blog-backup-spool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(dump_file(&dir), Err(BackupError::Usage(m)) if m.contains("no *.dump")));
        std::fs::write(dir.join("blog-20260101T031700Z.dump"), b"x").unwrap();
        std::fs::write(dir.join("blog-20260101T031700Z.dump.partial"), b"x").unwrap();
        assert_eq!(
            dump_file(&dir).unwrap(),
            dir.join("blog-20260101T031700Z.dump")
        );
        std::fs::write(dir.join("blog-20260102T031700Z.dump"), b"x").unwrap();
        assert!(matches!(dump_file(&dir), Err(BackupError::Usage(m)) if m.contains("2 *.dump")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn hashing_sees_exactly_the_bytes_that_pass() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = Hashing::new(&data[..]);
        let mut copy = Vec::new();
        reader.read_to_end(&mut copy).await.unwrap();
        let (digest, n) = reader.finish();
        assert_eq!(copy, data);
        assert_eq!(n, 100_000);
        assert_eq!(digest, hex::encode(Sha256::digest(&data)));

        let mut writer = Hashing::new(Vec::new());
        writer.write_all(&data).await.unwrap();
        let (digest2, n2) = writer.finish();
        assert_eq!((digest2, n2), (digest, n));
    }

    /// Nothing listens: every S3 call fails as unavailable, none hangs.
    #[tokio::test]
    async fn unreachable_storage_is_an_error_not_a_hang() {
        let store = BackupStore::new(&storage::closed_endpoint(), None, "backups/").unwrap();
        assert!(matches!(store.list().await, Err(BackupError::Storage(_))));
        let out = std::env::temp_dir().join(format!("blog-backup-dl-{}", std::process::id()));
        assert!(store.download("latest", &out).await.is_err());
        assert!(!out.exists());
    }
}
