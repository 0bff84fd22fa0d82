//! `GET /v1/audit`: an admin's search of the audit entries of a period (at most 31 days), by actor
//! (id, or part of a staff member's name), role, patient, action (or a family of actions: `appointment` is every `appointment.*`) and
//! outcome, newest first, paginated. A search by patient reads that patient's
//! access index, not every day of the period. Each search is itself audited, naming the patients
//! whose entries it showed.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::access::{leaf_index_of, strings};
use crate::common::input::query_range;
use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::codec::{corrupt, s};
use crate::store::keys::*;
use crate::store::{AttrValue, Consistency, Cursor, Item, Key, Query, SortKey, attr};
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::Caller;
use domain::access::{Resource, Role};
use domain::ids::PatientId;
use domain::instant::render_utc;

const DEFAULT_PAGE: u32 = 50;
/// Every outcome an entry can have.
const OUTCOMES: [&str; 3] = ["success", "denied", "failed"];
const MAX_PAGE: u32 = 200;
/// Table reads one search request makes at most; a sparse match continues on the next page.
const MAX_READS: usize = 10;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub actor: Option<String>,
    /// Entries of callers with this role (`staff`, `provider`, `admin`, `patient`).
    pub role: Option<String>,
    pub patient_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// One audit entry as an admin sees it: every field it has (none of them patient data).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    pub at: String,
    pub actor: String,
    /// A staff member's, provider's or admin's display name, when their token carried one.
    pub actor_name: Option<String>,
    pub roles: Vec<String>,
    pub agent_kind: Option<String>,
    pub action: String,
    pub kind: Option<String>,
    pub outcome: String,
    /// How many refused requests the entry stands for (an hour's aggregate of one caller's).
    pub count: Option<i64>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub patient_ids: Vec<String>,
    pub request_id: Option<String>,
    /// The function that served the request (or the job's name).
    pub source_function: Option<String>,
    /// The client's network address, as the gateway saw it.
    pub source_address: Option<String>,
    /// Its position in the Merkle log, once integrated.
    pub leaf_index: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub entries: Vec<EntryView>,
    /// Present while the period may hold more matches (a page may be short, or empty, before it).
    pub next: Option<String>,
}

/// Where a search continues: the day (or, by patient, the index) and the table's cursor in it.
#[derive(Debug, Serialize, Deserialize)]
struct Resume {
    day: Option<jiff::civil::Date>,
    inner: Option<Cursor>,
}

impl Resume {
    fn encode(&self) -> String {
        use base64::Engine as _;
        let bytes = postcard::to_stdvec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn decode(token: &str) -> Option<Resume> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        postcard::from_bytes(&bytes).ok()
    }
}

fn optional(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(AttrValue::as_s).map(str::to_owned)
}

struct Filter<'a> {
    q: &'a SearchQuery,
}

impl Filter<'_> {
    fn keeps(&self, item: &Item) -> bool {
        let is = |field: &str, wanted: &Option<String>| {
            wanted
                .as_deref()
                .is_none_or(|w| item.get(field).and_then(AttrValue::as_s) == Some(w))
        };
        // An action without a dot is a family: `appointment` keeps every `appointment.*`.
        let action = self.q.action.as_deref().is_none_or(|wanted| {
            let stored = item
                .get(attr::ACTION)
                .and_then(AttrValue::as_s)
                .unwrap_or("");
            stored == wanted
                || (!wanted.contains('.')
                    && stored
                        .strip_prefix(wanted)
                        .is_some_and(|rest| rest.starts_with('.')))
        });
        let role = self
            .q
            .role
            .as_deref()
            .is_none_or(|r| strings(item, attr::ROLES).iter().any(|x| x == r));
        // Who: their id exactly, or (staff, providers, admins) their name as it was shown.
        let actor = self.q.actor.as_deref().is_none_or(|wanted| {
            item.get(attr::ACTOR).and_then(AttrValue::as_s) == Some(wanted)
                || item
                    .get(attr::ACTOR_NAME)
                    .and_then(AttrValue::as_s)
                    .is_some_and(|name| name.to_lowercase().contains(&wanted.to_lowercase()))
        });
        actor
            && action
            && role
            && is(attr::OUTCOME, &self.q.outcome)
            && self
                .q
                .patient_id
                .as_deref()
                .is_none_or(|p| strings(item, attr::PATIENT_IDS).iter().any(|x| x == p))
    }
}

/// The sort keys of entries written in `[from, to)` (seconds): their nanosecond prefix.
fn sort_range(from: i64, to: i64) -> SortKey {
    let nanos = |t: i64| i128::from(t) * 1_000_000_000;
    SortKey::Between(
        format!("{:020}", nanos(from)),
        format!("{:020}~", nanos(to) - 1),
    )
}

pub async fn search(
    state: &AppState,
    caller: &Caller,
    q: &SearchQuery,
) -> Result<SearchPage, ApiError> {
    let target = Audit::new("audit.search", "audit", "log");
    let allowed = caller
        .principal
        .authorize(&[Role::Admin], Resource::Shared)
        .map_err(ApiError::from);
    refused(state, caller, target.clone(), allowed).await?;
    let (Some(from), Some(to)) = (&q.from, &q.to) else {
        return Err(InputError::RangeRequired.into());
    };
    let (from, to) = query_range(from, to)?;
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(InputError::InvalidLimit.into());
    }
    if let Some(p) = &q.patient_id {
        PatientId::parse(p).ok_or(InputError::InvalidQuery)?;
    }
    // The document's bounds on the other filters (an outcome from the list, bounded texts).
    let outcome_known = q.outcome.as_deref().is_none_or(|o| OUTCOMES.contains(&o));
    let bounded = |text: &Option<String>, max: usize| text.as_ref().is_none_or(|t| t.len() <= max);
    let role_known = q
        .role
        .as_deref()
        .is_none_or(|r| ["patient", "staff", "provider", "admin"].contains(&r));
    if !outcome_known || !role_known || !bounded(&q.actor, 256) || !bounded(&q.action, 64) {
        return Err(InputError::InvalidQuery.into());
    }
    let day_of = |t: i64| {
        Timestamp::from_second(t)
            .map(domain::clock::utc_day)
            .map_err(|_| ApiError::Input(InputError::InvalidRange))
    };
    let (first_day, last_day) = (day_of(from)?, day_of(to - 1)?);
    let mut resume = match q.cursor.as_deref() {
        // Newest first: from the last day back to the first.
        None => Resume {
            day: q.patient_id.is_none().then_some(last_day),
            inner: None,
        },
        Some(token) => Resume::decode(token)
            .filter(|r| r.day.is_none_or(|d| (first_day..=last_day).contains(&d)))
            .ok_or(InputError::InvalidCursor)?,
    };
    let filter = Filter { q };
    let mut found: Vec<Item> = Vec::new();
    let mut next = None;
    for read in 1..=MAX_READS {
        let want = limit - u32::try_from(found.len()).unwrap_or(limit);
        let partition = match (&q.patient_id, resume.day) {
            (Some(p), _) => audit_access_partition(p),
            (None, Some(day)) => audit_partition(day),
            (None, None) => return Err(InputError::InvalidCursor.into()),
        };
        if resume
            .inner
            .as_ref()
            .is_some_and(|c| !c.belongs_to(&partition))
        {
            return Err(InputError::InvalidCursor.into());
        }
        let mut query = Query::partition(partition)
            .sort(sort_range(from, to))
            .limit(want)
            .after(resume.inner.take());
        query.forward = false;
        let page = state.table.query(&query).await?;
        for item in page.items {
            let entry = match &q.patient_id {
                // The index holds copies: the entry itself has every field.
                Some(_) => {
                    let key = Key::new(s(&item, attr::ENTRY_PK)?, item.key.sk.clone());
                    state
                        .table
                        .get(&key, Consistency::Eventual)
                        .await?
                        .ok_or_else(|| corrupt("audit entry"))?
                }
                None => item,
            };
            if filter.keeps(&entry) {
                found.push(entry);
            }
        }
        resume = match (page.next, resume.day) {
            (Some(more), day) => Resume {
                day,
                inner: Some(more),
            },
            (None, Some(day)) if day > first_day => Resume {
                day: day.yesterday().ok(),
                inner: None,
            },
            (None, _) => break,
        };
        if found.len() >= limit as usize || read == MAX_READS {
            next = Some(resume.encode());
            break;
        }
    }
    let mut entries = Vec::with_capacity(found.len());
    let mut shown = Vec::new();
    for item in &found {
        let patient_ids = strings(item, attr::PATIENT_IDS);
        shown.extend(patient_ids.iter().filter_map(|p| PatientId::parse(p)));
        entries.push(EntryView {
            at: render_utc(crate::store::codec::n(item, attr::AT)?),
            actor: s(item, attr::ACTOR)?.to_owned(),
            actor_name: optional(item, attr::ACTOR_NAME),
            roles: strings(item, attr::ROLES),
            agent_kind: optional(item, attr::AGENT_KIND),
            action: s(item, attr::ACTION)?.to_owned(),
            kind: optional(item, attr::ACTION_KIND),
            outcome: optional(item, attr::OUTCOME).unwrap_or_else(|| "success".into()),
            count: item.get(attr::COUNT).and_then(AttrValue::as_n),
            entity: optional(item, attr::ENTITY),
            entity_id: optional(item, attr::ENTITY_ID),
            patient_ids,
            request_id: optional(item, attr::REQUEST_ID),
            source_function: optional(item, attr::SOURCE_FUNCTION),
            source_address: optional(item, attr::SOURCE_ADDRESS),
            leaf_index: leaf_index_of(&*state.table, &item.key.pk, &item.key.sk).await?,
        });
    }
    audit_read(state, caller, target.about_all(&shown)).await?;
    Ok(SearchPage { entries, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_token_reads_back_and_junk_does_not() {
        let r = Resume {
            day: Some(jiff::civil::date(2026, 11, 22)),
            inner: None,
        };
        let back = Resume::decode(&r.encode()).unwrap();
        assert_eq!(back.day, r.day);
        assert!(Resume::decode("!!").is_none());
    }

    #[test]
    fn the_sort_range_covers_the_seconds_from_to_before_to() {
        let SortKey::Between(lo, hi) = sort_range(10, 12) else {
            panic!()
        };
        assert!(lo.as_str() <= "00000000010000000000#A");
        assert!(hi.as_str() >= "00000000011999999999#Z");
        assert!(hi.as_str() < "00000000012000000000#");
    }
}
