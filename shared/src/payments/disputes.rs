//! Disputes and the evidence answering them. A dispute's first webhook lists it for the practice
//! (`DISPUTE#<dp>`, GSI `DISPUTES`). Staff ask for evidence (`POST /v1/disputes/{id}/evidence`):
//! the payments function assembles it from our records and the signed audit log (for the fee or
//! the visit the payment paid: the policy's words and version and when they were accepted, the
//! no-show mark or the late cancellation and who made it, the confirmations and reminders sent,
//! the service date, each event with its leaf in the log), with no health information (the
//! service is described generically), saves it at the processor as a draft (`submit=false`) and
//! sealed beside the dispute. Staff read it in the console and submit it (`.../submit`): sent
//! with `submit=true`, once. Each step is audited.

use serde::Serialize;

use super::ledger::Payment;
use super::processor::{DisputeEvidence, PaymentProcessor};
use crate::common::{ledger, lookup};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::payments::PaymentCodec;
use crate::store::codec::{corrupt, parsed, s};
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, GSI1_PK, GSI1_SK, Item, Query, TransactOp, Update, attr,
    query_all,
};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, audit_read, commit};
use domain::access::Caller;
use domain::booking::{Appointment, Status};
use domain::fees::FeeKind;
use domain::ids::{AppointmentId, PatientId, PaymentId};
use domain::instant::{render_utc, render_words};
use domain::ledger::Charge;
use domain::refusals::PaymentError;

/// The most disputes the practice's list shows.
const MAX_LISTED: u32 = 200;

/// Whether `dispute` may be listed for `payment`: a Stripe dispute id (`dp_`, `du_`) not listed
/// for another payment.
pub async fn listable(
    state: &AppState,
    dispute: &str,
    payment: &Payment,
) -> Result<bool, ApiError> {
    let shaped = (dispute.starts_with("dp_") || dispute.starts_with("du_"))
        && super::processor::processor_id_ok(dispute);
    if !shaped {
        return Ok(false);
    }
    Ok(
        match state
            .table
            .get(&dispute_key(dispute), Consistency::Strong)
            .await?
        {
            Some(item) => {
                item.get(attr::PAYMENT_ID).and_then(AttrValue::as_s) == Some(payment.id.as_str())
            }
            None => true,
        },
    )
}

/// The write that lists a dispute opened at `opened` (its first event): idempotent, so a
/// redelivery changes nothing; listed newest first.
pub fn listed(payment: &Payment, dispute: &str, opened: i64) -> TransactOp {
    TransactOp::Update {
        key: dispute_key(dispute),
        update: Update::default()
            .set(attr::DISPUTE_ID, dispute)
            .set(attr::PATIENT_ID, payment.patient.as_str())
            .set(attr::PAYMENT_ID, payment.id.as_str())
            .set(GSI1_PK, DISPUTES_INDEX)
            .set(GSI1_SK, format!("{:012}#{dispute}", opened.max(0))),
        condition: Some(Condition::Or(vec![
            Condition::AttrAbsent(attr::PAYMENT_ID.into()),
            Condition::Equals(attr::PAYMENT_ID.into(), payment.id.as_str().into()),
        ])),
    }
}

/// A listed dispute, as stored.
struct Listed {
    id: String,
    patient: PatientId,
    payment: PaymentId,
    status: Option<String>,
    evidence: Option<Vec<u8>>,
    drafted_at: Option<i64>,
    submitted_at: Option<i64>,
}

impl Listed {
    fn from_item(item: &Item) -> Result<Listed, ApiError> {
        Ok(Listed {
            id: s(item, attr::DISPUTE_ID)?.to_owned(),
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            payment: parsed(item, attr::PAYMENT_ID, PaymentId::parse)?,
            status: item
                .get(attr::EVIDENCE_STATUS)
                .and_then(AttrValue::as_s)
                .map(str::to_owned),
            evidence: match item.get(attr::EVIDENCE) {
                Some(AttrValue::B(b)) => Some(b.clone()),
                Some(_) => return Err(corrupt("evidence").into()),
                None => None,
            },
            drafted_at: item.get(attr::DRAFTED_AT).and_then(AttrValue::as_n),
            submitted_at: item.get(attr::SUBMITTED_AT).and_then(AttrValue::as_n),
        })
    }
}

async fn listed_dispute(state: &AppState, id: &str) -> Result<Listed, ApiError> {
    if !domain::ids::is_key_token(id) {
        return Err(ApiError::NotFound);
    }
    let item = state
        .table
        .get(&dispute_key(id), Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    Listed::from_item(&item)
}

async fn payment_of(state: &AppState, listed: &Listed) -> Result<Payment, ApiError> {
    let item = state
        .table
        .get(
            &payment_key(&listed.patient, &listed.payment),
            Consistency::Strong,
        )
        .await?
        .ok_or_else(|| corrupt("payment behind a dispute"))?;
    Ok(Payment::from_item(&item)?)
}

async fn opened(state: &AppState, listed: &Listed) -> Result<Option<DisputeEvidence>, ApiError> {
    let Some(sealed) = &listed.evidence else {
        return Ok(None);
    };
    let plain = state
        .sealer
        .open(&dispute_key(&listed.id), attr::EVIDENCE, sealed)
        .await?;
    Ok(Some(
        serde_json::from_slice(&plain).map_err(|_| corrupt("evidence"))?,
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DisputeView {
    dispute_id: String,
    patient_id: PatientId,
    /// Her name, for the practice (never sent to the processor).
    #[serde(skip_serializing_if = "Option::is_none")]
    patient_name: Option<domain::sensitive::Sensitive<String>>,
    payment_id: PaymentId,
    amount: domain::money::Money,
    reason: Option<String>,
    opened_at: String,
    /// `won` or `lost` once the card network decided.
    outcome: Option<domain::progress::DisputeOutcome>,
    /// `none`, `draft` or `submitted`.
    evidence_status: String,
    drafted_at: Option<String>,
    submitted_at: Option<String>,
    evidence: Option<DisputeEvidence>,
}

async fn view(state: &AppState, listed: &Listed) -> Result<DisputeView, ApiError> {
    let payment = payment_of(state, listed).await?;
    shown(listed, &payment, opened(state, listed).await?)
}

/// The view of `listed` from what was already read (its payment, its evidence opened).
fn shown(
    listed: &Listed,
    payment: &Payment,
    evidence: Option<DisputeEvidence>,
) -> Result<DisputeView, ApiError> {
    let dispute = payment.progress.disputes.get(&listed.id);
    Ok(DisputeView {
        dispute_id: listed.id.clone(),
        patient_id: listed.patient.clone(),
        patient_name: None,
        payment_id: listed.payment.clone(),
        amount: domain::money::Money::new(
            dispute.map_or(0, |d| d.amount),
            payment.amount.currency(),
        )
        .ok_or_else(|| corrupt("dispute amount"))?,
        reason: dispute.and_then(|d| d.reason.clone()),
        opened_at: render_utc(dispute.map_or(payment.created_at, |d| d.opened_at)),
        outcome: dispute.and_then(|d| d.outcome),
        evidence_status: listed.status.clone().unwrap_or_else(|| "none".into()),
        drafted_at: listed.drafted_at.map(render_utc),
        submitted_at: listed.submitted_at.map(render_utc),
        evidence,
    })
}

/// `GET /v1/disputes` (staff, admin): every dispute listed, newest first, with its evidence
/// (audited as a read naming each patient).
pub async fn list(state: &AppState, caller: &Caller) -> Result<serde_json::Value, ApiError> {
    caller.authorize_staff()?;
    let mut query = Query::gsi1(DISPUTES_INDEX).limit(MAX_LISTED);
    query.forward = false;
    let page = state.table.query(&query).await?;
    let mut out = Vec::new();
    for item in &page.items {
        out.push(view(state, &Listed::from_item(item)?).await?);
    }
    let names = crate::common::patients::names_of(state, out.iter().map(|d| &d.patient_id)).await?;
    for d in &mut out {
        d.patient_name = names.get(&d.patient_id).cloned();
    }
    if !out.is_empty() {
        let audit = Audit::new("dispute.list", "dispute", "all")
            .about_all(out.iter().map(|d| &d.patient_id));
        audit_read(state, caller, audit).await?;
    }
    Ok(serde_json::json!({ "disputes": out }))
}

/// `POST /v1/disputes/{id}/evidence` (staff, admin): assembles the evidence, saves it at the
/// processor as a draft and sealed beside the dispute; again until it is submitted.
#[tracing::instrument(skip_all)]
pub async fn draft(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    idem: &Idempotency,
    id: &str,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let listed = listed_dispute(state, id).await?;
    if listed.status.as_deref() == Some("submitted") {
        return Err(ApiError::Payment(PaymentError::EvidenceSubmitted));
    }
    let payment = payment_of(state, &listed).await?;
    refuse_closed(&payment, id)?;
    let evidence = assemble(state, &payment).await?;
    processor.update_dispute(id, &evidence, false).await?;
    let now = state.clock.now().as_second();
    let bytes = serde_json::to_vec(&evidence).map_err(anyhow::Error::new)?;
    let sealed = state
        .sealer
        .seal(&dispute_key(id), attr::EVIDENCE, &bytes)
        .await?;
    let write = Write::new(TransactOp::Update {
        key: dispute_key(id),
        update: Update::default()
            .set(attr::EVIDENCE, AttrValue::B(sealed.clone()))
            .set(attr::EVIDENCE_STATUS, "draft")
            .set(attr::DRAFTED_AT, now),
        condition: Some(Condition::Or(vec![
            Condition::AttrAbsent(attr::EVIDENCE_STATUS.into()),
            Condition::Equals(attr::EVIDENCE_STATUS.into(), "draft".into()),
        ])),
    })
    .or(ApiError::Payment(PaymentError::EvidenceSubmitted));
    let drafted = Listed {
        status: Some("draft".into()),
        evidence: Some(sealed),
        drafted_at: Some(now),
        ..listed
    };
    let reply = Reply::ok(&shown(&drafted, &payment, Some(evidence))?)?.with_patient_data();
    let audit = Audit::new("dispute.evidence_draft", "dispute", id).about(&drafted.patient);
    Ok(commit(state, caller, Some(idem), vec![write], audit, reply).await?)
}

/// `POST /v1/disputes/{id}/submit` (staff, admin): submits the draft they read, once.
#[tracing::instrument(skip_all)]
pub async fn submit(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    idem: &Idempotency,
    id: &str,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let listed = listed_dispute(state, id).await?;
    match listed.status.as_deref() {
        Some("draft") => {}
        Some("submitted") => return Err(ApiError::Payment(PaymentError::EvidenceSubmitted)),
        _ => return Err(ApiError::Payment(PaymentError::EvidenceNotDrafted)),
    }
    let payment = payment_of(state, &listed).await?;
    refuse_closed(&payment, id)?;
    let evidence = opened(state, &listed)
        .await?
        .ok_or_else(|| corrupt("draft without evidence"))?;
    processor.update_dispute(id, &evidence, true).await?;
    let now = state.clock.now().as_second();
    let write = Write::new(TransactOp::Update {
        key: dispute_key(id),
        update: Update::default()
            .set(attr::EVIDENCE_STATUS, "submitted")
            .set(attr::SUBMITTED_AT, now),
        // The draft sent is the draft read: one drafted again meanwhile refuses this submit.
        condition: Some(Condition::And(vec![
            Condition::Equals(attr::EVIDENCE_STATUS.into(), "draft".into()),
            Condition::Equals(
                attr::DRAFTED_AT.into(),
                AttrValue::N(listed.drafted_at.unwrap_or_default()),
            ),
        ])),
    })
    .or(ApiError::Payment(PaymentError::EvidenceChanged));
    let submitted = Listed {
        status: Some("submitted".into()),
        submitted_at: Some(now),
        ..listed
    };
    let reply = Reply::ok(&shown(&submitted, &payment, Some(evidence))?)?.with_patient_data();
    let audit = Audit::new("dispute.evidence_submit", "dispute", id).about(&submitted.patient);
    let committed: Result<Reply, ApiError> =
        commit(state, caller, Some(idem), vec![write], audit, reply)
            .await
            .map_err(ApiError::from);
    match committed {
        // Two submits of one draft racing (a double click): the processor took the same
        // submission once (one key per draft), and the one that lost here says it was submitted.
        Err(ApiError::Payment(PaymentError::EvidenceChanged))
            if listed_dispute(state, id).await?.status.as_deref() == Some("submitted") =>
        {
            Err(ApiError::Payment(PaymentError::EvidenceSubmitted))
        }
        other => Ok(other?),
    }
}

fn refuse_closed(payment: &Payment, id: &str) -> Result<(), ApiError> {
    match payment.progress.disputes.get(id) {
        Some(d) if d.outcome.is_some() => Err(ApiError::Payment(PaymentError::DisputeClosed)),
        _ => Ok(()),
    }
}

/// The appointment a payment answers for: the first charge it paid that is for one (a fee or a
/// visit), as the statement allocates payments: each to the charges it names, else to the oldest
/// charges still open (earlier succeeded payments first). None when what it paid is for no visit.
fn answered(
    payment: &Payment,
    ledger: &domain::ledger::Ledger,
) -> Option<(AppointmentId, Option<FeeKind>)> {
    let currency = payment.amount.currency();
    let mut open: Vec<(&Charge, i64)> = ledger
        .charges
        .iter()
        .filter(|c| c.adjusts.is_none() && c.currency == currency)
        .map(|c| (c, ledger.net_of(&c.id)))
        .collect();
    open.sort_by_key(|(c, _)| (c.created_at, c.id.clone()));
    let mut earlier: Vec<&Payment> = ledger
        .payments
        .iter()
        .filter(|p| {
            p.id != payment.id
                && p.amount.currency() == currency
                && p.progress.status == domain::progress::PaymentStatus::Succeeded
                && (p.created_at, &p.id) < (payment.created_at, &payment.id)
        })
        .collect();
    earlier.sort_by_key(|p| (p.created_at, p.id.clone()));
    // Pays `amount` of `p`: the charges it names first, then the oldest open; what it touched.
    let mut allocate = |p: &Payment| {
        let mut left = p.amount.amount();
        let mut touched = Vec::new();
        for named_first in [true, false] {
            for (charge, due) in open.iter_mut() {
                if left <= 0 {
                    break;
                }
                if *due <= 0 || (named_first && !p.charges.contains(&charge.id)) {
                    continue;
                }
                let paid = left.min(*due);
                *due -= paid;
                left -= paid;
                touched.push(*charge);
            }
        }
        touched
    };
    for p in earlier {
        allocate(p);
    }
    allocate(payment)
        .into_iter()
        .find_map(|c| Some((c.appointment.clone()?, c.fee)))
}

/// One audit entry cited as evidence: when, what, who (in words that never name a patient) and its
/// leaf in the signed log once integrated.
struct Cited {
    at: i64,
    action: String,
    by: String,
    leaf: Option<u64>,
}

/// The patient acting herself, as evidence names her (the processor knows her as the cardholder).
const CARDHOLDER: &str = "the cardholder, signed in to the practice's patient portal";

/// The messages cited, in the evidence's words.
const MESSAGES: [(&str, &str); 4] = [
    (
        "confirmation",
        "booking confirmation (stating the cancellation policy)",
    ),
    (
        "confirmation_forms",
        "booking confirmation (stating the cancellation policy)",
    ),
    ("reminder", "reminder of the appointment"),
    ("rescheduled", "notice of the appointment's new time"),
];

/// Who an audit entry says acted, in the words evidence uses.
fn actor(entry: &Item) -> String {
    let roles: Vec<&str> = match entry.get(attr::ROLES) {
        Some(AttrValue::L(list)) => list.iter().filter_map(AttrValue::as_s).collect(),
        _ => Vec::new(),
    };
    let who = entry
        .get(attr::ACTOR)
        .and_then(AttrValue::as_s)
        .unwrap_or_default();
    if roles.contains(&"patient") {
        return CARDHOLDER.into();
    }
    // A role, never a name: a display name is the person's own words (a title can say what
    // kind of care the practice gave).
    if let Some(role) = roles.first() {
        return format!("a practice {role} member");
    }
    match who {
        "system:sweep" => "the practice's scheduling system, automatically".into(),
        w if w.starts_with("system:") => "the practice's system".into(),
        _ => "the practice".into(),
    }
}

/// The entries of `actions` about one entity, oldest first.
async fn cited(
    state: &AppState,
    entity: &str,
    entity_id: &str,
    actions: &[&str],
) -> Result<Vec<Cited>, ApiError> {
    let query = Query::gsi1(audit_entity_index(entity, entity_id));
    let mut out = Vec::new();
    for item in query_all(&*state.table, &query).await? {
        let Some(action) = item.get(attr::ACTION).and_then(AttrValue::as_s) else {
            continue;
        };
        if !actions.contains(&action) {
            continue;
        }
        out.push(Cited {
            at: item.get(attr::AT).and_then(AttrValue::as_n).unwrap_or(0),
            action: action.to_owned(),
            by: actor(&item),
            leaf: crate::common::log::leaf_index_of(&*state.table, &item.key.pk, &item.key.sk)
                .await?,
        });
    }
    out.sort_by_key(|c| c.at);
    Ok(out)
}

fn line(entry: &Cited, what: &str) -> String {
    let leaf = entry
        .leaf
        .map(|i| format!(" [audit log leaf {i}]"))
        .unwrap_or_default();
    format!("{}: {what} by {}{leaf}", render_utc(entry.at), entry.by)
}

fn clip(text: String) -> String {
    if text.chars().count() <= DisputeEvidence::FIELD_MAX {
        return text;
    }
    text.chars()
        .take(DisputeEvidence::FIELD_MAX - 1)
        .collect::<String>()
        + "…"
}

/// The evidence for `payment`, from its ledger, the appointment it answers for and the signed log.
async fn assemble(state: &AppState, payment: &Payment) -> Result<DisputeEvidence, ApiError> {
    let practice = lookup::practice(state).await?;
    let ledger = ledger::load(state, &payment.patient).await?;
    let product = format!(
        "A scheduled appointment with {} (the nature of the service is withheld: it is health information).",
        practice.name
    );
    let Some((appointment_id, fee)) = answered(payment, &ledger) else {
        return Ok(DisputeEvidence {
            product_description: product,
            service_date: render_utc(payment.created_at)[..10].to_owned(),
            ..DisputeEvidence::default()
        });
    };
    let appt = Appointment::from_item(
        &state
            .table
            .get(&appointment_key(&appointment_id), Consistency::Strong)
            .await?
            .ok_or_else(|| corrupt("appointment behind a charge"))?,
    )?;
    let zone = &practice.zone;
    let start_words = render_words(appt.start, zone);
    let actions = [
        "appointment.create",
        "appointment.reschedule",
        "appointment.cancel",
        "appointment.no_show",
        "appointment.check_in",
        "appointment.complete",
    ];
    let entries = cited(state, "appointment", appt.id.as_str(), &actions).await?;
    let checkpoint = crate::common::log::latest_note(&*state.table).await?;
    let mut log = Vec::new();
    let mut accepted = None;
    let mut cancelled = None;
    let mut no_show = None;
    for entry in &entries {
        let what = match entry.action.as_str() {
            "appointment.create" => {
                accepted.get_or_insert(entry);
                "appointment booked"
            }
            "appointment.reschedule" => "appointment moved",
            "appointment.cancel" => {
                cancelled = Some(entry);
                "appointment cancelled"
            }
            "appointment.no_show" => {
                no_show = Some(entry);
                "marked as not attended (no-show)"
            }
            "appointment.check_in" => "checked in",
            "appointment.complete" => "visit completed",
            _ => continue,
        };
        log.push((entry.at, line(entry, what)));
    }
    log.extend(reminders(state, &appt).await?);
    log.sort_by_key(|(at, _)| *at);
    let mut log: Vec<String> = log.into_iter().map(|(_, line)| line).collect();
    if let Some(note) = &checkpoint {
        let head = note.lines().take(3).collect::<Vec<_>>().join(" / ");
        log.push(format!(
            "Each entry above is in Practica's append-only audit log, signed at checkpoint: {head}"
        ));
    }
    let disclosure = appt.terms.as_ref().map(|terms| {
        let how = match accepted {
            Some(e) if e.by == CARDHOLDER => format!(
                "shown to the cardholder in the patient portal before she confirmed the booking on {} \
                 (which she could not do without it), and repeated in the booking confirmation emailed to her",
                render_utc(e.at)
            ),
            Some(e) => format!(
                "stated in the booking confirmation emailed to the cardholder when {} booked the \
                 appointment for her on {}",
                e.by,
                render_utc(e.at)
            ),
            None => "stated in the booking confirmation emailed to the cardholder".to_owned(),
        };
        format!(
            "Cancellation policy (version {}), {how}: {}",
            &terms.version,
            terms.words().join(" ")
        )
    });
    let rebuttal = match fee {
        Some(FeeKind::LateCancellation) => cancelled.map(|e| {
            let window = appt.terms.as_ref().map_or(0, |t| t.window_secs / 3600);
            format!(
                "The appointment of {start_words} was cancelled at {} by {}, {} hours before its \
                 start: inside the policy's {window}-hour late-cancellation window. The disputed \
                 amount is the late-cancellation fee set by the policy accepted at booking.",
                render_utc(e.at),
                e.by,
                (appt.start - e.at) / 3600
            )
        }),
        Some(FeeKind::NoShow) => no_show.map(|e| {
            format!(
                "The cardholder did not attend the appointment of {start_words}, and did not cancel it. It \
                 was marked as not attended at {} by {}. The disputed amount is the no-show fee set \
                 by the policy accepted at booking.",
                render_utc(e.at),
                e.by
            )
        }),
        None => matches!(appt.status, Status::Arrived | Status::Completed).then(|| {
            format!("The service was provided at the appointment of {start_words}.")
        }),
    };
    Ok(DisputeEvidence {
        product_description: product,
        service_date: jiff::Timestamp::from_second(appt.start)
            .map(|t| t.to_zoned(zone.clone()).date().to_string())
            .unwrap_or_default(),
        cancellation_policy_disclosure: disclosure.map(clip),
        cancellation_rebuttal: rebuttal.map(clip),
        access_activity_log: (!log.is_empty()).then(|| clip(log.join("\n"))),
    })
}

/// The confirmations and reminders sent to the patient about `appt` (from her access index: the
/// messages' audit entries, each message read for the appointment it is about), oldest first.
async fn reminders(state: &AppState, appt: &Appointment) -> Result<Vec<(i64, String)>, ApiError> {
    // Her index around the appointment only: from a day before it was booked to a day after it.
    let nanos = |t: i64| format!("{:020}", i128::from(t) * 1_000_000_000);
    let query = Query::partition(audit_access_partition(appt.patient.as_str())).sort(
        crate::store::SortKey::Between(
            nanos(appt.created_at - 86_400),
            format!("{}~", nanos(appt.end + 86_400)),
        ),
    );
    let copies = query_all(&*state.table, &query).await?;
    let mut out = Vec::new();
    for copy in copies
        .iter()
        .filter(|c| c.get(attr::ACTION).and_then(AttrValue::as_s) == Some("notification.send"))
    {
        let entry_key = crate::store::Key::new(s(copy, attr::ENTRY_PK)?, copy.key.sk.clone());
        let Some(entry) = state.table.get(&entry_key, Consistency::Eventual).await? else {
            continue;
        };
        let kind = s(&entry, attr::ENTITY)?
            .strip_prefix("message.")
            .unwrap_or_default()
            .to_owned();
        let Some((_, words)) = MESSAGES.iter().find(|(code, _)| *code == kind) else {
            continue;
        };
        let Some(message) = entry
            .get(attr::ENTITY_ID)
            .and_then(AttrValue::as_s)
            .and_then(domain::ids::OutboxId::parse)
        else {
            continue;
        };
        let Some(item) = state
            .table
            .get(&outbox_key(&message), Consistency::Eventual)
            .await?
        else {
            continue;
        };
        if item.get(attr::APPOINTMENT_ID).and_then(AttrValue::as_s) != Some(appt.id.as_str()) {
            continue;
        }
        let at = entry.get(attr::AT).and_then(AttrValue::as_n).unwrap_or(0);
        let channels = match item.get(attr::CHANNELS) {
            Some(AttrValue::L(list)) => list
                .iter()
                .filter_map(AttrValue::as_s)
                .collect::<Vec<_>>()
                .join(" and "),
            _ => "email".into(),
        };
        out.push((
            at,
            format!(
                "{}: {words} sent by {channels} to the cardholder's address on file (accepted for delivery; no bounce reported)",
                render_utc(at),
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ids::ChargeId;
    use domain::ledger::Ledger;
    use domain::money::{Currency, Money};
    use domain::progress::{PaymentStatus, Progress};

    fn charge(
        at: i64,
        total: i64,
        appointment: Option<&AppointmentId>,
        fee: Option<FeeKind>,
    ) -> Charge {
        Charge {
            id: ChargeId::new(),
            patient: PatientId::parse("patient-1").unwrap(),
            currency: Currency::parse("USD").unwrap(),
            total,
            appointment: appointment.cloned(),
            adjusts: None,
            created_at: at,
            sealed_lines: Vec::new(),
            fee,
            waiver: None,
        }
    }

    fn paid(at: i64, amount: i64, charges: &[&Charge]) -> Payment {
        Payment {
            id: PaymentId::new(),
            patient: PatientId::parse("patient-1").unwrap(),
            intent: format!("pi_{at}"),
            amount: Money::new(amount, Currency::parse("USD").unwrap()).unwrap(),
            charges: charges.iter().map(|c| c.id.clone()).collect(),
            progress: Progress {
                status: PaymentStatus::Succeeded,
                ..Progress::default()
            },
            version: 1,
            created_at: at,
            deposit_for: None,
        }
    }

    #[test]
    fn a_payment_answers_for_what_the_statement_says_it_paid() {
        let (ten, two) = (AppointmentId::new(), AppointmentId::new());
        let visit_fee = charge(1, 5000, Some(&ten), Some(FeeKind::LateCancellation));
        let later_fee = charge(2, 5000, Some(&two), Some(FeeKind::LateCancellation));
        let no_visit = charge(3, 9000, None, None);
        // The card paid the 10:00 fee by name; a payment of the balance then paid the next open
        // charge, the 14:00 fee (not the latest charge with a visit, nor the one already paid).
        let by_card = paid(10, 5000, &[&visit_fee]);
        let balance = paid(20, 5000, &[]);
        let rest = paid(30, 9000, &[]);
        let ledger = Ledger {
            patient: PatientId::parse("patient-1").unwrap(),
            charges: vec![visit_fee, later_fee, no_visit],
            payments: vec![by_card.clone(), balance.clone(), rest.clone()],
            version: 3,
        };
        assert_eq!(
            answered(&by_card, &ledger),
            Some((ten, Some(FeeKind::LateCancellation)))
        );
        assert_eq!(
            answered(&balance, &ledger),
            Some((two, Some(FeeKind::LateCancellation)))
        );
        // What paid a charge for no visit answers for none (the evidence stays generic).
        assert_eq!(answered(&rest, &ledger), None);
    }
}
