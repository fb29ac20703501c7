//! Time: a monotonic clock the real IO reads, and the trait the simulated
//! twin implements with virtual time.

use std::cell::Cell;

/// A source of monotonic nanoseconds.
///
/// Readings never decrease. The origin is arbitrary; only differences mean
/// anything.
pub trait Clock {
    /// Nanoseconds since the clock's origin.
    fn now_ns(&self) -> u64;
}

/// The system's monotonic clock, including time spent asleep:
/// `mach_continuous_time` on Apple, `CLOCK_BOOTTIME` on Linux,
/// `CLOCK_MONOTONIC` on the BSDs. Guarded so that a reading never goes
/// backwards even if the platform's clock misbehaves.
#[derive(Debug, Default)]
pub struct MonotonicClock {
    last: Cell<u64>,
}

impl MonotonicClock {
    /// A new clock.
    pub fn new() -> MonotonicClock {
        MonotonicClock { last: Cell::new(0) }
    }
}

impl Clock for MonotonicClock {
    fn now_ns(&self) -> u64 {
        let now = os_now_ns().max(self.last.get());
        self.last.set(now);
        now
    }
}

#[cfg(target_vendor = "apple")]
fn os_now_ns() -> u64 {
    use std::sync::OnceLock;

    /// `mach_timebase_info_data_t`, declared here because libc deprecated
    /// its copy in favour of the `mach2` crate.
    #[repr(C)]
    struct Timebase {
        numer: u32,
        denom: u32,
    }
    unsafe extern "C" {
        // Ticks since boot including sleep; in libSystem since macOS 10.12.
        fn mach_continuous_time() -> u64;
        fn mach_timebase_info(info: *mut Timebase) -> libc::c_int;
    }
    static TIMEBASE: OnceLock<(u64, u64)> = OnceLock::new();
    let (numer, denom) = *TIMEBASE.get_or_init(|| {
        let mut info = Timebase { numer: 0, denom: 0 };
        // SAFETY: `info` is a valid, writable struct with the C layout of
        // `mach_timebase_info_data_t` (two `uint32_t`).
        let rc = unsafe { mach_timebase_info(&mut info) };
        if rc != 0 || info.denom == 0 {
            (1, 1)
        } else {
            (u64::from(info.numer), u64::from(info.denom))
        }
    });
    // SAFETY: no arguments; the function only reads a hardware counter.
    let ticks = unsafe { mach_continuous_time() };
    (u128::from(ticks) * u128::from(numer) / u128::from(denom)) as u64
}

#[cfg(not(target_vendor = "apple"))]
fn os_now_ns() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;

    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK is a supported id.
    let rc = unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    if rc != 0 {
        // Only EINVAL/EFAULT are possible, neither with these arguments; the
        // never-backwards guard in `now_ns` keeps the last reading.
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let clock = MonotonicClock::new();
        let mut last = clock.now_ns();
        assert!(last > 0);
        for _ in 0..10_000 {
            let now = clock.now_ns();
            assert!(now >= last);
            last = now;
        }
    }
}
