//! `Arena`: a bump allocator on reserved address space that grows without moving.
//!
//! An arena hands out memory by bumping a pointer inside a large reserved block. Pages are
//! committed in steps as the pointer advances, so memory use follows what was allocated,
//! and nothing ever moves: every reference stays valid until the arena is reset or dropped.
//! When a block is full, the arena reserves another one (at least as large as the request)
//! and chains it; it is unbounded unless [`ArenaBuilder::max_bytes`] sets a limit.
//!
//! Use an arena for many short-lived values that die together: the nodes of a parse tree,
//! the scratch data of a frame or a request, an interned-string table. Free them all at once
//! with [`Arena::reset`] (which also returns memory beyond what you asked to keep), or free
//! the allocations of a region of code with [`Arena::scope`] or
//! [`Arena::checkpoint`]/[`Arena::rewind`].
//!
//! # Cost model
//!
//! - An allocation is an alignment round-up, a compare and a pointer bump: no system call,
//!   no lock, no header.
//! - Growth: one `commit` system call per commit step (by default as much as the block has
//!   committed, from 64 KiB to 64 MiB), each faulted in at once (one `madvise`, not a page
//!   fault per page); past 4 MiB a block uses transparent huge pages.
//! - A new block takes a region from the [warm cache](crate::cache): no system call and no
//!   page fault for memory a dropped structure left there; otherwise one `reserve` system
//!   call (no memory is used until committed).
//! - [`reset`](Arena::reset) keeps what recent rounds needed and decommits the rest (one
//!   system call when there is a rest); chained blocks go back to the warm cache. A loop of
//!   rounds that each need the same memory makes no system call and takes no page fault.
//! - Drop: the blocks go to the warm cache, with their committed memory.
//! - An arena of one block needs no heap allocation: the first block lives inside the
//!   `Arena` value; chained blocks are kept in a `Vec`.
//! - The [allocation limit](Arena::set_allocation_limit) costs nothing on the fast path: it
//!   lowers the end the pointer bump compares against, and is checked on the slow path.
//!
//! # What it does not do
//!
//! It does **not run `Drop`** for values allocated with [`alloc`](Arena::alloc) and
//! friends: their memory is reclaimed, their destructors never run (as with `bumpalo`). Use
//! it for plain data, or collections whose contents need no drop, or call
//! `core::ptr::drop_in_place` yourself. It does not free individual allocations (except the
//! most recent one, through the [`Allocator`](allocator_api2::alloc::Allocator) interface).
//!
//! # What it offers (as `bumpalo` does)
//!
//! Both arenas, [`Arena`] and [`SyncArena`], have the same typed helpers, written once:
//! `alloc`, `alloc_with` (constructs the value in place where the optimizer can),
//! `alloc_layout`, `alloc_str`, `alloc_slice_copy`, `alloc_slice_clone`,
//! `alloc_slice_fill_with`, `alloc_slice_fill_iter`, `alloc_slice_fill_copy`,
//! `alloc_slice_fill_clone`, `alloc_slice_fill_default`, each with a `try_` form that returns
//! an error instead of panicking. Both have `with_capacity`, a runtime allocation limit
//! ([`Arena::set_allocation_limit`]), `iter_allocated_chunks`, `checkpoint`/`rewind`/`scope`,
//! `reset`, and implement [`Allocator`](allocator_api2::alloc::Allocator) (re-exported as
//! [`vmem::allocator_api2`](crate::allocator_api2)), so `Vec`, `HashMap` and friends of
//! `allocator_api2` and `hashbrown` can live in them.
//!
//! ```
//! use vmem::Arena;
//!
//! let mut arena = Arena::new();
//! let point = arena.alloc((1.0f64, 2.0f64));
//! let name = arena.alloc_str("origin");
//! let squares = arena.alloc_slice_fill_with(5, |i| i * i);
//! point.0 += 1.0;
//! assert_eq!((point.0, &*name, &squares[..]), (2.0, "origin", &[0, 1, 4, 9, 16][..]));
//! arena.reset(); // everything above is gone; the memory is reused
//! ```

use core::fmt;
use core::mem::MaybeUninit;
use core::sync::atomic::AtomicUsize;

use crate::{Error, ErrorKind, Result};

use crate::region::{CommitMode, GrowRegion, HugePages, DEFAULT_RESERVE_BYTES};

mod local;
mod shared;
mod typed;

pub use local::Arena;
pub use shared::SyncArena;

/// Every allocation's size is rounded up to this, so the bump position is always aligned
/// to it and allocations of alignment up to it need no rounding.
pub(crate) const MIN_ALIGN: usize = 8;

/// Without a chosen [`commit_step`](ArenaBuilder::commit_step), a block commits as much as
/// it has committed already, within these bounds: small arenas stay small, large ones make
/// few system calls.
const MIN_COMMIT_STEP: usize = 64 << 10;
const MAX_COMMIT_STEP: usize = 64 << 20;
/// How much an arena commits at a time, by default, when `committed` bytes of its block are
/// committed already: as much again, from 64 KiB up to 64 MiB, so that a small arena stays
/// small and a large one makes about log2(size / 64 KiB) commit calls. (The C library's
/// `VMemArena` grows by the same rule.)
///
/// ```
/// use vmem::arena::default_commit_step;
/// assert_eq!(default_commit_step(0), 64 << 10);
/// assert_eq!(default_commit_step(1 << 20), 1 << 20);
/// assert_eq!(default_commit_step(1 << 30), 64 << 20);
/// ```
pub fn default_commit_step(committed: usize) -> usize {
    committed.clamp(MIN_COMMIT_STEP, MAX_COMMIT_STEP)
}

/// How many rounds [`Arena::reset`] remembers by default: it keeps committed what the largest
/// of them allocated, so a spike is returned within this many resets.
///
/// ```
/// assert_eq!(vmem::arena::RESET_ROUNDS, 4);
/// ```
pub const RESET_ROUNDS: usize = 4;

pub(crate) static NEXT_ARENA_ID: AtomicUsize = AtomicUsize::new(1);

/// The settings of an arena, shared by [`Arena`] and [`SyncArena`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) block_size: usize,
    /// `None`: doubling steps.
    pub(crate) commit_step: Option<usize>,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) huge_pages: HugePages,
    /// `None`: what recent rounds needed.
    pub(crate) retain_bytes: Option<usize>,
    pub(crate) prefault: bool,
    pub(crate) lock_memory: bool,
    pub(crate) fresh_memory_reads_zero: bool,
    /// Bytes committed in the first block when the arena is built (0: nothing reserved
    /// before the first allocation); also what `reset` keeps at least, unless
    /// `retain_bytes` says otherwise.
    pub(crate) capacity: usize,
}

impl Config {
    pub(crate) const DEFAULT: Config = Config {
        block_size: DEFAULT_RESERVE_BYTES,
        commit_step: None,
        max_bytes: None,
        huge_pages: HugePages::Auto,
        retain_bytes: None,
        prefault: true,
        lock_memory: false,
        fresh_memory_reads_zero: false,
        capacity: 0,
    };

    fn mode(&self) -> CommitMode {
        CommitMode {
            prefault: self.prefault,
            lock: self.lock_memory,
            huge_pages: self.huge_pages,
            fresh_only: self.fresh_memory_reads_zero,
        }
    }

    /// The step to commit `region` by.
    pub(crate) fn step(&self, region: &GrowRegion) -> usize {
        self.commit_step.unwrap_or_else(|| default_commit_step(region.committed()))
    }

    /// A block for a request of `request` bytes that needs `needed` bytes (alignment
    /// padding included), given `reserved` bytes already reserved, with its first `needed`
    /// bytes committed. `max_bytes` bounds what is reserved, huge pages or not (the block
    /// commits whole huge pages only inside its reservation). Where address space is short
    /// the block is smaller, never below what the request needs.
    pub(crate) fn new_block(
        &self,
        operation: &'static str,
        request: usize,
        needed: usize,
        reserved: usize,
    ) -> Result<GrowRegion> {
        let page = crate::page_size();
        let needed_pages = crate::align_up(needed, page).map_err(|_| too_large(operation, needed))?;
        let mut size = self.block_size.max(needed_pages);
        if let Some(max) = self.max_bytes {
            let left = max.saturating_sub(reserved);
            if needed_pages > left {
                return Err(Error::new(ErrorKind::OutOfMemory, operation, "the arena's maximum size is reached")
                    .sized(request)
                    .with_limit("max_bytes", max as u64));
            }
            size = size.min(left).max(needed_pages);
        }
        let mut region = GrowRegion::new(size, 1, self.mode());
        let step = self.step(&region);
        region.commit_to(operation, needed, step)?;
        Ok(region)
    }
}

/// What the last [`RESET_ROUNDS`] rounds of an arena needed, so that a reset keeps that much
/// committed: a steady loop never faults its pages in again, and a one-off spike is given
/// back within [`RESET_ROUNDS`] resets.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ResetHistory {
    peaks: [usize; RESET_ROUNDS],
    next: usize,
}

impl ResetHistory {
    /// Records a round that allocated `peak` bytes; returns how many bytes of the first block
    /// to keep committed (whole commit steps of the smallest size, so that small changes from
    /// round to round cause no system calls).
    pub(crate) fn keep(&mut self, peak: usize, config: &Config) -> usize {
        self.peaks[self.next % RESET_ROUNDS] = peak;
        self.next = self.next.wrapping_add(1);
        match config.retain_bytes {
            Some(bytes) => bytes,
            None => {
                let most = self.peaks.iter().copied().max().unwrap_or(0);
                most.checked_next_multiple_of(MIN_COMMIT_STEP).unwrap_or(most).max(config.capacity)
            }
        }
    }
}

pub(crate) fn too_large(operation: &'static str, size: usize) -> Error {
    Error::new(ErrorKind::OutOfMemory, operation, "the allocation is larger than any address space").sized(size)
}

/// The error of an allocation refused by the arena's allocation limit.
pub(crate) fn limit_reached(operation: &'static str, size: usize, limit: usize) -> Error {
    Error::new(ErrorKind::OutOfMemory, operation, "the arena's allocation limit is reached")
        .sized(size)
        .with_limit("allocation_limit", limit as u64)
}

/// Builds an [`Arena`] (or a [`SyncArena`]) with chosen sizes.
///
/// ```
/// let arena = vmem::Arena::builder()
///     .block_size(1 << 30)     // reserve 1 GiB per block
///     .commit_step(256 << 10)  // commit 256 KiB at a time
///     .max_bytes(4 << 30)      // never more than 4 GiB in all
///     .retain_bytes(1 << 20)   // keep 1 MiB committed across resets
///     .build()
///     .unwrap();
/// assert_eq!(arena.reserved_bytes(), 0); // nothing is reserved before the first allocation
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct ArenaBuilder {
    config: Config,
}

impl ArenaBuilder {
    /// The address space reserved per block, in bytes (default: [`DEFAULT_RESERVE_BYTES`]).
    /// Rounded up to whole pages. Reserving costs no memory; when the OS refuses a large
    /// reservation (for example under `ulimit -v`), the arena halves it until it fits.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().block_size(1 << 20).build().unwrap();
    /// arena.alloc(1u8);
    /// assert_eq!(arena.reserved_bytes(), 1 << 20);
    /// ```
    pub fn block_size(mut self, bytes: usize) -> Self {
        self.config.block_size = bytes;
        self
    }

    /// How much to commit at a time as the arena grows, in bytes (rounded up to whole
    /// pages). Larger steps mean fewer system calls, smaller ones less unused committed
    /// memory. Default: as much as the block has committed already, from 64 KiB up to
    /// 64 MiB at a time, so a small arena stays small and a large one makes about
    /// log2(size / 64 KiB) commit calls.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(64 << 10).build().unwrap();
    /// arena.alloc(1u8);
    /// assert_eq!(arena.committed_bytes(), 64 << 10);
    /// ```
    pub fn commit_step(mut self, bytes: usize) -> Self {
        self.config.commit_step = Some(bytes);
        self
    }

    /// The most address space the arena may reserve in all its blocks, in bytes, which also
    /// bounds what it can commit and allocate. Past it, `try_` allocations return
    /// [`ErrorKind::OutOfMemory`] and the others panic. Default: unbounded.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().max_bytes(1 << 20).build().unwrap();
    /// assert!(arena.try_alloc_slice_fill_with(2 << 20, |_| 0u8).is_err());
    /// ```
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.config.max_bytes = Some(bytes);
        self
    }

    /// Whether blocks use transparent huge pages (Linux `MADV_HUGEPAGE`, on the
    /// huge-page-aligned part of each block, committed in whole huge pages): fewer page
    /// faults and TLB misses. `true`: from the first allocation; `false`: never. By
    /// default a block asks for them once it has committed 4 MiB (measured here: first touch
    /// 3-6x faster; a small arena never pays for 2 MiB pages). Ignored where the OS has
    /// none.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().huge_pages(true).build().unwrap();
    /// arena.alloc([0u8; 64]);
    /// ```
    pub fn huge_pages(mut self, enabled: bool) -> Self {
        self.config.huge_pages = if enabled { HugePages::Always } else { HugePages::Off };
        self
    }

    /// How many bytes [`Arena::reset`] keeps committed in the first block (rounded up to
    /// whole pages), so that the next round of allocations does not fault pages in again;
    /// `0` returns all memory at each reset. Default: what recent rounds needed (the largest
    /// of the last four rounds, rounded up to 64 KiB): see [`Arena::reset`].
    ///
    /// ```
    /// let mut arena = vmem::Arena::builder().retain_bytes(1 << 20).build().unwrap();
    /// arena.alloc_slice_fill_with(4 << 20, |_| 1u8);
    /// arena.reset();
    /// assert_eq!(arena.committed_bytes(), 1 << 20);
    /// ```
    pub fn retain_bytes(mut self, bytes: usize) -> Self {
        self.config.retain_bytes = Some(bytes);
        self
    }

    /// Whether each commit step is faulted in as soon as it is committed (default `true`).
    ///
    /// Prefaulting (one `madvise(MADV_POPULATE_WRITE)` per step on Linux) makes first
    /// touch of arena memory much cheaper than a page fault per page, at the price of up to
    /// one commit step of memory that is resident before it is used. Turn it off for sparse
    /// use of a large arena.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().prefault(false).build().unwrap();
    /// arena.alloc(1u8);
    /// ```
    pub fn prefault(mut self, enabled: bool) -> Self {
        self.config.prefault = enabled;
        self
    }

    /// Whether to lock the arena's committed memory in RAM (`mlock`/`VirtualLock`), so it
    /// is never written to swap: for secrets, or for latency that must not wait on a page
    /// fault. Default: off. Each commit step is locked as it is committed; when the OS
    /// refuses (Unix `RLIMIT_MEMLOCK`, the Windows working-set quota), the allocation that
    /// needed the step fails with an error and the arena stays as it was.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().lock_memory(true).commit_step(64 << 10).build().unwrap();
    /// match arena.try_alloc(7u64) {
    ///     Ok(x) => assert_eq!(*x, 7),
    ///     Err((_, e)) => println!("cannot lock memory here: {e}"), // e.g. a low RLIMIT_MEMLOCK
    /// }
    /// ```
    pub fn lock_memory(mut self, enabled: bool) -> Self {
        self.config.lock_memory = enabled;
        self
    }

    /// Whether memory the arena hands out for the first time must read zero. Default: off:
    /// a new arena may take its block from the [warm cache](crate::cache) with the pages an
    /// earlier structure wrote, which costs no page faults; the arena's typed allocations
    /// (`alloc`, `alloc_slice_*`, ...) never let you read a byte before it is written, so
    /// this matters only to code that reads raw memory from
    /// [`alloc_layout`](crate::Arena::alloc_layout) (or the `Allocator`) before writing it,
    /// as C code using `vmem_grow_arena_push` may. On: blocks never come from the cache
    /// (they still go back to it), so fresh memory is fresh pages, and reads zero. Memory
    /// handed out again after a [`rewind`](crate::Arena::rewind), or kept committed by a
    /// [`reset`](crate::Arena::reset), still holds what this arena wrote there.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// drop(vmem::VirtualVec::from(vec![0xABu8; 1 << 20])); // may go to the warm cache
    /// let arena = vmem::Arena::builder().fresh_memory_reads_zero(true).build().unwrap();
    /// let p = arena.alloc_layout(Layout::array::<u8>(1 << 20).unwrap());
    /// // SAFETY: the builder setting promises that fresh memory reads zero.
    /// let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), 1 << 20) };
    /// assert!(bytes.iter().all(|&b| b == 0));
    /// ```
    pub fn fresh_memory_reads_zero(mut self, enabled: bool) -> Self {
        self.config.fresh_memory_reads_zero = enabled;
        self
    }

    /// Commits `bytes` of the first block when the arena is built (rounded up to whole
    /// pages, and faulted in unless [`prefault`](ArenaBuilder::prefault) is off), so that the
    /// first `bytes` bytes of allocations make no system call; `reset` keeps at least that
    /// much committed unless [`retain_bytes`](ArenaBuilder::retain_bytes) says otherwise.
    /// Default: 0, nothing is reserved before the first allocation. See
    /// [`Arena::with_capacity`].
    ///
    /// ```
    /// let arena = vmem::Arena::builder().capacity(1 << 20).build().unwrap();
    /// assert!(arena.committed_bytes() >= 1 << 20);
    /// let before = arena.committed_bytes();
    /// arena.alloc_slice_fill_with((1 << 20) - 64, |_| 0u8);
    /// assert_eq!(arena.committed_bytes(), before); // no commit was needed
    /// ```
    pub fn capacity(mut self, bytes: usize) -> Self {
        self.config.capacity = bytes;
        self
    }

    /// Checks the settings and builds the arena. Nothing is reserved yet, unless a
    /// [`capacity`](ArenaBuilder::capacity) is set.
    ///
    /// # Errors
    /// `InvalidArgument` when `block_size` or `commit_step` is zero or so large that rounding
    /// it to pages overflows, or when `max_bytes` is zero; with a `capacity`, the errors of
    /// reserving and committing it (`OutOfMemory` when it is above `max_bytes`, or the OS
    /// refuses).
    ///
    /// ```
    /// assert!(vmem::Arena::builder().commit_step(0).build().is_err());
    /// assert!(vmem::Arena::builder().build().is_ok());
    /// assert!(vmem::Arena::builder().max_bytes(1 << 20).capacity(2 << 20).build().is_err());
    /// ```
    pub fn build(self) -> Result<Arena> {
        Arena::from_config(self.checked_config()?)
    }

    /// The settings, checked and rounded.
    pub(crate) fn checked_config(self) -> Result<Config> {
        const OP: &str = "ArenaBuilder::build";
        let page = crate::page_size();
        let round = |bytes: usize, what: &'static str| -> Result<usize> {
            if bytes == 0 {
                return Err(Error::new(ErrorKind::InvalidArgument, OP, what));
            }
            crate::align_up(bytes, page).map_err(|_| {
                Error::new(ErrorKind::InvalidArgument, OP, "a size overflows when rounded to pages").sized(bytes)
            })
        };
        let mut config = self.config;
        config.block_size = round(config.block_size, "block_size is zero")?;
        if let Some(step) = config.commit_step {
            config.commit_step = Some(round(step, "commit_step is zero")?);
        }
        if let Some(max) = config.max_bytes {
            config.max_bytes = Some(round(max, "max_bytes is zero")?);
        }
        config.retain_bytes = config.retain_bytes.map(|r| crate::align_up(r, page).unwrap_or(usize::MAX & !(page - 1)));
        Ok(config)
    }

    /// Builds a [`SyncArena`] with these settings.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(1 << 20).build_sync().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| arena.alloc(1u32));
    ///     s.spawn(|| arena.alloc(2u32));
    /// });
    /// ```
    pub fn build_sync(self) -> Result<crate::SyncArena> {
        crate::SyncArena::from_config(self.checked_config()?)
    }
}

/// A position in an [`Arena`] or a [`SyncArena`], to [`rewind`](Arena::rewind) to later.
///
/// ```
/// let mut arena = vmem::Arena::new();
/// arena.alloc(1u64);
/// let mark = arena.checkpoint();
/// arena.alloc_slice_fill_with(1000, |i| i);
/// arena.rewind(mark).unwrap();
/// assert_eq!(arena.allocated_bytes(), 8);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    arena: usize,
    block: usize,
    position: usize,
    allocated_before: usize,
}

impl Checkpoint {
    /// The checkpoint as four machine words, to keep it where a Rust value cannot go (a C
    /// struct, a file of offsets). [`Checkpoint::from_words`] turns them back.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// let mark = arena.checkpoint();
    /// assert_eq!(vmem::arena::Checkpoint::from_words(mark.to_words()), mark);
    /// ```
    pub fn to_words(self) -> [usize; 4] {
        [self.arena, self.block, self.position, self.allocated_before]
    }

    /// A checkpoint from the words [`Checkpoint::to_words`] gave. [`Arena::rewind`] refuses
    /// words from another arena, from a position since rewound, or naming a misaligned
    /// position or one outside the committed memory of the arena's blocks, so made-up words
    /// can at worst rewind to a position the arena holds anyway (and skew
    /// [`Arena::allocated_bytes`]); they can never make it hand out memory that is not its
    /// own, or misaligned.
    ///
    /// ```
    /// let mut arena = vmem::Arena::new();
    /// arena.alloc(1u64);
    /// let forged = vmem::arena::Checkpoint::from_words([1, 2, 3, 4]);
    /// assert!(arena.rewind(forged).is_err());
    /// ```
    pub fn from_words(words: [usize; 4]) -> Checkpoint {
        let [arena, block, position, allocated_before] = words;
        Checkpoint { arena, block, position, allocated_before }
    }
}

/// What a rewind needs to know of one block of the arena.
pub(crate) struct BlockInfo {
    pub(crate) base: usize,
    pub(crate) committed: usize,
    pub(crate) allocated_before: usize,
}

/// Where a rewind to `checkpoint` goes, after checking that it came from this arena (whose
/// checkpoints carry `id`) and names a position it holds: `None` for the very start (a
/// checkpoint taken before the first allocation), `Some(k)` for `checkpoint.position` in
/// block `k`. `here` is the arena's own checkpoint now; `block(k)` describes block `k`;
/// every position the arena makes is a multiple of `position_align`. The one check for both
/// arenas (see [`Checkpoint::from_words`]).
pub(crate) fn rewind_target(
    operation: &'static str,
    checkpoint: Checkpoint,
    id: usize,
    here: Checkpoint,
    position_align: usize,
    block: impl Fn(usize) -> Option<BlockInfo>,
) -> Result<Option<usize>> {
    if checkpoint.arena != id {
        return Err(Error::new(ErrorKind::InvalidArgument, operation, "the checkpoint belongs to another arena"));
    }
    if checkpoint.position == 0 || block(0).is_none() {
        // Taken before the first allocation: rewind to the very start.
        return Ok(None);
    }
    let stale =
        || Error::new(ErrorKind::InvalidArgument, operation, "the checkpoint is stale (after a rewind or reset)");
    let Some(info) = block(checkpoint.block) else { return Err(stale()) };
    let in_block = checkpoint.position >= info.base && checkpoint.position - info.base <= info.committed;
    // An `Arena`'s positions are multiples of `MIN_ALIGN` (its fast path relies on it), and
    // the bytes allocated before a block are fixed while it lives: anything else was not
    // made by `checkpoint`.
    let aligned = checkpoint.position % position_align == 0;
    let before_matches = checkpoint.allocated_before == info.allocated_before;
    let behind = checkpoint.block < here.block || checkpoint.position <= here.position;
    if !in_block || !behind || !aligned || !before_matches {
        return Err(stale());
    }
    Ok(Some(checkpoint.block))
}

/// Writes `f()` to `p`. Kept apart and always inlined so that the optimizer sees the call
/// writing straight into the arena and can build the value there instead of on the stack
/// (bumpalo's observation: it does so most reliably this way).
///
/// # Safety
/// `p` is valid for writing a `T` and aligned for it.
#[inline(always)]
pub(crate) unsafe fn write_with<T>(p: *mut T, f: impl FnOnce() -> T) {
    // SAFETY: the caller's promise.
    unsafe { p.write(f()) }
}

/// The `grow` or `shrink` of the arenas' `Allocator` that cannot stay in place: `fresh`
/// (new memory for `new`, or the failure to get it) receives the bytes of `ptr` that both
/// layouts hold, `min(old.size(), new.size())`.
///
/// # Safety
/// `ptr` holds `old.size()` initialized bytes; `fresh`, when it is memory, is new, at least
/// `new.size()` long and disjoint from them.
pub(crate) unsafe fn moved(
    ptr: core::ptr::NonNull<u8>,
    old: core::alloc::Layout,
    new: core::alloc::Layout,
    fresh: Result<core::ptr::NonNull<u8>>,
) -> core::result::Result<core::ptr::NonNull<[u8]>, allocator_api2::alloc::AllocError> {
    let fresh = fresh.map_err(|_| allocator_api2::alloc::AllocError)?;
    // SAFETY: the caller's promise: `ptr` has `old.size()` initialized bytes, `fresh` room for
    // `new.size()`, and the two do not overlap.
    unsafe { core::ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.as_ptr(), old.size().min(new.size())) };
    Ok(core::ptr::NonNull::slice_from_raw_parts(fresh, new.size()))
}

/// The blocks of an arena, for [`ChunkRawIter`]: block `index`'s first byte and how many
/// bytes from there were handed out, `None` past the last block.
pub(crate) trait BlockSpans {
    fn block_span(&self, index: usize) -> Option<(*mut u8, usize)>;
}

/// The memory each block of an arena handed out, as raw parts: from
/// [`Arena::iter_allocated_chunks_raw`] and [`SyncArena::iter_allocated_chunks_raw`].
///
/// ```
/// let arena = vmem::Arena::new();
/// arena.alloc(7u64);
/// // SAFETY: nothing is allocated while the iterator is used, and nothing is read.
/// let total: usize = unsafe { arena.iter_allocated_chunks_raw() }.map(|(_, len)| len).sum();
/// assert_eq!(total, arena.allocated_bytes());
/// ```
pub struct ChunkRawIter<'a> {
    arena: &'a dyn BlockSpans,
    next: usize,
}

impl<'a> ChunkRawIter<'a> {
    pub(crate) fn new(arena: &'a dyn BlockSpans) -> ChunkRawIter<'a> {
        ChunkRawIter { arena, next: 0 }
    }
}

impl Iterator for ChunkRawIter<'_> {
    /// The first byte of a block and how many bytes from there were handed out.
    type Item = (*mut u8, usize);

    fn next(&mut self) -> Option<(*mut u8, usize)> {
        let span = self.arena.block_span(self.next)?;
        self.next += 1;
        Some(span)
    }
}

impl fmt::Debug for ChunkRawIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkRawIter").field("next", &self.next).finish()
    }
}

/// The memory each block of an arena handed out, oldest block first: from
/// [`Arena::iter_allocated_chunks`] and [`SyncArena::iter_allocated_chunks`].
///
/// ```
/// let mut arena = vmem::Arena::new();
/// arena.alloc_slice_copy(b"abc");
/// assert_eq!(arena.iter_allocated_chunks().count(), 1);
/// ```
pub struct ChunkIter<'a> {
    raw: ChunkRawIter<'a>,
}

impl<'a> ChunkIter<'a> {
    /// # Safety
    /// `raw` borrows an arena that is borrowed mutably for `'a`: nothing else reads,
    /// writes or allocates in it meanwhile.
    pub(crate) unsafe fn new(raw: ChunkRawIter<'a>) -> ChunkIter<'a> {
        ChunkIter { raw }
    }
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [MaybeUninit<u8>];

    fn next(&mut self) -> Option<&'a [MaybeUninit<u8>]> {
        let (p, len) = self.raw.next()?;
        // SAFETY: the `len` bytes from `p` were handed out by the arena, so they lie in the
        // committed part of one of its blocks, which stays mapped while the arena is borrowed
        // for `'a`; the arena is borrowed mutably (see `new`), so no reference to anything
        // allocated in it is alive, and `MaybeUninit<u8>` makes no claim about the contents.
        Some(unsafe { core::slice::from_raw_parts(p.cast::<MaybeUninit<u8>>(), len) })
    }
}

impl fmt::Debug for ChunkIter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkIter").field("next", &self.raw.next).finish()
    }
}
