//! The API error: every area's error converts into it, and exactly one place
//! (`impl IntoResponse for ApiError`) turns it into an RFC 9457 `application/problem+json` response.
//! Internal causes go to the log with the request id; the client gets a stable `code` and a generic text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;
use crate::crypto::CryptoError;
use crate::store::TableError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed or invalid input. `code` is stable; `detail` must not echo sensitive input.
    #[error("bad request: {code}")]
    BadRequest { code: &'static str, detail: String },
    #[error("unprocessable: {code}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("unauthorized")]
    Unauthorized(#[source] AuthError),
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: String },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (key service, table) cannot serve now; the client may retry.
    #[error("service unavailable: {code}")]
    Unavailable {
        code: &'static str,
        #[source]
        source: anyhow::Error,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The problem document (RFC 9457), with our stable `code` extension member.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
}

impl ApiError {
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unavailable { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unexpected(_) => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::Unprocessable { detail, .. }
            | ApiError::Conflict { detail, .. } => detail.clone(),
            ApiError::Unauthorized(_) => "A valid bearer token is required.".into(),
            ApiError::Forbidden => "You may not do this.".into(),
            ApiError::NotFound => "No such resource.".into(),
            ApiError::PayloadTooLarge => "The request body is too large.".into(),
            ApiError::UnsupportedMediaType => "The request body must be application/json.".into(),
            ApiError::MethodNotAllowed => "This method is not allowed here.".into(),
            ApiError::Unavailable { .. } => {
                "A dependency is unavailable; try again shortly.".into()
            }
            ApiError::Unexpected(_) => "An internal error occurred.".into(),
        };
        let code = self.code();
        Problem {
            type_uri: format!("urn:practica:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            code,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        match &self {
            ApiError::Unexpected(cause) => tracing::error!(error = ?cause, "internal error"),
            ApiError::Unavailable { source, code } => {
                tracing::warn!(error = ?source, code, "dependency unavailable")
            }
            ApiError::Unauthorized(reason) => {
                tracing::info!(reason = %reason, "request refused: unauthorized")
            }
            _ => tracing::info!(
                code = problem.code,
                status = problem.status,
                "request refused"
            ),
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::JwksUnavailable(source) => ApiError::Unavailable {
                code: "identity_provider_unavailable",
                source,
            },
            other => ApiError::Unauthorized(other),
        }
    }
}

impl From<crate::domain::access::Denied> for ApiError {
    fn from(_: crate::domain::access::Denied) -> Self {
        ApiError::Forbidden
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::KeyServiceUnavailable(source) => ApiError::Unavailable {
                code: "key_service_unavailable",
                source,
            },
            CryptoError::Integrity => {
                ApiError::Unexpected(anyhow::anyhow!("sealed value failed integrity check"))
            }
            CryptoError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<TableError> for ApiError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::Throttled | TableError::TransactionConflict => ApiError::Unavailable {
                code: "storage_busy",
                source: anyhow::Error::new(e),
            },
            TableError::Unavailable(source) => ApiError::Unavailable {
                code: "storage_unavailable",
                source,
            },
            // A condition the domain did not map itself is a bug, not the client's fault.
            other => ApiError::Unexpected(anyhow::Error::new(other).context("table")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    async fn render(e: ApiError) -> (StatusCode, String, serde_json::Value) {
        let response = e.into_response();
        let status = response.status();
        let ct = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, ct, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_never_reach_the_body() {
        let secret_cause =
            anyhow::anyhow!("patient Jane Doe: table practica-prod key PAT#123 exploded");
        let (status, ct, body) = render(ApiError::Unexpected(secret_cause)).await;
        assert_eq!(status, 500);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("Jane"));
        assert!(!body.to_string().contains("PAT#123"));
    }

    #[tokio::test]
    async fn key_service_outage_is_503_with_retry_after() {
        let e: ApiError =
            CryptoError::KeyServiceUnavailable(anyhow::anyhow!("DisabledException")).into();
        let response = e.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let (_, _, body) =
            render(CryptoError::KeyServiceUnavailable(anyhow::anyhow!("x")).into()).await;
        assert_eq!(body["type"], "urn:practica:problem:key_service_unavailable");
        assert!(!body.to_string().contains("Disabled"));
    }

    #[tokio::test]
    async fn unreachable_table_is_503() {
        let (status, _, body) =
            render(TableError::Unavailable(anyhow::anyhow!("connection refused")).into()).await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "storage_unavailable");
        assert!(!body.to_string().contains("refused"));
    }

    #[tokio::test]
    async fn throttled_table_is_503() {
        let (status, _, body) = render(TableError::Throttled.into()).await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "storage_busy");
        assert_eq!(body["status"], 503);
    }
}
