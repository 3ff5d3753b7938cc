//! `ConcurrentVec`: an append-only vector that many threads push to at once.
//!
//! A `ConcurrentVec<T>` reserves address space for its maximum capacity once (by default
//! [`DEFAULT_RESERVE_BYTES`] of elements and flags) and commits it in steps as it fills.
//! Because the reservation never moves, neither do the elements: `push` takes `&self`, and a
//! reference returned by [`get`](ConcurrentVec::get) stays valid while other threads keep
//! pushing. Elements are never removed while the vector is shared; with `&mut self` you can
//! change, [`clear`](ConcurrentVec::clear) or take them out.
//!
//! Each slot has a one-byte *published* flag, kept in a separate array so that the values
//! stay one contiguous slice (and laid out so that neighbouring slots, which different
//! threads tend to fill at the same moment, publish on different cache lines). A push takes an index with one `fetch_add`, writes the value
//! and sets the flag with a release store; [`get`](ConcurrentVec::get) returns an element
//! only once its flag is set, so an index whose push is still in progress reads as `None`.
//!
//! Use it for logs, interning tables, arenas of nodes built by worker threads: anything
//! that many threads append to and read while the others are still appending.
//!
//! # Cost model
//!
//! - [`push`](ConcurrentVec::push): one atomic `fetch_add` on the length, a load, the write
//!   of the value and a release store of its flag (a plain store on x86). No lock, no
//!   allocation, no system call.
//! - Once per commit step (as much as is committed, from 64 KiB to 64 MiB of values) the
//!   push that crosses the committed end takes a short lock and makes one or two `commit`
//!   system calls (none for memory the warm cache handed over; its flags are zeroed
//!   instead); pushes that cross it meanwhile wait. The first touch of each page is a page
//!   fault.
//! - [`new`](ConcurrentVec::new) does nothing: the first push takes two regions (values and
//!   flags) from the [warm cache](crate::cache), or reserves them (two `reserve` system
//!   calls). [`with_max_capacity`](ConcurrentVec::with_max_capacity) reserves at once. Drop
//!   gives both regions back to the cache with their memory.
//! - [`get`](ConcurrentVec::get): a few loads and two compares; no lock, no atomic
//!   read-modify-write.
//! - Memory: `size_of::<T>() + 1` bytes per element, committed as the vector grows; address
//!   space for the maximum capacity.
//!
//! # Failure
//!
//! A push past the maximum capacity, or one that needs memory the OS refuses to commit,
//! fails: [`try_push`](ConcurrentVec::try_push) hands the value back with the error and
//! [`push`](ConcurrentVec::push) panics. No index is lost: the elements are always
//! `0..len()`. After a refused commit, pushes fail until one finds no other push in flight
//! past the end; that one asks the OS again.
//!
//! ```
//! use vmem::ConcurrentVec;
//!
//! let log = ConcurrentVec::new();
//! std::thread::scope(|s| {
//!     for thread in 0..4 {
//!         let log = &log;
//!         s.spawn(move || {
//!             for i in 0..1000 {
//!                 let index = log.push((thread, i));
//!                 assert_eq!(log.get(index), Some(&(thread, i)));
//!             }
//!         });
//!     }
//! });
//! assert_eq!(log.len(), 4000);
//! ```

use core::cell::UnsafeCell;
use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::mem;
use core::ops::Index;
use core::panic::RefUnwindSafe;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};

use crate::region::{CommitMode, GrowRegion, DEFAULT_RESERVE_BYTES};
use crate::{Error, ErrorKind, Result};

/// The smallest and largest commit steps, in bytes of values: small at first, because a
/// step of memory from the warm cache has its flags zeroed (it may hold anything), then
/// doubling.
const MIN_STEP_BYTES: usize = 64 << 10;
const MAX_STEP_BYTES: usize = 64 << 20;

/// Keeps a hot atomic on a cache line of its own.
#[repr(align(128))]
struct CachePadded<T>(T);

/// An append-only vector that many threads push to at once, through `&self`.
///
/// It reserves address space for its [maximum capacity](ConcurrentVec::max_capacity) once
/// and commits it in steps as it fills, so elements never move: a reference returned by
/// [`get`](ConcurrentVec::get) stays valid while other threads keep pushing. Each slot has
/// a published flag, set once the value is written, so `get` of an index whose push is still
/// in progress returns `None`. With `&mut self` the elements are one slice
/// ([`as_slice`](ConcurrentVec::as_slice)) and can be changed, cleared or taken out.
///
/// What each call costs, and the memory it uses, is in the [module docs](self#cost-model).
///
/// A push past the maximum capacity, or one the OS refuses memory for, fails without losing
/// an index: [`try_push`](ConcurrentVec::try_push) hands the value back.
///
/// ```
/// let names = vmem::ConcurrentVec::new();
/// let first: &String = std::thread::scope(|s| {
///     let first = s.spawn(|| &names[names.push(String::from("ada"))]).join().unwrap();
///     s.spawn(|| {
///         for i in 0..10_000 {
///             names.push(i.to_string());
///         }
///     });
///     first
/// });
/// assert_eq!((first.as_str(), names.len()), ("ada", 10_001)); // still valid, never moved
/// ```
pub struct ConcurrentVec<T> {
    /// The next index to hand out. Runs past `limit` by the number of failing pushes in
    /// flight, each of which gives its index back.
    next: CachePadded<AtomicUsize>,
    /// Slots `[0, committed)` have their value and flag committed. Never above `limit`.
    committed: AtomicUsize,
    /// The first value (dangling until reserved, and for zero-sized `T`).
    values: AtomicPtr<T>,
    /// The first published flag (dangling until reserved).
    flags: AtomicPtr<AtomicU8>,
    /// Pushes with an index at or past it fail: `max_capacity`, or what was committed when
    /// the OS refused to commit more. Changed only under `lock`.
    limit: AtomicUsize,
    /// The most elements the vector may ever hold.
    max_capacity: AtomicUsize,
    /// Held while `state` changes (the slow path).
    lock: crate::sync::Lock<()>,
    /// Touched only under `lock` or through `&mut self`.
    state: UnsafeCell<State>,
    _owns: PhantomData<T>,
}

/// The slow path's bookkeeping.
struct State {
    /// The values (never reserved for zero-sized `T`) and the flags (whole flag blocks),
    /// reserved by the first push of [`ConcurrentVec::new`], never for a zero capacity. The
    /// committed flags always cover `committed` slots and are zero where not published.
    values: GrowRegion,
    flags: GrowRegion,
    /// Why `limit` is below `max_capacity`, if it is.
    failure: Option<Error>,
}

impl State {
    /// Regions for at most `max` elements of `T` (sizes saturate: a size too large for any
    /// address space fails when reserved).
    const fn unreserved<T>(max: usize) -> State {
        let flag_bytes = max.saturating_add(FLAG_BLOCK - 1) & !(FLAG_BLOCK - 1);
        State {
            values: GrowRegion::new(max.saturating_mul(mem::size_of::<T>()), mem::align_of::<T>(), CommitMode::DEFAULT),
            flags: GrowRegion::new(flag_bytes, 1, CommitMode::DEFAULT),
            failure: None,
        }
    }
}

// SAFETY: the vector owns its elements; moving it moves them (`T: Send`). The reservation
// and atomics are plain data.
unsafe impl<T: Send> Send for ConcurrentVec<T> {}
// SAFETY: through `&self` threads move values in (`T: Send`) and share references to them
// (`T: Sync`). Each slot is written once, by the push that took its index from the atomic
// counter, before its flag is published with release ordering; readers check the flag with
// acquire ordering. `state` is touched only under `lock`.
unsafe impl<T: Send + Sync> Sync for ConcurrentVec<T> {}

// The state behind the `UnsafeCell` changes only under the lock, and no panic can leave it
// half-changed, so a panic in a user's closure leaves the vector consistent.
impl<T: RefUnwindSafe> RefUnwindSafe for ConcurrentVec<T> {}

impl<T> Default for ConcurrentVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ConcurrentVec<T> {
    /// An empty vector with a generous maximum capacity ([`DEFAULT_RESERVE_BYTES`] of
    /// elements and flags). Reserves nothing: the first push does, so `new` never fails,
    /// costs nothing and can initialize a `static`. Where address space is short (`ulimit
    /// -v`), the first push reserves less and lowers
    /// [`max_capacity`](ConcurrentVec::max_capacity) to match.
    ///
    /// ```
    /// static NAMES: vmem::ConcurrentVec<&str> = vmem::ConcurrentVec::new();
    /// let i = NAMES.push("first");
    /// assert_eq!(NAMES[i], "first");
    /// ```
    pub const fn new() -> Self {
        let max = DEFAULT_RESERVE_BYTES / (mem::size_of::<T>() + 1);
        Self::with_state(max, State::unreserved::<T>(max))
    }

    const fn with_state(max_capacity: usize, state: State) -> Self {
        ConcurrentVec {
            next: CachePadded(AtomicUsize::new(0)),
            committed: AtomicUsize::new(0),
            values: AtomicPtr::new(NonNull::dangling().as_ptr()),
            flags: AtomicPtr::new(NonNull::dangling().as_ptr()),
            limit: AtomicUsize::new(max_capacity),
            max_capacity: AtomicUsize::new(max_capacity),
            lock: crate::sync::Lock::new(()),
            state: UnsafeCell::new(state),
            _owns: PhantomData,
        }
    }

    /// An empty vector that holds at most `max_capacity` elements, with its address space
    /// (`max_capacity * (size_of::<T>() + 1)` bytes, rounded up to pages) reserved now.
    /// Nothing is committed until the first push.
    ///
    /// # Errors
    /// `InvalidArgument` when the size in bytes overflows, `OutOfAddressSpace` when the OS
    /// has no room for it.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::<u64>::with_max_capacity(1000)?;
    /// assert_eq!(v.max_capacity(), 1000);
    /// assert!(vmem::ConcurrentVec::<u64>::with_max_capacity(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity(max_capacity: usize) -> Result<Self> {
        const OP: &str = "ConcurrentVec::with_max_capacity";
        if max_capacity == 0 {
            return Ok(Self::with_state(0, State::unreserved::<T>(0)));
        }
        let (value_bytes, flag_bytes) = region_bytes::<T>(OP, max_capacity)?;
        let mut vec = Self::with_state(max_capacity, State::unreserved::<T>(max_capacity));
        let state = vec.state.get_mut();
        if value_bytes > 0 {
            state.values.reserve(OP, value_bytes)?;
        }
        state.flags.reserve(OP, flag_bytes)?;
        let (values, flags) = pointers::<T>(state);
        *vec.values.get_mut() = values;
        *vec.flags.get_mut() = flags;
        Ok(vec)
    }

    fn lock(&self) -> crate::sync::LockGuard<'_, ()> {
        self.lock.lock()
    }

    /// Appends `value` from any thread and returns its index, or hands the value back with
    /// the error when the vector is at its maximum capacity or the OS refuses memory.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::with_max_capacity(1)?;
    /// assert_eq!(v.try_push('a'), Ok(0));
    /// let (value, err) = v.try_push('b').unwrap_err();
    /// assert_eq!((value, err.kind()), ('b', vmem::ErrorKind::OutOfMemory));
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn try_push(&self, value: T) -> core::result::Result<usize, (T, Error)> {
        let index = self.next.0.fetch_add(1, Ordering::Relaxed);
        if index < self.committed.load(Ordering::Acquire) {
            // SAFETY: the index is committed, and the counter handed it to this call alone.
            unsafe { self.publish(index, value) };
            return Ok(index);
        }
        self.push_slow(index, value)
    }

    /// Appends `value` from any thread and returns its index.
    ///
    /// # Panics
    /// When the vector is at its maximum capacity or the OS refuses memory; see
    /// [`try_push`](ConcurrentVec::try_push).
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// assert_eq!(v.push("a"), 0);
    /// assert_eq!(v.push("b"), 1);
    /// ```
    #[inline]
    pub fn push(&self, value: T) -> usize {
        match self.try_push(value) {
            Ok(index) => index,
            Err((_, err)) => crate::sync::failed("ConcurrentVec::push", err),
        }
    }

    /// Writes `value` to slot `index` and publishes it.
    ///
    /// # Safety
    /// `index` is below `committed`, and was handed to the caller alone by the counter.
    #[inline]
    unsafe fn publish(&self, index: usize, value: T) {
        let values = self.values.load(Ordering::Relaxed);
        let flags = self.flags.load(Ordering::Relaxed);
        // SAFETY: the slot and its flag are committed (the pointers were stored before
        // `committed` was raised past `index`, which the caller observed with acquire
        // ordering or under the lock); no one else writes this slot, and readers look at it
        // only after the release store of its flag.
        unsafe {
            values.add(index).write(value);
            (*flags.add(flag_position(index))).store(1, Ordering::Release);
        }
    }

    /// The push whose index is not committed yet: commits more, or fails.
    #[cold]
    #[inline(never)]
    fn push_slow(&self, index: usize, value: T) -> core::result::Result<usize, (T, Error)> {
        let _guard = self.lock();
        // SAFETY: we hold the lock; `&mut self` methods cannot run while `&self` is borrowed.
        let state = unsafe { &mut *self.state.get() };
        if index >= self.committed.load(Ordering::Relaxed) {
            if let Err(err) = self.grow(state, index) {
                // Give the index back. Every index at or past `limit` fails, so indices that
                // are handed out twice this way are never written.
                self.next.0.fetch_sub(1, Ordering::Relaxed);
                return Err((value, err));
            }
        }
        // SAFETY: `index` is committed now, and ours alone.
        unsafe { self.publish(index, value) };
        Ok(index)
    }

    /// Commits at least up to slot `index`, under the lock, or says why not.
    fn grow(&self, state: &mut State, index: usize) -> Result<()> {
        let limit = self.limit.load(Ordering::Relaxed);
        if index >= limit {
            let max = self.max_capacity.load(Ordering::Relaxed);
            if index >= max {
                return Err(full_error(max));
            }
            // An earlier commit failed. Try again only if no other push is past the end:
            // then no index at or past `limit` is held by anyone else, and raising `limit`
            // cannot hand out an index twice.
            let alone = index == limit && self.next.0.load(Ordering::Relaxed) == index + 1;
            if let (false, Some(err)) = (alone, state.failure) {
                return Err(err);
            }
        }
        if !state.flags.is_reserved() {
            match self.reserve_lazily(state) {
                Ok(max) if index < max => {}
                Ok(max) => return Err(full_error(max)),
                Err(err) => {
                    state.failure = Some(err);
                    self.limit.store(0, Ordering::Relaxed);
                    return Err(err);
                }
            }
        }
        match self.commit_to(state, index) {
            Ok(()) => {
                state.failure = None;
                self.limit.store(self.max_capacity.load(Ordering::Relaxed), Ordering::Relaxed);
                Ok(())
            }
            Err(err) => {
                // Every index below `committed` is still filled; those past it fail until
                // a push finds itself alone past the end.
                state.failure = Some(err);
                self.limit.store(self.committed.load(Ordering::Relaxed), Ordering::Relaxed);
                Err(err)
            }
        }
    }

    /// Makes the reservations [`new`](ConcurrentVec::new) put off (smaller where address
    /// space is short). Returns the maximum capacity.
    fn reserve_lazily(&self, state: &mut State) -> Result<usize> {
        const OP: &str = "ConcurrentVec::push";
        let mut max = self.max_capacity.load(Ordering::Relaxed);
        let size = mem::size_of::<T>();
        if size > 0 {
            state.values.reserve(OP, size)?;
            max = max.min(state.values.reserved() / size);
        }
        state.flags.reserve(OP, FLAG_BLOCK)?;
        max = max.min(state.flags.reserved());
        let (values, flags) = pointers::<T>(state);
        self.values.store(values, Ordering::Relaxed);
        self.flags.store(flags, Ordering::Relaxed);
        self.max_capacity.store(max, Ordering::Relaxed);
        self.limit.store(max, Ordering::Relaxed);
        Ok(max)
    }

    /// Commits values and flags for at least slots `[0, index]`, plus a step ahead when
    /// the OS allows it.
    fn commit_to(&self, state: &mut State, index: usize) -> Result<()> {
        const OP: &str = "ConcurrentVec::push";
        let size = mem::size_of::<T>();
        let max = self.max_capacity.load(Ordering::Relaxed);
        let wanted = index + 1;
        // Values first (a step ahead, or exactly what is needed if the OS refuses that).
        // Neither product overflows: `wanted <= max`, and the regions hold `max` of each.
        let (slots, flag_step) = if size == 0 {
            // No values: the flags alone grow, by the same doubling steps.
            (wanted, state.flags.doubling_step(MIN_STEP_BYTES, MAX_STEP_BYTES))
        } else {
            let step = state.values.doubling_step(MIN_STEP_BYTES, MAX_STEP_BYTES);
            state.values.commit_to(OP, wanted * size, step)?;
            ((state.values.committed() / size).min(max), 0)
        };
        // Then the flags of those slots, in whole flag blocks.
        let before = state.flags.committed();
        let flags_for = |slots: usize| slots.saturating_add(FLAG_BLOCK - 1) & !(FLAG_BLOCK - 1);
        state.flags.commit_to(OP, flags_for(slots).min(state.flags.reserved()), flag_step)?;
        let after = state.flags.committed();
        // Memory from the warm cache may hold anything: zero its flags before they count.
        let dirty_end = state.flags.dirty().min(after);
        if dirty_end > before {
            // SAFETY: `[before, dirty_end)` is committed and writable in the flags region, and
            // no reader looks past `committed`, which has not been raised over it yet.
            unsafe { ptr::write_bytes(state.flags.base().add(before), 0, dirty_end - before) };
        }
        let by_values = if size == 0 { usize::MAX } else { slots };
        let now = by_values.min(after).min(max);
        // Release: a thread that sees the new `committed` also sees the commit, the zeroed
        // flags and the pointers.
        self.committed.store(now, Ordering::Release);
        Ok(())
    }

    /// The element at `index`, once the push that took `index` has returned. `None` past
    /// the end, or while that push is still in progress on another thread.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// v.push(10);
    /// assert_eq!(v.get(0), Some(&10));
    /// assert_eq!(v.get(1), None);
    /// ```
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        if index >= self.committed.load(Ordering::Acquire) {
            return None;
        }
        let flags = self.flags.load(Ordering::Relaxed);
        // SAFETY: the flag is committed (it lies below `committed`, observed with acquire
        // ordering after the pointer was stored); committed memory reads zero until published.
        if unsafe { &*flags.add(flag_position(index)) }.load(Ordering::Acquire) == 0 {
            return None;
        }
        // SAFETY: the flag is set, so the value was written before its release store, and
        // it is never written or dropped again while `&self` is borrowed.
        Some(unsafe { &*self.values.load(Ordering::Relaxed).add(index) })
    }

    /// The element at `index`, mutably. With `&mut self` no push is in flight, so every
    /// index below [`len`](ConcurrentVec::len) holds an element.
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.push(1);
    /// *v.get_mut(0).unwrap() += 1;
    /// assert_eq!(v[0], 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.as_mut_slice().get_mut(index)
    }

    /// The number of elements. While other threads push, pushes still in progress are
    /// counted (their [`get`](ConcurrentVec::get) is still `None`); once they have returned,
    /// this is exact, and the elements are those at `0..len()`.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// v.push(());
    /// v.push(());
    /// assert_eq!(v.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.next.0.load(Ordering::Relaxed).min(self.limit.load(Ordering::Relaxed))
    }

    /// Whether no element has been pushed.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// assert!(v.is_empty());
    /// v.push(1u8);
    /// assert!(!v.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most elements the vector can ever hold.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::<u32>::with_max_capacity(10)?;
    /// assert_eq!(v.max_capacity(), 10);
    /// assert!(vmem::ConcurrentVec::<u32>::new().max_capacity() > 1 << 20);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn max_capacity(&self) -> usize {
        self.max_capacity.load(Ordering::Relaxed)
    }

    /// How many elements fit in the memory committed so far.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// assert_eq!(v.capacity(), 0);
    /// v.push(1u64);
    /// assert!(v.capacity() >= 1);
    /// ```
    pub fn capacity(&self) -> usize {
        self.committed.load(Ordering::Relaxed)
    }

    /// The elements, in index order. Elements pushed after the iterator was made are not
    /// included; those whose push is in progress on another thread are skipped.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// v.push(1);
    /// v.push(2);
    /// assert_eq!(v.iter().sum::<i32>(), 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { vec: self, index: 0, end: self.len() }
    }

    /// The elements as one slice. Needs `&mut self`: then no push is in flight.
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.push(1);
    /// v.push(2);
    /// assert_eq!(v.as_slice(), [1, 2]);
    /// ```
    pub fn as_slice(&mut self) -> &[T] {
        self.as_mut_slice()
    }

    /// The elements as one mutable slice.
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.push(3);
    /// v.push(1);
    /// v.as_mut_slice().sort();
    /// assert_eq!(v.as_slice(), [1, 3]);
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let len = self.len_mut();
        // SAFETY: with `&mut self` every push has returned, so the elements are exactly
        // `0..len`, all written and committed (for zero-sized `T` the pointer is dangling
        // and well aligned).
        unsafe { core::slice::from_raw_parts_mut(*self.values.get_mut(), len) }
    }

    /// The elements, mutably, in index order.
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.push(1);
    /// v.push(2);
    /// v.iter_mut().for_each(|x| *x *= 10);
    /// assert_eq!(v.as_slice(), [10, 20]);
    /// ```
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, T> {
        self.as_mut_slice().iter_mut()
    }

    /// Drops every element. Committed memory stays committed, so refilling the vector costs
    /// no system call and no page fault. Also lets pushes try again after a refused commit.
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.push(String::from("x"));
    /// v.clear();
    /// assert!(v.is_empty());
    /// assert_eq!(v.get(0), None);
    /// ```
    pub fn clear(&mut self) {
        let len = self.len_mut();
        if len > 0 {
            // SAFETY: the flag blocks holding the first `len` flags are committed; no one else
            // looks at them.
            unsafe { ptr::write_bytes(*self.flags.get_mut(), 0, len.next_multiple_of(FLAG_BLOCK)) };
        }
        let elements = ptr::slice_from_raw_parts_mut(*self.values.get_mut(), len);
        *self.next.0.get_mut() = 0;
        let state = self.state.get_mut();
        state.failure = None;
        *self.limit.get_mut() = *self.max_capacity.get_mut();
        // SAFETY: the vector no longer counts or publishes these elements, so they are
        // dropped exactly once, here (even if a destructor panics).
        unsafe { ptr::drop_in_place(elements) };
    }

    /// The length when no push is in flight.
    fn len_mut(&mut self) -> usize {
        (*self.next.0.get_mut()).min(*self.limit.get_mut())
    }
}

/// Flags are laid out in blocks of 4096 (one 4 KiB page, the smallest page size), and
/// within a block slot `i`'s flag is byte `i / 64 % 64` of cache line `i % 64`: consecutive
/// slots, which different threads tend to push at the same moment, publish on different
/// cache lines instead of fighting over one.
const FLAG_BLOCK: usize = 4096;

#[inline(always)]
fn flag_position(index: usize) -> usize {
    (index & !(FLAG_BLOCK - 1)) | ((index & 63) << 6) | ((index >> 6) & 63)
}

/// The bytes of `max` values of `T` and of their flags (whole flag blocks), checked.
fn region_bytes<T>(operation: &'static str, max: usize) -> Result<(usize, usize)> {
    let overflow =
        || Error::new(ErrorKind::InvalidArgument, operation, "the maximum capacity in bytes overflows usize");
    let value_bytes = max.checked_mul(mem::size_of::<T>()).ok_or_else(overflow)?;
    let flag_bytes = max.checked_add(FLAG_BLOCK - 1).ok_or_else(overflow)? & !(FLAG_BLOCK - 1);
    Ok((value_bytes, flag_bytes))
}

/// The first value (dangling for zero-sized `T`) and the first flag of reserved regions.
fn pointers<T>(state: &State) -> (*mut T, *mut AtomicU8) {
    let values = if mem::size_of::<T>() == 0 { NonNull::dangling().as_ptr() } else { state.values.base().cast() };
    (values, state.flags.base().cast())
}

fn full_error(max: usize) -> Error {
    Error::new(ErrorKind::OutOfMemory, "ConcurrentVec::push", "the vector is at its maximum capacity")
        .with_limit("max_capacity", max as u64)
}

impl<T> Drop for ConcurrentVec<T> {
    fn drop(&mut self) {
        if mem::needs_drop::<T>() {
            let elements: *mut [T] = self.as_mut_slice();
            // SAFETY: the vector owns these elements and is going away; the reservation is
            // released after (it is a field).
            unsafe { ptr::drop_in_place(elements) };
        }
    }
}

impl<T> Index<usize> for ConcurrentVec<T> {
    type Output = T;

    /// The element at `index`.
    ///
    /// # Panics
    /// When there is none (yet): see [`get`](ConcurrentVec::get).
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// v.push('z');
    /// assert_eq!(v[0], 'z');
    /// ```
    #[inline]
    fn index(&self, index: usize) -> &T {
        match self.get(index) {
            Some(value) => value,
            None => index_failed(index),
        }
    }
}

#[cold]
#[inline(never)]
fn index_failed(index: usize) -> ! {
    panic!("ConcurrentVec: no element at index {index}")
}

impl<T: fmt::Debug> fmt::Debug for ConcurrentVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> Extend<T> for ConcurrentVec<T> {
    /// Pushes every item.
    ///
    /// # Panics
    /// As [`push`](ConcurrentVec::push).
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.extend([1, 2, 3]);
    /// assert_eq!(v.len(), 3);
    /// ```
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for value in iter {
            self.push(value);
        }
    }
}

impl<T> FromIterator<T> for ConcurrentVec<T> {
    /// A new vector holding the items.
    ///
    /// # Panics
    /// As [`push`](ConcurrentVec::push).
    ///
    /// ```
    /// let v: vmem::ConcurrentVec<_> = (0..5).collect();
    /// assert_eq!(v[4], 4);
    /// ```
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut vec = ConcurrentVec::new();
        vec.extend(iter);
        vec
    }
}

/// The elements of a [`ConcurrentVec`], from [`ConcurrentVec::iter`].
///
/// ```
/// let v = vmem::ConcurrentVec::new();
/// v.push("a");
/// let mut it: vmem::concurrent_vec::Iter<'_, &str> = v.iter();
/// assert_eq!(it.next(), Some(&"a"));
/// assert_eq!(it.next(), None);
/// ```
pub struct Iter<'a, T> {
    vec: &'a ConcurrentVec<T>,
    index: usize,
    end: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        while self.index < self.end {
            let index = self.index;
            self.index += 1;
            if let Some(value) = self.vec.get(index) {
                return Some(value);
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.end - self.index))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        while self.index < self.end {
            self.end -= 1;
            if let Some(value) = self.vec.get(self.end) {
                return Some(value);
            }
        }
        None
    }
}

impl<T> FusedIterator for Iter<'_, T> {}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter { vec: self.vec, index: self.index, end: self.end }
    }
}

impl<T: fmt::Debug> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl<'a, T> IntoIterator for &'a ConcurrentVec<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut ConcurrentVec<T> {
    type Item = &'a mut T;
    type IntoIter = core::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

/// The elements of a [`ConcurrentVec`] by value, from its `into_iter`.
///
/// ```
/// let v = vmem::ConcurrentVec::new();
/// v.push(String::from("a"));
/// v.push(String::from("b"));
/// let all: Vec<String> = v.into_iter().collect();
/// assert_eq!(all, ["a", "b"]);
/// ```
pub struct IntoIter<T> {
    /// Keeps the memory mapped until the iterator is dropped.
    _values: GrowRegion,
    values: *mut T,
    /// The elements not yet yielded are `[front, back)`.
    front: usize,
    back: usize,
}

// SAFETY: the iterator owns the remaining elements and their memory.
unsafe impl<T: Send> Send for IntoIter<T> {}
// SAFETY: `&IntoIter` gives no access to the elements.
unsafe impl<T: Sync> Sync for IntoIter<T> {}

impl<T> IntoIterator for ConcurrentVec<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(mut self) -> IntoIter<T> {
        let back = self.len_mut();
        let values = *self.values.get_mut();
        let state = self.state.get_mut();
        let values_region = mem::replace(&mut state.values, GrowRegion::new(0, 1, CommitMode::DEFAULT));
        // The vector now owns nothing: its drop does nothing.
        *self.next.0.get_mut() = 0;
        IntoIter { _values: values_region, values, front: 0, back }
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        // SAFETY: elements `[front, back)` are initialized and owned by the iterator; this
        // one is now outside that range, so it is read once.
        Some(unsafe { self.values.add(self.front - 1).read() })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl<T> DoubleEndedIterator for IntoIter<T> {
    fn next_back(&mut self) -> Option<T> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        // SAFETY: as in `next`.
        Some(unsafe { self.values.add(self.back).read() })
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}
impl<T> FusedIterator for IntoIter<T> {}

impl<T> Drop for IntoIter<T> {
    fn drop(&mut self) {
        let rest = ptr::slice_from_raw_parts_mut(self.values.wrapping_add(self.front), self.back - self.front);
        // SAFETY: the elements not yielded are owned by the iterator and dropped once, before
        // the reservation (a field) is released.
        unsafe { ptr::drop_in_place(rest) };
    }
}

impl<T> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntoIter").field("remaining", &(self.back - self.front)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_capacity_fails_every_push() {
        let v = ConcurrentVec::<u8>::with_max_capacity(0).unwrap();
        assert_eq!(v.try_push(1).unwrap_err().0, 1);
        assert_eq!(v.len(), 0);
    }

    #[test]
    fn flag_positions_permute_each_block() {
        for block in [0, FLAG_BLOCK, 7 * FLAG_BLOCK] {
            let mut seen = [false; FLAG_BLOCK];
            for index in block..block + FLAG_BLOCK {
                let position = flag_position(index);
                assert_eq!(position & !(FLAG_BLOCK - 1), block);
                assert!(!core::mem::replace(&mut seen[position - block], true));
            }
            // Neighbours publish on different cache lines.
            assert_ne!(flag_position(block) / 64, flag_position(block + 1) / 64);
        }
    }

    #[test]
    fn failed_pushes_give_their_index_back() {
        let v = ConcurrentVec::<u8>::with_max_capacity(2).unwrap();
        v.push(1);
        v.push(2);
        for _ in 0..100 {
            assert!(v.try_push(3).is_err());
        }
        assert_eq!(v.next.0.load(Ordering::Relaxed), 2);
    }
}
