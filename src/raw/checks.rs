//! Argument checks shared by the raw operations.

use crate::raw::page::page_span;
use alloc::vec::Vec;

use crate::{os, Error, ErrorKind, PageState, Protection, RegionInfo, Result};

/// The largest size anything may have: Rust pointers cannot span more than `isize::MAX`.
pub(crate) const MAX_SIZE: usize = isize::MAX as usize;

/// Checks `[ptr, ptr + size)` and widens it to whole pages.
pub(crate) fn page_range(operation: &'static str, ptr: *mut u8, size: usize) -> Result<(*mut u8, usize)> {
    let address = ptr as usize;
    if ptr.is_null() {
        return Err(Error::new(ErrorKind::InvalidArgument, operation, "the pointer is null").at(address, size));
    }
    if size == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, operation, "the size is zero").at(address, size));
    }
    match page_span(address, size) {
        Some((start, len)) if len <= MAX_SIZE => Ok((ptr.wrapping_sub(address - start), len)),
        _ => Err(Error::new(ErrorKind::InvalidArgument, operation, "the range runs past the end of the address space")
            .at(address, size)),
    }
}

/// Checks a size for a new reservation and rounds it up to whole pages.
pub(crate) fn reservation_size(operation: &'static str, size: usize) -> Result<usize> {
    if size == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, operation, "the size is zero").sized(size));
    }
    match crate::align_up(size, crate::page_size()) {
        Ok(rounded) if rounded <= MAX_SIZE => Ok(rounded),
        _ => Err(Error::new(ErrorKind::OutOfAddressSpace, operation, "the size is larger than any address space")
            .sized(size)
            .with_limit("isize::MAX", MAX_SIZE as u64)),
    }
}

/// What an operation needs of every page of its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Committed, with any protection (protect).
    Committed,
    /// Committed and accessible (lock).
    Accessible,
    /// Committed and writable (prefault).
    Writable,
}

impl Need {
    pub(crate) fn accepts(self, protection: Protection) -> bool {
        match self {
            Need::Committed => true,
            Need::Accessible => protection != Protection::NoAccess,
            Need::Writable => protection.can_write(),
        }
    }

    /// Why a page in `found` state (`None`: reserved) fails this need.
    pub(crate) fn refusal(self, found: Option<Protection>) -> &'static str {
        match (self, found) {
            (_, None) => "part of the range is reserved but not committed",
            (Need::Accessible, Some(_)) => "part of the range is committed with no access",
            (_, Some(_)) => "part of the range is committed but not writable",
        }
    }
}

/// Refuses `[start, start + len)` (whole pages) unless the OS reports every page of it
/// committed with a protection `need` accepts. Where the OS cannot be asked, accepts.
///
/// Linux has no system call for commit state: this reads `/proc/self/smaps` (see
/// [`query`](crate::query)), so a committed page made inaccessible before it was ever
/// written, which the kernel uncharges, counts as reserved.
pub(crate) fn require_committed(operation: &'static str, start: *mut u8, len: usize, need: Need) -> Result<()> {
    if !os::QUERY_SUPPORTED {
        return Ok(());
    }
    let fails = |run: &RegionInfo| run.state != PageState::Committed || !need.accepts(run.protection);
    // The cheap answer first: it is exact for pages with access, which is all `lock` and
    // `prefault` accept. Only inaccessible pages, where `protect` must know whether they are
    // committed, need the full query.
    let mut runs = Vec::new();
    os::quick_query(start, len, &mut runs)?;
    let mut first = runs.iter().find(|run| fails(run)).copied();
    if first.is_some_and(|run| run.state == PageState::Reserved && need == Need::Committed) {
        runs = crate::query(start, len)?;
        first = runs.iter().find(|run| fails(run)).copied();
    }
    match first {
        None => Ok(()),
        Some(run) => Err(Error::new(
            ErrorKind::InvalidArgument,
            operation,
            match run.state {
                PageState::Free => "part of the range is not mapped at all",
                // From the quick query, inaccessible pages may be committed too.
                PageState::Reserved if need == Need::Committed => need.refusal(None),
                PageState::Reserved => "part of the range is not committed, or has no access",
                PageState::Committed => need.refusal(Some(run.protection)),
            },
        )
        .at(run.start, run.size)),
    }
}
