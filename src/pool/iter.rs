//! The iterators of a [`Pool`]: [`Iter`], [`IterMut`], [`IntoIter`], [`Drain`], [`Keys`],
//! [`Values`], [`ValuesMut`]. Each walks the slots below `used` in order and yields the
//! occupied ones (odd generation), and knows how many values are left, so it stops at the
//! last one without reading the slots past it.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::mem;
use core::ptr::NonNull;

use super::{Handle, Key, Pool, Slot};

/// The walk all the iterators share: slots `[index, end)` of a pool, `remaining` of which
/// hold values.
struct Walk<T> {
    slots: NonNull<Slot<T>>,
    index: usize,
    end: usize,
    remaining: usize,
}

impl<T> Walk<T> {
    /// The next occupied slot and its handle.
    ///
    /// # Safety
    /// Slots `[index, end)` are committed slots of a pool that the caller has borrowed (or
    /// owns) for as long as it uses the result, and `remaining` of them hold values.
    #[inline]
    unsafe fn next(&mut self) -> Option<(Handle, *mut Slot<T>)> {
        while self.remaining > 0 && self.index < self.end {
            let index = self.index;
            self.index += 1;
            // SAFETY: a committed slot below `end` (the caller's promise).
            let slot = unsafe { self.slots.as_ptr().add(index) };
            // SAFETY: as above; the generation was written by the pool.
            let generation = unsafe { (*slot).generation };
            if generation % 2 == 1 {
                self.remaining -= 1;
                // Odd, so not zero; `index < end <= u32::MAX`.
                return Some((Handle::new(index as u32, generation), slot));
            }
        }
        None
    }
}

impl<T> Walk<T> {
    /// Folds `f` over the occupied slots left, in order, and leaves the walk at its end: what
    /// `next` does, without the count of values left checked per slot, so that a sum or a
    /// collect compiles to a loop over the slots the compiler can unroll. (Its own loop, not
    /// `next` or a shared step in a `while let`: `drain().sum()` folded that way ran at
    /// 0.67x of `slab`'s, against 1.08x to 1.16x with this loop. The slots after the last
    /// value are vacant, with even generations, below `used` as everywhere.) The walk's position
    /// moves past each slot before `f` sees it, so if `f` panics the walk goes on from there
    /// (a `Drain` then drops the values after it).
    ///
    /// # Safety
    /// As for [`next`](Walk::next).
    #[inline]
    unsafe fn fold<B>(&mut self, init: B, mut f: impl FnMut(B, Handle, *mut Slot<T>) -> B) -> B {
        let mut acc = init;
        while self.index < self.end {
            let index = self.index;
            self.index += 1;
            // SAFETY: a committed slot below `end` (the caller's promise).
            let slot = unsafe { self.slots.as_ptr().add(index) };
            // SAFETY: as above; the generation was written by the pool.
            let generation = unsafe { (*slot).generation };
            if generation % 2 == 1 {
                self.remaining -= 1;
                // Odd, so not zero; `index < end <= u32::MAX`.
                acc = f(acc, Handle::new(index as u32, generation), slot);
            }
        }
        acc
    }
}

impl<T> Clone for Walk<T> {
    fn clone(&self) -> Self {
        Walk { ..*self }
    }
}

/// The values of a [`Pool`] with their keys, from [`Pool::iter`].
///
/// ```
/// let mut pool = vmem::Pool::new();
/// pool.insert(1);
/// let it: vmem::pool::Iter<'_, i32> = pool.iter();
/// assert_eq!(it.len(), 1);
/// ```
pub struct Iter<'a, T, K: Key = Handle> {
    walk: Walk<T>,
    _pool: PhantomData<&'a Pool<T, K>>,
}

impl<T, K: Key> Iter<'_, T, K> {
    pub(super) fn new(slots: NonNull<Slot<T>>, end: usize, len: usize) -> Self {
        Iter { walk: Walk { slots, index: 0, end, remaining: len }, _pool: PhantomData }
    }
}

// SAFETY: a shared borrow of the pool's values.
unsafe impl<T: Sync, K: Key> Send for Iter<'_, T, K> {}
// SAFETY: as above.
unsafe impl<T: Sync, K: Key> Sync for Iter<'_, T, K> {}

impl<'a, T, K: Key> Iterator for Iter<'a, T, K> {
    type Item = (K, &'a T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: the slots below `used` of a pool borrowed for `'a`.
        let (handle, slot) = unsafe { self.walk.next() }?;
        // SAFETY: an occupied slot: it holds a value, shared for `'a`.
        Some((K::from(handle), unsafe { (*slot).value.assume_init_ref() }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.walk.remaining, Some(self.walk.remaining))
    }

    #[inline]
    fn fold<B, F: FnMut(B, Self::Item) -> B>(mut self, init: B, mut f: F) -> B {
        // SAFETY: as in `next`.
        unsafe { self.walk.fold(init, |acc, handle, slot| f(acc, (K::from(handle), (*slot).value.assume_init_ref()))) }
    }
}

impl<T, K: Key> ExactSizeIterator for Iter<'_, T, K> {}
impl<T, K: Key> FusedIterator for Iter<'_, T, K> {}

impl<T, K: Key> Clone for Iter<'_, T, K> {
    fn clone(&self) -> Self {
        Iter { walk: self.walk.clone(), _pool: PhantomData }
    }
}

impl<T: fmt::Debug, K: Key> fmt::Debug for Iter<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.clone()).finish()
    }
}

/// The values of a [`Pool`], mutably, with their keys, from [`Pool::iter_mut`].
///
/// ```
/// let mut pool = vmem::Pool::new();
/// pool.insert(1);
/// let mut it: vmem::pool::IterMut<'_, i32> = pool.iter_mut();
/// *it.next().unwrap().1 = 2;
/// ```
pub struct IterMut<'a, T, K: Key = Handle> {
    walk: Walk<T>,
    _pool: PhantomData<&'a mut Pool<T, K>>,
}

impl<T, K: Key> IterMut<'_, T, K> {
    pub(super) fn new(slots: NonNull<Slot<T>>, end: usize, len: usize) -> Self {
        IterMut { walk: Walk { slots, index: 0, end, remaining: len }, _pool: PhantomData }
    }
}

// SAFETY: a unique borrow of the pool's values.
unsafe impl<T: Send, K: Key> Send for IterMut<'_, T, K> {}
// SAFETY: `&IterMut` gives no access to the values.
unsafe impl<T: Sync, K: Key> Sync for IterMut<'_, T, K> {}

impl<'a, T, K: Key> Iterator for IterMut<'a, T, K> {
    type Item = (K, &'a mut T);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        // SAFETY: the slots below `used` of a pool borrowed mutably for `'a`.
        let (handle, slot) = unsafe { self.walk.next() }?;
        // SAFETY: an occupied slot: it holds a value. Each slot is visited once, so the
        // references are disjoint.
        Some((K::from(handle), unsafe { (*slot).value.assume_init_mut() }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.walk.remaining, Some(self.walk.remaining))
    }

    #[inline]
    fn fold<B, F: FnMut(B, Self::Item) -> B>(mut self, init: B, mut f: F) -> B {
        // SAFETY: as in `next`.
        unsafe { self.walk.fold(init, |acc, handle, slot| f(acc, (K::from(handle), (*slot).value.assume_init_mut()))) }
    }
}

impl<T, K: Key> ExactSizeIterator for IterMut<'_, T, K> {}
impl<T, K: Key> FusedIterator for IterMut<'_, T, K> {}

impl<T, K: Key> fmt::Debug for IterMut<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterMut").field("remaining", &self.walk.remaining).finish()
    }
}

impl<'a, T, K: Key> IntoIterator for &'a Pool<T, K> {
    type Item = (K, &'a T);
    type IntoIter = Iter<'a, T, K>;

    fn into_iter(self) -> Iter<'a, T, K> {
        self.iter()
    }
}

impl<'a, T, K: Key> IntoIterator for &'a mut Pool<T, K> {
    type Item = (K, &'a mut T);
    type IntoIter = IterMut<'a, T, K>;

    fn into_iter(self) -> IterMut<'a, T, K> {
        self.iter_mut()
    }
}

/// The values of a [`Pool`] by value, with their (now stale) keys, from its
/// `into_iter`.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let h = pool.insert(String::from("a"));
/// let all: Vec<(vmem::Handle, String)> = pool.into_iter().collect();
/// assert_eq!(all, [(h, String::from("a"))]);
/// ```
pub struct IntoIter<T, K: Key = Handle> {
    pool: Pool<T, K>,
    index: usize,
}

impl<T, K: Key> IntoIterator for Pool<T, K> {
    type Item = (K, T);
    type IntoIter = IntoIter<T, K>;

    fn into_iter(self) -> IntoIter<T, K> {
        IntoIter { pool: self, index: 0 }
    }
}

impl<T, K: Key> Iterator for IntoIter<T, K> {
    type Item = (K, T);

    fn next(&mut self) -> Option<(K, T)> {
        while !self.pool.is_empty() && self.index < self.pool.used {
            let index = self.index;
            self.index += 1;
            // SAFETY: a committed slot below `used`.
            let generation = unsafe { (*self.pool.slots.as_ptr().add(index)).generation };
            if generation % 2 == 1 {
                let key = K::from(Handle::new(index as u32, generation));
                return self.pool.remove(key).map(|value| (key, value));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pool.len(), Some(self.pool.len()))
    }
}

impl<T, K: Key> ExactSizeIterator for IntoIter<T, K> {}
impl<T, K: Key> FusedIterator for IntoIter<T, K> {}

impl<T, K: Key> fmt::Debug for IntoIter<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter").field("remaining", &self.pool.len()).finish()
    }
}

/// The values of a [`Pool`] taken out, with their (now stale) keys, from [`Pool::drain`].
/// The pool is empty from the start; dropping the iterator drops the values it did not
/// yield.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// pool.insert(String::from("a"));
/// pool.insert(String::from("b"));
/// let mut drain: vmem::pool::Drain<'_, String> = pool.drain();
/// assert_eq!(drain.len(), 2);
/// assert_eq!(drain.next().map(|(_, s)| s).as_deref(), Some("a"));
/// drop(drain);
/// assert!(pool.is_empty());
/// ```
pub struct Drain<'a, T, K: Key = Handle> {
    /// The slots below the pool's old `used`: the pool forgot them, so the values in them
    /// belong to the drain.
    walk: Walk<T>,
    _pool: PhantomData<&'a mut Pool<T, K>>,
}

impl<T, K: Key> Drain<'_, T, K> {
    pub(super) fn new(slots: NonNull<Slot<T>>, end: usize, len: usize) -> Self {
        Drain { walk: Walk { slots, index: 0, end, remaining: len }, _pool: PhantomData }
    }
}

// SAFETY: it owns the values it has not yet yielded, and borrows the pool uniquely.
unsafe impl<T: Send, K: Key> Send for Drain<'_, T, K> {}
// SAFETY: `&Drain` gives no access to the values.
unsafe impl<T: Sync, K: Key> Sync for Drain<'_, T, K> {}

impl<T, K: Key> Iterator for Drain<'_, T, K> {
    type Item = (K, T);

    #[inline]
    fn next(&mut self) -> Option<(K, T)> {
        // SAFETY: the slots below the old `used` of a pool borrowed mutably for the drain's
        // life; the pool no longer counts their values.
        let (handle, slot) = unsafe { self.walk.next() }?;
        // SAFETY: an occupied slot the pool forgot: its value belongs to the drain, taken
        // out once (the walk never comes back to it). Its generation stays odd, which
        // the pool reads as "value gone with a clear" (slots from `used` on are vacant).
        Some((K::from(handle), unsafe { (*slot).value.assume_init_read() }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.walk.remaining, Some(self.walk.remaining))
    }

    #[inline]
    fn fold<B, F: FnMut(B, (K, T)) -> B>(mut self, init: B, mut f: F) -> B {
        // SAFETY: as in `next`; each occupied slot is read once, and the walk ends before
        // `Drop` (which then has nothing left to drop).
        unsafe { self.walk.fold(init, |acc, handle, slot| f(acc, (K::from(handle), (*slot).value.assume_init_read()))) }
    }
}

impl<T, K: Key> ExactSizeIterator for Drain<'_, T, K> {}
impl<T, K: Key> FusedIterator for Drain<'_, T, K> {}

impl<T, K: Key> Drop for Drain<'_, T, K> {
    fn drop(&mut self) {
        if mem::needs_drop::<T>() {
            // If a destructor panics, the values after it leak: the pool is empty anyway.
            for _ in self.by_ref() {}
        }
    }
}

impl<T, K: Key> fmt::Debug for Drain<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").field("remaining", &self.walk.remaining).finish()
    }
}

/// The keys of a [`Pool`]'s values, from [`Pool::keys`].
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let h = pool.insert(1);
/// let keys: vmem::pool::Keys<'_, i32> = pool.keys();
/// assert_eq!(keys.collect::<Vec<_>>(), [h]);
/// ```
pub struct Keys<'a, T, K: Key = Handle> {
    pub(super) inner: Iter<'a, T, K>,
}

impl<T, K: Key> Iterator for Keys<'_, T, K> {
    type Item = K;

    #[inline]
    fn next(&mut self) -> Option<K> {
        self.inner.next().map(|(key, _)| key)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn fold<B, F: FnMut(B, K) -> B>(self, init: B, mut f: F) -> B {
        self.inner.fold(init, |acc, (key, _)| f(acc, key))
    }
}

impl<T, K: Key> ExactSizeIterator for Keys<'_, T, K> {}
impl<T, K: Key> FusedIterator for Keys<'_, T, K> {}

impl<T, K: Key> Clone for Keys<'_, T, K> {
    fn clone(&self) -> Self {
        Keys { inner: self.inner.clone() }
    }
}

impl<T, K: Key> fmt::Debug for Keys<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The values of a [`Pool`], from [`Pool::values`].
///
/// ```
/// let mut pool = vmem::Pool::new();
/// pool.insert(1);
/// let values: vmem::pool::Values<'_, i32> = pool.values();
/// assert_eq!(values.collect::<Vec<_>>(), [&1]);
/// ```
pub struct Values<'a, T, K: Key = Handle> {
    pub(super) inner: Iter<'a, T, K>,
}

impl<'a, T, K: Key> Iterator for Values<'a, T, K> {
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        self.inner.next().map(|(_, value)| value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn fold<B, F: FnMut(B, &'a T) -> B>(self, init: B, mut f: F) -> B {
        self.inner.fold(init, |acc, (_, value)| f(acc, value))
    }
}

impl<T, K: Key> ExactSizeIterator for Values<'_, T, K> {}
impl<T, K: Key> FusedIterator for Values<'_, T, K> {}

impl<T, K: Key> Clone for Values<'_, T, K> {
    fn clone(&self) -> Self {
        Values { inner: self.inner.clone() }
    }
}

impl<T: fmt::Debug, K: Key> fmt::Debug for Values<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The values of a [`Pool`], mutably, from [`Pool::values_mut`].
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let h = pool.insert(1);
/// let values: vmem::pool::ValuesMut<'_, i32> = pool.values_mut();
/// values.for_each(|v| *v = 5);
/// assert_eq!(pool[h], 5);
/// ```
pub struct ValuesMut<'a, T, K: Key = Handle> {
    pub(super) inner: IterMut<'a, T, K>,
}

impl<'a, T, K: Key> Iterator for ValuesMut<'a, T, K> {
    type Item = &'a mut T;

    #[inline]
    fn next(&mut self) -> Option<&'a mut T> {
        self.inner.next().map(|(_, value)| value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }

    #[inline]
    fn fold<B, F: FnMut(B, &'a mut T) -> B>(self, init: B, mut f: F) -> B {
        self.inner.fold(init, |acc, (_, value)| f(acc, value))
    }
}

impl<T, K: Key> ExactSizeIterator for ValuesMut<'_, T, K> {}
impl<T, K: Key> FusedIterator for ValuesMut<'_, T, K> {}

impl<T, K: Key> fmt::Debug for ValuesMut<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValuesMut").field("remaining", &self.inner.len()).finish()
    }
}
