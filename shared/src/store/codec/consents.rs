//! The item codecs of consents: a document's current version (`CONSENTDOC#<id>` / `CURRENT`) and
//! each published version (`V#<hash>`); a patient's consent to a document (`PATIENT#<id>` /
//! `CONSENT#<document>`) and each signature or withdrawal (`CONSENTSIG#<id>`, the typed name
//! sealed under that key).

use crate::store::codec::{Corrupt, corrupt, n, parsed, s};
use crate::store::keys::{
    CONSENT_DOCUMENTS_INDEX, consent_document_key, consent_signature_key, consent_version_key,
    patient_consent_key,
};
use crate::store::{AttrValue, GSI1_PK, GSI1_SK, Item, attr};
use domain::consent::{DocumentId, SignatureKind};
use domain::ids::{PatientId, SignatureId};

/// A version of a consent document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentDocument {
    pub id: DocumentId,
    pub title: String,
    /// Canonical (`domain::consent::canonical`).
    pub text: String,
    pub version_hash: String,
    pub published_at: i64,
    /// How many versions were published (the current item's write condition).
    pub version: i64,
}

impl ConsentDocument {
    fn fill(&self, item: Item) -> Item {
        item.with(attr::DOCUMENT_ID, self.id.as_str())
            .with(attr::TITLE, self.title.clone())
            .with(attr::TEXT, self.text.clone())
            .with(attr::DOCUMENT_HASH, self.version_hash.clone())
            .with(attr::PUBLISHED_AT, self.published_at)
            .with(attr::VERSION, self.version)
    }
    /// The current version's item (listed by the `CONSENTDOCS` index).
    pub fn current_item(&self) -> Item {
        self.fill(Item::new(consent_document_key(&self.id)))
            .with(GSI1_PK, CONSENT_DOCUMENTS_INDEX)
            .with(GSI1_SK, self.id.as_str())
    }
    /// The item this version keeps for good (a signature's copy reads it).
    pub fn version_item(&self) -> Item {
        self.fill(Item::new(consent_version_key(&self.id, &self.version_hash)))
    }
    pub fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(ConsentDocument {
            id: parsed(item, attr::DOCUMENT_ID, DocumentId::parse)?,
            title: s(item, attr::TITLE)?.to_owned(),
            text: s(item, attr::TEXT)?.to_owned(),
            version_hash: s(item, attr::DOCUMENT_HASH)?.to_owned(),
            published_at: n(item, attr::PUBLISHED_AT)?,
            version: n(item, attr::VERSION)?,
        })
    }
}

/// Where a patient stands with a document: the last signature or withdrawal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientConsent {
    pub patient: PatientId,
    pub document: DocumentId,
    pub kind: SignatureKind,
    pub version_hash: String,
    pub signature: SignatureId,
    pub at: i64,
}

impl PatientConsent {
    pub fn to_item(&self) -> Item {
        Item::new(patient_consent_key(&self.patient, &self.document))
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::DOCUMENT_ID, self.document.as_str())
            .with(attr::STATUS, self.kind.as_str())
            .with(attr::DOCUMENT_HASH, self.version_hash.clone())
            .with(attr::SIGNATURE_ID, self.signature.as_str())
            .with(attr::AT, self.at)
    }
    pub fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(PatientConsent {
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            document: parsed(item, attr::DOCUMENT_ID, DocumentId::parse)?,
            kind: parsed(item, attr::STATUS, SignatureKind::parse)?,
            version_hash: s(item, attr::DOCUMENT_HASH)?.to_owned(),
            signature: parsed(item, attr::SIGNATURE_ID, SignatureId::parse)?,
            at: n(item, attr::AT)?,
        })
    }
}

/// One signature or withdrawal, as signed: which version, when, the typed name (sealed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub id: SignatureId,
    pub patient: PatientId,
    pub document: DocumentId,
    pub title: String,
    pub version_hash: String,
    pub kind: SignatureKind,
    pub at: i64,
    pub typed_name: Vec<u8>,
}

impl Signature {
    pub fn to_item(&self) -> Item {
        Item::new(consent_signature_key(&self.patient, &self.id))
            .with(attr::ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::DOCUMENT_ID, self.document.as_str())
            .with(attr::TITLE, self.title.clone())
            .with(attr::DOCUMENT_HASH, self.version_hash.clone())
            .with(attr::KIND, self.kind.as_str())
            .with(attr::AT, self.at)
            .with(attr::TYPED_NAME, self.typed_name.clone())
    }
    pub fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(Signature {
            id: parsed(item, attr::ID, SignatureId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            document: parsed(item, attr::DOCUMENT_ID, DocumentId::parse)?,
            title: s(item, attr::TITLE)?.to_owned(),
            version_hash: s(item, attr::DOCUMENT_HASH)?.to_owned(),
            kind: parsed(item, attr::KIND, SignatureKind::parse)?,
            at: n(item, attr::AT)?,
            typed_name: match item.get(attr::TYPED_NAME) {
                Some(AttrValue::B(b)) => b.clone(),
                _ => return Err(corrupt(attr::TYPED_NAME)),
            },
        })
    }
}
