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

mod advice;
mod align;
pub mod arena;
pub mod cache;
mod commit;
pub mod concurrent_vec;
mod error;
#[cfg(feature = "std")]
pub mod file_vec;
#[cfg(feature = "std")]
pub mod ipc_ring;
mod lock;
#[cfg(feature = "std")]
pub mod mapped_file;
mod os;
mod page;
pub mod pool;
mod protect;
mod protection;
mod query;
mod range;
mod region;
mod reservation;
mod reserve;
#[cfg(feature = "std")]
pub mod ring;
#[cfg(feature = "std")]
pub mod shared_region;
mod status;
mod sync;
pub mod sync_arena;
pub mod virtual_vec;

pub use advice::{advise_huge_pages, prefault};
pub use align::{align_down, align_up, is_aligned};
pub use arena::*;
pub use cache::trim;
pub use commit::{commit, decommit};
pub use concurrent_vec::{ConcurrentVec, ConcurrentVecIntoIter, ConcurrentVecIter};
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "std")]
pub use file_vec::{FileVec, FileVecOptions};
#[cfg(feature = "std")]
pub use ipc_ring::{IpcRing, Side};
pub use lock::{lock, unlock};
#[cfg(feature = "std")]
pub use mapped_file::{MapAdvice, MappedFile, MappedFileOptions};
pub use page::{allocation_granularity, huge_page_size, page_size};
pub use pool::{Handle, Pool, PoolIntoIter, PoolIter, PoolIterMut};
pub use protect::protect;
pub use protection::Protection;
pub use query::{query, PageState, RegionInfo};
pub use reservation::Reservation;
pub use reserve::{release, reserve, reserve_aligned};
#[cfg(feature = "std")]
pub use ring::*;
#[cfg(feature = "std")]
pub use shared_region::SharedRegion;
pub use status::{memory_status, resident_bytes, MemoryStatus};
pub use sync_arena::*;
pub use virtual_vec::VirtualVec;

/// The README's Rust examples, compiled and run as doctests so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
