//! The audit function's handler, driven by the sample events in `events/`: a stream batch and the
//! reconciling schedule integrate the entries the other functions wrote; the same batch delivered
//! twice adds nothing; any other event is refused. On moto, the production adapters end to end:
//! DynamoDB, the KMS signing key, and the S3 bucket with Object Lock that archives checkpoints.

use std::sync::Arc;

use audit::{AuditJob, Trigger, trigger_of};
use domain::clock::SystemClock;
use http::StatusCode;
use practica_tests::{Emulator, Stack, dynamo_table, sdk_config};
use serde_json::Value;
use shared::adapters::dir_archive::DirArchive;
use shared::adapters::kms_signer::KmsSigner;
use shared::adapters::local_signer::LocalSigner;
use shared::adapters::s3_archive::S3Archive;
use shared::audit::archive::archived;
use shared::audit::log::{IDLE_CHECKPOINT, LogConfig, verify_table};
use shared::auth::Role;
use shared::crypto::signer::LogSigner;
use shared::store::{Item, Key, Table};

fn event(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn config() -> LogConfig {
    LogConfig {
        origin: "practica.test/audit/practica-test".into(),
        key_name: "practica.test/audit".into(),
        first_scan_days: 2,
        idle_checkpoint: IDLE_CHECKPOINT,
    }
}

#[test]
fn the_fixtures_are_the_two_triggers_and_nothing_else_is() {
    assert_eq!(
        trigger_of(&event("dynamodb-stream-audit.json")).unwrap(),
        Trigger::Stream(2)
    );
    assert_eq!(
        trigger_of(&event("schedule-audit.json")).unwrap(),
        Trigger::Schedule
    );
    for other in [
        event("apigw-v2-getPatient.json"),
        serde_json::json!({"Records": []}),
        serde_json::json!({"Records": [{"eventSource": "aws:sqs"}]}),
        serde_json::json!({"detail-type": "Scheduled Event", "source": "someone.else"}),
        serde_json::json!(null),
    ] {
        assert!(trigger_of(&other).is_err(), "{other}");
    }
}

/// The schedule in the template sends exactly the fixture's payload, which the handler accepts.
#[test]
fn the_templates_schedule_input_is_the_fixture_and_a_trigger() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    let reconcile = &template[template.find("        Reconcile:").expect("the schedule")..];
    let input = reconcile
        .lines()
        .find_map(|l| l.trim().strip_prefix("Input: '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("an Input");
    let input: Value = serde_json::from_str(input).unwrap();
    assert_eq!(input, event("schedule-audit-scheduler.json"));
    assert_eq!(trigger_of(&input).unwrap(), Trigger::Schedule);
}

#[tokio::test]
async fn stream_batches_and_the_schedule_integrate_what_the_functions_wrote() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (status, _, _) = stack
        .send(
            "GET",
            &format!("/v1/patients/{}", demo.patient_id),
            Some(&staff),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(LocalSigner::generate().unwrap());
    let archive = Arc::new(DirArchive::new(dir.path()));
    let job = AuditJob {
        table: stack.state.table.clone(),
        signer: signer.clone(),
        clock: stack.state.clock.clone(),
        archive: archive.clone(),
        config: config(),
        witnesses: Vec::new(),
        witness_client: std::sync::Arc::new(
            shared::adapters::http_witness::HttpWitnessClient::standalone(),
        ),
    };
    let first = job.run(event("dynamodb-stream-audit.json")).await.unwrap();
    assert_eq!(first["trigger"], "stream");
    let size = first["size"].as_u64().unwrap();
    assert!(size > 0 && first["added"] == size, "{first}");
    assert!(first["archived"].is_string());
    // The same batch again (a redelivery), then the schedule: nothing new, no duplicate leaf.
    let again = job.run(event("dynamodb-stream-audit.json")).await.unwrap();
    assert_eq!(
        (again["added"].as_u64(), again["size"].as_u64()),
        (Some(0), Some(size))
    );
    let scheduled = job.run(event("schedule-audit.json")).await.unwrap();
    assert_eq!(scheduled["trigger"], "schedule");
    assert_eq!(scheduled["size"].as_u64(), Some(size));
    // A later read is picked up by the next run.
    stack
        .send(
            "GET",
            &format!("/v1/patients/{}", demo.patient_id),
            Some(&staff),
            None,
            None,
        )
        .await;
    let later = job.run(event("schedule-audit.json")).await.unwrap();
    assert_eq!(later["size"].as_u64(), Some(size + 1));
    let notes = archived(&*archive).await.unwrap();
    assert_eq!(notes.len(), 2, "one archived checkpoint per size reached");
    let report = verify_table(
        &*stack.state.table,
        &*stack.state.clock,
        &config(),
        signer.public_key(),
        &notes,
    )
    .await
    .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.checkpointed_size, size + 1);
    // Refused events change nothing, and say that retrying cannot help.
    let e = job
        .run(event("apigw-v2-getPatient.json"))
        .await
        .unwrap_err();
    let diagnostic: lambda_runtime::Diagnostic = e.into();
    assert_eq!(diagnostic.error_type, "Permanent.InvalidEvent");
}

#[tokio::test]
async fn on_moto_the_production_adapters_integrate_sign_and_archive() {
    let Some(endpoint) = Emulator::Moto.endpoint() else {
        return;
    };
    let sdk = sdk_config(&endpoint);
    let table_name = practica_tests::unique_table_name();
    practica_tests::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table_name).await;
    let table: Arc<dyn Table> = Arc::new(shared::adapters::dynamodb::DynamoTable::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &table_name,
    ));
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key_id = practica_tests::create_signing_key(&kms).await;
    let signer = Arc::new(KmsSigner::new(kms, key_id).await.unwrap());
    let s3 = practica_cli::s3_client(&sdk);
    let bucket = practica_tests::locked_bucket(&s3).await;
    let archive = Arc::new(S3Archive::new(s3.clone(), &bucket));
    practica_tests::write_audit_entries(&*table, 3).await;
    let job = AuditJob {
        table: table.clone(),
        signer: signer.clone(),
        clock: Arc::new(SystemClock),
        archive: archive.clone(),
        config: config(),
        witnesses: Vec::new(),
        witness_client: std::sync::Arc::new(
            shared::adapters::http_witness::HttpWitnessClient::standalone(),
        ),
    };
    let done = job.run(event("schedule-audit.json")).await.unwrap();
    assert_eq!(done["size"].as_u64(), Some(3), "{done}");
    let notes = archived(&*archive).await.unwrap();
    assert_eq!(notes.len(), 1);
    let report = verify_table(
        &*table,
        &SystemClock,
        &config(),
        signer.public_key(),
        &notes,
    )
    .await
    .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.checkpointed_size, 3);
    // `practica audit verify --table --bucket --key`: the same check through the AWS configuration
    // and the pinned PEM key alone.
    let pem = practica_cli::audit::pem_of(signer.public_key());
    let deployed = practica_cli::audit::verify_deployed(
        &sdk,
        &table_name,
        &bucket,
        &pem,
        "practica.test/audit",
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(deployed.ok(), "{:?}", deployed.problems);
    assert_eq!(deployed.checkpointed_size, 3);
    // The restore drill's check: the table copied item by item into a new one (what a
    // point-in-time restore makes), verified the same way under its source's key name.
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let drill = practica_tests::unique_table_name();
    practica_tests::create_table(&ddb, &drill).await;
    let mut copied = 0;
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(&table_name)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            ddb.put_item()
                .table_name(&drill)
                .set_item(Some(item.clone()))
                .send()
                .await
                .unwrap();
            copied += 1;
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert!(copied > 3, "entries, leaves and the log's head: {copied}");
    let restored = practica_cli::audit::verify_deployed(
        &sdk,
        &drill,
        &bucket,
        &pem,
        "practica.test/audit",
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(restored.ok(), "{:?}", restored.problems);
    assert_eq!(restored.checkpointed_size, 3);
    let other = practica_cli::audit::pem_of(LocalSigner::generate().unwrap().public_key());
    let forged = practica_cli::audit::verify_deployed(
        &sdk,
        &table_name,
        &bucket,
        &other,
        "practica.test/audit",
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(!forged.ok(), "another key verifies nothing");
    // The archived checkpoint is locked: its version cannot be deleted.
    let listed = s3
        .list_object_versions()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let version = &listed.versions()[0];
    let deleted = s3
        .delete_object()
        .bucket(&bucket)
        .key(version.key().unwrap())
        .version_id(version.version_id().unwrap())
        .send()
        .await;
    assert!(deleted.is_err(), "a locked checkpoint version was deleted");
}

/// Tampering on DynamoDB Local, through the production table adapter: an entry edited in place,
/// one deleted, one inserted after the fact (past the allowed lag), each reported by kind and
/// position; then a checkpoint replaced by one signed with another key.
#[tokio::test]
async fn on_dynamodb_local_tampering_is_reported_by_kind_and_position() {
    use shared::audit::verify::Problem;
    use shared::store::{Consistency, Query, query_all};
    let Some(table) = dynamo_table(Emulator::DynamoDbLocal).await else {
        return;
    };
    let table: Arc<dyn Table> = Arc::new(table);
    practica_tests::write_audit_entries(&*table, 6).await;
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(LocalSigner::generate().unwrap());
    let job = AuditJob {
        table: table.clone(),
        signer: signer.clone(),
        clock: Arc::new(SystemClock),
        archive: Arc::new(DirArchive::new(dir.path())),
        config: config(),
        witnesses: Vec::new(),
        witness_client: std::sync::Arc::new(
            shared::adapters::http_witness::HttpWitnessClient::standalone(),
        ),
    };
    job.integrate().await.unwrap();
    let day = shared::store::keys::audit_partition(domain::clock::utc_day(jiff::Timestamp::now()));
    let mut entries = query_all(&*table, &Query::partition(day.clone()).consistent())
        .await
        .unwrap();
    let edited = entries.remove(2).with("actor", "someone-else");
    table.put(edited.clone(), None).await.unwrap();
    let deleted = entries.remove(0);
    table.delete(&deleted.key, None).await.unwrap();
    // Inserted an hour ago, as if back-dated: not in the log and past the allowed lag.
    let back = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let inserted = Key::new(
        day,
        shared::store::keys::audit_sort(back.as_nanosecond(), &ulid::Ulid::new()),
    );
    table
        .put(
            Item::new(inserted.clone()).with("action", "appointment.read"),
            None,
        )
        .await
        .unwrap();
    let name = |k: &Key| shared::audit::stored::entry_name(&k.pk, &k.sk);
    let verify = || async {
        verify_table(&*table, &SystemClock, &config(), signer.public_key(), &[])
            .await
            .unwrap()
    };
    let problems = verify().await.problems;
    assert!(problems.contains(&Problem::EntryEdited {
        index: 2,
        entry: name(&edited.key)
    }));
    assert!(problems.contains(&Problem::EntryDeleted {
        index: 0,
        entry: name(&deleted.key)
    }));
    assert!(problems.contains(&Problem::EntryNotInLog {
        entry: name(&inserted)
    }));
    assert_eq!(problems.len(), 3, "{problems:?}");
    // A checkpoint re-signed with another key over the same log.
    let checkpoints = query_all(
        &*table,
        &Query::partition(shared::store::keys::AUDIT_LOG_CHECKPOINTS),
    )
    .await
    .unwrap();
    let latest = checkpoints.last().unwrap().clone();
    let note = latest
        .get("note")
        .and_then(|v| v.as_s())
        .unwrap()
        .to_owned();
    let body = note.split("\n\n").next().unwrap().to_owned() + "\n";
    let other = LocalSigner::generate().unwrap();
    let checkpoint = domain::checkpoint::Checkpoint::parse(&body).unwrap();
    let forged =
        shared::crypto::signer::sign_checkpoint(&other, "practica.test/audit", &checkpoint)
            .await
            .unwrap();
    table
        .put(latest.clone().with("note", forged), None)
        .await
        .unwrap();
    let problems = verify().await.problems;
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::CheckpointForged { .. })),
        "{problems:?}"
    );
    assert!(
        table
            .get(&latest.key, Consistency::Strong)
            .await
            .unwrap()
            .is_some()
    );
}

/// A stream batch reporting an audit entry modified, another removed, and the blind-index key
/// modified (in production the stream filter passes MODIFY and REMOVE of `AUDIT#` and `KEYRING`):
/// each becomes a `tamper.detected` entry naming the keys and the change, sealed in the same run;
/// the same batch again records nothing more. The template's stream filter passes these changes
/// and an alarm watches their metric.
#[tokio::test]
async fn a_changed_or_removed_audit_entry_is_recorded_once_and_sealed() {
    let stack = Stack::embedded();
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(LocalSigner::generate().unwrap());
    let job = AuditJob {
        table: stack.state.table.clone(),
        signer: signer.clone(),
        clock: stack.state.clock.clone(),
        archive: Arc::new(DirArchive::new(dir.path())),
        config: config(),
        witnesses: Vec::new(),
        witness_client: std::sync::Arc::new(
            shared::adapters::http_witness::HttpWitnessClient::standalone(),
        ),
    };
    let batch = event("dynamodb-stream-audit-tamper.json");
    assert_eq!(audit::changes_of(&batch).unwrap().len(), 3);
    assert!(
        audit::changes_of(&event("dynamodb-stream-audit.json"))
            .unwrap()
            .is_empty(),
        "inserts are not changes"
    );
    let first = job.run(batch.clone()).await.unwrap();
    assert_eq!(first["tamperDetected"], 3, "{first}");
    assert_eq!(first["added"], 3, "sealed in the same run: {first}");
    let again = job.run(batch).await.unwrap();
    assert_eq!(again["tamperDetected"], 0, "{again}");
    assert_eq!(again["added"], 0, "{again}");
    let recorded: Vec<String> = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i.key.pk.starts_with("AUDIT#"))
        .filter(|i| i.get("action").and_then(|a| a.as_s()) == Some("tamper.detected"))
        .map(|i| {
            i.get("entity_id")
                .and_then(|a| a.as_s())
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        recorded.iter().collect::<std::collections::BTreeSet<_>>(),
        [
            "AUDIT#2026-11-22|01795438800000000000#01KAQ0000000000000000000A1|modified",
            "AUDIT#2026-11-22|01795438801000000000#01KAQ0000000000000000000A2|removed",
            "KEYRING|BLIND#v1|modified",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .iter()
        .collect()
    );
    // A record of another partition, or one without keys or id, is not taken for an audit change.
    let other = serde_json::json!({"Records": [{"eventSource": "aws:dynamodb", "eventID": "x",
        "eventName": "MODIFY", "dynamodb": {"Keys": {"pk": {"S": "APPT#1"}, "sk": {"S": "A"}}}}]});
    assert!(audit::changes_of(&other).unwrap().is_empty());
    let keyless = serde_json::json!({"Records": [{"eventSource": "aws:dynamodb", "eventID": "x",
        "eventName": "REMOVE", "dynamodb": {}}]});
    assert!(audit::changes_of(&keyless).is_err());
    assert!(job.run(keyless).await.is_err());
}

/// The template's stream filter passes inserted, modified and removed audit entries, and an alarm
/// watches the function's tamper metric.
#[test]
fn the_template_streams_audit_changes_and_alarms_on_them() {
    let template = practica_tests::template();
    let filter =
        template["Resources"]["AuditFunction"]["Properties"]["Events"]["NewEntries"]["Properties"]
            ["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .unwrap()
            .to_owned();
    let pattern: Value = serde_json::from_str(&filter).unwrap();
    assert_eq!(
        pattern["eventName"],
        serde_json::json!(["INSERT", "MODIFY", "REMOVE"])
    );
    let keyring =
        template["Resources"]["AuditFunction"]["Properties"]["Events"]["NewEntries"]["Properties"]
            ["FilterCriteria"]["Filters"][1]["Pattern"]
            .as_str()
            .unwrap()
            .to_owned();
    let keyring: Value = serde_json::from_str(&keyring).unwrap();
    assert_eq!(
        keyring["eventName"],
        serde_json::json!(["MODIFY", "REMOVE"])
    );
    assert_eq!(
        keyring["dynamodb"]["Keys"]["pk"]["S"],
        serde_json::json!(["KEYRING"])
    );
    let alarms: Vec<&Value> = template["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter(|r| r["Properties"]["MetricName"] == "AuditTamperDetected")
        .collect();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0]["Properties"]["Threshold"], 1);
}
