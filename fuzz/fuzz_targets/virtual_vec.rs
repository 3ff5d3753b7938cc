//! `VirtualVec<u32>` against `Vec<u32>`: every operation, including the fallible ones at a
//! small maximum capacity, must leave both with the same contents.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::VirtualVec;

#[derive(Arbitrary, Debug)]
enum Op {
    Push(u32),
    Pop,
    Insert(u16, u32),
    Remove(u16),
    SwapRemove(u16),
    Truncate(u16),
    Clear,
    Extend(Vec<u32>),
    RetainMultiplesOf(u8),
    Drain(u16, u16),
    ShrinkToFit,
    Reserve(u16),
    Set(u16, u32),
    Clone,
}

#[derive(Arbitrary, Debug)]
struct Input {
    max_capacity: u16,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let max = usize::from(input.max_capacity % 20_000) + 1;
    let mut real = VirtualVec::<u32>::with_max_capacity(max).expect("a small reservation");
    let mut model: Vec<u32> = Vec::new();
    for op in input.ops {
        match op {
            Op::Push(x) => match real.try_push(x) {
                Ok(()) => model.push(x),
                Err((back, _)) => {
                    assert_eq!(back, x, "the value comes back");
                    assert_eq!(model.len(), max, "push failed below the maximum");
                }
            },
            Op::Pop => assert_eq!(real.pop(), model.pop()),
            Op::Insert(i, x) => {
                let i = usize::from(i);
                match real.try_insert(i, x) {
                    Ok(()) => model.insert(i, x),
                    Err((back, _)) => {
                        assert_eq!(back, x);
                        assert!(i > model.len() || model.len() == max, "insert {i} failed at len {}", model.len());
                    }
                }
            }
            Op::Remove(i) => {
                let i = usize::from(i);
                match real.try_remove(i) {
                    Ok(x) => assert_eq!(x, model.remove(i)),
                    Err(_) => assert!(i >= model.len()),
                }
            }
            Op::SwapRemove(i) => {
                let i = usize::from(i);
                match real.try_swap_remove(i) {
                    Ok(x) => assert_eq!(x, model.swap_remove(i)),
                    Err(_) => assert!(i >= model.len()),
                }
            }
            Op::Truncate(n) => {
                real.truncate(usize::from(n));
                model.truncate(usize::from(n));
            }
            Op::Clear => {
                real.clear();
                model.clear();
            }
            Op::Extend(xs) => match real.try_extend_from_slice(&xs) {
                Ok(()) => model.extend_from_slice(&xs),
                Err(_) => assert!(model.len() + xs.len() > max, "extend failed below the maximum"),
            },
            Op::RetainMultiplesOf(m) => {
                let m = u32::from(m.max(1));
                real.retain(|x| x % m == 0);
                model.retain(|x| x % m == 0);
            }
            Op::Drain(a, b) => {
                let (a, b) = (usize::from(a), usize::from(b));
                match real.try_drain(a..b) {
                    Ok(drained) => {
                        let got: Vec<u32> = drained.collect();
                        assert_eq!(got, model.drain(a..b).collect::<Vec<_>>());
                    }
                    Err(_) => assert!(a > b || b > model.len(), "drain {a}..{b} refused at len {}", model.len()),
                }
            }
            Op::ShrinkToFit => {
                real.try_shrink_to_fit().expect("shrinking cannot fail");
                assert!(real.capacity() >= real.len());
            }
            Op::Reserve(n) => {
                let n = usize::from(n);
                match real.try_reserve(n) {
                    Ok(()) => assert!(real.capacity() >= real.len() + n),
                    Err(_) => assert!(model.len() + n > max),
                }
            }
            Op::Set(i, x) => {
                let i = usize::from(i);
                if let Some(slot) = real.get_mut(i) {
                    *slot = x;
                    model[i] = x;
                } else {
                    assert!(i >= model.len());
                }
            }
            Op::Clone => {
                let copy = real.try_clone().expect("a clone fits");
                assert_eq!(copy.as_slice(), model.as_slice());
            }
        }
        assert_eq!(real.as_slice(), model.as_slice());
        assert!(real.len() <= real.capacity() && real.capacity() <= real.max_capacity());
    }
});
