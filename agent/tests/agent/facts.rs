//! Host facts against the kernel's own files.

use streamswarm_agent::facts;

#[test]
fn facts_agree_with_proc_and_sys() {
    let f = facts::collect(Some(2.5));
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let processors = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    assert_eq!(f.cpu_count, processors);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(f.memory_bytes, Some(kib * 1024));
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(f.kernel.as_deref(), Some(release.trim()));
    assert_eq!(f.arch, std::env::consts::ARCH);
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let reported = f.uptime_seconds.unwrap() as f64;
    // Read a moment apart: the same second or the next.
    assert!((reported - uptime).abs() <= 2.0, "{reported} vs {uptime}");
    assert_eq!(f.clock_offset_ms, Some(2.5));
    assert_eq!(f.agent_version, env!("CARGO_PKG_VERSION"));
    // Each interface reported carries the MAC the kernel shows for it (other tests may
    // add and remove lab interfaces meanwhile, so only those still present are compared).
    assert!(f.interfaces.iter().any(|i| i.name == "lo"));
    for iface in &f.interfaces {
        let Ok(mac) = std::fs::read_to_string(format!("/sys/class/net/{}/address", iface.name))
        else {
            continue;
        };
        let mac = mac.trim();
        if mac.is_empty() || mac == "00:00:00:00:00:00" {
            assert_eq!(iface.mac, None, "{}", iface.name);
        } else {
            assert_eq!(iface.mac.as_deref(), Some(mac), "{}", iface.name);
        }
    }
}
