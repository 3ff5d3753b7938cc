//! Streaming bytes through a 64 KiB ring in fixed-size chunks (1.5 KiB and 40 KiB), with the
//! ring kept `64 KiB - chunk` full so that reads and writes wrap around the end all the time,
//! as in a real stream. vmem's `RingBuffer` against `VecDeque<u8>` and the `ringbuf` crate,
//! in the same run. Ratios: `scripts/bench_ratios.py stream --baseline VecDeque`.
//!
//! Then, as an interleaved table printed at the end (`cargo bench --bench ring -- spsc` runs
//! only that): the same messages from a producer thread to a consumer thread that needs each
//! one as a contiguous slice, through vmem's split `RingBuffer`, `ringbuf`'s split `HeapRb`
//! and `crossbeam`'s `ArrayQueue`. See `spsc` below.
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

use criterion::{criterion_group, Criterion, Throughput};
use ringbuf::traits::Producer;

const RING: usize = 64 << 10;
/// Bytes streamed per iteration (reported as throughput, so the figure scales to 1 GiB).
const STREAM: usize = 64 << 20;

use vmem_workloads::stream::{self as workload, Reader};

fn stream(c: &mut Criterion) {
    for chunk in [1536usize, 40 << 10] {
        let input: Vec<u8> = (0..chunk).map(|i| i as u8).collect();
        let rounds = STREAM / chunk;
        for reader in Reader::ALL {
            let mode = reader.name();
            let mut group = c.benchmark_group(format!("stream_{mode}_{chunk}B_chunks"));
            group.throughput(Throughput::Bytes(STREAM as u64));
            let mut output = vec![0u8; chunk];

            let mut deque: VecDeque<u8> = VecDeque::with_capacity(RING);
            workload::prime_deque(&mut deque, RING, chunk);
            group.bench_function("VecDeque", |b| {
                b.iter(|| {
                    let mut sum = 0;
                    for _ in 0..rounds {
                        sum ^= workload::through_deque(&mut deque, black_box(&input), &mut output, reader);
                    }
                    black_box((sum, &output));
                })
            });

            let rb = ringbuf::HeapRb::<u8>::new(RING);
            let (mut producer, mut consumer) = ringbuf::traits::Split::split(rb);
            producer.push_slice(&vec![0u8; RING - chunk]);
            group.bench_function("ringbuf", |b| {
                b.iter(|| {
                    let mut sum = 0;
                    for _ in 0..rounds {
                        sum ^= workload::through_ringbuf(
                            &mut producer,
                            &mut consumer,
                            black_box(&input),
                            &mut output,
                            reader,
                        );
                    }
                    black_box((sum, &output));
                })
            });

            let mut ring = vmem::RingBuffer::with_capacity(RING).unwrap();
            workload::prime_ring(&mut ring, chunk);
            group.bench_function("vmem", |b| {
                b.iter(|| {
                    let mut sum = 0;
                    for _ in 0..rounds {
                        sum ^= workload::through_ring(&mut ring, black_box(&input), &mut output, reader);
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

fn main() {
    benches();
    // Only when benchmarking (`cargo bench`), not when run as a test.
    if std::env::args().any(|a| a == "--bench") {
        spsc::interleaved(15);
    }
    Criterion::default().configure_from_args().final_summary();
}

/// One producer thread, one consumer thread, `STREAM` bytes in messages of 1.5 KiB or 40 KiB
/// through 64 KiB or 1 MiB of buffer; the consumer needs each message as one contiguous slice and
/// scans or hashes it (the `Reader`s above). The producer stamps each message with its number
/// before writing it, so every message differs; all variants must agree on the checksum.
///
/// - `vmem`: `Producer::push_slice` (what fits, as a byte stream); the consumer waits for
///   `Consumer::readable_exact(message)` and reads it in place.
/// - `ringbuf_as_slices`: `push_slice` likewise; the consumer waits for a whole message and
///   reads it in place from `as_slices()` when it lies in the first slice, or copies its two
///   parts into a scratch buffer first when it wraps (the best a two-slice ring can do).
/// - `ringbuf_pop_slice`: the consumer copies every message out with `pop_slice`.
/// - `crossbeam_array`: an `ArrayQueue<[u8; MESSAGE]>` of `64 KiB / MESSAGE` messages: pushed
///   and popped by value (each a copy in and a copy out).
/// - `crossbeam_boxes`: buffers passed by pointer: an `ArrayQueue<Box<[u8]>>` of full buffers
///   and another that hands them back, `64 KiB / MESSAGE` buffers in all: the producer copies
///   each message into a recycled buffer, the consumer reads it in place. No copy on the
///   consumer's side, like vmem's, at the price of fixed-size messages.
mod spsc {
    use std::hint::{black_box, spin_loop};
    use std::time::{Duration, Instant};

    use crossbeam_queue::ArrayQueue;
    use ringbuf::traits::{Consumer as _, Observer as _, Producer as _, Split as _};

    use super::{Reader, STREAM};

    const VARIANTS: [&str; 6] =
        ["vmem", "ringbuf_as_slices", "ringbuf_pop_slice", "crossbeam_array", "crossbeam_boxes", "vmem_pop_slice"];

    /// Waiting, the same for every variant: spin a little, then yield the CPU (on this 2-core
    /// VM other work can take a core, and a spinning thread would then starve its partner).
    fn backoff(spins: &mut u32) {
        if *spins < 128 {
            spin_loop();
        } else {
            std::thread::yield_now();
        }
        *spins += 1;
    }

    fn stamp(message: &mut [u8], i: usize) {
        message[..8].copy_from_slice(&(i as u64).to_le_bytes());
    }

    fn template<const M: usize>() -> [u8; M] {
        std::array::from_fn(|i| i as u8)
    }

    /// Every variant's state, kept across rounds so that no run pays for page faults.
    struct Rings<const M: usize> {
        vmem: (vmem::Producer, vmem::Consumer),
        ringbuf: (ringbuf::HeapProd<u8>, ringbuf::HeapCons<u8>),
        array: ArrayQueue<[u8; M]>,
        full: ArrayQueue<Box<[u8]>>,
        free: ArrayQueue<Box<[u8]>>,
    }

    impl<const M: usize> Rings<M> {
        /// Buffers of `ring` bytes (rounded down to whole messages for `crossbeam`).
        fn new(ring: usize) -> Self {
            let slots = (ring / M).max(1);
            let free = ArrayQueue::new(slots);
            for _ in 0..slots {
                free.push(vec![0u8; M].into_boxed_slice()).unwrap();
            }
            Rings {
                vmem: vmem::RingBuffer::with_capacity(ring).unwrap().split(),
                ringbuf: ringbuf::HeapRb::<u8>::new(ring).split(),
                array: ArrayQueue::new(slots),
                full: ArrayQueue::new(slots),
                free,
            }
        }

        /// Runs one variant over the whole stream; returns its time and the checksum.
        fn run(&mut self, variant: usize, reader: Reader) -> (Duration, u64) {
            let messages = STREAM / M;
            let start = Instant::now();
            let sum = std::thread::scope(|s| match variant {
                0 | 5 => {
                    let (p, c) = &mut self.vmem;
                    s.spawn(move || {
                        let mut message = template::<M>();
                        for i in 0..messages {
                            stamp(&mut message, i);
                            let (mut sent, mut spins) = (0, 0);
                            while sent < M {
                                let n = p.push_slice(&message[sent..]);
                                if n == 0 {
                                    backoff(&mut spins);
                                }
                                sent += n;
                            }
                        }
                    });
                    let mut scratch = vec![0u8; M];
                    let mut sum = 0;
                    for _ in 0..messages {
                        let mut spins = 0;
                        let message = loop {
                            match c.readable_exact(M) {
                                Some(message) => break message,
                                None => backoff(&mut spins),
                            }
                        };
                        if variant == 0 {
                            sum ^= reader.consume(message);
                            c.advance_read(M).unwrap();
                        } else {
                            // Copy out, as ringbuf's `pop_slice` consumer does: frees the
                            // space at once (see BENCHMARKS.md for when that pays).
                            c.pop_slice(&mut scratch);
                            sum ^= reader.consume(&scratch);
                        }
                    }
                    sum
                }
                1 | 2 => {
                    let (p, c) = &mut self.ringbuf;
                    s.spawn(move || {
                        let mut message = template::<M>();
                        for i in 0..messages {
                            stamp(&mut message, i);
                            let (mut sent, mut spins) = (0, 0);
                            while sent < M {
                                let n = p.push_slice(&message[sent..]);
                                if n == 0 {
                                    backoff(&mut spins);
                                }
                                sent += n;
                            }
                        }
                    });
                    let mut scratch = vec![0u8; M];
                    let mut sum = 0;
                    for _ in 0..messages {
                        let mut spins = 0;
                        while c.occupied_len() < M {
                            backoff(&mut spins);
                        }
                        if variant == 2 {
                            c.pop_slice(&mut scratch);
                            sum ^= reader.consume(&scratch);
                        } else {
                            let (first, second) = c.as_slices();
                            if first.len() >= M {
                                sum ^= reader.consume(&first[..M]);
                            } else {
                                scratch[..first.len()].copy_from_slice(first);
                                scratch[first.len()..].copy_from_slice(&second[..M - first.len()]);
                                sum ^= reader.consume(&scratch);
                            }
                            c.skip(M);
                        }
                    }
                    sum
                }
                3 => {
                    let queue = &self.array;
                    s.spawn(move || {
                        let base = template::<M>();
                        for i in 0..messages {
                            let mut message = base;
                            stamp(&mut message, i);
                            let mut spins = 0;
                            while let Err(back) = queue.push(message) {
                                message = back;
                                backoff(&mut spins);
                            }
                        }
                    });
                    let mut sum = 0;
                    for _ in 0..messages {
                        let mut spins = 0;
                        let message = loop {
                            match queue.pop() {
                                Some(message) => break message,
                                None => backoff(&mut spins),
                            }
                        };
                        sum ^= reader.consume(&message);
                    }
                    sum
                }
                _ => {
                    let (full, free) = (&self.full, &self.free);
                    s.spawn(move || {
                        let base = template::<M>();
                        for i in 0..messages {
                            let mut spins = 0;
                            let mut buffer = loop {
                                match free.pop() {
                                    Some(buffer) => break buffer,
                                    None => backoff(&mut spins),
                                }
                            };
                            buffer.copy_from_slice(&base);
                            stamp(&mut buffer, i);
                            // Cannot fail: there are as many slots as buffers.
                            full.push(buffer).unwrap();
                        }
                    });
                    let mut sum = 0;
                    for _ in 0..messages {
                        let mut spins = 0;
                        let buffer = loop {
                            match full.pop() {
                                Some(buffer) => break buffer,
                                None => backoff(&mut spins),
                            }
                        };
                        sum ^= reader.consume(&buffer);
                        free.push(buffer).unwrap();
                    }
                    sum
                }
            });
            (start.elapsed(), black_box(sum))
        }
    }

    fn scenario<const M: usize>(rounds: usize, reader: Reader, ring: usize) {
        let mut rings = Rings::<M>::new(ring);
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
        let mut checksum = None;
        for round in 0..rounds {
            for k in 0..VARIANTS.len() {
                let variant = (round + k) % VARIANTS.len();
                rings.run(variant, reader); // warm-up, right before the timed run
                let (time, sum) = rings.run(variant, reader);
                assert_eq!(*checksum.get_or_insert(sum), sum, "{} disagrees", VARIANTS[variant]);
                times[variant].push(time.as_secs_f64());
            }
        }
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let name = format!("{}, {} B messages, {} KiB ring", reader.name(), M, ring >> 10);
        for (variant, label) in VARIANTS.iter().enumerate() {
            let ratios: Vec<f64> = times[variant].iter().zip(&times[0]).map(|(t, v)| t / v).collect();
            let (min, max) = ratios.iter().fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            let gib_s = STREAM as f64 / median(&times[variant]) / f64::from(1 << 30);
            if variant == 0 {
                println!("| {name} | {label} | {gib_s:.2} GiB/s | 1.00x |");
            } else {
                println!("| {name} | {label} | {gib_s:.2} GiB/s | {:.2}x ({min:.2}..{max:.2}) |", median(&ratios));
            }
        }
    }

    /// The interleaved rounds: in each, every variant (in a rotating order) runs once untimed
    /// and once timed. Prints each variant's median throughput and the median (min..max) over
    /// rounds of its time divided by vmem's time in the same round (above 1: vmem is faster).
    pub fn interleaved(rounds: usize) {
        println!(
            "\n## SPSC, one producer and one consumer thread ({rounds} rounds; ratio = variant time / vmem time in the same round)\n"
        );
        println!("| consumer, message, buffer | variant | median throughput | ratio vs vmem: median (min..max) |");
        println!("|---|---|---|---|");
        // The stream bench's 64 KiB, and 1 MiB: room for several 40 KiB messages at once.
        // `VMEM_BENCH_SPSC_RINGS=64,128,256` (KiB) runs other sizes instead.
        let rings: Vec<usize> = match std::env::var("VMEM_BENCH_SPSC_RINGS") {
            Ok(list) => list
                .split(',')
                .map(|kib| {
                    kib.trim().parse::<usize>().expect("VMEM_BENCH_SPSC_RINGS: sizes in KiB, comma-separated") << 10
                })
                .collect(),
            Err(_) => vec![64 << 10, 1 << 20],
        };
        for ring in rings {
            for reader in [Reader::Scan, Reader::Hash] {
                scenario::<1536>(rounds, reader, ring);
                scenario::<{ 40 << 10 }>(rounds, reader, ring);
            }
        }
    }
}
