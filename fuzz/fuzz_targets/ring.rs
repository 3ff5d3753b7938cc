//! `RingBuffer` against `VecDeque`: writes, reads, peeks, single elements, direct slices and
//! wrap-around at several capacities, whole or split into its `Producer` and `Consumer` (one
//! thread driving both) and joined back; bytes, and 3-byte elements (whose mapping is a
//! multiple of three pages). The readable elements must always be the model's, contiguous.
#![no_main]

use std::collections::VecDeque;
use std::io::{Read, Write};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::{Consumer, Producer, RingBuffer};

#[derive(Arbitrary, Debug)]
enum Op {
    Push(Vec<u8>),
    PushRepeated(u8, u32),
    PushOne(u8),
    Pop(u32),
    PopOne,
    Peek(u32),
    AdvanceRead(u32),
    ReadExact(u32),
    WriteDirect(u8, u32),
    Mutate(u8),
    IoWrite(Vec<u8>),
    IoRead(u32),
    Clear,
    SplitOrJoin,
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u32,
    /// Bytes, or 3-byte elements.
    triples: bool,
    ops: Vec<Op>,
}

/// An element made from a byte.
trait Element: Copy + PartialEq + std::fmt::Debug + 'static {
    fn make(b: u8) -> Self;
    fn xor(&mut self, b: u8);
    /// The byte buffer's own extras (`writable`, the io traits), where `Self` is `u8`.
    fn as_bytes(state: &mut State<Self>) -> Option<&mut State<u8>>;
}

impl Element for u8 {
    fn make(b: u8) -> u8 {
        b
    }
    fn xor(&mut self, b: u8) {
        *self ^= b;
    }
    fn as_bytes(state: &mut State<u8>) -> Option<&mut State<u8>> {
        Some(state)
    }
}

impl Element for [u8; 3] {
    fn make(b: u8) -> [u8; 3] {
        [b, b.wrapping_mul(3), !b]
    }
    fn xor(&mut self, b: u8) {
        self[0] ^= b;
    }
    fn as_bytes(_: &mut State<[u8; 3]>) -> Option<&mut State<u8>> {
        None
    }
}

enum State<T: Copy> {
    Whole(RingBuffer<T>),
    Split(Producer<T>, Consumer<T>),
    Moving,
}

fn run<T: Element>(min_len: usize, ops: Vec<Op>) {
    let ring = RingBuffer::<T>::new(min_len).expect("a small ring");
    let capacity = ring.capacity();
    assert_eq!(capacity * std::mem::size_of::<T>() % vmem::allocation_granularity(), 0);
    let mut state = State::Whole(ring);
    let mut model: VecDeque<T> = VecDeque::new();
    for op in ops {
        match op {
            Op::Push(bytes) => {
                let data: Vec<T> = bytes.iter().map(|&b| T::make(b)).collect();
                let n = match &mut state {
                    State::Whole(ring) => ring.push_slice(&data),
                    State::Split(p, _) => p.push_slice(&data),
                    State::Moving => unreachable!(),
                };
                assert_eq!(n, data.len().min(capacity - model.len()));
                model.extend(&data[..n]);
            }
            Op::PushRepeated(b, n) => {
                let data = vec![T::make(b); n as usize % (2 * capacity + 1)];
                let n = match &mut state {
                    State::Whole(ring) => ring.push_slice(&data),
                    State::Split(p, _) => p.push_slice(&data),
                    State::Moving => unreachable!(),
                };
                assert_eq!(n, data.len().min(capacity - model.len()));
                model.extend(&data[..n]);
            }
            Op::PushOne(b) => {
                let v = T::make(b);
                let result = match &mut state {
                    State::Whole(ring) => ring.push(v),
                    State::Split(p, _) => p.push(v),
                    State::Moving => unreachable!(),
                };
                if model.len() < capacity {
                    assert_eq!(result, Ok(()));
                    model.push_back(v);
                } else {
                    assert_eq!(result, Err(v));
                }
            }
            Op::Pop(n) => {
                let mut out = vec![T::make(0); n as usize % (capacity + 2)];
                let got = match &mut state {
                    State::Whole(ring) => ring.pop_slice(&mut out),
                    State::Split(_, c) => c.pop_slice(&mut out),
                    State::Moving => unreachable!(),
                };
                let want: Vec<T> = model.drain(..out.len().min(model.len())).collect();
                assert_eq!(&out[..got], &want[..]);
            }
            Op::PopOne => {
                let got = match &mut state {
                    State::Whole(ring) => ring.pop(),
                    State::Split(_, c) => c.pop(),
                    State::Moving => unreachable!(),
                };
                assert_eq!(got, model.pop_front());
            }
            Op::Peek(n) => {
                let mut out = vec![T::make(0); n as usize % (capacity + 2)];
                let got = match &state {
                    State::Whole(ring) => ring.peek(&mut out),
                    State::Split(_, c) => c.peek(&mut out),
                    State::Moving => unreachable!(),
                };
                assert_eq!(got, out.len().min(model.len()));
                assert!(out[..got].iter().eq(model.iter().take(got)));
            }
            Op::AdvanceRead(n) => {
                let n = n as usize % (capacity + 2);
                let result = match &mut state {
                    State::Whole(ring) => ring.advance_read(n),
                    State::Split(_, c) => c.advance_read(n),
                    State::Moving => unreachable!(),
                };
                match result {
                    Ok(()) => drop(model.drain(..n)),
                    Err(_) => assert!(n > model.len()),
                }
            }
            Op::ReadExact(n) => {
                if let State::Split(_, c) = &state {
                    let n = n as usize % (capacity + 2);
                    match c.readable_exact(n) {
                        Some(slice) => assert!(slice.iter().eq(model.iter().take(n))),
                        None => assert!(n > model.len()),
                    }
                }
            }
            Op::WriteDirect(b, n) => {
                let free = capacity - model.len();
                let n = (n as usize) % (free + 2);
                let fits = n <= free;
                let v = T::make(b);
                let written = match T::as_bytes(&mut state) {
                    // Bytes: the safe `writable` + `advance_write`.
                    Some(bytes) => {
                        let (space, result) = match bytes {
                            State::Whole(ring) => {
                                let space = ring.writable();
                                let len = space.len();
                                if fits {
                                    space[..n].fill(b);
                                }
                                (len, ring.advance_write(n))
                            }
                            State::Split(p, _) => {
                                let space = p.writable();
                                let len = space.len();
                                if fits {
                                    space[..n].fill(b);
                                }
                                (len, p.advance_write(n))
                            }
                            State::Moving => unreachable!(),
                        };
                        assert_eq!(space, free, "the free space is one slice");
                        result.is_ok()
                    }
                    // Other types: `writable_uninit` + `assume_written`.
                    None => {
                        let (space, result) = match &mut state {
                            State::Whole(ring) => {
                                let space = ring.writable_uninit();
                                let len = space.len();
                                if fits {
                                    for slot in &mut space[..n] {
                                        slot.write(v);
                                    }
                                }
                                // SAFETY: when it fits, the first `n` slots were written just
                                // above; when it does not, the call fails and publishes nothing.
                                (len, unsafe { ring.assume_written(n) })
                            }
                            State::Split(p, _) => {
                                let space = p.writable_uninit();
                                let len = space.len();
                                if fits {
                                    for slot in &mut space[..n] {
                                        slot.write(v);
                                    }
                                }
                                // SAFETY: as above.
                                (len, unsafe { p.assume_written(n) })
                            }
                            State::Moving => unreachable!(),
                        };
                        assert_eq!(space, free, "the free space is one slice");
                        result.is_ok()
                    }
                };
                assert_eq!(written, fits);
                if written {
                    model.extend(std::iter::repeat_n(v, n));
                }
            }
            Op::Mutate(b) => {
                let readable = match &mut state {
                    State::Whole(ring) => ring.readable_mut(),
                    State::Split(_, c) => c.readable_mut(),
                    State::Moving => unreachable!(),
                };
                readable.iter_mut().for_each(|x| x.xor(b));
                model.iter_mut().for_each(|x| x.xor(b));
            }
            Op::IoWrite(data) => {
                if let Some(bytes) = T::as_bytes(&mut state) {
                    let n = data.len().min(capacity - model.len());
                    let result = match bytes {
                        State::Whole(ring) => ring.write(&data),
                        State::Split(p, _) => p.write(&data),
                        State::Moving => unreachable!(),
                    };
                    match result {
                        Ok(got) => assert_eq!(got, n),
                        Err(e) => assert!(e.kind() == std::io::ErrorKind::WouldBlock && n == 0 && !data.is_empty()),
                    }
                    model.extend(data[..n].iter().map(|&b| T::make(b)));
                }
            }
            Op::IoRead(n) => {
                if let Some(bytes) = T::as_bytes(&mut state) {
                    let mut out = vec![0u8; n as usize % (capacity + 2)];
                    let expected = out.len().min(model.len());
                    let result = match bytes {
                        State::Whole(ring) => ring.read(&mut out),
                        State::Split(_, c) => c.read(&mut out),
                        State::Moving => unreachable!(),
                    };
                    let got = match result {
                        Ok(got) => got,
                        Err(e) => {
                            assert!(e.kind() == std::io::ErrorKind::WouldBlock && model.is_empty());
                            0
                        }
                    };
                    assert_eq!(got, expected);
                    let want: Vec<T> = model.drain(..got).collect();
                    assert!(out[..got].iter().map(|&b| T::make(b)).eq(want.iter().copied()));
                }
            }
            Op::Clear => {
                if let State::Whole(ring) = &mut state {
                    ring.clear();
                    model.clear();
                }
            }
            Op::SplitOrJoin => {
                state = match std::mem::replace(&mut state, State::Moving) {
                    State::Whole(ring) => {
                        let (p, c) = ring.split();
                        State::Split(p, c)
                    }
                    State::Split(p, c) => State::Whole(RingBuffer::join(p, c).expect("the halves of one buffer")),
                    State::Moving => unreachable!(),
                };
            }
        }
        let (readable, len, available) = match &state {
            State::Whole(ring) => (ring.readable(), ring.len(), ring.available()),
            State::Split(p, c) => {
                assert_eq!(p.len(), model.len());
                assert_eq!(p.available(), capacity - model.len());
                (c.readable(), c.len(), c.available())
            }
            State::Moving => unreachable!(),
        };
        assert_eq!(len, model.len());
        assert_eq!(available, capacity - model.len());
        assert!(readable.iter().eq(model.iter()), "readable elements differ");
    }
}

fuzz_target!(|input: Input| {
    let min_len = (input.capacity % (1 << 20)) as usize + 1;
    if input.triples {
        run::<[u8; 3]>(min_len / 3 + 1, input.ops);
    } else {
        run::<u8>(min_len, input.ops);
    }
});
