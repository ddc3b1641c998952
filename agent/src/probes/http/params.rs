//! TEMPORARY: the shape `schema/build.rs` generates from `schema/kinds/http.toml`
//! (`streamswarm_schema::test_spec::HttpParams`). Deleted when main's kinds generator is
//! merged; the probe then names the generated types.

use serde::{Deserialize, Serialize};
pub use streamswarm_schema::test_spec::AddressFamily;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum HttpMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "POST")]
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HttpVersion {
    #[default]
    Auto,
    Http1,
    Http2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpParams {
    pub method: HttpMethod,
    pub headers: Vec<String>,
    pub body: Option<String>,
    pub expected_status: Vec<u16>,
    pub body_match: Option<String>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub http_version: HttpVersion,
    pub verify_tls: bool,
    pub ca_file: Option<String>,
    pub proxy: Option<String>,
    pub max_body_bytes: u32,
    pub timeout_ms: u32,
    pub family: AddressFamily,
}

impl Default for HttpParams {
    fn default() -> Self {
        HttpParams {
            method: HttpMethod::Get,
            headers: Vec::new(),
            body: None,
            expected_status: Vec::new(),
            body_match: None,
            follow_redirects: true,
            max_redirects: 5,
            http_version: HttpVersion::Auto,
            verify_tls: true,
            ca_file: None,
            proxy: None,
            max_body_bytes: 1_048_576,
            timeout_ms: 10_000,
            family: AddressFamily::Any,
        }
    }
}
