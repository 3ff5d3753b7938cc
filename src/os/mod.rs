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
//! | `reserve_aligned(size, align) -> Result<*mut u8>` | the same, base aligned to `align` (a power of two above the granularity) |
//! | `release(ptr, size) -> Result<()>` | give the whole reservation back |
//! | `commit(ptr, size) -> Result<()>` | back the pages, read-write; fresh pages read zero; committed pages keep their contents |
//! | `decommit(ptr, size) -> Result<()>` | return the memory and the commit charge; the range stays reserved, no access; it reads zero when committed again |
//! | `protect(ptr, size, Protection) -> Result<()>` | change the protection of committed pages |
//! | `lock(ptr, size)`, `unlock(ptr, size)` | pin in RAM / unpin |
//! | `query(ptr, size, &mut Vec<RegionInfo>) -> Result<()>` | append the runs of pages covering the range, in order, clipped to it |
//! | `prefault(ptr, size) -> Result<()>` | fault in committed pages now |
//! | `advise_huge_pages(ptr, size) -> Result<()>` | ask for transparent huge pages, or `Unsupported` |
//! | `QUERY_SUPPORTED: bool` | whether `query` works here |
//! | `CHECKS_COMMIT_ITSELF: bool` | whether the OS itself refuses to lock pages that are not committed |
//! | `ring_map(size) -> Result<*mut u8>` | (feature `std`) `2 * size` bytes where the second half maps the same memory as the first; `size` is a non-zero multiple of the allocation granularity; no descriptor or handle stays open |
//! | `unsafe ring_unmap(ptr, size) -> Result<()>` | (feature `std`) undo `ring_map(size)` whose base was `ptr` |
//!
//! Mapped files and shared memory (feature `std`; `file` is a `std::fs::File`):
//!
//! | function | what it must do |
//! |---|---|
//! | `unsafe map_reserve(size) -> Result<*mut u8>` | address space with no access that file views can later be placed in (Unix: a reservation; Windows: a placeholder) |
//! | `unsafe map_release(base, size, len) -> Result<()>` | unmap the views of `[0, len)` and release the whole `map_reserve(size)` |
//! | `unsafe remap_file(base, size, old_len, len, file, writable) -> Result<()>` | make `[base, base + page_round(len))` show the file's bytes `[0, len)`, at the same addresses as the views of `[0, old_len)` made by earlier calls; pages past it back to reserved; no page wholly past the file's end mapped; on failure the mapping is as it was |
//! | `unsafe flush_file(ptr, size, file, wait) -> Result<()>` | write dirty pages of the views back (`wait`: and wait until they are on disk) |
//! | `unsafe advise_file(ptr, size, MapAdvice) -> Result<()>` | access-pattern advice for views (or accept and ignore it) |
//! | `file_set_len(file, len) -> Result<()>` | set the file's length, refusing (not signalling) a length past the OS's file-size limit |
//! | `file_extend(file, old, new) -> Result<()>` | grow the file from `old` to `new` bytes, allocating its blocks where the file system can; on failure the file keeps length `old` |
//! | `file_len(file) -> Result<u64>` | the file's current length |
//! | `file_lock(file) -> Result<()>` | an exclusive advisory lock held until the file closes; fail at once (`PermissionDenied`) when someone else holds it |
//! | `SharedMemory` (type) | an anonymous shared-memory object (Unix: a `File`: memfd, `shm_open`; Windows: a section handle) |
//! | `shared_create(total) -> Result<SharedMemory>` | a new object that can grow to `total` bytes (Linux: sealed against shrinking) |
//! | `shared_extend(memory, old, new) -> Result<()>` | grow it from `old` to `new` bytes (or check it is that long already) |
//! | `shared_len(memory) -> Result<Option<u64>>` | its size now, `None` where the OS cannot say (then mapping more cannot fault) |
//! | `unsafe shared_map(memory, total, len) -> Result<*mut u8>` | reserve `total` bytes and map the object's `[0, len)` into the front |
//! | `unsafe shared_remap(base, total, old_len, new_len, memory) -> Result<()>` | grow that mapping in place |
//! | `unsafe shared_unmap(base, total, len) -> Result<()>` | undo `shared_map` |
//! | `send_fd(socket, fd)`, `recv_fd(socket) -> Result<OwnedFd>`, `set_inheritable(fd, bool)` | (Unix) `SCM_RIGHTS` passing, `FD_CLOEXEC` |
//! | `unsafe ipc_map(memory, header, capacity) -> Result<*mut u8>` | map the object's `[0, header + capacity)` and then its `[header, header + capacity)` again right behind (the IPC ring's double mapping); both multiples of the allocation granularity |
//! | `unsafe ipc_unmap(base, header, capacity) -> Result<()>` | undo `ipc_map` |
//! | `wait_on(&AtomicU32, expected, timeout)` | sleep until woken, the word no longer holds `expected`, or `timeout` (across processes; may return early) |
//! | `wake_all(&AtomicU32)` | wake every `wait_on` of the word, in any process |
//! | `process_alive(pid) -> bool` | whether the process runs (a zombie counts as dead where the OS can tell) |

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use linux::*;

#[cfg(any(target_os = "macos", target_os = "ios"))]
mod macos;
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub(crate) use macos::*;

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "ios"))))]
mod bsd;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "ios"))))]
pub(crate) use bsd::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
mod stub;
#[cfg(not(any(unix, windows)))]
pub(crate) use stub::*;
