//! Locking pages of our reservations in physical memory.

use core::ffi::c_void;

use crate::message::call;
use crate::registry::{self, Change};
use crate::types::{VMemResult, VMemResult_Error, VMemResult_Success, VMemSize};

/// Locks every page holding a byte of `[ptr, ptr + num_bytes)` in physical memory: they are
/// faulted in now and not swapped out until unlocked. The pages must be committed and
/// accessible; the amount is bounded by `RLIMIT_MEMLOCK` on Unix and by the working set on
/// Windows.
///
/// # Safety
/// The range is only locked, never written; it is `unsafe` because it faults the pages in,
/// which the caller must expect. (A range outside our live reservations is refused.)
#[no_mangle]
pub unsafe extern "C" fn vmem_lock(ptr: *mut c_void, num_bytes: VMemSize) -> VMemResult {
    const F: &str = "vmem_lock";
    let ptr = ptr.cast::<u8>();
    call(F, VMemResult_Error, || {
        registry::with_reservation(F, ptr, num_bytes, Change::Widens, |reservation, offset| {
            reservation.lock(offset, num_bytes)?;
            Ok(VMemResult_Success)
        })
    })
}

/// Unlocks every page holding a byte of `[ptr, ptr + num_bytes)`, so the OS may swap them
/// out again. Unlocking pages that are not locked succeeds.
///
/// # Safety
/// As [`vmem_lock`].
#[no_mangle]
pub unsafe extern "C" fn vmem_unlock(ptr: *mut c_void, num_bytes: VMemSize) -> VMemResult {
    const F: &str = "vmem_unlock";
    let ptr = ptr.cast::<u8>();
    call(F, VMemResult_Error, || {
        registry::with_reservation(F, ptr, num_bytes, Change::Widens, |reservation, offset| {
            reservation.unlock(offset, num_bytes)?;
            Ok(VMemResult_Success)
        })
    })
}
