//! Arena and SyncArena behaviour: alignment, ZSTs, chaining, limits, reset, scopes and
//! checkpoints, the allocator interface, threads, and failure under RLIMIT_DATA.

use std::alloc::Layout;
use std::collections::HashSet;

use proptest::prelude::*;
use vmem::{Arena, ErrorKind, SyncArena};

#[test]
fn every_alignment_from_1_to_4096_is_honoured() {
    let arena = Arena::new();
    let mut shift = 0;
    while (1usize << shift) <= 4096 {
        let align = 1usize << shift;
        for size in [1, 3, align, align + 1] {
            let p = arena.alloc_layout(Layout::from_size_align(size, align).unwrap());
            assert_eq!(p.as_ptr() as usize % align, 0, "size {size} align {align}");
            // SAFETY: `size` fresh bytes.
            unsafe { p.as_ptr().write_bytes(0xEE, size) };
        }
        shift += 1;
    }
    let sync = SyncArena::new();
    for shift in 0..=12 {
        let align = 1usize << shift;
        let p = sync.alloc_layout(Layout::from_size_align(7, align).unwrap());
        assert_eq!(p.as_ptr() as usize % align, 0);
    }
}

#[test]
fn zero_sized_values_take_no_space() {
    let arena = Arena::new();
    let unit: &mut () = arena.alloc(());
    *unit = ();
    let empty: &mut [u64] = arena.alloc_slice_copy(&[]);
    assert!(empty.is_empty());
    assert_eq!(arena.alloc_slice_fill_with(10, |_| ()).len(), 10);
    assert_eq!(arena.alloc_str(""), "");
    let p = arena.alloc_layout(Layout::from_size_align(0, 256).unwrap());
    assert_eq!(p.as_ptr() as usize % 256, 0);
    assert_eq!(arena.allocated_bytes(), 0);
    assert_eq!(arena.reserved_bytes(), 0, "ZSTs must not even reserve");
}

#[test]
fn a_huge_allocation_chains_a_block_and_nothing_moves() {
    let arena = Arena::builder().block_size(1 << 20).build().unwrap();
    let first = arena.alloc(0xABCDu64) as *const u64;
    let big = arena.alloc_slice_fill_with(3 << 20, |i| i as u8);
    assert_eq!(big.len(), 3 << 20);
    assert_eq!(big[(3 << 20) - 1], ((3 << 20) - 1) as u8);
    assert!(arena.reserved_bytes() >= (1 << 20) + (3 << 20));
    let after = arena.alloc(7u32);
    *after += 1;
    // SAFETY: `first` points into the arena, which has not been reset.
    assert_eq!(unsafe { *first }, 0xABCD);
    assert_eq!(*after, 8);
}

#[test]
fn the_maximum_returns_an_error_and_keeps_earlier_allocations() {
    let arena = Arena::builder().block_size(1 << 20).max_bytes(2 << 20).build().unwrap();
    let kept = arena.alloc_slice_fill_with(1000, |i| i as u32);
    let err = arena.try_alloc_slice_fill_with(4 << 20, |_| 0u8).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(err.to_string().contains("max_bytes"), "{err}");
    let small = Arena::builder().max_bytes(64 << 10).build().unwrap();
    let (value, err) = small.try_alloc([7u8; 128 << 10]).unwrap_err();
    assert!(value.iter().all(|&b| b == 7), "the value comes back");
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(kept.iter().enumerate().all(|(i, &v)| v == i as u32));
    // Up to the maximum still works: the rest of the first block, then a second block.
    arena.alloc_slice_fill_with(512 << 10, |_| 1u8);
    arena.alloc_slice_fill_with(900 << 10, |_| 2u8);
    assert_eq!(arena.reserved_bytes(), 2 << 20);
    assert!(arena.try_alloc_slice_fill_with(200 << 10, |_| 3u8).is_err());
    assert!(kept.iter().enumerate().all(|(i, &v)| v == i as u32));
}

#[test]
fn bad_builder_settings_are_errors() {
    assert_eq!(Arena::builder().block_size(0).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Arena::builder().commit_step(0).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Arena::builder().max_bytes(0).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Arena::builder().block_size(usize::MAX).build().unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(Arena::builder().commit_step(usize::MAX - 1).build_sync().is_err());
    // Absurd requests are errors, not panics.
    let arena = Arena::new();
    assert!(arena.try_alloc_layout(Layout::from_size_align(isize::MAX as usize - 100, 1).unwrap()).is_err());
    assert!(arena.try_alloc_slice_fill_with(usize::MAX / 2, |_| 0u64).is_err());
    assert!(SyncArena::new().try_alloc_layout(Layout::from_size_align(isize::MAX as usize - 100, 1).unwrap()).is_err());
}

#[cfg(target_os = "linux")]
#[test]
fn reset_returns_memory_down_to_the_kept_amount() {
    // In a child process: RSS is process-wide, and sibling tests allocate concurrently.
    common::in_child("reset_returns_memory_down_to_the_kept_amount", reset_returns_memory_body).assert_success();
}

#[cfg(target_os = "linux")]
fn reset_returns_memory_body() {
    let mut arena = Arena::builder().retain_bytes(1 << 20).build().unwrap();
    let rss_before = vmem::resident_bytes().unwrap();
    for _ in 0..3 {
        let block = arena.alloc_slice_fill_with(64 << 20, |i| i as u8);
        assert_eq!(block[12345], 12345u32 as u8);
        assert!(arena.committed_bytes() >= 64 << 20);
        assert!(vmem::resident_bytes().unwrap() >= rss_before + (60 << 20));
        arena.reset();
        assert_eq!(arena.committed_bytes(), 1 << 20);
        assert_eq!(arena.allocated_bytes(), 0);
        let rss = vmem::resident_bytes().unwrap();
        assert!(rss < rss_before + (4 << 20), "RSS after reset {rss} vs {rss_before} before");
    }
    // Chained blocks are given up by reset; with `retain_bytes(0)` the first block returns
    // everything too.
    let mut chained = Arena::builder().block_size(1 << 20).retain_bytes(0).build().unwrap();
    for _ in 0..5 {
        chained.alloc_slice_fill_with(900 << 10, |_| 1u8);
    }
    assert!(chained.reserved_bytes() >= 5 << 20);
    chained.reset();
    assert_eq!(chained.reserved_bytes(), 1 << 20);
    assert_eq!(chained.committed_bytes(), 0);
}

#[test]
fn scopes_and_checkpoints_restore_the_position() {
    let mut arena = Arena::builder().block_size(1 << 20).build().unwrap();
    let keep = arena.alloc(5u64) as *const u64;
    let before = arena.allocated_bytes();
    let sum = arena.scope(|a| a.alloc_slice_fill_with(100, |i| i as u64).iter().sum::<u64>());
    assert_eq!(sum, 4950);
    assert_eq!(arena.allocated_bytes(), before);
    let mark = arena.checkpoint();
    // Chain two more blocks, then rewind across them.
    arena.alloc_slice_fill_with(2 << 20, |_| 0u8);
    arena.alloc_slice_fill_with(2 << 20, |_| 0u8);
    assert!(arena.reserved_bytes() > 1 << 20);
    let late = arena.checkpoint();
    arena.rewind(mark).unwrap();
    assert_eq!(arena.allocated_bytes(), before);
    assert_eq!(arena.reserved_bytes(), 1 << 20);
    // The later checkpoint is stale now; another arena's checkpoint is refused.
    assert_eq!(arena.rewind(late).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(arena.rewind(Arena::new().checkpoint()).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // SAFETY: the allocation before the checkpoint survives.
    assert_eq!(unsafe { *keep }, 5);
    // Memory after a rewind is reused.
    let again = arena.alloc(6u64) as *const u64 as usize;
    assert!(again < keep as usize + 64);
}

#[test]
fn checkpoints_round_trip_through_words_and_forged_ones_are_refused() {
    use vmem::arena::Checkpoint;
    let mut arena = Arena::builder().block_size(1 << 20).build().unwrap();
    arena.alloc(1u64);
    let mark = arena.checkpoint();
    let words = mark.to_words();
    assert_eq!(Checkpoint::from_words(words), mark);
    arena.alloc_slice_fill_with(3 << 20, |_| 0u8); // chains a block
    let later = arena.checkpoint().to_words();
    let allocated = arena.allocated_bytes();
    let edits: [(usize, usize); 5] = [
        (2, words[2] + 1),    // misaligned: later allocations would be too
        (2, usize::MAX),      // outside every block
        (3, words[3] + 1),    // bytes-before that do not match the block
        (1, 7),               // a block that does not exist
        (0, words[0] + 1000), // another arena
    ];
    for (index, value) in edits {
        let mut forged = words;
        forged[index] = value;
        let err = arena.rewind(Checkpoint::from_words(forged)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{forged:?}");
        assert_eq!(arena.allocated_bytes(), allocated, "a refused rewind changes nothing");
    }
    let mut forged = later;
    forged[3] = later[3] + 8; // the current block, with the wrong bytes-before
    assert!(arena.rewind(Checkpoint::from_words(forged)).is_err());
    arena.rewind(Checkpoint::from_words(later)).unwrap();
    arena.rewind(Checkpoint::from_words(words)).unwrap();
    assert_eq!(arena.allocated_bytes(), 8);
    let p = arena.alloc(2u64) as *const u64 as usize;
    assert_eq!(p % 8, 0);
}

#[test]
fn the_allocator_interface_works_with_vec_and_hashbrown() {
    let arena = Arena::new();
    let mut v: allocator_api2::vec::Vec<u32, &Arena> = allocator_api2::vec::Vec::new_in(&arena);
    for i in 0..10_000 {
        v.push(i);
    }
    assert_eq!(v.iter().map(|&x| x as u64).sum::<u64>(), 49_995_000);
    // The vector was the last allocation throughout, so it grew in place: one region.
    assert!(arena.allocated_bytes() < 2 * 10_000 * 4);
    let mut map = hashbrown::HashMap::new_in(&arena);
    for i in 0..1000 {
        map.insert(i, i * 2);
    }
    assert_eq!(map[&999], 1998);
    let mut s = allocator_api2::vec::Vec::with_capacity_in(4, &arena);
    s.extend_from_slice(b"abcdefgh");
    s.shrink_to_fit();
    assert_eq!(&s[..], b"abcdefgh");
}

#[test]
fn growing_the_last_allocation_happens_in_place() {
    let arena = Arena::new();
    let mut v: allocator_api2::vec::Vec<u8, &Arena> = allocator_api2::vec::Vec::with_capacity_in(16, &arena);
    v.extend_from_slice(&[1; 16]);
    let before = v.as_ptr();
    v.reserve(1 << 22); // 4 MiB: past the first commit step
    assert_eq!(v.as_ptr(), before, "grew by moving");
    v.extend(std::iter::repeat_n(2, 1 << 22));
    assert_eq!(v.len(), 16 + (1 << 22));
}

#[test]
fn sync_arena_threads_never_overlap() {
    for threads in [2usize, 8] {
        let mut arena = Arena::builder().commit_step(64 << 10).block_size(1 << 20).build_sync().unwrap();
        let per_thread = 100_000usize;
        // Twice, with a reset between: per-thread chunks of the old state must not be reused.
        for _round in 0..2 {
            let ranges: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let arena = &arena;
                        s.spawn(move || {
                            let mut mine = Vec::with_capacity(per_thread);
                            for i in 0..per_thread {
                                let len = 1 + (i * 7 + t) % 61;
                                let slice = arena.alloc_slice_fill_with(len, |_| (t * 31 + i) as u8);
                                mine.push((slice.as_ptr() as usize, len));
                            }
                            // Check every value after all this thread's allocations.
                            for (i, &(p, len)) in mine.iter().enumerate() {
                                // SAFETY: the slice lives as long as the arena.
                                let slice = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
                                assert!(slice.iter().all(|&b| b == (t * 31 + i) as u8), "thread {t} item {i}");
                            }
                            mine
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut all: Vec<(usize, usize)> = ranges.into_iter().flatten().collect();
            all.sort_unstable();
            assert!(all.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0), "{threads} threads: overlapping allocations");
            assert_eq!(all.len(), threads * per_thread);
            assert!(arena.reserved_bytes() > 1 << 20, "expected chained blocks");
            assert!(arena.allocated_bytes() >= all.iter().map(|r| r.1).sum::<usize>());
            arena.reset();
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(usize, usize),
    Checkpoint,
    Rewind,
    Reset,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn allocations_never_overlap_or_get_corrupted(ops in prop::collection::vec(prop_oneof![
        10 => (0usize..3000, 0u32..13).prop_map(|(size, shift)| Op::Alloc(size, 1 << shift)),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Rewind),
        1 => Just(Op::Reset),
    ], 1..200)) {
        let mut arena = Arena::builder().block_size(64 << 10).commit_step(4096).build().unwrap();
        // Live allocations: (address, size, fill byte), in allocation order.
        let mut live: Vec<(usize, usize, u8)> = Vec::new();
        let mut marks: Vec<(vmem::arena::Checkpoint, usize)> = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Alloc(size, align) => {
                    let p = arena.alloc_layout(Layout::from_size_align(size, align).unwrap()).as_ptr() as usize;
                    prop_assert_eq!(p % align, 0);
                    let fill = n as u8;
                    // SAFETY: `size` fresh bytes.
                    unsafe { std::ptr::write_bytes(p as *mut u8, fill, size) };
                    live.push((p, size, fill));
                }
                Op::Checkpoint => marks.push((arena.checkpoint(), live.len())),
                Op::Rewind => {
                    if let Some((mark, len)) = marks.pop() {
                        arena.rewind(mark).unwrap();
                        live.truncate(len);
                    }
                }
                Op::Reset => {
                    arena.reset();
                    live.clear();
                    marks.clear();
                }
            }
        }
        // Every allocation still alive holds what was written to it: nothing overlapped it.
        for &(p, size, fill) in &live {
            // SAFETY: live allocations stay valid until a rewind or reset drops them.
            let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, size) };
            prop_assert!(bytes.iter().all(|&b| b == fill));
        }
        let mut spans: Vec<(usize, usize)> = live.iter().filter(|a| a.1 > 0).map(|a| (a.0, a.1)).collect();
        spans.sort_unstable();
        prop_assert!(spans.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
        let distinct: HashSet<usize> = spans.iter().map(|s| s.0).collect();
        prop_assert_eq!(distinct.len(), spans.len());
    }
}

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
mod limits {
    use super::*;

    #[test]
    fn rlimit_data_makes_try_alloc_fail_cleanly() {
        let outcome = common::in_child("limits::rlimit_data_makes_try_alloc_fail_cleanly", || {
            common::set_limit(rustix::process::Resource::Data, 96 << 20);
            let arena = Arena::new();
            let early = arena.alloc_slice_fill_with(1 << 20, |i| (i % 251) as u8);
            let mut total = 0usize;
            // 16 bytes short of 4 MiB, so committed memory is left over at the end.
            let chunk = (4 << 20) - 16;
            let err = loop {
                match arena.try_alloc_slice_fill_with(chunk, |_| 0xAAu8) {
                    Ok(_) => total += chunk,
                    Err(e) => break e,
                }
                assert!(total < 1 << 30, "RLIMIT_DATA was not enforced");
            };
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert!(err.to_string().contains("RLIMIT_DATA"), "{err}");
            assert!(early.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
            // The failure consumed nothing; small allocations that fit in committed memory still work.
            assert_eq!(arena.allocated_bytes(), (1 << 20) + total);
            let small = arena.try_alloc(5u8).expect("a byte of committed memory");
            assert_eq!(*small, 5);
            let sync = SyncArena::new();
            let mut failed = false;
            for _ in 0..64 {
                if sync.try_alloc_slice_fill_with(4 << 20, |_| 1u8).is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "SyncArena did not hit RLIMIT_DATA");
        });
        outcome.assert_success();
    }
}

/// The same worker threads allocate from one `SyncArena` after another; each new arena
/// takes the region its predecessor gave to the warm cache (same address), while every
/// worker still holds a per-thread chunk of the old one. No chunk of a dropped arena is
/// used again: every allocation of a round is disjoint from the others and keeps its value.
/// (Synchronized with atomics only, so that ThreadSanitizer sees every edge.)
#[test]
fn sync_arena_chunks_never_outlive_their_arena() {
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
    const THREADS: usize = 4;
    const ROUNDS: usize = 20;
    /// Spins until `count` reaches `target`.
    fn wait_for(count: &AtomicUsize, target: usize) {
        while count.load(Ordering::Acquire) < target {
            std::thread::yield_now();
        }
    }
    let arena = AtomicPtr::<vmem::SyncArena>::new(std::ptr::null_mut());
    // Per round: the arena is published (`started`), every worker has written (`written`),
    // every worker has checked and let go of it (`done`).
    let (started, written, done) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    let mut bases = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (arena, started, written, done) = (&arena, &started, &written, &done);
                s.spawn(move || {
                    for round in 0..ROUNDS {
                        wait_for(started, round + 1);
                        // SAFETY: published before `started` was raised, dropped only after
                        // every worker raised `done` for this round.
                        let arena = unsafe { &*arena.load(Ordering::Acquire) };
                        let mark = (t * ROUNDS + round) as u64;
                        let mine: Vec<&mut [u64]> =
                            (0..2000).map(|i| arena.alloc_slice_fill_with(1 + i % 9, |_| mark)).collect();
                        written.fetch_add(1, Ordering::AcqRel);
                        wait_for(written, (round + 1) * THREADS);
                        assert!(mine.iter().all(|s| s.iter().all(|&x| x == mark)), "thread {t} round {round}");
                        done.fetch_add(1, Ordering::AcqRel);
                    }
                })
            })
            .collect();
        for round in 0..ROUNDS {
            let fresh = Box::new(vmem::SyncArena::new());
            bases.push(fresh.alloc(0u8) as *mut u8 as usize >> 20);
            arena.store(Box::into_raw(fresh), Ordering::Release);
            started.fetch_add(1, Ordering::AcqRel);
            wait_for(&done, (round + 1) * THREADS);
            // SAFETY: made by `Box::into_raw` above; every worker is done with it.
            drop(unsafe { Box::from_raw(arena.swap(std::ptr::null_mut(), Ordering::AcqRel)) });
        }
        for worker in workers {
            worker.join().unwrap();
        }
    });
    bases.dedup();
    println!("{} distinct block addresses over {ROUNDS} arenas", bases.len());
}
