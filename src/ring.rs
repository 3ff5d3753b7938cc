//! `RingBuffer`: a byte ring buffer whose readable and writable parts are always one slice.
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
//! Whatever the read position, the `len()` readable bytes are contiguous in memory, and so
//! are the `available()` writable ones: no split reads or writes, no copying at the wrap.
//! Hand [`RingBuffer::readable`] straight to a parser or a `write` system call, or
//! [`RingBuffer::writable`] to a `read` system call.
//!
//! Cost model: creating one is a handful of system calls (Linux: `memfd_create`,
//! `ftruncate`, three `mmap`s); reads and writes are a `memcpy` (or nothing, with the
//! zero-copy slices) and a counter update. The capacity is a multiple of the allocation
//! granularity (4 KiB on Linux and macOS with 4 KiB pages, 16 KiB on Apple Silicon, 64 KiB on
//! Windows).
//!
//! Platforms: Linux and Android map a `memfd` twice (an unlinked `O_TMPFILE` file where
//! `memfd_create` is missing); macOS remaps the first half over the second with
//! `mach_vm_remap`; FreeBSD maps a `SHM_ANON` object twice; Windows maps a pagefile-backed
//! section into two placeholders (`VirtualAlloc2` + `MapViewOfFile3`, Windows 10 1803+,
//! looked up at run time: `Unsupported` on older Windows). No file descriptor or handle stays
//! open.
//!
//! After `fork` (Unix), the child has the whole double mapping, over the *same* bytes as its
//! parent: the memory is shared, not copied, while the read and write positions are the
//! child's own copy. Use a ring on one side of a fork only.

use core::fmt;
use core::ptr::NonNull;

use crate::{os, Error, ErrorKind, Result};

/// A byte ring buffer on doubly mapped memory: see the [module docs](self).
///
/// ```
/// use vmem::RingBuffer;
///
/// let mut ring = RingBuffer::with_capacity(4096)?;
/// let capacity = ring.capacity();
/// // Fill most of it and drain it, so that the next write wraps around the end.
/// ring.push_slice(&vec![0; capacity - 3]);
/// ring.advance_read(capacity - 3)?;
/// assert_eq!(ring.push_slice(b"hello, world"), 12);
/// // The wrapped bytes still read as one contiguous slice.
/// assert_eq!(ring.readable(), b"hello, world");
/// # Ok::<(), vmem::Error>(())
/// ```
pub struct RingBuffer {
    base: NonNull<u8>,
    capacity: usize,
    /// Where the next read starts, in `[0, capacity)`.
    read: usize,
    /// Bytes written and not yet read, in `[0, capacity]`.
    len: usize,
}

// SAFETY: the buffer owns its mapping outright; nothing else refers to it.
unsafe impl Send for RingBuffer {}
// SAFETY: `&RingBuffer` only allows reading the readable bytes; all mutation takes `&mut`.
unsafe impl Sync for RingBuffer {}

impl RingBuffer {
    /// Creates a ring buffer of at least `min_bytes`, rounded up to a multiple of
    /// [`allocation_granularity`](crate::allocation_granularity).
    ///
    /// # Errors
    /// `InvalidArgument` for zero; `OutOfAddressSpace` when the size is absurd or there is no
    /// room; `OutOfMemory` when the OS cannot provide the shared memory.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::with_capacity(1000).unwrap();
    /// assert_eq!(ring.capacity() % vmem::allocation_granularity(), 0);
    /// assert!(ring.capacity() >= 1000);
    /// assert!(vmem::RingBuffer::with_capacity(0).is_err());
    /// ```
    pub fn with_capacity(min_bytes: usize) -> Result<RingBuffer> {
        const OP: &str = "RingBuffer::with_capacity";
        if min_bytes == 0 {
            return Err(Error::new(ErrorKind::InvalidArgument, OP, "the capacity is zero").sized(0));
        }
        let too_large = || {
            Error::new(ErrorKind::OutOfAddressSpace, OP, "twice the capacity does not fit in the address space")
                .sized(min_bytes)
                .with_limit("isize::MAX / 2", (isize::MAX / 2) as u64)
        };
        let capacity = crate::align_up(min_bytes, crate::allocation_granularity()).map_err(|_| too_large())?;
        if capacity > isize::MAX as usize / 2 {
            return Err(too_large());
        }
        let base = os::ring_map(capacity)?;
        let base = NonNull::new(base)
            .ok_or(Error::new(ErrorKind::Os, OP, "the OS returned a null address").sized(capacity))?;
        Ok(RingBuffer { base, capacity, read: 0, len: 0 })
    }

    /// The number of bytes the buffer holds when full.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// assert_eq!(ring.capacity(), vmem::allocation_granularity());
    /// ```
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of bytes written and not yet read.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// assert_eq!(ring.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is nothing to read.
    ///
    /// ```
    /// assert!(vmem::RingBuffer::with_capacity(1).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether there is no room to write.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// let n = ring.capacity();
    /// ring.push_slice(&vec![7; n]);
    /// assert!(ring.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// The number of bytes that can be written before the buffer is full.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"ab");
    /// assert_eq!(ring.available(), ring.capacity() - 2);
    /// ```
    pub fn available(&self) -> usize {
        self.capacity - self.len
    }

    /// The readable bytes, oldest first, as one slice.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"xyz");
    /// assert_eq!(ring.readable(), b"xyz");
    /// ```
    pub fn readable(&self) -> &[u8] {
        // SAFETY: `read < capacity` and `len <= capacity`, so the slice lies inside the
        // `2 * capacity` double mapping; those bytes were written (or are zero-filled shared
        // memory), and `&self` keeps writers out while the slice lives.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr().add(self.read), self.len) }
    }

    /// The free space, as one slice to write into; then call [`advance_write`] with the
    /// number of bytes written.
    ///
    /// [`advance_write`]: RingBuffer::advance_write
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.writable()[..2].copy_from_slice(b"hi");
    /// ring.advance_write(2).unwrap();
    /// assert_eq!(ring.readable(), b"hi");
    /// ```
    pub fn writable(&mut self) -> &mut [u8] {
        let start = self.write_offset();
        // SAFETY: `start < capacity` and `available <= capacity`, so the slice lies inside the
        // double mapping; it does not overlap the readable bytes (it ends where they start,
        // one capacity later), and `&mut self` makes it the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr().add(start), self.available()) }
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

    /// Marks `n` bytes as read, freeing their space.
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
            return Err(Error::new(ErrorKind::OutOfBounds, "RingBuffer::advance_read", "more than the readable bytes")
                .sized(n)
                .with_limit("readable bytes", self.len as u64));
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
        if n > self.available() {
            return Err(Error::new(ErrorKind::OutOfBounds, "RingBuffer::advance_write", "more than the free space")
                .sized(n)
                .with_limit("available bytes", self.available() as u64));
        }
        self.len += n;
        Ok(())
    }

    /// Copies as much of `data` as fits; returns the number of bytes copied.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// assert_eq!(ring.push_slice(b"abc"), 3);
    /// ```
    pub fn push_slice(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.available());
        self.writable()[..n].copy_from_slice(&data[..n]);
        self.len += n;
        n
    }

    /// Copies up to `out.len()` readable bytes into `out` and marks them read; returns the
    /// number of bytes copied.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// let mut out = [0; 2];
    /// assert_eq!(ring.pop_slice(&mut out), 2);
    /// assert_eq!(&out, b"ab");
    /// ```
    pub fn pop_slice(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        out[..n].copy_from_slice(&self.readable()[..n]);
        // Cannot fail: `n <= len`.
        let _ = self.advance_read(n);
        n
    }

    /// Copies up to `out.len()` readable bytes into `out` without marking them read.
    ///
    /// ```
    /// let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.push_slice(b"abc");
    /// let mut out = [0; 8];
    /// assert_eq!(ring.peek(&mut out), 3);
    /// assert_eq!(ring.len(), 3);
    /// ```
    pub fn peek(&self, out: &mut [u8]) -> usize {
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
    /// Both views share the same pages, so this locks `capacity` bytes.
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
        unsafe { crate::lock(self.base.as_ptr(), self.capacity) }
    }

    /// Unlocks what [`lock`](RingBuffer::lock) locked. Unlocking a buffer that is not locked
    /// is harmless.
    ///
    /// ```
    /// let ring = vmem::RingBuffer::with_capacity(1).unwrap();
    /// ring.unlock().unwrap();
    /// ```
    pub fn unlock(&self) -> Result<()> {
        // SAFETY: as in `lock`; unlocking does not change the contents.
        unsafe { crate::unlock(self.base.as_ptr(), self.capacity) }
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        // SAFETY: the mapping came from `ring_map(capacity)` and nothing refers to it once the
        // buffer is dropped. Unmapping only fails for arguments we never pass.
        let _ = unsafe { os::ring_unmap(self.base.as_ptr(), self.capacity) };
    }
}

impl fmt::Debug for RingBuffer {
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
impl std::io::Read for RingBuffer {
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
impl std::io::Write for RingBuffer {
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
impl std::io::BufRead for RingBuffer {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        Ok(self.readable())
    }

    fn consume(&mut self, amt: usize) {
        let _ = self.advance_read(amt.min(self.len));
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
