//! Notification delivery benchmark, on the embedded store: a backlog of 10,000 due reminders (one
//! per booked appointment, 2,000 patients with sealed contact details, email on), delivered by the
//! notify job's `deliver_due` to a provider that accepts at once. Prints messages claimed, checked,
//! rendered, sent and marked per second, and the rendering alone. Run with `scripts/bench`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use domain::access::Caller;
use domain::booking::{Appointment, Limits, Practice, Status};
use domain::ids::{AppointmentId, PatientId, ProviderId, ServiceId};
use domain::notify::{Channel, Fields, Kind, Message, Settings, Templates};
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::auth::{Principal, Role, Subject};
use shared::notify::{Delivery, Envelope, Notifier, NotifyError, Sent};
use shared::store::codec::booking::{AppointmentCodec, PracticeCodec};
use shared::store::codec::notify::MessageCodec;
use shared::store::{Item, Table, TransactOp};

const MESSAGES: usize = 10_000;
const PATIENTS: usize = 2_000;
const NOW: i64 = 1_795_438_800;

/// A provider that accepts everything at once: what is measured is ours.
struct Accept(AtomicUsize);

#[async_trait::async_trait]
impl Notifier for Accept {
    async fn send(&self, envelope: &Envelope) -> Result<Sent, NotifyError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Sent {
            provider_id: envelope.dedupe_key.clone(),
        })
    }
}

async fn write(table: &dyn Table, items: Vec<Item>) {
    for chunk in items.chunks(100) {
        let ops = chunk
            .iter()
            .map(|item| TransactOp::Put {
                item: item.clone(),
                condition: None,
            })
            .collect();
        table.transact_write(ops).await.expect("write");
    }
}

fn caller(sub: &str, role: Role) -> Caller {
    Caller {
        principal: Principal {
            subject: Subject::parse(sub).expect("subject"),
            roles: [role].into(),
            verified_email: None,
            display_name: None,
        },
        request_id: format!("bench-{sub}"),
        source: domain::access::Source::local("bench"),
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = Arc::new(EmbeddedTable::open(&dir.path().join("table.redb")).expect("embedded"));
    let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).expect("issuer");
    let clock = Arc::new(domain::clock::ManualClock::new(
        jiff::Timestamp::from_second(NOW).expect("time"),
    ));
    let state = shared::state::AppState::assemble(shared::app::Parts {
        table: table.clone(),
        table_name: "practica-bench".into(),
        keys: Arc::new(shared::adapters::local_keys::LocalKeys::from_key(&[7; 32])),
        jwks: Arc::new(shared::auth::StaticJwks(issuer.jwks().clone())),
        auth: shared::auth::AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
        cache: shared::crypto::CachePolicy::default(),
        clock,
    });
    let practice = Practice {
        name: "Riverside Family Therapy".into(),
        zone: jiff::tz::TimeZone::get("America/New_York").expect("zone"),
        hold_minutes: 5,
        waitlist_offer_minutes: 60,
        limits: Limits::default(),
        notifications: Settings {
            messages_per_patient_per_day: 50,
            ..Settings::default()
        },
        contact: Default::default(),
        auto_no_show_minutes: None,
        visit_room: Default::default(),
    };
    let t = Instant::now();
    let mut items = vec![practice.to_item()];
    let admin = caller("bench-admin", Role::Admin);
    let patients: Vec<PatientId> = (0..PATIENTS)
        .map(|i| PatientId::parse(&format!("patient-{i:04}")).expect("id"))
        .collect();
    for (i, id) in patients.iter().enumerate() {
        shared::booking::patients::create(
            &state,
            &admin,
            None,
            shared::booking::patients::NewPatient {
                patient_id: id.clone(),
                name: domain::sensitive::Sensitive::new(format!("Patient{i} Example")),
                date_of_birth: domain::sensitive::Sensitive::new(jiff::civil::date(1980, 1, 1)),
                phone: domain::sensitive::Sensitive::new("+1 555 0100 123".into()),
                email: domain::sensitive::Sensitive::new(format!("patient{i}@example.org")),
            },
        )
        .await
        .expect("patient");
    }
    let on = shared::notify::preferences::PreferencesRequest {
        email: true,
        sms: false,
    };
    for id in &patients {
        let me = caller(id.as_str(), Role::Patient);
        shared::notify::preferences::put(&state, &me, None, on.clone())
            .await
            .expect("preferences");
    }
    let (provider, service) = (ProviderId::new(), ServiceId::new());
    for i in 0..MESSAGES {
        let start = NOW + 2 * 3600 + (i as i64 % 40) * 1800;
        let appt = Appointment {
            id: AppointmentId::new(),
            patient: patients[i % PATIENTS].clone(),
            provider: provider.clone(),
            service: service.clone(),
            start,
            end: start + 1800,
            occupied: (start, start + 1800),
            status: Status::Booked,
            version: 1,
            created_at: NOW - 86_400,
            quota_slot: None,
            from_hold: None,
            series: None,
            terms: None,
            by_practice: false,
            deposit: None,
            online: false,
        };
        let reminder = Message::new(Kind::Reminder, &appt.patient, NOW - 60, NOW - 86_400).about(
            &appt.id,
            appt.version,
            appt.start,
        );
        items.push(appt.to_item(None));
        items.push(reminder.to_item());
    }
    write(&*table, items).await;
    println!(
        "notify benchmark: {PATIENTS} patients, {MESSAGES} appointments and due reminders written in {:.1?}",
        t.elapsed()
    );

    let templates = Templates::builtin();
    let t = Instant::now();
    let mut bytes = 0;
    for i in 0..MESSAGES {
        let fields = Fields {
            first_name: "Patient",
            practice: &practice.name,
            when: "Tue 24 Nov 2026, 10:00 EST",
            expires: "",
            link: &practice.notifications.portal_url,
            policy: "",
            visit: "",
        };
        let channel = if i % 2 == 0 {
            Channel::Email
        } else {
            Channel::Sms
        };
        bytes += templates
            .render(Kind::Reminder, channel, &fields)
            .text
            .len();
    }
    let render = t.elapsed();
    println!(
        "  rendering alone: {MESSAGES} messages in {render:.2?} = {:.0} messages/s ({bytes} bytes of text)",
        MESSAGES as f64 / render.as_secs_f64()
    );

    let provider = Arc::new(Accept(AtomicUsize::new(0)));
    let delivery = Delivery {
        notifier: provider.clone(),
        templates: Arc::new(templates),
    };
    let t = Instant::now();
    let done = shared::notify::deliver_due(&state, &delivery, MESSAGES)
        .await
        .expect("deliver");
    let took = t.elapsed();
    let sent = provider.0.load(Ordering::Relaxed);
    assert_eq!(
        (done.len(), sent),
        (MESSAGES, MESSAGES),
        "every reminder sent once"
    );
    println!(
        "  delivery (read, claim with the day's allowance, check the appointment, open the contact, render, send, mark with its audit entry): {MESSAGES} in {took:.2?} = {:.0} messages/s",
        MESSAGES as f64 / took.as_secs_f64()
    );
    let again = shared::notify::deliver_due(&state, &delivery, MESSAGES)
        .await
        .expect("deliver");
    assert!(again.is_empty(), "nothing is due twice");
}
