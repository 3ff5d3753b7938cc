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
    /// Replaces the vector with `with_capacity(n)` holding the same elements (`append`).
    WithCapacity(usize),
    Resize(usize, u16),
    TryResize(usize, u16),
    ResizeWith(usize, u16),
    TryResizeWith(usize, u16),
    Dedup,
    /// Key: `value / m`.
    DedupByKey(u16),
    /// Same bucket: `value % m` equal (and the element in question is changed first).
    DedupBy(u16),
    /// Split at a fraction of the length, compare the tails; append the tail back when asked.
    SplitOff(usize, bool),
    TrySplitOff(usize),
    Append(Vec<u16>),
    TryAppend(Vec<u16>),
    /// Splice `start..end` (fractions of the length) with `values` through an iterator of
    /// the given kind, yielding `take` removed items first.
    Splice(usize, usize, Vec<u16>, ReplaceKind, usize),
    ExtendFromWithin(usize, usize),
    TryExtendFromWithin(usize, usize),
    /// Writes up to that many values into `spare_capacity_mut`, then `set_len`.
    SpareWrite(Vec<u16>),
    ShrinkTo(usize),
    TryShrinkTo(usize),
    /// `extract_if` on `start..end` (fractions) of the values the (changing) predicate
    /// picks, taking `take` items before the iterator is dropped.
    ExtractIf(usize, usize, u16, usize),
    /// `try_extract_if` on a raw range, taking everything.
    TryExtractIf(usize, usize, u16),
    /// Into a `Vec` and back (`From<Vec<T>>`, then `append` into a vector of the same maximum).
    VecRoundTrip,
    /// `From<&[T]>`, `From<&mut [T]>` and `From<[T; 3]>` of the contents.
    FromSlices,
}

/// How `splice` gets its new items: the three paths of the gap filling.
#[derive(Clone, Copy, Debug)]
enum ReplaceKind {
    /// Exactly sized (`vec::IntoIter`).
    Exact,
    /// Lower size hint 0 (a `filter`).
    Unknown,
    /// A lower size hint of half the items.
    Half,
}

/// An iterator whose lower size hint is half what it yields.
struct HalfHint<I>(I);

impl<I: ExactSizeIterator> Iterator for HalfHint<I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.0.len() / 2, None)
    }
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
        2 => values.clone().prop_map(Op::Extend),
        1 => (1u16..5).prop_map(Op::Retain),
        1 => (1u16..5).prop_map(Op::RetainMut),
        2 => (index.clone(), index.clone(), 0usize..10).prop_map(|(a, b, t)| Op::Drain(a, b, t)),
        1 => (index.clone(), index.clone()).prop_map(|(a, b)| Op::TryDrain(a, b)),
        1 => Just(Op::ShrinkToFit),
        1 => (0usize..5000).prop_map(Op::Reserve),
        1 => (0usize..5000).prop_map(Op::TryReserve),
        1 => Just(Op::CloneAndCompare),
        1 => (0usize..10).prop_map(Op::IntoIterRoundTrip),
        1 => (0usize..200).prop_map(Op::WithCapacity),
        1 => (0usize..120, value).prop_map(|(n, v)| Op::Resize(n, v)),
        1 => (0usize..120, value).prop_map(|(n, v)| Op::TryResize(n, v)),
        1 => (0usize..120, value).prop_map(|(n, v)| Op::ResizeWith(n, v)),
        1 => (0usize..120, value).prop_map(|(n, v)| Op::TryResizeWith(n, v)),
        1 => Just(Op::Dedup),
        1 => (1u16..2000).prop_map(Op::DedupByKey),
        1 => (1u16..4).prop_map(Op::DedupBy),
        1 => (index.clone(), any::<bool>()).prop_map(|(i, back)| Op::SplitOff(i, back)),
        1 => index.clone().prop_map(Op::TrySplitOff),
        1 => values.clone().prop_map(Op::Append),
        1 => values.clone().prop_map(Op::TryAppend),
        2 => (index.clone(), index.clone(), values.clone(), prop_oneof![Just(ReplaceKind::Exact), Just(ReplaceKind::Unknown), Just(ReplaceKind::Half)], 0usize..4)
            .prop_map(|(a, b, xs, kind, take)| Op::Splice(a, b, xs, kind, take)),
        1 => (index.clone(), index.clone()).prop_map(|(a, b)| Op::ExtendFromWithin(a, b)),
        1 => (index.clone(), index.clone()).prop_map(|(a, b)| Op::TryExtendFromWithin(a, b)),
        1 => values.clone().prop_map(Op::SpareWrite),
        1 => (0usize..5000).prop_map(Op::ShrinkTo),
        1 => (0usize..5000).prop_map(Op::TryShrinkTo),
        2 => (index.clone(), index.clone(), 1u16..5, 0usize..10).prop_map(|(a, b, m, t)| Op::ExtractIf(a, b, m, t)),
        1 => (index.clone(), index.clone(), 1u16..5).prop_map(|(a, b, m)| Op::TryExtractIf(a, b, m)),
        1 => Just(Op::VecRoundTrip),
        1 => Just(Op::FromSlices),
    ]
}

/// `start..end` from two numbers taken modulo `len + 1`.
fn range_in(a: usize, b: usize, len: usize) -> (usize, usize) {
    let (a, b) = (a % (len + 1), b % (len + 1));
    (a.min(b), a.max(b))
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
        Op::WithCapacity(n) => {
            if max == VirtualVec::<Elem>::new().max_capacity() {
                let mut fresh = VirtualVec::with_capacity(n);
                assert!(fresh.capacity() >= n);
                let page = vmem::page_size();
                let expected = if n == 0 { 0 } else { (n * size_of::<Elem>()).max(64 << 10).div_ceil(page) * page };
                assert_eq!(fresh.committed_bytes(), expected, "with_capacity commits what it needs, at least 64 KiB");
                fresh.append(v);
                *v = fresh;
            }
        }
        Op::Resize(n, x) => {
            if n <= max {
                v.resize(n, e(x));
                model.resize(n, e(x));
            } else {
                assert_eq!(v.try_resize(n, e(x)).unwrap_err().kind(), ErrorKind::OutOfMemory);
            }
        }
        Op::TryResize(n, x) => match v.try_resize(n, e(x)) {
            Ok(()) => model.resize(n, e(x)),
            Err(err) => {
                assert!(n > max);
                assert_eq!(err.kind(), ErrorKind::OutOfMemory);
            }
        },
        Op::ResizeWith(n, x) => {
            let mut i = x;
            let mut next = || {
                i = i.wrapping_add(1);
                e(i)
            };
            if n <= max {
                v.resize_with(n, &mut next);
                i = x;
                model.resize_with(n, || {
                    i = i.wrapping_add(1);
                    e(i)
                });
            } else {
                assert!(v.try_resize_with(n, || -> Elem { panic!("not called when it does not fit") }).is_err());
            }
        }
        Op::TryResizeWith(n, x) => match v.try_resize_with(n, || e(x)) {
            Ok(()) => model.resize_with(n, || e(x)),
            Err(err) => {
                assert!(n > max);
                assert_eq!(err.kind(), ErrorKind::OutOfMemory);
            }
        },
        Op::Dedup => {
            v.dedup();
            model.dedup();
        }
        Op::DedupByKey(m) => {
            v.dedup_by_key(|x| x.value / m);
            model.dedup_by_key(|x| x.value / m);
        }
        Op::DedupBy(m) => {
            let f = |a: &mut Elem, b: &mut Elem| {
                a.value = a.value.wrapping_mul(3);
                a.value % m == b.value % m
            };
            v.dedup_by(f);
            model.dedup_by(f);
        }
        Op::SplitOff(i, back) => {
            let at = i % (len + 1);
            let mut tail = v.split_off(at);
            let mut model_tail = model.split_off(at);
            assert_eq!(tail, model_tail);
            assert_eq!(tail.max_capacity(), max);
            if back {
                v.append(&mut tail);
                model.append(&mut model_tail);
                assert!(tail.is_empty());
            }
        }
        Op::TrySplitOff(at) => match v.try_split_off(at) {
            Ok(tail) => assert_eq!(tail, model.split_off(at)),
            Err(err) => {
                assert!(at > len);
                assert_eq!(err.kind(), ErrorKind::OutOfBounds);
            }
        },
        Op::Append(xs) => {
            let mut other: VirtualVec<Elem> = xs.iter().map(|&x| e(x)).collect();
            if len + xs.len() <= max {
                v.append(&mut other);
                model.extend(xs.iter().map(|&x| e(x)));
                assert!(other.is_empty());
            } else {
                assert_eq!(v.try_append(&mut other).unwrap_err().kind(), ErrorKind::OutOfMemory);
                assert_eq!(other.len(), xs.len(), "a refused append leaves the other vector alone");
            }
        }
        Op::TryAppend(xs) => {
            let mut other: VirtualVec<Elem> = xs.iter().map(|&x| e(x)).collect();
            match v.try_append(&mut other) {
                Ok(()) => {
                    model.extend(xs.iter().map(|&x| e(x)));
                    assert!(other.is_empty());
                }
                Err(err) => {
                    assert!(len + xs.len() > max);
                    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                    assert_eq!(other.len(), xs.len());
                }
            }
        }
        Op::Splice(a, b, xs, kind, take) => {
            let (start, end) = range_in(a, b, len);
            if len - (end - start) + xs.len() <= max {
                let items = xs.iter().map(|&x| e(x)).collect::<Vec<_>>();
                let model_items = xs.iter().map(|&x| e(x)).collect::<Vec<_>>();
                let mut removed = Vec::new();
                let mut model_removed = Vec::new();
                {
                    let mut check =
                        |s1: &mut dyn DoubleEndedIterator<Item = Elem>,
                         s2: &mut dyn DoubleEndedIterator<Item = Elem>| {
                            for i in 0..take {
                                if i % 2 == 0 {
                                    removed.extend(s1.next());
                                    model_removed.extend(s2.next());
                                } else {
                                    removed.extend(s1.next_back());
                                    model_removed.extend(s2.next_back());
                                }
                            }
                        };
                    let mut s2 = model.splice(start..end, model_items);
                    match kind {
                        ReplaceKind::Exact => check(&mut v.splice(start..end, items), &mut s2),
                        ReplaceKind::Unknown => {
                            check(&mut v.splice(start..end, items.into_iter().filter(|_| true)), &mut s2)
                        }
                        ReplaceKind::Half => check(&mut v.splice(start..end, HalfHint(items.into_iter())), &mut s2),
                    }
                }
                assert_eq!(removed, model_removed);
            }
        }
        Op::ExtendFromWithin(a, b) => {
            let (start, end) = range_in(a, b, len);
            if len + (end - start) <= max {
                v.extend_from_within(start..end);
                model.extend_from_within(start..end);
            } else {
                assert_eq!(v.try_extend_from_within(start..end).unwrap_err().kind(), ErrorKind::OutOfMemory);
            }
        }
        Op::TryExtendFromWithin(start, end) => match v.try_extend_from_within(start..end) {
            Ok(()) => model.extend_from_within(start..end),
            Err(err) => {
                if start > end || end > len {
                    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
                } else {
                    assert!(len + (end - start) > max);
                    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
                }
            }
        },
        Op::SpareWrite(xs) => {
            let spare = v.spare_capacity_mut();
            assert_eq!(spare.len(), v.capacity() - len);
            let spare = v.spare_capacity_mut();
            let n = spare.len().min(xs.len());
            for (slot, &x) in spare.iter_mut().zip(&xs[..n]) {
                slot.write(e(x));
            }
            // SAFETY: the `n` slots after the length were just initialized, and
            // `len + n <= capacity`.
            unsafe { v.set_len(len + n) };
            model.extend(xs[..n].iter().map(|&x| e(x)));
        }
        Op::ShrinkTo(n) | Op::TryShrinkTo(n) => {
            let keep = len.max(n.min(v.capacity()));
            if matches!(op, Op::ShrinkTo(_)) {
                v.shrink_to(n);
            } else {
                v.try_shrink_to(n).unwrap();
            }
            model.shrink_to(n);
            let page = vmem::page_size();
            assert_eq!(v.committed_bytes(), (keep * size_of::<Elem>()).div_ceil(page) * page);
            assert!(v.capacity() >= keep);
        }
        Op::ExtractIf(a, b, m, take) => {
            let (start, end) = range_in(a, b, len);
            let f = |x: &mut Elem| {
                x.value = x.value.wrapping_add(1);
                x.value % m == 0
            };
            let got: Vec<Elem> = v.extract_if(start..end, f).take(take).collect();
            // std's `extract_if` is stable since 1.87; the library itself keeps to its MSRV.
            #[allow(clippy::incompatible_msrv)]
            let expected: Vec<Elem> = model.extract_if(start..end, f).take(take).collect();
            assert_eq!(got, expected);
        }
        Op::TryExtractIf(start, end, m) => match v.try_extract_if(start..end, |x| x.value % m == 0) {
            Ok(it) => {
                #[allow(clippy::incompatible_msrv)] // as above
                let expected = model.extract_if(start..end, |x| x.value % m == 0);
                assert!(it.eq(expected));
            }
            Err(err) => {
                assert!(start > end || end > len);
                assert_eq!(err.kind(), ErrorKind::OutOfBounds);
            }
        },
        Op::VecRoundTrip => {
            let as_vec: Vec<Elem> = std::mem::take(v).into();
            assert_eq!(as_vec, *model);
            let mut back = VirtualVec::from(as_vec);
            assert_eq!(back, *model);
            let mut rebuilt = VirtualVec::with_max_capacity(max).unwrap();
            rebuilt.append(&mut back);
            *v = rebuilt;
        }
        Op::FromSlices => {
            assert_eq!(VirtualVec::from(model.as_slice()), *model);
            assert_eq!(VirtualVec::from(model.as_mut_slice()), *model);
            if let [a, b, c, ..] = model.as_slice() {
                let three = [a.clone(), b.clone(), c.clone()];
                assert_eq!(VirtualVec::from(&three), three);
                assert_eq!(VirtualVec::from(three), model[..3]);
            }
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
            let into_iter = matches!(op, Op::IntoIterRoundTrip(_) | Op::VecRoundTrip | Op::WithCapacity(_));
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

/// In a child process with the warm cache off: a region from the cache may be resident
/// already (faulted in by its previous owner, another test), and this is about fresh memory.
#[cfg(target_os = "linux")]
#[test]
fn push_faults_in_the_next_128_kib_and_no_further() {
    common::in_child("push_faults_in_the_next_128_kib_and_no_further", || {
        vmem::cache::set_max_entries(0);
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
    })
    .assert_success();
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
fn zero_sized_types_through_the_rest_of_the_api() {
    ZST_DROPS.set(0);
    let mut v: VirtualVec<Unit> = VirtualVec::with_capacity(usize::MAX);
    v.resize_with(10, || Unit);
    v.resize(20, Unit);
    assert_eq!(v.len(), 20);
    v.extend_from_within(5..);
    assert_eq!(v.len(), 35);
    let mut tail = v.split_off(30);
    assert_eq!((tail.len(), tail.reserved_bytes()), (5, 0));
    v.append(&mut tail);
    let removed = v.splice(0..10, [Unit, Unit]).count();
    assert_eq!((removed, v.len()), (10, 27));
    let mut n = 0;
    let taken = v
        .extract_if(.., |_| {
            n += 1;
            n % 3 == 0
        })
        .count();
    assert_eq!((taken, v.len()), (9, 18));
    v.dedup();
    assert_eq!(v.len(), 1);
    v.shrink_to(0);
    let as_vec: Vec<Unit> = v.into();
    let v = VirtualVec::from(as_vec);
    assert_eq!(v.leak().len(), 1);
    // Made: 10 by resize_with, 10 by resize (the value and 9 clones), 15 clones within, 2
    // spliced in: 37. Dropped: 10 spliced out, 9 extracted, 17 duplicates. 1 leaked.
    assert_eq!(ZST_DROPS.get(), 36);
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
    assert_eq!(VirtualVec::<i32>::default(), VirtualVec::<i32>::new());

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
    assert_eq!(total, (0..=1000).sum::<u64>());
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

// ---------------------------------------------------------------------------------------
// The rest of the `Vec` API (issue 16): panics, limits, memory
// ---------------------------------------------------------------------------------------

#[test]
fn panic_in_dedup_by_keeps_the_vector_valid() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 12);
    // Buckets of three: ids 0-2, 3-5, ...; the call for id 7 panics.
    let result = catch_unwind(AssertUnwindSafe(|| {
        v.dedup_by(|a, b| {
            if a.id == 7 {
                panic!("same_bucket panics");
            }
            a.id / 3 == b.id / 3
        })
    }));
    assert!(result.is_err());
    // 0 and 3 kept, 6 kept, then 7 (given when it panicked) and everything after it.
    assert_eq!(ids(&v), [0, 3, 6, 7, 8, 9, 10, 11]);
    for id in [1, 2, 4, 5] {
        assert_eq!(tracker.drops_of(id), 1);
    }
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panicking_destructor_in_dedup_still_closes_the_holes() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 8);
    v[2].panic_on_drop = true;
    let result = catch_unwind(AssertUnwindSafe(|| v.dedup_by_key(|t| t.id / 4)));
    assert!(result.is_err());
    // 1 was dropped, 2's drop panicked (counted as gone); 3 not visited yet.
    assert_eq!(ids(&v), [0, 3, 4, 5, 6, 7]);
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_resize_with_keeps_what_was_made() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 2);
    let mut made = 0;
    let result = catch_unwind(AssertUnwindSafe(|| {
        v.resize_with(10, || {
            made += 1;
            if made == 4 {
                panic!("f panics");
            }
            tracker.make()
        })
    }));
    assert!(result.is_err());
    assert_eq!(ids(&v), [0, 1, 2, 3, 4]);
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_clone_during_resize_keeps_the_clones_and_drops_the_value() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 1);
    let value = tracker.make(); // id 1
    CLONE_BUDGET.set(3);
    let result = catch_unwind(AssertUnwindSafe(|| v.resize(10, value)));
    CLONE_BUDGET.set(usize::MAX);
    assert!(result.is_err());
    assert_eq!(ids(&v), [0, 2, 3, 4]);
    assert_eq!(tracker.drops_of(1), 1, "the value is dropped by the unwinding");
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn resize_moves_the_value_into_the_last_slot() {
    let tracker = Tracker::default();
    let mut v = VirtualVec::new();
    v.resize(3, tracker.make());
    // Two clones (ids 1, 2), then the value itself (id 0), as `Vec::resize`.
    assert_eq!(ids(&v), [1, 2, 0]);
    v.resize(1, tracker.make()); // truncates, drops the value
    assert_eq!(ids(&v), [1]);
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_clone_during_extend_from_within_keeps_the_clones() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 5);
    CLONE_BUDGET.set(2);
    let result = catch_unwind(AssertUnwindSafe(|| v.extend_from_within(1..4)));
    CLONE_BUDGET.set(usize::MAX);
    assert!(result.is_err());
    assert_eq!(ids(&v), [0, 1, 2, 3, 4, 5, 6]);
    drop(v);
    tracker.assert_each_dropped_once();
}

#[test]
fn panic_in_extract_if_keeps_the_vector_valid() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 10);
    let mut taken = Vec::new();
    let result = catch_unwind(AssertUnwindSafe(|| {
        for t in v.extract_if(2..8, |t| {
            if t.id == 6 {
                panic!("filter panics");
            }
            t.id % 2 == 0
        }) {
            taken.push(t);
        }
    }));
    assert!(result.is_err());
    assert_eq!(ids(&taken), [2, 4]);
    // 6 (given when it panicked) stays, with the rest.
    assert_eq!(ids(&v), [0, 1, 3, 5, 6, 7, 8, 9]);
    drop((v, taken));
    tracker.assert_each_dropped_once();
}

#[test]
fn extract_if_dropped_early_keeps_the_rest_and_leaked_leaks() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 6);
    let mut it = v.extract_if(.., |t| t.id != 2);
    drop(it.next()); // 0
    drop(it.next()); // 1
    assert_eq!(format!("{it:?}"), "ExtractIf([#2, #3, #4, #5])");
    drop(it.next()); // 3; 2 is kept, moved down
    drop(it);
    assert_eq!(ids(&v), [2, 4, 5]);
    std::mem::forget(v.extract_if(1.., |_| true));
    assert!(v.is_empty(), "a leaked ExtractIf leaves the vector empty");
    drop(v);
    for id in 0..6 {
        assert_eq!(tracker.drops_of(id), usize::from(id < 2 || id == 3), "value {id}");
    }
}

#[test]
fn splice_panics_leave_the_vector_valid() {
    // The replacement panics at each stage of the filling: in the gap, after the tail moved
    // for the size hint, while the rest is collected.
    for panic_at in 0..8 {
        for kind in [ReplaceKind::Exact, ReplaceKind::Unknown, ReplaceKind::Half] {
            let tracker = Tracker::default();
            let mut v = tracked_vec(&tracker, 6);
            let items: Vec<Tracked> = (0..8).map(|_| tracker.make()).collect(); // ids 6..14
            let mut n = 0;
            let items = items.into_iter().inspect(|_| {
                n += 1;
                if n == panic_at + 1 {
                    panic!("replace_with panics");
                }
            });
            let result = catch_unwind(AssertUnwindSafe(|| match kind {
                ReplaceKind::Exact => drop(v.splice(2..4, items)),
                ReplaceKind::Unknown => drop(v.splice(2..4, items.filter(|_| true))),
                ReplaceKind::Half => drop(v.splice(2..4, HalfHint(items))),
            }));
            assert!(result.is_err());
            // The items placed before the panic stay, then the tail. Exact: the tail moves
            // once for all 8, each item goes in place. Unknown: the 2-slot gap is filled,
            // the rest was being collected (as std does) and is dropped. Half: the gap, then
            // 3 more after the tail moved for the hint of 6 / 2, then the collection.
            let placed = match kind {
                ReplaceKind::Exact => panic_at,
                ReplaceKind::Unknown => panic_at.min(2),
                ReplaceKind::Half => panic_at.min(5),
            };
            let mut expected = vec![0, 1];
            expected.extend(6..6 + placed);
            expected.extend([4, 5]);
            assert_eq!(ids(&v), expected, "{kind:?}, panic at {panic_at}");
            drop(v);
            tracker.assert_each_dropped_once();
        }
    }
}

#[test]
fn splice_past_the_maximum_panics_and_keeps_the_vector_valid() {
    for kind in [ReplaceKind::Exact, ReplaceKind::Unknown, ReplaceKind::Half] {
        let tracker = Tracker::default();
        let mut v = VirtualVec::with_max_capacity(8).unwrap();
        v.extend((0..6).map(|_| tracker.make()));
        let items: Vec<Tracked> = (0..6).map(|_| tracker.make()).collect(); // ids 6..12
        let result = catch_unwind(AssertUnwindSafe(|| match kind {
            ReplaceKind::Exact => drop(v.splice(2..3, items)),
            ReplaceKind::Unknown => drop(v.splice(2..3, items.into_iter().filter(|_| true))),
            ReplaceKind::Half => drop(v.splice(2..3, HalfHint(items.into_iter()))),
        }));
        let message = *result.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("maximum capacity"), "{message}");
        let got = ids(&v);
        assert!(got.len() <= 8);
        // The first item fills the gap; the elements before the range and the tail survive.
        assert_eq!(got[..3], [0, 1, 6], "{kind:?}: {got:?}");
        assert_eq!(got[got.len() - 3..], [3, 4, 5], "{kind:?}: {got:?}");
        drop(v);
        tracker.assert_each_dropped_once();
    }
}

#[test]
fn splice_yields_the_removed_and_can_be_leaked() {
    let tracker = Tracker::default();
    let mut v = tracked_vec(&tracker, 6);
    let mut s = v.splice(1..4, [tracker.make()]); // id 6
    assert_eq!(s.len(), 3);
    drop(s.next_back());
    drop(s);
    assert_eq!(ids(&v), [0, 6, 4, 5]);
    // At the end: the new items are pushed.
    drop(v.splice(4.., (0..3).map(|_| tracker.make()))); // 7, 8, 9
    assert_eq!(ids(&v), [0, 6, 4, 5, 7, 8, 9]);
    std::mem::forget(v.splice(2..3, [tracker.make()])); // 10, never placed
    assert_eq!(ids(&v), [0, 6], "a leaked Splice keeps only what is before the range");
    drop(v);
    for id in 0..11 {
        let leaked = [4, 5, 7, 8, 9, 10].contains(&id);
        assert_eq!(tracker.drops_of(id), usize::from(!leaked), "value {id}");
    }
}

#[test]
#[should_panic(
    expected = "splice range (Included(2), Excluded(4)) is out of bounds or decreasing for a vector of length 3"
)]
fn splice_past_the_end_panics() {
    let mut v: VirtualVec<u8> = (0..3).collect();
    v.splice(2..4, []);
}

#[test]
#[should_panic(expected = "extract_if range")]
fn extract_if_past_the_end_panics() {
    let mut v: VirtualVec<u8> = (0..3).collect();
    v.extract_if(..=3, |_| true);
}

#[test]
#[should_panic(expected = "extend_from_within range")]
fn extend_from_within_a_decreasing_range_panics() {
    let mut v: VirtualVec<u8> = (0..3).collect();
    #[allow(clippy::reversed_empty_ranges)]
    v.extend_from_within(2..1);
}

#[test]
#[should_panic(expected = "`at` split index (is 4) should be <= len (is 3)")]
fn split_off_past_the_end_panics() {
    let mut v: VirtualVec<u8> = (0..3).collect();
    v.split_off(4);
}

#[test]
#[should_panic(expected = "maximum capacity")]
fn with_capacity_past_the_default_maximum_panics() {
    VirtualVec::<u64>::with_capacity(VirtualVec::<u64>::new().max_capacity() + 1);
}

#[test]
fn with_capacity_commits_up_front() {
    let v = VirtualVec::<u8>::with_capacity(0);
    assert_eq!((v.reserved_bytes(), v.committed_bytes()), (0, 0));
    let mut v = VirtualVec::<u64>::with_capacity(1 << 20);
    assert!(v.capacity() >= 1 << 20);
    assert!(v.committed_bytes() >= 8 << 20);
    assert!(v.committed_bytes() <= (8 << 20) + (2 << 20), "{}", v.committed_bytes());
    assert_eq!(v.max_capacity(), VirtualVec::<u64>::new().max_capacity());
    let (capacity, committed, p) = (v.capacity(), v.committed_bytes(), v.as_ptr());
    v.extend(0..1 << 20);
    assert_eq!((v.capacity(), v.committed_bytes(), v.as_ptr()), (capacity, committed, p), "no growth");
    let err = VirtualVec::<u64>::try_with_capacity(usize::MAX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfMemory);
    assert_eq!(err.operation(), "VirtualVec::with_capacity");
    assert_eq!(VirtualVec::<()>::with_capacity(usize::MAX).capacity(), usize::MAX);
}

#[cfg(target_os = "linux")]
#[test]
fn with_capacity_reports_the_os_refusal() {
    common::in_child("with_capacity_reports_the_os_refusal", || {
        common::limit_address_space(1 << 30);
        // 2 GiB of elements cannot be committed under a 1 GiB address-space limit.
        let err = VirtualVec::<u64>::try_with_capacity(1 << 28).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::OutOfMemory | ErrorKind::OutOfAddressSpace), "{err}");
        let mut v = VirtualVec::<u64>::try_with_capacity(1000).unwrap();
        v.push(1);
    })
    .assert_success();
}

#[test]
fn failed_split_off_and_append_change_nothing() {
    let mut v: VirtualVec<String> = VirtualVec::with_max_capacity(3).unwrap();
    v.extend(["a", "b"].map(String::from));
    let mut w: VirtualVec<String> = ["c", "d"].map(String::from).into_iter().collect();
    let err = v.try_append(&mut w).unwrap_err();
    assert_eq!((err.kind(), err.operation()), (ErrorKind::OutOfMemory, "VirtualVec::append"));
    assert_eq!((v.len(), w.len()), (2, 2));
    assert_eq!(v.try_split_off(3).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(v, ["a", "b"]);
    // An empty tail reserves nothing.
    let tail = v.split_off(2);
    assert_eq!((tail.len(), tail.reserved_bytes()), (0, 0));
    let result = catch_unwind(AssertUnwindSafe(|| v.append(&mut w)));
    assert!(result.is_err());
    assert_eq!((v.len(), w.len()), (2, 2));
}

#[test]
fn split_off_and_append_keep_the_kept_addresses() {
    let mut v: VirtualVec<u64> = (0..100_000).collect();
    let p = v.as_ptr();
    let mut tail = v.split_off(10);
    assert_eq!(v.as_ptr(), p);
    assert!(tail.iter().copied().eq(10..100_000));
    v.append(&mut tail);
    assert_eq!(v.as_ptr(), p);
    assert!(v.iter().copied().eq(0..100_000));
    assert!(tail.is_empty());
    assert!(tail.capacity() >= 99_990, "the emptied vector keeps its memory");
}

#[test]
fn spare_capacity_is_the_committed_memory_only() {
    let mut v = VirtualVec::<u64>::with_max_capacity(1 << 20).unwrap();
    assert!(v.spare_capacity_mut().is_empty(), "nothing committed yet");
    v.push(7);
    let spare = v.spare_capacity_mut();
    let n = spare.len();
    assert_eq!(n + 1, v.capacity());
    assert!((n + 1) * 8 <= v.committed_bytes());
    assert!(v.committed_bytes() < v.reserved_bytes());
    // Every slot is writable (touching them all does not fault).
    for (i, slot) in v.spare_capacity_mut().iter_mut().enumerate() {
        slot.write(i as u64);
    }
    // SAFETY: every slot up to the capacity was just written.
    unsafe { v.set_len(n + 1) };
    assert_eq!(v[0], 7);
    assert!(v[1..].iter().copied().eq(0..n as u64));
    assert!(v.spare_capacity_mut().is_empty());
    // Zero-sized types: all of it.
    let mut z = VirtualVec::<()>::new();
    z.push(());
    assert_eq!(z.spare_capacity_mut().len(), usize::MAX - 1);
}

#[test]
fn shrink_to_keeps_at_least_what_is_asked() {
    let page = vmem::page_size();
    let mut v = VirtualVec::<u32>::with_capacity(1 << 20);
    v.extend(0..1000);
    v.shrink_to(100_000);
    assert_eq!(v.committed_bytes(), (400_000usize).div_ceil(page) * page);
    assert!(v.capacity() >= 100_000);
    v.shrink_to(0);
    assert_eq!(v.committed_bytes(), (4000usize).div_ceil(page) * page);
    let before = v.committed_bytes();
    v.shrink_to(usize::MAX);
    assert_eq!(v.committed_bytes(), before, "a minimum above the capacity changes nothing");
    assert!(v.iter().copied().eq(0..1000));
    let mut z: VirtualVec<()> = VirtualVec::new();
    z.push(());
    z.shrink_to(0);
    assert_eq!(z.len(), 1);
}

#[cfg(unix)]
#[test]
fn shrink_to_returns_resident_memory() {
    common::in_child("shrink_to_returns_resident_memory", || {
        let mut v: VirtualVec<u64> = (0..16 * MIB as u64).collect(); // 128 MiB
        let full = common::rss();
        v.truncate(1000);
        v.shrink_to(MIB); // keeps 8 MiB
        let shrunk = common::rss();
        assert!(full - shrunk >= 110 * MIB, "RSS {full} -> {shrunk}");
        assert!(v.capacity() >= MIB && v.committed_bytes() < 10 * MIB);
        assert!(v.iter().copied().eq(0..1000));
    })
    .assert_success();
}

/// In a child process: its warm cache starts empty, and the leaked reservation (with its
/// page record, on the heap) is one the test made, which LeakSanitizer is told about.
#[cfg(unix)]
#[test]
fn leaked_memory_is_never_handed_out_again() {
    common::in_child("leaked_memory_is_never_handed_out_again", || {
        let mut v: VirtualVec<u64> = (0..10_000).collect();
        v.shrink_to_fit();
        let leaked: &'static mut [u64] = v.leak();
        let base = leaked.as_ptr();
        assert!(leaked.iter().copied().eq(0..10_000));
        // Were the region given back, a new vector of the same size would take it from the
        // cache; and `trim` would release it.
        vmem::trim();
        let others: Vec<VirtualVec<u64>> = (0..20)
            .map(|i| {
                let mut w = VirtualVec::new();
                w.extend(std::iter::repeat_n(i, 20_000));
                w
            })
            .collect();
        for w in &others {
            assert_ne!(w.as_ptr(), base);
        }
        drop(others);
        vmem::trim();
        assert!(leaked.iter().copied().eq(0..10_000));
        let runs = vmem::query(base.cast(), 10_000 * 8).unwrap();
        assert!(runs.iter().all(|r| r.state == vmem::PageState::Committed), "{runs:?}");
        leaked[0] = 99;
        assert_eq!(leaked[0], 99);
        // Elements are never dropped.
        let tracker = Tracker::default();
        let l = tracked_vec(&tracker, 3).leak();
        assert_eq!(ids(l), [0, 1, 2]);
        assert_eq!(tracker.drops.borrow().iter().sum::<usize>(), 0);
        // An empty vector leaks nothing at all.
        assert!(VirtualVec::<u8>::new().leak().is_empty());
    })
    .assert_success();
}

#[test]
fn conversions_move_or_clone_once() {
    let tracker = Tracker::default();
    let source: Vec<Tracked> = (0..5).map(|_| tracker.make()).collect();
    let v = VirtualVec::from(source);
    assert_eq!(ids(&v), [0, 1, 2, 3, 4]);
    let back: Vec<Tracked> = v.into();
    assert_eq!(ids(&back), [0, 1, 2, 3, 4]);
    assert_eq!(back.capacity(), 5);
    let array: [Tracked; 2] = [tracker.make(), tracker.make()];
    let from_array = VirtualVec::from(array);
    assert_eq!(ids(&from_array), [5, 6]);
    let cloned = VirtualVec::from(&back[1..3]);
    assert_eq!(ids(&cloned), [7, 8]);
    assert_eq!(tracker.drops.borrow().iter().sum::<usize>(), 0, "nothing dropped by a move");
    drop((back, from_array, cloned));
    tracker.assert_each_dropped_once();
    // Large and zero-sized contents.
    let big: Vec<u32> = (0..1_000_000).collect();
    assert!(VirtualVec::from(big).iter().copied().eq(0..1_000_000));
    let zst: Vec<()> = vec![(); 1000];
    assert_eq!(Vec::from(VirtualVec::from(zst)).len(), 1000);
    // A panicking clone in From<&[T]> drops the clones made.
    let tracker = Tracker::default();
    let source: Vec<Tracked> = (0..4).map(|_| tracker.make()).collect();
    CLONE_BUDGET.set(2);
    assert!(catch_unwind(AssertUnwindSafe(|| VirtualVec::from(source.as_slice()))).is_err());
    CLONE_BUDGET.set(usize::MAX);
    drop(source);
    tracker.assert_each_dropped_once();
}

#[test]
fn borrowing_traits_match_vec() {
    use std::borrow::{Borrow, BorrowMut};
    use std::collections::HashMap;
    fn total(v: impl AsRef<VirtualVec<u32>>) -> u32 {
        v.as_ref().iter().sum()
    }
    let mut v: VirtualVec<u32> = (1..=4).collect();
    assert_eq!(total(&v), 10);
    AsMut::<VirtualVec<u32>>::as_mut(&mut v).push(5);
    AsMut::<[u32]>::as_mut(&mut v)[0] = 0;
    BorrowMut::<[u32]>::borrow_mut(&mut v)[1] = 0;
    assert_eq!(Borrow::<[u32]>::borrow(&v), [0, 0, 3, 4, 5]);
    // The reservation inside has interior mutability, but the hash is the elements'.
    #[allow(clippy::mutable_key_type)]
    let map: HashMap<VirtualVec<u32>, &str> = [(v, "value")].into_iter().collect();
    assert_eq!(map.get(&[0, 0, 3, 4, 5][..]), Some(&"value"));
}

// ---------------------------------------------------------------------------------------
// io::Write
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum WriteOp {
    Write(Vec<u8>),
    WriteAll(Vec<u8>),
    Vectored(Vec<Vec<u8>>),
    Format(u64),
    Flush,
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        bytes.clone().prop_map(WriteOp::Write),
        bytes.clone().prop_map(WriteOp::WriteAll),
        proptest::collection::vec(bytes, 0..4).prop_map(WriteOp::Vectored),
        any::<u64>().prop_map(WriteOp::Format),
        Just(WriteOp::Flush),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn writes_like_vec(max in 1usize..2000, ops in proptest::collection::vec(write_op(), 0..40)) {
        use std::io::{IoSlice, Write};
        let mut v = VirtualVec::<u8>::with_max_capacity(max).unwrap();
        let mut model: Vec<u8> = Vec::new();
        for op in ops {
            let (result, wanted) = match &op {
                WriteOp::Write(b) => (v.write(b).map(|n| assert_eq!(n, b.len())), b.clone()),
                WriteOp::WriteAll(b) => (v.write_all(b), b.clone()),
                WriteOp::Vectored(bufs) => {
                    let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
                    (v.write_vectored(&slices).map(|n| assert_eq!(n, bufs.iter().map(Vec::len).sum::<usize>())), bufs.concat())
                }
                WriteOp::Format(x) => (write!(v, "<{x}>"), format!("<{x}>").into_bytes()),
                WriteOp::Flush => (v.flush(), Vec::new()),
            };
            let fits = model.len() + wanted.len() <= max;
            match result {
                Ok(()) => {
                    prop_assert!(fits);
                    model.extend_from_slice(&wanted);
                }
                Err(err) => {
                    prop_assert!(!fits, "{op:?} refused at {} of {max}: {err}", model.len());
                    if !matches!(op, WriteOp::Format(_)) {
                        prop_assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
                        let inner = err.get_ref().and_then(|e| e.downcast_ref::<vmem::Error>()).expect("the vmem error inside");
                        prop_assert_eq!(inner.kind(), ErrorKind::OutOfMemory);
                        // All or nothing.
                        prop_assert_eq!(v.len(), model.len());
                    } else {
                        // `write!` writes its pieces one by one: a prefix may be in.
                        model.clone_from(&v.to_vec());
                    }
                }
            }
            prop_assert_eq!(v.as_slice(), model.as_slice());
        }
    }
}

#[test]
fn large_writes_are_one_copy_at_one_address() {
    use std::io::Write;
    let mut v = VirtualVec::<u8>::new();
    v.write_all(b"x").unwrap();
    let p = v.as_ptr();
    let chunk: Vec<u8> = (0..=255).cycle().take(3 << 20).collect();
    for _ in 0..4 {
        v.write_all(&chunk).unwrap();
    }
    std::io::copy(&mut &chunk[..], &mut v).unwrap();
    assert_eq!(v.as_ptr(), p);
    assert_eq!(v.len(), 1 + 5 * chunk.len());
    assert!(v[1..].chunks(chunk.len()).all(|c| c == chunk));
}

// ---------------------------------------------------------------------------------------
// Serde (`--features serde`)
// ---------------------------------------------------------------------------------------

#[cfg(feature = "serde")]
mod serde_tests {
    use super::*;
    use serde::de::value::{Error as ValueError, SeqDeserializer};
    use serde::Deserialize;

    proptest! {
        #[test]
        fn serde_round_trips_like_vec(items in proptest::collection::vec(any::<(u32, String)>(), 0..50)) {
            let v: VirtualVec<(u32, String)> = items.iter().cloned().collect();
            let text = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(&text, &serde_json::to_string(&items).unwrap());
            let back: VirtualVec<(u32, String)> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &items);
            let as_vec: Vec<(u32, String)> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(as_vec, items);
        }
    }

    #[test]
    fn serde_nested_zero_sized_and_large() {
        let nested: VirtualVec<VirtualVec<u8>> = [VirtualVec::from(b"ab"), VirtualVec::new()].into_iter().collect();
        let text = serde_json::to_string(&nested).unwrap();
        assert_eq!(text, "[[97,98],[]]");
        assert_eq!(serde_json::from_str::<VirtualVec<VirtualVec<u8>>>(&text).unwrap(), nested);
        let units: VirtualVec<()> = serde_json::from_str("[null,null,null]").unwrap();
        assert_eq!((units.len(), units.reserved_bytes()), (3, 0));
        let big: VirtualVec<u64> = (0..300_000).collect();
        let back: VirtualVec<u64> = serde_json::from_slice(&serde_json::to_vec(&big).unwrap()).unwrap();
        assert_eq!(back, big);
    }

    thread_local! {
        static COUNTED_LIVE: Cell<i64> = const { Cell::new(0) };
    }

    /// A number that counts how many of its kind are alive.
    #[derive(Debug)]
    struct Counted(u32);

    impl<'de> Deserialize<'de> for Counted {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Counted, D::Error> {
            let value = u32::deserialize(deserializer)?;
            COUNTED_LIVE.set(COUNTED_LIVE.get() + 1);
            Ok(Counted(value))
        }
    }

    impl Drop for Counted {
        fn drop(&mut self) {
            COUNTED_LIVE.set(COUNTED_LIVE.get() - 1);
        }
    }

    #[test]
    fn serde_errors_drop_what_was_read() {
        let v: VirtualVec<Counted> = serde_json::from_str("[1, 2, 3]").unwrap();
        assert_eq!((COUNTED_LIVE.get(), v[2].0), (3, 3));
        drop(v);
        let err = serde_json::from_str::<VirtualVec<Counted>>(r#"[1, 2, "x", 4]"#).unwrap_err();
        assert!(err.to_string().contains("expected u32"), "{err}");
        assert_eq!(COUNTED_LIVE.get(), 0, "the elements read before the error are dropped");
        let err = serde_json::from_str::<VirtualVec<u8>>("{}").unwrap_err();
        assert!(err.to_string().contains("a sequence"), "{err}");
    }

    /// Yields `real` items while claiming `claimed` in its size hint.
    struct Lying {
        real: std::ops::Range<u64>,
        claimed: usize,
    }

    impl Iterator for Lying {
        type Item = u64;
        fn next(&mut self) -> Option<u64> {
            self.real.next()
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.claimed, Some(self.claimed))
        }
    }

    #[test]
    fn serde_a_hostile_length_hint_commits_at_most_a_mebibyte() {
        for claimed in [usize::MAX, 1 << 40, 10 << 20] {
            let de = SeqDeserializer::<_, ValueError>::new(Lying { real: 0..3, claimed });
            let v = VirtualVec::<u64>::deserialize(de).unwrap();
            assert_eq!(v, [0, 1, 2]);
            assert!(v.committed_bytes() <= MIB, "a hint of {claimed} committed {}", v.committed_bytes());
        }
        // An honest hint commits ahead once.
        let de = SeqDeserializer::<_, ValueError>::new(0..100_000u64);
        let v = VirtualVec::<u64>::deserialize(de).unwrap();
        assert!(v.iter().copied().eq(0..100_000));
        assert!(v.committed_bytes() >= 800_000);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn serde_running_out_of_memory_is_an_error() {
        common::in_child("serde_tests::serde_running_out_of_memory_is_an_error", || {
            common::limit_address_space(512 << 20);
            // 1 GiB of elements cannot fit under a 512 MiB address-space limit.
            let de = SeqDeserializer::<_, ValueError>::new(0..(128 << 20) as u64);
            let err = VirtualVec::<u64>::deserialize(de).unwrap_err().to_string();
            assert!(err.contains("VirtualVec::deserialize"), "{err}");
        })
        .assert_success();
    }
}
