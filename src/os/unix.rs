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
use rustix::mm::{self, MapFlags, MprotectFlags, MsyncFlags, ProtFlags};
use rustix::process::{getrlimit, Resource};

use crate::{Error, ErrorKind, PageState, Protection, Result};

/// `RLIMIT_AS`, where the system has it (OpenBSD has none).
#[cfg(not(target_os = "openbsd"))]
const ADDRESS_SPACE_LIMIT: Option<Resource> = Some(Resource::As);
#[cfg(target_os = "openbsd")]
const ADDRESS_SPACE_LIMIT: Option<Resource> = None;

/// `RLIMIT_MEMLOCK`, where the system has it (illumos and Solaris have none).
#[cfg(not(any(target_os = "illumos", target_os = "solaris")))]
const LOCK_LIMIT: Option<Resource> = Some(Resource::Memlock);
#[cfg(any(target_os = "illumos", target_os = "solaris"))]
const LOCK_LIMIT: Option<Resource> = None;

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

/// Adds the soft limit of `resource` to `err`, where the system has it and one is set.
fn with_rlimit(err: Error, name: &'static str, resource: Option<Resource>) -> Error {
    match resource.and_then(|resource| getrlimit(resource).current) {
        Some(limit) => err.with_limit(name, limit),
        None => err,
    }
}

/// Whether every page of `[ptr, ptr + size)` is mapped, asked with `msync(MS_ASYNC)`: POSIX
/// makes it fail with `ENOMEM` where part of the range is not mapped (NetBSD's kernel says
/// `EFAULT`), and it changes nothing (Linux does nothing at all for `MS_ASYNC`; elsewhere it
/// may schedule the write-back of shared file pages, which is harmless). `None` when it
/// fails for another reason. One system call; only used to explain a failure.
fn is_mapped(ptr: *mut u8, size: usize) -> Option<bool> {
    // SAFETY: MS_ASYNC without MS_INVALIDATE changes no data and no mapping.
    match unsafe { mm::msync(ptr.cast(), size, MsyncFlags::ASYNC) } {
        Ok(()) => Some(true),
        Err(Errno::NOMEM | Errno::FAULT) => Some(false),
        Err(_) => None,
    }
}

const NOT_MAPPED: &str = "part of the range is not mapped: it is not inside a reservation";

/// Why `[ptr, ptr + size)` cannot be locked, if the OS can say: a part that is not mapped,
/// or (where `query` works) a part that is not committed and accessible.
fn not_lockable(ptr: *mut u8, size: usize) -> Option<&'static str> {
    if is_mapped(ptr, size) == Some(false) {
        return Some(NOT_MAPPED);
    }
    if !super::QUERY_SUPPORTED {
        return None;
    }
    let mut runs = alloc::vec::Vec::new();
    super::query(ptr, size, &mut runs).ok()?;
    runs.iter().find_map(|run| match (run.state, run.protection) {
        (PageState::Free, _) => Some(NOT_MAPPED),
        (PageState::Reserved, _) => Some("part of the range is reserved but not committed"),
        (PageState::Committed, Protection::NoAccess) => Some("part of the range is committed with no access"),
        (PageState::Committed, _) => None,
    })
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
            ADDRESS_SPACE_LIMIT,
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

/// The error for `mprotect`/`mmap` on the caller's range. `ENOMEM` means either that the OS
/// would not back the pages or that part of the range is not mapped; the second is told
/// apart (with `is_mapped`) and is `InvalidArgument`, as on Windows.
fn commit_error(operation: &'static str, errno: Errno, ptr: *mut u8, size: usize) -> Error {
    if errno == Errno::NOMEM && is_mapped(ptr, size) == Some(false) {
        os_error(ErrorKind::InvalidArgument, operation, errno, ptr, size).because(NOT_MAPPED)
    } else if errno == Errno::NOMEM {
        let err = os_error(ErrorKind::OutOfMemory, operation, errno, ptr, size)
            .because("the OS refused to back the pages (commit limit, RLIMIT_DATA, or vm.max_map_count mappings)");
        with_rlimit(err, "RLIMIT_DATA", Some(Resource::Data))
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
        let refused = errno == Errno::NOMEM || errno == Errno::AGAIN || errno == Errno::INVAL;
        let (kind, detail) = match refused.then(|| not_lockable(ptr, size)).flatten() {
            // FreeBSD says ENOMEM for inaccessible pages and for its lock limits alike; the
            // BSDs' UVM says EINVAL for inaccessible pages.
            Some(why) => (ErrorKind::InvalidArgument, why),
            None if errno == Errno::PERM => {
                (ErrorKind::PermissionDenied, "locking memory needs a RLIMIT_MEMLOCK above zero or CAP_IPC_LOCK")
            }
            None if errno == Errno::INVAL => {
                (ErrorKind::InvalidArgument, "part of the range is not committed and accessible, or not mapped")
            }
            None if errno == Errno::NOMEM || errno == Errno::AGAIN => {
                (ErrorKind::OutOfMemory, "the pages cannot be locked: the locked-memory limit is reached")
            }
            None => (ErrorKind::Os, ""),
        };
        let err = os_error(kind, "lock", errno, ptr, size).because(detail);
        if kind == ErrorKind::InvalidArgument {
            err
        } else {
            with_rlimit(err, "RLIMIT_MEMLOCK", LOCK_LIMIT)
        }
    })
}

/// Unlocking pages that are not locked succeeds, as the crate promises. Linux and macOS
/// skip such pages themselves. FreeBSD fails with `ENOMEM` at the first page that is not
/// locked (having unlocked those before it), NetBSD and OpenBSD with `EINVAL` before
/// unlocking anything: there, once `msync` shows the whole range is mapped, the pages are
/// unlocked one by one, skipping those that are not locked.
///
/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller.
pub(crate) unsafe fn unlock(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: munlock only unpins pages.
    match unsafe { mm::munlock(ptr.cast(), size) } {
        Ok(()) => Ok(()),
        Err(errno) if errno == Errno::NOMEM || errno == Errno::INVAL => match is_mapped(ptr, size) {
            // SAFETY: forwarded from the caller.
            Some(true) => unsafe { unlock_page_by_page(ptr, size) },
            Some(false) => Err(os_error(ErrorKind::InvalidArgument, "unlock", errno, ptr, size).because(NOT_MAPPED)),
            None => Err(os_error(ErrorKind::Os, "unlock", errno, ptr, size)),
        },
        Err(errno) => Err(os_error(ErrorKind::Os, "unlock", errno, ptr, size)),
    }
}

/// Unlocks `[ptr, ptr + size)` one page at a time; a page the OS refuses to unlock with
/// `ENOMEM` or `EINVAL` was not locked (the caller checked that the range is mapped).
///
/// # Safety
/// `[ptr, ptr + size)` lies inside reservations owned by the caller and is mapped.
unsafe fn unlock_page_by_page(ptr: *mut u8, size: usize) -> Result<()> {
    let page = page_size();
    let mut offset = 0;
    while offset < size {
        let at = ptr.wrapping_add(offset);
        // SAFETY: one page of the caller's range; munlock only unpins it.
        match unsafe { mm::munlock(at.cast(), page) } {
            Ok(()) | Err(Errno::NOMEM | Errno::INVAL) => {}
            Err(errno) => return Err(os_error(ErrorKind::Os, "unlock", errno, at, page)),
        }
        offset += page;
    }
    Ok(())
}

pub(crate) use super::touch_pages;

/// Maps the first `size` bytes of `fd` twice, back to back, into a fresh `2 * size`
/// reservation: the double mapping behind the ring buffer. The caller closes `fd` afterwards
/// (the mappings keep the memory alive). On failure nothing stays mapped.
///
/// `size` is a non-zero multiple of the page size and `fd` is at least `size` bytes long.
/// (macOS and iOS remap with Mach calls instead.)
///
/// Both halves are `MAP_SHARED`, so a `fork`ed child inherits the double mapping whole and
/// shares the bytes with its parent (they are not copied).
#[cfg(all(feature = "std", not(any(target_os = "macos", target_os = "ios"))))]
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
#[cfg(all(feature = "std", not(any(target_os = "macos", target_os = "ios"))))]
pub(crate) unsafe fn unmap_twice(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the caller hands over both halves.
    unsafe { mm::munmap(ptr.cast(), 2 * size) }.map_err(|e| os_error(ErrorKind::Os, "ring_unmap", e, ptr, size))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    extern crate std;

    use super::*;

    /// The `Locked:` kilobytes of the `/proc/self/smaps` mapping that contains `addr`.
    fn locked_kib(addr: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split(' ').next().unwrap_or("");
            if let Some((start, end)) = range.split_once('-') {
                if let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) {
                    inside = (start..end).contains(&addr);
                    continue;
                }
            }
            if let (true, Some(value)) = (inside, line.strip_prefix("Locked:")) {
                return value.trim().trim_end_matches("kB").trim().parse().unwrap();
            }
        }
        panic!("no mapping contains {addr:#x}");
    }

    /// (A hole inside a reservation is tested in a child process, tests/portability.rs: here
    /// another test's mapping could fill it.)
    #[test]
    fn is_mapped_tells_unmapped_pages_apart() {
        let page = page_size();
        // SAFETY: a fresh reservation, released below.
        let base = unsafe { reserve(3 * page) }.unwrap();
        assert_eq!(is_mapped(base, 3 * page), Some(true));
        // One page above address zero is below vm.mmap_min_addr: never mapped.
        assert_eq!(is_mapped(page as *mut u8, page), Some(false));
        assert_eq!(is_mapped(page as *mut u8, 2 * page), Some(false));
        // SAFETY: our whole reservation, unused.
        unsafe { release(base, 3 * page) }.unwrap();
    }

    /// The fallback FreeBSD, NetBSD and OpenBSD take (Linux itself never needs it): a range
    /// of locked, unlocked and reserved pages ends up with nothing locked.
    #[test]
    fn unlocking_page_by_page_unlocks_a_mixed_range() {
        let page = page_size();
        // SAFETY: a fresh reservation, released below; pages 1 and 2 are committed.
        unsafe {
            let base = reserve(4 * page).unwrap();
            commit(base, 3 * page).unwrap();
            lock(base.add(page), 2 * page).unwrap();
            assert_eq!(locked_kib(base as usize + page), 2 * page as u64 / 1024);
            unlock_page_by_page(base, 4 * page).unwrap();
            assert_eq!(locked_kib(base as usize + page), 0);
            release(base, 4 * page).unwrap();
        }
    }
}
