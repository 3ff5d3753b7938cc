//! `Reservation`: an owned range of address space, released on drop.

use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

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
/// Cost model: each method is one system call, except [`query`](Reservation::query) and
/// [`lock`](Reservation::lock), which also read the OS page map on Linux.
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
}

// SAFETY: a reservation is a range of addresses; every operation on it is a system call that
// any thread may make. It hands out no references, so sharing it shares no data.
unsafe impl Send for Reservation {}
// SAFETY: as above: `&Reservation` only allows system calls on the range.
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
        Ok(Reservation { base, len })
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
        Ok(Reservation { base, len })
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
        let ptr = self.range("commit", offset, len)?;
        // SAFETY: the range lies inside this reservation, which we own.
        unsafe { crate::commit(ptr, len) }
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
        let ptr = self.range("decommit", offset, len)?;
        // SAFETY: the range lies inside this reservation; all access to it is through raw
        // pointers whose users must not touch decommitted pages.
        unsafe { crate::decommit(ptr, len) }
    }

    /// Sets the protection of the pages holding `[offset, offset + len)`: see
    /// [`protect`](crate::protect).
    ///
    /// ```
    /// use vmem::Protection;
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// r.protect(0, 4096, Protection::Read).unwrap();
    /// ```
    pub fn protect(&self, offset: usize, len: usize, protection: Protection) -> Result<()> {
        let ptr = self.range("protect", offset, len)?;
        // SAFETY: the range lies inside this reservation; accesses go through raw pointers
        // whose users must respect the protection.
        unsafe { crate::protect(ptr, len, protection) }
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
        let ptr = self.range("guard", offset, len)?;
        // SAFETY: the range lies inside this reservation; users of raw pointers into it must
        // not touch a guard.
        unsafe { crate::decommit(ptr, len) }
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
        let ptr = self.range("lock", offset, len)?;
        // SAFETY: the range lies inside this reservation.
        unsafe { crate::lock(ptr, len) }
    }

    /// Unlocks the pages holding `[offset, offset + len)`: see [`unlock`](crate::unlock).
    ///
    /// ```
    /// let r = vmem::Reservation::new(4096).unwrap();
    /// r.commit(0, 4096).unwrap();
    /// r.unlock(0, 4096).unwrap();
    /// ```
    pub fn unlock(&self, offset: usize, len: usize) -> Result<()> {
        let ptr = self.range("unlock", offset, len)?;
        // SAFETY: the range lies inside this reservation.
        unsafe { crate::unlock(ptr, len) }
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
        let ptr = self.range("prefault", offset, len)?;
        if os::QUERY_SUPPORTED {
            let runs = crate::query(ptr, len)?;
            if let Some(run) = runs.iter().find(|run| !run.protection.can_write()) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "prefault",
                    "part of the range is not committed and writable",
                )
                .at(run.start, run.size));
            }
        }
        // SAFETY: the range lies inside this reservation and (where the OS can tell) is
        // committed and writable; elsewhere the backend's advice fails instead of faulting.
        unsafe { crate::prefault(ptr, len) }
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
        let parts = (self.base, self.len);
        core::mem::forget(self);
        parts
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
        Reservation { base, len }
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
