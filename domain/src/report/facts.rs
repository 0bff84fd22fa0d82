//! The PHI-free facts a report is computed from: ids, times, amounts, codes and audit entries,
//! never a sealed field.

use super::*;

/// One audit entry, as the report sees it.
#[derive(Clone, Debug)]
///
/// A month holds hundreds of thousands of these, and few distinct values: the strings are shared
/// (see [`Interner`]), so an entry costs its own few words, not eight allocations.
pub struct EntryFact {
    pub at: i64,
    /// The subject, or `system:<job>`.
    pub actor: Arc<str>,
    pub actor_name: Option<Arc<str>>,
    pub roles: Arc<[Arc<str>]>,
    pub action: Arc<str>,
    /// What kind of thing the entry is about (`appointment`, `message.reminder`, …).
    pub entity: Arc<str>,
    pub outcome: Arc<str>,
    pub entity_id: Arc<str>,
    pub patients: Arc<[Arc<str>]>,
    /// How many requests the entry stands for: 1, or an aggregate's count of refusals.
    pub count: usize,
}

/// Hands out one shared copy of each distinct string and list of strings.
#[derive(Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
    lists: HashSet<Arc<[Arc<str>]>>,
}

impl Interner {
    pub fn str(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        self.strings.insert(shared.clone());
        shared
    }

    pub fn list<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> Arc<[Arc<str>]> {
        let items: Vec<Arc<str>> = texts.into_iter().map(|t| self.str(t)).collect();
        if let Some(shared) = self.lists.get(items.as_slice()) {
            return shared.clone();
        }
        let shared: Arc<[Arc<str>]> = items.into();
        self.lists.insert(shared.clone());
        shared
    }
}

impl EntryFact {
    /// A person acting for the practice (staff, a provider, an admin), not a patient or a job.
    pub fn is_workforce(&self) -> bool {
        !self.roles.is_empty() && self.roles.iter().any(|r| &**r != "patient")
    }
    pub fn who(&self) -> String {
        match &self.actor_name {
            Some(name) => format!("{name} ({})", self.actor),
            None => self.actor.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PaymentFact {
    pub created_at: i64,
    pub currency: String,
    pub status: PaymentStatus,
    /// When the success event was created, for a payment that succeeded.
    pub succeeded_at: Option<i64>,
    /// Whether an attempt failed (the latest failure's codes).
    pub failure: Option<(String, Option<String>)>,
    pub checks: Option<CardChecks>,
    /// What was refunded in the end (failed refunds back out).
    pub refunded: i64,
    /// Refunds that failed after being made: (first seen, amount).
    pub failed_refunds: Vec<(i64, i64)>,
    pub disputes: Vec<Dispute>,
    /// A booking's deposit (amount, minor units), not a payment of what was owed.
    pub deposit: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct AppointmentFact {
    pub id: String,
    pub provider: String,
    pub created_at: i64,
    pub start: i64,
    pub end: i64,
    pub cancelled: bool,
    pub from_hold: Option<String>,
    pub patient: String,
    pub service: String,
    /// For a visit whose service asks for forms: whether every one was submitted before it began.
    pub forms_ready: Option<bool>,
    /// Marked a no-show.
    pub no_show: bool,
    /// The late-cancellation window of the policy it was booked under, in seconds.
    pub late_window: Option<i64>,
    /// Cancelled by the practice (not the patient's late cancellation).
    pub by_practice: bool,
    /// Held online (a video visit).
    pub online: bool,
}

/// A fee the cancellation policy charged, and what became of it by the time of the report.
#[derive(Clone, Debug)]
pub struct FeeFact {
    pub kind: crate::fees::FeeKind,
    pub currency: String,
    pub created_at: i64,
    pub amount: i64,
    /// What is left of it after every adjustment (its waiver included) by the period's end.
    pub net: i64,
    pub appointment: Option<String>,
    /// Waived: when, how much and why.
    pub waived: Option<(i64, i64, crate::fees::WaiverReason)>,
    /// Paid (the ledger's payments settle its oldest charges first).
    pub collected: i64,
}

#[derive(Clone, Debug)]
pub struct ProviderFact {
    pub id: String,
    pub name: String,
    /// The provider's own login, if any: their reads are held to their own patients.
    pub subject: Option<String>,
    pub cancel_cutoff: i64,
    /// Working time per period (current, previous), in seconds.
    pub working: (i64, i64),
}

/// One charge of a ledger, and the ledger's payments, for the ageing of what is owed.
#[derive(Clone, Debug)]
pub struct LedgerFact {
    pub currency: String,
    /// (created at, net total) of each charge.
    pub charges: Vec<(i64, i64)>,
    /// (succeeded at, amount − refunded) of each payment that succeeded.
    pub paid: Vec<(i64, i64)>,
}

#[derive(Clone, Debug)]
pub struct FeedbackFact {
    pub category: Category,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// The audit log's state when the report was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStatus {
    /// The first checkpoint signed after the period ended (it covers the period), else the latest.
    pub checkpoint_size: Option<u64>,
    pub checkpoint_signed_at: Option<i64>,
    pub covers_period: bool,
    /// The verification run by the job: `ok`, or what it found.
    pub verification: String,
}

/// Everything a report is computed from.
#[derive(Clone, Debug)]
pub struct Facts {
    pub practice: String,
    pub zone: TimeZone,
    pub entries: Vec<EntryFact>,
    pub payments: Vec<PaymentFact>,
    pub appointments: BTreeMap<String, AppointmentFact>,
    pub providers: Vec<ProviderFact>,
    /// Per provider id, the working intervals of every day of both periods.
    pub working: BTreeMap<String, Vec<(i64, i64)>>,
    pub ledgers: Vec<LedgerFact>,
    /// Every fee on the ledgers read.
    pub fees: Vec<FeeFact>,
    pub feedback: Vec<FeedbackFact>,
    /// Refusals counted, not stored: per name (`shared::counters`), this period and the one before.
    pub counters: BTreeMap<String, [i64; 2]>,
    /// Patients with at least one appointment: (patient, provider) pairs.
    pub patient_providers: BTreeSet<(String, String)>,
    pub log: LogStatus,
}
