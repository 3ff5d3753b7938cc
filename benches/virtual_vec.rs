//! `VirtualVec` against `std::vec::Vec` (no `with_capacity`), in the same run: pushing 100
//! million `u64`, and 1 million. Ratios: `scripts/bench_ratios.py push --baseline Vec`.
//! `push_*` start from an empty vector each iteration (fresh memory for both: see
//! `fresh_memory_for_vec`); `push_1M_u64_refill` clears and refills one vector.
//! Before the timed groups, each variant runs once in a fresh child process and the bench
//! prints its peak RSS (`VmHWM`).

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use vmem::VirtualVec;

const CHILD_ENV: &str = "VMEM_BENCH_PEAK_RSS";

fn push_vec(n: u64) -> usize {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(black_box(i));
    }
    black_box(v.as_ptr());
    v.len()
}

fn push_virtual_vec(n: u64) -> usize {
    let mut v = VirtualVec::new();
    for i in 0..n {
        v.push(black_box(i));
    }
    black_box(v.as_ptr());
    v.len()
}

/// Makes glibc serve every allocation of 128 KiB or more with a fresh `mmap` and return it
/// on free, as it does the first time in a process. Without this, glibc raises its mmap
/// threshold after the first free and serves later `Vec`s from heap pages it kept resident,
/// so `Vec` would skip the page faults that `VirtualVec` (fresh address space each time)
/// pays: a comparison of glibc's cache, not of the vectors.
fn fresh_memory_for_vec() {
    #[cfg(target_os = "linux")]
    // SAFETY: `mallopt` only changes allocator tuning; called before any other thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 10);
    }
}

fn refills(c: &mut Criterion) {
    // Steady state: one vector, cleared and refilled with 1M elements per iteration; both
    // keep their memory (Vec its capacity, VirtualVec its committed pages).
    let mut group = c.benchmark_group("push_1M_u64_refill");
    let mut vec = Vec::new();
    group.bench_function("Vec", |b| {
        b.iter(|| {
            vec.clear();
            for i in 0..1_000_000u64 {
                vec.push(black_box(i));
            }
            black_box(vec.as_ptr());
        })
    });
    let mut vvec = VirtualVec::new();
    group.bench_function("VirtualVec", |b| {
        b.iter(|| {
            vvec.clear();
            for i in 0..1_000_000u64 {
                vvec.push(black_box(i));
            }
            black_box(vvec.as_ptr());
        })
    });
    group.finish();
}

fn pushes(c: &mut Criterion) {
    for (name, n, samples) in [("push_100M_u64", 100_000_000u64, 10), ("push_1M_u64", 1_000_000, 50)] {
        let mut group = c.benchmark_group(name);
        group.sample_size(samples).warm_up_time(Duration::from_secs(1));
        if n > 1_000_000 {
            group.measurement_time(Duration::from_secs(20));
        }
        group.bench_function("Vec", |b| b.iter(|| push_vec(n)));
        group.bench_function("VirtualVec", |b| b.iter(|| push_virtual_vec(n)));
        group.finish();
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Runs one variant in a fresh process and returns its peak RSS in MiB.
fn peak_in_child(variant: &str) -> f64 {
    let out = Command::new(std::env::current_exe().unwrap()).env(CHILD_ENV, variant).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().unwrap_or(f64::NAN) / 1024.0
}

criterion_group!(benches, pushes, refills);

fn main() {
    fresh_memory_for_vec();
    if let Ok(variant) = std::env::var(CHILD_ENV) {
        let base = peak_rss_kib();
        match variant.as_str() {
            "Vec" => push_vec(100_000_000),
            _ => push_virtual_vec(100_000_000),
        };
        println!("{}", peak_rss_kib() - base);
        return;
    }
    let (vec, vvec) = (peak_in_child("Vec"), peak_in_child("VirtualVec"));
    println!(
        "peak RSS growth pushing 100M u64 (800 MB), fresh process each: Vec {vec:.0} MiB, VirtualVec {vvec:.0} MiB"
    );
    benches();
    Criterion::default().configure_from_args().final_summary();
}
