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

/// Archives the latest checkpoint in the table (after each integration); returns its name.
pub async fn archive_latest(
    table: &dyn Table,
    archive: &dyn CheckpointArchive,
) -> Result<Option<String>, ApiError> {
    let Some(latest) = super::stored::latest_checkpoint(table).await? else {
        return Ok(None);
    };
    archive
        .put(&latest.name, &latest.note)
        .await
        .map_err(unavailable)?;
    Ok(Some(latest.name))
}

/// Every archived note, for the verifier.
pub async fn archived(archive: &dyn CheckpointArchive) -> Result<Vec<String>, ApiError> {
    archive.list().await.map_err(unavailable)
}
