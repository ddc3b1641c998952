//! The Flux analyst kit's InfluxQL equivalents (`flux/**/*.influxql`) against the real
//! InfluxDB 1.6.7: every statement must answer without error and with at least one row
//! holding a value, on two hours of points of every measurement, written as the agents
//! and the analytics process write them (`kit_lines`). The Flux scripts themselves are
//! checked by InfluxData's Flux language server in `tests/node/`.
//!
//! `influxql_kit()` and `kit_lines()` are public so that the embedded store's `/query`
//! can be held to the same statements on the same data.

use crate::helpers::{Backend, DropDb, influx_url, minute_now_ms, spawn_app};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use streamswarm_schema::Role;
use streamswarm_schema::measurements::{self, FieldType, MeasurementDef};

const MINUTE_MS: i64 = 60_000;
const MINUTES: i64 = 120;
const AGENTS: [&str; 3] = ["1", "2", "3"];

/// Every statement of the kit's InfluxQL files, in file order: (file relative to the
/// repository, statement). A file holds one statement or several separated by `;`;
/// lines starting with `--` are comments and are left out.
pub fn influxql_kit() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_influxql(&root.join("flux"), &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        for statement in statements(&text) {
            out.push((rel.clone(), statement));
        }
    }
    out
}

fn collect_influxql(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_influxql(&path, out);
        } else if path.extension().is_some_and(|e| e == "influxql") {
            out.push(path);
        }
    }
}

/// The statements of one InfluxQL file: comment lines dropped, split at `;`, each on one
/// line. The kit's statements hold no `;` in strings or regexes.
fn statements(text: &str) -> Vec<String> {
    let code: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    code.join("\n")
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

/// The tests and targets each test measurement's points carry.
fn tests_of(measurement: &str) -> &'static [(&'static str, &'static str)] {
    match measurement {
        "ping" => &[("1", "10.0.0.1"), ("4", "example.net")],
        "traceroute" | "traceroute_hop" => &[("2", "10.0.0.1")],
        "dns" => &[("5", "example.com")],
        "http" | "http_redirect" => &[("6", "https://example.com/")],
        "tcp" => &[("7", "example.com:443")],
        // Analytics findings are about the ping test's series.
        _ => &[("1", "10.0.0.1")],
    }
}

/// A plausible value for a tag other than agent, test and target.
fn tag_value(m: &MeasurementDef, tag: &str) -> &'static str {
    match tag {
        "cpu" => "total",
        "mount" => "/",
        "device" => "sda",
        "interface" => "eth0",
        "sensor" => "cpu_thermal",
        "resolver" => "192.0.2.53",
        "hop" | "step" => "1",
        "metric" => "ping.rtt_avg_ms",
        _ => m
            .tag(tag)
            .and_then(|t| t.def.values.first().copied())
            .unwrap_or("x"),
    }
}

/// The fields of one point: minute `k` of agent `agent`. Round-trip times around 20 ms
/// (agent 3 around 60 ms: the one that disagrees with the fleet), a lost echo every tenth
/// run, the traceroute path changing every half hour, counters rising; `error` fields
/// absent (the runs succeed).
fn fields(m: &MeasurementDef, agent: usize, k: i64) -> String {
    let rtt = if agent == 2 { 60.0 } else { 20.0 } + (k % 7) as f64;
    let lossy = k % 10 == 0;
    let second_path = (k / 30) % 2 == 1;
    let mut out = Vec::new();
    for f in m.fields {
        let value = match (f.field_type, m.name, f.name) {
            (_, _, "error") => continue,
            (_, "anomaly", "observed") => format!("{rtt}"),
            (_, "anomaly", "expected") | (_, "forecast", "expected") => "22".into(),
            (_, "anomaly", "score") => format!("{}", 4.5 + (k % 3) as f64),
            (_, "anomaly", "insight_id") => format!("{}i", 7 + agent),
            (_, "forecast", "lower") => "15".into(),
            (_, "forecast", "upper") => "30".into(),
            (_, "forecast", "level_percent") => "95".into(),
            (_, "health", "level") | (_, "health", "open_insights") => {
                format!("{}i", i64::from(k % 3 == 0))
            }
            (_, "ping", "sent") => "10i".into(),
            (_, "ping", "received") => format!("{}i", if lossy { 9 } else { 10 }),
            (_, "ping", "loss_percent") => format!("{}", if lossy { 10.0 } else { 0.0 }),
            (_, "ping", "duplicates") => "0i".into(),
            (_, "ping", "ttl") => "62i".into(),
            (FieldType::Float, _, n) if n.starts_with("rtt_") || n == "jitter_ms" => {
                format!("{rtt}")
            }
            (FieldType::Float, _, "usage_percent") => format!("{}", 10 + (k * 7) % 50),
            (FieldType::Float, _, n) if n.contains("error") => "0".into(),
            (FieldType::Float, _, _) => format!("{}", 1.5 + (k % 7) as f64),
            (FieldType::Integer | FieldType::Unsigned, _, _) => format!("{}i", k * 3),
            (FieldType::Bool, _, _) => "true".into(),
            (FieldType::String, "traceroute", "path_hash") => {
                let h = if second_path {
                    "9d4e1f0a7b3c5e28"
                } else {
                    "3f2a9c1d5e6b7a80"
                };
                format!("\"{h}\"")
            }
            (FieldType::String, "traceroute", "path") => {
                let via = if second_path { "10.9.0.1" } else { "10.8.0.1" };
                format!("\"192.168.1.1 {via} 10.0.0.1\"")
            }
            (FieldType::String, _, _) => "\"10.0.0.1\"".into(),
        };
        out.push(format!("{}={value}", f.name));
    }
    out.join(",")
}

/// Two hours of points, a minute apart up to a minute before `now_ms`, of every
/// measurement of the schema, for three agents; anomalies every tenth minute only, and
/// `health` both per agent (no `test` tag) and per agent and test.
pub fn kit_lines(now_ms: i64) -> String {
    let mut out = String::new();
    for m in measurements::CATALOGUE {
        for (a, agent) in AGENTS.iter().enumerate() {
            let pairs: &[(&str, &str)] = if m.tag("test").is_some() {
                tests_of(m.name)
            } else {
                &[("", "")]
            };
            let mut series = Vec::new();
            for (test, target) in pairs {
                let mut tags = String::new();
                for t in m.tags {
                    let name = t.def.name;
                    let value = match name {
                        "agent" => *agent,
                        "test" => *test,
                        "target" => *target,
                        _ => tag_value(m, name),
                    };
                    let _ = write!(tags, ",{name}={value}");
                }
                series.push(tags);
            }
            if m.name == "health" {
                series.push(format!(",agent={agent}"));
            }
            for tags in &series {
                for k in 0..MINUTES {
                    if m.name == "anomaly" && k % 10 != 5 {
                        continue;
                    }
                    let t = now_ms - (MINUTES - k) * MINUTE_MS;
                    let _ = writeln!(out, "{}{tags} {} {t}", m.name, fields(m, a, k));
                }
            }
        }
    }
    out
}

/// The rows of a `/query` answer's first result that hold at least one value besides
/// the time, or the error InfluxDB reported.
fn rows_with_values(body: &Value) -> Result<usize, String> {
    let result = &body["results"][0];
    if let Some(e) = result["error"].as_str().or(body["error"].as_str()) {
        return Err(e.to_owned());
    }
    Ok(result["series"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter(|row| row.as_array().unwrap()[1..].iter().any(|v| !v.is_null()))
        .count())
}

#[test]
fn the_kit_has_influxql_beside_every_flux_script_and_every_statement_parses() {
    let kit = influxql_kit();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut flux = Vec::new();
    collect_flux(&root.join("flux"), &mut flux);
    assert!(flux.len() >= 11, "{} Flux scripts", flux.len());
    for f in &flux {
        let influxql = f.with_extension("influxql");
        let rel = influxql.strip_prefix(root).unwrap().display().to_string();
        assert!(
            kit.iter().any(|(file, _)| *file == rel),
            "{rel}: missing, or no statement in it"
        );
    }
    for (file, statement) in &kit {
        let parsed = influxdb_influxql_parser::parse_statements(statement);
        assert!(
            parsed.as_ref().is_ok_and(|s| s.len() == 1),
            "{file}: {statement}: {parsed:?}"
        );
    }
}

fn collect_flux(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_flux(&path, out);
        } else if path.extension().is_some_and(|e| e == "flux") {
            out.push(path);
        }
    }
}

/// The strings that follow each `prefix` in `text`, up to the next `"` (`prefix` ends
/// with the opening quote).
fn quoted_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| text[i + prefix.len()..].split('"').next())
        .collect()
}

#[test]
fn the_kit_names_only_measurements_fields_and_tags_of_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let m_names: Vec<&str> = measurements::CATALOGUE.iter().map(|m| m.name).collect();
    let known = |name: &str| {
        measurements::CATALOGUE
            .iter()
            .any(|m| m.name == name || m.tag(name).is_some() || m.field(name).is_some())
    };
    // InfluxQL: every double-quoted identifier is a measurement, tag or field of the
    // schema, or an alias the same file gives with AS.
    let kit = influxql_kit();
    for (file, statement) in &kit {
        let aliases: Vec<&str> = kit
            .iter()
            .filter(|(f, _)| f == file)
            .flat_map(|(_, s)| quoted_after(s, "AS \""))
            .collect();
        let quoted = statement.split('"').skip(1).step_by(2);
        for name in quoted {
            assert!(
                known(name) || aliases.contains(&name),
                "{file}: \"{name}\" is not in schema/measurements.toml: {statement}"
            );
        }
    }
    // Flux: measurements compared with _measurement, fields with _field (of one of the
    // script's measurements), metrics as measurement.field.
    let mut flux = Vec::new();
    collect_flux(&root.join("flux"), &mut flux);
    for file in flux {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(root).unwrap().display();
        let used = quoted_after(&text, "r._measurement == \"");
        for m in &used {
            assert!(m_names.contains(m), "{rel}: no measurement {m}");
        }
        for f in quoted_after(&text, "r._field == \"") {
            assert!(
                used.iter()
                    .any(|m| measurements::find(m).unwrap().field(f).is_some()),
                "{rel}: none of {used:?} has a field {f}"
            );
        }
        for metric in quoted_after(&text, "r.metric == \"") {
            let (m, f) = metric.split_once('.').unwrap();
            assert!(
                measurements::find(m).is_some_and(|m| m.field(f).is_some()),
                "{rel}: no metric {metric}"
            );
        }
    }
}

#[test]
fn statements_split_at_semicolons_without_comments() {
    assert_eq!(
        statements("-- a; comment\nSELECT 1\n  FROM a;\n-- more\nSELECT 2 FROM b\n;\n"),
        ["SELECT 1 FROM a", "SELECT 2 FROM b"]
    );
}

#[tokio::test]
async fn every_influxql_equivalent_answers_with_rows_on_influxdb_and_the_embedded_store() {
    let Some(url) = influx_url("flux kit") else {
        return;
    };
    let guard = DropDb::create(&url, "fluxkit").await;
    let db = guard.1.clone();
    let client = reqwest::Client::new();
    let now_ms = minute_now_ms();
    let resp = client
        .post(url.join("write").unwrap())
        .query(&[("db", db.as_str()), ("precision", "ms")])
        .body(kit_lines(now_ms))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
    // The same points in a server's embedded store, read through its `/query`.
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let writer = app.api_token(Role::Operator).await;
    let viewer = app.api_token(Role::Viewer).await;
    let resp = client
        .post(app.url("/write?db=streamswarm&precision=ms"))
        .header("authorization", format!("Token {writer}"))
        .body(kit_lines(now_ms))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());

    let kit = influxql_kit();
    let mut failures = Vec::new();
    let mut unsupported = Vec::new();
    let embedded = url::Url::parse(&app.url("/")).unwrap();
    for (file, q) in &kit {
        for (name, base, db, token) in [
            ("InfluxDB", &url, db.as_str(), None),
            ("embedded", &embedded, "streamswarm", Some(&viewer)),
        ] {
            let mut req = client.post(base.join("query").unwrap()).form(&[
                ("db", db),
                ("q", q.as_str()),
                ("epoch", "ms"),
            ]);
            if let Some(t) = token {
                req = req.header("authorization", format!("Token {t}"));
            }
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            match rows_with_values(&body) {
                Ok(n) if status == 200 && n > 0 => {}
                // Known gap of the embedded store: top()/bottom() (issue 13's notes).
                Err(e)
                    if name == "embedded" && e.contains("not supported") && q.contains("top(") =>
                {
                    unsupported.push(format!("{file}: {e}"));
                }
                Ok(_) => failures.push(format!(
                    "{name}: {file}: no rows ({status}) for {q}: {body}"
                )),
                Err(e) => failures.push(format!("{name}: {file}: error ({status}) for {q}: {e}")),
            }
        }
    }
    app.stop().await;
    println!("refused by the embedded store as unsupported: {unsupported:#?}");
    assert!(unsupported.len() <= 2, "{unsupported:#?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(kit.len() >= 20, "{} statements", kit.len());
}
