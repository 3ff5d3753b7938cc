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
//!
//! # What it does not do
//!
//! It does **not run `Drop`** for values allocated with [`alloc`](Arena::alloc) and
//! friends: their memory is reclaimed, their destructors never run (as with `bumpalo`). Use
//! it for plain data, or collections whose contents need no drop, or call
//! `core::ptr::drop_in_place` yourself. It does not free individual allocations (except the
//! most recent one, through the [`Allocator`](allocator_api2::alloc::Allocator) interface).
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

use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::{Error, ErrorKind, Result};

use crate::region::{CommitMode, GrowRegion, HugePages, DEFAULT_RESERVE_BYTES};

/// Every allocation's size is rounded up to this, so the bump position is always aligned
/// to it and allocations of alignment up to it need no rounding.
pub(crate) const MIN_ALIGN: usize = 8;

/// `size` rounded up to [`MIN_ALIGN`]. Does not wrap for sizes up to `isize::MAX`.
#[inline(always)]
pub(crate) const fn padded(size: usize) -> usize {
    (size + (MIN_ALIGN - 1)) & !(MIN_ALIGN - 1)
}

/// Without a chosen [`commit_step`](ArenaBuilder::commit_step), a block commits as much as
/// it has committed already, within these bounds: small arenas stay small, large ones make
/// few system calls.
const MIN_COMMIT_STEP: usize = 64 << 10;
const MAX_COMMIT_STEP: usize = 64 << 20;
/// How many rounds [`Arena::reset`] remembers by default: it keeps committed what the largest
/// of them allocated, so a spike is returned within this many resets.
///
/// ```
/// assert_eq!(vmem::arena::RESET_ROUNDS, 4);
/// ```
pub const RESET_ROUNDS: usize = 4;

pub(crate) static NEXT_ARENA_ID: AtomicUsize = AtomicUsize::new(1);

/// The settings of an arena, shared by [`Arena`] and [`SyncArena`](crate::SyncArena).
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
    };

    fn mode(&self) -> CommitMode {
        CommitMode { prefault: self.prefault, lock: self.lock_memory, huge_pages: self.huge_pages }
    }

    /// The step to commit `region` by.
    pub(crate) fn step(&self, region: &GrowRegion) -> usize {
        self.commit_step.unwrap_or_else(|| region.doubling_step(MIN_COMMIT_STEP, MAX_COMMIT_STEP))
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
                most.checked_next_multiple_of(MIN_COMMIT_STEP).unwrap_or(most)
            }
        }
    }
}

fn too_large(operation: &'static str, size: usize) -> Error {
    Error::new(ErrorKind::OutOfMemory, operation, "the allocation is larger than any address space").sized(size)
}

/// Builds an [`Arena`] (or a [`SyncArena`](crate::SyncArena)) with chosen sizes.
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
    /// The address space reserved per block, in bytes (default: 64 GiB on 64-bit systems,
    /// 256 MiB on 32-bit ones). Rounded up to whole pages. Reserving costs no memory; when
    /// the OS refuses a large reservation (for example under `ulimit -v`), the arena halves
    /// it until it fits.
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

    /// Checks the settings and builds the arena. Nothing is reserved yet.
    ///
    /// # Errors
    /// `InvalidArgument` when `block_size` or `commit_step` is zero or so large that rounding
    /// it to pages overflows, or when `max_bytes` is zero.
    ///
    /// ```
    /// assert!(vmem::Arena::builder().commit_step(0).build().is_err());
    /// assert!(vmem::Arena::builder().build().is_ok());
    /// ```
    pub fn build(self) -> Result<Arena> {
        Ok(Arena::with_config(self.checked_config()?))
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

    /// Builds a [`SyncArena`](crate::SyncArena) with these settings.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(1 << 20).build_sync().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| arena.alloc(1u32));
    ///     s.spawn(|| arena.alloc(2u32));
    /// });
    /// ```
    pub fn build_sync(self) -> Result<crate::SyncArena> {
        Ok(crate::SyncArena::with_config(self.checked_config()?))
    }
}

/// One reserved block and how far into it memory is committed.
struct Block {
    /// The block's address space and its committed bytes.
    region: GrowRegion,
    /// Bytes allocated in the blocks before this one (fixed while this block lives).
    allocated_before: usize,
}

impl Block {
    fn base(&self) -> usize {
        self.region.base() as usize
    }
}

/// A position in an [`Arena`], to [`rewind`](Arena::rewind) to later.
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

/// A bump allocator on reserved address space: see the [module docs](self).
pub struct Arena {
    /// The base of the current block (null before the first block): the provenance of every
    /// pointer handed out from it.
    base: Cell<*mut u8>,
    /// The next free byte of the current block (0 before the first block).
    position: Cell<usize>,
    /// The end of the committed part of the current block.
    committed_end: Cell<usize>,
    /// Blocks, the current one last. Only touched by the slow path and by `&mut self`
    /// methods; never borrowed across a call that could reach them again.
    blocks: UnsafeCell<Vec<Block>>,
    /// Bytes allocated in blocks before the current one.
    allocated_before: Cell<usize>,
    config: Config,
    /// What recent rounds needed, for `reset`.
    history: ResetHistory,
    id: usize,
}

// SAFETY: the arena owns its blocks; moving it to another thread moves everything with it.
// Values allocated in it borrow it, so they cannot outlive or escape it without `Send`
// checks of their own.
unsafe impl Send for Arena {}

impl Default for Arena {
    fn default() -> Arena {
        Arena::new()
    }
}

impl Arena {
    /// An arena with the default settings. Reserves nothing until the first allocation, so it
    /// never fails and costs nothing to create.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.reserved_bytes(), 0);
    /// ```
    pub fn new() -> Arena {
        Arena::with_config(Config::DEFAULT)
    }

    /// A builder to choose the block size, commit step, maximum size, huge pages and how much
    /// to keep across resets.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().max_bytes(1 << 30).build().unwrap();
    /// # drop(arena);
    /// ```
    pub fn builder() -> ArenaBuilder {
        ArenaBuilder { config: Config::DEFAULT }
    }

    fn with_config(config: Config) -> Arena {
        Arena {
            base: Cell::new(ptr::null_mut()),
            position: Cell::new(0),
            committed_end: Cell::new(0),
            blocks: UnsafeCell::new(Vec::new()),
            allocated_before: Cell::new(0),
            config,
            history: ResetHistory::default(),
            id: NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Allocates `layout` and returns a pointer to its first byte, or an error when memory
    /// or the maximum runs out. Zero-sized layouts take no space and return a dangling,
    /// well-aligned pointer.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let arena = vmem::Arena::new();
    /// let p = arena.try_alloc_layout(Layout::from_size_align(100, 64).unwrap()).unwrap();
    /// assert_eq!(p.as_ptr() as usize % 64, 0);
    /// ```
    #[inline]
    pub fn try_alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>> {
        let size = layout.size();
        let align = layout.align();
        if size == 0 {
            // SAFETY: `align` is a non-zero power of two, so the pointer is non-null.
            return Ok(unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(align)) });
        }
        // Sizes are rounded up to `MIN_ALIGN` so that `position` stays a multiple of it, and
        // the usual small alignments need no rounding at all (the compiler drops the other
        // branch for a constant layout). `Layout` sizes are at most `isize::MAX`: no wrap.
        let size = padded(size);
        let position = self.position.get();
        let committed_end = self.committed_end.get();
        // Before the first block both are 0, so every check below fails.
        let start = if align <= MIN_ALIGN {
            position
        } else {
            let start = position.wrapping_add(align - 1) & !(align - 1);
            if start < position || start > committed_end {
                return self.alloc_slow(size, align);
            }
            start
        };
        if size <= committed_end - start {
            self.position.set(start + size);
            // SAFETY: `start..start + size` lies in the committed part of the current block
            // (so the block exists and `base` is its non-null base).
            return Ok(unsafe { NonNull::new_unchecked(self.base.get().with_addr(start)) });
        }
        self.alloc_slow(size, align)
    }

    /// Commits more of the current block, or chains a new one, then allocates.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, size: usize, align: usize) -> Result<NonNull<u8>> {
        const OP: &str = "Arena::alloc";
        // SAFETY: `&self` methods never hold a reference into `blocks` across this call, and
        // the arena is not `Sync`, so this is the only access.
        let blocks = unsafe { &mut *self.blocks.get() };
        let with_slack = size.checked_add(align - 1).ok_or_else(|| too_large(OP, size))?;
        if let Some(block) = blocks.last_mut() {
            let base = block.base();
            let start = self.position.get().checked_add(align - 1).ok_or_else(|| too_large(OP, size))? & !(align - 1);
            let end = start.checked_add(size).ok_or_else(|| too_large(OP, size))?;
            if end <= base + block.region.reserved() {
                let step = self.config.step(&block.region);
                block.region.commit_to(OP, end - base, step)?;
                self.committed_end.set(base + block.region.committed());
                self.position.set(end);
                // SAFETY: `start` lies in the block's committed range, so it is not null.
                return Ok(unsafe { NonNull::new_unchecked(self.base.get().with_addr(start)) });
            }
        }
        // Chain a new block at least as large as the request.
        let reserved: usize = blocks.iter().map(|b| b.region.reserved()).sum();
        blocks.try_reserve(1).map_err(|_| Error::new(ErrorKind::OutOfMemory, OP, "no heap memory for block list"))?;
        let region = self.config.new_block(OP, size, with_slack, reserved)?;
        let allocated_before = self.allocated_bytes();
        let base = region.base();
        let committed = region.committed();
        blocks.push(Block { region, allocated_before });
        self.allocated_before.set(allocated_before);
        self.base.set(base);
        let start = (base as usize + align - 1) & !(align - 1);
        self.committed_end.set(base as usize + committed);
        self.position.set(start + size);
        NonNull::new(base.wrapping_add(start - base as usize)).ok_or(Error::new(ErrorKind::Os, OP, "null block"))
    }

    /// Allocates `layout`; see [`try_alloc_layout`](Arena::try_alloc_layout).
    ///
    /// # Panics
    /// When memory or the arena's maximum runs out.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let arena = vmem::Arena::new();
    /// let p = arena.alloc_layout(Layout::new::<u128>());
    /// assert_eq!(p.as_ptr() as usize % 16, 0);
    /// ```
    #[inline]
    pub fn alloc_layout(&self, layout: Layout) -> NonNull<u8> {
        match self.try_alloc_layout(layout) {
            Ok(p) => p,
            Err(e) => alloc_failed(e),
        }
    }

    /// Moves `value` into the arena and returns a mutable reference to it, or gives the
    /// value back with the error when memory or the maximum runs out.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().max_bytes(4096).build().unwrap();
    /// assert_eq!(*arena.try_alloc(5u32).unwrap(), 5);
    /// let (value, err) = arena.try_alloc([0u8; 8192]).unwrap_err();
    /// assert_eq!(value.len(), 8192);
    /// assert_eq!(err.kind(), vmem::ErrorKind::OutOfMemory);
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc<T>(&self, value: T) -> core::result::Result<&mut T, (T, Error)> {
        match self.try_alloc_layout(Layout::new::<T>()) {
            Ok(p) => {
                let p = p.as_ptr().cast::<T>();
                // SAFETY: `p` is fresh, aligned memory for a `T` that lives as long as `&self`.
                unsafe {
                    p.write(value);
                    Ok(&mut *p)
                }
            }
            Err(e) => Err((value, e)),
        }
    }

    /// Moves `value` into the arena and returns a mutable reference to it.
    ///
    /// # Panics
    /// When memory or the arena's maximum runs out.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// let x = arena.alloc(41);
    /// *x += 1;
    /// assert_eq!(*x, 42);
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc<T>(&self, value: T) -> &mut T {
        let p = self.alloc_layout(Layout::new::<T>()).as_ptr().cast::<T>();
        // SAFETY: `p` is fresh, aligned memory for a `T` that lives as long as `&self`.
        unsafe {
            p.write(value);
            &mut *p
        }
    }

    /// Allocates a slice of `len` elements, each made by `f(index)`, or returns an error.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// let s = arena.try_alloc_slice_fill_with(3, |i| i * 10).unwrap();
    /// assert_eq!(s, [0, 10, 20]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_slice_fill_with<T>(&self, len: usize, mut f: impl FnMut(usize) -> T) -> Result<&mut [T]> {
        let layout = Layout::array::<T>(len).map_err(|_| too_large("Arena::alloc_slice", len))?;
        let p = self.try_alloc_layout(layout)?.as_ptr().cast::<T>();
        for i in 0..len {
            // SAFETY: `p` has room for `len` elements; element `i` is written once. If `f`
            // panics, the elements written so far are leaked, never read.
            unsafe { p.add(i).write(f(i)) };
        }
        // SAFETY: all `len` elements are initialized.
        Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
    }

    /// Allocates a slice of `len` elements, each made by `f(index)`.
    ///
    /// # Panics
    /// When memory or the arena's maximum runs out.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.alloc_slice_fill_with(2, |_| 'x'), ['x', 'x']);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_slice_fill_with<T>(&self, len: usize, f: impl FnMut(usize) -> T) -> &mut [T] {
        self.try_alloc_slice_fill_with(len, f).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `src` into the arena, or returns an error.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.try_alloc_slice_copy(&[1, 2, 3]).unwrap(), [1, 2, 3]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T]> {
        let layout = Layout::for_value(src);
        let p = self.try_alloc_layout(layout)?.as_ptr().cast::<T>();
        // SAFETY: `p` has room for `src.len()` elements and does not overlap `src`.
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), p, src.len());
            Ok(core::slice::from_raw_parts_mut(p, src.len()))
        }
    }

    /// Copies `src` into the arena.
    ///
    /// # Panics
    /// When memory or the arena's maximum runs out.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// let copy = arena.alloc_slice_copy(b"bytes");
    /// copy[0] = b'B';
    /// assert_eq!(copy, b"Bytes");
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        self.try_alloc_slice_copy(src).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Clones every element of `src` into the arena, or returns an error.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// let names = [String::from("a"), String::from("b")];
    /// let copies = arena.try_alloc_slice_clone(&names).unwrap();
    /// assert_eq!(copies, names);
    /// // The arena never runs destructors: drop values that own memory yourself.
    /// // SAFETY: `copies` is not used again.
    /// unsafe { std::ptr::drop_in_place(copies) };
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_slice_clone<T: Clone>(&self, src: &[T]) -> Result<&mut [T]> {
        self.try_alloc_slice_fill_with(src.len(), |i| src[i].clone())
    }

    /// Clones every element of `src` into the arena. The clones are never dropped.
    ///
    /// # Panics
    /// When memory or the arena's maximum runs out.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.alloc_slice_clone(&[1.5, 2.5]), [1.5, 2.5]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_slice_clone<T: Clone>(&self, src: &[T]) -> &mut [T] {
        self.try_alloc_slice_clone(src).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `s` into the arena, or returns an error.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.try_alloc_str("hi").unwrap(), "hi");
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_str(&self, s: &str) -> Result<&mut str> {
        let bytes = self.try_alloc_slice_copy(s.as_bytes())?;
        // SAFETY: the bytes are a copy of a valid `str`.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    /// Copies `s` into the arena.
    ///
    /// # Panics
    /// When memory or the arena's maximum runs out.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// let s = arena.alloc_str("hello");
    /// s.make_ascii_uppercase();
    /// assert_eq!(s, "HELLO");
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_str(&self, s: &str) -> &mut str {
        self.try_alloc_str(s).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Bytes handed out since creation or the last reset, including alignment padding.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// arena.alloc(0u64);
    /// assert_eq!(arena.allocated_bytes(), 8);
    /// ```
    pub fn allocated_bytes(&self) -> usize {
        // SAFETY: a short read of the block list; nothing else touches it during this call.
        let base = unsafe { (*self.blocks.get()).last().map(Block::base) };
        self.allocated_before.get() + base.map_or(0, |b| self.position.get() - b)
    }

    /// Bytes of memory committed (backed) in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(1 << 16).build().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.committed_bytes(), 1 << 16);
    /// ```
    pub fn committed_bytes(&self) -> usize {
        // SAFETY: a short read of the block list; nothing else touches it during this call.
        unsafe { (*self.blocks.get()).iter().map(|b| b.region.committed()).sum() }
    }

    /// Bytes of address space reserved in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().block_size(1 << 24).build().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.reserved_bytes(), 1 << 24);
    /// ```
    pub fn reserved_bytes(&self) -> usize {
        // SAFETY: a short read of the block list; nothing else touches it during this call.
        unsafe { (*self.blocks.get()).iter().map(|b| b.region.reserved()).sum() }
    }

    /// Frees everything: rewinds to the start of the first block, gives every chained block
    /// back (to the warm cache), and keeps committed only what the next round is likely to
    /// need, decommitting the rest so RSS and commit charge really drop.
    ///
    /// By default it keeps the most that any of the last four rounds (this one included)
    /// allocated, rounded up to 64 KiB: a loop whose rounds need about the same memory never
    /// faults a page in again (as bumpalo, which keeps its last chunk), and a one-off spike is
    /// returned within four resets. That is also the RSS a reset leaves behind: up to the
    /// largest of the last four rounds. [`retain_bytes`](ArenaBuilder::retain_bytes) sets a
    /// fixed amount instead (`0` returns everything at each reset).
    ///
    /// ```
    /// let mut arena = vmem::Arena::new();
    /// arena.alloc_slice_fill_with(1 << 20, |_| 0u8);
    /// arena.reset();
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// assert_eq!(arena.committed_bytes(), 1 << 20); // kept for the next round
    /// for _ in 0..4 {
    ///     arena.alloc(1u8); // four small rounds
    ///     arena.reset();
    /// }
    /// assert_eq!(arena.committed_bytes(), 64 << 10); // the spike is gone
    /// ```
    pub fn reset(&mut self) {
        let keep = self.history.keep(self.allocated_bytes(), &self.config);
        let blocks = self.blocks.get_mut();
        blocks.truncate(1);
        if let Some(first) = blocks.first_mut() {
            // Decommit cannot fail for a range we committed; if it ever did, keeping the
            // memory committed is still correct.
            let _ = first.region.decommit_from(keep);
            let base = first.region.base();
            self.base.set(base);
            self.position.set(base as usize);
            self.committed_end.set(base as usize + first.region.committed());
        }
        self.allocated_before.set(0);
    }

    /// The current position, for [`rewind`](Arena::rewind).
    ///
    /// ```
    /// let mut arena = vmem::Arena::new();
    /// let start = arena.checkpoint();
    /// arena.alloc(1u8);
    /// arena.rewind(start).unwrap();
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// ```
    pub fn checkpoint(&self) -> Checkpoint {
        // SAFETY: a short read of the block list; nothing else touches it during this call.
        let blocks = unsafe { (*self.blocks.get()).len() };
        Checkpoint {
            arena: self.id,
            block: blocks.saturating_sub(1),
            position: self.position.get(),
            allocated_before: self.allocated_before.get(),
        }
    }

    /// Frees everything allocated after `checkpoint` was taken (releasing blocks chained
    /// since). Memory stays committed for reuse; [`reset`](Arena::reset) returns it.
    ///
    /// # Errors
    /// `InvalidArgument` when the checkpoint is from another arena, or from a position that
    /// no longer exists (it was taken after a position already rewound or reset); nothing
    /// changes then.
    ///
    /// ```
    /// let mut a = vmem::Arena::new();
    /// let b = vmem::Arena::new();
    /// assert!(a.rewind(b.checkpoint()).is_err());
    /// ```
    pub fn rewind(&mut self, checkpoint: Checkpoint) -> Result<()> {
        const OP: &str = "Arena::rewind";
        let current = self.checkpoint();
        if checkpoint.arena != self.id {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the checkpoint belongs to another arena"));
        }
        let blocks = self.blocks.get_mut();
        if blocks.is_empty() || checkpoint.position == 0 {
            // Taken before the first allocation: rewind to the very start.
            return {
                if let Some(first) = blocks.first() {
                    let base = first.region.base();
                    let committed = first.region.committed();
                    blocks.truncate(1);
                    self.base.set(base);
                    self.position.set(base as usize);
                    self.committed_end.set(base as usize + committed);
                    self.allocated_before.set(0);
                }
                Ok(())
            };
        }
        let stale = || Error::new(ErrorKind::InvalidArgument, OP, "the checkpoint is stale (after a rewind or reset)");
        let Some(block) = blocks.get(checkpoint.block) else { return Err(stale()) };
        let base_ptr = block.region.base();
        let base = base_ptr as usize;
        let in_block = checkpoint.position >= base && checkpoint.position <= base + block.region.committed();
        // Positions are always multiples of `MIN_ALIGN` (the fast path relies on it), and
        // the bytes allocated before a block are fixed while it lives: anything else was
        // not made by `checkpoint` (see `Checkpoint::from_words`).
        let aligned = checkpoint.position % MIN_ALIGN == 0;
        let before_matches = checkpoint.allocated_before == block.allocated_before;
        let behind = checkpoint.block < current.block || checkpoint.position <= current.position;
        if !in_block || !behind || !aligned || !before_matches {
            return Err(stale());
        }
        let committed = block.region.committed();
        blocks.truncate(checkpoint.block + 1);
        self.base.set(base_ptr);
        self.position.set(checkpoint.position);
        self.committed_end.set(base + committed);
        self.allocated_before.set(checkpoint.allocated_before);
        Ok(())
    }

    /// Runs `f` with the arena and frees everything `f` allocated when it returns. The
    /// allocations cannot escape `f`: the borrow checker rejects it.
    ///
    /// ```
    /// let mut arena = vmem::Arena::new();
    /// let total = arena.scope(|a| {
    ///     let scratch = a.alloc_slice_fill_with(1000, |i| i as u64);
    ///     scratch.iter().sum::<u64>()
    /// });
    /// assert_eq!(total, 499_500);
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// ```
    ///
    /// ```compile_fail
    /// let mut arena = vmem::Arena::new();
    /// let escaped = arena.scope(|a| a.alloc(5u32)); // error: the reference cannot escape
    /// ```
    pub fn scope<R>(&mut self, f: impl FnOnce(&Arena) -> R) -> R {
        let mark = self.checkpoint();
        let result = f(self);
        // Cannot fail: `mark` was taken from this arena just now, and `f` could not rewind.
        let _ = self.rewind(mark);
        result
    }
}

impl Arena {
    /// Whether the allocation of `size` bytes at `address` is the most recent one: it ends at
    /// the bump position *and lies in the current block*. (A block the OS placed right above
    /// the previous one starts where the previous one ends, so an allocation that filled the
    /// previous block to its end also "ends at the position" of a fresh current block.)
    #[inline]
    fn is_last(&self, address: usize, size: usize) -> bool {
        size != 0 && address >= self.base.get() as usize && address + padded(size) == self.position.get()
    }
}

#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn alloc_failed(err: Error) -> ! {
    panic!("arena allocation failed: {err}")
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("allocated_bytes", &self.allocated_bytes())
            .field("committed_bytes", &self.committed_bytes())
            .field("reserved_bytes", &self.reserved_bytes())
            .finish()
    }
}

// SAFETY: memory returned by `allocate` stays valid until the arena is reset
// or dropped, which needs `&mut Arena` and so cannot happen while `&Arena` (the allocator) is
// borrowed; `grow`/`shrink` keep the contents as the trait requires.
unsafe impl allocator_api2::alloc::Allocator for &Arena {
    #[inline]
    fn allocate(&self, layout: Layout) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let p = self.try_alloc_layout(layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // Only the most recent allocation can be given back: rewind over it.
        let address = ptr.as_ptr() as usize;
        if self.is_last(address, layout.size()) {
            self.position.set(address);
        }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let address = ptr.as_ptr() as usize;
        if self.is_last(address, old.size()) && address % new.align() == 0 {
            let extra = padded(new.size()) - padded(old.size());
            if extra <= self.committed_end.get() - self.position.get() {
                self.position.set(address + padded(new.size()));
                return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
            }
            // Room in the block's reservation: commit more and grow in place.
            // SAFETY: a short access to the block list; no reference into it is held.
            let blocks = unsafe { &mut *self.blocks.get() };
            if let Some(block) = blocks.last_mut() {
                let base = block.base();
                let end = address + padded(new.size());
                if end <= base + block.region.reserved() {
                    let step = self.config.step(&block.region);
                    if block.region.commit_to("Arena::grow", end - base, step).is_ok() {
                        self.committed_end.set(base + block.region.committed());
                        self.position.set(end);
                        return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
                    }
                }
            }
        }
        let fresh = self.try_alloc_layout(new).map_err(|_| allocator_api2::alloc::AllocError)?;
        // SAFETY: `ptr` holds `old.size()` initialized bytes; `fresh` is new, disjoint memory
        // of at least that size.
        unsafe { ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.as_ptr(), old.size()) };
        Ok(NonNull::slice_from_raw_parts(fresh, new.size()))
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let address = ptr.as_ptr() as usize;
        if address % new.align() != 0 {
            let fresh = self.try_alloc_layout(new).map_err(|_| allocator_api2::alloc::AllocError)?;
            // SAFETY: `new.size() <= old.size()` bytes are initialized; the regions are disjoint.
            unsafe { ptr::copy_nonoverlapping(ptr.as_ptr(), fresh.as_ptr(), new.size()) };
            return Ok(NonNull::slice_from_raw_parts(fresh, new.size()));
        }
        if self.is_last(address, old.size()) {
            self.position.set(address + padded(new.size()));
        }
        Ok(NonNull::slice_from_raw_parts(ptr, new.size()))
    }
}
