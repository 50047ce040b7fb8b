//! A web server on `concur::aio` with hyper: one thread serves every connection at once. Each page takes 50 ms to
//! "think", the way a real backend would wait on a database, and the loop serves other
//! requests meanwhile. The visit counter is a plain `Rc<Cell>`: handlers need not be
//! `Send` on a single-threaded loop.
//!
//! `cargo run --release --example http_server [ADDR]` (default 127.0.0.1:8080), then
//! `curl http://127.0.0.1:8080/hello`; Ctrl-C stops it. (For HTTP/2, serve with
//! `hyper::server::conn::http2::Builder::new(concur::aio::hyper::LocalExecutor)`.)

use std::cell::Cell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use concur::aio::{self, hyper::Timer, net::TcpListener};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    aio::run(async move {
        let listener = match TcpListener::bind(&*addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("http_server: cannot listen on {addr}: {e} (pass another ADDR)");
                std::process::exit(2);
            }
        };
        println!("serving on http://{}/", listener.local_addr().unwrap());
        let visits = Rc::new(Cell::new(0u64));
        loop {
            let (conn, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let visits = visits.clone();
            let page = hyper::service::service_fn(move |req: Request<Incoming>| {
                let visits = visits.clone();
                async move {
                    aio::sleep(Duration::from_millis(50)).await; // the backend thinks
                    visits.set(visits.get() + 1);
                    let body = format!(
                        "<h1>Hello from {}</h1><p>visit {} ({:?})</p>\n",
                        req.uri().path(),
                        visits.get(),
                        req.version()
                    );
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                }
            });
            aio::spawn(async move {
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(conn, page)
                    .await;
                if let Err(e) = served {
                    eprintln!("{peer}: {e}");
                }
            });
        }
    });
}
