//! Ping truth in the network lab: real network namespaces, veth pairs, nftables and a
//! userspace echo responder give ground truths the probe's numbers must match.
//!
//! The probe runs as the `ping_once` example under `ip netns exec`, so no address is
//! ever added in the root namespace: every address lives in a namespace created here
//! (`ssw-ping-<random>`, 10.X.Y.0/30 links) and every packet goes to loopback or to
//! those namespaces. Each namespace is deleted by a drop guard, also when a test panics.
//!
//! Needs root. When not root: runs anyway (and fails) under `CI=true`, otherwise each
//! test prints `SKIPPED` and passes.
#![cfg(target_os = "linux")]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// Whether the lab can run here; panics under CI when it cannot.
fn lab() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but not root: the ping lab needs root for network namespaces");
        }
        eprintln!("SKIPPED: ping lab tests need root (network namespaces, raw sockets)");
        return false;
    }
    ensure_tools();
    true
}

/// Installs iputils `ping` and `nft` when missing (root only): the lab compares with
/// the one and drops packets with the other.
fn ensure_tools() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let missing = |tool: &str| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if missing("nft") || missing("ping") {
            let status = Command::new("apt-get")
                .args(["install", "-y", "-q", "nftables", "iputils-ping"])
                .stdout(Stdio::null())
                .status()
                .expect("apt-get");
            assert!(
                status.success(),
                "apt-get install nftables iputils-ping failed"
            );
        }
    });
}

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A network namespace that is deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Self {
        let name = format!("ssw-ping-{:08x}", rand::random::<u32>());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    fn sh(&self, script: &str) -> Output {
        run("ip", &["netns", "exec", &self.name, "sh", "-c", script])
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// A background process killed when dropped (declare it after the namespaces it runs
/// in, so it dies first).
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Joins two namespaces with a veth pair on a random 10.X.Y.Z/30 and returns the
/// addresses of `a` and `b`.
fn link(a: &Netns, b: &Netns) -> (String, String) {
    // Random per link (not per namespace), so a namespace can have several links.
    let suffix = format!("{:08x}", rand::random::<u32>());
    let (end_a, end_b) = (format!("sp{suffix}a"), format!("sp{suffix}b"));
    run(
        "ip",
        &[
            "link", "add", &end_a, "netns", &a.name, "type", "veth", "peer", "name", &end_b,
            "netns", &b.name,
        ],
    );
    let net = (
        200 + rand::random::<u8>() % 50,
        rand::random::<u8>(),
        (rand::random::<u8>() % 64) * 4,
    );
    let addr = |host: u8| format!("10.{}.{}.{}", net.0, net.1, net.2 + host);
    for (ns, end, host) in [(a, &end_a, 1), (b, &end_b, 2)] {
        ns.ip(&["addr", "add", &format!("{}/30", addr(host)), "dev", end]);
        ns.ip(&["link", "set", end, "up"]);
    }
    (addr(1), addr(2))
}

/// Path of an example binary next to this test's binary. The examples are (re)built
/// once per test process: `cargo test --test ping_lab` alone would not rebuild them, and
/// a stale responder or probe would make the lab measure old code.
fn example(name: &str) -> String {
    static BUILT: OnceLock<()> = OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "-q",
                "-p",
                "streamswarm-agent",
                "--examples",
                "--target-dir",
            ])
            .arg(profile_dir.parent().unwrap());
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(
            build.status().unwrap().success(),
            "building the agent's examples"
        );
    });
    let path: PathBuf = profile_dir.join("examples").join(name);
    path.display().to_string()
}

/// Runs `ping_once` in `ns` and returns its JSON; every point it made must follow the
/// schema (proof 5).
fn ping_in(ns: &Netns, target: &str, params: Value, extra: &[&str]) -> Value {
    ping_with(ns.command(&example("ping_once")), target, params, extra)
}

fn ping_with(mut command: Command, target: &str, params: Value, extra: &[&str]) -> Value {
    let output = command
        .args([target, "--params", &params.to_string()])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ping_once failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(value["schema_violations"], json!([]), "{value}");
    assert!(
        value["line"].as_str().unwrap().starts_with("ping,"),
        "{value}"
    );
    value
}

fn field(value: &Value, path: &[&str]) -> f64 {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} missing in {value}"))
}

/// Nearest-rank median, the same definition the probe reports as `rtt_p50_ms`.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len().div_ceil(2) - 1]
}

#[test]
fn loopback_rtts_agree_with_iputils_ping_side_by_side() {
    if !lab() {
        return;
    }
    let ns = Netns::new();
    let count = 30;
    // Both run at once on the same loopback, so they see the same machine load.
    let iputils = ns
        .command("ping")
        .args(["-n", "-c", &count.to_string(), "-i", "0.2", "127.0.0.1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let ours = ping_in(
        &ns,
        "127.0.0.1",
        json!({"count": count, "interval_ms": 200}),
        &[],
    );
    let theirs = iputils.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&theirs.stdout);
    let mut times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(times.len(), count, "{text}");
    let theirs_median = median(&mut times);
    let ours_median = field(&ours, &["summary", "p50_ms"]);
    let difference_us = (ours_median - theirs_median).abs() * 1000.0;
    eprintln!(
        "loopback median: ours {ours_median:.4} ms, iputils {theirs_median:.4} ms, \
         difference {difference_us:.1} µs"
    );
    assert_eq!(ours["result"]["received"], json!(count));
    assert_eq!(ours["result"]["error"], Value::Null);
    assert!(
        difference_us <= 50.0,
        "median differs by {difference_us} µs"
    );

    // IPv6 loopback in the same namespace: hop limit reported, family tagged.
    let v6 = ping_in(&ns, "::1", json!({"count": 5, "interval_ms": 20}), &[]);
    assert_eq!(v6["result"]["received"], json!(5), "{v6}");
    assert_eq!(v6["result"]["family"], json!("ipv6"));
    assert_eq!(v6["result"]["reply_ttl"], json!(64));
    assert!(v6["line"].as_str().unwrap().contains("family=ipv6"));

    // Large and empty payloads (a 9,000-byte echo does not fit a 2 KiB buffer).
    for size in [0, 9000] {
        let sized = ping_in(
            &ns,
            "127.0.0.1",
            json!({"count": 2, "interval_ms": 20, "payload_size": size}),
            &[],
        );
        assert_eq!(sized["result"]["received"], json!(2), "{sized}");
    }

    // A host name is resolved per run and honours the family.
    let named = ping_in(
        &ns,
        "localhost",
        json!({"count": 2, "interval_ms": 20, "family": "ipv4"}),
        &[],
    );
    assert_eq!(named["result"]["resolved"], json!("127.0.0.1"), "{named}");
    assert_eq!(named["result"]["received"], json!(2));
}

#[test]
fn nftables_dropping_every_tenth_echo_reads_exactly_ten_percent_loss() {
    if !lab() {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    let (_, target) = link(&a, &b);
    b.sh("nft add table inet t && \
         nft add chain inet t c '{ type filter hook input priority 0 ; }' && \
         nft add rule inet t c icmp type echo-request numgen inc mod 10 0 drop");
    let result = ping_in(
        &a,
        &target,
        json!({"count": 50, "interval_ms": 20, "timeout_ms": 1000}),
        &[],
    );
    eprintln!(
        "loss with every 10th echo dropped: {} %",
        result["loss_percent"]
    );
    assert_eq!(result["result"]["sent"], json!(50), "{result}");
    assert_eq!(result["result"]["received"], json!(45), "{result}");
    assert_eq!(result["loss_percent"], json!(10.0));
    assert!(
        result["line"]
            .as_str()
            .unwrap()
            .contains("loss_percent=10.0,")
    );
    assert_eq!(result["result"]["error"], Value::Null);
}

#[test]
fn known_responder_delay_shows_in_the_average() {
    if !lab() {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    let (_, target) = link(&a, &b);
    let params = json!({"count": 20, "interval_ms": 50, "timeout_ms": 1000});
    let base = ping_in(&a, &target, params.clone(), &[]);
    let base_avg = field(&base, &["summary", "avg_ms"]);
    assert_eq!(base["result"]["received"], json!(20), "{base}");

    b.sh("sysctl -qw net.ipv4.icmp_echo_ignore_all=1");
    let delay_ms = 20.0;
    let mut child = b
        .command(&example("echo_responder"))
        .args(["--delay-us", "20000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _responder = Background(child);
    let mut ready = String::new();
    BufReader::new(stdout).read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");

    let delayed = ping_in(&a, &target, params, &[]);
    let avg = field(&delayed, &["summary", "avg_ms"]);
    let expected = delay_ms + base_avg;
    let error = avg - expected;
    eprintln!(
        "known delay: avg {avg:.4} ms, expected {expected:.4} ms \
         (20 ms + base {base_avg:.4} ms), error {error:+.4} ms"
    );
    assert_eq!(delayed["result"]["received"], json!(20), "{delayed}");
    assert_eq!(delayed["result"]["duplicates"], json!(0));
    assert!(error.abs() <= 0.3, "average off by {error} ms");
}

#[test]
fn duplicate_replies_are_counted_and_do_not_lower_loss() {
    if !lab() {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    let (_, target) = link(&a, &b);
    b.sh("sysctl -qw net.ipv4.icmp_echo_ignore_all=1");
    let mut child = b
        .command(&example("echo_responder"))
        .args(["--delay-us", "1000", "--copies", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _responder = Background(child);
    BufReader::new(stdout)
        .read_line(&mut String::new())
        .unwrap();
    let result = ping_in(
        &a,
        &target,
        json!({"count": 5, "interval_ms": 20, "timeout_ms": 500}),
        &[],
    );
    assert_eq!(result["result"]["received"], json!(5), "{result}");
    // Two extra copies per request; the run ends when the last request is answered
    // (as iputils does), so the last request's extra copies may come too late to count.
    let duplicates = result["result"]["duplicates"].as_u64().unwrap();
    assert!((8..=10).contains(&duplicates), "{result}");
    assert_eq!(result["loss_percent"], json!(0.0));
    assert!(
        result["line"]
            .as_str()
            .unwrap()
            .contains(&format!("duplicates={duplicates}i"))
    );
}

#[test]
fn unreachable_targets_give_full_loss_and_an_error_but_still_a_point() {
    if !lab() {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    let (_, neighbour) = link(&a, &b);
    let params = json!({"count": 3, "interval_ms": 100, "timeout_ms": 300});

    // Nobody answers on the link: the neighbour's address is gone.
    b.sh("ip -4 addr flush scope global");
    let silent = ping_in(&a, &neighbour, params.clone(), &[]);
    assert_eq!(silent["result"]["sent"], json!(3), "{silent}");
    assert_eq!(silent["loss_percent"], json!(100.0));
    let error = silent["result"]["error"].as_str().unwrap();
    assert!(error.contains("no echo reply"), "{error}");
    assert!(silent["line"].as_str().unwrap().contains("error=\""));

    // No route at all: another /30 of the same /24, which no namespace routes.
    let mut octets: Vec<u8> = neighbour.split('.').map(|o| o.parse().unwrap()).collect();
    octets[3] ^= 0x80;
    let unrouted = format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3]);
    let no_route = ping_in(&a, &unrouted, params.clone(), &[]);
    assert_eq!(no_route["loss_percent"], json!(100.0), "{no_route}");
    let error = no_route["result"]["error"].as_str().unwrap();
    assert!(error.contains("unreachable"), "{error}");

    // A name that does not resolve: nothing sent, no loss figure, an error.
    let unresolved = ping_in(&a, "no-such-host.invalid", params, &[]);
    assert_eq!(unresolved["result"]["sent"], json!(0), "{unresolved}");
    assert_eq!(unresolved["loss_percent"], Value::Null);
    let error = unresolved["result"]["error"].as_str().unwrap();
    assert!(error.contains("did not resolve"), "{error}");
}

#[test]
fn router_errors_name_the_router() {
    if !lab() {
        return;
    }
    // a — r — b, with r forwarding and routes both ways through it.
    let (a, r, b) = (Netns::new(), Netns::new(), Netns::new());
    let (a_addr, r_near) = link(&a, &r);
    let (r_far, b_addr) = link(&r, &b);
    r.sh("sysctl -qw net.ipv4.ip_forward=1");
    a.ip(&["route", "add", &format!("{b_addr}/32"), "via", &r_near]);
    b.ip(&["route", "add", &format!("{a_addr}/32"), "via", &r_far]);
    let params = json!({"count": 3, "interval_ms": 50, "timeout_ms": 300});

    let through = ping_in(&a, &b_addr, params.clone(), &[]);
    assert_eq!(through["result"]["received"], json!(3), "{through}");
    assert_eq!(
        through["result"]["reply_ttl"],
        json!(63),
        "one hop back: {through}"
    );

    // TTL 1 expires at r, which says so.
    let mut short = params.clone();
    short["ttl"] = json!(1);
    let expired = ping_in(&a, &b_addr, short, &[]);
    assert_eq!(expired["loss_percent"], json!(100.0), "{expired}");
    let error = expired["result"]["error"].as_str().unwrap();
    assert_eq!(
        error,
        format!("TTL exceeded in transit (ICMP from {r_near})")
    );

    // r has no route to this address: it answers "network unreachable".
    let mut octets: Vec<u8> = b_addr.split('.').map(|o| o.parse().unwrap()).collect();
    octets[3] ^= 0x80;
    let nowhere = format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3]);
    a.ip(&["route", "add", &format!("{nowhere}/32"), "via", &r_near]);
    let unreachable = ping_in(&a, &nowhere, params, &[]);
    assert_eq!(unreachable["loss_percent"], json!(100.0), "{unreachable}");
    let error = unreachable["result"]["error"].as_str().unwrap();
    assert!(error.contains("unreachable (ICMP from "), "{error}");
}

#[test]
fn ttl_and_dscp_are_on_the_wire() {
    if !lab() {
        return;
    }
    let ns = Netns::new();
    ns.sh("nft add table inet t && \
         nft add chain inet t c '{ type filter hook input priority 0 ; }' && \
         nft add rule inet t c icmp type echo-request ip dscp ef ip ttl 1 counter && \
         nft add rule inet t c icmpv6 type echo-request ip6 dscp ef ip6 hoplimit 1 counter");
    let params = json!({"count": 4, "interval_ms": 20, "ttl": 1, "dscp": 46});
    for target in ["127.0.0.1", "::1"] {
        let result = ping_in(&ns, target, params.clone(), &[]);
        assert_eq!(result["result"]["received"], json!(4), "{result}");
    }
    let rules = String::from_utf8_lossy(&ns.sh("nft list chain inet t c").stdout).into_owned();
    assert_eq!(rules.matches("counter packets 4 ").count(), 2, "{rules}");
}

#[test]
fn datagram_sockets_work_and_missing_permission_names_the_fix() {
    if !lab() {
        return;
    }
    let ns = Netns::new();
    // ping_group_range is per network namespace, so this changes nothing outside.
    ns.sh("sysctl -qw net.ipv4.ping_group_range='0 2147483647'");
    let params = json!({"count": 3, "interval_ms": 20});
    for target in ["127.0.0.1", "::1"] {
        let result = ping_in(&ns, target, params.clone(), &["--socket", "dgram"]);
        assert_eq!(result["result"]["socket"], json!("dgram"), "{result}");
        assert_eq!(result["result"]["received"], json!(3), "{result}");
        assert_eq!(result["result"]["reply_ttl"], json!(64), "{result}");
    }

    // Neither kind allowed: no group may ping, and CAP_NET_RAW is dropped from the
    // bounding set, so the exec'd probe lacks it even as root.
    ns.sh("sysctl -qw net.ipv4.ping_group_range='1 0'");
    let mut command = ns.command("setpriv");
    command.args(["--bounding-set", "-net_raw", &example("ping_once")]);
    let denied = ping_with(command, "127.0.0.1", params, &[]);
    assert_eq!(denied["result"]["sent"], json!(0), "{denied}");
    let error = denied["result"]["error"].as_str().unwrap();
    assert!(error.contains("net.ipv4.ping_group_range"), "{error}");
    assert!(error.contains("setcap cap_net_raw+ep"), "{error}");
}
