//! The one reading of a schedule's event, for every scheduled function: EventBridge Scheduler (or an
//! EventBridge rule) sends `{"source": "aws.scheduler" | "aws.events", "detail-type": "Scheduled
//! Event", "detail": {...}}`; the template's inputs name the job in `detail.job`.

use serde_json::Value;

/// Whether `event` is a scheduled event.
pub fn is_scheduled(event: &Value) -> bool {
    // JSON pointers: these are the event's fields, not table attributes.
    event.pointer("/detail-type").and_then(Value::as_str) == Some("Scheduled Event")
        && matches!(
            event.pointer("/source").and_then(Value::as_str),
            Some("aws.events" | "aws.scheduler")
        )
}

/// The job a scheduled event names (`detail.job`); None for anything else.
pub fn job_of(event: &Value) -> Option<&str> {
    if !is_scheduled(event) {
        return None;
    }
    event.pointer("/detail/job").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_scheduled_events_name_a_job() {
        let e = |source: &str, kind: &str| json!({"source": source, "detail-type": kind, "detail": {"job": "holds-sweep"}});
        assert_eq!(
            job_of(&e("aws.scheduler", "Scheduled Event")),
            Some("holds-sweep")
        );
        assert_eq!(
            job_of(&e("aws.events", "Scheduled Event")),
            Some("holds-sweep")
        );
        assert_eq!(job_of(&e("aws.s3", "Scheduled Event")), None);
        assert_eq!(job_of(&e("aws.scheduler", "Object Created")), None);
        assert_eq!(job_of(&json!({"detail": {"job": "holds-sweep"}})), None);
        assert!(is_scheduled(
            &json!({"source": "aws.events", "detail-type": "Scheduled Event"})
        ));
    }
}
