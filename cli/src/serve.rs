//! `practica serve`: every function's routes on one loopback port, over the embedded store, the local
//! key file and the local token issuer, whose JWKS the server fetches from itself over HTTP, so token
//! verification runs exactly the production code.

use std::path::Path;
use std::sync::Arc;

use crate::sandbox::{CompleteError, Completion, SandboxProcessor, Which};
use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};
use domain::clock::{Clock as _, SystemClock};
use shared::adapters::https::HttpsClient;
use shared::adapters::jwks::HttpJwks;
use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::auth::AuthConfig;
use shared::config::payments::WebhookConfig;
use shared::state::AppState;

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The sandbox processor's intents, in the data directory.
pub const SANDBOX_FILE: &str = "sandbox-intents.json";
/// The API description, served as-is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Binds 127.0.0.1:`port` (0 picks a free port) and assembles the local stack over `data`.
pub async fn bind(port: u16, data: &Path) -> anyhow::Result<(tokio::net::TcpListener, Router)> {
    bind_on(port, data, Arc::new(SystemClock)).await
}

/// [`bind`] on another clock (`--clock-start`).
pub async fn bind_on(
    port: u16,
    data: &Path,
    clock: Arc<dyn domain::clock::Clock>,
) -> anyhow::Result<(tokio::net::TcpListener, Router)> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let issuer = Arc::new(LocalIssuer::open_or_create(data)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    let jwks = HttpJwks::new(
        HttpsClient::new(shared::app::CONNECT_TIMEOUT),
        format!("http://{addr}{JWKS_PATH}"),
    );
    let state = AppState::local_with_clock(
        data,
        Arc::new(jwks),
        AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
        clock,
    )?;
    // Online visits' signaling: this server's own relay, its addresses signed with a key kept in
    // memory only.
    let signaling = Arc::new(shared::adapters::local_signaling::LocalSignaling::generate());
    let state = state.with_signaling(signaling.clone());
    // The demo pool's logins (staff.json): administrators list, add and disable them.
    let directory = Arc::new(
        shared::adapters::local_directory::LocalDirectory::open_or_create(
            data,
            &crate::login::demo_workforce(),
            state.clock.clone(),
        )?,
    );
    let state = state.with_directory(directory.clone());
    let key_set = issuer.jwks().clone();
    let (webhook_config, secrets_file) =
        WebhookConfig::local(data, |name| std::env::var(name).ok())?;
    if let Some(path) = secrets_file {
        println!("webhook signing secrets: {}", path.display());
    }
    spawn_audit_sealing(crate::local::audit_job(data, &state)?);
    spawn_notify(state.clone(), notify_delivery(data)?);
    // One sandbox for the payments routes, the sweep and the local card form (they share its lock).
    let sandbox = Arc::new(SandboxProcessor::on_clock(
        data.join(SANDBOX_FILE),
        state.clock.clone(),
    ));
    let webhook_routes = webhooks::routes(state.clone(), webhook_config.clone());
    spawn_scheduled_jobs(
        state.clone(),
        crate::local::report_job(data, &state)?,
        sandbox.clone(),
    );
    spawn_sandbox_events(
        sandbox.clone(),
        webhook_config.clone(),
        shared::web::finish(webhook_routes.clone()),
    );
    // The card form's events go through the webhook function's whole router, as a delivery does.
    let checkout = crate::checkout::routes(
        sandbox.clone(),
        Arc::new(webhook_config),
        state.clock.clone(),
        shared::web::finish(webhook_routes.clone()),
    );
    let clock = state.clock.clone();
    let app = Router::new()
        .merge(booking::routes(state.clone()))
        .merge(crate::signal::routes(signaling, clock.clone()))
        .merge(payments::routes(state.clone(), sandbox))
        .merge(webhook_routes)
        .merge(checkout)
        .merge(reports::routes(
            state,
            Arc::new(crate::local::report_store(data)),
        ))
        .route(JWKS_PATH, get(move || async move { Json(key_set) }))
        .route(OPENAPI_PATH, get(openapi))
        .merge(crate::portal::routes(
            crate::login::Minter {
                issuer,
                clock,
                directory: Some(directory),
            },
            shared::crypto::signer::LogSigner::public_key(&crate::local::signer(data)?),
            &crate::local::witness_rule_from_env()?,
        ));
    // Every /local route answers this machine's own names and pages only.
    let port = addr.port();
    let app = shared::web::finish(app).layer(axum::middleware::from_fn(move |request, next| {
        crate::local_only::guard(port, request, next)
    }));
    Ok((listener, app))
}

/// How often `practica serve` integrates new audit entries into the log.
pub const AUDIT_SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// The audit function's job, in process: integrate new entries every few seconds.
fn spawn_audit_sealing(job: audit::AuditJob) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(AUDIT_SEAL_EVERY);
        loop {
            every.tick().await;
            match job.integrate().await {
                Ok((done, _, _)) if done.added > 0 => {
                    tracing::info!(added = done.added, size = done.size, "audit log sealed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "audit log not sealed; retrying"),
            }
        }
    });
}

/// How often `practica serve` sweeps expired holds (the template schedules it every 5 minutes).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often `practica serve` publishes last week's and last month's reports again (the same bytes
/// while their data stands; a server started mid-week publishes them at once).
pub const REPORTS_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often `practica serve` delivers due messages (in Lambda the table's stream delivers a new
/// message within seconds and a schedule takes due reminders every minute).
pub const NOTIFY_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// The mailbox folder of the local notifier, in the data directory.
pub const MAILBOX_DIR: &str = "mailbox";
/// Message templates a practice edited, in the data directory (`<kind>.<channel>.txt`); any not
/// there are the shipped ones.
pub const TEMPLATES_DIR: &str = "templates";

/// The local notifier (the mailbox folder) and the templates.
pub fn notify_delivery(data: &Path) -> anyhow::Result<shared::notify::Delivery> {
    let templates =
        shared::adapters::template_files::templates_from_dir(&data.join(TEMPLATES_DIR))?;
    Ok(shared::notify::Delivery {
        notifier: Arc::new(shared::adapters::mailbox::Mailbox::new(
            data.join(MAILBOX_DIR),
        )),
        templates: Arc::new(templates),
    })
}

/// The notify function's job, in process.
fn spawn_notify(state: AppState, delivery: shared::notify::Delivery) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(NOTIFY_EVERY);
        loop {
            every.tick().await;
            match shared::notify::deliver_due(&state, &delivery, 500).await {
                Ok(done) if done.is_empty() => {}
                Ok(done) => tracing::info!(messages = done.len(), "outbox delivered"),
                Err(e) => tracing::warn!(error = %e, "outbox delivery failed; retrying"),
            }
        }
    });
}

/// The providers' other calendars are read as the sweep function reads them: public https
/// addresses only.
fn calendar_source() -> shared::adapters::calendar_fetch::CalendarFetcher {
    shared::adapters::calendar_fetch::CalendarFetcher::new(
        shared::adapters::calendar_fetch::FetchPolicy::public(),
    )
}

/// How often the sandbox delivers the events its off-session charges and detaches queued.
pub const SANDBOX_EVENTS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// The sandbox processor's webhook deliveries, in process, retried as a processor retries.
fn spawn_sandbox_events(sandbox: Arc<SandboxProcessor>, config: WebhookConfig, webhooks: Router) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SANDBOX_EVENTS_EVERY);
        loop {
            every.tick().await;
            let deliver =
                |bytes, signature| crate::checkout::deliver_to(webhooks.clone(), bytes, signature);
            if let Err(e) = sandbox.deliver_pending(&config.stripe, deliver).await {
                tracing::warn!(error = %e, "sandbox events not delivered; retrying");
            }
        }
    });
}

/// One sweep: the booking part and the collection of fees from cards on file.
async fn sweep_once(
    state: &AppState,
    processor: &dyn shared::payments::processor::PaymentProcessor,
) -> Result<Swept, shared::error::ApiError> {
    let run = format!("sweep-{}", run_id());
    let booking = shared::booking::sweep::sweep(state, &calendar_source(), &run).await?;
    let collected = shared::payments::collect::collect(state, processor, &run).await?;
    if collected != Default::default() {
        tracing::info!(?collected, "fees collected");
    }
    let deposits = shared::payments::deposits::settle(state, processor, &run).await?;
    if deposits != Default::default() {
        tracing::info!(?deposits, "deposits settled");
    }
    // The same step as deployed (the local relay keeps no channels: nothing to remove).
    let rooms_closed = shared::booking::visits::close_rooms(state).await?;
    Ok(Swept {
        booking,
        collected,
        deposits,
        rooms_closed,
    })
}

/// What `practica sweep` did.
#[derive(Debug, serde::Serialize)]
pub struct Swept {
    #[serde(flatten)]
    pub booking: shared::booking::sweep::Swept,
    pub collected: shared::payments::collect::Collected,
    pub deposits: shared::payments::deposits::Settled,
    /// Online visits' signaling channels removed (their rooms closed).
    #[serde(rename = "roomsClosed")]
    pub rooms_closed: usize,
}

/// The scheduled functions' jobs, in process: the sweep (holds, stale series reservations, other
/// calendars, fees charged to cards on file), and the weekly and monthly reports.
fn spawn_scheduled_jobs(
    state: AppState,
    reports: reports::ReportJob,
    sandbox: Arc<SandboxProcessor>,
) {
    let sweeping = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            // The job logs what it did.
            if let Err(e) = sweep_once(&sweeping, &*sandbox).await {
                tracing::warn!(error = %e, "sweep failed; retrying");
            }
        }
    });
    tokio::spawn(async move {
        let mut every = tokio::time::interval(REPORTS_EVERY);
        loop {
            every.tick().await;
            for period in ["weekly", "monthly"] {
                let event = serde_json::json!({
                    "source": "aws.scheduler",
                    "detail-type": "Scheduled Event",
                    "detail": {"job": "report", "period": period},
                });
                // The job logs what it published.
                match reports.run(event).await {
                    Ok(_) => {}
                    // A practice not set up yet has nothing to report.
                    Err(reports::JobError::NotConfigured) => {}
                    Err(e) => tracing::warn!(error = %e, period, "report not published"),
                }
            }
        }
    });
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// Serves until Ctrl-C.
/// A data directory's clock only moves forward: started earlier than its audit log was last
/// signed, the server would write entries the log can no longer take in (they would sort before
/// what it already holds, and `practica audit verify` would fail), so it refuses to start.
pub async fn clock_moves_forward(state: &AppState) -> anyhow::Result<()> {
    let latest = shared::audit::stored::latest_checkpoint(&*state.table)
        .await
        .map_err(|e| anyhow::anyhow!("reading the audit log: {e}"))?;
    // A checkpoint's sort key is `<size>#<Unix seconds it was signed at>`.
    let signed = latest.and_then(|l| l.name.rsplit('#').next()?.parse::<i64>().ok());
    let now = state.clock.now().as_second();
    if let Some(signed) = signed
        && now < signed
    {
        let at = jiff::Timestamp::from_second(signed)
            .map_or_else(|_| signed.to_string(), |t| t.to_string());
        anyhow::bail!(
            "this data directory's audit log was signed at {at}, after the clock's start: a clock \
             only moves forward (start it at or after that instant, or use a fresh --data directory)"
        );
    }
    Ok(())
}

pub async fn run(
    port: u16,
    data: &Path,
    clock: Arc<dyn domain::clock::Clock>,
) -> anyhow::Result<()> {
    // An empty data directory gets the demo practice, so the portal has something to show.
    let seeded = {
        let state = crate::local::offline_state_on(data, clock.clone())?;
        clock_moves_forward(&state).await?;
        // Its messages and feeds link to the port it is served on.
        let portal = (port != 0).then(|| format!("http://127.0.0.1:{port}/"));
        crate::demo::seed_for(&state, portal)
            .await
            .map_err(|e| anyhow::anyhow!("seeding failed: {e}"))?
    };
    if seeded.created {
        println!("loaded the demo practice into {}", data.display());
    }
    let (listener, app) = bind_on(port, data, clock).await?;
    println!(
        "practica serving on http://{} (data: {}); the patient portal is at /",
        listener.local_addr()?,
        data.display()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// `practica seed`: loads the demo practice and returns its ids.
pub async fn seed(data: &Path) -> anyhow::Result<crate::demo::Demo> {
    let state = crate::local::offline_state(data)?;
    crate::demo::seed(&state)
        .await
        .map_err(|e| anyhow::anyhow!("seeding failed: {e}"))
}

/// `practica sweep`: removes expired holds and offers their time to the waitlist, gives back
/// stale series reservations, reads the providers' other calendars that are due, and charges fees
/// to cards on file (the sandbox's events about them go through the webhook route in process).
pub async fn sweep(data: &Path) -> anyhow::Result<Swept> {
    let state = crate::local::offline_state(data)?;
    let sandbox = SandboxProcessor::on_clock(data.join(SANDBOX_FILE), state.clock.clone());
    let swept = sweep_once(&state, &sandbox)
        .await
        .map_err(|e| anyhow::anyhow!("sweep failed: {e}"))?;
    let (config, _) = WebhookConfig::local(data, |name| std::env::var(name).ok())?;
    let webhooks = shared::web::finish(webhooks::routes(state, config.clone()));
    let deliver =
        |bytes, signature| crate::checkout::deliver_to(webhooks.clone(), bytes, signature);
    sandbox.deliver_pending(&config.stripe, deliver).await?;
    Ok(swept)
}

/// `practica outbox --deliver`: delivers the messages due now to the mailbox (with no server
/// running; `practica serve` does it every few seconds itself). Returns each message's outcome.
pub async fn deliver(data: &Path) -> anyhow::Result<Vec<String>> {
    let state = crate::local::offline_state(data)?;
    let delivery = notify_delivery(data)?;
    let done = shared::notify::deliver_due(&state, &delivery, 10_000)
        .await
        .map_err(|e| anyhow::anyhow!("delivery failed: {e}"))?;
    Ok(done
        .into_iter()
        .map(|(id, outcome)| format!("{id}: {outcome:?}"))
        .collect())
}

/// `practica outbox`: the messages in the local mailbox, oldest first, one line each.
pub fn outbox(data: &Path) -> anyhow::Result<Vec<String>> {
    let mailbox = shared::adapters::mailbox::Mailbox::new(data.join(MAILBOX_DIR));
    Ok(mailbox
        .list()
        .with_context(|| format!("reading {}", mailbox.dir().display()))?
        .into_iter()
        .map(|m| {
            let header = |name: &str| {
                m.text
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or("")
                    .to_owned()
            };
            let when = jiff::Timestamp::try_from(m.modified)
                .map(|t| t.strftime("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            let body = m
                .text
                .split("\n\n")
                .nth(1)
                .unwrap_or("")
                .lines()
                .next()
                .unwrap_or("");
            let summary = match header("Subject: ") {
                s if s.is_empty() => body.to_owned(),
                s => s,
            };
            format!(
                "{when}  {:<14} {:<5} {:<28} {summary}",
                header("Kind: "),
                header("Channel: "),
                header("To: ")
            )
        })
        .collect())
}

/// A sweep run's id: unique, so that its audit entries and offers name this run only.
fn run_id() -> u128 {
    rand::random()
}

/// `practica pay`: completes (or fails, or refunds) a sandbox intent by sending the events a
/// processor would, signed with the local Stripe webhook secret, to the server's webhook route.
/// Returns each event's type and the server's answer.
pub async fn pay(
    data: &Path,
    port: u16,
    intent_id: &str,
    completion: Completion,
) -> anyhow::Result<Vec<(String, u16, String)>> {
    let (config, _) = WebhookConfig::local(data, |name| std::env::var(name).ok())?;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/webhooks/stripe");
    let deliver = |body: Vec<u8>, signature: String| {
        let sent = client
            .post(&url)
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send();
        async move {
            let response = sent
                .await
                .with_context(|| format!("is `practica serve` running on port {port}?"))?;
            let status = response.status().as_u16();
            anyhow::Ok((status, response.text().await.unwrap_or_default()))
        }
    };
    SandboxProcessor::new(data.join(SANDBOX_FILE))
        .complete(
            Which::Id(intent_id),
            completion,
            &config.stripe,
            SystemClock.now().as_second(),
            deliver,
        )
        .await
        .map_err(|e| match e {
            CompleteError::NotFound => {
                anyhow::anyhow!("no sandbox intent {intent_id} in {}", data.display())
            }
            CompleteError::Canceled => {
                anyhow::anyhow!("{intent_id} was cancelled (a newer intent superseded it)")
            }
            CompleteError::AlreadyPaid => anyhow::anyhow!("{intent_id} is already paid"),
            other => other.into(),
        })
}
