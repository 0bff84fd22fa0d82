//! The headers every page of the local stack gets (the portal's files, the sign-in stand-in), the
//! same as CloudFront's response-headers policy sets in production.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// `Strict-Transport-Security: max-age=` (two years), as the distribution's headers policy says.
pub const HSTS_MAX_AGE_SECS: u64 = 63_072_000;
/// No location or browser payment API for any page; camera and microphone for the portal itself
/// only (online visits), never for a frame or another origin.
pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), geolocation=(), payment=()";

/// Scripts and styles from this origin only, no inline code, no framing, nothing sent elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// `body` with the headers every page gets.
pub fn page_response(body: impl IntoResponse, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::STRICT_TRANSPORT_SECURITY, HSTS),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-cache"),
        (
            header::HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
