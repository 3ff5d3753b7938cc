//! Pool behaviour: a model test against `HashMap<Handle, T>` with stale handles, drops,
//! address stability, limits, iteration, zero-sized values, and failure under RLIMIT_DATA.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use proptest::prelude::*;
use vmem::{ErrorKind, Handle, Pool};

fn assert_handle_traits<H: Copy + Eq + std::hash::Hash + std::fmt::Debug + Ord + Send + Sync>() {}

#[test]
fn handles_are_small_plain_values() {
    assert_handle_traits::<Handle>();
    assert_eq!(std::mem::size_of::<Handle>(), 8);
    assert_eq!(std::mem::size_of::<Option<Handle>>(), 8);
    let mut pool = Pool::new();
    let a = pool.insert(1);
    let b = pool.insert(2);
    assert!(a < b);
    assert_eq!(format!("{a:?}"), "Handle(0v1)");
    assert_eq!(Handle::from_bits(b.to_bits()), Some(b));
    assert_eq!(Handle::from_bits(2), None, "even generations are never handed out");
    assert_eq!(Handle::from_bits((u32::MAX as u64) << 32 | 3), None, "nor the index u32::MAX");
    assert_eq!(Handle::from_bits((u32::MAX as u64) << 32 | 1), Some(Handle::NULL), "but for the null handle");
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16),
    /// Remove the handle at this position among all handles ever handed out (live or stale).
    Remove(usize),
    Get(usize),
    Set(usize, u16),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => any::<u16>().prop_map(Op::Insert),
        6 => any::<usize>().prop_map(Op::Remove),
        6 => any::<usize>().prop_map(Op::Get),
        3 => (any::<usize>(), any::<u16>()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A pool behaves as a `HashMap<Handle, T>` that never hands out a handle twice, and
    /// whose stale handles find nothing.
    #[test]
    fn behaves_like_a_map_of_handles(max in prop::option::of(1usize..40), ops in prop::collection::vec(op(), 0..400)) {
        let mut pool = match max {
            Some(max) => Pool::with_max_capacity(max).unwrap(),
            None => Pool::new(),
        };
        let mut model: HashMap<Handle, u16> = HashMap::new();
        let mut issued: Vec<Handle> = Vec::new();
        let mut unique: HashSet<Handle> = HashSet::new();
        for op in ops {
            match op {
                Op::Insert(v) => match pool.try_insert(v) {
                    Ok(h) => {
                        prop_assert!(unique.insert(h), "handle {:?} handed out twice", h);
                        prop_assert!(model.len() < max.unwrap_or(usize::MAX));
                        issued.push(h);
                        model.insert(h, v);
                    }
                    Err((back, err)) => {
                        prop_assert_eq!(back, v);
                        prop_assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                        prop_assert_eq!(Some(model.len()), max);
                    }
                },
                Op::Remove(i) if !issued.is_empty() => {
                    let h = issued[i % issued.len()];
                    prop_assert_eq!(pool.remove(h), model.remove(&h));
                }
                Op::Get(i) if !issued.is_empty() => {
                    let h = issued[i % issued.len()];
                    prop_assert_eq!(pool.get(h), model.get(&h));
                    prop_assert_eq!(pool.contains(h), model.contains_key(&h));
                }
                Op::Set(i, v) if !issued.is_empty() => {
                    let h = issued[i % issued.len()];
                    let set = |x: &mut u16| *x = v;
                    prop_assert_eq!(pool.get_mut(h).map(set), model.get_mut(&h).map(set));
                }
                Op::Clear => {
                    pool.clear();
                    model.clear();
                }
                _ => {}
            }
            prop_assert_eq!(pool.len(), model.len());
            prop_assert_eq!(pool.is_empty(), model.is_empty());
        }
        let mut listed: Vec<(Handle, u16)> = pool.iter().map(|(h, v)| (h, *v)).collect();
        prop_assert_eq!(listed.len(), pool.iter().len());
        let mut expected: Vec<(Handle, u16)> = model.iter().map(|(h, v)| (*h, *v)).collect();
        listed.sort();
        expected.sort();
        prop_assert_eq!(&listed, &expected);
        let mut owned: Vec<(Handle, u16)> = pool.into_iter().collect();
        owned.sort();
        prop_assert_eq!(owned, expected);
    }
}

#[test]
fn a_reused_slot_does_not_answer_to_the_old_handle() {
    let mut pool = Pool::new();
    let old = pool.insert("old");
    assert_eq!(pool.remove(old), Some("old"));
    let new = pool.insert("new");
    assert_eq!(new.index(), old.index());
    assert_ne!(new, old);
    assert_eq!(pool.get(old), None);
    assert_eq!(pool.get_mut(old), None);
    assert!(!pool.contains(old));
    assert_eq!(pool.remove(old), None);
    assert_eq!(pool[new], "new");
    let panic = std::panic::catch_unwind(|| pool[old]).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("refers to no value"));
}

#[test]
fn clear_makes_every_handle_stale_and_keeps_the_memory() {
    let mut pool = Pool::new();
    let handles: Vec<_> = (0..10_000).map(|i| pool.insert(i)).collect();
    let capacity = pool.capacity();
    pool.clear();
    assert!(pool.is_empty());
    assert_eq!(pool.capacity(), capacity);
    assert!(handles.iter().all(|&h| pool.get(h).is_none()));
    let again: Vec<_> = (0..10_000).map(|i| pool.insert(i)).collect();
    assert_eq!(again[0].index(), 0, "reuse starts at the lowest slot");
    assert!(again.iter().zip(&handles).all(|(a, b)| a.index() == b.index() && a != b));
    assert!(handles.iter().all(|&h| pool.get(h).is_none()));
    assert_eq!(pool.capacity(), capacity);
}

/// Counts drops in a shared counter.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>, u32);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn every_value_is_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut pool = Pool::new();
    let handles: Vec<_> = (0..1000).map(|i| pool.insert(Counted(drops.clone(), i))).collect();
    for h in handles.iter().step_by(3) {
        let value = pool.remove(*h).unwrap();
        assert_eq!(drops.load(Ordering::Relaxed) as u32, h.index() / 3);
        drop(value);
    }
    let removed = drops.load(Ordering::Relaxed);
    assert_eq!(removed, 334);
    assert!(pool.remove(handles[0]).is_none());
    pool.retain(|_, v| v.1 % 2 == 0);
    let after_retain = drops.load(Ordering::Relaxed);
    assert_eq!(pool.len(), 1000 - after_retain);
    pool.clear();
    assert_eq!(drops.load(Ordering::Relaxed), 1000);

    for i in 0..100 {
        pool.insert(Counted(drops.clone(), i));
    }
    let mut it = pool.into_iter();
    assert_eq!(it.len(), 100);
    drop(it.next());
    drop(it);
    assert_eq!(drops.load(Ordering::Relaxed), 1100);

    let mut pool = Pool::new();
    for i in 0..50 {
        pool.insert(Counted(drops.clone(), i));
    }
    drop(pool);
    assert_eq!(drops.load(Ordering::Relaxed), 1150);
}

#[test]
fn addresses_stay_put_while_the_pool_grows() {
    let mut pool = Pool::new();
    let first = pool.insert(42u64);
    let address = &pool[first] as *const u64;
    let mut samples = Vec::new();
    for i in 0..2_000_000u64 {
        let h = pool.insert(i);
        if i % 99_991 == 0 {
            samples.push((h, &pool[h] as *const u64));
        }
        if i % 7 == 0 {
            pool.remove(h);
        }
    }
    assert_eq!(&pool[first] as *const u64, address);
    assert_eq!(pool[first], 42);
    for (h, p) in samples {
        if let Some(value) = pool.get(h) {
            assert_eq!(value as *const u64, p);
        }
    }
}

#[test]
fn limits_and_errors() {
    let err = Pool::<u64>::with_max_capacity(u32::MAX as usize + 1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("u32::MAX"), "{err}");

    let mut empty = Pool::with_max_capacity(0).unwrap();
    assert_eq!(empty.try_insert(5).unwrap_err().0, 5);

    let mut pool = Pool::with_max_capacity(3).unwrap();
    let handles: Vec<_> = (0..3).map(|i| pool.try_insert(i).unwrap()).collect();
    for _ in 0..5 {
        let (value, err) = pool.try_insert(9).unwrap_err();
        assert_eq!(value, 9);
        assert_eq!(err.kind(), ErrorKind::OutOfMemory);
        assert_eq!(err.limit(), Some(("max_capacity", 3)));
    }
    assert_eq!(pool.len(), 3);
    pool.remove(handles[1]);
    let h = pool.try_insert(7).unwrap();
    assert_eq!(h.index(), 1);
    let panic = std::panic::catch_unwind(move || pool.insert(8)).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("Pool::insert failed"));
}

#[test]
fn zero_sized_and_large_values() {
    let mut units = Pool::new();
    let handles: Vec<_> = (0..100_000).map(|_| units.insert(())).collect();
    assert_eq!(units.len(), 100_000);
    assert_eq!(units.get(handles[99_999]), Some(&()));
    units.remove(handles[5]);
    assert_eq!(units.iter().count(), 99_999);

    #[repr(align(8192))]
    struct Aligned(u8);
    let mut aligned = Pool::new();
    let hs: Vec<_> = (0..10u8).map(|i| aligned.insert(Aligned(i))).collect();
    for (i, h) in hs.iter().enumerate() {
        assert_eq!(&aligned[*h] as *const Aligned as usize % 8192, 0);
        assert_eq!(aligned[*h].0, i as u8);
    }
}

#[test]
fn iteration_and_indexing() {
    let mut pool = Pool::new();
    let hs: Vec<_> = (0..6).map(|i| pool.insert(i * 10)).collect();
    pool.remove(hs[2]);
    pool.remove(hs[4]);
    let seen: Vec<_> = pool.iter().collect();
    assert_eq!(seen, [(hs[0], &0), (hs[1], &10), (hs[3], &30), (hs[5], &50)]);
    for (_, v) in &mut pool {
        *v += 1;
    }
    pool[hs[0]] += 100;
    assert_eq!((&pool).into_iter().map(|(_, v)| *v).collect::<Vec<_>>(), [101, 11, 31, 51]);
    assert_eq!(format!("{pool:?}"), "{Handle(0v1): 101, Handle(1v1): 11, Handle(3v1): 31, Handle(5v1): 51}");
    let mut it = pool.iter_mut();
    assert_eq!(it.len(), 4);
    it.next();
    assert_eq!(it.len(), 3);
}

#[test]
fn pools_move_between_threads() {
    let mut pool = Pool::new();
    let h = pool.insert(String::from("moved"));
    let pool = std::thread::spawn(move || {
        assert_eq!(pool[h], "moved");
        pool
    })
    .join()
    .unwrap();
    let shared = &pool;
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(shared[h], "moved"));
    });
}

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
mod limits {
    use super::*;

    #[test]
    fn rlimit_data_makes_try_insert_fail_cleanly() {
        let outcome = common::in_child("limits::rlimit_data_makes_try_insert_fail_cleanly", || {
            let set = |bytes| common::set_soft_limit(rustix::process::Resource::Data, bytes);
            set(Some(128 << 20));
            let mut pool = Pool::new();
            let mut first = None;
            let err = loop {
                match pool.try_insert([pool.len() as u64; 256]) {
                    Ok(h) => {
                        first.get_or_insert(h);
                        assert!(pool.len() < 1 << 20, "RLIMIT_DATA was not enforced");
                    }
                    Err((value, err)) => {
                        assert_eq!(value[0], pool.len() as u64);
                        break err;
                    }
                }
            };
            assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
            assert!(err.to_string().contains("RLIMIT_DATA"), "{err}");
            let len = pool.len();
            assert!(len > 1000);
            assert_eq!(pool[first.unwrap()][255], 0);
            // A freed slot is reused without new memory.
            pool.remove(first.unwrap());
            assert!(pool.try_insert([1; 256]).is_ok());
            assert!(pool.try_insert([1; 256]).is_err());
            set(None);
            assert!(pool.try_insert([2; 256]).is_ok(), "works again with memory");
            assert_eq!(pool.len(), len + 1);
        });
        outcome.assert_success();
    }
}
