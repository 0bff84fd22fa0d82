//! The log-signing port: checkpoints of the audit log are signed with a key only the audit
//! function may use (an AWS KMS `ECC_NIST_P256` key in production, a local P-256 key file for
//! `practica serve`), and anyone verifies them with the public key alone, offline.

use async_trait::async_trait;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

use super::KeyError;
use domain::checkpoint::{Checkpoint, NoteSignature, ecdsa_key_id, open_note, signed_note};

/// The DER `SubjectPublicKeyInfo` of a P-256 key, up to its 65-byte uncompressed point.
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Signs with an ECDSA P-256 key over SHA-256.
#[async_trait]
pub trait LogSigner: Send + Sync {
    /// The key's DER SubjectPublicKeyInfo: what a verifier pins.
    fn public_key(&self) -> &[u8];

    /// An ASN.1 DER signature over `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// The SPKI of a P-256 public point.
pub fn p256_spki(point: &[u8]) -> Vec<u8> {
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(point);
    spki
}

/// The checkpoint as a signed note under `key_name`.
pub async fn sign_checkpoint(
    signer: &dyn LogSigner,
    key_name: &str,
    checkpoint: &Checkpoint,
) -> Result<String, KeyError> {
    let body = checkpoint.body();
    let signature = signer.sign(body.as_bytes()).await?;
    let line = NoteSignature {
        key_name: key_name.to_owned(),
        key_id: ecdsa_key_id(signer.public_key()),
        signature,
    };
    Ok(signed_note(&body, &[line]))
}

/// Why a checkpoint was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a signed note")]
    NotANote,
    #[error("the pinned key is not a P-256 public key")]
    UnusableKey,
    #[error("no signature by the pinned key")]
    NotSignedByKey,
    #[error("the pinned key's signature does not verify")]
    BadSignature,
    #[error("the signed text is not a checkpoint")]
    NotACheckpoint,
}

/// The checkpoint in `note`, if the key pinned as (`key_name`, `spki`) signed it. Signatures by other
/// keys are ignored; one by the pinned key that fails rejects the note.
pub fn verify_checkpoint(
    note: &str,
    key_name: &str,
    spki: &[u8],
) -> Result<Checkpoint, CheckpointError> {
    let point = spki
        .strip_prefix(&P256_SPKI_PREFIX)
        .filter(|p| p.len() == 65 && p[0] == 0x04)
        .ok_or(CheckpointError::UnusableKey)?;
    let (body, signatures) = open_note(note).ok_or(CheckpointError::NotANote)?;
    let key_id = ecdsa_key_id(spki);
    let ours = signatures
        .iter()
        .find(|s| s.key_name == key_name && s.key_id == key_id)
        .ok_or(CheckpointError::NotSignedByKey)?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(body.as_bytes(), &ours.signature)
        .map_err(|_| CheckpointError::BadSignature)?;
    Checkpoint::parse(body).ok_or(CheckpointError::NotACheckpoint)
}
