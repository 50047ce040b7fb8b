//! Files on the loop: `aio::fs` round trips, seeking, appending, listing, and errors that
//! name their path and are never lost.

use std::collections::BTreeSet;
use std::io::{ErrorKind, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use concur::aio::{
    self,
    fs::{self, File, OpenOptions},
};
use futures_lite::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("concur-aio-fs-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes that differ from their neighbours and do not repeat on any power-of-two period.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect()
}

/// Odd piece sizes, none a divisor of the chunk size, some larger than a chunk.
const PIECES: [usize; 6] = [1, 4093, 65_537, 100_003, 12_345, 7];

#[test]
fn a_large_file_round_trips_through_odd_sized_writes_and_reads() {
    let dir = TempDir::new("large");
    let path = dir.join("big.bin");
    let data = pattern(32 << 20);
    aio::run(async {
        let mut f = File::create(&path).await.unwrap();
        let mut rest = &data[..];
        for &size in PIECES.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            f.write_all(piece).await.unwrap();
            rest = tail;
        }
        f.close().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), data.len() as u64);
        drop(f);

        // Back through `File`, in odd-sized reads.
        let mut f = File::open(&path).await.unwrap();
        let mut back = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 100_003];
        for &size in PIECES.iter().cycle() {
            let n = f.read(&mut buf[..size]).await.unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert!(back == data, "the bytes read back differ");

        // And whole, in one trip.
        assert!(fs::read(&path).await.unwrap() == data);
    });
}

#[test]
fn read_to_end_and_write_all_through_the_extension_traits() {
    let dir = TempDir::new("ext");
    let path = dir.join("f");
    let data = pattern(300_000);
    aio::run(async {
        let mut f = File::create(&path).await.unwrap();
        f.write_all(&data).await.unwrap();
        f.flush().await.unwrap();
        let mut back = Vec::new();
        File::open(&path)
            .await
            .unwrap()
            .read_to_end(&mut back)
            .await
            .unwrap();
        assert!(back == data);
    });
}

#[test]
fn seek_then_read_counts_from_the_reader_not_the_read_ahead() {
    let dir = TempDir::new("seekread");
    let path = dir.join("f");
    let data = pattern(200_000);
    std::fs::write(&path, &data).unwrap();
    aio::run(async {
        let mut f = File::open(&path).await.unwrap();
        let mut buf = [0u8; 10];
        f.read_exact(&mut buf).await.unwrap(); // fetches a whole chunk ahead
        assert_eq!(buf, data[..10]);

        assert_eq!(f.seek(SeekFrom::Current(5)).await.unwrap(), 15);
        f.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, data[15..25]);

        assert_eq!(f.seek(SeekFrom::Current(-20)).await.unwrap(), 5);
        f.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, data[5..15]);

        assert_eq!(f.seek(SeekFrom::Start(150_000)).await.unwrap(), 150_000);
        f.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, data[150_000..150_010]);

        let end = data.len() as u64;
        assert_eq!(f.seek(SeekFrom::End(-3)).await.unwrap(), end - 3);
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, data[data.len() - 3..]);

        // `Current(0)` tells the position.
        assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), end);
        let err = f
            .seek(SeekFrom::Current(-(end as i64) - 1))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn seek_then_write_overwrites_in_place() {
    let dir = TempDir::new("seekwrite");
    let path = dir.join("f");
    aio::run(async {
        let mut f = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        f.write_all(b"0123456789").await.unwrap();
        f.seek(SeekFrom::Start(2)).await.unwrap();
        f.write_all(b"ab").await.unwrap();
        f.seek(SeekFrom::End(0)).await.unwrap();
        f.write_all(b"!").await.unwrap();
        f.seek(SeekFrom::Start(0)).await.unwrap();
        let mut all = String::new();
        f.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "01ab456789!");
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"01ab456789!");
}

#[test]
fn a_write_after_a_read_lands_where_the_reader_is() {
    let dir = TempDir::new("readwrite");
    let path = dir.join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    aio::run(async {
        let mut f = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        let mut buf = [0u8; 3];
        f.read_exact(&mut buf).await.unwrap(); // read all 10 ahead
        f.write_all(b"XY").await.unwrap(); // at 3, not at 10
        let mut rest = String::new();
        f.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "56789");
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"012XY56789");
}

#[test]
fn into_std_keeps_the_readers_position() {
    let dir = TempDir::new("intostd");
    let path = dir.join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let mut std_file = aio::run(async {
        let mut f = File::open(&path).await.unwrap();
        let mut buf = [0u8; 4];
        f.read_exact(&mut buf).await.unwrap();
        f.into_std().await.unwrap()
    });
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut std_file, &mut rest).unwrap();
    assert_eq!(rest, "456789");
}

#[test]
fn append_mode_writes_at_the_end() {
    let dir = TempDir::new("append");
    let path = dir.join("log");
    std::fs::write(&path, b"first\n").unwrap();
    aio::run(async {
        let mut f = OpenOptions::new().append(true).open(&path).await.unwrap();
        f.write_all(b"second\n").await.unwrap();
        f.close().await.unwrap();
        let mut f = File::options()
            .append(true)
            .read(true)
            .open(&path)
            .await
            .unwrap();
        f.seek(SeekFrom::Start(0)).await.unwrap(); // appends go to the end regardless
        f.write_all(b"third\n").await.unwrap();
        f.close().await.unwrap();
    });
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "first\nsecond\nthird\n"
    );
}

#[test]
fn set_len_truncates_and_sync_succeeds() {
    let dir = TempDir::new("setlen");
    let path = dir.join("f");
    aio::run(async {
        let mut f = File::create(&path).await.unwrap();
        f.write_all(&pattern(100_000)).await.unwrap();
        f.set_len(10).await.unwrap();
        f.sync_all().await.unwrap();
        f.sync_data().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 10);
        f.set_len(20).await.unwrap();
        f.close().await.unwrap();
    });
    let back = std::fs::read(&path).unwrap();
    assert_eq!(back[..10], pattern(10)[..]);
    assert_eq!(back[10..], [0u8; 10]);
}

#[test]
fn read_dir_lists_exactly_the_entries_created() {
    let dir = TempDir::new("readdir");
    let expected: BTreeSet<String> = (0..100).map(|i| format!("file-{i:03}")).collect();
    aio::run(async {
        for name in &expected {
            fs::write(dir.join(name), name).await.unwrap();
        }
        fs::create_dir(dir.join("sub")).await.unwrap();

        let mut files = BTreeSet::new();
        let mut dirs = Vec::new();
        let mut entries = fs::read_dir(&dir.0).await.unwrap();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), dir.join(&name));
            if entry.file_type().await.unwrap().is_dir() {
                dirs.push(name);
                continue;
            }
            assert_eq!(entry.metadata().await.unwrap().len(), name.len() as u64);
            assert!(files.insert(name), "an entry came twice");
        }
        assert_eq!(files, expected);
        assert_eq!(dirs, ["sub"]);
        assert!(entries.next_entry().await.unwrap().is_none());
    });
}

#[test]
fn read_dir_of_an_empty_directory_ends_at_once() {
    let dir = TempDir::new("emptydir");
    aio::run(async {
        let mut entries = fs::read_dir(&dir.0).await.unwrap();
        assert!(entries.next_entry().await.unwrap().is_none());
    });
}

fn assert_names(err: &std::io::Error, path: &Path) {
    let shown = path.display().to_string();
    assert!(
        err.to_string().contains(&shown),
        "{err} does not name {shown}"
    );
}

#[test]
fn opening_a_missing_file_is_not_found_and_names_the_path() {
    let dir = TempDir::new("missing");
    let path = dir.join("no-such-file");
    aio::run(async {
        let err = File::open(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_names(&err, &path);
        // The error of `std` is the source, with its OS error code.
        let source = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .expect("the std error is the source");
        assert_eq!(source.kind(), ErrorKind::NotFound);
        assert!(source.raw_os_error().is_some());
    });
}

#[test]
fn every_path_function_names_the_path_in_its_error() {
    let dir = TempDir::new("patherrors");
    let missing = dir.join("missing");
    let other = dir.join("other");
    aio::run(async {
        let errors = [
            fs::read(&missing).await.map(drop).unwrap_err(),
            fs::read_to_string(&missing).await.map(drop).unwrap_err(),
            fs::write(missing.join("x"), "").await.unwrap_err(),
            fs::create_dir(missing.join("x")).await.unwrap_err(),
            fs::remove_file(&missing).await.unwrap_err(),
            fs::remove_dir(&missing).await.unwrap_err(),
            fs::remove_dir_all(&missing).await.unwrap_err(),
            fs::metadata(&missing).await.map(drop).unwrap_err(),
            fs::symlink_metadata(&missing).await.map(drop).unwrap_err(),
            fs::canonicalize(&missing).await.map(drop).unwrap_err(),
            fs::read_link(&missing).await.map(drop).unwrap_err(),
            fs::read_dir(&missing).await.map(drop).unwrap_err(),
            fs::set_permissions(&missing, std::fs::Permissions::from_mode(0o644))
                .await
                .unwrap_err(),
        ];
        for err in &errors {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            assert_names(err, &missing);
        }
        let two = [
            fs::copy(&missing, &other).await.map(drop).unwrap_err(),
            fs::rename(&missing, &other).await.unwrap_err(),
            fs::hard_link(&missing, &other).await.unwrap_err(),
        ];
        for err in &two {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            assert_names(err, &missing);
            assert_names(err, &other);
        }
    });
}

#[test]
fn whole_file_helpers_do_what_std_does() {
    let dir = TempDir::new("helpers");
    aio::run(async {
        let a = dir.join("a");
        fs::write(&a, "hello").await.unwrap();
        assert_eq!(fs::read_to_string(&a).await.unwrap(), "hello");
        assert_eq!(fs::copy(&a, dir.join("b")).await.unwrap(), 5);
        fs::rename(dir.join("b"), dir.join("c")).await.unwrap();
        assert!(!fs::try_exists(dir.join("b")).await.unwrap());
        assert!(fs::try_exists(dir.join("c")).await.unwrap());
        fs::hard_link(&a, dir.join("d")).await.unwrap();
        assert_eq!(fs::read(dir.join("d")).await.unwrap(), b"hello");
        std::os::unix::fs::symlink(&a, dir.join("e")).unwrap();
        assert_eq!(fs::read_link(dir.join("e")).await.unwrap(), a);
        assert!(fs::symlink_metadata(dir.join("e"))
            .await
            .unwrap()
            .is_symlink());
        assert!(fs::metadata(dir.join("e")).await.unwrap().is_file());
        assert_eq!(
            fs::canonicalize(dir.join("e")).await.unwrap(),
            fs::canonicalize(&a).await.unwrap()
        );
        fs::set_permissions(&a, std::fs::Permissions::from_mode(0o600))
            .await
            .unwrap();
        assert_eq!(
            fs::metadata(&a).await.unwrap().permissions().mode() & 0o777,
            0o600
        );
        fs::create_dir_all(dir.join("x/y/z")).await.unwrap();
        fs::remove_dir(dir.join("x/y/z")).await.unwrap();
        fs::remove_dir_all(dir.join("x")).await.unwrap();
        fs::remove_file(dir.join("c")).await.unwrap();
        assert!(!fs::try_exists(dir.join("x")).await.unwrap());
    });
}

#[test]
fn create_new_on_an_existing_file_is_already_exists() {
    let dir = TempDir::new("createnew");
    let path = dir.join("f");
    aio::run(async {
        File::create_new(&path).await.unwrap();
        let err = File::create_new(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_names(&err, &path);
        let err = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    });
}

#[test]
fn a_failed_background_write_is_reported_by_flush() {
    let dir = TempDir::new("writeflush");
    let path = dir.join("f");
    std::fs::write(&path, b"read only").unwrap();
    aio::run(async {
        let mut f = File::open(&path).await.unwrap(); // not opened for writing
                                                      // The bytes are taken into the buffer; the write itself fails on the pool.
        assert_eq!(f.write(b"lost?").await.unwrap(), 5);
        let err = f.flush().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
        // Reported once; the file goes on working.
        f.flush().await.unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "read only");
    });
}

#[test]
fn a_failed_background_write_is_reported_by_the_next_operation() {
    let dir = TempDir::new("writenext");
    let path = dir.join("f");
    std::fs::write(&path, b"abc").unwrap();
    aio::run(async {
        let mut f = File::open(&path).await.unwrap();
        f.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 3];
        let err = f.read(&mut buf).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        f.write_all(b"y").await.unwrap();
        let err = f.seek(SeekFrom::Start(0)).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        f.write_all(b"z").await.unwrap();
        let err = f.write_all(b"w").await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
        // `w` never went out: nothing is in flight.
        f.flush().await.unwrap();

        f.write_all(b"v").await.unwrap();
        let err = f.sync_all().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        f.write_all(b"u").await.unwrap();
        let err = f.close().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        f.write_all(b"t").await.unwrap();
        let err = f.into_std().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");
}

#[test]
fn many_tasks_read_many_files_concurrently() {
    let dir = TempDir::new("concurrent");
    let count = 64;
    for i in 0..count {
        std::fs::write(dir.join(&i.to_string()[..]), pattern(10_000 + i * 997)).unwrap();
    }
    let dir_path = dir.0.clone();
    let total = aio::run(async move {
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let path = dir_path.join(i.to_string());
                aio::spawn(async move {
                    let expected = pattern(10_000 + i * 997);
                    // Half through `File` in small reads, half whole.
                    let got = if i % 2 == 0 {
                        let mut f = File::open(&path).await.unwrap();
                        let mut got = Vec::new();
                        let mut buf = [0u8; 4096];
                        loop {
                            let n = f.read(&mut buf).await.unwrap();
                            if n == 0 {
                                break got;
                            }
                            got.extend_from_slice(&buf[..n]);
                        }
                    } else {
                        fs::read(&path).await.unwrap()
                    };
                    assert!(got == expected, "file {i} differs");
                    got.len()
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(total, (0..count).map(|i| 10_000 + i * 997).sum::<usize>());
}

#[test]
fn a_file_moves_between_tasks_and_reads_after_a_dropped_read() {
    let dir = TempDir::new("dropped");
    let path = dir.join("f");
    let data = pattern(150_000);
    std::fs::write(&path, &data).unwrap();
    aio::run(async {
        let mut f = File::open(&path).await.unwrap();
        // Start a read and drop its future (most likely before it finishes): the read
        // goes on, and its bytes serve the next read.
        let mut buf = [0u8; 8];
        let first = futures_lite::future::poll_once(f.read(&mut buf)).await;
        let skip = match first {
            Some(n) => n.unwrap(), // the pool was quicker than the loop
            None => 0,
        };
        let mut got = Vec::new();
        let f = aio::spawn(async move {
            f.read_to_end(&mut got).await.unwrap();
            got
        });
        assert!(f.await.unwrap() == data[skip..]);
    });
}
