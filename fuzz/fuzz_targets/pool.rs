//! `Pool<u64>` against a `HashMap<Handle, u64>`: every handle ever issued is kept, so stale
//! handles (removed, or their slot reused) are tried too and must find nothing.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::{Handle, Pool};

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(u64),
    Remove(u16),
    Get(u16),
    Set(u16, u64),
    Clear,
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_capacity: u8,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let max = usize::from(input.max_capacity) + 1;
    let mut pool = Pool::<u64>::with_max_capacity(max).expect("a small reservation");
    let mut model: HashMap<Handle, u64> = HashMap::new();
    let mut issued: Vec<Handle> = Vec::new();
    let mut addresses: HashMap<Handle, usize> = HashMap::new();
    let pick = |issued: &[Handle], i: u16| (!issued.is_empty()).then(|| issued[usize::from(i) % issued.len()]);
    for op in input.ops {
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
                    assert_eq!(model.len(), max, "insert failed below the maximum");
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
        }
        assert_eq!(pool.len(), model.len());
        // Live values never move.
        for (h, &v) in &model {
            let got = pool.get(*h).expect("a live handle finds its value");
            assert_eq!(*got, v);
            assert_eq!(got as *const u64 as usize, addresses[h], "a live value moved");
        }
        assert_eq!(pool.iter().count(), model.len());
    }
});
