//! The production token-key source: the identity provider's JWKS over HTTPS, with short timeouts.

use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;

use super::https::HttpsClient;
use crate::auth::JwksSource;

/// How long one key-set fetch may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// The production source: an HTTPS JWKS endpoint (Cognito: `{issuer}/.well-known/jwks.json`).
pub struct HttpJwks {
    client: HttpsClient,
    url: String,
}

impl HttpJwks {
    /// The key set at `url`, fetched over `client`.
    pub fn new(client: HttpsClient, url: impl Into<String>) -> Self {
        HttpJwks {
            client,
            url: url.into(),
        }
    }
}

#[async_trait]
impl JwksSource for HttpJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        let request = http::Request::get(&self.url).body(Default::default())?;
        let response = self.client.send(request, FETCH_TIMEOUT).await?;
        anyhow::ensure!(
            response.status().is_success(),
            "GET {} answered {}",
            self.url,
            response.status()
        );
        Ok(serde_json::from_slice(response.body())?)
    }
}
