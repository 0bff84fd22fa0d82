//! The dependency rule of this crate, checked on its own sources so that it cannot erode silently.
//! The domain is a crate of its own (`practica-domain`): its manifest keeps every framework, SDK and
//! storage crate out, and it cannot name this crate at all; [`the_domain_crate_depends_on_pure_crates_only`]
//! keeps that manifest short. Inside this crate, from the inside out:
//!
//! | layer | files | may not name |
//! |---|---|---|
//! | table port | `store/` | frameworks, SDKs, redb; state, errors, crypto, auth, and every layer above |
//! | services | `crypto/`, `auth/`, `state.rs`, `error.rs`, `counters.rs`, `telemetry.rs`, `signaling.rs`, `directory.rs` | frameworks, SDKs, redb; use cases, the unit of work, web, adapters, the composition root |
//! | unit of work | `unit_of_work/` | frameworks, SDKs, redb; use cases, `common/`, web, adapters, the composition root |
//! | common | `common/` | frameworks, SDKs, redb; use cases, web, adapters, the composition root |
//! | use cases | `booking/`, `payments/`, `audit/`, `notify/`, `reports/`, `feedback.rs`, `staff.rs`, `witness/` | frameworks, SDKs, redb; each other, web, adapters, the composition root |
//! | a patient's copy | `record.rs` (her record, read across the use cases) | frameworks, SDKs, redb; web, adapters, the composition root; no use case names it |
//! | adapters | `adapters/` | web, the composition root |
//! | web | `web/` | SDKs, redb; adapters, the composition root |
//! | composition root | `app.rs`, `config/`, `lambda.rs`, `scheduled.rs` | (anything) |
//!
//! Only `adapters/` name SDKs and redb; only `web/` (and the composition root, which runs it) names
//! axum and HTTP; only the composition root and the CLI choose adapters. Unit tests (after
//! `#[cfg(test)]`, or in a `tests.rs`) may build on real adapters.
//! [`every_folder_and_file_has_a_layer`] keeps the table whole.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The non-test code of every file under `relative` (a folder or one file).
fn code_of(relative: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let target = root.join(relative);
    let mut files = Vec::new();
    if target.is_dir() {
        sources(&target, &mut files);
    } else {
        files.push(target);
    }
    files
        .into_iter()
        .filter(|p| !p.ends_with("tests.rs") && !p.ends_with("table_tests.rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.strip_prefix(&root).unwrap().display().to_string(),
                product_code(&text),
            )
        })
        .collect()
}

/// A file's product code: all of it but its test module (`#[cfg(test)] mod tests`, at the end),
/// with grouped imports spelled out (`use crate::{a, b::c}` as `crate::a crate::b::c`, on the
/// lines they stood on) so that a group is checked like a single path.
fn product_code(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("crate::{") {
        out.push_str(&rest[..at]);
        let inner = &rest[at + "crate::{".len()..];
        let mut depth = 1;
        let end = inner
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(inner.len(), |(i, _)| i);
        let group = &inner[..end];
        let mut names = Vec::new();
        let mut nesting = 0;
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => nesting += 1,
                '}' => nesting -= 1,
                ',' if nesting == 0 => {
                    names.push(&group[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        names.push(&group[start..]);
        for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            out.push_str("crate::");
            out.push_str(&name.replace(char::is_whitespace, ""));
            out.push(' ');
        }
        out.push_str(&"\n".repeat(group.matches('\n').count()));
        rest = inner.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// Lines of the files under `layer` that name one of `forbidden` (comments aside).
fn violations(layer: &str, forbidden: &[&str]) -> Vec<String> {
    violations_in(code_of(layer), forbidden)
}

fn violations_in(files: Vec<(String, String)>, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, code) in files {
        for (n, line) in code.lines().enumerate() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for name in forbidden {
                let hit = line.match_indices(name).any(|(at, _)| {
                    // A whole path segment: `http::` must not match `https://` or `aws_lc_rs`.
                    let before = line[..at].chars().next_back();
                    let segment_start = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    let crypto_only = *name == "aws_" && line[at..].starts_with("aws_lc_rs");
                    segment_start && !crypto_only
                });
                if hit {
                    found.push(format!("{path}:{}: names {name}: {line}", n + 1));
                }
            }
        }
    }
    found
}

fn assert_clean(layer: &str, forbidden: &[&str]) {
    let found = violations(layer, forbidden);
    assert!(
        found.is_empty(),
        "{layer} breaks the dependency rule:\n{}",
        found.join("\n")
    );
}

const FRAMEWORKS: [&str; 7] = [
    "axum", "http::", "aws_", "reqwest", "redb", "lambda_", "tower",
];
const USE_CASES: [&str; 8] = [
    "booking",
    "payments",
    "audit",
    "notify",
    "reports",
    "feedback.rs",
    "staff.rs",
    "witness",
];
const SERVICES: [&str; 8] = [
    "crypto",
    "auth",
    "state.rs",
    "error.rs",
    "counters.rs",
    "telemetry.rs",
    "signaling.rs",
    "directory.rs",
];
const COMPOSITION: [&str; 4] = ["app.rs", "config", "lambda.rs", "scheduled.rs"];
/// Not part of the product: the crate root, this check, and the fuzz targets (tests).
const OUTSIDE: [&str; 3] = ["lib.rs", "layers.rs", "fuzz.rs"];

/// The path a file names another layer by (`crate::booking`, `crate::state`, ...).
fn path_of(layer: &str) -> String {
    format!("crate::{}", layer.trim_end_matches(".rs"))
}

fn paths(layers: &[&str]) -> Vec<String> {
    layers.iter().map(|l| path_of(l)).collect()
}

fn composition() -> Vec<String> {
    let mut out = paths(&COMPOSITION);
    out.extend(paths(&["web", "adapters"]));
    out
}

fn check(layer: &str, forbidden: &[String]) {
    let names: Vec<&str> = forbidden.iter().map(String::as_str).collect();
    assert_clean(layer, &names);
}

#[test]
fn the_table_port_names_nothing_above_it() {
    let mut forbidden: Vec<String> = FRAMEWORKS.iter().map(|f| f.to_string()).collect();
    forbidden.extend(paths(&SERVICES));
    forbidden.extend(paths(&USE_CASES));
    forbidden.extend(paths(&["unit_of_work", "common"]));
    forbidden.extend(composition());
    check("store", &forbidden);
}

#[test]
fn services_name_no_use_case_no_unit_of_work_and_nothing_outer() {
    let mut forbidden: Vec<String> = FRAMEWORKS.iter().map(|f| f.to_string()).collect();
    forbidden.extend(paths(&USE_CASES));
    forbidden.extend(paths(&["unit_of_work", "common"]));
    forbidden.extend(composition());
    for layer in SERVICES {
        check(layer, &forbidden);
    }
}

#[test]
fn the_unit_of_work_and_common_name_no_use_case_and_nothing_outer() {
    let mut forbidden: Vec<String> = FRAMEWORKS.iter().map(|f| f.to_string()).collect();
    forbidden.extend(paths(&USE_CASES));
    forbidden.extend(composition());
    check("common", &forbidden);
    forbidden.push(path_of("common"));
    check("unit_of_work", &forbidden);
}

#[test]
fn use_cases_name_no_other_use_case_and_nothing_outer() {
    for layer in USE_CASES {
        let mut forbidden: Vec<String> = FRAMEWORKS.iter().map(|f| f.to_string()).collect();
        forbidden.extend(composition());
        forbidden.extend(
            USE_CASES
                .iter()
                .filter(|other| **other != layer)
                .map(|other| path_of(other)),
        );
        check(layer, &forbidden);
    }
}

#[test]
fn the_patients_copy_reads_through_use_cases_and_none_names_it() {
    let mut forbidden: Vec<String> = FRAMEWORKS.iter().map(|f| f.to_string()).collect();
    forbidden.extend(composition());
    check("record.rs", &forbidden);
    for layer in USE_CASES {
        check(layer, &[path_of("record.rs")]);
    }
}

#[test]
fn adapters_and_web_do_not_reach_the_composition_root() {
    let mut forbidden = paths(&COMPOSITION);
    forbidden.push(path_of("web"));
    check("adapters", &forbidden);
    let mut forbidden = paths(&COMPOSITION);
    forbidden.extend(["aws_", "redb", "crate::adapters"].map(str::to_owned));
    check("web", &forbidden);
}

#[test]
fn every_folder_and_file_has_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known: Vec<&str> = [
        "store",
        "unit_of_work",
        "common",
        "adapters",
        "web",
        "record.rs",
    ]
    .into_iter()
    .chain(SERVICES)
    .chain(USE_CASES)
    .chain(COMPOSITION)
    .chain(OUTSIDE)
    .collect();
    let mut unplaced = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !known.contains(&name.as_str()) {
            unplaced.push(name);
        }
    }
    assert!(
        unplaced.is_empty(),
        "give these a layer in layers.rs: {unplaced:?}"
    );
}

#[test]
fn the_domain_crate_depends_on_pure_crates_only() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../domain/Cargo.toml");
    let text = std::fs::read_to_string(manifest).unwrap();
    let pure = [
        "serde",
        "serde_json",
        "thiserror",
        "jiff",
        "aws-lc-rs",
        "base64",
        "ulid",
        "proptest",
        // Recurrence rules of other calendars' events (pure date arithmetic).
        "rrule",
    ];
    let mut section = "";
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if !section.contains("dependencies") || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['.', '=', ' ']).next().unwrap_or_default();
        assert!(
            !line.contains("package") && !line.contains("path") && !line.contains("git"),
            "the domain's dependencies are named as they are, from the registry: {line}"
        );
        assert!(
            pure.contains(&name),
            "the domain may not depend on {name}: no I/O, HTTP, SDK, storage or runtime crate"
        );
    }
}

#[test]
fn the_rule_catches_what_it_forbids() {
    let code = "use axum::Router;\n\
                let url = \"https://example.org\";\n\
                // axum, named in a comment\n\
                use aws_lc_rs::rand::SystemRandom;\n\
                fn f() -> aws_sdk_kms::Client { todo!() }\n\
                use crate::webhooks_like::X;\n";
    let found = violations_in(
        vec![("probe.rs".into(), code.into())],
        &["axum", "http::", "aws_", "crate::web::"],
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].contains("probe.rs:1: names axum"));
    assert!(found[1].contains("probe.rs:5: names aws_"));
}

#[test]
fn a_grouped_import_is_checked_like_a_path_and_only_the_test_module_is_skipped() {
    let text = "use crate::{\n    error::ApiError,\n    booking::{lookup, slots},\n};\n\
                #[cfg(test)]\nfn helper() { crate::payments::x(); }\n\
                #[cfg(test)]\nmod tests { use crate::audit::y; }\n";
    let code = product_code(text);
    let found = violations_in(
        vec![("probe.rs".into(), code)],
        &["crate::booking", "crate::payments", "crate::audit"],
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("probe.rs:1: names crate::booking"));
    assert!(found[1].starts_with("probe.rs:6: names crate::payments"));
}
