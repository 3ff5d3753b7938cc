//! `RingBuffer` against `VecDeque<u8>`: writes, reads, peeks, direct slices and wrap-around
//! at several capacities; the readable bytes must always be the model's, contiguous.
#![no_main]

use std::collections::VecDeque;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem::RingBuffer;

#[derive(Arbitrary, Debug)]
enum Op {
    Push(Vec<u8>),
    PushRepeated(u8, u32),
    Pop(u32),
    Peek(u32),
    AdvanceRead(u32),
    WriteDirect(u8, u32),
    Clear,
}

#[derive(Arbitrary, Debug)]
struct Input {
    capacity: u32,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let mut ring = RingBuffer::with_capacity((input.capacity % (1 << 20)) as usize + 1).expect("a small ring");
    let capacity = ring.capacity();
    let mut model: VecDeque<u8> = VecDeque::new();
    for op in input.ops {
        match op {
            Op::Push(bytes) => {
                let n = ring.push_slice(&bytes);
                assert_eq!(n, bytes.len().min(capacity - model.len()));
                model.extend(&bytes[..n]);
            }
            Op::PushRepeated(b, n) => {
                let bytes = vec![b; n as usize % (2 * capacity + 1)];
                let n = ring.push_slice(&bytes);
                assert_eq!(n, bytes.len().min(capacity - model.len()));
                model.extend(&bytes[..n]);
            }
            Op::Pop(n) => {
                let mut out = vec![0; n as usize % (capacity + 2)];
                let got = ring.pop_slice(&mut out);
                let want: Vec<u8> = model.drain(..got.min(model.len())).collect();
                assert_eq!(got, want.len());
                assert_eq!(&out[..got], &want[..]);
            }
            Op::Peek(n) => {
                let mut out = vec![0; n as usize % (capacity + 2)];
                let got = ring.peek(&mut out);
                assert_eq!(got, out.len().min(model.len()));
                assert!(out[..got].iter().eq(model.iter().take(got)));
            }
            Op::AdvanceRead(n) => {
                let n = n as usize % (capacity + 2);
                match ring.advance_read(n) {
                    Ok(()) => drop(model.drain(..n)),
                    Err(_) => assert!(n > model.len()),
                }
            }
            Op::WriteDirect(b, n) => {
                let space = ring.writable();
                assert_eq!(space.len(), capacity - model.len(), "the free space is one slice");
                let n = (n as usize) % (space.len() + 2);
                let fits = n <= space.len();
                if fits {
                    space[..n].fill(b);
                }
                match ring.advance_write(n) {
                    Ok(()) => model.extend(std::iter::repeat_n(b, n)),
                    Err(_) => assert!(!fits),
                }
            }
            Op::Clear => {
                ring.clear();
                model.clear();
            }
        }
        assert_eq!(ring.len(), model.len());
        assert!(ring.readable().iter().eq(model.iter()), "readable bytes differ");
        assert_eq!(ring.available(), capacity - model.len());
    }
});
