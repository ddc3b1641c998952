//! The OpenAPI 3.1 document, generated from the route table and the request/response
//! types' JSON Schemas. `docs/openapi.json` is this document checked in; a test fails
//! when it is stale.

use super::routes::ROUTES;
use crate::auth::Access;
use crate::error::ErrorBody;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let error_schema = generator.subschema_for::<ErrorBody>();
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
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
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
                let schema = res(&mut generator);
                responses.insert(status.to_string(), json!({"description": "Success", "content": {"application/json": {"schema": schema}}}));
            }
            None => {
                responses.insert("204".into(), json!({"description": "Success, no content"}));
            }
        }
        responses.insert("default".into(), json!({"description": "Error", "content": {"application/json": {"schema": error_schema}}}));
        op.insert("responses".into(), Value::Object(responses));
        match route.access {
            Access::Public => {
                op.insert("security".into(), json!([]));
            }
            Access::Role(role) => {
                op.insert("x-required-role".into(), json!(role));
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
    let schemas = generator.take_definitions(true);
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

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for seg in path.trim_start_matches("/api/v1/").split('/') {
        let seg = seg.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&seg.replace(['-', '.'], "_"));
    }
    id
}
