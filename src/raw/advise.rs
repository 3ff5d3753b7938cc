//! Advice to the OS: fault pages in now, back them with huge pages.

use crate::raw::checks::page_range;
use crate::{os, Result};

/// Faults in every page that holds a byte of `[ptr, ptr + size)` now, as writes would, so
/// later first touches cost nothing. Contents do not change.
///
/// Cost: on Linux 5.14+ one `madvise(MADV_POPULATE_WRITE)` (measured faster than touching
/// the pages one by one); elsewhere, or on older kernels, one write per page that keeps its
/// value.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or an overflowing range; `OutOfMemory` when the
/// pages cannot be backed.
///
/// # Safety
/// The range must lie inside reservations you own and be committed and writable.
///
/// ```
/// let r = vmem::Reservation::new(1 << 20).unwrap();
/// r.commit(0, 1 << 20).unwrap();
/// // SAFETY: the range is ours, committed and writable.
/// unsafe { vmem::prefault(r.as_ptr(), 1 << 20).unwrap() };
/// ```
pub unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("prefault", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller promises committed, writable memory.
    unsafe { os::prefault(start, len) }
}

/// Asks the OS to back `[ptr, ptr + size)` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)` on Linux), which cuts TLB misses and page faults for large
/// arrays. Only whole huge pages inside the range benefit: align the range to
/// [`huge_page_size`](crate::huge_page_size) (see [`reserve_aligned`](crate::reserve_aligned)).
///
/// Cost: one system call.
///
/// # Errors
/// `Unsupported` where the OS has no transparent huge pages (Windows and macOS need large
/// pages at reservation time instead).
///
/// # Safety
/// The range must lie inside reservations you own.
///
/// ```
/// let r = vmem::Reservation::new(4 << 20).unwrap();
/// // SAFETY: the range is ours.
/// match unsafe { vmem::advise_huge_pages(r.as_ptr(), r.len()) } {
///     Ok(()) => {}
///     Err(e) => assert_eq!(e.kind(), vmem::ErrorKind::Unsupported),
/// }
/// ```
pub unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("advise_huge_pages", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller owns the range.
    unsafe { os::advise_huge_pages(start, len) }
}
