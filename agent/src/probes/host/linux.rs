//! The Linux counters sysinfo does not give: per-device I/O with operation counts
//! (`/proc/diskstats`), per-interface drops next to bytes, packets and errors
//! (`/proc/net/dev`), and TCP sockets by state (`/proc/net/tcp`, `/proc/net/tcp6`).
//!
//! The parsers are pure (text in, values out) so they are tested on captured text; the
//! `read_*` functions are the only I/O. `/proc/net/*` describes the network namespace
//! the agent runs in, which is the host's own unless the agent is containerised.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// `/proc/diskstats` counts sectors of 512 bytes whatever the device's own block size
/// (Documentation/admin-guide/iostats.rst).
const DISKSTATS_SECTOR_BYTES: u64 = 512;

/// Cumulative I/O of one block device since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskCounters {
    pub reads_completed: u64,
    pub read_bytes: u64,
    pub writes_completed: u64,
    pub written_bytes: u64,
}

impl DiskCounters {
    fn is_idle_since_boot(&self) -> bool {
        self.reads_completed == 0 && self.writes_completed == 0
    }
}

/// Every line of `/proc/diskstats`, by device name; lines that do not parse are skipped
/// (the format has only ever grown columns at the end).
pub fn parse_diskstats(text: &str) -> BTreeMap<String, DiskCounters> {
    let mut devices = BTreeMap::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 10 {
            continue;
        }
        let num = |i: usize| cols[i].parse::<u64>().ok();
        let (Some(reads), Some(sectors_read), Some(writes), Some(sectors_written)) =
            (num(3), num(5), num(7), num(9))
        else {
            continue;
        };
        devices.insert(
            cols[2].to_string(),
            DiskCounters {
                reads_completed: reads,
                read_bytes: sectors_read.saturating_mul(DISKSTATS_SECTOR_BYTES),
                writes_completed: writes,
                written_bytes: sectors_written.saturating_mul(DISKSTATS_SECTOR_BYTES),
            },
        );
    }
    devices
}

/// Which devices the host probe reports: whole devices only (`is_whole_device`, on a
/// live host "has an entry in /sys/block"), because a partition's I/O is already in its
/// disk's and summing both would double count. `loop*` and `ram*` are skipped (file-
/// and memory-backed; a loop device's I/O reaches its backing disk anyway), and so is
/// any device that has not completed a single operation since boot (an unused `zram0`,
/// an empty CD drive), which would only add all-zero series.
pub fn select_block_devices(
    all: BTreeMap<String, DiskCounters>,
    is_whole_device: impl Fn(&str) -> bool,
) -> BTreeMap<String, DiskCounters> {
    all.into_iter()
        .filter(|(name, counters)| {
            !name.starts_with("loop")
                && !name.starts_with("ram")
                && !counters.is_idle_since_boot()
                && is_whole_device(name)
        })
        .collect()
}

/// Reads the devices the probe reports (see [`select_block_devices`]).
pub fn read_block_devices() -> BTreeMap<String, DiskCounters> {
    let Ok(text) = fs::read_to_string("/proc/diskstats") else {
        return BTreeMap::new();
    };
    let sys_block = Path::new("/sys/block");
    let have_sys_block = sys_block.is_dir();
    select_block_devices(parse_diskstats(&text), |name| {
        // Without sysfs, fall back to counting every device rather than none.
        !have_sys_block || sys_block.join(name).exists()
    })
}

/// Cumulative traffic of one network interface since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_drops: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_drops: u64,
}

/// `/proc/net/dev`: two header lines, then `name: 8 receive columns 8 transmit
/// columns`. The kernel's `drop` receive column is `rx_dropped + rx_missed_errors`, the
/// number `netstat -i` and `ifconfig` show as RX-DRP. Interfaces named `veth*` are
/// skipped: they come and go with containers and the schema keeps them out.
pub fn parse_net_dev(text: &str) -> BTreeMap<String, NetCounters> {
    let mut interfaces = BTreeMap::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains('|') || name.starts_with("veth") {
            continue;
        }
        let cols: Option<Vec<u64>> = rest.split_whitespace().map(|c| c.parse().ok()).collect();
        let Some(cols) = cols.filter(|c| c.len() >= 16) else {
            continue;
        };
        interfaces.insert(
            name.to_string(),
            NetCounters {
                rx_bytes: cols[0],
                rx_packets: cols[1],
                rx_errors: cols[2],
                rx_drops: cols[3],
                tx_bytes: cols[8],
                tx_packets: cols[9],
                tx_errors: cols[10],
                tx_drops: cols[11],
            },
        );
    }
    interfaces
}

pub fn read_net_dev() -> BTreeMap<String, NetCounters> {
    fs::read_to_string("/proc/net/dev")
        .map(|text| parse_net_dev(&text))
        .unwrap_or_default()
}

/// TCP states as `include/net/tcp_states.h` numbers them; the names are the schema's
/// `state` tag values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TcpState {
    Established = 1,
    SynSent,
    SynRecv,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    Closing,
}

impl TcpState {
    pub const ALL: [TcpState; 11] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
    ];

    /// The state of a `/proc/net/tcp` `st` column (hex). `TCP_NEW_SYN_RECV` (12) is
    /// printed as `SYN_RECV` by the kernel already, but is mapped here too in case.
    pub fn from_proc_hex(hex: &str) -> Option<Self> {
        match u8::from_str_radix(hex, 16).ok()? {
            12 => Some(TcpState::SynRecv),
            n @ 1..=11 => Some(Self::ALL[usize::from(n - 1)]),
            _ => None,
        }
    }

    pub fn tag_value(self) -> &'static str {
        use streamswarm_schema::measurements::tag_values::state as v;
        match self {
            TcpState::Established => v::ESTABLISHED,
            TcpState::SynSent => v::SYN_SENT,
            TcpState::SynRecv => v::SYN_RECV,
            TcpState::FinWait1 => v::FIN_WAIT1,
            TcpState::FinWait2 => v::FIN_WAIT2,
            TcpState::TimeWait => v::TIME_WAIT,
            TcpState::Close => v::CLOSE,
            TcpState::CloseWait => v::CLOSE_WAIT,
            TcpState::LastAck => v::LAST_ACK,
            TcpState::Listen => v::LISTEN,
            TcpState::Closing => v::CLOSING,
        }
    }
}

/// One socket line of `/proc/net/tcp{,6}`: its local port and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSocket {
    pub local_port: u16,
    pub remote_port: u16,
    pub state: TcpState,
}

/// The sockets of a `/proc/net/tcp` or `/proc/net/tcp6` text (the header line and
/// anything unparsable skipped). Columns: `sl local_address rem_address st …`, with
/// addresses as `HEXADDR:HEXPORT`.
pub fn parse_proc_net_tcp(text: &str) -> Vec<TcpSocket> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.split_whitespace();
            let _slot = cols.next()?;
            let local = cols.next()?;
            let remote = cols.next()?;
            let state = TcpState::from_proc_hex(cols.next()?)?;
            let port = |addr: &str| u16::from_str_radix(addr.rsplit_once(':')?.1, 16).ok();
            Some(TcpSocket {
                local_port: port(local)?,
                remote_port: port(remote)?,
                state,
            })
        })
        .collect()
}

/// Connections by state, IPv4 and IPv6 together; `None` when neither file is readable
/// (no TCP/IP in this kernel or namespace), so no zero is invented.
pub fn read_tcp_sockets() -> Option<Vec<TcpSocket>> {
    let v4 = fs::read_to_string("/proc/net/tcp").ok();
    let v6 = fs::read_to_string("/proc/net/tcp6").ok();
    if v4.is_none() && v6.is_none() {
        return None;
    }
    let mut sockets = Vec::new();
    for text in [v4, v6].into_iter().flatten() {
        sockets.extend(parse_proc_net_tcp(&text));
    }
    Some(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISKSTATS: &str = "\
   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   7       1 loop1 57 0 2138 12 0 0 0 0 0 20 12 0 0 0 0 0 0
 254       0 vda 1207039 25865 60139226 2991206 1851726 279400 258262712 1459920 0 227836 4541513 445332 115 97664136 60229 569279 30156
 254       1 vda1 1200000 25000 60000000 2990000 1850000 279000 258000000 1450000 0 227000 4540000 0 0 0 0 0 0
 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
   1       0 ram0 3 0 8 0 0 0 0 0 0 0 0
 259       0 nvme0n1 10 0 80 1 4 0 16 2 0 3 3
";

    #[test]
    fn diskstats_sectors_become_bytes_and_ops_are_completions() {
        let all = parse_diskstats(DISKSTATS);
        assert_eq!(all.len(), 7);
        assert_eq!(
            all["vda"],
            DiskCounters {
                reads_completed: 1_207_039,
                read_bytes: 60_139_226 * 512,
                writes_completed: 1_851_726,
                written_bytes: 258_262_712 * 512,
            }
        );
        // Kernels before 4.18 print 14 columns; those parse too.
        assert_eq!(all["nvme0n1"].written_bytes, 16 * 512);
    }

    #[test]
    fn only_active_whole_devices_are_selected() {
        let whole = ["loop0", "loop1", "vda", "zram0", "ram0", "nvme0n1"];
        let chosen = select_block_devices(parse_diskstats(DISKSTATS), |n| whole.contains(&n));
        let names: Vec<&str> = chosen.keys().map(String::as_str).collect();
        assert_eq!(names, ["nvme0n1", "vda"]);
    }

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 2776418   27340    0    0    0     0          0         0  2776418   27340    0    0    0     0       0          0
  eth0: 9001234567 6543210    3   17    0     0          0       120 123456789  234567    1    2    0     0       0          0
vethab12: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0
";

    #[test]
    fn net_dev_columns_map_to_counters_and_veth_is_skipped() {
        let all = parse_net_dev(NET_DEV);
        assert_eq!(all.keys().collect::<Vec<_>>(), ["eth0", "lo"]);
        assert_eq!(
            all["eth0"],
            NetCounters {
                rx_bytes: 9_001_234_567,
                rx_packets: 6_543_210,
                rx_errors: 3,
                rx_drops: 17,
                tx_bytes: 123_456_789,
                tx_packets: 234_567,
                tx_errors: 1,
                tx_drops: 2,
            }
        );
        assert_eq!(all["lo"].tx_packets, 27_340);
    }

    const TCP: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:C351 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
";

    const TCP6: &str = "\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:0016 0000000000000000FFFF00000100007F:D431 08 00000000:00000000 00:00000000 00000000     0        0 998 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn tcp_sockets_are_read_with_ports_and_states() {
        let v4 = parse_proc_net_tcp(TCP);
        assert_eq!(v4.len(), 4);
        assert_eq!(
            v4[0],
            TcpSocket {
                local_port: 8080,
                remote_port: 0,
                state: TcpState::Listen
            }
        );
        assert_eq!(v4[2].local_port, 0xC350);
        assert_eq!(v4[3].state, TcpState::TimeWait);
        let v6 = parse_proc_net_tcp(TCP6);
        assert_eq!(
            v6.iter().map(|s| s.state).collect::<Vec<_>>(),
            [TcpState::Listen, TcpState::CloseWait]
        );
        assert_eq!(v6[1].remote_port, 0xD431);
    }

    #[test]
    fn every_kernel_state_code_maps_to_a_schema_value() {
        let values = streamswarm_schema::measurements::tag_defs::STATE.values;
        assert_eq!(values.len(), TcpState::ALL.len());
        for (code, state) in (1u8..=11).zip(TcpState::ALL) {
            assert_eq!(TcpState::from_proc_hex(&format!("{code:02X}")), Some(state));
            assert!(values.contains(&state.tag_value()));
        }
        assert_eq!(TcpState::from_proc_hex("0C"), Some(TcpState::SynRecv));
        assert_eq!(TcpState::from_proc_hex("00"), None);
        assert_eq!(TcpState::from_proc_hex("zz"), None);
    }
}
