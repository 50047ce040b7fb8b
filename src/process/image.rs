//! The main executable's image in memory: which addresses are its code and which its
//! read-only data. A worker jumps only to code of the main executable, through a
//! trampoline entry that lies in its read-only data (`call.rs`); a parent refuses to
//! submit a function that lies anywhere else (a shared library), and a pool whose own
//! code is not in the main executable (concur inside a `cdylib`, loaded by some other
//! program) cannot start workers at all: they would be that other program.

use std::ffi::c_void;
use std::ops::Range;
use std::sync::OnceLock;

/// The address ranges of the main executable's segments, as loaded in this process.
#[derive(Debug, Default)]
pub(crate) struct Image {
    /// Executable segments.
    code: Vec<Range<usize>>,
    /// Read-only, non-executable segments, and the parts of writable ones that are
    /// read-only once relocated (`PT_GNU_RELRO`).
    rodata: Vec<Range<usize>>,
}

impl Image {
    /// The main executable's image (read once).
    pub(crate) fn main() -> &'static Image {
        static MAIN: OnceLock<Image> = OnceLock::new();
        MAIN.get_or_init(read_main_image)
    }

    /// `true` if `addr` is in the main executable's code.
    pub(crate) fn is_code(&self, addr: usize) -> bool {
        self.code.iter().any(|r| r.contains(&addr))
    }

    /// `true` if the `len` bytes at `addr` are all in one read-only data range of the
    /// main executable.
    pub(crate) fn is_rodata(&self, addr: usize, len: usize) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        self.rodata.iter().any(|r| r.start <= addr && end <= r.end)
    }
}

/// Called by `dl_iterate_phdr` for each loaded object; the first is the main program.
unsafe extern "C" fn first_object(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut c_void,
) -> libc::c_int {
    // SAFETY: `data` is the `&mut Image` that `read_main_image` passed, alive for the
    // whole iteration and used by nobody else meanwhile.
    let image = unsafe { &mut *data.cast::<Image>() };
    // SAFETY: `dl_iterate_phdr` passes a valid `dl_phdr_info` for the current object.
    let info = unsafe { &*info };
    let phdrs: &[libc::Elf64_Phdr] = if info.dlpi_phdr.is_null() {
        &[]
    } else {
        // SAFETY: `dlpi_phdr` points at `dlpi_phnum` program headers of this object,
        // mapped for as long as the object is loaded (the main program: always).
        unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) }
    };
    let bias = info.dlpi_addr as usize;
    for ph in phdrs {
        let start = bias.wrapping_add(ph.p_vaddr as usize);
        let range = start..start.saturating_add(ph.p_memsz as usize);
        match ph.p_type {
            libc::PT_LOAD if ph.p_flags & libc::PF_X != 0 => image.code.push(range),
            libc::PT_LOAD if ph.p_flags & libc::PF_W == 0 => image.rodata.push(range),
            libc::PT_GNU_RELRO => image.rodata.push(range),
            _ => {}
        }
    }
    // Stop after the main program.
    1
}

fn read_main_image() -> Image {
    let mut image = Image::default();
    // SAFETY: the callback matches the signature `dl_iterate_phdr` expects and only
    // reads what it is given; `data` points at `image`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(
            Some(first_object),
            (&mut image as *mut Image).cast::<c_void>(),
        )
    };
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_function(x: u32) -> u32 {
        x + 1
    }

    static READ_ONLY: [u64; 2] = [1, 2];

    #[test]
    fn the_main_executable_holds_this_code_and_its_constants() {
        let image = Image::main();
        assert!(image.is_code(a_function as fn(u32) -> u32 as usize));
        assert!(image.is_code(read_main_image as fn() -> Image as usize));
        assert!(image.is_rodata(READ_ONLY.as_ptr() as usize, 16));
    }

    #[test]
    fn heap_stack_and_libc_are_not_the_main_executable() {
        let image = Image::main();
        let heap = Box::new(5u64);
        let stack = 7u64;
        assert!(!image.is_code(&*heap as *const u64 as usize));
        assert!(!image.is_rodata(&*heap as *const u64 as usize, 8));
        assert!(!image.is_rodata(&stack as *const u64 as usize, 8));
        // `malloc` lives in the C library, a shared object (unless linked statically).
        if cfg!(all(target_env = "gnu", not(target_feature = "crt-static"))) {
            assert!(!image.is_code(libc::malloc as *const () as usize));
        }
        assert!(!image.is_rodata(usize::MAX - 3, 8));
    }
}
