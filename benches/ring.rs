//! Streaming bytes through a 64 KiB ring in fixed-size chunks (1.5 KiB and 40 KiB), with the
//! ring kept `64 KiB - chunk` full so that reads and writes wrap around the end all the time,
//! as in a real stream. vmem's `RingBuffer` against `VecDeque<u8>` and the `ringbuf` crate,
//! in the same run. Ratios: `scripts/bench_ratios.py stream --baseline VecDeque`.
//!
//! Three consumers:
//! - `copy`: the consumer copies each chunk out (`pop_slice`, `read_exact`, `drain`).
//! - `scan` and `hash`: the consumer needs each chunk as one contiguous slice (as a parser,
//!   a hash or a `write` system call does): a fast vectorized scan for newlines, or a slow
//!   serial checksum. The double-mapped ring hands it `readable()` in place; the others
//!   must first copy the chunk out of their two halves.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ringbuf::traits::{Consumer, Producer};

const RING: usize = 64 << 10;
/// Bytes streamed per iteration (reported as throughput, so the figure scales to 1 GiB).
const STREAM: usize = 64 << 20;

/// What the consumer does with each contiguous chunk.
#[derive(Clone, Copy, PartialEq)]
enum Reader {
    /// Copies the chunk out (`pop_slice`, `read_exact`, `drain`): no contiguity needed.
    Copy,
    /// A fast pass over every byte, as a parser scanning for delimiters does (vectorized).
    Scan,
    /// A slow pass: a serial checksum whose own cost dominates the copies.
    Hash,
}

impl Reader {
    fn name(self) -> &'static str {
        match self {
            Reader::Copy => "copy",
            Reader::Scan => "scan",
            Reader::Hash => "hash",
        }
    }

    fn consume(self, bytes: &[u8]) -> u64 {
        match self {
            Reader::Copy => 0,
            Reader::Scan => {
                bytes.chunks(128).map(|c| u64::from(c.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>())).sum()
            }
            Reader::Hash => bytes
                .chunks_exact(8)
                .fold(0u64, |acc, w| acc.rotate_left(5) ^ u64::from_le_bytes(w.try_into().unwrap())),
        }
    }
}

fn stream(c: &mut Criterion) {
    for chunk in [1536usize, 40 << 10] {
        let input: Vec<u8> = (0..chunk).map(|i| i as u8).collect();
        let backlog = vec![0u8; RING - chunk];
        let rounds = STREAM / chunk;
        for reader in [Reader::Copy, Reader::Scan, Reader::Hash] {
            let mode = reader.name();
            let contiguous = reader != Reader::Copy;
            let mut group = c.benchmark_group(format!("stream_{mode}_{chunk}B_chunks"));
            group.throughput(Throughput::Bytes(STREAM as u64));
            let mut output = vec![0u8; chunk];

            let mut deque: VecDeque<u8> = VecDeque::with_capacity(RING);
            deque.extend(&backlog);
            group.bench_function("VecDeque", |b| {
                b.iter(|| {
                    let mut sum = 0;
                    for _ in 0..rounds {
                        deque.extend(black_box(&input[..]).iter());
                        let (front, back) = deque.as_slices();
                        let split = front.len().min(chunk);
                        output[..split].copy_from_slice(&front[..split]);
                        output[split..].copy_from_slice(&back[..chunk - split]);
                        deque.drain(..chunk);
                        if contiguous {
                            sum ^= reader.consume(&output);
                        }
                    }
                    black_box((sum, &output));
                })
            });

            let rb = ringbuf::HeapRb::<u8>::new(RING);
            let (mut producer, mut consumer) = ringbuf::traits::Split::split(rb);
            producer.push_slice(&backlog);
            group.bench_function("ringbuf", |b| {
                b.iter(|| {
                    let mut sum = 0;
                    for _ in 0..rounds {
                        producer.push_slice(black_box(&input));
                        consumer.pop_slice(&mut output);
                        if contiguous {
                            sum ^= reader.consume(&output);
                        }
                    }
                    black_box((sum, &output));
                })
            });

            let mut ring = vmem::RingBuffer::with_capacity(RING).unwrap();
            ring.push_slice(&backlog);
            group.bench_function("vmem", |b| {
                b.iter(|| {
                    let mut sum = 0;
                    for _ in 0..rounds {
                        ring.push_slice(black_box(&input));
                        if contiguous {
                            sum ^= reader.consume(&ring.readable()[..chunk]);
                            ring.advance_read(chunk).unwrap();
                        } else {
                            ring.pop_slice(&mut output);
                        }
                    }
                    black_box((sum, &output));
                })
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = stream
}
criterion_main!(benches);
