//! Async I/O helpers on the [`futures_io`] traits, without another crate: what
//! `tokio::io` gives a tokio user, for concur's sockets, pipes and files (and any other
//! [`AsyncRead`]/[`AsyncWrite`]/[`AsyncBufRead`] type).
//!
//! | need | here | tokio's name |
//! |---|---|---|
//! | read some, exactly n, to the end, to a string, at most n | [`AsyncReadExt`], [`Take`] | `AsyncReadExt` |
//! | write some, all, flush, close | [`AsyncWriteExt`] | `AsyncWriteExt` |
//! | move in a seekable object | [`AsyncSeekExt`] | `AsyncSeekExt` |
//! | a line, up to a byte, every line | [`AsyncBufReadExt`], [`Lines`], [`Split`] | `AsyncBufReadExt` |
//! | buffering | [`BufReader`], [`BufWriter`] | the same |
//! | pump a reader into a writer | [`copy`], [`copy_buf`] | the same |
//! | one stream, two owners | [`split`] | the same |
//!
//! A line-based echo server needs nothing else:
//!
//! ```
//! use concur::aio::{self, io::{AsyncBufReadExt, AsyncWriteExt, BufReader}, net::{TcpListener, TcpStream}};
//!
//! aio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = aio::spawn(async move {
//!         let (conn, _) = listener.accept().await.unwrap();
//!         let (r, mut w) = conn.into_split();
//!         let mut lines = BufReader::new(r).lines();
//!         while let Some(line) = lines.next_line().await.unwrap() {
//!             w.write_all(format!("{}\n", line.to_uppercase()).as_bytes()).await.unwrap();
//!         }
//!     });
//!     let mut client = TcpStream::connect(addr).await.unwrap();
//!     client.write_all(b"hello\nworld\n").await.unwrap();
//!     client.close().await.unwrap(); // the server's `lines` ends
//!     let mut reply = String::new();
//!     BufReader::new(client).read_line(&mut reply).await.unwrap();
//!     assert_eq!(reply, "HELLO\n");
//!     server.await.unwrap();
//! });
//! ```
//!
//! The helpers need `Unpin` readers and writers (every concur stream is); pin anything
//! else first (`Box::pin(r)` is `Unpin` and reads as `r` does).
//!
//! # Cancellation
//!
//! Dropping one of these futures before it finishes (a timeout, a lost race) is safe
//! for memory, but not every one can be restarted without losing data. As tokio
//! documents for its own:
//!
//! | cancel safe: nothing is lost, call again | not cancel safe |
//! |---|---|
//! | [`read`](AsyncReadExt::read), [`write`](AsyncWriteExt::write), [`flush`](AsyncWriteExt::flush), [`Lines::next_line`], [`Split::next_segment`], [`fill_buf`](AsyncBufReadExt::fill_buf), [`read_until`](AsyncBufReadExt::read_until) (the bytes read so far are in the buffer), [`read_to_end`](AsyncReadExt::read_to_end) (likewise) | [`read_exact`](AsyncReadExt::read_exact) (how much was read is unknown), [`write_all`](AsyncWriteExt::write_all) (how much was written is unknown), [`read_line`](AsyncBufReadExt::read_line) and [`read_to_string`](AsyncReadExt::read_to_string) (the bytes read so far are kept only if they are valid UTF-8), [`copy`], [`copy_buf`] |

pub use futures_io::{AsyncBufRead, AsyncRead, AsyncSeek, AsyncWrite};

mod buf_read;
mod buf_reader;
mod buf_writer;
mod copy;
mod read;
mod seek;
mod split;
mod take;
mod write;

pub use buf_read::{AsyncBufReadExt, FillBuf, Lines, ReadLine, ReadUntil, Split};
pub use buf_reader::BufReader;
pub use buf_writer::BufWriter;
pub use copy::{copy, copy_buf, Copy, CopyBuf};
pub use read::{AsyncReadExt, Read, ReadExact, ReadToEnd, ReadToString};
pub use seek::{AsyncSeekExt, Seek};
pub use split::{split, ReadHalf, WriteHalf};
pub use take::Take;
pub use write::{AsyncWriteExt, Close, Flush, Write, WriteAll, WriteVectored};

/// The buffer size of [`BufReader`], [`BufWriter`] and [`copy`]: 8 KiB, as std's.
const DEFAULT_BUF_SIZE: usize = 8 * 1024;
