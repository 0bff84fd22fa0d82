//! Reading a report's facts from the table: the audit entries of both periods (a day partition at a
//! time), the appointments they name, the providers' working time and calendars, the ledgers with
//! charges (through the `CHARGES` index) and their payments, feedback, and the audit log's
//! checkpoints. Reads run [`IN_FLIGHT`] at a time. Only
//! PHI-free attributes are read: no sealed field is ever opened here.

use crate::store::codec::booking::{AppointmentCodec, PracticeCodec, ProviderCodec};
use crate::store::codec::feedback::FeedbackCodec;
use crate::store::codec::payments::{ChargeCodec, PaymentCodec};
use domain::feedback::Feedback;
use std::collections::{BTreeMap, BTreeSet};

use crate::error::ApiError;
use crate::store::codec::{corrupt, n, s};
use crate::store::keys::*;
use crate::store::{AttrValue, Consistency, Item, Query, SortKey, Table, attr, query_all};
use domain::booking::{Appointment, Practice, Provider, Status};
use domain::checkpoint::Checkpoint;
use domain::ids::{AppointmentId, PatientId};
use domain::ledger::{Charge, Payment};
use domain::progress::PaymentStatus;
use domain::refusals::BookingError;
use domain::report::*;
use domain::schedule::Calendar;

/// The practice's settings; a report of a practice not set up yet is refused.
pub async fn practice(table: &dyn Table) -> Result<Practice, ApiError> {
    match table.get(&practice_key(), Consistency::Strong).await? {
        Some(item) => Ok(Practice::from_item(&item)?),
        None => Err(BookingError::PracticeNotConfigured.into()),
    }
}

fn entry_of(item: &Item, interner: &mut Interner) -> Result<EntryFact, ApiError> {
    let list = |name: &str| match item.get(name) {
        Some(AttrValue::L(list)) => list.iter().filter_map(AttrValue::as_s).collect(),
        _ => Vec::new(),
    };
    Ok(EntryFact {
        at: n(item, attr::AT)?,
        actor: interner.str(s(item, attr::ACTOR)?),
        actor_name: item
            .get(attr::ACTOR_NAME)
            .and_then(AttrValue::as_s)
            .map(|name| interner.str(name)),
        roles: interner.list(list(attr::ROLES)),
        action: interner.str(s(item, attr::ACTION)?),
        entity: interner.str(s(item, attr::ENTITY)?),
        outcome: interner.str(s(item, attr::OUTCOME)?),
        entity_id: interner.str(s(item, attr::ENTITY_ID)?),
        patients: interner.list(list(attr::PATIENT_IDS)),
        count: item
            .get(attr::COUNT)
            .and_then(AttrValue::as_n)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(1),
    })
}

/// The audit entries of `[start, end)`, in time order.
pub(crate) async fn entries(
    table: &dyn Table,
    start: i64,
    end: i64,
) -> Result<Vec<EntryFact>, ApiError> {
    let day = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(domain::clock::utc_day)
            .map_err(|_| corrupt("period"))
    };
    let (mut d, last) = (day(start)?, day(end)?);
    let (mut out, mut interner) = (Vec::new(), Interner::default());
    loop {
        for item in query_all(table, &Query::partition(audit_partition(d))).await? {
            let e = entry_of(&item, &mut interner)?;
            if start <= e.at && e.at < end {
                out.push(e);
            }
        }
        match d.tomorrow().ok() {
            Some(next) if next <= last => d = next,
            _ => break,
        }
    }
    Ok(out)
}

fn payment_fact(p: &Payment) -> PaymentFact {
    PaymentFact {
        created_at: p.created_at,
        currency: p.amount.currency().code().to_owned(),
        status: p.progress.status,
        succeeded_at: p.progress.succeeded_at,
        failure: p
            .progress
            .failure
            .as_ref()
            .map(|(f, _)| (f.code.clone(), f.decline_code.clone())),
        checks: p.progress.checks.as_ref().map(|(c, _)| *c),
        refunded: p.progress.refunded_net(p.amount.amount()),
        failed_refunds: p
            .progress
            .refunds
            .values()
            .filter(|r| r.failed)
            .map(|r| (r.at, r.amount))
            .collect(),
        disputes: p.progress.disputes.values().cloned().collect(),
        deposit: p.deposit_for.as_ref().map(|_| p.amount.amount()),
    }
}

fn appointment_fact(a: &Appointment) -> AppointmentFact {
    AppointmentFact {
        id: a.id.to_string(),
        provider: a.provider.to_string(),
        created_at: a.created_at,
        start: a.start,
        end: a.end,
        cancelled: a.status == Status::Cancelled,
        from_hold: a.from_hold.as_ref().map(ToString::to_string),
        patient: a.patient.to_string(),
        service: a.service.to_string(),
        forms_ready: None,
        no_show: a.status == Status::NoShow,
        late_window: a.terms.as_ref().map(|t| t.window_secs),
        by_practice: a.by_practice,
        online: a.online,
    }
}

/// For each visit of the periods whose service asks for forms, whether every one was submitted
/// before it began (the submissions' times are in their keys: nothing is opened).
async fn forms_readiness(
    table: &dyn Table,
    appointments: &mut BTreeMap<String, AppointmentFact>,
) -> Result<(), ApiError> {
    use crate::store::codec::booking::ServiceCodec;
    let mut asks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in query_all(table, &Query::gsi1(SERVICES_INDEX)).await? {
        let s = domain::booking::Service::from_item(&item)?;
        let forms: Vec<String> = s
            .forms_before_first_visit
            .iter()
            .chain(&s.forms_before_every_visit)
            .map(|f| f.as_str().to_owned())
            .collect();
        if !forms.is_empty() {
            asks.insert(s.id.to_string(), forms);
        }
    }
    if asks.is_empty() {
        return Ok(());
    }
    let mut submitted: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for a in appointments.values_mut() {
        let Some(forms) = asks.get(&a.service) else {
            continue;
        };
        if !submitted.contains_key(&a.patient) {
            let Some(patient) = PatientId::parse(&a.patient) else {
                continue;
            };
            let query = Query::partition(patient_partition(&patient))
                .sort(SortKey::BeginsWith(PATIENT_SUBMISSION_PREFIX.into()));
            let found = query_all(table, &query)
                .await?
                .iter()
                .filter_map(|i| {
                    // `FORMSUB#<form>#<at, 12 digits>#<id>`
                    let mut parts = i.key.sk.strip_prefix(PATIENT_SUBMISSION_PREFIX)?.split('#');
                    let form = parts.next()?.to_owned();
                    let at = parts.next()?.parse().ok()?;
                    Some((form, at))
                })
                .collect();
            submitted.insert(a.patient.clone(), found);
        }
        let hers = &submitted[&a.patient];
        a.forms_ready = Some(
            forms
                .iter()
                .all(|f| hers.iter().any(|(g, at)| g == f && *at < a.start)),
        );
    }
    Ok(())
}

/// How many reads the collector keeps in flight (DynamoDB answers each in milliseconds; one at a
/// time, a month of records would take minutes).
const IN_FLIGHT: usize = 16;

/// Runs `read` over `keys`, [`IN_FLIGHT`] at a time; results in any order.
async fn each<K, T, F, Fut>(keys: Vec<K>, read: F) -> Result<Vec<T>, ApiError>
where
    F: Fn(K) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    use futures_util::StreamExt as _;
    futures_util::stream::iter(keys.into_iter().map(read))
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// One patient's ledger: its charges (net of adjustments) and what was paid on them, per currency,
/// and its payments.
fn ledger_facts(items: &[Item], end: i64) -> Result<LedgerFacts, ApiError> {
    let mut charges = Vec::new();
    let mut payments = Vec::new();
    for item in items {
        match item.get(attr::KIND).and_then(AttrValue::as_s) {
            Some("charge") => charges.push(Charge::from_item(item)?),
            Some("payment") => payments.push(Payment::from_item(item)?),
            _ => {}
        }
    }
    let mut by_currency: BTreeMap<String, LedgerFact> = BTreeMap::new();
    for c in charges.iter().filter(|c| c.adjusts.is_none()) {
        let net = c.total
            + charges
                .iter()
                .filter(|a| a.adjusts.as_ref() == Some(&c.id))
                .map(|a| a.total)
                .sum::<i64>();
        let code = c.currency.code().to_owned();
        by_currency
            .entry(code.clone())
            .or_insert_with(|| LedgerFact {
                currency: code,
                charges: Vec::new(),
                paid: Vec::new(),
            })
            .charges
            .push((c.created_at, net));
    }
    for p in &payments {
        if p.progress.status != PaymentStatus::Succeeded {
            continue;
        }
        let at = p.progress.succeeded_at.unwrap_or(p.created_at);
        if let Some(l) = by_currency.get_mut(p.amount.currency().code()) {
            let (paid, back, disputed) = p.progress.settled(p.amount.amount());
            l.paid.push((at, paid - back - disputed));
        }
    }
    let fees = fee_facts(&charges, &by_currency, end);
    Ok((
        by_currency.into_values().collect(),
        payments.iter().map(payment_fact).collect(),
        fees,
    ))
}

/// A ledger's facts: per currency, its payments, its fees.
type LedgerFacts = (Vec<LedgerFact>, Vec<PaymentFact>, Vec<FeeFact>);

/// The fees among one ledger's charges before `end`: each with its waiver and what was paid of it
/// by then (payments settle the oldest charges first, as the statement and the ageing have it).
fn fee_facts(charges: &[Charge], ledgers: &BTreeMap<String, LedgerFact>, end: i64) -> Vec<FeeFact> {
    let mut out = Vec::new();
    let charges: Vec<&Charge> = charges.iter().filter(|c| c.created_at < end).collect();
    for (code, ledger) in ledgers {
        let mut paid: i64 = ledger
            .paid
            .iter()
            .filter(|(at, _)| *at < end)
            .map(|(_, a)| a)
            .sum();
        let mut open: Vec<&Charge> = charges
            .iter()
            .filter(|c| c.adjusts.is_none() && c.currency.code() == code)
            .copied()
            .collect();
        open.sort_by_key(|c| (c.created_at, c.id.clone()));
        for c in open {
            let adjustments = charges.iter().filter(|a| a.adjusts.as_ref() == Some(&c.id));
            let net = c.total + adjustments.clone().map(|a| a.total).sum::<i64>();
            let settled = paid.clamp(0, net.max(0));
            paid -= settled;
            let Some(kind) = c.fee else { continue };
            let waived = adjustments
                .filter_map(|a| Some((a.created_at, -a.total, a.waiver?)))
                .next();
            out.push(FeeFact {
                kind,
                currency: code.clone(),
                created_at: c.created_at,
                amount: c.total,
                net,
                appointment: c.appointment.as_ref().map(ToString::to_string),
                waived,
                collected: settled,
            });
        }
    }
    out
}

/// Every ledger with a charge created before `end` (found through the `CHARGES` index), and every
/// payment on them.
async fn ledgers(table: &dyn Table, end: i64) -> Result<LedgerFacts, ApiError> {
    let query = Query::gsi1(CHARGES_INDEX).sort(SortKey::Lt(instant_key(end)));
    let patients: BTreeSet<String> = query_all(table, &query)
        .await?
        .iter()
        .map(|i| s(i, attr::PATIENT_ID).map(str::to_owned))
        .collect::<Result<_, _>>()?;
    let read = |patient: String| async move {
        let id = PatientId::parse(&patient).ok_or_else(|| corrupt("patient_id"))?;
        let items = query_all(table, &Query::partition(ledger_partition(&id))).await?;
        Ok::<_, ApiError>((patient, ledger_facts(&items, end)?))
    };
    let mut read = each(patients.into_iter().collect(), read).await?;
    // In patient order, whatever order the reads finished in.
    read.sort_by(|a, b| a.0.cmp(&b.0));
    let (mut ledgers, mut payments, mut fees) = (Vec::new(), Vec::new(), Vec::new());
    for (_, (l, p, f)) in read {
        ledgers.extend(l);
        payments.extend(p);
        fees.extend(f);
    }
    Ok((ledgers, payments, fees))
}

/// The checkpoint that covers the period (the first signed at or after its end), else the latest.
pub(crate) async fn log_status(
    table: &dyn Table,
    end: i64,
    verification: String,
) -> Result<LogStatus, ApiError> {
    let query = Query::partition(AUDIT_LOG_CHECKPOINTS).consistent();
    let mut signed = Vec::new();
    for item in query_all(table, &query).await? {
        let note = s(&item, attr::NOTE)?;
        let body = domain::checkpoint::open_note(note)
            .map(|(body, _)| body)
            .ok_or_else(|| corrupt(attr::NOTE))?;
        let c = Checkpoint::parse(body).ok_or_else(|| corrupt(attr::NOTE))?;
        signed.push((c.time.unwrap_or(0), c.size));
    }
    signed.sort_unstable();
    let covering = signed.iter().find(|(t, _)| *t >= end);
    let chosen = covering.or(signed.last());
    Ok(LogStatus {
        checkpoint_size: chosen.map(|c| c.1),
        checkpoint_signed_at: chosen.map(|c| c.0),
        covers_period: covering.is_some(),
        verification,
    })
}

/// The facts of `period` and `previous`; `verification` is what the job's check of the audit log
/// found.
pub async fn facts(
    table: &dyn Table,
    period: &Period,
    previous: &Period,
    verification: String,
) -> Result<Facts, ApiError> {
    let practice = practice(table).await?;
    let entries = entries(table, previous.start, period.end).await?;

    let mut appointments = BTreeMap::new();
    let mut named_appointments = BTreeSet::new();
    let mut read_patients = BTreeSet::new();
    for e in &entries {
        if &*e.outcome == "success"
            && e.action.starts_with("appointment.")
            && &*e.action != "appointment.list"
            && let Some(id) = AppointmentId::parse(&e.entity_id)
        {
            named_appointments.insert(id);
        }
        if e.is_workforce() && &*e.outcome == "success" {
            read_patients.extend(e.patients.iter().map(|p| p.to_string()));
        }
    }

    // Providers, their working time, and the appointments in their calendars.
    let mut providers = Vec::new();
    let mut working = BTreeMap::new();
    for item in query_all(table, &Query::gsi1(PROVIDERS_INDEX)).await? {
        let p = Provider::from_item(&item)?;
        let cal = Calendar {
            rules: &p.rules,
            zone: &practice.zone,
        };
        let mut spans = Vec::new();
        let mut date = previous.from;
        while date < period.to {
            spans.extend(cal.working(date));
            date = date.tomorrow().map_err(|_| corrupt("period"))?;
        }
        let within = |period: &Period| {
            spans
                .iter()
                .map(|&(a, b)| (b.min(period.end) - a.max(period.start)).max(0))
                .sum::<i64>()
        };
        providers.push(ProviderFact {
            id: p.id.to_string(),
            name: p.name.clone(),
            subject: p.subject.as_ref().map(|s| s.as_str().to_owned()),
            cancel_cutoff: p.rules.cancel_cutoff(),
            working: (within(period), within(previous)),
        });
        working.insert(p.id.to_string(), spans);
        let calendar = Query::gsi1(calendar_partition(&p.id)).sort(SortKey::Between(
            instant_key(previous.start),
            instant_key(period.end),
        ));
        for item in query_all(table, &calendar).await? {
            let a = appointment_fact(&Appointment::from_item(&item)?);
            appointments.entry(a.id.clone()).or_insert(a);
        }
    }
    providers.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    // The appointments entries name that the calendars did not show (booked for later).
    let missing = named_appointments
        .into_iter()
        .filter(|id| !appointments.contains_key(id.as_str()))
        .collect();
    let read = |id: AppointmentId| async move {
        match table
            .get(&appointment_key(&id), Consistency::Eventual)
            .await?
        {
            Some(item) => Ok(Some(appointment_fact(&Appointment::from_item(&item)?))),
            None => Ok(None),
        }
    };
    for a in each(missing, read).await?.into_iter().flatten() {
        appointments.insert(a.id.clone(), a);
    }
    forms_readiness(table, &mut appointments).await?;

    // Which of the patients staff read have appointments, and with whom.
    let read = |patient: String| async move {
        let Some(id) = PatientId::parse(&patient) else {
            return Ok(Vec::new());
        };
        let query = Query::partition(patient_partition(&id))
            .sort(SortKey::BeginsWith(PATIENT_APPOINTMENT_PREFIX.into()));
        query_all(table, &query)
            .await?
            .iter()
            .map(|item| Ok((patient.clone(), s(item, attr::PROVIDER_ID)?.to_owned())))
            .collect::<Result<Vec<_>, ApiError>>()
    };
    let patient_providers = each(read_patients.into_iter().collect(), read)
        .await?
        .into_iter()
        .flatten()
        .collect();

    let feedback = feedback_created_between(table, 0, period.end)
        .await?
        .iter()
        .map(|f| FeedbackFact {
            category: f.category,
            created_at: f.created_at,
            resolved_at: f.resolution.as_ref().map(|r| r.at),
        })
        .collect();

    let mut counters: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for (i, p) in [period, previous].into_iter().enumerate() {
        for (name, n) in crate::counters::totals(table, p.start, p.end).await? {
            counters.entry(name).or_default()[i] = n;
        }
    }
    let (ledgers, mut payments, fees) = ledgers(table, period.end).await?;
    payments.retain(|p| previous.start <= p.created_at && p.created_at < period.end);
    Ok(Facts {
        practice: practice.name.clone(),
        zone: practice.zone.clone(),
        entries,
        payments,
        appointments,
        providers,
        working,
        ledgers,
        fees,
        feedback,
        patient_providers,
        counters,
        log: log_status(table, period.end, verification).await?,
    })
}

/// Every feedback item created in `[from, to)` (Unix seconds), oldest first: what the report counts.
async fn feedback_created_between(
    table: &dyn crate::store::Table,
    from: i64,
    to: i64,
) -> Result<Vec<Feedback>, ApiError> {
    // Sort keys are `<created>#<id>`: bare `<to>` sorts before every item created at `to`.
    let query =
        Query::gsi1(FEEDBACK_INDEX).sort(SortKey::Between(instant_key(from), instant_key(to)));
    crate::store::query_all(table, &query)
        .await?
        .iter()
        .map(|item| Ok(Feedback::from_item(item)?))
        .collect()
}
