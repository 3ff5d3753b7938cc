//! The warm-memory size matrix (issue 15), shared by `benches/warm.rs` (the system allocator)
//! and `benches/warm_mimalloc.rs` (mimalloc as the global allocator, for both sides).
//!
//! Every structure against its peers, used as a new user would (`new()`, then
//! `push`/`insert`/`alloc` one value at a time: no capacity hints, no builder settings; the
//! peers on the global allocator with its defaults, glibc's retained heap included):
//!
//! | structure | peers | one unit of data |
//! |---|---|---|
//! | `Arena` | `bumpalo::Bump` | one 16-byte allocation (`[u64; 2]`) |
//! | `VirtualVec` | `Vec` | one `u64` |
//! | `Pool` | `slab::Slab`, `slotmap::SlotMap` | one `u64` |
//! | `ConcurrentVec` | `boxcar::Vec`, `Mutex<Vec>` | one `u64`, pushed from one thread |
//!
//! at 1 KiB, 64 KiB, 1 MiB, 32 MiB, 256 MiB and 1 GiB of data stored, in two modes:
//! - **fresh**: create, fill to the size, drop, all timed, per iteration;
//! - **reused**: one instance per variant for the whole cell; fill, then empty it the way the
//!   type offers (`Arena::reset`, `Bump::reset`, `clear` for all the others), per iteration.
//!
//! How a cell is measured ([`measure`], the one place for it): each variant is first
//! calibrated to the number of iterations that takes [`SAMPLE`] (at least one), then the cell
//! runs rounds; in each round every variant, in an order that rotates from round to round,
//! runs one untimed iteration (warm-up: this VM hands idle memory back to its host, and first
//! touch after that is several times slower) and then one timed sample. Per cell and peer:
//! the ratio of the medians (peer median time / vmem median time: above 1.0 vmem is faster)
//! and the min..max of the per-round ratios; a cell whose per-round ratios lie on both sides of
//! 1.0 is "within noise". Beside it, the median minor page faults per iteration of each side
//! (the whole process's, from `/proc/self/stat`, read outside the timed region), which is most
//! of what separates fresh memory from memory an allocator kept. `VMEM_WARM_VERBOSE=1` prints
//! every round's times.
//!
//! Two more sections: **two threads**, each creating, filling (64 KiB, 1 MiB) and dropping
//! structures in a loop for a fixed count (contention on whatever the allocator shares; ratio
//! of the wall time of the whole loop), and **RSS**: a child process (this binary re-executed
//! with [`RSS_CHILD_ENV`] set) creates and drops 1,000 structures of mixed sizes and reports
//! its resident set before, after the drops and after `vmem::trim()` (see [`TRIM`]).
//!
//! Arguments (after `--`) filter what runs; a cell runs when it matches a term of every kind
//! given: a structure (`arena`, `virtualvec`, `pool`, `concurrentvec`), a size (`1k`, `64k`,
//! `1m`, `32m`, `256m`, `1g`), a mode (`fresh`, `reused`), a section (`matrix`, `threads`,
//! `rss`); `quick` runs 3 rounds per cell. Results: a Markdown table on stdout, and JSON in
//! `target/warm-bench.json` (`warm-bench-mimalloc.json`; `-filtered` when filtered).
//! Without `--bench` (as `cargo test --benches` runs it) a short smoke run checks that every
//! variant works.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::hint::black_box;
use std::process::Command;
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime};

use slotmap::{DefaultKey, SlotMap};

/// `vmem::trim` (returns the memory the warm cache keeps to the OS), for the RSS section.
/// (`None` measured the baseline, before the warm cache existed: the section then says
/// "trim: not available in this build".)
const TRIM: Option<fn()> = Some(|| {
    vmem::trim();
});

/// The global allocator this binary was built with.
#[allow(dead_code, reason = "each of the two bench binaries names one of them")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    System,
    Mimalloc,
}

impl Allocator {
    fn name(self) -> &'static str {
        match self {
            Allocator::System => "system",
            Allocator::Mimalloc => "mimalloc",
        }
    }

    /// The goal for a cell: at least 1.0x the peer against the system allocator, 1.5x
    /// at 256 MiB and above (huge pages), 0.9x against mimalloc.
    fn goal(self, bytes: usize) -> f64 {
        match self {
            Allocator::Mimalloc => 0.9,
            Allocator::System if bytes >= 256 * MIB => 1.5,
            Allocator::System => 1.0,
        }
    }
}

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// What a timed sample should last at least (small sizes run many iterations per sample).
const SAMPLE: Duration = Duration::from_millis(5);

/// The sizes of the matrix: bytes of data stored, and rounds per cell (fewer where one
/// iteration takes long, to keep a run within about 15 minutes).
const SIZES: [(usize, usize); 6] =
    [(KIB, 31), (64 * KIB, 31), (MIB, 31), (32 * MIB, 11), (256 * MIB, 7), (1024 * MIB, 5)];

/// The two-thread rows: size, fills per thread per sample, rounds.
const TWO_THREAD_SIZES: [(usize, usize, usize); 2] = [(64 * KIB, 1000, 11), (MIB, 100, 11)];

/// The RSS child: this binary re-executed with this variable set to `structure/variant`.
const RSS_CHILD_ENV: &str = "VMEM_WARM_RSS_CHILD";
/// How many structures the RSS child makes (set by the parent).
const RSS_COUNT_ENV: &str = "VMEM_WARM_RSS_COUNT";
/// Structures the RSS child creates and drops (fewer in the smoke run).
const RSS_STRUCTURES: usize = 1000;
/// How many of them are alive at once (the oldest is dropped when one more is made).
const RSS_WINDOW: usize = 8;

// ---------------------------------------------------------------------------------------
// The structures

/// One side of a comparison, used as a new user would use it.
trait Subject: 'static {
    /// The variant's name in the tables.
    const NAME: &'static str;
    /// Bytes of data one unit stores: 8 for a `u64`, 16 for an arena's `[u64; 2]`.
    const UNIT_BYTES: usize;
    fn new() -> Self;
    /// Stores `n` units, one call per unit.
    fn fill(&mut self, n: usize);
    /// Empties the structure for the next fill, as the type offers (`clear`, `reset`).
    fn clear(&mut self);
}

impl Subject for vmem::Arena {
    const NAME: &'static str = "vmem";
    const UNIT_BYTES: usize = 16;
    fn new() -> Self {
        vmem::Arena::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        vmem_workloads::fill::arena(self, n)
    }
    fn clear(&mut self) {
        self.reset()
    }
}

impl Subject for bumpalo::Bump {
    const NAME: &'static str = "bumpalo";
    const UNIT_BYTES: usize = 16;
    fn new() -> Self {
        bumpalo::Bump::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        vmem_workloads::fill::bump(self, n)
    }
    fn clear(&mut self) {
        self.reset()
    }
}

impl Subject for vmem::VirtualVec<u64> {
    const NAME: &'static str = "vmem";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        vmem::VirtualVec::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        vmem_workloads::fill::virtual_vec(self, n)
    }
    fn clear(&mut self) {
        vmem::VirtualVec::clear(self)
    }
}

impl Subject for Vec<u64> {
    const NAME: &'static str = "Vec";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        Vec::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        vmem_workloads::fill::vec(self, n)
    }
    fn clear(&mut self) {
        Vec::clear(self)
    }
}

impl Subject for vmem::Pool<u64> {
    const NAME: &'static str = "vmem";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        vmem::Pool::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        vmem_workloads::fill::pool(self, n)
    }
    fn clear(&mut self) {
        vmem::Pool::clear(self)
    }
}

impl Subject for slab::Slab<u64> {
    const NAME: &'static str = "slab";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        slab::Slab::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        vmem_workloads::fill::slab(self, n)
    }
    fn clear(&mut self) {
        slab::Slab::clear(self)
    }
}

impl Subject for SlotMap<DefaultKey, u64> {
    const NAME: &'static str = "slotmap";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        SlotMap::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        for i in 0..n as u64 {
            self.insert(i);
        }
    }
    fn clear(&mut self) {
        SlotMap::clear(self)
    }
}

impl Subject for vmem::ConcurrentVec<u64> {
    const NAME: &'static str = "vmem";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        vmem::ConcurrentVec::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        // Through `&self`, as sharing threads push.
        let shared = &*self;
        for i in 0..n as u64 {
            shared.push(i);
        }
    }
    fn clear(&mut self) {
        vmem::ConcurrentVec::clear(self)
    }
}

impl Subject for boxcar::Vec<u64> {
    const NAME: &'static str = "boxcar";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        boxcar::Vec::new()
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        let shared = &*self;
        for i in 0..n as u64 {
            shared.push(i);
        }
    }
    fn clear(&mut self) {
        boxcar::Vec::clear(self)
    }
}

impl Subject for Mutex<Vec<u64>> {
    const NAME: &'static str = "Mutex<Vec>";
    const UNIT_BYTES: usize = 8;
    fn new() -> Self {
        Mutex::new(Vec::new())
    }
    #[inline(never)]
    fn fill(&mut self, n: usize) {
        // One lock per push, as sharing threads push.
        let shared = &*self;
        for i in 0..n as u64 {
            shared.lock().unwrap().push(i);
        }
    }
    fn clear(&mut self) {
        self.get_mut().unwrap().clear()
    }
}

/// Runs a given number of iterations and returns how long they took.
type Runner = Box<dyn FnMut(u64) -> Duration>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fresh,
    Reused,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Fresh => "fresh",
            Mode::Reused => "reused",
        }
    }
}

/// Fresh: per iteration, create, fill with `bytes` of data, drop.
fn fresh<S: Subject>(bytes: usize) -> Runner {
    let n = bytes / S::UNIT_BYTES;
    Box::new(move |iters| {
        let start = Instant::now();
        for _ in 0..iters {
            let mut subject = S::new();
            subject.fill(n);
            drop(black_box(subject));
        }
        start.elapsed()
    })
}

/// Reused: one instance for as long as the runner lives; per iteration, fill with `bytes` of
/// data and empty it again.
fn reused<S: Subject>(bytes: usize) -> Runner {
    let n = bytes / S::UNIT_BYTES;
    let mut subject = S::new();
    Box::new(move |iters| {
        let start = Instant::now();
        for _ in 0..iters {
            subject.fill(n);
            black_box(&mut subject);
            subject.clear();
        }
        start.elapsed()
    })
}

/// Two threads, each creating, filling with `bytes` and dropping `count` structures; per
/// iteration, the wall time from the first thread's start (both are released by one barrier)
/// to the last one's end. The threads read the clock themselves: the spawning thread is a
/// third thread on a 2-core machine and may not run again until a worker is done.
fn two_threads<S: Subject>(bytes: usize, count: usize) -> Runner {
    let n = bytes / S::UNIT_BYTES;
    Box::new(move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let barrier = Barrier::new(2);
            let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..2)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..count {
                                let mut subject = S::new();
                                subject.fill(n);
                                drop(black_box(subject));
                            }
                            (start, Instant::now())
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            let first_start = spans.iter().map(|s| s.0).min().unwrap();
            let last_end = spans.iter().map(|s| s.1).max().unwrap();
            total += last_end - first_start;
        }
        total
    })
}

/// The RSS workload: one structure per size in `sizes`, filled, at most [`RSS_WINDOW`] alive
/// at once; all dropped at the end.
fn churn<S: Subject>(sizes: &[usize]) {
    let mut live = VecDeque::with_capacity(RSS_WINDOW + 1);
    for &bytes in sizes {
        let mut subject = S::new();
        subject.fill(bytes / S::UNIT_BYTES);
        live.push_back(black_box(subject));
        if live.len() > RSS_WINDOW {
            live.pop_front();
        }
    }
}

/// One variant of a structure (vmem's or a peer's), with its runners.
struct Variant {
    name: &'static str,
    fresh: fn(usize) -> Runner,
    reused: fn(usize) -> Runner,
    two_threads: fn(usize, usize) -> Runner,
    churn: fn(&[usize]),
}

fn variant<S: Subject>() -> Variant {
    Variant { name: S::NAME, fresh: fresh::<S>, reused: reused::<S>, two_threads: two_threads::<S>, churn: churn::<S> }
}

impl Variant {
    fn runner(&self, mode: Mode, bytes: usize) -> Runner {
        match mode {
            Mode::Fresh => (self.fresh)(bytes),
            Mode::Reused => (self.reused)(bytes),
        }
    }
}

/// A structure and its peers; `variants[0]` is vmem's.
struct Structure {
    name: &'static str,
    variants: Vec<Variant>,
}

fn structures() -> Vec<Structure> {
    vec![
        Structure { name: "Arena", variants: vec![variant::<vmem::Arena>(), variant::<bumpalo::Bump>()] },
        Structure { name: "VirtualVec", variants: vec![variant::<vmem::VirtualVec<u64>>(), variant::<Vec<u64>>()] },
        Structure {
            name: "Pool",
            variants: vec![
                variant::<vmem::Pool<u64>>(),
                variant::<slab::Slab<u64>>(),
                variant::<SlotMap<DefaultKey, u64>>(),
            ],
        },
        Structure {
            name: "ConcurrentVec",
            variants: vec![
                variant::<vmem::ConcurrentVec<u64>>(),
                variant::<boxcar::Vec<u64>>(),
                variant::<Mutex<Vec<u64>>>(),
            ],
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Measuring: rounds and ratios

/// The number of iterations that take at least [`SAMPLE`] (at least one), measured after one
/// untimed iteration (a reused instance grows to its size there, and must not make the
/// estimate look slow). Where that one iteration takes 4 samples or more, one iteration is a
/// sample, and the estimate is not spent (at 1 GiB an iteration takes seconds).
fn calibrate(run: &mut Runner) -> u64 {
    if run(1) >= 4 * SAMPLE {
        return 1;
    }
    let mut iters = 1;
    loop {
        let elapsed = run(iters);
        if elapsed >= SAMPLE / 4 || iters >= 1 << 24 {
            // The fastest of three, so that one interruption does not shorten every sample.
            let elapsed = elapsed.min(run(iters)).min(run(iters));
            let per_iteration = elapsed.as_secs_f64() / iters as f64;
            return ((SAMPLE.as_secs_f64() / per_iteration).ceil() as u64).max(1);
        }
        iters *= 4;
    }
}

/// What [`measure`] found, per runner and round, per iteration.
struct Measured {
    seconds: Vec<Vec<f64>>,
    /// Minor page faults of the whole process (Linux; empty elsewhere).
    faults: Vec<Vec<f64>>,
}

/// Times each runner in `rounds` interleaved rounds: in round `r` the runners go in the order
/// `r, r + 1, ..` (modulo their number), each running one untimed iteration and then one timed
/// sample.
fn measure(runners: &mut [Runner], rounds: usize) -> Measured {
    let iterations: Vec<u64> = runners.iter_mut().map(calibrate).collect();
    let mut seconds = vec![Vec::with_capacity(rounds); runners.len()];
    let mut faults = vec![Vec::with_capacity(rounds); runners.len()];
    for round in 0..rounds {
        for k in 0..runners.len() {
            let v = (round + k) % runners.len();
            runners[v](1);
            let faults_before = minor_faults();
            let elapsed = runners[v](iterations[v]);
            if let (Some(before), Some(after)) = (faults_before, minor_faults()) {
                faults[v].push((after - before) as f64 / iterations[v] as f64);
            }
            seconds[v].push(elapsed.as_secs_f64() / iterations[v] as f64);
        }
        if verbose() {
            let round_times: Vec<String> = seconds.iter().map(|t| format!("{:.3e}", t[round])).collect();
            eprintln!(
                "  round {round}: s per iteration {} (iterations per sample {iterations:?})",
                round_times.join(" ")
            );
        }
    }
    Measured { seconds, faults }
}

/// The minor page faults this process has taken so far (all threads), where the OS says.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command name in parentheses: state, ppid, pgrp, session, tty_nr, tpgid,
    // flags, minflt.
    stat.rsplit_once(')')?.1.split_whitespace().nth(7)?.parse().ok()
}

/// `VMEM_WARM_VERBOSE` set: print every round's times (to stderr).
fn verbose() -> bool {
    std::env::var_os("VMEM_WARM_VERBOSE").is_some()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// One peer against vmem in one cell.
struct Row {
    structure: &'static str,
    bytes: usize,
    mode: String,
    peer: &'static str,
    /// Peer median / vmem median.
    ratio: f64,
    /// Lowest and highest per-round ratio (peer time / vmem time in the same round).
    min: f64,
    max: f64,
    vmem_median: f64,
    peer_median: f64,
    /// Median minor page faults per iteration (process-wide), where known.
    vmem_faults: Option<f64>,
    peer_faults: Option<f64>,
    rounds: usize,
    goal: f64,
}

impl Row {
    fn within_noise(&self) -> bool {
        self.min <= 1.0 && self.max >= 1.0
    }

    fn verdict(&self) -> String {
        let met = if self.ratio >= self.goal { "meets" } else { "**misses**" };
        if self.within_noise() {
            format!("{met}, within noise")
        } else {
            met.to_string()
        }
    }
}

/// Runs one cell: every variant of `structure` through `runners` (built in the order of its
/// variants, vmem's first), and one row per peer.
fn run_cell(
    structure: &Structure,
    bytes: usize,
    mode: String,
    rounds: usize,
    goal: f64,
    mut runners: Vec<Runner>,
) -> Vec<Row> {
    let started = Instant::now();
    eprint!("{} {} {mode}: {rounds} rounds ...", structure.name, size_label(bytes));
    let measured = measure(&mut runners, rounds);
    drop(runners);
    let times = &measured.seconds;
    let faults = |v: usize| (!measured.faults[v].is_empty()).then(|| median(&measured.faults[v]));
    let vmem = &times[0];
    let rows: Vec<Row> = structure
        .variants
        .iter()
        .zip(times)
        .enumerate()
        .skip(1)
        .map(|(v, (peer, peer_times))| {
            let per_round: Vec<f64> = peer_times.iter().zip(vmem).map(|(p, v)| p / v).collect();
            Row {
                structure: structure.name,
                bytes,
                mode: mode.clone(),
                peer: peer.name,
                ratio: median(peer_times) / median(vmem),
                min: per_round.iter().copied().fold(f64::INFINITY, f64::min),
                max: per_round.iter().copied().fold(0.0, f64::max),
                vmem_median: median(vmem),
                peer_median: median(peer_times),
                vmem_faults: faults(0),
                peer_faults: faults(v),
                rounds,
                goal,
            }
        })
        .collect();
    let summary: Vec<String> =
        rows.iter().map(|r| format!("{} {}x ({}..{})", r.peer, ratio(r.ratio), ratio(r.min), ratio(r.max))).collect();
    eprintln!(" {} [{:.1} s]", summary.join(", "), started.elapsed().as_secs_f64());
    rows
}

/// A ratio with two decimals, three below 0.1 (so that 0.004x does not read as 0.00x).
fn ratio(value: f64) -> String {
    if value < 0.1 {
        format!("{value:.3}")
    } else {
        format!("{value:.2}")
    }
}

fn size_label(bytes: usize) -> String {
    if bytes >= 1024 * MIB {
        format!("{} GiB", bytes / (1024 * MIB))
    } else if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

// ---------------------------------------------------------------------------------------
// Arguments

#[derive(Default)]
struct Filter {
    structures: Vec<String>,
    sizes: Vec<usize>,
    modes: Vec<&'static str>,
    sections: Vec<&'static str>,
    quick: bool,
    terms: Vec<String>,
}

impl Filter {
    fn parse(args: impl Iterator<Item = String>, names: &[&str]) -> Filter {
        let mut filter = Filter::default();
        for arg in args.filter(|a| !a.starts_with("--")) {
            let term = arg.to_lowercase().replace('_', "");
            if let Some(name) = names.iter().find(|n| n.to_lowercase() == term) {
                filter.structures.push(name.to_string());
            } else if let Some(bytes) = parse_size(&term) {
                filter.sizes.push(bytes);
            } else if let Some(mode) = ["fresh", "reused"].into_iter().find(|m| *m == term) {
                filter.modes.push(mode);
            } else if let Some(section) = ["matrix", "threads", "rss"].into_iter().find(|s| *s == term) {
                filter.sections.push(section);
            } else if term == "quick" {
                filter.quick = true;
                continue;
            } else {
                eprintln!(
                    "unknown argument {arg:?}; filters: a structure ({}), a size (1k 64k 1m 32m 256m 1g), \
                     a mode (fresh reused), a section (matrix threads rss), or quick",
                    names.join(" ").to_lowercase()
                );
                std::process::exit(2);
            }
            filter.terms.push(arg);
        }
        filter
    }

    fn is_filtered(&self) -> bool {
        !self.terms.is_empty()
    }

    fn section(&self, section: &str) -> bool {
        if !self.sections.is_empty() {
            return self.sections.contains(&section);
        }
        // Sizes and modes are the matrix's and the two-thread rows' (fresh only); the RSS
        // section has neither.
        match section {
            "rss" => self.sizes.is_empty() && self.modes.is_empty(),
            "threads" => self.modes.is_empty() || self.modes.contains(&"fresh"),
            _ => true,
        }
    }

    fn structure(&self, name: &str) -> bool {
        self.structures.is_empty() || self.structures.iter().any(|s| s == name)
    }

    fn size(&self, bytes: usize) -> bool {
        self.sizes.is_empty() || self.sizes.contains(&bytes)
    }

    fn mode(&self, mode: &str) -> bool {
        self.modes.is_empty() || self.modes.contains(&mode)
    }
}

/// `1k`, `64kib`, `1m`, `32mb`, `1g`, ...: the sizes of the matrix.
fn parse_size(term: &str) -> Option<usize> {
    let term = term.trim_end_matches("ib").trim_end_matches('b');
    let (digits, unit) = term.split_at(term.find(|c: char| !c.is_ascii_digit())?);
    let unit = match unit {
        "k" => KIB,
        "m" => MIB,
        "g" => 1024 * MIB,
        _ => return None,
    };
    let bytes = digits.parse::<usize>().ok()? * unit;
    SIZES.iter().any(|&(b, _)| b == bytes).then_some(bytes)
}

// ---------------------------------------------------------------------------------------
// The sections

/// The size matrix: every structure × size × mode.
fn matrix(allocator: Allocator, filter: &Filter, structures: &[Structure], smoke: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for structure in structures.iter().filter(|s| filter.structure(s.name)) {
        for &(bytes, rounds) in SIZES.iter().filter(|&&(b, _)| filter.size(b)) {
            if smoke && bytes > 64 * KIB {
                continue;
            }
            let rounds = if smoke {
                1
            } else if filter.quick {
                3
            } else {
                rounds
            };
            for mode in [Mode::Fresh, Mode::Reused].into_iter().filter(|m| filter.mode(m.name())) {
                let runners = structure.variants.iter().map(|v| v.runner(mode, bytes)).collect();
                rows.extend(run_cell(
                    structure,
                    bytes,
                    mode.name().to_string(),
                    rounds,
                    allocator.goal(bytes),
                    runners,
                ));
            }
        }
    }
    rows
}

/// Two threads creating, filling and dropping structures.
fn threads(allocator: Allocator, filter: &Filter, structures: &[Structure], smoke: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for structure in structures.iter().filter(|s| filter.structure(s.name)) {
        for &(bytes, count, rounds) in TWO_THREAD_SIZES.iter().filter(|&&(b, ..)| filter.size(b)) {
            let (count, rounds) = if smoke {
                (2, 1)
            } else if filter.quick {
                (count, 3)
            } else {
                (count, rounds)
            };
            let runners = structure.variants.iter().map(|v| (v.two_threads)(bytes, count)).collect();
            let mode = format!("2 threads × {count} fresh");
            rows.extend(run_cell(structure, bytes, mode, rounds, allocator.goal(bytes), runners));
        }
    }
    rows
}

/// One RSS child's figures, in bytes.
struct RssRow {
    structure: &'static str,
    variant: &'static str,
    before: usize,
    after_drop: usize,
    after_trim: Option<usize>,
}

/// The sizes of the RSS workload: `count` sizes spread evenly on a log scale from 1 KiB to
/// 32 MiB, in a fixed pseudo-random order.
fn mixed_sizes(count: usize) -> Vec<usize> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..count)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let fraction = (state >> 11) as f64 / (1u64 << 53) as f64;
            let bytes = (KIB as f64 * (32.0 * 1024.0f64).powf(fraction)) as usize;
            bytes.clamp(KIB, 32 * MIB)
        })
        .collect()
}

/// In the child: the workload of one variant, then one line `rss BEFORE AFTER_DROP AFTER_TRIM`
/// (`-` for no trim) on stdout.
fn rss_child(spec: &str, structures: &[Structure]) {
    // The structure's name has no `/`; a variant's may (none does now).
    let (structure, variant) = spec.split_once('/').expect("structure/variant");
    let (index, variant) = structures
        .iter()
        .filter(|s| s.name == structure)
        .flat_map(|s| s.variants.iter().enumerate())
        .find(|(_, v)| v.name == variant)
        .expect("a known structure and variant");
    let count = std::env::var(RSS_COUNT_ENV).map_or(RSS_STRUCTURES, |c| c.parse().expect("a count"));
    let sizes = mixed_sizes(count);
    let before = vmem::resident_bytes().unwrap();
    (variant.churn)(&sizes);
    let after_drop = vmem::resident_bytes().unwrap();
    // Only vmem's side (variant 0) has a cache to trim.
    let after_trim = match TRIM {
        Some(trim) if index == 0 => {
            trim();
            vmem::resident_bytes().unwrap().to_string()
        }
        _ => "-".to_string(),
    };
    println!("rss {before} {after_drop} {after_trim}");
}

fn rss(filter: &Filter, structures: &[Structure], smoke: bool) -> Vec<RssRow> {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let count = rss_count(smoke);
    let mut rows = Vec::new();
    for structure in structures.iter().filter(|s| filter.structure(s.name)) {
        for variant in &structure.variants {
            let output = Command::new(&exe)
                .env(RSS_CHILD_ENV, format!("{}/{}", structure.name, variant.name))
                .env(RSS_COUNT_ENV, count.to_string())
                .output()
                .expect("re-executing the bench binary");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let line = stdout.lines().find(|l| l.starts_with("rss ")).unwrap_or_else(|| {
                panic!(
                    "RSS child {} {} failed: {}",
                    structure.name,
                    variant.name,
                    String::from_utf8_lossy(&output.stderr)
                )
            });
            let fields: Vec<&str> = line.split_whitespace().skip(1).collect();
            let row = RssRow {
                structure: structure.name,
                variant: variant.name,
                before: fields[0].parse().unwrap(),
                after_drop: fields[1].parse().unwrap(),
                after_trim: fields[2].parse().ok(),
            };
            eprintln!(
                "RSS {} {}: before {:.1} MiB, after drop {:.1} MiB",
                row.structure,
                row.variant,
                mib(row.before),
                mib(row.after_drop)
            );
            rows.push(row);
        }
    }
    rows
}

fn rss_count(smoke: bool) -> usize {
    if smoke {
        10
    } else {
        RSS_STRUCTURES
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / MIB as f64
}

// ---------------------------------------------------------------------------------------
// Output

fn markdown(title: &str, rows: &[Row]) -> String {
    let mut out = format!("\n### {title}\n\n");
    out += "| structure | size | mode | peer | ratio (peer / vmem) | per-round min..max | goal | verdict \
            | page faults per iteration, vmem / peer |\n";
    out += "|---|---|---|---|---|---|---|---|---|\n";
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {}x | {}..{} | {:.1}x | {} | {} / {} |",
            r.structure,
            size_label(r.bytes),
            r.mode,
            r.peer,
            ratio(r.ratio),
            ratio(r.min),
            ratio(r.max),
            r.goal,
            r.verdict(),
            fault_count(r.vmem_faults),
            fault_count(r.peer_faults)
        );
    }
    out
}

fn fault_count(faults: Option<f64>) -> String {
    match faults {
        None => "?".to_string(),
        Some(f) if f < 10.0 => format!("{f:.1}"),
        Some(f) => format!("{f:.0}"),
    }
}

fn rss_markdown(rows: &[RssRow], count: usize) -> String {
    let mut out = format!(
        "\n### RSS: {count} structures of 1 KiB..32 MiB created and dropped ({RSS_WINDOW} alive at a time), in a child\n\n"
    );
    out += "| structure | variant | RSS before | after drop | after `trim()` | after `trim()` − before |\n";
    out += "|---|---|---|---|---|---|\n";
    for r in rows {
        let (trim, delta) = match r.after_trim {
            Some(t) => (format!("{:.1} MiB", mib(t)), format!("{:+.1} MiB", mib(t) - mib(r.before))),
            None if r.variant == "vmem" => ("n/a (no `trim` in this build)".into(), "n/a".into()),
            None => ("—".into(), "—".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} MiB | {:.1} MiB ({:+.1}) | {trim} | {delta} |",
            r.structure,
            r.variant,
            mib(r.before),
            mib(r.after_drop),
            mib(r.after_drop) - mib(r.before)
        );
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out + "\""
}

fn json_rows(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"structure\": {}, \"bytes\": {}, \"size\": {}, \"mode\": {}, \"peer\": {}, \"ratio\": {:.4}, \
                 \"min\": {:.4}, \"max\": {:.4}, \"within_noise\": {}, \"goal\": {}, \"meets_goal\": {}, \
                 \"rounds\": {}, \"vmem_median_s\": {:e}, \"peer_median_s\": {:e}, \
                 \"vmem_faults_per_iteration\": {}, \"peer_faults_per_iteration\": {}}}",
                json_string(r.structure),
                r.bytes,
                json_string(&size_label(r.bytes)),
                json_string(&r.mode),
                json_string(r.peer),
                r.ratio,
                r.min,
                r.max,
                r.within_noise(),
                r.goal,
                r.ratio >= r.goal,
                r.rounds,
                r.vmem_median,
                r.peer_median,
                json_number(r.vmem_faults),
                json_number(r.peer_faults)
            )
        })
        .collect();
    format!("[\n    {}\n  ]", items.join(",\n    "))
}

fn json_number(value: Option<f64>) -> String {
    value.map_or("null".to_string(), |v| format!("{v:.1}"))
}

fn json_rss(rows: &[RssRow]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"structure\": {}, \"variant\": {}, \"before\": {}, \"after_drop\": {}, \"after_trim\": {}}}",
                json_string(r.structure),
                json_string(r.variant),
                r.before,
                r.after_drop,
                r.after_trim.map_or("null".to_string(), |t| t.to_string())
            )
        })
        .collect();
    format!("[\n    {}\n  ]", items.join(",\n    "))
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string())
}

pub fn main(allocator: Allocator) {
    let structures = structures();
    if let Ok(spec) = std::env::var(RSS_CHILD_ENV) {
        rss_child(&spec, &structures);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then every variant
    // runs once, small, as a smoke test, and nothing is written.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let names: Vec<&str> = structures.iter().map(|s| s.name).collect();
    let filter = Filter::parse(std::env::args().skip(1), &names);
    let started = Instant::now();
    let thp = read_trimmed("/sys/kernel/mm/transparent_hugepage/enabled");
    let load_before = read_trimmed("/proc/loadavg");
    eprintln!(
        "warm-memory matrix, global allocator: {}{}; transparent huge pages: {thp}; load average: {load_before}",
        allocator.name(),
        if smoke { " (smoke run: `cargo bench --bench warm` measures)" } else { "" }
    );

    let matrix_rows =
        if filter.section("matrix") { matrix(allocator, &filter, &structures, smoke) } else { Vec::new() };
    let thread_rows =
        if filter.section("threads") { threads(allocator, &filter, &structures, smoke) } else { Vec::new() };
    let rss_rows = if filter.section("rss") { rss(&filter, &structures, smoke) } else { Vec::new() };

    let alloc = allocator.name();
    let mut out = String::new();
    if !matrix_rows.is_empty() {
        out += &markdown(&format!("Size matrix, {alloc} allocator"), &matrix_rows);
    }
    if !thread_rows.is_empty() {
        out += &markdown(&format!("Two threads creating, filling and dropping, {alloc} allocator"), &thread_rows);
    }
    if filter.section("rss") {
        if TRIM.is_none() {
            out += "\ntrim: not available in this build\n";
        }
        if !rss_rows.is_empty() {
            out += &rss_markdown(&rss_rows, rss_count(smoke));
        }
    }
    println!("{out}");
    let misses = matrix_rows.iter().chain(&thread_rows).filter(|r| r.ratio < r.goal).count();
    let load_after = read_trimmed("/proc/loadavg");
    println!(
        "{misses} of {} rows below the goal; {:.0} s in all; load average before: {load_before}, after: {load_after}",
        matrix_rows.len() + thread_rows.len(),
        started.elapsed().as_secs_f64()
    );
    if smoke {
        return;
    }

    let unix_time = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let terms: Vec<String> = filter.terms.iter().map(|t| json_string(t)).collect();
    let json = format!(
        "{{\n  \"allocator\": {},\n  \"unix_time\": {unix_time},\n  \"kernel\": {},\n  \"transparent_hugepage\": {},\n  \
         \"load_average_before\": {},\n  \"load_average_after\": {},\n  \"filter\": [{}],\n  \"trim_available\": {},\n  \"matrix\": {},\n  \"two_threads\": {},\n  \"rss\": {}\n}}\n",
        json_string(alloc),
        json_string(&read_trimmed("/proc/sys/kernel/osrelease")),
        json_string(&thp),
        json_string(&load_before),
        json_string(&load_after),
        terms.join(", "),
        TRIM.is_some(),
        json_rows(&matrix_rows),
        json_rows(&thread_rows),
        json_rss(&rss_rows)
    );
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_string());
    let name = match allocator {
        Allocator::System => "warm-bench",
        Allocator::Mimalloc => "warm-bench-mimalloc",
    };
    let path = format!("{target}/{name}{}.json", if filter.is_filtered() { "-filtered" } else { "" });
    match std::fs::write(&path, json) {
        Ok(()) => eprintln!("wrote {path}"),
        Err(err) => eprintln!("could not write {path}: {err}"),
    }
}
