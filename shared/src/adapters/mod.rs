//! Adapters: the production and local implementations of the ports. Use cases never name them;
//! `crate::app` (the composition root) and the `practica` CLI pick one per port.
//!
//! | port | production | local / tests |
//! |---|---|---|
//! | table (`crate::store::Table`) | [`dynamodb`] | [`embedded`] (redb) |
//! | key service (`crate::crypto::KeyService`) | [`kms`] | [`local_keys`] |
//! | token keys (`crate::auth::JwksSource`) | [`jwks`] over HTTPS | [`local_issuer`] |
//! | payment processor (`crate::payments::processor`) | [`stripe`] | the CLI's sandbox |
//! | audit-log signer (`crate::crypto::signer::LogSigner`) | [`kms_signer`] | [`local_signer`] |
//! | checkpoint archive (`crate::audit::archive`) | [`s3_archive`] | [`dir_archive`] |
//! | online visits' signaling (`crate::signaling::Signaling`) | [`kvs_signaling`] (Kinesis Video Streams WebRTC) | [`local_signaling`] |

pub mod backoff;
pub mod calendar_fetch;
pub mod cognito_directory;
pub mod dir_archive;
pub mod dir_reports;
pub mod dynamodb;
pub mod embedded;
pub mod files;
pub mod http_witness;
pub mod https;
pub mod jwks;
pub mod kms;
pub mod kms_signer;
pub mod kvs_signaling;
pub mod local_directory;
pub mod local_issuer;
pub mod local_keys;
pub mod local_signaling;
pub mod local_signer;
pub mod mailbox;
pub mod redb_witness;
pub mod s3_archive;
pub mod s3_reports;
pub mod sdk_error;
pub mod secrets;
pub mod ses;
pub mod sms;
pub mod stripe;
pub mod template_files;
