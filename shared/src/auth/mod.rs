//! Authentication: who the caller is.
//!
//! Bearer JWTs are verified against a JWKS (the Cognito user pool in production, the local issuer for
//! `practica serve`) with the same code: asymmetric algorithms only, the algorithm pinned by the key,
//! issuer, audience or `client_id`, `token_use`, expiry with a small leeway. Roles come from the
//! `cognito:groups` claim; who may do what is decided in [`domain::access`].
//!
//! In production there are two issuers: the staff pool (staff, providers, admins; MFA required)
//! and, optionally, the patient pool (self sign-up). Each issuer's tokens verify only with that
//! issuer's own keys; a patient-pool token is a patient's and nothing else: one naming any other
//! group is refused, however validly signed.
//! There is no switch that skips verification.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

pub use domain::access::{Principal, Resource, Role, Subject};
use domain::clock::Clock;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired or not yet valid")]
    Expired,
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience or client")]
    Audience,
    #[error("wrong token use")]
    TokenUse,
    #[error("a role this issuer may not grant")]
    RoleNotFromIssuer,
    #[error("the ID token is another login's")]
    NotThisLogin,
    #[error("the login is disabled")]
    Disabled,
    #[error("identity provider keys unavailable")]
    JwksUnavailable(#[source] anyhow::Error),
}

/// Which Cognito token type the API accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens: `client_id` must be the app client.
    Access,
    /// ID tokens: `aud` must be the app client.
    Id,
}

impl TokenUse {
    pub fn parse(s: &str) -> Option<TokenUse> {
        match s {
            "access" => Some(TokenUse::Access),
            "id" => Some(TokenUse::Id),
            _ => None,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub issuer: String,
    /// The app client id: `client_id` of access tokens, `aud` of ID tokens.
    pub audience: String,
    pub token_use: TokenUse,
    pub leeway: Duration,
    /// Least time between two JWKS fetches triggered by unknown key ids.
    pub refresh_interval: Duration,
    /// Longest time a fetched key set (and a token verified with it) is trusted before the keys
    /// are fetched again: a key the identity provider removed stops verifying within this time.
    pub key_max_age: Duration,
    /// The patients' pool, when patients sign in to a pool of their own.
    pub patient_pool: Option<PatientPool>,
}

/// A second issuer whose tokens are patients' only (the patient user pool).
#[derive(Clone)]
pub struct PatientPool {
    pub issuer: String,
    /// Its app client id.
    pub audience: String,
    pub jwks: Arc<dyn JwksSource>,
}

impl std::fmt::Debug for PatientPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatientPool")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl AuthConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        AuthConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            token_use: TokenUse::Access,
            leeway: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(60),
            key_max_age: Duration::from_secs(3600),
            patient_pool: None,
        }
    }
}

/// Where the verifier gets its keys.
#[async_trait]
pub trait JwksSource: Send + Sync {
    async fn fetch(&self) -> anyhow::Result<JwkSet>;
}

/// A fixed key set (tests).
pub struct StaticJwks(pub JwkSet);

#[async_trait]
impl JwksSource for StaticJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        Ok(self.0.clone())
    }
}

#[derive(Clone)]
struct VerifyingKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Option<Timestamp>,
    failed_at: Option<Timestamp>,
}

/// Least time between two JWKS fetches after a failed one.
const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(1);

/// Longest time keys fetched once keep verifying while the provider cannot be reached: an outage
/// must not sign everyone out, nor keep a removed key alive for ever.
const STALE_KEYS_MAX: Duration = Duration::from_secs(24 * 3600);

const ASYMMETRIC: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

fn verifying_key(jwk: &Jwk) -> Option<(String, VerifyingKey)> {
    let kid = jwk.common.key_id.clone()?;
    let algorithm: Algorithm = jwk.common.key_algorithm?.to_string().parse().ok()?;
    if !ASYMMETRIC.contains(&algorithm) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((kid, VerifyingKey { key, algorithm }))
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    token_use: Option<String>,
    client_id: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
    #[serde(default)]
    email: Option<String>,
    /// A boolean in Cognito's tokens; some providers send the string "true".
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    /// A display name (ID tokens, or access tokens a pre-token-generation trigger extends).
    #[serde(default)]
    name: Option<String>,
}

/// Longest display name taken from a token.
const MAX_DISPLAY_NAME: usize = 100;

impl Claims {
    /// The token's display name: trimmed, 1 to 100 characters, no control characters; else none.
    fn display_name(&self) -> Option<String> {
        self.name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.chars().count() <= MAX_DISPLAY_NAME)
            .filter(|n| !n.chars().any(char::is_control))
            .map(str::to_owned)
    }

    fn verified_email(&self) -> Option<domain::sensitive::Sensitive<String>> {
        let verified = matches!(&self.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(&self.email_verified, Some(serde_json::Value::String(s)) if s == "true");
        self.email
            .as_ref()
            .filter(|_| verified)
            .map(|e| domain::sensitive::Sensitive::new(e.trim().to_owned()))
    }
}

/// Verifies bearer tokens. One per execution environment; keys are cached and refreshed on an
/// unknown key id at most once per `refresh_interval`.
pub struct Verifier {
    config: AuthConfig,
    staff: PoolKeys,
    patients: Option<PoolKeys>,
    clock: Arc<dyn Clock>,
    /// Tokens already verified (by SHA-256 of their bytes): a client sends the same token with
    /// every request, and its signature cannot change.
    verified: std::sync::Mutex<std::collections::HashMap<[u8; 32], Verified>>,
}

/// A token verified before: its caller, its expiry and when the key set that verified it was
/// fetched (epoch seconds).
struct Verified {
    principal: Principal,
    exp: i64,
    keys_at: i64,
}

/// A verifying key and when its key set was fetched (epoch seconds).
struct FetchedKey {
    key: VerifyingKey,
    fetched_at: i64,
}

/// Verified tokens remembered per execution environment.
const VERIFIED_TOKENS: usize = 4096;

/// One issuer's keys: where they come from and those fetched so far.
struct PoolKeys {
    source: Arc<dyn JwksSource>,
    cache: RwLock<KeyCache>,
    refreshing: Mutex<()>,
}

impl PoolKeys {
    fn new(source: Arc<dyn JwksSource>) -> Self {
        PoolKeys {
            source,
            cache: RwLock::default(),
            refreshing: Mutex::new(()),
        }
    }
}

/// The issuer a token names, read before its signature is checked only to choose whose keys
/// check it (the signature check then pins the same issuer).
fn claimed_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok().map(|c| c.iss)
}

impl Verifier {
    pub fn new(config: AuthConfig, source: Arc<dyn JwksSource>, clock: Arc<dyn Clock>) -> Self {
        let patients = config
            .patient_pool
            .as_ref()
            .map(|pool| PoolKeys::new(pool.jwks.clone()));
        Verifier {
            config,
            staff: PoolKeys::new(source),
            patients,
            clock,
            verified: std::sync::Mutex::default(),
        }
    }

    /// The key `kid` of `pool`: from the cached set while it is younger than `key_max_age`; else
    /// the set is fetched again (one fetch at a time; an unknown `kid` triggers at most one fetch
    /// per `refresh_interval`). A successful fetch replaces the set, so a key the provider removed
    /// stops verifying; a failed one keeps the cached keys (the provider being down must not sign
    /// everyone out) and is retried after a short back-off.
    async fn key(&self, pool: &PoolKeys, kid: &str) -> Result<FetchedKey, AuthError> {
        let now = self.clock.now();
        let within = |at: Option<Timestamp>, interval: Duration| {
            at.is_some_and(|at| {
                let since = now.duration_since(at);
                !since.is_negative() && since.unsigned_abs() < interval
            })
        };
        let cached = |cache: &KeyCache| {
            let key = cache.keys.get(kid)?.clone();
            let fetched_at = cache.fetched_at?.as_second();
            Some(FetchedKey { key, fetched_at })
        };
        let stale_ok = |k: Option<FetchedKey>| {
            k.filter(|k| {
                let at = Timestamp::from_second(k.fetched_at).ok();
                within(at, STALE_KEYS_MAX)
            })
        };
        let usable_stale = {
            let cache = pool.cache.read().await;
            if within(cache.fetched_at, self.config.key_max_age)
                && let Some(k) = cached(&cache)
            {
                return Ok(k);
            }
            stale_ok(cached(&cache))
        };
        let _one_fetch_at_a_time = match pool.refreshing.try_lock() {
            Ok(guard) => guard,
            // Another request is fetching: a key cached within the day answers without waiting.
            Err(_) => match usable_stale {
                Some(k) => return Ok(k),
                None => pool.refreshing.lock().await,
            },
        };
        let (cached, fetched_at, failed_at) = {
            let cache = pool.cache.read().await;
            (cached(&cache), cache.fetched_at, cache.failed_at)
        };
        match cached {
            Some(k) if within(fetched_at, self.config.key_max_age) => return Ok(k),
            None if within(fetched_at, self.config.refresh_interval) => {
                return Err(AuthError::UnknownKey);
            }
            _ => {}
        }
        let unavailable = |e: anyhow::Error| match (stale_ok(cached), fetched_at) {
            (Some(k), _) => Ok(k),
            (None, Some(at)) if within(Some(at), STALE_KEYS_MAX) => Err(AuthError::UnknownKey),
            (None, _) => Err(AuthError::JwksUnavailable(e)),
        };
        if within(failed_at, FAILED_FETCH_BACKOFF) {
            return unavailable(anyhow::anyhow!("the last JWKS fetch failed moments ago"));
        }
        // The fetch runs without holding the cache, so known keys keep verifying meanwhile.
        match pool.source.fetch().await {
            Ok(set) => {
                let keys = set.keys.iter().filter_map(verifying_key).collect();
                let mut cache = pool.cache.write().await;
                cache.keys = keys;
                cache.fetched_at = Some(now);
                cache.failed_at = None;
                let key = cache.keys.get(kid).cloned().ok_or(AuthError::UnknownKey)?;
                Ok(FetchedKey {
                    key,
                    fetched_at: now.as_second(),
                })
            }
            Err(e) => {
                tracing::warn!(error = ?e, "JWKS fetch failed; keeping cached keys");
                pool.cache.write().await.failed_at = Some(now);
                unavailable(e)
            }
        }
    }

    /// Verifies a bearer token and returns the caller. A token verified before is answered from
    /// memory until it expires or the key set that verified it is due for a refresh (with the same
    /// leeway and the same clock as a full check). Every time is the injected clock's.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let digest = domain::hash::sha256(&[token.as_bytes()]);
        let now = self.clock.now().as_second();
        let leeway = self.config.leeway.as_secs() as i64;
        let max_age = self.config.key_max_age.as_secs() as i64;
        {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            match verified.get(&digest) {
                Some(v)
                    if now <= v.exp + leeway && (v.keys_at..v.keys_at + max_age).contains(&now) =>
                {
                    return Ok(v.principal.clone());
                }
                Some(_) => {
                    verified.remove(&digest);
                }
                None => {}
            }
        }
        let (principal, exp, keys_at) = self
            .verify_signed(token, now, self.config.token_use)
            .await?;
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(
            digest,
            Verified {
                principal: principal.clone(),
                exp,
                keys_at,
            },
        );
        Ok(principal)
    }

    /// The caller, the token's expiry and when the key set that verified it was fetched.
    async fn verify_signed(
        &self,
        token: &str,
        now: i64,
        token_use: TokenUse,
    ) -> Result<(Principal, i64, i64), AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        // Whose token it says it is; only that issuer's keys may have signed it.
        let claimed = claimed_issuer(token).ok_or(AuthError::Malformed)?;
        let (issuer, audience, keys, patients_only) = match &self.config.patient_pool {
            Some(pool) if claimed == pool.issuer => (
                pool.issuer.as_str(),
                pool.audience.as_str(),
                self.patients.as_ref().ok_or(AuthError::Issuer)?,
                true,
            ),
            _ => (
                self.config.issuer.as_str(),
                self.config.audience.as_str(),
                &self.staff,
                false,
            ),
        };
        let FetchedKey { key, fetched_at } = self.key(keys, kid).await?;
        if key.algorithm != header.alg {
            return Err(AuthError::Algorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        // Expiry and not-before are checked below against the injected clock: the library's own
        // checks read the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match token_use {
            TokenUse::Id => validation.set_audience(&[audience]),
            // Cognito access tokens carry `client_id`, not `aud`.
            TokenUse::Access => validation.validate_aud = false,
        }
        let data = decode::<Claims>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature | K::ImmatureSignature => AuthError::Expired,
                K::InvalidSignature => AuthError::BadSignature,
                K::InvalidIssuer => AuthError::Issuer,
                K::InvalidAudience => AuthError::Audience,
                K::InvalidAlgorithm => AuthError::Algorithm,
                _ => AuthError::Malformed,
            }
        })?;
        let claims = data.claims;
        let leeway = self.config.leeway.as_secs() as i64;
        if claims.exp.saturating_add(leeway) < now
            || claims
                .nbf
                .is_some_and(|nbf| nbf.saturating_sub(leeway) > now)
        {
            return Err(AuthError::Expired);
        }
        if claims.token_use.as_deref() != Some(token_use.as_str()) {
            return Err(AuthError::TokenUse);
        }
        if token_use == TokenUse::Access && claims.client_id.as_deref() != Some(audience) {
            return Err(AuthError::Audience);
        }
        let subject = Subject::parse(&claims.sub).ok_or(AuthError::Malformed)?;
        let roles = if patients_only {
            // Everyone in the patient pool is a patient, and only that.
            if claims.groups.iter().any(|g| g != "patient") {
                return Err(AuthError::RoleNotFromIssuer);
            }
            std::iter::once(Role::Patient).collect()
        } else {
            claims
                .groups
                .iter()
                .filter_map(|g| Role::parse(g))
                .collect()
        };
        let verified_email = claims.verified_email();
        let display_name = claims.display_name();
        Ok((
            Principal {
                subject,
                roles,
                verified_email,
                display_name,
            },
            claims.exp,
            fetched_at,
        ))
    }
}

impl Verifier {
    /// The address an ID token of `subject`'s own login vouches for (`email` with
    /// `email_verified: true`), or none when it vouches for none. The token is checked as fully as
    /// a bearer token (signature, issuer, expiry on the injected clock), as an ID token (`aud` is
    /// the app client, `token_use` is `id`) and as the caller's (`sub` is `subject`). Not cached:
    /// a token verified here must never be taken from memory as a bearer token.
    ///
    /// Why: Cognito's access tokens carry no address, its ID tokens do; a portal proves the
    /// patient's address by sending the ID token along with the change that records it.
    ///
    /// `bearer` is the request's bearer token, already verified for `subject`: the ID token must
    /// come from the same pool (each token is verified against its own issuer's keys, so equal
    /// issuers mean the same pool) and name the same subject.
    pub async fn verified_email_of(
        &self,
        id_token: &str,
        bearer: &str,
        subject: &Subject,
    ) -> Result<Option<domain::sensitive::Sensitive<String>>, AuthError> {
        let issuer = claimed_issuer(id_token).ok_or(AuthError::Malformed)?;
        if claimed_issuer(bearer).as_deref() != Some(issuer.as_str()) {
            return Err(AuthError::NotThisLogin);
        }
        let now = self.clock.now().as_second();
        let (principal, _, _) = self.verify_signed(id_token, now, TokenUse::Id).await?;
        if principal.subject != *subject {
            return Err(AuthError::NotThisLogin);
        }
        Ok(principal.verified_email)
    }
}

/// Reads the bearer token of an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests;
