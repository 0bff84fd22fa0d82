//! The application state every router shares, and how it is built: once per cold start on Lambda
//! (AWS SDK clients, KMS, JWKS over HTTPS), or over the embedded store and local keys for
//! `practica serve` and tests.

use std::path::Path;
use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use axum::extract::FromRef;
use tokio::sync::OnceCell;

use crate::adapters::dynamodb::DynamoTable;
use crate::adapters::embedded::EmbeddedTable;
use crate::adapters::jwks::HttpJwks;
use crate::adapters::kms::KmsKeys;
use crate::adapters::local_keys::LocalKeys;
use crate::auth::{AuthConfig, JwksSource, Verifier};
use crate::config::Config;
use crate::crypto::{BlindIndex, CachePolicy, CryptoError, KeyService, Sealer};
use crate::domain::clock::{Clock, SystemClock};
use crate::store::Table;
use crate::store::cache::ReadCache;

/// Name the embedded store uses in encryption contexts and AAD.
pub const LOCAL_TABLE_NAME: &str = "practica-local";

#[derive(Clone)]
pub struct AppState {
    pub table: Arc<dyn Table>,
    pub table_name: Arc<str>,
    pub keys: Arc<dyn KeyService>,
    pub sealer: Arc<Sealer>,
    pub verifier: Arc<Verifier>,
    pub clock: Arc<dyn Clock>,
    /// Rarely changing records read on every request (practice, providers, services).
    pub cache: Arc<ReadCache>,
    blind_index: Arc<OnceCell<BlindIndex>>,
}

/// The environment's AWS configuration (loaded once per cold start), with bounded retries.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// The parts an [`AppState`] is assembled from.
pub struct Parts {
    pub table: Arc<dyn Table>,
    pub table_name: String,
    pub keys: Arc<dyn KeyService>,
    pub jwks: Arc<dyn JwksSource>,
    pub auth: AuthConfig,
    pub cache: CachePolicy,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn assemble(parts: Parts) -> Self {
        let sealer = Sealer::new(
            parts.keys.clone(),
            parts.clock.clone(),
            parts.table_name.clone(),
            parts.cache,
        );
        AppState {
            table: parts.table,
            table_name: parts.table_name.into(),
            keys: parts.keys,
            sealer: Arc::new(sealer),
            verifier: Arc::new(Verifier::new(parts.auth, parts.jwks, parts.clock.clone())),
            clock: parts.clock,
            cache: Arc::new(ReadCache::default()),
            blind_index: Arc::new(OnceCell::new()),
        }
    }

    /// Production: SDK clients built once, from the environment's AWS configuration.
    pub async fn from_aws(config: &Config) -> anyhow::Result<Self> {
        Self::from_sdk(config, &sdk_config().await)
    }

    /// Production, over an SDK configuration the function also uses for other clients.
    pub fn from_sdk(config: &Config, sdk: &aws_config::SdkConfig) -> anyhow::Result<Self> {
        let table = DynamoTable::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.table_name.clone(),
        );
        let keys = KmsKeys::new(aws_sdk_kms::Client::new(sdk), config.kms_key_id.clone());
        Ok(Self::assemble(Parts {
            table: Arc::new(table),
            table_name: config.table_name.clone(),
            keys: Arc::new(keys),
            jwks: Arc::new(HttpJwks::new(config.jwks_url.clone())?),
            auth: config.auth.clone(),
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

    /// The blind index, loaded (or created) on first use and kept for the environment's life.
    pub async fn blind_index(&self) -> Result<&BlindIndex, CryptoError> {
        self.blind_index
            .get_or_try_init(|| {
                BlindIndex::load_or_create(&*self.table, &self.table_name, &*self.keys)
            })
            .await
    }
}
