//! The item codecs of forms: a form's current version (`FORM#<id>` / `CURRENT`) and each published
//! version (`V#<hash>`), the definition as JSON; a patient's draft (`FORMDRAFT#<form>`) and each
//! submission (`FORMSUB#<form>#<at>#<id>`), their answers sealed under their own keys.

use crate::store::codec::{Corrupt, corrupt, n, parsed, s};
use crate::store::keys::{
    FORMS_INDEX, form_draft_key, form_key, form_submission_key, form_version_key,
};
use crate::store::{AttrValue, GSI1_PK, GSI1_SK, Item, Key, attr};
use domain::forms::{Form, FormId};
use domain::ids::{PatientId, SubmissionId};

/// A version of a form.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredForm {
    pub id: FormId,
    pub definition: Form,
    pub version_hash: String,
    pub published_at: i64,
    pub version: i64,
}

impl StoredForm {
    fn fill(&self, item: Item) -> Item {
        item.with(attr::FORM_ID, self.id.as_str())
            .with(
                attr::DEFINITION,
                serde_json::to_string(&self.definition).unwrap_or_default(),
            )
            .with(attr::DOCUMENT_HASH, self.version_hash.clone())
            .with(attr::PUBLISHED_AT, self.published_at)
            .with(attr::VERSION, self.version)
    }
    pub fn current_item(&self) -> Item {
        self.fill(Item::new(form_key(&self.id)))
            .with(GSI1_PK, FORMS_INDEX)
            .with(GSI1_SK, self.id.as_str())
    }
    pub fn version_item(&self) -> Item {
        self.fill(Item::new(form_version_key(&self.id, &self.version_hash)))
    }
    pub fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(StoredForm {
            id: parsed(item, attr::FORM_ID, FormId::parse)?,
            definition: serde_json::from_str(s(item, attr::DEFINITION)?)
                .map_err(|_| corrupt(attr::DEFINITION))?,
            version_hash: s(item, attr::DOCUMENT_HASH)?.to_owned(),
            published_at: n(item, attr::PUBLISHED_AT)?,
            version: n(item, attr::VERSION)?,
        })
    }
}

/// Answers as stored: which form and version, when, sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswers {
    pub patient: PatientId,
    pub form: FormId,
    pub version_hash: String,
    pub at: i64,
    /// A submission's id (None for a draft).
    pub id: Option<SubmissionId>,
    pub answers: Vec<u8>,
}

impl StoredAnswers {
    /// Where these answers are kept: the draft, or the submission.
    pub fn key(&self) -> Key {
        match &self.id {
            Some(id) => form_submission_key(&self.patient, &self.form, self.at, id),
            None => form_draft_key(&self.patient, &self.form),
        }
    }
    pub fn to_item(&self) -> Item {
        let mut item = Item::new(self.key())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::FORM_ID, self.form.as_str())
            .with(attr::DOCUMENT_HASH, self.version_hash.clone())
            .with(attr::AT, self.at)
            .with(attr::ANSWERS, self.answers.clone());
        if let Some(id) = &self.id {
            item.set(attr::ID, id.as_str());
        }
        item
    }
    pub fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(StoredAnswers {
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            form: parsed(item, attr::FORM_ID, FormId::parse)?,
            version_hash: s(item, attr::DOCUMENT_HASH)?.to_owned(),
            at: n(item, attr::AT)?,
            id: match item.get(attr::ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::ID, SubmissionId::parse)?),
            },
            answers: match item.get(attr::ANSWERS) {
                Some(AttrValue::B(b)) => b.clone(),
                _ => return Err(corrupt(attr::ANSWERS)),
            },
        })
    }
}
