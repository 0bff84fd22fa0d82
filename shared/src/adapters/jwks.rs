//! The production token-key source: the identity provider's JWKS over HTTPS, with short timeouts.

use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;

use crate::auth::JwksSource;

/// The production source: an HTTPS JWKS endpoint (Cognito: `{issuer}/.well-known/jwks.json`).
pub struct HttpJwks {
    client: reqwest::Client,
    url: String,
}

impl HttpJwks {
    pub fn new(url: impl Into<String>) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(2))
            .build()?;
        Ok(HttpJwks {
            client,
            url: url.into(),
        })
    }

    /// Another issuer's key set over the same client (one TLS client, one trust-store read, per
    /// cold start).
    pub fn at(&self, url: impl Into<String>) -> Self {
        HttpJwks {
            client: self.client.clone(),
            url: url.into(),
        }
    }
}

#[async_trait]
impl JwksSource for HttpJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        let response = self
            .client
            .get(&self.url)
            .send()
            .await?
            .error_for_status()?;
        Ok(response.json::<JwkSet>().await?)
    }
}
