//! Files of the local stack that hold secrets (key files, the local token signer, webhook secrets,
//! the sandbox's intents): the one owner-only writer. Every such file is created with mode 0600 from
//! its first byte (never written and then restricted), and a replacement is atomic.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use rand::RngCore as _;
use zeroize::Zeroizing;

/// Reads a 32-byte secret file, or creates one with fresh random bytes, readable by the owner only.
pub fn read_or_create_secret(path: &Path) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            if bytes.len() != 32 {
                anyhow::bail!("{} must hold exactly 32 bytes", path.display());
            }
            key.copy_from_slice(&bytes);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            rand::rng().fill_bytes(key.as_mut());
            write_private_file(path, key.as_ref())?;
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    Ok(key)
}

/// Reads a P-256 private key (PKCS#8) file, or creates one with a fresh key, readable by the owner
/// only: the local token issuer's and the local audit-log signer's keys.
pub fn read_or_create_p256_key(path: &Path) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    match std::fs::read(path) {
        Ok(bytes) => Ok(Zeroizing::new(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let doc =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                    .map_err(|_| anyhow::anyhow!("generating a P-256 key"))?;
            let bytes = Zeroizing::new(doc.as_ref().to_vec());
            write_private_file(path, &bytes)?;
            Ok(bytes)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates a new file readable and writable by its owner only (0600) holding `bytes`.
/// Refuses to overwrite an existing file.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// Replaces the file at `path` with `bytes` atomically (a reader never sees half a file), owner-only:
/// a private temporary file beside it, then a rename.
pub fn replace_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", tmp.display())),
    }
    write_private_file(&tmp, bytes)?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_owner_only_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret");
        write_private_file(&path, b"one").unwrap();
        assert!(write_private_file(&path, b"two").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn replaces_atomically_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("intents.json");
        replace_private_file(&path, b"first").unwrap();
        replace_private_file(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(!path.with_extension("tmp").exists());
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }
}
