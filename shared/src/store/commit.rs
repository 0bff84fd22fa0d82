//! Committing a change: the domain's items, the audit record and the idempotency record go to the
//! table in ONE transactional write, so a change is never stored without its audit record or
//! without the reply a retry must see. Reads of patient data write their audit record first.
//!
//! Idempotency records are scoped to the caller (`IDEM#<sub>#<key>`), keep a keyed fingerprint
//! (HMAC under the blind-index key, so a request body with patient data is not guessable from it)
//! and the reply sealed like any other patient field; they expire after a day.

use crate::store::attr;
use serde::Serialize;

use crate::AppState;
use crate::domain::access::Caller;
use crate::domain::ids::IdempotencyKey;
use crate::error::{ApiError, InputError};
use crate::store::{
    AttrValue, Condition, Consistency, Item, Key, TTL_ATTR, TableError, TransactOp,
};

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
        }
    }

    /// The stored record. Partitioned by UTC day (reports read a day at a time), sorted by time;
    /// the GSI finds every record of one entity.
    pub fn item(&self, state: &AppState, actor: Actor<'_>) -> Item {
        let now = state.clock.now();
        let nanos = now.unix_timestamp_nanos();
        let day = now.date();
        let id = ulid::Ulid::new();
        let (who, roles, request_id) = match actor {
            Actor::Caller(c) => (
                c.principal.subject.as_str().to_owned(),
                c.principal
                    .roles
                    .iter()
                    .map(|r| AttrValue::S(r.as_str().into()))
                    .collect(),
                c.request_id.clone(),
            ),
            Actor::System { name, request_id } => {
                (format!("system:{name}"), Vec::new(), request_id.to_owned())
            }
        };
        Item::new(Key::new(
            format!("AUDIT#{day}"),
            format!("{nanos:020}#{id}"),
        ))
        .with(
            crate::store::GSI1_PK,
            format!("AUDIT#{}#{}", self.entity, self.entity_id),
        )
        .with(crate::store::GSI1_SK, format!("{nanos:020}#{id}"))
        .with(attr::AT, now.unix_timestamp())
        .with(attr::ACTOR, who)
        .with(attr::ROLES, AttrValue::L(roles))
        .with(attr::ACTION, self.action)
        .with(attr::ENTITY, self.entity.clone())
        .with(attr::ENTITY_ID, self.entity_id.clone())
        .with(attr::OUTCOME, "success")
        .with(attr::REQUEST_ID, request_id)
    }
}

/// Who an audit record names.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    Caller(&'a Caller),
    /// Work the system does on its own (waitlist offers, expiry sweeps).
    System {
        name: &'static str,
        request_id: &'a str,
    },
}

/// Records a read of patient data; the caller returns the data only if this succeeds.
pub async fn audit_read(state: &AppState, caller: &Caller, audit: Audit) -> Result<(), ApiError> {
    let item = audit.item(state, Actor::Caller(caller));
    state.table.put(item, Some(Condition::ItemAbsent)).await?;
    Ok(())
}

/// An `Idempotency-Key` bound to its caller and to the exact request it first came with.
pub struct Idempotency {
    key: Key,
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
            key: Key::new(
                format!("IDEM#{}#{}", caller.principal.subject, key.as_str()),
                "IDEM",
            ),
            fingerprint: blind.compute("idempotency", &format!("{operation}\n{canonical}")),
            caller: caller.clone(),
        })
    }

    async fn item(&self, state: &AppState, reply: &Reply) -> Result<Item, ApiError> {
        let bytes = serde_json::to_vec(reply).map_err(anyhow::Error::new)?;
        let sealed = state.sealer.seal(&self.key, attr::REPLY, &bytes).await?;
        let now = state.clock.now().unix_timestamp();
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
        let now = state.clock.now().unix_timestamp();
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
            let audit = Audit::new("reply.replay", read.entity.clone(), read.entity_id.clone());
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

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Conditions of the domain's own operations failed, at these positions.
    Conflict(Vec<usize>),
    Api(ApiError),
}

impl From<ApiError> for CommitError {
    fn from(e: ApiError) -> Self {
        CommitError::Api(e)
    }
}

impl From<TableError> for CommitError {
    fn from(e: TableError) -> Self {
        CommitError::Api(e.into())
    }
}

/// Writes `ops`, the audit record and (with a key) the idempotency record holding `reply`, in one
/// transaction. A retry whose key is already stored gets the stored reply instead.
pub async fn commit(
    state: &AppState,
    caller: &Caller,
    idempotency: Option<&Idempotency>,
    mut ops: Vec<TransactOp>,
    audit: Audit,
    reply: Reply,
) -> Result<Reply, CommitError> {
    let domain_ops = ops.len();
    ops.push(TransactOp::Put {
        item: audit.item(state, Actor::Caller(caller)),
        condition: Some(Condition::ItemAbsent),
    });
    if let Some(idem) = idempotency {
        let mut stored = reply.clone();
        if stored.patient_data {
            stored.read = Some(ReplayRead {
                entity: audit.entity.clone(),
                entity_id: audit.entity_id.clone(),
            });
        }
        // A record past its expiry that the TTL sweeper has not removed yet counts as absent.
        let expired = Condition::LessThan(
            TTL_ATTR.into(),
            AttrValue::N(state.clock.now().unix_timestamp()),
        );
        ops.push(TransactOp::Put {
            item: idem.item(state, &stored).await?,
            condition: Some(Condition::Or(vec![Condition::ItemAbsent, expired])),
        });
    }
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(reply),
        Err(TableError::TransactionConditionFailed { failed }) => {
            if let Some(idem) = idempotency
                && failed.contains(&(domain_ops + 1))
                && let Some(stored) = idem.replay(state).await?
            {
                return Ok(stored);
            }
            Err(CommitError::Conflict(
                failed.into_iter().filter(|i| *i < domain_ops).collect(),
            ))
        }
        Err(e) => Err(e.into()),
    }
}
