//! # vmem-ffi: the C ABI of vmem
//!
//! The code of `libvmem.a` and `libvmem.so` (`vmem.lib`/`vmem.dll` on Windows; the `vmem-c`
//! package in `ffi/c` builds them from this crate) with the
//! API of the C header library `vmem.h`, declared and documented in `ffi/include/vmem.h`:
//! reserve address space, commit and decommit pages, protect, lock, query, and an arena.
//!
//! ```sh
//! cargo build --profile release-c -p vmem-c
//! cc -std=c11 -Iffi/include app.c target/release-c/libvmem.a -lpthread -ldl -lm -o app
//! ```
//!
//! ## What it adds to the original
//!
//! - **No set-up call**: `vmem_init` is optional; the page size is never 0.
//! - **No call aborts, asserts or panics.** Every exported function runs in a guard
//!   (`catch_unwind`) and is written panic-free besides: the crate's lints reject arithmetic
//!   that could overflow, indexing, `unwrap` and `panic!` outside tests (enforced by
//!   `cargo clippy -- -D warnings`). The list of live reservations is a vector grown with
//!   `try_reserve`, so even a full heap is an error, not an abort. Every failure returns
//!   0 or NULL and leaves a message for `vmem_get_error_message()` in a per-thread buffer;
//!   every successful call of a function that can fail empties it.
//! - **Pointers that are not ours are errors.** Every reservation is recorded; commit,
//!   decommit, protect, lock and release of a range outside a live reservation are refused
//!   instead of reaching the OS (where they would change memory someone else owns). A
//!   release and a commit of the same range from two threads cannot interleave.
//! - **Reserved memory is inaccessible** until committed (the original reserves read-write
//!   memory on Linux), and decommitted memory really goes back to the OS.
//! - `vmem_query_range_info` works on Linux (the original says "not supported").
//!
//! ## Cost model
//!
//! Each call that reserves, releases, commits, decommits, protects or locks is one system
//! call (two for `vmem_commit_protect` with a protection other than read-write), plus a
//! lookup in the sorted list of live reservations under a read-write lock (reserve and
//! release take it for writing). `vmem_query_range_info` reads `/proc/self/smaps` on Linux;
//! protect and lock check commit state in the reservation's own record. `vmem_arena_push`:
//! see `arena.rs` (a few comparisons and a thread-local read when it fits in memory this
//! thread checked).
//!
//! From Rust, the same functions are callable through this crate (`vmem_ffi`, which calls
//! the `vmem` crate `vmem_core`); the C libraries are built by the `vmem-c` package. Rust
//! programs should use the `vmem` crate itself.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
// A failure is a ~180-byte `Copy` value built only on the error path; boxing it would make
// the error path allocate, and so able to abort when the heap is exhausted.
#![allow(clippy::result_large_err)]
// Panic-freedom, checked by the compiler rather than promised: no overflowing arithmetic,
// no indexing that can fail, no unwrap, no panic (tests may do all of these).
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

mod align;
mod arena;
mod commit;
mod file;
mod grow_arena;
mod info;
mod lock;
mod message;
mod registry;
mod reserve;
mod types;

pub use align::{vmem_align_backward, vmem_align_forward, vmem_is_aligned};
pub use arena::{
    vmem_arena_checkpoint, vmem_arena_deinit_dealloc, vmem_arena_init, vmem_arena_init_alloc, vmem_arena_is_valid,
    vmem_arena_push, vmem_arena_reset, vmem_arena_rewind, vmem_arena_set_commited,
};
pub use commit::{vmem_commit, vmem_commit_protect, vmem_decommit, vmem_partially_commit_region, vmem_protect};
pub use file::{
    vmem_file_close, vmem_file_flush, vmem_file_flush_range, vmem_file_grow, vmem_file_is_valid, vmem_file_len,
    vmem_file_max_size, vmem_file_open, vmem_file_ptr, vmem_file_set_len, VMemFile, VMemFileFlag_Create,
    VMemFileFlag_ReadOnly, VMemFileFlag_Truncate, VMemFileFlags,
};
pub use grow_arena::{
    vmem_grow_arena_allocated_bytes, vmem_grow_arena_checkpoint, vmem_grow_arena_committed_bytes,
    vmem_grow_arena_create, vmem_grow_arena_destroy, vmem_grow_arena_is_valid, vmem_grow_arena_push,
    vmem_grow_arena_push_zeroed, vmem_grow_arena_reserved_bytes, vmem_grow_arena_reset, vmem_grow_arena_rewind,
    VMemGrowArena, VMemGrowArenaConfig, VMemGrowArenaMark,
};
pub use info::{
    vmem_get_allocation_granularity, vmem_get_error_message, vmem_get_page_size, vmem_get_protect_name, vmem_init,
    vmem_query_allocation_granularity, vmem_query_page_size, vmem_query_range_info, vmem_query_usage_status,
};
pub use lock::{vmem_lock, vmem_unlock};
pub use message::MESSAGE_CAPACITY;
pub use reserve::{
    vmem_alloc, vmem_alloc_commited, vmem_alloc_protect, vmem_dealloc, vmem_free, vmem_release, vmem_reserve,
};
pub use types::*;
