//! `Arena`: the single-threaded arena, its fast path and its `Allocator`.

use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::ptr::{self, NonNull};
use core::sync::atomic::Ordering;

use super::{
    alloc_failed, padded, too_large, ArenaBuilder, Checkpoint, Config, ResetHistory, MIN_ALIGN, NEXT_ARENA_ID,
};
use crate::region::GrowRegion;
use crate::{Error, ErrorKind, Result};

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

/// A bump allocator on reserved address space: see the [module docs](crate::arena).
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

    pub(crate) fn with_config(config: Config) -> Arena {
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
