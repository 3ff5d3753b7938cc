//! `Pool` against `slab::Slab` and `slotmap::SlotMap`, same run. Ratios:
//! `scripts/bench_ratios.py pool --baseline slab`.
//!
//! - `pool_fresh_*`: a new structure per iteration: insert 100k values, get each, remove
//!   each, insert 100k again. Fresh memory for all three (glibc's mmap threshold is pinned
//!   at 128 KiB, as it is the first time in a process; otherwise glibc serves the peers
//!   from heap pages it kept resident and they skip the page faults `Pool` pays).
//! - `pool_churn_100k`: one long-lived structure of 100k values; per iteration remove
//!   every value and insert it again (handles change).
//! - `pool_get_100k`: one long-lived structure; get every value.

use std::hint::black_box;

use criterion::{criterion_group, Criterion};

const N: u64 = 100_000;

fn pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_fresh_insert_get_remove_reinsert_100k");
    group.bench_function("slab", |b| {
        b.iter(|| {
            let mut slab = slab::Slab::new();
            let keys: Vec<usize> = (0..N).map(|i| slab.insert(i)).collect();
            let sum: u64 = keys.iter().map(|&k| slab[k]).sum();
            for &k in &keys {
                black_box(slab.remove(k));
            }
            for i in 0..N {
                black_box(slab.insert(i));
            }
            black_box(sum)
        })
    });
    group.bench_function("slotmap", |b| {
        b.iter(|| {
            let mut map = slotmap::SlotMap::new();
            let keys: Vec<slotmap::DefaultKey> = (0..N).map(|i| map.insert(i)).collect();
            let sum: u64 = keys.iter().map(|&k| map[k]).sum();
            for &k in &keys {
                black_box(map.remove(k));
            }
            for i in 0..N {
                black_box(map.insert(i));
            }
            black_box(sum)
        })
    });
    group.bench_function("vmem", |b| {
        b.iter(|| {
            let mut pool = vmem::Pool::new();
            let keys: Vec<vmem::Handle> = (0..N).map(|i| pool.insert(i)).collect();
            let sum: u64 = keys.iter().map(|&k| pool[k]).sum();
            for &k in &keys {
                black_box(pool.remove(k));
            }
            for i in 0..N {
                black_box(pool.insert(i));
            }
            black_box(sum)
        })
    });
    group.finish();

    // Steady state: a long-lived pool, get-heavy.
    let mut group = c.benchmark_group("pool_get_100k");
    let mut slab = slab::Slab::new();
    let slab_keys: Vec<usize> = (0..N).map(|i| slab.insert(i)).collect();
    group.bench_function("slab", |b| b.iter(|| slab_keys.iter().map(|&k| slab[black_box(k)]).sum::<u64>()));
    let mut map = slotmap::SlotMap::new();
    let map_keys: Vec<slotmap::DefaultKey> = (0..N).map(|i| map.insert(i)).collect();
    group.bench_function("slotmap", |b| b.iter(|| map_keys.iter().map(|&k| map[black_box(k)]).sum::<u64>()));
    let mut pool = vmem::Pool::new();
    let pool_keys: Vec<vmem::Handle> = (0..N).map(|i| pool.insert(i)).collect();
    group.bench_function("vmem", |b| b.iter(|| pool_keys.iter().map(|&k| pool[black_box(k)]).sum::<u64>()));
    group.finish();
}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_churn_100k");
    let mut slab = slab::Slab::new();
    let mut slab_keys: Vec<usize> = (0..N).map(|i| slab.insert(i)).collect();
    group.bench_function("slab", |b| {
        b.iter(|| {
            for k in slab_keys.iter_mut() {
                let v = slab.remove(*k);
                *k = slab.insert(black_box(v));
            }
        })
    });
    let mut map = slotmap::SlotMap::new();
    let mut map_keys: Vec<slotmap::DefaultKey> = (0..N).map(|i| map.insert(i)).collect();
    group.bench_function("slotmap", |b| {
        b.iter(|| {
            for k in map_keys.iter_mut() {
                let v = map.remove(*k).unwrap();
                *k = map.insert(black_box(v));
            }
        })
    });
    let mut pool = vmem::Pool::new();
    let mut pool_keys: Vec<vmem::Handle> = (0..N).map(|i| pool.insert(i)).collect();
    group.bench_function("vmem", |b| {
        b.iter(|| {
            for k in pool_keys.iter_mut() {
                let v = pool.remove(*k).unwrap();
                *k = pool.insert(black_box(v));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, pool, churn);

fn main() {
    #[cfg(target_os = "linux")]
    // SAFETY: `mallopt` only changes allocator tuning; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
}
