//! Every scheduled job is on a schedule: each `ScheduleV2` input in the template is one of the
//! `events/schedule-*.json` fixtures, and the hold sweep's handler, driven by its fixture, removes an
//! expired hold once (a second run finds nothing) and refuses events no schedule sends.

use http::StatusCode;
use practica_tests::{FixtureProcessor, Stack};
use serde_json::{Value, json};
use shared::auth::Role;

fn fixture(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_schedule_in_the_template_sends_a_fixture() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    let inputs: Vec<Value> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Input: '")?.strip_suffix('\''))
        .map(|i| serde_json::from_str(i).unwrap())
        .collect();
    let fixtures = [
        "schedule-audit-scheduler.json",
        "schedule-sweep.json",
        "schedule-report-weekly.json",
        "schedule-report-monthly.json",
        "schedule-report-quarterly.json",
        "schedule-notify.json",
    ]
    .map(fixture);
    assert_eq!(inputs.len(), fixtures.len(), "{inputs:?}");
    for f in &fixtures {
        assert!(inputs.contains(f), "no schedule sends {f}");
    }
    assert!(sweep::check_event(&fixture("schedule-sweep.json")).is_ok());
}

#[tokio::test]
async fn the_sweep_removes_an_expired_hold_once() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2026-11-24T10:00:00-05:00"});
    let (status, _, hold) = stack
        .send("POST", "/v1/holds", Some(&jane), Some("h"), Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    let event = fixture("schedule-sweep.json");
    let calendars = practica_tests::public_calendars();
    // (holds removed, offers made, series reservations given back) by one run.
    let run = async |request_id: &str| {
        let done = sweep::run(
            &stack.state,
            &calendars,
            &FixtureProcessor,
            event.clone(),
            request_id,
        )
        .await
        .unwrap();
        let n = |name: &str| done[name].as_u64().unwrap_or(u64::MAX);
        (n("removed"), n("offered"), n("seriesReleased"))
    };
    // Not expired yet: nothing to do.
    assert_eq!(run("req-0").await, (0, 0, 0));
    stack.clock.advance(jiff::SignedDuration::from_mins(6));
    assert_eq!(run("req-1").await, (1, 0, 0));
    assert_eq!(run("req-2").await, (0, 0, 0));
    let swept = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i.get("action").and_then(shared::store::AttrValue::as_s) == Some("hold.sweep"))
        .count();
    assert_eq!(swept, 1);
    for wrong in [
        fixture("schedule-audit-scheduler.json"),
        fixture("schedule-report-weekly.json"),
        json!({"detail": {"job": "holds-sweep"}}),
    ] {
        let e = sweep::run(&stack.state, &calendars, &FixtureProcessor, wrong, "req-3")
            .await
            .unwrap_err();
        let diagnostic: lambda_runtime::Diagnostic = e.into();
        assert_eq!(diagnostic.error_type, "Permanent.InvalidEvent");
    }
}
