//! Least privilege by partition. [`WRITERS`] says which function may write which partitions of
//! the table (the patterns of `shared::store::keys::PARTITIONS`, the code's key layout). Checked
//! three ways:
//! - every partition of the key layout has a writer, and every writer's pattern is a partition;
//! - the template grants each function's write actions on the table only under a
//!   `dynamodb:LeadingKeys` condition naming exactly its partitions, denies every function
//!   `UpdateItem`/`DeleteItem` on audit entries, and lets only the audit function write the log;
//! - each function's code, driven through its router or handler by the `events/` fixtures over a
//!   table that records every write, writes nowhere else.
//!
//! A new partition in `keys.rs` fails `keys::tests` until it is in `PARTITIONS`, then this test
//! until a function is granted it here and in the template.
//!
//! Also the portal's distribution: only it reads the portal bucket, it sends the security headers
//! `practica serve` sends, the API is under the same origin and never cached, WAF limits each
//! client; and `practica publish-portal` puts every file where the distribution serves it from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use shared::auth::Role;
use shared::store::keys::{PARTITIONS, partition_pattern};
use shared::store::{
    Condition, Consistency, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
};

/// Which partitions each function writes (put, update or delete), by its template resource.
const WRITERS: &[(&str, &[&str])] = &[
    (
        "BookingFunction",
        &[
            "PRACTICE",
            "PROVIDER#*",
            "SERVICE#*",
            "LOCK#*",
            "APPT#*",
            "PATIENT#*",
            "HOLD#*",
            "SERIES#*",
            "FEED#*",
            "FEEDTOKEN#*",
            "BUSYCAL#*",
            "CONSENTDOC#*",
            "FORM#*",
            "WAITLIST#*",
            "FEEDBACK#*",
            "LEDGER#*",
            "FEE_TASKS",
            "DETACH_TASKS",
            "DEPOSIT_TASKS",
            "REFUND_TASKS",
            "MSG#*",
            "AUDIT#*",
            "IDEM#*",
            "KEYRING",
            "COUNTER#*",
            // A workforce login's standing (disabled), by the administrator who disables it.
            "STAFF#*",
        ],
    ),
    (
        "PaymentsFunction",
        &[
            "LEDGER#*",
            "INTENT#*",
            "CUSTOMER#*",
            "SETUP#*",
            "PAYMENT_METHOD#*",
            "DISPUTE#*",
            "AUDIT#*",
            "IDEM#*",
            "COUNTER#*",
        ],
    ),
    (
        "WebhooksFunction",
        &[
            "WEBHOOK#*",
            "LEDGER#*",
            "PAYMENT_METHOD#*",
            "DETACH_TASKS",
            "DISPUTE#*",
            "MSG#*",
            "AUDIT#*",
            "COUNTER#*",
            "APPT#*",
            "PATIENT#*",
            "LOCK#*",
            "REFUND_TASKS",
        ],
    ),
    (
        "SweepFunction",
        &[
            "LOCK#*",
            "APPT#*",
            "PATIENT#*",
            "HOLD#*",
            "SERIES#*",
            "BUSYCAL#*",
            "WAITLIST#*",
            "LEDGER#*",
            "INTENT#*",
            "FEE_TASKS",
            "DETACH_TASKS",
            "DEPOSIT_TASKS",
            "REFUND_TASKS",
            "MSG#*",
            "AUDIT#*",
        ],
    ),
    ("NotifyFunction", &["MSG#*", "PATIENT#*", "AUDIT#*"]),
    ("ReportsFunction", &["AUDIT#*", "COUNTER#*"]),
    (
        "AuditFunction",
        &["AUDITLOG", "AUDITLOG#*", "AUDIT#*", "COUNTER#*"],
    ),
];

fn writers(function: &str) -> BTreeSet<&'static str> {
    WRITERS
        .iter()
        .find(|(f, _)| *f == function)
        .unwrap_or_else(|| panic!("{function} is not in WRITERS"))
        .1
        .iter()
        .copied()
        .collect()
}

#[test]
fn every_partition_has_a_writer_and_every_writer_a_partition() {
    let granted: BTreeSet<&str> = WRITERS
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .collect();
    for partition in PARTITIONS {
        assert!(
            granted.contains(partition),
            "no function may write {partition}: grant it in WRITERS and the template"
        );
    }
    for (function, patterns) in WRITERS {
        for pattern in *patterns {
            assert!(
                PARTITIONS.contains(pattern),
                "{function}: {pattern} is not a partition of shared::store::keys::PARTITIONS"
            );
        }
    }
    // Only the audit function writes the log; it writes nothing else.
    for (function, patterns) in WRITERS {
        let log = patterns.iter().any(|p| p.starts_with("AUDITLOG"));
        assert_eq!(log, *function == "AuditFunction", "{function}");
    }
}

// --- the template ---

/// The policy statements of a function: its SAM `Policies`, or its explicit role's policies.
fn statements(template: &Value, function: &str) -> Vec<Value> {
    let resources = &template["Resources"];
    let properties = &resources[function]["Properties"];
    let policies: Vec<Value> = match properties.get("Role") {
        Some(role) => {
            let role = role["Fn::GetAtt"][0]
                .as_str()
                .expect("Role: !GetAtt <role>.Arn");
            resources[role]["Properties"]["Policies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["PolicyDocument"].clone())
                .collect()
        }
        None => properties["Policies"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    };
    policies
        .iter()
        .flat_map(|p| p["Statement"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The table write actions a function's template allows.
fn allowed_writes(template: &Value, function: &str) -> BTreeSet<String> {
    statements(template, function)
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| as_list(&s["Action"]))
        .filter(|a| TABLE_WRITES.contains(&a.as_str()))
        .collect()
}

/// Whether a statement's `dynamodb:LeadingKeys` condition (if any) covers the partitions of
/// `pattern` (one of `keys::PARTITIONS`): a glob equal to it, or a `prefix*` it starts with.
fn covers(statement: &Value, pattern: &str) -> Option<bool> {
    let keys = statement["Condition"]
        .as_object()?
        .values()
        .find_map(|test| test.get("dynamodb:LeadingKeys"))?;
    Some(as_list(keys).iter().any(|glob| {
        glob == pattern
            || glob
                .strip_suffix('*')
                .is_some_and(|prefix| pattern.starts_with(prefix))
    }))
}

/// Whether the template lets `function` do `action` on the partitions of `pattern`: an Allow of
/// the action whose partitions cover it, and no Deny of the action on them (Denys that hang on
/// other conditions too, such as the attributes written, are not about every write).
fn allows(template: &Value, function: &str, action: &str, pattern: &str) -> bool {
    let of_action = |s: &&Value| as_list(&s["Action"]).iter().any(|a| a == action);
    let all = statements(template, function);
    let allowed = all
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .filter(of_action)
        .any(|s| covers(s, pattern).unwrap_or(true));
    let denied = all
        .iter()
        .filter(|s| s["Effect"] == "Deny")
        .filter(of_action)
        .filter(|s| {
            // Only Denys conditioned on the partitions alone (or on nothing).
            s["Condition"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
                .filter_map(Value::as_object)
                .flat_map(|test| test.keys())
                .all(|key| key == "dynamodb:LeadingKeys")
        })
        .any(|s| covers(s, pattern).unwrap_or(true));
    allowed && !denied
}

fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// Functions that write ledgers only to add the fees a booking change charges: puts alone.
const LEDGER_PUT_ONLY: [&str; 2] = ["BookingFunction", "SweepFunction"];

const TABLE_WRITES: [&str; 4] = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

#[test]
fn the_template_grants_each_function_exactly_its_partitions() {
    let template = practica_tests::template();
    let functions: Vec<String> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(name, _)| name.clone())
        .collect();
    let listed: BTreeSet<String> = WRITERS.iter().map(|(f, _)| (*f).to_owned()).collect();
    assert_eq!(
        functions.iter().cloned().collect::<BTreeSet<_>>(),
        listed,
        "every function of the template is in WRITERS, and only those"
    );
    for function in &functions {
        let statements = statements(&template, function);
        let mut granted = BTreeSet::new();
        let mut denied_audit = BTreeSet::new();
        for s in &statements {
            let actions = as_list(&s["Action"]);
            let writes: Vec<&String> = actions
                .iter()
                .filter(|a| TABLE_WRITES.contains(&a.as_str()) || a.ends_with('*'))
                .collect();
            if writes.is_empty() {
                continue;
            }
            let condition = &s["Condition"];
            match s["Effect"].as_str().unwrap() {
                "Allow" => {
                    let keys = &condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                    assert!(
                        keys.is_array(),
                        "{function}: {writes:?} without a ForAllValues:StringLike \
                         dynamodb:LeadingKeys condition: {s}"
                    );
                    assert!(
                        actions.iter().all(|a| !a.ends_with('*')),
                        "{function}: a wildcard action on the table: {s}"
                    );
                    granted.extend(as_list(keys));
                    // The blind-index key may be created (a conditional put), never changed or
                    // deleted.
                    assert!(
                        !as_list(keys).contains(&"KEYRING".to_owned())
                            || actions == ["dynamodb:PutItem"],
                        "{function}: KEYRING with {actions:?}"
                    );
                    // Functions that add fees to ledgers only put new entries there.
                    assert!(
                        !as_list(keys).contains(&"LEDGER#*".to_owned())
                            || !LEDGER_PUT_ONLY.contains(&function.as_str())
                            || actions == ["dynamodb:PutItem"],
                        "{function}: LEDGER#* with {actions:?}"
                    );
                }
                _ => {
                    let keys = &condition["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"];
                    for a in &writes {
                        for k in as_list(keys) {
                            denied_audit.insert(((*a).clone(), k));
                        }
                    }
                }
            }
        }
        let expected: BTreeSet<String> = writers(function).into_iter().map(str::to_owned).collect();
        assert_eq!(
            granted, expected,
            "{function}: LeadingKeys granted vs WRITERS"
        );
        // Audit entries are append-only for everyone.
        for action in ["dynamodb:UpdateItem", "dynamodb:DeleteItem"] {
            assert!(
                denied_audit.contains(&(action.to_owned(), "AUDIT#*".to_owned())),
                "{function}: no explicit deny of {action} on AUDIT#*"
            );
        }
        // The audit log is the audit function's alone.
        if function != "AuditFunction" {
            for action in &TABLE_WRITES[..3] {
                assert!(
                    denied_audit.contains(&((*action).to_owned(), "AUDITLOG*".to_owned())),
                    "{function}: no explicit deny of {action} on AUDITLOG*"
                );
            }
        }
    }
}

// --- the code ---

/// A table that records every write: its action and its partition's pattern.
struct Recording {
    inner: Arc<dyn Table>,
    writes: Mutex<BTreeSet<(&'static str, &'static str)>>,
}

impl Recording {
    fn new(inner: Arc<dyn Table>) -> Arc<Recording> {
        Arc::new(Recording {
            inner,
            writes: Mutex::default(),
        })
    }

    fn record(&self, action: &'static str, key: &Key) {
        let pattern = partition_pattern(&key.pk)
            .unwrap_or_else(|| panic!("a write to {} outside every partition", key.pk));
        self.writes.lock().unwrap().insert((action, pattern));
    }

    fn written(&self) -> BTreeSet<(&'static str, &'static str)> {
        self.writes.lock().unwrap().clone()
    }
}

#[async_trait]
impl Table for Recording {
    async fn get(&self, key: &Key, consistency: Consistency) -> Result<Option<Item>, TableError> {
        self.inner.get(key, consistency).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.record("dynamodb:PutItem", &item.key);
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.record("dynamodb:DeleteItem", key);
        self.inner.delete(key, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.record("dynamodb:UpdateItem", key);
        self.inner.update(key, update, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        self.inner.query(query).await
    }
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        // In a transaction each item needs the permission of its own action.
        for op in &ops {
            let action = match op {
                TransactOp::Put { .. } => "dynamodb:PutItem",
                TransactOp::Update { .. } => "dynamodb:UpdateItem",
                TransactOp::Delete { .. } => "dynamodb:DeleteItem",
                TransactOp::Check { .. } => continue,
            };
            self.record(action, op.key());
        }
        self.inner.transact_write(ops).await
    }
}

/// One function's view of the shared table: its own recording table and application state.
struct Function {
    table: Arc<Recording>,
    state: shared::state::AppState,
}

fn event(name: &str, values: &[(&str, &str)]) -> Value {
    practica_tests::event_with(name, values)
}

async fn http(router: &axum::Router, event: &Value) -> (http::StatusCode, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let (status, _, body) =
        practica_tests::call(router.clone(), request.map(axum::body::Body::new)).await;
    (status, body)
}

#[tokio::test]
async fn each_function_writes_only_the_partitions_it_is_granted() {
    use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(
        shared::adapters::embedded::EmbeddedTable::open(&dir.path().join("t.redb")).unwrap(),
    );
    let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).unwrap();
    let clock = Arc::new(domain::clock::ManualClock::new(
        jiff::Timestamp::from_second(practica_tests::TEST_NOW).unwrap(),
    ));
    let key: [u8; 32] = rand::random();
    let function = || {
        let recording = Recording::new(table.clone());
        let state = practica_tests::test_state(recording.clone(), &key, &issuer, clock.clone());
        Function {
            table: recording,
            state,
        }
    };
    let token = |sub: &str, role: Role| {
        let now = practica_tests::TEST_NOW as u64;
        issuer
            .mint_at(
                &shared::auth::Subject::parse(sub).unwrap(),
                &[role],
                now,
                now + 86_400,
            )
            .unwrap()
    };
    let (admin, staff, jane) = (
        token("admin-1", Role::Admin),
        token("staff-1", Role::Staff),
        token("patient-jane", Role::Patient),
    );
    let mut functions: BTreeMap<&str, Function> = BTreeMap::new();
    for name in [
        "BookingFunction",
        "PaymentsFunction",
        "WebhooksFunction",
        "SweepFunction",
        "NotifyFunction",
        "ReportsFunction",
        "AuditFunction",
    ] {
        functions.insert(name, function());
    }
    // The practice, set up beforehand (not any function's writes).
    let setup = function();
    let demo = practica_cli::demo::seed(&setup.state).await.unwrap();
    let reports_dir = tempfile::tempdir().unwrap();
    let reports: Arc<dyn shared::reports::ReportStore> = Arc::new(
        shared::adapters::dir_reports::DirReports::new(reports_dir.path().join("reports")),
    );
    let routers: BTreeMap<&str, axum::Router> = [
        (
            "BookingFunction",
            booking::router(functions["BookingFunction"].state.clone()),
        ),
        (
            "PaymentsFunction",
            payments::router(
                functions["PaymentsFunction"].state.clone(),
                Arc::new(practica_tests::FixtureProcessor),
            ),
        ),
        (
            "WebhooksFunction",
            webhooks::router(
                functions["WebhooksFunction"].state.clone(),
                practica_tests::test_webhook_config(),
            ),
        ),
        (
            "ReportsFunction",
            shared::web::finish(reports::routes(
                functions["ReportsFunction"].state.clone(),
                reports.clone(),
            )),
        ),
    ]
    .into_iter()
    .collect();
    // Each route on the function the template routes it to.
    let owners = practica_tests::route_owners();
    let owner = |route: &str| -> &'static str {
        let (_, function) = owners
            .iter()
            .find(|(r, _)| r == route)
            .unwrap_or_else(|| panic!("no function serves {route}"));
        routers
            .keys()
            .find(|name| name.to_lowercase() == format!("{function}function"))
            .unwrap_or_else(|| panic!("{function} has no router here"))
    };

    let provider = demo.providers[0].to_string();
    let service = demo.services[1].to_string();
    let (mut appointment, mut feedback) = (String::new(), String::new());
    let (mut series, mut occurrence) = (String::new(), String::new());
    let mut feed = String::new();
    let mut calendar = String::new();
    let (mut version, mut signature) = (String::new(), String::new());
    let (mut form_version, mut submission) = (String::new(), String::new());
    let mut charge = String::new();
    let steps: &[(&str, &str)] = &[
        ("get-me-no-token", ""),
        ("putPractice", &admin),
        ("createProvider", &staff),
        ("putSchedule", &staff),
        ("createService", &staff),
        ("createHold", &jane),
        ("book", &jane),
        ("getAppointment", &jane),
        ("reschedule", &jane),
        ("cancel", &jane),
        ("getVisitRoom", &jane),
        ("joinVisit", &jane),
        ("createSeries", &staff),
        ("moveSeries", &staff),
        ("cancelSeries", &staff),
        ("createCalendarFeed", &staff),
        ("getCalendarFeed", ""),
        ("revokeCalendarFeed", &staff),
        ("addBusyCalendar", &staff),
        ("listBusyCalendars", &staff),
        ("removeBusyCalendar", &staff),
        ("listConsents", &jane),
        ("putConsentDocument", &admin),
        ("signConsent", &jane),
        ("getConsentCopy", &jane),
        ("exportPatientRecord", &jane),
        ("listPatientConsents", &staff),
        ("withdrawConsent", &jane),
        ("listForms", &jane),
        ("putForm", &admin),
        ("putFormDraft", &jane),
        ("getFormDraft", &jane),
        ("submitForm", &jane),
        ("listPatientForms", &staff),
        ("getFormSubmission", &staff),
        ("createPatient", &staff),
        ("searchPatients", &staff),
        ("getPatient", &staff),
        ("putMyPatientRecord", &jane),
        ("joinWaitlist", &jane),
        ("putMyNotifications", &jane),
        ("getPatientAccessLog", &admin),
        ("submitFeedback", &jane),
        ("resolveFeedback", &staff),
        ("createCharge", &staff),
        ("waiveFee", &staff),
        ("createPaymentIntent", &jane),
        ("getCard", &jane),
        ("setupCard", &jane),
        ("removeCard", &jane),
        ("payDeposit", &jane),
        ("listDisputes", &staff),
        ("draftDisputeEvidence", &staff),
        ("submitDisputeEvidence", &staff),
        ("stripeWebhook", ""),
        ("stripeWebhook-charge", ""),
        ("standardWebhook", ""),
        ("getBalance", &jane),
    ];
    for (op, token) in steps {
        let e = event(
            &format!("apigw-v2-{op}.json"),
            &[
                ("{{TOKEN}}", token),
                ("{{PROVIDER_ID}}", &provider),
                ("{{SERVICE_ID}}", &service),
                ("{{APPOINTMENT_ID}}", &appointment),
                ("{{FEEDBACK_ID}}", &feedback),
                ("{{SERIES_ID}}", &series),
                ("{{OCCURRENCE_ID}}", &occurrence),
                ("{{FEED_FILE}}", &feed),
                ("{{CALENDAR_ID}}", &calendar),
                ("{{VERSION_HASH}}", &version),
                ("{{SIGNATURE_ID}}", &signature),
                ("{{FORM_VERSION}}", &form_version),
                ("{{SUBMISSION_ID}}", &submission),
                ("{{CHARGE_ID}}", &charge),
            ],
        );
        let function = owner(e["routeKey"].as_str().unwrap());
        let (status, body) = http(&routers[function], &e).await;
        // Waiving the charge staff posted is refused (it is no fee) after the ledger was read.
        // Setting up a card before signing the authorisation, and removing none, are refused.
        let refused = (*op == "waiveFee" && body["code"] == "not_a_fee")
            || (*op == "setupCard" && body["code"] == "consent_required")
            || (*op == "removeCard" && body["code"] == "no_card_on_file")
            || (*op == "payDeposit" && body["code"] == "no_deposit_due")
            || (op.contains("Visit") && body["code"] == "not_online")
            || (op.ends_with("DisputeEvidence") && status == http::StatusCode::NOT_FOUND);
        assert!(
            status.is_success() || *op == "get-me-no-token" || refused,
            "{op}: {status} {body}"
        );
        match *op {
            "book" => appointment = body["id"].as_str().unwrap().to_owned(),
            "submitFeedback" => feedback = body["id"].as_str().unwrap().to_owned(),
            "addBusyCalendar" => calendar = body["id"].as_str().unwrap().to_owned(),
            "listConsents" => version = practica_tests::version_of(&body, "telehealth"),
            "signConsent" => signature = body["signatureId"].as_str().unwrap().to_owned(),
            "listForms" => form_version = practica_tests::form_version_of(&body, "phq-9"),
            "submitForm" => submission = body["submissionId"].as_str().unwrap().to_owned(),
            "createCharge" => charge = body["id"].as_str().unwrap().to_owned(),
            "createCalendarFeed" => {
                let url = body["url"].as_str().unwrap();
                feed = url.rsplit('/').next().unwrap().to_owned();
            }
            "createSeries" => {
                series = body["id"].as_str().unwrap().to_owned();
                occurrence = body["occurrences"][1]["appointmentId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            _ => {}
        }
    }
    // Time freed in Jane's waitlist window (Wednesday 11:00) is offered to her, and she lets the
    // offer lapse: the sweep closes her request without writing her own partition.
    let booking_state = &functions["BookingFunction"].state;
    let practice = shared::common::lookup::practice(booking_state)
        .await
        .unwrap();
    let offering = shared::common::lookup::provider(booking_state, &demo.providers[0])
        .await
        .unwrap();
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_second();
    let someone_else = domain::ids::PatientId::parse("patient-omar").unwrap();
    let freed = shared::booking::waitlist::Freed {
        span: (at("2026-11-25T16:00:00Z"), at("2026-11-25T16:30:00Z")),
        by: &someone_else,
    };
    let offer = shared::booking::waitlist::offer_freed(
        booking_state,
        &offering,
        &practice,
        freed,
        "req-offer",
    )
    .await
    .unwrap();
    assert!(offer.is_some(), "Jane is offered the freed time");
    // The scheduled and event-driven functions; by now the offer (an hour) has lapsed.
    clock.advance(jiff::SignedDuration::from_mins(61));
    sweep::run(
        &functions["SweepFunction"].state,
        &practica_tests::public_calendars(),
        &practica_tests::FixtureProcessor,
        event("schedule-sweep.json", &[]),
        "req-sweep",
    )
    .await
    .unwrap();
    let waiting = shared::store::Query::partition(shared::store::keys::waitlist_partition(
        &demo.providers[0],
    ));
    let entries = shared::store::query_all(&*setup.state.table, &waiting)
        .await
        .unwrap();
    let statuses: Vec<_> = entries
        .iter()
        .filter_map(|e| e.get("status").and_then(shared::store::AttrValue::as_s))
        .collect();
    assert_eq!(statuses, ["lapsed"], "the sweep closed Jane's lapsed offer");
    let recorder = practica_tests::Recorder::new();
    let notify = notify::NotifyJob {
        state: functions["NotifyFunction"].state.clone(),
        delivery: practica_tests::delivery(&recorder),
    };
    let waiting = practica_tests::waiting_messages(&setup.state).await;
    let message = waiting[0].id.to_string();
    notify
        .run(event(
            "dynamodb-stream-outbox.json",
            &[("{{MESSAGE_ID}}", &message)],
        ))
        .await
        .unwrap();
    notify
        .run(event("schedule-notify.json", &[]))
        .await
        .unwrap();
    notify
        .run(event("ses-bounce.json", &[("{{MESSAGE_ID}}", &message)]))
        .await
        .unwrap();
    let signer = Arc::new(shared::adapters::local_signer::LocalSigner::generate().unwrap());
    let archive = Arc::new(shared::adapters::dir_archive::DirArchive::new(
        reports_dir.path().join("archive"),
    ));
    let log = shared::audit::log::LogConfig {
        origin: "practica.test/audit".into(),
        key_name: "practica.test/audit".into(),
        first_scan_days: 31,
        idle_checkpoint: shared::audit::log::IDLE_CHECKPOINT,
    };
    // With a witness (on 127.0.0.1, trusting this log): keeping its cosignature and the size it
    // holds are writes of the audit function's too.
    let witness_dir = tempfile::tempdir().unwrap();
    let witness = practica_cli::witness::open(
        witness_dir.path(),
        "practica.test/witness",
        vec![shared::witness::TrustedLog {
            origin: log.origin.clone(),
            key_name: log.key_name.clone(),
            spki: shared::crypto::signer::LogSigner::public_key(&*signer).to_vec(),
        }],
    )
    .unwrap();
    let witness_key = witness.cosigner.key().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let witness_url = format!("http://{}", listener.local_addr().unwrap());
    let witness_app = practica_cli::witness::router(witness, clock.clone());
    tokio::spawn(async move { axum::serve(listener, witness_app).await });
    let audit = audit::AuditJob {
        table: functions["AuditFunction"].table.clone(),
        signer: signer.clone(),
        clock: clock.clone(),
        archive: archive.clone(),
        config: log.clone(),
        witnesses: vec![shared::audit::witnessing::ConfiguredWitness {
            key: witness_key,
            url: witness_url,
        }],
        witness_client: std::sync::Arc::new(
            shared::adapters::http_witness::HttpWitnessClient::standalone(),
        ),
    };
    let sealed = audit.run(event("schedule-audit.json", &[])).await.unwrap();
    assert_eq!(sealed["witnessed"]["cosigned"], 1, "{sealed}");
    let job = reports::ReportJob {
        table: functions["ReportsFunction"].table.clone(),
        clock: clock.clone(),
        store: reports.clone(),
        archive,
        log,
        spki: shared::crypto::signer::LogSigner::public_key(&*signer).to_vec(),
        directory: None,
    };
    let done = job
        .run(event("schedule-report-weekly.json", &[]))
        .await
        .unwrap();
    let report = done["report"].as_str().unwrap().to_owned();
    for op in ["listReports", "getReport"] {
        let e = event(
            &format!("apigw-v2-{op}.json"),
            &[("{{TOKEN}}", &admin), ("{{REPORT_ID}}", &report)],
        );
        let (status, body) = http(&routers["ReportsFunction"], &e).await;
        assert!(status.is_success(), "{op}: {status} {body}");
    }

    let template = practica_tests::template();
    let mut seen = BTreeMap::new();
    for (name, function) in &functions {
        let written = function.table.written();
        let partitions = writers(name);
        let actions = allowed_writes(&template, name);
        for (action, pattern) in &written {
            assert!(
                partitions.contains(pattern),
                "{name} wrote {pattern}, which WRITERS (and so the template) does not grant it"
            );
            assert!(
                actions.contains(*action),
                "{name} needs {action}, which the template does not allow it"
            );
            assert!(
                allows(&template, name, action, pattern),
                "{name} needs {action} on {pattern}, which the template does not allow it there"
            );
        }
        seen.insert(*name, written);
    }
    // Each function did write (the flows reached every function).
    for (name, written) in &seen {
        assert!(
            !written.is_empty(),
            "{name} wrote nothing: the flow missed it"
        );
    }
    eprintln!("partitions written: {seen:?}");
}

/// The portal's resources in the template, as the module doc says.
#[test]
fn the_portal_is_one_origin_behind_waf_with_the_served_headers() {
    let template = practica_tests::template();
    let resources = &template["Resources"];
    let properties = |name: &str| resources[name]["Properties"].clone();

    let headers = properties("PortalHeadersPolicy")["ResponseHeadersPolicyConfig"].clone();
    let security = &headers["SecurityHeadersConfig"];
    // What `practica serve` sends, with the managed login's token endpoint, Stripe's card
    // form (its script, frames and API) and Kinesis Video Streams' signaling added.
    let deployed = practica_cli::pages::CONTENT_SECURITY_POLICY
        .replace(
            "script-src 'self';",
            "script-src 'self' https://js.stripe.com;",
        )
        .replace(
            "connect-src 'self';",
            "connect-src 'self' https://api.stripe.com \
             wss://*.kinesisvideo.${AWS::Region}.amazonaws.com \
             https://${LoginDomainPrefix}-staff.auth.${AWS::Region}.amazoncognito.com \
             https://${LoginDomainPrefix}-patients.auth.${AWS::Region}.amazoncognito.com; \
             frame-src https://js.stripe.com https://hooks.stripe.com;",
        );
    assert_eq!(
        security["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        serde_json::json!({ "Fn::Sub": deployed })
    );
    assert_eq!(security["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(security["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer");
    assert_eq!(
        security["StrictTransportSecurity"]["AccessControlMaxAgeSec"],
        practica_cli::pages::HSTS_MAX_AGE_SECS
    );
    assert_eq!(
        headers["CustomHeadersConfig"]["Items"][0]["Value"],
        practica_cli::pages::PERMISSIONS_POLICY
    );

    // A private bucket that only this distribution reads.
    let block = &properties("PortalBucket")["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[setting], true, "{setting}");
    }
    let bucket_policy = properties("PortalBucketPolicy")["PolicyDocument"]["Statement"].clone();
    let allowed: Vec<_> = bucket_policy
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .collect();
    assert_eq!(allowed.len(), 1, "{bucket_policy}");
    assert_eq!(
        allowed[0]["Principal"],
        serde_json::json!({"Service": "cloudfront.amazonaws.com"})
    );
    assert_eq!(allowed[0]["Action"], "s3:GetObject");
    let source = allowed[0]["Condition"]["StringEquals"]["aws:SourceArn"].to_string();
    assert!(source.contains("${PortalDistribution}"), "{source}");

    let config = properties("PortalDistribution")["DistributionConfig"].clone();
    assert_eq!(config["DefaultRootObject"], "index.html");
    let origins = config["Origins"].as_array().unwrap();
    let origin = |id: &str| origins.iter().find(|o| o["Id"] == id).unwrap().clone();
    assert!(origin("portal")["OriginAccessControlId"].is_object());
    assert_eq!(
        origin("api")["CustomOriginConfig"]["OriginProtocolPolicy"],
        "https-only"
    );
    let default = &config["DefaultCacheBehavior"];
    assert_eq!(default["TargetOriginId"], "portal");
    assert_eq!(default["ViewerProtocolPolicy"], "redirect-to-https");
    assert_eq!(
        default["ResponseHeadersPolicyId"],
        serde_json::json!({"Ref": "PortalHeadersPolicy"})
    );
    // Every API path prefix of the OpenAPI document goes to the API, uncached.
    const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
    let behaviors = config["CacheBehaviors"].as_array().unwrap();
    let openapi: Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
    let prefixes: BTreeSet<String> = openapi["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| !p.starts_with("/.well-known") && *p != "/openapi.json")
        .map(|p| format!("/{}/*", p.split('/').nth(1).unwrap()))
        .collect();
    for prefix in &prefixes {
        let behavior = behaviors
            .iter()
            .find(|b| b["PathPattern"] == prefix.as_str())
            .unwrap_or_else(|| panic!("no behavior for {prefix}"));
        assert_eq!(behavior["TargetOriginId"], "api", "{prefix}");
        assert_eq!(behavior["CachePolicyId"], CACHING_DISABLED, "{prefix}");
        assert_ne!(behavior["ViewerProtocolPolicy"], "allow-all", "{prefix}");
    }
    // The site's files are all served by the default (bucket) behavior.
    for (path, _, _) in practica_cli::portal::FILES {
        assert!(
            path == "/"
                || prefixes
                    .iter()
                    .all(|p| !path.starts_with(p.trim_end_matches('*'))),
            "{path} would be sent to the API"
        );
    }

    // Only through the edge: CloudFront adds the origin secret's current value to every request
    // for the API, and each function that answers HTTP reads that secret (and only those do).
    let headers = origin("api")["OriginCustomHeaders"].clone();
    assert_eq!(headers[0]["HeaderName"], shared::web::edge::ORIGIN_HEADER);
    assert_eq!(
        headers[0]["HeaderValue"],
        serde_json::json!({"Fn::Sub": "{{resolve:secretsmanager:${OriginSecret}:SecretString:current}}"})
    );
    let comment = config["Comment"].to_string();
    assert!(comment.contains("${OriginSecretVersion}"), "{comment}");
    let http_functions: BTreeSet<&str> = practica_tests::route_owners()
        .into_iter()
        .map(|(_, f)| match f.as_str() {
            "booking" => "BookingFunction",
            "payments" => "PaymentsFunction",
            "webhooks" => "WebhooksFunction",
            "reports" => "ReportsFunction",
            other => panic!("an HTTP route on {other}"),
        })
        .collect();
    assert_eq!(http_functions.len(), 4);
    for (name, resource) in resources.as_object().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let variables = &resource["Properties"]["Environment"]["Variables"];
        let reads = statements(&template, name).iter().any(|s| {
            s["Action"] == "secretsmanager:GetSecretValue"
                && s["Resource"] == serde_json::json!({"Ref": "OriginSecret"})
        });
        let serves_http = http_functions.contains(name.as_str());
        assert_eq!(
            variables[shared::config::edge::ORIGIN_SECRET]
                == serde_json::json!({"Ref": "OriginSecret"}),
            serves_http,
            "{name}"
        );
        assert_eq!(reads, serves_http, "{name}");
    }

    // WAF: the edge stack's ACL (in us-east-1), required; a rate limit per client address.
    assert_eq!(
        config["WebACLId"],
        serde_json::json!({"Ref": "PortalWebAclArn"})
    );
    let edge = practica_tests::edge_template();
    let acl = edge["Resources"]["PortalWebAcl"]["Properties"].clone();
    assert_eq!(
        edge["Outputs"]["PortalWebAclArn"]["Value"],
        serde_json::json!({"Fn::GetAtt": ["PortalWebAcl", "Arn"]})
    );
    let rules = acl["Rules"].clone();
    let rate = rules
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["Statement"].get("RateBasedStatement").cloned())
        .expect("a rate-based rule");
    assert_eq!(rate["AggregateKeyType"], "IP");
    assert_eq!(acl["Scope"], "CLOUDFRONT");
    // The expensive routes are also limited per bearer token: holds, bookings and their changes,
    // payment intents, and access logs.
    let per_token: Vec<String> = rules
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["Statement"].get("RateBasedStatement"))
        .filter(|s| s["CustomKeys"][0]["Header"]["Name"] == "authorization")
        .map(|s| s["ScopeDownStatement"].to_string())
        .collect();
    assert_eq!(per_token.len(), 2, "{per_token:?}");
    // The patient pool, open to self sign-up, has its own web ACL limiting sign-ups per address.
    let pool_acl = properties("PatientPoolWebAcl");
    assert_eq!(pool_acl["Scope"], "REGIONAL");
    let sign_up = pool_acl["Rules"][0]["Statement"]["RateBasedStatement"].to_string();
    assert!(
        sign_up.contains("AWSCognitoIdentityProviderService.SignUp"),
        "{sign_up}"
    );
    assert!(sign_up.contains("\"IP\""), "{sign_up}");
    let association = properties("PatientPoolWebAclAssociation");
    assert!(
        association["ResourceArn"]
            .to_string()
            .contains("userpool/${PatientUserPoolId}"),
        "{association}"
    );
    for route in [
        "/v1/holds",
        "/v1/appointments",
        "/v1/payment-intents",
        "/access-log",
    ] {
        assert!(
            per_token
                .iter()
                .any(|s| s.contains(&format!("\"{route}\""))),
            "{route} not limited per token: {per_token:?}"
        );
    }
}

/// `practica publish-portal` on moto's S3: every file under the key the distribution serves it
/// from, with its content type and `no-cache`, byte for byte what `practica serve` serves.
#[tokio::test]
async fn publishing_puts_every_file_where_the_distribution_serves_it() {
    let Some(endpoint) = practica_tests::Emulator::Moto.endpoint() else {
        return;
    };
    let s3 = practica_cli::s3_client(&practica_tests::sdk_config(&endpoint));
    let bucket = format!("portal-{}", ulid::Ulid::new().to_string().to_lowercase());
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let settings = practica_cli::publish::PortalSettings {
        patient_login: "https://p-patients.auth.us-east-1.amazoncognito.com".into(),
        patient_client_id: "patientclient1".into(),
        staff_login: "https://p-staff.auth.us-east-1.amazoncognito.com".into(),
        staff_client_id: "staffclient1".into(),
        audit_public_key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQc=".into(),
        audit_key_name: "practica/audit/practica".into(),
        audit_bytes_from: 0,
        stripe_publishable_key: "pk_test_portal".into(),
        witnesses: Vec::new(),
        witness_quorum: None,
        idle_minutes: 15,
    };
    let written = practica_cli::publish::publish(&s3, &bucket, &settings)
        .await
        .unwrap();
    assert_eq!(written.len(), practica_cli::portal::FILES.len() + 1);
    assert_eq!(written[0], "index.html");
    // The sign-in configuration the portal reads: the pools' endpoints, where the serve's local
    // configuration names its local stand-in.
    let config = s3
        .get_object()
        .bucket(&bucket)
        .key("portal/config.json")
        .send()
        .await
        .unwrap();
    assert_eq!(config.content_type(), Some("application/json"));
    let config: Value =
        serde_json::from_slice(&config.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(config, settings.config().unwrap());
    assert_eq!(
        config["signIn"]["staff"]["authorize"],
        "https://p-staff.auth.us-east-1.amazoncognito.com/oauth2/authorize"
    );
    for (path, body, content_type) in practica_cli::portal::FILES {
        let object = s3
            .get_object()
            .bucket(&bucket)
            .key(practica_cli::publish::key_of(path))
            .send()
            .await
            .unwrap();
        assert_eq!(object.content_type(), Some(content_type), "{path}");
        assert_eq!(object.cache_control(), Some("no-cache"), "{path}");
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(&bytes[..], body.as_bytes(), "{path}");
    }
}
