//! The authorization matrix (`tests/authz_matrix.toml`): every route, every kind of
//! caller, the status it must get — checked against the real server on both backends.
//!
//! - `matrix_covers_every_route`: every route in `ROUTES` has exactly one row and every
//!   row names a route, so a new route without a row fails here, by name.
//! - `matrix_holds::{sqlite,postgres}`: each row is sent as each caller with fresh
//!   fixtures and credentials; a refused request (401/403) must also leave the store as it
//!   was.

use crate::both_backends;
use crate::helpers::{TestApp, captured_logs, extract_input, password, username};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use streamswarm::admin::{self, Actor};
use streamswarm::http::error::ErrorFormat;
use streamswarm::http::routes::{ROUTES, Router};
use streamswarm::store::tests::{Assignments, TestDraft};
use streamswarm::store::tokens::TokenKind;
use streamswarm::store::users::Username;
use streamswarm_schema::{Role, Schedule, TestKind, TestParams, TestSpec};
use warp::http::Method;

const MATRIX_FILE: &str = "tests/authz_matrix.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matrix {
    route: Vec<Row>,
}

/// One row: a route, what to send, and the status each caller must get.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub method: String,
    pub path: String,
    pub request: Option<String>,
    pub json: Option<Value>,
    pub form: Option<BTreeMap<String, String>>,
    /// A query string to send (untemplated paths, e.g. `db=x` for `/write`).
    pub query: Option<String>,
    /// A plain-text body (line protocol for the write endpoints); `{caller_agent}` is the
    /// calling agent credential's agent id.
    pub body: Option<String>,
    #[allow(dead_code)]
    pub note: Option<String>,
    pub anonymous: u16,
    pub viewer: u16,
    pub operator: u16,
    pub admin: u16,
    pub viewer_token: u16,
    pub agent_token: u16,
    pub enrol_token: u16,
}

impl Row {
    fn expected(&self, caller: Caller) -> u16 {
        match caller {
            Caller::Anonymous => self.anonymous,
            Caller::Viewer => self.viewer,
            Caller::Operator => self.operator,
            Caller::Admin => self.admin,
            Caller::ViewerToken => self.viewer_token,
            Caller::AgentToken => self.agent_token,
            Caller::EnrolToken => self.enrol_token,
        }
    }

    fn method(&self) -> Method {
        self.method.parse().expect("an HTTP method")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Viewer,
    Operator,
    Admin,
    ViewerToken,
    /// An enrolled agent's own credential (`Authorization: Token ssw_agt_…`).
    AgentToken,
    /// An enrolment token (`Authorization: Bearer ssw_enr_…`), good for enrolling only.
    EnrolToken,
}

impl Caller {
    pub const ALL: [Caller; 7] = [
        Caller::Anonymous,
        Caller::Viewer,
        Caller::Operator,
        Caller::Admin,
        Caller::ViewerToken,
        Caller::AgentToken,
        Caller::EnrolToken,
    ];

    fn session_role(self) -> Option<Role> {
        match self {
            Caller::Viewer => Some(Role::Viewer),
            Caller::Operator => Some(Role::Operator),
            Caller::Admin => Some(Role::Admin),
            Caller::Anonymous | Caller::ViewerToken | Caller::AgentToken | Caller::EnrolToken => {
                None
            }
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Caller::Anonymous => "anonymous",
            Caller::Viewer => "viewer",
            Caller::Operator => "operator",
            Caller::Admin => "admin",
            Caller::ViewerToken => "viewer_token",
            Caller::AgentToken => "agent_token",
            Caller::EnrolToken => "enrol_token",
        })
    }
}

pub fn load_matrix() -> Vec<Row> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(MATRIX_FILE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let m: Matrix = toml::from_str(&text).unwrap_or_else(|e| panic!("{MATRIX_FILE}: {e}"));
    m.route
}

/// Placeholders that stand for fixture ids.
const FIXTURES: [&str; 6] = ["test", "group", "agent", "token", "user", "insight"];

/// `request` (or `path`) with every `{…}` replaced by `with`.
fn fill_template(s: &str, with: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&with(&rest[start + 1..start + len]));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

fn placeholders(s: &str, out: &mut Vec<String>) {
    let mut rest = s;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(rest[start + 1..start + len].to_owned());
        rest = &rest[start + len + 1..];
    }
}

fn json_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => placeholders(s, out),
        Value::Array(a) => a.iter().for_each(|v| json_strings(v, out)),
        Value::Object(m) => m.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

impl Row {
    /// Every placeholder the row uses.
    fn placeholders(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(r) = &self.request {
            placeholders(r, &mut out);
        }
        if let Some(j) = &self.json {
            json_strings(j, &mut out);
        }
        for v in self.form.iter().flat_map(|f| f.values()) {
            placeholders(v, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }
}

#[test]
fn matrix_covers_every_route() {
    let rows = load_matrix();
    let mut problems = Vec::new();
    for route in ROUTES.iter() {
        let n = rows
            .iter()
            .filter(|r| r.method == route.method.as_str() && r.path == route.path)
            .count();
        match n {
            1 => {}
            0 => problems.push(format!(
                "route {} {} has no row in {MATRIX_FILE}; add one:\n\n[[route]]\nmethod = \"{}\"\npath = \"{}\"\n\
                 anonymous = …\nviewer = …\noperator = …\nadmin = …\nviewer_token = …\nagent_token = …\nenrol_token = …\n",
                route.method, route.path, route.method, route.path
            )),
            n => problems.push(format!(
                "route {} {} has {n} rows in {MATRIX_FILE}; keep exactly one",
                route.method, route.path
            )),
        }
    }
    let router = Router::new();
    let known = ["unique", "caller_password", "login_csrf"];
    for row in &rows {
        let here = format!("{MATRIX_FILE}: row {} {}", row.method, row.path);
        let Some(route) = ROUTES
            .iter()
            .find(|r| r.method.as_str() == row.method && r.path == row.path)
        else {
            problems.push(format!("{here} names no route in ROUTES"));
            continue;
        };
        let templated = row.path.contains('{');
        match (&row.request, templated) {
            (None, true) => problems.push(format!(
                "{here}: the path has parameters, so the row needs `request`, e.g. \"{}\"",
                fill_template(&row.path, |_| "{test}".into())
            )),
            (Some(_), false) => {
                problems.push(format!("{here}: `request` is only for templated paths"))
            }
            (Some(request), true) => {
                // The concrete path must reach this very route.
                let concrete = fill_template(request, |_| "1".into());
                match router.find(&row.method(), &concrete) {
                    Ok((found, _)) if std::ptr::eq(found, route) => {}
                    _ => problems.push(format!(
                        "{here}: request {request:?} does not route to {} {}",
                        row.method, row.path
                    )),
                }
            }
            (None, false) => {}
        }
        if [row.json.is_some(), row.form.is_some(), row.body.is_some()]
            .iter()
            .filter(|b| **b)
            .count()
            > 1
        {
            problems.push(format!("{here}: give one of `json`, `form` or `body`"));
        }
        for p in row.placeholders() {
            if !FIXTURES.contains(&p.as_str()) && !known.contains(&p.as_str()) {
                problems.push(format!("{here}: unknown placeholder {{{p}}}"));
            }
        }
        for caller in Caller::ALL {
            let s = row.expected(caller);
            if !(100..=599).contains(&s) {
                problems.push(format!("{here}: {caller} = {s} is not an HTTP status"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the authorization matrix does not match the route table:\n{}",
        problems.join("\n")
    );
}

/// What one caller got for one row.
pub struct Exchange {
    pub row: Row,
    pub caller: Caller,
    pub request: String,
    pub status: u16,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub www_authenticate: Option<String>,
    pub body: Vec<u8>,
    /// The store before and after, for refused requests (nothing may change).
    pub snapshots: Option<(String, String)>,
    /// Credentials this exchange used; none may ever reach the log.
    pub secrets: Vec<String>,
}

/// A client that keeps no cookies and follows no redirects: every credential is explicit.
fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|c| c.split(';').next()?.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// Signs in through the login form like a browser; returns the session id and CSRF token.
async fn sign_in(app: &TestApp, role: Role) -> (String, String) {
    let (session_cookie, login_cookie) = app.state.cookie_names();
    let c = plain_client();
    let resp = c.get(app.url("/login")).send().await.unwrap();
    let login_csrf = set_cookie(&resp, login_cookie).expect("login form sets its CSRF cookie");
    let form_csrf = extract_input(&resp.text().await.unwrap(), "csrf_token").unwrap();
    let resp = c
        .post(app.url("/login"))
        .header("cookie", format!("{login_cookie}={login_csrf}"))
        .form(&[
            ("username", username(role)),
            ("password", password(role)),
            ("csrf_token", form_csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "signing in as {role}");
    let session = set_cookie(&resp, session_cookie).expect("login sets the session cookie");
    let me: Value = c
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("{session_cookie}={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = me["csrf_token"].as_str().expect("csrf_token").to_owned();
    (session, csrf)
}

async fn fixture_test(app: &TestApp, name: String) -> i64 {
    let kind = TestKind::Ping;
    let draft = TestDraft {
        name,
        description: String::new(),
        spec: TestSpec {
            kind,
            target: "192.0.2.10".into(),
            params: TestParams::from_json(kind, Value::Null).unwrap(),
            schedule: Schedule::every(60),
        },
        enabled: true,
        assignments: Assignments::default(),
    };
    app.store().create_test(&draft, None).await.unwrap().id
}

async fn create_fixture(app: &TestApp, kind: &str, n: u64) -> i64 {
    let store = app.store();
    match kind {
        "test" => fixture_test(app, format!("fixture test {n}")).await,
        "insight" => {
            let test = fixture_test(app, format!("fixture insight test {n}")).await;
            let now = app.clock.now_ms();
            let insight = streamswarm::store::insights::NewInsight {
                fingerprint: format!(
                    "latency|ping.rtt_avg_ms|target|test={test}|target=192.0.2.10"
                ),
                kind: "latency".into(),
                metric: "ping.rtt_avg_ms".into(),
                scope: "target".into(),
                test_id: Some(test),
                target: Some("192.0.2.10".into()),
                agent_ids: vec![],
                agents_total: 0,
                severity: "warning".into(),
                started_at: now - 60_000,
                detected_at: now,
                expected: Some(10.0),
                observed: Some(30.0),
                unit: "ms".into(),
                summary: format!("fixture insight {n}"),
                evidence: serde_json::json!({"series": [], "window": {"from": now - 60_000, "to": null}, "notes": []}),
            };
            store.upsert_insight(&insight, now).await.unwrap().0
        }
        "group" => {
            store
                .create_group(&format!("fixture group {n}"), "")
                .await
                .unwrap()
                .id
        }
        "agent" => {
            store
                .create_agent(&format!("fixture-agent-{n}"), "agent.example.net")
                .await
                .unwrap()
                .id
        }
        "token" => {
            admin::tokens::create(
                store,
                &Actor::cli(),
                admin::tokens::TokenRequest {
                    kind: TokenKind::Api,
                    name: format!("fixture token {n}"),
                    role: Some(Role::Viewer),
                    expires_in: None,
                    uses: None,
                },
            )
            .await
            .unwrap()
            .info
            .id
        }
        "user" => {
            // Nobody signs in as a fixture user, so it needs no real password hash.
            let name = Username::parse(&format!("fixture-user-{n}")).unwrap();
            store
                .create_user(&name, "not-a-password-hash", Role::Viewer)
                .await
                .unwrap()
                .id
        }
        other => panic!("no fixture {other:?}"),
    }
}

/// What a refused request must not change: users, tokens, groups, memberships, tests,
/// assignments and settings.
async fn snapshot(app: &TestApp) -> String {
    let s = app.store();
    let users: Vec<_> = s
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.id, u.username, u.role, u.disabled))
        .collect();
    let tokens: Vec<_> = s
        .list_tokens(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.revoked_at.map(|r| r.0)))
        .collect();
    let groups: Vec<_> = s
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let agents: Vec<_> = s
        .list_agents()
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.id, a.groups))
        .collect();
    let (tests, _) = s
        .list_tests(&streamswarm::store::tests::TestFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let tests: Vec<_> = tests
        .into_iter()
        .map(|t| serde_json::to_string(&t).unwrap())
        .collect();
    let settings = s.setting_values().await.unwrap();
    let points = app
        .state
        .timeseries
        .embedded()
        .expect("tests run on the embedded store")
        .dump()
        .await
        .unwrap();
    format!("{users:?}\n{tokens:?}\n{groups:?}\n{agents:?}\n{tests:?}\n{settings:?}\n{points}")
}

/// How a request departs from what a well-behaved client of our own pages sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tweak {
    None,
    /// A session's state-changing request without its X-CSRF-Token.
    NoCsrf,
    /// A request (CSRF token included) that says it comes from another site.
    ForeignOrigin,
}

/// Sends `row` as `caller` with fresh fixtures and credentials.
pub async fn exchange(app: &TestApp, row: &Row, caller: Caller, counter: &AtomicU64) -> Exchange {
    exchange_with(app, row, caller, counter, Tweak::None).await
}

pub async fn exchange_with(
    app: &TestApp,
    row: &Row,
    caller: Caller,
    counter: &AtomicU64,
    tweak: Tweak,
) -> Exchange {
    let n = counter.fetch_add(1, Ordering::SeqCst);
    let mut ids: HashMap<String, i64> = HashMap::new();
    for p in row.placeholders() {
        if FIXTURES.contains(&p.as_str()) {
            let id = create_fixture(app, &p, n).await;
            ids.insert(p, id);
        }
    }
    let (session_cookie, login_cookie) = app.state.cookie_names();
    let mut cookies = Vec::new();
    let mut csrf = None;
    let mut bearer = None;
    let mut authorization = None;
    // The agent an agent credential belongs to (`{caller_agent}` in a body).
    let mut caller_agent = None;
    let mut secrets = Vec::new();
    let caller_password = caller
        .session_role()
        .map(password)
        .unwrap_or("no-password-at-all");
    match caller {
        Caller::Anonymous => {}
        Caller::ViewerToken => {
            let token = app.api_token(Role::Viewer).await;
            secrets.push(token.clone());
            bearer = Some(token);
        }
        Caller::AgentToken => {
            // InfluxDB 2's scheme, which agents use on the write endpoints.
            let (agent, token) = app.agent_token(&format!("matrix-agent-{n}")).await;
            caller_agent = Some(agent);
            secrets.push(token.clone());
            authorization = Some(format!("Token {token}"));
        }
        Caller::EnrolToken => {
            let created = admin::tokens::create(
                app.store(),
                &Actor::cli(),
                admin::tokens::TokenRequest {
                    kind: TokenKind::Enrol,
                    name: format!("matrix enrolment {n}"),
                    role: None,
                    expires_in: None,
                    uses: Some(1),
                },
            )
            .await
            .unwrap();
            let token = secrecy::ExposeSecret::expose_secret(&created.secret).to_owned();
            secrets.push(token.clone());
            bearer = Some(token);
        }
        _ => {
            secrets.push(caller_password.to_owned());
            let (session, token) = sign_in(app, caller.session_role().unwrap()).await;
            cookies.push(format!("{session_cookie}={session}"));
            secrets.extend([session, token.clone()]);
            csrf = Some(token);
        }
    }
    let login_csrf = format!("matrix-login-csrf-{n}");
    if row.placeholders().iter().any(|p| p == "login_csrf") {
        cookies.push(format!("{login_cookie}={login_csrf}"));
    }
    let substitute = |name: &str| -> String {
        match name {
            "unique" => n.to_string(),
            "caller_password" => caller_password.to_owned(),
            "login_csrf" => login_csrf.clone(),
            "caller_agent" => caller_agent.map_or_else(|| "none".into(), |a| a.to_string()),
            fixture => ids
                .get(fixture)
                .map(i64::to_string)
                .unwrap_or_else(|| format!("{{{fixture}}}")),
        }
    };
    fn fill_json(v: &Value, ids: &HashMap<String, i64>, sub: &dyn Fn(&str) -> String) -> Value {
        match v {
            Value::String(s) => {
                // A string that is exactly a fixture placeholder becomes the integer id.
                if let Some(id) = s
                    .strip_prefix('{')
                    .and_then(|s| s.strip_suffix('}'))
                    .and_then(|name| ids.get(name))
                {
                    Value::from(*id)
                } else {
                    Value::String(fill_template(s, sub))
                }
            }
            Value::Array(a) => Value::Array(a.iter().map(|v| fill_json(v, ids, sub)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), fill_json(v, ids, sub)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let mut request = fill_template(row.request.as_deref().unwrap_or(&row.path), substitute);
    if let Some(q) = &row.query {
        request = format!("{request}?{q}");
    }
    let method = row.method();
    let mut req = plain_client().request(method.clone(), app.url(&request));
    if let Some(a) = &authorization {
        req = req.header("authorization", a);
    }
    if let Some(b) = &row.body {
        req = req.body(fill_template(b, substitute));
    }
    if !cookies.is_empty() {
        req = req.header("cookie", cookies.join("; "));
    }
    if let Some(b) = &bearer {
        req = req.bearer_auth(b);
    }
    let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if let (Some(token), false) = (&csrf, safe)
        && tweak != Tweak::NoCsrf
    {
        req = req.header("x-csrf-token", token);
    }
    if tweak == Tweak::ForeignOrigin {
        req = req
            .header("origin", "http://evil.example")
            .header("sec-fetch-site", "cross-site");
    }
    if let Some(j) = &row.json {
        req = req.json(&fill_json(j, &ids, &substitute));
    }
    if let Some(f) = &row.form {
        let filled: Vec<(String, String)> = f
            .iter()
            .map(|(k, v)| (k.clone(), fill_template(v, substitute)))
            .collect();
        req = req.form(&filled);
    }
    let before = if safe {
        None
    } else {
        Some(snapshot(app).await)
    };
    let resp = req.send().await.unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = resp.status().as_u16();
    let location = header("location");
    let content_type = header("content-type");
    let www_authenticate = header("www-authenticate");
    let body = resp.bytes().await.unwrap().to_vec();
    let snapshots = match before {
        Some(b) if matches!(status, 401 | 403) => Some((b, snapshot(app).await)),
        _ => None,
    };
    Exchange {
        row: row.clone(),
        caller,
        request,
        status,
        location,
        content_type,
        www_authenticate,
        body,
        snapshots,
        secrets,
    }
}

/// Every row as every caller, in order.
pub async fn exchange_all(app: &TestApp) -> Vec<Exchange> {
    let counter = AtomicU64::new(1);
    let mut out = Vec::new();
    for row in load_matrix() {
        for caller in Caller::ALL {
            out.push(exchange(app, &row, caller, &counter).await);
        }
    }
    out
}

/// What is wrong with one exchange, if anything.
fn check(x: &Exchange) -> Vec<String> {
    let mut problems = Vec::new();
    let what = format!(
        "{} {} (as {} {})",
        x.row.method, x.row.path, x.caller, x.request
    );
    let expected = x.row.expected(x.caller);
    let body = String::from_utf8_lossy(&x.body);
    if x.status != expected {
        let excerpt: String = body.chars().take(300).collect();
        problems.push(format!(
            "{what}: expected {expected}, got {}{} {excerpt}",
            x.status,
            x.location
                .as_deref()
                .map(|l| format!(" → {l}"))
                .unwrap_or_default()
        ));
        return problems;
    }
    let route = ROUTES
        .iter()
        .find(|r| r.method.as_str() == x.row.method && r.path == x.row.path)
        .expect("rows name routes");
    let format = route.error_format;
    let api = format != ErrorFormat::Html;
    let public = route.access == streamswarm::auth::Access::Public;
    if x.status == 303 && x.caller == Caller::Anonymous && !public {
        let next: String = url::form_urlencoded::byte_serialize(x.request.as_bytes()).collect();
        let want = format!("/login?next={next}");
        if x.location.as_deref() != Some(want.as_str()) {
            problems.push(format!(
                "{what}: redirected to {:?}, expected {want:?}",
                x.location
            ));
        }
    }
    if api && matches!(x.status, 401 | 403) {
        let code = if x.status == 401 {
            "unauthorized"
        } else {
            "forbidden"
        };
        let parsed: Option<Value> = serde_json::from_slice(&x.body).ok();
        // InfluxDB's shapes on its endpoints: v1 `{"error": "…"}`, v2 `{"code", "message"}`.
        let shaped = match (format, parsed.as_ref()) {
            (ErrorFormat::Json, Some(v)) => v["error"]["code"] == code,
            (ErrorFormat::InfluxV1 | ErrorFormat::Agent, Some(v)) => v["error"].is_string(),
            (ErrorFormat::InfluxV2, Some(v)) => v["code"] == code && v["message"].is_string(),
            _ => false,
        };
        if !shaped {
            problems.push(format!(
                "{what}: expected a {format:?} error with code {code:?}, got {body}"
            ));
        }
        if x.status == 401 && x.www_authenticate.as_deref() != Some("Bearer") {
            problems.push(format!("{what}: 401 without WWW-Authenticate: Bearer"));
        }
    }
    if api && (200..300).contains(&x.status) && x.status != 204 {
        let json = x
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"));
        if !json || serde_json::from_slice::<Value>(&x.body).is_err() {
            problems.push(format!("{what}: success is not a JSON body: {body}"));
        }
    }
    if let Some((before, after)) = &x.snapshots
        && before != after
    {
        problems.push(format!(
            "{what}: refused with {} but the store changed:\nbefore: {before}\nafter:  {after}",
            x.status
        ));
    }
    problems
}

both_backends!(matrix_holds, |app| async {
    let exchanges = exchange_all(&app).await;
    let rows = load_matrix().len();
    assert_eq!(exchanges.len(), rows * Caller::ALL.len());
    let mut problems: Vec<String> = exchanges.iter().flat_map(check).collect();
    let logs = captured_logs();
    for x in &exchanges {
        for secret in &x.secrets {
            if logs.contains(secret.as_str()) {
                problems.push(format!(
                    "{} {} (as {}): a credential of this request is in the log",
                    x.row.method, x.row.path, x.caller
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} requests broke the authorization matrix ({MATRIX_FILE}) on {:?}:\n\n{}",
        problems.len(),
        exchanges.len(),
        app.backend,
        problems.join("\n\n")
    );
});

// Credentials that lapse are refused like none at all: an idle session, a disabled
// user's session, a revoked or expired token, a malformed `Authorization` header.
both_backends!(lapsed_credentials_are_refused, |app| async {
    let client = plain_client();
    let (session_cookie, _) = app.state.cookie_names();
    let get = |path: &str, cookie: Option<&str>, bearer: Option<&str>| {
        let mut req = client.get(app.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(b) = bearer {
            req = req.header("authorization", b);
        }
        async move {
            let resp = req.send().await.unwrap();
            let location = resp
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_owned());
            (resp.status().as_u16(), location)
        }
    };

    // A session idle past the timeout (30 minutes by default) ends.
    let (id, _) = sign_in(&app, Role::Operator).await;
    let operator = format!("{session_cookie}={id}");
    assert_eq!(get("/api/v1/me", Some(&operator), None).await.0, 200);
    app.clock.advance(std::time::Duration::from_secs(31 * 60));
    assert_eq!(get("/api/v1/me", Some(&operator), None).await.0, 401);
    assert_eq!(
        get("/", Some(&operator), None).await,
        (303, Some("/login?next=%2F".to_owned()))
    );

    // A disabled user's session is refused.
    let (id, _) = sign_in(&app, Role::Viewer).await;
    let viewer = format!("{session_cookie}={id}");
    assert_eq!(get("/api/v1/tests", Some(&viewer), None).await.0, 200);
    let vera = app
        .store()
        .user_by_name(&Username::parse("vera").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.store().set_disabled(vera.id, true).await.unwrap();
    assert_eq!(get("/api/v1/tests", Some(&viewer), None).await.0, 401);

    // Revoked and expired tokens.
    let token = app.api_token(Role::Admin).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(get("/api/v1/users", None, Some(&bearer)).await.0, 200);
    let info = app
        .store()
        .token_by_hash(&streamswarm::auth::token::hash(&token))
        .await
        .unwrap()
        .unwrap();
    app.store().revoke_token(info.id).await.unwrap();
    assert_eq!(get("/api/v1/users", None, Some(&bearer)).await.0, 401);
    assert_eq!(get("/api/v1/me", None, Some(&bearer)).await.0, 401);

    let expiring = admin::tokens::create(
        app.store(),
        &Actor::cli(),
        admin::tokens::TokenRequest {
            kind: TokenKind::Api,
            name: "expiring".into(),
            role: Some(Role::Viewer),
            expires_in: Some(std::time::Duration::from_secs(3600)),
            uses: None,
        },
    )
    .await
    .unwrap();
    let bearer = format!(
        "Bearer {}",
        secrecy::ExposeSecret::expose_secret(&expiring.secret)
    );
    assert_eq!(get("/api/v1/agents", None, Some(&bearer)).await.0, 200);
    app.clock.advance(std::time::Duration::from_secs(3601));
    assert_eq!(get("/api/v1/agents", None, Some(&bearer)).await.0, 401);

    // Malformed credentials: refused on a protected route, ignored on a public one.
    for bad in ["Bearer ssw_api_not-a-token", "Basic dmVyYTp4", "Bearer "] {
        assert_eq!(get("/api/v1/agents", None, Some(bad)).await.0, 401, "{bad}");
        assert_eq!(get("/healthz", None, Some(bad)).await.0, 200, "{bad}");
    }
    let forged = format!("{session_cookie}=forged-session-id");
    assert_eq!(get("/api/v1/agents", Some(&forged), None).await.0, 401);
    assert_eq!(get("/login", Some(&forged), None).await.0, 200);
});

// A session's state-changing requests need its CSRF token, and nothing may be sent from
// another site: every non-GET row of the matrix, as admin, is refused with 403 and changes
// nothing when the token is missing or the request is cross-site.
both_backends!(mutations_need_csrf_and_same_origin, |app| async {
    let counter = AtomicU64::new(10_000);
    let mut problems = Vec::new();
    let mut checked = 0;
    for row in load_matrix() {
        if matches!(row.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            continue;
        }
        let access = ROUTES
            .iter()
            .find(|r| r.method.as_str() == row.method && r.path == row.path)
            .map(|r| r.access);
        // Enrolment takes only an enrolment token: a session has no authority there to
        // abuse, and is refused (401) whatever its headers say.
        if access == Some(streamswarm::auth::Access::Enrol) {
            continue;
        }
        let public = access == Some(streamswarm::auth::Access::Public);
        let mut tweaks = vec![Tweak::ForeignOrigin];
        if !public {
            // Public routes carry no session authority (the login form has its own token).
            tweaks.push(Tweak::NoCsrf);
        }
        for tweak in tweaks {
            checked += 1;
            let x = exchange_with(&app, &row, Caller::Admin, &counter, tweak).await;
            let changed = x.snapshots.as_ref().is_some_and(|(a, b)| a != b);
            if x.status != 403 || changed {
                problems.push(format!(
                    "{} {} as admin with {tweak:?}: got {}{}: {}",
                    row.method,
                    row.path,
                    x.status,
                    if changed {
                        " and the store changed"
                    } else {
                        ""
                    },
                    String::from_utf8_lossy(&x.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ));
            }
        }
    }
    assert!(checked > 20, "only {checked} requests checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
});
