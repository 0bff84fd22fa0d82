//! The composition root: how an [`AppState`] is built from adapters, once per cold start on Lambda
//! (AWS SDK clients, KMS, JWKS over HTTPS), or over the embedded store and local keys for
//! `practica serve` and tests.

use std::path::Path;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

use crate::adapters::dynamodb::DynamoTable;
use crate::adapters::embedded::EmbeddedTable;
use crate::adapters::https::HttpsClient;
use crate::adapters::jwks::HttpJwks;
use crate::adapters::kms::KmsKeys;
use crate::adapters::local_keys::LocalKeys;
use crate::auth::{AuthConfig, JwksSource};
use crate::config::Config;
use crate::crypto::CachePolicy;
pub use crate::state::{AppState, Parts};
use crate::web::edge::OriginSecrets;
use domain::clock::SystemClock;

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
/// (for the function's other clients too) and the state built on both, with the table's
/// connection opened (unless `PRACTICA_PREOPEN_TABLE=false`).
pub async fn cold_start() -> anyhow::Result<(AppState, aws_config::SdkConfig)> {
    let start = Start::from_env()?;
    start.preopen().await;
    Ok((start.state, start.sdk))
}

/// The cold start of a function that answers HTTP (booking, reports): [`cold_start`] and the edge's
/// origin secrets, read while the table's connection opens.
pub async fn cold_start_http() -> anyhow::Result<(AppState, Arc<OriginSecrets>)> {
    let start = Start::from_env()?;
    let (edge, ()) = tokio::join!(start.origin_secrets(), start.preopen());
    Ok((start.state, edge?))
}

/// The booking function's cold start: as [`cold_start_http`], with online visits' signaling
/// (Kinesis Video Streams) and the staff directory (the Cognito staff pool) when the stack sets
/// them up.
pub async fn cold_start_booking() -> anyhow::Result<(AppState, Arc<OriginSecrets>)> {
    let mut start = Start::from_env()?;
    start.state = with_signaling(start.state, &start.sdk)?;
    if let Some(pool) = std::env::var(STAFF_POOL_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
    {
        let directory = crate::adapters::cognito_directory::CognitoDirectory::new(&start.sdk, pool);
        start.state = start.state.with_directory(Arc::new(directory));
    }
    let (edge, ()) = tokio::join!(start.origin_secrets(), start.preopen());
    Ok((start.state, edge?))
}

/// The variable naming the staff pool whose logins administrators manage (`GET /v1/staff`);
/// unset, those routes answer that the directory is not set up.
pub const STAFF_POOL_ENV: &str = "PRACTICA_STAFF_POOL_ID";

/// The variable naming the prefix of online visits' signaling channels; unset, the rooms say video
/// is not set up.
pub const SIGNALING_PREFIX_ENV: &str = "PRACTICA_SIGNALING_CHANNEL_PREFIX";

/// [`SIGNALING_PREFIX_ENV`], if set: a channel name's characters, at most 100 of them.
fn signaling_prefix() -> anyhow::Result<Option<String>> {
    let Some(prefix) = std::env::var(SIGNALING_PREFIX_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty())
    else {
        return Ok(None);
    };
    let ok = prefix.len() <= 100
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        anyhow::bail!("{SIGNALING_PREFIX_ENV} may hold only letters, digits, _ . - (100 at most)");
    }
    Ok(Some(prefix))
}

/// `state` with Kinesis Video Streams signaling, if [`SIGNALING_PREFIX_ENV`] is set.
fn with_signaling(state: AppState, sdk: &aws_config::SdkConfig) -> anyhow::Result<AppState> {
    let Some(prefix) = signaling_prefix()? else {
        return Ok(state);
    };
    let signaling = crate::adapters::kvs_signaling::KvsSignaling::new(sdk, prefix)?;
    Ok(state.with_signaling(Arc::new(signaling)))
}

/// How long a connection to a host that is not AWS's (token issuers, the processor) may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// What every cold start builds before its I/O: the configuration, the SDK configuration, the
/// client for hosts that are not AWS's, and the state over them.
struct Start {
    config: Config,
    sdk: aws_config::SdkConfig,
    https: HttpsClient,
    state: AppState,
}

/// How long the cold start waits for the table before going on without an open connection.
const PREOPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Start {
    fn from_env() -> anyhow::Result<Self> {
        let config = Config::from_env()?;
        let sdk = lambda_sdk_config()?;
        let https = HttpsClient::new(CONNECT_TIMEOUT);
        let state = AppState::from_sdk(&config, &sdk, &https);
        Ok(Start {
            config,
            sdk,
            https,
            state,
        })
    }

    async fn origin_secrets(&self) -> Result<Arc<OriginSecrets>, crate::config::ConfigError> {
        crate::config::edge::origin_secrets_from_env(&self.sdk)
            .await
            .map(Arc::new)
    }

    /// Opens the table's connection (DNS, TCP, TLS) during init by reading the practice record
    /// into the read cache, which most first requests need anyway; the functions that read
    /// secrets at start do both at once. A failure only costs the first request the handshake it
    /// would have paid without this; it never fails the start.
    async fn preopen(&self) {
        if !self.config.preopen_table {
            return;
        }
        let key = crate::store::keys::practice_key();
        let state = &self.state;
        match tokio::time::timeout(PREOPEN_TIMEOUT, state.cache.get(&*state.table, &key)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not pre-open the table's connection"),
            Err(_) => tracing::warn!("pre-opening the table's connection timed out"),
        }
    }
}

/// The payments function's cold start: the state, the processor (its key possibly read from
/// Secrets Manager) and the edge's origin secrets, read while the table's connection opens.
pub async fn cold_start_payments() -> anyhow::Result<(
    AppState,
    crate::adapters::stripe::StripeProcessor,
    Arc<OriginSecrets>,
)> {
    let start = Start::from_env()?;
    let (stripe, edge, ()) = tokio::join!(
        crate::config::payments::stripe_from_env(&start.sdk),
        start.origin_secrets(),
        start.preopen()
    );
    let processor = crate::adapters::stripe::StripeProcessor::new(stripe?, start.https);
    Ok((start.state, processor, edge?))
}

/// The sweep's cold start: the state and the processor (the sweep charges fees to cards on file),
/// its key read while the table's connection opens.
pub async fn cold_start_sweep()
-> anyhow::Result<(AppState, crate::adapters::stripe::StripeProcessor)> {
    let mut start = Start::from_env()?;
    // The sweep removes the signaling channels of rooms that have closed (and gives out no
    // address: it has only the channels' control).
    if let Some(prefix) = signaling_prefix()? {
        let channels = crate::adapters::kvs_signaling::KvsChannels::new(&start.sdk, prefix);
        start.state = start.state.with_signaling(Arc::new(channels));
    }
    let (stripe, ()) = tokio::join!(
        crate::config::payments::stripe_from_env(&start.sdk),
        start.preopen()
    );
    let processor = crate::adapters::stripe::StripeProcessor::new(stripe?, start.https);
    Ok((start.state, processor))
}

/// The webhook function's cold start: the state, the signing secrets (possibly read from Secrets
/// Manager) and the edge's origin secrets, read while the table's connection opens.
pub async fn cold_start_webhooks() -> anyhow::Result<(
    AppState,
    crate::config::payments::WebhookConfig,
    Arc<OriginSecrets>,
)> {
    let start = Start::from_env()?;
    let (secrets, edge, ()) = tokio::join!(
        crate::config::payments::WebhookConfig::from_env(&start.sdk),
        start.origin_secrets(),
        start.preopen()
    );
    Ok((start.state, secrets?, edge?))
}

impl AppState {
    /// Production, over an SDK configuration the function also uses for other clients.
    pub fn from_sdk(config: &Config, sdk: &aws_config::SdkConfig, https: &HttpsClient) -> Self {
        let table = DynamoTable::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        );
        let keys = KmsKeys::new(aws_sdk_kms::Client::new(sdk), config.kms_key_id.clone());
        let jwks = HttpJwks::new(https.clone(), config.jwks_url.clone());
        let mut auth = config.auth.clone();
        if let Some(pool) = &config.patient_pool {
            auth.patient_pool = Some(crate::auth::PatientPool {
                issuer: pool.issuer.clone(),
                audience: pool.client_id.clone(),
                jwks: Arc::new(HttpJwks::new(https.clone(), pool.jwks_url.clone())),
            });
        }
        Self::assemble(Parts {
            table: Arc::new(table),
            table_name: config.table_name.clone(),
            keys: Arc::new(keys),
            jwks: Arc::new(jwks),
            auth,
            cache: config.data_key_cache,
            clock: Arc::new(SystemClock),
        })
    }

    /// Local: the embedded store and the key file in `data_dir`.
    pub fn local(
        data_dir: &Path,
        jwks: Arc<dyn JwksSource>,
        auth: AuthConfig,
    ) -> anyhow::Result<Self> {
        Self::local_with_clock(data_dir, jwks, auth, Arc::new(SystemClock))
    }

    /// [`AppState::local`] on another clock (`practica serve --clock-start`).
    pub fn local_with_clock(
        data_dir: &Path,
        jwks: Arc<dyn JwksSource>,
        auth: AuthConfig,
        clock: Arc<dyn domain::clock::Clock>,
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
            clock,
        }))
    }
}
