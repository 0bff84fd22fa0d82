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
//!   the same, so a table rolled back together with its own checkpoints is caught by the archive;
//! - with a witness rule (k of the practice's witnesses), a cosignature by one of them that does
//!   not verify, or a log whose checkpoints older than the allowed lag were never cosigned by k of
//!   them up to their size (no witness vouches that others were shown the same log).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::crypto::cosign::{QuorumError, WitnessPolicy};
use crate::crypto::signer::{CheckpointError, verify_checkpoint};
use domain::merkle::{Frontier, Hash};

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
    /// A checkpoint carries a line under a configured witness's name and key ID that does not
    /// verify.
    CosignatureForged {
        position: usize,
        witness: String,
    },
    /// The log's checkpoints reach `size` (signed longer ago than the allowed lag, or none was
    /// cosigned at all), but k of the configured witnesses cosigned only up to `witnessed`.
    NotWitnessed {
        size: u64,
        witnessed: u64,
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
    /// With a witness rule, the largest size a checkpoint cosigned by enough witnesses vouches for.
    pub witnessed_size: Option<u64>,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks `log` against the key pinned as (`key_name`, `spki`): a [`LogChecker`] fed from slices.
pub fn verify(log: &LogView<'_>, key_name: &str, spki: &[u8]) -> Report {
    let mut leaves: Vec<&Leaf> = log.leaves.iter().collect();
    leaves.sort_by_key(|l| l.index);
    let mut verifier = LogChecker::new(log.pending_after, log.leaves.len() as u64);
    for leaf in leaves {
        verifier.leaf(leaf);
    }
    for (name, hash) in log.entries {
        verifier.entry(name, *hash);
    }
    verifier.finish(
        &Signed {
            checkpoints: log.checkpoints,
            archived: log.archived,
            head_size: log.head_size,
            witnesses: &WitnessPolicy::default(),
        },
        key_name,
        spki,
    )
}

/// The signed side of a check: the checkpoints in the table, the archived ones, the head's size.
pub struct Signed<'a> {
    pub checkpoints: &'a [String],
    pub archived: &'a [String],
    pub head_size: Option<u64>,
    /// The practice's witness rule (none: checkpoints need no cosignatures).
    pub witnesses: &'a WitnessPolicy,
}

/// An entry name a leaf commits to.
struct Named {
    /// The first leaf naming it.
    index: u64,
    /// The leaf hash of the entry's bytes, once the entry was read.
    actual: Option<Hash>,
}

/// The check, fed as the log is read: every leaf in ascending index order first, then every
/// entry, then [`LogChecker::finish`]. Per leaf it keeps only the index, the stored hash and the
/// entry's name (not the leaves' subtrees, not the entries' bytes), so a log of hundreds of
/// thousands of entries is checked in tens of megabytes however it is read.
pub struct LogChecker {
    pending_after: i128,
    /// (index, stored hash), ascending, one per index.
    hashes: Vec<(u64, Hash)>,
    names: HashMap<Box<str>, Named>,
    /// Leaves naming an entry an earlier leaf names: (index, entry).
    repeats: Vec<(u64, Box<str>)>,
    /// Recomputes the subtrees each leaf completes, up to the first missing leaf (after it every
    /// position is off, and the gap is reported).
    frontier: Option<Frontier>,
    nodes_wrong: Vec<u64>,
    missing: Vec<u64>,
    pending: u64,
    not_in_log: Vec<Box<str>>,
}

impl LogChecker {
    /// A check of a log expected to hold about `expected` leaves (room is made for them up front,
    /// so the tables do not grow by doubling).
    pub fn new(pending_after: i128, expected: u64) -> LogChecker {
        let room = usize::try_from(expected).unwrap_or(0).min(1 << 24);
        LogChecker {
            pending_after,
            hashes: Vec::with_capacity(room),
            names: HashMap::with_capacity(room),
            repeats: Vec::new(),
            frontier: Some(Frontier::default()),
            nodes_wrong: Vec::new(),
            missing: Vec::new(),
            pending: 0,
            not_in_log: Vec::new(),
        }
    }

    /// The next stored leaf. Leaves must come in ascending index order; a repeated index (a
    /// duplicate read) is ignored.
    pub fn leaf(&mut self, leaf: &Leaf) {
        let next = self.hashes.last().map_or(0, |(i, _)| i + 1);
        if leaf.index < next {
            return;
        }
        if leaf.index > next {
            self.missing.extend(next..leaf.index);
            self.frontier = None;
        }
        if let Some(frontier) = &mut self.frontier
            && frontier.push_completing(leaf.hash) != leaf.nodes
        {
            self.nodes_wrong.push(leaf.index);
        }
        self.hashes.push((leaf.index, leaf.hash));
        match self.names.get(leaf.entry.as_str()) {
            Some(_) => self.repeats.push((leaf.index, leaf.entry.as_str().into())),
            None => {
                self.names.insert(
                    leaf.entry.as_str().into(),
                    Named {
                        index: leaf.index,
                        actual: None,
                    },
                );
            }
        }
    }

    /// An audit entry in the table, by key, with the leaf hash of its canonical bytes; after
    /// every leaf.
    pub fn entry(&mut self, name: &str, actual: Hash) {
        match self.names.get_mut(name) {
            Some(named) => named.actual = Some(actual),
            None if written_at(name).is_some_and(|at| at > self.pending_after) => self.pending += 1,
            None => self.not_in_log.push(name.into()),
        }
    }

    fn stored(&self, index: u64) -> Hash {
        let at = self.hashes.partition_point(|(i, _)| *i < index);
        self.hashes[at].1
    }

    /// The report, against the signed side and the key pinned as (`key_name`, `spki`).
    pub fn finish(mut self, signed: &Signed<'_>, key_name: &str, spki: &[u8]) -> Report {
        let tree_size = self.hashes.last().map_or(0, |(i, _)| i + 1);
        let mut problems: Vec<Problem> = self
            .missing
            .iter()
            .map(|&index| Problem::LeafMissing { index })
            .collect();

        // Each leaf against the entry it names, in index order.
        let mut per_leaf: Vec<(u64, Problem)> = Vec::new();
        let mut mismatched: Vec<(u64, Box<str>, Hash, Hash)> = Vec::new();
        let mut check = |index: u64, name: &str, actual: Option<Hash>, stored: Hash| match actual {
            None => per_leaf.push((
                index,
                Problem::EntryDeleted {
                    index,
                    entry: name.to_string(),
                },
            )),
            Some(actual) if actual != stored => {
                mismatched.push((index, name.into(), stored, actual))
            }
            Some(_) => {}
        };
        for (name, named) in &self.names {
            check(named.index, name, named.actual, self.stored(named.index));
        }
        for (index, name) in &self.repeats {
            let named = &self.names[name];
            check(*index, name, named.actual, self.stored(*index));
        }
        for (index, name) in &self.repeats {
            per_leaf.push((
                *index,
                Problem::EntryInTwoLeaves {
                    entry: name.to_string(),
                    first: self.names[name].index,
                    second: *index,
                },
            ));
        }
        // Stable: at one index, the repeat comes before the deletion.
        per_leaf.sort_by_key(|(index, p)| (*index, !matches!(p, Problem::EntryInTwoLeaves { .. })));
        problems.extend(per_leaf.into_iter().map(|(_, p)| p));
        mismatched.sort_by_key(|m| m.0);
        problems.extend(classify_mismatches(&mismatched));
        self.not_in_log.sort();
        problems.extend(self.not_in_log.iter().map(|entry| Problem::EntryNotInLog {
            entry: entry.to_string(),
        }));
        problems.extend(
            self.nodes_wrong
                .iter()
                .map(|&index| Problem::NodesWrong { index }),
        );
        if let Some(head) = signed.head_size.filter(|h| *h != tree_size) {
            problems.push(Problem::HeadMismatch {
                head,
                leaves: tree_size,
            });
        }

        // Checkpoints against the stored leaf hashes, in one pass over the leaves.
        let mut checked = Vec::new();
        let mut earlier = 0;
        let mut latest_checkpoint_time = None;
        let (mut witnessed, mut must_be_witnessed, mut largest_signed) = (0, 0, 0);
        let archived_from = signed.checkpoints.len();
        for (position, note) in signed.checkpoints.iter().chain(signed.archived).enumerate() {
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
                    largest_signed = largest_signed.max(c.size);
                    if signed.witnesses.is_required() {
                        match signed.witnesses.check(note) {
                            Ok(_) => witnessed = witnessed.max(c.size),
                            Err(QuorumError::Forged(witness)) => {
                                problems.push(Problem::CosignatureForged { position, witness })
                            }
                            Err(QuorumError::TooFew { .. }) => {}
                        }
                        // Signed before the allowed lag, or with no time, or a time ahead of
                        // the verifier's clock (nothing holds those to a lag): it should have
                        // been cosigned by now.
                        let lag = super::log::ALLOWED_LAG.as_nanos();
                        let settled = c.time.is_none_or(|t| {
                            let at = i128::from(t) * 1_000_000_000;
                            at < self.pending_after || at > self.pending_after + lag
                        });
                        if settled {
                            must_be_witnessed = must_be_witnessed.max(c.size);
                        }
                    }
                    checked.push((position, c));
                }
            }
        }
        checked.sort_by_key(|(_, c)| c.size);
        let mut frontier = Frontier::default();
        let mut checkpointed_size = 0;
        let mut stored = self.hashes.iter().peekable();
        for (position, c) in checked {
            while frontier.size() < c.size {
                let index = frontier.size();
                // A missing leaf (already reported) cannot match any signed root.
                let hash = match stored.next_if(|(i, _)| *i == index) {
                    Some((_, hash)) => *hash,
                    None => [0; 32],
                };
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
        // Under a rule, a log whose checkpoints none of enough witnesses cosigned is not
        // witnessed, however young they are.
        if signed.witnesses.is_required() && witnessed == 0 {
            must_be_witnessed = must_be_witnessed.max(largest_signed);
        }
        if must_be_witnessed > witnessed {
            problems.push(Problem::NotWitnessed {
                size: must_be_witnessed,
                witnessed,
            });
        }
        Report {
            tree_size,
            checkpointed_size,
            pending: self.pending,
            latest_checkpoint_time,
            witnessed_size: signed.witnesses.is_required().then_some(witnessed),
            problems,
        }
    }
}

/// When an entry was written: the nanoseconds that open its sort key (`<pk>|<nanos>#<id>`).
fn written_at(entry: &str) -> Option<i128> {
    entry.split_once('|')?.1.split('#').next()?.parse().ok()
}

/// Leaves whose entries no longer hash to them: a pair that hash to each other's leaves was
/// swapped, the rest were edited.
fn classify_mismatches(mismatched: &[(u64, Box<str>, Hash, Hash)]) -> Vec<Problem> {
    let by_stored: BTreeMap<Hash, usize> = mismatched
        .iter()
        .enumerate()
        .map(|(at, (_, _, stored, _))| (*stored, at))
        .collect();
    let mut paired = BTreeSet::new();
    let mut problems = Vec::new();
    for (at, (index, entry, stored, actual)) in mismatched.iter().enumerate() {
        if paired.contains(&at) {
            continue;
        }
        let swap = by_stored.get(actual).copied().filter(|&other| {
            other != at && !paired.contains(&other) && mismatched[other].3 == *stored
        });
        match swap {
            Some(other) => {
                paired.extend([at, other]);
                let (a, b) = (*index, mismatched[other].0);
                problems.push(Problem::EntriesReordered {
                    first: a.min(b),
                    second: a.max(b),
                });
            }
            None => problems.push(Problem::EntryEdited {
                index: *index,
                entry: entry.to_string(),
            }),
        }
    }
    problems
}

#[cfg(test)]
mod tests;
