//! # vmem: virtual address space, directly
//!
//! Every process has far more address space than memory: 128 TiB on x86-64 Linux. `vmem`
//! lets you use that directly, the way the C header library `vmem.h` does, safely and on
//! every platform:
//!
//! - **reserve** a range of address space: it costs no memory and no commit charge, and any
//!   access to it faults;
//! - **commit** the pages you need: they read zero, and are backed by memory when touched;
//! - **decommit** pages you no longer need: the memory (and on Linux the commit charge)
//!   really goes back to the OS, and the pages read zero if committed again;
//! - **protect**, **lock**, **query** pages; **release** the range.
//!
//! Because a reservation never moves, data structures built on one can grow in place and
//! never move their elements. That is what the types of this crate do: an [`Arena`] that
//! grows without moving, a [`VirtualVec`] with stable addresses, a lock-free append-only
//! [`ConcurrentVec`], a [`Pool`] with generational handles, and a double-mapped
//! [`RingBuffer`] whose readable and writable parts are always one slice. On files and
//! shared memory: a [`MappedFile`] that grows in place, a persistent [`FileVec`], a
//! [`SharedRegion`] that grows in every process mapping it, and an [`IpcRing`] between two
//! processes.
//!
//! ## Quick example
//!
//! ```
//! use vmem::{PageState, Reservation};
//!
//! let page = vmem::page_size();
//! let r = Reservation::new(1 << 30)?;        // 1 GiB of address space, no memory
//! r.commit(0, 16 * page)?;                   // 16 pages of memory, reading zero
//! let p = r.as_ptr();
//! // SAFETY: the first 16 pages are committed and read-write.
//! unsafe { p.write_bytes(1, 16 * page) };
//! r.decommit(0, 16 * page)?;                 // memory returned to the OS
//! assert_eq!(r.query()?[0].state, PageState::Reserved);
//! # Ok::<(), vmem::Error>(())
//! ```
//!
//! ## Cost model
//!
//! | call | cost |
//! |---|---|
//! | [`page_size`], [`allocation_granularity`], [`huge_page_size`] | a load after the first call |
//! | [`align_up`], [`align_down`], [`is_aligned`] | a few instructions |
//! | [`reserve`], [`release`], [`commit`], [`decommit`], [`protect`], [`unlock`] | one system call each |
//! | first touch of a committed page | one page fault (or use [`prefault`]) |
//! | [`query`], [`lock`] | a read of `/proc/self/smaps` on Linux; `VirtualQuery` per run on Windows |
//!
//! ## Errors
//!
//! No function panics or aborts on bad input or OS failure. Each returns an [`Error`] that
//! says what was asked (operation, address, size), which limit stood in the way, and the OS
//! error.
//!
//! ## `no_std`
//!
//! Without the default `std` feature the crate is `no_std` and needs only `alloc` (for
//! [`query`]'s result).
#![cfg_attr(not(feature = "std"), no_std)]
#![warn(missing_docs, unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

// Layer 1: the raw operations (a file per operation) over the OS backends (a file per OS
// family behind one contract).
mod os;
mod raw;
// Layer 2: how structures get memory (`GrowRegion`, the warm cache) and the one lock.
mod region;
mod sync;
// Layer 3: the data structures.
pub mod arena;
pub mod concurrent_vec;
#[cfg(feature = "std")]
pub mod file_vec;
#[cfg(feature = "std")]
pub mod ipc_ring;
#[cfg(feature = "std")]
pub mod mapped_file;
pub mod pool;
#[cfg(feature = "std")]
pub mod ring;
#[cfg(feature = "std")]
pub mod shared_region;
pub mod virtual_vec;

mod error;

pub use error::{Error, ErrorKind, Result};
pub use raw::advise::{advise, advise_huge_pages, prefault, Advice};
pub use raw::align::{align_down, align_up, is_aligned};
pub use raw::commit::{commit, decommit};
pub use raw::lock::{lock, unlock};
pub use raw::page::{allocation_granularity, huge_page_size, page_size};
pub use raw::protect::{protect, Protection};
pub use raw::query::{query, PageState, RegionInfo};
pub use raw::reservation::{LockGuard, ProtectGuard, Reservation};
pub use raw::reserve::{release, reserve, reserve_aligned, reserve_at};
pub use raw::status::{
    memory_status, process_memory, reset_peak_resident, resident_bytes, resource_limits, system_memory, HugePageMode,
    MemoryStatus, Overcommit, ProcessMemory, ResourceLimit, ResourceLimits, SystemMemory,
};
pub use region::cache;
pub use region::cache::trim;
pub use region::DEFAULT_RESERVE_BYTES;

pub use arena::{Arena, ArenaBuilder, SyncArena};
pub use concurrent_vec::ConcurrentVec;
#[cfg(feature = "std")]
pub use file_vec::{FileVec, FileVecOptions};
#[cfg(feature = "std")]
pub use ipc_ring::{IpcRing, Side};
#[cfg(feature = "std")]
pub use mapped_file::{MappedFile, MappedFileOptions};
pub use pool::{Handle, Pool};
#[cfg(feature = "std")]
pub use ring::{Consumer, Producer, RingBuffer};
#[cfg(feature = "std")]
pub use shared_region::SharedRegion;
pub use virtual_vec::VirtualVec;

/// The allocator interface the arenas implement, re-exported so that users need not add the
/// crate: `vmem::allocator_api2::vec::Vec::new_in(&arena)`.
///
/// ```
/// let arena = vmem::Arena::new();
/// let mut v = vmem::allocator_api2::vec::Vec::new_in(&arena);
/// v.extend_from_slice(&[1, 2, 3]);
/// assert_eq!(v.iter().sum::<i32>(), 6);
/// ```
pub use allocator_api2;

// The names of the previous release that moved: still there, deprecated.
#[deprecated(since = "0.2.0", note = "moved to `vmem::arena::Checkpoint`")]
#[doc(hidden)]
pub type Checkpoint = arena::Checkpoint;
#[deprecated(since = "0.2.0", note = "moved to `vmem::concurrent_vec::Iter`")]
#[doc(hidden)]
pub type ConcurrentVecIter<'a, T> = concurrent_vec::Iter<'a, T>;
#[deprecated(since = "0.2.0", note = "moved to `vmem::concurrent_vec::IntoIter`")]
#[doc(hidden)]
pub type ConcurrentVecIntoIter<T> = concurrent_vec::IntoIter<T>;
#[deprecated(since = "0.2.0", note = "moved to `vmem::pool::Iter`")]
#[doc(hidden)]
pub type PoolIter<'a, T> = pool::Iter<'a, T>;
#[deprecated(since = "0.2.0", note = "moved to `vmem::pool::IterMut`")]
#[doc(hidden)]
pub type PoolIterMut<'a, T> = pool::IterMut<'a, T>;
#[deprecated(since = "0.2.0", note = "moved to `vmem::pool::IntoIter`")]
#[doc(hidden)]
pub type PoolIntoIter<T> = pool::IntoIter<T>;

/// The previous release's home of [`SyncArena`]: now [`vmem::arena::SyncArena`](crate::arena::SyncArena).
#[deprecated(since = "0.2.0", note = "moved to `vmem::arena::SyncArena`")]
#[doc(hidden)]
pub mod sync_arena {
    pub use crate::arena::SyncArena;
}

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
