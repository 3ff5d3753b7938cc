//! `vmem tour`: does each thing virtual memory allows, for real, and prints what the OS
//! reports after it: this process's resident memory (RSS), the system's commit charge, and
//! the address space the process maps.

use crate::output::outln;
use std::collections::VecDeque;

use anyhow::Context;
use serde::Serialize;
use vmem::{Arena, Reservation, RingBuffer, VirtualVec};

use crate::format::{bytes, delta};
use crate::sys;

const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

/// What the OS reported after one step.
#[derive(Debug, Serialize)]
pub struct Step {
    pub step: String,
    pub explanation: String,
    pub rss_bytes: u64,
    pub commit_charge_bytes: Option<u64>,
    pub mapped_bytes: Option<u64>,
    /// Step-specific figures (peak RSS, moves, slices).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<(String, String)>,
}

struct Tour {
    json: bool,
    steps: Vec<Step>,
    start_rss: u64,
    start_charge: Option<u64>,
    start_mapped: Option<u64>,
}

fn rss() -> anyhow::Result<u64> {
    Ok(vmem::resident_bytes().map_err(|e| anyhow::anyhow!("reading RSS: {e}"))? as u64)
}

fn charge() -> Option<u64> {
    vmem::memory_status().ok().and_then(|s| s.committed_bytes)
}

impl Tour {
    fn record(&mut self, step: &str, explanation: &str, facts: Vec<(String, String)>) -> anyhow::Result<()> {
        let step = Step {
            step: step.to_string(),
            explanation: explanation.to_string(),
            rss_bytes: rss()?,
            commit_charge_bytes: charge(),
            mapped_bytes: sys::mapped_bytes(),
            facts,
        };
        if !self.json {
            let charge = match (step.commit_charge_bytes, self.start_charge) {
                (Some(now), Some(start)) => delta(now, start),
                _ => "n/a".into(),
            };
            let mapped = match (step.mapped_bytes, self.start_mapped) {
                (Some(now), Some(start)) => delta(now, start),
                _ => "n/a".into(),
            };
            outln!(
                "{:<34} RSS {:>11} ({:>11})   commit charge {:>11}   mapped {:>13}",
                step.step,
                bytes(step.rss_bytes),
                delta(step.rss_bytes, self.start_rss),
                charge,
                mapped
            );
            for (name, value) in &step.facts {
                outln!("    {name}: {value}");
            }
            outln!("    {}", step.explanation);
        }
        self.steps.push(step);
        Ok(())
    }
}

pub fn run(json: bool, svg: Option<&std::path::Path>) -> anyhow::Result<()> {
    if let Some(dir) = svg {
        crate::chart::prepare_dir(dir)?;
    }
    let mut tour =
        Tour { json, steps: Vec::new(), start_rss: rss()?, start_charge: charge(), start_mapped: sys::mapped_bytes() };
    if !json {
        outln!(
            "page size {}, allocation granularity {}; changes are from the start of the tour\n",
            bytes(vmem::page_size() as u64),
            bytes(vmem::allocation_granularity() as u64)
        );
    }
    tour.record("start", "Where this process stands before the tour.", Vec::new())?;
    reserve_commit_decommit(&mut tour)?;
    arena(&mut tour)?;
    vectors(&mut tour)?;
    mapped_file(&mut tour)?;
    ring(&mut tour)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&tour.steps)?);
    }
    if let Some(dir) = svg {
        let path = crate::chart::write_tour(dir, &tour.steps)?;
        if !json {
            outln!("\nchart: {}", path.display());
        }
    }
    Ok(())
}

fn reserve_commit_decommit(tour: &mut Tour) -> anyhow::Result<()> {
    let reservation = Reservation::new(64 * GIB).context("reserve 64 GiB")?;
    tour.record(
        "reserve 64 GiB",
        "The address space is set aside: mapped grows by 64 GiB, yet no memory is used or charged.",
        Vec::new(),
    )?;
    let size = 256 * MIB;
    reservation.commit(0, size).context("commit 256 MiB")?;
    tour.record(
        "commit 256 MiB",
        "The OS promises the memory (commit charge), but no page exists until it is touched.",
        Vec::new(),
    )?;
    let page = vmem::page_size();
    for offset in (0..size).step_by(page) {
        // SAFETY: the first 256 MiB are committed and read-write; the reservation outlives this.
        unsafe { reservation.as_ptr().add(offset).write_volatile(1) };
    }
    tour.record("touch every page", "First touch of each page makes it resident: RSS grows by 256 MiB.", Vec::new())?;
    reservation.decommit(0, size).context("decommit 256 MiB")?;
    tour.record(
        "decommit",
        "The pages go back to the OS: RSS and commit charge drop; the address space stays reserved.",
        Vec::new(),
    )?;
    drop(reservation);
    tour.record("release", "The 64 GiB of address space are free again.", Vec::new())
}

fn arena(tour: &mut Tour) -> anyhow::Result<()> {
    let mut arena = Arena::new();
    let count = 10_000_000u64;
    let start = std::time::Instant::now();
    let mut first: Option<*const u64> = None;
    for i in 0..count {
        let value = arena.try_alloc(i).map_err(|(_, e)| anyhow::anyhow!("arena allocation {i}: {e}"))?;
        first.get_or_insert(value as *const u64);
    }
    let elapsed = start.elapsed();
    // SAFETY: the first allocation lives until the reset below.
    let intact = first.is_some_and(|p| unsafe { *p } == 0);
    tour.record(
        "arena: 10 million allocations",
        "Each allocation is a pointer bump in one reserved block, committed in steps as it fills.",
        vec![
            ("allocated".into(), bytes(arena.allocated_bytes() as u64)),
            ("committed".into(), bytes(arena.committed_bytes() as u64)),
            ("reserved".into(), bytes(arena.reserved_bytes() as u64)),
            ("time per allocation".into(), format!("{:.1} ns", elapsed.as_nanos() as f64 / count as f64)),
            ("first allocation intact".into(), intact.to_string()),
        ],
    )?;
    arena.reset();
    tour.record(
        "arena: reset",
        "Everything is freed at once; what this round needed stays committed for the next one \
         (a steady reset loop never faults a page in again).",
        vec![("committed".into(), bytes(arena.committed_bytes() as u64))],
    )?;
    drop(arena);
    let cached = vmem::cache::stats();
    tour.record(
        "arena: drop",
        "Its block goes to the warm cache with up to 64 MiB of its memory (the rest is decommitted): \
         the next structure takes it without a system call or a page fault.",
        vec![
            ("cached".into(), format!("{} in {} region(s)", bytes(cached.bytes as u64), cached.entries)),
            ("cache bound".into(), bytes(vmem::cache::max_bytes() as u64)),
        ],
    )?;
    let released = vmem::trim();
    tour.record(
        "vmem::trim()",
        "The warm cache gives everything back to the OS: RSS and commit charge fall back.",
        vec![("released".into(), bytes(released as u64))],
    )
}

/// Grows a mapped file from 1 MiB to 1 GiB in 1 MiB steps, in place.
fn mapped_file(tour: &mut Tour) -> anyhow::Result<()> {
    let path = std::env::temp_dir().join(format!("vmem-tour-{}.bin", std::process::id()));
    let mut file = vmem::MappedFile::options()
        .create(true)
        .truncate(true)
        .max_size(GIB)
        .open(&path)
        .with_context(|| format!("create {}", path.display()))?;
    file.set_len(MIB).context("grow the file to 1 MiB")?;
    file.write_at(0, b"first MiB").context("write the file")?;
    let base = file.as_ptr();
    let mut moves = 0;
    let mut len = MIB;
    while len < GIB {
        len += MIB;
        file.set_len(len).with_context(|| format!("grow the file to {}", bytes(len as u64)))?;
        if file.as_ptr() != base {
            moves += 1;
        }
    }
    let mut first = [0u8; 9];
    file.read_at(0, &mut first).context("read the file")?;
    let facts = vec![
        ("steps".into(), (GIB / MIB - 1).to_string()),
        ("address".into(), format!("{:p} at 1 MiB, {:p} at 1 GiB", base, file.as_ptr())),
        ("moves".into(), moves.to_string()),
        ("first bytes intact".into(), (&first == b"first MiB").to_string()),
    ];
    tour.record(
        "mapped file: 1 MiB to 1 GiB",
        "1 GiB of address space is reserved and the file mapped into its front; each growth maps \
         the new part right behind, so the address never changes (memmap2 maps the file again \
         at each size).",
        facts,
    )?;
    drop(file);
    std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
    Ok(())
}

/// Pushes `u64`s until `target` bytes, counting how often the buffer moved.
fn grow_std_vec(target: usize) -> (u64, usize) {
    let mut v: Vec<u64> = Vec::new();
    let mut moves = 0;
    let mut data = v.as_ptr();
    for i in 0..(target / 8) as u64 {
        v.push(i);
        if v.as_ptr() != data {
            if i > 0 {
                moves += 1;
            }
            data = v.as_ptr();
        }
    }
    (v.iter().step_by(4096).sum(), moves)
}

fn vectors(tour: &mut Tour) -> anyhow::Result<()> {
    let target = GIB;
    let peak_known = sys::reset_peak_resident();
    let base = rss()?;
    let mut v: VirtualVec<u64> = VirtualVec::new();
    let first = {
        v.try_push(0).map_err(|(_, e)| anyhow::anyhow!("VirtualVec push: {e}"))?;
        v.as_ptr()
    };
    let mut moves = 0;
    for i in 1..(target / 8) as u64 {
        v.try_push(i).map_err(|(_, e)| anyhow::anyhow!("VirtualVec push {i}: {e}"))?;
    }
    if v.as_ptr() != first {
        moves += 1;
    }
    let checksum: u64 = v.iter().step_by(4096).sum();
    let virtual_peak = sys::peak_resident_bytes().filter(|_| peak_known);
    drop(v);

    let peak_known = sys::reset_peak_resident();
    let (std_checksum, std_moves) = grow_std_vec(target);
    let std_peak = sys::peak_resident_bytes().filter(|_| peak_known);
    anyhow::ensure!(checksum == std_checksum, "the two vectors disagree: {checksum} vs {std_checksum}");

    let peak =
        |p: Option<u64>| p.map(|p| format!("+{}", bytes(p.saturating_sub(base)))).unwrap_or_else(|| "n/a".into());
    tour.record(
        "VirtualVec vs Vec: grow to 1 GiB",
        "VirtualVec commits in place inside its reservation: the data never moves. \
         Vec reallocates as it grows (glibc uses mremap for large blocks, so its peak stays low too, but every move changes its address).",
        vec![
            ("VirtualVec peak RSS".into(), peak(virtual_peak)),
            ("Vec peak RSS".into(), peak(std_peak)),
            ("VirtualVec moves".into(), moves.to_string()),
            ("Vec moves".into(), std_moves.to_string()),
        ],
    )
}

fn ring(tour: &mut Tour) -> anyhow::Result<()> {
    let mut ring = RingBuffer::with_capacity(64 << 10).context("a 64 KiB ring buffer")?;
    let capacity = ring.capacity();
    let mut deque: VecDeque<u8> = VecDeque::with_capacity(capacity);
    // Fill three quarters, read half, then write past the end so the data wraps.
    let first: Vec<u8> = (0..capacity * 3 / 4).map(|i| (i % 251) as u8).collect();
    ring.push_slice(&first);
    deque.extend(&first);
    let mut sink = vec![0u8; capacity / 2];
    ring.pop_slice(&mut sink);
    deque.drain(..capacity / 2);
    let second: Vec<u8> = (0..capacity / 2).map(|i| (i % 241) as u8).collect();
    ring.push_slice(&second);
    deque.extend(&second);
    let readable = ring.readable();
    let (a, b) = deque.as_slices();
    anyhow::ensure!(readable.iter().eq(deque.iter()), "the ring buffer and VecDeque disagree");
    tour.record(
        "ring buffer: write across the end",
        "The buffer is mapped twice, back to back, so wrapped data is one contiguous slice; VecDeque hands out two.",
        vec![
            ("capacity".into(), bytes(capacity as u64)),
            ("RingBuffer readable".into(), format!("one slice of {} bytes", readable.len())),
            ("VecDeque as_slices".into(), format!("{} + {} bytes", a.len(), b.len())),
        ],
    )
}
