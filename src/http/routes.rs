//! The route table: every route's method, path, access rule, handler and documented
//! request/response types. Routing, the OpenAPI document and the authorization-matrix
//! test all read this one list.

use super::error::{ErrorFormat, json};
use super::{Ctx, api, ops, query, ui, write};
use crate::auth::Access;
use crate::config::Config;
use crate::error::Error;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use streamswarm_schema::Role;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;
pub type Handler = fn(Ctx) -> HandlerFuture;
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub struct Route {
    pub method: Method,
    /// Path template in `matchit` syntax, e.g. `/api/v1/users/{id}`.
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub handler: Handler,
    /// JSON request body type, for the OpenAPI document.
    pub request: Option<SchemaFn>,
    /// JSON success response type and status, for the OpenAPI document.
    pub response: Option<(u16, SchemaFn)>,
    /// Overrides `server.max_body_bytes` (the write endpoints take much larger bodies).
    pub body_limit: Option<fn(&Config) -> usize>,
    /// How errors are written: by the path (JSON under `/api/`, HTML elsewhere) unless
    /// the route speaks another protocol's shapes (InfluxDB's write endpoints).
    pub error_format: ErrorFormat,
}

impl Route {
    /// An InfluxDB-compatible write endpoint: InfluxDB's error shapes, the write body
    /// limit.
    fn influx_write(self, format: ErrorFormat) -> Self {
        let mut r = self.influx(format);
        r.body_limit = Some(|c: &Config| c.timeseries.max_write_bytes);
        r
    }

    /// An InfluxDB-compatible endpoint: InfluxDB's error shapes.
    fn influx(mut self, format: ErrorFormat) -> Self {
        self.error_format = format;
        self
    }
}

pub fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

macro_rules! route {
    ($method:ident $path:literal, $access:expr, $summary:literal, $handler:path $(, req = $req:ty)? $(, res = $status:literal $res:ty)?) => {
        Route {
            method: Method::$method,
            path: $path,
            access: $access,
            summary: $summary,
            handler: |ctx| Box::pin($handler(ctx)),
            request: None $(.or(Some(schema_of::<$req> as SchemaFn)))?,
            response: None $(.or(Some(($status, schema_of::<$res> as SchemaFn))))?,
            body_limit: None,
            error_format: ErrorFormat::for_path($path),
        }
    };
}

const PUBLIC: Access = Access::Public;
const VIEWER: Access = Access::Role(Role::Viewer);
const OPERATOR: Access = Access::Role(Role::Operator);
const ADMIN: Access = Access::Role(Role::Admin);
const TS_WRITE: Access = Access::TimeSeriesWrite;
const ENROL: Access = Access::Enrol;
const AGENT: Access = Access::Agent;
const METRICS: Access = Access::Metrics;

pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    use api::{
        agent, agents, audit, dashboard, grafana, groups, insights, me, paths, series, settings,
        tests, tokens, trend, users,
    };
    vec![
        // Operations.
        route!(GET "/healthz", PUBLIC, "Process is alive", ops::healthz),
        route!(GET "/readyz", PUBLIC, "Database is reachable", ops::readyz),
        route!(GET "/metrics", METRICS, "Prometheus metrics (public unless server.metrics_token is set)", ops::metrics),
        route!(GET "/api/v1/openapi.json", PUBLIC, "This API's OpenAPI document", ops::openapi, res = 200 serde_json::Value),
        // Web UI.
        route!(GET "/login", PUBLIC, "Login form", ui::login::form),
        route!(POST "/login", PUBLIC, "Log in", ui::login::submit),
        route!(GET "/logout", VIEWER, "Logout confirmation", ui::login::confirm_logout),
        route!(POST "/logout", VIEWER, "Log out", ui::login::logout),
        route!(GET "/", VIEWER, "Dashboard", ui::home::dashboard),
        route!(GET "/assets/{*path}", PUBLIC, "Embedded static assets (CSS, JavaScript)", ui::assets::serve),
        route!(GET "/agents", VIEWER, "Agents page", ui::agents::list),
        route!(GET "/groups", VIEWER, "Agent groups page", ui::groups::list),
        route!(GET "/agents/enrol", ADMIN, "Enrol-an-agent page", ui::enrol::form),
        route!(GET "/agents/{id}", VIEWER, "Agent page", ui::agents::detail),
        route!(GET "/tests", VIEWER, "Tests page", ui::tests::list),
        route!(GET "/tests/new", OPERATOR, "New-test form", ui::tests::new),
        route!(GET "/tests/{id}", VIEWER, "Test page", ui::tests::detail),
        route!(GET "/tests/{id}/paths", VIEWER, "Traceroute path page of a test (`?agent=<id>`)", ui::paths::page),
        route!(GET "/tests/{id}/edit", OPERATOR, "Edit-test form", ui::tests::edit),
        route!(GET "/insights", VIEWER, "Insights page (`?state=open|resolved&scope=&severity=`)", ui::insights::list),
        route!(GET "/insights/{id}", VIEWER, "Insight page: its facts and evidence chart", ui::insights::detail),
        route!(GET "/users", ADMIN, "Users page", ui::users::list),
        route!(GET "/tokens", ADMIN, "API tokens page", ui::tokens::list),
        route!(GET "/settings", ADMIN, "Settings page", ui::settings::form),
        route!(GET "/profile", VIEWER, "Your profile and password", ui::profile::form),
        // JSON API.
        route!(GET "/api/v1/dashboard", VIEWER, "The dashboard's numbers", dashboard::get, res = 200 dashboard::Dashboard),
        route!(GET "/api/v1/dashboard/series", VIEWER, "Every agent's ping results aggregated as one series (fleet latency and loss)", series::fleet, res = 200 series::TestSeries),
        route!(GET "/api/v1/me", VIEWER, "The calling user or token", me::get, res = 200 me::Me),
        route!(POST "/api/v1/me/password", VIEWER, "Change your own password", me::change_password, req = me::PasswordChange),
        route!(GET "/api/v1/users", ADMIN, "List users", users::list, res = 200 Vec<crate::store::users::User>),
        route!(POST "/api/v1/users", ADMIN, "Create a user", users::create, req = users::NewUser, res = 201 crate::store::users::User),
        route!(GET "/api/v1/users/{id}", ADMIN, "Get a user", users::get, res = 200 crate::store::users::User),
        route!(PATCH "/api/v1/users/{id}", ADMIN, "Change a user's role, state or password", users::update, req = users::UserUpdate, res = 200 crate::store::users::User),
        route!(DELETE "/api/v1/users/{id}", ADMIN, "Delete a user", users::delete),
        route!(GET "/api/v1/tokens", ADMIN, "List tokens", tokens::list, res = 200 Vec<crate::store::tokens::TokenInfo>),
        route!(POST "/api/v1/tokens", ADMIN, "Create a token (its secret is returned once)", tokens::create, req = tokens::NewToken, res = 201 tokens::CreatedToken),
        route!(DELETE "/api/v1/tokens/{id}", ADMIN, "Revoke a token", tokens::revoke, res = 200 crate::store::tokens::TokenInfo),
        route!(GET "/api/v1/settings", ADMIN, "Runtime settings", settings::get, res = 200 Vec<settings::SettingValue>),
        route!(PATCH "/api/v1/settings", ADMIN, "Change runtime settings", settings::update, req = settings::SettingsChange, res = 200 Vec<settings::SettingValue>),
        route!(GET "/api/v1/audit", ADMIN, "Audit log, newest first", audit::list, res = 200 Vec<crate::store::audit::AuditEntry>),
        route!(GET "/api/v1/agents", VIEWER, "List agents", agents::list, res = 200 Vec<agents::AgentView>),
        route!(GET "/api/v1/agents/{id}", VIEWER, "Get an agent", agents::get, res = 200 agents::AgentView),
        route!(PATCH "/api/v1/agents/{id}", OPERATOR, "Rename an agent", agents::update, req = agents::AgentUpdate, res = 200 agents::AgentView),
        route!(POST "/api/v1/agents/{id}/revoke", OPERATOR, "Revoke an agent and its credential", agents::revoke, res = 200 agents::AgentView),
        route!(DELETE "/api/v1/agents/{id}", OPERATOR, "Delete an agent (and its credential)", agents::delete),
        route!(GET "/api/v1/agents/{id}/series", VIEWER, "An agent's host metrics aggregated for its charts", series::agent_host, res = 200 series::HostSeries),
        route!(PUT "/api/v1/agents/{id}/groups", OPERATOR, "Set an agent's groups", agents::set_groups, req = agents::GroupIds, res = 200 agents::AgentView),
        route!(GET "/api/v1/groups", VIEWER, "List agent groups", groups::list, res = 200 Vec<crate::store::agents::AgentGroup>),
        route!(POST "/api/v1/groups", OPERATOR, "Create an agent group", groups::create, req = groups::NewGroup, res = 201 crate::store::agents::AgentGroup),
        route!(DELETE "/api/v1/groups/{id}", OPERATOR, "Delete an agent group", groups::delete),
        route!(GET "/api/v1/tests", VIEWER, "List tests", tests::list, res = 200 tests::TestPage),
        route!(POST "/api/v1/tests", OPERATOR, "Create a test", tests::create, req = tests::TestInput, res = 201 crate::store::tests::TestRecord),
        route!(GET "/api/v1/tests/{id}", VIEWER, "Get a test", tests::get, res = 200 crate::store::tests::TestRecord),
        route!(GET "/api/v1/tests/{id}/series", VIEWER, "A test's results aggregated per agent for its charts (JSON or CSV)", series::get, res = 200 series::TestSeries),
        route!(GET "/api/v1/tests/{id}/paths", VIEWER, "A traceroute test's current path (hops enriched with ASN and place, latest per-hop statistics), path history and path changes with hop diffs, for one agent (`?agent=<id>`)", paths::get, res = 200 paths::TestPaths),
        route!(GET "/api/v1/tests/{id}/grafana", VIEWER, "A Grafana dashboard for the test, ready to import: its kind's panels (InfluxQL on an InfluxDB datasource chosen by the `datasource` variable) for this test's agents and targets", grafana::test_dashboard, res = 200 serde_json::Value),
        route!(GET "/api/v1/tests/{id}/trend", VIEWER, "When one series of a test is expected to reach a threshold (`?agent=<id>&threshold=<value>&field=<measurement.field>&history_days=21&horizon_days=14`; `field` defaults to the kind's key field, e.g. `ping.rtt_avg_ms`): hourly history, the forecast band (95 %) and the earliest, expected and latest crossing times", trend::trend, res = 200 trend::Trend),
        route!(GET "/api/v1/tests/{id}/forecast", VIEWER, "One series of a test (`?agent=<id>&field=<measurement.field>` (default: the kind's key field), `range` or `from`/`to`): the analytics forecast band, the observed values and the anomalous points", insights::forecast, res = 200 insights::Forecast),
        route!(PUT "/api/v1/tests/{id}", OPERATOR, "Replace a test", tests::update, req = tests::TestInput, res = 200 crate::store::tests::TestRecord),
        route!(DELETE "/api/v1/tests/{id}", OPERATOR, "Delete a test", tests::delete),
        route!(GET "/api/v1/insights", VIEWER, "Insights of the analytics, newest started first (`?state=open|resolved&scope=pair|target|agent&severity=warning|critical&test=&agent=&since=<ms>&limit=1..1000`; `X-Total-Count`)", insights::list, res = 200 Vec<crate::store::insights::InsightRecord>),
        route!(GET "/api/v1/insights/{id}", VIEWER, "One insight", insights::get, res = 200 crate::store::insights::InsightRecord),
        route!(GET "/api/v1/health", VIEWER, "Health of every agent and test, and of targets with open insights (healthy, degraded, failing), from the open insights", insights::health, res = 200 crate::store::insights::HealthReport),
        // The agent API (docs/agent-api.md).
        route!(POST "/api/v1/agent/enrol", ENROL, "Enrol an agent with an enrolment token (its credential is returned once)", agent::enrol, req = agent::Enrolment, res = 201 agent::Enrolled),
        route!(POST "/api/v1/agent/heartbeat", AGENT, "An agent's heartbeat: host facts in, settings and assignments ETag out", agent::heartbeat, req = agent::Heartbeat, res = 200 agent::HeartbeatAnswer),
        route!(GET "/api/v1/agent/assignments", AGENT, "The tests this agent runs (ETag / If-None-Match → 304)", agent::assignments, res = 200 agent::AgentAssignments),
        // InfluxDB-compatible writes into the embedded time-series store.
        route!(GET "/ping", PUBLIC, "InfluxDB-compatible liveness check", ops::influx_ping),
        // InfluxQL reads of the embedded time-series store (InfluxDB 1.x compatible).
        route!(GET "/query", VIEWER, "Query with InfluxQL (InfluxDB 1.x compatible: `q`, `db`, `epoch`, `chunked`, `chunk_size`, `pretty`)", query::query)
            .influx(ErrorFormat::InfluxV1),
        route!(POST "/query", VIEWER, "Query with InfluxQL (InfluxDB 1.x compatible; `q` in the URL or a form body)", query::query)
            .influx(ErrorFormat::InfluxV1),
        route!(POST "/write", TS_WRITE, "Write line protocol (InfluxDB 1.x compatible)", write::v1)
            .influx_write(ErrorFormat::InfluxV1),
        route!(POST "/api/v2/write", TS_WRITE, "Write line protocol (InfluxDB 2.x compatible)", write::v2)
            .influx_write(ErrorFormat::InfluxV2),
    ]
});

/// A matched route and its path parameters.
pub type Match = (&'static Route, Vec<(String, String)>);

/// Path → routes by method.
pub struct Router {
    paths: matchit::Router<Vec<&'static Route>>,
}

impl Router {
    pub fn new() -> Self {
        let mut by_path: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
        for r in ROUTES.iter() {
            match by_path.iter_mut().find(|(p, _)| *p == r.path) {
                Some((_, v)) => v.push(r),
                None => by_path.push((r.path, vec![r])),
            }
        }
        let mut paths = matchit::Router::new();
        for (p, v) in by_path {
            paths
                .insert(p, v)
                .unwrap_or_else(|e| panic!("route {p}: {e}"));
        }
        Router { paths }
    }

    /// The route and its path parameters, or 404 / 405.
    pub fn find(&self, method: &Method, path: &str) -> Result<Match, StatusCode> {
        let m = self.paths.at(path).map_err(|_| StatusCode::NOT_FOUND)?;
        let wanted = if *method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let route = m
            .value
            .iter()
            .find(|r| r.method == *wanted)
            .ok_or(StatusCode::METHOD_NOT_ALLOWED)?;
        let params = m
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok((route, params))
    }
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

/// 204 No Content.
pub fn no_content() -> Response {
    let mut r = Response::new(Vec::new().into());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

pub fn ok<T: serde::Serialize>(body: &T) -> Result<Response, Error> {
    Ok(json(StatusCode::OK, body))
}

pub fn created<T: serde::Serialize>(body: &T) -> Result<Response, Error> {
    Ok(json(StatusCode::CREATED, body))
}
