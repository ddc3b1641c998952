//! `spawn_app()`: a real server on a random port over a fresh database (a temporary
//! SQLite file, or a randomly named PostgreSQL database dropped afterwards), with one
//! user per role, a manual clock, and cookie-keeping HTTP clients.

// Shared by the test modules; not every module uses every helper.
#![allow(dead_code)]

use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex, OnceLock};
use streamswarm::admin::{self, Actor};
use streamswarm::clock::Clock;
use streamswarm::config::Config;
use streamswarm::http::AppState;
use streamswarm::store::tokens::TokenKind;
use streamswarm_schema::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `both_backends!(name, |app| async move { … });`
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite)
                    .await
                    .expect("sqlite is always available");
                $body.await;
                $app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) =
                    $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await
                else {
                    return;
                };
                $body.await;
                $app.stop().await;
            }
        }
    };
}

pub const PASSWORDS: [(Role, &str, &str); 3] = [
    (Role::Admin, "ada", "admin-password-1"),
    (Role::Operator, "otto", "operator-password-1"),
    (Role::Viewer, "vera", "viewer-password-1"),
];

pub fn username(role: Role) -> &'static str {
    PASSWORDS.iter().find(|(r, _, _)| *r == role).unwrap().1
}

pub fn password(role: Role) -> &'static str {
    PASSWORDS.iter().find(|(r, _, _)| *r == role).unwrap().2
}

pub struct TestApp {
    pub address: String,
    pub state: Arc<AppState>,
    pub clock: Clock,
    pub backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _db: DbGuard,
    /// Holds the embedded time-series store's file.
    _timeseries_dir: tempfile::TempDir,
}

/// A browser-like client signed in as one user.
pub struct Session {
    pub client: reqwest::Client,
    pub csrf: String,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where to create PostgreSQL test databases; the role needs CREATEDB.
pub fn pg_admin_url() -> String {
    std::env::var("STREAMSWARM_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://streamswarm:streamswarm@127.0.0.1:5432/postgres".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The real InfluxDB 1.6.7 `scripts/test.sh` started (`STREAMSWARM_TEST_INFLUX_URL`,
/// loopback only). Without it: `None` and a `SKIPPED` line naming `suite`, except under
/// CI, where it fails.
pub fn influx_url(suite: &str) -> Option<url::Url> {
    match std::env::var("STREAMSWARM_TEST_INFLUX_URL") {
        Ok(u) if !u.trim().is_empty() => {
            let url = url::Url::parse(u.trim()).expect("STREAMSWARM_TEST_INFLUX_URL is a URL");
            assert!(
                matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
                "STREAMSWARM_TEST_INFLUX_URL must point at a loopback address, got {url}"
            );
            Some(url)
        }
        _ if in_ci() => panic!(
            "{suite}: STREAMSWARM_TEST_INFLUX_URL is not set, and CI=true requires the real InfluxDB"
        ),
        _ => {
            eprintln!(
                "SKIPPED: {suite} influx test: STREAMSWARM_TEST_INFLUX_URL is not set (run scripts/test.sh)"
            );
            None
        }
    }
}

/// Drops the test's InfluxDB database when the test ends.
pub struct DropDb(pub url::Url, pub String);

impl DropDb {
    /// Creates a database named `{prefix}_{random}` on the InfluxDB at `url`; it is
    /// dropped when the value is.
    pub async fn create(url: &url::Url, prefix: &str) -> DropDb {
        let db = format!("{prefix}_{:08x}", rand::random::<u32>());
        let created = reqwest::Client::new()
            .post(url.join("query").unwrap())
            .form(&[("q", format!("CREATE DATABASE \"{db}\""))])
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success());
        DropDb(url.clone(), db)
    }
}

/// Now in milliseconds, on a whole minute.
pub fn minute_now_ms() -> i64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    now_ms - now_ms % 60_000
}
impl Drop for DropDb {
    fn drop(&mut self) {
        let (url, q) = (
            self.0.join("query").unwrap(),
            format!("DROP DATABASE \"{}\"", self.1),
        );
        let _ = std::thread::spawn(move || {
            let _ = reqwest::blocking::Client::new()
                .post(url)
                .form(&[("q", q)])
                .send();
        })
        .join();
    }
}

enum DbGuard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        if let DbGuard::Postgres { admin_url, name } = self {
            let (url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async context guarantees; use a private runtime.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join()
            .ok();
        }
    }
}

/// Creates a fresh database for `backend`. PostgreSQL missing: `None` locally (with a
/// message), a panic when `CI=true`.
pub async fn fresh_database(backend: Backend) -> Option<(String, DbGuardHandle)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("meta.db").display());
            Some((url, DbGuardHandle(DbGuard::Sqlite(dir))))
        }
        Backend::Postgres => {
            let admin_url = pg_admin_url();
            let conn = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await;
            let (client, connection) = match conn {
                Ok(c) => c,
                Err(e) => {
                    if in_ci() {
                        panic!(
                            "PostgreSQL is required when CI=true but {admin_url} is unreachable: {e}"
                        );
                    }
                    eprintln!(
                        "SKIPPED: PostgreSQL not reachable at {admin_url} ({e}); run scripts/test.sh to provision it"
                    );
                    return None;
                }
            };
            tokio::spawn(connection);
            let mut random = [0u8; 8];
            rand::fill(&mut random);
            let name = format!("ssw_test_{}", hex::encode(random));
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .expect("CREATE DATABASE");
            let mut url = url::Url::parse(&admin_url).unwrap();
            url.set_path(&name);
            Some((
                url.to_string(),
                DbGuardHandle(DbGuard::Postgres { admin_url, name }),
            ))
        }
    }
}

pub struct DbGuardHandle(DbGuard);

/// Logs of every app spawned in this process, to prove secrets never reach them.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

#[derive(Clone)]
struct BufferWriter;
impl std::io::Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        log_buffer().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logging() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        // `cookie_store` is the test clients' cookie jar, not the app: at debug it logs
        // every Set-Cookie it receives, session ids included, which would drown the
        // check that the app itself never logs one.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                "debug,hyper=info,hyper_util=info,tokio_postgres=info,cookie_store=info",
            )
            .with_writer(|| BufferWriter)
            .with_ansi(false)
            .try_init();
    });
}

pub fn test_config(database_url: &str) -> Config {
    let mut config = Config::load(None).expect("default configuration");
    config.server.bind = "127.0.0.1:0".parse().unwrap();
    config.database.url = SecretString::from(database_url.to_owned());
    config.database.pool_size = 4;
    config
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// As `spawn_app`, letting the test adjust the configuration first.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    init_logging();
    let (url, guard) = fresh_database(backend).await?;
    let mut config = test_config(&url);
    let timeseries_dir = tempfile::tempdir().unwrap();
    config.timeseries.embedded_path = timeseries_dir.path().join("timeseries.db");
    adjust(&mut config);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let clock = Clock::manual(now);
    let app = streamswarm::Application::build_with_clock(config, clock.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    for (role, name, pw) in PASSWORDS {
        admin::users::create(
            &state.store,
            &Actor::system(),
            name,
            SecretString::from(pw),
            role,
        )
        .await
        .unwrap();
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    Some(TestApp {
        address,
        state,
        clock,
        backend,
        shutdown: Some(tx),
        server: Some(server),
        _db: guard.0,
        _timeseries_dir: timeseries_dir,
    })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn store(&self) -> &streamswarm::store::Store {
        &self.state.store
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
    }

    /// Fetches the login form and returns its CSRF value (the client keeps the cookie).
    pub async fn login_form(&self, client: &reqwest::Client) -> String {
        let html = client
            .get(self.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        extract_input(&html, "csrf_token").expect("login form has a csrf_token")
    }

    /// Submits the login form; returns the response (303 on success).
    pub async fn post_login(
        &self,
        client: &reqwest::Client,
        user: &str,
        password: &str,
    ) -> reqwest::Response {
        let csrf = self.login_form(client).await;
        client
            .post(self.url("/login"))
            .form(&[
                ("username", user),
                ("password", password),
                ("csrf_token", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap()
    }

    /// Signs in as the seeded user of `role`.
    pub async fn login(&self, role: Role) -> Session {
        self.login_with_id(role).await.0
    }

    /// Creates an API token acting with `role`.
    pub async fn api_token(&self, role: Role) -> String {
        let created = admin::tokens::create(
            self.store(),
            &Actor::cli(),
            admin::tokens::TokenRequest {
                kind: TokenKind::Api,
                name: format!("{role} token"),
                role: Some(role),
                expires_in: None,
                uses: None,
            },
        )
        .await
        .unwrap();
        created.secret.expose_secret().to_owned()
    }
}

impl TestApp {
    /// Creates an agent named `name` and its credential; returns the agent's id and the
    /// credential's secret.
    pub async fn agent_token(&self, name: &str) -> (i64, String) {
        let agent = self
            .store()
            .create_agent(name, "agent.example.net")
            .await
            .unwrap();
        let generated = streamswarm::auth::token::generate(TokenKind::Agent);
        self.store()
            .insert_token(streamswarm::store::tokens::NewToken {
                kind: TokenKind::Agent,
                name,
                prefix: &generated.prefix,
                secret_hash: &generated.hash,
                role: None,
                agent_id: Some(agent.id),
                created_by: None,
                expires_at: None,
                uses: None,
            })
            .await
            .unwrap();
        (agent.id, generated.secret.expose_secret().to_owned())
    }

    /// The embedded time-series store.
    pub fn timeseries(&self) -> &streamswarm::timeseries::embedded::EmbeddedStore {
        self.state
            .timeseries
            .embedded()
            .expect("tests run on the embedded store")
    }
}

impl Session {
    pub fn get(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        self.client.get(app.url(path))
    }

    /// A state-changing JSON request carrying the CSRF token.
    pub fn send(
        &self,
        app: &TestApp,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, app.url(path))
            .header("x-csrf-token", &self.csrf)
    }
}

/// The `value` of `<input name="NAME" value="…">` in a page.
pub fn extract_input(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + 7;
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_owned())
}

/// As `both_backends!`, with the configuration adjusted before the app is built:
/// `both_backends_with!(name, |config| { … }, |app| async move { … });`
#[macro_export]
macro_rules! both_backends_with {
    ($name:ident, $adjust:expr, |$app:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Sqlite, $adjust)
                        .await
                        .expect("sqlite is always available");
                $body.await;
                $app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($app) =
                    $crate::helpers::spawn_app_with($crate::helpers::Backend::Postgres, $adjust)
                        .await
                else {
                    return;
                };
                $body.await;
                $app.stop().await;
            }
        }
    };
}

/// A client that keeps no cookies and follows no redirects: every credential it sends
/// is one the test set explicitly.
pub fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Every `Set-Cookie` header of a response, as sent.
pub fn set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// The whole `Set-Cookie` header that sets cookie `name`, if any.
pub fn set_cookie_header(resp: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(resp)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// The value `Set-Cookie` gives cookie `name`, if any.
pub fn set_cookie_value(resp: &reqwest::Response, name: &str) -> Option<String> {
    let header = set_cookie_header(resp, name)?;
    let first = header.split(';').next()?;
    Some(first[name.len() + 1..].to_owned())
}

/// The `Location` header, byte for byte (it may hold characters `to_str` refuses).
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

/// A response's status and JSON body (`Null` when the body is not JSON).
pub async fn status_json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

impl TestApp {
    /// Signs in as the seeded user of `role` and also returns the raw session id (the
    /// cookie value), for tests that replay or inspect it.
    pub async fn login_with_id(&self, role: Role) -> (Session, String) {
        self.sign_in(username(role), password(role)).await
    }

    /// Signs in as `user` with `password` (which must succeed); returns the session and
    /// its raw id.
    pub async fn sign_in(&self, user: &str, password: &str) -> (Session, String) {
        let client = client();
        let resp = self.post_login(&client, user, password).await;
        assert_eq!(resp.status(), 303, "login as {user} failed");
        let (cookie_name, _) = self.state.cookie_names();
        let id = set_cookie_value(&resp, cookie_name).expect("login sets the session cookie");
        let me: serde_json::Value = client
            .get(self.url("/api/v1/me"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let csrf = me["csrf_token"]
            .as_str()
            .expect("session has a CSRF token")
            .to_owned();
        (Session { client, csrf }, id)
    }

    /// A request carrying only the given session id as its cookie.
    pub fn with_session_id(
        &self,
        method: reqwest::Method,
        path: &str,
        id: &str,
    ) -> reqwest::RequestBuilder {
        let (cookie_name, _) = self.state.cookie_names();
        bare_client()
            .request(method, self.url(path))
            .header(reqwest::header::COOKIE, format!("{cookie_name}={id}"))
    }

    /// A request authenticated with an API token.
    pub fn with_token(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        bare_client()
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// The user id of a seeded or created user.
    pub async fn user_id(&self, name: &str) -> i64 {
        admin::users::find(self.store(), name).await.unwrap().id
    }
}

/// What `paths` (JSON API listings) answer to `token`, as one value: compared before and
/// after refused requests, it shows that nothing stored changed.
pub async fn listing(app: &TestApp, token: &str, paths: &[&str]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for path in paths {
        let (status, body) = status_json(
            app.with_token(reqwest::Method::GET, path, token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{path}");
        out.insert((*path).into(), body);
    }
    serde_json::Value::Object(out)
}
