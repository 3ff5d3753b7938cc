//! Rounding addresses to alignments.

use core::ffi::c_int;

use crate::message::{call, Failure, Outcome};
use crate::types::{VMemResult, VMemResult_Error};

/// `align` as a `usize`, refusing zero, negative values and non-powers of two.
fn alignment(function: &'static str, align: c_int) -> Outcome<usize> {
    match usize::try_from(align) {
        Ok(a) if a.is_power_of_two() => Ok(a),
        Ok(0) => Err(Failure::invalid(function, "the alignment is zero")),
        Ok(_) => Err(Failure::invalid(function, "the alignment is not a power of two").with("alignment", align as u64)),
        Err(_) => Err(Failure::invalid(function, "the alignment is negative")),
    }
}

/// Rounds `address` up to the next multiple of `align` (a power of two). Returns 0 and sets
/// the message when `align` is not a positive power of two or the result overflows; a
/// successful call empties the message, so 0 is unambiguous.
#[no_mangle]
pub extern "C" fn vmem_align_forward(address: usize, align: c_int) -> usize {
    const F: &str = "vmem_align_forward";
    call(F, 0, || {
        let align = alignment(F, align)?;
        address.checked_next_multiple_of(align).ok_or_else(|| {
            Failure::invalid(F, "the rounded address overflows uintptr_t")
                .at_address(address)
                .with("alignment", align as u64)
        })
    })
}

/// Rounds `address` down to a multiple of `align` (a power of two). Returns 0 and sets the
/// message when `align` is not a positive power of two.
#[no_mangle]
pub extern "C" fn vmem_align_backward(address: usize, align: c_int) -> usize {
    const F: &str = "vmem_align_backward";
    call(F, 0, || Ok(vmem_core::align_down(address, alignment(F, align)?)?))
}

/// `1` when `address` is a multiple of `align`, `0` when it is not. When `align` is not a
/// positive power of two it returns `0` and sets the message; every other call empties the
/// message, so an empty message tells "not aligned" from "invalid alignment".
#[no_mangle]
pub extern "C" fn vmem_is_aligned(address: usize, align: c_int) -> VMemResult {
    const F: &str = "vmem_is_aligned";
    call(F, VMemResult_Error, || Ok(VMemResult::from(vmem_core::is_aligned(address, alignment(F, align)?))))
}
