//! Verifying the audit log, as an outside auditor would: from the stored leaves (index, the entry
//! each commits to, its RFC 6962 leaf hash), the leaf hashes of the entries' canonical bytes and the signed
//! checkpoints, with only the log's pinned public key trusted. Every problem is reported with its
//! kind and position, none stops the check:
//!
//! - a leaf index missing from the sequence (a leaf deleted);
//! - an entry whose bytes no longer hash to its leaf (edited), or that two leaves swapped
//!   (reordered), or that a leaf names but the table no longer has (deleted);
//! - an entry no leaf commits to (inserted, or not integrated yet), or one that two leaves name;
//! - a checkpoint not signed by the pinned key (forged), smaller than an earlier one (rolled back),
//!   larger than the log, or whose root is not the root of the stored leaves at its size (the log
//!   was rewritten after it was signed); the checkpoints archived outside the table are held to
//!   the same, so a table rolled back together with its own checkpoints is caught by the archive.

use std::collections::{BTreeMap, BTreeSet};

use crate::crypto::signer::{CheckpointError, verify_checkpoint};
use crate::domain::merkle::{Frontier, Hash};

/// One stored leaf of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub index: u64,
    /// The key of the audit entry it commits to.
    pub entry: String,
    pub hash: Hash,
    /// The perfect subtrees this leaf completed, heights 1, 2, … (what inclusion proofs read).
    pub nodes: Vec<Hash>,
}

/// What was read back for a check.
pub struct LogView<'a> {
    /// The stored leaves, in any order.
    pub leaves: &'a [Leaf],
    /// Every audit entry in the table: key → the leaf hash of its canonical bytes (a hash, not the
    /// bytes, so a month of entries is checked in little memory).
    pub entries: &'a BTreeMap<String, Hash>,
    /// The signed checkpoints in the table, oldest first.
    pub checkpoints: &'a [String],
    /// The checkpoints archived outside the table (numbered after the table's in problems). A log
    /// rolled back or rewritten in the table contradicts them.
    pub archived: &'a [String],
    /// The size the log's head claims (none when there is no head yet).
    pub head_size: Option<u64>,
    /// Entries written after this instant (Unix nanoseconds, the start of their sort key) may
    /// still be waiting for integration: counted as pending, not reported.
    pub pending_after: i128,
}

/// One thing wrong with the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    LeafMissing {
        index: u64,
    },
    EntryEdited {
        index: u64,
        entry: String,
    },
    EntriesReordered {
        first: u64,
        second: u64,
    },
    EntryDeleted {
        index: u64,
        entry: String,
    },
    /// Not in the log, and older than the allowed integration lag (or not an entry at all).
    EntryNotInLog {
        entry: String,
    },
    /// The head (where integration continues) claims another size than the stored leaves: rolled
    /// back, or moved past leaves that do not exist.
    HeadMismatch {
        head: u64,
        leaves: u64,
    },
    /// The subtree hashes stored with a leaf are not the ones its position gives: inclusion
    /// proofs read from it would fail.
    NodesWrong {
        index: u64,
    },
    EntryInTwoLeaves {
        entry: String,
        first: u64,
        second: u64,
    },
    CheckpointForged {
        position: usize,
        reason: CheckpointError,
    },
    CheckpointRolledBack {
        position: usize,
        size: u64,
        earlier: u64,
    },
    CheckpointBeyondLog {
        position: usize,
        size: u64,
    },
    CheckpointRootMismatch {
        position: usize,
        size: u64,
    },
}

/// The result of a check.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Leaves checked.
    pub tree_size: u64,
    /// The largest size a valid checkpoint vouches for.
    pub checkpointed_size: u64,
    /// Entries not in the log yet but within the allowed integration lag.
    pub pending: u64,
    /// The signing time of the latest valid checkpoint (Unix seconds), if it has one.
    pub latest_checkpoint_time: Option<i64>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks `log` against the key pinned as (`key_name`, `spki`).
pub fn verify(log: &LogView<'_>, key_name: &str, spki: &[u8]) -> Report {
    let mut problems = Vec::new();
    let mut leaves: Vec<&Leaf> = log.leaves.iter().collect();
    leaves.sort_by_key(|l| l.index);
    let tree_size = leaves.last().map_or(0, |l| l.index + 1);

    // The stored leaf hashes by index, and the sequence's gaps.
    let mut by_index: BTreeMap<u64, &Leaf> = BTreeMap::new();
    for leaf in &leaves {
        by_index.entry(leaf.index).or_insert(leaf);
    }
    problems.extend(
        (0..tree_size)
            .filter(|i| !by_index.contains_key(i))
            .map(|index| Problem::LeafMissing { index }),
    );

    // Each leaf against the entry it names.
    let mut named: BTreeMap<&str, u64> = BTreeMap::new();
    let mut mismatched: Vec<(&Leaf, Hash)> = Vec::new();
    for leaf in by_index.values() {
        if let Some(&first) = named.get(leaf.entry.as_str()) {
            problems.push(Problem::EntryInTwoLeaves {
                entry: leaf.entry.clone(),
                first,
                second: leaf.index,
            });
        } else {
            named.insert(&leaf.entry, leaf.index);
        }
        match log.entries.get(&leaf.entry) {
            None => problems.push(Problem::EntryDeleted {
                index: leaf.index,
                entry: leaf.entry.clone(),
            }),
            Some(actual) => {
                if *actual != leaf.hash {
                    mismatched.push((leaf, *actual));
                }
            }
        }
    }
    problems.extend(classify_mismatches(&mismatched));
    let mut pending = 0;
    for entry in log
        .entries
        .keys()
        .filter(|k| !named.contains_key(k.as_str()))
    {
        if written_at(entry).is_some_and(|at| at > log.pending_after) {
            pending += 1;
        } else {
            problems.push(Problem::EntryNotInLog {
                entry: entry.clone(),
            });
        }
    }
    problems.extend(check_nodes(&by_index, tree_size));
    if let Some(head) = log.head_size.filter(|h| *h != tree_size) {
        problems.push(Problem::HeadMismatch {
            head,
            leaves: tree_size,
        });
    }

    // Checkpoints against the stored leaf hashes, in one pass over the leaves.
    let mut checked = Vec::new();
    let mut earlier = 0;
    let mut latest_checkpoint_time = None;
    let archived_from = log.checkpoints.len();
    for (position, note) in log.checkpoints.iter().chain(log.archived).enumerate() {
        match verify_checkpoint(note, key_name, spki) {
            Err(reason) => problems.push(Problem::CheckpointForged { position, reason }),
            Ok(c) if c.size < earlier && position < archived_from => {
                problems.push(Problem::CheckpointRolledBack {
                    position,
                    size: c.size,
                    earlier,
                })
            }
            Ok(c) if c.size > tree_size => problems.push(Problem::CheckpointBeyondLog {
                position,
                size: c.size,
            }),
            Ok(c) => {
                if position < archived_from {
                    earlier = c.size;
                }
                latest_checkpoint_time = latest_checkpoint_time.max(c.time);
                checked.push((position, c));
            }
        }
    }
    checked.sort_by_key(|(_, c)| c.size);
    let mut frontier = Frontier::default();
    let mut checkpointed_size = 0;
    let mut hashes = (0..tree_size).map(|i| by_index.get(&i).map(|l| l.hash));
    for (position, c) in checked {
        while frontier.size() < c.size {
            // A missing leaf (already reported) cannot match any signed root.
            let hash = hashes.next().flatten().unwrap_or([0; 32]);
            frontier.push(hash);
        }
        if frontier.root() == c.root {
            checkpointed_size = checkpointed_size.max(c.size);
        } else {
            problems.push(Problem::CheckpointRootMismatch {
                position,
                size: c.size,
            });
        }
    }
    Report {
        tree_size,
        checkpointed_size,
        pending,
        latest_checkpoint_time,
        problems,
    }
}

/// When an entry was written: the nanoseconds that open its sort key (`<pk>|<nanos>#<id>`).
fn written_at(entry: &str) -> Option<i128> {
    entry.split_once('|')?.1.split('#').next()?.parse().ok()
}

/// Recomputes the subtrees each leaf completes and compares them with the stored ones, up to the
/// first missing leaf (after it every position is off, and the gap is already reported).
fn check_nodes(by_index: &BTreeMap<u64, &Leaf>, tree_size: u64) -> Vec<Problem> {
    let mut frontier = Frontier::default();
    let mut problems = Vec::new();
    for index in 0..tree_size {
        let Some(leaf) = by_index.get(&index) else {
            break;
        };
        if frontier.push_completing(leaf.hash) != leaf.nodes {
            problems.push(Problem::NodesWrong { index });
        }
    }
    problems
}

/// Leaves whose entries no longer hash to them: a pair that hash to each other's leaves was
/// swapped, the rest were edited.
fn classify_mismatches(mismatched: &[(&Leaf, Hash)]) -> Vec<Problem> {
    let by_stored: BTreeMap<Hash, usize> = mismatched
        .iter()
        .enumerate()
        .map(|(at, (leaf, _))| (leaf.hash, at))
        .collect();
    let mut paired = BTreeSet::new();
    let mut problems = Vec::new();
    for (at, (leaf, actual)) in mismatched.iter().enumerate() {
        if paired.contains(&at) {
            continue;
        }
        let swap = by_stored.get(actual).copied().filter(|&other| {
            other != at && !paired.contains(&other) && mismatched[other].1 == leaf.hash
        });
        match swap {
            Some(other) => {
                paired.extend([at, other]);
                let (a, b) = (leaf.index, mismatched[other].0.index);
                problems.push(Problem::EntriesReordered {
                    first: a.min(b),
                    second: a.max(b),
                });
            }
            None => problems.push(Problem::EntryEdited {
                index: leaf.index,
                entry: leaf.entry.clone(),
            }),
        }
    }
    problems
}

#[cfg(test)]
mod tests;
