//! The local report store: `<dir>/<id>/<file>` in the data dir, owner-only; each file replaced
//! atomically, the manifest (`manifest.json`) last.

use std::path::PathBuf;

use anyhow::Context as _;
use async_trait::async_trait;

use crate::error::ApiError;
use crate::reports::store::{Manifest, ReportStore, valid_file, valid_id};

pub struct DirReports {
    dir: PathBuf,
}

impl DirReports {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirReports { dir: dir.into() }
    }

    fn path(&self, id: &str, file: &str) -> anyhow::Result<PathBuf> {
        if !valid_id(id) || !(valid_file(file) || file == MANIFEST) {
            anyhow::bail!("not a report file: {id:?} {file:?}");
        }
        Ok(self.dir.join(id).join(file))
    }
}

const MANIFEST: &str = "manifest.json";

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), ApiError> {
    super::files::replace_private_file(path, bytes).map_err(ApiError::Unexpected)
}

#[async_trait]
impl ReportStore for DirReports {
    async fn put(&self, id: &str, file: &str, bytes: &[u8]) -> Result<(), ApiError> {
        write(&self.path(id, file)?, bytes)
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), ApiError> {
        let bytes = serde_json::to_vec_pretty(manifest).map_err(anyhow::Error::new)?;
        write(&self.path(&manifest.id, MANIFEST)?, &bytes)
    }

    async fn list(&self) -> Result<Vec<Manifest>, ApiError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(anyhow::Error::new(e).into()),
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path().join(MANIFEST);
            match std::fs::read(&path) {
                Ok(bytes) => out.push(
                    serde_json::from_slice::<Manifest>(&bytes)
                        .with_context(|| format!("reading {}", path.display()))?,
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(anyhow::Error::new(e).into()),
            }
        }
        out.sort_by(|a, b| (&b.from, &b.to).cmp(&(&a.from, &a.to)));
        Ok(out)
    }

    async fn get(&self, id: &str, file: &str) -> Result<Option<Vec<u8>>, ApiError> {
        if !valid_id(id) || !valid_file(file) {
            return Ok(None);
        }
        let manifest = match std::fs::read(self.path(id, MANIFEST)?) {
            Ok(bytes) => serde_json::from_slice::<Manifest>(&bytes).map_err(anyhow::Error::new)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::Error::new(e).into()),
        };
        if !manifest.files.iter().any(|f| f == file) {
            return Ok(None);
        }
        Ok(Some(
            std::fs::read(self.path(id, file)?).map_err(anyhow::Error::new)?,
        ))
    }
}
