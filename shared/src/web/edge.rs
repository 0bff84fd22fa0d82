//! The edge's proof. Deployed, every HTTP request must come through the portal's CloudFront
//! distribution, whose web ACL limits clients; the API's own `execute-api` address stays reachable
//! on the internet (CloudFront needs it), so the distribution adds a secret header to every request
//! it forwards and the functions refuse any request without it, before anything else runs: no
//! token is verified, no body read, no table touched.
//!
//! The secret lives in Secrets Manager as `{"current": "…", "previous": "…"}`; the distribution
//! sends `current`, the functions accept either, so rotating it (docs/deploy.md, "Rotation") never
//! refuses a request. Only a request that passed this check may name its client's address, in
//! `x-practica-viewer-address`, which the distribution's viewer-request function sets from the
//! address CloudFront saw (overwriting whatever a viewer sent); without the check (under `practica
//! serve`, or at the API's own address) that header is the client's own word and is ignored.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use domain::hash::sha256;
use subtle::ConstantTimeEq as _;

use crate::error::ApiError;

/// The header CloudFront adds to every request for the API (`OriginCustomHeaders`).
pub const ORIGIN_HEADER: &str = "x-practica-origin";

/// The viewer's address (`198.51.100.10`, `2001:db8::1`), set by the distribution's viewer-request
/// function (`PortalViewerRequest`) from `event.viewer.ip`.
pub const VIEWER_ADDRESS_HEADER: &str = "x-practica-viewer-address";

/// Shortest secret accepted: the template generates 48 characters.
pub const MIN_SECRET_LEN: usize = 32;

/// The values a request may carry in [`ORIGIN_HEADER`]: the current one and, during a rotation,
/// the previous one.
pub struct OriginSecrets {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for OriginSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OriginSecrets([REDACTED; {}])", self.digests.len())
    }
}

/// Why a secret's value was refused (never the value itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OriginSecretError {
    #[error("not a JSON object with a string \"current\" (and optionally \"previous\")")]
    Shape,
    #[error("a value is shorter than 32 characters or not printable ASCII")]
    Weak,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    current: String,
    #[serde(default)]
    previous: Option<String>,
}

impl OriginSecrets {
    /// From the secret's string value, `{"current": "…", "previous": "…"}`.
    pub fn parse(json: &str) -> Result<Self, OriginSecretError> {
        let stored: Stored = serde_json::from_str(json).map_err(|_| OriginSecretError::Shape)?;
        let mut digests = Vec::with_capacity(2);
        for value in std::iter::once(&stored.current).chain(stored.previous.as_ref()) {
            // A header value must be visible ASCII; anything else could never match.
            if value.len() < MIN_SECRET_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(OriginSecretError::Weak);
            }
            digests.push(sha256(&[value.as_bytes()]));
        }
        Ok(OriginSecrets { digests })
    }

    /// Whether `presented` is one of the secrets. Digests of equal length are compared in
    /// constant time, every one of them, so neither the length nor the matching prefix of a
    /// guess shows in the answer's timing.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = sha256(&[presented]);
        let mut matched = subtle::Choice::from(0u8);
        for digest in &self.digests {
            matched |= digest.ct_eq(&presented);
        }
        matched.into()
    }
}

/// Set on a request that carried a valid origin secret: it came through the distribution.
#[derive(Clone, Copy, Debug)]
pub struct ThroughEdge;

/// `router` as it runs deployed: a request without a valid [`ORIGIN_HEADER`] gets a 403 problem
/// before any other layer (request span included) runs; a valid one loses the header (no handler
/// or log sees the secret) and is marked [`ThroughEdge`].
pub fn behind_edge(router: Router, secrets: Arc<OriginSecrets>) -> Router {
    router.layer(middleware::from_fn(move |req: Request, next: Next| {
        let secrets = secrets.clone();
        async move { check(&secrets, req, next).await }
    }))
}

async fn check(secrets: &OriginSecrets, mut req: Request, next: Next) -> Response {
    let valid = {
        let mut values = req.headers().get_all(ORIGIN_HEADER).iter();
        // Exactly one value: two headers would let a client add its own guess beside the edge's.
        match (values.next(), values.next()) {
            (Some(value), None) => secrets.accepts(value.as_bytes()),
            _ => false,
        }
    };
    if !valid {
        crate::telemetry::count_origin_refusal();
        return ApiError::Forbidden.into_response();
    }
    req.headers_mut().remove(ORIGIN_HEADER);
    req.extensions_mut().insert(ThroughEdge);
    next.run(req).await
}

/// The viewer's address the edge reports, when the request came through it (else `None`).
pub fn viewer_address(headers: &HeaderMap, through_edge: bool) -> Option<String> {
    if !through_edge {
        return None;
    }
    let value = headers.get(VIEWER_ADDRESS_HEADER)?.to_str().ok()?;
    value.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt as _;

    const CURRENT: &str = "Zq8u1mJ0dXkN5wR2yT7vB4cH9sL3pA6eG0fK1xW8";
    const PREVIOUS: &str = "Pp3o2i1u0y9t8r7e6w5q4a3s2d1f0g9h8j7k6l5z";

    fn secrets() -> Arc<OriginSecrets> {
        let json = format!(r#"{{"current":"{CURRENT}","previous":"{PREVIOUS}"}}"#);
        Arc::new(OriginSecrets::parse(&json).unwrap())
    }

    async fn answer(headers: &[(&str, &str)]) -> (u16, String) {
        async fn seen(req: Request) -> String {
            let through = req.extensions().get::<ThroughEdge>().is_some();
            let secret_left = req.headers().contains_key(ORIGIN_HEADER);
            let address = viewer_address(req.headers(), through);
            format!("{through} {secret_left} {address:?}")
        }
        let router = behind_edge(Router::new().route("/v1/me", get(seen)), secrets());
        let mut request = axum::http::Request::get("/v1/me");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn only_the_edges_secret_opens_the_door_and_it_goes_no_further() {
        let viewer = (VIEWER_ADDRESS_HEADER, "198.51.100.7");
        for good in [CURRENT, PREVIOUS] {
            let (status, body) = answer(&[(ORIGIN_HEADER, good), viewer]).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body, "true false Some(\"198.51.100.7\")");
        }
        let wrong = &CURRENT[..CURRENT.len() - 1];
        for headers in [
            vec![viewer],
            vec![(ORIGIN_HEADER, wrong), viewer],
            vec![(ORIGIN_HEADER, ""), viewer],
            vec![(ORIGIN_HEADER, "x".repeat(4096).leak() as &str)],
            // A client's own guess beside the edge's value is refused, not tried.
            vec![(ORIGIN_HEADER, wrong), (ORIGIN_HEADER, CURRENT)],
        ] {
            let (status, body) = answer(&headers).await;
            assert_eq!(status, 403, "{headers:?}");
            let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(problem["status"], 403);
            assert!(!body.contains(CURRENT) && !body.contains(wrong));
        }
    }

    #[test]
    fn the_viewer_address_is_read_only_behind_the_edge() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [
            ("198.51.100.7", Some("198.51.100.7")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("198.51.100.7:46532", None),
            ("not-an-address", None),
            ("198.51.100.7, 203.0.113.9", None),
        ] {
            headers.insert(VIEWER_ADDRESS_HEADER, value.parse().unwrap());
            assert_eq!(
                viewer_address(&headers, true).as_deref(),
                expected,
                "{value}"
            );
            assert_eq!(viewer_address(&headers, false), None);
        }
    }

    #[test]
    fn weak_or_misshapen_secrets_are_refused_at_start() {
        for json in [
            "",
            "[]",
            r#"{"previous":"Pp3o2i1u0y9t8r7e6w5q4a3s2d1f0g9h8j7k6l5z"}"#,
            r#"{"current":"Pp3o2i1u0y9t8r7e6w5q4a3s2d1f0g9h8j7k6l5z","other":"x"}"#,
        ] {
            assert_eq!(
                OriginSecrets::parse(json).unwrap_err(),
                OriginSecretError::Shape,
                "{json}"
            );
        }
        for json in [
            r#"{"current":"short"}"#,
            r#"{"current":"Pp3o2i1u0y9t8r7e6w5q4a3s2d1f0g9h8j7k6l5z","previous":"short"}"#,
            r#"{"current":"Pp3o2i1u0y9t8r7e6w5q4a3s2d1f0g9h8j7k6l5z with a space"}"#,
        ] {
            assert_eq!(
                OriginSecrets::parse(json).unwrap_err(),
                OriginSecretError::Weak,
                "{json}"
            );
        }
        let debug = format!("{:?}", secrets());
        assert!(!debug.contains(CURRENT) && debug.contains("REDACTED"));
    }
}
