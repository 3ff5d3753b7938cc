//! What every Unix shares: `mmap`, `mprotect`, `munmap`, `mlock` through rustix.
//!
//! A reservation is a private anonymous `PROT_NONE` mapping. It is not writable, so it is
//! not accountable: it costs no commit charge and no `RLIMIT_DATA`, only `RLIMIT_AS`.
//! Commit is `mprotect(READ|WRITE)`, which charges the commit and checks `RLIMIT_DATA`.
//! Decommit maps a fresh `PROT_NONE` mapping over the range with `MAP_FIXED`: that drops the
//! pages and the commit charge at once, and a later commit reads zero. (`MADV_DONTNEED`
//! keeps the charge on Linux, and neither zeroes nor frees on macOS; `MADV_FREE` does not
//! zero.) We never reserve with `MAP_NORESERVE`: a mapping made with it is never charged,
//! even after it is made writable, so the commit charge would stop telling the truth.

use core::ffi::c_void;

use rustix::io::Errno;
use rustix::mm::{self, MapFlags, MprotectFlags, ProtFlags};
use rustix::process::{getrlimit, Resource};

use crate::{Error, ErrorKind, Protection, Result};

pub(crate) fn page_size() -> usize {
    rustix::param::page_size()
}

pub(crate) fn allocation_granularity() -> usize {
    page_size()
}

/// An error for `errno` from `operation` on `[ptr, ptr + size)`.
pub(crate) fn os_error(kind: ErrorKind, operation: &'static str, errno: Errno, ptr: *mut u8, size: usize) -> Error {
    let err = Error::from_os(kind, operation, errno.raw_os_error());
    if ptr.is_null() {
        err.sized(size)
    } else {
        err.at(ptr as usize, size)
    }
}

/// Adds the soft limit of `resource` to `err`, where one is set.
fn with_rlimit(err: Error, name: &'static str, resource: Resource) -> Error {
    match getrlimit(resource).current {
        Some(limit) => err.with_limit(name, limit),
        None => err,
    }
}

fn prot_flags(protection: Protection) -> MprotectFlags {
    match protection {
        Protection::NoAccess => MprotectFlags::empty(),
        Protection::Read => MprotectFlags::READ,
        Protection::ReadWrite => MprotectFlags::READ | MprotectFlags::WRITE,
        Protection::Execute => MprotectFlags::EXEC,
        Protection::ReadExecute => MprotectFlags::READ | MprotectFlags::EXEC,
        Protection::ReadWriteExecute => MprotectFlags::READ | MprotectFlags::WRITE | MprotectFlags::EXEC,
    }
}

fn reserve_error(errno: Errno, size: usize) -> Error {
    let err = os_error(ErrorKind::OutOfAddressSpace, "reserve", errno, core::ptr::null_mut(), size);
    if errno == Errno::NOMEM {
        with_rlimit(
            err.because("no room in the address space (RLIMIT_AS, address-space size or mapping count)"),
            "RLIMIT_AS",
            Resource::As,
        )
    } else if errno == Errno::INVAL {
        // `reserve` is only called with a non-zero multiple of the page size and fixed
        // flags, so EINVAL can only mean the length itself is refused: too large for this
        // address space (valgrind says so for lengths past its own address-space limit).
        err.because("the OS refused the length (too large for this address space)")
    } else {
        let kind =
            if errno == Errno::PERM || errno == Errno::ACCESS { ErrorKind::PermissionDenied } else { ErrorKind::Os };
        Error::from_os(kind, "reserve", errno.raw_os_error()).sized(size)
    }
}

/// # Safety
/// `size` is a non-zero multiple of the page size.
pub(crate) unsafe fn reserve(size: usize) -> Result<*mut u8> {
    // SAFETY: a null hint without MAP_FIXED lets the kernel pick an unused range, so no
    // existing mapping is touched.
    let ptr = unsafe { mm::mmap_anonymous(core::ptr::null_mut(), size, ProtFlags::empty(), MapFlags::PRIVATE) };
    match ptr {
        Ok(ptr) => Ok(ptr.cast()),
        Err(errno) => Err(reserve_error(errno, size)),
    }
}

/// # Safety
/// `size` is a non-zero multiple of the page size; `align` is a power of two larger than
/// the page size.
pub(crate) unsafe fn reserve_aligned(size: usize, align: usize) -> Result<*mut u8> {
    let padded = size.checked_add(align - page_size()).ok_or_else(|| {
        Error::new(ErrorKind::InvalidArgument, "reserve", "size plus alignment overflows usize").sized(size)
    })?;
    // SAFETY: as in `reserve`; `padded` is a non-zero multiple of the page size.
    let base = unsafe { reserve(padded)? } as usize;
    let start = (base + align - 1) & !(align - 1);
    let head = start - base;
    let tail = padded - head - size;
    // SAFETY: the head and tail are page-aligned parts of the mapping we just made, and
    // nothing else refers to them.
    unsafe {
        if head > 0 {
            let _ = mm::munmap(base as *mut c_void, head);
        }
        if tail > 0 {
            let _ = mm::munmap((start + size) as *mut c_void, tail);
        }
    }
    Ok(start as *mut u8)
}

/// # Safety
/// `[ptr, ptr + size)` is a whole reservation nothing refers to any more.
pub(crate) unsafe fn release(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the caller hands over the whole range.
    unsafe { mm::munmap(ptr.cast(), size) }.map_err(|e| os_error(ErrorKind::Os, "release", e, ptr, size))
}

fn commit_error(operation: &'static str, errno: Errno, ptr: *mut u8, size: usize) -> Error {
    if errno == Errno::NOMEM {
        let err = os_error(ErrorKind::OutOfMemory, operation, errno, ptr, size).because(
            "the OS refused to back the pages (commit limit, RLIMIT_DATA, or vm.max_map_count mappings), \
             or the range is not mapped",
        );
        with_rlimit(err, "RLIMIT_DATA", Resource::Data)
    } else if errno == Errno::ACCESS || errno == Errno::PERM {
        os_error(ErrorKind::PermissionDenied, operation, errno, ptr, size)
    } else {
        os_error(ErrorKind::Os, operation, errno, ptr, size)
    }
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller.
pub(crate) unsafe fn commit(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the range is the caller's; making it readable and writable changes no data.
    unsafe { mm::mprotect(ptr.cast(), size, MprotectFlags::READ | MprotectFlags::WRITE) }
        .map_err(|e| commit_error("commit", e, ptr, size))
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller, and nothing reads or
/// writes it any more.
pub(crate) unsafe fn decommit(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: MAP_FIXED replaces exactly the caller's range with a fresh PROT_NONE mapping;
    // the caller promised that no one uses its contents. A failure leaves the old mapping in
    // place (the kernel checks limits before it unmaps).
    unsafe { mm::mmap_anonymous(ptr.cast(), size, ProtFlags::empty(), MapFlags::PRIVATE | MapFlags::FIXED) }
        .map(drop)
        .map_err(|e| commit_error("decommit", e, ptr, size))
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller and is committed.
pub(crate) unsafe fn protect(ptr: *mut u8, size: usize, protection: Protection) -> Result<()> {
    // SAFETY: the range is the caller's; the caller is responsible for the accesses that the
    // new protection allows or forbids.
    unsafe { mm::mprotect(ptr.cast(), size, prot_flags(protection)) }.map_err(|e| commit_error("protect", e, ptr, size))
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller.
pub(crate) unsafe fn lock(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: mlock only pins pages; it does not change their contents.
    unsafe { mm::mlock(ptr.cast(), size) }.map_err(|errno| {
        let (kind, detail) = if errno == Errno::PERM {
            (ErrorKind::PermissionDenied, "locking memory needs a RLIMIT_MEMLOCK above zero or CAP_IPC_LOCK")
        } else if errno == Errno::NOMEM || errno == Errno::AGAIN {
            (ErrorKind::OutOfMemory, "the pages cannot be locked: RLIMIT_MEMLOCK exceeded, or not mapped")
        } else {
            (ErrorKind::Os, "")
        };
        with_rlimit(os_error(kind, "lock", errno, ptr, size).because(detail), "RLIMIT_MEMLOCK", Resource::Memlock)
    })
}

/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller.
pub(crate) unsafe fn unlock(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: munlock only unpins pages.
    unsafe { mm::munlock(ptr.cast(), size) }.map_err(|e| {
        let kind = if e == Errno::NOMEM { ErrorKind::OutOfMemory } else { ErrorKind::Os };
        os_error(kind, "unlock", e, ptr, size)
    })
}

pub(crate) use super::touch_pages;

/// Maps the first `size` bytes of `fd` twice, back to back, into a fresh `2 * size`
/// reservation: the double mapping behind the ring buffer. The caller closes `fd` afterwards
/// (the mappings keep the memory alive). On failure nothing stays mapped.
///
/// `size` is a non-zero multiple of the page size and `fd` is at least `size` bytes long.
#[cfg(feature = "std")]
pub(crate) fn map_fd_twice(fd: rustix::fd::BorrowedFd<'_>, size: usize) -> Result<*mut u8> {
    let total = size.checked_mul(2).ok_or_else(|| {
        Error::new(ErrorKind::InvalidArgument, "ring_map", "twice the size overflows usize").sized(size)
    })?;
    // SAFETY: `total` is a non-zero multiple of the page size.
    let base = unsafe { reserve(total)? };
    for half in [base, base.wrapping_add(size)] {
        // SAFETY: MAP_FIXED replaces one half of the reservation just made, which nothing else
        // uses; the file is at least `size` bytes long.
        let mapped = unsafe {
            mm::mmap(half.cast(), size, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED | MapFlags::FIXED, fd, 0)
        };
        if let Err(errno) = mapped {
            // SAFETY: the whole reservation is ours and unused.
            let _ = unsafe { mm::munmap(base.cast(), total) };
            return Err(commit_error("ring_map", errno, half, size));
        }
    }
    Ok(base)
}

/// Undoes `map_fd_twice`.
///
/// # Safety
/// `ptr` came from `map_fd_twice(_, size)` and nothing uses it any more.
#[cfg(feature = "std")]
pub(crate) unsafe fn unmap_twice(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the caller hands over both halves.
    unsafe { mm::munmap(ptr.cast(), 2 * size) }.map_err(|e| os_error(ErrorKind::Os, "ring_unmap", e, ptr, size))
}
