//! ICMP echo packets: building requests and recognising replies. Pure byte work, no
//! sockets, so the parsing rules are unit-tested apart from the network.

use std::net::IpAddr;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
const HEADER_LEN: usize = 8;

/// Which address family an echo belongs to; decides the ICMP type numbers and whether
/// the checksum is ours to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The schema's `family` tag value.
    pub fn tag_value(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// An echo request: header plus `payload`. The IPv4 checksum is filled in here; for
/// ICMPv6 the kernel always computes it (it covers a pseudo-header we do not know).
pub fn echo_request(family: Family, identifier: u16, sequence: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(HEADER_LEN + payload.len());
    packet.push(match family {
        Family::Ipv4 => ECHO_REQUEST_V4,
        Family::Ipv6 => ECHO_REQUEST_V6,
    });
    packet.push(0);
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(&identifier.to_be_bytes());
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(payload);
    if family == Family::Ipv4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// An echo reply as read from a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoReply<'a> {
    pub identifier: u16,
    pub sequence: u16,
    pub payload: &'a [u8],
    /// TTL from the IPv4 header, when the socket hands us the header (raw IPv4).
    pub header_ttl: Option<u8>,
}

/// Parses what a socket returned. `with_ip_header` is true only for raw IPv4 sockets,
/// the one kind that delivers the IP header. Anything that is not an echo reply
/// (requests we see on loopback, errors, other ICMP) gives `None`.
pub fn parse_echo_reply(
    family: Family,
    with_ip_header: bool,
    data: &[u8],
) -> Option<EchoReply<'_>> {
    let (icmp, header_ttl) = if with_ip_header {
        let first = *data.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        (data.get(ihl..)?, Some(*data.get(8)?))
    } else {
        (data, None)
    };
    if icmp.len() < HEADER_LEN {
        return None;
    }
    let expected = match family {
        Family::Ipv4 => ECHO_REPLY_V4,
        Family::Ipv6 => ECHO_REPLY_V6,
    };
    if icmp[0] != expected || icmp[1] != 0 {
        return None;
    }
    Some(EchoReply {
        identifier: u16::from_be_bytes([icmp[4], icmp[5]]),
        sequence: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: &icmp[HEADER_LEN..],
        header_ttl,
    })
}

/// An ICMP error (destination unreachable, time exceeded) about one of our echo
/// requests: routers on the path send these instead of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoError {
    /// What happened, in words (`host unreachable`, `TTL exceeded in transit`).
    pub reason: String,
    /// Destination of the echo request the error quotes.
    pub quoted_destination: IpAddr,
    pub identifier: u16,
    pub sequence: u16,
}

/// Parses an ICMP error that quotes one of our echo requests (RFC 792 / RFC 4443: the
/// error carries the original IP header and the first 8 bytes of its payload, which
/// for an echo are type, code, checksum, identifier and sequence). Raw sockets receive
/// these; datagram sockets only report them through the error queue, which this probe
/// does not read.
pub fn parse_echo_error(family: Family, with_ip_header: bool, data: &[u8]) -> Option<EchoError> {
    let icmp = if with_ip_header {
        let ihl = usize::from(*data.first()? & 0x0f) * 4;
        data.get(ihl..)?
    } else {
        data
    };
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    let quoted = icmp.get(HEADER_LEN..)?;
    let (reason, destination, echo) = match family {
        Family::Ipv4 => {
            let reason = match (kind, code) {
                (3, 0) => "network unreachable".to_owned(),
                (3, 1) => "host unreachable".to_owned(),
                (3, 9 | 10 | 13) => "administratively prohibited".to_owned(),
                (3, code) => format!("destination unreachable (code {code})"),
                (11, _) => "TTL exceeded in transit".to_owned(),
                _ => return None,
            };
            let ihl = usize::from(*quoted.first()? & 0x0f) * 4;
            if quoted.first()? >> 4 != 4 || *quoted.get(9)? != 1 {
                return None;
            }
            let destination: [u8; 4] = quoted.get(16..20)?.try_into().ok()?;
            (reason, IpAddr::from(destination), quoted.get(ihl..)?)
        }
        Family::Ipv6 => {
            let reason = match (kind, code) {
                (1, 0) => "no route to destination".to_owned(),
                (1, 1) => "administratively prohibited".to_owned(),
                (1, 3) => "address unreachable".to_owned(),
                (1, code) => format!("destination unreachable (code {code})"),
                (3, _) => "hop limit exceeded in transit".to_owned(),
                _ => return None,
            };
            // Only a quoted header without extension headers is recognised; our echo
            // requests carry none.
            if quoted.first()? >> 4 != 6 || *quoted.get(6)? != 58 {
                return None;
            }
            let destination: [u8; 16] = quoted.get(24..40)?.try_into().ok()?;
            (reason, IpAddr::from(destination), quoted.get(40..)?)
        }
    };
    let request = match family {
        Family::Ipv4 => ECHO_REQUEST_V4,
        Family::Ipv6 => ECHO_REQUEST_V6,
    };
    if echo.len() < HEADER_LEN || echo[0] != request {
        return None;
    }
    Some(EchoError {
        reason,
        quoted_destination: destination,
        identifier: u16::from_be_bytes([echo[4], echo[5]]),
        sequence: u16::from_be_bytes([echo[6], echo[7]]),
    })
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Turns an echo request into the reply a host would send (type changed, checksum
/// redone): what the lab's userspace echo responder does.
pub fn reply_to_request(family: Family, request: &[u8]) -> Option<Vec<u8>> {
    let (req, reply) = match family {
        Family::Ipv4 => (ECHO_REQUEST_V4, ECHO_REPLY_V4),
        Family::Ipv6 => (ECHO_REQUEST_V6, ECHO_REPLY_V6),
    };
    if request.len() < HEADER_LEN || request[0] != req {
        return None;
    }
    let mut packet = request.to_vec();
    packet[0] = reply;
    packet[2..4].copy_from_slice(&[0, 0]);
    if family == Family::Ipv4 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    Some(packet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksum_verifies_to_zero() {
        let packet = echo_request(Family::Ipv4, 0x1234, 7, b"abcde");
        assert_eq!(&packet[..2], &[8, 0]);
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0, 7]);
        // A packet including its own checksum sums to zero.
        assert_eq!(checksum(&packet), 0);
    }

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2; checksum = !0xddf2.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            !0xddf2
        );
    }

    #[test]
    fn reply_round_trip_through_responder_and_parser() {
        let request = echo_request(Family::Ipv4, 9, 3, b"cookie");
        let reply = reply_to_request(Family::Ipv4, &request).unwrap();
        assert_eq!(checksum(&reply), 0);
        let parsed = parse_echo_reply(Family::Ipv4, false, &reply).unwrap();
        assert_eq!(
            (parsed.identifier, parsed.sequence, parsed.payload),
            (9, 3, &b"cookie"[..])
        );
        // The request itself is not a reply (raw sockets on loopback see both).
        assert_eq!(parse_echo_reply(Family::Ipv4, false, &request), None);
    }

    #[test]
    fn raw_ipv4_header_is_skipped_and_its_ttl_kept() {
        let reply =
            reply_to_request(Family::Ipv4, &echo_request(Family::Ipv4, 1, 2, b"x")).unwrap();
        let mut datagram = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 63, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        datagram.extend_from_slice(&reply);
        let parsed = parse_echo_reply(Family::Ipv4, true, &datagram).unwrap();
        assert_eq!(parsed.header_ttl, Some(63));
        assert_eq!(parsed.sequence, 2);
        assert_eq!(parse_echo_reply(Family::Ipv4, true, &datagram[..10]), None);
    }

    #[test]
    fn icmp_errors_quoting_our_echo_are_recognised() {
        let request = echo_request(Family::Ipv4, 0xbeef, 4, b"payload");
        // Quoted packet: IPv4 header (protocol 1, to 10.0.0.9) + the echo's first 8 bytes.
        let mut quoted = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 9,
        ];
        quoted.extend_from_slice(&request[..8]);
        let mut error = vec![11, 0, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&quoted);
        let parsed = parse_echo_error(Family::Ipv4, false, &error).unwrap();
        assert_eq!(parsed.reason, "TTL exceeded in transit");
        assert_eq!(
            parsed.quoted_destination,
            "10.0.0.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!((parsed.identifier, parsed.sequence), (0xbeef, 4));
        error[0] = 3;
        error[1] = 1;
        assert_eq!(
            parse_echo_error(Family::Ipv4, false, &error)
                .unwrap()
                .reason,
            "host unreachable"
        );
        // An echo reply, or an error quoting something that is not an echo request, is not one.
        let reply = reply_to_request(Family::Ipv4, &request).unwrap();
        assert_eq!(parse_echo_error(Family::Ipv4, false, &reply), None);
        error[8 + 20] = 0;
        assert_eq!(parse_echo_error(Family::Ipv4, false, &error), None);
    }

    #[test]
    fn icmpv6_errors_quoting_our_echo_are_recognised() {
        let request = echo_request(Family::Ipv6, 7, 8, b"x");
        let mut quoted = vec![0x60, 0, 0, 0, 0, 9, 58, 1];
        quoted.extend_from_slice(&[0; 16]);
        let mut destination = [0u8; 16];
        destination[15] = 1;
        quoted.extend_from_slice(&destination);
        quoted.extend_from_slice(&request);
        let mut error = vec![1, 3, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&quoted);
        let parsed = parse_echo_error(Family::Ipv6, false, &error).unwrap();
        assert_eq!(parsed.reason, "address unreachable");
        assert_eq!(parsed.quoted_destination, "::1".parse::<IpAddr>().unwrap());
        assert_eq!((parsed.identifier, parsed.sequence), (7, 8));
    }

    #[test]
    fn ipv6_types() {
        let request = echo_request(Family::Ipv6, 5, 6, b"");
        assert_eq!(request[0], 128);
        let reply = reply_to_request(Family::Ipv6, &request).unwrap();
        assert_eq!(reply[0], 129);
        assert_eq!(
            parse_echo_reply(Family::Ipv6, false, &reply)
                .unwrap()
                .sequence,
            6
        );
        assert_eq!(parse_echo_reply(Family::Ipv4, false, &reply), None);
    }
}
