//! The agent's life: enrol once, then heartbeat, follow assignments, measure and
//! deliver until told to stop.
//!
//! - **Enrolment** happens when the state directory holds no identity and a token is
//!   given; without a token the agent refuses to start, naming `--token` /
//!   `server.enrol_token`.
//! - **Heartbeat** every `heartbeat_interval_seconds` of the server's latest answer,
//!   carrying host facts and the clock-offset estimate of the previous exchange. When
//!   the answer's `assignments_etag` differs from the one held, the assignments are
//!   fetched (`If-None-Match`), persisted and handed to the scheduler.
//! - **Outages** of the server change nothing: the persisted assignments keep running
//!   and points keep going to the spool. The outage is logged once, then every
//!   `server.outage_log_interval`. The first heartbeat that reaches the server again
//!   wakes delivery ([`Pipeline::store_reachable`]), so the spool drains at once.
//! - **Revocation** (401 on heartbeat, assignments or a write): one clear error, the
//!   scheduler and delivery stop, spooled data is kept, and the agent idles. Every
//!   `server.revoked_recheck_interval` it reloads `identity.json` (a re-enrolment may
//!   have replaced it) and tries a heartbeat; when that works it resumes. It never
//!   exits for this, so a service manager does not restart it in a loop.
//! - **Shutdown** (the `shutdown` future): stop scheduling, encode what the scheduler
//!   already produced, send what the store takes within [`FLUSH_DEADLINE`], sync the
//!   spool.

use crate::assignments::Assignments;
use crate::config::{AgentConfig, parse_server_url};
use crate::delivery::{DeliveryExit, PRECISION, Pipeline};
use crate::facts;
use crate::scheduler_seam::{
    Scheduler, SchedulerConfig, SchedulerStats, SpawnScheduler, default_spawner,
};
use crate::self_metrics::{Latest, SelfSample, serve_prometheus};
use crate::server::{AssignmentsAnswer, ServerClient, ServerError};
use crate::state::{Identity, StateDir, WriteTarget};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use streamswarm_tsdb::line_protocol::Point;
use streamswarm_tsdb::write::Writer;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long shutdown spends sending what is spooled before leaving it for next time.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// The message of a revoked agent, logged once per revocation.
pub const REVOKED_MESSAGE: &str = "agent credential revoked or agent deleted on the server; stopped measuring and writing; re-enrol with `streamswarm-agent enroll --server URL --token TOKEN`";

/// A failure that no retry fixes: the configuration or the enrolment must change.
/// The binary exits with status 78 (EX_CONFIG) for it, which the systemd unit does
/// not restart.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

/// Runs the agent with this build's scheduler until `shutdown` completes.
pub async fn run(config: AgentConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    run_with(config, default_spawner(), shutdown).await
}

/// Enrols with `server` using an enrolment token, stores the identity in `state`
/// (replacing an earlier one, and forgetting that agent's assignments) and returns it.
pub async fn enrol(
    server: &url::Url,
    token: &SecretString,
    state: &StateDir,
    timeout: Duration,
) -> Result<Identity, EnrolError> {
    let client = ServerClient::new(server.clone(), timeout).map_err(EnrolError::Fatal)?;
    let facts = tokio::task::spawn_blocking(|| facts::collect(None))
        .await
        .expect("facts do not panic");
    let answer = client
        .enrol(token, &facts::hostname(), &facts)
        .await
        .map_err(|e| match e {
            ServerError::Unavailable { .. } => EnrolError::Unavailable(e),
            ServerError::Unauthorized { message } => EnrolError::Fatal(format!(
                "the server refused the enrolment token: {message}; ask an admin for a new one (`streamswarm token create --kind enrol`)"
            )),
            other => EnrolError::Fatal(format!("enrolment failed: {other}")),
        })?;
    let identity = Identity {
        server_url: server.to_string(),
        agent_id: answer.agent_id,
        name: answer.name,
        credential: answer.credential,
        write: WriteTarget::new(answer.write),
    };
    // Refuse a write target this agent cannot use before storing anything.
    identity
        .write
        .influx_config(server, &identity.credential)
        .map_err(EnrolError::Fatal)?;
    if let Ok(Some(old)) = state.load_identity() {
        tracing::warn!(
            old_agent_id = old.agent_id,
            new_agent_id = identity.agent_id,
            "replacing the earlier identity"
        );
    }
    state
        .save_identity(&identity)
        .map_err(|e| EnrolError::Fatal(e.to_string()))?;
    let _ = std::fs::remove_file(state.path().join(crate::state::ASSIGNMENTS_FILE));
    tracing::info!(agent_id = identity.agent_id, name = %identity.name, "enrolled");
    Ok(identity)
}

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The server did not answer (or answered 5xx): worth trying again.
    #[error("{0}")]
    Unavailable(ServerError),
    #[error("{0}")]
    Fatal(String),
}

/// The identity in the state directory, or a new one from enrolment. Waits out a server
/// that is not reachable yet (first boot before the network), until `shutdown`.
async fn identity(
    config: &AgentConfig,
    state: &StateDir,
    shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
) -> anyhow::Result<Option<Identity>> {
    if let Some(identity) = state.load_identity()? {
        if config.server.enrol_token.is_some() {
            tracing::info!(
                agent_id = identity.agent_id,
                "already enrolled; the enrolment token is not used (`streamswarm-agent enroll` replaces the identity)"
            );
        }
        return Ok(Some(identity));
    }
    let (Some(server), Some(token)) = (config.server_url(), config.server.enrol_token.as_ref())
    else {
        return Err(Fatal(format!(
            "this agent is not enrolled ({} has no identity.json): give the server URL with --server (server.url) and an enrolment token with --token (server.enrol_token, STREAMSWARM_AGENT__SERVER__ENROL_TOKEN)",
            state.path().display()
        ))
        .into());
    };
    let mut wait = Duration::from_secs(1);
    let mut logged = false;
    loop {
        match enrol(&server, token, state, config.server.request_timeout).await {
            Ok(identity) => return Ok(Some(identity)),
            Err(EnrolError::Fatal(m)) => return Err(Fatal(m).into()),
            Err(EnrolError::Unavailable(e)) => {
                if !logged {
                    tracing::warn!(error = %e, "cannot reach the server to enrol; retrying");
                    logged = true;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.as_mut() => return Ok(None),
        }
        wait = (wait * 2).min(Duration::from_secs(60));
    }
}

/// The scheduler of the moment (none while revoked), with statistics that continue
/// across restarts.
struct SchedulerSlot {
    spawner: SpawnScheduler,
    config: SchedulerConfig,
    points: mpsc::Sender<Vec<Point>>,
    running: Option<Box<dyn Scheduler>>,
    probe_errors_before: u64,
}

impl SchedulerSlot {
    fn start(&mut self, tests: Option<&Assignments>) {
        if self.running.is_none() {
            let scheduler = (self.spawner)(self.config.clone(), self.points.clone());
            if let Some(a) = tests {
                scheduler.set_tests(a.runnable());
            }
            self.running = Some(scheduler);
        }
    }

    fn set_tests(&self, assignments: &Assignments) {
        if let Some(s) = &self.running {
            s.set_tests(assignments.runnable());
        }
    }

    async fn stop(&mut self) {
        if let Some(s) = self.running.take() {
            self.probe_errors_before += s.stats().probe_errors_total;
            s.shutdown().await;
        }
    }

    fn stats(&self) -> SchedulerStats {
        let now = self.running.as_ref().map(|s| s.stats()).unwrap_or_default();
        SchedulerStats {
            probe_errors_total: self.probe_errors_before + now.probe_errors_total,
            schedule_lag_max_ms: now.schedule_lag_max_ms,
        }
    }
}

struct Delivery {
    task: JoinHandle<DeliveryExit>,
    stop: watch::Sender<bool>,
}

fn start_delivery(pipeline: &Pipeline, writer: &Writer) -> Delivery {
    let (stop, stop_rx) = watch::channel(false);
    let pipeline = pipeline.clone();
    let writer = writer.clone();
    Delivery {
        task: tokio::spawn(async move { pipeline.deliver(writer, stop_rx).await }),
        stop,
    }
}

async fn stop_delivery(delivery: Option<Delivery>) {
    if let Some(d) = delivery {
        let _ = d.stop.send(true);
        let _ = d.task.await;
    }
}

fn writer_for(server: &url::Url, identity: &Identity) -> anyhow::Result<Writer> {
    let mut influx = identity
        .write
        .influx_config(server, &identity.credential)
        .map_err(Fatal)?;
    influx.precision = PRECISION;
    Writer::new(influx).map_err(|e| Fatal(format!("write target: {e}")).into())
}

enum Event {
    Shutdown,
    Heartbeat,
    SelfMetrics,
    SpoolSync,
    DeliveryEnded(DeliveryExit),
}

/// Runs the agent with the given scheduler until `shutdown` completes.
pub async fn run_with(
    config: AgentConfig,
    spawner: SpawnScheduler,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut shutdown = std::pin::pin!(shutdown);
    let state = StateDir::open(&config.state.dir)?;
    let Some(mut identity) = identity(&config, &state, &mut shutdown).await? else {
        return Ok(());
    };
    // The configured URL wins: a server may move without the agent re-enrolling.
    let server = match config.server_url() {
        Some(url) => url,
        None => parse_server_url(&identity.server_url)
            .map_err(|m| Fatal(format!("identity.json server_url {m}")))?,
    };
    let mut client =
        ServerClient::new(server.clone(), config.server.request_timeout).map_err(Fatal)?;
    let mut writer = writer_for(&server, &identity)?;
    let (pipeline, _) = Pipeline::open(config.spool_dir(), config.spool_config()?).await?;
    let target_policy = config.target_policy()?;
    let policy_report = target_policy.report();
    tracing::info!(
        agent_id = identity.agent_id,
        server = %server,
        write = ?identity.write,
        probes_deny = ?policy_report.deny,
        probes_allow = ?policy_report.allow,
        "agent starting"
    );

    let (points_tx, points_rx) = mpsc::channel::<Vec<Point>>(1024);
    let encoder = pipeline.spawn_encoder(points_rx);
    let mut held = state.load_assignments()?;
    let mut scheduler = SchedulerSlot {
        spawner,
        config: SchedulerConfig {
            agent_id: identity.agent_id,
            max_concurrent: config.probes.max_concurrent,
            probe_timeout_margin: config.probes.timeout_margin,
            target_policy: Arc::new(target_policy),
        },
        points: points_tx.clone(),
        running: None,
        probe_errors_before: 0,
    };
    scheduler.start(held.as_ref());
    let mut delivery = Some(start_delivery(&pipeline, &writer));

    let latest: Latest = Default::default();
    let (metrics_stop, mut metrics_stop_rx) = watch::channel(false);
    let prometheus = match config.prometheus_listen()? {
        Some(addr) => {
            let (bound, task) = serve_prometheus(addr, latest.clone(), async move {
                let _ = metrics_stop_rx.changed().await;
            })
            .await
            .map_err(|e| Fatal(format!("self_metrics.prometheus_listen {addr}: {e}")))?;
            tracing::info!(%bound, "serving Prometheus metrics at /metrics");
            Some(task)
        }
        None => None,
    };
    let mut self_tick = tokio::time::interval_at(
        Instant::now() + config.self_metrics.interval,
        config.self_metrics.interval,
    );
    self_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Under `interval:<d>` the spool syncs on its next append after `d`; this timer
    // bounds what a power cut can lose by `d` even when appends pause.
    let sync_every = match config.spool_config()?.fsync {
        crate::spool::FsyncPolicy::Interval(d) => Some(d),
        _ => None,
    };
    let mut sync_tick = tokio::time::interval(sync_every.unwrap_or(Duration::from_secs(3600)));
    sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut interval = Duration::from_secs(10);
    let mut next_heartbeat = Instant::now();
    let mut clock_offset: Option<f64> = None;
    let mut outage: Option<(Instant, Instant)> = None; // (since, last logged)
    let mut revoked = false;

    loop {
        let event = tokio::select! {
            _ = shutdown.as_mut() => Event::Shutdown,
            _ = tokio::time::sleep_until(next_heartbeat) => Event::Heartbeat,
            _ = self_tick.tick() => Event::SelfMetrics,
            _ = sync_tick.tick(), if sync_every.is_some() => Event::SpoolSync,
            exit = async {
                match delivery.as_mut() {
                    Some(d) => (&mut d.task).await.unwrap_or(DeliveryExit::Stopped),
                    None => std::future::pending().await,
                }
            } => Event::DeliveryEnded(exit),
        };
        match event {
            Event::Shutdown => break,
            Event::SpoolSync => {
                if let Err(e) = pipeline.sync().await {
                    tracing::error!(error = %e, "cannot sync the spool");
                }
            }
            Event::SelfMetrics => {
                let sample = SelfSample {
                    counters: pipeline.counters().snapshot(),
                    spool: pipeline.spool_stats().await,
                    scheduler: scheduler.stats(),
                    uptime: started.elapsed(),
                    clock_offset_ms: clock_offset,
                };
                *latest.write().unwrap_or_else(|e| e.into_inner()) = sample;
                if !revoked {
                    let points = sample.to_points(identity.agent_id, SystemTime::now());
                    let _ = points_tx.send(points).await;
                }
            }
            Event::DeliveryEnded(exit) => {
                delivery = None;
                if let DeliveryExit::Unauthorized { message } = exit {
                    tracing::error!(reason = %message, source = "write", "{REVOKED_MESSAGE}");
                    scheduler.stop().await;
                    revoked = true;
                    next_heartbeat = Instant::now() + config.server.revoked_recheck_interval;
                }
            }
            Event::Heartbeat => {
                if revoked {
                    // Someone may have re-enrolled this host meanwhile.
                    if let Ok(Some(fresh)) = state.load_identity()
                        && (fresh.agent_id != identity.agent_id
                            || fresh.credential.expose_secret()
                                != identity.credential.expose_secret())
                    {
                        tracing::info!(
                            agent_id = fresh.agent_id,
                            "using the new identity in identity.json"
                        );
                        writer = writer_for(&server, &fresh)?;
                        scheduler.config.agent_id = fresh.agent_id;
                        held = state.load_assignments()?;
                        identity = fresh;
                        client = ServerClient::new(server.clone(), config.server.request_timeout)
                            .map_err(Fatal)?;
                    }
                }
                // Read every time: the host name and addresses may change under a
                // running agent without changing its identity.
                let report = policy_report.clone();
                let (hostname, facts) = tokio::task::spawn_blocking(move || {
                    let mut facts = facts::collect(clock_offset);
                    facts.probe_policy = Some(report);
                    (facts::hostname(), facts)
                })
                .await
                .expect("facts do not panic");
                let result = match client
                    .heartbeat(&identity.credential, &hostname, &facts)
                    .await
                {
                    Ok(hb) => {
                        interval = Duration::from_secs(hb.heartbeat_interval_seconds);
                        clock_offset = Some(hb.clock_offset_ms);
                        let current = held.as_ref().map(|a| a.etag.as_str());
                        if hb.assignments_etag.is_some()
                            && hb.assignments_etag.as_deref() != current
                        {
                            match client.assignments(&identity.credential, current).await {
                                Ok(AssignmentsAnswer::Changed(a)) => {
                                    let to_save = a.clone();
                                    let state = state.clone();
                                    if let Err(e) = tokio::task::spawn_blocking(move || {
                                        state.save_assignments(&to_save)
                                    })
                                    .await
                                    .expect("saving does not panic")
                                    {
                                        tracing::error!(error = %e, "cannot persist the assignments; running them anyway");
                                    }
                                    tracing::info!(tests = a.tests.len(), etag = %a.etag, "new assignments");
                                    scheduler.set_tests(&a);
                                    held = Some(a);
                                    Ok(())
                                }
                                Ok(AssignmentsAnswer::NotModified) => Ok(()),
                                Err(e) => Err(e),
                            }
                        } else {
                            Ok(())
                        }
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => {
                        if let Some((since, _)) = outage.take() {
                            tracing::info!(down_for = ?since.elapsed(), "the server is reachable again");
                            // Delivery may be waiting out a long backoff for the same
                            // outage; its backlog goes now, not minutes later.
                            pipeline.store_reachable();
                        }
                        if revoked {
                            tracing::info!(
                                "the server accepts the credential again; resuming measuring and writing"
                            );
                            revoked = false;
                        }
                        if !revoked && delivery.is_none() {
                            scheduler.start(held.as_ref());
                            delivery = Some(start_delivery(&pipeline, &writer));
                        }
                        next_heartbeat = Instant::now() + interval;
                    }
                    Err(ServerError::Unauthorized { message }) => {
                        if !revoked {
                            tracing::error!(reason = %message, source = "server", "{REVOKED_MESSAGE}");
                            scheduler.stop().await;
                            stop_delivery(delivery.take()).await;
                            revoked = true;
                        } else {
                            tracing::debug!(reason = %message, "credential still refused");
                        }
                        next_heartbeat = Instant::now() + config.server.revoked_recheck_interval;
                    }
                    Err(e) => {
                        let now = Instant::now();
                        match &mut outage {
                            None => {
                                tracing::warn!(error = %e, "cannot reach the server; the last assignments keep running and points stay spooled");
                                outage = Some((now, now));
                            }
                            Some((since, logged)) => {
                                if now.duration_since(*logged) >= config.server.outage_log_interval
                                {
                                    tracing::warn!(error = %e, down_for = ?since.elapsed(), "the server is still unreachable");
                                    *logged = now;
                                }
                            }
                        }
                        let wait = match &e {
                            ServerError::Unavailable {
                                retry_after: Some(after),
                                ..
                            } => (*after).max(interval),
                            _ => interval,
                        };
                        next_heartbeat = if revoked {
                            now + config.server.revoked_recheck_interval
                        } else {
                            now + wait
                        };
                    }
                }
            }
        }
    }

    tracing::info!("stopping: no new runs; sending what the store takes");
    scheduler.stop().await;
    stop_delivery(delivery.take()).await;
    drop(scheduler);
    drop(points_tx);
    // The encoder ends when every sender is gone; a scheduler that kept one must not
    // hold shutdown forever.
    let encoder_abort = encoder.abort_handle();
    if tokio::time::timeout(FLUSH_DEADLINE, encoder).await.is_err() {
        tracing::warn!("the scheduler still holds its points sender; not waiting for it");
        encoder_abort.abort();
    }
    if !revoked {
        pipeline
            .flush(&writer, Instant::now() + FLUSH_DEADLINE)
            .await;
    }
    if let Err(e) = pipeline.sync().await {
        tracing::error!(error = %e, "cannot sync the spool at shutdown");
    }
    let _ = metrics_stop.send(true);
    if let Some(task) = prometheus {
        let _ = task.await;
    }
    tracing::info!("stopped");
    Ok(())
}
