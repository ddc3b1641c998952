//! The network lab shared by `dns_lab`, `tcp_lab`, `http_lab` and `traceroute_lab`: namespaces deleted on drop, veth
//! links with random addresses inside the caller's ranges, background processes and
//! threads that live in a namespace, and the example binaries built once.
//!
//! Needs root. When not root: fails under `CI=true`, otherwise each test prints
//! `SKIPPED` and passes (the same rule as `ping_lab`).
#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Whether the lab can run here (panics under CI when it cannot), as a guard that runs
/// this binary's lab tests one at a time: their timing comparisons (probe beside dig or
/// curl) need a machine not busy with the other lab tests' servers, as `scripts/test.sh`
/// runs them. Installs the Debian packages the lab compares with when they are missing.
pub fn lab(packages: &[(&str, &str)]) -> Option<std::sync::MutexGuard<'static, ()>> {
    static SERIAL: Mutex<()> = Mutex::new(());
    if !can_run(packages) {
        return None;
    }
    Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()))
}

fn can_run(packages: &[(&str, &str)]) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but not root: the lab needs root for network namespaces");
        }
        eprintln!("SKIPPED: lab tests need root (network namespaces)");
        return false;
    }
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(tool, _)| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        let status = Command::new("apt-get")
            .args(["install", "-y", "-q"])
            .args(&missing)
            .stdout(Stdio::null())
            .status()
            .expect("apt-get");
        assert!(status.success(), "apt-get install {missing:?} failed");
    }
    true
}

pub fn run(program: &str, args: &[&str]) -> Output {
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

/// A network namespace (with its `/etc/netns/<name>` directory, if one was made) that is
/// deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(prefix: &str) -> Self {
        let name = format!("{prefix}-{:08x}", rand::random::<u32>());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all);
    }

    pub fn sh(&self, script: &str) -> Output {
        run("ip", &["netns", "exec", &self.name, "sh", "-c", script])
    }

    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// `program` in this namespace under a real-time scheduling class (`chrt -f 10`):
    /// the lab runs on machines busy with builds, and what a probe and the tool beside
    /// it are compared on is the network and the servers, not which of them waited
    /// longer for a CPU. Both tools and the servers get the same class; none of them
    /// spins, so the rest of the machine keeps running. Where real-time scheduling is
    /// not allowed (a container without an RT budget), `nice -n -10` instead.
    pub fn realtime_command(&self, program: &str) -> Command {
        static REALTIME: OnceLock<bool> = OnceLock::new();
        let realtime = *REALTIME.get_or_init(|| {
            Command::new("chrt")
                .args(["-f", "10", "true"])
                .status()
                .is_ok_and(|s| s.success())
        });
        let mut command = if realtime {
            let mut c = Command::new("chrt");
            c.args(["-f", "10"]);
            c
        } else {
            let mut c = Command::new("nice");
            c.args(["-n", "-10"]);
            c
        };
        command.args(["ip", "netns", "exec", &self.name, program]);
        command
    }

    /// `ip netns exec` bind-mounts `/etc/netns/<name>/hosts` over `/etc/hosts` for the
    /// programs it runs.
    pub fn set_hosts(&self, text: &str) {
        let dir = format!("/etc/netns/{}", self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/hosts"), text).unwrap();
    }

    /// `ip netns exec` bind-mounts `/etc/netns/<name>/resolv.conf` over
    /// `/etc/resolv.conf` for the programs it runs.
    pub fn set_resolv_conf(&self, text: &str) {
        let dir = format!("/etc/netns/{}", self.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/resolv.conf"), text).unwrap();
    }

    /// Runs `f` on a new thread that has entered this namespace (only that thread).
    pub fn thread<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: setns on a namespace file this thread opened; it changes only
            // the calling thread's network namespace.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

/// A background process killed when dropped (declare it after the namespaces it runs
/// in, so it dies first).
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server thread that runs until dropped: its loop checks `stop` (use socket read
/// timeouts so it does).
pub struct ServerThread {
    pub stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    pub fn start(ns: &Netns, f: impl FnOnce(Arc<AtomicBool>) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = ns.thread(move || f(flag));
        ServerThread {
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// Addresses of a link's two ends.
#[derive(Debug, Clone)]
pub struct Link {
    pub a4: String,
    pub b4: String,
    pub a6: String,
    pub b6: String,
    /// Interface names in `a` and `b`.
    pub dev_a: String,
    pub dev_b: String,
}

/// Joins two namespaces with a veth pair: IPv4 `10.<octet>.X.Y/30` and IPv6
/// `fd<octet>:X:Y::/64` (no duplicate address detection, so the addresses work at once).
pub fn link(a: &Netns, b: &Netns, octet: u8, prefix: &str) -> Link {
    let suffix = format!("{:08x}", rand::random::<u32>());
    let (dev_a, dev_b) = (format!("{prefix}{suffix}a"), format!("{prefix}{suffix}b"));
    run(
        "ip",
        &[
            "link", "add", &dev_a, "netns", &a.name, "type", "veth", "peer", "name", &dev_b,
            "netns", &b.name,
        ],
    );
    let (x, y) = (rand::random::<u8>(), (rand::random::<u8>() % 64) * 4);
    let v4 = |host: u8| format!("10.{octet}.{x}.{}", y + host);
    // Canonical text (as the probe prints addresses): parsed and printed again.
    let v6 = |host: u8| {
        format!("fd{octet}:{x:x}:{y:x}::{host}")
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .to_string()
    };
    for (ns, end, host) in [(a, &dev_a, 1), (b, &dev_b, 2)] {
        ns.ip(&["addr", "add", &format!("{}/30", v4(host)), "dev", end]);
        ns.ip(&[
            "addr",
            "add",
            &format!("{}/64", v6(host)),
            "dev",
            end,
            "nodad",
        ]);
        ns.ip(&["link", "set", end, "up"]);
    }
    Link {
        a4: v4(1),
        b4: v4(2),
        a6: v6(1),
        b6: v6(2),
        dev_a,
        dev_b,
    }
}

/// Path of an example binary next to this test's binary, (re)built once per test
/// process so the lab never measures stale code.
pub fn example(name: &str) -> String {
    static BUILT: OnceLock<()> = OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-q", "-p", "streamswarm-agent", "--examples"])
            .arg("--target-dir")
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

/// Nearest-rank median.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len().div_ceil(2) - 1]
}
