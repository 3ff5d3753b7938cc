//! Advice to the OS: fault pages in now, back them with huge pages, access patterns, free.

use crate::raw::checks::page_range;
use crate::{os, Result};

/// Faults in every page that holds a byte of `[ptr, ptr + size)` now, as writes would, so
/// later first touches cost nothing. Contents do not change.
///
/// Cost: on Linux 5.14+ one `madvise(MADV_POPULATE_WRITE)` (measured faster than touching
/// the pages one by one); elsewhere, or on older kernels, one write per page that keeps its
/// value.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or an overflowing range; `OutOfMemory` when the
/// pages cannot be backed.
///
/// # Safety
/// The range must lie inside reservations you own and be committed and writable.
///
/// ```
/// let r = vmem::Reservation::new(1 << 20).unwrap();
/// r.commit(0, 1 << 20).unwrap();
/// // SAFETY: the range is ours, committed and writable.
/// unsafe { vmem::prefault(r.as_ptr(), 1 << 20).unwrap() };
/// ```
pub unsafe fn prefault(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("prefault", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller promises committed, writable memory.
    unsafe { os::prefault(start, len) }
}

/// Asks the OS to back `[ptr, ptr + size)` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)` on Linux), which cuts TLB misses and page faults for large
/// arrays. Only whole huge pages inside the range benefit: align the range to
/// [`huge_page_size`](crate::huge_page_size) (see [`reserve_aligned`](crate::reserve_aligned)).
///
/// Cost: one system call.
///
/// # Errors
/// `Unsupported` where the OS has no transparent huge pages (Windows and macOS need large
/// pages at reservation time instead).
///
/// # Safety
/// The range must lie inside reservations you own.
///
/// ```
/// let r = vmem::Reservation::new(4 << 20).unwrap();
/// // SAFETY: the range is ours.
/// match unsafe { vmem::advise_huge_pages(r.as_ptr(), r.len()) } {
///     Ok(()) => {}
///     Err(e) => assert_eq!(e.kind(), vmem::ErrorKind::Unsupported),
/// }
/// ```
pub unsafe fn advise_huge_pages(ptr: *mut u8, size: usize) -> Result<()> {
    let (start, len) = page_range("advise_huge_pages", ptr, size)?;
    // SAFETY: checked and page-aligned; the caller owns the range.
    unsafe { os::advise_huge_pages(start, len) }
}

/// Advice about how a range of pages will be used, for [`advise`],
/// [`Reservation::advise`](crate::Reservation::advise) and
/// [`MappedFile::advise`](crate::MappedFile::advise).
///
/// Two kinds. The access-pattern hints ([`Normal`](Advice::Normal),
/// [`Sequential`](Advice::Sequential), [`Random`](Advice::Random),
/// [`WillNeed`](Advice::WillNeed)) never change what the memory holds, and are accepted
/// everywhere: a system without them ignores them. The others have an effect a program relies
/// on (memory handed back, pages kept out of core dumps), so where the system cannot do it they
/// fail with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) rather than pretend.
///
/// The names follow `memmap2::Advice` where the meaning is the same.
///
/// ```
/// assert_ne!(vmem::Advice::Free, vmem::Advice::WillNeed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Advice {
    /// No special pattern (the default). `MADV_NORMAL`.
    Normal,
    /// Read front to back: read ahead aggressively, drop pages behind. `MADV_SEQUENTIAL`.
    Sequential,
    /// Random access: do not read ahead. `MADV_RANDOM`.
    Random,
    /// The pages will be needed soon: start reading them in (file views, swapped-out pages).
    /// `MADV_WILLNEED`; Windows `PrefetchVirtualMemory`.
    WillNeed,
    /// The contents are no longer needed: the OS may take the pages back whenever it likes,
    /// lazily, and keeps them committed and accessible; a later read sees either the old bytes
    /// or zeros, and a write makes the page yours again. Cheaper than
    /// [`decommit`](crate::decommit) when the pages will be reused soon, but it keeps the
    /// commit charge. Only for private memory (not file views). Linux 4.5+, the BSDs and
    /// macOS `MADV_FREE`; Windows `MEM_RESET`.
    Free,
    /// Leave the pages out of core dumps (secrets, huge sparse regions). Linux
    /// `MADV_DONTDUMP`, FreeBSD and DragonFly `MADV_NOCORE`.
    DontDump,
    /// Put the pages back into core dumps (undoes [`DontDump`](Advice::DontDump)). Linux
    /// `MADV_DODUMP`, FreeBSD and DragonFly `MADV_CORE`.
    DoDump,
    /// Back the range with transparent huge pages: see
    /// [`advise_huge_pages`](crate::advise_huge_pages). Linux `MADV_HUGEPAGE`.
    HugePages,
    /// Never back the range with transparent huge pages. Linux `MADV_NOHUGEPAGE`.
    NoHugePages,
}

impl Advice {
    /// A short name, as in error messages: `sequential`, `will-need`, `free`, ...
    ///
    /// ```
    /// assert_eq!(vmem::Advice::DontDump.name(), "dont-dump");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Advice::Normal => "normal",
            Advice::Sequential => "sequential",
            Advice::Random => "random",
            Advice::WillNeed => "will-need",
            Advice::Free => "free",
            Advice::DontDump => "dont-dump",
            Advice::DoDump => "do-dump",
            Advice::HugePages => "huge-pages",
            Advice::NoHugePages => "no-huge-pages",
        }
    }
}

/// Gives the OS `advice` about every page that holds a byte of `[ptr, ptr + size)`.
///
/// Cost: one system call.
///
/// # Errors
/// `InvalidArgument` for null, a zero size or an overflowing range, or pages the advice does
/// not apply to (not mapped; [`Advice::Free`] on pages that are not committed, private and
/// writable); `Unsupported` where the OS cannot do an advice with an effect (each variant says
/// where it exists; see [`Advice`]).
///
/// # Safety
/// The range must lie inside reservations you own. After [`Advice::Free`], the contents of
/// the pages are unspecified (old bytes or zeros) until written: nothing may rely on them.
///
/// ```
/// let r = vmem::Reservation::new(1 << 20).unwrap();
/// r.commit(0, 1 << 20).unwrap();
/// // SAFETY: our committed range; nothing relies on its contents afterwards.
/// unsafe {
///     vmem::advise(r.as_ptr(), 1 << 20, vmem::Advice::WillNeed).unwrap();
///     match vmem::advise(r.as_ptr(), 1 << 20, vmem::Advice::Free) {
///         Ok(()) => {}
///         Err(e) => assert_eq!(e.kind(), vmem::ErrorKind::Unsupported),
///     }
/// }
/// ```
pub unsafe fn advise(ptr: *mut u8, size: usize, advice: Advice) -> Result<()> {
    let (start, len) = page_range("advise", ptr, size)?;
    if advice == Advice::HugePages {
        // SAFETY: checked and page-aligned; the caller owns the range.
        return unsafe { os::advise_huge_pages(start, len) };
    }
    // SAFETY: checked and page-aligned; the caller owns the range and, for `Free`, no longer
    // relies on its contents.
    unsafe { os::advise(start, len, advice) }
}
