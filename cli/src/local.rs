//! The local stack's wiring, which every command uses: the state over a data directory, and the
//! audit and report jobs with their signer, archive and stores. The commands (serve, audit,
//! report, portal) build on this module, never on each other.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use audit::AuditJob;
use reports::ReportJob;
use shared::adapters::dir_archive::DirArchive;
use shared::adapters::dir_reports::DirReports;
use shared::adapters::http_witness::HttpWitnessClient;
use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::adapters::local_signer::LocalSigner;
use shared::audit::log::{IDLE_CHECKPOINT, LogConfig};
use shared::audit::witnessing::ConfiguredWitness;
use shared::auth::AuthConfig;
use shared::config::audit::{WITNESS_QUORUM, WITNESSES};
use shared::crypto::cosign::WitnessPolicy;
use shared::crypto::signer::LogSigner as _;
use shared::state::AppState;

/// The local state over `data` for one-shot commands (the server must not be running: the embedded
/// database is opened exclusively).
pub fn offline_state(data: &Path) -> anyhow::Result<AppState> {
    offline_state_on(data, Arc::new(domain::clock::SystemClock))
}

/// [`offline_state`] on another clock.
pub fn offline_state_on(
    data: &Path,
    clock: Arc<dyn domain::clock::Clock>,
) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let issuer = LocalIssuer::open_or_create(data)?;
    let jwks = shared::auth::StaticJwks(issuer.jwks().clone());
    AppState::local_with_clock(
        data,
        Arc::new(jwks),
        AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
        clock,
    )
    .context("opening the data directory (is `practica serve` running on it? stop it first)")
}

/// The audit-log signing key in the data directory (P-256, PKCS#8, 0600).
pub const AUDIT_KEY_FILE: &str = "audit-signing.p8";
/// The key name in the local log's signed checkpoints.
pub const LOCAL_KEY_NAME: &str = "practica.local/audit";

/// The local log's identity; a first integration looks back a month.
pub fn local_config(table_name: &str) -> LogConfig {
    LogConfig {
        origin: format!("practica.local/audit/{table_name}"),
        key_name: LOCAL_KEY_NAME.into(),
        first_scan_days: 31,
        idle_checkpoint: IDLE_CHECKPOINT,
    }
}

pub fn signer(data: &Path) -> anyhow::Result<LocalSigner> {
    LocalSigner::open_or_create(&data.join(AUDIT_KEY_FILE))
}

/// The folder of the data dir that archives every sealed checkpoint.
pub const ARCHIVE_DIR: &str = "checkpoints";

pub fn archive(data: &Path) -> DirArchive {
    DirArchive::new(data.join(ARCHIVE_DIR))
}

/// The witnesses `PRACTICA_AUDIT_WITNESSES` names (as the audit function reads it).
pub fn witnesses_from_env() -> anyhow::Result<Vec<ConfiguredWitness>> {
    let text = std::env::var(WITNESSES).unwrap_or_default();
    shared::config::audit::witnesses(&text)
        .map_err(|reason| anyhow::anyhow!("{WITNESSES}: {reason}"))
}

/// The witness rule the local portal checks: the witnesses `PRACTICA_AUDIT_WITNESSES` names,
/// `PRACTICA_AUDIT_WITNESS_QUORUM` of them (default: all).
pub fn witness_rule_from_env() -> anyhow::Result<WitnessPolicy> {
    let keys: Vec<_> = witnesses_from_env()?.into_iter().map(|w| w.key).collect();
    let quorum = match std::env::var(WITNESS_QUORUM) {
        Ok(text) => text
            .parse()
            .map_err(|_| anyhow::anyhow!("{WITNESS_QUORUM} is a number"))?,
        Err(_) => keys.len(),
    };
    WitnessPolicy::new(keys, quorum).map_err(|e| anyhow::anyhow!("{WITNESS_QUORUM}: {e}"))
}

/// The audit function's job over a data directory's state, signer and archive, sending each new
/// checkpoint to the witnesses `PRACTICA_AUDIT_WITNESSES` names.
pub fn audit_job(data: &Path, state: &AppState) -> anyhow::Result<AuditJob> {
    Ok(AuditJob {
        witnesses: witnesses_from_env()?,
        witness_client: Arc::new(HttpWitnessClient::standalone()),
        table: state.table.clone(),
        signer: Arc::new(signer(data)?),
        clock: state.clock.clone(),
        archive: Arc::new(archive(data)),
        config: local_config(&state.table_name),
    })
}

/// Where a data directory keeps its published reports.
pub fn report_store(data: &Path) -> DirReports {
    DirReports::new(data.join("reports"))
}

/// The reports function's job over a data directory.
pub fn report_job(data: &Path, state: &AppState) -> anyhow::Result<ReportJob> {
    Ok(ReportJob {
        table: state.table.clone(),
        clock: state.clock.clone(),
        store: Arc::new(report_store(data)),
        archive: Arc::new(archive(data)),
        log: local_config(&state.table_name),
        spki: signer(data)?.public_key().to_vec(),
        directory: state.directory.clone(),
    })
}
