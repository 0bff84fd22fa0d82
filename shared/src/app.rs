//! The composition root: how an [`AppState`] is built from adapters, once per cold start on Lambda
//! (AWS SDK clients, KMS, JWKS over HTTPS), or over the embedded store and local keys for
//! `practica serve` and tests.

use std::path::Path;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

use crate::adapters::dynamodb::DynamoTable;
use crate::adapters::embedded::EmbeddedTable;
use crate::adapters::jwks::HttpJwks;
use crate::adapters::kms::KmsKeys;
use crate::adapters::local_keys::LocalKeys;
use crate::auth::{AuthConfig, JwksSource};
use crate::config::Config;
use crate::crypto::CachePolicy;
use crate::domain::clock::SystemClock;
pub use crate::state::{AppState, Parts};

/// Name the embedded store uses in encryption contexts and AAD.
pub const LOCAL_TABLE_NAME: &str = "practica-local";

/// The environment's AWS configuration (loaded once per cold start), with bounded retries.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

/// A function's cold start: its configuration from the environment, the AWS SDK configuration
/// (for the function's other clients too) and the state built on both.
pub async fn cold_start() -> anyhow::Result<(AppState, aws_config::SdkConfig)> {
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let state = AppState::from_sdk(&config, &sdk)?;
    Ok((state, sdk))
}

/// The payments function's cold start: the state and the processor (its key possibly read from
/// Secrets Manager).
pub async fn cold_start_payments()
-> anyhow::Result<(AppState, crate::adapters::stripe::StripeProcessor)> {
    let (state, sdk) = cold_start().await?;
    let stripe = crate::config::payments::stripe_from_env(&sdk).await?;
    Ok((
        state,
        crate::adapters::stripe::StripeProcessor::new(stripe)?,
    ))
}

/// The webhook function's cold start: the state and the signing secrets (possibly read from
/// Secrets Manager).
pub async fn cold_start_webhooks()
-> anyhow::Result<(AppState, crate::config::payments::WebhookConfig)> {
    let (state, sdk) = cold_start().await?;
    let secrets = crate::config::payments::WebhookConfig::from_env(&sdk).await?;
    Ok((state, secrets))
}

impl AppState {
    /// Production, over an SDK configuration the function also uses for other clients.
    pub fn from_sdk(config: &Config, sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let table = DynamoTable::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        );
        let keys = KmsKeys::new(aws_sdk_kms::Client::new(sdk), config.kms_key_id.clone());
        let mut auth = config.auth.clone();
        if let Some(pool) = &config.patient_pool {
            auth.patient_pool = Some(crate::auth::PatientPool {
                issuer: pool.issuer.clone(),
                audience: pool.client_id.clone(),
                jwks: Arc::new(HttpJwks::new(pool.jwks_url.clone())?),
            });
        }
        Ok(Self::assemble(Parts {
            table: Arc::new(table),
            table_name: config.table_name.clone(),
            keys: Arc::new(keys),
            jwks: Arc::new(HttpJwks::new(config.jwks_url.clone())?),
            auth,
            cache: config.data_key_cache,
            clock: Arc::new(SystemClock),
        }))
    }

    /// Local: the embedded store and the key file in `data_dir`.
    pub fn local(
        data_dir: &Path,
        jwks: Arc<dyn JwksSource>,
        auth: AuthConfig,
    ) -> anyhow::Result<Self> {
        let table = EmbeddedTable::open(&data_dir.join("practica.redb"))?;
        let keys = LocalKeys::open_or_create(&data_dir.join("master.key"))?;
        Ok(Self::assemble(Parts {
            table: Arc::new(table),
            table_name: LOCAL_TABLE_NAME.into(),
            keys: Arc::new(keys),
            jwks,
            auth,
            cache: CachePolicy::default(),
            clock: Arc::new(SystemClock),
        }))
    }
}
