//! FreeBSD, NetBSD, OpenBSD, DragonFly and other Unix systems: what `unix.rs` does not cover.
//!
//! Physical memory comes from `sysconf`; there is no portable way to ask for a process's
//! resident size or its page map, so those report `Unsupported`. The ring buffer maps an
//! anonymous shared-memory object twice.
//!
//! Written from the systems' manual pages; compiled and tested only where a CI runner of
//! that system exists (not on the Linux machine the project is developed on).

use alloc::vec::Vec;

use super::unix::{page_size, touch_pages};
use crate::{Error, ErrorKind, MemoryStatus, RegionInfo, Result};

/// No portable page-map query here.
pub(crate) const QUERY_SUPPORTED: bool = false;
/// `mlock` does not refuse `PROT_NONE` pages, and the state cannot be asked.
pub(crate) const CHECKS_COMMIT_ITSELF: bool = false;

pub(crate) fn huge_page_size() -> Option<usize> {
    // FreeBSD promotes superpages by itself; there is no advice to ask for them.
    None
}

fn sysconf_pages(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a system value.
    let value = unsafe { libc::sysconf(name) };
    u64::try_from(value).ok()
}

pub(crate) fn memory_status() -> Result<MemoryStatus> {
    let page = page_size() as u64;
    let total = sysconf_pages(libc::_SC_PHYS_PAGES).ok_or(Error::new(
        ErrorKind::Unsupported,
        "memory_status",
        "sysconf(_SC_PHYS_PAGES) is not available",
    ))?;
    #[cfg(any(target_os = "freebsd", target_os = "dragonfly", target_os = "netbsd"))]
    let available = sysconf_pages(libc::_SC_AVPHYS_PAGES).unwrap_or(0);
    #[cfg(not(any(target_os = "freebsd", target_os = "dragonfly", target_os = "netbsd")))]
    let available = 0;
    Ok(MemoryStatus {
        total_physical_bytes: total.saturating_mul(page),
        available_physical_bytes: available.saturating_mul(page).min(total.saturating_mul(page)),
        committed_bytes: None,
        commit_limit_bytes: None,
    })
}

pub(crate) fn resident_bytes() -> Result<usize> {
    Err(Error::new(ErrorKind::Unsupported, "resident_bytes", "not available on this system"))
}

pub(crate) fn query(ptr: *mut u8, size: usize, _out: &mut Vec<RegionInfo>) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "query", "this system has no page-map query").at(ptr as usize, size))
}

/// # Safety
/// The range is committed, writable and owned by the caller.
pub(crate) unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the caller promises committed, writable memory.
    unsafe { touch_pages(ptr, size) };
    Ok(())
}

/// # Safety
/// The range lies inside reservations owned by the caller.
pub(crate) unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "advise_huge_pages", "no transparent huge page advice on this system")
        .at(ptr as usize, size))
}

/// A `2 * size` double mapping of an anonymous shared-memory object (`SHM_ANON` on FreeBSD;
/// elsewhere a uniquely named object unlinked at once). No descriptor stays open.
#[cfg(feature = "std")]
pub(crate) fn ring_map(size: usize) -> Result<*mut u8> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let fd = open_anonymous_shm()?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let length = libc::off_t::try_from(size)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "ring_map", "the size does not fit off_t").sized(size))?;
    // SAFETY: `fd` is a valid shared-memory descriptor.
    if unsafe { libc::ftruncate(std::os::fd::AsRawFd::as_raw_fd(&fd), length) } != 0 {
        let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(Error::from_os(ErrorKind::OutOfMemory, "ring_map", code).sized(size));
    }
    super::unix::map_fd_twice(std::os::fd::AsFd::as_fd(&fd), size)
}

/// Undoes `ring_map`.
///
/// # Safety
/// `ptr` came from `ring_map(size)` and nothing uses it any more.
#[cfg(feature = "std")]
pub(crate) unsafe fn ring_unmap(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: forwarded from the caller.
    unsafe { super::unix::unmap_twice(ptr, size) }
}

#[cfg(all(feature = "std", target_os = "freebsd"))]
fn open_anonymous_shm() -> Result<libc::c_int> {
    // SAFETY: SHM_ANON asks for an object without a name.
    let fd = unsafe { libc::shm_open(libc::SHM_ANON, libc::O_RDWR | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        return Err(Error::from_os(ErrorKind::Os, "ring_map", code).because("shm_open(SHM_ANON) failed"));
    }
    Ok(fd)
}

#[cfg(all(feature = "std", not(target_os = "freebsd")))]
fn open_anonymous_shm() -> Result<libc::c_int> {
    use core::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    for _ in 0..16 {
        let name = std::format!("/vmem-ring-{}-{}\0", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        // SAFETY: `name` is NUL-terminated; O_EXCL makes sure the object is new.
        let fd = unsafe {
            libc::shm_open(name.as_ptr().cast(), libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o600)
        };
        if fd >= 0 {
            // SAFETY: removes the name at once; the descriptor keeps the object alive.
            unsafe { libc::shm_unlink(name.as_ptr().cast()) };
            return Ok(fd);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            break;
        }
    }
    let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    Err(Error::from_os(ErrorKind::Os, "ring_map", code).because("shm_open failed"))
}

// ---- mapped files and shared memory ----

/// An anonymous shared-memory object (`SHM_ANON` on FreeBSD, a name unlinked at once
/// elsewhere). It cannot be sealed: a process holding it can truncate it under another's
/// mapping.
#[cfg(feature = "std")]
pub(crate) fn shared_create(_total: usize) -> Result<super::unix::SharedMemory> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let fd = open_anonymous_shm()?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Grows the object to `new` bytes with `ftruncate`.
#[cfg(feature = "std")]
pub(crate) fn shared_extend(memory: &super::unix::SharedMemory, _old: u64, new: u64) -> Result<()> {
    super::unix::file_set_len(memory, new)
}

/// No cross-process wait primitive is used here: sleep a little (the caller checks its
/// condition again and backs off up to 1 ms). macOS's `__ulock_wait` and FreeBSD's
/// `_umtx_op` could do better; they are not used yet.
#[cfg(feature = "std")]
pub(crate) fn wait_on(_word: &core::sync::atomic::AtomicU32, _expected: u32, timeout: core::time::Duration) {
    std::thread::sleep(timeout.min(core::time::Duration::from_millis(1)));
}

/// Waiters sleep at most 1 ms at a time: nothing to wake.
#[cfg(feature = "std")]
pub(crate) fn wake_all(_word: &core::sync::atomic::AtomicU32) {}

/// Whether process `pid` exists (`kill(pid, 0)`). A zombie (dead, not yet reaped) counts as
/// alive until its parent reaps it.
#[cfg(feature = "std")]
pub(crate) fn process_alive(pid: u32) -> bool {
    rustix::process::Pid::from_raw(pid as i32)
        .is_some_and(|p| rustix::process::test_kill_process(p) != Err(rustix::io::Errno::SRCH))
}
