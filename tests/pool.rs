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
    /// `insert_with_key`, checking that the closure sees the key it returns.
    InsertWithKey(u16),
    /// `insert_with_key` whose closure panics: the pool must be as it was.
    InsertWithKeyPanics,
    /// `try_vacant_entry`, then insert (true) or drop the entry (false: the next insert must
    /// get the key it showed).
    Vacant(u16, bool),
    /// `get_disjoint_mut` of three handles among all handed out, writing through them.
    GetDisjoint([usize; 3], u16),
    /// The same with ten handles (past eight, duplicates are found another way).
    GetDisjointMany([usize; 10], u16),
    /// `drain`, taking this many values before dropping it.
    Drain(usize),
    /// `try_reserve(n)`, then `n` inserts that must not commit.
    Reserve(usize),
    /// Replace the pool with its clone.
    Clone,
    /// Replace the pool with what a serde round trip gives (with the `serde` feature).
    RoundTrip,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => any::<u16>().prop_map(Op::Insert),
        6 => any::<usize>().prop_map(Op::Remove),
        6 => any::<usize>().prop_map(Op::Get),
        3 => (any::<usize>(), any::<u16>()).prop_map(|(i, v)| Op::Set(i, v)),
        1 => Just(Op::Clear),
        2 => any::<u16>().prop_map(Op::InsertWithKey),
        1 => Just(Op::InsertWithKeyPanics),
        2 => (any::<u16>(), any::<bool>()).prop_map(|(v, b)| Op::Vacant(v, b)),
        3 => (any::<[usize; 3]>(), any::<u16>()).prop_map(|(i, v)| Op::GetDisjoint(i, v)),
        2 => (any::<[usize; 10]>(), any::<u16>()).prop_map(|(i, v)| Op::GetDisjointMany(i, v)),
        1 => (0usize..50).prop_map(Op::Drain),
        1 => (0usize..20).prop_map(Op::Reserve),
        1 => Just(Op::Clone),
        1 => Just(Op::RoundTrip),
    ]
}

/// The pool after a serde round trip through JSON (the pool itself without the feature).
fn round_trip(pool: Pool<u16>) -> Pool<u16> {
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_string(&pool).unwrap();
        let back: Pool<u16> = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json, "a second round trip writes the same");
        back
    }
    #[cfg(not(feature = "serde"))]
    pool
}

/// Inserts `v` into the pool and the model, checking the handle is new and the limit holds.
fn insert_checked(
    pool: &mut Pool<u16>,
    model: &mut HashMap<Handle, u16>,
    issued: &mut Vec<Handle>,
    unique: &mut HashSet<Handle>,
    max: Option<usize>,
    v: u16,
) -> Result<Option<Handle>, TestCaseError> {
    match pool.try_insert(v) {
        Ok(h) => {
            prop_assert!(unique.insert(h), "handle {:?} handed out twice", h);
            prop_assert!(model.len() < max.unwrap_or(usize::MAX));
            issued.push(h);
            model.insert(h, v);
            Ok(Some(h))
        }
        Err((back, err)) => {
            prop_assert_eq!(back, v);
            prop_assert_eq!(err.kind(), ErrorKind::OutOfMemory);
            prop_assert_eq!(Some(model.len()), max);
            Ok(None)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A pool behaves as a `HashMap<Handle, T>` that never hands out a handle twice, and
    /// whose stale handles find nothing; and so do its clone and what a serde round trip
    /// gives, which hand out the same handles next.
    #[test]
    fn behaves_like_a_map_of_handles(max in prop::option::of(1usize..40), ops in prop::collection::vec(op(), 0..400)) {
        let mut pool = match max {
            Some(max) => Pool::with_max_capacity(max).unwrap(),
            None => Pool::new(),
        };
        let mut model: HashMap<Handle, u16> = HashMap::new();
        let mut issued: Vec<Handle> = Vec::new();
        let mut unique: HashSet<Handle> = HashSet::new();
        let full = |model: &HashMap<Handle, u16>| Some(model.len()) == max;
        for op in ops {
            match op {
                Op::Insert(v) => {
                    insert_checked(&mut pool, &mut model, &mut issued, &mut unique, max, v)?;
                }
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
                Op::InsertWithKey(v) if !full(&model) => {
                    let mut seen = None;
                    let h = pool.insert_with_key(|key| {
                        seen = Some(key);
                        v
                    });
                    prop_assert_eq!(seen, Some(h));
                    prop_assert!(unique.insert(h), "handle {:?} handed out twice", h);
                    issued.push(h);
                    model.insert(h, v);
                }
                Op::InsertWithKeyPanics if !full(&model) => {
                    let mut seen = None;
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        pool.insert_with_key(|key| -> u16 {
                            seen = Some(key);
                            panic!("no value")
                        })
                    }));
                    prop_assert!(outcome.is_err());
                    prop_assert_eq!(pool.len(), model.len());
                    let seen = seen.unwrap();
                    prop_assert!(!pool.contains(seen));
                    // The slot is still the next one.
                    let h = insert_checked(&mut pool, &mut model, &mut issued, &mut unique, max, 1)?;
                    prop_assert_eq!(h, Some(seen));
                }
                Op::Vacant(v, keep) => match pool.try_vacant_entry() {
                    Ok(entry) => {
                        prop_assert!(!full(&model));
                        let key = entry.key();
                        if keep {
                            prop_assert_eq!(*entry.insert(v), v);
                            prop_assert!(unique.insert(key));
                            issued.push(key);
                            model.insert(key, v);
                        } else {
                            prop_assert_eq!(pool.len(), model.len());
                            let h = insert_checked(&mut pool, &mut model, &mut issued, &mut unique, max, v)?;
                            prop_assert_eq!(h, Some(key));
                        }
                    }
                    Err(err) => {
                        prop_assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                        prop_assert!(full(&model));
                    }
                },
                Op::GetDisjoint(picks, v) if !issued.is_empty() => {
                    let hs = picks.map(|i| issued[i % issued.len()]);
                    let distinct = hs[0] != hs[1] && hs[1] != hs[2] && hs[0] != hs[2];
                    let live = hs.iter().all(|h| model.contains_key(h));
                    match pool.get_disjoint_mut(hs) {
                        Some(values) => {
                            prop_assert!(distinct && live);
                            for (value, h) in values.into_iter().zip(hs) {
                                prop_assert_eq!(*value, model[&h]);
                                *value = v;
                            }
                            for h in hs {
                                model.insert(h, v);
                            }
                        }
                        None => prop_assert!(!(distinct && live)),
                    }
                    // Also the two-key form, and the marks it leaves are gone.
                    let two = pool.get_disjoint_mut([hs[0], hs[1]]).is_some();
                    prop_assert_eq!(two, hs[0] != hs[1] && model.contains_key(&hs[0]) && model.contains_key(&hs[1]));
                }
                Op::GetDisjointMany(picks, v) if !issued.is_empty() => {
                    // Mostly few distinct live handles: pick among the last twelve issued.
                    let recent = &issued[issued.len().saturating_sub(12)..];
                    let hs = picks.map(|i| recent[i % recent.len()]);
                    let distinct = (0..10).all(|i| (0..i).all(|j| hs[i] != hs[j]));
                    let live = hs.iter().all(|h| model.contains_key(h));
                    match pool.get_disjoint_mut(hs) {
                        Some(values) => {
                            prop_assert!(distinct && live);
                            for (value, h) in values.into_iter().zip(hs) {
                                prop_assert_eq!(*value, model[&h]);
                                *value = v;
                                model.insert(h, v);
                            }
                        }
                        None => prop_assert!(!(distinct && live)),
                    }
                    for h in hs {
                        prop_assert_eq!(pool.get(h), model.get(&h), "no mark left");
                    }
                }
                Op::Drain(take) => {
                    let mut expected: Vec<(Handle, u16)> = model.drain().collect();
                    expected.sort();
                    let mut drain = pool.drain();
                    prop_assert_eq!(drain.len(), expected.len());
                    let got: Vec<(Handle, u16)> = drain.by_ref().take(take).collect();
                    prop_assert_eq!(&got[..], &expected[..take.min(expected.len())]);
                    drop(drain);
                    prop_assert!(pool.is_empty());
                }
                Op::Reserve(n) => match pool.try_reserve(n) {
                    Ok(()) => {
                        prop_assert!(model.len() + n <= max.unwrap_or(usize::MAX));
                        let capacity = pool.capacity();
                        for v in 0..n as u16 {
                            let h = insert_checked(&mut pool, &mut model, &mut issued, &mut unique, max, v)?;
                            prop_assert!(h.is_some());
                        }
                        prop_assert_eq!(pool.capacity(), capacity, "reserved: no commit");
                    }
                    Err(err) => {
                        prop_assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                        prop_assert!(model.len() + n > max.unwrap_or(usize::MAX));
                    }
                },
                Op::Clone => {
                    let clone = pool.clone();
                    prop_assert_eq!(clone.iter().collect::<Vec<_>>(), pool.iter().collect::<Vec<_>>());
                    prop_assert_eq!(clone.max_capacity(), pool.max_capacity());
                    pool = clone;
                }
                Op::RoundTrip => {
                    let before: Vec<(Handle, u16)> = pool.iter().map(|(h, v)| (h, *v)).collect();
                    let max_capacity = pool.max_capacity();
                    pool = round_trip(pool);
                    prop_assert_eq!(pool.iter().map(|(h, v)| (h, *v)).collect::<Vec<_>>(), before);
                    prop_assert_eq!(pool.max_capacity(), max_capacity);
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
        let keys: Vec<Handle> = pool.keys().collect();
        prop_assert_eq!(keys, expected.iter().map(|(h, _)| *h).collect::<Vec<_>>());
        let values: Vec<u16> = pool.values().copied().collect();
        prop_assert_eq!(values, expected.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        pool.values_mut().for_each(|v| *v = v.wrapping_add(1));
        prop_assert!(pool.iter().all(|(h, v)| *v == model[&h].wrapping_add(1)));
        let mut owned: Vec<(Handle, u16)> = pool.into_iter().map(|(h, v)| (h, v.wrapping_sub(1))).collect();
        owned.sort();
        prop_assert_eq!(owned, expected);
    }

    /// A clone and a serde round trip behave as the original from then on: the same ops on
    /// both give the same handles and answers (the free stack, the generations of vacant
    /// slots and of slots cleared are all kept).
    #[test]
    fn clones_and_round_trips_continue_as_the_original(
        max in prop::option::of(1usize..40),
        before in prop::collection::vec(op(), 0..200),
        after in prop::collection::vec(op(), 0..200),
        by_serde in any::<bool>(),
    ) {
        let mut pool = match max {
            Some(max) => Pool::with_max_capacity(max).unwrap(),
            None => Pool::new(),
        };
        let mut issued: Vec<Handle> = Vec::new();
        let simple = |pool: &mut Pool<u16>, op: &Op, issued: &mut Vec<Handle>| -> Vec<Option<u64>> {
            let pick = |i: usize| (!issued.is_empty()).then(|| issued[i % issued.len()]);
            match *op {
                Op::Insert(v) | Op::InsertWithKey(v) | Op::Vacant(v, _) => {
                    let h = pool.try_insert(v).ok();
                    issued.extend(h);
                    vec![h.map(Handle::to_bits)]
                }
                Op::Remove(i) => vec![pick(i).and_then(|h| pool.remove(h)).map(u64::from)],
                Op::Get(i) | Op::Set(i, _) => vec![pick(i).and_then(|h| pool.get(h).copied()).map(u64::from)],
                Op::Clear | Op::Drain(_) => {
                    pool.clear();
                    vec![]
                }
                _ => vec![],
            }
        };
        for op in &before {
            simple(&mut pool, op, &mut issued);
        }
        let mut copy = if by_serde { round_trip(pool.clone()) } else { pool.clone() };
        // Every handle ever issued answers the same in both.
        for &h in &issued {
            prop_assert_eq!(copy.get(h), pool.get(h));
        }
        let mut issued_copy = issued.clone();
        for op in &after {
            let a = simple(&mut pool, op, &mut issued);
            let b = simple(&mut copy, op, &mut issued_copy);
            prop_assert_eq!(a, b, "after {:?}", op);
        }
        prop_assert_eq!(pool.len(), copy.len());
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

// The API after slab and slotmap (issue 16): typed keys, the null handle, get_disjoint_mut,
// insert_with_key and vacant entries, drain, keys/values, reserve, Clone, SecondaryPool.

vmem::new_key_type! {
    /// A typed key of the tests.
    pub struct NodeKey;
    struct OtherKey;
}

#[test]
fn typed_keys_work_as_handles_do() {
    use vmem::pool::Key;
    assert_handle_traits::<NodeKey>();
    assert_eq!(std::mem::size_of::<NodeKey>(), 8);
    assert_eq!(std::mem::size_of::<Option<NodeKey>>(), 8);
    let mut pool = Pool::<String, NodeKey>::with_key();
    let a = pool.insert("a".to_string());
    let b = pool.insert_with_key(|key| format!("{key:?}"));
    assert_eq!(pool[b], "NodeKey(1v1)");
    assert!(a < b);
    let handle: Handle = a.into();
    assert_eq!((NodeKey::from(handle), a.handle()), (a, handle));
    assert!(NodeKey::default().is_null() && NodeKey::null() == NodeKey::default());
    assert_eq!(format!("{:?}", NodeKey::null()), "NodeKey(null)");
    assert_eq!(pool.get(NodeKey::null()), None);
    assert_eq!(pool.remove(a).as_deref(), Some("a"));
    assert_eq!(pool.get(a), None);
    assert_eq!(pool.keys().collect::<Vec<_>>(), [b]);
    assert_eq!(pool.iter().map(|(k, v)| (k, v.as_str())).collect::<Vec<_>>(), [(b, "NodeKey(1v1)")]);
    let drained: Vec<(NodeKey, String)> = pool.drain().collect();
    assert_eq!(drained.len(), 1);

    let mut small = Pool::<u8, OtherKey>::with_max_capacity_and_key(1).unwrap();
    let only: OtherKey = small.insert(1);
    assert!(small.try_insert(2).is_err());
    assert_eq!(small.get_disjoint_mut([only]).map(|[v]| *v), Some(1));
    assert!(Pool::<u8, OtherKey>::try_with_capacity_and_key(100).unwrap().capacity() >= 100);
    assert!(Pool::<u8, OtherKey>::with_capacity_and_key(100).capacity() >= 100);
    let cloned: Pool<u8, OtherKey> = small.clone();
    assert_eq!(cloned[only], 1);
    let owned: Vec<(OtherKey, u8)> = small.into_iter().collect();
    assert_eq!(owned, [(only, 1)]);

    // `Pool<T>` is `Pool<T, Handle>`.
    let plain: Pool<u8, Handle> = Pool::<u8>::new();
    assert!(plain.is_empty());
}

#[test]
fn the_null_handle_refers_to_nothing() {
    assert_eq!(Handle::default(), Handle::NULL);
    assert_eq!((Handle::NULL.index(), Handle::NULL.generation()), (u32::MAX, 1));
    assert!(Handle::NULL.is_null());
    assert_eq!(format!("{:?}", Handle::NULL), "Handle(null)");
    assert_eq!(Handle::from_bits(Handle::NULL.to_bits()), Some(Handle::NULL));
    let mut pool = Pool::new();
    let h = pool.insert(1);
    assert!(!h.is_null());
    assert_eq!(pool.get(Handle::NULL), None);
    assert_eq!(pool.get_mut(Handle::NULL), None);
    assert!(!pool.contains(Handle::NULL));
    assert_eq!(pool.remove(Handle::NULL), None);
    assert!(pool.get_disjoint_mut([Handle::NULL]).is_none());
    assert!(pool.get_disjoint_mut([h, Handle::NULL]).is_none());
    let panic = std::panic::catch_unwind(|| pool[Handle::NULL]).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("Handle(null)"));
    assert_eq!(pool.len(), 1);
}

#[test]
fn get_disjoint_mut_checks_every_key_and_leaves_no_mark() {
    let mut pool = Pool::new();
    let hs: Vec<_> = (0..5).map(|i| pool.insert(i)).collect();
    assert_eq!(pool.get_disjoint_mut::<0>([]), Some([]));
    let [a] = pool.get_disjoint_mut([hs[0]]).unwrap();
    *a = 10;
    // The duplicate is the third key: the marks of the first two are undone.
    assert!(pool.get_disjoint_mut([hs[1], hs[2], hs[1]]).is_none());
    assert!(hs.iter().all(|&h| pool.contains(h)));
    let [x, y, z] = pool.get_disjoint_mut([hs[4], hs[0], hs[2]]).unwrap();
    (*x, *y, *z) = (*y, *z, *x);
    assert_eq!(pool.values().copied().collect::<Vec<_>>(), [2, 1, 4, 3, 10]);
    pool.remove(hs[3]);
    assert!(pool.get_disjoint_mut([hs[0], hs[3]]).is_none());
    let new = pool.insert(7); // slot 3 again, a newer generation
    assert_eq!(new.index(), hs[3].index());
    assert!(pool.get_disjoint_mut([new, hs[3]]).is_none(), "the old handle is stale");
    assert!(pool.get_disjoint_mut([hs[3], new]).is_none());
    assert_eq!(pool.get_disjoint_mut([new, hs[0]]).map(|[a, b]| (*a, *b)), Some((7, 2)));
    let far = Handle::from_bits(1000 << 32 | 1).unwrap();
    assert!(pool.get_disjoint_mut([hs[0], far]).is_none());
    assert!(pool.iter().all(|(h, _)| pool.contains(h)));

    // Past eight keys (duplicates found by marking the slots).
    let hs: Vec<_> = (0..20).map(|i| pool.insert(i)).collect();
    let twelve: [Handle; 12] = std::array::from_fn(|i| hs[i]);
    for duplicate_at in 1..12 {
        let mut keys = twelve;
        keys[duplicate_at] = keys[duplicate_at - 1];
        assert!(pool.get_disjoint_mut(keys).is_none());
        keys[duplicate_at] = keys[0];
        assert!(pool.get_disjoint_mut(keys).is_none());
        assert!(hs.iter().all(|&h| pool.contains(h)), "the marks are undone");
    }
    let values = pool.get_disjoint_mut(twelve).unwrap();
    for (value, i) in values.into_iter().zip(100..) {
        *value = i;
    }
    assert_eq!(twelve.map(|h| pool[h]), std::array::from_fn(|i| 100 + i as i32));
    let mut stale = twelve;
    pool.remove(hs[11]);
    assert!(pool.get_disjoint_mut(stale).is_none());
    stale[11] = Handle::NULL;
    assert!(pool.get_disjoint_mut(stale).is_none());
    assert!(twelve[..11].iter().all(|&h| pool.contains(h)));

    let mut units = Pool::new();
    let (u1, u2) = (units.insert(()), units.insert(()));
    assert!(units.get_disjoint_mut([u1, u2]).is_some());
    assert!(units.get_disjoint_mut([u2, u2]).is_none());
}

#[test]
fn a_panicking_insert_with_key_leaves_the_pool_as_it_was() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut pool = Pool::new();
    let hs: Vec<_> = (0..4).map(|i| pool.insert(Counted(drops.clone(), i))).collect();
    for freed in [true, false] {
        if freed {
            drop(pool.remove(hs[1])); // the next slot comes off the free stack
        }
        let len = pool.len();
        let mut shown = None;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.insert_with_key(|key| -> Counted {
                shown = Some(key);
                panic!("no value")
            })
        }));
        assert!(outcome.is_err());
        let shown = shown.unwrap();
        assert_eq!(pool.len(), len);
        assert!(!pool.contains(shown));
        assert_eq!(pool.iter().count(), len);
        assert_eq!(pool.insert(Counted(drops.clone(), 9)), shown, "the slot is still the next one");
    }
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    drop(pool);
    assert_eq!(drops.load(Ordering::Relaxed), 6);
}

#[test]
fn vacant_entries_show_the_next_key() {
    let mut pool = Pool::with_max_capacity(2).unwrap();
    let entry = pool.vacant_entry();
    assert_eq!(format!("{entry:?}"), "VacantEntry(Handle(0v1))");
    let key = entry.key(); // the entry is not used again: as if dropped
    assert!(pool.is_empty());
    assert_eq!(pool.insert(String::from("a")), key);
    let entry = pool.try_vacant_entry().unwrap();
    let second = entry.key();
    entry.insert(String::from("b")).push('!');
    assert_eq!(pool[second], "b!");
    assert_eq!(pool.try_vacant_entry().unwrap_err().kind(), ErrorKind::OutOfMemory);
    pool.remove(key);
    let next = pool.vacant_entry().key();
    assert_eq!((next.index(), next.generation()), (0, 3), "the freed slot, a newer generation");
    assert_eq!(pool.len(), 1);
    pool.insert(String::new());
    let panic = std::panic::catch_unwind(move || {
        pool.vacant_entry();
    })
    .unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("Pool::vacant_entry failed"));
}

#[test]
fn drain_empties_the_pool_even_when_dropped_early_or_leaked() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut pool = Pool::new();
    let hs: Vec<_> = (0..10).map(|i| pool.insert(Counted(drops.clone(), i))).collect();
    drop(pool.remove(hs[4]));
    let mut drain = pool.drain();
    assert_eq!(drain.len(), 9);
    let first: Vec<_> = drain.by_ref().take(5).map(|(h, v)| (h, v.1)).collect();
    assert_eq!(first, [(hs[0], 0), (hs[1], 1), (hs[2], 2), (hs[3], 3), (hs[5], 5)]);
    assert_eq!(format!("{drain:?}"), "Drain { remaining: 4 }");
    drop(drain);
    assert_eq!(drops.load(Ordering::Relaxed), 10, "the rest dropped with the drain");
    assert!(pool.is_empty());
    assert!(hs.iter().all(|&h| !pool.contains(h)));
    let again = pool.insert(Counted(drops.clone(), 0));
    assert_eq!(again.index(), 0, "refilled from the lowest slot");
    assert!(again.generation() > hs[0].generation());

    // A leaked drain leaves an empty pool (the values leak).
    let mut pool = Pool::new();
    let hs: Vec<_> = (0..5).map(|i| pool.insert(i.to_string())).collect();
    std::mem::forget(pool.drain());
    assert!(pool.is_empty());
    assert!(hs.iter().all(|&h| pool.get(h).is_none()));
    let h = pool.insert(String::from("new"));
    assert_eq!((h.index(), pool.len()), (0, 1));
    assert!(hs.iter().all(|&old| pool.get(old).is_none()));
}

#[test]
fn reserve_and_with_capacity_commit_ahead() {
    assert_eq!(Pool::<u64>::with_capacity(0).capacity(), 0);
    let mut pool = Pool::<u64>::with_capacity(1000);
    let capacity = pool.capacity();
    assert!(capacity >= 1000);
    for i in 0..1000 {
        pool.insert(i);
    }
    assert_eq!(pool.capacity(), capacity);
    assert_eq!(Pool::<u64>::try_with_capacity(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfMemory);
    assert_eq!(Pool::<u64>::try_with_capacity(u32::MAX as usize + 1).unwrap_err().kind(), ErrorKind::OutOfMemory);

    let mut pool = Pool::<u64>::with_max_capacity(10).unwrap();
    pool.try_reserve(0).unwrap();
    assert_eq!(pool.capacity(), 0, "nothing for nothing");
    let err = pool.try_reserve(11).unwrap_err();
    assert_eq!((err.kind(), err.limit()), (ErrorKind::OutOfMemory, Some(("max_capacity", 10))));
    assert_eq!(pool.capacity(), 0, "an error changes nothing");
    pool.try_reserve(10).unwrap();
    assert_eq!(pool.capacity(), 10);
    let hs: Vec<_> = (0..10).map(|i| pool.insert(i)).collect();
    assert!(pool.try_reserve(1).is_err());
    pool.remove(hs[3]);
    pool.try_reserve(1).unwrap();
    assert!(pool.try_reserve(usize::MAX).is_err());
    let panic = std::panic::catch_unwind(move || pool.reserve(2)).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("Pool::reserve failed"));
}

/// Counts the values alive (clones included), and panics when cloning one whose number is
/// `panic_at`.
#[derive(Debug)]
struct Tracked {
    alive: Arc<AtomicUsize>,
    n: u32,
    panic_at: u32,
}

impl Tracked {
    fn new(alive: &Arc<AtomicUsize>, n: u32, panic_at: u32) -> Tracked {
        alive.fetch_add(1, Ordering::Relaxed);
        Tracked { alive: alive.clone(), n, panic_at }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        assert_ne!(self.n, self.panic_at, "clone refused");
        Tracked::new(&self.alive, self.n, self.panic_at)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::Relaxed);
    }
}

#[test]
fn clones_keep_every_handle_and_drop_what_they_made() {
    let alive = Arc::new(AtomicUsize::new(0));
    let mut pool = Pool::new();
    let mut issued: Vec<Handle> = (0..20).map(|i| pool.insert(Tracked::new(&alive, i, u32::MAX))).collect();
    pool.clear(); // slots 0..20 keep their generations
    issued.extend((0..8).map(|i| pool.insert(Tracked::new(&alive, i, 5))));
    pool.remove(issued[22]);
    pool.remove(issued[26]);
    assert_eq!(alive.load(Ordering::Relaxed), 6);

    let clone = std::panic::catch_unwind(|| pool.clone());
    assert!(clone.is_err(), "value 5 refuses to be cloned");
    assert_eq!(alive.load(Ordering::Relaxed), 6, "the clones made before the panic are dropped");

    pool.retain(|_, v| v.n != 5);
    let mut clone = pool.clone();
    assert_eq!(alive.load(Ordering::Relaxed), 10);
    for &h in &issued {
        assert_eq!(clone.get(h).map(|v| v.n), pool.get(h).map(|v| v.n), "{h:?}");
    }
    // Both hand out the same handles next, past every old generation.
    for i in 0..30 {
        let (a, b) = (pool.insert(Tracked::new(&alive, i, u32::MAX)), clone.insert(Tracked::new(&alive, i, u32::MAX)));
        assert_eq!(a, b);
        assert!(!issued.contains(&a));
    }
    for &h in &issued {
        assert_eq!(clone.get(h).map(|v| v.n), pool.get(h).map(|v| v.n), "{h:?}");
    }
    drop(clone);
    assert_eq!(alive.load(Ordering::Relaxed), 5 + 30);
    drop(pool);
    assert_eq!(alive.load(Ordering::Relaxed), 0);

    let empty: Pool<u8> = Pool::new();
    assert_eq!(empty.clone().capacity(), 0, "a clone of nothing commits nothing");
}

mod secondary {
    use std::collections::BTreeMap;

    use super::*;
    use vmem::pool::{Key, SecondaryPool};

    #[derive(Clone, Debug)]
    enum SideOp {
        /// In the primary pool.
        Insert,
        Remove(usize),
        Clear,
        /// In the secondary pool, with a key among those issued (or a made-up one).
        SideInsert(usize, u16),
        SideRemove(usize),
        SideGet(usize),
        SideSet(usize, u16),
        SideRetainEven,
        SideClear,
        SideClone,
        SideRoundTrip,
    }

    fn side_op() -> impl Strategy<Value = SideOp> {
        prop_oneof![
            6 => Just(SideOp::Insert),
            4 => any::<usize>().prop_map(SideOp::Remove),
            1 => Just(SideOp::Clear),
            8 => (any::<usize>(), any::<u16>()).prop_map(|(i, v)| SideOp::SideInsert(i, v)),
            3 => any::<usize>().prop_map(SideOp::SideRemove),
            6 => any::<usize>().prop_map(SideOp::SideGet),
            2 => (any::<usize>(), any::<u16>()).prop_map(|(i, v)| SideOp::SideSet(i, v)),
            1 => Just(SideOp::SideRetainEven),
            1 => Just(SideOp::SideClear),
            1 => Just(SideOp::SideClone),
            1 => Just(SideOp::SideRoundTrip),
        ]
    }

    /// What a secondary pool holds for one slot index: the newest generation a key of it
    /// brought, and that key's value if it is there. Older keys are stale.
    #[derive(Clone, Copy, Debug, Default)]
    struct Seen {
        generation: u32,
        value: Option<u16>,
    }

    fn model_insert(model: &mut BTreeMap<u32, Seen>, h: Handle, v: u16) -> Option<u16> {
        if h.is_null() {
            return None;
        }
        let seen = model.entry(h.index()).or_default();
        if h.generation() < seen.generation {
            return None;
        }
        if h.generation() == seen.generation {
            return seen.value.replace(v);
        }
        *seen = Seen { generation: h.generation(), value: Some(v) };
        None
    }

    fn model_get(model: &BTreeMap<u32, Seen>, h: Handle) -> Option<u16> {
        model.get(&h.index()).filter(|s| s.generation == h.generation()).and_then(|s| s.value)
    }

    fn round_trip(side: SecondaryPool<Handle, u16>) -> SecondaryPool<Handle, u16> {
        #[cfg(feature = "serde")]
        {
            let json = serde_json::to_string(&side).unwrap();
            serde_json::from_str(&json).unwrap()
        }
        #[cfg(not(feature = "serde"))]
        side
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A secondary pool keyed by the handles of a real pool (and by made-up and null
        /// handles) behaves as the model: per slot index, the newest key wins and older
        /// ones are stale.
        #[test]
        fn behaves_like_a_map_of_the_newest_keys(ops in prop::collection::vec(side_op(), 0..400)) {
            let mut pool: Pool<()> = Pool::new();
            let mut side: SecondaryPool<Handle, u16> = SecondaryPool::new();
            let mut model: BTreeMap<u32, Seen> = BTreeMap::new();
            let mut issued: Vec<Handle> = vec![Handle::NULL, Handle::from_bits(7 << 32 | 3).unwrap()];
            for op in ops {
                let pick = |i: usize| issued[i % issued.len()];
                match op {
                    SideOp::Insert => issued.push(pool.insert(())),
                    SideOp::Remove(i) => {
                        pool.remove(pick(i));
                    }
                    SideOp::Clear => pool.clear(),
                    SideOp::SideInsert(i, v) => {
                        let h = pick(i);
                        prop_assert_eq!(side.insert(h, v), model_insert(&mut model, h, v), "{:?}", h);
                    }
                    SideOp::SideRemove(i) => {
                        let h = pick(i);
                        let expected = model_get(&model, h);
                        if expected.is_some() {
                            model.get_mut(&h.index()).unwrap().value = None;
                        }
                        prop_assert_eq!(side.remove(h), expected);
                    }
                    SideOp::SideGet(i) => {
                        let h = pick(i);
                        prop_assert_eq!(side.get(h).copied(), model_get(&model, h));
                        prop_assert_eq!(side.contains_key(h), model_get(&model, h).is_some());
                    }
                    SideOp::SideSet(i, v) => {
                        let h = pick(i);
                        let got = side.get_mut(h).map(|x| *x = v);
                        prop_assert_eq!(got.is_some(), model_get(&model, h).is_some());
                        if got.is_some() {
                            model.get_mut(&h.index()).unwrap().value = Some(v);
                        }
                    }
                    SideOp::SideRetainEven => {
                        side.retain(|_, v| *v % 2 == 0);
                        for seen in model.values_mut() {
                            seen.value = seen.value.filter(|v| v % 2 == 0);
                        }
                    }
                    SideOp::SideClear => {
                        side.clear();
                        model.clear();
                    }
                    SideOp::SideClone => side = side.clone(),
                    SideOp::SideRoundTrip => side = round_trip(side),
                }
                let expected: Vec<(u32, u16)> =
                    model.iter().filter_map(|(&i, s)| s.value.map(|v| (i, v))).collect();
                prop_assert_eq!(side.len(), expected.len());
                prop_assert_eq!(side.is_empty(), expected.is_empty());
            }
            let expected: Vec<(Handle, u16)> = model
                .iter()
                .filter_map(|(&i, s)| s.value.map(|v| (Handle::from_bits((i as u64) << 32 | s.generation as u64).unwrap(), v)))
                .collect();
            prop_assert_eq!(side.iter().map(|(h, v)| (h, *v)).collect::<Vec<_>>(), expected.clone());
            prop_assert_eq!(side.iter().len(), expected.len());
            prop_assert_eq!(side.keys().collect::<Vec<_>>(), expected.iter().map(|e| e.0).collect::<Vec<_>>());
            prop_assert_eq!(side.values().copied().collect::<Vec<_>>(), expected.iter().map(|e| e.1).collect::<Vec<_>>());
            side.values_mut().for_each(|v| *v = v.wrapping_add(1));
            for (h, v) in side.iter_mut() {
                prop_assert_eq!(*v, model_get(&model, h).unwrap().wrapping_add(1));
            }
        }
    }

    #[test]
    fn side_data_follows_the_generations_of_the_primary() {
        let mut pool = Pool::<&str, NodeKey>::with_key();
        let mut side = SecondaryPool::<NodeKey, String>::new();
        let a = pool.insert("a");
        let b = pool.insert("b");
        assert_eq!(side.insert(b, "b".into()), None);
        assert_eq!(side.insert(b, "b2".into()).as_deref(), Some("b"));
        assert_eq!((side.len(), &side[b][..]), (1, "b2"));
        assert_eq!(side.get(a), None);
        pool.remove(b);
        let c = pool.insert("c"); // b's slot
        assert_eq!(side.get(c), None, "a newer key finds nothing before it is inserted");
        assert_eq!(side[b], "b2", "the old key's value stays until replaced");
        assert_eq!(side.insert(c, "c".into()), None);
        assert_eq!((side.get(b), side.len()), (None, 1), "replaced");
        assert_eq!(side.insert(b, "stale".into()), None);
        assert_eq!(side[c], "c", "an older key changes nothing");
        assert_eq!(side.remove(c).as_deref(), Some("c"));
        assert_eq!(side.insert(b, "stale".into()), None);
        assert!(side.is_empty(), "still stale after the newer value was removed");
        assert_eq!(side.insert(c, "again".into()), None);
        assert_eq!(side[c], "again", "the key removed may come back");
        assert_eq!(side.insert(NodeKey::null(), "null".into()), None);
        assert!(!side.contains_key(NodeKey::null()));
        assert_eq!(format!("{side:?}"), r#"{NodeKey(1v3): "again"}"#);
        let panic = std::panic::catch_unwind(|| side[a].clone()).unwrap_err();
        assert!(panic.downcast_ref::<String>().unwrap().contains("has no value"));
    }

    #[test]
    fn values_are_dropped_once_and_stay_put() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mut pool = Pool::new();
        let hs: Vec<Handle> = (0..1000).map(|_| pool.insert(())).collect();
        let mut side = SecondaryPool::new();
        for (i, &h) in hs.iter().enumerate() {
            side.insert(h, Counted(drops.clone(), i as u32));
        }
        let address = &side[hs[0]] as *const Counted;
        pool.remove(hs[999]);
        let newer = pool.insert(());
        side.insert(newer, Counted(drops.clone(), 5000));
        assert_eq!(drops.load(Ordering::Relaxed), 1, "the older key's value");
        side.remove(hs[1]);
        assert_eq!(drops.load(Ordering::Relaxed), 2);
        side.retain(|_, v| v.1 % 2 == 0);
        assert_eq!(drops.load(Ordering::Relaxed), 2 + 498, "the odd ones but 1 (removed) and 999 (replaced)");
        assert_eq!(&side[hs[0]] as *const Counted, address, "values do not move");
        side.clear();
        assert_eq!(drops.load(Ordering::Relaxed), 1001);
        assert!(side.is_empty() && side.get(hs[0]).is_none());
        side.insert(hs[0], Counted(drops.clone(), 0));
        drop(side);
        assert_eq!(drops.load(Ordering::Relaxed), 1002);
    }

    #[test]
    fn a_key_past_the_maximum_is_an_error_not_a_panic() {
        let mut side = SecondaryPool::<Handle, [u64; 512]>::new();
        let far = Handle::from_bits((u32::MAX as u64 - 1) << 32 | 1).unwrap();
        let (value, err) = side.try_insert(far, [3; 512]).unwrap_err();
        assert_eq!((value[0], err.kind()), (3, ErrorKind::OutOfMemory));
        assert!(side.is_empty());
        let panic = std::panic::catch_unwind(move || side.insert(far, [0; 512])).unwrap_err();
        assert!(panic.downcast_ref::<String>().unwrap().contains("SecondaryPool::insert failed"));
    }
}

/// The `serde` feature: round trips keep every handle; forged input is an error.
#[cfg(feature = "serde")]
mod serde_round_trips {
    use super::*;
    use vmem::pool::SecondaryPool;

    fn back<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    /// The error a forged pool gives.
    fn refused(json: &str) -> String {
        match serde_json::from_str::<Pool<u8>>(json) {
            Ok(pool) => panic!("accepted {json}: {pool:?}"),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn handles_and_keys_round_trip() {
        let mut pool = Pool::new();
        let h = pool.insert(1);
        assert_eq!(back::<Handle>(&serde_json::to_string(&h).unwrap()), h);
        assert_eq!(back::<Handle>(&serde_json::to_string(&Handle::NULL).unwrap()), Handle::NULL);
        let mut typed = Pool::<u8, NodeKey>::with_key();
        let k = typed.insert(1);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, r#"{"index":0,"generation":1}"#, "a typed key writes as its handle");
        assert_eq!(back::<NodeKey>(&json), k);
        for forged in [
            r#"{"index":0,"generation":0}"#,
            r#"{"index":0,"generation":2}"#,
            r#"{"index":0,"generation":4294967295}"#,
            r#"{"index":4294967295,"generation":3}"#,
            r#"{"index":0}"#,
            r#"{"index":0,"generation":1,"extra":1}"#,
        ] {
            assert!(serde_json::from_str::<Handle>(forged).is_err(), "{forged}");
            assert!(serde_json::from_str::<NodeKey>(forged).is_err(), "{forged}");
        }
        let err = serde_json::from_str::<Handle>(r#"{"index":1,"generation":2}"#).unwrap_err();
        assert!(err.to_string().contains("generation 2"), "{err}");
    }

    #[test]
    fn a_round_trip_keeps_live_stale_and_cleared_handles() {
        let mut pool = Pool::with_max_capacity(1000).unwrap();
        let mut issued: Vec<Handle> = (0..100).map(|i| pool.insert(format!("old{i}"))).collect();
        pool.clear();
        issued.extend((0..50).map(|i| pool.insert(format!("v{i}"))));
        for i in (100..150).step_by(3) {
            pool.remove(issued[i]);
        }
        let json = serde_json::to_string(&pool).unwrap();
        let mut copy: Pool<String> = back(&json);
        assert_eq!(copy.max_capacity(), 1000);
        assert_eq!(copy.len(), pool.len());
        for &h in &issued {
            assert_eq!(copy.get(h), pool.get(h), "{h:?}");
        }
        for i in 0..200 {
            let (a, b) = (pool.insert(i.to_string()), copy.insert(i.to_string()));
            assert_eq!(a, b, "the next handles are the same");
            assert!(!issued.contains(&a), "and none is an old one");
        }
        for &h in &issued {
            assert_eq!(copy.get(h), pool.get(h), "{h:?}");
        }

        let empty: Pool<u8> = back(&serde_json::to_string(&Pool::<u8>::new()).unwrap());
        assert_eq!((empty.len(), empty.capacity()), (0, 0), "an empty pool reserves nothing");
        // Values that a format writes as nothing (`()`, `None` in JSON) come back too.
        let mut units = Pool::new();
        let u = units.insert(());
        let units: Pool<()> = back(&serde_json::to_string(&units).unwrap());
        assert_eq!(units.get(u), Some(&()));
        let mut options = Pool::new();
        let (none, some) = (options.insert(None), options.insert(Some(1u8)));
        let options: Pool<Option<u8>> = back(&serde_json::to_string(&options).unwrap());
        assert_eq!((options[none], options[some]), (None, Some(1)));
    }

    #[test]
    fn typed_pools_and_secondary_pools_round_trip() {
        let mut pool = Pool::<u32, NodeKey>::with_key();
        let mut side = SecondaryPool::<NodeKey, String>::new();
        let keys: Vec<NodeKey> = (0..10).map(|i| pool.insert(i)).collect();
        for &k in &keys[..5] {
            side.insert(k, format!("{k:?}"));
        }
        side.remove(keys[2]);
        let pool2: Pool<u32, NodeKey> = back(&serde_json::to_string(&pool).unwrap());
        let side2: SecondaryPool<NodeKey, String> = back(&serde_json::to_string(&side).unwrap());
        assert_eq!(pool2.iter().collect::<Vec<_>>(), pool.iter().collect::<Vec<_>>());
        assert_eq!(side2.iter().collect::<Vec<_>>(), side.iter().collect::<Vec<_>>());
        let mut side3 = side2.clone();
        // The removed key's slot remembers it: an older key stays stale after the trip.
        assert_eq!(side3.insert(keys[2], "back".into()), None);
        assert_eq!(side3[keys[2]], "back");

        for forged in [
            r#"{"generations":[1],"values":[]}"#,
            r#"{"generations":[2],"values":["x"]}"#,
            r#"{"generations":[4294967295],"values":["x"]}"#,
            r#"{"generations":[1]}"#,
            r#"{"generations":[1],"values":["x"],"more":0}"#,
            r#"[{"generation":1,"value":"x"}]"#,
        ] {
            assert!(serde_json::from_str::<SecondaryPool<Handle, String>>(forged).is_err(), "{forged}");
        }
        let side: SecondaryPool<Handle, ()> = back(r#"{"generations":[0,5,6],"values":[null]}"#);
        assert_eq!(side.keys().collect::<Vec<_>>(), [Handle::from_bits(1 << 32 | 5).unwrap()]);
    }

    #[test]
    fn forged_pools_are_refused() {
        let ok = r#"{"max_capacity":4,"used":3,"generations":[2,1,4294967294,6],"values":[7],"free":[0]}"#;
        let pool: Pool<u8> = back(ok);
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.get(Handle::from_bits(1 << 32 | 1).unwrap()), Some(&7));
        // Slot 2 is retired (lost); slot 3 takes generation 7 after slot 0 (generation 3).
        let mut pool = pool;
        assert_eq!(pool.insert(1).to_bits(), 3);
        assert_eq!(pool.insert(2).to_bits(), 3 << 32 | 7);
        assert_eq!(pool.try_insert(3).unwrap_err().1.kind(), ErrorKind::OutOfMemory);
        // A retired slot on the free stack (removed at the last generation) is skipped.
        let mut pool: Pool<u8> =
            back(r#"{"max_capacity":2,"used":1,"generations":[4294967294],"values":[],"free":[0]}"#);
        assert_eq!(pool.insert(1).index(), 1);
        assert!(pool.try_insert(2).is_err());

        let cases: &[(&str, &str)] = &[
            (r#"{"max_capacity":4294967296,"used":0,"generations":[],"values":[],"free":[]}"#, "max_capacity"),
            (r#"{"max_capacity":1,"used":0,"generations":[0,0],"values":[],"free":[]}"#, "more than its max_capacity"),
            (r#"{"max_capacity":4,"used":2,"generations":[1],"values":[1],"free":[]}"#, "used is 2"),
            (r#"{"max_capacity":4,"used":1,"generations":[2],"values":[1],"free":[0]}"#, "1 values for 0 occupied"),
            (r#"{"max_capacity":4,"used":1,"generations":[1],"values":[],"free":[]}"#, "0 values for 1 occupied"),
            (r#"{"max_capacity":4,"used":2,"generations":[1,3],"values":[1,2,3],"free":[]}"#, "3 values for 2"),
            (r#"{"max_capacity":4,"used":1,"generations":[4294967295],"values":[1],"free":[]}"#, "past the last"),
            (r#"{"max_capacity":4,"used":0,"generations":[1],"values":[1],"free":[]}"#, "not below used (0)"),
            (r#"{"max_capacity":4,"used":1,"generations":[2,3],"values":[1],"free":[0]}"#, "not below used (1)"),
            (
                r#"{"max_capacity":4,"used":1,"generations":[2],"values":[],"free":[1]}"#,
                "free-stack entry 1 is not below used",
            ),
            (r#"{"max_capacity":4,"used":1,"generations":[1],"values":[5],"free":[0]}"#, "is an occupied slot"),
            (r#"{"max_capacity":4,"used":1,"generations":[2],"values":[],"free":[0,0]}"#, "twice"),
            (
                r#"{"max_capacity":4,"used":1,"generations":[2],"values":[],"free":[]}"#,
                "neither on the free stack nor retired",
            ),
            (r#"{"max_capacity":4,"used":1,"generations":[2],"values":[],"free":[0],"extra":0}"#, "unknown field"),
            (r#"{"max_capacity":4,"used":1,"generations":[2],"values":[]}"#, "missing field"),
            (r#"{"max_capacity":4,"used":1,"generations":[1],"values":[300],"free":[]}"#, "invalid value"),
            (r#"{"max_capacity":4,"used":-1,"generations":[],"values":[],"free":[]}"#, "invalid value"),
            (r#"{"max_capacity":4,"used":0,"generations":[4294967296],"values":[],"free":[]}"#, "invalid value"),
        ];
        for (json, why) in cases {
            let err = refused(json);
            assert!(err.contains(why), "{json}: {err}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any pool-shaped input either is refused or gives a pool that works: its values
        /// are found by their handles, vacant slots by none, and inserts up to the maximum
        /// hand out new handles that find their values. The input is a valid pool (which
        /// must be accepted) with, half of the time, one thing changed.
        #[test]
        fn arbitrary_input_is_refused_or_gives_a_sound_pool(
            slots in prop::collection::vec((0u8..3, 0u32..4, any::<bool>()), 0..10),
            used_part in 0usize..=10,
            spare in 0usize..3,
            seed in any::<u64>(),
            corruption in prop::option::of((0u8..9, any::<usize>(), prop_oneof![0u32..12, Just(u32::MAX - 2), Just(u32::MAX - 1), Just(u32::MAX)])),
        ) {
            const RETIRED: u32 = u32::MAX - 1;
            let len = slots.len();
            let mut used = (used_part * len / 10) as u64;
            let mut max_capacity = (len + spare) as u64;
            let (mut generations, mut values, mut free) = (Vec::new(), Vec::new(), Vec::new());
            for (i, &(kind, g, stacked)) in slots.iter().enumerate() {
                let generation = match kind {
                    _ if i as u64 >= used => 2 * g,
                    0 => {
                        values.push(i as u8);
                        if stacked { u32::MAX - 2 } else { 2 * g + 1 }
                    }
                    1 => {
                        free.push(i as u32);
                        2 * g
                    }
                    _ => {
                        if stacked {
                            free.push(i as u32);
                        }
                        RETIRED
                    }
                };
                generations.push(generation);
            }
            let mut x = seed | 1;
            for i in (1..free.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                free.swap(i, (x % (i as u64 + 1)) as usize);
            }
            if let Some((kind, at, value)) = corruption {
                match kind {
                    0 if len > 0 => generations[at % len] = value,
                    1 => values.push(value as u8),
                    2 => drop(values.pop()),
                    3 if !free.is_empty() => free.push(free[at % free.len()]),
                    4 => drop(free.pop()),
                    5 => used = value as u64 % 12,
                    6 => max_capacity = if value > 12 { value as u64 + 1 } else { value as u64 },
                    7 => free.push(value % 12),
                    _ => generations.push(value),
                }
            }
            let json = serde_json::json!({
                "max_capacity": max_capacity,
                "used": used,
                "generations": generations,
                "values": values,
                "free": free,
            });
            let mut pool = match serde_json::from_value::<Pool<u8>>(json) {
                Ok(pool) => pool,
                Err(err) => {
                    prop_assert!(corruption.is_some(), "a valid pool refused: {}", err);
                    return Ok(());
                }
            };
            let live: Vec<(Handle, u8)> = generations
                .iter()
                .enumerate()
                .filter(|(_, g)| *g % 2 == 1)
                .zip(&values)
                .map(|((i, g), v)| (Handle::from_bits((i as u64) << 32 | *g as u64).unwrap(), *v))
                .collect();
            prop_assert_eq!(live.len(), values.len());
            prop_assert_eq!(pool.len(), live.len());
            prop_assert_eq!(pool.iter().map(|(h, v)| (h, *v)).collect::<Vec<_>>(), live.clone());
            for (i, g) in generations.iter().enumerate() {
                if g % 2 == 0 {
                    for generation in [g.wrapping_sub(1), g.wrapping_add(1)] {
                        if let Some(h) = Handle::from_bits((i as u64) << 32 | generation as u64) {
                            prop_assert!(!pool.contains(h));
                        }
                    }
                }
            }
            let mut handles: HashSet<Handle> = live.iter().map(|(h, _)| *h).collect();
            let mut model: HashMap<Handle, u8> = live.iter().copied().collect();
            let limit = (max_capacity as usize).min(64);
            for n in 0..limit as u8 {
                match pool.try_insert(n) {
                    Ok(h) => {
                        prop_assert!(handles.insert(h), "{:?} again", h);
                        model.insert(h, n);
                    }
                    Err((_, err)) => {
                        prop_assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                        break;
                    }
                }
            }
            for (h, v) in &model {
                prop_assert_eq!(pool.get(*h), Some(v));
            }
            prop_assert_eq!(pool.len(), model.len());
            let again: Pool<u8> = serde_json::from_str(&serde_json::to_string(&pool).unwrap()).unwrap();
            prop_assert_eq!(again.iter().collect::<Vec<_>>(), pool.iter().collect::<Vec<_>>());
        }
    }
}

/// Every iterator gives the same items through `fold` (what `sum`, `for_each` and most
/// adapters use) as through `next`, over a pool with holes; a `Drain` whose fold panics
/// half-way still drops every value it did not hand out, and leaves the pool empty.
#[test]
fn folds_agree_with_next_and_a_panicking_drain_fold_drops_the_rest() {
    let mut pool = vmem::Pool::new();
    let handles: Vec<_> = (0..1000u64).map(|i| pool.insert(i)).collect();
    for (i, &h) in handles.iter().enumerate() {
        if i % 3 == 1 || (400..450).contains(&i) {
            pool.remove(h);
        }
    }
    let by_next: Vec<(vmem::Handle, u64)> = {
        let mut it = pool.iter();
        std::iter::from_fn(|| it.next().map(|(h, &v)| (h, v))).collect()
    };
    let mut by_fold = Vec::new();
    pool.iter().for_each(|(h, &v)| by_fold.push((h, v)));
    assert_eq!(by_fold, by_next);
    assert_eq!(pool.iter().count(), pool.len());
    assert_eq!(
        pool.keys().fold(Vec::new(), |mut v, k| {
            v.push(k);
            v
        }),
        by_next.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    assert_eq!(pool.values().sum::<u64>(), by_next.iter().map(|p| p.1).sum::<u64>());
    pool.values_mut().for_each(|v| *v += 1);
    pool.iter_mut().for_each(|(_, v)| *v *= 2);
    assert_eq!(pool.values().sum::<u64>(), by_next.iter().map(|p| (p.1 + 1) * 2).sum::<u64>());
    // A fold that has begun part-way through keeps going from there.
    let mut it = pool.iter();
    let first = it.next().map(|(h, _)| h);
    assert_eq!(Some(by_next[0].0), first);
    assert_eq!(it.fold(0, |n, _| n + 1), by_next.len() - 1);
    assert_eq!(pool.drain().fold(0u64, |sum, (_, v)| sum + v), by_next.iter().map(|p| (p.1 + 1) * 2).sum::<u64>());
    assert!(pool.is_empty());

    use std::sync::atomic::{AtomicUsize, Ordering};
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    struct Counted;
    impl Drop for Counted {
        fn drop(&mut self) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut pool = vmem::Pool::new();
    for _ in 0..100 {
        pool.insert(Counted);
    }
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.drain().fold(0, |n, (_, value)| {
            drop(value);
            assert!(n < 40, "a consumer that gives up");
            n + 1
        })
    }));
    assert!(seen.is_err());
    assert_eq!(DROPPED.load(Ordering::Relaxed), 100, "every value dropped once, by the fold or by the drain");
    assert!(pool.is_empty());
    pool.insert(Counted);
    assert_eq!(pool.len(), 1);
}
