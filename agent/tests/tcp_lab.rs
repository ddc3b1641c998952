//! TCP truth in the network lab: listeners written here in a server namespace, nftables,
//! routes and link MTUs give the outcomes and numbers the probe must report; `curl -w`
//! and `ss -ti` run side by side.
//!
//! The probe runs as the `tcp_once` example under `ip netns exec` in a client namespace,
//! joined to the server's by a veth pair on 10.74.X.Y/30 and fd74:X:Y::/64 (namespaces
//! `sstcp-<random>`). Nothing is sent outside them.
#![cfg(target_os = "linux")]

mod netlab;

use netlab::{Netns, ServerThread, example, lab, link, median};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

const PACKAGES: &[(&str, &str)] = &[("curl", "curl"), ("nft", "nftables"), ("ss", "iproute2")];

struct Lab {
    client: Netns,
    server: Netns,
    link: netlab::Link,
}

impl Lab {
    fn new() -> Self {
        let (client, server) = (Netns::new("sstcp"), Netns::new("sstcp"));
        let link = link(&client, &server, 74, "sst");
        Lab {
            client,
            server,
            link,
        }
    }

    /// Runs `tcp_once` in the client namespace (`repeat` runs, the last one returned).
    fn probe(&self, target: &str, params: Value, repeat: u32) -> Value {
        let output = self
            .client
            .command(&example("tcp_once"))
            .args([target, "--params", &params.to_string()])
            .args(["--repeat", &repeat.to_string()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "tcp_once failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let value: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        check(&value);
        value
    }

    /// curl's connect time in ms (`time_connect − time_namelookup`) and its exit code.
    fn curl(&self, url: &str) -> (Option<f64>, i32) {
        let output = self
            .client
            .command("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "3"])
            .stdin(Stdio::null())
            .args(["-w", "%{time_namelookup} %{time_connect}", url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        let times: Vec<f64> = text
            .split_whitespace()
            .map(|t| t.parse().unwrap())
            .collect();
        let connect = (times[1] > 0.0).then(|| (times[1] - times[0]) * 1e3);
        (connect, output.status.code().unwrap_or(-1))
    }
}

/// Every point follows the schema.
fn check(value: &Value) {
    assert_eq!(value["schema_violations"], json!([]), "{value}");
    assert!(
        value["line"].as_str().unwrap().starts_with("tcp,"),
        "{value}"
    );
}

fn fields(value: &Value) -> BTreeSet<String> {
    value["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect()
}

/// How a listener treats a connection it accepted.
#[derive(Clone, Copy)]
enum Mode {
    /// Writes a minimal HTTP response and closes (curl and the probe both finish).
    Http,
    /// Echoes what it reads until the peer closes.
    Echo,
}

/// A listener on `address` in the server namespace, accepting in a loop.
fn listener(lab: &Lab, address: SocketAddr, mode: Mode) -> ServerThread {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = ServerThread::start(&lab.server, move |stop| {
        let listener = TcpListener::bind(address).unwrap();
        listener.set_nonblocking(true).unwrap();
        ready_tx.send(()).unwrap();
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    std::thread::spawn(move || serve(stream, mode));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    });
    ready_rx.recv().unwrap();
    thread
}

fn serve(mut stream: TcpStream, mode: Mode) {
    match mode {
        Mode::Http => {
            // Read the request if one comes (curl sends one, the probe does not).
            stream
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Mode::Echo => {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || stream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
}

fn random_port() -> u16 {
    20_000 + rand::random::<u16>() % 20_000
}

/// Over a veth link a connect takes tens of microseconds; the probe's connect time and
/// curl's (`time_connect − time_namelookup`, an IP literal so no lookup) are taken
/// alternately over 20 runs each and their medians compared: within 0.5 ms. The probe
/// runs twice per process and reports the second run (a long-running agent's state).
#[test]
fn connect_time_is_within_half_a_ms_of_curls() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    for (ip, bracketed) in [
        (lab.link.b4.clone(), lab.link.b4.clone()),
        (lab.link.b6.clone(), format!("[{}]", lab.link.b6)),
    ] {
        let port = random_port();
        let address = SocketAddr::new(ip.parse().unwrap(), port);
        let _server = listener(&lab, address, Mode::Http);
        let target = format!("{bracketed}:{port}");
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..20 {
            let r = lab.probe(&target, json!({}), 2);
            assert_eq!(r["result"]["outcome"], json!("connected"), "{r}");
            assert_eq!(r["result"]["address"], json!(address.to_string()));
            ours.push(r["result"]["connect_time_ms"].as_f64().unwrap());
            let (connect, code) = lab.curl(&format!("http://{target}/"));
            assert_eq!(code, 0, "curl failed");
            theirs.push(connect.unwrap());
        }
        let (ours_median, curl_median) = (median(&mut ours), median(&mut theirs));
        eprintln!(
            "{target}: connect median ours {ours_median:.4} ms, curl {curl_median:.4} ms \
             (difference {:.4} ms); ours {ours:.3?}, curl {theirs:.3?}",
            ours_median - curl_median
        );
        assert!(
            (ours_median - curl_median).abs() <= 0.5,
            "ours {ours_median} ms vs curl {curl_median} ms"
        );
        let family = if address.is_ipv4() { "ipv4" } else { "ipv6" };
        let r = lab.probe(&target, json!({}), 1);
        assert!(
            r["line"]
                .as_str()
                .unwrap()
                .contains(&format!("family={family}")),
            "{r}"
        );
    }
}

/// The kernel completes the handshake before `accept()`: a listener that is merely slow
/// to accept does not show in the connect time. What does is a full accept queue: the
/// kernel then drops SYNs, and the connect completes when the client's SYN retransmit
/// (the initial RTO, 1 s) finds room — here once the listener accepts the connection
/// that filled its queue, 300 ms after it arrived. The probe reports that: one
/// retransmitted segment and a connect time past 1 s, as curl does side by side.
#[test]
fn a_full_accept_queue_delays_the_connect_by_the_syn_retransmit() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let port = random_port();
    let address: SocketAddr = format!("{}:{port}", lab.link.b4).parse().unwrap();
    let accept_delay = Duration::from_millis(300);

    // A slow-to-accept listener with room in its queue: the connect is the handshake.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let slow = lab.server.thread(move || {
        let listener = TcpListener::bind(address).unwrap();
        ready_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(listener.accept());
    });
    ready_rx.recv().unwrap();
    let r = lab.probe(&format!("{address}"), json!({}), 1);
    assert_eq!(r["result"]["outcome"], json!("connected"), "{r}");
    let quick = r["result"]["connect_time_ms"].as_f64().unwrap();
    assert!(
        quick < 300.0,
        "the handshake does not wait for accept(): {quick} ms"
    );
    assert_eq!(r["result"]["info"]["total_retrans"], json!(0));
    slow.join().unwrap();

    // Backlog 0: one queued connection fills the accept queue.
    for client in ["probe", "curl"] {
        let port = random_port();
        let address: SocketAddr = format!("{}:{port}", lab.link.b4).parse().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let server = lab.server.thread(move || {
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::STREAM,
                Some(socket2::Protocol::TCP),
            )
            .unwrap();
            socket.set_reuse_address(true).unwrap();
            socket.bind(&address.into()).unwrap();
            socket.listen(0).unwrap();
            let listener: TcpListener = socket.into();
            // The connection that fills the queue, from inside the server namespace.
            let filler = TcpStream::connect(address).unwrap();
            ready_tx.send(()).unwrap();
            std::thread::sleep(accept_delay);
            let first = listener.accept().unwrap();
            let second = listener.accept().unwrap();
            drop((filler, first, second));
        });
        ready_rx.recv().unwrap();
        let connect_ms = if client == "probe" {
            let r = lab.probe(&format!("{address}"), json!({"timeout_ms": 5000}), 1);
            assert_eq!(r["result"]["outcome"], json!("connected"), "{r}");
            assert_eq!(r["result"]["info"]["total_retrans"], json!(1), "{r}");
            r["result"]["connect_time_ms"].as_f64().unwrap()
        } else {
            let (connect, _) = lab.curl(&format!("telnet://{address}"));
            connect.unwrap()
        };
        eprintln!("full accept queue: {client} connect time {connect_ms:.3} ms");
        assert!(
            (1000.0..2000.0).contains(&connect_ms),
            "{client}: {connect_ms} ms, expected the 1 s SYN retransmit"
        );
        server.join().unwrap();
    }
}

#[test]
fn refused_timeout_and_unreachable_are_distinct_outcomes() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    let b4 = lab.link.b4.clone();

    // Nothing listens: RST → refused (curl: exit 7, couldn't connect).
    let closed = format!("{b4}:{}", random_port());
    let r = lab.probe(&closed, json!({}), 1);
    assert_eq!(r["result"]["outcome"], json!("refused"), "{r}");
    assert!(r["result"]["error"].as_str().unwrap().contains("refused"));
    assert_eq!(r["result"]["connect_time_ms"], Value::Null);
    assert_eq!(lab.curl(&format!("http://{closed}/")).1, 7);

    // SYNs dropped by nftables → timeout (curl: exit 28 at its own limit).
    let dropped = random_port();
    lab.server.sh(&format!(
        "nft add table inet sstcp && \
         nft add chain inet sstcp c '{{ type filter hook input priority 0 ; }}' && \
         nft add rule inet sstcp c tcp dport {dropped} drop"
    ));
    let address: SocketAddr = format!("{b4}:{dropped}").parse().unwrap();
    let _server = listener(&lab, address, Mode::Http);
    let r = lab.probe(&address.to_string(), json!({"timeout_ms": 300}), 1);
    assert_eq!(r["result"]["outcome"], json!("timeout"), "{r}");
    assert!(
        r["result"]["error"]
            .as_str()
            .unwrap()
            .contains("within 300 ms")
    );
    assert_eq!(r["result"]["info"]["rtt_us"], Value::Null);
    assert!(
        !fields(&r).contains("rtt_ms"),
        "no TCP_INFO without a connection"
    );

    // An ICMP host-unreachable answer to the SYN (nftables reject) → unreachable.
    let rejected = random_port();
    lab.server.sh(&format!(
        "nft add rule inet sstcp c tcp dport {rejected} reject with icmp type host-unreachable"
    ));
    let r = lab.probe(&format!("{b4}:{rejected}"), json!({"timeout_ms": 2000}), 1);
    assert_eq!(r["result"]["outcome"], json!("unreachable"), "{r}");
    assert!(
        r["result"]["error"]
            .as_str()
            .unwrap()
            .contains("No route to host"),
        "{r}"
    );
    assert_eq!(lab.curl(&format!("http://{b4}:{rejected}/")).1, 7);

    // No route (an `unreachable` route) → unreachable, at once.
    let nowhere = format!(
        "10.74.{}.{}",
        rand::random::<u8>(),
        1 + rand::random::<u8>() % 250
    );
    lab.client
        .ip(&["route", "add", "unreachable", &format!("{nowhere}/32")]);
    let r = lab.probe(&format!("{nowhere}:80"), json!({}), 1);
    assert_eq!(r["result"]["outcome"], json!("unreachable"), "{r}");

    // A name that does not resolve, and a target the policy denies.
    let r = lab.probe("no-such-host.invalid:80", json!({}), 1);
    assert_eq!(r["result"]["outcome"], json!("unresolved"), "{r}");
    let r = lab.probe("169.254.169.254:80", json!({}), 1);
    assert_eq!(r["result"]["outcome"], json!("denied"), "{r}");
}

/// `ss -ti` parsed: the values it prints for one connection.
fn ss_info(lab: &Lab, peer: &str) -> String {
    let output = lab
        .client
        .command("ss")
        .args(["-tinH", "dst", peer])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn ss_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .map(|v| v.trim_end_matches(','))
}

/// After an exchange (send 5 bytes, read the 5 echoed), TCP_INFO read by the probe equals
/// `ss -ti` read while the probe holds the connection open: RTT and its variance, MSS,
/// advertised MSS, congestion window, retransmits; the MSS follows the link MTU (1400 →
/// 1348 with TCP timestamps over IPv4). Every declared `tcp` field is written.
#[test]
fn tcp_info_equals_ss_and_follows_the_mtu() {
    let Some(_serial) = lab(PACKAGES) else {
        return;
    };
    let lab = Lab::new();
    for (ns, dev) in [
        (&lab.client, &lab.link.dev_a),
        (&lab.server, &lab.link.dev_b),
    ] {
        ns.ip(&["link", "set", dev, "mtu", "1400"]);
    }
    let port = random_port();
    let address: SocketAddr = format!("{}:{port}", lab.link.b4).parse().unwrap();
    let _server = listener(&lab, address, Mode::Echo);
    let mut seen = BTreeSet::new();
    let mut child = lab
        .client
        .command(&example("tcp_once"))
        .args([
            &address.to_string(),
            "--params",
            &json!({"send": "ping\\n", "read_bytes": 5}).to_string(),
            "--hold-ms",
            "2000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ss = ss_info(&lab, &address.to_string());
    let _ = child.kill();
    let _ = child.wait();
    let r: Value = serde_json::from_str(&line).unwrap();
    check(&r);
    seen.extend(fields(&r));
    eprintln!("probe: {}\nss: {ss}", r["line"]);
    let result = &r["result"];
    assert_eq!(result["outcome"], json!("connected"));
    assert_eq!(result["sent_bytes"], json!(5));
    assert_eq!(result["received_bytes"], json!(5));
    assert_eq!(result["error"], Value::Null);
    let info = &result["info"];
    // MTU 1400 − 20 (IPv4) − 20 (TCP) − 12 (timestamps option).
    assert_eq!(info["snd_mss"], json!(1348), "{info}");
    assert_eq!(ss_value(&ss, "mss:"), Some("1348"), "{ss}");
    assert_eq!(
        ss_value(&ss, "advmss:").map(|v| v.parse::<u64>().unwrap()),
        info["advmss"].as_u64(),
        "{ss}"
    );
    assert_eq!(
        ss_value(&ss, "cwnd:").map(|v| v.parse::<u64>().unwrap()),
        info["snd_cwnd"].as_u64(),
        "{ss}"
    );
    // ss prints rtt:SRTT/RTTVAR in ms with three decimals (µs / 1000).
    let (srtt, rttvar) = ss_value(&ss, "rtt:").unwrap().split_once('/').unwrap();
    let us = |ms: &str| (ms.parse::<f64>().unwrap() * 1000.0).round() as u64;
    assert_eq!(Some(us(srtt)), info["rtt_us"].as_u64(), "{ss}");
    assert_eq!(Some(us(rttvar)), info["rttvar_us"].as_u64(), "{ss}");
    let min_rtt = ss_value(&ss, "minrtt:").unwrap();
    assert_eq!(Some(us(min_rtt)), info["min_rtt_us"].as_u64(), "{ss}");
    // No retransmits on a clean link: ss leaves `retrans:` out then.
    assert_eq!(info["total_retrans"], json!(0));
    assert!(ss_value(&ss, "retrans:").is_none(), "{ss}");
    // The delivery rate: ss prints it in bits per second, rounded to its unit.
    let rate = info["delivery_rate"]
        .as_u64()
        .expect("a delivery-rate sample");
    let ss_rate = ss
        .split("delivery_rate ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("ss prints delivery_rate");
    let (number, unit) = ss_rate.split_at(ss_rate.find(|c: char| c.is_alphabetic()).unwrap());
    let scale = match unit {
        "bps" => 1.0,
        "Kbps" => 1e3,
        "Mbps" => 1e6,
        "Gbps" => 1e9,
        other => panic!("unit {other}"),
    };
    let ss_bits = number.parse::<f64>().unwrap() * scale;
    let ours_bits = rate as f64 * 8.0;
    assert!(
        (ours_bits - ss_bits).abs() <= ss_bits * 0.05 + scale * 0.1,
        "delivery rate ours {ours_bits} bit/s, ss {ss_rate}"
    );

    // The failure fields, and the comparison with the schema.
    let refused = lab.probe(&format!("{}:{}", lab.link.b4, port + 1), json!({}), 1);
    seen.extend(fields(&refused));
    let declared: BTreeSet<String> = streamswarm_schema::measurements::tcp::DEF
        .fields
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    let missing: Vec<_> = declared.difference(&seen).collect();
    assert!(missing.is_empty(), "tcp fields never written: {missing:?}");
}
