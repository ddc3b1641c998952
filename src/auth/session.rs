//! Session ids, the session cookie and the CSRF token.
//!
//! A session id is 128 random bits, sent only in an HttpOnly, SameSite=Strict cookie
//! (plus `Secure` and the `__Host-` prefix over TLS). The server stores SHA-256(id), so a
//! leaked database does not yield usable sessions. The CSRF token is derived from the
//! session id, so it is bound to the session and needs no storage.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

pub const COOKIE: &str = "ssw_session";
pub const SECURE_COOKIE: &str = "__Host-ssw_session";
/// Double-submit cookie protecting the login form, which has no session yet.
pub const LOGIN_CSRF_COOKIE: &str = "ssw_login_csrf";
pub const SECURE_LOGIN_CSRF_COOKIE: &str = "__Host-ssw_login_csrf";

/// A new random id (128 bits, URL-safe base64).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The CSRF token for a session.
pub fn csrf_token(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"streamswarm csrf v1\0");
    h.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

pub fn cookie_names(secure: bool) -> (&'static str, &'static str) {
    if secure {
        (SECURE_COOKIE, SECURE_LOGIN_CSRF_COOKIE)
    } else {
        (COOKIE, LOGIN_CSRF_COOKIE)
    }
}

/// `Set-Cookie` value; `max_age` None makes a browser-session cookie, Some(0) deletes.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// Finds a cookie in a `Cookie` request header.
pub fn read_cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_128_bit_and_distinct() {
        let a = new_id();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
        assert_ne!(a, new_id());
        assert_ne!(csrf_token(&a), csrf_token(&new_id()));
        assert_eq!(csrf_token(&a), csrf_token(&a));
    }

    #[test]
    fn cookies() {
        assert_eq!(
            read_cookie("a=1; ssw_session=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(read_cookie("a=1", COOKIE), None);
        let c = set_cookie(SECURE_COOKIE, "v", true, None);
        assert_eq!(
            c,
            "__Host-ssw_session=v; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
