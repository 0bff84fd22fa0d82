//! Compliance and performance reports: [`collect`] reads the PHI-free facts of a period and the one
//! before it, `domain::report` computes the figures, [`render`] draws them (HTML with inline
//! SVG charts, CSV, JSON), and [`publish`] stores them through the [`ReportStore`] port (S3 with
//! SSE-KMS in production, the data dir locally): every file first, the manifest last, so a run that
//! fails half-way publishes nothing and its retry writes the same bytes.

pub mod collect;
pub mod read;
pub mod render;
pub mod review;
pub mod store;

pub use store::{Manifest, ReportStore};

use crate::error::ApiError;
use crate::store::Table;
use domain::report::{Period, Report, compute};

/// Computes the report of `period` (against the one before it). `verification` is what the job's
/// check of the audit log found (run first, not alongside: both read a month of entries, and one
/// at a time keeps the job's peak memory to the larger of the two).
pub async fn generate(
    table: &dyn Table,
    period: &Period,
    verification: String,
) -> Result<Report, ApiError> {
    let zone = collect::practice(table).await?.zone;
    let previous = period
        .previous(&zone)
        .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("previous period: {e}")))?;
    let facts = collect::facts(table, period, &previous, verification).await?;
    Ok(compute(&facts, period, &previous))
}

/// Stores every file of `report`, then its manifest.
pub async fn publish(store: &dyn ReportStore, report: &Report) -> Result<Manifest, ApiError> {
    let files = render::files(report).map_err(anyhow::Error::new)?;
    let manifest = Manifest {
        id: report.id.clone(),
        from: report.period.from.to_string(),
        to: report.period.to.to_string(),
        files: files.iter().map(|(name, _)| name.clone()).collect(),
    };
    for (name, bytes) in &files {
        store.put(&report.id, name, bytes).await?;
    }
    store.put_manifest(&manifest).await?;
    Ok(manifest)
}
