//! Locking pages in physical memory.

use crate::raw::checks::{page_range, require_committed, Need};
use crate::{os, Result};

/// Locks every page that holds a byte of `[ptr, ptr + size)` in physical memory: the pages
/// are faulted in now and never swapped out until [`unlock`].
///
/// The pages must be committed and accessible. The amount is bounded by `RLIMIT_MEMLOCK`
/// on Unix and by the working-set minimum on Windows.
///
/// Cost: one system call, plus faulting in the pages; on Unix a read of the page map
/// (`/proc/self/smaps` on Linux) first, to refuse pages that are not committed.
///
/// # Errors
/// `InvalidArgument` for null, a zero size, an overflowing range or pages that are not
/// committed; `OutOfMemory` or `PermissionDenied` past the lock limit.
///
/// # Safety
/// The range must lie inside reservations you own.
///
/// ```
/// let page = vmem::page_size();
/// let base = vmem::reserve(page).unwrap().as_ptr();
/// // SAFETY: our reservation.
/// unsafe {
///     vmem::commit(base, page).unwrap();
///     // A locked-memory limit of zero is possible; then this is an error, not a crash.
///     if vmem::lock(base, page).is_ok() {
///         vmem::unlock(base, page).unwrap();
///     }
///     vmem::release(base, page).unwrap();
/// }
/// ```
pub unsafe fn lock(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("lock", ptr, size)?;
    if !os::CHECKS_COMMIT_ITSELF {
        require_committed("lock", start, len, Need::Accessible)?;
    }
    // SAFETY: checked and page-aligned; the caller owns the range.
    unsafe { os::lock(start, len) }
}

/// Unlocks every page that holds a byte of `[ptr, ptr + size)`, so the OS may swap them
/// out again. Unlocking pages that are not locked is harmless.
///
/// Cost: one system call.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or an overflowing range.
///
/// # Safety
/// The range must lie inside reservations you own.
///
/// ```
/// let page = vmem::page_size();
/// let base = vmem::reserve(page).unwrap().as_ptr();
/// // SAFETY: our reservation.
/// unsafe {
///     vmem::commit(base, page).unwrap();
///     vmem::unlock(base, page).unwrap();
///     vmem::release(base, page).unwrap();
/// }
/// ```
pub unsafe fn unlock(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("unlock", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller owns the range.
    unsafe { os::unlock(start, len) }
}
