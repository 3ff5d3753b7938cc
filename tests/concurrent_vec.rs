//! ConcurrentVec behaviour: a model test against `Vec`, drops, address stability, threads
//! pushing and reading at once, limits, zero-sized and over-aligned elements, and failure
//! under RLIMIT_DATA.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use vmem::{ConcurrentVec, ErrorKind};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}

/// Joins scoped threads explicitly (`pthread_join`, which ThreadSanitizer sees; a scope's
/// own join at its end goes through the uninstrumented standard library).
fn join_all<'scope, T>(threads: impl IntoIterator<Item = std::thread::ScopedJoinHandle<'scope, T>>) -> Vec<T> {
    threads.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
}

#[test]
fn send_and_sync_follow_the_element_type() {
    assert_send::<ConcurrentVec<u64>>();
    assert_sync::<ConcurrentVec<u64>>();
    assert_send::<ConcurrentVec<std::cell::Cell<u8>>>(); // Send, not Sync
    assert_send::<vmem::concurrent_vec::IntoIter<String>>();
}

/// Counts drops in a shared counter.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>, u64);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Debug)]
enum Op {
    Push(u32),
    Get(usize),
    Set(usize, u32),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => any::<u32>().prop_map(Op::Push),
        4 => (0usize..80).prop_map(Op::Get),
        2 => (0usize..80, any::<u32>()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Single-threaded, a ConcurrentVec (bounded or not) behaves as a `Vec` that refuses to
    /// grow past its maximum capacity.
    #[test]
    fn behaves_like_vec(max in prop::option::of(0usize..64), ops in prop::collection::vec(op(), 0..300)) {
        let mut vec = match max {
            Some(max) => ConcurrentVec::with_max_capacity(max).unwrap(),
            None => ConcurrentVec::new(),
        };
        let max = max.unwrap_or(usize::MAX);
        let mut model: Vec<u32> = Vec::new();
        for op in ops {
            match op {
                Op::Push(v) => {
                    if model.len() < max {
                        prop_assert_eq!(vec.try_push(v).unwrap(), model.len());
                        model.push(v);
                    } else {
                        let (back, err) = vec.try_push(v).unwrap_err();
                        prop_assert_eq!(back, v);
                        prop_assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                    }
                }
                Op::Get(i) => prop_assert_eq!(vec.get(i), model.get(i)),
                Op::Set(i, v) => {
                    prop_assert_eq!(vec.get_mut(i).map(|x| { *x = v; }), model.get_mut(i).map(|x| { *x = v; }));
                }
                Op::Clear => {
                    vec.clear();
                    model.clear();
                }
            }
            prop_assert_eq!(vec.len(), model.len());
            prop_assert_eq!(vec.is_empty(), model.is_empty());
        }
        prop_assert!(vec.iter().eq(model.iter()));
        prop_assert!(vec.iter().rev().eq(model.iter().rev()));
        prop_assert_eq!(vec.as_slice(), &model[..]);
        prop_assert_eq!(vec.into_iter().collect::<Vec<_>>(), model);
    }
}

#[test]
fn every_element_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let n = 300_000u64; // several commit steps
    let v = ConcurrentVec::new();
    for i in 0..n {
        v.push(Counted(drops.clone(), i));
    }
    assert_eq!(drops.load(Ordering::Relaxed), 0);
    drop(v);
    assert_eq!(drops.load(Ordering::Relaxed), n as usize);

    // Cleared, then refilled.
    drops.store(0, Ordering::Relaxed);
    let mut v = ConcurrentVec::new();
    v.extend((0..100).map(|i| Counted(drops.clone(), i)));
    v.clear();
    assert_eq!(drops.load(Ordering::Relaxed), 100);
    v.extend((0..50).map(|i| Counted(drops.clone(), i)));
    assert_eq!(v[49].1, 49);
    drop(v);
    assert_eq!(drops.load(Ordering::Relaxed), 150);

    // Taken out by value, partly, from both ends.
    drops.store(0, Ordering::Relaxed);
    let v: ConcurrentVec<_> = (0..10).map(|i| Counted(drops.clone(), i)).collect();
    let mut it = v.into_iter();
    assert_eq!(it.len(), 10);
    assert_eq!(it.next().unwrap().1, 0);
    assert_eq!(it.next_back().unwrap().1, 9);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    drop(it);
    assert_eq!(drops.load(Ordering::Relaxed), 10);

    // A value refused at the maximum is handed back, not dropped by the vector.
    drops.store(0, Ordering::Relaxed);
    let v = ConcurrentVec::with_max_capacity(1).unwrap();
    v.push(Counted(drops.clone(), 0));
    let (back, _) = v.try_push(Counted(drops.clone(), 1)).unwrap_err();
    assert_eq!((back.1, drops.load(Ordering::Relaxed)), (1, 0));
    drop(back);
    drop(v);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

#[test]
fn elements_pushed_by_many_threads_are_dropped_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let v = ConcurrentVec::new();
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let (v, drops) = (&v, &drops);
                s.spawn(move || {
                    for i in 0..20_000 {
                        v.push(Counted(drops.clone(), t << 32 | i));
                    }
                })
            })
            .collect();
        join_all(threads);
    });
    assert_eq!(v.len(), 80_000);
    drop(v);
    assert_eq!(drops.load(Ordering::Relaxed), 80_000);
}

#[test]
fn zero_sized_elements_work() {
    let drops = Arc::new(AtomicUsize::new(0));
    struct Unit<'a>(&'a AtomicUsize);
    impl Drop for Unit<'_> {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let v = ConcurrentVec::new();
    assert!(v.max_capacity() >= 1 << 30);
    for _ in 0..2_000_000 {
        v.push(Unit(&drops));
    }
    assert!(v.get(1_999_999).is_some());
    assert!(v.get(2_000_000).is_none());
    assert_eq!(v.len(), 2_000_000);
    drop(v);
    assert_eq!(drops.load(Ordering::Relaxed), 2_000_000);

    let mut units = ConcurrentVec::with_max_capacity(3).unwrap();
    units.extend([(), (), ()]);
    assert!(units.try_push(()).is_err());
    assert_eq!(units.as_slice().len(), 3);
    assert_eq!(units.iter().count(), 3);
}

#[test]
fn addresses_stay_put_while_the_vector_grows() {
    let v = ConcurrentVec::new();
    let first: &u64 = &v[v.push(7)];
    let address = first as *const u64;
    let mut samples = Vec::new();
    for i in 1..3_000_000u64 {
        let index = v.push(i);
        if index % 100_003 == 0 {
            samples.push((index, &v[index] as *const u64));
        }
    }
    assert!(v.capacity() >= 3_000_000);
    assert_eq!(*first, 7);
    assert_eq!(&v[0] as *const u64, address);
    for (index, p) in samples {
        assert_eq!(&v[index] as *const u64, p);
        assert_eq!(v[index], index as u64);
    }
}

#[test]
fn big_and_over_aligned_elements() {
    #[derive(Clone, Copy, PartialEq, Debug)]
    #[repr(align(8192))]
    struct Page([u8; 8192]);
    let v = ConcurrentVec::with_max_capacity(100).unwrap();
    for i in 0..100u8 {
        let index = v.push(Page([i; 8192]));
        assert_eq!(&v[index] as *const Page as usize % 8192, 0);
    }
    assert!(v.try_push(Page([0; 8192])).is_err());
    assert!(v.iter().enumerate().all(|(i, p)| p.0.iter().all(|&b| b == i as u8)));

    let big = ConcurrentVec::new();
    big.push([1u64; 20_000]);
    big.push([2u64; 20_000]);
    assert_eq!(big[1][19_999], 2);
}

#[test]
fn limits_and_errors() {
    let err = ConcurrentVec::<u64>::with_max_capacity(usize::MAX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let err = ConcurrentVec::<u64>::with_max_capacity(usize::MAX / 16).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidArgument | ErrorKind::OutOfAddressSpace), "{err}");

    let v = ConcurrentVec::with_max_capacity(3).unwrap();
    assert_eq!(v.max_capacity(), 3);
    for i in 0..3 {
        assert_eq!(v.try_push(i), Ok(i));
    }
    for _ in 0..10 {
        let (value, err) = v.try_push(99).unwrap_err();
        assert_eq!(value, 99);
        assert_eq!(err.kind(), ErrorKind::OutOfMemory);
        assert_eq!(err.limit(), Some(("max_capacity", 3)));
        assert!(err.to_string().contains("maximum capacity"), "{err}");
    }
    assert_eq!(v.len(), 3);
    assert_eq!(v.iter().copied().collect::<Vec<_>>(), [0, 1, 2]);
    let panic = std::panic::catch_unwind(|| v.push(3)).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.starts_with("ConcurrentVec::push"), "{message}");
}

#[test]
fn threads_at_the_maximum_fill_it_exactly() {
    let v = ConcurrentVec::with_max_capacity(50_000).unwrap();
    let accepted = AtomicUsize::new(0);
    std::thread::scope(|s| {
        let threads: Vec<_> = (0..4usize)
            .map(|t| {
                let (v, accepted) = (&v, &accepted);
                s.spawn(move || {
                    let mut i = 0;
                    while i < 40_000 {
                        match v.try_push((t, i)) {
                            Ok(_) => {
                                accepted.fetch_add(1, Ordering::Relaxed);
                                i += 1;
                            }
                            Err((value, err)) => {
                                assert_eq!(value, (t, i));
                                assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                                break;
                            }
                        }
                    }
                })
            })
            .collect();
        join_all(threads);
    });
    assert_eq!(accepted.load(Ordering::Relaxed), 50_000);
    assert_eq!(v.len(), 50_000);
    assert_eq!(v.iter().count(), 50_000);
    let mut seen = std::collections::HashSet::new();
    assert!(v.iter().all(|x| seen.insert(*x)));
}

/// `threads` threads push `(thread, seq)` for `per_thread` seqs each, while a reader thread
/// calls `get` on indices below `len()` and checks that whatever it finds is a value some
/// thread pushed. Then every value must be there exactly once.
fn stress(threads: usize, per_thread: usize) {
    let v: ConcurrentVec<(u32, u32)> = ConcurrentVec::new();
    let done = AtomicBool::new(false);
    let (seen_by_reader, unpublished) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let (mut seen, mut unpublished, mut x) = (0usize, 0usize, 12345usize);
            // Sample while the writers run, and once more after (the reader may not get a
            // core while they run).
            loop {
                let finished = done.load(Ordering::Acquire);
                let len = v.len();
                if len == 0 {
                    continue;
                }
                for _ in 0..64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    match v.get(x % len) {
                        Some(&(t, seq)) => {
                            assert!((t as usize) < threads && (seq as usize) < per_thread, "garbage ({t}, {seq})");
                            seen += 1;
                        }
                        None => unpublished += 1,
                    }
                }
                assert!(v.get(usize::MAX).is_none());
                if finished {
                    break;
                }
            }
            (seen, unpublished)
        });
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let v = &v;
                s.spawn(move || {
                    for seq in 0..per_thread as u32 {
                        let index = v.push((t as u32, seq));
                        assert_eq!(v.get(index), Some(&(t as u32, seq)), "a returned push is visible");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });
    assert!(seen_by_reader > 0);
    eprintln!("{threads} threads: reader saw {seen_by_reader} elements and {unpublished} pushes in progress");
    assert_eq!(v.len(), threads * per_thread);
    let mut found = vec![vec![false; per_thread]; threads];
    let mut last_seq = vec![None; threads];
    for &(t, seq) in &v {
        let slot = &mut found[t as usize][seq as usize];
        assert!(!*slot, "({t}, {seq}) found twice");
        *slot = true;
        // Each thread's pushes get increasing indices.
        assert!(last_seq[t as usize] < Some(seq));
        last_seq[t as usize] = Some(seq);
    }
    assert!(found.iter().flatten().all(|&f| f), "a value is missing");
}

#[test]
fn two_threads_push_and_one_reads() {
    stress(2, 500_000);
}

#[test]
fn eight_threads_push_and_one_reads() {
    stress(8, 200_000);
}

#[test]
fn a_static_vector_is_shared_without_setup() {
    static LOG: ConcurrentVec<&str> = ConcurrentVec::new();
    std::thread::scope(|s| {
        join_all([s.spawn(|| LOG.push("a")), s.spawn(|| LOG.push("b"))]);
    });
    let mut all: Vec<_> = LOG.iter().copied().collect();
    all.sort();
    assert_eq!(all, ["a", "b"]);
}

#[test]
fn debug_and_iterators() {
    let mut v = ConcurrentVec::new();
    v.extend([3, 1, 2]);
    assert_eq!(format!("{v:?}"), "[3, 1, 2]");
    assert_eq!(format!("{:?}", v.iter()), "[3, 1, 2]");
    for x in &mut v {
        *x += 1;
    }
    assert_eq!((&v).into_iter().copied().collect::<Vec<_>>(), [4, 2, 3]);
    v.as_mut_slice().sort_unstable();
    assert_eq!(v.as_slice(), [2, 3, 4]);
    assert_eq!(v.get_mut(3), None);
}

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
mod limits {
    use super::*;

    fn set_soft_data_limit(bytes: Option<u64>) {
        common::set_soft_limit(rustix::process::Resource::Data, bytes);
    }

    /// Under RLIMIT_DATA, pushes fail cleanly once the OS refuses to commit: the value comes
    /// back, the elements stay, and once memory is available again pushes work again.
    #[test]
    fn rlimit_data_makes_try_push_fail_and_recover() {
        let outcome = common::in_child("limits::rlimit_data_makes_try_push_fail_and_recover", || {
            set_soft_data_limit(Some(128 << 20));
            let v = ConcurrentVec::new();
            let err = loop {
                match v.try_push([v.len() as u64; 512]) {
                    Ok(_) => assert!(v.len() < 1 << 20, "RLIMIT_DATA was not enforced"),
                    Err((value, err)) => {
                        assert_eq!(value[0], v.len() as u64, "the value comes back");
                        break err;
                    }
                }
            };
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert!(err.to_string().contains("RLIMIT_DATA"), "{err}");
            let len = v.len();
            assert!(len > 1000);
            assert!(v.try_push([0; 512]).is_err(), "still refused");
            assert_eq!(v.len(), len);
            assert!(v.iter().enumerate().all(|(i, x)| x[0] == i as u64 && x[511] == i as u64));
            set_soft_data_limit(None);
            assert_eq!(v.try_push([len as u64; 512]).unwrap(), len, "no index was lost");
            assert_eq!(v.len(), len + 1);
        });
        outcome.assert_success();
    }

    /// The same with threads: after the failure, every element below `len()` is there and
    /// each pushed value exactly once.
    #[test]
    fn rlimit_data_with_threads_loses_nothing() {
        let outcome = common::in_child("limits::rlimit_data_with_threads_loses_nothing", || {
            set_soft_data_limit(Some(128 << 20));
            let v = ConcurrentVec::new();
            let pushed = AtomicUsize::new(0);
            std::thread::scope(|s| {
                let threads: Vec<_> = (0..4u64)
                    .map(|t| {
                        let (v, pushed) = (&v, &pushed);
                        s.spawn(move || {
                            for seq in 0.. {
                                match v.try_push([t << 32 | seq; 64]) {
                                    Ok(_) => pushed.fetch_add(1, Ordering::Relaxed),
                                    Err(_) => break,
                                };
                            }
                        })
                    })
                    .collect();
                super::join_all(threads);
            });
            set_soft_data_limit(None); // room for the checks below
            assert_eq!(v.len(), pushed.load(Ordering::Relaxed));
            let mut seen = std::collections::HashSet::new();
            for x in &v {
                assert!(seen.insert(x[0]));
                assert_eq!(x[0], x[63]);
            }
            assert_eq!(seen.len(), v.len());
        });
        outcome.assert_success();
    }
}
