//! RingBuffer behaviour: the double mapping, rounding, a model check against `VecDeque`,
//! no leaked descriptors or mappings, and the `std::io` traits.

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};

use proptest::prelude::*;
use vmem::{ErrorKind, RingBuffer};

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
        let ring = RingBuffer::with_capacity(asked).unwrap();
        assert_eq!(ring.capacity(), asked.div_ceil(g) * g, "{asked}");
    }
}

#[test]
fn bad_capacities_are_errors() {
    assert_eq!(RingBuffer::with_capacity(0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    for huge in [usize::MAX, usize::MAX / 2, isize::MAX as usize] {
        assert_eq!(RingBuffer::with_capacity(huge).unwrap_err().kind(), ErrorKind::OutOfAddressSpace, "{huge}");
    }
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
    let asan = std::env::var_os("VMEM_UNDER_ASAN").is_some();
    assert!(asan || runs.iter().all(|r| r.state == vmem::PageState::Free), "{runs:?}");
}

#[derive(Clone, Debug)]
enum Op {
    Push(Vec<u8>),
    Pop(usize),
    WriteZeroCopy(usize, u8),
    ReadZeroCopy(usize),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..3000).prop_map(Op::Push),
        3 => (0usize..3000).prop_map(Op::Pop),
        3 => (0usize..5000, any::<u8>()).prop_map(|(n, v)| Op::WriteZeroCopy(n, v)),
        3 => (0usize..5000).prop_map(Op::ReadZeroCopy),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #[test]
    fn matches_a_vecdeque(ops in prop::collection::vec(op(), 1..200)) {
        let mut ring = RingBuffer::with_capacity(4096).unwrap();
        let cap = ring.capacity();
        let mut model: VecDeque<u8> = VecDeque::new();
        for op in ops {
            match op {
                Op::Push(data) => {
                    let n = ring.push_slice(&data);
                    prop_assert_eq!(n, data.len().min(cap - model.len()));
                    model.extend(&data[..n]);
                }
                Op::Pop(n) => {
                    let mut out = vec![0; n];
                    let got = ring.pop_slice(&mut out);
                    let expected: Vec<u8> = model.drain(..n.min(model.len())).collect();
                    prop_assert_eq!(&out[..got], &expected[..]);
                }
                Op::WriteZeroCopy(n, value) => {
                    let free = ring.available();
                    let w = ring.writable();
                    prop_assert_eq!(w.len(), cap - model.len());
                    let n = n.min(w.len());
                    w[..n].fill(value);
                    if n < free {
                        // Advancing past the free space is refused and changes nothing.
                        prop_assert!(ring.advance_write(free + 1).is_err());
                    }
                    ring.advance_write(n).unwrap();
                    model.extend(std::iter::repeat_n(value, n));
                }
                Op::ReadZeroCopy(n) => {
                    let readable = ring.readable().to_vec();
                    prop_assert_eq!(&readable, &model.iter().copied().collect::<Vec<_>>());
                    let result = ring.advance_read(n);
                    if n <= model.len() {
                        result.unwrap();
                        model.drain(..n);
                    } else {
                        prop_assert_eq!(result.unwrap_err().kind(), ErrorKind::OutOfBounds);
                    }
                }
                Op::Clear => {
                    ring.clear();
                    model.clear();
                }
            }
            prop_assert_eq!(ring.len(), model.len());
            prop_assert_eq!(ring.available(), cap - model.len());
            prop_assert_eq!(ring.readable(), &model.iter().copied().collect::<Vec<_>>()[..]);
        }
    }
}
