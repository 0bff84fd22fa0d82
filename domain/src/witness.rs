//! Witnessing the audit log, in the formats transparency logs share, so that any C2SP witness can
//! cosign Practica's checkpoints and any verifier can check the cosignatures without Practica code:
//!
//! - [`AddCheckpoint`]: the body of a C2SP `tlog-witness` `add-checkpoint` request (an `old <size>`
//!   line, the consistency proof a hash per line, a blank line, the signed checkpoint);
//! - [`cosigned_message`] and [`Cosignature`]: a C2SP `tlog-cosignature` v1 (Ed25519) over a
//!   checkpoint, whose note signature is `key ID ‖ timestamp (u64, big-endian) ‖ signature`;
//! - [`WitnessKey`]: a witness's name and Ed25519 public key, written as a C2SP `signed-note`
//!   verifier key (`<name>+<key ID, hex>+base64(0x04 ‖ public key)`), the form a practice
//!   configures and a verifier pins.
//!
//! Text only; signing and verifying bytes are `shared::crypto::cosign`'s.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::{NoteSignature, valid_key_name};
use crate::hash::sha256;
use crate::merkle::Hash;

/// The signature type of an Ed25519 cosignature (`cosignature/v1`).
pub const COSIGNATURE_V1: u8 = 0x04;
/// The most proof lines a request may carry (the protocol's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body read (a checkpoint with a few signatures and 63 hashes is ~4 KiB).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;
/// The content type of a 409 answer that states the witness's size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A witness's identity: its key name and Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessKey {
    pub name: String,
    pub public: [u8; 32],
}

impl WitnessKey {
    /// The key ID its cosignature lines carry.
    pub fn key_id(&self) -> [u8; 4] {
        let digest = sha256(&[self.name.as_bytes(), b"\n", &[COSIGNATURE_V1], &self.public]);
        [digest[0], digest[1], digest[2], digest[3]]
    }

    /// The verifier key: `<name>+<key ID, 8 hex digits>+base64(0x04 ‖ public key)`.
    pub fn vkey(&self) -> String {
        let mut material = vec![COSIGNATURE_V1];
        material.extend_from_slice(&self.public);
        let id: String = self.key_id().iter().map(|b| format!("{b:02x}")).collect();
        format!("{}+{id}+{}", self.name, STANDARD.encode(material))
    }

    /// Reads a verifier key; `None` unless it is an Ed25519 cosignature key whose stated key ID
    /// is the one its name and key give.
    pub fn parse_vkey(text: &str) -> Option<WitnessKey> {
        let mut parts = text.trim().splitn(3, '+');
        let (name, id, material) = (parts.next()?, parts.next()?, parts.next()?);
        if !valid_key_name(name) || id.len() != 8 {
            return None;
        }
        let material = STANDARD.decode(material).ok()?;
        let (&kind, public) = material.split_first()?;
        let key = WitnessKey {
            name: name.to_owned(),
            public: public.try_into().ok()?,
        };
        let stated: Vec<u8> = (0..4)
            .map(|i| u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Option<_>>()?;
        (kind == COSIGNATURE_V1 && stated == key.key_id()).then_some(key)
    }
}

/// What a cosigner signs: `cosignature/v1`, `time <seconds>`, then the checkpoint's note text.
pub fn cosigned_message(body: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{body}")
}

/// A cosignature line's signature, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    pub key_id: [u8; 4],
    /// When the witness signed (Unix seconds).
    pub time: u64,
    pub signature: [u8; 64],
}

impl Cosignature {
    /// A note signature line of `key_name` read as a cosignature, if it has the shape of one.
    pub fn of(line: &NoteSignature) -> Option<Cosignature> {
        let (time, signature) = line.signature.split_first_chunk::<8>()?;
        let time = u64::from_be_bytes(*time);
        (time < 1 << 63).then_some(())?;
        Some(Cosignature {
            key_id: line.key_id,
            time,
            signature: signature.try_into().ok()?,
        })
    }

    /// Its note signature line under `key_name`.
    pub fn line(&self, key_name: &str) -> NoteSignature {
        let mut signature = self.time.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.signature);
        NoteSignature {
            key_name: key_name.to_owned(),
            key_id: self.key_id,
            signature,
        }
    }
}

/// An `add-checkpoint` request: the size the client believes the witness holds, the consistency
/// proof from it, and the signed checkpoint (a note, signatures included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    pub note: String,
}

/// Why a request body is not one (the witness answers 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is larger than a checkpoint request")]
    TooLarge,
    #[error("the first line is not `old <size>`")]
    OldSize,
    #[error("a proof line is not a base64 SHA-256 hash")]
    ProofLine,
    #[error("more than 63 proof lines")]
    TooManyProofLines,
    #[error("no blank line before the checkpoint")]
    NoCheckpoint,
}

impl AddCheckpoint {
    /// The request body.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }

    /// Reads a request body (the checkpoint itself is the caller's to open and verify).
    pub fn parse(body: &str) -> Result<AddCheckpoint, RequestError> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(RequestError::TooLarge);
        }
        let (first, mut rest) = body.split_once('\n').ok_or(RequestError::OldSize)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(decimal)
            .ok_or(RequestError::OldSize)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(RequestError::NoCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(RequestError::TooManyProofLines);
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or(RequestError::ProofLine)?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            note: rest.to_owned(),
        })
    }
}

/// An ASCII decimal without leading zeroes (`0` itself allowed), as the protocol writes sizes.
pub fn decimal(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    (digits && (text == "0" || !text.starts_with('0')))
        .then(|| text.parse().ok())
        .flatten()
}

/// The body of a 409 answer: the size the witness holds.
pub fn size_answer(size: u64) -> String {
    format!("{size}\n")
}

/// Reads a 409 answer's body.
pub fn parse_size_answer(body: &str) -> Option<u64> {
    decimal(body.strip_suffix('\n')?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{Checkpoint, open_note, signed_note};
    use proptest::prelude::*;

    /// The request body of C2SP tlog-witness's example.
    const SPEC_REQUEST: &str = "old 20852014\n\
        PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
        jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
        5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
        /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
        \n\
        example.com/behind-the-sofa\n\
        20852163\n\
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
        \n\
        \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
        \u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

    /// C2SP tlog-cosignature's example: a checkpoint with a witness's cosignature line.
    const SPEC_COSIGNED: &str = "example.com/behind-the-sofa\n\
        20852163\n\
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
        \n\
        \u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
        \u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

    #[test]
    fn the_specs_request_reads_and_writes_back() {
        let request = AddCheckpoint::parse(SPEC_REQUEST).unwrap();
        assert_eq!(request.old_size, 20_852_014);
        assert_eq!(request.proof.len(), 4);
        let (body, signatures) = open_note(&request.note).unwrap();
        let checkpoint = Checkpoint::parse(body).unwrap();
        assert_eq!(checkpoint.size, 20_852_163);
        assert_eq!(signatures.len(), 2);
        assert_eq!(request.body(), SPEC_REQUEST);
    }

    #[test]
    fn the_specs_cosignature_carries_its_time_and_signs_the_specs_message() {
        let (body, signatures) = open_note(SPEC_COSIGNED).unwrap();
        let line = &signatures[1];
        assert_eq!(line.key_name, "witness.example.com/w1");
        let cosignature = Cosignature::of(line).unwrap();
        // The spec's signed message for this cosignature is at `time 1679315147`.
        assert_eq!(cosignature.time, 1_679_315_147);
        assert_eq!(
            cosigned_message(body, cosignature.time),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n\
             CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        assert_eq!(cosignature.line(&line.key_name), *line);
        assert_eq!(signed_note(body, &signatures), SPEC_COSIGNED);
        // The log's own (ECDSA) signature is not a cosignature's shape.
        assert!(Cosignature::of(&signatures[0]).is_none());
    }

    #[test]
    fn a_verifier_key_names_its_key_and_checks_its_id() {
        let key = WitnessKey {
            name: "witness.example/w1".into(),
            public: [7; 32],
        };
        let vkey = key.vkey();
        assert!(vkey.starts_with("witness.example/w1+"));
        assert_eq!(WitnessKey::parse_vkey(&vkey), Some(key.clone()));
        // Another ID, another type byte, a short key, no name: refused.
        let (head, material) = vkey.rsplit_once('+').unwrap();
        let (name, id) = head.split_once('+').unwrap();
        let other_id = format!("{name}+00000000+{material}");
        assert_ne!(id, "00000000");
        assert_eq!(WitnessKey::parse_vkey(&other_id), None);
        let mut ed25519 = vec![0x01];
        ed25519.extend_from_slice(&[7; 32]);
        assert_eq!(
            WitnessKey::parse_vkey(&format!("{head}+{}", STANDARD.encode(ed25519))),
            None
        );
        assert_eq!(
            WitnessKey::parse_vkey(&format!("{head}+{}", STANDARD.encode([4; 20]))),
            None
        );
        assert_eq!(WitnessKey::parse_vkey(&vkey.replacen(name, "", 1)), None);
    }

    #[test]
    fn malformed_requests_are_named() {
        let note = SPEC_REQUEST.split_once("\n\n").unwrap().1;
        for (body, error) in [
            ("old 1\n", RequestError::NoCheckpoint),
            ("old 01\n\nx", RequestError::OldSize),
            ("old -1\n\nx", RequestError::OldSize),
            ("new 1\n\nx", RequestError::OldSize),
            ("old 1\nnot a hash\n\nx", RequestError::ProofLine),
            ("old 1\nAAAA\n\nx", RequestError::ProofLine),
        ] {
            assert_eq!(AddCheckpoint::parse(body), Err(error), "{body:?}");
        }
        let hash = format!("{}\n", STANDARD.encode([1; 32]));
        let long = format!("old 1\n{}\n{note}", hash.repeat(64));
        assert_eq!(
            AddCheckpoint::parse(&long),
            Err(RequestError::TooManyProofLines)
        );
        let fine = format!("old 0\n\n{note}");
        assert_eq!(AddCheckpoint::parse(&fine).unwrap().old_size, 0);
    }

    #[test]
    fn size_answers_read_back() {
        assert_eq!(parse_size_answer(&size_answer(42)), Some(42));
        assert_eq!(parse_size_answer("042\n"), None);
        assert_eq!(parse_size_answer("42"), None);
        assert_eq!(decimal("0"), Some(0));
    }

    proptest! {
        /// Whatever arrives, reading it answers; what reads back writes out to the same bytes.
        #[test]
        fn any_body_is_read_or_refused(text in "(old [0-9]{1,3}\n)?([A-Za-z0-9+/=]{0,44}\n){0,3}\n?\\PC{0,80}") {
            if let Ok(request) = AddCheckpoint::parse(&text) {
                prop_assert_eq!(request.body(), text);
            }
        }
    }
}
