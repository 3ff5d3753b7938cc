//! FreeBSD, DragonFly, NetBSD, OpenBSD, illumos and Solaris: what `unix.rs` does not cover.
//!
//! - Physical memory: `sysconf(_SC_PHYS_PAGES)`. Free memory: the sysctl
//!   `vm.stats.vm.v_free_count` on FreeBSD and DragonFly, `vm.uvmexp2` on NetBSD,
//!   `sysconf(_SC_AVPHYS_PAGES)` on OpenBSD, illumos and Solaris.
//! - FreeBSD: `query` reads the process's map with `kinfo_getvmmap(3)` (one
//!   `sysctl(KERN_PROC_VMMAP)`), `resident_bytes` its `kinfo_proc` (`sysctl(KERN_PROC_PID)`).
//!   The other systems here have no page-map query (`QUERY_SUPPORTED` is false) and no
//!   resident figure: those report `Unsupported`.
//! - The ring buffer maps an anonymous shared-memory object twice (`SHM_ANON` on FreeBSD; a
//!   uniquely named object unlinked at once elsewhere).
//!
//! What FreeBSD's query can tell: every mapping's range and protection, how many of its pages
//! are resident, and where nothing is mapped. What it cannot: whether an inaccessible page
//! was committed. A run with access is `Committed`; a `PROT_NONE` run is `Committed` when it
//! holds resident pages (committed, written, then protected), `Reserved` otherwise, so a
//! committed page made inaccessible before it was ever written (or after it was swapped out)
//! reads as `Reserved`, as on Linux.
//!
//! Written from the systems' manual pages and libc's declarations. The GitHub workflow
//! type-checks it for FreeBSD, NetBSD, illumos and Solaris; `scripts/check-platforms.sh`
//! checks, on Linux, the parts that use no FreeBSD- or NetBSD-only declaration. It has never
//! run.

use super::unix::{page_size, touch_pages};
use crate::{Error, ErrorKind, MemoryStatus, Result};

/// FreeBSD answers queries from `kinfo_getvmmap`; the others here cannot be asked.
pub(crate) const QUERY_SUPPORTED: bool = cfg!(target_os = "freebsd");
/// `mlock` of `PROT_NONE` pages is accepted by some of these systems and refused by others
/// (FreeBSD with `ENOMEM`, the errno of its lock limits too), so the public layer checks the
/// commit state with `query` where it can, and `unix::lock` sorts out the errno.
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

/// Reads an unsigned integer sysctl of 4 or 8 bytes by name.
#[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
fn sysctl_unsigned(name: &core::ffi::CStr) -> Option<u64> {
    let mut value = [0u8; 8];
    let mut len = value.len();
    // SAFETY: `value` is a writable buffer of `len` bytes; the name is NUL-terminated; no new
    // value is set.
    let rc = unsafe { libc::sysctlbyname(name.as_ptr(), value.as_mut_ptr().cast(), &mut len, core::ptr::null(), 0) };
    match (rc, len) {
        (0, 4) => Some(u64::from(u32::from_ne_bytes([value[0], value[1], value[2], value[3]]))),
        (0, 8) => Some(u64::from_ne_bytes(value)),
        _ => None,
    }
}

/// Free physical pages.
#[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
fn free_pages() -> Option<u64> {
    sysctl_unsigned(c"vm.stats.vm.v_free_count")
}

/// Free physical pages: the `free` field of NetBSD's `struct uvmexp_sysctl` (sysctl
/// `vm.uvmexp2`), whose fields are all `int64_t` and only ever appended to; `free` is the
/// fifth, after `pagesize`, `pagemask`, `pageshift` and `npages`. libc does not declare the
/// struct.
#[cfg(target_os = "netbsd")]
fn free_pages() -> Option<u64> {
    const FREE: usize = 4;
    let mut fields = [0i64; 128];
    let mut len = core::mem::size_of_val(&fields);
    // SAFETY: `fields` is a writable buffer of `len` bytes (the kernel copies at most that
    // much); the name is NUL-terminated; no new value is set.
    let rc = unsafe {
        libc::sysctlbyname(c"vm.uvmexp2".as_ptr(), fields.as_mut_ptr().cast(), &mut len, core::ptr::null(), 0)
    };
    if rc != 0 || len < (FREE + 1) * core::mem::size_of::<i64>() {
        return None;
    }
    u64::try_from(fields[FREE]).ok()
}

/// Free physical pages: `sysconf(_SC_AVPHYS_PAGES)` (OpenBSD, illumos, Solaris; also Linux,
/// where this file is only type-checked).
#[cfg(not(any(target_os = "freebsd", target_os = "dragonfly", target_os = "netbsd")))]
fn free_pages() -> Option<u64> {
    sysconf_pages(libc::_SC_AVPHYS_PAGES)
}

/// Total and free physical memory. Where the free figure cannot be read it is reported as 0.
pub(crate) fn memory_status() -> Result<MemoryStatus> {
    let page = page_size() as u64;
    let total_pages = sysconf_pages(libc::_SC_PHYS_PAGES).ok_or(Error::new(
        ErrorKind::Unsupported,
        "memory_status",
        "sysconf(_SC_PHYS_PAGES) is not available",
    ))?;
    let total = total_pages.saturating_mul(page);
    let available = free_pages().unwrap_or(0).saturating_mul(page).min(total);
    Ok(MemoryStatus {
        total_physical_bytes: total,
        available_physical_bytes: available,
        committed_bytes: None,
        commit_limit_bytes: None,
    })
}

#[cfg(target_os = "freebsd")]
pub(crate) use freebsd::{query, resident_bytes};

#[cfg(not(target_os = "freebsd"))]
pub(crate) fn resident_bytes() -> Result<usize> {
    Err(Error::new(ErrorKind::Unsupported, "resident_bytes", "not available on this system"))
}

#[cfg(not(target_os = "freebsd"))]
pub(crate) fn query(ptr: *mut u8, size: usize, _out: &mut alloc::vec::Vec<crate::RegionInfo>) -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "query", "this system has no page-map query").at(ptr as usize, size))
}

/// FreeBSD's page map and resident size, from the kernel's `kinfo_*` records.
#[cfg(target_os = "freebsd")]
mod freebsd {
    use alloc::vec::Vec;
    use core::mem::{size_of, MaybeUninit};

    use super::page_size;
    use crate::{Error, ErrorKind, PageState, Protection, RegionInfo, Result};

    /// The calling thread's `errno`.
    fn errno() -> i32 {
        errno::errno().0
    }

    /// The process's map as `kinfo_getvmmap(3)` returns it: an array of `count` entries in
    /// address order, allocated with `malloc` and freed on drop.
    struct VmMap {
        entries: *mut libc::kinfo_vmentry,
        count: usize,
    }

    impl VmMap {
        fn read(operation: &'static str) -> Result<VmMap> {
            let mut count: libc::c_int = 0;
            // SAFETY: `count` is a valid out pointer; the function reads the kernel's map of
            // our own process and returns a fresh allocation or null.
            let entries = unsafe { libc::kinfo_getvmmap(libc::getpid(), &mut count) };
            if entries.is_null() {
                let err = Error::from_os(ErrorKind::Os, operation, errno());
                return Err(err.because("kinfo_getvmmap (sysctl KERN_PROC_VMMAP) failed"));
            }
            Ok(VmMap { entries, count: usize::try_from(count).unwrap_or(0) })
        }

        fn entries(&self) -> &[libc::kinfo_vmentry] {
            // SAFETY: kinfo_getvmmap filled `count` entries, which live until drop.
            unsafe { core::slice::from_raw_parts(self.entries, self.count) }
        }
    }

    impl Drop for VmMap {
        fn drop(&mut self) {
            // SAFETY: the array came from malloc in kinfo_getvmmap and is freed once.
            unsafe { libc::free(self.entries.cast()) };
        }
    }

    fn protection_of(prot: libc::c_int) -> Protection {
        Protection::from_flags(
            prot & libc::KVME_PROT_READ != 0,
            prot & libc::KVME_PROT_WRITE != 0,
            prot & libc::KVME_PROT_EXEC != 0,
        )
        .unwrap_or(Protection::ReadWrite)
    }

    /// Appends the runs of `[ptr, ptr + size)`: see the module docs for what the states mean.
    use crate::raw::query::push_run;

    pub(crate) fn query(ptr: *mut u8, size: usize, out: &mut Vec<RegionInfo>) -> Result<()> {
        let map = VmMap::read("query").map_err(|e| e.at(ptr as usize, size))?;
        let end = ptr as usize + size;
        let mut cursor = ptr as usize;
        for entry in map.entries() {
            let start = usize::try_from(entry.kve_start).unwrap_or(usize::MAX);
            let stop = usize::try_from(entry.kve_end).unwrap_or(usize::MAX);
            if stop <= cursor {
                continue;
            }
            if start >= end {
                break;
            }
            let from = start.max(cursor);
            let to = stop.min(end);
            push_run(out, cursor, from, PageState::Free, Protection::NoAccess)?;
            let protection = protection_of(entry.kve_protection);
            let state = if protection != Protection::NoAccess || entry.kve_resident > 0 {
                PageState::Committed
            } else {
                PageState::Reserved
            };
            push_run(out, from, to, state, protection)?;
            cursor = to;
        }
        push_run(out, cursor, end, PageState::Free, Protection::NoAccess)
    }

    /// `ki_rssize` (resident pages) of our `kinfo_proc`.
    pub(crate) fn resident_bytes() -> Result<usize> {
        let fail = |detail| Error::from_os(ErrorKind::Os, "resident_bytes", errno()).because(detail);
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid];
        let mut info = MaybeUninit::<libc::kinfo_proc>::zeroed();
        let mut len = size_of::<libc::kinfo_proc>();
        // SAFETY: `info` is a writable buffer of `len` bytes; no new value is set.
        let rc = unsafe {
            libc::sysctl(
                mib.as_ptr(),
                mib.len() as libc::c_uint,
                info.as_mut_ptr().cast(),
                &mut len,
                core::ptr::null(),
                0,
            )
        };
        if rc != 0 {
            return Err(fail("sysctl(KERN_PROC_PID) failed"));
        }
        if len != size_of::<libc::kinfo_proc>() {
            return Err(Error::new(
                ErrorKind::Os,
                "resident_bytes",
                "the kernel's kinfo_proc has another size than libc's",
            ));
        }
        // SAFETY: the kernel filled the whole struct (checked above), which is plain data
        // (integers, arrays, raw pointers and structs of those) and was zeroed before.
        let pages = unsafe { info.assume_init_ref() }.ki_rssize;
        Ok(usize::try_from(pages).unwrap_or(0).saturating_mul(page_size()))
    }
}

/// # Safety
/// The range is committed, writable and owned by the caller.
pub(crate) unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    // SAFETY: the caller promises committed, writable memory.
    unsafe { touch_pages(ptr, size) };
    Ok(())
}

/// # Safety
/// The range lies inside reservations owned by the caller, who no longer relies on the
/// contents for `Free`.
pub(crate) unsafe fn advise(ptr: *mut u8, size: usize, advice: crate::Advice) -> Result<()> {
    use crate::Advice as A;
    let how = match advice {
        A::Normal => libc::MADV_NORMAL,
        A::Sequential => libc::MADV_SEQUENTIAL,
        A::Random => libc::MADV_RANDOM,
        A::WillNeed => libc::MADV_WILLNEED,
        #[cfg(any(target_os = "freebsd", target_os = "dragonfly", target_os = "netbsd", target_os = "openbsd"))]
        A::Free => libc::MADV_FREE,
        #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
        A::DontDump => libc::MADV_NOCORE,
        #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
        A::DoDump => libc::MADV_CORE,
        _ => {
            return Err(Error::new(ErrorKind::Unsupported, "advise", "this system has no such advice").at(ptr as usize, size))
        }
    };
    // SAFETY: advice only; the caller accepts what `Free` does to the contents.
    if unsafe { libc::madvise(ptr.cast(), size, how) } != 0 {
        let code = errno::errno().0;
        if code == libc::EINVAL && !matches!(advice, A::Free | A::DontDump | A::DoDump) {
            // An access-pattern hint the system does not know is ignored, as the contract says.
            return Ok(());
        }
        return Err(Error::from_os(ErrorKind::InvalidArgument, "advise", code).at(ptr as usize, size));
    }
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

/// Whether process `pid` exists (`kill(pid, 0)`). A zombie (dead, not yet reaped) counts as
/// alive until its parent reaps it.
#[cfg(feature = "std")]
pub(crate) fn process_alive(pid: u32) -> bool {
    rustix::process::Pid::from_raw(pid as i32)
        .is_some_and(|p| rustix::process::test_kill_process(p) != Err(rustix::io::Errno::SRCH))
}
