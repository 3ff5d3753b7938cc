//! Rounding addresses and sizes to alignments.

use crate::{Error, ErrorKind, Result};

fn check_align(operation: &'static str, value: usize, align: usize) -> Result<()> {
    if align.is_power_of_two() {
        Ok(())
    } else if align == 0 {
        Err(Error::new(ErrorKind::InvalidArgument, operation, "alignment is zero").sized(value))
    } else {
        Err(Error::new(ErrorKind::InvalidArgument, operation, "alignment is not a power of two")
            .sized(value)
            .with_limit("alignment", align as u64))
    }
}

/// Rounds `value` up to the next multiple of `align`.
///
/// Fails if `align` is zero or not a power of two, or if the result does not fit in a
/// `usize`.
///
/// ```
/// assert_eq!(vmem::align_up(5000, 4096).unwrap(), 8192);
/// assert_eq!(vmem::align_up(8192, 4096).unwrap(), 8192);
/// assert!(vmem::align_up(usize::MAX, 4096).is_err());
/// assert!(vmem::align_up(1, 3).is_err());
/// ```
pub fn align_up(value: usize, align: usize) -> Result<usize> {
    check_align("align_up", value, align)?;
    match value.checked_add(align - 1) {
        Some(_) => Ok(round_up(value, align)),
        None => Err(Error::new(ErrorKind::InvalidArgument, "align_up", "the rounded value overflows usize")
            .sized(value)
            .with_limit("alignment", align as u64)),
    }
}

/// `value` rounded up to a multiple of `align`, a power of two, for callers that know the
/// result fits in a `usize` (a size up to `isize::MAX` and an alignment up to `isize::MAX`,
/// say): the unchecked form of [`align_up`], for hot paths such as the arena's bump.
#[inline(always)]
pub(crate) const fn round_up(value: usize, align: usize) -> usize {
    (value + (align - 1)) & !(align - 1)
}

/// Rounds `value` down to a multiple of `align`.
///
/// Fails if `align` is zero or not a power of two.
///
/// ```
/// assert_eq!(vmem::align_down(5000, 4096).unwrap(), 4096);
/// assert!(vmem::align_down(5000, 0).is_err());
/// ```
pub fn align_down(value: usize, align: usize) -> Result<usize> {
    check_align("align_down", value, align)?;
    Ok(value & !(align - 1))
}

/// Whether `value` is a multiple of `align`. An `align` that is zero or not a power of two
/// is never satisfied.
///
/// ```
/// assert!(vmem::is_aligned(8192, 4096));
/// assert!(!vmem::is_aligned(100, 64));
/// assert!(!vmem::is_aligned(64, 0));
/// ```
pub fn is_aligned(value: usize, align: usize) -> bool {
    align.is_power_of_two() && value & (align - 1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges() {
        assert_eq!(align_up(0, 1).unwrap(), 0);
        assert_eq!(align_up(usize::MAX, 1).unwrap(), usize::MAX);
        assert_eq!(align_up(usize::MAX - 4095, 4096).unwrap(), usize::MAX - 4095);
        assert!(align_up(usize::MAX - 4094, 4096).is_err());
        assert_eq!(align_down(usize::MAX, 1 << (usize::BITS - 1)).unwrap(), 1 << (usize::BITS - 1));
        assert_eq!(align_up(1, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert!(is_aligned(0, 1));
        assert_eq!((round_up(0, 8), round_up(1, 8), round_up(8, 8), round_up(9, 8)), (0, 8, 8, 16));
        assert_eq!(round_up(isize::MAX as usize, 8), isize::MAX as usize + 1);
    }
}
