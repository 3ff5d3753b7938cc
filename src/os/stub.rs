//! Systems that are neither Unix nor Windows: every operation fails with `Unsupported`,
//! so that the crate still compiles and says clearly what is missing.

use alloc::vec::Vec;

use crate::{Error, ErrorKind, MemoryStatus, Protection, RegionInfo, Result};

pub(crate) const QUERY_SUPPORTED: bool = false;
pub(crate) const CHECKS_COMMIT_ITSELF: bool = true;

const WHY: &str = "virtual memory is not supported on this platform";

fn unsupported(operation: &'static str, ptr: *mut u8, size: usize) -> Error {
    Error::new(ErrorKind::Unsupported, operation, WHY).at(ptr as usize, size)
}

pub(crate) fn page_size() -> usize {
    4096
}

pub(crate) fn allocation_granularity() -> usize {
    4096
}

pub(crate) fn huge_page_size() -> Option<usize> {
    None
}

pub(crate) fn memory_status() -> Result<MemoryStatus> {
    Err(Error::new(ErrorKind::Unsupported, "memory_status", WHY))
}

pub(crate) fn resident_bytes() -> Result<usize> {
    Err(Error::new(ErrorKind::Unsupported, "resident_bytes", WHY))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn reserve(size: usize) -> Result<*mut u8> {
    Err(Error::new(ErrorKind::Unsupported, "reserve", WHY).sized(size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn reserve_aligned(size: usize, _align: usize) -> Result<*mut u8> {
    Err(Error::new(ErrorKind::Unsupported, "reserve", WHY).sized(size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn release(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("release", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn commit(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("commit", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn decommit(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("decommit", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn protect(ptr: *mut u8, size: usize, _protection: Protection) -> Result<()> {
    Err(unsupported("protect", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn lock(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("lock", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn unlock(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("unlock", ptr, size))
}

pub(crate) fn query(ptr: *mut u8, size: usize, _out: &mut Vec<RegionInfo>) -> Result<()> {
    Err(unsupported("query", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("prefault", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn advise(ptr: *mut u8, size: usize, _advice: crate::Advice) -> Result<()> {
    Err(unsupported("advise", ptr, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn reserve_at(address: usize, size: usize) -> Result<*mut u8> {
    Err(unsupported("reserve_at", address as *mut u8, size))
}

/// # Safety
/// Nothing is required: it always fails.
pub(crate) unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("advise_huge_pages", ptr, size))
}

#[cfg(feature = "std")]
pub(crate) fn ring_map(size: usize) -> Result<*mut u8> {
    Err(Error::new(ErrorKind::Unsupported, "ring_map", WHY).sized(size))
}

/// # Safety
/// Nothing is required: it always fails.
#[cfg(feature = "std")]
pub(crate) unsafe fn ring_unmap(ptr: *mut u8, size: usize) -> Result<()> {
    Err(unsupported("ring_unmap", ptr, size))
}

// ---- mapped files and shared memory ----
// In `stub_files.rs`, which also stands in for the Windows backend's file code when that is
// type-checked off Windows (it needs `std::os::windows`).
