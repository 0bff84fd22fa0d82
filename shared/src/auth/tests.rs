use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};

use super::*;
use crate::adapters::local_issuer::LocalIssuer;
use domain::clock::ManualClock;

const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test";
const AUD: &str = "client-123";

struct CountingJwks {
    set: JwkSet,
    fetches: AtomicUsize,
}

#[async_trait]
impl JwksSource for CountingJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(self.set.clone())
    }
}

fn setup() -> (LocalIssuer, Verifier) {
    let issuer = LocalIssuer::generate(ISS, AUD).unwrap();
    let verifier = Verifier::new(
        AuthConfig::new(ISS, AUD),
        Arc::new(StaticJwks(issuer.jwks().clone())),
        fixed(),
    );
    (issuer, verifier)
}

fn sub(s: &str) -> Subject {
    Subject::parse(s).unwrap()
}

/// The tests' instant: every verifier here runs on a clock that stands at it (or is moved from
/// it), and every token is minted from it, so no test depends on the day it runs.
const NOW: i64 = 1_795_438_800;

fn at() -> jiff::Timestamp {
    jiff::Timestamp::from_second(NOW).unwrap()
}

fn now() -> u64 {
    NOW as u64
}

fn fixed() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(at()))
}

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn claims(iss: &str, client: &str, token_use: &str) -> serde_json::Value {
    serde_json::json!({
        "iss": iss, "sub": "p-1", "client_id": client, "token_use": token_use,
        "cognito:groups": ["patient"], "exp": now() + 600, "iat": now()
    })
}

#[tokio::test]
async fn valid_token_yields_subject_and_roles() {
    let (issuer, verifier) = setup();
    let token = issuer
        .mint(
            &sub("p-1"),
            &[Role::Patient, Role::Staff],
            at(),
            Duration::from_secs(600),
        )
        .unwrap();
    let p = verifier.verify(&token).await.unwrap();
    assert_eq!(p.subject.as_str(), "p-1");
    assert_eq!(p.roles, BTreeSet::from([Role::Patient, Role::Staff]));
}

#[tokio::test]
async fn expired_token_is_refused_beyond_leeway_only() {
    let (issuer, verifier) = setup();
    let stale = issuer
        .mint_at(&sub("p-1"), &[Role::Patient], now() - 3600, now() - 120)
        .unwrap();
    assert!(matches!(
        verifier.verify(&stale).await,
        Err(AuthError::Expired)
    ));
    let within_leeway = issuer
        .mint_at(&sub("p-1"), &[Role::Patient], now() - 3600, now() - 5)
        .unwrap();
    assert!(verifier.verify(&within_leeway).await.is_ok());
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let (issuer, verifier) = setup();
    let token = issuer
        .mint(
            &sub("p-1"),
            &[Role::Patient],
            at(),
            Duration::from_secs(600),
        )
        .unwrap();
    // The genuine token is verified (and remembered) first: the memory is of exact token bytes.
    assert!(verifier.verify(&token).await.is_ok());
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["cognito:groups"] = serde_json::json!(["admin"]);
    let forged = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(AuthError::BadSignature)
    ));
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(matches!(
        verifier.verify(&bad_sig).await,
        Err(AuthError::BadSignature)
    ));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (issuer, verifier) = setup();
    let header = serde_json::json!({"alg": "none", "typ": "JWT", "kid": issuer.kid()});
    let token = format!("{}.{}.", b64(&header), b64(&claims(ISS, AUD, "access")));
    assert!(verifier.verify(&token).await.is_err());
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let (issuer, verifier) = setup();
    let public = serde_json::to_vec(&issuer.jwks().keys[0]).unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(issuer.kid().to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims(ISS, AUD, "access"),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::Algorithm)
    ));
}

#[tokio::test]
async fn unknown_kid_is_refused_and_refetch_is_rate_limited() {
    let trusted = LocalIssuer::generate(ISS, AUD).unwrap();
    let stranger = LocalIssuer::generate(ISS, AUD).unwrap();
    let source = Arc::new(CountingJwks {
        set: trusted.jwks().clone(),
        fetches: AtomicUsize::new(0),
    });
    let clock = Arc::new(ManualClock::new(at()));
    let verifier = Verifier::new(AuthConfig::new(ISS, AUD), source.clone(), clock.clone());
    let token = stranger
        .mint(&sub("p-1"), &[Role::Admin], at(), Duration::from_secs(600))
        .unwrap();
    for _ in 0..5 {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(AuthError::UnknownKey)
        ));
    }
    assert_eq!(
        source.fetches.load(Ordering::SeqCst),
        1,
        "unknown kids must not hammer the JWKS endpoint"
    );
    clock.advance(jiff::SignedDuration::from_secs(61));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey)
    ));
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    // Known keys are served from the cache.
    let good = trusted
        .mint(
            &sub("p-1"),
            &[Role::Patient],
            at(),
            Duration::from_secs(600),
        )
        .unwrap();
    verifier.verify(&good).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wrong_issuer_audience_or_token_use_is_refused() {
    let (_, verifier) = setup();
    let other_iss = LocalIssuer::generate("https://evil.example", AUD).unwrap();
    let v2 = Verifier::new(
        AuthConfig::new(ISS, AUD),
        Arc::new(StaticJwks(other_iss.jwks().clone())),
        fixed(),
    );
    let token = other_iss
        .mint(
            &sub("p-1"),
            &[Role::Patient],
            at(),
            Duration::from_secs(600),
        )
        .unwrap();
    assert!(matches!(v2.verify(&token).await, Err(AuthError::Issuer)));

    let other_aud = LocalIssuer::generate(ISS, "another-client").unwrap();
    let v3 = Verifier::new(
        AuthConfig::new(ISS, AUD),
        Arc::new(StaticJwks(other_aud.jwks().clone())),
        fixed(),
    );
    let token = other_aud
        .mint(
            &sub("p-1"),
            &[Role::Patient],
            at(),
            Duration::from_secs(600),
        )
        .unwrap();
    assert!(matches!(v3.verify(&token).await, Err(AuthError::Audience)));

    // An ID token where access tokens are expected; a token without client_id.
    let issuer = LocalIssuer::generate(ISS, AUD).unwrap();
    let v4 = Verifier::new(
        AuthConfig::new(ISS, AUD),
        Arc::new(StaticJwks(issuer.jwks().clone())),
        fixed(),
    );
    let id_token = issuer.sign(&claims(ISS, AUD, "id")).unwrap();
    assert!(matches!(
        v4.verify(&id_token).await,
        Err(AuthError::TokenUse)
    ));
    let mut no_client = claims(ISS, AUD, "access");
    no_client.as_object_mut().unwrap().remove("client_id");
    assert!(matches!(
        v4.verify(&issuer.sign(&no_client).unwrap()).await,
        Err(AuthError::Audience)
    ));
    assert!(
        v4.verify(&issuer.sign(&claims(ISS, AUD, "access")).unwrap())
            .await
            .is_ok()
    );
    assert!(matches!(
        verifier.verify("not-a-jwt").await,
        Err(AuthError::Malformed)
    ));
}

#[test]
fn bearer_header_parsing() {
    assert!(matches!(bearer(None), Err(AuthError::Missing)));
    assert!(matches!(
        bearer(Some("Basic abc")),
        Err(AuthError::Malformed)
    ));
    assert!(matches!(bearer(Some("Bearer ")), Err(AuthError::Malformed)));
    assert_eq!(bearer(Some("bearer abc")).unwrap(), "abc");
}

#[test]
fn authorization_matrix() {
    let me = sub("me");
    let other = sub("other");
    let who = |roles: &[Role]| Principal {
        subject: me.clone(),
        roles: roles.iter().copied().collect(),
        verified_email: None,
        display_name: None,
    };
    let everyone = [Role::Patient, Role::Staff, Role::Provider, Role::Admin];
    let patient = who(&[Role::Patient]);
    assert!(patient.authorize(&everyone, Resource::Patient(&me)).is_ok());
    assert!(
        patient
            .authorize(&everyone, Resource::Patient(&other))
            .is_err()
    );
    assert!(
        patient
            .authorize(&everyone, Resource::Provider(&me))
            .is_err()
    );
    assert!(patient.authorize(&[Role::Staff], Resource::Shared).is_err());
    assert!(patient.authorize(&everyone, Resource::Shared).is_ok());
    let provider = who(&[Role::Provider]);
    assert!(
        provider
            .authorize(&everyone, Resource::Provider(&me))
            .is_ok()
    );
    assert!(
        provider
            .authorize(&everyone, Resource::Provider(&other))
            .is_err()
    );
    assert!(
        provider
            .authorize(&everyone, Resource::Patient(&other))
            .is_err()
    );
    for role in [Role::Staff, Role::Admin] {
        let p = who(&[role]);
        assert!(p.authorize(&everyone, Resource::Patient(&other)).is_ok());
        assert!(p.authorize(&everyone, Resource::Provider(&other)).is_ok());
        assert!(
            p.authorize(&[Role::Patient], Resource::Patient(&other))
                .is_err()
        );
    }
    assert!(who(&[]).authorize(&everyone, Resource::Shared).is_err());
}

#[test]
fn subjects_cannot_smuggle_key_separators() {
    assert!(Subject::parse("4a7c-11").is_some());
    assert!(Subject::parse("a#b").is_none());
    assert!(Subject::parse("").is_none());
    assert!(Subject::parse("a\0b").is_none());
    assert!(Subject::parse(&"x".repeat(129)).is_none());
}

/// A key set that can be unreachable (`up`) and whose keys the test changes, as a pool's rotation
/// does; it counts the fetches.
struct FlakyJwks {
    set: std::sync::Mutex<JwkSet>,
    up: std::sync::atomic::AtomicBool,
    fetches: AtomicUsize,
}

#[async_trait]
impl JwksSource for FlakyJwks {
    async fn fetch(&self) -> anyhow::Result<JwkSet> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        anyhow::ensure!(self.up.load(Ordering::SeqCst), "connection refused");
        Ok(self.set.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_503_and_not_hammered() {
    let issuer = LocalIssuer::generate(ISS, AUD).unwrap();
    let source = Arc::new(FlakyJwks {
        set: std::sync::Mutex::new(issuer.jwks().clone()),
        up: false.into(),
        fetches: AtomicUsize::new(0),
    });
    let clock = Arc::new(ManualClock::new(at()));
    let verifier = Verifier::new(AuthConfig::new(ISS, AUD), source.clone(), clock.clone());
    let token = issuer
        .mint(
            &sub("p-1"),
            &[Role::Patient],
            at(),
            Duration::from_secs(600),
        )
        .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(AuthError::JwksUnavailable(_))
        ));
    }
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    let api: crate::error::ApiError = AuthError::JwksUnavailable(anyhow::anyhow!("down")).into();
    assert_eq!(api.status(), 503);
    source.up.store(true, Ordering::SeqCst);
    clock.advance(jiff::SignedDuration::from_secs(2));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}

#[test]
fn a_display_name_is_taken_only_when_it_is_one_short_line() {
    let claims = |name: serde_json::Value| {
        serde_json::from_value::<Claims>(serde_json::json!({"sub": "s", "exp": 1, "name": name}))
            .unwrap()
    };
    assert_eq!(
        claims(serde_json::json!(" Sam Okoro "))
            .display_name()
            .as_deref(),
        Some("Sam Okoro")
    );
    for bad in [
        serde_json::json!(""),
        serde_json::json!("Sam\nOkoro"),
        serde_json::json!("x".repeat(101)),
    ] {
        assert_eq!(claims(bad.clone()).display_name(), None, "{bad}");
    }
}

const PATIENT_ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_patients";
const PATIENT_AUD: &str = "patient-portal";

/// A verifier of the staff pool (`staff`'s keys) and the patient pool (`patients`' keys).
fn verifier_of(staff: &LocalIssuer, patients: &LocalIssuer) -> Verifier {
    let mut config = AuthConfig::new(ISS, AUD);
    config.patient_pool = Some(PatientPool {
        issuer: PATIENT_ISS.into(),
        audience: PATIENT_AUD.into(),
        jwks: Arc::new(StaticJwks(patients.jwks().clone())),
    });
    Verifier::new(config, Arc::new(StaticJwks(staff.jwks().clone())), fixed())
}

/// A verifier of two pools: staff (`ISS`) and patients; the issuers that sign for each.
fn two_pools() -> (LocalIssuer, LocalIssuer, Verifier) {
    let staff = LocalIssuer::generate(ISS, AUD).unwrap();
    let patients = LocalIssuer::generate(PATIENT_ISS, PATIENT_AUD).unwrap();
    let verifier = verifier_of(&staff, &patients);
    (staff, patients, verifier)
}

#[tokio::test]
async fn the_patient_pool_grants_the_patient_role_and_nothing_else() {
    let (staff, patients, verifier) = two_pools();
    let ttl = Duration::from_secs(600);
    // A patient who signed themselves up: no group, a patient.
    let token = patients.mint(&sub("p-self"), &[], at(), ttl).unwrap();
    let principal = verifier.verify(&token).await.unwrap();
    assert_eq!(principal.roles.iter().collect::<Vec<_>>(), [&Role::Patient]);
    let token = patients
        .mint(&sub("p-2"), &[Role::Patient], at(), ttl)
        .unwrap();
    assert!(verifier.verify(&token).await.is_ok());
    // Validly signed by the patient pool, claiming staff (or staff besides patient): refused.
    for roles in [
        &[Role::Staff][..],
        &[Role::Patient, Role::Admin],
        &[Role::Provider],
    ] {
        let token = patients.mint(&sub("p-3"), roles, at(), ttl).unwrap();
        assert!(
            matches!(
                verifier.verify(&token).await,
                Err(AuthError::RoleNotFromIssuer)
            ),
            "{roles:?}"
        );
    }
    // The staff pool still grants its roles.
    let token = staff.mint(&sub("s-1"), &[Role::Staff], at(), ttl).unwrap();
    assert!(
        verifier
            .verify(&token)
            .await
            .unwrap()
            .roles
            .contains(&Role::Staff)
    );
    // A key of one pool cannot sign for the other: the patient pool's key with the staff
    // issuer's name, and the staff pool's key with the patient issuer's name.
    let published_by_patients = LocalIssuer::generate(ISS, AUD).unwrap();
    let v = verifier_of(&staff, &published_by_patients);
    let token = published_by_patients
        .mint(&sub("s-2"), &[Role::Staff], at(), ttl)
        .unwrap();
    assert!(matches!(v.verify(&token).await, Err(AuthError::UnknownKey)));
    let wrong_pool = LocalIssuer::generate(PATIENT_ISS, PATIENT_AUD).unwrap();
    let token = wrong_pool.mint(&sub("p-4"), &[], at(), ttl).unwrap();
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey)
    ));
    // The patient pool's client id, not the staff pool's.
    let other_client = LocalIssuer::generate(PATIENT_ISS, AUD).unwrap();
    let v = verifier_of(&staff, &other_client);
    let token = other_client.mint(&sub("p-5"), &[], at(), ttl).unwrap();
    assert!(matches!(v.verify(&token).await, Err(AuthError::Audience)));
}

/// Expiry and not-before are the injected clock's, whatever the date on the machine: a token
/// minted at the clock's instant verifies at that instant, decades away from today in either
/// direction, and stops once the clock passes its expiry (remembered or not).
#[tokio::test]
async fn expiry_and_not_before_follow_the_clock_not_the_machine() {
    let issuer = LocalIssuer::generate(ISS, AUD).unwrap();
    for year in [2003, 2031, 2060] {
        let start = jiff::civil::date(year, 1, 1)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp();
        let clock = Arc::new(ManualClock::new(start));
        let verifier = Verifier::new(
            AuthConfig::new(ISS, AUD),
            Arc::new(StaticJwks(issuer.jwks().clone())),
            clock.clone(),
        );
        let token = issuer
            .mint(
                &sub("p-1"),
                &[Role::Patient],
                start,
                Duration::from_secs(600),
            )
            .unwrap();
        verifier.verify(&token).await.unwrap();
        clock.advance(jiff::SignedDuration::from_secs(600 + 30));
        verifier.verify(&token).await.expect("within the leeway");
        clock.advance(jiff::SignedDuration::from_secs(1));
        assert!(
            matches!(verifier.verify(&token).await, Err(AuthError::Expired)),
            "{year}: a remembered token past its expiry"
        );
        // Not valid before `nbf` (beyond the leeway), on the same clock.
        let t = clock.now().as_second();
        let mut early = claims(ISS, AUD, "access");
        early["iat"] = t.into();
        early["exp"] = (t + 600).into();
        early["nbf"] = (t + 31).into();
        assert!(matches!(
            verifier.verify(&issuer.sign(&early).unwrap()).await,
            Err(AuthError::Expired)
        ));
        early["nbf"] = (t + 30).into();
        verifier
            .verify(&issuer.sign(&early).unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_key_the_pool_removed_stops_verifying_within_the_hour() {
    let old = LocalIssuer::generate(ISS, AUD).unwrap();
    let new = LocalIssuer::generate(ISS, AUD).unwrap();
    let mut both = old.jwks().clone();
    both.keys.extend(new.jwks().keys.clone());
    let source = Arc::new(FlakyJwks {
        set: std::sync::Mutex::new(both),
        up: true.into(),
        fetches: AtomicUsize::new(0),
    });
    let clock = fixed();
    let verifier = Verifier::new(AuthConfig::new(ISS, AUD), source.clone(), clock.clone());
    let day = Duration::from_secs(86_400);
    let by_old = old.mint(&sub("p-1"), &[Role::Patient], at(), day).unwrap();
    let by_old_later = old.mint(&sub("p-2"), &[Role::Patient], at(), day).unwrap();
    // Valid for a week: what stops it below is the keys' age, not its expiry.
    let by_new = new
        .mint(&sub("p-3"), &[Role::Patient], at(), 7 * day)
        .unwrap();
    verifier.verify(&by_old).await.unwrap();
    verifier.verify(&by_new).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);

    // The pool retires the old key. Within the hour the cached set still holds it.
    *source.set.lock().unwrap() = new.jwks().clone();
    clock.advance(jiff::SignedDuration::from_mins(59));
    verifier.verify(&by_old).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    // After it, the set is fetched again: neither the remembered token nor a new one of the old
    // key verifies; the new key's does.
    clock.advance(jiff::SignedDuration::from_mins(1));
    assert!(matches!(
        verifier.verify(&by_old).await,
        Err(AuthError::UnknownKey)
    ));
    assert!(matches!(
        verifier.verify(&by_old_later).await,
        Err(AuthError::UnknownKey)
    ));
    verifier.verify(&by_new).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);

    // A pool that cannot be reached when the hour is up: the cached keys keep verifying (an
    // outage of the provider does not sign everyone out), and it is asked again after a second.
    source.up.store(false, Ordering::SeqCst);
    clock.advance(jiff::SignedDuration::from_hours(1));
    verifier.verify(&by_new).await.unwrap();
    verifier.verify(&by_new).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 3);
    clock.advance(jiff::SignedDuration::from_secs(2));
    verifier.verify(&by_new).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 4);
    // Not for ever: a day after the last successful fetch, the cached keys stop verifying.
    clock.advance(jiff::SignedDuration::from_hours(23));
    assert!(matches!(
        verifier.verify(&by_new).await,
        Err(AuthError::JwksUnavailable(_))
    ));
}
