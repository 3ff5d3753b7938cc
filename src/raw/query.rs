//! Asking the OS what state pages are in.

use alloc::vec::Vec;

use crate::raw::checks::page_range;
use crate::{os, Error, ErrorKind, Protection, Result};

/// The state of a page of address space.
///
/// ```
/// assert_ne!(vmem::PageState::Reserved, vmem::PageState::Committed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageState {
    /// Not part of any mapping: nothing is there.
    Free,
    /// Reserved address space with no memory behind it; any access faults.
    Reserved,
    /// Backed by memory (or by the promise of it), with the run's protection.
    Committed,
}

/// A run of adjacent pages with the same state and protection, as [`query`] reports it.
///
/// ```
/// let r = vmem::Reservation::new(vmem::page_size()).unwrap();
/// let run = r.query().unwrap()[0];
/// assert_eq!(run.start, r.as_ptr() as usize);
/// assert_eq!(run.end(), run.start + run.size);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegionInfo {
    /// The address of the first byte of the run.
    pub start: usize,
    /// The size of the run in bytes (a multiple of the page size).
    pub size: usize,
    /// Whether the pages are free, reserved or committed.
    pub state: PageState,
    /// The protection of the pages ([`Protection::NoAccess`] for free and reserved ones).
    pub protection: Protection,
}

impl RegionInfo {
    /// One past the last byte of the run.
    ///
    /// ```
    /// let run = vmem::RegionInfo {
    ///     start: 4096,
    ///     size: 8192,
    ///     state: vmem::PageState::Reserved,
    ///     protection: vmem::Protection::NoAccess,
    /// };
    /// assert_eq!(run.end(), 12288);
    /// ```
    pub const fn end(&self) -> usize {
        self.start + self.size
    }
}

/// Reports the runs of pages that cover `[ptr, ptr + size)` (widened to whole pages), in
/// address order. Adjacent pages with the same state and protection form one run; together
/// the runs cover exactly the widened range.
///
/// Any address may be asked about; pages that are not mapped come back
/// [`PageState::Free`]. On Linux, where no system call reports commit state, this reads
/// `/proc/self/smaps`: a page with access is committed, an inaccessible page is committed
/// while the kernel still charges it, and reserved otherwise (Linux uncharges pages made
/// inaccessible before they were ever written, so those report `Reserved`).
///
/// Cost: on Linux a read of `/proc/self/smaps` (microseconds to milliseconds, growing with
/// the number of mappings in the process); on Windows one `VirtualQuery` per run.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or an overflowing range; `Unsupported` on
/// systems without a way to ask.
///
/// ```
/// use vmem::{PageState, Protection};
/// let page = vmem::page_size();
/// let r = vmem::Reservation::new(3 * page).unwrap();
/// r.commit(page, page).unwrap();
/// r.protect(page, page, Protection::Read).unwrap();
/// let runs = vmem::query(r.as_ptr(), r.len()).unwrap();
/// let states: Vec<_> = runs.iter().map(|run| (run.state, run.protection, run.size)).collect();
/// assert_eq!(states, [
///     (PageState::Reserved, Protection::NoAccess, page),
///     (PageState::Committed, Protection::Read, page),
///     (PageState::Reserved, Protection::NoAccess, page),
/// ]);
/// ```
pub fn query(ptr: *const u8, size: usize) -> Result<Vec<RegionInfo>> {
    let (start, len) = page_range("query", ptr.cast_mut(), size)?;
    let mut runs = Vec::new();
    os::query(start, len, &mut runs)?;
    Ok(runs)
}

/// Appends `[from, to)` to `out`, merging it into the last run when that one matches: how
/// every backend's `query` builds its answer (so that adjacent pages with the same state and
/// protection form one run, whatever the OS reports them as). An empty range adds nothing.
///
/// # Errors
/// `OutOfMemory` when there is no heap memory for the result.
#[cfg_attr(
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        windows
    )),
    allow(dead_code)
)]
#[cfg_attr(vmem_check_bsd, allow(dead_code))] // the BSDs without a query (and their check here)
pub(crate) fn push_run(
    out: &mut Vec<RegionInfo>,
    from: usize,
    to: usize,
    state: PageState,
    protection: Protection,
) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    if let Some(last) = out.last_mut() {
        if last.state == state && last.protection == protection && last.end() == from {
            last.size += to - from;
            return Ok(());
        }
    }
    out.try_reserve(1).map_err(|_| Error::new(ErrorKind::OutOfMemory, "query", "no heap memory for the result"))?;
    out.push(RegionInfo { start: from, size: to - from, state, protection });
    Ok(())
}
