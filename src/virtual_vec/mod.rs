//! `VirtualVec`: a growable vector on reserved address space whose elements never move.
//!
//! A `Vec` grows by allocating a larger buffer and moving its elements there, so every
//! pointer into it dies at each growth, and for a moment both buffers are alive. A
//! [`VirtualVec`] instead reserves address space for its whole
//! [`max_capacity`](VirtualVec::max_capacity) up front ([`DEFAULT_RESERVE_BYTES`] by default,
//! which costs no memory) and commits pages at the end as it grows. The buffer never moves:
//! the element at index 0 has the same address for the life of the vector, growth never
//! copies, and memory use follows the length.
//!
//! Use it for a few large vectors that grow while raw pointers into them are kept (an
//! interpreter's value stack, a log of records handed to other code by address), or whose
//! final size is unknown but may be large. For many small vectors a `Vec` is better: each
//! `VirtualVec` holds its maximum in address space (about 2000 default vectors fill the
//! 128 TiB of an x86-64 process).
//!
//! # Cost model
//!
//! - [`push`](VirtualVec::push), [`pop`](VirtualVec::pop), indexing: a compare, a load or
//!   store and an increment, as for `Vec`; no system call on this path.
//! - Growth past the committed [`capacity`](VirtualVec::capacity): one `commit` system call
//!   that at least doubles the committed bytes (at least 64 KiB, whole pages), so pushes are
//!   amortized O(1) with about log2(size / 64 KiB) system calls in all. Nothing is copied.
//! - First growth of a vector made by [`new`](VirtualVec::new): a region from the
//!   [warm cache](crate::cache) (no system call, and the memory a dropped structure left
//!   there is already faulted in), or else one `reserve` system call. Past 4 MiB the vector
//!   uses transparent huge pages.
//! - First touch of each page: once the vector holds 256 KiB, `push` faults the next 128 KiB
//!   in with one system call (`MADV_POPULATE_WRITE` on Linux) instead of a page fault per
//!   page, and `extend_from_slice` of 256 KiB or more does so for what it copies; below
//!   that, one page fault per page, as for `Vec`. Only touched pages, and at most those
//!   128 KiB ahead, are resident.
//! - [`truncate`](VirtualVec::truncate), [`clear`](VirtualVec::clear): drop the elements;
//!   memory stays committed for reuse. [`shrink_to_fit`](VirtualVec::shrink_to_fit): one
//!   `decommit` system call that really returns memory (and commit charge) to the OS.
//! - [`with_capacity`](VirtualVec::with_capacity): a region from the warm cache or one
//!   `reserve`, and one `commit` of what is asked. [`shrink_to`](VirtualVec::shrink_to):
//!   one `decommit`, as `shrink_to_fit`.
//! - [`split_off`](VirtualVec::split_off), [`append`](VirtualVec::append), and the
//!   conversions from `Vec`, arrays and slices: one copy of the elements that change vector
//!   (so their addresses change, once), plus growth as for `push`; `split_off` gets the new
//!   vector a region (from the warm cache, or one `reserve`). Into a `Vec`: one heap
//!   allocation and one copy.
//! - [`resize`](VirtualVec::resize), [`splice`](VirtualVec::splice),
//!   [`extend_from_within`](VirtualVec::extend_from_within), [`dedup`](VirtualVec::dedup),
//!   [`extract_if`](VirtualVec::extract_if): the element moves of `Vec`'s versions, in place;
//!   growth as for `push`. [`leak`](VirtualVec::leak): no system call; the reservation stays
//!   for the rest of the program.
//! - Drop: drops the elements and gives the region, with its committed memory, to the
//!   [warm cache](crate::cache) (no system call; beyond the cache's bound, one `decommit` or
//!   `release`). So a vector built and dropped in a loop finds its memory faulted in, as a
//!   `Vec` does on `malloc`'s retained heap.
//!
//! Zero-sized types need no memory: such a vector never reserves anything and its maximum
//! is `usize::MAX` elements (or what [`with_max_capacity`](VirtualVec::with_max_capacity)
//! says).
//!
//! # Errors and panics
//!
//! Methods that can fail come in pairs, as in `Vec`: [`push`](VirtualVec::push) panics when
//! the maximum capacity is reached or the OS refuses memory, and
//! [`try_push`](VirtualVec::try_push) returns an [`Error`] and gives the value back. Index
//! errors panic like `Vec`'s, and their `try_` forms return [`ErrorKind::OutOfBounds`].
//!
//! ```
//! use vmem::VirtualVec;
//!
//! let mut v = VirtualVec::new();
//! v.push(1u64);
//! let first = v.as_ptr();
//! v.extend(2..=1_000_000);
//! assert_eq!(v.as_ptr(), first); // growth never moved the elements
//! assert_eq!(v[999_999], 1_000_000);
//! v.truncate(10);
//! v.shrink_to_fit(); // decommits what the 10 elements do not need
//! assert!(v.committed_bytes() <= vmem::page_size());
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem;
use core::ops::{Bound, Deref, DerefMut, Index, IndexMut, RangeBounds};
use core::ptr::{self, NonNull};
use core::slice::{self, SliceIndex};

use crate::raw::page::page_round_up;
use crate::region::{CommitMode, GrowRegion, DEFAULT_RESERVE_BYTES};
use crate::sync::failed;
use crate::{Error, ErrorKind, Result};

mod cmp;
mod convert;
mod drain;
mod extract_if;
mod into_iter;
#[cfg(feature = "serde")]
mod serde;
mod splice;

pub use drain::Drain;
pub use extract_if::ExtractIf;
pub use into_iter::IntoIter;
pub use splice::Splice;

/// The smallest commit step.
const MIN_COMMIT_BYTES: usize = 64 << 10;
/// From this many bytes of elements on, `push` faults the pages ahead of it in batches.
const PREFAULT_FROM_BYTES: usize = 256 << 10;
/// How far ahead `push` faults pages in: at most this much memory is resident beyond the
/// elements.
const PREFAULT_BYTES: usize = 128 << 10;
/// No slice may be larger than this.
const MAX_SLICE_BYTES: usize = isize::MAX as usize;

/// A growable vector whose elements never move.
///
/// It reserves address space for [`max_capacity`](VirtualVec::max_capacity) elements (on the
/// first growth for [`new`](VirtualVec::new)) and commits pages at the end as it grows, so
/// growth never copies and [`as_ptr`](VirtualVec::as_ptr) never changes. What each call
/// costs is in the [module docs](self#cost-model).
///
/// It has `Vec`'s stable methods that do not depend on an allocator (`push`, `insert`,
/// `retain`, `drain`, `splice`, `extract_if`, `dedup`, `resize`, `split_off`, `append`,
/// `extend_from_within`, `spare_capacity_mut`, `leak`…, with `try_` forms returning
/// [`Error`] where `Vec` would panic or abort on memory), dereferences to a slice (so `iter`,
/// `sort`, `binary_search`, `first`, `windows`… all work), and implements the same traits:
/// `Extend`, `FromIterator`, `IntoIterator` (owned, `&`, `&mut`), `Clone`, `Debug`,
/// `PartialEq`, `Eq`, `PartialOrd`, `Ord`, `Hash` (equal to the slice's, like `Vec`),
/// `Index`, `Default`, `From` (`Vec<T>`, `&[T]`, `&mut [T]`, `[T; N]`, `&[T; N]`), `Into<Vec<T>>`,
/// `AsRef`/`AsMut` (`[T]` and itself), `Borrow`/`BorrowMut<[T]>`, `io::Write` for
/// `VirtualVec<u8>` (with `std`), `Serialize`/`Deserialize` (with the `serde` feature), and
/// `Send`/`Sync` when `T` is.
///
/// ```
/// use std::collections::HashSet;
/// use vmem::VirtualVec;
///
/// let mut v: VirtualVec<String> = ["b", "a"].iter().map(|s| s.to_string()).collect();
/// v.extend(["c".to_string()]);
/// v.sort();
/// assert_eq!(v, ["a", "b", "c"]);
/// assert_eq!(v[1], "b");
/// assert_eq!(v.clone(), v);
/// for s in &mut v {
///     s.push('!');
/// }
/// let owned: Vec<String> = v.into_iter().collect();
/// assert_eq!(owned, ["a!", "b!", "c!"]);
///
/// let set: HashSet<VirtualVec<u8>> = [VirtualVec::from_iter([1, 2])].into_iter().collect();
/// assert!(set.contains(&VirtualVec::from_iter([1, 2])));
/// ```
pub struct VirtualVec<T> {
    /// The first element: the base of the reservation, or dangling before it exists and for
    /// zero-sized types.
    ptr: NonNull<T>,
    /// Initialized elements, at the start of the buffer.
    len: usize,
    /// Elements that fit in the committed bytes (at most `max_capacity`); `max_capacity` for
    /// zero-sized types.
    capacity: usize,
    /// `push` takes its fast path below this many elements (at most `capacity`); at it, it
    /// faults in the next pages or grows (see [`VirtualVec::push_slow`]).
    push_limit: usize,
    /// The most elements the vector may hold. For sized types, `max_capacity * size_of::<T>()`
    /// never exceeds `isize::MAX`, and once reserved, the reservation holds them all.
    max_capacity: usize,
    /// The address space, reserved on first growth (never for zero-sized types), and its
    /// committed bytes.
    region: GrowRegion,
    /// The vector owns its elements.
    marker: PhantomData<T>,
}

// SAFETY: the vector owns its elements like `Vec<T>` and its reservation (which is `Send`);
// sending the vector sends the elements, which is fine when `T: Send`.
unsafe impl<T: Send> Send for VirtualVec<T> {}
// SAFETY: `&VirtualVec<T>` only gives `&T` access to elements (and reads of plain fields), so
// sharing it is fine when `T: Sync`.
unsafe impl<T: Sync> Sync for VirtualVec<T> {}

impl<T> VirtualVec<T> {
    const ELEMENT_SIZE: usize = mem::size_of::<T>();
    const IS_ZERO_SIZED: bool = Self::ELEMENT_SIZE == 0;

    /// An empty vector with a generous maximum: [`DEFAULT_RESERVE_BYTES`] worth of elements,
    /// `usize::MAX` elements for zero-sized types. Reserves nothing until the first element
    /// is added, so it never fails and costs nothing.
    ///
    /// If the OS then refuses that much address space (for example under `ulimit -v`), the
    /// vector reserves less, halving down to what it needs (at least 4 MiB), and
    /// [`max_capacity`](VirtualVec::max_capacity) reports what it got.
    ///
    /// ```
    /// let v = vmem::VirtualVec::<u64>::new();
    /// assert_eq!(v.reserved_bytes(), 0);
    /// assert_eq!(v.capacity(), 0);
    /// assert_eq!(v.max_capacity(), (64usize << 30) / 8);
    /// ```
    pub const fn new() -> Self {
        let max_capacity = if Self::IS_ZERO_SIZED {
            usize::MAX
        } else if Self::ELEMENT_SIZE >= DEFAULT_RESERVE_BYTES {
            1
        } else {
            DEFAULT_RESERVE_BYTES / Self::ELEMENT_SIZE
        };
        Self::unreserved(max_capacity)
    }

    /// An empty vector with the default maximum of [`new`](VirtualVec::new) and room for
    /// `capacity` elements committed up front (`capacity() >= capacity`), so that pushes up
    /// to that length make no system call. `with_capacity(0)` reserves nothing, as `new`.
    ///
    /// Costs one `reserve` system call (or a region from the [warm cache](crate::cache))
    /// and one `commit`; the pages are backed on first touch.
    ///
    /// # Panics
    /// When `capacity` exceeds the default maximum ([`DEFAULT_RESERVE_BYTES`] worth of
    /// elements) or the OS refuses the memory; see
    /// [`try_with_capacity`](VirtualVec::try_with_capacity).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u64>::with_capacity(100_000);
    /// assert!(v.capacity() >= 100_000);
    /// assert!(v.committed_bytes() >= 800_000);
    /// let p = v.as_ptr();
    /// v.extend(0..100_000);
    /// assert_eq!((v.as_ptr(), v.len()), (p, 100_000));
    /// ```
    #[track_caller]
    pub fn with_capacity(capacity: usize) -> Self {
        Self::try_with_capacity(capacity).unwrap_or_else(|err| failed("VirtualVec::with_capacity", err))
    }

    /// An empty vector with room for `capacity` elements committed up front, or
    /// `OutOfMemory` when `capacity` exceeds the default maximum or the OS refuses the
    /// memory (`OutOfAddressSpace` when it refuses the reservation).
    ///
    /// ```
    /// use vmem::{ErrorKind, VirtualVec};
    ///
    /// let v = VirtualVec::<u32>::try_with_capacity(1000)?;
    /// assert!(v.capacity() >= 1000);
    /// let too_many = VirtualVec::<u64>::new().max_capacity() + 1;
    /// assert_eq!(VirtualVec::<u64>::try_with_capacity(too_many).unwrap_err().kind(), ErrorKind::OutOfMemory);
    /// assert_eq!(VirtualVec::<u64>::try_with_capacity(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfMemory);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_with_capacity(capacity: usize) -> Result<Self> {
        let mut vec = Self::new();
        vec.make_room(capacity, "VirtualVec::with_capacity")?;
        Ok(vec)
    }

    /// A vector of at most `max_capacity` elements, with its address space reserved now (and
    /// nothing committed). For zero-sized types nothing is reserved.
    ///
    /// # Errors
    /// `InvalidArgument` when `max_capacity` is zero or its size in bytes exceeds
    /// `isize::MAX`; `OutOfAddressSpace` when the OS cannot reserve that much.
    ///
    /// ```
    /// use vmem::{ErrorKind, VirtualVec};
    ///
    /// let mut v = VirtualVec::with_max_capacity(1000)?;
    /// assert_eq!(v.max_capacity(), 1000);
    /// v.extend(0..1000u32);
    /// assert!(v.try_push(1000).is_err());
    ///
    /// assert_eq!(VirtualVec::<u8>::with_max_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// assert_eq!(VirtualVec::<u64>::with_max_capacity(usize::MAX).unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn with_max_capacity(max_capacity: usize) -> Result<Self> {
        const OP: &str = "VirtualVec::with_max_capacity";
        if max_capacity == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the maximum capacity is zero"));
        }
        let mut vec = Self::unreserved(max_capacity);
        if Self::IS_ZERO_SIZED {
            return Ok(vec);
        }
        let bytes = match max_capacity.checked_mul(Self::ELEMENT_SIZE) {
            Some(bytes) if bytes <= MAX_SLICE_BYTES => bytes,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    OP,
                    "the maximum capacity in bytes exceeds isize::MAX",
                )
                .with_limit("isize::MAX", MAX_SLICE_BYTES as u64))
            }
        };
        vec.region.reserve(OP, bytes)?;
        vec.ptr = NonNull::new(vec.region.base().cast()).unwrap_or(NonNull::dangling());
        Ok(vec)
    }

    /// A vector of at most `max_capacity` elements that reserves on first growth.
    const fn unreserved(max_capacity: usize) -> Self {
        VirtualVec {
            ptr: NonNull::dangling(),
            len: 0,
            capacity: if Self::IS_ZERO_SIZED { max_capacity } else { 0 },
            push_limit: if Self::IS_ZERO_SIZED { max_capacity } else { 0 },
            max_capacity,
            // `with_max_capacity` checks the size before it reserves.
            region: GrowRegion::new(
                if Self::IS_ZERO_SIZED { 0 } else { max_capacity.saturating_mul(Self::ELEMENT_SIZE) },
                mem::align_of::<T>(),
                CommitMode::DEFAULT,
            ),
            marker: PhantomData,
        }
    }

    /// The number of elements.
    ///
    /// ```
    /// let v: vmem::VirtualVec<_> = (0..3).collect();
    /// assert_eq!(v.len(), 3);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the vector has no elements.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// assert!(v.is_empty());
    /// v.push('x');
    /// assert!(!v.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many elements fit in the committed memory: pushes up to this length make no
    /// system call. `usize::MAX` (or the maximum) for zero-sized types.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// assert_eq!(v.capacity(), 0);
    /// v.push(1u64);
    /// assert!(v.capacity() >= (64 << 10) / 8); // the first commit is at least 64 KiB
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most elements the vector can ever hold: its reserved address space.
    ///
    /// ```
    /// let v = vmem::VirtualVec::<u32>::with_max_capacity(10).unwrap();
    /// assert_eq!(v.max_capacity(), 10);
    /// assert_eq!(vmem::VirtualVec::<()>::new().max_capacity(), usize::MAX);
    /// ```
    #[inline]
    pub fn max_capacity(&self) -> usize {
        self.max_capacity
    }

    /// Bytes of memory committed for the vector (backed on first touch; a multiple of the
    /// page size).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = (0..100).collect();
    /// assert!(v.committed_bytes() >= vmem::page_size());
    /// v.clear();
    /// v.shrink_to_fit();
    /// assert_eq!(v.committed_bytes(), 0);
    /// ```
    pub fn committed_bytes(&self) -> usize {
        self.region.committed()
    }

    /// Bytes of address space reserved for the vector (0 before the first growth of a vector
    /// made by [`new`](VirtualVec::new), and always for zero-sized types).
    ///
    /// ```
    /// let v = vmem::VirtualVec::<u64>::with_max_capacity(1 << 20).unwrap();
    /// assert_eq!(v.reserved_bytes(), 8 << 20);
    /// ```
    pub fn reserved_bytes(&self) -> usize {
        self.region.reserved()
    }

    /// The error for a request beyond the maximum capacity.
    fn exceeds_max(max_capacity: usize, operation: &'static str) -> Error {
        Error::new(ErrorKind::OutOfMemory, operation, "the vector would exceed its maximum capacity")
            .with_limit("max_capacity", max_capacity as u64)
    }

    /// Makes room for `additional` more elements: reserves (on first growth) and commits at
    /// least double the committed bytes, or exactly what is needed if the OS refuses that.
    #[cold]
    #[inline(never)]
    fn try_grow(&mut self, additional: usize, operation: &'static str) -> Result<()> {
        let needed = match self.len.checked_add(additional) {
            Some(needed) if needed <= self.max_capacity => needed,
            _ => return Err(Self::exceeds_max(self.max_capacity, operation)),
        };
        if needed <= self.capacity {
            return Ok(());
        }
        // Not zero-sized: their capacity is their maximum. So `needed * size` fits in isize.
        let size = Self::ELEMENT_SIZE;
        let needed_bytes = needed * size;
        if !self.region.is_reserved() {
            // Where address space is short, the region reserves less: the maximum follows.
            self.region.reserve(operation, needed_bytes)?;
            self.max_capacity = self.max_capacity.min(self.region.reserved() / size);
            self.ptr = NonNull::new(self.region.base().cast()).unwrap_or(NonNull::dangling());
            if needed > self.max_capacity {
                return Err(Self::exceeds_max(self.max_capacity, operation));
            }
        }
        // At least double what is committed (at least 64 KiB), or exactly what is needed if
        // the OS refuses that.
        let step = self.region.doubling_step(MIN_COMMIT_BYTES, usize::MAX);
        self.region.commit_to(operation, needed_bytes, step)?;
        self.capacity = (self.region.committed() / size).min(self.max_capacity);
        Ok(())
    }

    /// Makes room for one more element past `push_limit`: grows if the vector is full, then
    /// moves `push_limit` on. Once the elements fill [`PREFAULT_FROM_BYTES`], the pages of
    /// the next [`PREFAULT_BYTES`] are faulted in first, with one system call instead of a
    /// page fault each (measured faster on Linux). On success `len < push_limit`.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, operation: &'static str) -> Result<()> {
        if self.len == self.capacity {
            self.try_grow(1, operation)?;
        }
        let size = Self::ELEMENT_SIZE;
        // Not zero-sized (their limit is their maximum, never reached here): bytes fit in isize.
        let from = self.len * size;
        if from < PREFAULT_FROM_BYTES {
            self.push_limit = self.capacity.min(PREFAULT_FROM_BYTES.div_ceil(size)).max(self.len + 1);
            return Ok(());
        }
        let end = (page_round_up(from + size) + PREFAULT_BYTES).min(self.region.committed());
        self.prefault_bytes(from, end);
        self.push_limit = (end / size).min(self.capacity);
        Ok(())
    }

    /// Faults in the pages holding bytes `[from, to)` of the buffer with one system call, as
    /// writes would (contents do not change). `to <= committed_bytes()`.
    fn prefault_bytes(&self, from: usize, to: usize) {
        let start = from / crate::page_size() * crate::page_size();
        if to > start {
            // SAFETY: `[start, to)` lies in the committed, writable bytes of our reservation.
            // A failure only means the pages fault in one by one, as without it.
            let _ = unsafe { crate::prefault(self.ptr.as_ptr().cast::<u8>().add(start), to - start) };
        }
    }

    /// Grows by at least one element, or panics.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn grow_one(&mut self, operation: &'static str) {
        if let Err(err) = self.try_grow(1, operation) {
            failed(operation, err)
        }
    }

    /// Makes sure that `additional` more elements fit in the committed memory, growing if
    /// needed; the vector is unchanged on error.
    #[inline]
    fn make_room(&mut self, additional: usize, operation: &'static str) -> Result<()> {
        if additional > self.capacity - self.len {
            self.try_grow(additional, operation)
        } else {
            Ok(())
        }
    }

    /// Before `count` elements are written at the end in one go: past
    /// [`PREFAULT_FROM_BYTES`] of them, faults their pages in with one system call instead
    /// of a page fault each. `len + count <= capacity`.
    fn prefault_append(&self, count: usize) {
        // Not zero-sized beyond 0 bytes; `(len + count) * size` fits in isize (`<= capacity`).
        let bytes = count * Self::ELEMENT_SIZE;
        if bytes >= PREFAULT_FROM_BYTES {
            let from = self.len * Self::ELEMENT_SIZE;
            self.prefault_bytes(from, from + bytes);
        }
    }

    /// Moves `count` elements from `src` to the end of the vector (one copy), or returns
    /// `OutOfMemory` when they do not fit; the vector is unchanged then.
    ///
    /// # Safety
    /// `src` points to `count` initialized elements outside this vector's buffer. On `Ok`
    /// the vector owns them: the caller must not use or drop them again (it may free their
    /// memory). On `Err` they still belong to the caller.
    unsafe fn try_append_raw(&mut self, src: *const T, count: usize, operation: &'static str) -> Result<()> {
        self.make_room(count, operation)?;
        self.prefault_append(count);
        // SAFETY: `len + count <= capacity`: the destination is committed, uninitialized and
        // does not overlap `src` (which lies outside the buffer); the caller hands the
        // elements over, so they are owned exactly once.
        unsafe { ptr::copy_nonoverlapping(src, self.ptr.as_ptr().add(self.len), count) };
        self.len += count;
        Ok(())
    }

    /// Appends `value`.
    ///
    /// # Panics
    /// When the vector is at its [`max_capacity`](VirtualVec::max_capacity), or the OS refuses
    /// to commit more memory. [`try_push`](VirtualVec::try_push) returns an error instead.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.push(3);
    /// v.push(4);
    /// assert_eq!(v, [3, 4]);
    /// ```
    #[inline]
    #[track_caller]
    pub fn push(&mut self, value: T) {
        let len = self.len;
        if len >= self.push_limit {
            if let Err(err) = self.push_slow("VirtualVec::push") {
                failed("VirtualVec::push", err)
            }
        }
        // SAFETY: `len < capacity`, so slot `len` is committed, in bounds and uninitialized.
        unsafe { self.ptr.as_ptr().add(len).write(value) };
        self.len = len + 1;
    }

    /// Appends `value`, or gives it back with an error when the vector is at its maximum
    /// capacity ([`ErrorKind::OutOfMemory`]) or the OS refuses to commit memory. The vector is
    /// unchanged then.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(1).unwrap();
    /// v.try_push(String::from("kept")).unwrap();
    /// let (value, err) = v.try_push(String::from("returned")).unwrap_err();
    /// assert_eq!(value, "returned");
    /// assert_eq!(err.kind(), vmem::ErrorKind::OutOfMemory);
    /// assert_eq!(v, ["kept"]);
    /// ```
    #[inline]
    pub fn try_push(&mut self, value: T) -> core::result::Result<(), (T, Error)> {
        self.try_push_for(value, "VirtualVec::try_push")
    }

    /// [`try_push`](VirtualVec::try_push) with the operation its errors name.
    #[inline]
    fn try_push_for(&mut self, value: T, operation: &'static str) -> core::result::Result<(), (T, Error)> {
        let len = self.len;
        if len >= self.push_limit {
            if let Err(err) = self.push_slow(operation) {
                return Err((value, err));
            }
        }
        // SAFETY: `len < capacity`, so slot `len` is committed, in bounds and uninitialized.
        unsafe { self.ptr.as_ptr().add(len).write(value) };
        self.len = len + 1;
        Ok(())
    }

    /// Removes the last element and returns it, or `None` when empty.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [1, 2].into_iter().collect();
    /// assert_eq!(v.pop(), Some(2));
    /// assert_eq!(v.pop(), Some(1));
    /// assert_eq!(v.pop(), None);
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` was the last initialized element; the length no longer covers it,
        // so it is read exactly once.
        Some(unsafe { self.ptr.as_ptr().add(self.len).read() })
    }

    /// Inserts `value` at `index`, shifting the elements after it to the right.
    ///
    /// # Panics
    /// When `index > len`, or the vector is full (as [`push`](VirtualVec::push)).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [1, 3].into_iter().collect();
    /// v.insert(1, 2);
    /// v.insert(3, 4);
    /// assert_eq!(v, [1, 2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn insert(&mut self, index: usize, value: T) {
        let len = self.len;
        if index > len {
            index_failed("insertion", "<=", index, len);
        }
        if len == self.capacity {
            self.grow_one("VirtualVec::insert");
        }
        // SAFETY: `index <= len < capacity`.
        unsafe { self.insert_unchecked(index, value) };
    }

    /// Inserts `value` at `index`, or gives it back with an error: `OutOfBounds` when
    /// `index > len`, `OutOfMemory` when the vector is full. The vector is unchanged then.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.try_insert(0, 'a').unwrap();
    /// let (value, err) = v.try_insert(5, 'b').unwrap_err();
    /// assert_eq!((value, err.kind()), ('b', vmem::ErrorKind::OutOfBounds));
    /// ```
    pub fn try_insert(&mut self, index: usize, value: T) -> core::result::Result<(), (T, Error)> {
        const OP: &str = "VirtualVec::insert";
        let len = self.len;
        if index > len {
            return Err((value, out_of_bounds(OP, "the index is past the end of the vector", len)));
        }
        if len == self.capacity {
            if let Err(err) = self.try_grow(1, OP) {
                return Err((value, err));
            }
        }
        // SAFETY: `index <= len < capacity`.
        unsafe { self.insert_unchecked(index, value) };
        Ok(())
    }

    /// # Safety
    /// `index <= len < capacity`.
    unsafe fn insert_unchecked(&mut self, index: usize, value: T) {
        let len = self.len;
        // SAFETY: slots `index..=len` are committed (`len < capacity`); the copy moves
        // `index..len` up by one (overlapping copies are allowed by `ptr::copy`), leaving slot
        // `index` to be overwritten without a drop.
        unsafe {
            let slot = self.ptr.as_ptr().add(index);
            if index < len {
                ptr::copy(slot, slot.add(1), len - index);
            }
            slot.write(value);
        }
        self.len = len + 1;
    }

    /// Removes and returns the element at `index`, shifting the elements after it to the left.
    ///
    /// # Panics
    /// When `index >= len`.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = ['a', 'b', 'c'].into_iter().collect();
    /// assert_eq!(v.remove(0), 'a');
    /// assert_eq!(v, ['b', 'c']);
    /// ```
    #[track_caller]
    pub fn remove(&mut self, index: usize) -> T {
        let len = self.len;
        if index >= len {
            index_failed("removal", "<", index, len);
        }
        // SAFETY: `index < len`.
        unsafe { self.remove_unchecked(index) }
    }

    /// Removes and returns the element at `index`, or returns `OutOfBounds` when
    /// `index >= len`.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [7].into_iter().collect();
    /// assert!(v.try_remove(1).is_err());
    /// assert_eq!(v.try_remove(0).unwrap(), 7);
    /// ```
    pub fn try_remove(&mut self, index: usize) -> Result<T> {
        let len = self.len;
        if index >= len {
            return Err(out_of_bounds("VirtualVec::remove", "the index is past the end of the vector", len));
        }
        // SAFETY: `index < len`.
        Ok(unsafe { self.remove_unchecked(index) })
    }

    /// # Safety
    /// `index < len`.
    unsafe fn remove_unchecked(&mut self, index: usize) -> T {
        let len = self.len;
        // SAFETY: `index < len`: the element is read once, then the elements after it move
        // down over its slot and the length drops by one, so nothing is duplicated.
        unsafe {
            let slot = self.ptr.as_ptr().add(index);
            let value = slot.read();
            ptr::copy(slot.add(1), slot, len - index - 1);
            self.len = len - 1;
            value
        }
    }

    /// Removes and returns the element at `index`, replacing it with the last element: O(1),
    /// but the order changes.
    ///
    /// # Panics
    /// When `index >= len`.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [1, 2, 3, 4].into_iter().collect();
    /// assert_eq!(v.swap_remove(0), 1);
    /// assert_eq!(v, [4, 2, 3]);
    /// ```
    #[track_caller]
    pub fn swap_remove(&mut self, index: usize) -> T {
        let len = self.len;
        if index >= len {
            index_failed("swap_remove", "<", index, len);
        }
        // SAFETY: `index < len`.
        unsafe { self.swap_remove_unchecked(index) }
    }

    /// Removes and returns the element at `index`, replacing it with the last element, or
    /// returns `OutOfBounds` when `index >= len`.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [1, 2, 3].into_iter().collect();
    /// assert_eq!(v.try_swap_remove(0).unwrap(), 1);
    /// assert_eq!(v.try_swap_remove(2).unwrap_err().kind(), vmem::ErrorKind::OutOfBounds);
    /// ```
    pub fn try_swap_remove(&mut self, index: usize) -> Result<T> {
        let len = self.len;
        if index >= len {
            return Err(out_of_bounds("VirtualVec::swap_remove", "the index is past the end of the vector", len));
        }
        // SAFETY: `index < len`.
        Ok(unsafe { self.swap_remove_unchecked(index) })
    }

    /// # Safety
    /// `index < len`.
    unsafe fn swap_remove_unchecked(&mut self, index: usize) -> T {
        let last = self.len - 1;
        // SAFETY: `index <= last < len`: the element at `index` is read once and the last one
        // moved into its slot (`ptr::copy` allows `index == last`); the length drops by one.
        unsafe {
            let base = self.ptr.as_ptr();
            let value = base.add(index).read();
            ptr::copy(base.add(last), base.add(index), 1);
            self.len = last;
            value
        }
    }

    /// Keeps the first `len` elements and drops the rest; nothing happens when `len` is not
    /// less than the length. Memory stays committed: see [`shrink_to_fit`](VirtualVec::shrink_to_fit).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (1..=5).collect();
    /// v.truncate(2);
    /// assert_eq!(v, [1, 2]);
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
        // Shorten first, so that a panicking destructor cannot lead to a double drop.
        self.len = len;
        // SAFETY: the tail holds initialized elements that the vector no longer covers.
        unsafe { ptr::drop_in_place(tail) };
    }

    /// Drops every element. Memory stays committed: see
    /// [`shrink_to_fit`](VirtualVec::shrink_to_fit).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (0..10).collect();
    /// v.clear();
    /// assert!(v.is_empty());
    /// assert!(v.capacity() >= 10);
    /// ```
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Makes sure that `additional` more elements fit without a system call, committing
    /// ahead if needed (at least doubling the committed bytes, as growth does).
    ///
    /// # Panics
    /// When `len + additional` exceeds the maximum capacity or the OS refuses memory.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u64>::new();
    /// v.reserve(1_000_000);
    /// assert!(v.capacity() >= 1_000_000);
    /// assert!(v.committed_bytes() >= 8_000_000);
    /// ```
    #[track_caller]
    pub fn reserve(&mut self, additional: usize) {
        if additional > self.capacity - self.len {
            if let Err(err) = self.try_grow(additional, "VirtualVec::reserve") {
                failed("VirtualVec::reserve", err)
            }
        }
    }

    /// Makes sure that `additional` more elements fit without a system call, or returns
    /// `OutOfMemory` when that exceeds the maximum capacity or the OS refuses memory.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u64>::with_max_capacity(100).unwrap();
    /// v.try_reserve(100).unwrap();
    /// assert_eq!(v.try_reserve(101).unwrap_err().kind(), vmem::ErrorKind::OutOfMemory);
    /// assert!(v.try_reserve(usize::MAX).is_err());
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<()> {
        if additional > self.capacity - self.len {
            self.try_grow(additional, "VirtualVec::try_reserve")
        } else {
            Ok(())
        }
    }

    /// Decommits the pages that no element uses, returning their memory and commit charge
    /// to the OS. The reservation (address space) stays, so the elements keep their
    /// addresses. Errors from the OS (which Linux reports only when it runs out of
    /// mappings) are ignored; [`try_shrink_to_fit`](VirtualVec::try_shrink_to_fit) returns
    /// them.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u64> = (0..1_000_000).collect();
    /// v.truncate(1);
    /// v.shrink_to_fit();
    /// assert_eq!(v.committed_bytes(), vmem::page_size());
    /// assert_eq!(v, [0]);
    /// ```
    pub fn shrink_to_fit(&mut self) {
        // On failure the memory simply stays committed, which is still correct.
        let _ = self.try_shrink_to_fit();
    }

    /// Decommits the pages that no element uses, or returns the OS error (the vector is
    /// unchanged then).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u8> = (0..=255).collect();
    /// v.clear();
    /// v.try_shrink_to_fit().unwrap();
    /// assert_eq!((v.capacity(), v.committed_bytes()), (0, 0));
    /// ```
    pub fn try_shrink_to_fit(&mut self) -> Result<()> {
        if Self::IS_ZERO_SIZED {
            return Ok(());
        }
        // Not zero-sized: `len * size` fits in isize.
        self.region.decommit_from(self.len * Self::ELEMENT_SIZE)?;
        self.capacity = (self.region.committed() / Self::ELEMENT_SIZE).min(self.max_capacity);
        self.push_limit = self.push_limit.min(self.capacity);
        Ok(())
    }

    /// Appends clones of the elements of `other`.
    ///
    /// # Panics
    /// When the elements do not fit (as [`push`](VirtualVec::push)); nothing is appended
    /// then. If a `clone` panics, the clones made before it stay in the vector.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.extend_from_slice(&[1, 2]);
    /// v.extend_from_slice(&[3]);
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    #[track_caller]
    pub fn extend_from_slice(&mut self, other: &[T])
    where
        T: Clone,
    {
        if let Err(err) = self.try_extend_from_slice(other) {
            failed("VirtualVec::extend_from_slice", err)
        }
    }

    /// Appends clones of the elements of `other`, or returns `OutOfMemory` when they do not
    /// fit (nothing is appended then).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(3).unwrap();
    /// v.try_extend_from_slice(&["a", "b"]).unwrap();
    /// assert!(v.try_extend_from_slice(&["c", "d"]).is_err());
    /// assert_eq!(v, ["a", "b"]);
    /// ```
    pub fn try_extend_from_slice(&mut self, other: &[T]) -> Result<()>
    where
        T: Clone,
    {
        self.make_room(other.len(), "VirtualVec::extend_from_slice")?;
        self.prefault_append(other.len());
        let base = self.ptr.as_ptr();
        let mut len = SetLenOnDrop { len: &mut self.len, local: 0 };
        len.local = *len.len;
        for item in other {
            // SAFETY: `capacity >= len + other.len()`, so every slot written is committed and
            // uninitialized; the length is updated as each clone lands (also on a panic).
            unsafe { base.add(len.local).write(item.clone()) };
            len.local += 1;
        }
        Ok(())
    }

    /// Appends the items of `iter`, or returns `OutOfMemory` when the vector fills up. The
    /// items appended before the error stay; the item that did not fit and the rest of the
    /// iterator are dropped.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(4).unwrap();
    /// assert!(v.try_extend(0..3).is_ok());
    /// assert!(v.try_extend(3..10).is_err());
    /// assert_eq!(v, [0, 1, 2, 3]);
    /// ```
    pub fn try_extend<I: IntoIterator<Item = T>>(&mut self, iter: I) -> Result<()> {
        let iter = iter.into_iter();
        self.reserve_hint(iter.size_hint().0);
        for item in iter {
            self.try_push(item).map_err(|(_, err)| err)?;
        }
        Ok(())
    }

    /// Commits ahead for `lower` items an iterator promises, where they fit.
    fn reserve_hint(&mut self, lower: usize) {
        if lower > self.capacity - self.len {
            // Only a hint: if it does not fit, the pushes report the error when it happens.
            let _ = self.try_grow(lower, "VirtualVec::extend");
        }
    }

    /// Keeps only the elements for which `keep` returns true, in order, dropping the others.
    ///
    /// If `keep` panics, the elements not yet visited are kept and the vector stays valid.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (1..=6).collect();
    /// v.retain(|&x| x % 2 == 0);
    /// assert_eq!(v, [2, 4, 6]);
    /// ```
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.retain_mut(|item| keep(item));
    }

    /// Keeps only the elements for which `keep` returns true, in order, and lets `keep`
    /// change them.
    ///
    /// If `keep` panics, the elements not yet visited are kept and the vector stays valid.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (1..=4).collect();
    /// v.retain_mut(|x| {
    ///     *x *= 10;
    ///     *x > 20
    /// });
    /// assert_eq!(v, [30, 40]);
    /// ```
    pub fn retain_mut(&mut self, mut keep: impl FnMut(&mut T) -> bool) {
        let original_len = self.len;
        // While elements are visited the vector has holes: its length says 0 until the guard
        // closes them, so a leak of the guard leaks elements instead of dropping them twice.
        self.len = 0;
        let mut guard = RetainGuard { vec: self, processed: 0, deleted: 0, original_len };
        let base = guard.vec.ptr.as_ptr();
        while guard.processed != original_len {
            // SAFETY: `processed < original_len`: an initialized element not yet visited.
            let current = unsafe { &mut *base.add(guard.processed) };
            if !keep(current) {
                // Count it as gone first: if its destructor panics, it is not touched again.
                guard.processed += 1;
                guard.deleted += 1;
                // SAFETY: the element is initialized and, counted as deleted, never used again.
                unsafe { ptr::drop_in_place(current) };
                continue;
            }
            if guard.deleted > 0 {
                // SAFETY: the hole at `processed - deleted` is free (its element was dropped or
                // moved) and lies before `processed`, so the regions do not overlap.
                unsafe { ptr::copy_nonoverlapping(current, base.add(guard.processed - guard.deleted), 1) };
            }
            guard.processed += 1;
        }
    }

    /// Removes the elements in `range` and returns them as an iterator. The elements after
    /// the range move down when the iterator is dropped; elements the iterator did not yield
    /// are dropped then.
    ///
    /// # Panics
    /// When the range starts after it ends or ends past the length.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (0..6).collect();
    /// let middle: Vec<_> = v.drain(1..4).collect();
    /// assert_eq!(middle, [1, 2, 3]);
    /// assert_eq!(v, [0, 4, 5]);
    /// ```
    #[track_caller]
    pub fn drain<R: RangeBounds<usize>>(&mut self, range: R) -> Drain<'_, T> {
        match bounds(&range, self.len) {
            Some((start, end)) => self.drain_unchecked(start, end),
            None => range_failed("drain", &range, self.len),
        }
    }

    /// Removes the elements in `range` and returns them as an iterator, or returns
    /// `OutOfBounds` when the range starts after it ends or ends past the length.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (0..3).collect();
    /// assert!(v.try_drain(2..5).is_err());
    /// assert_eq!(v.try_drain(..2).unwrap().len(), 2);
    /// assert_eq!(v, [2]);
    /// ```
    pub fn try_drain<R: RangeBounds<usize>>(&mut self, range: R) -> Result<Drain<'_, T>> {
        match bounds(&range, self.len) {
            Some((start, end)) => Ok(self.drain_unchecked(start, end)),
            None => Err(out_of_bounds("VirtualVec::drain", "the range is out of bounds or decreasing", self.len)),
        }
    }

    /// A drain of `start..end`, which lies within `0..len`.
    fn drain_unchecked(&mut self, start: usize, end: usize) -> Drain<'_, T> {
        let len = self.len;
        // The drained range and the tail are owned by the `Drain` until it is dropped.
        self.len = start;
        Drain { vec: self, next: start, end, tail_start: end, tail_len: len - end }
    }

    /// The elements as a slice.
    ///
    /// ```
    /// let v: vmem::VirtualVec<_> = (0..3).collect();
    /// assert_eq!(v.as_slice(), &[0, 1, 2]);
    /// ```
    #[inline]
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the first `len` elements are initialized; `ptr` is non-null and aligned
        // (dangling only when nothing is committed, where `len` is 0 or `T` is zero-sized).
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The elements as a mutable slice.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [3, 1, 2].into_iter().collect();
    /// v.as_mut_slice().sort();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// A pointer to the first element (dangling but aligned before anything is reserved).
    /// It stays the same for the life of the vector once the first element is added: growth
    /// never moves the elements.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// v.push(1u32);
    /// let p = v.as_ptr();
    /// v.extend(0..100_000);
    /// assert_eq!(p, v.as_ptr());
    /// // SAFETY: element 0 is initialized and nothing writes it meanwhile.
    /// assert_eq!(unsafe { *p }, 1);
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *const T {
        self.ptr.as_ptr()
    }

    /// A mutable pointer to the first element; see [`as_ptr`](VirtualVec::as_ptr).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [0u8; 4].into_iter().collect();
    /// let p = v.as_mut_ptr();
    /// // SAFETY: index 2 is an initialized element, and `v` is not borrowed meanwhile.
    /// unsafe { *p.add(2) = 9 };
    /// assert_eq!(v, [0, 0, 9, 0]);
    /// ```
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// A copy of the vector with the same maximum capacity (reserved when the copy first
    /// grows, as for [`new`](VirtualVec::new)), or `OutOfMemory` when its memory cannot be
    /// reserved or committed.
    ///
    /// ```
    /// let v: vmem::VirtualVec<_> = ["x".to_string()].into_iter().collect();
    /// let w = v.try_clone().unwrap();
    /// assert_eq!(v, w);
    /// assert_ne!(v.as_ptr(), w.as_ptr());
    /// ```
    pub fn try_clone(&self) -> Result<Self>
    where
        T: Clone,
    {
        let mut copy = Self::unreserved(self.max_capacity);
        copy.try_extend_from_slice(self)?;
        Ok(copy)
    }

    /// Changes the length to `new_len`: appends clones of `value` (the last slot takes
    /// `value` itself) or truncates.
    ///
    /// # Panics
    /// When `new_len` exceeds the maximum capacity or the OS refuses memory (nothing is
    /// appended then); see [`try_resize`](VirtualVec::try_resize). If a `clone` panics, the
    /// clones made before it stay in the vector.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = ["a"].into_iter().collect();
    /// v.resize(3, "b");
    /// assert_eq!(v, ["a", "b", "b"]);
    /// v.resize(1, "c");
    /// assert_eq!(v, ["a"]);
    /// ```
    #[track_caller]
    pub fn resize(&mut self, new_len: usize, value: T)
    where
        T: Clone,
    {
        if let Err(err) = self.try_resize(new_len, value) {
            failed("VirtualVec::resize", err)
        }
    }

    /// Changes the length to `new_len` as [`resize`](VirtualVec::resize) does, or returns
    /// `OutOfMemory` when `new_len` does not fit (the vector is unchanged then).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(4).unwrap();
    /// v.try_resize(4, 0u8).unwrap();
    /// assert!(v.try_resize(5, 1).is_err());
    /// assert_eq!(v, [0, 0, 0, 0]);
    /// ```
    pub fn try_resize(&mut self, new_len: usize, value: T) -> Result<()>
    where
        T: Clone,
    {
        let len = self.len;
        if new_len <= len {
            self.truncate(new_len);
            return Ok(());
        }
        const OP: &str = "VirtualVec::resize";
        let count = new_len - len;
        self.make_room(count, OP)?;
        // There is room for all `count`: the fill cannot fail.
        self.try_fill(count - 1, OP, || value.clone())?;
        // SAFETY: `make_room` made `count` slots past the old length committed; the fill
        // used `count - 1` of them, so slot `len` is committed and uninitialized.
        unsafe { self.ptr.as_ptr().add(self.len).write(value) };
        self.len += 1;
        Ok(())
    }

    /// Changes the length to `new_len`: appends values returned by `f` or truncates.
    ///
    /// # Panics
    /// When `new_len` exceeds the maximum capacity or the OS refuses memory (nothing is
    /// appended then); see [`try_resize_with`](VirtualVec::try_resize_with). If `f` panics,
    /// the values made before stay in the vector.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::new();
    /// let mut next = 0;
    /// v.resize_with(4, || {
    ///     next += 1;
    ///     next
    /// });
    /// assert_eq!(v, [1, 2, 3, 4]);
    /// ```
    #[track_caller]
    pub fn resize_with(&mut self, new_len: usize, f: impl FnMut() -> T) {
        if let Err(err) = self.try_resize_with(new_len, f) {
            failed("VirtualVec::resize_with", err)
        }
    }

    /// Changes the length to `new_len` as [`resize_with`](VirtualVec::resize_with) does, or
    /// returns `OutOfMemory` when `new_len` does not fit (the vector is unchanged and `f`
    /// not called then).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<String>::with_max_capacity(2).unwrap();
    /// v.try_resize_with(2, String::new).unwrap();
    /// assert!(v.try_resize_with(3, String::new).is_err());
    /// assert_eq!(v.len(), 2);
    /// ```
    pub fn try_resize_with(&mut self, new_len: usize, f: impl FnMut() -> T) -> Result<()> {
        let len = self.len;
        if new_len <= len {
            self.truncate(new_len);
            return Ok(());
        }
        self.try_fill(new_len - len, "VirtualVec::resize_with", f)
    }

    /// Appends `count` values returned by `f` (called exactly `count` times unless it
    /// panics), or returns the error of making room for them (nothing called then).
    fn try_fill(&mut self, count: usize, operation: &'static str, mut f: impl FnMut() -> T) -> Result<()> {
        self.make_room(count, operation)?;
        self.prefault_append(count);
        let base = self.ptr.as_ptr();
        let mut len = SetLenOnDrop { len: &mut self.len, local: 0 };
        len.local = *len.len;
        for _ in 0..count {
            // SAFETY: `capacity >= len + count`, so every slot written is committed and
            // uninitialized; the length follows each write (also when `f` panics).
            unsafe { base.add(len.local).write(f()) };
            len.local += 1;
        }
        Ok(())
    }

    /// Removes consecutive repeated elements (by `==`), keeping the first of each run.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [1, 1, 2, 3, 3, 3, 1].into_iter().collect();
    /// v.dedup();
    /// assert_eq!(v, [1, 2, 3, 1]);
    /// ```
    pub fn dedup(&mut self)
    where
        T: PartialEq,
    {
        self.dedup_by(|a, b| a == b);
    }

    /// Removes consecutive elements with equal keys, keeping the first of each run.
    ///
    /// If `key` panics, the elements not yet visited are kept and the vector stays valid.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [10, 11, 20, 21, 12].into_iter().collect();
    /// v.dedup_by_key(|x| *x / 10);
    /// assert_eq!(v, [10, 20, 12]);
    /// ```
    pub fn dedup_by_key<K: PartialEq>(&mut self, mut key: impl FnMut(&mut T) -> K) {
        self.dedup_by(|a, b| key(a) == key(b));
    }

    /// Removes consecutive elements that `same_bucket` calls the same, keeping the first of
    /// each run. `same_bucket(a, b)` gets the element in question as `a` and the last one
    /// kept before it as `b`; when it returns true, `a` is dropped.
    ///
    /// If `same_bucket` panics, the elements not yet visited are kept and the vector stays
    /// valid.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = ["a", "A", "b", "B", "a"].into_iter().collect();
    /// v.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    /// assert_eq!(v, ["a", "b", "a"]);
    /// ```
    pub fn dedup_by(&mut self, mut same_bucket: impl FnMut(&mut T, &mut T) -> bool) {
        let original_len = self.len;
        if original_len <= 1 {
            return;
        }
        // As in `retain_mut`: the length says 0 while there are holes; the guard closes them.
        self.len = 0;
        // The first element is always kept.
        let mut guard = RetainGuard { vec: self, processed: 1, deleted: 0, original_len };
        let base = guard.vec.ptr.as_ptr();
        while guard.processed != original_len {
            let kept = guard.processed - guard.deleted;
            // SAFETY: `processed < original_len`: an initialized element not yet visited.
            // `kept - 1 < processed` is the last element kept (moved down already), another
            // slot, so the two references do not alias.
            let (current, previous) = unsafe { (&mut *base.add(guard.processed), &mut *base.add(kept - 1)) };
            if same_bucket(current, previous) {
                // Count it as gone first: if its destructor panics, it is not touched again.
                guard.processed += 1;
                guard.deleted += 1;
                // SAFETY: the element is initialized and, counted as deleted, never used again.
                unsafe { ptr::drop_in_place(current) };
                continue;
            }
            if guard.deleted > 0 {
                // SAFETY: the hole at `kept` is free (its element was dropped or moved) and
                // lies before `processed`, so the regions do not overlap.
                unsafe { ptr::copy_nonoverlapping(current, base.add(kept), 1) };
            }
            guard.processed += 1;
        }
    }

    /// Splits the vector at `at`: returns the elements `at..` in a new vector (with the same
    /// maximum capacity, reserved as for [`new`](VirtualVec::new)) and keeps `..at`. The
    /// moved elements get new addresses; the kept ones keep theirs, and memory stays
    /// committed (see [`shrink_to_fit`](VirtualVec::shrink_to_fit)). Costs one copy of the
    /// moved elements, and a reservation when they are not empty.
    ///
    /// # Panics
    /// When `at > len`, or the new vector's memory cannot be reserved or committed (the
    /// vector is unchanged then); see [`try_split_off`](VirtualVec::try_split_off).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (1..=5).collect();
    /// let tail = v.split_off(3);
    /// assert_eq!((v, tail), ([1, 2, 3].into(), [4, 5].into()));
    /// ```
    #[track_caller]
    pub fn split_off(&mut self, at: usize) -> Self {
        let len = self.len;
        if at > len {
            index_failed("`at` split", "<=", at, len);
        }
        self.try_split_off(at).unwrap_or_else(|err| failed("VirtualVec::split_off", err))
    }

    /// Splits the vector at `at` as [`split_off`](VirtualVec::split_off) does, or returns
    /// `OutOfBounds` when `at > len` and the reservation's error when the new vector cannot
    /// get memory (the vector is unchanged then).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (1..=3).collect();
    /// assert_eq!(v.try_split_off(4).unwrap_err().kind(), vmem::ErrorKind::OutOfBounds);
    /// assert_eq!(v.try_split_off(1)?, [2, 3]);
    /// assert_eq!(v, [1]);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_split_off(&mut self, at: usize) -> Result<Self> {
        const OP: &str = "VirtualVec::split_off";
        let len = self.len;
        if at > len {
            return Err(out_of_bounds(OP, "the split index is past the end of the vector", len));
        }
        let mut tail = Self::unreserved(self.max_capacity);
        // SAFETY: `at..len` are initialized elements of this vector, outside `tail`'s buffer;
        // on success `tail` owns them and this vector's length stops before them.
        unsafe { tail.try_append_raw(self.ptr.as_ptr().add(at), len - at, OP)? };
        self.len = at;
        Ok(tail)
    }

    /// Moves every element of `other` to the end of this vector (one copy; they get new
    /// addresses), leaving `other` empty (its memory stays committed).
    ///
    /// # Panics
    /// When the elements do not fit (as [`push`](VirtualVec::push)); both vectors are
    /// unchanged then. See [`try_append`](VirtualVec::try_append).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = [1, 2].into_iter().collect();
    /// let mut w: vmem::VirtualVec<_> = [3, 4].into_iter().collect();
    /// v.append(&mut w);
    /// assert_eq!((v.as_slice(), w.len()), (&[1, 2, 3, 4][..], 0));
    /// ```
    #[track_caller]
    pub fn append(&mut self, other: &mut Self) {
        if let Err(err) = self.try_append(other) {
            failed("VirtualVec::append", err)
        }
    }

    /// Moves every element of `other` to the end of this vector, or returns `OutOfMemory`
    /// when they do not fit (both vectors are unchanged then).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(3).unwrap();
    /// v.push(1);
    /// let mut w: vmem::VirtualVec<_> = (2..=4).collect();
    /// assert!(v.try_append(&mut w).is_err());
    /// assert_eq!((v.len(), w.len()), (1, 3));
    /// ```
    pub fn try_append(&mut self, other: &mut Self) -> Result<()> {
        let count = other.len;
        // SAFETY: `other`'s elements are initialized and in another buffer (`&mut` makes the
        // two vectors distinct); on success this vector owns them and `other` forgets them.
        unsafe { self.try_append_raw(other.ptr.as_ptr(), count, "VirtualVec::append")? };
        other.len = 0;
        Ok(())
    }

    /// Appends clones of the elements in `src`, a range of this vector.
    ///
    /// # Panics
    /// When the range starts after it ends or ends past the length, or the clones do not
    /// fit (nothing is appended then); see
    /// [`try_extend_from_within`](VirtualVec::try_extend_from_within). If a `clone` panics,
    /// the clones made before it stay in the vector.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = ['a', 'b', 'c'].into_iter().collect();
    /// v.extend_from_within(1..);
    /// v.extend_from_within(..=0);
    /// assert_eq!(v, ['a', 'b', 'c', 'b', 'c', 'a']);
    /// ```
    #[track_caller]
    pub fn extend_from_within<R: RangeBounds<usize>>(&mut self, src: R)
    where
        T: Clone,
    {
        if bounds(&src, self.len).is_none() {
            range_failed("extend_from_within", &src, self.len);
        }
        if let Err(err) = self.try_extend_from_within(src) {
            failed("VirtualVec::extend_from_within", err)
        }
    }

    /// Appends clones of the elements in `src`, or returns `OutOfBounds` when the range
    /// starts after it ends or ends past the length and `OutOfMemory` when the clones do
    /// not fit (nothing is appended then).
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(4).unwrap();
    /// v.extend([1, 2]);
    /// assert_eq!(v.try_extend_from_within(1..3).unwrap_err().kind(), vmem::ErrorKind::OutOfBounds);
    /// v.try_extend_from_within(..)?;
    /// assert_eq!(v.try_extend_from_within(..1).unwrap_err().kind(), vmem::ErrorKind::OutOfMemory);
    /// assert_eq!(v, [1, 2, 1, 2]);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_extend_from_within<R: RangeBounds<usize>>(&mut self, src: R) -> Result<()>
    where
        T: Clone,
    {
        const OP: &str = "VirtualVec::extend_from_within";
        let Some((start, end)) = bounds(&src, self.len) else {
            return Err(out_of_bounds(OP, "the range is out of bounds or decreasing", self.len));
        };
        self.make_room(end - start, OP)?;
        self.prefault_append(end - start);
        let base = self.ptr.as_ptr();
        let mut len = SetLenOnDrop { len: &mut self.len, local: 0 };
        len.local = *len.len;
        for index in start..end {
            // SAFETY: `index < end <= len`: an initialized element, only read; the slot
            // written is past the length (so another one), committed (`capacity >= len +
            // end - start`) and uninitialized. The buffer never moves, and the length follows
            // each write (also when `clone` panics).
            unsafe { base.add(len.local).write((*base.add(index)).clone()) };
            len.local += 1;
        }
        Ok(())
    }

    /// Replaces the elements in `range` with the items of `replace_with`, and returns the
    /// removed elements as an iterator. As with [`drain`](VirtualVec::drain), the work is
    /// done when the iterator is dropped: the elements it did not yield are dropped, the
    /// new items take their place and the tail moves as needed (once when `replace_with`
    /// says exactly how many items it has, as a slice iterator does; otherwise the items
    /// past the gap and its lower size hint are collected in a `Vec` first, as std does).
    ///
    /// # Panics
    /// When the range starts after it ends or ends past the length. When the dropped iterator
    /// finds that the new items do not fit (maximum capacity, or memory the OS refuses), it
    /// panics, leaving the vector valid with the items placed so far (followed by the
    /// tail); the rest of `replace_with` is dropped. If `replace_with` panics, likewise.
    /// A splice cannot run out of room when [`try_reserve`](VirtualVec::try_reserve) made
    /// room for the growth first (new items less removed ones).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (0..6).collect();
    /// let removed: Vec<_> = v.splice(1..3, [10, 20, 30]).collect();
    /// assert_eq!(removed, [1, 2]);
    /// assert_eq!(v, [0, 10, 20, 30, 3, 4, 5]);
    /// v.splice(..2, []);
    /// assert_eq!(v, [20, 30, 3, 4, 5]);
    /// ```
    #[track_caller]
    pub fn splice<R, I>(&mut self, range: R, replace_with: I) -> Splice<'_, I::IntoIter>
    where
        R: RangeBounds<usize>,
        I: IntoIterator<Item = T>,
    {
        match bounds(&range, self.len) {
            Some((start, end)) => {
                Splice { drain: self.drain_unchecked(start, end), replace_with: replace_with.into_iter() }
            }
            None => range_failed("splice", &range, self.len),
        }
    }

    /// Returns an iterator that removes and yields the elements in `range` for which
    /// `filter` returns true, in order; the other elements stay, in order. `filter` may
    /// change the elements it looks at. This is std's `Vec::extract_if` (stable since Rust
    /// 1.87), with the same signature.
    ///
    /// If the iterator is dropped before the end, the elements not yet visited stay. If
    /// `filter` panics, the element it was given and those not visited stay, and the vector
    /// is valid. If the iterator is leaked (`mem::forget`), the vector is left empty and its
    /// elements leaked.
    ///
    /// # Panics
    /// When the range starts after it ends or ends past the length.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (1..=10).collect();
    /// let evens: Vec<_> = v.extract_if(.., |x| *x % 2 == 0).collect();
    /// assert_eq!(evens, [2, 4, 6, 8, 10]);
    /// assert_eq!(v, [1, 3, 5, 7, 9]);
    /// // Only in a range, and changing what stays:
    /// let big: Vec<_> = v.extract_if(2.., |x| {
    ///     *x *= 10;
    ///     *x > 60
    /// }).collect();
    /// assert_eq!((big.as_slice(), v.as_slice()), (&[70, 90][..], &[1, 3, 50][..]));
    /// ```
    #[track_caller]
    pub fn extract_if<F, R>(&mut self, range: R, filter: F) -> ExtractIf<'_, T, F>
    where
        F: FnMut(&mut T) -> bool,
        R: RangeBounds<usize>,
    {
        let Some((start, end)) = bounds(&range, self.len) else { range_failed("extract_if", &range, self.len) };
        self.extract_if_unchecked(start, end, filter)
    }

    /// The same as [`extract_if`](VirtualVec::extract_if), or `OutOfBounds` when the range
    /// starts after it ends or ends past the length.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (0..4).collect();
    /// assert!(v.try_extract_if(3..5, |_| true).is_err());
    /// assert_eq!(v.try_extract_if(1.., |x| *x > 1)?.count(), 2);
    /// assert_eq!(v, [0, 1]);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_extract_if<F, R>(&mut self, range: R, filter: F) -> Result<ExtractIf<'_, T, F>>
    where
        F: FnMut(&mut T) -> bool,
        R: RangeBounds<usize>,
    {
        match bounds(&range, self.len) {
            Some((start, end)) => Ok(self.extract_if_unchecked(start, end, filter)),
            None => Err(out_of_bounds("VirtualVec::extract_if", "the range is out of bounds or decreasing", self.len)),
        }
    }

    /// An `ExtractIf` over `start..end`, which lies within `0..len`.
    fn extract_if_unchecked<F>(&mut self, start: usize, end: usize, filter: F) -> ExtractIf<'_, T, F> {
        let old_len = self.len;
        // While elements are visited the vector has holes: its length says 0 until the
        // iterator is dropped (a leaked iterator leaks the elements instead of dropping them
        // twice).
        self.len = 0;
        ExtractIf { vec: self, next: start, end, deleted: 0, old_len, filter }
    }

    /// Sets the length without dropping or initializing anything, as `Vec::set_len`.
    ///
    /// # Safety
    /// `new_len <= capacity()`, and the elements at `old_len..new_len` are initialized
    /// (for example through [`spare_capacity_mut`](VirtualVec::spare_capacity_mut)). When
    /// shortening, the elements at `new_len..old_len` are then no longer dropped by the
    /// vector.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u32>::with_capacity(4);
    /// for (i, slot) in v.spare_capacity_mut()[..4].iter_mut().enumerate() {
    ///     slot.write(i as u32 * 10);
    /// }
    /// // SAFETY: the first 4 elements were just written, and 4 <= capacity.
    /// unsafe { v.set_len(4) };
    /// assert_eq!(v, [0, 10, 20, 30]);
    /// ```
    #[inline]
    pub unsafe fn set_len(&mut self, new_len: usize) {
        debug_assert!(new_len <= self.capacity, "set_len({new_len}) past the capacity {}", self.capacity);
        self.len = new_len;
    }

    /// The committed but unused slots after the elements, as `MaybeUninit<T>`: exactly
    /// `capacity() - len()` of them (never into pages that are only reserved). Write
    /// elements there, then [`set_len`](VirtualVec::set_len). What the slots hold is
    /// unspecified (memory from the warm cache may hold what a previous owner wrote): treat
    /// them as uninitialized.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u8>::with_capacity(10);
    /// v.push(1);
    /// let capacity = v.capacity();
    /// let spare = v.spare_capacity_mut();
    /// assert_eq!(spare.len(), capacity - 1);
    /// spare[0].write(2);
    /// // SAFETY: slot 1 was just written.
    /// unsafe { v.set_len(2) };
    /// assert_eq!(v, [1, 2]);
    /// ```
    #[inline]
    pub fn spare_capacity_mut(&mut self) -> &mut [mem::MaybeUninit<T>] {
        // SAFETY: the slots `len..capacity` are committed and writable (or zero-sized), lie
        // in one allocation of at most `isize::MAX` bytes, hold no initialized element the
        // vector owns, and `MaybeUninit` allows any contents; `&mut self` makes the access
        // exclusive. The pointer is aligned (dangling only when `capacity` is 0 or `T` is
        // zero-sized).
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr().add(self.len).cast(), self.capacity - self.len) }
    }

    /// Decommits the pages past the first `max(len, min_capacity)` elements (rounded up to
    /// pages), returning their memory to the OS; nothing happens when the capacity is
    /// already no larger (except that memory committed beyond the capacity goes back too).
    /// The elements keep their addresses. One `decommit` system call, as
    /// [`shrink_to_fit`](VirtualVec::shrink_to_fit), whose errors it ignores the same way;
    /// [`try_shrink_to`](VirtualVec::try_shrink_to) returns them.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::<u64>::with_capacity(1 << 20);
    /// v.extend(0..10);
    /// v.shrink_to(1000);
    /// assert!(v.capacity() >= 1000 && v.capacity() < 1 << 20);
    /// assert_eq!(v.committed_bytes(), (8000usize).next_multiple_of(vmem::page_size()));
    /// ```
    pub fn shrink_to(&mut self, min_capacity: usize) {
        // On failure the memory simply stays committed, which is still correct.
        let _ = self.try_shrink_to(min_capacity);
    }

    /// Decommits the pages past the first `max(len, min_capacity)` elements, or returns the
    /// OS error (the vector is unchanged then).
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<u16> = (0..10_000).collect();
    /// v.clear();
    /// v.try_shrink_to(0)?;
    /// assert_eq!(v.committed_bytes(), 0);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn try_shrink_to(&mut self, min_capacity: usize) -> Result<()> {
        if Self::IS_ZERO_SIZED {
            return Ok(());
        }
        let keep = self.len.max(min_capacity.min(self.capacity));
        // Not zero-sized: `keep <= capacity`, so `keep * size` fits in isize.
        self.region.decommit_from(keep * Self::ELEMENT_SIZE)?;
        self.capacity = (self.region.committed() / Self::ELEMENT_SIZE).min(self.max_capacity);
        self.push_limit = self.push_limit.min(self.capacity);
        Ok(())
    }

    /// Consumes the vector and returns its elements as a mutable slice that lives for the
    /// rest of the program (`'static` when `T` is). The elements are never dropped, and the
    /// reservation is never released: it does not go to the [warm cache](crate::cache)
    /// either, so nothing else is ever given this memory. Its address space (the whole
    /// maximum, [`DEFAULT_RESERVE_BYTES`] by default) and committed memory stay taken; call
    /// [`shrink_to_fit`](VirtualVec::shrink_to_fit) first to return the memory past the
    /// elements, or give the vector a smaller maximum.
    ///
    /// ```
    /// let mut v = vmem::VirtualVec::with_max_capacity(3)?;
    /// v.extend([1, 2, 3]);
    /// let forever: &'static mut [i32] = v.leak();
    /// forever[0] = 10;
    /// assert_eq!(forever, [10, 2, 3]);
    /// # Ok::<(), vmem::Error>(())
    /// ```
    pub fn leak<'a>(self) -> &'a mut [T] {
        // Without its destructor the vector neither drops its elements nor gives its region
        // back (`GrowRegion`'s drop never runs), so the reservation stays mapped and ours.
        let mut vec = mem::ManuallyDrop::new(self);
        // SAFETY: the first `len` elements are initialized; the memory stays reserved,
        // committed and unused by anything else for the rest of the program, and the vector
        // that owned it is gone, so this is the only reference.
        unsafe { slice::from_raw_parts_mut(vec.as_mut_ptr(), vec.len) }
    }
}

/// `(start, end)` of `range` in a vector of `len` elements, or `None` when out of bounds.
fn bounds(range: &impl RangeBounds<usize>, len: usize) -> Option<(usize, usize)> {
    let start = match range.start_bound() {
        Bound::Included(&start) => start,
        Bound::Excluded(&start) => start.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&end) => end.checked_add(1)?,
        Bound::Excluded(&end) => end,
        Bound::Unbounded => len,
    };
    (start <= end && end <= len).then_some((start, end))
}

fn out_of_bounds(operation: &'static str, detail: &'static str, len: usize) -> Error {
    Error::new(ErrorKind::OutOfBounds, operation, detail).with_limit("len", len as u64)
}

#[cold]
#[inline(never)]
#[track_caller]
fn range_failed(operation: &str, range: &impl RangeBounds<usize>, len: usize) -> ! {
    panic!(
        "{operation} range ({:?}, {:?}) is out of bounds or decreasing for a vector of length {len}",
        range.start_bound(),
        range.end_bound(),
    )
}

#[cold]
#[inline(never)]
#[track_caller]
fn index_failed(what: &str, relation: &str, index: usize, len: usize) -> ! {
    panic!("{what} index (is {index}) should be {relation} len (is {len})")
}

/// Writes a locally counted length back when dropped, also during a panic.
struct SetLenOnDrop<'a> {
    len: &'a mut usize,
    local: usize,
}

impl Drop for SetLenOnDrop<'_> {
    fn drop(&mut self) {
        *self.len = self.local;
    }
}

/// Closes the holes `retain_mut` made and restores the length, also during a panic.
struct RetainGuard<'a, T> {
    vec: &'a mut VirtualVec<T>,
    processed: usize,
    deleted: usize,
    original_len: usize,
}

impl<T> Drop for RetainGuard<'_, T> {
    fn drop(&mut self) {
        if self.deleted > 0 {
            // SAFETY: `processed..original_len` are initialized elements not yet visited; they
            // move down over the `deleted` holes just before them (`ptr::copy` allows overlap).
            unsafe {
                let base = self.vec.ptr.as_ptr();
                ptr::copy(
                    base.add(self.processed),
                    base.add(self.processed - self.deleted),
                    self.original_len - self.processed,
                );
            }
        }
        self.vec.len = self.original_len - self.deleted;
    }
}

impl<T> Drop for VirtualVec<T> {
    fn drop(&mut self) {
        // SAFETY: the first `len` elements are initialized and owned by the vector; the
        // reservation is released after this, when the field is dropped.
        unsafe { ptr::drop_in_place(ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len)) };
    }
}

impl<T> Default for VirtualVec<T> {
    /// The same as [`VirtualVec::new`].
    fn default() -> Self {
        Self::new()
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
        Index::index(self.as_slice(), index)
    }
}

impl<T, I: SliceIndex<[T]>> IndexMut<I> for VirtualVec<T> {
    #[inline]
    fn index_mut(&mut self, index: I) -> &mut I::Output {
        IndexMut::index_mut(self.as_mut_slice(), index)
    }
}

impl<T> Extend<T> for VirtualVec<T> {
    /// Appends every item; panics when the vector fills up (as
    /// [`push`](VirtualVec::push)). See [`try_extend`](VirtualVec::try_extend).
    #[track_caller]
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.reserve_hint(iter.size_hint().0);
        for item in iter {
            self.push(item);
        }
    }
}

impl<'a, T: Copy + 'a> Extend<&'a T> for VirtualVec<T> {
    /// Appends a copy of every item; panics when the vector fills up.
    #[track_caller]
    fn extend<I: IntoIterator<Item = &'a T>>(&mut self, iter: I) {
        self.extend(iter.into_iter().copied());
    }
}

impl<T> FromIterator<T> for VirtualVec<T> {
    /// Collects into a [`VirtualVec::new`]; panics when the items do not fit.
    #[track_caller]
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut vec = VirtualVec::new();
        vec.extend(iter);
        vec
    }
}

impl<T: Clone> Clone for VirtualVec<T> {
    /// See [`try_clone`](VirtualVec::try_clone); panics when the copy's memory cannot be
    /// reserved or committed.
    #[track_caller]
    fn clone(&self) -> Self {
        self.try_clone().unwrap_or_else(|err| failed("VirtualVec::clone", err))
    }
}

impl<T: fmt::Debug> fmt::Debug for VirtualVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_at_least_doubles_committed_bytes() {
        let mut v = VirtualVec::<u64>::new();
        let mut steps = 0;
        let mut last = 0;
        for i in 0..1_000_000u64 {
            v.push(i);
            if v.committed_bytes() != last {
                assert!(last == 0 || v.committed_bytes() >= 2 * last);
                last = v.committed_bytes();
                steps += 1;
            }
        }
        assert!(steps <= 8, "{steps} commits");
        assert!((8_000_000..=16_000_000 + MIN_COMMIT_BYTES).contains(&last), "{last}");
    }

    #[test]
    fn capacity_never_exceeds_max_or_committed_bytes() {
        let mut v = VirtualVec::<[u8; 3]>::with_max_capacity(5000).unwrap();
        v.push([0; 3]);
        assert_eq!(v.capacity(), 5000.min(v.committed_bytes() / 3));
        v.extend(core::iter::repeat_n([1; 3], 4999));
        assert_eq!(v.capacity(), 5000);
        assert!(v.try_push([2; 3]).is_err());
    }

    #[test]
    fn over_aligned_elements_are_aligned() {
        #[derive(Clone, Copy)]
        #[repr(align(65536))]
        struct Big(#[allow(dead_code)] u8);
        let mut v = VirtualVec::new();
        v.push(Big(1));
        v.push(Big(2));
        assert_eq!(v.as_ptr() as usize % 65536, 0);
    }

    #[test]
    fn bounds_follow_slice_rules() {
        assert_eq!(bounds(&(..), 3), Some((0, 3)));
        assert_eq!(bounds(&(1..=2), 3), Some((1, 3)));
        assert_eq!(bounds(&(3..), 3), Some((3, 3)));
        assert_eq!(bounds(&(Bound::Included(2), Bound::Excluded(1)), 3), None);
        assert_eq!(bounds(&(..=3), 3), None);
        assert_eq!(bounds(&(..=usize::MAX), 3), None);
        assert_eq!(bounds(&(Bound::Excluded(usize::MAX), Bound::Unbounded), 3), None);
    }
}
