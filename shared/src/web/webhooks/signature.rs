//! Webhook signatures, checked over the exact bytes that arrived and before anything parses them.
//!
//! - Stripe (`Stripe-Signature: t=<unix>,v1=<hex>,v1=<hex>,v0=...`): HMAC-SHA256 keyed with the
//!   `whsec_...` secret text, over `{t}.{body}`. Any `v1` may match any configured secret (several
//!   secrets live side by side while one is rotated); `v0` (test-mode legacy) is ignored.
//! - Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> ...`):
//!   HMAC-SHA256 keyed with the base64-decoded part of a `whsec_<base64>` secret, over
//!   `{id}.{timestamp}.{body}`; space-separated signatures, any may match.
//!
//! Both: the timestamp must be within the tolerance on either side of now (a stale replay and a
//! clock far in the future are both refused), and digests are compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, InputError};

/// Default distance, either side of now, that a signed timestamp may be from the clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// Most signatures considered in one header (a header is attacker-controlled).
const MAX_SIGNATURES: usize = 16;

/// Why a webhook was refused. Every variant is the sender's problem: 400, and the event is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("malformed signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    OutsideTolerance,
    #[error("no signature matches a configured secret")]
    NoMatch,
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> Self {
        ApiError::Input(match e {
            SignatureError::Missing => InputError::SignatureMissing,
            SignatureError::Malformed => InputError::SignatureMalformed,
            SignatureError::OutsideTolerance => InputError::SignatureOutsideTolerance,
            SignatureError::NoMatch => InputError::SignatureMismatch,
        })
    }
}

/// The signing secrets of one webhook source, newest first. Never printed.
#[derive(Clone)]
pub struct WebhookSecrets(Vec<zeroize::Zeroizing<Vec<u8>>>);

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecrets([REDACTED] x{})", self.0.len())
    }
}

/// A configured secret that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    #[error("no secrets configured")]
    Empty,
    #[error("secret {0} (counting from 1) does not start with whsec_")]
    Prefix(usize),
    #[error("secret {0} (counting from 1) is not whsec_ followed by base64 of 24 to 64 bytes")]
    Encoding(usize),
    #[error("secret {0} (counting from 1) is too short: whsec_ and at least 10 more characters")]
    TooShort(usize),
}

impl WebhookSecrets {
    fn split(list: &str) -> Vec<&str> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Stripe endpoint secrets (`whsec_...`), comma-separated; the key is the secret's text.
    pub fn stripe(list: &str) -> Result<Self, SecretsError> {
        let parts = Self::split(list);
        if parts.is_empty() {
            return Err(SecretsError::Empty);
        }
        let mut keys = Vec::with_capacity(parts.len());
        for (i, s) in parts.into_iter().enumerate() {
            if !s.starts_with("whsec_") {
                return Err(SecretsError::Prefix(i + 1));
            }
            if s.len() < 16 {
                return Err(SecretsError::TooShort(i + 1));
            }
            keys.push(zeroize::Zeroizing::new(s.as_bytes().to_vec()));
        }
        Ok(WebhookSecrets(keys))
    }

    /// Standard Webhooks secrets (`whsec_<base64>`), comma-separated; the key is the decoded bytes.
    pub fn standard(list: &str) -> Result<Self, SecretsError> {
        let parts = Self::split(list);
        if parts.is_empty() {
            return Err(SecretsError::Empty);
        }
        let mut keys = Vec::with_capacity(parts.len());
        for (i, s) in parts.into_iter().enumerate() {
            let encoded = s
                .strip_prefix("whsec_")
                .ok_or(SecretsError::Prefix(i + 1))?;
            let key = B64
                .decode(encoded)
                .map_err(|_| SecretsError::Encoding(i + 1))?;
            if !(24..=64).contains(&key.len()) {
                return Err(SecretsError::Encoding(i + 1));
            }
            keys.push(zeroize::Zeroizing::new(key));
        }
        Ok(WebhookSecrets(keys))
    }

    fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        domain::hash::hmac_sha256(key, parts)
    }

    /// True when any candidate equals the HMAC of `parts` under any secret. Every comparison runs
    /// in constant time, and every pair is compared (no early exit that would time the match).
    fn any_matches(&self, parts: &[&[u8]], candidates: &[[u8; 32]]) -> bool {
        let mut matched = subtle::Choice::from(0u8);
        for key in &self.0 {
            let expected = Self::mac(key, parts);
            for candidate in candidates {
                matched |= expected.ct_eq(candidate);
            }
        }
        matched.into()
    }

    /// Signs as Stripe does: the `Stripe-Signature` value for `body` at `timestamp`, with the
    /// newest secret (for the sandbox processor and tests).
    pub fn sign_stripe(&self, timestamp: i64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        let mac = Self::mac(&self.0[0], &[t.as_bytes(), b".", body]);
        format!("t={t},v1={}", hex(&mac))
    }

    /// Signs as a Standard Webhooks sender does: the `webhook-signature` value.
    pub fn sign_standard(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let t = timestamp.to_string();
        let mac = Self::mac(&self.0[0], &[id.as_bytes(), b".", t.as_bytes(), b".", body]);
        format!("v1,{}", B64.encode(mac))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn within(timestamp: i64, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    if timestamp.abs_diff(now) > tolerance.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    Ok(())
}

fn timestamp(text: &str) -> Result<i64, SignatureError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    text.parse().map_err(|_| SignatureError::Malformed)
}

/// Verifies a `Stripe-Signature` header over the raw body.
pub fn verify_stripe(
    header: Option<&str>,
    body: &[u8],
    secrets: &WebhookSecrets,
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match name {
            "t" if t.is_none() => t = Some(timestamp(value)?),
            "t" => return Err(SignatureError::Malformed),
            "v1" => {
                if candidates.len() == MAX_SIGNATURES {
                    return Err(SignatureError::Malformed);
                }
                // A v1 that is not 32 hex bytes cannot match; it is skipped, not fatal, as Stripe's
                // libraries do, so an unknown future encoding beside a good v1 still verifies.
                if let Some(sig) = unhex(value) {
                    candidates.push(sig);
                }
            }
            _ => {} // v0 and schemes we do not know are ignored.
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::NoMatch);
    }
    within(t, now, tolerance)?;
    let t = t.to_string();
    if secrets.any_matches(&[t.as_bytes(), b".", body], &candidates) {
        Ok(())
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// The three Standard Webhooks headers.
#[derive(Clone, Copy, Debug)]
pub struct StandardHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Verifies Standard Webhooks headers over the raw body; returns the message id.
pub fn verify_standard<'a>(
    headers: StandardHeaders<'a>,
    body: &[u8],
    secrets: &WebhookSecrets,
    now: i64,
    tolerance: i64,
) -> Result<&'a str, SignatureError> {
    let (Some(id), Some(ts), Some(signature)) = (headers.id, headers.timestamp, headers.signature)
    else {
        return Err(SignatureError::Missing);
    };
    if !domain::ids::is_key_token(id) {
        return Err(SignatureError::Malformed);
    }
    let t = timestamp(ts)?;
    let mut candidates = Vec::new();
    for part in signature.split(' ').filter(|p| !p.is_empty()) {
        let (version, value) = part.split_once(',').ok_or(SignatureError::Malformed)?;
        if version != "v1" {
            continue; // e.g. v1a (asymmetric): not a scheme we verify
        }
        if candidates.len() == MAX_SIGNATURES {
            return Err(SignatureError::Malformed);
        }
        if let Some(sig) = B64
            .decode(value)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
        {
            candidates.push(sig);
        }
    }
    if candidates.is_empty() {
        return Err(SignatureError::NoMatch);
    }
    within(t, now, tolerance)?;
    if secrets.any_matches(
        &[id.as_bytes(), b".", ts.as_bytes(), b".", body],
        &candidates,
    ) {
        Ok(id)
    } else {
        Err(SignatureError::NoMatch)
    }
}

/// A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes).
pub fn generate_standard_secret() -> String {
    format!("whsec_{}", B64.encode(rand::random::<[u8; 32]>()))
}

/// A fresh Stripe-style endpoint secret (`whsec_` + 32 random alphanumerics).
pub fn generate_stripe_secret() -> String {
    use rand::Rng as _;
    let tail: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("whsec_{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_795_438_800;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    fn stripe_secrets() -> (WebhookSecrets, WebhookSecrets) {
        let new = "whsec_newnewnewnewnewnewnew";
        let old = "whsec_oldoldoldoldoldoldold";
        (
            WebhookSecrets::stripe(&format!("{new},{old}")).unwrap(),
            WebhookSecrets::stripe(old).unwrap(),
        )
    }

    #[test]
    fn stripe_accepts_any_v1_under_any_secret() {
        let (both, old) = stripe_secrets();
        let by_old = old.sign_stripe(NOW, BODY);
        assert_eq!(verify_stripe(Some(&by_old), BODY, &both, NOW, 300), Ok(()));
        // Stripe sends one v1 per active secret during a rotation; the order does not matter.
        let by_new = both.sign_stripe(NOW, BODY);
        let v1_new = by_new.split_once(",v1=").unwrap().1;
        let header = format!("{by_old},v1={v1_new},v0=deadbeef");
        assert_eq!(verify_stripe(Some(&header), BODY, &old, NOW, 300), Ok(()));
        assert_eq!(verify_stripe(Some(&header), BODY, &both, NOW, 300), Ok(()));
    }

    #[test]
    fn stripe_refusals() {
        let (both, _) = stripe_secrets();
        let good = both.sign_stripe(NOW, BODY);
        let other = WebhookSecrets::stripe("whsec_someoneelsesecretxx").unwrap();
        let cases: Vec<(Option<String>, &[u8], i64, SignatureError)> = vec![
            (None, BODY, NOW, SignatureError::Missing),
            (Some("garbage".into()), BODY, NOW, SignatureError::Malformed),
            (Some("v1=abc".into()), BODY, NOW, SignatureError::Malformed),
            (
                Some(format!("t=x{good}")),
                BODY,
                NOW,
                SignatureError::Malformed,
            ),
            (
                Some(other.sign_stripe(NOW, BODY)),
                BODY,
                NOW,
                SignatureError::NoMatch,
            ),
            (
                Some(good.clone()),
                b"{\"id\":\"evt_2\"}",
                NOW,
                SignatureError::NoMatch,
            ),
            (
                Some(good.replace("v1=", "v0=")),
                BODY,
                NOW,
                SignatureError::NoMatch,
            ),
            (
                Some(good.clone()),
                BODY,
                NOW + 301,
                SignatureError::OutsideTolerance,
            ),
            (
                Some(good.clone()),
                BODY,
                NOW - 301,
                SignatureError::OutsideTolerance,
            ),
        ];
        for (header, body, now, expected) in cases {
            assert_eq!(
                verify_stripe(header.as_deref(), body, &both, now, 300),
                Err(expected),
                "{header:?}"
            );
        }
        assert_eq!(
            verify_stripe(Some(&good), BODY, &both, NOW + 300, 300),
            Ok(())
        );
        assert_eq!(
            verify_stripe(Some(&good), BODY, &both, NOW - 300, 300),
            Ok(())
        );
    }

    fn headers<'a>(id: &'a str, ts: &'a str, signature: &'a str) -> StandardHeaders<'a> {
        StandardHeaders {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(signature),
        }
    }

    #[test]
    fn standard_webhooks_sign_and_verify() {
        let old = generate_standard_secret();
        let new = generate_standard_secret();
        let both = WebhookSecrets::standard(&format!("{new}, {old}")).unwrap();
        let by_old = WebhookSecrets::standard(&old).unwrap();
        let sig = by_old.sign_standard("msg_1", NOW, BODY);
        let ts = NOW.to_string();
        let two = format!("v1,AAAA {sig}");
        let check = |h, now| verify_standard(h, BODY, &both, now, 300);
        assert_eq!(check(headers("msg_1", &ts, &two), NOW), Ok("msg_1"));
        assert_eq!(
            check(headers("msg_2", &ts, &sig), NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            check(headers("msg_1", &ts, &sig), NOW + 301),
            Err(SignatureError::OutsideTolerance)
        );
        let mut missing = headers("msg_1", &ts, &sig);
        missing.timestamp = None;
        assert_eq!(check(missing, NOW), Err(SignatureError::Missing));
        assert_eq!(
            check(headers("msg_1", &ts, "v1"), NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(headers("msg 1", &ts, &sig), NOW),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert_eq!(
            WebhookSecrets::stripe(" , ").unwrap_err(),
            SecretsError::Empty
        );
        assert_eq!(
            WebhookSecrets::stripe("whsec_aaaaaaaaaaaaaaaa,sk_live_x").unwrap_err(),
            SecretsError::Prefix(2)
        );
        assert_eq!(
            WebhookSecrets::standard("whsec_!!!").unwrap_err(),
            SecretsError::Encoding(1)
        );
        assert_eq!(
            WebhookSecrets::stripe("whsec_short").unwrap_err(),
            SecretsError::TooShort(1)
        );
        let s = WebhookSecrets::stripe("whsec_aaaaaaaaaaaaaaaa").unwrap();
        assert!(!format!("{s:?}").contains("aaaa"));
    }

    proptest! {
        #[test]
        fn any_change_to_the_body_is_refused(body in proptest::collection::vec(any::<u8>(), 1..200), flip in any::<prop::sample::Index>()) {
            let (both, _) = stripe_secrets();
            let header = both.sign_stripe(NOW, &body);
            prop_assert_eq!(verify_stripe(Some(&header), &body, &both, NOW, 300), Ok(()));
            let mut tampered = body.clone();
            let i = flip.index(tampered.len());
            tampered[i] ^= 1;
            prop_assert_eq!(verify_stripe(Some(&header), &tampered, &both, NOW, 300), Err(SignatureError::NoMatch));
        }
    }
}
