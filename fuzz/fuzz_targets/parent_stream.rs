//! The worker's decoding of its parent's byte stream: frame boundaries, every frame
//! kind (task, board, init), and a task's postcard-encoded argument. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    concur::process::__fuzz::parent_stream(data);
});
