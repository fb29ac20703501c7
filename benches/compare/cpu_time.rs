//! CPU time of the calling thread, which every benchmark here reports next
//! to wall time: on a shared machine it is inflated much less by other
//! tenants. One copy, used by `benches/compare.rs` and the turmoil
//! comparison (`bench-turmoil/`).

/// Nanoseconds of CPU this thread has used (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, exclusive timespec for the call, which only
    // writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
