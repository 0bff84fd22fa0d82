//! `practica backup` and `practica restore`: the local practice's data dir (its embedded table, its
//! keys, the audit log's archived checkpoints, its reports and mailbox) as one encrypted file, and
//! back into a new data dir, which is then verified (the audit log against its key and its
//! archived checkpoints, the table opened and counted).
//!
//! Consistency: the backup opens the embedded store exclusively first (so no server writes while
//! the files are read: redb commits are durable, so the file is a committed state), then reads
//! every file. The file is `MAGIC | iterations (4, big-endian) | salt (16) | nonce | ciphertext |
//! tag`: AES-256-GCM under a key derived from the passphrase (PBKDF2-HMAC-SHA256), the header as
//! associated data, so a changed byte anywhere, a wrong passphrase or another file is refused
//! before anything is written. The plaintext is the files, each `path length (4) | path | length (8)
//! | bytes`, paths relative and checked on restore (no `..`, nothing absolute).
//!
//! The passphrase comes from `PRACTICA_BACKUP_PASSPHRASE` (never the command line, which other
//! users may read); without it there is no way back in, so keep it where the practice keeps its
//! other recovery secrets.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use shared::crypto::{aead, passphrase};

pub const PASSPHRASE_ENV: &str = "PRACTICA_BACKUP_PASSPHRASE";
/// The embedded store's file in a data dir.
const TABLE_FILE: &str = "practica.redb";
const MAGIC: &[u8] = b"PRACTICA-BACKUP-1\n";
const SALT_LEN: usize = 16;
/// The most PBKDF2 rounds a backup may ask for (a file cannot make a restore spin for hours).
const MAX_ITERATIONS: u32 = 10_000_000;

/// What a backup holds.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub files: usize,
    pub bytes: u64,
}

/// What a restore found on checking the restored dir.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    pub files: usize,
    pub bytes: u64,
    pub items: usize,
    pub audit_entries: u64,
    pub audit_ok: bool,
    pub problems: Vec<String>,
}

fn files_under(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            files_under(root, &path, out)?;
        } else if kind.is_file() && path.extension().is_none_or(|e| e != "tmp") {
            out.push(path.strip_prefix(root)?.to_path_buf());
        }
    }
    Ok(())
}

fn header(iterations: u32, salt: &[u8]) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&iterations.to_be_bytes());
    h.extend_from_slice(salt);
    h
}

/// Writes the backup of `data` to `out` (which must not exist), encrypted under `phrase`.
pub fn backup(data: &Path, out: &Path, phrase: &str) -> anyhow::Result<Summary> {
    // A mistyped directory would otherwise be backed up as a new, empty practice.
    if !data.join(TABLE_FILE).is_file() {
        bail!(
            "{} holds no practice ({TABLE_FILE} is missing)",
            data.display()
        );
    }
    // Held until the files are read: no server (nor another command) writes meanwhile.
    let state = crate::local::offline_state(data)?;
    let mut paths = Vec::new();
    files_under(data, data, &mut paths)?;
    paths.sort();
    let out_abs = std::path::absolute(out)?;
    // Sized once: a growing buffer would leave copies of the plaintext behind in freed memory.
    let mut total = 0u64;
    for rel in &paths {
        total += std::fs::metadata(data.join(rel))?.len() + 12 + rel.as_os_str().len() as u64;
    }
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(usize::try_from(total)?));
    let mut bytes = 0u64;
    let mut count = 0;
    for rel in &paths {
        let path = data.join(rel);
        if std::path::absolute(&path)? == out_abs {
            continue;
        }
        let name = rel
            .to_str()
            .context("a file name that is not UTF-8")?
            .as_bytes();
        let content =
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        plain.extend_from_slice(&(name.len() as u32).to_be_bytes());
        plain.extend_from_slice(name);
        plain.extend_from_slice(&(content.len() as u64).to_be_bytes());
        plain.extend_from_slice(&content);
        bytes += content.len() as u64;
        count += 1;
    }
    drop(state);
    let salt: [u8; SALT_LEN] = rand::random();
    let key = passphrase::derive(phrase, &salt, passphrase::ITERATIONS)?;
    let head = header(passphrase::ITERATIONS, &salt);
    let mut sealed = head.clone();
    aead::seal_into(&key, &head, &plain, &mut sealed)
        .map_err(|_| anyhow::anyhow!("encrypting the backup failed"))?;
    shared::adapters::files::write_private_file(out, &sealed)
        .with_context(|| format!("writing {} (it must not exist yet)", out.display()))?;
    Ok(Summary {
        files: count,
        bytes,
    })
}

/// A path from the archive, as a relative path under the restored dir, or refused.
fn safe(name: &str) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(name);
    if name.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("the backup names a path outside its directory: {name:?}");
    }
    Ok(path)
}

/// The files of the backup `file`, decrypted with `phrase` and checked (nothing written).
fn open(file: &Path, phrase: &str) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let sealed = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let head_len = MAGIC.len() + 4 + SALT_LEN;
    if sealed.len() < head_len || !sealed.starts_with(MAGIC) {
        bail!("{} is not a practica backup", file.display());
    }
    let iterations = u32::from_be_bytes(sealed[MAGIC.len()..MAGIC.len() + 4].try_into()?);
    if !(passphrase::ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        bail!("the backup's key derivation is not one this version makes ({iterations} rounds)");
    }
    let salt = &sealed[MAGIC.len() + 4..head_len];
    let key = passphrase::derive(phrase, salt, iterations)?;
    let plain = aead::open(&key, &sealed[..head_len], &sealed[head_len..]).map_err(|_| {
        anyhow::anyhow!("the backup does not open: a wrong passphrase, or the file was changed")
    })?;
    let mut files = Vec::new();
    let mut rest: &[u8] = &plain;
    let take = |n: usize, rest: &mut &[u8]| -> anyhow::Result<Vec<u8>> {
        if rest.len() < n {
            bail!("the backup's contents are cut short");
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Ok(head.to_vec())
    };
    while !rest.is_empty() {
        let name_len =
            u32::from_be_bytes(take(4, &mut rest)?.try_into().expect("4 bytes")) as usize;
        let name = String::from_utf8(take(name_len, &mut rest)?)?;
        let len = u64::from_be_bytes(take(8, &mut rest)?.try_into().expect("8 bytes"));
        let content = take(usize::try_from(len)?, &mut rest)?;
        files.push((safe(&name)?, content));
    }
    Ok(files)
}

/// Restores the backup `file` into `data` (a new or empty directory), then verifies it.
pub async fn restore(file: &Path, data: &Path, phrase: &str) -> anyhow::Result<Restored> {
    if data.exists() && std::fs::read_dir(data)?.next().is_some() {
        bail!(
            "{} is not empty: restore into a new directory",
            data.display()
        );
    }
    let files = open(file, phrase)?;
    // Written beside the target, then renamed: a failure half-way leaves no half-restored practice
    // under the target's name.
    let name = data
        .file_name()
        .context("the target directory has no name")?
        .to_string_lossy()
        .into_owned();
    let partial = data.with_file_name(format!(".{name}.restoring-{}", ulid::Ulid::new()));
    let mut bytes = 0u64;
    let written = (|| -> anyhow::Result<()> {
        for (rel, content) in &files {
            let path = partial.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            shared::adapters::files::write_private_file(&path, content)?;
            bytes += content.len() as u64;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    if data.exists() {
        std::fs::remove_dir(data)?;
    }
    std::fs::rename(&partial, data)?;
    let report = crate::audit::verify(data, &Default::default()).await?;
    let table = shared::adapters::embedded::EmbeddedTable::open(&data.join(TABLE_FILE))?;
    let items = table
        .count()
        .await
        .map_err(|e| anyhow::anyhow!("reading the restored table failed: {e}"))?;
    Ok(Restored {
        files: files.len(),
        bytes,
        items,
        audit_entries: report.tree_size,
        audit_ok: report.ok(),
        problems: report.problems.iter().map(|p| format!("{p:?}")).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_directory_are_refused() {
        for bad in ["", "../x", "/etc/passwd", "a/../../b", "./a"] {
            assert!(safe(bad).is_err(), "{bad}");
        }
        assert_eq!(
            safe("reports/x/report.json").unwrap(),
            PathBuf::from("reports/x/report.json")
        );
    }
}
