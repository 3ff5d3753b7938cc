//! `VMemFile`: the Rust [`vmem_core::MappedFile`] behind an opaque C handle: a memory-mapped
//! file that grows and shrinks in place, its base address never changing.
//!
//! Handles are recorded while they live, as for `VMemGrowArena`, so a closed or made-up
//! handle is an error and not a crash.

use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr;

use vmem_core::MappedFile;

use crate::message::{call, infallible, Failure, Outcome};
use crate::registry::Handles;
use crate::types::{VMemResult, VMemResult_Error, VMemResult_Success, VMemSize};

/// A file mapped by [`vmem_file_open`]; C sees only pointers to it.
pub struct VMemFile {
    file: MappedFile,
}

/// Flags of [`vmem_file_open`], or-ed together.
pub type VMemFileFlags = c_int;
/// Map read-only (the file is opened read-only; growing is refused).
#[allow(non_upper_case_globals)] // the header's names
pub const VMemFileFlag_ReadOnly: VMemFileFlags = 1;
/// Create the file if it does not exist.
#[allow(non_upper_case_globals)]
pub const VMemFileFlag_Create: VMemFileFlags = 2;
/// Empty the file when opening it.
#[allow(non_upper_case_globals)]
pub const VMemFileFlag_Truncate: VMemFileFlags = 4;
const ALL_FLAGS: VMemFileFlags = VMemFileFlag_ReadOnly | VMemFileFlag_Create | VMemFileFlag_Truncate;

/// The live handles.
static FILES: Handles<VMemFile> = Handles::new(
    "the file pointer is null",
    "the pointer is not a live file from vmem_file_open (never one, or closed already)",
);

/// Runs `body` with the object behind `handle`, after checking that it is live.
fn with_file<T>(
    function: &'static str,
    handle: *const VMemFile,
    body: impl FnOnce(&MappedFile) -> Outcome<T>,
) -> Outcome<T> {
    FILES.with(function, handle, |object| body(&object.file))
}

/// As [`with_file`], mutably.
///
/// # Safety
/// No other thread may use the object during the call (the header's one-thread rule), and no
/// pointer the call invalidates may be used afterwards.
unsafe fn with_file_mut<T>(
    function: &'static str,
    handle: *mut VMemFile,
    body: impl FnOnce(&mut MappedFile) -> Outcome<T>,
) -> Outcome<T> {
    // SAFETY: forwarded from the caller.
    unsafe { FILES.with_mut(function, handle, |object| body(&mut object.file)) }
}

#[cfg(unix)]
fn path_of(bytes: &CStr) -> Outcome<&std::path::Path> {
    use std::os::unix::ffi::OsStrExt;
    Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(bytes.to_bytes())))
}

#[cfg(not(unix))]
fn path_of(bytes: &CStr) -> Outcome<&std::path::Path> {
    bytes.to_str().map(std::path::Path::new).map_err(|_| Failure::invalid("vmem_file_open", "the path is not UTF-8"))
}

/// Opens (or creates) the file at `path` and maps it, reserving `max_size` bytes of address
/// space for it to grow into (0: the library default,
/// [`DEFAULT_RESERVE_BYTES`](vmem_core::DEFAULT_RESERVE_BYTES), 64 GiB on 64-bit systems, or
/// the file's length if larger). Returns NULL and sets the message on failure.
///
/// # Safety
/// `path` must be NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_open(
    path: *const c_char,
    flags: VMemFileFlags,
    max_size: VMemSize,
) -> *mut VMemFile {
    const F: &str = "vmem_file_open";
    call(F, ptr::null_mut(), || {
        if path.is_null() {
            return Err(Failure::invalid(F, "the path is null"));
        }
        if flags & !ALL_FLAGS != 0 {
            return Err(Failure::invalid(F, "unknown flags").with("flags", flags as u64));
        }
        // SAFETY: not null, and the caller promises a NUL-terminated string.
        let path = path_of(unsafe { CStr::from_ptr(path) })?;
        let mut options = MappedFile::options()
            .write(flags & VMemFileFlag_ReadOnly == 0)
            .create(flags & VMemFileFlag_Create != 0)
            .truncate(flags & VMemFileFlag_Truncate != 0);
        if max_size != 0 {
            options = options.max_size(max_size);
        }
        let file = options.open(path)?;

        FILES.create(F, VMemFile { file })
    })
}

/// Unmaps the file (without flushing: call [`vmem_file_flush`] first for durability), closes
/// it and frees the handle.
///
/// # Safety
/// `file` must not be in use by another thread; nothing may use the mapping afterwards.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_close(file: *mut VMemFile) -> VMemResult {
    const F: &str = "vmem_file_close";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises exclusive use, and that nothing uses the object afterwards.
        unsafe { FILES.destroy(F, file)? };
        Ok(VMemResult_Success)
    })
}

/// Sets the file's length (growing or shrinking) in place.
///
/// # Safety
/// `file` must not be in use by another thread; after a shrink nothing may use the bytes
/// past the new length.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_set_len(file: *mut VMemFile, new_len: VMemSize) -> VMemResult {
    const F: &str = "vmem_file_set_len";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises exclusive use and that nothing uses what is cut off.
        unsafe {
            with_file_mut(F, file, |f| {
                f.set_len(new_len)?;
                Ok(VMemResult_Success)
            })
        }
    })
}

/// Grows the file to `new_len` bytes in place (refusing a smaller length).
///
/// # Safety
/// `file` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_grow(file: *mut VMemFile, new_len: VMemSize) -> VMemResult {
    const F: &str = "vmem_file_grow";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises exclusive use; growing cuts nothing off.
        unsafe {
            with_file_mut(F, file, |f| {
                f.grow(new_len)?;
                Ok(VMemResult_Success)
            })
        }
    })
}

/// Writes every modified page back and waits until it is on disk.
///
/// # Safety
/// `file` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_flush(file: *mut VMemFile) -> VMemResult {
    const F: &str = "vmem_file_flush";
    call(F, VMemResult_Error, || {
        with_file(F, file, |f| {
            f.flush()?;
            Ok(VMemResult_Success)
        })
    })
}

/// Writes the modified pages holding `[offset, offset + size)` back and waits for them.
///
/// # Safety
/// `file` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_flush_range(file: *mut VMemFile, offset: VMemSize, size: VMemSize) -> VMemResult {
    const F: &str = "vmem_file_flush_range";
    call(F, VMemResult_Error, || {
        with_file(F, file, |f| {
            f.flush_range(offset, size)?;
            Ok(VMemResult_Success)
        })
    })
}

/// Which of a file's figures [`stat`] reads.
#[derive(Clone, Copy)]
enum Stat {
    Len,
    MaxSize,
}

fn stat(function: &'static str, file: *const VMemFile, which: Stat) -> VMemSize {
    call(function, 0, || {
        FILES.with(function, file, |object| {
            let f = &object.file;
            Ok(match which {
                Stat::Len => f.len(),
                Stat::MaxSize => f.max_size(),
            })
        })
    })
}

/// The file's length in bytes: `[ptr, ptr + len)` may be accessed. 0 (and the message is set) for an invalid file.
///
/// # Safety
/// `file` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_len(file: *const VMemFile) -> VMemSize {
    stat("vmem_file_len", file, Stat::Len)
}

/// The most the file can grow to: the address space reserved. 0 (and the message is set) for an invalid file.
///
/// # Safety
/// `file` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_max_size(file: *const VMemFile) -> VMemSize {
    stat("vmem_file_max_size", file, Stat::MaxSize)
}

/// The first byte of the mapping, the same for the file's whole life; NULL for an invalid
/// file (and the message is set).
///
/// # Safety
/// `file` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_file_ptr(file: *const VMemFile) -> *mut c_void {
    const F: &str = "vmem_file_ptr";
    call(F, ptr::null_mut(), || with_file(F, file, |f| Ok(f.as_ptr().cast())))
}

/// 1 if `file` is a live handle from [`vmem_file_open`], 0 otherwise. Never touches the
/// error message.
#[no_mangle]
pub extern "C" fn vmem_file_is_valid(file: *const VMemFile) -> VMemResult {
    infallible("vmem_file_is_valid", VMemResult_Error, || VMemResult::from(FILES.is_live(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_grow_flush_close() {
        let path = std::env::temp_dir().join(format!("vmem-ffi-file-{}\0", std::process::id()));
        let c_path = path.to_str().unwrap();
        // SAFETY: one thread; the path is NUL-terminated; nothing is used after close.
        unsafe {
            let f = vmem_file_open(c_path.as_ptr().cast(), VMemFileFlag_Create | VMemFileFlag_Truncate, 1 << 30);
            assert!(!f.is_null());
            let base = vmem_file_ptr(f);
            assert_eq!(vmem_file_grow(f, 1 << 20), 1);
            assert_eq!(vmem_file_len(f), 1 << 20);
            base.cast::<u8>().write(7);
            assert_eq!(vmem_file_set_len(f, 64 << 20), 1);
            assert_eq!(vmem_file_ptr(f), base);
            assert_eq!(vmem_file_grow(f, 10), 0);
            assert_eq!(vmem_file_flush(f), 1);
            assert_eq!(vmem_file_flush_range(f, 0, 1), 1);
            assert_eq!(vmem_file_max_size(f), 1 << 30);
            assert_eq!(vmem_file_close(f), 1);
            assert_eq!(vmem_file_is_valid(f), 0);
            assert_eq!(vmem_file_close(f), 0);
            assert!(vmem_file_open(c_path.as_ptr().cast(), 8, 0).is_null());
        }
        std::fs::remove_file(path.to_str().unwrap().trim_end_matches('\0')).unwrap();
    }
}
