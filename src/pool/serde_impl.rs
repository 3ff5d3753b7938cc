//! With the `serde` feature: `Serialize` and `Deserialize` for [`Handle`], [`Pool`] and
//! [`SecondaryPool`] (typed keys get theirs from [`new_key_type!`](crate::new_key_type)).
//!
//! A handle is written as `{ index, generation }`. A pool is written as
//! `{ max_capacity, used, slots, free }`: every slot below `max(used, written)` with its
//! generation and its value if it holds one (`{ generation, value }`), the free stack from
//! bottom to top, and the slots that were used since the pool was made or last cleared.
//! Reading it back rebuilds the same pool, slot for slot: live handles find their values,
//! stale ones find nothing, and the next inserts hand out the handles the original would
//! have. Slots from `used` on whose value went with a `clear` (an odd generation) are
//! written with the even generation above it, which gives the next insert the same
//! generation. A secondary pool is written as its entries, `{ generation, value }` each.
//!
//! Everything read is checked before a pool is built, so that a hostile input gives an
//! error and never a pool that breaks its invariants: a value needs an odd generation no
//! higher than the last a handle can have, in a slot below `used`; a vacant slot needs an
//! even one; free-stack entries must be distinct vacant slots below `used`; a vacant slot
//! below `used` that is not on the free stack must be retired; at most `max_capacity`
//! (itself at most `u32::MAX`) slots. Memory is taken only for what the input holds.

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

/// A slot of a pool or an entry of a secondary pool as written: `V` is `&T` when writing.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Slot", deny_unknown_fields)]
struct SlotRepr<V> {
    generation: u32,
    value: Option<V>,
}

/// A pool as read.
#[derive(Deserialize)]
#[serde(rename = "Pool", deny_unknown_fields)]
struct PoolRepr<T> {
    max_capacity: u64,
    used: u64,
    slots: Vec<SlotRepr<T>>,
    free: Vec<u32>,
}

impl<T: Serialize, K: Key> Serialize for Pool<T, K> {
    /// As `{ max_capacity, used, slots, free }`: see the [module docs](crate::pool#serde).
    ///
    /// ```
    /// let mut pool = vmem::Pool::with_max_capacity(4)?;
    /// let a = pool.insert('a');
    /// pool.insert('b');
    /// pool.remove(a);
    /// assert_eq!(
    ///     serde_json::to_string(&pool).unwrap(),
    ///     r#"{"max_capacity":4,"used":2,"slots":[{"generation":2,"value":null},{"generation":1,"value":"b"}],"free":[0]}"#
    /// );
    /// # Ok::<(), vmem::Error>(())
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Pool", 4)?;
        state.serialize_field("max_capacity", &(self.max_capacity as u64))?;
        state.serialize_field("used", &(self.used as u64))?;
        state.serialize_field("slots", &SlotsOf(self))?;
        state.serialize_field("free", &FreeStackOf(self))?;
        state.end()
    }
}

/// The slots of a pool, to write.
struct SlotsOf<'a, T, K: Key>(&'a Pool<T, K>);

impl<T: Serialize, K: Key> Serialize for SlotsOf<'_, T, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pool = self.0;
        serializer.collect_seq((0..pool.used.max(pool.written)).map(|index| {
            // SAFETY: a committed slot below `max(used, written)`: its generation was
            // written by the pool, which is borrowed.
            let slot = unsafe { &*pool.slots.as_ptr().add(index) };
            if index < pool.used && slot.generation % 2 == 1 {
                // SAFETY: odd generation below `used`: the slot holds a value.
                SlotRepr { generation: slot.generation, value: Some(unsafe { slot.value.assume_init_ref() }) }
            } else {
                // Vacant. From `used` on an odd generation is a value gone with a `clear`,
                // which acts as the even generation above it. At most `RETIRED`: no overflow.
                SlotRepr { generation: (slot.generation + 1) & !1, value: None }
            }
        }))
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
    /// let forged = r#"{"max_capacity":4,"used":1,"slots":[{"generation":2,"value":"x"}],"free":[]}"#;
    /// let err = serde_json::from_str::<vmem::Pool<String>>(forged).unwrap_err();
    /// assert!(err.to_string().contains("even"), "{err}");
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
    ValueAtEvenGeneration { index: usize, generation: u32 },
    ValueAtRetiredGeneration { index: usize, generation: u32 },
    ValuePastUsed { index: usize, used: usize },
    VacantAtOddGeneration { index: usize, generation: u32 },
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
            Invalid::ValueAtEvenGeneration { index, generation } => {
                write!(f, "slot {index} holds a value at the even (vacant) generation {generation}")
            }
            Invalid::ValueAtRetiredGeneration { index, generation } => {
                write!(
                    f,
                    "slot {index} holds a value at generation {generation}, past the last one ({LAST_GENERATION})"
                )
            }
            Invalid::ValuePastUsed { index, used } => write!(f, "slot {index} holds a value but used is {used}"),
            Invalid::VacantAtOddGeneration { index, generation } => {
                write!(f, "slot {index} holds no value at the odd (occupied) generation {generation}")
            }
            Invalid::FreeOutOfRange { entry, used } => write!(f, "free-stack entry {entry} is not below used ({used})"),
            Invalid::FreeNotVacant { entry } => write!(f, "free-stack entry {entry} is a slot that holds a value"),
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
        let PoolRepr { max_capacity, used, slots, free } = repr;
        if max_capacity > NO_SLOT as u64 {
            return Err(Invalid::MaxCapacity(max_capacity));
        }
        let max = max_capacity as usize;
        reserve_bytes::<T>(OP, max).map_err(Invalid::Memory)?;
        if slots.len() > max {
            return Err(Invalid::TooManySlots { slots: slots.len(), max_capacity });
        }
        if used > slots.len() as u64 {
            return Err(Invalid::UsedPastSlots { used, slots: slots.len() });
        }
        let used = used as usize;
        for (index, slot) in slots.iter().enumerate() {
            let generation = slot.generation;
            match slot.value {
                Some(_) if generation % 2 == 0 => return Err(Invalid::ValueAtEvenGeneration { index, generation }),
                Some(_) if generation > LAST_GENERATION => {
                    return Err(Invalid::ValueAtRetiredGeneration { index, generation })
                }
                Some(_) if index >= used => return Err(Invalid::ValuePastUsed { index, used }),
                None if generation % 2 == 1 => return Err(Invalid::VacantAtOddGeneration { index, generation }),
                _ => {}
            }
        }
        let mut stacked = vec![false; used];
        for &entry in &free {
            let index = entry as usize;
            if index >= used {
                return Err(Invalid::FreeOutOfRange { entry, used });
            }
            if slots[index].value.is_some() {
                return Err(Invalid::FreeNotVacant { entry });
            }
            if core::mem::replace(&mut stacked[index], true) {
                return Err(Invalid::FreeTwice { entry });
            }
        }
        // Vacant slots below `used` off the stack are lost: they must be retired.
        let mut lost = 0;
        for (index, slot) in slots[..used].iter().enumerate() {
            if slot.value.is_none() && !stacked[index] {
                if slot.generation != RETIRED {
                    return Err(Invalid::Unreachable { index, generation: slot.generation });
                }
                lost += 1;
            }
        }

        let mut pool = Self::empty(max);
        let len = slots.len();
        if len > 0 {
            pool.commit_slots(OP, len).map_err(Invalid::Memory)?;
        }
        for (index, slot) in slots.into_iter().enumerate() {
            // SAFETY: `index < len <= committed`; the slot is the new pool's alone.
            let target = unsafe { pool.slots.as_ptr().add(index) };
            // SAFETY: as above.
            unsafe { ptr::addr_of_mut!((*target).generation).write(slot.generation) };
            if let Some(value) = slot.value {
                // SAFETY: as above; checked: an odd generation below `used`.
                unsafe { ptr::addr_of_mut!((*target).value).write(MaybeUninit::new(value)) };
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
    /// As its entries, `{ generation, value }` each, in index order.
    ///
    /// ```
    /// let mut pool = vmem::Pool::new();
    /// let mut side = vmem::pool::SecondaryPool::new();
    /// side.insert(pool.insert(()), 5u8);
    /// assert_eq!(serde_json::to_string(&side).unwrap(), r#"[{"generation":1,"value":5}]"#);
    /// ```
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.entries.iter().map(|entry| SlotRepr {
            generation: entry.generation,
            // SAFETY: odd generation: the entry holds a value.
            value: (entry.generation % 2 == 1).then(|| unsafe { entry.value.assume_init_ref() }),
        }))
    }
}

impl<'de, K: Key, V: Deserialize<'de>> Deserialize<'de> for SecondaryPool<K, V> {
    /// From what [`serialize`](SecondaryPool::serialize) wrote, checked: a value needs an
    /// odd generation no higher than the last a handle can have, a vacant entry an even one;
    /// at most `u32::MAX` entries.
    ///
    /// ```
    /// use vmem::pool::SecondaryPool;
    /// use vmem::Handle;
    ///
    /// let side: SecondaryPool<Handle, u8> = serde_json::from_str(r#"[{"generation":1,"value":5}]"#).unwrap();
    /// assert_eq!(side[Handle::from_bits(1).unwrap()], 5);
    /// assert!(serde_json::from_str::<SecondaryPool<Handle, u8>>(r#"[{"generation":1,"value":null}]"#).is_err());
    /// ```
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<SlotRepr<V>>::deserialize(deserializer)?;
        if entries.len() > NO_SLOT as usize {
            return Err(D::Error::custom(format_args!(
                "not a valid SecondaryPool: {} entries are more than {NO_SLOT}",
                entries.len()
            )));
        }
        for (index, entry) in entries.iter().enumerate() {
            let generation = entry.generation;
            let fault = match entry.value {
                Some(_) if generation % 2 == 0 => "holds a value at an even (vacant) generation",
                Some(_) if generation > LAST_GENERATION => "holds a value at a generation past the last one",
                None if generation % 2 == 1 => "holds no value at an odd (occupied) generation",
                _ => continue,
            };
            return Err(D::Error::custom(format_args!(
                "not a valid SecondaryPool: entry {index} {fault} ({generation})"
            )));
        }
        let mut side = SecondaryPool { entries: crate::VirtualVec::new(), len: 0, _key: PhantomData };
        side.entries
            .try_reserve(entries.len())
            .map_err(|err| D::Error::custom(format_args!("not a valid SecondaryPool: {err}")))?;
        for SlotRepr { generation, value } in entries {
            let occupied = value.is_some();
            let entry = Entry { generation, value: value.map_or(MaybeUninit::uninit(), MaybeUninit::new) };
            if let Err((entry, err)) = side.entries.try_push(entry) {
                // Not after the reservation; if it did, the value is dropped with the error.
                if occupied {
                    // SAFETY: just put there.
                    drop(unsafe { entry.value.assume_init() });
                }
                return Err(D::Error::custom(format_args!("not a valid SecondaryPool: {err}")));
            }
            side.len += usize::from(occupied);
        }
        Ok(side)
    }
}
