//! Building and running the server: `Application::build(config)` binds the listener and
//! opens the store; `run_until_stopped(shutdown)` serves until the shutdown future
//! completes, then lets in-flight requests finish and closes the pools.

use crate::clock::Clock;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::store::Store;
use anyhow::Context;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Clock::System).await
    }

    /// As `build`, with an injectable clock (tests move time with it).
    pub async fn build_with_clock(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let location = config.database_location();
        let store = Store::connect(&location, config.database.pool_size, clock)
            .await
            .context("opening the metadata store")?;
        let listener = TcpListener::bind(config.server.bind)
            .await
            .with_context(|| format!("cannot listen on {} (server.bind)", config.server.bind))?;
        let addr = listener.local_addr()?;
        let public_origin = match &config.server.public_url {
            Some(u) => url::Url::parse(u)?.origin().ascii_serialization(),
            None => format!("http://{addr}"),
        };
        crate::auth::password::warm_up().await;
        let state = Arc::new(AppState::new(store, config, public_origin));
        Ok(Application { listener, state })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// The URL users open.
    pub fn url(&self) -> String {
        self.state.public_origin.clone()
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        run(self.listener, self.state, shutdown).await
    }
}

/// Serves `state` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), backend = state.store.backend(), "serving");
    warp::serve(http::service(state.clone()))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    housekeeping.abort();
    state.store.close();
    tracing::info!("stopped");
}

/// Periodic cleanup that must not depend on anyone loading a page.
async fn housekeeping(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let Ok(settings) = state.settings.get(&state.store).await else {
            continue;
        };
        let idle = settings.session_idle_timeout().as_millis() as i64;
        let absolute = settings.session_absolute_timeout().as_millis() as i64;
        match state.store.purge_sessions(idle, absolute).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "expired sessions removed"),
            Err(e) => tracing::warn!(error = %e, "session cleanup failed"),
        }
    }
}

/// A future that completes on Ctrl-C or SIGTERM. The handlers are installed when this
/// function is called, not when the future is first polled, so a signal that arrives
/// right after startup is still a clean shutdown. Call it before announcing readiness.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}
