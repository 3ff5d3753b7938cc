//! `Serialize` and `Deserialize` (the `serde` feature): a vector is a sequence, as a `Vec`
//! is, so the two serialize the same and each reads what the other wrote.
//!
//! Deserializing pushes each element straight into the new vector's reservation (no
//! intermediate `Vec`). The input's length hint, which the input controls, commits memory
//! ahead for at most [`MAX_HINT_BYTES`] of elements; past that the vector grows as the
//! elements arrive, so a hostile hint cannot make it commit much more than the elements
//! really need.

use core::fmt;
use core::marker::PhantomData;
use core::mem;

use ::serde::de::{Deserialize, Deserializer, Error as _, SeqAccess, Visitor};
use ::serde::ser::{Serialize, Serializer};

use super::VirtualVec;

/// The most memory a length hint commits ahead, as serde's own `Vec` allows.
const MAX_HINT_BYTES: usize = 1 << 20;

/// A sequence of the elements, as `Vec<T>` serializes.
///
/// ```
/// let v: vmem::VirtualVec<u32> = (1..=3).collect();
/// assert_eq!(serde_json::to_string(&v).unwrap(), "[1,2,3]");
/// ```
impl<T: Serialize> Serialize for VirtualVec<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.as_slice())
    }
}

/// From a sequence, as `Vec<T>` deserializes, into a vector made by [`VirtualVec::new`].
/// Elements that do not fit (past [`DEFAULT_RESERVE_BYTES`](crate::DEFAULT_RESERVE_BYTES) by
/// default, or memory the OS refuses) are a deserialization error naming the
/// [`vmem::Error`](crate::Error).
///
/// ```
/// let v: vmem::VirtualVec<String> = serde_json::from_str(r#"["a","b"]"#).unwrap();
/// assert_eq!(v, ["a", "b"]);
/// let back: Vec<String> = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
/// assert_eq!(v, back);
/// ```
impl<'de, T: Deserialize<'de>> Deserialize<'de> for VirtualVec<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SeqVisitor(PhantomData))
    }
}

struct SeqVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
    type Value = VirtualVec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VirtualVec<T>, A::Error> {
        const OP: &str = "VirtualVec::deserialize";
        let mut vec = VirtualVec::new();
        if let Some(hint) = seq.size_hint() {
            let ahead = hint.min(MAX_HINT_BYTES / mem::size_of::<T>().max(1));
            // Only a hint: if it does not fit, the pushes report the error when it happens.
            let _ = vec.make_room(ahead, OP);
        }
        while let Some(item) = seq.next_element()? {
            vec.try_push_for(item, OP).map_err(|(_, err)| A::Error::custom(err))?;
        }
        Ok(vec)
    }
}
