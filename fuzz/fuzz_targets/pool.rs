//! `Pool<u64>` against a `HashMap<Handle, u64>`: every handle ever issued is kept, so stale
//! handles (removed, or their slot reused) are tried too and must find nothing. The ops
//! cover the whole API: insert_with_key (with a closure that panics too), vacant entries,
//! get_disjoint_mut, drain, reserve, clone and serde round trips (the copy replaces the
//! pool and must go on as it would have), and a `SecondaryPool` keyed by the same handles
//! against a model of "the newest key of a slot wins". The pool may also start from a
//! forged serialized form, which must be refused or give a pool that passes every check.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::pool::SecondaryPool;
use vmem::{Handle, Pool};

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u64),
    Remove(u16),
    Get(u16),
    Set(u16, u64),
    Clear,
    InsertWithKey(u64),
    InsertWithKeyPanics,
    Vacant(u64, bool),
    GetDisjoint([u16; 3], u64),
    GetDisjointMany([u8; 10], u64),
    Drain(u8),
    Reserve(u8),
    Clone,
    RoundTrip,
    SideInsert(u16, u64),
    SideRemove(u16),
    SideGet(u16),
    SideRetain(u8),
    SideClear,
    SideRoundTrip,
}

/// A serialized pool, possibly forged.
#[derive(Arbitrary, Debug)]
struct Forged {
    max_capacity: u8,
    used: u8,
    generations: Vec<u32>,
    values: Vec<u64>,
    free: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_capacity: u8,
    start: Option<Forged>,
    ops: Vec<Op>,
}

/// Per slot index: the newest generation a key brought to the secondary pool, and that
/// key's value if it is there.
#[derive(Clone, Copy, Default)]
struct Seen {
    generation: u32,
    value: Option<u64>,
}

fn side_get(model: &BTreeMap<u32, Seen>, h: Handle) -> Option<u64> {
    model.get(&h.index()).filter(|s| s.generation == h.generation()).and_then(|s| s.value)
}

fuzz_target!(|input: Input| {
    let mut max = usize::from(input.max_capacity) + 1;
    let mut pool = Pool::<u64>::with_max_capacity(max).expect("a small reservation");
    let mut model: HashMap<Handle, u64> = HashMap::new();
    let mut issued: Vec<Handle> = Vec::new();
    let mut addresses: HashMap<Handle, usize> = HashMap::new();
    if let Some(forged) = input.start {
        // Small generations mostly, so that valid forms come up; the raw ones otherwise.
        let generations: Vec<u32> =
            forged.generations.iter().map(|&g| if g & 0x8000_0000 == 0 { g % 8 } else { g }).collect();
        let json = serde_json::json!({
            "max_capacity": forged.max_capacity,
            "used": forged.used,
            "generations": generations,
            "values": forged.values,
            "free": forged.free,
        });
        if let Ok(start) = serde_json::from_value::<Pool<u64>>(json) {
            let mut values = forged.values.iter();
            for (i, &g) in generations.iter().enumerate() {
                if g % 2 == 1 {
                    let h = Handle::from_bits((i as u64) << 32 | u64::from(g)).expect("an accepted generation");
                    let v = *values.next().expect("one value per occupied slot");
                    assert_eq!(start.get(h), Some(&v));
                    model.insert(h, v);
                    issued.push(h);
                    addresses.insert(h, start.get(h).unwrap() as *const u64 as usize);
                } else if let Some(h) = Handle::from_bits((i as u64) << 32 | u64::from(g.wrapping_sub(1))) {
                    assert!(!start.contains(h), "a vacant slot answers");
                }
            }
            assert!(values.next().is_none());
            assert_eq!(start.max_capacity(), usize::from(forged.max_capacity));
            max = start.max_capacity();
            pool = start;
        }
    }
    let mut side: SecondaryPool<Handle, u64> = SecondaryPool::new();
    let mut side_model: BTreeMap<u32, Seen> = BTreeMap::new();
    let pick = |issued: &[Handle], i: u16| (!issued.is_empty()).then(|| issued[usize::from(i) % issued.len()]);
    for op in input.ops {
        let full = model.len() == max;
        match op {
            Op::Insert(x) => match pool.try_insert(x) {
                Ok(h) => {
                    assert!(!model.contains_key(&h), "a live handle was issued twice");
                    model.insert(h, x);
                    issued.push(h);
                    addresses.insert(h, pool.get(h).unwrap() as *const u64 as usize);
                }
                Err((back, _)) => {
                    assert_eq!(back, x);
                    assert!(full, "insert failed below the maximum");
                }
            },
            Op::Remove(i) => {
                if let Some(h) = pick(&issued, i) {
                    assert_eq!(pool.remove(h), model.remove(&h));
                }
            }
            Op::Get(i) => {
                if let Some(h) = pick(&issued, i) {
                    assert_eq!(pool.get(h), model.get(&h));
                    assert_eq!(pool.contains(h), model.contains_key(&h));
                }
            }
            Op::Set(i, x) => {
                if let Some(h) = pick(&issued, i) {
                    match (pool.get_mut(h), model.get_mut(&h)) {
                        (Some(a), Some(b)) => {
                            *a = x;
                            *b = x;
                        }
                        (None, None) => {}
                        (a, b) => panic!("get_mut disagrees: {a:?} vs {b:?}"),
                    }
                }
            }
            Op::Clear => {
                pool.clear();
                model.clear();
            }
            Op::InsertWithKey(x) if !full => {
                let mut shown = None;
                let h = pool.insert_with_key(|key| {
                    shown = Some(key);
                    x
                });
                assert_eq!(shown, Some(h));
                assert!(!model.contains_key(&h));
                model.insert(h, x);
                issued.push(h);
                addresses.insert(h, pool.get(h).unwrap() as *const u64 as usize);
            }
            Op::InsertWithKeyPanics if !full => {
                let mut shown = None;
                // libFuzzer's panic hook aborts: a quiet one while the closure panics.
                let hook = std::panic::take_hook();
                std::panic::set_hook(Box::new(|_| {}));
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    pool.insert_with_key(|key| -> u64 {
                        shown = Some(key);
                        panic!("no value")
                    })
                }));
                std::panic::set_hook(hook);
                assert!(outcome.is_err());
                assert!(!pool.contains(shown.unwrap()));
                assert_eq!(pool.len(), model.len());
            }
            Op::Vacant(x, keep) => match pool.try_vacant_entry() {
                Ok(entry) => {
                    assert!(!full);
                    let key = entry.key();
                    assert!(!model.contains_key(&key));
                    if keep {
                        let address = entry.insert(x) as *mut u64 as usize;
                        model.insert(key, x);
                        issued.push(key);
                        addresses.insert(key, address);
                    }
                }
                Err(_) => assert!(full),
            },
            Op::GetDisjoint(picks, x) => {
                if let (Some(a), Some(b), Some(c)) = (pick(&issued, picks[0]), pick(&issued, picks[1]), pick(&issued, picks[2])) {
                    let ok = a != b && b != c && a != c && [a, b, c].iter().all(|h| model.contains_key(h));
                    match pool.get_disjoint_mut([a, b, c]) {
                        Some(values) => {
                            assert!(ok);
                            for (value, h) in values.into_iter().zip([a, b, c]) {
                                assert_eq!(*value, model[&h]);
                                *value = x;
                                model.insert(h, x);
                            }
                        }
                        None => assert!(!ok),
                    }
                }
            }
            Op::GetDisjointMany(picks, x) if !issued.is_empty() => {
                // Among the last twelve handles: duplicates and live ones both come up.
                let recent = &issued[issued.len().saturating_sub(12)..];
                let hs = picks.map(|i| recent[usize::from(i) % recent.len()]);
                let ok = (0..10).all(|i| (0..i).all(|j| hs[i] != hs[j])) && hs.iter().all(|h| model.contains_key(h));
                match pool.get_disjoint_mut(hs) {
                    Some(values) => {
                        assert!(ok);
                        for (value, h) in values.into_iter().zip(hs) {
                            assert_eq!(*value, model[&h]);
                            *value = x;
                            model.insert(h, x);
                        }
                    }
                    None => assert!(!ok),
                }
            }
            Op::Drain(take) => {
                let mut expected: Vec<(Handle, u64)> = model.drain().collect();
                expected.sort();
                let mut drain = pool.drain();
                assert_eq!(drain.len(), expected.len());
                let got: Vec<(Handle, u64)> = drain.by_ref().take(usize::from(take)).collect();
                assert_eq!(got[..], expected[..got.len()]);
                assert_eq!(got.len(), expected.len().min(usize::from(take)));
            }
            Op::Reserve(n) => {
                let n = usize::from(n);
                match pool.try_reserve(n) {
                    Ok(()) => {
                        assert!(model.len() + n <= max);
                        let capacity = pool.capacity();
                        for x in 0..n as u64 {
                            let h = pool.try_insert(x).expect("reserved");
                            model.insert(h, x);
                            issued.push(h);
                            addresses.insert(h, pool.get(h).unwrap() as *const u64 as usize);
                        }
                        assert_eq!(pool.capacity(), capacity, "reserved: no commit");
                    }
                    Err(_) => assert!(model.len() + n > max),
                }
            }
            Op::Clone | Op::RoundTrip => {
                let copy = if let Op::Clone = op {
                    pool.clone()
                } else {
                    let json = serde_json::to_string(&pool).unwrap();
                    serde_json::from_str(&json).expect("a pool reads back")
                };
                // The copy, and then the original, hand out the same next handle.
                let mut a = pool.try_clone().unwrap();
                let mut b = copy.try_clone().unwrap();
                assert_eq!(a.try_insert(0).ok(), b.try_insert(0).ok());
                for &h in &issued {
                    assert_eq!(copy.get(h), pool.get(h));
                }
                pool = copy;
                for (h, _) in pool.iter() {
                    addresses.insert(h, pool.get(h).unwrap() as *const u64 as usize);
                }
            }
            Op::SideInsert(i, x) => {
                let h = pick(&issued, i).unwrap_or(Handle::NULL);
                let seen = side_model.entry(h.index()).or_default();
                let expected = if h.is_null() || h.generation() < seen.generation {
                    None
                } else if h.generation() == seen.generation {
                    seen.value.replace(x)
                } else {
                    *seen = Seen { generation: h.generation(), value: Some(x) };
                    None
                };
                if h.is_null() {
                    side_model.remove(&h.index());
                }
                assert_eq!(side.insert(h, x), expected);
            }
            Op::SideRemove(i) => {
                if let Some(h) = pick(&issued, i) {
                    let expected = side_get(&side_model, h);
                    if expected.is_some() {
                        side_model.get_mut(&h.index()).unwrap().value = None;
                    }
                    assert_eq!(side.remove(h), expected);
                }
            }
            Op::SideGet(i) => {
                if let Some(h) = pick(&issued, i) {
                    assert_eq!(side.get(h).copied(), side_get(&side_model, h));
                }
            }
            Op::SideRetain(m) => {
                let m = u64::from(m) + 1;
                side.retain(|_, v| *v % m == 0);
                for seen in side_model.values_mut() {
                    seen.value = seen.value.filter(|v| v % m == 0);
                }
            }
            Op::SideClear => {
                side.clear();
                side_model.clear();
            }
            Op::SideRoundTrip => {
                let json = serde_json::to_string(&side).unwrap();
                side = serde_json::from_str(&json).expect("a secondary pool reads back");
            }
            _ => {}
        }
        assert_eq!(pool.len(), model.len());
        // Live values never move (a clone or round trip is a new pool: addresses renewed).
        for (h, &v) in &model {
            let got = pool.get(*h).expect("a live handle finds its value");
            assert_eq!(*got, v);
            assert_eq!(got as *const u64 as usize, addresses[h], "a live value moved");
        }
        assert_eq!(pool.iter().count(), model.len());
        assert_eq!(side.len(), side_model.values().filter(|s| s.value.is_some()).count());
    }
    let mut keys: Vec<Handle> = model.keys().copied().collect();
    keys.sort();
    assert_eq!(pool.keys().collect::<Vec<_>>(), keys);
    let side_expected: Vec<(Handle, u64)> = side_model
        .iter()
        .filter_map(|(&i, s)| s.value.map(|v| (Handle::from_bits(u64::from(i) << 32 | u64::from(s.generation)).unwrap(), v)))
        .collect();
    assert_eq!(side.iter().map(|(h, v)| (h, *v)).collect::<Vec<_>>(), side_expected);
});
