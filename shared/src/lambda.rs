//! A function's cold start under the Lambda Runtime API. When the start fails (a missing or
//! malformed variable, a secret that cannot be read, a key that does not answer), the process tells
//! the Runtime API through `init/error` what went wrong, naming the variable, before it exits: Lambda
//! then shows that message in the invocation's error and the function's log instead of a bare
//! "Runtime exited with error". Values (secrets, keys) are never part of the message.

use std::future::Future;

use crate::config::ConfigError;

/// Runs an event-driven function (a stream, a schedule, an SES notification): each invocation's
/// payload and request id go to `handle`, whose error tells the Runtime API through its
/// [`diagnostic`] whether a retry can help.
pub async fn run_events<H, Fut, E>(handle: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(serde_json::Value, String) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, E>>,
    E: Into<lambda_runtime::Diagnostic> + std::fmt::Debug,
{
    let handle = &handle;
    let service = lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            handle(event.payload, event.context.request_id).await
        },
    );
    lambda_runtime::run(service).await
}

/// An event function's error as the Runtime API reports it: `kind` says whether a retry can help
/// (`Retryable.…`: a dependency was unavailable; `Permanent.…`: the event itself is wrong), which
/// the schedules' retry policies and the dead-letter queues act on.
pub fn diagnostic(kind: &str, error: &dyn std::fmt::Display) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: kind.into(),
        error_message: error.to_string(),
    }
}

/// The Runtime API's error type for a failed start: configuration, or anything else.
pub fn error_type(error: &anyhow::Error) -> &'static str {
    if error.downcast_ref::<ConfigError>().is_some() {
        "Practica.ConfigError"
    } else {
        "Practica.InitError"
    }
}

/// The message a failed start reports: the error and its causes, outermost first.
pub fn error_message(error: &anyhow::Error) -> String {
    format!("{error:#}")
}

/// Runs the function's cold start; on failure reports it to the Runtime API (when there is one:
/// `AWS_LAMBDA_RUNTIME_API`), logs it and exits with status 1.
pub async fn start<T, E>(init: impl Future<Output = Result<T, E>>) -> T
where
    E: Into<anyhow::Error>,
{
    match init.await {
        Ok(started) => started,
        Err(error) => {
            let error = error.into();
            let (kind, message) = (error_type(&error), error_message(&error));
            tracing::error!(error_type = kind, error = %message, "cold start failed");
            if let Err(e) = report_init_error(kind, &message).await {
                tracing::error!(error = %e, "could not report the failed start to the Runtime API");
            }
            std::process::exit(1)
        }
    }
}

/// `POST /2018-06-01/runtime/init/error` with the diagnostic Lambda shows.
async fn report_init_error(kind: &str, message: &str) -> anyhow::Result<()> {
    use lambda_runtime_api_client::{PooledClient, body::Body, build_request};
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return Ok(());
    }
    let body = serde_json::json!({"errorType": kind, "errorMessage": message});
    let request = build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", kind)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&body)?))?;
    let client = PooledClient::builder().build();
    let response = client
        .call(request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "init/error answered {}",
        response.status()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_are_told_apart_and_name_the_variable() {
        let error: anyhow::Error = ConfigError::Missing("PRACTICA_TABLE").into();
        assert_eq!(error_type(&error), "Practica.ConfigError");
        assert_eq!(
            error_message(&error),
            "missing environment variable PRACTICA_TABLE"
        );
        let other = anyhow::anyhow!("connection refused").context("reading the signing key");
        assert_eq!(error_type(&other), "Practica.InitError");
        assert_eq!(
            error_message(&other),
            "reading the signing key: connection refused"
        );
    }
}
