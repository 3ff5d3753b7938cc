//! `ConcurrentVec`: against `Vec` single-threaded, and under 2- and 8-thread stress.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use proptest::prelude::*;
use vmem::{ConcurrentVec, ErrorKind};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn behaves_like_vec_on_one_thread(values in proptest::collection::vec(any::<u64>(), 0..5000)) {
        let v = ConcurrentVec::new();
        for (i, x) in values.iter().enumerate() {
            prop_assert_eq!(v.push(*x), i);
        }
        prop_assert_eq!(v.len(), values.len());
        prop_assert!(v.iter().eq(values.iter()));
        for (i, x) in values.iter().enumerate() {
            prop_assert_eq!(v.get(i), Some(x));
        }
        prop_assert_eq!(v.get(values.len()), None);
    }
}

fn stress(threads: usize, per_thread: usize) {
    let v = ConcurrentVec::new();
    let done = AtomicBool::new(false);
    let seen_by_reader = AtomicUsize::new(0);
    std::thread::scope(|s| {
        // A reader that checks published elements while the writers push.
        s.spawn(|| {
            while !done.load(Ordering::Acquire) {
                let len = v.len();
                for i in (0..len).step_by(97) {
                    if let Some(&(t, seq)) = v.get(i) {
                        assert!(t < threads && seq < per_thread, "garbage at {i}: {t} {seq}");
                        seen_by_reader.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        let writers: Vec<_> = (0..threads)
            .map(|t| {
                let v = &v;
                s.spawn(move || {
                    for seq in 0..per_thread {
                        let i = v.push((t, seq));
                        // Visible once the push returned, and never moves.
                        assert_eq!(v.get(i), Some(&(t, seq)));
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    assert_eq!(v.len(), threads * per_thread);
    let mut found = vec![vec![false; per_thread]; threads];
    for &(t, seq) in v.iter() {
        assert!(!found[t][seq], "({t}, {seq}) found twice");
        found[t][seq] = true;
    }
    assert!(found.iter().flatten().all(|&f| f), "a pushed value is missing");
}

#[test]
fn two_threads_every_value_found_exactly_once() {
    stress(2, 200_000);
}

#[test]
fn eight_threads_every_value_found_exactly_once() {
    stress(8, 50_000);
}

#[test]
fn references_stay_valid_while_others_push() {
    let v = ConcurrentVec::new();
    v.push(String::from("first"));
    let first = v.get(0).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..500_000 {
                v.push(i.to_string());
            }
        });
        for _ in 0..1000 {
            assert_eq!(first, "first");
        }
    });
    assert_eq!(first, "first");
    assert_eq!(v.get(500_000).map(String::as_str), Some("499999"));
}

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[test]
fn every_element_is_dropped_exactly_once() {
    let v = ConcurrentVec::with_max_capacity(1000).unwrap();
    for _ in 0..1000 {
        v.push(Counted);
    }
    let (value, err) = v.try_push(Counted).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    drop(value);
    assert_eq!(DROPS.with(|d| d.get()), 1);
    drop(v);
    assert_eq!(DROPS.with(|d| d.get()), 1001);
}

#[test]
fn limits_are_errors() {
    assert_eq!(ConcurrentVec::<u8>::with_max_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(ConcurrentVec::<u64>::with_max_capacity(usize::MAX).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let v = ConcurrentVec::with_max_capacity(3).unwrap();
    for i in 0..3 {
        v.push(i);
    }
    for _ in 0..10 {
        let (value, err) = v.try_push(9).unwrap_err();
        assert_eq!(value, 9);
        assert!(err.to_string().contains("max_capacity"), "{err}");
    }
    assert!(v.iter().copied().eq(0..3));
    let mut v = v;
    *v.get_mut(1).unwrap() = 10;
    assert_eq!(v.get(1), Some(&10));
}

#[test]
fn zero_sized_values_work() {
    let v = ConcurrentVec::new();
    for _ in 0..10_000 {
        v.push(());
    }
    assert_eq!(v.len(), 10_000);
    assert_eq!(v.iter().count(), 10_000);
}
