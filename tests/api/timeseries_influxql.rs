//! The embedded store's `GET|POST /query` as an HTTP endpoint: InfluxDB 1.x's request
//! and answer shapes (errors, `epoch`, `chunked`, `pretty`, several statements) and its
//! credential rules. What it answers is `influxql_differential`'s subject.

use crate::helpers::{Backend, bare_client, spawn_app};
use serde_json::{Value, json};
use streamswarm_schema::Role;

async fn get(
    app: &crate::helpers::TestApp,
    query: &[(&str, &str)],
    auth: Option<String>,
) -> (u16, String) {
    let mut req = bare_client().get(app.url("/query")).query(query);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn query_speaks_influxdb_1x() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let writer = app.api_token(Role::Operator).await;
    let viewer = app.api_token(Role::Viewer).await;
    let token = || Some(format!("Token {viewer}"));
    let s = 1_000_000_000i64;
    let t = (app.clock.now_ms() / 60_000 - 10) * 60 * s;
    let body = format!(
        "cpu,host=a usage=1.5 {t}\ncpu,host=a usage=2.5 {}\ncpu,host=b usage=4i {}\n",
        t + s,
        t + 2 * s
    )
    .replace("usage=4i", "usage=4");
    let resp = bare_client()
        .post(app.url("/write?db=x"))
        .header("authorization", format!("Token {writer}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let range = format!("time >= {t} AND time <= {}", t + 10 * s);

    // Answers: RFC 3339 times by default, integers with `epoch`.
    let q = format!("SELECT mean(\"usage\") FROM \"cpu\" WHERE {range} GROUP BY \"host\"");
    let (status, body) = get(&app, &[("db", "streamswarm"), ("q", &q)], token()).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let series = &v["results"][0]["series"];
    assert_eq!(series[0]["tags"], json!({"host": "a"}));
    assert_eq!(series[0]["columns"], json!(["time", "mean"]));
    assert_eq!(series[0]["values"][0][1], json!(2.0));
    assert!(series[0]["values"][0][0].as_str().unwrap().ends_with('Z'));
    let (_, body) = get(
        &app,
        &[("db", "streamswarm"), ("q", &q), ("epoch", "s")],
        token(),
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["results"][0]["series"][1]["values"][0],
        json!([t / s, 4.0])
    );

    // Chunked: one JSON object per line, `partial` until a series' last chunk.
    let raw = format!("SELECT \"usage\" FROM \"cpu\" WHERE {range}");
    let (status, body) = get(
        &app,
        &[
            ("db", "streamswarm"),
            ("q", &raw),
            ("chunked", "true"),
            ("chunk_size", "2"),
        ],
        token(),
    )
    .await;
    assert_eq!(status, 200);
    let chunks: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(chunks.len(), 2, "{body}");
    assert_eq!(chunks[0]["results"][0]["series"][0]["partial"], json!(true));
    assert_eq!(
        chunks[0]["results"][0]["series"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(chunks[1]["results"][0]["series"][0]["partial"].is_null());

    // Several statements; one that fails ends the request's answers there, as InfluxDB
    // does, in the answer (200), not as an HTTP error.
    let (status, body) = get(
        &app,
        &[
            ("db", "streamswarm"),
            (
                "q",
                "SHOW MEASUREMENTS; SELECT top(\"usage\", 1) FROM \"cpu\"; SHOW DATABASES",
            ),
        ],
        token(),
    )
    .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{body}");
    assert_eq!(results[0]["series"][0]["values"], json!([["cpu"]]));
    let e = results[1]["error"].as_str().unwrap();
    assert!(e.contains("not supported") && e.contains("top()"), "{e}");

    // A statement needing a database, without `db`.
    let (_, body) = get(&app, &[("q", "SHOW MEASUREMENTS")], token()).await;
    assert!(body.contains("database name required"), "{body}");
    // Writes are not reads.
    let (_, body) = get(&app, &[("db", "x"), ("q", "DELETE FROM \"cpu\"")], token()).await;
    assert!(body.contains("only reads"), "{body}");

    // Request errors: 400 with InfluxDB's {"error": …}.
    for (query, says) in [
        (vec![("db", "x")], "missing required parameter \"q\""),
        (vec![("db", "x"), ("q", "SELEKT 1")], "error parsing query"),
        (
            vec![("db", "x"), ("q", "SHOW DATABASES"), ("epoch", "fortnight")],
            "epoch",
        ),
        (
            vec![
                ("db", "x"),
                ("q", "SHOW DATABASES"),
                ("chunked", "true"),
                ("chunk_size", "0"),
            ],
            "chunk_size",
        ),
    ] {
        let (status, body) = get(&app, &query, token()).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["error"].as_str().unwrap().contains(says),
            "{query:?}: {body}"
        );
    }

    // Credentials: in the Authorization header (Token, Bearer, or Basic with the token as
    // password, as InfluxDB 1.x clients send them); never in the URL; agents only write.
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("grafana:{viewer}"))
    };
    let ok = [("db", "x"), ("q", "SHOW DATABASES")];
    assert_eq!(get(&app, &ok, Some(format!("Basic {basic}"))).await.0, 200);
    assert_eq!(
        get(&app, &ok, Some(format!("Bearer {viewer}"))).await.0,
        200
    );
    assert_eq!(get(&app, &ok, None).await.0, 401);
    let (status, body) = get(
        &app,
        &[
            ("db", "x"),
            ("q", "SHOW DATABASES"),
            ("u", "grafana"),
            ("p", &viewer),
        ],
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(body.contains("credentials in the URL"), "{body}");
    assert!(!body.contains(&viewer));
    app.stop().await;
}
