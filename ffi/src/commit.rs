//! Committing, decommitting and protecting pages of our reservations.

use core::ffi::c_void;

use crate::message::{call, Failure, Outcome};
use crate::registry;
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
    registry::with_range(function, ptr, size, || {
        // SAFETY: the range lies inside a live reservation of ours, kept live by the
        // registry's lock during this call. Committing changes no memory a caller relies on:
        // committed pages keep their contents.
        unsafe { vmem_core::commit(ptr, size)? };
        if protection != vmem_core::Protection::ReadWrite {
            // SAFETY: as above; the caller asked for this protection.
            unsafe { vmem_core::protect(ptr, size, protection)? };
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
    registry::with_range(function, ptr, size, || {
        // SAFETY: inside a live reservation of ours, kept live by the registry's lock; the
        // caller promises nothing uses the memory.
        unsafe { vmem_core::decommit(ptr, size)? };
        Ok(())
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

/// Sets the protection of every page holding a byte of `[ptr, ptr + num_bytes)`.
///
/// # Safety
/// Code using the pages must respect the new protection.
#[no_mangle]
pub unsafe extern "C" fn vmem_protect(ptr: *mut c_void, num_bytes: VMemSize, protect: VMemProtect) -> VMemResult {
    const F: &str = "vmem_protect";
    call(F, VMemResult_Error, || {
        let protection = check_protect(F, protect)?;
        let ptr = ptr.cast::<u8>();
        registry::with_range(F, ptr, num_bytes, || {
            // SAFETY: inside a live reservation of ours, kept live by the registry's lock;
            // the caller respects the new protection.
            unsafe { vmem_core::protect(ptr, num_bytes, protection)? };
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
    registry::with_range(function, ptr, num_bytes, || Ok(()))?;
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
