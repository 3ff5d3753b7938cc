//! Heap exhaustion is an error, not an abort: a global allocator of this test binary refuses
//! every allocation of the calling thread while a test asks it to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use vmem::{ErrorKind, Protection, Reservation};

struct Refusing;

thread_local! {
    /// Whether this thread's allocations fail.
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

fn refusing() -> bool {
    REFUSE.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: forwards to the system allocator, or returns null (which `GlobalAlloc` allows for
// a failed allocation).
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if refusing() {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Refusing = Refusing;

/// Runs `f` with this thread's allocations refused.
fn without_heap<R>(f: impl FnOnce() -> R) -> R {
    REFUSE.with(|r| r.set(true));
    let result = f();
    REFUSE.with(|r| r.set(false));
    result
}

/// `protect_guard` saves the pages' protections on the heap before it changes them: with no
/// heap it returns `OutOfMemory` and nothing changed. (It aborted the process before.)
#[test]
fn protect_guard_without_heap_is_an_error_and_changes_nothing() {
    let page = vmem::page_size();
    let r = Reservation::new(8 * page).unwrap();
    r.commit(0, 8 * page).unwrap();
    // Runs of alternating protection, so that there is something to save.
    for i in (0..8).step_by(2) {
        r.protect(i * page, page, Protection::Read).unwrap();
    }
    let guard = without_heap(|| r.protect_guard(0, 8 * page, Protection::NoAccess).map(drop));
    let err = guard.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
    assert!(err.to_string().contains("heap"), "{err}");
    for i in 0..8 {
        assert_eq!(r.is_writable(i * page, page), i % 2 == 1, "page {i} changed");
    }
    // With the heap back, the guard works and restores.
    drop(r.protect_guard(0, 8 * page, Protection::NoAccess).unwrap());
    assert!(r.is_writable(page, page) && !r.is_writable(0, page));
}

/// The page record makes room before the system call: with no heap, a `commit` or
/// `protect` that needs a new run is `OutOfMemory` and the pages keep their state.
#[test]
fn record_updates_without_heap_are_errors_and_change_nothing() {
    let page = vmem::page_size();
    let r = Reservation::new(64 * page).unwrap();
    r.commit(0, page).unwrap();
    // Pages far apart: each needs a run of its own, so the record must grow at some point.
    let refused = without_heap(|| (0..32).map(|i| r.commit(2 * i * page, page)).find_map(Result::err));
    if let Some(err) = refused {
        assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
        let committed = (0..32).filter(|i| r.is_committed(2 * i * page, page)).count();
        // Everything before the refusal was committed and recorded, the refused one was not.
        assert!(committed < 32);
        assert!(!r.is_committed(2 * committed * page, page), "the refused commit took effect");
    } else {
        panic!("32 separate runs never needed more heap for the record");
    }
}
