//! Sizes, machine status, page-state queries, names and the error message.
// The protection constants keep the header's names.
#![allow(non_upper_case_globals)]

use core::ffi::{c_char, c_void};

use crate::message::{self, call, infallible, Failure};
use crate::types::{
    protection_to_c, VMemProtect, VMemProtect_Execute, VMemProtect_ExecuteRead, VMemProtect_ExecuteReadWrite,
    VMemProtect_Invalid, VMemProtect_NoAccess, VMemProtect_Read, VMemProtect_ReadWrite, VMemRangeInfo, VMemSize,
    VMemUsageStatus,
};

/// Optional: asks the OS for the page size and allocation granularity now, so that the
/// first call that needs them does not. Every function works without it.
#[no_mangle]
pub extern "C" fn vmem_init() {
    infallible("vmem_init", (), || {
        vmem_core::page_size();
        vmem_core::allocation_granularity();
    })
}

/// The page size in bytes: the unit of commit, decommit, protect and lock. Cached after the
/// first call; never 0, with or without `vmem_init`.
#[no_mangle]
pub extern "C" fn vmem_get_page_size() -> VMemSize {
    infallible("vmem_get_page_size", 4096, vmem_core::page_size)
}

/// The page size in bytes; the same value as [`vmem_get_page_size`] (the OS is asked once).
#[no_mangle]
pub extern "C" fn vmem_query_page_size() -> VMemSize {
    infallible("vmem_query_page_size", 4096, vmem_core::page_size)
}

/// The alignment of every reservation's base in bytes: 64 KiB on Windows, the page size
/// elsewhere. Never 0.
#[no_mangle]
pub extern "C" fn vmem_get_allocation_granularity() -> VMemSize {
    infallible("vmem_get_allocation_granularity", 65536, vmem_core::allocation_granularity)
}

/// The same value as [`vmem_get_allocation_granularity`].
#[no_mangle]
pub extern "C" fn vmem_query_allocation_granularity() -> VMemSize {
    infallible("vmem_query_allocation_granularity", 65536, vmem_core::allocation_granularity)
}

/// The machine's total and available physical memory. On failure, both fields are 0 and
/// the message says why.
#[no_mangle]
pub extern "C" fn vmem_query_usage_status() -> VMemUsageStatus {
    call("vmem_query_usage_status", VMemUsageStatus::default(), || {
        let status = vmem_core::memory_status()?;
        let size = |bytes: u64| VMemSize::try_from(bytes).unwrap_or(VMemSize::MAX);
        Ok(VMemUsageStatus {
            total_physical_bytes: size(status.total_physical_bytes),
            avail_physical_bytes: size(status.available_physical_bytes),
        })
    })
}

/// Reports the runs of pages with the same state and protection that cover
/// `[ptr, ptr + num_bytes)` (widened to pages), in address order, into `out_buf`. Returns
/// how many entries were written (at most `buf_max_items`), or 0 on failure.
///
/// Any address may be asked about: address space that is not mapped comes back with
/// `is_commited == 0` and `VMemProtect_Invalid`.
///
/// # Safety
/// `out_buf` must point to `buf_max_items` writable `VMemRangeInfo` values.
#[no_mangle]
pub unsafe extern "C" fn vmem_query_range_info(
    ptr: *mut c_void,
    num_bytes: VMemSize,
    out_buf: *mut VMemRangeInfo,
    buf_max_items: VMemSize,
) -> VMemSize {
    const F: &str = "vmem_query_range_info";
    call(F, 0, || {
        if out_buf.is_null() {
            return Err(Failure::invalid(F, "the output buffer is null"));
        }
        if buf_max_items == 0 {
            return Err(Failure::invalid(F, "the output buffer has room for 0 items"));
        }
        let runs = vmem_core::query(ptr.cast_const().cast(), num_bytes)?;
        let mut written: usize = 0;
        for run in runs.iter().take(buf_max_items) {
            let (is_commited, protect) = match run.state {
                vmem_core::PageState::Free => (0, VMemProtect_Invalid),
                vmem_core::PageState::Reserved => (0, VMemProtect_NoAccess),
                vmem_core::PageState::Committed => (1, protection_to_c(run.protection)),
            };
            let info = VMemRangeInfo { ptr: run.start as *mut c_void, size_bytes: run.size, is_commited, protect };
            // SAFETY: `written < buf_max_items` (`take`), and the caller promises `out_buf` has
            // room for that many items. `write` does not read the (maybe uninitialized) old value.
            unsafe { out_buf.add(written).write(info) };
            written = written.saturating_add(1);
        }
        Ok(written)
    })
}

/// The name of a protection, such as `"ReadWrite"` for `VMemProtect_ReadWrite`;
/// `"Invalid"` for `VMemProtect_Invalid` and `"<Unknown>"` for any other value. Never NULL;
/// the string is static.
#[no_mangle]
pub extern "C" fn vmem_get_protect_name(protect: VMemProtect) -> *const c_char {
    infallible("vmem_get_protect_name", c"<Unknown>".as_ptr(), || {
        match protect {
            VMemProtect_Invalid => c"Invalid",
            VMemProtect_NoAccess => c"NoAccess",
            VMemProtect_Read => c"Read",
            VMemProtect_ReadWrite => c"ReadWrite",
            VMemProtect_Execute => c"Execute",
            VMemProtect_ExecuteRead => c"ExecuteRead",
            VMemProtect_ExecuteReadWrite => c"ExecuteReadWrite",
            _ => c"<Unknown>",
        }
        .as_ptr()
    })
}

/// This thread's message about the last failed call: NUL-terminated, never NULL, empty
/// after a successful call. It lives in a per-thread buffer that the next call on this
/// thread may overwrite; copy it to keep it.
#[no_mangle]
pub extern "C" fn vmem_get_error_message() -> *const c_char {
    infallible("vmem_get_error_message", c"".as_ptr(), message::message_ptr)
}
