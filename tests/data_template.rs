//! The table definition lives once, in infra/data.template.json: the code's key names must match it.

use shared::store::{GSI1_NAME, GSI1_PK, GSI1_SK, PK, SK, TTL_ATTR};

#[test]
fn code_and_template_agree_on_the_table() {
    let def = practica_tests::table_definition();
    let keys: Vec<(&str, &str)> = def["KeySchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap(),
                k["KeyType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [(PK, "HASH"), (SK, "RANGE")]);
    let gsi = &def["GlobalSecondaryIndexes"][0];
    assert_eq!(gsi["IndexName"], GSI1_NAME);
    assert_eq!(gsi["KeySchema"][0]["AttributeName"], GSI1_PK);
    assert_eq!(gsi["KeySchema"][1]["AttributeName"], GSI1_SK);
    assert_eq!(gsi["Projection"]["ProjectionType"], "ALL");
    assert_eq!(def["TimeToLiveSpecification"]["AttributeName"], TTL_ATTR);
    for attr in def["AttributeDefinitions"].as_array().unwrap() {
        assert_eq!(
            attr["AttributeType"], "S",
            "every key attribute is a string in the code"
        );
    }
}

/// The table's backups: point-in-time recovery (35 days of restore points), and a daily AWS Backup
/// plan into a vault under compliance-mode lock (kept at least 35 days; once the lock is fixed,
/// three days after it is set, nobody in the account can delete a recovery point sooner or lift
/// the lock), encrypted with its own rotating key, through a role only AWS Backup assumes.
#[test]
fn the_table_is_backed_up_daily_into_a_locked_vault() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/data.template.json");
    let template: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let r = &template["Resources"];
    assert_eq!(
        r["Table"]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    let vault = &r["BackupVault"];
    assert_eq!(vault["Type"], "AWS::Backup::BackupVault");
    assert_eq!(vault["DeletionPolicy"], "Retain");
    let lock = &vault["Properties"]["LockConfiguration"];
    assert!(lock["MinRetentionDays"].as_i64().unwrap() >= 35);
    assert!(
        lock["ChangeableForDays"].as_i64().unwrap() >= 3,
        "compliance mode: the lock becomes immutable"
    );
    assert_eq!(
        vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0],
        "BackupKey"
    );
    assert_eq!(r["BackupKey"]["Properties"]["EnableKeyRotation"], true);
    let rule = &r["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"][0];
    assert_eq!(rule["TargetBackupVault"]["Ref"], "BackupVault");
    assert_eq!(rule["ScheduleExpression"], "cron(0 5 * * ? *)", "daily");
    assert_eq!(rule["Lifecycle"]["DeleteAfterDays"], 35);
    let selection = &r["BackupSelection"]["Properties"];
    assert_eq!(selection["BackupPlanId"]["Ref"], "BackupPlan");
    assert_eq!(
        selection["BackupSelection"]["Resources"][0]["Fn::GetAtt"],
        serde_json::json!(["Table", "Arn"])
    );
    let role = &r["BackupRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "backup.amazonaws.com"
    );
}
