//! Login and logout.
//!
//! The login form is protected by a double-submit cookie (it has no session yet): GET
//! sets a random `ssw_login_csrf` cookie and embeds the same value in the form, POST
//! requires them to match. Failures get one generic message whether the user or the
//! password was wrong, and an unknown user costs the same Argon2 work as a known one.
//!
//! Attempts pass `auth::throttle` first. A username no user can have is a failed login
//! like any other — audited (as the audit log bounds it) and counted; one that is also
//! unreadable (longer than 64 characters, or holding a NUL or another character no name
//! may hold, see `crate::names`) answers 400 naming the field instead of the generic 401.

use super::{html, redirect, safe_next};
use crate::auth::{password, session, throttle};
use crate::error::{Error, Result};
use crate::http::Ctx;
use crate::store::audit::{self, AuditRecord};
use crate::store::users::{MAX_USERNAME_CHARS, Username};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

const GENERIC_FAILURE: &str = "Invalid username or password.";

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
    next: Option<String>,
}

fn login_page(
    ctx: &Ctx,
    status: StatusCode,
    message: Option<&str>,
    username: &str,
    next: &str,
) -> Result<Response> {
    let token = session::new_id();
    let body = ctx.state.templates.render(
        "login",
        &json!({"csrf_token": token, "message": message, "username": username, "next": next}),
    )?;
    let mut r = html(status, body);
    let (_, csrf_cookie) = ctx.state.cookie_names();
    let cookie = session::set_cookie(csrf_cookie, &token, ctx.state.secure_cookies, Some(3600));
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie is ASCII"),
    );
    Ok(r)
}

pub async fn form(ctx: Ctx) -> Result<Response> {
    let q: NextQuery = ctx.query().unwrap_or(NextQuery { next: None });
    let next = safe_next(q.next.as_deref()).to_owned();
    if ctx.principal.is_some() {
        return Ok(redirect(&next));
    }
    login_page(&ctx, StatusCode::OK, None, "", &next)
}

pub async fn submit(ctx: Ctx) -> Result<Response> {
    // NUL passes the form reader here so that such a username is audited and counted.
    let f: LoginForm = ctx.form_allowing_nul()?;
    let next = safe_next(f.next.as_deref()).to_owned();
    let (session_cookie, csrf_cookie) = ctx.state.cookie_names();
    let cookie_header = ctx.header("cookie").unwrap_or("");
    let expected = session::read_cookie(cookie_header, csrf_cookie).unwrap_or("");
    if expected.is_empty() || !session::constant_time_eq(expected, &f.csrf_token) {
        return Err(Error::Forbidden(
            "the login form expired or was not sent by this site; reload it and try again".into(),
        ));
    }
    let store = &ctx.state.store;
    let settings = ctx.state.settings.get(store).await?;
    let source_ip = ctx.source_ip();
    let attempted = audit::fit(&f.username.trim().to_lowercase());
    if let Err(e) = throttle::check(store, &settings, &attempted, source_ip.as_deref()).await {
        let Error::TooManyRequests { retry_after, .. } = &e else {
            return Err(e);
        };
        let mut r = login_page(
            &ctx,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed sign-ins. Try again later."),
            &attempted,
            &next,
        )?;
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs().max(1)),
        );
        return Ok(r);
    }
    if let Some(message) = unreadable_username(&f.username) {
        audit_failure(&ctx, &attempted, json!({"reason": "unreadable username"})).await?;
        return login_page(
            &ctx,
            StatusCode::BAD_REQUEST,
            Some(&message),
            &attempted,
            &next,
        );
    }
    let credentials = match Username::parse(&f.username) {
        Ok(name) => store.user_credentials(&name).await?,
        Err(_) => None,
    };
    let (user, stored_hash) = match credentials {
        Some((u, h)) if !u.disabled => (Some(u), Some(h)),
        _ => (None, None),
    };
    let verdict = password::verify(SecretString::from(f.password.clone()), stored_hash).await;
    let (user, needs_rehash) = match (user, verdict) {
        (Some(u), password::Verdict::Valid { needs_rehash }) => (u, needs_rehash),
        _ => {
            audit_failure(&ctx, &attempted, json!({})).await?;
            return login_page(
                &ctx,
                StatusCode::UNAUTHORIZED,
                Some(GENERIC_FAILURE),
                &attempted,
                &next,
            );
        }
    };
    if needs_rehash {
        store
            .set_password_hash(
                user.id,
                &password::hash(SecretString::from(f.password)).await,
            )
            .await?;
    }
    // Rotate: whatever session the browser had ends; a fresh id is issued.
    if let Some(old) = session::read_cookie(cookie_header, session_cookie) {
        store.delete_session(&session::hash_id(old)).await?;
    }
    let id = session::new_id();
    store
        .create_session(
            &session::hash_id(&id),
            user.id,
            source_ip.as_deref(),
            ctx.header("user-agent"),
        )
        .await?;
    store.record_login(user.id).await?;
    store
        .audit(AuditRecord {
            actor: &format!("user:{}", user.username),
            action: "login.success",
            target: &user.username,
            source_ip: source_ip.as_deref(),
            details: json!({"rehashed": needs_rehash}),
        })
        .await?;
    let mut r = redirect(&next);
    let secure = ctx.state.secure_cookies;
    for c in [
        session::set_cookie(session_cookie, &id, secure, None),
        session::set_cookie(csrf_cookie, "", secure, Some(0)),
    ] {
        r.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&c).expect("cookie is ASCII"),
        );
    }
    Ok(r)
}

/// Why a submitted username cannot even be shown back as one, if so.
fn unreadable_username(raw: &str) -> Option<String> {
    let chars = raw.trim().chars().count();
    if chars > MAX_USERNAME_CHARS {
        return Some(format!(
            "username must be at most {MAX_USERNAME_CHARS} characters, got {chars}"
        ));
    }
    crate::names::forbidden_character(raw.trim()).map(|m| format!("username {m}"))
}

async fn audit_failure(ctx: &Ctx, attempted: &str, details: serde_json::Value) -> Result<()> {
    ctx.state
        .store
        .audit(AuditRecord {
            actor: "anonymous",
            action: "login.failure",
            target: attempted,
            source_ip: ctx.source_ip().as_deref(),
            details,
        })
        .await?;
    Ok(())
}

pub async fn confirm_logout(ctx: Ctx) -> Result<Response> {
    let csrf = ctx
        .principal()?
        .session()
        .map(|s| session::csrf_token(&s.id))
        .unwrap_or_default();
    Ok(html(
        StatusCode::OK,
        ctx.state
            .templates
            .render("logout", &json!({"csrf_token": csrf}))?,
    ))
}

pub async fn logout(ctx: Ctx) -> Result<Response> {
    let p = ctx.principal()?;
    if let Some(s) = p.session() {
        ctx.state.store.delete_session(&s.session.id_hash).await?;
        let actor = p.actor();
        ctx.state
            .store
            .audit(AuditRecord {
                actor: &actor,
                action: "logout",
                target: &actor,
                source_ip: ctx.source_ip().as_deref(),
                details: json!({}),
            })
            .await?;
    }
    let mut r = redirect("/login");
    let (session_cookie, _) = ctx.state.cookie_names();
    let c = session::set_cookie(session_cookie, "", ctx.state.secure_cookies, Some(0));
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&c).expect("cookie is ASCII"),
    );
    Ok(r)
}
