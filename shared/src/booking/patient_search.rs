//! Finding patients by name, phone or date of birth without the table holding any of them in
//! plaintext: each term of `domain::search` a record is found under is stored as its blind index
//! (`PATIENT#<id>` / `FIND#<blind>`, indexed by the blind value), written in the same transaction
//! as the record, and the record lists its terms so a change removes the stale ones. A search
//! looks up each term of the query, keeps the patients under all of them, opens their records and
//! keeps those that really match (the index narrows, the opened record decides).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::{search_index, search_term_key};
use crate::store::{AttrValue, Condition, GSI1_PK, GSI1_SK, Item, Query, TransactOp};
use crate::store::{attr, keys::patient_index_sort};
use crate::unit_of_work::{Audit, audit_read};
use domain::access::Caller;
use domain::ids::PatientId;
use domain::refusals::PatientError;
use domain::search::{PatientQuery, QueryError};
use domain::sensitive::Sensitive;

use super::patients::PatientDetails;
use crate::common::patients::{PatientView, records_of};

/// The most patients one search answers; more matches say so and ask for another word.
pub const MAX_RESULTS: usize = 20;
/// The most patients read under one term: a term shared by more is too common to narrow with.
const MAX_PER_TERM: u32 = 200;
/// The blind index's purpose for search terms (apart from email addresses and request bodies).
const SEARCH_PURPOSE: &str = "patient-search";
/// Characters kept of a term's blind index (base64url: 6 bits each, so 36 bits).
const TERM_HASH_CHARS: usize = 6;

/// The blind indexes of a record's search terms.
pub(crate) async fn terms_of(
    state: &AppState,
    details: &PatientDetails,
) -> Result<BTreeSet<String>, ApiError> {
    hashed_terms(
        state,
        details.name.expose(),
        details.phone.expose(),
        *details.date_of_birth.expose(),
    )
    .await
}

/// The blind indexes of the terms of a name, a phone and a date of birth.
async fn hashed_terms(
    state: &AppState,
    name: &str,
    phone: &str,
    born: jiff::civil::Date,
) -> Result<BTreeSet<String>, ApiError> {
    let blind = state.blind_index().await?;
    Ok(domain::search::record_terms(name, phone, born)
        .iter()
        .map(|term| term_hash(blind, term))
        .collect())
}

/// A term's blind index, cut to [`TERM_HASH_CHARS`]: enough to narrow a search (the opened record
/// decides), short enough that a term shared by chance is common, so the items say less about
/// which records share a name, a birthday or a phone number.
fn term_hash(blind: &crate::crypto::BlindIndex, term: &str) -> String {
    blind
        .compute(SEARCH_PURPOSE, term)
        .chars()
        .take(TERM_HASH_CHARS)
        .collect()
}

/// The terms as the record lists them (one attribute, so a write can be conditional on it).
pub(crate) fn listed(terms: &BTreeSet<String>) -> AttrValue {
    AttrValue::S(terms.iter().cloned().collect::<Vec<_>>().join(" "))
}

fn listed_in(item: &Item) -> BTreeSet<String> {
    item.get(attr::SEARCH_TERMS)
        .and_then(AttrValue::as_s)
        .map(|s| {
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The writes that move a patient's terms from what `before` (the record read, if any) lists to
/// `after`, and the condition the record's own write needs so that nothing changed them between.
pub(crate) fn term_writes(
    id: &PatientId,
    before: Option<&Item>,
    after: &BTreeSet<String>,
) -> (Vec<TransactOp>, Condition) {
    let old = before.map(listed_in).unwrap_or_default();
    let condition = match before {
        None => Condition::ItemAbsent,
        Some(item) => match item.get(attr::SEARCH_TERMS) {
            Some(value) => Condition::Equals(attr::SEARCH_TERMS.into(), value.clone()),
            None => Condition::And(vec![
                Condition::ItemExists,
                Condition::AttrAbsent(attr::SEARCH_TERMS.into()),
            ]),
        },
    };
    let removed = old.difference(after).map(|blind| TransactOp::Delete {
        key: search_term_key(id, blind),
        condition: None,
    });
    let added = after.difference(&old).map(|blind| {
        let item = Item::new(search_term_key(id, blind))
            .with(attr::ID, id.as_str())
            .with(GSI1_PK, search_index(blind))
            .with(GSI1_SK, patient_index_sort(id));
        TransactOp::Put {
            item,
            condition: None,
        }
    });
    (removed.chain(added).collect(), condition)
}

/// A record written before search terms existed gets them the first time it is opened (by the
/// patient, by staff, by a search by address): written on the condition that it still has none
/// and its address is what was read, so a change racing it wins. Best effort: a read never fails
/// for it (the next one tries again).
pub(crate) async fn backfill(state: &AppState, item: &Item, view: &PatientView) {
    if item.get(attr::SEARCH_TERMS).is_some() {
        return;
    }
    let result = async {
        let Ok(born) = view.date_of_birth.expose().parse() else {
            return Ok(());
        };
        let terms = hashed_terms(state, view.name.expose(), view.phone.expose(), born).await?;
        let (writes, _) = term_writes(&view.patient_id, Some(item), &terms);
        let mut condition = vec![Condition::AttrAbsent(attr::SEARCH_TERMS.into())];
        if let Some(sealed) = item.get(attr::EMAIL) {
            condition.push(Condition::Equals(attr::EMAIL.into(), sealed.clone()));
        }
        let mut ops = vec![TransactOp::Update {
            key: item.key.clone(),
            update: crate::store::Update::default().set(attr::SEARCH_TERMS, listed(&terms)),
            condition: Some(Condition::And(condition)),
        }];
        ops.extend(writes);
        state.table.transact_write(ops).await?;
        Ok::<_, ApiError>(())
    };
    if let Err(e) = result.await {
        tracing::info!(error = %e, "search terms not added to an older record; the next read tries again");
    }
}

/// A search for patients, sent in a body so nothing typed appears in a URL: an exact email
/// address, or a query of name words, a phone number and a date of birth.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientSearch {
    #[serde(default)]
    pub email: Option<Sensitive<String>>,
    #[serde(default)]
    pub query: Option<Sensitive<String>>,
}

/// What a search answers: the matching records by name, and whether there were more.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub patients: Vec<PatientView>,
    pub more: bool,
}

/// Staff find patients. The search is audited (without what was typed), and so is every record
/// it shows.
#[tracing::instrument(skip_all)]
pub async fn search(
    state: &AppState,
    caller: &Caller,
    search: PatientSearch,
) -> Result<Found, ApiError> {
    caller.authorize_staff()?;
    let query = match (search.email, search.query) {
        (Some(email), None) => return super::patients::find_by_email(state, caller, email).await,
        (None, Some(query)) => query,
        _ => return Err(PatientError::SearchEitherEmailOrQuery.into()),
    };
    let text = query.expose();
    if text.contains('@') {
        return super::patients::find_by_email(state, caller, query).await;
    }
    let parsed = PatientQuery::parse(text).map_err(|e| match e {
        QueryError::TooShort => PatientError::SearchTooShort,
        QueryError::TooLong => PatientError::SearchTooLong,
        QueryError::DateFormat => PatientError::SearchDateFormat,
    })?;
    let search = Audit::new(
        "patient.search",
        "patient_search",
        caller.request_id.clone(),
    );
    audit_read(state, caller, search).await?;

    let blind = state.blind_index().await?;
    // Each term's patients; one shared by more than a page is too common to narrow with: the
    // others narrow, and the opened records decide.
    let mut lists = Vec::new();
    for term in parsed.lookups() {
        let query = Query::gsi1(search_index(&term_hash(blind, &term))).limit(MAX_PER_TERM);
        let page = state.table.query(&query).await?;
        let under: BTreeSet<PatientId> = page
            .items
            .iter()
            .filter_map(|item| item.get(attr::ID).and_then(AttrValue::as_s))
            .filter_map(PatientId::parse)
            .collect();
        lists.push((page.next.is_some(), under));
    }
    let complete: Vec<&BTreeSet<PatientId>> = lists
        .iter()
        .filter(|(cut, _)| !cut)
        .map(|(_, l)| l)
        .collect();
    let common = complete.is_empty();
    let candidates: BTreeSet<PatientId> = if common {
        // Every term too common: the smallest page of them, and "add a word".
        lists
            .into_iter()
            .map(|(_, l)| l)
            .min_by_key(BTreeSet::len)
            .unwrap_or_default()
    } else {
        complete
            .iter()
            .skip(1)
            .fold(complete[0].clone(), |so_far, l| {
                so_far.intersection(l).cloned().collect()
            })
    };

    // Open the candidates' records; only real matches are shown (and audited as read).
    let mut matches = BTreeMap::new();
    for view in records_of(state, candidates).await? {
        let Ok(born) = view.date_of_birth.expose().parse() else {
            continue;
        };
        if parsed.matches(view.name.expose(), view.phone.expose(), born) {
            let order = (view.name.expose().to_lowercase(), view.patient_id.clone());
            matches.insert(order, view);
        }
    }
    let more = common || matches.len() > MAX_RESULTS;
    let mut patients = Vec::new();
    for view in matches.into_values().take(MAX_RESULTS) {
        audit_read(
            state,
            caller,
            Audit::new("patient.read", "patient", view.patient_id.as_str()).about(&view.patient_id),
        )
        .await?;
        patients.push(view);
    }
    Ok(Found { patients, more })
}
