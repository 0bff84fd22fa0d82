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

/// The AWS SDK configuration of a Lambda function: region and credentials from the variables
/// Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`),
/// endpoints from the SDK's standard variables (`AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`).
/// Unlike [`sdk_config`] it does not walk the default provider chains (profile files, SSO, web
/// identity through STS, container and instance metadata), none of which applies on Lambda: a
/// faster start, and none of their code in the binaries.
pub fn lambda_sdk_config() -> Result<aws_config::SdkConfig, crate::config::ConfigError> {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let region = std::env::var("AWS_REGION")
        .ok()
        .filter(|r| !r.is_empty())
        .ok_or(crate::config::ConfigError::Missing("AWS_REGION"))?;
    let credentials = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        // One HTTPS client (the SDK's default: rustls on aws-lc) shared by every SDK client of the
        // function: one connection pool per endpoint, and the system's trust store read once per
        // cold start instead of once per service client.
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .build_https(),
        )
        .service_config(EnvEndpoints);
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        builder = builder.endpoint_url(url);
    }
    Ok(builder.build())
}

/// `AWS_ENDPOINT_URL_<SERVICE>` (the service id upper-cased, spaces as underscores), as the SDK's
/// own environment loader reads it.
#[derive(Debug)]
struct EnvEndpoints;

impl aws_types::service_config::LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        let service = key
            .service_id()
            .to_ascii_uppercase()
            .replace([' ', '-'], "_");
        std::env::var(format!("{}_{service}", key.env()))
            .ok()
            .filter(|v| !v.is_empty())
    }
}

/// A function's cold start: its configuration from the environment, the AWS SDK configuration
/// (for the function's other clients too) and the state built on both.
pub async fn cold_start() -> anyhow::Result<(AppState, aws_config::SdkConfig)> {
    let config = Config::from_env()?;
    let sdk = lambda_sdk_config()?;
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
        let jwks = HttpJwks::new(config.jwks_url.clone())?;
        let mut auth = config.auth.clone();
        if let Some(pool) = &config.patient_pool {
            auth.patient_pool = Some(crate::auth::PatientPool {
                issuer: pool.issuer.clone(),
                audience: pool.client_id.clone(),
                jwks: Arc::new(jwks.at(pool.jwks_url.clone())),
            });
        }
        Ok(Self::assemble(Parts {
            table: Arc::new(table),
            table_name: config.table_name.clone(),
            keys: Arc::new(keys),
            jwks: Arc::new(jwks),
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
