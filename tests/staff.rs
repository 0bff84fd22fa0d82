//! The workforce's logins through the router: an administrator adds one (refused input, a
//! duplicate address, idempotent replay), lists them, and disables one, whose token, valid and
//! unexpired, is refused from that moment (the staff account's standing on the table), while
//! others' go on working, and the calendar link it made stops; nobody else may list, add or
//! disable, an administrator cannot disable
//! their own login, and each step is audited. The Cognito adapter against moto: a login made in
//! its role's group, listed with its second factor, disabled and signed out everywhere.

use http::StatusCode;
use practica_tests::{Stack, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::directory::{DirectoryError, NewAccount, StaffDirectory};

fn find<'a>(list: &'a Value, subject: &str) -> &'a Value {
    list["staff"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["subject"] == subject)
        .unwrap_or_else(|| panic!("{subject} in {list}"))
}

async fn offboarding(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    stack.seed().await;
    let admin = stack.token("admin-1", &[Role::Admin]);
    let desk = stack.token("staff-1", &[Role::Staff]);
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let jane = stack.token("patient-jane", &[Role::Patient]);

    // Only an administrator manages logins.
    for token in [&desk, &rivera, &jane] {
        let (status, _) = stack.get(token, "/v1/staff").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let body = json!({"email": "x@example.org", "name": "X", "role": "staff"});
        let (status, _) = stack.post(token, "a0", "/v1/staff", body).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = stack
            .post(token, "d0", "/v1/staff/staff-1/disable", json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    // The demo workforce, then a new front-desk login.
    let (status, list) = stack.get(&admin, "/v1/staff").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(find(&list, "staff-1")["roles"], json!(["staff"]));
    assert_eq!(find(&list, "staff-1")["enabled"], true);
    assert!(
        list["staff"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["subject"] != "patient-jane"),
        "patients are not the workforce"
    );
    for (body, code) in [
        (
            json!({"email": "no-at-sign", "name": "Sam", "role": "staff"}),
            "invalid_email",
        ),
        (
            json!({"email": "sam@example.org", "name": " ", "role": "staff"}),
            "invalid_name",
        ),
        (
            json!({"email": "sam@example.org", "name": "Sam", "role": "patient"}),
            "invalid_role",
        ),
    ] {
        let (status, refused) = stack.post(&admin, code, "/v1/staff", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["code"], code);
    }
    let sam = json!({"email": "Sam.Lee@example.org", "name": "Sam Lee", "role": "staff"});
    let (status, added) = stack
        .post(&admin, "add-sam", "/v1/staff", sam.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let subject = added["subject"].as_str().unwrap().to_owned();
    assert_eq!(added["email"], "sam.lee@example.org");
    // The same request again is the same answer; another request for the address is refused.
    let (status, again) = stack
        .post(&admin, "add-sam", "/v1/staff", sam.clone())
        .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &added));
    let (status, refused) = stack.post(&admin, "add-sam-2", "/v1/staff", sam).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "staff_exists");

    // Sam works a while with an unexpired token, and subscribes to the practice's calendar.
    let sams = stack.token(&subject, &[Role::Staff]);
    let (status, _) = stack.get(&sams, "/v1/patients/patient-jane/consents").await;
    assert_eq!(status, StatusCode::OK);
    let (status, feed) = stack
        .post(&sams, "feed-sam", "/v1/calendar-feeds", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    let feed_path = format!(
        "/v1/feeds/{}",
        feed["url"].as_str().unwrap().rsplit('/').next().unwrap()
    );
    let (status, _, _) = stack.send("GET", &feed_path, None, None, None).await;
    assert_eq!(status, StatusCode::OK, "the link works");

    // An administrator cannot lock themself out; an unknown login is 404.
    let (status, refused) = stack
        .post(&admin, "d-self", "/v1/staff/admin-1/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "cannot_disable_self");
    let (status, _) = stack
        .post(&admin, "d-none", "/v1/staff/nobody/disable", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor can anyone disable the practice's last enabled administrator.
    let other_admin = stack.token("admin-2", &[Role::Admin]);
    let (status, refused) = stack
        .post(
            &other_admin,
            "d-last",
            "/v1/staff/admin-1/disable",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "last_administrator");

    // Sam leaves: disabled, and the token Sam still holds stops working at once.
    let path = format!("/v1/staff/{subject}/disable");
    let (status, disabled) = stack.post(&admin, "d-sam", &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["disabledAt"], "2026-11-23T13:00:00Z");
    for path in [
        "/v1/patients/patient-jane/consents",
        "/v1/me",
        "/v1/practice",
    ] {
        let (status, _, problem) = stack.send("GET", path, Some(&sams), None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {problem}");
        assert_eq!(problem["code"], "unauthorized");
    }
    // The calendar link Sam made is gone with the login.
    let (status, _, _) = stack.send("GET", &feed_path, None, None, None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the link stops with its maker"
    );
    // A new token for the login is refused too; everyone else goes on.
    let fresh = stack.token(&subject, &[Role::Staff]);
    let (status, _) = stack.get(&fresh, "/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for token in [&desk, &jane, &admin] {
        let (status, _) = stack.get(token, "/v1/me").await;
        assert_eq!(status, StatusCode::OK);
    }
    // Disabling again is the same answer (replayed), and a new request finds it done.
    let (status, replay) = stack.post(&admin, "d-sam", &path, json!({})).await;
    assert_eq!((status, &replay), (StatusCode::OK, &disabled));
    let (status, twice) = stack.post(&admin, "d-sam-2", &path, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        twice["disabledAt"], disabled["disabledAt"],
        "the first time stands"
    );
    let (_, list) = stack.get(&admin, "/v1/staff").await;
    assert_eq!(find(&list, &subject)["enabled"], false);
    assert_eq!(find(&list, "staff-1")["enabled"], true);

    // The log has each step, by whom, about whom.
    let (status, found) = stack
        .get(
            &admin,
            "/v1/audit?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&action=staff",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let actions: Vec<_> = found["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "success")
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    for action in ["staff.list", "staff.add", "staff.disable"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {found}");
    }
}

#[tokio::test]
async fn a_disabled_login_is_refused_at_once_on_the_embedded_store() {
    offboarding(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn a_disabled_login_is_refused_at_once_on_dynamodb_local() {
    offboarding(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// The production adapter against moto's Cognito: the staff pool's groups, a login invited into
/// one, listed, disabled and signed out everywhere.
#[tokio::test]
async fn on_moto_the_cognito_directory_adds_lists_and_disables() {
    use aws_sdk_cognitoidentityprovider::Client;
    let Some(endpoint) = practica_tests::Emulator::Moto.endpoint() else {
        return;
    };
    let sdk = practica_tests::sdk_config(&endpoint);
    let cognito = Client::new(&sdk);
    let pool = practica_tests::staff_pool(&cognito).await;
    let directory = shared::adapters::cognito_directory::CognitoDirectory::new(&sdk, &pool);
    let new = NewAccount {
        email: "sam.lee@example.org".into(),
        name: "Sam Lee".into(),
        role: Role::Provider,
    };
    let sam = directory.add(&new).await.unwrap();
    assert_eq!(sam.email.as_deref(), Some("sam.lee@example.org"));
    assert_eq!(sam.roles, vec![Role::Provider]);
    assert!(matches!(
        directory.add(&new).await,
        Err(DirectoryError::Exists)
    ));
    let listed = directory.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].subject, sam.subject);
    assert!(listed[0].enabled && !listed[0].mfa);
    directory.disable(&sam.subject).await.unwrap();
    let user = cognito
        .admin_get_user()
        .user_pool_id(&pool)
        .username(&sam.username)
        .send()
        .await
        .unwrap();
    assert!(!user.enabled(), "disabled at the pool");
    assert!(!directory.list().await.unwrap()[0].enabled);
    let nobody = shared::auth::Subject::parse("00000000-0000-0000-0000-000000000000").unwrap();
    assert!(matches!(
        directory.disable(&nobody).await,
        Err(DirectoryError::NotFound)
    ));
}
