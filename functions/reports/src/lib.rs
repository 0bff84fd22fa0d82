//! The reports function: on EventBridge Scheduler's weekly and monthly schedules (in the practice's
//! zone), computes the report of the week or month just ended against the one before it, with a
//! verification of the audit log, and publishes it (HTML, CSV, JSON) to the reports bucket. It
//! also answers the admin's reads of published reports through the HTTP API ([`routes`]), so the
//! bucket is this function's alone, and computes live reports of any days up to today (read from
//! the table, published nowhere). It writes nothing to the table but audit entries.
//! `practica report` runs the same job over the embedded store; `practica serve` mounts the routes.
//!
//! A run that fails publishes nothing (the manifest is written last) and says in its error whether
//! a retry can help (`Retryable.*`: the table, the key service or the bucket was unavailable) or
//! not (`Permanent.*`: an event no schedule sends, a practice not set up); the scheduler's retry
//! policy and dead-letter queue act on it, and the retry writes the same bytes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use domain::clock::Clock;
use domain::report::{Period, PeriodError};
use serde_json::{Value, json};
use shared::audit::archive::{CheckpointArchive, archived};
use shared::audit::log::{LogConfig, verify_table};
use shared::reports::{Manifest, ReportStore, generate, publish};
use shared::store::Table;
use shared::web::{ApiPath, Caller};
use shared::{error::ApiError, state::AppState};

/// Which report a schedule asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cadence {
    Weekly,
    Monthly,
    /// The access review of the quarter just ended (every workforce login and its use).
    Quarterly,
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
            ApiError::Booking(domain::refusals::BookingError::PracticeNotConfigured) => {
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
        shared::lambda::diagnostic(kind, &e)
    }
}

/// Reads a schedule's event: `detail.job` is `report` and `detail.period` `weekly`, `monthly` or
/// `quarterly` (the access review).
pub fn cadence_of(event: &Value) -> Result<Cadence, JobError> {
    if !shared::scheduled::is_scheduled(event) {
        return Err(JobError::InvalidEvent("not a scheduled event"));
    }
    if shared::scheduled::job_of(event) != Some("report") {
        return Err(JobError::InvalidEvent("detail.job is not report"));
    }
    match event.pointer("/detail/period").and_then(Value::as_str) {
        Some("weekly") => Ok(Cadence::Weekly),
        Some("monthly") => Ok(Cadence::Monthly),
        Some("quarterly") => Ok(Cadence::Quarterly),
        _ => Err(JobError::InvalidEvent(
            "detail.period is not weekly, monthly or quarterly",
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
    /// The workforce's logins, for the quarterly access review (none: no review).
    pub directory: Option<Arc<dyn shared::directory::StaffDirectory>>,
}

impl ReportJob {
    /// One scheduled invocation: the report of the week or month just ended.
    pub async fn run(&self, event: Value) -> Result<Value, JobError> {
        let cadence = cadence_of(&event)?;
        let zone = shared::reports::collect::practice(&*self.table).await?.zone;
        let now = self.clock.now().as_second();
        let manifest = match cadence {
            Cadence::Weekly => self.report(&Period::last_week(now, &zone)?).await?,
            Cadence::Monthly => self.report(&Period::last_month(now, &zone)?).await?,
            Cadence::Quarterly => {
                self.access_review(&Period::last_quarter(now, &zone)?)
                    .await?
            }
        };
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

    /// Computes and publishes the access review of `period` (a quarter).
    pub async fn access_review(&self, period: &Period) -> Result<Manifest, JobError> {
        let directory = self.directory.as_deref().ok_or(JobError::NotConfigured)?;
        let verification = self.verification().await?;
        let review =
            shared::reports::review::access_review(&*self.table, directory, period, verification)
                .await?;
        Ok(publish(&*self.store, &review).await?)
    }

    /// The Lambda cold start: configuration from the environment, DynamoDB, the audit key's public
    /// half (read once), the checkpoint archive and the reports bucket.
    pub async fn cold_start() -> anyhow::Result<ReportJob> {
        let config = shared::config::reports::ReportsConfig::from_env()?;
        let sdk = shared::app::lambda_sdk_config()?;
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
            clock: Arc::new(domain::clock::SystemClock),
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
            directory: std::env::var(shared::app::STAFF_POOL_ENV)
                .ok()
                .filter(|p| !p.trim().is_empty())
                .map(|pool| {
                    Arc::new(shared::adapters::cognito_directory::CognitoDirectory::new(
                        &sdk, pool,
                    )) as Arc<dyn shared::directory::StaffDirectory>
                }),
        })
    }
}

type Store = Extension<Arc<dyn ReportStore>>;

async fn list_reports(
    State(s): State<AppState>,
    Extension(store): Store,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let reports = shared::reports::read::list(&s, &*store, &caller).await?;
    Ok(Json(json!({ "reports": reports })))
}

async fn live_report(
    State(s): State<AppState>,
    caller: Caller,
    shared::web::ApiQuery(q): shared::web::ApiQuery<shared::reports::read::LiveQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(shared::reports::read::live(&s, &caller, &q).await?))
}

async fn get_report(
    State(s): State<AppState>,
    Extension(store): Store,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let bytes = shared::reports::read::file(&s, &*store, &caller, &id, "report.json").await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

async fn get_report_file(
    State(s): State<AppState>,
    Extension(store): Store,
    caller: Caller,
    ApiPath((id, file)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let bytes = shared::reports::read::file(&s, &*store, &caller, &id, &file).await?;
    let kind = match file.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/json",
    };
    let mut response = ([(header::CONTENT_TYPE, kind)], bytes).into_response();
    // The page has no scripts and no external assets: a policy that allows nothing else.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    Ok(response)
}

/// The reports routes, for mounting beside other functions' (`practica serve`).
pub fn routes(state: AppState, store: Arc<dyn ReportStore>) -> Router {
    Router::new()
        .route("/v1/reports", get(list_reports))
        .route("/v1/live-report", get(live_report))
        .route("/v1/reports/{reportId}", get(get_report))
        .route("/v1/reports/{reportId}/{file}", get(get_report_file))
        .layer(Extension(store))
        .layer(Extension(shared::web::FunctionName("reports")))
        .with_state(state)
}

/// The function's complete router, as Lambda runs it.
pub fn router(state: AppState, store: Arc<dyn ReportStore>) -> Router {
    shared::web::finish(routes(state, store))
}

/// The function: the scheduled job and the HTTP routes, one binary.
pub struct Function {
    pub job: ReportJob,
    pub http: Router,
}

impl Function {
    /// One invocation: an API Gateway request (it has a `requestContext`) goes to the routes;
    /// anything else must be one of the report schedules.
    pub async fn handle(&self, event: Value) -> Result<Value, JobError> {
        if event.get("requestContext").is_none() {
            return self.job.run(event).await;
        }
        let request = lambda_http::request::from_str(&event.to_string())
            .map_err(|_| JobError::InvalidEvent("not an API Gateway request"))?
            .map(axum::body::Body::new);
        let response = tower::ServiceExt::oneshot(self.http.clone(), request)
            .await
            .map_err(|e| JobError::Failed(format!("{e}")))?;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|e| JobError::Failed(format!("reading the response: {e}")))?;
        let mut out = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse::default();
        out.status_code = i64::from(parts.status.as_u16());
        out.headers = parts.headers;
        out.body = Some(match String::from_utf8(bytes.to_vec()) {
            Ok(text) => lambda_http::Body::Text(text),
            Err(e) => {
                out.is_base64_encoded = true;
                lambda_http::Body::Binary(e.into_bytes())
            }
        });
        serde_json::to_value(out).map_err(|e| JobError::Failed(format!("{e}")))
    }

    /// The Lambda cold start: the job's ports and the API's state.
    pub async fn cold_start() -> anyhow::Result<Function> {
        let job = ReportJob::cold_start().await?;
        let (state, edge) = shared::app::cold_start_http().await?;
        let http = shared::web::edge::behind_edge(router(state, job.store.clone()), edge);
        Ok(Function { job, http })
    }
}
