//! The checkpoint archive port: a second home for every signed checkpoint, outside the table and
//! out of reach of the functions that write it. In production an S3 bucket with Object Lock in
//! compliance mode (no one, not even the account's administrator, can overwrite or delete a
//! checkpoint before its retention ends); locally a folder in the data dir. The verifier checks the
//! archived checkpoints with the table's: a log rolled back or rewritten in the table contradicts
//! the checkpoints it had already archived.

use async_trait::async_trait;

use crate::error::ApiError;
use crate::store::Table;

#[async_trait]
pub trait CheckpointArchive: Send + Sync {
    /// Stores `note` under `name` (its sort key in the table); the same note again is a no-op.
    async fn put(&self, name: &str, note: &str) -> anyhow::Result<()>;
    /// Every archived note, in name order (size, then time).
    async fn list(&self) -> anyhow::Result<Vec<String>>;
}

fn unavailable(e: anyhow::Error) -> ApiError {
    ApiError::Unavailable {
        code: "archive_unavailable",
        source: e,
    }
}

/// Archives the latest checkpoint in the table (after each integration); returns its name. A
/// checkpoint the witnesses cosigned after it was archived (its note gained their lines) is
/// archived again beside the first copy, named by its signature count (`<name>#<lines>`): the
/// archive never rewrites what it holds.
pub async fn archive_latest(
    table: &dyn Table,
    archive: &dyn CheckpointArchive,
) -> Result<Option<String>, ApiError> {
    let Some(latest) = super::stored::latest_checkpoint(table).await? else {
        return Ok(None);
    };
    let lines = domain::checkpoint::open_note(&latest.note).map_or(1, |(_, s)| s.len());
    let name = if lines > 1 {
        format!("{}#{lines}", latest.name)
    } else {
        latest.name
    };
    archive
        .put(&name, &latest.note)
        .await
        .map_err(unavailable)?;
    Ok(Some(name))
}

/// Every archived note, for the verifier.
pub async fn archived(archive: &dyn CheckpointArchive) -> Result<Vec<String>, ApiError> {
    archive.list().await.map_err(unavailable)
}
