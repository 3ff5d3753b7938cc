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
    GetLargePageMinimum, PrefetchVirtualMemory, VirtualAlloc, VirtualFree, VirtualLock, VirtualProtect, VirtualQuery,
    VirtualUnlock, MEMORY_BASIC_INFORMATION, MEM_COMMIT, MEM_DECOMMIT, MEM_FREE, MEM_RELEASE, MEM_RESERVE, MEM_RESET,
    PAGE_EXECUTE,
    PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, PAGE_EXECUTE_WRITECOPY, PAGE_NOACCESS, PAGE_PROTECTION_FLAGS,
    PAGE_READONLY, PAGE_READWRITE, PAGE_WRITECOPY, WIN32_MEMORY_RANGE_ENTRY,
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

/// Peak working set and commit charge (`PagefileUsage`) of this process.
pub(crate) fn process_figures() -> super::ProcessFigures {
    // SAFETY: as in `resident_bytes`.
    unsafe {
        let mut counters: PROCESS_MEMORY_COUNTERS = zeroed();
        counters.cb = size_of::<PROCESS_MEMORY_COUNTERS>() as u32;
        if K32GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, counters.cb) == 0 {
            return super::ProcessFigures::default();
        }
        super::ProcessFigures {
            peak_resident: Some(counters.PeakWorkingSetSize),
            mapped: None,
            private: Some(counters.PagefileUsage),
            locked: None,
        }
    }
}

pub(crate) fn reset_peak_resident() -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "reset_peak_resident", "Windows cannot restart the peak working set"))
}

/// What Windows says: the highest address a program can map.
pub(crate) fn system_memory() -> Result<crate::SystemMemory> {
    let info = system_info();
    let top = info.lpMaximumApplicationAddress as u64;
    Ok(crate::SystemMemory {
        transparent_huge_pages: None,
        huge_page_sizes: Vec::new(),
        overcommit: None,
        user_address_space_bytes: top.checked_add(1),
        cpu_virtual_address_bits: None,
    })
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

/// Reserves exactly `[address, address + size)` (`VirtualAlloc` at that address fails
/// instead of going elsewhere).
///
/// # Safety
/// `size` is a non-zero multiple of the page size; `address` is aligned to the allocation
/// granularity and non-null.
pub(crate) unsafe fn reserve_at(address: usize, size: usize) -> Result<*mut u8> {
    // SAFETY: MEM_RESERVE at a given address maps only free address space, or fails.
    let ptr = unsafe { VirtualAlloc(address as *const c_void, size, MEM_RESERVE, PAGE_NOACCESS) };
    if ptr.is_null() {
        // SAFETY: reads the calling thread's last-error value.
        let code = unsafe { GetLastError() };
        Err(Error::from_os(ErrorKind::OutOfAddressSpace, "reserve_at", code as i32)
            .because("the range is not free address space")
            .at(address, size))
    } else if ptr as usize != address {
        // SAFETY: the reservation was made just now and nothing refers to it.
        unsafe { VirtualFree(ptr, 0, MEM_RELEASE) };
        Err(Error::new(ErrorKind::OutOfAddressSpace, "reserve_at", "the system placed it elsewhere").at(address, size))
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
        crate::raw::query::push_run(out, cursor, run_end, state, protection)?;
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

/// `Free` is `MEM_RESET` (the pages stay committed; their contents may be dropped);
/// `WillNeed` is `PrefetchVirtualMemory`; the other access-pattern hints have no Windows
/// equivalent and are accepted and ignored; the rest are `Unsupported`.
///
/// # Safety
/// The range lies inside reservations owned by the caller, who no longer relies on the
/// contents for `Free`.
pub(crate) unsafe fn advise(ptr: *mut u8, size: usize, advice: crate::Advice) -> Result<()> {
    use crate::Advice as A;
    match advice {
        A::Free => {
            // SAFETY: MEM_RESET changes only whether the pages' contents are kept; the
            // protection argument is ignored for it.
            let done = unsafe { VirtualAlloc(ptr.cast(), size, MEM_RESET, PAGE_NOACCESS) };
            if done.is_null() {
                return Err(last_error(ErrorKind::InvalidArgument, "advise", ptr, size));
            }
            Ok(())
        }
        A::WillNeed => {
            let entry = WIN32_MEMORY_RANGE_ENTRY { VirtualAddress: ptr.cast(), NumberOfBytes: size };
            // SAFETY: one range entry of our own process; a prefetch only reads pages in. A
            // failure is harmless (a hint), so it is ignored.
            unsafe { PrefetchVirtualMemory(GetCurrentProcess(), 1, &entry, 0) };
            Ok(())
        }
        A::Normal | A::Sequential | A::Random => Ok(()),
        _ => Err(Error::new(ErrorKind::Unsupported, "advise", "Windows has no such advice").at(ptr as usize, size)),
    }
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

// ---- mapped files and shared memory ----
// Only on Windows itself: this code needs `std::os::windows`, so `--cfg vmem_check_windows`
// type-checks the rest of the backend and uses `stub_files.rs` in its place.
#[cfg(windows)]
pub(crate) use files::*;

#[cfg(windows)]
mod files {
    use super::*;

    //
    // A mapped file lives in a placeholder (`VirtualAlloc2` with `MEM_RESERVE_PLACEHOLDER`,
    // Windows 10 1803+) of `max_size` bytes. Its front holds one view of the file
    // (`MapViewOfFile3` with `MEM_REPLACE_PLACEHOLDER`); a change of length unmaps that view
    // keeping the placeholder (`UnmapViewOfFile2` with `MEM_PRESERVE_PLACEHOLDER`), joins the
    // placeholder back into one (`MEM_COALESCE_PLACEHOLDERS`), splits off the new length
    // (`MEM_PRESERVE_PLACEHOLDER`) and maps a view of a new section of the new length there.
    // The address never changes, and the address space never becomes free in between, so no
    // other allocation can land in it. (Windows views start at multiples of the 64 KiB
    // allocation granularity in the file, so mapping only the new tail, as Unix does, would not
    // work for lengths that are not multiples of it.)
    //
    // `VirtualAlloc2` and `MapViewOfFile3` are looked up in kernelbase.dll at run time, so that
    // the library still loads on Windows versions without them (and reports `Unsupported`).

    #[cfg(feature = "std")]
    pub(crate) use mapped::{
        file_extend, file_len, file_lock, file_set_len, flush_file, map_release, map_reserve, remap_file,
    };
    #[cfg(feature = "std")]
    pub(crate) use shared::{
        ipc_map, ipc_unmap, process_alive, shared_create, shared_extend, shared_len, shared_map, shared_remap,
        shared_unmap, SharedMemory,
    };

    #[cfg(feature = "std")]
    mod mapped {
        use super::*;
        use crate::raw::page::page_round_up;
        use core::sync::atomic::{AtomicUsize, Ordering};
        use std::os::windows::io::AsRawHandle;
        use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
        use windows_sys::Win32::Storage::FileSystem::FlushFileBuffers;
        use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
        use windows_sys::Win32::System::Memory::{
            CreateFileMappingW, FlushViewOfFile, UnmapViewOfFile2, MEMORY_MAPPED_VIEW_ADDRESS, MEM_EXTENDED_PARAMETER,
            MEM_PRESERVE_PLACEHOLDER, MEM_REPLACE_PLACEHOLDER, MEM_RESERVE_PLACEHOLDER,
        };

        /// `MEM_COALESCE_PLACEHOLDERS` (winnt.h; windows-sys does not define it).
        const MEM_COALESCE_PLACEHOLDERS: u32 = 0x0000_0001;

        pub(super) type VirtualAlloc2Fn = unsafe extern "system" fn(
            HANDLE,
            *const c_void,
            usize,
            u32,
            u32,
            *mut MEM_EXTENDED_PARAMETER,
            u32,
        ) -> *mut c_void;
        pub(super) type MapViewOfFile3Fn = unsafe extern "system" fn(
            HANDLE,
            HANDLE,
            *const c_void,
            u64,
            usize,
            u32,
            u32,
            *mut MEM_EXTENDED_PARAMETER,
            u32,
        ) -> MEMORY_MAPPED_VIEW_ADDRESS;

        /// A function of kernelbase.dll looked up once: 0 not yet looked up, 1 missing.
        struct Resolved(AtomicUsize);

        impl Resolved {
            const fn new() -> Self {
                Resolved(AtomicUsize::new(0))
            }

            /// The address of `name` (NUL-terminated) in kernelbase.dll, if it exists.
            fn get(&self, name: &'static [u8]) -> Option<usize> {
                match self.0.load(Ordering::Acquire) {
                    0 => {}
                    1 => return None,
                    address => return Some(address),
                }
                let module_name: [u16; 15] = {
                    let text = b"kernelbase.dll\0";
                    let mut wide = [0u16; 15];
                    let mut i = 0;
                    while i < text.len() {
                        wide[i] = text[i] as u16;
                        i += 1;
                    }
                    wide
                };
                // SAFETY: the name is NUL-terminated UTF-16; kernelbase.dll is loaded in every
                // process since Windows 7 and never unloaded, so the handle needs no release.
                let module = unsafe { GetModuleHandleW(module_name.as_ptr()) };
                let address = if module.is_null() {
                    None
                } else {
                    // SAFETY: `name` is NUL-terminated ASCII; the module handle is valid.
                    unsafe { GetProcAddress(module, name.as_ptr()) }.map(|f| f as usize)
                };
                self.0.store(address.unwrap_or(1), Ordering::Release);
                address
            }
        }

        static VIRTUAL_ALLOC2: Resolved = Resolved::new();
        static MAP_VIEW_OF_FILE3: Resolved = Resolved::new();

        fn missing(operation: &'static str) -> Error {
            Error::new(ErrorKind::Unsupported, operation, "VirtualAlloc2/MapViewOfFile3 need Windows 10 1803 or later")
        }

        pub(super) fn virtual_alloc2(operation: &'static str) -> Result<VirtualAlloc2Fn> {
            let address = VIRTUAL_ALLOC2.get(b"VirtualAlloc2\0").ok_or_else(|| missing(operation))?;
            // SAFETY: the address is kernelbase's `VirtualAlloc2`, whose signature this is.
            Ok(unsafe { core::mem::transmute::<usize, VirtualAlloc2Fn>(address) })
        }

        pub(super) fn map_view_of_file3(operation: &'static str) -> Result<MapViewOfFile3Fn> {
            let address = MAP_VIEW_OF_FILE3.get(b"MapViewOfFile3\0").ok_or_else(|| missing(operation))?;
            // SAFETY: the address is kernelbase's `MapViewOfFile3`, whose signature this is.
            Ok(unsafe { core::mem::transmute::<usize, MapViewOfFile3Fn>(address) })
        }

        /// # Safety
        /// `size` is a non-zero multiple of the page size.
        pub(crate) unsafe fn map_reserve(size: usize) -> Result<*mut u8> {
            let alloc = virtual_alloc2("map_reserve")?;
            // SAFETY: a null address lets the system choose; a placeholder is address space only.
            let base = unsafe {
                alloc(
                    GetCurrentProcess(),
                    null(),
                    size,
                    MEM_RESERVE | MEM_RESERVE_PLACEHOLDER,
                    PAGE_NOACCESS,
                    null_mut(),
                    0,
                )
            };
            if base.is_null() {
                Err(last_error(ErrorKind::OutOfAddressSpace, "map_reserve", null_mut(), size))
            } else {
                Ok(base.cast())
            }
        }

        /// Unmaps the view at `base` (if `len > 0`), keeping its placeholder, and joins the
        /// placeholders of `[base, base + size)` back into one.
        ///
        /// # Safety
        /// As `remap_file`.
        unsafe fn unmap_view(base: *mut u8, size: usize, len: usize) -> Result<()> {
            if len == 0 {
                return Ok(());
            }
            // SAFETY: the view at `base` is ours and unused (the caller's promise).
            let unmapped = unsafe {
                UnmapViewOfFile2(
                    GetCurrentProcess(),
                    MEMORY_MAPPED_VIEW_ADDRESS { Value: base.cast() },
                    MEM_PRESERVE_PLACEHOLDER,
                )
            };
            if unmapped == 0 {
                return Err(last_error(ErrorKind::Os, "map_file", base, len));
            }
            if page_round_up(len) < size {
                // SAFETY: `[base, base + size)` is now two adjacent placeholders of ours.
                if unsafe { VirtualFree(base.cast(), size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS) } == 0 {
                    return Err(last_error(ErrorKind::Os, "map_file", base, size));
                }
            }
            Ok(())
        }

        /// Maps a view of `file`'s bytes `[0, len)` into the whole placeholder at `base` (split
        /// off the rest of `size` first).
        ///
        /// # Safety
        /// `[base, base + size)` is one placeholder of ours; the file is at least `len` long.
        unsafe fn map_view(base: *mut u8, size: usize, len: usize, file: &std::fs::File, writable: bool) -> Result<()> {
            let map = map_view_of_file3("map_file")?;
            let pages = page_round_up(len);
            if pages < size {
                // SAFETY: splits our placeholder at a page boundary inside it.
                if unsafe { VirtualFree(base.cast(), pages, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) } == 0 {
                    return Err(last_error(ErrorKind::Os, "map_file", base, len));
                }
            }
            let protect = if writable { PAGE_READWRITE } else { PAGE_READONLY };
            let rejoin = || {
                if pages < size {
                    // SAFETY: joins the two placeholders split above.
                    unsafe { VirtualFree(base.cast(), size, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS) };
                }
            };
            // SAFETY: the handle is the file's, open while `file` lives; a section of exactly
            // `len` bytes never extends the file, which is at least that long.
            let section = unsafe {
                CreateFileMappingW(
                    file.as_raw_handle() as HANDLE,
                    null(),
                    protect,
                    ((len as u64) >> 32) as u32,
                    len as u32,
                    null(),
                )
            };
            if section.is_null() {
                let err = last_error(ErrorKind::Os, "map_file", base, len);
                rejoin();
                return Err(err);
            }
            // SAFETY: maps the section over our placeholder of `pages` bytes, replacing it.
            let view = unsafe {
                map(section, GetCurrentProcess(), base.cast(), 0, len, MEM_REPLACE_PLACEHOLDER, protect, null_mut(), 0)
            };
            let err = last_error(ErrorKind::Os, "map_file", base, len);
            // SAFETY: the view (if any) keeps the section alive; the handle is no longer needed.
            unsafe { CloseHandle(section) };
            if view.Value.is_null() {
                rejoin();
                return Err(err);
            }
            Ok(())
        }

        /// # Safety
        /// `base` came from `map_reserve(size)`, `len <= size`; the view at `base` (if
        /// `old_len > 0`) shows `[0, old_len)` of `file`; the file is at least `len` long; nothing
        /// uses the mapping during the call.
        pub(crate) unsafe fn remap_file(
            base: *mut u8,
            size: usize,
            old_len: usize,
            len: usize,
            file: &std::fs::File,
            writable: bool,
        ) -> Result<()> {
            // Look both functions up before unmapping anything.
            map_view_of_file3("map_file")?;
            // SAFETY: forwarded from the caller.
            unsafe { unmap_view(base, size, old_len)? };
            if len == 0 {
                return Ok(());
            }
            // SAFETY: the placeholder is whole again; forwarded from the caller.
            match unsafe { map_view(base, size, len, file, writable) } {
                Ok(()) => Ok(()),
                Err(err) => {
                    // Put the old view back, so that the mapping is as it was.
                    if old_len > 0 {
                        // SAFETY: as above; the file is still at least `old_len` long.
                        let _ = unsafe { map_view(base, size, old_len, file, writable) };
                    }
                    Err(err)
                }
            }
        }

        /// # Safety
        /// `base` came from `map_reserve(size)`; the view at `base` shows `[0, len)`; nothing
        /// uses the range any more.
        pub(crate) unsafe fn map_release(base: *mut u8, size: usize, len: usize) -> Result<()> {
            // SAFETY: forwarded from the caller.
            unsafe { unmap_view(base, size, len)? };
            // SAFETY: the whole placeholder is ours.
            if unsafe { VirtualFree(base.cast(), 0, MEM_RELEASE) } == 0 {
                return Err(last_error(ErrorKind::Os, "map_release", base, size));
            }
            Ok(())
        }

        /// # Safety
        /// The range lies in a view made by `remap_file`.
        pub(crate) unsafe fn flush_file(ptr: *mut u8, size: usize, file: &std::fs::File, wait: bool) -> Result<()> {
            // SAFETY: flushing only writes pages back.
            if unsafe { FlushViewOfFile(ptr.cast_const().cast(), size) } == 0 {
                return Err(last_error(ErrorKind::Os, "flush", ptr, size));
            }
            // SAFETY: the handle is the file's, open while `file` lives.
            if wait && unsafe { FlushFileBuffers(file.as_raw_handle() as HANDLE) } == 0 {
                return Err(last_error(ErrorKind::Os, "flush", ptr, size));
            }
            Ok(())
        }

        fn io_error(operation: &'static str, err: &std::io::Error, len: u64) -> Error {
            let size = usize::try_from(len).unwrap_or(usize::MAX);
            match err.raw_os_error() {
                // ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL
                Some(code @ (112 | 39)) => Error::from_os(ErrorKind::OutOfMemory, operation, code)
                    .sized(size)
                    .because("no space left on the disk"),
                Some(code) => classify(ErrorKind::Os, operation, code as u32, null_mut(), size),
                None => Error::new(ErrorKind::Os, operation, "the file length could not be changed").sized(size),
            }
        }

        pub(crate) fn file_set_len(file: &std::fs::File, len: u64) -> Result<()> {
            file.set_len(len).map_err(|e| io_error("set_len", &e, len))
        }

        /// NTFS allocates the clusters when the end of file moves (files are not sparse unless
        /// marked so), so a full disk is this call's error.
        pub(crate) fn file_extend(file: &std::fs::File, old: u64, new: u64) -> Result<()> {
            file_set_len(file, new).inspect_err(|_| {
                let _ = file.set_len(old);
            })
        }

        pub(crate) fn file_len(file: &std::fs::File) -> Result<u64> {
            file.metadata().map(|m| m.len()).map_err(|e| io_error("file_len", &e, 0))
        }

        /// An exclusive lock on the file's first byte (`LockFileEx` with
        /// `LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY`), held until the handle closes.
        /// Byte-range locks restrict `ReadFile`/`WriteFile` from other handles, not mapped views.
        pub(crate) fn file_lock(file: &std::fs::File) -> Result<()> {
            use windows_sys::Win32::Storage::FileSystem::{
                LockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
            };
            use windows_sys::Win32::System::IO::OVERLAPPED;
            // SAFETY: OVERLAPPED is plain data (offset 0); the handle is the file's.
            let locked = unsafe {
                let mut overlapped: OVERLAPPED = zeroed();
                LockFileEx(
                    file.as_raw_handle() as HANDLE,
                    LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
                    0,
                    1,
                    0,
                    &mut overlapped,
                )
            };
            if locked == 0 {
                return Err(last_error(ErrorKind::PermissionDenied, "lock_file", null_mut(), 0)
                    .because("the file is locked by another user (another FileVec, in this or another process)"));
            }
            Ok(())
        }
    }

    /// Shared memory: a pagefile-backed section made with `SEC_RESERVE` at its full maximum size,
    /// so its pages are reserved, not committed. Every process maps a view of the whole section
    /// (address space only) and commits the pages it uses with `VirtualAlloc(MEM_COMMIT)`, which
    /// commits them in the section: growing is committing more, in place, in every view.
    #[cfg(feature = "std")]
    mod shared {
        use super::*;
        use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};
        use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};
        use windows_sys::Win32::System::Memory::{
            CreateFileMappingW, MapViewOfFile, UnmapViewOfFile, FILE_MAP_READ, FILE_MAP_WRITE,
            MEMORY_MAPPED_VIEW_ADDRESS, MEM_PRESERVE_PLACEHOLDER, MEM_REPLACE_PLACEHOLDER, MEM_RESERVE_PLACEHOLDER,
            SEC_RESERVE,
        };

        /// The section's handle.
        #[derive(Debug)]
        pub(crate) struct SharedMemory(OwnedHandle);

        impl From<OwnedHandle> for SharedMemory {
            fn from(handle: OwnedHandle) -> Self {
                SharedMemory(handle)
            }
        }

        impl AsHandle for SharedMemory {
            fn as_handle(&self) -> BorrowedHandle<'_> {
                self.0.as_handle()
            }
        }

        pub(crate) fn shared_create(total: usize) -> Result<SharedMemory> {
            // SAFETY: a pagefile-backed section (no file handle) of `total` reserved bytes.
            let section = unsafe {
                CreateFileMappingW(
                    INVALID_HANDLE_VALUE,
                    null(),
                    PAGE_READWRITE | SEC_RESERVE,
                    ((total as u64) >> 32) as u32,
                    total as u32,
                    null(),
                )
            };
            if section.is_null() {
                return Err(last_error(ErrorKind::OutOfMemory, "SharedRegion::create", null_mut(), total));
            }
            // SAFETY: the handle was just created and is owned by nothing else.
            Ok(SharedMemory(unsafe { OwnedHandle::from_raw_handle(section as _) }))
        }

        /// Committing happens in `shared_remap`: nothing to do here.
        pub(crate) fn shared_extend(_memory: &SharedMemory, _old: u64, _new: u64) -> Result<()> {
            Ok(())
        }

        /// A section does not say how much of it is committed; committing more in `shared_remap`
        /// is what makes pages exist, so there is no size to check against.
        pub(crate) fn shared_len(_memory: &SharedMemory) -> Result<Option<u64>> {
            Ok(None)
        }

        fn commit_view(base: *mut u8, len: usize) -> Result<()> {
            let page = page_size();
            let size = len.div_ceil(page) * page;
            // SAFETY: commits pages of our own view of the section; committed pages keep their
            // contents, fresh ones read zero.
            if unsafe { VirtualAlloc(base.cast::<c_void>(), size, MEM_COMMIT, PAGE_READWRITE) }.is_null() {
                return Err(last_error(ErrorKind::OutOfMemory, "SharedRegion::grow", base, size));
            }
            Ok(())
        }

        /// # Safety
        /// `total` is at most the section's size; `0 < len <= total`.
        pub(crate) unsafe fn shared_map(memory: &SharedMemory, total: usize, len: usize) -> Result<*mut u8> {
            // SAFETY: maps `total` bytes of the section; its pages stay reserved until committed.
            let view = unsafe {
                MapViewOfFile(memory.0.as_raw_handle() as HANDLE, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, total)
            };
            if view.Value.is_null() {
                return Err(last_error(ErrorKind::OutOfAddressSpace, "SharedRegion::map", null_mut(), total));
            }
            let base = view.Value.cast::<u8>();
            if let Err(err) = commit_view(base, len) {
                // SAFETY: the view just made, unused.
                unsafe { UnmapViewOfFile(view) };
                return Err(err);
            }
            Ok(base)
        }

        /// # Safety
        /// `base` came from `shared_map(_, total, _)` and `new_len <= total`.
        pub(crate) unsafe fn shared_remap(
            base: *mut u8,
            _total: usize,
            _old_len: usize,
            new_len: usize,
            _memory: &SharedMemory,
        ) -> Result<()> {
            commit_view(base, new_len)
        }

        /// # Safety
        /// `base` came from `shared_map` and nothing uses it any more.
        pub(crate) unsafe fn shared_unmap(base: *mut u8, total: usize, _len: usize) -> Result<()> {
            // SAFETY: the view is ours and unused.
            if unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: base.cast() }) } == 0 {
                return Err(last_error(ErrorKind::Os, "SharedRegion::unmap", base, total));
            }
            Ok(())
        }

        /// Maps the IPC ring's section: `header` bytes, then `capacity` data bytes twice, back to
        /// back, into a placeholder split in three; each view is committed (`SEC_RESERVE`).
        ///
        /// # Safety
        /// `header` and `capacity` are non-zero multiples of the allocation granularity whose sum
        /// with another `capacity` does not overflow; the section holds `header + capacity` bytes.
        pub(crate) unsafe fn ipc_map(memory: &SharedMemory, header: usize, capacity: usize) -> Result<*mut u8> {
            let alloc = super::mapped::virtual_alloc2("IpcRing::map")?;
            let map = super::mapped::map_view_of_file3("IpcRing::map")?;
            let total = header + 2 * capacity;
            // SAFETY: every step works on the placeholder made here; every failure path undoes
            // what was done before it.
            unsafe {
                let process = GetCurrentProcess();
                let base =
                    alloc(process, null(), total, MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS, null_mut(), 0)
                        .cast::<u8>();
                if base.is_null() {
                    return Err(last_error(ErrorKind::OutOfAddressSpace, "IpcRing::map", null_mut(), total));
                }
                let pieces = [
                    (base, header, 0u64),
                    (base.add(header), capacity, header as u64),
                    (base.add(header + capacity), capacity, header as u64),
                ];
                // Split the placeholder into the three pieces.
                for &(at, size, _) in &pieces[..2] {
                    if VirtualFree(at.cast(), size, MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) == 0 {
                        let err = last_error(ErrorKind::Os, "IpcRing::map", at, size);
                        release_pieces(&pieces, 0);
                        return Err(err);
                    }
                }
                for (index, &(at, size, offset)) in pieces.iter().enumerate() {
                    let view = map(
                        memory.0.as_raw_handle() as HANDLE,
                        process,
                        at.cast(),
                        offset,
                        size,
                        MEM_REPLACE_PLACEHOLDER,
                        PAGE_READWRITE,
                        null_mut(),
                        0,
                    );
                    if view.Value.is_null()
                        || VirtualAlloc(at.cast::<c_void>(), size, MEM_COMMIT, PAGE_READWRITE).is_null()
                    {
                        let err = last_error(ErrorKind::OutOfMemory, "IpcRing::map", at, size);
                        let mapped = if view.Value.is_null() { index } else { index + 1 };
                        release_pieces(&pieces, mapped);
                        return Err(err);
                    }
                }
                Ok(base)
            }
        }

        /// Unmaps the first `mapped` pieces (views) and releases the other placeholders.
        ///
        /// # Safety
        /// The pieces are ours: views for the first `mapped`, placeholders for the rest.
        unsafe fn release_pieces(pieces: &[(*mut u8, usize, u64); 3], mapped: usize) {
            for (index, &(at, _, _)) in pieces.iter().enumerate() {
                // SAFETY: each piece is ours and unused.
                unsafe {
                    if index < mapped {
                        UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: at.cast() });
                    } else {
                        VirtualFree(at.cast(), 0, MEM_RELEASE);
                    }
                }
            }
        }

        /// # Safety
        /// `base` came from `ipc_map(_, header, capacity)` and nothing uses it any more.
        pub(crate) unsafe fn ipc_unmap(base: *mut u8, header: usize, capacity: usize) -> Result<()> {
            let pieces = [
                (base, header, 0),
                (base.wrapping_add(header), capacity, 0),
                (base.wrapping_add(header + capacity), capacity, 0),
            ];
            // SAFETY: the three views `ipc_map` made.
            unsafe { release_pieces(&pieces, 3) };
            Ok(())
        }

        /// Whether process `pid` is still running (`GetExitCodeProcess` says `STILL_ACTIVE`).
        pub(crate) fn process_alive(pid: u32) -> bool {
            use windows_sys::Win32::System::Threading::{
                GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
            };
            const STILL_ACTIVE: u32 = 259;
            // SAFETY: opens a handle for querying only, closed below.
            let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
            if process.is_null() {
                // No such process (ERROR_INVALID_PARAMETER); anything else (access denied): alive.
                // SAFETY: reads the thread's last error.
                return unsafe { GetLastError() } != ERROR_INVALID_PARAMETER;
            }
            let mut code = 0u32;
            // SAFETY: `process` is a valid handle; `code` a valid out pointer.
            let ok = unsafe { GetExitCodeProcess(process, &mut code) };
            // SAFETY: the handle opened above.
            unsafe { CloseHandle(process) };
            ok == 0 || code == STILL_ACTIVE
        }
    }
}
