//! Committing and decommitting pages of a reservation.

use crate::raw::checks::page_range;
use crate::{os, Result};

/// Commits every page that holds a byte of `[ptr, ptr + size)`: backs it with memory and
/// makes it readable and writable.
///
/// Pages committed for the first time read zero; pages already committed keep their
/// contents (and get read-write protection). Physical pages are only taken when first
/// touched; use [`Reservation::prefault`](crate::Reservation::prefault) to take them now.
///
/// Cost: one system call (`mprotect` / `VirtualAlloc(MEM_COMMIT)`). On Linux it adds to the
/// commit charge and is checked against `RLIMIT_DATA`.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or a range that overflows; `OutOfMemory` when
/// the OS cannot back the pages (the pages keep the state they had).
///
/// # Safety
/// The range must lie inside reservations you own (from [`reserve`](crate::reserve)).
///
/// ```
/// let page = vmem::page_size();
/// let base = vmem::reserve(4 * page).unwrap().as_ptr();
/// // SAFETY: the range is inside our reservation.
/// unsafe {
///     vmem::commit(base, page).unwrap();
///     assert_eq!(*base, 0);
///     *base = 7;
///     vmem::release(base, 4 * page).unwrap();
/// }
/// ```
pub unsafe fn commit(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("commit", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller owns the reservation.
    unsafe { os::commit(start, len) }
}

/// Decommits every page that holds a byte of `[ptr, ptr + size)`: its memory and commit
/// charge go back to the OS, the pages stay reserved and become inaccessible, and they read
/// zero when committed again.
///
/// Cost: one system call (`mmap(MAP_FIXED, PROT_NONE)` / `VirtualFree(MEM_DECOMMIT)`).
/// Unlike `madvise(MADV_DONTNEED)`, it also returns the commit charge on Linux.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or a range that overflows.
///
/// # Safety
/// The range must lie inside reservations you own, and nothing may read or write it until
/// it is committed again.
///
/// ```
/// let page = vmem::page_size();
/// let base = vmem::reserve(page).unwrap().as_ptr();
/// // SAFETY: the range is inside our reservation, and we do not touch it while decommitted.
/// unsafe {
///     vmem::commit(base, page).unwrap();
///     *base = 7;
///     vmem::decommit(base, page).unwrap();
///     vmem::commit(base, page).unwrap();
///     assert_eq!(*base, 0);
///     vmem::release(base, page).unwrap();
/// }
/// ```
pub unsafe fn decommit(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("decommit", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller owns the range and no longer uses it.
    unsafe { os::decommit(start, len) }
}
