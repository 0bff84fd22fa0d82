//! The asset inventory and data-flow map (`docs/inventory.md`), generated from the three templates so
//! that it cannot drift from what is deployed: every resource of each stack with the facts an
//! auditor asks about (encryption, retention, locks, second factor, triggers), and every function's
//! reach: what starts it, what its IAM statements allow and deny on which resources (and, for the
//! table, which partitions), and which parties outside AWS it talks to (read from its environment).
//! The test fails when the file is not what the templates give; `PRACTICA_WRITE_INVENTORY=1` with
//! this test rewrites it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A template value as text: `Ref`s and `GetAtt`s by name, `Sub` strings as written.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        Value::Object(map) => {
            if let Some(name) = map.get("Ref") {
                return show(name);
            }
            if let Some(Value::Array(parts)) = map.get("Fn::GetAtt") {
                return parts.iter().map(show).collect::<Vec<_>>().join(".");
            }
            if let Some(sub) = map.get("Fn::Sub") {
                return match sub {
                    Value::Array(parts) => show(&parts[0]),
                    other => show(other),
                };
            }
            if let Some(Value::Array(parts)) = map.get("Fn::If") {
                return format!("{} or {}", show(&parts[1]), show(&parts[2]));
            }
            if let Some(Value::Array(parts)) = map.get("Fn::Join") {
                return show(&parts[1]);
            }
            map.keys().cloned().collect::<Vec<_>>().join(", ")
        }
        Value::Null => String::new(),
    }
}

/// Table cells hold no pipes or newlines.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// What an auditor asks of a resource, read from its properties.
fn facts(kind: &str, resource: &Value) -> String {
    let p = &resource["Properties"];
    let mut out: Vec<String> = Vec::new();
    let mut say = |s: String| out.push(s);
    match kind {
        "AWS::DynamoDB::Table" => {
            if p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] == true {
                say("point-in-time recovery".into());
            }
            if p["SSESpecification"]["SSEEnabled"] == true {
                say(format!(
                    "encrypted with {}",
                    show(&p["SSESpecification"]["KMSMasterKeyId"])
                ));
            }
            if !p["StreamSpecification"].is_null() {
                say(format!(
                    "stream ({})",
                    show(&p["StreamSpecification"]["StreamViewType"])
                ));
            }
            if p["DeletionProtectionEnabled"] == true {
                say("deletion protection".into());
            }
        }
        "AWS::KMS::Key" => {
            say(show(&p["Description"]));
            let spec = if p["KeySpec"].is_null() {
                "SYMMETRIC_DEFAULT".into()
            } else {
                show(&p["KeySpec"])
            };
            let usage = if p["KeyUsage"].is_null() {
                "ENCRYPT_DECRYPT".into()
            } else {
                show(&p["KeyUsage"])
            };
            say(format!("{spec}, {usage}"));
            if p["EnableKeyRotation"] == true {
                say("rotated yearly".into());
            }
        }
        "AWS::S3::Bucket" => {
            if let Some(status) = p["VersioningConfiguration"]["Status"].as_str() {
                say(format!("versioning {status}"));
            }
            let lock = &p["ObjectLockConfiguration"]["Rule"]["DefaultRetention"];
            if !lock.is_null() {
                say(format!(
                    "Object Lock {} ({} years)",
                    show(&lock["Mode"]),
                    show(&lock["Years"])
                ));
            }
            for rule in list(&p["BucketEncryption"]["ServerSideEncryptionConfiguration"]) {
                say(format!(
                    "encrypted {}",
                    show(&rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"])
                ));
            }
            if p["PublicAccessBlockConfiguration"]["BlockPublicAcls"] == true {
                say("public access blocked".into());
            }
        }
        "AWS::Serverless::Function" => {
            say(format!(
                "binary `{}`",
                show(&resource["Metadata"]["BuildProperties"]["Binary"])
            ));
            let mut triggers: BTreeMap<String, usize> = BTreeMap::new();
            for event in p["Events"].as_object().into_iter().flat_map(|e| e.values()) {
                *triggers.entry(show(&event["Type"])).or_default() += 1;
            }
            if !triggers.is_empty() {
                say(format!(
                    "started by {}",
                    triggers
                        .iter()
                        .map(|(t, n)| format!("{t} ×{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(n) = p["ReservedConcurrentExecutions"].as_u64() {
                say(format!("at most {n} at once"));
            }
        }
        "AWS::Cognito::UserPool" => {
            say(format!("MFA {}", show(&p["MfaConfiguration"])));
            if p["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] == true {
                say("accounts created by administrators only".into());
            }
            if p["DeletionProtection"] == "ACTIVE" {
                say("deletion protection".into());
            }
        }
        "AWS::Backup::BackupVault" => {
            say(format!("encrypted with {}", show(&p["EncryptionKeyArn"])));
            let lock = &p["LockConfiguration"];
            if !lock.is_null() {
                say(format!(
                    "locked: kept at least {} days, lock fixed after {} days",
                    show(&lock["MinRetentionDays"]),
                    show(&lock["ChangeableForDays"])
                ));
            }
        }
        "AWS::Logs::LogGroup" => {
            say(format!("kept {} days", show(&p["RetentionInDays"])));
            if !p["KmsKeyId"].is_null() {
                say(format!("encrypted with {}", show(&p["KmsKeyId"])));
            }
        }
        "AWS::SQS::Queue" => {
            if !p["KmsMasterKeyId"].is_null() {
                say(format!("encrypted with {}", show(&p["KmsMasterKeyId"])));
            }
            if p["SqsManagedSseEnabled"] == true {
                say("encrypted (SQS-managed)".into());
            }
        }
        "AWS::SNS::Topic" => {
            if !p["KmsMasterKeyId"].is_null() {
                say(format!("encrypted with {}", show(&p["KmsMasterKeyId"])));
            }
        }
        "AWS::SecretsManager::Secret" => {
            say(show(&p["Description"]));
        }
        _ => {
            if p["Description"].is_string() {
                say(show(&p["Description"]));
            }
        }
    }
    out.retain(|s| !s.is_empty());
    cell(&out.join("; "))
}

fn assets(out: &mut String, title: &str, file: &str, template: &Value) {
    writeln!(out, "### {title} (`{file}`)\n").unwrap();
    writeln!(out, "| resource | type | facts |\n| --- | --- | --- |").unwrap();
    for (name, resource) in template["Resources"].as_object().unwrap() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        writeln!(out, "| {name} | {kind} | {} |", facts(kind, resource)).unwrap();
    }
    out.push('\n');
}

/// The IAM statements a function runs with: its own `Policies`, or its role's.
fn statements(template: &Value, function: &Value) -> Vec<Value> {
    let p = &function["Properties"];
    let mut out = Vec::new();
    for policy in list(&p["Policies"]) {
        out.extend(list(&policy["Statement"]));
    }
    if let Some(role) = p["Role"]["Fn::GetAtt"][0].as_str() {
        for policy in list(&template["Resources"][role]["Properties"]["Policies"]) {
            out.extend(list(&policy["PolicyDocument"]["Statement"]));
        }
    }
    out
}

/// Parties outside AWS a function talks to, by the settings that name them.
const OUTSIDE: [(&str, &str); 2] = [
    (
        "STRIPE_SECRET_KEY",
        "Stripe's API over HTTPS (amounts, payment ids; no patient data)",
    ),
    (
        "PRACTICA_AUDIT_WITNESSES",
        "the practice's witnesses over HTTPS (checkpoints and consistency proofs: hashes only)",
    ),
];

/// The one outside party no setting names: the addresses providers give for their busy
/// calendars, fetched by the sweep (`shared::adapters::calendar_fetch`).
const OUTSIDE_BY_BINARY: [(&str, &str); 1] = [(
    "sweep",
    "the providers' busy-calendar addresses over HTTPS (iCalendar fetched; nothing sent)",
)];

fn flows(out: &mut String, template: &Value) {
    for (name, resource) in template["Resources"].as_object().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        writeln!(out, "### {name}\n").unwrap();
        let events = resource["Properties"]["Events"].as_object();
        let mut triggers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for event in events.into_iter().flat_map(|e| e.values()) {
            let kind = show(&event["Type"]);
            let what = match kind.as_str() {
                "HttpApi" => format!(
                    "{} {}",
                    show(&event["Properties"]["Method"]),
                    show(&event["Properties"]["Path"])
                ),
                "Schedule" | "ScheduleV2" => {
                    show(&event["Properties"]["Schedule"])
                        + &show(&event["Properties"]["ScheduleExpression"])
                }
                "EventBridgeRule" => show(&event["Properties"]["Pattern"]["source"]),
                "DynamoDB" | "Kinesis" | "SQS" | "SNS" => {
                    show(&event["Properties"]["Stream"])
                        + &show(&event["Properties"]["Queue"])
                        + &show(&event["Properties"]["Topic"])
                }
                _ => String::new(),
            };
            triggers.entry(kind).or_default().push(what);
        }
        for (kind, whats) in &triggers {
            let whats: Vec<&String> = whats.iter().filter(|w| !w.is_empty()).collect();
            if kind == "HttpApi" {
                writeln!(out, "- started by the HTTP API: {} routes", whats.len()).unwrap();
            } else {
                let shown: Vec<String> = whats.iter().map(|w| format!("`{w}`")).collect();
                writeln!(out, "- started by {kind}: {}", shown.join(", ")).unwrap();
            }
        }
        for statement in statements(template, resource) {
            let effect = if statement["Effect"] == "Deny" {
                "denied"
            } else {
                "may"
            };
            let actions: Vec<String> = list(&statement["Action"]).iter().map(show).collect();
            // ARNs without the partition, region and account every one of them names.
            let resources: Vec<String> = list(&statement["Resource"])
                .iter()
                .map(|r| {
                    show(r)
                        .replace("arn:${AWS::Partition}:", "")
                        .replace(":${AWS::Region}:${AWS::AccountId}:", ":")
                })
                .collect();
            let mut line = format!(
                "- {effect} `{}` on {}",
                actions.join("`, `"),
                resources
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let condition = &statement["Condition"];
            for (_, test) in condition.as_object().into_iter().flatten() {
                for (key, value) in test.as_object().into_iter().flatten() {
                    write!(line, "; where `{key}` is {}", show(value)).unwrap();
                }
            }
            writeln!(out, "{line}").unwrap();
        }
        let env = &resource["Properties"]["Environment"]["Variables"];
        let mut globals = template["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        globals.extend(env.as_object().cloned().unwrap_or_default());
        for (variable, party) in OUTSIDE {
            if globals.contains_key(variable) {
                writeln!(out, "- talks to {party}").unwrap();
            }
        }
        let binary = show(&resource["Metadata"]["BuildProperties"]["Binary"]);
        for (_, party) in OUTSIDE_BY_BINARY.iter().filter(|(b, _)| *b == binary) {
            writeln!(out, "- talks to {party}").unwrap();
        }
        out.push('\n');
    }
}

fn render() -> String {
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{ROOT}/infra/data.template.json")).unwrap(),
    )
    .unwrap();
    let functions = practica_tests::template();
    let edge = practica_tests::edge_template();
    let mut out = String::from(
        "# Asset inventory and data flows\n\n\
         Generated from the templates by `tests/inventory.rs` (which fails when this file is not \
         what they give; `PRACTICA_WRITE_INVENTORY=1 cargo test -p practica-tests --test e2e \
         inventory` rewrites it). Patient data lives in one place, the table (`Table`), its \
         sensitive fields sealed with data keys the `DataKey` wraps before they reach it; the \
         flows below are every way in and out of it.\n\n## Assets\n\n",
    );
    assets(&mut out, "Data stack", "infra/data.template.json", &data);
    assets(
        &mut out,
        "Functions stack",
        "infra/template.yaml",
        &functions,
    );
    assets(&mut out, "Edge stack", "infra/edge.template.yaml", &edge);
    out.push_str(
        "## Data flows\n\nWhat starts each function, what its IAM statements allow and deny, \
         and whom outside AWS it talks to. Patients' and staff's browsers reach the functions \
         only through CloudFront and the HTTP API (`PortalDistribution`, `Api`).\n\n",
    );
    flows(&mut out, &functions);
    out
}

#[test]
fn the_inventory_is_what_the_templates_give() {
    let path = format!("{ROOT}/docs/inventory.md");
    let rendered = render();
    if std::env::var_os("PRACTICA_WRITE_INVENTORY").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == rendered,
        "docs/inventory.md is not what the templates give: rerun with PRACTICA_WRITE_INVENTORY=1"
    );
    // Every stack's resources are in it, and the table's protections are read.
    for name in [
        "Table",
        "AuditFunction",
        "PortalDistribution",
        "BackupVault",
    ] {
        assert!(rendered.contains(&format!("| {name} |")), "{name}");
    }
    assert!(rendered.contains("point-in-time recovery"));
    assert!(rendered.contains("### AuditFunction"));
}
