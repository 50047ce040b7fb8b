//! The parent's decoding of the bytes a (possibly hostile) worker sent: frame
//! boundaries under the length cap, every frame kind (hello, refused, done, skipped,
//! init-done), and the postcard values a result carries. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    concur::process::__fuzz::worker_stream(data);
});
