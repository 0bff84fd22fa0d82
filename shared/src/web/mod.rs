//! The web layer, the only one that names axum and HTTP: the caller extractor, a JSON body extractor
//! whose rejections are problem+json, request ids and the request span, and the common layers;
//! [`problem`] (every error's status and code), [`reply`], [`idempotent`] (the one way a route runs
//! a change under an `Idempotency-Key`) and the processors' [`webhooks`] wire formats.

use crate::state::AppState;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use crate::auth::{AuthError, Principal, Verifier, bearer};
use crate::error::{ApiError, InputError};
use domain::ids::IdempotencyKey;

/// Longest client-supplied `x-request-id` kept (else the request gets a fresh id).
pub const MAX_CLIENT_REQUEST_ID: usize = 64;

/// The header a portal sends with `POST /v1/patients/me/email-verification` (and no other request):
/// the ID token of the same login, because Cognito's access tokens carry no address and its ID
/// tokens do (see [`Verifier::verified_email_of`]). One that does not verify is a 422
/// `invalid_id_token`, not a 401: the session itself is fine.
pub const ID_TOKEN_HEADER: &str = "x-id-token";

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest accepted body of a consent document's text (`PUT /v1/consents/{documentId}`): its
/// 50,000 characters may each take six bytes in JSON (`\u` escapes), so the general limit would
/// refuse some texts the document calls valid.
pub const DOCUMENT_BODY_BYTES: usize = 384 * 1024;

/// The id of one request: API Gateway's when it set one, else the caller's `x-request-id`, else new.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub use domain::access::Caller;

/// Who calls, from the request's token (a 401 is counted on the table, `crate::counters`), with
/// the request's id and source. Every route that takes a Caller needs a role; only `/v1/me` (which
/// takes the bare [`Principal`]) answers a signed-in user whom no group has been given yet.
///
/// `Caller` and `Principal` are the domain's types, so their extractors are implemented per state
/// type (here for [`AppState`], in the payments crate for its state), all through these two.
pub async fn caller_of(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
    let principal = principal_of(parts, app).await?;
    if principal.roles.is_empty() {
        return Err(ApiError::Forbidden);
    }
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    Ok(Caller {
        principal,
        request_id,
        source: source_of(parts),
    })
}

/// The verified token's principal; see [`caller_of`].
pub async fn principal_of(parts: &mut Parts, app: &AppState) -> Result<Principal, ApiError> {
    let verified = async {
        let header = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| AuthError::Malformed)?),
        };
        let token = bearer(header)?;
        Ok::<_, ApiError>(app.verifier.verify(token).await?)
    };
    let principal = match verified.await {
        Ok(p) => p,
        Err(e @ ApiError::Unauthorized(_)) => {
            let counter = crate::counters::TOKEN_FAILURES;
            crate::counters::count(&*app.table, &*app.clock, counter).await;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    tracing::Span::current().record("sub", principal.subject.as_str());
    // A disabled workforce login's tokens are refused before they expire.
    crate::staff::refuse_disabled(&*app.table, &principal).await?;
    Ok(principal)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        caller_of(parts, app).await
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        principal_of(parts, app).await
    }
}

/// A JSON body: `application/json`, at most [`MAX_BODY_BYTES`], unknown fields refused by the
/// target type (`#[serde(deny_unknown_fields)]`); every rejection is problem+json.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(value)) => value,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        whole_numbers(&mut value);
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|_| invalid_body())
    }
}

/// `5.0` is the integer 5 in JSON (RFC 8259 has one number type; JSON Schema agrees), and some
/// clients write integers that way; every number without a fraction is made an integer.
fn whole_numbers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                // Exact: |f| is below 2^53, so the conversion neither rounds nor saturates.
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

fn invalid_body() -> ApiError {
    // serde's message can quote the offending value, which may be patient data: keep it out.
    ApiError::Input(InputError::InvalidBody)
}

/// Query parameters, unknown ones refused by the target type; rejections are 400 problem+json.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(_) => Err(ApiError::Input(InputError::InvalidQuery)),
        }
    }
}

/// Path parameters. A segment that does not decode (bad percent-encoding, not UTF-8) names nothing:
/// 404 problem+json, like an id of the wrong shape (axum's own rejection is plain text).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(_) => Err(ApiError::NotFound),
        }
    }
}

/// The `Idempotency-Key` header, required on every POST that changes something.
pub struct IdempotencyHeader(pub IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Option::<IdempotencyHeader>::from_request_parts(parts, state).await? {
            Some(key) => Ok(key),
            None => Err(ApiError::Input(InputError::IdempotencyKeyRequired)),
        }
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(None);
        };
        value
            .to_str()
            .ok()
            .and_then(IdempotencyKey::parse)
            .map(|k| Some(IdempotencyHeader(k)))
            .ok_or_else(|| ApiError::Input(InputError::InvalidIdempotencyKey))
    }
}

/// The exact bytes of a request body (for signature checks), under the route's body limit; an
/// oversized body is a 413 problem.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(_) => Err(ApiError::Input(InputError::UnreadableBody)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonSyntaxError(_) => ApiError::Input(InputError::MalformedJson),
        // serde's message can quote the offending value, which may be patient data: keep it out.
        JsonRejection::JsonDataError(_) => invalid_body(),
        JsonRejection::BytesRejection(r)
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::PayloadTooLarge
        }
        _ => ApiError::Input(InputError::UnreadableBody),
    }
}

/// The function a router belongs to, set by its `routes()` (for audit records' source).
#[derive(Clone, Copy, Debug)]
pub struct FunctionName(pub &'static str);

/// The request's source: the serving function, and the client's address: deployed, the viewer's
/// address CloudFront reports (trusted only on a request that proved it came through CloudFront,
/// [`edge`]), else API Gateway's peer; under `practica serve` the TCP peer. Never a header a
/// client could set itself.
fn source_of(parts: &Parts) -> domain::access::Source {
    let function = parts
        .extensions
        .get::<FunctionName>()
        .map_or("unknown", |f| f.0);
    let through_edge = parts.extensions.get::<edge::ThroughEdge>().is_some();
    if let Some(address) = edge::viewer_address(&parts.headers, through_edge) {
        let address = Some(address);
        return domain::access::Source { function, address };
    }
    let from_gateway = parts
        .extensions
        .get::<lambda_http::request::RequestContext>()
        .and_then(|ctx| match ctx {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => c.http.source_ip.clone(),
            _ => None,
        });
    let address = from_gateway.or_else(|| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    });
    domain::access::Source { function, address }
}

fn request_id(req: &Request) -> String {
    let from_gateway = req
        .extensions()
        .get::<lambda_http::request::RequestContext>()
        .and_then(|ctx| match ctx {
            lambda_http::request::RequestContext::ApiGatewayV2(c) => c.request_id.clone(),
            _ => None,
        });
    let from_header = || {
        req.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            // Stored in audit records: a bounded token or nothing (then one is minted).
            .filter(|v| v.len() <= MAX_CLIENT_REQUEST_ID && domain::ids::is_key_token(v))
            .map(str::to_owned)
    };
    from_gateway
        .or_else(from_header)
        .unwrap_or_else(|| ulid::Ulid::new().to_string())
}

async fn request_span(mut req: Request, next: Next) -> Response {
    let id = request_id(&req);
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    // Only the route template is logged: paths, queries, headers and bodies may carry identifiers.
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route, sub = tracing::field::Empty);
    req.extensions_mut().insert(RequestId(id.clone()));
    async move {
        let mut response = next.run(req).await;
        tracing::info!(status = response.status().as_u16(), "request done");
        if response.status() == axum::http::StatusCode::UNAUTHORIZED {
            crate::telemetry::count_token_failure();
        }
        if let Ok(v) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", v);
        }
        // Answers carry patient data, tokens and signaling addresses: no cache keeps one, unless
        // the route says otherwise (a calendar feed).
        response
            .headers_mut()
            .entry(axum::http::header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        response
    }
    .instrument(span)
    .await
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A handler that panicked: the request gets a 500 problem (its id in `x-request-id`, added by the
/// request span outside this layer) and the environment goes on serving others.
fn panicked(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Unexpected(anyhow::anyhow!("request handler panicked")).into_response()
}

/// Adds what every function's router needs: problem+json 404/405, body limit, a panic caught
/// as a 500, request span, `Cache-Control: no-store` unless a route set its own.
pub fn finish(router: Router) -> Router {
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(request_span))
}

pub mod edge;
pub mod idempotent;
pub mod problem;
pub mod reply;
pub mod webhooks;

impl FromRef<crate::state::AppState> for Arc<Verifier> {
    fn from_ref(state: &crate::state::AppState) -> Self {
        state.verifier.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::post;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // only deserialized: the test is about rejections
    struct Strict {
        age: u32,
    }

    async fn send(content_type: Option<&str>, body: Vec<u8>) -> (u16, serde_json::Value) {
        async fn accept(ApiJson(_): ApiJson<Strict>) -> &'static str {
            "ok"
        }
        let router = finish(Router::new().route("/x", post(accept)));
        let mut request = axum::http::Request::post("/x");
        if let Some(ct) = content_type {
            request = request.header(header::CONTENT_TYPE, ct);
        }
        let response = router
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_panicking_handler_costs_one_request_not_the_router() {
        async fn boom() -> &'static str {
            let digits: &[u8] = b"+1";
            // The indexing bug of issue 9, on purpose.
            if digits[std::hint::black_box(3)] == b':' {
                "colon"
            } else {
                "other"
            }
        }
        async fn fine() -> &'static str {
            "ok"
        }
        let router = finish(
            Router::new()
                .route("/boom", post(boom))
                .route("/fine", post(fine)),
        );
        let request = || {
            axum::http::Request::post("/boom")
                .body(Body::empty())
                .unwrap()
        };
        for _ in 0..2 {
            let response = router.clone().oneshot(request()).await.unwrap();
            assert_eq!(response.status(), 500);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                crate::web::problem::PROBLEM_JSON
            );
            assert!(response.headers().contains_key("x-request-id"));
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(problem["code"], "internal");
        }
        let ok = axum::http::Request::post("/fine")
            .body(Body::empty())
            .unwrap();
        assert_eq!(router.oneshot(ok).await.unwrap().status(), 200);
    }

    #[tokio::test]
    async fn body_rejections_are_problems_that_never_echo_input() {
        let json = Some("application/json");
        assert_eq!(send(json, br#"{"age": 41}"#.to_vec()).await.0, 200);
        assert_eq!(send(json, br#"{"age": 41.0}"#.to_vec()).await.0, 200);
        assert_eq!(send(json, br#"{"age": 4.1e1}"#.to_vec()).await.0, 200);
        assert_eq!(send(json, br#"{"age": 41.5}"#.to_vec()).await.0, 422);
        let (status, body) = send(json, b"{not json".to_vec()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("malformed_json"))
        );
        let (status, body) = send(json, br#"{"age": "Jane Doe"}"#.to_vec()).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid_body")));
        assert!(!body.to_string().contains("Jane"));
        let (status, body) = send(json, br#"{"age": 41, "diagnosis": "x"}"#.to_vec()).await;
        assert_eq!((status, body["code"].as_str()), (422, Some("invalid_body")));
        assert!(!body.to_string().contains("diagnosis"));
        let (status, _) = send(None, br#"{"age": 41}"#.to_vec()).await;
        assert_eq!(status, 415);
        let huge = format!(r#"{{"age": 41, "pad": "{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        let (status, body) = send(json, huge.into_bytes()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (413, Some("payload_too_large"))
        );
    }
}
