//! Every stored attribute name, spelled once: the item codecs of every record type, and every
//! condition and update on those attributes, use these constants, so a reader and a writer cannot
//! disagree on a name. (Key and index attribute names are in `crate::store`.)

pub const ACTION: &str = "action";
pub const ACTOR: &str = "actor";
/// A staff member's, provider's or admin's display name (never a patient's).
pub const ACTOR_NAME: &str = "actor_name";
pub const ADJUSTS: &str = "adjusts";
pub const AMOUNT: &str = "amount";
pub const APPOINTMENT_ID: &str = "appointment_id";
pub const AT: &str = "at";
/// When a workforce login was disabled, and by whom (`STAFF#` items).
pub const DISABLED_AT: &str = "disabled_at";
pub const DISABLED_BY: &str = "disabled_by";
/// Who made a calendar feed's link.
pub const CREATED_BY: &str = "created_by";
pub const CATEGORY: &str = "category";
pub const CANCEL_REASON: &str = "cancel_reason";
pub const CHARGE_ID: &str = "charge_id";
pub const CHARGES: &str = "charges";
pub const CHECK_ADDRESS_LINE1: &str = "check_address_line1";
pub const CHECK_CVC: &str = "check_cvc";
pub const CHECK_POSTAL_CODE: &str = "check_postal_code";
pub const CHECKS_STAMP: &str = "checks_stamp";
pub const COUNT: &str = "count";
/// How many patients a caller's refusal counter of an hour names.
pub const NAMED: &str = "named";
/// An aggregate entry's count per patient named (a map of patient id to count).
pub const PATIENT_COUNTS: &str = "patient_counts";
/// A refusal counter whose aggregate audit entry has been written.
pub const AGGREGATED: &str = "aggregated";
pub const CREATED_AT: &str = "created_at";
pub const CURRENCY: &str = "currency";
pub const DATE_OF_BIRTH: &str = "date_of_birth";
pub const DECLINE_CODE: &str = "decline_code";
pub const DISPUTES: &str = "disputes";
pub const DURATION_MINUTES: &str = "duration_minutes";
pub const EMAIL: &str = "email";
pub const EMAIL_VERIFIED: &str = "email_verified";
pub const END: &str = "end";
pub const ENTITY: &str = "entity";
pub const ENTITY_ID: &str = "entity_id";
pub const FAILURE_CODE: &str = "failure_code";
pub const FAILURE_STAMP: &str = "failure_stamp";
pub const FINGERPRINT: &str = "fingerprint";
pub const FROM: &str = "from";
pub const HOLD_ID: &str = "hold_id";
pub const HOLD_MINUTES: &str = "hold_minutes";
pub const ID: &str = "id";
pub const INTENT: &str = "intent";
pub const KIND: &str = "kind";
pub const LIMIT_APPOINTMENTS: &str = "limit_appointments";
pub const LIMIT_HOLDS: &str = "limit_holds";
pub const LIMIT_FEEDBACK: &str = "limit_feedback";
pub const LIMIT_SERIES_OCCURRENCES: &str = "limit_series_occurrences";
/// The attempt that reserved a series change (a retry after a stall must not commit or give back
/// another attempt's reservation).
pub const ATTEMPT: &str = "attempt";
pub const LIMIT_WAITLIST: &str = "limit_waitlist";
pub const LINE_ITEMS: &str = "line_items";
pub const NAME: &str = "name";
pub const OCCUPIED_FROM: &str = "occupied_from";
pub const OCCUPIED_TO: &str = "occupied_to";
pub const OFFER_EXPIRES_AT: &str = "offer_expires_at";
pub const OUTCOME: &str = "outcome";
pub const OWNER: &str = "owner";
pub const PATIENT_ID: &str = "patient_id";
pub const PAYMENT_ID: &str = "payment_id";
pub const PHONE: &str = "phone";
pub const PRICE_AMOUNT: &str = "price_amount";
pub const PRICE_CURRENCY: &str = "price_currency";
pub const PROVIDER_ID: &str = "provider_id";
pub const PROVIDER_IDS: &str = "provider_ids";
pub const QUOTA_SLOT: &str = "quota_slot";
pub const RATING: &str = "rating";
pub const REASON: &str = "reason";
pub const RECEIVED_AT: &str = "received_at";
pub const REFUNDS: &str = "refunds";
pub const REFUNDED: &str = "refunded";
pub const RESOLUTION: &str = "resolution";
pub const RESOLVED_AT: &str = "resolved_at";
pub const RESOLVED_BY: &str = "resolved_by";
pub const REPLY: &str = "reply";
pub const REQUEST_ID: &str = "request_id";
pub const ROLES: &str = "roles";
pub const RULES: &str = "rules";
pub const SERVICE_ID: &str = "service_id";
pub const START: &str = "start";
pub const STATUS: &str = "status";
pub const SUCCEEDED_AT: &str = "succeeded_at";
pub const SUBJECT: &str = "subject";
pub const TIME_ZONE: &str = "time_zone";
pub const TEXT: &str = "text";
pub const TO: &str = "to";
pub const TOTAL: &str = "total";
pub const VERSION: &str = "version";
// The audit log's own items.
pub const ACTION_KIND: &str = "action_kind";
pub const AGENT_KIND: &str = "agent_kind";
pub const PATIENT_IDS: &str = "patient_ids";
pub const SOURCE_FUNCTION: &str = "source_function";
pub const SOURCE_ADDRESS: &str = "source_address";
/// An audit entry's random salt (16 bytes), from which the commitments in its canonical bytes are
/// made; never in the bytes themselves.
pub const SALT: &str = "salt";
/// The canonical form an audit entry's leaf hashes: absent for the first, 2 for salted commitments.
pub const CANON: &str = "canon";
pub const LEAF_HASH: &str = "leaf_hash";
/// The perfect subtrees a leaf completed, heights 1, 2, … (32 bytes each).
pub const NODES: &str = "nodes";
pub const LEAF_INDEX: &str = "leaf_index";
pub const ENTRY_PK: &str = "entry_pk";
pub const ENTRY_SK: &str = "entry_sk";
pub const TREE_SIZE: &str = "tree_size";
pub const FRONTIER: &str = "frontier";
pub const NOTE: &str = "note";
pub const SCANNED_FROM: &str = "scanned_from";
/// The audit log head's place in its `scanned_from` day: every entry up to this sort key is in
/// the log.
pub const SCAN_CURSOR: &str = "scan_cursor";
pub const WAITLIST_ID: &str = "waitlist_id";
pub const WAITLIST_OFFER_MINUTES: &str = "waitlist_offer_minutes";
// Notifications.
pub const APPOINTMENT_VERSION: &str = "appointment_version";
pub const ATTEMPTS: &str = "attempts";
pub const CHANNELS: &str = "channels";
pub const CLAIM: &str = "claim";
pub const CLAIMED_AT: &str = "claimed_at";
pub const DUE_AT: &str = "due_at";
pub const EMAIL_BOUNCED_AT: &str = "email_bounced_at";
pub const EMAIL_ON: &str = "email_on";
pub const NOTIFY_SETTINGS: &str = "notify_settings";
/// The address an address-change notice goes to (sealed, on the outbox message).
pub const TO_EMAIL: &str = "to_email";
/// The card a payment was made with: brand and last four digits.
pub const CARD_BRAND: &str = "card_brand";
pub const CARD_LAST4: &str = "card_last4";
/// The practice's address and phone (JSON).
pub const CONTACT: &str = "contact";
/// Minutes after a start at which a visit no one checked in to is marked a no-show (absent: never).
pub const AUTO_NO_SHOW_MINUTES: &str = "auto_no_show_minutes";
pub const VISIT_ROOM: &str = "visit_room";
/// A patient record's search terms (their blind indexes, space-separated).
pub const SEARCH_TERMS: &str = "search_terms";
pub const SENT_AT: &str = "sent_at";
pub const SMS_CONSENT_AT: &str = "sms_consent_at";
pub const SMS_ON: &str = "sms_on";
pub const SMS_STOPPED_AT: &str = "sms_stopped_at";
pub const TEMPLATE_VERSION: &str = "template_version";

/// A calendar feed's scope (`practice` or a provider id), its link's hash, whether it shows initials.
pub const SCOPE: &str = "scope";
pub const TOKEN_HASH: &str = "token_hash";
pub const PATIENT_INITIALS: &str = "patient_initials";
/// A service patients may book as a series themselves.
pub const SELF_BOOK_SERIES: &str = "self_book_series";
/// The series an appointment is an occurrence of.
pub const SERIES_ID: &str = "series_id";
pub const EVERY_WEEKS: &str = "every_weeks";
/// A series' occurrences (JSON: appointment id and start of each).
pub const OCCURRENCES: &str = "occurrences";
/// Starts a series skipped because they were not free (JSON list).
pub const SKIPPED: &str = "skipped";
/// A series change reserved on the table and not committed yet (JSON).
pub const PENDING: &str = "pending";

/// A busy calendar's sealed ICS address, and its host (shown; the address is a secret).
pub const ADDRESS: &str = "address";
pub const HOST: &str = "host";
pub const LABEL: &str = "label";
/// A busy calendar's last fetch: when tried, when it last worked, what failed, the blocks it gave.
pub const ATTEMPTED_AT: &str = "attempted_at";
pub const FETCHED_AT: &str = "fetched_at";
pub const ERROR: &str = "error";
pub const BLOCKS: &str = "blocks";
/// When a provider's busy calendars last changed in a way the lock units have not caught up with.
pub const CHANGED_AT: &str = "changed_at";

/// A consent document's version (hex SHA-256 of its canonical text), title and text; a
/// signature's document, kind (sign or withdraw) and the name the patient typed (sealed). Also on
/// the audit entry of a signature, readable in its leaf's bytes.
pub const DOCUMENT_ID: &str = "document_id";
pub const DOCUMENT_HASH: &str = "document_hash";
pub const TITLE: &str = "title";
pub const SIGNATURE_ID: &str = "signature_id";
pub const TYPED_NAME: &str = "typed_name";
/// On a signature's audit entry: the commitment to the typed name.
pub const NAME_COMMITMENT: &str = "name_commitment";
pub const PUBLISHED_AT: &str = "published_at";
/// The consent documents a service requires before it is booked (a list of document ids).
pub const REQUIRED_CONSENTS: &str = "required_consents";

/// A form's id and definition (JSON); a submission's or draft's answers (sealed JSON).
pub const FORM_ID: &str = "form_id";
pub const DEFINITION: &str = "definition";
pub const ANSWERS: &str = "answers";
/// The forms a service asks for before a patient's first visit, and before every visit.
pub const FORMS_FIRST: &str = "forms_first";
pub const FORMS_EVERY: &str = "forms_every";
/// A service's cancellation policy (JSON); the terms an appointment was booked under (JSON).
pub const CANCELLATION_POLICY: &str = "cancellation_policy";
pub const TERMS: &str = "terms";
/// Set on an appointment the practice cancelled.
pub const BY_PRACTICE: &str = "by_practice";
/// An appointment's deposit (JSON: amount, due by, state, refund).
pub const DEPOSIT: &str = "deposit";
/// A service's visit mode (`inPerson`, `online`, `either`); an appointment held online.
pub const VISIT_MODE: &str = "visit_mode";
pub const ONLINE: &str = "online";
/// An online visit's room: since when the patient waits, when she was admitted.
pub const WAITING_SINCE: &str = "waiting_since";
pub const ADMITTED_AT: &str = "admitted_at";
pub const PATIENT_CERTIFICATE: &str = "patient_certificate";
pub const HOST_CERTIFICATE: &str = "host_certificate";
/// What a fee charge is for; the reason code of the entry that waives one.
pub const FEE_KIND: &str = "fee_kind";
pub const WAIVER_REASON: &str = "waiver_reason";

/// A card on file's processor ids and authorisation.
pub const CUSTOMER: &str = "customer";
pub const PAYMENT_METHOD: &str = "payment_method";
pub const SETUP_INTENT: &str = "setup_intent";
pub const SAVED_AT: &str = "saved_at";
/// A saved card the processor detached.
pub const DETACHED: &str = "detached";
pub const REMOVED_AT: &str = "removed_at";
pub const DECLINED_AT: &str = "declined_at";
/// A dispute's evidence (sealed JSON), where it stands (`draft`, `submitted`) and when.
pub const DISPUTE_ID: &str = "dispute_id";
pub const EVIDENCE: &str = "evidence";
pub const EVIDENCE_STATUS: &str = "evidence_status";
pub const DRAFTED_AT: &str = "drafted_at";
pub const SUBMITTED_AT: &str = "submitted_at";

#[cfg(test)]
mod tests {
    //! The spelling rule, checked on the crate's own sources: outside the table adapters, no
    //! attribute name is written as a string literal where an item is built, read, conditioned or
    //! sealed. (The bug this prevents: a reader of `patient` and a writer of `patient_id`.)

    use std::path::Path;

    const PLACES: [&str; 8] = [
        ".with(\"",
        ".set(\"",
        ".get(\"",
        "Condition::Equals(\"",
        "Condition::LessThan(\"",
        "item, \"",
        "pointer, \"",
        "key, \"",
    ];

    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }

    #[test]
    fn attribute_names_are_spelled_only_here() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut found = Vec::new();
        for (path, text) in &files {
            // The table port, its adapters and its contract suite store whatever they are given.
            let table_code = [
                "store/mod.rs",
                "store/contract.rs",
                "dynamodb.rs",
                "embedded.rs",
            ];
            if table_code.iter().any(|f| path.ends_with(f))
                || path.ends_with("attr.rs")
                || path.ends_with("tests.rs")
            {
                continue;
            }
            // Unit tests at the end of a file may build raw items on purpose.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let joined = line.trim_start();
                if joined.contains("header") || joined.starts_with("//") {
                    continue;
                }
                for place in PLACES {
                    if let Some(at) = joined.find(place) {
                        let rest = &joined[at + place.len()..];
                        let literal: String = rest.chars().take_while(|c| *c != '"').collect();
                        if literal
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
                        {
                            found.push(format!("{path}:{}: {}", n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "use crate::store::attr constants:\n{}",
            found.join("\n")
        );
    }
}
