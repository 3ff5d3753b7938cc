//! `Pool`: a slot allocator with generational handles.
//!
//! A `Pool<T>` stores values in slots of one reserved block of address space, committed in
//! steps as it fills, and hands out a [`Handle`] for each: the slot's index and its
//! *generation*. Removing a value frees its slot for reuse and bumps the generation, so a
//! stale handle (its value removed, or its slot reused) finds nothing: `get` returns
//! `None`, never another value. A slot that has used up its 2^31 generations is retired
//! instead of reused.
//!
//! Because the block never moves, neither does a value: its address is stable from insert
//! to remove, however much the pool grows, and growing never copies anything. Use a pool
//! for entities, graph nodes, timers, connections: objects that come and go in any order
//! and that other structures refer to by handle.
//!
//! Typed handles: `Pool<T, K>` hands out keys of a type made with
//! [`new_key_type!`](crate::new_key_type) (any [`Key`]), so that the handles of two pools
//! cannot be mixed up; `Pool<T>` is `Pool<T, Handle>`. Side data for the values of a pool,
//! kept elsewhere and found by the same handles, goes in a [`SecondaryPool`].
//!
//! # Cost model
//!
//! - [`insert`](Pool::insert): pop a freed slot's index off the free stack, or take the
//!   next fresh slot (never read first: memory from the warm cache may hold anything).
//!   Once per commit step (64 KiB, or half of what is committed when that is more, up to
//!   64 MiB) one `commit` system call (none for memory the warm cache handed over); the
//!   first touch of each page is a page fault. [`insert_with_key`](Pool::insert_with_key)
//!   and [`vacant_entry`](Pool::vacant_entry) take the same slot the same way.
//! - [`get`](Pool::get), [`get_mut`](Pool::get_mut), [`contains`](Pool::contains): a bounds
//!   check and a compare of the generation. [`get_disjoint_mut`](Pool::get_disjoint_mut)
//!   of `N` keys: `N` of those, and a compare of each pair of indices up to 8 keys; past 8,
//!   two stores per key instead (it marks each slot while it checks the others, so that
//!   duplicates are found in `O(N)`).
//! - [`remove`](Pool::remove): the same check, then push the slot's index on the free
//!   stack: three stores and a prefetch, no counter besides the stack's top.
//! - [`clear`](Pool::clear): a few stores for values that need no `Drop` (every handle goes
//!   stale without a pass over the slots: the next insert into a slot takes a generation
//!   above the one it had), else one pass that drops the values; afterwards inserts fill the
//!   slots again from the lowest index up, as in a fresh pool, without committing anything.
//!   [`drain`](Pool::drain) leaves the pool the same way, handing out the values.
//! - [`reserve`](Pool::reserve), [`with_capacity`](Pool::with_capacity): commit ahead (one
//!   `commit` system call, none if enough is committed). [`clone`](Pool::try_clone): commit
//!   as many slots as the original has used, and one pass over them.
//! - [`new`](Pool::new) does nothing; the first insert takes a region from the
//!   [warm cache](crate::cache) or reserves one (one `reserve` system call).
//!   [`with_max_capacity`](Pool::with_max_capacity) reserves at once. Drop gives the region
//!   back to the cache with its memory.
//! - Memory: one slot for each of the most values ever live at once, `size_of::<T>()` plus 8
//!   bytes (generation and free-stack entry), rounded up to the alignment (16 bytes for a
//!   `u64`), committed as the pool grows; address space for the maximum capacity (by default
//!   [`DEFAULT_RESERVE_BYTES`] of slots).
//!
//! The free slots are a stack of indices, not a list threaded through them (as in `slab` and
//! `slotmap`): an insert into a freed slot reads the next index from the stack, which is
//! contiguous, instead of from the slot it just filled, so inserts after removals in random
//! order do not wait on one cache miss after another. The stack needs no memory of its own:
//! entry `i` is kept in slot `i` (where a `u64` slot has 4 bytes of padding anyway), which a
//! removal in slot order is writing already.
//!
//! # Serde
//!
//! With the `serde` feature, [`Handle`], typed keys, `Pool` and [`SecondaryPool`] implement
//! `Serialize` and `Deserialize`. A pool keeps its handles across a round trip: it is
//! written with every slot's generation (vacant ones too), the order of its free stack and
//! its maximum capacity, so the handles that were live find their values again, stale ones
//! stay stale, and the next inserts hand out the handles the original would have. Input is
//! checked: generations that do not fit the slots' states, a free stack with duplicates or
//! slots that are not vacant, more slots than the maximum capacity, all are errors, never
//! a pool that breaks its invariants.
//!
//! ```
//! use vmem::Pool;
//!
//! let mut pool = Pool::new();
//! let alice = pool.insert("alice");
//! let bob = pool.insert("bob");
//! assert_eq!(pool.get(alice), Some(&"alice"));
//! assert_eq!(pool.remove(alice), Some("alice"));
//! assert_eq!(pool.get(alice), None); // stale: never another value
//! let carol = pool.insert("carol");   // reuses alice's slot, with a new generation
//! assert_eq!(pool.get(alice), None);
//! assert_eq!((pool[bob], pool[carol]), ("bob", "carol"));
//! ```

mod handle;
mod iter;
pub mod secondary;
#[cfg(feature = "serde")]
mod serde_impl;

use core::fmt;
use core::marker::PhantomData;
use core::mem::{self, MaybeUninit};
use core::ops::{Index, IndexMut};
use core::ptr::{self, NonNull};

pub use handle::{Handle, Key};
pub use iter::{Drain, IntoIter, Iter, IterMut, Keys, Values, ValuesMut};
pub use secondary::SecondaryPool;

use crate::region::{CommitMode, GrowRegion, DEFAULT_RESERVE_BYTES};
use crate::sync::failed;
use crate::{Error, ErrorKind, Result};

/// What the crate's macros need, not for use by hand.
#[doc(hidden)]
pub mod __private {
    pub use super::handle::fmt_key;
    #[cfg(feature = "serde")]
    pub use ::serde;
}

/// The smallest and largest commit steps, in bytes.
const MIN_STEP_BYTES: usize = 64 << 10;
const MAX_STEP_BYTES: usize = 64 << 20;
/// Not a slot index: why a pool holds at most `u32::MAX` slots.
const NO_SLOT: u32 = u32::MAX;
/// The generation of a slot taken out of use: even (vacant), and one past the last odd
/// generation a handle can have (`u32::MAX - 2`).
const RETIRED: u32 = u32::MAX - 1;
/// The last generation a handle can have.
const LAST_GENERATION: u32 = RETIRED - 1;

/// One slot: maybe a value, the generation that says whether, and one entry of the free
/// stack.
struct Slot<T> {
    /// Odd: occupied. Even: vacant (0: never used; `RETIRED`: never to be used again).
    generation: u32,
    /// Entry number `i` of the free stack (an index of a vacant slot) when this is slot `i`
    /// and `i < free_len()`; whatever was left there otherwise. It has nothing to do with this
    /// slot's own value: the stack lives in the slots only so that it needs no memory of its
    /// own (for `u64` values it fills what would be padding), and so that a removal in slot
    /// order writes it in the line it is vacating anyway.
    stacked: u32,
    value: MaybeUninit<T>,
}

/// The slot the next insert takes, found by [`Pool::next_place`] (which may have committed
/// memory or retired slots to find it, but changed nothing a caller sees).
#[derive(Clone, Copy)]
struct Place {
    index: u32,
    /// The odd generation the value gets.
    generation: u32,
    /// Whether the slot is the top of the free stack (else the fresh slot `used`).
    stacked: bool,
}

/// A slot allocator with generational handles.
///
/// Values live in slots of one reserved block of address space, committed in steps as the
/// pool grows, so a value's address never changes from insert to remove. Each insert returns
/// a [`Handle`] (or, in a `Pool<T, K>`, a typed [`Key`]): the slot's index and generation.
/// Removing a value bumps the generation, so a stale handle finds nothing
/// ([`get`](Pool::get) returns `None`, never another value). A slot reused 2^31 times is
/// retired.
///
/// What each call costs, and the memory it uses, is in the [module docs](self#cost-model).
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let a = pool.insert(1u64);
/// let address = &pool[a] as *const u64;
/// let more: Vec<_> = (0..100_000).map(|i| pool.insert(i)).collect();
/// assert_eq!(&pool[a] as *const u64, address); // growing moved nothing
/// pool.remove(a);
/// let b = pool.insert(2);
/// assert_eq!((pool.get(a), pool[b], pool.len()), (None, 2, 100_001));
/// # drop(more);
/// ```
pub struct Pool<T, K: Key = Handle> {
    /// The first slot; dangling until reserved.
    slots: NonNull<Slot<T>>,
    /// Where the next free-stack entry goes: the `stacked` field of slot `free_len()`. The
    /// entries are the `stacked` fields of the slots below it (`free_len() <= used`):
    /// indices of vacant slots below `used`, each at most once, the next to reuse on top.
    /// A pointer rather than a count, so that a push or pop is one add (removal runs are
    /// bound by how many instructions each takes: this measured 3-5% faster).
    free_top: *mut u32,
    /// Slots from `used` on have held no value since the pool was made or last cleared
    /// (their memory may hold anything: a region from the warm cache is not zeroed) and
    /// are taken in order by inserts when the free stack is empty. `used` goes down only
    /// in `clear` (and `drain`), to 0. Vacant slots below it are on the free stack, or lost.
    used: usize,
    /// Together with `used`: slots below `max(written, used)` hold a generation this pool
    /// wrote; the ones past it were never used by this pool, and their memory may hold
    /// anything (a region from the warm cache is not zeroed), so an insert there does not
    /// read it. `clear` moves it up to `used`.
    written: usize,
    /// Slots `[0, committed)`, and as many free-stack entries, are committed.
    committed: usize,
    /// Vacant slots below `used` that are not on the free stack: retired (an insert took them
    /// off it, or found one at its last generation). The pool holds `used - free_len - lost`
    /// values.
    lost: usize,
    max_capacity: usize,
    /// The slots' address space: reserved by the first insert of [`Pool::new`], never for a
    /// zero capacity.
    region: GrowRegion,
    _owns: PhantomData<T>,
    _key: PhantomData<fn(K) -> K>,
}

// SAFETY: the pool owns its values; moving it moves them. Keys are plain handles.
unsafe impl<T: Send, K: Key> Send for Pool<T, K> {}
// SAFETY: `&Pool` hands out only `&T`.
unsafe impl<T: Sync, K: Key> Sync for Pool<T, K> {}

impl<T, K: Key> Default for Pool<T, K> {
    /// An empty pool, as [`Pool::new`] (or [`Pool::with_key`]).
    ///
    /// ```
    /// let pool: vmem::Pool<u8> = Default::default();
    /// assert!(pool.is_empty());
    /// ```
    fn default() -> Self {
        Self::with_key()
    }
}

impl<T> Pool<T> {
    /// An empty pool with a generous maximum capacity (as many slots as fit in
    /// [`DEFAULT_RESERVE_BYTES`], and at most `u32::MAX`). Reserves nothing: the first insert
    /// does, so `new` never fails and costs nothing. Where address space is short (`ulimit
    /// -v`), the first insert reserves less and lowers [`max_capacity`](Pool::max_capacity)
    /// to match.
    ///
    /// For a pool with typed keys, see [`with_key`](Pool::with_key).
    ///
    /// ```
    /// let pool: vmem::Pool<String> = vmem::Pool::new();
    /// assert!(pool.is_empty());
    /// assert_eq!(pool.capacity(), 0);
    /// ```
    pub const fn new() -> Self {
        Self::with_key()
    }

    /// An empty pool that holds at most `max_capacity` values, with its address space
    /// reserved now. Nothing is committed until the first insert.
    ///
    /// # Errors
    /// `InvalidArgument` above `u32::MAX` values, `OutOfAddressSpace` when the OS has no
    /// room.
    ///
    /// ```
    /// let pool = vmem::Pool::<u64>::with_max_capacity(1 << 20)?;
    /// assert_eq!(pool.max_capacity(), 1 << 20);
    /// assert!(vmem::Pool::<u64>::with_max_capacity(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity(max_capacity: usize) -> Result<Self> {
        Self::with_max_capacity_and_key(max_capacity)
    }

    /// An empty pool, as [`new`](Pool::new), with room for `capacity` values committed now.
    ///
    /// # Panics
    /// When `capacity` is above the maximum capacity or the OS refuses the memory; see
    /// [`try_with_capacity`](Pool::try_with_capacity).
    ///
    /// ```
    /// let pool = vmem::Pool::<u64>::with_capacity(10_000);
    /// assert!(pool.capacity() >= 10_000);
    /// ```
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_key(capacity)
    }

    /// An empty pool, as [`new`](Pool::new), with room for `capacity` values committed now
    /// (one `reserve` and one `commit` system call; none for 0).
    ///
    /// # Errors
    /// `OutOfMemory` above the maximum capacity or when the OS refuses the memory,
    /// `OutOfAddressSpace` when it has no room.
    ///
    /// ```
    /// let pool = vmem::Pool::<u64>::try_with_capacity(1000)?;
    /// assert!(pool.capacity() >= 1000);
    /// assert_eq!(vmem::Pool::<u64>::try_with_capacity(usize::MAX).unwrap_err().kind(), vmem::ErrorKind::OutOfMemory);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_with_capacity(capacity: usize) -> Result<Self> {
        Self::try_with_capacity_and_key(capacity)
    }
}

impl<T, K: Key> Pool<T, K> {
    /// An empty pool that hands out keys of type `K` (see
    /// [`new_key_type!`](crate::new_key_type)); otherwise as [`Pool::new`].
    ///
    /// ```
    /// vmem::new_key_type! { struct TimerKey; }
    ///
    /// let mut timers = vmem::Pool::<u64, TimerKey>::with_key();
    /// let key: TimerKey = timers.insert(30);
    /// assert_eq!(timers[key], 30);
    /// ```
    pub const fn with_key() -> Self {
        let max = DEFAULT_RESERVE_BYTES / mem::size_of::<Slot<T>>();
        Self::empty(if max < NO_SLOT as usize { max } else { NO_SLOT as usize })
    }

    /// [`Pool::with_max_capacity`] for a pool that hands out keys of type `K`.
    ///
    /// # Errors
    /// As [`Pool::with_max_capacity`].
    ///
    /// ```
    /// vmem::new_key_type! { struct SlotKey; }
    ///
    /// let mut pool = vmem::Pool::<u8, SlotKey>::with_max_capacity_and_key(1)?;
    /// pool.insert(1);
    /// assert!(pool.try_insert(2).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity_and_key(max_capacity: usize) -> Result<Self> {
        if max_capacity == 0 {
            return Ok(Self::empty(0));
        }
        const OP: &str = "Pool::with_max_capacity";
        let bytes = reserve_bytes::<T>(OP, max_capacity)?;
        let mut pool = Self::empty(max_capacity);
        pool.region.reserve(OP, bytes)?;
        pool.adopt();
        Ok(pool)
    }

    /// [`Pool::with_capacity`] for a pool that hands out keys of type `K`.
    ///
    /// # Panics
    /// As [`Pool::with_capacity`].
    ///
    /// ```
    /// vmem::new_key_type! { struct JobKey; }
    ///
    /// let pool = vmem::Pool::<u64, JobKey>::with_capacity_and_key(100);
    /// assert!(pool.capacity() >= 100);
    /// ```
    #[track_caller]
    pub fn with_capacity_and_key(capacity: usize) -> Self {
        match Self::try_with_capacity_and_key(capacity) {
            Ok(pool) => pool,
            Err(err) => failed("Pool::with_capacity", err),
        }
    }

    /// [`Pool::try_with_capacity`] for a pool that hands out keys of type `K`.
    ///
    /// # Errors
    /// As [`Pool::try_with_capacity`].
    ///
    /// ```
    /// vmem::new_key_type! { struct JobKey; }
    ///
    /// let pool = vmem::Pool::<u64, JobKey>::try_with_capacity_and_key(100)?;
    /// assert!(pool.capacity() >= 100);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_with_capacity_and_key(capacity: usize) -> Result<Self> {
        let mut pool = Self::with_key();
        pool.try_reserve_for("Pool::with_capacity", capacity)?;
        Ok(pool)
    }

    const fn empty(max_capacity: usize) -> Self {
        Pool {
            slots: NonNull::dangling(),
            free_top: stack_base_of::<T>(NonNull::dangling()),
            used: 0,
            written: 0,
            committed: 0,
            lost: 0,
            max_capacity,
            // `max_capacity` slots fit in `usize` bytes: `reserve_bytes` checks it before
            // the region reserves anything.
            region: GrowRegion::new(
                max_capacity.saturating_mul(mem::size_of::<Slot<T>>()),
                mem::align_of::<Slot<T>>(),
                CommitMode::DEFAULT,
            ),
            _owns: PhantomData,
            _key: PhantomData,
        }
    }

    /// Moves `value` into the pool and returns its key.
    ///
    /// # Panics
    /// When the pool is at its maximum capacity or the OS refuses memory; see
    /// [`try_insert`](Pool::try_insert).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert([1u8; 32]);
    /// assert_eq!(pool[h][31], 1);
    /// ```
    #[inline]
    pub fn insert(&mut self, value: T) -> K {
        match self.insert_fast(value) {
            Ok(handle) => K::from(handle),
            Err(value) => K::from(self.insert_or_panic(value)),
        }
    }

    /// Moves `value` into the pool and returns its key, or hands the value back with the
    /// error when the pool is at its maximum capacity or the OS refuses memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::with_max_capacity(1)?;
    /// let h = pool.try_insert('a').unwrap();
    /// let (value, err) = pool.try_insert('b').unwrap_err();
    /// assert_eq!((value, err.kind()), ('b', vmem::ErrorKind::OutOfMemory));
    /// pool.remove(h);
    /// assert!(pool.try_insert('b').is_ok());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn try_insert(&mut self, value: T) -> core::result::Result<K, (T, Error)> {
        match self.insert_fast(value) {
            Ok(handle) => Ok(K::from(handle)),
            Err(value) => self.insert_slow(value).map(K::from),
        }
    }

    /// The fast paths of an insert: the top of the free stack, or the next fresh slot when
    /// it is committed and has generations left. Otherwise it gives the value back for
    /// [`insert_slow`](Pool::insert_slow), so that nothing of the slow path (nor the error
    /// it may return) is inlined where `insert` is: the loop of a caller keeps it inlined.
    #[inline(always)]
    fn insert_fast(&mut self, value: T) -> core::result::Result<Handle, T> {
        if let Some(top) = self.stack_top() {
            // SAFETY: `top` is the `stacked` field of slot `free_len() - 1 < used`, which is
            // committed; it holds the index of a vacant, committed slot below `used`.
            // `&mut self` makes the access unique.
            let index = unsafe { top.read() };
            // SAFETY: as above.
            let slot = unsafe { &mut *self.slots.as_ptr().add(index as usize) };
            let generation = slot.generation;
            if generation != RETIRED {
                self.free_top = top;
                slot.value = MaybeUninit::new(value);
                slot.generation = generation + 1; // even, below `RETIRED`, to odd
                return Ok(Handle::new(index, generation + 1));
            }
            return Err(value);
        }
        let index = self.used;
        if index < self.committed {
            // SAFETY: a committed slot from `used` on: vacant (whatever its generation says:
            // `clear` leaves generations as they were), not on the free stack.
            let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
            let generation = self.fresh_generation(index, slot);
            if generation <= LAST_GENERATION {
                slot.value = MaybeUninit::new(value);
                slot.generation = generation;
                self.used = index + 1;
                // `index < committed <= max_capacity <= u32::MAX`: it fits, and is not `NO_SLOT`.
                return Ok(Handle::new(index as u32, generation));
            }
        }
        Err(value)
    }

    /// [`insert_slow`](Pool::insert_slow) for [`insert`](Pool::insert), which panics on its
    /// error.
    #[cold]
    #[inline(never)]
    fn insert_or_panic(&mut self, value: T) -> Handle {
        match self.insert_slow(value) {
            Ok(handle) => handle,
            Err((_, err)) => failed("Pool::insert", err),
        }
    }

    /// The generation a value put into slot `index`, at or past `used`, gets: past any
    /// handle the slot ever had. A slot this pool never used gets 1 (its memory is not
    /// read). Otherwise its generation is even (vacant) or odd (its value went with a
    /// `clear`), and the next odd one is above it; past [`LAST_GENERATION`] (or `RETIRED`)
    /// the slot must be retired instead.
    #[inline(always)]
    fn fresh_generation(&self, index: usize, slot: &Slot<T>) -> u32 {
        if index < self.written {
            // At most `RETIRED` (`u32::MAX - 1`): no overflow.
            (slot.generation + 1) | 1
        } else {
            1
        }
    }

    /// Takes retired slots off the free stack, or commits more (reserving first if
    /// [`new`](Pool::new) put it off), or fails; then inserts.
    #[cold]
    #[inline(never)]
    fn insert_slow(&mut self, value: T) -> core::result::Result<Handle, (T, Error)> {
        match self.next_place("Pool::insert") {
            // SAFETY: the place was just found, and nothing changed since.
            Ok(place) => Ok(unsafe { self.occupy(place, value) }),
            Err(err) => Err((value, err)),
        }
    }

    /// The slot the next insert takes and the generation it gives: the top of the free
    /// stack, or the fresh slot `used`. On the way it takes retired slots off the stack for
    /// good, retires fresh slots whose generations ran out, and commits more (reserving
    /// first if [`new`](Pool::new) put it off): none of which changes the values, the
    /// handles or the length. Fails when the pool is at its maximum capacity or the OS
    /// refuses memory.
    #[cold]
    #[inline(never)]
    fn next_place(&mut self, operation: &'static str) -> Result<Place> {
        loop {
            if let Some(top) = self.stack_top() {
                // SAFETY: as in `insert_fast`.
                let index = unsafe { top.read() };
                // SAFETY: as in `insert_fast`.
                let generation = unsafe { (*self.slots.as_ptr().add(index as usize)).generation };
                if generation != RETIRED {
                    // Even, below `RETIRED`: the next odd one is at most `LAST_GENERATION`.
                    return Ok(Place { index, generation: generation + 1, stacked: true });
                }
                // The retired slot leaves the stack for good.
                self.free_top = top;
                self.lost += 1;
                continue;
            }
            let index = self.used;
            if index == self.committed {
                self.grow(operation)?;
                continue;
            }
            // SAFETY: a committed slot from `used` on, as in `insert_fast`.
            let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
            let generation = self.fresh_generation(index, slot);
            if generation <= LAST_GENERATION {
                // `index < committed <= u32::MAX`.
                return Ok(Place { index: index as u32, generation, stacked: false });
            }
            // The slot has used up its generations: retire it and take the next.
            slot.generation = RETIRED;
            self.used = index + 1;
            self.lost += 1;
        }
    }

    /// The slot the next insert takes, as [`next_place`](Pool::next_place) finds it, by the
    /// fast paths of [`insert_fast`](Pool::insert_fast) where they apply.
    #[inline(always)]
    fn place(&mut self, operation: &'static str) -> Result<Place> {
        if let Some(top) = self.stack_top() {
            // SAFETY: as in `insert_fast`.
            let index = unsafe { top.read() };
            // SAFETY: as in `insert_fast`.
            let generation = unsafe { (*self.slots.as_ptr().add(index as usize)).generation };
            if generation != RETIRED {
                return Ok(Place { index, generation: generation + 1, stacked: true });
            }
        } else if self.used < self.committed {
            let index = self.used;
            // SAFETY: a committed slot from `used` on, as in `insert_fast`.
            let generation = self.fresh_generation(index, unsafe { &*self.slots.as_ptr().add(index) });
            if generation <= LAST_GENERATION {
                // `index < committed <= u32::MAX`.
                return Ok(Place { index: index as u32, generation, stacked: false });
            }
        }
        self.next_place(operation)
    }

    /// Puts `value` in the slot `place` names and returns its handle.
    ///
    /// # Safety
    /// `place` came from [`place`](Pool::place) or [`next_place`](Pool::next_place) on this
    /// pool, and the pool has not changed since.
    #[inline]
    unsafe fn occupy(&mut self, place: Place, value: T) -> Handle {
        // SAFETY: `place` or `next_place` found a committed, vacant slot (below `committed`),
        // and the pool has not changed since (the caller's promise).
        let slot = unsafe { &mut *self.slots.as_ptr().add(place.index as usize) };
        slot.value = MaybeUninit::new(value);
        slot.generation = place.generation;
        if place.stacked {
            // Pop it: it is still the top entry.
            self.free_top = self.free_top.wrapping_byte_sub(mem::size_of::<Slot<T>>());
        } else {
            self.used = place.index as usize + 1;
        }
        Handle::new(place.index, place.generation)
    }

    /// Inserts the value `make` returns when given the key it will have: for values that
    /// hold their own key. If `make` panics, the pool is as it was.
    ///
    /// # Panics
    /// When the pool is at its maximum capacity or the OS refuses memory (before `make` is
    /// called); [`try_vacant_entry`](Pool::try_vacant_entry) returns the error instead.
    ///
    /// ```
    /// struct Node { me: vmem::Handle, parent: Option<vmem::Handle> }
    ///
    /// let mut pool = vmem::Pool::new();
    /// let root = pool.insert_with_key(|me| Node { me, parent: None });
    /// let leaf = pool.insert_with_key(|me| Node { me, parent: Some(root) });
    /// assert_eq!(pool[leaf].me, leaf);
    /// assert_eq!(pool[leaf].parent, Some(pool[root].me));
    /// ```
    #[inline]
    pub fn insert_with_key(&mut self, make: impl FnOnce(K) -> T) -> K {
        let place = match self.place("Pool::insert_with_key") {
            Ok(place) => place,
            Err(err) => failed("Pool::insert_with_key", err),
        };
        let key = K::from(Handle::new(place.index, place.generation));
        let value = make(key);
        // SAFETY: the place was just found; `make` could not touch the pool (`&mut self`).
        unsafe { self.occupy(place, value) };
        key
    }

    /// The slot the next insert takes, with its key, to insert into later (or not: dropping
    /// the entry leaves the pool as it was).
    ///
    /// # Panics
    /// When the pool is at its maximum capacity or the OS refuses memory; see
    /// [`try_vacant_entry`](Pool::try_vacant_entry).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let entry = pool.vacant_entry();
    /// let key = entry.key();
    /// entry.insert((key, "mine"));
    /// assert_eq!(pool[key], (key, "mine"));
    /// ```
    #[track_caller]
    pub fn vacant_entry(&mut self) -> VacantEntry<'_, T, K> {
        match self.try_vacant_entry() {
            Ok(entry) => entry,
            Err(err) => failed("Pool::vacant_entry", err),
        }
    }

    /// As [`vacant_entry`](Pool::vacant_entry), or the error when the pool is at its maximum
    /// capacity (`OutOfMemory`) or the OS refuses memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::with_max_capacity(1)?;
    /// let first = pool.try_vacant_entry()?.insert(1);
    /// *first += 1;
    /// assert_eq!(pool.try_vacant_entry().unwrap_err().kind(), vmem::ErrorKind::OutOfMemory);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn try_vacant_entry(&mut self) -> Result<VacantEntry<'_, T, K>> {
        let place = self.place("Pool::vacant_entry")?;
        Ok(VacantEntry { pool: self, place })
    }

    /// Commits more slots (reserving first if [`new`](Pool::new) put it off), or fails.
    fn grow(&mut self, operation: &'static str) -> Result<()> {
        if self.committed >= self.max_capacity {
            return Err(Error::new(ErrorKind::OutOfMemory, operation, "the pool is at its maximum capacity")
                .with_limit("max_capacity", self.max_capacity as u64));
        }
        self.commit_slots(operation, self.committed + 1)
    }

    /// Makes at least `needed` slots committed, a step ahead where the OS allows it
    /// (reserving first if [`new`](Pool::new) put it off), or fails with the pool unchanged.
    fn commit_slots(&mut self, operation: &'static str, needed: usize) -> Result<()> {
        let exceeds = |max: usize| {
            Error::new(ErrorKind::OutOfMemory, operation, "the pool would exceed its maximum capacity")
                .with_limit("max_capacity", max as u64)
        };
        if needed > self.max_capacity {
            return Err(exceeds(self.max_capacity));
        }
        if needed <= self.committed {
            return Ok(());
        }
        let size = mem::size_of::<Slot<T>>();
        if !self.region.is_reserved() {
            // Where address space is short, the region reserves less: the maximum follows.
            // `needed <= max_capacity` slots fit in `usize` bytes (see `empty`).
            self.region.reserve(operation, needed * size)?;
            self.max_capacity = self.max_capacity.min(self.region.reserved() / size);
            self.adopt();
            if needed > self.max_capacity {
                return Err(exceeds(self.max_capacity));
            }
        }
        let step = (self.committed * size / 2).clamp(MIN_STEP_BYTES, MAX_STEP_BYTES);
        self.region.commit_to(operation, needed * size, step)?;
        self.committed = (self.region.committed() / size).min(self.max_capacity);
        Ok(())
    }

    /// Commits ahead so that `additional` more values fit without committing (unless slots
    /// retire on the way, after 2^31 reuses each).
    fn try_reserve_for(&mut self, operation: &'static str, additional: usize) -> Result<()> {
        // Freed slots are reused first; the rest are fresh ones from `used` on.
        let fresh = additional.saturating_sub(self.free_len());
        match self.used.checked_add(fresh) {
            Some(needed) if needed <= self.committed => Ok(()),
            Some(needed) => self.commit_slots(operation, needed),
            None => Err(Error::new(ErrorKind::OutOfMemory, operation, "the pool would exceed its maximum capacity")
                .with_limit("max_capacity", self.max_capacity as u64)),
        }
    }

    /// Commits memory ahead so that `additional` more values fit without a system call
    /// (freed slots count: they are reused first).
    ///
    /// # Panics
    /// When that is past the maximum capacity or the OS refuses memory; see
    /// [`try_reserve`](Pool::try_reserve).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(1u64);
    /// pool.reserve(100_000);
    /// assert!(pool.capacity() >= 100_001);
    /// ```
    #[track_caller]
    pub fn reserve(&mut self, additional: usize) {
        if let Err(err) = self.try_reserve_for("Pool::reserve", additional) {
            failed("Pool::reserve", err)
        }
    }

    /// As [`reserve`](Pool::reserve), or `OutOfMemory` when that is past the maximum
    /// capacity or the OS refuses memory (the pool is unchanged then).
    ///
    /// ```
    /// let mut pool = vmem::Pool::<u64>::with_max_capacity(10)?;
    /// pool.try_reserve(10)?;
    /// let h = pool.insert(1);
    /// assert!(pool.try_reserve(10).is_err());
    /// pool.remove(h);
    /// assert!(pool.try_reserve(10).is_ok(), "the freed slot counts");
    /// assert!(pool.try_reserve(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        self.try_reserve_for("Pool::reserve", additional)
    }

    /// Points the slots at the region's memory, once it is reserved.
    fn adopt(&mut self) {
        self.slots = NonNull::new(self.region.base().cast()).unwrap_or(NonNull::dangling());
        self.free_top = self.stack_base();
    }

    /// Where the first entry of the free stack lives: slot 0's `stacked` field (the stack is
    /// empty when `free_top` is here).
    #[inline(always)]
    fn stack_base(&self) -> *mut u32 {
        stack_base_of(self.slots)
    }

    /// The top entry of the free stack (not read), or `None` if the stack is empty. Popping
    /// it is setting `free_top` to it.
    #[inline(always)]
    fn stack_top(&self) -> Option<*mut u32> {
        (self.free_top != self.stack_base()).then(|| self.free_top.wrapping_byte_sub(mem::size_of::<Slot<T>>()))
    }

    /// Pushes `index` on the free stack.
    ///
    /// # Safety
    /// The stack must have fewer than `committed` entries, so that `free_top` is in a
    /// committed slot.
    #[inline(always)]
    unsafe fn push_free(&mut self, index: u32) {
        // SAFETY: `free_top`, the `stacked` field of slot `free_len() < committed`, is
        // committed (the caller's promise); `&mut self` makes the access unique.
        unsafe { self.free_top.write(index) };
        self.free_top = self.free_top.wrapping_byte_add(mem::size_of::<Slot<T>>());
    }

    /// The number of entries on the free stack.
    #[inline(always)]
    fn free_len(&self) -> usize {
        (self.free_top.addr() - self.stack_base().addr()) / mem::size_of::<Slot<T>>()
    }

    /// Entry `i` of the free stack (0 at the bottom).
    ///
    /// # Safety
    /// `i < free_len()`.
    #[inline]
    unsafe fn stack_entry(&self, i: usize) -> u32 {
        // SAFETY: entry `i < free_len() <= used` is the `stacked` field of slot `i`, committed.
        unsafe { self.stack_base().wrapping_byte_add(i * mem::size_of::<Slot<T>>()).read() }
    }

    /// The slot `handle` names, if the handle is live.
    #[inline(always)]
    fn slot(&self, handle: Handle) -> Option<&Slot<T>> {
        let index = handle.index() as usize;
        if index < self.used {
            // SAFETY: slots below `used` are committed.
            let slot = unsafe { &*self.slots.as_ptr().add(index) };
            if slot.generation == handle.generation() {
                return Some(slot);
            }
        }
        None
    }

    /// The value `key` refers to, or `None` if it was removed (even if its slot now
    /// holds another value).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(5);
    /// assert_eq!(pool.get(h), Some(&5));
    /// pool.remove(h);
    /// assert_eq!(pool.get(h), None);
    /// ```
    #[inline]
    pub fn get(&self, key: K) -> Option<&T> {
        // SAFETY: a live handle's slot has its (odd) generation, so it holds a value.
        self.slot(key.handle()).map(|slot| unsafe { slot.value.assume_init_ref() })
    }

    /// The value `key` refers to, mutably, or `None` if it was removed.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(5);
    /// *pool.get_mut(h).unwrap() += 1;
    /// assert_eq!(pool[h], 6);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, key: K) -> Option<&mut T> {
        let handle = key.handle();
        let index = handle.index() as usize;
        if index < self.used {
            // SAFETY: as in `slot`; `&mut self` makes the access unique.
            let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
            if slot.generation == handle.generation() {
                // SAFETY: odd generation: the slot holds a value.
                return Some(unsafe { slot.value.assume_init_mut() });
            }
        }
        None
    }

    /// The values of `N` keys at once, mutably, or `None` if any key is stale or two are
    /// the same (as `slotmap`'s `get_disjoint_mut`).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert(1);
    /// let b = pool.insert(2);
    /// if let Some([x, y]) = pool.get_disjoint_mut([a, b]) {
    ///     std::mem::swap(x, y);
    /// }
    /// assert_eq!((pool[a], pool[b]), (2, 1));
    /// assert!(pool.get_disjoint_mut([a, a]).is_none());
    /// pool.remove(b);
    /// assert!(pool.get_disjoint_mut([a, b]).is_none());
    /// ```
    pub fn get_disjoint_mut<const N: usize>(&mut self, keys: [K; N]) -> Option<[&mut T; N]> {
        let handles = keys.map(Key::handle);
        if N <= 8 {
            // Few keys: compare each pair of indices (at most 28 compares, no stores). Two
            // live handles of one slot are the same handle, so distinct indices suffice.
            for (i, a) in handles.iter().enumerate() {
                if self.slot(*a).is_none() || handles[..i].iter().any(|b| b.index() == a.index()) {
                    return None;
                }
            }
            // SAFETY: every handle is live (its slot, below `used` and committed, holds a
            // value) and no two name the same slot, so the references are disjoint;
            // `&mut self` keeps them unique for their life.
            return Some(
                handles.map(|h| unsafe { (*self.slots.as_ptr().add(h.index() as usize)).value.assume_init_mut() }),
            );
        }
        let mut found = [ptr::null_mut::<Slot<T>>(); N];
        let mut marked = 0;
        for (handle, found) in handles.iter().zip(found.iter_mut()) {
            let index = handle.index() as usize;
            if index >= self.used {
                break;
            }
            // SAFETY: slots below `used` are committed; `&mut self` makes the access unique.
            let slot = unsafe { self.slots.as_ptr().add(index) };
            // SAFETY: as above.
            let generation = unsafe { &mut (*slot).generation };
            if *generation != handle.generation() {
                break;
            }
            // Mark the slot while the other keys are checked, so that a second key for it
            // finds it vacant: `O(N)` instead of `O(N^2)`. Odd, at most `LAST_GENERATION`:
            // no overflow.
            *generation += 1;
            *found = slot;
            marked += 1;
        }
        for &slot in &found[..marked] {
            // SAFETY: a slot marked above, which still holds its value.
            unsafe { (*slot).generation -= 1 };
        }
        if marked < N {
            return None;
        }
        // SAFETY: every key is live (odd generation: each slot holds a value), and no two
        // name the same slot (the second would have found it marked), so the references
        // are disjoint; `&mut self` keeps them unique for their life.
        Some(found.map(|slot| unsafe { (*slot).value.assume_init_mut() }))
    }

    /// Whether `key` refers to a value in the pool.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(());
    /// assert!(pool.contains(h));
    /// pool.remove(h);
    /// assert!(!pool.contains(h));
    /// ```
    #[inline]
    pub fn contains(&self, key: K) -> bool {
        self.slot(key.handle()).is_some()
    }

    /// Takes the value `key` refers to out of the pool and frees its slot; `None` if the
    /// key is stale. The key, and every copy of it, is stale afterwards.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(String::from("x"));
    /// assert_eq!(pool.remove(h).as_deref(), Some("x"));
    /// assert_eq!(pool.remove(h), None);
    /// ```
    #[inline]
    pub fn remove(&mut self, key: K) -> Option<T> {
        let handle = key.handle();
        let index = handle.index() as usize;
        if index >= self.used {
            return None;
        }
        // SAFETY: slots below `used` are committed; `&mut self` makes the access unique.
        let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
        let generation = handle.generation();
        if slot.generation != generation {
            return None;
        }
        // SAFETY: odd generation: the slot holds a value, which we take out once (the slot
        // is marked vacant right after).
        let value = unsafe { slot.value.assume_init_read() };
        // Vacant now. At `RETIRED` it goes on the free stack all the same, and the insert
        // that meets it takes it off for good.
        slot.generation = generation + 1;
        prefetch(self.free_top.wrapping_byte_add(prefetch_ahead::<T>() * mem::size_of::<Slot<T>>()));
        // SAFETY: the stack holds distinct vacant slots below `used`, and this one was not
        // vacant: fewer than `used <= committed` entries.
        unsafe { self.push_free(handle.index()) };
        Some(value)
    }

    /// The number of values in the pool.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(1);
    /// assert_eq!(pool.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.used - self.free_len() - self.lost
    }

    /// Whether the pool holds no value.
    ///
    /// ```
    /// let pool = vmem::Pool::<u8>::new();
    /// assert!(pool.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many values the pool can hold without committing more memory (counting the
    /// slots retired after 2^31 reuses, if any).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(1u64);
    /// assert!(pool.capacity() >= 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.committed
    }

    /// The most slots the pool can ever have (values, plus slots retired because their
    /// generation ran out).
    ///
    /// ```
    /// let pool = vmem::Pool::<u64>::with_max_capacity(100)?;
    /// assert_eq!(pool.max_capacity(), 100);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.max_capacity
    }

    /// The values with their keys, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert('a');
    /// let b = pool.insert('b');
    /// let all: Vec<_> = pool.iter().collect();
    /// assert_eq!(all, [(a, &'a'), (b, &'b')]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T, K> {
        Iter::new(self.slots, self.used, self.len())
    }

    /// The values, mutably, with their keys, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(1);
    /// pool.insert(2);
    /// for (_, value) in pool.iter_mut() {
    ///     *value *= 10;
    /// }
    /// assert_eq!(pool.iter().map(|(_, v)| *v).sum::<i32>(), 30);
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, T, K> {
        IterMut::new(self.slots, self.used, self.len())
    }

    /// The keys of the values, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert('a');
    /// let b = pool.insert('b');
    /// pool.remove(a);
    /// assert_eq!(pool.keys().collect::<Vec<_>>(), [b]);
    /// ```
    pub fn keys(&self) -> Keys<'_, T, K> {
        Keys { inner: self.iter() }
    }

    /// The values, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// pool.insert(3);
    /// pool.insert(4);
    /// assert_eq!(pool.values().sum::<i32>(), 7);
    /// ```
    pub fn values(&self) -> Values<'_, T, K> {
        Values { inner: self.iter() }
    }

    /// The values, mutably, in slot order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(String::from("a"));
    /// for value in pool.values_mut() {
    ///     value.push('!');
    /// }
    /// assert_eq!(pool[h], "a!");
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, T, K> {
        ValuesMut { inner: self.iter_mut() }
    }

    /// Keeps only the values for which `keep` returns `true`; removes the others (their
    /// keys go stale).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// for i in 0..10 {
    ///     pool.insert(i);
    /// }
    /// pool.retain(|_, v| *v % 2 == 0);
    /// assert_eq!(pool.len(), 5);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(K, &mut T) -> bool) {
        for index in 0..self.used {
            // SAFETY: a committed slot below `used`; no other reference to it is live.
            let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
            if slot.generation % 2 == 1 {
                let key = K::from(Handle::new(index as u32, slot.generation));
                // SAFETY: odd generation: the slot holds a value.
                if !keep(key, unsafe { slot.value.assume_init_mut() }) {
                    drop(self.remove(key));
                }
            }
        }
    }

    /// Removes every value (all keys go stale). Committed memory stays committed, and
    /// inserts fill the slots again from the lowest index up.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(String::from("x"));
    /// pool.clear();
    /// assert!(pool.is_empty());
    /// assert_eq!(pool.get(h), None);
    /// assert_eq!(pool.insert(String::from("y")).index(), h.index());
    /// ```
    pub fn clear(&mut self) {
        // Forget every value first, so that a panicking destructor leaves the pool empty and
        // consistent (the values not reached leak).
        let used = self.forget_all();
        if mem::needs_drop::<T>() {
            for index in 0..used {
                // SAFETY: a committed slot below the old `used`, written by this pool; no
                // other reference to it is live.
                let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
                if slot.generation % 2 == 1 {
                    // SAFETY: odd generation below the old `used`: the slot holds a value,
                    // dropped once (the pool no longer counts it).
                    unsafe { slot.value.assume_init_drop() };
                }
            }
        }
    }

    /// Empties the pool without touching a slot and returns the old `used`: the slots below
    /// it whose generation is odd hold values the pool no longer owns (the caller drops or
    /// moves them). Generations stay as they are: the next insert into a slot takes a
    /// generation above it (`fresh_generation`), so every handle goes stale without a pass
    /// over the slots.
    fn forget_all(&mut self) -> usize {
        let used = self.used;
        self.written = self.written.max(used);
        self.used = 0;
        self.free_top = self.stack_base();
        self.lost = 0;
        used
    }

    /// Removes every value and hands them out with their (now stale) keys, in slot order.
    /// The pool is empty afterwards as after [`clear`](Pool::clear), even if the iterator
    /// is dropped early (the rest are dropped then).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert("a");
    /// let b = pool.insert("b");
    /// assert_eq!(pool.drain().collect::<Vec<_>>(), [(a, "a"), (b, "b")]);
    /// assert!(pool.is_empty() && !pool.contains(a));
    /// assert_eq!(pool.insert("c").index(), 0);
    /// ```
    pub fn drain(&mut self) -> Drain<'_, T, K> {
        let len = self.len();
        // Forgotten first: a leaked `Drain` leaves the pool empty (and the values leaked).
        let used = self.forget_all();
        Drain::new(self.slots, used, len)
    }

    /// A copy of the pool in which every key finds the same value as in this one (live keys
    /// a clone of it, stale ones nothing), and inserts hand out the keys this pool's would;
    /// or the error when the OS refuses memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert(String::from("a"));
    /// let b = pool.insert(String::from("b"));
    /// pool.remove(a);
    /// let mut copy = pool.try_clone()?;
    /// assert_eq!((copy.get(a), copy[b].as_str()), (None, "b"));
    /// assert_eq!(copy.insert(String::from("c")), pool.insert(String::from("c")));
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_clone(&self) -> Result<Self>
    where
        T: Clone,
    {
        let mut clone = Self::empty(self.max_capacity);
        let slots = self.used.max(self.written);
        if slots == 0 {
            return Ok(clone);
        }
        clone.commit_slots("Pool::clone", slots)?;
        /// Gives the clone the slots filled so far if a `clone` panics (their vacant slots
        /// counted as lost, off the free stack), so that it drops what it holds and nothing
        /// else; the counts stay in registers while nothing panics.
        struct Filled<'a, T, K: Key> {
            clone: &'a mut Pool<T, K>,
            used: usize,
            vacant: usize,
        }
        impl<T, K: Key> Drop for Filled<'_, T, K> {
            fn drop(&mut self) {
                self.clone.used = self.used;
                self.clone.lost = self.vacant;
            }
        }
        let target = clone.slots.as_ptr();
        let mut filled = Filled { clone: &mut clone, used: 0, vacant: 0 };
        for index in 0..self.used {
            // SAFETY: a committed slot below `used` of this pool.
            let source = unsafe { &*self.slots.as_ptr().add(index) };
            let generation = source.generation;
            let value = if generation % 2 == 1 {
                // SAFETY: odd generation: the slot holds a value.
                MaybeUninit::new(unsafe { source.value.assume_init_ref() }.clone())
            } else {
                filled.vacant += 1;
                MaybeUninit::uninit()
            };
            // SAFETY: slot `index < used <= slots` of the clone is committed, and only the
            // clone refers to it (its free-stack entry is written below).
            unsafe { target.add(index).write(Slot { generation, stacked: 0, value }) };
            filled.used = index + 1;
        }
        let vacant = filled.vacant;
        drop(filled);
        for index in self.used..slots {
            // SAFETY: below `max(used, written)`: a generation this pool wrote; the clone
            // has the slot committed.
            unsafe {
                ptr::addr_of_mut!((*clone.slots.as_ptr().add(index)).generation)
                    .write((*self.slots.as_ptr().add(index)).generation)
            };
        }
        clone.written = slots;
        for i in 0..self.free_len() {
            // SAFETY: `i < free_len()`; the clone's stack has `i < used <= committed` entries.
            unsafe { clone.push_free(self.stack_entry(i)) };
        }
        // The vacant slots below `used` are the free stack's and the lost ones.
        clone.lost = vacant - self.free_len();
        Ok(clone)
    }
}

/// A vacant slot of a [`Pool`] and the key a value put there gets, from
/// [`Pool::vacant_entry`]. Dropping it leaves the pool as it was.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let entry: vmem::pool::VacantEntry<'_, String> = pool.vacant_entry();
/// let key = entry.key();
/// drop(entry);
/// assert!(!pool.contains(key) && pool.is_empty());
/// assert_eq!(pool.insert(String::new()), key, "the next insert takes that slot");
/// ```
pub struct VacantEntry<'a, T, K: Key = Handle> {
    pool: &'a mut Pool<T, K>,
    place: Place,
}

impl<'a, T, K: Key> VacantEntry<'a, T, K> {
    /// The key a value inserted here gets.
    ///
    /// ```
    /// let mut pool = vmem::Pool::<u8>::new();
    /// let entry = pool.vacant_entry();
    /// assert_eq!((entry.key().index(), entry.key().generation()), (0, 1));
    /// ```
    pub fn key(&self) -> K {
        K::from(Handle::new(self.place.index, self.place.generation))
    }

    /// Puts `value` in the slot, under [`key`](VacantEntry::key), and returns it.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let entry = pool.vacant_entry();
    /// let key = entry.key();
    /// *entry.insert(1) += 1;
    /// assert_eq!(pool[key], 2);
    /// ```
    pub fn insert(self, value: T) -> &'a mut T {
        let pool = self.pool;
        // SAFETY: the place came from `next_place`, and the entry's `&mut` borrow kept
        // anything from changing the pool since.
        let handle = unsafe { pool.occupy(self.place, value) };
        // SAFETY: just filled: a committed slot holding a value, borrowed for `'a`.
        unsafe { (*pool.slots.as_ptr().add(handle.index() as usize)).value.assume_init_mut() }
    }
}

impl<T, K: Key> fmt::Debug for VacantEntry<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntry").field(&self.key()).finish()
    }
}

/// The address of slot 0's `stacked` field, for slots starting at `slots` (which may be
/// dangling: wrapping arithmetic, no dereference).
#[inline(always)]
const fn stack_base_of<T>(slots: NonNull<Slot<T>>) -> *mut u32 {
    slots.as_ptr().cast::<u8>().wrapping_add(mem::offset_of!(Slot<T>, stacked)).cast()
}

/// The bytes of `max` slots of `T`, checked: at most `u32::MAX` slots, a size that fits.
fn reserve_bytes<T>(operation: &'static str, max: usize) -> Result<usize> {
    if max > NO_SLOT as usize {
        return Err(Error::new(ErrorKind::InvalidArgument, operation, "a pool holds at most u32::MAX values")
            .with_limit("maximum capacity", NO_SLOT as u64));
    }
    max.checked_mul(mem::size_of::<Slot<T>>())
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, operation, "the maximum capacity in bytes overflows"))
}

/// How many free-stack entries (slots) ahead of its top [`Pool::remove`] prefetches: two
/// cache lines' worth, at least one.
const fn prefetch_ahead<T>() -> usize {
    let ahead = 128 / mem::size_of::<Slot<T>>();
    if ahead == 0 {
        1
    } else {
        ahead
    }
}

/// Asks the CPU to bring the cache line at `address` in. [`Pool::remove`] prefetches the
/// slot its next stack entries go to: removals push entries into slots `0, 1, 2, ..` in turn,
/// a stream through the slots that the removals themselves walk too when they go in slot
/// order (a batch freed in the order it was made). Measured with `benches/pool.rs` against
/// the same pool without it: about 10% faster removal in slot order, no slower in random order.
/// A prefetch never faults, so `address` may be anywhere, even unmapped.
#[inline(always)]
fn prefetch(address: *const u32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` only hints the cache; it reads nothing and never faults, whatever
    // the address. SSE, which has it, is part of every x86-64 CPU.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

impl<T, K: Key> Drop for Pool<T, K> {
    fn drop(&mut self) {
        if mem::needs_drop::<T>() && !self.is_empty() {
            for index in 0..self.used {
                // SAFETY: a committed slot below `used`; the pool is going away.
                let slot = unsafe { &mut *self.slots.as_ptr().add(index) };
                if slot.generation % 2 == 1 {
                    // SAFETY: odd generation: the slot holds a value, dropped once.
                    unsafe { slot.value.assume_init_drop() };
                }
            }
        }
    }
}

impl<T: Clone, K: Key> Clone for Pool<T, K> {
    /// As [`try_clone`](Pool::try_clone).
    ///
    /// # Panics
    /// When the OS refuses the memory.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(vec![1, 2]);
    /// let copy = pool.clone();
    /// pool[h].push(3);
    /// assert_eq!((pool[h].len(), copy[h].len()), (3, 2));
    /// ```
    fn clone(&self) -> Self {
        match self.try_clone() {
            Ok(clone) => clone,
            Err(err) => failed("Pool::clone", err),
        }
    }
}

impl<T, K: Key> Index<K> for Pool<T, K> {
    type Output = T;

    /// The value `key` refers to.
    ///
    /// # Panics
    /// When the key is stale.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(3);
    /// assert_eq!(pool[h], 3);
    /// ```
    #[inline]
    fn index(&self, key: K) -> &T {
        match self.get(key) {
            Some(value) => value,
            None => stale_handle(key.handle()),
        }
    }
}

impl<T, K: Key> IndexMut<K> for Pool<T, K> {
    /// The value `key` refers to, mutably.
    ///
    /// # Panics
    /// When the key is stale.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(3);
    /// pool[h] += 1;
    /// assert_eq!(pool[h], 4);
    /// ```
    #[inline]
    fn index_mut(&mut self, key: K) -> &mut T {
        match self.get_mut(key) {
            Some(value) => value,
            None => stale_handle(key.handle()),
        }
    }
}

#[cold]
#[inline(never)]
fn stale_handle(handle: Handle) -> ! {
    panic!("Pool: {handle:?} refers to no value")
}

impl<T: fmt::Debug, K: Key> fmt::Debug for Pool<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool whose slot 0 holds a value at `generation`.
    fn pool_at_generation(generation: u32) -> (Pool<i32>, Handle) {
        let mut pool = Pool::new();
        pool.insert(1);
        // SAFETY: slot 0 is occupied; give it another odd generation.
        unsafe { (*pool.slots.as_ptr()).generation = generation };
        (pool, Handle::new(0, generation))
    }

    #[test]
    fn a_slot_whose_generation_runs_out_is_retired() {
        let (mut pool, old) = pool_at_generation(RETIRED - 3);
        assert_eq!(pool.remove(old), Some(1));
        let last = pool.insert(2);
        assert_eq!((last.index(), last.generation()), (0, RETIRED - 1));
        assert_eq!(Handle::from_bits(last.to_bits()), Some(last));
        assert_eq!(pool.remove(last), Some(2));
        assert_eq!(pool.insert(3).index(), 1, "the retired slot is not reused");
        assert_eq!(pool.get(last), None);
        assert_eq!(pool.free_len(), 0, "and is off the free stack");
        // After a clear, inserts skip the retired slot too.
        let second = pool.insert(5);
        pool.remove(second);
        pool.clear();
        let after = pool.insert(4);
        assert_eq!(after.index(), 1);
        assert_eq!(pool.insert(6).index(), 2);
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.iter().count(), 2);
        assert_eq!(pool.into_iter().count(), 2);
    }

    #[test]
    fn clear_retires_a_slot_at_the_last_generation() {
        let (mut pool, last) = pool_at_generation(RETIRED - 1);
        pool.insert(5);
        pool.clear();
        assert_eq!(pool.get(last), None);
        assert_eq!(pool.insert(2).index(), 1);
    }

    #[test]
    fn new_paths_take_retired_slots_off_the_stack_too() {
        // A value at the last generation, removed: its slot goes on the free stack retired.
        let (mut pool, last) = pool_at_generation(LAST_GENERATION);
        assert_eq!(pool.get_disjoint_mut([last]).map(|[v]| *v), Some(1));
        let more: [Handle; 8] = core::array::from_fn(|i| pool.insert(i as i32));
        let nine: [Handle; 9] = core::array::from_fn(|i| if i == 0 { last } else { more[i - 1] });
        assert!(pool.get_disjoint_mut(nine).is_some(), "the mark at the last generation");
        assert!(pool
            .get_disjoint_mut([last, more[0], more[1], more[2], more[3], more[4], more[5], more[6], last])
            .is_none());
        assert!(pool.contains(last));
        for h in more {
            pool.remove(h);
        }
        pool.remove(last); // on top of the stack, retired
        let mut clone = pool.clone();
        let entry = pool.vacant_entry();
        assert_eq!(entry.key().index(), 8, "the retired slot is skipped: the next entry down");
        let shown = entry.key();
        assert_eq!(pool.insert_with_key(|key| key.index() as i32), shown);
        assert_eq!((pool.free_len(), pool.lost, pool.len()), (7, 1, 1));
        assert_eq!(clone.insert(5), shown, "the clone has the retired slot too");
        assert_eq!(clone.try_reserve(0).map(|()| clone.len()), Ok(1));
    }

    #[test]
    fn a_clear_at_the_last_generation_retires_on_the_new_paths() {
        let (mut pool, last) = pool_at_generation(LAST_GENERATION);
        pool.clear();
        let clone = pool.clone();
        for mut pool in [pool, clone] {
            assert_eq!(pool.vacant_entry().key().index(), 1);
            assert_eq!(pool.drain().count(), 0);
            assert_eq!(pool.insert(3).index(), 1);
            assert_eq!(pool.get(last), None);
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn round_trips_keep_retired_slots() {
        let (mut pool, last) = pool_at_generation(LAST_GENERATION);
        let other = pool.insert(2);
        pool.remove(last);
        let json = serde_json::to_string(&pool).unwrap();
        assert!(json.contains(&format!("[{RETIRED},1]")), "{json}");
        let mut back: Pool<i32> = serde_json::from_str(&json).unwrap();
        assert_eq!((back.get(last), back.get(other)), (None, Some(&2)));
        assert_eq!(back.insert(3).index(), 2, "the retired slot stays out of use");
        // Cleared at the last generation: written as retired.
        let (mut pool, _) = pool_at_generation(LAST_GENERATION);
        pool.clear();
        let json = serde_json::to_string(&pool).unwrap();
        assert!(json.contains(&format!(r#""used":0,"generations":[{RETIRED}]"#)), "{json}");
        let mut back: Pool<i32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.insert(1).index(), 1);
    }

    #[test]
    fn no_handle_names_a_retired_slot() {
        assert_eq!(Handle::from_bits(RETIRED as u64), None);
        assert_eq!(Handle::from_bits(u32::MAX as u64), None);
        assert_eq!(Handle::from_bits((u32::MAX as u64) << 32 | 3), None);
        assert_eq!(Handle::from_bits((u32::MAX as u64) << 32 | 1), Some(Handle::NULL), "but the null one");
    }

    /// A pool whose first `generations.len()` slots were used, each left at the given
    /// generation (odd: holds its value, the index; even: vacant and on the free stack).
    fn pool_with_generations(generations: &[u32]) -> (Pool<u32>, Vec<Option<Handle>>) {
        let mut pool = Pool::new();
        let handles: Vec<Handle> = (0..generations.len() as u32).map(|i| pool.insert(i)).collect();
        let mut live = Vec::new();
        for (i, (&g, h)) in generations.iter().zip(handles).enumerate() {
            if g % 2 == 0 {
                pool.remove(h);
            }
            // SAFETY: slot `i` is below `used`; an odd generation keeps its value, an even
            // one marks the slot vacant (its value was removed above).
            unsafe { (*pool.slots.as_ptr().add(i)).generation = g };
            live.push((g % 2 == 1).then(|| Handle::new(i as u32, g)));
        }
        (pool, live)
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert,
        Remove(usize),
        Clear,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![4 => Just(Op::Insert), 3 => any::<usize>().prop_map(Op::Remove), 1 => Just(Op::Clear)]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, ..Default::default() })]

        /// Near the last generations, over inserts, removes and O(1) clears: a handle once
        /// stale never finds a value again, every handle is new (its generation is above
        /// every earlier one of its slot), retired slots are never reused, and `len`,
        /// `get` and `iter` agree with a model.
        #[test]
        fn stale_handles_stay_stale_near_the_last_generation(
            offsets in proptest::collection::vec(0u32..8, 1..6),
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let generations: Vec<u32> = offsets.iter().map(|&o| RETIRED - 1 - o).collect();
            let (mut pool, initial) = pool_with_generations(&generations);
            let mut next_value = 1_000u32;
            let mut live: std::collections::BTreeMap<Handle, u32> =
                initial.iter().enumerate().filter_map(|(i, h)| h.map(|h| (h, i as u32))).collect();
            let mut stale: Vec<Handle> = Vec::new();
            let mut highest: std::collections::HashMap<u32, u32> =
                generations.iter().enumerate().map(|(i, &g)| (i as u32, g)).collect();
            for op in ops {
                match op {
                    Op::Insert => {
                        let Ok(h) = pool.try_insert(next_value) else { continue };
                        let top = highest.entry(h.index()).or_insert(0);
                        proptest::prop_assert!(h.generation() > *top || (*top == 0 && h.generation() == 1),
                            "{h:?} is not above generation {top} of its slot");
                        *top = h.generation();
                        proptest::prop_assert!(h.generation() <= LAST_GENERATION);
                        proptest::prop_assert_eq!(Handle::from_bits(h.to_bits()), Some(h));
                        live.insert(h, next_value);
                        next_value += 1;
                    }
                    Op::Remove(pick) => {
                        if live.is_empty() {
                            continue;
                        }
                        let h = *live.keys().nth(pick % live.len()).unwrap();
                        proptest::prop_assert_eq!(pool.remove(h), live.remove(&h));
                        stale.push(h);
                    }
                    Op::Clear => {
                        pool.clear();
                        stale.extend(live.keys().copied());
                        live.clear();
                    }
                }
                for h in &stale {
                    proptest::prop_assert_eq!(pool.get(*h), None, "stale {:?} found a value", h);
                }
                for (h, v) in &live {
                    proptest::prop_assert_eq!(pool.get(*h), Some(v));
                }
                proptest::prop_assert_eq!(pool.len(), live.len());
                let seen: Vec<(Handle, u32)> = pool.iter().map(|(h, v)| (h, *v)).collect();
                let expected: Vec<(Handle, u32)> = live.iter().map(|(h, v)| (*h, *v)).collect();
                proptest::prop_assert_eq!(seen, expected);
            }
        }
    }
}
