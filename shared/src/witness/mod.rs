//! A witness of other logs (C2SP `tlog-witness` v1.0), what `practica witness serve` runs for a
//! practice's auditor or a partner practice: it keeps, per log it trusts, the latest checkpoint it
//! cosigned, and cosigns a new one only when the log's key signed it and a consistency proof shows
//! it extends that one. A log that shows it two histories (a fork) is refused whichever it sees
//! second, so two parties holding cosigned checkpoints from one witness hold the same history.
//!
//! [`add_checkpoint`] is the whole protocol over two ports: the witness's [`WitnessState`] (the
//! check against the stored checkpoint and the update happen in one transaction, persisted before
//! the answer) and its [`Cosigner`] key.

use std::sync::Arc;

use crate::crypto::cosign::Cosigner;
use crate::crypto::signer::{CheckpointError, verify_checkpoint};
use domain::checkpoint::{Checkpoint, open_note, signed_note};
use domain::merkle::{Hash, verify_consistency};
use domain::witness::AddCheckpoint;

/// A log the witness trusts: its origin line and the key that signs its checkpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedLog {
    pub origin: String,
    pub key_name: String,
    /// The log key's DER SubjectPublicKeyInfo (P-256).
    pub spki: Vec<u8>,
}

/// The latest checkpoint a witness cosigned for a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub size: u64,
    pub root: Hash,
}

/// Where a witness keeps what it has seen: one record per origin.
pub trait WitnessState: Send + Sync {
    /// Runs `decide` on the record of `origin` (none before its first checkpoint) and, when it
    /// returns a new record, stores it durably, all in one transaction: two requests for one log
    /// never both pass the check against the same record.
    fn update(
        &self,
        origin: &str,
        decide: &mut dyn FnMut(Option<&Seen>) -> Result<Seen, Refusal>,
    ) -> anyhow::Result<Result<Seen, Refusal>>;

    /// The record of `origin`.
    fn seen(&self, origin: &str) -> anyhow::Result<Option<Seen>>;
}

/// Why a witness does not cosign, as the protocol answers it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: not a request, or an old size above the checkpoint's.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// 403: no signature by the log's key verifies.
    #[error("the checkpoint is not signed by the log's key")]
    NotSigned,
    /// 404: a log the witness does not know.
    #[error("unknown log")]
    UnknownLog,
    /// 409: the client's old size is not the witness's (`size`), or the same size came with
    /// another root (a fork).
    #[error("the witness holds size {size}")]
    Conflict { size: u64 },
    /// 422: the consistency proof does not show the checkpoint extends the witness's.
    #[error("the consistency proof does not verify")]
    Inconsistent,
}

impl Refusal {
    /// The HTTP status the protocol gives it.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::NotSigned => 403,
            Refusal::UnknownLog => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent => 422,
        }
    }
}

/// A witness: the logs it trusts, its state and its key.
pub struct Witness {
    pub logs: Vec<TrustedLog>,
    pub state: Arc<dyn WitnessState>,
    pub cosigner: Cosigner,
}

/// Handles an `add-checkpoint` body at `now` (Unix seconds): the cosignature lines to answer
/// with, or why not. Storage failures are errors (the caller answers 5xx, and nothing was cosigned).
pub fn add_checkpoint(
    witness: &Witness,
    body: &str,
    now: u64,
) -> anyhow::Result<Result<String, Refusal>> {
    let request = match AddCheckpoint::parse(body) {
        Ok(request) => request,
        Err(_) => return Ok(Err(Refusal::BadRequest("not an add-checkpoint body"))),
    };
    let Some((text, _)) = open_note(&request.note) else {
        return Ok(Err(Refusal::BadRequest("not a signed note")));
    };
    let Some(checkpoint) = Checkpoint::parse(text) else {
        return Ok(Err(Refusal::BadRequest("not a checkpoint")));
    };
    let Some(log) = witness.logs.iter().find(|l| l.origin == checkpoint.origin) else {
        return Ok(Err(Refusal::UnknownLog));
    };
    match verify_checkpoint(&request.note, &log.key_name, &log.spki) {
        Ok(_) => {}
        Err(CheckpointError::NotANote | CheckpointError::NotACheckpoint) => {
            return Ok(Err(Refusal::BadRequest("not a checkpoint")));
        }
        Err(_) => return Ok(Err(Refusal::NotSigned)),
    }
    if request.old_size > checkpoint.size {
        return Ok(Err(Refusal::BadRequest("old size above the checkpoint's")));
    }
    if request.old_size == 0 && !request.proof.is_empty() {
        return Ok(Err(Refusal::BadRequest("a proof from size 0")));
    }
    if request.old_size == checkpoint.size && !request.proof.is_empty() {
        return Ok(Err(Refusal::BadRequest("a proof between equal sizes")));
    }
    let new = Seen {
        size: checkpoint.size,
        root: checkpoint.root,
    };
    let mut decide = |seen: Option<&Seen>| {
        let held = seen.map_or(0, |s| s.size);
        if request.old_size != held {
            return Err(Refusal::Conflict { size: held });
        }
        match seen {
            // The same size again: the same root, or a fork.
            Some(seen) if seen.size == new.size => {
                if seen.root == new.root {
                    Ok(new.clone())
                } else {
                    Err(Refusal::Conflict { size: held })
                }
            }
            Some(seen) => {
                if verify_consistency(seen.size, new.size, &seen.root, &new.root, &request.proof) {
                    Ok(new.clone())
                } else {
                    Err(Refusal::Inconsistent)
                }
            }
            None => Ok(new.clone()),
        }
    };
    if let Err(refusal) = witness.state.update(&log.origin, &mut decide)? {
        if refusal == Refusal::Inconsistent {
            // Evidence of a log showing another history: kept in the witness's log.
            tracing::warn!(origin = %log.origin, size = checkpoint.size, "inconsistent checkpoint refused");
        }
        return Ok(Err(refusal));
    }
    let line = witness.cosigner.cosign(text, now);
    // The answer is the signature lines alone: the note's lines after the blank one.
    let note = signed_note(text, &[line]);
    Ok(Ok(note[text.len() + 1..].to_owned()))
}

#[cfg(test)]
mod tests;
