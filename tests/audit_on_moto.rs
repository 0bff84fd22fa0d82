//! The audit log's production signer on moto's KMS (Sign/GetPublicKey with an `ECC_NIST_P256`
//! key): its checkpoints verify with the public key alone, exactly as the local signer's do, and a
//! log integrated with it verifies.

use domain::checkpoint::Checkpoint;
use domain::clock::SystemClock;
use domain::merkle;
use practica_tests::{Emulator, sdk_config};
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::kms_signer::KmsSigner;
use shared::audit::log::{LogConfig, integrate, verify_table};
use shared::crypto::signer::{LogSigner, sign_checkpoint, verify_checkpoint};

#[tokio::test]
async fn kms_signed_checkpoints_verify_with_the_public_key() {
    let Some(endpoint) = Emulator::Moto.endpoint() else {
        return;
    };
    let kms = aws_sdk_kms::Client::new(&sdk_config(&endpoint));
    let key_id = practica_tests::create_signing_key(&kms).await;
    let signer = KmsSigner::new(kms.clone(), key_id).await.unwrap();
    let checkpoint = Checkpoint {
        origin: "practica.example/audit/moto".into(),
        size: 1,
        root: merkle::leaf_hash(b"entry"),
        time: Some(1_795_000_000),
    };
    let note = sign_checkpoint(&signer, "practica.example/audit", &checkpoint)
        .await
        .unwrap();
    let read = verify_checkpoint(&note, "practica.example/audit", signer.public_key());
    assert_eq!(read, Ok(checkpoint));

    // A whole log, integrated with the KMS key.
    let dir = tempfile::tempdir().unwrap();
    let table = EmbeddedTable::open(&dir.path().join("t.redb")).unwrap();
    practica_tests::write_audit_entries(&table, 5).await;
    let config = LogConfig {
        origin: "practica.example/audit/moto".into(),
        key_name: "practica.example/audit".into(),
        first_scan_days: 1,
        idle_checkpoint: shared::audit::log::IDLE_CHECKPOINT,
    };
    let done = integrate(&table, &signer, &SystemClock, &config)
        .await
        .unwrap();
    assert_eq!(done.size, 5);
    let report = verify_table(&table, &SystemClock, &config, signer.public_key(), &[])
        .await
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    // A symmetric key cannot be the log's signer.
    let symmetric = kms.create_key().send().await.unwrap();
    let id = symmetric.key_metadata().unwrap().key_id().to_owned();
    assert!(KmsSigner::new(kms, id).await.is_err());
}
