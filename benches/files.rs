//! `FileVec` appends against `BufWriter<File>` and against memmap2 re-mapped at each
//! doubling; `MappedFile` growth by 1 MiB steps to 1 GiB against memmap2's unmap + re-map
//! at each step. Interleaved rounds in one process: in each round every variant (in a
//! rotating order) runs once untimed, right before its timed run, so all of them see the
//! machine in the same state. Each run writes a fresh file in the temporary directory
//! (`TMPDIR`), removed after the run.
//!
//! ```sh
//! cargo bench --bench files            # VMEM_BENCH_ROUNDS=N to change the 7 rounds
//! ```
//!
//! Prints, per scenario, each variant's median time and the median (min..max) over rounds
//! of *variant time / vmem time* in the same round (above 1: vmem is faster).

use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vmem::{FileVec, MappedFile};

/// Bytes appended per run.
const APPEND_BYTES: usize = 64 << 20;

fn fresh_path(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Appends `APPEND_BYTES` of `R`-byte records with `FileVec`.
fn filevec<const R: usize>(dir: &Path, sync: bool) -> Duration {
    let path = fresh_path(dir, "filevec");
    let record = [7u8; R];
    let start = Instant::now();
    let mut v = FileVec::<[u8; R]>::create(&path).unwrap();
    for _ in 0..APPEND_BYTES / R {
        v.push(*black_box(&record)).unwrap();
    }
    if sync {
        v.sync().unwrap();
    }
    drop(v);
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    elapsed
}

/// The same records through `BufWriter<File>` (its default 8 KiB buffer); the sync is
/// `flush` + `sync_data`.
fn bufwriter<const R: usize>(dir: &Path, sync: bool) -> Duration {
    let path = fresh_path(dir, "bufwriter");
    let record = [7u8; R];
    let start = Instant::now();
    let mut w = BufWriter::new(File::create(&path).unwrap());
    for _ in 0..APPEND_BYTES / R {
        w.write_all(black_box(&record)).unwrap();
    }
    let file = w.into_inner().unwrap();
    if sync {
        file.sync_data().unwrap();
    }
    drop(file);
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    elapsed
}

/// The same records copied into a memmap2 mapping of the file, which is extended
/// (`set_len`) and mapped again whenever it is full, doubling from 4 KiB; the sync is
/// `flush` (msync) + the length already set.
fn memmap<const R: usize>(dir: &Path, sync: bool) -> Duration {
    let path = fresh_path(dir, "memmap2");
    let record = [7u8; R];
    let start = Instant::now();
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    let mut capacity = 4096usize;
    file.set_len(capacity as u64).unwrap();
    // SAFETY: nothing else uses the file.
    let mut map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
    let mut len = 0usize;
    for _ in 0..APPEND_BYTES / R {
        if len + R > capacity {
            capacity *= 2;
            drop(map);
            file.set_len(capacity as u64).unwrap();
            // SAFETY: as above.
            map = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
        }
        map[len..len + R].copy_from_slice(black_box(&record));
        len += R;
    }
    if sync {
        map.flush().unwrap();
    }
    drop(map);
    drop(file);
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    elapsed
}

const GROW_STEP: usize = 1 << 20;
const GROW_TO: usize = 1 << 30;

/// Grows a `MappedFile` from 1 MiB to 1 GiB in 1 MiB steps, writing one byte of each new
/// MiB through the mapping (the base never moves).
fn mapped_grow(dir: &Path) -> Duration {
    let path = fresh_path(dir, "mapped");
    let start = Instant::now();
    let mut file = MappedFile::options().create(true).truncate(true).max_size(GROW_TO).open(&path).unwrap();
    let mut len = 0;
    while len < GROW_TO {
        file.set_len(len + GROW_STEP).unwrap();
        file.write_at(len, &[1]).unwrap();
        len += GROW_STEP;
    }
    drop(file);
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    elapsed
}

/// The same with memmap2: `set_len`, drop the mapping, map the whole file again, write one
/// byte of the new MiB.
fn memmap_grow(dir: &Path) -> Duration {
    let path = fresh_path(dir, "memmap2-grow");
    let start = Instant::now();
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
    let mut map: Option<memmap2::MmapMut> = None;
    let mut len = 0;
    while len < GROW_TO {
        file.set_len((len + GROW_STEP) as u64).unwrap();
        drop(map.take());
        // SAFETY: nothing else uses the file.
        let mut m = unsafe { memmap2::MmapMut::map_mut(&file) }.unwrap();
        m[len] = 1;
        map = Some(m);
        len += GROW_STEP;
    }
    drop(map);
    drop(file);
    let elapsed = start.elapsed();
    std::fs::remove_file(&path).unwrap();
    elapsed
}

type Run = fn(&Path) -> Duration;

fn scenario(dir: &Path, rounds: usize, name: &str, variants: &[(&str, Run)]) {
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let index = (round + k) % variants.len();
            let run = variants[index].1;
            run(dir);
            times[index].push(run(dir).as_secs_f64());
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    for (index, (variant, _)) in variants.iter().enumerate() {
        let ratios: Vec<f64> = times[index].iter().zip(&times[0]).map(|(t, v)| t / v).collect();
        let (min, max) = ratios.iter().fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        println!(
            "| {name} | {variant} | {:.2} ms | {:.2}x ({min:.2}..{max:.2}) |",
            median(&times[index]) * 1e3,
            median(&ratios)
        );
    }
}

fn main() {
    // Only when benchmarking (`cargo bench`), not when run as a test.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds: usize = std::env::var("VMEM_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let dir = std::env::temp_dir().join(format!("vmem-bench-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("\n## Interleaved rounds ({rounds} per scenario; ratio = variant time / vmem time in the same round)\n");
    println!("| scenario | variant | median | ratio vs vmem: median (min..max) |");
    println!("|---|---|---|---|");
    scenario(
        &dir,
        rounds,
        "append 64 MiB of 16 B records",
        &[
            ("FileVec", |d| filevec::<16>(d, false)),
            ("BufWriter<File>", |d| bufwriter::<16>(d, false)),
            ("memmap2, re-map at doubling", |d| memmap::<16>(d, false)),
        ],
    );
    scenario(
        &dir,
        rounds,
        "append 64 MiB of 16 B records + sync",
        &[
            ("FileVec", |d| filevec::<16>(d, true)),
            ("BufWriter<File>", |d| bufwriter::<16>(d, true)),
            ("memmap2, re-map at doubling", |d| memmap::<16>(d, true)),
        ],
    );
    scenario(
        &dir,
        rounds,
        "append 64 MiB of 4 KiB records",
        &[
            ("FileVec", |d| filevec::<4096>(d, false)),
            ("BufWriter<File>", |d| bufwriter::<4096>(d, false)),
            ("memmap2, re-map at doubling", |d| memmap::<4096>(d, false)),
        ],
    );
    scenario(
        &dir,
        rounds,
        "append 64 MiB of 4 KiB records + sync",
        &[
            ("FileVec", |d| filevec::<4096>(d, true)),
            ("BufWriter<File>", |d| bufwriter::<4096>(d, true)),
            ("memmap2, re-map at doubling", |d| memmap::<4096>(d, true)),
        ],
    );
    scenario(
        &dir,
        rounds,
        "grow 1 MiB steps to 1 GiB",
        &[("MappedFile::set_len", mapped_grow), ("memmap2 unmap + map", memmap_grow)],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
