//! Argument checks shared by the raw operations.

use crate::page::page_span;
use crate::{Error, ErrorKind, Result};

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
