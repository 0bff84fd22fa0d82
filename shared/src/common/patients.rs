//! A patient's record opened: what registration, the patient's own reads and the notify job's
//! contact lookup all read the same way. Writing the record is `crate::booking::patients`.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::{corrupt, parsed};
use crate::store::keys::patient_key;
use crate::store::{AttrValue, Consistency, Item, attr};
use domain::ids::PatientId;
use domain::sensitive::Sensitive;

/// The record's fields sealed under the patient's key, in the order [`PatientView`] holds them.
pub const SEALED_FIELDS: [&str; 4] = [attr::NAME, attr::DATE_OF_BIRTH, attr::PHONE, attr::EMAIL];

/// A patient record opened for an authorized reader.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatientView {
    pub patient_id: PatientId,
    pub name: Sensitive<String>,
    pub date_of_birth: Sensitive<String>,
    pub phone: Sensitive<String>,
    pub email: Sensitive<String>,
    /// Whether the identity provider has verified this address for the patient's own login; an
    /// unverified address may have been typed by anyone and proves nothing about who they are.
    pub email_verified: bool,
}

pub(crate) async fn open(state: &AppState, item: &Item) -> Result<PatientView, ApiError> {
    let id = parsed(item, attr::ID, PatientId::parse)?;
    let key = patient_key(&id);
    let mut fields = Vec::with_capacity(4);
    for field in SEALED_FIELDS {
        let sealed = item
            .get(field)
            .and_then(AttrValue::as_b)
            .ok_or_else(|| corrupt(field))?;
        fields.push(state.sealer.open_str(&key, field, sealed).await?);
    }
    let mut fields = fields.into_iter();
    let mut next = || fields.next().ok_or_else(|| corrupt("patient"));
    Ok(PatientView {
        patient_id: id,
        name: next()?,
        date_of_birth: next()?,
        phone: next()?,
        email: next()?,
        email_verified: matches!(item.get(attr::EMAIL_VERIFIED), Some(AttrValue::Bool(true))),
    })
}

/// A patient's record opened to send them a message (the notify job; its audit entry for the
/// message names the patient). `None` when there is no record.
pub(crate) async fn contact(
    state: &AppState,
    id: &PatientId,
) -> Result<Option<PatientView>, ApiError> {
    match state
        .table
        .get(&patient_key(id), Consistency::Strong)
        .await?
    {
        Some(item) => Ok(Some(open(state, &item).await?)),
        None => Ok(None),
    }
}

/// Only the name of a patient's record, opened for a list an authorized reader sees (a calendar);
/// `None` when there is no record.
pub(crate) async fn name_of(
    state: &AppState,
    id: &PatientId,
) -> Result<Option<Sensitive<String>>, ApiError> {
    let key = patient_key(id);
    let Some(item) = state.table.get(&key, Consistency::Eventual).await? else {
        return Ok(None);
    };
    let sealed = item
        .get(attr::NAME)
        .and_then(AttrValue::as_b)
        .ok_or_else(|| corrupt(attr::NAME))?;
    Ok(Some(state.sealer.open_str(&key, attr::NAME, sealed).await?))
}

/// How many patient records a list opens at once (a month of every provider's calendar can name
/// hundreds: the table and the key service see a bounded stream, not a burst).
const NAMES_IN_FLIGHT: usize = 16;

/// The names of the patients a list shows (each record read once, [`NAMES_IN_FLIGHT`] at a time;
/// the list's audit record must name every one of them).
pub(crate) async fn names_of<'a>(
    state: &AppState,
    patients: impl Iterator<Item = &'a PatientId>,
) -> Result<HashMap<PatientId, Sensitive<String>>, ApiError> {
    let opened = each_record(state, patients.cloned().collect(), |state, id| async move {
        name_of(&state, &id).await
    })
    .await?;
    Ok(opened
        .into_iter()
        .filter_map(|(id, name)| Some((id, name?)))
        .collect())
}

/// The records of the patients a search found, opened whole (`None`s dropped).
pub(crate) async fn records_of(
    state: &AppState,
    patients: BTreeSet<PatientId>,
) -> Result<Vec<PatientView>, ApiError> {
    let opened = each_record(state, patients, |state, id| async move {
        match state
            .table
            .get(&patient_key(&id), Consistency::Eventual)
            .await?
        {
            Some(item) => Ok(Some(open(&state, &item).await?)),
            None => Ok(None),
        }
    })
    .await?;
    Ok(opened.into_iter().filter_map(|(_, view)| view).collect())
}

/// `read` of each distinct patient, [`NAMES_IN_FLIGHT`] at a time.
async fn each_record<T, F, Fut>(
    state: &AppState,
    patients: BTreeSet<PatientId>,
    read: F,
) -> Result<Vec<(PatientId, T)>, ApiError>
where
    F: Fn(AppState, PatientId) -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    use futures_util::{StreamExt as _, TryStreamExt as _};
    // Owned ids and state: the stream's futures borrow nothing (a handler's future stays Send).
    futures_util::stream::iter(patients)
        .map(|id| {
            let opened = read(state.clone(), id.clone());
            async move { Ok::<_, ApiError>((id, opened.await?)) }
        })
        .buffer_unordered(NAMES_IN_FLIGHT)
        .try_collect()
        .await
}
