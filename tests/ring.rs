//! RingBuffer behaviour: the double mapping, rounding (also for elements whose size is not
//! a power of two), model checks against `VecDeque` for the buffer, for other element types
//! and for the split halves, no leaked descriptors or mappings, the `std::io` traits, and
//! one producer thread and one consumer thread streaming through the halves (`spsc_*`: the
//! tests TESTING.md runs under ThreadSanitizer).

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};

use proptest::prelude::*;
use vmem::{Consumer, ErrorKind, Producer, RingBuffer};

#[cfg(unix)]
mod common;

#[test]
fn a_write_straddling_the_end_is_seen_through_both_mappings() {
    let mut ring = RingBuffer::with_capacity(1).unwrap();
    let cap = ring.capacity();
    // Leave two unread bytes just before the end, so the next write starts 4 bytes before it.
    ring.push_slice(&vec![0; cap - 4]);
    ring.advance_read(cap - 6).unwrap();
    assert_eq!(ring.push_slice(b"ABCDEFGH"), 8);
    let readable = ring.readable();
    assert_eq!(readable, b"\0\0ABCDEFGH");
    let first = readable.as_ptr();
    // SAFETY: `first` is 6 bytes before the end of the first mapping, so `base = first -
    // (cap - 6)`; the write's tail lives at `base` and, mirrored, at `base + cap`.
    unsafe {
        let base = first.sub(cap - 6);
        assert_eq!(std::slice::from_raw_parts(first.add(2), 4), b"ABCD");
        assert_eq!(std::slice::from_raw_parts(base, 4), b"EFGH");
        assert_eq!(std::slice::from_raw_parts(base.add(cap), 4), b"EFGH");
        // The head of the write sits at the end of the first mapping.
        assert_eq!(std::slice::from_raw_parts(base.add(cap - 4), 4), b"ABCD");
    }
}

#[test]
fn writable_is_contiguous_across_the_wrap() {
    let mut ring = RingBuffer::with_capacity(1).unwrap();
    let cap = ring.capacity();
    ring.push_slice(&vec![1; cap / 2]);
    ring.advance_read(cap / 4).unwrap();
    let free = ring.available();
    let writable = ring.writable();
    assert_eq!(writable.len(), free);
    writable.fill(9);
    ring.advance_write(free).unwrap();
    assert!(ring.is_full());
    let readable = ring.readable();
    assert_eq!(readable.len(), cap);
    assert!(readable[..cap / 4].iter().all(|&b| b == 1));
    assert!(readable[cap / 4..].iter().all(|&b| b == 9));
}

#[test]
fn capacities_round_up_to_the_granularity() {
    let g = vmem::allocation_granularity();
    for asked in [1, g - 1, g, g + 1, 3 * g + 5] {
        let ring = RingBuffer::<u8>::with_capacity(asked).unwrap();
        assert_eq!(ring.capacity(), asked.div_ceil(g) * g, "{asked}");
    }
}

#[test]
fn bad_capacities_are_errors() {
    assert_eq!(RingBuffer::<u8>::with_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    for huge in [usize::MAX, usize::MAX / 2, isize::MAX as usize] {
        assert_eq!(RingBuffer::<u8>::with_capacity(huge).unwrap_err().kind(), ErrorKind::OutOfAddressSpace, "{huge}");
        // Overflows in the element count times the element size, too.
        assert_eq!(RingBuffer::<[u64; 3]>::new(huge / 2).unwrap_err().kind(), ErrorKind::OutOfAddressSpace, "{huge}");
    }
    assert_eq!(RingBuffer::<u64>::new(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // Zero-sized elements have nothing to map; elements aligned past a page cannot be placed.
    let err = RingBuffer::<()>::new(10).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("zero-sized"), "{err}");
    #[derive(Clone, Copy)]
    #[repr(align(131072))]
    struct OverAligned(#[allow(dead_code)] u8);
    let err = RingBuffer::<OverAligned>::new(1).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("page size"), "{err}");
}

#[test]
fn advancing_too_far_is_an_error_and_changes_nothing() {
    let mut ring = RingBuffer::with_capacity(1).unwrap();
    ring.push_slice(b"abc");
    let err = ring.advance_read(4).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
    assert!(err.to_string().contains("readable bytes is 3"), "{err}");
    assert_eq!(ring.readable(), b"abc");
    let free = ring.available();
    assert_eq!(ring.advance_write(free + 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(ring.advance_write(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(ring.advance_read(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(ring.available(), free);
    // BufRead::consume clamps instead.
    ring.consume(100);
    assert!(ring.is_empty());
}

#[test]
fn io_traits_carry_a_stream() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let mut ring = RingBuffer::with_capacity(4096).unwrap();
    let mut out = Vec::new();
    let mut input = &data[..];
    while !input.is_empty() || !ring.is_empty() {
        let n = ring.write(input).unwrap();
        input = &input[n..];
        let mut chunk = [0u8; 1500];
        let got = ring.read(&mut chunk).unwrap();
        out.extend_from_slice(&chunk[..got]);
    }
    assert_eq!(out, data);
    ring.write_all(b"line one\nline two\n").unwrap();
    let mut line = String::new();
    ring.read_line(&mut line).unwrap();
    assert_eq!(line, "line one\n");
    let mut rest = Vec::new();
    std::io::copy(&mut ring, &mut rest).unwrap();
    assert_eq!(rest, b"line two\n");
}

#[cfg(target_os = "linux")]
#[test]
fn no_descriptor_or_mapping_is_leaked() {
    // In a child process of its own: the other tests' threads map rings of the same size,
    // and one could land where the last ring here was, between its drop and the check.
    common::in_child("no_descriptor_or_mapping_is_leaked", no_descriptor_or_mapping_is_leaked_body).assert_success();
}

#[cfg(target_os = "linux")]
fn no_descriptor_or_mapping_is_leaked_body() {
    let count_fds = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    // Test harness threads may open descriptors; measure the bulk change.
    let before = count_fds();
    let mut last_base = 0;
    let mut last_len = 0;
    for _ in 0..1000 {
        let mut ring = RingBuffer::with_capacity(64 << 10).unwrap();
        ring.push_slice(b"x");
        last_base = ring.readable().as_ptr() as usize;
        last_len = 2 * ring.capacity();
    }
    let after = count_fds();
    assert!(after <= before + 8, "descriptors: {before} before, {after} after 1000 rings");
    // Unmapped, unless something was mapped there since: AddressSanitizer's allocator maps
    // anywhere at any time, so under it only the descriptor count is checked.
    let runs = vmem::query(last_base as *const u8, last_len).unwrap();
    let asan = common::under_sanitizer();
    assert!(asan || runs.iter().all(|r| r.state == vmem::PageState::Free), "{runs:?}");
}
#[test]
fn elements_of_any_size_wrap_on_an_element_boundary() {
    // 24 bytes: not a power of two, so the mapping is a multiple of 3 pages (on 4 KiB pages).
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Rec {
        a: u64,
        b: u32,
        c: [u8; 12],
    }
    let rec = |i: usize| Rec { a: i as u64, b: !(i as u32), c: [i as u8; 12] };
    let mut ring = RingBuffer::<Rec>::new(100).unwrap();
    let cap = ring.capacity();
    assert_eq!((cap * 24) % vmem::allocation_granularity(), 0);
    assert!(cap >= 100);
    // Leave the read position two elements before the end, then write across it.
    for i in 0..cap - 2 {
        ring.push(rec(i)).unwrap();
    }
    ring.advance_read(cap - 2).unwrap();
    let wanted: Vec<Rec> = (0..cap).map(rec).collect();
    assert_eq!(ring.push_slice(&wanted), cap);
    assert!(ring.is_full());
    assert_eq!(ring.push(rec(0)), Err(rec(0)));
    assert_eq!(ring.readable(), &wanted[..]);
    let mut out = vec![rec(0); cap];
    assert_eq!(ring.pop_slice(&mut out), cap);
    assert_eq!(out, wanted);
    assert_eq!(ring.pop(), None);
}

/// What the model tests store: made from a seed byte and a running count.
trait Element: Copy + PartialEq + std::fmt::Debug {
    fn make(seed: u8, i: usize) -> Self;
}

impl Element for u8 {
    fn make(seed: u8, i: usize) -> u8 {
        seed ^ i as u8
    }
}

impl Element for u64 {
    fn make(seed: u8, i: usize) -> u64 {
        (u64::from(seed) << 56) | i as u64
    }
}

impl Element for [u8; 3] {
    fn make(seed: u8, i: usize) -> [u8; 3] {
        [seed, i as u8, (i >> 8) as u8]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Rec24 {
    a: u64,
    b: u32,
    c: [u8; 12],
}

impl Element for Rec24 {
    fn make(seed: u8, i: usize) -> Rec24 {
        Rec24 { a: i as u64, b: u32::from(seed), c: [seed; 12] }
    }
}

/// The buffer whole, or split into its two halves.
// The halves are padded to 128 bytes each on purpose; one model value per test case.
#[allow(clippy::large_enum_variant)]
enum State<T: Copy> {
    Whole(RingBuffer<T>),
    Split(Producer<T>, Consumer<T>),
    Moving,
}

impl<T: Copy + PartialEq + std::fmt::Debug> State<T> {
    fn split(&mut self) {
        if let State::Whole(ring) = std::mem::replace(self, State::Moving) {
            let (p, c) = ring.split();
            *self = State::Split(p, c);
        } else {
            unreachable!()
        }
    }

    fn join(&mut self) {
        if let State::Split(p, c) = std::mem::replace(self, State::Moving) {
            *self = State::Whole(RingBuffer::join(p, c).unwrap());
        } else {
            unreachable!()
        }
    }

    fn is_split(&self) -> bool {
        matches!(self, State::Split(..))
    }

    fn readable(&self) -> &[T] {
        match self {
            State::Whole(ring) => ring.readable(),
            State::Split(_, c) => c.readable(),
            State::Moving => unreachable!(),
        }
    }

    /// Checks every length query of either shape against the model.
    fn check(&self, model: &VecDeque<T>) -> Result<(), TestCaseError> {
        let expected: Vec<T> = model.iter().copied().collect();
        match self {
            State::Whole(ring) => {
                let cap = ring.capacity();
                prop_assert_eq!(ring.len(), model.len());
                prop_assert_eq!(ring.occupied_len(), model.len());
                prop_assert_eq!(ring.available(), cap - model.len());
                prop_assert_eq!(ring.vacant_len(), cap - model.len());
                prop_assert_eq!(ring.is_empty(), model.is_empty());
                prop_assert_eq!(ring.is_full(), model.len() == cap);
                prop_assert_eq!(ring.as_slices(), (&expected[..], &[][..]));
            }
            State::Split(p, c) => {
                let cap = p.capacity();
                prop_assert_eq!(c.capacity(), cap);
                for (len, available, empty, full) in [
                    (p.len(), p.available(), p.is_empty(), p.is_full()),
                    (c.len(), c.available(), c.is_empty(), c.is_full()),
                    (p.occupied_len(), p.vacant_len(), p.is_empty(), p.is_full()),
                    (c.occupied_len(), c.vacant_len(), c.is_empty(), c.is_full()),
                ] {
                    prop_assert_eq!(len, model.len());
                    prop_assert_eq!(available, cap - model.len());
                    prop_assert_eq!(empty, model.is_empty());
                    prop_assert_eq!(full, model.len() == cap);
                }
                prop_assert_eq!(c.as_slices(), (&expected[..], &[][..]));
                prop_assert!(!p.is_abandoned() && !c.is_abandoned());
            }
            State::Moving => unreachable!(),
        }
        prop_assert_eq!(self.readable(), &expected[..]);
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Op {
    Push(Vec<u8>),
    Pop(usize),
    PushOne(u8),
    PopOne,
    Peek(usize),
    WriteZeroCopy(usize, u8),
    WriteUninit(usize, u8),
    ReadZeroCopy(usize),
    ReadExact(usize),
    Mutate(u8),
    IoWrite(Vec<u8>),
    IoRead(usize),
    Clear,
    /// Split the buffer into its halves, or join them back.
    SplitOrJoin,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..3000).prop_map(Op::Push),
        3 => (0usize..3000).prop_map(Op::Pop),
        2 => any::<u8>().prop_map(Op::PushOne),
        2 => Just(Op::PopOne),
        1 => (0usize..5000).prop_map(Op::Peek),
        3 => (0usize..5000, any::<u8>()).prop_map(|(n, v)| Op::WriteZeroCopy(n, v)),
        1 => (0usize..5000, any::<u8>()).prop_map(|(n, v)| Op::WriteUninit(n, v)),
        3 => (0usize..5000).prop_map(Op::ReadZeroCopy),
        2 => (0usize..5000).prop_map(Op::ReadExact),
        1 => any::<u8>().prop_map(Op::Mutate),
        2 => prop::collection::vec(any::<u8>(), 0..3000).prop_map(Op::IoWrite),
        2 => (0usize..3000).prop_map(Op::IoRead),
        1 => Just(Op::Clear),
        2 => Just(Op::SplitOrJoin),
    ]
}

proptest! {
    /// The byte buffer, whole and split (one thread driving both halves), against a
    /// `VecDeque`, after every step.
    #[test]
    fn matches_a_vecdeque(ops in prop::collection::vec(op(), 1..200)) {
        let mut state = State::Whole(RingBuffer::<u8>::with_capacity(4096).unwrap());
        let cap = match &state { State::Whole(r) => r.capacity(), _ => unreachable!() };
        let mut model: VecDeque<u8> = VecDeque::new();
        for op in ops {
            match (op, &mut state) {
                (Op::Push(data), state) => {
                    let n = match state {
                        State::Whole(ring) => ring.push_slice(&data),
                        State::Split(p, _) => p.push_slice(&data),
                        State::Moving => unreachable!(),
                    };
                    prop_assert_eq!(n, data.len().min(cap - model.len()));
                    model.extend(&data[..n]);
                }
                (Op::Pop(n), state) => {
                    let mut out = vec![0; n];
                    let got = match state {
                        State::Whole(ring) => ring.pop_slice(&mut out),
                        State::Split(_, c) => c.pop_slice(&mut out),
                        State::Moving => unreachable!(),
                    };
                    let expected: Vec<u8> = model.drain(..n.min(model.len())).collect();
                    prop_assert_eq!(&out[..got], &expected[..]);
                }
                (Op::PushOne(v), state) => {
                    let result = match state {
                        State::Whole(ring) => ring.push(v),
                        State::Split(p, _) => p.try_push(v),
                        State::Moving => unreachable!(),
                    };
                    if model.len() < cap {
                        prop_assert_eq!(result, Ok(()));
                        model.push_back(v);
                    } else {
                        prop_assert_eq!(result, Err(v));
                    }
                }
                (Op::PopOne, state) => {
                    let got = match state {
                        State::Whole(ring) => ring.try_pop(),
                        State::Split(_, c) => c.pop(),
                        State::Moving => unreachable!(),
                    };
                    prop_assert_eq!(got, model.pop_front());
                }
                (Op::Peek(n), state) => {
                    let mut out = vec![0; n];
                    let got = match state {
                        State::Whole(ring) => ring.peek(&mut out),
                        State::Split(_, c) => c.peek(&mut out),
                        State::Moving => unreachable!(),
                    };
                    prop_assert_eq!(got, n.min(model.len()));
                    prop_assert!(out[..got].iter().eq(model.iter().take(got)));
                }
                (Op::WriteZeroCopy(n, value), state) => {
                    let free = cap - model.len();
                    let (w, refused, done) = match state {
                        State::Whole(ring) => {
                            let w = ring.writable();
                            let len = w.len();
                            let n = n.min(len);
                            w[..n].fill(value);
                            // Advancing past the free space is refused and changes nothing.
                            let refused = ring.advance_write(free + 1).is_err();
                            (len, refused, ring.advance_write(n).is_ok())
                        }
                        State::Split(p, _) => {
                            let w = p.writable();
                            let len = w.len();
                            let n = n.min(len);
                            w[..n].fill(value);
                            let refused = p.advance_write(free + 1).is_err();
                            (len, refused, p.advance_write(n).is_ok())
                        }
                        State::Moving => unreachable!(),
                    };
                    prop_assert_eq!(w, free);
                    prop_assert!(refused && done);
                    model.extend(std::iter::repeat_n(value, n.min(free)));
                }
                (Op::WriteUninit(n, value), state) => {
                    let free = cap - model.len();
                    let n = n.min(free);
                    let len = match state {
                        State::Whole(ring) => {
                            let w = ring.writable_uninit();
                            let len = w.len();
                            w[..n].iter_mut().for_each(|s| { s.write(value); });
                            // SAFETY: the first `n` free slots were written just above; the
                            // call past the free space is refused before it publishes.
                            unsafe {
                                prop_assert!(ring.assume_written(free + 1).is_err());
                                ring.assume_written(n).unwrap();
                            }
                            len
                        }
                        State::Split(p, _) => {
                            let w = p.writable_uninit();
                            let len = w.len();
                            w[..n].iter_mut().for_each(|s| { s.write(value); });
                            // SAFETY: as above.
                            unsafe {
                                prop_assert!(p.assume_written(free + 1).is_err());
                                p.assume_written(n).unwrap();
                            }
                            len
                        }
                        State::Moving => unreachable!(),
                    };
                    prop_assert_eq!(len, free);
                    model.extend(std::iter::repeat_n(value, n));
                }
                (Op::ReadZeroCopy(n), state) => {
                    let expected: Vec<u8> = model.iter().copied().collect();
                    let result = match state {
                        State::Whole(ring) => {
                            prop_assert_eq!(ring.readable(), &expected[..]);
                            ring.advance_read(n)
                        }
                        State::Split(_, c) => {
                            prop_assert_eq!(c.readable(), &expected[..]);
                            c.advance_read(n)
                        }
                        State::Moving => unreachable!(),
                    };
                    if n <= model.len() {
                        result.unwrap();
                        model.drain(..n);
                    } else {
                        prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::OutOfBounds);
                    }
                }
                (Op::ReadExact(n), State::Split(_, c)) => {
                    let expected: Vec<u8> = model.iter().take(n).copied().collect();
                    match c.readable_exact(n) {
                        Some(slice) => prop_assert_eq!(slice, &expected[..]),
                        None => prop_assert!(n > model.len()),
                    }
                }
                (Op::ReadExact(_), _) => {}
                (Op::Mutate(v), state) => {
                    let readable = match state {
                        State::Whole(ring) => if v % 2 == 0 { ring.readable_mut() } else { ring.as_mut_slices().0 },
                        State::Split(_, c) => if v % 2 == 0 { c.readable_mut() } else { c.as_mut_slices().0 },
                        State::Moving => unreachable!(),
                    };
                    readable.iter_mut().for_each(|b| *b ^= v);
                    model.iter_mut().for_each(|b| *b ^= v);
                }
                (Op::IoWrite(data), state) => {
                    let n = data.len().min(cap - model.len());
                    match state {
                        State::Whole(ring) => prop_assert_eq!(ring.write(&data).unwrap(), n),
                        State::Split(p, _) => match p.write(&data) {
                            Ok(got) => prop_assert_eq!((got, n > 0 || data.is_empty()), (n, true)),
                            Err(e) => prop_assert_eq!((e.kind(), n), (std::io::ErrorKind::WouldBlock, 0)),
                        },
                        State::Moving => unreachable!(),
                    }
                    model.extend(&data[..n]);
                }
                (Op::IoRead(n), state) => {
                    let mut out = vec![0; n];
                    let got = match state {
                        State::Whole(ring) => ring.read(&mut out).unwrap(),
                        State::Split(_, c) => match c.read(&mut out) {
                            Ok(got) => got,
                            Err(e) => {
                                // Empty while the producer lives: not the end of the stream.
                                prop_assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
                                prop_assert!(model.is_empty() && n > 0);
                                0
                            }
                        },
                        State::Moving => unreachable!(),
                    };
                    let expected: Vec<u8> = model.drain(..n.min(model.len())).collect();
                    prop_assert_eq!(&out[..got], &expected[..]);
                }
                (Op::Clear, State::Whole(ring)) => {
                    ring.clear();
                    model.clear();
                }
                (Op::Clear, _) => {}
                (Op::SplitOrJoin, state) => {
                    if state.is_split() { state.join() } else { state.split() }
                }
            }
            state.check(&model)?;
        }
    }
}

#[derive(Clone, Debug)]
enum TypedOp {
    Push(Vec<u8>),
    Pop(usize),
    PushOne(u8),
    PopOne,
    Peek(usize),
    WriteUninit(usize, u8),
    ReadZeroCopy(usize),
    ReadExact(usize),
    Clear,
    SplitOrJoin,
}

fn typed_op() -> impl Strategy<Value = TypedOp> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..600).prop_map(TypedOp::Push),
        3 => (0usize..600).prop_map(TypedOp::Pop),
        2 => any::<u8>().prop_map(TypedOp::PushOne),
        2 => Just(TypedOp::PopOne),
        1 => (0usize..800).prop_map(TypedOp::Peek),
        2 => (0usize..800, any::<u8>()).prop_map(|(n, v)| TypedOp::WriteUninit(n, v)),
        3 => (0usize..800).prop_map(TypedOp::ReadZeroCopy),
        2 => (0usize..800).prop_map(TypedOp::ReadExact),
        1 => Just(TypedOp::Clear),
        2 => Just(TypedOp::SplitOrJoin),
    ]
}

/// Runs `ops` on a `RingBuffer<T>` (whole and split) and a `VecDeque<T>`, checking after
/// every step.
fn run_typed<T: Element>(ops: &[TypedOp], min_len: usize) -> Result<(), TestCaseError> {
    let ring = RingBuffer::<T>::new(min_len).unwrap();
    let cap = ring.capacity();
    prop_assert!(cap >= min_len);
    prop_assert_eq!((cap * std::mem::size_of::<T>()) % vmem::allocation_granularity(), 0);
    let mut state = State::Whole(ring);
    let mut model: VecDeque<T> = VecDeque::new();
    let mut count = 0usize;
    let mut make = |seed: u8| {
        count += 1;
        T::make(seed, count)
    };
    for op in ops {
        match (op.clone(), &mut state) {
            (TypedOp::Push(seeds), state) => {
                let data: Vec<T> = seeds.iter().map(|&s| make(s)).collect();
                let n = match state {
                    State::Whole(ring) => ring.push_slice(&data),
                    State::Split(p, _) => p.push_slice(&data),
                    State::Moving => unreachable!(),
                };
                prop_assert_eq!(n, data.len().min(cap - model.len()));
                model.extend(&data[..n]);
            }
            (TypedOp::Pop(n), state) => {
                let mut out = vec![make(0); n];
                let got = match state {
                    State::Whole(ring) => ring.pop_slice(&mut out),
                    State::Split(_, c) => c.pop_slice(&mut out),
                    State::Moving => unreachable!(),
                };
                let expected: Vec<T> = model.drain(..n.min(model.len())).collect();
                prop_assert_eq!(&out[..got], &expected[..]);
            }
            (TypedOp::PushOne(seed), state) => {
                let v = make(seed);
                let result = match state {
                    State::Whole(ring) => ring.try_push(v),
                    State::Split(p, _) => p.push(v),
                    State::Moving => unreachable!(),
                };
                if model.len() < cap {
                    prop_assert_eq!(result, Ok(()));
                    model.push_back(v);
                } else {
                    prop_assert_eq!(result, Err(v));
                }
            }
            (TypedOp::PopOne, state) => {
                let got = match state {
                    State::Whole(ring) => ring.pop(),
                    State::Split(_, c) => c.try_pop(),
                    State::Moving => unreachable!(),
                };
                prop_assert_eq!(got, model.pop_front());
            }
            (TypedOp::Peek(n), state) => {
                let mut out = vec![make(0); n];
                let got = match state {
                    State::Whole(ring) => ring.peek(&mut out),
                    State::Split(_, c) => c.peek(&mut out),
                    State::Moving => unreachable!(),
                };
                prop_assert_eq!(got, n.min(model.len()));
                prop_assert!(out[..got].iter().eq(model.iter().take(got)));
            }
            (TypedOp::WriteUninit(n, seed), state) => {
                let free = cap - model.len();
                let n = n.min(free);
                let values: Vec<T> = (0..n).map(|_| make(seed)).collect();
                let len = match state {
                    State::Whole(ring) => {
                        let w = ring.writable_uninit();
                        let len = w.len();
                        w.iter_mut().zip(&values).for_each(|(s, &v)| {
                            s.write(v);
                        });
                        // SAFETY: the first `n` free slots were written just above; the call
                        // past the free space is refused before it publishes.
                        unsafe {
                            prop_assert!(ring.assume_written(free + 1).is_err());
                            ring.assume_written(n).unwrap();
                        }
                        len
                    }
                    State::Split(p, _) => {
                        let w = p.writable_uninit();
                        let len = w.len();
                        w.iter_mut().zip(&values).for_each(|(s, &v)| {
                            s.write(v);
                        });
                        // SAFETY: as above.
                        unsafe {
                            prop_assert!(p.assume_written(free + 1).is_err());
                            p.assume_written(n).unwrap();
                        }
                        len
                    }
                    State::Moving => unreachable!(),
                };
                prop_assert_eq!(len, free);
                model.extend(values);
            }
            (TypedOp::ReadZeroCopy(n), state) => {
                let result = match state {
                    State::Whole(ring) => ring.advance_read(n),
                    State::Split(_, c) => c.advance_read(n),
                    State::Moving => unreachable!(),
                };
                if n <= model.len() {
                    result.unwrap();
                    model.drain(..n);
                } else {
                    prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::OutOfBounds);
                }
            }
            (TypedOp::ReadExact(n), State::Split(_, c)) => match c.readable_exact(n) {
                Some(slice) => prop_assert!(slice.iter().eq(model.iter().take(n))),
                None => prop_assert!(n > model.len()),
            },
            (TypedOp::ReadExact(_), _) => {}
            (TypedOp::Clear, State::Whole(ring)) => {
                ring.clear();
                model.clear();
            }
            (TypedOp::Clear, _) => {}
            (TypedOp::SplitOrJoin, state) => {
                if state.is_split() {
                    state.join()
                } else {
                    state.split()
                }
            }
        }
        state.check(&model)?;
    }
    Ok(())
}

proptest! {
    /// Other element types, whole and split, against a `VecDeque` of the same type: 8 bytes,
    /// 3 bytes (the mapping is 3 pages) and 24 bytes with padding-free alignment 8.
    #[test]
    fn other_element_types_match_a_vecdeque(ops in prop::collection::vec(typed_op(), 1..150)) {
        run_typed::<u64>(&ops, 300)?;
        run_typed::<[u8; 3]>(&ops, 1)?;
        run_typed::<Rec24>(&ops, 200)?;
    }
}

#[test]
fn empty_and_oversized_requests_on_typed_rings_and_halves() {
    // Sizes in error messages are bytes, whatever the element type.
    let mut ring = RingBuffer::<u64>::new(1).unwrap();
    ring.push_slice(&[1, 2, 3]);
    let err = ring.advance_read(4).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
    assert!(err.to_string().contains("of 32 bytes") && err.to_string().contains("readable bytes is 24"), "{err}");
    // SAFETY: refused before anything is marked written.
    let err = unsafe { ring.assume_written(usize::MAX) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
    // Empty requests change nothing.
    assert_eq!(ring.push_slice(&[]), 0);
    assert_eq!(ring.pop_slice(&mut []), 0);
    assert_eq!(ring.peek(&mut []), 0);
    assert_eq!(ring.readable(), [1, 2, 3]);

    let (mut p, mut c) = ring.split();
    assert_eq!(p.push_slice(&[]), 0);
    assert_eq!(c.pop_slice(&mut []), 0);
    assert_eq!(c.readable_exact(0), Some(&[][..]));
    assert_eq!(c.readable_exact(4), None);
    assert_eq!(c.readable_exact(usize::MAX), None);
    c.advance_read(0).unwrap();
    let err = c.advance_read(usize::MAX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfBounds);
    assert!(err.to_string().contains("readable bytes is 24"), "{err}");
    // SAFETY: refused before anything is published.
    assert_eq!(unsafe { p.assume_written(usize::MAX) }.unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(c.readable(), [1, 2, 3]);
    let (mut bp, _bc) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    let free = bp.available();
    assert_eq!(bp.advance_write(free + 1).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(bp.advance_write(usize::MAX).unwrap_err().kind(), ErrorKind::OutOfBounds);
    bp.advance_write(0).unwrap();
    assert_eq!(bp.available(), free);
}

#[test]
fn halves_kept_side_by_side_share_no_cache_line() {
    // Each half writes its position into itself on every call: halves sharing a line would
    // send it between the two threads' cores on every message.
    let pair = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    assert!(!common::share_a_128_byte_block(&pair.0, &pair.1), "the halves of a tuple share a 128-byte block");
    struct Both {
        _flag: u8,
        producer: vmem::Producer<u32>,
        consumer: vmem::Consumer<u32>,
    }
    let (producer, consumer) = RingBuffer::<u32>::new(1).unwrap().split();
    let both = Box::new(Both { _flag: 1, producer, consumer });
    assert!(
        !common::share_a_128_byte_block(&both.producer, &both.consumer),
        "the halves in a struct share a 128-byte block"
    );
}

#[test]
fn halves_are_send_and_joining_halves_of_different_buffers_hands_them_back() {
    fn send<T: Send>(_: &T) {}
    let (p, c) = RingBuffer::<u64>::new(1).unwrap().split();
    send(&p);
    send(&c);
    let (p2, c2) = RingBuffer::<u64>::new(1).unwrap().split();
    let (p, c2) = RingBuffer::join(p, c2).unwrap_err();
    let (p2, c) = RingBuffer::join(p2, c).unwrap_err();
    // The right pairs still join, and the halves that were handed back still work.
    let mut a = RingBuffer::join(p, c).unwrap();
    a.push(1).unwrap();
    let mut b = RingBuffer::join(p2, c2).unwrap();
    assert_eq!(b.pop(), None);
    assert_eq!(a.pop(), Some(1));
}

#[test]
fn the_halves_behave_as_a_pipe_at_either_end() {
    let (mut p, mut c) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    assert!(!p.is_abandoned() && !c.is_abandoned());
    assert_eq!(p.write(b"").unwrap(), 0);
    let mut buf = [0u8; 4];
    assert_eq!(c.read(&mut []).unwrap(), 0);
    assert_eq!(c.read(&mut buf).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    assert_eq!(c.fill_buf().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    p.write_all(b"abcdef").unwrap();
    drop(p);
    assert!(c.is_abandoned());
    // What was written before the producer went is still read, then the end of the stream.
    assert_eq!(c.read(&mut buf).unwrap(), 4);
    assert_eq!(c.fill_buf().unwrap(), b"ef");
    c.consume(100); // clamped to what fill_buf showed
    assert_eq!(c.read(&mut buf).unwrap(), 0);
    assert_eq!(c.fill_buf().unwrap(), b"");

    let (mut p, c) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    drop(c);
    assert!(p.is_abandoned());
    assert_eq!(p.write(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
    p.flush().unwrap();
}

/// A deterministic sequence of small numbers (xorshift), the same on both threads.
struct Lengths(u64);

impl Lengths {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

fn byte_at(i: usize) -> u8 {
    (i ^ (i >> 9) ^ (i >> 17)) as u8
}

/// Streams `total` bytes from a producer thread to a consumer thread through a one-page ring,
/// each side switching between every way it has to write or read (whole slices, single
/// bytes, zero-copy slices, whole messages); every byte must arrive, in order.
fn stream_bytes(total: usize) {
    let (mut p, mut c) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    let cap = p.capacity();
    let producer = std::thread::spawn(move || {
        let mut lengths = Lengths(0x9E37_79B9_7F4A_7C15);
        let mut sent = 0;
        let mut chunk = Vec::new();
        while sent < total {
            let n = (1 + lengths.next(cap + cap / 2)).min(total - sent);
            let wrote = match lengths.next(3) {
                0 => {
                    chunk.clear();
                    chunk.extend((sent..sent + n).map(byte_at));
                    p.push_slice(&chunk)
                }
                1 => match p.push(byte_at(sent)) {
                    Ok(()) => 1,
                    Err(_) => 0,
                },
                _ => {
                    let space = p.writable();
                    let n = n.min(space.len());
                    for (k, b) in space[..n].iter_mut().enumerate() {
                        *b = byte_at(sent + k);
                    }
                    p.advance_write(n).unwrap();
                    n
                }
            };
            sent += wrote;
            if wrote == 0 {
                std::hint::spin_loop();
            }
        }
        p
    });
    let mut lengths = Lengths(0x2545_F491_4F6C_DD1D);
    let mut received = 0;
    let mut out = vec![0u8; 2 * cap];
    while received < total {
        let n = (1 + lengths.next(cap)).min(total - received);
        let got = match lengths.next(4) {
            0 => {
                let got = c.pop_slice(&mut out[..n]);
                for (k, &b) in out[..got].iter().enumerate() {
                    assert_eq!(b, byte_at(received + k), "byte {}", received + k);
                }
                got
            }
            1 => match c.pop() {
                Some(b) => {
                    assert_eq!(b, byte_at(received), "byte {received}");
                    1
                }
                None => 0,
            },
            2 => {
                let readable = c.readable();
                let got = readable.len().min(n);
                for (k, &b) in readable[..got].iter().enumerate() {
                    assert_eq!(b, byte_at(received + k), "byte {}", received + k);
                }
                c.advance_read(got).unwrap();
                got
            }
            _ => match c.readable_exact(n) {
                Some(message) => {
                    for (k, &b) in message.iter().enumerate() {
                        assert_eq!(b, byte_at(received + k), "byte {}", received + k);
                    }
                    c.advance_read(n).unwrap();
                    n
                }
                None => 0,
            },
        };
        received += got;
        if got == 0 {
            std::hint::spin_loop();
        }
    }
    let p = producer.join().unwrap();
    assert!(c.is_empty());
    let ring = RingBuffer::join(p, c).unwrap();
    assert!(ring.is_empty());
}

#[test]
fn spsc_bytes_arrive_in_order_however_each_side_reads_and_writes() {
    stream_bytes(4 << 20);
}

#[test]
fn spsc_elements_arrive_in_order() {
    const N: u64 = 500_000;
    let (mut p, mut c) = RingBuffer::<u64>::new(1000).unwrap().split();
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            let mut value = i;
            while let Err(v) = p.push(value) {
                value = v;
                std::hint::spin_loop();
            }
        }
    });
    let mut next = 0;
    while next < N {
        match c.pop() {
            Some(v) => {
                assert_eq!(v, next);
                next += 1;
            }
            None => std::hint::spin_loop(),
        }
    }
    producer.join().unwrap();
    assert!(c.is_abandoned());
    assert_eq!(c.pop(), None);

    // 24-byte elements (a 3-page mapping), in slices across the wrap.
    let (mut p, mut c) = RingBuffer::<Rec24>::new(100).unwrap().split();
    let producer = std::thread::spawn(move || {
        let mut sent = 0;
        let batch: Vec<Rec24> = (0..77).map(|i| Rec24::make(7, i)).collect();
        while sent < 200_000 {
            let n = p.push_slice(&batch[sent % 77..]);
            sent += n;
            if n == 0 {
                std::hint::spin_loop();
            }
        }
    });
    let mut received = 0;
    let mut out = vec![Rec24::make(0, 0); 50];
    while received < 200_000 {
        let n = c.pop_slice(&mut out);
        for (k, rec) in out[..n].iter().enumerate() {
            assert_eq!(*rec, Rec24::make(7, (received + k) % 77));
        }
        received += n;
    }
    producer.join().unwrap();
}

#[test]
fn spsc_io_traits_carry_a_stream_to_its_end() {
    let data: Vec<u8> = (0..1_000_000).map(byte_at).collect();
    let (mut p, mut c) = RingBuffer::<u8>::with_capacity(1).unwrap().split();
    let expected = data.clone();
    let producer = std::thread::spawn(move || {
        let mut rest = &data[..];
        while !rest.is_empty() {
            match p.write(&rest[..rest.len().min(1500)]) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        }
        // Once the buffer has room, `write_all` goes through in one piece.
        while p.available() < 11 {
            std::hint::spin_loop();
        }
        p.write_all(b"\nlast line\n").unwrap();
        // Dropping the producer ends the stream.
    });
    let mut received = Vec::new();
    let mut buf = [0u8; 4000];
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) => panic!("{e}"),
        }
    }
    producer.join().unwrap();
    assert_eq!(&received[..expected.len()], &expected[..]);
    assert_eq!(&received[expected.len()..], b"\nlast line\n");
}

#[cfg(target_os = "linux")]
#[test]
fn spsc_halves_dropped_on_two_threads_free_the_mapping() {
    common::in_child("spsc_halves_dropped_on_two_threads_free_the_mapping", || {
        // Each ring maps its memory file twice; /proc/self/maps names it, so a mapping left
        // behind shows there whatever else has been mapped since (thread stacks, say).
        let ring_mappings = || std::fs::read_to_string("/proc/self/maps").unwrap().matches("vmem-ring").count();
        for round in 0..200 {
            let (mut p, c) = RingBuffer::<u8>::with_capacity(64 << 10).unwrap().split();
            p.push_slice(b"x");
            assert!(ring_mappings() >= 2);
            // Either half may go last.
            let (first, second) = if round % 2 == 0 {
                (std::thread::spawn(move || drop(p)), std::thread::spawn(move || drop(c)))
            } else {
                (std::thread::spawn(move || drop(c)), std::thread::spawn(move || drop(p)))
            };
            first.join().unwrap();
            second.join().unwrap();
            assert_eq!(ring_mappings(), 0, "round {round}");
        }
    })
    .assert_success();
}
