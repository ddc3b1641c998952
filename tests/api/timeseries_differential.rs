//! The differential test: one deterministic data set written into the embedded store
//! (over the real HTTP write endpoints, with an agent token) and into a real InfluxDB
//! 1.6.7 (through `Writer`), then the product's whole query set asked of both readers
//! (`EmbeddedStore` and `InfluxReader`); every answer must be identical (floats within
//! 1e-9 relative). The long-range queries are asked again after forcing the rollups, so
//! rollup-served answers are compared too.
//!
//! The data: `ping` and `host_net` (schema measurements) and a free-form measurement;
//! tag values with spaces, commas, equals signs, quotes and unicode; float, integer,
//! bool and string fields; 3 hours of points 1–10 s apart per series, each series on
//! its own millisecond offset (so merged series never tie on time, which would make
//! `first`/`last` and raw order depend on storage order in InfluxDB); lines shuffled
//! (out of order), and ~3 % of points written again later with other values (last
//! write wins).
//!
//! Without `STREAMSWARM_TEST_INFLUX_URL` the test prints `SKIPPED` and passes, except
//! under `CI=true`, where it fails.

use crate::helpers::{Backend, bare_client, spawn_app};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Url;
use std::time::Duration;
use streamswarm::timeseries::embedded::RetentionDays;
use streamswarm_tsdb::influxql::quote_ident;
use streamswarm_tsdb::line_protocol::{FieldValue, Point, Timestamp};
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, Reader, Selector, Series, TagFilter,
    TagValuesQuery, TimeRange, Value,
};
use streamswarm_tsdb::{InfluxConfig, InfluxReader, Writer};

pub(crate) const S: i64 = 1_000_000_000;
pub(crate) const MIN: i64 = 60 * S;
pub(crate) const HOUR: i64 = 60 * MIN;
pub(crate) const DAY: i64 = 24 * HOUR;

/// A random database on the InfluxDB, dropped when the value is.
pub(crate) struct InfluxDb {
    url: Url,
    pub(crate) name: String,
}

impl InfluxDb {
    pub(crate) async fn create(url: &Url) -> Self {
        let db = InfluxDb {
            url: url.clone(),
            name: format!("streamswarm_diff_{:016x}", rand::random::<u64>()),
        };
        db.admin(&format!("CREATE DATABASE {}", quote_ident(&db.name)))
            .await;
        db
    }

    fn config(&self) -> InfluxConfig {
        InfluxConfig {
            url: self.url.to_string(),
            database: Some(self.name.clone()),
            ..InfluxConfig::default()
        }
    }

    async fn admin(&self, statement: &str) {
        let resp = reqwest::Client::new()
            .post(self.url.join("query").unwrap())
            .form(&[("q", statement)])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{statement}: {}", resp.status());
    }
}

impl Drop for InfluxDb {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE {}", quote_ident(&self.name));
        let url = self.url.join("query").unwrap();
        // Drop cannot await: a blocking request on its own thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let _ = reqwest::Client::new()
                    .post(url)
                    .form(&[("q", statement.as_str())])
                    .send()
                    .await;
            });
        })
        .join();
    }
}

/// What the data set holds, for building queries.
pub(crate) struct Measurement {
    pub(crate) name: &'static str,
    /// Fields every aggregate applies to.
    pub(crate) numeric: Vec<&'static str>,
    /// Fields only count/first/last apply to (bool, string).
    pub(crate) other: Vec<&'static str>,
    /// Tag keys, and the values each takes.
    pub(crate) tags: Vec<(&'static str, Vec<&'static str>)>,
}

pub(crate) fn measurements() -> Vec<Measurement> {
    vec![
        Measurement {
            name: "ping",
            numeric: vec!["rtt_avg_ms", "sent", "loss_percent"],
            other: vec!["error"],
            tags: vec![
                (
                    "agent",
                    vec!["a b", "c,d", "e=f", "q\"uote", "ünï€ode", "it's"],
                ),
                ("target", vec!["x", "y z", "C:\\dir"]),
            ],
        },
        Measurement {
            name: "host_net",
            numeric: vec!["rx_bytes_per_s", "tx_bytes_per_s"],
            other: vec![],
            tags: vec![
                ("agent", vec!["h1", "h 2", "h,3"]),
                ("interface", vec!["eth0", "wl an", "if=x"]),
            ],
        },
        Measurement {
            name: "free form,meas",
            numeric: vec!["f", "i"],
            other: vec!["b", "s"],
            tags: vec![
                ("tag key", vec!["v 1", "v,2", "v=3"]),
                ("k=q", vec!["ö", "\"", "'"]),
            ],
        },
    ]
}

/// One series of the data set: tags (an absent tag is `None`) and its ms offset.
struct SeriesSpec {
    m: usize,
    tags: Vec<(&'static str, Option<&'static str>)>,
}

fn field_values(rng: &mut StdRng, m: &Measurement, t: i64) -> Vec<(&'static str, FieldValue)> {
    let mut out = Vec::new();
    match m.name {
        "ping" => {
            out.push((
                "rtt_avg_ms",
                FieldValue::Float(rng.random_range(0.1..250.0)),
            ));
            out.push(("sent", FieldValue::Integer(rng.random_range(0..20))));
            out.push((
                "loss_percent",
                FieldValue::Float(f64::from(rng.random_range(0..=20u32)) * 5.0),
            ));
            if rng.random_bool(0.1) {
                out.push((
                    "error",
                    FieldValue::String(format!("timeout \"{}\", ünï €", t % 7)),
                ));
            }
        }
        "host_net" => {
            out.push((
                "rx_bytes_per_s",
                FieldValue::Float(rng.random_range(-1e6..1e9)),
            ));
            if rng.random_bool(0.8) {
                out.push((
                    "tx_bytes_per_s",
                    FieldValue::Float(rng.random_range(0.0..1e3)),
                ));
            }
        }
        _ => {
            out.push(("f", FieldValue::Float(rng.random_range(-1e3..1e3))));
            out.push((
                "i",
                FieldValue::Integer(rng.random_range(-1_000_000..1_000_000)),
            ));
            out.push(("b", FieldValue::Bool(rng.random_bool(0.5))));
            out.push((
                "s",
                FieldValue::String(format!("s {} ,=\\ \"x\"", rng.random_range(0..50))),
            ));
        }
    }
    out
}

fn point(
    m: &Measurement,
    spec: &SeriesSpec,
    fields: Vec<(&'static str, FieldValue)>,
    t: i64,
) -> Point {
    let mut p = Point::new_dynamic(m.name);
    for (k, v) in &spec.tags {
        if let Some(v) = v {
            p = p.tag_dynamic(*k, *v);
        }
    }
    for (k, v) in fields {
        p = p.field_dynamic(k, v);
    }
    p.timestamp(Timestamp::from_nanos(t))
}

/// The data set as line-protocol lines: the first pass (shuffled) and the rewrites.
pub(crate) fn data_set(t0: i64) -> (Vec<String>, Vec<String>) {
    let mut rng = StdRng::seed_from_u64(0x5717_ea55);
    let ms = measurements();
    let mut specs = Vec::new();
    for (mi, m) in ms.iter().enumerate() {
        let (k1, v1) = &m.tags[0];
        let (k2, v2) = &m.tags[1];
        for (i, a) in v1.iter().enumerate() {
            // Each first-tag value with one or two second-tag values.
            specs.push(SeriesSpec {
                m: mi,
                tags: vec![(*k1, Some(*a)), (*k2, Some(v2[i % v2.len()]))],
            });
            if i % 2 == 0 {
                specs.push(SeriesSpec {
                    m: mi,
                    tags: vec![(*k1, Some(*a)), (*k2, Some(v2[(i + 1) % v2.len()]))],
                });
            }
        }
        // A series without the second tag.
        specs.push(SeriesSpec {
            m: mi,
            tags: vec![(*k1, Some("solo")), (*k2, None)],
        });
    }
    let encode = |p: &Point| {
        let mut buf = String::new();
        p.encode(&mut buf, streamswarm_tsdb::Precision::Nanoseconds)
            .unwrap();
        buf.trim_end().to_owned()
    };
    let mut first = Vec::new();
    let mut again = Vec::new();
    for (si, spec) in specs.iter().enumerate() {
        let m = &ms[spec.m];
        // Its own millisecond offset: merged series never tie on time.
        let mut t = t0 + (si as i64 + 1) * 1_000_000 + rng.random_range(0..10) * S;
        while t < t0 + 3 * HOUR {
            let fields = field_values(&mut rng, m, t);
            first.push(encode(&point(m, spec, fields, t)));
            if rng.random_bool(0.03) {
                let fields = field_values(&mut rng, m, t);
                again.push(encode(&point(m, spec, fields, t)));
            }
            t += rng.random_range(1..=10) * S;
        }
    }
    // Out of order.
    for i in (1..first.len()).rev() {
        let j = rng.random_range(0..=i);
        first.swap(i, j);
    }
    (first, again)
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(a), Value::Float(b)) => {
            a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
        }
        (a, b) => a == b,
    }
}

/// `None` when equal, otherwise where they first differ.
fn difference(ours: &[Series], influx: &[Series]) -> Option<String> {
    if ours.len() != influx.len() {
        let names = |s: &[Series]| s.iter().map(|s| s.tags.clone()).collect::<Vec<_>>();
        return Some(format!(
            "{} series vs {}: ours {:?}, influx {:?}",
            ours.len(),
            influx.len(),
            names(ours),
            names(influx)
        ));
    }
    for (o, i) in ours.iter().zip(influx) {
        if o.name != i.name || o.tags != i.tags || o.columns != i.columns {
            return Some(format!(
                "series head: ours {} {:?} {:?}, influx {} {:?} {:?}",
                o.name, o.tags, o.columns, i.name, i.tags, i.columns
            ));
        }
        if o.rows.len() != i.rows.len() {
            let times = |s: &Series| s.rows.iter().map(|r| r.time_ns).collect::<Vec<_>>();
            let (ot, it) = (times(o), times(i));
            let first = ot.iter().zip(&it).position(|(a, b)| a != b);
            return Some(format!(
                "{:?}: {} rows vs {}; first differing time at {first:?}: ours {:?} influx {:?}",
                o.tags,
                o.rows.len(),
                i.rows.len(),
                first.and_then(|f| ot.get(f)),
                first.and_then(|f| it.get(f)),
            ));
        }
        for (a, b) in o.rows.iter().zip(&i.rows) {
            let same = a.time_ns == b.time_ns
                && a.values.len() == b.values.len()
                && a.values.iter().zip(&b.values).all(|(x, y)| match (x, y) {
                    (Some(x), Some(y)) => close(x, y),
                    (None, None) => true,
                    _ => false,
                });
            if !same {
                return Some(format!("{:?}: ours {a:?}, influx {b:?}", o.tags));
            }
        }
    }
    None
}

/// The product's whole query set over the data set.
fn query_set(t0: i64) -> Vec<Query> {
    use Aggregate::*;
    let full = TimeRange {
        start_ns: t0,
        end_ns: t0 + 3 * HOUR,
    };
    // Unaligned at both ends.
    let part = TimeRange {
        start_ns: t0 + 17 * MIN + 13 * S + 500_000_000,
        end_ns: t0 + 2 * HOUR + 41 * MIN + 7 * S,
    };
    // After the data.
    let empty = TimeRange {
        start_ns: t0 + 5 * HOUR,
        end_ns: t0 + 6 * HOUR,
    };
    let all_aggs = [
        Mean,
        Min,
        Max,
        Count,
        Sum,
        First,
        Last,
        Percentile(50.0),
        Percentile(90.0),
        Percentile(99.0),
    ];
    let intervals = [None, Some(MIN), Some(5 * MIN), Some(HOUR), Some(7 * MIN)];
    let mut out = Vec::new();
    for m in measurements() {
        let (k1, v1) = (m.tags[0].0, &m.tags[0].1);
        let (k2, v2) = (m.tags[1].0, &m.tags[1].1);
        let filter_sets: Vec<Vec<TagFilter>> = vec![
            vec![],
            vec![TagFilter::eq(k1, v1[0])],
            vec![TagFilter {
                tag: k1.into(),
                values: vec![v1[1].into(), v1[2].into(), "absent value".into()],
            }],
            // Hostile: quotes, backslashes, regex and InfluxQL syntax.
            vec![TagFilter {
                tag: k1.into(),
                values: vec![
                    v1[v1.len() - 1].into(),
                    "' OR 1=1 --".into(),
                    "x\\' /.*/".into(),
                ],
            }],
            vec![
                TagFilter::eq(k1, v1[0]),
                TagFilter {
                    tag: k2.into(),
                    values: vec![v2[0].into(), v2[1].into()],
                },
            ],
            vec![TagFilter::eq(k2, "no such value")],
            vec![TagFilter::eq("no_such_tag", "x")],
        ];
        let fields_for = |a: Aggregate| -> Vec<(String, Aggregate)> {
            let mut f: Vec<(String, Aggregate)> =
                m.numeric.iter().map(|f| (f.to_string(), a)).collect();
            if matches!(a, Count | First | Last) {
                f.extend(m.other.iter().map(|f| (f.to_string(), a)));
            }
            f
        };
        let agg = |range, fields, interval: Option<i64>, tags: &[&str], filters, fill| {
            Query::Aggregate(AggregateQuery {
                selector: Selector {
                    measurement: m.name.into(),
                    filters,
                    range,
                },
                fields,
                interval: interval.map(|ns| Duration::from_nanos(ns as u64)),
                group_by_tags: tags.iter().map(|t| t.to_string()).collect(),
                fill,
            })
        };
        // Every aggregate × interval × fill over the full and the partial range.
        for range in [full, part] {
            for a in all_aggs {
                for interval in intervals {
                    for fill in [Fill::None, Fill::Null] {
                        out.push(agg(range, fields_for(a), interval, &[], vec![], fill));
                    }
                }
            }
        }
        // Grouping × filters for a few aggregates.
        let groups: [&[&str]; 3] = [&[], &[k1], &[k1, k2]];
        for range in [full, part, empty] {
            for a in [Mean, Count, Last, Percentile(90.0), Max] {
                for interval in [None, Some(5 * MIN), Some(7 * MIN)] {
                    for fill in [Fill::None, Fill::Null] {
                        for group in groups {
                            for filters in &filter_sets {
                                out.push(agg(
                                    range,
                                    fields_for(a),
                                    interval,
                                    group,
                                    filters.clone(),
                                    fill,
                                ));
                            }
                        }
                    }
                }
            }
        }
        // Mixed aggregates in one query.
        out.push(agg(
            full,
            vec![
                (m.numeric[0].into(), Mean),
                (m.numeric[0].into(), Percentile(99.0)),
                (m.numeric[1].into(), Count),
                (m.numeric[1].into(), Last),
            ],
            Some(HOUR),
            &[k1],
            vec![],
            Fill::Null,
        ));
        // Raw.
        let all_fields: Vec<String> = m
            .numeric
            .iter()
            .chain(&m.other)
            .map(|f| f.to_string())
            .collect();
        for range in [full, part, empty] {
            for group in groups {
                for limit in [1, 7, 500] {
                    for filters in &filter_sets {
                        out.push(Query::Raw(RawQuery {
                            selector: Selector {
                                measurement: m.name.into(),
                                filters: filters.clone(),
                                range,
                            },
                            fields: all_fields.clone(),
                            group_by_tags: group.iter().map(|t| t.to_string()).collect(),
                            limit,
                        }));
                    }
                }
            }
        }
        // Tag values.
        for tag in [k1, k2, "no_such_tag"] {
            for filters in &filter_sets {
                out.push(Query::TagValues(TagValuesQuery {
                    measurement: m.name.into(),
                    tag: tag.into(),
                    filters: filters.clone(),
                }));
            }
        }
    }
    out.push(Query::TagValues(TagValuesQuery {
        measurement: "no_such_measurement".into(),
        tag: "agent".into(),
        filters: vec![],
    }));
    out
}

/// Asks both readers every query; returns the differences found.
async fn compare(ours: &dyn Reader, influx: &InfluxReader, queries: &[Query]) -> Vec<String> {
    let mut diffs = Vec::new();
    for q in queries {
        let a = ours.query(q).await;
        let b = influx.run(q).await;
        match (a, b) {
            (Ok(a), Ok(b)) => {
                if let Some(d) = difference(&a, &b) {
                    diffs.push(format!("{q:?}\n  → {d}"));
                }
            }
            (a, b) => diffs.push(format!(
                "{q:?}\n  → ours {:?}, influx {:?}",
                a.map(|s| s.len()),
                b.map(|s| s.len())
            )),
        }
    }
    diffs
}

/// Writes the data set into the app's embedded store (over HTTP, with an operator
/// token: the first pass on the v2 endpoint, the rewrites on the v1 endpoint, 5,000
/// lines a request) and into a new database of the InfluxDB (through `Writer`).
pub(crate) async fn write_data_set(
    app: &crate::helpers::TestApp,
    url: &Url,
    first: &[String],
    again: &[String],
) -> InfluxDb {
    let agent = app.api_token(streamswarm_schema::Role::Operator).await;
    // The embedded store, over HTTP: the first pass on the v2 endpoint, the rewrites on
    // the v1 endpoint, 5,000 lines a request, in order.
    for (lines, path) in [
        (first, "/api/v2/write?org=o&bucket=b&precision=ns"),
        (again, "/write?db=d&precision=n"),
    ] {
        for chunk in lines.chunks(5000) {
            let resp = bare_client()
                .post(app.url(path))
                .header("authorization", format!("Token {agent}"))
                .body(chunk.join("\n"))
                .send()
                .await
                .unwrap();
            let status = resp.status();
            assert_eq!(status, 204, "{}", resp.text().await.unwrap());
        }
    }

    // InfluxDB, through `Writer`, the same lines in the same order.
    let db = InfluxDb::create(url).await;
    let writer = Writer::new(db.config()).unwrap();
    for lines in [first, again] {
        let body = lines.join("\n") + "\n";
        let delivery = writer
            .deliver(
                body.as_bytes(),
                tokio::time::Instant::now() + Duration::from_secs(60),
            )
            .await;
        assert_eq!(delivery.unsent_from, None, "{:?}", delivery.events);
        assert_eq!(delivery.lines_lost(), 0, "{:?}", delivery.events);
    }
    db
}

#[tokio::test]
async fn embedded_store_answers_as_influxdb_1_6_7() {
    let Some(url) = crate::helpers::influx_url("timeseries_differential") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    // Yesterday, so the server's own retention keeps it; aligned to the day.
    let t0 = (app.clock.now_ns() / DAY - 1) * DAY;
    let (first, again) = data_set(t0);

    let db = write_data_set(&app, &url, &first, &again).await;
    let influx = InfluxReader::new(db.config()).unwrap();
    let ours = app.state.timeseries.reader();

    let queries = query_set(t0);
    // Sanity: the data is there on both sides.
    let count = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: "ping".into(),
            filters: vec![],
            range: TimeRange {
                start_ns: t0,
                end_ns: t0 + 3 * HOUR,
            },
        },
        fields: vec![("rtt_avg_ms".into(), Aggregate::Count)],
        interval: None,
        group_by_tags: vec![],
        fill: Fill::None,
    });
    let n = influx.run(&count).await.unwrap();
    assert!(
        matches!(n[0].rows[0].values[0], Some(Value::Integer(c)) if c > 10_000),
        "{n:?}"
    );

    let mut diffs = compare(ours.as_ref(), &influx, &queries).await;

    // Rollups: force them synchronously, then ask again (long ranges now read them).
    let days = RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    app.timeseries()
        .roll_up(days.cutoffs(t0 + DAY))
        .await
        .unwrap();
    assert_eq!(app.timeseries().pending_rollups().await.unwrap(), 0);
    let before = app.timeseries().scan_counts();
    diffs.extend(
        compare(ours.as_ref(), &influx, &queries)
            .await
            .into_iter()
            .map(|d| format!("(after rollups) {d}")),
    );
    let after = app.timeseries().scan_counts();
    assert!(
        after.rollup_1m_rows > before.rollup_1m_rows
            && after.rollup_1h_rows > before.rollup_1h_rows,
        "the second pass read rollups: {before:?} → {after:?}"
    );

    let total = diffs.len();
    let shown: Vec<_> = diffs.into_iter().take(15).collect();
    assert!(
        total == 0,
        "{total} of {} answers differ; first ones:\n{}",
        2 * queries.len(),
        shown.join("\n")
    );
    app.stop().await;
}
