//! `getsockopt(TCP_INFO)` on the probe's connection.

use super::TcpInfo;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::AsRawFd;

/// Reads `TCP_INFO`. Fields past the length the kernel filled in (older kernels return a
/// shorter struct) stay `None`.
pub(super) fn tcp_info(stream: &tokio::net::TcpStream) -> io::Result<TcpInfo> {
    // SAFETY: tcp_info is plain old data; all-zero is a valid value.
    let mut raw: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the fd is a live TCP socket owned by `stream`; `raw` and `len` are valid
    // for writes of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut raw as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let filled = len as usize;
    macro_rules! given {
        ($field:ident) => {
            (offset_of!(libc::tcp_info, $field) + size_of_val(&raw.$field) <= filled)
                .then_some(raw.$field)
        };
    }
    Ok(TcpInfo {
        rtt_us: given!(tcpi_rtt),
        rttvar_us: given!(tcpi_rttvar),
        // ~0 is the kernel's "no sample yet".
        min_rtt_us: given!(tcpi_min_rtt).filter(|&rtt| rtt != u32::MAX),
        total_retrans: given!(tcpi_total_retrans),
        snd_cwnd: given!(tcpi_snd_cwnd),
        snd_mss: given!(tcpi_snd_mss),
        advmss: given!(tcpi_advmss),
        // 0 means the kernel has no rate sample yet.
        delivery_rate: given!(tcpi_delivery_rate).filter(|&rate| rate > 0),
    })
}
