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
