//! Staff find patients by name, phone and date of birth through blind-indexed search terms: what
//! matches and what does not, that nothing typed is stored or logged in plaintext, that a record's
//! terms follow its changes (racing ones included), and who may search.

use http::StatusCode;
use practica_tests::{Stack, dynamodb_local_fixture};
use serde_json::{Value, json};
use shared::auth::Role;

async fn search(stack: &Stack, token: &str, query: &str) -> (StatusCode, Value) {
    let (status, _, body) = stack
        .send(
            "POST",
            "/v1/patients/search",
            Some(token),
            None,
            Some(json!({ "query": query })),
        )
        .await;
    (status, body)
}

fn names(found: &Value) -> Vec<String> {
    found["patients"]
        .as_array()
        .unwrap_or_else(|| panic!("{found}"))
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn register(stack: &Stack, staff: &str, id: &str, name: &str, phone: &str, dob: &str) {
    let (status, body) = stack
        .post(
            staff,
            &format!("register-{id}"),
            "/v1/patients",
            json!({"patientId": id, "name": name, "dateOfBirth": dob, "phone": phone,
                   "email": format!("{id}@example.org")}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn the_front_desk_finds_patients_by_name_phone_and_date_of_birth() {
    let stack = Stack::embedded();
    stack.seed().await; // Jane Demo-Patient, +1 555 0100 123, 1988-04-12
    let staff = stack.token("staff-1", &[Role::Staff]);
    register(
        &stack,
        &staff,
        "patient-jo",
        "José O'Brien-Smith",
        "(617) 555-0199",
        "1990-01-31",
    )
    .await;
    register(
        &stack,
        &staff,
        "patient-janet",
        "Janet Dempsey",
        "617 555 0142",
        "1988-04-12",
    )
    .await;

    for (query, expected) in [
        ("jane", vec!["Jane Demo-Patient", "Janet Dempsey"]),
        ("jane demo", vec!["Jane Demo-Patient"]),
        ("JAN", vec!["Jane Demo-Patient", "Janet Dempsey"]),
        ("jan dem", vec!["Jane Demo-Patient", "Janet Dempsey"]),
        ("patient jan", vec!["Jane Demo-Patient"]),
        ("Jane P", vec!["Jane Demo-Patient"]),
        ("obrien", vec!["José O'Brien-Smith"]),
        ("jose smith", vec!["José O'Brien-Smith"]),
        ("555-0199", vec!["José O'Brien-Smith"]),
        ("+1 617 555 0199", vec!["José O'Brien-Smith"]),
        ("5550100123", vec!["Jane Demo-Patient"]),
        ("1988-04-12", vec!["Jane Demo-Patient", "Janet Dempsey"]),
        ("dempsey 1988-04-12", vec!["Janet Dempsey"]),
        ("jane 1988-04-13", vec![]),
        ("janette", vec![]),
        ("555-0198", vec![]),
    ] {
        let (status, found) = search(&stack, &staff, query).await;
        assert_eq!(status, StatusCode::OK, "{query}: {found}");
        assert_eq!(names(&found), expected, "{query}");
        assert_eq!(found["more"], false);
    }

    // An address still finds by exact match, typed in the query box or as `email`.
    let (_, found) = search(&stack, &staff, "Jane.Demo@example.org").await;
    assert_eq!(names(&found), ["Jane Demo-Patient"]);

    // Nothing to look up, too much, or both kinds at once: 422 in words, nothing searched.
    for (query, code) in [
        ("jo", "search_too_short"),
        ("0199", "search_too_short"),
        ("anne beth carl dora emil", "search_too_long"),
        ("jane 04/12/1988", "search_date_format"),
    ] {
        let (status, body) = search(&stack, &staff, query).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["code"], code);
        assert!(
            !body.to_string().contains(query),
            "the answer repeats the query"
        );
    }
    let (status, _, body) = stack
        .send(
            "POST",
            "/v1/patients/search",
            Some(&staff),
            None,
            Some(json!({"query": "jane", "email": "jane.demo@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Neither the names nor the terms they are found by are in the table in plaintext (the demo's
    // login subject, `patient-jane`, is an id, not a name).
    let dump = format!("{:?}", stack.scan().await).to_lowercase();
    for plain in [
        "jane demo",
        "josé",
        "obrien",
        "dempsey",
        "name:",
        "5550199",
        "1990-01-31",
    ] {
        assert!(!dump.contains(plain), "{plain} in the table");
    }
}

#[tokio::test]
async fn only_staff_search_and_every_search_and_match_is_audited() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let provider = stack.token("provider-rivera", &[Role::Provider]);
    for token in [&jane, &provider] {
        let (status, _) = search(&stack, token, "jane").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let staff = stack.token("staff-1", &[Role::Staff]);
    let before = stack.scan().await.len();
    let (status, _) = search(&stack, &staff, "jane").await;
    assert_eq!(status, StatusCode::OK);
    let audits: Vec<String> = stack
        .scan()
        .await
        .iter()
        .filter(|i| i.key.pk.starts_with("AUDIT#"))
        .filter(|i| i.get("actor").and_then(|v| v.as_s()) == Some("staff-1"))
        .filter_map(|i| i.get("action").and_then(|v| v.as_s()).map(str::to_owned))
        .collect();
    assert!(audits.contains(&"patient.search".to_owned()), "{audits:?}");
    assert!(audits.contains(&"patient.read".to_owned()), "{audits:?}");
    assert!(stack.scan().await.len() > before);
}

#[tokio::test]
async fn more_matches_than_a_page_say_so() {
    let stack = Stack::embedded();
    let staff = stack.token("staff-1", &[Role::Staff]);
    for n in 0..22 {
        let id = format!("patient-lee-{n:02}");
        register(
            &stack,
            &staff,
            &id,
            &format!("Sam Lee{n:02}"),
            "617 555 0100",
            "1980-01-01",
        )
        .await;
    }
    let (status, found) = search(&stack, &staff, "sam").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["patients"].as_array().unwrap().len(), 20);
    assert_eq!(found["more"], true);
    assert_eq!(names(&found)[0], "Sam Lee00", "by name");
    let (_, found) = search(&stack, &staff, "sam lee21").await;
    assert_eq!(names(&found), ["Sam Lee21"]);
    assert_eq!(found["more"], false);
}

/// The search-term items of a patient and the terms their record lists: always the same set.
async fn terms_agree(stack: &Stack, patient: &str) -> usize {
    let items = stack.scan().await;
    let pk = format!("PATIENT#{patient}");
    let stored: std::collections::BTreeSet<String> = items
        .iter()
        .filter(|i| i.key.pk == pk)
        .filter_map(|i| i.key.sk.strip_prefix("FIND#").map(str::to_owned))
        .collect();
    let profile = items
        .iter()
        .find(|i| i.key.pk == pk && i.key.sk == "PROFILE")
        .expect("the record");
    let listed: std::collections::BTreeSet<String> = profile
        .get("search_terms")
        .and_then(|v| v.as_s())
        .unwrap()
        .split(' ')
        .map(str::to_owned)
        .collect();
    assert_eq!(stored, listed, "term items and the record's list differ");
    stored.len()
}

fn my_record(name: &str) -> Value {
    json!({"name": name, "dateOfBirth": "1990-05-06", "phone": "617 555 0177",
           "email": "omar@example.org"})
}

/// Omar puts his own record under `name`.
async fn put_my_record(stack: &Stack, token: &str, name: &str, key: &str) -> (StatusCode, Value) {
    let (status, _, body) = stack
        .send(
            "PUT",
            "/v1/patients/me",
            Some(token),
            Some(key),
            Some(my_record(name)),
        )
        .await;
    (status, body)
}

/// Racing changes of Omar's name: each lands whole or answers 409, and afterwards he is found by
/// his current surname only.
async fn racing_changes_leave_one_name_to_find(stack: &Stack) {
    let staff = stack.token("staff-1", &[Role::Staff]);
    let omar = stack.token("patient-omar", &[Role::Patient]);
    let racers = ["Omar Aziz", "Omar Nasser", "Omar Karim", "Omar Saleh"];
    let keys: Vec<String> = (0..racers.len()).map(|n| format!("race-{n}")).collect();
    let answers = futures_util::future::join_all(
        racers
            .iter()
            .zip(&keys)
            .map(|(name, key)| put_my_record(stack, &omar, name, key)),
    )
    .await;
    assert!(
        answers.iter().any(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "{status}: {body}"
        );
    }
    let (_, me) = stack.get(&omar, "/v1/patients/me").await;
    let current = me["name"].as_str().unwrap();
    for name in racers {
        let surname = name.split(' ').nth(1).unwrap();
        let found = names(&search(stack, &staff, surname).await.1);
        let expected: Vec<&str> = if name == current { vec![name] } else { vec![] };
        assert_eq!(found, expected, "{surname}");
    }
}

#[tokio::test]
async fn a_changed_name_is_found_by_the_new_one_only_even_when_changes_race() {
    let stack = Stack::embedded();
    let staff = stack.token("staff-1", &[Role::Staff]);
    let omar = stack.token("patient-omar", &[Role::Patient]);
    let (status, body) = put_my_record(&stack, &omar, "Omar Haddad", "first").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    terms_agree(&stack, "patient-omar").await;
    let (status, body) = put_my_record(&stack, &omar, "Omar Farouk", "second").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    terms_agree(&stack, "patient-omar").await;
    assert_eq!(
        names(&search(&stack, &staff, "farouk").await.1),
        ["Omar Farouk"]
    );
    assert!(names(&search(&stack, &staff, "haddad").await.1).is_empty());

    racing_changes_leave_one_name_to_find(&stack).await;
    terms_agree(&stack, "patient-omar").await;
}

#[tokio::test]
async fn racing_changes_keep_the_terms_on_dynamodb_local() {
    let Some(stack) = Stack::on(dynamodb_local_fixture().await).await else {
        return;
    };
    racing_changes_leave_one_name_to_find(&stack).await;
}

#[tokio::test]
async fn an_older_record_is_found_by_name_once_it_has_been_opened() {
    use shared::store::{Key, Update};
    let stack = Stack::embedded();
    let staff = stack.token("staff-1", &[Role::Staff]);
    register(
        &stack,
        &staff,
        "patient-p3",
        "Ruth Older",
        "617 555 0123",
        "1950-03-04",
    )
    .await;
    // As written before search terms existed: no terms, no list of them.
    for item in stack.scan().await {
        if item.key.pk == "PATIENT#patient-p3" && item.key.sk.starts_with("FIND#") {
            stack.state.table.delete(&item.key, None).await.unwrap();
        }
    }
    let profile = Key::new("PATIENT#patient-p3", "PROFILE");
    stack
        .state
        .table
        .update(&profile, Update::default().remove("search_terms"), None)
        .await
        .unwrap();
    assert!(names(&search(&stack, &staff, "ruth").await.1).is_empty());
    // Opened (by staff here; her own sign-in does the same), it gets its terms.
    let (status, _) = stack.get(&staff, "/v1/patients/patient-p3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(&search(&stack, &staff, "ruth").await.1),
        ["Ruth Older"]
    );
    terms_agree(&stack, "patient-p3").await;
    // Opening it again writes nothing more.
    let before = stack.scan().await.len();
    stack.get(&staff, "/v1/patients/patient-p3").await;
    let after = stack.scan().await;
    let writes = after.len() - before;
    assert!(writes <= 1, "only the read's audit entry: {writes}");
}
