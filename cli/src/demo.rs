//! The demo practice `practica seed` loads (and tests reuse): a practice in America/New_York, two
//! providers with a working week, two services, and one demo patient. Seeding goes through the
//! same domain operations as the API, as the admin `seed`, so every record gets its audit record.

use std::collections::BTreeSet;

use serde::Serialize;

use domain::access::Caller;
use domain::ids::{PatientId, ProviderId, ServiceId};
use domain::money::{Currency, Money};
use domain::schedule::{Rules, WEEKDAYS, WallInterval, WallTime, Week};
use domain::sensitive::Sensitive;
use shared::auth::{Principal, Role, Subject};
use shared::booking::{patients, setup};
use shared::error::ApiError;
use shared::state::AppState;

pub const DEMO_PATIENT: &str = "patient-jane";
/// Her address: on her record (typed by staff) and vouched for by her local sign-in's ID token.
pub const DEMO_PATIENT_EMAIL: &str = "jane.demo@example.org";
pub const DEMO_PROVIDER_LOGINS: [&str; 2] = ["provider-rivera", "provider-okafor"];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Demo {
    pub time_zone: &'static str,
    pub providers: Vec<ProviderId>,
    pub services: Vec<ServiceId>,
    pub patient_id: PatientId,
    /// False when the data directory already held a practice (nothing was written).
    pub created: bool,
}

fn interval(a: u16, b: u16) -> WallInterval {
    WallInterval {
        start: WallTime::from_minutes(a * 60).expect("whole hours"),
        end: WallTime::from_minutes(b * 60).expect("whole hours"),
    }
}

/// Mon-Fri `start`..`end` with a lunch break at noon.
pub fn weekday_rules(start: u16, end: u16) -> Rules {
    Rules {
        hours: Week::on(&WEEKDAYS, &[interval(start, end)]),
        breaks: Week::on(&WEEKDAYS, &[interval(12, 13)]),
        exceptions: vec![],
        slot_minutes: 15,
        buffer_before_minutes: 0,
        buffer_after_minutes: 10,
        min_notice_minutes: 120,
        max_advance_days: 180,
        cancel_cutoff_hours: 24,
    }
}

fn seeder() -> Caller {
    Caller {
        principal: Principal {
            subject: Subject::parse("seed").expect("valid subject"),
            roles: BTreeSet::from([Role::Admin]),
            verified_email: None,
            display_name: None,
        },
        request_id: format!("seed-{}", ulid::Ulid::new()),
        source: domain::access::Source::local("seed"),
    }
}

/// The demo's providers: name, login, working hours.
const DEMO_PROVIDERS: [(&str, &str, (u16, u16)); 2] = [
    ("Dr. Ana Rivera", DEMO_PROVIDER_LOGINS[0], (9, 17)),
    ("Sam Okafor, LCSW", DEMO_PROVIDER_LOGINS[1], (10, 18)),
];

/// The demo's services: name, minutes, price in cents, patients may book a series, forms before
/// a first visit.
const DEMO_SERVICES: [(&str, u16, i64, bool, &[&str]); 3] = [
    (
        "Initial consultation",
        60,
        15_000,
        false,
        &["intake", "phq-9"],
    ),
    ("Follow-up session", 30, 8_000, true, &[]),
    ("Extended session", 90, 20_000, false, &[]),
];

/// The initial consultation's cancellation policy: cancelling less than 24 hours before costs
/// 50.00 USD, missing the visit its full price.
const DEMO_POLICY: domain::fees::Policy = domain::fees::Policy {
    late_window_hours: 24,
    late_cancellation_fee: Some(domain::fees::Amount::Fixed(5_000)),
    no_show_fee: Some(domain::fees::Amount::Percent(100)),
    deposit: None,
};

/// The extended session's policy: a 50.00 USD deposit when booking, refunded when cancelled 48
/// hours or more before, kept when cancelled later or missed.
const DEPOSIT_POLICY: domain::fees::Policy = domain::fees::Policy {
    late_window_hours: 48,
    late_cancellation_fee: None,
    no_show_fee: None,
    deposit: Some(domain::fees::Amount::Fixed(5_000)),
};

/// Loads the demo practice unless a practice is already configured.
pub async fn seed(state: &AppState) -> Result<Demo, ApiError> {
    seed_for(state, None).await
}

/// As [`seed`], with the address the portal is served at (`practica serve` on its port), which
/// messages and calendar feeds link to; the default otherwise.
pub async fn seed_for(state: &AppState, portal_url: Option<String>) -> Result<Demo, ApiError> {
    let patient_id = PatientId::parse(DEMO_PATIENT).expect("valid subject");
    if shared::common::lookup::practice(state).await.is_ok() {
        // In the order the demo made them (ids made in the same millisecond do not sort so).
        let ids = |v: serde_json::Value, list: &str, order: &[&str]| -> Vec<String> {
            let mut found: Vec<(usize, String)> = v[list]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let name = p["name"].as_str().unwrap_or_default();
                            let rank = order.iter().position(|n| *n == name).unwrap_or(order.len());
                            Some((rank, p["id"].as_str()?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            found.into_iter().map(|(_, id)| id).collect()
        };
        let providers = ids(
            setup::list_providers(state, &seeder()).await?,
            "providers",
            &DEMO_PROVIDERS.map(|(name, _, _)| name),
        );
        let services = ids(
            setup::list_services(state).await?,
            "services",
            &DEMO_SERVICES.map(|(name, ..)| name),
        );
        return Ok(Demo {
            time_zone: "America/New_York",
            providers: providers
                .iter()
                .filter_map(|p| ProviderId::parse(p))
                .collect(),
            services: services
                .iter()
                .filter_map(|s| ServiceId::parse(s))
                .collect(),
            patient_id,
            created: false,
        });
    }
    let admin = seeder();
    let reply = |r: shared::unit_of_work::Reply| r.body;
    setup::put_practice(
        state,
        &admin,
        None,
        setup::PracticeRequest {
            name: "Riverside Family Therapy".into(),
            time_zone: "America/New_York".into(),
            hold_minutes: 5,
            waitlist_offer_minutes: 60,
            limits: Default::default(),
            notifications: domain::notify::Settings {
                portal_url: portal_url
                    .unwrap_or_else(|| domain::notify::Settings::default().portal_url),
                ..Default::default()
            },
            contact: domain::booking::Contact {
                address: Some("12 River Street, Springfield".into()),
                phone: Some("+1 555 010 0199".into()),
            },
            // The front desk marks no-shows (the demo's day is marked by hand).
            auto_no_show_minutes: None,
            visit_room: Default::default(),
        },
    )
    .await?;
    let mut providers = Vec::new();
    for (name, login, (start, end)) in DEMO_PROVIDERS {
        let body = reply(
            setup::create_provider(
                state,
                &admin,
                None,
                setup::ProviderRequest {
                    name: name.into(),
                    subject: Subject::parse(login),
                    rules: weekday_rules(start, end),
                },
            )
            .await?,
        );
        providers.push(
            ProviderId::parse(body["id"].as_str().unwrap_or_default()).ok_or_else(|| {
                ApiError::Unexpected(anyhow::anyhow!("created provider has no id"))
            })?,
        );
    }
    // The starter consent documents and forms (the practice replaces their words with its own).
    shared::booking::consents::publish_starters(state, &admin).await?;
    shared::booking::forms::publish_starters(state, &admin).await?;
    let form = |id: &str| domain::forms::FormId::parse(id).expect("a starter form");
    let usd = Currency::parse("USD").expect("known currency");
    let mut services = Vec::new();
    // Follow-up sessions are what weekly clients come for: patients may book them as a series.
    // A first consultation asks for the intake questionnaire and the PHQ-9 beforehand.
    for (name, minutes, cents, series, first_forms) in DEMO_SERVICES {
        let first_forms: Vec<_> = first_forms.iter().map(|f| form(f)).collect();
        let body = reply(
            setup::create_service(
                state,
                &admin,
                None,
                setup::ServiceRequest {
                    name: name.into(),
                    duration_minutes: minutes,
                    price: Money::new(cents, usd),
                    provider_ids: providers.clone(),
                    self_book_series: series,
                    required_consents: Vec::new(),
                    forms_before_first_visit: first_forms,
                    forms_before_every_visit: Vec::new(),
                    cancellation_policy: match name {
                        _ if name == DEMO_SERVICES[0].0 => Some(DEMO_POLICY),
                        _ if name == DEMO_SERVICES[2].0 => Some(DEPOSIT_POLICY),
                        _ => None,
                    },
                    // Follow-ups may be held in person or online (a video visit), as she chooses.
                    visit_mode: if name == DEMO_SERVICES[1].0 {
                        domain::booking::VisitMode::Either
                    } else {
                        domain::booking::VisitMode::InPerson
                    },
                },
            )
            .await?,
        );
        services.push(
            ServiceId::parse(body["id"].as_str().unwrap_or_default()).ok_or_else(|| {
                ApiError::Unexpected(anyhow::anyhow!("created service has no id"))
            })?,
        );
    }
    patients::create(
        state,
        &admin,
        None,
        patients::NewPatient {
            patient_id: patient_id.clone(),
            name: Sensitive::new("Jane Demo-Patient".into()),
            date_of_birth: Sensitive::new(jiff::civil::date(1988, 4, 12)),
            phone: Sensitive::new("+1 555 0100 123".into()),
            email: Sensitive::new(DEMO_PATIENT_EMAIL.into()),
        },
    )
    .await?;
    // Jane has turned email notifications on herself (her address was typed by staff, so it is
    // not verified and email would otherwise stay off); SMS stays off without her consent.
    let jane = Caller {
        principal: Principal {
            subject: Subject::parse(DEMO_PATIENT).expect("valid subject"),
            roles: BTreeSet::from([Role::Patient]),
            verified_email: None,
            display_name: None,
        },
        request_id: format!("seed-{}", ulid::Ulid::new()),
        source: domain::access::Source::local("seed"),
    };
    let choice = shared::notify::preferences::PreferencesRequest {
        email: true,
        sms: false,
    };
    shared::notify::preferences::put(state, &jane, None, choice).await?;
    Ok(Demo {
        time_zone: "America/New_York",
        providers,
        services,
        patient_id,
        created: true,
    })
}
