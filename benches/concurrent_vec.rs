//! `ConcurrentVec` against `boxcar::Vec` and `Mutex<Vec>`, same run: two threads push one
//! million `u64` each into one fresh vector. Ratios:
//! `scripts/bench_ratios.py concurrent --baseline boxcar`.

use std::hint::black_box;
use std::sync::Mutex;

use criterion::{criterion_group, criterion_main, Criterion};

const PER_THREAD: u64 = 1_000_000;

fn two_threads(push: impl Fn(u64) + Sync) {
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let push = &push;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    push(t * PER_THREAD + i);
                }
            });
        }
    });
}

fn concurrent(c: &mut Criterion) {
    let mut group = c.benchmark_group("concurrent_push_2_threads_1M_each");
    group.sample_size(20);
    group.bench_function("boxcar", |b| {
        b.iter(|| {
            let v = boxcar::Vec::new();
            two_threads(|x| {
                black_box(v.push(x));
            });
            let n = v.count();
            black_box(n)
        })
    });
    group.bench_function("mutex_vec", |b| {
        b.iter(|| {
            let v = Mutex::new(Vec::new());
            two_threads(|x| v.lock().unwrap().push(x));
            let n = v.lock().unwrap().len();
            black_box(n)
        })
    });
    group.bench_function("vmem", |b| {
        b.iter(|| {
            let v = vmem::ConcurrentVec::new();
            two_threads(|x| {
                black_box(v.push(x));
            });
            black_box(v.len())
        })
    });
    group.finish();
}

criterion_group!(benches, concurrent);
criterion_main!(benches);
