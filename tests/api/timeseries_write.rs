//! The InfluxDB-compatible write endpoints of the embedded time-series store, over HTTP:
//! statuses and error shapes as InfluxDB's, all-or-nothing batches, credentials.
//! Free-form points are written with an operator API token (an importer): agent
//! credentials write only their own schema points (`tests/api/hardening_writes.rs`).

use crate::both_backends;
use crate::both_backends_with;
use crate::helpers::{TestApp, bare_client};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use streamswarm_schema::Role;
use streamswarm_tsdb::query::{Query, RawQuery, Selector, TimeRange, Value as V};

/// `Authorization` header values.
fn token(t: &str) -> String {
    format!("Token {t}")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// POSTs `body` to `path_and_query`; returns the status, the body parsed as JSON (or
/// Null) and the raw text.
async fn post(
    app: &TestApp,
    path_and_query: &str,
    body: impl Into<reqwest::Body>,
    authorization: Option<&str>,
    encoding: Option<&str>,
) -> (u16, Value, String) {
    let mut req = bare_client().post(app.url(path_and_query)).body(body);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_default(),
        text,
    )
}

/// The v1 or v2 endpoint with `precision`.
fn endpoint(v2: bool, precision: &str) -> String {
    if v2 {
        format!("/api/v2/write?org=o&bucket=b&precision={precision}")
    } else {
        format!("/write?db=d&precision={precision}")
    }
}

/// Every stored value of `measurement`'s `field`, as (tags, time, value).
async fn values(
    app: &TestApp,
    measurement: &str,
    field: &str,
) -> Vec<(BTreeMap<String, String>, i64, V)> {
    let q = Query::Raw(RawQuery {
        selector: Selector {
            measurement: measurement.into(),
            filters: vec![],
            range: TimeRange {
                start_ns: i64::MIN + 2,
                end_ns: i64::MAX - 1,
            },
        },
        fields: vec![field.into()],
        group_by_tags: vec!["agent".into(), "host".into()],
        limit: 1_000_000,
    });
    let mut out = Vec::new();
    for s in app.state.timeseries.reader().query(&q).await.unwrap() {
        for r in s.rows {
            out.push((s.tags.clone(), r.time_ns, r.values[0].clone().unwrap()));
        }
    }
    out
}

both_backends!(
    both_endpoints_store_every_precision_with_and_without_gzip,
    |app| async {
        let agent = app.api_token(Role::Operator).await;
        let auth = token(&agent);
        // (v1 spelling, v2 spelling, nanoseconds per unit)
        let precisions = [
            ("n", "ns", 1i64),
            ("u", "us", 1_000),
            ("ms", "ms", 1_000_000),
            ("s", "s", 1_000_000_000),
        ];
        let mut expected = Vec::new();
        let mut i = 0i64;
        for (p1, p2, factor) in precisions {
            for v2 in [false, true] {
                for zipped in [false, true] {
                    i += 1;
                    let p = if v2 { p2 } else { p1 };
                    let body = format!("precision_check,host=h{i} v={i}i 1700000{i:03}\n");
                    let (status, _, text) = if zipped {
                        post(
                            &app,
                            &endpoint(v2, p),
                            gzip(body.as_bytes()),
                            Some(&auth),
                            Some("gzip"),
                        )
                        .await
                    } else {
                        post(&app, &endpoint(v2, p), body, Some(&auth), None).await
                    };
                    assert_eq!(status, 204, "{p} v2={v2} gzip={zipped}: {text}");
                    assert!(text.is_empty(), "204 has no body: {text}");
                    expected.push((format!("h{i}"), (1_700_000_000 + i) * factor, i));
                }
            }
        }
        // InfluxDB 1.x alone knows minutes and hours.
        for (p, factor) in [("m", 60_000_000_000i64), ("h", 3_600_000_000_000)] {
            i += 1;
            let body = format!("precision_check,host=h{i} v={i}i 400{i:03}");
            let (status, _, text) =
                post(&app, &endpoint(false, p), body.clone(), Some(&auth), None).await;
            assert_eq!(status, 204, "{p}: {text}");
            expected.push((format!("h{i}"), (400_000 + i) * factor, i));
            let (status, json, _) = post(&app, &endpoint(true, p), body, Some(&auth), None).await;
            assert_eq!(status, 400, "v2 has no precision {p}");
            assert_eq!(json["code"], "invalid");
            assert!(
                json["message"].as_str().unwrap().contains("precision"),
                "{json}"
            );
        }
        let mut got: Vec<(String, i64, i64)> = values(&app, "precision_check", "v")
            .await
            .into_iter()
            .map(|(tags, t, v)| {
                let V::Integer(v) = v else { panic!("{v:?}") };
                (tags["host"].clone(), t, v)
            })
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
    }
);

both_backends!(
    duplicates_overwrite_fields_and_merge_field_sets,
    |app| async {
        let agent = app.api_token(Role::Operator).await;
        let auth = token(&agent);
        let w = |body: &'static str| post(&app, "/write?db=d", body, Some(&auth), None);
        assert_eq!(
            w("dup,agent=a v=1,w=2 1000\ndup,agent=b v=10 1000").await.0,
            204
        );
        // Same series and time: v is overwritten, w kept (InfluxDB merges field sets).
        assert_eq!(w("dup,agent=a v=5 1000").await.0, 204);
        // Within one batch the last line wins; tag order does not make another series.
        assert_eq!(w("dup,agent=a v=6 2000\ndup,agent=a v=7 2000").await.0, 204);
        let v = values(&app, "dup", "v").await;
        let tags = |a: &str| {
            BTreeMap::from([
                ("agent".to_owned(), a.to_owned()),
                ("host".to_owned(), String::new()),
            ])
        };
        assert_eq!(
            v,
            vec![
                (tags("a"), 1000, V::Float(5.0)),
                (tags("a"), 2000, V::Float(7.0)),
                (tags("b"), 1000, V::Float(10.0)),
            ]
        );
        assert_eq!(
            values(&app, "dup", "w").await,
            vec![(tags("a"), 1000, V::Float(2.0))]
        );
    }
);

/// Bodies InfluxDB refuses, with the line that is wrong.
const MALFORMED: &[(&str, usize)] = &[
    ("bad v=1 1\nbad v= 2\nbad v=3 3", 2),
    ("bad v=1 1\n\n# comment\nnot line protocol\n", 4),
    ("bad,t v=1 1", 1),
    ("bad,a=1,a=2 v=1 1", 1),
    ("bad v=1i 1\nbad v=99999999999999999999i 2", 1),
    ("bad v=1 1\nbad v=99999999999999999999i 2", 2),
    ("bad v=1 99999999999999999999", 1),
    ("bad v=1 1 1", 1),
    ("bad v=\"unterminated 1", 1),
    ("bad v=1,w 1", 1),
    ("bad time=1 1", 1),
    ("bad,time=x v=1 1", 1),
    ("bad v=NaN 1", 1),
    ("bad v=tru 1", 1),
    ("bad\n", 1),
    ("bad sv=\"a\nb\" 1\nbad sv=x y", 3),
    ("bad v=1 1\nbad v=1i 2", 2),
    ("bad v=1 1\nbad w=2 2\nbad v=\"s\" 3", 3),
];

both_backends!(
    malformed_lines_get_400_naming_the_line_and_store_nothing,
    |app| async {
        let agent = app.api_token(Role::Operator).await;
        let auth = token(&agent);
        // Something already stored, which no refused write may touch.
        let (s, _, _) = post(
            &app,
            "/write?db=d",
            "bad v=0 1\nkeep,agent=a v=1 1",
            Some(&auth),
            None,
        )
        .await;
        assert_eq!(s, 204);
        let before = app.timeseries().dump().await.unwrap();
        for (body, line) in MALFORMED {
            for v2 in [false, true] {
                for zipped in [false, true] {
                    let (status, json, text) = if zipped {
                        post(
                            &app,
                            &endpoint(v2, "ns"),
                            gzip(body.as_bytes()),
                            Some(&auth),
                            Some("gzip"),
                        )
                        .await
                    } else {
                        post(&app, &endpoint(v2, "ns"), *body, Some(&auth), None).await
                    };
                    let what = format!("{body:?} (v2={v2}, gzip={zipped})");
                    assert_eq!(status, 400, "{what}: {text}");
                    let message = if v2 {
                        assert_eq!(json["code"], "invalid", "{what}: {text}");
                        json["message"].as_str()
                    } else {
                        json["error"].as_str()
                    }
                    .unwrap_or_else(|| panic!("{what}: not InfluxDB's error shape: {text}"));
                    assert!(
                        message.starts_with(&format!("line {line}: ")),
                        "{what}: the message must name line {line}: {message}"
                    );
                    assert_eq!(
                        app.timeseries().dump().await.unwrap(),
                        before,
                        "{what} changed the store"
                    );
                }
            }
        }
        // Every refusal is counted, by reason; every stored point too.
        let metrics = bare_client()
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counter = |name: &str| -> u64 {
            metrics
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
        };
        assert!(counter("streamswarm_timeseries_write_rejections_total{reason=\"parse\"}") >= 40);
        assert!(
            counter("streamswarm_timeseries_write_rejections_total{reason=\"type_conflict\"}") >= 4
        );
        assert_eq!(counter("streamswarm_timeseries_points_written_total"), 2);
        assert_eq!(counter("streamswarm_timeseries_values_written_total"), 2);
    }
);

both_backends!(type_conflicts_are_refused_whole, |app| async {
    let agent = app.api_token(Role::Operator).await;
    let auth = token(&agent);
    let (s, _, _) = post(
        &app,
        "/write?db=d",
        "typed v=1 1\ntyped,agent=a n=1i 1",
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(s, 204);
    let before = app.timeseries().dump().await.unwrap();
    for (body, line, input, existing) in [
        ("typed v=2 2\ntyped v=2i 3", 2, "integer", "float"),
        ("typed,agent=b n=1.5 2", 1, "float", "integer"),
        ("typed w=1 1\ntyped w=\"x\" 2", 2, "string", "float"),
        (
            "typed w=true 1\ntyped,agent=c w=1u 2",
            2,
            "unsigned",
            "boolean",
        ),
    ] {
        let (status, json, text) =
            post(&app, "/api/v2/write?bucket=b", body, Some(&auth), None).await;
        assert_eq!(status, 400, "{body}: {text}");
        let message = json["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("line {line}: field type conflict")),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "is type {input}, already exists as type {existing}"
            )),
            "{message}"
        );
        assert_eq!(app.timeseries().dump().await.unwrap(), before, "{body}");
    }
});

both_backends_with!(
    oversized_bodies_and_gzip_bombs_get_413,
    |c| {
        c.timeseries.max_write_bytes = 64 * 1024;
        c.timeseries.max_decompressed_bytes = 256 * 1024;
    },
    |app| async {
        let agent = app.api_token(Role::Operator).await;
        let auth = token(&agent);
        let before = app.timeseries().dump().await.unwrap();
        let line = "big,agent=a v=1 1\n";
        let big = line.repeat(64 * 1024 / line.len() + 1);
        for v2 in [false, true] {
            let (status, json, text) =
                post(&app, &endpoint(v2, "ns"), big.clone(), Some(&auth), None).await;
            assert_eq!(status, 413, "{text}");
            if v2 {
                assert_eq!(json["code"], "request too large");
            } else {
                assert!(json["error"].is_string(), "{text}");
            }
            // A stranger's large body is refused for its missing credentials, before
            // it is read at all.
            let (status, _, text) = post(&app, &endpoint(v2, "ns"), big.clone(), None, None).await;
            assert_eq!(status, 401, "{text}");
            // Chunked (no Content-Length) is cut off the same way.
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big
                .as_bytes()
                .chunks(4096)
                .map(|c| Ok(c.to_vec()))
                .collect();
            let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
            assert_eq!(
                post(&app, &endpoint(v2, "ns"), body, Some(&auth), None)
                    .await
                    .0,
                413
            );
            // 64 MiB of zeros gzip to ~64 KiB; inflating stops at the cap.
            let bomb = gzip(&vec![b'0'; 64 << 20]);
            assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
            let (status, _, text) =
                post(&app, &endpoint(v2, "ns"), bomb, Some(&auth), Some("gzip")).await;
            assert_eq!(status, 413, "{text}");
            // Under both limits: stored.
            let fits = line.repeat(1000);
            let (status, _, text) = post(
                &app,
                &endpoint(v2, "ns"),
                gzip(fits.as_bytes()),
                Some(&auth),
                Some("gzip"),
            )
            .await;
            assert_eq!(status, 204, "{text}");
        }
        let after = app.timeseries().dump().await.unwrap();
        assert_ne!(before, after);
        assert_eq!(app.timeseries().count_points().await.unwrap(), 1);
    }
);

both_backends!(bad_parameters_and_encodings_get_400, |app| async {
    let agent = app.api_token(Role::Operator).await;
    let auth = token(&agent);
    let body = "params v=1 1";
    for (path, needle) in [
        ("/write?db=d&precision=x", "invalid precision"),
        ("/write?db=d&precision=sec", "invalid precision"),
        ("/write", "database is required"),
        ("/write?db=", "database is required"),
    ] {
        let (status, json, text) = post(&app, path, body, Some(&auth), None).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(
            json["error"].as_str().unwrap().contains(needle),
            "{path}: {text}"
        );
    }
    for (path, needle) in [
        ("/api/v2/write?bucket=b&precision=n2", "invalid precision"),
        ("/api/v2/write?org=o", "bucket is required"),
    ] {
        let (status, json, text) = post(&app, path, body, Some(&auth), None).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert_eq!(json["code"], "invalid");
        assert!(
            json["message"].as_str().unwrap().contains(needle),
            "{path}: {text}"
        );
    }
    let (status, _, text) = post(&app, "/write?db=d", body, Some(&auth), Some("br")).await;
    assert_eq!(status, 400, "{text}");
    let (status, _, text) = post(
        &app,
        "/write?db=d",
        "not gzip at all",
        Some(&auth),
        Some("gzip"),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let (status, _, text) = post(
        &app,
        "/write?db=d",
        vec![b'p', b' ', 0xff, b'=', b'1'],
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(app.timeseries().count_points().await.unwrap(), 0);
    // An empty body is a successful write of nothing, as in InfluxDB.
    assert_eq!(
        post(&app, "/write?db=d", "", Some(&auth), None).await.0,
        204
    );
});

both_backends!(
    credentials_are_checked_like_influxdb_but_never_taken_from_urls,
    |app| async {
        let (agent_id, agent) = app.agent_token("cred").await;
        let (other_agent_id, other_agent) = app.agent_token("cred-2").await;
        // A point each agent may write (its own, in the schema).
        let own = |id: i64| format!("agent_drops,agent={id},reason=rejected points_total=0i 1");
        let body = own(agent_id);
        let basic = |secret: &str| {
            use base64::Engine;
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("any-user:{secret}"))
            )
        };
        // Accepted: every scheme InfluxDB clients use, agents and operator-or-better tokens.
        let operator = app.api_token(Role::Operator).await;
        let admin = app.api_token(Role::Admin).await;
        for auth in [
            token(&agent),
            format!("Bearer {agent}"),
            basic(&agent),
            token(&operator),
            format!("Bearer {admin}"),
            basic(&other_agent),
        ] {
            let body = if auth == basic(&other_agent) {
                own(other_agent_id)
            } else {
                body.clone()
            };
            for path in ["/write?db=d", "/api/v2/write?bucket=b"] {
                let (status, _, text) = post(&app, path, body.clone(), Some(&auth), None).await;
                assert_eq!(status, 204, "{path} with {}: {text}", &auth[..12]);
            }
        }
        let before = app.timeseries().dump().await.unwrap();
        let viewer = app.api_token(Role::Viewer).await;
        let mut forged = agent.clone();
        forged.replace_range(10..11, if &forged[10..11] == "a" { "b" } else { "a" });
        let refusals: Vec<(Option<String>, String, u16)> = vec![
            (None, String::new(), 401),
            (Some(token("ssw_agt_nonsense")), String::new(), 401),
            (Some(token(&forged)), String::new(), 401),
            (Some("Token".into()), String::new(), 401),
            (Some(basic("wrong")), String::new(), 401),
            (Some("Digest x".into()), String::new(), 401),
            (Some(token(&viewer)), String::new(), 403),
            // Credentials in the URL are refused even alongside a good header.
            (Some(token(&agent)), "&u=x&p=secret".into(), 401),
            (None, format!("&u=x&p={agent}"), 401),
            (None, format!("&token={agent}"), 401),
        ];
        for (auth, extra, expected) in &refusals {
            for (path, v2) in [("/write?db=d", false), ("/api/v2/write?bucket=b", true)] {
                let url = format!("{path}{extra}");
                let (status, json, text) =
                    post(&app, &url, body.clone(), auth.as_deref(), None).await;
                assert_eq!(status, *expected, "{url} {auth:?}: {text}");
                let message = if v2 { &json["message"] } else { &json["error"] };
                assert!(message.is_string(), "{text}");
                if extra.contains("p=") || extra.contains("token=") {
                    assert!(
                        message.as_str().unwrap().contains("Authorization header"),
                        "{text}"
                    );
                }
            }
        }
        // Revoking the agent or its credential ends its writes.
        let info = app
            .store()
            .token_by_hash(&streamswarm::auth::token::hash(&agent))
            .await
            .unwrap()
            .unwrap();
        app.store().revoke_token(info.id).await.unwrap();
        assert_eq!(
            post(
                &app,
                "/write?db=d",
                body.clone(),
                Some(&token(&agent)),
                None
            )
            .await
            .0,
            401
        );
        let now = app.clock.now_ms();
        app.store()
            .db()
            .execute(
                "UPDATE agents SET revoked_at = $1 WHERE id = $2",
                streamswarm::params![now, other_agent_id],
            )
            .await
            .unwrap();
        assert_eq!(
            post(
                &app,
                "/write?db=d",
                own(other_agent_id),
                Some(&token(&other_agent)),
                None
            )
            .await
            .0,
            401
        );
        assert_eq!(app.timeseries().dump().await.unwrap(), before);
        // A credential is never logged.
        let logs = crate::helpers::captured_logs();
        for secret in [&agent, &other_agent, &operator, &admin, &viewer] {
            assert!(
                !logs.contains(secret.as_str()),
                "a credential reached the log"
            );
        }
    }
);

both_backends!(ping_answers_like_influxdb, |app| async {
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let resp = bare_client()
            .request(method.clone(), app.url("/ping"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204, "{method}");
        assert!(resp.headers().contains_key("x-influxdb-version"));
    }
    // An empty `p=` is no credential in the URL.
    let agent = app.api_token(Role::Operator).await;
    let (status, _, text) = post(
        &app,
        "/write?db=d&u=&p=",
        "ping_p v=1 1",
        Some(&token(&agent)),
        None,
    )
    .await;
    assert_eq!(status, 204, "{text}");
});

both_backends!(agent_credentials_reach_no_other_route, |app| async {
    let (_, agent) = app.agent_token("nosy").await;
    for path in [
        "/api/v1/users",
        "/api/v1/me",
        "/api/v1/agents",
        "/api/v1/tokens",
    ] {
        let resp = bare_client()
            .get(app.url(path))
            .header("authorization", token(&agent))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
        let json: Value = resp.json().await.unwrap();
        assert_eq!(json["error"]["code"], "forbidden");
    }
});
