//! Consent documents and signatures: a document (the privacy notice, a treatment or telehealth
//! consent, the financial policy, a card authorisation) is a versioned text whose version is the
//! SHA-256 of its canonical text, so a signature that names the hash names exactly the words the
//! patient read. A patient signs by typing their full name and confirming; withdrawing is a signed
//! act too. Pure: the rules, no storage.

use serde::{Deserialize, Serialize};

/// The longest document text (a privacy notice runs a few pages).
pub const MAX_TEXT_CHARS: usize = 50_000;
/// The longest title and typed name.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_NAME_CHARS: usize = 200;

/// A document's id: a short slug the practice chooses (`treatment`, `telehealth`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DocumentId(String);

impl DocumentId {
    /// 1 to 40 of `a-z`, `0-9` and `-`, starting with a letter.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (1..=40).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then(|| DocumentId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        DocumentId::parse(&s).ok_or_else(|| serde::de::Error::custom("not a valid DocumentId"))
    }
}

/// Why a document or a signature is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("title is 1 to 200 characters without control characters.")]
    InvalidTitle,
    #[error("text is 1 to 50000 characters; tabs and line breaks are the only control characters.")]
    InvalidText,
    #[error(
        "typedName is your full name as you write it: 1 to 200 characters, at least one letter, no control characters."
    )]
    InvalidTypedName,
    #[error("Confirm that you have read the document and agree (agree: true).")]
    NotAgreed,
    #[error(
        "The practice changed this document since you opened it: read the current version and sign it."
    )]
    VersionChanged,
    #[error("You have already signed this version of the document.")]
    AlreadySigned,
    #[error("You have not signed this document, or withdrew your consent already.")]
    NotSigned,
    #[error("No document with this id.")]
    UnknownDocument,
}

/// The canonical form of a document's text: line breaks as `\n`, no trailing spaces or tabs on a
/// line, no blank lines at the start or end, one final line break. Two texts that differ only in
/// these ways are the same version.
pub fn canonical(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalized
        .split('\n')
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect();
    let first = lines.iter().position(|l| !l.is_empty());
    let last = lines.iter().rposition(|l| !l.is_empty());
    match (first, last) {
        (Some(a), Some(b)) => format!("{}\n", lines[a..=b].join("\n")),
        _ => String::new(),
    }
}

/// A version's id: the lower-case hex SHA-256 of the canonical text.
pub fn version_hash(text: &str) -> String {
    crate::hash::sha256(&[canonical(text).as_bytes()])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a string is a version id's shape (64 lower-case hex digits).
pub fn is_version_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Characters that change how text around them is shown without being seen themselves (bidi
/// overrides and isolates, zero-width characters, the byte-order mark): refused in names and
/// titles, where they could make a copy read differently from what was signed.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// A document's title and text, checked; the text is kept canonical.
pub fn checked(title: &str, text: &str) -> Result<(String, String), ConsentError> {
    let title = title.trim();
    if title.is_empty()
        || title.chars().count() > MAX_TITLE_CHARS
        || title.chars().any(|c| c.is_control() || is_invisible(c))
    {
        return Err(ConsentError::InvalidTitle);
    }
    let text = canonical(text);
    if text.is_empty()
        || text.chars().count() > MAX_TEXT_CHARS
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ConsentError::InvalidText);
    }
    Ok((title.to_owned(), text))
}

/// A typed name, checked: what the patient wrote, trimmed.
pub fn typed_name(name: &str) -> Result<String, ConsentError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(|c| c.is_control() || is_invisible(c))
        || !name.chars().any(char::is_alphabetic)
    {
        return Err(ConsentError::InvalidTypedName);
    }
    Ok(name.to_owned())
}

/// What a signature record says: signed, or a signature withdrawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureKind {
    Sign,
    Withdraw,
}

impl SignatureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureKind::Sign => "sign",
            SignatureKind::Withdraw => "withdraw",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign" => Some(SignatureKind::Sign),
            "withdraw" => Some(SignatureKind::Withdraw),
            _ => None,
        }
    }
}

/// The documents a practice starts with (its own words replace them: each is a starting point,
/// not legal advice): id, title, text.
pub fn starter_documents() -> [(&'static str, &'static str, &'static str); 5] {
    [
        (
            "privacy",
            "Notice of privacy practices",
            include_str!("../templates/consents/privacy.txt"),
        ),
        (
            "treatment",
            "Consent to treatment",
            include_str!("../templates/consents/treatment.txt"),
        ),
        (
            "telehealth",
            "Consent to telehealth",
            include_str!("../templates/consents/telehealth.txt"),
        ),
        (
            "financial",
            "Financial policy",
            include_str!("../templates/consents/financial.txt"),
        ),
        (
            "card",
            "Card on file authorisation",
            include_str!("../templates/consents/card.txt"),
        ),
    ]
}

/// What a printable copy of a signature shows.
pub struct Printable<'a> {
    pub practice: &'a str,
    pub title: &'a str,
    pub text: &'a str,
    pub version_hash: &'a str,
    pub kind: SignatureKind,
    pub typed_name: &'a str,
    /// When, in the practice's words and zone.
    pub at: &'a str,
    pub signature_id: &'a str,
    /// The audit log entry's leaf index, once the log has integrated it.
    pub leaf_index: Option<u64>,
}

/// A signature's printable copy: a self-contained HTML page (no scripts, no external assets).
pub fn printable(p: &Printable<'_>) -> String {
    use crate::html::escape;
    let act = match p.kind {
        SignatureKind::Sign => "Signed",
        SignatureKind::Withdraw => "Consent withdrawn",
    };
    let paragraphs: String = p
        .text
        .split("\n\n")
        .map(|para| format!("<p>{}</p>\n", escape(para).replace('\n', "<br>")))
        .collect();
    let leaf = match p.leaf_index {
        Some(i) => format!("entry {i} of the practice's signed audit log"),
        None => {
            "not yet in the signed audit log (it is added within minutes; fetch the copy again)"
                .into()
        }
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}: {act}</title>\n\
<style>body{{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1f2328}}\
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}}dt{{font-weight:600}}code{{word-break:break-all}}\
.doc{{border:1px solid #6e7781;padding:0 1rem;border-radius:6px}}</style></head>\n\
<body><h1>{title}</h1>\n<p>{practice}</p>\n<div class=\"doc\">\n{paragraphs}</div>\n\
<h2>{act}</h2>\n<dl><dt>Typed name</dt><dd>{name}</dd><dt>When</dt><dd>{at}</dd>\
<dt>Version (SHA-256 of the text)</dt><dd><code>{hash}</code></dd><dt>Signature</dt><dd><code>{sig}</code></dd>\
<dt>Evidence</dt><dd>{leaf}</dd></dl>\n\
<p>Anyone can check this copy offline: the version is the SHA-256 of the text above, and the signature's \
audit log entry names that version; <code>practica audit check-proof</code> verifies the JSON form of this \
copy against the practice's public key.</p>\n</body></html>\n",
        title = escape(p.title),
        practice = escape(p.practice),
        name = escape(p.typed_name),
        at = escape(p.at),
        hash = escape(p.version_hash),
        sig = escape(p.signature_id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_version_is_the_hash_of_the_canonical_text() {
        let a = version_hash("Consent\r\n\r\nI agree.  \r\n\r\n");
        let b = version_hash("\n\nConsent\n\nI agree.\n");
        assert_eq!(a, b);
        assert_ne!(a, version_hash("Consent\n\nI agree!\n"));
        assert!(is_version_hash(&a));
        // The published value: SHA-256 of "Consent\n\nI agree.\n".
        assert_eq!(
            a,
            crate::hash::sha256(&[b"Consent\n\nI agree.\n"])
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    }

    #[test]
    fn titles_texts_names_and_ids() {
        assert_eq!(checked(" T ", "x").unwrap(), ("T".into(), "x\n".into()));
        assert_eq!(checked("", "x"), Err(ConsentError::InvalidTitle));
        assert_eq!(checked("T", " \n "), Err(ConsentError::InvalidText));
        assert_eq!(checked("T", "a\u{7}b"), Err(ConsentError::InvalidText));
        assert_eq!(
            checked("T", &"a".repeat(MAX_TEXT_CHARS + 1)),
            Err(ConsentError::InvalidText)
        );
        assert_eq!(
            typed_name("  Jane Demo-Patient "),
            Ok("Jane Demo-Patient".into())
        );
        for bad in [
            "",
            "   ",
            "\u{0}\u{1}",
            "12345",
            "Jane\nDoe",
            &"J".repeat(201),
        ] {
            assert_eq!(
                typed_name(bad),
                Err(ConsentError::InvalidTypedName),
                "{bad:?}"
            );
        }
        assert!(DocumentId::parse("telehealth").is_some());
        assert!(DocumentId::parse("card-2").is_some());
        for bad in ["", "Treatment", "2card", "a b", &"a".repeat(41)] {
            assert!(DocumentId::parse(bad).is_none(), "{bad}");
        }
        for (id, title, text) in starter_documents() {
            assert!(DocumentId::parse(id).is_some());
            assert!(checked(title, text).is_ok(), "{id}");
        }
    }

    #[test]
    fn a_printable_copy_escapes_what_it_shows() {
        let page = printable(&Printable {
            practice: "Riverside <Therapy>",
            title: "Consent & more",
            text: "First <b>para</b>.\nSame para.\n\nSecond.\n",
            version_hash: &version_hash("x"),
            kind: SignatureKind::Sign,
            typed_name: "Jane <script>",
            at: "Dec 7, 2026, 10:00 AM EST",
            signature_id: "sig_1",
            leaf_index: Some(42),
        });
        assert!(page.contains("Riverside &lt;Therapy&gt;"));
        assert!(page.contains("<p>First &lt;b&gt;para&lt;/b&gt;.<br>Same para.</p>"));
        assert!(page.contains("Jane &lt;script&gt;"));
        assert!(!page.contains("<script"));
        assert!(page.contains("entry 42 of the practice's signed audit log"));
    }

    proptest! {
        /// Canonicalizing is idempotent, and the hash depends only on the canonical text.
        #[test]
        fn canonical_is_stable(text in "[ a-zA-Z\\r\\n\\t.]{0,200}") {
            let once = canonical(&text);
            prop_assert_eq!(canonical(&once), once.clone());
            prop_assert_eq!(version_hash(&text), version_hash(&once));
        }
    }
}
