//! The key layout: every partition and sort key of the single table, built here and nowhere else.
//!
//! Booking:
//! - practice `PRACTICE` / `SETTINGS`
//! - provider `PROVIDER#<id>` / `PROFILE` (GSI `PROVIDERS`), service `SERVICE#<id>` / `PROFILE` (GSI `SERVICES`)
//! - slot lock `LOCK#<provider>` / `<unix seconds, 12 digits>`: one per five-minute unit of occupied
//!   time, `owner` = appointment or hold id, `expires_at` for holds
//! - appointment `APPT#<id>` / `APPT` (an online visit's room beside it, `/ VISIT`) (GSI `CAL#<provider>` / `<start>#<id>`), and a copy of its
//!   plaintext fields at `PATIENT#<patient>` / `APPT#<id>` for the patient's list
//! - series `SERIES#<id>` / `SERIES` (GSI `SERIES#PENDING` / `<deadline>#<id>` while a change is
//!   reserved but not committed, for the sweep that gives such reservations back), and a copy at
//!   `PATIENT#<patient>` / `SERIES#<id>` for the patient's list; its occurrences are appointments
//! - calendar feed `FEED#<practice or provider id>` / `CURRENT` (its link's hash and settings), and
//!   `FEEDTOKEN#<sha256 of the link's token>` / `FEED` (what a fetch finds), with the link's
//!   fetches of an hour at `RATE#<hour>` beside it
//! - a provider's other calendars (busy time) `BUSYCAL#<provider>` / `CAL#<id>` (the sealed ICS
//!   address, its label and host, the last fetch's outcome and blocks), and `BUSYCAL#<provider>` /
//!   `SUMMARY` (GSI `BUSYCALS` / `<provider>`: how many, and when they last changed), which the
//!   sweep lists; their busy time is lock units owned by [`BUSY_OWNER`]
//! - consent document `CONSENTDOC#<document>` / `CURRENT` (GSI `CONSENTDOCS` / `<document>`: its
//!   current version), and each version ever published `CONSENTDOC#<document>` / `V#<sha256>`
//! - a patient's consent to a document `PATIENT#<id>` / `CONSENT#<document>` (signed or withdrawn,
//!   which version, which signature), and every signature or withdrawal `PATIENT#<id>` /
//!   `CONSENTSIG#<signature id>` (the document's version, the typed name sealed)
//! - form `FORM#<form>` / `CURRENT` (GSI `FORMS` / `<form>`: its current version) and each version
//!   `FORM#<form>` / `V#<sha256>`; a patient's draft `PATIENT#<id>` / `FORMDRAFT#<form>` and each
//!   submission `PATIENT#<id>` / `FORMSUB#<form>#<at, 12 digits>#<id>` (answers sealed)
//! - hold `HOLD#<id>` / `HOLD` (GSI `HOLDS` / `<expiry>#<id>` for the expiry sweep)
//! - waitlist entry `WAITLIST#<provider>` / `<id>` (GSI `PATIENT#<patient>#WAITLIST`)
//! - patient `PATIENT#<id>` / `PROFILE` (GSI `EMAIL#<blind index>` / `PATIENT#<id>`)
//! - a patient's search terms `PATIENT#<id>` / `FIND#<blind index>` (GSI `FIND#<blind index>` /
//!   `PATIENT#<id>`): one per term of `domain::search` (name prefixes, phone tail, date of birth),
//!   so staff find a patient by name without the table holding one in plaintext
//! - a patient's allowance slots `PATIENT#<id>` / `QUOTA#<kind>#<nn>`
//! - a patient's open waitlist request `PATIENT#<id>` / `WAITREQ#<provider>#<service>#<from>#<to>`
//!   (`owner` = the entry, `expires_at` = the window's end): one open entry per request
//! - outbox message `MSG#<id>` / `MSG` (GSI `OUTBOX#DUE` / `<due, 12 digits>#<id>` while it waits to
//!   be sent: taken out of the index once sent, withdrawn, skipped or failed)
//! - a patient's notification preferences `PATIENT#<id>` / `NOTIFY`, and the day's message
//!   allowance `PATIENT#<id>` / `NOTIFYCOUNT#<local day>`
//! - feedback `FEEDBACK#<id>` / `FEEDBACK` (GSI `FEEDBACK` / `<created, 12 digits>#<id>`), and the
//!   patient's copy `PATIENT#<patient>` / `FEEDBACK#<id>` (the same attributes, sealed under the
//!   first key)
//!
//! Payments:
//! - a patient's ledger `LEDGER#<patient>`: charges `CHG#<id>` (GSI `CHARGES` /
//!   `<created, 12 digits>#<id>`: which ledgers the report ages), payments `PAY#<id>`, and `LOCK`,
//!   the ledger's version
//! - processor intent → our payment `INTENT#<processor id>` / `INTENT`
//! - a patient's card on file `LEDGER#<patient>` / `CARD`, her processor customer `.../CUSTOMER`;
//!   which patient a processor customer, setup intent or saved card is for (`CUSTOMER#<cus>`,
//!   `SETUP#<seti>`, `PAYMENT_METHOD#<pm>`, the last also what the card is)
//! - a dispute against a payment `DISPUTE#<dp>` / `DISPUTE` (GSI `DISPUTES` / `<dp>`), with its
//!   evidence draft
//! - work left for the sweep's processor calls `FEE_TASKS` / `<charge>`, `DETACH_TASKS` / `<pm>`,
//!   `DEPOSIT_TASKS` / `<appointment>`, `REFUND_TASKS` / `<appointment>`
//! - webhook receipts `WEBHOOK#<source>#<event id>` / `EVENT`
//!
//! Cross-cutting:
//! - audit record `AUDIT#<UTC day>` / `<nanos, 20 digits>#<ulid>` (GSI `AUDIT#<entity>#<id>`)
//! - idempotency record `IDEM#<subject>#<key>` / `IDEM`
//! - a workforce login's standing `STAFF#<subject>` / `ACCOUNT` (disabled: when and by whom), read
//!   with every staff token (see `crate::staff`)
//! - the audit log: its head `AUDITLOG` / `HEAD` (size, frontier, version), leaves
//!   `AUDITLOG#LEAF` / `<index, 20 digits>`, the mark of an integrated entry
//!   `AUDITLOG#IN#<UTC day>` / `<entry sk>`, signed checkpoints `AUDITLOG#CHECKPOINT` /
//!   `<size, 20 digits>#<Unix seconds, 20 digits>`, and each patient's access index
//!   `AUDITLOG#ACCESS#<patient>` / `<entry sk>` (a copy of the PHI-free fields of every entry
//!   that names the patient), and what each witness last cosigned `AUDITLOG#WITNESS` / `<its key
//!   name>`. Every `AUDITLOG` item is the audit function's alone to write.
//! - the blind-index key `KEYRING` / `BLIND#v1` (see `crate::crypto::blind`)
//!
//! [`PARTITIONS`] names every table partition as an IAM `dynamodb:LeadingKeys` pattern: the
//! template grants each function the partitions it writes from that list (checked by
//! `tests/template_policies.rs`), and a key built here in a partition it does not name fails
//! this module's tests.
//! - counters of refusals not stored one by one `COUNTER#<UTC day>` / `<name>#<hour, 2 digits>`

use crate::store::Key;
use domain::consent::DocumentId;
use domain::forms::FormId;
use domain::ids::{
    AppointmentId, CalendarId, ChargeId, FeedbackId, HoldId, OutboxId, PatientId, PaymentId,
    ProviderId, SeriesId, ServiceId, SignatureId, SubmissionId,
};

pub const PROVIDERS_INDEX: &str = "PROVIDERS";
pub const SERVICES_INDEX: &str = "SERVICES";
/// Sort-key prefix of a patient's copies of their appointments.
pub const PATIENT_APPOINTMENT_PREFIX: &str = "APPT#";
/// Sort-key prefixes of a patient's allowance slots, per kind.
pub const QUOTA_APPOINTMENT_PREFIX: &str = "QUOTA#appointment#";
pub const QUOTA_HOLD_PREFIX: &str = "QUOTA#hold#";
pub const QUOTA_WAITLIST_PREFIX: &str = "QUOTA#waitlist#";
pub const QUOTA_FEEDBACK_PREFIX: &str = "QUOTA#feedback#";

pub fn practice_key() -> Key {
    Key::new("PRACTICE", "SETTINGS")
}
pub fn provider_key(id: &ProviderId) -> Key {
    Key::new(format!("PROVIDER#{id}"), "PROFILE")
}
pub fn service_key(id: &ServiceId) -> Key {
    Key::new(format!("SERVICE#{id}"), "PROFILE")
}
pub fn lock_partition(provider: &ProviderId) -> String {
    format!("LOCK#{provider}")
}
pub fn lock_key(provider: &ProviderId, unit: i64) -> Key {
    Key::new(lock_partition(provider), instant_key(unit))
}
pub fn appointment_key(id: &AppointmentId) -> Key {
    Key::new(format!("APPT#{id}"), "APPT")
}
/// An online visit's room, beside its appointment.
pub fn visit_key(id: &AppointmentId) -> Key {
    Key::new(format!("APPT#{id}"), "VISIT")
}
pub fn calendar_partition(provider: &ProviderId) -> String {
    format!("CAL#{provider}")
}
pub fn patient_partition(patient: &PatientId) -> String {
    format!("PATIENT#{patient}")
}
pub fn patient_appointment_key(patient: &PatientId, id: &AppointmentId) -> Key {
    Key::new(patient_partition(patient), format!("APPT#{id}"))
}
pub fn patient_key(patient: &PatientId) -> Key {
    Key::new(patient_partition(patient), "PROFILE")
}
pub fn series_key(id: &SeriesId) -> Key {
    Key::new(format!("SERIES#{id}"), "SERIES")
}
pub const PATIENT_SERIES_PREFIX: &str = "SERIES#";
pub fn patient_series_key(patient: &PatientId, id: &SeriesId) -> Key {
    Key::new(
        patient_partition(patient),
        format!("{PATIENT_SERIES_PREFIX}{id}"),
    )
}
pub const SERIES_PENDING_INDEX: &str = "SERIES#PENDING";
/// A calendar feed's current link and settings: `FEED#<practice or provider id>` / `CURRENT`.
pub fn feed_key(scope: &str) -> Key {
    Key::new(format!("FEED#{scope}"), "CURRENT")
}
/// What a fetch finds by a link's hash; the link's fetches of one hour count beside it.
pub fn feed_token_key(hash: &str) -> Key {
    Key::new(format!("FEEDTOKEN#{hash}"), "FEED")
}
pub fn feed_rate_key(hash: &str, hour: i64) -> Key {
    Key::new(format!("FEEDTOKEN#{hash}"), format!("RATE#{hour}"))
}
pub fn busy_calendar_partition(provider: &ProviderId) -> String {
    format!("BUSYCAL#{provider}")
}
pub const BUSY_CALENDAR_PREFIX: &str = "CAL#";
pub fn busy_calendar_key(provider: &ProviderId, id: &CalendarId) -> Key {
    Key::new(
        busy_calendar_partition(provider),
        format!("{BUSY_CALENDAR_PREFIX}{id}"),
    )
}
pub fn busy_summary_key(provider: &ProviderId) -> Key {
    Key::new(busy_calendar_partition(provider), "SUMMARY")
}
pub const BUSY_CALENDARS_INDEX: &str = "BUSYCALS";
/// The owner of the lock units a provider's other calendars fill (not an appointment or hold id).
pub const BUSY_OWNER: &str = "busy-calendars";
pub fn consent_document_partition(document: &DocumentId) -> String {
    format!("CONSENTDOC#{document}")
}
pub fn consent_document_key(document: &DocumentId) -> Key {
    Key::new(consent_document_partition(document), "CURRENT")
}
pub fn consent_version_key(document: &DocumentId, hash: &str) -> Key {
    Key::new(consent_document_partition(document), format!("V#{hash}"))
}
pub const CONSENT_DOCUMENTS_INDEX: &str = "CONSENTDOCS";
pub const PATIENT_CONSENT_PREFIX: &str = "CONSENT#";
pub fn patient_consent_key(patient: &PatientId, document: &DocumentId) -> Key {
    Key::new(
        patient_partition(patient),
        format!("{PATIENT_CONSENT_PREFIX}{document}"),
    )
}
pub const PATIENT_SIGNATURE_PREFIX: &str = "CONSENTSIG#";
pub fn consent_signature_key(patient: &PatientId, id: &SignatureId) -> Key {
    Key::new(
        patient_partition(patient),
        format!("{PATIENT_SIGNATURE_PREFIX}{id}"),
    )
}
pub fn form_partition(form: &FormId) -> String {
    format!("FORM#{form}")
}
pub fn form_key(form: &FormId) -> Key {
    Key::new(form_partition(form), "CURRENT")
}
pub fn form_version_key(form: &FormId, hash: &str) -> Key {
    Key::new(form_partition(form), format!("V#{hash}"))
}
pub const FORMS_INDEX: &str = "FORMS";
pub fn form_draft_key(patient: &PatientId, form: &FormId) -> Key {
    Key::new(patient_partition(patient), format!("FORMDRAFT#{form}"))
}
pub const PATIENT_SUBMISSION_PREFIX: &str = "FORMSUB#";
pub fn form_submission_key(patient: &PatientId, form: &FormId, at: i64, id: &SubmissionId) -> Key {
    Key::new(
        patient_partition(patient),
        format!("{PATIENT_SUBMISSION_PREFIX}{form}#{}#{id}", instant_key(at)),
    )
}
pub fn hold_key(id: &HoldId) -> Key {
    Key::new(format!("HOLD#{id}"), "HOLD")
}
pub const HOLDS_PARTITION: &str = "HOLDS";
pub fn waitlist_partition(provider: &ProviderId) -> String {
    format!("WAITLIST#{provider}")
}
pub fn patient_waitlist_partition(patient: &PatientId) -> String {
    format!("PATIENT#{patient}#WAITLIST")
}

/// Fixed-width instants sort as text.
pub fn instant_key(t: i64) -> String {
    format!("{t:012}")
}

/// The GSI partition that finds a patient by the blind index of their email address.
pub fn email_index(blind: &str) -> String {
    format!("EMAIL#{blind}")
}

/// Sort-key prefix of a patient's search terms.
pub const SEARCH_TERM_PREFIX: &str = "FIND#";

/// One search term of a patient (`blind` is the term's blind index).
pub fn search_term_key(patient: &PatientId, blind: &str) -> Key {
    Key::new(
        patient_partition(patient),
        format!("{SEARCH_TERM_PREFIX}{blind}"),
    )
}

/// The GSI partition that finds the patients under one search term.
pub fn search_index(blind: &str) -> String {
    format!("{SEARCH_TERM_PREFIX}{blind}")
}

/// The GSI sort key of a patient's record under their email index (and a term under its index).
pub fn patient_index_sort(patient: &PatientId) -> String {
    patient_partition(patient)
}

/// One numbered slot of a patient's allowance (`prefix` is one of the `QUOTA_*_PREFIX`es).
pub fn allowance_slot_key(patient: &PatientId, prefix: &str, slot: u16) -> Key {
    Key::new(patient_partition(patient), format!("{prefix}{slot:02}"))
}

/// The claim that makes a waitlist request one open entry: the same patient, provider, service
/// and window (Unix seconds) name the same item.
pub fn waitlist_request_key(
    patient: &PatientId,
    provider: &ProviderId,
    service: &ServiceId,
    from: i64,
    to: i64,
) -> Key {
    Key::new(
        patient_partition(patient),
        format!("WAITREQ#{provider}#{service}#{from}#{to}"),
    )
}

pub const FEEDBACK_INDEX: &str = "FEEDBACK";
/// Sort-key prefix of a patient's copies of their feedback.
pub const PATIENT_FEEDBACK_PREFIX: &str = "FEEDBACK#";

pub fn feedback_key(id: &FeedbackId) -> Key {
    Key::new(format!("FEEDBACK#{id}"), "FEEDBACK")
}
pub fn patient_feedback_key(patient: &PatientId, id: &FeedbackId) -> Key {
    Key::new(
        patient_partition(patient),
        format!("{PATIENT_FEEDBACK_PREFIX}{id}"),
    )
}
/// The GSI sort key of feedback: by creation time.
pub fn feedback_index_sort(created_at: i64, id: &FeedbackId) -> String {
    format!("{}#{id}", instant_key(created_at))
}

pub fn outbox_key(id: &OutboxId) -> Key {
    Key::new(format!("MSG#{id}"), "MSG")
}
/// The index partition of messages waiting to be sent, by due time.
pub const OUTBOX_DUE_INDEX: &str = "OUTBOX#DUE";
pub fn outbox_due_sort(due_at: i64, id: &OutboxId) -> String {
    format!("{}#{id}", instant_key(due_at))
}
/// The partition prefix of messages (what the notify function's stream filter matches).
pub const OUTBOX_PREFIX: &str = "MSG#";
pub fn notify_preferences_key(patient: &PatientId) -> Key {
    Key::new(patient_partition(patient), "NOTIFY")
}
pub fn notify_count_key(patient: &PatientId, local_day: &str) -> Key {
    Key::new(
        patient_partition(patient),
        format!("NOTIFYCOUNT#{local_day}"),
    )
}

pub fn ledger_partition(patient: &PatientId) -> String {
    format!("LEDGER#{patient}")
}

pub const CHARGES_INDEX: &str = "CHARGES";

/// The GSI sort key of a charge: by creation time.
pub fn charges_index_sort(created_at: i64, id: &ChargeId) -> String {
    format!("{}#{id}", instant_key(created_at))
}

pub fn charge_key(patient: &PatientId, id: &ChargeId) -> Key {
    Key::new(ledger_partition(patient), format!("CHG#{id}"))
}

pub fn payment_key(patient: &PatientId, id: &PaymentId) -> Key {
    Key::new(ledger_partition(patient), format!("PAY#{id}"))
}

/// The ledger's version: every write that can lower what is outstanding (a new intent, an adjusting
/// entry) claims the next version, so two of them racing on one read cannot both land.
pub fn ledger_lock_key(patient: &PatientId) -> Key {
    Key::new(ledger_partition(patient), "LOCK")
}

/// A patient's card on file (one at most).
pub fn card_key(patient: &PatientId) -> Key {
    Key::new(ledger_partition(patient), "CARD")
}

/// The processor's customer that holds a patient's saved cards.
pub fn customer_key(patient: &PatientId) -> Key {
    Key::new(ledger_partition(patient), "CUSTOMER")
}

/// Which patient a processor customer (`cus_...`) belongs to.
pub fn customer_pointer_key(customer: &str) -> Key {
    Key::new(format!("CUSTOMER#{customer}"), "CUSTOMER")
}

/// Which patient a setup intent (`seti_...`) saves a card for, and under which authorisation.
pub fn setup_key(setup_intent: &str) -> Key {
    Key::new(format!("SETUP#{setup_intent}"), "SETUP")
}

/// What the processor said a saved card (`pm_...`) is, and whether it was detached.
pub fn payment_method_key(payment_method: &str) -> Key {
    Key::new(format!("PAYMENT_METHOD#{payment_method}"), "PM")
}

/// The work for the processor that the functions without its key leave to the sweep, in two
/// partitions so that each writer is granted only its own: fees to charge to cards on file (the
/// booking function and the sweep write them), cards to detach (the webhooks and booking
/// functions).
pub const FEE_TASKS: &str = "FEE_TASKS";
pub const DETACH_TASKS: &str = "DETACH_TASKS";

/// A fee to charge to its patient's card on file (if she keeps one).
pub fn fee_task_key(charge: &ChargeId) -> Key {
    Key::new(FEE_TASKS, charge.as_str())
}

/// A card to detach at the processor.
pub fn detach_task_key(payment_method: &str) -> Key {
    Key::new(DETACH_TASKS, payment_method)
}

/// Deposits being waited for, one per appointment booked under one (the booking function writes
/// it with the booking): the sweep lets an unpaid one lapse when it is due (cancelling its
/// intent), and removes the task of one the webhook confirmed.
pub const DEPOSIT_TASKS: &str = "DEPOSIT_TASKS";
/// Deposits to refund at the processor, one per appointment (the booking function writes it
/// with a cancellation or a no-show, the webhooks function for a deposit paid too late).
pub const REFUND_TASKS: &str = "REFUND_TASKS";

pub fn deposit_task_key(appointment: &AppointmentId) -> Key {
    Key::new(DEPOSIT_TASKS, appointment.as_str())
}

pub fn refund_task_key(appointment: &AppointmentId) -> Key {
    Key::new(REFUND_TASKS, appointment.as_str())
}

/// A dispute the processor opened against one of our payments, with the evidence drafted for it
/// (GSI `DISPUTES` / its id: the practice's list).
pub fn dispute_key(dispute: &str) -> Key {
    Key::new(format!("DISPUTE#{dispute}"), "DISPUTE")
}

pub const DISPUTES_INDEX: &str = "DISPUTES";

pub fn intent_key(processor_id: &str) -> Key {
    Key::new(format!("INTENT#{processor_id}"), "INTENT")
}

pub fn receipt_key(source: &str, event_id: &str) -> Key {
    Key::new(format!("WEBHOOK#{source}#{event_id}"), "EVENT")
}

/// The day partition of audit records (reports read a day at a time).
pub fn audit_partition(day: jiff::civil::Date) -> String {
    format!("AUDIT#{day}")
}

/// An audit record's place in its day and under its entity: time first, then a unique id.
pub fn audit_sort(nanos: i128, id: &ulid::Ulid) -> String {
    format!("{nanos:020}#{id}")
}

/// The GSI partition holding every audit record of one entity.
pub fn audit_entity_index(entity: &str, entity_id: &str) -> String {
    format!("AUDIT#{entity}#{entity_id}")
}

/// An idempotency record: scoped to the caller, so one caller's key never meets another's.
/// Every partition of the table (its `pk`), as `dynamodb:LeadingKeys` patterns.
pub const PARTITIONS: &[&str] = &[
    "PRACTICE",
    "PROVIDER#*",
    "SERVICE#*",
    "LOCK#*",
    "APPT#*",
    "PATIENT#*",
    "HOLD#*",
    "SERIES#*",
    "FEED#*",
    "FEEDTOKEN#*",
    "BUSYCAL#*",
    "CONSENTDOC#*",
    "FORM#*",
    "WAITLIST#*",
    "FEEDBACK#*",
    "MSG#*",
    "LEDGER#*",
    "INTENT#*",
    "CUSTOMER#*",
    "SETUP#*",
    "PAYMENT_METHOD#*",
    "FEE_TASKS",
    "DETACH_TASKS",
    "DEPOSIT_TASKS",
    "REFUND_TASKS",
    "DISPUTE#*",
    "WEBHOOK#*",
    "AUDIT#*",
    "IDEM#*",
    "AUDITLOG",
    "AUDITLOG#*",
    "KEYRING",
    "COUNTER#*",
    "STAFF#*",
];

/// A workforce login's standing (whether it is disabled), by its token's subject.
pub fn staff_key(subject: &domain::access::Subject) -> Key {
    Key::new(format!("STAFF#{}", subject.as_str()), "ACCOUNT")
}

/// The pattern of [`PARTITIONS`] a partition key falls in (IAM's `StringLike`: `*` at the end).
pub fn partition_pattern(pk: &str) -> Option<&'static str> {
    PARTITIONS
        .iter()
        .copied()
        .find(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => pk.starts_with(prefix),
            None => pk == *pattern,
        })
}

/// The table's blind-index key, wrapped by the key service.
pub fn blind_index_key() -> Key {
    Key::new("KEYRING", "BLIND#v1")
}

pub fn idempotency_key(subject: &str, key: &str) -> Key {
    Key::new(format!("IDEM#{subject}#{key}"), "IDEM")
}

pub fn audit_log_head() -> Key {
    Key::new("AUDITLOG", "HEAD")
}

pub const AUDIT_LOG_LEAVES: &str = "AUDITLOG#LEAF";

/// The mark that a change to an audit entry (one stream record, by its event id) was recorded.
pub fn audit_tamper_marker(event_id: &str) -> Key {
    Key::new("AUDITLOG#TAMPER", event_id)
}

pub fn audit_log_leaf(index: u64) -> Key {
    Key::new(AUDIT_LOG_LEAVES, format!("{index:020}"))
}

/// Where the marks of a day's integrated entries live (an entry's day is in its partition key).
pub fn audit_integrated_partition(entry_pk: &str) -> String {
    format!("AUDITLOG#IN#{}", entry_pk.trim_start_matches("AUDIT#"))
}

pub const AUDIT_LOG_CHECKPOINTS: &str = "AUDITLOG#CHECKPOINT";

/// The size of the latest checkpoint a witness cosigned for the log, by the witness's key name.
pub fn audit_log_witness(name: &str) -> Key {
    Key::new("AUDITLOG#WITNESS", name)
}

/// Ordered by size, then by signing time (an idle log signs its unchanged size again hourly).
pub fn audit_log_checkpoint(size: u64, unix_seconds: i64) -> Key {
    Key::new(
        AUDIT_LOG_CHECKPOINTS,
        format!(
            "{}{:020}",
            audit_log_checkpoint_size_prefix(size),
            unix_seconds.max(0)
        ),
    )
}

/// The prefix of the checkpoints that signed a log of `size` entries.
pub fn audit_log_checkpoint_size_prefix(size: u64) -> String {
    format!("{size:020}#")
}

/// One patient's access index: who touched their data, in time order.
pub fn audit_access_partition(patient: &str) -> String {
    format!("AUDITLOG#ACCESS#{patient}")
}

/// One UTC day's refusal counters: per caller and hour (`<hh>#<caller>`), and beyond the
/// individual limit per caller, hour and patient named (`<hh>#<caller>#<patient>`).
pub fn refusal_partition(day: jiff::civil::Date) -> String {
    format!("COUNTER#REFUSED#{day}")
}

/// The count of `caller`'s refusals in one UTC hour.
pub fn refusal_key(day: jiff::civil::Date, hour: u8, caller: &str) -> Key {
    Key::new(refusal_partition(day), format!("{hour:02}#{caller}"))
}

/// The count of `caller`'s aggregated refusals naming `patient` in one UTC hour.
pub fn refusal_patient_key(day: jiff::civil::Date, hour: u8, caller: &str, patient: &str) -> Key {
    Key::new(
        refusal_partition(day),
        format!("{hour:02}#{caller}#{patient}"),
    )
}

/// One UTC day's counters.
pub fn counter_partition(day: jiff::civil::Date) -> String {
    format!("COUNTER#{day}")
}

/// A counter of `name` for one UTC hour.
pub fn counter_key(day: jiff::civil::Date, name: &str, hour: u8) -> Key {
    Key::new(counter_partition(day), format!("{name}#{hour:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One key or partition from every function of this module that builds a table key or
    /// partition; the functions that build index (GSI) keys or sort keys are named apart.
    fn samples() -> Vec<(&'static str, String)> {
        let provider = ProviderId::new();
        let patient = PatientId::parse("patient-1").unwrap();
        let day = jiff::civil::date(2026, 11, 22);
        vec![
            ("practice_key", practice_key().pk),
            (
                "staff_key",
                staff_key(&domain::access::Subject::parse("staff-1").unwrap()).pk,
            ),
            ("provider_key", provider_key(&provider).pk),
            ("service_key", service_key(&ServiceId::new()).pk),
            ("lock_partition", lock_partition(&provider)),
            ("lock_key", lock_key(&provider, 0).pk),
            ("appointment_key", appointment_key(&AppointmentId::new()).pk),
            ("visit_key", visit_key(&AppointmentId::new()).pk),
            ("patient_partition", patient_partition(&patient)),
            (
                "patient_appointment_key",
                patient_appointment_key(&patient, &AppointmentId::new()).pk,
            ),
            ("patient_key", patient_key(&patient).pk),
            ("hold_key", hold_key(&HoldId::new()).pk),
            ("waitlist_partition", waitlist_partition(&provider)),
            (
                "allowance_slot_key",
                allowance_slot_key(&patient, QUOTA_HOLD_PREFIX, 1).pk,
            ),
            (
                "waitlist_request_key",
                waitlist_request_key(&patient, &provider, &ServiceId::new(), 0, 1).pk,
            ),
            ("feedback_key", feedback_key(&FeedbackId::new()).pk),
            (
                "patient_feedback_key",
                patient_feedback_key(&patient, &FeedbackId::new()).pk,
            ),
            ("outbox_key", outbox_key(&OutboxId::new()).pk),
            (
                "notify_preferences_key",
                notify_preferences_key(&patient).pk,
            ),
            (
                "notify_count_key",
                notify_count_key(&patient, "2026-11-22").pk,
            ),
            ("ledger_partition", ledger_partition(&patient)),
            ("charge_key", charge_key(&patient, &ChargeId::new()).pk),
            ("payment_key", payment_key(&patient, &PaymentId::new()).pk),
            ("ledger_lock_key", ledger_lock_key(&patient).pk),
            ("intent_key", intent_key("pi_1").pk),
            ("card_key", card_key(&patient).pk),
            ("customer_key", customer_key(&patient).pk),
            ("customer_pointer_key", customer_pointer_key("cus_1").pk),
            ("setup_key", setup_key("seti_1").pk),
            ("payment_method_key", payment_method_key("pm_1").pk),
            ("fee_task_key", fee_task_key(&ChargeId::new()).pk),
            (
                "deposit_task_key",
                deposit_task_key(&AppointmentId::new()).pk,
            ),
            ("refund_task_key", refund_task_key(&AppointmentId::new()).pk),
            ("detach_task_key", detach_task_key("pm_1").pk),
            ("dispute_key", dispute_key("dp_1").pk),
            ("receipt_key", receipt_key("stripe", "evt_1").pk),
            ("audit_partition", audit_partition(day)),
            ("idempotency_key", idempotency_key("patient-1", "k").pk),
            ("audit_log_head", audit_log_head().pk),
            ("audit_log_leaf", audit_log_leaf(1).pk),
            ("audit_tamper_marker", audit_tamper_marker("event-1").pk),
            (
                "audit_integrated_partition",
                audit_integrated_partition(&audit_partition(day)),
            ),
            ("audit_log_checkpoint", audit_log_checkpoint(1, 1).pk),
            ("audit_log_witness", audit_log_witness("w.example/1").pk),
            (
                "audit_access_partition",
                audit_access_partition("patient-1"),
            ),
            ("counter_partition", counter_partition(day)),
            ("counter_key", counter_key(day, "refused", 1).pk),
            ("refusal_partition", refusal_partition(day)),
            ("refusal_key", refusal_key(day, 1, "patient-1").pk),
            (
                "refusal_patient_key",
                refusal_patient_key(day, 1, "patient-1", "patient-2").pk,
            ),
            ("blind_index_key", blind_index_key().pk),
            ("search_term_key", search_term_key(&patient, "x").pk),
            ("series_key", series_key(&SeriesId::new()).pk),
            ("feed_key", feed_key("practice").pk),
            ("feed_token_key", feed_token_key("ab").pk),
            ("feed_rate_key", feed_rate_key("ab", 1).pk),
            (
                "busy_calendar_partition",
                busy_calendar_partition(&provider),
            ),
            (
                "busy_calendar_key",
                busy_calendar_key(&provider, &CalendarId::new()).pk,
            ),
            ("busy_summary_key", busy_summary_key(&provider).pk),
            (
                "consent_document_partition",
                consent_document_partition(&DocumentId::parse("treatment").unwrap()),
            ),
            (
                "consent_document_key",
                consent_document_key(&DocumentId::parse("treatment").unwrap()).pk,
            ),
            (
                "consent_version_key",
                consent_version_key(&DocumentId::parse("treatment").unwrap(), "ab").pk,
            ),
            (
                "patient_consent_key",
                patient_consent_key(&patient, &DocumentId::parse("treatment").unwrap()).pk,
            ),
            (
                "form_partition",
                form_partition(&FormId::parse("phq-9").unwrap()),
            ),
            ("form_key", form_key(&FormId::parse("phq-9").unwrap()).pk),
            (
                "form_version_key",
                form_version_key(&FormId::parse("phq-9").unwrap(), "ab").pk,
            ),
            (
                "form_draft_key",
                form_draft_key(&patient, &FormId::parse("phq-9").unwrap()).pk,
            ),
            (
                "form_submission_key",
                form_submission_key(
                    &patient,
                    &FormId::parse("phq-9").unwrap(),
                    1,
                    &SubmissionId::new(),
                )
                .pk,
            ),
            (
                "consent_signature_key",
                consent_signature_key(&patient, &SignatureId::new()).pk,
            ),
            (
                "patient_series_key",
                patient_series_key(&patient, &SeriesId::new()).pk,
            ),
        ]
    }

    /// Index (GSI) partitions and sort keys: not partitions of the table.
    const NOT_TABLE_PARTITIONS: [&str; 12] = [
        "calendar_partition",
        "search_index",
        "patient_waitlist_partition",
        "instant_key",
        "email_index",
        "patient_index_sort",
        "feedback_index_sort",
        "outbox_due_sort",
        "charges_index_sort",
        "audit_sort",
        "audit_entity_index",
        "audit_log_checkpoint_size_prefix",
    ];

    #[test]
    fn every_partition_is_declared_and_every_declared_partition_is_used() {
        let samples = samples();
        // Every key-building function of this file is sampled or named as an index key.
        for line in include_str!("keys.rs").lines() {
            let Some(rest) = line.strip_prefix("pub fn ") else {
                continue;
            };
            let name = rest.split('(').next().unwrap();
            if name == "partition_pattern" {
                continue;
            }
            assert!(
                samples.iter().any(|(n, _)| *n == name) || NOT_TABLE_PARTITIONS.contains(&name),
                "keys::{name} builds a key this test does not sample: add it to samples() (a \
                 table partition) or NOT_TABLE_PARTITIONS (an index key)"
            );
        }
        for (name, pk) in &samples {
            assert!(
                partition_pattern(pk).is_some(),
                "keys::{name} builds a key in partition {pk}, which PARTITIONS does not name: \
                 add it there and grant it in infra/template.yaml to the functions that write it"
            );
        }
        for pattern in PARTITIONS {
            assert!(
                samples
                    .iter()
                    .any(|(_, pk)| partition_pattern(pk) == Some(pattern)),
                "PARTITIONS names {pattern}, which no key is built in"
            );
        }
        // The audit log's own partitions are not audit entries' (IAM patterns are prefixes).
        assert_eq!(partition_pattern("AUDITLOG#LEAF"), Some("AUDITLOG#*"));
        assert_eq!(partition_pattern("AUDIT#2026-11-22"), Some("AUDIT#*"));
    }
}
