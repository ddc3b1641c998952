//! Grafana dashboards, generated from the schema so they cannot drift from what the
//! agents write: every panel's InfluxQL names measurements, fields and tags of
//! `schema/measurements.toml` and `schema/kinds/*.toml` (the kinds' `[[charts]]`, the
//! same declarations the UI's test pages draw). `dashboards/*.json` are this module's
//! output, committed; `UPDATE_DASHBOARDS=1 cargo test --lib grafana` rewrites them, and
//! the test fails when they differ. `tests/api/grafana.rs` runs every panel's query, as
//! Grafana's InfluxDB datasource sends it, against InfluxDB 1.6.7.
//!
//! Each dashboard: a `datasource` variable (any InfluxDB datasource: InfluxDB 1.x, or 2.x
//! through its DBRP mapping), `agent` / `test` / `target` variables from
//! `SHOW TAG VALUES` (multi-value, "All" by default) where the measurement has the tag,
//! the last 6 hours, refreshed every minute.

use serde_json::{Value, json};
use streamswarm_schema::TestKind;
use streamswarm_schema::kinds::{ChartDef, ChartField};
use streamswarm_schema::measurements;

/// The folder the dashboards are committed to (from the repository root).
pub const DIR: &str = "dashboards";
/// The environment variable that makes the golden test rewrite them.
pub const REGENERATE: &str = "UPDATE_DASHBOARDS";

/// Tags the variables select on, in order; a dashboard has those its measurements carry.
const VARIABLES: [&str; 3] = ["agent", "test", "target"];

/// One panel: a title, a unit as stored, how it is drawn, and its queries.
pub struct Panel {
    pub title: String,
    pub unit: &'static str,
    /// `line`, `band`, `bar` or `stacked` (as the kinds' charts say).
    pub style: &'static str,
    pub queries: Vec<PanelQuery>,
}

/// One query of a panel: the fields of one measurement, grouped by time and tags.
pub struct PanelQuery {
    pub measurement: &'static str,
    /// (InfluxQL selection, column alias), e.g. (`mean("rtt_p50_ms")`, `median`).
    pub columns: Vec<(String, String)>,
    /// Tag equalities every point has (`cpu = total`).
    pub filter: Vec<(&'static str, &'static str)>,
    /// Extra tags grouped by besides the variables' (`resolver`, `interface`).
    pub group_by: Vec<&'static str>,
}

impl PanelQuery {
    fn tags(&self) -> Vec<&'static str> {
        let m = measurements::find(self.measurement).expect("a catalogued measurement");
        VARIABLES
            .iter()
            .copied()
            .filter(|t| m.tag(t).is_some())
            .collect()
    }

    /// The InfluxQL, with Grafana's `$timeFilter`, `$__interval` and the variables.
    pub fn influxql(&self) -> String {
        let select: Vec<String> = self
            .columns
            .iter()
            .map(|(expr, alias)| format!("{expr} AS \"{alias}\""))
            .collect();
        let mut conditions: Vec<String> = self
            .tags()
            .iter()
            .map(|t| format!("\"{t}\" =~ /^${t}$/"))
            .collect();
        conditions.extend(self.filter.iter().map(|(k, v)| format!("\"{k}\" = '{v}'")));
        conditions.push("$timeFilter".into());
        let mut group = vec!["time($__interval)".to_owned()];
        group.extend(self.tags().iter().map(|t| format!("\"{t}\"")));
        group.extend(self.group_by.iter().map(|t| format!("\"{t}\"")));
        format!(
            "SELECT {} FROM \"{}\" WHERE {} GROUP BY {} fill(null)",
            select.join(", "),
            self.measurement,
            conditions.join(" AND "),
            group.join(", ")
        )
    }

    /// The legend: the grouping tags' values and the column.
    fn alias(&self) -> String {
        let mut parts: Vec<String> = self
            .tags()
            .iter()
            .filter(|t| **t != "test")
            .map(|t| format!("$tag_{t}"))
            .collect();
        parts.extend(self.group_by.iter().map(|t| format!("$tag_{t}")));
        if self.columns.len() > 1 {
            parts.push("$col".into());
        }
        parts.join(" ")
    }
}

/// A dashboard: its file name (without `.json`, also its uid), title, description and
/// panels.
pub struct Dashboard {
    pub file: String,
    pub title: String,
    pub description: String,
    pub panels: Vec<Panel>,
    /// One test's dashboard: `test` is a hidden constant, the other variables list
    /// only that test's agents and targets.
    pub test: Option<i64>,
}

fn aggregate(f: &ChartField) -> (String, String) {
    let label = if f.label.is_empty() { f.field } else { f.label };
    (
        format!("{}(\"{}\")", f.aggregate, f.field),
        label.to_owned(),
    )
}

fn chart_panel(c: &ChartDef) -> Panel {
    Panel {
        title: c.title.to_owned(),
        unit: c.unit,
        style: c.style,
        queries: vec![PanelQuery {
            measurement: c.measurement,
            columns: c.fields.iter().map(aggregate).collect(),
            filter: c.filter.to_vec(),
            group_by: c.group_by.into_iter().collect(),
        }],
    }
}

/// `fn(field)` over the fields of `measurement` named.
fn columns(measurement: &str, f: &str, fields: &[&str]) -> Vec<(String, String)> {
    let m = measurements::find(measurement).expect("a catalogued measurement");
    fields
        .iter()
        .map(|name| {
            assert!(m.field(name).is_some(), "{measurement} has no field {name}");
            (format!("{f}(\"{name}\")"), (*name).to_owned())
        })
        .collect()
}

fn query(measurement: &'static str, columns: Vec<(String, String)>) -> PanelQuery {
    PanelQuery {
        measurement,
        columns,
        filter: Vec::new(),
        group_by: Vec::new(),
    }
}

fn panel(title: &str, unit: &'static str, style: &'static str, q: PanelQuery) -> Panel {
    Panel {
        title: title.to_owned(),
        unit,
        style,
        queries: vec![q],
    }
}

/// Every dashboard: one per test kind from its charts (ping with its percentile
/// smoke), the agents' own health, the analytics findings, and the fleet overview.
pub fn dashboards() -> Vec<Dashboard> {
    let mut out: Vec<Dashboard> = TestKind::ALL.into_iter().map(kind_dashboard).collect();
    out.extend(fixed_dashboards());
    out
}

/// A test kind's dashboard: its charts.
pub fn kind_dashboard(kind: TestKind) -> Dashboard {
    let k = kind.def();
    let mut panels: Vec<Panel> = k.charts.iter().map(chart_panel).collect();
    if k.kind == TestKind::Ping {
        // The smoke: the percentiles of each agent's RTT, over the band.
        panels.insert(
            1,
            panel(
                "Round-trip time percentiles (smoke)",
                "ms",
                "band",
                query(
                    "ping",
                    vec![
                        ("min(\"rtt_min_ms\")".into(), "min".into()),
                        ("mean(\"rtt_p50_ms\")".into(), "p50".into()),
                        ("mean(\"rtt_p90_ms\")".into(), "p90".into()),
                        ("mean(\"rtt_p99_ms\")".into(), "p99".into()),
                        ("max(\"rtt_max_ms\")".into(), "max".into()),
                    ],
                ),
            ),
        );
        panels.push(panel(
            "Jitter",
            "ms",
            "line",
            query("ping", columns("ping", "mean", &["jitter_ms"])),
        ));
    }
    Dashboard {
        file: format!("streamswarm-{}", k.kind.as_str()),
        title: format!("StreamSwarm · {}", k.label),
        description: k.description.to_owned(),
        panels,
        test: None,
    }
}

/// One test's dashboard, ready to import: its kind's panels for that test only.
pub fn test_dashboard(kind: TestKind, id: i64, name: &str) -> Value {
    let mut d = kind_dashboard(kind);
    d.file = format!("streamswarm-test-{id}");
    d.title = format!("StreamSwarm · {name}");
    d.description = format!("The {} test {name:?} (id {id}).", kind.def().label);
    d.test = Some(id);
    d.to_json()
}

fn fixed_dashboards() -> Vec<Dashboard> {
    vec![
    Dashboard {
        file: "streamswarm-agent-self".into(),
        title: "StreamSwarm · Agent self-health".into(),
        description: "Each agent's own pipeline: backlog, drops, probe errors, scheduling lag and clock offset (agent_self, agent_drops).".into(),
        panels: vec![
            panel(
                "Oldest unsent point (delivery backlog)",
                "s",
                "line",
                query("agent_self", columns("agent_self", "max", &["oldest_unsent_age_s"])),
            ),
            panel(
                "Spool on disk",
                "bytes",
                "line",
                query("agent_self", columns("agent_self", "max", &["spool_bytes"])),
            ),
            panel(
                "Points dropped, by reason",
                "points",
                "bar",
                PanelQuery {
                    measurement: "agent_drops",
                    columns: vec![(
                        "non_negative_difference(max(\"points_total\"))".into(),
                        "dropped".into(),
                    )],
                    filter: Vec::new(),
                    group_by: vec!["reason"],
                },
            ),
            panel(
                "Probe errors and batches retried",
                "count",
                "bar",
                query(
                    "agent_self",
                    vec![
                        (
                            "non_negative_difference(max(\"probe_errors_total\"))".into(),
                            "probe errors".into(),
                        ),
                        (
                            "non_negative_difference(max(\"batches_retried_total\"))".into(),
                            "batches retried".into(),
                        ),
                    ],
                ),
            ),
            panel(
                "Probe scheduling lag (max)",
                "ms",
                "line",
                query("agent_self", columns("agent_self", "max", &["schedule_lag_max_ms"])),
            ),
            panel(
                "Clock offset (server − agent)",
                "ms",
                "line",
                query("agent_self", columns("agent_self", "mean", &["clock_offset_ms"])),
            ),
        ],
        test: None,
    },
    Dashboard {
        file: "streamswarm-analytics".into(),
        title: "StreamSwarm · Analytics findings".into(),
        description: "What the analytics process wrote: health per agent and test, anomalous points against the forecast band.".into(),
        panels: vec![
            panel(
                "Health (0 healthy, 1 degraded, 2 failing)",
                "level",
                "line",
                query("health", columns("health", "max", &["level"])),
            ),
            panel(
                "Open insights",
                "insights",
                "bar",
                query("health", columns("health", "max", &["open_insights"])),
            ),
            panel(
                "Forecast band",
                "ms",
                "band",
                PanelQuery {
                    measurement: "forecast",
                    columns: columns("forecast", "mean", &["lower", "expected", "upper"]),
                    filter: Vec::new(),
                    group_by: vec!["metric"],
                },
            ),
            panel(
                "Anomalous points: observed against expected",
                "ms",
                "line",
                PanelQuery {
                    measurement: "anomaly",
                    columns: columns("anomaly", "mean", &["observed", "expected"]),
                    filter: Vec::new(),
                    group_by: vec!["metric"],
                },
            ),
        ],
        test: None,
    },
    Dashboard {
        file: "streamswarm-fleet".into(),
        title: "StreamSwarm · Fleet overview".into(),
        description: "Every agent's paths at a glance: median RTT and loss per target, host CPU, delivery backlog, health.".into(),
        panels: vec![
            panel(
                "Median RTT per agent and target",
                "ms",
                "line",
                query("ping", columns("ping", "mean", &["rtt_p50_ms"])),
            ),
            panel(
                "Packet loss per agent and target",
                "%",
                "line",
                query("ping", columns("ping", "mean", &["loss_percent"])),
            ),
            panel(
                "Host CPU per agent",
                "%",
                "line",
                PanelQuery {
                    measurement: "host_cpu",
                    columns: columns("host_cpu", "mean", &["usage_percent"]),
                    filter: vec![("cpu", "total")],
                    group_by: Vec::new(),
                },
            ),
            panel(
                "Delivery backlog per agent",
                "s",
                "line",
                query("agent_self", columns("agent_self", "max", &["oldest_unsent_age_s"])),
            ),
            panel(
                "Health per agent (0 healthy, 1 degraded, 2 failing)",
                "level",
                "line",
                query("health", columns("health", "max", &["level"])),
            ),
        ],
        test: None,
    },
    ]
}

/// Grafana's unit id for a schema unit.
fn grafana_unit(unit: &str) -> &'static str {
    match unit {
        "ms" => "ms",
        "s" => "s",
        "%" => "percent",
        "bytes" => "bytes",
        "bytes/s" => "Bps",
        _ => "short",
    }
}

fn variable(tag: &str, measurement: &str, test: Option<i64>) -> Value {
    let has_test = measurements::find(measurement).is_some_and(|m| m.tag("test").is_some());
    if let (Some(id), "test") = (test, tag) {
        return json!({
            "name": "test",
            "type": "constant",
            "query": id.to_string(),
            "hide": 2,
            "current": {"text": id.to_string(), "value": id.to_string()},
            "options": [],
        });
    }
    let mut q = format!("SHOW TAG VALUES FROM \"{measurement}\" WITH KEY = \"{tag}\"");
    match test {
        // One test's agents and targets.
        Some(id) if has_test => q.push_str(&format!(" WHERE \"test\" = '{id}'")),
        // The targets of the tests chosen.
        None if tag == "target" && has_test => q.push_str(" WHERE \"test\" =~ /^$test$/"),
        _ => {}
    }
    json!({
        "name": tag,
        "label": tag,
        "type": "query",
        "datasource": {"type": "influxdb", "uid": "${datasource}"},
        "query": q,
        "refresh": 2,
        "multi": true,
        "includeAll": true,
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "hide": 0,
        "options": [],
    })
}

impl Dashboard {
    /// The dashboards' JSON (Grafana's dashboard model, schema version 39).
    pub fn to_json(&self) -> Value {
        // Variables: those of the first measurement that has them.
        let mut variables = vec![json!({
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "influxdb",
            "hide": 0,
            "options": [],
            "refresh": 1,
        })];
        for tag in VARIABLES {
            if let Some(q) = self
                .panels
                .iter()
                .flat_map(|p| &p.queries)
                .find(|q| q.tags().contains(&tag))
            {
                variables.push(variable(tag, q.measurement, self.test));
            }
        }
        let panels: Vec<Value> = self
            .panels
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let targets: Vec<Value> = p
                    .queries
                    .iter()
                    .zip(["A", "B", "C", "D"])
                    .map(|(q, id)| {
                        json!({
                            "refId": id,
                            "datasource": {"type": "influxdb", "uid": "${datasource}"},
                            "rawQuery": true,
                            "resultFormat": "time_series",
                            "query": q.influxql(),
                            "alias": q.alias(),
                        })
                    })
                    .collect();
                let bars = matches!(p.style, "bar" | "stacked");
                json!({
                    "id": i + 1,
                    "type": "timeseries",
                    "title": p.title,
                    "datasource": {"type": "influxdb", "uid": "${datasource}"},
                    "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
                    "fieldConfig": {
                        "defaults": {
                            "unit": grafana_unit(p.unit),
                            "custom": {
                                "drawStyle": if bars { "bars" } else { "line" },
                                "fillOpacity": match p.style { "band" => 10, "line" => 0, _ => 60 },
                                "lineWidth": 1,
                                "spanNulls": false,
                                "showPoints": "never",
                                "stacking": {"mode": if p.style == "stacked" { "normal" } else { "none" }, "group": "A"},
                            },
                        },
                        "overrides": [],
                    },
                    "options": {
                        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                        "tooltip": {"mode": "multi", "sort": "none"},
                    },
                    "targets": targets,
                })
            })
            .collect();
        json!({
            "uid": self.file,
            "title": self.title,
            "description": self.description,
            "tags": ["streamswarm"],
            "editable": true,
            "graphTooltip": 1,
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "timepicker": {},
            "timezone": "",
            "templating": {"list": variables},
            "annotations": {"list": []},
            "links": [],
            "panels": panels,
        })
    }
}

/// A dashboard query as Grafana's InfluxDB datasource sends it (InfluxQL mode): the
/// time filter as `time >= {from}ms and time <= {to}ms`, `$__interval` as `1m`, the
/// agent variable as agents 1 and 2, the test variable as `test`, the target as
/// 10.0.0.1 — multi-value variables as `(a|b)` regexes. For tests and benchmarks.
pub fn as_grafana_sends(query: &str, from_ms: i64, to_ms: i64, test: &str) -> String {
    query
        .replace(
            "$timeFilter",
            &format!("time >= {from_ms}ms and time <= {to_ms}ms"),
        )
        .replace("$__interval", "1m")
        .replace("$agent", "(1|2)")
        .replace("$test", &format!("({test})"))
        .replace("$target", "(10\\.0\\.0\\.1)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use streamswarm_schema::measurements::FieldType;

    /// Whether `field` is a numeric field of `measurement` (what a query may aggregate).
    fn numeric(measurement: &str, field: &str) -> bool {
        measurements::find(measurement)
            .and_then(|m| m.field(field))
            .is_some_and(|f| matches!(f.field_type, FieldType::Float | FieldType::Integer))
    }

    fn dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR)
    }

    #[test]
    fn dashboards_are_generated_from_the_schema() {
        let regenerate = std::env::var_os(REGENERATE).is_some();
        let mut stale = Vec::new();
        let mut names = Vec::new();
        for d in dashboards() {
            let text = serde_json::to_string_pretty(&d.to_json()).unwrap() + "\n";
            let path = dir().join(format!("{}.json", d.file));
            names.push(format!("{}.json", d.file));
            if regenerate {
                std::fs::create_dir_all(dir()).unwrap();
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        }
        assert!(
            stale.is_empty(),
            "stale dashboards (run `{REGENERATE}=1 cargo test --lib grafana`): {stale:?}"
        );
        // Nothing else in the folder.
        let mut present: Vec<String> = std::fs::read_dir(dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        present.sort();
        names.sort();
        assert_eq!(present, names);
    }

    #[test]
    fn every_query_names_numeric_fields_and_tags_of_its_measurement() {
        for d in dashboards() {
            for p in &d.panels {
                for q in &p.queries {
                    let m = measurements::find(q.measurement).unwrap();
                    for (expr, _) in &q.columns {
                        let field = expr
                            .rsplit('(')
                            .next()
                            .unwrap()
                            .trim_matches(|c| c == '"' || c == ')');
                        assert!(numeric(q.measurement, field), "{}: {expr}", d.file);
                    }
                    for (tag, _) in &q.filter {
                        assert!(m.tag(tag).is_some(), "{}: {tag}", d.file);
                    }
                    for tag in &q.group_by {
                        assert!(m.tag(tag).is_some(), "{}: {tag}", d.file);
                    }
                }
            }
        }
    }

    #[test]
    fn every_query_parses_with_influxdatas_parser() {
        let mut jsons: Vec<Value> = dashboards().iter().map(Dashboard::to_json).collect();
        jsons.push(test_dashboard(TestKind::Http, 7, "shop"));
        let mut n = 0;
        for d in &jsons {
            let panels = d["panels"].as_array().unwrap().iter();
            let targets = panels.flat_map(|p| p["targets"].as_array().unwrap().iter());
            let variables = d["templating"]["list"].as_array().unwrap().iter();
            let queries = targets
                .chain(variables.filter(|v| v["type"] == "query"))
                .map(|t| t["query"].as_str().unwrap());
            for q in queries {
                let sent = as_grafana_sends(q, 1_700_000_000_000, 1_700_021_600_000, "7");
                let parsed = influxdb_influxql_parser::parse_statements(&sent);
                assert!(
                    parsed.as_ref().is_ok_and(|s| s.len() == 1),
                    "{}: {sent}: {parsed:?}",
                    d["uid"]
                );
                n += 1;
            }
        }
        assert!(n >= 40, "{n} queries");
    }

    #[test]
    fn the_ping_dashboard_filters_on_its_variables() {
        let d = dashboards()
            .into_iter()
            .find(|d| d.file == "streamswarm-ping")
            .unwrap();
        let json = d.to_json();
        let vars: Vec<&str> = json["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(vars, ["datasource", "agent", "test", "target"]);
        assert_eq!(
            d.panels[0].queries[0].influxql(),
            "SELECT min(\"rtt_min_ms\") AS \"min\", mean(\"rtt_p50_ms\") AS \"median\", \
             max(\"rtt_max_ms\") AS \"max\" FROM \"ping\" WHERE \"agent\" =~ /^$agent$/ AND \
             \"test\" =~ /^$test$/ AND \"target\" =~ /^$target$/ AND $timeFilter GROUP BY \
             time($__interval), \"agent\", \"test\", \"target\" fill(null)"
        );
    }
}
