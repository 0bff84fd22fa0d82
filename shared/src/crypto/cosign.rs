//! Cosignatures of the audit log's checkpoints (C2SP `tlog-cosignature` v1, Ed25519): a witness
//! signs with [`Cosigner`]; anyone checks a checkpoint's cosignatures against the witnesses they
//! trust with [`cosigners`], and a practice's rule, k of its configured witnesses, with
//! [`WitnessPolicy`].

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

use domain::checkpoint::{NoteSignature, open_note};
use domain::witness::{Cosignature, WitnessKey, cosigned_message};

/// A witness's signing key.
pub struct Cosigner {
    pair: Ed25519KeyPair,
    key: WitnessKey,
}

impl std::fmt::Debug for Cosigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cosigner({})", self.key.name)
    }
}

impl Cosigner {
    /// A new key in PKCS#8 (what a witness keeps in its key file).
    pub fn generate_pkcs8() -> anyhow::Result<Vec<u8>> {
        Ok(Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| anyhow::anyhow!("generating an Ed25519 key"))?
            .as_ref()
            .to_vec())
    }

    /// The witness `name` signing with the PKCS#8 Ed25519 key `pkcs8`.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> anyhow::Result<Cosigner> {
        anyhow::ensure!(
            domain::checkpoint::valid_key_name(name),
            "a witness name is non-empty, without spaces or +"
        );
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| anyhow::anyhow!("the witness key is not an Ed25519 PKCS#8 key"))?;
        let public: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| anyhow::anyhow!("an Ed25519 public key is 32 bytes"))?;
        Ok(Cosigner {
            pair,
            key: WitnessKey {
                name: name.to_owned(),
                public,
            },
        })
    }

    /// Its name and public key.
    pub fn key(&self) -> &WitnessKey {
        &self.key
    }

    /// The cosignature line over the checkpoint note text `body`, at `time` (Unix seconds).
    pub fn cosign(&self, body: &str, time: u64) -> NoteSignature {
        let signature = self.pair.sign(cosigned_message(body, time).as_bytes());
        let mut bytes = [0; 64];
        bytes.copy_from_slice(signature.as_ref());
        Cosignature {
            key_id: self.key.key_id(),
            time,
            signature: bytes,
        }
        .line(&self.key.name)
    }
}

/// Whether `line` is `witness`'s valid cosignature over the note text `body`.
pub fn cosigned_by(body: &str, line: &NoteSignature, witness: &WitnessKey) -> bool {
    if line.key_name != witness.name || line.key_id != witness.key_id() {
        return false;
    }
    let Some(cosignature) = Cosignature::of(line) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, witness.public)
        .verify(
            cosigned_message(body, cosignature.time).as_bytes(),
            &cosignature.signature,
        )
        .is_ok()
}

/// The witnesses of `trusted` that validly cosigned the checkpoint `note` (each once; lines of
/// other keys are ignored). A line that carries a trusted witness's name and key ID but does not
/// verify is in the second list: a forged cosignature, which a verifier reports.
pub fn cosigners<'a>(
    note: &str,
    trusted: &'a [WitnessKey],
) -> (Vec<&'a WitnessKey>, Vec<&'a WitnessKey>) {
    let (mut valid, mut forged) = (Vec::new(), Vec::new());
    let Some((body, lines)) = open_note(note) else {
        return (valid, forged);
    };
    for witness in trusted {
        let id = witness.key_id();
        let theirs = lines
            .iter()
            .filter(|l| l.key_name == witness.name && l.key_id == id);
        let mut any = false;
        let mut all = true;
        for line in theirs {
            any = true;
            all &= cosigned_by(body, line, witness);
        }
        if any && all {
            valid.push(witness);
        } else if any {
            forged.push(witness);
        }
    }
    (valid, forged)
}

/// A practice's rule for its checkpoints: `quorum` of `witnesses` must cosign one before a
/// verifier relies on it. No witnesses, no rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessPolicy {
    pub witnesses: Vec<WitnessKey>,
    pub quorum: usize,
}

/// Why a checkpoint does not meet the rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("cosigned by {have} of the {need} witnesses required")]
    TooFew { have: usize, need: usize },
    #[error("a cosignature by {0} does not verify")]
    Forged(String),
}

impl WitnessPolicy {
    /// The rule `quorum` of `witnesses` (a quorum of 0, or more than there are witnesses, is a
    /// mistake in the configuration).
    pub fn new(witnesses: Vec<WitnessKey>, quorum: usize) -> anyhow::Result<WitnessPolicy> {
        anyhow::ensure!(
            witnesses.is_empty() || (1..=witnesses.len()).contains(&quorum),
            "the witness quorum must be between 1 and the {} witnesses",
            witnesses.len()
        );
        let mut names: Vec<&str> = witnesses.iter().map(|w| w.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        anyhow::ensure!(names.len() == witnesses.len(), "each witness is named once");
        Ok(WitnessPolicy { witnesses, quorum })
    }

    pub fn is_required(&self) -> bool {
        !self.witnesses.is_empty()
    }

    /// The names of the witnesses that cosigned `note`, if they are enough.
    pub fn check(&self, note: &str) -> Result<Vec<String>, QuorumError> {
        let (valid, forged) = cosigners(note, &self.witnesses);
        if let Some(witness) = forged.first() {
            return Err(QuorumError::Forged(witness.name.clone()));
        }
        if valid.len() < self.quorum {
            return Err(QuorumError::TooFew {
                have: valid.len(),
                need: self.quorum,
            });
        }
        Ok(valid.into_iter().map(|w| w.name.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::checkpoint::signed_note;

    const BODY: &str =
        "practica.example/audit/t\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    fn witness(name: &str) -> Cosigner {
        Cosigner::from_pkcs8(name, &Cosigner::generate_pkcs8().unwrap()).unwrap()
    }

    fn log_line() -> NoteSignature {
        NoteSignature {
            key_name: "practica.example/audit".into(),
            key_id: [1, 2, 3, 4],
            signature: vec![0x30; 70],
        }
    }

    #[test]
    fn a_cosignature_verifies_for_its_witness_only() {
        let (w1, w2) = (witness("w.example/1"), witness("w.example/2"));
        let line = w1.cosign(BODY, 1_795_000_000);
        assert!(cosigned_by(BODY, &line, w1.key()));
        assert!(!cosigned_by(BODY, &line, w2.key()));
        // Another body, or another time than the one signed: no.
        assert!(!cosigned_by(&BODY.replace('3', "4"), &line, w1.key()));
        let mut moved = line.clone();
        moved.signature[7] ^= 1;
        assert!(!cosigned_by(BODY, &moved, w1.key()));
    }

    #[test]
    fn the_policy_counts_trusted_cosigners_and_reports_a_forged_one() {
        let (w1, w2, w3) = (
            witness("w.example/1"),
            witness("w.example/2"),
            witness("w.example/3"),
        );
        let stranger = witness("w.example/4");
        let policy = WitnessPolicy::new(
            vec![w1.key().clone(), w2.key().clone(), w3.key().clone()],
            2,
        )
        .unwrap();
        let one = signed_note(BODY, &[log_line(), w1.cosign(BODY, 5)]);
        assert_eq!(
            policy.check(&one),
            Err(QuorumError::TooFew { have: 1, need: 2 })
        );
        let with_stranger = signed_note(
            BODY,
            &[log_line(), w1.cosign(BODY, 5), stranger.cosign(BODY, 5)],
        );
        assert!(policy.check(&with_stranger).is_err());
        let two = signed_note(BODY, &[log_line(), w1.cosign(BODY, 5), w3.cosign(BODY, 6)]);
        assert_eq!(
            policy.check(&two).unwrap(),
            vec!["w.example/1".to_owned(), "w.example/3".to_owned()]
        );
        let mut bad = w2.cosign(BODY, 7);
        bad.signature[20] ^= 1;
        let forged = signed_note(
            BODY,
            &[log_line(), w1.cosign(BODY, 5), w3.cosign(BODY, 6), bad],
        );
        assert_eq!(
            policy.check(&forged),
            Err(QuorumError::Forged("w.example/2".into()))
        );
        assert!(WitnessPolicy::new(vec![w1.key().clone()], 2).is_err());
        assert!(WitnessPolicy::new(vec![w1.key().clone()], 0).is_err());
        assert!(WitnessPolicy::new(vec![w1.key().clone(), w1.key().clone()], 1).is_err());
    }
}
