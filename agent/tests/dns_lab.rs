//! DNS truth in the network lab: dnsmasq with known records in a namespace, `dig` run
//! side by side, and small servers written here (`fake_*`: a server that answers
//! SERVFAIL, one that never answers, a relay that delays every query) give the answers,
//! rcodes and times the probe must report.
//!
//! The probe runs as the `dns_once` example under `ip netns exec` in a client namespace;
//! servers live in a second one, joined by a veth pair on 10.72.X.Y/30 and
//! fd72:X:Y::/64 (namespaces `ssdns-<random>`). Nothing is sent outside them.
#![cfg(target_os = "linux")]

mod netlab;

use hickory_net::proto::op::{Message, MessageType, ResponseCode};
use netlab::{Background, Netns, ServerThread, example, lab, link, median};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PACKAGES: &[(&str, &str)] = &[("dig", "dnsutils"), ("dnsmasq", "dnsmasq-base")];

/// TTL dnsmasq gives its local records (`--local-ttl`).
const LOCAL_TTL: u32 = 300;

/// Fields of `dns` points the tests in this process saw written.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Two namespaces: the probe's (`client`) and the servers' (`server`).
struct Lab {
    client: Netns,
    server: Netns,
    link: netlab::Link,
}

impl Lab {
    fn new() -> Self {
        let (client, server) = (Netns::new("ssdns"), Netns::new("ssdns"));
        let link = link(&client, &server, 72, "ssd");
        Lab {
            client,
            server,
            link,
        }
    }

    /// Runs `dns_once` in the client namespace; its points must follow the schema.
    fn probe(&self, target: &str, params: Value) -> Value {
        self.probe_repeated(target, params, 1)
    }

    /// `dns_once --repeat`: the last of `repeat` runs in one process.
    fn probe_repeated(&self, target: &str, params: Value, repeat: u32) -> Value {
        self.probe_env(target, params, repeat, None)
    }

    /// `dns_once` with one environment variable set (e.g. `SSL_CERT_FILE`).
    fn probe_env(
        &self,
        target: &str,
        params: Value,
        repeat: u32,
        env: Option<(&str, &str)>,
    ) -> Value {
        let mut command = self.client.command(&example("dns_once"));
        if let Some((key, value)) = env {
            command.env(key, value);
        }
        let output = command
            .args([target, "--params", &params.to_string()])
            .args(["--repeat", &repeat.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "dns_once failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["schema_violations"], json!([]), "{value}");
        let mut seen = SEEN.lock().unwrap();
        for fields in value["fields"].as_array().unwrap() {
            for f in fields.as_array().unwrap() {
                seen.insert(f.as_str().unwrap().to_owned());
            }
        }
        value
    }

    /// The probe's one result for one resolver.
    fn probe_one(&self, target: &str, params: Value) -> Value {
        let value = self.probe(target, params);
        assert_eq!(value["results"].as_array().unwrap().len(), 1, "{value}");
        value["results"][0].clone()
    }

    /// Runs dig in the client namespace.
    fn dig(&self, server: &str, port: u16, args: &[&str]) -> Dig {
        let output = self
            .client
            .command("dig")
            .args([&format!("@{server}"), "-p", &port.to_string()])
            .args(["+noall", "+comments", "+answer", "+stats", "+tries=1"])
            .args(args)
            .output()
            .unwrap();
        Dig::parse(&String::from_utf8_lossy(&output.stdout))
    }
}

/// What dig printed.
#[derive(Debug, Default)]
struct Dig {
    status: String,
    flags: Vec<String>,
    /// Answer data (everything after name, TTL, class and type).
    answers: Vec<String>,
    ttls: Vec<u32>,
    query_time_ms: Option<u32>,
    /// With `-u`.
    query_time_us: Option<u32>,
    text: String,
}

impl Dig {
    fn parse(text: &str) -> Dig {
        let mut dig = Dig {
            text: text.to_owned(),
            ..Dig::default()
        };
        for line in text.lines() {
            if let Some(rest) = line.split("status: ").nth(1) {
                dig.status = rest.split(',').next().unwrap().to_owned();
            } else if let Some(rest) = line.strip_prefix(";; flags: ") {
                let flags = rest.split(';').next().unwrap();
                dig.flags = flags.split_whitespace().map(str::to_owned).collect();
            } else if let Some(rest) = line.strip_prefix(";; Query time: ") {
                let value = rest.split_whitespace().next().unwrap().parse().ok();
                if rest.ends_with("usec") {
                    dig.query_time_us = value;
                } else {
                    dig.query_time_ms = value;
                }
            } else if !line.starts_with(';') && !line.trim().is_empty() {
                // name TTL class type data…
                let mut rest = line;
                let mut words = Vec::new();
                for _ in 0..4 {
                    rest = rest.trim_start();
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    words.push(&rest[..end]);
                    rest = &rest[end..];
                }
                dig.ttls.push(words[1].parse().unwrap());
                dig.answers.push(rest.trim().to_owned());
            }
        }
        dig
    }
}

/// The probe's resolution time beside dig's `Query time` (`-u`, microseconds) for the
/// same server and transport, alternately over 7 runs each; returns both medians in ms.
/// For TCP, DoT and DoH both measure the query on an open connection (the probe's
/// `connect_time_ms` is reported apart). The probe runs twice per process and reports
/// the second run (a long-running agent's state).
fn time_beside_dig(
    lab: &Lab,
    params: Value,
    env: Option<(&str, &str)>,
    server: &str,
    port: u16,
    dig_flags: &[&str],
) -> (f64, f64) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let value = lab.probe_env("www.lab.test", params.clone(), 2, env);
        let r = &value["results"][0];
        assert_eq!(r["rcode"], json!("NOERROR"), "{r}");
        ours.push(r["time_ms"].as_f64().unwrap());
        let mut args = vec!["-u", "www.lab.test", "A"];
        args.extend_from_slice(dig_flags);
        let dig = lab.dig(server, port, &args);
        assert_eq!(dig.status, "NOERROR", "{}", dig.text);
        theirs.push(f64::from(dig.query_time_us.unwrap()) / 1e3);
    }
    let (ours_median, dig_median) = (median(&mut ours), median(&mut theirs));
    eprintln!(
        "{dig_flags:?}: resolution time median ours {ours_median:.3} ms, dig {dig_median:.3} ms \
         (difference {:.3} ms); ours {ours:.3?}, dig {theirs:.3?}",
        ours_median - dig_median
    );
    (ours_median, dig_median)
}

/// dnsmasq serving the lab's records on the server end of the link, v4 and v6.
fn dnsmasq(lab: &Lab, extra: &[String]) -> Background {
    let big_txt: Vec<String> = (0..8)
        .map(|i| format!("\"{}\"", "x".repeat(240) + &i.to_string()))
        .collect();
    let mut args: Vec<String> = vec![
        "-k".into(),
        "--conf-file=/dev/null".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        "--bind-interfaces".into(),
        format!("--listen-address={}", lab.link.b4),
        format!("--listen-address={}", lab.link.b6),
        "--user=root".into(),
        "--pid-file=".into(),
        format!("--local-ttl={LOCAL_TTL}"),
        "--local=/lab.test/".into(),
        // An authoritative zone for SOA and NS answers.
        "--auth-server=ns1.auth.test".into(),
        "--auth-zone=auth.test".into(),
        "--auth-soa=2026120501,hostmaster.auth.test".into(),
        format!("--auth-ttl={LOCAL_TTL}"),
        "--host-record=www.lab.test,10.72.200.1,fd72::200:1".into(),
        "--host-record=www.lab.test,10.72.200.2".into(),
        "--cname=alias.lab.test,www.lab.test".into(),
        "--mx-host=lab.test,mail.lab.test,10".into(),
        "--txt-record=txt.lab.test,\"hello world\",\"second \\\"quoted\\\"\"".into(),
        format!("--txt-record=big.lab.test,{}", big_txt.join(",")),
        "--srv-host=_sip._tcp.lab.test,sip.lab.test,5060,10,20".into(),
        // CAA 0 issue "letsencrypt.org" (dnsmasq has no CAA option; --dns-rr takes hex).
        "--dns-rr=caa.lab.test,257,000569737375656C657473656E63727970742E6F7267".into(),
    ];
    args.extend_from_slice(extra);
    let child = lab
        .server
        .command("dnsmasq")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Background(child);
    // Ready when it answers.
    for _ in 0..100 {
        let dig = lab.dig(&lab.link.b4, 53, &["www.lab.test", "+time=1"]);
        if dig.status == "NOERROR" {
            return server;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("dnsmasq did not start");
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn records_and_rcodes_equal_digs() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let _dnsmasq = dnsmasq(&lab, &[]);
    let server = lab.link.b4.clone();
    let cases = [
        ("www.lab.test", "A", "NOERROR"),
        ("www.lab.test", "AAAA", "NOERROR"),
        ("alias.lab.test", "A", "NOERROR"),
        ("alias.lab.test", "CNAME", "NOERROR"),
        ("lab.test", "MX", "NOERROR"),
        ("txt.lab.test", "TXT", "NOERROR"),
        ("_sip._tcp.lab.test", "SRV", "NOERROR"),
        ("caa.lab.test", "CAA", "NOERROR"),
        ("auth.test", "SOA", "NOERROR"),
        ("auth.test", "NS", "NOERROR"),
        ("10.72.200.1", "PTR", "NOERROR"),
        ("fd72::200:1", "PTR", "NOERROR"),
        ("nope.lab.test", "A", "NXDOMAIN"),
        // No upstream for names outside lab.test: dnsmasq refuses.
        ("example.com", "A", "REFUSED"),
    ];
    for (name, record_type, status) in cases {
        let ours = lab.probe_one(
            name,
            json!({"resolvers": [server], "record_type": record_type}),
        );
        let dig_args: Vec<&str> = if record_type == "PTR" {
            vec!["-x", name]
        } else {
            vec![name, record_type]
        };
        let dig = lab.dig(&server, 53, &dig_args);
        eprintln!(
            "{name} {record_type}: ours {} {:?}, dig {} {:?}",
            ours["rcode"], ours["answers"], dig.status, dig.answers
        );
        assert_eq!(dig.status, status, "{}", dig.text);
        assert_eq!(ours["rcode"], json!(status), "{ours}");
        // Same records (dnsmasq may rotate the order of a set between queries).
        let mut theirs = dig.answers.clone();
        let mut mine = strings(&ours["answers"]);
        theirs.sort();
        mine.sort();
        assert_eq!(mine, theirs, "{name} {record_type}: {ours} vs {}", dig.text);
        assert_eq!(ours["answer_count"], json!(dig.answers.len()), "{ours}");
        assert_eq!(ours["min_ttl_s"], json!(dig.ttls.iter().min()), "{ours}");
        if !dig.ttls.is_empty() {
            assert_eq!(ours["min_ttl_s"], json!(LOCAL_TTL));
        }
        assert_eq!(ours["truncated"], json!(false));
        assert_eq!(ours["transport"], json!("udp"));
        assert_eq!(ours["attempts"], json!(1));
        assert_eq!(ours["server"], json!(format!("{server}:53")));
        assert_eq!(ours["error"], Value::Null, "{ours}");
        assert!(ours["time_ms"].as_f64().unwrap() > 0.0, "{ours}");
        assert_eq!(
            ours["connect_time_ms"],
            Value::Null,
            "no connection over UDP"
        );
    }

    // Over IPv6 and over TCP, the same answer as dig's.
    let v6 = lab.probe_one(
        "www.lab.test",
        json!({"resolvers": [lab.link.b6], "record_type": "AAAA"}),
    );
    assert_eq!(strings(&v6["answers"]), vec!["fd72::200:1"], "{v6}");
    assert_eq!(v6["server"], json!(format!("[{}]:53", lab.link.b6)));
    let tcp = lab.probe_one(
        "lab.test",
        json!({"resolvers": [format!("{server}:53")], "record_type": "MX", "transport": "tcp"}),
    );
    let dig = lab.dig(&server, 53, &["lab.test", "MX", "+tcp"]);
    assert_eq!(strings(&tcp["answers"]), dig.answers, "{tcp}");
    assert_eq!(tcp["transport"], json!("tcp"));
    assert!(tcp["connect_time_ms"].as_f64().unwrap() > 0.0, "{tcp}");

    // Expected answers: found (names compared without the trailing dot) and not found.
    let both = lab.probe(
        "alias.lab.test",
        json!({"resolvers": [server, server], "expected": ["www.lab.test", "10.72.200.2"]}),
    );
    for r in both["results"].as_array().unwrap() {
        assert_eq!(r["expected_match"], json!(true), "{r}");
    }
    let missing = lab.probe_one(
        "www.lab.test",
        json!({"resolvers": [server], "expected": ["10.72.200.9"]}),
    );
    assert_eq!(missing["expected_match"], json!(false), "{missing}");

    // The system's resolvers: /etc/resolv.conf of the client namespace.
    lab.client
        .set_resolv_conf(&format!("search lab.test\nnameserver {server}\n"));
    let system = lab.probe("www.lab.test", json!({}));
    assert_eq!(system["results"][0]["resolver"], json!(server), "{system}");
    assert_eq!(system["results"][0]["rcode"], json!("NOERROR"));
    assert!(
        system["lines"][0]
            .as_str()
            .unwrap()
            .contains(&format!("resolver={server}"))
    );

    // Not supported / not usable resolvers are error points, not crashes.
    let url_for_udp = lab.probe_one(
        "www.lab.test",
        json!({"resolvers": ["https://dns.lab.test/q"]}),
    );
    assert!(
        url_for_udp["error"]
            .as_str()
            .unwrap()
            .contains("transport doh")
    );
    assert_eq!(url_for_udp["attempts"], json!(0));
}

/// A UDP server on the server namespace that answers each query with `rcode` (or, with
/// `None`, never answers), counting the queries it got and whether they asked for
/// recursion.
struct FakeServer {
    _thread: ServerThread,
    address: String,
    queries: Arc<AtomicU32>,
    rd: Arc<Mutex<Vec<bool>>>,
}

fn fake_server(lab: &Lab, rcode: Option<ResponseCode>) -> FakeServer {
    let port = 20_000 + rand::random::<u16>() % 20_000;
    let address = format!("{}:{port}", lab.link.b4);
    let (queries, rd) = (
        Arc::new(AtomicU32::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let (q, r, bind) = (Arc::clone(&queries), Arc::clone(&rd), address.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = ServerThread::start(&lab.server, move |stop| {
        let socket = UdpSocket::bind(&bind).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::SeqCst) {
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let Ok(mut message) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            q.fetch_add(1, Ordering::SeqCst);
            r.lock().unwrap().push(message.metadata.recursion_desired);
            if let Some(rcode) = rcode {
                message.metadata.message_type = MessageType::Response;
                message.metadata.response_code = rcode;
                let _ = socket.send_to(&message.to_vec().unwrap(), from);
            }
        }
    });
    ready_rx.recv().unwrap();
    FakeServer {
        _thread: thread,
        address,
        queries,
        rd,
    }
}

#[test]
fn fake_servfail_and_a_silent_server_with_retries() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let servfail = fake_server(&lab, Some(ResponseCode::ServFail));
    let (host, port) = servfail.address.rsplit_once(':').unwrap();
    let ours = lab.probe_one(
        "www.lab.test",
        json!({"resolvers": [servfail.address], "recursion_desired": false}),
    );
    let dig = lab.dig(host, port.parse().unwrap(), &["www.lab.test", "+norecurse"]);
    assert_eq!(dig.status, "SERVFAIL", "{}", dig.text);
    assert_eq!(ours["rcode"], json!("SERVFAIL"), "{ours}");
    assert_eq!(ours["answer_count"], json!(0));
    assert_eq!(ours["answers"], json!([]));
    assert_eq!(ours["min_ttl_s"], Value::Null);
    assert_eq!(
        ours["error"],
        Value::Null,
        "an answer, whatever its rcode, is no error"
    );
    // The RD bit as the test asked: ours (first) and dig's +norecurse both clear.
    assert_eq!(*servfail.rd.lock().unwrap(), vec![false, false]);
    let ours_rd = lab.probe_one("www.lab.test", json!({"resolvers": [servfail.address]}));
    assert_eq!(ours_rd["rcode"], json!("SERVFAIL"));
    assert_eq!(servfail.rd.lock().unwrap().last(), Some(&true));

    // A server that never answers: 1 + retries queries, each waited for, then an error.
    let silent = fake_server(&lab, None);
    let ours = lab.probe_one(
        "www.lab.test",
        json!({"resolvers": [silent.address], "timeout_ms": 100, "retries": 2}),
    );
    assert_eq!(silent.queries.load(Ordering::SeqCst), 3, "{ours}");
    assert_eq!(ours["attempts"], json!(3));
    assert_eq!(ours["rcode"], Value::Null);
    assert_eq!(ours["time_ms"], Value::Null);
    assert_eq!(ours["server"], Value::Null);
    assert_eq!(ours["truncated"], Value::Null);
    let error = ours["error"].as_str().unwrap();
    assert!(error.contains("no answer within 100 ms"), "{error}");
}

#[test]
fn truncated_udp_answer_is_asked_again_over_tcp() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let _dnsmasq = dnsmasq(&lab, &[]);
    let server = lab.link.b4.clone();
    // The record (8 × 241 bytes) does not fit the 1,232 bytes both clients advertise.
    let udp_only = lab.dig(&server, 53, &["big.lab.test", "TXT", "+ignore"]);
    assert!(
        udp_only.flags.contains(&"tc".to_owned()),
        "{}",
        udp_only.text
    );
    let dig = lab.dig(&server, 53, &["big.lab.test", "TXT"]);
    assert_eq!(dig.answers.len(), 1, "{}", dig.text);
    let ours = lab.probe_one(
        "big.lab.test",
        json!({"resolvers": [server], "record_type": "TXT"}),
    );
    assert_eq!(ours["truncated"], json!(true), "{ours}");
    assert_eq!(ours["transport"], json!("tcp"));
    assert_eq!(ours["attempts"], json!(2));
    assert!(ours["connect_time_ms"].as_f64().unwrap() > 0.0, "{ours}");
    assert_eq!(ours["rcode"], json!("NOERROR"));
    assert_eq!(strings(&ours["answers"]), dig.answers);
    // The answers field is bounded: cut at an answer boundary.
    let line = ours_line(&lab, &server);
    let answers = line.split("answers=\"").nth(1).unwrap();
    let answers = &answers[..answers.find("\",").unwrap()];
    assert!(answers.ends_with(" …"), "{line}");
    assert!(answers.len() <= 1024 + " …".len() + 64, "{line}");
}

fn ours_line(lab: &Lab, server: &str) -> String {
    let value = lab.probe(
        "big.lab.test",
        json!({"resolvers": [server], "record_type": "TXT"}),
    );
    value["lines"][0].as_str().unwrap().to_owned()
}

/// A UDP relay on the server namespace that holds every query `delay` before passing it
/// to `upstream` and the answer back. It records, per query, how long it held it: from
/// receiving the query to sending the answer back (its delay, its scheduling and the
/// upstream's answer time).
fn delay_relay(
    lab: &Lab,
    upstream: String,
    delay: Duration,
) -> (ServerThread, String, Arc<Mutex<Vec<f64>>>) {
    let port = 20_000 + rand::random::<u16>() % 20_000;
    let address = format!("{}:{port}", lab.link.b4);
    let bind = address.clone();
    let held = Arc::new(Mutex::new(Vec::new()));
    let held_by_relay = Arc::clone(&held);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = ServerThread::start(&lab.server, move |stop| {
        let socket = UdpSocket::bind(&bind).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let out = UdpSocket::bind("0.0.0.0:0").unwrap();
        out.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        out.connect(&upstream).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 4096];
        while !stop.load(Ordering::SeqCst) {
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let received = Instant::now();
            std::thread::sleep(delay);
            out.send(&buf[..len]).unwrap();
            let mut answer = [0u8; 4096];
            if let Ok(n) = out.recv(&mut answer) {
                let hold = received.elapsed();
                let _ = socket.send_to(&answer[..n], from);
                held_by_relay.lock().unwrap().push(hold.as_secs_f64() * 1e3);
            }
        }
    });
    ready_rx.recv().unwrap();
    (thread, address, held)
}

/// The probe's resolution time against dig's, through a relay that holds each query
/// 40 ms. dig runs with `-u` (Query time in microseconds: without it dig prints whole
/// milliseconds). The relay's own hold time varies by a few ms from query to query on a
/// busy machine, and each client sees it in full, so the comparison is made on what each
/// client adds to the relay's hold time (client time − hold time of that very query):
/// the medians of the two over alternating runs must be within 1 ms. Both must also
/// reach the relay's delay, the floor of any honest time.
#[test]
fn delayed_resolver_time_is_within_1_ms_of_digs() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let _dnsmasq = dnsmasq(&lab, &[]);
    let delay = Duration::from_millis(40);
    let (_relay, address, held) = delay_relay(&lab, format!("{}:53", lab.link.b4), delay);
    let (host, port) = address.rsplit_once(':').unwrap();
    let last_hold = || *held.lock().unwrap().last().unwrap();
    let (mut ours, mut theirs, mut ours_added, mut theirs_added) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..9 {
        let value = lab.probe_repeated("www.lab.test", json!({"resolvers": [address]}), 2);
        let r = &value["results"][0];
        assert_eq!(r["rcode"], json!("NOERROR"), "{r}");
        assert_eq!(r["attempts"], json!(1), "{r}");
        let t = r["time_ms"].as_f64().unwrap();
        ours.push(t);
        ours_added.push(t - last_hold());
        let dig = lab.dig(
            host,
            port.parse().unwrap(),
            &["-u", "www.lab.test", "+time=2"],
        );
        assert_eq!(dig.status, "NOERROR", "{}", dig.text);
        let t = f64::from(dig.query_time_us.unwrap()) / 1e3;
        theirs.push(t);
        theirs_added.push(t - last_hold());
    }
    assert_eq!(held.lock().unwrap().len(), 27, "one relayed query per run");
    let floor = delay.as_secs_f64() * 1e3;
    assert!(
        ours.iter().all(|&t| t >= floor),
        "{ours:?} below the relay's delay"
    );
    assert!(
        theirs.iter().all(|&t| t >= floor),
        "{theirs:?} below the relay's delay"
    );
    let (ours_median, dig_median) = (median(&mut ours), median(&mut theirs));
    let (ours_add, dig_add) = (median(&mut ours_added), median(&mut theirs_added));
    eprintln!(
        "delayed resolver ({delay:?}): median ours {ours_median:.3} ms, dig {dig_median:.3} ms; \
         added to the relay's hold (median): ours {ours_add:.3} ms, dig {dig_add:.3} ms \
         (difference {:.3} ms)",
        ours_add - dig_add
    );
    assert!(
        (ours_add - dig_add).abs() <= 1.0,
        "ours adds {ours_add} ms to the relay's hold, dig {dig_add} ms"
    );
}

/// Every field the schema declares for `dns` is written by some lab run. Tests run in
/// parallel (nextest: each in its own process), so this one makes the runs that write
/// every field itself (an answer with `expected`, a resolver that never answers, a TCP
/// answer) before comparing with the schema.
#[test]
fn every_declared_dns_field_is_written_by_the_lab() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let _dnsmasq = dnsmasq(&lab, &[]);
    let server = lab.link.b4.clone();
    let silent = fake_server(&lab, None);
    lab.probe(
        "www.lab.test",
        json!({"resolvers": [server, silent.address], "timeout_ms": 100, "retries": 0, "expected": ["10.72.200.1"]}),
    );
    // Over TCP: connect_time_ms.
    lab.probe(
        "www.lab.test",
        json!({"resolvers": [server], "transport": "tcp"}),
    );
    let declared: BTreeSet<String> = streamswarm_schema::measurements::dns::DEF
        .fields
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    let seen = SEEN.lock().unwrap().clone();
    let missing: Vec<_> = declared.difference(&seen).collect();
    assert!(missing.is_empty(), "dns fields never written: {missing:?}");
}

/// dnsdist in front of dnsmasq (which it asks over UDP, so no process is forked per
/// connection, as dnsmasq does for TCP): plain DNS on port 5300 (UDP and TCP), DNS over
/// TLS on 853 and DNS over HTTPS on 8443 (`/dns-query`), with the certificates of
/// [`certificates`] in `dir`.
fn dnsdist_front(lab: &Lab, dir: &std::path::Path) -> Background {
    let b4 = &lab.link.b4;
    let path = |name: &str| dir.join(name).display().to_string();
    let (cert, key) = (path("server.pem"), path("server.key"));
    std::fs::write(
        dir.join("dnsdist.conf"),
        format!(
            "setLocal(\"{b4}:5300\")\n\
             addTLSLocal(\"{b4}:853\", \"{cert}\", \"{key}\")\n\
             addDOHLocal(\"{b4}:8443\", \"{cert}\", \"{key}\", \"/dns-query\")\n\
             newServer({{address=\"{b4}:53\"}})\n\
             setSecurityPollSuffix(\"\")\n"
        ),
    )
    .unwrap();
    Background(
        lab.server
            .command("dnsdist")
            .args([
                "--supervised",
                "--disable-syslog",
                "-C",
                &path("dnsdist.conf"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A test CA and a server certificate for `dot.lab.test` and `ip`, made with openssl.
fn certificates(dir: &std::path::Path, ip: &str) {
    let sh = |script: &str| {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "subjectAltName=DNS:dot.lab.test,IP:{ip}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        ),
    )
    .unwrap();
    sh(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout ca.key -out ca.pem -days 2 -subj /CN=ssdns-test-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign",
    );
    sh(
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout server.key -out server.csr -subj /CN=dot.lab.test",
    );
    sh(
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out server.pem -days 2 -extfile server.ext",
    );
}

/// DNS over TLS through dnsdist (its DoT frontend, certificate from a test CA) in front
/// of dnsmasq: with the CA trusted (`SSL_CERT_FILE`, which the platform
/// verifier reads on Linux) the answer equals `dig +tls`; the certificate's name is
/// checked (by address, by `tls_name`, and a wrong `tls_name` fails naming the problem);
/// an untrusted CA fails naming it. DoH against the same TLS port (no HTTP/2 there)
/// fails with an error point, not a crash.
#[test]
fn dot_answers_equal_dig_tls_and_certificates_are_checked() {
    let Some(_serial) = lab(&[
        ("dig", "dnsutils"),
        ("dnsmasq", "dnsmasq-base"),
        ("dnsdist", "dnsdist"),
        ("openssl", "openssl"),
    ]) else {
        return;
    };
    let lab = Lab::new();
    let _dnsmasq = dnsmasq(&lab, &[]);
    let b4 = lab.link.b4.clone();
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path(), &b4);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let _dnsdist = dnsdist_front(&lab, dir.path());
    let mut dig = Dig::default();
    for _ in 0..100 {
        dig = lab.dig(&b4, 853, &["+tls", "www.lab.test", "A", "+time=1"]);
        if dig.status == "NOERROR" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(dig.status, "NOERROR", "dig +tls: {}", dig.text);
    let dot = |params: Value, trust: bool| {
        let mut command = lab.client.command(&example("dns_once"));
        if trust {
            command.env("SSL_CERT_FILE", path("ca.pem"));
        }
        let output = command
            .args(["www.lab.test", "--params", &params.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["schema_violations"], json!([]), "{value}");
        value["results"][0].clone()
    };
    let by_address = dot(json!({"resolvers": [b4], "transport": "dot"}), true);
    assert!(by_address["connect_time_ms"].as_f64().unwrap() > 0.0);
    let ca = path("ca.pem");
    let (ours_time, dig_time) = time_beside_dig(
        &lab,
        json!({"resolvers": [b4], "transport": "dot"}),
        Some(("SSL_CERT_FILE", &ca)),
        &b4,
        853,
        &["+tls"],
    );
    assert!(
        (ours_time - dig_time).abs() <= 1.0,
        "DoT: ours {ours_time} ms, dig {dig_time} ms"
    );
    // Plain TCP to the same front: the query on an open connection, beside dig +tcp.
    let tcp = lab.probe_one(
        "www.lab.test",
        json!({"resolvers": [format!("{b4}:5300")], "transport": "tcp"}),
    );
    assert_eq!(tcp["rcode"], json!("NOERROR"), "{tcp}");
    assert!(tcp["connect_time_ms"].as_f64().unwrap() > 0.0, "{tcp}");
    let (ours_time, dig_time) = time_beside_dig(
        &lab,
        json!({"resolvers": [format!("{b4}:5300")], "transport": "tcp"}),
        None,
        &b4,
        5300,
        &["+tcp"],
    );
    assert!(
        (ours_time - dig_time).abs() <= 1.0,
        "TCP: ours {ours_time} ms, dig {dig_time} ms"
    );
    let mut ours = strings(&by_address["answers"]);
    ours.sort();
    let mut theirs = dig.answers.clone();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(by_address["transport"], json!("dot"));
    assert_eq!(by_address["server"], json!(format!("{b4}:853")));
    let by_name = dot(
        json!({"resolvers": [format!("{b4}:853")], "transport": "dot", "tls_name": "dot.lab.test"}),
        true,
    );
    assert_eq!(by_name["rcode"], json!("NOERROR"), "{by_name}");
    let wrong = dot(
        json!({"resolvers": [b4], "transport": "dot", "tls_name": "other.lab.test", "retries": 0}),
        true,
    );
    let error = wrong["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not valid for name \"other.lab.test\""),
        "{wrong}"
    );
    let untrusted = dot(
        json!({"resolvers": [b4], "transport": "dot", "retries": 0}),
        false,
    );
    let error = untrusted["error"].as_str().unwrap_or_default();
    assert!(error.contains("invalid peer certificate"), "{untrusted}");
    // The test's own CA file instead of the process's trust store.
    let with_ca_file = dot(
        json!({"resolvers": [b4], "transport": "dot", "retries": 0, "ca_file": path("ca.pem")}),
        false,
    );
    assert_eq!(with_ca_file["rcode"], json!("NOERROR"), "{with_ca_file}");
    assert_eq!(strings(&with_ca_file["answers"]).len(), dig.answers.len());
    let missing = dot(
        json!({"resolvers": [b4], "transport": "dot", "ca_file": path("none.pem")}),
        false,
    );
    let error = missing["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("ca_file") && error.contains("none.pem"),
        "{missing}"
    );
    assert_eq!(missing["time_ms"], Value::Null, "{missing}");
    let doh = dot(
        json!({"resolvers": [format!("https://{b4}:853/dns-query")], "transport": "doh", "retries": 0, "timeout_ms": 500}),
        true,
    );
    assert_eq!(doh["rcode"], Value::Null, "{doh}");
    assert!(doh["error"].is_string(), "{doh}");
    eprintln!(
        "DoT: {} ms; wrong name: {}; untrusted: {}; DoH against a non-DoH port: {}",
        by_address["time_ms"], wrong["error"], untrusted["error"], doh["error"]
    );
}

/// DNS over HTTPS through dnsdist (its DoH frontend, certificate from a test CA) in front
/// of dnsmasq: the answer equals `dig +https`; a wrong `tls_name` fails naming the
/// problem.
#[test]
fn doh_answers_equal_dig_https() {
    let Some(_serial) = lab(&[
        ("dig", "dnsutils"),
        ("dnsmasq", "dnsmasq-base"),
        ("dnsdist", "dnsdist"),
        ("openssl", "openssl"),
    ]) else {
        return;
    };
    let lab = Lab::new();
    let _dnsmasq = dnsmasq(&lab, &[]);
    let b4 = lab.link.b4.clone();
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path(), &b4);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let _dnsdist = dnsdist_front(&lab, dir.path());
    let mut dig = Dig::default();
    for _ in 0..150 {
        dig = lab.dig(&b4, 8443, &["+https", "www.lab.test", "A", "+time=1"]);
        if dig.status == "NOERROR" {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(dig.status, "NOERROR", "dig +https: {}", dig.text);
    let doh = |params: Value| {
        let output = lab
            .client
            .command(&example("dns_once"))
            .env("SSL_CERT_FILE", path("ca.pem"))
            .args(["www.lab.test", "--params", &params.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(value["schema_violations"], json!([]), "{value}");
        value["results"][0].clone()
    };
    let url = format!("https://{b4}:8443/dns-query");
    let ours = doh(json!({"resolvers": [url], "transport": "doh"}));
    assert_eq!(ours["rcode"], json!("NOERROR"), "{ours}");
    let (mut mine, mut theirs) = (strings(&ours["answers"]), dig.answers.clone());
    mine.sort();
    theirs.sort();
    assert_eq!(mine, theirs);
    assert_eq!(ours["transport"], json!("doh"));
    assert_eq!(ours["server"], json!(url));
    let named = doh(json!({"resolvers": [url], "transport": "doh", "tls_name": "dot.lab.test"}));
    assert_eq!(named["rcode"], json!("NOERROR"), "{named}");
    let wrong = doh(
        json!({"resolvers": [url], "transport": "doh", "tls_name": "other.lab.test", "retries": 0}),
    );
    let error = wrong["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not valid for name \"other.lab.test\""),
        "{wrong}"
    );
    assert!(ours["connect_time_ms"].as_f64().unwrap() > 0.0);
    let ca = path("ca.pem");
    let (ours_time, dig_time) = time_beside_dig(
        &lab,
        json!({"resolvers": [url], "transport": "doh"}),
        Some(("SSL_CERT_FILE", &ca)),
        &b4,
        8443,
        &["+https"],
    );
    assert!(
        (ours_time - dig_time).abs() <= 1.0,
        "DoH: ours {ours_time} ms, dig {dig_time} ms"
    );
}
