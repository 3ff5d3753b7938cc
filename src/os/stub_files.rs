//! The stub backend's mapped files and shared memory: every call fails with `Unsupported`.
//! Used by the stub backend, and in place of the Windows backend's file code when
//! `--cfg vmem_check_windows` type-checks that backend off Windows (that code needs
//! `std::os::windows`, which only exists there).

use crate::{Error, ErrorKind, Result};

const WHY: &str = "mapped files and shared memory are not supported on this platform";

#[allow(dead_code)]
fn unsupported(operation: &'static str, ptr: *mut u8, size: usize) -> Error {
    Error::new(ErrorKind::Unsupported, operation, WHY).at(ptr as usize, size)
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn map_reserve(size: usize) -> Result<*mut u8> {
    Err(Error::new(ErrorKind::Unsupported, "map_reserve", WHY).sized(size))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn map_release(base: *mut u8, size: usize, _len: usize) -> Result<()> {
    Err(unsupported("map_release", base, size))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn remap_file(
    base: *mut u8,
    _size: usize,
    _old_len: usize,
    len: usize,
    _file: &std::fs::File,
    _writable: bool,
) -> Result<()> {
    Err(unsupported("map_file", base, len))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn flush_file(ptr: *mut u8, size: usize, _file: &std::fs::File, _wait: bool) -> Result<()> {
    Err(unsupported("flush", ptr, size))
}

#[cfg(feature = "std")]
pub(crate) fn file_set_len(_file: &std::fs::File, _len: u64) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "set_len", WHY))
}

#[cfg(feature = "std")]
pub(crate) fn file_extend(_file: &std::fs::File, _old: u64, _new: u64) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "grow", WHY))
}

#[cfg(feature = "std")]
pub(crate) fn file_len(_file: &std::fs::File) -> Result<u64> {
    Err(Error::new(ErrorKind::Unsupported, "file_len", WHY))
}

#[cfg(feature = "std")]
pub(crate) fn file_lock(_file: &std::fs::File) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "lock_file", WHY))
}

/// No shared memory here; the type exists so that the crate compiles.
#[cfg(feature = "std")]
pub(crate) type SharedMemory = std::fs::File;

#[cfg(feature = "std")]
pub(crate) fn shared_create(total: usize) -> Result<SharedMemory> {
    Err(Error::new(ErrorKind::Unsupported, "SharedRegion::create", WHY).sized(total))
}

#[cfg(feature = "std")]
pub(crate) fn shared_extend(_memory: &SharedMemory, _old: u64, _new: u64) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "SharedRegion::grow", WHY))
}

#[cfg(feature = "std")]
pub(crate) fn shared_len(_memory: &SharedMemory) -> Result<Option<u64>> {
    Err(Error::new(ErrorKind::Unsupported, "SharedRegion::open", WHY))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn shared_map(_memory: &SharedMemory, total: usize, _len: usize) -> Result<*mut u8> {
    Err(Error::new(ErrorKind::Unsupported, "SharedRegion::map", WHY).sized(total))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn shared_remap(
    base: *mut u8,
    total: usize,
    _old_len: usize,
    _new_len: usize,
    _memory: &SharedMemory,
) -> Result<()> {
    Err(unsupported("SharedRegion::grow", base, total))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn shared_unmap(base: *mut u8, total: usize, _len: usize) -> Result<()> {
    Err(unsupported("SharedRegion::unmap", base, total))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn ipc_map(_memory: &SharedMemory, header: usize, _capacity: usize) -> Result<*mut u8> {
    Err(Error::new(ErrorKind::Unsupported, "IpcRing::map", WHY).sized(header))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn ipc_unmap(base: *mut u8, header: usize, _capacity: usize) -> Result<()> {
    Err(unsupported("IpcRing::unmap", base, header))
}

#[cfg(feature = "std")]
pub(crate) fn process_alive(_pid: u32) -> bool {
    true
}
