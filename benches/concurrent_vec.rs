//! `vmem::ConcurrentVec` against `boxcar::Vec` and `Mutex<Vec<u64>>`, in the same run:
//! threads push 2M `u64` into one shared vector.
//!
//! - `cvec_push_2x1M_fresh`: two threads push 1M each into a new, empty vector, which is
//!   then dropped: growth (allocation or commit, first-touch page faults) is part of the cost.
//! - `cvec_push_2x1M_reused`: the same into one vector per variant, cleared (untimed) before
//!   each iteration and keeping its memory: the pushes alone.
//! - `cvec_push_1x2M_reused`: one thread pushes 2M: the cost of a push without contention.
//! - `cvec_get_2M`: one thread reads all 2M elements by index.
//!
//! The pushing threads are spawned before the timer starts and released together by a
//! barrier. Ratios: `scripts/bench_ratios.py cvec_ --baseline boxcar`.

use std::hint::black_box;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};

/// Values pushed per iteration, by all threads together.
const TOTAL: u64 = 2_000_000;

/// A vector that threads push to through `&self`.
trait SharedVec: Sync {
    fn push(&self, value: u64);
    fn clear(&mut self);
    fn get(&self, index: usize) -> Option<u64>;
}

impl SharedVec for boxcar::Vec<u64> {
    #[inline]
    fn push(&self, value: u64) {
        boxcar::Vec::push(self, value);
    }
    fn clear(&mut self) {
        boxcar::Vec::clear(self)
    }
    #[inline]
    fn get(&self, index: usize) -> Option<u64> {
        boxcar::Vec::get(self, index).copied()
    }
}

impl SharedVec for Mutex<Vec<u64>> {
    #[inline]
    fn push(&self, value: u64) {
        self.lock().unwrap().push(value);
    }
    fn clear(&mut self) {
        self.get_mut().unwrap().clear()
    }
    #[inline]
    fn get(&self, index: usize) -> Option<u64> {
        self.lock().unwrap().get(index).copied()
    }
}

impl SharedVec for vmem::ConcurrentVec<u64> {
    #[inline]
    fn push(&self, value: u64) {
        vmem::ConcurrentVec::push(self, value);
    }
    fn clear(&mut self) {
        vmem::ConcurrentVec::clear(self)
    }
    #[inline]
    fn get(&self, index: usize) -> Option<u64> {
        vmem::ConcurrentVec::get(self, index).copied()
    }
}

/// `threads` threads push `TOTAL / threads` values each, all starting at once (a barrier
/// releases them); returns the time from the release until the last one finished.
fn timed_push<V: SharedVec>(vec: &V, threads: u64) -> Duration {
    let per_thread = TOTAL / threads;
    let barrier = Barrier::new(threads as usize + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    for i in 0..per_thread {
                        vec.push(black_box(t * per_thread + i));
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for worker in workers {
            worker.join().unwrap();
        }
        start.elapsed()
    })
}

/// Each iteration: a new vector, the pushes, and dropping it.
fn fresh<V: SharedVec>(iters: u64, threads: u64, new: impl Fn() -> V) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let vec = new();
        total += timed_push(&vec, threads);
        let start = Instant::now();
        drop(black_box(vec));
        total += start.elapsed();
    }
    total
}

/// Each iteration: the pushes into a vector cleared (untimed) before.
fn reused<V: SharedVec>(iters: u64, threads: u64, vec: &mut V) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        vec.clear();
        total += timed_push(vec, threads);
    }
    total
}

fn get_all<V: SharedVec>(vec: &V) -> u64 {
    let mut sum = 0;
    for i in 0..TOTAL as usize {
        if let Some(v) = vec.get(black_box(i)) {
            sum += v;
        }
    }
    sum
}

fn concurrent_vec(c: &mut Criterion) {
    // The variants of each group run one after the other, each warmed up right before it is
    // timed.
    let mut group = c.benchmark_group("cvec_push_2x1M_fresh");
    group.throughput(Throughput::Elements(TOTAL));
    group.bench_function("boxcar", |b| b.iter_custom(|iters| fresh(iters, 2, boxcar::Vec::<u64>::new)));
    group.bench_function("mutex_vec", |b| b.iter_custom(|iters| fresh(iters, 2, || Mutex::new(Vec::<u64>::new()))));
    group.bench_function("vmem", |b| b.iter_custom(|iters| fresh(iters, 2, vmem::ConcurrentVec::<u64>::new)));
    group.finish();

    let mut boxcar = boxcar::Vec::<u64>::new();
    let mut mutex = Mutex::new(Vec::<u64>::new());
    let mut vmem = vmem::ConcurrentVec::<u64>::new();
    for (name, threads) in [("cvec_push_2x1M_reused", 2), ("cvec_push_1x2M_reused", 1)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(TOTAL));
        group.bench_function("boxcar", |b| b.iter_custom(|iters| reused(iters, threads, &mut boxcar)));
        group.bench_function("mutex_vec", |b| b.iter_custom(|iters| reused(iters, threads, &mut mutex)));
        group.bench_function("vmem", |b| b.iter_custom(|iters| reused(iters, threads, &mut vmem)));
        group.finish();
    }

    // The vectors are full from the last push iteration.
    let mut group = c.benchmark_group("cvec_get_2M");
    group.throughput(Throughput::Elements(TOTAL));
    group.bench_function("boxcar", |b| b.iter(|| get_all(&boxcar)));
    group.bench_function("mutex_vec", |b| b.iter(|| get_all(&mutex)));
    group.bench_function("vmem", |b| b.iter(|| get_all(&vmem)));
    group.finish();
}

/// The interleaved rounds: in each, every variant (in a rotating order) runs one untimed
/// warm-up iteration and then one timed iteration, so that all variants see the machine in
/// the same state. Prints, per scenario, the median time of each variant and the median
/// (min..max) over rounds of its time divided by vmem's time in the same round.
fn interleaved(rounds: usize) {
    type Run<'a> = Box<dyn FnMut() -> Duration + 'a>;
    let mut boxcar = boxcar::Vec::<u64>::new();
    let mut mutex = Mutex::new(Vec::<u64>::new());
    let mut vmem = vmem::ConcurrentVec::<u64>::new();
    // Fill once so that the `get` scenario has data, and each reused vector its memory.
    reused(1, 1, &mut boxcar);
    reused(1, 1, &mut mutex);
    reused(1, 1, &mut vmem);
    let get_time = |f: &dyn Fn() -> u64| {
        let start = Instant::now();
        black_box(f());
        start.elapsed()
    };
    println!("\n## Interleaved rounds ({rounds} per scenario; ratio = variant time / vmem time in the same round)\n");
    println!("| scenario | variant | median | ratio vs vmem: median (min..max) |");
    println!("|---|---|---|---|");
    for scenario in ["push_2x1M_fresh", "push_2x1M_reused", "push_1x2M_reused", "get_2M"] {
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            for k in 0..3 {
                let variant = (round + k) % 3;
                let mut run: Run<'_> = match (scenario, variant) {
                    ("push_2x1M_fresh", 0) => Box::new(|| fresh(1, 2, boxcar::Vec::<u64>::new)),
                    ("push_2x1M_fresh", 1) => Box::new(|| fresh(1, 2, || Mutex::new(Vec::<u64>::new()))),
                    ("push_2x1M_fresh", _) => Box::new(|| fresh(1, 2, vmem::ConcurrentVec::<u64>::new)),
                    ("push_2x1M_reused", 0) => Box::new(|| reused(1, 2, &mut boxcar)),
                    ("push_2x1M_reused", 1) => Box::new(|| reused(1, 2, &mut mutex)),
                    ("push_2x1M_reused", _) => Box::new(|| reused(1, 2, &mut vmem)),
                    ("push_1x2M_reused", 0) => Box::new(|| reused(1, 1, &mut boxcar)),
                    ("push_1x2M_reused", 1) => Box::new(|| reused(1, 1, &mut mutex)),
                    ("push_1x2M_reused", _) => Box::new(|| reused(1, 1, &mut vmem)),
                    (_, 0) => Box::new(|| get_time(&|| get_all(&boxcar))),
                    (_, 1) => Box::new(|| get_time(&|| get_all(&mutex))),
                    (_, _) => Box::new(|| get_time(&|| get_all(&vmem))),
                };
                run();
                times[variant].push(run().as_secs_f64());
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            v[v.len() / 2]
        };
        for (variant, name) in [(0, "boxcar"), (1, "mutex_vec"), (2, "vmem")] {
            let mut ratios: Vec<f64> = times[variant].iter().zip(&times[2]).map(|(t, v)| t / v).collect();
            let (min, max) = ratios.iter().fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
            let time = median(&mut times[variant].clone()) * 1e3;
            let ratio = median(&mut ratios);
            println!("| {scenario} | {name} | {time:.2} ms | {ratio:.2}x ({min:.2}..{max:.2}) |");
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = concurrent_vec
}

fn main() {
    benches();
    // Only when benchmarking (`cargo bench`), not when run as a test.
    if std::env::args().any(|a| a == "--bench") {
        interleaved(15);
    }
    Criterion::default().configure_from_args().final_summary();
}
