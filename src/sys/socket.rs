//! Sockets: non-blocking, close-on-exec, never raising `SIGPIPE`.

use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::retry_eintr;
use crate::error::Errno;
use crate::options::{AddressFamily, Shutdown, SocketOptions};

/// `send` flags: Linux (`SendFlags::NOSIGNAL` in [`send`]), Android and
/// OpenBSD (which has no `SO_NOSIGPIPE`) suppress `SIGPIPE` per call; Apple
/// and the other BSDs use `SO_NOSIGPIPE`, set once on the socket by
/// [`no_sigpipe`].
#[cfg(any(target_os = "android", target_os = "openbsd"))]
const SEND_FLAGS: i32 = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "openbsd")))]
const SEND_FLAGS: i32 = 0;

/// Makes a send on `fd` return `EPIPE` instead of raising `SIGPIPE`, where
/// that is a socket option rather than a send flag (see [`SEND_FLAGS`]).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "openbsd")))]
fn no_sigpipe(fd: i32) -> Result<(), Errno> {
    set_option(fd, libc::SOL_SOCKET, libc::SO_NOSIGPIPE, 1i32)
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "openbsd"))]
fn no_sigpipe(_fd: i32) -> Result<(), Errno> {
    Ok(())
}

/// A socket address in the kernel's layout.
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    pub(crate) fn from_std(address: &SocketAddr) -> RawAddr {
        // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
        let mut storage: libc::sockaddr_storage = unsafe { zeroed() };
        let len = match address {
            SocketAddr::V4(v4) => {
                // SAFETY: sockaddr_storage is larger than and suitably
                // aligned for sockaddr_in; we write only its fields.
                let sin = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_in>() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = v4.port().to_be();
                sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) };
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                {
                    sin.sin_len = size_of::<libc::sockaddr_in>() as u8;
                }
                size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &mut *(&raw mut storage).cast::<libc::sockaddr_in6>() };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = v6.port().to_be();
                sin6.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
                sin6.sin6_flowinfo = v6.flowinfo();
                sin6.sin6_scope_id = v6.scope_id();
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                {
                    sin6.sin6_len = size_of::<libc::sockaddr_in6>() as u8;
                }
                size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddr { storage, len: len as libc::socklen_t }
    }

    fn to_std(&self) -> Option<SocketAddr> {
        match i32::from(self.storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the kernel wrote a sockaddr_in (family says so).
                let sin = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the kernel wrote a sockaddr_in6 (family says so).
                let sin6 = unsafe { &*(&raw const self.storage).cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&raw const self.storage).cast()
    }
}

fn set_option<T>(fd: i32, level: i32, name: i32, value: T) -> Result<(), Errno> {
    // SAFETY: `value` is a live `T` and the length passed is its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// Sets `O_NONBLOCK` and `FD_CLOEXEC` where the socket call could not.
#[cfg(target_vendor = "apple")]
fn set_nonblocking_cloexec(fd: i32) -> Result<(), Errno> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(Errno::last());
        }
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// Applies the per-socket settings every socket of this crate carries.
fn configure(fd: i32, options: &SocketOptions) -> Result<(), Errno> {
    no_sigpipe(fd)?;
    apply_options(fd, options)
}

/// Applies user-chosen options (also to accepted sockets).
pub(crate) fn apply_options(fd: i32, options: &SocketOptions) -> Result<(), Errno> {
    if options.nodelay {
        set_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1i32)?;
    }
    if let Some(size) = options.recv_buffer_size {
        set_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size.min(i32::MAX as u32) as i32)?;
    }
    if let Some(size) = options.send_buffer_size {
        set_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size.min(i32::MAX as u32) as i32)?;
    }
    Ok(())
}

pub(crate) fn open(family: AddressFamily, options: &SocketOptions) -> Result<i32, Errno> {
    let domain = match family {
        AddressFamily::Ipv4 => libc::AF_INET,
        AddressFamily::Ipv6 => libc::AF_INET6,
    };
    #[cfg(target_vendor = "apple")]
    let kind = libc::SOCK_STREAM;
    #[cfg(not(target_vendor = "apple"))]
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain syscall with integer arguments; the result is checked.
    let fd = unsafe { libc::socket(domain, kind, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    #[cfg(target_vendor = "apple")]
    let configured = set_nonblocking_cloexec(fd).and_then(|()| configure(fd, options));
    #[cfg(not(target_vendor = "apple"))]
    let configured = configure(fd, options);
    if let Err(errno) = configured {
        let _ = super::close(fd);
        return Err(errno);
    }
    Ok(fd)
}

pub(crate) fn listen(fd: i32, address: &SocketAddr, backlog: u32) -> Result<SocketAddr, Errno> {
    set_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1i32)?;
    let raw = RawAddr::from_std(address);
    // SAFETY: `raw` holds a valid sockaddr of length `raw.len`.
    if unsafe { libc::bind(fd, raw.as_ptr(), raw.len) } < 0 {
        return Err(family_checked(fd, address, Errno::last()));
    }
    let backlog = backlog.min(i32::MAX as u32) as i32;
    // SAFETY: plain syscall with integer arguments.
    if unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(Errno::last());
    }
    local_address(fd)
}

pub(crate) fn local_address(fd: i32) -> Result<SocketAddr, Errno> {
    raw_name(fd, Name::Local)?.to_std().ok_or(Errno::EAFNOSUPPORT)
}

pub(crate) fn peer_address(fd: i32) -> Result<SocketAddr, Errno> {
    raw_name(fd, Name::Peer)?.to_std().ok_or(Errno::EAFNOSUPPORT)
}

/// Which address of a socket to ask for.
#[derive(Clone, Copy)]
enum Name {
    /// `getsockname`: reported even unbound, with the socket's family.
    Local,
    /// `getpeername`: `ENOTCONN` until connected.
    Peer,
}

fn raw_name(fd: i32, name: Name) -> Result<RawAddr, Errno> {
    // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
    let mut raw = RawAddr { storage: unsafe { zeroed() }, len: 0 };
    raw.len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let storage = (&raw mut raw.storage).cast();
    // SAFETY: `storage` is writable for `raw.len` bytes.
    let rc = unsafe {
        match name {
            Name::Local => libc::getsockname(fd, storage, &mut raw.len),
            Name::Peer => libc::getpeername(fd, storage, &mut raw.len),
        }
    };
    if rc < 0 { Err(Errno::last()) } else { Ok(raw) }
}

pub(crate) fn shutdown(fd: i32, how: Shutdown) -> Result<(), Errno> {
    let how = match how {
        Shutdown::Read => libc::SHUT_RD,
        Shutdown::Write => libc::SHUT_WR,
        Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: plain syscall with integer arguments.
    if unsafe { libc::shutdown(fd, how) } < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// Accepts one connection; the new socket is non-blocking and close-on-exec,
/// with `options` applied (`SIGPIPE` suppression is mandatory, the rest
/// best effort: a peer that already reset makes some platforms refuse
/// `setsockopt`, and the next operation reports that properly).
pub(crate) fn accept(fd: i32, options: &SocketOptions) -> Result<i32, Errno> {
    #[cfg(target_vendor = "apple")]
    let accepted = {
        // SAFETY: null address pointers are allowed: we do not want the peer address.
        let accepted = retry_eintr(|| unsafe {
            libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut())
        })?;
        if let Err(errno) = set_nonblocking_cloexec(accepted) {
            let _ = super::close(accepted);
            return Err(errno);
        }
        accepted
    };
    #[cfg(not(target_vendor = "apple"))]
    // SAFETY: null address pointers are allowed: we do not want the peer address.
    let accepted = retry_eintr(|| unsafe {
        libc::accept4(
            fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    if let Err(errno) = no_sigpipe(accepted) {
        let _ = super::close(accepted);
        return Err(errno);
    }
    let _ = apply_options(accepted, options);
    Ok(accepted)
}

/// Starts a non-blocking connect: `Ok(true)` connected, `Ok(false)` in
/// progress (wait for writability, then read `SO_ERROR`).
///
/// One answer on every system where the kernels differ: a socket that is
/// already connected is `EISCONN` (Linux answers 0 once to a connect on a
/// socket whose non-blocking connect completed, since the IO reads the
/// outcome with `SO_ERROR` rather than by connecting again), and an address
/// of the other family is `EAFNOSUPPORT` (Linux answers `EINVAL` for an
/// IPv4 address on an IPv6 socket).
pub(crate) fn connect(fd: i32, address: &SocketAddr) -> Result<bool, Errno> {
    if raw_name(fd, Name::Peer).is_ok() {
        return Err(Errno::EISCONN);
    }
    let raw = RawAddr::from_std(address);
    let result = connect_once(fd, &raw);
    // Linux leaves a socket whose non-blocking connect failed (and whose
    // error was read with `SO_ERROR`) half reset: the next connect only
    // finishes the reset and fails with ECONNABORTED. The one after it
    // connects, so do that: a connect after a failure tries again.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let result = match result {
        Err(Errno::ECONNABORTED) => connect_once(fd, &raw),
        other => other,
    };
    result.map_err(|errno| family_checked(fd, address, errno))
}

fn connect_once(fd: i32, raw: &RawAddr) -> Result<bool, Errno> {
    // SAFETY: `raw` holds a valid sockaddr of length `raw.len`.
    let rc = unsafe { libc::connect(fd, raw.as_ptr(), raw.len) };
    if rc == 0 {
        return Ok(true);
    }
    match Errno::last() {
        // EINTR: the connect goes on asynchronously, exactly as EINPROGRESS.
        Errno::EINPROGRESS | Errno::EINTR => Ok(false),
        errno => Err(errno),
    }
}

/// `EAFNOSUPPORT` in place of the `EINVAL` a kernel may give for an
/// address whose family is not the socket's; any other errno unchanged.
fn family_checked(fd: i32, address: &SocketAddr, errno: Errno) -> Errno {
    if errno != Errno::EINVAL {
        return errno;
    }
    let want = match address {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    match raw_name(fd, Name::Local) {
        Ok(raw) if i32::from(raw.storage.ss_family) != want => Errno::EAFNOSUPPORT,
        _ => errno,
    }
}

/// Reads and clears the socket's pending error (the outcome of a connect).
pub(crate) fn take_error(fd: i32) -> Result<(), Errno> {
    let mut error: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: `error` is writable for `len` bytes.
    let rc = unsafe {
        libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR, (&raw mut error).cast(), &mut len)
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    if error == 0 { Ok(()) } else { Err(Errno::from_raw(error)) }
}

/// Receives into `buffer`. On Linux through rustix's direct system call:
/// the same `recvfrom` libc's wrapper makes, without the wrapper and the
/// errno round trip (profiled: ~12 instructions a call).
///
/// Always inlined: on the development machine the `syscall` instruction
/// inline in the engine's pass cut a fifth of the kernel time of a
/// 64-connection round trip, and the same call out of line lost all of it
/// (measured; why is not known, see docs/benchmarks.md).
#[inline(always)]
pub(crate) fn recv(fd: i32, buffer: &mut [u8]) -> Result<usize, Errno> {
    #[cfg(target_os = "linux")]
    {
        let socket = borrow(fd)?;
        let flags = rustix::net::RecvFlags::empty();
        retry_eintr_raw(|| rustix::net::recv(socket, &mut *buffer, flags).map(|(n, _)| n))
    }
    #[cfg(not(target_os = "linux"))]
    // SAFETY: `buffer` is valid and exclusively borrowed for its length.
    retry_eintr(|| unsafe { libc::recv(fd, buffer.as_mut_ptr().cast(), buffer.len(), 0) })
        .map(|n| n as usize)
}

/// Sends a prefix of `buffer`. A socket neither connected nor connecting
/// is `EPIPE` on every system, as Linux answers (Apple and the BSDs say
/// `ENOTCONN`).
///
/// On Linux through rustix's direct system call, as [`recv`], and always
/// inlined for the same reason.
#[inline(always)]
pub(crate) fn send(fd: i32, buffer: &[u8]) -> Result<usize, Errno> {
    #[cfg(target_os = "linux")]
    {
        let socket = borrow(fd)?;
        let flags = rustix::net::SendFlags::NOSIGNAL;
        retry_eintr_raw(|| rustix::net::send(socket, buffer, flags))
    }
    #[cfg(not(target_os = "linux"))]
    {
        // SAFETY: `buffer` is valid for reads of its length.
        let sent = retry_eintr(|| unsafe {
            libc::send(fd, buffer.as_ptr().cast(), buffer.len(), SEND_FLAGS)
        });
        #[cfg(not(target_os = "android"))]
        let sent =
            sent.map_err(|errno| if errno == Errno::ENOTCONN { Errno::EPIPE } else { errno });
        sent.map(|n| n as usize)
    }
}

/// `fd` as rustix takes a descriptor, for one call. A negative number is
/// `EBADF`, as the kernel answers it (a `BorrowedFd` may not hold -1).
#[cfg(target_os = "linux")]
#[inline(always)]
fn borrow(fd: i32) -> Result<rustix::fd::BorrowedFd<'static>, Errno> {
    if fd < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: only I/O safety is at stake, not memory safety: the number
    // is handed to the kernel for the one call and nothing else is done
    // with it (nothing owns or closes it), exactly as the libc call it
    // replaces did; a closed number fails with `EBADF`.
    Ok(unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) })
}

/// [`retry_eintr`] for rustix's calls, which return the errno instead of
/// setting it.
#[cfg(target_os = "linux")]
#[inline(always)]
fn retry_eintr_raw<T>(mut call: impl FnMut() -> rustix::io::Result<T>) -> Result<T, Errno> {
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(errno) => {
                if let Some(errno) = super::failure(errno.raw_os_error()) {
                    return Err(errno);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for text in ["127.0.0.1:8080", "[::1]:443", "0.0.0.0:0", "[fe80::1%2]:9"] {
            let address: SocketAddr = text.parse().unwrap();
            assert_eq!(RawAddr::from_std(&address).to_std(), Some(address));
        }
    }

    /// A negative descriptor is `EBADF`, as from the kernel, not a panic
    /// (rustix's descriptor type may not hold -1).
    #[test]
    fn negative_descriptors_are_ebadf() {
        for fd in [-1, -2, i32::MIN] {
            assert_eq!(recv(fd, &mut [0; 4]), Err(Errno::EBADF));
            assert_eq!(send(fd, &[0; 4]), Err(Errno::EBADF));
        }
    }
}
