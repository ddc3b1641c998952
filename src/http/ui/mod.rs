//! Server-rendered pages (handlebars, strict mode, HTML-escaped by default; no
//! triple-stash anywhere). One file per page, one template per page under `templates/`,
//! all wrapped in `templates/layout.hbs` (navbar by role, flash area, footer).
//!
//! Every page's data is also served as JSON by the `/api/v1` endpoint named in its
//! `poll` (same access rule); `assets/app.js` polls it every 10 s while the tab is
//! visible and updates the marked elements in place. Mutations are made by `app.js`
//! calling the JSON API with the session's CSRF token (`<meta name="csrf-token">`) in
//! `X-CSRF-Token`; plain forms (logout) carry it as a hidden `csrf_token` field.

pub mod agents;
pub mod assets;
pub mod enrol;
pub mod groups;
pub mod home;
pub mod insights;
pub mod login;
pub mod paths;
pub mod profile;
pub mod settings;
pub mod tests;
pub mod tokens;
pub mod users;

use crate::auth::{Principal, session};
use crate::error::{Error, Result};
use crate::http::Ctx;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};
use serde_json::{Value, json};
use streamswarm_schema::Role;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

pub struct Templates {
    hb: Handlebars<'static>,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout", include_str!("templates/layout.hbs")),
    ("login", include_str!("templates/login.hbs")),
    ("home", include_str!("templates/home.hbs")),
    ("logout", include_str!("templates/logout.hbs")),
    ("error", include_str!("templates/error.hbs")),
    ("agents", include_str!("templates/agents.hbs")),
    ("agent", include_str!("templates/agent.hbs")),
    ("groups", include_str!("templates/groups.hbs")),
    ("enrol", include_str!("templates/enrol.hbs")),
    ("tests", include_str!("templates/tests.hbs")),
    ("test", include_str!("templates/test.hbs")),
    ("test_form", include_str!("templates/test_form.hbs")),
    ("paths", include_str!("templates/paths.hbs")),
    ("insights", include_str!("templates/insights.hbs")),
    ("insight", include_str!("templates/insight.hbs")),
    ("health_badge", include_str!("templates/health_badge.hbs")),
    ("open_insights", include_str!("templates/open_insights.hbs")),
    ("users", include_str!("templates/users.hbs")),
    ("tokens", include_str!("templates/tokens.hbs")),
    ("settings", include_str!("templates/settings.hbs")),
    ("profile", include_str!("templates/profile.hbs")),
];

/// `{{asset "app.css"}}` → `/assets/<hash>/app.css` (hex and a literal name: nothing
/// to escape).
fn asset_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let name = h
        .param(0)
        .and_then(|p| p.value().as_str())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("asset", 0))?;
    let a = assets::find(name)
        .ok_or_else(|| RenderErrorReason::Other(format!("unknown asset {name:?}")))?;
    out.write(&format!("/assets/{}/{}", a.hash, a.name))?;
    Ok(())
}

impl Templates {
    pub fn new() -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_helper("asset", Box::new(asset_helper));
        for (name, src) in TEMPLATES {
            hb.register_template_string(name, *src)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Templates { hb }
    }

    /// Renders `name`; the layout's fields a caller did not set (`nav`, `csrf_token`,
    /// `poll`, `version`) default to "signed out".
    pub fn render(&self, name: &str, data: &Value) -> Result<String> {
        let mut data = data.clone();
        if let Some(obj) = data.as_object_mut() {
            for (k, v) in [
                ("nav", Value::Null),
                ("csrf_token", json!("")),
                ("poll", Value::Null),
                ("version", json!(env!("CARGO_PKG_VERSION"))),
            ] {
                obj.entry(k).or_insert(v);
            }
        }
        self.hb
            .render(name, &data)
            .map_err(|e| crate::error::Error::Internal(anyhow::anyhow!("rendering {name}: {e}")))
    }

    pub fn error_page(&self, status: StatusCode, message: &str) -> String {
        self.render(
            "error",
            &json!({
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "message": message,
            }),
        )
        .unwrap_or_else(|_| format!("{status}"))
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

/// What the layout needs about the caller: the navbar shows only what their role may use.
pub fn nav(p: &Principal, active: &str) -> Value {
    let role = p.role().unwrap_or(Role::Viewer);
    let name = match p {
        Principal::User { user, .. } => user.username.clone(),
        Principal::Token { .. } | Principal::Agent { .. } | Principal::Enrolment { .. } => {
            p.actor()
        }
    };
    json!({
        "username": name,
        "role": role,
        "operator": role >= Role::Operator,
        "admin": role >= Role::Admin,
        "active": active,
        "is_dashboard": active == "dashboard",
        "is_agents": active == "agents",
        "is_groups": active == "groups",
        "is_tests": active == "tests",
        "is_insights": active == "insights",
        "is_users": active == "users",
        "is_tokens": active == "tokens",
        "is_settings": active == "settings",
        "is_profile": active == "profile",
    })
}

/// Renders a page inside the layout. `data` is the page's own object; the layout's
/// fields (`title`, `nav`, `csrf_token`, `version`, `poll`) are added to it.
pub fn page(
    ctx: &Ctx,
    template: &str,
    title: &str,
    active: &str,
    poll: Option<&str>,
    mut data: Value,
) -> Result<Response> {
    let p = ctx.principal()?;
    let csrf = p
        .session()
        .map(|s| session::csrf_token(&s.id))
        .unwrap_or_default();
    let obj = data.as_object_mut().expect("page data is a JSON object");
    obj.insert("title".into(), json!(title));
    obj.insert("nav".into(), nav(p, active));
    obj.insert("csrf_token".into(), json!(csrf));
    obj.insert("version".into(), json!(env!("CARGO_PKG_VERSION")));
    obj.insert("poll".into(), json!(poll));
    let body = ctx.state.templates.render(template, &data)?;
    Ok(html(StatusCode::OK, body))
}

/// `role >= Operator` for the caller (templates hide mutating controls below it).
/// The number and first row of a list page from the `page` query parameter (default 1).
/// A page below 1, or one whose first row cannot be counted, is an error naming `page`.
pub fn page_offset(page: Option<i64>, page_size: i64) -> Result<(i64, i64)> {
    let page = page.unwrap_or(1);
    if page < 1 {
        return Err(Error::invalid("page", "must be a whole number from 1"));
    }
    let offset = (page - 1)
        .checked_mul(page_size)
        .ok_or_else(|| Error::invalid("page", "is beyond any list"))?;
    Ok((page, offset))
}

pub fn can_operate(ctx: &Ctx) -> bool {
    ctx.principal
        .as_ref()
        .and_then(Principal::role)
        .is_some_and(|r| r >= Role::Operator)
}

pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

pub fn redirect(location: &str) -> Response {
    let mut r = Response::new(Vec::new().into());
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    r
}

/// Sends an unauthenticated browser to the login page, remembering where it was going.
pub fn redirect_to_login(path: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    redirect(&format!("/login?next={next}"))
}

/// Only same-site absolute paths are followed after login (no open redirects).
///
/// Control characters are refused anywhere: browsers drop tabs and newlines from a
/// `Location` before resolving it, so `/<TAB>/evil.example` would become the
/// protocol-relative `//evil.example`.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod render_log_tests {
    use super::Templates;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a page render logs under `filter` (handlebars logs through the `log` crate,
    /// bridged into `tracing` as in the server).
    fn log_of_render(filter: tracing_subscriber::EnvFilter) -> String {
        let _ = tracing_log::LogTracer::init();
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            Templates::new()
                .render(
                    "error",
                    &json!({
                        "status": 400,
                        "title": "Bad request",
                        "message": "bad",
                        // The signed-in user, as every page's navbar has it.
                        "nav": {"username": "user-secret-marker", "role": "admin", "admin": true},
                    }),
                )
                .unwrap();
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn log_level_debug_keeps_template_data_out_of_the_log() {
        // Handlebars at debug logs the data it renders: the check below can see a leak.
        let raw = log_of_render(tracing_subscriber::EnvFilter::new("debug"));
        assert!(raw.contains("user-secret-marker"), "{raw}");
        let level = crate::config::LogConfig {
            level: "debug".into(),
            format: crate::config::LogFormat::Text,
        };
        let logged = log_of_render(level.filter().unwrap());
        assert!(!logged.contains("user-secret-marker"), "{logged}");
    }
}
