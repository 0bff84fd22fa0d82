//! The dependency rule, checked on the crate's own sources so that it cannot erode silently:
//!
//! | layer | folders | may not name |
//! |---|---|---|
//! | domain | `domain/` | any framework, SDK or storage crate, and every other layer |
//! | use cases | `booking/`, `payments/`, `audit/` | HTTP, AWS, redb, the web layer, adapters, the composition root |
//! | storage | `store/` | HTTP, AWS, redb, the web layer, adapters |
//! | services | `crypto/`, `auth/`, `state.rs`, `error.rs` | HTTP, AWS, redb, the web layer, adapters |
//!
//! Only `adapters/` name SDKs and redb; only `web/` names axum and HTTP; only `app.rs` (the
//! composition root) and the CLI choose adapters. Unit tests (after `#[cfg(test)]`, or in a
//! `tests.rs`) may build on real adapters.

use std::path::{Path, PathBuf};

const FRAMEWORKS: [&str; 7] = [
    "axum", "http::", "aws_", "reqwest", "redb", "lambda_", "tower",
];
const OUTER: [&str; 3] = ["crate::web", "crate::adapters", "crate::app::"];
const INNER_TO_DOMAIN: [&str; 11] = [
    "crate::store",
    "crate::booking",
    "crate::payments",
    "crate::audit",
    "crate::crypto",
    "crate::auth",
    "crate::config",
    "crate::error",
    "crate::state",
    "crate::AppState",
    "tokio",
];

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
            let code = text
                .split("#[cfg(test)]")
                .next()
                .unwrap_or_default()
                .to_owned();
            (p.strip_prefix(&root).unwrap().display().to_string(), code)
        })
        .collect()
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

#[test]
fn the_domain_names_no_framework_and_no_other_layer() {
    let all: Vec<&str> = FRAMEWORKS
        .iter()
        .chain(&OUTER)
        .chain(&INNER_TO_DOMAIN)
        .copied()
        .collect();
    assert_clean("domain", &all);
}

#[test]
fn use_cases_name_no_framework_no_adapter_and_no_web() {
    let forbidden: Vec<&str> = FRAMEWORKS.iter().chain(&OUTER).copied().collect();
    for layer in [
        "booking", "payments", "audit", "store", "crypto", "auth", "state.rs", "error.rs",
    ] {
        assert_clean(layer, &forbidden);
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
