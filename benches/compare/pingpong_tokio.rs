//! TCP ping-pong on tokio's current-thread runtime, written the idiomatic
//! way: a task per client and per server side, `write_all` / `read_exact`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};

pub struct PingPongTokio {
    runtime: Runtime,
    /// (client, server side, client buffer, server buffer); lent to the
    /// tasks of a repetition and handed back when they finish.
    conns: Vec<(TcpStream, TcpStream, Vec<u8>, Vec<u8>)>,
}

impl PingPongTokio {
    /// Opens `conns` loopback connections on a current-thread runtime.
    pub fn new(size: usize, conns: usize) -> std::io::Result<PingPongTokio> {
        let runtime = Builder::new_current_thread().enable_all().build()?;
        let conns = runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            let mut out = Vec::with_capacity(conns);
            for _ in 0..conns {
                let client = TcpStream::connect(address).await?;
                let (server, _) = listener.accept().await?;
                client.set_nodelay(true)?;
                server.set_nodelay(true)?;
                out.push((client, server, vec![0u8; size], vec![0u8; size]));
            }
            Ok::<_, std::io::Error>(out)
        })?;
        Ok(PingPongTokio { runtime, conns })
    }

    /// Runs `rounds` round trips on every connection.
    pub fn run(&mut self, rounds: u32) {
        let conns = std::mem::take(&mut self.conns);
        self.conns = self.runtime.block_on(async move {
            let mut tasks = Vec::with_capacity(conns.len());
            for (mut client, mut server, mut client_buffer, mut server_buffer) in conns {
                let server_task = tokio::spawn(async move {
                    for _ in 0..rounds {
                        server.read_exact(&mut server_buffer).await?;
                        server.write_all(&server_buffer).await?;
                    }
                    Ok::<_, std::io::Error>((server, server_buffer))
                });
                let client_task = tokio::spawn(async move {
                    for _ in 0..rounds {
                        client.write_all(&client_buffer).await?;
                        client.read_exact(&mut client_buffer).await?;
                    }
                    Ok::<_, std::io::Error>((client, client_buffer))
                });
                tasks.push((client_task, server_task));
            }
            let mut back = Vec::with_capacity(tasks.len());
            for (client_task, server_task) in tasks {
                let (client, client_buffer) = client_task.await.expect("join").expect("client");
                let (server, server_buffer) = server_task.await.expect("join").expect("server");
                back.push((client, server, client_buffer, server_buffer));
            }
            back
        });
    }
}
