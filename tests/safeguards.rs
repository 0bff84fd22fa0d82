//! The safeguard table (docs/safeguards.md) is evidence only while every test it names exists: each
//! row names at least one test or says **not built**, and each `file::function` it names is a test
//! function in that file (each browser journey, a file the harness runs; each script, one
//! `scripts/test` runs). Also the one safeguard no other test checked: the staff pool requires MFA.

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The backticked references of a table row's last cell.
fn references(cell: &str) -> Vec<&str> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|r| !r.is_empty())
        .collect()
}

/// Whether `file` (from the workspace's root) has a test function `name`: `fn name(` right after
/// a `#[test]` or `#[tokio::test]` attribute (blank lines and other attributes between allowed).
fn has_test(file: &str, name: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("{ROOT}/{file}")) else {
        return false;
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, line)| {
        let declares = [format!("fn {name}("), format!("async fn {name}(")]
            .iter()
            .any(|d| line.starts_with(d.as_str()));
        declares
            && lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with("#[") || l.starts_with("///"))
                .any(|l| l.starts_with("#[test]") || l.starts_with("#[tokio::test"))
    })
}

#[test]
fn the_safeguard_table_names_only_tests_that_exist() {
    let text = std::fs::read_to_string(format!("{ROOT}/docs/safeguards.md")).expect("the table");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| ---"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .filter(|cells: &Vec<&str>| cells.len() == 3 && cells[2] != "tests")
        .collect();
    assert!(rows.len() >= 20, "the table's rows: {}", rows.len());
    let mut missing = Vec::new();
    for cells in &rows {
        let named = references(cells[2]);
        if named.is_empty() {
            assert!(
                cells[1].contains("**not built**"),
                "a row with no test must say it is not built: {cells:?}"
            );
            continue;
        }
        for reference in named {
            let found = match reference.split_once("::") {
                Some((file, name)) => has_test(file, name),
                // A browser journey, or a check the harness runs (scripts/test names it).
                None => {
                    let exists = std::path::Path::new(&format!("{ROOT}/{reference}")).is_file();
                    let harness =
                        std::fs::read_to_string(format!("{ROOT}/scripts/test")).unwrap_or_default();
                    exists
                        && (reference.starts_with("tests/browser/")
                            || (reference.starts_with("scripts/")
                                && harness.contains(&format!("$root/{reference}"))))
                }
            };
            if !found {
                missing.push(reference.to_owned());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "named in docs/safeguards.md but not a test: {missing:?}"
    );
}

#[test]
fn a_reference_to_a_missing_test_is_caught() {
    assert!(has_test(
        "tests/safeguards.rs",
        "the_safeguard_table_names_only_tests_that_exist"
    ));
    // A helper is not a test, and neither is a name that is not there.
    assert!(!has_test("tests/safeguards.rs", "references"));
    assert!(!has_test("tests/safeguards.rs", "no_such_test"));
    assert!(!has_test(
        "tests/no_such_file.rs",
        "the_staff_pool_requires_mfa"
    ));
}

#[test]
fn the_staff_pool_requires_mfa() {
    let text = std::fs::read_to_string(format!("{ROOT}/infra/data.template.json")).unwrap();
    let template: Value = serde_json::from_str(&text).unwrap();
    let staff = &template["Resources"]["StaffUserPool"]["Properties"];
    assert_eq!(staff["MfaConfiguration"], "ON", "{staff}");
    assert_eq!(
        staff["EnabledMfas"],
        serde_json::json!(["SOFTWARE_TOKEN_MFA"])
    );
}
