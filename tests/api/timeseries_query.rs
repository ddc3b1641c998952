//! Queries through the `Reader` of the embedded store.
//!
//! - `answers_as_influxdb_1_6_7_did`: a small data set and, for every kind of query, the
//!   answer a real InfluxDB 1.6.7 gave to the same data (the InfluxQL it was asked is in
//!   each case's comment), translated to the model's conventions (columns named
//!   `{aggregate}_{field}`; without an interval a row's time is the range start).
//! - rollups: long ranges read 1-minute / 1-hour rollups (counted by `scan_counts`) and
//!   answer what a naive computation over the raw points, written out in this file,
//!   answers; dirty buckets are read raw until recomputed; late data corrects rollups.
//! - retention: old raw points go, rollups stay and still answer.
//! - end to end: written over HTTP, read through `AppState::timeseries.reader()`.

use crate::helpers::{Backend, bare_client, spawn_app};
use std::collections::BTreeMap;
use std::time::Duration;
use streamswarm::timeseries::embedded::ingest::Precision;
use streamswarm::timeseries::embedded::policy::WritePolicy;
use streamswarm::timeseries::embedded::rollup::Level;
use streamswarm::timeseries::embedded::{EmbeddedStore, RetentionDays};
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, Reader, Row, Selector, Series, TagFilter,
    TagValuesQuery, TimeRange, Value as V,
};

const S: i64 = 1_000_000_000;
const MIN: i64 = 60 * S;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

async fn open_store() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("ts.db"))
        .await
        .unwrap();
    (dir, store)
}

async fn write(store: &EmbeddedStore, lp: &str) {
    store
        .write(
            lp.to_owned().into(),
            false,
            usize::MAX,
            Precision::Nanoseconds,
            0,
            WritePolicy::FreeForm,
        )
        .await
        .unwrap();
}

fn selector(m: &str, start: i64, end: i64, filters: Vec<TagFilter>) -> Selector {
    Selector {
        measurement: m.into(),
        filters,
        range: TimeRange {
            start_ns: start,
            end_ns: end,
        },
    }
}

struct Agg {
    q: AggregateQuery,
}

fn agg(fields: &[(&str, Aggregate)], start: i64, end: i64) -> Agg {
    Agg {
        q: AggregateQuery {
            selector: selector("ping", start, end, vec![]),
            fields: fields.iter().map(|(f, a)| (f.to_string(), *a)).collect(),
            interval: None,
            group_by_tags: vec![],
            fill: Fill::None,
        },
    }
}

impl Agg {
    fn every(mut self, ns: i64) -> Self {
        self.q.interval = Some(Duration::from_nanos(ns as u64));
        self
    }
    fn by(mut self, tags: &[&str]) -> Self {
        self.q.group_by_tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }
    fn fill_null(mut self) -> Self {
        self.q.fill = Fill::Null;
        self
    }
    fn filter(mut self, tag: &str, values: &[&str]) -> Self {
        self.q.selector.filters.push(TagFilter {
            tag: tag.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        });
        self
    }
    fn on(mut self, measurement: &str) -> Self {
        self.q.selector.measurement = measurement.into();
        self
    }
    fn query(self) -> Query {
        Query::Aggregate(self.q)
    }
}

fn raw(fields: &[&str], start: i64, end: i64, group: &[&str], limit: usize) -> Query {
    Query::Raw(RawQuery {
        selector: selector("ping", start, end, vec![]),
        fields: fields.iter().map(|f| f.to_string()).collect(),
        group_by_tags: group.iter().map(|t| t.to_string()).collect(),
        limit,
    })
}

fn f(x: f64) -> Option<V> {
    Some(V::Float(x))
}
fn i(x: i64) -> Option<V> {
    Some(V::Integer(x))
}

/// An expected series: tags, column names, rows of (time in seconds, values).
fn series(tags: &[(&str, &str)], columns: &[&str], rows: Vec<(i64, Vec<Option<V>>)>) -> Series {
    Series {
        name: "ping".into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows: rows
            .into_iter()
            .map(|(t, values)| Row {
                time_ns: t * S,
                values,
            })
            .collect(),
    }
}

fn close(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Float(a), V::Float(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        (a, b) => a == b,
    }
}

/// Equal, floats within 1e-9 relative.
fn same(got: &[Series], want: &[Series]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.name == w.name
                && g.tags == w.tags
                && g.columns == w.columns
                && g.rows.len() == w.rows.len()
                && g.rows.iter().zip(&w.rows).all(|(a, b)| {
                    a.time_ns == b.time_ns
                        && a.values.len() == b.values.len()
                        && a.values.iter().zip(&b.values).all(|(x, y)| match (x, y) {
                            (Some(x), Some(y)) => close(x, y),
                            (None, None) => true,
                            _ => false,
                        })
                })
        })
}

/// The data set the InfluxDB 1.6.7 answers below were computed from (times in seconds).
const PINNED: &str = "\
ping,agent=a,target=x rtt=10,n=1i 60000000000
ping,agent=a,target=x rtt=30,n=3i 70000000000
ping,agent=a,target=x rtt=20,n=2i 130000000000
ping,agent=b,target=x rtt=5,n=5i 60000000000
ping,agent=b,target=y rtt=7,n=7i 250000000000
ping,agent=b,target=y rtt=7,n=8i 255000000000
ping,agent=c rtt=1,n=1i 61000000000
ping,agent=a,target=x loss=0.5 130000000000
ping,agent=d,target=z only=1 100000000000
";

#[tokio::test]
async fn answers_as_influxdb_1_6_7_did() {
    use Aggregate::*;
    let (_dir, store) = open_store().await;
    write(&store, PINNED).await;
    let (a, b) = (30 * S, 300 * S);
    let none: Vec<Series> = Vec::new();
    let cases: Vec<(&str, Query, Vec<Series>)> = vec![
        (
            "SELECT max(rtt) … WHERE time >= 30s AND time < 300s → 30 (at 70s: a lone selector's time)",
            agg(&[("rtt", Max)], a, b).query(),
            vec![series(&[], &["max_rtt"], vec![(30, vec![f(30.0)])])],
        ),
        (
            "SELECT max(rtt), min(rtt) → 30, 1 at the range start",
            agg(&[("rtt", Max), ("rtt", Min)], a, b).query(),
            vec![series(
                &[],
                &["max_rtt", "min_rtt"],
                vec![(30, vec![f(30.0), f(1.0)])],
            )],
        ),
        (
            "SELECT first(rtt) → 10: a=10 and b=5 tie at 60s, the greater value wins",
            agg(&[("rtt", First)], a, b).query(),
            vec![series(&[], &["first_rtt"], vec![(30, vec![f(10.0)])])],
        ),
        (
            "SELECT last(rtt) → 7 (255s)",
            agg(&[("rtt", Last)], a, b).query(),
            vec![series(&[], &["last_rtt"], vec![(30, vec![f(7.0)])])],
        ),
        (
            "SELECT last(rtt) WHERE time < 61s → 10: tie at 60s, the greater value wins",
            agg(&[("rtt", Last)], a, 61 * S).query(),
            vec![series(&[], &["last_rtt"], vec![(30, vec![f(10.0)])])],
        ),
        (
            "SELECT percentile(rtt, 50) → 7 (index floor(7·0.5+0.5)−1 = 3 of 1,5,7,7,10,20,30)",
            agg(&[("rtt", Percentile(50.0))], a, b).query(),
            vec![series(&[], &["p50_rtt"], vec![(30, vec![f(7.0)])])],
        ),
        (
            "SELECT percentile(rtt, 1) → no series (index −1)",
            agg(&[("rtt", Percentile(1.0))], a, b).query(),
            none.clone(),
        ),
        (
            "SELECT percentile(rtt, 1) GROUP BY time(60s) fill(null) → no series",
            agg(&[("rtt", Percentile(1.0))], a, b)
                .every(MIN)
                .fill_null()
                .query(),
            none.clone(),
        ),
        (
            "SELECT mean(rtt) → 11.428571428571429",
            agg(&[("rtt", Mean)], a, b).query(),
            vec![series(
                &[],
                &["mean_rtt"],
                vec![(30, vec![f(11.428571428571429)])],
            )],
        ),
        (
            "SELECT count(rtt) GROUP BY time(60s) fill(null) → empty buckets count 0",
            agg(&[("rtt", Count)], a, b).every(MIN).fill_null().query(),
            vec![series(
                &[],
                &["count_rtt"],
                vec![
                    (0, vec![i(0)]),
                    (60, vec![i(4)]),
                    (120, vec![i(1)]),
                    (180, vec![i(0)]),
                    (240, vec![i(2)]),
                ],
            )],
        ),
        (
            "SELECT count(rtt), mean(n), sum(n), max(n) GROUP BY time(60s) fill(none)",
            agg(&[("rtt", Count), ("n", Mean), ("n", Sum), ("n", Max)], a, b)
                .every(MIN)
                .query(),
            vec![series(
                &[],
                &["count_rtt", "mean_n", "sum_n", "max_n"],
                vec![
                    (60, vec![i(4), f(2.5), i(10), i(5)]),
                    (120, vec![i(1), f(2.0), i(2), i(2)]),
                    (240, vec![i(2), f(7.5), i(15), i(8)]),
                ],
            )],
        ),
        (
            "SELECT count(rtt), mean(rtt) GROUP BY time(60s) fill(null)",
            agg(&[("rtt", Count), ("rtt", Mean)], a, b)
                .every(MIN)
                .fill_null()
                .query(),
            vec![series(
                &[],
                &["count_rtt", "mean_rtt"],
                vec![
                    (0, vec![i(0), None]),
                    (60, vec![i(4), f(11.5)]),
                    (120, vec![i(1), f(20.0)]),
                    (180, vec![i(0), None]),
                    (240, vec![i(2), f(7.0)]),
                ],
            )],
        ),
        (
            "SELECT max(rtt) GROUP BY time(60s), agent fill(null) → d has no rtt: no series",
            agg(&[("rtt", Max)], a, b)
                .every(MIN)
                .by(&["agent"])
                .fill_null()
                .query(),
            vec![
                series(
                    &[("agent", "a")],
                    &["max_rtt"],
                    vec![
                        (0, vec![None]),
                        (60, vec![f(30.0)]),
                        (120, vec![f(20.0)]),
                        (180, vec![None]),
                        (240, vec![None]),
                    ],
                ),
                series(
                    &[("agent", "b")],
                    &["max_rtt"],
                    vec![
                        (0, vec![None]),
                        (60, vec![f(5.0)]),
                        (120, vec![None]),
                        (180, vec![None]),
                        (240, vec![f(7.0)]),
                    ],
                ),
                series(
                    &[("agent", "c")],
                    &["max_rtt"],
                    vec![
                        (0, vec![None]),
                        (60, vec![f(1.0)]),
                        (120, vec![None]),
                        (180, vec![None]),
                        (240, vec![None]),
                    ],
                ),
            ],
        ),
        (
            "SELECT max(rtt) GROUP BY target → a missing tag groups as \"\"",
            agg(&[("rtt", Max)], a, b).by(&["target"]).query(),
            vec![
                series(&[("target", "")], &["max_rtt"], vec![(30, vec![f(1.0)])]),
                series(&[("target", "x")], &["max_rtt"], vec![(30, vec![f(30.0)])]),
                series(&[("target", "y")], &["max_rtt"], vec![(30, vec![f(7.0)])]),
            ],
        ),
        (
            "SELECT mean(rtt) GROUP BY agent, target",
            agg(&[("rtt", Mean)], a, b).by(&["agent", "target"]).query(),
            vec![
                series(
                    &[("agent", "a"), ("target", "x")],
                    &["mean_rtt"],
                    vec![(30, vec![f(20.0)])],
                ),
                series(
                    &[("agent", "b"), ("target", "x")],
                    &["mean_rtt"],
                    vec![(30, vec![f(5.0)])],
                ),
                series(
                    &[("agent", "b"), ("target", "y")],
                    &["mean_rtt"],
                    vec![(30, vec![f(7.0)])],
                ),
                series(
                    &[("agent", "c"), ("target", "")],
                    &["mean_rtt"],
                    vec![(30, vec![f(1.0)])],
                ),
            ],
        ),
        (
            "SELECT max(rtt) WHERE (agent = 'a' OR agent = 'c') → 30",
            agg(&[("rtt", Max)], a, b)
                .filter("agent", &["a", "c"])
                .query(),
            vec![series(&[], &["max_rtt"], vec![(30, vec![f(30.0)])])],
        ),
        (
            "SELECT max(rtt) WHERE target = '' → only the series without target (c)",
            agg(&[("rtt", Max)], a, b).filter("target", &[""]).query(),
            vec![series(&[], &["max_rtt"], vec![(30, vec![f(1.0)])])],
        ),
        (
            "SELECT percentile(n, 99.9) GROUP BY time(60s) fill(none) → integers stay integers",
            agg(&[("n", Percentile(99.9))], a, b).every(MIN).query(),
            vec![series(
                &[],
                &["p99_9_n"],
                vec![(60, vec![i(5)]), (120, vec![i(2)]), (240, vec![i(8)])],
            )],
        ),
        (
            "SELECT mean(rtt), mean(loss) GROUP BY time(60s) fill(none)",
            agg(&[("rtt", Mean), ("loss", Mean)], a, b)
                .every(MIN)
                .query(),
            vec![series(
                &[],
                &["mean_rtt", "mean_loss"],
                vec![
                    (60, vec![f(11.5), None]),
                    (120, vec![f(20.0), f(0.5)]),
                    (240, vec![f(7.0), None]),
                ],
            )],
        ),
        (
            "SELECT mean(loss) GROUP BY time(60s) fill(null) → every bucket, though only one has data",
            agg(&[("loss", Mean)], a, b).every(MIN).fill_null().query(),
            vec![series(
                &[],
                &["mean_loss"],
                vec![
                    (0, vec![None]),
                    (60, vec![None]),
                    (120, vec![f(0.5)]),
                    (180, vec![None]),
                    (240, vec![None]),
                ],
            )],
        ),
        (
            "SELECT mean(loss) GROUP BY time(60s), agent fill(null) → only agent a",
            agg(&[("loss", Mean)], a, b)
                .every(MIN)
                .by(&["agent"])
                .fill_null()
                .query(),
            vec![series(
                &[("agent", "a")],
                &["mean_loss"],
                vec![
                    (0, vec![None]),
                    (60, vec![None]),
                    (120, vec![f(0.5)]),
                    (180, vec![None]),
                    (240, vec![None]),
                ],
            )],
        ),
        (
            "SELECT max(rtt) GROUP BY time(60s) fill(none)",
            agg(&[("rtt", Max)], a, b).every(MIN).query(),
            vec![series(
                &[],
                &["max_rtt"],
                vec![
                    (60, vec![f(30.0)]),
                    (120, vec![f(20.0)]),
                    (240, vec![f(7.0)]),
                ],
            )],
        ),
        (
            "SELECT mean(rtt) WHERE time >= 1000s AND time < 2000s → no series",
            agg(&[("rtt", Mean)], 1000 * S, 2000 * S).query(),
            none.clone(),
        ),
        (
            "SELECT count(rtt) … 1000s..2000s → no series (not a zero)",
            agg(&[("rtt", Count)], 1000 * S, 2000 * S).query(),
            none.clone(),
        ),
        (
            "SELECT count(rtt) … 1000s..2000s GROUP BY time(60s) fill(null) → no series",
            agg(&[("rtt", Count)], 1000 * S, 2000 * S)
                .every(MIN)
                .fill_null()
                .query(),
            none.clone(),
        ),
        (
            "SELECT count(rtt) … 200s..400s GROUP BY time(60s) fill(null) → buckets to the range end",
            agg(&[("rtt", Count)], 200 * S, 400 * S)
                .every(MIN)
                .fill_null()
                .query(),
            vec![series(
                &[],
                &["count_rtt"],
                vec![
                    (180, vec![i(0)]),
                    (240, vec![i(2)]),
                    (300, vec![i(0)]),
                    (360, vec![i(0)]),
                ],
            )],
        ),
        (
            "SELECT mean(nope) → no series",
            agg(&[("nope", Mean)], a, b).query(),
            none.clone(),
        ),
        (
            "SELECT rtt, n LIMIT 3 → merged series, ties at 60s in series order",
            raw(&["rtt", "n"], a, b, &[], 3),
            vec![series(
                &[],
                &["rtt", "n"],
                vec![
                    (60, vec![f(10.0), i(1)]),
                    (60, vec![f(5.0), i(5)]),
                    (61, vec![f(1.0), i(1)]),
                ],
            )],
        ),
        (
            "SELECT rtt",
            raw(&["rtt"], a, b, &[], 1000),
            vec![series(
                &[],
                &["rtt"],
                vec![
                    (60, vec![f(10.0)]),
                    (60, vec![f(5.0)]),
                    (61, vec![f(1.0)]),
                    (70, vec![f(30.0)]),
                    (130, vec![f(20.0)]),
                    (250, vec![f(7.0)]),
                    (255, vec![f(7.0)]),
                ],
            )],
        ),
        (
            "SELECT rtt GROUP BY agent LIMIT 2 → the limit counts per series",
            raw(&["rtt"], a, b, &["agent"], 2),
            vec![
                series(
                    &[("agent", "a")],
                    &["rtt"],
                    vec![(60, vec![f(10.0)]), (70, vec![f(30.0)])],
                ),
                series(
                    &[("agent", "b")],
                    &["rtt"],
                    vec![(60, vec![f(5.0)]), (250, vec![f(7.0)])],
                ),
                series(&[("agent", "c")], &["rtt"], vec![(61, vec![f(1.0)])]),
            ],
        ),
        (
            "SELECT rtt, loss → rows where either has a value",
            raw(&["rtt", "loss"], a, b, &[], 1000),
            vec![series(
                &[],
                &["rtt", "loss"],
                vec![
                    (60, vec![f(10.0), None]),
                    (60, vec![f(5.0), None]),
                    (61, vec![f(1.0), None]),
                    (70, vec![f(30.0), None]),
                    (130, vec![f(20.0), f(0.5)]),
                    (250, vec![f(7.0), None]),
                    (255, vec![f(7.0), None]),
                ],
            )],
        ),
        (
            "SELECT loss",
            raw(&["loss"], a, b, &[], 1000),
            vec![series(&[], &["loss"], vec![(130, vec![f(0.5)])])],
        ),
    ];
    let mut failures = Vec::new();
    for (what, q, want) in &cases {
        let got = store.query(q).await.unwrap();
        if !same(&got, want) {
            failures.push(format!("{what}\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    // SHOW TAG VALUES [WHERE …]: one series, one column named after the tag, time 0.
    let tag_values = |tag: &str, filters: Vec<TagFilter>| {
        Query::TagValues(TagValuesQuery {
            measurement: "ping".into(),
            tag: tag.into(),
            filters,
        })
    };
    let column = |tag: &str, values: &[&str]| Series {
        name: "ping".into(),
        tags: BTreeMap::new(),
        columns: vec![tag.into()],
        rows: values
            .iter()
            .map(|v| Row {
                time_ns: 0,
                values: vec![Some(V::String(v.to_string()))],
            })
            .collect(),
    };
    for (what, q, want) in [
        (
            "SHOW TAG VALUES WITH KEY = target",
            tag_values("target", vec![]),
            vec![column("target", &["x", "y", "z"])],
        ),
        (
            "SHOW TAG VALUES WITH KEY = agent WHERE target = 'y'",
            tag_values("agent", vec![TagFilter::eq("target", "y")]),
            vec![column("agent", &["b"])],
        ),
        (
            "SHOW TAG VALUES WITH KEY = agent WHERE target = 'nope'",
            tag_values("agent", vec![TagFilter::eq("target", "nope")]),
            vec![],
        ),
    ] {
        let got = store.query(&q).await.unwrap();
        if got != want {
            failures.push(format!("{what}\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} answers differ from InfluxDB 1.6.7's:\n{}",
        failures.len(),
        cases.len() + 3,
        failures.join("\n")
    );
}

#[tokio::test]
async fn invalid_queries_are_refused() {
    use Aggregate::*;
    let (_dir, store) = open_store().await;
    write(&store, "ping,agent=a rtt=1,s=\"x\",ok=true 1").await;
    let bad = [
        agg(&[], 0, 10).query(),
        agg(&[("rtt", Mean), ("rtt", Mean)], 0, 10).query(),
        agg(&[("rtt", Percentile(0.0))], 0, 10).query(),
        agg(&[("rtt", Percentile(101.0))], 0, 10).query(),
        agg(&[("rtt", Mean)], 10, 10).query(),
        agg(&[("rtt", Mean)], 0, 10).every(0).query(),
        agg(&[("s", Mean)], 0, 10).query(),
        agg(&[("s", Max)], 0, 10).query(),
        agg(&[("ok", Sum)], 0, 10).query(),
        agg(&[("ok", Percentile(50.0))], 0, 10).query(),
        agg(&[("rtt", Mean)], 0, 10).on("").query(),
        raw(&[], 0, 10, &[], 10),
        raw(&["rtt"], 0, 10, &[], 0),
        raw(&["rtt", "rtt"], 0, 10, &[], 10),
    ];
    for q in bad {
        let err = store.query(&q).await.unwrap_err();
        assert!(
            matches!(err, streamswarm_tsdb::query::ReadError::Invalid(_)),
            "{q:?}: {err}"
        );
    }
    // Selectors and counts take every type; min/max take booleans.
    let ok = agg(
        &[
            ("s", First),
            ("s", Last),
            ("s", Count),
            ("ok", Max),
            ("ok", Min),
            ("ok", Count),
        ],
        0,
        10,
    )
    .query();
    let got = store.query(&ok).await.unwrap();
    assert_eq!(
        got[0].rows[0].values,
        vec![
            Some(V::String("x".into())),
            Some(V::String("x".into())),
            i(1),
            Some(V::Bool(true)),
            Some(V::Bool(true)),
            i(1)
        ]
    );
}

/// One value of the rollup test data: (series tag, time, value).
type Point = (&'static str, i64, f64);

/// Naive reference: bucket by `width` from the epoch, over `[start, end)`, merged.
fn reference(
    points: &[Point],
    start: i64,
    end: i64,
    width: i64,
) -> BTreeMap<i64, (i64, f64, f64, f64)> {
    let mut out: BTreeMap<i64, (i64, f64, f64, f64)> = BTreeMap::new();
    for &(_, t, v) in points {
        if t < start || t >= end {
            continue;
        }
        let b = t.div_euclid(width) * width;
        let e = out
            .entry(b)
            .or_insert((0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        e.0 += 1;
        e.1 += v;
        e.2 = e.2.min(v);
        e.3 = e.3.max(v);
    }
    out
}

/// Two series of 1-second data over 3 hours starting at `T0`, with gaps.
const T0: i64 = 1_700_000_000 * S - (1_700_000_000 * S) % HOUR;

fn one_second_data() -> Vec<Point> {
    let mut points = Vec::new();
    for k in 0..3 * 3600i64 {
        if k % 97 == 13 {
            continue;
        }
        let t = T0 + k * S;
        points.push(("a", t, ((k * 37) % 101) as f64 / 4.0));
        if k % 3 == 0 {
            points.push(("b", t + 500_000_000, 100.0 + (k % 7) as f64));
        }
    }
    points
}

fn line_protocol(points: &[Point]) -> String {
    points
        .iter()
        .map(|(agent, t, v)| format!("load,agent={agent} v={v:?} {t}\n"))
        .collect()
}

/// Runs mean/min/max/count/sum over `[start, end)` every `width` and checks it against
/// the reference.
async fn check_against_reference(
    store: &EmbeddedStore,
    points: &[Point],
    start: i64,
    end: i64,
    width: i64,
) {
    use Aggregate::*;
    let q = agg(
        &[
            ("v", Mean),
            ("v", Min),
            ("v", Max),
            ("v", Count),
            ("v", Sum),
        ],
        start,
        end,
    )
    .on("load")
    .every(width)
    .query();
    let got = store.query(&q).await.unwrap();
    let want = reference(points, start, end, width);
    assert_eq!(got.len(), 1);
    let rows = &got[0].rows;
    assert_eq!(
        rows.len(),
        want.len(),
        "buckets of {width} over {start}..{end}"
    );
    for (row, (bucket, (count, sum, min, max))) in rows.iter().zip(&want) {
        let expect = [
            V::Float(sum / *count as f64),
            V::Float(*min),
            V::Float(*max),
            V::Integer(*count),
            V::Float(*sum),
        ];
        assert_eq!(row.time_ns, *bucket);
        for (g, w) in row.values.iter().zip(&expect) {
            assert!(
                close(g.as_ref().unwrap(), w),
                "bucket {bucket}: {g:?} vs {w:?}"
            );
        }
    }
}

#[tokio::test]
async fn long_ranges_read_rollups_and_answer_as_raw_points_do() {
    let (_dir, store) = open_store().await;
    let mut points = one_second_data();
    write(&store, &line_protocol(&points)).await;
    // Unaligned edges: 17 minutes and a few seconds in, to 2 h 41 min in.
    let (start, end) = (T0 + 17 * MIN + 3 * S, T0 + 2 * HOUR + 41 * MIN + 7 * S);

    // Before upkeep every bucket is dirty: answered from raw points.
    let before = store.scan_counts();
    check_against_reference(&store, &points, start, end, MIN).await;
    let used = store.scan_counts();
    assert_eq!(
        used.rollup_1m_rows, before.rollup_1m_rows,
        "dirty buckets are not read"
    );
    assert!(used.raw_values - before.raw_values > 8000);

    let pending = store.pending_rollups().await.unwrap();
    assert!(pending >= 180, "{pending} dirty buckets");
    let days = RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    store.roll_up(days.cutoffs(T0 + DAY)).await.unwrap();
    assert_eq!(store.pending_rollups().await.unwrap(), 0);
    // Per bucket one row for each of the 2 series and one for all series together.
    assert!(store.count_rollups(Level::Minute).await.unwrap() >= 180 * 3 - 6);
    assert_eq!(store.count_rollups(Level::Hour).await.unwrap(), 3 * 3);

    for (width, level) in [
        (MIN, Level::Minute),
        (5 * MIN, Level::Minute),
        (HOUR, Level::Hour),
        (2 * HOUR, Level::Hour),
    ] {
        let before = store.scan_counts();
        check_against_reference(&store, &points, start, end, width).await;
        let after = store.scan_counts();
        let raw = after.raw_values - before.raw_values;
        let (m, h) = (
            after.rollup_1m_rows - before.rollup_1m_rows,
            after.rollup_1h_rows - before.rollup_1h_rows,
        );
        // Only the partial minutes at the two edges are read raw (≤ 2 × 60 s × 2 series).
        assert!(raw <= 2 * 60 * 2, "width {width}: {raw} raw values read");
        match level {
            // The query spans every series: one all-series row per whole minute.
            Level::Minute => assert!(m > 140 && h == 0, "width {width}: {m} 1m rows, {h} 1h rows"),
            Level::Hour => assert!(
                h >= 1 && m > 0 && m < 200,
                "width {width}: {m} 1m rows, {h} 1h rows"
            ),
        }
    }
    // No interval: one bucket, also from rollups.
    {
        use Aggregate::*;
        let before = store.scan_counts();
        let got = store
            .query(
                &agg(&[("v", Count), ("v", Sum)], start, end)
                    .on("load")
                    .query(),
            )
            .await
            .unwrap();
        let want = reference(&points, start, end, i64::MAX / 4);
        let (count, sum, _, _) = want
            .values()
            .fold((0, 0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, 0.0, 0.0));
        assert_eq!(got[0].rows[0].time_ns, start);
        assert_eq!(got[0].rows[0].values[0], i(count));
        assert!(close(
            got[0].rows[0].values[1].as_ref().unwrap(),
            &V::Float(sum)
        ));
        assert!(store.scan_counts().rollup_1h_rows > before.rollup_1h_rows);
    }
    // Percentiles, first and last always read raw points.
    {
        let before = store.scan_counts();
        store
            .query(
                &agg(&[("v", Aggregate::Percentile(95.0))], start, end)
                    .on("load")
                    .every(HOUR)
                    .query(),
            )
            .await
            .unwrap();
        let after = store.scan_counts();
        assert!(after.raw_values - before.raw_values > 8000);
        assert_eq!(after.rollup_1h_rows, before.rollup_1h_rows);
    }

    // Late and duplicate points after the rollup: overwrite one value, add one, in a
    // rolled-up minute. Queries are right at once (that minute is read raw) and after
    // upkeep (the rollup is corrected, not double counted).
    let late_t = T0 + HOUR + 30 * MIN + 10 * S;
    let old = points
        .iter()
        .position(|p| p.0 == "a" && p.1 == late_t)
        .unwrap();
    points[old].2 = 1000.0;
    points.push(("a", late_t + 1, -5.0));
    write(
        &store,
        &format!(
            "load,agent=a v=1000 {late_t}\nload,agent=a v=-5 {}\n",
            late_t + 1
        ),
    )
    .await;
    for width in [MIN, HOUR] {
        check_against_reference(&store, &points, start, end, width).await;
    }
    store.roll_up(days.cutoffs(T0 + DAY)).await.unwrap();
    for width in [MIN, 10 * MIN, HOUR] {
        check_against_reference(&store, &points, start, end, width).await;
    }
}

/// An aggregate over every series of a measurement (no filter, no grouping: the
/// dashboard's fleet chart) reads the all-series rollups, one row per bucket, and answers
/// exactly what the same aggregate over the series one by one answers (integer values,
/// so sums are exact), also while some buckets await recomputation.
#[tokio::test]
async fn fleet_wide_aggregates_read_one_rollup_row_per_bucket() {
    let (_dir, store) = open_store().await;
    let agents: Vec<String> = (0..40).map(|a| format!("a{a}")).collect();
    let mut lp = String::new();
    for (n, a) in agents.iter().enumerate() {
        for k in 0..(3 * 360) {
            let v = (k * 7 + n as i64 * 13) % 101 - 20;
            lp.push_str(&format!("fleet,agent={a} v={v}i {}\n", T0 + k * 10 * S));
        }
    }
    write(&store, &lp).await;
    let days = RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    let names: Vec<&str> = agents.iter().map(String::as_str).collect();
    let fields = [
        ("v", Aggregate::Mean),
        ("v", Aggregate::Min),
        ("v", Aggregate::Max),
        ("v", Aggregate::Count),
        ("v", Aggregate::Sum),
    ];
    let (start, end) = (T0 + 17 * MIN + 3 * S, T0 + 2 * HOUR + 41 * MIN + 7 * S);
    // The same question, unfiltered (all-series rollups) and with a filter naming every
    // agent (the series one by one); both must read the same answer.
    let compare = |width: i64| {
        let store = &store;
        let names = &names;
        async move {
            let whole = agg(&fields, start, end).on("fleet").every(width).query();
            let each = agg(&fields, start, end)
                .on("fleet")
                .every(width)
                .filter("agent", names)
                .query();
            let before = store.scan_counts();
            let got = store.query(&whole).await.unwrap();
            let read = store.scan_counts();
            let want = store.query(&each).await.unwrap();
            assert!(!got.is_empty() && got[0].rows.len() > 1, "{got:?}");
            assert_eq!(got, want, "width {width}");
            (
                read.rollup_1m_rows - before.rollup_1m_rows,
                read.rollup_1h_rows - before.rollup_1h_rows,
                read.raw_values - before.raw_values,
            )
        }
    };
    // Before the upkeep everything is dirty: read raw, same answer.
    let (m, h, raw) = compare(MIN).await;
    assert_eq!((m, h), (0, 0));
    assert!(raw > 40 * 800, "{raw}");

    store.roll_up(days.cutoffs(T0 + DAY)).await.unwrap();
    assert_eq!(store.pending_rollups().await.unwrap(), 0);
    // 144 whole minutes: one row each, not 40; the partial edges read raw.
    let (m, h, raw) = compare(MIN).await;
    assert_eq!(h, 0);
    assert!((140..=150).contains(&m), "{m} 1-minute rows");
    assert!(raw <= 2 * 6 * 40, "{raw} raw values");
    let (m, h, _) = compare(HOUR).await;
    assert!(
        (1..=3).contains(&h) && m < 150,
        "{m} 1-minute rows, {h} 1-hour rows"
    );

    // A late point in an old minute: that minute, its all-series minute and hour are
    // stale until recomputed, and answered from the series meanwhile.
    write(
        &store,
        &format!("fleet,agent=a3 v=1000i {}\n", T0 + HOUR + 5 * MIN + 1),
    )
    .await;
    compare(MIN).await;
    compare(HOUR).await;
    store.roll_up(days.cutoffs(T0 + DAY)).await.unwrap();
    assert_eq!(store.pending_rollups().await.unwrap(), 0);
    let (m, _, _) = compare(MIN).await;
    assert!((140..=150).contains(&m), "{m} 1-minute rows");
    compare(HOUR).await;
}

/// A store written before the all-series rollups existed (format 0) gets them on open:
/// its buckets are marked, answered from the series until the upkeep has built them.
#[tokio::test]
async fn a_store_from_before_all_series_rollups_gets_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ts.db");
    let points = one_second_data();
    let days = RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    {
        let store = EmbeddedStore::open(&path).await.unwrap();
        write(&store, &line_protocol(&points)).await;
        store.roll_up(days.cutoffs(T0 + DAY)).await.unwrap();
    }
    // Make it the old format: no all-series rows or marks, user_version 0.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DELETE FROM rollup_1m WHERE series_id = 0; DELETE FROM rollup_1h WHERE series_id = 0;
             DELETE FROM rollup_dirty; PRAGMA user_version = 0;",
        )
        .unwrap();
    }
    let store = EmbeddedStore::open(&path).await.unwrap();
    assert!(store.pending_rollups().await.unwrap() >= 180);
    let (start, end) = (T0 + 17 * MIN + 3 * S, T0 + 2 * HOUR + 41 * MIN + 7 * S);
    check_against_reference(&store, &points, start, end, MIN).await;
    check_against_reference(&store, &points, start, end, HOUR).await;
    store.roll_up(days.cutoffs(T0 + DAY)).await.unwrap();
    assert_eq!(store.pending_rollups().await.unwrap(), 0);
    let before = store.scan_counts();
    check_against_reference(&store, &points, start, end, MIN).await;
    check_against_reference(&store, &points, start, end, HOUR).await;
    let read = store.scan_counts();
    assert!(
        read.rollup_1m_rows - before.rollup_1m_rows < 250,
        "{before:?} → {read:?}"
    );
    // Opening again changes nothing.
    drop(store);
    let store = EmbeddedStore::open(&path).await.unwrap();
    assert_eq!(store.pending_rollups().await.unwrap(), 0);
}

#[tokio::test]
async fn retention_deletes_old_raw_points_and_keeps_rollups() {
    let (_dir, store) = open_store().await;
    let points = one_second_data();
    write(&store, &line_protocol(&points)).await;
    // Recent data, which must survive.
    let now = T0 + 40 * DAY;
    write(&store, &format!("load,agent=a v=1 {}\n", now - HOUR)).await;
    let days = RetentionDays {
        raw: 30,
        rollup_1m: 90,
        rollup_1h: 730,
    };
    // The upkeep rolled the data up while it was recent (a bucket already past raw
    // retention is not recomputed: its raw points may be partly gone).
    store.roll_up(days.cutoffs(T0 + 4 * HOUR)).await.unwrap();
    let trimmed = store.maintain(now, days).await.unwrap();
    assert_eq!(trimmed.raw as usize, points.len());
    assert_eq!(trimmed.rollup_1m, 0);
    assert_eq!(store.count_points().await.unwrap(), 1);
    // The raw points are gone…
    let got = store
        .query(&raw(&["v"], T0, T0 + 3 * HOUR, &[], 10).to_owned_on("load"))
        .await
        .unwrap();
    assert!(got.is_empty(), "{got:?}");
    // …but hourly and minutely charts still draw from the rollups.
    let (start, end) = (T0, T0 + 3 * HOUR);
    check_against_reference(&store, &points, start, end, HOUR).await;
    check_against_reference(&store, &points, start, end, MIN).await;

    // 100 days on, the 1-minute rollups are gone too, the hourly ones stay.
    let trimmed = store.maintain(T0 + 100 * DAY, days).await.unwrap();
    assert!(trimmed.rollup_1m > 300, "{trimmed:?}");
    assert_eq!(trimmed.rollup_1h, 0);
    // Only the recent point's minute is left (its series' row and the all-series row).
    assert_eq!(store.count_rollups(Level::Minute).await.unwrap(), 2);
    check_against_reference(&store, &points, start, end, HOUR).await;
    // And after two years, nothing of it.
    store.maintain(T0 + 800 * DAY, days).await.unwrap();
    assert_eq!(store.count_rollups(Level::Hour).await.unwrap(), 0);
}

trait OnMeasurement {
    fn to_owned_on(self, m: &str) -> Query;
}

impl OnMeasurement for Query {
    fn to_owned_on(mut self, m: &str) -> Query {
        if let Query::Raw(r) = &mut self {
            r.selector.measurement = m.into();
        }
        self
    }
}

#[tokio::test]
async fn written_over_http_read_through_the_reader() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    // Free-form points (agent "e2e" is no agent id): an operator token, as importers write.
    let agent = app.api_token(streamswarm_schema::Role::Operator).await;
    // Recent data: the server's upkeep would delete anything past raw retention.
    let minute = app.clock.now_ms() / 60_000 * 60 - 120;
    let body = format!(
        "ping,agent=e2e,target=t rtt_avg_ms=12.5,loss_percent=0 {}\n\
         ping,agent=e2e,target=t rtt_avg_ms=17.5,loss_percent=50 {}\n",
        minute + 20,
        minute + 50
    );
    let resp = bare_client()
        .post(app.url("/api/v2/write?org=o&bucket=b&precision=s"))
        .header("authorization", format!("Token {agent}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let reader = app.state.timeseries.reader();
    let q = Query::Aggregate(AggregateQuery {
        selector: Selector {
            measurement: "ping".into(),
            filters: vec![TagFilter::eq("agent", "e2e")],
            range: TimeRange {
                start_ns: minute * S,
                end_ns: (minute + 120) * S,
            },
        },
        fields: vec![
            ("rtt_avg_ms".into(), Aggregate::Mean),
            ("loss_percent".into(), Aggregate::Max),
        ],
        interval: Some(Duration::from_secs(60)),
        group_by_tags: vec!["target".into()],
        fill: Fill::Null,
    });
    let got = reader.query(&q).await.unwrap();
    assert_eq!(
        got.len(),
        1,
        "{got:?} {}",
        app.timeseries().dump().await.unwrap()
    );
    assert_eq!(got[0].tags["target"], "t");
    assert_eq!(got[0].columns, ["mean_rtt_avg_ms", "max_loss_percent"]);
    // Both points fall in the first minute; the second is empty.
    assert_eq!(
        got[0].rows,
        vec![
            Row {
                time_ns: minute * S,
                values: vec![f(15.0), f(50.0)]
            },
            Row {
                time_ns: (minute + 60) * S,
                values: vec![None, None]
            }
        ]
    );
    // The server's own upkeep rolls the minute up (it runs every 5 s), after which the
    // same question is answered from the rollup.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while app.timeseries().pending_rollups().await.unwrap() > 0 {
        assert!(std::time::Instant::now() < deadline, "the upkeep never ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = app.timeseries().scan_counts();
    assert_eq!(reader.query(&q).await.unwrap(), got);
    let after = app.timeseries().scan_counts();
    assert!(after.rollup_1m_rows > before.rollup_1m_rows);
    assert_eq!(after.raw_values, before.raw_values);
    app.stop().await;
}
