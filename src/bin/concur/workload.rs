//! The workloads the command measures: real computation and real (loopback) network I/O.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
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
/// after `latency`, the way a remote site keeps a client waiting. It is hyper on concur's
/// own event loop, on a thread of its own: one thread serves every connection at once,
/// the cheat sheet's first row at work.
pub(crate) struct PageServer {
    addr: SocketAddr,
    /// The server thread's id, to leave its CPU time out of the client's.
    thread_id: Option<u32>,
    stop: Arc<AtomicBool>,
    server: Option<thread::JoinHandle<()>>,
}

impl PageServer {
    pub(crate) fn start(latency: Duration, page_size: usize) -> io::Result<Self> {
        use concur::aio;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let (tx, rx) = std::sync::mpsc::channel();
        let server = thread::Builder::new()
            .name("page-server".into())
            .spawn(move || {
                aio::run(async move {
                    let listener = match aio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => return drop(tx.send(Err(e))),
                    };
                    let tid = crate::meter::thread_id();
                    let _ = tx.send(listener.local_addr().map(|a| (a, tid)));
                    let page = hyper::body::Bytes::from(vec![b'x'; page_size]);
                    while let Ok((conn, _)) = listener.accept().await {
                        if stop2.load(Ordering::Acquire) {
                            break;
                        }
                        let page = page.clone();
                        let svc = hyper::service::service_fn(move |_req| {
                            let page = page.clone();
                            async move {
                                aio::sleep(latency).await; // the remote site thinks
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                    http_body_util::Full::new(page),
                                ))
                            }
                        });
                        // A client that hangs up early is not the server's problem.
                        drop(aio::spawn(
                            hyper::server::conn::http1::Builder::new()
                                .timer(aio::hyper::Timer)
                                .serve_connection(conn, svc),
                        ));
                    }
                });
            })?;
        let (addr, thread_id) = rx.recv().map_err(|_| {
            io::Error::other("the page server's thread ended before it was listening")
        })??;
        Ok(PageServer {
            addr,
            thread_id,
            stop,
            server: Some(server),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The id of the thread serving the pages, if it could be read.
    pub(crate) fn thread_id(&self) -> Option<u32> {
        self.thread_id
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the acceptor so it sees `stop`; leaving `run` drops the open connections.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.server.take() {
            let _ = t.join();
        }
    }
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

/// Downloads one page with hyper's HTTP/1.1 client on concur's event loop (one connection
/// per page, like the blocking client); returns the body's length.
pub(crate) async fn download_async(addr: SocketAddr, page: usize) -> io::Result<usize> {
    use http_body_util::{BodyExt, Empty};
    let conn = concur::aio::net::TcpStream::connect(addr).await?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(conn)
        .await
        .map_err(io::Error::other)?;
    let driver = concur::aio::spawn(driver);
    let request = hyper::Request::get(format!("/{page}"))
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<hyper::body::Bytes>::new())
        .map_err(io::Error::other)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    if response.status() != hyper::StatusCode::OK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("page {page}: the server answered {}", response.status()),
        ));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(io::Error::other)?
        .to_bytes();
    drop(sender);
    // The connection ends once the exchange is done; its task reports how.
    driver
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
        .map_err(io::Error::other)?;
    Ok(body.len())
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
