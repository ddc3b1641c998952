//! `GET /api/v1/tests/{id}/paths[?agent=<id>]`: a traceroute test's path as one agent
//! sees it — the current path with its hops enriched from the `[geoip]` databases (ASN,
//! organisation, country, city, position; absent when unknown or not configured) and
//! the latest run's per-hop statistics (`traceroute_hop` points of that run), the
//! distinct paths kept (`paths.keep`) and the path changes with their hop diffs, as the
//! path tracker (`crate::paths`) recorded them. Without `agent`, the first agent (by id)
//! with a recorded path.

use crate::error::{Error, Result};
use crate::geoip::HopInfo;
use crate::http::Ctx;
use crate::http::api::series::read_error;
use crate::http::routes::ok;
use crate::paths::diff;
use crate::store::paths::{PathChangeRecord, PathRecord};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use streamswarm_tsdb::query::{Query, RawQuery, Selector, TagFilter, TimeRange, Value};
use warp::reply::Response;

/// Most change events returned.
pub const CHANGES_SHOWN: i64 = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathsQuery {
    agent: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TestPaths {
    pub test_id: i64,
    /// The agent shown; absent when no agent has a recorded path for this test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<i64>,
    /// Agents with a recorded path for this test.
    pub agents: Vec<i64>,
    /// Which `[geoip]` databases are configured.
    pub geoip: GeoIpStatus,
    /// The newest run's path; absent before the first run is taken in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<CurrentPath>,
    /// The distinct paths kept, most recently seen first.
    pub history: Vec<PathRecord>,
    /// The newest path changes (at most 100), newest first.
    pub changes: Vec<PathChangeRecord>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct GeoIpStatus {
    pub asn: bool,
    pub city: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CurrentPath {
    pub hash: String,
    pub path: String,
    /// Unix ms of the newest run.
    pub at: i64,
    pub hops: Vec<HopView>,
}

/// One TTL of the current path.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HopView {
    pub ttl: u32,
    /// The addresses that answered (empty: `*`, nothing answered), each enriched.
    pub addresses: Vec<HopAddress>,
    /// The newest run's statistics at this TTL (`traceroute_hop`); absent when that run
    /// wrote no hop point for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<HopStats>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HopAddress {
    pub address: String,
    #[serde(flatten)]
    pub info: HopInfo,
}

/// A `traceroute_hop` point's fields, each absent when the point has none.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct HopStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_addresses: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_min_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_avg_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_max_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_stdev_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mpls: Option<String>,
}

const HOP_FIELDS: [&str; 12] = [
    "address",
    "other_addresses",
    "name",
    "sent",
    "received",
    "loss_percent",
    "rtt_min_ms",
    "rtt_avg_ms",
    "rtt_max_ms",
    "rtt_stdev_ms",
    "reply",
    "mpls",
];

impl HopStats {
    fn from_row(values: &[Option<Value>]) -> Self {
        let text = |i: usize| match values.get(i) {
            Some(Some(Value::String(s))) => Some(s.clone()),
            _ => None,
        };
        let int = |i: usize| match values.get(i) {
            Some(Some(Value::Integer(v))) => Some(*v),
            Some(Some(Value::Unsigned(v))) => i64::try_from(*v).ok(),
            _ => None,
        };
        let float = |i: usize| match values.get(i) {
            Some(Some(Value::Float(v))) => Some(*v),
            Some(Some(Value::Integer(v))) => Some(*v as f64),
            _ => None,
        };
        HopStats {
            address: text(0),
            other_addresses: text(1),
            name: text(2),
            sent: int(3),
            received: int(4),
            loss_percent: float(5),
            rtt_min_ms: float(6),
            rtt_avg_ms: float(7),
            rtt_max_ms: float(8),
            rtt_stdev_ms: float(9),
            reply: text(10),
            mpls: text(11),
        }
    }
}

/// Everything the API and the page show for one test and agent.
pub async fn load(ctx: &Ctx, test_id: i64, agent: Option<i64>) -> Result<TestPaths> {
    let state = &ctx.state;
    let store = &state.store;
    if store.test(test_id).await?.is_none() {
        return Err(Error::NotFound(format!("test {test_id}")));
    }
    let agents = store.path_agents(test_id).await?;
    let agent_id = agent.or_else(|| agents.first().copied());
    let mut out = TestPaths {
        test_id,
        agent_id,
        agents,
        geoip: GeoIpStatus {
            asn: state.geoip.has_asn(),
            city: state.geoip.has_city(),
        },
        current: None,
        history: vec![],
        changes: vec![],
    };
    let Some(agent_id) = agent_id else {
        return Ok(out);
    };
    out.history = store.paths_of(agent_id, test_id).await?;
    out.changes = store
        .path_changes_of(agent_id, test_id, CHANGES_SHOWN)
        .await?;
    if let Some(cur) = store.path_state(agent_id, test_id).await? {
        let first_ttl = store.test_first_ttl(test_id).await?;
        let stats = hop_stats(ctx, agent_id, test_id, cur.last_time_ns).await?;
        let hops = diff::parse(&cur.path)
            .into_iter()
            .enumerate()
            .map(|(i, hop)| {
                let ttl = first_ttl + i as u32;
                HopView {
                    ttl,
                    addresses: hop
                        .into_iter()
                        .map(|address| HopAddress {
                            info: address
                                .parse::<IpAddr>()
                                .map(|ip| state.geoip.lookup(ip))
                                .unwrap_or_default(),
                            address,
                        })
                        .collect(),
                    stats: stats.get(&ttl).map(|v| HopStats::from_row(v)),
                }
            })
            .collect();
        out.current = Some(CurrentPath {
            hash: cur.hash,
            path: cur.path,
            at: cur.last_time_ns.div_euclid(1_000_000),
            hops,
        });
    }
    Ok(out)
}

/// The `traceroute_hop` points of the run at `time_ns` (a run's hop points carry the
/// run's time), by TTL.
async fn hop_stats(
    ctx: &Ctx,
    agent_id: i64,
    test_id: i64,
    time_ns: i64,
) -> Result<BTreeMap<u32, Vec<Option<Value>>>> {
    let q = Query::Raw(RawQuery {
        selector: Selector {
            measurement: crate::paths::HOP_MEASUREMENT.into(),
            filters: vec![
                TagFilter::eq("agent", agent_id.to_string()),
                TagFilter::eq("test", test_id.to_string()),
            ],
            range: TimeRange {
                start_ns: time_ns,
                end_ns: time_ns.saturating_add(1),
            },
        },
        fields: HOP_FIELDS.iter().map(|f| f.to_string()).collect(),
        group_by_tags: vec!["hop".into()],
        limit: 1,
    });
    let series = ctx
        .state
        .timeseries
        .reader()
        .query(&q)
        .await
        .map_err(read_error)?;
    let mut out = BTreeMap::new();
    for s in series {
        let Some(ttl) = s.tags.get("hop").and_then(|h| h.parse::<u32>().ok()) else {
            continue;
        };
        // Columns in the order asked for.
        let idx: Vec<Option<usize>> = HOP_FIELDS
            .iter()
            .map(|f| s.columns.iter().position(|c| c == f))
            .collect();
        if let Some(row) = s.rows.into_iter().next() {
            let values = idx
                .iter()
                .map(|i| i.and_then(|i| row.values.get(i).cloned().flatten()))
                .collect();
            out.insert(ttl, values);
        }
    }
    Ok(out)
}

pub fn parse_agent(raw: Option<&str>) -> Result<Option<i64>> {
    raw.map(|a| {
        a.parse::<i64>().map_err(|_| {
            Error::Invalid(vec![streamswarm_schema::ValidationError::new(
                "agent",
                "must be an agent id (an integer)",
            )])
        })
    })
    .transpose()
}

pub async fn get(ctx: Ctx) -> Result<Response> {
    let id = ctx.id("id")?;
    let q: PathsQuery = ctx.query()?;
    let agent = parse_agent(q.agent.as_deref())?;
    ok(&load(&ctx, id, agent).await?)
}
