//! The audit log's use cases. So far: [`log`] integrates the entries the other functions write into
//! an RFC 6962 Merkle log with signed C2SP checkpoints, and reads it back; [`verify`] checks a log
//! (its leaves, the entries they commit to, its signed checkpoints) and reports every problem by
//! kind and position; [`access`] reads a patient's access log with inclusion proofs, and
//! [`search`] is an admin's search of the entries; [`refusals`] seals a flood of one caller's
//! refusals as one aggregate entry per hour; [`tamper`] records a change to an audit entry as an
//! entry of its own; [`stored`] reads the log's items back (leaves, the latest checkpoint) for all
//! of them.

pub mod access;
pub mod archive;
pub mod log;
pub mod refusals;
pub mod search;
pub mod stored;
pub mod tamper;
pub mod verify;
pub mod witnessing;
