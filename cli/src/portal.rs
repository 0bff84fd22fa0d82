//! The web pages `practica serve` shows at `/`: the portal's files (`web/portal/`, compiled into
//! the binary; `practica publish-portal` uploads the same bytes for a deployment) under the
//! security headers the deployed site gets, the portal's local sign-in configuration (the local
//! stand-in for the managed login, `crate::login`), and `/local/demo-sign-in`, which mints tokens
//! from the local issuer for the seeded demo people only (what `practica token` does for anyone),
//! for scripts. None of this is in a Lambda binary.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use shared::error::{ApiError, InputError};
use shared::web::ApiJson;

use crate::login::{DEMO_TOKEN_TTL, DEMO_USERS};
use crate::pages::page_response;

pub const DEMO_SIGN_IN_PATH: &str = "/local/demo-sign-in";
/// The site's files (`web/portal/`), compiled in: path, body, content type.
pub const FILES: [(&str, &str, &str); 21] = [
    ("/", include_str!("../../web/portal/index.html"), HTML),
    (
        "/portal/app.js",
        include_str!("../../web/portal/app.js"),
        JS,
    ),
    (
        "/portal/cards.js",
        include_str!("../../web/portal/cards.js"),
        JS,
    ),
    (
        "/portal/common.js",
        include_str!("../../web/portal/common.js"),
        JS,
    ),
    (
        "/portal/consents.js",
        include_str!("../../web/portal/consents.js"),
        JS,
    ),
    (
        "/portal/deposit.js",
        include_str!("../../web/portal/deposit.js"),
        JS,
    ),
    (
        "/portal/disputes.js",
        include_str!("../../web/portal/disputes.js"),
        JS,
    ),
    (
        "/portal/workforce.js",
        include_str!("../../web/portal/workforce.js"),
        JS,
    ),
    (
        "/portal/fees.js",
        include_str!("../../web/portal/fees.js"),
        JS,
    ),
    (
        "/portal/feeds.js",
        include_str!("../../web/portal/feeds.js"),
        JS,
    ),
    (
        "/portal/forms.js",
        include_str!("../../web/portal/forms.js"),
        JS,
    ),
    (
        "/portal/patient.js",
        include_str!("../../web/portal/patient.js"),
        JS,
    ),
    (
        "/portal/proof.js",
        include_str!("../../web/portal/proof.js"),
        JS,
    ),
    (
        "/portal/signin.js",
        include_str!("../../web/portal/signin.js"),
        JS,
    ),
    (
        "/portal/ics.js",
        include_str!("../../web/portal/ics.js"),
        JS,
    ),
    (
        "/portal/visit.js",
        include_str!("../../web/portal/visit.js"),
        JS,
    ),
    (
        "/portal/stripe.js",
        include_str!("../../web/portal/stripe.js"),
        JS,
    ),
    (
        "/portal/staff.js",
        include_str!("../../web/portal/staff.js"),
        JS,
    ),
    (
        "/portal/app.css",
        include_str!("../../web/portal/app.css"),
        "text/css; charset=utf-8",
    ),
    (
        "/portal/icon.svg",
        include_str!("../../web/portal/icon.svg"),
        SVG,
    ),
    (
        "/portal/lock.svg",
        include_str!("../../web/portal/lock.svg"),
        SVG,
    ),
];
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// What the portal reads from `config.json`: how to sign in, which card form to show (the local
/// test form, or the processor's own element with its publishable key), after how many idle
/// minutes it signs out, and the audit log's public key and
/// key name, against which the page checks the signature of the checkpoint every access-log proof
/// leads to, and (deployed) the first leaf index from which every sealed entry must come with its
/// own bytes. Deployed, `practica publish-portal` writes it from the pinned key, outside the API.
pub fn config(
    local: bool,
    sign_in: serde_json::Value,
    payments: serde_json::Value,
    idle_minutes: u16,
    audit: AuditLogConfig<'_>,
) -> serde_json::Value {
    use base64::Engine as _;
    let mut audit_log = serde_json::json!({
        "keyName": audit.key_name,
        "publicKey": base64::engine::general_purpose::STANDARD.encode(audit.spki),
    });
    if let Some(from) = audit.bytes_from {
        audit_log["bytesFrom"] = from.into();
    }
    if audit.witnesses.is_required() {
        let vkeys: Vec<String> = audit.witnesses.witnesses.iter().map(|w| w.vkey()).collect();
        audit_log["witnesses"] = vkeys.into();
        audit_log["witnessQuorum"] = audit.witnesses.quorum.into();
    }
    serde_json::json!({
        "local": local,
        "signIn": sign_in,
        "payments": payments,
        "idleMinutes": idle_minutes,
        "auditLog": audit_log,
    })
}

/// What the page checks the access log against.
pub struct AuditLogConfig<'a> {
    pub key_name: &'a str,
    /// The log's public key (DER SubjectPublicKeyInfo).
    pub spki: &'a [u8],
    /// From this leaf index on, an entry without its bytes is flagged (entries written before
    /// salted commitments have none).
    pub bytes_from: Option<u64>,
    /// The practice's witness rule: the page requires the checkpoint cosigned by `quorum` of them.
    pub witnesses: &'a shared::crypto::cosign::WitnessPolicy,
}

/// The pages, the demo sign-in and the local stand-in for the managed login, over the local
/// issuer; `audit_spki` is the local audit log's public key, `witnesses` its witness rule.
pub fn routes(
    minter: crate::login::Minter,
    audit_spki: &[u8],
    witnesses: &shared::crypto::cosign::WitnessPolicy,
) -> Router {
    let mut router = Router::new();
    for (path, body, content_type) in FILES {
        router = router.route(path, get(move || page(body, content_type)));
    }
    let config = config(
        true,
        crate::login::local_sign_in(),
        serde_json::json!({ "processor": "sandbox" }),
        DEFAULT_IDLE_MINUTES,
        AuditLogConfig {
            key_name: crate::local::LOCAL_KEY_NAME,
            spki: audit_spki,
            // A local data directory may hold entries written before salted commitments.
            bytes_from: None,
            witnesses,
        },
    )
    .to_string();
    router
        .route(
            CONFIG_PATH,
            get(move || async move { page_response(config, JSON) }),
        )
        .route(DEMO_SIGN_IN_PATH, get(demo_users).post(demo_sign_in))
        .with_state(minter.clone())
        .merge(crate::login::routes(minter))
}

/// Minutes without activity after which the portal signs out (publish-portal --idle-minutes).
pub const DEFAULT_IDLE_MINUTES: u16 = 15;

/// Where the portal reads how to sign in (a deployed portal's is uploaded by `practica
/// publish-portal`).
pub const CONFIG_PATH: &str = "/portal/config.json";
const JSON: &str = "application/json";

/// One of the site's files with the headers every page gets (CloudFront's response-headers policy
/// sets the same in production).
async fn page(body: &'static str, content_type: &'static str) -> Response {
    page_response(body, content_type)
}

async fn demo_users() -> Json<serde_json::Value> {
    let users: Vec<_> = DEMO_USERS
        .iter()
        .map(|u| serde_json::json!({"user": u.user, "name": u.name, "role": u.role.as_str()}))
        .collect();
    Json(serde_json::json!({ "users": users }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: String,
}

/// A token for one of [`DEMO_USERS`]; anyone else is refused (422), whatever the body names.
async fn demo_sign_in(
    State(minter): State<crate::login::Minter>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = DEMO_USERS
        .iter()
        .find(|u| u.user == body.user)
        .ok_or(ApiError::Input(InputError::InvalidBody))?;
    Ok(Json(serde_json::json!({
        "token": minter.mint(user)?,
        "expiresIn": DEMO_TOKEN_TTL.as_secs(),
    })))
}
