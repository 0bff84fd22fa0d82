//! The report store port: files under a report id, and the manifest that makes a report visible.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A published report: its period and its files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub id: String,
    pub from: String,
    pub to: String,
    pub files: Vec<String>,
}

/// A report id: `<from>_<to>`, two ISO dates (what a path may carry).
pub fn valid_id(id: &str) -> bool {
    id.len() == 21
        && id.split_once('_').is_some_and(|(a, b)| {
            [a, b]
                .iter()
                .all(|d| d.parse::<jiff::civil::Date>().is_ok() && d.len() == 10)
        })
}

/// A file name of a report: lower-case words, `.html`, `.json` or `.csv`.
pub fn valid_file(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    !stem.is_empty()
        && stem.len() <= 40
        && stem.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && ["html", "json", "csv"].contains(&ext)
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn put(&self, id: &str, file: &str, bytes: &[u8]) -> Result<(), ApiError>;
    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), ApiError>;
    /// Published reports, newest period first.
    async fn list(&self) -> Result<Vec<Manifest>, ApiError>;
    /// A file of a published report; None when the report or the file is not published.
    async fn get(&self, id: &str, file: &str) -> Result<Option<Vec<u8>>, ApiError>;
}
