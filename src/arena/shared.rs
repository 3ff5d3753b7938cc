//! `SyncArena`: the arena shared between threads.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::UnsafeCell;
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::arena::{alloc_failed, Config, ResetHistory};
use crate::region::GrowRegion;
use crate::sync::Lock;
use crate::{Error, ErrorKind, Result};

/// One block: its base, two atomics (the bump position and the committed end), and its
/// region, which only the slow path touches.
struct SyncBlock {
    /// The first byte of the block (fixed): the provenance of every pointer handed out.
    base: *mut u8,
    /// The block's reserved bytes (fixed).
    reserved: usize,
    /// The next free address.
    position: AtomicUsize,
    /// One past the last committed address. Only grows while the block is in use.
    committed_end: AtomicUsize,
    /// Touched only under the arena's lock or through `&mut SyncArena`.
    region: UnsafeCell<GrowRegion>,
}

impl SyncBlock {
    fn base(&self) -> usize {
        self.base as usize
    }

    fn committed(&self) -> usize {
        self.committed_end.load(Ordering::Acquire) - self.base()
    }

    /// The block's region.
    ///
    /// # Safety
    /// The caller holds the arena's lock, or has `&mut` access to the arena.
    #[allow(clippy::mut_from_ref)] // exclusive by the lock, as the caller promises
    unsafe fn region(&self) -> &mut GrowRegion {
        // SAFETY: the caller's promise: no other access to the region exists meanwhile
        // (the fast path reads only `base`, `position` and `committed_end`).
        unsafe { &mut *self.region.get() }
    }
}

/// A bump arena shared between threads: the same idea as [`Arena`](super::Arena) — a pointer
/// bump in reserved address space that
/// grows without moving — but allocation goes through `&self` from many threads at once.
/// The fast path is lock-free: one compare-and-swap on the current block's position; a
/// thread that loses that race to another takes a 32 KiB chunk of the block for itself and
/// from then on bumps in it without any atomic operation (with the `std` feature).
/// Committing the next step or chaining a new block takes a short lock, once per commit
/// step.
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
    lock: Lock<()>,
    config: Config,
    /// What recent rounds needed, for `reset`.
    history: ResetHistory,
    /// Identifies this arena (and its state since the last reset) to the per-thread chunks:
    /// unique for the life of the process, changed by `reset`.
    #[cfg(feature = "std")]
    key: usize,
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
// which touches `blocks` only while holding `lock`.
unsafe impl Sync for SyncArena {}

impl Default for SyncArena {
    fn default() -> SyncArena {
        SyncArena::new()
    }
}

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

    pub(crate) fn with_config(config: Config) -> SyncArena {
        SyncArena {
            current: AtomicPtr::new(ptr::null_mut()),
            blocks: UnsafeCell::new(Vec::new()),
            lock: Lock::new(()),
            config,
            history: ResetHistory::default(),
            #[cfg(feature = "std")]
            key: crate::arena::NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn lock(&self) -> crate::sync::LockGuard<'_, ()> {
        self.lock.lock()
    }

    /// Tries to bump `block`'s position for `size` bytes aligned to `align`.
    #[inline]
    fn bump(block: &SyncBlock, size: usize, align: usize) -> Option<usize> {
        let mut position = block.position.load(Ordering::Relaxed);
        loop {
            let start = position.checked_add(align - 1)? & !(align - 1);
            let end = start.checked_add(size)?;
            if end > block.committed_end.load(Ordering::Acquire) {
                return None;
            }
            match block.position.compare_exchange_weak(position, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some(start),
                Err(now) => position = now,
            }
        }
    }

    /// Allocates `layout` from any thread, or returns an error when memory or the maximum
    /// runs out. Zero-sized layouts return a dangling, well-aligned pointer.
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

    /// Bumps in this thread's chunk, if it has one of this arena with room.
    #[cfg(feature = "std")]
    #[inline]
    fn bump_local(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        local::CURRENT
            .try_with(|current| {
                let mut chunk = current.get();
                if chunk.key != self.key {
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
    /// committed part is full.
    #[cfg(feature = "std")]
    #[inline]
    fn bump_once(block: &SyncBlock, size: usize, align: usize) -> Option<usize> {
        let position = block.position.load(Ordering::Relaxed);
        let start = position.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(size)?;
        if end > block.committed_end.load(Ordering::Acquire) {
            return None;
        }
        block.position.compare_exchange(position, end, Ordering::Relaxed, Ordering::Relaxed).ok().map(|_| start)
    }

    /// Takes a chunk of the shared block for this thread and allocates from it.
    #[cfg(feature = "std")]
    #[cold]
    #[inline(never)]
    fn alloc_local_chunk(&self, size: usize, align: usize) -> Result<NonNull<u8>> {
        let chunk_layout = Layout::from_size_align(local::CHUNK, 64)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "SyncArena::alloc", "bad chunk layout"))?;
        let chunk = match self.current.load(Ordering::Acquire) {
            // SAFETY: blocks stay alive and in place until `&mut self` drops them.
            current if !current.is_null() => match Self::bump(unsafe { &*current }, local::CHUNK, 64) {
                // SAFETY: `start` lies in the block's committed range, so it is non-null.
                Some(start) => Ok(unsafe { NonNull::new_unchecked((*current).base.with_addr(start)) }),
                None => self.alloc_slow(chunk_layout.size(), chunk_layout.align()),
            },
            _ => self.alloc_slow(chunk_layout.size(), chunk_layout.align()),
        };
        // A chunk is an optimisation: where none fits (near `max_bytes`, or memory is short),
        // the request itself may still fit, and an error must name the request, not the chunk.
        let Ok(chunk) = chunk else { return self.alloc_slow(size, align) };
        let base = chunk.as_ptr();
        let installed = local::CURRENT.try_with(|current| {
            current.set(local::Chunk {
                key: self.key,
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
        let _guard = self.lock();
        // SAFETY: we hold the lock, so no other thread touches `blocks`; `&mut self` methods
        // cannot run while `&self` is borrowed.
        let blocks = unsafe { &mut *self.blocks.get() };
        let too_large = || Error::new(ErrorKind::OutOfMemory, OP, "the allocation is larger than any address space");
        if let Some(block) = blocks.last() {
            // Another thread may have made room meanwhile.
            if let Some(start) = Self::bump(block, size, align) {
                return NonNull::new(block.base.with_addr(start)).ok_or_else(too_large);
            }
            // Commit enough for this request, and bump under the lock (others may still bump
            // lock-free; the CAS loop in `bump` settles who gets what).
            let base = block.base();
            // SAFETY: we hold the lock.
            let region = unsafe { block.region() };
            let position = block.position.load(Ordering::Relaxed);
            let start = position.checked_add(align - 1).ok_or_else(too_large)? & !(align - 1);
            let end = start.checked_add(size).ok_or_else(too_large)?;
            if end <= base + region.reserved() {
                let step = self.config.step(region);
                region.commit_to(OP, end - base, step)?;
                block.committed_end.store(base + region.committed(), Ordering::Release);
                if let Some(start) = Self::bump(block, size, align) {
                    return NonNull::new(block.base.with_addr(start)).ok_or_else(too_large);
                }
            }
        }
        // Chain a new block, at least as large as the request.
        let padded = size.checked_add(align - 1).ok_or_else(too_large)?;
        let reserved: usize = blocks.iter().map(|b| b.reserved).sum();
        blocks.try_reserve(1).map_err(|_| Error::new(ErrorKind::OutOfMemory, OP, "no heap memory for block list"))?;
        let region = self.config.new_block(OP, size, padded, reserved)?;
        let base_ptr = region.base();
        let base = base_ptr as usize;
        let start = (base + align - 1) & !(align - 1);
        let block = Box::new(SyncBlock {
            base: base_ptr,
            reserved: region.reserved(),
            position: AtomicUsize::new(start + size),
            committed_end: AtomicUsize::new(base + region.committed()),
            region: UnsafeCell::new(region),
        });
        let result = base_ptr.with_addr(start);
        let raw = &*block as *const SyncBlock as *mut SyncBlock;
        blocks.push(block); // room reserved above
        self.current.store(raw, Ordering::Release);
        NonNull::new(result).ok_or_else(too_large)
    }

    /// Allocates `layout`; see [`try_alloc_layout`](SyncArena::try_alloc_layout).
    ///
    /// # Panics
    /// When memory or the maximum runs out.
    ///
    /// ```
    /// use std::alloc::Layout;
    /// let arena = vmem::SyncArena::new();
    /// arena.alloc_layout(Layout::new::<[u64; 4]>());
    /// ```
    #[inline]
    pub fn alloc_layout(&self, layout: Layout) -> NonNull<u8> {
        self.try_alloc_layout(layout).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Moves `value` into the arena, or gives it back with the error.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(*arena.try_alloc('x').unwrap(), 'x');
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc<T>(&self, value: T) -> core::result::Result<&mut T, (T, Error)> {
        match self.try_alloc_layout(Layout::new::<T>()) {
            Ok(p) => {
                let p = p.as_ptr().cast::<T>();
                // SAFETY: fresh, aligned memory for a `T`, owned by this call alone.
                unsafe {
                    p.write(value);
                    Ok(&mut *p)
                }
            }
            Err(e) => Err((value, e)),
        }
    }

    /// Moves `value` into the arena.
    ///
    /// # Panics
    /// When memory or the maximum runs out.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// *arena.alloc(1) += 1;
    /// ```
    #[inline]
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc<T>(&self, value: T) -> &mut T {
        match self.try_alloc(value) {
            Ok(r) => r,
            Err((_, e)) => alloc_failed(e),
        }
    }

    /// Allocates `len` elements made by `f(index)`, or returns an error.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.try_alloc_slice_fill_with(3, |i| i).unwrap(), [0, 1, 2]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_slice_fill_with<T>(&self, len: usize, mut f: impl FnMut(usize) -> T) -> Result<&mut [T]> {
        let layout = Layout::array::<T>(len).map_err(|_| {
            Error::new(ErrorKind::OutOfMemory, "SyncArena::alloc_slice", "the slice is larger than any address space")
                .sized(len)
        })?;
        let p = self.try_alloc_layout(layout)?.as_ptr().cast::<T>();
        for i in 0..len {
            // SAFETY: room for `len` elements; each written once (leaked if `f` panics).
            unsafe { p.add(i).write(f(i)) };
        }
        // SAFETY: all elements initialized.
        Ok(unsafe { core::slice::from_raw_parts_mut(p, len) })
    }

    /// Allocates `len` elements made by `f(index)`.
    ///
    /// # Panics
    /// When memory or the maximum runs out.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.alloc_slice_fill_with(2, |i| i * 2), [0, 2]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_slice_fill_with<T>(&self, len: usize, f: impl FnMut(usize) -> T) -> &mut [T] {
        self.try_alloc_slice_fill_with(len, f).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `src` into the arena, or returns an error.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.try_alloc_slice_copy(&[7u8; 3]).unwrap(), [7, 7, 7]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> Result<&mut [T]> {
        let p = self.try_alloc_layout(Layout::for_value(src))?.as_ptr().cast::<T>();
        // SAFETY: room for `src.len()` elements, disjoint from `src`.
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), p, src.len());
            Ok(core::slice::from_raw_parts_mut(p, src.len()))
        }
    }

    /// Copies `src` into the arena.
    ///
    /// # Panics
    /// When memory or the maximum runs out.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.alloc_slice_copy(&[1, 2]), [1, 2]);
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
        self.try_alloc_slice_copy(src).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Copies `s` into the arena, or returns an error.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.try_alloc_str("ok").unwrap(), "ok");
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn try_alloc_str(&self, s: &str) -> Result<&mut str> {
        let bytes = self.try_alloc_slice_copy(s.as_bytes())?;
        // SAFETY: a copy of a valid `str`.
        Ok(unsafe { core::str::from_utf8_unchecked_mut(bytes) })
    }

    /// Copies `s` into the arena.
    ///
    /// # Panics
    /// When memory or the maximum runs out.
    ///
    /// ```
    /// let arena = vmem::SyncArena::new();
    /// assert_eq!(arena.alloc_str("text"), "text");
    /// ```
    #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
    pub fn alloc_str(&self, s: &str) -> &mut str {
        self.try_alloc_str(s).unwrap_or_else(|e| alloc_failed(e))
    }

    /// Runs `f` on every block while holding the lock.
    fn with_blocks<R>(&self, f: impl FnOnce(&[Box<SyncBlock>]) -> R) -> R {
        let _guard = self.lock();
        // SAFETY: the lock keeps every other writer of `blocks` out.
        f(unsafe { &*self.blocks.get() })
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
        self.with_blocks(|blocks| blocks.iter().map(|b| b.position.load(Ordering::Relaxed) - b.base()).sum())
    }

    /// Bytes committed in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(1 << 16).build_sync().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.committed_bytes(), 1 << 16);
    /// ```
    pub fn committed_bytes(&self) -> usize {
        self.with_blocks(|blocks| blocks.iter().map(|b| b.committed()).sum())
    }

    /// Bytes of address space reserved in all blocks.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().block_size(1 << 24).build_sync().unwrap();
    /// arena.alloc(0u8);
    /// assert_eq!(arena.reserved_bytes(), 1 << 24);
    /// ```
    pub fn reserved_bytes(&self) -> usize {
        self.with_blocks(|blocks| blocks.iter().map(|b| b.reserved).sum())
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
        let blocks = self.blocks.get_mut();
        blocks.truncate(1);
        if let Some(first) = blocks.first_mut() {
            let base = first.base();
            let region = first.region.get_mut();
            // Decommit cannot fail for a range we committed; if it did, the memory would stay
            // committed, which is still correct.
            let _ = region.decommit_from(keep);
            let committed = region.committed();
            *first.committed_end.get_mut() = base + committed;
            *first.position.get_mut() = base;
            let raw = &mut **first as *mut SyncBlock;
            *self.current.get_mut() = raw;
        }
        #[cfg(feature = "std")]
        {
            // Every thread's chunk of the old state is void from now on.
            self.key = crate::arena::NEXT_ARENA_ID.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for SyncArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncArena")
            .field("allocated_bytes", &self.allocated_bytes())
            .field("committed_bytes", &self.committed_bytes())
            .field("reserved_bytes", &self.reserved_bytes())
            .finish()
    }
}
