//! The live reservations this library made, so that a pointer that is not ours is an error
//! and never a system call on someone else's memory.
//!
//! Every reservation from `vmem_reserve`/`vmem_alloc*` is kept here as a
//! [`Reservation`](vmem_core::Reservation), in a vector sorted by base (a vector, not a map,
//! so that running out of heap is an error instead of an abort). Each reservation keeps its
//! own record of which pages are committed and with what protection, so `vmem_protect`
//! and `vmem_lock` refuse pages that are not committed on every OS, and `vmem_arena_push`
//! can check a C arena's claims. Range operations hold the read lock while they make their
//! system call, and release holds the write lock, so a range cannot be released while
//! another thread commits or protects it.
//!
//! Every call that can take write access away from pages (decommit, protect, release) bumps
//! [`GENERATION`] before and after it changes them, so a cache of "these pages are writable"
//! answers (the arena push's, which reads the generation before it asks) knows when to ask
//! again: an answer given before the change was read with an older generation.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock};

use vmem_core::{ErrorKind, Reservation};

use crate::message::{Failure, Outcome};

/// Every live reservation, sorted by base, never overlapping.
static LIVE: RwLock<Vec<Reservation>> = RwLock::new(Vec::new());

/// Bumped before any call that may take write access away from pages of a reservation.
pub(crate) static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Reserves `size` bytes and records the reservation. Returns its base.
pub(crate) fn reserve(function: &'static str, size: usize) -> Outcome<*mut u8> {
    let reservation = Reservation::new(size)?;
    let base = reservation.as_ptr();
    let mut live = LIVE.write().unwrap_or_else(PoisonError::into_inner);
    if let Err(reservation) = record(&mut live, reservation) {
        drop(reservation); // never handed out: releasing it is all there is to do
        return Err(Failure::new(ErrorKind::OutOfMemory, function, "no heap memory to record the reservation")
            .at(base as usize, size));
    }
    Ok(base)
}

/// Records the new `reservation`; gives it back when there is no heap memory for it.
fn record(live: &mut Vec<Reservation>, reservation: Reservation) -> Result<(), Reservation> {
    let start = reservation.as_ptr() as usize;
    let end = start.saturating_add(reservation.len());
    // Entries are sorted and disjoint, so their ends are sorted too: the ones overlapping
    // the new range are the contiguous run `first..last`. The OS just gave us this range, so
    // they were released behind our back (`munmap` called directly): forget them without
    // releasing again, which would unmap the new reservation.
    let first = live.partition_point(|r| end_of(r) <= start);
    let last = live.partition_point(|r| (r.as_ptr() as usize) < end).max(first);
    if first < last {
        GENERATION.fetch_add(1, Ordering::AcqRel);
        for stale in live.drain(first..last) {
            let _ = stale.into_raw();
        }
    }
    if live.try_reserve(1).is_err() {
        return Err(reservation);
    }
    live.insert(first, reservation);
    Ok(())
}

fn end_of(r: &Reservation) -> usize {
    (r.as_ptr() as usize).saturating_add(r.len())
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
    let index = live.binary_search_by_key(&address, |r| r.as_ptr() as usize).map_err(|_| {
        let detail = if find(&live, address).is_some() {
            "the pointer is inside a live reservation but not its base"
        } else {
            "the pointer is not a live reservation made by vmem_reserve or vmem_alloc (never reserved, or released already)"
        };
        Failure::invalid(function, detail).at(address, size)
    })?;
    let len = live.get(index).map_or(0, Reservation::len);
    if vmem_core::align_up(size, vmem_core::page_size()).ok() != Some(len) {
        return Err(Failure::invalid(function, "the size is not the size the reservation was made with")
            .at(address, size)
            .with("reservation length", len as u64));
    }
    GENERATION.fetch_add(1, Ordering::AcqRel);
    let reservation = live.remove(index);
    let (base, len) = reservation.into_raw();
    // SAFETY: `base`/`len` is exactly one live reservation made by `reserve` above, given up
    // just now; the write lock keeps every other call of this library off it, and the caller
    // promises nothing uses it afterwards.
    if let Err(err) = unsafe { vmem_core::release(base.as_ptr(), len) } {
        // Still ours: put it back where it was (the slot is free: no allocation).
        // SAFETY: the parts of the reservation given up above, taken back once.
        live.insert(index, unsafe { Reservation::from_raw(base, len) });
        return Err(err.into());
    }
    Ok(())
}

/// How a range operation may change its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Only adds access (commit read-write, lock, unlock) or changes nothing.
    Widens,
    /// May take write access away (decommit, protect): bumps [`GENERATION`] before and after.
    Narrows,
}

/// Runs `operation` with the live reservation holding `[ptr, ptr + size)` and the range's
/// offset in it, after checking that the whole range lies inside it. The reservation stays
/// live until `operation` returns.
pub(crate) fn with_reservation<T>(
    function: &'static str,
    ptr: *mut u8,
    size: usize,
    change: Change,
    operation: impl FnOnce(&Reservation, usize) -> Outcome<T>,
) -> Outcome<T> {
    check_pointer_and_size(function, ptr, size)?;
    let live = LIVE.read().unwrap_or_else(PoisonError::into_inner);
    let reservation = check_inside(function, &live, ptr as usize, size)?;
    if change == Change::Narrows {
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
    let result = operation(reservation, (ptr as usize).wrapping_sub(reservation.as_ptr() as usize));
    if change == Change::Narrows {
        // Again once the pages are changed. Other range operations hold the read lock too, so
        // a check (an arena push's) can run between the bump above and the change: it reads
        // the bumped generation, then finds the pages still writable. That check reads the
        // generation before it takes the page record's lock, which it holds before our change
        // does, which comes before this bump: so it read a value older than this one, and its
        // answer is void from here on (when this call returns).
        GENERATION.fetch_add(1, Ordering::AcqRel);
    }
    result
}

/// Checks that `[ptr, ptr + size)` lies inside one live reservation.
pub(crate) fn check_range(function: &'static str, ptr: *mut u8, size: usize) -> Outcome<()> {
    with_reservation(function, ptr, size, Change::Widens, |_, _| Ok(()))
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

fn check_inside<'a>(
    function: &'static str,
    live: &'a [Reservation],
    address: usize,
    size: usize,
) -> Outcome<&'a Reservation> {
    let Some(reservation) = find(live, address) else {
        return Err(Failure::invalid(
            function,
            "the range is not inside a live reservation made by vmem_reserve or vmem_alloc",
        )
        .at(address, size));
    };
    // `address` is inside, so `address - base < len` and `base + len` does not overflow.
    let room = end_of(reservation).wrapping_sub(address);
    if size > room {
        return Err(Failure::new(ErrorKind::OutOfBounds, function, "the range runs past the end of its reservation")
            .at(address, size)
            .with("reservation length", reservation.len() as u64));
    }
    Ok(reservation)
}

/// The live reservation holding `address`.
fn find(live: &[Reservation], address: usize) -> Option<&Reservation> {
    let after = live.partition_point(|r| r.as_ptr() as usize <= address);
    let reservation = live.get(after.checked_sub(1)?)?;
    reservation.contains(address).then_some(reservation)
}

/// The live handles of one kind of object C sees only by pointer (a grow arena, a mapped
/// file): each object a heap allocation made by [`create`](Handles::create). A handle is a
/// number, never reused (nor shared with a handle of another kind), and not the object's
/// address: the heap hands a destroyed object's address to the next one, which would make a
/// stale handle live again. A pointer that is not a live handle (never one, or destroyed
/// already, or of another kind) is an error and never a dereference. Calls
/// on a handle hold the read lock, and destroy the write lock, so a handle cannot be destroyed
/// while another call uses it.
pub(crate) struct Handles<T> {
    /// The live handles and their objects, sorted by handle (a vector so that a full heap is
    /// an error). Handles only grow, so a new one goes at the end.
    live: RwLock<Vec<Live<T>>>,
    /// What a null handle is, and what a handle that is not live is not, for messages.
    null: &'static str,
    not_live: &'static str,
}

/// The next handle of any kind: multiples of 16 (never null, aligned like a pointer). One
/// counter for every [`Handles`], so that a handle of one kind is never a live handle of
/// another (a file passed where an arena goes is refused, not taken for the arena with the
/// same number).
static NEXT_HANDLE: AtomicUsize = AtomicUsize::new(16);

/// One live handle and its object.
struct Live<T> {
    handle: usize,
    object: NonNull<T>,
}

// SAFETY: the objects are reached only through the lock, by the one thread at a time that the
// header allows per object, and are `Send`; the records themselves are plain numbers.
unsafe impl<T: Send> Send for Handles<T> {}
// SAFETY: as above; shared access to a record only reads its handle and pointer.
unsafe impl<T: Send> Sync for Handles<T> {}

impl<T> Handles<T> {
    pub(crate) const fn new(null: &'static str, not_live: &'static str) -> Handles<T> {
        Handles { live: RwLock::new(Vec::new()), null, not_live }
    }

    /// Moves `value` to the heap and records it; returns the handle.
    pub(crate) fn create(&self, function: &'static str, value: T) -> Outcome<*mut T> {
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        if live.try_reserve(1).is_err() {
            return Err(Failure::new(ErrorKind::OutOfMemory, function, "no heap memory to record the handle"));
        }
        let layout = core::alloc::Layout::new::<T>();
        if layout.size() == 0 {
            return Err(Failure::invalid(function, "internal: a handle object must have a size"));
        }
        // Taken under this registry's write lock, so its handles are recorded in the order
        // they are made (other registries take numbers in between: gaps, never disorder).
        let Ok(handle) = NEXT_HANDLE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_add(16)) else {
            return Err(Failure::new(ErrorKind::OutOfMemory, function, "every handle number has been used"));
        };
        // SAFETY: the layout is not zero-sized (checked above).
        let Some(object) = NonNull::new(unsafe { std::alloc::alloc(layout) }.cast::<T>()) else {
            return Err(Failure::new(ErrorKind::OutOfMemory, function, "no heap memory for the object"));
        };
        // SAFETY: freshly allocated with `T`'s layout, so valid and aligned.
        unsafe { object.as_ptr().write(value) };
        live.push(Live { handle, object }); // room reserved above: cannot allocate
        Ok(handle as *mut T)
    }

    /// Drops the object behind a live `handle` and forgets the handle.
    ///
    /// # Safety
    /// No other thread may use the object during the call (the header's one-thread-per-object
    /// rule), and nothing may use it, or memory it handed out, afterwards.
    pub(crate) unsafe fn destroy(&self, function: &'static str, handle: *mut T) -> Outcome<()> {
        let mut live = self.live.write().unwrap_or_else(PoisonError::into_inner);
        let (at, object) = self.find(function, &live, handle)?;
        live.remove(at);
        // SAFETY: live until just now, made by `create` with `T`'s layout; no longer recorded,
        // so no other call will reach it.
        unsafe {
            core::ptr::drop_in_place(object.as_ptr());
            std::alloc::dealloc(object.as_ptr().cast(), core::alloc::Layout::new::<T>());
        }
        Ok(())
    }

    /// Runs `body` with the object behind `handle`, after checking that it is live; the read
    /// lock is held meanwhile, so a concurrent destroy of the same handle waits.
    pub(crate) fn with<R>(
        &self,
        function: &'static str,
        handle: *const T,
        body: impl FnOnce(&T) -> Outcome<R>,
    ) -> Outcome<R> {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        let (_, object) = self.find(function, &live, handle)?;
        // SAFETY: `handle` is live: its object was made by `create` from a valid, written `T`
        // and not destroyed since (destroy removes it under the write lock, which we exclude).
        // The header says one thread at a time per object, so no `&mut` to it exists.
        body(unsafe { object.as_ref() })
    }

    /// As [`with`](Handles::with), with a mutable object.
    ///
    /// # Safety
    /// No other thread may use the object during the call (the header's one-thread-per-object
    /// rule), and no pointer the call invalidates may be used afterwards.
    pub(crate) unsafe fn with_mut<R>(
        &self,
        function: &'static str,
        handle: *mut T,
        body: impl FnOnce(&mut T) -> Outcome<R>,
    ) -> Outcome<R> {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        let (_, mut object) = self.find(function, &live, handle)?;
        // SAFETY: live as in `with`; the caller promises exclusive use.
        body(unsafe { object.as_mut() })
    }

    /// Whether `handle` is live.
    pub(crate) fn is_live(&self, handle: *const T) -> bool {
        let live = self.live.read().unwrap_or_else(PoisonError::into_inner);
        self.find("", &live, handle).is_ok()
    }

    /// Where `handle`'s record is in `live` and its object, or why it has none.
    fn find(&self, function: &'static str, live: &[Live<T>], handle: *const T) -> Outcome<(usize, NonNull<T>)> {
        if handle.is_null() {
            return Err(Failure::invalid(function, self.null));
        }
        let at = live.binary_search_by_key(&(handle as usize), |l| l.handle).ok();
        match at.and_then(|at| Some((at, live.get(at)?.object))) {
            Some(found) => Ok(found),
            None => Err(Failure::invalid(function, self.not_live).at_address(handle as usize)),
        }
    }
}

#[cfg(test)]
fn overlaps(a: &Reservation, b: &Reservation) -> bool {
    (a.as_ptr() as usize) < end_of(b) && (b.as_ptr() as usize) < end_of(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reservation record for made-up addresses (never mapped: see `forget`).
    fn fake(base: usize, len: usize) -> Reservation {
        // SAFETY: only ever given up again with `forget`, never released or used.
        unsafe { Reservation::from_raw(NonNull::new(base as *mut u8).unwrap(), len) }
    }

    fn forget(live: Vec<Reservation>) -> Vec<(usize, usize)> {
        live.into_iter().map(|r| r.into_raw()).map(|(b, l)| (b.as_ptr() as usize, l)).collect()
    }

    #[test]
    fn find_and_bounds() {
        let live = vec![fake(0x1000, 0x2000), fake(0x10000, 0x1000)];
        let base = |r: Option<&Reservation>| r.map(|r| r.as_ptr() as usize);
        assert_eq!(base(find(&live, 0xfff)), None);
        assert_eq!(base(find(&live, 0x1000)), Some(0x1000));
        assert_eq!(base(find(&live, 0x2fff)), Some(0x1000));
        assert_eq!(base(find(&live, 0x3000)), None);
        assert_eq!(base(find(&live, 0x10800)), Some(0x10000));
        assert!(check_inside("f", &live, 0x1000, 0x2000).is_ok());
        assert_eq!(check_inside("f", &live, 0x1000, 0x2001).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(check_inside("f", &live, 0x5000, 1).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert!(check_inside("f", &live, usize::MAX, usize::MAX).is_err());
        forget(live);
    }

    #[test]
    fn recording_forgets_overlapped_entries() {
        let mut live = vec![fake(0x1000, 0x1000), fake(0x3000, 0x2000), fake(0x6000, 0x1000), fake(0x8000, 0x1000)];
        let generation = GENERATION.load(Ordering::Acquire);
        assert!(record(&mut live, fake(0x2800, 0x4000)).is_ok());
        assert!(GENERATION.load(Ordering::Acquire) > generation, "forgetting entries invalidates caches");
        assert!(record(&mut live, fake(0x9000, 0x1000)).is_ok());
        assert!(record(&mut live, fake(0x0800, 0x0800)).is_ok());
        assert_eq!(
            forget(live),
            [(0x0800, 0x0800), (0x1000, 0x1000), (0x2800, 0x4000), (0x8000, 0x1000), (0x9000, 0x1000)]
        );
    }

    #[test]
    fn reserve_commit_release() {
        let page = vmem_core::page_size();
        let base = reserve("t", 3 * page).unwrap();
        assert!(contains(base, 3 * page));
        assert!(!contains(base, 3 * page + 1));
        assert!(contains(base.wrapping_add(page), page));
        check_range("t", base, 3 * page).unwrap();
        assert!(check_range("t", base.wrapping_add(page), 3 * page).is_err());
        with_reservation("t", base.wrapping_add(page), page, Change::Widens, |r, offset| {
            assert_eq!((r.as_ptr(), offset), (base, page));
            Ok(())
        })
        .unwrap();
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
    fn stale_entries_are_forgotten_not_released() {
        let page = vmem_core::page_size();
        let base = reserve("t", page).unwrap();
        // Released behind the registry's back, as a C program calling munmap would.
        // SAFETY: the reservation is ours and unused.
        unsafe { vmem_core::release(base, page).unwrap() };
        let again = reserve("t", page).unwrap();
        {
            let live = LIVE.read().unwrap();
            assert!(live.windows(2).all(|w| !overlaps(&w[0], &w[1]) && w[0].as_ptr() < w[1].as_ptr()));
        }
        // Had the stale entry been released rather than forgotten, the new reservation
        // (often at the same address) would be gone: it must still commit.
        with_reservation("t", again, page, Change::Widens, |r, offset| Ok(r.commit(offset, page)?)).unwrap();
        // SAFETY: committed just now.
        unsafe { again.write(1) };
        // SAFETY: ours and unused.
        unsafe { release("t", again, page).unwrap() };
    }
}
