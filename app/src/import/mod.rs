//! `blog import-django`: moves a running Django original over (users with
//! their Django password hashes and flags, profile pictures, posts).
//!
//! How it stays safe to repeat:
//! - every imported object is recorded in `django_imports` (Django model and
//!   id → our id, with a SHA-256 of the record as imported) in the same
//!   transaction as the rows it wrote; one transaction per batch. A second
//!   run finds every record unchanged and writes nothing; a run interrupted
//!   half-way leaves whole batches behind, and the next run does the rest;
//!   a record changed in Django since is updated here.
//! - the input is checked whole before anything is written: an object that
//!   breaks a rule (wrong types, NUL, duplicate pks, dangling foreign keys,
//!   our limits) is reported with its Django id, and the run writes nothing
//!   unless `--skip-invalid` says to import the rest.
//! - a username or email taken here by an account that is not the imported
//!   one is a conflict: reported with both sides and skipped, never merged.
//! - `--dry-run` runs the same statements in one transaction that is rolled
//!   back, and stores no picture.
//!
//! Post ids are kept when they are free here, so the original's links
//! `/post/<id>/` keep working as they are; a post whose id is taken gets a
//! new one, and the site answers its old link with a 301 (via the mapping).

pub mod pictures;
pub mod source;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};
use tokio_postgres::types::ToSql;

use crate::accounts::repository::replace_avatar_key;
use crate::accounts::{EmailAddress, PreparedAvatar, Username};
use crate::avatars;
use crate::config::Settings;
use crate::posts::{PostContent, PostTitle};
use crate::storage::Storage;
pub use pictures::{DJANGO_DEFAULT_PICTURE, Pictures, S3Source};
pub use source::{
    DjangoPost, DjangoProfile, DjangoUser, Dump, POST, PROFILE, Problem, USER, UserRef,
};

/// Advisory lock held by an import, so that two runs never interleave
/// batches. The ASCII of "blogimpd".
const IMPORT_LOCK_KEY: i64 = 0x626c_6f67_696d_7064;

/// Where the original's data comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A `dumpdata` file, `-` for standard input.
    Dump(String),
    /// The original's database (`postgres://…`).
    Postgres(String),
}

impl Source {
    /// A `postgres://` or `postgresql://` URL is the live database; anything
    /// else a file.
    pub fn parse(arg: &str) -> Self {
        if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
            Self::Postgres(arg.to_owned())
        } else {
            Self::Dump(arg.to_owned())
        }
    }
}

pub struct Options {
    pub source: Source,
    pub pictures: Pictures,
    pub dry_run: bool,
    /// Import the valid objects even though others are invalid.
    pub skip_invalid: bool,
    /// Objects per transaction.
    pub batch_size: usize,
    /// Stop with an error after this many committed batches, as an
    /// interruption would (for the resume tests and for rehearsals).
    pub stop_after_batches: Option<usize>,
}

impl Options {
    pub fn new(source: Source) -> Self {
        Self {
            source,
            pictures: Pictures::None,
            dry_run: false,
            skip_invalid: false,
            batch_size: 500,
            stop_after_batches: None,
        }
    }
}

/// What happened to the objects of one model.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Conflicts, missing dependencies, pictures that could not be read.
    pub skipped: usize,
    /// Broke a rule of the input (see the report's problems).
    pub invalid: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "created {}, updated {}, unchanged {}, skipped {}, invalid {}",
            self.created, self.updated, self.unchanged, self.skipped, self.invalid
        )
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PictureCounts {
    /// Own pictures stored (or, in a dry run, that would be).
    pub stored: usize,
    /// `default.jpg` (or no picture): our default avatar.
    pub default: usize,
    /// Missing, unreadable or refused by the avatar rules.
    pub failed: usize,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default)]
pub struct Report {
    pub dry_run: bool,
    /// Invalid objects and no `--skip-invalid`: nothing was written.
    pub refused: bool,
    pub users: Counts,
    pub profiles: Counts,
    pub posts: Counts,
    pub pictures: PictureCounts,
    /// Each invalid object, with its Django id.
    pub problems: Vec<Problem>,
    /// Each skipped object and each notable decision, with its Django id.
    pub notes: Vec<String>,
    /// Objects of other models in the input: model → count.
    pub ignored: BTreeMap<String, usize>,
}

impl Report {
    /// Nothing was (or would be) created or updated.
    pub fn changed_nothing(&self) -> bool {
        [self.users, self.profiles, self.posts]
            .iter()
            .all(|c| c.created == 0 && c.updated == 0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(f, "DRY RUN: nothing was changed; a real run would do this:")?;
        }
        writeln!(f, "users:    {}", self.users)?;
        writeln!(f, "profiles: {}", self.profiles)?;
        writeln!(f, "posts:    {}", self.posts)?;
        writeln!(
            f,
            "pictures: stored {}, default {}, missing or broken {}",
            self.pictures.stored, self.pictures.default, self.pictures.failed
        )?;
        if !self.ignored.is_empty() {
            let list: Vec<String> = self
                .ignored
                .iter()
                .map(|(m, n)| format!("{m} ({n})"))
                .collect();
            writeln!(f, "not imported (other models): {}", list.join(", "))?;
        }
        for p in &self.problems {
            writeln!(f, "  invalid: {p}")?;
        }
        for n in &self.notes {
            writeln!(f, "  {n}")?;
        }
        if self.refused {
            write!(
                f,
                "REFUSED: {} invalid objects; nothing was imported. Fix them in the original, \
                 or pass --skip-invalid to import the rest.",
                self.problems.len()
            )
        } else if self.changed_nothing() && !self.dry_run {
            write!(f, "nothing changed: everything was already imported")
        } else {
            write!(f, "done")
        }
    }
}

/// A user that passed the rules, as it will be stored.
struct UserIn {
    django: DjangoUser,
    username: Username,
    email: EmailAddress,
    fingerprint: Vec<u8>,
}

struct ProfileIn {
    django: DjangoProfile,
    user_pk: i64,
    fingerprint: Vec<u8>,
}

struct PostIn {
    django: DjangoPost,
    title: PostTitle,
    content: PostContent,
    author_pk: i64,
    fingerprint: Vec<u8>,
}

fn fingerprint(record: &impl serde::Serialize) -> Vec<u8> {
    let json = serde_json::to_vec(record).expect("plain records serialise");
    Sha256::digest(&json).to_vec()
}

/// A mapping row: our id and the fingerprint of what was imported.
#[derive(Clone)]
struct Mapped {
    our_id: i64,
    fingerprint: Vec<u8>,
}

type Mapping = HashMap<i64, Mapped>;

/// The objects that passed the rules, and the problems of the others.
struct Plan {
    users: Vec<UserIn>,
    profiles: Vec<ProfileIn>,
    posts: Vec<PostIn>,
    problems: Vec<Problem>,
}

/// Pks that occur more than once for a model: every one of them is refused
/// (which of them is the real one cannot be told).
fn duplicates(pks: impl Iterator<Item = i64>) -> HashSet<i64> {
    let mut seen = HashSet::new();
    pks.filter(|pk| !seen.insert(*pk)).collect()
}

const DUPLICATE_PK: &str = "pk: appears more than once in the input";

fn check_user(u: &DjangoUser, dups: &HashSet<i64>) -> Result<UserIn, String> {
    if dups.contains(&u.pk) {
        return Err(DUPLICATE_PK.into());
    }
    let username = Username::parse(&u.username).map_err(|e| e.to_string())?;
    let email = EmailAddress::parse(&u.email).map_err(|e| {
        if u.email.trim().is_empty() {
            "email: empty; accounts here need one (set it in the original)".into()
        } else {
            e.to_string()
        }
    })?;
    let password = u.password.trim();
    if password.is_empty() || password.len() > 1024 || password.chars().any(char::is_control) {
        return Err("password: not a password hash".into());
    }
    Ok(UserIn {
        fingerprint: fingerprint(u),
        username,
        email,
        django: u.clone(),
    })
}

/// Foreign keys to users: valid in the input, or imported before.
struct UserKeys<'a> {
    by_username: HashMap<&'a str, i64>,
    valid: HashSet<i64>,
    invalid: HashSet<i64>,
    imported: &'a Mapping,
}

impl UserKeys<'_> {
    fn resolve(&self, field: &str, r: &UserRef) -> Result<i64, String> {
        let pk = match r {
            UserRef::Pk(pk) => *pk,
            UserRef::Username(name) => *self
                .by_username
                .get(name.as_str())
                .ok_or_else(|| format!("{field}: no valid user {name:?} in the input"))?,
        };
        if self.valid.contains(&pk)
            || (!self.invalid.contains(&pk) && self.imported.contains_key(&pk))
        {
            Ok(pk)
        } else if self.invalid.contains(&pk) {
            Err(format!(
                "{field}: {USER} #{pk} is invalid (see its own line)"
            ))
        } else {
            Err(format!(
                "{field}: {USER} #{pk} is neither in the input nor imported before (dangling foreign key)"
            ))
        }
    }
}

fn check_profile(
    p: &DjangoProfile,
    dups: &HashSet<i64>,
    keys: &UserKeys<'_>,
    seen_users: &mut HashSet<i64>,
) -> Result<ProfileIn, String> {
    if dups.contains(&p.pk) {
        return Err(DUPLICATE_PK.into());
    }
    let user_pk = keys.resolve("user", &p.user)?;
    if !seen_users.insert(user_pk) {
        return Err(format!("user: {USER} #{user_pk} has more than one profile"));
    }
    Ok(ProfileIn {
        fingerprint: fingerprint(&(user_pk, &p.image)),
        user_pk,
        django: p.clone(),
    })
}

fn check_post(p: &DjangoPost, dups: &HashSet<i64>, keys: &UserKeys<'_>) -> Result<PostIn, String> {
    if dups.contains(&p.pk) {
        return Err(DUPLICATE_PK.into());
    }
    let title = PostTitle::parse(&p.title).map_err(|e| e.to_string())?;
    let content = PostContent::parse(&p.content).map_err(|e| e.to_string())?;
    let author_pk = keys.resolve("author", &p.author)?;
    Ok(PostIn {
        fingerprint: fingerprint(&(&p.title, &p.content, p.date_posted, author_pk)),
        title,
        content,
        author_pk,
        django: p.clone(),
    })
}

fn plan(dump: Dump, imported_users: &Mapping) -> Plan {
    let mut problems = dump.problems;
    let dup_users = duplicates(dump.users.iter().map(|u| u.pk));
    let mut users = Vec::new();
    let mut invalid = HashSet::new();
    for u in &dump.users {
        match check_user(u, &dup_users) {
            Ok(user) => users.push(user),
            Err(reason) => {
                invalid.insert(u.pk);
                problems.push(Problem::new(USER, u.pk, reason));
            }
        }
    }
    let keys = UserKeys {
        by_username: dump
            .users
            .iter()
            .filter(|u| !invalid.contains(&u.pk))
            .map(|u| (u.username.as_str(), u.pk))
            .collect(),
        valid: users.iter().map(|u| u.django.pk).collect(),
        invalid,
        imported: imported_users,
    };

    let dup_profiles = duplicates(dump.profiles.iter().map(|p| p.pk));
    let mut profiles = Vec::new();
    let mut seen_users = HashSet::new();
    for p in &dump.profiles {
        match check_profile(p, &dup_profiles, &keys, &mut seen_users) {
            Ok(profile) => profiles.push(profile),
            Err(reason) => problems.push(Problem::new(PROFILE, p.pk, reason)),
        }
    }

    let dup_posts = duplicates(dump.posts.iter().map(|p| p.pk));
    let mut posts = Vec::new();
    for p in &dump.posts {
        match check_post(p, &dup_posts, &keys) {
            Ok(post) => posts.push(post),
            Err(reason) => problems.push(Problem::new(POST, p.pk, reason)),
        }
    }
    Plan {
        users,
        profiles,
        posts,
        problems,
    }
}

/// Periodic progress on standard error: at most every 2 seconds, and at the
/// end of each model.
struct Progress<'a> {
    out: &'a (dyn Fn(&str) + Sync),
    started: Instant,
    last: Instant,
}

impl Progress<'_> {
    fn tick(&mut self, model: &str, done: usize, total: usize) {
        if done == total || self.last.elapsed() >= Duration::from_secs(2) {
            self.last = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            (self.out)(&format!(
                "{model}: {done}/{total} ({:.0}/s)",
                done as f64 / secs
            ));
        }
    }
}

/// Runs an import (see the module docs). `progress` receives the periodic
/// progress lines. An `Err` means the run stopped (database, storage, an
/// interruption); whole batches committed before stay, and a new run
/// resumes after them.
pub async fn run(
    settings: &Settings,
    mut options: Options,
    progress: &(dyn Fn(&str) + Sync),
) -> anyhow::Result<Report> {
    anyhow::ensure!(options.batch_size > 0, "the batch size must be at least 1");
    let dump = match &options.source {
        Source::Dump(path) => source::read_dumpdata(path)?,
        Source::Postgres(url) => source::read_postgres(url).await?,
    };
    progress(&format!(
        "read {} users, {} profiles, {} posts ({} objects of other models, {} malformed)",
        dump.users.len(),
        dump.profiles.len(),
        dump.posts.len(),
        dump.ignored.values().sum::<usize>(),
        dump.problems.len()
    ));

    let pool = crate::db::pool(&settings.database)?;
    let client = pool
        .get()
        .await
        .context("connecting to Postgres (run `blog migrate` first)")?;
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&IMPORT_LOCK_KEY])
        .await
        .context("taking the import lock")?
        .get(0);
    anyhow::ensure!(locked, "another import is running against this database");

    let mut importer = Importer {
        client: &client,
        storage: Storage::from_settings(&settings.s3).context("configuring S3 storage")?,
        pictures: std::mem::replace(&mut options.pictures, Pictures::None),
        settings,
        report: Report {
            dry_run: options.dry_run,
            ignored: dump.ignored.clone(),
            ..Report::default()
        },
        batches: 0,
        stop_after: options.stop_after_batches,
        dry_run: options.dry_run,
        progress: Progress {
            out: progress,
            started: Instant::now(),
            last: Instant::now(),
        },
        old_avatars: Vec::new(),
    };
    let result = importer.import(dump, &options).await;
    if result.is_err() {
        // A batch cut short: nothing of it stays.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&IMPORT_LOCK_KEY])
        .await;
    result?;
    let report = importer.report;
    if !report.dry_run && !report.changed_nothing() {
        // Post reads are cached in Redis: show the imported ones now rather
        // than after the TTL. Best effort, like every invalidation.
        match crate::kv::Kv::new(&settings.redis, crate::metrics::Metrics::new()) {
            Ok(kv) => {
                crate::cache::Cache::new(kv, &settings.redis, crate::metrics::Metrics::new())
                    .invalidate_posts()
                    .await;
            }
            Err(e) => tracing::warn!(error = %e, "post cache not invalidated"),
        }
    }
    Ok(report)
}

struct Importer<'a> {
    client: &'a deadpool_postgres::Object,
    storage: Storage,
    pictures: Pictures,
    settings: &'a Settings,
    report: Report,
    batches: usize,
    stop_after: Option<usize>,
    dry_run: bool,
    progress: Progress<'a>,
    /// Replaced avatars, deleted once their batch has committed.
    old_avatars: Vec<String>,
}

/// The one result row of a conflicting account.
struct Other {
    id: i64,
    username: String,
    email: String,
}

impl Importer<'_> {
    async fn import(&mut self, dump: Dump, options: &Options) -> anyhow::Result<()> {
        if self.dry_run {
            // One transaction for the whole dry run: later models see the
            // rows earlier ones would create; rolled back at the end.
            self.client.batch_execute("BEGIN").await?;
        }
        let mut users_map = self.mapping(USER).await?;
        let plan = plan(dump, &users_map);
        for p in &plan.problems {
            match p.model.as_str() {
                USER => self.report.users.invalid += 1,
                PROFILE => self.report.profiles.invalid += 1,
                _ => self.report.posts.invalid += 1,
            }
        }
        self.report.problems = plan.problems;
        if !self.report.problems.is_empty() && !options.skip_invalid {
            self.report.refused = true;
            if !self.dry_run {
                return Ok(());
            }
        }

        let total = plan.users.len();
        for (i, chunk) in plan.users.chunks(options.batch_size).enumerate() {
            self.begin().await?;
            for user in chunk {
                self.user(user, &mut users_map).await?;
            }
            self.commit().await?;
            self.progress.tick(
                "users",
                (i * options.batch_size + chunk.len()).min(total),
                total,
            );
        }

        let profiles_map = self.mapping(PROFILE).await?;
        let total = plan.profiles.len();
        for (i, chunk) in plan.profiles.chunks(options.batch_size).enumerate() {
            self.begin().await?;
            for profile in chunk {
                self.profile(profile, &users_map, &profiles_map).await?;
            }
            self.commit().await?;
            self.progress.tick(
                "profiles",
                (i * options.batch_size + chunk.len()).min(total),
                total,
            );
        }

        let posts_map = self.mapping(POST).await?;
        let total = plan.posts.len();
        for (i, chunk) in plan.posts.chunks(options.batch_size).enumerate() {
            self.begin().await?;
            self.posts(chunk, &users_map, &posts_map).await?;
            self.commit().await?;
            self.progress.tick(
                "posts",
                (i * options.batch_size + chunk.len()).min(total),
                total,
            );
        }

        if self.dry_run {
            self.client.batch_execute("ROLLBACK").await?;
        }
        Ok(())
    }

    async fn begin(&self) -> anyhow::Result<()> {
        if !self.dry_run {
            self.client.batch_execute("BEGIN").await?;
        }
        Ok(())
    }

    async fn commit(&mut self) -> anyhow::Result<()> {
        if self.dry_run {
            return Ok(());
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .context("committing a batch")?;
        for key in std::mem::take(&mut self.old_avatars) {
            if let Err(e) = self.storage.delete(&avatars::object_key(&key)).await {
                tracing::warn!(error = %e, key = %key, "replaced avatar object not deleted");
            }
        }
        self.batches += 1;
        if let Some(limit) = self.stop_after
            && self.batches >= limit
        {
            anyhow::bail!(
                "stopped after {limit} batches (--stop-after-batches); run again to resume"
            );
        }
        Ok(())
    }

    async fn mapping(&self, model: &str) -> anyhow::Result<Mapping> {
        let rows = self
            .client
            .query(
                "SELECT django_id, our_id, fingerprint FROM django_imports WHERE model = $1",
                &[&model],
            )
            .await
            .context("reading the Django id mapping")?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, i64>(0),
                    Mapped {
                        our_id: r.get(1),
                        fingerprint: r.get(2),
                    },
                )
            })
            .collect())
    }

    async fn record(
        &self,
        model: &str,
        django_id: i64,
        our_id: i64,
        fp: &[u8],
    ) -> anyhow::Result<()> {
        self.exec(
            "INSERT INTO django_imports (model, django_id, our_id, fingerprint, imported_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model, django_id) DO UPDATE \
             SET our_id = EXCLUDED.our_id, fingerprint = EXCLUDED.fingerprint, \
             imported_at = EXCLUDED.imported_at",
            &[&model, &django_id, &our_id, &fp, &Utc::now()],
        )
        .await
        .map(drop)
    }

    async fn exec(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<u64> {
        let statement = self.client.prepare_cached(sql).await?;
        Ok(self.client.execute(&statement, params).await?)
    }

    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> anyhow::Result<Vec<tokio_postgres::Row>> {
        let statement = self.client.prepare_cached(sql).await?;
        Ok(self.client.query(&statement, params).await?)
    }

    /// Another account here that holds the username or email.
    async fn taken_by(&self, user: &UserIn, except: i64) -> anyhow::Result<Option<Other>> {
        let rows = self
            .rows(
                "SELECT id, username, email FROM users \
                 WHERE (lower(username) = lower($1) OR lower(email) = lower($2)) AND id <> $3 \
                 ORDER BY id LIMIT 1",
                &[&user.username.as_str(), &user.email.as_str(), &except],
            )
            .await?;
        Ok(rows.first().map(|r| Other {
            id: r.get(0),
            username: r.get(1),
            email: r.get(2),
        }))
    }

    async fn user(&mut self, user: &UserIn, map: &mut Mapping) -> anyhow::Result<()> {
        let d = &user.django;
        let who = format!("{USER} #{} ({} <{}>)", d.pk, user.username, user.email);
        let existing = map.get(&d.pk).cloned();
        if let Some(m) = &existing
            && m.fingerprint == user.fingerprint
        {
            self.report.users.unchanged += 1;
            return Ok(());
        }
        let except = existing.as_ref().map_or(-1, |m| m.our_id);
        if let Some(other) = self.taken_by(user, except).await? {
            let what = if other.username.to_lowercase() == user.username.as_str().to_lowercase() {
                "username"
            } else {
                "email"
            };
            self.report.users.skipped += 1;
            self.report.notes.push(format!(
                "{who}: skipped, conflict: its {what} is taken here by user #{} ({} <{}>)",
                other.id, other.username, other.email
            ));
            return Ok(());
        }
        let params: [&(dyn ToSql + Sync); 8] = [
            &user.username.as_str(),
            &user.email.as_str(),
            &d.password,
            &d.is_active,
            &d.is_staff,
            &d.is_superuser,
            &d.date_joined,
            &d.last_login,
        ];
        let our_id = match &existing {
            Some(m) => {
                let now = Utc::now();
                let mut with_id: Vec<&(dyn ToSql + Sync)> = params.to_vec();
                with_id.push(&m.our_id);
                with_id.push(&now);
                let n = self
                    .exec(
                        "UPDATE users SET username = $1, email = $2, password_hash = $3, \
                         is_active = $4, is_staff = $5, is_superuser = $6, created_at = $7, \
                         last_login_at = $8, updated_at = $10 WHERE id = $9",
                        &with_id,
                    )
                    .await
                    .with_context(|| format!("updating {who}"))?;
                if n == 0 {
                    self.report.users.skipped += 1;
                    self.report.notes.push(format!(
                        "{who}: skipped, changed in Django but its account #{} was deleted here",
                        m.our_id
                    ));
                    return Ok(());
                }
                if !d.is_active {
                    // Deactivated in Django since: its sessions here end.
                    self.exec("DELETE FROM sessions WHERE user_id = $1", &[&m.our_id])
                        .await?;
                }
                self.report.users.updated += 1;
                m.our_id
            }
            None => {
                let rows = self
                    .rows(
                        "INSERT INTO users (username, email, password_hash, is_active, is_staff, \
                         is_superuser, created_at, updated_at, last_login_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) RETURNING id",
                        &params,
                    )
                    .await
                    .with_context(|| format!("inserting {who}"))?;
                self.report.users.created += 1;
                rows[0].get(0)
            }
        };
        if !(d.password.starts_with("pbkdf2_sha256$") || d.password.starts_with("$pbkdf2-sha256$"))
        {
            self.report.notes.push(format!(
                "{who}: its password hash is not PBKDF2-SHA256 (unusable or another hasher): \
                 it must reset its password to log in"
            ));
        }
        if self.dry_run {
            let how = if existing.is_some() {
                "updated (changed in Django)"
            } else {
                "created"
            };
            self.report.notes.push(format!("{who}: would be {how}"));
        }
        self.record(USER, d.pk, our_id, &user.fingerprint).await?;
        map.insert(
            d.pk,
            Mapped {
                our_id,
                fingerprint: user.fingerprint.clone(),
            },
        );
        Ok(())
    }

    async fn profile(
        &mut self,
        p: &ProfileIn,
        users: &Mapping,
        profiles: &Mapping,
    ) -> anyhow::Result<()> {
        let who = format!("{PROFILE} #{} (of {USER} #{})", p.django.pk, p.user_pk);
        let existing = profiles.get(&p.django.pk);
        if existing.is_some_and(|m| m.fingerprint == p.fingerprint) {
            self.report.profiles.unchanged += 1;
            return Ok(());
        }
        let Some(user) = users.get(&p.user_pk) else {
            self.report.profiles.skipped += 1;
            self.report
                .notes
                .push(format!("{who}: skipped, its user was not imported"));
            return Ok(());
        };
        let image = p.django.image.trim();
        let key = if image.is_empty() || image == DJANGO_DEFAULT_PICTURE {
            self.report.pictures.default += 1;
            None
        } else {
            let max = self.settings.avatars.max_bytes.get();
            let prepared = match self.pictures.fetch(image, max).await {
                Ok(bytes) => PreparedAvatar::from_upload(bytes, &self.settings.avatars)
                    .await
                    .map_err(|e| e.to_string()),
                Err(reason) => Err(reason),
            };
            let prepared = match prepared {
                Ok(p) => p,
                Err(reason) => {
                    // Not recorded: a later run (with the file restored)
                    // tries again.
                    self.report.pictures.failed += 1;
                    self.report.profiles.skipped += 1;
                    self.report.notes.push(format!(
                        "{who}: picture {image:?} not imported ({reason}); the account keeps its current avatar"
                    ));
                    return Ok(());
                }
            };
            let key = avatars::new_key(user.our_id);
            if !self.dry_run {
                self.storage
                    .put(&avatars::object_key(&key), prepared.png(), "image/png")
                    .await
                    .with_context(|| format!("storing the picture of {who}"))?;
            }
            self.report.pictures.stored += 1;
            Some(key)
        };
        let changed = replace_avatar_key(self.client, user.our_id, key.as_deref(), Utc::now())
            .await
            .with_context(|| format!("setting the avatar of {who}"))?;
        let Some(change) = changed else {
            self.report.profiles.skipped += 1;
            self.report.notes.push(format!(
                "{who}: skipped, its account #{} was deleted here",
                user.our_id
            ));
            return Ok(());
        };
        if let Some(old) = change.previous_key
            && !self.dry_run
        {
            self.old_avatars.push(old);
        }
        if existing.is_some() {
            self.report.profiles.updated += 1;
        } else {
            self.report.profiles.created += 1;
        }
        if self.dry_run {
            let how = if existing.is_some() {
                "updated (changed in Django)"
            } else {
                "created"
            };
            let picture = if key.is_some() {
                "its picture"
            } else {
                "the default avatar"
            };
            self.report
                .notes
                .push(format!("{who}: would be {how}, with {picture}"));
        }
        self.record(PROFILE, p.django.pk, user.our_id, &p.fingerprint)
            .await
    }

    async fn posts(
        &mut self,
        chunk: &[PostIn],
        users: &Mapping,
        posts: &Mapping,
    ) -> anyhow::Result<()> {
        let mut create: Vec<(&PostIn, i64)> = Vec::new();
        for p in chunk {
            let who = || format!("{POST} #{} ({:?})", p.django.pk, p.title.as_str());
            let existing = posts.get(&p.django.pk);
            if existing.is_some_and(|m| m.fingerprint == p.fingerprint) {
                self.report.posts.unchanged += 1;
                continue;
            }
            let Some(author) = users.get(&p.author_pk) else {
                self.report.posts.skipped += 1;
                self.report.notes.push(format!(
                    "{}: skipped, its author {USER} #{} was not imported",
                    who(),
                    p.author_pk
                ));
                continue;
            };
            match existing {
                None => create.push((p, author.our_id)),
                Some(m) => {
                    // Django has no drafts: a post is public from
                    // `date_posted`, which moves with it; one made a draft
                    // here stays a draft.
                    let n = self
                        .exec(
                            "UPDATE posts SET author_id = $2, title = $3, content = $4, \
                             created_at = $5, updated_at = $6, \
                             published_at = CASE WHEN published_at IS NULL THEN NULL ELSE $5 END \
                             WHERE id = $1",
                            &[
                                &m.our_id,
                                &author.our_id,
                                &p.title.as_str(),
                                &p.content.as_str(),
                                &p.django.date_posted,
                                &Utc::now(),
                            ],
                        )
                        .await
                        .with_context(|| format!("updating {}", who()))?;
                    if n == 0 {
                        self.report.posts.skipped += 1;
                        self.report.notes.push(format!(
                            "{}: skipped, changed in Django but post #{} was deleted here",
                            who(),
                            m.our_id
                        ));
                        continue;
                    }
                    self.report.posts.updated += 1;
                    if self.dry_run {
                        self.report
                            .notes
                            .push(format!("{}: would be updated (changed in Django)", who()));
                    }
                    self.record(POST, p.django.pk, m.our_id, &p.fingerprint)
                        .await?;
                }
            }
        }
        if create.is_empty() {
            return Ok(());
        }

        // Keep the Django id where it is free, so old links need nothing.
        // The identity sequence is moved past the batch first, so that a post
        // written here meanwhile never takes one of these ids (and its insert
        // never fails on one). Outside the transaction by nature; harmless.
        let max_id = create.iter().map(|(p, _)| p.django.pk).max().unwrap_or(0);
        if !self.dry_run {
            self.rows(
                "SELECT setval('posts_id_seq', $1) FROM posts_id_seq WHERE last_value < $1",
                &[&max_id],
            )
            .await
            .context("moving the post id sequence past the imported ids")?;
        }
        let ids: Vec<i64> = create.iter().map(|(p, _)| p.django.pk).collect();
        let authors: Vec<i64> = create.iter().map(|(_, a)| *a).collect();
        let titles: Vec<&str> = create.iter().map(|(p, _)| p.title.as_str()).collect();
        let contents: Vec<&str> = create.iter().map(|(p, _)| p.content.as_str()).collect();
        let dates: Vec<DateTime<Utc>> = create.iter().map(|(p, _)| p.django.date_posted).collect();
        // Django has no drafts: every post is public from `date_posted`.
        let kept: HashSet<i64> = self
            .rows(
                "INSERT INTO posts (id, author_id, title, content, created_at, updated_at, \
                 published_at) OVERRIDING SYSTEM VALUE \
                 SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
                 $5::timestamptz[], $5::timestamptz[], $5::timestamptz[]) \
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                &[&ids, &authors, &titles, &contents, &dates],
            )
            .await
            .context("inserting a batch of posts")?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut our_ids = Vec::with_capacity(create.len());
        for (p, author) in &create {
            if kept.contains(&p.django.pk) {
                our_ids.push(p.django.pk);
                continue;
            }
            let rows = self
                .rows(
                    "INSERT INTO posts (author_id, title, content, created_at, updated_at, \
                     published_at) VALUES ($1, $2, $3, $4, $4, $4) RETURNING id",
                    &[
                        author,
                        &p.title.as_str(),
                        &p.content.as_str(),
                        &p.django.date_posted,
                    ],
                )
                .await
                .with_context(|| format!("inserting {POST} #{}", p.django.pk))?;
            let id: i64 = rows[0].get(0);
            self.report.notes.push(format!(
                "{POST} #{}: imported as post #{id}: id {} is taken here by another post, \
                 so its old link /post/{}/ shows that one",
                p.django.pk, p.django.pk, p.django.pk
            ));
            our_ids.push(id);
        }
        let fingerprints: Vec<&[u8]> = create
            .iter()
            .map(|(p, _)| p.fingerprint.as_slice())
            .collect();
        self.exec(
            "INSERT INTO django_imports (model, django_id, our_id, fingerprint, imported_at) \
             SELECT 'blog.post', d, o, f, $4 FROM unnest($1::bigint[], $2::bigint[], $3::bytea[]) AS t(d, o, f) \
             ON CONFLICT (model, django_id) DO UPDATE SET our_id = EXCLUDED.our_id, \
             fingerprint = EXCLUDED.fingerprint, imported_at = EXCLUDED.imported_at",
            &[&ids, &our_ids, &fingerprints, &Utc::now()],
        )
        .await
        .context("recording a batch of posts")?;
        self.report.posts.created += create.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "pbkdf2_sha256$24000$seasalt$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=";

    fn dump(json: &str) -> Dump {
        source::parse_dumpdata(json.as_bytes()).unwrap()
    }

    fn user(pk: i64, name: &str) -> String {
        format!(
            r#"{{"model": "auth.user", "pk": {pk}, "fields": {{"username": "{name}", "email": "{name}@example.com", "password": "{HASH}", "is_active": true, "date_joined": "2019-01-01T00:00:00Z"}}}}"#
        )
    }

    fn post(pk: i64, author: i64, title: &str) -> String {
        format!(
            r#"{{"model": "blog.post", "pk": {pk}, "fields": {{"title": "{title}", "content": "Body", "date_posted": "2020-01-01T00:00:00Z", "author": {author}}}}}"#
        )
    }

    fn reasons(plan: &Plan) -> Vec<String> {
        plan.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn duplicate_pks_dangling_keys_and_limits_are_problems() {
        let long = "x".repeat(101);
        let json = format!(
            "[{}, {}, {}, {}, {}, {}, {}]",
            user(1, "alice"),
            user(2, "bob"),
            user(2, "bobby"),
            post(10, 1, "fine"),
            post(11, 2, "by a duplicate"),
            post(12, 99, "dangling"),
            post(13, 1, &long),
        );
        let plan = plan(dump(&json), &Mapping::new());
        let r = reasons(&plan);
        assert_eq!(plan.users.len(), 1);
        assert_eq!(plan.posts.len(), 1);
        assert!(
            r.iter()
                .any(|l| l.starts_with("auth.user #2: pk: appears more than once")),
            "{r:?}"
        );
        assert!(
            r.iter()
                .any(|l| l.starts_with("blog.post #11: author: auth.user #2 is invalid")),
            "{r:?}"
        );
        assert!(
            r.iter()
                .any(|l| l.starts_with("blog.post #12: author: auth.user #99 is neither")),
            "{r:?}"
        );
        assert!(
            r.iter()
                .any(|l| l.starts_with("blog.post #13: ") && l.contains("100")),
            "{r:?}"
        );
    }

    #[test]
    fn authors_imported_before_are_not_dangling() {
        let mut before = Mapping::new();
        before.insert(
            7,
            Mapped {
                our_id: 70,
                fingerprint: vec![0; 32],
            },
        );
        let plan = plan(dump(&format!("[{}]", post(1, 7, "later"))), &before);
        assert!(plan.problems.is_empty(), "{:?}", reasons(&plan));
        assert_eq!(plan.posts[0].author_pk, 7);
    }

    #[test]
    fn users_need_an_email_and_a_hash() {
        let json = r#"[{"model": "auth.user", "pk": 3, "fields": {"username": "carol", "email": "", "password": "x", "date_joined": "2019-01-01T00:00:00Z"}},
                       {"model": "auth.user", "pk": 4, "fields": {"username": "dave", "email": "d@example.com", "password": "", "date_joined": "2019-01-01T00:00:00Z"}}]"#;
        let r = reasons(&plan(dump(json), &Mapping::new()));
        assert!(r[0].starts_with("auth.user #3: email: empty"), "{r:?}");
        assert!(r[1].starts_with("auth.user #4: password"), "{r:?}");
    }

    #[test]
    fn a_changed_record_has_another_fingerprint() {
        let a = plan(
            dump(&format!("[{}, {}]", user(1, "a"), post(1, 1, "one"))),
            &Mapping::new(),
        );
        let b = plan(
            dump(&format!("[{}, {}]", user(1, "a"), post(1, 1, "two"))),
            &Mapping::new(),
        );
        assert_eq!(a.users[0].fingerprint, b.users[0].fingerprint);
        assert_ne!(a.posts[0].fingerprint, b.posts[0].fingerprint);
    }

    #[test]
    fn report_says_when_nothing_changed() {
        let report = Report {
            users: Counts {
                unchanged: 3,
                ..Counts::default()
            },
            ..Report::default()
        };
        let text = report.to_string();
        assert!(
            text.contains("users:    created 0, updated 0, unchanged 3"),
            "{text}"
        );
        assert!(
            text.ends_with("nothing changed: everything was already imported"),
            "{text}"
        );
    }
}
