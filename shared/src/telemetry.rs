//! Logging: JSON on Lambda (one object per line, with the request span's fields), compact text
//! locally. Filter with `RUST_LOG` (default `info`). Sensitive values are wrapped in
//! [`domain::sensitive::Sensitive`] and print as `[REDACTED]`; handlers never log bodies or headers.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

pub fn init() {
    // `RUST_LOG` as targets and levels (`info`, `warn,shared=debug`): no regular expressions, so
    // none of a regex engine's code in the Lambda binaries. Unreadable: `info`.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_target(false);
    // A second init (tests, or serve after a library did it) keeps the first subscriber.
    let _ = if on_lambda {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .finish()
            .with(filter)
            .try_init()
    } else {
        builder.compact().finish().with(filter).try_init()
    };
    // A panic's message may quote the values it was handling: log where it happened, not what.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(%location, "panic");
    }));
}

/// Requests refused for their token (401): counted, never stored one by one, so a flood of bad
/// tokens cannot flood the table. Each one adds to this process's count and, on Lambda, writes a
/// CloudWatch embedded-metric line (`Practica/TokenFailures` by function), which CloudWatch sums.
static TOKEN_FAILURES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn count_token_failure() {
    TOKEN_FAILURES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    emit_count("TokenFailures");
}

/// A webhook delivery whose signature did not verify: on Lambda a `Practica/
/// WebhookSignatureFailures` metric line (the template alarms on a burst of them).
pub fn count_webhook_signature_failure() {
    emit_count("WebhookSignatureFailures");
}

/// A request that reached a function without the edge's origin secret (someone calling the API's
/// own address around CloudFront and its WAF): a `Practica/OriginRefusals` metric line.
pub fn count_origin_refusal() {
    emit_count("OriginRefusals");
}

/// An audit entry changed or removed on the table: on Lambda a `Practica/AuditTamperDetected`
/// metric line (the template alarms on any).
pub fn count_audit_tamper() {
    emit_count("AuditTamperDetected");
}

/// On Lambda, one embedded-metric line counting 1 of `metric` for this function.
fn emit_count(metric: &str) {
    if let Some(function) = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME") {
        println!(
            "{}",
            count_metric(metric, &function.to_string_lossy(), now_millis())
        );
    }
}

/// Token failures this process has counted.
pub fn token_failures() -> u64 {
    TOKEN_FAILURES.load(std::sync::atomic::Ordering::Relaxed)
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// One CloudWatch embedded-metric-format line: a count of 1 of `metric` for `function`.
fn count_metric(metric: &str, function: &str, millis: u128) -> String {
    let mut line = serde_json::json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": "Practica",
                "Dimensions": [["function"]],
                "Metrics": [{ "Name": metric, "Unit": "Count" }],
            }],
        },
        "function": function,
    });
    line[metric] = 1.into();
    line.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_token_failure_is_one_embedded_metric_line() {
        let line: serde_json::Value =
            serde_json::from_str(&super::count_metric("TokenFailures", "practica-booking", 5))
                .unwrap();
        assert_eq!(line["TokenFailures"], 1);
        assert_eq!(line["function"], "practica-booking");
        assert_eq!(line["_aws"]["Timestamp"], 5);
        let metric = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metric["Metrics"][0]["Name"], "TokenFailures");
        assert_eq!(metric["Dimensions"][0][0], "function");
    }
}
