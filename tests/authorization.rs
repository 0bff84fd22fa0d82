//! The authorization table: every booking and payments route × every role × own/other record. Each case runs on
//! a fresh seeded stack; a refusal must leave the table exactly as it was.

use http::StatusCode;
use practica_tests::Stack;
use practica_tests::{is_denial, without_denials};
use serde_json::{Value, json};
use shared::auth::Role;

/// Who calls: Jane owns the records; John is another patient; Rivera is the appointment's
/// provider, Okafor another provider.
/// "nobody" is signed in but in no known group: only `/v1/me` answers them.
const ACTORS: [(&str, Option<&[Role]>); 8] = [
    ("patient-jane", Some(&[Role::Patient])),
    ("patient-john", Some(&[Role::Patient])),
    ("provider-rivera", Some(&[Role::Provider])),
    ("provider-okafor", Some(&[Role::Provider])),
    ("staff-1", Some(&[Role::Staff])),
    ("admin-1", Some(&[Role::Admin])),
    ("anonymous", None),
    ("nobody", Some(&[])),
];

struct Case {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    /// Expected status per actor, in the order of [`ACTORS`].
    expect: [u16; 8],
}

fn case(method: &'static str, path: &'static str, body: Option<Value>, expect: [u16; 8]) -> Case {
    Case {
        method,
        path,
        body,
        expect,
    }
}

fn fill(text: &str, ids: &[(&str, String)]) -> String {
    ids.iter()
        .fold(text.to_owned(), |t, (k, v)| t.replace(k, v))
}

#[tokio::test]
async fn every_route_role_and_ownership() {
    let tue = |t: &str| format!("2026-11-24T{t}:00-05:00");
    let for_jane = |start: String| json!({"providerId": "{P}", "serviceId": "{S}", "start": start, "patientId": "patient-jane"});
    let patient = json!({"name": "New Person", "dateOfBirth": "1990-02-03", "phone": "+1 555 0100 999", "email": "new@example.org"});
    let mut new_patient = patient.clone();
    new_patient["patientId"] = json!("patient-new");
    let rules = json!({"hours": {"mon": [{"start": "09:00", "end": "17:00"}]}});
    // The starter treatment consent's version, as the demo practice publishes it.
    let treatment = domain::consent::version_hash(domain::consent::starter_documents()[1].2);
    let gad = domain::forms::gad7().version_hash();
    let cases = [
        case(
            "GET",
            "/v1/me",
            None,
            [200, 200, 200, 200, 200, 200, 401, 200],
        ),
        case(
            "GET",
            "/v1/practice",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "PUT",
            "/v1/practice",
            Some(json!({"name": "X", "timeZone": "Europe/Paris"})),
            [403, 403, 403, 403, 403, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/providers",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/providers",
            Some(json!({"name": "Dr. New", "rules": rules})),
            [403, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/providers/{P}",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "PUT",
            "/v1/providers/{P}/schedule",
            Some(rules.clone()),
            [403, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/providers/{P}/availability?serviceId={S}&from=2026-11-24T00%3A00%3A00Z&to=2026-11-25T00%3A00%3A00Z",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/services",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/services",
            Some(json!({"name": "New", "durationMinutes": 30, "providerIds": ["{P}"]})),
            [403, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/holds",
            Some(for_jane(tue("14:00"))),
            [201, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/appointments",
            Some(for_jane(tue("14:00"))),
            [201, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/appointments",
            None,
            [200, 200, 400, 400, 400, 400, 401, 403],
        ),
        case(
            "GET",
            "/v1/appointments?providerId={P}&from=2026-11-24T00%3A00%3A00Z&to=2026-11-25T00%3A00%3A00Z",
            None,
            [403, 403, 200, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/appointments/{A}",
            None,
            [200, 403, 200, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/appointments/{A}/reschedule",
            Some(json!({"start": tue("16:00")})),
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        // Held in person: no visit room, for whoever may enter one (its patient, its provider);
        // nobody else enters (staff host only for a provider without a login).
        case(
            "GET",
            "/v1/appointments/{A}/visit",
            None,
            [409, 403, 409, 403, 403, 403, 401, 403],
        ),
        case(
            "POST",
            "/v1/appointments/{A}/visit/join",
            Some(json!({})),
            [409, 403, 409, 403, 403, 403, 401, 403],
        ),
        case(
            "POST",
            "/v1/appointments/{A}/visit/admit",
            Some(json!({})),
            [409, 403, 409, 403, 403, 403, 401, 403],
        ),
        case(
            "POST",
            "/v1/appointments/{A}/visit/leave",
            Some(json!({})),
            [409, 403, 409, 403, 403, 403, 401, 403],
        ),
        // A booking waiting for no deposit: nothing to pay, for whoever may see it.
        case(
            "POST",
            "/v1/appointments/{A}/deposit",
            Some(json!({})),
            [409, 403, 403, 403, 409, 409, 401, 403],
        ),
        case(
            "POST",
            "/v1/appointments/{A}/cancel",
            Some(json!({})),
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/calendar-feeds",
            Some(json!({"providerId": "{P}"})),
            [403, 403, 201, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/calendar-feeds",
            None,
            [403, 403, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/calendar-feeds/revoke",
            Some(json!({"providerId": "{P}"})),
            [403, 403, 404, 403, 404, 404, 401, 403],
        ),
        case(
            "GET",
            "/v1/forms",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "PUT",
            "/v1/forms/check-in",
            Some(
                json!({"title": "Check-in", "sections": [{"title": "Today", "questions": [{"id": "mood", "text": "Mood", "kind": "yes_no"}]}]}),
            ),
            [403, 403, 403, 403, 403, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/forms/gad-7/submissions",
            Some(
                json!({"versionHash": gad, "answers": {"gad-1": 0, "gad-2": 0, "gad-3": 0, "gad-4": 0, "gad-5": 0, "gad-6": 0, "gad-7": 0}}),
            ),
            [201, 403, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/forms/gad-7/draft",
            None,
            [200, 200, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/forms",
            None,
            [200, 403, 200, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/forms/fsub_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            None,
            [404, 403, 404, 403, 404, 404, 401, 403],
        ),
        case(
            "GET",
            "/v1/consents",
            None,
            [200, 200, 200, 200, 200, 200, 401, 403],
        ),
        case(
            "PUT",
            "/v1/consents/treatment",
            Some(json!({"title": "Consent to treatment", "text": "New words."})),
            [403, 403, 403, 403, 403, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/consents/treatment/sign",
            Some(
                json!({"versionHash": treatment, "typedName": "Jane Demo-Patient", "agree": true}),
            ),
            [201, 403, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "POST",
            "/v1/consents/treatment/withdraw",
            Some(json!({"typedName": "Jane Demo-Patient", "agree": true})),
            [409, 409, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/consents",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/consents/sig_01ARZ3NDEKTSV4RRFFQ69G5FAV",
            None,
            [404, 403, 403, 403, 404, 404, 401, 403],
        ),
        case(
            "POST",
            "/v1/providers/{P}/calendars",
            Some(json!({"label": "Personal", "address": "https://calendar.example/p.ics"})),
            [403, 403, 201, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/providers/{P}/calendars",
            None,
            [403, 403, 200, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/providers/{P}/calendars/cal_01ARZ3NDEKTSV4RRFFQ69G5FAV/remove",
            Some(json!({})),
            [403, 403, 404, 403, 404, 404, 401, 403],
        ),
        case(
            "POST",
            "/v1/series",
            Some(
                json!({"providerId": "{P}", "serviceId": "{S}", "start": tue("16:30"), "everyWeeks": 1, "count": 2, "patientId": "patient-jane"}),
            ),
            [201, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/series?patientId=patient-jane",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/series/{SER}",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/series/{SER}/move",
            Some(json!({"fromAppointmentId": "{O}", "start": "2026-11-25T15:00:00-05:00"})),
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/series/{SER}/cancel",
            Some(json!({"fromAppointmentId": "{O}"})),
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/patients",
            Some(new_patient),
            [403, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/patients/search",
            Some(json!({"email": "jane.demo@example.org"})),
            [403, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/me",
            None,
            [200, 404, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/access-log",
            None,
            [200, 403, 403, 403, 403, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/staff",
            None,
            [403, 403, 403, 403, 403, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/staff",
            Some(json!({"email": "sam.lee@example.org", "name": "Sam Lee", "role": "staff"})),
            [403, 403, 403, 403, 403, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/staff/provider-rivera/disable",
            Some(json!({})),
            [403, 403, 403, 403, 403, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/record",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/patient-jane/record?format=html",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/me/access-log",
            None,
            [200, 200, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/patients/me/notifications",
            None,
            [200, 200, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/audit?from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z&patientId=patient-jane",
            None,
            [403, 403, 403, 403, 403, 200, 401, 403],
        ),
        case(
            "PUT",
            "/v1/patients/me",
            Some(patient),
            [200, 200, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "PUT",
            "/v1/patients/me/notifications",
            Some(json!({"email": true, "sms": false})),
            [200, 200, 403, 403, 403, 403, 401, 403],
        ),
        // No ID token sent: nothing vouches for an address (email_verification.rs has the rest).
        case(
            "POST",
            "/v1/patients/me/email-verification",
            Some(json!({})),
            [422, 422, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "POST",
            "/v1/waitlist",
            Some(
                json!({"providerId": "{P}", "serviceId": "{S}", "from": tue("09:00"), "to": tue("17:00"), "patientId": "patient-jane"}),
            ),
            [201, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/waitlist",
            None,
            [200, 200, 403, 403, 400, 400, 401, 403],
        ),
        case(
            "GET",
            "/v1/waitlist?providerId={P}",
            None,
            [403, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/charges",
            Some(
                json!({"patientId": "patient-jane", "currency": "USD", "lineItems": [{"description": "Visit", "amount": 500}]}),
            ),
            [403, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "POST",
            "/v1/charges/chg_01KQ0000000000000000000000/waive",
            Some(json!({"patientId": "patient-jane", "reason": "goodwill"})),
            [403, 403, 403, 403, 422, 422, 401, 403],
        ),
        case(
            "GET",
            "/v1/balance",
            None,
            [200, 200, 403, 403, 422, 422, 401, 403],
        ),
        case(
            "GET",
            "/v1/balance?patientId=patient-jane",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/payment-intents",
            Some(json!({"currency": "USD", "patientId": "patient-jane"})),
            [201, 403, 403, 403, 201, 201, 401, 403],
        ),
        case(
            "GET",
            "/v1/cards",
            None,
            [200, 200, 403, 403, 422, 422, 401, 403],
        ),
        case(
            "GET",
            "/v1/cards?patientId=patient-jane",
            None,
            [200, 403, 403, 403, 200, 200, 401, 403],
        ),
        // Only a patient saves a card (and only once she signed the card authorisation).
        case(
            "POST",
            "/v1/cards/setup",
            Some(json!({})),
            [409, 409, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "POST",
            "/v1/cards/remove",
            Some(json!({"patientId": "patient-jane", "paymentMethodId": "pm_none"})),
            [404, 403, 403, 403, 404, 404, 401, 403],
        ),
        case(
            "GET",
            "/v1/disputes",
            None,
            [403, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/disputes/dp_none/evidence",
            Some(json!({})),
            [403, 403, 403, 403, 404, 404, 401, 403],
        ),
        case(
            "POST",
            "/v1/disputes/dp_none/submit",
            Some(json!({})),
            [403, 403, 403, 403, 404, 404, 401, 403],
        ),
        case(
            "POST",
            "/v1/feedback",
            Some(json!({"category": "care", "text": "Kind staff."})),
            [201, 201, 403, 403, 403, 403, 401, 403],
        ),
        // Only the appointment's own patient may name it.
        case(
            "POST",
            "/v1/feedback",
            Some(json!({"category": "care", "text": "Kind staff.", "appointmentId": "{A}"})),
            [201, 422, 403, 403, 403, 403, 401, 403],
        ),
        case(
            "GET",
            "/v1/feedback",
            None,
            [200, 200, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "POST",
            "/v1/feedback/{F}/resolve",
            Some(json!({"note": "Thanked the patient."})),
            [403, 403, 403, 403, 200, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/reports",
            None,
            [403, 403, 403, 403, 403, 200, 401, 403],
        ),
        case(
            "GET",
            "/v1/reports/2026-11-16_2026-11-23/report.html",
            None,
            [403, 403, 403, 403, 403, 404, 401, 403],
        ),
        // John has nothing to pay; staff must name the patient.
        case(
            "POST",
            "/v1/payment-intents",
            Some(json!({"currency": "USD"})),
            [201, 422, 403, 403, 422, 422, 401, 403],
        ),
    ];
    let mut failures = Vec::new();
    let mut denials = Vec::new();
    for case in &cases {
        for ((sub, role), expected) in ACTORS.iter().zip(case.expect) {
            let stack = Stack::embedded();
            let demo = stack.seed().await;
            let jane = stack.token("patient-jane", &[Role::Patient]);
            let (_, _, appointment) = stack
                .send(
                    "POST",
                    "/v1/appointments",
                    Some(&jane),
                    Some("setup"),
                    Some(json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": tue("10:00")})),
                )
                .await;
            let staff = stack.token("staff-1", &[Role::Staff]);
            let (charged, _, _) = stack
                .send(
                    "POST",
                    "/v1/charges",
                    Some(&staff),
                    Some("setup-charge"),
                    Some(json!({"patientId": "patient-jane", "currency": "USD", "lineItems": [{"description": "Visit", "amount": 15000}]})),
                )
                .await;
            assert_eq!(charged, StatusCode::CREATED);
            let (_, _, feedback) = stack
                .send(
                    "POST",
                    "/v1/feedback",
                    Some(&jane),
                    Some("setup-feedback"),
                    Some(json!({"category": "billing", "text": "Two bills for one visit."})),
                )
                .await;
            let (_, _, series) = stack
                .send(
                    "POST",
                    "/v1/series",
                    Some(&staff),
                    Some("setup-series"),
                    Some(json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": tue("15:00"), "everyWeeks": 1, "count": 3, "patientId": "patient-jane"})),
                )
                .await;
            let ids = [
                ("{SER}", series["id"].as_str().unwrap().to_owned()),
                (
                    "{O}",
                    series["occurrences"][1]["appointmentId"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ),
                ("{F}", feedback["id"].as_str().unwrap().to_owned()),
                ("{P}", demo.providers[0].to_string()),
                ("{S}", demo.services[1].to_string()),
                ("{A}", appointment["id"].as_str().unwrap().to_owned()),
            ];
            let path = fill(case.path, &ids);
            let body = case
                .body
                .as_ref()
                .map(|b| serde_json::from_str(&fill(&b.to_string(), &ids)).unwrap());
            let token = role.map(|roles| stack.token(sub, roles));
            let before = without_denials(stack.scan().await);
            let (status, _, problem) = stack
                .send(case.method, &path, token.as_deref(), Some("case"), body)
                .await;
            if status.as_u16() != expected {
                failures.push(format!(
                    "{} {} as {sub}: {status} (expected {expected}) {problem}",
                    case.method, case.path
                ));
            }
            if status.as_u16() >= 400 && without_denials(stack.scan().await) != before {
                failures.push(format!(
                    "{} {} as {sub}: refused but the table changed",
                    case.method, case.path
                ));
            }
            if status == StatusCode::FORBIDDEN {
                assert_eq!(problem["code"], "forbidden");
            }
            denials.extend(stack.scan().await.into_iter().filter(is_denial));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The refusals of requests aimed at patient data were recorded, with the target and the
    // caller, and nothing else: no patient data in a record of a refusal.
    assert!(!denials.is_empty(), "refusals on patient data are audited");
    let allowed = [
        "gsi1pk",
        "gsi1sk",
        "at",
        "actor",
        "actor_name",
        "roles",
        "action",
        "action_kind",
        "agent_kind",
        "patient_ids",
        "entity",
        "entity_id",
        "outcome",
        "request_id",
        "source_function",
        "source_address",
        // The salt of its commitments and the canonical form: random, about no one.
        "salt",
        "canon",
    ];
    for record in &denials {
        for name in record.attrs.keys() {
            assert!(allowed.contains(&name.as_str()), "{name} in {record:?}");
        }
    }
    assert!(
        denials.iter().any(
            |d| d.get("actor").and_then(shared::store::AttrValue::as_s) == Some("patient-john")
        ),
        "{denials:?}"
    );
}

/// A provider's login subject (the staff pool's id of a person) is shown to staff, admins and the
/// provider themselves, never to patients.
#[tokio::test]
async fn patients_do_not_see_providers_login_subjects() {
    let stack = practica_tests::Stack::embedded();
    let demo = stack.seed().await;
    let provider = demo.providers[0].as_str();
    let (_, _, staff_view) = stack
        .send(
            "GET",
            "/v1/providers",
            Some(&stack.token("staff-1", &[shared::auth::Role::Staff])),
            None,
            None,
        )
        .await;
    // The listing's order is the index's, not the seed's: the provider is found by its id.
    let subject = staff_view["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == provider)
        .and_then(|p| p["subject"].as_str())
        .expect("staff see the login")
        .to_owned();
    let patient = stack.token("patient-jane", &[shared::auth::Role::Patient]);
    for path in [
        "/v1/providers".to_owned(),
        format!("/v1/providers/{provider}"),
    ] {
        let (status, _, seen) = stack.send("GET", &path, Some(&patient), None, None).await;
        assert_eq!(status, http::StatusCode::OK, "{seen}");
        assert!(!seen.to_string().contains(&subject), "{path}: {seen}");
        assert!(!seen.to_string().contains("\"subject\""), "{path}: {seen}");
    }
    let own = stack.token(&subject, &[shared::auth::Role::Provider]);
    let (_, _, mine) = stack
        .send(
            "GET",
            &format!("/v1/providers/{provider}"),
            Some(&own),
            None,
            None,
        )
        .await;
    assert_eq!(mine["subject"], subject.as_str());
}
