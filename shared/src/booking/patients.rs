//! Patients: demographics sealed field by field (name, date of birth, phone, email), an email
//! blind index so staff can find a patient by exact address (and the search terms of
//! [`super::patient_search`] by name, phone and date of birth), and an audit record for every read.

use crate::store::attr;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::patient_search as search;
use crate::auth::{Resource, Role};
use crate::common::patients::{PatientView, SEALED_FIELDS, open};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, GSI1_PK, GSI1_SK, Item, Query, TransactOp, Update, query_all,
};
use crate::unit_of_work::refused;
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, audit_read, commit};
use domain::access::Caller;
use domain::ids::PatientId;
use domain::refusals::PatientError;
use domain::sensitive::Sensitive;

/// A patient's details as sent by the client; every field is patient data.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientDetails {
    pub name: Sensitive<String>,
    pub date_of_birth: Sensitive<Date>,
    pub phone: Sensitive<String>,
    pub email: Sensitive<String>,
}

/// Staff registering a patient under the subject of the patient's login.
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPatient {
    pub patient_id: PatientId,
    pub name: Sensitive<String>,
    pub date_of_birth: Sensitive<Date>,
    pub phone: Sensitive<String>,
    pub email: Sensitive<String>,
}

impl NewPatient {
    fn split(self) -> (PatientId, PatientDetails) {
        (
            self.patient_id,
            PatientDetails {
                name: self.name,
                date_of_birth: self.date_of_birth,
                phone: self.phone,
                email: self.email,
            },
        )
    }
}

fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    e.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@')
}

fn valid_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && p.len() <= 32
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

impl PatientDetails {
    /// Checks the fields; the error names the field, never its value.
    fn validate(&self, today: Date) -> Result<(), ApiError> {
        let name = self.name.expose().trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(ApiError::Patient(PatientError::InvalidName));
        }
        let dob = *self.date_of_birth.expose();
        if dob > today || dob < jiff::civil::date(1900, 1, 1) {
            return Err(ApiError::Patient(PatientError::InvalidDateOfBirth));
        }
        if !valid_phone(self.phone.expose()) {
            return Err(ApiError::Patient(PatientError::InvalidPhone));
        }
        if !valid_email(self.email.expose().trim()) {
            return Err(ApiError::Patient(PatientError::InvalidEmail));
        }
        Ok(())
    }
}

fn today(state: &AppState) -> Date {
    domain::clock::utc_day(state.clock.now())
}

async fn sealed_item(
    state: &AppState,
    id: &PatientId,
    details: &PatientDetails,
    email_verified: bool,
    terms: &std::collections::BTreeSet<String>,
) -> Result<Item, ApiError> {
    let key = patient_key(id);
    let blind = state.blind_index().await?;
    let dob = details.date_of_birth.expose().to_string();
    let values = [
        details.name.expose().trim(),
        dob.as_str(),
        details.phone.expose().trim(),
        details.email.expose().trim(),
    ];
    let mut item = Item::new(key.clone())
        .with(attr::ID, id.as_str())
        .with(GSI1_PK, email_index(&blind.email(details.email.expose())))
        .with(GSI1_SK, patient_index_sort(id))
        .with(attr::EMAIL_VERIFIED, AttrValue::Bool(email_verified))
        .with(attr::SEARCH_TERMS, search::listed(terms));
    for (field, value) in SEALED_FIELDS.iter().zip(values) {
        item.set(*field, state.sealer.seal_str(&key, field, value).await?);
    }
    Ok(item)
}

fn view_of(id: &PatientId, details: &PatientDetails, email_verified: bool) -> PatientView {
    PatientView {
        patient_id: id.clone(),
        name: Sensitive::new(details.name.expose().trim().to_owned()),
        date_of_birth: Sensitive::new(details.date_of_birth.expose().to_string()),
        phone: Sensitive::new(details.phone.expose().trim().to_owned()),
        email: Sensitive::new(details.email.expose().trim().to_owned()),
        email_verified,
    }
}

/// Staff register a patient.
#[tracing::instrument(skip_all)]
pub async fn create(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    req: NewPatient,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    let (id, details) = req.split();
    details.validate(today(state))?;
    // Staff typed the address: it stays unverified until the patient's own login proves it.
    let terms = search::terms_of(state, &details).await?;
    let (term_writes, _) = search::term_writes(&id, None, &terms);
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: sealed_item(state, &id, &details, false, &terms).await?,
            condition: Some(Condition::ItemAbsent),
        })
        .or(PatientError::PatientExists),
    ];
    writes.extend(term_writes.into_iter().map(Write::new));
    let reply = Reply::created(&view_of(&id, &details, false))?.with_patient_data();
    let audit = Audit::new("patient.create", "patient", id.as_str()).about(&id);
    Ok(commit(state, caller, idem, writes, audit, reply).await?)
}

/// A patient creates or updates their own record.
#[tracing::instrument(skip_all)]
pub async fn put_me(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    details: PatientDetails,
) -> Result<Reply, ApiError> {
    let id = crate::common::access::own_record(caller)?;
    details.validate(today(state))?;
    let verified = caller.principal.verified_email.as_ref().is_some_and(|v| {
        v.expose()
            .eq_ignore_ascii_case(details.email.expose().trim())
    });
    // The record's search terms follow its name, phone and date of birth: the stale ones go in
    // the same transaction, on the condition that the record still lists what was read.
    let before = state
        .table
        .get(&patient_key(&id), Consistency::Strong)
        .await?;
    let terms = search::terms_of(state, &details).await?;
    let (term_writes, unchanged) = search::term_writes(&id, before.as_ref(), &terms);
    // Nor may the address have changed meanwhile (a confirmation replacing it).
    let unchanged = match before.as_ref().and_then(|b| b.get(attr::EMAIL)) {
        Some(sealed) => Condition::And(vec![
            unchanged,
            Condition::Equals(attr::EMAIL.into(), sealed.clone()),
        ]),
        None => unchanged,
    };
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: sealed_item(state, &id, &details, verified, &terms).await?,
            condition: Some(unchanged),
        })
        .or(PatientError::ChangedMeanwhile),
    ];
    writes.extend(term_writes.into_iter().map(Write::new));
    // A verified address replaced here is told too, as when her login replaces it.
    if let Some(before) = &before {
        let old = open(state, before).await?;
        let new_address = details.email.expose().trim();
        if old.email_verified && !old.email.expose().eq_ignore_ascii_case(new_address) {
            writes.push(Write::new(
                address_changed_notice(state, &id, old.email.expose()).await?,
            ));
        }
    }
    let reply = Reply::ok(&view_of(&id, &details, verified))?.with_patient_data();
    let audit = Audit::new("patient.update", "patient", id.as_str()).about(&id);
    Ok(commit(state, caller, idem, writes, audit, reply).await?)
}

/// A patient confirming the address on their record with their own login's (which the identity
/// provider verified, [`crate::auth::Verifier::verified_email_of`]).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyEmail {
    /// When the addresses differ: put the login's address on the record (else 409 `email_differs`).
    #[serde(default)]
    pub replace: bool,
}

/// The tokens of the request's login: the bearer token (verified already) and the ID token sent
/// with it, if any.
pub struct LoginTokens<'a> {
    pub bearer: &'a str,
    pub id_token: Option<&'a str>,
}

/// What confirming an address answers: no more of the record than that.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerifiedEmail {
    email: Sensitive<String>,
    email_verified: bool,
}

/// The patient's own login vouches for their address: the record's address is marked verified
/// (or, with `replace`, replaced by the login's and marked verified), so messages may go to it.
/// The address is the ID token's when one is sent (else the bearer token's, when it carries one).
/// The write is conditional on the sealed address read, so a concurrent change (staff correcting
/// the record) is never overwritten: it answers 409 and the patient tries again.
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    req: VerifyEmail,
    tokens: LoginTokens<'_>,
) -> Result<Reply, ApiError> {
    let id = crate::common::access::own_record(caller)?;
    let vouched = match tokens.id_token {
        Some(id_token) => state
            .verifier
            .verified_email_of(id_token, tokens.bearer, &caller.principal.subject)
            .await
            .map_err(|e| match e {
                crate::auth::AuthError::JwksUnavailable(_) => ApiError::from(e),
                other => {
                    tracing::info!(reason = %other, "ID token refused");
                    ApiError::Patient(PatientError::InvalidIdToken)
                }
            })?,
        None => caller.principal.verified_email.clone(),
    };
    let vouched = vouched
        .map(|e| e.expose().trim().to_owned())
        .filter(|e| valid_email(e))
        .ok_or(ApiError::Patient(PatientError::EmailNotVouched))?;
    let key = patient_key(&id);
    let item = state
        .table
        .get(&key, Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    let view = open(state, &item).await?;
    // The patient signing in: an older record gets its search terms (before this change, whose
    // write is conditional on the address only, not on them).
    search::backfill(state, &item, &view).await;
    let sealed_before = item
        .get(attr::EMAIL)
        .cloned()
        .ok_or_else(|| crate::store::codec::corrupt(attr::EMAIL))?;
    let same = view.email.expose().eq_ignore_ascii_case(&vouched);
    if !same && !req.replace {
        return Err(ApiError::Patient(PatientError::EmailDiffers));
    }
    let was_verified = view.email_verified;
    let replaced = view.email.expose().clone();
    let mut update = Update::default().set(attr::EMAIL_VERIFIED, AttrValue::Bool(true));
    let mut answer = VerifiedEmail {
        email: view.email,
        email_verified: true,
    };
    if !same {
        let blind = state.blind_index().await?;
        update = update
            .set(
                attr::EMAIL,
                AttrValue::B(state.sealer.seal_str(&key, attr::EMAIL, &vouched).await?),
            )
            .set(GSI1_PK, email_index(&blind.email(&vouched)));
        answer.email = Sensitive::new(vouched);
    }
    let mut writes = vec![
        Write::new(TransactOp::Update {
            key,
            update,
            condition: Some(Condition::Equals(attr::EMAIL.into(), sealed_before)),
        })
        .or(PatientError::ChangedMeanwhile),
    ];
    // A verified address replaced hears of it (once, in the same transaction): if it was not the
    // patient who changed it, its owner can call the practice. An unverified one proves nothing
    // about whose it is, so nothing goes to it.
    if !same && was_verified {
        writes.push(Write::new(
            address_changed_notice(state, &id, &replaced).await?,
        ));
    }
    let reply = Reply::ok(&answer)?.with_patient_data();
    let action = if same {
        "patient.email.verify"
    } else {
        "patient.email.replace"
    };
    let audit = Audit::new(action, "patient", id.as_str()).about(&id);
    Ok(commit(state, caller, idem, writes, audit, reply).await?)
}

/// The outbox message telling `replaced` that the patient's address was changed; the address is
/// sealed on the message (the notify job opens it to send).
async fn address_changed_notice(
    state: &AppState,
    id: &PatientId,
    replaced: &str,
) -> Result<TransactOp, ApiError> {
    use crate::store::codec::notify::MessageCodec as _;
    let now = state.clock.now().as_second();
    let notice = domain::notify::Message::new(domain::notify::Kind::AddressChanged, id, now, now);
    let key = outbox_key(&notice.id);
    let mut item = notice.to_item();
    item.set(
        attr::TO_EMAIL,
        AttrValue::B(
            state
                .sealer
                .seal_str(&key, attr::TO_EMAIL, replaced)
                .await?,
        ),
    );
    Ok(TransactOp::Put {
        item,
        condition: Some(Condition::ItemAbsent),
    })
}

/// One patient's record: the patient themself, or staff.
#[tracing::instrument(skip_all)]
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: &PatientId,
) -> Result<PatientView, ApiError> {
    let target = Audit::new("patient.read", "patient", id.as_str()).about(id);
    let found = async {
        caller.principal.authorize(
            &[Role::Patient, Role::Staff, Role::Admin],
            Resource::Patient(id.subject()),
        )?;
        state
            .table
            .get(&patient_key(id), Consistency::Strong)
            .await?
            .ok_or(ApiError::NotFound)
    };
    let item = refused(state, caller, target.clone(), found.await).await?;
    // Opening the sealed fields needs the key service: an outage is a `failed` access.
    let view = refused(state, caller, target, open(state, &item).await).await?;
    audit_read(
        state,
        caller,
        Audit::new("patient.read", "patient", id.as_str()).about(id),
    )
    .await?;
    search::backfill(state, &item, &view).await;
    Ok(view)
}

/// Staff find patients by exact email address (through the blind index). Every match is shown
/// with whether its address is verified; an empty search is audited too.
#[tracing::instrument(skip_all)]
pub(crate) async fn find_by_email(
    state: &AppState,
    caller: &Caller,
    email: Sensitive<String>,
) -> Result<search::Found, ApiError> {
    let email = email.expose();
    caller.authorize_staff()?;
    if !valid_email(email.trim()) {
        return Err(ApiError::Patient(PatientError::InvalidEmail));
    }
    let blind = state.blind_index().await?;
    let query = Query::gsi1(email_index(&blind.email(email)));
    // The search itself is recorded, whether or not it finds anyone (no address in the record);
    // it is its own entity, keyed by the request, so searches do not share one index partition.
    let search = Audit::new(
        "patient.search",
        "patient_search",
        caller.request_id.clone(),
    );
    audit_read(state, caller, search).await?;
    let mut found = Vec::new();
    for item in query_all(&*state.table, &query).await? {
        let view = open(state, &item).await?;
        search::backfill(state, &item, &view).await;
        audit_read(
            state,
            caller,
            Audit::new("patient.read", "patient", view.patient_id.as_str()).about(&view.patient_id),
        )
        .await?;
        found.push(view);
    }
    Ok(search::Found {
        patients: found,
        more: false,
    })
}
