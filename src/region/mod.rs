//! `GrowRegion`: how every structure of the crate reserves, commits, falls back and gives
//! memory back — one implementation, as std's `RawVec` is for its collections.
//!
//! A region is a reservation made lazily (on the first commit), committed from its start up
//! to `committed` bytes, and handed to the [warm cache](crate::cache) when dropped. The
//! structures keep their own hot-path copies (a pointer, a capacity, a limit) and call into
//! the region only on their cold paths.
//!
//! # Invariants (argued here once)
//!
//! - `reservation` is `None` until the first `reserve`/`commit_to`; once it is `Some`, its
//!   base and length never change until drop, so pointers derived from [`base`] stay valid
//!   for the region's life.
//! - `committed <= warm <= reserved`, all multiples of the page size: `[0, committed)` is
//!   what the owner uses; `[committed, warm)` is committed memory the cache handed over that
//!   the owner has not taken yet; the rest is reserved only. Every byte of `[0, committed)` is
//!   committed and writable.
//! - `dirty <= warm`: `[0, dirty)` may hold bytes a previous owner wrote; every committed byte
//!   at or past `dirty` reads zero. An owner that needs zeroed memory zeroes
//!   `[start, dirty)` of what it takes.
//! - `reserved <= isize::MAX`, so offsets inside the region never overflow `usize` or
//!   `isize` when added to the base.
//! - No error leaves the region changed, except that a commit may have made `warm` grow
//!   (memory committed but not taken).
//!
//! # Policies
//!
//! - Reservation: the owner's size, from the cache (exact size and alignment) or the OS.
//!   When the OS has no room, the cache is emptied and the same size tried again, then the
//!   size halves down to what is needed (at least [`MIN_FALLBACK_BYTES`]).
//! - Commit: up to `needed` plus the owner's step; where the OS refuses the step, exactly
//!   what is needed; where it refuses that for lack of memory, the cache is emptied and it is
//!   tried once more.
//! - Huge pages: in [`HugePages::Auto`] mode (the default), a region that commits
//!   [`HUGE_PAGE_THRESHOLD`] bytes or more asks for transparent huge pages for its
//!   huge-page-aligned part and commits in whole huge pages from then on. Regions are
//!   reserved huge-page aligned for it. Measured on this project's machine: first touch of
//!   2–4 MiB is 5.6–5.9x faster with them, of 256 MiB 3.0x; below 2 MiB they cannot apply.
//!   The threshold of 4 MiB bounds the extra memory of whole huge pages at a quarter to a
//!   half of what is used, and small structures never pay it.

pub mod cache;

use crate::{Error, ErrorKind, Reservation, Result};

/// The address space a structure reserves unless told otherwise: 64 GiB on 64-bit systems,
/// 256 MiB on 32-bit ones. Reserving costs no memory (only address space), so the default is
/// generous. It is the maximum of [`VirtualVec::new`](crate::VirtualVec::new),
/// [`Pool::new`](crate::Pool::new) and [`ConcurrentVec::new`](crate::ConcurrentVec::new) (in
/// bytes of elements), an arena's block size
/// ([`ArenaBuilder::block_size`](crate::ArenaBuilder::block_size)), and on 64-bit systems the
/// default maximum size of a `MappedFile` or `FileVec`. Where the OS refuses that much
/// (`ulimit -v`), a structure reserves less.
///
/// ```
/// let v: vmem::VirtualVec<u64> = vmem::VirtualVec::new();
/// assert_eq!(v.max_capacity(), vmem::DEFAULT_RESERVE_BYTES / 8);
/// ```
pub const DEFAULT_RESERVE_BYTES: usize = if usize::BITS >= 64 { 1 << 36 } else { 256 << 20 };
/// The smallest reservation a region falls back to when address space is short.
pub(crate) const MIN_FALLBACK_BYTES: usize = 4 << 20;
/// From this many committed bytes on, an [`HugePages::Auto`] region uses huge pages.
pub(crate) const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// Whether a region uses transparent huge pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HugePages {
    /// Never.
    Off,
    /// Once it commits [`HUGE_PAGE_THRESHOLD`] bytes.
    Auto,
    /// From the start.
    Always,
}

/// How a region commits: huge pages, prefault and lock are one mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CommitMode {
    /// Fault each commit in at once (one `MADV_POPULATE_WRITE` instead of a fault per page).
    pub(crate) prefault: bool,
    /// Lock what is committed in RAM. Such regions never come from or go to the cache.
    pub(crate) lock: bool,
    pub(crate) huge_pages: HugePages,
    /// Take no region from the cache, so that everything committed reads zero at first
    /// (`dirty` stays 0); regions still go back to it.
    pub(crate) fresh_only: bool,
}

impl CommitMode {
    /// No prefault, no lock, huge pages past the threshold.
    pub(crate) const DEFAULT: CommitMode =
        CommitMode { prefault: false, lock: false, huge_pages: HugePages::Auto, fresh_only: false };
}

/// A lazily reserved region that commits from its start: see the [module docs](self).
pub(crate) struct GrowRegion {
    reservation: Option<Reservation>,
    committed: usize,
    warm: usize,
    dirty: usize,
    /// The reservation to ask for, in bytes (the actual size once reserved).
    want: usize,
    align: usize,
    mode: CommitMode,
    /// Whether transparent huge pages were asked for.
    huge: bool,
}

impl GrowRegion {
    /// A region that will reserve `want` bytes (rounded up to pages) with its base aligned
    /// to `align` (a power of two). Reserves nothing yet.
    pub(crate) const fn new(want: usize, align: usize, mode: CommitMode) -> GrowRegion {
        GrowRegion { reservation: None, committed: 0, warm: 0, dirty: 0, want, align, mode, huge: false }
    }

    /// The first byte (null before the reservation).
    #[inline]
    pub(crate) fn base(&self) -> *mut u8 {
        self.reservation.as_ref().map_or(core::ptr::null_mut(), Reservation::as_ptr)
    }

    /// Bytes reserved (0 before the reservation).
    #[inline]
    pub(crate) fn reserved(&self) -> usize {
        self.reservation.as_ref().map_or(0, Reservation::len)
    }

    /// Bytes from the start the owner may use: committed and writable.
    #[inline]
    pub(crate) fn committed(&self) -> usize {
        self.committed
    }

    /// Bytes from the start that may hold what a previous owner wrote.
    #[inline]
    pub(crate) fn dirty(&self) -> usize {
        self.dirty
    }

    /// Bytes from the start that are committed: what the owner uses and the warm pages the
    /// cache handed over that it has not taken yet (what `decommit_from` can give back).
    #[inline]
    pub(crate) fn warm(&self) -> usize {
        self.warm
    }

    /// Whether the address space is reserved.
    #[inline]
    pub(crate) fn is_reserved(&self) -> bool {
        self.reservation.is_some()
    }

    /// Whether the region may come from and go to the cache: not when it locks its memory
    /// (which may hold secrets, and counts against the lock limit).
    fn cacheable(&self) -> bool {
        #[cfg(test)]
        if testing::cache_bypassed() {
            return false;
        }
        !self.mode.lock
    }

    /// A geometric step: as much as is committed, within `[min, max]`.
    pub(crate) fn doubling_step(&self, min: usize, max: usize) -> usize {
        self.committed.clamp(min, max)
    }

    /// Reserves the address space if that is not done yet, for a need of `needed` bytes.
    ///
    /// # Errors
    /// `OutOfAddressSpace` when not even `needed` bytes (or [`MIN_FALLBACK_BYTES`]) can be
    /// reserved, or the size is larger than any address space (past `isize::MAX`).
    pub(crate) fn reserve(&mut self, operation: &'static str, needed: usize) -> Result<()> {
        if self.reservation.is_some() {
            return Ok(());
        }
        let page = crate::page_size();
        let absurd = || {
            Error::new(ErrorKind::OutOfAddressSpace, operation, "the size is larger than any address space")
                .sized(needed)
                .with_limit("isize::MAX", isize::MAX as u64)
        };
        let mut size = crate::align_up(self.want.max(needed), page).map_err(|_| absurd())?;
        if size > isize::MAX as usize {
            return Err(absurd());
        }
        let floor = crate::align_up(needed, page).map_err(|_| absurd())?.max(MIN_FALLBACK_BYTES).min(size);
        let huge = crate::huge_page_size().filter(|&h| self.mode.huge_pages != HugePages::Off && size >= 2 * h);
        let align = self.align.max(huge.unwrap_or(1));
        let mut trimmed = false;
        let reservation = loop {
            if self.cacheable() && !self.mode.fresh_only {
                if let Some(entry) = cache::take(size, align) {
                    self.warm = entry.committed;
                    self.dirty = entry.committed;
                    self.huge = entry.huge;
                    break entry.reservation;
                }
            }
            match reserve_from_os(size, align) {
                Ok(reservation) => break reservation,
                Err(err) if err.kind() == ErrorKind::OutOfAddressSpace => {
                    if !trimmed {
                        // The cache may hold the address space the OS misses: try once more.
                        trimmed = true;
                        cache::trim();
                        continue;
                    }
                    let half = (size / 2) & !(page - 1);
                    if half < floor {
                        return Err(err);
                    }
                    size = half;
                }
                Err(err) => return Err(err),
            }
        };
        if self.mode.huge_pages == HugePages::Always && !self.huge {
            self.advise_huge_pages(&reservation);
        }
        self.want = reservation.len();
        self.reservation = Some(reservation);
        Ok(())
    }

    /// Asks for transparent huge pages on the huge-page-aligned part of `reservation`.
    fn advise_huge_pages(&mut self, reservation: &Reservation) {
        let Some(h) = crate::huge_page_size() else { return };
        let base = reservation.as_ptr() as usize;
        let start = base.next_multiple_of(h) - base;
        let end = reservation.len() & !(h - 1);
        if end > start {
            // Advice only: without huge pages the region still works.
            let _ = reservation.advise_huge_pages(start, end - start);
        }
        self.huge = true;
    }

    /// Makes at least `needed` bytes from the start committed for the owner, taking `step`
    /// bytes more where it can (warm pages first, then the OS). Reserves first if needed.
    ///
    /// # Errors
    /// `OutOfMemory` past the reservation or when the OS refuses even `needed` bytes (the
    /// region keeps what it had); the reservation's errors.
    pub(crate) fn commit_to(&mut self, operation: &'static str, needed: usize, step: usize) -> Result<()> {
        if needed <= self.committed {
            return Ok(());
        }
        self.reserve(operation, needed)?;
        let reserved = self.reserved();
        if needed > reserved {
            return Err(Error::new(ErrorKind::OutOfMemory, operation, "the request is larger than the reservation")
                .sized(needed)
                .with_limit("reserved bytes", reserved as u64));
        }
        // `needed <= reserved <= isize::MAX`, a multiple of the page size: no overflow below.
        let exact = crate::raw::page::page_round_up(needed);
        let mut target = exact.max(crate::raw::page::page_round_up(self.committed.saturating_add(step).min(reserved)));
        if target <= self.warm {
            self.committed = target;
            return Ok(());
        }
        if self.mode.huge_pages == HugePages::Auto && !self.huge && target >= HUGE_PAGE_THRESHOLD {
            if let Some(reservation) = self.reservation.take() {
                self.advise_huge_pages(&reservation);
                self.reservation = Some(reservation);
            }
        }
        // Whole huge pages once past the threshold (a region from the cache may have asked for
        // them for an earlier, larger owner: a small one still commits small steps).
        let large = self.mode.huge_pages == HugePages::Always || target >= HUGE_PAGE_THRESHOLD;
        if self.huge && large {
            if let (Some(h), Some(reservation)) = (crate::huge_page_size(), self.reservation.as_ref()) {
                // Whole huge pages: a partial one at the end of the writable part cannot be one.
                let base = reservation.as_ptr() as usize;
                target = ((base + target).next_multiple_of(h) - base).min(reserved);
                // Ask again for what is committed now: a decommit (here, or by an earlier owner
                // before the region went to the cache) maps fresh pages that lost the advice.
                let from = (base + self.warm).next_multiple_of(h) - base;
                let to = ((base + target) & !(h - 1)).saturating_sub(base);
                if to > from {
                    // Advice only: without huge pages the region still works.
                    let _ = reservation.advise_huge_pages(from, to - from);
                }
            }
        }
        let mut trimmed = false;
        loop {
            match self.commit_range(self.warm, target) {
                Ok(()) => break,
                Err(_) if target > exact.max(self.warm) => target = exact.max(self.warm),
                Err(err) if err.kind() == ErrorKind::OutOfMemory && !trimmed => {
                    // The cache may hold the memory the OS misses.
                    trimmed = true;
                    cache::trim();
                }
                Err(err) => return Err(err),
            }
        }
        self.warm = self.warm.max(target);
        self.committed = target;
        Ok(())
    }

    /// Commits `[from, to)` in the region's mode; on failure nothing stays changed.
    fn commit_range(&mut self, from: usize, to: usize) -> Result<()> {
        if to <= from {
            return Ok(());
        }
        let Some(reservation) = self.reservation.as_ref() else {
            return Err(Error::new(ErrorKind::Os, "commit", "the region is not reserved"));
        };
        reservation.commit(from, to - from)?;
        #[cfg(test)]
        if testing::fail_commit(to - from) {
            let _ = reservation.decommit(from, to - from);
            return Err(Error::new(ErrorKind::OutOfMemory, "commit", "test: refused"));
        }
        if self.mode.lock {
            // Locking faults the pages in as well, so there is nothing to prefault.
            if let Err(err) = reservation.lock(from, to - from) {
                // Undo the commit so a failed step leaves the region as it was. Decommit of a
                // range just committed does not fail; if it did, the pages would only stay
                // committed, unused, until the next step commits them again.
                let _ = reservation.decommit(from, to - from);
                return Err(err);
            }
        } else if self.mode.prefault {
            // Advice only: if the pages cannot be faulted in now, first touch does it.
            let _ = reservation.prefault(from, to - from);
        }
        Ok(())
    }

    /// Decommits everything past the first `keep` bytes (rounded up to pages), so memory
    /// and commit charge go back to the OS; they read zero when committed again.
    ///
    /// # Errors
    /// The OS's refusal (the region keeps its memory then).
    pub(crate) fn decommit_from(&mut self, keep: usize) -> Result<()> {
        let keep = crate::raw::page::page_round_up(keep.min(self.warm));
        if keep >= self.warm {
            self.committed = self.committed.min(self.warm);
            return Ok(());
        }
        if let Some(reservation) = self.reservation.as_ref() {
            reservation.decommit(keep, self.warm - keep)?;
        }
        self.warm = keep;
        self.committed = self.committed.min(keep);
        self.dirty = self.dirty.min(keep);
        Ok(())
    }

    /// Gives the region up now, as a drop would (to the cache, or to the OS), and leaves it
    /// unreserved.
    pub(crate) fn give_back(&mut self) {
        if let Some(reservation) = self.reservation.take() {
            if !self.cacheable() {
                drop(reservation); // released: locked memory is never cached
            } else {
                cache::give(reservation, self.warm, self.huge);
            }
        }
        self.committed = 0;
        self.warm = 0;
        self.dirty = 0;
        self.huge = false;
    }
}

impl Drop for GrowRegion {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl core::fmt::Debug for GrowRegion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GrowRegion")
            .field("base", &self.base())
            .field("reserved", &self.reserved())
            .field("committed", &self.committed)
            .field("warm", &self.warm)
            .field("dirty", &self.dirty)
            .finish()
    }
}

/// Reserves `size` bytes aligned to `align` from the OS.
fn reserve_from_os(size: usize, align: usize) -> Result<Reservation> {
    #[cfg(test)]
    if testing::fail_reserve(size) {
        return Err(Error::new(ErrorKind::OutOfAddressSpace, "reserve", "test: no room").sized(size));
    }
    if align > crate::allocation_granularity() {
        Reservation::with_alignment(size, align)
    } else {
        Reservation::new(size)
    }
}

/// Per-thread switches for the unit tests: make the OS refuse reservations above a size, or
/// commits of a size.
#[cfg(test)]
pub(crate) mod testing {
    use core::cell::Cell;

    std::thread_local! {
        static RESERVE_ABOVE: Cell<usize> = const { Cell::new(usize::MAX) };
        static COMMIT_AT_LEAST: Cell<usize> = const { Cell::new(usize::MAX) };
        static BYPASS_CACHE: Cell<bool> = const { Cell::new(false) };
    }

    /// Regions of this thread neither take from nor give to the cache.
    pub(crate) fn bypass_cache(bypass: bool) {
        BYPASS_CACHE.with(|c| c.set(bypass));
    }

    pub(super) fn cache_bypassed() -> bool {
        BYPASS_CACHE.with(Cell::get)
    }

    pub(crate) fn refuse_reservations_above(bytes: usize) {
        RESERVE_ABOVE.with(|c| c.set(bytes));
    }

    pub(crate) fn refuse_commits_of_at_least(bytes: usize) {
        COMMIT_AT_LEAST.with(|c| c.set(bytes));
    }

    pub(super) fn fail_reserve(size: usize) -> bool {
        RESERVE_ABOVE.with(|c| size > c.get())
    }

    pub(super) fn fail_commit(size: usize) -> bool {
        COMMIT_AT_LEAST.with(|c| size >= c.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    fn reset_switches() {
        testing::refuse_reservations_above(usize::MAX);
        testing::refuse_commits_of_at_least(usize::MAX);
    }

    /// No prefault, no lock, no huge pages; and these tests see the OS alone, not regions
    /// other tests gave to the cache.
    fn plain() -> CommitMode {
        testing::bypass_cache(true);
        CommitMode { prefault: false, lock: false, huge_pages: HugePages::Off, fresh_only: false }
    }

    #[test]
    fn lazy_until_the_first_commit() {
        let mut r = GrowRegion::new(64 * MIB, 1, plain());
        assert!(!r.is_reserved());
        assert_eq!((r.reserved(), r.committed(), r.base()), (0, 0, core::ptr::null_mut()));
        r.commit_to("t", 1, 64 << 10).unwrap();
        assert!(r.is_reserved());
        assert_eq!(r.reserved(), 64 * MIB);
        assert_eq!(r.committed(), 64 << 10);
        // SAFETY: committed and writable.
        unsafe { r.base().write(1) };
    }

    #[test]
    fn commits_a_step_else_exactly_what_is_needed() {
        reset_switches();
        let page = crate::page_size();
        let mut r = GrowRegion::new(64 * MIB, 1, plain());
        r.commit_to("t", page + 1, 0).unwrap();
        assert_eq!(r.committed(), 2 * page, "no step: whole pages of what is needed");
        testing::refuse_commits_of_at_least(MIB);
        r.commit_to("t", 3 * page, 4 * MIB).unwrap();
        assert_eq!(r.committed(), 3 * page, "the step was refused: exactly what is needed");
        assert!(r.commit_to("t", 2 * MIB, 0).is_err());
        assert_eq!(r.committed(), 3 * page, "a refusal changes nothing");
        reset_switches();
        r.commit_to("t", 2 * MIB, 0).unwrap();
        assert_eq!(r.committed(), 2 * MIB);
    }

    #[test]
    fn never_past_the_reservation() {
        let mut r = GrowRegion::new(4 * MIB, 1, plain());
        r.commit_to("t", MIB, 64 * MIB).unwrap();
        assert_eq!(r.committed(), 4 * MIB, "the step stops at the end");
        let err = r.commit_to("t", 4 * MIB + 1, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfMemory);
        assert_eq!(r.committed(), 4 * MIB);
    }

    #[test]
    fn halves_when_address_space_is_short() {
        reset_switches();
        testing::refuse_reservations_above(16 * MIB);
        let mut r = GrowRegion::new(1 << 30, 1, plain());
        r.commit_to("t", MIB, 0).unwrap();
        assert_eq!(r.reserved(), 16 * MIB);
        // Never below what is needed, nor below the fallback floor.
        let mut r = GrowRegion::new(1 << 30, 1, plain());
        testing::refuse_reservations_above(2 * MIB);
        assert_eq!(r.reserve("t", MIB).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
        let mut r = GrowRegion::new(1 << 30, 1, plain());
        testing::refuse_reservations_above(32 * MIB);
        assert_eq!(r.reserve("t", 40 * MIB).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
        reset_switches();
    }

    #[test]
    fn aligned_as_asked() {
        let mut r = GrowRegion::new(8 * MIB, 4 * MIB, plain());
        r.commit_to("t", 1, 0).unwrap();
        assert_eq!(r.base() as usize % (4 * MIB), 0);
    }

    #[test]
    fn sizes_near_the_limit_are_errors() {
        let mut r = GrowRegion::new(usize::MAX, 1, plain());
        assert_eq!(r.reserve("t", 1).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
        let mut r = GrowRegion::new(isize::MAX as usize, 1, plain());
        assert!(r.reserve("t", 1).is_err());
        let mut r = GrowRegion::new(MIB, 1, plain());
        assert!(r.commit_to("t", usize::MAX, 0).is_err());
        assert!(r.commit_to("t", MIB, usize::MAX).is_ok(), "a huge step stops at the end");
        assert_eq!(r.committed(), MIB);
    }

    #[test]
    fn decommit_from_returns_the_tail() {
        let page = crate::page_size();
        let mut r = GrowRegion::new(4 * MIB, 1, plain());
        r.commit_to("t", 2 * MIB, 0).unwrap();
        // SAFETY: committed and writable.
        unsafe { r.base().add(MIB).write(7) };
        r.decommit_from(page + 1).unwrap();
        assert_eq!(r.committed(), 2 * page);
        r.commit_to("t", 2 * MIB, 0).unwrap();
        // SAFETY: committed again.
        assert_eq!(unsafe { r.base().add(MIB).read() }, 0, "decommitted memory reads zero again");
        r.decommit_from(0).unwrap();
        assert_eq!(r.committed(), 0);
        r.decommit_from(MIB).unwrap();
    }

    #[test]
    fn a_cached_huge_region_commits_small_steps_for_a_small_owner() {
        testing::bypass_cache(false);
        let Some(h) = crate::huge_page_size() else { return };
        let mode = CommitMode { huge_pages: HugePages::Auto, prefault: false, lock: false, fresh_only: false };
        // Made huge by a large owner, then given to the cache.
        let mut large = GrowRegion::new(3 << 30, 1, mode);
        large.commit_to("t", HUGE_PAGE_THRESHOLD + 1, 0).unwrap();
        assert!(large.huge);
        let base = large.base();
        drop(large);
        let mut small = GrowRegion::new(3 << 30, 1, mode);
        small.commit_to("t", 1, 64 << 10).unwrap();
        if small.base() == base {
            assert!(small.huge, "the region came back from the cache");
        }
        assert_eq!(small.committed(), 64 << 10, "not a whole huge page of {h}");
    }

    #[test]
    fn huge_pages_past_the_threshold() {
        let Some(h) = crate::huge_page_size() else { return };
        let mode = CommitMode { huge_pages: HugePages::Auto, ..plain() };
        let mut r = GrowRegion::new(1 << 30, 1, mode);
        r.commit_to("t", MIB, 0).unwrap();
        assert_eq!(r.base() as usize % h, 0, "reserved huge-page aligned");
        assert!(!r.huge);
        assert_eq!(r.committed(), MIB);
        r.commit_to("t", HUGE_PAGE_THRESHOLD + 1, 0).unwrap();
        assert!(r.huge);
        assert_eq!(r.committed() % h, 0, "whole huge pages from then on");
        // Small regions never use them.
        let mut small = GrowRegion::new(h, 1, mode);
        small.commit_to("t", h, 0).unwrap();
        assert!(!small.huge);
    }
}
