//! Questionnaires: a practice's forms (sections of questions of a few kinds), versioned by the
//! SHA-256 of their canonical definition; answers checked against the version they were given on;
//! the public-domain screening instruments PHQ-9 and GAD-7 with their published scoring and
//! severity bands. Pure: definitions, answers and scores in, verdicts out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::consent::DocumentId as FormId;

/// Limits: questions per form, characters of a text answer, bytes of all answers together.
pub const MAX_QUESTIONS: usize = 100;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_SHORT_TEXT: usize = 500;
pub const MAX_LONG_TEXT: usize = 5_000;
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
const MAX_LABEL: usize = 500;

/// What a question asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Kind {
    // Variants without fields are written with braces so that a field given to them is refused.
    ShortText {},
    LongText {},
    SingleChoice {
        options: Vec<String>,
    },
    MultipleChoice {
        options: Vec<String>,
    },
    YesNo {},
    Date {},
    Number {
        min: i64,
        max: i64,
    },
    /// A whole number from `min` to `max`, with words for some points (`0: "Not at all"`).
    Scale {
        min: i64,
        max: i64,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        labels: BTreeMap<String, String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// Unique in the form: `a-z0-9-`, 1 to 40.
    pub id: String,
    pub text: String,
    #[serde(flatten)]
    pub kind: Kind,
    #[serde(default)]
    pub required: bool,
}

// By hand: serde's `flatten` cannot refuse unknown fields, and a definition with a misspelt field
// must not be taken as another question than the one meant.
impl<'de> Deserialize<'de> for Question {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut map = serde_json::Map::<String, Value>::deserialize(d)?;
        let mut text_of = |name: &str| match map.remove(name) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(D::Error::custom(format!(
                "a question has a text field {name}"
            ))),
        };
        let id = text_of("id")?;
        let text = text_of("text")?;
        let required = match map.remove("required") {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(D::Error::custom("required is true or false")),
        };
        let kind: Kind = serde_json::from_value(Value::Object(map)).map_err(D::Error::custom)?;
        Ok(Question {
            id,
            text,
            kind,
            required,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Section {
    pub title: String,
    pub questions: Vec<Question>,
}

/// A severity band of a score: `from..=to` is called `label`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Band {
    pub from: i64,
    pub to: i64,
    pub label: String,
}

/// A score: the sum of the scale answers of `questions`, named by the band it falls in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scoring {
    pub questions: Vec<String>,
    pub bands: Vec<Band>,
}

/// A form's definition (what a version's hash is taken of).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Form {
    pub title: String,
    /// A sentence shown before the questions (e.g. "Over the last 2 weeks, how often...").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub intro: String,
    pub sections: Vec<Section>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring: Option<Scoring>,
    /// Answers a clinician must see at once, whatever the score (PHQ-9's item 9).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alerts: Vec<Alert>,
}

/// An answer of `question` of at least `at_least` raises `label` to the care team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Alert {
    pub question: String,
    pub at_least: i64,
    pub label: String,
}

/// Why a definition or answers are refused; answers' faults name the question.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error("The form's definition is not valid: {0}.")]
    InvalidDefinition(String),
    #[error("Question {0}: there is no such question in this version of the form.")]
    UnknownQuestion(String),
    #[error("Question {0}: {1}.")]
    InvalidAnswer(String, &'static str),
    #[error("Question {0} needs an answer.")]
    Missing(String),
    #[error("The answers are larger than 64 KB.")]
    TooLarge,
    #[error(
        "The practice changed this form since you opened it: reload it (your answers are kept where they still fit)."
    )]
    VersionChanged,
}

impl FormError {
    /// The question an answer's fault is about.
    pub fn question(&self) -> Option<&str> {
        match self {
            FormError::UnknownQuestion(q)
            | FormError::InvalidAnswer(q, _)
            | FormError::Missing(q) => Some(q),
            _ => None,
        }
    }
}

fn slug_ok(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn text_ok(s: &str) -> bool {
    !s.trim().is_empty()
        && s.chars().count() <= MAX_LABEL
        && !s
            .chars()
            .any(|c| c.is_control() || crate::consent::is_invisible(c))
}

/// The largest magnitude of a number's or scale's bounds.
pub const MAX_BOUND: i64 = 1_000_000;

impl Form {
    /// Every question, in order.
    pub fn questions(&self) -> impl Iterator<Item = &Question> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }

    /// Checks a definition: titles and texts, unique question ids, sound options and bounds, and
    /// scoring over scale questions with bands that cover its range without gaps.
    pub fn check(&self) -> Result<(), FormError> {
        let bad = |why: &str| Err(FormError::InvalidDefinition(why.into()));
        if !text_ok(&self.title)
            || self.intro.chars().count() > 2_000
            || self
                .intro
                .chars()
                .any(|c| (c.is_control() && c != '\n') || crate::consent::is_invisible(c))
        {
            return bad("a title is 1 to 500 characters, an intro at most 2000");
        }
        let count = self.questions().count();
        if self.sections.is_empty() || count == 0 || count > MAX_QUESTIONS {
            return bad("a form has 1 to 100 questions in its sections");
        }
        let mut ids = BTreeSet::new();
        for section in &self.sections {
            if !text_ok(&section.title) {
                return bad("a section title is 1 to 500 characters");
            }
            for q in &section.questions {
                if !slug_ok(&q.id) || !ids.insert(q.id.as_str()) {
                    return bad("question ids are unique, 1 to 40 of a-z, 0-9 and -");
                }
                if !text_ok(&q.text) {
                    return bad("a question's text is 1 to 500 characters");
                }
                match &q.kind {
                    Kind::SingleChoice { options } | Kind::MultipleChoice { options } => {
                        let distinct: BTreeSet<_> = options.iter().collect();
                        if options.len() < 2
                            || options.len() > MAX_OPTIONS
                            || distinct.len() != options.len()
                            || !options.iter().all(|o| text_ok(o))
                        {
                            return bad("a choice has 2 to 20 distinct options");
                        }
                    }
                    Kind::Number { min, max } | Kind::Scale { min, max, .. }
                        if min >= max
                            || !(-MAX_BOUND..=MAX_BOUND).contains(min)
                            || !(-MAX_BOUND..=MAX_BOUND).contains(max) =>
                    {
                        return bad(
                            "a number's or scale's min is below its max, both within ±1000000",
                        );
                    }
                    Kind::Scale { min, max, .. } if max - min > 100 => {
                        return bad("a scale has at most 101 points");
                    }
                    Kind::Scale { min, max, labels } => {
                        let ok = labels.iter().all(|(point, words)| {
                            point
                                .parse::<i64>()
                                .is_ok_and(|p| (*min..=*max).contains(&p))
                                && text_ok(words)
                        });
                        if !ok {
                            return bad("a scale's labels name its points");
                        }
                    }
                    _ => {}
                }
            }
        }
        for alert in &self.alerts {
            let numeric = self.questions().any(|q| {
                q.id == alert.question && matches!(q.kind, Kind::Scale { .. } | Kind::Number { .. })
            });
            if !numeric || !text_ok(&alert.label) {
                return bad("an alert names a scale or number question of the form, with a label");
            }
        }
        if let Some(scoring) = &self.scoring {
            let (mut low, mut high) = (0i64, 0i64);
            for id in &scoring.questions {
                match self.questions().find(|q| &q.id == id).map(|q| &q.kind) {
                    Some(Kind::Scale { min, max, .. }) => {
                        low += min;
                        high += max;
                    }
                    _ => return bad("scoring sums scale questions of the form"),
                }
            }
            let mut next = low;
            for band in &scoring.bands {
                if band.from != next || band.to < band.from || !text_ok(&band.label) {
                    return bad("score bands cover the score's range in order, without gaps");
                }
                next = band.to + 1;
            }
            if scoring.questions.is_empty() || next != high + 1 {
                return bad("score bands cover the score's range in order, without gaps");
            }
        }
        Ok(())
    }

    /// The version of this definition: the hex SHA-256 of its canonical JSON (serde's field order,
    /// which is fixed).
    pub fn version_hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        crate::hash::sha256(&[&json])
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Checks answers (`{questionId: value}`) against this version. With `complete`, every
    /// required question must be answered (a submission); without, only what is there is checked
    /// (a draft).
    pub fn check_answers(
        &self,
        answers: &BTreeMap<String, Value>,
        complete: bool,
    ) -> Result<(), FormError> {
        if serde_json::to_vec(answers).map_or(usize::MAX, |b| b.len()) > MAX_ANSWER_BYTES {
            return Err(FormError::TooLarge);
        }
        let by_id: BTreeMap<&str, &Question> =
            self.questions().map(|q| (q.id.as_str(), q)).collect();
        for (id, value) in answers {
            let q = by_id
                .get(id.as_str())
                .ok_or_else(|| FormError::UnknownQuestion(id.chars().take(40).collect()))?;
            check_answer(q, value).map_err(|why| FormError::InvalidAnswer(id.clone(), why))?;
        }
        if complete
            && let Some(q) = self
                .questions()
                .find(|q| q.required && answers.get(&q.id).is_none_or(Value::is_null))
        {
            return Err(FormError::Missing(q.id.clone()));
        }
        Ok(())
    }

    /// The alerts the answers raise (their labels).
    pub fn alerts_of(&self, answers: &BTreeMap<String, Value>) -> Vec<String> {
        self.alerts
            .iter()
            .filter(|a| {
                answers
                    .get(&a.question)
                    .and_then(Value::as_i64)
                    .is_some_and(|n| n >= a.at_least)
            })
            .map(|a| a.label.clone())
            .collect()
    }

    /// The score of complete answers, and the band it falls in; None without scoring or when a
    /// scored question is unanswered.
    pub fn score(&self, answers: &BTreeMap<String, Value>) -> Option<(i64, String)> {
        let scoring = self.scoring.as_ref()?;
        let mut total = 0;
        for id in &scoring.questions {
            total += answers.get(id)?.as_i64()?;
        }
        let band = scoring
            .bands
            .iter()
            .find(|b| (b.from..=b.to).contains(&total))?;
        Some((total, band.label.clone()))
    }
}

fn check_answer(q: &Question, value: &Value) -> Result<(), &'static str> {
    if value.is_null() {
        return Ok(());
    }
    let text = |max: usize| match value.as_str() {
        Some(s)
            if s.chars().count() <= max
                && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') =>
        {
            Ok(())
        }
        Some(_) => Err("the text is too long or has control characters"),
        None => Err("the answer is text"),
    };
    match &q.kind {
        Kind::ShortText {} => text(MAX_SHORT_TEXT),
        Kind::LongText {} => text(MAX_LONG_TEXT),
        Kind::YesNo {} => value
            .as_bool()
            .map(|_| ())
            .ok_or("the answer is true or false"),
        Kind::Date {} => match value.as_str() {
            Some(s) if s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok() => Ok(()),
            _ => Err("the answer is a date, YYYY-MM-DD"),
        },
        Kind::SingleChoice { options } => match value.as_str() {
            Some(s) if options.iter().any(|o| o == s) => Ok(()),
            _ => Err("the answer is one of the options"),
        },
        Kind::MultipleChoice { options } => {
            let chosen = value.as_array().ok_or("the answer is a list of options")?;
            let mut seen = BTreeSet::new();
            for c in chosen {
                match c.as_str() {
                    Some(s) if options.iter().any(|o| o == s) && seen.insert(s) => {}
                    _ => return Err("each choice is a distinct one of the options"),
                }
            }
            Ok(())
        }
        Kind::Number { min, max } | Kind::Scale { min, max, .. } => match value.as_i64() {
            Some(n) if (*min..=*max).contains(&n) => Ok(()),
            Some(_) => Err("the number is out of range"),
            None => Err("the answer is a whole number"),
        },
    }
}

/// The nine PHQ-9 items (Kroenke, Spitzer, Williams; developed with an educational grant from
/// Pfizer, no permission required to reproduce), each 0-3, summed 0-27.
const PHQ9_ITEMS: [&str; 9] = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed; or the opposite, being so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
];

/// The seven GAD-7 items (Spitzer, Kroenke, Williams, Löwe), each 0-3, summed 0-21.
const GAD7_ITEMS: [&str; 7] = [
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
];

fn frequency_scale() -> Kind {
    Kind::Scale {
        min: 0,
        max: 3,
        labels: BTreeMap::from([
            ("0".into(), "Not at all".into()),
            ("1".into(), "Several days".into()),
            ("2".into(), "More than half the days".into()),
            ("3".into(), "Nearly every day".into()),
        ]),
    }
}

fn instrument(
    title: &str,
    prefix: &str,
    items: &[&str],
    bands: &[(i64, i64, &str)],
    alerts: Vec<Alert>,
) -> Form {
    let questions: Vec<Question> = items
        .iter()
        .enumerate()
        .map(|(i, text)| Question {
            id: format!("{prefix}-{}", i + 1),
            text: (*text).into(),
            kind: frequency_scale(),
            required: true,
        })
        .collect();
    Form {
        title: title.into(),
        intro: "Over the last 2 weeks, how often have you been bothered by any of the following problems?".into(),
        scoring: Some(Scoring {
            questions: questions.iter().map(|q| q.id.clone()).collect(),
            bands: bands
                .iter()
                .map(|(from, to, label)| Band {
                    from: *from,
                    to: *to,
                    label: (*label).into(),
                })
                .collect(),
        }),
        sections: vec![Section {
            title: title.into(),
            questions,
        }],
        alerts,
    }
}

/// PHQ-9 with its published severity bands.
pub fn phq9() -> Form {
    instrument(
        "PHQ-9",
        "phq",
        &PHQ9_ITEMS,
        &[
            (0, 4, "minimal"),
            (5, 9, "mild"),
            (10, 14, "moderate"),
            (15, 19, "moderately severe"),
            (20, 27, "severe"),
        ],
        // Item 9 asks about thoughts of death or self-harm: any answer but "not at all" is for
        // the clinician to see at once.
        vec![Alert {
            question: "phq-9".into(),
            at_least: 1,
            label: "Item 9 (thoughts of being better off dead or of self-harm) answered above \"not at all\"".into(),
        }],
    )
}

/// GAD-7 with its published severity bands.
pub fn gad7() -> Form {
    instrument(
        "GAD-7",
        "gad",
        &GAD7_ITEMS,
        &[
            (0, 4, "minimal"),
            (5, 9, "mild"),
            (10, 14, "moderate"),
            (15, 21, "severe"),
        ],
        Vec::new(),
    )
}

/// A general intake questionnaire a practice starts from (its own replaces it).
pub fn intake() -> Form {
    let q = |id: &str, text: &str, kind: Kind, required: bool| Question {
        id: id.into(),
        text: text.into(),
        kind,
        required,
    };
    Form {
        title: "Intake questionnaire".into(),
        intro: String::new(),
        scoring: None,
        alerts: Vec::new(),
        sections: vec![
            Section {
                title: "About your visit".into(),
                questions: vec![
                    q(
                        "concern",
                        "What brings you to the practice?",
                        Kind::LongText {},
                        true,
                    ),
                    q(
                        "seen-before",
                        "Have you seen a therapist or counsellor before?",
                        Kind::YesNo {},
                        true,
                    ),
                    q(
                        "contact",
                        "How should we reach you?",
                        Kind::SingleChoice {
                            options: vec!["Phone".into(), "Email".into(), "Text".into()],
                        },
                        false,
                    ),
                ],
            },
            Section {
                title: "Your health".into(),
                questions: vec![
                    q(
                        "medications",
                        "Medications you take",
                        Kind::LongText {},
                        false,
                    ),
                    q(
                        "sleep",
                        "Hours of sleep on a usual night",
                        Kind::Number { min: 0, max: 24 },
                        false,
                    ),
                    q(
                        "last-visit",
                        "Date of your last physical",
                        Kind::Date {},
                        false,
                    ),
                    q(
                        "mood",
                        "Your mood this week",
                        Kind::Scale {
                            min: 1,
                            max: 10,
                            labels: BTreeMap::from([
                                ("1".into(), "Very low".into()),
                                ("10".into(), "Very good".into()),
                            ]),
                        },
                        false,
                    ),
                    q(
                        "support",
                        "Who supports you?",
                        Kind::MultipleChoice {
                            options: vec![
                                "Family".into(),
                                "Friends".into(),
                                "Partner".into(),
                                "Community".into(),
                            ],
                        },
                        false,
                    ),
                    q(
                        "emergency",
                        "Emergency contact (name and phone)",
                        Kind::ShortText {},
                        false,
                    ),
                ],
            },
        ],
    }
}

/// The forms a practice starts with: id and definition.
pub fn starter_forms() -> [(&'static str, Form); 3] {
    [("intake", intake()), ("phq-9", phq9()), ("gad-7", gad7())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answers(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_starters_are_sound_and_stable() {
        for (id, form) in starter_forms() {
            assert!(crate::consent::DocumentId::parse(id).is_some());
            form.check().unwrap_or_else(|e| panic!("{id}: {e}"));
            // The hash is of the canonical definition: a round trip through JSON keeps it.
            let back: Form = serde_json::from_value(serde_json::to_value(&form).unwrap()).unwrap();
            assert_eq!(back.version_hash(), form.version_hash());
        }
        assert_eq!(phq9().questions().count(), 9);
        assert_eq!(gad7().questions().count(), 7);
    }

    #[test]
    fn phq9_and_gad7_score_by_their_published_bands() {
        let phq = phq9();
        let all = |n: i64, count: usize, prefix: &str| {
            answers(Value::Object(
                (1..=count)
                    .map(|i| (format!("{prefix}-{i}"), json!(n)))
                    .collect(),
            ))
        };
        assert_eq!(phq.score(&all(0, 9, "phq")), Some((0, "minimal".into())));
        assert_eq!(phq.score(&all(1, 9, "phq")), Some((9, "mild".into())));
        assert_eq!(
            phq.score(&all(2, 9, "phq")),
            Some((18, "moderately severe".into()))
        );
        assert_eq!(phq.score(&all(3, 9, "phq")), Some((27, "severe".into())));
        let mut ten = all(1, 9, "phq");
        ten.insert("phq-1".into(), json!(2));
        assert_eq!(phq.score(&ten), Some((10, "moderate".into())));
        let gad = gad7();
        assert_eq!(gad.score(&all(2, 7, "gad")), Some((14, "moderate".into())));
        assert_eq!(gad.score(&all(3, 7, "gad")), Some((21, "severe".into())));
        let mut partial = all(1, 9, "phq");
        partial.remove("phq-9");
        assert_eq!(phq.score(&partial), None);
        // Item 9 above "not at all" raises the alert, whatever the total.
        assert_eq!(phq.alerts_of(&all(0, 9, "phq")), Vec::<String>::new());
        let mut item9 = all(0, 9, "phq");
        item9.insert("phq-9".into(), json!(1));
        assert_eq!(phq.alerts_of(&item9).len(), 1);
        assert_eq!(phq.score(&item9), Some((1, "minimal".into())));
    }

    #[test]
    fn answers_are_checked_against_the_version() {
        let form = intake();
        let good = answers(
            json!({"concern": "Sleep", "seen-before": false, "contact": "Email", "sleep": 7, "last-visit": "2026-03-01", "mood": 6, "support": ["Family", "Friends"]}),
        );
        assert_eq!(form.check_answers(&good, true), Ok(()));
        for (bad, expected) in [
            (
                json!({"nope": 1}),
                FormError::UnknownQuestion("nope".into()),
            ),
            (
                json!({"seen-before": "yes"}),
                FormError::InvalidAnswer("seen-before".into(), "the answer is true or false"),
            ),
            (
                json!({"sleep": 25}),
                FormError::InvalidAnswer("sleep".into(), "the number is out of range"),
            ),
            (
                json!({"sleep": 7.5}),
                FormError::InvalidAnswer("sleep".into(), "the answer is a whole number"),
            ),
            (
                json!({"contact": "Pigeon"}),
                FormError::InvalidAnswer("contact".into(), "the answer is one of the options"),
            ),
            (
                json!({"support": ["Family", "Family"]}),
                FormError::InvalidAnswer(
                    "support".into(),
                    "each choice is a distinct one of the options",
                ),
            ),
            (
                json!({"last-visit": "2026-02-30"}),
                FormError::InvalidAnswer("last-visit".into(), "the answer is a date, YYYY-MM-DD"),
            ),
            (
                json!({"emergency": "x".repeat(501)}),
                FormError::InvalidAnswer(
                    "emergency".into(),
                    "the text is too long or has control characters",
                ),
            ),
        ] {
            assert_eq!(
                form.check_answers(&answers(bad.clone()), false),
                Err(expected),
                "{bad}"
            );
        }
        // A draft may be partial; a submission answers every required question.
        let partial = answers(json!({"concern": "Sleep"}));
        assert_eq!(form.check_answers(&partial, false), Ok(()));
        assert_eq!(
            form.check_answers(&partial, true),
            Err(FormError::Missing("seen-before".into()))
        );
        let huge = answers(json!({"concern": "x".repeat(70_000)}));
        assert_eq!(form.check_answers(&huge, false), Err(FormError::TooLarge));
    }

    #[test]
    fn definitions_are_checked() {
        let mut form = phq9();
        form.scoring.as_mut().unwrap().bands.pop();
        assert!(matches!(form.check(), Err(FormError::InvalidDefinition(_))));
        let mut form = intake();
        form.sections[0].questions[1].id = "concern".into();
        assert!(form.check().is_err());
        let mut form = intake();
        form.sections[0].questions[0].kind = Kind::Number { min: 5, max: 5 };
        assert!(form.check().is_err());
        let mut form = intake();
        form.sections.clear();
        assert!(form.check().is_err());
        let mut form = intake();
        form.sections[0].questions[0].kind = Kind::Scale {
            min: i64::MIN,
            max: i64::MAX,
            labels: BTreeMap::new(),
        };
        assert!(form.check().is_err());
        let mut form = intake();
        form.sections[0].questions[0].kind = Kind::Scale {
            min: 0,
            max: 3,
            labels: BTreeMap::from([("9".into(), "x".into())]),
        };
        assert!(form.check().is_err());
        let mut form = intake();
        form.title = "Intake\u{202E}".into();
        assert!(form.check().is_err());
        // JSON a practice sends: unknown fields and kinds are refused when parsed.
        assert!(
            serde_json::from_value::<Form>(json!({"title": "x", "sections": [], "extra": 1}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<Question>(json!({"id": "a", "text": "b", "kind": "essay"}))
                .is_err()
        );
        for misspelt in [
            json!({"id": "a", "text": "b", "kind": "yes_no", "requird": true}),
            json!({"id": "a", "text": "b", "kind": "number", "min": 0, "max": 5, "step": 1}),
        ] {
            assert!(
                serde_json::from_value::<Question>(misspelt.clone()).is_err(),
                "{misspelt}"
            );
        }
        let q: Question = serde_json::from_value(
            json!({"id": "a", "text": "b", "kind": "scale", "min": 0, "max": 3, "required": true}),
        )
        .unwrap();
        assert_eq!(
            serde_json::from_value::<Question>(serde_json::to_value(&q).unwrap()).unwrap(),
            q
        );
    }
}
