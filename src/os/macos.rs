//! macOS and iOS extras: `sysctl` figures, Mach region queries, Mach double mapping.
//!
//! Reserve, commit, decommit, protect and lock come from `unix.rs` (decommit remaps with
//! `MAP_FIXED`, because `MADV_DONTNEED` neither frees nor zeroes here). Pages are 16 KiB on
//! Apple Silicon.
//!
//! Written from Apple's documentation and the `mach2`/`libc` declarations; it is compiled
//! and tested by the macOS job of `.github/workflows/ci.yml`, not on the Linux machine the
//! project is developed on.

use alloc::vec::Vec;
use core::ffi::CStr;
use core::mem::{size_of, MaybeUninit};

use mach2::kern_return::{KERN_INVALID_ADDRESS, KERN_SUCCESS};
use mach2::traps::mach_task_self;
use mach2::vm::mach_vm_region;
use mach2::vm_prot::{VM_PROT_EXECUTE, VM_PROT_READ, VM_PROT_WRITE};
use mach2::vm_region::{vm_region_basic_info_64, vm_region_info_t, VM_REGION_BASIC_INFO_64};
use mach2::vm_types::{mach_vm_address_t, mach_vm_size_t};

use super::unix::{page_size, touch_pages};
use crate::raw::query::push_run;
use crate::{Error, ErrorKind, MemoryStatus, PageState, Protection, RegionInfo, Result};

/// `mach_vm_region` answers queries.
pub(crate) const QUERY_SUPPORTED: bool = true;
/// `mlock` accepts `PROT_NONE` pages, so the public layer checks commit state itself.
pub(crate) const CHECKS_COMMIT_ITSELF: bool = false;

pub(crate) fn huge_page_size() -> Option<usize> {
    // macOS has no transparent huge pages for user mappings.
    None
}

/// Reads an integer `sysctl` by name.
fn sysctl_u64(operation: &'static str, name: &CStr) -> Result<u64> {
    let mut value = [0u8; 8];
    let mut len = value.len();
    // SAFETY: `value` is a writable buffer of `len` bytes; the name is NUL-terminated.
    let rc =
        unsafe { libc::sysctlbyname(name.as_ptr(), value.as_mut_ptr().cast(), &mut len, core::ptr::null_mut(), 0) };
    if rc != 0 {
        return Err(Error::new(ErrorKind::Os, operation, "sysctl failed"));
    }
    Ok(match len {
        4 => u32::from_ne_bytes([value[0], value[1], value[2], value[3]]) as u64,
        _ => u64::from_ne_bytes(value),
    })
}

pub(crate) fn memory_status() -> Result<MemoryStatus> {
    let total = sysctl_u64("memory_status", c"hw.memsize")?;
    // Free pages only: a conservative figure (inactive and purgeable pages could be given too).
    let free_pages = sysctl_u64("memory_status", c"vm.page_free_count").unwrap_or(0);
    let available = free_pages.saturating_mul(page_size() as u64).min(total);
    Ok(MemoryStatus {
        total_physical_bytes: total,
        available_physical_bytes: available,
        committed_bytes: None,
        commit_limit_bytes: None,
    })
}

/// `struct mach_task_basic_info` (`MACH_TASK_BASIC_INFO`, packed to 4 bytes as in the header).
#[repr(C, packed(4))]
#[allow(dead_code)] // filled by the kernel; only `resident_size` is read
struct MachTaskBasicInfo {
    virtual_size: u64,
    resident_size: u64,
    resident_size_max: u64,
    user_time: [i32; 2],
    system_time: [i32; 2],
    policy: i32,
    suspend_count: i32,
}

const MACH_TASK_BASIC_INFO: u32 = 20;

pub(crate) fn resident_bytes() -> Result<usize> {
    let mut info = MaybeUninit::<MachTaskBasicInfo>::zeroed();
    let mut count = (size_of::<MachTaskBasicInfo>() / size_of::<i32>()) as u32;
    // SAFETY: `info` is a buffer of `count` integers, as task_info expects for this flavor.
    let rc =
        unsafe { mach2::task::task_info(mach_task_self(), MACH_TASK_BASIC_INFO, info.as_mut_ptr().cast(), &mut count) };
    if rc != KERN_SUCCESS {
        return Err(Error::new(ErrorKind::Os, "resident_bytes", "task_info(MACH_TASK_BASIC_INFO) failed"));
    }
    // SAFETY: task_info succeeded and filled the struct.
    let info = unsafe { info.assume_init() };
    let resident = info.resident_size;
    Ok(usize::try_from(resident).unwrap_or(usize::MAX))
}

/// Peak resident and mapped sizes from `task_info`.
pub(crate) fn process_figures() -> super::ProcessFigures {
    let mut info = MaybeUninit::<MachTaskBasicInfo>::zeroed();
    let mut count = (size_of::<MachTaskBasicInfo>() / size_of::<i32>()) as u32;
    // SAFETY: as in `resident_bytes`.
    let rc =
        unsafe { mach2::task::task_info(mach_task_self(), MACH_TASK_BASIC_INFO, info.as_mut_ptr().cast(), &mut count) };
    if rc != KERN_SUCCESS {
        return super::ProcessFigures::default();
    }
    // SAFETY: task_info succeeded and filled the struct.
    let info = unsafe { info.assume_init() };
    super::ProcessFigures {
        peak_resident: usize::try_from(info.resident_size_max).ok(),
        mapped: usize::try_from(info.virtual_size).ok(),
        private: None,
        locked: None,
    }
}

pub(crate) fn reset_peak_resident() -> Result<()> {
    Err(Error::new(ErrorKind::Unsupported, "reset_peak_resident", "macOS cannot restart the peak resident size"))
}

pub(crate) fn system_memory() -> Result<crate::SystemMemory> {
    Ok(crate::SystemMemory {
        transparent_huge_pages: None,
        huge_page_sizes: Vec::new(),
        overcommit: None,
        user_address_space_bytes: None,
        cpu_virtual_address_bits: None,
    })
}

fn protection_of(prot: i32) -> Protection {
    Protection::from_flags(prot & VM_PROT_READ != 0, prot & VM_PROT_WRITE != 0, prot & VM_PROT_EXECUTE != 0)
        .unwrap_or(Protection::ReadWrite)
}
/// Walks the regions with `mach_vm_region`, which returns the first region at or above the
/// address asked. An inaccessible region is reported reserved: Mach does not say whether
/// its pages were ever committed.
pub(crate) fn query(ptr: *mut u8, size: usize, out: &mut Vec<RegionInfo>) -> Result<()> {
    let end = ptr as usize + size;
    let mut cursor = ptr as usize;
    while cursor < end {
        let mut address = cursor as mach_vm_address_t;
        let mut region_size: mach_vm_size_t = 0;
        let mut info = vm_region_basic_info_64::default();
        let mut count = vm_region_basic_info_64::count();
        let mut object_name = 0;
        // SAFETY: all out pointers are valid; `info` holds `count` integers of this flavor.
        let rc = unsafe {
            mach_vm_region(
                mach_task_self(),
                &mut address,
                &mut region_size,
                VM_REGION_BASIC_INFO_64,
                (&mut info as *mut vm_region_basic_info_64) as vm_region_info_t,
                &mut count,
                &mut object_name,
            )
        };
        if rc == KERN_INVALID_ADDRESS {
            // Nothing mapped at or above the cursor.
            return push_run(out, cursor, end, PageState::Free, Protection::NoAccess);
        }
        if rc != KERN_SUCCESS {
            return Err(Error::new(ErrorKind::Os, "query", "mach_vm_region failed").at(ptr as usize, size));
        }
        let start = (address as usize).max(cursor).min(end);
        push_run(out, cursor, start, PageState::Free, Protection::NoAccess)?;
        let stop = (address as usize).saturating_add(region_size as usize).min(end);
        let protection = protection_of(info.protection);
        let state = if protection == Protection::NoAccess { PageState::Reserved } else { PageState::Committed };
        push_run(out, start, stop, state, protection)?;
        if stop <= cursor {
            break;
        }
        cursor = stop;
    }
    Ok(())
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
        A::Free => libc::MADV_FREE,
        _ => {
            return Err(Error::new(ErrorKind::Unsupported, "advise", "macOS has no such advice").at(ptr as usize, size))
        }
    };
    // SAFETY: advice only; the caller accepts what `Free` does to the contents.
    if unsafe { libc::madvise(ptr.cast(), size, how) } != 0 {
        let code = errno::errno().0;
        if code == libc::EINVAL && advice != A::Free {
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
    Err(Error::new(ErrorKind::Unsupported, "advise_huge_pages", "macOS has no transparent huge pages")
        .at(ptr as usize, size))
}

#[cfg(feature = "std")]
pub(crate) use ring::{ring_map, ring_unmap};

/// The double mapping for the ring buffer: allocate `2 * size`, then remap the first half
/// over the second half, sharing (not copying) its pages.
///
/// Both halves are marked `VM_INHERIT_SHARE`, so a `fork`ed child inherits the double mapping
/// whole and shares the bytes with its parent, as the `MAP_SHARED` mappings of Linux and the
/// BSDs do. (With the default `VM_INHERIT_COPY` the child's first half would be a private
/// copy while its second half stayed shared; with `VM_INHERIT_NONE` the child would have no
/// second half and crash at the wrap.)
#[cfg(feature = "std")]
mod ring {
    use super::*;
    use mach2::vm::{mach_vm_allocate, mach_vm_deallocate, mach_vm_inherit, mach_vm_remap};
    use mach2::vm_inherit::VM_INHERIT_SHARE;
    use mach2::vm_statistics::{VM_FLAGS_ANYWHERE, VM_FLAGS_FIXED, VM_FLAGS_OVERWRITE};

    pub(crate) fn ring_map(size: usize) -> Result<*mut u8> {
        let total = size.checked_mul(2).ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, "ring_map", "twice the size overflows usize").sized(size)
        })?;
        // SAFETY: allocates fresh memory in our own task; every failure path deallocates it.
        unsafe {
            let task = mach_task_self();
            let mut base: mach_vm_address_t = 0;
            let rc = mach_vm_allocate(task, &mut base, total as mach_vm_size_t, VM_FLAGS_ANYWHERE);
            if rc != KERN_SUCCESS {
                return Err(Error::new(ErrorKind::OutOfAddressSpace, "ring_map", "mach_vm_allocate failed").sized(size));
            }
            let mut second = base + size as mach_vm_address_t;
            let (mut current, mut max) = (0, 0);
            let rc = mach_vm_remap(
                task,
                &mut second,
                size as mach_vm_size_t,
                0,
                VM_FLAGS_FIXED | VM_FLAGS_OVERWRITE,
                task,
                base,
                0,
                &mut current,
                &mut max,
                VM_INHERIT_SHARE,
            );
            if rc != KERN_SUCCESS || second != base + size as mach_vm_address_t {
                mach_vm_deallocate(task, base, total as mach_vm_size_t);
                return Err(Error::new(ErrorKind::OutOfMemory, "ring_map", "mach_vm_remap failed").sized(size));
            }
            if mach_vm_inherit(task, base, total as mach_vm_size_t, VM_INHERIT_SHARE) != KERN_SUCCESS {
                mach_vm_deallocate(task, base, total as mach_vm_size_t);
                return Err(
                    Error::new(ErrorKind::Os, "ring_map", "mach_vm_inherit(VM_INHERIT_SHARE) failed").sized(size)
                );
            }
            Ok(base as usize as *mut u8)
        }
    }

    /// # Safety
    /// `ptr` came from `ring_map(size)` and nothing uses it any more.
    pub(crate) unsafe fn ring_unmap(ptr: *mut u8, size: usize) -> Result<()> {
        // SAFETY: deallocates exactly the `2 * size` bytes `ring_map` made.
        let rc = unsafe { mach_vm_deallocate(mach_task_self(), ptr as usize as mach_vm_address_t, 2 * size as u64) };
        if rc == KERN_SUCCESS {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Os, "ring_unmap", "mach_vm_deallocate failed").at(ptr as usize, size))
        }
    }
}

// ---- mapped files and shared memory ----

/// A `shm_open` object, unlinked at once, sized to `total` bytes at creation: macOS lets a
/// shared-memory object be sized only once (a second `ftruncate` fails with `EINVAL`), so
/// the region's maximum is its size from the start. Its pages are allocated when touched.
#[cfg(feature = "std")]
pub(crate) fn shared_create(total: usize) -> Result<super::unix::SharedMemory> {
    use core::sync::atomic::{AtomicU32, Ordering};
    use std::os::fd::{FromRawFd, OwnedFd};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    for _ in 0..16 {
        let name = std::format!("/vmem-shr-{}-{}\0", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        // SAFETY: `name` is NUL-terminated; O_EXCL makes sure the object is new.
        let fd = unsafe {
            libc::shm_open(name.as_ptr().cast(), libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC, 0o600)
        };
        if fd >= 0 {
            // SAFETY: removes the name at once; the descriptor keeps the object alive.
            unsafe { libc::shm_unlink(name.as_ptr().cast()) };
            // SAFETY: `fd` was just opened and is owned by nothing else.
            let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
            super::unix::file_set_len(&file, total as u64)?;
            return Ok(file);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            break;
        }
    }
    let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    Err(Error::from_os(ErrorKind::Os, "SharedRegion::create", code).because("shm_open failed"))
}

/// The object has its full size from creation: only check it.
#[cfg(feature = "std")]
pub(crate) fn shared_extend(memory: &super::unix::SharedMemory, _old: u64, new: u64) -> Result<()> {
    if super::unix::file_len(memory)? >= new {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::OutOfMemory, "SharedRegion::grow", "the shared-memory object is smaller than asked")
            .sized(usize::try_from(new).unwrap_or(usize::MAX)))
    }
}

/// Whether process `pid` exists (`kill(pid, 0)`). A zombie (dead, not yet reaped) counts as
/// alive until its parent reaps it.
#[cfg(feature = "std")]
pub(crate) fn process_alive(pid: u32) -> bool {
    rustix::process::Pid::from_raw(pid as i32)
        .is_some_and(|p| rustix::process::test_kill_process(p) != Err(rustix::io::Errno::SRCH))
}
