//! Heap memory the library keeps after the values that used it are gone, counted by a
//! global allocator of this test binary (one test, so nothing else allocates meanwhile
//! except the test harness, which the margins allow for).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use vmem::{Protection, Reservation};

struct Counting;

/// Heap bytes allocated and not freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// `Reservation::into_raw` gives up the reservation, not the heap of its page record: it
/// used to `forget` the whole value, leaking the record's runs (96 bytes and more per
/// reservation that was ever committed), so every `vmem_release` of the C library, which
/// gives its `Reservation` up with `into_raw` before releasing it, leaked.
#[test]
fn into_raw_keeps_no_heap() {
    let page = vmem::page_size();
    let round = || {
        let r = Reservation::new(16 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        r.protect(page, page, Protection::Read).unwrap();
        r.commit(8 * page, page).unwrap();
        let (base, len) = r.into_raw();
        // SAFETY: the whole reservation, given up just now, released once.
        let r = unsafe { Reservation::from_raw(base, len) };
        r.commit(0, page).unwrap();
        let (base, len) = r.into_raw();
        // SAFETY: as above.
        unsafe { vmem::release(base.as_ptr(), len).unwrap() };
    };
    round(); // anything the first call sets up once (page size, caches) is not a leak
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..1000 {
        round();
    }
    let grown = LIVE.load(Ordering::Relaxed) - before;
    assert!(grown < 4096, "1,000 reservations given up with into_raw left {grown} heap bytes behind");
}
