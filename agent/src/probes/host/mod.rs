//! The host probe: the agent's own machine as the `host_*` measurements.
//!
//! A [`HostSampler`] lives as long as the agent and keeps the previous counter snapshot
//! with the monotonic [`Instant`] it was read at, so every [`HostSampler::sample`]
//! turns kernel counters since boot into rates over the real elapsed time. The first
//! sample has no rates (absent, not zero), and a counter that went backwards (an
//! interface re-created, a device re-attached, a 32-bit wrap) leaves that entry out
//! for the interval instead of reporting a negative or huge rate.
//!
//! Sources: sysinfo for CPU, memory, swap, load, processes, filesystem usage (statvfs),
//! temperatures and uptime. sysinfo has no per-device operation counts and no interface
//! drops, and nothing about TCP states, so on Linux `linux.rs` reads `/proc/diskstats`,
//! `/proc/net/dev` and `/proc/net/tcp{,6}`; elsewhere those measurements are absent.

#[cfg(target_os = "linux")]
pub mod linux;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::registry::{Probe, ProbeError, RunContext};
use streamswarm_schema::test_spec::{HostParams, TestKind, TestSpec};

use streamswarm_schema::measurements::{
    host_cpu, host_disk, host_diskio, host_memory, host_net, host_swap, host_system, host_tcp,
    host_temperature,
};
use streamswarm_tsdb::{Point, Timestamp};
use sysinfo::{
    Components, CpuRefreshKind, DiskRefreshKind, Disks, MINIMUM_CPU_UPDATE_INTERVAL,
    MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System, ThreadKind,
};

#[cfg(target_os = "linux")]
use linux::{DiskCounters, NetCounters, TcpState};

/// Filesystem types the probe never reports, on top of those sysinfo already skips
/// (proc, sysfs, tmpfs, cgroup, …): the schema's `mount` tag keeps pseudo and layered
/// filesystems out, and their sizes describe nothing on disk.
const SKIPPED_FILESYSTEMS: &[&str] = &["overlay", "squashfs", "tmpfs", "ramfs", "devtmpfs", "nsfs"];

/// Why the sampler could not start.
#[derive(Debug, thiserror::Error)]
#[error("host metrics are not available on this system: {0}")]
pub struct HostUnavailable(#[from] sysinfo::Error);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FilesystemUsage {
    pub mount: String,
    pub total_bytes: u64,
    /// Free to unprivileged users (statvfs `f_bavail`).
    pub available_bytes: u64,
}

impl FilesystemUsage {
    /// Total minus what unprivileged users may still use: reserved blocks count as used.
    pub fn used_bytes(&self) -> u64 {
        self.total_bytes.saturating_sub(self.available_bytes)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskIoRates {
    pub device: String,
    pub read_bytes_per_s: f64,
    pub write_bytes_per_s: f64,
    pub read_ops_per_s: f64,
    pub write_ops_per_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetRates {
    pub interface: String,
    pub rx_bytes_per_s: f64,
    pub tx_bytes_per_s: f64,
    pub rx_packets_per_s: f64,
    pub tx_packets_per_s: f64,
    pub rx_errors_per_s: f64,
    pub tx_errors_per_s: f64,
    pub rx_drops_per_s: f64,
    pub tx_drops_per_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Temperature {
    pub sensor: String,
    pub current_celsius: f64,
    pub critical_celsius: Option<f64>,
}

/// One look at the host. Rates and CPU usage cover `interval`, the time since the
/// previous sample; they are empty/`None` on the first sample.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSample {
    pub time: SystemTime,
    pub interval: Option<Duration>,
    /// Whole machine, the mean of all logical CPUs.
    pub cpu_total_percent: Option<f64>,
    /// Per logical CPU as (`cpu` tag, usage), in the kernel's order; empty when absent.
    pub cpu_percent: Vec<(String, f64)>,
    pub load: Option<LoadAverage>,
    pub processes: u64,
    pub uptime_s: u64,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_free_bytes: u64,
    pub filesystems: Vec<FilesystemUsage>,
    pub disk_io: Vec<DiskIoRates>,
    pub net: Vec<NetRates>,
    /// Sockets per state, every state listed (zero is a measurement); `None` where the
    /// OS does not say.
    pub tcp: Option<Vec<(&'static str, u64)>>,
    pub temperatures: Vec<Temperature>,
}

/// Counters since boot, kept between samples.
#[derive(Debug, Clone, Default)]
struct Counters {
    #[cfg(target_os = "linux")]
    disks: BTreeMap<String, DiskCounters>,
    #[cfg(target_os = "linux")]
    net: BTreeMap<String, NetCounters>,
}

/// How long one host sample may take: it reads `/proc` and walks the process table,
/// normally in milliseconds; seconds mean the host is in trouble.
const SAMPLE_BOUND: Duration = Duration::from_secs(10);

/// The `host` kind: the `host_*` points of one sample per run.
pub struct HostProbe;

impl Probe for HostProbe {
    type Params = HostParams;
    /// The test's own sampler, so rates span the time since this test's previous run.
    /// Created on the first run (on a blocking thread); `None` until then.
    type State = Arc<Mutex<Option<HostSampler>>>;

    fn prepare(&self, _: &TestSpec, _: &HostParams) -> Result<Self::State, ProbeError> {
        Ok(Arc::default())
    }

    fn natural_duration(&self, _: &TestSpec, _: &HostParams) -> Duration {
        SAMPLE_BOUND
    }

    async fn run(
        &self,
        ctx: RunContext<'_>,
        _: &HostParams,
        state: &Self::State,
    ) -> Result<Vec<Point>, ProbeError> {
        let sampler = Arc::clone(state);
        let agent_id = ctx.agent_id;
        // sysinfo and `/proc` reads block; they run off the async workers.
        tokio::task::spawn_blocking(move || {
            // A sample that panicked left nothing half-updated worth refusing.
            let mut guard = sampler.lock().unwrap_or_else(|e| e.into_inner());
            let sampler = match &mut *guard {
                Some(sampler) => sampler,
                None => guard
                    .insert(HostSampler::new().map_err(|e| ProbeError::failed(TestKind::Host, e))?),
            };
            Ok(to_points(&sampler.sample(), agent_id))
        })
        .await
        .map_err(|e| ProbeError::failed(TestKind::Host, e))?
    }

    /// None: the `host_*` measurements have no `error` field and no value of a sample
    /// that never finished is known; the scheduler counts and logs the timeout.
    fn timeout_points(&self, _: RunContext<'_>, _: &HostParams, _: Duration) -> Vec<Point> {
        Vec::new()
    }
}

/// Samples the host; keep one for the agent's lifetime (see the module doc).
pub struct HostSampler {
    system: System,
    disks: Disks,
    components: Components,
    previous: Option<(Instant, Counters)>,
    /// When sysinfo last refreshed CPU times; its usage covers the time since then.
    cpu_refreshed: Instant,
}

impl fmt::Debug for HostSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostSampler")
            .field("has_previous", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl HostSampler {
    pub fn new() -> Result<Self, HostUnavailable> {
        // Reading CPU times here gives the first baseline, so the first sample can
        // already move it (usage itself waits for the second sample).
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_usage()),
        )?;
        Ok(Self {
            system,
            disks: Disks::new()?,
            components: Components::new()?,
            previous: None,
            cpu_refreshed: Instant::now(),
        })
    }

    /// Takes a sample. Call it at the agent's host interval; CPU usage is left out when
    /// less than sysinfo's `MINIMUM_CPU_UPDATE_INTERVAL` passed since the last CPU
    /// reading (the kernel's tick-based times are too coarse below that), and the next
    /// sample then covers the longer span.
    pub fn sample(&mut self) -> HostSample {
        let time = SystemTime::now();
        let now = Instant::now();
        let counters = read_counters();

        let (cpu_total_percent, cpu_percent) = self.cpu_usage(now);
        let (interval, disk_io, net) = match &self.previous {
            Some((then, before)) => {
                let elapsed = now.duration_since(*then);
                let (disk_io, net) = rates(before, &counters, elapsed);
                (Some(elapsed), disk_io, net)
            }
            None => (None, Vec::new(), Vec::new()),
        };
        self.previous = Some((now, counters));

        self.system
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        // What `/proc` lists and `ps -e` counts: user processes and kernel threads, but
        // not the threads of user processes (sysinfo marks those `Userland`).
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing().without_tasks(),
        );
        let processes = self
            .system
            .processes()
            .values()
            .filter(|p| p.thread_kind() != Some(ThreadKind::Userland))
            .count() as u64;

        HostSample {
            time,
            interval,
            cpu_total_percent,
            cpu_percent,
            load: load_average(),
            processes,
            uptime_s: System::uptime().unwrap_or(0),
            memory_total_bytes: self.system.total_memory(),
            memory_available_bytes: self.system.available_memory(),
            swap_total_bytes: self.system.total_swap(),
            swap_free_bytes: self.system.free_swap(),
            filesystems: self.filesystems(),
            disk_io,
            net,
            tcp: tcp_counts(),
            temperatures: self.temperatures(),
        }
    }

    /// Usage since the last CPU reading, which is the previous sample's unless that came
    /// too soon after the one before. The first sample only moves the baseline (taken
    /// by the constructor) up to itself, so usage is never reported over a span that
    /// no sample bounds.
    fn cpu_usage(&mut self, now: Instant) -> (Option<f64>, Vec<(String, f64)>) {
        if now.duration_since(self.cpu_refreshed) < MINIMUM_CPU_UPDATE_INTERVAL {
            return (None, Vec::new());
        }
        self.system.refresh_cpu_usage();
        self.cpu_refreshed = now;
        if self.previous.is_none() {
            return (None, Vec::new());
        }
        let per_cpu = self
            .system
            .cpus()
            .iter()
            .enumerate()
            .map(|(i, c)| (cpu_tag(c.name(), i), f64::from(c.usage()).clamp(0.0, 100.0)))
            .collect();
        let total = f64::from(self.system.global_cpu_usage()).clamp(0.0, 100.0);
        (Some(total), per_cpu)
    }

    fn filesystems(&mut self) -> Vec<FilesystemUsage> {
        self.disks
            .refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        let mut seen = std::collections::BTreeSet::new();
        self.disks
            .iter()
            .filter(|d| {
                let fs = d.file_system().to_string_lossy();
                !SKIPPED_FILESYSTEMS.contains(&fs.as_ref()) && d.total_space() > 0
            })
            .filter_map(|d| {
                let mount = mount_tag(&d.mount_point().to_string_lossy());
                // A filesystem mounted twice (bind mounts) is one series.
                seen.insert(mount.clone()).then(|| FilesystemUsage {
                    mount,
                    total_bytes: d.total_space(),
                    available_bytes: d.available_space(),
                })
            })
            .collect()
    }

    /// Sensors that report a current reading; a sensor without one is left out rather
    /// than given an invented value.
    fn temperatures(&mut self) -> Vec<Temperature> {
        self.components.refresh(true);
        self.components
            .iter()
            .filter_map(|c| {
                let current = f64::from(c.temperature()?);
                let sensor = if c.label().is_empty() {
                    c.id()?.to_string()
                } else {
                    c.label().to_string()
                };
                current.is_finite().then(|| Temperature {
                    sensor,
                    current_celsius: current,
                    critical_celsius: c.critical().map(f64::from).filter(|t| t.is_finite()),
                })
            })
            .collect()
    }
}

/// The `cpu` tag of a logical CPU: Linux names them after `/proc/stat` (`cpu3`), which
/// stays right when a CPU before it is offline; other systems get `cpu<index>`.
fn cpu_tag(name: &str, index: usize) -> String {
    let numbered = name
        .strip_prefix("cpu")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if numbered {
        name.to_string()
    } else {
        format!("cpu{index}")
    }
}

/// Windows drive roots come as `C:\`; the schema's tag drops the trailing backslash.
fn mount_tag(mount: &str) -> String {
    if mount.len() == 3 && mount.ends_with(":\\") {
        mount[..2].to_string()
    } else {
        mount.to_string()
    }
}

fn load_average() -> Option<LoadAverage> {
    if cfg!(windows) {
        return None;
    }
    System::load_average().ok().map(|l| LoadAverage {
        one: l.one,
        five: l.five,
        fifteen: l.fifteen,
    })
}

#[cfg(target_os = "linux")]
fn read_counters() -> Counters {
    Counters {
        disks: linux::read_block_devices(),
        net: linux::read_net_dev(),
    }
}

#[cfg(not(target_os = "linux"))]
fn read_counters() -> Counters {
    Counters::default()
}

#[cfg(target_os = "linux")]
fn tcp_counts() -> Option<Vec<(&'static str, u64)>> {
    let sockets = linux::read_tcp_sockets()?;
    Some(
        TcpState::ALL
            .iter()
            .map(|state| {
                let n = sockets.iter().filter(|s| s.state == *state).count() as u64;
                (state.tag_value(), n)
            })
            .collect(),
    )
}

#[cfg(not(target_os = "linux"))]
fn tcp_counts() -> Option<Vec<(&'static str, u64)>> {
    None
}

/// Per second over `elapsed`, or `None` when the counter went backwards.
fn rate(before: u64, after: u64, elapsed: Duration) -> Option<f64> {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    after.checked_sub(before).map(|d| d as f64 / secs)
}

#[cfg(target_os = "linux")]
fn rates(
    before: &Counters,
    after: &Counters,
    elapsed: Duration,
) -> (Vec<DiskIoRates>, Vec<NetRates>) {
    let disks = after
        .disks
        .iter()
        .filter_map(|(device, a)| {
            let b = before.disks.get(device)?;
            Some(DiskIoRates {
                device: device.clone(),
                read_bytes_per_s: rate(b.read_bytes, a.read_bytes, elapsed)?,
                write_bytes_per_s: rate(b.written_bytes, a.written_bytes, elapsed)?,
                read_ops_per_s: rate(b.reads_completed, a.reads_completed, elapsed)?,
                write_ops_per_s: rate(b.writes_completed, a.writes_completed, elapsed)?,
            })
        })
        .collect();
    let net = after
        .net
        .iter()
        .filter_map(|(interface, a)| {
            let b = before.net.get(interface)?;
            Some(NetRates {
                interface: interface.clone(),
                rx_bytes_per_s: rate(b.rx_bytes, a.rx_bytes, elapsed)?,
                tx_bytes_per_s: rate(b.tx_bytes, a.tx_bytes, elapsed)?,
                rx_packets_per_s: rate(b.rx_packets, a.rx_packets, elapsed)?,
                tx_packets_per_s: rate(b.tx_packets, a.tx_packets, elapsed)?,
                rx_errors_per_s: rate(b.rx_errors, a.rx_errors, elapsed)?,
                tx_errors_per_s: rate(b.tx_errors, a.tx_errors, elapsed)?,
                rx_drops_per_s: rate(b.rx_drops, a.rx_drops, elapsed)?,
                tx_drops_per_s: rate(b.tx_drops, a.tx_drops, elapsed)?,
            })
        })
        .collect();
    (disks, net)
}

#[cfg(not(target_os = "linux"))]
fn rates(_: &Counters, _: &Counters, _: Duration) -> (Vec<DiskIoRates>, Vec<NetRates>) {
    (Vec::new(), Vec::new())
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The sample as `host_*` points, all stamped with the sample's time. `agent_id` is the
/// server's agent id (decimal).
pub fn to_points(sample: &HostSample, agent_id: impl fmt::Display) -> Vec<Point> {
    let agent = agent_id.to_string();
    let ts = Timestamp::from_system_time(sample.time);
    let stamp = |p: Point| match ts {
        Some(t) => p.timestamp(t),
        None => p,
    };
    let mut points = Vec::new();

    if let Some(total) = sample.cpu_total_percent {
        use host_cpu::{MEASUREMENT, fields, tags};
        let cpus =
            std::iter::once(("total".to_string(), total)).chain(sample.cpu_percent.iter().cloned());
        for (cpu, usage) in cpus {
            points.push(
                Point::new(MEASUREMENT)
                    .tag(tags::AGENT, agent.clone())
                    .tag(tags::CPU, cpu)
                    .field(fields::USAGE_PERCENT, usage)
                    .into_dynamic(),
            );
        }
    }

    {
        use host_system::{MEASUREMENT, fields, tags};
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .field_opt(fields::LOAD1, sample.load.map(|l| l.one))
                .field_opt(fields::LOAD5, sample.load.map(|l| l.five))
                .field_opt(fields::LOAD15, sample.load.map(|l| l.fifteen))
                .field(fields::PROCESSES, int(sample.processes))
                .field(fields::UPTIME_S, int(sample.uptime_s))
                .into_dynamic(),
        );
    }

    {
        use host_memory::{MEASUREMENT, fields, tags};
        let total = sample.memory_total_bytes;
        let used = total.saturating_sub(sample.memory_available_bytes);
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .field(fields::TOTAL_BYTES, int(total))
                .field(fields::USED_BYTES, int(used))
                .field(fields::AVAILABLE_BYTES, int(sample.memory_available_bytes))
                .field(fields::USED_PERCENT, percent(used, total).unwrap_or(0.0))
                .into_dynamic(),
        );
    }

    {
        use host_swap::{MEASUREMENT, fields, tags};
        let total = sample.swap_total_bytes;
        let used = total.saturating_sub(sample.swap_free_bytes);
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .field(fields::TOTAL_BYTES, int(total))
                .field(fields::USED_BYTES, int(used))
                .field(fields::FREE_BYTES, int(sample.swap_free_bytes))
                .field_opt(fields::USED_PERCENT, percent(used, total))
                .into_dynamic(),
        );
    }

    for fs in &sample.filesystems {
        use host_disk::{MEASUREMENT, fields, tags};
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::MOUNT, fs.mount.clone())
                .field(fields::TOTAL_BYTES, int(fs.total_bytes))
                .field(fields::USED_BYTES, int(fs.used_bytes()))
                .field(fields::FREE_BYTES, int(fs.available_bytes))
                .field(
                    fields::USED_PERCENT,
                    percent(fs.used_bytes(), fs.total_bytes).unwrap_or(0.0),
                )
                .into_dynamic(),
        );
    }

    for d in &sample.disk_io {
        use host_diskio::{MEASUREMENT, fields, tags};
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::DEVICE, d.device.clone())
                .field(fields::READ_BYTES_PER_S, d.read_bytes_per_s)
                .field(fields::WRITE_BYTES_PER_S, d.write_bytes_per_s)
                .field(fields::READ_OPS_PER_S, d.read_ops_per_s)
                .field(fields::WRITE_OPS_PER_S, d.write_ops_per_s)
                .into_dynamic(),
        );
    }

    for n in &sample.net {
        use host_net::{MEASUREMENT, fields, tags};
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::INTERFACE, n.interface.clone())
                .field(fields::RX_BYTES_PER_S, n.rx_bytes_per_s)
                .field(fields::TX_BYTES_PER_S, n.tx_bytes_per_s)
                .field(fields::RX_PACKETS_PER_S, n.rx_packets_per_s)
                .field(fields::TX_PACKETS_PER_S, n.tx_packets_per_s)
                .field(fields::RX_ERRORS_PER_S, n.rx_errors_per_s)
                .field(fields::TX_ERRORS_PER_S, n.tx_errors_per_s)
                .field(fields::RX_DROPS_PER_S, n.rx_drops_per_s)
                .field(fields::TX_DROPS_PER_S, n.tx_drops_per_s)
                .into_dynamic(),
        );
    }

    for (state, count) in sample.tcp.iter().flatten() {
        use host_tcp::{MEASUREMENT, fields, tags};
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::STATE, *state)
                .field(fields::CONNECTIONS, int(*count))
                .into_dynamic(),
        );
    }

    for t in &sample.temperatures {
        use host_temperature::{MEASUREMENT, fields, tags};
        points.push(
            Point::new(MEASUREMENT)
                .tag(tags::AGENT, agent.clone())
                .tag(tags::SENSOR, t.sensor.clone())
                .field(fields::CURRENT_CELSIUS, t.current_celsius)
                .field_opt(fields::CRITICAL_CELSIUS, t.critical_celsius)
                .into_dynamic(),
        );
    }

    points.into_iter().map(stamp).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamswarm_tsdb::assert_follows_schema;

    fn full_sample() -> HostSample {
        HostSample {
            time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            interval: Some(Duration::from_secs(10)),
            cpu_total_percent: Some(12.5),
            cpu_percent: vec![("cpu0".into(), 20.0), ("cpu1".into(), 5.0)],
            load: Some(LoadAverage {
                one: 0.5,
                five: 0.25,
                fifteen: 0.125,
            }),
            processes: 123,
            uptime_s: 4567,
            memory_total_bytes: 1000,
            memory_available_bytes: 250,
            swap_total_bytes: 0,
            swap_free_bytes: 0,
            filesystems: vec![FilesystemUsage {
                mount: "/".into(),
                total_bytes: 200,
                available_bytes: 50,
            }],
            disk_io: vec![DiskIoRates {
                device: "vda".into(),
                read_bytes_per_s: 1.0,
                write_bytes_per_s: 2.0,
                read_ops_per_s: 3.0,
                write_ops_per_s: 4.0,
            }],
            net: vec![NetRates {
                interface: "lo".into(),
                rx_bytes_per_s: 1.0,
                tx_bytes_per_s: 1.0,
                rx_packets_per_s: 0.1,
                tx_packets_per_s: 0.1,
                rx_errors_per_s: 0.0,
                tx_errors_per_s: 0.0,
                rx_drops_per_s: 0.0,
                tx_drops_per_s: 0.0,
            }],
            tcp: Some(vec![("listen", 3), ("established", 4)]),
            temperatures: vec![Temperature {
                sensor: "Package id 0".into(),
                current_celsius: 45.0,
                critical_celsius: None,
            }],
        }
    }

    #[test]
    fn every_point_follows_the_schema_and_derived_values_are_right() {
        let points = to_points(&full_sample(), 7);
        for p in &points {
            assert_follows_schema(p);
            assert_eq!(p.tag_value("agent"), Some("7"));
            assert!(p.time().is_some());
        }
        let count = |m: &str| points.iter().filter(|p| p.measurement() == m).count();
        assert_eq!(count("host_cpu"), 3);
        assert_eq!(count("host_tcp"), 2);
        assert_eq!(count("host_temperature"), 1);
        let mem = points
            .iter()
            .find(|p| p.measurement() == "host_memory")
            .unwrap();
        let line = mem.to_line(streamswarm_tsdb::Precision::Seconds).unwrap();
        assert_eq!(
            line,
            "host_memory,agent=7 total_bytes=1000i,used_bytes=750i,available_bytes=250i,used_percent=75.0 1700000000\n"
        );
        let swap = points
            .iter()
            .find(|p| p.measurement() == "host_swap")
            .unwrap();
        assert!(
            swap.field_value("used_percent").is_none(),
            "no swap: no percentage"
        );
        let disk = points
            .iter()
            .find(|p| p.measurement() == "host_disk")
            .unwrap();
        let line = disk.to_line(streamswarm_tsdb::Precision::Seconds).unwrap();
        assert!(
            line.contains("used_bytes=150i,free_bytes=50i,used_percent=75.0 "),
            "{line}"
        );
    }

    #[test]
    fn first_sample_shape_has_no_rates_and_no_invented_points() {
        let mut s = full_sample();
        s.interval = None;
        s.cpu_total_percent = None;
        s.cpu_percent.clear();
        s.disk_io.clear();
        s.net.clear();
        s.temperatures.clear();
        s.load = None;
        s.tcp = None;
        let points = to_points(&s, 1);
        for p in &points {
            assert_follows_schema(p);
        }
        let kinds: Vec<&str> = points.iter().map(|p| p.measurement()).collect();
        assert_eq!(
            kinds,
            ["host_system", "host_memory", "host_swap", "host_disk"]
        );
    }

    #[test]
    fn rates_are_absent_when_a_counter_goes_backwards() {
        let ten = Duration::from_secs(10);
        assert_eq!(rate(100, 1100, ten), Some(100.0));
        assert_eq!(rate(100, 100, ten), Some(0.0));
        assert_eq!(rate(1100, 100, ten), None);
        assert_eq!(rate(0, 1, Duration::ZERO), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_recreated_interface_has_no_rate_for_that_interval() {
        let c = |rx: u64| NetCounters {
            rx_bytes: rx,
            rx_packets: rx,
            rx_errors: 0,
            rx_drops: 0,
            tx_bytes: rx,
            tx_packets: rx,
            tx_errors: 0,
            tx_drops: 0,
        };
        let before = Counters {
            disks: BTreeMap::new(),
            net: [("eth0".to_string(), c(5000)), ("lo".to_string(), c(10))].into(),
        };
        let after = Counters {
            disks: BTreeMap::new(),
            net: [
                ("eth0".to_string(), c(20)),
                ("lo".to_string(), c(30)),
                ("eth1".to_string(), c(9)),
            ]
            .into(),
        };
        let (_, net) = rates(&before, &after, Duration::from_secs(2));
        assert_eq!(net.len(), 1, "eth0 went backwards, eth1 is new: {net:?}");
        assert_eq!(net[0].interface, "lo");
        assert_eq!(net[0].rx_bytes_per_s, 10.0);
    }

    #[test]
    fn cpu_tags_keep_kernel_numbers_and_fall_back_to_the_index() {
        assert_eq!(cpu_tag("cpu3", 1), "cpu3");
        assert_eq!(cpu_tag("1", 1), "cpu1");
        assert_eq!(cpu_tag("cpu", 0), "cpu0");
    }

    #[test]
    fn windows_drive_roots_lose_the_backslash() {
        assert_eq!(mount_tag("C:\\"), "C:");
        assert_eq!(mount_tag("/var"), "/var");
    }
}
