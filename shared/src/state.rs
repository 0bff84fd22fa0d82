//! The application state every use case and router shares: the ports (table, key service, clock,
//! online visits' signaling),
//! the sealer and blind index over them, the token verifier and the read cache. Built by
//! `crate::app` from adapters; nothing here names one.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::auth::{AuthConfig, JwksSource, Verifier};
use crate::crypto::{BlindIndex, CachePolicy, CryptoError, KeyService, Sealer};
use crate::directory::StaffDirectory;
use crate::signaling::Signaling;
use crate::store::Table;
use crate::store::cache::ReadCache;
use domain::clock::Clock;

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
    /// Where online visits' browsers exchange their session descriptions; none where video is
    /// not set up (the visit room then says so).
    pub signaling: Option<Arc<dyn Signaling>>,
    /// The workforce's logins (the staff pool), where this function manages them.
    pub directory: Option<Arc<dyn StaffDirectory>>,
    blind_index: Arc<OnceCell<BlindIndex>>,
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
            signaling: None,
            directory: None,
            blind_index: Arc::new(OnceCell::new()),
        }
    }

    /// The state with the staff directory.
    pub fn with_directory(self, directory: Arc<dyn StaffDirectory>) -> Self {
        AppState {
            directory: Some(directory),
            ..self
        }
    }

    /// The state with online visits' signaling.
    pub fn with_signaling(self, signaling: Arc<dyn Signaling>) -> Self {
        AppState {
            signaling: Some(signaling),
            ..self
        }
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
