//! The embedded store's InfluxQL endpoint (`/query`) against InfluxDB 1.6.7: the same
//! points written into both (the generated history of `timeseries_differential`, plus
//! two hours of every measurement the bundled dashboards read), then the same InfluxQL
//! asked of both `/query` endpoints, and the JSON answers compared — series, tags,
//! columns, rows, values (floats within 1e-9 relative; rows of one timestamp as a set,
//! since InfluxDB's order among them is not stable).
//!
//! The queries: every panel and variable query of every bundled dashboard (as Grafana
//! sends them: form POST, `epoch=ms`), and a seeded corpus of Grafana- and
//! analyst-style queries (aggregates, selectors, transformations, math, tag and field
//! conditions, intervals with offsets, every fill, ordering, limits, subqueries, `SHOW`
//! statements, several statements at once), asked again after the rollups are computed
//! (so answers read from rollups are compared too). A query the embedded store refuses
//! as unsupported is counted and listed in the report; for the dashboards' queries the
//! count must be zero. Any other difference fails the test.

use crate::grafana::{MINUTE_MS, as_grafana_sends, lines};
use crate::helpers::{Backend, bare_client, spawn_app};
use crate::timeseries_differential::{DAY, HOUR, MIN, S, data_set, measurements, write_data_set};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeSet;
use streamswarm::grafana::dashboards;
use streamswarm::timeseries::embedded::RetentionDays;
use streamswarm_tsdb::influxql::{quote_ident, quote_string};

const UNSUPPORTED: &str = "not supported by the StreamSwarm embedded store";

/// One endpoint to ask.
struct Endpoint {
    base: String,
    db: String,
    token: Option<String>,
}

impl Endpoint {
    /// The answer to `q` as Grafana asks it (form POST), or the HTTP error.
    async fn ask(&self, q: &str, epoch: Option<&str>) -> Result<Value, String> {
        let mut form = vec![("db", self.db.as_str()), ("q", q)];
        if let Some(e) = epoch {
            form.push(("epoch", e));
        }
        let mut req = bare_client()
            .post(format!("{}/query", self.base))
            .form(&form);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Token {t}"));
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}: {body}"));
        }
        Ok(body)
    }
}

#[derive(Default, Debug)]
struct Report {
    asked: usize,
    same: usize,
    both_refused: usize,
    unsupported: Vec<String>,
    wrong: Vec<String>,
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        _ => a == b,
    }
}

fn rows_equal(a: &Value, b: &Value) -> bool {
    let (Some(a), Some(b)) = (a.as_array(), b.as_array()) else {
        return a == b;
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close(x, y))
}

/// Where two series' rows differ: rows are compared in order, except that rows of one
/// timestamp may come in any order.
fn rows_difference(ours: &[Value], theirs: &[Value]) -> Option<String> {
    if ours.len() != theirs.len() {
        return Some(format!("{} rows vs {}", ours.len(), theirs.len()));
    }
    let mut i = 0;
    while i < ours.len() {
        let t = &ours[i][0];
        let mut j = i;
        while j < ours.len() && ours[j][0] == *t {
            j += 1;
        }
        let mut left: Vec<&Value> = theirs[i..j].iter().collect();
        for row in &ours[i..j] {
            match left.iter().position(|r| rows_equal(row, r)) {
                Some(k) => {
                    left.remove(k);
                }
                None => {
                    return Some(format!("row {i}: ours {row}, influx {}", theirs[i]));
                }
            }
        }
        i = j;
    }
    None
}

/// `None` when the two answers (one statement each) say the same.
fn difference(ours: &Value, theirs: &Value) -> Option<String> {
    let empty = Vec::new();
    let os = ours["series"].as_array().unwrap_or(&empty);
    let ts = theirs["series"].as_array().unwrap_or(&empty);
    if os.len() != ts.len() {
        let heads = |s: &[Value]| {
            s.iter()
                .map(|x| format!("{} {}", x["name"], x["tags"]))
                .collect::<Vec<_>>()
        };
        return Some(format!(
            "{} series vs {}: ours {:?}, influx {:?}",
            os.len(),
            ts.len(),
            heads(os),
            heads(ts)
        ));
    }
    for (o, t) in os.iter().zip(ts) {
        if o["name"] != t["name"] || o["tags"] != t["tags"] || o["columns"] != t["columns"] {
            return Some(format!(
                "series head: ours {} {} {}, influx {} {} {}",
                o["name"], o["tags"], o["columns"], t["name"], t["tags"], t["columns"]
            ));
        }
        let rows = |s: &Value| s["values"].as_array().cloned().unwrap_or_default();
        if let Some(d) = rows_difference(&rows(o), &rows(t)) {
            return Some(format!("{} {}: {d}", o["name"], o["tags"]));
        }
    }
    None
}

/// Asks both endpoints `q` and files the outcome in `report`.
async fn compare(
    ours: &Endpoint,
    influx: &Endpoint,
    q: &str,
    epoch: Option<&str>,
    report: &mut Report,
) {
    report.asked += 1;
    let (a, b) = (ours.ask(q, epoch).await, influx.ask(q, epoch).await);
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(_), Err(_)) => {
            report.both_refused += 1;
            return;
        }
        (a, b) => {
            report
                .wrong
                .push(format!("{q}\n  → ours {a:?}\n  → influx {b:?}"));
            return;
        }
    };
    let (ra, rb) = (
        a["results"].as_array().cloned().unwrap_or_default(),
        b["results"].as_array().cloned().unwrap_or_default(),
    );
    if ra.len() != rb.len() {
        report.wrong.push(format!(
            "{q}\n  → {} results vs {}: ours {a}, influx {b}",
            ra.len(),
            rb.len()
        ));
        return;
    }
    for (x, y) in ra.iter().zip(&rb) {
        match (x["error"].as_str(), y["error"].as_str()) {
            (Some(e), _) if e.contains(UNSUPPORTED) => {
                report.unsupported.push(format!("{q}\n  → {e}"));
                return;
            }
            (Some(_), Some(_)) => {
                report.both_refused += 1;
                return;
            }
            (None, None) => {
                if let Some(d) = difference(x, y) {
                    report.wrong.push(format!("{q}\n  → {d}"));
                    return;
                }
            }
            (e1, e2) => {
                report
                    .wrong
                    .push(format!("{q}\n  → ours {e1:?} {x}\n  → influx {e2:?} {y}"));
                return;
            }
        }
    }
    report.same += 1;
}

fn rfc3339(ns: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn regex_escape(s: &str) -> String {
    let mut o = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$/".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// A seeded corpus of Grafana- and analyst-style queries over the generated history.
fn corpus(t0: i64, n: usize) -> Vec<(String, Option<&'static str>)> {
    let mut rng = StdRng::seed_from_u64(0x1f1u64 << 20 | 0x6ac);
    let ms = measurements();
    let mut out: Vec<(String, Option<&'static str>)> = Vec::new();
    let time_filter = |rng: &mut StdRng| -> String {
        let (a, b) = match rng.random_range(0..3) {
            0 => (t0, t0 + 3 * HOUR),
            1 => (
                t0 + 17 * MIN + 13 * S + 500_000_000,
                t0 + 2 * HOUR + 41 * MIN + 7 * S,
            ),
            _ => (t0 + 40 * MIN, t0 + 100 * MIN),
        };
        match rng.random_range(0..3) {
            0 => format!(
                "time >= {}ms and time <= {}ms",
                a / 1_000_000,
                b / 1_000_000
            ),
            1 => format!("time >= '{}' AND time <= '{}'", rfc3339(a), rfc3339(b)),
            _ => format!("time > {a} AND time < {b}"),
        }
    };
    for i in 0..n {
        let m = ms.choose(&mut rng).unwrap();
        let from = quote_ident(m.name);
        let (k1, v1) = (m.tags[0].0, &m.tags[0].1);
        let (k2, v2) = (m.tags[1].0, &m.tags[1].1);
        let num = |rng: &mut StdRng| quote_ident(m.numeric.choose(rng).unwrap());
        let tag_cond = match rng.random_range(0..8) {
            0 | 1 => String::new(),
            2 => format!(
                "{} = {} AND ",
                quote_ident(k1),
                quote_string(v1.choose(&mut rng).unwrap())
            ),
            3 => {
                let a = v1.choose(&mut rng).unwrap();
                let b = v1.choose(&mut rng).unwrap();
                format!(
                    "{} =~ /^({}|{})$/ AND ",
                    quote_ident(k1),
                    regex_escape(a),
                    regex_escape(b)
                )
            }
            4 => format!("{} != {} AND ", quote_ident(k2), quote_string(v2[0])),
            5 => format!(
                "({} = {} OR {} = {}) AND ",
                quote_ident(k1),
                quote_string(v1[1]),
                quote_ident(k2),
                quote_string(v2[1])
            ),
            6 => format!(
                "{} !~ /{}/ AND ",
                quote_ident(k1),
                regex_escape(&v1[0][..1])
            ),
            _ => format!("{} > 0 AND ", num(&mut rng)),
        };
        let tf = time_filter(&mut rng);
        let group_tags = match rng.random_range(0..5) {
            0 | 1 => String::new(),
            2 => format!(", {}", quote_ident(k1)),
            3 => format!(", {}, {}", quote_ident(k1), quote_ident(k2)),
            _ => ", *".to_owned(),
        };
        let epoch = *[None, Some("ms"), Some("ns"), Some("s")]
            .choose(&mut rng)
            .unwrap();
        let q = match i % 10 {
            // Aggregates over time buckets, as Grafana's editor writes them.
            0..=4 => {
                let aggs = [
                    "mean", "median", "min", "max", "sum", "count", "first", "last", "spread",
                    "stddev",
                ];
                let k = rng.random_range(1..=3);
                let mut projs = Vec::new();
                for _ in 0..k {
                    let f = num(&mut rng);
                    projs.push(match rng.random_range(0..10) {
                        0 => format!(
                            "percentile({f}, {})",
                            [50, 90, 95, 99].choose(&mut rng).unwrap()
                        ),
                        1 => format!("mean({f}) * 2"),
                        2 => format!("max({f}) - min({f})"),
                        3 => format!("{}({f}) AS \"x y\"", aggs.choose(&mut rng).unwrap()),
                        _ => format!("{}({f})", aggs.choose(&mut rng).unwrap()),
                    });
                }
                let interval = *["1m", "5m", "7m", "1h", "10s", "13m"]
                    .choose(&mut rng)
                    .unwrap();
                let offset = *["", "", "", ", 2m", ", -30s"].choose(&mut rng).unwrap();
                let fill = *[
                    "",
                    "fill(null)",
                    "fill(none)",
                    "fill(previous)",
                    "fill(linear)",
                    "fill(0)",
                    "fill(-1.5)",
                ]
                .choose(&mut rng)
                .unwrap();
                let order = if rng.random_bool(0.15) {
                    " ORDER BY time DESC"
                } else {
                    ""
                };
                let limit = match rng.random_range(0..6) {
                    0 => " LIMIT 5",
                    1 => " LIMIT 3 OFFSET 2",
                    2 => " SLIMIT 2 SOFFSET 1",
                    _ => "",
                };
                format!(
                    "SELECT {} FROM {from} WHERE {tag_cond}{tf} GROUP BY time({interval}{offset}){group_tags} {fill}{order}{limit}",
                    projs.join(", ")
                )
            }
            // Transformations of aggregates.
            5 => {
                let f = num(&mut rng);
                let proj = match rng.random_range(0..6) {
                    0 => format!("derivative(mean({f}), 1m)"),
                    1 => format!("non_negative_derivative(max({f}))"),
                    2 => format!("difference(mean({f}))"),
                    3 => format!("non_negative_difference(max({f}))"),
                    4 => format!("moving_average(mean({f}), 3)"),
                    _ => format!("cumulative_sum(sum({f}))"),
                };
                let interval = *["1m", "5m", "10m"].choose(&mut rng).unwrap();
                let fill = *["", "fill(null)", "fill(none)", "fill(previous)", "fill(0)"]
                    .choose(&mut rng)
                    .unwrap();
                format!(
                    "SELECT {proj} FROM {from} WHERE {tag_cond}{tf} GROUP BY time({interval}){group_tags} {fill}"
                )
            }
            // Aggregates over the whole range (selectors alone keep their point's time).
            6 => {
                let f = num(&mut rng);
                let proj = match rng.random_range(0..6) {
                    0 => format!("max({f})"),
                    1 => format!("min({f})"),
                    2 => format!("last({f})"),
                    // Alone, a percentile has its point's time; among equal values
                    // InfluxDB's (unstable) sort picks any: a field of distinct values.
                    // (The dashboards' points repeat values: agents 1 and 2 left out.)
                    3 => format!(
                        "percentile({}, 95) FROM {from} WHERE {} !~ /^[12]$/ AND {tag_cond}{tf}{}",
                        quote_ident(m.numeric[0]),
                        quote_ident(k1),
                        group_tags.replacen(", ", " GROUP BY ", 1)
                    ),
                    4 => format!("count({f}), mean({f})"),
                    _ => format!("first({f}), last({f}), median({f})"),
                };
                if proj.contains(" FROM ") {
                    format!("SELECT {proj}")
                } else {
                    format!(
                        "SELECT {proj} FROM {from} WHERE {tag_cond}{tf}{}",
                        group_tags.replacen(", ", " GROUP BY ", 1)
                    )
                }
            }
            // Raw points.
            7 => {
                let proj = match rng.random_range(0..5) {
                    0 => "*".to_owned(),
                    1 => format!("{}, {}", num(&mut rng), quote_ident(k1)),
                    2 => format!("{} * 2 + 1", num(&mut rng)),
                    3 => format!("derivative({})", num(&mut rng)),
                    _ => format!("{}, {}", num(&mut rng), num(&mut rng)),
                };
                let order = if rng.random_bool(0.3) {
                    " ORDER BY time DESC"
                } else {
                    ""
                };
                let group = if rng.random_bool(0.3) {
                    format!(" GROUP BY {}", quote_ident(k1))
                } else {
                    String::new()
                };
                format!(
                    "SELECT {proj} FROM {from} WHERE {tag_cond}{tf}{group}{order} LIMIT {}",
                    rng.random_range(1..40)
                )
            }
            // Subqueries.
            8 => {
                let f = num(&mut rng);
                match rng.random_range(0..3) {
                    0 => format!(
                        "SELECT mean(\"m\") FROM (SELECT max({f}) AS \"m\" FROM {from} WHERE {tag_cond}{tf} GROUP BY time(1m), {}) WHERE {tf} GROUP BY time(10m)",
                        quote_ident(k1)
                    ),
                    1 => format!(
                        "SELECT max(\"m\") FROM (SELECT mean({f}) AS \"m\" FROM {from} WHERE {tf} GROUP BY time(5m), {}) GROUP BY {}",
                        quote_ident(k1),
                        quote_ident(k1)
                    ),
                    _ => format!(
                        "SELECT count(\"v\") FROM (SELECT {f} AS \"v\" FROM {from} WHERE {tf})"
                    ),
                }
            }
            // Schema exploration, as Grafana's editor and variables ask it.
            _ => match rng.random_range(0..9) {
                0 => "SHOW MEASUREMENTS".to_owned(),
                1 => "SHOW MEASUREMENTS WITH MEASUREMENT =~ /ping|host/ LIMIT 5".to_owned(),
                2 => format!("SHOW TAG KEYS FROM {from}"),
                3 => format!("SHOW TAG VALUES FROM {from} WITH KEY = {}", quote_ident(k1)),
                4 => format!(
                    "SHOW TAG VALUES FROM {from} WITH KEY IN ({}, {}) WHERE {} =~ /./",
                    quote_ident(k1),
                    quote_ident(k2),
                    quote_ident(k1)
                ),
                5 => format!("SHOW FIELD KEYS FROM {from}"),
                6 => format!(
                    "SHOW SERIES FROM {from} WHERE {} = {}",
                    quote_ident(k1),
                    quote_string(v1[0])
                ),
                7 => "SHOW TAG VALUES WITH KEY = \"agent\"".to_owned(),
                _ => format!(
                    "SELECT count({}) FROM {from} WHERE {tf}; SHOW FIELD KEYS",
                    num(&mut rng)
                ),
            },
        };
        out.push((q, epoch));
    }
    // Relative to now(): the history lies within the last three days on both sides (the
    // two servers' clocks differ, so only answers whose times do not depend on now()).
    for m in &ms {
        let f = quote_ident(m.numeric[0]);
        let from = quote_ident(m.name);
        out.push((
            format!("SELECT max({f}) FROM {from} WHERE time > now() - 3d"),
            None,
        ));
        out.push((
            format!(
                "SELECT mean({f}) FROM {from} WHERE time > now() - 3d GROUP BY time(1h) fill(none)"
            ),
            Some("ms"),
        ));
    }
    // Wildcards (the fields each function applies to) and distinct counts.
    let tf = format!("time >= {t0} AND time <= {}", t0 + 3 * HOUR);
    for q in [
        format!(
            "SELECT mean(*), count(*), max(*) FROM \"free form,meas\" WHERE {tf} GROUP BY time(1h)"
        ),
        format!("SELECT sum(*) FROM /host|free/ WHERE {tf} GROUP BY time(30m), * fill(none)"),
        format!("SELECT count(distinct(\"sent\")) FROM \"ping\" WHERE {tf} GROUP BY \"agent\""),
        format!(
            "SELECT count(distinct(\"s\")) FROM \"free form,meas\" WHERE {tf} GROUP BY time(20m) fill(null)"
        ),
    ] {
        out.push((q, Some("ms")));
    }
    // Statements InfluxDB refuses: the embedded store must refuse them too.
    for q in [
        "SELECT mean(\"error\") FROM \"ping\"",
        "SELECT \"rtt_avg_ms\" FROM \"ping\" GROUP BY time(1m)",
        "SELECT mean(\"rtt_avg_ms\"), \"sent\" FROM \"ping\"",
        "SELECT percentile(\"rtt_avg_ms\") FROM \"ping\"",
        "SELECT moving_average(mean(\"rtt_avg_ms\"), 1) FROM \"ping\" WHERE time > now() - 1h GROUP BY time(1m)",
        "SELECT FROM \"ping\"",
    ] {
        out.push((q.to_owned(), None));
    }
    out
}

fn report_text(name: &str, r: &Report) -> String {
    let mut s = format!(
        "{name}: {} asked, {} identical, {} refused by both, {} unsupported by the embedded store, {} different",
        r.asked,
        r.same,
        r.both_refused,
        r.unsupported.len(),
        r.wrong.len()
    );
    for u in r.unsupported.iter().take(usize::MAX) {
        s.push_str("\n  unsupported: ");
        s.push_str(u);
    }
    for w in r.wrong.iter().take(usize::MAX) {
        s.push_str("\n  DIFFERENT: ");
        s.push_str(w);
    }
    s
}

#[tokio::test]
async fn query_endpoint_answers_as_influxdb_1_6_7() {
    let Some(url) = crate::helpers::influx_url("influxql_differential") else {
        return;
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let t0 = (app.clock.now_ns() / DAY - 1) * DAY;
    let (first, again) = data_set(t0);
    let db = write_data_set(&app, &url, &first, &again).await;

    // Two hours of every dashboard measurement, into both, on the generated history's
    // day: InfluxDB groups `GROUP BY *` by the tag keys of the series in the shards
    // (weeks) a query touches, and both data sets share measurements.
    let now_ms = (t0 + 3 * HOUR) / 1_000_000;
    let now_ms = now_ms - now_ms % MINUTE_MS;
    let writer = app.api_token(streamswarm_schema::Role::Operator).await;
    let all = dashboards();
    let mut written = BTreeSet::new();
    for q in all.iter().flat_map(|d| &d.panels).flat_map(|p| &p.queries) {
        if written.insert(q.measurement) {
            let body = lines(q, now_ms);
            let ours = bare_client()
                .post(app.url("/write?db=streamswarm&precision=ms"))
                .header("authorization", format!("Token {writer}"))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(ours.status(), 204, "{}", ours.text().await.unwrap());
            let theirs = bare_client()
                .post(url.join("write").unwrap())
                .query(&[("db", db.name.as_str()), ("precision", "ms")])
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(theirs.status(), 204, "{}", theirs.text().await.unwrap());
        }
    }

    let ours = Endpoint {
        base: app.url(""),
        db: "streamswarm".into(),
        token: Some(app.api_token(streamswarm_schema::Role::Viewer).await),
    };
    let influx = Endpoint {
        base: url.as_str().trim_end_matches('/').to_owned(),
        db: db.name.clone(),
        token: None,
    };

    // Every dashboard query, as Grafana sends it.
    let mut dash = Report::default();
    for d in &all {
        let json = d.to_json();
        let variables = json["templating"]["list"].as_array().unwrap();
        let panels = json["panels"].as_array().unwrap();
        let queries = variables
            .iter()
            .filter(|v| v["type"] == "query")
            .map(|v| v["query"].as_str().unwrap().to_owned())
            .chain(
                panels
                    .iter()
                    .flat_map(|p| p["targets"].as_array().unwrap())
                    .map(|t| t["query"].as_str().unwrap().to_owned()),
            );
        for q in queries {
            compare(
                &ours,
                &influx,
                &as_grafana_sends(&q, now_ms),
                Some("ms"),
                &mut dash,
            )
            .await;
        }
    }

    // The generated corpus, before and after the rollups are computed.
    let corpus = corpus(t0, 600);
    let mut generated = Report::default();
    for (q, epoch) in &corpus {
        compare(&ours, &influx, q, *epoch, &mut generated).await;
    }
    let days = RetentionDays {
        raw: 3650,
        rollup_1m: 3650,
        rollup_1h: 3650,
    };
    app.timeseries()
        .roll_up(days.cutoffs(t0 + DAY))
        .await
        .unwrap();
    for (q, epoch) in &corpus {
        compare(&ours, &influx, q, *epoch, &mut generated).await;
    }

    let text = format!(
        "{}\n{}",
        report_text("dashboards", &dash),
        report_text("corpus", &generated)
    );
    println!("{text}");
    assert!(dash.asked >= 50, "{text}");
    assert!(generated.both_refused >= 12, "{text}");
    assert!(
        dash.wrong.is_empty() && dash.unsupported.is_empty() && dash.both_refused == 0,
        "{text}"
    );
    assert!(generated.wrong.is_empty(), "{text}");
    // The corpus must mostly be answered, or it proves little.
    assert!(generated.same * 10 >= generated.asked * 8, "{text}");
    app.stop().await;
}
