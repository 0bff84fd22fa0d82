//! Reading the log back for people: a patient's access log ("who looked at my record, and when?"),
//! each entry with its leaf index and an RFC 6962 inclusion proof against the latest signed
//! checkpoint, so that the patient's own software can check offline, with the log's public key,
//! that the practice has committed to the entry and cannot later drop it unnoticed.
//!
//! Entries name staff by their role and display name (their token's `name`, or a provider's name
//! from their record); never by their internal ids. Reading an access log is itself an audited read of the patient.

use super::stored::latest_checkpoint;
use crate::common::paging::{PageQuery, page_of};
use crate::store::codec::booking::ProviderCodec;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::codec::audit::canonical_entry;
use crate::store::codec::{corrupt, n, s};
use crate::store::keys::*;
use crate::store::{AttrValue, Consistency, Item, Key, Query, SortKey, Table, attr, query_all};
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::Caller;
use domain::access::{Resource, Role};
use domain::booking::Provider;
use domain::commitment;
use domain::ids::PatientId;
use domain::instant::render_utc;
use domain::merkle::{Hash, Subtree, consistency_subtrees, fold_subtrees, inclusion_subtrees};

/// Leaf reads in flight at once while assembling proofs.
const READS_AT_ONCE: usize = 16;

/// The stored leaves a set of proofs reads, fetched once each.
#[derive(Default)]
pub struct LeafCache {
    leaves: BTreeMap<u64, (Hash, Vec<Hash>)>,
}

impl LeafCache {
    async fn load(&mut self, table: &dyn Table, wanted: &[u64]) -> Result<(), ApiError> {
        let mut missing: Vec<u64> = wanted
            .iter()
            .copied()
            .filter(|i| !self.leaves.contains_key(i))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for chunk in missing.chunks(READS_AT_ONCE) {
            let keys: Vec<Key> = chunk.iter().map(|i| audit_log_leaf(*i)).collect();
            let reads: Vec<_> = keys
                .iter()
                .map(|k| table.get(k, Consistency::Eventual))
                .collect();
            let items = futures_util::future::try_join_all(reads).await?;
            for (index, item) in chunk.iter().zip(items) {
                let leaf = super::stored::leaf_of(&item.ok_or_else(|| corrupt("audit log leaf"))?)?;
                self.leaves.insert(*index, (leaf.hash, leaf.nodes));
            }
        }
        Ok(())
    }

    fn hash(&self, last_leaf: u64, height: u32) -> Option<Hash> {
        let (leaf, nodes) = self.leaves.get(&last_leaf)?;
        match height {
            0 => Some(*leaf),
            h => nodes.get(h as usize - 1).copied(),
        }
    }

    /// The leaf hash of `index` and its inclusion proof in the tree of `size` leaves, read from
    /// the subtrees stored beside the leaves (a few reads, never the whole log).
    pub async fn proof(
        &mut self,
        table: &dyn Table,
        index: u64,
        size: u64,
    ) -> Result<(Hash, Vec<Hash>), ApiError> {
        let parts = inclusion_subtrees(index, size).ok_or_else(|| corrupt("leaf index"))?;
        let proof = self.assemble(table, &parts, Some(index)).await?;
        let leaf = self
            .hash(index, 0)
            .ok_or_else(|| corrupt(attr::LEAF_HASH))?;
        Ok((leaf, proof))
    }

    /// The RFC 9162 consistency proof from the tree of `old_size` leaves to the tree of
    /// `new_size`, read the same way.
    pub async fn consistency(
        &mut self,
        table: &dyn Table,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, ApiError> {
        let parts = consistency_subtrees(old_size, new_size).ok_or_else(|| corrupt("tree size"))?;
        self.assemble(table, &parts, None).await
    }

    /// Each proof hash folded from its stored subtrees (and `leaf` loaded beside them).
    async fn assemble(
        &mut self,
        table: &dyn Table,
        parts: &[Vec<Subtree>],
        leaf: Option<u64>,
    ) -> Result<Vec<Hash>, ApiError> {
        let mut wanted: Vec<u64> = parts.iter().flatten().map(|t| t.last_leaf()).collect();
        wanted.extend(leaf);
        self.load(table, &wanted).await?;
        parts
            .iter()
            .map(|subtrees| {
                let hashes = subtrees
                    .iter()
                    .map(|t| self.hash(t.last_leaf(), t.height))
                    .collect::<Option<Vec<_>>>()?;
                fold_subtrees(&hashes)
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt(attr::NODES).into())
    }
}

pub use crate::common::log::leaf_index_of;

/// Who acted, as a patient may be told.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Accessor {
    /// `user`, `system` (one of the practice's scheduled jobs) or `processor`.
    pub kind: String,
    /// The role acted in: `patient`, `provider`, `staff`, `admin`, or none for a job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The staff member's, provider's or admin's display name: from their token when it carried
    /// one, else a provider's name from their provider record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The patient themselves.
    pub you: bool,
}

/// The proof that an entry is in the log the checkpoint signs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inclusion {
    pub leaf_index: u64,
    /// Base64 of the RFC 6962 leaf hash.
    pub leaf_hash: String,
    /// Base64 of each proof hash, in RFC 6962 order (leaf to root).
    pub proof: Vec<String>,
    /// Base64 of the exact bytes the leaf hashes (`SHA-256(0x00 ‖ entry)`), in which every
    /// identifier is a salted commitment: what the page shows is read from these. Absent for
    /// entries sealed before entries carried commitments (their bytes name others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Hex of the opening of the patient's own id in `entry`: `c:<hex SHA-256(opening ‖ id)>` is
    /// her commitment there, and opens nothing else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opening: Option<String>,
    /// Hex of the opening of the entry's entity id (a signed copy's signature id), on the entries
    /// of an entity's proof only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_opening: Option<String>,
}

/// One access to the patient's data.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessEntry {
    pub at: String,
    /// Our action code, e.g. `appointment.read`.
    pub action: String,
    /// FHIR AuditEvent action: create, read, update, delete or execute.
    pub kind: String,
    /// `success`, `denied` or `failed`.
    pub outcome: String,
    pub by: Accessor,
    /// How many refused requests the entry stands for: on the aggregate of one caller's refusals
    /// in an hour beyond the ones recorded one by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// Absent while the entry waits for integration, or until a checkpoint covers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<Inclusion>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessLog {
    pub patient_id: PatientId,
    /// The latest signed checkpoint (C2SP signed note) every proof is against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Newest first.
    pub entries: Vec<AccessEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The sealed entries behind a page of access-index copies, read together (a few round trips,
/// not one per entry); `None` where one is gone.
async fn originals(table: &dyn Table, copies: &[Item]) -> Result<Vec<Option<Item>>, ApiError> {
    let keys = copies
        .iter()
        .map(|copy| Ok(Key::new(s(copy, attr::ENTRY_PK)?, copy.key.sk.clone())))
        .collect::<Result<Vec<Key>, ApiError>>()?;
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(READS_AT_ONCE) {
        let reads = chunk.iter().map(|k| table.get(k, Consistency::Eventual));
        found.extend(futures_util::future::try_join_all(reads).await?);
    }
    Ok(found)
}

/// A sealed entry as the base64 bytes its leaf hashes and the hex opening of `patient`'s id in
/// them, when it was written with commitments. The bytes are the entry as it is now: if it was
/// changed after it was sealed, they no longer hash to its leaf, and the reader's check says so
/// (nothing is held back to hide it).
fn committed_bytes(entry: Option<&Item>, patient: &PatientId) -> Option<(String, String)> {
    let entry = entry?;
    let Some(AttrValue::B(salt)) = entry.get(attr::SALT) else {
        return None;
    };
    let bytes = canonical_entry(entry);
    let opening = commitment::opening(salt, patient.as_str());
    let hex: String = opening.iter().map(|b| format!("{b:02x}")).collect();
    Some((STANDARD.encode(bytes), hex))
}

/// `GET /v1/audit/consistency?from=M&to=N`: the RFC 9162 consistency proof that the log of `from`
/// entries (a size some checkpoint signed) is a prefix of the log of `to` entries (at most the
/// latest signed checkpoint's size),
/// so a reader who checked an earlier checkpoint can tell the log was only appended to. It holds
/// hashes only, about no one: any signed-in caller may ask, and it is not audited.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// Base64 of each proof hash, in RFC 9162 order.
    pub proof: Vec<String>,
}

pub async fn consistency(
    state: &AppState,
    q: &ConsistencyQuery,
) -> Result<ConsistencyProof, ApiError> {
    let signed = latest_checkpoint(&*state.table)
        .await?
        .map_or(0, |l| l.checkpoint.size);
    if q.from == 0 || q.from > q.to || q.to > signed {
        return Err(InputError::InvalidTreeSizes.into());
    }
    // Only from a size the log signed: what a reader can have checked before (and no one can ask
    // for proofs between arbitrary sizes, each costing many reads).
    let signed_from = Query::partition(AUDIT_LOG_CHECKPOINTS)
        .sort(SortKey::BeginsWith(audit_log_checkpoint_size_prefix(
            q.from,
        )))
        .limit(1);
    if state.table.query(&signed_from).await?.items.is_empty() {
        return Err(InputError::InvalidTreeSizes.into());
    }
    let proof = if q.from == q.to {
        Vec::new()
    } else {
        LeafCache::default()
            .consistency(&*state.table, q.from, q.to)
            .await?
    };
    Ok(ConsistencyProof {
        from: q.from,
        to: q.to,
        proof: proof.iter().map(|h| STANDARD.encode(h)).collect(),
    })
}

/// Names of the providers who have logins, by their subject.
async fn provider_names(table: &dyn Table) -> Result<BTreeMap<String, String>, ApiError> {
    let items = query_all(table, &Query::gsi1(PROVIDERS_INDEX)).await?;
    let mut names = BTreeMap::new();
    for item in &items {
        let provider = Provider::from_item(item)?;
        if let Some(subject) = provider.subject {
            names.insert(subject.as_str().to_owned(), provider.name);
        }
    }
    Ok(names)
}

/// A list-of-strings attribute (roles, patient ids); empty when absent.
pub(crate) fn strings(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttrValue::L(values)) => values
            .iter()
            .filter_map(|v| v.as_s().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The role an entry's actor acted in: the most privileged one their token carried.
fn acting_role(roles: &[String]) -> Option<String> {
    ["admin", "staff", "provider", "patient"]
        .into_iter()
        .find(|r| roles.iter().any(|have| have == r))
        .map(str::to_owned)
}

/// What an entry is proven against: the latest checkpoint, for whom, with the providers' names.
struct Proving<'a> {
    latest: Option<super::stored::Latest>,
    names: BTreeMap<String, String>,
    patient: &'a PatientId,
}

impl<'a> Proving<'a> {
    /// Against the latest signed checkpoint, for `patient`.
    async fn latest(table: &dyn Table, patient: &'a PatientId) -> Result<Self, ApiError> {
        Ok(Proving {
            latest: latest_checkpoint(table).await?,
            names: provider_names(table).await?,
            patient,
        })
    }

    /// The signed note every proof is against.
    fn note(self) -> Option<String> {
        self.latest.map(|l| l.note)
    }

    /// An entry as a patient is shown it (`item` holds its fields: the sealed entry or its access
    /// index copy; `entry_pk` the sealed entry's partition), with its inclusion proof once a
    /// checkpoint covers it.
    async fn entry(
        &self,
        state: &AppState,
        cache: &mut LeafCache,
        item: &Item,
        entry_pk: &str,
        original: Option<&Item>,
    ) -> Result<AccessEntry, ApiError> {
        let actor = s(item, attr::ACTOR)?;
        let kind = s(item, attr::AGENT_KIND)?.to_owned();
        let by = Accessor {
            role: (kind == "user")
                .then(|| acting_role(&strings(item, attr::ROLES)))
                .flatten(),
            name: item
                .get(attr::ACTOR_NAME)
                .and_then(AttrValue::as_s)
                .map(str::to_owned)
                .or_else(|| self.names.get(actor).cloned()),
            you: actor == self.patient.subject().as_str(),
            kind,
        };
        let index = leaf_index_of(&*state.table, entry_pk, &item.key.sk).await?;
        let inclusion = match (index, &self.latest) {
            (Some(index), Some(latest)) if index < latest.checkpoint.size => {
                let (leaf, proof) = cache
                    .proof(&*state.table, index, latest.checkpoint.size)
                    .await?;
                let (entry, opening) = committed_bytes(original, self.patient).unzip();
                Some(Inclusion {
                    leaf_index: index,
                    leaf_hash: STANDARD.encode(leaf),
                    proof: proof.iter().map(|h| STANDARD.encode(h)).collect(),
                    entry,
                    opening,
                    entity_opening: None,
                })
            }
            _ => None,
        };
        Ok(AccessEntry {
            at: render_utc(n(item, attr::AT)?),
            action: s(item, attr::ACTION)?.to_owned(),
            kind: s(item, attr::ACTION_KIND)?.to_owned(),
            outcome: s(item, attr::OUTCOME)?.to_owned(),
            by,
            count: item.get(attr::COUNT).and_then(AttrValue::as_n),
            inclusion,
        })
    }
}

/// The entries of `actions` recorded about one entity (e.g. a consent's signature), each with its
/// inclusion proof against the latest checkpoint, as `patient` is shown them: what a signed copy
/// carries so that `practica audit check-proof` verifies it offline. The caller has authorized
/// and audited the read.
pub async fn entity_proof(
    state: &AppState,
    entity: &str,
    entity_id: &str,
    actions: &[&str],
    patient: &PatientId,
) -> Result<(Option<String>, Vec<AccessEntry>), ApiError> {
    let query = Query::gsi1(audit_entity_index(entity, entity_id));
    let items = query_all(&*state.table, &query).await?;
    let at = Proving::latest(&*state.table, patient).await?;
    let mut cache = LeafCache::default();
    let mut entries = Vec::new();
    for item in items.iter().filter(|i| {
        i.get(attr::ACTION)
            .and_then(AttrValue::as_s)
            .is_some_and(|a| actions.contains(&a))
    }) {
        let mut entry = at
            .entry(state, &mut cache, item, &item.key.pk, Some(item))
            .await?;
        if let (Some(inclusion), Some(AttrValue::B(salt))) =
            (entry.inclusion.as_mut(), item.get(attr::SALT))
        {
            let opening = commitment::opening(salt, entity_id);
            inclusion.entity_opening = Some(opening.iter().map(|b| format!("{b:02x}")).collect());
        }
        entries.push(entry);
    }
    Ok((at.note(), entries))
}

/// `GET /v1/patients/{id}/access-log` (an admin) and `GET /v1/patients/me/access-log` (the
/// patient): the page of accesses to `patient`'s data, newest first, with proofs.
pub async fn access_log(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
    q: &PageQuery,
) -> Result<AccessLog, ApiError> {
    let target = Audit::new("access_log.read", "patient", patient.as_str()).about(patient);
    let allowed = caller
        .principal
        .authorize(
            &[Role::Patient, Role::Admin],
            Resource::Patient(patient.subject()),
        )
        .map_err(ApiError::from);
    refused(state, caller, target.clone(), allowed).await?;
    let query = page_of(audit_access_partition(patient.as_str()), q)?;
    let page = state.table.query(&query).await?;
    let at = Proving::latest(&*state.table, patient).await?;
    let mut cache = LeafCache::default();
    let sealed = originals(&*state.table, &page.items).await?;
    let mut entries = Vec::with_capacity(page.items.len());
    for (item, original) in page.items.iter().zip(&sealed) {
        let entry_pk = s(item, attr::ENTRY_PK)?;
        entries.push(
            at.entry(state, &mut cache, item, entry_pk, original.as_ref())
                .await?,
        );
    }
    audit_read(state, caller, target).await?;
    Ok(AccessLog {
        patient_id: patient.clone(),
        checkpoint: at.note(),
        entries,
        next: page.next.map(|c| c.encode()),
    })
}

/// Up to `max` of the accesses to `patient`'s data, newest first, each with its proof, and the
/// checkpoint they are proven against; `false` when there were more (for her copy of her record:
/// the caller has authorized the read and audits it).
pub async fn entries_of(
    state: &AppState,
    patient: &PatientId,
    max: usize,
) -> Result<(Option<String>, Vec<AccessEntry>, bool), ApiError> {
    let at = Proving::latest(&*state.table, patient).await?;
    let mut cache = LeafCache::default();
    let mut entries = Vec::new();
    let mut q = PageQuery {
        cursor: None,
        limit: Some(crate::common::paging::MAX_PAGE),
    };
    loop {
        let query = page_of(audit_access_partition(patient.as_str()), &q)?;
        let page = state.table.query(&query).await?;
        let sealed = originals(&*state.table, &page.items).await?;
        for (item, original) in page.items.iter().zip(&sealed) {
            if entries.len() == max {
                return Ok((at.note(), entries, false));
            }
            let entry_pk = s(item, attr::ENTRY_PK)?;
            entries.push(
                at.entry(state, &mut cache, item, entry_pk, original.as_ref())
                    .await?,
            );
        }
        match page.next {
            Some(next) => q.cursor = Some(next.encode()),
            None => return Ok((at.note(), entries, true)),
        }
    }
}

#[cfg(test)]
mod tests;
