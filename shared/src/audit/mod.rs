//! The audit log's use cases. So far: [`verify`], which checks a log (its leaves, the entries they
//! commit to, its signed checkpoints) and reports every problem by kind and position. The
//! integrator that builds the log, the reads of it and the access reports come next (issue 11).

pub mod verify;
