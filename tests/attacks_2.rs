//! A second outside review's attacks on code added recently: `Reservation`'s guards and
//! advice, the typed arena helpers, `SyncArena`'s checkpoints and `Allocator`, and the pool.
//! Anything that could crash runs in a child process.
mod common;

#[cfg(target_os = "linux")]
mod half_way {
    use super::common;
    use vmem::{Advice, Protection, Reservation};

    /// Four committed read-write pages and the page size. Two mappings of equal protection
    /// (pages 2-3 split off by `DontDump`): the record has one run, the OS two.
    fn four_pages_in_two_mappings() -> (Reservation, usize) {
        let page = vmem::page_size();
        let r = Reservation::new(4 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        r.advise(2 * page, 2 * page, Advice::DontDump).unwrap();
        (r, page)
    }

    /// Runs `attempt` with the process's map slots used up, where it must fail after making
    /// page 0 read-only; then the record must not vouch for page 0 being writable, `prefault`
    /// must refuse it, and a `protect` of everything makes it all writable again.
    fn fails_half_way_with_an_honest_record(
        r: &Reservation,
        page: usize,
        what: &str,
        attempt: impl FnOnce() -> vmem::Result<()>,
    ) {
        let slots = common::MapSlotsUsedUp::new();
        let result = attempt();
        let changed = !common::os_writable(r.as_ptr());
        drop(slots);
        println!("{what}: {result:?}; page 0 made read-only: {changed}");
        assert!(result.is_err() && changed, "the set-up did not fail half-way");
        assert!(!r.is_writable(0, page), "the record says read-write for a page the OS made read-only");
        assert!(r.prefault(0, page).is_err());
        r.protect(0, 4 * page, Protection::ReadWrite).unwrap();
        assert!(r.is_writable(0, 4 * page) && common::os_writable(r.as_ptr()));
    }

    /// `protect_guard` whose `mprotect` fails after changing part of the range (Linux works
    /// mapping by mapping; the second mapping, split apart from the first by `DontDump`,
    /// cannot be split again without a map slot) must not leave the record vouching for the
    /// old protection. It did: `is_writable` said yes for a page the OS had made read-only,
    /// and `prefault`, trusting the record, touched it on kernels before 5.14 (a SIGSEGV).
    #[test]
    fn a_protect_guard_that_fails_half_way_leaves_no_false_record() {
        if common::skipped_under_a_sanitizer() {
            return;
        }
        common::in_child("half_way::a_protect_guard_that_fails_half_way_leaves_no_false_record", || {
            let (r, page) = four_pages_in_two_mappings();
            fails_half_way_with_an_honest_record(&r, page, "protect_guard", || {
                r.protect_guard(0, 3 * page, Protection::Read).map(drop)
            });
        })
        .assert_success();
    }

    /// The same for a guard's restore: the record kept the guard's read-write for pages the
    /// half-way restore had made read-only again.
    #[test]
    fn a_restore_that_fails_half_way_leaves_no_false_record() {
        if common::skipped_under_a_sanitizer() {
            return;
        }
        common::in_child("half_way::a_restore_that_fails_half_way_leaves_no_false_record", || {
            let (r, page) = four_pages_in_two_mappings();
            // Pages 0-2 read-only (three mappings now: 0-1, 2, 3), then read-write under a guard,
            // which saves one run 0-2 read-only.
            r.protect(0, 3 * page, Protection::Read).unwrap();
            let guard = r.protect_guard(0, 3 * page, Protection::ReadWrite).unwrap();
            assert!(r.is_writable(0, 4 * page) && common::os_writable(r.as_ptr()));
            fails_half_way_with_an_honest_record(&r, page, "restore", || guard.restore());
        })
        .assert_success();
    }
}

/// The guards and advice racing every other `&self` method of one reservation, from four
/// threads, on overlapping ranges that reach its last page: guards held across other calls,
/// dropped, restored or forgotten; `Advice::Free` against decommit and protect. Nothing
/// faults, every error is one the contract names, and afterwards the record agrees with the
/// OS on every page (writable by the record means writable, and the other way round; see
/// [`assert_record_agrees_with_os`] for the one state Linux cannot report).
#[cfg(target_os = "linux")]
#[test]
fn guards_and_advice_race_every_other_method() {
    common::in_child("guards_and_advice_race_every_other_method", || {
        use std::sync::atomic::Ordering;
        use vmem::{Advice, Protection, Reservation};
        const PAGES: usize = 16;
        let page = vmem::page_size();
        let r = Reservation::new(PAGES * page).unwrap();
        let rounds: u64 = common::race_for(4, std::time::Duration::from_millis(1500), |t, stop| {
            let mut rng = common::Xorshift::new(0x2545_f491_4f6c_dd1du64 ^ (t + 1));
            let mut held = Vec::new();
            let mut locked = Vec::new();
            let mut rounds = 0u64;
            // At the end every thread takes a few more guards and lets them all
            // go, so that the last changes are restores racing restores.
            let mut last_guards = 9;
            while !stop.load(Ordering::Relaxed) || !held.is_empty() || !locked.is_empty() {
                rounds += 1;
                let stopping = stop.load(Ordering::Relaxed);
                let (offset, len) = rng.byte_range(PAGES, page);
                let protection = Protection::ALL[rng.below(Protection::ALL.len())];
                let choice = match (stopping, last_guards) {
                    (false, _) => rng.below(14),
                    (true, 0) => 100,
                    (true, n) => {
                        last_guards -= 1;
                        // First everything committed, so that the guards take.
                        if n == 9 {
                            101
                        } else {
                            7
                        }
                    }
                };
                let result = match choice {
                    0 | 1 => r.commit(offset, len),
                    101 => r.commit(0, PAGES * page),
                    2 => r.decommit(offset, len),
                    3 => r.protect(offset, len, protection),
                    4 => r.prefault(offset, len),
                    5 => r.advise(offset, len, Advice::Free),
                    6 => r.advise(offset, len, [Advice::DontDump, Advice::DoDump][rng.below(2)]),
                    7 => r.protect_guard(offset, len, protection).map(|g| held.push(g)),
                    8 => r.lock_guard(offset, len).map(|g| locked.push(g)),
                    9 => match r.protect_guard(offset, len, protection) {
                        Ok(guard) => {
                            std::mem::forget(guard);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    },
                    10 => r.guard(offset, len),
                    11 => {
                        let _ = (r.is_committed(offset, len), r.is_writable(offset, len));
                        Ok(())
                    }
                    _ => {
                        // Let go of a guard (restore or drop) in any order.
                        let result = if !held.is_empty() {
                            let guard = held.swap_remove(rng.below(held.len()));
                            if rng.below(2) == 0 {
                                guard.restore()
                            } else {
                                drop(guard);
                                Ok(())
                            }
                        } else {
                            Ok(())
                        };
                        if !locked.is_empty() {
                            let guard = locked.swap_remove(rng.below(locked.len()));
                            let _ = guard.unlock();
                        }
                        result
                    }
                };
                if let Err(e) = result {
                    common::assert_race_error(&e);
                }
            }
            rounds
        })
        .into_iter()
        .sum();
        println!("{rounds} calls");
        assert_record_agrees_with_os(&r);
    })
    .assert_success();
}

/// Checks every page of `r` (no other thread may use it) against what the OS reports:
/// writable by the record exactly when writable by the OS (the property `prefault` relies
/// on), and committed by the record exactly when committed by the OS, but for the one state
/// Linux cannot report. A committed page made inaccessible in a mapping where no page was
/// ever faulted in is uncharged by the kernel (`mprotect` drops `VM_ACCOUNT`) and is then the
/// same `PROT_NONE` mapping a decommitted page is: `query` says `Reserved`, while the record
/// knows the reservation committed it (README, "Linux does not distinguish ..."). For such a
/// page the record's "committed" is proved the only way it can be: `protect` accepts it and
/// the page is writable afterwards; a page the record has reserved is refused.
#[cfg(target_os = "linux")]
fn assert_record_agrees_with_os(r: &vmem::Reservation) {
    use vmem::{PageState, Protection};
    let page = vmem::page_size();
    for p in 0..r.len() / page {
        let ptr = r.as_ptr().wrapping_add(p * page);
        let os = vmem::query(ptr, page).unwrap()[0];
        let os_writable = os.state == PageState::Committed && os.protection.can_write();
        assert_eq!(r.is_writable(p * page, page), os_writable, "page {p}: {os:?}");
        let committed = r.is_committed(p * page, page);
        if os.state == PageState::Reserved && os.protection == Protection::NoAccess {
            // Committed and uncharged, or reserved: only the record can tell.
            let protect = r.protect(p * page, page, Protection::ReadWrite);
            assert_eq!(protect.is_ok(), committed, "page {p}: {os:?}: {protect:?}");
            if committed {
                assert!(r.is_writable(p * page, page), "page {p}");
                // SAFETY: committed (by the record) and now read-write; no other thread runs.
                unsafe { ptr.write(1) };
            }
        } else {
            assert_eq!(committed, os.state == PageState::Committed, "page {p}: {os:?}");
            if os_writable {
                // SAFETY: committed and writable, and no other thread runs.
                unsafe { ptr.write(1) };
            }
        }
    }
}

/// The state behind the race test's rare failure, made on purpose: a committed page made
/// inaccessible before any page of its mapping was faulted in is uncharged by Linux and
/// reported `Reserved` by `query`, though the reservation committed it and never
/// decommitted it (a strict "committed by the record == committed by the OS" fails here).
/// A page of a mapping that was faulted in keeps its charge and is reported committed.
#[cfg(target_os = "linux")]
#[test]
fn record_knows_committed_pages_the_os_reports_reserved() {
    use vmem::{PageState, Protection, Reservation};
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    // Page 0: its own mapping, faulted in. Page 2: its own mapping, never touched.
    r.commit(0, page).unwrap();
    r.prefault(0, page).unwrap();
    r.commit(2 * page, page).unwrap();
    r.protect(0, page, Protection::NoAccess).unwrap();
    r.protect(2 * page, page, Protection::NoAccess).unwrap();
    let state = |p: usize| vmem::query(r.as_ptr().wrapping_add(p * page), page).unwrap()[0].state;
    assert_eq!(state(0), PageState::Committed, "a faulted-in mapping keeps its charge");
    assert_eq!(state(2), PageState::Reserved, "an untouched inaccessible mapping is uncharged");
    assert!(r.is_committed(0, page) && r.is_committed(2 * page, page));
    assert!(!r.is_committed(page, page) && !r.is_committed(3 * page, page));
    assert!(!r.is_writable(0, 4 * page));
    assert_record_agrees_with_os(&r);
    // The check made page 2 read-write again (the proof that it is committed), and left
    // page 0 inaccessible and the others reserved.
    assert!(r.is_writable(2 * page, page) && !r.is_writable(0, page) && r.is_committed(0, page));
    assert!(!r.is_committed(page, page) && !r.is_committed(3 * page, page));
}

/// `SyncArena` from four threads: `Allocator` vectors that grow in place, shrink and give
/// back, typed helpers with a lying iterator and a panicking `Clone`, while one thread keeps
/// changing the allocation limit (which lowers and raises the current block's end under the
/// others' feet and voids every thread's chunk). Every allocation keeps its own bytes: no two
/// threads are ever handed the same memory.
#[test]
fn sync_arena_allocator_races_the_allocation_limit() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use vmem::{Arena, SyncArena};

    struct Liar(std::ops::Range<u32>);
    impl Iterator for Liar {
        type Item = u32;
        fn next(&mut self) -> Option<u32> {
            self.0.next()
        }
    }
    impl ExactSizeIterator for Liar {
        fn len(&self) -> usize {
            self.0.len() * 2 // claims twice what it has
        }
    }
    #[derive(Debug)]
    struct Bomb(u64);
    impl Clone for Bomb {
        fn clone(&self) -> Bomb {
            assert!(self.0 % 7 != 3, "boom");
            Bomb(self.0)
        }
    }

    let arena = Arena::builder().commit_step(16 << 10).block_size(1 << 20).build_sync().unwrap();
    let stop = AtomicBool::new(false);
    let rounds = if cfg!(debug_assertions) { 150 } else { 1000 };
    let kept: Vec<(usize, usize)> = std::thread::scope(|s| {
        let limiter = s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let limit = match i % 4 {
                    0 => Some(arena.allocated_bytes()),
                    1 => Some(arena.allocated_bytes() + 4096),
                    2 => Some(0),
                    _ => None,
                };
                arena.set_allocation_limit(limit);
                std::thread::yield_now();
            }
            arena.set_allocation_limit(None);
        });
        let workers: Vec<_> = (0..3u8)
            .map(|t| {
                let arena: &SyncArena = &arena;
                s.spawn(move || {
                    let mut kept = Vec::new();
                    for round in 0..rounds {
                        let tag = |i: usize| t.wrapping_mul(67).wrapping_add(i as u8);
                        let mut v: allocator_api2::vec::Vec<u8, &SyncArena> = allocator_api2::vec::Vec::new_in(arena);
                        let n = 1 + (round * 53 + t as usize * 17) % 2500;
                        for i in 0..n {
                            if v.try_reserve(1).is_err() {
                                break; // the limit: fine, not a crash
                            }
                            v.push(tag(i));
                            if i % 89 == 0 {
                                if let Ok(x) = arena.try_alloc([t; 40]) {
                                    kept.push((x.as_ptr() as usize, 40, t));
                                }
                                let _ = arena.try_alloc_slice_fill_iter(Liar(0..(i as u32 % 50)));
                                let bombs = [Bomb(i as u64), Bomb(i as u64 + 1)];
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    arena.try_alloc_slice_clone(&bombs).map(|b| b.len())
                                }));
                            }
                        }
                        assert!(v.iter().enumerate().all(|(i, &b)| b == tag(i)), "thread {t} round {round}");
                        let half = v.len() / 2;
                        v.truncate(half);
                        v.shrink_to_fit();
                        assert!(v.iter().enumerate().all(|(i, &b)| b == tag(i)), "after shrink");
                        if round % 2 == 0 && !v.is_empty() {
                            let p = v.as_ptr() as usize;
                            let len = v.len();
                            std::mem::forget(v);
                            kept.push((p, len, t));
                        }
                    }
                    for &(p, len, t) in &kept {
                        // SAFETY: forgotten vectors and arena values stay allocated until the
                        // arena is dropped.
                        let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
                        let good = if len == 40 && bytes.iter().all(|&b| b == t) {
                            true
                        } else {
                            bytes.iter().enumerate().all(|(i, &b)| b == t.wrapping_mul(67).wrapping_add(i as u8))
                        };
                        assert!(good, "thread {t}: an allocation kept at {p:#x} changed");
                    }
                    kept.into_iter().map(|(p, len, _)| (p, len)).collect::<Vec<_>>()
                })
            })
            .collect();
        // Stop the limiter before a worker's panic is passed on, or the scope never ends.
        let results: Vec<_> = workers.into_iter().map(|w| w.join()).collect();
        stop.store(true, Ordering::Relaxed);
        limiter.join().unwrap();
        results.into_iter().flat_map(|r| r.unwrap()).collect::<Vec<_>>()
    });
    let mut sorted = kept;
    sorted.sort_unstable();
    assert!(sorted.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "kept allocations overlap");
}

/// `reserve_at` over mappings this crate did not make (the stack, the program's code, the
/// heap), in the kernel's half of the address space and at the last page: always an error
/// that names `reserve_at` and the address, never a reservation, and what was mapped there
/// still works. (The kernel's refusal was reported as a `reserve` of no address.)
#[cfg(target_os = "linux")]
#[test]
fn reserve_at_never_takes_foreign_or_forbidden_addresses() {
    let page = vmem::page_size();
    let down = |address: usize| address & !(page - 1);
    let on_stack = [0x77u8; 256];
    let heap = vec![0x66u8; 1 << 20];
    let code = reserve_at_never_takes_foreign_or_forbidden_addresses as *const () as usize;
    for (what, address, size) in [
        ("stack", down(on_stack.as_ptr() as usize), page),
        ("stack, from below", down(on_stack.as_ptr() as usize) - 16 * page, 32 * page),
        ("heap", down(heap.as_ptr() as usize + (1 << 19)), page),
        ("code", down(code), page),
        ("kernel half", 0xffff_8000_0000_0000, page),
        ("last page", usize::MAX & !(page - 1), page),
    ] {
        // ThreadSanitizer's `mmap` interceptor aborts the process on an address outside the
        // memory it shadows, before the kernel can refuse it.
        if cfg!(vmem_tsan) && address >= 0x8000_0000_0000 {
            continue;
        }
        match vmem::reserve_at(address, size) {
            Ok(p) => panic!("{what}: reserved {p:?} over {address:#x}"),
            Err(e) => {
                println!("{what}: {e}");
                assert_eq!(e.operation(), "reserve_at", "{what}: {e}");
                assert_eq!(e.address(), Some(address), "{what}: {e}");
            }
        }
        assert!(vmem::Reservation::new_at(address, size).is_err(), "{what}");
    }
    // Everything is where it was.
    assert!(std::hint::black_box(&on_stack).iter().all(|&b| b == 0x77));
    assert!(heap.iter().all(|&b| b == 0x66));
    std::hint::black_box(reserve_at_never_takes_foreign_or_forbidden_addresses as fn());
}

/// The guards at the very end of a reservation and with offsets that overflow: the last byte
/// works (the guard covers the last page), anything past it is `OutOfBounds`, a zero length
/// `InvalidArgument`, and nothing changes on a refusal.
#[test]
fn guards_at_the_end_and_overflowing_offsets() {
    use vmem::{ErrorKind, Protection, Reservation};
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    let len = r.len();
    r.commit(0, len).unwrap();
    {
        let guard = r.protect_guard(len - 1, 1, Protection::Read).unwrap();
        assert!(!r.is_writable(len - page, page) && r.is_writable(0, len - page));
        drop(guard);
    }
    assert!(r.is_writable(0, len));
    if let Ok(guard) = r.lock_guard(len - 1, 1) {
        assert_eq!((guard.offset(), guard.len()), (len - page, page));
    }
    for (offset, n) in [(len, 1), (len - 1, 2), (usize::MAX, 1), (1, usize::MAX), (usize::MAX, usize::MAX)] {
        let err = r.protect_guard(offset, n, Protection::NoAccess).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfBounds, "{offset} {n}");
        assert_eq!(r.lock_guard(offset, n).unwrap_err().kind(), ErrorKind::OutOfBounds, "{offset} {n}");
        assert_eq!(r.advise(offset, n, vmem::Advice::Free).unwrap_err().kind(), ErrorKind::OutOfBounds);
    }
    for offset in [0, len - 1, len, usize::MAX] {
        assert_eq!(r.protect_guard(offset, 0, Protection::Read).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(r.lock_guard(offset, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
    assert!(r.is_writable(0, len), "a refused guard changed something");
    // A guard whose protection is refused by the record (pages not committed) changes nothing.
    r.decommit(len - page, page).unwrap();
    assert_eq!(r.protect_guard(0, len, Protection::Read).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(r.is_writable(0, len - page));
}
