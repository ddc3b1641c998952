//! The OpenAPI document stays true to the code.
//!
//! - `docs/openapi.json` is exactly `streamswarm::http::openapi::document()`, pretty-printed.
//!   When a route or a request/response type changes, regenerate it with
//!
//!   ```sh
//!   UPDATE_OPENAPI=1 cargo test --test api openapi::
//!   ```
//!
//!   and commit the result.
//! - The server serves that same document at `/api/v1/openapi.json`.
//! - Every `/api/` route of the route table is in it with its method, and nothing else is.
//! - Every `$ref` resolves, every request body has a schema, every operation has responses.
//! - When the Python package `openapi-spec-validator` is installed (CI installs it:
//!   `python3 -m pip install 'openapi-spec-validator>=0.7'`), it validates the document
//!   against the OpenAPI 3.1 specification.

use crate::both_backends;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use streamswarm::http::openapi::document;
use streamswarm::http::routes::ROUTES;

const REGENERATE: &str = "UPDATE_OPENAPI=1 cargo test --test api openapi::";

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

/// The document exactly as it is checked in: pretty-printed, with a final newline.
fn rendered() -> String {
    let mut s = serde_json::to_string_pretty(&document()).expect("the document serializes");
    s.push('\n');
    s
}

fn updating() -> bool {
    std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1" || v == "true")
}

#[test]
fn checked_in_document_is_current() {
    let path = checked_in_path();
    let generated = rendered();
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let checked_in = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => panic!(
            "cannot read {} ({e}); generate it with:\n    {REGENERATE}",
            path.display()
        ),
    };
    if checked_in != generated {
        let first_difference = checked_in
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| {
                format!(
                    "first difference at line {}:\n    checked in: {a}\n    generated:  {b}",
                    i + 1
                )
            })
            .unwrap_or_else(|| {
                format!(
                    "the checked-in file has {} lines, the generated document {}",
                    checked_in.lines().count(),
                    generated.lines().count()
                )
            });
        panic!(
            "docs/openapi.json is out of date with the route table and its types.\n{first_difference}\n\
             Regenerate it and commit the result:\n    {REGENERATE}"
        );
    }
}

/// HTTP methods that may appear as keys of an OpenAPI path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for (method, op) in item.as_object().expect("a path item is an object") {
            if METHODS.contains(&method.as_str()) {
                ops.push((method.clone(), path.clone(), op));
            }
        }
    }
    ops
}

#[test]
fn every_api_route_is_documented_and_nothing_else() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let api_routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| (r.method.as_str().to_lowercase(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = api_routes.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:?}"
    );
    let extra: Vec<_> = documented.difference(&api_routes).collect();
    assert!(
        extra.is_empty(),
        "operations in the OpenAPI document that are not /api/ routes: {extra:?}"
    );
    // Each documented operation says what the route table says.
    for r in ROUTES.iter().filter(|r| r.path.starts_with("/api/")) {
        let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
        assert_eq!(op["summary"], r.summary, "{} {}", r.method, r.path);
        // The InfluxDB-compatible write reads line protocol, not JSON.
        let line_protocol = r.access == streamswarm::auth::Access::TimeSeriesWrite;
        assert_eq!(
            op.get("requestBody").is_some(),
            r.request.is_some() || line_protocol,
            "{} {}: requestBody documented iff the route reads a body",
            r.method,
            r.path
        );
        let success = match r.response {
            Some((status, _)) => status.to_string(),
            None => "204".to_owned(),
        };
        assert!(
            op["responses"].get(&success).is_some(),
            "{} {}: success response {success} not documented",
            r.method,
            r.path
        );
        match r.access {
            streamswarm::auth::Access::Public | streamswarm::auth::Access::Metrics => {
                assert_eq!(op["security"], serde_json::json!([]), "{}", r.path)
            }
            streamswarm::auth::Access::Role(role) => {
                assert_eq!(op["x-required-role"], role.as_str(), "{}", r.path)
            }
            streamswarm::auth::Access::TimeSeriesWrite => {
                assert_eq!(op["x-required-role"], "operator", "{}", r.path);
                assert_eq!(op["x-accepts-agent-credentials"], true, "{}", r.path);
            }
            streamswarm::auth::Access::Enrol => {
                assert_eq!(op["x-required-token"], "enrol", "{}", r.path)
            }
            streamswarm::auth::Access::Agent => {
                assert_eq!(op["x-required-token"], "agent", "{}", r.path)
            }
        }
    }
}

/// Follows a local `$ref` such as `#/components/schemas/User`.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    doc.pointer(pointer)
}

fn collect_refs<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                if k == "$ref" {
                    if let Some(r) = child.as_str() {
                        out.push((at.clone(), r));
                    }
                } else {
                    collect_refs(child, format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_request_bodies_have_schemas() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, String::new(), &mut refs);
    assert!(!refs.is_empty(), "the document has no $ref at all");
    for (at, reference) in &refs {
        assert!(
            reference.starts_with("#/components/schemas/"),
            "{at}: $ref {reference:?} does not point into components/schemas"
        );
        assert!(
            resolve(&doc, reference).is_some_and(|s| s.is_object() || s.is_boolean()),
            "{at}: $ref {reference:?} does not resolve to a schema"
        );
    }
    let mut with_body = 0;
    for (method, path, op) in operations(&doc) {
        let Some(body) = op.get("requestBody") else {
            continue;
        };
        if let Some(text) = body["content"].get("text/plain") {
            assert_eq!(
                text["schema"]["type"], "string",
                "{method} {path}: a text body is a string"
            );
            continue;
        }
        with_body += 1;
        let schema = &body["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path}: request body has no application/json schema"
        );
        // A named type is a reference into components; follow it (and any chain).
        let mut target = schema;
        let mut hops = 0;
        while let Some(r) = target.get("$ref").and_then(Value::as_str) {
            target = resolve(&doc, r)
                .unwrap_or_else(|| panic!("{method} {path}: request $ref {r:?} is dangling"));
            hops += 1;
            assert!(hops < 10, "{method} {path}: $ref cycle");
        }
        assert!(
            target.get("type").is_some()
                || target.get("properties").is_some()
                || target.get("oneOf").is_some()
                || target.get("anyOf").is_some()
                || target.get("allOf").is_some(),
            "{method} {path}: request schema says nothing about the body: {target}"
        );
    }
    let expected = ROUTES.iter().filter(|r| r.request.is_some()).count();
    assert_eq!(with_body, expected, "operations with a request body");
}

/// A structural check of our own: what every OpenAPI 3.1 document must have.
#[test]
fn document_is_structurally_sound() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("openapi is a string");
    assert!(version.starts_with("3.1."), "openapi version {version}");
    let info = doc["info"].as_object().expect("info is an object");
    for key in ["title", "version"] {
        assert!(
            info.get(key)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            "info.{key} must be a non-empty string"
        );
    }
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    for requirement in doc["security"].as_array().expect("top-level security") {
        for name in requirement.as_object().unwrap().keys() {
            assert!(
                schemes.contains_key(name),
                "security scheme {name} undefined"
            );
        }
    }
    let paths = doc["paths"].as_object().expect("paths is an object");
    assert!(!paths.is_empty(), "no paths");
    let mut operation_ids = BTreeSet::new();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "path {path:?} must start with /");
        let item = item.as_object().expect("path item");
        assert!(!item.is_empty(), "{path} has no operations");
        for (method, op) in item {
            assert!(
                METHODS.contains(&method.as_str()),
                "{path}: {method:?} is not an HTTP method"
            );
            let id = op["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_owned()),
                "operationId {id} is not unique"
            );
            let responses = op["responses"].as_object().expect("responses object");
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            for (code, response) in responses {
                assert!(
                    code == "default"
                        || (code.len() == 3 && code.parse::<u16>().is_ok_and(|c| c >= 100)),
                    "{method} {path}: response key {code:?}"
                );
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {code}: a response needs a description"
                );
            }
            // Every template parameter is declared as a required path parameter, and
            // nothing else is.
            let template: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            let declared: BTreeSet<&str> = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| {
                            assert_eq!(p["required"], true, "{method} {path}: {p}");
                            p["name"].as_str().unwrap()
                        })
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(template, declared, "{method} {path}: path parameters");
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Validates the generated document with `openapi-spec-validator` (the OpenAPI 3.1 schema
/// plus its semantic checks). Skipped only when the package is missing outside CI.
#[test]
fn document_passes_openapi_spec_validator() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output();
    let available = probe.as_ref().is_ok_and(|o| o.status.success());
    if !available {
        let why = match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        if in_ci() {
            panic!(
                "openapi-spec-validator is required when CI is set ({why}); \
                 install it with: python3 -m pip install 'openapi-spec-validator>=0.7'"
            );
        }
        eprintln!(
            "SKIPPED: openapi-spec-validator is not installed ({why}); \
             python3 -m pip install 'openapi-spec-validator>=0.7'"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, rendered()).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation.exceptions import OpenAPIValidationError\n\
             doc = json.load(open(sys.argv[1]))\n\
             try:\n    validate(doc)\n\
             except OpenAPIValidationError as e:\n    print(e); sys.exit(1)\n",
        ])
        .arg(&file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator rejects the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

both_backends!(served_document_is_the_generated_one, |app| async {
    let resp = reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let served: Value = resp.json().await.unwrap();
    assert_eq!(served, document());
    // And it is the checked-in one (unless it is being regenerated right now).
    if !updating() {
        let checked_in: Value =
            serde_json::from_str(&std::fs::read_to_string(checked_in_path()).unwrap_or_default())
                .unwrap_or(Value::Null);
        assert_eq!(
            served, checked_in,
            "docs/openapi.json differs from the served document; regenerate it:\n    {REGENERATE}"
        );
    }
});

/// Runs `script` with `python3` when `openapi-spec-validator` (which brings
/// `openapi-schema-validator` and `jsonschema`) is installed; `None` when it is not and CI
/// is not set.
fn python_with_validator(script: &str, args: &[&std::path::Path]) -> Option<std::process::Output> {
    let probe = std::process::Command::new("python3")
        .args([
            "-c",
            "import openapi_spec_validator, openapi_schema_validator",
        ])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = match &probe {
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
            Err(e) => e.to_string(),
        };
        assert!(
            !in_ci(),
            "openapi-spec-validator is required when CI is set ({why}); \
             install it with: python3 -m pip install 'openapi-spec-validator>=0.7'"
        );
        eprintln!(
            "SKIPPED: openapi-spec-validator is not installed ({why}); \
             python3 -m pip install 'openapi-spec-validator>=0.7'"
        );
        return None;
    }
    Some(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .expect("python3 runs"),
    )
}

/// Validates each `{what, schema, instance}` in the cases file against its schema under
/// OpenAPI 3.1 rules (JSON Schema 2020-12), resolving `#/components/...` in the document.
const VALIDATE_INSTANCES: &str = r#"
import json, sys
from openapi_schema_validator import OAS31Validator
doc = json.load(open(sys.argv[1]))
cases = json.load(open(sys.argv[2]))
failures = []
for case in cases:
    schema = case["schema"]
    root = dict(schema) if isinstance(schema, dict) else {"allOf": [schema]}
    root["components"] = doc["components"]
    errors = sorted(OAS31Validator(root).iter_errors(case["instance"]), key=lambda e: list(e.absolute_path))
    for e in errors[:3]:
        failures.append("%s: at %s: %s" % (case["what"], "/".join(map(str, e.absolute_path)) or "(root)", e.message[:300]))
print("\n".join(failures))
sys.exit(1 if failures else 0)
"#;

/// The schema the document gives for `status` of `method path` (or its `default`).
fn documented_response<'a>(
    doc: &'a Value,
    method: &str,
    path: &str,
    status: u16,
) -> Option<&'a Value> {
    let responses = &doc["paths"][path][method.to_lowercase()]["responses"];
    let response = responses
        .get(status.to_string())
        .or_else(|| (status >= 400).then(|| responses.get("default")).flatten())?;
    Some(&response["content"]["application/json"]["schema"])
}

both_backends!(responses_match_their_documented_schemas, |app| async {
    use crate::authz::{Caller, exchange_all};
    let doc = document();
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut wrong_status = Vec::new();
    let mut record = |what: String, method: &str, path: &str, status: u16, body: &[u8]| {
        if status == 204 {
            return;
        }
        let Some(schema) = documented_response(&doc, method, path, status) else {
            problems.push(format!("{what}: status {status} is not documented"));
            return;
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(instance) => cases.push(serde_json::json!({
                "what": what, "schema": schema, "instance": instance,
            })),
            Err(e) => problems.push(format!("{what}: body is not JSON ({e})")),
        }
    };
    // Every API row of the authorization matrix, as every caller: successes and refusals.
    for x in exchange_all(&app).await {
        if x.row.path.starts_with("/api/") {
            let what = format!(
                "{} {} as {} → {}",
                x.row.method, x.row.path, x.caller, x.status
            );
            record(what, &x.row.method, &x.row.path, x.status, &x.body);
        }
    }
    let _ = Caller::ALL;
    // Errors the matrix does not produce: a rejected body (with details), a missing id and
    // a duplicate name (a conflict, not an internal error, on both backends).
    let admin = app.login(streamswarm_schema::Role::Admin).await;
    let invalid_test = serde_json::json!({"name": "", "kind": "ping", "target": "no such host!", "schedule": {"interval_seconds": 0}});
    for (method, template, path, body, expected) in [
        ("POST", "/api/v1/tests", "/api/v1/tests", invalid_test, 400),
        (
            "GET",
            "/api/v1/tests/{id}",
            "/api/v1/tests/999999",
            Value::Null,
            404,
        ),
        (
            "POST",
            "/api/v1/groups",
            "/api/v1/groups",
            serde_json::json!({"name": "dup"}),
            201,
        ),
        (
            "POST",
            "/api/v1/groups",
            "/api/v1/groups",
            serde_json::json!({"name": "dup"}),
            409,
        ),
        (
            "POST",
            "/api/v1/users",
            "/api/v1/users",
            serde_json::json!({"username": "ADA", "password": "long-enough-password", "role": "viewer"}),
            409,
        ),
    ] {
        let mut req = admin.send(&app, method.parse().unwrap(), path);
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        if status != expected {
            wrong_status.push(format!(
                "{method} {path}: expected {expected}, got {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        record(
            format!("{method} {path} → {status}"),
            method,
            template,
            status,
            &bytes,
        );
    }
    assert!(wrong_status.is_empty(), "{}", wrong_status.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(cases.len() > 100, "only {} responses checked", cases.len());
    let dir = tempfile::tempdir().unwrap();
    let doc_file = dir.path().join("openapi.json");
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&doc_file, serde_json::to_vec(&doc).unwrap()).unwrap();
    std::fs::write(&cases_file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let Some(out) = python_with_validator(VALIDATE_INSTANCES, &[&doc_file, &cases_file]) else {
        return;
    };
    assert!(
        out.status.success(),
        "real responses do not match the OpenAPI document ({} checked):\n{}{}",
        cases.len(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
});
