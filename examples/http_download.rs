//! The cheat sheet's async row with aiohttp's job: download many web pages at once on one
//! thread. hyper's HTTP client runs on `concur::aio`; while one download waits for the
//! network, the loop runs the others. 100 pages from a local server that takes 100 ms per
//! page: one after another that is 10 s, concurrently about 0.1 s.
//!
//! `cargo run --release --example http_download`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use concur::aio::{
    self,
    hyper::Timer,
    net::{TcpListener, TcpStream},
    sync::Semaphore,
};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

const PAGES: usize = 100;
const LATENCY: Duration = Duration::from_millis(100);

/// GET `path` from `addr` with hyper's HTTP/1.1 client on the loop; returns the body.
async fn download(addr: SocketAddr, path: String) -> Result<Bytes, Box<dyn std::error::Error>> {
    let conn = TcpStream::connect(addr).await?;
    let (mut client, connection) = hyper::client::conn::http1::handshake(conn).await?;
    aio::spawn(connection); // the connection's I/O runs as a task of its own
    let req = Request::get(&path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let resp = client.send_request(req).await?;
    Ok(resp.into_body().collect().await?.to_bytes())
}

/// A slow web server on the same loop (a stand-in for the internet).
async fn serve(listener: TcpListener) {
    while let Ok((conn, _)) = listener.accept().await {
        let page = hyper::service::service_fn(|req: Request<Incoming>| async move {
            aio::sleep(LATENCY).await;
            let body = format!("<h1>page {}</h1>", req.uri().path());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
        });
        aio::spawn(
            hyper::server::conn::http1::Builder::new()
                .timer(Timer)
                .serve_connection(conn, page),
        );
    }
}

fn main() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        aio::spawn(serve(listener));

        // One page on its own: a coroutine does nothing until it is awaited.
        let t = Instant::now();
        let first = download(addr, "/0".into()).await.unwrap();
        println!("one page: {:?} in {:.0?}", first, t.elapsed());

        // All the pages at once, at most 50 connections open at a time (like aiohttp's
        // connector limit).
        let limit = Rc::new(Semaphore::new(50));
        let t = Instant::now();
        let downloads: Vec<_> = (0..PAGES)
            .map(|i| {
                let limit = limit.clone();
                aio::spawn(async move {
                    let _permit = limit.acquire().await;
                    download(addr, format!("/{i}"))
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        let mut bytes = 0;
        for page in aio::gather(downloads).await {
            bytes += page.unwrap().unwrap().len();
        }
        println!(
            "{PAGES} pages ({bytes} bytes) concurrently on one thread: {:.2?} \
             (one after another would take about {:.1?})",
            t.elapsed(),
            LATENCY * PAGES as u32
        );
    });
}
