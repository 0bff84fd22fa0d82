//! Feedback and complaints: what a patient tells the practice, and its resolution. The text and the
//! resolution note are patient data (sealed at rest, never in the report); the category, rating,
//! times and ids are what the compliance report counts. Stored by `shared::store::codec::feedback`.

use serde::{Deserialize, Serialize};

use crate::access::Subject;
use crate::ids::{AppointmentId, FeedbackId, PatientId};
use crate::instant::render_utc;
use crate::sensitive::Sensitive;

/// Longest text or resolution note, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;

/// What the feedback is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Billing,
    Scheduling,
    Privacy,
    Care,
    Website,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Billing,
        Category::Scheduling,
        Category::Privacy,
        Category::Care,
        Category::Website,
        Category::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Billing => "billing",
            Category::Scheduling => "scheduling",
            Category::Privacy => "privacy",
            Category::Care => "care",
            Category::Website => "website",
            Category::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A rating from 1 to 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Rating(u8);

impl Rating {
    pub fn new(n: i64) -> Option<Rating> {
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=5).contains(n))
            .map(Rating)
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// Free text a person wrote: 1 to [`MAX_TEXT_CHARS`] characters, no control characters except
/// line breaks and tabs, not only white space.
pub fn valid_text(text: &str) -> bool {
    let n = text.chars().count();
    (1..=MAX_TEXT_CHARS).contains(&n)
        && !text.trim().is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// The resolution of a feedback item.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub at: i64,
    pub by: Subject,
    /// The note, sealed.
    pub sealed_note: Vec<u8>,
}

/// A stored feedback item (its text still sealed).
#[derive(Clone, Debug)]
pub struct Feedback {
    pub id: FeedbackId,
    pub patient: PatientId,
    pub category: Category,
    pub rating: Option<Rating>,
    pub appointment: Option<AppointmentId>,
    pub created_at: i64,
    pub sealed_text: Vec<u8>,
    pub resolution: Option<Resolution>,
    /// The patient's allowance slot it claimed (sent by the patient themself).
    pub quota_slot: Option<u16>,
}

impl Feedback {
    pub fn status(&self) -> &'static str {
        if self.resolution.is_some() {
            "resolved"
        } else {
            "open"
        }
    }

    /// The JSON view, with the text and note opened for a reader allowed to see them.
    pub fn view(
        &self,
        text: &Sensitive<String>,
        note: Option<&Sensitive<String>>,
    ) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "category": self.category,
            "rating": self.rating,
            "appointmentId": self.appointment,
            "text": text,
            "status": self.status(),
            "createdAt": render_utc(self.created_at),
            "resolvedAt": self.resolution.as_ref().map(|r| render_utc(r.at)),
            "resolutionNote": note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_and_free_of_control_characters_but_line_breaks() {
        assert!(valid_text("The receptionist was kind.\nThank you."));
        assert!(valid_text(&"é".repeat(MAX_TEXT_CHARS)));
        assert!(!valid_text(&"é".repeat(MAX_TEXT_CHARS + 1)));
        assert!(!valid_text(""));
        assert!(!valid_text(" \n "));
        assert!(!valid_text("bell\u{7}"));
        assert!(!valid_text("escape\u{1b}[31m"));
    }

    #[test]
    fn ratings_are_one_to_five_and_categories_round_trip() {
        assert_eq!(Rating::new(1).map(Rating::get), Some(1));
        assert_eq!(Rating::new(5).map(Rating::get), Some(5));
        for n in [0, 6, -1, 256, i64::MAX] {
            assert!(Rating::new(n).is_none(), "{n}");
        }
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert!(Category::parse("Billing").is_none());
    }
}
