//! Enforcing the outbound target policy ([`TargetPolicy`], declared in the schema crate
//! with the networks, defaults and checks the server shares) at run time.
//!
//! - **Checked on the resolved address, at run time.** A name is resolved on every run
//!   and the address the probe would use is checked, so a name that resolves (or starts
//!   resolving, DNS rebinding) to a denied address is denied too.
//! - **A refusal is a point.** A denied run records its `error` ("169.254.169.254,
//!   denied by probes.deny 169.254.0.0/16"; "metadata.internal resolved to
//!   169.254.169.254, denied by …"), never a silent skip, and nothing is sent.
//! - **One door.** [`resolve`] (names and literals) and [`TargetPolicy::check`] (an
//!   address a probe learnt otherwise, e.g. a redirect) are the only ways to get a
//!   [`Permitted`] address, and probes' socket code takes a `Permitted`. The dispatch in
//!   `probes/mod.rs` resolves every network test's target through it before the probe
//!   runs.

use std::net::IpAddr;
use std::time::Duration;
pub use streamswarm_schema::target_policy::*;
use streamswarm_schema::test_spec::AddressFamily;

/// How long name resolution may take before the run fails with an error.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a target has no address a probe may use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an address of the wanted family, no answer, or a resolver failure.
    #[error("{0}")]
    Unresolved(String),
    /// A name resolved to a denied address.
    #[error("{name} resolved to {denied}")]
    NameDenied { name: String, denied: Denied },
    /// An address literal in a denied network.
    #[error("{0}")]
    Denied(Denied),
}

/// Resolves `target` (an IP literal, bracketed IPv6 too, or a host name through the
/// system resolver, so `/etc/hosts` and the host's resolver order apply) to the
/// first address of the wanted family, and checks that address.
pub async fn resolve(
    policy: &TargetPolicy,
    target: &str,
    family: AddressFamily,
) -> Result<Permitted, TargetError> {
    let host = target
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(target);
    let fits = |ip: &IpAddr| match family {
        AddressFamily::Any => true,
        AddressFamily::Ipv4 => ip.is_ipv4(),
        AddressFamily::Ipv6 => ip.is_ipv6(),
    };
    let wanted = match family {
        AddressFamily::Any => "IP",
        AddressFamily::Ipv4 => "IPv4",
        AddressFamily::Ipv6 => "IPv6",
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        if !fits(&ip) {
            return Err(TargetError::Unresolved(format!(
                "{ip} is not an {wanted} address, which the test's family asks for"
            )));
        }
        return policy.check(ip).map_err(TargetError::Denied);
    }
    let answers = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| {
            TargetError::Unresolved(format!(
                "{host} did not resolve within {} s",
                RESOLVE_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| TargetError::Unresolved(format!("{host} did not resolve: {e}")))?;
    let addresses: Vec<IpAddr> = answers.map(|a| a.ip()).collect();
    let ip = addresses.iter().copied().find(fits).ok_or_else(|| {
        TargetError::Unresolved(format!(
            "{host} has no {wanted} address (it resolved to {addresses:?})"
        ))
    })?;
    policy.check(ip).map_err(|denied| TargetError::NameDenied {
        name: host.to_owned(),
        denied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn literals_and_bracketed_ipv6_resolve_without_lookup() {
        let p = TargetPolicy::permit_all();
        assert_eq!(
            resolve(&p, "[::1]", AddressFamily::Any).await.unwrap().ip(),
            ip("::1")
        );
        assert_eq!(
            resolve(&p, "10.0.0.1", AddressFamily::Ipv4)
                .await
                .unwrap()
                .ip(),
            ip("10.0.0.1")
        );
        assert!(matches!(
            resolve(&p, "10.0.0.1", AddressFamily::Ipv6).await,
            Err(TargetError::Unresolved(_))
        ));
    }
}
