//! A process pool's workers are the main executable started again, and a task's `fn` is
//! found there by its place in the program. So concur inside a shared library (a `cdylib`
//! that another program loads, like a Python extension in `python3`) cannot start a
//! pool, and a `fn` that lives in a shared library cannot be a task: both are refused
//! with an error that says why, instead of a worker that hangs reading its channel as a
//! script, or jumps to a wrong address.
//!
//! The library is `tests/fixtures/cdylib`, built here by cargo.

use std::ffi::{c_void, CString};
use std::path::PathBuf;
use std::process::Command;

use concur::{ProcessPoolExecutor, TaskError};

/// Builds the fixture library and returns its path.
fn build_fixture() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // A target directory of its own: the fixture builds concur with other features, and
    // the `cargo test` that runs this may hold the main one.
    let target = root.join("target").join("fixtures");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--quiet",
            "-p",
            "concur-fixture-cdylib",
            "--target-dir",
        ])
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the fixture failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("debug").join("libconcur_fixture_cdylib.so")
}

/// The fixture, loaded into this process.
struct Library(*mut c_void);

impl Library {
    fn open() -> Library {
        let path = CString::new(build_fixture().to_str().unwrap()).unwrap();
        // SAFETY: dlopen(3) with a valid C string; the library's initialisers are
        // concur's (its worker hook, which returns at once without a marker).
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!handle.is_null(), "dlopen failed");
        Library(handle)
    }

    fn symbol(&self, name: &str) -> *mut c_void {
        let name = CString::new(name).unwrap();
        // SAFETY: a valid handle from dlopen and a valid C string.
        let sym = unsafe { libc::dlsym(self.0, name.as_ptr()) };
        assert!(!sym.is_null(), "no symbol {name:?}");
        sym
    }
}

#[test]
fn a_pool_created_inside_a_shared_library_is_refused_with_a_clear_error() {
    let lib = Library::open();
    type NewPool = unsafe extern "C" fn(*mut u8, usize) -> isize;
    // SAFETY: the fixture defines this symbol with this signature.
    let new_pool: NewPool = unsafe { std::mem::transmute(lib.symbol("concur_fixture_new_pool")) };
    let mut buf = vec![0u8; 1024];
    // SAFETY: `buf` has `buf.len()` writable bytes.
    let n = unsafe { new_pool(buf.as_mut_ptr(), buf.len()) };
    assert!(n >= 0, "a pool was created inside a shared library");
    let msg = String::from_utf8_lossy(&buf[..n as usize]);
    assert!(msg.contains("shared library"), "{msg}");
    assert!(msg.contains("main executable"), "{msg}");
}

#[test]
fn a_task_function_that_lives_in_a_shared_library_is_refused_at_submit() {
    let lib = Library::open();
    // A Rust function pointer on purpose: the library is of the same build.
    #[allow(improper_ctypes_definitions)]
    type GetTask = extern "C" fn() -> fn(u64) -> u64;
    // SAFETY: the fixture defines this symbol with this signature.
    let get_task: GetTask = unsafe { std::mem::transmute(lib.symbol("concur_fixture_task")) };
    let triple = get_task();
    assert_eq!(triple(2), 6, "the library's function works here");
    let pool = ProcessPoolExecutor::new(1).unwrap();
    let err = pool.submit(triple, 5).join().unwrap_err();
    assert!(
        matches!(&err, TaskError::Serialization(msg)
            if msg.contains("not in the main executable") && msg.contains("shared library")),
        "{err:?}"
    );
    // The pool is unharmed: a function of the program runs.
    fn add_one(x: u64) -> u64 {
        x + 1
    }
    assert_eq!(pool.submit(add_one, 1).join(), Ok(2));
}
