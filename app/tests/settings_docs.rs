//! The settings are defined once, in `app/src/config`; the documentation
//! that lists them is generated from there and checked here. When a test
//! fails, regenerate with
//! `BLOG_UPDATE_DOCS=1 cargo test -p blog --test settings_docs` and review
//! the diff. (The Helm chart is checked against the same list by
//! `charts/tests`.)

use std::path::PathBuf;

use blog::config::catalogue;

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

/// Checks (or with `BLOG_UPDATE_DOCS=1` rewrites) the text between the two
/// marker lines of `file`.
fn check_block(file: &str, begin: &str, end: &str, expected: &str) {
    let path = repo_file(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let start = text
        .find(begin)
        .unwrap_or_else(|| panic!("{file}: no line `{begin}`"))
        + begin.len();
    let stop = start
        + text[start..]
            .find(end)
            .unwrap_or_else(|| panic!("{file}: no line `{end}` after `{begin}`"));
    let current = text[start..stop].trim_start_matches('\n');
    if current == expected {
        return;
    }
    if std::env::var("BLOG_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        let updated = format!("{}\n{expected}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    let missing: Vec<&str> = expected.lines().filter(|l| !current.contains(*l)).collect();
    let stale: Vec<&str> = current.lines().filter(|l| !expected.contains(*l)).collect();
    panic!(
        "{file} is out of date with app/src/config.\n\
         missing or changed lines:\n  {}\n\
         lines that are no longer true:\n  {}\n\
         Regenerate: BLOG_UPDATE_DOCS=1 cargo test -p blog --test settings_docs",
        missing.join("\n  "),
        stale.join("\n  ")
    );
}

#[test]
fn docs_contracts_lists_every_setting() {
    check_block(
        "docs/contracts.md",
        "<!-- settings:begin -->",
        "<!-- settings:end -->",
        &catalogue::markdown_table(),
    );
}

#[test]
fn env_example_lists_every_setting() {
    check_block(
        ".env.example",
        "# --- app settings: begin",
        "# --- app settings: end",
        &catalogue::env_example(),
    );
}

/// No document names a `BLOG_*` setting that does not exist (a renamed or
/// removed setting left behind), outside the generated blocks too.
#[test]
fn no_document_names_an_unknown_setting() {
    let known: Vec<String> = catalogue::all().into_iter().map(|s| s.env).collect();
    // Variables that are not settings but read by the binary or the scripts.
    let other = ["BLOG_CONFIG_FILE"];
    for file in [
        "docs/contracts.md",
        ".env.example",
        "README.md",
        "compose.yaml",
    ] {
        let text = std::fs::read_to_string(repo_file(file)).unwrap();
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            let Some(rest) = word.strip_prefix("BLOG_") else {
                continue;
            };
            // Only `BLOG_SECTION__KEY` names are settings; `BLOG_IMAGE`,
            // `BLOG_HTTP_PORT` and the like are the scripts' own.
            if !rest.contains("__") || other.contains(&word) {
                continue;
            }
            let name = word.strip_suffix("_FILE").unwrap_or(word);
            assert!(
                known.iter().any(|k| k == name),
                "{file} names {word}, which is not a setting (see `blog settings`)"
            );
        }
    }
}
