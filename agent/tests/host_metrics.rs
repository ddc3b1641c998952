//! Ground truth for the host probe: every number it reports is compared with something
//! known (bytes we sent, sockets we opened, a core we kept busy) or with a standard
//! tool reading the kernel another way (`ss` over netlink, `df` over statvfs,
//! `/proc/meminfo`, `/proc/uptime`, `/proc/stat`, `/sys/class/net`).
//!
//! Other processes share this host, so checks against global counters either bound
//! the error by what the kernel must have added (headers per packet), or filter to our
//! own ports, or retry a few times until a quiet moment gives an exact answer. The
//! tests of one binary run in parallel, so the ones that make traffic, sockets or load
//! hold [`serial`]. Network traffic stays on loopback.

#![cfg(target_os = "linux")]

// The agent is a binary crate, so the tests compile the probe sources directly.
use streamswarm_agent::probes;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use probes::host::linux::{TcpState, read_tcp_sockets};
use probes::host::{HostSample, HostSampler, to_points};
use streamswarm_tsdb::assert_follows_schema;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn sampler() -> HostSampler {
    HostSampler::new().expect("sysinfo supports Linux")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn lo_stat(name: &str) -> u64 {
    read(&format!("/sys/class/net/lo/statistics/{name}"))
        .trim()
        .parse()
        .unwrap()
}

/// Sends `bytes` over one loopback TCP connection and waits until all arrived.
fn send_over_loopback(bytes: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = 0;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        got
    });
    let mut client = TcpStream::connect(addr).unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        client.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(receiver.join().unwrap(), bytes);
}

#[test]
fn first_sample_has_no_rates_and_the_second_has_them_all_following_the_schema() {
    let _guard = serial();
    let mut s = sampler();
    let first = s.sample();
    assert!(first.interval.is_none());
    assert!(first.cpu_total_percent.is_none() && first.cpu_percent.is_empty());
    assert!(first.net.is_empty() && first.disk_io.is_empty());
    for p in to_points(&first, 1) {
        assert_follows_schema(&p);
        assert!(!p.measurement().ends_with("cpu") && !p.measurement().ends_with("net"));
    }
    std::thread::sleep(Duration::from_millis(300));
    let second = s.sample();
    let interval = second.interval.expect("second sample has an interval");
    assert!(interval >= Duration::from_millis(300));
    assert!(second.cpu_total_percent.is_some());
    assert!(second.net.iter().any(|n| n.interface == "lo"));
    let points = to_points(&second, 1);
    for p in &points {
        assert_follows_schema(p);
    }
    let states = points
        .iter()
        .filter(|p| p.measurement() == "host_tcp")
        .count();
    assert_eq!(states, 11, "every TCP state is reported, zero included");
}

/// Loopback byte rate × elapsed must cover the payload we sent, and exceed it by no
/// more than the headers of the packets that crossed `lo`: IPv4 20 + TCP 20–60 bytes
/// each (loopback counts `skb->len` after the Ethernet header was pulled). Our traffic is the only large flow we control, so an attempt
/// that catches someone else's transfer is retried.
#[test]
fn loopback_byte_rate_matches_the_bytes_sent() {
    let _guard = serial();
    const SENT: usize = 4 * 1024 * 1024;
    const MIN_HEADER: f64 = 20.0 + 20.0;
    const MAX_HEADER: f64 = 20.0 + 60.0;
    let mut s = sampler();
    let mut last = String::new();
    for _attempt in 0..5 {
        // The kernel's counters are read just outside the two samples, so they bound
        // the sampled interval even while other processes use loopback.
        let sys_before = (lo_stat("rx_bytes"), lo_stat("rx_packets"));
        s.sample();
        send_over_loopback(SENT);
        let sample = s.sample();
        let sys_after = (lo_stat("rx_bytes"), lo_stat("rx_packets"));
        let secs = sample.interval.unwrap().as_secs_f64();
        let lo = sample.net.iter().find(|n| n.interface == "lo").unwrap();
        let bytes = lo.rx_bytes_per_s * secs;
        let packets = lo.rx_packets_per_s * secs;
        assert!(
            (lo.rx_bytes_per_s - lo.tx_bytes_per_s).abs() * secs < 64.0 * 1024.0,
            "lo receives what it sends"
        );
        assert!(bytes.round() as u64 <= sys_after.0 - sys_before.0);
        assert!(
            bytes >= SENT as f64 + MIN_HEADER * packets - 0.5,
            "{bytes} bytes in {packets} packets for {SENT} sent"
        );
        let overhead = bytes - SENT as f64;
        last = format!(
            "{bytes:.0} bytes, {packets:.0} packets, {overhead:.0} overhead for {SENT} sent"
        );
        if overhead <= MAX_HEADER * packets + 0.5 {
            eprintln!("loopback: {last} ({:.1} bytes/packet)", overhead / packets);
            return;
        }
    }
    panic!("loopback never matched: {last}");
}

fn ss_state(name: &str) -> Option<&'static str> {
    Some(match name {
        "ESTAB" => "established",
        "SYN-SENT" => "syn_sent",
        "SYN-RECV" => "syn_recv",
        "FIN-WAIT-1" => "fin_wait1",
        "FIN-WAIT-2" => "fin_wait2",
        "TIME-WAIT" => "time_wait",
        "UNCONN" | "CLOSE" => "close",
        "CLOSE-WAIT" => "close_wait",
        "LAST-ACK" => "last_ack",
        "LISTEN" => "listen",
        "CLOSING" => "closing",
        _ => return None,
    })
}

/// `ss -tan` (iproute2, over netlink rather than /proc): (state, local port, peer port).
fn ss_sockets() -> Vec<(&'static str, u16, u16)> {
    let out = Command::new("ss")
        .args(["-tanH"])
        .output()
        .expect("ss runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let port = |a: &str| a.rsplit_once(':')?.1.parse::<u16>().ok();
            Some((
                ss_state(cols.first()?)?,
                port(cols.get(3)?)?,
                port(cols.get(4)?).unwrap_or(0),
            ))
        })
        .collect()
}

fn tcp_counts(sample: &HostSample) -> BTreeMap<&'static str, u64> {
    sample
        .tcp
        .clone()
        .expect("Linux has /proc/net/tcp")
        .into_iter()
        .collect()
}

#[test]
fn tcp_state_counts_agree_with_ss() {
    let _guard = serial();
    let mut s = sampler();
    let mut last = String::new();
    for _attempt in 0..20 {
        let before = tcp_counts(&s.sample());
        let ss = ss_sockets();
        let after = tcp_counts(&s.sample());
        if before != after {
            continue;
        }
        let mut from_ss: BTreeMap<&str, u64> = after.keys().map(|k| (*k, 0)).collect();
        for (state, _, _) in &ss {
            *from_ss.get_mut(state).unwrap() += 1;
        }
        if from_ss == after {
            eprintln!("tcp states agree with ss: {after:?}");
            return;
        }
        last = format!("probe {after:?}\n   ss {from_ss:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("tcp states never agreed with ss -tan:\n{last}");
}

/// N listeners and M accepted loopback connections (two established sockets each, one
/// per end) must appear exactly: on our ports in the probe's parse and in `ss`, and in
/// the global counts of a quiet attempt.
#[test]
fn new_listening_and_established_sockets_are_counted_exactly() {
    let _guard = serial();
    const N: usize = 3;
    const M: usize = 2;
    let mut s = sampler();
    let mut last = String::new();
    for _attempt in 0..10 {
        let base = tcp_counts(&s.sample());
        let listeners: Vec<TcpListener> = (0..N)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        let clients: Vec<TcpStream> = (0..M)
            .map(|_| TcpStream::connect(listeners[0].local_addr().unwrap()).unwrap())
            .collect();
        let accepted: Vec<TcpStream> = (0..M).map(|_| listeners[0].accept().unwrap().0).collect();
        let now = tcp_counts(&s.sample());

        let ours = |state: TcpState| {
            read_tcp_sockets()
                .unwrap()
                .iter()
                .filter(|k| {
                    k.state == state && (ports.contains(&k.local_port) || k.remote_port == ports[0])
                })
                .count()
        };
        assert_eq!(ours(TcpState::Listen), N, "our listeners in /proc/net/tcp");
        assert_eq!(
            ours(TcpState::Established),
            2 * M,
            "both ends of our connections"
        );
        let ss = ss_sockets();
        let ss_ours = |state: &str| {
            ss.iter()
                .filter(|(st, l, r)| *st == state && (ports.contains(l) || *r == ports[0]))
                .count()
        };
        assert_eq!(ss_ours("listen"), N, "ss sees our listeners");
        assert_eq!(ss_ours("established"), 2 * M, "ss sees our connections");

        let delta = |state: &str| now[state] as i64 - base[state] as i64;
        last = format!(
            "listen +{}, established +{}",
            delta("listen"),
            delta("established")
        );
        drop((clients, accepted, listeners));
        if delta("listen") == N as i64 && delta("established") == 2 * M as i64 {
            eprintln!("tcp delta exact: {last}");
            return;
        }
    }
    panic!("global counts never moved by exactly N/2M: {last}");
}

fn meminfo_kib(key: &str) -> u64 {
    read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap()
}

#[test]
fn memory_matches_proc_meminfo() {
    let sample = sampler().sample();
    assert_eq!(sample.memory_total_bytes, meminfo_kib("MemTotal") * 1024);
    let available = meminfo_kib("MemAvailable") * 1024;
    let diff = sample.memory_available_bytes.abs_diff(available);
    assert!(
        diff < 256 << 20,
        "available {} vs {available}",
        sample.memory_available_bytes
    );
    assert_eq!(sample.swap_total_bytes, meminfo_kib("SwapTotal") * 1024);
    assert!(
        sample
            .swap_free_bytes
            .abs_diff(meminfo_kib("SwapFree") * 1024)
            < 64 << 20
    );
}

fn proc_pids() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
        })
        .count()
}

/// Other sessions start and end processes all the time, so the probe's count must fall
/// within a few of the `/proc` listings taken just before and after it; a burst of
/// process churn during one attempt is retried.
#[test]
fn process_count_matches_proc() {
    let mut s = sampler();
    let mut last = String::new();
    for _attempt in 0..5 {
        let before = proc_pids();
        let sample = s.sample();
        let after = proc_pids();
        let (lo, hi) = (before.min(after), before.max(after));
        let n = sample.processes as usize;
        last = format!("probe {n}, /proc had {before} then {after}");
        if n + 3 >= lo && n <= hi + 3 {
            eprintln!("processes: {last}");
            return;
        }
    }
    panic!("{last}");
}

/// `df -B1 --output=size,avail /` uses statvfs like sysinfo: the size is exact, the
/// free space moves with whoever writes to the disk meanwhile.
#[test]
fn root_filesystem_usage_matches_df() {
    let df = || {
        let out = Command::new("df")
            .args(["-B1", "--output=size,avail", "/"])
            .output()
            .expect("df runs");
        let text = String::from_utf8(out.stdout).unwrap();
        let nums: Vec<u64> = text
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        (nums[0], nums[1])
    };
    let mut s = sampler();
    let (size, avail_before) = df();
    let sample = s.sample();
    let (_, avail_after) = df();
    let root = sample
        .filesystems
        .iter()
        .find(|f| f.mount == "/")
        .expect("/ is reported");
    assert_eq!(root.total_bytes, size);
    let slack = 256 << 20;
    assert!(
        root.available_bytes + slack >= avail_before.min(avail_after)
            && root.available_bytes <= avail_before.max(avail_after) + slack,
        "free {} vs df {avail_before}..{avail_after}",
        root.available_bytes
    );
    assert_eq!(root.used_bytes(), root.total_bytes - root.available_bytes);
}

/// `/proc/stat` CPU lines by name (`cpu` is the aggregate): (busy, total) jiffies,
/// busy excluding idle and iowait (guest time is already inside user and nice).
fn proc_stat_cpus() -> BTreeMap<String, (u64, u64)> {
    read("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu"))
        .map(|line| {
            let mut cols = line.split_whitespace();
            let name = cols.next().unwrap().to_string();
            let nums: Vec<u64> = cols.take(8).map(|n| n.parse().unwrap()).collect();
            let total: u64 = nums.iter().sum();
            (name, (total - nums[3] - nums[4], total))
        })
        .collect()
}

fn busy_percent(before: (u64, u64), after: (u64, u64)) -> f64 {
    100.0 * (after.0 - before.0) as f64 / (after.1 - before.1).max(1) as f64
}

#[test]
fn cpu_usage_rises_when_a_core_is_kept_busy() {
    let _guard = serial();
    let cpus = read("/proc/stat")
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    let mut s = sampler();
    s.sample();
    std::thread::sleep(Duration::from_millis(250));
    s.sample();
    let stat_before = proc_stat_cpus();
    let spin = std::thread::spawn(|| {
        let until = Instant::now() + Duration::from_secs(1);
        let mut x = 0u64;
        while Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        x
    });
    spin.join().unwrap();
    let sample = s.sample();
    let stat_after = proc_stat_cpus();
    let total = sample
        .cpu_total_percent
        .expect("usage after a previous sample");
    let one_core = 100.0 / cpus as f64;
    assert!(
        total >= 0.4 * one_core,
        "total {total:.1} % with one of {cpus} cores busy"
    );
    assert_eq!(sample.cpu_percent.len(), cpus);
    for (i, (tag, usage)) in sample.cpu_percent.iter().enumerate() {
        assert_eq!(*tag, format!("cpu{i}"), "all CPUs online here");
        assert!((0.0..=100.0).contains(usage), "{tag} {usage}");
    }
    // /proc/stat read just outside the sampled interval: the same span within a few
    // milliseconds, so the two agree to a few points.
    let from_stat = busy_percent(stat_before["cpu"], stat_after["cpu"]);
    eprintln!("cpu: probe {total:.1} %, /proc/stat {from_stat:.1} %");
    assert!(
        (total - from_stat).abs() < 15.0,
        "probe {total:.1} % vs /proc/stat {from_stat:.1} %"
    );
    for (tag, usage) in &sample.cpu_percent {
        let want = busy_percent(stat_before[tag], stat_after[tag]);
        eprintln!("  {tag}: probe {usage:.1} %, /proc/stat {want:.1} %");
        assert!(
            (usage - want).abs() < 15.0,
            "{tag}: {usage:.1} vs {want:.1}"
        );
    }
}

#[test]
fn uptime_matches_proc_uptime() {
    let sample = sampler().sample();
    let proc_uptime: f64 = read("/proc/uptime")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (sample.uptime_s as f64 - proc_uptime).abs() <= 2.0,
        "{} vs {proc_uptime}",
        sample.uptime_s
    );
}

#[test]
fn load_averages_match_proc_loadavg() {
    let sample = sampler().sample();
    let load = sample.load.expect("Linux has load averages");
    let text = read("/proc/loadavg");
    let proc: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    // /proc/loadavg prints two decimals; the averages move slowly.
    for (got, want) in [load.one, load.five, load.fifteen].iter().zip(&proc) {
        assert!((got - want).abs() < 0.5, "{got} vs {want}");
    }
}

fn host_exposes_temperatures() -> bool {
    let has = |dir: &str, prefix: &str, file: &str| {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries.filter_map(|e| e.ok()).any(|e| {
                    let path = e.path();
                    if !e.file_name().to_string_lossy().starts_with(prefix) {
                        return false;
                    }
                    if file.is_empty() {
                        std::fs::read_dir(&path).is_ok_and(|d| {
                            d.filter_map(|f| f.ok()).any(|f| {
                                let n = f.file_name();
                                let n = n.to_string_lossy();
                                n.starts_with("temp") && n.ends_with("_input")
                            })
                        })
                    } else {
                        path.join(file).exists()
                    }
                })
            })
            .unwrap_or(false)
    };
    has("/sys/class/hwmon", "hwmon", "") || has("/sys/class/thermal", "thermal_zone", "temp")
}

#[test]
fn temperatures_are_never_invented() {
    let sample = sampler().sample();
    let points = to_points(&sample, 1);
    let temps: Vec<_> = points
        .iter()
        .filter(|p| p.measurement() == "host_temperature")
        .collect();
    if host_exposes_temperatures() {
        for t in &sample.temperatures {
            assert!((-60.0..150.0).contains(&t.current_celsius), "{t:?}");
        }
        assert_eq!(temps.len(), sample.temperatures.len());
    } else {
        eprintln!("no hwmon temperature inputs or thermal zones: expecting no points");
        assert!(sample.temperatures.is_empty(), "{:?}", sample.temperatures);
        assert!(temps.is_empty());
    }
}

/// The whole block device holding `path`: `st_dev` → `/sys/dev/block/MAJ:MIN`, and the
/// parent device when that is a partition (the probe reports whole devices only).
fn block_device_of(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).ok()?.dev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let sys = std::fs::canonicalize(format!("/sys/dev/block/{major}:{minor}")).ok()?;
    let whole = if sys.join("partition").exists() {
        sys.parent()?.to_path_buf()
    } else {
        sys
    };
    Some(whole.file_name()?.to_string_lossy().into_owned())
}

/// `/sys/block/DEV/stat`: (reads, sectors read, writes, sectors written).
fn sys_block_stat(device: &str) -> (u64, u64, u64, u64) {
    let text = read(&format!("/sys/block/{device}/stat"));
    let n: Vec<u64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (n[0], n[2], n[4], n[6])
}

/// A buffer aligned for `O_DIRECT`.
struct Aligned {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Aligned {
    fn new(len: usize) -> Self {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` points to `layout.size()` initialised bytes we own.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

/// Writes (and fsyncs) 32 MiB, then reads 8 MiB back with `O_DIRECT` so it cannot come
/// from the page cache. The probe's byte rates × elapsed must cover what we moved, and
/// must sit between `/sys/block/DEV/stat` deltas read just inside and just outside the
/// sampled interval (the same kernel counters through another file).
#[test]
fn disk_io_rates_cover_a_known_write_and_direct_read() {
    use std::os::unix::fs::OpenOptionsExt;
    const WRITE: usize = 32 << 20;
    const READ: usize = 8 << 20;
    let _guard = serial();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let Some(device) = block_device_of(dir.path()) else {
        eprintln!("the test directory is on no block device; nothing to compare");
        return;
    };
    if !std::path::Path::new(&format!("/sys/block/{device}/stat")).exists() {
        eprintln!("{device} has no /sys/block entry; nothing to compare");
        return;
    }
    let file_path = dir.path().join("io");
    let mut s = sampler();

    let outer_before = sys_block_stat(&device);
    s.sample();
    let inner_before = sys_block_stat(&device);
    {
        let mut f = std::fs::File::create(&file_path).unwrap();
        let block = vec![0xa5u8; 1 << 20];
        for _ in 0..WRITE / block.len() {
            f.write_all(&block).unwrap();
        }
        f.sync_all().unwrap();
    }
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&file_path);
    let read_direct = match direct {
        Ok(mut f) => {
            let mut buf = Aligned::new(1 << 20);
            let mut got = 0;
            while got < READ {
                let n = f.read(buf.as_mut()).unwrap();
                assert!(n > 0);
                got += n;
            }
            true
        }
        // Some filesystems refuse O_DIRECT; the write side is still checked.
        Err(e) => {
            eprintln!("O_DIRECT refused ({e}); read side not checked");
            false
        }
    };
    let inner_after = sys_block_stat(&device);
    let sample = s.sample();
    let outer_after = sys_block_stat(&device);

    let secs = sample.interval.unwrap().as_secs_f64();
    let io = sample
        .disk_io
        .iter()
        .find(|d| d.device == device)
        .unwrap_or_else(|| panic!("{device} not in {:?}", sample.disk_io));
    let written = io.write_bytes_per_s * secs;
    let read_bytes = io.read_bytes_per_s * secs;
    eprintln!(
        "{device}: wrote {WRITE}, probe {written:.0} bytes / {:.0} ops; read {READ}, probe {read_bytes:.0} bytes / {:.0} ops",
        io.write_ops_per_s * secs,
        io.read_ops_per_s * secs
    );
    assert!(written >= WRITE as f64 - 0.5, "{written} < {WRITE}");
    assert!(io.write_ops_per_s * secs >= 1.0 - 1e-9);
    let sectors = |a: u64, b: u64| ((b - a) * 512) as f64;
    assert!(written >= sectors(inner_before.3, inner_after.3) - 0.5);
    assert!(written <= sectors(outer_before.3, outer_after.3) + 0.5);
    assert!(read_bytes >= sectors(inner_before.1, inner_after.1) - 0.5);
    assert!(read_bytes <= sectors(outer_before.1, outer_after.1) + 0.5);
    let ops = io.read_ops_per_s * secs;
    assert!(ops >= (inner_after.0 - inner_before.0) as f64 - 1e-6);
    assert!(ops <= (outer_after.0 - outer_before.0) as f64 + 1e-6);
    if read_direct {
        assert!(read_bytes >= READ as f64 - 0.5, "{read_bytes} < {READ}");
    }
}

/// Samples closer together than sysinfo's minimum CPU interval still give counter
/// rates, but no CPU usage (tick-based CPU times are too coarse there); the next sample
/// after the minimum has it again, covering the longer span.
#[test]
fn samples_too_close_together_leave_cpu_out_but_keep_rates() {
    let mut s = sampler();
    s.sample();
    std::thread::sleep(Duration::from_millis(250));
    assert!(s.sample().cpu_total_percent.is_some());
    let quick = s.sample();
    assert!(quick.cpu_total_percent.is_none() && quick.cpu_percent.is_empty());
    assert!(quick.interval.unwrap() < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    assert!(quick.net.iter().any(|n| n.interface == "lo"));
    for p in to_points(&quick, 1) {
        assert_follows_schema(&p);
        assert_ne!(p.measurement(), "host_cpu");
    }
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    assert!(s.sample().cpu_total_percent.is_some());
}
