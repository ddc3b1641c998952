//! The outbound target policy (`[probes] deny` / `allow` of the agent): which addresses
//! an agent's probes may reach, whatever tests the server assigns. The agent enforces it
//! (`agent/src/probes/policy.rs` resolves each run's target and checks the address); the
//! server reads the same lists from heartbeats to validate them and to show, on the
//! agent page and the test form, which targets each agent refuses.
//!
//! The server's operators choose targets; the host's owner chooses what the agent on it
//! may reach. Without this, a test to `169.254.169.254` reads the cloud metadata
//! service of every agent's host.
//!
//! - **The address the kernel uses.** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
//!   checked as its IPv4 address; an unspecified address (`0.0.0.0`, `::`) reaches the
//!   host's own loopback on Linux, so it is checked as loopback as well.
//! - **One door.** [`TargetPolicy::check`] is the only way to get a [`Permitted`]
//!   address, and probes' socket code takes a `Permitted`, never a bare `IpAddr`.
//!
//! `allow` overrides `deny`: an address inside an `allow` network is permitted even when
//! a `deny` network holds it too (an exception such as one link-local device).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most entries in `deny` or `allow` (each is checked on every run).
pub const MAX_ENTRIES: usize = 64;

/// `probes.deny` when the configuration does not set it: link-local networks and the
/// cloud metadata services (AWS, Azure, Google Cloud, OpenStack, DigitalOcean, Oracle at
/// 169.254.169.254, AWS ECS at 169.254.170.2; AWS over IPv6 at fd00:ec2::254, Google
/// Cloud over IPv6 at fd20:ce::254; Alibaba Cloud at 100.100.100.200), and the
/// unspecified networks, which are never a remote host (`0.0.0.0` reaches this host).
///
/// Loopback is not denied by default: `streamswarm up` pings `127.0.0.1` as its local
/// agent's default test, and an ICMP echo to loopback only shows that the host itself is
/// up. Add `127.0.0.0/8` and `::1/128` on hosts whose loopback services test authors must
/// not reach (documented in `streamswarm-agent.example.toml`).
pub const DEFAULT_DENY: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "fd20:ce::254/128",
    "100.100.100.200/32",
    "0.0.0.0/8",
    "::/128",
];

/// The parsed policy. The default is [`DEFAULT_DENY`] with nothing allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPolicy {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        TargetPolicy {
            deny: DEFAULT_DENY
                .iter()
                .map(|s| parse_network(s).expect("the default list parses"))
                .collect(),
            allow: Vec::new(),
        }
    }
}

/// The policy as the agent reports it in its heartbeat facts (`facts.probe_policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyReport {
    pub deny: Vec<String>,
    #[serde(default)]
    pub allow: Vec<String>,
}

/// An entry of `deny` or `allow` that is not a network, named by its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}[{index}] {value:?} {problem}")]
pub struct PolicyError {
    /// `probes.deny` or `probes.allow` (or the heartbeat field the server checks).
    pub key: String,
    pub index: usize,
    pub value: String,
    pub problem: String,
}

/// Why a probe may not reach an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// The address the target resolved to.
    pub address: IpAddr,
    /// The address the rule matched, when it differs (IPv4-mapped, unspecified).
    pub reached: IpAddr,
    /// The `probes.deny` network that holds it.
    pub rule: IpNet,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, denied by probes.deny {}", self.address, self.rule)?;
        if self.reached != self.address {
            write!(f, " (it reaches {})", self.reached)?;
        }
        Ok(())
    }
}

impl std::error::Error for Denied {}

/// An address the policy permits. Only [`TargetPolicy::check`] makes one, so a probe
/// holding one was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permitted(IpAddr);

impl Permitted {
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

impl fmt::Display for Permitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TargetPolicy {
    /// Parses `deny` and `allow`; errors name `<key_prefix>.deny[i]` / `.allow[i]`.
    pub fn new(
        key_prefix: &str,
        deny: &[impl AsRef<str>],
        allow: &[impl AsRef<str>],
    ) -> Result<Self, PolicyError> {
        Ok(TargetPolicy {
            deny: parse_list(&format!("{key_prefix}.deny"), deny)?,
            allow: parse_list(&format!("{key_prefix}.allow"), allow)?,
        })
    }

    /// A policy that permits every address (tests and tools that aim at their own lab).
    pub fn permit_all() -> Self {
        TargetPolicy {
            deny: Vec::new(),
            allow: Vec::new(),
        }
    }

    pub fn deny(&self) -> &[IpNet] {
        &self.deny
    }

    pub fn allow(&self) -> &[IpNet] {
        &self.allow
    }

    /// What the heartbeat reports.
    pub fn report(&self) -> PolicyReport {
        PolicyReport {
            deny: self.deny.iter().map(IpNet::to_string).collect(),
            allow: self.allow.iter().map(IpNet::to_string).collect(),
        }
    }

    /// Whether a probe may reach `address`.
    pub fn check(&self, address: IpAddr) -> Result<Permitted, Denied> {
        for reached in reached_addresses(address) {
            if self.allow.iter().any(|n| n.contains(&reached)) {
                continue;
            }
            if let Some(rule) = self.deny.iter().find(|n| n.contains(&reached)) {
                return Err(Denied {
                    address,
                    reached,
                    rule: *rule,
                });
            }
        }
        Ok(Permitted(address))
    }
}

/// The addresses a connection to `address` reaches, as far as rules are concerned.
fn reached_addresses(address: IpAddr) -> Vec<IpAddr> {
    let address = match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let mut reached = vec![address];
    if address.is_unspecified() {
        reached.push(match address {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    reached
}

fn parse_list(key: &str, entries: &[impl AsRef<str>]) -> Result<Vec<IpNet>, PolicyError> {
    if entries.len() > MAX_ENTRIES {
        return Err(PolicyError {
            key: key.to_owned(),
            index: MAX_ENTRIES,
            value: entries[MAX_ENTRIES].as_ref().to_owned(),
            problem: format!("is one entry too many: at most {MAX_ENTRIES} networks"),
        });
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            parse_network(entry.as_ref()).map_err(|problem| PolicyError {
                key: key.to_owned(),
                index,
                value: entry.as_ref().to_owned(),
                problem,
            })
        })
        .collect()
}

/// `a.b.c.d/n`, `x::y/n`, or a single address (`/32`, `/128`). Host bits set under the
/// prefix are refused: `10.0.0.5/8` is more likely a typo than a wish for `10.0.0.0/8`.
pub fn parse_network(entry: &str) -> Result<IpNet, String> {
    let text = entry.trim();
    let net = if text.contains('/') {
        text.parse::<IpNet>().map_err(|_| {
            "is not a network like 169.254.0.0/16 or fe80::/10 (address/prefix length)".to_owned()
        })?
    } else {
        IpNet::from(text.parse::<IpAddr>().map_err(|_| {
            "is not an address or a network like 169.254.0.0/16 or fe80::/10".to_owned()
        })?)
    };
    if net.trunc() != net {
        return Err(format!(
            "has bits set after its prefix length; did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_denies_link_local_metadata_and_unspecified_and_permits_loopback() {
        let p = TargetPolicy::default();
        for (address, rule) in [
            ("169.254.169.254", "169.254.0.0/16"),
            ("169.254.170.2", "169.254.0.0/16"),
            ("fe80::1", "fe80::/10"),
            ("fd00:ec2::254", "fd00:ec2::254/128"),
            ("100.100.100.200", "100.100.100.200/32"),
            ("0.0.0.0", "0.0.0.0/8"),
            ("::", "::/128"),
            ("::ffff:169.254.169.254", "169.254.0.0/16"),
        ] {
            let denied = p.check(ip(address)).unwrap_err();
            assert_eq!(denied.rule.to_string(), rule, "{address}");
        }
        for address in ["127.0.0.1", "::1", "10.0.0.1", "192.0.2.1", "2001:db8::1"] {
            assert_eq!(p.check(ip(address)).unwrap().ip(), ip(address));
        }
    }

    #[test]
    fn allow_overrides_deny_and_unspecified_counts_as_loopback() {
        let p = TargetPolicy::new(
            "probes",
            &["169.254.0.0/16", "127.0.0.0/8"],
            &["169.254.10.0/24"],
        )
        .unwrap();
        assert!(p.check(ip("169.254.10.7")).is_ok());
        assert!(p.check(ip("169.254.169.254")).is_err());
        let denied = p.check(ip("0.0.0.0")).unwrap_err();
        assert_eq!(denied.rule.to_string(), "127.0.0.0/8");
        assert_eq!(
            denied.to_string(),
            "0.0.0.0, denied by probes.deny 127.0.0.0/8 (it reaches 127.0.0.1)"
        );
    }

    #[test]
    fn bad_entries_name_their_key_and_index() {
        let e = TargetPolicy::new("probes", &["10.0.0.0/8", "nonsense"], &[] as &[&str])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("probes.deny[1] \"nonsense\" is not"), "{e}");
        let e = TargetPolicy::new("probes", &[] as &[&str], &["10.0.0.5/8"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("probes.allow[0]") && e.contains("did you mean 10.0.0.0/8"),
            "{e}"
        );
        assert!(parse_network("10.0.0.0/33").is_err());
        assert_eq!(
            parse_network(" 192.0.2.1 ").unwrap().to_string(),
            "192.0.2.1/32"
        );
    }
}
