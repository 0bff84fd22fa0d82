//! `practica audit`: the audit log of a local data directory. `seal` integrates the entries written
//! since the last run (what the audit function does on Lambda, and `practica serve` every few
//! seconds), `verify` checks the whole log with the public key alone, `public-key` prints that key
//! (PEM) for a practice to keep where the log's writers cannot change it.

use std::path::Path;

use base64::Engine as _;

use domain::merkle::{Hash, verify_inclusion};
use shared::audit::archive::archived;
use shared::audit::log::{IDLE_CHECKPOINT, Integrated, LogConfig, verify_table_witnessed};
use shared::audit::verify::Report;
use shared::crypto::cosign::WitnessPolicy;
use shared::crypto::signer::{LogSigner, verify_checkpoint};
use shared::unit_of_work::{Actor, Audit};

use crate::local::{self, offline_state};

/// `practica audit seal`: what was integrated, and what the witnesses (if any) did.
pub async fn seal(data: &Path) -> anyhow::Result<(Integrated, audit::WitnessCount)> {
    let state = offline_state(data)?;
    let (done, _, witnessed) = local::audit_job(data, &state)?.integrate().await?;
    Ok((done, witnessed))
}

/// `practica audit verify`: the table's log and checkpoints, and the archived checkpoints.
pub async fn verify(data: &Path, witnesses: &WitnessPolicy) -> anyhow::Result<Report> {
    let state = offline_state(data)?;
    let signer = local::signer(data)?;
    let config = local::local_config(&state.table_name);
    let archived = archived(&local::archive(data))
        .await
        .map_err(|e| anyhow::anyhow!("reading the archived checkpoints failed: {e}"))?;
    verify_table_witnessed(
        &*state.table,
        &*state.clock,
        &config,
        signer.public_key(),
        &archived,
        witnesses,
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
    witnesses: &WitnessPolicy,
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
    verify_table_witnessed(
        &dynamo,
        &domain::clock::SystemClock,
        &config,
        &spki,
        &archived,
        witnesses,
    )
    .await
    .map_err(|e| anyhow::anyhow!("reading the audit log failed: {e}"))
}

/// The longest period one export covers (it reads the table a day at a time).
pub const MAX_EXPORT_DAYS: i64 = 366;

/// `practica audit export`: JSON lines, one per entry of the days `from` to `to` (UTC), with its
/// leaf index, the exact canonical text its leaf hash commits to and, for an entry whose ids are
/// salted commitments there, the salt and ids that open them; then the latest signed checkpoint.
pub async fn export(data: &Path, from: &str, to: &str) -> anyhow::Result<Vec<String>> {
    let day = |text: &str| {
        domain::clock::parse_day(text)
            .ok_or_else(|| anyhow::anyhow!("{text:?} is not a date (YYYY-MM-DD)"))
    };
    let (from, to) = (day(from)?, day(to)?);
    anyhow::ensure!(from <= to, "--from is after --to");
    anyhow::ensure!(
        i64::from((to - from).get_days()) < MAX_EXPORT_DAYS,
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
        let mut line = serde_json::json!({ "leafIndex": e.leaf_index, "canonical": canonical });
        if let Some(openings) = e.openings {
            line["openings"] = openings;
        }
        lines.push(line.to_string());
    }
    lines.push(serde_json::json!({ "checkpoint": checkpoint }).to_string());
    Ok(lines)
}

/// `practica audit public-key`: the key's SubjectPublicKeyInfo as PEM.
pub fn public_key_pem(data: &Path) -> anyhow::Result<String> {
    Ok(pem_of(local::signer(data)?.public_key()))
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
    /// Of those, entries whose exact bytes came with them, hash to their leaf, name the patient
    /// (her commitment) and say what the log's description says.
    pub with_bytes: usize,
    /// Entries without a proof yet (not integrated when the log was read).
    pub pending: usize,
    /// The size of the earlier checkpoint the log was shown to extend (`--since`).
    pub extends: Option<u64>,
    /// For a consent's signed copy: the version (SHA-256) its text hashes to and its sealed
    /// audit entry names.
    pub document: Option<String>,
    /// The witnesses whose cosignatures of the checkpoint verified (with a witness rule).
    pub witnessed: Vec<String>,
}

/// An earlier checkpoint (`--since`) and the consistency proof from it (`--consistency`, the JSON
/// of `GET /v1/audit/consistency?from=<its size>&to=<the log's size>`).
pub struct Since<'a> {
    pub checkpoint: &'a str,
    pub consistency: &'a str,
}

/// What the checker holds the log to besides the key.
#[derive(Default)]
pub struct Expect<'a> {
    /// Whose log it must be (`--patient`, her own id as her sign-in says it); without it, the id
    /// the log states is used.
    pub patient: Option<&'a str>,
    /// From this leaf index on, every sealed entry must come with its own bytes (`--bytes-from`).
    pub bytes_from: Option<u64>,
    pub since: Option<Since<'a>>,
    /// The practice's witness rule: the checkpoint must be cosigned by enough of its witnesses.
    pub witnesses: Option<&'a WitnessPolicy>,
}

fn hash_of(value: &serde_json::Value, what: &str) -> anyhow::Result<Hash> {
    value
        .as_str()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("{what} is not a base64 SHA-256 hash"))
}

fn hashes_of(value: &serde_json::Value, what: &str) -> anyhow::Result<Vec<Hash>> {
    value
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no {what}"))?
        .iter()
        .map(|h| hash_of(h, what))
        .collect()
}

/// Checks an entry's own bytes: they hash to `leaf`, carry the patient's commitment (from the
/// opening given) and say what the log describes (action, kind, outcome, time, count, and
/// whether she acted).
fn check_bytes(
    entry: &serde_json::Value,
    inclusion: &serde_json::Value,
    patient: &str,
    leaf: &Hash,
) -> anyhow::Result<bool> {
    use domain::commitment::commit_with;
    let Some(encoded) = inclusion.get("entry").and_then(|e| e.as_str()) else {
        return Ok(false);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| anyhow::anyhow!("its bytes are not base64"))?;
    anyhow::ensure!(
        domain::merkle::leaf_hash(&bytes) == *leaf,
        "its bytes do not hash to its leaf"
    );
    let sealed: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| anyhow::anyhow!("its bytes are not JSON"))?;
    let attrs = &sealed["attrs"];
    let at = attrs["at"]
        .as_i64()
        .map(domain::instant::render_utc)
        .unwrap_or_default();
    for (field, sealed) in [
        ("action", attrs["action"].clone()),
        ("kind", attrs["action_kind"].clone()),
        ("outcome", attrs["outcome"].clone()),
        ("at", at.into()),
    ] {
        anyhow::ensure!(
            sealed == entry[field],
            "the log says {} {}, its sealed bytes {}",
            field,
            entry[field],
            sealed
        );
    }
    let opening = inclusion["opening"]
        .as_str()
        .and_then(|h| {
            (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
                .collect::<Option<Vec<u8>>>()
        })
        .ok_or_else(|| anyhow::anyhow!("no opening of the patient's commitment"))?;
    let mine = commit_with(&opening, patient);
    let named = attrs["patient_ids"]
        .as_array()
        .is_some_and(|ids| ids.iter().any(|c| c == mine.as_str()));
    anyhow::ensure!(named, "its sealed bytes do not name this patient");
    let you = attrs["actor"] == mine.as_str();
    anyhow::ensure!(
        entry["by"]["you"] == you,
        "the log says {} acted, its sealed bytes {}",
        if entry["by"]["you"] == true {
            "she"
        } else {
            "someone else"
        },
        if you { "she" } else { "someone else" }
    );
    let count = attrs["patient_counts"]
        .get(&mine)
        .or(attrs.get("count"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    anyhow::ensure!(
        count
            == entry
                .get("count")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        "the log counts {}, its sealed bytes {}",
        entry["count"],
        count
    );
    Ok(true)
}

/// `practica audit check-proof`: checks an access log as `GET /v1/patients/me/access-log` returns
/// it, offline and with the pinned public key alone: the checkpoint is signed by that key under
/// `key_name`; every entry's inclusion proof leads from its leaf to the signed root; an entry that
/// carries its bytes has them hash to that leaf, name the patient and say what the log says; with
/// `since`, the earlier checkpoint is signed by the same key and the log only grew from it.
pub fn check_proof(
    log_json: &str,
    pem: &str,
    key_name: &str,
    expect: Expect<'_>,
) -> anyhow::Result<ProofCheck> {
    let spki = spki_of_pem(pem)?;
    let log: serde_json::Value =
        serde_json::from_str(log_json).map_err(|e| anyhow::anyhow!("not an access log: {e}"))?;
    let note = log["checkpoint"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the access log carries no checkpoint yet"))?;
    let checkpoint = verify_checkpoint(note, key_name, &spki)
        .map_err(|e| anyhow::anyhow!("its checkpoint: {e}"))?;
    let witnessed = match expect.witnesses {
        Some(rule) => rule
            .check(note)
            .map_err(|e| anyhow::anyhow!("its checkpoint is not witnessed: {e}"))?,
        None => Vec::new(),
    };
    let stated = log["patientId"].as_str().unwrap_or_default();
    let patient = expect.patient.unwrap_or(stated);
    anyhow::ensure!(
        patient == stated,
        "this is the access log of {stated}, not of {patient}"
    );
    let entries = log["entries"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("not an access log: no entries"))?;
    let (mut proven, mut with_bytes, mut pending) = (0, 0, 0);
    for (position, entry) in entries.iter().enumerate() {
        let Some(inclusion) = entry.get("inclusion") else {
            pending += 1;
            continue;
        };
        let index = inclusion["leafIndex"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("entry {position}: no leaf index"))?;
        anyhow::ensure!(
            index < checkpoint.size,
            "entry {position}: placed at {index}, outside the signed log of {}",
            checkpoint.size
        );
        let leaf = hash_of(&inclusion["leafHash"], "leafHash")?;
        let proof = hashes_of(&inclusion["proof"], "proof hash")?;
        anyhow::ensure!(
            verify_inclusion(index, checkpoint.size, &leaf, &proof, &checkpoint.root),
            "entry {position} ({} at {}): its proof does not lead to the signed root",
            entry["action"],
            entry["at"]
        );
        proven += 1;
        if check_bytes(entry, inclusion, patient, &leaf)
            .map_err(|e| anyhow::anyhow!("entry {position}: {e}"))?
        {
            with_bytes += 1;
        } else if expect.bytes_from.is_some_and(|from| index >= from) {
            anyhow::bail!("entry {position} ({index}): sealed without its own bytes");
        }
    }
    let extends = match expect.since {
        None => None,
        Some(since) => {
            // Saved with a tool that added a newline (`jq -r`), the note is the same note.
            let note = format!("{}\n", since.checkpoint.trim_end_matches('\n'));
            // (the `checkpoint` text of an access log checked before, as `jq -r .checkpoint` saves it)
            let before = verify_checkpoint(&note, key_name, &spki)
                .map_err(|e| anyhow::anyhow!("the earlier checkpoint (--since): {e}"))?;
            anyhow::ensure!(
                before.size <= checkpoint.size,
                "the log was rolled back: {} entries now, {} before",
                checkpoint.size,
                before.size
            );
            let answer: serde_json::Value = serde_json::from_str(since.consistency)
                .map_err(|e| anyhow::anyhow!("not a consistency proof: {e}"))?;
            anyhow::ensure!(
                answer["from"] == before.size && answer["to"] == checkpoint.size,
                "the consistency proof is from {} to {}, not from {} to {}",
                answer["from"],
                answer["to"],
                before.size,
                checkpoint.size
            );
            let proof = hashes_of(&answer["proof"], "consistency proof hash")?;
            anyhow::ensure!(
                domain::merkle::verify_consistency(
                    before.size,
                    checkpoint.size,
                    &before.root,
                    &checkpoint.root,
                    &proof
                ),
                "the log of {} entries does not extend the one of {} this check was given: it was rewritten",
                checkpoint.size,
                before.size
            );
            Some(before.size)
        }
    };
    let document = match log.get("versionHash").and_then(|v| v.as_str()) {
        None => None,
        Some(hash) => Some(check_signed_copy(&log, entries, hash)?),
    };
    Ok(ProofCheck {
        size: checkpoint.size,
        proven,
        with_bytes,
        pending,
        extends,
        document,
        witnessed,
    })
}

/// A consent's signed copy (`GET /v1/patients/{id}/consents/{signatureId}`): its text hashes to
/// the version it names; exactly one audit entry of that act comes with it, proven above with its
/// own bytes, acted by the patient, successful; and those bytes name that version, commit to the
/// copy's signature id (by the opening the copy carries), to the typed name (by the name's
/// opening) and to the time the copy states. So the signed log shows who signed which text, under
/// which name, when.
fn check_signed_copy(
    copy: &serde_json::Value,
    entries: &[serde_json::Value],
    hash: &str,
) -> anyhow::Result<String> {
    use domain::commitment::commit_with;
    let text = copy["text"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the signed copy carries no text"))?;
    anyhow::ensure!(
        domain::consent::version_hash(text) == hash,
        "the text of the copy is not the version it names (its SHA-256 differs)"
    );
    let action = format!("consent.{}", copy["kind"].as_str().unwrap_or_default());
    let acts: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["action"] == action.as_str())
        .collect();
    let [entry] = acts.as_slice() else {
        anyhow::bail!(
            "the copy carries {} {action} entries of the audit log, not one",
            acts.len()
        );
    };
    anyhow::ensure!(
        entry["outcome"] == "success" && entry["by"]["you"] == true,
        "the signature's entry is not a successful act of the patient's own"
    );
    let inclusion = entry.get("inclusion").ok_or_else(|| {
        anyhow::anyhow!(
            "the signature is not in the signed log yet: fetch the copy again in a few minutes"
        )
    })?;
    let bytes = inclusion["entry"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| anyhow::anyhow!("the signature's entry comes without its own bytes"))?;
    let sealed: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| anyhow::anyhow!("the signature's entry bytes are not JSON"))?;
    let attrs = &sealed["attrs"];
    anyhow::ensure!(
        attrs["action"] == action.as_str(),
        "the signed log's entry records {}, not {action}",
        attrs["action"]
    );
    anyhow::ensure!(
        attrs["document_hash"] == hash,
        "the signed log's entry names version {}, not the copy's {hash}",
        attrs["document_hash"]
    );
    let hex = |v: &serde_json::Value, what: &str| -> anyhow::Result<Vec<u8>> {
        let h = v.as_str().unwrap_or_default();
        (0..h.len())
            .step_by(2)
            .map(|i| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .filter(|b| b.len() == 16)
            .ok_or_else(|| anyhow::anyhow!("the copy carries no opening of {what}"))
    };
    let signature = copy["signatureId"].as_str().unwrap_or_default();
    anyhow::ensure!(
        attrs["entity_id"]
            == commit_with(
                &hex(&inclusion["entityOpening"], "its signature id")?,
                signature
            )
            .as_str(),
        "the signed log's entry is of another signature than {signature}"
    );
    let name = copy["typedName"].as_str().unwrap_or_default();
    anyhow::ensure!(
        attrs["name_commitment"]
            == commit_with(&hex(&copy["nameOpening"], "the typed name")?, name).as_str(),
        "the signed log's entry was signed under another name than the copy's"
    );
    anyhow::ensure!(
        copy["signedAtUtc"] == entry["at"],
        "the copy says it was signed at {}, the signed log at {}",
        copy["signedAtUtc"],
        entry["at"]
    );
    Ok(hash.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_seed_is_audited_sealed_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        crate::serve::seed(dir.path()).await.unwrap();
        let (sealed, _) = seal(dir.path()).await.unwrap();
        assert!(
            sealed.added > 0,
            "the seed writes audit entries: {sealed:?}"
        );
        let report = verify(dir.path(), &Default::default()).await.unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.tree_size, sealed.size);
        assert_eq!(report.checkpointed_size, sealed.size);
        let pem = public_key_pem(dir.path()).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
        );
        assert_eq!(seal(dir.path()).await.unwrap().0.added, 0);
        // The export carries every entry with its leaf index and exact bytes, then the checkpoint.
        let today = domain::clock::utc_day(jiff::Timestamp::now()).to_string();
        let lines = export(dir.path(), &today, &today).await.unwrap();
        // Every sealed entry, the export's own record (not sealed yet), the checkpoint.
        assert_eq!(lines.len() as u64, sealed.size + 2, "{lines:?}");
        assert!(lines[lines.len() - 2].contains("audit.export"), "{lines:?}");
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["leafIndex"], 0);
        assert!(first["canonical"].as_str().unwrap().contains("\"action\""));
        // The auditor opens each commitment in the bytes with the salt and the stored ids given.
        let salt: Vec<u8> = {
            let hex = first["openings"]["salt"].as_str().unwrap();
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect()
        };
        let sealed: serde_json::Value =
            serde_json::from_str(first["canonical"].as_str().unwrap()).unwrap();
        let actor = first["openings"]["actor"].as_str().unwrap();
        assert_eq!(
            sealed["attrs"]["actor"],
            domain::commitment::commit(&salt, actor)
        );
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
