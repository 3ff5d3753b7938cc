//! Windows: `VirtualAlloc`, `VirtualFree`, `VirtualProtect`, `VirtualQuery`, `VirtualLock`
//! through windows-sys.
//!
//! Reservations are `MEM_RESERVE` with `PAGE_NOACCESS`; their bases are aligned to the
//! allocation granularity (64 KiB). Commit is `MEM_COMMIT` (charges the pagefile; fresh pages
//! read zero; committing committed pages keeps them), decommit `MEM_DECOMMIT` (recommitted
//! pages read zero), release `MEM_RELEASE` with size 0 and the original base.
//!
//! Written from the Win32 documentation. The Windows job of `.github/workflows/ci.yml` builds
//! and tests it on a real runner; on Linux, `scripts/check-platforms.sh` type-checks it with
//! `--cfg vmem_check_windows` (windows-sys is declarations only), which never runs it.

use alloc::vec::Vec;
use core::ffi::c_void;
use core::mem::{size_of, zeroed};
use core::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_ACCESS_DENIED, ERROR_COMMITMENT_LIMIT, ERROR_INVALID_ADDRESS, ERROR_INVALID_PARAMETER,
    ERROR_NOACCESS, ERROR_NOT_ENOUGH_MEMORY, ERROR_NOT_LOCKED, ERROR_OUTOFMEMORY, ERROR_WORKING_SET_QUOTA,
};
use windows_sys::Win32::System::Memory::{
    GetLargePageMinimum, VirtualAlloc, VirtualFree, VirtualLock, VirtualProtect, VirtualQuery, VirtualUnlock,
    MEMORY_BASIC_INFORMATION, MEM_COMMIT, MEM_DECOMMIT, MEM_FREE, MEM_RELEASE, MEM_RESERVE, PAGE_EXECUTE,
    PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY, PAGE_NOACCESS, PAGE_PROTECTION_FLAGS,
    PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY,
};
use windows_sys::Win32::System::ProcessStatus::{K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, GlobalMemoryStatusEx, MEMORYSTATUSEX, SYSTEM_INFO};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

use crate::{Error, ErrorKind, MemoryStatus, PageState, Protection, RegionInfo, Result};

/// `VirtualQuery` answers queries.
pub(crate) const QUERY_SUPPORTED: bool = true;
/// `VirtualLock` itself refuses pages that are not committed.
pub(crate) const CHECKS_COMMIT_ITSELF: bool = true;

fn system_info() -> SYSTEM_INFO {
    // SAFETY: SYSTEM_INFO is plain data; GetSystemInfo fills it and cannot fail.
    unsafe {
        let mut info: SYSTEM_INFO = zeroed();
        GetSystemInfo(&mut info);
        info
    }
}

pub(crate) fn page_size() -> usize {
    match system_info().dwPageSize as usize {
        0 => 4096,
        size => size,
    }
}

pub(crate) fn allocation_granularity() -> usize {
    match system_info().dwAllocationGranularity as usize {
        0 => 65536,
        size => size,
    }
}

pub(crate) fn huge_page_size() -> Option<usize> {
    // SAFETY: no arguments; returns 0 when large pages are not supported.
    match unsafe { GetLargePageMinimum() } {
        0 => None,
        size => Some(size),
    }
}

/// The calling thread's last error as an `Error` of `kind` for `operation` on the range.
fn last_error(kind: ErrorKind, operation: &'static str, ptr: *mut u8, size: usize) -> Error {
    // SAFETY: reads the calling thread's last-error value.
    let code = unsafe { GetLastError() };
    classify(kind, operation, code, ptr, size)
}

fn classify(default: ErrorKind, operation: &'static str, code: u32, ptr: *mut u8, size: usize) -> Error {
    let (kind, detail) = match code {
        ERROR_COMMITMENT_LIMIT => (ErrorKind::OutOfMemory, "the system commit limit (RAM + pagefile) is reached"),
        ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY => (default, ""),
        ERROR_WORKING_SET_QUOTA => (ErrorKind::OutOfMemory, "the working-set quota is too small to lock the pages"),
        ERROR_ACCESS_DENIED => (ErrorKind::PermissionDenied, ""),
        ERROR_INVALID_ADDRESS => {
            (ErrorKind::InvalidArgument, "the range is not (entirely) in a reservation in this state")
        }
        ERROR_INVALID_PARAMETER => (ErrorKind::InvalidArgument, ""),
        _ => (ErrorKind::Os, ""),
    };
    let err = Error::from_os(kind, operation, code as i32).because(detail);
    if ptr.is_null() {
        err.sized(size)
    } else {
        err.at(ptr as usize, size)
    }
}

pub(crate) fn memory_status() -> Result<MemoryStatus> {
    // SAFETY: MEMORYSTATUSEX is plain data with its length set as the API requires.
    let status = unsafe {
        let mut status: MEMORYSTATUSEX = zeroed();
        status.dwLength = size_of::<MEMORYSTATUSEX>() as u32;
        if GlobalMemoryStatusEx(&mut status) == 0 {
            return Err(last_error(ErrorKind::Os, "memory_status", null_mut(), 0));
        }
        status
    };
    Ok(MemoryStatus {
        total_physical_bytes: status.ullTotalPhys,
        available_physical_bytes: status.ullAvailPhys,
        committed_bytes: Some(status.ullTotalPageFile.saturating_sub(status.ullAvailPageFile)),
        commit_limit_bytes: Some(status.ullTotalPageFile),
    })
}

pub(crate) fn resident_bytes() -> Result<usize> {
    // SAFETY: the counters struct is plain data with `cb` set; the pseudo-handle of the
    // current process needs no closing.
    unsafe {
        let mut counters: PROCESS_MEMORY_COUNTERS = zeroed();
        counters.cb = size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
        if K32GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, counters.cb) == 0 {
            return Err(last_error(ErrorKind::Os, "resident_bytes", null_mut(), 0));
        }
        Ok(counters.WorkingSetSize)
    }
}

/// The error for a failed `MEM_RESERVE` of `size` bytes anywhere: `OutOfAddressSpace`, the
/// kind callers retry smaller on, for every code that can mean "too large". Microsoft does
/// not document which one comes: a length past the user address space is refused as a bad
/// parameter (`ERROR_INVALID_PARAMETER`), one that fits no free range as
/// `ERROR_NOT_ENOUGH_MEMORY`; the other arguments are fixed and valid here.
fn reserve_error(operation: &'static str, code: u32, size: usize) -> Error {
    let (kind, detail) = match code {
        ERROR_INVALID_PARAMETER => (ErrorKind::OutOfAddressSpace, "the length is larger than this address space"),
        ERROR_NOT_ENOUGH_MEMORY | ERROR_OUTOFMEMORY => {
            (ErrorKind::OutOfAddressSpace, "no free range of address space is that large")
        }
        ERROR_COMMITMENT_LIMIT => {
            (ErrorKind::OutOfAddressSpace, "the system commit limit is reached (for the page tables)")
        }
        _ => (ErrorKind::Os, ""),
    };
    Error::from_os(kind, operation, code as i32).because(detail).sized(size)
}

/// # Safety
/// `size` is a non-zero multiple of the page size.
pub(crate) unsafe fn reserve(size: usize) -> Result<*mut u8> {
    // SAFETY: a null address lets the system choose free address space.
    let ptr = unsafe { VirtualAlloc(null(), size, MEM_RESERVE, PAGE_NOACCESS) };
    if ptr.is_null() {
        // SAFETY: reads the calling thread's last-error value.
        Err(reserve_error("reserve", unsafe { GetLastError() }, size))
    } else {
        Ok(ptr.cast())
    }
}

/// Reserves `size + align`, releases it, and reserves again at the aligned address inside;
/// another thread may take that address in between, so retry a few times.
///
/// # Safety
/// `size` is a non-zero multiple of the page size; `align` a power of two above the
/// allocation granularity.
pub(crate) unsafe fn reserve_aligned(size: usize, align: usize) -> Result<*mut u8> {
    let padded = size.checked_add(align).ok_or_else(|| {
        Error::new(ErrorKind::InvalidArgument, "reserve", "size plus alignment overflows usize").sized(size)
    })?;
    for _ in 0..16 {
        // SAFETY: as in `reserve`.
        let probe = unsafe { reserve(padded)? };
        let aligned = ((probe as usize + align - 1) & !(align - 1)) as *mut u8;
        // SAFETY: `probe` is the base of the reservation just made, released whole.
        unsafe { VirtualFree(probe.cast(), 0, MEM_RELEASE) };
        // SAFETY: asks for exactly the aligned range; fails harmlessly if it was taken.
        let ptr = unsafe { VirtualAlloc(aligned.cast::<c_void>(), size, MEM_RESERVE, PAGE_NOACCESS) };
        if ptr == aligned.cast() {
            return Ok(aligned);
        }
        if !ptr.is_null() {
            // SAFETY: an unexpected base; give it back and retry.
            unsafe { VirtualFree(ptr, 0, MEM_RELEASE) };
        }
    }
    Err(Error::new(ErrorKind::OutOfAddressSpace, "reserve", "no aligned free range stayed free long enough")
        .sized(size)
        .with_limit("alignment", align as u64))
}

/// # Safety
/// `ptr` is the base of a whole reservation no one uses any more.
pub(crate) unsafe fn release(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: MEM_RELEASE takes size 0 and the base of the reservation, which the caller gives.
    if unsafe { VirtualFree(ptr.cast(), 0, MEM_RELEASE) } == 0 {
        Err(last_error(ErrorKind::InvalidArgument, "release", ptr, size))
    } else {
        Ok(())
    }
}

/// # Safety
/// The range lies inside reservations owned by the caller.
pub(crate) unsafe fn commit(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: commits pages of the caller's reservation; committed pages keep their contents.
    if unsafe { VirtualAlloc(ptr.cast::<c_void>(), size, MEM_COMMIT, PAGE_READWRITE) }.is_null() {
        Err(last_error(ErrorKind::OutOfMemory, "commit", ptr, size))
    } else {
        Ok(())
    }
}

/// # Safety
/// The range lies inside one reservation owned by the caller and is no longer used.
pub(crate) unsafe fn decommit(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: decommits pages of the caller's reservation, which it no longer uses.
    if unsafe { VirtualFree(ptr.cast(), size, MEM_DECOMMIT) } == 0 {
        Err(last_error(ErrorKind::Os, "decommit", ptr, size))
    } else {
        Ok(())
    }
}

fn page_flags(protection: Protection) -> PAGE_PROTECTION_FLAGS {
    match protection {
        Protection::NoAccess => PAGE_NOACCESS,
        Protection::Read => PAGE_READONLY,
        Protection::ReadWrite => PAGE_READWRITE,
        Protection::Execute => PAGE_EXECUTE,
        Protection::ReadExecute => PAGE_EXECUTE_READ,
        Protection::ReadWriteExecute => PAGE_EXECUTE_READWRITE,
    }
}

/// The `Protection` of `PAGE_*` flags, ignoring the GUARD/NOCACHE/WRITECOMBINE modifiers.
fn protection_of(flags: PAGE_PROTECTION_FLAGS) -> Protection {
    match flags & 0xFF {
        PAGE_READONLY => Protection::Read,
        PAGE_READWRITE | PAGE_WRITECOPY => Protection::ReadWrite,
        PAGE_EXECUTE => Protection::Execute,
        PAGE_EXECUTE_READ => Protection::ReadExecute,
        PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY => Protection::ReadWriteExecute,
        _ => Protection::NoAccess,
    }
}

/// # Safety
/// The range lies inside committed pages of reservations owned by the caller.
pub(crate) unsafe fn protect(ptr: *mut u8, size: usize, protection: Protection) -> Result<()> {
    let mut old: PAGE_PROTECTION_FLAGS = 0;
    // SAFETY: changes the protection of the caller's pages; `old` is a valid out pointer.
    if unsafe { VirtualProtect(ptr.cast_const().cast(), size, page_flags(protection), &mut old) } == 0 {
        Err(last_error(ErrorKind::Os, "protect", ptr, size))
    } else {
        Ok(())
    }
}

/// # Safety
/// The range lies inside reservations owned by the caller.
pub(crate) unsafe fn lock(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: pins the caller's committed pages; fails for pages that are not committed.
    if unsafe { VirtualLock(ptr.cast_const().cast(), size) } != 0 {
        return Ok(());
    }
    // SAFETY: reads the calling thread's last-error value.
    let code = unsafe { GetLastError() };
    // VirtualLock documents that every page must be committed and not PAGE_NOACCESS, but
    // not the error otherwise: ERROR_NOACCESS (998) for such pages, ERROR_INVALID_ADDRESS
    // where the range leaves the reservation. The working-set minimum is the limit
    // (ERROR_WORKING_SET_QUOTA).
    Err(match code {
        ERROR_NOACCESS | ERROR_INVALID_ADDRESS => Error::from_os(ErrorKind::InvalidArgument, "lock", code as i32)
            .because("part of the range is not committed, or has no access")
            .at(ptr as usize, size),
        _ => classify(ErrorKind::OutOfMemory, "lock", code, ptr, size),
    })
}

/// Unlocking pages that are not locked succeeds, as the crate promises. `VirtualUnlock`
/// fails with `ERROR_NOT_LOCKED` when any page of the range is not locked, without saying
/// whether it unlocked the others, so then the pages are unlocked one by one, skipping those
/// that are not locked (or cannot be: not committed), once `VirtualQuery` shows the whole
/// range is allocated.
///
/// # Safety
/// The range lies inside reservations owned by the caller.
pub(crate) unsafe fn unlock(ptr: *mut u8, size: usize) -> Result<()> {
    /// Errors that, for pages inside a reservation, mean "nothing here is locked":
    /// `ERROR_NOT_LOCKED` is documented; reserved (uncommitted) pages, which cannot be
    /// locked, may be refused with another code (undocumented).
    fn not_locked(code: u32) -> bool {
        matches!(code, ERROR_NOT_LOCKED | ERROR_NOACCESS | ERROR_INVALID_ADDRESS | ERROR_INVALID_PARAMETER)
    }
    // SAFETY: unpins the caller's pages.
    if unsafe { VirtualUnlock(ptr.cast_const().cast(), size) } != 0 {
        return Ok(());
    }
    // SAFETY: reads the calling thread's last-error value.
    let code = unsafe { GetLastError() };
    if !not_locked(code) {
        return Err(classify(ErrorKind::Os, "unlock", code, ptr, size));
    }
    let mut runs = Vec::new();
    query(ptr, size, &mut runs)?;
    if let Some(free) = runs.iter().find(|run| run.state == PageState::Free) {
        return Err(Error::from_os(ErrorKind::InvalidArgument, "unlock", code as i32)
            .because("part of the range is not inside a reservation")
            .at(free.start, free.size));
    }
    let page = page_size();
    let mut offset = 0;
    while offset < size {
        let at = ptr.wrapping_add(offset);
        // SAFETY: one page of the caller's range.
        if unsafe { VirtualUnlock(at.cast_const().cast(), page) } == 0 {
            // SAFETY: reads the calling thread's last-error value.
            let code = unsafe { GetLastError() };
            if !not_locked(code) {
                return Err(classify(ErrorKind::Os, "unlock", code, at, page));
            }
        }
        offset += page;
    }
    Ok(())
}

pub(crate) fn query(ptr: *mut u8, size: usize, out: &mut Vec<RegionInfo>) -> Result<()> {
    let end = ptr as usize + size;
    let mut cursor = ptr as usize;
    while cursor < end {
        // SAFETY: MEMORY_BASIC_INFORMATION is plain data; VirtualQuery only reads the
        // address-space map and writes `info`, a valid out buffer of the size given.
        let (written, info) = unsafe {
            let mut info: MEMORY_BASIC_INFORMATION = zeroed();
            let written = VirtualQuery(cursor as *const c_void, &mut info, size_of::<MEMORY_BASIC_INFORMATION>());
            (written, info)
        };
        let (state, protection, run_end) = if written == 0 {
            // Past the highest user address: the rest is free.
            (PageState::Free, Protection::NoAccess, end)
        } else {
            let run_end = (info.BaseAddress as usize).saturating_add(info.RegionSize).min(end);
            match info.State {
                MEM_COMMIT => (PageState::Committed, protection_of(info.Protect), run_end),
                MEM_FREE => (PageState::Free, Protection::NoAccess, run_end),
                _ => (PageState::Reserved, Protection::NoAccess, run_end),
            }
        };
        if run_end <= cursor {
            break;
        }
        match out.last_mut() {
            Some(last) if last.state == state && last.protection == protection && last.end() == cursor => {
                last.size += run_end - cursor;
            }
            _ => {
                out.try_reserve(1)
                    .map_err(|_| Error::new(ErrorKind::OutOfMemory, "query", "no heap memory for the result"))?;
                out.push(RegionInfo { start: cursor, size: run_end - cursor, state, protection });
            }
        }
        cursor = run_end;
    }
    Ok(())
}

/// # Safety
/// The range is committed, writable and owned by the caller.
pub(crate) unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the caller promises committed, writable memory.
    unsafe { super::touch_pages(ptr, size) };
    Ok(())
}

/// # Safety
/// The range lies inside reservations owned by the caller.
pub(crate) unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) -> Result<()> {
    Err(Error::new(
        ErrorKind::Unsupported,
        "advise_huge_pages",
        "Windows has no transparent huge pages; large pages must be requested when reserving",
    )
    .at(ptr as usize, size))
}

#[cfg(feature = "std")]
pub(crate) use ring::{ring_map, ring_unmap};

/// The double mapping for the ring buffer: placeholders (Windows 10 1803+).
///
/// `VirtualAlloc2` and `MapViewOfFile3` are looked up at run time (`GetProcAddress` in
/// `kernelbase.dll`, then `kernel32.dll`), not imported: an import the loader cannot resolve
/// would stop every program using this crate (and `libvmem`) from starting on older Windows.
/// Where they are missing, `ring_map` returns `Unsupported`.
#[cfg(feature = "std")]
mod ring {
    use super::*;
    use std::sync::OnceLock;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    use windows_sys::Win32::System::Memory::{
        CreateFileMappingW, UnmapViewOfFile, MEMORY_MAPPED_VIEW_ADDRESS, MEM_EXTENDED_PARAMETER,
        MEM_PRESERVE_PLACEHOLDER, MEM_REPLACE_PLACEHOLDER, MEM_RESERVE_PLACEHOLDER, VIRTUAL_ALLOCATION_TYPE,
    };

    /// `VirtualAlloc2`, as memoryapi.h (and windows-sys) declare it.
    type VirtualAlloc2Fn = unsafe extern "system" fn(
        HANDLE,
        *const c_void,
        usize,
        VIRTUAL_ALLOCATION_TYPE,
        u32,
        *mut MEM_EXTENDED_PARAMETER,
        u32,
    ) -> *mut c_void;

    /// `MapViewOfFile3`, as memoryapi.h (and windows-sys) declare it.
    type MapViewOfFile3Fn = unsafe extern "system" fn(
        HANDLE,
        HANDLE,
        *const c_void,
        u64,
        usize,
        VIRTUAL_ALLOCATION_TYPE,
        u32,
        *mut MEM_EXTENDED_PARAMETER,
        u32,
    ) -> MEMORY_MAPPED_VIEW_ADDRESS;

    /// The placeholder functions, found once per process.
    #[derive(Clone, Copy)]
    struct Placeholders {
        virtual_alloc2: VirtualAlloc2Fn,
        map_view_of_file3: MapViewOfFile3Fn,
    }

    fn find_placeholders() -> Option<Placeholders> {
        for module in [windows_sys::w!("kernelbase.dll"), windows_sys::w!("kernel32.dll")] {
            // SAFETY: `module` is a NUL-terminated UTF-16 name. Both modules are loaded in every
            // Win32 process, and GetModuleHandleW takes no reference that would need releasing.
            let handle = unsafe { GetModuleHandleW(module) };
            if handle.is_null() {
                continue;
            }
            // SAFETY: `handle` is a loaded module; the names are NUL-terminated.
            let (alloc, map) = unsafe {
                (
                    GetProcAddress(handle, c"VirtualAlloc2".as_ptr().cast()),
                    GetProcAddress(handle, c"MapViewOfFile3".as_ptr().cast()),
                )
            };
            if let (Some(alloc), Some(map)) = (alloc, map) {
                // SAFETY: the exports named so have exactly these signatures (memoryapi.h);
                // a function pointer is transmuted to another function pointer type.
                return Some(unsafe {
                    Placeholders {
                        virtual_alloc2: core::mem::transmute::<unsafe extern "system" fn() -> isize, VirtualAlloc2Fn>(
                            alloc,
                        ),
                        map_view_of_file3: core::mem::transmute::<unsafe extern "system" fn() -> isize, MapViewOfFile3Fn>(
                            map,
                        ),
                    }
                });
            }
        }
        None
    }

    fn placeholders() -> Option<Placeholders> {
        static FOUND: OnceLock<Option<Placeholders>> = OnceLock::new();
        *FOUND.get_or_init(find_placeholders)
    }

    /// Reserves a `2 * size` placeholder, splits it in two, and maps one pagefile-backed
    /// section of `size` bytes into both halves.
    pub(crate) fn ring_map(size: usize) -> Result<*mut u8> {
        let fail = |kind| last_error(kind, "ring_map", null_mut(), size);
        let total = size.checked_mul(2).ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, "ring_map", "twice the size overflows usize").sized(size)
        })?;
        let Some(api) = placeholders() else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "ring_map",
                "VirtualAlloc2 and MapViewOfFile3 are missing: the ring buffer needs Windows 10 version 1803 or later",
            )
            .sized(size));
        };
        // SAFETY: each step works on the placeholder made here; every failure path undoes
        // what was done before it. `api` holds the real VirtualAlloc2 and MapViewOfFile3.
        unsafe {
            let process = GetCurrentProcess();
            let base = (api.virtual_alloc2)(
                process,
                null(),
                total,
                MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                PAGE_NOACCESS,
                null_mut(),
                0,
            );
            if base.is_null() {
                return Err(reserve_error("ring_map", GetLastError(), size));
            }
            // Split the placeholder into two halves.
            if VirtualFree(base, size, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) == 0 {
                let err = fail(ErrorKind::Os);
                VirtualFree(base, 0, MEM_RELEASE);
                return Err(err);
            }
            let second = base.cast::<u8>().add(size).cast::<c_void>();
            let section = CreateFileMappingW(
                INVALID_HANDLE_VALUE,
                null(),
                PAGE_READWRITE,
                ((size as u64) >> 32) as u32,
                size as u32,
                null(),
            );
            if section.is_null() {
                let err = fail(ErrorKind::OutOfMemory);
                VirtualFree(base, 0, MEM_RELEASE);
                VirtualFree(second, 0, MEM_RELEASE);
                return Err(err);
            }
            let map = |at: *mut c_void| {
                (api.map_view_of_file3)(
                    section,
                    process,
                    at,
                    0,
                    size,
                    MEM_REPLACE_PLACEHOLDER,
                    PAGE_READWRITE,
                    null_mut(),
                    0,
                )
            };
            let first_view = map(base);
            if first_view.Value.is_null() {
                let err = fail(ErrorKind::OutOfMemory);
                CloseHandle(section);
                VirtualFree(base, 0, MEM_RELEASE);
                VirtualFree(second, 0, MEM_RELEASE);
                return Err(err);
            }
            let second_view = map(second);
            if second_view.Value.is_null() {
                let err = fail(ErrorKind::OutOfMemory);
                UnmapViewOfFile(first_view);
                CloseHandle(section);
                VirtualFree(second, 0, MEM_RELEASE);
                return Err(err);
            }
            // The views keep the section alive.
            CloseHandle(section);
            Ok(base.cast())
        }
    }

    /// # Safety
    /// `ptr` came from `ring_map(size)` and nothing uses the views any more.
    pub(crate) unsafe fn ring_unmap(ptr: *mut u8, size: usize) -> Result<()> {
        // SAFETY: unmaps the two views `ring_map` made.
        unsafe {
            let first = UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: ptr.cast() });
            let second = UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: ptr.add(size).cast() });
            if first == 0 || second == 0 {
                return Err(last_error(ErrorKind::Os, "ring_unmap", ptr, size));
            }
        }
        Ok(())
    }
}
