//! `RingBuffer`: a ring buffer whose readable and writable parts are always one slice, for
//! one thread or split between a producer thread and a consumer thread.
//!
//! The same memory is mapped twice, back to back:
//!
//! ```text
//!   address:  base              base + capacity          base + 2 * capacity
//!             |  first mapping  |  second mapping (same pages)  |
//!   bytes:    | ..... c d e f | a b ..... c d e f | a b ..... |
//!                       ^ read position        ^ a read of 6 bytes runs on into the
//!                                                second mapping, which shows the start
//! ```
//!
//! Whatever the read position, the `len()` readable elements are contiguous in memory, and
//! so are the `available()` writable ones: no split reads or writes, no copying at the wrap.
//! Hand [`RingBuffer::readable`] straight to a parser or a `write` system call, or
//! [`RingBuffer::writable`] to a `read` system call.
//!
//! # Elements
//!
//! `RingBuffer<T = u8>` holds any `T: Copy`; bytes are the default. The double mapping only
//! makes slices contiguous if the wrap falls on an element boundary, so the mapped size is
//! the smallest multiple of both the allocation granularity and `size_of::<T>()` that holds
//! the requested length: a multiple of 4 KiB for any power-of-two element size (on 4 KiB
//! pages), 12 KiB for a 24-byte element. [`capacity`](RingBuffer::capacity) is that size
//! divided by the element size. Zero-sized types and types aligned to more than a page
//! are refused with an error.
//!
//! # One writer thread and one reader thread
//!
//! [`RingBuffer::split`] turns the buffer into a [`Producer`] and a [`Consumer`], each
//! `Send`, for one thread each. They are lock-free (one atomic store per write or read, an
//! atomic load of the other side's position only when needed) and each still hands out one
//! contiguous slice: [`Producer::writable`] and [`Consumer::readable`]. The mapping is freed
//! when both halves are dropped; [`RingBuffer::join`] puts them back together. For bytes,
//! the halves implement `std::io::Write` and `std::io::Read` + `BufRead` like a non-blocking
//! pipe: `WouldBlock` when full or empty, end of file once the producer is gone.
//!
//! # Cost model
//!
//! Creating one is a handful of system calls (Linux: `memfd_create`, `ftruncate`, three
//! `mmap`s) and dropping it one `munmap`. Everything else is user space: a write or read is
//! a `memcpy` (or nothing, with the zero-copy slices) and a counter update; `push` and `pop`
//! copy one element. On the split halves each write or read also does one `Release` store
//! of its position; the other side's position is loaded (one `Acquire` load, which moves a
//! cache line between cores only when that side has moved) by [`Producer::writable`],
//! [`Consumer::readable`] and the queries, and by the other calls only when their cached
//! copy of it shows too little room or data. Each half is padded to 128 bytes, so keeping
//! the two side by side (a tuple, one struct) costs nothing: no line is written by both.
//!
//! # Platforms
//!
//! Linux and Android map a `memfd` twice (an unlinked `O_TMPFILE` file where
//! `memfd_create` is missing); macOS remaps the first half over the second with
//! `mach_vm_remap`; FreeBSD maps a `SHM_ANON` object twice; Windows maps a pagefile-backed
//! section into two placeholders (`VirtualAlloc2` + `MapViewOfFile3`, Windows 10 1803+,
//! looked up at run time: `Unsupported` on older Windows). No file descriptor or handle stays
//! open.
//!
//! After `fork` (Unix), the child has the whole double mapping, over the *same* bytes as its
//! parent: the memory is shared, not copied, while the read and write positions are the
//! child's own copy. Use a ring on one side of a fork only.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of, MaybeUninit};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::{os, Error, ErrorKind, Result};

/// The double mapping of `bytes` bytes (so `2 * bytes` of address space); unmapped on drop.
struct Mapping {
    base: NonNull<u8>,
    bytes: usize,
}

// SAFETY: a `Mapping` is an address range this process owns outright; it never reads or
// writes through `base` itself (only unmaps it on drop), so moving it to or sharing it with
// another thread is harmless. What is stored in it is guarded by the types that use it.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`: `&Mapping` gives access to nothing but two numbers.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(bytes: usize) -> Result<Mapping> {
        let base = os::ring_map(bytes)?;
        let base = NonNull::new(base).ok_or(
            Error::new(ErrorKind::Os, "RingBuffer::with_capacity", "the OS returned a null address").sized(bytes),
        )?;
        Ok(Mapping { base, bytes })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping came from `ring_map(bytes)` and its owner (a ring buffer, or
        // the last of its two halves) is being dropped, so nothing refers to it any more.
        // Unmapping only fails for arguments we never pass.
        let _ = unsafe { os::ring_unmap(self.base.as_ptr(), self.bytes) };
    }
}

/// The mapped size for at least `min_len` elements of `T`: a multiple of the allocation
/// granularity and of `size_of::<T>()`, so that the wrap falls on an element boundary.
fn mapped_bytes<T>(min_len: usize) -> Result<usize> {
    const OP: &str = "RingBuffer::with_capacity";
    let size = size_of::<T>();
    if min_len == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, OP, "the capacity is zero").sized(0));
    }
    if size == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            OP,
            "zero-sized element types take no memory to map (use a counter instead)",
        ));
    }
    if align_of::<T>() > crate::page_size() {
        return Err(Error::new(ErrorKind::InvalidArgument, OP, "the element type is aligned to more than a page")
            .with_limit("page size", crate::page_size() as u64));
    }
    let too_large = || {
        Error::new(ErrorKind::OutOfAddressSpace, OP, "twice the capacity does not fit in the address space")
            .sized(bytes_of::<T>(min_len))
            .with_limit("isize::MAX / 2", (isize::MAX / 2) as u64)
    };
    let granularity = crate::allocation_granularity();
    let step = (granularity / gcd(granularity, size)).checked_mul(size).ok_or_else(too_large)?;
    let bytes = min_len.checked_mul(size).ok_or_else(too_large)?;
    let mapped = bytes.div_ceil(step).checked_mul(step).ok_or_else(too_large)?;
    if mapped > isize::MAX as usize / 2 {
        return Err(too_large());
    }
    Ok(mapped)
}

/// `n` elements of `T` in bytes, for error messages (which give sizes in bytes).
fn bytes_of<T>(n: usize) -> usize {
    n.saturating_mul(size_of::<T>())
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A ring buffer on doubly mapped memory, of bytes unless `T` says otherwise: see the
/// [module docs](self).
///
/// ```
/// use vmem::RingBuffer;
///
/// let mut ring: RingBuffer = RingBuffer::with_capacity(4096)?;
/// let capacity = ring.capacity();
/// // Fill most of it and drain it, so that the next write wraps around the end.
/// ring.push_slice(&vec![0; capacity - 3]);
/// ring.advance_read(capacity - 3)?;
/// assert_eq!(ring.push_slice(b"hello, world"), 12);
/// // The wrapped bytes still read as one contiguous slice.
/// assert_eq!(ring.readable(), b"hello, world");
///
/// // Any `Copy` type: the capacity is rounded so that the wrap falls between elements.
/// let mut samples = RingBuffer::<[f32; 3]>::new(1000)?;
/// samples.push([0.5, 1.0, 2.0]).unwrap();
/// assert_eq!(samples.pop(), Some([0.5, 1.0, 2.0]));
/// # Ok::<(), vmem::Error>(())
/// ```
pub struct RingBuffer<T: Copy = u8> {
    map: Mapping,
    /// The number of elements of `T` that fit: `map.bytes / size_of::<T>()`.
    capacity: usize,
    /// Where the next read starts, in `[0, capacity)`.
    read: usize,
    /// Elements written and not yet read, in `[0, capacity]`.
    len: usize,
    _elements: PhantomData<T>,
}

// `Send` and `Sync` follow from `Mapping`'s and `T`'s: the buffer owns its mapping outright,
// `&RingBuffer` only reads the readable elements, and all mutation takes `&mut`.

impl<T: Copy> RingBuffer<T> {
    /// Creates a ring buffer of at least `min_len` elements, rounded up so that the mapped
    /// size is a multiple of the [`allocation_granularity`](crate::allocation_granularity)
    /// and of `size_of::<T>()` (so the wrap always falls between two elements). For bytes,
    /// [`with_capacity`](RingBuffer::with_capacity) is the same.
    ///
    /// # Errors
    /// `InvalidArgument` for zero, a zero-sized `T`, or a `T` aligned to more than a page;
    /// `OutOfAddressSpace` when the size is absurd or there is no room; `OutOfMemory` when
    /// the OS cannot provide the shared memory.
    ///
    /// ```
    /// use vmem::RingBuffer;
    /// // 24-byte elements: the mapping is a multiple of 3 pages, so the wrap falls between two.
    /// let ring = RingBuffer::<[u64; 3]>::new(1).unwrap();
    /// assert_eq!(ring.capacity() * 24 % vmem::allocation_granularity(), 0);
    /// assert!(RingBuffer::<u64>::new(0).is_err());
    /// assert!(RingBuffer::<()>::new(10).is_err());
    /// ```
    pub fn new(min_len: usize) -> Result<RingBuffer<T>> {
        let bytes = mapped_bytes::<T>(min_len)?;
        let map = Mapping::new(bytes)?;
        Ok(RingBuffer { map, capacity: bytes / size_of::<T>(), read: 0, len: 0, _elements: PhantomData })
    }

    /// The number of elements the buffer holds when full.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::<u8>::with_capacity(1).unwrap();
    /// assert_eq!(ring.capacity(), vmem::allocation_granularity());
    /// let ring = vmem::RingBuffer::<u32>::new(1).unwrap();
    /// assert_eq!(ring.capacity(), vmem::allocation_granularity() / 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of elements written and not yet read.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// assert_eq!(ring.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// [`len`](RingBuffer::len), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::new(1).unwrap();
    /// ring.push(7u16).unwrap();
    /// assert_eq!(ring.occupied_len(), 1);
    /// ```
    pub fn occupied_len(&self) -> usize {
        self.len
    }

    /// Whether there is nothing to read.
    ///
    /// ```
    /// assert!(vmem::RingBuffer::<u8>::with_capacity(1).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether there is no room to write.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// let n = ring.capacity();
    /// ring.push_slice(&vec![7u8; n]);
    /// assert!(ring.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// The number of elements that can be written before the buffer is full.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"ab");
    /// assert_eq!(ring.available(), ring.capacity() - 2);
    /// ```
    pub fn available(&self) -> usize {
        self.capacity - self.len
    }

    /// [`available`](RingBuffer::available), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::<u64>::new(100).unwrap();
    /// assert_eq!(ring.vacant_len(), ring.capacity());
    /// ```
    pub fn vacant_len(&self) -> usize {
        self.available()
    }

    /// The address of slot `index` of the double mapping.
    ///
    /// # Safety
    /// `index <= 2 * capacity`.
    unsafe fn slot(&self, index: usize) -> *mut T {
        // SAFETY: the caller keeps `index` within the `2 * capacity` elements mapped; the
        // base is page-aligned and `size_of::<T>()` a multiple of `align_of::<T>()`, so the
        // result is aligned for `T`.
        unsafe { self.map.base.as_ptr().cast::<T>().add(index) }
    }

    /// The readable elements, oldest first, as one slice.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"xyz");
    /// assert_eq!(ring.readable(), b"xyz");
    /// ```
    pub fn readable(&self) -> &[T] {
        // SAFETY: `read < capacity` and `len <= capacity`, so the slice lies inside the
        // `2 * capacity` double mapping; those elements were written as valid `T`s (by
        // `push`, `push_slice`, or a caller of `assume_written` who promised it), and `&self`
        // keeps writers out while the slice lives.
        unsafe { core::slice::from_raw_parts(self.slot(self.read), self.len) }
    }

    /// The readable elements as one mutable slice, to change them in place before reading
    /// (decrypting, say).
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// ring.readable_mut().make_ascii_uppercase();
    /// assert_eq!(ring.readable(), b"ABC");
    /// ```
    pub fn readable_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `readable`; `&mut self` makes the slice the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.slot(self.read), self.len) }
    }

    /// The readable elements as `VecDeque::as_slices` and `ringbuf` hand them out: here the
    /// second slice is always empty, as the first holds everything.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::new(1).unwrap();
    /// ring.push_slice(&[1u32, 2, 3]);
    /// assert_eq!(ring.as_slices(), (&[1, 2, 3][..], &[][..]));
    /// ```
    pub fn as_slices(&self) -> (&[T], &[T]) {
        (self.readable(), &[])
    }

    /// [`readable_mut`](RingBuffer::readable_mut) in the shape of `VecDeque::as_mut_slices`:
    /// the second slice is always empty.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::new(1).unwrap();
    /// ring.push_slice(&[1u32, 2, 3]);
    /// let (first, second) = ring.as_mut_slices();
    /// first[0] = 10;
    /// assert!(second.is_empty());
    /// assert_eq!(ring.readable(), [10, 2, 3]);
    /// ```
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        (self.readable_mut(), &mut [])
    }

    /// The free space, as one slice of possibly uninitialized elements to write into; then
    /// call [`assume_written`](RingBuffer::assume_written). For bytes,
    /// [`writable`](RingBuffer::writable) does the same without `unsafe`.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::<u64>::new(1).unwrap();
    /// for (i, slot) in ring.writable_uninit()[..3].iter_mut().enumerate() {
    ///     slot.write(i as u64 * 10);
    /// }
    /// // SAFETY: the first three free slots were written just above.
    /// unsafe { ring.assume_written(3).unwrap() };
    /// assert_eq!(ring.readable(), [0, 10, 20]);
    /// ```
    pub fn writable_uninit(&mut self) -> &mut [MaybeUninit<T>] {
        let start = self.write_offset();
        // SAFETY: `start < capacity` and `available <= capacity`, so the slice lies inside the
        // double mapping; it does not overlap the readable elements (it ends where they start,
        // one capacity later), `MaybeUninit` makes no claim about its contents, and `&mut self`
        // makes it the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.slot(start).cast::<MaybeUninit<T>>(), self.available()) }
    }

    /// Marks the first `n` elements of [`writable_uninit`](RingBuffer::writable_uninit) as
    /// written.
    ///
    /// # Safety
    /// Those `n` elements must have been initialized (written through `writable_uninit`) since
    /// the buffer last handed them out: they are read as `T` from now on.
    ///
    /// # Errors
    /// `OutOfBounds` when `n` exceeds [`available`](RingBuffer::available); nothing changes
    /// then.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::<u32>::new(1).unwrap();
    /// ring.writable_uninit()[0].write(5);
    /// // SAFETY: the first free slot was just written.
    /// unsafe { ring.assume_written(1).unwrap() };
    /// assert_eq!(ring.pop(), Some(5));
    /// ```
    pub unsafe fn assume_written(&mut self, n: usize) -> Result<()> {
        self.check_write(n, "RingBuffer::assume_written")?;
        self.len += n;
        Ok(())
    }

    fn check_write(&self, n: usize, operation: &'static str) -> Result<()> {
        if n > self.available() {
            return Err(Error::new(ErrorKind::OutOfBounds, operation, "more than the free space")
                .sized(bytes_of::<T>(n))
                .with_limit("available bytes", bytes_of::<T>(self.available()) as u64));
        }
        Ok(())
    }

    /// Where the next write starts, in `[0, capacity)`.
    fn write_offset(&self) -> usize {
        let end = self.read + self.len;
        if end >= self.capacity {
            end - self.capacity
        } else {
            end
        }
    }

    /// Marks `n` elements as read, freeing their space.
    ///
    /// # Errors
    /// `OutOfBounds` when `n` exceeds [`len`](RingBuffer::len); nothing changes then.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// ring.advance_read(2).unwrap();
    /// assert_eq!(ring.readable(), b"c");
    /// assert!(ring.advance_read(2).is_err());
    /// ```
    pub fn advance_read(&mut self, n: usize) -> Result<()> {
        if n > self.len {
            return Err(Error::new(
                ErrorKind::OutOfBounds,
                "RingBuffer::advance_read",
                "more than the readable elements",
            )
            .sized(bytes_of::<T>(n))
            .with_limit("readable bytes", bytes_of::<T>(self.len) as u64));
        }
        self.read += n;
        if self.read >= self.capacity {
            self.read -= self.capacity;
        }
        self.len -= n;
        if self.len == 0 {
            // Start over at the beginning: keeps later writes in the same pages.
            self.read = 0;
        }
        Ok(())
    }

    /// Appends one element, or hands it back when the buffer is full.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::<u64>::new(1).unwrap();
    /// for i in 0..ring.capacity() as u64 {
    ///     ring.push(i).unwrap();
    /// }
    /// assert_eq!(ring.push(99), Err(99));
    /// ```
    pub fn push(&mut self, value: T) -> core::result::Result<(), T> {
        if self.len == self.capacity {
            return Err(value);
        }
        // SAFETY: the buffer is not full, so slot `write_offset() < capacity` is free and
        // mapped; `&mut self` excludes every other access.
        unsafe { self.slot(self.write_offset()).write(value) };
        self.len += 1;
        Ok(())
    }

    /// [`push`](RingBuffer::push), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.try_push(b'x').unwrap();
    /// assert_eq!(ring.try_pop(), Some(b'x'));
    /// ```
    pub fn try_push(&mut self, value: T) -> core::result::Result<(), T> {
        self.push(value)
    }

    /// Removes and returns the oldest element, if any.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::new(1).unwrap();
    /// ring.push('a').unwrap();
    /// assert_eq!(ring.pop(), Some('a'));
    /// assert_eq!(ring.pop(), None);
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        // SAFETY: the buffer is not empty, so slot `read < capacity` holds a written `T`.
        let value = unsafe { self.slot(self.read).read() };
        // Cannot fail: one element is readable.
        let _ = self.advance_read(1);
        Some(value)
    }

    /// [`pop`](RingBuffer::pop), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::<i32>::new(1).unwrap();
    /// assert_eq!(ring.try_pop(), None);
    /// ```
    pub fn try_pop(&mut self) -> Option<T> {
        self.pop()
    }

    /// Copies as much of `data` as fits; returns the number of elements copied.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// assert_eq!(ring.push_slice(b"abc"), 3);
    /// ```
    pub fn push_slice(&mut self, data: &[T]) -> usize {
        let n = data.len().min(self.available());
        // SAFETY: the `n <= available` slots from the write offset are free, mapped and
        // contiguous (see `writable_uninit`); `data` is ordinary memory outside the mapping
        // (a `&[T]` of it could not coexist with `&mut self`), so the ranges do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.slot(self.write_offset()), n) };
        self.len += n;
        n
    }

    /// Copies up to `out.len()` readable elements into `out` and marks them read; returns
    /// the number of elements copied.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// let mut out = [0; 2];
    /// assert_eq!(ring.pop_slice(&mut out), 2);
    /// assert_eq!(&out, b"ab");
    /// ```
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize {
        let n = self.peek(out);
        // Cannot fail: `n <= len`.
        let _ = self.advance_read(n);
        n
    }

    /// Copies up to `out.len()` readable elements into `out` without marking them read.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// let mut out = [0; 8];
    /// assert_eq!(ring.peek(&mut out), 3);
    /// assert_eq!(ring.len(), 3);
    /// ```
    pub fn peek(&self, out: &mut [T]) -> usize {
        let n = out.len().min(self.len);
        out[..n].copy_from_slice(&self.readable()[..n]);
        n
    }

    /// Discards everything readable.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// ring.clear();
    /// assert!(ring.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.read = 0;
        self.len = 0;
    }

    /// Locks the buffer's memory in RAM (`mlock`/`VirtualLock`) so it is never written to
    /// swap: for secrets passing through, or a producer that must not wait on a page fault.
    /// Both views share the same pages, so this locks `capacity` elements' worth.
    ///
    /// # Errors
    /// `OutOfMemory` or `PermissionDenied` when the OS refuses, naming `RLIMIT_MEMLOCK` where
    /// that is the limit; the buffer and its contents are unchanged and still usable.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"secret");
    /// if ring.lock().is_ok() {
    ///     ring.unlock().unwrap();
    /// }
    /// assert_eq!(ring.readable(), b"secret");
    /// ```
    pub fn lock(&self) -> Result<()> {
        // SAFETY: the first view is our mapping, committed and read-write for its life.
        unsafe { crate::lock(self.map.base.as_ptr(), self.map.bytes) }
    }

    /// Unlocks what [`lock`](RingBuffer::lock) locked. Unlocking a buffer that is not locked
    /// is harmless.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::<u8>::with_capacity(1).unwrap();
    /// ring.unlock().unwrap();
    /// ```
    pub fn unlock(&self) -> Result<()> {
        // SAFETY: as in `lock`; unlocking does not change the contents.
        unsafe { crate::unlock(self.map.base.as_ptr(), self.map.bytes) }
    }

    /// Splits the buffer into a [`Producer`] and a [`Consumer`] for one writer thread and one
    /// reader thread; what it holds stays readable. The mapping is freed when both are
    /// dropped, or [`join`](RingBuffer::join) them to get the buffer back.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::<u64>::new(1024).unwrap();
    /// let (mut producer, mut consumer) = ring.split();
    /// let writer = std::thread::spawn(move || {
    ///     for i in 0..100_000u64 {
    ///         while producer.push(i).is_err() {
    ///             std::hint::spin_loop(); // full: wait for the reader
    ///         }
    ///     }
    /// });
    /// let mut expected = 0;
    /// while expected < 100_000 {
    ///     let batch = consumer.readable(); // everything written so far, as one slice
    ///     for &value in batch {
    ///         assert_eq!(value, expected);
    ///         expected += 1;
    ///     }
    ///     let n = batch.len();
    ///     consumer.advance_read(n).unwrap();
    /// }
    /// writer.join().unwrap();
    /// ```
    pub fn split(self) -> (Producer<T>, Consumer<T>) {
        let RingBuffer { map, capacity, read, len, _elements } = self;
        let head = read;
        // `read < capacity` and `len <= capacity`: below `2 * capacity`, as positions must be.
        let tail = read + len;
        let base = map.base.cast::<T>();
        let shared = Arc::new(Shared {
            head: CachePadded(AtomicUsize::new(head)),
            tail: CachePadded(AtomicUsize::new(tail)),
            producer_dropped: AtomicBool::new(false),
            consumer_dropped: AtomicBool::new(false),
            map,
            _elements: PhantomData,
        });
        let producer = Producer { base, capacity, tail, head_cache: Cell::new(head), shared: Arc::clone(&shared) };
        let consumer = Consumer { base, capacity, head, tail_cache: Cell::new(tail), shared };
        (producer, consumer)
    }

    /// Puts the two halves of one [`split`](RingBuffer::split) back together, with what they
    /// hold; hands them back if they come from different buffers.
    ///
    /// ```
    /// use vmem::RingBuffer;
    /// let (mut producer, consumer) = RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"kept");
    /// let ring = RingBuffer::join(producer, consumer).unwrap();
    /// assert_eq!(ring.readable(), b"kept");
    ///
    /// let (producer, _) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// let (_, consumer) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert!(RingBuffer::join(producer, consumer).is_err());
    /// ```
    // The halves are 128 bytes each (padded so that they share no cache line); handing them
    // back by value, as they came, is the point of the error.
    #[allow(clippy::result_large_err)]
    pub fn join(
        producer: Producer<T>,
        consumer: Consumer<T>,
    ) -> core::result::Result<RingBuffer<T>, (Producer<T>, Consumer<T>)> {
        if !Arc::ptr_eq(&producer.shared, &consumer.shared) {
            return Err((producer, consumer));
        }
        let capacity = producer.capacity;
        let (head, tail) = (consumer.head, producer.tail);
        let len = distance(head, tail, capacity);
        let read = if len == 0 { 0 } else { position(head, capacity) };
        let shared = Arc::clone(&producer.shared);
        drop(producer);
        drop(consumer);
        // Only the two halves ever hold a `Shared` (neither is `Clone`) and both are gone, so
        // this is the last reference.
        match Arc::try_unwrap(shared) {
            Ok(Shared { map, .. }) => Ok(RingBuffer { map, capacity, read, len, _elements: PhantomData }),
            Err(_) => unreachable!("a ring buffer's halves are its only owners"),
        }
    }
}

impl RingBuffer<u8> {
    /// Creates a byte ring buffer of at least `min_bytes`, rounded up to a multiple of the
    /// [`allocation_granularity`](crate::allocation_granularity). Other element types:
    /// [`RingBuffer::new`].
    ///
    /// # Errors
    /// As [`RingBuffer::new`].
    ///
    /// ```
    /// let ring = vmem::RingBuffer::with_capacity(1000).unwrap();
    /// assert_eq!(ring.capacity() % vmem::allocation_granularity(), 0);
    /// assert!(ring.capacity() >= 1000);
    /// assert!(vmem::RingBuffer::with_capacity(0).is_err());
    /// ```
    pub fn with_capacity(min_bytes: usize) -> Result<RingBuffer> {
        RingBuffer::new(min_bytes)
    }

    /// The free space, as one slice to write into; then call [`advance_write`] with the
    /// number of bytes written. (For other element types: [`writable_uninit`].)
    ///
    /// [`advance_write`]: RingBuffer::advance_write
    /// [`writable_uninit`]: RingBuffer::writable_uninit
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.writable()[..2].copy_from_slice(b"hi");
    /// ring.advance_write(2).unwrap();
    /// assert_eq!(ring.readable(), b"hi");
    /// ```
    pub fn writable(&mut self) -> &mut [u8] {
        let free = self.writable_uninit();
        // SAFETY: every byte of the mapping is initialized memory (the shared memory reads
        // zero until written), and any byte is a valid `u8`.
        unsafe { core::slice::from_raw_parts_mut(free.as_mut_ptr().cast::<u8>(), free.len()) }
    }

    /// Marks `n` bytes of [`writable`](RingBuffer::writable) as written.
    ///
    /// # Errors
    /// `OutOfBounds` when `n` exceeds [`available`](RingBuffer::available); nothing changes
    /// then.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// let cap = ring.capacity();
    /// assert!(ring.advance_write(cap + 1).is_err());
    /// ring.advance_write(cap).unwrap();
    /// assert!(ring.is_full());
    /// ```
    pub fn advance_write(&mut self, n: usize) -> Result<()> {
        self.check_write(n, "RingBuffer::advance_write")?;
        self.len += n;
        Ok(())
    }
}

impl<T: Copy> fmt::Debug for RingBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingBuffer")
            .field("capacity", &self.capacity)
            .field("len", &self.len)
            .field("read", &self.read)
            .finish()
    }
}

/// Reads what is readable; `Ok(0)` only when the buffer is empty (or `buf` is).
///
/// ```
/// use std::io::{Read, Write};
/// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
/// ring.write_all(b"data").unwrap();
/// let mut text = String::new();
/// ring.read_to_string(&mut text).unwrap();
/// assert_eq!(text, "data");
/// ```
impl std::io::Read for RingBuffer<u8> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.pop_slice(buf))
    }
}

/// Writes what fits; `Ok(0)` when the buffer is full, which `write_all` reports as a
/// `WriteZero` error.
///
/// ```
/// use std::io::Write;
/// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
/// let cap = ring.capacity();
/// assert_eq!(ring.write(&vec![1; cap + 10]).unwrap(), cap);
/// assert_eq!(ring.write(b"x").unwrap(), 0);
/// ```
impl std::io::Write for RingBuffer<u8> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(self.push_slice(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `fill_buf` is [`RingBuffer::readable`] and `consume` is [`RingBuffer::advance_read`]
/// (clamped to what is readable).
///
/// ```
/// use std::io::{BufRead, Write};
/// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
/// ring.write_all(b"one\ntwo\n").unwrap();
/// let lines: Vec<String> = ring.lines().map(|l| l.unwrap()).collect();
/// assert_eq!(lines, ["one", "two"]);
/// ```
impl std::io::BufRead for RingBuffer<u8> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(self.readable())
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.advance_read(amt.min(self.len));
    }
}

// ---------------------------------------------------------------------------------------
// The split halves.
//
// Positions run over `[0, 2 * capacity)` (so that a full buffer, `tail - head == capacity`,
// differs from an empty one, `tail == head`) and address slot `position % capacity`, which
// the double mapping shows contiguously for up to `capacity` elements from any slot below
// `capacity`. `head` is written by the consumer only, `tail` by the producer only; each keeps
// its own position in a plain field and a cached copy of the other's.
//
// Ordering: the producer writes elements, then stores `tail` with `Release`; the consumer
// loads `tail` with `Acquire` before reading the elements below it, so it sees them written.
// The consumer reads elements, then stores `head` with `Release`; the producer loads `head`
// with `Acquire` before writing the slots below `head + capacity`, so the consumer's reads of
// those slots happen before they are overwritten. A cached copy is a value loaded that way
// earlier: the other side has only moved on since, so the cache shows less room (or data)
// than there is, never more.
// ---------------------------------------------------------------------------------------

/// Aligned (and so padded) to 128 bytes: the two positions live on cache lines of their own,
/// and the line pairs x86 prefetches together are not shared either.
#[repr(align(128))]
struct CachePadded<T>(T);

/// What the two halves share.
struct Shared<T> {
    /// The consumer's position: the next element to read.
    head: CachePadded<AtomicUsize>,
    /// The producer's position: the next slot to write.
    tail: CachePadded<AtomicUsize>,
    producer_dropped: AtomicBool,
    consumer_dropped: AtomicBool,
    map: Mapping,
    _elements: PhantomData<T>,
}

/// The number of elements from position `from` to position `to`.
#[inline]
fn distance(from: usize, to: usize, capacity: usize) -> usize {
    if to >= from {
        to - from
    } else {
        to + 2 * capacity - from
    }
}

/// Position `at` moved on by `n <= capacity`, back in `[0, 2 * capacity)`.
#[inline]
fn advance(at: usize, n: usize, capacity: usize) -> usize {
    let next = at + n;
    if next >= 2 * capacity {
        next - 2 * capacity
    } else {
        next
    }
}

/// The slot of position `at`, in `[0, capacity)`.
#[inline]
fn position(at: usize, capacity: usize) -> usize {
    if at >= capacity {
        at - capacity
    } else {
        at
    }
}

/// The writing half of a [`RingBuffer::split`]: for one thread, `Send`.
///
/// ```
/// use std::io::Write;
/// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
/// producer.write_all(b"through ").unwrap();
/// producer.push_slice(b"one slice");
/// std::thread::spawn(move || assert_eq!(consumer.readable(), b"through one slice")).join().unwrap();
/// ```
///
/// Each half is aligned (and so padded) to 128 bytes, so the two never share a cache line
/// wherever they are kept: as the tuple [`RingBuffer::split`] returns, or side by side in a
/// struct. Each half writes its own position into itself on every call, and halves that
/// shared a line would send it between the two cores every time: with 1.5 KiB messages
/// through 1 MiB, that made a stream 1.5x slower (BENCHMARKS.md).
///
/// ```
/// assert_eq!(std::mem::align_of::<vmem::Producer>(), 128);
/// ```
#[repr(align(128))]
pub struct Producer<T: Copy = u8> {
    base: NonNull<T>,
    capacity: usize,
    /// Our position; `shared.tail` holds the same value once published.
    tail: usize,
    /// The consumer's position, as last loaded.
    head_cache: Cell<usize>,
    shared: Arc<Shared<T>>,
}

/// The reading half of a [`RingBuffer::split`]: for one thread, `Send`.
///
/// ```
/// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
/// std::thread::spawn(move || producer.push_slice(b"hello")).join().unwrap();
/// assert_eq!(consumer.readable(), b"hello");
/// consumer.advance_read(5).unwrap();
/// assert!(consumer.is_empty());
/// ```
///
/// Aligned to 128 bytes, as the [`Producer`] is and for the same reason: the halves never
/// share a cache line.
///
/// ```
/// assert_eq!(std::mem::align_of::<vmem::Consumer>(), 128);
/// ```
#[repr(align(128))]
pub struct Consumer<T: Copy = u8> {
    base: NonNull<T>,
    capacity: usize,
    /// Our position; `shared.head` holds the same value once published.
    head: usize,
    /// The producer's position, as last loaded.
    tail_cache: Cell<usize>,
    shared: Arc<Shared<T>>,
}

// SAFETY: a producer moves values of `T` into memory that only the consumer reads, once it
// has seen them published; no `&T` is ever shared between the two threads at once. The
// mapping is freed by whichever half is dropped last (`Arc`). A `Producer` is not `Sync` (its
// cache is a `Cell`), so only one thread uses it at a time.
unsafe impl<T: Copy + Send> Send for Producer<T> {}
// SAFETY: as for `Producer`: the consumer reads only elements the producer published and
// handed over; it is not `Sync` either.
unsafe impl<T: Copy + Send> Send for Consumer<T> {}

impl<T: Copy> Producer<T> {
    /// The number of elements the buffer holds when full.
    ///
    /// ```
    /// let (producer, _) = vmem::RingBuffer::<u16>::new(100).unwrap().split();
    /// assert!(producer.capacity() >= 100);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of elements written and not yet read (at most: the consumer may be reading
    /// meanwhile). One atomic load.
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"abc");
    /// assert_eq!(producer.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        distance(self.load_head(), self.tail, self.capacity)
    }

    /// [`len`](Producer::len), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push(1u8).unwrap();
    /// assert_eq!(producer.occupied_len(), 1);
    /// ```
    pub fn occupied_len(&self) -> usize {
        self.len()
    }

    /// Whether the consumer has read everything written (at this instant).
    ///
    /// ```
    /// let (producer, _) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert!(producer.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of elements that can be written now (at least: the consumer may be
    /// freeing more). One atomic load.
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"ab");
    /// assert_eq!(producer.available(), producer.capacity() - 2);
    /// ```
    pub fn available(&self) -> usize {
        self.capacity - self.len()
    }

    /// [`available`](Producer::available), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let (producer, _) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert_eq!(producer.vacant_len(), producer.capacity());
    /// ```
    pub fn vacant_len(&self) -> usize {
        self.available()
    }

    /// Whether there is no room to write (at this instant).
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// let n = producer.capacity();
    /// producer.push_slice(&vec![0u8; n]);
    /// assert!(producer.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.available() == 0
    }

    /// Whether the [`Consumer`] has been dropped: nothing written from now on will be read.
    ///
    /// ```
    /// let (producer, consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert!(!producer.is_abandoned());
    /// drop(consumer);
    /// assert!(producer.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.consumer_dropped.load(Ordering::Acquire)
    }

    /// Loads the consumer's position and caches it.
    #[inline]
    fn load_head(&self) -> usize {
        // Acquire: pairs with the consumer's Release store of `head`, after its reads of the
        // slots below it (see the comment above `CachePadded`).
        let head = self.shared.head.0.load(Ordering::Acquire);
        self.head_cache.set(head);
        head
    }

    /// The free slots by the cached view, refreshed when it shows fewer than `wanted`.
    #[inline]
    fn free_for(&self, wanted: usize) -> usize {
        let free = self.capacity - distance(self.head_cache.get(), self.tail, self.capacity);
        if free >= wanted {
            return free;
        }
        self.capacity - distance(self.load_head(), self.tail, self.capacity)
    }

    /// Publishes `n` more written slots.
    #[inline]
    fn publish(&mut self, n: usize) {
        if n == 0 {
            // No store: a producer retrying on a full buffer must not keep taking the line
            // the consumer reads `tail` from.
            return;
        }
        self.tail = advance(self.tail, n, self.capacity);
        // Release: the elements just written happen before the consumer's Acquire load
        // that sees this position.
        self.shared.tail.0.store(self.tail, Ordering::Release);
    }

    /// The address of the next slot to write.
    #[inline]
    fn write_ptr(&self) -> *mut T {
        // SAFETY: `position(tail) < capacity`, inside the `2 * capacity` mapped elements; the
        // base is page-aligned, so the slot is aligned for `T`.
        unsafe { self.base.as_ptr().add(position(self.tail, self.capacity)) }
    }

    /// Appends one element, or hands it back when the buffer is full. Loads the consumer's
    /// position only when the cached copy shows the buffer full.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::<u32>::new(1).unwrap().split();
    /// producer.push(7).unwrap();
    /// assert_eq!(consumer.pop(), Some(7));
    /// ```
    pub fn push(&mut self, value: T) -> core::result::Result<(), T> {
        if self.free_for(1) == 0 {
            return Err(value);
        }
        // SAFETY: the slot is free: the consumer released it (Acquire load of `head`, see
        // `free_for`) and will not read it before we publish it below.
        unsafe { self.write_ptr().write(value) };
        self.publish(1);
        Ok(())
    }

    /// [`push`](Producer::push), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// assert_eq!(producer.try_push(1u8), Ok(()));
    /// ```
    pub fn try_push(&mut self, value: T) -> core::result::Result<(), T> {
        self.push(value)
    }

    /// Copies as much of `data` as fits, in one piece; returns the number of elements
    /// copied. Loads the consumer's position only when the cached copy shows too little
    /// room for all of `data`.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// assert_eq!(producer.push_slice(b"abc"), 3);
    /// assert_eq!(consumer.readable(), b"abc");
    /// ```
    pub fn push_slice(&mut self, data: &[T]) -> usize {
        let n = data.len().min(self.free_for(data.len()));
        // SAFETY: the `n` slots from `tail` are free (as in `push`) and contiguous in the
        // double mapping (they start below `capacity` and `n <= capacity`); `data` lies outside
        // it: the only references into the mapping are the consumer's to published elements,
        // which are never handed to the producer.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), self.write_ptr(), n) };
        self.publish(n);
        n
    }

    /// All the free space, as one slice of possibly uninitialized elements to write into;
    /// then call [`assume_written`](Producer::assume_written). Loads the consumer's position.
    /// For bytes, [`writable`](Producer::writable) does the same without `unsafe`.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::<u64>::new(1).unwrap().split();
    /// producer.writable_uninit()[0].write(42);
    /// // SAFETY: the first free slot was just written.
    /// unsafe { producer.assume_written(1).unwrap() };
    /// assert_eq!(consumer.pop(), Some(42));
    /// ```
    pub fn writable_uninit(&mut self) -> &mut [MaybeUninit<T>] {
        let free = self.capacity - distance(self.load_head(), self.tail, self.capacity);
        // SAFETY: the `free` slots from `tail` are free and contiguous (as in `push_slice`);
        // the consumer touches none of them until they are published, `&mut self` makes this
        // the producer's only reference, and `MaybeUninit` makes no claim about the contents.
        unsafe { core::slice::from_raw_parts_mut(self.write_ptr().cast::<MaybeUninit<T>>(), free) }
    }

    /// Publishes the first `n` elements of [`writable_uninit`](Producer::writable_uninit) to
    /// the consumer.
    ///
    /// # Safety
    /// Those `n` elements must have been initialized since the producer last handed them
    /// out: the consumer reads them as `T`.
    ///
    /// # Errors
    /// `OutOfBounds` when `n` exceeds the free space; nothing changes then.
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::<u64>::new(1).unwrap().split();
    /// let free = producer.writable_uninit().len();
    /// // SAFETY: nothing is published when the call fails.
    /// assert!(unsafe { producer.assume_written(free + 1) }.is_err());
    /// ```
    pub unsafe fn assume_written(&mut self, n: usize) -> Result<()> {
        self.check_write(n, "Producer::assume_written")?;
        self.publish(n);
        Ok(())
    }

    fn check_write(&self, n: usize, operation: &'static str) -> Result<()> {
        let free = self.free_for(n);
        if n > free {
            return Err(Error::new(ErrorKind::OutOfBounds, operation, "more than the free space")
                .sized(bytes_of::<T>(n))
                .with_limit("available bytes", bytes_of::<T>(free) as u64));
        }
        Ok(())
    }
}

impl Producer<u8> {
    /// All the free space, as one slice to write into (a `read` system call's buffer, say);
    /// then call [`advance_write`](Producer::advance_write). Loads the consumer's position.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.writable()[..2].copy_from_slice(b"hi");
    /// producer.advance_write(2).unwrap();
    /// assert_eq!(consumer.readable(), b"hi");
    /// ```
    pub fn writable(&mut self) -> &mut [u8] {
        let free = self.writable_uninit();
        // SAFETY: every byte of the mapping is initialized memory and any byte is a valid
        // `u8` (as in `RingBuffer::writable`).
        unsafe { core::slice::from_raw_parts_mut(free.as_mut_ptr().cast::<u8>(), free.len()) }
    }

    /// Publishes `n` bytes of [`writable`](Producer::writable) to the consumer.
    ///
    /// # Errors
    /// `OutOfBounds` when `n` exceeds the free space; nothing changes then.
    ///
    /// ```
    /// let (mut producer, _) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// let cap = producer.capacity();
    /// assert!(producer.advance_write(cap + 1).is_err());
    /// producer.advance_write(cap).unwrap();
    /// assert!(producer.is_full());
    /// ```
    pub fn advance_write(&mut self, n: usize) -> Result<()> {
        self.check_write(n, "Producer::advance_write")?;
        self.publish(n);
        Ok(())
    }
}

impl<T: Copy> Drop for Producer<T> {
    fn drop(&mut self) {
        // Release: everything published happens before a consumer that sees the flag (and
        // then loads `tail`) concludes that no more will come.
        self.shared.producer_dropped.store(true, Ordering::Release);
    }
}

impl<T: Copy> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl<T: Copy> Consumer<T> {
    /// The number of elements the buffer holds when full.
    ///
    /// ```
    /// let (_, consumer) = vmem::RingBuffer::<u16>::new(100).unwrap().split();
    /// assert!(consumer.capacity() >= 100);
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of elements readable now (at least: the producer may be writing more).
    /// One atomic load.
    ///
    /// ```
    /// let (mut producer, consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"abc");
    /// assert_eq!(consumer.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        distance(self.head, self.load_tail(), self.capacity)
    }

    /// [`len`](Consumer::len), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let (_, consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert_eq!(consumer.occupied_len(), 0);
    /// ```
    pub fn occupied_len(&self) -> usize {
        self.len()
    }

    /// Whether there is nothing to read (at this instant).
    ///
    /// ```
    /// let (_, consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert!(consumer.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The free space (at most: the producer may be filling it).
    ///
    /// ```
    /// let (_, consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert_eq!(consumer.available(), consumer.capacity());
    /// ```
    pub fn available(&self) -> usize {
        self.capacity - self.len()
    }

    /// [`available`](Consumer::available), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let (_, consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert_eq!(consumer.vacant_len(), consumer.capacity());
    /// ```
    pub fn vacant_len(&self) -> usize {
        self.available()
    }

    /// Whether the buffer is full (at this instant).
    ///
    /// ```
    /// let (mut producer, consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(&vec![1u8; producer.capacity()]);
    /// assert!(consumer.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity
    }

    /// Whether the [`Producer`] has been dropped: once this is empty, nothing more will come.
    ///
    /// ```
    /// let (producer, consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// drop(producer);
    /// assert!(consumer.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.shared.producer_dropped.load(Ordering::Acquire)
    }

    /// Loads the producer's position and caches it.
    #[inline]
    fn load_tail(&self) -> usize {
        // Acquire: pairs with the producer's Release store of `tail`, after its writes of
        // the elements below it.
        let tail = self.shared.tail.0.load(Ordering::Acquire);
        self.tail_cache.set(tail);
        tail
    }

    /// The readable elements by the cached view, refreshed when it shows fewer than `wanted`.
    #[inline]
    fn readable_for(&self, wanted: usize) -> usize {
        let len = distance(self.head, self.tail_cache.get(), self.capacity);
        if len >= wanted {
            return len;
        }
        distance(self.head, self.load_tail(), self.capacity)
    }

    /// The address of the next element to read.
    #[inline]
    fn read_ptr(&self) -> *mut T {
        // SAFETY: `position(head) < capacity`, inside the mapping, aligned for `T`.
        unsafe { self.base.as_ptr().add(position(self.head, self.capacity)) }
    }

    /// `len` published elements from `head` as a slice.
    ///
    /// # Safety
    /// `len` elements from `head` have been published (seen through an Acquire load of
    /// `tail`).
    #[inline]
    unsafe fn slice(&self, len: usize) -> &[T] {
        // SAFETY: the elements are written (the caller saw them published, and the
        // Release/Acquire pair makes the writes visible), contiguous in the double mapping
        // (from below `capacity`, at most `capacity` of them), and the producer does not touch
        // them until we release them with `advance_read`, which needs `&mut self`.
        unsafe { core::slice::from_raw_parts(self.read_ptr(), len) }
    }

    /// Everything readable now, oldest first, as one slice; then call
    /// [`advance_read`](Consumer::advance_read). Loads the producer's position.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"xyz");
    /// assert_eq!(consumer.readable(), b"xyz");
    /// ```
    pub fn readable(&self) -> &[T] {
        let len = distance(self.head, self.load_tail(), self.capacity);
        // SAFETY: `len` elements from `head` were just seen published.
        unsafe { self.slice(len) }
    }

    /// The oldest `n` elements as one slice, or `None` while fewer than `n` are readable:
    /// for a reader that waits for a whole message. Loads the producer's position only when
    /// the cached copy shows fewer than `n`.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"head");
    /// assert_eq!(consumer.readable_exact(8), None);
    /// producer.push_slice(b"tail");
    /// assert_eq!(consumer.readable_exact(8), Some(&b"headtail"[..]));
    /// ```
    pub fn readable_exact(&self, n: usize) -> Option<&[T]> {
        if self.readable_for(n) < n {
            return None;
        }
        // SAFETY: at least `n` elements from `head` were seen published.
        Some(unsafe { self.slice(n) })
    }

    /// Everything readable now as one mutable slice, to change in place before reading.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"abc");
    /// consumer.readable_mut().make_ascii_uppercase();
    /// assert_eq!(consumer.readable(), b"ABC");
    /// ```
    pub fn readable_mut(&mut self) -> &mut [T] {
        let len = distance(self.head, self.load_tail(), self.capacity);
        // SAFETY: as in `slice`; `&mut self` makes this the only reference, and the producer
        // never touches published elements.
        unsafe { core::slice::from_raw_parts_mut(self.read_ptr(), len) }
    }

    /// [`readable`](Consumer::readable) in the shape `ringbuf` and `VecDeque` hand it out: the
    /// second slice is always empty.
    ///
    /// ```
    /// let (mut producer, consumer) = vmem::RingBuffer::new(1).unwrap().split();
    /// producer.push_slice(&[1u16, 2]);
    /// assert_eq!(consumer.as_slices(), (&[1, 2][..], &[][..]));
    /// ```
    pub fn as_slices(&self) -> (&[T], &[T]) {
        (self.readable(), &[])
    }

    /// [`readable_mut`](Consumer::readable_mut) in the shape of `as_mut_slices`: the second
    /// slice is always empty.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::new(1).unwrap().split();
    /// producer.push_slice(&[1u16, 2]);
    /// consumer.as_mut_slices().0[1] = 5;
    /// assert_eq!(consumer.readable(), [1, 5]);
    /// ```
    pub fn as_mut_slices(&mut self) -> (&mut [T], &mut [T]) {
        (self.readable_mut(), &mut [])
    }

    /// Marks `n` elements as read, handing their space back to the producer.
    ///
    /// # Errors
    /// `OutOfBounds` when fewer than `n` elements are readable; nothing changes then.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"abc");
    /// consumer.advance_read(2).unwrap();
    /// assert_eq!(consumer.readable(), b"c");
    /// assert!(consumer.advance_read(2).is_err());
    /// ```
    pub fn advance_read(&mut self, n: usize) -> Result<()> {
        let readable = self.readable_for(n);
        if n > readable {
            return Err(Error::new(
                ErrorKind::OutOfBounds,
                "Consumer::advance_read",
                "more than the readable elements",
            )
            .sized(bytes_of::<T>(n))
            .with_limit("readable bytes", bytes_of::<T>(readable) as u64));
        }
        self.release(n);
        Ok(())
    }

    /// Hands `n <= readable` elements' space back to the producer.
    #[inline]
    fn release(&mut self, n: usize) {
        if n == 0 {
            // No store: a consumer retrying on an empty buffer must not keep taking the line
            // the producer reads `head` from.
            return;
        }
        self.head = advance(self.head, n, self.capacity);
        // Release: our reads of the elements below the new position happen before the
        // producer's Acquire load that sees it, and so before it overwrites them.
        self.shared.head.0.store(self.head, Ordering::Release);
    }

    /// Removes and returns the oldest element, if any. Loads the producer's position only
    /// when the cached copy shows the buffer empty.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::new(1).unwrap().split();
    /// producer.push('a').unwrap();
    /// assert_eq!(consumer.pop(), Some('a'));
    /// assert_eq!(consumer.pop(), None);
    /// ```
    pub fn pop(&mut self) -> Option<T> {
        if self.readable_for(1) == 0 {
            return None;
        }
        // SAFETY: one element at `head` was seen published (as in `slice`).
        let value = unsafe { self.read_ptr().read() };
        self.release(1);
        Some(value)
    }

    /// [`pop`](Consumer::pop), under the name the `ringbuf` crate uses.
    ///
    /// ```
    /// let (_, mut consumer) = vmem::RingBuffer::<u8>::with_capacity(1).unwrap().split();
    /// assert_eq!(consumer.try_pop(), None);
    /// ```
    pub fn try_pop(&mut self) -> Option<T> {
        self.pop()
    }

    /// Copies up to `out.len()` readable elements into `out` and marks them read; returns
    /// the number copied. Loads the producer's position only when the cached copy shows
    /// fewer than `out.len()`.
    ///
    /// ```
    /// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"abc");
    /// let mut out = [0; 2];
    /// assert_eq!(consumer.pop_slice(&mut out), 2);
    /// assert_eq!(&out, b"ab");
    /// ```
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize {
        let n = self.peek(out);
        self.release(n);
        n
    }

    /// Copies up to `out.len()` readable elements into `out` without marking them read.
    ///
    /// ```
    /// let (mut producer, consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
    /// producer.push_slice(b"abc");
    /// let mut out = [0; 8];
    /// assert_eq!(consumer.peek(&mut out), 3);
    /// assert_eq!(consumer.len(), 3);
    /// ```
    pub fn peek(&self, out: &mut [T]) -> usize {
        let n = out.len().min(self.readable_for(out.len()));
        // SAFETY: `n` elements from `head` were seen published.
        out[..n].copy_from_slice(unsafe { self.slice(n) });
        n
    }
}

impl<T: Copy> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.shared.consumer_dropped.store(true, Ordering::Release);
    }
}

impl<T: Copy> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

/// Writes what fits, like a non-blocking pipe: `Err(WouldBlock)` when the buffer is full,
/// `Err(BrokenPipe)` once the [`Consumer`] is dropped.
///
/// ```
/// use std::io::{ErrorKind, Write};
/// let (mut producer, consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
/// let cap = producer.capacity();
/// assert_eq!(producer.write(&vec![1; cap + 10]).unwrap(), cap);
/// assert_eq!(producer.write(b"x").unwrap_err().kind(), ErrorKind::WouldBlock);
/// drop(consumer);
/// assert_eq!(producer.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
/// ```
impl std::io::Write for Producer<u8> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.is_abandoned() {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        match self.push_slice(buf) {
            0 => Err(std::io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Consumer<u8> {
    /// What is readable now; empty only at the end of the stream (the producer is gone and
    /// everything it wrote was read); `WouldBlock` when empty for now.
    fn fill(&self) -> std::io::Result<&[u8]> {
        if distance(self.head, self.tail_cache.get(), self.capacity) == 0 {
            // The flag first: when it is set, the producer's last `tail` is visible to the
            // load below (Release store of the flag after it, Acquire load here).
            let abandoned = self.is_abandoned();
            if distance(self.head, self.load_tail(), self.capacity) == 0 && !abandoned {
                return Err(std::io::ErrorKind::WouldBlock.into());
            }
        }
        let len = distance(self.head, self.tail_cache.get(), self.capacity);
        // SAFETY: `len` elements from `head` were seen published (the cache holds a loaded
        // `tail`).
        Ok(unsafe { self.slice(len) })
    }
}

/// Reads what is readable, like a non-blocking pipe: `Err(WouldBlock)` when the buffer is
/// empty for now, `Ok(0)` (end of file) once the [`Producer`] is dropped and everything it
/// wrote was read.
///
/// ```
/// use std::io::{ErrorKind, Read, Write};
/// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
/// let mut buf = [0; 16];
/// assert_eq!(consumer.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
/// producer.write_all(b"last words").unwrap();
/// drop(producer);
/// let mut text = String::new();
/// consumer.read_to_string(&mut text).unwrap(); // reads to the end of the stream
/// assert_eq!(text, "last words");
/// ```
impl std::io::Read for Consumer<u8> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = {
            let readable = self.fill()?;
            let n = readable.len().min(buf.len());
            buf[..n].copy_from_slice(&readable[..n]);
            n
        };
        self.release(n);
        Ok(n)
    }
}

/// `fill_buf` is [`Consumer::readable`] (`WouldBlock` while empty, empty at the end of the
/// stream) and `consume` is [`Consumer::advance_read`] (clamped to what `fill_buf` showed).
///
/// ```
/// use std::io::{BufRead, Write};
/// let (mut producer, mut consumer) = vmem::RingBuffer::with_capacity(1).unwrap().split();
/// producer.write_all(b"one\ntwo\n").unwrap();
/// drop(producer);
/// let lines: Vec<String> = consumer.lines().map(|l| l.unwrap()).collect();
/// assert_eq!(lines, ["one", "two"]);
/// ```
impl std::io::BufRead for Consumer<u8> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.fill()
    }

    fn consume(&mut self, amt: usize) {
        let n = amt.min(distance(self.head, self.tail_cache.get(), self.capacity));
        self.release(n);
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn positions_wrap_over_twice_the_capacity() {
        let cap = 10;
        assert_eq!(distance(3, 3, cap), 0);
        assert_eq!(distance(3, 13, cap), 10);
        assert_eq!(distance(15, 5, cap), 10);
        assert_eq!(distance(19, 0, cap), 1);
        assert_eq!(advance(19, 1, cap), 0);
        assert_eq!(advance(15, 10, cap), 5);
        assert_eq!(position(13, cap), 3);
        assert_eq!(position(9, cap), 9);
    }

    #[test]
    fn mapped_sizes_end_on_an_element() {
        let g = crate::allocation_granularity();
        assert_eq!(mapped_bytes::<u8>(1).unwrap(), g);
        assert_eq!(mapped_bytes::<u64>(g / 8 + 1).unwrap(), 2 * g);
        assert_eq!(mapped_bytes::<[u8; 3]>(1).unwrap(), 3 * g);
        assert_eq!(mapped_bytes::<[u8; 24]>(1).unwrap() % 24, 0);
        assert_eq!(mapped_bytes::<[u8; 3]>(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
        assert_eq!(gcd(4096, 24), 8);
    }

    #[test]
    fn the_positions_live_on_separate_cache_lines() {
        assert_eq!(core::mem::align_of::<CachePadded<AtomicUsize>>(), 128);
        assert_eq!(core::mem::size_of::<CachePadded<AtomicUsize>>(), 128);
        let shared = core::mem::offset_of!(Shared<u8>, head).abs_diff(core::mem::offset_of!(Shared<u8>, tail));
        assert!(shared >= 128);
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[test]
    fn temp_file_fallback_maps_twice() {
        // The path taken on kernels without memfd_create.
        let fd = os::anonymous_temp_file().unwrap();
        let size = crate::page_size();
        rustix::fs::ftruncate(&fd, size as u64).unwrap();
        let base = os::map_fd_twice(rustix::fd::AsFd::as_fd(&fd), size).unwrap();
        drop(fd);
        // SAFETY: both halves are mapped read-write and alias the same page.
        unsafe {
            base.add(size + 5).write(42);
            assert_eq!(base.add(5).read(), 42);
            os::unmap_twice(base, size).unwrap();
        }
    }
}
