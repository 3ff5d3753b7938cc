//! `Pool`: a slot allocator with generational handles whose values never move.
//!
//! A `Pool<T>` stores values in slots of a [`VirtualVec`] (one
//! reservation, committed as it grows) and hands out a [`Handle`]: the slot's index and the
//! slot's generation. Removing a value bumps the generation and puts the slot on a free list,
//! so a stale handle — removed, or its slot reused since — finds a different generation and
//! gets `None`, never another value. A live value's address never changes, so a `&T`
//! obtained through a handle can be turned into a raw pointer that stays valid until the
//! value is removed.
//!
//! Cost model: `insert` pops the free list or pushes a slot (a commit system call when the
//! committed part is full, doubling each time); `get` and `remove` are an index, a compare
//! and (for `remove`) a free-list push. No hashing, no allocation per value.
//!
//! ```
//! use vmem::Pool;
//!
//! let mut pool = Pool::new();
//! let a = pool.insert("alpha");
//! let b = pool.insert("beta");
//! assert_eq!(pool.get(a), Some(&"alpha"));
//! assert_eq!(pool.remove(a), Some("alpha"));
//! assert_eq!(pool.get(a), None);           // stale handle: None, never another value
//! let c = pool.insert("gamma");            // reuses a's slot with a new generation
//! assert_ne!(a, c);
//! assert_eq!((pool.get(a), pool.get(c)), (None, Some(&"gamma")));
//! assert_eq!(pool.len(), 2);
//! # let _ = b;
//! ```

use core::fmt;
use core::mem::{self, MaybeUninit};

use crate::{Error, ErrorKind, Result, VirtualVec};

/// No free slot.
const NONE: u32 = u32::MAX;

/// Names a value in a [`Pool`]: a slot index and the slot's generation when the value was
/// inserted. `Copy`, comparable, hashable; 8 bytes.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let h = pool.insert(1);
/// assert_eq!(h.index(), 0);
/// assert_eq!(vmem::Handle::from_bits(h.to_bits()), h);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    index: u32,
    /// Always odd (slots are occupied exactly while their generation is odd), so a
    /// generation match alone proves the slot holds this handle's value.
    generation: u32,
}

impl Handle {
    /// The slot index.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// assert_eq!(pool.insert('a').index(), 0);
    /// ```
    pub fn index(self) -> u32 {
        self.index
    }

    /// The generation of the slot when the value was inserted.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// assert_eq!(pool.insert('a').generation(), 1);
    /// ```
    pub fn generation(self) -> u32 {
        self.generation
    }

    /// The handle as one integer (generation in the high half), e.g. to pass through C.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(0u8);
    /// assert_eq!(h.to_bits(), 1 << 32);
    /// ```
    pub fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The handle back from [`to_bits`](Handle::to_bits). Any integer gives a handle; one
    /// that was never handed out finds nothing. (The generation's lowest bit is forced to
    /// 1, as in every handle the pool hands out, so a handle can never name a free slot.)
    ///
    /// ```
    /// let pool = vmem::Pool::<u8>::new();
    /// assert_eq!(pool.get(vmem::Handle::from_bits(12345)), None);
    /// ```
    pub fn from_bits(bits: u64) -> Handle {
        Handle { index: bits as u32, generation: (bits >> 32) as u32 | 1 }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({}v{})", self.index, self.generation)
    }
}

struct Slot<T> {
    /// Odd while the slot holds a value; even while free; 0 when retired (its generations
    /// are used up, so it is never reused).
    generation: u32,
    /// The next free slot while this one is free.
    next_free: u32,
    value: MaybeUninit<T>,
}

impl<T> Slot<T> {
    #[inline]
    fn occupied(&self) -> bool {
        self.generation & 1 == 1
    }
}

/// A slot allocator with generational handles: see the [module docs](self).
pub struct Pool<T> {
    slots: VirtualVec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Pool<T> {
    /// The most slots a pool can have (indices are 32-bit, one value means "none").
    pub const MAX_SLOTS: usize = (u32::MAX - 1) as usize;

    /// An empty pool that may grow to [`MAX_SLOTS`](Pool::MAX_SLOTS) slots or 64 GiB,
    /// whichever is smaller. Never fails and reserves nothing until the first insert.
    ///
    /// ```
    /// let pool: vmem::Pool<u64> = vmem::Pool::new();
    /// assert!(pool.is_empty());
    /// ```
    pub fn new() -> Pool<T> {
        Pool { slots: VirtualVec::new(), free_head: NONE, len: 0 }
    }

    /// An empty pool of at most `max_slots` slots; reserves their address space now.
    ///
    /// # Errors
    /// `InvalidArgument` when `max_slots` is zero or more than
    /// [`MAX_SLOTS`](Pool::MAX_SLOTS); what [`VirtualVec::with_max_capacity`] returns
    /// otherwise.
    ///
    /// ```
    /// let pool = vmem::Pool::<u64>::with_max_capacity(1000)?;
    /// assert_eq!(pool.max_capacity(), 1000);
    /// assert!(vmem::Pool::<u64>::with_max_capacity(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity(max_slots: usize) -> Result<Pool<T>> {
        if max_slots > Self::MAX_SLOTS {
            return Err(Error::new(ErrorKind::InvalidArgument, "Pool::with_max_capacity", "too many slots")
                .sized(max_slots)
                .with_limit("Pool::MAX_SLOTS", Self::MAX_SLOTS as u64));
        }
        Ok(Pool { slots: VirtualVec::with_max_capacity(max_slots)?, free_head: NONE, len: 0 })
    }

    /// The number of values.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(());
    /// assert_eq!(pool.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pool holds no value.
    ///
    /// ```
    /// assert!(vmem::Pool::<u8>::new().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots that fit in committed memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(1u32);
    /// assert!(pool.capacity() >= 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// The most slots this pool can ever have.
    ///
    /// ```
    /// assert_eq!(vmem::Pool::<u8>::with_max_capacity(7)?.max_capacity(), 7);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.slots.max_capacity().min(Self::MAX_SLOTS)
    }

    /// Stores `value` and returns its handle, or gives the value back with the error when
    /// the pool is full or the OS refuses memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::with_max_capacity(1)?;
    /// pool.try_insert(1).unwrap();
    /// let (value, err) = pool.try_insert(2).unwrap_err();
    /// assert_eq!((value, err.kind()), (2, vmem::ErrorKind::OutOfMemory));
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn try_insert(&mut self, value: T) -> core::result::Result<Handle, (T, Error)> {
        if self.free_head != NONE {
            let index = self.free_head;
            // SAFETY: free-list entries are indices of existing slots.
            let slot = unsafe { self.slots.get_unchecked_mut(index as usize) };
            self.free_head = slot.next_free;
            slot.generation += 1; // even (free) to odd (occupied): never wraps, see `remove`
            slot.value.write(value);
            self.len += 1;
            return Ok(Handle { index, generation: slot.generation });
        }
        let index = self.slots.len();
        if index >= Self::MAX_SLOTS {
            let e = Error::new(ErrorKind::OutOfMemory, "Pool::insert", "the pool has no free slot")
                .with_limit("Pool::MAX_SLOTS", Self::MAX_SLOTS as u64);
            return Err((value, e));
        }
        match self.slots.try_push(Slot { generation: 1, next_free: NONE, value: MaybeUninit::new(value) }) {
            Ok(()) => {
                self.len += 1;
                Ok(Handle { index: index as u32, generation: 1 })
            }
            // SAFETY: the slot was just made with an initialized value and handed back.
            Err((slot, e)) => Err((unsafe { slot.value.assume_init() }, e)),
        }
    }

    /// Stores `value` and returns its handle.
    ///
    /// # Panics
    /// When [`try_insert`](Pool::try_insert) fails.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(String::from("x"));
    /// assert_eq!(pool[h], "x");
    /// ```
    #[inline]
    pub fn insert(&mut self, value: T) -> Handle {
        match self.try_insert(value) {
            Ok(h) => h,
            Err((_, e)) => insert_failed(e),
        }
    }

    /// Removes and returns the value of `handle`; `None` for a stale or foreign handle.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(5);
    /// assert_eq!(pool.remove(h), Some(5));
    /// assert_eq!(pool.remove(h), None);
    /// ```
    #[inline]
    pub fn remove(&mut self, handle: Handle) -> Option<T> {
        let slot = self.slots.get_mut(handle.index as usize)?;
        if slot.generation != handle.generation {
            return None;
        }
        // SAFETY: an occupied slot holds an initialized value; it becomes free below.
        let value = unsafe { slot.value.assume_init_read() };
        if slot.generation == u32::MAX {
            // Generations used up: retire the slot so no old handle can ever match again.
            slot.generation = 0;
        } else {
            slot.generation += 1;
            slot.next_free = self.free_head;
            self.free_head = handle.index;
        }
        self.len -= 1;
        Some(value)
    }

    /// The value of `handle`; `None` for a stale or foreign handle.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(5);
    /// assert_eq!(pool.get(h), Some(&5));
    /// ```
    #[inline]
    pub fn get(&self, handle: Handle) -> Option<&T> {
        let slot = self.slots.get(handle.index as usize)?;
        if slot.generation == handle.generation {
            // SAFETY: handle generations are odd, so the slot is occupied and holds an
            // initialized value.
            Some(unsafe { slot.value.assume_init_ref() })
        } else {
            None
        }
    }

    /// The value of `handle`, mutably; `None` for a stale or foreign handle.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(5);
    /// *pool.get_mut(h).unwrap() += 1;
    /// assert_eq!(pool[h], 6);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, handle: Handle) -> Option<&mut T> {
        let slot = self.slots.get_mut(handle.index as usize)?;
        if slot.generation == handle.generation {
            // SAFETY: handle generations are odd, so the slot is occupied and holds an
            // initialized value.
            Some(unsafe { slot.value.assume_init_mut() })
        } else {
            None
        }
    }

    /// Whether `handle` names a value in this pool.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(());
    /// assert!(pool.contains(h));
    /// pool.remove(h);
    /// assert!(!pool.contains(h));
    /// ```
    #[inline]
    pub fn contains(&self, handle: Handle) -> bool {
        self.get(handle).is_some()
    }

    /// The values and their handles, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert('a');
    /// let b = pool.insert('b');
    /// assert_eq!(pool.iter().collect::<Vec<_>>(), [(a, &'a'), (b, &'b')]);
    /// ```
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Handle, &T)> + '_ {
        self.slots.iter().enumerate().filter(|(_, s)| s.occupied()).map(|(i, s)| {
            // SAFETY: an occupied slot holds an initialized value.
            (Handle { index: i as u32, generation: s.generation }, unsafe { s.value.assume_init_ref() })
        })
    }

    /// The values, mutably, and their handles, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(1);
    /// for (_, v) in pool.iter_mut() { *v += 1; }
    /// assert_eq!(pool[h], 2);
    /// ```
    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (Handle, &mut T)> + '_ {
        self.slots.iter_mut().enumerate().filter(|(_, s)| s.occupied()).map(|(i, s)| {
            let handle = Handle { index: i as u32, generation: s.generation };
            // SAFETY: an occupied slot holds an initialized value.
            (handle, unsafe { s.value.assume_init_mut() })
        })
    }

    /// Removes every value; every handle handed out so far becomes stale.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(1);
    /// pool.clear();
    /// assert_eq!((pool.len(), pool.get(h)), (0, None));
    /// ```
    pub fn clear(&mut self) {
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if slot.occupied() {
                let handle = Handle { index: index as u32, generation: slot.generation };
                drop(self.remove(handle));
            }
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn insert_failed(e: Error) -> ! {
    panic!("Pool: {e}")
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        if mem::needs_drop::<T>() {
            for slot in self.slots.iter_mut().filter(|s| s.occupied()) {
                // SAFETY: an occupied slot holds an initialized value, dropped once here;
                // the slots themselves (`MaybeUninit`) drop nothing.
                unsafe { slot.value.assume_init_drop() };
            }
        }
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Pool<T> {
        Pool::new()
    }
}

impl<T> core::ops::Index<Handle> for Pool<T> {
    type Output = T;

    /// # Panics
    /// When the handle is stale or foreign.
    fn index(&self, handle: Handle) -> &T {
        match self.get(handle) {
            Some(v) => v,
            None => panic!("Pool: {handle:?} names no value"),
        }
    }
}

impl<T> core::ops::IndexMut<Handle> for Pool<T> {
    fn index_mut(&mut self, handle: Handle) -> &mut T {
        match self.get_mut(handle) {
            Some(v) => v,
            None => panic!("Pool: {handle:?} names no value"),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
