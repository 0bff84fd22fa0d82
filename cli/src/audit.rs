//! `practica audit`: the audit log of a local data directory. `seal` integrates the entries written
//! since the last run (what the audit function does on Lambda, and `practica serve` every few
//! seconds), `verify` checks the whole log with the public key alone, `public-key` prints that key
//! (PEM) for a practice to keep where the log's writers cannot change it.

use std::path::Path;

use base64::Engine as _;
use std::sync::Arc;

use audit::AuditJob;
use shared::AppState;
use shared::adapters::dir_archive::DirArchive;
use shared::adapters::local_signer::LocalSigner;
use shared::audit::archive::archived;
use shared::audit::log::{IDLE_CHECKPOINT, Integrated, LogConfig, verify_table};
use shared::audit::verify::Report;
use shared::crypto::signer::{LogSigner, verify_checkpoint};
use shared::domain::merkle::{Hash, verify_inclusion};
use shared::store::commit::{Actor, Audit};

use crate::serve::offline_state;

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

/// The audit function's job over a data directory's state, signer and archive.
pub fn job(data: &Path, state: &AppState) -> anyhow::Result<AuditJob> {
    Ok(AuditJob {
        table: state.table.clone(),
        signer: Arc::new(signer(data)?),
        clock: state.clock.clone(),
        archive: Arc::new(archive(data)),
        config: local_config(&state.table_name),
    })
}

/// `practica audit seal`.
pub async fn seal(data: &Path) -> anyhow::Result<Integrated> {
    let state = offline_state(data)?;
    Ok(job(data, &state)?.integrate().await?.0)
}

/// `practica audit verify`: the table's log and checkpoints, and the archived checkpoints.
pub async fn verify(data: &Path) -> anyhow::Result<Report> {
    let state = offline_state(data)?;
    let signer = signer(data)?;
    let config = local_config(&state.table_name);
    let archived = archived(&archive(data))
        .await
        .map_err(|e| anyhow::anyhow!("reading the archived checkpoints failed: {e}"))?;
    verify_table(
        &*state.table,
        &*state.clock,
        &config,
        signer.public_key(),
        &archived,
    )
    .await
    .map_err(|e| anyhow::anyhow!("reading the audit log failed: {e}"))
}

/// `practica audit verify --table`: a deployed log, read through `sdk` (its table and checkpoint
/// bucket), checked against the pinned PEM key under `key_name`.
pub async fn verify_deployed(
    sdk: &aws_config::SdkConfig,
    table: &str,
    bucket: &str,
    pem: &str,
    key_name: &str,
) -> anyhow::Result<Report> {
    let spki = spki_of_pem(pem)?;
    let dynamo =
        shared::adapters::dynamodb::DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), table);
    let archive = shared::adapters::s3_archive::S3Archive::new(crate::s3_client(sdk), bucket);
    let archived = archived(&archive)
        .await
        .map_err(|e| anyhow::anyhow!("reading the archived checkpoints failed: {e}"))?;
    let config = LogConfig {
        origin: format!("practica/audit/{table}"),
        key_name: key_name.to_owned(),
        first_scan_days: shared::config::audit::FIRST_SCAN_DAYS,
        idle_checkpoint: IDLE_CHECKPOINT,
    };
    verify_table(
        &dynamo,
        &shared::domain::clock::SystemClock,
        &config,
        &spki,
        &archived,
    )
    .await
    .map_err(|e| anyhow::anyhow!("reading the audit log failed: {e}"))
}

/// The longest period one export covers (it reads the table a day at a time).
pub const MAX_EXPORT_DAYS: i64 = 366;

/// `practica audit export`: JSON lines, one per entry of the days `from` to `to` (UTC), with its
/// leaf index and the exact canonical text its leaf hash commits to, then the latest signed
/// checkpoint.
pub async fn export(data: &Path, from: &str, to: &str) -> anyhow::Result<Vec<String>> {
    let day = |text: &str| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, format)
            .map_err(|_| anyhow::anyhow!("{text:?} is not a date (YYYY-MM-DD)"))
    };
    let (from, to) = (day(from)?, day(to)?);
    anyhow::ensure!(from <= to, "--from is after --to");
    anyhow::ensure!(
        (to - from).whole_days() < MAX_EXPORT_DAYS,
        "an export covers at most {MAX_EXPORT_DAYS} days; split the period"
    );
    let state = offline_state(data)?;
    // The export is itself recorded (a system job reading the log), before anything is printed.
    let request_id = ulid::Ulid::new().to_string();
    let record = Audit::new("audit.export", "audit", format!("{from}..{to}")).item(
        &state,
        Actor::System {
            name: "audit-export",
            request_id: &request_id,
        },
    );
    state
        .table
        .put(record, Some(shared::store::Condition::ItemAbsent))
        .await
        .map_err(|e| anyhow::anyhow!("recording the export failed: {e}"))?;
    let (entries, checkpoint) = shared::audit::log::export(&*state.table, from, to)
        .await
        .map_err(|e| anyhow::anyhow!("reading the audit log failed: {e}"))?;
    let mut lines = Vec::with_capacity(entries.len() + 1);
    for e in entries {
        let canonical = String::from_utf8(e.canonical)?;
        lines.push(
            serde_json::json!({ "leafIndex": e.leaf_index, "canonical": canonical }).to_string(),
        );
    }
    lines.push(serde_json::json!({ "checkpoint": checkpoint }).to_string());
    Ok(lines)
}

/// `practica audit public-key`: the key's SubjectPublicKeyInfo as PEM.
pub fn public_key_pem(data: &Path) -> anyhow::Result<String> {
    Ok(pem_of(signer(data)?.public_key()))
}

/// A DER SubjectPublicKeyInfo as a PEM `PUBLIC KEY`.
pub fn pem_of(spki: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(spki);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    )
}

/// The DER SubjectPublicKeyInfo of a PEM `PUBLIC KEY`.
pub fn spki_of_pem(pem: &str) -> anyhow::Result<Vec<u8>> {
    let body: String = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(|| anyhow::anyhow!("not a PEM public key"))?
        .split_whitespace()
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| anyhow::anyhow!("the PEM public key is not base64"))
}

/// What `practica audit check-proof` found in an access log.
#[derive(Debug, PartialEq, Eq)]
pub struct ProofCheck {
    /// The size of the log the checkpoint signs.
    pub size: u64,
    /// Entries whose inclusion proof leads to the signed root.
    pub proven: usize,
    /// Entries without a proof yet (not integrated when the log was read).
    pub pending: usize,
}

fn hash_of(value: &serde_json::Value, what: &str) -> anyhow::Result<Hash> {
    value
        .as_str()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("{what} is not a base64 SHA-256 hash"))
}

/// `practica audit check-proof`: checks an access log as `GET /v1/patients/me/access-log` returns
/// it, offline and with the pinned public key alone: the checkpoint is signed by that key under
/// `key_name`, and every entry's inclusion proof leads from its leaf hash to the signed root.
pub fn check_proof(log_json: &str, pem: &str, key_name: &str) -> anyhow::Result<ProofCheck> {
    let spki = spki_of_pem(pem)?;
    let log: serde_json::Value =
        serde_json::from_str(log_json).map_err(|e| anyhow::anyhow!("not an access log: {e}"))?;
    let note = log["checkpoint"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the access log carries no checkpoint yet"))?;
    let checkpoint = verify_checkpoint(note, key_name, &spki)
        .map_err(|e| anyhow::anyhow!("the checkpoint is not signed by this key: {e:?}"))?;
    let entries = log["entries"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("not an access log: no entries"))?;
    let (mut proven, mut pending) = (0, 0);
    for (position, entry) in entries.iter().enumerate() {
        let Some(inclusion) = entry.get("inclusion") else {
            pending += 1;
            continue;
        };
        let index = inclusion["leafIndex"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("entry {position}: no leaf index"))?;
        let leaf = hash_of(&inclusion["leafHash"], "leafHash")?;
        let proof = inclusion["proof"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("entry {position}: no proof"))?
            .iter()
            .map(|h| hash_of(h, "a proof hash"))
            .collect::<anyhow::Result<Vec<Hash>>>()?;
        anyhow::ensure!(
            verify_inclusion(index, checkpoint.size, &leaf, &proof, &checkpoint.root),
            "entry {position} ({} at {}): its proof does not lead to the signed root",
            entry["action"],
            entry["at"]
        );
        proven += 1;
    }
    Ok(ProofCheck {
        size: checkpoint.size,
        proven,
        pending,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_seed_is_audited_sealed_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        crate::serve::seed(dir.path()).await.unwrap();
        let sealed = seal(dir.path()).await.unwrap();
        assert!(
            sealed.added > 0,
            "the seed writes audit entries: {sealed:?}"
        );
        let report = verify(dir.path()).await.unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.tree_size, sealed.size);
        assert_eq!(report.checkpointed_size, sealed.size);
        let pem = public_key_pem(dir.path()).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
        );
        assert_eq!(seal(dir.path()).await.unwrap().added, 0);
        // The export carries every entry with its leaf index and exact bytes, then the checkpoint.
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let lines = export(dir.path(), &today, &today).await.unwrap();
        // Every sealed entry, the export's own record (not sealed yet), the checkpoint.
        assert_eq!(lines.len() as u64, sealed.size + 2, "{lines:?}");
        assert!(lines[lines.len() - 2].contains("audit.export"), "{lines:?}");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["leafIndex"], 0);
        assert!(first["canonical"].as_str().unwrap().contains("\"action\""));
        let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        assert!(
            last["checkpoint"]
                .as_str()
                .unwrap()
                .contains("\u{2014} practica.local/audit ")
        );
        assert!(export(dir.path(), &today, "2000-01-01").await.is_err());
        assert!(export(dir.path(), "yesterday", &today).await.is_err());
        assert!(
            export(dir.path(), "0001-01-01", "9999-12-31")
                .await
                .is_err()
        );
        assert!(export(dir.path(), "", "\u{0}").await.is_err());
    }
}
