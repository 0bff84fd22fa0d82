use super::*;
use crate::adapters::local_signer::LocalSigner;
use crate::adapters::redb_witness::RedbWitnessState;
use crate::crypto::cosign::cosigned_by;
use crate::crypto::signer::{LogSigner, sign_checkpoint};
use domain::merkle::{consistency_proof, leaf_hash, root};

const ORIGIN: &str = "practica.example/audit/t";
const KEY_NAME: &str = "practica.example/audit";

fn leaves(n: u64, salt: &str) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("{salt}{i}").as_bytes()))
        .collect()
}

async fn note(signer: &LocalSigner, origin: &str, leaves: &[Hash]) -> String {
    let checkpoint = Checkpoint {
        origin: origin.into(),
        size: leaves.len() as u64,
        root: root(leaves),
        time: Some(1_795_000_000),
    };
    sign_checkpoint(signer, KEY_NAME, &checkpoint)
        .await
        .unwrap()
}

fn request(old: u64, proof: Vec<Hash>, note: String) -> String {
    AddCheckpoint {
        old_size: old,
        proof,
        note,
    }
    .body()
}

fn witness(dir: &std::path::Path, log: &LocalSigner) -> Witness {
    Witness {
        logs: vec![TrustedLog {
            origin: ORIGIN.into(),
            key_name: KEY_NAME.into(),
            spki: log.public_key().to_vec(),
        }],
        state: Arc::new(RedbWitnessState::open(&dir.join("witness.redb")).unwrap()),
        cosigner: Cosigner::from_pkcs8("witness.example/w1", &Cosigner::generate_pkcs8().unwrap())
            .unwrap(),
    }
}

#[tokio::test]
async fn a_witness_cosigns_a_growing_log_and_refuses_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let log = LocalSigner::generate().unwrap();
    let w = witness(dir.path(), &log);
    let history = leaves(20, "a");

    // The first checkpoint, from size 0: cosigned, the answer one line by the witness's key.
    let first = note(&log, ORIGIN, &history[..7]).await;
    let answer = add_checkpoint(&w, &request(0, vec![], first.clone()), 1_795_000_100)
        .unwrap()
        .unwrap();
    let cosigned = format!("{first}{answer}");
    let (body, lines) = open_note(&cosigned).unwrap();
    assert_eq!(lines.len(), 2);
    assert!(cosigned_by(body, &lines[1], w.cosigner.key()));
    assert_eq!(w.state.seen(ORIGIN).unwrap().unwrap().size, 7, "persisted");

    // The log grows: cosigned with the consistency proof from 7.
    let second = note(&log, ORIGIN, &history[..12]).await;
    let proof = consistency_proof(&history[..12], 7).unwrap();
    assert!(
        add_checkpoint(&w, &request(7, proof, second.clone()), 1)
            .unwrap()
            .is_ok()
    );
    // The same checkpoint again (an idle log's hourly one): cosigned again.
    assert!(
        add_checkpoint(&w, &request(12, vec![], second.clone()), 2)
            .unwrap()
            .is_ok()
    );

    // A client that thinks the witness is elsewhere learns its size.
    assert_eq!(
        add_checkpoint(&w, &request(7, vec![], second.clone()), 3).unwrap(),
        Err(Refusal::Conflict { size: 12 })
    );

    // A fork: another history signed by the same key. At the size the witness holds, another
    // root is a conflict; past it, no consistency proof from the witness's root holds.
    let fork = leaves(20, "b");
    let forked_same = note(&log, ORIGIN, &fork[..12]).await;
    assert_eq!(
        add_checkpoint(&w, &request(12, vec![], forked_same), 4).unwrap(),
        Err(Refusal::Conflict { size: 12 })
    );
    let forked = note(&log, ORIGIN, &fork[..16]).await;
    let forked_proof = consistency_proof(&fork[..16], 12).unwrap();
    assert_eq!(
        add_checkpoint(&w, &request(12, forked_proof, forked), 5).unwrap(),
        Err(Refusal::Inconsistent)
    );
    assert_eq!(
        w.state.seen(ORIGIN).unwrap(),
        Some(Seen {
            size: 12,
            root: root(&history[..12])
        }),
        "a refusal changes nothing"
    );

    // The true log goes on.
    let third = note(&log, ORIGIN, &history).await;
    let proof = consistency_proof(&history, 12).unwrap();
    assert!(
        add_checkpoint(&w, &request(12, proof, third), 6)
            .unwrap()
            .is_ok()
    );

    // The state outlives the process: reopened, the witness still holds 20.
    drop(w);
    let reopened = witness(dir.path(), &log);
    assert_eq!(reopened.state.seen(ORIGIN).unwrap().unwrap().size, 20);
}

#[tokio::test]
async fn requests_it_cannot_cosign_get_the_protocols_answers() {
    let dir = tempfile::tempdir().unwrap();
    let log = LocalSigner::generate().unwrap();
    let w = witness(dir.path(), &log);
    let history = leaves(8, "a");
    let good = note(&log, ORIGIN, &history).await;

    let stranger = LocalSigner::generate().unwrap();
    let by_stranger = note(&stranger, ORIGIN, &history).await;
    let other_log = note(&log, "other.example/log", &history).await;
    for (body, status) in [
        ("".to_owned(), 400),
        ("old 0\n\nnot a note\n".to_owned(), 400),
        (request(0, vec![], other_log), 404),
        (request(0, vec![], by_stranger), 403),
        (request(9, vec![], good.clone()), 400),
        (request(0, vec![[0; 32]], good.clone()), 400),
    ] {
        let refusal = add_checkpoint(&w, &body, 1).unwrap().unwrap_err();
        assert_eq!(refusal.status(), status, "{body:?}: {refusal}");
    }
    assert_eq!(w.state.seen(ORIGIN).unwrap(), None);
}
