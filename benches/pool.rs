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
//! `scripts/bench_ratios.py pool_ --baseline slab`. A second interleaved table (`extras`)
//! compares the API added after slab and slotmap with theirs: `get_disjoint_mut`,
//! `insert_with_key`, `clone`, `drain`, and a secondary map's `get`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use slab::Slab;
use slotmap::{DefaultKey, SecondaryMap, SlotMap};
use vmem::pool::SecondaryPool;

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

/// The state of one variant in [`extras`]: a container of 100k values, their keys, and a
/// secondary map filled for every key (none for `slab`, which has no such thing).
struct Extra<C: Container, S> {
    container: C,
    keys: Vec<C::Key>,
    side: S,
}

/// Runs `op` on `state` `iters` times after `setup` (untimed) each time; the time in `op`.
fn timed_extra<S>(state: &mut S, iters: u64, setup: impl Fn(&mut S), op: impl Fn(&mut S) -> u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        setup(state);
        let start = Instant::now();
        black_box(op(state));
        total += start.elapsed();
    }
    total
}

/// The API added after slab and slotmap (issue 16) against the peers' own: `get_disjoint_mut`
/// of 50k pairs (keys in slot order, each pair written), `insert_with_key` of 100k values
/// (`slab`: `vacant_entry`), `clone` of 100k values, `drain` of 100k values, and `get` of a
/// secondary map for every key (`SecondaryPool` against `SecondaryMap`; `slab` has none).
/// Interleaved as [`interleaved`]; ratio = peer time / vmem time in the same round.
fn extras(rounds: usize) {
    const ITERS: u64 = 20;
    type SlabState = Extra<Slab<u64>, ()>;
    type SlotState = Extra<SlotMap<DefaultKey, u64>, SecondaryMap<DefaultKey, u64>>;
    type PoolState = Extra<vmem::Pool<u64>, SecondaryPool<vmem::Handle, u64>>;
    fn refill<C: Container, S>(state: &mut Extra<C, S>) {
        state.container.clear();
        fill(&mut state.container, &mut state.keys);
    }
    let mut slab: SlabState = Extra { container: Slab::new(), keys: Vec::with_capacity(N), side: () };
    let mut slotmap: SlotState =
        Extra { container: SlotMap::new(), keys: Vec::with_capacity(N), side: SecondaryMap::new() };
    let mut pool: PoolState =
        Extra { container: vmem::Pool::new(), keys: Vec::with_capacity(N), side: SecondaryPool::new() };
    refill(&mut slab);
    refill(&mut slotmap);
    refill(&mut pool);
    for (i, &k) in slotmap.keys.iter().enumerate() {
        slotmap.side.insert(k, i as u64);
    }
    for (i, &k) in pool.keys.iter().enumerate() {
        pool.side.insert(k, i as u64);
    }
    let names =
        ["get_disjoint_mut_50k_pairs", "insert_with_key_100k", "clone_100k", "drain_100k", "secondary_get_100k"];
    println!("\n## The new API, interleaved rounds ({rounds} per operation; ratio = variant time / vmem time in the same round)\n");
    println!("| operation | variant | median per run | ratio vs vmem: median (min..max) |");
    println!("|---|---|---|---|");
    for (op, name) in names.iter().enumerate() {
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            for k in 0..3 {
                let variant = (round + k) % 3;
                let mut run = |iters: u64| -> Option<Duration> {
                    Some(match (variant, op) {
                        (0, 0) => timed_extra(&mut slab, iters, refill, |s| {
                            let mut sum = 0;
                            for pair in s.keys.chunks_exact(2) {
                                if let Ok([a, b]) = s.container.get_disjoint_mut([pair[0], pair[1]]) {
                                    sum += *a + *b;
                                    *a += 1;
                                }
                            }
                            sum
                        }),
                        (1, 0) => timed_extra(&mut slotmap, iters, refill, |s| {
                            let mut sum = 0;
                            for pair in s.keys.chunks_exact(2) {
                                if let Some([a, b]) = s.container.get_disjoint_mut([pair[0], pair[1]]) {
                                    sum += *a + *b;
                                    *a += 1;
                                }
                            }
                            sum
                        }),
                        (_, 0) => timed_extra(&mut pool, iters, refill, |s| {
                            let mut sum = 0;
                            for pair in s.keys.chunks_exact(2) {
                                if let Some([a, b]) = s.container.get_disjoint_mut([pair[0], pair[1]]) {
                                    sum += *a + *b;
                                    *a += 1;
                                }
                            }
                            sum
                        }),
                        (0, 1) => timed_extra(
                            &mut slab,
                            iters,
                            |s| s.container.clear(),
                            |s| {
                                for i in 0..N as u64 {
                                    let entry = s.container.vacant_entry();
                                    let key = entry.key() as u64;
                                    entry.insert(black_box(i) ^ key);
                                }
                                s.container.len() as u64
                            },
                        ),
                        (1, 1) => timed_extra(
                            &mut slotmap,
                            iters,
                            |s| s.container.clear(),
                            |s| {
                                for i in 0..N as u64 {
                                    s.container.insert_with_key(|k| {
                                        black_box(i) ^ <SlotMap<DefaultKey, u64> as Container>::slot_of(k) as u64
                                    });
                                }
                                s.container.len() as u64
                            },
                        ),
                        (_, 1) => timed_extra(
                            &mut pool,
                            iters,
                            |s| s.container.clear(),
                            |s| {
                                for i in 0..N as u64 {
                                    s.container.insert_with_key(|k| black_box(i) ^ k.index() as u64);
                                }
                                s.container.len() as u64
                            },
                        ),
                        (0, 2) => {
                            timed_extra(&mut slab, iters, refill, |s| black_box(s.container.clone()).len() as u64)
                        }
                        (1, 2) => {
                            timed_extra(&mut slotmap, iters, refill, |s| black_box(s.container.clone()).len() as u64)
                        }
                        (_, 2) => {
                            timed_extra(&mut pool, iters, refill, |s| black_box(s.container.clone()).len() as u64)
                        }
                        (0, 3) => timed_extra(&mut slab, iters, refill, |s| s.container.drain().sum()),
                        (1, 3) => {
                            timed_extra(&mut slotmap, iters, refill, |s| s.container.drain().map(|(_, v)| v).sum())
                        }
                        (_, 3) => timed_extra(&mut pool, iters, refill, |s| s.container.drain().map(|(_, v)| v).sum()),
                        (0, _) => return None,
                        (1, _) => timed_extra(
                            &mut slotmap,
                            iters,
                            |_| {},
                            |s| s.keys.iter().filter_map(|&k| s.side.get(k)).sum(),
                        ),
                        (_, _) => timed_extra(
                            &mut pool,
                            iters,
                            |_| {},
                            |s| s.keys.iter().filter_map(|&k| s.side.get(k)).sum(),
                        ),
                    })
                };
                run(ITERS / 4);
                if let Some(time) = run(ITERS) {
                    times[variant].push(time.as_secs_f64() / ITERS as f64);
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        };
        for (variant, peer) in [(0, "slab"), (1, "slotmap"), (2, "vmem")] {
            if times[variant].is_empty() {
                continue;
            }
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
        extras(15);
    }
    Criterion::default().configure_from_args().final_summary();
}
