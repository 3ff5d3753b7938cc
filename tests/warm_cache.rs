//! The warm cache under the structures: bounded, returned by `trim`, never seen by the raw
//! layer, safe with memory a previous owner wrote, across threads, `fork` and resource
//! limits. Tests that look at process-wide figures (RSS, cache counters) run in children.
#![cfg(unix)]
mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use vmem::{Arena, ConcurrentVec, Pool, Reservation, VirtualVec};

const MIB: usize = 1 << 20;

/// Fills and drops one structure of about `bytes` bytes, chosen by `kind`, checking what it
/// reads back.
fn churn(kind: usize, bytes: usize, seed: u64) {
    let n = (bytes / 8).max(1) as u64;
    match kind % 4 {
        0 => {
            let v: VirtualVec<u64> = (0..n).map(|i| i ^ seed).collect();
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 ^ seed));
        }
        1 => {
            let mut pool = Pool::new();
            let handles: Vec<_> = (0..n / 2).map(|i| pool.insert(i ^ seed)).collect();
            for (i, h) in handles.iter().enumerate() {
                assert_eq!(pool.get(*h), Some(&(i as u64 ^ seed)));
            }
            assert_eq!(pool.len(), handles.len());
        }
        2 => {
            let arena = Arena::new();
            let s = arena.alloc_slice_fill_with(n as usize, |i| i as u64 ^ seed);
            assert!(s.iter().enumerate().all(|(i, &x)| x == i as u64 ^ seed));
        }
        _ => {
            let v = ConcurrentVec::new();
            for i in 0..n / 2 {
                v.push(i ^ seed);
            }
            for i in 0..n / 2 {
                assert_eq!(v.get(i as usize), Some(&(i ^ seed)));
            }
            assert_eq!(v.get(n as usize / 2), None);
        }
    }
}

/// After 1,000 structures of mixed sizes are created and dropped, what stays resident is
/// within the cache's bound (plus a little heap), and the cache keeps its bounds.
#[cfg(target_os = "linux")]
#[test]
fn the_cache_is_bounded() {
    common::in_child("the_cache_is_bounded", || {
        let before = common::rss();
        let sizes = [1 << 10, 16 << 10, 64 << 10, 256 << 10, MIB, 4 * MIB];
        for i in 0..1000 {
            let bytes = if i % 100 == 99 { 32 * MIB } else { sizes[i % sizes.len()] };
            churn(i, bytes, i as u64);
            let stats = vmem::cache::stats();
            assert!(stats.bytes <= vmem::cache::max_bytes(), "{stats:?}");
            assert!(stats.entries <= vmem::cache::max_entries(), "{stats:?}");
        }
        let after = common::rss();
        let bound = vmem::cache::max_bytes() + 8 * MIB;
        assert!(
            after <= before + bound || common::under_sanitizer(),
            "RSS grew by {} MiB, bound {} MiB",
            (after - before) >> 20,
            bound >> 20
        );
        let stats = vmem::cache::stats();
        assert!(stats.hits > 900, "a create-drop loop reuses regions: {stats:?}");
    })
    .assert_success();
}

/// A region given back when the cache's bytes are full keeps its pages: older entries are
/// released to make room (least recently given back first), so the structure made next
/// takes warm memory instead of refaulting it.
#[cfg(target_os = "linux")]
#[test]
fn a_full_cache_makes_room_for_the_newest_region() {
    common::in_child("a_full_cache_makes_room_for_the_newest_region", || {
        vmem::trim();
        vmem::cache::set_max_bytes(4 * MIB);
        // A different reservation size from the small ones below, so they cannot take it.
        let mut big = vmem::VirtualVec::<u8>::with_max_capacity(64 * MIB).unwrap();
        big.extend(std::iter::repeat_n(1u8, 8 * MIB));
        drop(big);
        let full = vmem::cache::stats();
        assert_eq!(full.entries, 1, "{full:?}");
        assert!(full.bytes >= 4 * MIB - 4096, "the big region filled the cache: {full:?}");
        let small: vmem::VirtualVec<u8> = std::iter::repeat_n(2u8, 64 << 10).collect();
        drop(small);
        let after = vmem::cache::stats();
        assert_eq!(after.entries, 1, "the big region made room for the small one: {after:?}");
        assert!(after.bytes >= 64 << 10 && after.bytes < 4 * MIB, "the small region kept its pages: {after:?}");
        let hits = after.hits;
        let again: vmem::VirtualVec<u8> = std::iter::repeat_n(3u8, 64 << 10).collect();
        assert!(again.iter().all(|&b| b == 3));
        assert_eq!(vmem::cache::stats().hits, hits + 1, "the next structure took it");
    })
    .assert_success();
}

/// `trim` gives the cached memory back: RSS returns to where it started.
#[cfg(target_os = "linux")]
#[test]
fn trim_returns_the_memory() {
    common::in_child("trim_returns_the_memory", || {
        let before = common::rss();
        let v: VirtualVec<u64> = (0..(32 * MIB / 8) as u64).collect();
        drop(v);
        let cached = common::rss();
        assert!(cached >= before + 30 * MIB, "the cache keeps the pages: {} MiB", (cached - before) >> 20);
        assert!(vmem::cache::stats().bytes >= 30 * MIB);
        let released = vmem::trim();
        assert!(released >= 30 * MIB);
        let after = common::rss();
        assert!(after <= before + 2 * MIB, "RSS after trim: +{} KiB", (after.saturating_sub(before)) >> 10);
        assert_eq!(vmem::cache::stats(), vmem::cache::CacheStats { bytes: 0, entries: 0, ..vmem::cache::stats() });
    })
    .assert_success();
}

/// Turned off, the cache keeps nothing, and a dropped structure's memory goes back at once.
#[cfg(target_os = "linux")]
#[test]
fn a_cache_turned_off_keeps_nothing() {
    common::in_child("a_cache_turned_off_keeps_nothing", || {
        vmem::cache::set_max_entries(0);
        let before = common::rss();
        drop((0..(16 * MIB / 8) as u64).collect::<VirtualVec<u64>>());
        assert!(common::rss() <= before + MIB || common::under_sanitizer());
        assert_eq!(vmem::cache::stats().entries, 0);
    })
    .assert_success();
    // The environment variable does the same, read when the cache is first used.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["environment_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("VMEM_CACHE", "off")
        .env("VMEM_WARM_CACHE_ENV_CHILD", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// Run by `a_cache_turned_off_keeps_nothing` with `VMEM_CACHE=off` (does nothing otherwise).
#[test]
fn environment_child() {
    if std::env::var_os("VMEM_WARM_CACHE_ENV_CHILD").is_none() {
        return;
    }
    assert_eq!(vmem::cache::max_entries(), 0);
    drop((0..1000u64).collect::<VirtualVec<u64>>());
    assert_eq!(vmem::cache::stats().entries, 0);
}

/// Memory a structure left in the cache never reaches `Reservation` or the raw functions:
/// their fresh commits read zero.
#[test]
fn the_raw_layer_never_sees_cached_memory() {
    for _ in 0..8 {
        let v: VirtualVec<u8> = std::iter::repeat_n(0xAB, 2 * MIB).collect();
        drop(v);
        let r = Reservation::new(64 << 30).unwrap();
        r.commit(0, 2 * MIB).unwrap();
        // SAFETY: 2 MiB committed just now.
        let bytes = unsafe { std::slice::from_raw_parts(r.as_ptr(), 2 * MIB) };
        assert!(bytes.iter().all(|&b| b == 0), "a fresh reservation reads zero");
        let raw = vmem::reserve(64 << 30).unwrap();
        // SAFETY: our reservation, released at once.
        unsafe {
            vmem::commit(raw.as_ptr(), MIB).unwrap();
            assert!(std::slice::from_raw_parts(raw.as_ptr(), MIB).iter().all(|&b| b == 0));
            vmem::release(raw.as_ptr(), 64 << 30).unwrap();
        }
    }
}

/// Structures that take a region whose memory another structure filled with garbage work
/// as if it were fresh: the pool hands out generation 1 and finds no stale values, the
/// concurrent vector's flags read unpublished.
#[test]
fn structures_on_dirty_memory_read_only_what_they_wrote() {
    for round in 0..8 {
        // A region full of 0xFF, of the size a `Pool<u64>` takes (64 GiB).
        drop(std::iter::repeat_n(0xFFu8, MIB).collect::<VirtualVec<u8>>());
        let mut pool = Pool::new();
        let handles: Vec<_> = (0..10_000u64).map(|i| pool.insert(i)).collect();
        for (i, h) in handles.iter().enumerate() {
            assert_eq!(h.generation(), 1, "round {round}");
            assert_eq!(pool[*h], i as u64);
        }
        assert_eq!(pool.iter().count(), 10_000);
        pool.clear();
        assert_eq!(pool.iter().count(), 0);
        let again = pool.insert(7);
        assert_eq!((again.index(), pool.len()), (0, 1));
        drop(pool);

        // A `ConcurrentVec<u8>` has values and flags regions of the same size: the flags of
        // the next one may be the values (all 0xFF) of this one.
        let v = ConcurrentVec::new();
        for _ in 0..300_000 {
            v.push(0xFFu8);
        }
        drop(v);
        let w = ConcurrentVec::<u8>::new();
        w.push(1);
        for i in 1..300_000 {
            assert_eq!(w.get(i), None, "round {round}: slot {i} was never pushed");
        }
        assert_eq!(w.len(), 1);
    }
}

/// Eight threads create and drop structures of every kind through the shared cache, and
/// every value each reads back is its own.
#[test]
fn eight_threads_share_the_cache() {
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..8u64)
            .map(|t| {
                s.spawn(move || {
                    for i in 0..200 {
                        let bytes = [4 << 10, 64 << 10, 512 << 10][i % 3];
                        churn(i + t as usize, bytes, t << 32 | i as u64);
                    }
                })
            })
            .collect();
        common::join_all(threads);
    });
}

/// A child forked while another thread uses the cache can use the cache too (no lock left
/// held by a thread that does not exist in it).
#[cfg(target_os = "linux")]
#[test]
fn fork_while_another_thread_uses_the_cache() {
    common::in_child("fork_while_another_thread_uses_the_cache", || {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let other = s.spawn(|| {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    churn(i, 64 << 10, i as u64);
                    i += 1;
                }
            });
            for round in 0..50 {
                churn(round, 16 << 10, 0);
                // SAFETY: the child only runs this crate's code and `_exit`s; `alarm` makes
                // a deadlock a test failure rather than a hang.
                let pid = unsafe { libc::fork() };
                assert!(pid >= 0, "fork failed");
                if pid == 0 {
                    // SAFETY: in the child: ask for SIGALRM in 20 s, then leave with `_exit`.
                    unsafe { libc::alarm(20) };
                    let ok = std::panic::catch_unwind(|| {
                        for i in 0..20 {
                            churn(i, [4 << 10, 64 << 10][i % 2], 99);
                        }
                    })
                    .is_ok();
                    // SAFETY: ends the child without running the parent's destructors.
                    unsafe { libc::_exit(if ok { 0 } else { 1 }) };
                }
                let mut status = 0;
                // SAFETY: waits for the child forked above.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "round {round}: status {status}");
            }
            stop.store(true, Ordering::Relaxed);
            common::join_all([other]);
        });
    })
    .assert_success();
}

/// Under `RLIMIT_DATA`, a commit that fails because the cache holds the memory empties the
/// cache and succeeds; what live structures hold is untouched.
#[cfg(target_os = "linux")]
#[test]
fn a_refused_commit_empties_the_cache_and_retries() {
    common::in_child("a_refused_commit_empties_the_cache_and_retries", || {
        let kept: VirtualVec<u64> = (0..100_000).collect();
        // 48 MiB committed in the cache, in a region of the default size.
        drop((0..(48 * MIB / 8) as u64).collect::<VirtualVec<u64>>());
        assert!(vmem::cache::stats().bytes >= 48 * MIB);
        let data = vmem_data_bytes();
        common::set_limit(rustix::process::Resource::Data, (data + 32 * MIB) as u64);
        // A different size class: the cache cannot hand it the region, only its memory.
        let mut big = VirtualVec::<u64>::with_max_capacity(1 << 30).unwrap();
        big.try_extend(std::iter::repeat_n(7u64, 40 * MIB / 8)).expect("the commit succeeds once the cache is empty");
        assert_eq!(vmem::cache::stats().bytes, 0);
        assert!(big.iter().all(|&x| x == 7));
        assert!(kept.iter().enumerate().all(|(i, &x)| x == i as u64), "nothing stored is lost");
        // Past the limit even without the cache: an error, nothing lost.
        let err = big.try_reserve(64 * MIB / 8).unwrap_err();
        assert_eq!(err.kind(), vmem::ErrorKind::OutOfMemory);
        assert_eq!(big.len(), 40 * MIB / 8);
        assert!(big.iter().all(|&x| x == 7));
    })
    .assert_success();
}

/// Under `RLIMIT_AS`, a reservation refused because the cache holds the address space
/// empties the cache and succeeds.
#[cfg(target_os = "linux")]
#[test]
fn a_refused_reservation_empties_the_cache_and_retries() {
    common::in_child("a_refused_reservation_empties_the_cache_and_retries", || {
        // Ten 64 GiB regions in the cache.
        let vecs: Vec<VirtualVec<u64>> = (0..10).map(|i| (0..i + 1).collect()).collect();
        drop(vecs);
        assert!(vmem::cache::stats().entries >= 10);
        common::limit_address_space(100 << 30);
        let v = VirtualVec::<u64>::with_max_capacity(200 << 27).expect("200 GiB fit once the cache is empty");
        assert_eq!(v.reserved_bytes(), 200 << 30);
        assert_eq!(vmem::cache::stats().entries, 0);
    })
    .assert_success();
}

/// Private writable memory of this process: what `RLIMIT_DATA` counts.
#[cfg(target_os = "linux")]
fn vmem_data_bytes() -> usize {
    vmem::process_memory().unwrap().private_bytes.expect("private bytes (VmData)")
}

/// A steady reset loop settles: its committed bytes stop changing after the first round. A
/// one-off spike is given back within four resets.
#[test]
fn reset_keeps_what_recent_rounds_needed() {
    let mut arena = Arena::new();
    let mut seen = Vec::new();
    for _ in 0..10 {
        for i in 0..100_000u64 {
            arena.alloc([i; 4]);
        }
        arena.reset();
        seen.push(arena.committed_bytes());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "committed bytes settle: {seen:?}");
    assert!(seen[0] >= 100_000 * 32);
    // A spike of 64 MiB, then small rounds.
    arena.alloc_slice_fill_with(64 * MIB, |_| 1u8);
    arena.reset();
    assert!(arena.committed_bytes() >= 64 * MIB);
    let mut after = Vec::new();
    for _ in 0..vmem::arena::RESET_ROUNDS {
        arena.alloc([0u64; 4]);
        arena.reset();
        after.push(arena.committed_bytes());
    }
    assert!(after.last().unwrap() < &MIB, "the spike is returned within four resets: {after:?}");
    // `retain_bytes` overrides it.
    let mut fixed = Arena::builder().retain_bytes(0).build().unwrap();
    fixed.alloc_slice_fill_with(MIB, |_| 1u8);
    fixed.reset();
    assert_eq!(fixed.committed_bytes(), 0);
}

/// A child forked while another thread runs `trim` before anything else used the cache can
/// use the cache. `trim` took the shard locks without reading the settings first, so the
/// `fork` handler that takes over a held lock in the child was not registered yet: a child
/// forked while `trim` held a shard's lock waited for it forever.
#[cfg(target_os = "linux")]
#[test]
fn fork_while_another_thread_trims_before_first_use() {
    common::in_child("fork_while_another_thread_trims_before_first_use", || {
        let stop = AtomicBool::new(false);
        let mut hung = 0;
        std::thread::scope(|s| {
            let trimmer = s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    vmem::trim();
                }
            });
            for _ in 0..200 {
                // SAFETY: the child only runs this crate's code and `_exit`s; `alarm` makes
                // a deadlock a SIGALRM rather than a hang.
                let pid = unsafe { libc::fork() };
                assert!(pid >= 0, "fork failed");
                if pid == 0 {
                    // SAFETY: in the child: SIGALRM in 5 s, then leave with `_exit`.
                    unsafe { libc::alarm(5) };
                    for i in 0..4 {
                        churn(i, 4 << 10, 7);
                    }
                    // SAFETY: ends the child without running the parent's destructors.
                    unsafe { libc::_exit(0) };
                }
                let mut status = 0;
                // SAFETY: waits for the child forked above.
                assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
                if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM {
                    hung += 1;
                } else {
                    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "status {status}");
                }
                if hung > 0 {
                    break;
                }
            }
            stop.store(true, Ordering::Relaxed);
            common::join_all([trimmer]);
        });
        assert_eq!(hung, 0, "a forked child deadlocked on a shard lock `trim` held at the fork");
    })
    .assert_success();
}

/// The same race at its narrowest, many times: each round a fresh process (the cache not
/// used yet) starts a thread whose `trim` is the cache's first use, and forks at once; the
/// grandchild uses the cache. The first use read the settings inside a `Once` (and through
/// `std::env`'s lock, and filled a `OnceLock` for the clock): a fork while the other thread was
/// inside left the child waiting for a thread it does not have. (A guard: the windows are a
/// few instructions wide, and 3 × 300 rounds before the fix did not hit one; the test above
/// hung once in a full run of this file, which is what led to it.)
#[cfg(target_os = "linux")]
#[test]
fn fork_during_the_first_use_of_the_cache() {
    common::in_child("fork_during_the_first_use_of_the_cache", || {
        let mut hung = 0;
        for _ in 0..300 {
            // SAFETY: the child only runs this crate's code, forks, waits and `_exit`s.
            let first = unsafe { libc::fork() };
            assert!(first >= 0, "fork failed");
            if first == 0 {
                let trimmer = std::thread::spawn(|| {
                    vmem::trim();
                });
                // SAFETY: as above; the grandchild only runs this crate's code and `_exit`s.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    // SAFETY: in the grandchild: SIGALRM in 5 s, then leave with `_exit`.
                    unsafe { libc::alarm(5) };
                    churn(0, 4 << 10, 3);
                    churn(1, 4 << 10, 4);
                    // SAFETY: ends the grandchild without running destructors.
                    unsafe { libc::_exit(0) };
                }
                let mut status = 0;
                // SAFETY: waits for the grandchild forked above.
                let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
                let _ = trimmer.join();
                let code = if waited == pid && libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM {
                    1
                } else if waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                    0
                } else {
                    2
                };
                // SAFETY: ends the child without running the test harness's destructors.
                unsafe { libc::_exit(code) };
            }
            let mut status = 0;
            // SAFETY: waits for the child forked above.
            assert_eq!(unsafe { libc::waitpid(first, &mut status, 0) }, first);
            assert!(libc::WIFEXITED(status), "status {status}");
            match libc::WEXITSTATUS(status) {
                0 => {}
                1 => hung += 1,
                other => panic!("the grandchild failed: {other}"),
            }
            if hung > 0 {
                break;
            }
        }
        assert_eq!(hung, 0, "a child forked during the cache's first use deadlocked");
    })
    .assert_success();
}

/// Threads whose own shard of the cache has no region of the size they need take one from
/// the other shards without waiting (`try_lock`). A failed `try_lock` used to release the
/// lock of the thread inside that shard, so two threads could change a shard at once: the
/// same region handed to two structures, a region released while a structure used it, or a
/// panic inside the cache. Here workers churn small structures of three sizes (so their own
/// shard often misses) and check that each holds only what it wrote, while another thread
/// keeps changing the bounds (which takes every shard's lock in turn).
#[test]
fn threads_taking_from_each_others_shards_never_share_a_region() {
    common::in_child("threads_taking_from_each_others_shards_never_share_a_region", || {
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..3u64)
                .map(|t| {
                    let stop = &stop;
                    s.spawn(move || {
                        let mut i = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            let len = 512 * (1 + (i % 3) as usize);
                            let mut v = VirtualVec::<u64>::with_max_capacity(len).unwrap();
                            let mark = t << 32 | i;
                            v.extend(std::iter::repeat_n(mark, len));
                            assert!(
                                v.iter().all(|&x| x == mark),
                                "thread {t}, round {i}: another structure wrote here"
                            );
                            i += 1;
                        }
                    })
                })
                .collect();
            for round in 0..10_000 {
                vmem::cache::set_max_entries(if round % 2 == 0 { 2 } else { 64 });
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
            common::join_all(threads);
        });
    })
    .assert_success();
}

/// Eight threads giving regions back at once never take the cache past its bounds: the
/// counters are claimed before a region goes in, not checked and then bumped (two shards
/// could each see room for one more and both take it).
#[test]
fn the_bounds_hold_while_threads_race() {
    common::in_child("the_bounds_hold_while_threads_race", || {
        use std::sync::atomic::AtomicUsize;
        const ENTRIES: usize = 1;
        const BYTES: usize = MIB;
        vmem::cache::set_max_entries(ENTRIES);
        vmem::cache::set_max_bytes(BYTES);
        let done = AtomicUsize::new(0);
        let mut worst = vmem::cache::CacheStats::default();
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..8usize)
                .map(|t| {
                    let done = &done;
                    s.spawn(move || {
                        for i in 0..20_000 {
                            churn(i + t, 8, t as u64);
                        }
                        done.fetch_add(1, Ordering::Release);
                    })
                })
                .collect();
            while done.load(Ordering::Acquire) < 8 {
                let now = vmem::cache::stats();
                worst.entries = worst.entries.max(now.entries);
                worst.bytes = worst.bytes.max(now.bytes);
                std::thread::yield_now();
            }
            common::join_all(threads);
        });
        let last = vmem::cache::stats();
        assert!(last.entries <= ENTRIES && last.bytes <= BYTES, "after the threads: {last:?}");
        assert!(worst.entries <= ENTRIES && worst.bytes <= BYTES, "while they ran: {worst:?}");
    })
    .assert_success();
}

/// Lowering the bounds while other threads give regions back leaves the cache within the
/// new bounds once they are done: a region given back with the old bounds in mind, after
/// the setter emptied the excess, must not stay above them.
#[test]
fn lowered_bounds_hold_after_racing_gives() {
    common::in_child("lowered_bounds_hold_after_racing_gives", || {
        let stop = AtomicBool::new(false);
        for round in 0..400 {
            vmem::cache::set_max_entries(64);
            vmem::cache::set_max_bytes(64 * MIB);
            stop.store(false, Ordering::Relaxed);
            std::thread::scope(|s| {
                let threads: Vec<_> = (0..3usize)
                    .map(|t| {
                        let stop = &stop;
                        s.spawn(move || {
                            let mut i = 0;
                            while !stop.load(Ordering::Relaxed) {
                                churn(i + t, 8, t as u64);
                                i += 1;
                            }
                        })
                    })
                    .collect();
                std::thread::sleep(std::time::Duration::from_millis(1));
                vmem::cache::set_max_bytes(64 << 10);
                vmem::cache::set_max_entries(1);
                stop.store(true, Ordering::Relaxed);
                common::join_all(threads);
            });
            let last = vmem::cache::stats();
            assert!(last.entries <= 1 && last.bytes <= 64 << 10, "round {round}, after the threads: {last:?}");
        }
    })
    .assert_success();
}
