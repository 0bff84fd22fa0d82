//! `practica`: run the whole stack locally and operate it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use practica_cli::sandbox::Completion;
use shared::adapters::local_issuer::LocalIssuer;
use shared::auth::{Role, Subject};

use practica_cli::serve;

#[derive(Parser)]
#[command(
    name = "practica",
    version,
    about = "Practica: appointments and payments for small practices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every function's API on 127.0.0.1 over the embedded store and local keys.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Data directory: embedded database, master key, token signing key.
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// Run the practice's clock from this instant (RFC 3339) instead of now, e.g. to try the
        /// front desk's day at 11:00 on a weekday: bookings, portal sign-ins, jobs and the audit
        /// log follow it (`practica token` does not). A used data directory only moves forward: a
        /// start earlier than its audit log was last signed is refused.
        #[arg(long)]
        clock_start: Option<String>,
    },
    /// The workforce's logins in the data directory's demo pool (the server stopped): list them,
    /// add one, or disable one (no sign-in, refresh refused, and its tokens refused by the API at
    /// once). Audited as the administrator at this machine. Deployed: the console's Staff page.
    Staff {
        #[command(subcommand)]
        action: StaffCommand,
        #[arg(long, default_value = ".practica", global = true)]
        data: PathBuf,
    },
    /// Write the data directory (table, keys, audit archive, reports, mailbox) to one file encrypted
    /// with the passphrase in PRACTICA_BACKUP_PASSPHRASE (the server stopped: the store is opened
    /// exclusively while the files are read, so the copy is of one committed state).
    Backup {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// The backup file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a new data directory, then verify it: the audit log against its key
    /// and archived checkpoints, and the table read whole. Exits non-zero if the log does not verify.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The new (or empty) data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Load the demo practice (two providers, two services, a patient) and print its ids as JSON.
    Seed {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
    },
    /// Remove expired holds and offer their time to waiting patients, give back stale series
    /// reservations, read providers' other calendars that are due (`serve` does this every minute).
    Sweep {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
    },
    /// The messages sent to patients, as the local mailbox holds them (`<data>/mailbox`), oldest
    /// first; with --deliver, first deliver the messages due now (when no server is running).
    Outbox {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        #[arg(long)]
        deliver: bool,
    },
    /// Complete a sandbox payment intent (as `practica serve` created it) by sending the signed
    /// webhooks a processor would: success by default, a decline with --fail, a refund with --refund.
    Pay {
        /// The processor intent id (`processorIntentId` in the payment-intent reply).
        intent: String,
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// Port of the running `practica serve`.
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Decline with this decline code (e.g. insufficient_funds).
        #[arg(long, value_name = "CODE", conflicts_with = "refund")]
        fail: Option<String>,
        /// Succeed, but with failed address-line and postal-code checks.
        #[arg(long, conflicts_with_all = ["fail", "refund"])]
        avs_fail: bool,
        /// Refund this many minor units of a paid intent.
        #[arg(long, value_name = "AMOUNT")]
        refund: Option<i64>,
    },
    /// Upload the portal's files (those `practica serve` serves) to the functions' stack's portal
    /// bucket (its PortalBucket output), with the AWS credentials of the environment; then
    /// invalidate the distribution's cache if it holds an old version.
    PublishPortal {
        /// The PortalBucket output of the functions' stack.
        #[arg(long)]
        bucket: String,
        #[command(flatten)]
        settings: practica_cli::publish::PortalSettings,
    },
    /// Compute and publish the compliance and performance report of local dates [--from, --to)
    /// (the practice's zone), compared with the period before; HTML, CSV and JSON.
    Report {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// First day, e.g. 2026-11-01.
        #[arg(long)]
        from: String,
        /// The day after the last, e.g. 2026-12-01 (at most 366 days after --from).
        #[arg(long)]
        to: String,
        /// Also write the files to this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A C2SP witness of audit logs, for a practice's auditor or a partner practice to run apart
    /// from the practice: it cosigns a log's checkpoints only when they extend what it saw before.
    Witness {
        #[command(subcommand)]
        action: WitnessCommand,
    },
    /// The audit log: integrate new entries, verify the whole log, print its public key.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Print a bearer token accepted by a server on the same data directory.
    Token {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// patient, staff, provider or admin; repeat for several.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        /// The subject (user id) the token names.
        #[arg(long, value_parser = parse_subject)]
        sub: Subject,
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u64,
        /// An email address the token vouches for (`email` with `email_verified: true`): an
        /// access token carrying it (as a pre-token-generation trigger would add it), which `PUT
        /// /v1/patients/me` takes; with --id-token, the ID token that `POST
        /// /v1/patients/me/email-verification` takes in `X-Id-Token`.
        #[arg(long)]
        verified_email: Option<String>,
        /// Print an ID token (`aud`, `token_use: id`), as Cognito's sign-in returns beside the
        /// access token, instead of an access token; needs --verified-email.
        #[arg(long, requires = "verified_email")]
        id_token: bool,
        /// A display name (the `name` claim): audit entries name staff, providers and admins by it.
        #[arg(long)]
        name: Option<String>,
    },
}

/// The backup passphrase, from the environment only (a command line is readable by other users).
fn backup_passphrase() -> anyhow::Result<String> {
    std::env::var(practica_cli::backup::PASSPHRASE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "set {} to the backup's passphrase (at least {} characters)",
                practica_cli::backup::PASSPHRASE_ENV,
                shared::crypto::passphrase::MIN_CHARS
            )
        })
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Every login: roles, second factor, enabled or disabled (and when).
    List,
    /// Invite a login into a role: staff, provider or admin.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
    },
    /// Disable a login by its subject (as `list` shows it).
    Disable { subject: String },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Serve `POST /add-checkpoint` (C2SP tlog-witness) until Ctrl-C; prints the witness's verifier
    /// key, which the practice puts in PRACTICA_AUDIT_WITNESSES and verifiers pin. Behind an HTTPS
    /// proxy when reached from elsewhere.
    Serve {
        /// Its key (`witness.p8`, made on first start) and state (`witness.redb`).
        #[arg(long)]
        dir: PathBuf,
        /// Its key name in cosignature lines, e.g. `auditor.example/witness`.
        #[arg(long)]
        name: String,
        /// A log it witnesses: `<origin>,<key name>,<PEM public key file>` (repeatable), as the
        /// practice's `practica audit public-key` and configuration give them.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: std::net::SocketAddr,
    },
}

/// The practice's witness rule, as a verifier pins it.
#[derive(clap::Args, Debug, Default)]
struct WitnessRule {
    /// A witness's verifier key (`<name>+<id>+<key>`, as `practica witness serve` printed it);
    /// repeatable. With witnesses, checkpoints must be cosigned by --witness-quorum of them.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the --witness keys must cosign (default: all of them).
    #[arg(long, requires = "witnesses")]
    witness_quorum: Option<usize>,
}

impl WitnessRule {
    fn policy(&self) -> anyhow::Result<shared::crypto::cosign::WitnessPolicy> {
        practica_cli::publish::witness_rule(&self.witnesses, self.witness_quorum)
    }
}

#[derive(Subcommand)]
enum AuditAction {
    /// Integrate the entries written since the last run and sign a checkpoint.
    Seal {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
    },
    /// Check every entry, leaf and checkpoint; exits 1 and lists each problem when one is found.
    /// With --table, a deployed log instead: the DynamoDB table and the checkpoint bucket through
    /// the standard AWS configuration (AWS_ENDPOINT_URL overrides the endpoint), checked against
    /// the pinned public key.
    Verify {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// The deployed table (then --bucket and --key are required).
        #[arg(long, requires_all = ["bucket", "key"])]
        table: Option<String>,
        /// The Object Lock bucket the checkpoints are archived to.
        #[arg(long)]
        bucket: Option<String>,
        /// The pinned public key (PEM).
        #[arg(long)]
        key: Option<PathBuf>,
        /// The key name in signature lines (default `practica/audit/<table>`, as deployed).
        #[arg(long)]
        key_name: Option<String>,
        /// The table the log was written to, when --table is a restored copy of it: its
        /// signatures name the source (the default key name is `practica/audit/<source>`).
        #[arg(long, requires = "table")]
        log_of: Option<String>,
        #[command(flatten)]
        witness_rule: WitnessRule,
    },
    /// Print the entries of some UTC days as JSON lines (leaf index, the exact bytes the leaf
    /// commits to), then the latest signed checkpoint: for an outside auditor.
    Export {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD (UTC), included.
        #[arg(long)]
        to: String,
    },
    /// Check an access log (the JSON of GET /v1/patients/me/access-log), or a consent's signed
    /// copy (GET /v1/patients/{id}/consents/{signatureId}), offline: its checkpoint is signed by
    /// the pinned key and every entry's inclusion proof leads to the signed root; a copy's text
    /// hashes to the version its signature's entry names.
    CheckProof {
        /// The access log's JSON ("-" for standard input).
        log: PathBuf,
        /// The practice's public key (PEM), as `practica audit public-key` printed it.
        #[arg(long)]
        key: PathBuf,
        /// The key name in the checkpoint's signature line.
        #[arg(long, default_value = practica_cli::local::LOCAL_KEY_NAME)]
        key_name: String,
        /// An earlier checkpoint (the `checkpoint` of an access log checked before): the log must
        /// extend it, as shown by `--consistency`.
        #[arg(long, requires = "consistency")]
        since: Option<PathBuf>,
        /// The JSON of GET /v1/audit/consistency?from=<the earlier size>&to=<the log's size>.
        #[arg(long, requires = "since")]
        consistency: Option<PathBuf>,
        /// Whose log it must be: the patient's own id as her sign-in says it (her token's `sub`);
        /// without it, the id the log states.
        #[arg(long)]
        patient: Option<String>,
        /// From this leaf index on, every sealed entry must carry its own bytes (0 for a log begun
        /// with salted commitments).
        #[arg(long)]
        bytes_from: Option<u64>,
        #[command(flatten)]
        witness_rule: WitnessRule,
    },
    /// Print the log's public key (PEM): keep a copy where the log's writers cannot change it.
    PublicKey {
        #[arg(long, default_value = ".practica")]
        data: PathBuf,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("unknown role {s:?}: use patient, staff, provider or admin"))
}

fn parse_subject(s: &str) -> Result<Subject, String> {
    Subject::parse(s)
        .ok_or_else(|| "a subject is 1-128 characters of A-Z a-z 0-9 - _ . : @".to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve {
            port,
            data,
            clock_start,
        } => {
            shared::telemetry::init();
            let clock: std::sync::Arc<dyn domain::clock::Clock> = match clock_start {
                Some(start) => {
                    let start = domain::instant::parse(&start).ok_or_else(|| {
                        anyhow::anyhow!("--clock-start is an RFC 3339 instant with an offset")
                    })?;
                    let start = jiff::Timestamp::from_second(start.second)?;
                    std::sync::Arc::new(domain::clock::ShiftedClock::starting_at(start))
                }
                None => std::sync::Arc::new(domain::clock::SystemClock),
            };
            serve::run(port, &data, clock).await
        }
        Command::Seed { data } => {
            let demo = serve::seed(&data).await?;
            println!("{}", serde_json::to_string_pretty(&demo)?);
            Ok(())
        }
        Command::Sweep { data } => {
            let serve::Swept {
                booking,
                collected,
                deposits,
                ..
            } = serve::sweep(&data).await?;
            println!(
                "expired holds removed: {}; waitlist offers made: {}; series reservations given back: {}; \
                 other calendars read: {} (failed: {}); no-shows marked: {}; \
                 fees charged to cards on file: {} (declined: {}, left for the next run: {}); \
                 bookings lapsed unpaid: {}; deposits refunded: {} (left for the next run: {})",
                booking.removed,
                booking.offered,
                booking.series_released,
                booking.calendars_fetched,
                booking.calendars_failed,
                booking.no_shows_marked,
                collected.fees_charged,
                collected.fees_declined,
                collected.deferred,
                deposits.lapsed,
                deposits.refunded,
                deposits.deferred,
            );
            Ok(())
        }
        Command::Witness {
            action:
                WitnessCommand::Serve {
                    dir,
                    name,
                    logs,
                    listen,
                },
        } => {
            shared::telemetry::init();
            let logs = logs
                .iter()
                .map(|l| practica_cli::witness::trusted_log(l))
                .collect::<anyhow::Result<Vec<_>>>()?;
            practica_cli::witness::serve(&dir, &name, logs, listen).await
        }
        Command::Backup { data, out } => {
            let phrase = backup_passphrase()?;
            let started = std::time::Instant::now();
            let summary = practica_cli::backup::backup(&data, &out, &phrase)?;
            println!(
                "backup: {} files, {} bytes, written to {} in {} ms",
                summary.files,
                summary.bytes,
                out.display(),
                started.elapsed().as_millis()
            );
            Ok(())
        }
        Command::Restore { from, data } => {
            let phrase = backup_passphrase()?;
            let started = std::time::Instant::now();
            let restored = practica_cli::backup::restore(&from, &data, &phrase).await?;
            println!(
                "restore: {} files, {} bytes, {} table items into {}; audit log of {} entries: {} ({} ms)",
                restored.files,
                restored.bytes,
                restored.items,
                data.display(),
                restored.audit_entries,
                if restored.audit_ok { "OK" } else { "PROBLEMS" },
                started.elapsed().as_millis()
            );
            for problem in &restored.problems {
                println!("PROBLEM {problem}");
            }
            if !restored.audit_ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Staff { action, data } => {
            let action = match action {
                StaffCommand::List => practica_cli::staff::Action::List,
                StaffCommand::Add { email, name, role } => {
                    practica_cli::staff::Action::Add { email, name, role }
                }
                StaffCommand::Disable { subject } => {
                    practica_cli::staff::Action::Disable { subject }
                }
            };
            let answer = practica_cli::staff::run(&data, action).await?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Command::Outbox { data, deliver } => {
            if deliver {
                for line in serve::deliver(&data).await? {
                    println!("{line}");
                }
            }
            let messages = serve::outbox(&data)?;
            if messages.is_empty() {
                println!("no messages in {}", data.join(serve::MAILBOX_DIR).display());
            }
            for line in messages {
                println!("{line}");
            }
            Ok(())
        }
        Command::Audit { action } => audit(action).await,
        Command::Report {
            data,
            from,
            to,
            out,
        } => {
            let (manifest, written) =
                practica_cli::report::report(&data, &from, &to, out.as_deref()).await?;
            let dir = data.join("reports").join(&manifest.id);
            println!("report {} published in {}", manifest.id, dir.display());
            for path in written {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::PublishPortal { bucket, settings } => {
            let s3 = practica_cli::s3_client(&shared::app::sdk_config().await);
            for key in practica_cli::publish::publish(&s3, &bucket, &settings).await? {
                println!("s3://{bucket}/{key}");
            }
            Ok(())
        }
        Command::Pay {
            intent,
            data,
            port,
            fail,
            avs_fail,
            refund,
        } => {
            let completion = match (fail, refund) {
                (Some(decline_code), _) => Completion::Fail { decline_code },
                (None, Some(refunded)) => Completion::Refund { refunded },
                (None, None) => Completion::Succeed { avs_fail },
            };
            for (kind, status, answer) in serve::pay(&data, port, &intent, completion).await? {
                println!("{kind}: {status} {answer}");
            }
            Ok(())
        }
        Command::Token {
            data,
            roles,
            sub,
            ttl_secs,
            verified_email,
            id_token,
            name,
        } => {
            let issuer = LocalIssuer::open_or_create(&data)?;
            use domain::clock::{Clock as _, SystemClock};
            let now = SystemClock.now().as_second().max(0) as u64;
            if let (true, Some(email)) = (id_token, verified_email.as_deref()) {
                println!(
                    "{}",
                    issuer.mint_id_token(&sub, email, true, now, now + ttl_secs)?
                );
                return Ok(());
            }
            let token = issuer.mint_named(
                &sub,
                &roles,
                verified_email.as_deref(),
                name.as_deref(),
                now,
                now + ttl_secs,
            )?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn audit(action: AuditAction) -> anyhow::Result<()> {
    match action {
        AuditAction::Seal { data } => {
            let (done, witnessed) = practica_cli::audit::seal(&data).await?;
            println!(
                "audit log: {} entries added, tree size {}",
                done.added, done.size
            );
            let asked = witnessed.cosigned + witnessed.already + witnessed.failed.len();
            if asked > 0 {
                println!(
                    "witnesses: {} cosigned the latest checkpoint now, {} had already, {} did not",
                    witnessed.cosigned,
                    witnessed.already,
                    witnessed.failed.len()
                );
                for failure in &witnessed.failed {
                    println!("  not cosigned by {failure}");
                }
            }
        }
        AuditAction::Verify {
            data,
            table,
            bucket,
            key,
            key_name,
            log_of,
            witness_rule,
        } => {
            let witnesses = witness_rule.policy()?;
            let report = match (table, bucket, key) {
                (Some(table), Some(bucket), Some(key)) => {
                    let pem = std::fs::read_to_string(&key)?;
                    let sdk = shared::app::sdk_config().await;
                    let source = log_of.as_deref().unwrap_or(&table);
                    let key_name = key_name.unwrap_or_else(|| format!("practica/audit/{source}"));
                    practica_cli::audit::verify_deployed(
                        &sdk, &table, &bucket, &pem, &key_name, &witnesses,
                    )
                    .await?
                }
                _ => practica_cli::audit::verify(&data, &witnesses).await?,
            };
            for problem in &report.problems {
                println!("PROBLEM {problem:?}");
            }
            let signed = report
                .latest_checkpoint_time
                .map(|t| format!(", last signed {}", domain::instant::render_utc(t)))
                .unwrap_or_default();
            println!(
                "audit log: tree size {}, signed checkpoints cover {}, {} waiting for integration{signed}: {}",
                report.tree_size,
                report.checkpointed_size,
                report.pending,
                if report.ok() { "OK" } else { "FAILED" }
            );
            if let Some(size) = report.witnessed_size {
                println!(
                    "witnessed: checkpoints cosigned by {} of the {} witnesses cover {size} of the {} signed entries (checkpoints younger than 15 minutes may still wait for them)",
                    witnesses.quorum,
                    witnesses.witnesses.len(),
                    report.checkpointed_size
                );
            }
            if !report.ok() {
                std::process::exit(1);
            }
        }
        AuditAction::Export { data, from, to } => {
            for line in practica_cli::audit::export(&data, &from, &to).await? {
                println!("{line}");
            }
        }
        AuditAction::CheckProof {
            log,
            key,
            key_name,
            since,
            consistency,
            patient,
            bytes_from,
            witness_rule,
        } => {
            let witnesses = witness_rule.policy()?;
            let text = if log.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&log)?
            };
            let pem = std::fs::read_to_string(&key)?;
            let earlier = match (since, consistency) {
                (Some(c), Some(p)) => {
                    Some((std::fs::read_to_string(c)?, std::fs::read_to_string(p)?))
                }
                _ => None,
            };
            let since =
                earlier
                    .as_ref()
                    .map(|(checkpoint, consistency)| practica_cli::audit::Since {
                        checkpoint,
                        consistency,
                    });
            let expect = practica_cli::audit::Expect {
                patient: patient.as_deref(),
                bytes_from,
                since,
                witnesses: witnesses.is_required().then_some(&witnesses),
            };
            match practica_cli::audit::check_proof(&text, &pem, &key_name, expect) {
                Ok(c) => {
                    let extends = c
                        .extends
                        .map(|m| format!(", extending the log of {m} checked before"))
                        .unwrap_or_default();
                    if let Some(version) = &c.document {
                        println!(
                            "signed copy: its text is version {version}, which its audit log entry names: OK"
                        );
                    }
                    println!(
                        "access log: {} entries proven in the log signed at size {} ({} with their own bytes checked), {} not yet integrated{extends}{}: OK",
                        c.proven,
                        c.size,
                        c.with_bytes,
                        c.pending,
                        if c.witnessed.is_empty() {
                            String::new()
                        } else {
                            format!(", cosigned by {}", c.witnessed.join(", "))
                        }
                    )
                }
                Err(e) => {
                    println!("access log: {e}: FAILED");
                    std::process::exit(1);
                }
            }
        }
        AuditAction::PublicKey { data } => {
            print!("{}", practica_cli::audit::public_key_pem(&data)?)
        }
    }
    Ok(())
}
