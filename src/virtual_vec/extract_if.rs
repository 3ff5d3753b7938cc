//! `extract_if`: the iterator that takes out the elements a predicate picks.

use core::fmt;
use core::iter::FusedIterator;
use core::ptr;
use core::slice;

use super::VirtualVec;

/// An iterator that removes and yields the elements of a range of a [`VirtualVec`] for
/// which a predicate returns true, from [`extract_if`](VirtualVec::extract_if). The kept
/// elements move down over the holes as it goes; when it is dropped, the elements it did
/// not visit stay and move down too.
///
/// ```
/// let mut v: vmem::VirtualVec<_> = (0..10).collect();
/// let mut it = v.extract_if(..5, |x| *x % 2 == 1);
/// assert_eq!(it.next(), Some(1));
/// drop(it); // 3 was not visited: it stays
/// assert_eq!(v, [0, 2, 3, 4, 5, 6, 7, 8, 9]);
/// ```
pub struct ExtractIf<'a, T, F> {
    /// The vector, with its length set to 0 until the iterator is dropped.
    pub(super) vec: &'a mut VirtualVec<T>,
    /// The next element to visit; `next..end` are still to be visited.
    pub(super) next: usize,
    pub(super) end: usize,
    /// Elements taken out so far: the kept elements visited sit `deleted` slots below where
    /// they were, and `next - deleted..next` are holes.
    pub(super) deleted: usize,
    /// The length before, restored (less `deleted`) on drop.
    pub(super) old_len: usize,
    pub(super) filter: F,
}

impl<T, F> Iterator for ExtractIf<'_, T, F>
where
    F: FnMut(&mut T) -> bool,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let base = self.vec.ptr.as_ptr();
        while self.next < self.end {
            let index = self.next;
            // SAFETY: `index < end <= old_len`: an initialized element not yet visited, which
            // nothing else refers to (the vector's length is 0, and it is borrowed by us).
            let current = unsafe { &mut *base.add(index) };
            let take = (self.filter)(current);
            // Only now is it visited: if `filter` panicked, it stays where it is, kept.
            self.next += 1;
            if take {
                self.deleted += 1;
                // SAFETY: read once; counted as deleted, its slot is a hole from now on.
                return Some(unsafe { ptr::read(current) });
            }
            if self.deleted > 0 {
                // SAFETY: `index - deleted` is a hole (its element was taken or moved on),
                // another slot below `index`, so the two do not overlap.
                unsafe { ptr::copy_nonoverlapping(current, base.add(index - self.deleted), 1) };
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.end - self.next))
    }
}

impl<T, F> FusedIterator for ExtractIf<'_, T, F> where F: FnMut(&mut T) -> bool {}

impl<T, F> Drop for ExtractIf<'_, T, F> {
    fn drop(&mut self) {
        if self.deleted > 0 && self.next < self.old_len {
            // SAFETY: `next..old_len` are initialized elements not visited (or past the
            // range); they move down over the `deleted` holes just before them, within the
            // old length (`ptr::copy` allows the overlap).
            unsafe {
                let base = self.vec.ptr.as_ptr();
                ptr::copy(base.add(self.next), base.add(self.next - self.deleted), self.old_len - self.next);
            }
        }
        self.vec.len = self.old_len - self.deleted;
    }
}

impl<T: fmt::Debug, F> fmt::Debug for ExtractIf<'_, T, F> {
    /// Shows the elements not yet visited.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: `next..end` are initialized elements not yet visited, not moved.
        let left = unsafe { slice::from_raw_parts(self.vec.ptr.as_ptr().add(self.next), self.end - self.next) };
        f.debug_tuple("ExtractIf").field(&left).finish()
    }
}
