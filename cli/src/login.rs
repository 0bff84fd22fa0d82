//! The local stand-in for the Cognito pools' managed login, in `practica serve` only (never in a
//! Lambda binary): the OAuth 2.0 authorization code flow with PKCE (RFC 6749, RFC 7636, `S256`
//! only), so that the portal signs in locally through exactly the code it runs against Cognito.
//! Two clients mirror the two pools: the patients' (demo patients only) and the staff's (staff,
//! providers, administrators). The sign-in page is clearly labelled as the local demo and lists
//! the demo people of the client's pool; a code is good once, for a minute, for the client,
//! redirect URI and code challenge it was issued for; tokens come from the local issuer, as from
//! `practica token`, with a refresh token that is good once (each use returns a new one, as the
//! pools' refresh token rotation does).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::clock::Clock;
use domain::html::escape;
use serde::Deserialize;
use shared::adapters::local_issuer::LocalIssuer;
use shared::auth::{Role, Subject};
use shared::error::{ApiError, InputError};

pub const AUTHORIZE_PATH: &str = "/local/oauth2/authorize";
pub const TOKEN_PATH: &str = "/local/oauth2/token";
/// How long a demo token lasts (a deployed staff pool's access tokens last as long).
pub const DEMO_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

/// A person of the demo practice one may sign in as.
pub struct DemoUser {
    pub user: &'static str,
    pub name: &'static str,
    pub role: Role,
    /// The address the sign-in vouches for in the ID token it returns (as Cognito does once the
    /// person confirmed it at sign-up).
    pub email: Option<&'static str>,
}

/// The seeded demo people (`crate::demo`): the patient and a provider, and front-desk staff and an
/// administrator, who exist only as token subjects.
pub const DEMO_USERS: [DemoUser; 4] = [
    DemoUser {
        user: crate::demo::DEMO_PATIENT,
        name: "Jane Demo-Patient",
        role: Role::Patient,
        email: Some(crate::demo::DEMO_PATIENT_EMAIL),
    },
    DemoUser {
        user: crate::demo::DEMO_PROVIDER_LOGINS[0],
        name: "Dr. Ana Rivera",
        role: Role::Provider,
        email: None,
    },
    DemoUser {
        user: "staff-1",
        name: "Front desk (demo staff)",
        role: Role::Staff,
        email: None,
    },
    DemoUser {
        user: "admin-1",
        name: "Practice administrator (demo)",
        role: Role::Admin,
        email: None,
    },
];

/// The demo practice's workforce (everyone but the patient), as the local staff directory starts.
pub fn demo_workforce() -> Vec<(&'static str, &'static str, Role)> {
    DEMO_USERS
        .iter()
        .filter(|u| u.role != Role::Patient)
        .map(|u| (u.user, u.name, u.role))
        .collect()
}

/// The patients' client (the patient pool's app client in production).
pub const PATIENT_CLIENT: &str = "local-patients";
/// The staff's client (the staff pool's app client in production).
pub const STAFF_CLIENT: &str = "local-staff";
/// How long an authorization code may wait for its exchange.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a refresh token lasts (the staff pool's refresh tokens last as long).
pub const REFRESH_TTL: Duration = Duration::from_secs(12 * 3600);

/// The portal's sign-in under `practica serve` (its `config.json` `signIn`): both pools' clients
/// at this stand-in; a deployed portal gets the Cognito pools' endpoints (`practica
/// publish-portal`).
pub fn local_sign_in() -> serde_json::Value {
    let pool = |client: &str| {
        serde_json::json!({
            "authorize": AUTHORIZE_PATH,
            "token": TOKEN_PATH,
            "logout": null,
            "clientId": client,
        })
    };
    serde_json::json!({ "patient": pool(PATIENT_CLIENT), "staff": pool(STAFF_CLIENT) })
}

/// Whether `user` signs in through `client`: patients through the patients' client only, everyone
/// else through the staff's.
fn in_pool(client: &str, user: &DemoUser) -> bool {
    match client {
        PATIENT_CLIENT => user.role == Role::Patient,
        STAFF_CLIENT => user.role != Role::Patient,
        _ => false,
    }
}

struct Grant {
    user: &'static DemoUser,
    client: String,
    redirect_uri: String,
    challenge: String,
    expires: Instant,
}

/// A refresh token's holder: good once (each use returns a new one, as Cognito's refresh token
/// rotation does), for its client, until it expires.
struct Refresh {
    user: &'static DemoUser,
    client: String,
    expires: Instant,
}

/// The local issuer with the server's clock: every token it mints is dated by the clock port.
#[derive(Clone)]
pub struct Minter {
    pub issuer: Arc<LocalIssuer>,
    pub clock: Arc<dyn Clock>,
    /// The demo pool's logins: one disabled there gets no token (no sign-in, no refresh), as
    /// Cognito refuses a disabled user.
    pub directory: Option<Arc<shared::adapters::local_directory::LocalDirectory>>,
}

impl Minter {
    /// A token for one demo person, as `practica token` mints it.
    pub fn mint(&self, user: &DemoUser) -> Result<String, ApiError> {
        if self
            .directory
            .as_ref()
            .is_some_and(|d| d.is_disabled(user.user))
        {
            return Err(ApiError::Unauthorized(shared::auth::AuthError::Disabled));
        }
        let subject = Subject::parse(user.user).ok_or(ApiError::Input(InputError::InvalidBody))?;
        let now = self.clock.now().as_second().max(0) as u64;
        Ok(self.issuer.mint_named(
            &subject,
            &[user.role],
            None,
            Some(user.name),
            now,
            now + DEMO_TOKEN_TTL.as_secs(),
        )?)
    }

    /// The ID token the sign-in returns beside the access token, for a person with an address.
    pub fn mint_id_token(&self, user: &DemoUser) -> Result<Option<String>, ApiError> {
        let Some(email) = user.email else {
            return Ok(None);
        };
        let subject = Subject::parse(user.user).ok_or(ApiError::Input(InputError::InvalidBody))?;
        let now = self.clock.now().as_second().max(0) as u64;
        let exp = now + DEMO_TOKEN_TTL.as_secs();
        Ok(Some(
            self.issuer.mint_id_token(&subject, email, true, now, exp)?,
        ))
    }
}

#[derive(Clone)]
struct Login {
    minter: Minter,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
    refreshes: Arc<Mutex<HashMap<String, Refresh>>>,
}

/// The authorization request, as the portal sends it (query on GET, form on POST with `user`).
#[derive(Debug, Deserialize)]
struct Authorize {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    code_challenge_method: String,
    state: String,
    #[serde(default)]
    scope: Option<String>,
    /// Only on POST: the demo person chosen.
    #[serde(default)]
    user: Option<String>,
}

pub fn routes(minter: Minter) -> axum::Router {
    axum::Router::new()
        .route(AUTHORIZE_PATH, get(sign_in_page).post(choose))
        .route(TOKEN_PATH, axum::routing::post(token))
        .with_state(Login {
            minter,
            codes: Arc::default(),
            refreshes: Arc::default(),
        })
}

/// The request checked as an authorization server must before it shows anything or redirects:
/// a known client, this server's own portal as the redirect URI (never an open redirect), a
/// well-formed S256 challenge.
fn checked(request: &Authorize, headers: &HeaderMap) -> Result<(), ApiError> {
    // This machine's own names only: a page that rebinds its DNS name to 127.0.0.1 does not get
    // codes sent to its name.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            ["127.0.0.1:", "localhost:", "[::1]:"]
                .iter()
                .any(|p| h.starts_with(p))
        })
        .unwrap_or_default();
    let challenge_ok = (43..=128).contains(&request.code_challenge.len())
        && request
            .code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let ok = !host.is_empty()
        && request.response_type == "code"
        && matches!(request.client_id.as_str(), PATIENT_CLIENT | STAFF_CLIENT)
        && request.redirect_uri == format!("http://{host}/")
        && request.code_challenge_method == "S256"
        && challenge_ok
        && request.state.len() <= 512
        && request.scope.as_deref().is_none_or(|s| s.len() <= 256);
    if ok {
        Ok(())
    } else {
        Err(ApiError::Input(InputError::InvalidQuery))
    }
}

fn query<T: serde::de::DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| ApiError::Input(InputError::InvalidQuery))
}

async fn sign_in_page(headers: HeaderMap, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let request: Authorize = query(raw.as_deref())?;
    checked(&request, &headers)?;
    let hidden = [
        ("response_type", &request.response_type),
        ("client_id", &request.client_id),
        ("redirect_uri", &request.redirect_uri),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
        ("state", &request.state),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    })
    .collect::<String>();
    let people = DEMO_USERS
        .iter()
        .filter(|u| in_pool(&request.client_id, u))
        .map(|u| {
            format!(
                r#"<li><button type="submit" name="user" value="{}">{}</button></li>"#,
                escape(u.user),
                escape(u.name)
            )
        })
        .collect::<String>();
    let who = if request.client_id == PATIENT_CLIENT {
        "patients"
    } else {
        "staff"
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Sign in ({who}) · local demo</title>
  <link rel="icon" href="/portal/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/portal/app.css">
</head>
<body>
  <main id="main">
    <h1>Sign in ({who})</h1>
    <p class="notice" role="note"><strong>Local demo sign-in.</strong> This server runs on your
      computer with the demo practice: choose a demo person. A deployed portal shows the
      practice's sign-in page here instead, with a password and two-factor codes.</p>
    <form method="post" action="{AUTHORIZE_PATH}">{hidden}
      <ul class="choices">{people}</ul>
    </form>
  </main>
</body>
</html>
"#
    );
    Ok(crate::pages::page_response(
        html,
        "text/html; charset=utf-8",
    ))
}

async fn choose(
    State(login): State<Login>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: Authorize = serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::Input(InputError::InvalidBody))?;
    checked(&request, &headers)?;
    let user = DEMO_USERS
        .iter()
        .find(|u| Some(u.user) == request.user.as_deref() && in_pool(&request.client_id, u))
        .ok_or(ApiError::Input(InputError::InvalidBody))?;
    let code = store(
        &login.codes,
        Grant {
            user,
            client: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            challenge: request.code_challenge.clone(),
            expires: Instant::now() + CODE_TTL,
        },
    );
    let back = serde_urlencoded::to_string([("code", &code), ("state", &request.state)])
        .map_err(|e| ApiError::Unexpected(e.into()))?;
    Ok(Redirect::to(&format!("{}?{back}", request.redirect_uri)).into_response())
}

/// The token request: a code with its verifier, or a refresh token (RFC 6749 sections 4.1.3, 6).
#[derive(Deserialize)]
struct Exchange {
    grant_type: String,
    client_id: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// RFC 6749 section 5.2: the token endpoint's errors are its own JSON, not problem documents.
fn oauth_error(error: &'static str) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": error })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn lock<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    map.lock().unwrap_or_else(|e| e.into_inner())
}

/// A code or refresh token's holder, good until it expires.
trait Expiring {
    fn expires(&self) -> Instant;
}

impl Expiring for Grant {
    fn expires(&self) -> Instant {
        self.expires
    }
}

impl Expiring for Refresh {
    fn expires(&self) -> Instant {
        self.expires
    }
}

/// Keeps `held` under a fresh random secret (256 bits) and returns the secret; the expired ones go.
fn store<T: Expiring>(map: &Mutex<HashMap<String, T>>, held: T) -> String {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let now = Instant::now();
    let mut held_now = lock(map);
    held_now.retain(|_, h| h.expires() > now);
    held_now.insert(secret.clone(), held);
    secret
}

async fn token(State(login): State<Login>, body: Bytes) -> Response {
    let Ok(exchange) = serde_urlencoded::from_bytes::<Exchange>(&body) else {
        return oauth_error("invalid_request");
    };
    let user = match exchange.grant_type.as_str() {
        "authorization_code" => {
            let (Some(code), Some(redirect_uri), Some(verifier)) = (
                &exchange.code,
                &exchange.redirect_uri,
                &exchange.code_verifier,
            ) else {
                return oauth_error("invalid_request");
            };
            // Taken out whatever follows: a code is good once.
            let Some(grant) = lock(&login.codes).remove(code) else {
                return oauth_error("invalid_grant");
            };
            let challenge = URL_SAFE_NO_PAD.encode(domain::hash::sha256(&[verifier.as_bytes()]));
            if grant.expires <= Instant::now()
                || grant.client != exchange.client_id
                || grant.redirect_uri != *redirect_uri
                || challenge != grant.challenge
            {
                return oauth_error("invalid_grant");
            }
            grant.user
        }
        "refresh_token" => {
            let Some(presented) = &exchange.refresh_token else {
                return oauth_error("invalid_request");
            };
            let Some(refresh) = lock(&login.refreshes).remove(presented) else {
                return oauth_error("invalid_grant");
            };
            if refresh.expires <= Instant::now() || refresh.client != exchange.client_id {
                return oauth_error("invalid_grant");
            }
            refresh.user
        }
        _ => return oauth_error("unsupported_grant_type"),
    };
    let (access, id_token) = match (login.minter.mint(user), login.minter.mint_id_token(user)) {
        (Ok(access), Ok(id_token)) => (access, id_token),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let refresh_token = store(
        &login.refreshes,
        Refresh {
            user,
            client: exchange.client_id,
            expires: Instant::now() + REFRESH_TTL,
        },
    );
    let mut body = serde_json::json!({
        "access_token": access,
        "refresh_token": refresh_token,
        "token_type": "Bearer",
        "expires_in": DEMO_TOKEN_TTL.as_secs(),
    });
    if let Some(id_token) = id_token {
        body["id_token"] = id_token.into();
    }
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
