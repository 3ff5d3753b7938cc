//! `SyncArena`: the arena shared between threads.
//!
//! # How the shared position stays consistent
//!
//! Every block has an atomic bump `position` and an atomic `end` (the committed end, or less
//! under an allocation limit). The fast path is a compare-and-swap of `position` that never
//! passes `end`. Everything else that moves a position, or `end`, is argued here once:
//!
//! - `end` is stored only under the arena's lock (or with `&mut self`), and is never above
//!   the block's committed end; committed memory is only ever added while the arena is
//!   shared (decommit needs `&mut self`). So whatever value of `end` a thread loaded, the
//!   memory below it is committed.
//! - Only the last block (the one `current` points to) gains commits or is bumped. When a
//!   new block is chained, the old one is *closed*: its position is swapped to `CLOSED`
//!   under the lock. The swap is one read-modify-write, so it returns the exact end of what
//!   the block handed out (the bytes allocated before the new block are then fixed), and no
//!   bump or compare-and-swap on that block can succeed afterwards (they compute from, or
//!   expect, a real address, and `CLOSED` is none).
//! - The `Allocator` interface gives memory back (`deallocate`, `shrink`) and grows in place
//!   only with a compare-and-swap on the *current* block's position that expects exactly
//!   the end of the allocation, and only for an allocation lying in that block. The swap
//!   succeeds only if, at that instant, nothing was handed out after the allocation; it then
//!   moves the position within the allocation's own bytes (or past its end, over memory no
//!   one holds). An allocation that filled the previous block to its end, in a block the
//!   OS placed right below the current one, "ends at the position" of a fresh current block:
//!   the address range check rules it out (the bug `Arena::is_last` fixed in 14.4), and the
//!   previous block is closed anyway.
//! - A thread's chunk (see `local`) is taken from the shared position like any allocation.
//!   The `Allocator` never hands out memory from a chunk; and even an allocation inside a
//!   chunk could only end at the shared position if it ends at the chunk's end, when the
//!   chunk has nothing left to hand out: the unused rest of a chunk is never given back.
//! - Memory handed back is handed out again to another thread: the compare-and-swaps that
//!   give back are `Release` and the ones that take memory `Acquire`, so the writes of the
//!   previous holder happen before those of the next.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use super::typed::typed_helpers;
use super::{
    limit_reached, rewind_target, too_large, BlockInfo, BlockSpans, Checkpoint, ChunkIter, ChunkRawIter, Config,
    ResetHistory,
};
use crate::region::GrowRegion;
use crate::sync::{Lock, LockGuard};
use crate::{Error, ErrorKind, Result};

/// The position of a closed block: no bump computes from it and no compare-and-swap
/// expects it.
const CLOSED: usize = usize::MAX;

/// One block: its base, two atomics (the bump position and the end bumps may reach), and
/// its region, which only the slow path touches.
struct SyncBlock {
    /// The first byte of the block (fixed): the provenance of every pointer handed out.
    base: *mut u8,
    /// The block's reserved bytes (fixed).
    reserved: usize,
    /// Bytes handed out in the blocks before this one: fixed while this block lives (each
    /// older block was closed when the next one was chained).
    allocated_before: usize,
    /// The next free address; [`CLOSED`] once a newer block is chained.
    position: AtomicUsize,
    /// How far bumps may go: the committed end, or less under an allocation limit. Stored
    /// only under the lock or through `&mut`; never above the committed end.
    end: AtomicUsize,
    /// Touched only under the arena's lock or through `&mut SyncArena`.
    region: UnsafeCell<GrowRegion>,
}

impl SyncBlock {
    fn new(region: GrowRegion, position: usize, allocated_before: usize, limit: Option<usize>) -> SyncBlock {
        let base = region.base();
        let end = usable_end(base as usize, region.committed(), allocated_before, limit);
        SyncBlock {
            base,
            reserved: region.reserved(),
            allocated_before,
            position: AtomicUsize::new(position),
            end: AtomicUsize::new(end),
            region: UnsafeCell::new(region),
        }
    }

    fn base(&self) -> usize {
        self.base as usize
    }

    /// The block's region.
    ///
    /// # Safety
    /// The caller holds the arena's lock, or has `&mut` access to the arena.
    #[allow(clippy::mut_from_ref)] // exclusive by the lock, as the caller promises
    unsafe fn region(&self) -> &mut GrowRegion {
        // SAFETY: the caller's promise: no other access to the region exists meanwhile
        // (the fast path reads only `base`, `position` and `end`).
        unsafe { &mut *self.region.get() }
    }

    /// Whether `[address, address + size)` lies in the block's address space.
    fn holds(&self, address: usize, size: usize) -> bool {
        address >= self.base() && address.checked_add(size).is_some_and(|end| end <= self.base() + self.reserved)
    }

    /// Sets `end` from the block's committed memory and the limit.
    ///
    /// # Safety
    /// As for [`region`](SyncBlock::region).
    unsafe fn update_end(&self, limit: Option<usize>) {
        // SAFETY: the caller's promise.
        let committed = unsafe { self.region() }.committed();
        self.end.store(usable_end(self.base(), committed, self.allocated_before, limit), Ordering::Release);
    }
}

/// The `end` of a block based at `base` with `committed` bytes committed and
/// `allocated_before` bytes handed out before it: its committed end, or where the
/// allocated bytes would pass `limit`.
fn usable_end(base: usize, committed: usize, allocated_before: usize, limit: Option<usize>) -> usize {
    let committed_end = base + committed;
    match limit {
        Some(limit) => committed_end.min(base.saturating_add(limit.saturating_sub(allocated_before))),
        None => committed_end,
    }
}

/// A bump arena shared between threads: the same idea as [`Arena`](super::Arena) — a pointer
/// bump in reserved address space that grows without moving — and the same methods, but
/// allocation goes through `&self` from many threads at once.
/// The fast path is lock-free: one compare-and-swap on the current block's position; a
/// thread that loses that race to another takes a 32 KiB chunk of the block for itself and
/// from then on bumps in it without any atomic operation (with the `std` feature).
/// Committing the next step or chaining a new block takes a short lock, once per commit
/// step. `reset`, `checkpoint`, `rewind` and `scope` take `&mut self`: no thread allocates
/// meanwhile.
///
/// Like `Arena`, it never runs `Drop` for what it allocates.
///
/// ```
/// use vmem::SyncArena;
///
/// let arena = SyncArena::new();
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let arena = &arena;
///         s.spawn(move || {
///             let values = arena.alloc_slice_fill_with(1000, |i| t * 1000 + i as u64);
///             assert_eq!(values[999], t * 1000 + 999);
///         });
///     }
/// });
/// assert!(arena.allocated_bytes() >= 4 * 8000);
/// ```
pub struct SyncArena {
    /// The block allocations bump in; null before the first allocation.
    current: AtomicPtr<SyncBlock>,
    /// Every block, the current one last; changed only under `lock` or with `&mut self`.
    /// Boxed so that `current` stays valid when the vector reallocates.
    #[allow(clippy::vec_box)]
    blocks: UnsafeCell<Vec<Box<SyncBlock>>>,
    /// Guards `blocks` and the regions, and holds the allocation limit.
    lock: Lock<Option<usize>>,
    config: Config,
    /// What recent rounds needed, for `reset`.
    history: ResetHistory,
    /// Identifies the arena to its checkpoints (fixed).
    id: usize,
    /// Identifies this arena (and its state since the last reset, rewind, checkpoint or
    /// change of the allocation limit) to the per-thread chunks: unique for the life of the
    /// process.
    #[cfg(feature = "std")]
    key: AtomicUsize,
}

/// Per-thread chunks: a thread that loses a race on the shared position takes a chunk of
/// the block for itself and bumps in it without atomics from then on.
#[cfg(feature = "std")]
mod local {
    use core::cell::Cell;
    use core::ptr;

    /// Bytes a thread takes at a time.
    pub(super) const CHUNK: usize = 32 << 10;
    /// Larger allocations always go to the shared position.
    pub(super) const MAX_LOCAL: usize = 1 << 10;

    /// A thread's chunk of one arena's block.
    #[derive(Clone, Copy)]
    pub(super) struct Chunk {
        /// The `key` of the arena the chunk belongs to (0: none).
        pub(super) key: usize,
        /// Any pointer into the block, for provenance.
        pub(super) base: *mut u8,
        pub(super) position: usize,
        pub(super) end: usize,
    }

    std::thread_local! {
        pub(super) static CURRENT: Cell<Chunk> =
            const { Cell::new(Chunk { key: 0, base: ptr::null_mut(), position: 0, end: 0 }) };
    }
}

// SAFETY: the blocks are owned by the arena; moving it moves them.
unsafe impl Send for SyncArena {}
// SAFETY: shared access is the allocation fast path (atomics on a block that stays alive and
// in place, because blocks are boxed and only dropped with `&mut self`) and the slow path,
// which touches `blocks` and the regions only while holding `lock`; see the module docs
// for how the atomics stay consistent.
unsafe impl Sync for SyncArena {}

impl Default for SyncArena {
    fn default() -> SyncArena {
        SyncArena::new()
    }
}

typed_helpers!(SyncArena);

impl SyncArena {
    /// A shared arena with the default settings; reserves nothing until the first
    /// allocation. Use [`Arena::builder`](crate::Arena::builder) and
    /// [`build_sync`](crate::ArenaBuilder::build_sync) for other settings.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.reserved_bytes(), 0);
    /// ```
    pub fn new() -> SyncArena {
        SyncArena::with_config(Config::DEFAULT)
    }

    /// A shared arena with `bytes` committed up front, as
    /// [`Arena::with_capacity`](crate::Arena::with_capacity).
    ///
    /// # Panics
    /// When the memory cannot be committed; see
    /// [`try_with_capacity`](SyncArena::try_with_capacity).
    ///
    /// ```
    /// let arena = vmem::SyncArena::with_capacity(256 << 10);
    /// assert!(arena.committed_bytes() >= 256 << 10);
    /// ```
    pub fn with_capacity(bytes: usize) -> SyncArena {
        SyncArena::try_with_capacity(bytes).unwrap_or_else(|e| crate::sync::failed("SyncArena::with_capacity", e))
    }

    /// A shared arena with `bytes` committed up front, or the error when the memory cannot
    /// be reserved or committed.
    ///
    /// ```
    /// assert!(vmem::SyncArena::try_with_capacity(64 << 10).is_ok());
    /// assert!(vmem::SyncArena::try_with_capacity(usize::MAX).is_err());
    /// ```
    pub fn try_with_capacity(bytes: usize) -> Result<SyncArena> {
        SyncArena::from_config(Config { capacity: bytes, ..Config::DEFAULT })
    }

    pub(crate) fn with_config(config: Config) -> SyncArena {
        let id = crate::arena::NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed);
        SyncArena {
            current: AtomicPtr::new(ptr::null_mut()),
            blocks: UnsafeCell::new(Vec::new()),
            lock: Lock::new(None),
            config,
            history: ResetHistory::default(),
            id,
            #[cfg(feature = "std")]
            key: AtomicUsize::new(id),
        }
    }

    /// A shared arena with `config`, its capacity (if any) committed.
    pub(crate) fn from_config(config: Config) -> Result<SyncArena> {
        let mut arena = SyncArena::with_config(config);
        if config.capacity > 0 {
            let region = config.new_block("SyncArena::with_capacity", config.capacity, config.capacity, 0)?;
            let position = region.base() as usize;
            let blocks = arena.blocks.get_mut();
            blocks.try_reserve(1).map_err(|_| {
                Error::new(ErrorKind::OutOfMemory, "SyncArena::with_capacity", "no heap memory for block list")
            })?;
            blocks.push(Box::new(SyncBlock::new(region, position, 0, None)));
            if let Some(first) = blocks.last_mut() {
                *arena.current.get_mut() = &mut **first as *mut SyncBlock;
            }
        }
        Ok(arena)
    }

    fn lock(&self) -> LockGuard<'_, Option<usize>> {
        self.lock.lock()
    }

    /// Bumps `block`'s position for `size` bytes aligned to `align`, retrying when other
    /// threads bump meanwhile; `None` when the block is full up to its `end` (or closed).
    #[inline]
    fn bump(block: &SyncBlock, size: usize, align: usize) -> Option<usize> {
        let mut position = block.position.load(Ordering::Relaxed);
        loop {
            let start = position.checked_add(align - 1)? & !(align - 1);
            let end = start.checked_add(size)?;
            if end > block.end.load(Ordering::Acquire) {
                return None;
            }
            // `Acquire`: the memory may have been given back by another thread (see the
            // module docs).
            match block.position.compare_exchange_weak(position, end, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Some(start),
                Err(now) => position = now,
            }
        }
    }

    /// Allocates `layout` from any thread, or returns an error when memory, the maximum
    /// size or the allocation limit runs out. Zero-sized layouts return a dangling,
    /// well-aligned pointer.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let arena = vmem::SyncArena::new();
    /// let p = arena.try_alloc_layout(Layout::from_size_align(24, 8).unwrap()).unwrap();
    /// assert_eq!(p.as_ptr() as usize % 8, 0);
    /// ```
    #[inline]
    pub fn try_alloc_layout(&self, layout: Layout) -> Result<NonNull<u8>> {
        let (size, align) = (layout.size(), layout.align());
        if size == 0 {
            // SAFETY: `align` is a non-zero power of two.
            return Ok(unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(align)) });
        }
        #[cfg(feature = "std")]
        if size <= local::MAX_LOCAL {
            if let Some(p) = self.bump_local(size, align) {
                return Ok(p);
            }
        }
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: blocks stay alive and in place until `&mut self` drops them.
            let block = unsafe { &*current };
            #[cfg(feature = "std")]
            if size <= local::MAX_LOCAL {
                // One try on the shared position; a thread that loses the race is contending
                // with others, so it takes a chunk for itself instead of retrying.
                return match Self::bump_once(block, size, align) {
                    Some(start) => {
                        // SAFETY: `start` lies in the block's committed range: non-null.
                        Ok(unsafe { NonNull::new_unchecked(block.base.with_addr(start)) })
                    }
                    None => self.alloc_local_chunk(size, align),
                };
            }
            if let Some(start) = Self::bump(block, size, align) {
                // SAFETY: `start` lies in the block's committed range, so it is non-null.
                return Ok(unsafe { NonNull::new_unchecked(block.base.with_addr(start)) });
            }
        }
        self.alloc_slow(size, align)
    }

    /// Allocates `layout` from the shared position only, never from a thread's chunk: what
    /// the `Allocator` interface hands out, so that it can give back and grow in place.
    fn alloc_shared(&self, layout: Layout) -> Result<NonNull<u8>> {
        let (size, align) = (layout.size(), layout.align());
        if size == 0 {
            // SAFETY: `align` is a non-zero power of two.
            return Ok(unsafe { NonNull::new_unchecked(ptr::without_provenance_mut(align)) });
        }
        let current = self.current.load(Ordering::Acquire);
        if !current.is_null() {
            // SAFETY: blocks stay alive and in place until `&mut self` drops them.
            let block = unsafe { &*current };
            if let Some(start) = Self::bump(block, size, align) {
                // SAFETY: `start` lies in the block's committed range, so it is non-null.
                return Ok(unsafe { NonNull::new_unchecked(block.base.with_addr(start)) });
            }
        }
        self.alloc_slow(size, align)
    }

    /// Bumps in this thread's chunk, if it has one of this arena with room.
    #[cfg(feature = "std")]
    #[inline]
    fn bump_local(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        local::CURRENT
            .try_with(|current| {
                let mut chunk = current.get();
                // `Relaxed`: a thread that sees an old key after `set_allocation_limit`
                // changed it bumps as if it had come before the change.
                if chunk.key != self.key.load(Ordering::Relaxed) {
                    return None;
                }
                let start = chunk.position.wrapping_add(align - 1) & !(align - 1);
                if start < chunk.position || start > chunk.end || size > chunk.end - start {
                    return None;
                }
                chunk.position = start + size;
                current.set(chunk);
                NonNull::new(chunk.base.with_addr(start))
            })
            .ok()
            .flatten()
    }

    /// One compare-and-swap on `block`'s position; `None` when it lost a race or the
    /// block is full up to its `end` (or closed).
    #[cfg(feature = "std")]
    #[inline]
    fn bump_once(block: &SyncBlock, size: usize, align: usize) -> Option<usize> {
        let position = block.position.load(Ordering::Relaxed);
        let start = position.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(size)?;
        if end > block.end.load(Ordering::Acquire) {
            return None;
        }
        // `Acquire`: as in `bump`.
        block.position.compare_exchange(position, end, Ordering::Acquire, Ordering::Relaxed).ok().map(|_| start)
    }

    /// Takes a chunk of the shared block for this thread and allocates from it.
    #[cfg(feature = "std")]
    #[cold]
    #[inline(never)]
    fn alloc_local_chunk(&self, size: usize, align: usize) -> Result<NonNull<u8>> {
        let chunk = match self.current.load(Ordering::Acquire) {
            // SAFETY: blocks stay alive and in place until `&mut self` drops them.
            current if !current.is_null() => match Self::bump(unsafe { &*current }, local::CHUNK, 64) {
                // SAFETY: `start` lies in the block's committed range, so it is non-null.
                Some(start) => Ok(unsafe { NonNull::new_unchecked((*current).base.with_addr(start)) }),
                None => self.alloc_slow(local::CHUNK, 64),
            },
            _ => self.alloc_slow(local::CHUNK, 64),
        };
        // A chunk is an optimisation: where none fits (near `max_bytes` or the allocation
        // limit, or memory is short), the request itself may still fit, and an error must
        // name the request, not the chunk.
        let Ok(chunk) = chunk else { return self.alloc_slow(size, align) };
        let base = chunk.as_ptr();
        let installed = local::CURRENT.try_with(|current| {
            current.set(local::Chunk {
                key: self.key.load(Ordering::Relaxed),
                base,
                position: base as usize,
                end: base as usize + local::CHUNK,
            })
        });
        if installed.is_err() {
            // The thread is exiting and its chunk is gone: use the start of the chunk.
            return Ok(chunk);
        }
        // A fresh 32 KiB chunk aligned to 64 holds any request of at most `MAX_LOCAL` bytes
        // with alignment up to 64; larger alignments fall back to the shared path.
        self.bump_local(size, align).map_or_else(|| self.alloc_slow(size, align), Ok)
    }

    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, size: usize, align: usize) -> Result<NonNull<u8>> {
        const OP: &str = "SyncArena::alloc";
        let guard = self.lock();
        let limit = *guard;
        let most = limit.unwrap_or(usize::MAX);
        // SAFETY: we hold the lock, so no other thread touches `blocks`; `&mut self` methods
        // cannot run while `&self` is borrowed.
        let blocks = unsafe { &mut *self.blocks.get() };
        let too_large = || too_large(OP, size);
        if let Some(block) = blocks.last() {
            // Another thread may have made room meanwhile.
            if let Some(start) = Self::bump(block, size, align) {
                return NonNull::new(block.base.with_addr(start)).ok_or_else(too_large);
            }
            // Commit enough for this request, and bump under the lock (others may still bump
            // lock-free; the compare-and-swap in `bump` settles who gets what).
            let base = block.base();
            // SAFETY: we hold the lock.
            let region = unsafe { block.region() };
            // The last block is never closed: this is a real address.
            let position = block.position.load(Ordering::Relaxed);
            let start = position.checked_add(align - 1).ok_or_else(too_large)? & !(align - 1);
            let end = start.checked_add(size).ok_or_else(too_large)?;
            if end <= base + region.reserved() {
                if block.allocated_before.saturating_add(end - base) > most {
                    return Err(limit_reached(OP, size, most));
                }
                let step = self.config.step(region);
                region.commit_to(OP, end - base, step)?;
                // SAFETY: we hold the lock.
                unsafe { block.update_end(limit) };
                if let Some(start) = Self::bump(block, size, align) {
                    return NonNull::new(block.base.with_addr(start)).ok_or_else(too_large);
                }
            }
        }
        // Chain a new block, at least as large as the request.
        let snapshot =
            blocks.last().map_or(0, |b| b.allocated_before + (b.position.load(Ordering::Relaxed) - b.base()));
        if snapshot.saturating_add(size) > most {
            return Err(limit_reached(OP, size, most));
        }
        let padded = size.checked_add(align - 1).ok_or_else(too_large)?;
        let reserved: usize = blocks.iter().map(|b| b.reserved).sum();
        blocks.try_reserve(1).map_err(|_| Error::new(ErrorKind::OutOfMemory, OP, "no heap memory for block list"))?;
        let region = self.config.new_block(OP, size, padded, reserved)?;
        let base_ptr = region.base();
        let base = base_ptr as usize;
        let start = (base + align - 1) & !(align - 1);
        // Close the current block: what it handed out is final from here on (see the module
        // docs), so the new block's `allocated_before` is exact.
        let closed = blocks.last().map(|b| (b, b.position.swap(CLOSED, Ordering::AcqRel)));
        let allocated = closed.map_or(0, |(b, end)| b.allocated_before + (end - b.base()));
        if allocated + (start - base) + size > most {
            // Reopen it: no bump or compare-and-swap succeeded on it while it was closed, so
            // this is as if it never was. The new region goes back to the cache.
            if let Some((b, end)) = closed {
                b.position.store(end, Ordering::Release);
            }
            return Err(limit_reached(OP, size, most));
        }
        blocks.push(Box::new(SyncBlock::new(region, start + size, allocated, limit))); // room reserved above
        if let Some(block) = blocks.last() {
            // Shared access only from here on (atomics and, under the lock, the region).
            self.current.store(&**block as *const SyncBlock as *mut SyncBlock, Ordering::Release);
        }
        drop(guard);
        NonNull::new(base_ptr.with_addr(start)).ok_or_else(too_large)
    }

    /// Runs `f` on every block while holding the lock.
    fn with_blocks<R>(&self, f: impl FnOnce(&[Box<SyncBlock>], Option<usize>) -> R) -> R {
        let guard = self.lock();
        // SAFETY: the lock keeps every other writer of `blocks` out.
        f(unsafe { &*self.blocks.get() }, *guard)
    }

    /// Bytes handed out (including alignment padding) in all blocks. With other threads
    /// allocating, a snapshot. A thread that contends with others takes 32 KiB chunks for
    /// itself, and a chunk counts as handed out as a whole.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// arena.alloc(0u32);
    /// assert_eq!(arena.allocated_bytes(), 4);
    /// ```
    pub fn allocated_bytes(&self) -> usize {
        // The last block is never closed while the lock is not held.
        self.with_blocks(|blocks, _| {
            blocks.last().map_or(0, |b| b.allocated_before + (b.position.load(Ordering::Relaxed) - b.base()))
        })
    }

    /// Bytes committed in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(1 << 16).build_sync().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.committed_bytes(), 1 << 16);
    /// ```
    pub fn committed_bytes(&self) -> usize {
        // SAFETY: `with_blocks` holds the lock.
        self.with_blocks(|blocks, _| blocks.iter().map(|b| unsafe { b.region() }.committed()).sum())
    }

    /// Bytes of address space reserved in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().block_size(1 << 24).build_sync().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.reserved_bytes(), 1 << 24);
    /// ```
    pub fn reserved_bytes(&self) -> usize {
        self.with_blocks(|blocks, _| blocks.iter().map(|b| b.reserved).sum())
    }

    /// Sets the most bytes the arena may hand out in all (what
    /// [`allocated_bytes`](SyncArena::allocated_bytes) counts: per-thread chunks whole), or
    /// `None` for no limit, as [`Arena::set_allocation_limit`](crate::Arena::set_allocation_limit):
    /// it holds for every allocation and costs nothing on the fast path. Near the limit,
    /// threads stop taking chunks and allocate what they ask for from the shared position;
    /// the chunks threads hold are void after this call, so every later allocation is checked
    /// against the new limit. Allocations that race with this call may still complete under
    /// the old one.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// arena.set_allocation_limit(Some(1000));
    /// std::thread::scope(|s| {
    ///     for _ in 0..2 {
    ///         s.spawn(|| while arena.try_alloc(0u64).is_ok() {});
    ///     }
    /// });
    /// assert!(arena.allocated_bytes() <= 1000);
    /// ```
    pub fn set_allocation_limit(&self, limit: Option<usize>) {
        let mut guard = self.lock();
        *guard = limit;
        // SAFETY: we hold the lock, so no other thread touches `blocks` or the regions.
        if let Some(block) = unsafe { &*self.blocks.get() }.last() {
            // SAFETY: we hold the lock.
            unsafe { block.update_end(limit) };
        }
        self.void_chunks();
    }

    /// The allocation limit set by
    /// [`set_allocation_limit`](SyncArena::set_allocation_limit).
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// arena.set_allocation_limit(Some(4096));
    /// assert_eq!(arena.allocation_limit(), Some(4096));
    /// ```
    pub fn allocation_limit(&self) -> Option<usize> {
        *self.lock()
    }

    /// The memory each block handed out, oldest block first, as `&[MaybeUninit<u8>]`: see
    /// [`Arena::iter_allocated_chunks`](crate::Arena::iter_allocated_chunks). Here the bytes
    /// of a block also hold the per-thread chunks of contending threads (32 KiB each, handed
    /// out whole, mostly never written) and the allocations of different threads
    /// interleaved: read them as initialized only where you know they were written.
    ///
    /// ```
    /// let mut arena = vmem::SyncArena::new();
    /// arena.alloc([1u8; 8]);
    /// let total: usize = arena.iter_allocated_chunks().map(|c| c.len()).sum();
    /// assert_eq!(total, arena.allocated_bytes());
    /// ```
    pub fn iter_allocated_chunks(&mut self) -> ChunkIter<'_> {
        // SAFETY: `self` is borrowed mutably for the iterator's life.
        unsafe { ChunkIter::new(ChunkRawIter::new(&*self)) }
    }

    /// The memory each block handed out, oldest block first, as (first byte, length) pairs,
    /// through `&self`: see [`Arena::iter_allocated_chunks_raw`](crate::Arena::iter_allocated_chunks_raw).
    ///
    /// # Safety
    /// As for `Arena::iter_allocated_chunks_raw`; here other threads may be allocating
    /// meanwhile, so the current block's length is a snapshot, and its bytes may be
    /// written by another thread at any time: read them only where your own
    /// synchronization says no thread writes.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// arena.alloc(1u32);
    /// // SAFETY: only the lengths are used.
    /// assert_eq!(unsafe { arena.iter_allocated_chunks_raw() }.map(|(_, n)| n).sum::<usize>(), 4);
    /// ```
    pub unsafe fn iter_allocated_chunks_raw(&self) -> ChunkRawIter<'_> {
        ChunkRawIter::new(self)
    }

    /// Frees everything, as [`Arena::reset`](crate::Arena::reset): gives chained blocks
    /// back and keeps committed what recent rounds needed (or
    /// [`retain_bytes`](crate::ArenaBuilder::retain_bytes)), decommitting the rest.
    ///
    /// ```
    /// let mut arena = vmem::Arena::builder().retain_bytes(0).build_sync().unwrap();
    /// arena.alloc_slice_fill_with(1 << 20, |_| 1u8);
    /// arena.reset();
    /// assert_eq!((arena.allocated_bytes(), arena.committed_bytes()), (0, 0));
    /// ```
    pub fn reset(&mut self) {
        let keep = self.history.keep(self.allocated_bytes(), &self.config);
        let limit = *self.lock.lock();
        let blocks = self.blocks.get_mut();
        blocks.truncate(1);
        if let Some(first) = blocks.first_mut() {
            // Decommit cannot fail for a range we committed; if it did, the memory would stay
            // committed, which is still correct.
            let _ = first.region.get_mut().decommit_from(keep);
            *first.position.get_mut() = first.base();
            // SAFETY: `&mut self`: no other access to the region.
            unsafe { first.update_end(limit) };
            let raw = &mut **first as *mut SyncBlock;
            *self.current.get_mut() = raw;
        }
        self.void_chunks();
    }

    /// Every thread's chunk of this arena is void from now on (a thread bumps in its chunk
    /// only while the chunk's key is the arena's).
    fn void_chunks(&self) {
        #[cfg(feature = "std")]
        self.key.store(crate::arena::NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
    }

    /// Where the arena is now (without voiding chunks).
    fn here(&mut self) -> Checkpoint {
        let blocks = self.blocks.get_mut();
        let count = blocks.len();
        match blocks.last_mut() {
            None => Checkpoint { arena: self.id, block: 0, position: 0, allocated_before: 0 },
            Some(last) => Checkpoint {
                arena: self.id,
                block: count - 1,
                position: *last.position.get_mut(),
                allocated_before: last.allocated_before,
            },
        }
    }

    /// The current position, for [`rewind`](SyncArena::rewind). Through `&mut self`, so no
    /// thread allocates meanwhile; every thread's chunk is void from then on, so that all
    /// later allocations lie past the checkpoint and a rewind frees all of them.
    ///
    /// ```
    /// let mut arena = vmem::SyncArena::new();
    /// arena.alloc(1u64);
    /// let mark = arena.checkpoint();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| arena.alloc_slice_fill_with(1000, |i| i));
    /// });
    /// arena.rewind(mark).unwrap();
    /// assert_eq!(arena.allocated_bytes(), 8);
    /// ```
    pub fn checkpoint(&mut self) -> Checkpoint {
        self.void_chunks();
        self.here()
    }

    /// Frees everything allocated after `checkpoint` was taken, as
    /// [`Arena::rewind`](crate::Arena::rewind) (releasing blocks chained since; memory stays
    /// committed). Every thread's chunk is void afterwards.
    ///
    /// # Errors
    /// `InvalidArgument` when the checkpoint is from another arena, or from a position that
    /// no longer exists; nothing changes then.
    ///
    /// ```
    /// let mut a = vmem::SyncArena::new();
    /// let mut b = vmem::SyncArena::new();
    /// assert!(a.rewind(b.checkpoint()).is_err());
    /// ```
    pub fn rewind(&mut self, checkpoint: Checkpoint) -> Result<()> {
        let here = self.here();
        let limit = *self.lock.lock();
        let blocks = self.blocks.get_mut();
        let info = |k: usize| {
            blocks.get(k).map(|b| BlockInfo {
                base: b.base(),
                // SAFETY: `&mut self`: no other access to the region.
                committed: unsafe { b.region() }.committed(),
                allocated_before: b.allocated_before,
            })
        };
        let target = rewind_target("SyncArena::rewind", checkpoint, self.id, here, 1, info)?;
        if !blocks.is_empty() {
            let (block, position) = match target {
                None => (0, blocks[0].base()),
                Some(k) => (k, checkpoint.position),
            };
            blocks.truncate(block + 1);
            let last = &mut blocks[block];
            *last.position.get_mut() = position; // reopened, if it was closed
                                                 // SAFETY: `&mut self`: no other access to the region.
            unsafe { last.update_end(limit) };
            let raw = &mut **last as *mut SyncBlock;
            *self.current.get_mut() = raw;
        }
        self.void_chunks();
        Ok(())
    }

    /// Runs `f` with the arena and frees everything `f` allocated when it returns; `f` may
    /// share the arena with threads it starts (and joins). The allocations cannot escape `f`.
    ///
    /// ```
    /// let mut arena = vmem::SyncArena::new();
    /// let total = arena.scope(|a| {
    ///     std::thread::scope(|s| {
    ///         let halves = [s.spawn(|| a.alloc_slice_fill_with(500, |i| i as u64).iter().sum::<u64>()),
    ///                       s.spawn(|| a.alloc_slice_fill_with(500, |i| 500 + i as u64).iter().sum::<u64>())];
    ///         halves.map(|h| h.join().unwrap()).iter().sum::<u64>()
    ///     })
    /// });
    /// assert_eq!(total, 499_500);
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// ```
    ///
    /// ```compile_fail
    /// let mut arena = vmem::SyncArena::new();
    /// let escaped = arena.scope(|a| a.alloc(5u32)); // error: the reference cannot escape
    /// ```
    pub fn scope<R>(&mut self, f: impl FnOnce(&SyncArena) -> R) -> R {
        let mark = self.checkpoint();
        let result = f(self);
        // Cannot fail: `mark` was taken from this arena just now, and `f` could not rewind.
        let _ = self.rewind(mark);
        result
    }

    /// Grows the allocation `[address, address + old_size)` to `new_size` bytes in place, if
    /// it is the last one handed out from the current block's shared position and the block
    /// has room (committing more if needed).
    fn grow_in_place(&self, address: usize, old_size: usize, new_size: usize) -> bool {
        let current = self.current.load(Ordering::Acquire);
        if current.is_null() {
            return false;
        }
        // SAFETY: blocks stay alive and in place until `&mut self` drops them.
        let block = unsafe { &*current };
        if old_size == 0 || !block.holds(address, new_size) {
            return false;
        }
        let (old_end, new_end) = (address + old_size, address + new_size);
        if new_end <= block.end.load(Ordering::Acquire) {
            // SAFETY (of the memory handed over): the swap succeeds only if nothing was handed
            // out past `old_end` from this open block, and `new_end` is below an `end` this
            // thread loaded, so committed. `AcqRel`: it takes memory that may have been given
            // back (module docs).
            return block.position.compare_exchange(old_end, new_end, Ordering::AcqRel, Ordering::Relaxed).is_ok();
        }
        let guard = self.lock();
        // Under the lock the block list cannot change: if `block` is still the current one
        // it is the last, open, and its region is ours to commit.
        if self.current.load(Ordering::Relaxed) != current || block.position.load(Ordering::Relaxed) != old_end {
            return false;
        }
        let limit = *guard;
        if block.allocated_before.saturating_add(new_end - block.base()) > limit.unwrap_or(usize::MAX) {
            return false;
        }
        // SAFETY: we hold the lock.
        let region = unsafe { block.region() };
        let step = self.config.step(region);
        if region.commit_to("SyncArena::grow", new_end - block.base(), step).is_err() {
            return false;
        }
        // SAFETY: we hold the lock.
        unsafe { block.update_end(limit) };
        // Under the limit and committed up to `new_end`: `end >= new_end` now. Other threads
        // may have bumped since the check above; then the swap fails.
        block.position.compare_exchange(old_end, new_end, Ordering::AcqRel, Ordering::Relaxed).is_ok()
    }

    /// Gives back the tail `[from, to)` of an allocation that ends at `to`, if nothing was
    /// handed out after it from the current block's shared position.
    fn give_back(&self, from: usize, to: usize) {
        let current = self.current.load(Ordering::Acquire);
        if current.is_null() || to <= from {
            return;
        }
        // SAFETY: blocks stay alive and in place until `&mut self` drops them.
        let block = unsafe { &*current };
        if block.holds(from, to - from) {
            // The swap succeeds only if the position is `to` at this instant: the allocation
            // is the last thing handed out from this open block (a closed one's position is
            // `CLOSED`), so moving the position back to `from` hands out again only bytes
            // its holder gives up. `Release`: the holder's writes happen before the next
            // holder's (module docs).
            let _ = block.position.compare_exchange(to, from, Ordering::Release, Ordering::Relaxed);
        }
    }
}

impl BlockSpans for SyncArena {
    fn block_span(&self, index: usize) -> Option<(*mut u8, usize)> {
        self.with_blocks(|blocks, _| {
            let block = blocks.get(index)?;
            let used = match blocks.get(index + 1) {
                Some(next) => next.allocated_before - block.allocated_before,
                // The last block is open: its position is a real address.
                None => block.position.load(Ordering::Relaxed) - block.base(),
            };
            Some((block.base, used))
        })
    }
}

impl fmt::Debug for SyncArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncArena")
            .field("allocated_bytes", &self.allocated_bytes())
            .field("committed_bytes", &self.committed_bytes())
            .field("reserved_bytes", &self.reserved_bytes())
            .field("allocation_limit", &self.allocation_limit())
            .finish()
    }
}

// SAFETY: memory returned by `allocate` stays valid until the arena is reset, rewound or
// dropped, which needs `&mut SyncArena` and so cannot happen while `&SyncArena` (the
// allocator) is borrowed; allocations never overlap (module docs); `grow`/`shrink` keep the
// contents as the trait requires. Copies of the allocator are the same arena, so memory
// from one may be given to another.
unsafe impl allocator_api2::alloc::Allocator for &SyncArena {
    /// From the shared position, never from a thread's chunk (so that `deallocate`, `grow`
    /// and `shrink` can work in place on the most recent allocation).
    #[inline]
    fn allocate(&self, layout: Layout) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let p = self.alloc_shared(layout).map_err(|_| allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    /// Gives the memory back if it is the most recent allocation of the current block (see
    /// the module docs); otherwise it stays allocated until the arena is reset.
    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let address = ptr.as_ptr() as usize;
        self.give_back(address, address + layout.size());
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> core::result::Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let address = ptr.as_ptr() as usize;
        if address % new.align() == 0 && self.grow_in_place(address, old.size(), new.size()) {
            return Ok(NonNull::slice_from_raw_parts(ptr, new.size()));
        }
        // SAFETY: `ptr` holds `old.size()` initialized bytes (the trait's promise); fresh
        // memory is new and disjoint, at least `new.size()` long.
        unsafe { super::moved(ptr, old, new, self.alloc_shared(new)) }
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
            return unsafe { super::moved(ptr, old, new, self.alloc_shared(new)) };
        }
        self.give_back(address + new.size(), address + old.size());
        Ok(NonNull::slice_from_raw_parts(ptr, new.size()))
    }
}
