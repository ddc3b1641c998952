//! The probe interface and the one table of probes, keyed by test kind.
//!
//! A probe implements [`Probe`] for the typed parameters of its kind (generated from
//! `schema/kinds/<kind>.toml`) and is listed once in [`PROBES`]. Everything else — the
//! scheduler, `--check-test`, the fleet benchmark — reaches it through the erased
//! [`Registered`] entry, so adding a kind touches no `match` outside its own folder.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use streamswarm_schema::test_spec::{KindParams, TestKind, TestSpec};
use streamswarm_tsdb::Point;

use super::policy::TargetPolicy;
use super::{dns, host, http, ping, tcp, traceroute};

/// Every probe this agent has, one per kind. A kind missing here is refused by
/// [`probe_for`] with [`ProbeError::Unsupported`] (and not scheduled).
pub static PROBES: &[&dyn ErasedProbe] = &[
    &Registered(host::HostProbe),
    &Registered(ping::PingProbe),
    &Registered(dns::DnsProbe),
    &Registered(tcp::TcpProbe),
    &Registered(traceroute::TracerouteProbe),
    &Registered(http::HttpProbe),
];

/// The probe of `kind`, if this agent has one.
pub fn probe_for(kind: TestKind) -> Result<&'static dyn ErasedProbe, ProbeError> {
    PROBES
        .iter()
        .copied()
        .find(|p| p.kind() == kind)
        .ok_or(ProbeError::Unsupported(kind))
}

/// One kind of test, measured.
pub trait Probe: Send + Sync + 'static {
    /// The generated parameters of this kind; `KindParams::KIND` says which kind.
    type Params: KindParams;
    /// What a test keeps between runs (shared by its runs: interior mutability if it
    /// changes).
    type State: Send + Sync + 'static;

    /// Whether this agent can run the test, and the state its runs share.
    fn prepare(&self, spec: &TestSpec, params: &Self::Params) -> Result<Self::State, ProbeError>;

    /// The longest one run takes by its own parameters (resolution and every timeout);
    /// the scheduler adds its margin and cancels a run that exceeds the sum.
    fn natural_duration(&self, spec: &TestSpec, params: &Self::Params) -> Duration;

    /// One run → its points. Target failures are points with an `error` field (never
    /// invented values); `Err` only when the agent itself cannot measure.
    fn run(
        &self,
        ctx: RunContext<'_>,
        params: &Self::Params,
        state: &Self::State,
    ) -> impl Future<Output = Result<Vec<Point>, ProbeError>> + Send;

    /// The points of a run cancelled at `limit`, stamped `ctx.started_at`: the
    /// measurement's failed-run point with an `error` starting `timeout: `, or none
    /// when the measurement has no error field.
    fn timeout_points(
        &self,
        ctx: RunContext<'_>,
        params: &Self::Params,
        limit: Duration,
    ) -> Vec<Point>;
}

/// What a run knows about itself.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    pub agent_id: i64,
    pub test_id: i64,
    pub spec: &'a TestSpec,
    /// The outbound target policy: resolve targets only through
    /// [`super::policy::resolve`].
    pub policy: &'a TargetPolicy,
    /// Wall-clock time the run started (what a cancelled run's points are stamped with).
    pub started_at: SystemTime,
}

/// Why a probe could not run or produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "{0} tests are not supported by this agent version ({version}); the test is not scheduled",
        version = env!("CARGO_PKG_VERSION")
    )]
    Unsupported(TestKind),
    #[error("the parameters are not those of a {0} test")]
    ParamsMismatch(TestKind),
    /// The agent could not measure (no permission, a resource exhausted, …).
    #[error("{kind} probe: {source}")]
    Failed {
        kind: TestKind,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ProbeError {
    pub fn failed(
        kind: TestKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ProbeError::Failed {
            kind,
            source: source.into(),
        }
    }
}

/// What a test keeps between its runs, whatever its kind. Cheap to clone: the scheduler
/// hands a clone to every run.
#[derive(Clone)]
pub struct ProbeState(Arc<dyn Any + Send + Sync>);

impl fmt::Debug for ProbeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProbeState(..)")
    }
}

/// A boxed run, so probes of every kind fit one table.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Point>, ProbeError>> + Send + 'a>>;

/// A [`Probe`] with its types erased.
pub trait ErasedProbe: Send + Sync {
    fn kind(&self) -> TestKind;
    fn prepare(&self, spec: &TestSpec) -> Result<ProbeState, ProbeError>;
    fn natural_duration(&self, spec: &TestSpec) -> Result<Duration, ProbeError>;
    fn run<'a>(&'a self, ctx: RunContext<'a>, state: &'a ProbeState) -> RunFuture<'a>;
    fn timeout_points(&self, ctx: RunContext<'_>, limit: Duration) -> Vec<Point>;
}

/// A table entry: a probe behind [`ErasedProbe`].
pub struct Registered<P>(pub P);

fn params<P: Probe>(spec: &TestSpec) -> Result<&P::Params, ProbeError> {
    P::Params::of(&spec.params).ok_or(ProbeError::ParamsMismatch(P::Params::KIND))
}

impl<P: Probe> ErasedProbe for Registered<P> {
    fn kind(&self) -> TestKind {
        P::Params::KIND
    }

    fn prepare(&self, spec: &TestSpec) -> Result<ProbeState, ProbeError> {
        if spec.kind != self.kind() {
            return Err(ProbeError::ParamsMismatch(spec.kind));
        }
        let state = self.0.prepare(spec, params::<P>(spec)?)?;
        Ok(ProbeState(Arc::new(state)))
    }

    fn natural_duration(&self, spec: &TestSpec) -> Result<Duration, ProbeError> {
        Ok(self.0.natural_duration(spec, params::<P>(spec)?))
    }

    fn run<'a>(&'a self, ctx: RunContext<'a>, state: &'a ProbeState) -> RunFuture<'a> {
        Box::pin(async move {
            let params = params::<P>(ctx.spec)?;
            let state = state
                .0
                .downcast_ref::<P::State>()
                .ok_or(ProbeError::ParamsMismatch(ctx.spec.kind))?;
            self.0.run(ctx, params, state).await
        })
    }

    fn timeout_points(&self, ctx: RunContext<'_>, limit: Duration) -> Vec<Point> {
        match params::<P>(ctx.spec) {
            Ok(params) => self.0.timeout_points(ctx, params, limit),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_exactly_one_probe() {
        for kind in TestKind::ALL {
            let n = PROBES.iter().filter(|p| p.kind() == kind).count();
            assert_eq!(n, 1, "{kind} is registered {n} times");
            assert_eq!(probe_for(kind).map(|p| p.kind()).ok(), Some(kind));
        }
    }
}
