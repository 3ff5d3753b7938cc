//! `VirtualVec` against `std::vec::Vec`, drop counting, address stability, limits.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use proptest::prelude::*;
use vmem::{ErrorKind, VirtualVec};

#[cfg(unix)]
mod common;

#[derive(Clone, Debug)]
enum Op {
    Push(u16),
    Pop,
    Insert(usize, u16),
    Remove(usize),
    SwapRemove(usize),
    Truncate(usize),
    Clear,
    ExtendFromSlice(Vec<u16>),
    RetainEven,
    Drain(usize, usize),
    ShrinkToFit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u16>().prop_map(Op::Push),
        2 => Just(Op::Pop),
        2 => (any::<usize>(), any::<u16>()).prop_map(|(i, v)| Op::Insert(i, v)),
        2 => any::<usize>().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::SwapRemove),
        1 => any::<usize>().prop_map(Op::Truncate),
        1 => Just(Op::Clear),
        2 => proptest::collection::vec(any::<u16>(), 0..3000).prop_map(Op::ExtendFromSlice),
        1 => Just(Op::RetainEven),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Drain(a, b)),
        1 => Just(Op::ShrinkToFit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn behaves_like_vec(ops in proptest::collection::vec(op(), 1..80)) {
        let mut model: Vec<u16> = Vec::new();
        let mut v: VirtualVec<u16> = VirtualVec::new();
        for op in ops {
            match op {
                Op::Push(x) => { model.push(x); v.push(x); }
                Op::Pop => prop_assert_eq!(model.pop(), v.pop()),
                Op::Insert(i, x) => {
                    let i = i % (model.len() + 1);
                    model.insert(i, x);
                    v.insert(i, x);
                }
                Op::Remove(i) if !model.is_empty() => {
                    let i = i % model.len();
                    prop_assert_eq!(model.remove(i), v.remove(i));
                }
                Op::SwapRemove(i) if !model.is_empty() => {
                    let i = i % model.len();
                    prop_assert_eq!(model.swap_remove(i), v.swap_remove(i));
                }
                Op::Remove(_) | Op::SwapRemove(_) => {}
                Op::Truncate(n) => {
                    let n = n % (model.len() + 2);
                    model.truncate(n);
                    v.truncate(n);
                }
                Op::Clear => { model.clear(); v.clear(); }
                Op::ExtendFromSlice(items) => { model.extend_from_slice(&items); v.extend_from_slice(&items); }
                Op::RetainEven => { model.retain(|x| x % 2 == 0); v.retain(|x| x % 2 == 0); }
                Op::Drain(a, b) => {
                    let a = a % (model.len() + 1);
                    let b = a + b % (model.len() - a + 1);
                    let expected: Vec<u16> = model.drain(a..b).collect();
                    let got: Vec<u16> = v.drain(a..b).collect();
                    prop_assert_eq!(expected, got);
                }
                Op::ShrinkToFit => v.shrink_to_fit(),
            }
            prop_assert_eq!(&model[..], &v[..]);
            prop_assert!(v.capacity() >= v.len());
        }
    }
}

/// Counts drops (and, through `MADE`, creations including clones).
struct Counted {
    drops: Rc<Cell<usize>>,
    id: usize,
}

thread_local! {
    static MADE: Cell<usize> = const { Cell::new(0) };
}

impl Clone for Counted {
    fn clone(&self) -> Counted {
        MADE.with(|m| m.set(m.get() + 1));
        Counted { drops: self.drops.clone(), id: self.id }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn every_element_is_dropped_exactly_once() {
    let drops = Rc::new(Cell::new(0));
    let make = |id| Counted { drops: drops.clone(), id };
    {
        let mut v = VirtualVec::new();
        for i in 0..1000 {
            v.push(make(i));
        }
        v.truncate(900); // 100
        v.remove(0); // 101
        v.swap_remove(0); // 102
        drop(v.pop()); // 103
        v.retain(|c| c.id % 2 == 0); // about half of the rest
        let drained: Vec<Counted> = v.drain(10..20).collect();
        drop(drained);
        let mut partial = v.drain(0..10);
        drop(partial.next());
        drop(partial); // the other 9 are dropped here
        let mut it = v.clone().into_iter();
        drop(it.next());
        drop(it); // the clone's remaining elements
        let _ = v.len();
    }
    // The 1000 originals and every clone: each dropped exactly once.
    let clones = MADE.with(|m| m.get());
    assert!(clones > 0);
    assert_eq!(drops.get(), 1000 + clones);
    let live_after = {
        let v: VirtualVec<Counted> = (0..10).map(make).collect();
        let n = drops.get();
        drop(v);
        drops.get() - n
    };
    assert_eq!(live_after, 10);
}

#[test]
fn panics_in_retain_and_extend_drop_nothing_twice() {
    let drops = Rc::new(Cell::new(0));
    let make = |id| Counted { drops: drops.clone(), id };
    let mut v: VirtualVec<Counted> = (0..100).map(make).collect();
    let result = catch_unwind(AssertUnwindSafe(|| {
        v.retain(|c| {
            assert!(c.id != 50, "boom");
            c.id % 2 == 0
        })
    }));
    assert!(result.is_err());
    // 25 odd elements below 50 were removed; everything from 50 on is kept in order.
    assert_eq!(drops.get(), 25);
    assert_eq!(v.len(), 75);
    assert!(v.iter().take(25).all(|c| c.id % 2 == 0));
    assert!(v.iter().skip(25).map(|c| c.id).eq(50..100));
    let result = catch_unwind(AssertUnwindSafe(|| {
        v.extend((100..200).map(|i| {
            assert!(i != 150, "boom");
            make(i)
        }))
    }));
    assert!(result.is_err());
    assert_eq!(v.len(), 125);
    drop(v);
    assert_eq!(drops.get(), 150); // 100 + the 50 made before the panic
}

#[test]
fn elements_never_move_while_it_grows() {
    let mut v = VirtualVec::new();
    v.push(0u64);
    let first = v.as_ptr();
    let first_ref: *const u64 = &v[0];
    for i in 1..5_000_000u64 {
        v.push(i);
    }
    assert_eq!(v.as_ptr(), first);
    assert_eq!(&v[0] as *const u64, first_ref);
    assert_eq!(v[4_999_999], 4_999_999);
    assert!(v.capacity() >= 5_000_000);
}

#[test]
fn the_maximum_returns_errors_and_keeps_everything() {
    let mut v = VirtualVec::with_max_capacity(1000).unwrap();
    for i in 0..1000u32 {
        v.try_push(i).unwrap();
    }
    let (value, err) = v.try_push(1000).unwrap_err();
    assert_eq!(value, 1000);
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert!(err.to_string().contains("max_capacity"), "{err}");
    assert!(v.try_reserve(1).is_err());
    assert!(v.try_extend_from_slice(&[1, 2]).is_err());
    let (value, err) = v.try_insert(0, 7).unwrap_err();
    assert_eq!((value, err.kind()), (7, ErrorKind::OutOfMemory));
    let (_, err) = VirtualVec::with_max_capacity(10).unwrap().try_insert(1, 7u8).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
    assert!(v.iter().copied().eq(0..1000));
    // A push past the maximum panics with the reason, as `Vec` does on capacity overflow.
    let panic = catch_unwind(AssertUnwindSafe(|| v.push(0))).unwrap_err();
    assert!(panic.downcast_ref::<String>().unwrap().contains("maximum capacity"));
}

#[test]
fn bad_sizes_are_errors() {
    assert_eq!(VirtualVec::<u8>::with_max_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(VirtualVec::<u64>::with_max_capacity(usize::MAX).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert!(VirtualVec::<u64>::with_max_capacity(usize::MAX / 8).is_err()); // larger than any address space
    let mut v = VirtualVec::<u64>::new();
    assert!(v.try_reserve(usize::MAX).is_err());
    assert!(v.try_reserve(usize::MAX / 8).is_err());
    assert!(v.is_empty());
    v.push(1);
    assert_eq!(v, [1]);
}

#[test]
fn zero_sized_types_work() {
    let mut v = VirtualVec::new();
    for _ in 0..1_000_000 {
        v.push(());
    }
    assert_eq!(v.len(), 1_000_000);
    assert_eq!(v.max_capacity(), usize::MAX);
    assert_eq!(v.pop(), Some(()));
    v.retain(|_| false);
    assert!(v.is_empty());
    let v = VirtualVec::<()>::with_max_capacity(3).unwrap();
    assert_eq!(v.max_capacity(), 3);
}

#[test]
fn traits_behave_like_vec() {
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};
    let v: VirtualVec<i32> = (1..=3).collect();
    let w = v.clone();
    assert_eq!(v, w);
    assert_eq!(format!("{v:?}"), "[1, 2, 3]");
    let hash = |x: &dyn Fn(&mut DefaultHasher)| {
        let mut h = DefaultHasher::new();
        x(&mut h);
        h.finish()
    };
    assert_eq!(hash(&|h| v.hash(h)), hash(&|h| vec![1, 2, 3].hash(h)));
    assert_eq!(v[1..], [2, 3]);
    let mut m = v.clone();
    for x in &mut m {
        *x *= 10;
    }
    m.extend(&[40]);
    assert_eq!(m, vec![10, 20, 30, 40]);
    assert_eq!((&m).into_iter().sum::<i32>(), 100);
    assert!(v < m);
    assert_eq!(VirtualVec::<u8>::default().len(), 0);
}

#[cfg(target_os = "linux")]
#[test]
fn shrink_to_fit_returns_memory() {
    common::in_child("shrink_to_fit_returns_memory", || {
        let before = common::rss();
        let mut v: VirtualVec<u64> = (0..(64u64 << 20) / 8).collect(); // 64 MiB
        let full = common::rss();
        assert!(full >= before + (60 << 20), "RSS {full} after filling, {before} before");
        v.truncate(1000);
        v.shrink_to_fit();
        assert!(v.capacity() < 2000);
        let after = common::rss();
        assert!(after < before + (4 << 20), "RSS {after} after shrink_to_fit, {before} before");
        assert!(v.iter().copied().eq(0..1000));
        v.push(5); // grows again, and the new element reads back
        assert_eq!(v[1000], 5);
    })
    .assert_success();
}

#[cfg(target_os = "linux")]
#[test]
fn rlimit_data_makes_try_push_fail_cleanly() {
    common::in_child("rlimit_data_makes_try_push_fail_cleanly", || {
        let mut v: VirtualVec<u64> = VirtualVec::new();
        v.try_reserve(1 << 20).unwrap();
        common::set_limit(rustix::process::Resource::Data, 128 << 20);
        let mut pushed = 0u64;
        let err = loop {
            match v.try_push(pushed) {
                Ok(()) => pushed += 1,
                Err((value, e)) => {
                    assert_eq!(value, pushed);
                    break e;
                }
            }
            assert!(pushed < 1 << 30, "RLIMIT_DATA was not enforced");
        };
        assert_eq!(err.kind(), ErrorKind::OutOfMemory, "{err}");
        assert!(v.iter().copied().eq(0..pushed));
        assert!(v.pop().is_some());
    })
    .assert_success();
}
