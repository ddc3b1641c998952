//! The OpenAPI 3.1 document, generated from the route table and the request/response
//! types' JSON Schemas. `docs/openapi.json` is this document checked in; a test fails
//! when it is stale. Regenerate it with `UPDATE_OPENAPI=1 cargo test --test api openapi::`.

use super::error::ErrorFormat;
use super::routes::{ROUTES, Route};
use crate::auth::Access;
use crate::error::ErrorBody;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const SCHEMAS: &str = "#/components/schemas/";

/// OpenAPI 3.1 schemas are JSON Schema 2020-12 (`"type": ["string", "null"]`, not 3.0's
/// `nullable`), with named types under `components/schemas`.
fn schema_settings() -> SchemaSettings {
    let mut s = SchemaSettings::draft2020_12();
    s.definitions_path = SCHEMAS.trim_start_matches('#').trim_end_matches('/').into();
    s.meta_schema = None;
    s
}

pub fn document() -> Value {
    // Request bodies are described as the server deserializes them (a field with a default
    // is optional) and responses as it serializes them (a field skipped when empty, such as
    // an error's `details`, is optional), so each side has its own generator.
    let mut generator = schema_settings().for_deserialize().into_generator();
    let mut responses_generator = schema_settings().for_serialize().into_generator();
    let error_schema = responses_generator.subschema_for::<ErrorBody>();
    let mut paths = Map::new();
    for route in ROUTES.iter().filter(|r| r.path.starts_with("/api/")) {
        let mut op = Map::new();
        op.insert("summary".into(), json!(route.summary));
        op.insert(
            "operationId".into(),
            json!(operation_id(route.method.as_str(), route.path)),
        );
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "integer"}}))
            .collect();
        let influx = route.error_format == ErrorFormat::InfluxV2;
        let params = if influx {
            influx_write_parameters()
        } else {
            params
        };
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if influx {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"text/plain": {"schema": {
                    "type": "string",
                    "description": "InfluxDB line protocol, one point per line; gzip with Content-Encoding: gzip"
                }}}}),
            );
        }
        if let Some(req) = route.request {
            let schema = req(&mut generator);
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let mut responses = Map::new();
        match route.response {
            Some((status, res)) => {
                let schema = res(&mut responses_generator);
                responses.insert(status.to_string(), json!({"description": "Success", "content": {"application/json": {"schema": schema}}}));
            }
            None => {
                responses.insert("204".into(), json!({"description": "Success, no content"}));
            }
        }
        let errors = if influx {
            influx_error_schema()
        } else if route.error_format == ErrorFormat::Agent {
            agent_error_schema()
        } else {
            error_schema.clone().into()
        };
        responses.insert(
            "default".into(),
            json!({"description": "Error", "content": {"application/json": {"schema": errors}}}),
        );
        op.insert("responses".into(), Value::Object(responses));
        match route.access {
            Access::Public => {
                op.insert("security".into(), json!([]));
            }
            Access::Role(role) => {
                op.insert("x-required-role".into(), json!(role));
            }
            Access::Enrol => {
                op.insert(
                    "description".into(),
                    json!("Authenticated with an enrolment token: `Authorization: Bearer ssw_enr_…`. See docs/agent-api.md."),
                );
                op.insert("x-required-token".into(), json!("enrol"));
            }
            Access::Agent => {
                op.insert(
                    "description".into(),
                    json!("Authenticated with an agent credential: `Authorization: Bearer ssw_agt_…`. See docs/agent-api.md."),
                );
                op.insert("x-required-token".into(), json!("agent"));
            }
            Access::Metrics => {
                op.insert("security".into(), json!([]));
                op.insert(
                    "description".into(),
                    json!("Public unless `server.metrics_token` is set; then only `Authorization: Bearer <metrics_token>` (401 otherwise)."),
                );
            }
            Access::TimeSeriesWrite => {
                op.insert("description".into(), json!(influx_description(route)));
                op.insert(
                    "x-required-role".into(),
                    json!(crate::auth::principal::TIME_SERIES_WRITER_ROLE),
                );
                op.insert("x-accepts-agent-credentials".into(), json!(true));
            }
        }
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry
            .as_object_mut()
            .expect("path item")
            .insert(route.method.as_str().to_lowercase(), Value::Object(op));
    }
    let (schemas, renamed) = merge_definitions(
        generator.take_definitions(true),
        responses_generator.take_definitions(true),
    );
    for item in paths.values_mut() {
        for op in item.as_object_mut().expect("path item").values_mut() {
            rename_refs(&mut op["responses"], &renamed);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "StreamSwarm API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Authenticate with `Authorization: Bearer ssw_api_…` (an API token) or a web session. \
                            Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`."
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "ssw_session"}
            }
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
    })
}

/// The query parameters of InfluxDB 2's write API.
fn influx_write_parameters() -> Vec<Value> {
    vec![
        json!({"name": "bucket", "in": "query", "required": true, "schema": {"type": "string"},
               "description": "Required as by InfluxDB; the embedded store has one database, so every bucket writes to it."}),
        json!({"name": "org", "in": "query", "required": false, "schema": {"type": "string"}}),
        json!({"name": "precision", "in": "query", "required": false,
               "schema": {"type": "string", "enum": ["ns", "us", "ms", "s", "n", "u"], "default": "ns"}}),
        json!({"name": "Content-Encoding", "in": "header", "required": false,
               "schema": {"type": "string", "enum": ["gzip", "identity"]}}),
    ]
}

/// InfluxDB 2's error body.
fn agent_error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What was wrong, e.g. \"agent credential revoked\""}
        }
    })
}

fn influx_error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "InfluxDB's error kind: invalid, unauthorized, forbidden, request too large, …"},
            "message": {"type": "string", "description": "What was wrong; for a bad line, its number and text"}
        }
    })
}

fn influx_description(route: &Route) -> String {
    format!(
        "InfluxDB-compatible: {} Authenticate with `Authorization: Token <token>` (or Bearer, or Basic with the token as password) \
         using an agent credential or an API token with at least the operator role; tokens in the URL are refused. \
         An agent credential writes only points tagged with its own agent id and assigned tests that follow schema/measurements.toml, \
         within timeseries.max_series_per_agent series (docs/agent-api.md); operator tokens write free-form. \
         204 when stored; 400 names the first bad line and stores nothing of the batch; 413 when the body (or its gunzipped form) is too large; \
         429 with Retry-After past timeseries.max_concurrent_writes writes at once.",
        route.summary
    )
}

/// Merges the request-side and response-side definitions. A type whose two schemas differ
/// (e.g. fields with defaults are required when serialized) keeps its name for requests;
/// the response side becomes `<Name>Response`. Returns the merged map and the renames.
fn merge_definitions(
    requests: Map<String, Value>,
    responses: Map<String, Value>,
) -> (Map<String, Value>, BTreeMap<String, String>) {
    let renamed: BTreeMap<String, String> = responses
        .iter()
        .filter(|(name, schema)| requests.get(*name).is_some_and(|s| s != *schema))
        .map(|(name, _)| (name.clone(), format!("{name}Response")))
        .collect();
    let mut merged = requests;
    for (name, mut schema) in responses {
        rename_refs(&mut schema, &renamed);
        merged.insert(renamed.get(&name).cloned().unwrap_or(name), schema);
    }
    (merged, renamed)
}

fn rename_refs(v: &mut Value, renamed: &BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(r) if key == "$ref" => {
                        if let Some(new) = r.strip_prefix(SCHEMAS).and_then(|n| renamed.get(n)) {
                            *r = format!("{SCHEMAS}{new}");
                        }
                    }
                    _ => rename_refs(child, renamed),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|c| rename_refs(c, renamed)),
        _ => {}
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for seg in path.trim_start_matches("/api/v1/").split('/') {
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&seg.replace(['-', '.'], "_"));
    }
    id
}
