//! `practica witness serve`: a small standalone C2SP witness (`tlog-witness` v1.0) that a
//! practice's auditor or a partner practice runs, apart from the practice's AWS account. Its own
//! Ed25519 key and its state live in its directory (`witness.p8`, created 0600 on first start;
//! `witness.redb`, the latest checkpoint it cosigned per log); it trusts the logs it is given
//! (origin, key name, the log's PEM public key), answers `POST /add-checkpoint`, and persists what
//! it cosigns before it answers (`shared::witness`).

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use domain::clock::Clock;
use domain::witness::{MAX_REQUEST_BYTES, SIZE_CONTENT_TYPE, size_answer};
use shared::adapters::files::write_private_file;
use shared::adapters::redb_witness::RedbWitnessState;
use shared::crypto::cosign::Cosigner;
use shared::witness::{Refusal, TrustedLog, Witness, add_checkpoint};

/// The witness's key file in its directory.
pub const KEY_FILE: &str = "witness.p8";
/// Its state file.
pub const STATE_FILE: &str = "witness.redb";

/// Reads `--log <origin>,<key name>,<PEM file>`.
pub fn trusted_log(text: &str) -> anyhow::Result<TrustedLog> {
    let mut parts = text.splitn(3, ',');
    let (Some(origin), Some(key_name), Some(pem)) = (parts.next(), parts.next(), parts.next())
    else {
        anyhow::bail!("--log is <origin>,<key name>,<the log's PEM public key file>");
    };
    anyhow::ensure!(
        !origin.is_empty() && !origin.chars().any(char::is_control),
        "a log's origin is one line of text"
    );
    anyhow::ensure!(
        domain::checkpoint::valid_key_name(key_name),
        "a log's key name is non-empty, without spaces or +"
    );
    let bytes = std::fs::read(pem)
        .map_err(|e| anyhow::anyhow!("reading the log's public key {pem}: {e}"))?;
    let spki = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| crate::audit::spki_of_pem(text).ok())
        .ok_or_else(|| {
            anyhow::anyhow!("{pem} is not a PEM public key (`practica audit public-key`)")
        })?;
    anyhow::ensure!(
        spki.starts_with(&shared::crypto::signer::P256_SPKI_PREFIX) && spki.len() == 91,
        "{pem} is not a P-256 public key: a Practica log signs with P-256"
    );
    Ok(TrustedLog {
        origin: origin.to_owned(),
        key_name: key_name.to_owned(),
        spki,
    })
}

/// The witness of `dir` under `name`, trusting `logs`: its key created on first use.
pub fn open(dir: &Path, name: &str, logs: Vec<TrustedLog>) -> anyhow::Result<Witness> {
    anyhow::ensure!(
        !logs.is_empty(),
        "a witness trusts at least one log (--log)"
    );
    for (i, log) in logs.iter().enumerate() {
        anyhow::ensure!(
            !logs[..i].iter().any(|l| l.origin == log.origin),
            "the log {} is given twice",
            log.origin
        );
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("the witness directory {}: {e}", dir.display()))?;
    let key_path = dir.join(KEY_FILE);
    if !key_path.exists() {
        write_private_file(&key_path, &Cosigner::generate_pkcs8()?)?;
    }
    let pkcs8 = zeroize::Zeroizing::new(std::fs::read(&key_path)?);
    Ok(Witness {
        logs,
        state: Arc::new(RedbWitnessState::open(&dir.join(STATE_FILE))?),
        cosigner: Cosigner::from_pkcs8(name, &pkcs8)?,
    })
}

struct Served {
    witness: Witness,
    clock: Arc<dyn Clock>,
    /// Requests checked at once; more are answered 503 (the state takes one writer at a time).
    busy: tokio::sync::Semaphore,
}

/// Requests a witness works on at once.
const AT_ONCE: usize = 16;

/// `POST /add-checkpoint`, and `GET /` (the witness's verifier key, for whoever configures it).
pub fn router(witness: Witness, clock: Arc<dyn Clock>) -> Router {
    let served = Arc::new(Served {
        witness,
        clock,
        busy: tokio::sync::Semaphore::new(AT_ONCE),
    });
    Router::new()
        .route("/add-checkpoint", post(add))
        .route("/", get(describe))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(served)
}

async fn describe(State(served): State<Arc<Served>>) -> Response {
    let text = format!("{}\n", served.witness.cosigner.key().vkey());
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn add(State(served): State<Arc<Served>>, body: Bytes) -> Response {
    let Ok(_permit) = served.busy.try_acquire() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "busy: try again\n".into());
    };
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return text(StatusCode::BAD_REQUEST, "not UTF-8 text\n".into());
    };
    // For its log: which log and size was asked about (public values of the checkpoint).
    let asked = domain::witness::AddCheckpoint::parse(&body)
        .ok()
        .and_then(|r| {
            domain::checkpoint::open_note(&r.note)
                .and_then(|(text, _)| domain::checkpoint::Checkpoint::parse(text))
        })
        .map(|c| (c.origin, c.size));
    let (origin, size) = asked.unwrap_or_default();
    let now = served.clock.now().as_second().max(0).cast_unsigned();
    // The state's transaction is synchronous (redb, fsync'd): off the async workers.
    let worker = served.clone();
    let outcome =
        tokio::task::spawn_blocking(move || add_checkpoint(&worker.witness, &body, now)).await;
    match outcome {
        Ok(Ok(Ok(lines))) => {
            tracing::info!(%origin, size, "cosigned");
            text(StatusCode::OK, lines)
        }
        Ok(Ok(Err(Refusal::Conflict { size: held }))) => {
            tracing::warn!(%origin, size, held, "409: not the size it holds, or another root at it");
            (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, SIZE_CONTENT_TYPE)],
                size_answer(held),
            )
                .into_response()
        }
        Ok(Ok(Err(refusal))) => {
            tracing::warn!(%origin, size, status = refusal.status(), %refusal, "refused");
            // A log refused as unsigned is most often given with the wrong key or key name.
            let hint = if refusal == Refusal::NotSigned {
                " (check the log's key name and public key given with --log)"
            } else {
                ""
            };
            text(
                StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST),
                format!("{refusal}{hint}\n"),
            )
        }
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "the witness state failed");
            text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into())
        }
        Err(_) => text(StatusCode::SERVICE_UNAVAILABLE, "try again later\n".into()),
    }
}

/// `practica witness serve`: serves on `listen` until Ctrl-C.
pub async fn serve(
    dir: &Path,
    name: &str,
    logs: Vec<TrustedLog>,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let origins: Vec<String> = logs.iter().map(|l| l.origin.clone()).collect();
    let witness = open(dir, name, logs)?;
    let vkey = witness.cosigner.key().vkey();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {listen}: {e}"))?;
    println!(
        "practica witness on http://{} for {}; its verifier key:\n{vkey}",
        listener.local_addr()?,
        origins.join(", ")
    );
    axum::serve(
        listener,
        router(witness, Arc::new(domain::clock::SystemClock)),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
