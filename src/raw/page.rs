//! Page size, allocation granularity and huge page size, each asked of the OS once.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::os;

static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
static GRANULARITY: AtomicUsize = AtomicUsize::new(0);
/// 0: not asked yet; 1: no huge pages; anything else: the size.
static HUGE_PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

fn cached(cell: &AtomicUsize, ask: impl FnOnce() -> usize) -> usize {
    match cell.load(Ordering::Relaxed) {
        0 => {
            let value = ask();
            cell.store(value, Ordering::Relaxed);
            value
        }
        value => value,
    }
}

/// The size of a virtual memory page in bytes: the unit of commit, decommit, protect and
/// lock. Asked of the OS on the first call and cached; never 0; no set-up call needed.
///
/// Do not assume 4096: Apple Silicon and some Android and ARM Linux systems use 16 KiB or
/// 64 KiB pages.
///
/// ```
/// let page = vmem::page_size();
/// assert!(page.is_power_of_two() && page >= 4096);
/// ```
pub fn page_size() -> usize {
    cached(&PAGE_SIZE, os::page_size)
}

/// The alignment of the base address of every reservation, in bytes: 64 KiB on Windows,
/// the page size elsewhere. Cached after the first call; never 0.
///
/// ```
/// assert!(vmem::allocation_granularity() >= vmem::page_size());
/// assert!(vmem::allocation_granularity().is_power_of_two());
/// ```
pub fn allocation_granularity() -> usize {
    cached(&GRANULARITY, os::allocation_granularity)
}

/// The size of a (transparent or large) huge page in bytes, if the system has them: 2 MiB
/// on most x86-64 Linux systems. `None` where the OS offers none.
///
/// ```
/// if let Some(huge) = vmem::huge_page_size() {
///     assert!(huge > vmem::page_size());
/// }
/// ```
pub fn huge_page_size() -> Option<usize> {
    match cached(&HUGE_PAGE_SIZE, || os::huge_page_size().unwrap_or(1)) {
        1 => None,
        size => Some(size),
    }
}

/// `bytes` rounded up to whole pages. The caller knows the result fits in a `usize` (it is
/// inside a reservation, or below `isize::MAX`).
pub(crate) fn page_round_up(bytes: usize) -> usize {
    bytes.div_ceil(page_size()) * page_size()
}

/// `[address, address + size)` widened to whole pages: `(start, length)`. `None` when the
/// end overflows.
pub(crate) fn page_span(address: usize, size: usize) -> Option<(usize, usize)> {
    let page = page_size();
    let end = address.checked_add(size)?.checked_add(page - 1)? & !(page - 1);
    let start = address & !(page - 1);
    Some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_covers_touched_pages() {
        let page = page_size();
        assert_eq!(page_span(page + 1, 1), Some((page, page)));
        assert_eq!(page_span(page - 1, 2), Some((0, 2 * page)));
        assert_eq!(page_span(usize::MAX - 10, 5), None);
    }

    #[test]
    fn cached_values_are_stable() {
        assert_eq!(page_size(), page_size());
        assert_eq!(huge_page_size(), huge_page_size());
        assert_eq!(allocation_granularity() % page_size(), 0);
    }
}
