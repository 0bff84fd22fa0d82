//! The audit log's use cases. So far: [`log`] integrates the entries the other functions write into
//! an RFC 6962 Merkle log with signed C2SP checkpoints, and reads it back; [`verify`] checks a log
//! (its leaves, the entries they commit to, its signed checkpoints) and reports every problem by
//! kind and position. The reads of the log and the access reports come next (issue 11).

pub mod log;
pub mod verify;
