//! `Reservation`: an owned range of address space, released on drop.

use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use crate::raw::checks::{require_committed, Need};
use crate::sync::Lock;
use crate::{os, Error, ErrorKind, Protection, RegionInfo, Result};

/// An owned block of reserved address space, released when dropped.
///
/// A new reservation costs address space only: no memory and no commit charge. Commit the
/// parts you use, decommit what you no longer need; every operation takes an offset and a
/// length inside the reservation and is checked against its bounds, and acts on every page
/// that holds a byte of the range.
///
/// The reservation never hands out references to its memory: reach it through
/// [`as_ptr`](Reservation::as_ptr) and raw pointers, and keep to the pages you committed.
/// Safe types built on it ([`Arena`](crate::Arena), [`VirtualVec`](crate::VirtualVec), …)
/// do that for you.
///
/// The reservation keeps a record of the pages its own calls committed, decommitted and
/// protected, held under a lock while each call makes its system call. So
/// [`protect`](Reservation::protect), [`lock`](Reservation::lock) and
/// [`prefault`](Reservation::prefault) refuse pages that are not committed (with the
/// access they need) on every OS, without asking the OS, and a call on another thread can
/// never change the pages between that check and the system call. Pages changed behind the
/// reservation's back with the raw functions are not in the record; where the record does
/// not vouch for a range, the reservation asks the OS ([`query`](crate::query)) before it
/// refuses.
///
/// Cost model: each method is one system call plus an update of the record (a lock and a
/// search in a short list of runs), except [`query`](Reservation::query), which reads the OS
/// page map. Only a refusal that the record cannot confirm costs a query.
///
/// ```
/// use vmem::Reservation;
///
/// let r = Reservation::new(64 << 30)?; // 64 GiB of address space, no memory used
/// r.commit(0, 1 << 20)?;               // back the first MiB
/// let bytes = r.as_ptr();
/// // SAFETY: the first MiB is committed and read-write.
/// unsafe { bytes.write_bytes(0xAB, 1 << 20) };
/// r.decommit(0, 1 << 20)?;             // memory and commit charge go back to the OS
/// # Ok::<(), vmem::Error>(())
/// ```
pub struct Reservation {
    base: NonNull<u8>,
    len: usize,
    /// What this reservation's calls made of its pages. Held while each call makes its
    /// system call, so the record and the OS always agree for pages changed only through
    /// these methods.
    record: Lock<PageRecord>,
}

// SAFETY: a reservation is a range of addresses and a record behind a lock; every operation
// on it is a system call that any thread may make. It hands out no references, so sharing it
// shares no data.
unsafe impl Send for Reservation {}
// SAFETY: as above: `&Reservation` only allows system calls on the range, each made with the
// record's lock held.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Reserves at least `size` bytes (rounded up to whole pages) of inaccessible address
    /// space. See [`reserve`](crate::reserve).
    ///
    /// # Errors
    /// `InvalidArgument` for a zero size, `OutOfAddressSpace` when there is no room.
    ///
    /// ```
    /// let r = vmem::Reservation::new(1).unwrap();
    /// assert_eq!(r.len(), vmem::page_size());
    /// assert!(vmem::Reservation::new(0).is_err());
    /// ```
    pub fn new(size: usize) -> Result<Reservation> {
        let base = crate::reserve(size)?;
        let len = crate::align_up(size, crate::page_size())?;
        Ok(Reservation { base, len, record: Lock::new(PageRecord::new()) })
    }

    /// Reserves at least `size` bytes with a base aligned to `align` (a power of two), for
    /// example the huge page size. See [`reserve_aligned`](crate::reserve_aligned).
    ///
    /// ```
    /// let r = vmem::Reservation::with_alignment(1 << 21, 1 << 21).unwrap();
    /// assert!(vmem::is_aligned(r.as_ptr() as usize, 1 << 21));
    /// ```
    pub fn with_alignment(size: usize, align: usize) -> Result<Reservation> {
        let base = crate::reserve_aligned(size, align)?;
        let len = crate::align_up(size, crate::page_size())?;
        Ok(Reservation { base, len, record: Lock::new(PageRecord::new()) })
    }

    /// Reserves exactly `[address, address + size)` (size rounded up to whole pages), or
    /// fails without reserving anything: see [`reserve_at`](crate::reserve_at).
    ///
    /// # Errors
    /// `InvalidArgument` for a null or misaligned address or a zero size;
    /// `OutOfAddressSpace` when part of the range is in use.
    ///
    /// ```
    /// let taken = vmem::Reservation::new(1 << 20).unwrap();
    /// // The range is in use: refused, not moved elsewhere.
    /// let err = vmem::Reservation::new_at(taken.as_ptr() as usize, 1 << 20).unwrap_err();
    /// assert_eq!(err.kind(), vmem::ErrorKind::OutOfAddressSpace);
    /// ```
    pub fn new_at(address: usize, size: usize) -> Result<Reservation> {
        let base = crate::reserve_at(address, size)?;
        let len = crate::align_up(size, crate::page_size())?;
        Ok(Reservation { base, len, record: Lock::new(PageRecord::new()) })
    }

    /// The first byte of the reservation.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// assert!(!r.as_ptr().is_null());
    /// ```
    pub fn as_ptr(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// The first byte of the reservation, as a `NonNull`.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// assert_eq!(r.as_non_null().as_ptr(), r.as_ptr());
    /// ```
    pub fn as_non_null(&self) -> NonNull<u8> {
        self.base
    }

    /// The size of the reservation in bytes: what was asked, rounded up to whole pages.
    ///
    /// ```
    /// let r = vmem::Reservation::new(10_000).unwrap();
    /// assert_eq!(r.len() % vmem::page_size(), 0);
    /// assert!(r.len() >= 10_000);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a reservation is never empty
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether `address` lies inside the reservation.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// assert!(r.contains(r.as_ptr() as usize));
    /// assert!(!r.contains(r.as_ptr() as usize + r.len()));
    /// ```
    pub fn contains(&self, address: usize) -> bool {
        address.wrapping_sub(self.base.as_ptr() as usize) < self.len
    }

    /// Checks that `[offset, offset + len)` is a non-empty range inside the reservation and
    /// returns its first byte.
    fn range(&self, operation: &'static str, offset: usize, len: usize) -> Result<*mut u8> {
        let base = self.base.as_ptr() as usize;
        if len == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, operation, "the length is zero")
                .at(base.wrapping_add(offset), len));
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.base.as_ptr().wrapping_add(offset)),
            _ => {
                Err(Error::new(ErrorKind::OutOfBounds, operation, "the range reaches past the end of the reservation")
                    .at(base.wrapping_add(offset), len)
                    .with_limit("reservation length", self.len as u64))
            }
        }
    }

    /// Checks `[offset, offset + len)` as [`range`](Self::range) does and widens it to the
    /// whole pages that hold it: `(first byte, start offset, end offset)`. The end stays
    /// inside the reservation, whose length is a multiple of the page size.
    fn pages(&self, operation: &'static str, offset: usize, len: usize) -> Result<(*mut u8, usize, usize)> {
        self.range(operation, offset, len)?;
        let page = crate::page_size();
        let start = offset & !(page - 1);
        // `offset + len <= self.len`, a multiple of the page size: the round-up cannot pass it.
        let end = (offset + len).div_ceil(page) * page;
        Ok((self.base.as_ptr().wrapping_add(start), start, end))
    }

    /// Refuses `[start, end)` (page offsets) unless every page of it is committed with a
    /// protection `accept` allows: by the record, or else by the OS (pages changed with the
    /// raw functions). Called with the record's lock held.
    fn require(
        &self,
        record: &PageRecord,
        operation: &'static str,
        start: usize,
        end: usize,
        need: Need,
    ) -> Result<()> {
        let Err((from, to, found)) = record.check(start, end, need) else { return Ok(()) };
        // The record does not vouch for the range: perhaps raw calls committed it. Ask the OS.
        if os::QUERY_SUPPORTED
            && require_committed(operation, self.base.as_ptr().wrapping_add(start), end - start, need).is_ok()
        {
            return Ok(());
        }
        let base = self.base.as_ptr() as usize;
        Err(Error::new(ErrorKind::InvalidArgument, operation, need.refusal(found)).at(base + from, to - from))
    }

    /// Commits the pages holding `[offset, offset + len)`: see [`commit`](crate::commit).
    /// Fresh pages read zero; committed pages keep their contents.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero length, `OutOfBounds` past the end, `OutOfMemory` when
    /// the OS refuses (the pages keep their state).
    ///
    /// ```
    /// let r = vmem::Reservation::new(1 << 20).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// assert!(r.commit(0, 2 << 20).is_err());
    /// ```
    pub fn commit(&self, offset: usize, len: usize) -> Result<()> {
        let (ptr, start, end) = self.pages("commit", offset, len)?;
        let mut record = self.record.lock();
        record.make_room("commit")?;
        // SAFETY: the pages lie inside this reservation, which we own.
        unsafe { os::commit(ptr, end - start)? };
        record.set(start, end, Some(Protection::ReadWrite));
        Ok(())
    }

    /// Decommits the pages holding `[offset, offset + len)`: their memory and commit charge
    /// go back to the OS, they become inaccessible and read zero when committed again. See
    /// [`decommit`](crate::decommit).
    ///
    /// Safe because the reservation hands out no references: code that reads the memory
    /// through raw pointers must not do so after this.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// r.decommit(0, 4096).unwrap();
    /// ```
    pub fn decommit(&self, offset: usize, len: usize) -> Result<()> {
        self.decommit_pages("decommit", offset, len)
    }

    /// Decommits the pages holding `[offset, offset + len)` and records it.
    fn decommit_pages(&self, operation: &'static str, offset: usize, len: usize) -> Result<()> {
        let (ptr, start, end) = self.pages(operation, offset, len)?;
        let mut record = self.record.lock();
        record.make_room(operation)?;
        // SAFETY: the pages lie inside this reservation; all access to it is through raw
        // pointers whose users must not touch decommitted pages.
        unsafe { os::decommit(ptr, end - start)? };
        record.set(start, end, None);
        Ok(())
    }

    /// Sets the protection of the pages holding `[offset, offset + len)`: see
    /// [`protect`](crate::protect). Every page must be committed: protecting reserved pages
    /// would make memory usable without a commit (on Unix) and is refused on every OS, with
    /// nothing changed.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero length or pages that are not committed, `OutOfBounds`
    /// past the end, `PermissionDenied` when the OS forbids the protection. After an error
    /// from the OS, part of the range may have the new protection (Linux changes it mapping
    /// by mapping); the reservation then asks the OS about those pages' access.
    ///
    /// ```
    /// use vmem::Protection;
    /// let r = vmem::Reservation::new(8192).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// r.protect(0, 4096, Protection::Read).unwrap();
    /// r.protect(0, 4096, Protection::NoAccess).unwrap(); // still committed
    /// r.protect(0, 4096, Protection::ReadWrite).unwrap();
    /// assert!(r.protect(0, 8192, Protection::Read).is_err()); // the second page is only reserved
    /// ```
    pub fn protect(&self, offset: usize, len: usize, protection: Protection) -> Result<()> {
        let (ptr, start, end) = self.pages("protect", offset, len)?;
        let mut record = self.record.lock();
        self.require(&record, "protect", start, end, Need::Committed)?;
        record.make_room("protect")?;
        // SAFETY: the pages lie inside this reservation and are committed; accesses go
        // through raw pointers whose users must respect the protection.
        if let Err(err) = unsafe { os::protect(ptr, end - start, protection) } {
            // The OS may have changed part of the range before it failed (Linux works mapping
            // by mapping and can run out of map slots at the last one), so the record no
            // longer knows the pages' protection. They are still committed (checked above;
            // a protect never decommits): recorded as committed with no access, the record
            // vouches for that and for no access at all, and the OS is asked about access
            // (room was made above).
            record.set(start, end, Some(Protection::NoAccess));
            return Err(err);
        }
        record.set(start, end, Some(protection));
        Ok(())
    }

    /// Makes the pages holding `[offset, offset + len)` a guard: decommitted and
    /// inaccessible, so that any access faults at once (a stack or buffer overrun stops
    /// there). Commit them again to use them.
    ///
    /// ```
    /// let page = vmem::page_size();
    /// let r = vmem::Reservation::new(3 * page).unwrap();
    /// r.commit(0, 3 * page).unwrap();
    /// r.guard(2 * page, page).unwrap(); // an overrun past two pages faults
    /// assert_eq!(r.query().unwrap().last().unwrap().state, vmem::PageState::Reserved);
    /// ```
    pub fn guard(&self, offset: usize, len: usize) -> Result<()> {
        self.decommit_pages("guard", offset, len)
    }

    /// Locks the committed pages holding `[offset, offset + len)` in physical memory: see
    /// [`lock`](crate::lock).
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// assert!(r.lock(0, 4096).is_err()); // not committed
    /// r.commit(0, 4096).unwrap();
    /// if r.lock(0, 4096).is_ok() { r.unlock(0, 4096).unwrap(); }
    /// ```
    pub fn lock(&self, offset: usize, len: usize) -> Result<()> {
        let (ptr, start, end) = self.pages("lock", offset, len)?;
        let record = self.record.lock();
        self.require(&record, "lock", start, end, Need::Accessible)?;
        // SAFETY: the pages lie inside this reservation and are committed and accessible.
        unsafe { os::lock(ptr, end - start) }
    }

    /// Locks the pages holding `[offset, offset + len)` as [`lock`](Reservation::lock) does,
    /// and unlocks them when the returned guard drops: for secrets that must never reach swap
    /// for as long as they live, or latency-critical buffers during one phase.
    ///
    /// Locks do not nest (on every OS): the guard's unlock unlocks the pages even if another
    /// call locked them too.
    ///
    /// # Errors
    /// As [`lock`](Reservation::lock); nothing is locked on error.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// match r.lock_guard(0, 4096) {
    ///     Ok(locked) => {
    ///         // ... the page stays in RAM while `locked` lives ...
    ///         locked.unlock().unwrap(); // or just drop it
    ///     }
    ///     Err(e) => println!("no lock here: {e}"), // RLIMIT_MEMLOCK, for example
    /// };
    /// ```
    pub fn lock_guard(&self, offset: usize, len: usize) -> Result<LockGuard<'_>> {
        self.lock(offset, len)?;
        let (_, start, end) = self.pages("lock", offset, len)?;
        Ok(LockGuard { reservation: self, start, end })
    }

    /// Sets the protection of the pages holding `[offset, offset + len)` as
    /// [`protect`](Reservation::protect) does, and puts back the protection each page had
    /// when the returned guard drops (or at [`ProtectGuard::restore`], which reports errors):
    /// write-protect a table during a phase that must not change it, or make code pages
    /// writable only while patching them.
    ///
    /// Pages decommitted while the guard lives stay decommitted: only pages still committed
    /// get their protection back.
    ///
    /// # Errors
    /// As [`protect`](Reservation::protect), and no guard is made: after an error from the OS,
    /// part of the range may have the new protection, as there. `OutOfMemory`, with nothing
    /// changed, when there is no heap memory to save the old protections.
    ///
    /// ```
    /// use vmem::Protection;
    /// let page = vmem::page_size();
    /// let r = vmem::Reservation::new(2 * page).unwrap();
    /// r.commit(0, 2 * page).unwrap();
    /// r.protect(page, page, Protection::Read).unwrap();
    /// {
    ///     let _frozen = r.protect_guard(0, 2 * page, Protection::NoAccess).unwrap();
    ///     assert!(!r.is_writable(0, page));
    /// }
    /// assert!(r.is_writable(0, page));          // read-write again
    /// assert!(!r.is_writable(page, page));      // read-only again, as before
    /// assert!(r.is_committed(page, page));
    /// ```
    pub fn protect_guard(&self, offset: usize, len: usize, protection: Protection) -> Result<ProtectGuard<'_>> {
        let (ptr, start, end) = self.pages("protect", offset, len)?;
        let mut record = self.record.lock();
        self.require(&record, "protect", start, end, Need::Committed)?;
        let previous = match record.protections(start, end) {
            Some(runs) => saved_protections(runs)?,
            // Committed behind the record's back (raw calls): the OS says what it was.
            None => {
                let base = self.base.as_ptr() as usize;
                saved_protections(self.query_range(start, end - start)?.into_iter().map(|run| {
                    let from = run.start - base;
                    Run { start: from, end: from + run.size, protection: run.protection }
                }))?
            }
        };
        record.make_room("protect")?;
        // SAFETY: as in `protect`: the pages lie inside this reservation and are committed.
        if let Err(err) = unsafe { os::protect(ptr, end - start, protection) } {
            // As in `protect`: part of the range may have the new protection now. Still
            // committed, access unknown: recorded as no access, so the OS is asked.
            record.set(start, end, Some(Protection::NoAccess));
            return Err(err);
        }
        record.set(start, end, Some(protection));
        Ok(ProtectGuard { reservation: self, previous })
    }

    /// Puts back the protections a [`ProtectGuard`] saved, on the pages that are still
    /// committed; the first error, after trying every run.
    fn restore_protections(&self, previous: &[Run]) -> Result<()> {
        let mut record = self.record.lock();
        let mut first_error = None;
        for run in previous {
            // The still-committed pieces of the run, by the record (which the guard's own
            // `protect` brought up to date for the whole range).
            let mut cursor = run.start;
            while let Some((start, end)) = record.next_committed(cursor, run.end) {
                cursor = end;
                if let Err(e) = record.make_room("protect") {
                    // Nothing changed for these pages: the record still knows them.
                    first_error.get_or_insert(e);
                    continue;
                }
                // SAFETY: the pages lie inside this reservation and are committed (the
                // record says so, under its lock).
                match unsafe { os::protect(self.base.as_ptr().wrapping_add(start), end - start, run.protection) } {
                    Ok(()) => record.set(start, end, Some(run.protection)),
                    Err(e) => {
                        // As in `protect`: part of the pages may have the old protection
                        // back. Still committed, access unknown: recorded as no access, so
                        // the OS is asked (room was made above).
                        record.set(start, end, Some(Protection::NoAccess));
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Unlocks the pages holding `[offset, offset + len)`: see [`unlock`](crate::unlock).
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// r.unlock(0, 4096).unwrap();
    /// ```
    pub fn unlock(&self, offset: usize, len: usize) -> Result<()> {
        let (ptr, start, end) = self.pages("unlock", offset, len)?;
        // SAFETY: the pages lie inside this reservation; unlocking only unpins them.
        unsafe { os::unlock(ptr, end - start) }
    }

    /// Faults in the committed pages holding `[offset, offset + len)` now: see
    /// [`prefault`](crate::prefault). The pages must be committed and writable; pages
    /// that are not are refused with an error rather than faulted.
    ///
    /// ```
    /// let r = vmem::Reservation::new(1 << 20).unwrap();
    /// r.commit(0, 1 << 20).unwrap();
    /// r.prefault(0, 1 << 20).unwrap();
    /// ```
    pub fn prefault(&self, offset: usize, len: usize) -> Result<()> {
        let (ptr, start, end) = self.pages("prefault", offset, len)?;
        // The lock is held until the pages are faulted in: no call on another thread can
        // decommit or write-protect them in between (the race that would make a fallback
        // that touches the pages fault).
        let record = self.record.lock();
        self.require(&record, "prefault", start, end, Need::Writable)?;
        // SAFETY: the pages lie inside this reservation and are committed and writable, and
        // stay so while we hold the lock.
        unsafe { os::prefault(ptr, end - start) }
    }

    /// Whether every page holding `[offset, offset + len)` is committed (with any
    /// protection), as this reservation's calls left it or, where they did not touch it,
    /// as the OS reports. `false` for an empty or out-of-bounds range.
    ///
    /// On Linux this can be `true` where [`query`](crate::query) reports `Reserved`: a
    /// committed page made inaccessible before any page of its mapping was written is
    /// uncharged by the kernel and looks just like a reserved one, but the record knows this
    /// reservation committed it (and [`protect`](Reservation::protect) gives it access again).
    ///
    /// Cost: a lock and a search of the record; a [`query`](crate::query) only when the
    /// record does not vouch for the range.
    ///
    /// ```
    /// let r = vmem::Reservation::new(8192).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// assert!(r.is_committed(0, 4096));
    /// assert!(!r.is_committed(0, 8192));
    /// ```
    pub fn is_committed(&self, offset: usize, len: usize) -> bool {
        self.has(offset, len, Need::Committed)
    }

    /// Whether every page holding `[offset, offset + len)` is committed and writable, in the
    /// sense of [`is_committed`](Reservation::is_committed).
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// assert!(r.is_writable(0, 4096));
    /// r.protect(0, 4096, vmem::Protection::Read).unwrap();
    /// assert!(!r.is_writable(0, 4096));
    /// ```
    pub fn is_writable(&self, offset: usize, len: usize) -> bool {
        self.has(offset, len, Need::Writable)
    }

    fn has(&self, offset: usize, len: usize, need: Need) -> bool {
        let Ok((_, start, end)) = self.pages("", offset, len) else { return false };
        let record = self.record.lock();
        self.require(&record, "", start, end, need).is_ok()
    }

    /// Gives the OS `advice` about the pages holding `[offset, offset + len)`: see
    /// [`advise`](crate::advise) and [`Advice`](crate::Advice).
    ///
    /// Safe for the reason [`decommit`](Reservation::decommit) is: the reservation hands out
    /// no references. After [`Advice::Free`](crate::Advice::Free) the contents of the pages
    /// are unspecified (old bytes or zeros) until written, so code reading them through raw
    /// pointers must not rely on them; the pages must be committed for it.
    ///
    /// # Errors
    /// `InvalidArgument` for a zero length, or for `Free` on pages that are not committed;
    /// `OutOfBounds` past the end; `Unsupported` where the OS cannot do the advice.
    ///
    /// ```
    /// use vmem::Advice;
    /// let r = vmem::Reservation::new(1 << 20).unwrap();
    /// r.advise(0, 1 << 20, Advice::Random).unwrap(); // hints are accepted everywhere
    /// assert!(r.advise(0, 1 << 20, Advice::Free).is_err()); // nothing committed to free
    /// r.commit(0, 1 << 20).unwrap();
    /// let _ = r.advise(0, 1 << 20, Advice::Free); // Unsupported on some systems
    /// ```
    pub fn advise(&self, offset: usize, len: usize, advice: crate::Advice) -> Result<()> {
        let (ptr, start, end) = self.pages("advise", offset, len)?;
        if advice == crate::Advice::Free {
            // Held through the call, so no other thread decommits or protects the pages in
            // between (MEM_RESET on reserved pages fails on Windows; be the same everywhere).
            let record = self.record.lock();
            self.require(&record, "advise", start, end, Need::Writable)?;
            // SAFETY: the pages lie inside this reservation and are committed; readers through
            // raw pointers must not rely on their contents, as documented.
            return unsafe { crate::advise(ptr, end - start, advice) };
        }
        // SAFETY: the pages lie inside this reservation; every advice but `Free` leaves the
        // contents alone.
        unsafe { crate::advise(ptr, end - start, advice) }
    }

    /// Asks for transparent huge pages for `[offset, offset + len)`: see
    /// [`advise_huge_pages`](crate::advise_huge_pages).
    ///
    /// ```
    /// let r = vmem::Reservation::with_alignment(4 << 20, 2 << 20).unwrap();
    /// let _ = r.advise_huge_pages(0, r.len()); // Unsupported where there are none
    /// ```
    pub fn advise_huge_pages(&self, offset: usize, len: usize) -> Result<()> {
        let ptr = self.range("advise_huge_pages", offset, len)?;
        // SAFETY: the range lies inside this reservation.
        unsafe { crate::advise_huge_pages(ptr, len) }
    }

    /// The runs of pages of the whole reservation: see [`query`](crate::query).
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// assert_eq!(r.query().unwrap()[0].state, vmem::PageState::Reserved);
    /// ```
    pub fn query(&self) -> Result<Vec<RegionInfo>> {
        crate::query(self.as_ptr(), self.len)
    }

    /// The runs of pages holding `[offset, offset + len)`.
    ///
    /// ```
    /// let r = vmem::Reservation::new(8192).unwrap();
    /// r.commit(0, 1).unwrap();
    /// assert_eq!(r.query_range(0, 1).unwrap()[0].state, vmem::PageState::Committed);
    /// ```
    pub fn query_range(&self, offset: usize, len: usize) -> Result<Vec<RegionInfo>> {
        let ptr = self.range("query", offset, len)?;
        crate::query(ptr, len)
    }

    /// Gives up ownership without releasing: returns the base and length, for
    /// [`release`](crate::release) or [`Reservation::from_raw`].
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// let (base, len) = r.into_raw();
    /// // SAFETY: `base`/`len` are a whole reservation, released once.
    /// unsafe { vmem::release(base.as_ptr(), len).unwrap() };
    /// ```
    pub fn into_raw(self) -> (NonNull<u8>, usize) {
        let mut this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the record is dropped exactly once, here (its
        // heap goes; the range stays reserved), and `this` is not used after it.
        unsafe { core::ptr::drop_in_place(&mut this.record) };
        (this.base, this.len)
    }

    /// Takes ownership of a reservation made by [`reserve`](crate::reserve) or given up by
    /// [`into_raw`](Reservation::into_raw).
    ///
    /// # Safety
    /// `base` and `len` must describe exactly one whole reservation (with `len` a multiple of
    /// the page size) that nothing else will release.
    ///
    /// ```
    /// let base = vmem::reserve(4096).unwrap();
    /// // SAFETY: a whole reservation that only `r` will release.
    /// let r = unsafe { vmem::Reservation::from_raw(base, vmem::page_size()) };
    /// assert_eq!(r.len(), vmem::page_size());
    /// ```
    pub unsafe fn from_raw(base: NonNull<u8>, len: usize) -> Reservation {
        Reservation { base, len, record: Lock::new(PageRecord::new()) }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: we own the whole reservation and, being dropped, nothing uses it any more.
        // Release only fails for arguments we never pass, so the error is ignored.
        let _ = unsafe { os::release(self.base.as_ptr(), self.len) };
    }
}

impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation").field("base", &self.base).field("len", &self.len).finish()
    }
}

/// Pages of a [`Reservation`] locked in RAM until this guard drops: see
/// [`Reservation::lock_guard`].
///
/// ```
/// let r = vmem::Reservation::new(4096).unwrap();
/// r.commit(0, 4096).unwrap();
/// if let Ok(guard) = r.lock_guard(0, 4096) {
///     assert_eq!(guard.len(), 4096);
/// }; // unlocked here
/// ```
#[must_use = "the pages are unlocked as soon as the guard drops"]
pub struct LockGuard<'a> {
    reservation: &'a Reservation,
    start: usize,
    end: usize,
}

impl LockGuard<'_> {
    /// The offset of the first locked page in the reservation.
    ///
    /// ```
    /// let page = vmem::page_size();
    /// let r = vmem::Reservation::new(2 * page).unwrap();
    /// r.commit(0, 2 * page).unwrap();
    /// if let Ok(guard) = r.lock_guard(page + 1, 1) {
    ///     assert_eq!(guard.offset(), page);
    /// };
    /// ```
    pub fn offset(&self) -> usize {
        self.start
    }

    /// The number of locked bytes: whole pages.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// if let Ok(guard) = r.lock_guard(0, 1) {
    ///     assert_eq!(guard.len(), vmem::page_size());
    /// };
    /// ```
    #[allow(clippy::len_without_is_empty)] // never empty
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Unlocks now and reports the OS's answer (dropping the guard ignores it).
    ///
    /// # Errors
    /// The OS error, which on the supported systems does not happen for pages of a live
    /// reservation.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// if let Ok(guard) = r.lock_guard(0, 4096) {
    ///     guard.unlock().unwrap();
    /// };
    /// ```
    pub fn unlock(self) -> Result<()> {
        let this = core::mem::ManuallyDrop::new(self);
        this.reservation.unlock(this.start, this.end - this.start)
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Nothing to do about a failure here; `unlock` reports it.
        let _ = self.reservation.unlock(self.start, self.end - self.start);
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").field("offset", &self.start).field("len", &self.len()).finish()
    }
}

/// Pages of a [`Reservation`] whose earlier protection comes back when this guard drops: see
/// [`Reservation::protect_guard`].
///
/// ```
/// use vmem::Protection;
/// let r = vmem::Reservation::new(4096).unwrap();
/// r.commit(0, 4096).unwrap();
/// let guard = r.protect_guard(0, 4096, Protection::Read).unwrap();
/// assert!(!r.is_writable(0, 4096));
/// guard.restore().unwrap();
/// assert!(r.is_writable(0, 4096));
/// ```
#[must_use = "the protection comes back as soon as the guard drops"]
pub struct ProtectGuard<'a> {
    reservation: &'a Reservation,
    /// The protections before the guard, as runs of page offsets covering its range.
    previous: Vec<Run>,
}

impl ProtectGuard<'_> {
    /// Puts the earlier protections back now and reports the OS's answer (dropping the guard
    /// ignores it). Pages decommitted meanwhile are left alone.
    ///
    /// # Errors
    /// The first OS error (after trying every page): `OutOfMemory` when the OS has no room
    /// to split its records of the mapping.
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// r.protect_guard(0, 4096, vmem::Protection::NoAccess).unwrap().restore().unwrap();
    /// assert!(r.is_writable(0, 4096));
    /// ```
    pub fn restore(self) -> Result<()> {
        let mut this = core::mem::ManuallyDrop::new(self);
        let previous = core::mem::take(&mut this.previous);
        this.reservation.restore_protections(&previous)
    }
}

/// The protections a [`ProtectGuard`] saves, in a vector whose heap memory is asked for
/// first: no memory is an error, not an abort.
fn saved_protections(runs: impl ExactSizeIterator<Item = Run>) -> Result<Vec<Run>> {
    let mut saved = Vec::new();
    saved.try_reserve_exact(runs.len()).map_err(|_| {
        Error::new(ErrorKind::OutOfMemory, "protect_guard", "no heap memory to save the pages' protections")
    })?;
    saved.extend(runs);
    Ok(saved)
}

impl Drop for ProtectGuard<'_> {
    fn drop(&mut self) {
        // Nothing to do about a failure here; `restore` reports it.
        let _ = self.reservation.restore_protections(&self.previous);
    }
}

impl fmt::Debug for ProtectGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs: Vec<_> = self.previous.iter().map(|run| (run.start..run.end, run.protection)).collect();
        f.debug_struct("ProtectGuard").field("previous", &runs).finish()
    }
}

/// One run of committed pages: byte offsets `[start, end)` from the base, page-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    start: usize,
    end: usize,
    protection: Protection,
}

/// Which pages of a reservation its calls committed, and with what protection: runs sorted
/// by offset, disjoint, never empty, adjacent runs of equal protection merged. Pages in no
/// run are reserved. A fresh reservation has no runs and no heap allocation.
#[derive(Debug, Default)]
pub(crate) struct PageRecord {
    runs: Vec<Run>,
}

impl PageRecord {
    const fn new() -> PageRecord {
        PageRecord { runs: Vec::new() }
    }

    /// Makes room for one [`set`](Self::set), which adds at most two runs, so that it cannot
    /// fail after the system call succeeded.
    fn make_room(&mut self, operation: &'static str) -> Result<()> {
        self.runs.try_reserve(2).map_err(|_| {
            Error::new(ErrorKind::OutOfMemory, operation, "no heap memory for the reservation's page record")
        })
    }

    /// Records that pages `[start, end)` are now committed with `state`, or reserved
    /// (`None`). Needs the room [`make_room`](Self::make_room) made.
    fn set(&mut self, start: usize, end: usize, state: Option<Protection>) {
        debug_assert!(start < end);
        // The runs overlapping [start, end) are `first..last`.
        let first = self.runs.partition_point(|run| run.end <= start);
        let last = self.runs.partition_point(|run| run.start < end);
        let mut pieces = [None; 3];
        if first < last {
            let head = self.runs[first];
            let tail = self.runs[last - 1];
            if head.start < start {
                pieces[0] = Some(Run { start: head.start, end: start, protection: head.protection });
            }
            if tail.end > end {
                pieces[2] = Some(Run { start: end, end: tail.end, protection: tail.protection });
            }
        }
        pieces[1] = state.map(|protection| Run { start, end, protection });
        self.runs.drain(first..last);
        let mut at = first;
        for piece in pieces.into_iter().flatten() {
            self.runs.insert(at, piece);
            at += 1;
        }
        // Merge across the edges of what was inserted (from the right, so indices hold).
        let hi = at.min(self.runs.len().saturating_sub(1));
        let lo = first.max(1);
        for index in (lo..=hi).rev() {
            let (left, right) = (self.runs[index - 1], self.runs[index]);
            if left.end == right.start && left.protection == right.protection {
                self.runs[index - 1].end = right.end;
                self.runs.remove(index);
            }
        }
    }

    /// The runs of `[start, end)`, clipped to it, when the record has every page of it
    /// committed; `None` when it does not.
    fn protections(&self, start: usize, end: usize) -> Option<impl ExactSizeIterator<Item = Run> + '_> {
        self.check(start, end, Need::Committed).ok()?;
        let first = self.runs.partition_point(|run| run.end <= start);
        let last = self.runs.partition_point(|run| run.start < end);
        let runs = self.runs.get(first..last)?.iter();
        Some(runs.map(move |run| Run { start: run.start.max(start), end: run.end.min(end), ..*run }))
    }

    /// The first committed part of `[start, end)` by the record, clipped to it.
    fn next_committed(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end {
            return None;
        }
        let first = self.runs.partition_point(|run| run.end <= start);
        let run = self.runs.get(first).filter(|run| run.start < end)?;
        Some((run.start.max(start), run.end.min(end)))
    }

    /// `Ok` when every page of `[start, end)` is committed with a protection `need`
    /// accepts; else the first part that is not: `(from, to, state)`.
    fn check(
        &self,
        start: usize,
        end: usize,
        need: Need,
    ) -> core::result::Result<(), (usize, usize, Option<Protection>)> {
        let first = self.runs.partition_point(|run| run.end <= start);
        let mut cursor = start;
        for run in self.runs[first..].iter().take_while(|run| run.start < end) {
            if run.start > cursor {
                return Err((cursor, run.start, None));
            }
            if !need.accepts(run.protection) {
                return Err((cursor, run.end.min(end), Some(run.protection)));
            }
            cursor = run.end;
            if cursor >= end {
                return Ok(());
            }
        }
        if cursor < end {
            Err((cursor, end, None))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(record: &PageRecord) -> Vec<(usize, usize, Protection)> {
        record.runs.iter().map(|r| (r.start, r.end, r.protection)).collect()
    }

    fn set(record: &mut PageRecord, start: usize, end: usize, state: Option<Protection>) {
        record.make_room("test").unwrap();
        let capacity = record.runs.capacity();
        record.set(start, end, state);
        assert_eq!(record.runs.capacity(), capacity, "set must not allocate");
    }

    use Protection::{NoAccess, Read, ReadWrite};

    #[test]
    fn record_splits_and_merges() {
        let mut r = PageRecord::new();
        set(&mut r, 0, 40, Some(ReadWrite));
        assert_eq!(runs(&r), [(0, 40, ReadWrite)]);
        set(&mut r, 10, 20, Some(Read));
        assert_eq!(runs(&r), [(0, 10, ReadWrite), (10, 20, Read), (20, 40, ReadWrite)]);
        set(&mut r, 15, 30, None);
        assert_eq!(runs(&r), [(0, 10, ReadWrite), (10, 15, Read), (30, 40, ReadWrite)]);
        set(&mut r, 5, 35, Some(ReadWrite));
        assert_eq!(runs(&r), [(0, 40, ReadWrite)]);
        set(&mut r, 40, 50, Some(ReadWrite));
        assert_eq!(runs(&r), [(0, 50, ReadWrite)]);
        set(&mut r, 60, 70, Some(NoAccess));
        assert_eq!(runs(&r), [(0, 50, ReadWrite), (60, 70, NoAccess)]);
        set(&mut r, 0, 100, None);
        assert_eq!(runs(&r), []);
    }

    #[test]
    fn record_lists_protections_and_committed_pieces() {
        let mut record = PageRecord::new();
        set(&mut record, 0, 4, Some(ReadWrite));
        set(&mut record, 1, 2, Some(Read));
        set(&mut record, 6, 8, Some(NoAccess));
        let clipped: Vec<_> = record.protections(0, 3).unwrap().map(|r| (r.start, r.end, r.protection)).collect();
        assert_eq!(clipped, [(0, 1, ReadWrite), (1, 2, Read), (2, 3, ReadWrite)]);
        assert!(record.protections(3, 7).is_none(), "4..6 is reserved");
        assert_eq!(record.next_committed(3, 8), Some((3, 4)));
        assert_eq!(record.next_committed(4, 8), Some((6, 8)));
        assert_eq!(record.next_committed(4, 6), None);
        assert_eq!(record.next_committed(2, 2), None, "an empty range has no pieces");
        assert_eq!(record.next_committed(8, 100), None);
    }

    #[test]
    fn record_checks_coverage_and_protection() {
        let mut r = PageRecord::new();
        set(&mut r, 0, 10, Some(ReadWrite));
        set(&mut r, 10, 20, Some(NoAccess));
        set(&mut r, 30, 40, Some(Read));
        assert_eq!(r.check(0, 20, Need::Committed), Ok(()));
        assert_eq!(r.check(0, 20, Need::Accessible), Err((10, 20, Some(NoAccess))));
        assert_eq!(r.check(0, 10, Need::Writable), Ok(()));
        assert_eq!(r.check(5, 35, Need::Committed), Err((20, 30, None)));
        assert_eq!(r.check(30, 40, Need::Writable), Err((30, 40, Some(Read))));
        assert_eq!(r.check(35, 45, Need::Committed), Err((40, 45, None)));
        assert_eq!(r.check(50, 60, Need::Committed), Err((50, 60, None)));
    }

    /// The record against a page-by-page model, over random operations.
    #[test]
    fn record_matches_a_page_model() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let states = [None, Some(NoAccess), Some(Read), Some(ReadWrite)];
        for _ in 0..200 {
            let mut r = PageRecord::new();
            let mut model = [None; 32];
            for _ in 0..50 {
                let a = next(32);
                let b = a + 1 + next(32 - a);
                let state = states[next(4)];
                set(&mut r, a, b, state);
                model[a..b].fill(state);
                for w in r.runs.windows(2) {
                    assert!(w[0].end <= w[1].start);
                    assert!(w[0].end < w[1].start || w[0].protection != w[1].protection, "unmerged runs");
                }
                for (page, &state) in model.iter().enumerate() {
                    let found = r.runs.iter().find(|run| run.start <= page && page < run.end).map(|run| run.protection);
                    assert_eq!(found, state);
                }
                let (a, b) = (next(32), next(32));
                let (a, b) = (a.min(b), a.max(b) + 1);
                for need in [Need::Committed, Need::Accessible, Need::Writable] {
                    let ok = model[a..b].iter().all(|s| s.is_some_and(|p| need.accepts(p)));
                    assert_eq!(r.check(a, b, need).is_ok(), ok);
                }
            }
        }
    }
}
