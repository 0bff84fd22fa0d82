//! Witnessed checkpoints end to end: `practica witness serve`'s router on 127.0.0.1 (its own key
//! and redb state in a directory) trusting the demo practice's log; the audit job sends each new
//! checkpoint to it over HTTP and keeps its cosignature in the checkpoint's note;
//! `practica audit verify` with the witness rule passes, and fails without the cosignatures; a
//! second practice directory signing with the same key (a forked log shown to the same witness)
//! is refused, over the wire with the protocol's statuses, and nothing of the witness's state
//! moves; malformed requests get 4xx answers.

use std::sync::Arc;

use domain::witness::{AddCheckpoint, WitnessKey};
use practica_cli::local::{self, AUDIT_KEY_FILE, LOCAL_KEY_NAME};
use shared::audit::witnessing::ConfiguredWitness;
use shared::crypto::cosign::WitnessPolicy;
use shared::crypto::signer::LogSigner as _;
use shared::witness::TrustedLog;

const WITNESS: &str = "auditor.example/witness";

/// The witness for the log of the practice in `data`, served on 127.0.0.1: its URL and key.
async fn serve_witness(dir: &std::path::Path, data: &std::path::Path) -> (String, WitnessKey) {
    let state = local::offline_state(data).unwrap();
    let log = TrustedLog {
        origin: local::local_config(&state.table_name).origin,
        key_name: LOCAL_KEY_NAME.into(),
        spki: local::signer(data).unwrap().public_key().to_vec(),
    };
    drop(state);
    serve_witness_of(dir, log).await
}

/// A witness trusting `log`, served on 127.0.0.1: its URL and key.
async fn serve_witness_of(dir: &std::path::Path, log: TrustedLog) -> (String, WitnessKey) {
    let witness = practica_cli::witness::open(dir, WITNESS, vec![log]).unwrap();
    let key = witness.cosigner.key().clone();
    let app = practica_cli::witness::router(witness, Arc::new(domain::clock::SystemClock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, key)
}

async fn seal_witnessed(
    data: &std::path::Path,
    witnesses: &[ConfiguredWitness],
) -> audit::WitnessCount {
    let state = local::offline_state(data).unwrap();
    let mut job = local::audit_job(data, &state).unwrap();
    job.witnesses = witnesses.to_vec();
    job.integrate().await.unwrap().2
}

#[tokio::test]
async fn a_witness_cosigns_the_practices_log_and_refuses_a_fork() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    practica_cli::serve::seed(&data).await.unwrap();
    let (url, key) = serve_witness(&dir.path().join("witness"), &data).await;
    let http = reqwest::Client::new();
    let described = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(WitnessKey::parse_vkey(&described), Some(key.clone()));
    let configured = vec![ConfiguredWitness {
        key: key.clone(),
        url: url.clone(),
    }];
    let rule = WitnessPolicy::new(vec![key.clone()], 1).unwrap();

    // Sealed without a witness first, then with it: cosigned, kept in the note, and a second run
    // asks nothing again.
    let first = seal_witnessed(&data, &[]).await;
    assert_eq!(first, audit::WitnessCount::default());
    assert_eq!(seal_witnessed(&data, &configured).await.cosigned, 1);
    assert_eq!(seal_witnessed(&data, &configured).await.already, 1);
    let state = local::offline_state(&data).unwrap();
    let latest = shared::audit::stored::latest_checkpoint(&*state.table)
        .await
        .unwrap()
        .unwrap();
    drop(state);
    assert_eq!(rule.check(&latest.note).unwrap(), vec![WITNESS.to_owned()]);
    let report = practica_cli::audit::verify(&data, &rule).await.unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.witnessed_size, Some(latest.checkpoint.size));
    // A rule naming a witness that never cosigned: its checkpoint is within the lag, so not yet a
    // problem; the quorum check of the note itself fails at once.
    let stranger = WitnessKey {
        name: "other.example/w".into(),
        public: [3; 32],
    };
    let strict = WitnessPolicy::new(vec![key.clone(), stranger], 2).unwrap();
    assert!(strict.check(&latest.note).is_err());

    // A fork: another directory signing with the same key, its own history.
    let fork = dir.path().join("fork");
    std::fs::create_dir_all(&fork).unwrap();
    std::fs::copy(data.join(AUDIT_KEY_FILE), fork.join(AUDIT_KEY_FILE)).unwrap();
    practica_cli::serve::seed(&fork).await.unwrap();
    let outcome = seal_witnessed(&fork, &configured).await;
    assert_eq!((outcome.cosigned, outcome.failed.len()), (0, 1));
    // Over the wire: the forked checkpoint at the witness's size is a 409 naming its size; a
    // request from another size is a 409 too; a proof the witness cannot check against its root
    // is a 422.
    let state = local::offline_state(&fork).unwrap();
    let forked = shared::audit::stored::latest_checkpoint(&*state.table)
        .await
        .unwrap()
        .unwrap();
    drop(state);
    let post = |body: String| {
        let http = http.clone();
        let url = format!("{url}/add-checkpoint");
        async move { http.post(url).body(body).send().await.unwrap() }
    };
    let held = latest.checkpoint.size;
    let request = |old: u64, proof: Vec<[u8; 32]>| {
        AddCheckpoint {
            old_size: old,
            proof,
            note: forked.note.clone(),
        }
        .body()
    };
    if forked.checkpoint.size == held {
        let answer = post(request(held, vec![])).await;
        assert_eq!(answer.status(), 409);
        assert_eq!(answer.headers()["content-type"], "text/x.tlog.size");
        assert_eq!(answer.text().await.unwrap(), format!("{held}\n"));
    } else if forked.checkpoint.size > held {
        let answer = post(request(held, vec![[7; 32]])).await;
        assert_eq!(answer.status(), 422);
    }
    let answer = post(request(0, vec![])).await;
    assert_eq!(answer.status(), 409);
    assert_eq!(answer.text().await.unwrap(), format!("{held}\n"));
    // The witness still holds the true log: the practice's next checkpoint is cosigned.
    assert_eq!(
        practica_cli::audit::verify(&data, &rule)
            .await
            .unwrap()
            .problems,
        vec![]
    );

    // Malformed requests: 4xx, never a cosignature.
    for (body, status) in [
        (b"nonsense".to_vec(), 400),
        (vec![0xff, 0xfe, b'\n'], 400),
        (b"old 0\n\nother.example/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 k AAAAAAAA\n".to_vec(), 404),
        (vec![b'a'; 64 * 1024], 413),
    ] {
        let answer = http
            .post(format!("{url}/add-checkpoint"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), status);
    }
}

#[tokio::test]
async fn on_dynamodb_local_the_audit_function_keeps_each_cosignature_as_the_log_grows() {
    use shared::adapters::local_signer::LocalSigner;
    use shared::audit::log::{IDLE_CHECKPOINT, LogConfig, verify_table_witnessed};
    use shared::crypto::signer::LogSigner;
    let Some(table) = practica_tests::dynamo_table(practica_tests::Emulator::DynamoDbLocal).await
    else {
        return;
    };
    let table: Arc<dyn shared::store::Table> = Arc::new(table);
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(LocalSigner::generate().unwrap());
    let config = LogConfig {
        origin: "practica.test/audit/witnessed".into(),
        key_name: "practica.test/audit".into(),
        first_scan_days: 3,
        idle_checkpoint: IDLE_CHECKPOINT,
    };
    let (url, key) = serve_witness_of(
        &dir.path().join("witness"),
        TrustedLog {
            origin: config.origin.clone(),
            key_name: config.key_name.clone(),
            spki: signer.public_key().to_vec(),
        },
    )
    .await;
    let job = audit::AuditJob {
        table: table.clone(),
        signer: signer.clone(),
        clock: Arc::new(domain::clock::SystemClock),
        archive: Arc::new(shared::adapters::dir_archive::DirArchive::new(
            dir.path().join("archive"),
        )),
        config: config.clone(),
        witnesses: vec![ConfiguredWitness {
            key: key.clone(),
            url,
        }],
        witness_client: Arc::new(shared::adapters::http_witness::HttpWitnessClient::standalone()),
    };
    let rule = WitnessPolicy::new(vec![key], 1).unwrap();
    practica_tests::write_audit_entries(&*table, 6).await;
    let (first, _, witnessed) = job.integrate().await.unwrap();
    assert_eq!(witnessed.cosigned, 1, "{witnessed:?}");
    // The log grows past a batch: the witness gets the consistency proof DynamoDB's stored
    // subtrees give, and cosigns again.
    practica_tests::write_audit_entries(&*table, 60).await;
    let (second, _, witnessed) = job.integrate().await.unwrap();
    assert!(second.size > first.size);
    assert_eq!(witnessed.cosigned, 1, "{witnessed:?}");
    assert_eq!(job.integrate().await.unwrap().2.already, 1);
    let report = verify_table_witnessed(
        &*table,
        &domain::clock::SystemClock,
        &config,
        signer.public_key(),
        &[],
        &rule,
    )
    .await
    .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.witnessed_size, Some(second.size));
}
