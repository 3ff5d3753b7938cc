//! `vmem::Pool` against `slab::Slab` and `slotmap::SlotMap` with 100k `u64` values, in the
//! same run: insert into fresh slots, get every value, remove every value, and insert again
//! into the freed slots. Get and remove run twice: with the keys in slot order (lowest
//! address first, as a fresh container hands them out: a `SlotMap` refilled after `clear`
//! hands them out highest first, so its keys are sorted to walk memory the same way as
//! the others), and in one fixed shuffled order (the same permutation for every
//! container), as a program that frees objects in no particular order does; after a
//! shuffled removal the free lists (and vmem's free stack) hand slots back in that random
//! order. `churn` removes a random live value and inserts a new one, 100k times: the steady
//! state of a pool whose objects come and go. Each variant keeps one warm container for the whole run (memory
//! committed and touched during warm-up), and only the named operation is timed; the setup
//! of each iteration (clearing, filling) is not. Keys are read from a `Vec`, as real code
//! reads handles from its own structures; values go through `black_box`. Ratios:
//! `scripts/bench_ratios.py pool_ --baseline slab`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use slab::Slab;
use slotmap::{DefaultKey, SlotMap};

const N: usize = 100_000;

/// The operations the benchmark needs, with the same shape for every container.
trait Container {
    type Key: Copy;
    fn clear(&mut self);
    fn insert(&mut self, value: u64) -> Self::Key;
    fn get(&self, key: Self::Key) -> Option<&u64>;
    fn remove(&mut self, key: Self::Key) -> Option<u64>;
    /// The index of the slot `key` names.
    fn slot_of(key: Self::Key) -> usize;
}

impl Container for Slab<u64> {
    type Key = usize;
    #[inline]
    fn clear(&mut self) {
        Slab::clear(self)
    }
    #[inline]
    fn insert(&mut self, value: u64) -> usize {
        Slab::insert(self, value)
    }
    #[inline]
    fn get(&self, key: usize) -> Option<&u64> {
        Slab::get(self, key)
    }
    #[inline]
    fn remove(&mut self, key: usize) -> Option<u64> {
        Slab::try_remove(self, key)
    }
    fn slot_of(key: usize) -> usize {
        key
    }
}

impl Container for SlotMap<DefaultKey, u64> {
    type Key = DefaultKey;
    #[inline]
    fn clear(&mut self) {
        SlotMap::clear(self)
    }
    #[inline]
    fn insert(&mut self, value: u64) -> DefaultKey {
        SlotMap::insert(self, value)
    }
    #[inline]
    fn get(&self, key: DefaultKey) -> Option<&u64> {
        SlotMap::get(self, key)
    }
    #[inline]
    fn remove(&mut self, key: DefaultKey) -> Option<u64> {
        SlotMap::remove(self, key)
    }
    fn slot_of(key: DefaultKey) -> usize {
        use slotmap::Key;
        // `as_ffi` is the version in the high 32 bits and the slot index in the low ones.
        (key.data().as_ffi() & 0xffff_ffff) as usize
    }
}

impl Container for vmem::Pool<u64> {
    type Key = vmem::Handle;
    #[inline]
    fn clear(&mut self) {
        vmem::Pool::clear(self)
    }
    #[inline]
    fn insert(&mut self, value: u64) -> vmem::Handle {
        vmem::Pool::insert(self, value)
    }
    #[inline]
    fn get(&self, key: vmem::Handle) -> Option<&u64> {
        vmem::Pool::get(self, key)
    }
    #[inline]
    fn remove(&mut self, key: vmem::Handle) -> Option<u64> {
        vmem::Pool::remove(self, key)
    }
    fn slot_of(key: vmem::Handle) -> usize {
        key.index() as usize
    }
}

fn fill<C: Container>(c: &mut C, keys: &mut Vec<C::Key>) {
    keys.clear();
    for i in 0..N as u64 {
        keys.push(c.insert(black_box(i)));
    }
}

/// Times `op` on a container prepared by `setup`, `iters` times; only `op` is timed.
fn timed<C: Container>(
    c: &mut C,
    keys: &mut Vec<C::Key>,
    iters: u64,
    setup: impl Fn(&mut C, &mut Vec<C::Key>),
    op: impl Fn(&mut C, &mut Vec<C::Key>) -> u64,
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        setup(c, keys);
        let start = Instant::now();
        let sum = op(c, keys);
        total += start.elapsed();
        black_box(sum);
    }
    total
}

// Not inlined: each operation's loop is laid out on its own, the same way for every
// variant, whatever the code around it.
#[inline(never)]
fn insert<C: Container>(c: &mut C, keys: &mut Vec<C::Key>) -> u64 {
    fill(c, keys);
    keys.len() as u64
}

#[inline(never)]
fn get<C: Container>(c: &mut C, keys: &[C::Key]) -> u64 {
    let mut sum = 0;
    for &k in keys.iter() {
        if let Some(v) = c.get(k) {
            sum += *v;
        }
    }
    sum
}

#[inline(never)]
fn remove<C: Container>(c: &mut C, keys: &[C::Key]) -> u64 {
    let mut sum = 0;
    for &k in keys.iter() {
        if let Some(v) = c.remove(k) {
            sum += v;
        }
    }
    sum
}

/// Steady churn: 100k times, remove the value of a pseudo-random live key and insert a new
/// one in its place (so the free stack or list is never more than one deep), as a program
/// whose objects come and go does. `keys` holds the live keys.
#[inline(never)]
fn churn<C: Container>(c: &mut C, keys: &mut [C::Key]) -> u64 {
    let mut sum = 0;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..keys.len() as u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let slot = &mut keys[(x % keys.len() as u64) as usize];
        if let Some(v) = c.remove(*slot) {
            sum += v;
        }
        *slot = c.insert(i);
    }
    sum
}

#[derive(Clone, Copy)]
enum Op {
    Insert,
    Get(Order),
    Remove(Order),
    Reinsert(Order),
    Churn,
}

/// The order in which get and remove visit the keys.
#[derive(Clone, Copy)]
enum Order {
    /// By slot index, lowest first.
    SlotOrder,
    /// One fixed pseudo-random permutation of that, the same for every container.
    Shuffled,
}

/// Fills `c`, then puts the keys in `order`.
fn fill_in<C: Container>(c: &mut C, keys: &mut Vec<C::Key>, order: Order) {
    fill(c, keys);
    keys.sort_unstable_by_key(|&key| C::slot_of(key));
    if let Order::Shuffled = order {
        // Fisher-Yates with a fixed xorshift sequence: the same permutation every time.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for i in (1..keys.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            keys.swap(i, (x % (i as u64 + 1)) as usize);
        }
    }
}

/// Runs `op` `iters` times on one variant's container (which persists, warm, across
/// groups) and returns the time spent in `op` alone.
fn op_time<C: Container>(state: &mut (C, Vec<C::Key>), op: Op, iters: u64) -> Duration {
    let (container, keys) = state;
    match op {
        Op::Insert => timed(container, keys, iters, |c, _| c.clear(), insert),
        Op::Get(order) => {
            container.clear();
            fill_in(container, keys, order);
            timed(container, keys, iters, |_, _| {}, |c, keys| get(c, keys))
        }
        Op::Remove(order) => {
            let setup = |c: &mut C, keys: &mut Vec<C::Key>| {
                c.clear();
                fill_in(c, keys, order);
            };
            timed(container, keys, iters, setup, |c, keys| remove(c, keys))
        }
        Op::Reinsert(order) => {
            let setup = |c: &mut C, keys: &mut Vec<C::Key>| {
                c.clear();
                fill_in(c, keys, order);
                remove(c, keys);
            };
            timed(container, keys, iters, setup, insert)
        }
        Op::Churn => {
            container.clear();
            fill(container, keys);
            timed(container, keys, iters, |_, _| {}, |c, keys| churn(c, keys))
        }
    }
}

const OPS: [(&str, Op); 8] = [
    ("pool_insert_100k", Op::Insert),
    ("pool_get_100k", Op::Get(Order::SlotOrder)),
    ("pool_get_shuffled_100k", Op::Get(Order::Shuffled)),
    ("pool_remove_100k", Op::Remove(Order::SlotOrder)),
    ("pool_remove_shuffled_100k", Op::Remove(Order::Shuffled)),
    ("pool_reinsert_100k", Op::Reinsert(Order::SlotOrder)),
    ("pool_reinsert_shuffled_100k", Op::Reinsert(Order::Shuffled)),
    ("pool_churn_100k", Op::Churn),
];

type States =
    ((Slab<u64>, Vec<usize>), (SlotMap<DefaultKey, u64>, Vec<DefaultKey>), (vmem::Pool<u64>, Vec<vmem::Handle>));

/// One container per variant, each filled once so that its memory is committed and touched.
fn states() -> States {
    let mut slab = (Slab::<u64>::new(), Vec::with_capacity(N));
    let mut slotmap = (SlotMap::<DefaultKey, u64>::new(), Vec::with_capacity(N));
    let mut pool = (vmem::Pool::<u64>::new(), Vec::with_capacity(N));
    fill(&mut slab.0, &mut slab.1);
    fill(&mut slotmap.0, &mut slotmap.1);
    fill(&mut pool.0, &mut pool.1);
    (slab, slotmap, pool)
}

fn pools(c: &mut Criterion) {
    let (mut slab, mut slotmap, mut pool) = states();
    for (group_name, op) in OPS {
        // The variants of a group run one after the other, each warmed up right before it
        // is timed.
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(N as u64));
        group.bench_function("slab", |b| b.iter_custom(|iters| op_time(&mut slab, op, iters)));
        group.bench_function("slotmap", |b| b.iter_custom(|iters| op_time(&mut slotmap, op, iters)));
        group.bench_function("vmem", |b| b.iter_custom(|iters| op_time(&mut pool, op, iters)));
        group.finish();
    }
}

/// The interleaved rounds: in each, every variant (in a rotating order) runs the operation
/// untimed to warm up, then timed (`ITERS` times), so that all variants see the machine in
/// the same state. Prints the median time of each variant and the median (min..max) over
/// rounds of the peer's time divided by vmem's time in the same round.
fn interleaved(rounds: usize) {
    const ITERS: u64 = 20;
    let (mut slab, mut slotmap, mut pool) = states();
    println!("\n## Interleaved rounds ({rounds} per operation; ratio = variant time / vmem time in the same round)\n");
    println!("| operation | variant | median per 100k | ratio vs vmem: median (min..max) |");
    println!("|---|---|---|---|");
    for (name, op) in OPS {
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            for k in 0..3 {
                let variant = (round + k) % 3;
                let mut run = |iters| match variant {
                    0 => op_time(&mut slab, op, iters),
                    1 => op_time(&mut slotmap, op, iters),
                    _ => op_time(&mut pool, op, iters),
                };
                run(ITERS / 4);
                times[variant].push(run(ITERS).as_secs_f64() / ITERS as f64);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        };
        for (variant, peer) in [(0, "slab"), (1, "slotmap"), (2, "vmem")] {
            let mut ratios: Vec<f64> = times[variant].iter().zip(&times[2]).map(|(t, v)| t / v).collect();
            let (min, max) = ratios.iter().fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            let time = median(&mut times[variant].clone()) * 1e6;
            let ratio = median(&mut ratios);
            println!("| {name} | {peer} | {time:.1} µs | {ratio:.2}x ({min:.2}..{max:.2}) |");
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_millis(700)).measurement_time(Duration::from_secs(2));
    targets = pools
}

fn main() {
    benches();
    // Only when benchmarking (`cargo bench`), not when run as a test.
    if std::env::args().any(|a| a == "--bench") {
        interleaved(15);
    }
    Criterion::default().configure_from_args().final_summary();
}
