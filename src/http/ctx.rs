//! What a handler receives: the request, its caller and the application state, with
//! parsing helpers that turn bad input into precise 400s.
//!
//! Every reader of client text here (JSON body, form, query string) refuses a NUL
//! character with a 400 naming the field, so no handler can pass one to the store
//! (PostgreSQL cannot hold it in text and would fail the whole request).

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

    /// The test `id`, or 404.
    pub async fn test(&self, id: i64) -> Result<crate::store::tests::TestRecord, Error> {
        self.state
            .store
            .test(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("test {id}")))
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
        decode_json(&self.body)
    }

    /// The body as an HTML form (`application/x-www-form-urlencoded`).
    pub fn form<T: DeserializeOwned>(&self) -> Result<T, Error> {
        refuse_nul_in_urlencoded(&self.body)?;
        self.form_allowing_nul()
    }

    /// As [`Ctx::form`] but letting NUL through: only for the login form, which must
    /// audit and count a malformed username as a failed login before refusing it.
    pub fn form_allowing_nul<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_urlencoded::from_bytes(&self.body)
            .map_err(|e| Error::BadRequest(format!("malformed form: {e}")))
    }

    /// The query string as `T`; a value of the wrong type (a number too large, a sign
    /// where none fits) is an error naming its parameter.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, Error> {
        refuse_nul_in_urlencoded(self.query.as_bytes())?;
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

const NUL_MESSAGE: &str = "must not contain a NUL character";

/// A form or query string with a NUL in a name or value: 400 naming the parameter.
fn refuse_nul_in_urlencoded(raw: &[u8]) -> Result<(), Error> {
    for (key, value) in url::form_urlencoded::parse(raw) {
        if key.contains('\0') || value.contains('\0') {
            return Err(Error::invalid(key.replace('\0', "\\0"), NUL_MESSAGE));
        }
    }
    Ok(())
}

/// Where in a JSON document the first string (or object key) holding a NUL is, written
/// as `serde_path_to_error` writes paths (`assignments[0].name`).
fn json_path_of_nul(value: &serde_json::Value, at: String) -> Option<String> {
    use serde_json::Value;
    let here = || {
        if at.is_empty() {
            ".".to_owned()
        } else {
            at.clone()
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_path_of_nul(v, format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let path = if at.is_empty() {
                k.replace('\0', "\\0")
            } else {
                format!("{at}.{}", k.replace('\0', "\\0"))
            };
            if k.contains('\0') {
                Some(path)
            } else {
                json_path_of_nul(v, path)
            }
        }),
        _ => None,
    }
}

/// JSON of type `T` as every handler reads it: a NUL in any string is refused naming
/// its field, and errors say where the JSON is wrong.
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    // A NUL can only be in a JSON string as the escape `\u0000`; the body is walked
    // for the field only when that escape is there at all.
    if body.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(field) = json_path_of_nul(&value, String::new())
    {
        return Err(Error::invalid(field, NUL_MESSAGE));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_path_of_a_nul_anywhere_in_json() {
        assert_eq!(
            json_path_of_nul(&json!({"name": "ok"}), String::new()),
            None
        );
        assert_eq!(
            json_path_of_nul(&json!({"name": "a\u{0}b"}), String::new()).as_deref(),
            Some("name")
        );
        assert_eq!(
            json_path_of_nul(
                &json!({"assignments": [{"agent": "x"}, {"agent": "\u{0}"}]}),
                String::new()
            )
            .as_deref(),
            Some("assignments[1].agent")
        );
        assert_eq!(
            json_path_of_nul(&json!({"params": {"k\u{0}": 1}}), String::new()).as_deref(),
            Some("params.k\\0")
        );
        assert_eq!(
            json_path_of_nul(&json!("\u{0}"), String::new()).as_deref(),
            Some(".")
        );
    }

    #[test]
    fn refuses_nul_in_forms_and_query_strings_naming_the_parameter() {
        assert!(refuse_nul_in_urlencoded(b"search=abc&page=2").is_ok());
        let Err(Error::Invalid(e)) = refuse_nul_in_urlencoded(b"page=2&search=%00") else {
            panic!("NUL accepted");
        };
        assert_eq!(e[0].field, "search");
        let Err(Error::Invalid(e)) = refuse_nul_in_urlencoded(b"a%00b=1") else {
            panic!("NUL in a name accepted");
        };
        assert_eq!(e[0].field, "a\\0b");
    }
}
