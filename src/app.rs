//! Building and running the server: `Application::build(config)` binds the listener and
//! opens the stores (metadata and time series); `run_until_stopped(shutdown)` serves and
//! runs the background upkeep until the shutdown future completes, then lets in-flight
//! requests finish, stops the upkeep and closes the pools.

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
        let timeseries = crate::timeseries::TimeSeries::open(&config).await?;
        let listener = TcpListener::bind(config.server.bind)
            .await
            .with_context(|| format!("cannot listen on {} (server.bind)", config.server.bind))?;
        let addr = listener.local_addr()?;
        let public_origin = match &config.server.public_url {
            Some(u) => url::Url::parse(u)?.origin().ascii_serialization(),
            None => format!("http://{addr}"),
        };
        crate::auth::password::warm_up().await;
        let state = Arc::new(AppState::new(store, timeseries, config, public_origin));
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
    let upkeep = tokio::spawn(timeseries_upkeep(state.clone()));
    let paths = tokio::spawn(crate::paths::track(state.clone()));
    // `[analytics] in_server` (and `up` unless --no-analytics): the analytics process
    // runs here; it gives its lease back when the server stops.
    let (analytics_stop, analytics_stopped) = tokio::sync::oneshot::channel::<()>();
    let analytics = state.config.analytics.in_server.then(|| {
        let process = crate::analytics::process::Analytics::new(
            state.store.clone(),
            state.timeseries.clone(),
            state.config.analytics.clone(),
        );
        tokio::spawn(process.run(async {
            let _ = analytics_stopped.await;
        }))
    });
    tracing::info!(addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), backend = state.store.backend(), "serving");
    if let Ok(addr) = listener.local_addr()
        && !addr.ip().is_loopback()
        && state.config.server.metrics_token.is_none()
    {
        tracing::warn!(
            addr = %addr,
            "/metrics is public on a non-loopback address (request counts, write volumes, pool state); set server.metrics_token to require a bearer token"
        );
    }
    warp::serve(http::service(state.clone()))
        .incoming(listener)
        .graceful(shutdown)
        .run()
        .await;
    housekeeping.abort();
    upkeep.abort();
    paths.abort();
    let _ = paths.await;
    let _ = analytics_stop.send(());
    if let Some(task) = analytics {
        // A cycle in progress finishes (its writes are whole); then the lease is freed.
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    // Wait for the upkeep task to be gone so no rollup transaction is cut mid-way by
    // the pools closing (an aborted task stops at its next await, between transactions).
    let _ = upkeep.await;
    state.store.close();
    state.timeseries.close();
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

/// Rollups every few seconds, retention every few minutes: the embedded store's upkeep
/// must not depend on anyone querying. The first retention pass comes one retention
/// period after start, not at start: a server in a restart loop does not rescan the
/// store each time, and a freshly started server (a test's) keeps what it is sent.
async fn timeseries_upkeep(state: Arc<AppState>) {
    use crate::timeseries::{RETENTION_EVERY_ROUNDS, ROLLUP_EVERY};
    let mut tick = tokio::time::interval(ROLLUP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u32 = 0;
    loop {
        tick.tick().await;
        round = round.wrapping_add(1);
        let with_retention = round.is_multiple_of(RETENTION_EVERY_ROUNDS);
        if let Err(e) = state
            .timeseries
            .maintain(&state.store, &state.settings, with_retention)
            .await
        {
            tracing::warn!(error = %e, "time-series upkeep failed; retrying");
        }
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a SIGTERM that arrives right after the server says
/// it is running (but before it awaits the signal) still stops it gracefully.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let int = async {
                match signals.0.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match signals.1.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = int => {},
                _ = term => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    }
}
