//! Server-rendered pages (handlebars, strict mode, HTML-escaped by default).

pub mod home;
pub mod login;

use handlebars::Handlebars;
use serde_json::json;
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
];

impl Templates {
    pub fn new() -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        for (name, src) in TEMPLATES {
            hb.register_template_string(name, *src)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        Templates { hb }
    }

    pub fn render(
        &self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<String, crate::error::Error> {
        self.hb
            .render(name, data)
            .map_err(|e| crate::error::Error::Internal(anyhow::anyhow!("rendering {name}: {e}")))
    }

    pub fn error_page(&self, status: StatusCode, message: &str) -> String {
        self.render("error", &json!({"title": status.canonical_reason().unwrap_or("Error"), "status": status.as_u16(), "message": message}))
            .unwrap_or_else(|_| format!("{status}"))
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
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
