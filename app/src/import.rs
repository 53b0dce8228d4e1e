//! `blog import-users FILE`: users exported from the Django original.
//!
//! Accepted formats (chosen by the first non-blank character: `[` → JSON):
//! - CSV with a header row naming at least `username,email,password`
//!   (other columns are ignored);
//! - JSON: an array of `{"username", "email", "password"}` objects, or
//!   Django's `dumpdata auth.user` fixture
//!   (`[{"model": "auth.user", "fields": {"username", "email", "password", …}}]`).
//!
//! `password` is Django's stored hash (`pbkdf2_sha256$…`), kept as it is:
//! it is verified and converted to our PHC format on the user's first
//! log-in. Rows are validated with the same rules as registration; rows
//! whose username or email already exists are skipped, so running the same
//! import twice changes nothing. All rows go in one transaction.

use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use crate::accounts::repository::insert_user_if_new;
use crate::accounts::{EmailAddress, Username};
use crate::config::Settings;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    /// Rows whose username or email already exists (or repeats an earlier row).
    pub skipped: usize,
    /// The usernames of those rows.
    pub duplicates: Vec<String>,
    /// `row N (username): reason` for rows that break a rule.
    pub invalid: Vec<String>,
    /// Imported users whose hash is neither Django PBKDF2 nor ours: they
    /// cannot log in until they reset their password.
    pub unusable_hashes: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {}, skipped {} existing, {} invalid",
            self.imported,
            self.skipped,
            self.invalid.len()
        )?;
        if self.unusable_hashes > 0 {
            write!(
                f,
                " ({} imported with an unusable password hash: they must reset their password)",
                self.unusable_hashes
            )?;
        }
        if !self.duplicates.is_empty() {
            write!(
                f,
                "\n  skipped (username or email exists): {}",
                self.duplicates.join(", ")
            )?;
        }
        for line in &self.invalid {
            write!(f, "\n  invalid: {line}")?;
        }
        Ok(())
    }
}

/// One user as found in the file (1-based data row number for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawUser {
    pub row: usize,
    pub username: String,
    pub email: String,
    pub password: String,
}

/// A row that passed validation.
#[derive(Debug)]
struct ValidUser {
    username: Username,
    email: EmailAddress,
    password_hash: String,
}

pub async fn run(settings: &Settings, path: &Path) -> anyhow::Result<ImportReport> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let rows = parse(&content)?;
    let mut report = ImportReport::default();
    let valid: Vec<ValidUser> = rows
        .into_iter()
        .filter_map(|raw| match validate(&raw) {
            Ok(v) => Some(v),
            Err(reason) => {
                report
                    .invalid
                    .push(format!("row {} ({}): {reason}", raw.row, raw.username));
                None
            }
        })
        .collect();

    let pool = crate::db::pool(&settings.database)?;
    let mut conn = pool
        .get()
        .await
        .context("connecting to Postgres (run `blog migrate` first)")?;
    let tx = conn.transaction().await?;
    for user in &valid {
        let inserted = insert_user_if_new(&tx, &user.username, &user.email, &user.password_hash)
            .await
            .with_context(|| format!("inserting {}", user.username))?;
        match inserted {
            Some(_) => {
                report.imported += 1;
                if !is_known_hash(&user.password_hash) {
                    report.unusable_hashes += 1;
                }
            }
            None => {
                report.skipped += 1;
                report.duplicates.push(user.username.to_string());
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

fn validate(raw: &RawUser) -> Result<ValidUser, String> {
    let username = Username::parse(raw.username.trim()).map_err(|e| e.to_string())?;
    let email = EmailAddress::parse(&raw.email).map_err(|e| e.to_string())?;
    let password_hash = raw.password.trim();
    if password_hash.is_empty() {
        return Err("password: empty hash".into());
    }
    if password_hash.len() > 1024 || password_hash.chars().any(char::is_control) {
        return Err("password: not a password hash".into());
    }
    Ok(ValidUser {
        username,
        email,
        password_hash: password_hash.to_owned(),
    })
}

fn is_known_hash(hash: &str) -> bool {
    hash.starts_with("pbkdf2_sha256$") || hash.starts_with("$pbkdf2-sha256$")
}

/// Reads CSV or JSON (see the module docs).
pub fn parse(content: &str) -> anyhow::Result<Vec<RawUser>> {
    let content = content.trim_start_matches('\u{feff}');
    if content.trim_start().starts_with('[') {
        parse_json(content)
    } else {
        parse_csv(content)
    }
}

fn parse_csv(content: &str) -> anyhow::Result<Vec<RawUser>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(content.as_bytes());
    let headers = reader.headers().context("reading the CSV header")?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .with_context(|| format!("the CSV header has no `{name}` column"))
    };
    let (u, e, p) = (column("username")?, column("email")?, column("password")?);
    let mut users = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("CSV row {}", i + 1))?;
        let get = |idx: usize| record.get(idx).unwrap_or("").to_owned();
        users.push(RawUser {
            row: i + 1,
            username: get(u),
            email: get(e),
            password: get(p),
        });
    }
    Ok(users)
}

fn parse_json(content: &str) -> anyhow::Result<Vec<RawUser>> {
    let items: Vec<Value> = serde_json::from_str(content).context("parsing the JSON array")?;
    let mut users = Vec::new();
    for (i, item) in items.iter().enumerate() {
        // A Django fixture entry carries the user under `fields`.
        let fields = match item.get("model") {
            Some(model) if model != "auth.user" => continue,
            Some(_) => item.get("fields").unwrap_or(&Value::Null),
            None => item,
        };
        let text = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        users.push(RawUser {
            row: i + 1,
            username: text("username"),
            email: text("email"),
            password: text("password"),
        });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "pbkdf2_sha256$24000$seasalt$V9DfCAVoweeLwxC/L2mb+7swhzF0XYdyQMqmusZqiTc=";

    #[test]
    fn csv_with_extra_columns_and_any_column_order() {
        let csv = format!(
            "id,password,username,email,is_staff\n1,{HASH},alice,Alice@Example.COM,0\n2,{HASH},bob,bob@example.com,1\n"
        );
        let users = parse(&csv).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].username, "alice");
        assert_eq!(users[0].email, "Alice@Example.COM");
        assert_eq!(users[0].password, HASH);
        assert_eq!(users[1].row, 2);
    }

    #[test]
    fn csv_without_a_needed_column_is_an_error() {
        let err = parse("username,email\nalice,a@example.com\n").unwrap_err();
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn plain_json_array() {
        let json =
            format!(r#"[{{"username":"alice","email":"a@example.com","password":"{HASH}"}}]"#);
        let users = parse(&json).unwrap();
        assert_eq!(users[0].username, "alice");
        assert_eq!(users[0].password, HASH);
    }

    #[test]
    fn django_dumpdata_fixture_skips_other_models() {
        let json = format!(
            r#"[
              {{"model": "auth.user", "pk": 1, "fields": {{"username": "alice", "email": "a@example.com", "password": "{HASH}", "is_active": true}}}},
              {{"model": "users.profile", "pk": 1, "fields": {{"user": 1, "image": "default.jpg"}}}}
            ]"#
        );
        let users = parse(&json).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].email, "a@example.com");
    }

    #[test]
    fn validation_uses_the_registration_rules() {
        let raw = |username: &str, email: &str, password: &str| RawUser {
            row: 1,
            username: username.into(),
            email: email.into(),
            password: password.into(),
        };
        let ok = validate(&raw("alice", "Alice@Example.COM", HASH)).unwrap();
        assert_eq!(ok.email.as_str(), "Alice@example.com");
        assert!(validate(&raw("has space", "a@example.com", HASH)).is_err());
        assert!(validate(&raw("alice", "", HASH)).is_err());
        assert!(validate(&raw("alice", "a@example.com", "")).is_err());
    }

    #[test]
    fn report_lists_invalid_rows() {
        let report = ImportReport {
            imported: 2,
            skipped: 1,
            duplicates: vec!["carol".into()],
            invalid: vec!["row 3 (x y): username: bad".into()],
            unusable_hashes: 0,
        };
        let text = report.to_string();
        assert!(
            text.starts_with("imported 2, skipped 1 existing, 1 invalid"),
            "{text}"
        );
        assert!(text.contains("row 3 (x y)"));
        assert!(text.contains("skipped (username or email exists): carol"));
    }
}
