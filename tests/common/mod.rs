//! What the leak and soak tests read of this process in `/proc`. (Each test binary that
//! says `mod common;` gets its own copy, and uses only part of it.)
#![allow(dead_code)]

/// Descriptors this process has open.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Children of this process not yet reaped (zombies included).
pub(crate) fn children() -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

/// Makes a FIFO at `path`: a gate a test holds a task at, without sleeping.
pub(crate) fn make_fifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Blocks until something opens the FIFO at `path` for writing; returns the byte sent.
/// (A task: it runs in a worker process too.)
pub(crate) fn after_fifo_opens(path: String) -> u8 {
    use std::io::Read;
    let mut byte = [0u8; 1];
    std::fs::File::open(&path)
        .unwrap()
        .read_exact(&mut byte)
        .unwrap();
    byte[0]
}

/// Threads of this process whose name (`comm`) starts with `prefix`.
pub(crate) fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Threads of this process.
pub(crate) fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Reads `probe` until it returns `want`, and returns the last reading.
///
/// For what the kernel finishes a moment after the code under test returns: a joined
/// thread is woken as its thread exits, a moment before the kernel removes it from
/// `/proc`. The deadline (10 s) is one only a real leak reaches, so the caller's
/// `assert_eq!` on the result fails for a leak and never for a slow machine.
pub(crate) fn settles<T: PartialEq>(want: T, mut probe: impl FnMut() -> T) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = probe();
        if got == want || std::time::Instant::now() > deadline {
            return got;
        }
        std::thread::yield_now();
    }
}
