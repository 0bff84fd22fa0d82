//! The unit of work, above the table port (`crate::store`): committing a change, the domain's items, the audit record and the idempotency record go to the
//! table in ONE transactional write, so a change is never stored without its audit record or
//! without the reply a retry must see. Reads of patient data write their audit record first.
//!
//! Idempotency records are scoped to the caller (`IDEM#<sub>#<key>`), keep a keyed fingerprint
//! (HMAC under the blind-index key, so a request body with patient data is not guessable from it)
//! and the reply sealed like any other patient field; they expire after a day.

pub mod allowance;

use crate::store::{attr, keys};
use domain::audit::{ActionKind, AgentKind};
use domain::ids::PatientId;
use serde::Serialize;

use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::{
    AttrValue, Condition, Consistency, Item, Key, TTL_ATTR, TableError, TransactOp,
};
use domain::access::{Caller, Role, Source};
use domain::ids::IdempotencyKey;

/// How long a stored reply can be replayed.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// A JSON reply: what a handler returns and what an idempotent retry gets back.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, Serialize)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    /// Set on a stored reply that holds patient data: what a replay of it has read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ReplayRead>,
    #[serde(skip)]
    pub patient_data: bool,
    #[serde(skip)]
    pub replayed: bool,
}

/// The entity whose data a stored reply shows; its replay is audited as a read of it.
#[derive(Clone, Debug, PartialEq, serde::Deserialize, Serialize)]
pub struct ReplayRead {
    pub entity: String,
    pub entity_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients: Vec<PatientId>,
}

impl Reply {
    /// 200: the answer to a read or to a change of something that existed.
    pub fn ok(body: &impl Serialize) -> Result<Reply, ApiError> {
        Reply::with_status(200, body)
    }

    /// 201: the answer to a request that created something.
    pub fn created(body: &impl Serialize) -> Result<Reply, ApiError> {
        Reply::with_status(201, body)
    }

    fn with_status(status: u16, body: &impl Serialize) -> Result<Reply, ApiError> {
        Ok(Reply {
            status,
            body: serde_json::to_value(body).map_err(anyhow::Error::new)?,
            read: None,
            patient_data: false,
            replayed: false,
        })
    }

    /// Marks a reply that shows patient data: replaying it is audited like the first answer.
    pub fn with_patient_data(mut self) -> Reply {
        self.patient_data = true;
        self
    }
}

/// What was done, by whom, to what: one record per change or read of patient data.
#[derive(Clone, Debug)]
pub struct Audit {
    pub action: &'static str,
    pub entity: String,
    pub entity_id: String,
    /// The patients whose data the action touched (ids only, never their data).
    pub patients: Vec<PatientId>,
    /// `success`; `denied` for a refused request, `failed` when a dependency failed ([`refused`]).
    pub outcome: &'static str,
    /// How many requests one entry stands for: set on the aggregate of a caller's refusals beyond
    /// [`INDIVIDUAL_REFUSALS_PER_HOUR`].
    pub count: Option<i64>,
    /// The version (SHA-256 of the canonical text) of the consent document a signature or
    /// withdrawal names: readable in the entry's leaf bytes, so the signed log proves which text.
    pub document: Option<String>,
    /// A signature's commitment to the name the patient typed (`c:<hex>`; its opening is sealed
    /// with the signature): readable in the leaf's bytes, opening nothing without it.
    pub name_commitment: Option<String>,
}

impl Audit {
    pub fn new(
        action: &'static str,
        entity: impl Into<String>,
        entity_id: impl Into<String>,
    ) -> Self {
        Audit {
            action,
            entity: entity.into(),
            entity_id: entity_id.into(),
            patients: Vec::new(),
            outcome: "success",
            count: None,
            document: None,
            name_commitment: None,
        }
    }

    /// Commits the entry to the name a signature was typed with.
    pub fn name_commitment(mut self, commitment: String) -> Self {
        self.name_commitment = Some(commitment);
        self
    }

    /// Names the consent document version the action signed or withdrew.
    pub fn document(mut self, version_hash: &str) -> Self {
        self.document = Some(version_hash.to_owned());
        self
    }

    /// Names a patient whose data the action touched.
    pub fn about(mut self, patient: &PatientId) -> Self {
        if !self.patients.contains(patient) {
            self.patients.push(patient.clone());
        }
        self
    }

    /// Names every patient whose data the action touched (a list read names each one shown).
    pub fn about_all<'a>(self, patients: impl IntoIterator<Item = &'a PatientId>) -> Self {
        patients.into_iter().fold(self, Audit::about)
    }

    /// The stored record. Partitioned by UTC day (reports read a day at a time), sorted by time;
    /// the GSI finds every record of one entity.
    pub fn item(&self, state: &AppState, actor: Actor<'_>) -> Item {
        self.item_at(state.clock.now(), actor)
    }

    /// The stored record, timed `now`.
    pub fn item_at(&self, now: jiff::Timestamp, actor: Actor<'_>) -> Item {
        let nanos = now.as_nanosecond();
        let day = domain::clock::utc_day(now);
        let id = ulid::Ulid::new();
        // A patient's own name is patient data: only staff, providers and admins are named.
        let actor_name = match actor {
            Actor::Caller(c) if c.principal.roles.iter().any(|r| *r != Role::Patient) => {
                c.principal.display_name.clone()
            }
            _ => None,
        };
        let (who, roles, request_id, agent, source) = match actor {
            Actor::Caller(c) => (
                c.principal.subject.as_str().to_owned(),
                c.principal
                    .roles
                    .iter()
                    .map(|r| AttrValue::S(r.as_str().into()))
                    .collect(),
                c.request_id.clone(),
                AgentKind::User,
                c.source.clone(),
            ),
            Actor::System { name, request_id } => (
                format!("system:{name}"),
                Vec::new(),
                request_id.to_owned(),
                if PROCESSORS.contains(&name) {
                    AgentKind::Processor
                } else {
                    AgentKind::System
                },
                Source::local(name),
            ),
            Actor::Counted {
                subject,
                roles,
                request_id,
            } => (
                subject.to_owned(),
                roles.to_vec(),
                request_id.to_owned(),
                AgentKind::User,
                Source::local("audit"),
            ),
        };
        let patients = self
            .patients
            .iter()
            .map(|p| AttrValue::S(p.as_str().to_owned()))
            .collect();
        let mut item = Item::new(Key::new(
            keys::audit_partition(day),
            keys::audit_sort(nanos, &id),
        ))
        .with(
            crate::store::GSI1_PK,
            keys::audit_entity_index(&self.entity, &self.entity_id),
        )
        .with(crate::store::GSI1_SK, keys::audit_sort(nanos, &id))
        .with(attr::AT, now.as_second())
        .with(attr::ACTOR, who)
        .with(attr::ROLES, AttrValue::L(roles))
        .with(attr::ACTION, self.action)
        .with(attr::ACTION_KIND, ActionKind::of(self.action).code())
        .with(attr::AGENT_KIND, agent.code())
        .with(attr::PATIENT_IDS, AttrValue::L(patients))
        .with(attr::ENTITY, self.entity.clone())
        .with(attr::ENTITY_ID, self.entity_id.clone())
        .with(attr::OUTCOME, self.outcome)
        .with(attr::REQUEST_ID, request_id)
        .with(attr::SOURCE_FUNCTION, source.function)
        .with(attr::CANON, 2)
        .with(
            attr::SALT,
            AttrValue::B(rand::random::<[u8; domain::commitment::SALT_LEN]>().to_vec()),
        );
        if let Some(address) = source.address {
            item.set(attr::SOURCE_ADDRESS, address);
        }
        if let Some(name) = actor_name {
            item.set(attr::ACTOR_NAME, name);
        }
        if let Some(count) = self.count {
            item.set(attr::COUNT, count);
        }
        if let Some(document) = &self.document {
            item.set(attr::DOCUMENT_HASH, document.clone());
        }
        if let Some(commitment) = &self.name_commitment {
            item.set(attr::NAME_COMMITMENT, commitment.clone());
        }
        item
    }
}

/// The webhook sources whose events act as the payment processor.
const PROCESSORS: [&str; 2] = ["stripe", "standard"];

/// Who an audit record names.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    Caller(&'a Caller),
    /// Work the system does on its own (waitlist offers, expiry sweeps).
    System {
        name: &'static str,
        request_id: &'a str,
    },
    /// A signed-in caller whose requests were counted rather than recorded one by one (the
    /// aggregate of their refusals in an hour): their subject and the roles they acted in.
    Counted {
        subject: &'a str,
        roles: &'a [AttrValue],
        request_id: &'a str,
    },
}

/// Records a read of patient data; the caller returns the data only if this succeeds.
pub async fn audit_read(state: &AppState, caller: &Caller, audit: Audit) -> Result<(), ApiError> {
    let item = audit.item(state, Actor::Caller(caller));
    state.table.put(item, Some(Condition::ItemAbsent)).await?;
    Ok(())
}

/// Passes `result` through; when it refuses a request aimed at patient data (403, or 404 for a
/// target that does not exist), first records the refusal with its target as a `denied` audit
/// record; when a dependency failed (503: the key service or the table down), a `failed` one. A
/// failure to record is logged, and the caller still gets the error: no data was shown.
pub async fn refused<T>(
    state: &AppState,
    caller: &Caller,
    audit: Audit,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let outcome = match &result {
        Err(ApiError::Forbidden | ApiError::NotFound) => Some("denied"),
        Err(ApiError::Unavailable { .. }) => Some("failed"),
        _ => None,
    };
    if let Some(outcome) = outcome {
        if outcome == "denied" && beyond_individual_limit(state, caller, &audit.patients).await {
            return result;
        }
        let record = Audit { outcome, ..audit }.item(state, Actor::Caller(caller));
        if let Err(e) = state.table.put(record, Some(Condition::ItemAbsent)).await {
            tracing::error!(error = %e, "a refusal could not be audited");
        }
    }
    result
}

/// Refusals of one caller in one UTC hour recorded one entry each; beyond them, the refusals are
/// counted on the table and sealed as one aggregate entry once the hour is over (a flood of
/// refused requests cannot flood the audit log).
pub const INDIVIDUAL_REFUSALS_PER_HOUR: i64 = 20;

/// Patients one caller's aggregate of an hour names at most, each with its own count; refusals
/// naming others count in the total only (so an hour's counters and its aggregate entry stay small
/// whatever ids a caller makes up).
pub const AGGREGATE_PATIENTS_NAMED: i64 = 100;

/// How long refusal counters are kept (their aggregate is written within the hour after).
const REFUSAL_COUNTERS_KEPT_SECS: i64 = 35 * 86_400;

/// Counts a refusal of `caller` (atomically, on the table: concurrent refusals cannot all see
/// themselves below the limit); beyond the limit also per patient named, and returns true: the
/// refusal is then in the hour's aggregate instead of an entry of its own. A count that cannot be
/// written is logged and the refusal recorded on its own.
async fn beyond_individual_limit(
    state: &AppState,
    caller: &Caller,
    patients: &[PatientId],
) -> bool {
    let now = state.clock.now();
    let (day, hour) = (domain::clock::utc_day(now), domain::clock::utc_hour(now));
    let subject = caller.principal.subject.as_str();
    let kept = now.as_second() + REFUSAL_COUNTERS_KEPT_SECS;
    let roles: Vec<AttrValue> = caller
        .principal
        .roles
        .iter()
        .map(|r| AttrValue::S(r.as_str().into()))
        .collect();
    let update = crate::store::Update::default()
        .add(attr::COUNT, 1)
        .set(attr::ROLES, AttrValue::L(roles))
        .set(TTL_ATTR, kept);
    let count = match state
        .table
        .update(&keys::refusal_key(day, hour, subject), update, None)
        .await
    {
        Ok(item) => item.get(attr::COUNT).and_then(AttrValue::as_n).unwrap_or(0),
        Err(e) => {
            tracing::error!(error = %e, "a refusal could not be counted");
            return false;
        }
    };
    if count <= INDIVIDUAL_REFUSALS_PER_HOUR {
        return false;
    }
    let caller_key = keys::refusal_key(day, hour, subject);
    for patient in patients {
        let key = keys::refusal_patient_key(day, hour, subject, patient.as_str());
        if let Err(e) = count_for_patient(state, &caller_key, &key, kept).await {
            tracing::error!(error = %e, "a refusal could not be counted for its patient");
        }
    }
    true
}

/// Adds one to a patient's count in the caller's hour: at once when the patient is already named
/// there; else, in one transaction, the patient is named (its counter created) only while the
/// caller's hour names fewer than [`AGGREGATE_PATIENTS_NAMED`]. Race-safe on the table: two
/// requests naming a new patient at once cannot both create it, nor pass the limit together.
async fn count_for_patient(
    state: &AppState,
    caller_key: &Key,
    key: &Key,
    kept: i64,
) -> Result<(), TableError> {
    let add = || {
        crate::store::Update::default()
            .add(attr::COUNT, 1)
            .set(TTL_ATTR, kept)
    };
    for _ in 0..2 {
        let named = Condition::AttrExists(attr::COUNT.into());
        match state.table.update(key, add(), Some(named)).await {
            Err(TableError::ConditionFailed) => {}
            other => return other.map(|_| ()),
        }
        let below_limit = Condition::Or(vec![
            Condition::AttrAbsent(attr::NAMED.into()),
            Condition::LessThan(attr::NAMED.into(), AttrValue::N(AGGREGATE_PATIENTS_NAMED)),
        ]);
        let ops = vec![
            TransactOp::Update {
                key: caller_key.clone(),
                update: crate::store::Update::default().add(attr::NAMED, 1),
                condition: Some(below_limit),
            },
            TransactOp::Update {
                key: key.clone(),
                update: add(),
                condition: Some(Condition::AttrAbsent(attr::COUNT.into())),
            },
        ];
        match state.table.transact_write(ops).await {
            Ok(()) => return Ok(()),
            // The limit reached (counted in the total only), or another request named the patient
            // first (then counted by the update above, once more).
            Err(TableError::TransactionConditionFailed { failed }) if failed.contains(&0) => {
                return Ok(());
            }
            Err(TableError::TransactionConditionFailed { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An `Idempotency-Key` bound to its caller and to the exact request it first came with.
pub struct Idempotency {
    key: Key,
    client_key: IdempotencyKey,
    fingerprint: String,
    caller: Caller,
}

impl Idempotency {
    /// `operation` names the route and its path ids; `body` is the parsed request.
    pub async fn new(
        state: &AppState,
        caller: &Caller,
        key: &IdempotencyKey,
        operation: &str,
        body: &impl Serialize,
    ) -> Result<Self, ApiError> {
        // serde_json's map is ordered, so equal bodies give equal text whatever their key order.
        let canonical = serde_json::to_string(body).map_err(anyhow::Error::new)?;
        let blind = state.blind_index().await?;
        Ok(Idempotency {
            key: keys::idempotency_key(caller.principal.subject.as_str(), key.as_str()),
            client_key: key.clone(),
            fingerprint: blind.compute("idempotency", &format!("{operation}\n{canonical}")),
            caller: caller.clone(),
        })
    }

    /// The key as the client sent it (a use case may derive further keys from it).
    pub fn client_key(&self) -> &IdempotencyKey {
        &self.client_key
    }

    async fn item(&self, state: &AppState, reply: &Reply) -> Result<Item, ApiError> {
        let bytes = serde_json::to_vec(reply).map_err(anyhow::Error::new)?;
        let sealed = state.sealer.seal(&self.key, attr::REPLY, &bytes).await?;
        let now = state.clock.now().as_second();
        Ok(Item::new(self.key.clone())
            .with(attr::FINGERPRINT, self.fingerprint.clone())
            .with(attr::REPLY, sealed)
            .with(attr::CREATED_AT, now)
            .with(TTL_ATTR, now + IDEMPOTENCY_TTL_SECS))
    }

    /// The stored reply of an earlier request with this key, if there is one that has not expired.
    /// The same key with a different request is the client's mistake: 422. Call it only once the
    /// caller is authorized to make the request; a reply with patient data is audited as a read.
    pub async fn replay(&self, state: &AppState) -> Result<Option<Reply>, ApiError> {
        let Some(item) = state.table.get(&self.key, Consistency::Strong).await? else {
            return Ok(None);
        };
        let now = state.clock.now().as_second();
        if item.get(TTL_ATTR).and_then(AttrValue::as_n).unwrap_or(0) <= now {
            return Ok(None);
        }
        if item.get(attr::FINGERPRINT).and_then(AttrValue::as_s) != Some(&self.fingerprint) {
            return Err(ApiError::Input(InputError::IdempotencyKeyReused));
        }
        let sealed = item
            .get(attr::REPLY)
            .and_then(AttrValue::as_b)
            .ok_or_else(|| anyhow::anyhow!("idempotency record without reply"))?;
        let bytes = state.sealer.open(&self.key, attr::REPLY, sealed).await?;
        let mut reply: Reply = serde_json::from_slice(&bytes).map_err(anyhow::Error::new)?;
        reply.replayed = true;
        if let Some(read) = &reply.read {
            let audit = Audit::new("reply.replay", read.entity.clone(), read.entity_id.clone())
                .about_all(&read.patients);
            audit_read(state, &self.caller, audit).await?;
        }
        Ok(Some(reply))
    }

    /// Runs `work`; if it is refused because of what the table holds now (409 or 422: the slot is
    /// now taken by this very request, the start is now inside the notice period...) but this key
    /// already has a reply, the reply wins. Every use case authorizes the caller before any such
    /// refusal, so a caller who may not make the request gets its 401/403, never the stored reply.
    pub async fn run(
        &self,
        state: &AppState,
        work: impl Future<Output = Result<Reply, ApiError>>,
    ) -> Result<Reply, ApiError> {
        match work.await {
            Err(e) if e.is_refusal() => match self.replay(state).await? {
                Some(reply) => Ok(reply),
                None => Err(e),
            },
            other => other,
        }
    }
}

/// One write of a change, and what it means when its condition fails: a refusal the client gets,
/// a claim another request took first (the caller may retry with another), or (neither) a bug.
pub struct Write {
    op: TransactOp,
    on_failure: OnFailure,
}

enum OnFailure {
    Bug,
    Refuse(ApiError),
    ClaimTaken,
}

impl Write {
    /// A write whose condition can fail only through a bug.
    pub fn new(op: TransactOp) -> Self {
        Write {
            op,
            on_failure: OnFailure::Bug,
        }
    }

    /// A failed condition refuses the change with `refusal`.
    pub fn or(self, refusal: impl Into<ApiError>) -> Self {
        Write {
            on_failure: OnFailure::Refuse(refusal.into()),
            ..self
        }
    }

    /// A claim on a numbered slot: its failure means another request took it first.
    pub fn claim(op: TransactOp) -> Self {
        Write {
            op,
            on_failure: OnFailure::ClaimTaken,
        }
    }
}

impl From<TransactOp> for Write {
    fn from(op: TransactOp) -> Self {
        Write::new(op)
    }
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// The first failed write (in the order given) that has a meaning: the change is refused.
    Refused(ApiError),
    /// A claimed slot was taken by another request; try another.
    ClaimTaken,
}

impl From<ApiError> for CommitError {
    fn from(e: ApiError) -> Self {
        CommitError::Refused(e)
    }
}

impl From<TableError> for CommitError {
    fn from(e: TableError) -> Self {
        CommitError::Refused(e.into())
    }
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Refused(e) => e,
            CommitError::ClaimTaken => {
                ApiError::Unexpected(anyhow::anyhow!("a claim failed outside a claiming commit"))
            }
        }
    }
}

/// Writes the change, the audit record and (with a key) the idempotency record holding `reply`,
/// in one transaction. A retry whose key is already stored gets the stored reply instead. Writes
/// are given in the order their refusals take precedence.
pub async fn commit(
    state: &AppState,
    caller: &Caller,
    idempotency: Option<&Idempotency>,
    writes: Vec<Write>,
    audit: Audit,
    reply: Reply,
) -> Result<Reply, CommitError> {
    let (mut ops, mut meanings): (Vec<TransactOp>, Vec<OnFailure>) =
        writes.into_iter().map(|w| (w.op, w.on_failure)).unzip();
    ops.push(TransactOp::Put {
        item: audit.item(state, Actor::Caller(caller)),
        condition: Some(Condition::ItemAbsent),
    });
    meanings.push(OnFailure::Bug);
    let idempotency_at = ops.len();
    if let Some(idem) = idempotency {
        let mut stored = reply.clone();
        if stored.patient_data {
            stored.read = Some(ReplayRead {
                entity: audit.entity.clone(),
                entity_id: audit.entity_id.clone(),
                patients: audit.patients.clone(),
            });
        }
        // A record past its expiry that the TTL sweeper has not removed yet counts as absent.
        let expired =
            Condition::LessThan(TTL_ATTR.into(), AttrValue::N(state.clock.now().as_second()));
        ops.push(TransactOp::Put {
            item: idem.item(state, &stored).await?,
            condition: Some(Condition::Or(vec![Condition::ItemAbsent, expired])),
        });
    }
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(reply),
        Err(TableError::TransactionConditionFailed { failed }) => {
            if let Some(idem) = idempotency
                && failed.contains(&idempotency_at)
                && let Some(stored) = idem.replay(state).await?
            {
                return Ok(stored);
            }
            let mut failed = failed;
            failed.sort_unstable();
            // A lost claim is retried before anything else is decided: the next attempt may find
            // the allowance full, which is the answer then.
            let claim_lost = |at: &usize| matches!(meanings.get(*at), Some(OnFailure::ClaimTaken));
            if failed.iter().any(claim_lost) {
                return Err(CommitError::ClaimTaken);
            }
            for at in &failed {
                let meaning = meanings.get_mut(*at);
                if let Some(OnFailure::Refuse(e)) =
                    meaning.map(|m| std::mem::replace(m, OnFailure::Bug))
                {
                    return Err(CommitError::Refused(e));
                }
            }
            Err(CommitError::Refused(ApiError::Unexpected(anyhow::anyhow!(
                "conditions failed that no refusal explains, at {failed:?}"
            ))))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;
    use crate::auth::{AuthConfig, StaticJwks};
    use domain::access::{Principal, Role, Subject};
    use domain::refusals::BookingError;

    fn state(dir: &std::path::Path) -> AppState {
        let jwks = Arc::new(StaticJwks(jsonwebtoken::jwk::JwkSet { keys: vec![] }));
        AppState::local(dir, jwks, AuthConfig::new("iss", "aud")).unwrap()
    }

    fn caller() -> Caller {
        Caller {
            principal: Principal {
                subject: Subject::parse("staff-1").unwrap(),
                roles: BTreeSet::from([Role::Staff]),
                verified_email: None,
                display_name: None,
            },
            request_id: "req-1".into(),
            source: domain::access::Source::local("test"),
        }
    }

    fn absent(pk: &str) -> TransactOp {
        TransactOp::Check {
            key: Key::new(pk, "S"),
            condition: Condition::ItemExists,
        }
    }

    async fn refusal(state: &AppState, writes: Vec<Write>) -> CommitError {
        let reply = Reply::ok(&serde_json::json!({})).unwrap();
        let audit = Audit::new("test", "test", "1");
        commit(state, &caller(), None, writes, audit, reply)
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_failed_condition_comes_back_as_its_reason_first_given_first() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path());
        let writes = vec![
            Write::new(absent("A")),
            Write::new(absent("B")).or(BookingError::SlotTaken),
            Write::new(absent("C")).or(BookingError::HoldExpired),
        ];
        let e = refusal(&state, writes).await;
        assert!(matches!(
            e,
            CommitError::Refused(ApiError::Booking(BookingError::SlotTaken))
        ));
        // A lost claim outranks every refusal: the claim is retried first.
        let writes = vec![
            Write::new(absent("B")).or(BookingError::SlotTaken),
            Write::claim(absent("Q")),
        ];
        assert!(matches!(
            refusal(&state, writes).await,
            CommitError::ClaimTaken
        ));
        // A condition no reason explains is a bug, not the client's fault.
        let e = refusal(&state, vec![Write::new(absent("A"))]).await;
        assert!(matches!(e, CommitError::Refused(ApiError::Unexpected(_))));
        // Nothing was written by the refused commits, not even their audit records.
        let day = domain::clock::utc_day(state.clock.now());
        let query = crate::store::Query::partition(keys::audit_partition(day));
        let audits = crate::store::query_all(&*state.table, &query)
            .await
            .unwrap();
        assert!(audits.is_empty(), "{audits:?}");
    }

    #[tokio::test]
    async fn records_say_what_kind_of_action_by_what_kind_of_agent_about_which_patients() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path());
        let jane = PatientId::of(&Subject::parse("patient-jane").unwrap());
        let record = Audit::new("appointment.cancel", "appointment", "apt_1")
            .about(&jane)
            .about(&jane)
            .item(&state, Actor::Caller(&caller()));
        let text = |name: &str| {
            record
                .get(name)
                .and_then(AttrValue::as_s)
                .map(str::to_owned)
        };
        assert_eq!(text(attr::ACTION_KIND).as_deref(), Some("update"));
        assert_eq!(text(attr::AGENT_KIND).as_deref(), Some("user"));
        assert_eq!(
            record.get(attr::PATIENT_IDS),
            Some(&AttrValue::L(vec![AttrValue::S(jane.as_str().into())]))
        );
        let by_processor = Audit::new("payment.update", "payment", "pay_1").item(
            &state,
            Actor::System {
                name: "stripe",
                request_id: "r",
            },
        );
        let kind = by_processor.get(attr::AGENT_KIND).and_then(AttrValue::as_s);
        assert_eq!(kind, Some("processor"));
        let by_job = Audit::new("hold.offer", "hold", "hld_1").item(
            &state,
            Actor::System {
                name: "waitlist",
                request_id: "r",
            },
        );
        assert_eq!(
            by_job.get(attr::AGENT_KIND).and_then(AttrValue::as_s),
            Some("system")
        );
        assert_eq!(by_job.get(attr::PATIENT_IDS), Some(&AttrValue::L(vec![])));
    }
}
