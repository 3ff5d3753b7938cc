//! `VirtualVec` as a user sees it: the `Vec` API against `std::vec::Vec` as a model, drop
//! counting (also across panics), address stability, limits, errors, memory returned by
//! `shrink_to_fit`, zero-sized types.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use proptest::prelude::*;
use vmem::{ErrorKind, VirtualVec};

const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------
// Drop tracking
// ---------------------------------------------------------------------------------------

/// Hands out `Tracked` values with unique ids and counts how often each is dropped.
#[derive(Clone, Default)]
struct Tracker {
    drops: Rc<RefCell<Vec<usize>>>,
}

impl Tracker {
    fn make(&self) -> Tracked {
        let mut drops = self.drops.borrow_mut();
        drops.push(0);
        Tracked { id: drops.len() - 1, tracker: self.clone(), panic_on_drop: false }
    }

    fn drops_of(&self, id: usize) -> usize {
        self.drops.borrow()[id]
    }

    fn assert_each_dropped_once(&self) {
        let drops = self.drops.borrow();
        for (id, &n) in drops.iter().enumerate() {
            assert_eq!(n, 1, "value {id} dropped {n} times (all: {drops:?})");
        }
    }
}

thread_local! {
    /// How many more clones of `Tracked` succeed before one panics.
    static CLONE_BUDGET: Cell<usize> = const { Cell::new(usize::MAX) };
}

struct Tracked {
    id: usize,
    tracker: Tracker,
    panic_on_drop: bool,
}

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.id)
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        let budget = CLONE_BUDGET.get();
        if budget == 0 {
            panic!("clone budget exhausted");
        }
        CLONE_BUDGET.set(budget - 1);
        self.tracker.make()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.tracker.drops.borrow_mut()[self.id] += 1;
        if self.panic_on_drop {
            panic!("drop of #{} panics", self.id);
        }
    }
}

fn ids(v: &[Tracked]) -> Vec<usize> {
    v.iter().map(|t| t.id).collect()
}

fn tracked_vec(tracker: &Tracker, n: usize) -> VirtualVec<Tracked> {
    (0..n).map(|_| tracker.make()).collect()
}

// ---------------------------------------------------------------------------------------
// Model test against std::vec::Vec
// ---------------------------------------------------------------------------------------

/// An element that counts how many of its kind are alive, to catch leaks and double drops
/// after every operation.
struct Elem {
    value: u16,
    live: Rc<Cell<i64>>,
}

impl Elem {
    fn new(value: u16, live: &Rc<Cell<i64>>) -> Elem {
        live.set(live.get() + 1);
        Elem { value, live: live.clone() }
    }
}

impl Clone for Elem {
    fn clone(&self) -> Elem {
        Elem::new(self.value, &self.live)
    }
}

impl Drop for Elem {
    fn drop(&mut self) {
        self.live.set(self.live.get() - 1);
    }
}

impl PartialEq for Elem {
    fn eq(&self, other: &Elem) -> bool {
        self.value == other.value
    }
}

impl std::fmt::Debug for Elem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Push(u16),
    TryPush(u16),
    Pop,
    Insert(usize, u16),
    TryInsert(usize, u16),
    Remove(usize),
    TryRemove(usize),
    SwapRemove(usize),
    TrySwapRemove(usize),
    Truncate(usize),
    Clear,
    ExtendFromSlice(Vec<u16>),
    TryExtendFromSlice(Vec<u16>),
    Extend(Vec<u16>),
    Retain(u16),
    RetainMut(u16),
    /// Drain `start..end` (as fractions of the length), yielding `take` items before the drain is dropped.
    Drain(usize, usize, usize),
    TryDrain(usize, usize),
    ShrinkToFit,
    Reserve(usize),
    TryReserve(usize),
    CloneAndCompare,
    IntoIterRoundTrip(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let value = any::<u16>();
    let index = 0usize..80;
    let values = proptest::collection::vec(any::<u16>(), 0..40);
    prop_oneof![
        6 => value.prop_map(Op::Push),
        2 => value.prop_map(Op::TryPush),
        2 => Just(Op::Pop),
        2 => (index.clone(), value).prop_map(|(i, v)| Op::Insert(i, v)),
        2 => (index.clone(), value).prop_map(|(i, v)| Op::TryInsert(i, v)),
        2 => index.clone().prop_map(Op::Remove),
        1 => index.clone().prop_map(Op::TryRemove),
        2 => index.clone().prop_map(Op::SwapRemove),
        1 => index.clone().prop_map(Op::TrySwapRemove),
        1 => index.clone().prop_map(Op::Truncate),
        1 => Just(Op::Clear),
        2 => values.clone().prop_map(Op::ExtendFromSlice),
        1 => values.clone().prop_map(Op::TryExtendFromSlice),
        2 => values.prop_map(Op::Extend),
        1 => (1u16..5).prop_map(Op::Retain),
        1 => (1u16..5).prop_map(Op::RetainMut),
        2 => (index.clone(), index.clone(), 0usize..10).prop_map(|(a, b, t)| Op::Drain(a, b, t)),
        1 => (index.clone(), index.clone()).prop_map(|(a, b)| Op::TryDrain(a, b)),
        1 => Just(Op::ShrinkToFit),
        1 => (0usize..5000).prop_map(Op::Reserve),
        1 => (0usize..5000).prop_map(Op::TryReserve),
        1 => Just(Op::CloneAndCompare),
        1 => (0usize..10).prop_map(Op::IntoIterRoundTrip),
    ]
}

/// Applies `op` to both, the vector limited to `max` elements (the model is limited the
/// same way: where the vector must refuse, it checks the refusal and leaves the model alone).
fn apply(v: &mut VirtualVec<Elem>, model: &mut Vec<Elem>, op: Op, live: &Rc<Cell<i64>>, max: usize) {
    let len = model.len();
    let e = |value| Elem::new(value, live);
    match op {
        Op::Push(x) => {
            if len < max {
                v.push(e(x));
                model.push(e(x));
            } else {
                assert!(v.try_push(e(x)).is_err());
            }
        }
        Op::TryPush(x) => match v.try_push(e(x)) {
            Ok(()) => {
                assert!(len < max);
                model.push(e(x));
            }
            Err((back, err)) => {
                assert_eq!(len, max);
                assert_eq!(back.value, x);
                assert_eq!(err.kind(), ErrorKind::OutOfMemory);
            }
        },
        Op::Pop => assert_eq!(v.pop(), model.pop()),
        Op::Insert(i, x) => {
            if len < max {
                let i = i % (len + 1);
                v.insert(i, e(x));
                model.insert(i, e(x));
            }
        }
        Op::TryInsert(i, x) => match v.try_insert(i, e(x)) {
            Ok(()) => model.insert(i, e(x)),
            Err((back, err)) => {
                assert_eq!(back.value, x);
                let expected = if i > len { ErrorKind::OutOfBounds } else { ErrorKind::OutOfMemory };
                assert_eq!(err.kind(), expected);
                assert!(i > len || len == max);
            }
        },
        Op::Remove(i) => {
            if len > 0 {
                assert_eq!(v.remove(i % len), model.remove(i % len));
            }
        }
        Op::TryRemove(i) => match v.try_remove(i) {
            Ok(x) => assert_eq!(x, model.remove(i)),
            Err(err) => {
                assert!(i >= len);
                assert_eq!(err.kind(), ErrorKind::OutOfBounds);
            }
        },
        Op::SwapRemove(i) => {
            if len > 0 {
                assert_eq!(v.swap_remove(i % len), model.swap_remove(i % len));
            }
        }
        Op::TrySwapRemove(i) => match v.try_swap_remove(i) {
            Ok(x) => assert_eq!(x, model.swap_remove(i)),
            Err(err) => {
                assert!(i >= len);
                assert_eq!(err.kind(), ErrorKind::OutOfBounds);
            }
        },
        Op::Truncate(n) => {
            v.truncate(n);
            model.truncate(n);
        }
        Op::Clear => {
            v.clear();
            model.clear();
        }
        Op::ExtendFromSlice(xs) => {
            let items: Vec<Elem> = xs.into_iter().map(e).collect();
            if len + items.len() <= max {
                v.extend_from_slice(&items);
                model.extend_from_slice(&items);
            }
        }
        Op::TryExtendFromSlice(xs) => {
            let items: Vec<Elem> = xs.into_iter().map(e).collect();
            match v.try_extend_from_slice(&items) {
                Ok(()) => model.extend_from_slice(&items),
                Err(err) => {
                    assert!(len + items.len() > max);
                    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                }
            }
        }
        Op::Extend(xs) => {
            let fits = (max - len).min(xs.len());
            if fits == xs.len() {
                v.extend(xs.iter().map(|&x| e(x)));
            } else {
                assert!(v.try_extend(xs.iter().map(|&x| e(x))).is_err());
            }
            model.extend(xs[..fits].iter().map(|&x| e(x)));
        }
        Op::Retain(m) => {
            v.retain(|x| x.value % m == 0);
            model.retain(|x| x.value % m == 0);
        }
        Op::RetainMut(m) => {
            let f = |x: &mut Elem| {
                x.value = x.value.wrapping_add(1);
                x.value % m != 0
            };
            v.retain_mut(f);
            model.retain_mut(f);
        }
        Op::Drain(a, b, take) => {
            let (a, b) = (a % (len + 1), b % (len + 1));
            let (start, end) = (a.min(b), a.max(b));
            let mut d1 = v.drain(start..end);
            let mut d2 = model.drain(start..end);
            assert_eq!(d1.len(), d2.len());
            for i in 0..take {
                if i % 2 == 0 {
                    assert_eq!(d1.next(), d2.next());
                } else {
                    assert_eq!(d1.next_back(), d2.next_back());
                }
            }
            assert_eq!(d1.as_slice(), d2.as_slice());
        }
        Op::TryDrain(start, end) => match v.try_drain(start..end) {
            Ok(d) => assert!(d.eq(model.drain(start..end))),
            Err(err) => {
                assert!(start > end || end > len);
                assert_eq!(err.kind(), ErrorKind::OutOfBounds);
            }
        },
        Op::ShrinkToFit => {
            v.shrink_to_fit();
            let page = vmem::page_size();
            assert_eq!(v.committed_bytes(), (len * size_of::<Elem>()).div_ceil(page) * page);
        }
        Op::Reserve(n) => {
            if len + n <= max {
                v.reserve(n);
                assert!(v.capacity() >= len + n);
            }
        }
        Op::TryReserve(n) => match v.try_reserve(n) {
            Ok(()) => assert!(v.capacity() >= len + n),
            Err(err) => {
                assert!(len + n > max);
                assert_eq!(err.kind(), ErrorKind::OutOfMemory);
            }
        },
        Op::CloneAndCompare => {
            let copy = v.clone();
            assert_eq!(copy, *model);
            assert_eq!(copy.max_capacity(), v.max_capacity());
        }
        Op::IntoIterRoundTrip(take) => {
            let mut it = std::mem::take(v).into_iter();
            let mut rebuilt: VirtualVec<Elem> = VirtualVec::with_max_capacity(max).unwrap();
            for _ in 0..take {
                match it.next_back() {
                    Some(x) => rebuilt.push(x),
                    None => break,
                }
            }
            rebuilt.extend(it.by_ref().rev());
            assert_eq!(it.len(), 0);
            rebuilt.reverse();
            rebuilt.reverse(); // (slice methods through DerefMut)
            rebuilt.as_mut_slice().reverse();
            *v = rebuilt;
        }
    }
}

fn check_invariants(v: &VirtualVec<Elem>, model: &[Elem], live: &Rc<Cell<i64>>) {
    assert_eq!(v.len(), model.len());
    assert_eq!(v.is_empty(), model.is_empty());
    assert_eq!(v.as_slice(), model);
    assert!(v.capacity() >= v.len());
    assert!(v.capacity() <= v.max_capacity());
    assert_eq!(v.committed_bytes() % vmem::page_size(), 0);
    assert!(v.committed_bytes() >= v.capacity() * size_of::<Elem>());
    assert!(v.committed_bytes() <= v.reserved_bytes());
    // Every element alive is in one of the two vectors, exactly once.
    assert_eq!(live.get(), (v.len() + model.len()) as i64);
}

fn run_model(ops: Vec<Op>, max: Option<usize>) {
    let live = Rc::new(Cell::new(0));
    {
        let mut v = match max {
            Some(max) => VirtualVec::with_max_capacity(max).unwrap(),
            None => VirtualVec::new(),
        };
        let max = v.max_capacity();
        let mut model = Vec::new();
        let mut base = None;
        for op in ops {
            let into_iter = matches!(op, Op::IntoIterRoundTrip(_));
            apply(&mut v, &mut model, op, &live, max);
            check_invariants(&v, &model, &live);
            if into_iter {
                base = None;
            }
            // Once reserved, the buffer never moves (not even across shrink_to_fit).
            if v.reserved_bytes() > 0 {
                assert_eq!(*base.get_or_insert(v.as_ptr()), v.as_ptr());
            }
        }
    }
    assert_eq!(live.get(), 0, "leaked or doubly dropped elements");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_vec(ops in proptest::collection::vec(op(), 0..120)) {
        run_model(ops, None);
    }

    #[test]
    fn behaves_like_vec_with_a_maximum(max in 1usize..100, ops in proptest::collection::vec(op(), 0..120)) {
        run_model(ops, Some(max));
    }

    #[test]
    fn large_runs_behave_like_vec(lens in proptest::collection::vec(0usize..40_000, 1..6)) {
        // Crosses several commit steps, shrinking in between.
        let mut v = VirtualVec::new();
        let mut model = Vec::new();
        for (round, len) in lens.into_iter().enumerate() {
            v.extend((0..len).map(|i| (i * 7 + round) as u32));
            model.extend((0..len).map(|i| (i * 7 + round) as u32));
            prop_assert_eq!(v.as_slice(), model.as_slice());
            let keep = v.len() / 3;
            v.truncate(keep);
            model.truncate(keep);
            v.shrink_to_fit();
            prop_assert_eq!(v.as_slice(), model.as_slice());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Drops, also across panics
// ---------------------------------------------------------------------------------------

#[test]
fn every_element_is_dropped_exactly_once() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 100);
    drop(v.pop());
    drop(v.remove(3));
    drop(v.swap_remove(10));
    v.truncate(90);
    v.retain(|t| t.id % 3 != 0);
    {
        let mut d = v.drain(5..40);
        drop(d.next());
        drop(d.next_back());
    }
    v.insert(0, tracker.make());
    v.extend_from_slice(&tracked_vec(&tracker, 5));
    let mut it = v.into_iter();
    drop(it.next());
    drop(it.next_back());
    drop(it);
    tracker.assert_each_dropped_once();
}

#[test]
fn clear_and_drop_drop_elements() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 1000);
    v.clear();
    assert_eq!(tracker.drops.borrow().iter().sum::<usize>(), 1000);
    v.extend((0..10).map(|_| tracker.make()));
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_retain_keeps_the_vector_valid() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 20);
    let result = catch_unwind(AssertUnwindSafe(|| {
        v.retain(|t| {
            if t.id == 11 {
                panic!("keep panics");
            }
            t.id % 2 == 0
        })
    }));
    assert!(result.is_err());
    // Visited elements were filtered; element 11 and those after it were kept.
    let expected: Vec<usize> = (0..11).filter(|i| i % 2 == 0).chain(11..20).collect();
    assert_eq!(ids(&v), expected);
    for id in (0..11).filter(|i| i % 2 == 1) {
        assert_eq!(tracker.drops_of(id), 1);
    }
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_extend_keeps_what_was_pushed() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 3);
    let result = catch_unwind(AssertUnwindSafe(|| {
        v.extend((0..10).map(|i| if i == 5 { panic!("the iterator panics") } else { tracker.make() }))
    }));
    assert!(result.is_err());
    assert_eq!(ids(&v), (0..8).collect::<Vec<_>>());
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_clone_during_extend_from_slice_keeps_the_clones() {
    let tracker = Tracker::default();
    let source: Vec<Tracked> = (0..5).map(|_| tracker.make()).collect();
    let mut v = VirtualVec::new();
    CLONE_BUDGET.set(2);
    let result = catch_unwind(AssertUnwindSafe(|| v.extend_from_slice(&source)));
    CLONE_BUDGET.set(usize::MAX);
    assert!(result.is_err());
    assert_eq!(ids(&v), [5, 6]);
    drop(v);
    drop(source);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_clone_during_clone_drops_the_partial_copy() {
    let tracker = Tracker::default();
    let v = tracked_vec(&tracker, 5);
    CLONE_BUDGET.set(3);
    let result = catch_unwind(AssertUnwindSafe(|| v.clone()));
    CLONE_BUDGET.set(usize::MAX);
    assert!(result.is_err());
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panicking_destructor_in_truncate_still_drops_the_rest() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 10);
    v[6].panic_on_drop = true;
    let result = catch_unwind(AssertUnwindSafe(|| v.truncate(4)));
    assert!(result.is_err());
    assert_eq!(v.len(), 4);
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panicking_destructor_in_drain_still_moves_the_tail() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 10);
    v[3].panic_on_drop = true;
    let result = catch_unwind(AssertUnwindSafe(|| drop(v.drain(2..6))));
    assert!(result.is_err());
    assert_eq!(ids(&v), [0, 1, 6, 7, 8, 9]);
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn leaked_drain_leaks_instead_of_double_dropping() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 10);
    let mut d = v.drain(3..5);
    drop(d.next());
    std::mem::forget(d);
    assert_eq!(ids(&v), [0, 1, 2]);
    drop(v);
    for id in 0..10 {
        let expected = usize::from(id <= 3);
        assert_eq!(tracker.drops_of(id), expected, "value {id}");
    }
}

// ---------------------------------------------------------------------------------------
// Addresses, growth, memory
// ---------------------------------------------------------------------------------------

#[test]
fn elements_never_move_while_pushing_millions() {
    let mut v = VirtualVec::new();
    v.push(0u64);
    let first: *const u64 = &v[0];
    let mut capacity_changes = 0;
    let mut capacity = v.capacity();
    for i in 1..10_000_000u64 {
        v.push(i);
        if v.capacity() != capacity {
            capacity = v.capacity();
            capacity_changes += 1;
            assert_eq!(&v[0] as *const u64, first);
        }
    }
    assert_eq!(v.as_ptr(), first);
    assert_eq!(v[9_999_999], 9_999_999);
    // Geometric commits: 64 KiB doubling up to 80 MB is 11 steps.
    assert!(capacity_changes <= 12, "{capacity_changes} commits");
    assert!(v.committed_bytes() < 2 * 80_000_000 + MIB);
}

#[test]
fn try_push_at_the_maximum_returns_the_value_and_keeps_the_elements() {
    let mut v = VirtualVec::with_max_capacity(10).unwrap();
    for i in 0..10 {
        v.try_push(i.to_string()).unwrap();
    }
    assert_eq!(v.capacity(), 10);
    let (value, err) = v.try_push("ten".to_string()).unwrap_err();
    assert_eq!(value, "ten");
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(err.limit(), Some(("max_capacity", 10)));
    assert!(err.to_string().contains("maximum capacity"), "{err}");
    let (value, err) = v.try_insert(0, "zero".to_string()).unwrap_err();
    assert_eq!((value.as_str(), err.kind()), ("zero", ErrorKind::OutOfMemory));
    assert_eq!(v, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    // After a pop there is room again.
    v.pop();
    v.try_push("nine".to_string()).unwrap();
    assert_eq!(v[9], "nine");
}

#[test]
fn maximum_that_is_not_a_page_multiple_is_exact() {
    let mut v = VirtualVec::<u64>::with_max_capacity(1000).unwrap();
    v.extend(0..1000);
    assert_eq!(v.capacity(), 1000);
    assert!(v.try_push(1000).is_err());
    assert!(v.try_reserve(1).is_err());
    v.try_reserve(0).unwrap();
}

#[test]
#[should_panic(expected = "maximum capacity")]
fn push_past_the_maximum_panics() {
    let mut v = VirtualVec::with_max_capacity(2).unwrap();
    v.push(1);
    v.push(2);
    v.push(3);
}

#[test]
#[should_panic(expected = "maximum capacity")]
fn reserve_past_the_maximum_panics() {
    VirtualVec::<u8>::with_max_capacity(2).unwrap().reserve(3);
}

#[test]
#[should_panic(expected = "insertion index (is 2) should be <= len (is 1)")]
fn insert_past_the_end_panics() {
    let mut v = VirtualVec::new();
    v.push(1);
    v.insert(2, 2);
}

#[test]
#[should_panic(expected = "removal index (is 1) should be < len (is 1)")]
fn remove_past_the_end_panics() {
    let mut v = VirtualVec::new();
    v.push(1);
    v.remove(1);
}

#[test]
#[should_panic(expected = "swap_remove index (is 0) should be < len (is 0)")]
fn swap_remove_on_empty_panics() {
    VirtualVec::<u8>::new().swap_remove(0);
}

#[test]
#[should_panic(expected = "out of bounds")]
fn drain_past_the_end_panics() {
    let mut v: VirtualVec<u8> = (0..3).collect();
    v.drain(1..4);
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn index_past_the_end_panics() {
    let v: VirtualVec<u8> = (0..3).collect();
    let _ = v[3];
}

#[test]
fn impossible_maximums_are_errors_not_panics() {
    assert_eq!(VirtualVec::<u64>::with_max_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(VirtualVec::<()>::with_max_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let err = VirtualVec::<u64>::with_max_capacity(usize::MAX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("isize::MAX"), "{err}");
    assert!(VirtualVec::<u64>::with_max_capacity(isize::MAX as usize / 8 + 1).is_err());
    // Fits in isize, but no OS has that much address space.
    let err = VirtualVec::<u64>::with_max_capacity(isize::MAX as usize / 8).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
    let mut v = VirtualVec::<u64>::new();
    assert_eq!(v.try_reserve(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfMemory);
    assert_eq!(v.try_reserve(v.max_capacity() + 1).unwrap_err().kind(), ErrorKind::OutOfMemory);
    assert_eq!(v.reserved_bytes(), 0, "a refused request reserves nothing");
}

#[test]
fn index_errors_name_the_operation() {
    let mut v: VirtualVec<u8> = (0..3).collect();
    let err = v.try_remove(3).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
    assert_eq!(err.operation(), "VirtualVec::remove");
    assert_eq!(err.limit(), Some(("len", 3)));
    assert_eq!(v.try_drain((Bound::Included(2), Bound::Excluded(1))).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(v, [0, 1, 2]);
}

#[test]
fn new_reserves_nothing_until_the_first_push() {
    let mut v = VirtualVec::<u32>::new();
    assert_eq!((v.reserved_bytes(), v.committed_bytes(), v.capacity()), (0, 0, 0));
    assert!(!v.as_ptr().is_null());
    assert_eq!(v.as_slice(), &[] as &[u32]);
    v.shrink_to_fit();
    v.clear();
    assert_eq!(v.pop(), None);
    v.push(1);
    if usize::BITS == 64 {
        assert_eq!(v.reserved_bytes(), 64 << 30);
    }
    assert_eq!(v.committed_bytes(), 64 << 10);
    assert_eq!(v.capacity(), (64 << 10) / 4);
}

#[test]
fn shrink_to_fit_lowers_committed_bytes() {
    let mut v: VirtualVec<u64> = (0..4 * MIB as u64).collect();
    let before = v.committed_bytes();
    assert!(before >= 32 * MIB);
    v.truncate(1000);
    v.shrink_to_fit();
    let page = vmem::page_size();
    assert_eq!(v.committed_bytes(), 8000usize.div_ceil(page) * page);
    assert_eq!(v.capacity(), v.committed_bytes() / 8);
    assert!(v.iter().copied().eq(0..1000));
    // It grows again from there, at the same address.
    let p = v.as_ptr();
    v.extend(1000..100_000);
    assert_eq!(v.as_ptr(), p);
    assert!(v.iter().copied().eq(0..100_000));
}

#[cfg(unix)]
#[test]
fn shrink_to_fit_returns_resident_memory() {
    common::in_child("shrink_to_fit_returns_resident_memory", || {
        let mut v: VirtualVec<u64> = VirtualVec::new();
        v.extend(0..16 * MIB as u64); // 128 MiB, every page touched
        let full = common::rss();
        v.truncate(1000);
        let truncated = common::rss();
        assert!(full.abs_diff(truncated) < 8 * MIB, "truncate alone keeps the memory");
        v.shrink_to_fit();
        let shrunk = common::rss();
        assert!(full - shrunk >= 120 * MIB, "RSS {full} -> {shrunk}");
        assert!(v.iter().copied().eq(0..1000));
        drop(v);
    })
    .assert_success();
}

/// Whether the page at `ptr` is in physical memory.
#[cfg(target_os = "linux")]
fn resident(ptr: *const u8) -> bool {
    let mut status = 0u8;
    // SAFETY: `ptr` is page-aligned and inside a mapping of ours; mincore writes one byte.
    let rc = unsafe { libc::mincore(ptr as *mut libc::c_void, 1, &mut status) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    status & 1 == 1
}

#[cfg(target_os = "linux")]
#[test]
fn push_faults_in_the_next_128_kib_and_no_further() {
    let page = vmem::page_size();
    let mut v: VirtualVec<u64> = VirtualVec::new();
    // 256 KiB of elements: from there on, push faults pages in ahead of itself. The push
    // at exactly 256 KiB faults in the next page and 128 KiB after it. (One by one: `extend`
    // would commit exactly what the iterator promises.)
    for i in 0..(256 << 10) / 8 + 1 {
        v.push(i);
    }
    let base = v.as_ptr().cast::<u8>();
    let ahead = (256 << 10) + page;
    let end = ahead + (128 << 10);
    assert!(v.committed_bytes() >= end + 16 * page, "committed {}", v.committed_bytes());
    for offset in (ahead..end).step_by(page) {
        // SAFETY: inside the vector's committed bytes.
        assert!(resident(unsafe { base.add(offset) }), "page at {offset} was not faulted in ahead");
    }
    for offset in (end..v.committed_bytes()).step_by(page) {
        // SAFETY: as above.
        assert!(!resident(unsafe { base.add(offset) }), "page at {offset} is resident, beyond 128 KiB ahead");
    }
    // The pages faulted in ahead read zero and take elements like any other.
    v.extend((256 << 10) / 8 + 1..(512 << 10) / 8);
    assert!(v.iter().copied().eq(0..(512 << 10) / 8));
}

#[cfg(target_os = "linux")]
#[test]
fn new_falls_back_to_less_address_space_under_rlimit_as() {
    common::in_child("new_falls_back_to_less_address_space_under_rlimit_as", || {
        common::limit_address_space(1 << 30);
        let mut v = VirtualVec::<u64>::new();
        v.extend(0..1_000_000);
        assert!(v.max_capacity() < (64 << 30) / 8 && v.max_capacity() >= 1_000_000, "{}", v.max_capacity());
        assert_eq!(v.reserved_bytes(), v.max_capacity() * 8);
        assert!(v.try_reserve(v.max_capacity()).is_err());
        // An explicit maximum is exact: no fallback.
        assert_eq!(VirtualVec::<u64>::with_max_capacity(1 << 33).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
    })
    .assert_success();
}

// ---------------------------------------------------------------------------------------
// Zero-sized types
// ---------------------------------------------------------------------------------------

thread_local! {
    static ZST_DROPS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Clone, Debug, PartialEq)]
struct Unit;

impl Drop for Unit {
    fn drop(&mut self) {
        ZST_DROPS.set(ZST_DROPS.get() + 1);
    }
}

#[test]
fn zero_sized_types_need_no_memory() {
    let mut v = VirtualVec::new();
    assert_eq!((v.capacity(), v.max_capacity()), (usize::MAX, usize::MAX));
    for _ in 0..100_000 {
        v.push(());
    }
    v.insert(5, ());
    assert_eq!(v.len(), 100_001);
    v.remove(0);
    assert_eq!(v.drain(..50_000).count(), 50_000);
    v.retain(|_| true);
    v.shrink_to_fit();
    assert_eq!((v.reserved_bytes(), v.committed_bytes()), (0, 0));
    assert_eq!(v.capacity(), usize::MAX);
    assert_eq!(v.clone().into_iter().count(), 50_000);
    v.reserve(usize::MAX - v.len());
    assert!(v.try_reserve(usize::MAX).is_err());
}

#[test]
fn zero_sized_types_are_dropped() {
    ZST_DROPS.set(0);
    let mut v: VirtualVec<Unit> = std::iter::repeat_with(|| Unit).take(100).collect();
    v.truncate(60);
    assert_eq!(ZST_DROPS.get(), 40);
    v.retain({
        let mut i = 0;
        move |_| {
            i += 1;
            i % 2 == 0
        }
    });
    assert_eq!((v.len(), ZST_DROPS.get()), (30, 70));
    drop(v.drain(..10));
    let mut it = v.into_iter();
    it.next();
    drop(it);
    assert_eq!(ZST_DROPS.get(), 100);
}

#[test]
fn zero_sized_types_respect_a_maximum() {
    let mut v = VirtualVec::with_max_capacity(3).unwrap();
    v.extend([(), (), ()]);
    assert_eq!(v.capacity(), 3);
    let ((), err) = v.try_push(()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(v.len(), 3);
}

// ---------------------------------------------------------------------------------------
// Traits
// ---------------------------------------------------------------------------------------

fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[test]
fn traits_match_vec() {
    let v: VirtualVec<i32> = (1..=5).collect();
    let w: Vec<i32> = (1..=5).collect();
    assert_eq!(v, w);
    assert_eq!(w, v);
    assert_eq!(v, w[..]);
    assert_eq!(v, &w[..]);
    assert_eq!(&w[..], v);
    assert_eq!(v, [1, 2, 3, 4, 5]);
    assert_eq!([1, 2, 3, 4, 5], v);
    assert_eq!(format!("{v:?}"), format!("{w:?}"));
    assert_eq!(hash_of(&v), hash_of(&w));
    assert_eq!(v[1..3], w[1..3]);
    assert_eq!(v.iter().rev().collect::<Vec<_>>(), w.iter().rev().collect::<Vec<_>>());
    let shorter: VirtualVec<i32> = (1..=4).collect();
    assert!(shorter < v);
    assert_eq!(v.cmp(&v.clone()), std::cmp::Ordering::Equal);
    assert_eq!(VirtualVec::<i32>::default(), VirtualVec::new());

    let mut m = v.clone();
    for x in &mut m {
        *x *= 2;
    }
    m[0] = 100;
    m.extend(&[7, 8]);
    assert_eq!(m, [100, 4, 6, 8, 10, 7, 8]);
    let mut sum = 0;
    for x in &v {
        sum += x;
    }
    assert_eq!(sum, 15);
    let s: &[i32] = v.as_ref();
    assert_eq!(s.len(), 5);
}

#[test]
fn send_and_sync_follow_the_element_type() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let mut strings: VirtualVec<String> = VirtualVec::new();
    send_sync(&strings);
    send_sync(&strings.drain(..));
    send_sync(&strings.into_iter());

    let mut v: VirtualVec<u64> = (0..1000).collect();
    let v = std::thread::spawn(move || {
        v.push(1000);
        v
    })
    .join()
    .unwrap();
    let total: u64 = std::thread::scope(|s| {
        let a = s.spawn(|| v[..500].iter().sum::<u64>());
        let b = s.spawn(|| v[500..].iter().sum::<u64>());
        a.join().unwrap() + b.join().unwrap()
    });
    assert_eq!(total, (0..=1000).sum());
}

#[test]
fn clone_has_its_own_memory_and_the_same_maximum() {
    let mut v = VirtualVec::with_max_capacity(50).unwrap();
    v.extend(0..20);
    let mut c = v.clone();
    assert_eq!(c.max_capacity(), 50);
    c[0] = 99;
    assert_eq!(v[0], 0);
    assert_ne!(v.as_ptr(), c.as_ptr());
    assert!(c.try_extend(0..31).is_err());
    assert_eq!(c.len(), 50);
}
