//! The C types of `vmem.h`, laid out exactly as the header declares them.
// The constants keep the header's names, so that C and Rust read the same.
#![allow(non_upper_case_globals)]

use core::ffi::{c_int, c_void};
use core::ptr;

/// `VMemSize`: a size in bytes (`size_t`).
pub type VMemSize = usize;

/// `VMemResult`: `1` (`VMemResult_Success`) or `0` (`VMemResult_Error`), usable in an `if`.
pub type VMemResult = c_int;

/// The call failed; `vmem_get_error_message()` says why.
pub const VMemResult_Error: VMemResult = 0;
/// The call succeeded.
pub const VMemResult_Success: VMemResult = 1;

/// `VMemProtect`: a page protection, one of the `VMemProtect_*` values (`uint8_t`).
pub type VMemProtect = u8;

/// Not a protection: rejected by every call that takes one; reported by
/// `vmem_query_range_info` for address space that is not mapped at all.
pub const VMemProtect_Invalid: VMemProtect = 0;
/// Any access faults.
pub const VMemProtect_NoAccess: VMemProtect = 1;
/// Reads are allowed.
pub const VMemProtect_Read: VMemProtect = 2;
/// Reads and writes are allowed.
pub const VMemProtect_ReadWrite: VMemProtect = 3;
/// Execution is allowed (on most CPUs, reads too).
pub const VMemProtect_Execute: VMemProtect = 4;
/// Execution and reads are allowed.
pub const VMemProtect_ExecuteRead: VMemProtect = 5;
/// Execution, reads and writes are allowed (refused on some hardened systems).
pub const VMemProtect_ExecuteReadWrite: VMemProtect = 6;
/// The number of `VMemProtect_*` values, `VMemProtect_Invalid` included.
pub const VMemProtect_COUNT: VMemProtect = 7;

/// `VMemUsageStatus`: the machine's physical memory, as `vmem_query_usage_status` reports it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VMemUsageStatus {
    /// Physical memory installed (usable by the OS), in bytes.
    pub total_physical_bytes: VMemSize,
    /// Physical memory that can be given to programs without swapping, in bytes.
    pub avail_physical_bytes: VMemSize,
}

/// `VMemRangeInfo`: one run of pages with the same state and protection, as
/// `vmem_query_range_info` reports it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMemRangeInfo {
    /// The first byte of the run (page-aligned).
    pub ptr: *mut c_void,
    /// The size of the run in bytes (a multiple of the page size).
    pub size_bytes: VMemSize,
    /// `1` when the pages are committed, `0` when they are only reserved or not mapped.
    pub is_commited: u8,
    /// The pages' protection; `VMemProtect_NoAccess` for reserved pages and
    /// `VMemProtect_Invalid` for address space that is not mapped at all.
    pub protect: VMemProtect,
}

impl Default for VMemRangeInfo {
    fn default() -> VMemRangeInfo {
        VMemRangeInfo { ptr: ptr::null_mut(), size_bytes: 0, is_commited: 0, protect: VMemProtect_Invalid }
    }
}

/// `VMemArena`: a bump allocator over one block of reserved memory, committed as it grows.
///
/// The first three fields are those of the original `vmem.h`; `used` is new. A zeroed
/// arena is invalid (see `vmem_arena_is_valid`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMemArena {
    /// The first byte of the arena's memory: page-aligned, inside a live reservation.
    pub mem: *mut u8,
    /// The arena's capacity in bytes.
    pub size_bytes: VMemSize,
    /// How many bytes from `mem` are committed (every page holding one of them is).
    pub commited: VMemSize,
    /// How many bytes from `mem` `vmem_arena_push` has handed out, padding included.
    pub used: VMemSize,
}

impl VMemArena {
    /// The zeroed, invalid arena that failing calls return.
    pub const INVALID: VMemArena = VMemArena { mem: ptr::null_mut(), size_bytes: 0, commited: 0, used: 0 };
}

impl Default for VMemArena {
    fn default() -> VMemArena {
        VMemArena::INVALID
    }
}

/// The core library's protection for a `VMemProtect` value, or `None` for an invalid one.
pub(crate) fn protection_from_c(protect: VMemProtect) -> Option<vmem_core::Protection> {
    use vmem_core::Protection;
    Some(match protect {
        VMemProtect_NoAccess => Protection::NoAccess,
        VMemProtect_Read => Protection::Read,
        VMemProtect_ReadWrite => Protection::ReadWrite,
        VMemProtect_Execute => Protection::Execute,
        VMemProtect_ExecuteRead => Protection::ReadExecute,
        VMemProtect_ExecuteReadWrite => Protection::ReadWriteExecute,
        _ => return None,
    })
}

/// The `VMemProtect` value of a core protection.
pub(crate) fn protection_to_c(protection: vmem_core::Protection) -> VMemProtect {
    use vmem_core::Protection;
    match protection {
        Protection::NoAccess => VMemProtect_NoAccess,
        Protection::Read => VMemProtect_Read,
        Protection::ReadWrite => VMemProtect_ReadWrite,
        Protection::Execute => VMemProtect_Execute,
        Protection::ReadExecute => VMemProtect_ExecuteRead,
        Protection::ReadWriteExecute => VMemProtect_ExecuteReadWrite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protections_round_trip() {
        for value in 0..=u8::MAX {
            match protection_from_c(value) {
                Some(p) => assert_eq!(protection_to_c(p), value),
                None => assert!(value == VMemProtect_Invalid || value >= VMemProtect_COUNT),
            }
        }
    }
}
