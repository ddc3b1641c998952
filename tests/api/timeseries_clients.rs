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
