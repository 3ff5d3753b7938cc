//! `Pool` against a `HashMap` model; stale handles, drops, address stability, limits.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;

use proptest::prelude::*;
use vmem::{ErrorKind, Handle, Pool};

#[derive(Clone, Debug)]
enum Op {
    Insert(u32),
    Remove(usize),
    Get(usize),
    GetMut(usize, u32),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => any::<u32>().prop_map(Op::Insert),
        3 => any::<usize>().prop_map(Op::Remove),
        3 => any::<usize>().prop_map(Op::Get),
        1 => (any::<usize>(), any::<u32>()).prop_map(|(i, v)| Op::GetMut(i, v)),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every handle ever issued (live or stale) is checked after every step.
    #[test]
    fn behaves_like_a_hashmap(ops in proptest::collection::vec(op(), 1..300)) {
        let mut pool = Pool::new();
        let mut model: HashMap<Handle, u32> = HashMap::new();
        let mut issued: Vec<Handle> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(v) => {
                    let h = pool.insert(v);
                    prop_assert!(!issued.contains(&h), "handle {:?} issued twice", h);
                    issued.push(h);
                    model.insert(h, v);
                }
                Op::Remove(i) if !issued.is_empty() => {
                    let h = issued[i % issued.len()];
                    prop_assert_eq!(pool.remove(h), model.remove(&h));
                }
                Op::Get(i) if !issued.is_empty() => {
                    let h = issued[i % issued.len()];
                    prop_assert_eq!(pool.get(h), model.get(&h));
                }
                Op::GetMut(i, v) if !issued.is_empty() => {
                    let h = issued[i % issued.len()];
                    if let Some(x) = pool.get_mut(h) { *x = v; }
                    if let Some(x) = model.get_mut(&h) { *x = v; }
                }
                Op::Clear => { pool.clear(); model.clear(); }
                _ => {}
            }
            prop_assert_eq!(pool.len(), model.len());
            for h in &issued {
                prop_assert_eq!(pool.get(*h), model.get(h));
                prop_assert_eq!(pool.contains(*h), model.contains_key(h));
            }
            let mut listed: Vec<(Handle, u32)> = pool.iter().map(|(h, v)| (h, *v)).collect();
            let mut expected: Vec<(Handle, u32)> = model.iter().map(|(h, v)| (*h, *v)).collect();
            listed.sort();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
    }
}

#[test]
fn stale_handles_never_see_another_value() {
    let mut pool = Pool::new();
    let a = pool.insert(1);
    pool.remove(a);
    let b = pool.insert(2); // same slot, next generation
    assert_eq!(a.index(), b.index());
    assert_ne!(a, b);
    assert_eq!(pool.get(a), None);
    assert_eq!(pool.remove(a), None);
    assert_eq!(pool.get(b), Some(&2));
    assert_eq!(pool.get(Handle::from_bits(u64::MAX)), None);
    assert_eq!(pool.get(Handle::from_bits(b.to_bits() + (2 << 32))), None);
    // Forged even generations (never issued) are made odd, and so find nothing either.
    assert_eq!(pool.get(Handle::from_bits(u64::from(b.index()))), None);
    assert_eq!(Handle::from_bits(2 << 32).generation(), 3);
}

#[test]
fn values_never_move() {
    let mut pool = Pool::new();
    let first = pool.insert([7u64; 4]);
    let address = pool.get(first).unwrap() as *const [u64; 4];
    let handles: Vec<Handle> = (0..1_000_000u64).map(|i| pool.insert([i; 4])).collect();
    assert_eq!(pool.get(first).unwrap() as *const [u64; 4], address);
    for (i, h) in handles.iter().enumerate().step_by(1000) {
        assert_eq!(pool[*h], [i as u64; 4]);
    }
    for h in &handles {
        pool.remove(*h);
    }
    assert_eq!(pool.get(first).unwrap() as *const [u64; 4], address);
    assert_eq!(pool.len(), 1);
}

struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn every_value_is_dropped_exactly_once() {
    let drops = Rc::new(Cell::new(0));
    {
        let mut pool = Pool::new();
        let handles: Vec<Handle> = (0..100).map(|_| pool.insert(Counted(drops.clone()))).collect();
        for h in handles.iter().take(30) {
            drop(pool.remove(*h));
        }
        assert_eq!(drops.get(), 30);
        for _ in 0..10 {
            pool.insert(Counted(drops.clone()));
        }
        pool.remove(handles[50]);
        assert_eq!(drops.get(), 31);
    }
    assert_eq!(drops.get(), 110);
}

#[test]
fn limits_are_errors() {
    let mut pool = Pool::with_max_capacity(2).unwrap();
    let a = pool.try_insert('a').unwrap();
    pool.try_insert('b').unwrap();
    let (value, err) = pool.try_insert('c').unwrap_err();
    assert_eq!((value, err.kind()), ('c', ErrorKind::OutOfMemory));
    pool.remove(a);
    pool.try_insert('d').unwrap(); // a freed slot is reused
    assert_eq!(Pool::<u8>::with_max_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(Pool::<u8>::with_max_capacity(usize::MAX).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let result = std::panic::catch_unwind(move || pool[a]);
    assert!(result.is_err(), "indexing with a stale handle panics");
}

#[test]
fn zero_sized_values_work() {
    let mut pool = Pool::new();
    let hs: Vec<Handle> = (0..1000).map(|_| pool.insert(())).collect();
    assert_eq!(pool.len(), 1000);
    assert_eq!(pool.remove(hs[10]), Some(()));
    assert_eq!(pool.get(hs[10]), None);
}
