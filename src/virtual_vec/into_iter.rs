//! The owning iterator.

use core::fmt;
use core::iter::FusedIterator;
use core::ptr;
use core::slice;

use super::VirtualVec;

impl<T> IntoIterator for VirtualVec<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(mut self) -> IntoIter<T> {
        let end = self.len;
        // From now on the iterator owns the elements; the vector only owns the memory.
        self.len = 0;
        IntoIter { vec: self, next: 0, end }
    }
}

/// An owning iterator over the elements of a [`VirtualVec`], from
/// [`into_iter`](IntoIterator::into_iter). Drops the elements it did not yield, then releases
/// the memory.
///
/// ```
/// let v: vmem::VirtualVec<_> = ["a", "b", "c"].into_iter().collect();
/// let mut it = v.into_iter();
/// assert_eq!(it.next(), Some("a"));
/// assert_eq!(it.next_back(), Some("c"));
/// assert_eq!(it.len(), 1);
/// ```
pub struct IntoIter<T> {
    /// The memory, with its length set to 0: the elements `next..end` belong to the iterator.
    vec: VirtualVec<T>,
    next: usize,
    end: usize,
}

impl<T> IntoIter<T> {
    /// The elements not yet yielded, as a slice.
    ///
    /// ```
    /// let v: vmem::VirtualVec<_> = (1..=3).collect();
    /// let mut it = v.into_iter();
    /// it.next();
    /// assert_eq!(it.as_slice(), &[2, 3]);
    /// ```
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `next..end` are initialized elements owned by the iterator.
        unsafe { slice::from_raw_parts(self.vec.ptr.as_ptr().add(self.next), self.end - self.next) }
    }

    /// The elements not yet yielded, as a mutable slice.
    ///
    /// ```
    /// let v: vmem::VirtualVec<_> = (1..=3).collect();
    /// let mut it = v.into_iter();
    /// it.as_mut_slice()[0] = 10;
    /// assert_eq!(it.next(), Some(10));
    /// ```
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { slice::from_raw_parts_mut(self.vec.ptr.as_ptr().add(self.next), self.end - self.next) }
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: `next < end`: an initialized element, read once as `next` moves past it.
        let item = unsafe { self.vec.ptr.as_ptr().add(self.next).read() };
        self.next += 1;
        Some(item)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.next;
        (left, Some(left))
    }
}

impl<T> DoubleEndedIterator for IntoIter<T> {
    #[inline]
    fn next_back(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        self.end -= 1;
        // SAFETY: the old `end - 1` is an initialized element, read once as `end` moves below.
        Some(unsafe { self.vec.ptr.as_ptr().add(self.end).read() })
    }
}

impl<T> ExactSizeIterator for IntoIter<T> {}

impl<T> FusedIterator for IntoIter<T> {}

impl<T> Drop for IntoIter<T> {
    fn drop(&mut self) {
        let left = self.as_mut_slice() as *mut [T];
        self.next = self.end;
        // SAFETY: the elements not yet yielded are initialized and owned here, and, marked as
        // consumed, never touched again. The memory is released after this with `vec`.
        unsafe { ptr::drop_in_place(left) };
    }
}

impl<T: fmt::Debug> fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IntoIter").field(&self.as_slice()).finish()
    }
}
