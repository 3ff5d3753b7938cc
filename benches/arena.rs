//! `Arena` and `SyncArena` against `bumpalo`, in the same run (with `alloc_with` and the
//! allocation limit of issue 16). Ratios:
//! `scripts/bench_ratios.py arena`. Before the timed groups, the bench prints the RSS each
//! arena leaves behind after a reset.

use std::alloc::Layout;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bumpalo::Bump;
use criterion::{criterion_group, Criterion};
use vmem::{Arena, SyncArena};

const SMALL: usize = 10_000_000;
const MIXED: usize = 1_000_000;
/// Bytes allocated per round of the reset loop.
const ROUND_BYTES: usize = 4 << 20;
const PER_THREAD: usize = 1_000_000;

/// Sizes 8..=256 from a fixed linear congruential sequence, the same for every variant.
fn mixed_sizes() -> Vec<usize> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..MIXED)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            8 + (state >> 33) as usize % 249
        })
        .collect()
}

fn small_allocations(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena_16B_x10M");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    // A fresh arena per iteration: creating it, 10 M allocations (160 MB, page faults
    // included) and dropping it.
    group.bench_function("bumpalo", |b| {
        b.iter(|| {
            let bump = Bump::new();
            for i in 0..SMALL as u64 {
                black_box(bump.alloc([i, i]));
            }
        })
    });
    group.bench_function("vmem", |b| {
        b.iter(|| {
            let arena = Arena::new();
            for i in 0..SMALL as u64 {
                black_box(arena.alloc([i, i]));
            }
        })
    });
    group.finish();
}

fn mixed_allocations(c: &mut Criterion) {
    let sizes = mixed_sizes();
    let mut group = c.benchmark_group("arena_mixed_8_256B_x1M");
    group.sample_size(20);
    group.bench_function("bumpalo", |b| {
        b.iter(|| {
            let bump = Bump::new();
            for &size in &sizes {
                let p = bump.alloc_layout(Layout::from_size_align(size, 8).unwrap());
                // SAFETY: `p` points to at least 8 fresh bytes.
                unsafe { p.as_ptr().write(size as u8) };
            }
            black_box(&bump);
        })
    });
    group.bench_function("vmem", |b| {
        b.iter(|| {
            let arena = Arena::new();
            for &size in &sizes {
                let p = arena.alloc_layout(Layout::from_size_align(size, 8).unwrap());
                // SAFETY: `p` points to at least 8 fresh bytes.
                unsafe { p.as_ptr().write(size as u8) };
            }
            black_box(&arena);
        })
    });
    group.finish();
}

fn fill_round(alloc: impl Fn(u64) -> *mut [u64; 2]) {
    for i in 0..(ROUND_BYTES / 16) as u64 {
        black_box(alloc(i));
    }
}

fn reset_loops(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena_reset_loop_4MiB");
    // One long-lived arena per variant; each iteration allocates 4 MiB in 16-byte pieces
    // and resets. bumpalo keeps its largest chunk across resets; `vmem` keeps what
    // `retain_bytes` says (`vmem_default`: `Arena::new()`, which keeps what recent rounds used).
    {
        let mut bump = Bump::new();
        group.bench_function("bumpalo", |b| {
            b.iter(|| {
                fill_round(|i| bump.alloc([i, i]));
                bump.reset();
            })
        });
    }
    {
        let mut arena = Arena::builder().retain_bytes(ROUND_BYTES).build().unwrap();
        group.bench_function("vmem_retain_4MiB", |b| {
            b.iter(|| {
                fill_round(|i| arena.alloc([i, i]));
                arena.reset();
            })
        });
    }
    {
        let mut arena = Arena::new();
        group.bench_function("vmem_default", |b| {
            b.iter(|| {
                fill_round(|i| arena.alloc([i, i]));
                arena.reset();
            })
        });
    }
    group.finish();
}

fn two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("arena_sync_2_threads_16B_x1M_each");
    group.sample_size(20);
    group.bench_function("mutex_bumpalo", |b| {
        b.iter(|| {
            let bump = Mutex::new(Bump::new());
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for i in 0..PER_THREAD as u64 {
                            let guard = bump.lock().unwrap();
                            black_box(guard.alloc([i, i]) as *mut _);
                        }
                    });
                }
            });
        })
    });
    group.bench_function("vmem_sync_arena", |b| {
        b.iter(|| {
            let arena = SyncArena::new();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for i in 0..PER_THREAD as u64 {
                            black_box(arena.alloc([i, i]));
                        }
                    });
                }
            });
        })
    });
    group.finish();
}

/// Values built in place: 1,000 values of 4 KiB per round (4 MiB, kept across resets by
/// both), through `alloc_with`, which lets the optimizer write each value straight into the
/// arena instead of building it on the stack and copying it.
fn alloc_with_4k(c: &mut Criterion) {
    const VALUES: usize = 1000;
    let mut group = c.benchmark_group("arena_alloc_with_4KiB_x1000");
    {
        let mut bump = Bump::new();
        group.bench_function("bumpalo", |b| {
            b.iter(|| {
                for i in 0..VALUES as u64 {
                    black_box(bump.alloc_with(|| [i; 512]));
                }
                bump.reset();
            })
        });
    }
    {
        let mut arena = Arena::builder().retain_bytes(VALUES * 4096).build().unwrap();
        group.bench_function("vmem", |b| {
            b.iter(|| {
                for i in 0..VALUES as u64 {
                    black_box(arena.alloc_with(|| [i; 512]));
                }
                arena.reset();
            })
        });
    }
    {
        // The same values moved in by `alloc` (built, then copied), for comparison.
        let mut arena = Arena::builder().retain_bytes(VALUES * 4096).build().unwrap();
        group.bench_function("vmem_alloc_by_value", |b| {
            b.iter(|| {
                for i in 0..VALUES as u64 {
                    black_box(arena.alloc(black_box([i; 512])));
                }
                arena.reset();
            })
        });
    }
    group.finish();
}

/// The reset loop of 16-byte allocations (1 MiB per round) under an allocation limit that
/// is never reached: `bumpalo` checks its limit only when it needs a new chunk, `vmem`'s is
/// folded into the end its fast path compares against; neither should pay for it.
fn limited_reset_loop(c: &mut Criterion) {
    const BYTES: usize = 1 << 20;
    let mut group = c.benchmark_group("arena_limit_reset_loop_1MiB");
    {
        let mut bump = Bump::new();
        bump.set_allocation_limit(Some(64 << 20));
        group.bench_function("bumpalo_limited", |b| {
            b.iter(|| {
                for i in 0..(BYTES / 16) as u64 {
                    black_box(bump.alloc([i, i]));
                }
                bump.reset();
            })
        });
    }
    for (name, limit) in [("vmem_limited", Some(64 << 20)), ("vmem_unlimited", None)] {
        let mut arena = Arena::builder().retain_bytes(BYTES).build().unwrap();
        arena.set_allocation_limit(limit);
        group.bench_function(name, |b| {
            b.iter(|| {
                for i in 0..(BYTES / 16) as u64 {
                    black_box(arena.alloc([i, i]));
                }
                arena.reset();
            })
        });
    }
    group.finish();
}

/// Prints the RSS growth each arena leaves behind after 64 MiB of allocations and a reset,
/// and how long one such round took (as a ratio, bumpalo over vmem).
fn rss_after_reset() {
    const BYTES: usize = 64 << 20;
    let rss = || vmem::resident_bytes().unwrap() as f64 / (1 << 20) as f64;
    let fill_bump = |bump: &Bump| {
        for i in 0..(BYTES / 16) as u64 {
            black_box(bump.alloc([i, i]));
        }
    };
    let fill_arena = |arena: &Arena| {
        for i in 0..(BYTES / 16) as u64 {
            black_box(arena.alloc([i, i]));
        }
    };
    let start = rss();
    let mut bump = Bump::new();
    let t = Instant::now();
    fill_bump(&bump);
    let bump_time = t.elapsed();
    let bump_full = rss() - start;
    bump.reset();
    let bump_rss = rss() - start;
    drop(bump);
    let start = rss();
    let mut arena = Arena::new();
    let t = Instant::now();
    fill_arena(&arena);
    let arena_time = t.elapsed();
    let arena_full = rss() - start;
    arena.reset();
    let arena_rss = rss() - start;
    println!(
        "RSS growth after 64 MiB of 16-byte allocations: bumpalo {bump_full:.1} MiB, vmem {arena_full:.1} MiB; \
         after reset: bumpalo {bump_rss:.1} MiB, vmem {arena_rss:.1} MiB (fill ratio bumpalo/vmem {:.2})",
        bump_time.as_secs_f64() / arena_time.as_secs_f64()
    );
}

criterion_group!(
    benches,
    small_allocations,
    mixed_allocations,
    reset_loops,
    two_threads,
    alloc_with_4k,
    limited_reset_loop
);

fn main() {
    rss_after_reset();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
