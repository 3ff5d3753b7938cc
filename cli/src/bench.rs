//! `vmem bench`: head-to-head comparisons in one process, interleaved.
//!
//! Each round runs every comparison; inside a comparison the two sides alternate which goes
//! first, and each is run once untimed right before it is timed, so both see a warm cache
//! and memory the OS has just handed out (this matters on VMs that reclaim idle memory).
//! The ratio reported is the peer's median time over vmem's median time (above 1: vmem is
//! faster), so that it agrees with the two time columns. Next to it is its spread: the lowest
//! and highest peer time / vmem time within one round. A comparison whose spread reaches both
//! sides of 1.0 is marked "within noise": some rounds went one way, some the other.

use crate::output::outln;
use std::collections::VecDeque;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::format::duration_ns;

/// How big each workload is.
#[derive(Clone, Copy)]
struct Sizes {
    arena_allocs: usize,
    vec_pushes: usize,
    pool_values: usize,
    ring_bytes: usize,
    /// Cycles of the raw-system-call comparison, which exists on Unix only.
    #[cfg_attr(not(unix), allow(dead_code))]
    raw_cycles: usize,
}

const FULL: Sizes = Sizes {
    arena_allocs: 2_000_000,
    vec_pushes: 16 << 20,
    pool_values: 100_000,
    ring_bytes: 64 << 20,
    raw_cycles: 2000,
};
// The vectors grow past 32 MiB even in a quick run: below that, glibc serves `Vec` from a
// heap that keeps the memory of the previous run faulted in (its dynamic mmap threshold
// tops out at 32 MiB), while `VirtualVec` maps fresh pages every time.
const QUICK: Sizes =
    Sizes { arena_allocs: 200_000, vec_pushes: 8 << 20, pool_values: 20_000, ring_bytes: 4 << 20, raw_cycles: 200 };

/// One workload, run by vmem and by a peer.
struct Comparison {
    name: String,
    /// A short name for charts: "arena vs bumpalo".
    label: &'static str,
    peer: &'static str,
    vmem: Box<dyn FnMut() -> anyhow::Result<Duration>>,
    other: Box<dyn FnMut() -> anyhow::Result<Duration>>,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub name: String,
    pub label: String,
    pub peer: String,
    pub vmem_median_ns: f64,
    pub peer_median_ns: f64,
    /// `peer_median_ns / vmem_median_ns` (above 1: vmem is faster).
    pub ratio: f64,
    /// The lowest and highest peer time / vmem time within one round.
    pub ratio_min: f64,
    pub ratio_max: f64,
    /// Whether the spread reaches both sides of 1.0.
    pub within_noise: bool,
    pub vmem_ns: Vec<f64>,
    pub peer_ns: Vec<f64>,
}

impl Outcome {
    /// The figures from each round's times.
    fn new(name: String, label: &str, peer: &str, vmem_ns: Vec<f64>, peer_ns: Vec<f64>) -> Outcome {
        let ratios: Vec<f64> = peer_ns.iter().zip(&vmem_ns).map(|(p, v)| p / v).collect();
        let (vmem_median_ns, peer_median_ns) = (median(&vmem_ns), median(&peer_ns));
        let ratio_min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let ratio_max = ratios.iter().copied().fold(0.0, f64::max);
        Outcome {
            name,
            label: label.to_string(),
            peer: peer.to_string(),
            vmem_median_ns,
            peer_median_ns,
            ratio: peer_median_ns / vmem_median_ns,
            ratio_min,
            ratio_max,
            within_noise: ratio_min <= 1.0 && ratio_max >= 1.0,
            vmem_ns,
            peer_ns,
        }
    }

    /// "vmem faster", "peer faster" or "within noise".
    pub fn verdict(&self) -> &'static str {
        if self.within_noise {
            "within noise"
        } else if self.ratio > 1.0 {
            "vmem faster"
        } else {
            "peer faster"
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub rounds: usize,
    pub quick: bool,
    pub results: Vec<Outcome>,
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn vmem_err(what: &'static str) -> impl Fn(vmem::Error) -> anyhow::Error {
    move |e| anyhow::anyhow!("{what}: {e}")
}

fn arena(n: usize) -> anyhow::Result<Comparison> {
    // Both keep their memory across rounds, so rounds measure allocation, not page faults.
    let mut arena = vmem::Arena::builder().retain_bytes(n * 16 + (1 << 20)).build().map_err(vmem_err("arena"))?;
    let mut bump = bumpalo::Bump::new();
    Ok(Comparison {
        name: format!("arena: {}k allocations of 16 bytes", n / 1000),
        label: "arena vs bumpalo",
        peer: "bumpalo",
        vmem: Box::new(move || {
            arena.reset();
            let mut failed = None;
            let t = timed(|| {
                for i in 0..n as u64 {
                    match arena.try_alloc([i, i]) {
                        Ok(x) => {
                            black_box(x);
                        }
                        Err((_, e)) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
            });
            failed.map_or(Ok(t), |e| Err(anyhow::anyhow!("arena allocation: {e}")))
        }),
        other: Box::new(move || {
            bump.reset();
            Ok(timed(|| {
                for i in 0..n as u64 {
                    black_box(bump.alloc([i, i]));
                }
            }))
        }),
    })
}

fn vectors(n: usize) -> Comparison {
    Comparison {
        name: format!("push {} MiB of u64 (no with_capacity)", (n * 8) >> 20),
        label: "VirtualVec vs Vec",
        peer: "Vec",
        vmem: Box::new(move || {
            let mut v = vmem::VirtualVec::<u64>::new();
            let mut failed = None;
            let t = timed(|| {
                for i in 0..n as u64 {
                    if let Err((_, e)) = v.try_push(i) {
                        failed = Some(e);
                        break;
                    }
                }
            });
            black_box(&v);
            failed.map_or(Ok(t), |e| Err(anyhow::anyhow!("VirtualVec push: {e}")))
        }),
        other: Box::new(move || {
            let mut v = Vec::<u64>::new();
            let t = timed(|| {
                for i in 0..n as u64 {
                    v.push(i);
                }
            });
            black_box(&v);
            Ok(t)
        }),
    }
}

fn pools(n: usize) -> Comparison {
    let mut pool = vmem::Pool::<u64>::new();
    let mut slab = slab::Slab::<u64>::new();
    let mut handles = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    Comparison {
        name: format!("pool: insert, get, remove {}k", n / 1000),
        label: "Pool vs slab",
        peer: "slab",
        vmem: Box::new(move || {
            pool.clear();
            handles.clear();
            let mut failed = None;
            let t = timed(|| {
                for i in 0..n as u64 {
                    match pool.try_insert(i) {
                        Ok(h) => handles.push(h),
                        Err((_, e)) => {
                            failed = Some(e);
                            return;
                        }
                    }
                }
                let sum: u64 = handles.iter().filter_map(|&h| pool.get(h)).sum();
                black_box(sum);
                for &h in &handles {
                    black_box(pool.remove(h));
                }
            });
            failed.map_or(Ok(t), |e| Err(anyhow::anyhow!("Pool insert: {e}")))
        }),
        other: Box::new(move || {
            slab.clear();
            keys.clear();
            Ok(timed(|| {
                for i in 0..n as u64 {
                    keys.push(slab.insert(i));
                }
                let sum: u64 = keys.iter().filter_map(|&k| slab.get(k)).sum();
                black_box(sum);
                for &k in &keys {
                    black_box(slab.try_remove(k));
                }
            }))
        }),
    }
}

/// Streams `total` bytes through a 64 KiB buffer kept `64 KiB - 1.5 KiB` full, so that
/// reads and writes wrap around its end all the time, in 1536-byte messages. The consumer
/// needs each message as one slice (as a parser, a hash or a `write` system call does) and
/// scans it: the ring buffer hands it `readable()` in place; `VecDeque` must first copy the
/// message out of its two halves.
fn rings(total: usize) -> anyhow::Result<Comparison> {
    use vmem_workloads::stream::{self as workload, Reader};
    const MESSAGE: usize = 1536;
    const CAPACITY: usize = 64 << 10;
    let mut ring = vmem::RingBuffer::with_capacity(CAPACITY).map_err(vmem_err("ring buffer"))?;
    workload::prime_ring(&mut ring, MESSAGE);
    let mut deque: VecDeque<u8> = VecDeque::with_capacity(CAPACITY);
    workload::prime_deque(&mut deque, CAPACITY, MESSAGE);
    let message: Vec<u8> = (0..MESSAGE).map(|i| i as u8).collect();
    let message2 = message.clone();
    let mut out = vec![0u8; MESSAGE];
    let mut out2 = vec![0u8; MESSAGE];
    Ok(Comparison {
        name: format!("stream {} MiB through a 64 KiB ring, one slice per message", total >> 20),
        label: "RingBuffer vs VecDeque",
        peer: "VecDeque",
        vmem: Box::new(move || {
            Ok(timed(|| {
                let mut lines = 0u64;
                for _ in 0..total / MESSAGE {
                    lines += workload::through_ring(&mut ring, black_box(&message), &mut out, Reader::Scan);
                }
                black_box(lines);
            }))
        }),
        other: Box::new(move || {
            Ok(timed(|| {
                let mut lines = 0u64;
                for _ in 0..total / MESSAGE {
                    lines += workload::through_deque(&mut deque, black_box(&message2), &mut out2, Reader::Scan);
                }
                black_box(lines);
            }))
        }),
    })
}

/// Reserve 1 MiB, commit 64 KiB, write to it, decommit, release: through vmem, and through
/// the same system calls made directly.
#[cfg(unix)]
fn raw_calls(cycles: usize) -> Comparison {
    use rustix::mm::{mmap_anonymous, mprotect, munmap, MapFlags, MprotectFlags, ProtFlags};
    const RESERVE: usize = 1 << 20;
    const COMMIT: usize = 64 << 10;
    // FreeBSD and DragonFly have no MAP_NORESERVE.
    #[cfg(not(any(target_os = "freebsd", target_os = "dragonfly")))]
    const NORESERVE: MapFlags = MapFlags::NORESERVE;
    #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
    const NORESERVE: MapFlags = MapFlags::empty();
    Comparison {
        name: format!("raw calls: {cycles} reserve/commit/decommit/release"),
        label: "raw calls vs syscalls",
        peer: "syscalls",
        vmem: Box::new(move || {
            let start = Instant::now();
            for _ in 0..cycles {
                let r = vmem::Reservation::new(RESERVE).map_err(vmem_err("reserve"))?;
                r.commit(0, COMMIT).map_err(vmem_err("commit"))?;
                // SAFETY: the first 64 KiB are committed and read-write.
                unsafe { r.as_ptr().write_volatile(1) };
                r.decommit(0, COMMIT).map_err(vmem_err("decommit"))?;
            }
            Ok(start.elapsed())
        }),
        other: Box::new(move || {
            let start = Instant::now();
            for _ in 0..cycles {
                // SAFETY: a fresh private mapping chosen by the kernel, changed and unmapped
                // only here; the write is to the committed, read-write first page.
                unsafe {
                    let p = mmap_anonymous(
                        std::ptr::null_mut(),
                        RESERVE,
                        ProtFlags::empty(),
                        MapFlags::PRIVATE | NORESERVE,
                    )
                    .context("mmap")?;
                    mprotect(p, COMMIT, MprotectFlags::READ | MprotectFlags::WRITE).context("mprotect")?;
                    p.cast::<u8>().write_volatile(1);
                    mmap_anonymous(p, COMMIT, ProtFlags::empty(), MapFlags::PRIVATE | MapFlags::FIXED | NORESERVE)
                        .context("mmap (decommit)")?;
                    munmap(p, RESERVE).context("munmap")?;
                }
            }
            Ok(start.elapsed())
        }),
    }
}

fn comparisons(sizes: Sizes) -> anyhow::Result<Vec<Comparison>> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut all =
        vec![arena(sizes.arena_allocs)?, vectors(sizes.vec_pushes), pools(sizes.pool_values), rings(sizes.ring_bytes)?];
    #[cfg(unix)]
    all.push(raw_calls(sizes.raw_cycles));
    Ok(all)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

pub fn measure(quick: bool, rounds: usize, show_progress: bool) -> anyhow::Result<Report> {
    anyhow::ensure!(rounds > 0, "--rounds must be at least 1");
    let mut comparisons = comparisons(if quick { QUICK } else { FULL })?;
    let progress = if show_progress {
        ProgressBar::with_draw_target(Some((rounds * comparisons.len()) as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} round {msg} [{bar:30}] {pos}/{len}")
            .map_err(|e| anyhow::anyhow!("progress bar template: {e}"))?
            .progress_chars("=> "),
    );
    let mut times: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); comparisons.len()];
    for round in 0..rounds {
        progress.set_message(format!("{}/{rounds}", round + 1));
        for (c, t) in comparisons.iter_mut().zip(&mut times) {
            let run = |f: &mut Box<dyn FnMut() -> anyhow::Result<Duration>>| -> anyhow::Result<f64> {
                f()?; // warm-up, right before the timed run
                Ok(f()?.as_nanos() as f64)
            };
            let name = c.name.clone();
            if round % 2 == 0 {
                t.0.push(run(&mut c.vmem).with_context(|| format!("{name} (vmem)"))?);
                t.1.push(run(&mut c.other).with_context(|| format!("{name} ({})", c.peer))?);
            } else {
                t.1.push(run(&mut c.other).with_context(|| format!("{name} ({})", c.peer))?);
                t.0.push(run(&mut c.vmem).with_context(|| format!("{name} (vmem)"))?);
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    let results = comparisons
        .iter()
        .zip(times)
        .map(|(c, (vmem_ns, peer_ns))| Outcome::new(c.name.clone(), c.label, c.peer, vmem_ns, peer_ns))
        .collect();
    Ok(Report { rounds, quick, results })
}

pub fn print_table(report: &Report) {
    outln!(
        "{} rounds{}; times are medians; ratio = peer time / vmem time (above 1: vmem is faster);\n\
         spread = lowest..highest ratio within one round; a spread across 1.0 is within noise\n",
        report.rounds,
        if report.quick { " (quick)" } else { "" }
    );
    let width = report.results.iter().map(|r| r.name.len()).max().unwrap_or(10).max(10);
    outln!(
        "{:<width$}  {:>10}  {:<9} {:>10}  {:>7}  {:>12}  verdict",
        "comparison",
        "vmem",
        "peer",
        "peer time",
        "ratio",
        "spread"
    );
    for r in &report.results {
        outln!(
            "{:<width$}  {:>10}  {:<9} {:>10}  {:>6.2}x  {:>5.2}..{:<5.2}  {}",
            r.name,
            duration_ns(r.vmem_median_ns),
            r.peer,
            duration_ns(r.peer_median_ns),
            r.ratio,
            r.ratio_min,
            r.ratio_max,
            r.verdict()
        );
    }
}

pub fn run(quick: bool, rounds: Option<usize>, json: bool, svg: Option<&Path>) -> anyhow::Result<()> {
    let rounds = rounds.unwrap_or(if quick { 3 } else { 7 });
    if let Some(dir) = svg {
        crate::chart::prepare_dir(dir)?;
    }
    let report = measure(quick, rounds, !json)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    if let Some(dir) = svg {
        let mut paths = vec![crate::chart::write_summary(dir, &report)?];
        for outcome in &report.results {
            paths.push(crate::chart::write(dir, outcome)?);
        }
        if !json {
            for path in paths {
                outln!("chart: {}", path.display());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    fn outcome(vmem: &[f64], peer: &[f64]) -> Outcome {
        Outcome::new("x".into(), "x", "peer", vmem.to_vec(), peer.to_vec())
    }

    #[test]
    fn the_ratio_agrees_with_the_medians() {
        // The case of the issue: per-round ratios whose median (1.23 here) contradicts the
        // medians of the times (508.8 for vmem, 492.9 for the peer: the peer is faster).
        let o = outcome(&[508.8, 400.0, 700.0], &[700.0, 492.9, 300.0]);
        assert!(super::median(&[700.0 / 508.8, 492.9 / 400.0, 300.0 / 700.0]) > 1.2);
        assert_eq!((o.vmem_median_ns, o.peer_median_ns), (508.8, 492.9));
        assert_eq!(o.ratio, 492.9 / 508.8);
        assert_eq!((o.ratio_min, o.ratio_max), (300.0 / 700.0, 700.0 / 508.8));
        assert!(o.within_noise);
        assert_eq!(o.verdict(), "within noise");
    }

    #[test]
    fn a_spread_on_one_side_of_one_is_a_verdict() {
        let o = outcome(&[1.0, 1.0, 1.0], &[1.5, 1.2, 1.3]);
        assert!(!o.within_noise);
        assert_eq!(o.verdict(), "vmem faster");
        let o = outcome(&[1.0, 1.0], &[0.5, 0.9]);
        assert_eq!(o.verdict(), "peer faster");
        assert_eq!(o.ratio, 0.7);
    }
}
