//! A patient's address confirmed by her own login: Cognito's access tokens carry no address, its
//! ID tokens do, so the portal sends the ID token (`X-Id-Token`) with the one request that
//! confirms it (`POST /v1/patients/me/email-verification`). The record typed by staff is
//! unverified and no email goes out; her login's ID token marks it verified (or, asked to, puts
//! the login's address on the record); a token of another login, of another kind, expired, or not
//! vouching for the address changes nothing.

use http::StatusCode;
use practica_tests::{Stack, TEST_NOW, audits};
use serde_json::{Value, json};
use shared::auth::{Role, Subject};

const JANE: &str = "patient-jane";
const PATH: &str = "/v1/patients/me/email-verification";

fn id_token(stack: &Stack, sub: &str, email: &str, verified: bool) -> String {
    let subject = Subject::parse(sub).unwrap();
    let now = TEST_NOW as u64;
    stack
        .issuer
        .mint_id_token(&subject, email, verified, now, now + 3600)
        .unwrap()
}

async fn verify(
    stack: &Stack,
    token: &str,
    key: &str,
    id: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = id.map(|t| ("x-id-token", t)).into_iter().collect();
    let (status, _, body) = stack
        .send_with("POST", PATH, Some(token), Some(key), Some(body), &headers)
        .await;
    (status, body)
}

async fn record(stack: &Stack, token: &str) -> Value {
    let (status, _, me) = stack
        .send("GET", "/v1/patients/me", Some(token), None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me
}

#[tokio::test]
async fn her_own_id_token_verifies_the_address_on_her_record_and_email_goes_to_it() {
    let stack = Stack::embedded();
    stack.seed().await;
    // Staff register her and type her address: unverified, so by default no email goes out.
    let staff = stack.token("staff-1", &[Role::Staff]);
    let new = json!({"patientId": "patient-ada", "name": "Ada Newcomer", "dateOfBirth": "1990-02-03",
        "phone": "+1 555 0100 999", "email": "ada@example.org"});
    let (status, _, created) = stack
        .send("POST", "/v1/patients", Some(&staff), Some("c-1"), Some(new))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ada = stack.token("patient-ada", &[Role::Patient]);
    assert_eq!(record(&stack, &ada).await["emailVerified"], false);
    let before = stack.preferences(&ada).await;
    assert_eq!(
        (&before["emailVerified"], &before["channels"]),
        (&json!(false), &json!([]))
    );

    // Her login vouches for the same address, in other letter case.
    let id = id_token(&stack, "patient-ada", "Ada@Example.org", true);
    let (status, reply) = verify(&stack, &ada, "v-1", Some(&id), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["emailVerified"], true);
    assert_eq!(
        reply["email"], "ada@example.org",
        "the record's address is kept"
    );
    let fields: Vec<&String> = reply.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        ["email", "emailVerified"],
        "no more of the record than that"
    );
    assert_eq!(record(&stack, &ada).await["emailVerified"], true);
    let after = stack.preferences(&ada).await;
    assert_eq!(
        (&after["emailVerified"], &after["channels"]),
        (&json!(true), &json!(["email"]))
    );
    assert_eq!(audits(&stack.scan().await, "patient.email.verify").len(), 1);

    // The same request again is a replay: the same answer, no second entry.
    let (status, again) = verify(&stack, &ada, "v-1", Some(&id), json!({})).await;
    assert_eq!((status, &again), (StatusCode::OK, &reply));
    assert_eq!(audits(&stack.scan().await, "patient.email.verify").len(), 1);
}

#[tokio::test]
async fn another_address_is_put_on_the_record_only_when_she_asks() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token(JANE, &[Role::Patient]);
    let id = id_token(&stack, JANE, "jane.new@example.net", true);
    let before = stack.scan().await;

    let (status, problem) = verify(&stack, &jane, "d-1", Some(&id), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "email_differs");
    let text = problem.to_string();
    assert!(
        !text.contains("jane.new") && !text.contains("jane.demo"),
        "no address in the answer: {text}"
    );
    assert_eq!(record(&stack, &jane).await["emailVerified"], false);

    let (status, reply) = verify(&stack, &jane, "d-2", Some(&id), json!({"replace": true})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["email"], "jane.new@example.net");
    assert_eq!(reply["emailVerified"], true);
    let me = record(&stack, &jane).await;
    assert_eq!(
        (&me["email"], &me["emailVerified"]),
        (&json!("jane.new@example.net"), &json!(true))
    );
    assert_eq!(
        audits(&stack.scan().await, "patient.email.replace").len(),
        1
    );
    assert_eq!(audits(&before, "patient.email.replace").len(), 0);

    // Staff find her by the new address (the blind index moved with it), no longer by the old.
    let staff = stack.token("staff-1", &[Role::Staff]);
    for (email, found) in [("jane.new@example.net", 1), ("jane.demo@example.org", 0)] {
        let (status, _, list) = stack
            .send(
                "POST",
                "/v1/patients/search",
                Some(&staff),
                None,
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let patients = list["patients"]
            .as_array()
            .or(list.as_array())
            .cloned()
            .unwrap_or_default();
        assert_eq!(patients.len(), found, "{email}: {list}");
    }
}

#[tokio::test]
async fn a_token_that_does_not_vouch_for_her_changes_nothing() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token(JANE, &[Role::Patient]);
    let before = practica_tests::without_denials(stack.scan().await);
    // Jane's ID token from a key that is not the pool's: under the pool's own issuer name
    // (forged), and under another pool's.
    let signed_elsewhere = |issuer: &str| {
        use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LocalIssuer};
        let now = TEST_NOW as u64;
        LocalIssuer::generate(issuer, LOCAL_AUDIENCE)
            .unwrap()
            .mint_id_token(
                &Subject::parse(JANE).unwrap(),
                "jane.demo@example.org",
                true,
                now,
                now + 3600,
            )
            .unwrap()
    };
    let forged = signed_elsewhere(shared::adapters::local_issuer::LOCAL_ISSUER);
    let other_pool = signed_elsewhere("https://staff-pool.example");
    let expired = {
        let now = TEST_NOW as u64;
        stack
            .issuer
            .mint_id_token(
                &Subject::parse(JANE).unwrap(),
                "jane.demo@example.org",
                true,
                now - 7200,
                now - 3600,
            )
            .unwrap()
    };
    let cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
        (
            "none",
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_not_vouched",
        ),
        (
            "unverified",
            Some(id_token(&stack, JANE, "jane.demo@example.org", false)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_not_vouched",
        ),
        (
            "another login's",
            Some(id_token(
                &stack,
                "patient-john",
                "jane.demo@example.org",
                true,
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id_token",
        ),
        // An access token is not an ID token (it has no `aud`, and `token_use` is `access`).
        (
            "an access token",
            Some(jane.clone()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id_token",
        ),
        (
            "forged",
            Some(forged),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id_token",
        ),
        (
            "expired",
            Some(expired),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id_token",
        ),
        // The same subject and address from another pool: not this login's.
        (
            "another pool's",
            Some(other_pool),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id_token",
        ),
        (
            "garbage",
            Some("not.a.token".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_id_token",
        ),
    ];
    for (i, (what, id, status, code)) in cases.into_iter().enumerate() {
        let key = format!("bad-{i}");
        let (got, problem) = verify(&stack, &jane, &key, id.as_deref(), json!({})).await;
        assert_eq!(got, status, "{what}: {problem}");
        assert_eq!(problem["code"], code, "{what}");
    }
    assert_eq!(
        practica_tests::without_denials(stack.scan().await),
        before,
        "nothing written"
    );
    assert_eq!(record(&stack, &jane).await["emailVerified"], false);

    // An ID token used as the bearer token is refused: the API takes access tokens.
    let id = id_token(&stack, JANE, "jane.demo@example.org", true);
    let (status, _, _) = stack
        .send("GET", "/v1/patients/me", Some(&id), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Staff have no own address to confirm here; a patient without a record has nothing to mark.
    let staff = stack.token("staff-1", &[Role::Staff]);
    let staff_id = id_token(&stack, "staff-1", "desk@example.org", true);
    let (status, _) = verify(&stack, &staff, "s-1", Some(&staff_id), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let newcomer = stack.token("patient-new", &[Role::Patient]);
    let new_id = id_token(&stack, "patient-new", "new@example.org", true);
    let (status, _) = verify(&stack, &newcomer, "n-1", Some(&new_id), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_local_sign_in_returns_an_id_token_that_vouches_for_the_demo_patient() {
    let stack = Stack::embedded();
    stack.seed().await;
    let minter = practica_cli::login::Minter {
        issuer: stack.issuer.clone(),
        clock: stack.clock.clone(),
        directory: None,
    };
    let jane_user = &practica_cli::login::DEMO_USERS[0];
    let access = minter.mint(jane_user).unwrap();
    let id = minter
        .mint_id_token(jane_user)
        .unwrap()
        .expect("an ID token for Jane");
    let (status, reply) = verify(&stack, &access, "l-1", Some(&id), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["emailVerified"], true);
    // Staff get no ID token from the local sign-in: they have no address there.
    assert!(
        minter
            .mint_id_token(&practica_cli::login::DEMO_USERS[2])
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_verified_address_replaced_hears_of_it_once_and_nothing_else() {
    use domain::notify::{Channel, Kind};
    use shared::notify::deliver::Outcome;
    use shared::notify::{EmailEvent, record_email_event};
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token(JANE, &[Role::Patient]);
    // Replacing an address nobody verified (the one staff typed) tells it nothing.
    let typed = id_token(&stack, JANE, "jane.first@example.net", true);
    let (status, _) = verify(&stack, &jane, "r-1", Some(&typed), json!({"replace": true})).await;
    assert_eq!(status, StatusCode::OK);
    let notices = |stack: &Stack| {
        let state = stack.state.clone();
        async move {
            practica_tests::waiting_messages(&state)
                .await
                .into_iter()
                .filter(|m| m.kind == Kind::AddressChanged)
                .count()
        }
    };
    assert_eq!(
        notices(&stack).await,
        0,
        "an unverified address hears nothing"
    );

    // That one is verified now (her login vouched for it); replacing it tells it, once.
    let new = id_token(&stack, JANE, "jane.new@example.net", true);
    let (status, reply) = verify(&stack, &jane, "r-2", Some(&new), json!({"replace": true})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, again) = verify(&stack, &jane, "r-2", Some(&new), json!({"replace": true})).await;
    assert_eq!((status, &again), (StatusCode::OK, &reply), "a replay");
    assert_eq!(notices(&stack).await, 1);
    // The old address is sealed on the message, never in plaintext.
    let dump = format!("{:?}", stack.scan().await);
    assert!(
        !dump.contains("jane.first@"),
        "the replaced address in the table"
    );

    // Sent to the replaced address only, by email, even with email turned off for messages, and
    // without the new address in it.
    let (status, _, _) = stack
        .send(
            "PUT",
            "/v1/patients/me/notifications",
            Some(&jane),
            Some("off"),
            Some(json!({"email": false, "sms": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let recorder = practica_tests::Recorder::new();
    let delivery = practica_tests::delivery(&recorder);
    let done = shared::notify::deliver_due(&stack.state, &delivery, 100)
        .await
        .unwrap();
    assert!(
        done.iter()
            .any(|(_, o)| *o == Outcome::Sent(vec![Channel::Email])),
        "{done:?}"
    );
    let sent = recorder.sent();
    let notice: Vec<_> = sent
        .iter()
        .filter(|e| e.kind == Kind::AddressChanged)
        .collect();
    assert_eq!(notice.len(), 1);
    assert_eq!(notice[0].to.expose(), "jane.first@example.net");
    let text = format!(
        "{:?} {} {:?}",
        notice[0].subject, notice[0].text, notice[0].html
    );
    assert!(text.contains("was changed"), "{text}");
    assert!(
        !text.contains("jane.new"),
        "the new address is not told to the old one: {text}"
    );
    assert!(
        sent.iter()
            .all(|e| e.to.expose() != "jane.new@example.net" || e.kind != Kind::AddressChanged)
    );
    // Delivered once: a second run sends nothing more; the replaced address is no longer kept.
    let count = recorder.sent().len();
    shared::notify::deliver_due(&stack.state, &delivery, 100)
        .await
        .unwrap();
    assert_eq!(recorder.sent().len(), count);
    assert!(
        stack
            .scan()
            .await
            .iter()
            .all(|i| i.get("to_email").is_none()),
        "the sealed replaced address is removed once sent"
    );
    // Its owner marking it as spam (or it bouncing) does not touch her messages.
    let id = done
        .iter()
        .map(|(id, _)| id.clone())
        .find(|id| notice[0].dedupe_key.starts_with(&id.to_string()))
        .expect("the notice's id");
    for event in [EmailEvent::Complained, EmailEvent::Bounced] {
        let recorded = record_email_event(&stack.state, &id, event).await.unwrap();
        assert!(!recorded);
    }
    let prefs = stack.preferences(&jane).await;
    assert_eq!(prefs["emailBounced"], json!(false), "{prefs}");
}

#[tokio::test]
async fn a_verified_address_changed_on_her_record_hears_of_it_too() {
    use domain::notify::Kind;
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token(JANE, &[Role::Patient]);
    let same = id_token(&stack, JANE, "jane.demo@example.org", true);
    assert_eq!(
        verify(&stack, &jane, "v", Some(&same), json!({})).await.0,
        StatusCode::OK
    );
    let mut me = record(&stack, &jane).await;
    for field in ["patientId", "emailVerified"] {
        me.as_object_mut().unwrap().remove(field);
    }
    me["email"] = json!("someone.else@example.com");
    let (status, _, body) = stack
        .send("PUT", "/v1/patients/me", Some(&jane), Some("put"), Some(me))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let notices = practica_tests::waiting_messages(&stack.state)
        .await
        .into_iter()
        .filter(|m| m.kind == Kind::AddressChanged)
        .count();
    assert_eq!(notices, 1, "the verified address is told");
}
