//! The reports function: on EventBridge Scheduler's weekly and monthly schedules (in the practice's
//! zone), computes the report of the week or month just ended against the one before it, with a
//! verification of the audit log, and publishes it (HTML, CSV, JSON) to the reports bucket. It
//! reads the table and never writes it. `practica report` runs the same job over the embedded store.
//!
//! A run that fails publishes nothing (the manifest is written last) and says in its error whether
//! a retry can help (`Retryable.*`: the table, the key service or the bucket was unavailable) or
//! not (`Permanent.*`: an event no schedule sends, a practice not set up); the scheduler's retry
//! policy and dead-letter queue act on it, and the retry writes the same bytes.

use std::sync::Arc;

use serde_json::{Value, json};
use shared::ApiError;
use shared::audit::archive::{CheckpointArchive, archived};
use shared::audit::log::{LogConfig, verify_table};
use shared::domain::clock::Clock;
use shared::domain::report::{Period, PeriodError};
use shared::reports::{Manifest, ReportStore, generate, publish};
use shared::store::Table;

/// Which report a schedule asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    Weekly,
    Monthly,
}

/// Why a run failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("not a report schedule's event: {0}")]
    InvalidEvent(&'static str),
    #[error("{0}")]
    Period(#[from] PeriodError),
    #[error("the practice is not set up")]
    NotConfigured,
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl From<ApiError> for JobError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unavailable { code, source } => {
                JobError::Unavailable(format!("{code}: {source:#}"))
            }
            ApiError::Booking(shared::domain::refusals::BookingError::PracticeNotConfigured) => {
                JobError::NotConfigured
            }
            other => JobError::Failed(format!("{other:#}")),
        }
    }
}

impl From<JobError> for lambda_runtime::Diagnostic {
    fn from(e: JobError) -> Self {
        let kind = match &e {
            JobError::InvalidEvent(_) => "Permanent.InvalidEvent",
            JobError::Period(_) => "Permanent.InvalidPeriod",
            JobError::NotConfigured => "Permanent.PracticeNotConfigured",
            JobError::Unavailable(_) => "Retryable.DependencyUnavailable",
            JobError::Failed(_) => "Retryable.Failed",
        };
        lambda_runtime::Diagnostic {
            error_type: kind.into(),
            error_message: e.to_string(),
        }
    }
}

/// Reads a schedule's event: `detail.job` is `report` and `detail.period` `weekly` or `monthly`.
pub fn cadence_of(event: &Value) -> Result<Cadence, JobError> {
    let scheduled = event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && matches!(
            event.get("source").and_then(Value::as_str),
            Some("aws.events" | "aws.scheduler")
        );
    if !scheduled {
        return Err(JobError::InvalidEvent("not a scheduled event"));
    }
    let detail = event.get("detail");
    if detail.and_then(|d| d.get("job")).and_then(Value::as_str) != Some("report") {
        return Err(JobError::InvalidEvent("detail.job is not report"));
    }
    match detail.and_then(|d| d.get("period")).and_then(Value::as_str) {
        Some("weekly") => Ok(Cadence::Weekly),
        Some("monthly") => Ok(Cadence::Monthly),
        _ => Err(JobError::InvalidEvent(
            "detail.period is not weekly or monthly",
        )),
    }
}

/// The job and its ports.
pub struct ReportJob {
    pub table: Arc<dyn Table>,
    pub clock: Arc<dyn Clock>,
    pub store: Arc<dyn ReportStore>,
    pub archive: Arc<dyn CheckpointArchive>,
    pub log: LogConfig,
    /// The audit log's public key (SubjectPublicKeyInfo, DER).
    pub spki: Vec<u8>,
}

impl ReportJob {
    /// One scheduled invocation: the report of the week or month just ended.
    pub async fn run(&self, event: Value) -> Result<Value, JobError> {
        let cadence = cadence_of(&event)?;
        let zone = shared::reports::collect::practice(&*self.table).await?.zone;
        let now = self.clock.now().unix_timestamp();
        let period = match cadence {
            Cadence::Weekly => Period::last_week(now, &zone)?,
            Cadence::Monthly => Period::last_month(now, &zone)?,
        };
        let manifest = self.report(&period).await?;
        tracing::info!(id = %manifest.id, files = manifest.files.len(), "report published");
        Ok(json!({ "report": manifest.id, "files": manifest.files }))
    }

    /// What the job's verification of the audit log found, in words that stay the same while the
    /// log stays sound (so a regenerated report has the same bytes).
    pub async fn verification(&self) -> Result<String, JobError> {
        let archived = archived(&*self.archive).await?;
        let report =
            verify_table(&*self.table, &*self.clock, &self.log, &self.spki, &archived).await?;
        Ok(if report.ok() {
            "ok: every entry is in the log and the log matches every signed and archived checkpoint"
                .into()
        } else {
            format!(
                "FAILED: {} problems found; run practica audit verify for the list",
                report.problems.len()
            )
        })
    }

    /// Computes and publishes the report of `period`.
    pub async fn report(&self, period: &Period) -> Result<Manifest, JobError> {
        let verification = self.verification().await?;
        let report = generate(&*self.table, period, verification).await?;
        Ok(publish(&*self.store, &report).await?)
    }

    /// The Lambda cold start: configuration from the environment, DynamoDB, the audit key's public
    /// half (read once), the checkpoint archive and the reports bucket.
    pub async fn cold_start() -> anyhow::Result<ReportJob> {
        let config = shared::config::reports::ReportsConfig::from_env()?;
        let sdk = shared::app::sdk_config().await;
        let table = shared::adapters::dynamodb::DynamoTable::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            config.audit.table_name.clone(),
        );
        let key = shared::adapters::kms_signer::KmsSigner::new(
            aws_sdk_kms::Client::new(&sdk),
            config.audit.signing_key_id.clone(),
        )
        .await?;
        let s3 = aws_sdk_s3::Client::new(&sdk);
        Ok(ReportJob {
            table: Arc::new(table),
            clock: Arc::new(shared::domain::clock::SystemClock),
            store: Arc::new(shared::adapters::s3_reports::S3Reports::new(
                s3.clone(),
                config.bucket,
                config.kms_key,
            )),
            archive: Arc::new(shared::adapters::s3_archive::S3Archive::new(
                s3,
                config.audit.bucket,
            )),
            spki: shared::crypto::signer::LogSigner::public_key(&key).to_vec(),
            log: config.audit.log,
        })
    }
}
