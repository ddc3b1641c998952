//! Every query kind against the REAL InfluxDB 1.6.7, on data written by our writer, with
//! the expected answers computed here from the same samples — independently of InfluxDB
//! and of the renderer.

use crate::require_influx;
use crate::support::TestDb;
use std::collections::BTreeMap;
use std::time::Duration;
use streamswarm_schema::measurements::ping;
use streamswarm_tsdb::query::{
    Aggregate, AggregateQuery, Fill, Query, RawQuery, ReadError, Reader, Row, Selector, Series,
    TagFilter, TagValuesQuery, TimeRange, Value,
};
use streamswarm_tsdb::{Point, Timestamp};

const S: i64 = 1_000_000_000;
/// Deliberately not aligned to a minute, so buckets start before the range does.
const T0: i64 = 1_700_000_017 * S;

const AGENTS: [&str; 3] = ["a", "b", "c"];
const TARGETS: [&str; 2] = ["x", "y"];

#[derive(Debug, Clone)]
struct Sample {
    agent: &'static str,
    target: &'static str,
    time: i64,
    rtt: Option<f64>,
    sent: i64,
    error: Option<String>,
}

/// The data set: 3 agents × 2 targets, a point every 7 s for ~5 minutes, with gaps
/// (agent b → x misses runs, leaving empty buckets) and failed runs without `rtt`.
fn samples() -> Vec<Sample> {
    let mut out = Vec::new();
    for (a, agent) in AGENTS.iter().enumerate() {
        for (t, target) in TARGETS.iter().enumerate() {
            for i in 0..45i64 {
                if *agent == "b" && *target == "x" && (2..=4).contains(&(i % 6)) {
                    continue;
                }
                let failed = (i + a as i64) % 9 == 6;
                out.push(Sample {
                    agent,
                    target,
                    time: T0 + i * 7 * S + a as i64 * S + t as i64 * S / 2,
                    // Multiples of 1/4: sums are exact, whatever the order.
                    rtt: (!failed).then(|| {
                        ((i * 37 + a as i64 * 11 + t as i64 * 5) % 97) as f64 * 0.25 + 1.0
                    }),
                    sent: (i * 3 + a as i64) % 5 + 1,
                    error: failed.then(|| format!("timeout after {i}s")),
                });
            }
        }
    }
    out
}

async fn load(db: &TestDb) -> Vec<Sample> {
    let writer = db.writer();
    let mut lines = Vec::new();
    let samples = samples();
    for s in &samples {
        let point = Point::new(ping::MEASUREMENT)
            .tag(ping::tags::AGENT, s.agent)
            .tag(ping::tags::TEST, "1")
            .tag(ping::tags::TARGET, s.target)
            .field(ping::fields::SENT, s.sent)
            .field(ping::fields::RECEIVED, s.sent)
            .field(ping::fields::DUPLICATES, 0i64)
            .field_opt(ping::fields::RTT_AVG_MS, s.rtt)
            .field_opt(ping::fields::ERROR, s.error.clone())
            .timestamp(Timestamp::from_nanos(s.time));
        point.encode(&mut lines, writer.precision()).unwrap();
    }
    let delivery = writer
        .deliver(
            &lines,
            tokio::time::Instant::now() + Duration::from_secs(30),
        )
        .await;
    assert_eq!(
        delivery.lines_accepted(),
        samples.len(),
        "{:?}",
        delivery.events
    );
    samples
}

fn range() -> TimeRange {
    TimeRange {
        start_ns: T0 + 30 * S,
        end_ns: T0 + 250 * S,
    }
}

fn selector(filters: Vec<TagFilter>) -> Selector {
    Selector {
        measurement: "ping".into(),
        filters,
        range: range(),
    }
}

fn matches(s: &Sample, filters: &[TagFilter]) -> bool {
    filters.iter().all(|f| {
        let value = match f.tag.as_str() {
            "agent" => s.agent,
            "target" => s.target,
            other => panic!("no tag {other}"),
        };
        f.values.iter().any(|v| v == value)
    })
}

fn tag_of(s: &Sample, tag: &str) -> String {
    match tag {
        "agent" => s.agent.into(),
        "target" => s.target.into(),
        other => panic!("no tag {other}"),
    }
}

/// The field's value of a sample, typed as stored.
fn field(s: &Sample, name: &str) -> Option<Value> {
    match name {
        "rtt_avg_ms" => s.rtt.map(Value::Float),
        "sent" => Some(Value::Integer(s.sent)),
        "error" => s.error.clone().map(Value::String),
        other => panic!("no field {other}"),
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Integer(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// One aggregate over the (time, value) pairs of a bucket, by InfluxQL's definitions.
fn reduce(points: &[(i64, Value)], aggregate: Aggregate) -> Option<Value> {
    if points.is_empty() {
        return None;
    }
    let integer = matches!(points[0].1, Value::Integer(_));
    let by_value = |a: &&(i64, Value), b: &&(i64, Value)| {
        as_f64(&a.1).total_cmp(&as_f64(&b.1)).then(a.0.cmp(&b.0))
    };
    Some(match aggregate {
        Aggregate::Mean => {
            Value::Float(points.iter().map(|p| as_f64(&p.1)).sum::<f64>() / points.len() as f64)
        }
        Aggregate::Count => Value::Integer(points.len() as i64),
        Aggregate::Sum if integer => Value::Integer(
            points
                .iter()
                .map(|p| match p.1 {
                    Value::Integer(i) => i,
                    _ => unreachable!(),
                })
                .sum(),
        ),
        Aggregate::Sum => Value::Float(points.iter().map(|p| as_f64(&p.1)).sum()),
        Aggregate::Min => points.iter().min_by(by_value).unwrap().1.clone(),
        Aggregate::Max => points
            .iter()
            .max_by(|a, b| by_value(a, b).then(b.0.cmp(&a.0)))
            .unwrap()
            .1
            .clone(),
        Aggregate::First => points.iter().min_by_key(|p| p.0).unwrap().1.clone(),
        Aggregate::Last => points.iter().max_by_key(|p| p.0).unwrap().1.clone(),
        Aggregate::Percentile(p) => {
            // Nearest rank: the value at ⌊n·p/100 + 0.5⌋ (1-based) in sorted order.
            let mut sorted: Vec<_> = points.iter().collect();
            sorted.sort_by(by_value);
            let rank = (sorted.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
            if rank < 0 || rank >= sorted.len() as i64 {
                return None;
            }
            sorted[rank as usize].1.clone()
        }
    })
}

/// What an aggregate query must answer, computed from the samples.
fn expect_aggregate(samples: &[Sample], q: &AggregateQuery) -> Vec<Series> {
    let range = q.selector.range;
    let chosen: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.time >= range.start_ns && s.time < range.end_ns)
        .filter(|s| matches(s, &q.selector.filters))
        .collect();
    let mut groups: BTreeMap<BTreeMap<String, String>, Vec<&Sample>> = BTreeMap::new();
    for s in chosen {
        let key = q
            .group_by_tags
            .iter()
            .map(|t| (t.clone(), tag_of(s, t)))
            .collect();
        groups.entry(key).or_default().push(s);
    }
    let columns: Vec<String> = q
        .fields
        .iter()
        .map(|(f, a)| format!("{}_{f}", a.label()))
        .collect();
    let mut out = Vec::new();
    for (tags, members) in groups {
        let buckets: Vec<i64> = match q.interval {
            None => vec![range.start_ns],
            Some(interval) => {
                let width = interval.as_nanos() as i64;
                let first = range.start_ns.div_euclid(width) * width;
                (0..)
                    .map(|k| first + k * width)
                    .take_while(|b| *b < range.end_ns)
                    .collect()
            }
        };
        let width = q.interval.map_or(i64::MAX, |i| i.as_nanos() as i64);
        let mut rows = Vec::new();
        for bucket in buckets {
            let in_bucket: Vec<&&Sample> = members
                .iter()
                .filter(|s| q.interval.is_none() || (s.time >= bucket && s.time - bucket < width))
                .collect();
            let mut values = Vec::new();
            let mut any = false;
            for (f, a) in &q.fields {
                let points: Vec<(i64, Value)> = in_bucket
                    .iter()
                    .filter_map(|s| field(s, f).map(|v| (s.time, v)))
                    .collect();
                any |= !points.is_empty();
                let value = match (reduce(&points, *a), a, q.fill) {
                    // InfluxQL fills empty counts with 0 under fill(null).
                    (None, Aggregate::Count, Fill::Null) => Some(Value::Integer(0)),
                    (v, _, _) => v,
                };
                values.push(value);
            }
            if any || (q.fill == Fill::Null && q.interval.is_some()) {
                rows.push(Row {
                    time_ns: bucket,
                    values,
                });
            }
        }
        if !rows.is_empty() {
            out.push(Series {
                name: "ping".into(),
                tags,
                columns: columns.clone(),
                rows,
            });
        }
    }
    out
}

#[track_caller]
fn assert_same(got: &[Series], want: &[Series]) {
    let close = |a: &Option<Value>, b: &Option<Value>| match (a, b) {
        (Some(Value::Float(x)), Some(Value::Float(y))) => {
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    };
    assert_eq!(
        got.len(),
        want.len(),
        "series count\ngot:  {got:#?}\nwant: {want:#?}"
    );
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            (&g.name, &g.tags, &g.columns),
            (&w.name, &w.tags, &w.columns)
        );
        let times = |s: &Series| s.rows.iter().map(|r| r.time_ns).collect::<Vec<_>>();
        assert_eq!(times(g), times(w), "row times of {:?}", g.tags);
        for (gr, wr) in g.rows.iter().zip(&w.rows) {
            assert!(
                gr.values.len() == wr.values.len()
                    && gr.values.iter().zip(&wr.values).all(|(a, b)| close(a, b)),
                "{:?} at {}: got {:?}, want {:?}",
                g.tags,
                gr.time_ns,
                gr.values,
                wr.values
            );
        }
    }
}

async fn check_aggregate(reader: &dyn Reader, samples: &[Sample], q: AggregateQuery) {
    let want = expect_aggregate(samples, &q);
    assert!(!want.is_empty(), "a test query must expect data");
    let got = reader.query(&Query::Aggregate(q.clone())).await.unwrap();
    assert_same(&got, &want);
}

const ALL_AGGREGATES: [Aggregate; 8] = [
    Aggregate::Mean,
    Aggregate::Min,
    Aggregate::Max,
    Aggregate::Count,
    Aggregate::Sum,
    Aggregate::First,
    Aggregate::Last,
    Aggregate::Percentile(90.0),
];

#[tokio::test]
async fn real_reader_answers_every_aggregate_query_kind() {
    let url = require_influx!("real_reader_answers_every_aggregate_query_kind");
    let db = TestDb::create(&url).await;
    let samples = load(&db).await;
    let reader = db.reader();
    let reader: &dyn Reader = &reader;

    let every = |field: &str| -> Vec<(String, Aggregate)> {
        ALL_AGGREGATES
            .iter()
            .map(|a| (field.to_owned(), *a))
            .collect()
    };

    // Whole range, everything merged: one row at the range start, every aggregate of a
    // float and of an integer field.
    let mut fields = every("rtt_avg_ms");
    fields.extend(every("sent"));
    check_aggregate(
        reader,
        &samples,
        AggregateQuery {
            selector: selector(vec![]),
            fields: fields.clone(),
            interval: None,
            group_by_tags: vec![],
            fill: Fill::None,
        },
    )
    .await;

    // One selector alone, without an interval: InfluxQL would give the point's time; the
    // row time must still be the range start.
    for aggregate in [Aggregate::Last, Aggregate::Max, Aggregate::Percentile(50.0)] {
        check_aggregate(
            reader,
            &samples,
            AggregateQuery {
                selector: selector(vec![]),
                fields: vec![("rtt_avg_ms".into(), aggregate)],
                interval: None,
                group_by_tags: vec![],
                fill: Fill::None,
            },
        )
        .await;
    }

    // Per minute and per agent, fill(none).
    check_aggregate(
        reader,
        &samples,
        AggregateQuery {
            selector: selector(vec![]),
            fields: fields.clone(),
            interval: Some(Duration::from_secs(60)),
            group_by_tags: vec!["agent".into()],
            fill: Fill::None,
        },
    )
    .await;

    // Grouped by two tags, whole range; percentiles with a fractional rank.
    check_aggregate(
        reader,
        &samples,
        AggregateQuery {
            selector: selector(vec![]),
            fields: vec![
                ("rtt_avg_ms".into(), Aggregate::Percentile(99.9)),
                ("rtt_avg_ms".into(), Aggregate::Percentile(50.0)),
                ("sent".into(), Aggregate::Percentile(75.5)),
                ("rtt_avg_ms".into(), Aggregate::Count),
            ],
            interval: None,
            group_by_tags: vec!["target".into(), "agent".into()],
            fill: Fill::None,
        },
    )
    .await;

    // Filters: one tag with several values, another with one.
    check_aggregate(
        reader,
        &samples,
        AggregateQuery {
            selector: selector(vec![
                TagFilter {
                    tag: "agent".into(),
                    values: vec!["a".into(), "c".into()],
                },
                TagFilter::eq("target", "y"),
            ]),
            fields: every("rtt_avg_ms"),
            interval: Some(Duration::from_secs(30)),
            group_by_tags: vec![],
            fill: Fill::None,
        },
    )
    .await;
}

#[tokio::test]
async fn real_reader_fill_null_keeps_empty_buckets_and_fill_none_drops_them() {
    let url = require_influx!("real_reader_fill_null_keeps_empty_buckets_and_fill_none_drops_them");
    let db = TestDb::create(&url).await;
    let samples = load(&db).await;
    let reader = db.reader();
    for fill in [Fill::Null, Fill::None] {
        let q = AggregateQuery {
            // Agent b → x misses runs: 10 s buckets come out empty.
            selector: selector(vec![
                TagFilter::eq("agent", "b"),
                TagFilter::eq("target", "x"),
            ]),
            fields: vec![
                ("rtt_avg_ms".into(), Aggregate::Mean),
                ("rtt_avg_ms".into(), Aggregate::Count),
                ("sent".into(), Aggregate::Max),
            ],
            interval: Some(Duration::from_secs(10)),
            group_by_tags: vec![],
            fill,
        };
        let want = expect_aggregate(&samples, &q);
        let empty_buckets = want[0]
            .rows
            .iter()
            .filter(|r| r.values[2].is_none())
            .count();
        match fill {
            Fill::Null => assert!(empty_buckets >= 3, "the data set must leave gaps"),
            Fill::None => assert_eq!(empty_buckets, 0),
        }
        let got = reader.query(&Query::Aggregate(q)).await.unwrap();
        assert_same(&got, &want);
    }
}

#[tokio::test]
async fn real_reader_raw_rows_with_limit_per_series() {
    let url = require_influx!("real_reader_raw_rows_with_limit_per_series");
    let db = TestDb::create(&url).await;
    let samples = load(&db).await;
    let reader = db.reader();
    let fields = ["rtt_avg_ms", "sent", "error"];
    for group_by_tags in [vec![], vec!["agent".to_owned()]] {
        let q = RawQuery {
            selector: selector(vec![TagFilter::eq("target", "y")]),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            group_by_tags: group_by_tags.clone(),
            limit: 10,
        };
        let mut groups: BTreeMap<BTreeMap<String, String>, Vec<&Sample>> = BTreeMap::new();
        for s in samples
            .iter()
            .filter(|s| s.target == "y" && s.time >= range().start_ns && s.time < range().end_ns)
        {
            let key = group_by_tags
                .iter()
                .map(|t| (t.clone(), tag_of(s, t)))
                .collect();
            groups.entry(key).or_default().push(s);
        }
        let want: Vec<Series> = groups
            .into_iter()
            .map(|(tags, mut members)| {
                members.sort_by_key(|s| s.time);
                Series {
                    name: "ping".into(),
                    tags,
                    columns: fields.iter().map(|f| f.to_string()).collect(),
                    rows: members
                        .iter()
                        .take(10)
                        .map(|s| Row {
                            time_ns: s.time,
                            values: fields.iter().map(|f| field(s, f)).collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        let got = reader.query(&Query::Raw(q)).await.unwrap();
        assert_same(&got, &want);
        // Failed runs come back with a null rtt and their error text.
        assert!(
            got.iter()
                .flat_map(|s| &s.rows)
                .any(|r| r.values[0].is_none() && matches!(r.values[2], Some(Value::String(_)))),
            "the window must include a failed run"
        );
    }
}

#[tokio::test]
async fn real_reader_tag_values_with_filters() {
    let url = require_influx!("real_reader_tag_values_with_filters");
    let db = TestDb::create(&url).await;
    load(&db).await;
    let reader = db.reader();
    let ask = |tag: &str, filters: Vec<TagFilter>| {
        Query::TagValues(TagValuesQuery {
            measurement: "ping".into(),
            tag: tag.into(),
            filters,
        })
    };
    let values = |series: Vec<Series>| -> Vec<String> {
        series
            .iter()
            .flat_map(|s| &s.rows)
            .map(|r| match &r.values[0] {
                Some(Value::String(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let got = reader.query(&ask("agent", vec![])).await.unwrap();
    assert_eq!(got[0].name, "ping");
    assert_eq!(got[0].columns, ["agent"]);
    assert_eq!(values(got), ["a", "b", "c"]);
    let got = reader
        .query(&ask("target", vec![TagFilter::eq("agent", "b")]))
        .await
        .unwrap();
    assert_eq!(values(got), ["x", "y"]);
    let got = reader
        .query(&ask(
            "agent",
            vec![TagFilter {
                tag: "agent".into(),
                values: vec!["c".into(), "a".into(), "nobody".into()],
            }],
        ))
        .await
        .unwrap();
    assert_eq!(values(got), ["a", "c"]);
    // No values to match: nothing, and no error.
    let got = reader
        .query(&ask(
            "agent",
            vec![TagFilter {
                tag: "target".into(),
                values: vec![],
            }],
        ))
        .await
        .unwrap();
    assert!(got.is_empty(), "{got:?}");
    assert!(
        reader
            .query(&ask("target", vec![TagFilter::eq("agent", "nobody")]))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn real_reader_types_fields_outside_the_schema_from_the_store() {
    let url = require_influx!("real_reader_types_fields_outside_the_schema_from_the_store");
    let db = TestDb::create(&url).await;
    // Whole floats print as `2` in InfluxDB's JSON; only the store's field types tell
    // them from integers for a measurement the schema does not list.
    let writer = db.writer();
    let report = writer
        .send_splitting(
            b"adhoc f=2.0,i=3i,b=true,s=\"x\" 1000\nadhoc f=4.0,i=5i,b=false,s=\"y\" 2000\n",
        )
        .await;
    assert_eq!(report.unsent, None);
    let reader = db.reader();
    let sel = Selector {
        measurement: "adhoc".into(),
        filters: vec![],
        range: TimeRange {
            start_ns: 0,
            end_ns: 10_000,
        },
    };
    let raw = reader
        .query(&Query::Raw(RawQuery {
            selector: sel.clone(),
            fields: vec!["f".into(), "i".into(), "b".into(), "s".into()],
            group_by_tags: vec![],
            limit: 10,
        }))
        .await
        .unwrap();
    assert_eq!(
        raw[0].rows[0].values,
        [
            Some(Value::Float(2.0)),
            Some(Value::Integer(3)),
            Some(Value::Bool(true)),
            Some(Value::String("x".into()))
        ]
    );
    let agg = reader
        .query(&Query::Aggregate(AggregateQuery {
            selector: sel,
            fields: vec![
                ("f".into(), Aggregate::Max),
                ("i".into(), Aggregate::Sum),
                ("i".into(), Aggregate::Mean),
                ("b".into(), Aggregate::Last),
            ],
            interval: None,
            group_by_tags: vec![],
            fill: Fill::None,
        }))
        .await
        .unwrap();
    assert_eq!(
        agg[0].rows,
        [Row {
            time_ns: 0,
            values: vec![
                Some(Value::Float(4.0)),
                Some(Value::Integer(8)),
                Some(Value::Float(4.0)),
                Some(Value::Bool(false))
            ]
        }]
    );
}

#[tokio::test]
async fn real_reader_errors_are_typed() {
    let url = require_influx!("real_reader_errors_are_typed");
    let db = TestDb::create(&url).await;
    let mut config = db.config();
    config.database = Some(format!("streamswarm_absent_{:x}", rand::random::<u64>()));
    let reader = streamswarm_tsdb::InfluxReader::new(config).unwrap();
    let q = Query::Raw(RawQuery {
        selector: selector(vec![]),
        fields: vec!["sent".into()],
        group_by_tags: vec![],
        limit: 1,
    });
    let err = reader.query(&q).await.unwrap_err();
    assert!(
        matches!(&err, ReadError::Server { message, .. } if message.contains("database not found")),
        "{err:?}"
    );
    let bad = Query::Raw(RawQuery {
        limit: 0,
        ..match q {
            Query::Raw(r) => r,
            _ => unreachable!(),
        }
    });
    assert!(matches!(
        db.reader().query(&bad).await.unwrap_err(),
        ReadError::Invalid(_)
    ));
}
