//! The cheat sheet's ThreadPool: "Great for network and file tasks (for example,
//! downloading web pages)." A download mostly waits for the network, so threads wait in
//! parallel: 20 pages from a slow local server, one after another and then on a pool.
//!
//! `cargo run --release --example download_pages_threads`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use concur::ThreadPoolExecutor;

const PAGES: usize = 20;

/// A tiny web server on a free local port that takes 50 ms to answer each GET.
fn start_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            thread::spawn(move || {
                let mut request_line = String::new();
                let mut reader = BufReader::new(&stream);
                reader.read_line(&mut request_line).unwrap();
                // Skip the headers, up to the empty line.
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                let body = format!("<h1>Hello from {path}</h1>");
                thread::sleep(Duration::from_millis(50)); // a slow network
                let response = format!(
                    "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).unwrap();
            });
        }
    });
    addr
}

/// A blocking HTTP/1.0 GET: returns the body.
fn download(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (_headers, body) = response.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}

fn main() {
    let addr = start_server();
    let paths: Vec<String> = (0..PAGES).map(|i| format!("/page/{i}")).collect();

    let t = Instant::now();
    let one_by_one: Vec<String> = paths.iter().map(|p| download(addr, p)).collect();
    let sequential = t.elapsed();
    println!("{PAGES} pages one after another: {sequential:?}");

    let pool = ThreadPoolExecutor::new(PAGES);
    let t = Instant::now();
    // `map` keeps the input order, like `executor.map`; each item is a Result (a task
    // may panic), hence the unwrap.
    let pooled: Vec<String> = pool
        .map(move |p: String| download(addr, &p), paths)
        .map(Result::unwrap)
        .collect();
    let threaded = t.elapsed();
    println!("{PAGES} pages on {PAGES} threads:      {threaded:?}");

    assert_eq!(one_by_one, pooled);
    println!(
        "same pages ({:?} ... {:?}), {:.0}x faster",
        pooled[0],
        pooled[PAGES - 1],
        sequential.as_secs_f64() / threaded.as_secs_f64()
    );
}
