//! Host facts sent with enrolment and every heartbeat (`docs/agent-api.md`). What the
//! host does not tell (sysinfo returns an error) is left out (`null`), never guessed.

use crate::probes::policy::PolicyReport;
use serde::Serialize;
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Networks, RefreshKind, System};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HostFacts {
    pub os: Option<String>,
    pub os_version: Option<String>,
    pub kernel: Option<String>,
    pub arch: String,
    pub cpu_model: Option<String>,
    pub cpu_count: usize,
    pub memory_bytes: Option<u64>,
    pub interfaces: Vec<Interface>,
    pub agent_version: &'static str,
    pub uptime_seconds: Option<u64>,
    /// The agent's estimate from the previous heartbeat: server clock − own clock.
    pub clock_offset_ms: Option<f64>,
    /// The targets this agent refuses (`[probes] deny` / `allow`); set by the runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_policy: Option<PolicyReport>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Interface {
    pub name: String,
    /// `None` for interfaces without one (loopback, tunnels).
    pub mac: Option<String>,
    /// `address/prefix`, e.g. `10.0.0.5/24`.
    pub addresses: Vec<String>,
}

/// The machine's host name, if it has one.
pub fn hostname() -> String {
    System::host_name().unwrap_or_else(|_| "unknown".into())
}

/// Reads the facts now (a few files under `/proc` and `/sys` on Linux).
pub fn collect(clock_offset_ms: Option<f64>) -> HostFacts {
    let system = System::new_with_specifics(
        RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    let cpus = system.as_ref().map(|s| s.cpus()).unwrap_or_default();
    let cpu_model = cpus
        .first()
        .map(|c| c.brand().trim().to_owned())
        .filter(|b| !b.is_empty());
    // Logical CPUs of the host (not the process's affinity or cgroup quota).
    let cpu_count = if cpus.is_empty() {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        cpus.len()
    };
    let memory_bytes = system.as_ref().map(|s| s.total_memory()).filter(|m| *m > 0);

    let mut interfaces: Vec<Interface> = Networks::new_with_refreshed_list()
        .map(|networks| {
            networks
                .iter()
                .map(|(name, data)| {
                    let mac = data.mac_address();
                    let mut addresses: Vec<String> = data
                        .ip_networks()
                        .iter()
                        .map(|n| format!("{}/{}", n.addr, n.prefix))
                        .collect();
                    addresses.sort();
                    Interface {
                        name: name.to_string_lossy().into_owned(),
                        mac: (!mac.is_unspecified()).then(|| mac.to_string()),
                        addresses,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));

    HostFacts {
        os: System::name().ok(),
        os_version: System::os_version().ok(),
        kernel: System::kernel_version().ok(),
        arch: System::cpu_arch(),
        cpu_model,
        cpu_count,
        memory_bytes,
        interfaces,
        agent_version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: System::uptime().ok(),
        clock_offset_ms,
        probe_policy: None,
    }
}
