//! `drain`: the iterator that takes a range out of the vector.

use core::fmt;
use core::iter::FusedIterator;
use core::ptr;
use core::slice;

use super::VirtualVec;

/// An iterator that removes a range of a [`VirtualVec`], from
/// [`drain`](VirtualVec::drain). When dropped, it drops the elements it did not yield and
/// moves the elements after the range down. If it is leaked (`mem::forget`), the vector
/// keeps only the elements before the range.
///
/// ```
/// let mut v: vmem::VirtualVec<_> = (0..5).collect();
/// let mut d = v.drain(1..);
/// assert_eq!(d.next_back(), Some(4));
/// assert_eq!(d.len(), 3);
/// drop(d);
/// assert_eq!(v, [0]);
/// ```
pub struct Drain<'a, T> {
    /// The vector, with its length set to the start of the range.
    pub(super) vec: &'a mut VirtualVec<T>,
    /// The elements `next..end` are still to be yielded.
    pub(super) next: usize,
    pub(super) end: usize,
    /// The elements after the range: `tail_start..tail_start + tail_len`.
    pub(super) tail_start: usize,
    pub(super) tail_len: usize,
}

impl<T> Drain<'_, T> {
    /// The elements not yet yielded, as a slice.
    ///
    /// ```
    /// let mut v: vmem::VirtualVec<_> = (0..4).collect();
    /// let mut d = v.drain(..3);
    /// d.next();
    /// assert_eq!(d.as_slice(), &[1, 2]);
    /// ```
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: `next..end` are initialized elements owned by the drain.
        unsafe { slice::from_raw_parts(self.vec.ptr.as_ptr().add(self.next), self.end - self.next) }
    }
}

impl<T> Iterator for Drain<'_, T> {
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

impl<T> DoubleEndedIterator for Drain<'_, T> {
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

impl<T> ExactSizeIterator for Drain<'_, T> {}

impl<T> FusedIterator for Drain<'_, T> {}

impl<T> Drop for Drain<'_, T> {
    fn drop(&mut self) {
        /// Moves the tail down and restores the length, also if a destructor panics.
        struct MoveTail<'d, 'a, T>(&'d mut Drain<'a, T>);

        impl<T> Drop for MoveTail<'_, '_, T> {
            fn drop(&mut self) {
                let drain = &mut *self.0;
                let start = drain.vec.len;
                if drain.tail_len > 0 && drain.tail_start != start {
                    // SAFETY: the tail holds initialized elements; `start..start + tail_len`
                    // lies within the old length, and `ptr::copy` allows overlap.
                    unsafe {
                        let base = drain.vec.ptr.as_ptr();
                        ptr::copy(base.add(drain.tail_start), base.add(start), drain.tail_len);
                    }
                }
                drain.vec.len = start + drain.tail_len;
            }
        }

        // SAFETY: `next..end` are initialized elements owned by the drain.
        let left = unsafe { ptr::slice_from_raw_parts_mut(self.vec.ptr.as_ptr().add(self.next), self.end - self.next) };
        self.next = self.end;
        let _guard = MoveTail(self);
        // SAFETY: the elements not yet yielded are initialized and, marked as consumed, never
        // touched again; the guard then moves the tail over them.
        unsafe { ptr::drop_in_place(left) };
    }
}

impl<T: fmt::Debug> fmt::Debug for Drain<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Drain").field(&self.as_slice()).finish()
    }
}
