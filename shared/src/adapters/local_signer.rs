//! The local audit-log signer: a P-256 key in a file of the data directory (PKCS#8, created 0600 on
//! first use), for `practica serve` and tests. Production signs with AWS KMS instead.

use std::path::Path;

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

use crate::adapters::files::read_or_create_p256_key;
use crate::crypto::KeyError;
use crate::crypto::signer::{LogSigner, p256_spki};

pub struct LocalSigner {
    pair: EcdsaKeyPair,
    spki: Vec<u8>,
}

impl LocalSigner {
    /// The key in `path`, generated on first use.
    pub fn open_or_create(path: &Path) -> anyhow::Result<Self> {
        Self::from_pkcs8(&read_or_create_p256_key(path)?)
    }

    /// A fresh key that lives only in memory (tests).
    pub fn generate() -> anyhow::Result<Self> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("generating a P-256 key"))?;
        Self::from_pkcs8(doc.as_ref())
    }

    fn from_pkcs8(pkcs8: &[u8]) -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .map_err(|_| anyhow::anyhow!("the audit signing key is not a P-256 PKCS#8 key"))?;
        let spki = p256_spki(pair.public_key().as_ref());
        Ok(LocalSigner { pair, spki })
    }
}

#[async_trait]
impl LogSigner for LocalSigner {
    fn public_key(&self) -> &[u8] {
        &self.spki
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| KeyError::Unavailable(anyhow::anyhow!("local signing failed")))?;
        Ok(signature.as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::signer::{CheckpointError, sign_checkpoint, verify_checkpoint};
    use domain::checkpoint::Checkpoint;
    use domain::merkle;

    const NAME: &str = "practica.example/audit";

    fn checkpoint(size: u64) -> Checkpoint {
        let leaves: Vec<_> = (0..size)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect();
        Checkpoint {
            origin: "practica.example/audit/practica-local".into(),
            size,
            root: merkle::root(&leaves),
            time: Some(1_795_000_000),
        }
    }

    #[tokio::test]
    async fn a_signed_checkpoint_verifies_with_the_public_key_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit-signing.p8");
        let signer = LocalSigner::open_or_create(&path).unwrap();
        let note = sign_checkpoint(&signer, NAME, &checkpoint(7))
            .await
            .unwrap();
        assert_eq!(
            verify_checkpoint(&note, NAME, signer.public_key()),
            Ok(checkpoint(7))
        );
        // The same key after a restart.
        let again = LocalSigner::open_or_create(&path).unwrap();
        assert_eq!(again.public_key(), signer.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn forged_edited_or_foreign_checkpoints_are_refused() {
        let signer = LocalSigner::generate().unwrap();
        let other = LocalSigner::generate().unwrap();
        let pinned = signer.public_key();
        let note = sign_checkpoint(&signer, NAME, &checkpoint(7))
            .await
            .unwrap();
        // The size rewritten (a rolled-back or padded log): the signature no longer verifies.
        let edited = note.replacen("\n7\n", "\n6\n", 1);
        assert_eq!(
            verify_checkpoint(&edited, NAME, pinned),
            Err(CheckpointError::BadSignature)
        );
        // Signed by another key, even under our name: not signed by the pinned key.
        let forged = sign_checkpoint(&other, NAME, &checkpoint(7)).await.unwrap();
        assert_eq!(
            verify_checkpoint(&forged, NAME, pinned),
            Err(CheckpointError::NotSignedByKey)
        );
        // Our key's id and name on another key's signature: a failed signature.
        let spliced = {
            let ours = note.rsplit_once(' ').unwrap().0;
            let theirs = forged.rsplit_once(' ').unwrap().1;
            use base64::Engine as _;
            let engine = base64::engine::general_purpose::STANDARD;
            let mut ours_bytes = engine
                .decode(note.rsplit_once(' ').unwrap().1.trim())
                .unwrap();
            let theirs_bytes = engine.decode(theirs.trim()).unwrap();
            ours_bytes.truncate(4);
            ours_bytes.extend_from_slice(&theirs_bytes[4..]);
            format!("{ours} {}\n", engine.encode(ours_bytes))
        };
        assert_eq!(
            verify_checkpoint(&spliced, NAME, pinned),
            Err(CheckpointError::BadSignature)
        );
        // Another name, a key that is not P-256, text that is not a note.
        assert_eq!(
            verify_checkpoint(&note, "someone.else/audit", pinned),
            Err(CheckpointError::NotSignedByKey)
        );
        assert_eq!(
            verify_checkpoint(&note, NAME, b"key"),
            Err(CheckpointError::UnusableKey)
        );
        assert_eq!(
            verify_checkpoint("7\n", NAME, pinned),
            Err(CheckpointError::NotANote)
        );
    }
}
