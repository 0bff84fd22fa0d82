//! Checkpoints of the audit log in the formats transparency logs share, so that an outside verifier
//! needs no Practica code: a C2SP `tlog-checkpoint` body (origin, tree size, base64 root hash) inside
//! a C2SP `signed-note` (the body, a blank line, and `— <key name> base64(key ID ‖ signature)`
//! lines). Signatures are ECDSA P-256 over SHA-256 (signature type `0x02`, ASN.1 DER signatures, key
//! ID = the first four bytes of SHA-256 of the public key's DER `SubjectPublicKeyInfo`), the kind an
//! AWS KMS `ECC_NIST_P256` key makes.
//!
//! Pure text handling; signing and verifying the bytes are the signer port's
//! (`shared::crypto::signer`).

use crate::hash::sha256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::merkle::Hash;

/// The em dash and space that open a signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Most signature lines read from one note (the format requires accepting at least 16).
const MAX_SIGNATURES: usize = 16;
/// Largest note read (a checkpoint with a few signatures is well under 1 KiB).
const MAX_NOTE_BYTES: usize = 16 * 1024;

/// A signed statement of the log's size and root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `practica.example/audit/<table>`.
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// When it was signed (Unix seconds), as the extension line `time <seconds>`: a log that
    /// signs at least hourly shows, by its checkpoints' times, that it was alive and unchanged.
    pub time: Option<i64>,
}

/// The extension line that carries [`Checkpoint::time`].
const TIME_PREFIX: &str = "time ";

impl Checkpoint {
    /// The note text: three lines (and the time line, if any), each ending in a newline.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        if let Some(time) = self.time {
            body.push_str(&format!("{TIME_PREFIX}{time}\n"));
        }
        body
    }

    /// Reads a note text (extension lines after the third are allowed; a `time` line is read,
    /// the others are ignored).
    pub fn parse(body: &str) -> Option<Checkpoint> {
        let mut lines = body.strip_suffix('\n')?.split('\n');
        let origin = lines.next().filter(|o| valid_text(o) && !o.is_empty())?;
        let size = lines.next()?;
        if size.is_empty() || (size.len() > 1 && size.starts_with('0')) {
            return None;
        }
        let size = size
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| size.parse::<u64>().ok())??;
        let root: Hash = STANDARD.decode(lines.next()?).ok()?.try_into().ok()?;
        let mut time = None;
        for line in lines {
            if line.is_empty() || !valid_text(line) {
                return None;
            }
            if let Some(seconds) = line.strip_prefix(TIME_PREFIX) {
                time = Some(seconds.parse::<i64>().ok()?);
            }
        }
        Some(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            time,
        })
    }
}

/// No control characters (the format allows newlines only between lines).
fn valid_text(line: &str) -> bool {
    !line.chars().any(char::is_control)
}

/// The key ID of an ECDSA key (signature type `0x02`): SHA-256 of its DER SubjectPublicKeyInfo.
pub fn ecdsa_key_id(spki_der: &[u8]) -> [u8; 4] {
    let digest = sha256(&[spki_der]);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    pub key_name: String,
    pub key_id: [u8; 4],
    pub signature: Vec<u8>,
}

impl NoteSignature {
    fn line(&self) -> String {
        let mut bytes = self.key_id.to_vec();
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.key_name,
            STANDARD.encode(bytes)
        )
    }
}

/// Key names are non-empty and hold no spaces or `+`.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// A signed note: `body` (ending in a newline), a blank line, the signature lines.
pub fn signed_note(body: &str, signatures: &[NoteSignature]) -> String {
    let mut note = String::with_capacity(body.len() + 1 + 128 * signatures.len());
    note.push_str(body);
    note.push('\n');
    for s in signatures {
        note.push_str(&s.line());
    }
    note
}

/// Splits a signed note into its text and signature lines, or `None` when it is not one: the text
/// is everything up to the last blank line, and every line after it must be a signature line.
pub fn open_note(note: &str) -> Option<(&str, Vec<NoteSignature>)> {
    if note.len() > MAX_NOTE_BYTES || note.chars().any(|c| c.is_control() && c != '\n') {
        return None;
    }
    let split = note.rfind("\n\n")?;
    let (body, rest) = (&note[..=split], &note[split + 2..]);
    let lines = rest.strip_suffix('\n')?.split('\n');
    let mut signatures = Vec::new();
    for line in lines {
        if signatures.len() == MAX_SIGNATURES {
            return None;
        }
        let (name, encoded) = line.strip_prefix(SIGNATURE_PREFIX)?.split_once(' ')?;
        if !valid_key_name(name) {
            return None;
        }
        let bytes = STANDARD.decode(encoded).ok()?;
        if bytes.len() <= 4 {
            return None;
        }
        signatures.push(NoteSignature {
            key_name: name.to_owned(),
            key_id: [bytes[0], bytes[1], bytes[2], bytes[3]],
            signature: bytes[4..].to_vec(),
        });
    }
    (!signatures.is_empty()).then_some((body, signatures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "practica.example/audit/practica-prod".into(),
            size: 12_345,
            root: crate::merkle::leaf_hash(b"x"),
            time: None,
        }
    }

    #[test]
    fn a_signing_time_is_the_fourth_line_and_reads_back() {
        let c = Checkpoint {
            time: Some(1_795_000_000),
            ..checkpoint()
        };
        let body = c.body();
        assert!(body.ends_with("\ntime 1795000000\n"));
        assert_eq!(Checkpoint::parse(&body), Some(c));
        assert_eq!(
            Checkpoint::parse(&body.replace("time 1795000000", "time soon")),
            None
        );
    }

    #[test]
    fn the_body_is_three_lines_and_reads_back() {
        let c = checkpoint();
        let body = c.body();
        assert_eq!(body.lines().count(), 3);
        assert!(body.starts_with("practica.example/audit/practica-prod\n12345\n"));
        assert_eq!(Checkpoint::parse(&body), Some(c.clone()));
        // Extension lines are allowed; a size with a leading zero, a short root or a missing
        // final newline are not.
        assert_eq!(Checkpoint::parse(&format!("{body}ext line\n")), Some(c));
        for bad in [
            "o\n012\nAAAA\n",
            "o\n1\nAAAA\n",
            "o\n1\n",
            "\n1\nAAAA\n",
            "o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        ] {
            assert_eq!(Checkpoint::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Checkpoint::parse(body.trim_end()), None);
    }

    #[test]
    fn notes_carry_their_signatures_and_read_back() {
        let body = checkpoint().body();
        let sigs = vec![
            NoteSignature {
                key_name: "practica.example/audit".into(),
                key_id: [1, 2, 3, 4],
                signature: vec![0x30, 0x45, 9, 9, 9],
            },
            NoteSignature {
                key_name: "witness.example/w1".into(),
                key_id: [9, 8, 7, 6],
                signature: vec![7; 64],
            },
        ];
        let note = signed_note(&body, &sigs);
        assert!(note.contains("\n\n\u{2014} practica.example/audit "));
        let (read_body, read) = open_note(&note).unwrap();
        assert_eq!(read_body, body);
        assert_eq!(read, sigs);
        // No signature, a line that is not one, or a key name with a space: not a note.
        assert!(open_note(&format!("{body}\n")).is_none());
        assert!(open_note(&format!("{note}trailing\n")).is_none());
        assert!(open_note(&note.replace("practica.example/audit ", "practica example ")).is_none());
        assert!(open_note(&note.replace('\n', "\r\n")).is_none());
    }

    #[test]
    fn the_key_id_is_the_start_of_the_spki_digest() {
        let digest = sha256(&[b"spki"]);
        assert_eq!(
            ecdsa_key_id(b"spki"),
            [digest[0], digest[1], digest[2], digest[3]]
        );
    }

    proptest! {
        /// Whatever text arrives, reading it answers (never panics), and a note that reads back
        /// writes out to the same text.
        #[test]
        fn any_text_opens_or_is_refused(text in "\\PC{0,200}(\n\n\u{2014} [a-z./]{1,20} [A-Za-z0-9+/=]{0,40}\n)?") {
            if let Some((body, sigs)) = open_note(&text) {
                prop_assert_eq!(signed_note(body, &sigs), text.clone());
            }
            let _ = Checkpoint::parse(&text);
        }
    }
}
