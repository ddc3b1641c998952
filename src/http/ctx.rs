//! What a handler receives: the request, its caller and the application state, with
//! parsing helpers that turn bad input into precise 400s.

use super::AppState;
use super::routes::Route;
use crate::admin::Actor;
use crate::auth::Principal;
use crate::error::Error;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::sync::Arc;
use warp::http::{HeaderMap, Method, header};

pub struct Ctx {
    pub state: Arc<AppState>,
    pub method: Method,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub remote: Option<SocketAddr>,
    pub principal: Option<Principal>,
    pub route: &'static Route,
}

impl Ctx {
    /// A numeric path parameter such as `{id}`.
    pub fn id(&self, name: &str) -> Result<i64, Error> {
        let raw = self
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        raw.parse()
            .map_err(|_| Error::NotFound(format!("{} {raw:?}", name)))
    }

    /// The body as JSON of type `T`; errors say where the JSON is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(Error::BadRequest(
                "expected Content-Type: application/json".into(),
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let at = format!("line {} column {}", inner.line(), inner.column());
            if path == "." || inner.is_syntax() || inner.is_eof() {
                Error::BadRequest(format!("malformed JSON at {at}: {inner}"))
            } else {
                Error::invalid(path, inner.to_string())
            }
        })
    }

    /// The body as an HTML form (`application/x-www-form-urlencoded`).
    pub fn form<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_urlencoded::from_bytes(&self.body)
            .map_err(|e| Error::BadRequest(format!("malformed form: {e}")))
    }

    /// The query string as `T`; a value of the wrong type (a number too large, a sign
    /// where none fits) is an error naming its parameter.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let de =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(self.query.as_bytes()));
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." {
                Error::BadRequest(format!("bad query string: {inner}"))
            } else {
                Error::invalid(path, inner.to_string())
            }
        })
    }

    pub fn source_ip(&self) -> Option<String> {
        self.remote.map(|a| a.ip().to_string())
    }

    /// The authenticated caller; handlers behind a role rule always have one.
    pub fn principal(&self) -> Result<&Principal, Error> {
        self.principal.as_ref().ok_or(Error::Unauthenticated)
    }

    pub fn actor(&self) -> Actor {
        Actor {
            name: self
                .principal
                .as_ref()
                .map_or_else(|| "anonymous".into(), Principal::actor),
            user_id: self.principal.as_ref().and_then(Principal::user_id),
            source_ip: self.source_ip(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
