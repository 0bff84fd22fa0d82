//! Feedback items: one record at `FEEDBACK#<id>` (found by the staff list and the report through
//! the GSI) and the patient's copy under their partition, with the same attributes.

use crate::store::codec::{Corrupt, corrupt, n, parsed};
use crate::store::keys::*;
use crate::store::{AttrValue, GSI1_PK, GSI1_SK, Item, Key, attr};
use domain::access::Subject;
use domain::feedback::{Category, Feedback, Rating, Resolution};
use domain::ids::{AppointmentId, FeedbackId, PatientId};

fn bytes(item: &Item, name: &str) -> Result<Vec<u8>, Corrupt> {
    item.get(name)
        .and_then(AttrValue::as_b)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| corrupt(name))
}

/// How a [`Feedback`] is spelled as a table item (the one codec of the record).
pub trait FeedbackCodec: Sized {
    /// The record staff and the report find.
    fn key(&self) -> Key;
    /// The patient's copy.
    fn copy_key(&self) -> Key;
    /// The record (`copy` false: with its index entry) or the patient's copy.
    fn to_item(&self, copy: bool) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl FeedbackCodec for Feedback {
    fn key(&self) -> Key {
        feedback_key(&self.id)
    }
    fn copy_key(&self) -> Key {
        patient_feedback_key(&self.patient, &self.id)
    }
    fn to_item(&self, copy: bool) -> Item {
        let key = if copy { self.copy_key() } else { self.key() };
        let mut item = Item::new(key)
            .with(attr::ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::CATEGORY, self.category.as_str())
            .with(attr::CREATED_AT, self.created_at)
            .with(attr::TEXT, self.sealed_text.clone());
        if !copy {
            item.set(GSI1_PK, FEEDBACK_INDEX);
            item.set(GSI1_SK, feedback_index_sort(self.created_at, &self.id));
        }
        if let Some(r) = self.rating {
            item.set(attr::RATING, i64::from(r.get()));
        }
        if let Some(a) = &self.appointment {
            item.set(attr::APPOINTMENT_ID, a.as_str());
        }
        if let Some(r) = &self.resolution {
            item.set(attr::RESOLVED_AT, r.at);
            item.set(attr::RESOLVED_BY, r.by.as_str());
            item.set(attr::RESOLUTION, r.sealed_note.clone());
        }
        if let Some(slot) = self.quota_slot {
            item.set(attr::QUOTA_SLOT, i64::from(slot));
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        let resolution = match item.get(attr::RESOLVED_AT) {
            None => None,
            Some(_) => Some(Resolution {
                at: n(item, attr::RESOLVED_AT)?,
                by: parsed(item, attr::RESOLVED_BY, Subject::parse)?,
                sealed_note: bytes(item, attr::RESOLUTION)?,
            }),
        };
        Ok(Feedback {
            id: parsed(item, attr::ID, FeedbackId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            category: parsed(item, attr::CATEGORY, Category::parse)?,
            rating: match item.get(attr::RATING) {
                None => None,
                Some(v) => Some(
                    v.as_n()
                        .and_then(Rating::new)
                        .ok_or_else(|| corrupt("rating"))?,
                ),
            },
            appointment: match item.get(attr::APPOINTMENT_ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::APPOINTMENT_ID, AppointmentId::parse)?),
            },
            created_at: n(item, attr::CREATED_AT)?,
            sealed_text: bytes(item, attr::TEXT)?,
            resolution,
            quota_slot: match item.get(attr::QUOTA_SLOT) {
                None => None,
                Some(v) => Some(
                    v.as_n()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| corrupt(attr::QUOTA_SLOT))?,
                ),
            },
        })
    }
}
