//! What the time-series store holds, read the way the product reads it (the embedded
//! store through its `Reader`, InfluxDB over `/query`), and the checks the outage tests
//! make on it: every scheduled run of a test present exactly once, no gap.

#![allow(dead_code)]

use crate::harness::Influx;
use std::path::PathBuf;
use std::time::Duration;
use streamswarm_tsdb::query::{Query, RawQuery, Selector, TagFilter, TimeRange, Value};

/// Where an agent's points end up.
pub enum Store<'a> {
    /// The server's embedded store file (`<data dir>/timeseries.db`).
    Embedded(PathBuf),
    /// A database of a real InfluxDB.
    Influx(&'a Influx, String),
}

/// One stored point: its time and its fields by name.
#[derive(Debug, Clone)]
pub struct Stored {
    pub time_ns: i64,
    pub fields: std::collections::BTreeMap<String, Value>,
}

impl Store<'_> {
    /// Every point of `measurement` whose tags equal `filters`, oldest first, with the
    /// given fields (absent ones left out).
    pub fn points(
        &self,
        measurement: &str,
        filters: &[(&str, &str)],
        fields: &[&str],
    ) -> Vec<Stored> {
        match self {
            Store::Embedded(path) => {
                let q = Query::Raw(RawQuery {
                    selector: Selector {
                        measurement: measurement.to_owned(),
                        filters: filters.iter().map(|(t, v)| TagFilter::eq(*t, *v)).collect(),
                        range: TimeRange {
                            start_ns: 0,
                            end_ns: i64::MAX,
                        },
                    },
                    fields: fields.iter().map(|f| f.to_string()).collect(),
                    group_by_tags: Vec::new(),
                    limit: 10_000_000,
                });
                // A fresh handle each time: the store's series catalogue is read when it
                // opens, and the server keeps adding series.
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let store = streamswarm::timeseries::embedded::EmbeddedStore::open(path)
                        .await
                        .expect("opening the embedded store");
                    let series = store.run(&q).await.expect("embedded query");
                    let mut out: Vec<Stored> = series
                        .into_iter()
                        .flat_map(|s| {
                            let columns = s.columns.clone();
                            s.rows.into_iter().map(move |r| Stored {
                                time_ns: r.time_ns,
                                fields: columns
                                    .iter()
                                    .zip(r.values)
                                    .filter_map(|(c, v)| v.map(|v| (c.clone(), v)))
                                    .collect(),
                            })
                        })
                        .collect();
                    out.sort_by_key(|p| p.time_ns);
                    out
                })
            }
            Store::Influx(influx, db) => {
                let mut q = format!(
                    "SELECT {} FROM \"{measurement}\"",
                    fields
                        .iter()
                        .map(|f| format!("\"{f}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for (i, (t, v)) in filters.iter().enumerate() {
                    q.push_str(if i == 0 { " WHERE " } else { " AND " });
                    q.push_str(&format!("\"{t}\" = '{v}'"));
                }
                let answer = influx.query(db, &q);
                let mut out = Vec::new();
                for series in answer["results"][0]["series"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let columns: Vec<String> = series["columns"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c.as_str().unwrap().to_owned())
                        .collect();
                    for row in series["values"].as_array().unwrap() {
                        let row = row.as_array().unwrap();
                        let mut fields = std::collections::BTreeMap::new();
                        for (c, v) in columns.iter().zip(row).skip(1) {
                            let value = match v {
                                serde_json::Value::Null => continue,
                                serde_json::Value::Bool(b) => Value::Bool(*b),
                                serde_json::Value::String(s) => Value::String(s.clone()),
                                serde_json::Value::Number(n) => match n.as_i64() {
                                    Some(i) => Value::Integer(i),
                                    None => Value::Float(n.as_f64().unwrap()),
                                },
                                other => panic!("unexpected value {other}"),
                            };
                            fields.insert(c.clone(), value);
                        }
                        out.push(Stored {
                            time_ns: row[0].as_i64().unwrap(),
                            fields,
                        });
                    }
                }
                out.sort_by_key(|p| p.time_ns);
                out
            }
        }
    }

    /// Times of the stored runs of a test (one `ping` point per run).
    pub fn ping_times(&self, agent: i64, test: i64) -> Vec<i64> {
        self.points(
            "ping",
            &[("agent", &agent.to_string()), ("test", &test.to_string())],
            &["sent"],
        )
        .into_iter()
        .map(|p| p.time_ns)
        .collect()
    }
}

/// The runs of a test scheduled every `interval` between the first and the last stored
/// run that are missing, and those stored more than once (same slot twice). A test
/// without jitter runs once per slot `k·interval`, stamped with its start time, which
/// is within the slot.
pub fn gaps_and_duplicates(times: &[i64], interval: Duration) -> (Vec<i64>, Vec<i64>) {
    let step = interval.as_nanos() as i64;
    let slots: Vec<i64> = times.iter().map(|t| t.div_euclid(step)).collect();
    let (Some(first), Some(last)) = (slots.first(), slots.last()) else {
        return (Vec::new(), Vec::new());
    };
    let mut missing = Vec::new();
    let mut duplicates = Vec::new();
    let mut i = 0;
    for slot in *first..=*last {
        let mut n = 0;
        while i < slots.len() && slots[i] == slot {
            n += 1;
            i += 1;
        }
        match n {
            0 => missing.push(slot * step),
            1 => {}
            _ => duplicates.push(slot * step),
        }
    }
    (missing, duplicates)
}

/// Asserts that runs are stored for every slot from `from_ns` to `to_ns` (wall clock),
/// exactly once, and returns how many.
pub fn assert_every_run_stored(
    times: &[i64],
    interval: Duration,
    from_ns: i64,
    to_ns: i64,
) -> usize {
    let window: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| *t >= from_ns && *t <= to_ns)
        .collect();
    let (missing, duplicates) = gaps_and_duplicates(&window, interval);
    assert!(
        missing.is_empty() && duplicates.is_empty(),
        "{} runs stored between {from_ns} and {to_ns}; missing slots {missing:?}; duplicated slots {duplicates:?}",
        window.len()
    );
    let step = interval.as_nanos() as i64;
    let expected_slots = (to_ns.div_euclid(step) - from_ns.div_euclid(step)) as usize;
    // The first and last slot of the window may fall just outside it.
    assert!(
        window.len() + 2 >= expected_slots,
        "only {} runs stored in a window of {expected_slots} slots",
        window.len()
    );
    window.len()
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn the_gap_check_finds_gaps_and_duplicates() {
    let s = 1_000_000_000;
    let (m, d) = gaps_and_duplicates(
        &[s + 5, 2 * s + 7, 4 * s + 1, 4 * s + 9],
        Duration::from_secs(1),
    );
    assert_eq!(m, vec![3 * s]);
    assert_eq!(d, vec![4 * s]);
    let (m, d) = gaps_and_duplicates(&[s, 2 * s, 3 * s], Duration::from_secs(1));
    assert!(m.is_empty() && d.is_empty());
}
