//! Changing the protection of committed pages.

use crate::range::{page_range, require_committed, Need};
use crate::{os, Protection, Result};

/// Sets the protection of every page that holds a byte of `[ptr, ptr + size)`.
///
/// Every page must be committed: a range with reserved (or unmapped) pages is refused with
/// nothing changed, on every OS. (Unix would otherwise give reserved pages the protection
/// and so make memory usable without a commit; Windows refuses itself.) Making pages
/// writable and executable at once may be refused (`PermissionDenied`) on hardened systems.
///
/// On Linux no system call reports commit state, so the check reads the page map
/// (`/proc/self/smaps`); a committed page made inaccessible before it was ever written is
/// uncharged by the kernel and counts as reserved (commit it again). A
/// [`Reservation`](crate::Reservation) keeps its own record instead and has neither the
/// cost nor that exception.
///
/// Cost: one system call (`mprotect` / `VirtualProtect`), plus on Unix a read of the page
/// map (see [`query`](crate::query)). Each change in the middle of a mapping splits it;
/// Linux allows `vm.max_map_count` (65530) mappings per process.
///
/// # Errors
/// `InvalidArgument` for null, a zero size, an overflowing range or pages that are not
/// committed; `PermissionDenied` when the OS forbids the protection; `OutOfMemory` when the
/// kernel runs out of mappings.
///
/// # Safety
/// The range must lie inside reservations you own, and the code that uses the memory must
/// respect the new protection.
///
/// ```
/// use vmem::Protection;
/// let page = vmem::page_size();
/// let base = vmem::reserve(page).unwrap().as_ptr();
/// // SAFETY: our reservation; we only read it while it is read-only.
/// unsafe {
///     vmem::commit(base, page).unwrap();
///     vmem::protect(base, page, Protection::Read).unwrap();
///     assert_eq!(*base, 0);
///     vmem::release(base, page).unwrap();
/// }
/// ```
pub unsafe fn protect(ptr: *mut u8, size: usize, protection: Protection) -> Result<()> {
    let (start, len) = page_range("protect", ptr, size)?;
    if !os::CHECKS_COMMIT_ITSELF {
        require_committed("protect", start, len, Need::Committed)?;
    }
    // SAFETY: checked and page-aligned; the caller owns the range and honours `protection`.
    unsafe { os::protect(start, len, protection) }
}
