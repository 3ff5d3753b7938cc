//! `splice`: a drain whose gap is filled with new items when it is dropped.

use alloc::vec::Vec;
use core::fmt;
use core::iter::FusedIterator;
use core::ptr;

use super::Drain;
use crate::sync::failed;

/// An iterator that replaces a range of a [`VirtualVec`](super::VirtualVec) with new
/// items, from [`splice`](super::VirtualVec::splice). It yields the removed elements; when
/// it is dropped, it drops the removed elements it did not yield, puts the new items in
/// their place and moves the elements after the range as needed.
///
/// If it is leaked (`mem::forget`), the vector keeps only the elements before the range.
///
/// ```
/// let mut v: vmem::VirtualVec<_> = ["a", "b", "c"].into_iter().collect();
/// let mut s = v.splice(1..2, ["x", "y"]);
/// assert_eq!(s.len(), 1);
/// assert_eq!(s.next(), Some("b"));
/// drop(s);
/// assert_eq!(v, ["a", "x", "y", "c"]);
/// ```
pub struct Splice<'a, I: Iterator + 'a> {
    /// The removed range (the vector's length is its start) and the tail after it.
    pub(super) drain: Drain<'a, I::Item>,
    pub(super) replace_with: I,
}

impl<I: Iterator> Iterator for Splice<'_, I> {
    type Item = I::Item;

    #[inline]
    fn next(&mut self) -> Option<I::Item> {
        self.drain.next()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.drain.size_hint()
    }
}

impl<I: Iterator> DoubleEndedIterator for Splice<'_, I> {
    #[inline]
    fn next_back(&mut self) -> Option<I::Item> {
        self.drain.next_back()
    }
}

impl<I: Iterator> ExactSizeIterator for Splice<'_, I> {}

impl<I: Iterator> FusedIterator for Splice<'_, I> {}

impl<I: Iterator> Drop for Splice<'_, I> {
    /// Any panic here (a destructor, `replace_with`, or the vector being full) unwinds
    /// through the `Drain`'s own drop next, which moves the tail down to the items placed
    /// so far: the vector stays valid.
    fn drop(&mut self) {
        // The removed elements not yet yielded go first: the whole range becomes a gap.
        self.drain.by_ref().for_each(drop);
        let drain = &mut self.drain;
        if drain.tail_len == 0 {
            // Nothing to move: the new items are simply pushed at the end.
            drain.vec.extend(self.replace_with.by_ref());
            return;
        }
        if !fill(drain, &mut self.replace_with) {
            return;
        }
        // More items than the gap: make room for as many as the iterator promises, once.
        let (lower, _) = self.replace_with.size_hint();
        if lower > 0 {
            move_tail(drain, lower);
            if !fill(drain, &mut self.replace_with) {
                return;
            }
        }
        // Still more: collect them to learn how many, then move the tail once more.
        let rest: Vec<I::Item> = self.replace_with.by_ref().collect();
        if !rest.is_empty() {
            move_tail(drain, rest.len());
            let mut rest = rest.into_iter();
            fill(drain, &mut rest);
            debug_assert!(rest.next().is_none(), "the gap fits the collected items exactly");
        }
    }
}

/// Writes items into the gap between the vector's length and the tail, until it is full
/// (true) or `items` ends (false). The length follows each write, also when `items` panics.
fn fill<T>(drain: &mut Drain<'_, T>, items: &mut impl Iterator<Item = T>) -> bool {
    while drain.vec.len < drain.tail_start {
        let Some(item) = items.next() else { return false };
        // SAFETY: `len < tail_start`: a slot of the gap, committed, whose element was removed
        // (moved out or dropped), so writing it overwrites nothing owned.
        unsafe { drain.vec.ptr.as_ptr().add(drain.vec.len).write(item) };
        drain.vec.len += 1;
    }
    true
}

/// Moves the tail up by `additional` slots (growing the vector for them), widening the gap,
/// which is full (the vector's length is `tail_start`). Panics when the vector cannot grow
/// that far; nothing has moved then.
fn move_tail<T>(drain: &mut Drain<'_, T>, additional: usize) {
    let vec = &mut *drain.vec;
    // The slots in use end at `tail_start + tail_len`, `tail_len` past the length.
    let Some(room) = drain.tail_len.checked_add(additional) else {
        failed("VirtualVec::splice", super::VirtualVec::<T>::exceeds_max(vec.max_capacity, "VirtualVec::splice"))
    };
    if let Err(err) = vec.make_room(room, "VirtualVec::splice") {
        failed("VirtualVec::splice", err)
    }
    // SAFETY: the tail `tail_start..tail_start + tail_len` holds initialized elements; the
    // destination ends at `len + tail_len + additional <= capacity`, committed. `ptr::copy`
    // allows the overlap. The slots it leaves behind join the gap.
    unsafe {
        let base = vec.ptr.as_ptr();
        ptr::copy(base.add(drain.tail_start), base.add(drain.tail_start + additional), drain.tail_len);
    }
    drain.tail_start += additional;
}

impl<I> fmt::Debug for Splice<'_, I>
where
    I: Iterator + fmt::Debug,
    I::Item: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Splice").field("drain", &self.drain).field("replace_with", &self.replace_with).finish()
    }
}
