//! The local checkpoint archive: one file per checkpoint in a folder of the data dir, created
//! owner-only and never replaced (a second, different note under the same name is refused).

use std::path::PathBuf;

use anyhow::Context as _;
use async_trait::async_trait;

use crate::audit::archive::CheckpointArchive;

pub struct DirArchive {
    dir: PathBuf,
}

impl DirArchive {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirArchive { dir: dir.into() }
    }
}

/// Names are table sort keys (digits and `#`); anything else is refused rather than made a path.
fn file_name(name: &str) -> anyhow::Result<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_digit() || c == '#') {
        anyhow::bail!("not a checkpoint name: {name:?}");
    }
    Ok(format!("{}.note", name.replace('#', "-")))
}

#[async_trait]
impl CheckpointArchive for DirArchive {
    async fn put(&self, name: &str, note: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file_name(name)?);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == note => Ok(()),
            Ok(_) => anyhow::bail!("{} already holds another checkpoint", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                super::files::write_private_file(&path, note.as_bytes())
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    async fn list(&self) -> anyhow::Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("listing {}", self.dir.display())),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "note"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_are_kept_once_in_name_order_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let archive = DirArchive::new(dir.path().join("checkpoints"));
        assert!(archive.list().await.unwrap().is_empty());
        archive
            .put("00000000000000000002#00000000000000000009", "b")
            .await
            .unwrap();
        archive
            .put("00000000000000000001#00000000000000000009", "a")
            .await
            .unwrap();
        archive
            .put("00000000000000000001#00000000000000000009", "a")
            .await
            .unwrap();
        assert!(
            archive
                .put("00000000000000000001#00000000000000000009", "x")
                .await
                .is_err()
        );
        assert!(archive.put("../escape", "x").await.is_err());
        assert_eq!(archive.list().await.unwrap(), vec!["a", "b"]);
    }
}
