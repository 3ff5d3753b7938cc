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
//! - Every [`commit_step`](ArenaBuilder::commit_step) bytes (1 MiB by default), one `commit`
//!   system call; first touch of each page is a page fault.
//! - A new block is one `reserve` system call (no memory is used until committed).
//! - [`reset`](Arena::reset) is one `decommit` system call for what exceeds
//!   [`retain_bytes`](ArenaBuilder::retain_bytes), plus one `release` per chained block.
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

use crate::{Error, ErrorKind, Reservation, Result};

const MIB: usize = 1 << 20;

/// Default reservation per block: 64 GiB on 64-bit systems (address space is plentiful and
/// reserving costs nothing), 256 MiB on 32-bit ones.
pub(crate) const DEFAULT_BLOCK_SIZE: usize = if usize::BITS >= 64 { 1 << 36 } else { 256 * MIB };
/// The smallest block the arena falls back to when address space is scarce (`ulimit -v`).
pub(crate) const MIN_FALLBACK_BLOCK: usize = 4 * MIB;
/// Every allocation's size is rounded up to this, so the bump position is always aligned
/// to it and allocations of alignment up to it need no rounding.
pub(crate) const MIN_ALIGN: usize = 8;

/// `size` rounded up to [`MIN_ALIGN`]. Does not wrap for sizes up to `isize::MAX`.
#[inline(always)]
pub(crate) const fn padded(size: usize) -> usize {
    (size + (MIN_ALIGN - 1)) & !(MIN_ALIGN - 1)
}

/// Default commit step.
pub(crate) const DEFAULT_COMMIT_STEP: usize = MIB;

pub(crate) static NEXT_ARENA_ID: AtomicUsize = AtomicUsize::new(1);

/// The settings of an arena, shared by [`Arena`] and [`SyncArena`](crate::SyncArena).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) block_size: usize,
    pub(crate) commit_step: usize,
    pub(crate) max_bytes: Option<usize>,
    pub(crate) huge_pages: bool,
    pub(crate) retain_bytes: usize,
    pub(crate) prefault: bool,
    pub(crate) lock_memory: bool,
}

impl Config {
    pub(crate) const DEFAULT: Config = Config {
        block_size: DEFAULT_BLOCK_SIZE,
        commit_step: DEFAULT_COMMIT_STEP,
        max_bytes: None,
        huge_pages: false,
        retain_bytes: 0,
        prefault: true,
        lock_memory: false,
    };

    /// Commits `[offset, offset + len)` of `block` and, if asked, faults it in at once: one
    /// `madvise` instead of a page fault per page, which more than halves the cost of first
    /// touch on Linux.
    pub(crate) fn commit(&self, block: &Reservation, offset: usize, len: usize) -> Result<()> {
        block.commit(offset, len)?;
        if self.lock_memory {
            // Locking faults the pages in as well, so there is nothing to prefault.
            if let Err(err) = block.lock(offset, len) {
                // Undo the commit so a failed step leaves the arena as it was. Decommit of
                // a range we just committed does not fail; if it did, the pages would only
                // stay committed, unused, until the next step commits them again.
                let _ = block.decommit(offset, len);
                return Err(err);
            }
            return Ok(());
        }
        if self.prefault {
            // SAFETY: the range was committed read-write just now and lies inside `block`.
            // Advice only: if the pages cannot be faulted in now, first touch does it.
            let _ = unsafe { crate::prefault(block.as_ptr().wrapping_add(offset), len) };
        }
        Ok(())
    }

    /// Reserves a block for a request of `request` bytes that needs `needed` bytes (alignment
    /// padding included), given `reserved` bytes already reserved. Falls back to smaller
    /// reservations when address space is short, never below what the request needs.
    pub(crate) fn reserve_block(
        &self,
        operation: &'static str,
        request: usize,
        needed: usize,
        reserved: usize,
    ) -> Result<Reservation> {
        let page = crate::page_size();
        let needed = crate::align_up(needed, page).map_err(|_| too_large(operation, needed))?;
        let mut size = self.block_size.max(needed);
        if let Some(max) = self.max_bytes {
            let left = max.saturating_sub(reserved);
            if needed > left {
                return Err(Error::new(ErrorKind::OutOfMemory, operation, "the arena's maximum size is reached")
                    .sized(request)
                    .with_limit("max_bytes", max as u64));
            }
            size = size.min(left).max(needed);
        }
        let huge = if self.huge_pages { crate::huge_page_size() } else { None };
        // Rounding up to whole huge pages must not pass `max_bytes`, which bounds what is
        // reserved: round down instead where that still holds the request, else go without.
        let limit = self.max_bytes.map_or(usize::MAX, |max| max.saturating_sub(reserved));
        let huge_size = |size: usize| -> Option<(usize, usize)> {
            let h = huge?;
            let up = crate::align_up(size, h).ok()?;
            if up <= limit {
                return Some((up, h));
            }
            let down = size & !(h - 1);
            (down >= needed && down > 0).then_some((down, h))
        };
        loop {
            let attempt = match huge_size(size) {
                Some((bytes, h)) => Reservation::with_alignment(bytes, h).inspect(|block| {
                    // Advice only: an arena without huge pages still works.
                    let _ = block.advise_huge_pages(0, block.len());
                }),
                None => Reservation::new(size),
            };
            match attempt {
                Ok(block) => return Ok(block),
                Err(e) if e.kind() == ErrorKind::OutOfAddressSpace && size / 2 >= needed.max(MIN_FALLBACK_BLOCK) => {
                    size /= 2;
                }
                Err(e) => return Err(e),
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

    /// How much to commit at a time as the arena grows, in bytes (default 1 MiB; rounded up
    /// to whole pages). Larger steps mean fewer system calls, smaller ones less unused
    /// committed memory.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().commit_step(64 << 10).build().unwrap();
    /// arena.alloc(1u8);
    /// assert_eq!(arena.committed_bytes(), 64 << 10);
    /// ```
    pub fn commit_step(mut self, bytes: usize) -> Self {
        self.config.commit_step = bytes;
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

    /// Whether to align blocks to the huge page size and ask the OS for transparent huge
    /// pages (Linux `MADV_HUGEPAGE`): fewer page faults and TLB misses for large arenas.
    /// Ignored where the OS has none. Default: off.
    ///
    /// ```
    /// let arena = vmem::Arena::builder().huge_pages(true).build().unwrap();
    /// arena.alloc([0u8; 64]);
    /// ```
    pub fn huge_pages(mut self, enabled: bool) -> Self {
        self.config.huge_pages = enabled;
        self
    }

    /// How many bytes [`Arena::reset`] keeps committed in the first block (rounded up to the
    /// commit step's pages), so that the next round of allocations does not fault pages in
    /// again. Default 0: reset returns all memory.
    ///
    /// ```
    /// let mut arena = vmem::Arena::builder().retain_bytes(1 << 20).build().unwrap();
    /// arena.alloc_slice_fill_with(4 << 20, |_| 1u8);
    /// arena.reset();
    /// assert_eq!(arena.committed_bytes(), 1 << 20);
    /// ```
    pub fn retain_bytes(mut self, bytes: usize) -> Self {
        self.config.retain_bytes = bytes;
        self
    }

    /// Whether each commit step is faulted in as soon as it is committed (default `true`).
    ///
    /// Prefaulting (one `madvise(MADV_POPULATE_WRITE)` per step on Linux) makes first
    /// touch of arena memory much cheaper than a page fault per page, at the price of up to
    /// one [`commit_step`](ArenaBuilder::commit_step) of memory that is resident before it
    /// is used. Turn it off for sparse use of a large arena.
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
        config.commit_step = round(config.commit_step, "commit_step is zero")?;
        if let Some(max) = config.max_bytes {
            config.max_bytes = Some(round(max, "max_bytes is zero")?);
        }
        config.retain_bytes = crate::align_up(config.retain_bytes, page).unwrap_or(usize::MAX & !(page - 1));
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
    reservation: Reservation,
    /// Committed bytes from the start of the block.
    committed: usize,
    /// Bytes allocated in the blocks before this one (fixed while this block lives).
    allocated_before: usize,
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
            let base = block.reservation.as_ptr() as usize;
            let start = self.position.get().checked_add(align - 1).ok_or_else(|| too_large(OP, size))? & !(align - 1);
            let end = start.checked_add(size).ok_or_else(|| too_large(OP, size))?;
            let limit = base + block.reservation.len();
            if end <= limit {
                let wanted = crate::align_up(end - base, self.config.commit_step)
                    .unwrap_or(usize::MAX)
                    .min(block.reservation.len());
                if wanted > block.committed {
                    self.config.commit(&block.reservation, block.committed, wanted - block.committed)?;
                    block.committed = wanted;
                    self.committed_end.set(base + wanted);
                }
                self.position.set(end);
                return NonNull::new(block.reservation.as_ptr().wrapping_add(start - base)).ok_or(Error::new(
                    ErrorKind::Os,
                    OP,
                    "null block",
                ));
            }
        }
        // Chain a new block at least as large as the request.
        let reserved: usize = blocks.iter().map(|b| b.reservation.len()).sum();
        let block = self.config.reserve_block(OP, size, with_slack, reserved)?;
        let first_commit = crate::align_up(with_slack, self.config.commit_step).unwrap_or(usize::MAX).min(block.len());
        self.config.commit(&block, 0, first_commit)?;
        blocks.try_reserve(1).map_err(|_| Error::new(ErrorKind::OutOfMemory, OP, "no heap memory for block list"))?;
        let allocated_before = self.allocated_bytes();
        let base = block.as_ptr();
        blocks.push(Block { reservation: block, committed: first_commit, allocated_before });
        self.allocated_before.set(allocated_before);
        self.base.set(base);
        let start = (base as usize + align - 1) & !(align - 1);
        self.committed_end.set(base as usize + first_commit);
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
        let base = unsafe { (*self.blocks.get()).last().map(|b| b.reservation.as_ptr() as usize) };
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
        unsafe { (*self.blocks.get()).iter().map(|b| b.committed).sum() }
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
        unsafe { (*self.blocks.get()).iter().map(|b| b.reservation.len()).sum() }
    }

    /// Frees everything: rewinds to the start of the first block, releases every chained
    /// block, and decommits what exceeds [`retain_bytes`](ArenaBuilder::retain_bytes) of the
    /// first block, so RSS and commit charge really drop.
    ///
    /// ```
    /// let mut arena = vmem::Arena::new();
    /// arena.alloc_slice_fill_with(1 << 20, |_| 0u8);
    /// arena.reset();
    /// assert_eq!(arena.allocated_bytes(), 0);
    /// assert_eq!(arena.committed_bytes(), 0);
    /// ```
    pub fn reset(&mut self) {
        let retain = self.config.retain_bytes;
        let blocks = self.blocks.get_mut();
        blocks.truncate(1);
        if let Some(first) = blocks.first_mut() {
            let keep = retain.min(first.committed);
            if first.committed > keep {
                // Decommit cannot fail for a range we committed; if it ever did, keeping the
                // memory committed is still correct.
                if first.reservation.decommit(keep, first.committed - keep).is_ok() {
                    first.committed = keep;
                }
            }
            let base = first.reservation.as_ptr();
            self.base.set(base);
            self.position.set(base as usize);
            self.committed_end.set(base as usize + first.committed);
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
                    let base = first.reservation.as_ptr();
                    let committed = first.committed;
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
        let base_ptr = block.reservation.as_ptr();
        let base = base_ptr as usize;
        let in_block = checkpoint.position >= base && checkpoint.position <= base + block.committed;
        // Positions are always multiples of `MIN_ALIGN` (the fast path relies on it), and
        // the bytes allocated before a block are fixed while it lives: anything else was
        // not made by `checkpoint` (see `Checkpoint::from_words`).
        let aligned = checkpoint.position % MIN_ALIGN == 0;
        let before_matches = checkpoint.allocated_before == block.allocated_before;
        let behind = checkpoint.block < current.block || checkpoint.position <= current.position;
        if !in_block || !behind || !aligned || !before_matches {
            return Err(stale());
        }
        let committed = block.committed;
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
                let base = block.reservation.as_ptr() as usize;
                let end = address + padded(new.size());
                if end <= base + block.reservation.len() {
                    let wanted = crate::align_up(end - base, self.config.commit_step)
                        .unwrap_or(usize::MAX)
                        .min(block.reservation.len());
                    if self.config.commit(&block.reservation, block.committed, wanted - block.committed).is_ok() {
                        block.committed = wanted;
                        self.committed_end.set(base + wanted);
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
