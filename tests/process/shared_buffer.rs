//! `SharedBuffer` across processes, against users and workers that try to break it: no
//! two live buffers over one memory in a process, no other process writing under a live
//! slice, `map` over many buffers, and every descriptor of a frame arriving with it.

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::sync::Mutex;

use concur::{ProcessPoolExecutor, SharedBuffer, TaskError};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn serialization_error<T: std::fmt::Debug>(r: Result<T, TaskError>) -> String {
    match r {
        Err(TaskError::Serialization(msg)) => msg,
        other => panic!("expected a serialization error, got {other:?}"),
    }
}

/// Opens, read-write, the memfd of a shared buffer this process has mapped (the first one
/// found): what a hostile worker can do behind the library's back.
fn open_own_memfd() -> File {
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let path = entry.unwrap().path();
        if let Ok(target) = std::fs::read_link(&path) {
            if target
                .to_string_lossy()
                .contains("memfd:concur-shared-buffer")
            {
                return OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .unwrap();
            }
        }
    }
    panic!("no shared buffer descriptor in this process");
}

/// A writable shared mapping of `file`, kept for the life of the process.
fn map_writable(file: &File, len: usize) -> Result<usize, rustix::io::Errno> {
    // SAFETY: a fresh mapping at an address the kernel picks; nothing else uses it.
    let p = unsafe {
        rustix::mm::mmap(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::SHARED,
            file.as_fd(),
            0,
        )
    }?;
    Ok(p as usize)
}

// ---------------------------------------------------------------------------------------
// 1. Two live buffers over one memory.

/// Serializes its buffer twice: decoded, it would be two buffers over one memory.
#[derive(Debug)]
struct Twice(SharedBuffer);

impl Serialize for Twice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.0, &self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Twice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (mut a, b) = <(SharedBuffer, SharedBuffer)>::deserialize(d)?;
        // Had this been accepted: a `&mut` and a `&` over the same bytes.
        let alias = &b[..];
        a[0] = 1;
        if alias[0] == 1 {
            return Err(D::Error::custom("two live buffers over one memory"));
        }
        Ok(Twice(a))
    }
}

#[test]
fn a_result_that_sends_one_buffer_twice_is_refused() {
    fn twice(b: SharedBuffer) -> Twice {
        Twice(b)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(twice, SharedBuffer::new(8).unwrap()).join());
    assert!(msg.contains("twice"), "{msg}");
    // The worker and the pool are fine.
    assert_eq!(pool.submit(|x: u8| x + 1, 1).join(), Ok(2));
}

#[test]
fn an_argument_that_sends_one_buffer_twice_fails_at_submit() {
    fn take(t: Twice) -> usize {
        t.0.len()
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(
        pool.submit(take, Twice(SharedBuffer::new(8).unwrap()))
            .join(),
    );
    assert!(
        msg.contains("argument could not be encoded") && msg.contains("twice"),
        "{msg}"
    );
}

/// Sends a buffer that stays alive in the sender: a `&'static` to a leaked buffer.
#[derive(Debug)]
struct Kept(&'static SharedBuffer);

impl Serialize for Kept {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Kept {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Kept(Box::leak(Box::new(SharedBuffer::deserialize(d)?))))
    }
}

#[test]
fn an_argument_whose_buffer_stays_alive_in_the_parent_fails_at_submit() {
    fn write(k: Kept) -> u8 {
        // Were it accepted, the parent could read these bytes while they change.
        let mut b = SharedBuffer::from_slice(&k.0[..]).unwrap();
        b[0] = 1;
        b[0]
    }
    let kept: &'static SharedBuffer = Box::leak(Box::new(SharedBuffer::new(8).unwrap()));
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(write, Kept(kept)).join());
    assert!(
        msg.contains("argument could not be encoded") && msg.contains("still alive"),
        "{msg}"
    );
    assert_eq!(pool.stats().spawned, 0, "nothing was sent");
}

#[test]
fn a_result_whose_buffer_stays_alive_in_the_worker_is_refused() {
    fn keep(b: SharedBuffer) -> Kept {
        Kept(Box::leak(Box::new(b)))
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(pool.submit(keep, SharedBuffer::new(4096).unwrap()).join());
    assert!(msg.contains("writable"), "{msg}");
}

// ---------------------------------------------------------------------------------------
// 2. No other process writes under a live slice.

#[test]
fn a_worker_still_writing_to_a_returned_buffer_has_it_refused() {
    fn scribble(b: SharedBuffer) -> SharedBuffer {
        let file = open_own_memfd();
        let at = map_writable(&file, b.len()).unwrap();
        // Keeps writing after the task returned, for the life of the worker.
        std::thread::spawn(move || {
            let p = at as *mut u8;
            let mut i = 0u8;
            loop {
                // SAFETY: our own mapping, never unmapped; volatile: no one else's memory
                // as far as this thread knows.
                unsafe { p.write_volatile(i) };
                i = i.wrapping_add(1);
                std::thread::yield_now();
            }
        });
        b
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let msg = serialization_error(
        pool.submit(scribble, SharedBuffer::new(4096).unwrap())
            .join(),
    );
    assert!(
        msg.contains("result could not be decoded") && msg.contains("writable"),
        "{msg}"
    );
}

/// The descriptor a worker kept behind the library's back.
static KEPT: Mutex<Option<File>> = Mutex::new(None);

#[test]
fn a_worker_cannot_write_a_buffer_the_parent_accepted() {
    fn keep_descriptor(mut b: SharedBuffer) -> SharedBuffer {
        b[0] = 7;
        *KEPT.lock().unwrap() = Some(open_own_memfd());
        b
    }
    /// Tries every way to write through the kept descriptor; says what happened.
    fn try_to_write(_: ()) -> (String, String, String) {
        use std::os::unix::fs::FileExt;
        let kept = KEPT.lock().unwrap();
        let file = kept.as_ref().expect("the descriptor from the first task");
        let write = format!("{:?}", file.write_at(&[9], 0).map_err(|e| e.kind()));
        let map = format!("{:?}", map_writable(file, 4096).map(|_| ()));
        let punch = format!(
            "{:?}",
            rustix::fs::fallocate(
                file,
                rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
                0,
                4096
            )
        );
        (write, map, punch)
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let b = pool
        .submit(keep_descriptor, SharedBuffer::new(4096).unwrap())
        .join()
        .unwrap();
    assert_eq!(b[0], 7);
    assert!(b.is_sealed(), "a buffer from a worker is sealed");
    let (write, map, punch) = pool.submit(try_to_write, ()).join().unwrap();
    assert!(write.starts_with("Err"), "write(2): {write}");
    assert!(map.starts_with("Err"), "a writable mapping: {map}");
    assert!(punch.starts_with("Err"), "punching a hole: {punch}");
    assert_eq!(b[0], 7, "the bytes did not change");
}

#[test]
fn a_returned_buffer_is_copied_on_its_first_write_and_can_go_again() {
    fn bump(mut b: SharedBuffer) -> SharedBuffer {
        b.as_mut_slice_of::<u64>().iter_mut().for_each(|x| *x += 1);
        b
    }
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let mut b = SharedBuffer::new(1 << 16).unwrap();
    assert!(!b.is_sealed());
    for round in 1..=3u64 {
        b = pool.submit(bump, b).join().unwrap();
        assert!(b.is_sealed());
        assert!(b.as_slice_of::<u64>().iter().all(|&x| x == 2 * round - 1));
        // The parent writes: its own copy from now on.
        b.as_mut_slice_of::<u64>().iter_mut().for_each(|x| *x += 1);
        assert!(!b.is_sealed());
    }
    // A sealed buffer goes to a worker as it is; the worker's write copies it there.
    let b = pool.submit(bump, b).join().unwrap();
    let b = pool.submit(bump, b).join().unwrap();
    assert!(b.as_slice_of::<u64>().iter().all(|&x| x == 8));
}

// ---------------------------------------------------------------------------------------
// 3. `map` over many buffers.

/// Lets this process hold a few thousand descriptors whatever the default limit.
fn raise_descriptor_limit() {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Nofile,
        rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
}

#[test]
fn map_over_a_thousand_buffers_works() {
    fn first_plus_one(b: SharedBuffer) -> u64 {
        u64::from(b[0]) + 1
    }
    raise_descriptor_limit();
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let buffers: Vec<SharedBuffer> = (0..1000)
        .map(|i| SharedBuffer::from_slice(&[(i % 200) as u8]).unwrap())
        .collect();
    let out: Vec<u64> = pool
        .map(first_plus_one, buffers)
        .map(Result::unwrap)
        .collect();
    assert_eq!(out, (0..1000).map(|i| i % 200 + 1).collect::<Vec<u64>>());
}

#[test]
fn map_of_buffers_back_and_forth_keeps_order() {
    fn bump(mut b: SharedBuffer) -> SharedBuffer {
        b[0] += 1;
        b
    }
    raise_descriptor_limit();
    let pool = ProcessPoolExecutor::new(2).unwrap();
    let buffers: Vec<SharedBuffer> = (0..600)
        .map(|i| SharedBuffer::from_slice(&[(i % 200) as u8]).unwrap())
        .collect();
    let out: Vec<u8> = pool.map(bump, buffers).map(|b| b.unwrap()[0]).collect();
    assert_eq!(
        out,
        (0..600).map(|i| (i % 200) as u8 + 1).collect::<Vec<u8>>()
    );
}

// ---------------------------------------------------------------------------------------
// 4. Every descriptor of a frame arrives with it.

/// A pool of one worker that is sent up to 16 tasks ahead, so that frames queue up
/// behind each other in the parent when the socket is full.
fn deep_pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::builder()
        .max_workers(workers)
        .tasks_in_flight_per_worker(16)
        .build()
        .unwrap()
}

#[test]
fn many_buffers_per_task_with_tasks_in_flight_all_arrive() {
    /// 64 buffers each (the most one value may carry); every fourth task carries 1 MiB
    /// too, which fills the socket, so the small frames behind it wait in the parent.
    fn sum((bufs, pad): (Vec<SharedBuffer>, Vec<u8>)) -> (usize, u64) {
        (pad.len(), bufs.iter().map(|b| u64::from(b[0])).sum())
    }
    raise_descriptor_limit();
    let pool = deep_pool(1);
    let pad = |t: u64| if t % 4 == 0 { 1 << 20 } else { 0 };
    let handles: Vec<_> = (0..64u64)
        .map(|t| {
            let bufs = (0..64)
                .map(|i| SharedBuffer::from_slice(&[((t + i) % 7) as u8]).unwrap())
                .collect();
            pool.submit(sum, (bufs, vec![0u8; pad(t)]))
        })
        .collect();
    for (t, h) in (0..).zip(handles) {
        let expected: u64 = (0..64).map(|i| (t + i) % 7).sum();
        assert_eq!(h.join(), Ok((pad(t), expected)), "task {t}");
    }
}

#[test]
fn many_buffers_per_result_with_tasks_in_flight_all_arrive() {
    fn make(t: u64) -> (Vec<SharedBuffer>, Vec<u8>) {
        let bufs = (0..64)
            .map(|i| SharedBuffer::from_slice(&[((t + i) % 7) as u8]).unwrap())
            .collect();
        (bufs, vec![1; if t % 4 == 0 { 1 << 20 } else { 0 }])
    }
    raise_descriptor_limit();
    let pool = deep_pool(2);
    let handles: Vec<_> = (0..64u64).map(|t| pool.submit(make, t)).collect();
    for (t, h) in (0..).zip(handles) {
        let (bufs, _) = h.join().unwrap();
        let got: Vec<u8> = bufs.iter().map(|b| b[0]).collect();
        let expected: Vec<u8> = (0..64).map(|i| ((t + i) % 7) as u8).collect();
        assert_eq!(got, expected, "task {t}");
    }
}

#[test]
fn results_sent_far_ahead_with_many_buffers_each_all_arrive() {
    // More results of 64 buffers each than a reader may hold undecoded (17 x 64): a pool
    // that reads them all before decoding would take its worker for a protocol breaker.
    fn make(t: u64) -> Vec<SharedBuffer> {
        (0..64)
            .map(|i| SharedBuffer::from_slice(&[((t + i) % 7) as u8]).unwrap())
            .collect()
    }
    raise_descriptor_limit();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .tasks_in_flight_per_worker(64)
        .build()
        .unwrap();
    for round in 0..4u64 {
        let handles: Vec<_> = (0..64u64).map(|t| pool.submit(make, round + t)).collect();
        for (t, h) in (0..).zip(handles) {
            let got: Vec<u8> = h.join().unwrap().iter().map(|b| b[0]).collect();
            let expected: Vec<u8> = (0..64).map(|i| ((round + t + i) % 7) as u8).collect();
            assert_eq!(got, expected, "round {round}, task {t}");
        }
    }
}
