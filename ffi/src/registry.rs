//! The live reservations this library made, so that a pointer that is not ours is an error
//! and never a system call on someone else's memory.
//!
//! Every reservation from `vmem_reserve`/`vmem_alloc*` is recorded as `(base, length)` with
//! the length rounded to pages, in a vector sorted by base (a vector, not a map, so that
//! running out of heap is an error instead of an abort). Range operations hold the read
//! lock while they make their system call, and release holds the write lock, so a range
//! cannot be released while another thread commits or protects it.

use std::sync::{PoisonError, RwLock};

use vmem_core::{ErrorKind, Reservation};

use crate::message::{Failure, Outcome};

/// `(base, length)` of every live reservation, sorted by base, never overlapping.
static LIVE: RwLock<Vec<(usize, usize)>> = RwLock::new(Vec::new());

/// Reserves `size` bytes and records the reservation. Returns its base.
pub(crate) fn reserve(function: &'static str, size: usize) -> Outcome<*mut u8> {
    let (base, len) = Reservation::new(size)?.into_raw();
    let base = base.as_ptr();
    let mut live = LIVE.write().unwrap_or_else(PoisonError::into_inner);
    let start = base as usize;
    if !record(&mut live, start, len) {
        // SAFETY: `base`/`len` is the whole reservation made above, not yet handed out.
        let _ = unsafe { vmem_core::release(base, len) };
        return Err(
            Failure::new(ErrorKind::OutOfMemory, function, "no heap memory to record the reservation").at(start, size)
        );
    }
    Ok(base)
}

/// Records the new reservation `[start, start + len)`; `false` when there is no heap memory
/// for it.
fn record(live: &mut Vec<(usize, usize)>, start: usize, len: usize) -> bool {
    let end = start.saturating_add(len);
    // Entries are sorted and disjoint, so their ends are sorted too: the ones overlapping
    // the new range are the contiguous run `first..last`. The OS just gave us this range, so
    // they were released behind our back (`munmap` called directly): forget them.
    let first = live.partition_point(|&(b, l)| b.saturating_add(l) <= start);
    let last = live.partition_point(|&(b, _)| b < end).max(first);
    live.drain(first..last);
    if live.try_reserve(1).is_err() {
        return false;
    }
    live.insert(first, (start, len));
    true
}

/// Releases the live reservation whose base is `ptr` and whose length, rounded to pages, is
/// `size`'s.
///
/// # Safety
/// Nothing may use the reservation's memory afterwards.
pub(crate) unsafe fn release(function: &'static str, ptr: *mut u8, size: usize) -> Outcome<()> {
    let address = ptr as usize;
    check_pointer_and_size(function, ptr, size)?;
    let mut live = LIVE.write().unwrap_or_else(PoisonError::into_inner);
    let index = live.binary_search_by_key(&address, |&(b, _)| b).map_err(|_| {
        let detail = if find(&live, address).is_some() {
            "the pointer is inside a live reservation but not its base"
        } else {
            "the pointer is not a live reservation made by vmem_reserve or vmem_alloc (never reserved, or released already)"
        };
        Failure::invalid(function, detail).at(address, size)
    })?;
    let len = live.get(index).map_or(0, |&(_, l)| l);
    if vmem_core::align_up(size, vmem_core::page_size()).ok() != Some(len) {
        return Err(Failure::invalid(function, "the size is not the size the reservation was made with")
            .at(address, size)
            .with("reservation length", len as u64));
    }
    // SAFETY: `ptr`/`len` is exactly one live reservation made by `reserve` above; the write
    // lock keeps every other call of this library off it, and the caller promises nothing
    // uses it afterwards.
    unsafe { vmem_core::release(ptr, len)? };
    live.remove(index);
    Ok(())
}

/// Runs `operation` on `[ptr, ptr + size)` after checking that the range lies inside one
/// live reservation, which stays live until `operation` returns.
pub(crate) fn with_range<T>(
    function: &'static str,
    ptr: *mut u8,
    size: usize,
    operation: impl FnOnce() -> Outcome<T>,
) -> Outcome<T> {
    check_pointer_and_size(function, ptr, size)?;
    let live = LIVE.read().unwrap_or_else(PoisonError::into_inner);
    check_inside(function, &live, ptr as usize, size)?;
    operation()
}

/// Whether `[ptr, ptr + size)` lies inside one live reservation.
pub(crate) fn contains(ptr: *const u8, size: usize) -> bool {
    let live = LIVE.read().unwrap_or_else(PoisonError::into_inner);
    !ptr.is_null() && size != 0 && check_inside("", &live, ptr as usize, size).is_ok()
}

fn check_pointer_and_size(function: &'static str, ptr: *mut u8, size: usize) -> Outcome<()> {
    if ptr.is_null() {
        return Err(Failure::invalid(function, "the pointer is null").at(0, size));
    }
    if size == 0 {
        return Err(Failure::invalid(function, "the size is zero").at(ptr as usize, 0));
    }
    Ok(())
}

fn check_inside(function: &'static str, live: &[(usize, usize)], address: usize, size: usize) -> Outcome<()> {
    let Some((base, len)) = find(live, address) else {
        return Err(Failure::invalid(
            function,
            "the range is not inside a live reservation made by vmem_reserve or vmem_alloc",
        )
        .at(address, size));
    };
    // `address` is inside, so `address - base < len` and `base + len` does not overflow.
    let room = base.wrapping_add(len).wrapping_sub(address);
    if size > room {
        return Err(Failure::new(ErrorKind::OutOfBounds, function, "the range runs past the end of its reservation")
            .at(address, size)
            .with("reservation length", len as u64));
    }
    Ok(())
}

/// The live reservation holding `address`.
fn find(live: &[(usize, usize)], address: usize) -> Option<(usize, usize)> {
    let after = live.partition_point(|&(b, _)| b <= address);
    let &(base, len) = live.get(after.checked_sub(1)?)?;
    (address.wrapping_sub(base) < len).then_some((base, len))
}

#[cfg(test)]
fn overlaps((a, a_len): (usize, usize), (b, b_len): (usize, usize)) -> bool {
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_and_bounds() {
        let live = [(0x1000, 0x2000), (0x10000, 0x1000)];
        assert_eq!(find(&live, 0xfff), None);
        assert_eq!(find(&live, 0x1000), Some((0x1000, 0x2000)));
        assert_eq!(find(&live, 0x2fff), Some((0x1000, 0x2000)));
        assert_eq!(find(&live, 0x3000), None);
        assert_eq!(find(&live, 0x10800), Some((0x10000, 0x1000)));
        assert!(check_inside("f", &live, 0x1000, 0x2000).is_ok());
        assert_eq!(check_inside("f", &live, 0x1000, 0x2001).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(check_inside("f", &live, 0x5000, 1).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert!(check_inside("f", &live, usize::MAX, usize::MAX).is_err());
    }

    #[test]
    fn recording_drops_overlapped_entries() {
        let mut live = vec![(0x1000, 0x1000), (0x3000, 0x2000), (0x6000, 0x1000), (0x8000, 0x1000)];
        assert!(record(&mut live, 0x2800, 0x4000));
        assert_eq!(live, [(0x1000, 0x1000), (0x2800, 0x4000), (0x8000, 0x1000)]);
        assert!(record(&mut live, 0x9000, 0x1000));
        assert!(record(&mut live, 0x0, 0x1000));
        assert_eq!(live, [(0x0, 0x1000), (0x1000, 0x1000), (0x2800, 0x4000), (0x8000, 0x1000), (0x9000, 0x1000)]);
    }

    #[test]
    fn reserve_commit_release() {
        let page = vmem_core::page_size();
        let base = reserve("t", 3 * page).unwrap();
        assert!(contains(base, 3 * page));
        assert!(!contains(base, 3 * page + 1));
        assert!(contains(base.wrapping_add(page), page));
        with_range("t", base, 3 * page, || Ok(())).unwrap();
        assert!(with_range("t", base.wrapping_add(page), 3 * page, || Ok(())).is_err());
        // SAFETY: nothing uses the reservations below after release.
        unsafe {
            assert!(release("t", base.wrapping_add(page), 2 * page).is_err());
            assert!(release("t", base, 2 * page).is_err());
            release("t", base, 3 * page - 1).unwrap();
            assert!(release("t", base, 3 * page).is_err());
        }
        assert!(!contains(base, 1));
    }

    #[test]
    fn stale_entries_are_dropped() {
        let page = vmem_core::page_size();
        let base = reserve("t", page).unwrap();
        // Released behind the registry's back, as a C program calling munmap would.
        // SAFETY: the reservation is ours and unused.
        unsafe { vmem_core::release(base, page).unwrap() };
        let again = reserve("t", page).unwrap();
        let live = LIVE.read().unwrap().clone();
        assert!(live.windows(2).all(|w| !overlaps(w[0], w[1]) && w[0].0 < w[1].0));
        // SAFETY: ours and unused.
        unsafe { release("t", again, page).unwrap() };
    }
}
