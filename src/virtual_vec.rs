//! `VirtualVec`: a vector that grows in place and never moves its elements.
//!
//! A `VirtualVec<T>` reserves address space for its maximum capacity up front (64 GiB by
//! default on 64-bit systems: address space only, no memory) and commits pages as it grows.
//! Growing never copies: `&v[0]` and `v.as_ptr()` stay the same from the first push to the
//! last, so raw pointers into it stay valid as long as the element is there, and there is
//! no moment with two copies of the data (a `Vec` needs old + new capacity while it grows).
//!
//! Cost model:
//! - `push` is a compare, a write and an increment while there is committed room.
//! - Growing commits more pages: one system call, doubling the committed size each time
//!   (at least 64 KiB), so `n` pushes cost `O(log n)` system calls. First touch of each page
//!   is a page fault.
//! - [`shrink_to_fit`](VirtualVec::shrink_to_fit) decommits the pages past the last element:
//!   the memory goes back to the OS.
//! - Creating one with [`new`](VirtualVec::new) costs nothing; the reservation is made on the
//!   first push. [`with_max_capacity`](VirtualVec::with_max_capacity) reserves at once.
//!
//! ```
//! use vmem::VirtualVec;
//!
//! let mut v = VirtualVec::new();
//! v.push(1u64);
//! let first = v.as_ptr();
//! v.extend(2..=1_000_000);
//! assert_eq!(v.as_ptr(), first); // grew to 8 MB without moving
//! assert_eq!(v[999_999], 1_000_000);
//! ```

use alloc::vec::Vec;
use core::borrow::{Borrow, BorrowMut};
use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::ops::{Bound, Deref, DerefMut, Index, IndexMut, RangeBounds};
use core::ptr::{self, NonNull};
use core::slice::{self, SliceIndex};

use crate::{Error, ErrorKind, Reservation, Result};

/// Address space a [`VirtualVec::new`] may grow into: 64 GiB on 64-bit systems, 256 MiB on
/// others.
pub const DEFAULT_MAX_BYTES: usize = if usize::BITS >= 64 { 1 << 36 } else { 256 << 20 };
/// The smallest amount committed at once.
const MIN_COMMIT: usize = 64 << 10;

/// A vector in reserved address space that grows in place: see the [module docs](self).
pub struct VirtualVec<T> {
    /// The first element; dangling until the reservation exists (and always for ZSTs).
    ptr: NonNull<T>,
    len: usize,
    /// Elements that fit in committed memory.
    capacity: usize,
    max_capacity: usize,
    /// `None` until the first growth, and for zero-sized `T`.
    reservation: Option<Reservation>,
    _owns: PhantomData<T>,
}

// SAFETY: a `VirtualVec<T>` owns its `T`s like a `Vec<T>`; sending it sends them.
unsafe impl<T: Send> Send for VirtualVec<T> {}
// SAFETY: `&VirtualVec<T>` only gives `&T` access.
unsafe impl<T: Sync> Sync for VirtualVec<T> {}

impl<T> VirtualVec<T> {
    const IS_ZST: bool = mem::size_of::<T>() == 0;

    /// An empty vector that may grow to [`DEFAULT_MAX_BYTES`] of elements (`usize::MAX`
    /// for zero-sized types). Never fails and reserves nothing until the first push.
    ///
    /// ```
    /// let v: vmem::VirtualVec<u32> = vmem::VirtualVec::new();
    /// assert_eq!(v.max_capacity(), (64 << 30) / 4);
    /// ```
    pub const fn new() -> VirtualVec<T> {
        let max_capacity = if Self::IS_ZST { usize::MAX } else { DEFAULT_MAX_BYTES / mem::size_of::<T>() };
        VirtualVec::lazy(max_capacity)
    }

    const fn lazy(max_capacity: usize) -> VirtualVec<T> {
        VirtualVec {
            ptr: NonNull::dangling(),
            len: 0,
            capacity: if Self::IS_ZST { usize::MAX } else { 0 },
            max_capacity,
            reservation: None,
            _owns: PhantomData,
        }
    }

    /// An empty vector that can hold up to `max_capacity` elements; reserves the address
    /// space for them now (no memory).
    ///
    /// # Errors
    /// `InvalidArgument` when `max_capacity` is zero or its size in bytes overflows;
    /// `OutOfAddressSpace` when the OS cannot reserve that much.
    ///
    /// ```
    /// let v = vmem::VirtualVec::<u64>::with_max_capacity(1 << 30)?; // 8 GiB of address space
    /// assert_eq!(v.max_capacity(), 1 << 30);
    /// assert!(vmem::VirtualVec::<u64>::with_max_capacity(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity(max_capacity: usize) -> Result<VirtualVec<T>> {
        const OP: &str = "VirtualVec::with_max_capacity";
        if max_capacity == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the maximum capacity is zero"));
        }
        let mut v = VirtualVec::lazy(max_capacity);
        if !Self::IS_ZST {
            let bytes = max_capacity.checked_mul(mem::size_of::<T>()).ok_or(
                Error::new(ErrorKind::InvalidArgument, OP, "the maximum capacity in bytes overflows usize")
                    .sized(max_capacity),
            )?;
            v.reserve_address_space(bytes)?;
        }
        Ok(v)
    }

    fn reserve_address_space(&mut self, bytes: usize) -> Result<()> {
        let reservation = Reservation::new(bytes)?;
        // Alignment: a reservation starts on a page boundary, which suits any `T` whose
        // alignment is at most a page; larger alignments get an aligned reservation.
        let reservation = if mem::align_of::<T>() > crate::page_size() {
            drop(reservation);
            Reservation::with_alignment(bytes, mem::align_of::<T>())?
        } else {
            reservation
        };
        self.ptr = NonNull::new(reservation.as_ptr().cast::<T>()).ok_or(Error::new(
            ErrorKind::Os,
            "VirtualVec",
            "the OS returned a null reservation",
        ))?;
        self.reservation = Some(reservation);
        Ok(())
    }

    /// The number of elements.
    ///
    /// ```
    /// let v: vmem::VirtualVec<u8> = [1, 2, 3].into_iter().collect();
    /// assert_eq!(v.len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    ///
    /// ```
    /// assert!(vmem::VirtualVec::<u8>::new().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many elements fit in committed memory (pushing more commits more).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.push(1u8);
    /// assert!(v.capacity() >= 64 << 10);
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most elements this vector can ever hold.
    ///
    /// ```
    /// let v = vmem::VirtualVec::<u16>::with_max_capacity(1000)?;
    /// assert_eq!(v.max_capacity(), 1000);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn max_capacity(&self) -> usize {
        self.max_capacity
    }

    /// A pointer to the first element. It never changes while elements are added.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.push(0u32);
    /// let p = v.as_ptr();
    /// v.extend(0..100_000);
    /// assert_eq!(p, v.as_ptr());
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *const T {
        self.ptr.as_ptr()
    }

    /// A mutable pointer to the first element.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u32> = [1, 2].into_iter().collect();
    /// // SAFETY: index 1 is in bounds.
    /// unsafe { *v.as_mut_ptr().add(1) = 5 };
    /// assert_eq!(v[1], 5);
    /// ```
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The elements as a slice.
    ///
    /// ```
    /// let v: vmem::VirtualVec<u8> = [1, 2].into_iter().collect();
    /// assert_eq!(v.as_slice(), &[1, 2]);
    /// ```
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` elements are initialized; `ptr` is aligned and non-null.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The elements as a mutable slice.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2].into_iter().collect();
    /// v.as_mut_slice()[0] = 9;
    /// assert_eq!(v[0], 9);
    /// ```
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the access unique.
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Makes room for at least `additional` more elements (commits memory now).
    ///
    /// # Errors
    /// `OutOfMemory` when that would pass the maximum capacity or the OS refuses to commit.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u64>::new();
    /// v.try_reserve(1000)?;
    /// assert!(v.capacity() >= 1000);
    /// assert!(v.try_reserve(usize::MAX).is_err());
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        match self.len.checked_add(additional) {
            Some(needed) if needed <= self.capacity => Ok(()),
            Some(needed) => self.grow(needed),
            None => Err(self.full_error(additional)),
        }
    }

    /// Makes room for at least `additional` more elements.
    ///
    /// # Panics
    /// When [`try_reserve`](VirtualVec::try_reserve) fails.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u8>::new();
    /// v.reserve(10);
    /// assert!(v.capacity() >= 10);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        if let Err(e) = self.try_reserve(additional) {
            grow_failed(e)
        }
    }

    fn full_error(&self, wanted: usize) -> Error {
        Error::new(ErrorKind::OutOfMemory, "VirtualVec::grow", "the vector's maximum capacity is reached")
            .sized(wanted)
            .with_limit("max_capacity", self.max_capacity as u64)
    }

    /// Commits memory for at least `needed` elements.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, needed: usize) -> Result<()> {
        if needed > self.max_capacity {
            return Err(self.full_error(needed));
        }
        let size = mem::size_of::<T>();
        if self.reservation.is_none() {
            // `max_capacity * size` was checked by the constructors (or is the default).
            self.reserve_address_space(self.max_capacity * size)?;
        }
        let Some(reservation) = &self.reservation else { return Err(self.full_error(needed)) };
        let committed = self.capacity * size;
        let page = crate::page_size();
        // Double, at least MIN_COMMIT, at least what is needed, at most the reservation.
        let wanted = committed.saturating_mul(2).max(MIN_COMMIT).max(needed * size);
        let wanted = crate::align_up(wanted, page).unwrap_or(usize::MAX).min(reservation.len());
        let from = crate::align_down(committed, page).unwrap_or(0);
        reservation.commit(from, wanted - from)?;
        self.capacity = (wanted / size).min(self.max_capacity);
        Ok(())
    }

    /// Appends `value`, or gives it back with the error when the maximum capacity is
    /// reached or the OS refuses to commit memory.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(1)?;
    /// v.try_push('a').unwrap();
    /// let (value, err) = v.try_push('b').unwrap_err();
    /// assert_eq!((value, err.kind()), ('b', vmem::ErrorKind::OutOfMemory));
    /// # Ok::<(), vmem::Error>(())
    /// ```
    #[inline]
    pub fn try_push(&mut self, value: T) -> core::result::Result<(), (T, Error)> {
        if self.len == self.capacity {
            if let Err(e) = self.grow(self.len.saturating_add(1)) {
                return Err((value, e));
            }
        }
        // SAFETY: `len < capacity`, so the slot is committed, in bounds and unused.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Appends `value`.
    ///
    /// # Panics
    /// When [`try_push`](VirtualVec::try_push) fails.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.push("x");
    /// assert_eq!(v, ["x"]);
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) {
        if self.len == self.capacity {
            if let Err(e) = self.grow(self.len.saturating_add(1)) {
                grow_failed(e)
            }
        }
        // SAFETY: `len < capacity`, so the slot is committed, in bounds and unused.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
    }

    /// Removes and returns the last element.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2].into_iter().collect();
    /// assert_eq!(v.pop(), Some(2));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: the element at the old last index is initialized and now outside `len`.
        Some(unsafe { self.ptr.as_ptr().add(self.len).read() })
    }

    /// Inserts `value` at `index`, shifting later elements up, or gives it back with the
    /// error.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 3].into_iter().collect();
    /// v.try_insert(1, 2).unwrap();
    /// assert_eq!(v, [1, 2, 3]);
    /// assert!(v.try_insert(9, 0).is_err());
    /// ```
    pub fn try_insert(&mut self, index: usize, value: T) -> core::result::Result<(), (T, Error)> {
        if index > self.len {
            let e = Error::new(ErrorKind::OutOfBounds, "VirtualVec::insert", "the index is past the end")
                .sized(index)
                .with_limit("len", self.len as u64);
            return Err((value, e));
        }
        if self.len == self.capacity {
            if let Err(e) = self.grow(self.len.saturating_add(1)) {
                return Err((value, e));
            }
        }
        // SAFETY: `index <= len < capacity`: the shifted range and the slot are committed.
        unsafe {
            let at = self.ptr.as_ptr().add(index);
            ptr::copy(at, at.add(1), self.len - index);
            at.write(value);
        }
        self.len += 1;
        Ok(())
    }

    /// Inserts `value` at `index`, shifting later elements up.
    ///
    /// # Panics
    /// When `index > len`, or growing fails.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 3].into_iter().collect();
    /// v.insert(1, 2);
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn insert(&mut self, index: usize, value: T) {
        if let Err((_, e)) = self.try_insert(index, value) {
            grow_failed(e)
        }
    }

    /// Removes and returns the element at `index`, shifting later elements down.
    ///
    /// # Panics
    /// When `index >= len`.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2, 3].into_iter().collect();
    /// assert_eq!(v.remove(0), 1);
    /// assert_eq!(v, [2, 3]);
    /// ```
    pub fn remove(&mut self, index: usize) -> T {
        assert!(index < self.len, "VirtualVec::remove: index {index} is out of bounds (len {})", self.len);
        // SAFETY: `index < len`: the element is initialized; the tail is moved over it.
        unsafe {
            let at = self.ptr.as_ptr().add(index);
            let value = at.read();
            ptr::copy(at.add(1), at, self.len - index - 1);
            self.len -= 1;
            value
        }
    }

    /// Removes and returns the element at `index`, replacing it with the last one.
    ///
    /// # Panics
    /// When `index >= len`.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2, 3].into_iter().collect();
    /// assert_eq!(v.swap_remove(0), 1);
    /// assert_eq!(v, [3, 2]);
    /// ```
    pub fn swap_remove(&mut self, index: usize) -> T {
        assert!(index < self.len, "VirtualVec::swap_remove: index {index} is out of bounds (len {})", self.len);
        // SAFETY: `index < len`; the last element moves into the hole.
        unsafe {
            let base = self.ptr.as_ptr();
            let value = base.add(index).read();
            self.len -= 1;
            if index != self.len {
                ptr::copy_nonoverlapping(base.add(self.len), base.add(index), 1);
            }
            value
        }
    }

    /// Keeps the first `len` elements and drops the rest (memory stays committed).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2, 3].into_iter().collect();
    /// v.truncate(1);
    /// assert_eq!(v, [1]);
    /// ```
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let tail = ptr::slice_from_raw_parts_mut(
            // SAFETY: `len < self.len`, so the offset is in bounds.
            unsafe { self.ptr.as_ptr().add(len) },
            self.len - len,
        );
        // Set the length first: if a drop panics, the rest is leaked, not dropped twice.
        self.len = len;
        // SAFETY: the tail elements are initialized and no longer part of the vector.
        unsafe { ptr::drop_in_place(tail) };
    }

    /// Drops every element (memory stays committed: see
    /// [`shrink_to_fit`](VirtualVec::shrink_to_fit)).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2].into_iter().collect();
    /// v.clear();
    /// assert!(v.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Decommits the pages past the last element, so their memory goes back to the OS.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u64> = (0..1_000_000).collect();
    /// v.truncate(10);
    /// v.shrink_to_fit();
    /// assert!(v.capacity() < 1_000);
    /// assert_eq!(v[9], 9);
    /// ```
    pub fn shrink_to_fit(&mut self) {
        let size = mem::size_of::<T>();
        let Some(reservation) = &self.reservation else { return };
        let page = crate::page_size();
        let keep = crate::align_up(self.len * size, page).unwrap_or(usize::MAX);
        let committed = crate::align_up(self.capacity * size, page).unwrap_or(usize::MAX).min(reservation.len());
        // Decommit cannot fail for committed pages of our reservation; if it ever did,
        // keeping them committed is still correct.
        if committed > keep && reservation.decommit(keep, committed - keep).is_ok() {
            self.capacity = keep / size;
        }
    }

    /// Appends clones of every element of `items`, or returns the error (having appended
    /// nothing) when the room cannot be made.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(3)?;
    /// v.try_extend_from_slice(&[1, 2])?;
    /// assert!(v.try_extend_from_slice(&[3, 4]).is_err());
    /// assert_eq!(v, [1, 2]);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_extend_from_slice(&mut self, items: &[T]) -> Result<()>
    where
        T: Clone,
    {
        self.try_reserve(items.len())?;
        for item in items {
            // SAFETY: `try_reserve` made room for all of `items`; `len` grows one at a
            // time, so a panicking `clone` leaves a consistent vector.
            unsafe { self.ptr.as_ptr().add(self.len).write(item.clone()) };
            self.len += 1;
        }
        Ok(())
    }

    /// Appends clones of every element of `items`.
    ///
    /// # Panics
    /// When growing fails.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.extend_from_slice(&[1, 2, 3]);
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn extend_from_slice(&mut self, items: &[T])
    where
        T: Clone,
    {
        if let Err(e) = self.try_extend_from_slice(items) {
            grow_failed(e)
        }
    }

    /// Keeps only the elements for which `keep` returns `true`, in order. If `keep` or a
    /// drop panics, the vector stays valid (no element is dropped twice).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u32> = (0..10).collect();
    /// v.retain(|x| x % 3 == 0);
    /// assert_eq!(v, [0, 3, 6, 9]);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.retain_mut(|x| keep(x));
    }

    /// Like [`retain`](VirtualVec::retain), with mutable access to each element.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u32> = (0..5).collect();
    /// v.retain_mut(|x| { *x *= 2; *x > 2 });
    /// assert_eq!(v, [4, 6, 8]);
    /// ```
    pub fn retain_mut(&mut self, mut keep: impl FnMut(&mut T) -> bool) {
        /// Closes the gap of removed elements even when `keep` or a drop panics.
        struct Gap<'a, T> {
            vec: &'a mut VirtualVec<T>,
            processed: usize,
            removed: usize,
            original_len: usize,
        }
        impl<T> Drop for Gap<'_, T> {
            fn drop(&mut self) {
                if self.removed > 0 {
                    // SAFETY: `[processed, original_len)` are initialized elements not yet
                    // looked at; they move down over the `removed` holes.
                    unsafe {
                        let base = self.vec.ptr.as_ptr();
                        ptr::copy(
                            base.add(self.processed),
                            base.add(self.processed - self.removed),
                            self.original_len - self.processed,
                        );
                    }
                }
                self.vec.len = self.original_len - self.removed;
            }
        }
        let original_len = self.len;
        // While the loop runs the vector is empty to the outside: a panic leaves the guard
        // to restore a consistent length.
        self.len = 0;
        let mut gap = Gap { vec: self, processed: 0, removed: 0, original_len };
        while gap.processed < original_len {
            // SAFETY: `processed < original_len`: an initialized element not yet looked at.
            let current = unsafe { &mut *gap.vec.ptr.as_ptr().add(gap.processed) };
            if keep(current) {
                if gap.removed > 0 {
                    // SAFETY: the target is a hole left by a removed element.
                    unsafe {
                        let base = gap.vec.ptr.as_ptr();
                        ptr::copy_nonoverlapping(base.add(gap.processed), base.add(gap.processed - gap.removed), 1);
                    }
                }
                gap.processed += 1;
            } else {
                // Count it as removed before dropping it: a panicking drop must not lead
                // to a second drop.
                gap.processed += 1;
                gap.removed += 1;
                // SAFETY: the element is initialized and now counted as removed.
                unsafe { ptr::drop_in_place(current) };
            }
        }
    }

    /// Removes the elements in `range` and returns them as an iterator. Elements the
    /// iterator does not yield are dropped when it is dropped; the tail then moves down.
    ///
    /// # Panics
    /// When the range is out of bounds or decreasing.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = [1, 2, 3, 4, 5].into_iter().collect();
    /// let middle: Vec<u8> = v.drain(1..4).collect();
    /// assert_eq!(middle, [2, 3, 4]);
    /// assert_eq!(v, [1, 5]);
    /// ```
    pub fn drain(&mut self, range: impl RangeBounds<usize>) -> Drain<'_, T> {
        let len = self.len;
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.checked_add(1).expect("VirtualVec::drain: range start overflows"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.checked_add(1).expect("VirtualVec::drain: range end overflows"),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => len,
        };
        assert!(start <= end && end <= len, "VirtualVec::drain: range {start}..{end} is out of bounds (len {len})");
        // Until the drain is dropped, the vector ends at `start`: leaking the drain leaks
        // the drained and tail elements instead of exposing moved-out ones.
        self.len = start;
        Drain { vec: self, next: start, end, tail_start: end, tail_len: len - end }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn grow_failed(e: Error) -> ! {
    panic!("VirtualVec: {e}")
}

/// The iterator of [`VirtualVec::drain`].
pub struct Drain<'a, T> {
    vec: &'a mut VirtualVec<T>,
    next: usize,
    end: usize,
    tail_start: usize,
    tail_len: usize,
}

impl<T> Iterator for Drain<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: `[next, end)` are initialized elements not yet yielded.
        let value = unsafe { self.vec.ptr.as_ptr().add(self.next).read() };
        self.next += 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl<T> DoubleEndedIterator for Drain<'_, T> {
    fn next_back(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        self.end -= 1;
        // SAFETY: as in `next`.
        Some(unsafe { self.vec.ptr.as_ptr().add(self.end).read() })
    }
}

impl<T> ExactSizeIterator for Drain<'_, T> {}
impl<T> FusedIterator for Drain<'_, T> {}

impl<T> Drop for Drain<'_, T> {
    fn drop(&mut self) {
        /// Moves the tail down even if dropping an unyielded element panics.
        struct MoveTail<'b, 'a, T>(&'b mut Drain<'a, T>);
        impl<T> Drop for MoveTail<'_, '_, T> {
            fn drop(&mut self) {
                let drain = &mut *self.0;
                let start = drain.vec.len;
                // SAFETY: the tail is initialized; it moves down to follow the kept head.
                unsafe {
                    let base = drain.vec.ptr.as_ptr();
                    ptr::copy(base.add(drain.tail_start), base.add(start), drain.tail_len);
                }
                drain.vec.len = start + drain.tail_len;
            }
        }
        let guard = MoveTail(self);
        let remaining = ptr::slice_from_raw_parts_mut(
            // SAFETY: `next <= end <= tail_start`: in bounds.
            unsafe { guard.0.vec.ptr.as_ptr().add(guard.0.next) },
            guard.0.end - guard.0.next,
        );
        guard.0.next = guard.0.end;
        // SAFETY: the elements not yielded are initialized and dropped exactly once here.
        unsafe { ptr::drop_in_place(remaining) };
    }
}

impl<T> Drop for VirtualVec<T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` elements are initialized and dropped once; the
        // reservation is released afterwards by its own drop.
        unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len)) };
    }
}

impl<T> Default for VirtualVec<T> {
    fn default() -> VirtualVec<T> {
        VirtualVec::new()
    }
}

impl<T> Deref for VirtualVec<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T> DerefMut for VirtualVec<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        self.as_mut_slice()
    }
}

impl<T, I: SliceIndex<[T]>> Index<I> for VirtualVec<T> {
    type Output = I::Output;

    #[inline]
    fn index(&self, index: I) -> &I::Output {
        &self.as_slice()[index]
    }
}

impl<T, I: SliceIndex<[T]>> IndexMut<I> for VirtualVec<T> {
    #[inline]
    fn index_mut(&mut self, index: I) -> &mut I::Output {
        &mut self.as_mut_slice()[index]
    }
}

impl<T> AsRef<[T]> for VirtualVec<T> {
    fn as_ref(&self) -> &[T] {
        self
    }
}

impl<T> AsMut<[T]> for VirtualVec<T> {
    fn as_mut(&mut self) -> &mut [T] {
        self
    }
}

impl<T> Borrow<[T]> for VirtualVec<T> {
    fn borrow(&self) -> &[T] {
        self
    }
}

impl<T> BorrowMut<[T]> for VirtualVec<T> {
    fn borrow_mut(&mut self) -> &mut [T] {
        self
    }
}

impl<T> Extend<T> for VirtualVec<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        let (lower, _) = iter.size_hint();
        // A hint only: reserving fails for absurd hints, and pushing finds out for real.
        let _ = self.try_reserve(lower);
        for value in iter {
            self.push(value);
        }
    }
}

impl<'a, T: Copy + 'a> Extend<&'a T> for VirtualVec<T> {
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl<T> FromIterator<T> for VirtualVec<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> VirtualVec<T> {
        let mut v = VirtualVec::new();
        v.extend(iter);
        v
    }
}

impl<T: Clone> Clone for VirtualVec<T> {
    fn clone(&self) -> VirtualVec<T> {
        let mut v = VirtualVec::lazy(self.max_capacity);
        v.extend_from_slice(self);
        v
    }
}

impl<T: fmt::Debug> fmt::Debug for VirtualVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl<T: Hash> Hash for VirtualVec<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl<T: PartialEq<U>, U> PartialEq<VirtualVec<U>> for VirtualVec<T> {
    fn eq(&self, other: &VirtualVec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for VirtualVec<T> {}

impl<T: PartialEq<U>, U> PartialEq<[U]> for VirtualVec<T> {
    fn eq(&self, other: &[U]) -> bool {
        self.as_slice() == other
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<[U; N]> for VirtualVec<T> {
    fn eq(&self, other: &[U; N]) -> bool {
        self.as_slice() == other
    }
}

impl<T: PartialEq<U>, U> PartialEq<Vec<U>> for VirtualVec<T> {
    fn eq(&self, other: &Vec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialOrd> PartialOrd for VirtualVec<T> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        self.as_slice().partial_cmp(other.as_slice())
    }
}

impl<T: Ord> Ord for VirtualVec<T> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl<'a, T> IntoIterator for &'a VirtualVec<T> {
    type Item = &'a T;
    type IntoIter = slice::Iter<'a, T>;

    fn into_iter(self) -> slice::Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut VirtualVec<T> {
    type Item = &'a mut T;
    type IntoIter = slice::IterMut<'a, T>;

    fn into_iter(self) -> slice::IterMut<'a, T> {
        self.iter_mut()
    }
}

impl<T> IntoIterator for VirtualVec<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    /// ```
    /// let v: vmem::VirtualVec<String> = ["a".to_string(), "b".to_string()].into_iter().collect();
    /// let owned: Vec<String> = v.into_iter().collect();
    /// assert_eq!(owned, ["a", "b"]);
    /// ```
    fn into_iter(self) -> IntoIter<T> {
        let end = self.len;
        // The iterator takes over the elements; the vector no longer drops them.
        let mut vec = ManuallyDrop::new(self);
        vec.len = 0;
        // SAFETY: `vec` is never used or dropped again except through `IntoIter`, which
        // drops the reservation (taken out here) and the remaining elements.
        let reservation = unsafe { ptr::read(&vec.reservation) };
        IntoIter { ptr: vec.ptr, next: 0, end, _reservation: reservation, _owns: PhantomData }
    }
}

/// The owning iterator of a [`VirtualVec`].
pub struct IntoIter<T> {
    ptr: NonNull<T>,
    next: usize,
    end: usize,
    /// Keeps the memory mapped until the iterator is dropped.
    _reservation: Option<Reservation>,
    _owns: PhantomData<T>,
}

// SAFETY: owns its remaining `T`s, as the vector did.
unsafe impl<T: Send> Send for IntoIter<T> {}
// SAFETY: `&IntoIter` gives no access to the elements.
unsafe impl<T: Sync> Sync for IntoIter<T> {}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: `[next, end)` are initialized elements not yet yielded.
        let value = unsafe { self.ptr.as_ptr().add(self.next).read() };
        self.next += 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl<T> DoubleEndedIterator for IntoIter<T> {
    fn next_back(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        self.end -= 1;
        // SAFETY: as in `next`.
        Some(unsafe { self.ptr.as_ptr().add(self.end).read() })
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}
impl<T> FusedIterator for IntoIter<T> {}

impl<T> Drop for IntoIter<T> {
    fn drop(&mut self) {
        let remaining = ptr::slice_from_raw_parts_mut(
            // SAFETY: `next <= end`, in bounds of the old vector.
            unsafe { self.ptr.as_ptr().add(self.next) },
            self.end - self.next,
        );
        self.next = self.end;
        // SAFETY: the elements not yielded are initialized and dropped once, before the
        // reservation field is dropped.
        unsafe { ptr::drop_in_place(remaining) };
    }
}
