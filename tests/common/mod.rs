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
