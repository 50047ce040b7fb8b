//! hyper 1.x clients and servers, both on `concur::aio`, over loopback.

use std::cell::RefCell;
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Duration;

use concur::aio::{
    self,
    hyper::{LocalExecutor, Timer},
    net::{TcpListener, TcpStream},
};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};

/// Which protocol a test speaks.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Proto {
    H1,
    H2,
}

/// Serves every connection of `listener` with a handler that echoes the path and the
/// body back and records each path in `log` (a `!Send` handler state).
fn serve(listener: TcpListener, proto: Proto, log: Rc<RefCell<Vec<String>>>) -> aio::Task<()> {
    aio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let log = log.clone();
                async move {
                    let path = req.uri().path().to_owned();
                    log.borrow_mut().push(path.clone());
                    if path == "/missing" {
                        let mut r = Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = StatusCode::NOT_FOUND;
                        return Ok::<_, Infallible>(r);
                    }
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let reply = format!("{path}:{}", body.len());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(reply))))
                }
            });
            match proto {
                Proto::H1 => {
                    aio::spawn(
                        hyper::server::conn::http1::Builder::new()
                            .timer(Timer)
                            .serve_connection(conn, svc),
                    );
                }
                Proto::H2 => {
                    aio::spawn(
                        hyper::server::conn::http2::Builder::new(LocalExecutor)
                            .timer(Timer)
                            .serve_connection(conn, svc),
                    );
                }
            }
        }
    })
}

/// A client connection of the given protocol; the connection's driver runs as a task.
async fn client(addr: std::net::SocketAddr, proto: Proto) -> Client {
    let conn = TcpStream::connect(addr).await.unwrap();
    match proto {
        Proto::H1 => {
            let (send, driver) = hyper::client::conn::http1::handshake(conn).await.unwrap();
            aio::spawn(driver);
            Client::H1(send)
        }
        Proto::H2 => {
            let (send, driver) = hyper::client::conn::http2::Builder::new(LocalExecutor)
                .timer(Timer)
                .handshake(conn)
                .await
                .unwrap();
            aio::spawn(driver);
            Client::H2(send)
        }
    }
}

enum Client {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Client {
    async fn post(&mut self, path: &str, body: Vec<u8>) -> (StatusCode, String) {
        let req = Request::post(format!("http://concur.test{path}"))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let resp = match self {
            Client::H1(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
            Client::H2(s) => {
                s.ready().await.unwrap();
                s.send_request(req).await.unwrap()
            }
        };
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }
}

fn fetch_many(proto: Proto) {
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let served = log.clone();
    aio::run(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve(listener, proto, served);
        // Several connections, each with several requests; bodies up to 1 MiB.
        let clients: Vec<_> = (0..8)
            .map(|c| {
                aio::spawn(async move {
                    let mut client = client(addr, proto).await;
                    let mut answers = Vec::new();
                    for r in 0..10usize {
                        let len = (c * 10 + r) * 13_107; // 0 .. ~1 MiB
                        answers.push(client.post(&format!("/c{c}/r{r}"), vec![7; len]).await);
                    }
                    let missing = client.post("/missing", Vec::new()).await;
                    (answers, missing)
                })
            })
            .collect();
        for (c, t) in clients.into_iter().enumerate() {
            let (answers, missing) = t.await.unwrap();
            for (r, (status, body)) in answers.into_iter().enumerate() {
                assert_eq!(status, StatusCode::OK);
                assert_eq!(body, format!("/c{c}/r{r}:{}", (c * 10 + r) * 13_107));
            }
            assert_eq!(missing.0, StatusCode::NOT_FOUND);
        }
        server.cancel();
    });
    let mut paths = log.borrow().clone();
    paths.sort();
    assert_eq!(
        paths.len(),
        8 * 11,
        "every request reached the !Send handler"
    );
    assert_eq!(paths.iter().filter(|p| *p == "/missing").count(), 8);
}

#[test]
fn an_http1_client_fetches_from_an_http1_server_on_the_same_loop() {
    fetch_many(Proto::H1);
}

#[test]
fn an_http2_client_multiplexes_requests_to_an_http2_server_on_the_same_loop() {
    fetch_many(Proto::H2);
}

#[test]
fn http2_streams_of_one_connection_run_concurrently() {
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The handler of "/a" waits until "/b" has been served: on one connection this
        // only finishes if the two streams are served concurrently.
        let b_done = Rc::new(aio::sync::Event::new());
        let flag = b_done.clone();
        let server = aio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let flag = flag.clone();
                async move {
                    if req.uri().path() == "/a" {
                        flag.wait().await;
                    } else {
                        flag.set();
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                        req.uri().path().to_owned(),
                    ))))
                }
            });
            hyper::server::conn::http2::Builder::new(LocalExecutor)
                .serve_connection(conn, svc)
                .await
        });
        let Client::H2(send) = client(addr, Proto::H2).await else {
            unreachable!()
        };
        let get = |path: &'static str| {
            let mut s = send.clone();
            aio::spawn(async move {
                let req = Request::get(format!("http://concur.test{path}"))
                    .body(Full::<Bytes>::default())
                    .unwrap();
                let resp = s.send_request(req).await.unwrap();
                resp.into_body().collect().await.unwrap().to_bytes()
            })
        };
        let a = get("/a");
        aio::yield_now().await;
        let b = get("/b");
        assert_eq!(&a.await.unwrap()[..], b"/a");
        assert_eq!(&b.await.unwrap()[..], b"/b");
        drop(send);
        server.cancel();
    });
}

#[test]
fn a_request_to_a_silent_server_times_out() {
    aio::run(async {
        // The server accepts the connection and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = aio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(conn);
        });
        let mut c = client(addr, Proto::H1).await;
        let r = aio::timeout(Duration::from_millis(50), c.post("/", Vec::new())).await;
        assert!(r.is_err(), "the request gave up when its time was up");
        silent.cancel();
    });
}

#[test]
fn the_server_closes_a_connection_whose_headers_do_not_arrive_in_time() {
    aio::run(async {
        // hyper's own header-read timeout, running on concur's Timer.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = aio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let svc = hyper::service::service_fn(|_req: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
            });
            hyper::server::conn::http1::Builder::new()
                .timer(Timer)
                .header_read_timeout(Duration::from_millis(30))
                .serve_connection(conn, svc)
                .await
        });
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap(); // never finished
        let mut rest = Vec::new();
        // The server gives up on the request and closes: the read ends.
        let n = raw.read_to_end(&mut rest).await.unwrap_or(0);
        let served = server.await.unwrap();
        assert!(
            served.is_err(),
            "hyper reported the timed-out connection ({n} bytes were answered)"
        );
    });
}

#[test]
fn a_hyper_sleep_moved_to_another_thread_is_refused_there() {
    use hyper::rt::Timer as _;
    let mut armed = aio::run(async {
        let mut s = Timer.sleep(Duration::from_secs(3600));
        // Poll once so that it is armed on this loop's thread.
        let waker = std::task::Waker::noop();
        assert!(s
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
            .is_pending());
        Some(s) // (wrapped: the loop hands the sleep out, it does not await it)
    })
    .unwrap();
    let r = std::thread::spawn(move || {
        let waker = std::task::Waker::noop();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = armed
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker));
        }))
        .map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    })
    .join()
    .unwrap();
    let msg = r.unwrap_err();
    assert!(msg.contains("another thread"), "{msg}");
}

#[test]
fn keep_alive_connections_from_blocking_clients_are_served_to_the_end() {
    // Blocking std clients (the load generator of `concur-bench ecosystem`) each send
    // requests one after the other on one keep-alive connection, then close it: the
    // server answers each and every connection ends cleanly, on every driver.
    const CONNS: usize = 64;
    const REQUESTS: usize = 200;
    aio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..CONNS)
            .map(|_| {
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut s = std::net::TcpStream::connect(addr).unwrap();
                    s.set_nodelay(true).unwrap();
                    let mut got = Vec::new();
                    let mut chunk = [0u8; 4096];
                    for i in 0..REQUESTS {
                        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
                        while !got.ends_with(b"hello") {
                            let n = s.read(&mut chunk).unwrap();
                            assert!(n > 0, "the server closed at request {i}");
                            got.extend_from_slice(&chunk[..n]);
                        }
                        got.clear();
                    }
                })
            })
            .collect();
        let mut served = Vec::new();
        for _ in 0..CONNS {
            let (conn, _) = listener.accept().await.unwrap();
            conn.set_nodelay(true).unwrap();
            let svc = hyper::service::service_fn(|_req: Request<Incoming>| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
            });
            served.push(aio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .timer(Timer)
                    .serve_connection(conn, svc),
            ));
        }
        for s in served {
            s.await
                .unwrap()
                .expect("every request served, then a clean end");
        }
        for c in clients {
            c.join().unwrap();
        }
    });
}
