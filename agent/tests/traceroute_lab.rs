//! Traceroute truth in the network lab: a chain of namespaces `agent — r1 — r2 — r3 —
//! target` (plus `r2'` beside r2 for a route swap), IPv4 and IPv6, ICMP rate limits off
//! in every router, and Debian's `traceroute` and `mtr` run side by side with the probe.
//!
//! The probe runs as the `traceroute_once` example under `ip netns exec`. Every address
//! lives in namespaces created here (`sstr-<chain>-<role>-<random>`, 10.71.X.0/24 and
//! fd71:X::/32 split into links); each namespace is deleted by a drop guard, also when a
//! test panics. Needs root: without it each test prints `SKIPPED` and passes, except
//! under `CI=true`, where it fails.
#![cfg(target_os = "linux")]

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::process::Stdio;
use std::sync::Mutex;

mod netlab;
use netlab::{Background, Netns, example, run};

/// Whether the lab can run here (panics under CI when it cannot); installs Debian's
/// traceroute, mtr, nft and ping when missing.
fn lab() -> bool {
    netlab::lab(&[
        ("nft", "nftables"),
        ("traceroute", "traceroute"),
        ("mtr", "mtr-tiny"),
        ("ping", "iputils-ping"),
    ])
    .is_some()
}

/// A namespace of the chain `id`, forwarding, with ICMP rate limits off.
fn node(id: &str, role: &str) -> Netns {
    let ns = Netns::new(&format!("sstr-{id}-{role}"));
    ns.sh(
        "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
         net.ipv6.conf.default.accept_dad=0 net.ipv4.icmp_ratelimit=0 \
         net.ipv6.icmp.ratelimit=0 net.ipv4.icmp_ratemask=0 \
         net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000",
    );
    ns
}

/// The two ends of a link: IPv4 and IPv6 addresses of its `a` and `b` sides.
#[derive(Clone)]
struct Link {
    a4: String,
    b4: String,
    a6: String,
    b6: String,
    net4: String,
    net6: String,
}

/// The lab: the chain and `r2'` (r1 — r2' — r3), addresses in 10.71.X.0/24 and
/// fd71:X::/32 with X random per lab.
struct Chain {
    agent: Netns,
    r1: Netns,
    r2: Netns,
    r2b: Netns,
    r3: Netns,
    target: Netns,
    /// agent–r1, r1–r2, r2–r3, r3–target, r1–r2', r2'–r3.
    links: Vec<Link>,
}

impl Chain {
    fn new() -> Self {
        let id = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
        let x = rand::random::<u8>();
        let chain = Chain {
            agent: node(&id, "agent"),
            r1: node(&id, "r1"),
            r2: node(&id, "r2"),
            r2b: node(&id, "r2b"),
            r3: node(&id, "r3"),
            target: node(&id, "target"),
            links: Vec::new(),
        };
        let pairs: [(&Netns, &Netns); 6] = [
            (&chain.agent, &chain.r1),
            (&chain.r1, &chain.r2),
            (&chain.r2, &chain.r3),
            (&chain.r3, &chain.target),
            (&chain.r1, &chain.r2b),
            (&chain.r2b, &chain.r3),
        ];
        let links: Vec<Link> = pairs
            .iter()
            .enumerate()
            .map(|(i, (a, b))| connect(a, b, &id, i, x))
            .collect();
        let Chain {
            agent,
            r1,
            r2,
            r2b,
            r3,
            target,
            ..
        } = &chain;
        let l = &links;
        // Towards the agent: default routes back along the chain.
        route(agent, None, &l[0], true);
        route(r2, None, &l[1], false);
        route(r3, None, &l[2], false);
        route(target, None, &l[3], false);
        route(r2b, None, &l[4], false);
        // Towards the target.
        for net in [2, 3] {
            route(r1, Some(&l[net]), &l[1], true);
        }
        route(r2, Some(&l[3]), &l[2], true);
        route(r2b, Some(&l[3]), &l[5], true);
        let chain = Chain { links, ..chain };
        // Names for reverse DNS: `ip netns exec` bind-mounts /etc/netns/<ns>/hosts.
        let dir = format!("/etc/netns/{}", chain.agent.name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut hosts = String::new();
        for (link, name) in [(0, "r1"), (1, "r2"), (2, "r3"), (3, "target"), (4, "r2b")] {
            let l = &chain.links[link];
            hosts.push_str(&format!(
                "{} {name}.sstr.lab\n{} {name}.sstr.lab\n",
                l.b4, l.b6
            ));
        }
        std::fs::write(format!("{dir}/hosts"), hosts).unwrap();
        // IPv6 neighbour discovery on fresh links takes a moment: wait until the target
        // answers a ping in both families (and r2' through its link), so that no
        // measurement starts on a half-ready network.
        for address in [
            chain.target_address(false),
            chain.target_address(true),
            chain.links[4].b4.clone(),
            chain.links[4].b6.clone(),
        ] {
            let ready = (0..50).any(|_| {
                chain
                    .agent
                    .command("ping")
                    .args(["-c", "1", "-W", "0.2", &address])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
            assert!(ready, "{address} does not answer ping in the fresh lab");
        }
        chain
    }

    /// The addresses traceroute should list: each router's address towards the agent,
    /// then the target's.
    fn expected(&self, v6: bool) -> Vec<String> {
        [0, 1, 2, 3]
            .iter()
            .map(|&i| {
                let l = &self.links[i];
                if v6 { l.b6.clone() } else { l.b4.clone() }
            })
            .collect()
    }

    fn target_address(&self, v6: bool) -> String {
        self.expected(v6).pop().unwrap()
    }

    /// r1 sends the target's traffic via r2' instead of r2.
    fn swap_to_r2b(&self) {
        for net in [2, 3] {
            let n4 = self.links[net].net4.clone();
            let n6 = self.links[net].net6.clone();
            self.r1
                .ip(&["route", "replace", &n4, "via", &self.links[4].b4]);
            self.r1
                .ip(&["-6", "route", "replace", &n6, "via", &self.links[4].b6]);
        }
    }
}

/// Routes in `ns` (both families) to `net`'s networks, or default routes when `None`,
/// via the far (`towards_b`) or near side of `via`.
fn route(ns: &Netns, net: Option<&Link>, via: &Link, towards_b: bool) {
    let (via4, via6) = if towards_b {
        (&via.b4, &via.b6)
    } else {
        (&via.a4, &via.a6)
    };
    let (net4, net6) = net.map_or(("default", "default"), |l| {
        (l.net4.as_str(), l.net6.as_str())
    });
    ns.ip(&["route", "add", net4, "via", via4]);
    ns.ip(&["-6", "route", "add", net6, "via", via6]);
}

/// Joins `a` and `b` with a veth pair: 10.71.X.(4i)/30 and fd71:X:i::/64.
fn connect(a: &Netns, b: &Netns, lab: &str, i: usize, x: u8) -> Link {
    let (end_a, end_b) = (format!("sstr{lab}{i}a"), format!("sstr{lab}{i}b"));
    run(
        "ip",
        &[
            "link", "add", &end_a, "netns", &a.name, "type", "veth", "peer", "name", &end_b,
            "netns", &b.name,
        ],
    );
    let base = i * 4;
    let link = Link {
        a4: format!("10.71.{x}.{}", base + 1),
        b4: format!("10.71.{x}.{}", base + 2),
        a6: canonical(&format!("fd71:{x:x}:{i}::1")),
        b6: canonical(&format!("fd71:{x:x}:{i}::2")),
        net4: format!("10.71.{x}.{base}/30"),
        net6: format!("fd71:{x:x}:{i}::/64"),
    };
    for (ns, end, v4, v6) in [
        (a, &end_a, &link.a4, &link.a6),
        (b, &end_b, &link.b4, &link.b6),
    ] {
        ns.ip(&["addr", "add", &format!("{v4}/30"), "dev", end]);
        ns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{v6}/64"),
            "dev",
            end,
            "nodad",
        ]);
        ns.ip(&["link", "set", end, "up"]);
    }
    link
}

/// An address as the probe and the tools print it.
fn canonical(address: &str) -> String {
    address.parse::<IpAddr>().unwrap().to_string()
}

/// Fields written by any lab run, per measurement: every declared field must be seen.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Runs `traceroute_once` in the agent namespace; every point must follow the schema.
fn trace(chain: &Chain, target: &str, params: Value) -> Value {
    let output = chain
        .agent
        .command(&example("traceroute_once"))
        .args([target, "--params", &params.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "traceroute_once failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["schema_violations"], json!([]), "{value}");
    let mut seen = SEEN.lock().unwrap();
    for line in value["lines"].as_array().unwrap() {
        let line = line.as_str().unwrap();
        let measurement = line.split(',').next().unwrap();
        // Fields: between the first and the last space, `key=value` pairs.
        let fields = &line[line.find(' ').unwrap() + 1..line.rfind(' ').unwrap()];
        for pair in split_fields(fields) {
            let key = pair.split('=').next().unwrap();
            seen.insert(format!("{measurement}.{key}"));
        }
    }
    value
}

/// Splits a line-protocol field set at commas outside quoted strings.
fn split_fields(fields: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in fields.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&fields[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&fields[start..]);
    out
}

fn hops(value: &Value) -> &Vec<Value> {
    value["result"]["hops"].as_array().unwrap()
}

/// Each hop's main address, `*` when silent.
fn addresses(value: &Value) -> Vec<String> {
    hops(value)
        .iter()
        .map(|h| h["address"].as_str().unwrap_or("*").to_owned())
        .collect()
}

/// Debian's traceroute in `ns`: each hop's addresses (one set per line, `*` when none).
fn debian_traceroute(ns: &Netns, flags: &[&str], target: &str) -> Vec<String> {
    let mut command = ns.command("traceroute");
    command
        .args(["-n", "-q", "3", "-w", "1", "-m", "8"])
        .args(flags)
        .arg(target);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "traceroute failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .map(|line| {
            let set: BTreeSet<IpAddr> = line
                .split_whitespace()
                .filter_map(|t| t.parse().ok())
                .collect();
            if set.is_empty() {
                "*".to_owned()
            } else {
                set.iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            }
        })
        .collect()
}

/// mtr's report in `ns`: (host, loss %, average RTT ms) per hop.
fn mtr(ns: &Netns, flags: &[&str], target: &str, cycles: u32) -> Vec<(String, f64, f64)> {
    let output = ns
        .command("mtr")
        .args([
            "-n",
            "--json",
            "-i",
            "0.1",
            "-c",
            &cycles.to_string(),
            "-m",
            "8",
        ])
        .args(flags)
        .arg(target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "mtr failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["report"]["hubs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hub| {
            let host = hub["host"].as_str().unwrap();
            let host = if host == "???" { "*" } else { host };
            (
                host.to_owned(),
                hub["Loss%"].as_f64().unwrap(),
                hub["Avg"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_chain_is_r1_r2_r3_target_in_every_mode_like_traceroute_and_mtr() {
    if !lab() {
        return;
    }
    let chain = Chain::new();
    for v6 in [false, true] {
        let target = chain.target_address(v6);
        let expected = chain.expected(v6);
        for (protocol, debian, mtr_flags) in [
            ("icmp", vec!["-I"], vec![]),
            ("udp", vec![], vec!["-u"]),
            ("tcp", vec!["-T", "-p", "80"], vec!["-T", "-P", "80"]),
        ] {
            let value = trace(
                &chain,
                &target,
                json!({"protocol": protocol, "queries": 3, "timeout_ms": 1000,
                       "reverse_dns": true, "max_ttl": 16}),
            );
            let what = format!("{protocol} v6={v6}: {value}");
            assert_eq!(addresses(&value), expected, "{what}");
            let result = &value["result"];
            assert_eq!(result["destination_ttl"], json!(4), "{what}");
            assert_eq!(result["error"], Value::Null, "{what}");
            // Windows of 8 TTLs: one window, 8 × 3 probes; hops past the target are
            // not reported.
            assert_eq!(result["probes_sent"], json!(24), "{what}");
            for (i, hop) in hops(&value).iter().enumerate() {
                assert_eq!(hop["received"], json!(3), "{what}");
                let name = ["r1", "r2", "r3", "target"][i];
                assert_eq!(hop["name"], json!(format!("{name}.sstr.lab")), "{what}");
                let reply = if i < 3 {
                    "time_exceeded"
                } else {
                    match protocol {
                        "icmp" => "echo_reply",
                        "udp" => "port_unreachable",
                        _ => "tcp_rst",
                    }
                };
                assert_eq!(hop["reply"], json!(reply), "{what}");
            }
            assert_eq!(value["path"], json!(expected.join(" ")), "{what}");
            let deb = debian_traceroute(&chain.agent, &debian, &target);
            assert_eq!(deb, expected, "Debian traceroute {debian:?} v6={v6}");
            let m = mtr(&chain.agent, &mtr_flags, &target, 3);
            let hosts: Vec<&str> = m.iter().map(|(h, _, _)| h.as_str()).collect();
            assert_eq!(hosts, expected, "mtr {mtr_flags:?} v6={v6}: {m:?}");
            // RTTs on veth links are tens of microseconds for both; no hop may differ
            // from mtr's average by a millisecond, and nothing is lost.
            for (hop, (_, loss, avg)) in hops(&value).iter().zip(&m) {
                assert_eq!(*loss, 0.0, "mtr {m:?}");
                let ours = hop["rtts_ms"].as_array().unwrap();
                let ours =
                    ours.iter().map(|r| r.as_f64().unwrap()).sum::<f64>() / ours.len() as f64;
                assert!(
                    (ours - avg).abs() < 1.0,
                    "{ours} ms vs mtr {avg} ms: {what}"
                );
                assert!(ours > 0.0, "{what}");
            }
        }
    }
    assert_seen(&[
        "traceroute.reached",
        "traceroute_hop.address",
        "traceroute_hop.name",
        "traceroute_hop.sent",
        "traceroute_hop.received",
        "traceroute_hop.loss_percent",
        "traceroute_hop.rtt_min_ms",
        "traceroute_hop.rtt_avg_ms",
        "traceroute_hop.rtt_max_ms",
        "traceroute_hop.rtt_stdev_ms",
        "traceroute_hop.reply",
    ]);
}

#[test]
fn a_router_dropping_every_fifth_answer_reads_twenty_percent_loss_like_mtr() {
    if !lab() {
        return;
    }
    let chain = Chain::new();
    // r2 drops every 5th time-exceeded it generates: only probes expiring at r2 make
    // those, so exactly hop 2 loses, exactly 1 in 5 over any 5·k of them.
    chain.r2.sh("nft add table inet sstr && \
         nft add chain inet sstr out '{ type filter hook output priority 0; }' && \
         nft add rule inet sstr out icmp type time-exceeded numgen inc mod 5 == 0 drop && \
         nft add rule inet sstr out icmpv6 type time-exceeded numgen inc mod 5 == 0 drop");
    for v6 in [false, true] {
        let target = chain.target_address(v6);
        for (queries, cycles) in [(5, 2), (1, 10)] {
            let value = trace(
                &chain,
                &target,
                json!({"protocol": "icmp", "queries": queries, "cycles": cycles,
                       "timeout_ms": 300}),
            );
            let what = format!("v6={v6} {queries}×{cycles}: {value}");
            let hop2 = &hops(&value)[1];
            assert_eq!(hop2["sent"], json!(10), "{what}");
            assert_eq!(hop2["received"], json!(8), "{what}");
            let line = value["lines"][2].as_str().unwrap();
            assert!(line.contains("loss_percent=20.0"), "{line}");
            for i in [0, 2, 3] {
                assert_eq!(hops(&value)[i]["received"], json!(10), "{what}");
            }
            assert_eq!(addresses(&value), chain.expected(v6), "{what}");
        }
        // mtr, 10 cycles: the same 20 % at hop 2 and nothing elsewhere.
        let m = mtr(&chain.agent, &[], &target, 10);
        let loss: Vec<f64> = m.iter().map(|(_, l, _)| *l).collect();
        assert_eq!(loss, [0.0, 20.0, 0.0, 0.0], "mtr v6={v6}: {m:?}");
    }
}

#[test]
fn silent_and_two_faced_routers_and_an_unreachable_target() {
    if !lab() {
        return;
    }
    let chain = Chain::new();
    // r3 never answers (its ICMP errors are dropped); r1 answers every second probe
    // from a second address of its own.
    chain.r3.sh("nft add table inet sstr && \
         nft add chain inet sstr out '{ type filter hook output priority 0; }' && \
         nft add rule inet sstr out icmp type time-exceeded drop && \
         nft add rule inet sstr out icmpv6 type time-exceeded drop");
    let alt4 = {
        let b4 = &chain.links[0].b4;
        format!("{}.250", &b4[..b4.rfind('.').unwrap()])
    };
    let alt6 = format!("{}f", chain.links[0].b6);
    chain.r1.sh(&format!(
        "nft add table inet sstr && \
         nft add chain inet sstr out '{{ type filter hook output priority 0; }}' && \
         nft add rule inet sstr out icmp type time-exceeded numgen inc mod 2 == 0 ip saddr set {alt4} && \
         nft add rule inet sstr out icmpv6 type time-exceeded numgen inc mod 2 == 0 ip6 saddr set {alt6}"
    ));
    for v6 in [false, true] {
        let target = chain.target_address(v6);
        let mut expected = chain.expected(v6);
        expected[2] = "*".into();
        let value = trace(
            &chain,
            &target,
            json!({"protocol": "udp", "queries": 4, "timeout_ms": 300}),
        );
        let what = format!("v6={v6}: {value}");
        assert_eq!(addresses(&value), expected, "{what}");
        let hop1 = &hops(&value)[0];
        let alt = if v6 { &alt6 } else { &alt4 };
        let alt: IpAddr = alt.parse().unwrap();
        let main: IpAddr = expected[0].parse().unwrap();
        assert_eq!(hop1["other_addresses"], json!([alt.to_string()]), "{what}");
        assert_eq!(hop1["received"], json!(4), "{what}");
        let (low, high) = if main < alt { (main, alt) } else { (alt, main) };
        let path = value["path"].as_str().unwrap();
        assert!(path.starts_with(&format!("{low},{high} ")), "{path}");
        assert!(path.contains(" * "), "{path}");
        let hop3 = &hops(&value)[2];
        assert_eq!(hop3["received"], json!(0), "{what}");
        assert_eq!(hop3["address"], Value::Null, "{what}");
        let line = value["lines"][3].as_str().unwrap();
        assert!(line.contains("loss_percent=100.0"), "{line}");
        assert!(!line.contains("rtt_"), "{line}");
        // Debian's traceroute sees the silent hop too.
        let deb = debian_traceroute(&chain.agent, &[], &target);
        assert_eq!(deb[2], "*", "{deb:?}");
        assert_eq!(deb[3], expected[3], "{deb:?}");
    }
    // The target drops every probe: not reached, every hop up to max_ttl listed.
    chain.target.sh("nft add table inet sstrt && \
         nft add chain inet sstrt in '{ type filter hook input priority 0; }' && \
         nft add rule inet sstrt in meta l4proto '{ icmp, icmpv6, udp, tcp }' drop");
    let value = trace(
        &chain,
        &chain.target_address(false),
        json!({"protocol": "icmp", "queries": 1, "max_ttl": 6, "timeout_ms": 200}),
    );
    let result = &value["result"];
    assert_eq!(result["destination_ttl"], Value::Null, "{value}");
    assert_eq!(hops(&value).len(), 6, "{value}");
    let error = result["error"].as_str().unwrap();
    assert!(error.contains("did not answer within 6 hops"), "{error}");
    let line = value["lines"][0].as_str().unwrap();
    assert!(line.contains("reached=false"), "{line}");
    assert!(!line.contains("hop_count"), "{line}");
    assert_seen(&["traceroute.error", "traceroute_hop.other_addresses"]);
}

#[test]
fn a_route_swap_changes_the_path_and_its_hash_at_the_right_ttl() {
    if !lab() {
        return;
    }
    let chain = Chain::new();
    let params = json!({"protocol": "tcp", "queries": 2, "timeout_ms": 500});
    let before: Vec<Value> = [false, true]
        .iter()
        .map(|&v6| trace(&chain, &chain.target_address(v6), params.clone()))
        .collect();
    for (v6, value) in [false, true].iter().zip(&before) {
        let again = trace(&chain, &chain.target_address(*v6), params.clone());
        assert_eq!(value["path"], again["path"], "same path: {value} {again}");
        assert_eq!(
            value["path_hash"], again["path_hash"],
            "same path, same hash"
        );
        assert_eq!(addresses(value), chain.expected(*v6));
    }
    chain.swap_to_r2b();
    for (v6, value) in [false, true].iter().zip(&before) {
        let target = chain.target_address(*v6);
        let after = trace(&chain, &target, params.clone());
        let mut expected = chain.expected(*v6);
        let l = &chain.links[4];
        expected[1] = if *v6 { l.b6.clone() } else { l.b4.clone() };
        if *v6 {
            // Linux answers ICMPv6 errors from the address of the interface the probe
            // came in on (IPv4: of the route back): r3 now speaks from its r2' link.
            expected[2] = chain.links[5].b6.clone();
        }
        assert_eq!(addresses(&after), expected, "{after}");
        assert_eq!(after["path"], json!(expected.join(" ")));
        assert_ne!(value["path_hash"], after["path_hash"]);
        assert_eq!(after["path_hash"].as_str().unwrap().len(), 16, "{after}");
        // Debian's traceroute agrees on the new path.
        assert_eq!(
            debian_traceroute(&chain.agent, &["-T", "-p", "80"], &target),
            expected
        );
    }
    assert_seen(&[
        "traceroute.path",
        "traceroute.path_hash",
        "traceroute.hop_count",
        "traceroute.destination",
        "traceroute.duration_ms",
        "traceroute.probes_sent",
        "traceroute.responding_hops",
    ]);
}

/// Answers every UDP datagram to port 33999 reaching its namespace with an ICMP time
/// exceeded that quotes it (padded to 128 bytes, RFC 4884 length set) followed by an
/// RFC 4950 MPLS label stack object: labels 16005 (exp 0, TTL 1) and 24001 (exp 5,
/// bottom of stack, TTL 254). Prints `ready` once listening.
const MPLS_RESPONDER: &str = r#"
import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("ready", flush=True)
while True:
    packet, (source, _) = rx.recvfrom(65535)
    ihl = (packet[0] & 15) * 4
    if struct.unpack("!H", packet[ihl + 2:ihl + 4])[0] != 33999: continue
    quoted = packet[:128].ljust(128, b"\0")
    entry = lambda label, exp, s, ttl: struct.pack("!I", label << 12 | exp << 9 | s << 8 | ttl)
    obj = struct.pack("!HBB", 12, 1, 1) + entry(16005, 0, 0, 1) + entry(24001, 5, 1, 254)
    ext = bytearray(b"\x20\0\0\0" + obj)
    ext[2:4] = struct.pack("!H", csum(bytes(ext)))
    icmp = bytearray(struct.pack("!BBHBBH", 11, 0, 0, 0, 32, 0) + quoted + bytes(ext))
    icmp[2:4] = struct.pack("!H", csum(bytes(icmp)))
    tx.sendto(bytes(icmp), (source, 0))
"#;

#[test]
fn mpls_label_stacks_in_icmp_extensions_are_reported() {
    if !lab() {
        return;
    }
    let chain = Chain::new();
    // The target's own port unreachable is dropped: only the responder answers.
    chain.target.sh("nft add table inet sstr && \
         nft add chain inet sstr out '{ type filter hook output priority 0; }' && \
         nft add rule inet sstr out icmp type destination-unreachable drop");
    let mut responder = chain
        .target
        .command("python3")
        .args(["-c", MPLS_RESPONDER])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(responder.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    let _responder = Background(responder);
    assert_eq!(ready.trim(), "ready");
    let value = trace(
        &chain,
        &chain.target_address(false),
        json!({"protocol": "udp", "port": 33999, "queries": 2, "timeout_ms": 500}),
    );
    let hop4 = &hops(&value)[3];
    assert_eq!(
        hop4["mpls"],
        json!(["16005/0/0/1", "24001/5/1/254"]),
        "{value}"
    );
    assert_eq!(hop4["reply"], json!("time_exceeded"), "{value}");
    let line = value["lines"][4].as_str().unwrap();
    assert!(
        line.contains("mpls=\"16005/0/0/1 24001/5/1/254\""),
        "{line}"
    );
    // Hops without extensions carry no mpls field.
    assert!(!value["lines"][1].as_str().unwrap().contains("mpls="));
    assert_seen(&["traceroute_hop.mpls"]);
}

/// The fields each lab test checks it wrote; together every declared field.
const SEEN_BY_TESTS: &[&str] = &[
    "traceroute.reached",
    "traceroute.error",
    "traceroute.path",
    "traceroute.path_hash",
    "traceroute.hop_count",
    "traceroute.destination",
    "traceroute.duration_ms",
    "traceroute.probes_sent",
    "traceroute.responding_hops",
    "traceroute_hop.address",
    "traceroute_hop.other_addresses",
    "traceroute_hop.name",
    "traceroute_hop.sent",
    "traceroute_hop.received",
    "traceroute_hop.loss_percent",
    "traceroute_hop.rtt_min_ms",
    "traceroute_hop.rtt_avg_ms",
    "traceroute_hop.rtt_max_ms",
    "traceroute_hop.rtt_stdev_ms",
    "traceroute_hop.reply",
    "traceroute_hop.mpls",
];

fn assert_seen(fields: &[&str]) {
    let seen = SEEN.lock().unwrap();
    for field in fields {
        assert!(seen.contains(*field), "{field} not written; seen {seen:?}");
        assert!(
            SEEN_BY_TESTS.contains(field),
            "{field} missing from SEEN_BY_TESTS"
        );
    }
}

/// Every field the schema declares for the two measurements is written by some lab
/// test above (`mpls` by a responder that adds RFC 4950 extensions, which Linux routers
/// do not).
#[test]
fn every_declared_field_is_written_by_a_lab_test() {
    use streamswarm_schema::measurements::{traceroute, traceroute_hop};
    let mut declared: Vec<String> = Vec::new();
    for def in [&traceroute::DEF, &traceroute_hop::DEF] {
        for field in def.fields {
            declared.push(format!("{}.{}", def.name, field.name));
        }
    }
    let mut covered: Vec<String> = SEEN_BY_TESTS.iter().map(|s| s.to_string()).collect();
    declared.sort();
    covered.sort();
    assert_eq!(declared, covered);
}
