//! The HTTP surface: one warp filter that routes through the table in [`routes`],
//! reads the body under a size limit, authenticates the caller, enforces the route's
//! access rule and CSRF protection, calls the handler and maps errors to responses in
//! one place ([`error`]). Routes with their own, larger body limit (the time-series
//! writes) are authorized before their body is read.
//!
//! The route table is data, so the OpenAPI document, the authorization-matrix test and
//! the per-route metrics all come from the same list.

pub mod api;
pub mod ctx;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod query;
pub mod routes;
pub mod ui;
pub mod write;

use crate::auth::principal::SessionRef;
use crate::auth::principal::TIME_SERIES_WRITER_ROLE;
use crate::auth::{Access, Principal, session, token};
use crate::config::Config;
use crate::error::Error;
use crate::settings::SettingsCache;
use crate::store::Store;
use crate::store::tokens::TokenKind;
use bytes::{Buf, Bytes, BytesMut};
pub use ctx::Ctx;
use futures_util::{Stream, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use warp::Filter;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

/// Everything a request handler can reach.
pub struct AppState {
    pub store: Store,
    /// The time-series store: the embedded one takes writes on `/write` and
    /// `/api/v2/write`; the UI and analytics read through its `Reader`.
    pub timeseries: crate::timeseries::TimeSeries,
    pub config: Config,
    pub settings: SettingsCache,
    pub metrics: metrics::Metrics,
    pub templates: ui::Templates,
    /// `scheme://host[:port]` of the server as users reach it; checked against `Origin`.
    pub public_origin: String,
    /// `server.public_url` is set: its origin is the only one trusted (no `Host`-derived
    /// origin), and an https one turns on `Strict-Transport-Security`.
    public_url_set: bool,
    hsts: bool,
    pub secure_cookies: bool,
    router: routes::Router,
    /// `[geoip]`'s databases, opened at start (none configured: lookups find nothing).
    pub geoip: std::sync::Arc<crate::geoip::GeoIp>,
    /// The Content-Security-Policy of pages (`img-src` admits `ui.map_tile_url`'s host).
    csp: HeaderValue,
}

impl AppState {
    pub fn new(
        store: Store,
        timeseries: crate::timeseries::TimeSeries,
        config: Config,
        public_origin: String,
    ) -> Self {
        let secure_cookies = config.secure_cookies();
        let public_url_set = config.server.public_url.is_some();
        // The origin is normalised (`HTTPS://` in the configuration is `https://` here).
        let hsts = public_url_set && public_origin.starts_with("https://");
        let geoip = config.geoip.open().unwrap_or_else(|e| {
            // Validated at load; a file removed since then leaves the fields absent.
            tracing::warn!(error = %e, "geoip databases not available");
            crate::geoip::GeoIp::default()
        });
        let csp = HeaderValue::from_str(&content_security_policy(
            config.ui.map_tile_origin().as_deref(),
        ))
        .expect("validated tile origin");
        AppState {
            geoip: std::sync::Arc::new(geoip),
            csp,
            public_url_set,
            hsts,
            timeseries,
            metrics: metrics::Metrics::new(store.clone()),
            store,
            config,
            settings: SettingsCache::new(),
            templates: ui::Templates::new(),
            public_origin,
            secure_cookies,
            router: routes::Router::new(),
        }
    }

    pub fn cookie_names(&self) -> (&'static str, &'static str) {
        session::cookie_names(self.secure_cookies)
    }
}

/// The whole HTTP service as one warp filter.
pub fn service(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = std::convert::Infallible> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::any()
        .map(move || state.clone())
        .and(warp::method())
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(warp::addr::remote())
        .and(warp::body::stream())
        .then(
            |state: Arc<AppState>,
             method,
             path: warp::path::FullPath,
             query,
             headers,
             remote,
             body| async move {
                dispatch(
                    state,
                    method,
                    path.as_str().to_owned(),
                    query,
                    headers,
                    remote,
                    body,
                )
                .await
            },
        )
        .recover(|_| async {
            Ok::<_, std::convert::Infallible>(error::plain(StatusCode::BAD_REQUEST, "bad request"))
        })
        .unify()
}

async fn dispatch<S, B>(
    state: Arc<AppState>,
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let started = Instant::now();
    let api = path.starts_with("/api/");
    let (route, params) = match state.router.find(&method, &path) {
        Ok(found) => found,
        Err(status) => {
            let err = if status == StatusCode::NOT_FOUND {
                Error::NotFound(format!("route {method} {path}"))
            } else {
                Error::MethodNotAllowed(format!("{method} is not allowed on {path}"))
            };
            let mut resp = error::respond(err, error::ErrorFormat::for_path(&path), &state);
            security_headers(resp.headers_mut(), api, state.hsts, &state.csp);
            state
                .metrics
                .observe(&method, "unmatched", resp.status(), started.elapsed());
            return resp;
        }
    };
    let result = async {
        // Small bodies are read before authentication, so an oversized one is refused
        // (413) before any credential is looked at.
        let (early_body, late_body) = match route.body_limit {
            None => (
                Some(read_body(body, state.config.server.max_body_bytes).await?),
                None,
            ),
            Some(limit) => (None, Some((body, limit))),
        };
        if matches!(
            route.error_format,
            error::ErrorFormat::InfluxV1 | error::ErrorFormat::InfluxV2
        ) {
            refuse_credentials_in_url(&query)?;
        }
        let principal = match route.access {
            // Enrolment tokens authenticate this route and nothing else.
            Access::Enrol => Ok(Some(authenticate_enrolment(&state, &headers).await?)),
            Access::Metrics => {
                check_metrics_token(&state, &headers)?;
                Ok(None)
            }
            _ => authenticate(&state, &headers).await,
        };
        let principal = match (route.access, principal) {
            (Access::Public, p) => p.ok().flatten(),
            (Access::Metrics, _) => None,
            (Access::Enrol, p) => p?,
            (Access::Agent, Ok(Some(p))) => {
                if !matches!(p, Principal::Agent { .. }) {
                    return Err(Error::Forbidden(
                        "this route is for agents; it takes an agent credential (ssw_agt_…)".into(),
                    ));
                }
                Some(p)
            }
            (Access::Role(required), Ok(Some(p))) => {
                match p.role() {
                    Some(role) if role >= required => {}
                    Some(role) => {
                        return Err(Error::Forbidden(format!(
                            "this requires the {required} role; you are {role}"
                        )));
                    }
                    None => {
                        return Err(Error::Forbidden(
                            "agent credentials only write time series".into(),
                        ));
                    }
                }
                Some(p)
            }
            (Access::TimeSeriesWrite, Ok(Some(p))) => {
                match &p {
                    Principal::Agent { .. } => {}
                    Principal::Token { role, .. } if *role >= TIME_SERIES_WRITER_ROLE => {}
                    Principal::Token { role, .. } => {
                        return Err(Error::Forbidden(format!(
                            "writing time series needs an agent credential or an API token \
                             with the {TIME_SERIES_WRITER_ROLE} role; this token is {role}"
                        )));
                    }
                    Principal::Enrolment { .. } => {
                        return Err(Error::Unauthorized(
                            "an enrolment token only enrols an agent".into(),
                        ));
                    }
                    Principal::User { .. } => {
                        return Err(Error::Forbidden(
                            "writing time series needs an agent credential or an API token \
                             in the Authorization header, not a session"
                                .into(),
                        ));
                    }
                }
                Some(p)
            }
            (Access::Role(_) | Access::TimeSeriesWrite | Access::Agent, Ok(None)) => {
                return Err(Error::Unauthenticated);
            }
            (Access::Role(_) | Access::TimeSeriesWrite | Access::Agent, Err(e)) => return Err(e),
        };
        // Held until the handler is done: past `timeseries.max_concurrent_writes` a write
        // gets 429 before its (large) body is buffered.
        let _write_admission = write::admit(&state, route.access)?;
        // A route's own (large) limit applies only once the caller may call it: a
        // stranger cannot make the server buffer a write endpoint's 25 MiB.
        let body = match (early_body, late_body) {
            (Some(b), _) => b,
            (None, Some((body, limit))) => read_body(body, limit(&state.config)).await?,
            (None, None) => unreachable!("every body is read early or late"),
        };
        if !is_safe(&method) {
            // Public routes carry no session authority; the login form checks its own token.
            let session_bound = principal
                .as_ref()
                .filter(|_| route.access != Access::Public);
            check_csrf(&state, &headers, session_bound, &body)?;
        }
        let ctx = Ctx {
            state: state.clone(),
            method: method.clone(),
            path: path.clone(),
            params,
            query,
            headers,
            body,
            remote,
            principal,
            route,
        };
        (route.handler)(ctx).await
    }
    .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(Error::Unauthenticated)
            if route.error_format == error::ErrorFormat::Html && method == Method::GET =>
        {
            ui::redirect_to_login(&path)
        }
        Err(e) => error::respond(e, route.error_format, &state),
    };
    security_headers(resp.headers_mut(), api, state.hsts, &state.csp);
    state
        .metrics
        .observe(&method, route.path, resp.status(), started.elapsed());
    resp
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Reads the body, refusing (413) as soon as it exceeds `limit`, chunked or not.
async fn read_body<S, B>(body: S, limit: usize) -> Result<Bytes, Error>
where
    S: Stream<Item = Result<B, warp::Error>> + Send,
    B: Buf,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk =
            chunk.map_err(|e| Error::BadRequest(format!("cannot read request body: {e}")))?;
        if buf.len() + chunk.remaining() > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            buf.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// InfluxDB 1.x clients may put credentials in the query string (`u`, `p`); ours must
/// never be in a URL, where proxies and access logs keep them.
fn refuse_credentials_in_url(query: &str) -> Result<(), Error> {
    // An empty `p=` (some clients always send it) carries no secret.
    if url::form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| (k == "p" || k == "token") && !v.is_empty())
    {
        return Err(Error::Unauthorized(
            "credentials in the URL are refused; send the token in the Authorization header \
             (\"Token <token>\", \"Bearer <token>\", or Basic with the token as password)"
                .into(),
        ));
    }
    Ok(())
}

/// The secret of an `Authorization` header: `Bearer <token>`, `Token <token>` (InfluxDB
/// 2 clients) or Basic with the token as password (InfluxDB 1.x clients; the user name
/// is ignored).
fn authorization_secret(value: &str) -> Result<SecretString, Error> {
    let malformed = || {
        Error::Unauthorized(
            "Authorization must be \"Bearer <token>\", \"Token <token>\" or Basic with the token as password"
                .into(),
        )
    };
    if let Some(t) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("Token "))
    {
        return Ok(SecretString::from(t.trim().to_owned()));
    }
    let encoded = value.strip_prefix("Basic ").ok_or_else(malformed)?;
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (_, password) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(SecretString::from(password.to_owned()))
}

/// Finds the caller from the `Authorization` header (API tokens, agent credentials) or
/// the session cookie. `Ok(None)` means no credentials were presented; bad credentials
/// are an error.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, Error> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let value = auth
            .to_str()
            .map_err(|_| Error::Unauthorized("malformed Authorization header".into()))?;
        let secret = authorization_secret(value)?;
        return authenticate_token(state, secret).await.map(Some);
    }
    let (cookie_name, _) = state.cookie_names();
    let Some(id) = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::read_cookie(h, cookie_name))
    else {
        return Ok(None);
    };
    let hash = session::hash_id(id);
    let Some(sess) = state.store.session(&hash).await? else {
        return Err(Error::Unauthenticated);
    };
    let settings = state.settings.get(&state.store).await?;
    let now = state.store.clock().now_ms();
    let idle = now - sess.last_seen_at > settings.session_idle_timeout().as_millis() as i64;
    let expired = now - sess.created_at > settings.session_absolute_timeout().as_millis() as i64;
    if idle || expired || sess.user.disabled {
        state.store.delete_session(&hash).await?;
        return Err(Error::Unauthenticated);
    }
    // Refresh at most every 30 s: idle timeouts are minutes, writes per request are not free.
    if now - sess.last_seen_at > 30_000 {
        state.store.touch_session(&hash).await?;
    }
    Ok(Some(Principal::User {
        user: sess.user.clone(),
        session: SessionRef {
            id: id.to_owned(),
            session: sess,
        },
    }))
}

/// An API token (acting with its role) or an agent credential (its agent must not be
/// revoked). Enrolment tokens authenticate nothing here.
async fn authenticate_token(state: &AppState, secret: SecretString) -> Result<Principal, Error> {
    let invalid = || Error::Unauthorized("invalid, expired or revoked token".into());
    let kind = token::parse(&secret)
        .filter(|k| matches!(k, TokenKind::Api | TokenKind::Agent))
        .ok_or_else(invalid)?;
    if kind == TokenKind::Agent {
        return authenticate_agent(state, secret).await;
    }
    let info = state
        .store
        .token_by_hash(&token::hash(secret.expose_secret()))
        .await?
        .ok_or_else(invalid)?;
    let now = state.store.clock().now_ms();
    if info.kind != kind || !info.is_active(now) {
        return Err(invalid());
    }
    // Never more than its creator may do now: capped by their role, refused while they
    // are disabled.
    let role = crate::admin::tokens::standing(&state.store, &info)
        .await?
        .cap(info.role.ok_or_else(invalid)?)
        .ok_or_else(|| Error::Unauthorized("token suspended: its creator is disabled".into()))?;
    if !state.store.use_token(&info).await? {
        return Err(invalid());
    }
    Ok(Principal::Token { token: info, role })
}

/// An agent credential. The agent is told plainly why it is refused (docs/agent-api.md):
/// `agent credential revoked` (the agent or its credential was revoked) or `agent
/// credential unknown` (never issued, or its agent was deleted with it), so it stops
/// instead of retrying.
async fn authenticate_agent(state: &AppState, secret: SecretString) -> Result<Principal, Error> {
    let unknown = || Error::Unauthorized("agent credential unknown".into());
    let revoked = || Error::Unauthorized("agent credential revoked".into());
    let info = state
        .store
        .token_by_hash(&token::hash(secret.expose_secret()))
        .await?
        .filter(|t| t.kind == TokenKind::Agent)
        .ok_or_else(unknown)?;
    let agent_id = info.agent_id.ok_or_else(unknown)?;
    let agent = state.store.agent(agent_id).await?.ok_or_else(unknown)?;
    if info.revoked_at.is_some() || agent.revoked_at.is_some() {
        return Err(revoked());
    }
    let now = state.store.clock().now_ms();
    if !info.is_active(now) || !state.store.use_token(&info).await? {
        return Err(revoked());
    }
    Ok(Principal::Agent {
        token: info,
        agent_id,
    })
}

/// The enrolment token of `POST /api/v1/agent/enrol`, which must be active. Each refusal
/// says why (no token, not an enrolment token, unknown, revoked, expired, used up); the
/// use itself is consumed by the handler, atomically with the check that one is left.
async fn authenticate_enrolment(state: &AppState, headers: &HeaderMap) -> Result<Principal, Error> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::Unauthorized(
                "enrolment needs an enrolment token: Authorization: Bearer ssw_enr_…".into(),
            )
        })?;
    let secret = authorization_secret(value)?;
    match token::parse(&secret) {
        Some(TokenKind::Enrol) => {}
        Some(other) => {
            return Err(Error::Unauthorized(format!(
                "this is an {} token, not an enrolment token (ssw_enr_…)",
                other.as_str()
            )));
        }
        None => {
            return Err(Error::Unauthorized(
                "malformed enrolment token (expected ssw_enr_…)".into(),
            ));
        }
    }
    let info = state
        .store
        .token_by_hash(&token::hash(secret.expose_secret()))
        .await?
        .filter(|t| t.kind == TokenKind::Enrol)
        .ok_or_else(|| Error::Unauthorized("unknown enrolment token".into()))?;
    enrolment_usable(&info, state.store.clock().now_ms())?;
    // Enrolling needs an administrator: the token's creator must still be one.
    if crate::admin::tokens::standing(&state.store, &info)
        .await?
        .cap(streamswarm_schema::Role::Admin)
        != Some(streamswarm_schema::Role::Admin)
    {
        return Err(Error::Unauthorized(
            "enrolment token suspended: its creator is disabled or no longer an administrator"
                .into(),
        ));
    }
    Ok(Principal::Enrolment { token: info })
}

/// `Access::Metrics`: with `server.metrics_token` set, the request must carry
/// `Authorization: Bearer <metrics_token>`. Compared in constant time (over SHA-256
/// digests, so the length does not show either).
fn check_metrics_token(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    let Some(expected) = &state.config.server.metrics_token else {
        return Ok(());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.expose_secret().as_bytes());
    if presented.is_empty() || !bool::from(a.ct_eq(&b)) {
        return Err(Error::Unauthorized(
            "/metrics needs Authorization: Bearer <server.metrics_token>".into(),
        ));
    }
    Ok(())
}

/// Why an enrolment token cannot enrol at `now`, if it cannot.
pub(crate) fn enrolment_usable(
    info: &crate::store::tokens::TokenInfo,
    now: i64,
) -> Result<(), Error> {
    if info.revoked_at.is_some() {
        return Err(Error::Unauthorized("enrolment token revoked".into()));
    }
    if info.expires_at.is_some_and(|t| t.0 <= now) {
        return Err(Error::Unauthorized("enrolment token expired".into()));
    }
    if info.uses_remaining.is_some_and(|n| n <= 0) {
        return Err(Error::Unauthorized("enrolment token used up".into()));
    }
    Ok(())
}

/// State-changing requests carried by a browser must come from our own pages: the
/// `Sec-Fetch-Site`/`Origin` headers must not name another site (with
/// `server.public_url` set, its origin is the only one; without it, the origin the
/// request's `Host` names is accepted too, as the server cannot know its name), and a session's
/// requests must carry its CSRF token (header `X-CSRF-Token` or form field
/// `csrf_token`). Token-authenticated API calls carry no ambient credentials and are
/// exempt from the token check.
fn check_csrf(
    state: &AppState,
    headers: &HeaderMap,
    principal: Option<&Principal>,
    body: &Bytes,
) -> Result<(), Error> {
    let forbidden = |why: &str| Error::Forbidden(format!("cross-site request refused: {why}"));
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(forbidden("Sec-Fetch-Site is not same-origin"));
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host_origin = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| {
                let scheme = if state.secure_cookies {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{h}")
            });
        // A Host header is the client's to choose: it names our origin only when no
        // public URL says which one is ours.
        let host_origin = host_origin.filter(|_| !state.public_url_set);
        if origin != state.public_origin && Some(origin) != host_origin.as_deref() {
            return Err(forbidden("Origin does not match this server"));
        }
    }
    let Some(sess) = principal.and_then(Principal::session) else {
        return Ok(());
    };
    let expected = session::csrf_token(&sess.id);
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form_field(headers, body, "csrf_token"));
    match presented {
        Some(t) if session::constant_time_eq(&t, &expected) => Ok(()),
        Some(_) => Err(Error::Forbidden(
            "CSRF token does not match this session; reload the page".into(),
        )),
        None => Err(Error::Forbidden(
            "missing CSRF token (X-CSRF-Token header or csrf_token field)".into(),
        )),
    }
}

fn form_field(headers: &HeaderMap, body: &Bytes, name: &str) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return None;
    }
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Headers on every response. `hsts`: `server.public_url` is https, so browsers are
/// told to use https only (a year, subdomains included).
/// The pages' Content-Security-Policy: everything from this origin only; images also
/// from the configured map tile server, when there is one.
pub fn content_security_policy(tile_origin: Option<&str>) -> String {
    let img = match tile_origin {
        Some(o) => format!("img-src 'self' data: {o}"),
        None => "img-src 'self' data:".to_owned(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; {img}; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

fn security_headers(h: &mut HeaderMap, api: bool, hsts: bool, csp: &HeaderValue) {
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if !api {
        h.insert("content-security-policy", csp.clone());
    }
}
