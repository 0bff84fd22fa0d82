//! Sending the log's latest checkpoint to the witnesses a practice configured (C2SP `tlog-witness`)
//! and keeping their cosignatures with it: the checkpoint's note gains their signature lines, so
//! every reader of the note (the access log's proofs, the patient's copy, the export, the
//! archive) carries them, and a verifier that requires k of the witnesses finds them there.
//!
//! Per witness, the table keeps the size it last cosigned (`AUDITLOG#WITNESS`), and the request
//! carries the consistency proof from that size. A witness that holds another size answers 409
//! with it, and the request is made again once from there (a witness restored from a backup, or
//! a first contact after a lost answer). A witness that cannot be reached, or refuses, is logged
//! and tried again on the next run; it never stops integration.

use std::time::Duration;

use async_trait::async_trait;

use super::access::LeafCache;
use super::stored::latest_checkpoint;
use crate::crypto::cosign::cosigned_by;
use crate::error::ApiError;
use crate::store::codec::n;
use crate::store::keys::{AUDIT_LOG_CHECKPOINTS, audit_log_witness};
use crate::store::{AttrValue, Condition, Consistency, Item, Key, Table, TransactOp, attr};
use domain::checkpoint::{NoteSignature, open_note, signed_note};
use domain::witness::{AddCheckpoint, WitnessKey, parse_size_answer};

/// How long one witness may take to answer.
pub const WITNESS_TIMEOUT: Duration = Duration::from_secs(5);

/// A witness the practice sends its checkpoints to: its key and its submission prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredWitness {
    pub key: WitnessKey,
    /// The URL `add-checkpoint` is appended to.
    pub url: String,
}

/// An `add-checkpoint` answer: its status and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// The way to a witness.
#[async_trait]
pub trait WitnessClient: Send + Sync {
    /// POSTs `body` to `<url>/add-checkpoint`.
    async fn add_checkpoint(&self, url: &str, body: String) -> anyhow::Result<Answer>;
}

/// What one run did with one witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Witnessed {
    /// It cosigned the latest checkpoint now.
    Cosigned,
    /// Its cosignature was already there.
    Already,
    /// It did not cosign (the reason, for the log: statuses and sizes, nothing else).
    Failed(String),
}

/// The most witnesses a practice names: a note carries at most 16 signature lines, the log's own
/// among them.
pub const MAX_WITNESSES: usize = 15;

/// Sends the latest checkpoint to each witness that has not cosigned it, all at once (a slow
/// witness delays the run by at most two [`WITNESS_TIMEOUT`]s, whatever the others do), and stores
/// the cosignatures that verify. Returns, per witness (in `witnesses`' order), what happened.
pub async fn witness_latest(
    table: &dyn Table,
    client: &dyn WitnessClient,
    witnesses: &[ConfiguredWitness],
) -> Result<Vec<Witnessed>, ApiError> {
    if witnesses.is_empty() {
        return Ok(Vec::new());
    }
    let Some(latest) = latest_checkpoint(table).await? else {
        return Ok(witnesses
            .iter()
            .map(|_| Witnessed::Failed("no checkpoint yet".into()))
            .collect());
    };
    let Some((body, lines)) = open_note(&latest.note) else {
        return Err(crate::store::codec::corrupt(attr::NOTE).into());
    };
    let asked = witnesses.iter().take(MAX_WITNESSES).map(|witness| async {
        if lines.iter().any(|l| cosigned_by(body, l, &witness.key)) {
            return Ok((Witnessed::Already, None));
        }
        ask(
            table,
            client,
            witness,
            &latest.note,
            body,
            latest.checkpoint.size,
        )
        .await
    });
    let answers = futures_util::future::join_all(asked).await;
    let size = latest.checkpoint.size;
    let mut outcomes = Vec::with_capacity(witnesses.len());
    let mut added: Vec<NoteSignature> = Vec::new();
    let mut ops = Vec::new();
    for (witness, answer) in witnesses.iter().zip(answers) {
        let (outcome, line) = answer?;
        if let Some(line) = line {
            added.push(line);
            ops.push(TransactOp::Put {
                item: Item::new(audit_log_witness(&witness.key.name))
                    .with(attr::TREE_SIZE, size.cast_signed()),
                condition: None,
            });
        }
        if let Witnessed::Failed(reason) = &outcome {
            tracing::warn!(witness = %witness.key.name, size, %reason, "checkpoint not cosigned");
        }
        outcomes.push(outcome);
    }
    for witness in witnesses.iter().skip(MAX_WITNESSES) {
        tracing::warn!(witness = %witness.key.name, "more witnesses than a note can carry: not asked");
        outcomes.push(Witnessed::Failed(
            "more witnesses than a note can carry".into(),
        ));
    }
    if !added.is_empty() {
        let mut all = lines.clone();
        all.extend(added);
        // The checkpoint item again with the longer note (a put: the audit function may put the
        // log's items, never update them), on the condition that its note is the one read.
        ops.push(TransactOp::Put {
            item: Item::new(Key::new(AUDIT_LOG_CHECKPOINTS, latest.name.clone()))
                .with(attr::NOTE, signed_note(body, &all))
                .with(attr::AT, latest.at),
            condition: Some(Condition::Equals(
                attr::NOTE.into(),
                AttrValue::S(latest.note.clone()),
            )),
        });
        table.transact_write(ops).await?;
    }
    Ok(outcomes)
}

/// One witness asked to cosign the checkpoint `note` (whose text is `body`, of `size` leaves):
/// what happened, and its cosignature line if it verifies.
async fn ask(
    table: &dyn Table,
    client: &dyn WitnessClient,
    witness: &ConfiguredWitness,
    note: &str,
    body: &str,
    size: u64,
) -> Result<(Witnessed, Option<NoteSignature>), ApiError> {
    let mut old = match table
        .get(&audit_log_witness(&witness.key.name), Consistency::Strong)
        .await?
    {
        Some(item) => u64::try_from(n(&item, attr::TREE_SIZE)?).unwrap_or(0),
        None => 0,
    };
    let mut proofs = LeafCache::default();
    // At most twice: from the size we hold for it, then from the size it says it holds.
    for _ in 0..2 {
        if old > size {
            let why = format!("it holds size {old}, above the log's {size}");
            return Ok((Witnessed::Failed(why), None));
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            proofs.consistency(table, old, size).await?
        };
        let request = AddCheckpoint {
            old_size: old,
            proof,
            note: note.to_owned(),
        };
        let answer = match client.add_checkpoint(&witness.url, request.body()).await {
            Ok(answer) => answer,
            Err(e) => return Ok((Witnessed::Failed(format!("unreachable: {e:#}")), None)),
        };
        match answer.status {
            200 => {
                let theirs = open_note(&format!("{}{}", signed_note(body, &[]), answer.body))
                    .map(|(_, lines)| lines)
                    .unwrap_or_default();
                return Ok(
                    match theirs
                        .into_iter()
                        .find(|l| cosigned_by(body, l, &witness.key))
                    {
                        Some(line) => (Witnessed::Cosigned, Some(line)),
                        None => (
                            Witnessed::Failed("its answer carries no valid cosignature".into()),
                            None,
                        ),
                    },
                );
            }
            409 => match parse_size_answer(&answer.body) {
                Some(theirs) if theirs != old => old = theirs,
                _ => {
                    // The same size with another root: it saw another history.
                    let why = format!("409: it holds another checkpoint at size {old}");
                    return Ok((Witnessed::Failed(why), None));
                }
            },
            status => return Ok((Witnessed::Failed(format!("it answered {status}")), None)),
        }
    }
    Ok((
        Witnessed::Failed("it changed its size twice in one run".into()),
        None,
    ))
}

#[cfg(test)]
mod tests;
