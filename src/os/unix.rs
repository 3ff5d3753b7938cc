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
    reserve_error_for("reserve", errno, core::ptr::null_mut(), size)
}

/// As [`reserve_error`], for `operation` on `[ptr, ptr + size)` (`ptr` null: anywhere).
fn reserve_error_for(operation: &'static str, errno: Errno, ptr: *mut u8, size: usize) -> Error {
    let err = os_error(ErrorKind::OutOfAddressSpace, operation, errno, ptr, size);
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
        os_error(kind, operation, errno, ptr, size)
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

/// Reserves exactly `[address, address + size)`, or refuses: never elsewhere, never over an
/// existing mapping. Linux 4.17+ refuses at once (`MAP_FIXED_NOREPLACE`); elsewhere the
/// address is a hint, and a mapping placed anywhere else is undone.
///
/// # Safety
/// `size` is a non-zero multiple of the page size; `address` is page-aligned and non-null,
/// and `address + size` does not overflow.
pub(crate) unsafe fn reserve_at(address: usize, size: usize) -> Result<*mut u8> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let flags = MapFlags::PRIVATE | MapFlags::FIXED_NOREPLACE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let flags = MapFlags::PRIVATE;
    let wanted = address as *mut c_void;
    // SAFETY: without MAP_FIXED (MAP_FIXED_NOREPLACE never replaces a mapping) the kernel
    // changes no existing mapping: it maps fresh address space, at the hint or elsewhere.
    let ptr = unsafe { mm::mmap_anonymous(wanted, size, ProtFlags::empty(), flags) };
    let in_use = || {
        Error::new(ErrorKind::OutOfAddressSpace, "reserve_at", "part of the range is already mapped")
            .at(address, size)
    };
    match ptr {
        Ok(got) if got == wanted => Ok(got.cast()),
        Ok(got) => {
            // Placed elsewhere (an older kernel took the address as a hint): undo it.
            // SAFETY: the mapping was made just now and nothing refers to it.
            let _ = unsafe { mm::munmap(got, size) };
            Err(in_use())
        }
        Err(Errno::EXIST) => Err(in_use()),
        Err(errno) => Err(reserve_error_for("reserve_at", errno, address as *mut u8, size)),
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

/// The process's address-space, data and lock limits.
pub(crate) fn resource_limits() -> crate::ResourceLimits {
    let limit = |resource: Option<Resource>| {
        resource.map(|resource| {
            let l = getrlimit(resource);
            crate::ResourceLimit { soft: l.current, hard: l.maximum }
        })
    };
    crate::ResourceLimits {
        address_space: limit(ADDRESS_SPACE_LIMIT),
        data: limit(Some(Resource::Data)),
        locked: limit(LOCK_LIMIT),
    }
}

// ---- mapped files and shared memory ----
//
// A mapped file lives in a reservation (`map_reserve`): its bytes `[0, page_round(len))` are
// mapped `MAP_SHARED | MAP_FIXED` over the front of it, the rest stays reserved
// `PROT_NONE`. Growing maps the new pages right behind the old ones; shrinking puts a fresh
// `PROT_NONE` mapping back over the tail. The base never moves.

/// The reservation a mapped file is mapped into: a plain reservation here.
///
/// # Safety
/// `size` is a non-zero multiple of the page size.
#[cfg(feature = "std")]
pub(crate) unsafe fn map_reserve(size: usize) -> Result<*mut u8> {
    // SAFETY: forwarded from the caller.
    unsafe { reserve(size) }
}

/// Unmaps the file views in a `map_reserve(size)` reservation and releases it.
///
/// # Safety
/// `base` came from `map_reserve(size)` and nothing uses the range any more.
#[cfg(feature = "std")]
pub(crate) unsafe fn map_release(base: *mut u8, size: usize, _len: usize) -> Result<()> {
    // SAFETY: one munmap removes the reservation and every file view inside it, which the
    // caller hands over.
    unsafe { release(base, size) }
}

/// The error for a failed `mmap` of a file.
#[cfg(feature = "std")]
fn map_error(errno: Errno, ptr: *mut u8, size: usize) -> Error {
    let err = os_error(ErrorKind::Os, "map_file", errno, ptr, size);
    if errno == Errno::NOMEM {
        err.because("no room for another mapping (vm.max_map_count, RLIMIT_AS)")
    } else if errno == Errno::ACCESS || errno == Errno::PERM {
        os_error(ErrorKind::PermissionDenied, "map_file", errno, ptr, size)
            .because("the file cannot be mapped with this access (opened read-only, or a noexec/sealed file?)")
    } else if errno == Errno::NODEV {
        os_error(ErrorKind::Unsupported, "map_file", errno, ptr, size).because("this file cannot be memory-mapped")
    } else {
        err
    }
}

/// Makes `[base, base + page_round(len))` show the file's bytes `[0, len)`, where views of
/// `[0, old_len)` made by earlier calls are in place: only the pages past
/// `page_round(old_len)` are mapped now, or the pages past `page_round(len)` put back to
/// reserved.
///
/// On failure the mapping is as it was.
///
/// # Safety
/// `base` came from `map_reserve(size)` with `len <= size`; `[base, base +
/// page_round(old_len))` holds the views of `file` made by earlier calls (none if `old_len`
/// is 0); the file is at least `len` bytes long; nothing uses the pages that are unmapped.
#[cfg(feature = "std")]
pub(crate) unsafe fn remap_file(
    base: *mut u8,
    _size: usize,
    old_len: usize,
    len: usize,
    file: &std::fs::File,
    writable: bool,
) -> Result<()> {
    let page = page_size();
    // No overflow: both lengths are at most `size`, which is a multiple of the page size.
    let mapped = old_len.div_ceil(page) * page;
    let need = len.div_ceil(page) * page;
    if need > mapped {
        let at = base.wrapping_add(mapped);
        let prot = if writable { ProtFlags::READ | ProtFlags::WRITE } else { ProtFlags::READ };
        // SAFETY: `[at, at + need - mapped)` is the reserved tail of the caller's reservation,
        // which nothing uses; MAP_FIXED replaces exactly it. The file offset `mapped` is page
        // aligned and the file reaches into the last page, so no mapped page lies wholly past
        // the end of the file.
        let result = unsafe {
            mm::mmap(at.cast(), need - mapped, prot, MapFlags::SHARED | MapFlags::FIXED, file, mapped as u64)
        };
        if let Err(errno) = result {
            // Linux before 6.12 (and other systems) may unmap the old range before failing;
            // put the reservation back so that no other mapping can land inside ours.
            // SAFETY: the range is the caller's reserved tail.
            let _ = unsafe { restore_reserved(at, need - mapped) };
            return Err(map_error(errno, at, need - mapped));
        }
    } else if need < mapped {
        // SAFETY: the tail `[need, mapped)` is ours and unused (the caller's promise);
        // `decommit` maps a fresh PROT_NONE reservation over it.
        unsafe { decommit(base.wrapping_add(need), mapped - need)? };
    }
    Ok(())
}

/// Puts a `PROT_NONE` reservation back over `[ptr, ptr + size)` after a failed fixed mapping.
///
/// # Safety
/// The range is inside the caller's reservation and unused.
#[cfg(feature = "std")]
unsafe fn restore_reserved(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: as `decommit`: the range is the caller's.
    unsafe { decommit(ptr, size) }
}

/// Writes dirty pages of `[ptr, ptr + size)` back to the file: `msync(MS_SYNC)` when `wait`,
/// else `msync(MS_ASYNC)` (start the write-back and return).
///
/// # Safety
/// `ptr` is page-aligned and the range lies in file views made by `remap_file`.
#[cfg(feature = "std")]
pub(crate) unsafe fn flush_file(ptr: *mut u8, size: usize, _file: &std::fs::File, wait: bool) -> Result<()> {
    let flags = if wait { mm::MsyncFlags::SYNC } else { mm::MsyncFlags::ASYNC };
    // SAFETY: msync only writes pages back; it does not change the memory.
    unsafe { mm::msync(ptr.cast(), size, flags) }.map_err(|errno| {
        let kind = if errno == Errno::NOSPC || errno == Errno::DQUOT { ErrorKind::OutOfMemory } else { ErrorKind::Os };
        os_error(kind, "flush", errno, ptr, size).because("writing the pages back to the file failed")
    })
}

/// Refuses a length past `RLIMIT_FSIZE` before asking the kernel.
///
/// Extending a file past the limit makes the kernel send `SIGXFSZ`, whose default action
/// kills the process; only when the signal is ignored or caught does the call fail with
/// `EFBIG`. A library must not change signal dispositions, so the limit is checked first.
/// (A thread lowering the limit between this check and the call can still get the signal.)
#[cfg(feature = "std")]
fn check_file_size_limit(operation: &'static str, len: u64) -> Result<()> {
    match getrlimit(Resource::Fsize).current {
        Some(limit) if len > limit => {
            Err(Error::new(ErrorKind::OutOfMemory, operation, "the file would grow past the process's file size limit")
                .sized(usize::try_from(len).unwrap_or(usize::MAX))
                .with_limit("RLIMIT_FSIZE", limit))
        }
        _ => Ok(()),
    }
}

/// The error for a failed change of a file's length.
#[cfg(feature = "std")]
fn file_size_error(operation: &'static str, errno: Errno, len: u64) -> Error {
    let size = usize::try_from(len).unwrap_or(usize::MAX);
    let err = Error::from_os(ErrorKind::Os, operation, errno.raw_os_error()).sized(size);
    if errno == Errno::NOSPC || errno == Errno::DQUOT {
        Error::from_os(ErrorKind::OutOfMemory, operation, errno.raw_os_error())
            .sized(size)
            .because("no space left on the file system (or the disk quota is reached)")
    } else if errno == Errno::FBIG {
        with_rlimit(
            Error::from_os(ErrorKind::OutOfMemory, operation, errno.raw_os_error())
                .sized(size)
                .because("the file would be larger than the file system or RLIMIT_FSIZE allows"),
            "RLIMIT_FSIZE",
            Some(Resource::Fsize),
        )
    } else if errno == Errno::PERM || errno == Errno::ACCESS || errno == Errno::BADF || errno == Errno::INVAL {
        Error::from_os(ErrorKind::PermissionDenied, operation, errno.raw_os_error())
            .sized(size)
            .because("the file cannot be resized (opened read-only, sealed, or not a regular file)")
    } else {
        err
    }
}

/// Sets the length of `file` to exactly `len` bytes.
#[cfg(feature = "std")]
pub(crate) fn file_set_len(file: &std::fs::File, len: u64) -> Result<()> {
    check_file_size_limit("set_len", len)?;
    loop {
        match rustix::fs::ftruncate(file, len) {
            Err(Errno::INTR) => continue,
            result => return result.map_err(|e| file_size_error("set_len", e, len)),
        }
    }
}

/// Extends `file` from `old` to `new` bytes with the new blocks allocated (so that a full
/// disk is this call's error, not a `SIGBUS` at a later write through the mapping), where the
/// file system can: `fallocate` on Linux and FreeBSD, plain `ftruncate` elsewhere or when the
/// file system does not support it. On failure the file keeps its old length.
#[cfg(feature = "std")]
pub(crate) fn file_extend(file: &std::fs::File, old: u64, new: u64) -> Result<()> {
    check_file_size_limit("grow", new)?;
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    loop {
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), old, new - old) {
            Ok(()) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(Errno::OPNOTSUPP) | Err(Errno::NOSYS) => break,
            Err(errno) => {
                // Some blocks (and on some file systems the length) may have changed.
                let _ = rustix::fs::ftruncate(file, old);
                return Err(file_size_error("grow", errno, new));
            }
        }
    }
    let _ = old;
    file_set_len(file, new).inspect_err(|_| {
        let _ = rustix::fs::ftruncate(file, old);
    })
}

/// The length of the file behind `file` now.
#[cfg(feature = "std")]
pub(crate) fn file_len(file: &std::fs::File) -> Result<u64> {
    let stat = rustix::fs::fstat(file)
        .map_err(|e| Error::from_os(ErrorKind::Os, "file_len", e.raw_os_error()).because("fstat failed"))?;
    u64::try_from(stat.st_size).map_err(|_| Error::new(ErrorKind::Os, "file_len", "fstat reported a negative size"))
}

/// Takes an exclusive advisory lock on the whole file (`flock(LOCK_EX | LOCK_NB)`), held until
/// the file is closed. Fails if another open file description holds it.
///
/// A `fork` in another thread shares our descriptor with the child until it calls `exec`
/// (which closes it, as it is close-on-exec), and the lock with it: a lock just released can
/// look held for that moment. So a refusal is retried for up to about 50 ms before it counts.
#[cfg(feature = "std")]
pub(crate) fn file_lock(file: &std::fs::File) -> Result<()> {
    let mut waited_ms = 0;
    loop {
        match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(Errno::WOULDBLOCK) if waited_ms < 50 => {
                std::thread::sleep(std::time::Duration::from_millis(1));
                waited_ms += 1;
            }
            Err(Errno::WOULDBLOCK) => {
                return Err(Error::from_os(ErrorKind::PermissionDenied, "lock_file", Errno::WOULDBLOCK.raw_os_error())
                    .because("the file is locked by another user (another FileVec, in this or another process)"))
            }
            // Some file systems (old NFS) have no flock: the lock is advisory anyway.
            Err(Errno::NOLCK) | Err(Errno::OPNOTSUPP) => return Ok(()),
            Err(errno) => return Err(Error::from_os(ErrorKind::Os, "lock_file", errno.raw_os_error())),
        }
    }
}

/// Shared memory is a file here: a `memfd` on Linux, a `shm_open` object elsewhere.
#[cfg(feature = "std")]
pub(crate) type SharedMemory = std::fs::File;

/// Reserves `total` bytes and maps the object's bytes `[0, len)` into the front.
///
/// # Safety
/// `total` is a non-zero multiple of the page size, `0 < len <= total`, and the object is at
/// least `len` bytes long.
#[cfg(feature = "std")]
pub(crate) unsafe fn shared_map(memory: &SharedMemory, total: usize, len: usize) -> Result<*mut u8> {
    // SAFETY: forwarded from the caller.
    let base = unsafe { map_reserve(total)? };
    // SAFETY: the reservation was just made and nothing is mapped in it; forwarded.
    if let Err(err) = unsafe { remap_file(base, total, 0, len, memory, true) } {
        // SAFETY: ours and unused.
        let _ = unsafe { release(base, total) };
        return Err(err);
    }
    Ok(base)
}

/// Grows the mapping made by `shared_map` from `old_len` to `new_len` bytes in place.
///
/// # Safety
/// As `remap_file`, with `new_len >= old_len`.
#[cfg(feature = "std")]
pub(crate) unsafe fn shared_remap(
    base: *mut u8,
    total: usize,
    old_len: usize,
    new_len: usize,
    memory: &SharedMemory,
) -> Result<()> {
    // SAFETY: forwarded from the caller.
    unsafe { remap_file(base, total, old_len, new_len, memory, true) }
}

/// Undoes `shared_map` (after any `shared_remap`).
///
/// # Safety
/// `base` came from `shared_map(_, total, _)` and nothing uses it any more.
#[cfg(feature = "std")]
pub(crate) unsafe fn shared_unmap(base: *mut u8, total: usize, len: usize) -> Result<()> {
    // SAFETY: forwarded from the caller.
    unsafe { map_release(base, total, len) }
}

/// The length of the object now, if the OS can say (it always can here).
#[cfg(feature = "std")]
pub(crate) fn shared_len(memory: &SharedMemory) -> Result<Option<u64>> {
    file_len(memory).map(Some)
}

/// Sends `fd` over the Unix socket `socket` with `SCM_RIGHTS`, with one byte of data.
#[cfg(feature = "std")]
pub(crate) fn send_fd(socket: rustix::fd::BorrowedFd<'_>, fd: rustix::fd::BorrowedFd<'_>) -> Result<()> {
    use core::mem::MaybeUninit;
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds = [fd];
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(Error::new(ErrorKind::Os, "send_fd", "no room for the descriptor in the control message"));
    }
    loop {
        match sendmsg(socket, &[std::io::IoSlice::new(b"V")], &mut control, SendFlags::empty()) {
            Ok(_) => return Ok(()),
            Err(Errno::INTR) => continue,
            Err(errno) => {
                let kind = if errno == Errno::PIPE || errno == Errno::CONNRESET {
                    ErrorKind::Disconnected
                } else {
                    ErrorKind::Os
                };
                return Err(Error::from_os(kind, "send_fd", errno.raw_os_error())
                    .because("sending the descriptor over the socket failed"));
            }
        }
    }
}

/// Receives one descriptor sent by `send_fd` on `socket` (close-on-exec). Any further
/// descriptors in the message are closed.
#[cfg(feature = "std")]
pub(crate) fn recv_fd(socket: rustix::fd::BorrowedFd<'_>) -> Result<rustix::fd::OwnedFd> {
    use core::mem::MaybeUninit;
    use rustix::net::{recvmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = RecvFlags::CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = RecvFlags::empty();
    let received = loop {
        match recvmsg(socket, &mut [std::io::IoSliceMut::new(&mut byte)], &mut control, flags) {
            Err(Errno::INTR) => continue,
            other => break other,
        }
    };
    let received = received.map_err(|errno| {
        Error::from_os(ErrorKind::Os, "recv_fd", errno.raw_os_error()).because("receiving from the socket failed")
    })?;
    let mut fd = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for received_fd in fds {
                // The first is ours; the rest are dropped, which closes them.
                if fd.is_none() {
                    fd = Some(received_fd);
                }
            }
        }
    }
    match fd {
        Some(fd) => {
            #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
            let _ = rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC);
            Ok(fd)
        }
        None if received.bytes == 0 => {
            Err(Error::new(ErrorKind::Disconnected, "recv_fd", "the socket was closed before a descriptor arrived"))
        }
        None => Err(Error::new(ErrorKind::InvalidData, "recv_fd", "the message carried no descriptor")),
    }
}

/// Whether `fd` stays open across `exec` (clears or sets `FD_CLOEXEC`).
#[cfg(feature = "std")]
pub(crate) fn set_inheritable(fd: rustix::fd::BorrowedFd<'_>, inheritable: bool) -> Result<()> {
    let flags = if inheritable { rustix::io::FdFlags::empty() } else { rustix::io::FdFlags::CLOEXEC };
    rustix::io::fcntl_setfd(fd, flags).map_err(|e| {
        Error::from_os(ErrorKind::Os, "set_inheritable", e.raw_os_error()).because("fcntl(F_SETFD) failed")
    })
}

/// Maps the IPC ring's object: its `header` bytes, then its `capacity` data bytes twice, back
/// to back, in a fresh reservation of `header + 2 * capacity` bytes.
///
/// # Safety
/// `header` and `capacity` are non-zero multiples of the page size whose sum with another
/// `capacity` does not overflow; the object is at least `header + capacity` bytes long.
#[cfg(feature = "std")]
pub(crate) unsafe fn ipc_map(memory: &SharedMemory, header: usize, capacity: usize) -> Result<*mut u8> {
    let total = header + 2 * capacity;
    // SAFETY: `total` is a non-zero multiple of the page size.
    let base = unsafe { reserve(total)? };
    let pieces = [(base, header + capacity, 0u64), (base.wrapping_add(header + capacity), capacity, header as u64)];
    for (at, len, offset) in pieces {
        // SAFETY: MAP_FIXED replaces part of the reservation just made, which nothing else
        // uses; the object covers `[offset, offset + len)`.
        let mapped = unsafe {
            mm::mmap(
                at.cast(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::FIXED,
                memory,
                offset,
            )
        };
        if let Err(errno) = mapped {
            // SAFETY: the whole reservation is ours and unused.
            let _ = unsafe { mm::munmap(base.cast(), total) };
            return Err(map_error(errno, at, len));
        }
    }
    Ok(base)
}

/// Undoes `ipc_map`.
///
/// # Safety
/// `base` came from `ipc_map(_, header, capacity)` and nothing uses it any more.
#[cfg(feature = "std")]
pub(crate) unsafe fn ipc_unmap(base: *mut u8, header: usize, capacity: usize) -> Result<()> {
    // SAFETY: the caller hands over the whole mapping.
    unsafe { release(base, header + 2 * capacity) }
}
