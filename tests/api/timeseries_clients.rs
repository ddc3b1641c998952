//! Third-party clients against the embedded write endpoints: InfluxData's official
//! Python `influxdb-client` (InfluxDB 2 API, `Authorization: Token …`) and the
//! `influxdb` package (InfluxDB 1.x API). Both write to a spawned app with an agent
//! token; the points read back exactly through the store's `Reader`.
//!
//! Credentials: `influxdb` (5.3.x) sends `username`/`password` as HTTP Basic auth
//! (`requests`' `auth=`), never as the `u`/`p` query parameters, so the token goes in as
//! the Basic password and `/write` accepts it (the server refuses credentials in URLs
//! by design).
//!
//! Needs `python3 -m pip install influxdb-client influxdb` (`scripts/test.sh` installs
//! them). Without them the test prints `SKIPPED` and passes, except under `CI=true`,
//! where it fails.

use crate::helpers::{Backend, spawn_app};
use std::collections::BTreeMap;
use streamswarm_tsdb::query::{Query, RawQuery, Row, Selector, Series, TimeRange, Value};

const PIP: &str = "python3 -m pip install influxdb-client influxdb";

const SCRIPT: &str = r#"
import sys
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
import influxdb

host, port, token, t = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

# InfluxDB 2 API: /api/v2/write, Authorization: Token.
with InfluxDBClient(url=f"http://{host}:{port}", token=token, org="x") as client:
    write = client.write_api(write_options=SYNCHRONOUS)
    write.write(bucket="b", record=Point("ping").tag("agent", "py v2").tag("target", "t,1")
                .field("rtt_avg_ms", 12.5).field("sent", 3).time(t, WritePrecision.NS))
    write.write(bucket="b", write_precision=WritePrecision.NS,
                record="ping,agent=py\\ v2,target=t\\,1 rtt_avg_ms=13.25,sent=4i,error=\"a \\\"b\\\"\" %d" % (t + 1000000000))

# InfluxDB 1.x API: /write, the token as the Basic-auth password.
v1 = influxdb.InfluxDBClient(host=host, port=port, username="agent", password=token, database="d")
ok = v1.write_points([
    {"measurement": "ping", "tags": {"agent": "py v1", "target": "t=2 ü"}, "time": t,
     "fields": {"rtt_avg_ms": 7.75, "sent": 5, "error": "x, y"}},
    {"measurement": "ping", "tags": {"agent": "py v1", "target": "t=2 ü"}, "time": t + 2000000000,
     "fields": {"rtt_avg_ms": 8.0, "sent": 6}},
], time_precision="n")
assert ok, "write_points failed"
print("written")
"#;

fn clients_installed() -> bool {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import influxdb_client, influxdb"])
        .output();
    match probe {
        Ok(out) if out.status.success() => true,
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the Python InfluxDB clients are missing and CI=true requires them: {PIP}")
        }
        _ => {
            println!(
                "SKIPPED: timeseries_clients: the Python InfluxDB clients are missing ({PIP})"
            );
            false
        }
    }
}

#[tokio::test]
async fn python_clients_write_and_the_reader_reads_back() {
    if !clients_installed() {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    // Free-form points: an operator token, as importers write.
    let agent = app.api_token(streamswarm_schema::Role::Operator).await;
    let t = (app.clock.now_ms() / 1000 - 60) * 1_000_000_000;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    // On a blocking thread: the server answers on this test's runtime meanwhile.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", SCRIPT, "127.0.0.1", &port, &agent, &t.to_string()])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let q = Query::Raw(RawQuery {
        selector: Selector {
            measurement: "ping".into(),
            filters: vec![],
            range: TimeRange {
                start_ns: t - 3_600_000_000_000,
                end_ns: t + 3_600_000_000_000,
            },
        },
        fields: vec!["rtt_avg_ms".into(), "sent".into(), "error".into()],
        group_by_tags: vec!["agent".into(), "target".into()],
        limit: 100,
    });
    let got = app.state.timeseries.reader().query(&q).await.unwrap();
    let s = 1_000_000_000;
    let series = |agent: &str, target: &str, rows: Vec<Row>| Series {
        name: "ping".into(),
        tags: BTreeMap::from([
            ("agent".to_owned(), agent.to_owned()),
            ("target".to_owned(), target.to_owned()),
        ]),
        columns: vec!["rtt_avg_ms".into(), "sent".into(), "error".into()],
        rows,
    };
    let row = |time_ns, rtt: f64, sent: i64, error: Option<&str>| Row {
        time_ns,
        values: vec![
            Some(Value::Float(rtt)),
            Some(Value::Integer(sent)),
            error.map(|e| Value::String(e.into())),
        ],
    };
    assert_eq!(
        got,
        vec![
            series(
                "py v1",
                "t=2 ü",
                vec![row(t, 7.75, 5, Some("x, y")), row(t + 2 * s, 8.0, 6, None)]
            ),
            series(
                "py v2",
                "t,1",
                vec![row(t, 12.5, 3, None), row(t + s, 13.25, 4, Some("a \"b\""))]
            ),
        ]
    );
    app.stop().await;
}

const QUERY_SCRIPT: &str = r#"
import json, sys
import influxdb

host, port, token, t = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
# The InfluxDB 1.x client's query(): GET /query, the token as the Basic-auth password.
c = influxdb.InfluxDBClient(host=host, port=port, username="grafana", password=token, database="streamswarm")
out = {}
rs = c.query('SELECT "rtt_avg_ms", "sent" FROM "ping" WHERE time >= %d AND time <= %d GROUP BY "agent"' % (t, t + 10**10), epoch="ns")
out["points"] = {k[1]["agent"]: list(v) for k, v in rs.items()}
rs = c.query('SELECT mean("rtt_avg_ms") FROM "ping" WHERE time >= %d AND time <= %d' % (t, t + 10**10))
out["mean"] = list(rs.get_points())
# POST, several statements, chunked answers of one row each.
rs = c.query('SHOW TAG VALUES FROM "ping" WITH KEY = "agent"; SELECT "sent" FROM "ping" WHERE time >= %d' % t,
             method="POST", chunked=True, chunk_size=1)
out["chunked"] = [list(r.get_points()) for r in rs]
out["databases"] = c.get_list_database()
out["measurements"] = c.get_list_measurements()
try:
    c.query('SELECT max("rtt_avg_ms") FROM "ping" GROUP BY time(1m) INTO "x"')
except Exception as e:
    out["error"] = type(e).__name__ + ": " + str(e)
print(json.dumps(out, sort_keys=True))
"#;

#[tokio::test]
async fn python_v1_client_queries_the_embedded_store() {
    if !clients_installed() {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let writer = app.api_token(streamswarm_schema::Role::Operator).await;
    let viewer = app.api_token(streamswarm_schema::Role::Viewer).await;
    let s = 1_000_000_000i64;
    let t = (app.clock.now_ms() / 1000 - 60) * s;
    let body = format!(
        "ping,agent=a rtt_avg_ms=10,sent=3i {t}\nping,agent=a rtt_avg_ms=20,sent=4i {}\nping,agent=b\\ c rtt_avg_ms=30,sent=5i {}\n",
        t + s,
        t + 2 * s
    );
    let resp = crate::helpers::bare_client()
        .post(app.url("/write?db=streamswarm"))
        .header("authorization", format!("Token {writer}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([
                "-c",
                QUERY_SCRIPT,
                "127.0.0.1",
                &port,
                &viewer,
                &t.to_string(),
            ])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = |time: i64, rtt: f64, sent: i64| serde_json::json!({"time": time, "rtt_avg_ms": rtt, "sent": sent});
    assert_eq!(
        got["points"],
        serde_json::json!({"a": [p(t, 10.0, 3), p(t + s, 20.0, 4)], "b c": [p(t + 2 * s, 30.0, 5)]})
    );
    assert_eq!(got["mean"][0]["mean"], serde_json::json!(20.0));
    assert_eq!(
        got["mean"][0]["time"].as_str().unwrap().len(),
        "2026-12-06T05:00:00Z".len()
    );
    // Chunks of one row: the tag values (2 rows) and the points (3 rows).
    let chunks = got["chunked"].as_array().unwrap();
    let rows: usize = chunks.iter().map(|c| c.as_array().unwrap().len()).sum();
    assert_eq!(rows, 5, "{got}");
    assert_eq!(
        got["databases"],
        serde_json::json!([{"name": "streamswarm"}])
    );
    assert_eq!(got["measurements"], serde_json::json!([{"name": "ping"}]));
    // INTO is refused, with InfluxDB's error shape, which the client raises.
    let e = got["error"].as_str().unwrap();
    assert!(e.contains("InfluxDBClientError"), "{e}");
    app.stop().await;
}
