//! HTTP/TLS truth in the network lab: two network namespaces (client, server) joined by
//! a veth pair on random 10.73.X.Y/30 and fd73:X:Y::/64 addresses, names in the
//! client's own `/etc/netns/<ns>/hosts` (so the probe and curl resolve through the same
//! getaddrinfo path), a test CA and its certificates made here with rcgen (valid,
//! expired, wrong host), and the `http_responder` example serving HTTP/1.1 and HTTP/2
//! with a server-side delay, redirects and a CONNECT proxy.
//!
//! Ground truth: `curl -w` run side by side against the same server from the same
//! namespace (phase timings, status, protocol, redirects, certificate verdicts) and
//! `openssl x509 -enddate` for the certificate's days left; for the TLS handshake,
//! the wire itself (a tcpdump capture in the client namespace). Timings are compared as
//! medians over several alternating runs of each (both are fresh processes; each
//! measures from its own request start), every cumulative mark within 1 ms.
//!
//! Needs root. When not root: fails under `CI=true`, otherwise each test prints
//! `SKIPPED` and passes.
#![cfg(target_os = "linux")]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Mutex, OnceLock};
use time::{Duration as TimeDuration, OffsetDateTime};

mod netlab;
use netlab::{Background, Netns, example, run};

/// Whether the lab can run here (panics under CI when it cannot); installs curl and
/// openssl when missing. The tests need no serialising: the guard is dropped.
fn lab() -> bool {
    netlab::lab(&[("curl", "curl"), ("openssl", "openssl")]).is_some()
}

/// The test CA and the server certificates it signed, as PEM files in `dir`.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

fn make_pki(v4: &str, v6: &str) -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "StreamSwarm Lab CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - TimeDuration::days(400);
    ca.not_after = now + TimeDuration::days(400);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    // Days left chosen a quarter day from a boundary so "rounded down" is unambiguous.
    let leaves: [(&str, Vec<String>, TimeDuration, TimeDuration); 3] = [
        (
            "good",
            [
                "good.sshttp.test".to_owned(),
                "good6.sshttp.test".to_owned(),
            ]
            .into_iter()
            .chain(series_names())
            .chain([v4.to_owned(), v6.to_owned()])
            .collect(),
            TimeDuration::days(-1),
            TimeDuration::days(30) + TimeDuration::hours(6),
        ),
        (
            "expired",
            vec!["expired.sshttp.test".into()],
            TimeDuration::days(-60),
            TimeDuration::days(-10) - TimeDuration::hours(6),
        ),
        (
            "wrong",
            vec!["somewhere-else.test".into()],
            TimeDuration::days(-1),
            TimeDuration::days(90) + TimeDuration::hours(6),
        ),
    ];
    for (name, sans, from, until) in leaves {
        let mut params = CertificateParams::new(sans.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, sans[0].clone());
        params
            .distinguished_name
            .push(DnType::OrganizationName, "StreamSwarm Lab");
        params.not_before = now + from;
        params.not_after = now + until;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
    }
    Pki { dir }
}

/// Client and server namespaces, certificates, and the servers:
/// - 443 valid certificate, HTTP/1.1 and HTTP/2 (IPv4 and IPv6)
/// - 8444 valid certificate, HTTP/1.1 only
/// - 8445 expired certificate, 8446 wrong-host certificate
/// - 80 plain HTTP (IPv4 and IPv6), 3128 a CONNECT / absolute-form proxy
struct Lab {
    v4: String,
    v6: String,
    pki: Pki,
    _servers: Vec<Background>,
    client: Netns,
    _server: Netns,
}

fn start(ns: &Netns, args: &[&str]) -> Background {
    let mut child = ns
        .realtime_command(&example("http_responder"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "READY",
        "http_responder {args:?} did not start"
    );
    Background(child)
}

impl Lab {
    fn new() -> Lab {
        let client = Netns::new("sshttp-c");
        let server = Netns::new("sshttp-s");
        let suffix = format!("{:08x}", rand::random::<u32>());
        let (end_c, end_s) = (format!("sshttp{suffix}c"), format!("sshttp{suffix}s"));
        // veth names are at most 15 bytes.
        let (end_c, end_s) = (end_c[..15].to_owned(), end_s[..15].to_owned());
        let (end_c, end_s) = if end_c == end_s {
            (format!("{}c", &end_c[..14]), format!("{}s", &end_s[..14]))
        } else {
            (end_c, end_s)
        };
        run(
            "ip",
            &[
                "link",
                "add",
                &end_c,
                "netns",
                &client.name,
                "type",
                "veth",
                "peer",
                "name",
                &end_s,
                "netns",
                &server.name,
            ],
        );
        let (x, y) = (rand::random::<u8>(), (rand::random::<u8>() % 64) * 4);
        let addr4 = |host: u8| format!("10.73.{x}.{}", y + host);
        let addr6 = |host: u8| format!("fd73:{x}:{y}::{host}");
        for (ns, end, host) in [(&client, &end_c, 1), (&server, &end_s, 2)] {
            ns.ip(&["addr", "add", &format!("{}/30", addr4(host)), "dev", end]);
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("{}/64", addr6(host)),
                "dev",
                end,
                "nodad",
            ]);
            ns.ip(&["link", "set", end, "up"]);
        }
        let (v4, v6) = (addr4(2), addr6(2));
        let (names4, names6): (Vec<String>, Vec<String>) =
            series_names().partition(|n| n.starts_with('n'));
        let hosts = format!(
            "127.0.0.1 localhost\n{v4} good.sshttp.test expired.sshttp.test wrong.sshttp.test plain.sshttp.test proxy.sshttp.test {}\n{v6} good6.sshttp.test {}\n",
            names4.join(" "),
            names6.join(" ")
        );
        // The proxy (in the server namespace) resolves the names too.
        client.set_hosts(&hosts);
        server.set_hosts(&hosts);
        let pki = make_pki(&v4, &v6);
        let (good, good_key) = (pki.path("good.pem"), pki.path("good.key"));
        let listen = |port: u16| vec![format!("{v4}:{port}"), format!("[{v6}]:{port}")];
        let mut servers = Vec::new();
        for (port, cert, key, extra) in [
            (443, good.clone(), good_key.clone(), None),
            (8444, good.clone(), good_key.clone(), Some("--h1-only")),
            (8445, pki.path("expired.pem"), pki.path("expired.key"), None),
            (8446, pki.path("wrong.pem"), pki.path("wrong.key"), None),
        ] {
            let mut args: Vec<String> = Vec::new();
            for l in listen(port) {
                args.extend(["--listen".into(), l]);
            }
            args.extend(["--cert".into(), cert, "--key".into(), key]);
            args.extend(extra.map(str::to_owned));
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            servers.push(start(&server, &refs));
        }
        let plain: Vec<String> = listen(80)
            .into_iter()
            .flat_map(|l| ["--listen".to_owned(), l])
            .collect();
        let refs: Vec<&str> = plain.iter().map(String::as_str).collect();
        servers.push(start(&server, &refs));
        servers.push(start(
            &server,
            &["--listen", &format!("{v4}:3128"), "--proxy"],
        ));
        Lab {
            v4,
            v6,
            pki,
            _servers: servers,
            client,
            _server: server,
        }
    }

    /// Runs `http_once` in the client namespace; its points must follow the schema.
    fn probe(&self, url: &str, params: Value) -> Value {
        let output = self
            .client
            .realtime_command(&example("http_once"))
            .args([url, "--params", &params.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "http_once failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["schema_violations"], json!([]), "{value}");
        record_fields(&value);
        value
    }

    /// Runs `http_once` once over several URLs (one process, runs in order).
    fn probe_many(&self, urls: &[String], params: &Value) -> Vec<Value> {
        let output = self
            .client
            .realtime_command(&example("http_once"))
            .args(urls)
            .args(["--params", &params.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "http_once failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let values: Vec<Value> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for value in &values {
            assert_eq!(value["schema_violations"], json!([]), "{value}");
            record_fields(value);
        }
        values
    }

    /// Runs one curl over several URLs (one transfer each): the `-w` outputs.
    fn curl_many(&self, urls: &[String], args: &[&str]) -> Vec<Vec<String>> {
        let mut command = self.client.realtime_command("curl");
        command.args(["-s", "--max-time", "10"]).args(args);
        for url in urls {
            command.args(["-o", "/dev/null", url]);
        }
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "curl {args:?} {urls:?}: {output:?}"
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    /// Runs curl in the client namespace: (exit code, `-w` output split on spaces).
    fn curl(&self, args: &[&str]) -> (i32, Vec<String>) {
        let output = self
            .client
            .realtime_command("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "10"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (
            output.status.code().unwrap_or(-1),
            text.split_whitespace().map(str::to_owned).collect(),
        )
    }
}

/// Field names seen per measurement over all runs of this test process.
fn seen() -> &'static Mutex<BTreeSet<String>> {
    static SEEN: OnceLock<Mutex<BTreeSet<String>>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
}

fn record_fields(value: &Value) {
    let mut seen = seen().lock().unwrap();
    for line in value["lines"].as_array().unwrap() {
        let line = line.as_str().unwrap();
        let measurement = line.split([',', ' ']).next().unwrap();
        // The field set sits between the first unescaped space and the timestamp;
        // lab values hold no `,`/`=` inside strings except URLs, handled by keys only.
        let fields = line.split_once(' ').unwrap().1;
        let fields = &fields[..fields.rfind(' ').unwrap()];
        for part in split_fields(fields) {
            let key = part.split('=').next().unwrap();
            seen.insert(format!("{measurement}.{key}"));
        }
    }
}

/// Splits a line-protocol field set on commas outside quoted strings.
fn split_fields(fields: &str) -> Vec<String> {
    let (mut out, mut current, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in fields.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                current.push(c);
            }
            '\\' => {
                escaped = true;
                current.push(c);
            }
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    out.push(current);
    out
}

fn point<'a>(value: &'a Value, measurement: &str) -> Vec<&'a str> {
    value["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .filter(|l| l.starts_with(&format!("{measurement},")))
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

const CURL_MARKS: &str = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total} %{http_code} %{http_version} %{size_download}";

/// Names of the timing series: `n1…` resolve to the server's IPv4 address, `m1…` to
/// its IPv6 address; the valid certificate names them all.
fn series_names() -> impl Iterator<Item = String> {
    (1..=NAMES).flat_map(|i| [format!("n{i}.sshttp.test"), format!("m{i}.sshttp.test")])
}

/// Compares the probe's curl-style marks with `curl -w`'s, side by side.
///
/// How: one `http_once` process and one `curl` process each request `url` (its host
/// `HOST` replaced by `n1…nRUNS` or `m1…` for IPv6: distinct names, so neither tool
/// reuses a connection or a cached DNS answer), three rounds alternating probe and
/// curl, the first one only warming the servers up.
/// The first transfer of each process is dropped: it pays one-time process costs
/// (curl's OpenSSL and CA store set-up, the probe's resolver thread) that a
/// long-running agent does not pay per run. Every cumulative mark's median over the
/// remaining runs must agree within 1 ms. Returns the probe's medians (ms).
///
/// Known offset: curl builds its OpenSSL context after the TCP connect (strace shows
/// the ClientHello leaving some time after `connect`), inside its time_appconnect, and
/// OpenSSL's handshake is slower than rustls'; the probe builds its TLS configuration
/// before its clock starts. Both tools time their own handshakes truthfully — a packet
/// capture shows curl's takes ~0.9 ms on the wire where the probe's takes ~0.46 ms,
/// each within 0.1 ms of what the tool reports (`the_tls_handshake_time_is_the_wires`,
/// the ground truth for appconnect). So the probe's appconnect reads 0.5–1.1 ms below
/// curl's, and appconnect alone is allowed 1.5 ms below curl (1 ms above, as every mark).
fn compare_with_curl(
    lab: &Lab,
    url: &str,
    ipv6: bool,
    params: Value,
    curl_args: &[&str],
) -> [f64; 5] {
    let prefix = if ipv6 { 'm' } else { 'n' };
    let urls: Vec<String> = (1..=RUNS)
        .map(|i| url.replace("HOST", &format!("{prefix}{i}.sshttp.test")))
        .collect();
    let https = url.starts_with("https:");
    let mut ours: Vec<[f64; 5]> = Vec::new();
    let mut theirs: Vec<[f64; 5]> = Vec::new();
    let mut curl_args = curl_args.to_vec();
    let format = format!("{CURL_MARKS}\n");
    curl_args.extend(["-w", &format]);
    for round in 0..3 {
        let values = lab.probe_many(&urls, &params);
        let outs = lab.curl_many(&urls, &curl_args);
        assert_eq!(outs.len(), urls.len(), "{outs:?}");
        if round == 0 {
            continue; // warms the servers up (their first connections, their threads)
        }
        for (value, out) in values.iter().zip(&outs).skip(1) {
            let result = &value["result"];
            assert!(result["error"].is_null(), "{value}");
            let exchange = &result["exchanges"][0];
            let marks = &exchange["marks"];
            let mark = |k: &str| marks[k].as_f64().unwrap();
            ours.push([
                mark("namelookup"),
                mark("connect"),
                if https { mark("appconnect") } else { 0.0 },
                mark("starttransfer"),
                mark("total"),
            ]);
            assert_eq!(out[5], exchange["status"].as_u64().unwrap().to_string());
            assert_eq!(out[6], exchange["http_version"].as_str().unwrap());
            assert_eq!(out[7], exchange["body_bytes"].as_u64().unwrap().to_string());
            let s = |i: usize| out[i].parse::<f64>().unwrap() * 1000.0;
            theirs.push([s(0), s(1), s(2), s(3), s(4)]);
        }
    }
    let names = [
        "namelookup",
        "connect",
        "appconnect",
        "starttransfer",
        "total",
    ];
    let mut medians = [0.0; 5];
    for (i, name) in names.iter().enumerate() {
        let (a_all, b_all): (Vec<f64>, Vec<f64>) = (
            ours.iter().map(|m| m[i]).collect(),
            theirs.iter().map(|m| m[i]).collect(),
        );
        let (a, b) = (median(a_all.clone()), median(b_all.clone()));
        eprintln!(
            "{url} {name}: probe {a:.3} ms, curl {b:.3} ms, Δ {:.3} ms",
            a - b
        );
        // appconnect: curl's reads high by its context build (see above), so the probe
        // may read up to 1.5 ms below it, never more than 1 ms above.
        let below = if *name == "appconnect" { 1.5 } else { 1.0 };
        assert!(
            (-below..=1.0).contains(&(a - b)),
            "{url} time_{name}: probe median {a:.3} ms vs curl {b:.3} ms over {} runs\nprobe {a_all:.3?}\ncurl  {b_all:.3?}",
            a_all.len()
        );
        medians[i] = a;
    }
    medians
}

/// Days from now to the certificate's end as `openssl x509 -enddate` reads it, floored.
fn openssl_days_left(pem: &Path) -> i64 {
    let out = run(
        "openssl",
        &["x509", "-enddate", "-noout", "-in", pem.to_str().unwrap()],
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let date = text.trim().strip_prefix("notAfter=").unwrap().to_owned();
    let epoch = run("date", &["-u", "-d", &date, "+%s"]);
    let not_after: i64 = String::from_utf8(epoch.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (not_after - now).div_euclid(86_400)
}

const RUNS: usize = 15;
/// Names per family: RUNS for the phase comparisons, ten three-host redirect chains.
const NAMES: usize = 30;

#[test]
fn phases_match_curl_over_h1_h2_and_plain_http_with_a_visible_ttfb() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    let url = "https://HOST/delay/25";
    let h2 = json!({"ca_file": ca, "http_version": "http2"});
    let m = compare_with_curl(&lab, url, false, h2, &["--cacert", &ca, "--http2"]);
    // The server's 25 ms delay sits between the handshake and the first byte.
    assert!(m[3] - m[2] >= 25.0, "{m:?}");
    let h1 = json!({"ca_file": ca, "http_version": "http1"});
    compare_with_curl(&lab, url, false, h1, &["--cacert", &ca, "--http1.1"]);
    // A server that offers only HTTP/1.1: auto ends up there, as curl does; a body
    // large enough for a visible transfer phase.
    let auto = json!({"ca_file": ca});
    let m = compare_with_curl(
        &lab,
        "https://HOST:8444/size/500000",
        false,
        auto,
        &["--cacert", &ca],
    );
    assert!(m[4] > m[3], "{m:?}");
    compare_with_curl(&lab, "http://HOST/delay/10", false, json!({}), &[]);
    // IPv6, by name and as a literal.
    compare_with_curl(
        &lab,
        "https://HOST/",
        true,
        json!({"ca_file": ca}),
        &["--cacert", &ca],
    );
    let literal = format!("https://[{}]/", lab.v6);
    let value = lab.probe(&literal, json!({"ca_file": ca}));
    assert!(value["result"]["error"].is_null(), "{value}");
    assert!(point(&value, "http")[0].contains("family=ipv6"), "{value}");
}

/// The TLS handshake on the wire, per connection to `port`, from a packet capture in
/// the client namespace: from the server's SYN-ACK arriving to the client's second
/// flight (its Finished, the first client segment with a payload after the
/// ClientHello) leaving, in ms, in connection order.
fn wire_handshakes(capture: &str, port: u16) -> Vec<f64> {
    // `1733389200.123456789 veth Out IP 10.73.1.1.40000 > 10.73.1.2.443: Flags [P.], …, length 517`
    struct Conn {
        client: String,
        synack: Option<f64>,
        finished: Option<f64>,
        payloads: usize,
    }
    let mut conns: Vec<Conn> = Vec::new();
    for line in capture.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(gt) = words.iter().position(|w| *w == ">") else {
            continue;
        };
        let (src, dst) = (words[gt - 1], words[gt + 1].trim_end_matches(':'));
        let t: f64 = words[0].parse().unwrap();
        let length: usize = line
            .rsplit_once("length ")
            .and_then(|(_, n)| n.trim().parse().ok())
            .unwrap_or(0);
        let from_client = dst.ends_with(&format!(".{port}"));
        let client = if from_client { src } else { dst }.to_owned();
        if line.contains("Flags [S],") && from_client {
            conns.push(Conn {
                client,
                synack: None,
                finished: None,
                payloads: 0,
            });
            continue;
        }
        let Some(c) = conns.iter_mut().rev().find(|c| c.client == client) else {
            continue;
        };
        if line.contains("Flags [S.]") && !from_client {
            c.synack = Some(t);
        } else if from_client && length > 0 {
            c.payloads += 1;
            if c.payloads == 2 {
                c.finished = Some(t);
            }
        }
    }
    conns
        .iter()
        .map(|c| match (c.synack, c.finished) {
            (Some(a), Some(b)) => (b - a) * 1000.0,
            _ => panic!(
                "connection from {}: no SYN-ACK or no second flight\n{capture}",
                c.client
            ),
        })
        .collect()
}

/// The probe's TLS handshake time (appconnect − connect) is the wire's: a packet
/// capture (tcpdump in the client namespace) times each handshake from the SYN-ACK to
/// the client's Finished, and the medians agree within 0.5 ms, over HTTP/1.1 and
/// HTTP/2. This is the ground truth for appconnect that `curl -w` cannot give: curl
/// builds its OpenSSL context inside its appconnect, so its handshake reads longer than
/// the wire's by that set-up (printed here beside the probe's).
#[test]
fn the_tls_handshake_time_is_the_wires() {
    if netlab::lab(&[("tcpdump", "tcpdump")]).is_none() || !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    for (port, version, curl_version) in [(8444, "http1", "--http1.1"), (443, "http2", "--http2")] {
        let urls: Vec<String> = (1..=RUNS)
            .map(|i| format!("https://n{i}.sshttp.test:{port}/"))
            .collect();
        let params = json!({"ca_file": ca, "http_version": version});
        lab.probe_many(&urls, &params); // warms the servers up
        let capture = |f: &dyn Fn() -> Vec<f64>| -> (Vec<f64>, Vec<f64>) {
            let out = tempfile::NamedTempFile::new().unwrap();
            let mut tcpdump = lab
                .client
                .realtime_command("tcpdump")
                .args([
                    "-i",
                    "any",
                    "-nn",
                    "-tt",
                    "--time-stamp-precision=nano",
                    "-l",
                ])
                .arg(format!("tcp port {port}"))
                .stdout(Stdio::from(out.reopen().unwrap()))
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Capturing once it says "listening on" (after a data-link-type line).
            let mut stderr = BufReader::new(tcpdump.stderr.take().unwrap());
            let mut said = String::new();
            while !said.contains("listening on") {
                let n = stderr.read_line(&mut said).unwrap();
                assert!(n > 0, "tcpdump did not start: {said}");
            }
            let measured = f();
            std::thread::sleep(std::time::Duration::from_millis(200));
            // SAFETY: kill with a pid of our own child.
            unsafe { libc::kill(tcpdump.id() as i32, libc::SIGINT) };
            tcpdump.wait().unwrap();
            let text = std::fs::read_to_string(out.path()).unwrap();
            (measured, wire_handshakes(&text, port))
        };
        let (ours, wire) = capture(&|| {
            lab.probe_many(&urls, &params)
                .iter()
                .map(|v| {
                    let marks = &v["result"]["exchanges"][0]["marks"];
                    marks["appconnect"].as_f64().unwrap() - marks["connect"].as_f64().unwrap()
                })
                .collect()
        });
        assert_eq!(ours.len(), wire.len(), "one connection per run: {wire:?}");
        let format = format!("{CURL_MARKS}\n");
        let (theirs, curl_wire) = capture(&|| {
            lab.curl_many(&urls, &["--cacert", &ca, curl_version, "-w", &format])
                .iter()
                .map(|o| (o[2].parse::<f64>().unwrap() - o[1].parse::<f64>().unwrap()) * 1000.0)
                .collect()
        });
        let (a, w) = (median(ours.clone()), median(wire.clone()));
        let (c, cw) = (median(theirs.clone()), median(curl_wire.clone()));
        eprintln!(
            "{version} TLS handshake: probe {a:.3} ms, its wire {w:.3} ms (Δ {:.3}); curl {c:.3} ms, its wire {cw:.3} ms (Δ {:.3})",
            a - w,
            c - cw
        );
        assert!(
            (a - w).abs() <= 0.5,
            "{version}: probe handshake median {a:.3} ms vs the wire's {w:.3} ms\nprobe {ours:.3?}\nwire  {wire:.3?}"
        );
    }
}

#[test]
fn certificate_details_and_days_are_exact_and_valid() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    let value = lab.probe(
        "https://good.sshttp.test/",
        json!({"ca_file": ca, "body_match": "hello from the .* lab"}),
    );
    let result = &value["result"];
    assert!(result["error"].is_null(), "{value}");
    assert_eq!(result["body_matched"], json!(true));
    let tls = &result["exchanges"][0]["tls"];
    assert_eq!(tls["verified"], json!(true), "{value}");
    assert_eq!(tls["version"], json!("TLSv1.3"));
    assert_eq!(tls["alpn"], json!("h2"));
    let cert = &tls["cert"];
    assert_eq!(
        cert["subject"],
        json!("CN=good.sshttp.test, O=StreamSwarm Lab")
    );
    assert_eq!(cert["issuer"], json!("CN=StreamSwarm Lab CA"));
    let expected = openssl_days_left(&lab.pki.dir.path().join("good.pem"));
    assert_eq!(expected, 30);
    assert_eq!(cert["days_left"], json!(expected), "{value}");
    let line = point(&value, "http")[0];
    for field in [
        "status=200i",
        "status_ok=true",
        "http_version=\"2\"",
        "cert_valid=true",
        "cert_days_left=30i",
        "tls_version=\"TLSv1.3\"",
        "tls_cipher=\"TLS_",
        "body_matched=true",
        "body_bytes=30i",
        "redirects=0i",
        "redirect_ms=0",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    // The cipher is the one OpenSSL's client negotiates with the same server too.
    let s_client = lab
        .client
        .realtime_command("sh")
        .args([
            "-c",
            &format!(
                "openssl s_client -connect good.sshttp.test:443 -servername good.sshttp.test -CAfile {ca} </dev/null 2>/dev/null | grep -E '^New, '"
            ),
        ])
        .output()
        .unwrap();
    let s_client = String::from_utf8_lossy(&s_client.stdout);
    let cipher = tls["cipher"].as_str().unwrap();
    assert!(s_client.contains(cipher), "{s_client} vs {cipher}");
}

#[test]
fn invalid_certificates_are_named_and_still_described() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    let cases = [
        (
            "https://expired.sshttp.test:8445/",
            true,
            "certificate rejected: expired",
        ),
        (
            "https://wrong.sshttp.test:8446/",
            true,
            "certificate rejected: wrong host",
        ),
        (
            "https://good.sshttp.test/",
            false,
            "certificate rejected: unknown CA",
        ),
    ];
    for (url, with_ca, error) in cases {
        let params = if with_ca {
            json!({"ca_file": ca})
        } else {
            json!({})
        };
        let value = lab.probe(url, params);
        let result = &value["result"];
        let text = result["error"].as_str().unwrap_or_default();
        eprintln!("{url}: {text}");
        assert!(text.starts_with(error), "{url}: {value}");
        if url.contains("wrong") {
            // The names the certificate does carry are in the message.
            assert!(text.ends_with("(it names somewhere-else.test)"), "{text}");
        }
        let exchange = &result["exchanges"][0];
        // Nothing was requested over a connection that failed verification.
        assert!(exchange["status"].is_null(), "{value}");
        assert_eq!(exchange["tls"]["verified"], json!(false));
        assert!(exchange["tls"]["cert"]["subject"].is_string(), "{value}");
        let line = point(&value, "http")[0];
        assert!(line.contains("cert_valid=false"), "{line}");
        assert!(line.contains("cert_error=\""), "{line}");
        // curl refuses the same certificate (60: peer certificate cannot be authenticated).
        let mut args = vec![];
        if with_ca {
            args.extend(["--cacert", ca.as_str()]);
        } else {
            args.extend(["--cacert", "/etc/ssl/certs/ca-certificates.crt"]);
        }
        args.push(url);
        let (code, _) = lab.curl(&args);
        assert_eq!(code, 60, "curl on {url}");
    }
    // Expired: the days are negative and exact.
    let value = lab.probe(
        "https://expired.sshttp.test:8445/",
        json!({"ca_file": ca, "verify_tls": false}),
    );
    let result = &value["result"];
    assert!(
        result["error"].is_null(),
        "without verify_tls the run goes on: {value}"
    );
    assert_eq!(result["exchanges"][0]["status"], json!(200));
    let expected = openssl_days_left(&lab.pki.dir.path().join("expired.pem"));
    assert_eq!(expected, -11);
    assert_eq!(
        result["exchanges"][0]["tls"]["cert"]["days_left"],
        json!(expected)
    );
    let line = point(&value, "http")[0];
    assert!(line.contains("cert_days_left=-11i"), "{line}");
    assert!(line.contains("cert_error=\"expired: "), "{line}");
}

#[test]
fn redirects_are_recorded_hop_by_hop() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    // http → https on another port → a chain of two on the same server.
    let start = format!(
        "http://plain.sshttp.test/to/{}",
        "https%3A%2F%2Fgood.sshttp.test%2Fredirect%2F2"
    );
    let value = lab.probe(&start, json!({"ca_file": ca}));
    let result = &value["result"];
    assert!(result["error"].is_null(), "{value}");
    let urls: Vec<&str> = result["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            start.as_str(),
            "https://good.sshttp.test/redirect/2",
            "https://good.sshttp.test/redirect/1",
            "https://good.sshttp.test/redirect/0",
        ]
    );
    let hops = point(&value, "http_redirect");
    assert_eq!(hops.len(), 3, "{value}");
    for (i, (hop, location)) in hops
        .iter()
        .zip([
            "https://good.sshttp.test/redirect/2",
            "/redirect/1",
            "/redirect/0",
        ])
        .enumerate()
    {
        assert!(hop.contains(&format!(",step={},", i + 1)), "{hop}");
        assert!(hop.contains("status=302i"), "{hop}");
        assert!(hop.contains(&format!("location=\"{location}\"")), "{hop}");
    }
    assert!(!hops[0].contains("tls_ms="), "{}", hops[0]);
    assert!(hops[1].contains("tls_ms="), "{}", hops[1]);
    let line = point(&value, "http")[0];
    assert!(line.contains("redirects=3i"), "{line}");
    assert!(
        line.contains("url=\"https://good.sshttp.test/redirect/0\""),
        "{line}"
    );
    // curl -L follows the same chain to the same place.
    let (code, out) = lab.curl(&[
        "-L",
        "--cacert",
        &ca,
        "-w",
        "%{num_redirects} %{url_effective} %{http_code}",
        &start,
    ]);
    assert_eq!(code, 0);
    assert_eq!(out, ["3", "https://good.sshttp.test/redirect/0", "200"]);
    // The run's total covers the redirects: the sum of the hops' durations and the
    // final request's.
    let total = value["total_ms"].as_f64().unwrap();
    let final_start = result["exchanges"][3]["started_ms"].as_f64().unwrap();
    assert!(total > final_start, "{value}");

    // Over the limit: an error naming it, the hops still recorded.
    let value = lab.probe(
        "https://good.sshttp.test/redirect/3",
        json!({"ca_file": ca, "max_redirects": 2}),
    );
    let error = value["result"]["error"].as_str().unwrap();
    assert!(error.starts_with("too many redirects"), "{error}");
    assert_eq!(point(&value, "http_redirect").len(), 2);
    // Not following: the 302 is the answer, and a 3xx counts as success.
    let value = lab.probe(
        "https://good.sshttp.test/redirect/3",
        json!({"ca_file": ca, "follow_redirects": false}),
    );
    assert!(value["result"]["error"].is_null(), "{value}");
    assert_eq!(value["result"]["exchanges"][0]["status"], json!(302));
}

#[test]
fn methods_headers_status_body_and_proxy() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    // POST with a body and a header, body_match on what the server echoed.
    let value = lab.probe(
        "https://good.sshttp.test/echo",
        json!({"ca_file": ca, "method": "POST", "body": "ping=1",
               "headers": ["X-Lab: yes"], "body_match": "^POST ping=1$"}),
    );
    assert!(value["result"]["error"].is_null(), "{value}");
    assert_eq!(value["result"]["body_matched"], json!(true));
    // HEAD: no body.
    let value = lab.probe(
        "https://good.sshttp.test/",
        json!({"ca_file": ca, "method": "HEAD"}),
    );
    assert_eq!(value["result"]["exchanges"][0]["body_bytes"], json!(0));
    // A body that does not match fails the run.
    let value = lab.probe(
        "http://plain.sshttp.test/",
        json!({"body_match": "goodbye"}),
    );
    let error = value["result"]["error"].as_str().unwrap();
    assert!(error.contains("does not match"), "{error}");
    assert!(point(&value, "http")[0].contains("body_matched=false"));
    // Status: 404 is not 2xx/3xx; an explicit list accepts it.
    let value = lab.probe("http://plain.sshttp.test/status/404", json!({}));
    let error = value["result"]["error"].as_str().unwrap();
    assert!(error.starts_with("unexpected status 404"), "{error}");
    assert!(point(&value, "http")[0].contains("status_ok=false"));
    let value = lab.probe(
        "http://plain.sshttp.test/status/404",
        json!({"expected_status": [404]}),
    );
    assert!(value["result"]["error"].is_null(), "{value}");
    // max_body_bytes stops the read; the transfer phase is then not reported.
    let value = lab.probe(
        "http://plain.sshttp.test/size/100000",
        json!({"max_body_bytes": 1000}),
    );
    let line = point(&value, "http")[0];
    assert!(line.contains("body_bytes=1000i"), "{line}");
    assert!(line.contains("body_truncated=true"), "{line}");
    assert!(!line.contains("transfer_ms="), "{line}");
    // HTTP/2 over cleartext when asked (prior knowledge), as curl's
    // --http2-prior-knowledge.
    let value = lab.probe(
        "http://plain.sshttp.test/",
        json!({"http_version": "http2"}),
    );
    assert_eq!(
        value["result"]["exchanges"][0]["http_version"],
        json!("2"),
        "{value}"
    );
    let (code, out) = lab.curl(&[
        "--http2-prior-knowledge",
        "-w",
        "%{http_version}",
        "http://plain.sshttp.test/",
    ]);
    assert_eq!((code, out), (0, vec!["2".to_owned()]));
    // A closed port: connection refused is the error.
    let value = lab.probe("http://plain.sshttp.test:9/", json!({}));
    let error = value["result"]["error"].as_str().unwrap();
    assert!(error.contains("refused"), "{error}");
    // Proxy: CONNECT for https, absolute form for http.
    let proxy = format!("http://{}:3128", lab.v4);
    for url in ["https://good.sshttp.test/", "http://plain.sshttp.test/"] {
        let value = lab.probe(url, json!({"ca_file": ca, "proxy": proxy}));
        assert!(value["result"]["error"].is_null(), "{url}: {value}");
        assert_eq!(value["result"]["exchanges"][0]["status"], json!(200));
        let address = value["result"]["exchanges"][0]["address"].as_str().unwrap();
        assert_eq!(address, format!("{}:3128", lab.v4));
    }
    // Timeout: the phase it stopped in is named.
    let value = lab.probe(
        "http://plain.sshttp.test/delay/2000",
        json!({"timeout_ms": 300}),
    );
    let error = value["result"]["error"].as_str().unwrap();
    assert!(
        error.starts_with("timeout: no complete answer within 300 ms (waiting for the response"),
        "{error}"
    );
}

/// Every field the schema declares for `http` and `http_redirect` is written by one of
/// these scenarios (the lead's schema check asks the same of every lab test).
#[test]
fn every_declared_field_is_written() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    for (url, params) in [
        (
            format!(
                "http://plain.sshttp.test/to/{}",
                "https%3A%2F%2Fgood.sshttp.test%2Fredirect%2F1"
            ),
            json!({"ca_file": ca, "body_match": "landed"}),
        ),
        (
            "https://expired.sshttp.test:8445/size/10".to_owned(),
            json!({"ca_file": ca, "verify_tls": false}),
        ),
        ("http://plain.sshttp.test/status/500".to_owned(), json!({})),
    ] {
        lab.probe(&url, params);
    }
    let seen = seen().lock().unwrap().clone();
    let mut missing = Vec::new();
    for m in streamswarm_schema::measurements::CATALOGUE
        .iter()
        .filter(|m| m.name == "http" || m.name == "http_redirect")
    {
        for f in m.fields {
            let key = format!("{}.{}", m.name, f.name);
            if !seen.contains(&key) {
                missing.push(key);
            }
        }
    }
    assert!(missing.is_empty(), "fields no scenario wrote: {missing:?}");
}

/// Redirect time and total over a chain of three hosts (so neither tool can reuse a
/// connection): the probe's `redirect_ms` and `total_ms` against curl -L's
/// `time_redirect` and `time_total`, medians within 1 ms, compared as
/// [`compare_with_curl`] does (one process each, first chain dropped, warm-up round).
#[test]
fn redirect_and_total_time_match_curl() {
    if !lab() {
        return;
    }
    let lab = Lab::new();
    let ca = lab.pki.path("ca.pem");
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let chains: Vec<String> = (0..NAMES / 3)
        .map(|i| {
            let host = |k: usize| format!("n{}.sshttp.test", 3 * i + k);
            let third = format!("https://{}/", host(3));
            let second = format!("https://{}/to/{}", host(2), enc(&third));
            format!("http://{}/to/{}", host(1), enc(&second))
        })
        .collect();
    let params = json!({"ca_file": ca});
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..3 {
        let values = lab.probe_many(&chains, &params);
        let outs = lab.curl_many(
            &chains,
            &[
                "-L",
                "--cacert",
                &ca,
                "-w",
                "%{time_redirect} %{time_total} %{num_redirects}\n",
            ],
        );
        if round == 0 {
            continue;
        }
        for (value, out) in values.iter().zip(&outs).skip(1) {
            let result = &value["result"];
            assert!(result["error"].is_null(), "{value}");
            assert_eq!(result["exchanges"].as_array().unwrap().len(), 3);
            assert_eq!(out[2], "2");
            let last = &result["exchanges"][2];
            ours.push([
                last["started_ms"].as_f64().unwrap(),
                value["total_ms"].as_f64().unwrap(),
            ]);
            let s = |i: usize| out[i].parse::<f64>().unwrap() * 1000.0;
            theirs.push([s(0), s(1)]);
        }
    }
    for (i, name) in ["redirect", "total"].iter().enumerate() {
        let a_all: Vec<f64> = ours.iter().map(|m| m[i]).collect();
        let b_all: Vec<f64> = theirs.iter().map(|m| m[i]).collect();
        let (a, b) = (median(a_all.clone()), median(b_all.clone()));
        eprintln!(
            "redirect chain {name}: probe {a:.3} ms, curl {b:.3} ms, Δ {:.3} ms",
            a - b
        );
        assert!(
            (a - b).abs() <= 1.0,
            "time_{name}: probe {a:.3} ms vs curl {b:.3} ms\nprobe {a_all:.3?}\ncurl  {b_all:.3?}"
        );
    }
}
