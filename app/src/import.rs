//! Importing users exported from the Django original (placeholder until the
//! accounts work lands).

use std::path::Path;

use crate::config::Settings;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: usize,
}

pub async fn run(settings: &Settings, path: &Path) -> anyhow::Result<ImportReport> {
    let _ = (settings, path);
    anyhow::bail!("import-users is not yet implemented")
}
