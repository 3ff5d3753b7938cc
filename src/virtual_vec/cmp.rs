//! Comparisons and hashing: a `VirtualVec` compares and hashes as its slice, like `Vec`.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::hash::{Hash, Hasher};

use super::VirtualVec;

impl<T: Hash> Hash for VirtualVec<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Hash::hash(self.as_slice(), state);
    }
}

impl<T: Eq> Eq for VirtualVec<T> {}

impl<T: PartialOrd> PartialOrd for VirtualVec<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        PartialOrd::partial_cmp(self.as_slice(), other.as_slice())
    }
}

impl<T: Ord> Ord for VirtualVec<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        Ord::cmp(self.as_slice(), other.as_slice())
    }
}

impl<T: PartialEq<U>, U> PartialEq<VirtualVec<U>> for VirtualVec<T> {
    fn eq(&self, other: &VirtualVec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq<U>, U> PartialEq<[U]> for VirtualVec<T> {
    fn eq(&self, other: &[U]) -> bool {
        self.as_slice() == other
    }
}

impl<T: PartialEq<U>, U> PartialEq<&[U]> for VirtualVec<T> {
    fn eq(&self, other: &&[U]) -> bool {
        self.as_slice() == *other
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<[U; N]> for VirtualVec<T> {
    fn eq(&self, other: &[U; N]) -> bool {
        self.as_slice() == other
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<&[U; N]> for VirtualVec<T> {
    fn eq(&self, other: &&[U; N]) -> bool {
        self.as_slice() == *other
    }
}

impl<T: PartialEq<U>, U> PartialEq<Vec<U>> for VirtualVec<T> {
    fn eq(&self, other: &Vec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq<U>, U> PartialEq<VirtualVec<U>> for Vec<T> {
    fn eq(&self, other: &VirtualVec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: PartialEq<U>, U> PartialEq<VirtualVec<U>> for [T] {
    fn eq(&self, other: &VirtualVec<U>) -> bool {
        self == other.as_slice()
    }
}

impl<T: PartialEq<U>, U> PartialEq<VirtualVec<U>> for &[T] {
    fn eq(&self, other: &VirtualVec<U>) -> bool {
        *self == other.as_slice()
    }
}

impl<T: PartialEq<U>, U, const N: usize> PartialEq<VirtualVec<U>> for [T; N] {
    fn eq(&self, other: &VirtualVec<U>) -> bool {
        self.as_slice() == other.as_slice()
    }
}
