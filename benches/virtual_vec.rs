//! `VirtualVec::push` against `Vec::push`, both starting from `new()` (no `with_capacity`),
//! on one machine in one run.
//!
//! Two kinds of measurement:
//!
//! 1. Criterion groups (ratios: `scripts/bench_ratios.py virtual_vec_push`):
//!    - `virtual_vec_push_100M`: 100 million `u64` into a fresh vector per iteration. Both
//!      buffers are fresh `mmap`s every time (glibc maps anything above 32 MiB directly), so
//!      both pay every page fault.
//!    - `virtual_vec_push_1M`: 1 million `u64` into a fresh vector per iteration. Caveat: glibc
//!      keeps a freed 8 MiB buffer in its heap, so from the second iteration on `Vec` reuses
//!      memory that is already faulted in, while each `VirtualVec` maps fresh pages. This is
//!      what a loop that builds and drops vectors sees, not a like-for-like growth cost.
//!    - `virtual_vec_push_1M_kept`: the same, but every vector of a sample is kept until the
//!      sample ends, so no iteration reuses memory an earlier one freed (glibc still reuses
//!      the buffers a growing `Vec` gives up, and the batch freed by the previous sample).
//!    - `virtual_vec_push_1M_reused`: one vector of each kind, cleared before each iteration,
//!      so no growth, no system call and no page fault: the push hot path alone.
//!
//!    Each iteration builds the vector inside the timed region and drops it outside
//!    (`iter_custom`); criterion warms each variant up right before measuring it.
//!
//! 2. Fresh-process rounds (printed after criterion): each measurement runs in a new child
//!    process (this binary re-executed with `VMEM_BENCH_VIRTUAL_VEC_CHILD` set), so neither
//!    variant can reuse memory a previous run faulted in. The child first touches as much
//!    fresh memory as the run will need and unmaps it (this VM hands idle memory back to its
//!    host, and first touch after that is several times slower), then resets its peak RSS
//!    (`vmem::reset_peak_resident`), times one fill and reads the peak (`vmem::process_memory`). The variants
//!    alternate (ABBA order) and the medians are compared. `VMEM_BENCH_ROUNDS` sets the
//!    number of rounds; `VMEM_BENCH_VERBOSE` prints every round's time. To run only these:
//!    `cargo bench --bench virtual_vec -- rounds_only` (a filter that matches no group).

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use vmem::VirtualVec;

const CHILD_ENV: &str = "VMEM_BENCH_VIRTUAL_VEC_CHILD";
const MIB: f64 = (1 << 20) as f64;

#[inline(never)]
fn fill_vec(n: u64) -> Vec<u64> {
    let mut v = Vec::new();
    for i in 0..n {
        v.push(i);
    }
    v
}

#[inline(never)]
fn fill_virtual_vec(n: u64) -> VirtualVec<u64> {
    let mut v = VirtualVec::new();
    for i in 0..n {
        v.push(i);
    }
    v
}

#[inline(never)]
fn refill_vec(v: &mut Vec<u64>, n: u64) {
    v.clear();
    for i in 0..n {
        v.push(i);
    }
}

#[inline(never)]
fn refill_virtual_vec(v: &mut VirtualVec<u64>, n: u64) {
    v.clear();
    for i in 0..n {
        v.push(i);
    }
}

/// Times `fill` for `iters` fresh vectors, dropping each outside the timed region.
fn time_fresh<V>(iters: u64, n: u64, fill: fn(u64) -> V) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let v = black_box(fill(black_box(n)));
        total += start.elapsed();
        drop(v);
    }
    total
}

/// Times `fill` for `iters` fresh vectors and keeps them all until the end, so that no
/// iteration can reuse memory an earlier one freed.
fn time_kept<V>(iters: u64, n: u64, fill: fn(u64) -> V) -> Duration {
    let mut kept = Vec::with_capacity(iters as usize);
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let v = black_box(fill(black_box(n)));
        total += start.elapsed();
        kept.push(v);
    }
    drop(kept);
    total
}

fn push_kept(c: &mut Criterion, n: u64) {
    let mut group = c.benchmark_group("virtual_vec_push_1M_kept");
    group.bench_function("Vec", |b| b.iter_custom(|iters| time_kept(iters, n, fill_vec)));
    group.bench_function("VirtualVec", |b| b.iter_custom(|iters| time_kept(iters, n, fill_virtual_vec)));
    group.finish();
}

fn push_fresh(c: &mut Criterion, name: &str, n: u64) {
    let mut group = c.benchmark_group(name);
    if n >= 10_000_000 {
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(10));
    }
    group.bench_function("Vec", |b| b.iter_custom(|iters| time_fresh(iters, n, fill_vec)));
    group.bench_function("VirtualVec", |b| b.iter_custom(|iters| time_fresh(iters, n, fill_virtual_vec)));
    group.finish();
}

fn push_reused(c: &mut Criterion, n: u64) {
    let mut group = c.benchmark_group("virtual_vec_push_1M_reused");
    let mut vec = fill_vec(n);
    group.bench_function("Vec", |b| b.iter(|| refill_vec(black_box(&mut vec), black_box(n))));
    drop(vec);
    let mut virtual_vec = fill_virtual_vec(n);
    group.bench_function("VirtualVec", |b| b.iter(|| refill_virtual_vec(black_box(&mut virtual_vec), black_box(n))));
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Fresh-process rounds
// ---------------------------------------------------------------------------------------

/// Touches `bytes` of fresh memory and unmaps it, so that the host backs the guest pages
/// the measured run will get. Plain `mmap`/`munmap` (through vmem's raw layer) for both
/// variants, so neither gets memory from the other's allocator.
fn warm_memory(bytes: usize) {
    let r = vmem::Reservation::new(bytes).expect("reserve");
    r.commit(0, r.len()).expect("commit");
    let page = vmem::page_size();
    for offset in (0..r.len()).step_by(page) {
        // SAFETY: the whole reservation is committed and read-write.
        unsafe { r.as_ptr().add(offset).write_volatile(1) };
    }
}

/// Runs in the child: warm up, reset the peak, time one fill, report.
fn child(spec: &str) {
    let (variant, n) = spec.split_once(':').expect("variant:n");
    let n: u64 = n.parse().expect("n");
    // The capacity both variants end up with, rounded up to a power of two, in bytes.
    let bytes = (n.next_power_of_two() * 8) as usize;
    warm_memory(bytes);
    // Warm the code path with a run too small to leave memory behind.
    match variant {
        "Vec" => drop(black_box(fill_vec(1000))),
        _ => drop(black_box(fill_virtual_vec(1000))),
    }
    let peak_reset = vmem::reset_peak_resident().is_ok();
    let rss_before = vmem::resident_bytes().ok().map(|b| b as u64);
    let elapsed = match variant {
        "Vec" => time_fresh(1, n, fill_vec),
        "VirtualVec" => time_fresh(1, n, fill_virtual_vec),
        other => panic!("unknown variant {other}"),
    };
    let hwm = vmem::process_memory().ok().and_then(|m| m.peak_resident_bytes).map(|b| b as u64);
    let peak = match (peak_reset, hwm, rss_before) {
        (true, Some(hwm), Some(before)) => hwm.saturating_sub(before).to_string(),
        _ => "-".to_string(),
    };
    println!("ns={} peak={peak}", elapsed.as_nanos());
}

struct Sample {
    nanos: f64,
    peak_bytes: Option<f64>,
}

fn run_child(variant: &str, n: u64) -> Sample {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe).env(CHILD_ENV, format!("{variant}:{n}")).output().expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child {variant}:{n} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    let field = |name: &str| {
        stdout.split_whitespace().find_map(|w| w.strip_prefix(name)?.strip_prefix('=')).map(str::to_string)
    };
    Sample {
        nanos: field("ns").and_then(|s| s.parse().ok()).expect("ns"),
        peak_bytes: field("peak").and_then(|s| s.parse().ok()),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 0 {
        (xs[mid - 1] + xs[mid]) / 2.0
    } else {
        xs[mid]
    }
}

fn fresh_process_rounds(sizes: &[(&str, u64, usize)]) {
    println!();
    println!("Fresh-process rounds: one fill per child process, variants alternating (ABBA), medians.");
    println!("speed ratio = Vec median time / VirtualVec median time (above 1.0: VirtualVec faster)");
    println!("peak RSS ratio = VirtualVec median peak / Vec median peak (below 1.0: VirtualVec smaller)");
    println!();
    println!("| fill (u64) | rounds | speed ratio | range of per-round ratios | peak RSS Vec | peak RSS VirtualVec | peak RSS ratio |");
    println!("|---|---|---|---|---|---|---|");
    for &(label, n, default_rounds) in sizes {
        let rounds = std::env::var("VMEM_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(default_rounds);
        let (mut vec, mut virt) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            if round % 2 == 0 {
                vec.push(run_child("Vec", n));
                virt.push(run_child("VirtualVec", n));
            } else {
                virt.push(run_child("VirtualVec", n));
                vec.push(run_child("Vec", n));
            }
        }
        if std::env::var_os("VMEM_BENCH_VERBOSE").is_some() {
            let ms = |samples: &[Sample]| samples.iter().map(|s| format!("{:.1}", s.nanos / 1e6)).collect::<Vec<_>>();
            eprintln!("{label} Vec ms: {:?}", ms(&vec));
            eprintln!("{label} VirtualVec ms: {:?}", ms(&virt));
        }
        let per_round: Vec<f64> = vec.iter().zip(&virt).map(|(a, b)| a.nanos / b.nanos).collect();
        let lo = per_round.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = per_round.iter().copied().fold(0.0, f64::max);
        let speed = median(vec.iter().map(|s| s.nanos).collect()) / median(virt.iter().map(|s| s.nanos).collect());
        let peaks = |samples: &[Sample]| -> Option<f64> {
            samples.iter().map(|s| s.peak_bytes).collect::<Option<Vec<f64>>>().map(median)
        };
        let (peak_vec, peak_virt) = (peaks(&vec), peaks(&virt));
        let mib = |p: Option<f64>| p.map_or("-".to_string(), |p| format!("{:.1} MiB", p / MIB));
        let ratio = match (peak_vec, peak_virt) {
            (Some(a), Some(b)) if a > 0.0 => format!("{:.3}", b / a),
            _ => "-".to_string(),
        };
        println!(
            "| {label} | {rounds} | {speed:.2}x | {lo:.2}x to {hi:.2}x | {} | {} | {ratio} |",
            mib(peak_vec),
            mib(peak_virt)
        );
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child(&spec);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then everything runs
    // once, small, as a smoke test.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    push_fresh(&mut c, "virtual_vec_push_1M", 1_000_000);
    push_kept(&mut c, 1_000_000);
    push_reused(&mut c, 1_000_000);
    push_fresh(&mut c, "virtual_vec_push_100M", if benchmarking { 100_000_000 } else { 1_000_000 });
    c.final_summary();
    if benchmarking {
        fresh_process_rounds(&[("1M", 1_000_000, 31), ("100M", 100_000_000, 15)]);
    } else {
        fresh_process_rounds(&[("1M", 1_000_000, 1)]);
    }
}
