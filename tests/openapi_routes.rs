//! The OpenAPI document and the routers agree in both directions: every route registered in a
//! function's router (or by `practica serve`) is documented, and every documented operation is
//! registered. The routes are read from the router sources, so a new `.route(...)` without its
//! documentation fails here; `cli/tests/serve.rs` checks at run time that each documented
//! operation answers.

use std::collections::BTreeSet;

const ROUTER_SOURCES: &[&str] = &[
    "functions/booking/src/lib.rs",
    "functions/payments/src/lib.rs",
    "functions/webhooks/src/lib.rs",
    "functions/reports/src/lib.rs",
    "cli/src/serve.rs",
];

/// `(METHOD, path)` pairs from `.route(PATH, get(..).post(..))` calls in Rust source.
fn routes_in(source: &str, consts: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        // The call's text up to its closing parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("balanced .route(...)");
        let call = &rest[..end];
        let (path_arg, methods) = call.split_once(',').expect("path, handler");
        let path_arg = path_arg.trim();
        let path = match path_arg.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(literal) => literal.to_owned(),
            None => consts
                .iter()
                .find(|(name, _)| *name == path_arg)
                .unwrap_or_else(|| panic!("unknown path constant {path_arg}"))
                .1
                .to_owned(),
        };
        for method in ["get", "post", "put", "delete", "patch"] {
            let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !methods.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && methods.as_bytes()[i - 1] != b'_'
            });
            if called {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        rest = &rest[end..];
    }
    out
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let consts = [
        ("JWKS_PATH", practica_cli_paths::JWKS),
        ("OPENAPI_PATH", practica_cli_paths::OPENAPI),
    ];
    let mut routed = BTreeSet::new();
    for file in ROUTER_SOURCES {
        let source = std::fs::read_to_string(format!("{root}/{file}")).expect("router source");
        routed.extend(routes_in(&source, &consts));
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/openapi.json")).unwrap())
            .unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routed but not in openapi.json: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "in openapi.json but not routed: {unrouted:?}"
    );
    assert!(
        routed.len() >= 25,
        "the parser found the routes ({})",
        routed.len()
    );
}

#[test]
fn the_route_reader_sees_chained_and_wrapped_methods() {
    let source = r#"
        Router::new()
            .route("/a", get(x).post(y))
            .route(
                "/b/{id}",
                axum::routing::put(z),
            )
            .route(CONST, get(move || async move { Json(k) }))
    "#;
    let found = routes_in(source, &[("CONST", "/c")]);
    let expect: BTreeSet<(String, String)> = [
        ("GET", "/a"),
        ("POST", "/a"),
        ("PUT", "/b/{id}"),
        ("GET", "/c"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(found, expect);
}

/// The paths `practica serve` adds, mirrored here so this test needs no dependency on the CLI.
mod practica_cli_paths {
    pub const JWKS: &str = "/.well-known/jwks.json";
    pub const OPENAPI: &str = "/openapi.json";
}

/// API Gateway routes every documented operation to a function: the SAM template has an HttpApi
/// event for each `/v1` and health operation.
#[test]
fn the_sam_template_routes_every_documented_operation() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let template = std::fs::read_to_string(format!("{root}/infra/template.yaml")).unwrap();
    let mut events = BTreeSet::new();
    for line in template.lines() {
        if let Some(props) = line
            .trim()
            .strip_prefix("Properties: { ApiId: !Ref Api, Path: ")
        {
            let (path, method) = props.split_once(", Method: ").expect("path and method");
            events.insert((
                method.trim_end_matches(" }").to_owned(),
                path.trim_matches('"').to_owned(),
            ));
        }
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/openapi.json")).unwrap())
            .unwrap();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !(path.starts_with("/v1/") || path.starts_with("/health/")) {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let route = (method.to_uppercase(), path.clone());
            assert!(events.contains(&route), "no HttpApi event for {route:?}");
        }
    }
}

fn document() -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap(),
    )
    .unwrap()
}

/// The document's lists of accepted values are the server's: every IANA zone of the bundled
/// database, every currency the money type knows.
#[test]
fn enumerations_match_what_the_server_accepts() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let listed = |name: &str| -> Vec<String> {
        schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let mut zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .filter(|name| {
            jiff::tz::TimeZone::get(name)
                .ok()
                .is_some_and(|z| z.iana_name().is_some())
        })
        .collect();
    zones.sort();
    assert_eq!(
        listed("TimeZone"),
        zones,
        "TimeZone enum: {}",
        serde_json::to_string(&zones).unwrap()
    );
    let currencies: Vec<String> = listed("Currency");
    for code in &currencies {
        assert!(domain::money::Currency::parse(code).is_some(), "{code}");
    }
    for code in ["AAA", "usd", "XXX", "ZZZ"] {
        assert!(!currencies.contains(&code.to_owned()));
        assert!(domain::money::Currency::parse(code).is_none());
    }
    let known = (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').flat_map(move |b| (b'A'..=b'Z').map(move |c| [a, b, c])))
        .filter(|code| domain::money::Currency::parse(std::str::from_utf8(code).unwrap()).is_some())
        .count();
    assert_eq!(known, currencies.len(), "every accepted currency is listed");
}
