//! The audit function: the only writer of the audit log. Every invocation integrates the audit
//! entries not yet in the log (`shared::audit::log::integrate`), signs a checkpoint, and archives
//! the latest checkpoint to the Object Lock bucket. Two triggers, one job:
//!
//! - the table's stream, filtered to audit entries: an inserted one is integrated within seconds;
//!   a modified or removed one is tampering, recorded as a `tamper.detected` entry of its own
//!   (`shared::audit::tamper`), counted in a metric the template alarms on, and sealed;
//! - a schedule that reconciles: entries the stream missed (an outage longer than its 24-hour
//!   retention, a failed batch), and the hourly checkpoint of an idle log.
//!
//! The stream records themselves are not trusted for content (the table is read); they only say
//! that there is work. Concurrent runs cannot fork the log (the head is updated on its version, and
//! the function's reserved concurrency is 1). A run that fails (the key service down, a lost race)
//! fails the invocation, so the stream retries and the metrics show it; the schedule catches up.

use std::sync::Arc;

use domain::clock::Clock;
use serde_json::{Value, json};
use shared::audit::archive::{CheckpointArchive, archive_latest};
use shared::audit::log::{Integrated, LogConfig, integrate};
use shared::audit::tamper::{Change, ChangeKind};
use shared::audit::witnessing::{ConfiguredWitness, WitnessClient, Witnessed, witness_latest};
use shared::crypto::signer::LogSigner;
use shared::store::Table;

/// The changes to audit entries and to the blind-index key a stream batch reports (its MODIFY and
/// REMOVE records of `AUDIT#` and `KEYRING` keys: both are written once and never changed); inserts
/// are what integration reads from the table anyway.
pub fn changes_of(event: &Value) -> anyhow::Result<Vec<Change>> {
    let mut changes = Vec::new();
    for record in event
        .get("Records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let kind = match record.get("eventName").and_then(Value::as_str) {
            Some("MODIFY") => ChangeKind::Modified,
            Some("REMOVE") => ChangeKind::Removed,
            _ => continue,
        };
        let key = |name: &str| {
            record
                .pointer(&format!("/dynamodb/Keys/{name}/S"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (Some(pk), Some(sk)) = (key("pk"), key("sk")) else {
            anyhow::bail!("a stream record without the table's keys");
        };
        if !(pk.starts_with("AUDIT#") || pk == "KEYRING") {
            continue;
        }
        let event_id = record
            .get("eventID")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty() && id.len() <= 128)
            .ok_or_else(|| anyhow::anyhow!("a stream record without an event id"))?;
        changes.push(Change {
            event_id: event_id.to_owned(),
            kind,
            entry: shared::store::Key::new(pk, sk),
        });
    }
    Ok(changes)
}

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A batch of stream records (their count).
    Stream(usize),
    /// The reconciling schedule.
    Schedule,
}

/// Why a run failed, and whether trying again can help (the Lambda error's type says which, for
/// the stream's and the scheduler's retries and for whoever reads the dead-letter queue).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An event no trigger of this function sends: retrying it cannot help.
    #[error("{0}")]
    InvalidEvent(String),
    /// Integration or archiving failed (the table, the key service or the bucket): the next run
    /// picks up where this one stopped.
    #[error("{0}")]
    Failed(String),
}

impl From<AuditError> for lambda_runtime::Diagnostic {
    fn from(e: AuditError) -> Self {
        let kind = match &e {
            AuditError::InvalidEvent(_) => "Permanent.InvalidEvent",
            AuditError::Failed(_) => "Retryable.IntegrationFailed",
        };
        shared::lambda::diagnostic(kind, &e)
    }
}

/// Reads an invocation's event: a DynamoDB stream batch or a scheduled event; anything else is
/// refused (a misconfigured trigger should fail loudly, not integrate silently).
pub fn trigger_of(event: &Value) -> anyhow::Result<Trigger> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        if records.is_empty() {
            anyhow::bail!("a stream batch without records");
        }
        for record in records {
            if record.get("eventSource").and_then(Value::as_str) != Some("aws:dynamodb") {
                anyhow::bail!("a record that is not from a DynamoDB stream");
            }
        }
        return Ok(Trigger::Stream(records.len()));
    }
    if shared::scheduled::is_scheduled(event) {
        return Ok(Trigger::Schedule);
    }
    anyhow::bail!("not a stream batch or a scheduled event")
}

/// The job and its ports.
pub struct AuditJob {
    pub table: Arc<dyn Table>,
    pub signer: Arc<dyn LogSigner>,
    pub clock: Arc<dyn Clock>,
    pub archive: Arc<dyn CheckpointArchive>,
    pub config: LogConfig,
    /// The witnesses each new checkpoint is sent to (none: not witnessed).
    pub witnesses: Vec<ConfiguredWitness>,
    pub witness_client: Arc<dyn WitnessClient>,
}

/// What one run's witnessing did: witnesses that cosigned the latest checkpoint now, had
/// already, and did not (each `<name>: <reason>`: statuses and sizes, nothing about patients).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessCount {
    pub cosigned: usize,
    pub already: usize,
    pub failed: Vec<String>,
}

impl AuditJob {
    /// One invocation: integrate, then archive the latest checkpoint. Returns a summary (no
    /// entry content: sizes and names only).
    pub async fn run(&self, event: Value) -> Result<Value, AuditError> {
        let invalid = |e: anyhow::Error| AuditError::InvalidEvent(format!("{e:#}"));
        let trigger = trigger_of(&event).map_err(invalid)?;
        let changes = changes_of(&event).map_err(invalid)?;
        // Recorded before integration, so this run seals them too.
        let tampered = shared::audit::tamper::record(&*self.table, self.clock.now(), &changes)
            .await
            .map_err(|e| {
                AuditError::Failed(format!("recording a change to the log failed: {e}"))
            })?;
        for _ in 0..tampered {
            shared::telemetry::count_audit_tamper();
        }
        let (done, archived, witnessed) = self
            .integrate()
            .await
            .map_err(|e| AuditError::Failed(format!("{e:#}")))?;
        tracing::info!(
            ?trigger,
            added = done.added,
            size = done.size,
            "audit log integrated"
        );
        let records = match trigger {
            Trigger::Stream(n) => Some(n),
            Trigger::Schedule => None,
        };
        Ok(json!({
            "trigger": if records.is_some() { "stream" } else { "schedule" },
            "records": records,
            "added": done.added,
            "size": done.size,
            "archived": archived,
            "witnessed": {
                "cosigned": witnessed.cosigned,
                "already": witnessed.already,
                "failed": witnessed.failed.len(),
            },
            "tamperDetected": tampered,
        }))
    }

    /// The work of a run, whatever started it (also what `practica serve` runs every few seconds
    /// and `practica audit seal` once): integrate, have the witnesses cosign the latest
    /// checkpoint, then archive it (its name). A witness that does not cosign is logged and asked
    /// again next run; it fails nothing.
    pub async fn integrate(&self) -> anyhow::Result<(Integrated, Option<String>, WitnessCount)> {
        let done = integrate(&*self.table, &*self.signer, &*self.clock, &self.config)
            .await
            .map_err(|e| anyhow::anyhow!("integration failed: {e}"))?;
        let mut witnessed = WitnessCount::default();
        // Witnessing never stops the log: a failure here is logged, the checkpoint is archived
        // as it stands, and the next run asks again.
        match witness_latest(&*self.table, &*self.witness_client, &self.witnesses).await {
            Ok(outcomes) => {
                for (witness, outcome) in self.witnesses.iter().zip(outcomes) {
                    match outcome {
                        Witnessed::Cosigned => witnessed.cosigned += 1,
                        Witnessed::Already => witnessed.already += 1,
                        Witnessed::Failed(why) => {
                            witnessed
                                .failed
                                .push(format!("{}: {why}", witness.key.name));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "keeping the witnesses' cosignatures failed");
                witnessed.failed = self
                    .witnesses
                    .iter()
                    .map(|w| format!("{}: keeping its cosignature failed", w.key.name))
                    .collect();
            }
        }
        let archived = archive_latest(&*self.table, &*self.archive)
            .await
            .map_err(|e| anyhow::anyhow!("archiving the checkpoint failed: {e}"))?;
        Ok((done, archived, witnessed))
    }

    /// The Lambda cold start: configuration from the environment, DynamoDB, the KMS signing key
    /// (its public half read once) and the S3 archive.
    pub async fn cold_start() -> anyhow::Result<AuditJob> {
        let config = shared::config::audit::AuditConfig::from_env()?;
        let sdk = shared::app::lambda_sdk_config()?;
        let table = shared::adapters::dynamodb::DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.table_name.clone(),
        );
        let signer = shared::adapters::kms_signer::KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            config.signing_key_id.clone(),
        )
        .await?;
        let archive = shared::adapters::s3_archive::S3Archive::new(
            aws_sdk_s3::Client::new(&sdk),
            config.bucket.clone(),
        );
        Ok(AuditJob {
            table: Arc::new(table),
            signer: Arc::new(signer),
            clock: Arc::new(domain::clock::SystemClock),
            archive: Arc::new(archive),
            config: config.log,
            witnesses: config.witnesses,
            witness_client: Arc::new(
                shared::adapters::http_witness::HttpWitnessClient::standalone(),
            ),
        })
    }
}
