//! Reading the Django original: a `manage.py dumpdata` file (plain or
//! gzipped, or standard input) or its live Postgres database.
//!
//! Only malformed input as a whole (not JSON, not an array, an unreachable
//! database) is an error here; a single object that breaks a rule becomes a
//! [`Problem`] naming its model and Django id, so that every problem of a
//! file is reported at once.

use std::collections::BTreeMap;
use std::io::Read as _;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value};

pub const USER: &str = "auth.user";
pub const PROFILE: &str = "users.profile";
pub const POST: &str = "blog.post";

/// A Django `auth.User`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DjangoUser {
    pub pk: i64,
    pub username: String,
    pub email: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

/// A foreign key to `auth.User`: its pk, or its natural key (the username,
/// as `dumpdata --natural-foreign` writes it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum UserRef {
    Pk(i64),
    Username(String),
}

/// The original's `users.Profile` (one per user; `image` is the path under
/// MEDIA_ROOT, `default.jpg` for the default picture).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DjangoProfile {
    pub pk: i64,
    pub user: UserRef,
    pub image: String,
}

/// The original's `blog.Post`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DjangoPost {
    pub pk: i64,
    pub title: String,
    pub content: String,
    pub date_posted: DateTime<Utc>,
    pub author: UserRef,
}

/// One object that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub model: String,
    /// The Django primary key as written (absent or malformed pks too).
    pub pk: String,
    pub reason: String,
}

impl Problem {
    pub fn new(model: &str, pk: impl ToString, reason: impl Into<String>) -> Self {
        Self {
            model: model.to_owned(),
            pk: pk.to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} #{}: {}", self.model, self.pk, self.reason)
    }
}

/// Everything read from the original.
#[derive(Debug, Default)]
pub struct Dump {
    pub users: Vec<DjangoUser>,
    pub profiles: Vec<DjangoProfile>,
    pub posts: Vec<DjangoPost>,
    pub problems: Vec<Problem>,
    /// Objects of other models (a whole-project `dumpdata` has many):
    /// model → how many, not imported.
    pub ignored: BTreeMap<String, usize>,
}

/// Reads a dumpdata file; `-` is standard input. Gzip is recognised by its
/// magic bytes, whatever the file is called.
pub fn read_dumpdata(path: &str) -> anyhow::Result<Dump> {
    let mut raw = Vec::new();
    if path == "-" {
        std::io::stdin()
            .lock()
            .read_to_end(&mut raw)
            .context("reading standard input")?;
    } else {
        raw = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    }
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("decompressing {path} (gzip)"))?;
        raw = out;
    }
    parse_dumpdata(&raw)
}

/// Parses `dumpdata` JSON: an array of `{"model", "pk", "fields"}` objects.
pub fn parse_dumpdata(bytes: &[u8]) -> anyhow::Result<Dump> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let value: Value = serde_json::from_slice(bytes)
        .context("the input is not valid JSON (expected `manage.py dumpdata` output)")?;
    let Value::Array(items) = value else {
        anyhow::bail!(
            "the input is JSON but not an array of objects (`manage.py dumpdata` output)"
        );
    };
    let mut dump = Dump::default();
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            dump.problems.push(Problem::new(
                "?",
                format!("? (array item {})", i + 1),
                "not an object",
            ));
            continue;
        };
        let Some(model) = obj.get("model").and_then(Value::as_str) else {
            dump.problems.push(Problem::new(
                "?",
                format!("? (array item {})", i + 1),
                "no `model` name",
            ));
            continue;
        };
        let model = model.to_ascii_lowercase();
        if ![USER, PROFILE, POST].contains(&model.as_str()) {
            *dump.ignored.entry(model).or_default() += 1;
            continue;
        }
        let pk_shown = obj
            .get("pk")
            .map_or_else(|| format!("? (array item {})", i + 1), compact);
        let parsed = parse_object(&model, obj, &mut dump);
        if let Err(reason) = parsed {
            dump.problems.push(Problem::new(&model, pk_shown, reason));
        }
    }
    Ok(dump)
}

/// One object of a wanted model into `dump`, or why it cannot be read.
fn parse_object(model: &str, obj: &Map<String, Value>, dump: &mut Dump) -> Result<(), String> {
    let pk = match obj.get("pk") {
        Some(Value::Number(n)) => n.as_i64().filter(|&n| n > 0),
        _ => None,
    }
    .ok_or("pk: not a positive integer")?;
    let fields = obj
        .get("fields")
        .and_then(Value::as_object)
        .ok_or("no `fields` object")?;
    let f = Fields(fields);
    match model {
        USER => dump.users.push(DjangoUser {
            pk,
            username: f.text("username")?,
            email: f.text("email")?,
            password: f.text("password")?,
            is_active: f.boolean("is_active", true)?,
            is_staff: f.boolean("is_staff", false)?,
            is_superuser: f.boolean("is_superuser", false)?,
            date_joined: f.datetime("date_joined")?.ok_or("date_joined: missing")?,
            last_login: f.datetime("last_login")?,
        }),
        PROFILE => dump.profiles.push(DjangoProfile {
            pk,
            user: f.user_ref("user")?,
            image: f.text_or("image", "")?,
        }),
        _ => dump.posts.push(DjangoPost {
            pk,
            title: f.text("title")?,
            content: f.text("content")?,
            date_posted: f.datetime("date_posted")?.ok_or("date_posted: missing")?,
            author: f.user_ref("author")?,
        }),
    }
    Ok(())
}

/// A JSON value shown short in a message.
fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, key: &str) -> Result<String, String> {
        match self.0.get(key) {
            Some(Value::String(s)) => no_nul(key, s),
            Some(other) => Err(format!(
                "{key}: expected a string, found {}",
                compact(other)
            )),
            None => Err(format!("{key}: missing")),
        }
    }

    fn text_or(&self, key: &str, default: &str) -> Result<String, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default.to_owned()),
            Some(_) => self.text(key),
        }
    }

    fn boolean(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.0.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!(
                "{key}: expected true or false, found {}",
                compact(other)
            )),
        }
    }

    fn datetime(&self, key: &str) -> Result<Option<DateTime<Utc>>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_datetime(s).map(Some).ok_or_else(|| {
                format!(
                    "{key}: not a date and time: {}",
                    compact(&Value::from(s.as_str()))
                )
            }),
            Some(other) => Err(format!(
                "{key}: expected a date and time, found {}",
                compact(other)
            )),
        }
    }

    fn user_ref(&self, key: &str) -> Result<UserRef, String> {
        match self.0.get(key) {
            Some(Value::Number(n)) => n
                .as_i64()
                .map(UserRef::Pk)
                .ok_or_else(|| format!("{key}: not a user id: {n}")),
            // `--natural-foreign`: the user's natural key, `["username"]`.
            Some(Value::Array(a)) => match a.as_slice() {
                [Value::String(name)] => Ok(UserRef::Username(no_nul(key, name)?)),
                _ => Err(format!(
                    "{key}: not a user's natural key: {}",
                    compact(&Value::Array(a.clone()))
                )),
            },
            Some(other) => Err(format!(
                "{key}: expected a user id, found {}",
                compact(other)
            )),
            None => Err(format!("{key}: missing")),
        }
    }
}

/// Postgres `text` cannot hold NUL: refused here, named, instead of failing
/// a whole batch later.
fn no_nul(key: &str, s: &str) -> Result<String, String> {
    if s.contains('\0') {
        Err(format!("{key}: contains a NUL character"))
    } else {
        Ok(s.to_owned())
    }
}

/// Django's serializer writes ISO 8601: with an offset (`…Z`, `…+02:00`)
/// when `USE_TZ = True`, naive otherwise (taken as UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

/// Reads the original's tables `auth_user`, `users_profile` and `blog_post`
/// in one read-only REPEATABLE READ transaction: one consistent snapshot
/// however long it takes, and nothing can be written by mistake.
pub async fn read_postgres(url: &str) -> anyhow::Result<Dump> {
    let config: tokio_postgres::Config = url
        .parse()
        .context("the source is not a valid Postgres connection URL")?;
    let mut client = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        let (client, connection) = config
            .connect(crate::db::native_roots_tls()?)
            .await
            .context("connecting to the Django database (TLS)")?;
        tokio::spawn(connection);
        client
    } else {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .context("connecting to the Django database")?;
        tokio::spawn(connection);
        client
    };
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .context("starting a read-only transaction on the Django database")?;
    // Naive timestamps (USE_TZ = False) are taken as UTC, as in a dump.
    tx.batch_execute("SET LOCAL TIME ZONE 'UTC'")
        .await
        .context("setting the time zone of the Django database session")?;
    let mut dump = Dump::default();
    let users = tx
        .query(
            "SELECT id::bigint AS id, username, email, password, is_active, is_staff, \
             is_superuser, date_joined::timestamptz AS date_joined, \
             last_login::timestamptz AS last_login FROM auth_user ORDER BY id",
            &[],
        )
        .await
        .context("reading auth_user")?;
    for r in users {
        dump.users.push(DjangoUser {
            pk: r.try_get("id")?,
            username: r.try_get("username")?,
            email: r.try_get("email")?,
            password: r.try_get("password")?,
            is_active: r.try_get("is_active")?,
            is_staff: r.try_get("is_staff")?,
            is_superuser: r.try_get("is_superuser")?,
            date_joined: r.try_get("date_joined")?,
            last_login: r.try_get("last_login")?,
        });
    }
    let profiles = tx
        .query(
            "SELECT id::bigint AS id, user_id::bigint AS user_id, image FROM users_profile ORDER BY id",
            &[],
        )
        .await
        .context("reading users_profile")?;
    for r in profiles {
        dump.profiles.push(DjangoProfile {
            pk: r.try_get("id")?,
            user: UserRef::Pk(r.try_get("user_id")?),
            image: r.try_get::<_, Option<String>>("image")?.unwrap_or_default(),
        });
    }
    let posts = tx
        .query(
            "SELECT id::bigint AS id, title, content, \
             date_posted::timestamptz AS date_posted, author_id::bigint AS author_id \
             FROM blog_post ORDER BY id",
            &[],
        )
        .await
        .context("reading blog_post")?;
    for r in posts {
        dump.posts.push(DjangoPost {
            pk: r.try_get("id")?,
            title: r.try_get("title")?,
            content: r.try_get("content")?,
            date_posted: r.try_get("date_posted")?,
            author: UserRef::Pk(r.try_get("author_id")?),
        });
    }
    tx.rollback().await.ok();
    Ok(dump)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_in_any_order_and_other_models_ignored() {
        let dump = parse_dumpdata(
            br#"[
            {"model": "blog.post", "pk": 7, "fields": {"title": "T", "content": "C", "date_posted": "2020-05-01T10:00:00.123Z", "author": 1}},
            {"model": "contenttypes.contenttype", "pk": 1, "fields": {"app_label": "x", "model": "y"}},
            {"model": "users.profile", "pk": 3, "fields": {"user": ["alice"], "image": "profile_pics/a.jpg"}},
            {"model": "auth.user", "pk": 1, "fields": {"password": "pbkdf2_sha256$1$s$h", "last_login": null, "is_superuser": false, "username": "alice", "first_name": "", "last_name": "", "email": "a@example.com", "is_staff": true, "is_active": false, "date_joined": "2019-01-02T03:04:05Z", "groups": [], "user_permissions": []}}
            ]"#,
        )
        .unwrap();
        assert!(dump.problems.is_empty(), "{:?}", dump.problems);
        assert_eq!(dump.ignored.get("contenttypes.contenttype"), Some(&1));
        let u = &dump.users[0];
        assert!(!u.is_active && u.is_staff && u.last_login.is_none());
        assert_eq!(u.date_joined.to_rfc3339(), "2019-01-02T03:04:05+00:00");
        assert_eq!(dump.profiles[0].user, UserRef::Username("alice".into()));
        assert_eq!(dump.posts[0].author, UserRef::Pk(1));
        assert_eq!(dump.posts[0].date_posted.timestamp_subsec_millis(), 123);
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(parse_dumpdata(b"[{\"model\": ").is_err());
        assert!(parse_dumpdata(b"{\"model\": \"auth.user\"}").is_err());
    }

    #[test]
    fn wrong_types_and_nul_are_problems_with_the_django_id() {
        let dump = parse_dumpdata(
            br#"[
            {"model": "auth.user", "pk": 5, "fields": {"username": 12, "email": "a@example.com", "password": "x", "date_joined": "2019-01-02T03:04:05Z"}},
            {"model": "blog.post", "pk": 8, "fields": {"title": "a\u0000b", "content": "C", "date_posted": "2020-05-01T10:00:00Z", "author": 1}},
            {"model": "blog.post", "pk": "x", "fields": {}},
            {"model": "auth.user", "pk": 6, "fields": {"username": "b", "email": "b@example.com", "password": "x", "is_active": "yes", "date_joined": "2019-01-02T03:04:05Z"}},
            {"model": "blog.post", "pk": 9, "fields": {"title": "t", "content": "C", "date_posted": "yesterday", "author": 1}}
            ]"#,
        )
        .unwrap();
        let shown: Vec<String> = dump.problems.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 5, "{shown:?}");
        assert!(
            shown[0].starts_with("auth.user #5: username: expected a string"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with("blog.post #8: title: contains a NUL"),
            "{shown:?}"
        );
        assert!(shown[2].starts_with("blog.post #\"x\": pk"), "{shown:?}");
        assert!(shown[3].starts_with("auth.user #6: is_active"), "{shown:?}");
        assert!(
            shown[4].starts_with("blog.post #9: date_posted"),
            "{shown:?}"
        );
    }

    #[test]
    fn naive_and_offset_datetimes() {
        assert_eq!(
            parse_datetime("2020-01-01T12:00:00").unwrap().to_rfc3339(),
            "2020-01-01T12:00:00+00:00"
        );
        assert_eq!(
            parse_datetime("2020-01-01T12:00:00+02:00")
                .unwrap()
                .to_rfc3339(),
            "2020-01-01T10:00:00+00:00"
        );
        assert!(parse_datetime("soon").is_none());
    }
}
