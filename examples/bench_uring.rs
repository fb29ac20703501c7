//! Benchmark (not a test): the io_uring file ring (`src/real/uring`) against
//! fio on the same file, in one run, with direct IO (Linux).
//!
//! Workloads: 4 KiB random reads and random writes at queue depths 1, 8 and
//! 32, and 1 MiB sequential writes each followed by an fsync. Sides:
//!
//! - the ring with cooperative task run, waiting in `epoll_wait` on the
//!   ring's fd, every op of a pass submitted at its end; and the same
//!   submitting each op as it is pushed ("each", fio's default) or every 2,
//!   4 or 8 (the engine submits every 4: see `src/real/uring/driver.rs`);
//! - the same ring waiting in `io_uring_enter` (`submit_and_wait`) instead;
//! - the kernel's default task run, epoll wait; deferred task run, ring
//!   wait (deferred cannot wake epoll);
//! - the public `IO` API on each file driver (`FileDriver::IoUring`,
//!   `Workers(4)`, `Workers(16)`, `LoopThread`): N ops kept in flight by
//!   callbacks that resubmit, the file opened with `DirectIo::Required`;
//!   the sequential workload submits each fsync from its write's callback;
//! - `fio --ioengine=io_uring --iodepth=N` and `fio --ioengine=psync
//!   --numjobs=N` (psync has no queue: depth N is N threads).
//!
//! Each prints operations per second (for the sequential workload, write +
//! fsync pairs per second), CPU time per op, and its ratios against fio:
//! the median over reps of the ratio within a rep (each rep runs every side
//! once, in an order rotated from the last rep's), so that the machine's
//! slow drifts cancel out. The
//! file (256 MiB by default) lives under `target/`, is written in full
//! before anything reads it (reads of unwritten extents never reach the
//! device), and is deleted at the end.
//!
//! ```text
//! apt-get install -y fio      # optional: without it the fio sides are skipped
//! cargo run --release --example bench_uring -- [--secs 3] [--reps 1] [--mib 256] [--only QD1]
//!     [--sides 'IO, io_uring|fio']     # only the sides whose label contains one of these
//!     [--write-charts]                 # also rewrite docs/bench/files-uring.svg
//! ```
//!
//! The ring is crate-private, so this example compiles its source file on
//! its own for the raw ring sides.

#[cfg(target_os = "linux")]
#[allow(dead_code, reason = "only part of the ring's API is exercised here")]
#[path = "../src/real/uring/ring.rs"]
mod ring;

#[cfg(target_os = "linux")]
#[path = "../benches/compare/svg.rs"]
mod svg;

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::{File, OpenOptions};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::{Duration, Instant};

    use twinio::FileDriver;

    use super::ring::{Ring, RingOptions, TaskRun};

    const SMALL: usize = 4096;
    const LARGE: usize = 1 << 20;

    #[repr(C, align(4096))]
    struct Block([u8; SMALL]);

    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        RandRead,
        RandWrite,
        SeqWriteFsync,
    }

    #[derive(Clone, Copy)]
    struct Workload {
        kind: Kind,
        depth: usize,
    }

    impl Workload {
        fn name(&self) -> String {
            match self.kind {
                Kind::RandRead => format!("4 KiB random read, QD{}", self.depth),
                Kind::RandWrite => format!("4 KiB random write, QD{}", self.depth),
                Kind::SeqWriteFsync => "1 MiB seq write + fsync".to_string(),
            }
        }
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Wait {
        Epoll,
        Ring,
    }

    struct Args {
        secs: f64,
        reps: usize,
        mib: u64,
        /// Run only the workloads whose name contains this.
        only: String,
        /// Run only the sides whose label contains one of these
        /// (separated by `|`: labels contain commas; empty: every side).
        sides: Vec<String>,
        /// Idle milliseconds before every side (lets the device settle).
        gap_ms: u64,
        /// Print every run, not only the medians.
        each: bool,
        /// Rewrite the chart in docs/bench from the run.
        write_charts: bool,
    }

    fn args() -> Args {
        let mut args = Args {
            secs: 3.0,
            reps: 1,
            mib: 256,
            only: String::new(),
            sides: Vec::new(),
            gap_ms: 0,
            each: false,
            write_charts: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            match flag.as_str() {
                "--each" => args.each = true,
                "--write-charts" => args.write_charts = true,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                "--only" => args.only = it.next().unwrap_or_else(|| usage_error(&flag)),
                "--sides" => {
                    let sides = it.next().unwrap_or_else(|| usage_error(&flag));
                    args.sides = sides.split('|').map(str::to_string).collect();
                }
                "--secs" => args.secs = number(&flag, it.next()),
                "--reps" => args.reps = number(&flag, it.next()),
                "--mib" => args.mib = number(&flag, it.next()),
                "--gap-ms" => args.gap_ms = number(&flag, it.next()),
                _ => usage_error(&flag),
            }
        }
        args
    }

    const USAGE: &str = "usage: bench_uring [--secs S] [--reps N] [--mib MIB] [--only TEXT] \
                         [--sides 'TEXT|TEXT'] [--gap-ms MS] [--each] [--write-charts]";

    /// The value of `flag`, parsed, or a usage error.
    fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
        value.and_then(|v| v.parse().ok()).unwrap_or_else(|| usage_error(flag))
    }

    /// Says what was wrong with `flag` and the usage, and exits with 2.
    fn usage_error(flag: &str) -> ! {
        eprintln!("bench_uring: bad or missing value for {flag}, or unknown flag\n{USAGE}");
        std::process::exit(2)
    }

    /// xorshift64*: random 4 KiB-aligned offsets.
    struct Offsets(u64, u64);

    impl Offsets {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % self.1) * SMALL as u64
        }
    }

    /// The benchmark file, deleted when dropped.
    struct BenchFile {
        path: PathBuf,
        file: File,
        size: u64,
    }

    impl Drop for BenchFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn open_direct(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_DIRECT)
            .open(path)
            .expect("open with O_DIRECT")
    }

    /// Creates the file and writes every byte of it, then fsyncs.
    fn prepare(mib: u64) -> BenchFile {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-uring");
        std::fs::create_dir_all(&dir).expect("create target/bench-uring");
        let path = dir.join(format!("file-{}", std::process::id()));
        let file = open_direct(&path);
        let bench = BenchFile { path, file, size: mib << 20 };
        let buffer = blocks(LARGE / SMALL, 0x5a);
        for i in 0..mib {
            // SAFETY: `buffer` is a live, aligned 1 MiB allocation for the
            // whole call; the kernel only reads it.
            let n = unsafe {
                libc::pwrite(
                    bench.file.as_raw_fd(),
                    buffer.as_ptr().cast(),
                    LARGE,
                    (i << 20) as i64,
                )
            };
            assert_eq!(n, LARGE as isize, "writing the file");
        }
        bench.file.sync_all().expect("fsync");
        bench
    }

    fn blocks(n: usize, fill: u8) -> Vec<Block> {
        (0..n).map(|_| Block([fill; SMALL])).collect()
    }

    /// Ops per second, and CPU time (user + system, all threads, the
    /// kernel's io-wq workers included) per op in microseconds.
    #[derive(Clone, Copy)]
    struct Rate {
        ops: f64,
        cpu_us: f64,
    }

    /// User + system CPU time of the whole process, in microseconds.
    fn cpu_us() -> f64 {
        // SAFETY: `getrusage` fills the zeroed struct it is given.
        let usage = unsafe {
            let mut usage = std::mem::zeroed::<libc::rusage>();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            usage
        };
        let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
        us(usage.ru_utime) + us(usage.ru_stime)
    }

    /// Runs `workload` through a ring for `secs`.
    /// `batch`: submit as soon as this many ops are queued (1: one
    /// `io_uring_enter` per op, as fio's default `iodepth_batch_submit=1`
    /// does), and what is left at the end of the pass; 0: once per pass.
    fn ring_side(
        file: &BenchFile,
        w: Workload,
        (task_run, wait, batch): (TaskRun, Wait, usize),
        secs: f64,
    ) -> Rate {
        let options = RingOptions { entries: 64, task_run, single_issuer: true, refuse: false };
        let mut ring = Ring::with_options(options).expect("io_uring");
        let epoll = Epoll::watching(ring.fd());
        let fd = file.file.as_raw_fd();
        let mut offsets = Offsets(0x9e37_79b9_7f4a_7c15, file.size / SMALL as u64);
        let per_op = if w.kind == Kind::SeqWriteFsync { LARGE / SMALL } else { 1 };
        let mut buffers = blocks(w.depth * per_op, 0xa5);
        let mut sequential = 0u64;
        // Slot `s` of the queue: user data `2s` for its read or write,
        // `2s + 1` for the fsync that follows a sequential write.
        let mut push = |ring: &mut Ring, slot: usize, fsync: bool| {
            let buffer = &mut buffers[slot * per_op..(slot + 1) * per_op];
            let ptr = buffer.as_mut_ptr().cast::<u8>();
            let ud = 2 * slot as u64;
            // The buffer contract of the three `unsafe` pushes below: a
            // slot's buffer is handed to one op at a time (the next push on
            // the slot follows its completion), and `ring_side` reaps every
            // op (the drain at its end) before `buffers` is dropped.
            let pushed = match w.kind {
                // SAFETY: see above.
                Kind::RandRead => unsafe {
                    ring.push_read(fd, ptr, SMALL as u32, offsets.next(), ud)
                },
                // SAFETY: see above.
                Kind::RandWrite => unsafe {
                    ring.push_write(fd, ptr, SMALL as u32, offsets.next(), ud)
                },
                Kind::SeqWriteFsync if fsync => ring.push_fsync(fd, false, ud + 1),
                Kind::SeqWriteFsync => {
                    let offset = sequential % file.size;
                    sequential += LARGE as u64;
                    // SAFETY: see above.
                    unsafe { ring.push_write(fd, ptr, LARGE as u32, offset, ud) }
                }
            };
            pushed.expect("room in the ring");
        };
        for slot in 0..w.depth {
            push(&mut ring, slot, false);
        }
        let mut done = Vec::with_capacity(64);
        let cpu_start = cpu_us();
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        let mut ops = 0u64;
        let mut now = start;
        while now < deadline {
            match wait {
                Wait::Epoll => {
                    ring.submit().expect("submit");
                    epoll.wait();
                }
                Wait::Ring => {
                    ring.submit_and_wait(1, None).expect("submit and wait");
                }
            }
            done.clear();
            ring.reap(|ud, result| done.push((ud, result)));
            for &(ud, result) in &done {
                let expected = if ud % 2 == 1 { 0 } else { per_op * SMALL };
                assert_eq!(result, Ok(expected), "op {ud} failed");
                let after_write = w.kind == Kind::SeqWriteFsync && ud % 2 == 0;
                ops += u64::from(!after_write);
                push(&mut ring, (ud / 2) as usize, after_write);
                if batch > 0 {
                    ring.submit_chunk(batch).expect("submit");
                }
            }
            now = Instant::now();
        }
        let elapsed = now.duration_since(start).as_secs_f64();
        let cpu = cpu_us() - cpu_start;
        ring.submit().expect("submit");
        while ring.in_flight() > 0 {
            ring.submit_and_wait(1, None).expect("drain");
            ring.reap(|_, _| {});
        }
        Rate { ops: ops as f64 / elapsed, cpu_us: cpu / ops as f64 }
    }

    /// The benchmark through the public `IO` API, on one file driver.
    mod through_io {
        use std::path::Path;
        use std::time::{Duration, Instant};

        use twinio::{
            Buffer, DirectIo, Fd, FileDriver, FilePurpose, FsyncDone, FsyncMode, IO, Io, IoOptions,
            ReadDone, WriteDone,
        };

        use super::{BenchFile, Kind, LARGE, Offsets, Rate, SMALL, Workload, cpu_us};

        struct Ctx {
            fd: Fd,
            kind: Kind,
            offsets: Offsets,
            sequential: u64,
            size: u64,
            ops: u64,
            in_flight: usize,
            deadline: Instant,
            /// A sequential write's buffer while its fsync runs.
            spare: Option<Buffer>,
        }

        impl Ctx {
            /// Submits the next op of the workload with `buffer`, unless
            /// the time is up.
            fn next(&mut self, io: &mut IO<Ctx>, buffer: Buffer) {
                if Instant::now() >= self.deadline {
                    self.in_flight -= 1;
                    return;
                }
                let submitted = match self.kind {
                    Kind::RandRead => {
                        io.read(self.fd, buffer, .., self.offsets.next(), 0, on_read).map(drop)
                    }
                    Kind::RandWrite => {
                        io.write(self.fd, buffer, .., self.offsets.next(), 0, on_write).map(drop)
                    }
                    Kind::SeqWriteFsync => {
                        let offset = self.sequential % self.size;
                        self.sequential += LARGE as u64;
                        io.write(self.fd, buffer, .., offset, 0, on_seq_write).map(drop)
                    }
                };
                submitted.unwrap_or_else(|rejected| panic!("submit: {:?}", rejected.error));
            }
        }

        fn on_read(ctx: &mut Ctx, io: &mut IO<Ctx>, done: ReadDone) {
            assert_eq!(done.result, Ok(SMALL), "read");
            ctx.ops += 1;
            ctx.next(io, done.buffer);
        }

        fn on_write(ctx: &mut Ctx, io: &mut IO<Ctx>, done: WriteDone) {
            assert_eq!(done.result, Ok(SMALL), "write");
            ctx.ops += 1;
            ctx.next(io, done.buffer);
        }

        fn on_seq_write(ctx: &mut Ctx, io: &mut IO<Ctx>, done: WriteDone) {
            assert_eq!(done.result, Ok(LARGE), "write");
            // The fsync follows the write's callback: it covers the write.
            ctx.spare = Some(done.buffer);
            io.fsync(ctx.fd, FsyncMode::Full, 0, on_fsync).expect("submit fsync");
        }

        fn on_fsync(ctx: &mut Ctx, io: &mut IO<Ctx>, done: FsyncDone) {
            assert_eq!(done.result, Ok(()), "fsync");
            ctx.ops += 1;
            let buffer = ctx.spare.take().expect("the write's buffer");
            ctx.next(io, buffer);
        }

        /// Runs `w` through an `IO` on `driver` for `secs`; `None` if the
        /// driver is refused here.
        pub fn side(file: &BenchFile, w: Workload, driver: FileDriver, secs: f64) -> Option<Rate> {
            let options = IoOptions::new(2 * w.depth as u32 + 4).file_driver(driver);
            let mut io: IO<Ctx> = IO::with_options(options).ok()?;
            let dir = io.open_dir(file.path.parent().expect("a directory")).expect("open_dir");
            let name = Path::new(file.path.file_name().expect("a file name"));
            let fd = io
                .open_data_file(dir, name, file.size, FilePurpose::Open, DirectIo::Required)
                .expect("open the bench file through IO");
            let mut ctx = Ctx {
                fd,
                kind: w.kind,
                offsets: Offsets(0x9e37_79b9_7f4a_7c15, file.size / SMALL as u64),
                sequential: 0,
                size: file.size,
                ops: 0,
                in_flight: w.depth,
                deadline: Instant::now() + Duration::from_secs_f64(secs),
                spare: None,
            };
            let len = if w.kind == Kind::SeqWriteFsync { LARGE } else { SMALL };
            let cpu_start = cpu_us();
            let start = Instant::now();
            for _ in 0..w.depth {
                let buffer = Buffer::from_slice(&vec![0xa5; len]).expect("buffer");
                ctx.next(&mut io, buffer);
            }
            while ctx.in_flight > 0 {
                io.flush(&mut ctx, true).expect("flush");
            }
            let elapsed = start.elapsed().as_secs_f64();
            let cpu = cpu_us() - cpu_start;
            for fd in [fd, dir] {
                io.close(fd, 0, |_, _, done| done.result.expect("close")).expect("close");
            }
            io.run_until_done(&mut ctx).expect("closes");
            Some(Rate { ops: ctx.ops as f64 / elapsed, cpu_us: cpu / ctx.ops as f64 })
        }
    }

    struct Epoll(File);

    impl Epoll {
        fn watching(fd: RawFd) -> Epoll {
            // SAFETY: plain syscall; the result is checked.
            let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            assert!(epfd >= 0, "epoll_create1");
            // SAFETY: `epfd` was just created and is owned by nothing else.
            let epoll = Epoll(unsafe { File::from_raw_fd(epfd) });
            let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
            // SAFETY: `event` is a valid epoll_event for the call's duration.
            let rc = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) };
            assert_eq!(rc, 0, "epoll_ctl");
            epoll
        }

        /// Blocks (level-triggered) until the ring has completions.
        fn wait(&self) {
            let mut event = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: `event` is room for the one event asked for. EINTR
            // only means the caller loops once more.
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), &mut event, 1, 1000) };
        }
    }

    /// Runs fio on the file; `None` if fio failed. CPU per op is fio's
    /// own (its job threads), NaN for psync's many jobs.
    fn fio_side(file: &BenchFile, w: Workload, engine: &str, secs: f64) -> Option<Rate> {
        let (rw, bs) = match w.kind {
            Kind::RandRead => ("randread", "4k"),
            Kind::RandWrite => ("randwrite", "4k"),
            Kind::SeqWriteFsync => ("write", "1M"),
        };
        let mut cmd = Command::new("fio");
        cmd.arg("--name=bench")
            .arg(format!("--filename={}", file.path.display()))
            .arg(format!("--size={}", file.size))
            .arg(format!("--ioengine={engine}"))
            .arg(format!("--rw={rw}"))
            .arg(format!("--bs={bs}"))
            .args(["--direct=1", "--time_based", "--norandommap", "--randrepeat=0"])
            .arg(format!("--runtime={}ms", (secs * 1000.0) as u64))
            .args(["--output-format=terse", "--terse-version=3", "--allow_file_create=0"]);
        if w.kind == Kind::SeqWriteFsync {
            cmd.arg("--fsync=1");
        }
        if engine == "psync" {
            cmd.arg(format!("--numjobs={}", w.depth)).args(["--thread", "--group_reporting"]);
        } else {
            cmd.arg(format!("--iodepth={}", w.depth));
        }
        let output = cmd.output().ok().filter(|o| o.status.success())?;
        let text = String::from_utf8_lossy(&output.stdout);
        let fields: Vec<&str> = text.lines().last()?.split(';').collect();
        // Terse v3 (1-based): read IOPS 8, write IOPS 49, CPU user and
        // system percentages 88 and 89.
        let field = |i: usize| fields.get(i - 1).map(|f| f.trim_end_matches('%').parse::<f64>());
        let ops = field(if w.kind == Kind::RandRead { 8 } else { 49 })?.ok()?;
        let cpu = field(88)?.ok()? + field(89)?.ok()?;
        let cpu_us = if engine == "psync" { f64::NAN } else { cpu / 100.0 * 1e6 / ops };
        Some(Rate { ops, cpu_us })
    }

    fn median_of(mut x: Vec<f64>) -> f64 {
        x.sort_by(f64::total_cmp);
        let n = x.len();
        if n % 2 == 1 { x[n / 2] } else { (x[n / 2 - 1] + x[n / 2]) / 2.0 }
    }

    /// The median rate and the median CPU per op (taken separately).
    fn median(v: &[Rate]) -> Rate {
        Rate {
            ops: median_of(v.iter().map(|r| r.ops).collect()),
            cpu_us: median_of(v.iter().map(|r| r.cpu_us).collect()),
        }
    }

    pub fn main() {
        let args = args();
        let have_fio = Command::new("fio").arg("--version").output().is_ok();
        if !have_fio {
            println!("fio not found: its sides are skipped (apt-get install -y fio)");
        }
        let file = prepare(args.mib);
        println!(
            "file {} MiB under target/, written first; direct IO; {} s per side, median of {}",
            args.mib, args.secs, args.reps
        );
        let mut workloads = Vec::new();
        for kind in [Kind::RandRead, Kind::RandWrite] {
            for depth in [1, 8, 32] {
                workloads.push(Workload { kind, depth });
            }
        }
        workloads.push(Workload { kind: Kind::SeqWriteFsync, depth: 1 });
        let sides = [
            Side::Ring("ring coop, epoll wait", (TaskRun::Cooperative, Wait::Epoll, 0)),
            Side::Ring("ring coop, ring wait", (TaskRun::Cooperative, Wait::Ring, 0)),
            Side::Ring("ring default, epoll wait", (TaskRun::Interrupt, Wait::Epoll, 0)),
            Side::Ring("ring defer, ring wait", (TaskRun::Deferred, Wait::Ring, 0)),
            Side::Ring("ring coop, epoll, each", (TaskRun::Cooperative, Wait::Epoll, 1)),
            Side::Ring("ring coop, epoll, by 2", (TaskRun::Cooperative, Wait::Epoll, 2)),
            Side::Ring("ring coop, epoll, by 4", (TaskRun::Cooperative, Wait::Epoll, 4)),
            Side::Ring("ring coop, epoll, by 8", (TaskRun::Cooperative, Wait::Epoll, 8)),
            Side::Ring("ring defer, ring, each", (TaskRun::Deferred, Wait::Ring, 1)),
            Side::Io("IO, io_uring driver", FileDriver::IoUring),
            Side::Io("IO, 4 worker threads", FileDriver::Workers(4)),
            Side::Io("IO, 16 worker threads", FileDriver::Workers(16)),
            Side::Io("IO, loop thread", FileDriver::LoopThread),
            Side::Fio("io_uring"),
            Side::Fio("psync"),
            // fio io_uring a second time, as a peer of the first: how far
            // it strays from 1.00x is the run's noise (disk and machine),
            // the yardstick for every ratio against fio.
            Side::FioAgain("io_uring"),
        ];
        let fio = |engine| sides.iter().position(|s| matches!(s, Side::Fio(e) if *e == engine));
        let (fio_uring, fio_psync) = (fio("io_uring").unwrap(), fio("psync").unwrap());
        let mut chart = Vec::new();
        for w in workloads.into_iter().filter(|w| w.name().contains(&args.only)) {
            println!("\n{}", w.name());
            // rates[rep][side]; each rep runs every side, starting one
            // further along the list than the rep before.
            let mut rates = vec![vec![None; sides.len()]; args.reps];
            for (rep, row) in rates.iter_mut().enumerate() {
                for k in 0..sides.len() {
                    let i = (rep + k) % sides.len();
                    let label = sides[i].label(w.depth);
                    if !args.sides.is_empty() && !args.sides.iter().any(|s| label.contains(s)) {
                        continue;
                    }
                    std::thread::sleep(Duration::from_millis(args.gap_ms));
                    row[i] = match sides[i] {
                        Side::Ring(_, how) => Some(ring_side(&file, w, how, args.secs)),
                        Side::Io(_, driver) => through_io::side(&file, w, driver, args.secs),
                        Side::Fio(engine) | Side::FioAgain(engine) if have_fio => {
                            fio_side(&file, w, engine, args.secs)
                        }
                        Side::Fio(_) | Side::FioAgain(_) => None,
                    };
                    if let (true, Some(rate)) = (args.each, row[i]) {
                        let (ops, cpu) = (rate.ops, rate.cpu_us);
                        println!("    rep {rep} {label:<32} {ops:>8.0}/s {cpu:>6.1} us CPU/op");
                    }
                }
            }
            for (i, side) in sides.iter().enumerate() {
                let runs: Vec<Rate> = rates.iter().filter_map(|row| row[i]).collect();
                if runs.is_empty() {
                    continue;
                }
                let rate = median(&runs);
                let label = side.label(w.depth);
                // The A/A side is a yardstick, not a bar: its label starts
                // like the side it repeats.
                let charted = CHARTED.iter().find(|(start, _)| label.starts_with(start));
                if let (false, Some((_, bar))) = (matches!(side, Side::FioAgain(_)), charted) {
                    chart_bar(&mut chart, &w, bar, rate.ops);
                }
                let mut line = format!(
                    "  {:<32} {:>8.0}/s {:>6.1} us CPU/op",
                    side.label(w.depth),
                    rate.ops,
                    rate.cpu_us
                );
                for (peer, name) in [(fio_uring, "fio io_uring"), (fio_psync, "fio psync")] {
                    if i == peer {
                        continue;
                    }
                    // The median of the ratios of runs in the same rep.
                    let ratios: Vec<f64> =
                        rates.iter().filter_map(|row| Some(row[i]?.ops / row[peer]?.ops)).collect();
                    if !ratios.is_empty() {
                        line += &format!("  {:.2}x {name}", median_of(ratios));
                    }
                }
                println!("{line}");
            }
        }
        if args.write_charts {
            write_charts(&chart, &args);
        }
    }

    /// The sides the chart shows (a label's start, the chart's name for
    /// it), in its order.
    const CHARTED: [(&str, &str); 5] = [
        ("IO, io_uring driver", "IO io_uring"),
        ("IO, 16 worker threads", "IO 16 workers"),
        ("IO, loop thread", "IO loop thread"),
        ("fio io_uring", "fio io_uring"),
        ("fio psync", "fio psync"),
    ];

    /// Adds `side`'s rate on `w` to the chart's group for `w`.
    fn chart_bar(chart: &mut Vec<super::svg::Group>, w: &Workload, side: &'static str, ops: f64) {
        if chart.last().is_none_or(|group| group.label != w.name()) {
            let unit = if w.kind == Kind::SeqWriteFsync { "pairs/s" } else { "ops/s" };
            chart.push(super::svg::Group { label: w.name(), unit, bars: Vec::new() });
        }
        chart.last_mut().expect("pushed above").bars.push((side, ops));
    }

    /// Writes docs/bench/files-uring.svg (the only file a run changes, and
    /// only when asked).
    fn write_charts(chart: &[super::svg::Group], args: &Args) {
        let note = format!(
            "direct IO, one {} MiB file, {} s per side, median of {}; fio psync at depth N is N jobs; higher is better",
            args.mib, args.secs, args.reps
        );
        let svg = super::svg::bar_chart("IO's file drivers and fio, same run", &note, chart);
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/bench/files-uring.svg");
        match std::fs::write(&path, svg) {
            Ok(()) => println!("\nwrote {}", path.display()),
            Err(e) => eprintln!("bench_uring: cannot write {}: {e}", path.display()),
        }
    }

    #[derive(Clone, Copy)]
    enum Side {
        Ring(&'static str, (TaskRun, Wait, usize)),
        Io(&'static str, FileDriver),
        Fio(&'static str),
        /// The same fio run again, measured as a peer of the first.
        FioAgain(&'static str),
    }

    impl Side {
        fn label(&self, depth: usize) -> String {
            match self {
                Side::Ring(name, _) | Side::Io(name, _) => name.to_string(),
                Side::Fio("psync") => format!("fio psync, numjobs={depth}"),
                Side::Fio(engine) => format!("fio {engine}, iodepth={depth}"),
                Side::FioAgain(engine) => format!("fio {engine} again, iodepth={depth}"),
            }
        }
    }
}

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    println!("bench_uring: io_uring is Linux only");
}
