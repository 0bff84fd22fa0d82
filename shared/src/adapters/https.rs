//! Outbound HTTP(S) for the calls that are not AWS's (the token issuers' key sets, the payment
//! processor), on the AWS SDK's own HTTP stack: one TLS implementation and one HTTP client in each
//! Lambda binary, and the system trust store read once per process (the SDK's connector caches it)
//! instead of once per client.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use axum::body::Bytes;

/// A pooled HTTP/1.1 + HTTP/2 client over rustls; `http://` is allowed too (the configuration
/// decides which URLs may be plain: only this machine's).
#[derive(Clone)]
pub struct HttpsClient {
    connector: Arc<Connector>,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpsClient")
    }
}

/// Connections opened within `connect_timeout`.
fn settings(connect_timeout: Duration) -> HttpConnectorSettings {
    HttpConnectorSettings::builder()
        .connect_timeout(connect_timeout)
        .build()
}

/// A whole response: status, headers and the collected body.
pub type Response = http::Response<Bytes>;

/// The largest answer read (a key set or a payment intent is a few KB): a larger one is an error,
/// not memory spent.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

impl HttpsClient {
    /// A client whose connections must open within `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Self {
        let connector = Connector::builder()
            .connector_settings(settings(connect_timeout))
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build();
        HttpsClient {
            connector: Arc::new(connector),
        }
    }

    /// A client that resolves names with `resolver` (which may refuse some answers: an outbound
    /// fetch of an address a user gave checks where it really goes).
    pub fn with_resolver(
        connect_timeout: Duration,
        resolver: impl aws_smithy_runtime_api::client::dns::ResolveDns + Clone + 'static,
    ) -> Self {
        let connector = Connector::builder()
            .connector_settings(settings(connect_timeout))
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_with_resolver(resolver);
        HttpsClient {
            connector: Arc::new(connector),
        }
    }

    /// Sends `request` and reads the whole response within `timeout`. Errors name the method and
    /// URL, never a header (an `Authorization` header stays out of logs).
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> anyhow::Result<Response> {
        let what = format!("{} {}", request.method(), request.uri());
        self.send_quiet(request, timeout, MAX_RESPONSE_BYTES)
            .await
            .with_context(|| what)
    }

    /// As [`HttpsClient::send`] with an answer of at most `max_bytes`, and errors that name neither
    /// the URL nor a header (an address that is itself a secret, such as a private calendar's).
    pub async fn send_quiet(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
        max_bytes: usize,
    ) -> anyhow::Result<Response> {
        let exchange = async {
            let request =
                aws_smithy_runtime_api::http::Request::try_from(request.map(SdkBody::from))?;
            let response = self.connector.call(request).await?.try_into_http1x()?;
            let (parts, body) = response.into_parts();
            let mut stream = ByteStream::new(body);
            let mut body = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                anyhow::ensure!(
                    body.len() + chunk.len() <= max_bytes,
                    "the answer is larger than {max_bytes} bytes"
                );
                body.extend_from_slice(&chunk);
            }
            anyhow::Ok(http::Response::from_parts(parts, Bytes::from(body)))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("timed out after {timeout:?}"))
            .and_then(|r| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_string, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn sends_headers_and_body_and_reads_the_whole_answer() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/things"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string("a=1&b=two"))
            .respond_with(
                ResponseTemplate::new(201)
                    .insert_header("x-answer", "yes")
                    .set_body_string("x".repeat(100_000)),
            )
            .mount(&server)
            .await;
        let client = HttpsClient::new(Duration::from_secs(1));
        let request = http::Request::post(format!("{}/v1/things", server.uri()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(b"a=1&b=two"))
            .unwrap();
        let response = client.send(request, Duration::from_secs(5)).await.unwrap();
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-answer"], "yes");
        assert_eq!(response.body().len(), 100_000);
    }

    #[tokio::test]
    async fn an_answer_over_the_limit_is_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200).set_body_bytes(vec![b'x'; MAX_RESPONSE_BYTES + 1]),
            )
            .mount(&server)
            .await;
        let client = HttpsClient::new(Duration::from_secs(1));
        let request = http::Request::get(server.uri()).body(Bytes::new()).unwrap();
        let error = client
            .send(request, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(format!("{error:#}").contains("larger than"), "{error:#}");
    }

    #[tokio::test]
    async fn a_slow_answer_times_out_and_the_error_names_no_header() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let client = HttpsClient::new(Duration::from_secs(1));
        let request = http::Request::get(format!("{}/slow", server.uri()))
            .header("authorization", "Bearer sk_test_secret")
            .body(Bytes::new())
            .unwrap();
        let error = client
            .send(request, Duration::from_millis(200))
            .await
            .unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("GET http://") && text.contains("timed out"),
            "{text}"
        );
        assert!(!text.contains("sk_test_secret"), "{text}");
    }

    #[tokio::test]
    async fn an_unreachable_host_is_an_error() {
        // A port nothing listens on: the listener is dropped before the request.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = HttpsClient::new(Duration::from_secs(1));
        let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
            .body(Bytes::new())
            .unwrap();
        assert!(client.send(request, Duration::from_secs(2)).await.is_err());
    }
}
