//! `Arena`: the single-threaded arena, its fast path and its `Allocator`.

use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use super::typed::typed_helpers;
use super::{
    limit_reached, rewind_target, too_large, ArenaBuilder, BlockInfo, BlockSpans, Checkpoint, ChunkIter, ChunkRawIter,
    Config, ResetHistory, MIN_ALIGN, NEXT_ARENA_ID,
};
use crate::raw::align::round_up;
use crate::region::{CommitMode, GrowRegion};
use crate::{Error, ErrorKind, Result};

/// One reserved block and how far into it memory is committed.
struct Block {
    /// The block's address space and its committed bytes (not reserved yet for the first
    /// block of an arena that has not allocated).
    region: GrowRegion,
    /// Bytes allocated in the blocks before this one (fixed while this block lives).
    allocated_before: usize,
}

impl Block {
    /// A first block that reserves nothing until the arena replaces it with a real one.
    const UNRESERVED: Block = Block { region: GrowRegion::new(0, 1, CommitMode::DEFAULT), allocated_before: 0 };

    fn base(&self) -> usize {
        self.region.base() as usize
    }
}

/// A bump allocator on reserved address space: see the [module docs](crate::arena).
pub struct Arena {
    /// The base of the current block (null before the first block): the provenance of every
    /// pointer handed out from it.
    base: Cell<*mut u8>,
    /// The next free byte of the current block (0 before the first block).
    position: Cell<usize>,
    /// How far the fast path may hand out memory in the current block. Invariants:
    /// `position <= end <= committed end of the current block`, and
    /// `end <= max(position, limit end)` where the limit end is the address at which the
    /// allocated bytes would reach the allocation limit (so an allocation that fits below
    /// `end` never passes the limit). 0 before the first block.
    end: Cell<usize>,
    /// The first block, inline: an arena of one block makes no heap allocation. Its region
    /// is unreserved until the first allocation (or `with_capacity`). Only touched by the
    /// slow path and by `&mut self` methods; never borrowed across a call that could reach
    /// it again.
    first: UnsafeCell<Block>,
    /// The blocks chained after the first, the current one last; touched as `first` is.
    rest: UnsafeCell<Vec<Block>>,
    /// Bytes allocated in blocks before the current one.
    allocated_before: Cell<usize>,
    /// The most bytes the arena may hand out ([`Arena::set_allocation_limit`]).
    limit: Cell<Option<usize>>,
    config: Config,
    /// What recent rounds needed, for `reset`.
    history: ResetHistory,
    /// Identifies the arena to its checkpoints; 0 until the first checkpoint or rewind
    /// takes one (so that creating an arena needs no atomic operation).
    id: Cell<usize>,
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

typed_helpers!(Arena);

impl Arena {
    /// An arena with the default settings. Reserves nothing until the first allocation, so it
    /// never fails and costs nothing to create (no system call, no heap allocation).
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.reserved_bytes(), 0);
    /// ```
    pub fn new() -> Arena {
        Arena::with_config(Config::DEFAULT)
    }

    /// An arena with `bytes` committed up front (rounded up to whole pages, faulted in), so
    /// that the first `bytes` bytes of allocations make no system call; `reset` keeps at
    /// least that much committed. `with_capacity(0)` is [`Arena::new`]. As
    /// `Arena::builder().capacity(bytes).build()`.
    ///
    /// # Panics
    /// When the memory cannot be committed; [`try_with_capacity`](Arena::try_with_capacity)
    /// returns the error instead.
    ///
    /// ```
    /// let arena = vmem::Arena::with_capacity(256 << 10);
    /// assert!(arena.committed_bytes() >= 256 << 10);
    /// ```
    pub fn with_capacity(bytes: usize) -> Arena {
        Arena::try_with_capacity(bytes).unwrap_or_else(|e| crate::sync::failed("Arena::with_capacity", e))
    }

    /// An arena with `bytes` committed up front, or the error when the memory cannot be
    /// reserved or committed: see [`with_capacity`](Arena::with_capacity).
    ///
    /// ```
    /// let arena = vmem::Arena::try_with_capacity(64 << 10).unwrap();
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// assert!(vmem::Arena::try_with_capacity(usize::MAX).is_err());
    /// ```
    pub fn try_with_capacity(bytes: usize) -> Result<Arena> {
        Arena::from_config(Config { capacity: bytes, ..Config::DEFAULT })
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

    pub(crate) fn with_config(config: Config) -> Arena {
        Arena {
            base: Cell::new(ptr::null_mut()),
            position: Cell::new(0),
            end: Cell::new(0),
            first: UnsafeCell::new(Block::UNRESERVED),
            rest: UnsafeCell::new(Vec::new()),
            allocated_before: Cell::new(0),
            limit: Cell::new(None),
            config,
            history: ResetHistory::default(),
            id: Cell::new(0),
        }
    }

    /// An arena with `config`, its capacity (if any) committed.
    pub(crate) fn from_config(config: Config) -> Result<Arena> {
        let arena = Arena::with_config(config);
        if config.capacity > 0 {
            let region = config.new_block("Arena::with_capacity", config.capacity, config.capacity, 0)?;
            let base = region.base();
            // SAFETY: the arena was just made; nothing else refers to its first block.
            unsafe { *arena.first.get() = Block { region, allocated_before: 0 } };
            arena.enter(base, base as usize, 0);
        }
        Ok(arena)
    }

    /// The id of the arena, assigned on first use.
    fn id(&self) -> usize {
        match self.id.get() {
            0 => {
                let id = NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed);
                self.id.set(id);
                id
            }
            id => id,
        }
    }

    /// Allocates `layout` and returns a pointer to its first byte, or an error when memory,
    /// the maximum size or the allocation limit runs out. Zero-sized layouts take no space
    /// and return a dangling, well-aligned pointer.
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
        let size = round_up(size, MIN_ALIGN);
        let position = self.position.get();
        let end = self.end.get();
        // Before the first block both are 0, so every check below fails.
        let start = if align <= MIN_ALIGN {
            position
        } else {
            let start = position.wrapping_add(align - 1) & !(align - 1);
            if start < position || start > end {
                return self.alloc_slow(size, align);
            }
            start
        };
        // `start <= end`: `position <= end` (the invariant of `end`), or checked above.
        if size <= end - start {
            self.position.set(start + size);
            // SAFETY: `start..start + size` lies below `end`, in the committed part of the
            // current block (so the block exists and `base` is its non-null base).
            return Ok(unsafe { NonNull::new_unchecked(self.base.get().with_addr(start)) });
        }
        self.alloc_slow(size, align)
    }

    /// The current block: the last chained one, else the first once reserved.
    ///
    /// # Safety
    /// No other reference into the blocks is alive, and none is made while the result is.
    #[allow(clippy::mut_from_ref)] // exclusive as the caller promises
    unsafe fn current_block(&self) -> Option<&mut Block> {
        // SAFETY: the caller's promise; the arena is not `Sync`, so no other thread is here.
        let (first, rest) = unsafe { (&mut *self.first.get(), &mut *self.rest.get()) };
        match rest.last_mut() {
            Some(block) => Some(block),
            None => first.region.is_reserved().then_some(first),
        }
    }

    /// Block `index` (0 is the first), if it exists.
    ///
    /// # Safety
    /// As for [`current_block`](Arena::current_block).
    #[allow(clippy::mut_from_ref)] // exclusive as the caller promises
    unsafe fn block(&self, index: usize) -> Option<&mut Block> {
        // SAFETY: the caller's promise.
        let (first, rest) = unsafe { (&mut *self.first.get(), &mut *self.rest.get()) };
        match index {
            0 => first.region.is_reserved().then_some(first),
            _ => rest.get_mut(index - 1),
        }
    }

    /// How many blocks the arena has.
    fn block_count(&self) -> usize {
        // SAFETY: short reads of the blocks; no reference into them is alive.
        let (first, rest) = unsafe { (&*self.first.get(), &*self.rest.get()) };
        if first.region.is_reserved() {
            1 + rest.len()
        } else {
            0
        }
    }

    /// The fast path's `end` for the current block (based at `base`, committed up to
    /// `committed_end`), after `position` and `allocated_before` are set: the committed end,
    /// or less so that no allocation passes the limit, never below `position`.
    fn usable_end(&self, base: usize, committed_end: usize) -> usize {
        let end = match self.limit.get() {
            Some(limit) => committed_end.min(base.saturating_add(limit.saturating_sub(self.allocated_before.get()))),
            None => committed_end,
        };
        end.max(self.position.get())
    }

    /// Makes the block based at `base` current, at `position`, with `allocated_before` bytes
    /// in the blocks before it.
    fn enter(&self, base: *mut u8, position: usize, allocated_before: usize) {
        self.base.set(base);
        self.position.set(position);
        self.allocated_before.set(allocated_before);
        // SAFETY: a short read of the current block; no reference into the blocks is alive.
        let committed = unsafe { self.current_block() }.map_or(0, |b| b.region.committed());
        self.end.set(self.usable_end(base as usize, base as usize + committed));
    }

    /// Moves the position back to `to` (not below the current block's base), keeping the
    /// invariants of `end`: if `end` was held at the old position because the limit lay
    /// below it, it comes down with the position.
    fn retreat(&self, to: usize) {
        self.position.set(to);
        if let Some(limit) = self.limit.get() {
            let limit_end =
                (self.base.get() as usize).saturating_add(limit.saturating_sub(self.allocated_before.get()));
            if self.end.get() > limit_end {
                self.end.set(limit_end.max(to));
            }
        }
    }

    /// Commits more of the current block, or chains a new one, then allocates.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, size: usize, align: usize) -> Result<NonNull<u8>> {
        const OP: &str = "Arena::alloc";
        let limit = self.limit.get().unwrap_or(usize::MAX);
        // SAFETY: `&self` methods never hold a reference into the blocks across this call,
        // and the arena is not `Sync`, so this is the only access.
        if let Some(block) = unsafe { self.current_block() } {
            let base = block.base();
            let start = self.position.get().checked_add(align - 1).ok_or_else(|| too_large(OP, size))? & !(align - 1);
            let end = start.checked_add(size).ok_or_else(|| too_large(OP, size))?;
            if end <= base + block.region.reserved() {
                if self.allocated_before.get().saturating_add(end - base) > limit {
                    return Err(limit_reached(OP, size, limit));
                }
                let step = self.config.step(&block.region);
                block.region.commit_to(OP, end - base, step)?;
                let committed_end = base + block.region.committed();
                self.position.set(end);
                self.end.set(self.usable_end(base, committed_end));
                // SAFETY: `start` lies in the block's committed range, so it is not null.
                return Ok(unsafe { NonNull::new_unchecked(self.base.get().with_addr(start)) });
            }
        }
        // Chain a new block at least as large as the request (or reserve the first one).
        let allocated = self.allocated_bytes();
        if allocated.saturating_add(size) > limit {
            return Err(limit_reached(OP, size, limit));
        }
        let with_slack = size.checked_add(align - 1).ok_or_else(|| too_large(OP, size))?;
        let chained = self.block_count() > 0;
        if chained {
            // SAFETY: a short access to the chained blocks; no reference into them is alive.
            let rest = unsafe { &mut *self.rest.get() };
            rest.try_reserve(1).map_err(|_| Error::new(ErrorKind::OutOfMemory, OP, "no heap memory for block list"))?;
        }
        let region = self.config.new_block(OP, size, with_slack, self.reserved_bytes())?;
        let base = region.base();
        let start = (base as usize + align - 1) & !(align - 1);
        if allocated + (start - base as usize) + size > limit {
            return Err(limit_reached(OP, size, limit)); // the region goes back to the cache
        }
        let block = Block { region, allocated_before: allocated };
        // SAFETY: short accesses to the blocks; no reference into them is alive.
        unsafe {
            if chained {
                (*self.rest.get()).push(block); // room reserved above
            } else {
                *self.first.get() = block;
            }
        }
        self.enter(base, start + size, allocated);
        NonNull::new(base.wrapping_add(start - base as usize)).ok_or(Error::new(ErrorKind::Os, OP, "null block"))
    }

    /// Bytes handed out since creation or the last reset, including alignment padding.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// arena.alloc(0u64);
    /// assert_eq!(arena.allocated_bytes(), 8);
    /// ```
    pub fn allocated_bytes(&self) -> usize {
        match self.base.get() as usize {
            0 => 0,
            base => self.allocated_before.get() + self.position.get() - base,
        }
    }

    /// Bytes of memory committed (backed) in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(1 << 16).build().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.committed_bytes(), 1 << 16);
    /// ```
    pub fn committed_bytes(&self) -> usize {
        // SAFETY: short reads of the blocks; nothing else touches them during this call.
        let (first, rest) = unsafe { (&*self.first.get(), &*self.rest.get()) };
        first.region.committed() + rest.iter().map(|b| b.region.committed()).sum::<usize>()
    }

    /// Bytes of address space reserved in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().block_size(1 << 24).build().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.reserved_bytes(), 1 << 24);
    /// ```
    pub fn reserved_bytes(&self) -> usize {
        // SAFETY: short reads of the blocks; nothing else touches them during this call.
        let (first, rest) = unsafe { (&*self.first.get(), &*self.rest.get()) };
        first.region.reserved() + rest.iter().map(|b| b.region.reserved()).sum::<usize>()
    }

    /// Sets the most bytes the arena may hand out in all (what
    /// [`allocated_bytes`](Arena::allocated_bytes) counts, alignment padding included), or
    /// `None` for no limit (the default). An allocation that would pass it fails:
    /// `try_` methods return [`ErrorKind::OutOfMemory`], the others panic. Allocations made
    /// before stay; if they already pass a new, lower limit, nothing more is handed out
    /// until a `reset`, `rewind` or raised limit makes room. `reset` keeps the limit.
    ///
    /// Unlike `bumpalo`'s limit (checked only when it allocates a new chunk, and counting
    /// whole chunks), this one holds for every allocation; it costs nothing on the fast
    /// path, which compares against an end the limit lowers. Unlike
    /// [`max_bytes`](ArenaBuilder::max_bytes), which bounds reserved address space and is
    /// fixed when the arena is built, it can change at any time.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// arena.set_allocation_limit(Some(100));
    /// assert!(arena.try_alloc([0u8; 64]).is_ok());
    /// assert!(arena.try_alloc([0u8; 64]).is_err()); // 128 > 100
    /// assert!(arena.try_alloc([0u8; 32]).is_ok()); // 96 <= 100
    /// arena.set_allocation_limit(None);
    /// assert!(arena.try_alloc([0u8; 64]).is_ok());
    /// ```
    pub fn set_allocation_limit(&self, limit: Option<usize>) {
        self.limit.set(limit);
        let base = self.base.get();
        if !base.is_null() {
            self.enter(base, self.position.get(), self.allocated_before.get());
        }
    }

    /// The allocation limit set by [`set_allocation_limit`](Arena::set_allocation_limit).
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// assert_eq!(arena.allocation_limit(), None);
    /// arena.set_allocation_limit(Some(1 << 20));
    /// assert_eq!(arena.allocation_limit(), Some(1 << 20));
    /// ```
    pub fn allocation_limit(&self) -> Option<usize> {
        self.limit.get()
    }

    /// The memory each block handed out, oldest block first, as `&[MaybeUninit<u8>]`: in
    /// each block, the allocations in the order they were made (ascending addresses), with
    /// the alignment padding between them. There is one item per block (a block may have
    /// handed out nothing since a reset or rewind); [`allocated_bytes`](Arena::allocated_bytes)
    /// is the sum of their lengths.
    ///
    /// The bytes are `MaybeUninit` because not all of them were written: padding between
    /// allocations (`Arena` rounds every size up to 8 bytes, and aligns each allocation),
    /// padding inside the values, and memory handed out by
    /// [`alloc_layout`](Arena::alloc_layout) and never written. Reading them as initialized
    /// (`assume_init`) is your promise that they were; it holds when every allocation was of
    /// types without padding whose sizes are multiples of 8 and alignments at most 8 (for
    /// example `u64`s, or `[u8; 8]`s), each written in full. `bumpalo` lists chunks newest
    /// first and bumps downwards; this arena bumps upwards, so the order is allocation
    /// order.
    ///
    /// Taking `&mut self` guarantees that no reference to anything allocated is alive, so
    /// reading the bytes aliases nothing.
    ///
    /// ```
    /// let mut arena = vmem::Arena::new();
    /// for i in 0..4u64 {
    ///     arena.alloc(i);
    /// }
    /// let chunks: Vec<_> = arena.iter_allocated_chunks().collect();
    /// assert_eq!(chunks.len(), 1);
    /// // SAFETY: only `u64`s were allocated, each written in full: no padding anywhere.
    /// let words: Vec<u64> = chunks[0]
    ///     .chunks(8)
    ///     .map(|w| u64::from_ne_bytes(std::array::from_fn(|i| unsafe { w[i].assume_init() })))
    ///     .collect();
    /// assert_eq!(words, [0, 1, 2, 3]);
    /// ```
    pub fn iter_allocated_chunks(&mut self) -> ChunkIter<'_> {
        // SAFETY: `self` is borrowed mutably for the iterator's life.
        unsafe { ChunkIter::new(ChunkRawIter::new(&*self)) }
    }

    /// The memory each block handed out, oldest block first, as (first byte, length) pairs:
    /// the raw form of [`iter_allocated_chunks`](Arena::iter_allocated_chunks), through
    /// `&self`.
    ///
    /// # Safety
    /// Iterating is always safe (each step reads the arena's blocks as they are then); the
    /// promises are about the pointers:
    /// - They are valid for reads of their length until the arena is reset, rewound or
    ///   dropped; allocations made meanwhile do not move them, but the last pair may then
    ///   no longer cover the whole block.
    /// - Reading through them while a `&mut` reference to something allocated in the arena
    ///   is in use, or writing through them while any reference is, is undefined behaviour
    ///   (it aliases that reference).
    /// - The bytes may be uninitialized, as explained for `iter_allocated_chunks`: read them
    ///   as initialized only where you know they were written.
    ///
    /// ```
    /// let arena = vmem::Arena::new();
    /// arena.alloc(0xABu8);
    /// // SAFETY: no reference to the allocation is alive while its byte is read, and that
    /// // byte was written.
    /// let (p, len) = unsafe { arena.iter_allocated_chunks_raw() }.next().unwrap();
    /// assert_eq!((len, unsafe { p.read() }), (8, 0xAB));
    /// ```
    pub unsafe fn iter_allocated_chunks_raw(&self) -> ChunkRawIter<'_> {
        ChunkRawIter::new(self)
    }

    /// Frees everything: rewinds to the start of the first block, gives every chained block
    /// back (to the warm cache), and keeps committed only what the next round is likely to
    /// need, decommitting the rest so RSS and commit charge really drop.
    ///
    /// By default it keeps the most that any of the last four rounds (this one included)
    /// allocated, rounded up to 64 KiB (and at least the arena's
    /// [`capacity`](ArenaBuilder::capacity)): a loop whose rounds need about the same memory
    /// never faults a page in again (as bumpalo, which keeps its last chunk), and a one-off
    /// spike is returned within four resets. That is also the RSS a reset leaves behind: up
    /// to the largest of the last four rounds. [`retain_bytes`](ArenaBuilder::retain_bytes)
    /// sets a fixed amount instead (`0` returns everything at each reset). The allocation
    /// limit stays as it was.
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
        let rest = self.rest.get_mut();
        if !rest.is_empty() {
            rest.clear();
        }
        let first = self.first.get_mut();
        if first.region.is_reserved() {
            // A steady loop keeps all it has: then there is nothing to decommit, and nothing
            // to compute (the common case, kept cheap).
            if keep < first.region.warm() {
                // Decommit cannot fail for a range we committed; if it ever did, keeping the
                // memory committed is still correct.
                let _ = first.region.decommit_from(keep);
            }
            let base = first.region.base();
            self.enter(base, base as usize, 0);
        }
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
        Checkpoint {
            arena: self.id(),
            block: self.block_count().saturating_sub(1),
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
        let here = self.checkpoint();
        let info = |k: usize| {
            // SAFETY: a short read of block `k`; no reference into the blocks is alive.
            unsafe { self.block(k) }.map(|b| BlockInfo {
                base: b.base(),
                committed: b.region.committed(),
                allocated_before: b.allocated_before,
            })
        };
        let target = rewind_target("Arena::rewind", checkpoint, here.arena, here, MIN_ALIGN, info)?;
        if self.block_count() == 0 {
            return Ok(()); // nothing was ever allocated
        }
        let (block, position, allocated_before) = match target {
            None => (0, self.first.get_mut().base(), 0),
            Some(k) => (k, checkpoint.position, checkpoint.allocated_before),
        };
        // Keep blocks `0..=block`: the first and `block` chained ones.
        self.rest.get_mut().truncate(block);
        let base = match block {
            0 => self.first.get_mut().region.base(),
            k => self.rest.get_mut()[k - 1].region.base(),
        };
        self.enter(base, position, allocated_before);
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

impl BlockSpans for Arena {
    fn block_span(&self, index: usize) -> Option<(*mut u8, usize)> {
        let current = self.block_count().checked_sub(1)?;
        // SAFETY: short reads of blocks `index` and `index + 1`; no reference into the blocks
        // is alive (the references made here end before the next one is made).
        let (base, before) = unsafe { self.block(index) }.map(|b| (b.region.base(), b.allocated_before))?;
        let used = if index == current {
            self.position.get() - base as usize
        } else {
            // SAFETY: as above.
            let next_before = unsafe { self.block(index + 1) }.map_or(before, |b| b.allocated_before);
            next_before - before
        };
        Some((base, used))
    }
}

impl Arena {
    /// Whether the allocation of `size` bytes at `address` is the most recent one: it ends at
    /// the bump position *and lies in the current block*. (A block the OS placed right above
    /// the previous one starts where the previous one ends, so an allocation that filled the
    /// previous block to its end also "ends at the position" of a fresh current block.)
    #[inline]
    fn is_last(&self, address: usize, size: usize) -> bool {
        size != 0 && address >= self.base.get() as usize && address + round_up(size, MIN_ALIGN) == self.position.get()
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("allocated_bytes", &self.allocated_bytes())
            .field("committed_bytes", &self.committed_bytes())
            .field("reserved_bytes", &self.reserved_bytes())
            .field("allocation_limit", &self.limit.get())
            .finish()
    }
}

// SAFETY: memory returned by `allocate` stays valid until the arena is reset, rewound or
// dropped, which needs `&mut Arena` and so cannot happen while `&Arena` (the allocator) is
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
            self.retreat(address);
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
            let extra = round_up(new.size(), MIN_ALIGN) - round_up(old.size(), MIN_ALIGN);
            // `position <= end`, the invariant of `end`; below `end` the limit holds.
            if extra <= self.end.get() - self.position.get() {
                self.position.set(address + round_up(new.size(), MIN_ALIGN));
                return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
            }
            // Room in the block's reservation (and under the limit): commit more and grow in
            // place.
            // SAFETY: a short access to the current block; no reference into the blocks is
            // alive.
            if let Some(block) = unsafe { self.current_block() } {
                let base = block.base();
                let end = address + round_up(new.size(), MIN_ALIGN);
                let limit = self.limit.get().unwrap_or(usize::MAX);
                let under_limit = self.allocated_before.get().saturating_add(end - base) <= limit;
                if end <= base + block.region.reserved() && under_limit {
                    let step = self.config.step(&block.region);
                    if block.region.commit_to("Arena::grow", end - base, step).is_ok() {
                        let committed_end = base + block.region.committed();
                        self.position.set(end);
                        self.end.set(self.usable_end(base, committed_end));
                        return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
                    }
                }
            }
        }
        // SAFETY: `ptr` holds `old.size()` initialized bytes (the trait's promise); fresh
        // memory is new and disjoint, at least `new.size()` long.
        unsafe { super::moved(ptr, old, new, self.try_alloc_layout(new)) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let address = ptr.as_ptr() as usize;
        if address % new.align() != 0 {
            // SAFETY: as in `grow`.
            return unsafe { super::moved(ptr, old, new, self.try_alloc_layout(new)) };
        }
        if self.is_last(address, old.size()) {
            self.retreat(address + round_up(new.size(), MIN_ALIGN));
        }
        Ok(NonNull::slice_from_raw_parts(ptr, new.size()))
    }
}
