//! Committing, decommitting and protecting pages of our reservations.

use core::ffi::c_void;

use crate::message::{call, Failure, Outcome};
use crate::registry::{self, Change};
use crate::reserve::check_protect;
use crate::types::{VMemProtect, VMemResult, VMemResult_Error, VMemResult_Success, VMemSize};

/// Commits `[ptr, ptr + size)` (widened to pages) with `protection`, after checking that it
/// lies inside one live reservation.
pub(crate) fn commit_checked(
    function: &'static str,
    ptr: *mut u8,
    size: usize,
    protection: vmem_core::Protection,
) -> Outcome<()> {
    let change = if protection == vmem_core::Protection::ReadWrite { Change::Widens } else { Change::Narrows };
    registry::with_reservation(function, ptr, size, change, |reservation, offset| {
        // Committing changes no memory a caller relies on: committed pages keep their
        // contents.
        reservation.commit(offset, size)?;
        if protection != vmem_core::Protection::ReadWrite {
            reservation.protect(offset, size, protection)?;
        }
        Ok(())
    })
}

/// Decommits `[ptr, ptr + size)` (widened to pages) after checking that it lies inside one
/// live reservation.
///
/// # Safety
/// Nothing may use the range's memory until it is committed again.
pub(crate) unsafe fn decommit_checked(function: &'static str, ptr: *mut u8, size: usize) -> Outcome<()> {
    // The caller promises nothing uses the memory.
    registry::with_reservation(function, ptr, size, Change::Narrows, |reservation, offset| {
        Ok(reservation.decommit(offset, size)?)
    })
}

/// Commits every page holding a byte of `[ptr, ptr + num_bytes)`, read-write. Pages
/// committed for the first time (or again after a decommit) read zero; pages already
/// committed keep their contents and become read-write.
///
/// # Safety
/// The pages become read-write: code relying on a stricter protection of pages in the range
/// must not be running. (A range outside our live reservations is refused.)
#[no_mangle]
pub unsafe extern "C" fn vmem_commit(ptr: *mut c_void, num_bytes: VMemSize) -> VMemResult {
    const F: &str = "vmem_commit";
    call(F, VMemResult_Error, || {
        commit_checked(F, ptr.cast(), num_bytes, vmem_core::Protection::ReadWrite)?;
        Ok(VMemResult_Success)
    })
}

/// Commits like [`vmem_commit`], then sets the protection `protect`.
///
/// # Safety
/// As [`vmem_commit`], for the protection `protect`.
#[no_mangle]
pub unsafe extern "C" fn vmem_commit_protect(
    ptr: *mut c_void,
    num_bytes: VMemSize,
    protect: VMemProtect,
) -> VMemResult {
    const F: &str = "vmem_commit_protect";
    call(F, VMemResult_Error, || {
        let protection = check_protect(F, protect)?;
        commit_checked(F, ptr.cast(), num_bytes, protection)?;
        Ok(VMemResult_Success)
    })
}

/// Decommits every page holding a byte of `[ptr, ptr + num_bytes)`: memory and commit
/// charge go back to the OS, the pages stay reserved, become inaccessible and read zero when
/// committed again.
///
/// # Safety
/// Nothing may read or write the pages until they are committed again.
#[no_mangle]
pub unsafe extern "C" fn vmem_decommit(ptr: *mut c_void, num_bytes: VMemSize) -> VMemResult {
    const F: &str = "vmem_decommit";
    call(F, VMemResult_Error, || {
        // SAFETY: forwarded from the caller.
        unsafe { decommit_checked(F, ptr.cast(), num_bytes)? };
        Ok(VMemResult_Success)
    })
}

/// Sets the protection of every page holding a byte of `[ptr, ptr + num_bytes)`. Every page
/// must be committed: a range with reserved pages is refused and nothing changes (as on
/// Windows, and as the original library's own tests expect).
///
/// # Safety
/// Code using the pages must respect the new protection.
#[no_mangle]
pub unsafe extern "C" fn vmem_protect(ptr: *mut c_void, num_bytes: VMemSize, protect: VMemProtect) -> VMemResult {
    const F: &str = "vmem_protect";
    call(F, VMemResult_Error, || {
        let protection = check_protect(F, protect)?;
        let ptr = ptr.cast::<u8>();
        // The caller respects the new protection.
        registry::with_reservation(F, ptr, num_bytes, Change::Narrows, |reservation, offset| {
            reservation.protect(offset, num_bytes, protection)?;
            Ok(VMemResult_Success)
        })
    })
}

/// Changes how much of the region `[ptr, ptr + num_bytes)` is committed from
/// `prev_commited` bytes to `commited` bytes (both counted from `ptr` and rounded up to
/// pages): commits or decommits only the difference.
///
/// # Safety
/// Nothing may use the pages that are decommitted.
#[no_mangle]
pub unsafe extern "C" fn vmem_partially_commit_region(
    ptr: *mut c_void,
    num_bytes: VMemSize,
    prev_commited: VMemSize,
    commited: VMemSize,
) -> VMemResult {
    const F: &str = "vmem_partially_commit_region";
    call(F, VMemResult_Error, || {
        // SAFETY: forwarded from the caller.
        unsafe { partially_commit(F, ptr.cast(), num_bytes, prev_commited, commited)? };
        Ok(VMemResult_Success)
    })
}

/// Moves the committed prefix of the region `[ptr, ptr + num_bytes)` from `old` to `new`
/// bytes.
///
/// # Safety
/// Nothing may use the pages that are decommitted.
pub(crate) unsafe fn partially_commit(
    function: &'static str,
    ptr: *mut u8,
    num_bytes: usize,
    old: usize,
    new: usize,
) -> Outcome<()> {
    let address = ptr as usize;
    registry::check_range(function, ptr, num_bytes)?;
    if !vmem_core::is_aligned(address, vmem_core::page_size()) {
        return Err(Failure::invalid(function, "the region does not start at a page boundary")
            .at(address, num_bytes)
            .with("page size", vmem_core::page_size() as u64));
    }
    for (value, name) in [(new, "commited"), (old, "prev_commited")] {
        if value > num_bytes {
            return Err(Failure::invalid(function, "cannot commit more than the region's size")
                .at(address, num_bytes)
                .with(name, value as u64));
        }
    }
    let page = vmem_core::page_size();
    let old_pages = vmem_core::align_up(old, page)?;
    let new_pages = vmem_core::align_up(new, page)?;
    if let Some(grow) = new_pages.checked_sub(old_pages).filter(|&n| n > 0) {
        commit_checked(function, ptr.wrapping_add(old_pages), grow, vmem_core::Protection::ReadWrite)?;
    } else if let Some(shrink) = old_pages.checked_sub(new_pages).filter(|&n| n > 0) {
        // SAFETY: the caller promises nothing uses the decommitted pages.
        unsafe { decommit_checked(function, ptr.wrapping_add(new_pages), shrink)? };
    }
    Ok(())
}
