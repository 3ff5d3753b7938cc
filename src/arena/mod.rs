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

use core::sync::atomic::AtomicUsize;

use crate::{Error, ErrorKind, Result};

use crate::region::{CommitMode, GrowRegion, HugePages, DEFAULT_RESERVE_BYTES};

mod local;
mod shared;

pub use local::Arena;
pub use shared::SyncArena;

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
                most.checked_next_multiple_of(MIN_COMMIT_STEP).unwrap_or(most)
            }
        }
    }
}

fn too_large(operation: &'static str, size: usize) -> Error {
    Error::new(ErrorKind::OutOfMemory, operation, "the allocation is larger than any address space").sized(size)
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
        Ok(crate::SyncArena::with_config(self.checked_config()?))
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

#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn alloc_failed(err: Error) -> ! {
    panic!("arena allocation failed: {err}")
}
