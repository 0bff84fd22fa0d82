//! `practica report`: the reports function's job over the embedded store. The report of
//! `[from, to)` (local dates in the practice's zone) is published to `DIR/reports/<id>/` in the data
//! dir (where `GET /v1/reports` finds it) and, with `--out`, also written to that folder.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use domain::report::Period;
use shared::reports::{Manifest, ReportStore as _};

use crate::local::{self, offline_state};

fn date(text: &str, flag: &str) -> anyhow::Result<jiff::civil::Date> {
    text.parse()
        .map_err(|_| anyhow::anyhow!("{flag} must be a date like 2026-11-01, not {text:?}"))
}

/// `practica report --from --to [--out DIR]`: the published report's manifest and, with `out`, the
/// paths written there.
pub async fn report(
    data: &Path,
    from: &str,
    to: &str,
    out: Option<&Path>,
) -> anyhow::Result<(Manifest, Vec<PathBuf>)> {
    let (from, to) = (date(from, "--from")?, date(to, "--to")?);
    let state = offline_state(data)?;
    let zone = shared::reports::collect::practice(&*state.table)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: run `practica seed` or set up the practice first"))?
        .zone;
    let period = Period::new(from, to, &zone)?;
    // Entries written since the server last sealed are integrated first, as the audit function
    // would have done on Lambda, so the verification sees the whole log.
    local::audit_job(data, &state)?.integrate().await?;
    let job = local::report_job(data, &state)?;
    let manifest = job.report(&period).await?;
    let mut written = Vec::new();
    if let Some(out) = out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let store = local::report_store(data);
        for file in &manifest.files {
            let bytes = store
                .get(&manifest.id, file)
                .await?
                .context("a published file is missing")?;
            let path = out.join(file);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
    }
    Ok((manifest, written))
}
