use super::*;
use crate::adapters::local_signer::LocalSigner;
use crate::crypto::signer::{LogSigner, sign_checkpoint};
use domain::checkpoint::Checkpoint;
use domain::merkle::leaf_hash;

const NAME: &str = "practica.example/audit";

struct Fixture {
    leaves: Vec<Leaf>,
    entries: BTreeMap<String, Vec<u8>>,
    checkpoints: Vec<String>,
    archived: Vec<String>,
    signer: LocalSigner,
}

fn entry_key(i: u64) -> String {
    format!("AUDIT#2026-11-22|{i:020}")
}

/// A log of 20 entries with a checkpoint after every fifth.
async fn fixture() -> Fixture {
    let signer = LocalSigner::generate().unwrap();
    let (mut leaves, mut entries, mut checkpoints) = (Vec::new(), BTreeMap::new(), Vec::new());
    let mut frontier = Frontier::default();
    for i in 0..20u64 {
        let bytes = format!("{{\"action\":\"read\",\"n\":{i}}}").into_bytes();
        let hash = leaf_hash(&bytes);
        let nodes = frontier.push_completing(hash);
        leaves.push(Leaf {
            index: i,
            entry: entry_key(i),
            hash,
            nodes,
        });
        entries.insert(entry_key(i), bytes);
        if (i + 1) % 5 == 0 {
            checkpoints.push(note(&signer, &frontier).await);
        }
    }
    Fixture {
        leaves,
        entries,
        archived: Vec::new(),
        checkpoints,
        signer,
    }
}

async fn note(signer: &dyn LogSigner, frontier: &Frontier) -> String {
    let c = Checkpoint {
        origin: "practica.example/audit/test".into(),
        size: frontier.size(),
        root: frontier.root(),
        time: None,
    };
    sign_checkpoint(signer, NAME, &c).await.unwrap()
}

fn check(f: &Fixture) -> Report {
    check_at(f, i128::MAX)
}

/// Checks with entries written after `pending_after` still within the integration lag.
fn check_at(f: &Fixture, pending_after: i128) -> Report {
    let hashes = f
        .entries
        .iter()
        .map(|(name, bytes)| (name.clone(), leaf_hash(bytes)))
        .collect();
    let view = LogView {
        leaves: &f.leaves,
        entries: &hashes,
        checkpoints: &f.checkpoints,
        archived: &f.archived,
        head_size: Some(f.leaves.iter().map(|l| l.index + 1).max().unwrap_or(0)),
        pending_after,
    };
    verify(&view, NAME, f.signer.public_key())
}

#[tokio::test]
async fn an_entry_within_the_lag_is_pending_and_one_past_it_is_reported() {
    let mut f = fixture().await;
    let recent = format!("AUDIT#2026-11-22|{:020}#01J", 5_000);
    f.entries.insert(recent.clone(), b"{}".to_vec());
    let report = check_at(&f, 4_999);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.pending, 1);
    let report = check_at(&f, 5_000);
    assert_eq!(report.pending, 0);
    assert_eq!(
        report.problems,
        vec![Problem::EntryNotInLog { entry: recent }]
    );
}

#[tokio::test]
async fn a_wrong_stored_subtree_is_reported_at_its_leaf() {
    let mut f = fixture().await;
    assert_eq!(
        f.leaves[7].nodes.len(),
        3,
        "leaf 7 completes heights 1 to 3"
    );
    f.leaves[7].nodes[1] = [9; 32];
    assert_eq!(check(&f).problems, vec![Problem::NodesWrong { index: 7 }]);
}

#[tokio::test]
async fn an_intact_log_verifies() {
    let f = fixture().await;
    let report = check(&f);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.tree_size, report.checkpointed_size), (20, 20));
}

#[tokio::test]
async fn an_edited_entry_is_reported_at_its_index() {
    let mut f = fixture().await;
    f.entries
        .insert(entry_key(7), b"{\"action\":\"read\",\"n\":99}".to_vec());
    assert_eq!(
        check(&f).problems,
        vec![Problem::EntryEdited {
            index: 7,
            entry: entry_key(7)
        }]
    );
}

#[tokio::test]
async fn a_deleted_entry_and_an_inserted_one_are_reported() {
    let mut f = fixture().await;
    f.entries.remove(&entry_key(3));
    f.entries
        .insert("AUDIT#2026-11-22|late".into(), b"{}".to_vec());
    assert_eq!(
        check(&f).problems,
        vec![
            Problem::EntryDeleted {
                index: 3,
                entry: entry_key(3)
            },
            Problem::EntryNotInLog {
                entry: "AUDIT#2026-11-22|late".into()
            },
        ]
    );
}

#[tokio::test]
async fn two_swapped_entries_are_reported_as_reordered() {
    let mut f = fixture().await;
    let (a, b) = (
        f.entries[&entry_key(4)].clone(),
        f.entries[&entry_key(11)].clone(),
    );
    f.entries.insert(entry_key(4), b);
    f.entries.insert(entry_key(11), a);
    assert_eq!(
        check(&f).problems,
        vec![Problem::EntriesReordered {
            first: 4,
            second: 11
        }]
    );
}

#[tokio::test]
async fn a_deleted_leaf_breaks_every_later_checkpoint() {
    let mut f = fixture().await;
    f.leaves.retain(|l| l.index != 12);
    let problems = check(&f).problems;
    assert_eq!(
        problems,
        vec![
            Problem::LeafMissing { index: 12 },
            Problem::EntryNotInLog {
                entry: entry_key(12)
            },
            Problem::CheckpointRootMismatch {
                position: 2,
                size: 15
            },
            Problem::CheckpointRootMismatch {
                position: 3,
                size: 20
            },
        ]
    );
}

#[tokio::test]
async fn a_leaf_rewritten_to_hide_an_edit_contradicts_the_signed_roots() {
    let mut f = fixture().await;
    let forged = b"{\"action\":\"read\",\"n\":-1}".to_vec();
    f.leaves[2].hash = leaf_hash(&forged);
    f.entries.insert(entry_key(2), forged);
    let report = check(&f);
    assert_eq!(report.checkpointed_size, 0);
    assert_eq!(
        report.problems,
        // The subtrees stored with leaves 3, 7 and 15 include the old leaf 2 too.
        [3, 7, 15]
            .map(|index| Problem::NodesWrong { index })
            .into_iter()
            .chain((0..4).map(|position| Problem::CheckpointRootMismatch {
                position,
                size: 5 * (position as u64 + 1)
            }))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_truncated_log_is_behind_its_checkpoints() {
    let mut f = fixture().await;
    f.leaves.truncate(13);
    let problems = check(&f).problems;
    assert!(problems.contains(&Problem::CheckpointBeyondLog {
        position: 2,
        size: 15
    }));
    assert!(problems.contains(&Problem::CheckpointBeyondLog {
        position: 3,
        size: 20
    }));
    assert!(problems.contains(&Problem::EntryNotInLog {
        entry: entry_key(19)
    }));
}

#[tokio::test]
async fn a_log_truncated_with_its_own_checkpoints_contradicts_the_archive() {
    let mut f = fixture().await;
    f.archived = f.checkpoints.clone();
    assert!(check(&f).ok());
    // The last seven leaves and the table's last two checkpoints removed: consistent on its own.
    f.leaves.truncate(13);
    f.checkpoints.truncate(2);
    for i in 13..20 {
        f.entries.remove(&entry_key(i));
    }
    let archive = std::mem::take(&mut f.archived);
    assert!(check(&f).ok());
    f.archived = archive;
    // The archive still holds the checkpoints of sizes 15 and 20 (positions 2 + 2 and 2 + 3).
    assert_eq!(
        check(&f).problems,
        vec![
            Problem::CheckpointBeyondLog {
                position: 4,
                size: 15
            },
            Problem::CheckpointBeyondLog {
                position: 5,
                size: 20
            },
        ]
    );
}

#[tokio::test]
async fn forged_and_rolled_back_checkpoints_are_reported() {
    let mut f = fixture().await;
    // One replaced by a checkpoint of the same log signed with another key.
    let other = LocalSigner::generate().unwrap();
    let mut frontier = Frontier::default();
    for leaf in &f.leaves[..10] {
        frontier.push(leaf.hash);
    }
    f.checkpoints[1] = note(&other, &frontier).await;
    // An older checkpoint served again after newer ones (the head rolled back).
    let old = f.checkpoints[0].clone();
    f.checkpoints.push(old);
    assert_eq!(
        check(&f).problems,
        vec![
            Problem::CheckpointForged {
                position: 1,
                reason: CheckpointError::NotSignedByKey
            },
            Problem::CheckpointRolledBack {
                position: 4,
                size: 5,
                earlier: 20
            },
        ]
    );
}

/// The fixture's checkpoints signed at times 1000 + size seconds, the witness `w` cosigning the
/// first `cosigned` of them.
async fn witnessed_notes(
    f: &Fixture,
    w: &crate::crypto::cosign::Cosigner,
    cosigned: usize,
) -> Vec<String> {
    let mut frontier = Frontier::default();
    let mut notes = Vec::new();
    for leaf in &f.leaves {
        frontier.push(leaf.hash);
        if frontier.size() % 5 == 0 {
            let time = 1000 + frontier.size() as i64;
            let c = Checkpoint {
                origin: "practica.example/audit/test".into(),
                size: frontier.size(),
                root: frontier.root(),
                time: Some(time),
            };
            let note = sign_checkpoint(&f.signer, NAME, &c).await.unwrap();
            let (body, mut lines) = domain::checkpoint::open_note(&note).unwrap();
            if notes.len() < cosigned {
                lines.push(w.cosign(body, time as u64));
            }
            notes.push(domain::checkpoint::signed_note(body, &lines));
        }
    }
    notes
}

fn check_witnessed(
    f: &Fixture,
    checkpoints: &[String],
    now_seconds: i128,
    rule: &WitnessPolicy,
) -> Report {
    let mut checker = LogChecker::new(now_seconds * 1_000_000_000, f.leaves.len() as u64);
    for leaf in &f.leaves {
        checker.leaf(leaf);
    }
    for (name, bytes) in &f.entries {
        checker.entry(name, leaf_hash(bytes));
    }
    checker.finish(
        &Signed {
            checkpoints,
            archived: &[],
            head_size: Some(20),
            witnesses: rule,
        },
        NAME,
        f.signer.public_key(),
    )
}

#[tokio::test]
async fn with_a_witness_rule_settled_checkpoints_must_be_cosigned() {
    use crate::crypto::cosign::Cosigner;
    let f = fixture().await;
    let w = Cosigner::from_pkcs8("w.example/1", &Cosigner::generate_pkcs8().unwrap()).unwrap();
    let rule = WitnessPolicy::new(vec![w.key().clone()], 1).unwrap();

    let all = witnessed_notes(&f, &w, 4).await;
    let report = check_witnessed(&f, &all, 5000, &rule);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.witnessed_size, Some(20));
    // Without a rule, nothing is said of witnesses.
    assert_eq!(
        check_witnessed(&f, &all, 5000, &WitnessPolicy::default()).witnessed_size,
        None
    );

    // The last two never cosigned: a problem once they are older than the lag, not before.
    let half = witnessed_notes(&f, &w, 2).await;
    assert_eq!(
        check_witnessed(&f, &half, 5000, &rule).problems,
        vec![Problem::NotWitnessed {
            size: 20,
            witnessed: 10
        }]
    );
    assert!(check_witnessed(&f, &half, 1012, &rule).ok());
    // None cosigned: not witnessed, however young; a checkpoint with no time, or one from the
    // future, is held to the rule at once.
    let none = witnessed_notes(&f, &w, 0).await;
    assert_eq!(
        check_witnessed(&f, &none, 1012, &rule).problems,
        vec![Problem::NotWitnessed {
            size: 20,
            witnessed: 0
        }]
    );
    let mut untimed = half.clone();
    untimed[3] = f.checkpoints[3].clone();
    assert_eq!(
        check_witnessed(&f, &untimed, 1012, &rule).problems,
        vec![Problem::NotWitnessed {
            size: 20,
            witnessed: 10
        }]
    );

    // A cosignature under the witness's name and key ID that does not verify: reported.
    let mut forged = all.clone();
    let (body, mut lines) = domain::checkpoint::open_note(&forged[3]).unwrap();
    lines[1].signature[20] ^= 1;
    forged[3] = domain::checkpoint::signed_note(body, &lines);
    let problems = check_witnessed(&f, &forged, 5000, &rule).problems;
    assert!(
        problems.contains(&Problem::CosignatureForged {
            position: 3,
            witness: "w.example/1".into()
        }),
        "{problems:?}"
    );
}
