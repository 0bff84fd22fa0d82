//! The way to a C2SP witness over HTTP(S): `POST <prefix>/add-checkpoint` with the request body,
//! its answer read whole (a few signature lines, or a size).

use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;

use super::https::HttpsClient;
use crate::audit::witnessing::{Answer, WITNESS_TIMEOUT, WitnessClient};

/// The largest answer read: a witness answers a few signature lines.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

pub struct HttpWitnessClient {
    http: HttpsClient,
}

impl HttpWitnessClient {
    pub fn new(http: HttpsClient) -> Self {
        HttpWitnessClient { http }
    }

    /// A client of its own (connections opened within 2 s).
    pub fn standalone() -> Self {
        Self::new(HttpsClient::new(Duration::from_secs(2)))
    }
}

#[async_trait]
impl WitnessClient for HttpWitnessClient {
    async fn add_checkpoint(&self, url: &str, body: String) -> anyhow::Result<Answer> {
        let request = http::Request::post(format!("{}/add-checkpoint", url.trim_end_matches('/')))
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Bytes::from(body))?;
        let response = self
            .http
            .send_quiet(request, WITNESS_TIMEOUT, MAX_ANSWER_BYTES)
            .await?;
        Ok(Answer {
            status: response.status().as_u16(),
            body: String::from_utf8_lossy(response.body()).into_owned(),
        })
    }
}
