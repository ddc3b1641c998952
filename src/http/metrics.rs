//! The server's own Prometheus metrics: requests by route and status, latency
//! histogram by route, database pool gauges (sampled at scrape time), and what the
//! time-series write endpoints stored or refused.

use crate::store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;
use warp::http::{Method, StatusCode};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectionLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    backend: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool_size: Family<PoolLabels, Gauge>,
    pool_available: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolLabels, Gauge>,
    points_written: Counter,
    values_written: Counter,
    write_rejections: Family<RejectionLabels, Counter>,
    store: Store,
}

/// The method as a label: the methods of HTTP's registry the server can route, and
/// `other` for anything else, so made-up methods cannot create series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    pub fn new(store: Store) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 0.25 ms … ~4 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        let pool_size = Family::<PoolLabels, Gauge>::default();
        let pool_available = Family::<PoolLabels, Gauge>::default();
        let pool_max = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "streamswarm_http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "streamswarm_http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "streamswarm_db_pool_connections",
            "Database connections open",
            pool_size.clone(),
        );
        registry.register(
            "streamswarm_db_pool_idle_connections",
            "Database connections open and idle",
            pool_available.clone(),
        );
        registry.register(
            "streamswarm_db_pool_max_connections",
            "Database connection limit",
            pool_max.clone(),
        );
        let points_written = Counter::default();
        let values_written = Counter::default();
        let write_rejections = Family::<RejectionLabels, Counter>::default();
        registry.register(
            "streamswarm_timeseries_points_written",
            "Points stored by the time-series write endpoints",
            points_written.clone(),
        );
        registry.register(
            "streamswarm_timeseries_values_written",
            "Field values stored by the time-series write endpoints",
            values_written.clone(),
        );
        registry.register(
            "streamswarm_timeseries_write_rejections",
            "Time-series write batches refused whole, by reason",
            write_rejections.clone(),
        );
        Metrics {
            registry,
            points_written,
            values_written,
            write_rejections,
            requests,
            latency,
            pool_size,
            pool_available,
            pool_max,
            store,
        }
    }

    /// Counts one request. Every label comes from a closed set (the label set is
    /// what a scrape holds, so a label taken from the request as sent would let anyone
    /// grow it without end): the method via [`method_label`], the route's template
    /// (`unmatched` for no route) and the status the server itself answered.
    pub fn observe(
        &self,
        method: &Method,
        route: &'static str,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { method, route })
            .observe(elapsed.as_secs_f64());
    }

    pub fn timeseries_written(&self, points: usize, values: usize) {
        self.points_written.inc_by(points as u64);
        self.values_written.inc_by(values as u64);
    }

    /// A refused batch: `parse`, `type_conflict`, `too_large`, `bad_request`, `store`, or
    /// for agent credentials `agent_tag`, `test_tag`, `schema`, `series_cap`; `busy` (429).
    pub fn timeseries_rejected(&self, reason: &'static str) {
        self.write_rejections
            .get_or_create(&RejectionLabels { reason })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let s = self.store.pool_status();
        let labels = PoolLabels {
            backend: self.store.backend(),
        };
        self.pool_size.get_or_create(&labels).set(s.size as i64);
        self.pool_available
            .get_or_create(&labels)
            .set(s.available as i64);
        self.pool_max.get_or_create(&labels).set(s.max_size as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for m in ["XM1", "XM2", "TRACE", "CONNECT", "get"] {
            assert_eq!(
                method_label(&Method::from_bytes(m.as_bytes()).unwrap()),
                "other"
            );
        }
    }
}
