//! `ConcurrentVec`: an append-only vector that many threads push to at once.
//!
//! One reservation holds every slot, committed in steps as the vector grows, so elements
//! never move: a `&T` from [`get`](ConcurrentVec::get) stays valid while other threads keep
//! pushing. A push claims an index with one atomic add, writes the value and publishes it
//! with a release store; a reader sees an element once the push that wrote it returned.
//!
//! Cost model: a push is a `fetch_add`, a write and a store, lock-free; once per commit step
//! (the committed part doubles, at least 64 KiB) one pushing thread commits more under a
//! short lock while the others wait for it. `get` is two loads.
//!
//! ```
//! use vmem::ConcurrentVec;
//!
//! let v = ConcurrentVec::new();
//! std::thread::scope(|s| {
//!     for t in 0..4u64 {
//!         let v = &v;
//!         s.spawn(move || {
//!             for i in 0..1000 {
//!                 v.push(t * 1000 + i);
//!             }
//!         });
//!     }
//! });
//! assert_eq!(v.len(), 4000);
//! let mut all: Vec<u64> = v.iter().copied().collect();
//! all.sort();
//! assert!(all.into_iter().eq(0..4000));
//! ```

use core::cell::UnsafeCell;
use core::fmt;
use core::mem::{self, MaybeUninit};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use crate::virtual_vec::DEFAULT_MAX_BYTES;
use crate::{Error, ErrorKind, Reservation, Result};

/// The smallest amount committed at once.
const MIN_COMMIT: usize = 64 << 10;

struct Slot<T> {
    /// Set (release) once `value` is written.
    ready: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// An append-only vector shared between threads: see the [module docs](self).
pub struct ConcurrentVec<T> {
    /// The first slot; null until the first push reserves the address space.
    slots: AtomicPtr<Slot<T>>,
    /// Indices handed out so far (may run past `max_capacity` after failed pushes).
    claimed: AtomicUsize,
    /// Slots in committed memory.
    committed: AtomicUsize,
    /// Pushes that completed.
    completed: AtomicUsize,
    max_capacity: usize,
    /// Owned by the vector; written once, under `lock`.
    reservation: UnsafeCell<Option<Reservation>>,
    lock: AtomicBool,
}

// SAFETY: the vector owns its `T`s; sending it sends them.
unsafe impl<T: Send> Send for ConcurrentVec<T> {}
// SAFETY: shared access pushes `T`s from any thread (needs `T: Send`) and hands out `&T` to
// any thread (needs `T: Sync`). Slots are written once, before their `ready` flag is
// released, and never moved; the reservation is written once under `lock`.
unsafe impl<T: Send + Sync> Sync for ConcurrentVec<T> {}

impl<T> ConcurrentVec<T> {
    /// An empty vector that may grow to 64 GiB of slots (on 64-bit systems). Never fails;
    /// reserves nothing until the first push.
    ///
    /// ```
    /// let v: vmem::ConcurrentVec<u32> = vmem::ConcurrentVec::new();
    /// assert!(v.is_empty());
    /// ```
    pub const fn new() -> ConcurrentVec<T> {
        ConcurrentVec::lazy(DEFAULT_MAX_BYTES / mem::size_of::<Slot<T>>())
    }

    const fn lazy(max_capacity: usize) -> ConcurrentVec<T> {
        ConcurrentVec {
            slots: AtomicPtr::new(ptr::null_mut()),
            claimed: AtomicUsize::new(0),
            committed: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            max_capacity,
            reservation: UnsafeCell::new(None),
            lock: AtomicBool::new(false),
        }
    }

    /// An empty vector of at most `max_capacity` elements; reserves the address space now.
    ///
    /// # Errors
    /// `InvalidArgument` when `max_capacity` is zero or its size in bytes overflows;
    /// `OutOfAddressSpace` when the OS cannot reserve it.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::<u64>::with_max_capacity(1 << 20)?;
    /// assert_eq!(v.max_capacity(), 1 << 20);
    /// assert!(vmem::ConcurrentVec::<u64>::with_max_capacity(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity(max_capacity: usize) -> Result<ConcurrentVec<T>> {
        const OP: &str = "ConcurrentVec::with_max_capacity";
        if max_capacity == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the maximum capacity is zero"));
        }
        let bytes = max_capacity.checked_mul(mem::size_of::<Slot<T>>()).ok_or(
            Error::new(ErrorKind::InvalidArgument, OP, "the maximum capacity in bytes overflows usize")
                .sized(max_capacity),
        )?;
        let v = ConcurrentVec::lazy(max_capacity);
        let reservation = Reservation::new(bytes)?;
        v.slots.store(reservation.as_ptr().cast(), Ordering::Release);
        // SAFETY: nobody else can see `v` yet.
        unsafe { *v.reservation.get() = Some(reservation) };
        Ok(v)
    }

    /// The number of completed pushes.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// v.push('a');
    /// assert_eq!(v.len(), 1);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.completed.load(Ordering::Acquire)
    }

    /// Whether no push has completed.
    ///
    /// ```
    /// assert!(vmem::ConcurrentVec::<u8>::new().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most elements this vector can hold.
    ///
    /// ```
    /// assert_eq!(vmem::ConcurrentVec::<u8>::with_max_capacity(9)?.max_capacity(), 9);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn max_capacity(&self) -> usize {
        self.max_capacity
    }

    /// Appends `value` and returns its index, or gives the value back with the error when
    /// the maximum is reached or the OS refuses memory. A failed push may leave its index
    /// empty for good (`get` returns `None` there; `iter` skips it).
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::with_max_capacity(1)?;
    /// assert_eq!(v.try_push(10).unwrap(), 0);
    /// let (value, err) = v.try_push(11).unwrap_err();
    /// assert_eq!((value, err.kind()), (11, vmem::ErrorKind::OutOfMemory));
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_push(&self, value: T) -> core::result::Result<usize, (T, Error)> {
        if self.claimed.load(Ordering::Relaxed) >= self.max_capacity {
            return Err((value, self.full_error()));
        }
        let index = self.claimed.fetch_add(1, Ordering::Relaxed);
        if index >= self.max_capacity {
            return Err((value, self.full_error()));
        }
        if index >= self.committed.load(Ordering::Acquire) {
            if let Err(e) = self.grow(index) {
                return Err((value, e));
            }
        }
        let base = self.slots.load(Ordering::Acquire);
        // SAFETY: `index` is committed (checked above, or `grow` made it so), so `base` is
        // the non-null start of the reservation; this thread alone claimed the slot.
        unsafe {
            let slot = &*base.add(index);
            (*slot.value.get()).write(value);
            slot.ready.store(true, Ordering::Release);
        }
        self.completed.fetch_add(1, Ordering::Release);
        Ok(index)
    }

    /// Appends `value` and returns its index.
    ///
    /// # Panics
    /// When [`try_push`](ConcurrentVec::try_push) fails.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// assert_eq!(v.push("x"), 0);
    /// assert_eq!(v.push("y"), 1);
    /// ```
    pub fn push(&self, value: T) -> usize {
        match self.try_push(value) {
            Ok(i) => i,
            Err((_, e)) => push_failed(e),
        }
    }

    fn full_error(&self) -> Error {
        Error::new(ErrorKind::OutOfMemory, "ConcurrentVec::push", "the vector's maximum capacity is reached")
            .with_limit("max_capacity", self.max_capacity as u64)
    }

    /// Commits memory until slot `index` is committed.
    #[cold]
    #[inline(never)]
    fn grow(&self, index: usize) -> Result<()> {
        let _guard = self.lock();
        // SAFETY: the reservation is only written under the lock, which we hold.
        let reservation = unsafe { &mut *self.reservation.get() };
        let size = mem::size_of::<Slot<T>>();
        if reservation.is_none() {
            let new = Reservation::new(self.max_capacity * size)?;
            self.slots.store(new.as_ptr().cast(), Ordering::Release);
            *reservation = Some(new);
        }
        let Some(reservation) = reservation.as_ref() else { return Err(self.full_error()) };
        let page = crate::page_size();
        let mut committed = self.committed.load(Ordering::Relaxed);
        while index >= committed {
            let from = crate::align_down(committed * size, page).unwrap_or(0);
            let wanted = (committed * size).saturating_mul(2).max(MIN_COMMIT);
            let wanted = crate::align_up(wanted, page).unwrap_or(usize::MAX).min(reservation.len());
            reservation.commit(from, wanted - from)?;
            committed = (wanted / size).min(self.max_capacity);
            // Release: a thread that sees the new count also sees committed pages.
            self.committed.store(committed, Ordering::Release);
        }
        Ok(())
    }

    fn lock(&self) -> LockGuard<'_> {
        let mut spins = 0u32;
        while self.lock.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                #[cfg(feature = "std")]
                std::thread::yield_now();
                #[cfg(not(feature = "std"))]
                core::hint::spin_loop();
            }
        }
        LockGuard(&self.lock)
    }

    /// The element at `index`, once the push that wrote it has returned; `None` before, and
    /// past the end.
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// let i = v.push(7);
    /// assert_eq!(v.get(i), Some(&7));
    /// assert_eq!(v.get(i + 1), None);
    /// ```
    #[inline]
    pub fn get(&self, index: usize) -> Option<&T> {
        if index >= self.committed.load(Ordering::Acquire) {
            return None;
        }
        let base = self.slots.load(Ordering::Acquire);
        // SAFETY: slot `index` is committed (committed pages read zero, i.e. `ready` false,
        // until written); once `ready` is seen (acquire) the value is initialized and is
        // never written again or moved while `&self` lives.
        unsafe {
            let slot = &*base.add(index);
            if slot.ready.load(Ordering::Acquire) {
                Some((*slot.value.get()).assume_init_ref())
            } else {
                None
            }
        }
    }

    /// The element at `index`, mutably.
    ///
    /// ```
    /// let mut v = vmem::ConcurrentVec::new();
    /// v.push(1);
    /// *v.get_mut(0).unwrap() = 2;
    /// assert_eq!(v.get(0), Some(&2));
    /// ```
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index >= *self.committed.get_mut() {
            return None;
        }
        let base = *self.slots.get_mut();
        // SAFETY: slot `index` is committed; `&mut self` makes the access unique, and a
        // ready slot holds an initialized value.
        unsafe {
            let slot = &mut *base.add(index);
            if *slot.ready.get_mut() {
                Some(slot.value.get_mut().assume_init_mut())
            } else {
                None
            }
        }
    }

    /// The published elements in index order (skipping pushes still in progress).
    ///
    /// ```
    /// let v = vmem::ConcurrentVec::new();
    /// v.push(1);
    /// v.push(2);
    /// assert_eq!(v.iter().sum::<i32>(), 3);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let end = self.claimed.load(Ordering::Acquire).min(self.max_capacity);
        (0..end).filter_map(move |i| self.get(i))
    }
}

/// Holds the growth lock; releases it on drop.
struct LockGuard<'a>(&'a AtomicBool);

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn push_failed(e: Error) -> ! {
    panic!("ConcurrentVec: {e}")
}

impl<T> Drop for ConcurrentVec<T> {
    fn drop(&mut self) {
        if !mem::needs_drop::<T>() {
            return;
        }
        let committed = *self.committed.get_mut();
        let base = *self.slots.get_mut();
        for index in 0..committed.min(*self.claimed.get_mut()) {
            // SAFETY: slot `index` is committed; a ready slot holds an initialized value,
            // dropped once here (`&mut self`: no push is in progress).
            unsafe {
                let slot = &mut *base.add(index);
                if *slot.ready.get_mut() {
                    slot.value.get_mut().assume_init_drop();
                }
            }
        }
    }
}

impl<T> Default for ConcurrentVec<T> {
    fn default() -> ConcurrentVec<T> {
        ConcurrentVec::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for ConcurrentVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
