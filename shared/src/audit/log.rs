//! The audit log on the table: integrating entries into the Merkle log, and reading it back for
//! verification.
//!
//! Integration is the log's only writer. It reads the entries after its cursor (a day and a sort
//! key in the head) a page at a time, skips those that carry an integration mark, gives the rest
//! the next leaf indices in (day, time) order, and writes, per batch and in ONE transaction: each
//! leaf, each entry's mark, a checkpoint signed over the new size and root, and the head (size,
//! frontier, cursor, version) on the condition that the head is the one it read. Two integrations
//! racing cannot both land (no fork, no gap, no duplicate leaf: a mark or a leaf that exists fails
//! the transaction too); a crash leaves the last whole batch, and the next run resumes at its
//! cursor. A run reads at most [`PAGES_PER_RUN`] pages, so its memory and time are bounded
//! whatever a day holds. The cursor never passes an entry younger than [`SETTLE`]: an entry is
//! written a moment after its time is taken, so the newest ones are read again (and skipped by
//! their marks) until they have settled. The request path never signs and never touches the head:
//! a key service down delays integration only.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;

use super::stored::{entry_name, leaf_of};
use super::verify::{Leaf, LogChecker, Report, Signed};
use crate::crypto::CryptoError;
use crate::crypto::cosign::WitnessPolicy;
use crate::crypto::signer::{LogSigner, sign_checkpoint};
use crate::error::ApiError;
use crate::store::codec::audit::{canonical_entry, openings};
use crate::store::codec::{corrupt, n, s};
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Item, Key, Query, SortKey, Table, TableError, TransactOp,
    attr, query_all,
};
use domain::checkpoint::Checkpoint;
use domain::clock::Clock;
use domain::merkle::{Frontier, Hash, leaf_hash};

/// Entries per transaction: two items each (the leaf, the entry's mark), plus the checkpoint and the
/// head, under DynamoDB's 100.
pub const BATCH: usize = 45;

/// Entries read per page: ten batches.
pub const PAGE: u32 = 450;

/// Pages of entries one run reads at most (about 11,000 entries): what bounds a run's memory (one
/// page) and time (BENCHMARKS.md, "Audit integration of a flooded day"), whatever a day holds; the
/// next run continues at the cursor.
pub const PAGES_PER_RUN: usize = 25;

/// Days one run steps through at most: an empty day costs one query, not a page of entries, so a
/// log idle for weeks (or a first run's look-back) is crossed in one run, and still in bounded time.
pub const DAYS_PER_RUN: usize = 400;

/// How long after its time an entry is surely on the table: a request takes its entry's time
/// before its transaction commits, and no function runs longer than 2 minutes (the reports
/// function's timeout; the API's are 29 s). The cursor stays this
/// far behind the clock; the verifier reports an entry still outside the log after
/// [`ALLOWED_LAG`].
pub const SETTLE: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// The log's identity and how far back a first integration looks.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// The checkpoint origin, e.g. `practica.example/audit/<table>`.
    pub origin: String,
    /// The signature's key name.
    pub key_name: String,
    /// Days before today a log with no head starts scanning from.
    pub first_scan_days: i64,
    /// How long an idle log goes before it signs its unchanged size again.
    pub idle_checkpoint: jiff::SignedDuration,
}

/// Checkpoints of an idle log: hourly, as CloudTrail's digests.
pub const IDLE_CHECKPOINT: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

struct Head {
    frontier: Frontier,
    version: i64,
    /// The day the cursor is in.
    scanned_from: Date,
    /// Every entry of `scanned_from` up to this sort key is in the log ("" before the first).
    cursor: String,
}

impl Head {
    /// Moves the cursor to the start of the next day (its day is over and in the log).
    fn move_to_next_day(&mut self) {
        self.scanned_from = self
            .scanned_from
            .tomorrow()
            .ok()
            .unwrap_or(self.scanned_from);
        self.cursor.clear();
    }
}

/// What one integration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Integrated {
    pub added: u64,
    pub size: u64,
}

fn day_of(text: &str) -> Result<Date, ApiError> {
    domain::clock::parse_day(text).ok_or_else(|| corrupt(attr::SCANNED_FROM).into())
}

async fn head(table: &dyn Table, today: Date, config: &LogConfig) -> Result<Head, ApiError> {
    let Some(item) = table.get(&audit_log_head(), Consistency::Strong).await? else {
        return Ok(Head {
            frontier: Frontier::default(),
            version: 0,
            scanned_from: today - jiff::SignedDuration::from_hours(24 * config.first_scan_days),
            cursor: String::new(),
        });
    };
    let size = u64::try_from(n(&item, attr::TREE_SIZE)?).map_err(|_| corrupt(attr::TREE_SIZE))?;
    let bytes = item
        .get(attr::FRONTIER)
        .and_then(AttrValue::as_b)
        .ok_or_else(|| corrupt(attr::FRONTIER))?;
    let hashes: Vec<Hash> = bytes
        .chunks(32)
        .map(|c| c.try_into().map_err(|_| corrupt(attr::FRONTIER)))
        .collect::<Result<_, _>>()?;
    Ok(Head {
        frontier: Frontier::from_parts(size, &hashes).ok_or_else(|| corrupt(attr::FRONTIER))?,
        version: n(&item, attr::VERSION)?,
        scanned_from: day_of(s(&item, attr::SCANNED_FROM)?)?,
        // A head written before cursors were kept rescans its day, skipping marked entries.
        cursor: item
            .get(attr::SCAN_CURSOR)
            .and_then(AttrValue::as_s)
            .map(str::to_owned)
            .unwrap_or_default(),
    })
}

/// Every day from `from` to `to`, both included.
fn days(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), move |d| d.tomorrow().ok().filter(|n| *n <= to))
        .take_while(move |d| *d <= to)
}

/// A day's audit entries, in time order.
async fn entries_of(table: &dyn Table, day: Date) -> Result<Vec<Item>, TableError> {
    let mut query = Query::partition(audit_partition(day));
    query.consistent = true;
    query_all(table, &query).await
}

/// Integrates the entries not in the log yet, up to [`PAGES_PER_RUN`] pages of them, then, if
/// nothing was added and the latest checkpoint is older than [`LogConfig::idle_checkpoint`], signs
/// the unchanged log again. A race with another integration is a `storage_busy` refusal: nothing
/// of this run's losing batch is written (its access-index copies may be, and are the same bytes
/// the winner writes), and the next run continues.
pub async fn integrate(
    table: &dyn Table,
    signer: &dyn LogSigner,
    clock: &dyn Clock,
    config: &LogConfig,
) -> Result<Integrated, ApiError> {
    let now = clock.now();
    let today = domain::clock::utc_day(now);
    let mut head = head(table, today, config).await?;
    let start = head.frontier.size();
    // The hours of counted refusals that are over get their aggregate entry, integrated below.
    // A failure there must not stop the log: it is logged, and the next run tries again.
    let yesterday = today.yesterday().ok().unwrap_or(today);
    let from = head
        .scanned_from
        .min(yesterday)
        .max(yesterday - jiff::SignedDuration::from_hours(48));
    if let Err(e) = super::refusals::aggregate(table, now, from, SETTLE).await {
        tracing::error!(error = %e, "refusals could not be aggregated; integrating the rest");
    }
    // Sort keys from here on are of entries too young to pass (`{nanos:020}#{id}`).
    let horizon = now - SETTLE;
    let unsettled = format!("{:020}", horizon.as_nanosecond());
    let run = Run {
        table,
        signer,
        config,
        now,
    };
    // Whether the head in memory is ahead of the stored one.
    let mut moved = false;
    let (mut pages, mut days) = (0, 0);
    'days: while pages < PAGES_PER_RUN && days < DAYS_PER_RUN {
        let day = head.scanned_from;
        let day_over = day < today
            && day
                .tomorrow()
                .ok()
                .is_some_and(|d| domain::clock::utc_start(d) <= horizon);
        let mut query = Query::partition(audit_partition(day))
            .limit(PAGE)
            .consistent();
        if !head.cursor.is_empty() {
            query = query.sort(SortKey::Gt(head.cursor.clone()));
        }
        let page = table.query(&query).await?;
        let (Some(first), Some(last)) = (page.items.first(), page.items.last()) else {
            if !day_over {
                break;
            }
            // The day is over and settled: on to the next.
            head.move_to_next_day();
            moved = true;
            days += 1;
            continue;
        };
        pages += 1;
        let marks = Query::partition(audit_integrated_partition(&first.key.pk))
            .sort(SortKey::Between(first.key.sk.clone(), last.key.sk.clone()))
            .consistent();
        let marked: BTreeSet<String> = query_all(table, &marks)
            .await?
            .into_iter()
            .map(|m| m.key.sk)
            .collect();
        let mut batch = Vec::with_capacity(BATCH);
        let mut settled_to_end = true;
        for entry in &page.items {
            if !marked.contains(&entry.key.sk) {
                batch.push(entry);
            }
            // Every entry up to here is in the log once this batch lands.
            if settled_to_end && entry.key.sk < unsettled {
                head.cursor.clone_from(&entry.key.sk);
                moved = true;
            } else {
                settled_to_end = false;
            }
            if batch.len() == BATCH {
                run.commit(&mut head, &batch).await?;
                batch.clear();
                moved = false;
            }
        }
        if !batch.is_empty() {
            run.commit(&mut head, &batch).await?;
            moved = false;
        }
        if !settled_to_end {
            // The rest is too young to pass: the next run reads it again.
            break 'days;
        }
        if page.next.is_none() {
            if !day_over {
                break;
            }
            head.move_to_next_day();
            moved = true;
            days += 1;
        }
    }
    let added = head.frontier.size() - start;
    if added == 0 && checkpoint_due(table, config, now).await? {
        // With the head rewritten unchanged on its version: a run that read a head another run
        // has since moved cannot sign the older size after the newer one.
        let ops = vec![
            checkpoint_write(signer, config, &head.frontier, now).await?,
            head_write(&head),
        ];
        table.transact_write(ops).await.map_err(busy)?;
    } else if moved {
        // Progress over marked entries or empty days, kept so the next run starts there.
        table
            .transact_write(vec![head_write(&head)])
            .await
            .map_err(busy)?;
    }
    Ok(Integrated {
        added,
        size: head.frontier.size(),
    })
}

/// One integration run's ports and instant.
struct Run<'a> {
    table: &'a dyn Table,
    signer: &'a dyn LogSigner,
    config: &'a LogConfig,
    now: jiff::Timestamp,
}

impl Run<'_> {
    /// Puts `batch` into the log in one transaction: its leaves and marks, a checkpoint of the new
    /// size, and `head` (with its cursor) on the version it was read at.
    async fn commit(&self, head: &mut Head, batch: &[&Item]) -> Result<(), ApiError> {
        index_access(self.table, batch).await?;
        let mut ops = Vec::with_capacity(2 * batch.len() + 2);
        for entry in batch {
            let index = head.frontier.size();
            let hash = leaf_hash(&canonical_entry(entry));
            let completed: Vec<u8> = head.frontier.push_completing(hash).concat();
            let mut leaf = Item::new(audit_log_leaf(index))
                .with(attr::ENTRY_PK, entry.key.pk.clone())
                .with(attr::ENTRY_SK, entry.key.sk.clone())
                .with(attr::LEAF_HASH, hash.to_vec());
            if !completed.is_empty() {
                leaf.set(attr::NODES, completed);
            }
            ops.push(TransactOp::Put {
                item: leaf,
                condition: Some(Condition::ItemAbsent),
            });
            ops.push(TransactOp::Put {
                item: Item::new(Key::new(
                    audit_integrated_partition(&entry.key.pk),
                    entry.key.sk.clone(),
                ))
                .with(attr::LEAF_INDEX, index.cast_signed()),
                condition: Some(Condition::ItemAbsent),
            });
        }
        ops.push(checkpoint_write(self.signer, self.config, &head.frontier, self.now).await?);
        ops.push(head_write(head));
        self.table.transact_write(ops).await.map_err(busy)?;
        head.version += 1;
        Ok(())
    }
}

fn busy(e: TableError) -> ApiError {
    match e {
        TableError::TransactionConditionFailed { .. } => ApiError::Unavailable {
            code: "storage_busy",
            source: anyhow::anyhow!("another integration moved the audit log first"),
        },
        other => other.into(),
    }
}

/// The signed checkpoint of the log as `frontier` has it, now.
async fn checkpoint_write(
    signer: &dyn LogSigner,
    config: &LogConfig,
    frontier: &Frontier,
    now: jiff::Timestamp,
) -> Result<TransactOp, ApiError> {
    let checkpoint = Checkpoint {
        origin: config.origin.clone(),
        size: frontier.size(),
        root: frontier.root(),
        time: Some(now.as_second()),
    };
    let note = sign_checkpoint(signer, &config.key_name, &checkpoint)
        .await
        .map_err(CryptoError::from)?;
    Ok(TransactOp::Put {
        item: Item::new(audit_log_checkpoint(checkpoint.size, now.as_second()))
            .with(attr::NOTE, note)
            .with(attr::AT, now.as_second()),
        condition: Some(Condition::ItemAbsent),
    })
}

/// No checkpoint yet, or the latest is older than the idle interval.
async fn checkpoint_due(
    table: &dyn Table,
    config: &LogConfig,
    now: jiff::Timestamp,
) -> Result<bool, ApiError> {
    let latest = Query::partition(AUDIT_LOG_CHECKPOINTS)
        .backward()
        .limit(1)
        .consistent();
    Ok(match table.query(&latest).await?.items.first() {
        None => true,
        Some(item) => now.as_second() - n(item, attr::AT)? >= config.idle_checkpoint.as_secs(),
    })
}

/// The fields of an entry a patient's access index copies: who, when, what, and how it ended.
const ACCESS_FIELDS: [&str; 9] = [
    attr::AT,
    attr::COUNT,
    attr::ACTOR,
    attr::ACTOR_NAME,
    attr::ROLES,
    attr::ACTION,
    attr::ACTION_KIND,
    attr::AGENT_KIND,
    attr::OUTCOME,
];

/// Writes each entry's copy under every patient it names. Idempotent (the same entry gives the
/// same items), so it runs before the batch's transaction and again after a crash or a lost race.
async fn index_access(table: &dyn Table, batch: &[&Item]) -> Result<(), ApiError> {
    let mut copies = Vec::new();
    for entry in batch {
        let patients = match entry.get(attr::PATIENT_IDS) {
            Some(AttrValue::L(ids)) => ids.as_slice(),
            _ => &[],
        };
        // An aggregate's count, as each patient it names is told: how many of the refusals named
        // them, not the caller's total.
        let per_patient = match entry.get(attr::PATIENT_COUNTS) {
            Some(AttrValue::M(counts)) => Some(counts),
            _ => None,
        };
        for patient in patients.iter().filter_map(AttrValue::as_s) {
            let mut copy = Item::new(Key::new(
                audit_access_partition(patient),
                entry.key.sk.clone(),
            ))
            .with(attr::ENTRY_PK, entry.key.pk.clone());
            for field in ACCESS_FIELDS {
                if let Some(value) = entry.attr(field) {
                    copy.set(field, value);
                }
            }
            if let Some(count) = per_patient.and_then(|counts| counts.get(patient)) {
                copy.set(attr::COUNT, count.clone());
            }
            copies.push(copy);
        }
    }
    // Unconditional puts, a transaction's worth at a time (one round trip, one commit each).
    for chunk in copies.chunks(crate::store::MAX_TRANSACT_ITEMS) {
        let ops = chunk
            .iter()
            .map(|copy| TransactOp::Put {
                item: copy.clone(),
                condition: None,
            })
            .collect();
        table.transact_write(ops).await?;
    }
    Ok(())
}

/// The head after a batch, on the condition that nobody else moved it.
fn head_write(head: &Head) -> TransactOp {
    let frontier: Vec<u8> = head.frontier.hashes().concat();
    let condition = if head.version == 0 {
        Condition::ItemAbsent
    } else {
        Condition::version_is(head.version)
    };
    TransactOp::Put {
        item: Item::new(audit_log_head())
            .with(attr::TREE_SIZE, head.frontier.size().cast_signed())
            .with(attr::FRONTIER, frontier)
            .with(attr::VERSION, head.version + 1)
            .with(attr::SCANNED_FROM, head.scanned_from.to_string())
            .with(attr::SCAN_CURSOR, head.cursor.clone()),
        condition: Some(condition),
    }
}

async fn all_leaves(table: &dyn Table) -> Result<Vec<Leaf>, ApiError> {
    // A page at a time, each item decoded as it comes: a leaf is far smaller than its item.
    let mut query = Query::partition(AUDIT_LOG_LEAVES).limit(LEAF_PAGE);
    let mut leaves = Vec::new();
    loop {
        let page = table.query(&query).await?;
        for item in &page.items {
            leaves.push(leaf_of(item)?);
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(leaves),
        }
    }
}

/// Leaves read per page when the whole log is read back.
const LEAF_PAGE: u32 = 1000;

/// How long an entry may wait for integration before the verifier reports it: the stream
/// delivers in seconds, and the reconciling schedule runs every few minutes.
pub const ALLOWED_LAG: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// Reads the whole log back (leaves, the entries of every day from the first leaf's day, or
/// `first_scan_days` ago, to today, and the checkpoints) and verifies it, with the `archived`
/// checkpoints, against the pinned key.
pub async fn verify_table(
    table: &dyn Table,
    clock: &dyn Clock,
    config: &LogConfig,
    spki: &[u8],
    archived: &[String],
) -> Result<Report, ApiError> {
    let none = WitnessPolicy::default();
    verify_table_witnessed(table, clock, config, spki, archived, &none).await
}

/// [`verify_table`], holding the checkpoints to the practice's witness rule as well.
pub async fn verify_table_witnessed(
    table: &dyn Table,
    clock: &dyn Clock,
    config: &LogConfig,
    spki: &[u8],
    archived: &[String],
    witnesses: &WitnessPolicy,
) -> Result<Report, ApiError> {
    let today = domain::clock::utc_day(clock.now());
    let head_size = match table.get(&audit_log_head(), Consistency::Strong).await? {
        Some(head) => {
            Some(u64::try_from(n(&head, attr::TREE_SIZE)?).map_err(|_| corrupt(attr::TREE_SIZE))?)
        }
        None => None,
    };
    let pending_after = (clock.now() - ALLOWED_LAG).as_nanosecond();
    let mut checker = LogChecker::new(pending_after, head_size.unwrap_or(0));
    // The leaves a page at a time, in index order, each checked as it comes.
    let mut first_leaf_day: Option<Date> = None;
    let mut query = Query::partition(AUDIT_LOG_LEAVES).limit(LEAF_PAGE);
    loop {
        let page = table.query(&query).await?;
        for item in &page.items {
            let leaf = leaf_of(item)?;
            let day = leaf
                .entry
                .strip_prefix("AUDIT#")
                .and_then(|rest| rest.get(..10))
                .and_then(|d| day_of(d).ok());
            if let Some(day) = day {
                first_leaf_day = Some(first_leaf_day.map_or(day, |first| first.min(day)));
            }
            checker.leaf(&leaf);
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    // Then the entries a day at a time; the next day is read while this one is hashed.
    let lookback = today - jiff::SignedDuration::from_hours(24 * config.first_scan_days);
    let from = first_leaf_day.map_or(lookback, |d| d.min(lookback));
    let mut days = days(from, today);
    let mut items = match days.next() {
        Some(day) => entries_of(table, day).await?,
        None => Vec::new(),
    };
    loop {
        let next_day = days.next();
        let read_next = async {
            match next_day {
                Some(day) => entries_of(table, day).await.map(Some),
                None => Ok(None),
            }
        };
        let hash = async {
            items
                .iter()
                .map(|item| {
                    (
                        entry_name(&item.key.pk, &item.key.sk),
                        leaf_hash(&canonical_entry(item)),
                    )
                })
                .collect::<Vec<_>>()
        };
        let (next, hashed) = futures_util::future::join(read_next, hash).await;
        for (name, hash) in &hashed {
            checker.entry(name, *hash);
        }
        match next? {
            Some(next) => items = next,
            None => break,
        }
    }
    let notes = query_all(table, &Query::partition(AUDIT_LOG_CHECKPOINTS))
        .await?
        .iter()
        .map(|c| s(c, attr::NOTE).map(str::to_owned))
        .collect::<Result<Vec<_>, _>>()?;
    let signed = Signed {
        checkpoints: &notes,
        archived,
        head_size,
        witnesses,
    };
    Ok(checker.finish(&signed, &config.key_name, spki))
}

/// One exported audit entry: its leaf index (none if not integrated yet), its canonical bytes,
/// exactly what the leaf hash commits to (`SHA-256(0x00 ‖ canonical)`), and for a salted entry
/// the salt and stored values that open its commitments ([`openings`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    pub leaf_index: Option<u64>,
    pub canonical: Vec<u8>,
    pub openings: Option<serde_json::Value>,
}

/// The entries of the UTC days `from` to `to` (both included), in time order, with their leaf
/// indices, and the latest signed checkpoint: what an outside auditor needs to check them.
pub async fn export(
    table: &dyn Table,
    from: Date,
    to: Date,
) -> Result<(Vec<Exported>, Option<String>), ApiError> {
    let indices: BTreeMap<String, u64> = all_leaves(table)
        .await?
        .into_iter()
        .map(|leaf| (leaf.entry, leaf.index))
        .collect();
    let mut exported = Vec::new();
    for day in days(from, to) {
        for item in entries_of(table, day).await? {
            exported.push(Exported {
                leaf_index: indices
                    .get(&entry_name(&item.key.pk, &item.key.sk))
                    .copied(),
                canonical: canonical_entry(&item),
                openings: openings(&item),
            });
        }
    }
    let checkpoint = super::stored::latest_checkpoint(table)
        .await?
        .map(|latest| latest.note);
    Ok((exported, checkpoint))
}

#[cfg(test)]
mod tests;
