//! `VirtualVec<u32>` against `Vec<u32>`: every operation, including the fallible ones at a
//! small maximum capacity (and the `Vec` API of issue 16: resize, dedup, split_off, append,
//! splice, extend_from_within, spare capacity and set_len, shrink_to, extract_if, the `Vec`
//! conversions), must leave both with the same contents.
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
    Resize(u16, u32),
    ResizeWith(u16, u32),
    Dedup,
    DedupByKey(u8),
    /// Split off at an index; append the tail back when asked.
    SplitOff(u16, bool),
    Append(Vec<u32>),
    /// Splice `a..b` with the values through an exact (false) or unknown-size (true) iterator.
    Splice(u16, u16, Vec<u32>, bool),
    ExtendFromWithin(u16, u16),
    /// Write values into the spare capacity, then `set_len`.
    SpareWrite(Vec<u32>),
    ShrinkTo(u16),
    /// Extract the multiples of `m` in `a..b`, taking at most `take` before dropping the iterator.
    ExtractIf(u16, u16, u8, u8),
    /// Into a `Vec` and back.
    VecRoundTrip,
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
            Op::Resize(n, x) => {
                let n = usize::from(n);
                match real.try_resize(n, x) {
                    Ok(()) => model.resize(n, x),
                    Err(_) => assert!(n > max, "resize to {n} refused below the maximum"),
                }
            }
            Op::ResizeWith(n, x) => {
                let n = usize::from(n);
                let counter = |mut next: u32| {
                    move || {
                        next = next.wrapping_mul(31).wrapping_add(1);
                        next
                    }
                };
                match real.try_resize_with(n, counter(x)) {
                    Ok(()) => model.resize_with(n, counter(x)),
                    Err(_) => assert!(n > max),
                }
            }
            Op::Dedup => {
                real.dedup();
                model.dedup();
            }
            Op::DedupByKey(m) => {
                let m = u32::from(m.max(1));
                real.dedup_by_key(|x| *x / m);
                model.dedup_by_key(|x| *x / m);
            }
            Op::SplitOff(at, back) => {
                let at = usize::from(at);
                match real.try_split_off(at) {
                    Ok(mut tail) => {
                        let mut model_tail = model.split_off(at);
                        assert_eq!(tail.as_slice(), model_tail.as_slice());
                        if back {
                            real.try_append(&mut tail).expect("the tail fits back");
                            model.append(&mut model_tail);
                        }
                    }
                    Err(_) => assert!(at > model.len()),
                }
            }
            Op::Append(xs) => {
                let mut other: VirtualVec<u32> = xs.iter().copied().collect();
                match real.try_append(&mut other) {
                    Ok(()) => {
                        assert!(other.is_empty());
                        model.extend_from_slice(&xs);
                    }
                    Err(_) => {
                        assert!(model.len() + xs.len() > max);
                        assert_eq!(other.as_slice(), xs.as_slice(), "a refused append changes nothing");
                    }
                }
            }
            Op::Splice(a, b, xs, unknown_size) => {
                let (a, b) = (usize::from(a), usize::from(b));
                let len = model.len();
                // `splice` panics on a bad range or when the result does not fit.
                if a <= b && b <= len && len - (b - a) + xs.len() <= max {
                    let removed: Vec<u32> = if unknown_size {
                        real.splice(a..b, xs.iter().copied().filter(|_| true)).collect()
                    } else {
                        real.splice(a..b, xs.iter().copied()).collect()
                    };
                    assert_eq!(removed, model.splice(a..b, xs.iter().copied()).collect::<Vec<_>>());
                }
            }
            Op::ExtendFromWithin(a, b) => {
                let (a, b) = (usize::from(a), usize::from(b));
                match real.try_extend_from_within(a..b) {
                    Ok(()) => model.extend_from_within(a..b),
                    Err(_) => assert!(a > b || b > model.len() || model.len() + (b - a) > max),
                }
            }
            Op::SpareWrite(xs) => {
                let len = real.len();
                let spare = real.spare_capacity_mut();
                let n = spare.len().min(xs.len());
                for (slot, &x) in spare.iter_mut().zip(&xs) {
                    slot.write(x);
                }
                // SAFETY: the `n` slots after the length were just written, within the capacity.
                unsafe { real.set_len(len + n) };
                model.extend_from_slice(&xs[..n]);
            }
            Op::ShrinkTo(n) => {
                let n = usize::from(n);
                let keep = real.len().max(n.min(real.capacity()));
                real.try_shrink_to(n).expect("shrinking cannot fail");
                assert!(real.capacity() >= keep);
                let page = vmem::page_size();
                assert_eq!(real.committed_bytes(), (keep * 4).div_ceil(page) * page);
            }
            Op::ExtractIf(a, b, m, take) => {
                let len = model.len();
                let (a, b) = (usize::from(a) % (len + 1), usize::from(b) % (len + 1));
                let (a, b) = (a.min(b), a.max(b));
                let m = u32::from(m.max(1));
                let take = usize::from(take);
                let got: Vec<u32> = real.extract_if(a..b, |x| *x % m == 0).take(take).collect();
                let expected: Vec<u32> = model.extract_if(a..b, |x| *x % m == 0).take(take).collect();
                assert_eq!(got, expected);
            }
            Op::VecRoundTrip => {
                let as_vec: Vec<u32> = std::mem::take(&mut real).into();
                assert_eq!(as_vec, model);
                let mut back = VirtualVec::from(as_vec);
                real = VirtualVec::with_max_capacity(max).expect("a small reservation");
                real.try_append(&mut back).expect("the elements fit back");
            }
        }
        assert_eq!(real.as_slice(), model.as_slice());
        assert!(real.len() <= real.capacity() && real.capacity() <= real.max_capacity());
    }
});
