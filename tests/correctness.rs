//! Regressions from a review of the landed code: each test failed (or crashed) before its
//! fix. Anything that could crash runs in a child process.
#![cfg(unix)]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vmem::{ErrorKind, PageState, Protection, Reservation};

/// Runs `a` and `b` on two threads, each in a loop, for `duration`.
fn race(duration: Duration, a: impl Fn() + Sync, b: impl Fn() + Sync) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                a();
            }
        });
        let b = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                b();
            }
        });
        let end = Instant::now() + duration;
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        common::join_all([a, b]);
    });
}

/// `Reservation` is `Sync`: a prefault on one thread while another decommits and commits
/// the same pages must never touch pages that are no longer writable (it segfaulted within
/// a second before the record's lock).
#[test]
fn prefault_racing_decommit_never_faults() {
    common::in_child("prefault_racing_decommit_never_faults", || {
        let page = vmem::page_size();
        let r = Reservation::new(64 * page).unwrap();
        r.commit(0, 64 * page).unwrap();
        race(
            Duration::from_millis(1500),
            || {
                // Either it faults the pages in, or it refuses: never a crash.
                match r.prefault(0, 64 * page) {
                    Ok(()) => {}
                    Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}"),
                }
            },
            || {
                r.decommit(0, 64 * page).unwrap();
                r.commit(0, 64 * page).unwrap();
            },
        );
    })
    .assert_success();
}

/// The same with a write-protect racing the prefault.
#[test]
fn prefault_racing_protect_never_faults() {
    common::in_child("prefault_racing_protect_never_faults", || {
        let page = vmem::page_size();
        let r = Reservation::new(64 * page).unwrap();
        r.commit(0, 64 * page).unwrap();
        race(
            Duration::from_millis(1500),
            || match r.prefault(0, 64 * page) {
                Ok(()) => {}
                Err(e) => assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}"),
            },
            || {
                r.protect(0, 64 * page, Protection::Read).unwrap();
                r.commit(0, 64 * page).unwrap();
            },
        );
    })
    .assert_success();
}

/// `prefault` refuses pages that are reserved or read-only, and says which.
#[test]
fn prefault_refuses_pages_that_are_not_writable() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    r.commit(0, 2 * page).unwrap();
    let err = r.prefault(0, 4 * page).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.address(), Some(r.as_ptr() as usize + 2 * page), "{err}");
    r.protect(page, page, Protection::Read).unwrap();
    let err = r.prefault(0, 2 * page).unwrap_err();
    assert!(err.to_string().contains("not writable"), "{err}");
    r.prefault(0, page).unwrap();
}

/// Protecting reserved pages used to succeed on Unix and make them usable without a
/// commit (and `query` then called them committed). Now it is refused, with nothing changed.
#[test]
fn protect_refuses_reserved_pages() {
    let page = vmem::page_size();
    let r = Reservation::new(3 * page).unwrap();
    r.commit(0, page).unwrap();
    for protection in Protection::ALL {
        let err = r.protect(0, 3 * page, protection).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{protection}: {err}");
        assert!(err.to_string().contains("not committed"), "{err}");
        // SAFETY: our reservation; the call must refuse and change nothing.
        let err = unsafe { vmem::protect(r.as_ptr().wrapping_add(page), page, protection) }.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{protection}: {err}");
    }
    // Only the first page is committed (the original C library's own test says the same).
    let runs = r.query().unwrap();
    assert_eq!(runs[0].state, PageState::Committed);
    assert_eq!((runs[0].size, runs[0].protection), (page, Protection::ReadWrite));
    assert_eq!(runs[1].state, PageState::Reserved);
    assert_eq!(runs[1].size, 2 * page);
    // Committed pages still take any protection, and keep being committed through it.
    r.protect(0, page, Protection::NoAccess).unwrap();
    r.protect(0, page, Protection::Read).unwrap();
    assert!(r.is_committed(0, page));
    assert!(!r.is_committed(0, 2 * page));
}

/// A committed page made inaccessible before it was written is uncharged by Linux and looks
/// reserved to the OS; the reservation's record still knows it is committed, so it can be
/// made accessible again (the guard-page toggle).
#[test]
fn reservation_protect_round_trips_through_no_access() {
    let page = vmem::page_size();
    let r = Reservation::new(2 * page).unwrap();
    r.commit(0, 2 * page).unwrap();
    r.protect(0, 2 * page, Protection::NoAccess).unwrap();
    r.protect(0, 2 * page, Protection::ReadWrite).unwrap();
    r.prefault(0, 2 * page).unwrap();
    // SAFETY: committed and read-write again.
    unsafe { r.as_ptr().write(7) };
}

/// `lock` refuses reserved and inaccessible pages through both APIs.
#[test]
fn lock_refuses_pages_that_are_not_committed_and_accessible() {
    let page = vmem::page_size();
    let r = Reservation::new(2 * page).unwrap();
    assert_eq!(r.lock(0, page).unwrap_err().kind(), ErrorKind::InvalidArgument);
    r.commit(0, page).unwrap();
    assert_eq!(r.lock(0, 2 * page).unwrap_err().kind(), ErrorKind::InvalidArgument);
    r.protect(0, page, Protection::NoAccess).unwrap();
    let err = r.lock(0, page).unwrap_err();
    assert!(err.to_string().contains("no access"), "{err}");
    // SAFETY: our reservation; the call must refuse.
    let err = unsafe { vmem::lock(r.as_ptr().wrapping_add(page), page) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

/// Pages committed with the raw functions are not in the reservation's record: the
/// reservation asks the OS before it refuses.
#[test]
fn reservation_accepts_pages_committed_behind_its_back() {
    let page = vmem::page_size();
    let r = Reservation::new(2 * page).unwrap();
    // SAFETY: inside our reservation.
    unsafe { vmem::commit(r.as_ptr(), page).unwrap() };
    r.protect(0, page, Protection::Read).unwrap();
    r.commit(0, page).unwrap();
    r.prefault(0, page).unwrap();
    assert!(r.is_writable(0, page));
    assert!(!r.is_writable(0, 2 * page));
}

/// A reservation given up with `into_raw` and taken back with `from_raw` keeps working.
#[test]
fn reservation_round_trips_through_raw_parts() {
    let page = vmem::page_size();
    let r = Reservation::new(2 * page).unwrap();
    r.commit(0, page).unwrap();
    let (base, len) = r.into_raw();
    // SAFETY: the parts of one whole reservation, taken back once.
    let r = unsafe { Reservation::from_raw(base, len) };
    r.protect(0, page, Protection::Read).unwrap();
    assert!(r.protect(page, page, Protection::Read).is_err());
}

/// Reserves a hole of `size` bytes, runs `make_block` (which reserves a block of the same
/// size: the kernel places it right below the hole), then frees the hole, so that the next
/// block of that size lands right above the first. Returns whether it did.
fn block_below_a_hole(size: usize, make_block: impl FnOnce() -> usize) -> Option<usize> {
    let hole = Reservation::new(size).unwrap();
    let hole_start = hole.as_ptr() as usize;
    let block = make_block();
    drop(hole);
    (block + size == hole_start).then_some(hole_start)
}

/// `&Arena`'s `Allocator` took an allocation to be the last one when it ended at the bump
/// position, without checking the block: with block 2 right above block 1, an allocation
/// that filled block 1 to its end matched a fresh block 2's position, and giving it back
/// moved the bump pointer into block 1 (then `allocated_bytes` overflowed and `rewind`
/// refused every checkpoint).
///
/// In a child process with the warm cache off: the layout it needs (a block right below a
/// hole the test made) must not be disturbed by other tests' mappings, and the block must
/// come from the OS, not from the cache.
#[test]
fn arena_allocator_never_rewinds_into_the_previous_block() {
    common::in_child("arena_allocator_never_rewinds_into_the_previous_block", || {
        vmem::cache::set_max_entries(0);
        arena_allocator_rewind_body();
    })
    .assert_success();
}

fn arena_allocator_rewind_body() {
    use allocator_api2::alloc::Allocator;
    use std::alloc::Layout;
    let block = 1 << 20;
    let arena = vmem::Arena::builder().block_size(block).commit_step(block).build().unwrap();
    let mut tries = 0;
    let first = loop {
        // The OS places mappings where it likes; try a few times to get the layout we need.
        let placed = block_below_a_hole(block, || {
            (&arena).allocate(Layout::new::<u64>()).unwrap().cast::<u8>().as_ptr() as usize
        });
        if let Some(_above) = placed {
            break true;
        }
        tries += 1;
        if tries == 20 {
            break false;
        }
    };
    // Linux places a new mapping at the top of the highest gap that fits: the hole. (Not
    // under AddressSanitizer, whose own mappings for the heap it manages land there too.)
    let under_asan = common::under_sanitizer();
    assert!(first || !cfg!(target_os = "linux") || under_asan, "the OS never placed a block right above the hole");
    if !first {
        return;
    }
    // Fill block 1 to its very end.
    let used = arena.allocated_bytes();
    let rest = Layout::from_size_align(block - used, 8).unwrap();
    let filler = (&arena).allocate(rest).unwrap().cast::<u8>();
    assert_eq!(arena.reserved_bytes(), block);
    // The next allocation chains block 2, right above block 1; give it back.
    let next = (&arena).allocate(Layout::new::<u64>()).unwrap().cast::<u8>();
    assert_eq!(next.as_ptr() as usize, filler.as_ptr() as usize + rest.size(), "block 2 is right above block 1");
    // SAFETY: allocated above with this layout, not used again.
    unsafe { (&arena).deallocate(next, Layout::new::<u64>()) };
    // Giving back the filler must not move the bump pointer back into block 1.
    // SAFETY: as above.
    unsafe { (&arena).deallocate(filler, rest) };
    assert_eq!(arena.allocated_bytes(), block, "the filler stays allocated: it is not in the current block");
    let mut arena = arena;
    let mark = arena.checkpoint();
    let p = arena.alloc(5u64) as *mut u64 as usize;
    assert!(p >= filler.as_ptr() as usize + rest.size(), "new memory comes from block 2");
    arena.rewind(mark).unwrap();
}

/// `max_bytes` bounds what is reserved and handed out, with huge pages too: the block used
/// to be capped to the budget and then rounded up to the huge page size (2 MiB for a 1 MiB
/// budget).
#[test]
fn max_bytes_holds_with_huge_pages() {
    for max in [1 << 20, 3 << 20, (2 << 20) + 4096] {
        let arena = vmem::Arena::builder().max_bytes(max).huge_pages(true).build().unwrap();
        let mut total = 0;
        while arena.try_alloc_layout(std::alloc::Layout::from_size_align(4096, 8).unwrap()).is_ok() {
            total += 4096;
            assert!(arena.reserved_bytes() <= max, "reserved {} of {max}", arena.reserved_bytes());
        }
        assert!(total <= max && total >= max / 2, "handed out {total} of {max}");
        assert!(arena.allocated_bytes() <= max);

        let sync = vmem::Arena::builder().max_bytes(max).huge_pages(true).build_sync().unwrap();
        let mut total = 0;
        while sync.try_alloc_layout(std::alloc::Layout::from_size_align(4096, 8).unwrap()).is_ok() {
            total += 4096;
        }
        assert!(sync.reserved_bytes() <= max, "sync: reserved {} of {max}", sync.reserved_bytes());
        assert!(total <= max, "sync: handed out {total} of {max}");
    }
}

/// A contended small allocation in a `SyncArena` asks for a 32 KiB chunk; where the chunk
/// did not fit under `max_bytes`, the error came back although the block had room for the
/// request, and it named the chunk's size.
#[test]
fn sync_arena_small_allocations_use_the_whole_budget() {
    let max = 64 << 10;
    let arena = vmem::Arena::builder().max_bytes(max).commit_step(16 << 10).build_sync().unwrap();
    let mut count = 0usize;
    let err = loop {
        match arena.try_alloc(count as u64) {
            Ok(_) => count += 1,
            Err((_, e)) => break e,
        }
    };
    // Every byte of the budget is used, less at most what the chunks left behind.
    assert!(count * 8 > max - (8 << 10), "only {} of {max} bytes allocated", count * 8);
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(err.size(), Some(8), "the error names the request: {err}");
}
