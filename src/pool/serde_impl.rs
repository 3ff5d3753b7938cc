//! With the `serde` feature: `Serialize` and `Deserialize` for [`Handle`], [`Pool`] and
//! [`SecondaryPool`] (typed keys get theirs from [`new_key_type!`](crate::new_key_type)).
//!
//! A handle is written as `{ index, generation }`. A pool is written as
//! `{ max_capacity, used, generations, values, free }`: the generation of every slot below
//! `max(used, written)`, the values of the occupied ones (an odd generation below `used`)
//! in slot order, the free stack from bottom to top, and how many slots were used since the
//! pool was made or last cleared. Reading it back rebuilds the same pool, slot for slot:
//! live handles find their values, stale ones find nothing, and the next inserts hand out
//! the handles the original would have. Slots from `used` on whose value went with a
//! `clear` (an odd generation) are written with the even generation above it, which gives
//! the next insert the same generation. A secondary pool is written as
//! `{ generations, values }`, the same way. (Occupancy is in the generations, not in an
//! `Option` per value, so that values which are themselves `null` in a format, such as
//! `()` or `None` in JSON, come back as they were.)
//!
//! Everything read is checked before a pool is built, so that a hostile input gives an
//! error and never a pool that breaks its invariants: an occupied slot's generation (odd)
//! is no higher than the last a handle can have; slots from `used` on are vacant (even);
//! there is one value per occupied slot; free-stack entries are distinct vacant slots below
//! `used`; a vacant slot below `used` that is not on the free stack is retired; at most
//! `max_capacity` (itself at most `u32::MAX`) slots. Memory is taken only for what the
//! input holds.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr;

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secondary::{Entry, SecondaryPool};
use super::{reserve_bytes, Handle, Key, Pool, LAST_GENERATION, NO_SLOT, RETIRED};
use crate::Error;

/// A handle as written.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Handle", deny_unknown_fields)]
struct HandleRepr {
    index: u32,
    generation: u32,
}

impl Serialize for Handle {
    /// As `{ index, generation }`.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let h = pool.insert(1);
    /// assert_eq!(serde_json::to_string(&h).unwrap(), r#"{"index":0,"generation":1}"#);
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        HandleRepr { index: self.index(), generation: self.generation() }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Handle {
    /// From `{ index, generation }`; an error for a handle no pool hands out (see
    /// [`Handle::from_bits`]), except [`Handle::NULL`].
    ///
    /// ```
    /// use vmem::Handle;
    ///
    /// let h: Handle = serde_json::from_str(r#"{"index":3,"generation":5}"#).unwrap();
    /// assert_eq!((h.index(), h.generation()), (3, 5));
    /// assert!(serde_json::from_str::<Handle>(r#"{"index":3,"generation":4}"#).is_err());
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let HandleRepr { index, generation } = HandleRepr::deserialize(deserializer)?;
        Handle::from_bits(((index as u64) << 32) | generation as u64).ok_or_else(|| {
            D::Error::custom(format_args!(
                "no pool hands out a handle with index {index} and generation {generation} \
                 (generations are odd and below {RETIRED}, indices below {NO_SLOT})"
            ))
        })
    }
}

/// A pool as read.
#[derive(Deserialize)]
#[serde(rename = "Pool", deny_unknown_fields)]
struct PoolRepr<T> {
    max_capacity: u64,
    used: u64,
    generations: Vec<u32>,
    values: Vec<T>,
    free: Vec<u32>,
}

/// A secondary pool as read.
#[derive(Deserialize)]
#[serde(rename = "SecondaryPool", deny_unknown_fields)]
struct SecondaryRepr<V> {
    generations: Vec<u32>,
    values: Vec<V>,
}

impl<T: Serialize, K: Key> Serialize for Pool<T, K> {
    /// As `{ max_capacity, used, generations, values, free }`: see the
    /// [module docs](crate::pool#serde).
    ///
    /// ```
    /// let mut pool = vmem::Pool::with_max_capacity(4)?;
    /// let a = pool.insert('a');
    /// pool.insert('b');
    /// pool.remove(a);
    /// assert_eq!(
    ///     serde_json::to_string(&pool).unwrap(),
    ///     r#"{"max_capacity":4,"used":2,"generations":[2,1],"values":["b"],"free":[0]}"#
    /// );
    /// # Ok::<(), vmem::Error>(())
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Pool", 5)?;
        state.serialize_field("max_capacity", &(self.max_capacity as u64))?;
        state.serialize_field("used", &(self.used as u64))?;
        state.serialize_field("generations", &GenerationsOf(self))?;
        state.serialize_field("values", &ValuesOf(self))?;
        state.serialize_field("free", &FreeStackOf(self))?;
        state.end()
    }
}

/// The generations of a pool's slots, to write.
struct GenerationsOf<'a, T, K: Key>(&'a Pool<T, K>);

impl<T, K: Key> Serialize for GenerationsOf<'_, T, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pool = self.0;
        serializer.collect_seq((0..pool.used.max(pool.written)).map(|index| {
            // SAFETY: a committed slot below `max(used, written)`: its generation was
            // written by the pool, which is borrowed.
            let generation = unsafe { (*pool.slots.as_ptr().add(index)).generation };
            if index < pool.used {
                generation
            } else {
                // Vacant. From `used` on an odd generation is a value gone with a `clear`,
                // which acts as the even generation above it. At most `RETIRED`: no overflow.
                (generation + 1) & !1
            }
        }))
    }
}

/// The values of a pool, in slot order, to write.
struct ValuesOf<'a, T, K: Key>(&'a Pool<T, K>);

impl<T: Serialize, K: Key> Serialize for ValuesOf<'_, T, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.values())
    }
}

/// The free stack of a pool, bottom first, to write.
struct FreeStackOf<'a, T, K: Key>(&'a Pool<T, K>);

impl<T, K: Key> Serialize for FreeStackOf<'_, T, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pool = self.0;
        // SAFETY: `i < free_len()`.
        serializer.collect_seq((0..pool.free_len()).map(|i| unsafe { pool.stack_entry(i) }))
    }
}

impl<'de, T: Deserialize<'de>, K: Key> Deserialize<'de> for Pool<T, K> {
    /// From what [`serialize`](Pool::serialize) wrote, checked: see the
    /// [module docs](crate::pool#serde). The pool reserves its address space and commits
    /// its slots (an error if the OS refuses).
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let a = pool.insert(String::from("a"));
    /// let b = pool.insert(String::from("b"));
    /// pool.remove(a);
    /// let json = serde_json::to_string(&pool).unwrap();
    /// let mut back: vmem::Pool<String> = serde_json::from_str(&json).unwrap();
    /// assert_eq!((back.get(a), back[b].as_str()), (None, "b"));
    /// assert_eq!(back.insert(String::from("c")), pool.insert(String::from("c")));
    ///
    /// let forged = r#"{"max_capacity":4,"used":1,"generations":[2],"values":["x"],"free":[]}"#;
    /// let err = serde_json::from_str::<vmem::Pool<String>>(forged).unwrap_err();
    /// assert!(err.to_string().contains("1 values for 0 occupied slots"), "{err}");
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = PoolRepr::<T>::deserialize(deserializer)?;
        Pool::from_repr(repr).map_err(D::Error::custom)
    }
}

/// Why an input is not a pool.
enum Invalid {
    MaxCapacity(u64),
    TooManySlots { slots: usize, max_capacity: u64 },
    UsedPastSlots { used: u64, slots: usize },
    PastLastGeneration { index: usize, generation: u32 },
    OccupiedPastUsed { index: usize, generation: u32, used: usize },
    ValueCount { values: usize, occupied: usize },
    FreeOutOfRange { entry: u32, used: usize },
    FreeNotVacant { entry: u32 },
    FreeTwice { entry: u32 },
    Unreachable { index: usize, generation: u32 },
    Memory(Error),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a valid Pool: ")?;
        match *self {
            Invalid::MaxCapacity(max) => write!(f, "max_capacity {max} is above {NO_SLOT}"),
            Invalid::TooManySlots { slots, max_capacity } => {
                write!(f, "{slots} slots are more than its max_capacity of {max_capacity}")
            }
            Invalid::UsedPastSlots { used, slots } => write!(f, "used is {used} but there are {slots} slots"),
            Invalid::PastLastGeneration { index, generation } => write!(
                f,
                "slot {index} is occupied at generation {generation}, past the last one a handle can have ({LAST_GENERATION})"
            ),
            Invalid::OccupiedPastUsed { index, generation, used } => write!(
                f,
                "slot {index} has the odd (occupied) generation {generation} but is not below used ({used})"
            ),
            Invalid::ValueCount { values, occupied } => {
                write!(f, "{values} values for {occupied} occupied slots (odd generations below used)")
            }
            Invalid::FreeOutOfRange { entry, used } => write!(f, "free-stack entry {entry} is not below used ({used})"),
            Invalid::FreeNotVacant { entry } => write!(f, "free-stack entry {entry} is an occupied slot"),
            Invalid::FreeTwice { entry } => write!(f, "slot {entry} is on the free stack twice"),
            Invalid::Unreachable { index, generation } => write!(
                f,
                "slot {index} (generation {generation}) is vacant below used but neither on the free stack nor retired"
            ),
            Invalid::Memory(err) => write!(f, "{err}"),
        }
    }
}

impl<T, K: Key> Pool<T, K> {
    /// The pool `repr` describes, checked first.
    fn from_repr(repr: PoolRepr<T>) -> Result<Self, Invalid> {
        const OP: &str = "Pool::deserialize";
        let PoolRepr { max_capacity, used, generations, values, free } = repr;
        if max_capacity > NO_SLOT as u64 {
            return Err(Invalid::MaxCapacity(max_capacity));
        }
        let max = max_capacity as usize;
        reserve_bytes::<T>(OP, max).map_err(Invalid::Memory)?;
        let len = generations.len();
        if len > max {
            return Err(Invalid::TooManySlots { slots: len, max_capacity });
        }
        if used > len as u64 {
            return Err(Invalid::UsedPastSlots { used, slots: len });
        }
        let used = used as usize;
        let mut occupied = 0;
        for (index, &generation) in generations.iter().enumerate() {
            if generation % 2 == 1 {
                if index >= used {
                    return Err(Invalid::OccupiedPastUsed { index, generation, used });
                }
                if generation > LAST_GENERATION {
                    return Err(Invalid::PastLastGeneration { index, generation });
                }
                occupied += 1;
            }
        }
        if values.len() != occupied {
            return Err(Invalid::ValueCount { values: values.len(), occupied });
        }
        let mut stacked = vec![false; used];
        for &entry in &free {
            let index = entry as usize;
            if index >= used {
                return Err(Invalid::FreeOutOfRange { entry, used });
            }
            if generations[index] % 2 == 1 {
                return Err(Invalid::FreeNotVacant { entry });
            }
            if core::mem::replace(&mut stacked[index], true) {
                return Err(Invalid::FreeTwice { entry });
            }
        }
        // Vacant slots below `used` off the stack are lost: they must be retired.
        let mut lost = 0;
        for (index, &generation) in generations[..used].iter().enumerate() {
            if generation % 2 == 0 && !stacked[index] {
                if generation != RETIRED {
                    return Err(Invalid::Unreachable { index, generation });
                }
                lost += 1;
            }
        }

        let mut pool = Self::empty(max);
        if len > 0 {
            pool.commit_slots(OP, len).map_err(Invalid::Memory)?;
        }
        let mut values = values.into_iter();
        for (index, &generation) in generations.iter().enumerate() {
            // SAFETY: `index < len <= committed`; the slot is the new pool's alone.
            let target = unsafe { pool.slots.as_ptr().add(index) };
            // SAFETY: as above.
            unsafe { ptr::addr_of_mut!((*target).generation).write(generation) };
            if generation % 2 == 1 {
                // Checked: one value per odd generation, all below `used`.
                if let Some(value) = values.next() {
                    // SAFETY: as above.
                    unsafe { ptr::addr_of_mut!((*target).value).write(MaybeUninit::new(value)) };
                }
            }
        }
        pool.used = used;
        pool.written = len;
        for &entry in &free {
            // SAFETY: distinct entries below `used`: fewer than `used <= committed`.
            unsafe { pool.push_free(entry) };
        }
        pool.lost = lost;
        Ok(pool)
    }
}

impl<K: Key, V: Serialize> Serialize for SecondaryPool<K, V> {
    /// As `{ generations, values }`: the generation of every entry, and the values of the
    /// occupied ones (odd generations) in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// pool.insert(());
    /// side.insert(pool.insert(()), 5u8);
    /// assert_eq!(serde_json::to_string(&side).unwrap(), r#"{"generations":[0,1],"values":[5]}"#);
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("SecondaryPool", 2)?;
        state.serialize_field("generations", &EntryGenerations(self))?;
        state.serialize_field("values", &EntryValues(self))?;
        state.end()
    }
}

/// The generations of a secondary pool's entries, to write.
struct EntryGenerations<'a, K: Key, V>(&'a SecondaryPool<K, V>);

impl<K: Key, V> Serialize for EntryGenerations<'_, K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.entries.iter().map(|entry| entry.generation))
    }
}

/// The values of a secondary pool, in index order, to write.
struct EntryValues<'a, K: Key, V>(&'a SecondaryPool<K, V>);

impl<K: Key, V: Serialize> Serialize for EntryValues<'_, K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.values())
    }
}

impl<'de, K: Key, V: Deserialize<'de>> Deserialize<'de> for SecondaryPool<K, V> {
    /// From what [`serialize`](SecondaryPool::serialize) wrote, checked: odd (occupied)
    /// generations no higher than the last a handle can have, one value for each, at most
    /// `u32::MAX` entries.
    ///
    /// ```
    /// use vmem::pool::SecondaryPool;
    /// use vmem::Handle;
    ///
    /// let side: SecondaryPool<Handle, u8> = serde_json::from_str(r#"{"generations":[1],"values":[5]}"#).unwrap();
    /// assert_eq!(side[Handle::from_bits(1).unwrap()], 5);
    /// assert!(serde_json::from_str::<SecondaryPool<Handle, u8>>(r#"{"generations":[1],"values":[]}"#).is_err());
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let SecondaryRepr { generations, values } = SecondaryRepr::<V>::deserialize(deserializer)?;
        let invalid = |why: fmt::Arguments<'_>| D::Error::custom(format_args!("not a valid SecondaryPool: {why}"));
        if generations.len() > NO_SLOT as usize {
            return Err(invalid(format_args!("{} entries are more than {NO_SLOT}", generations.len())));
        }
        let mut occupied = 0;
        for (index, &generation) in generations.iter().enumerate() {
            if generation % 2 == 1 {
                if generation > LAST_GENERATION {
                    return Err(invalid(format_args!(
                        "entry {index} is occupied at generation {generation}, past the last one a handle can have"
                    )));
                }
                occupied += 1;
            }
        }
        if values.len() != occupied {
            return Err(invalid(format_args!("{} values for {occupied} occupied entries", values.len())));
        }
        let mut side = SecondaryPool { entries: crate::VirtualVec::new(), len: 0, _key: PhantomData };
        side.entries.try_reserve(generations.len()).map_err(|err| invalid(format_args!("{err}")))?;
        let mut values = values.into_iter();
        for generation in generations {
            let value = if generation % 2 == 1 { values.next() } else { None };
            let occupied = value.is_some();
            let entry = Entry { generation, value: value.map_or(MaybeUninit::uninit(), MaybeUninit::new) };
            if let Err((entry, err)) = side.entries.try_push(entry) {
                // Not after the reservation; if it did, the value is dropped with the error.
                if occupied {
                    // SAFETY: just put there.
                    drop(unsafe { entry.value.assume_init() });
                }
                return Err(invalid(format_args!("{err}")));
            }
            side.len += usize::from(occupied);
        }
        Ok(side)
    }
}
