//! The platform contract: the only place that knows which OS it runs on.
//!
//! Every backend provides the functions below with these exact signatures. The public
//! modules validate arguments first, so a backend may assume:
//! - `ptr` is non-null and page-aligned, `size` is a non-zero multiple of the page size,
//!   and `ptr + size` does not overflow;
//! - for `release`, `ptr`/`size` are a whole reservation made by `reserve` or
//!   `reserve_aligned`.
//!
//! | function | what it must do |
//! |---|---|
//! | `page_size() -> usize`, `allocation_granularity() -> usize` | ask the OS; never 0 |
//! | `huge_page_size() -> Option<usize>` | the (transparent) huge page size, if any |
//! | `memory_status() -> Result<MemoryStatus>`, `resident_bytes() -> Result<usize>` | machine and process figures |
//! | `reserve(size) -> Result<*mut u8>` | address space with no access and no commit charge |
//! | `reserve_at(address, size) -> Result<*mut u8>` | reserve exactly `[address, address + size)` (aligned to the granularity), or fail with `OutOfAddressSpace`; never elsewhere, never over a mapping |
//! | `reserve_aligned(size, align) -> Result<*mut u8>` | the same, base aligned to `align` (a power of two above the granularity) |
//! | `release(ptr, size) -> Result<()>` | give the whole reservation back |
//! | `commit(ptr, size) -> Result<()>` | back the pages, read-write; fresh pages read zero; committed pages keep their contents |
//! | `decommit(ptr, size) -> Result<()>` | return the memory and the commit charge; the range stays reserved, no access; it reads zero when committed again |
//! | `protect(ptr, size, Protection) -> Result<()>` | change the protection of committed pages |
//! | `lock(ptr, size)`, `unlock(ptr, size)` | pin in RAM / unpin; unlocking pages that are not locked succeeds |
//! | `query(ptr, size, &mut Vec<RegionInfo>) -> Result<()>` | append the runs of pages covering the range, in order, clipped to it |
//! | `process_figures() -> ProcessFigures` | peak resident, mapped, private (commit-charged) and locked bytes of this process, `None` where unknown (default: all `None`) |
//! | `reset_peak_resident() -> Result<()>` | restart the peak (default: `Unsupported`) |
//! | `resource_limits() -> ResourceLimits` | `RLIMIT_AS`, `RLIMIT_DATA`, `RLIMIT_MEMLOCK` (Unix; elsewhere none) |
//! | `system_memory() -> Result<SystemMemory>` | huge page mode and sizes, overcommit, user address space, CPU address bits (default: all unknown) |
//! | `quick_query(ptr, size, &mut Vec<RegionInfo>) -> Result<()>` | the same, cheaply, where inaccessible pages may be reported `Reserved` although committed (Linux: no commit-charge information); elsewhere it is `query` |
//! | `prefault(ptr, size) -> Result<()>` | fault in committed, writable pages now; never write to a page it cannot prove writable (an ambiguous OS answer is an error, not a touch) |
//! | `advise_huge_pages(ptr, size) -> Result<()>` | ask for transparent huge pages, or `Unsupported` |
//! | `advise(ptr, size, Advice) -> Result<()>` | pass the advice on (anonymous memory and file views alike); an access-pattern hint the OS lacks is accepted and ignored; any other advice it lacks is `Unsupported` |
//! | `QUERY_SUPPORTED: bool` | whether `query` works here |
//! | `CHECKS_COMMIT_ITSELF: bool` | whether the OS itself refuses to lock or protect pages that are not committed (else the public layer asks `query` first) |
//! | `ring_map(size) -> Result<*mut u8>` | (feature `std`) `2 * size` bytes where the second half maps the same memory as the first; `size` is a non-zero multiple of the allocation granularity; no descriptor or handle stays open; a `fork`ed child sees the whole double mapping, sharing the bytes with its parent |
//! | `unsafe ring_unmap(ptr, size) -> Result<()>` | (feature `std`) undo `ring_map(size)` whose base was `ptr` |
//! | errors | a range that leaves the mapped address space is `InvalidArgument` (commit, protect, lock, unlock); a reservation the address space cannot hold is `OutOfAddressSpace` |
//!
//! Mapped files and shared memory (feature `std`; `file` is a `std::fs::File`):
//!
//! | function | what it must do |
//! |---|---|
//! | `unsafe map_reserve(size) -> Result<*mut u8>` | address space with no access that file views can later be placed in (Unix: a reservation; Windows: a placeholder) |
//! | `unsafe map_release(base, size, len) -> Result<()>` | unmap the views of `[0, len)` and release the whole `map_reserve(size)` |
//! | `unsafe remap_file(base, size, old_len, len, file, writable) -> Result<()>` | make `[base, base + page_round(len))` show the file's bytes `[0, len)`, at the same addresses as the views of `[0, old_len)` made by earlier calls; pages past it back to reserved; no page wholly past the file's end mapped; on failure the mapping is as it was |
//! | `unsafe flush_file(ptr, size, file, wait) -> Result<()>` | write dirty pages of the views back (`wait`: and wait until they are on disk) |
//! | `file_set_len(file, len) -> Result<()>` | set the file's length, refusing (not signalling) a length past the OS's file-size limit |
//! | `file_extend(file, old, new) -> Result<()>` | grow the file from `old` to `new` bytes, allocating its blocks where the file system can; on failure the file keeps length `old` |
//! | `file_len(file) -> Result<u64>` | the file's current length |
//! | `file_lock(file) -> Result<()>` | an exclusive advisory lock held until the file closes; fail at once (`PermissionDenied`) when someone else holds it |
//! | `SharedMemory` (type) | an anonymous shared-memory object (Unix: a `File`: memfd, `shm_open`; Windows: a section handle) |
//! | `shared_create(total) -> Result<SharedMemory>` | a new object that can grow to `total` bytes (Linux: sealed against shrinking) |
//! | `shared_extend(memory, old, new) -> Result<()>` | grow it from `old` to `new` bytes (or check it is that long already) |
//! | `shared_check_sealed(memory, operation) -> Result<()>` | refuse (`InvalidData`) an object another process could shrink under a mapping, where the OS can prevent that (Linux: a `memfd` without `F_SEAL_SHRINK`); elsewhere accept |
//! | `shared_len(memory) -> Result<Option<u64>>` | its size now, `None` where the OS cannot say (then mapping more cannot fault) |
//! | `unsafe shared_map(memory, total, len) -> Result<*mut u8>` | reserve `total` bytes and map the object's `[0, len)` into the front |
//! | `unsafe shared_remap(base, total, old_len, new_len, memory) -> Result<()>` | grow that mapping in place |
//! | `unsafe shared_unmap(base, total, len) -> Result<()>` | undo `shared_map` |
//! | `send_fd(socket, fd)`, `recv_fd(socket) -> Result<OwnedFd>`, `set_inheritable(fd, bool)` | (Unix) `SCM_RIGHTS` passing, `FD_CLOEXEC` |
//! | `unsafe ipc_map(memory, header, capacity) -> Result<*mut u8>` | map the object's `[0, header + capacity)` and then its `[header, header + capacity)` again right behind (the IPC ring's double mapping); both multiples of the allocation granularity |
//! | `unsafe ipc_unmap(base, header, capacity) -> Result<()>` | undo `ipc_map` |
//! | `wait_on(&AtomicU32, expected, timeout)` | sleep until woken, the word no longer holds `expected`, or `timeout` (across processes; may return early) |
//! | `wake_all(&AtomicU32)` | wake every `wait_on` of the word, in any process |
//! | `register_fast_publish() -> bool`, `fast_publish() -> bool` | whether this process may publish a position and then read the peer's sleeping flag with no store-load fence between (a sleeper's `sleep_barrier` stands in for it); the first registers, the second only asks (false again in a `fork`ed child) |
//! | `sleep_barrier() -> bool` | for a side about to sleep, after it set its flag: every fence-less publisher's earlier stores are visible afterwards and its later loads see the flag; false when that could not be done |
//! | `process_alive(pid) -> bool` | whether the process runs (a zombie counts as dead where the OS can tell) |

// Which file serves which target: the conditions are named once, in build.rs
// (`unix_backend`, `linux_backend`, ...). Unix targets not named there (Haiku, AIX, Hurd,
// QNX, Redox, tvOS, ...) get the stub: no backend has been written or checked for them.

/// Declares backend modules and re-exports their functions, each under its condition.
macro_rules! backends {
    ($($(#[$doc:meta])* $cond:ident => $name:ident;)*) => {$(
        $(#[$doc])*
        #[cfg($cond)]
        mod $name;
        #[cfg($cond)]
        pub(crate) use $name::*;
    )*};
}

backends! {
    unix_backend => unix;
    linux_backend => linux;
    macos_backend => macos;
    bsd_backend => bsd;
    windows_backend => windows;
    stub_backend => stub;
    /// The stub's mapped files, for the stub backend, and in place of the Windows backend's
    /// file code when that is type-checked off Windows (it needs `std::os::windows`).
    stub_files_backend => stub_files;
}

/// This process's memory figures beyond its resident size, where the OS reports them (see
/// `raw::status::ProcessMemory`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProcessFigures {
    pub(crate) peak_resident: Option<usize>,
    pub(crate) mapped: Option<usize>,
    pub(crate) private: Option<usize>,
    pub(crate) locked: Option<usize>,
}

/// Backends without process figures, a peak to reset, or system settings to report.
#[cfg(not(any(linux_backend, windows_backend, macos_backend)))]
mod no_figures {
    use crate::{Error, ErrorKind, Result, SystemMemory};

    pub(crate) fn process_figures() -> super::ProcessFigures {
        super::ProcessFigures::default()
    }

    pub(crate) fn system_memory() -> Result<SystemMemory> {
        Ok(SystemMemory {
            transparent_huge_pages: None,
            huge_page_sizes: alloc::vec::Vec::new(),
            overcommit: None,
            user_address_space_bytes: None,
            cpu_virtual_address_bits: None,
        })
    }

    pub(crate) fn reset_peak_resident() -> Result<()> {
        Err(Error::new(ErrorKind::Unsupported, "reset_peak_resident", "this system cannot restart the peak"))
    }
}
#[cfg(not(any(linux_backend, windows_backend, macos_backend)))]
pub(crate) use no_figures::*;

/// Without `getrlimit`, no limits.
#[cfg(not(unix_backend))]
pub(crate) fn resource_limits() -> crate::ResourceLimits {
    crate::ResourceLimits { address_space: None, data: None, locked: None }
}

/// Backends without a cross-process wait primitive (all but Linux: Windows' `WaitOnAddress`
/// works only within one process; macOS's `__ulock_wait` and FreeBSD's `_umtx_op` could do
/// better, and are not used yet). A waiter sleeps at most 1 ms and then looks again, so
/// there is nothing to wake, and a publisher needs no fence to avoid a lost wake-up: one
/// costs at most that millisecond.
#[cfg(all(feature = "std", not(linux_backend)))]
mod polling_wait {
    use core::sync::atomic::AtomicU32;
    use core::time::Duration;

    pub(crate) fn wait_on(_word: &AtomicU32, _expected: u32, timeout: Duration) {
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
    }

    pub(crate) fn wake_all(_word: &AtomicU32) {}

    pub(crate) fn register_fast_publish() -> bool {
        true
    }

    pub(crate) fn fast_publish() -> bool {
        true
    }

    pub(crate) fn sleep_barrier() -> bool {
        true
    }
}
#[cfg(all(feature = "std", not(linux_backend)))]
pub(crate) use polling_wait::*;

/// Elsewhere than Linux an object cannot be sealed (Windows' sections cannot shrink; a
/// macOS or BSD process holding the object can truncate it, as `SharedRegion`'s docs say).
#[cfg(all(feature = "std", not(linux_backend)))]
pub(crate) fn shared_check_sealed(_memory: &SharedMemory, _operation: &'static str) -> crate::Result<()> {
    Ok(())
}

/// Where the OS answers `query` cheaply already (every backend but Linux's), the quick
/// query is the query.
#[cfg(not(linux_backend))]
pub(crate) use self::query as quick_query;

/// Touches one byte per page of `[ptr, ptr + size)` as a write that keeps its value: the
/// portable way to fault pages in, shared by every backend's `prefault` fallback.
///
/// The write is an atomic `fetch_or` so that it keeps the byte even if another thread writes
/// it meanwhile. Its operand goes through `black_box`: an `or` with a constant 0 that the
/// optimiser can see is a no-op, and release builds deleted it, so the pages were never
/// faulted in.
///
/// # Safety
/// `[ptr, ptr + size)` is committed and writable, and stays so during the call.
pub(crate) unsafe fn touch_pages(ptr: *mut u8, size: usize) {
    use core::sync::atomic::{AtomicU8, Ordering};
    let page = crate::page_size();
    let nothing = core::hint::black_box(0u8);
    let mut offset = 0;
    while offset < size {
        // SAFETY: the byte is inside the committed, writable range; `AtomicU8` has the
        // alignment of `u8`. `fetch_or` with 0 writes the value the byte already has.
        unsafe { AtomicU8::from_ptr(ptr.add(offset)).fetch_or(nothing, Ordering::Relaxed) };
        offset += page;
    }
}
