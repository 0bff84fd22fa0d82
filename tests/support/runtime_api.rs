//! A Lambda Runtime API for running the functions' release `bootstrap` binaries as Lambda runs
//! them: `GET invocation/next` hands out queued events with the invocation headers,
//! `POST invocation/{id}/response|error` and `POST init/error` are recorded. Bound to 127.0.0.1.
//!
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// What the function answered to one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    /// `invocation/{id}/error`: the error type header and the diagnostic body.
    Error {
        error_type: String,
        body: Value,
    },
}

impl Outcome {
    /// The answer, or a panic naming the error.
    pub fn response(self) -> Value {
        match self {
            Outcome::Response(v) => v,
            Outcome::Error { error_type, body } => panic!("invocation failed: {error_type} {body}"),
        }
    }
}

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<(String, Value)>>,
    arrived: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<(String, Value)>>,
    first_next: Mutex<Option<Instant>>,
}

/// A Runtime API server for one execution environment.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const BASE: &str = "/2018-06-01/runtime";

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    {
        let mut first = inner.first_next.lock().unwrap();
        first.get_or_insert_with(Instant::now);
    }
    loop {
        let notified = inner.arrived.notified();
        if let Some((id, event)) = inner.queue.lock().unwrap().pop_front() {
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            return (
                [
                    ("lambda-runtime-aws-request-id", id),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:practica-test".into(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into(),
                    ),
                    ("content-type", "application/json".into()),
                ],
                event.to_string(),
            )
                .into_response();
        }
        notified.await;
    }
}

async fn response(
    State(inner): State<Arc<Inner>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    finish(&inner, &id, Outcome::Response(value))
}

async fn error(
    State(inner): State<Arc<Inner>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let outcome = Outcome::Error {
        error_type: error_type(&headers),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    finish(&inner, &id, outcome)
}

fn error_type(headers: &HeaderMap) -> String {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn finish(inner: &Inner, id: &str, outcome: Outcome) -> StatusCode {
    match inner.waiting.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn init_error(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    *inner.init_error.lock().unwrap() = Some((error_type(&headers), body));
    StatusCode::ACCEPTED
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route(&format!("{BASE}/invocation/next"), get(next))
            .route(
                &format!("{BASE}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{BASE}/invocation/{{id}}/error"), post(error))
            .route(&format!("{BASE}/init/error"), post(init_error))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        RuntimeApi {
            addr,
            inner,
            server,
        }
    }

    /// Queues one event and waits (at most 60 s) for the function's answer.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let (tx, rx) = oneshot::channel();
        self.inner.waiting.lock().unwrap().insert(id.clone(), tx);
        self.inner.queue.lock().unwrap().push_back((id, event));
        self.inner.arrived.notify_waiters();
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .expect("the function answered within 60 s")
            .expect("answered")
    }

    /// The `init/error` the function reported, if any: its error type header and diagnostic.
    pub fn init_error(&self) -> Option<(String, Value)> {
        self.inner.init_error.lock().unwrap().clone()
    }

    /// When the function first asked for an event (its init ended).
    pub fn first_next(&self) -> Option<Instant> {
        *self.inner.first_next.lock().unwrap()
    }
}

/// Where `cargo lambda build --release` left the functions' binaries: `PRACTICA_LAMBDA_DIR`, by
/// default `target/lambda` (one folder per function, each with its `bootstrap`).
pub fn lambda_dir() -> PathBuf {
    std::env::var_os("PRACTICA_LAMBDA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lambda"))
}

/// One function's release binary, or a panic saying how to build it.
pub fn bootstrap(function: &str) -> PathBuf {
    let path = lambda_dir().join(function).join("bootstrap");
    assert!(
        path.is_file(),
        "{} is missing: build the functions with `cargo lambda build --release` (scripts/test does)",
        path.display()
    );
    path
}

/// The environment Lambda gives every function (besides the function's own variables).
pub fn lambda_environment(api: &RuntimeApi, function: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("practica-{function}")),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/practica-{function}"),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/11/22/[$LATEST]test".into(),
        ),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("RUST_LOG", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A running function process (killed when dropped).
pub struct Process {
    pub child: tokio::process::Child,
    pub started: Instant,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Starts `binary` with exactly `env` (nothing inherited but `PATH`).
pub fn spawn(binary: &Path, env: &[(String, String)]) -> Process {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // A suite run with its date moved (`PRACTICA_TEST_FAKETIME`) moves the functions' too.
        .envs(std::env::vars_os().filter(|(k, _)| {
            let k = k.to_string_lossy();
            k == "LD_PRELOAD" || k.starts_with("FAKETIME")
        }))
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true);
    let started = Instant::now();
    let child = command.spawn().expect("start the function's binary");
    Process { child, started }
}
