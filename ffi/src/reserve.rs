//! Reserving and releasing address space: `vmem_reserve`, `vmem_alloc*`, `vmem_release`,
//! `vmem_dealloc`.

use core::ffi::c_void;
use core::ptr;

use crate::message::{call, Failure, Outcome};
use crate::types::{protection_from_c, VMemProtect, VMemResult, VMemResult_Error, VMemResult_Success, VMemSize};
use crate::{commit, registry};

/// Reserves at least `num_bytes` of address space (rounded up to pages) and returns its
/// base, aligned to the allocation granularity. The memory is inaccessible until committed.
/// Returns NULL on failure (zero size, no address space).
///
/// Cost: one system call, plus recording the reservation.
#[no_mangle]
pub extern "C" fn vmem_reserve(num_bytes: VMemSize) -> *mut c_void {
    call("vmem_reserve", ptr::null_mut(), || Ok(registry::reserve("vmem_reserve", num_bytes)?.cast()))
}

/// The later name of [`vmem_reserve`]: reserves `num_bytes` of inaccessible address space.
#[no_mangle]
pub extern "C" fn vmem_alloc(num_bytes: VMemSize) -> *mut c_void {
    call("vmem_alloc", ptr::null_mut(), || Ok(registry::reserve("vmem_alloc", num_bytes)?.cast()))
}

/// Reserves like [`vmem_alloc`] after checking that `protect` is a valid `VMemProtect_*`
/// value. As on Windows, the protection does not make reserved memory accessible: pages get
/// a protection when they are committed (`vmem_commit_protect`).
#[no_mangle]
pub extern "C" fn vmem_alloc_protect(num_bytes: VMemSize, protect: VMemProtect) -> *mut c_void {
    const F: &str = "vmem_alloc_protect";
    call(F, ptr::null_mut(), || {
        check_protect(F, protect)?;
        Ok(registry::reserve(F, num_bytes)?.cast())
    })
}

/// Reserves `num_bytes` and commits all of it read-write. Returns NULL (and reserves
/// nothing) on failure.
#[no_mangle]
pub extern "C" fn vmem_alloc_commited(num_bytes: VMemSize) -> *mut c_void {
    const F: &str = "vmem_alloc_commited";
    call(F, ptr::null_mut(), || {
        let base = registry::reserve(F, num_bytes)?;
        if let Err(failure) = commit::commit_checked(F, base, num_bytes, vmem_core::Protection::ReadWrite) {
            // SAFETY: the reservation was made above and never handed out.
            let _ = unsafe { registry::release(F, base, num_bytes) };
            return Err(failure);
        }
        Ok(base.cast())
    })
}

/// Releases a whole reservation made by [`vmem_reserve`] or `vmem_alloc*`: its address
/// space and memory go back to the OS. `num_bytes` must be the size it was reserved with.
///
/// # Safety
/// Nothing may use the reservation's memory afterwards. (Pointers that are not the base of
/// a live reservation are refused, not undefined behaviour.)
#[no_mangle]
pub unsafe extern "C" fn vmem_release(ptr: *mut c_void, num_bytes: VMemSize) -> VMemResult {
    // SAFETY: the caller's promise is `registry::release`'s.
    call("vmem_release", VMemResult_Error, || unsafe { release("vmem_release", ptr, num_bytes) })
}

/// The later name of [`vmem_release`].
///
/// # Safety
/// As [`vmem_release`].
#[no_mangle]
pub unsafe extern "C" fn vmem_dealloc(ptr: *mut c_void, num_allocated_bytes: VMemSize) -> VMemResult {
    // SAFETY: the caller's promise is `registry::release`'s.
    call("vmem_dealloc", VMemResult_Error, || unsafe { release("vmem_dealloc", ptr, num_allocated_bytes) })
}

/// The middle generation's name for [`vmem_release`].
///
/// # Safety
/// As [`vmem_release`].
#[no_mangle]
pub unsafe extern "C" fn vmem_free(ptr: *mut c_void, num_bytes: VMemSize) -> VMemResult {
    // SAFETY: the caller's promise is `registry::release`'s.
    call("vmem_free", VMemResult_Error, || unsafe { release("vmem_free", ptr, num_bytes) })
}

/// # Safety
/// As [`registry::release`].
unsafe fn release(function: &'static str, ptr: *mut c_void, num_bytes: VMemSize) -> Outcome<VMemResult> {
    // SAFETY: forwarded from the caller.
    unsafe { registry::release(function, ptr.cast(), num_bytes)? };
    Ok(VMemResult_Success)
}

/// Checks a `VMemProtect` value and returns the core protection.
pub(crate) fn check_protect(function: &'static str, protect: VMemProtect) -> Outcome<vmem_core::Protection> {
    protection_from_c(protect).ok_or_else(|| {
        Failure::invalid(
            function,
            "the protection is not a VMemProtect_ value from 1 (NoAccess) to 6 (ExecuteReadWrite)",
        )
        .with("protection", u64::from(protect))
    })
}
