//! The local token issuer of `practica serve` and `practica token`: an ES256 signing key in the
//! data dir (PKCS#8, mode 0600), its JWKS, and tokens shaped like Cognito access tokens. The server
//! verifies them with the production [`crate::auth::Verifier`], fetching this JWKS over HTTP.

use std::path::Path;
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::Serialize;

use crate::adapters::files::read_or_create_p256_key;
use crate::auth::{Role, Subject};

/// Issuer and audience of locally minted tokens.
pub const LOCAL_ISSUER: &str = "urn:practica:local";
pub const LOCAL_AUDIENCE: &str = "practica-local";
const KEY_FILE: &str = "signing-key.p8";

pub struct LocalIssuer {
    key: EncodingKey,
    kid: String,
    jwks: JwkSet,
    issuer: String,
    audience: String,
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    client_id: &'a str,
    token_use: &'static str,
    #[serde(rename = "cognito:groups")]
    groups: Vec<&'static str>,
    iat: u64,
    exp: u64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
}

/// An ID token's claims, shaped as Cognito issues them: `aud` (not `client_id`), `token_use: id`,
/// the address and whether the pool verified it.
#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    token_use: &'static str,
    #[serde(rename = "cognito:username")]
    username: &'a str,
    auth_time: u64,
    iat: u64,
    exp: u64,
    jti: String,
    email: &'a str,
    email_verified: bool,
}

impl LocalIssuer {
    /// Mints an ID token for `subject` naming `email`, verified or not (the local sign-in returns
    /// one beside the access token, as Cognito does; the portal proves the address with it).
    pub fn mint_id_token(
        &self,
        subject: &Subject,
        email: &str,
        email_verified: bool,
        iat: u64,
        exp: u64,
    ) -> anyhow::Result<String> {
        self.sign(&IdTokenClaims {
            iss: &self.issuer,
            sub: subject.as_str(),
            aud: &self.audience,
            token_use: "id",
            username: subject.as_str(),
            auth_time: iat,
            iat,
            exp,
            jti: ulid::Ulid::new().to_string(),
            email,
            email_verified,
        })
    }

    /// Loads the signing key from `dir`, generating it on first use.
    pub fn open_or_create(dir: &Path) -> anyhow::Result<Self> {
        let pkcs8 = read_or_create_p256_key(&dir.join(KEY_FILE))?;
        Self::from_pkcs8(&pkcs8, LOCAL_ISSUER, LOCAL_AUDIENCE)
    }

    /// An issuer over a PKCS#8 P-256 key with the given issuer and audience (tests use others).
    pub fn from_pkcs8(pkcs8: &[u8], issuer: &str, audience: &str) -> anyhow::Result<Self> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| anyhow::anyhow!("the local signing key is not a P-256 PKCS#8 key"))?;
        let kid = URL_SAFE_NO_PAD.encode(
            &domain::hash::sha256(&[aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref()])
                [..12],
        );
        let key = EncodingKey::from_ec_der(pkcs8);
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256)?;
        jwk.common.key_id = Some(kid.clone());
        Ok(LocalIssuer {
            key,
            kid,
            jwks: JwkSet { keys: vec![jwk] },
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// A fresh random issuer (tests).
    pub fn generate(issuer: &str, audience: &str) -> anyhow::Result<Self> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| anyhow::anyhow!("generating a signing key"))?;
        Self::from_pkcs8(doc.as_ref(), issuer, audience)
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Mints an access token for `subject` with `roles`, issued at `now` (the caller's clock) and
    /// valid for `ttl`.
    pub fn mint(
        &self,
        subject: &Subject,
        roles: &[Role],
        now: jiff::Timestamp,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let now = now.as_second().max(0) as u64;
        self.mint_at(subject, roles, now, now + ttl.as_secs())
    }

    /// Mints a token with explicit issue and expiry times (epoch seconds).
    pub fn mint_at(
        &self,
        subject: &Subject,
        roles: &[Role],
        iat: u64,
        exp: u64,
    ) -> anyhow::Result<String> {
        self.mint_with_email(subject, roles, None, iat, exp)
    }

    /// Mints a token that also carries a verified email address (as the identity provider's ID
    /// tokens do once the user has confirmed it).
    pub fn mint_with_email(
        &self,
        subject: &Subject,
        roles: &[Role],
        verified_email: Option<&str>,
        iat: u64,
        exp: u64,
    ) -> anyhow::Result<String> {
        self.mint_named(subject, roles, verified_email, None, iat, exp)
    }

    /// Mints a token that may also carry a verified email address and a display `name` (the
    /// `name` claim, as an identity provider's ID token or a pre-token-generation trigger adds it).
    pub fn mint_named(
        &self,
        subject: &Subject,
        roles: &[Role],
        verified_email: Option<&str>,
        name: Option<&str>,
        iat: u64,
        exp: u64,
    ) -> anyhow::Result<String> {
        let claims = MintedClaims {
            iss: &self.issuer,
            sub: subject.as_str(),
            client_id: &self.audience,
            token_use: "access",
            groups: roles.iter().map(|r| r.as_str()).collect(),
            iat,
            exp,
            jti: ulid::Ulid::new().to_string(),
            email: verified_email,
            email_verified: verified_email.map(|_| true),
            name,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with this issuer's key (tests build malformed tokens with it).
    pub fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        Ok(encode(&header, claims, &self.key)?)
    }
}
