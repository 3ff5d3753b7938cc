//! Conversions: from and into `Vec`, slices and arrays; the borrowing traits; `io::Write`
//! for bytes.
//!
//! Every conversion into a `VirtualVec` copies the elements once into its reservation
//! (moving them when they are owned), so their addresses change once; from then on they
//! never move. Each reserves as [`VirtualVec::new`] does and panics, as `push` does, when the
//! elements do not fit (see [`VirtualVec::try_extend_from_slice`] and
//! [`VirtualVec::try_append`] for the forms that return errors).

use alloc::vec::Vec;
use core::borrow::{Borrow, BorrowMut};
use core::mem::ManuallyDrop;
use core::ptr;

use super::VirtualVec;
use crate::sync::failed;

#[cfg(feature = "std")]
impl<T> VirtualVec<T> {
    /// Appends copies of `items`, or returns `OutOfMemory` when they do not fit (nothing is
    /// appended then). One `memcpy`.
    fn try_append_copied(&mut self, items: &[T], operation: &'static str) -> crate::Result<()>
    where
        T: Copy,
    {
        // SAFETY: the items are initialized and `Copy`, so the vector may own copies while
        // the caller keeps the originals; a shared slice cannot lie in the spare capacity of
        // a vector borrowed mutably.
        unsafe { self.try_append_raw(items.as_ptr(), items.len(), operation) }
    }
}

/// Moves the elements of a `Vec` into a new vector made as by [`VirtualVec::new`]: one copy
/// into its reservation, so their addresses change this once (and never again); the `Vec`'s
/// buffer is freed.
///
/// # Panics
/// When the elements do not fit in the default maximum, or the OS refuses memory.
///
/// ```
/// let names = vec!["a".to_string(), "b".to_string()];
/// let v = vmem::VirtualVec::from(names);
/// assert_eq!(v, ["a", "b"]);
/// ```
impl<T> From<Vec<T>> for VirtualVec<T> {
    #[track_caller]
    fn from(mut vec: Vec<T>) -> Self {
        let mut out = VirtualVec::new();
        // SAFETY: the `Vec`'s elements are initialized and in its own buffer; on success
        // the new vector owns them and the `Vec` forgets them (it only frees its buffer).
        match unsafe { out.try_append_raw(vec.as_ptr(), vec.len(), "VirtualVec::from") } {
            // SAFETY: length 0 is always valid; the elements now belong to `out`.
            Ok(()) => unsafe { vec.set_len(0) },
            Err(err) => failed("VirtualVec::from", err),
        }
        out
    }
}

/// Moves the elements into a `Vec` (one copy, into a buffer of exactly their number); the
/// vector's memory goes to the [warm cache](crate::cache).
///
/// ```
/// let v: vmem::VirtualVec<_> = (1..=3).collect();
/// let w: Vec<i32> = v.into();
/// assert_eq!(w, [1, 2, 3]);
/// ```
impl<T> From<VirtualVec<T>> for Vec<T> {
    fn from(mut vec: VirtualVec<T>) -> Vec<T> {
        let len = vec.len;
        let mut out = Vec::with_capacity(len);
        // SAFETY: the vector's first `len` elements are initialized; they are copied into
        // the new buffer's room for `len`, the vector forgets them and the `Vec` takes them
        // (nothing can panic in between).
        unsafe {
            ptr::copy_nonoverlapping(vec.as_ptr(), out.as_mut_ptr(), len);
            vec.len = 0;
            out.set_len(len);
        }
        out
    }
}

/// Clones the elements of a slice into a new vector.
///
/// # Panics
/// When the elements do not fit, or the OS refuses memory. If a `clone` panics, the clones
/// made are dropped.
///
/// ```
/// let v = vmem::VirtualVec::from(&[1, 2, 3][..]);
/// assert_eq!(v, [1, 2, 3]);
/// ```
impl<T: Clone> From<&[T]> for VirtualVec<T> {
    #[track_caller]
    fn from(items: &[T]) -> Self {
        let mut out = VirtualVec::new();
        out.extend_from_slice(items);
        out
    }
}

/// Clones the elements of a mutable slice into a new vector, as `From<&[T]>`.
///
/// ```
/// let mut a = [1, 2];
/// assert_eq!(vmem::VirtualVec::from(&mut a[..]), [1, 2]);
/// ```
impl<T: Clone> From<&mut [T]> for VirtualVec<T> {
    #[track_caller]
    fn from(items: &mut [T]) -> Self {
        VirtualVec::from(&*items)
    }
}

/// Clones the elements of an array into a new vector, as `From<&[T]>`.
///
/// ```
/// assert_eq!(vmem::VirtualVec::from(&["x"; 2]), ["x", "x"]);
/// ```
impl<T: Clone, const N: usize> From<&[T; N]> for VirtualVec<T> {
    #[track_caller]
    fn from(items: &[T; N]) -> Self {
        VirtualVec::from(&items[..])
    }
}

/// Moves the elements of an array into a new vector (one copy: their addresses change).
///
/// # Panics
/// When the elements do not fit, or the OS refuses memory (the array is dropped then).
///
/// ```
/// let v = vmem::VirtualVec::from([String::from("a"), String::from("b")]);
/// assert_eq!(v, ["a", "b"]);
/// ```
impl<T, const N: usize> From<[T; N]> for VirtualVec<T> {
    #[track_caller]
    fn from(items: [T; N]) -> Self {
        let items = ManuallyDrop::new(items);
        let mut out = VirtualVec::new();
        // SAFETY: the array's elements are initialized and outside the new buffer; on
        // success the vector owns them and the array, in `ManuallyDrop`, is never dropped.
        match unsafe { out.try_append_raw(items.as_ptr(), N, "VirtualVec::from") } {
            Ok(()) => out,
            Err(err) => {
                drop(ManuallyDrop::into_inner(items));
                failed("VirtualVec::from", err)
            }
        }
    }
}

/// ```
/// let mut v: vmem::VirtualVec<_> = (0..3).collect();
/// let s: &[i32] = v.as_ref();
/// assert_eq!(s, [0, 1, 2]);
/// let same: &vmem::VirtualVec<i32> = v.as_ref();
/// assert_eq!(same.len(), 3);
/// ```
impl<T> AsRef<[T]> for VirtualVec<T> {
    fn as_ref(&self) -> &[T] {
        self
    }
}

/// ```
/// let mut v: vmem::VirtualVec<_> = (0..3).collect();
/// let s: &mut [i32] = v.as_mut();
/// s[0] = 7;
/// assert_eq!(v, [7, 1, 2]);
/// ```
impl<T> AsMut<[T]> for VirtualVec<T> {
    fn as_mut(&mut self) -> &mut [T] {
        self
    }
}

/// The vector itself, as `Vec` has it (for functions generic over `AsRef<VirtualVec<T>>`).
impl<T> AsRef<VirtualVec<T>> for VirtualVec<T> {
    fn as_ref(&self) -> &VirtualVec<T> {
        self
    }
}

/// The vector itself, as `Vec` has it.
///
/// ```
/// fn add_one(mut v: impl AsMut<vmem::VirtualVec<u8>>) {
///     v.as_mut().push(1);
/// }
/// let mut v = vmem::VirtualVec::new();
/// add_one(&mut v);
/// assert_eq!(v, [1]);
/// ```
impl<T> AsMut<VirtualVec<T>> for VirtualVec<T> {
    fn as_mut(&mut self) -> &mut VirtualVec<T> {
        self
    }
}

/// Borrows as a slice: a `VirtualVec<T>` works as a `HashMap` key looked up by `&[T]`, like
/// a `Vec<T>`.
///
/// ```
/// use std::collections::HashSet;
/// let set: HashSet<vmem::VirtualVec<u8>> = [vmem::VirtualVec::from(b"key")].into_iter().collect();
/// assert!(set.contains(&b"key"[..]));
/// ```
impl<T> Borrow<[T]> for VirtualVec<T> {
    fn borrow(&self) -> &[T] {
        self
    }
}

/// ```
/// use std::borrow::BorrowMut;
/// let mut v: vmem::VirtualVec<_> = (0..2).collect();
/// let s: &mut [i32] = v.borrow_mut();
/// s.swap(0, 1);
/// assert_eq!(v, [1, 0]);
/// ```
impl<T> BorrowMut<[T]> for VirtualVec<T> {
    fn borrow_mut(&mut self) -> &mut [T] {
        self
    }
}

/// Appends the bytes written, as `Vec<u8>` does: each `write` appends all of its buffer or
/// nothing. `write_all` and `write_vectored` are one copy each (a vectored write commits
/// room for all of its buffers first), `flush` does nothing.
///
/// A write that does not fit (the maximum capacity, or memory the OS refuses) appends
/// nothing and fails with an `io::Error` of kind `OutOfMemory` whose inner error is the
/// [`vmem::Error`](crate::Error).
///
/// ```
/// use std::io::Write;
///
/// let mut v = vmem::VirtualVec::<u8>::new();
/// write!(v, "{}-{}", 1, 2)?;
/// v.write_all(b"!")?;
/// assert_eq!(v, b"1-2!");
///
/// let mut small = vmem::VirtualVec::<u8>::with_max_capacity(4).unwrap();
/// let err = small.write_all(b"too long").unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
/// let inner = err.get_ref().and_then(|e| e.downcast_ref::<vmem::Error>()).unwrap();
/// assert_eq!(inner.kind(), vmem::ErrorKind::OutOfMemory);
/// assert!(small.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[cfg(feature = "std")]
impl std::io::Write for VirtualVec<u8> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.try_append_copied(buf, "VirtualVec::write")?;
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
        const OP: &str = "VirtualVec::write_vectored";
        // Saturating: a total past `usize::MAX` cannot fit anyway, and the room check says so.
        let total = bufs.iter().fold(0usize, |sum, buf| sum.saturating_add(buf.len()));
        self.make_room(total, OP)?;
        for buf in bufs {
            // There is room for all of them: these do not fail.
            self.try_append_copied(buf, OP)?;
        }
        Ok(total)
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.try_append_copied(buf, "VirtualVec::write_all")?;
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
