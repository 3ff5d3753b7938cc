//! `SecondaryPool`: side data for the values of a [`Pool`](crate::Pool), found by the same
//! keys, as `slotmap`'s `SecondaryMap`.
//!
//! A secondary pool keeps, for each slot index, at most one value and the generation of the
//! key it was inserted with, so a key finds its value only while it has the same
//! generation: once the primary pool reuses the slot, the new value's key (a newer
//! generation) finds nothing until it is inserted itself, and inserting it replaces the
//! older key's value. A key older than the newest one a slot has seen is stale here too:
//! inserting with it does nothing.
//!
//! The entries are a [`VirtualVec`], indexed by the key's slot index: they never move, so a
//! value's address is stable until it is removed or replaced, as in a [`Pool`](crate::Pool).
//!
//! # Cost model
//!
//! - [`get`](SecondaryPool::get), [`get_mut`](SecondaryPool::get_mut),
//!   [`contains_key`](SecondaryPool::contains_key), [`remove`](SecondaryPool::remove): a
//!   bounds check and a compare of the generation.
//! - [`insert`](SecondaryPool::insert): the same, after growing the entries up to the key's
//!   index if they are shorter (4 bytes written per new entry; a `commit` system call per
//!   step of the vector, as [`VirtualVec`] grows).
//! - Memory: one entry per index up to the highest index inserted, `size_of::<V>()` plus 4
//!   bytes (the generation), rounded up to the alignment; address space as a [`VirtualVec`]'s
//!   ([`DEFAULT_RESERVE_BYTES`](crate::DEFAULT_RESERVE_BYTES) by default). Like the primary
//!   pool's slots, the entries are dense: keep side data for most of a pool's values here,
//!   not for a few keys with large indices.
//!
//! ```
//! use vmem::pool::SecondaryPool;
//! use vmem::{Handle, Pool};
//!
//! let mut names = Pool::new();
//! let mut ages: SecondaryPool<Handle, u32> = SecondaryPool::new();
//! let ann = names.insert("ann");
//! ages.insert(ann, 31);
//! names.remove(ann);
//! let bob = names.insert("bob"); // ann's slot, a newer generation
//! assert_eq!(ages.get(bob), None);
//! ages.insert(bob, 42);          // replaces ann's age
//! assert_eq!((ages.get(ann), ages.get(bob)), (None, Some(&42)));
//! assert_eq!(ages.len(), 1);
//! ```

use core::fmt;
use core::iter::{Enumerate, FusedIterator};
use core::marker::PhantomData;
use core::mem::{self, MaybeUninit};
use core::ops::{Index, IndexMut};
use core::slice;

use super::{Handle, Key};
use crate::{Error, Result, VirtualVec};

/// One index's entry: maybe a value, and the generation that says whether.
pub(super) struct Entry<V> {
    /// Odd: holds the value of the key with this generation. Even: vacant, and keys of
    /// this generation or older are stale here (0: no key seen yet).
    pub(super) generation: u32,
    pub(super) value: MaybeUninit<V>,
}

impl<V> Entry<V> {
    const VACANT: u32 = 0;

    fn vacant() -> Self {
        Entry { generation: Self::VACANT, value: MaybeUninit::uninit() }
    }

    fn is_occupied(&self) -> bool {
        self.generation % 2 == 1
    }
}

/// Side data for the values of a [`Pool`](crate::Pool), found by the same keys and checked
/// by generation: see the [module docs](self).
///
/// ```
/// use vmem::pool::SecondaryPool;
///
/// vmem::new_key_type! { struct Entity; }
///
/// let mut entities = vmem::Pool::<&str, Entity>::with_key();
/// let mut positions = SecondaryPool::<Entity, (f32, f32)>::new();
/// let player = entities.insert("player");
/// positions.insert(player, (1.0, 2.0));
/// positions[player].0 += 1.0;
/// assert_eq!(positions[player], (2.0, 2.0));
/// ```
pub struct SecondaryPool<K: Key, V> {
    pub(super) entries: VirtualVec<Entry<V>>,
    /// The entries that hold a value.
    pub(super) len: usize,
    pub(super) _key: PhantomData<fn(K) -> K>,
}

impl<K: Key, V> Default for SecondaryPool<K, V> {
    /// An empty secondary pool, as [`SecondaryPool::new`].
    ///
    /// ```
    /// let side: vmem::pool::SecondaryPool<vmem::Handle, u8> = Default::default();
    /// assert!(side.is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Key, V> SecondaryPool<K, V> {
    /// An empty secondary pool. Reserves nothing: the first insert does, so `new` never
    /// fails and costs nothing.
    ///
    /// ```
    /// let side = vmem::pool::SecondaryPool::<vmem::Handle, String>::new();
    /// assert_eq!(side.len(), 0);
    /// ```
    pub const fn new() -> Self {
        SecondaryPool { entries: VirtualVec::new(), len: 0, _key: PhantomData }
    }

    /// The number of values.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// side.insert(pool.insert(()), 'x');
    /// assert_eq!(side.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no value.
    ///
    /// ```
    /// let side = vmem::pool::SecondaryPool::<vmem::Handle, u8>::new();
    /// assert!(side.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Puts `value` under `key` and returns the value `key` had, if any. A value that an
    /// older key of the same slot had is dropped and replaced. If `key` is older than the
    /// newest key this slot has seen, or is null, it is stale here: nothing changes, `value`
    /// is dropped and the result is `None`.
    ///
    /// # Panics
    /// When the entries cannot grow to the key's index (the OS refuses memory, or the index
    /// is past the maximum); see [`try_insert`](SecondaryPool::try_insert).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// assert_eq!(side.insert(h, 1), None);
    /// assert_eq!(side.insert(h, 2), Some(1));
    /// assert_eq!(side[h], 2);
    /// ```
    #[track_caller]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.try_insert(key, value) {
            Ok(old) => old,
            Err((_, err)) => crate::sync::failed("SecondaryPool::insert", err),
        }
    }

    /// As [`insert`](SecondaryPool::insert), or hands `value` back with the error when the
    /// entries cannot grow to the key's index (`OutOfMemory`); nothing changes then.
    ///
    /// ```
    /// use vmem::pool::SecondaryPool;
    /// use vmem::Handle;
    ///
    /// let mut side = SecondaryPool::<Handle, [u8; 4096]>::new();
    /// let far = Handle::from_bits((u32::MAX as u64 - 1) << 32 | 1).unwrap();
    /// let (value, err) = side.try_insert(far, [7; 4096]).unwrap_err();
    /// assert_eq!((value[0], err.kind()), (7, vmem::ErrorKind::OutOfMemory));
    /// assert!(side.is_empty());
    /// ```
    pub fn try_insert(&mut self, key: K, value: V) -> core::result::Result<Option<V>, (V, Error)> {
        let handle = key.handle();
        if handle.is_null() {
            return Ok(None);
        }
        let index = handle.index() as usize;
        if index >= self.entries.len() {
            // Not `NULL`: `index < u32::MAX`, no overflow.
            let gap = index + 1 - self.entries.len();
            if let Err(err) = self.entries.try_reserve(gap) {
                return Err((value, err));
            }
            if let Err(err) = self.entries.try_extend(core::iter::repeat_with(Entry::vacant).take(gap)) {
                // Not after the reservation; if it did, the vacant entries added change nothing.
                return Err((value, err));
            }
        }
        let generation = handle.generation();
        let entry = &mut self.entries[index];
        if entry.generation == generation {
            // SAFETY: the key's generation is odd: the entry holds its value.
            return Ok(Some(mem::replace(unsafe { entry.value.assume_init_mut() }, value)));
        }
        if entry.generation > generation {
            return Ok(None); // an older key than one seen here: stale
        }
        let old = if entry.is_occupied() {
            // SAFETY: odd generation: the entry holds a value, taken out once (overwritten
            // right after).
            Some(unsafe { entry.value.assume_init_read() })
        } else {
            self.len += 1;
            None
        };
        entry.value = MaybeUninit::new(value);
        entry.generation = generation;
        // The older key's value is dropped last, with the entry consistent, in case its
        // destructor panics.
        drop(old);
        Ok(None)
    }

    /// The entry `key` names, if it holds the value of that key.
    fn entry(&self, key: K) -> Option<&Entry<V>> {
        let handle = key.handle();
        self.entries.get(handle.index() as usize).filter(|entry| entry.generation == handle.generation())
    }

    /// The value of `key`, or `None` if it has none here (or is stale).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let (a, b) = (pool.insert(()), pool.insert(()));
    /// side.insert(a, "a");
    /// assert_eq!((side.get(a), side.get(b)), (Some(&"a"), None));
    /// ```
    #[inline]
    pub fn get(&self, key: K) -> Option<&V> {
        // SAFETY: the key's generation is odd: the entry holds its value.
        self.entry(key).map(|entry| unsafe { entry.value.assume_init_ref() })
    }

    /// The value of `key`, mutably, or `None` if it has none here.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// *side.get_mut(h).unwrap() += 1;
    /// assert_eq!(side[h], 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        let handle = key.handle();
        let entry = self.entries.get_mut(handle.index() as usize)?;
        if entry.generation != handle.generation() {
            return None;
        }
        // SAFETY: the key's generation is odd: the entry holds its value.
        Some(unsafe { entry.value.assume_init_mut() })
    }

    /// Whether `key` has a value here.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, ());
    /// assert!(side.contains_key(h));
    /// assert!(!side.contains_key(vmem::Handle::NULL));
    /// ```
    #[inline]
    pub fn contains_key(&self, key: K) -> bool {
        self.entry(key).is_some()
    }

    /// Takes the value of `key` out, or `None` if it has none here. Older keys of the slot
    /// stay stale; `key` itself may be inserted again.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, String::from("x"));
    /// assert_eq!(side.remove(h).as_deref(), Some("x"));
    /// assert_eq!(side.remove(h), None);
    /// ```
    pub fn remove(&mut self, key: K) -> Option<V> {
        let handle = key.handle();
        let entry = self.entries.get_mut(handle.index() as usize)?;
        if entry.generation != handle.generation() {
            return None;
        }
        // Even, below the key's: the key may come back, older ones may not.
        entry.generation = handle.generation() - 1;
        self.len -= 1;
        // SAFETY: the key's generation was odd: the entry held its value, taken out once
        // (the entry is vacant now).
        Some(unsafe { entry.value.assume_init_read() })
    }

    /// Keeps only the values for which `keep` returns `true`.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// for i in 0..10 {
    ///     side.insert(pool.insert(()), i);
    /// }
    /// side.retain(|_, v| *v >= 5);
    /// assert_eq!(side.len(), 5);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(K, &mut V) -> bool) {
        for (index, entry) in self.entries.iter_mut().enumerate() {
            if entry.is_occupied() {
                let key = K::from(Handle::new(index as u32, entry.generation));
                // SAFETY: odd generation: the entry holds a value.
                if !keep(key, unsafe { entry.value.assume_init_mut() }) {
                    // Vacant before the drop, in case it panics.
                    entry.generation -= 1;
                    self.len -= 1;
                    // SAFETY: the value is there, and dropped once (the entry is vacant).
                    unsafe { entry.value.assume_init_drop() };
                }
            }
        }
    }

    /// Removes every value and forgets the keys seen (any key may insert again afterwards,
    /// as into a new secondary pool). The memory stays committed.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, vec![1]);
    /// side.clear();
    /// assert!(side.is_empty() && side.get(h).is_none());
    /// ```
    pub fn clear(&mut self) {
        if mem::needs_drop::<V>() {
            self.retain(|_, _| false);
        }
        self.len = 0;
        // The entries own nothing now: no destructor runs, and their memory stays.
        self.entries.clear();
    }

    /// The values with their keys, in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 'a');
    /// assert_eq!(side.iter().collect::<Vec<_>>(), [(h, &'a')]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter { entries: self.entries.iter().enumerate(), remaining: self.len, _key: PhantomData }
    }

    /// The values, mutably, with their keys, in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// for (_, v) in side.iter_mut() {
    ///     *v += 1;
    /// }
    /// assert_eq!(side[h], 2);
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut { entries: self.entries.iter_mut().enumerate(), remaining: self.len, _key: PhantomData }
    }

    /// The keys that have a value, in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// assert_eq!(side.keys().collect::<Vec<_>>(), [h]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys { inner: self.iter() }
    }

    /// The values, in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// side.insert(pool.insert(()), 1);
    /// side.insert(pool.insert(()), 2);
    /// assert_eq!(side.values().sum::<i32>(), 3);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values { inner: self.iter() }
    }

    /// The values, mutably, in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// side.values_mut().for_each(|v| *v = 9);
    /// assert_eq!(side[h], 9);
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut { inner: self.iter_mut() }
    }

    /// A copy with the same values under the same keys (and the same stale ones), or the
    /// error when the OS refuses memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, String::from("x"));
    /// let copy = side.try_clone()?;
    /// assert_eq!(copy[h], "x");
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Self>
    where
        V: Clone,
    {
        let mut clone = Self::new();
        clone.entries.try_reserve(self.entries.len())?;
        for entry in self.entries.iter() {
            let copy = if entry.is_occupied() {
                // SAFETY: odd generation: the entry holds a value.
                let value = unsafe { entry.value.assume_init_ref() }.clone();
                Entry { generation: entry.generation, value: MaybeUninit::new(value) }
            } else {
                Entry { generation: entry.generation, value: MaybeUninit::uninit() }
            };
            // Room was reserved, so this does not fail; if a `clone` panics, the clone
            // drops the values it holds.
            if let Err((copy, err)) = clone.entries.try_push(copy) {
                if copy.is_occupied() {
                    // SAFETY: just cloned into it.
                    drop(unsafe { copy.value.assume_init() });
                }
                return Err(err);
            }
            clone.len += usize::from(entry.is_occupied());
        }
        Ok(clone)
    }
}

impl<K: Key, V> Drop for SecondaryPool<K, V> {
    fn drop(&mut self) {
        if mem::needs_drop::<V>() {
            for entry in self.entries.iter_mut() {
                if entry.is_occupied() {
                    // SAFETY: odd generation: the entry holds a value, dropped once.
                    unsafe { entry.value.assume_init_drop() };
                }
            }
        }
    }
}

impl<K: Key, V: Clone> Clone for SecondaryPool<K, V> {
    /// As [`try_clone`](SecondaryPool::try_clone).
    ///
    /// # Panics
    /// When the OS refuses the memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// assert_eq!(side.clone()[h], 1);
    /// ```
    fn clone(&self) -> Self {
        match self.try_clone() {
            Ok(clone) => clone,
            Err(err) => crate::sync::failed("SecondaryPool::clone", err),
        }
    }
}

impl<K: Key, V> Index<K> for SecondaryPool<K, V> {
    type Output = V;

    /// The value of `key`.
    ///
    /// # Panics
    /// When `key` has no value here.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// assert_eq!(side[h], 1);
    /// ```
    fn index(&self, key: K) -> &V {
        match self.get(key) {
            Some(value) => value,
            None => no_value(key.handle()),
        }
    }
}

impl<K: Key, V> IndexMut<K> for SecondaryPool<K, V> {
    /// The value of `key`, mutably.
    ///
    /// # Panics
    /// When `key` has no value here.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// let h = pool.insert(());
    /// side.insert(h, 1);
    /// side[h] += 1;
    /// assert_eq!(side[h], 2);
    /// ```
    fn index_mut(&mut self, key: K) -> &mut V {
        match self.get_mut(key) {
            Some(value) => value,
            None => no_value(key.handle()),
        }
    }
}

#[cold]
#[inline(never)]
fn no_value(handle: Handle) -> ! {
    panic!("SecondaryPool: {handle:?} has no value")
}

impl<K: Key, V: fmt::Debug> fmt::Debug for SecondaryPool<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a, K: Key, V> IntoIterator for &'a SecondaryPool<K, V> {
    type Item = (K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K: Key, V> IntoIterator for &'a mut SecondaryPool<K, V> {
    type Item = (K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

/// The values of a [`SecondaryPool`] with their keys, from [`SecondaryPool::iter`].
///
/// ```
/// let side = vmem::pool::SecondaryPool::<vmem::Handle, u8>::new();
/// let it: vmem::pool::secondary::Iter<'_, vmem::Handle, u8> = side.iter();
/// assert_eq!(it.len(), 0);
/// ```
pub struct Iter<'a, K: Key, V> {
    entries: Enumerate<slice::Iter<'a, Entry<V>>>,
    remaining: usize,
    _key: PhantomData<fn(K) -> K>,
}

impl<'a, K: Key, V> Iterator for Iter<'a, K, V> {
    type Item = (K, &'a V);

    fn next(&mut self) -> Option<(K, &'a V)> {
        while self.remaining > 0 {
            let (index, entry) = self.entries.next()?;
            if entry.is_occupied() {
                self.remaining -= 1;
                // SAFETY: odd generation: the entry holds a value. `index < u32::MAX`
                // (entries are made only up to a key's index).
                return Some((K::from(Handle::new(index as u32, entry.generation)), unsafe {
                    entry.value.assume_init_ref()
                }));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K: Key, V> ExactSizeIterator for Iter<'_, K, V> {}
impl<K: Key, V> FusedIterator for Iter<'_, K, V> {}

impl<K: Key, V> Clone for Iter<'_, K, V> {
    fn clone(&self) -> Self {
        Iter { entries: self.entries.clone(), remaining: self.remaining, _key: PhantomData }
    }
}

impl<K: Key, V: fmt::Debug> fmt::Debug for Iter<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.clone()).finish()
    }
}

/// The values of a [`SecondaryPool`], mutably, with their keys, from
/// [`SecondaryPool::iter_mut`].
///
/// ```
/// let mut side = vmem::pool::SecondaryPool::<vmem::Handle, u8>::new();
/// let it: vmem::pool::secondary::IterMut<'_, vmem::Handle, u8> = side.iter_mut();
/// assert_eq!(it.count(), 0);
/// ```
pub struct IterMut<'a, K: Key, V> {
    entries: Enumerate<slice::IterMut<'a, Entry<V>>>,
    remaining: usize,
    _key: PhantomData<fn(K) -> K>,
}

impl<'a, K: Key, V> Iterator for IterMut<'a, K, V> {
    type Item = (K, &'a mut V);

    fn next(&mut self) -> Option<(K, &'a mut V)> {
        while self.remaining > 0 {
            let (index, entry) = self.entries.next()?;
            if entry.is_occupied() {
                self.remaining -= 1;
                let key = K::from(Handle::new(index as u32, entry.generation));
                // SAFETY: odd generation: the entry holds a value.
                return Some((key, unsafe { entry.value.assume_init_mut() }));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K: Key, V> ExactSizeIterator for IterMut<'_, K, V> {}
impl<K: Key, V> FusedIterator for IterMut<'_, K, V> {}

impl<K: Key, V> fmt::Debug for IterMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterMut").field("remaining", &self.remaining).finish()
    }
}

/// The keys of a [`SecondaryPool`], from [`SecondaryPool::keys`].
///
/// ```
/// let side = vmem::pool::SecondaryPool::<vmem::Handle, u8>::new();
/// let keys: vmem::pool::secondary::Keys<'_, vmem::Handle, u8> = side.keys();
/// assert_eq!(keys.count(), 0);
/// ```
pub struct Keys<'a, K: Key, V> {
    inner: Iter<'a, K, V>,
}

impl<K: Key, V> Clone for Keys<'_, K, V> {
    fn clone(&self) -> Self {
        Keys { inner: self.inner.clone() }
    }
}

impl<K: Key, V> Iterator for Keys<'_, K, V> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        self.inner.next().map(|(key, _)| key)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K: Key, V> ExactSizeIterator for Keys<'_, K, V> {}
impl<K: Key, V> FusedIterator for Keys<'_, K, V> {}

impl<K: Key, V> fmt::Debug for Keys<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The values of a [`SecondaryPool`], from [`SecondaryPool::values`].
///
/// ```
/// let side = vmem::pool::SecondaryPool::<vmem::Handle, u8>::new();
/// let values: vmem::pool::secondary::Values<'_, vmem::Handle, u8> = side.values();
/// assert_eq!(values.count(), 0);
/// ```
pub struct Values<'a, K: Key, V> {
    inner: Iter<'a, K, V>,
}

impl<K: Key, V> Clone for Values<'_, K, V> {
    fn clone(&self) -> Self {
        Values { inner: self.inner.clone() }
    }
}

impl<'a, K: Key, V> Iterator for Values<'a, K, V> {
    type Item = &'a V;

    fn next(&mut self) -> Option<&'a V> {
        self.inner.next().map(|(_, value)| value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K: Key, V> ExactSizeIterator for Values<'_, K, V> {}
impl<K: Key, V> FusedIterator for Values<'_, K, V> {}

impl<K: Key, V: fmt::Debug> fmt::Debug for Values<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The values of a [`SecondaryPool`], mutably, from [`SecondaryPool::values_mut`].
///
/// ```
/// let mut side = vmem::pool::SecondaryPool::<vmem::Handle, u8>::new();
/// let values: vmem::pool::secondary::ValuesMut<'_, vmem::Handle, u8> = side.values_mut();
/// assert_eq!(values.count(), 0);
/// ```
pub struct ValuesMut<'a, K: Key, V> {
    inner: IterMut<'a, K, V>,
}

impl<'a, K: Key, V> Iterator for ValuesMut<'a, K, V> {
    type Item = &'a mut V;

    fn next(&mut self) -> Option<&'a mut V> {
        self.inner.next().map(|(_, value)| value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K: Key, V> ExactSizeIterator for ValuesMut<'_, K, V> {}
impl<K: Key, V> FusedIterator for ValuesMut<'_, K, V> {}

impl<K: Key, V> fmt::Debug for ValuesMut<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValuesMut").field("remaining", &self.inner.remaining).finish()
    }
}
