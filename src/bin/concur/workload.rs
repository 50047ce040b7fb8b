//! The workloads the command measures: real computation and real (loopback) network I/O.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Counts the primes in `lo..hi` by trial division: CPU-bound, no memory traffic.
pub(crate) fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n % 2 == 0 {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 2;
    }
    true
}

/// Splits `0..limit` into `parts` ranges of about equal work.
pub(crate) fn ranges(limit: u64, parts: u64) -> Vec<(u64, u64)> {
    let step = limit.div_ceil(parts).max(1);
    (0..limit)
        .step_by(step as usize)
        .map(|lo| (lo, (lo + step).min(limit)))
        .collect()
}

/// A web server on loopback that answers each `GET /n` with a page of `page_size` bytes
/// after `latency`, the way a remote site keeps a client waiting. One thread per
/// connection, so it is never the bottleneck of the clients measured against it.
pub(crate) struct PageServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl PageServer {
    pub(crate) fn start(latency: Duration, page_size: usize) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let acceptor = thread::Builder::new()
            .name("page-server".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::Acquire) {
                        break;
                    }
                    if let Ok(conn) = conn {
                        thread::spawn(move || {
                            // A client that hangs up early is not the server's problem.
                            let _ = serve(conn, latency, page_size);
                        });
                    }
                }
            })?;
        Ok(PageServer {
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the acceptor so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, latency: Duration, page_size: usize) -> io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain the headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    thread::sleep(latency);
    let body = vec![b'x'; page_size];
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {page_size}\r\nConnection: close\r\n\r\n"
    )?;
    conn.write_all(&body)?;
    conn.flush()
}

/// Downloads one page with a blocking HTTP/1.1 client; returns the body's length.
pub(crate) fn download(addr: SocketAddr, page: usize) -> io::Result<usize> {
    let mut conn = TcpStream::connect(addr)?;
    write!(
        conn,
        "GET /{page} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    body_len(&response)
}

/// Downloads one page with an HTTP/1.1 client on the event loop; returns the body's length.
pub(crate) async fn download_async(addr: SocketAddr, page: usize) -> io::Result<usize> {
    use futures_io::{AsyncRead, AsyncWrite};
    use std::future::poll_fn;
    use std::pin::Pin;

    let mut conn = concur::aio::net::TcpStream::connect(addr).await?;
    let request = format!("GET /{page} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut out = request.as_bytes();
    while !out.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut conn).poll_write(cx, out)).await?;
        out = &out[n..];
    }
    let mut response = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut conn).poll_read(cx, &mut buf)).await?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    body_len(&response)
}

/// The body length of a complete `200` response.
fn body_len(response: &[u8]) -> io::Result<usize> {
    let header_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of headers"))?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a 200 response",
        ));
    }
    Ok(response.len() - header_end - 4)
}
