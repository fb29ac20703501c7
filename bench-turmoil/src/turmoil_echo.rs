//! The echo workloads on turmoil, written the way its users write them: a
//! server host with a task per accepted connection, a client host with a
//! task per connection, async reads and writes on turmoil's TCP.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::net::{TcpListener, TcpStream};

use crate::measure::{Sample, Stopwatch};
use crate::workload::{Echo, JITTER, LATENCY, MESSAGE, check_echo, fill_message};

const PORT: u16 = 7000;

/// The curve (the rate of the exponential draw) that makes turmoil's
/// latency a fair coin between its minimum and maximum. turmoil draws
/// `min + (max - min) * Exp(rate)` in whole milliseconds, capped at `max`:
/// with `max - min` = 1 ms a draw is `max` exactly when `Exp(rate) >= 1`,
/// which has probability `exp(-rate)`, one half for `rate = ln 2`. The
/// one-way mean is then 1.5 ms, the mean of SimIO's `1 ms + U(0..=1 ms)`.
/// (turmoil's default rate, 5, gives 2 ms in 0.7% of the draws.)
const FAIR_COIN: f64 = std::f64::consts::LN_2;

/// The server: echoes whatever each connection sends until it closes.
async fn serve() -> turmoil::Result {
    let listener = TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    loop {
        let (mut socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buffer = [0u8; MESSAGE];
            loop {
                let n = socket.read(&mut buffer).await.expect("server read");
                if n == 0 {
                    return;
                }
                socket.write_all(&buffer[..n]).await.expect("server write");
            }
        });
    }
}

/// One client connection: `rounds` round trips, every echo checked.
async fn connection(conn: usize, rounds: u32) -> Result<(), String> {
    let mut socket =
        TcpStream::connect(("server", PORT)).await.map_err(|e| format!("connect: {e}"))?;
    let (mut message, mut echo) = ([0u8; MESSAGE], [0u8; MESSAGE]);
    for round in 0..rounds {
        fill_message(&mut message, conn, round);
        socket.write_all(&message).await.map_err(|e| format!("client write: {e}"))?;
        socket.read_exact(&mut echo).await.map_err(|e| format!("client read: {e}"))?;
        check_echo(&echo, conn, round, 0)?;
    }
    Ok(())
}

async fn clients(echo: Echo) -> turmoil::Result {
    let tasks: Vec<_> =
        (0..echo.conns).map(|conn| tokio::spawn(connection(conn, echo.rounds))).collect();
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// A simulation set up and ready to run.
pub struct TurmoilEcho {
    sim: turmoil::Sim<'static>,
}

impl TurmoilEcho {
    pub fn new(echo: Echo, seed: u64) -> TurmoilEcho {
        // At most 2 ms each way, plus room: a run that stalls fails.
        let bound = Duration::from_millis(4) * echo.rounds + Duration::from_secs(10);
        let max = if echo.jitter { LATENCY + JITTER } else { LATENCY };
        let mut sim = turmoil::Builder::new()
            .simulation_duration(bound)
            .tick_duration(Duration::from_millis(1))
            .min_message_latency(LATENCY)
            .max_message_latency(max)
            .rng_seed(seed)
            .build();
        if echo.jitter {
            sim.set_message_latency_curve(FAIR_COIN);
        }
        sim.host("server", serve);
        sim.client("client", clients(echo));
        TurmoilEcho { sim }
    }

    /// Runs every round trip (connects included), each echo checked.
    /// Panics on a wrong byte or any error.
    pub fn run(mut self) -> Sample {
        let watch = Stopwatch::start();
        let result = self.sim.run();
        let sample = watch.stop(self.sim.elapsed());
        if let Err(error) = result {
            panic!("turmoil echo failed: {error}");
        }
        sample
    }
}
