//! Reading the audit log through the API, on the embedded store and on DynamoDB Local: a patient's
//! own access log (who, in which role, when, with an inclusion proof that verifies offline against
//! the signed checkpoint with the public key alone), an admin's view of it, and an admin's search.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use domain::merkle::{Hash, verify_inclusion};
use http::StatusCode;
use practica_tests::{Stack, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::adapters::local_signer::LocalSigner;
use shared::audit::log::{IDLE_CHECKPOINT, LogConfig, integrate};
use shared::auth::Role;
use shared::crypto::signer::{LogSigner, verify_checkpoint};

const KEY: &str = "practica.test/audit";

fn config() -> LogConfig {
    LogConfig {
        origin: "practica.test/audit/practica-test".into(),
        key_name: KEY.into(),
        first_scan_days: 2,
        idle_checkpoint: IDLE_CHECKPOINT,
    }
}

async fn seal(stack: &Stack, signer: &LocalSigner) {
    integrate(&*stack.state.table, signer, &*stack.state.clock, &config())
        .await
        .expect("integrate");
}

fn hash(text: &Value) -> Hash {
    STANDARD
        .decode(text.as_str().expect("base64"))
        .expect("base64")
        .try_into()
        .expect("32 bytes")
}

/// Every entry with an inclusion verifies against the signed checkpoint the reply carries.
fn check_proofs(log: &Value, signer: &LocalSigner) -> usize {
    let note = log["checkpoint"].as_str().expect("a checkpoint");
    let checkpoint = verify_checkpoint(note, KEY, signer.public_key()).expect("signed by the key");
    let mut proven = 0;
    for entry in log["entries"].as_array().unwrap() {
        let Some(inclusion) = entry.get("inclusion") else {
            continue;
        };
        let proof: Vec<Hash> = inclusion["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(hash)
            .collect();
        let index = inclusion["leafIndex"].as_u64().unwrap();
        assert!(
            verify_inclusion(
                index,
                checkpoint.size,
                &hash(&inclusion["leafHash"]),
                &proof,
                &checkpoint.root
            ),
            "{entry}"
        );
        proven += 1;
    }
    proven
}

async fn access_logs_with_proofs(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let signer = LocalSigner::generate().unwrap();
    let jane_id = demo.patient_id.to_string();
    let jane = stack.token(&jane_id, &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let record = format!("/v1/patients/{jane_id}");
    // Tokens that carry a display name (the `name` claim): a staff member is named by it in Jane's
    // log; a patient's own name is patient data and never stored.
    let named = |sub: &str, role: Role, name: &str| {
        let subject = shared::auth::Subject::parse(sub).unwrap();
        let now = practica_tests::TEST_NOW as u64;
        stack
            .issuer
            .mint_named(&subject, &[role], None, Some(name), now, now + 3600)
            .unwrap()
    };
    let desk = named("staff-2", Role::Staff, "Sam Okoro (front desk)");
    let (status, _, _) = stack.send("GET", &record, Some(&desk), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let jane_named = named(&jane_id, Role::Patient, "Jane Q. Demo");
    let (status, _, _) = stack
        .send("GET", "/v1/patients/me", Some(&jane_named), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = stack.send("GET", &record, Some(&staff), None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = stack.send("GET", &record, Some(&john), None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Before integration: the entries are listed, without proofs yet.
    let mine = "/v1/patients/me/access-log";
    let (status, _, log) = stack.send("GET", mine, Some(&jane), None, None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    assert!(log["entries"].as_array().unwrap().is_empty(), "{log}");

    seal(&stack, &signer).await;
    let (status, _, log) = stack.send("GET", mine, Some(&jane), None, None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries = log["entries"].as_array().unwrap();
    let staff_read = entries
        .iter()
        .find(|e| e["action"] == "patient.read" && e["outcome"] == "success")
        .expect("the staff member's read");
    assert_eq!(
        staff_read["by"],
        json!({"kind": "user", "role": "staff", "you": false})
    );
    assert_eq!(staff_read["kind"], "read");
    let refusal = entries
        .iter()
        .find(|e| e["outcome"] == "denied")
        .expect("John's refused read");
    assert_eq!(refusal["by"]["role"], "patient");
    assert_eq!(refusal["by"]["you"], false);
    assert!(
        entries
            .iter()
            .any(|e| e["by"]["name"] == "Sam Okoro (front desk)" && e["by"]["role"] == "staff"),
        "{log}"
    );
    // Newest first; staff and other patients are never named by their ids, Jane never by name.
    let text = log.to_string();
    for hidden in [
        "staff-1",
        "staff-2",
        "patient-john",
        "admin-1",
        "Jane Q. Demo",
    ] {
        assert!(!text.contains(hidden), "{hidden} in {text}");
    }
    assert!(check_proofs(&log, &signer) >= 2);
    // The same check, offline, as `practica audit check-proof` does it with the PEM key alone.
    let pem = practica_cli::audit::pem_of(signer.public_key());
    let checked =
        practica_cli::audit::check_proof(&log.to_string(), &pem, KEY, Default::default()).unwrap();
    assert!(checked.proven >= 2 && checked.pending == 0, "{checked:?}");
    // Each sealed entry came with the bytes its leaf hashes, which name no one but Jane, by
    // commitment, and say what the log describes.
    assert_eq!(checked.with_bytes, checked.proven, "{checked:?}");
    let mine_in = |entry: &Value| {
        let inclusion = &entry["inclusion"];
        let bytes = STANDARD
            .decode(inclusion["entry"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            domain::merkle::leaf_hash(&bytes),
            hash(&inclusion["leafHash"])
        );
        let text = String::from_utf8(bytes).unwrap();
        for hidden in [
            "staff-1",
            "staff-2",
            "patient-john",
            "patient-",
            "Jane Q. Demo",
        ] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
        let opening: Vec<u8> = (0..32)
            .step_by(2)
            .map(|i| {
                u8::from_str_radix(&inclusion["opening"].as_str().unwrap()[i..i + 2], 16).unwrap()
            })
            .collect();
        let sealed: Value = serde_json::from_str(&text).unwrap();
        let jane_c = domain::commitment::commit_with(&opening, &jane_id);
        assert!(
            sealed["attrs"]["patient_ids"]
                .as_array()
                .unwrap()
                .contains(&json!(jane_c)),
            "{text}"
        );
        assert_eq!(sealed["attrs"]["action"], entry["action"]);
        (sealed, jane_c)
    };
    for entry in entries {
        mine_in(entry);
    }
    let (sealed, jane_c) = mine_in(refusal);
    assert_ne!(sealed["attrs"]["actor"], json!(jane_c), "John is not Jane");
    assert_eq!(sealed["attrs"]["outcome"], "denied");
    // A log whose description differs from the sealed bytes, or whose bytes were swapped, fails.
    for field in ["action", "at", "you", "bytes"] {
        let mut lying = log.clone();
        let first = &mut lying["entries"][0];
        match field {
            "action" => first["action"] = json!("appointment.cancel"),
            "at" => first["at"] = json!("2020-01-01T00:00:00Z"),
            "you" => first["by"]["you"] = json!(first["by"]["you"] != true),
            _ => first["inclusion"]["entry"] = log["entries"][1]["inclusion"]["entry"].clone(),
        }
        assert!(
            practica_cli::audit::check_proof(&lying.to_string(), &pem, KEY, Default::default())
                .is_err(),
            "{field}"
        );
    }
    // Checked as Jane (her own id), someone else's log is refused; an entry sealed without its
    // bytes fails once bytes are required.
    let as_john = practica_cli::audit::Expect {
        patient: Some("patient-john"),
        ..Default::default()
    };
    assert!(practica_cli::audit::check_proof(&log.to_string(), &pem, KEY, as_john).is_err());
    let mut bare = log.clone();
    bare["entries"][0]["inclusion"]
        .as_object_mut()
        .unwrap()
        .remove("entry");
    assert!(
        practica_cli::audit::check_proof(&bare.to_string(), &pem, KEY, Default::default()).is_ok()
    );
    let required = practica_cli::audit::Expect {
        bytes_from: Some(0),
        ..Default::default()
    };
    assert!(practica_cli::audit::check_proof(&bare.to_string(), &pem, KEY, required).is_err());
    let earlier_note = log["checkpoint"].as_str().unwrap().to_owned();
    let earlier = verify_checkpoint(&earlier_note, KEY, signer.public_key()).unwrap();
    let other = practica_cli::audit::pem_of(LocalSigner::generate().unwrap().public_key());
    assert!(
        practica_cli::audit::check_proof(&log.to_string(), &other, KEY, Default::default())
            .is_err()
    );
    let mut tampered = log.clone();
    let first = tampered["entries"][0]["inclusion"]["leafHash"].clone();
    tampered["entries"][0]["inclusion"]["leafHash"] =
        tampered["entries"][1]["inclusion"]["leafHash"].clone();
    assert_ne!(first, tampered["entries"][0]["inclusion"]["leafHash"]);
    assert!(
        practica_cli::audit::check_proof(&tampered.to_string(), &pem, KEY, Default::default())
            .is_err()
    );

    // Reading it was itself an audited access, which shows up after the next integration.
    seal(&stack, &signer).await;
    let (_, _, log) = stack.send("GET", mine, Some(&jane), None, None).await;
    let newest = &log["entries"][0];
    assert_eq!(newest["action"], "access_log.read");
    assert_eq!(newest["by"]["you"], true);
    assert!(check_proofs(&log, &signer) >= 3);
    let (_, jane_c) = mine_in(newest);
    let (sealed, _) = mine_in(newest);
    assert_eq!(
        sealed["attrs"]["actor"],
        json!(jane_c),
        "Jane read her own log"
    );

    // The log only grew since the checkpoint Jane's browser checked first: the consistency
    // proof from it verifies, offline too; sizes outside the signed log are refused.
    let now = verify_checkpoint(
        log["checkpoint"].as_str().unwrap(),
        KEY,
        signer.public_key(),
    )
    .unwrap();
    assert!(now.size > earlier.size);
    let path = format!(
        "/v1/audit/consistency?from={}&to={}",
        earlier.size, now.size
    );
    let (status, _, answer) = stack.send("GET", &path, Some(&jane), None, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let proof: Vec<Hash> = answer["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash)
        .collect();
    assert!(domain::merkle::verify_consistency(
        earlier.size,
        now.size,
        &earlier.root,
        &now.root,
        &proof
    ));
    let since = practica_cli::audit::Since {
        checkpoint: &earlier_note,
        consistency: &answer.to_string(),
    };
    let expect = practica_cli::audit::Expect {
        patient: Some(&jane_id),
        bytes_from: Some(0),
        since: Some(since),
        witnesses: None,
    };
    let checked = practica_cli::audit::check_proof(&log.to_string(), &pem, KEY, expect).unwrap();
    assert_eq!(checked.extends, Some(earlier.size));
    assert_eq!(checked.with_bytes, checked.proven);
    // A proof for other sizes, or a rolled-back log (the earlier checkpoint as the current one's
    // successor), is refused.
    let mut shifted = answer.clone();
    shifted["from"] = json!(earlier.size - 1);
    let since = practica_cli::audit::Since {
        checkpoint: &earlier_note,
        consistency: &shifted.to_string(),
    };
    let expect = practica_cli::audit::Expect {
        since: Some(since),
        ..Default::default()
    };
    assert!(practica_cli::audit::check_proof(&log.to_string(), &pem, KEY, expect).is_err());
    let mut rolled_back = log.clone();
    rolled_back["checkpoint"] = json!(earlier_note);
    rolled_back["entries"] = json!([]);
    let since = practica_cli::audit::Since {
        checkpoint: log["checkpoint"].as_str().unwrap(),
        consistency: &answer.to_string(),
    };
    let expect = practica_cli::audit::Expect {
        since: Some(since),
        ..Default::default()
    };
    let error = practica_cli::audit::check_proof(&rolled_back.to_string(), &pem, KEY, expect)
        .unwrap_err()
        .to_string();
    assert!(error.contains("rolled back"), "{error}");
    for query in [
        format!("from=0&to={}", now.size),
        format!("from={}&to={}", now.size, earlier.size),
        format!("from=1&to={}", now.size + 1),
        // Only from a size some checkpoint signed.
        format!(
            "from={}&to={}",
            earlier.size + 1,
            now.size.max(earlier.size + 2)
        ),
    ] {
        let path = format!("/v1/audit/consistency?{query}");
        let (status, _, problem) = stack.send("GET", &path, Some(&jane), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {problem}");
        assert_eq!(problem["code"], "invalid_tree_sizes");
    }
    let (status, _, _) = stack.send("GET", &path, None, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Pages of one follow each other to the same list.
    let mut paged = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => format!("{mine}?limit=1"),
            Some(c) => format!("{mine}?limit=1&cursor={c}"),
        };
        let (status, _, page) = stack.send("GET", &path, Some(&jane), None, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        paged.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["at"].clone()),
        );
        match page["next"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
        assert!(paged.len() < 100, "pagination ends");
    }
    // (Each page read is one more audited access, after the list read above.)
    assert!(paged.len() >= log["entries"].as_array().unwrap().len());

    // An admin reads Jane's; staff may not; bad pages are 400.
    let theirs = format!("/v1/patients/{jane_id}/access-log");
    let (status, _, log) = stack.send("GET", &theirs, Some(&admin), None, None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    check_proofs(&log, &signer);
    let (status, _, _) = stack.send("GET", &theirs, Some(&staff), None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (query, code) in [
        ("limit=0", "invalid_limit"),
        ("limit=51", "invalid_limit"),
        ("cursor=nope", "invalid_cursor"),
        ("sort=asc", "invalid_query"),
    ] {
        let (status, _, problem) = stack
            .send("GET", &format!("{mine}?{query}"), Some(&jane), None, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(problem["code"], code, "{query}");
    }
    // A cursor of another patient's log does not open Jane's.
    let (_, _, admins) = stack
        .send(
            "GET",
            &format!("{theirs}?limit=1"),
            Some(&admin),
            None,
            None,
        )
        .await;
    let (_, _, johns) = stack
        .send(
            "GET",
            "/v1/patients/me/access-log?limit=1",
            Some(&john),
            None,
            None,
        )
        .await;
    assert!(johns["entries"].as_array().unwrap().is_empty() || johns["next"].is_null());
    if let Some(cursor) = admins["next"].as_str() {
        let (status, _, _) = stack
            .send(
                "GET",
                &format!("{mine}?cursor={cursor}"),
                Some(&john),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    // The admin's search: by patient, by actor, by outcome; itself audited.
    let period = "from=2026-11-20T00:00:00Z&to=2026-11-27T00:00:00Z";
    let search = |q: String| {
        let admin = admin.clone();
        let stack = &stack;
        async move {
            let (status, _, page) = stack
                .send(
                    "GET",
                    &format!("/v1/audit?{period}&{q}"),
                    Some(&admin),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{q}: {page}");
            page
        }
    };
    let about_jane = search(format!("patientId={jane_id}&limit=200")).await;
    let all = about_jane["entries"].as_array().unwrap();
    assert!(all.iter().any(|e| e["actor"] == "staff-1"));
    assert!(all.iter().all(|e| {
        e["patientIds"]
            .as_array()
            .unwrap()
            .contains(&json!(jane_id))
    }));
    let denied = search("outcome=denied".into()).await;
    assert!(
        denied["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["outcome"] == "denied")
    );
    assert!(
        denied["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "patient-john")
    );
    let by_staff = search("actor=staff-1&action=patient.read".into()).await;
    assert_eq!(
        by_staff["entries"].as_array().unwrap().len(),
        1,
        "{by_staff}"
    );
    assert!(by_staff["entries"][0]["leafIndex"].is_u64());
    assert_eq!(by_staff["entries"][0]["sourceFunction"], "booking");
    // Who, by part of the name their token carried.
    let by_name = search("actor=OKORO&limit=200".into()).await;
    let named = by_name["entries"].as_array().unwrap();
    assert!(
        !named.is_empty() && named.iter().all(|e| e["actor"] == "staff-2"),
        "{by_name}"
    );
    // A family of actions, the callers of one role, newest first.
    let family = search("role=staff&action=patient&limit=200".into()).await;
    let entries = family["entries"].as_array().unwrap();
    assert!(!entries.is_empty(), "{family}");
    assert!(entries.iter().all(|e| {
        e["action"].as_str().unwrap().starts_with("patient.")
            && e["roles"].as_array().unwrap().contains(&json!("staff"))
    }));
    let all_entries = search("limit=200".into()).await;
    let times: Vec<&str> = all_entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    assert!(
        times.len() > 2 && times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    // `patient` is a family; `patients` is no action's family.
    assert!(
        search("action=patients".into()).await["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Page by page, the whole period's entries come back once each.
    let mut seen = 0;
    let mut cursor = String::new();
    loop {
        let page = search(format!("limit=3{cursor}")).await;
        seen += page["entries"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let everything = search("limit=200".into()).await;
    assert!(everything["next"].is_null());
    // The paging searches were audited too, so the later full search sees more.
    assert!(everything["entries"].as_array().unwrap().len() >= seen);
    assert!(
        everything["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "audit.search")
    );
    for (q, code) in [
        ("limit=0".to_owned(), "invalid_limit"),
        ("cursor=AAAA".to_owned(), "invalid_cursor"),
        ("outcome=".to_owned(), "invalid_query"),
        ("outcome=maybe".to_owned(), "invalid_query"),
        (format!("action={}", "a".repeat(65)), "invalid_query"),
        ("role=owner".to_owned(), "invalid_query"),
    ] {
        let (status, _, problem) = stack
            .send(
                "GET",
                &format!("/v1/audit?{period}&{q}"),
                Some(&admin),
                None,
                None,
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code))
        );
    }
    let (status, _, problem) = stack
        .send(
            "GET",
            "/v1/audit?from=2026-11-20T00:00:00Z&to=2026-12-27T00:00:00Z",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("range_too_long"))
    );
}

#[tokio::test]
async fn access_logs_with_proofs_on_embedded() {
    access_logs_with_proofs(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn access_logs_with_proofs_on_dynamodb_local() {
    access_logs_with_proofs(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// The key service, down.
struct KeysDown;

#[async_trait::async_trait]
impl shared::crypto::KeyService for KeysDown {
    async fn generate_data_key(
        &self,
        _: &shared::crypto::EncryptionContext,
    ) -> Result<shared::crypto::DataKey, shared::crypto::KeyError> {
        Err(shared::crypto::KeyError::Unavailable(anyhow::anyhow!(
            "KMS is down"
        )))
    }
    async fn decrypt_data_key(
        &self,
        _: &[u8],
        _: &shared::crypto::EncryptionContext,
    ) -> Result<shared::crypto::PlainKey, shared::crypto::KeyError> {
        Err(shared::crypto::KeyError::Unavailable(anyhow::anyhow!(
            "KMS is down"
        )))
    }
}

/// A read of patient data that fails because the key service is down answers 503, shows nothing,
/// and leaves a `failed` entry naming the patient.
#[tokio::test]
async fn a_read_that_fails_on_the_key_service_is_audited_as_failed() {
    use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER};
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let down = shared::state::AppState::assemble(shared::app::Parts {
        table: stack.state.table.clone(),
        table_name: "practica-test".into(),
        keys: std::sync::Arc::new(KeysDown),
        jwks: std::sync::Arc::new(shared::auth::StaticJwks(stack.issuer.jwks().clone())),
        auth: shared::auth::AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
        cache: shared::crypto::CachePolicy::default(),
        clock: stack.state.clock.clone(),
    });
    let staff = stack.token("staff-1", &[Role::Staff]);
    let request = http::Request::get(format!("/v1/patients/{}", demo.patient_id))
        .header("authorization", format!("Bearer {staff}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, body) = practica_tests::call(booking::router(down), request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(!body.to_string().contains("jane"), "{body}");
    let failed: Vec<_> = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i.key.pk.starts_with("AUDIT#2"))
        .filter(|i| i.get("outcome").and_then(|v| v.as_s()) == Some("failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0].get("action").and_then(|v| v.as_s()),
        Some("patient.read")
    );
    let patients = format!("{:?}", failed[0].get("patient_ids"));
    assert!(patients.contains(demo.patient_id.as_str()), "{patients}");
}

/// Books a follow-up with the demo's first provider at `start` for the token's patient; its id.
async fn book(
    stack: &Stack,
    demo: &practica_cli::demo::Demo,
    token: &str,
    key: &str,
    start: &str,
) -> String {
    let body = json!({
        "providerId": demo.providers[0],
        "serviceId": demo.services[1],
        "start": start,
    });
    let (status, _, booked) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(token),
            Some(key),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    booked["id"].as_str().unwrap().to_owned()
}

/// Another patient's refused read, move and cancellation of Jane's appointment name her: each is
/// in her own access log (refused, by a patient who is not her) and in the admin's search by her
/// id; an attempt on an appointment that does not exist names nobody.
async fn refusals_of_an_appointment_are_in_its_patients_trail(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let signer = LocalSigner::generate().unwrap();
    let jane_id = demo.patient_id.to_string();
    let jane = stack.token(&jane_id, &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let id = book(&stack, &demo, &jane, "b", "2026-11-25T10:00:00-05:00").await;
    let path = format!("/v1/appointments/{id}");
    let (status, _, _) = stack.send("GET", &path, Some(&john), None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = stack
        .send(
            "POST",
            &format!("{path}/cancel"),
            Some(&john),
            Some("c"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = stack
        .send(
            "POST",
            &format!("{path}/reschedule"),
            Some(&john),
            Some("r"),
            Some(json!({"start": "2026-11-26T10:00:00-05:00"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let missing = "/v1/appointments/apt_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let (status, _, _) = stack.send("GET", missing, Some(&john), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    seal(&stack, &signer).await;

    let (status, _, log) = stack
        .send("GET", "/v1/patients/me/access-log", Some(&jane), None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let refused: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "denied")
        .inspect(|e| assert_eq!(e["by"]["you"], false, "{e}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "appointment.read",
        "appointment.cancel",
        "appointment.reschedule",
    ] {
        assert!(refused.contains(&action), "{action} in {refused:?}");
    }
    let period = "from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z";
    let (status, _, found) = stack
        .send(
            "GET",
            &format!("/v1/audit?{period}&patientId={jane_id}&outcome=denied"),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let by_john: Vec<&Value> = found["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "patient-john")
        .collect();
    assert_eq!(by_john.len(), 3, "{found}");
    // The attempt on a missing appointment names nobody.
    let (_, _, all) = stack
        .send(
            "GET",
            &format!("/v1/audit?{period}&actor=patient-john&action=appointment.read"),
            Some(&admin),
            None,
            None,
        )
        .await;
    let names: Vec<&Value> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["patientIds"])
        .collect();
    assert!(names.contains(&&json!([jane_id])), "{all}");
    assert!(names.contains(&&json!([])), "{all}");
}

#[tokio::test]
async fn refusals_of_an_appointment_are_in_its_patients_trail_on_embedded() {
    refusals_of_an_appointment_are_in_its_patients_trail(Stack::on(embedded_fixture().await).await)
        .await;
}

#[tokio::test]
async fn refusals_of_an_appointment_are_in_its_patients_trail_on_dynamodb_local() {
    refusals_of_an_appointment_are_in_its_patients_trail(
        Stack::on(dynamodb_local_fixture().await).await,
    )
    .await;
}

/// Refused requests of one caller beyond 20 in an hour are counted, not recorded one by one, and
/// sealed as one aggregate entry once the hour is over: `flood` refusals (sent `at_once` at a time,
/// so the limit is raced), then a booking, which the next integration seals; the run after the
/// hour seals the aggregate. Exactly 20 entries of their own, whatever the race; the patient they
/// named sees both in her access log, the aggregate with its count.
async fn a_flood_of_refusals_is_aggregated_and_cannot_stall_sealing(
    stack: Option<Stack>,
    flood: usize,
    at_once: usize,
) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let signer = LocalSigner::generate().unwrap();
    let jane_id = demo.patient_id.to_string();
    let jane = stack.token(&jane_id, &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let first = book(&stack, &demo, &jane, "first", "2026-11-25T10:00:00-05:00").await;
    let path = format!("/v1/appointments/{first}");
    let mut sent = 0;
    while sent < flood {
        let wave = at_once.min(flood - sent);
        // One wave's requests race each other for the last places under the limit.
        let answers = futures_util::future::join_all(
            (0..wave).map(|_| stack.send("GET", &path, Some(&john), None, None)),
        )
        .await;
        assert!(answers.iter().all(|(s, _, _)| *s == StatusCode::FORBIDDEN));
        sent += wave;
    }
    book(&stack, &demo, &jane, "second", "2026-11-26T10:00:00-05:00").await;
    let sealed = integrate(&*stack.state.table, &signer, &*stack.state.clock, &config())
        .await
        .expect("integrate");
    let log = |token: String| {
        let stack = &stack;
        async move {
            let (status, _, log) = stack
                .send(
                    "GET",
                    "/v1/patients/me/access-log?limit=50",
                    Some(&token),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{log}");
            log["entries"].as_array().unwrap().clone()
        }
    };
    let entries = log(jane.clone()).await;
    let created = entries
        .iter()
        .filter(|e| e["action"] == "appointment.create")
        .collect::<Vec<_>>();
    assert_eq!(created.len(), 2, "both bookings are in her log");
    assert!(
        created.iter().all(|e| e["inclusion"].is_object()),
        "sealed in the first run"
    );
    let refused = |entries: &[Value]| {
        entries
            .iter()
            .filter(|e| e["outcome"] == "denied")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(refused(&entries).len(), 20, "twenty recorded one by one");
    assert!(
        sealed.size < 40,
        "the flood did not reach the log: {sealed:?}"
    );

    // The hour is over: the next run seals its aggregate, once.
    stack.clock.advance(jiff::SignedDuration::from_mins(70));
    for _ in 0..2 {
        integrate(&*stack.state.table, &signer, &*stack.state.clock, &config())
            .await
            .expect("integrate");
    }
    let jane = stack.token(&jane_id, &[Role::Patient]);
    let entries = log(jane).await;
    let refused = refused(&entries);
    let aggregates: Vec<&Value> = refused
        .iter()
        .filter(|e| e["action"] == "refusals.aggregate")
        .collect();
    assert_eq!(aggregates.len(), 1, "{refused:?}");
    assert_eq!(aggregates[0]["count"], json!(flood - 20));
    assert_eq!(aggregates[0]["by"]["role"], "patient");
    assert_eq!(aggregates[0]["by"]["you"], false);
    assert!(aggregates[0]["inclusion"].is_object());
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (status, _, found) = stack
        .send(
            "GET",
            &format!(
                "/v1/audit?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z\
                 &actor=patient-john&patientId={jane_id}&limit=50"
            ),
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let by_john = found["entries"].as_array().unwrap();
    assert_eq!(by_john.len(), 21, "{found}");
    let total: i64 = by_john
        .iter()
        .map(|e| e["count"].as_i64().unwrap_or(1))
        .sum();
    assert_eq!(total, flood as i64);
}

#[tokio::test]
async fn a_flood_of_refusals_is_aggregated_and_cannot_stall_sealing_on_embedded() {
    let stack = Stack::on(embedded_fixture().await).await;
    a_flood_of_refusals_is_aggregated_and_cannot_stall_sealing(stack, 5_000, 50).await;
}

#[tokio::test]
async fn a_flood_of_refusals_is_aggregated_and_cannot_stall_sealing_on_dynamodb_local() {
    let stack = Stack::on(dynamodb_local_fixture().await).await;
    a_flood_of_refusals_is_aggregated_and_cannot_stall_sealing(stack, 200, 40).await;
}

/// A caller refused on made-up patient ids, each new: the hour's aggregate names at most 100
/// patients (each with its own count) and counts every refusal in its total; integration goes on.
async fn an_aggregate_names_a_bounded_number_of_patients(stack: Option<Stack>, made_up: usize) {
    let Some(stack) = stack else { return };
    stack.seed().await;
    let signer = LocalSigner::generate().unwrap();
    let john = stack.token("patient-john", &[Role::Patient]);
    for wave in (0..made_up).collect::<Vec<_>>().chunks(25) {
        let (stack, john) = (&stack, &john);
        let answers = futures_util::future::join_all(wave.iter().map(|i| async move {
            let path = format!("/v1/patients/patient-{i:0>120}");
            stack.send("GET", &path, Some(john), None, None).await.0
        }))
        .await;
        assert!(answers.iter().all(|s| *s == StatusCode::FORBIDDEN));
    }
    stack.clock.advance(jiff::SignedDuration::from_mins(70));
    let done = integrate(&*stack.state.table, &signer, &*stack.state.clock, &config())
        .await
        .expect("integrate");
    assert!(done.added > 0);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (status, _, found) = stack
        .send(
            "GET",
            "/v1/audit?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z\
             &actor=patient-john&action=refusals.aggregate",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let aggregate = &found["entries"][0];
    assert_eq!(aggregate["count"], json!(made_up - 20), "{found}");
    let named = aggregate["patientIds"].as_array().unwrap().len();
    assert_eq!(named, 100.min(made_up - 20), "{found}");
}

#[tokio::test]
async fn an_aggregate_names_a_bounded_number_of_patients_on_embedded() {
    let stack = Stack::on(embedded_fixture().await).await;
    an_aggregate_names_a_bounded_number_of_patients(stack, 300).await;
}

#[tokio::test]
async fn an_aggregate_names_a_bounded_number_of_patients_on_dynamodb_local() {
    let stack = Stack::on(dynamodb_local_fixture().await).await;
    an_aggregate_names_a_bounded_number_of_patients(stack, 200).await;
}

#[tokio::test]
async fn the_front_desk_sees_which_messages_went_to_a_patient_and_nothing_of_their_text() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let signer = LocalSigner::generate().unwrap();
    let jane = stack.token("patient-jane", &[Role::Patient]);
    // Her address confirmed (so email goes out), then a booking: its confirmation is sent.
    let id_token = {
        let subject = shared::auth::Subject::parse("patient-jane").unwrap();
        let now = practica_tests::TEST_NOW as u64;
        stack
            .issuer
            .mint_id_token(&subject, "jane.demo@example.org", true, now, now + 3600)
            .unwrap()
    };
    let (status, _, _) = stack
        .send_with(
            "POST",
            "/v1/patients/me/email-verification",
            Some(&jane),
            Some("v"),
            Some(json!({})),
            &[("x-id-token", id_token.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1],
        "start": "2026-11-24T10:00:00-05:00"});
    assert_eq!(
        stack.post(&jane, "b", "/v1/appointments", body).await.0,
        StatusCode::CREATED
    );
    let recorder = practica_tests::Recorder::new();
    shared::notify::deliver_due(&stack.state, &practica_tests::delivery(&recorder), 100)
        .await
        .unwrap();
    assert_eq!(recorder.sent().len(), 1);
    seal(&stack, &signer).await;

    let staff = stack.token("staff-1", &[Role::Staff]);
    let (status, list) = stack
        .get(&staff, "/v1/patients/patient-jane/messages")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let messages = list["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{list}");
    assert_eq!(messages[0]["kind"], "confirmation");
    assert_eq!(messages[0]["action"], "notification.send");
    assert_eq!(messages[0]["channels"], json!(["email"]));
    assert!(
        !list.to_string().contains("jane.demo"),
        "no address: {list}"
    );
    // Staff only; the read names her.
    for token in [&jane, &stack.token("provider-rivera", &[Role::Provider])] {
        assert_eq!(
            stack
                .get(token, "/v1/patients/patient-jane/messages")
                .await
                .0,
            StatusCode::FORBIDDEN
        );
    }
    let items = stack.scan().await;
    let reads = practica_tests::audits(&items, "message.list");
    assert!(
        reads
            .iter()
            .any(|i| format!("{:?}", i.get("patient_ids")).contains("patient-jane"))
    );
}
