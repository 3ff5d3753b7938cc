//! [`Handle`], the [`Key`] trait that typed handles implement, and the
//! [`new_key_type!`](crate::new_key_type) macro that makes them.

use core::fmt;
use core::hash::{Hash, Hasher};
use core::num::NonZeroU32;

use super::{NO_SLOT, RETIRED};

/// A reference to a value in a [`Pool`](crate::Pool): the index of its slot and the slot's
/// generation when the value was inserted. Small (8 bytes, and `Option<Handle>` too) and
/// `Copy`; compare, hash and order it freely (handles order by index, then generation).
///
/// A handle does not know its pool: used with another pool, it finds whatever that pool
/// holds at the same index and generation, if anything.
///
/// [`Handle::NULL`] (also [`Handle::default()`](Handle::default)) refers to nothing in any
/// pool: a placeholder where a handle is not known yet.
///
/// ```
/// let mut pool = vmem::Pool::new();
/// let h = pool.insert(1.5);
/// let copy = h;
/// assert_eq!(pool[copy], 1.5);
/// assert_eq!(std::mem::size_of::<Option<vmem::Handle>>(), 8);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C)]
pub struct Handle {
    // Two fields, so that code reading a handle from memory loads each half directly (a
    // 32-bit load for the index, a compare with memory for the generation).
    index: u32,
    /// Always odd: even generations mark vacant slots.
    generation: NonZeroU32,
}

impl Handle {
    /// The handle that refers to nothing: index `u32::MAX`, which no pool has (a pool holds
    /// fewer than `u32::MAX` slots), generation 1. It is the [`Default`] handle.
    ///
    /// ```
    /// use vmem::{Handle, Pool};
    ///
    /// let mut pool = Pool::new();
    /// pool.insert("a");
    /// assert_eq!(pool.get(Handle::NULL), None);
    /// assert!(Handle::NULL.is_null() && Handle::default().is_null());
    /// assert_eq!(Handle::from_bits(Handle::NULL.to_bits()), Some(Handle::NULL));
    /// ```
    pub const NULL: Handle = Handle { index: NO_SLOT, generation: NonZeroU32::MIN };

    /// A handle for slot `index` at the odd `generation`.
    #[inline(always)]
    pub(crate) const fn new(index: u32, generation: u32) -> Handle {
        debug_assert!(generation % 2 == 1);
        // SAFETY: an odd generation is not zero.
        Handle { index, generation: unsafe { NonZeroU32::new_unchecked(generation) } }
    }

    /// Whether this is [`Handle::NULL`].
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// assert!(!pool.insert(1).is_null());
    /// assert!(vmem::Handle::NULL.is_null());
    /// ```
    #[inline]
    pub const fn is_null(self) -> bool {
        self.to_bits() == Handle::NULL.to_bits()
    }

    /// The index of the value's slot. Slots are reused, so indices are not unique over time.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// assert_eq!(pool.insert('a').index(), 0);
    /// assert_eq!(pool.insert('b').index(), 1);
    /// ```
    #[inline(always)]
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The generation of the slot when the value was inserted (always odd).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let first = pool.insert(());
    /// pool.remove(first);
    /// let second = pool.insert(());
    /// assert_eq!(first.index(), second.index());
    /// assert!(second.generation() > first.generation());
    /// ```
    #[inline(always)]
    pub const fn generation(self) -> u32 {
        self.generation.get()
    }

    /// The handle as one number, index in the high 32 bits, generation in the low ones: for
    /// storage, or to pass through C. Never zero.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(7);
    /// assert_eq!(vmem::Handle::from_bits(h.to_bits()), Some(h));
    /// ```
    pub const fn to_bits(self) -> u64 {
        ((self.index as u64) << 32) | self.generation.get() as u64
    }

    /// The handle that [`to_bits`](Handle::to_bits) gave, or `None` for a number no pool
    /// hands out (an even generation or one above `u32::MAX - 2`, or the index `u32::MAX`
    /// with any generation but [`NULL`](Handle::NULL)'s).
    ///
    /// ```
    /// assert_eq!(vmem::Handle::from_bits(0), None);
    /// assert_eq!(vmem::Handle::from_bits(1).map(|h| h.index()), Some(0));
    /// assert_eq!(vmem::Handle::from_bits(3 << 32 | 5).map(|h| (h.index(), h.generation())), Some((3, 5)));
    /// assert_eq!(vmem::Handle::from_bits(u64::MAX), None);
    /// ```
    pub const fn from_bits(bits: u64) -> Option<Handle> {
        if bits == Handle::NULL.to_bits() {
            return Some(Handle::NULL);
        }
        let index = (bits >> 32) as u32;
        let generation = bits as u32;
        if generation % 2 == 0 || generation > RETIRED || index == NO_SLOT {
            return None;
        }
        Some(Handle::new(index, generation))
    }
}

impl Default for Handle {
    /// [`Handle::NULL`].
    ///
    /// ```
    /// assert_eq!(vmem::Handle::default(), vmem::Handle::NULL);
    /// ```
    fn default() -> Handle {
        Handle::NULL
    }
}

impl Hash for Handle {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.to_bits());
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_key("Handle", *self, f)
    }
}

/// How handles and typed keys print: `Name(3v1)`, or `Name(null)`.
#[doc(hidden)]
pub fn fmt_key(name: &str, handle: Handle, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    if handle.is_null() {
        write!(f, "{name}(null)")
    } else {
        write!(f, "{name}({}v{})", handle.index(), handle.generation())
    }
}

/// What a pool hands out for each value: a [`Handle`], or a typed key that wraps one, made
/// with [`new_key_type!`](crate::new_key_type), so that the handles of different pools
/// cannot be mixed up (`Pool<Player, PlayerKey>` takes only `PlayerKey`s).
///
/// The pool turns a key into its handle with [`handle`](Key::handle) and back with
/// `From<Handle>`; the two must agree (`K::from(h).handle() == h`). A key that breaks this
/// finds wrong values or none, but never breaks memory safety: the pool checks every
/// handle it gets.
///
/// ```
/// use vmem::pool::Key;
/// use vmem::Handle;
///
/// vmem::new_key_type! { struct NodeKey; }
///
/// let mut pool = vmem::Pool::<&str, NodeKey>::with_key();
/// let key: NodeKey = pool.insert("root");
/// let handle: Handle = key.handle();
/// assert_eq!(NodeKey::from(handle), key);
/// assert!(NodeKey::null().is_null() && NodeKey::default().is_null());
/// ```
pub trait Key: Copy + Eq + Ord + Hash + fmt::Debug + Default + From<Handle> {
    /// The handle this key stands for.
    fn handle(self) -> Handle;

    /// The key of [`Handle::NULL`], which refers to nothing.
    fn null() -> Self {
        Self::from(Handle::NULL)
    }

    /// Whether this is the [`null`](Key::null) key.
    fn is_null(self) -> bool {
        self.handle().is_null()
    }
}

impl Key for Handle {
    #[inline(always)]
    fn handle(self) -> Handle {
        self
    }
}

/// Declares typed handles: newtypes around [`Handle`] that implement [`Key`](crate::pool::Key),
/// so that a `Pool<T, MyKey>` takes only `MyKey`s and the handles of two pools cannot be
/// mixed up. As `slotmap::new_key_type!`.
///
/// Each key is `Copy`, `Eq`, `Ord`, `Hash`, `Debug` (`MyKey(3v1)`), `Default` (the null
/// key), converts from and into a `Handle`, and, with the `serde` feature, serializes as
/// its handle does. Attributes (doc comments, derives) and visibility carry over.
///
/// ```
/// use vmem::{Handle, Pool};
///
/// vmem::new_key_type! {
///     /// A player of the game.
///     pub struct PlayerKey;
///     struct TeamKey;
/// }
///
/// let mut players = Pool::<&str, PlayerKey>::with_key();
/// let mut teams = Pool::<Vec<PlayerKey>, TeamKey>::with_key();
/// let ann = players.insert("ann");
/// let red = teams.insert(vec![ann]);
/// assert_eq!(players[teams[red][0]], "ann");
/// // teams.get(ann) would not compile: a PlayerKey is not a TeamKey.
/// assert_eq!(format!("{ann:?}"), "PlayerKey(0v1)");
/// assert_eq!(Handle::from(ann), Handle::from(red)); // the same slot and generation
/// ```
#[macro_export]
macro_rules! new_key_type {
    ( $(#[$outer:meta])* $vis:vis struct $name:ident; $($rest:tt)* ) => {
        $(#[$outer])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[repr(transparent)]
        $vis struct $name($crate::Handle);

        impl ::core::convert::From<$crate::Handle> for $name {
            #[inline(always)]
            fn from(handle: $crate::Handle) -> Self {
                $name(handle)
            }
        }

        impl ::core::convert::From<$name> for $crate::Handle {
            #[inline(always)]
            fn from(key: $name) -> Self {
                key.0
            }
        }

        impl $crate::pool::Key for $name {
            #[inline(always)]
            fn handle(self) -> $crate::Handle {
                self.0
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                $crate::pool::__private::fmt_key(::core::stringify!($name), self.0, f)
            }
        }

        $crate::__pool_key_serde!($name);

        $crate::new_key_type!($($rest)*);
    };
    () => {};
}

/// With the `serde` feature: a typed key serializes as its handle.
#[cfg(feature = "serde")]
#[doc(hidden)]
#[macro_export]
macro_rules! __pool_key_serde {
    ($name:ident) => {
        impl $crate::pool::__private::serde::Serialize for $name {
            fn serialize<S>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error>
            where
                S: $crate::pool::__private::serde::Serializer,
            {
                $crate::pool::__private::serde::Serialize::serialize(&self.0, serializer)
            }
        }

        impl<'de> $crate::pool::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D>(deserializer: D) -> ::core::result::Result<Self, D::Error>
            where
                D: $crate::pool::__private::serde::Deserializer<'de>,
            {
                <$crate::Handle as $crate::pool::__private::serde::Deserialize<'de>>::deserialize(deserializer)
                    .map($name)
            }
        }
    };
}

/// Without the `serde` feature: nothing.
#[cfg(not(feature = "serde"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __pool_key_serde {
    ($name:ident) => {};
}
