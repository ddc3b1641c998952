//! Traceroute paths: `traceroute` / `traceroute_hop` points written through `/write`
//! with the agent's own credential, taken in by the path tracker, read back through
//! `GET /api/v1/tests/{id}/paths` and the path page; with and without `[geoip]`
//! databases (tiny ones built here with MaxMind's Perl writer, Debian's
//! `libmaxmind-db-writer-perl`).

use crate::helpers::{TestApp, bare_client, status_json};
use crate::{both_backends, both_backends_with};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use streamswarm::config::Config;
use streamswarm_schema::Role;

const TARGET: &str = "203.0.113.50";

fn path_hash(path: &str) -> String {
    hex::encode(Sha256::digest(path.as_bytes()))[..16].to_owned()
}

/// A traceroute test assigned to a new agent: (test id, agent id, agent credential).
async fn traceroute_test(app: &TestApp, params: Value) -> (i64, i64, String) {
    let (agent, credential) = app.agent_token("edge-01").await;
    let op = app.api_token(Role::Operator).await;
    let (status, t) = status_json(
        app.with_token(Method::POST, "/api/v1/tests", &op)
            .json(
                &json!({"name": "trace web", "kind": "traceroute", "target": TARGET,
                "params": params, "schedule": {"interval_seconds": 60},
                "assignments": {"agents": [agent]}}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    (t["id"].as_i64().unwrap(), agent, credential)
}

/// One run's line protocol: the `traceroute` point and, when `hops` is given, a
/// `traceroute_hop` point per TTL, all stamped with the run's time (as the probe does).
fn run_lines(agent: i64, test: i64, at_ns: i64, path: &str, hops: Option<&[&str]>) -> String {
    let tags = format!("agent={agent},test={test},target={TARGET},protocol=icmp");
    let n = path.split_whitespace().count();
    let responding = path.split_whitespace().filter(|h| *h != "*").count();
    let reached = path.split_whitespace().last() == Some(TARGET);
    let mut out = format!(
        "traceroute,{tags} destination=\"{TARGET}\",reached={reached},{}responding_hops={responding}i,path=\"{path}\",path_hash=\"{}\",probes_sent={}i,duration_ms=12.5 {at_ns}\n",
        if reached {
            format!("hop_count={n}i,")
        } else {
            String::new()
        },
        path_hash(path),
        n * 3,
    );
    for (i, extra) in hops.unwrap_or(&[]).iter().enumerate() {
        out.push_str(&format!(
            "traceroute_hop,{tags},hop={} {extra} {at_ns}\n",
            i + 1
        ));
    }
    out
}

async fn write(app: &TestApp, credential: &str, body: String) {
    let resp = bare_client()
        .post(app.url("/write?db=d&precision=ns"))
        .header("authorization", format!("Token {credential}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(status, 204, "{}", resp.text().await.unwrap());
}

async fn paths_api(app: &TestApp, test: i64, query: &str) -> Value {
    let viewer = app.api_token(Role::Viewer).await;
    let (status, body) = status_json(
        app.with_token(
            Method::GET,
            &format!("/api/v1/tests/{test}/paths{query}"),
            &viewer,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

const PATH_A: &str = "10.75.0.1 203.0.113.2 * 203.0.113.50";
const PATH_B: &str = "10.75.0.1 198.51.100.7 * 203.0.113.50";
/// The new path's hop points: TTL 2 answered 4 of 5 (20 % loss), TTL 3 never answered.
const HOPS_B: [&str; 4] = [
    "address=\"10.75.0.1\",sent=5i,received=5i,loss_percent=0,rtt_min_ms=0.1,rtt_avg_ms=0.2,rtt_max_ms=0.3,rtt_stdev_ms=0.05,reply=\"time_exceeded\"",
    "address=\"198.51.100.7\",sent=5i,received=4i,loss_percent=20,rtt_min_ms=1.5,rtt_avg_ms=2,rtt_max_ms=2.5,rtt_stdev_ms=0.25,reply=\"time_exceeded\",mpls=\"16001/0/1/254\"",
    "sent=5i,received=0i,loss_percent=100",
    "address=\"203.0.113.50\",sent=5i,received=5i,loss_percent=0,rtt_min_ms=3,rtt_avg_ms=3.5,rtt_max_ms=4,rtt_stdev_ms=0.5,reply=\"echo_reply\"",
];

/// Two runs over path A, then the route swapped at TTL 2: path B. Written through the
/// server's `/write` with the agent's credential.
async fn route_change(app: &TestApp) -> (i64, i64, i64) {
    let (test, agent, credential) = traceroute_test(app, json!({"cycles": 5, "queries": 1})).await;
    let t0 = app.clock.now_ns();
    let (body, t_b) = route_change_lines(agent, test, t0);
    write(app, &credential, body).await;
    app.clock.advance(Duration::from_secs(30));
    streamswarm::paths::poll_once(&app.state).await.unwrap();
    (test, agent, t_b)
}

/// The line protocol of [`route_change`] and the time of the run with path B.
fn route_change_lines(agent: i64, test: i64, t0: i64) -> (String, i64) {
    let step = 10_000_000_000i64;
    let mut body = String::new();
    body.push_str(&run_lines(agent, test, t0, PATH_A, None));
    body.push_str(&run_lines(agent, test, t0 + step, PATH_A, None));
    // A failed run says nothing about the path and is skipped.
    body.push_str(&format!(
        "traceroute,agent={agent},test={test},target={TARGET},protocol=icmp reached=false,responding_hops=0i,path=\"\",path_hash=\"{}\",probes_sent=0i,error=\"no permission for raw sockets\" {}\n",
        path_hash(""),
        t0 + step + 1
    ));
    body.push_str(&run_lines(
        agent,
        test,
        t0 + 2 * step,
        PATH_B,
        Some(&HOPS_B),
    ));
    (body, t0 + 2 * step)
}

/// What the API must answer after [`route_change`]'s runs (no GeoIP databases).
fn assert_route_change_answer(body: &Value, agent: i64, t_b: i64) {
    assert_eq!(body["agent_id"], agent);
    let changes = body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{body}");
    assert_eq!(changes[0]["at"], t_b / 1_000_000);
    assert_eq!(
        changes[0]["diff"],
        json!([{"ttl": 2, "before": ["203.0.113.2"], "after": ["198.51.100.7"],
                "left": ["203.0.113.2"], "appeared": ["198.51.100.7"]}])
    );
    let runs: Vec<i64> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["runs"].as_i64().unwrap())
        .collect();
    assert_eq!(runs, [1, 2]);
    let hops = body["current"]["hops"].as_array().unwrap();
    assert_eq!(hops[1]["stats"]["loss_percent"], 20.0);
    assert_eq!(hops[1]["stats"]["mpls"], "16001/0/1/254");
    assert_eq!(hops[2]["addresses"], json!([]));
}

both_backends!(a_route_change_is_recorded_with_its_hop_diff, |app| async {
    let (test, agent, t_b) = route_change(&app).await;
    let body = paths_api(&app, test, "").await;
    assert_route_change_answer(&body, agent, t_b);
    assert_eq!(body["agents"], json!([agent]));
    assert_eq!(body["geoip"], json!({"asn": false, "city": false}));

    let changes = body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{body}");
    let c = &changes[0];
    assert_eq!(c["old_hash"], path_hash(PATH_A));
    assert_eq!(c["new_hash"], path_hash(PATH_B));
    assert_eq!(c["old_path"], PATH_A);
    assert_eq!(c["new_path"], PATH_B);
    assert_eq!(c["at"], t_b / 1_000_000);
    assert_eq!(
        c["diff"],
        json!([{"ttl": 2, "before": ["203.0.113.2"], "after": ["198.51.100.7"],
                "left": ["203.0.113.2"], "appeared": ["198.51.100.7"]}])
    );

    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["hash"], path_hash(PATH_B));
    assert_eq!(history[0]["runs"], 1);
    assert_eq!(history[1]["hash"], path_hash(PATH_A));
    assert_eq!(history[1]["runs"], 2, "the failed run is not counted");

    let cur = &body["current"];
    assert_eq!(cur["path"], PATH_B);
    let hops = cur["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 4);
    assert_eq!(hops[1]["ttl"], 2);
    assert_eq!(
        hops[1]["addresses"],
        json!([{"address": "198.51.100.7"}]),
        "no geoip: no fields"
    );
    assert_eq!(hops[1]["stats"]["loss_percent"], 20.0);
    assert_eq!(hops[1]["stats"]["received"], 4);
    assert_eq!(hops[1]["stats"]["rtt_stdev_ms"], 0.25);
    assert_eq!(hops[1]["stats"]["mpls"], "16001/0/1/254");
    assert_eq!(hops[2]["addresses"], json!([]), "a silent hop is a `*` row");
    assert_eq!(hops[2]["stats"]["loss_percent"], 100.0);
    assert!(hops[2]["stats"].get("rtt_avg_ms").is_none());

    // Polling again (a restart reads from the stored position) counts nothing twice.
    streamswarm::paths::poll_once(&app.state).await.unwrap();
    let again = paths_api(&app, test, &format!("?agent={agent}")).await;
    assert_eq!(again["history"], body["history"]);
    assert_eq!(again["changes"], body["changes"]);

    // The page shows the hop table, the schematic and the change.
    let viewer = app.api_token(Role::Viewer).await;
    let page = app
        .with_token(Method::GET, &format!("/tests/{test}/paths"), &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"hop-table\""));
    assert!(html.contains("198.51.100.7"));
    assert!(html.contains("16001/0/1/254"));
    assert!(html.contains("id=\"path-chain\""));
    assert!(
        html.contains("203.0.113.2"),
        "the diff names the hop that left"
    );
    assert!(
        html.contains("No hop has a known position"),
        "no city database: no map"
    );
    // The test page links to it.
    let test_page = app
        .with_token(Method::GET, &format!("/tests/{test}"), &viewer)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(test_page.contains(&format!("href=\"/tests/{test}/paths\"")));
});

// --- InfluxDB -------------------------------------------------------------------------

async fn influx_post(url: &url::Url, path: &str, form: &[(&str, &str)], body: String) {
    let resp = reqwest::Client::new()
        .post(url.join(path).unwrap())
        .query(form)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(
        status.is_success(),
        "{path}: {status} {}",
        resp.text().await.unwrap()
    );
}

/// The tracker reads through the `Reader`: a server configured with `[influx]` records
/// the same change from points written straight into the real InfluxDB 1.6.7.
async fn route_change_from_influxdb(backend: crate::helpers::Backend) {
    let Some(url) = crate::helpers::influx_url("paths") else {
        return;
    };
    let db = format!("streamswarm_paths_{:016x}", rand::random::<u64>());
    influx_post(
        &url,
        "query",
        &[("q", &format!("CREATE DATABASE \"{db}\""))],
        String::new(),
    )
    .await;
    let _drop = crate::helpers::DropDb(url.clone(), db.clone());
    let (u, d) = (url.to_string(), db.clone());
    let Some(app) = crate::helpers::spawn_app_with(backend, move |config| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("influx.toml");
        std::fs::write(
            &path,
            format!("[influx]\nurl = \"{u}\"\ndatabase = \"{d}\"\n"),
        )
        .unwrap();
        config.influx = Config::load(Some(&path)).unwrap().influx;
    })
    .await
    else {
        return;
    };
    assert!(app.state.timeseries.embedded().is_none());
    let (test, agent, _) = traceroute_test(&app, json!({})).await;
    let t0 = app.clock.now_ns();
    let (body, t_b) = route_change_lines(agent, test, t0);
    influx_post(&url, "write", &[("db", &db), ("precision", "ns")], body).await;
    streamswarm::paths::poll_once(&app.state).await.unwrap();
    let answer = paths_api(&app, test, "").await;
    assert_route_change_answer(&answer, agent, t_b);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_change_is_read_from_influxdb_sqlite() {
    route_change_from_influxdb(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_change_is_read_from_influxdb_postgres() {
    route_change_from_influxdb(crate::helpers::Backend::Postgres).await;
}

both_backends!(bad_requests_and_other_kinds, |app| async {
    let (test, _, _) = traceroute_test(&app, json!({})).await;
    let viewer = app.api_token(Role::Viewer).await;
    let get = |p: String| app.with_token(Method::GET, &p, &viewer).send();
    let (status, body) = status_json(
        get(format!("/api/v1/tests/{test}/paths?agent=x"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = status_json(get("/api/v1/tests/999999/paths".into()).await.unwrap()).await;
    assert_eq!(status, 404);
    // No run yet: no agent, no current path.
    let body = paths_api(&app, test, "").await;
    assert!(
        body.get("current").is_none() && body.get("agent_id").is_none(),
        "{body}"
    );
    assert_eq!(body["history"], json!([]));
});

both_backends_with!(
    only_the_newest_distinct_paths_are_kept,
    |c: &mut Config| c.paths.keep = 2,
    |app| async {
        let (test, agent, credential) = traceroute_test(&app, json!({})).await;
        let t0 = app.clock.now_ns();
        let mut body = String::new();
        for (i, p) in [
            "10.75.0.1 203.0.113.50",
            "10.75.0.2 203.0.113.50",
            "10.75.0.3 203.0.113.50",
            "10.75.0.1 203.0.113.50",
        ]
        .iter()
        .enumerate()
        {
            body.push_str(&run_lines(
                agent,
                test,
                t0 + i as i64 * 1_000_000_000,
                p,
                None,
            ));
        }
        write(&app, &credential, body).await;
        streamswarm::paths::poll_once(&app.state).await.unwrap();
        let body = paths_api(&app, test, "").await;
        let kept: Vec<&str> = body["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap())
            .collect();
        assert_eq!(kept, ["10.75.0.1 203.0.113.50", "10.75.0.3 203.0.113.50"]);
        // The first path was dropped when the third came; coming back, it starts over.
        assert_eq!(body["history"][0]["runs"], 1);
        assert_eq!(body["changes"].as_array().unwrap().len(), 3);
        // ECMP: a hop with two addresses, one replaced.
        let diff = &body["changes"][0]["diff"];
        assert_eq!(
            diff,
            &json!([{"ttl": 1, "before": ["10.75.0.3"], "after": ["10.75.0.1"], "left": ["10.75.0.3"], "appeared": ["10.75.0.1"]}])
        );
    }
);

// --- GeoIP ----------------------------------------------------------------------------

/// Builds a `.mmdb` in `dir` from a JSON spec with MaxMind's Perl writer.
fn mmdb(dir: &Path, name: &str, spec: Value) -> PathBuf {
    let out = dir.join(name);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/mmdb_writer.pl");
    let mut child = std::process::Command::new("perl")
        .arg(&script)
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("perl runs (apt-get install libmaxmind-db-writer-perl)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "mmdb_writer.pl failed (is libmaxmind-db-writer-perl installed?)"
    );
    out
}

/// GeoLite2's layout for ASN and city (nested names).
fn geolite2_dbs(dir: &Path) -> (PathBuf, PathBuf) {
    let asn = mmdb(
        dir,
        "GeoLite2-ASN.mmdb",
        json!({
            "database_type": "GeoLite2-ASN",
            "types": {"autonomous_system_number": "uint32", "autonomous_system_organization": "utf8_string"},
            "networks": [
                ["198.51.100.0/24", {"autonomous_system_number": 64500, "autonomous_system_organization": "Example Transit"}],
                ["203.0.113.0/24", {"autonomous_system_number": 64501, "autonomous_system_organization": "Example Hosting"}],
            ]
        }),
    );
    let city = mmdb(
        dir,
        "GeoLite2-City.mmdb",
        json!({
            "database_type": "GeoLite2-City",
            "types": {"country": "map", "iso_code": "utf8_string", "city": "map", "names": "map", "en": "utf8_string",
                      "location": "map", "latitude": "double", "longitude": "double"},
            "networks": [
                ["198.51.100.0/24", {"country": {"iso_code": "DE"}, "city": {"names": {"en": "Frankfurt am Main"}},
                                     "location": {"latitude": 50.1109, "longitude": 8.6821}}],
                ["203.0.113.0/24", {"country": {"iso_code": "NL"}, "city": {"names": {"en": "Amsterdam"}},
                                    "location": {"latitude": 52.3676, "longitude": 4.9041}}],
            ]
        }),
    );
    (asn, city)
}

/// ip-location-db's layout: the same ASN keys, places flat; files split by family (this
/// one the IPv6 ASN file).
fn ip_location_db_asn_v6(dir: &Path) -> PathBuf {
    mmdb(
        dir,
        "asn-ipv6.mmdb",
        json!({
            "database_type": "ip-location-db-asn",
            "types": {"autonomous_system_number": "uint32", "autonomous_system_organization": "utf8_string"},
            "networks": [["2001:db8::/32", {"autonomous_system_number": 64511, "autonomous_system_organization": "Flat Transit v6"}]]
        }),
    )
}

fn ip_location_db_dbs(dir: &Path) -> (PathBuf, PathBuf) {
    let asn = mmdb(
        dir,
        "asn.mmdb",
        json!({
            "database_type": "ip-location-db-asn",
            "types": {"autonomous_system_number": "uint32", "autonomous_system_organization": "utf8_string"},
            "networks": [["198.51.100.0/24", {"autonomous_system_number": 64510, "autonomous_system_organization": "Flat Transit"}]]
        }),
    );
    let city = mmdb(
        dir,
        "city.mmdb",
        json!({
            "database_type": "ip-location-db-city",
            "types": {"country_code": "utf8_string", "city": "utf8_string", "state1": "utf8_string",
                      "latitude": "double", "longitude": "double"},
            "networks": [["198.51.100.0/24", {"country_code": "FR", "city": "Paris", "state1": "Ile-de-France",
                                              "latitude": 48.8566, "longitude": 2.3522}]]
        }),
    );
    (asn, city)
}

fn geoip_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

both_backends_with!(
    hops_are_enriched_from_geolite2_databases,
    |c: &mut Config| {
        let dir = geoip_dir().join("geolite2");
        std::fs::create_dir_all(&dir).unwrap();
        let (asn, city) = geolite2_dbs(&dir);
        c.geoip.asn_db = Some(asn);
        c.geoip.city_db = Some(city);
        c.ui.map_tile_url = Some("https://tiles.example.org/{z}/{x}/{y}.png".into());
    },
    |app| async {
        let (test, _, _) = route_change(&app).await;
        let body = paths_api(&app, test, "").await;
        assert_eq!(body["geoip"], json!({"asn": true, "city": true}));
        let hops = body["current"]["hops"].as_array().unwrap();
        assert_eq!(
            hops[1]["addresses"],
            json!([{"address": "198.51.100.7", "asn": 64500, "org": "Example Transit", "country": "DE",
                    "city": "Frankfurt am Main", "lat": 50.1109, "lon": 8.6821}])
        );
        assert_eq!(hops[3]["addresses"][0]["asn"], 64501);
        assert_eq!(hops[3]["addresses"][0]["city"], "Amsterdam");
        assert_eq!(
            hops[0]["addresses"],
            json!([{"address": "10.75.0.1"}]),
            "not in the databases: no fields"
        );

        let viewer = app.api_token(Role::Viewer).await;
        let page = app
            .with_token(Method::GET, &format!("/tests/{test}/paths"), &viewer)
            .send()
            .await
            .unwrap();
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("img-src 'self' data: https://tiles.example.org;"),
            "{csp}"
        );
        let html = page.text().await.unwrap();
        assert!(html.contains("id=\"path-map\""));
        assert!(html.contains("data-tile-url=\"https://tiles.example.org/{z}/{x}/{y}.png\""));
        assert!(html.contains("AS64500"));
        assert!(html.contains("Frankfurt am Main, DE"));
        assert!(html.contains("vendor/leaflet.js"));
    }
);

both_backends_with!(
    hops_are_enriched_from_ip_location_db_databases,
    |c: &mut Config| {
        let dir = geoip_dir().join("ip-location-db");
        std::fs::create_dir_all(&dir).unwrap();
        let (asn, city) = ip_location_db_dbs(&dir);
        c.geoip.asn_db = Some(asn);
        c.geoip.city_db = Some(city);
        c.geoip.asn_db_ipv6 = Some(ip_location_db_asn_v6(&dir));
    },
    |app| async {
        let (test, _, _) = route_change(&app).await;
        let body = paths_api(&app, test, "").await;
        let hops = body["current"]["hops"].as_array().unwrap();
        assert_eq!(
            hops[1]["addresses"],
            json!([{"address": "198.51.100.7", "asn": 64510, "org": "Flat Transit", "country": "FR",
                    "city": "Paris", "lat": 48.8566, "lon": 2.3522}])
        );
        // IPv6 addresses are looked up in the IPv6 file, IPv4 ones in the other.
        let v6 = app.state.geoip.lookup("2001:db8::1".parse().unwrap());
        assert_eq!(
            (v6.asn, v6.org.as_deref()),
            (Some(64511), Some("Flat Transit v6"))
        );
        assert_eq!(v6.city, None, "no IPv6 city file: no city");
        let v4 = app.state.geoip.lookup("198.51.100.9".parse().unwrap());
        assert_eq!(v4.asn, Some(64510));
        // Without tiles the map is blank: the page names no other host.
        let viewer = app.api_token(Role::Viewer).await;
        let html = app
            .with_token(Method::GET, &format!("/tests/{test}/paths"), &viewer)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("id=\"path-map\""));
        assert!(!html.contains("data-tile-url"));
        assert!(!html.contains("https://"), "no outside URL on the page");
    }
);

#[test]
fn a_geoip_database_that_cannot_be_opened_names_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let not_mmdb = dir.path().join("asn.mmdb");
    std::fs::write(&not_mmdb, b"not a database").unwrap();
    for (key, path) in [
        ("GEOIP__ASN_DB", dir.path().join("missing.mmdb")),
        ("GEOIP__CITY_DB", not_mmdb.clone()),
    ] {
        let env = std::collections::HashMap::from([(
            format!("STREAMSWARM__{key}"),
            path.display().to_string(),
        )]);
        let err = Config::load_with_env(None, Some(env)).unwrap_err();
        let want = key.to_ascii_lowercase().replace("__", ".");
        assert!(err.contains(&want), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
    for bad in [
        "ftp://x/{z}/{x}/{y}",
        "https://tiles.example.org/tile.png",
        "https://x/{z}/{x}/{y}';",
    ] {
        let env = std::collections::HashMap::from([(
            "STREAMSWARM__UI__MAP_TILE_URL".to_owned(),
            bad.to_owned(),
        )]);
        let err = Config::load_with_env(None, Some(env)).unwrap_err();
        assert!(err.contains("ui.map_tile_url"), "{err}");
    }
}
