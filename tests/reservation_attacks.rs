//! An outside review's attacks on `Reservation`'s page record: calls that fail half-way,
//! every `&self` method racing every other, sizes and ranges at the limits, and raw-part
//! round trips. Anything that could crash runs in a child process.
#![cfg(unix)]
mod common;

use vmem::{ErrorKind, Protection, Reservation};

/// A `protect` that fails after the OS changed part of the range (Linux `mprotect` works
/// mapping by mapping and stops at the first that cannot be split, here for lack of map
/// slots) must not leave the record vouching for the old protection: the reservation then
/// said the read-only pages were writable (`is_writable`), and `prefault` trusted it (on
/// kernels before 5.14, whose prefault touches the pages, a SIGSEGV).
#[cfg(target_os = "linux")]
#[test]
fn a_protect_that_fails_half_way_leaves_no_false_record() {
    if common::skipped_under_a_sanitizer() {
        return;
    }
    common::in_child("a_protect_that_fails_half_way_leaves_no_false_record", || {
        let page = vmem::page_size();
        // Two mappings: pages 0-1 read-write, pages 2-3 committed with no access.
        let r = Reservation::new(4 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        r.protect(2 * page, 2 * page, Protection::NoAccess).unwrap();
        // Written, so the first mapping stays charged when made read-only and cannot merge
        // with the part of the second that becomes read-only too (never written: uncharged).
        r.prefault(0, 2 * page).unwrap();
        let slots = common::MapSlotsUsedUp::new();
        // Pages 0-2 read-only: the first mapping changes whole, the second must be split
        // at page 3, which needs a slot there is not.
        let result = r.protect(0, 3 * page, Protection::Read);
        let changed = !common::os_writable(r.as_ptr());
        println!("protect: {result:?}; page 0 writable: {}", !changed);
        if result.is_err() && changed {
            assert!(!r.is_writable(0, page), "the record still says read-write for a page the OS made read-only");
            let err = r.prefault(0, page).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
        drop(slots);
        // With slots again, the record and the OS agree after any call.
        r.protect(0, 3 * page, Protection::Read).unwrap();
        assert!(!r.is_writable(0, page));
        r.protect(0, 4 * page, Protection::ReadWrite).unwrap();
        assert!(r.is_writable(0, 4 * page));
        r.prefault(0, 4 * page).unwrap();
    })
    .assert_success();
}

/// Linux `prefault` asks `MADV_POPULATE_WRITE`, whose `EINVAL` means both "no such advice"
/// (before Linux 5.14: then the pages are touched instead) and "these pages are not
/// writable". The first `EINVAL` is told apart with a probe mapping; when that mapping could
/// not be made (no map slots, `RLIMIT_AS`), the probe said "not supported" and the pages were
/// touched: a SIGSEGV on read-only pages, where an error was due. (Here through the raw
/// function, against its contract on purpose; `Reservation::prefault` reached the same path
/// when its record was wrong, as after the half-way `protect` above.)
#[cfg(target_os = "linux")]
#[test]
fn prefault_never_touches_pages_when_the_probe_cannot_map() {
    if common::skipped_under_a_sanitizer() {
        return;
    }
    let outcome = common::in_child("prefault_never_touches_pages_when_the_probe_cannot_map", || {
        let page = vmem::page_size();
        let r = Reservation::new(4 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        r.prefault(0, 4 * page).unwrap(); // succeeds: no EINVAL yet, so no probe yet
        r.protect(0, 4 * page, Protection::Read).unwrap();
        let slots = common::MapSlotsUsedUp::new();
        // SAFETY: deliberately breaks the contract (the pages are read-only) to see the
        // backend refuse rather than touch them.
        let result = unsafe { vmem::prefault(r.as_ptr(), 4 * page) };
        drop(slots);
        assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidArgument);
    });
    assert_eq!(outcome.signal, None, "prefault touched read-only pages: {outcome:#?}");
    outcome.assert_success();
}

/// Every `&self` method of one reservation racing every other, on overlapping ranges that
/// reach its last page, from four threads: nothing faults, every error is one the contract
/// names, and afterwards the record agrees with the OS on every page.
#[cfg(target_os = "linux")]
#[test]
fn every_method_races_every_other() {
    common::in_child("every_method_races_every_other", || {
        use std::sync::atomic::Ordering;
        const PAGES: usize = 16;
        let page = vmem::page_size();
        let r = Reservation::new(PAGES * page).unwrap();
        common::race_for(4, std::time::Duration::from_millis(1500), |t, stop| {
            let mut rng = common::Xorshift::new(0x9e37_79b9_7f4a_7c15u64 ^ t);
            while !stop.load(Ordering::Relaxed) {
                let (offset, len) = rng.byte_range(PAGES, page);
                let protection = Protection::ALL[rng.below(Protection::ALL.len())];
                let result = match rng.below(12) {
                    0 => r.commit(offset, len),
                    1 => r.decommit(offset, len),
                    2 => r.protect(offset, len, protection),
                    3 => r.prefault(offset, len),
                    4 => r.lock(offset, len).and_then(|()| r.unlock(offset, len)),
                    5 => r.unlock(offset, len),
                    6 => r.guard(offset, len),
                    7 => r.query_range(offset, len).map(drop),
                    8 => r.advise_huge_pages(offset, len).or(Ok(())),
                    9 => {
                        let _ = (r.is_committed(offset, len), r.is_writable(offset, len));
                        Ok(())
                    }
                    10 => r.query().map(drop),
                    _ => {
                        // Writes go only where this thread just made sure of access:
                        // under the race they may be decommitted meanwhile, so none.
                        r.prefault(offset, 1)
                    }
                };
                if let Err(e) = result {
                    common::assert_race_error(&e);
                }
            }
        });
        // The record and the OS agree on every page: writable by the record means writable.
        for p in 0..PAGES {
            let ptr = r.as_ptr().wrapping_add(p * page);
            let os = vmem::query(ptr, page).unwrap()[0];
            let os_writable = os.state == vmem::PageState::Committed && os.protection.can_write();
            assert_eq!(r.is_writable(p * page, page), os_writable, "page {p}: {os:?}");
            if os_writable {
                // SAFETY: committed and writable, and no other thread runs.
                unsafe { ptr.write(1) };
            }
        }
    })
    .assert_success();
}

/// Sizes and ranges at the limits: errors, never a panic, an overflow or a system call on
/// memory that is not the reservation's.
#[test]
fn sizes_and_ranges_at_the_limits() {
    let page = vmem::page_size();
    for size in [usize::MAX, usize::MAX - page + 2, isize::MAX as usize + 1] {
        assert!(Reservation::new(size).is_err(), "{size}");
        assert!(Reservation::with_alignment(size, 1 << 21).is_err(), "{size}");
    }
    assert!(Reservation::with_alignment(page, 0).is_err());
    assert!(Reservation::with_alignment(page, 3).is_err());
    assert!(Reservation::with_alignment(page, 1 << (usize::BITS - 1)).is_err());
    let r = Reservation::new(4 * page).unwrap();
    let len = r.len();
    // The last byte, the last page: fine.
    r.commit(len - 1, 1).unwrap();
    r.protect(len - 1, 1, Protection::Read).unwrap();
    r.protect(len - page, page, Protection::ReadWrite).unwrap();
    r.prefault(len - 1, 1).unwrap();
    assert!(r.is_writable(len - 1, 1));
    assert_eq!(r.query_range(len - 1, 1).unwrap().len(), 1);
    r.decommit(len - 1, 1).unwrap();
    assert!(!r.is_committed(len - page, page));
    // One past it, and ranges whose end overflows.
    for (offset, n) in
        [(len, 1), (len - 1, 2), (0, len + 1), (usize::MAX, 1), (1, usize::MAX), (usize::MAX, usize::MAX)]
    {
        assert_eq!(r.commit(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds, "{offset} {n}");
        assert_eq!(r.decommit(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.protect(offset, n, Protection::Read).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.prefault(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.lock(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.unlock(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.guard(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.advise_huge_pages(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert_eq!(r.query_range(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds);
        assert!(!r.is_committed(offset, n) && !r.is_writable(offset, n));
    }
    // Zero lengths, anywhere.
    for offset in [0, len, usize::MAX] {
        assert_eq!(r.commit(offset, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(r.prefault(offset, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert!(!r.is_committed(offset, 0));
    }
    assert!(!r.contains(r.as_ptr() as usize + len) && !r.contains(usize::MAX) && r.contains(r.as_ptr() as usize));
}

/// A reservation given up with `into_raw`, changed with the raw functions and taken back
/// with `from_raw` answers from the OS (its new record knows nothing), both ways, and a
/// round trip in a loop keeps nothing and changes nothing.
#[test]
fn raw_round_trips_answer_from_the_os() {
    let page = vmem::page_size();
    let r = Reservation::new(8 * page).unwrap();
    r.commit(0, 4 * page).unwrap();
    r.protect(0, page, Protection::Read).unwrap();
    let (base, len) = r.into_raw();
    // SAFETY: inside the reservation given up above, which nothing else uses.
    unsafe {
        vmem::decommit(base.as_ptr().add(2 * page), page).unwrap();
        vmem::commit(base.as_ptr().add(6 * page), page).unwrap();
    }
    // SAFETY: the whole reservation, taken back once.
    let r = unsafe { Reservation::from_raw(base, len) };
    assert!(!r.is_writable(0, page), "read-only by the OS");
    assert!(r.is_writable(page, page));
    assert!(!r.is_committed(2 * page, page), "decommitted behind the record's back");
    assert!(r.prefault(2 * page, page).is_err());
    assert!(r.is_writable(6 * page, page), "committed behind its back");
    r.prefault(6 * page, page).unwrap();
    let mut r = r;
    for _ in 0..100 {
        let (base, len) = r.into_raw();
        // SAFETY: as above.
        r = unsafe { Reservation::from_raw(base, len) };
    }
    assert!(r.is_writable(page, page) && r.is_writable(6 * page, page) && !r.is_writable(0, page));
}
