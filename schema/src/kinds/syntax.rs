//! The small vocabularies of `schema/kinds/*.toml`, shared by `build.rs` (which reads the
//! files) and the runtime catalogue (which the test form and validators read).

use serde::{Deserialize, Serialize};

/// What a test's `target` must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetSyntax {
    /// No target: the test measures the agent itself.
    None,
    /// A host name or IP address.
    Host,
    /// `host:port` (IPv6 as `[addr]:port`).
    HostPort,
    /// A DNS name (or an IP address, for PTR queries).
    DnsName,
    /// An `http://` or `https://` URL.
    Url,
}

/// A parameter's type in the kind file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    U8,
    U16,
    U32,
    Bool,
    String,
    Enum,
    List,
}

/// Checks beyond type and range that a string parameter gets (`test_spec::check_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamFormat {
    /// `ip`, `ip:port`, `[v6]:port`, or an `https://` URL (DNS over HTTPS).
    Resolver,
    /// An HTTP header line `Name: value`.
    Header,
    /// A regular expression (the `regex` crate's syntax).
    Regex,
    /// An absolute `http://` / `https://` URL.
    Url,
}
