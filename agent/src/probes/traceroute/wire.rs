//! Traceroute packets, pure byte work: building the probes of one flow (ICMP echo, UDP,
//! TCP SYN) and recognising the answers to them (ICMP time exceeded / destination
//! unreachable quoting a probe, echo replies, SYN-ACK / RST), with the MPLS label stack
//! of RFC 4884 / RFC 4950 ICMP extensions.
//!
//! # Paris-style flow identifiers
//!
//! Routers that balance per flow hash the addresses, the protocol and the first four
//! bytes of the transport header (ports; for ICMP type, code and checksum). Every probe
//! of a run keeps these constant, so all its probes take one path, and the probe is
//! told apart by a field outside the hash that every ICMP error quotes (the first 8
//! bytes of the transport header are always quoted):
//!
//! - ICMP echo: the sequence number; the two payload bytes after it carry its one's
//!   complement, so the ICMP checksum is the same for every probe.
//! - UDP: the checksum itself (Paris traceroute's trick): two payload bytes are chosen so
//!   the checksum equals `probe + 1`. Ports stay constant.
//! - TCP SYN: the sequence number (`run id << 16 | probe`); an answering SYN-ACK or RST
//!   acknowledges it plus one.

use crate::probes::icmp::Family;
use std::net::IpAddr;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;

/// The probe protocol of a run (generated from `schema/kinds/traceroute.toml`).
pub use streamswarm_schema::test_spec::TracerouteProtocol as Protocol;

/// What stays constant over a run's probes, and what identifies them as this run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub protocol: Protocol,
    pub source: IpAddr,
    pub destination: IpAddr,
    /// Source port (UDP, TCP); unused for ICMP.
    pub source_port: u16,
    /// Destination port (UDP, TCP); unused for ICMP.
    pub destination_port: u16,
    /// Per-run random identifier: the ICMP echo identifier, the TCP sequence's upper half.
    pub id: u16,
}

impl Flow {
    pub fn family(&self) -> Family {
        Family::of(self.destination)
    }

    /// The transport payload (ICMP message, UDP datagram, TCP segment) of probe `probe`.
    /// `packet_size` is the whole IP packet's size (traceroute's packetlen); probes are
    /// never shorter than their headers plus the two bytes Paris needs (TCP SYNs are
    /// header only).
    pub fn probe(&self, probe: u16, packet_size: usize) -> Vec<u8> {
        let ip_header = match self.family() {
            Family::Ipv4 => 20,
            Family::Ipv6 => 40,
        };
        let body = packet_size.saturating_sub(ip_header).max(10);
        match self.protocol {
            Protocol::Icmp => self.icmp_echo(probe, body),
            Protocol::Udp => self.udp(probe, body),
            Protocol::Tcp => self.tcp_syn(probe),
        }
    }

    fn icmp_echo(&self, probe: u16, body: usize) -> Vec<u8> {
        let mut packet = vec![0u8; body];
        packet[0] = match self.family() {
            Family::Ipv4 => 8,
            Family::Ipv6 => 128,
        };
        packet[4..6].copy_from_slice(&self.id.to_be_bytes());
        packet[6..8].copy_from_slice(&probe.to_be_bytes());
        // sequence + !sequence = 0xffff whatever the sequence: a constant checksum.
        packet[8..10].copy_from_slice(&(!probe).to_be_bytes());
        // ICMPv6's checksum covers a pseudo-header: the kernel fills it in (and it is
        // constant too, since the message sum is).
        if self.family() == Family::Ipv4 {
            let sum = fold(sum16(&packet, 0));
            packet[2..4].copy_from_slice(&(!sum).to_be_bytes());
        }
        packet
    }

    fn udp(&self, probe: u16, body: usize) -> Vec<u8> {
        let mut packet = vec![0u8; body.max(10)];
        let len = packet.len() as u16;
        packet[0..2].copy_from_slice(&self.source_port.to_be_bytes());
        packet[2..4].copy_from_slice(&self.destination_port.to_be_bytes());
        packet[4..6].copy_from_slice(&len.to_be_bytes());
        // Checksum = probe + 1 (never 0, which means "no checksum" in IPv4 UDP, and
        // never 0xffff, its other representation): solve for the two payload bytes.
        let wanted = probe.wrapping_add(1);
        let partial = fold(self.pseudo_sum(IPPROTO_UDP, len as u32) + sum16(&packet, 0));
        // fold(partial + w) must be !wanted; in one's complement w = !wanted - partial.
        let w = ones_add(!wanted, !partial);
        packet[8..10].copy_from_slice(&w.to_be_bytes());
        packet[6..8].copy_from_slice(&wanted.to_be_bytes());
        packet
    }

    fn tcp_syn(&self, probe: u16) -> Vec<u8> {
        let mut packet = vec![0u8; 20];
        packet[0..2].copy_from_slice(&self.source_port.to_be_bytes());
        packet[2..4].copy_from_slice(&self.destination_port.to_be_bytes());
        packet[4..8].copy_from_slice(&self.tcp_sequence(probe).to_be_bytes());
        packet[12] = 5 << 4; // data offset: 20 bytes
        packet[13] = TCP_SYN;
        packet[14..16].copy_from_slice(&64240u16.to_be_bytes());
        let sum = fold(self.pseudo_sum(IPPROTO_TCP, 20) + sum16(&packet, 0));
        packet[16..18].copy_from_slice(&(!sum).to_be_bytes());
        packet
    }

    fn tcp_sequence(&self, probe: u16) -> u32 {
        (u32::from(self.id) << 16) | u32::from(probe)
    }

    /// One's complement sum of the pseudo-header (RFC 768 / RFC 8200 §8.1).
    fn pseudo_sum(&self, protocol: u8, len: u32) -> u32 {
        let mut sum = 0u32;
        for ip in [self.source, self.destination] {
            sum = match ip {
                IpAddr::V4(v4) => sum16(&v4.octets(), sum),
                IpAddr::V6(v6) => sum16(&v6.octets(), sum),
            };
        }
        sum + (len >> 16) + (len & 0xffff) + u32::from(protocol)
    }

    /// Recognises an answer to one of this flow's probes in what a raw socket returned:
    /// an ICMP message (`icmp` = true; raw ICMP socket) or a TCP segment (raw TCP
    /// socket). `with_ip_header`: raw IPv4 sockets deliver the IP header, IPv6 ones do
    /// not.
    pub fn recognise(&self, icmp: bool, with_ip_header: bool, data: &[u8]) -> Option<Answer> {
        let payload = if with_ip_header {
            strip_ipv4_header(data)?
        } else {
            data
        };
        if icmp {
            self.recognise_icmp(payload)
        } else {
            self.recognise_tcp(payload)
        }
    }

    fn recognise_icmp(&self, icmp: &[u8]) -> Option<Answer> {
        if icmp.len() < 8 {
            return None;
        }
        let family = self.family();
        let (kind, code) = (icmp[0], icmp[1]);
        let reply = match (family, kind) {
            (Family::Ipv4, 0) | (Family::Ipv6, 129) => {
                // An echo reply comes from the destination and quotes nothing.
                if self.protocol != Protocol::Icmp
                    || u16::from_be_bytes([icmp[4], icmp[5]]) != self.id
                {
                    return None;
                }
                return Some(Answer {
                    probe: u16::from_be_bytes([icmp[6], icmp[7]]),
                    reply: Reply::EchoReply,
                    mpls: Vec::new(),
                });
            }
            (Family::Ipv4, 11) | (Family::Ipv6, 3) => Reply::TimeExceeded,
            (Family::Ipv4, 3) if code == 3 => Reply::PortUnreachable,
            (Family::Ipv6, 1) if code == 4 => Reply::PortUnreachable,
            (Family::Ipv4, 3) | (Family::Ipv6, 1) => Reply::Unreachable(code),
            _ => return None,
        };
        // RFC 4884 length of the quoted datagram (32-bit words for ICMPv4 at byte 5,
        // 64-bit words for ICMPv6 at byte 4); 0 means "not given".
        let quoted_words = match family {
            Family::Ipv4 => usize::from(icmp[5]) * 4,
            Family::Ipv6 => usize::from(icmp[4]) * 8,
        };
        let quoted = &icmp[8..];
        let probe = self.quoted_probe(quoted)?;
        Some(Answer {
            probe,
            reply,
            mpls: mpls_labels(quoted, quoted_words),
        })
    }

    /// Which of our probes the quoted datagram (IP header + at least 8 bytes) is, if any.
    fn quoted_probe(&self, quoted: &[u8]) -> Option<u16> {
        let (protocol, destination, transport) = match self.family() {
            Family::Ipv4 => {
                let first = *quoted.first()?;
                if first >> 4 != 4 {
                    return None;
                }
                let ihl = usize::from(first & 0x0f) * 4;
                let dst: [u8; 4] = quoted.get(16..20)?.try_into().ok()?;
                (*quoted.get(9)?, IpAddr::from(dst), quoted.get(ihl..)?)
            }
            Family::Ipv6 => {
                if quoted.first()? >> 4 != 6 {
                    return None;
                }
                // Probes carry no extension headers: the next header is the transport.
                let dst: [u8; 16] = quoted.get(24..40)?.try_into().ok()?;
                (*quoted.get(6)?, IpAddr::from(dst), quoted.get(40..)?)
            }
        };
        if destination != self.destination || transport.len() < 8 {
            return None;
        }
        let word = |at: usize| u16::from_be_bytes([transport[at], transport[at + 1]]);
        match self.protocol {
            Protocol::Icmp => {
                let echo = match self.family() {
                    Family::Ipv4 => (IPPROTO_ICMP, 8),
                    Family::Ipv6 => (IPPROTO_ICMPV6, 128),
                };
                (protocol == echo.0 && transport[0] == echo.1 && word(4) == self.id)
                    .then(|| word(6))
            }
            Protocol::Udp => (protocol == IPPROTO_UDP
                && word(0) == self.source_port
                && word(2) == self.destination_port
                && word(6) != 0)
                .then(|| word(6).wrapping_sub(1)),
            Protocol::Tcp => {
                let sequence = u32::from_be_bytes(transport[4..8].try_into().ok()?);
                (protocol == IPPROTO_TCP
                    && word(0) == self.source_port
                    && word(2) == self.destination_port
                    && (sequence >> 16) as u16 == self.id)
                    .then_some(sequence as u16)
            }
        }
    }

    fn recognise_tcp(&self, segment: &[u8]) -> Option<Answer> {
        if self.protocol != Protocol::Tcp || segment.len() < 20 {
            return None;
        }
        let word = |at: usize| u16::from_be_bytes([segment[at], segment[at + 1]]);
        if word(0) != self.destination_port || word(2) != self.source_port {
            return None;
        }
        let flags = segment[13];
        let reply = if flags & TCP_RST != 0 {
            Reply::TcpRst
        } else if flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK {
            Reply::TcpSynAck
        } else {
            return None;
        };
        if flags & TCP_ACK == 0 {
            return None;
        }
        let acknowledged = u32::from_be_bytes(segment[8..12].try_into().ok()?).wrapping_sub(1);
        ((acknowledged >> 16) as u16 == self.id).then_some(Answer {
            probe: acknowledged as u16,
            reply,
            mpls: Vec::new(),
        })
    }
}

const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// What kind of answer a probe got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    TimeExceeded,
    EchoReply,
    PortUnreachable,
    TcpSynAck,
    TcpRst,
    /// Destination unreachable with another code.
    Unreachable(u8),
}

impl Reply {
    /// The schema's `reply` value.
    pub fn name(self) -> String {
        match self {
            Reply::TimeExceeded => "time_exceeded".into(),
            Reply::EchoReply => "echo_reply".into(),
            Reply::PortUnreachable => "port_unreachable".into(),
            Reply::TcpSynAck => "tcp_syn_ack".into(),
            Reply::TcpRst => "tcp_rst".into(),
            Reply::Unreachable(code) => format!("unreachable_{code}"),
        }
    }
}

/// One recognised answer: which probe it answers, how, and the MPLS labels it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub probe: u16,
    pub reply: Reply,
    pub mpls: Vec<MplsEntry>,
}

/// One MPLS label stack entry (RFC 4950 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MplsEntry {
    pub label: u32,
    pub exp: u8,
    pub bottom: bool,
    pub ttl: u8,
}

impl MplsEntry {
    /// `label/exp/s/ttl`, as the schema's `mpls` field lists them.
    pub fn text(self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.label,
            self.exp,
            u8::from(self.bottom),
            self.ttl
        )
    }
}

/// The MPLS label stack object of an ICMP extension structure (RFC 4884 §7, RFC 4950)
/// after the quoted datagram. `quoted_len` is the RFC 4884 length field in bytes; when
/// it is 0 (routers predating RFC 4884), the compatibility rule applies: an extension
/// structure starts at byte 128 of a longer quote.
pub fn mpls_labels(quoted: &[u8], quoted_len: usize) -> Vec<MplsEntry> {
    let start = if quoted_len > 0 { quoted_len } else { 128 };
    let Some(extension) = quoted.get(start..) else {
        return Vec::new();
    };
    // Header: version 2 in the top nibble, reserved, checksum (may be 0 = not computed).
    if extension.len() < 8 || extension[0] >> 4 != 2 {
        return Vec::new();
    }
    let checksum = u16::from_be_bytes([extension[2], extension[3]]);
    if checksum != 0 && fold(sum16(extension, 0)) != 0xffff {
        return Vec::new();
    }
    let mut labels = Vec::new();
    let mut rest = &extension[4..];
    while rest.len() >= 4 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let (class, ctype) = (rest[2], rest[3]);
        if len < 4 || len > rest.len() {
            break;
        }
        if class == 1 && ctype == 1 {
            for entry in rest[4..len].chunks_exact(4) {
                let word = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
                labels.push(MplsEntry {
                    label: word >> 12,
                    exp: ((word >> 9) & 0x7) as u8,
                    bottom: (word >> 8) & 1 == 1,
                    ttl: word as u8,
                });
            }
        }
        rest = &rest[len..];
    }
    labels
}

fn strip_ipv4_header(data: &[u8]) -> Option<&[u8]> {
    let first = *data.first()?;
    if first >> 4 != 4 {
        return None;
    }
    data.get(usize::from(first & 0x0f) * 4..)
}

/// 16-bit one's complement sum (unfolded) of `data`, added to `sum`.
pub fn sum16(data: &[u8], mut sum: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn ones_add(a: u16, b: u16) -> u16 {
    fold(u32::from(a) + u32::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(protocol: Protocol, v6: bool) -> Flow {
        let (source, destination): (IpAddr, IpAddr) = if v6 {
            ("fd71::1".parse().unwrap(), "fd71:4::2".parse().unwrap())
        } else {
            ("10.71.0.1".parse().unwrap(), "10.71.4.2".parse().unwrap())
        };
        Flow {
            protocol,
            source,
            destination,
            source_port: 40_000,
            destination_port: 33_434,
            id: 0x5a5a,
        }
    }

    /// The checksum a receiver verifies: the sum over pseudo-header and segment is 0xffff.
    fn verifies(flow: &Flow, protocol: u8, segment: &[u8]) -> bool {
        fold(flow.pseudo_sum(protocol, segment.len() as u32) + sum16(segment, 0)) == 0xffff
    }

    /// An IPv4 / IPv6 header in front of `transport`, as a router quotes it.
    fn ip(flow: &Flow, protocol: u8, transport: &[u8]) -> Vec<u8> {
        let mut packet = match (flow.source, flow.destination) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 1, protocol, 0, 0];
                h.extend_from_slice(&s.octets());
                h.extend_from_slice(&d.octets());
                h
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut h = vec![0x60, 0, 0, 0, 0, 0, protocol, 1];
                h.extend_from_slice(&s.octets());
                h.extend_from_slice(&d.octets());
                h
            }
            _ => unreachable!(),
        };
        packet.extend_from_slice(transport);
        packet
    }

    #[test]
    fn the_flow_identifier_is_constant_and_every_checksum_verifies() {
        for v6 in [false, true] {
            let icmp = flow(Protocol::Icmp, v6);
            let sums: Vec<u32> = (0..500u16)
                .map(|p| sum16(&icmp.probe(p, 60), 0))
                .map(|s| u32::from(fold(s)))
                .collect();
            assert!(sums.windows(2).all(|w| w[0] == w[1]), "ICMP sum varies");
            if !v6 {
                assert_eq!(fold(sum16(&icmp.probe(7, 60), 0)), 0xffff);
            }
            let udp = flow(Protocol::Udp, v6);
            for p in [0u16, 1, 2, 1000, 65_000] {
                let packet = udp.probe(p, 60);
                assert_eq!(&packet[0..4], &[0x9c, 0x40, 0x82, 0x9a], "constant ports");
                assert_eq!(u16::from_be_bytes([packet[6], packet[7]]), p + 1);
                assert!(verifies(&udp, IPPROTO_UDP, &packet), "UDP probe {p}");
            }
            let tcp = flow(Protocol::Tcp, v6);
            let packet = tcp.probe(9, 60);
            assert!(verifies(&tcp, IPPROTO_TCP, &packet));
            assert_eq!(packet.len(), 20);
        }
        // packet_size is the IP packet: 60 bytes → 40 (IPv4) of ICMP.
        assert_eq!(flow(Protocol::Icmp, false).probe(1, 60).len(), 40);
        assert_eq!(flow(Protocol::Udp, true).probe(1, 80).len(), 40);
        assert_eq!(flow(Protocol::Udp, false).probe(1, 28).len(), 10);
    }

    #[test]
    fn icmp_errors_quoting_a_probe_are_recognised_in_every_mode() {
        for v6 in [false, true] {
            for protocol in [Protocol::Icmp, Protocol::Udp, Protocol::Tcp] {
                let f = flow(protocol, v6);
                let proto = match (protocol, v6) {
                    (Protocol::Icmp, false) => IPPROTO_ICMP,
                    (Protocol::Icmp, true) => IPPROTO_ICMPV6,
                    (Protocol::Udp, _) => IPPROTO_UDP,
                    (Protocol::Tcp, _) => IPPROTO_TCP,
                };
                let quoted = ip(&f, proto, &f.probe(321, 60)[..8]);
                let mut error = vec![if v6 { 3 } else { 11 }, 0, 0, 0, 0, 0, 0, 0];
                error.extend_from_slice(&quoted);
                let answer = f.recognise(true, false, &error).unwrap();
                assert_eq!((answer.probe, answer.reply), (321, Reply::TimeExceeded));
                // Port unreachable from the destination.
                error[0] = if v6 { 1 } else { 3 };
                error[1] = if v6 { 4 } else { 3 };
                assert_eq!(
                    f.recognise(true, false, &error).unwrap().reply,
                    Reply::PortUnreachable
                );
                error[1] = 1;
                assert_eq!(
                    f.recognise(true, false, &error).unwrap().reply,
                    Reply::Unreachable(1)
                );
                // Another run's probe is not ours.
                let mut other = f;
                other.id ^= 1;
                other.source_port ^= 1;
                assert_eq!(other.recognise(true, false, &error), None, "{protocol:?}");
                // With the IPv4 header raw IPv4 sockets deliver.
                if !v6 {
                    let mut datagram = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 63, 1, 0, 0];
                    datagram.extend_from_slice(&[10, 71, 1, 1, 10, 71, 0, 1]);
                    datagram.extend_from_slice(&error);
                    assert_eq!(f.recognise(true, true, &datagram).unwrap().probe, 321);
                }
            }
        }
    }

    #[test]
    fn echo_replies_and_tcp_answers_are_recognised() {
        let f = flow(Protocol::Icmp, false);
        let mut reply = f.probe(17, 60);
        reply[0] = 0;
        let answer = f.recognise(true, false, &reply).unwrap();
        assert_eq!((answer.probe, answer.reply), (17, Reply::EchoReply));
        let t = flow(Protocol::Tcp, true);
        let syn = t.probe(44, 60);
        let mut answer = vec![0u8; 20];
        answer[0..2].copy_from_slice(&syn[2..4]);
        answer[2..4].copy_from_slice(&syn[0..2]);
        let ack = u32::from_be_bytes(syn[4..8].try_into().unwrap()) + 1;
        answer[8..12].copy_from_slice(&ack.to_be_bytes());
        answer[13] = TCP_SYN | TCP_ACK;
        let got = t.recognise(false, false, &answer).unwrap();
        assert_eq!((got.probe, got.reply), (44, Reply::TcpSynAck));
        answer[13] = TCP_RST | TCP_ACK;
        assert_eq!(
            t.recognise(false, false, &answer).unwrap().reply,
            Reply::TcpRst
        );
        // A SYN (our own, seen on loopback) is not an answer.
        assert_eq!(t.recognise(false, false, &syn), None);
    }

    #[test]
    fn mpls_label_stacks_are_read_from_rfc4950_extensions() {
        let f = flow(Protocol::Udp, false);
        // Quoted datagram padded to 128 bytes (RFC 4884), then the extension structure.
        let mut quoted = ip(&f, IPPROTO_UDP, &f.probe(5, 60));
        quoted.resize(128, 0);
        let entry = |label: u32, exp: u32, s: u32, ttl: u32| {
            ((label << 12) | (exp << 9) | (s << 8) | ttl).to_be_bytes()
        };
        let mut extension = vec![0x20, 0, 0, 0, 0, 12, 1, 1];
        extension.extend_from_slice(&entry(16_005, 0, 0, 1));
        extension.extend_from_slice(&entry(24_001, 5, 1, 254));
        let sum = !fold(sum16(&extension, 0));
        extension[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut error = vec![11, 0, 0, 0, 0, 32, 0, 0];
        error.extend_from_slice(&quoted);
        error.extend_from_slice(&extension);
        let answer = f.recognise(true, false, &error).unwrap();
        assert_eq!(answer.probe, 5);
        let text: Vec<String> = answer.mpls.iter().map(|e| e.text()).collect();
        assert_eq!(text, ["16005/0/0/1", "24001/5/1/254"]);
        // Without the RFC 4884 length: the compatibility offset of 128 bytes.
        error[5] = 0;
        assert_eq!(f.recognise(true, false, &error).unwrap().mpls.len(), 2);
        // A broken checksum: no labels rather than wrong ones.
        let last = error.len() - 1;
        error[last] ^= 1;
        assert!(f.recognise(true, false, &error).unwrap().mpls.is_empty());
        // A plain quote has none.
        assert!(mpls_labels(&quoted[..28], 0).is_empty());
    }
}
