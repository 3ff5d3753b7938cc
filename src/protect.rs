//! Changing the protection of committed pages.

use crate::range::page_range;
use crate::{os, Protection, Result};

/// Sets the protection of every page that holds a byte of `[ptr, ptr + size)`.
///
/// The pages should be committed. Windows refuses to change reserved pages; Unix cannot
/// tell them apart and gives them the protection, which commits them. Making pages
/// writable and executable at once may be refused (`PermissionDenied`) on hardened systems.
///
/// Cost: one system call (`mprotect` / `VirtualProtect`). Each change in the middle of a
/// mapping splits it; Linux allows `vm.max_map_count` (65530) mappings per process.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or an overflowing range; `PermissionDenied` when
/// the OS forbids the protection; `OutOfMemory` when the kernel runs out of mappings.
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
    // SAFETY: checked and page-aligned; the caller owns the range and honours `protection`.
    unsafe { os::protect(start, len, protection) }
}
