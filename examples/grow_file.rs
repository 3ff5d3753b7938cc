//! A mapped file that grows from 1 MiB to 1 GiB in 1 MiB steps without its mapping ever
//! moving, beside memmap2, whose mapping must be made again at each step and lands wherever
//! the OS puts it. What `vmem tour`'s mapped-file step shows.
//!
//! Run: `cargo run --release --example grow_file [DIR]` (the file is made in DIR, default the
//! temporary directory, and removed at the end).

use std::time::Instant;

use vmem::MappedFile;

const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map(std::path::PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let path = dir.join(format!("vmem-grow-file-{}.bin", std::process::id()));

    // vmem: reserve 1 GiB of address space, map the file into its front, grow in place.
    let start = Instant::now();
    let mut file = MappedFile::options().create(true).truncate(true).max_size(GIB).open(&path)?;
    file.set_len(MIB)?;
    let base = file.as_ptr();
    file.write_at(0, b"first MiB")?;
    let mut moves = 0;
    let mut len = MIB;
    while len < GIB {
        len += MIB;
        file.set_len(len)?;
        file.write_at(len - MIB, &[1])?;
        if file.as_ptr() != base {
            moves += 1;
        }
        if len.is_power_of_two() {
            println!("MappedFile  {:>5} MiB at {:p}", len / MIB, file.as_ptr());
        }
    }
    let mut first = [0u8; 9];
    file.read_at(0, &mut first)?;
    println!(
        "MappedFile: 1 MiB -> 1 GiB in {} steps, {moves} moves, first bytes intact: {}, {:.1} ms",
        GIB / MIB - 1,
        &first == b"first MiB",
        start.elapsed().as_secs_f64() * 1e3
    );
    drop(file);

    // memmap2: every growth is a new mapping of the whole file.
    let start = Instant::now();
    let raw = std::fs::OpenOptions::new().read(true).write(true).truncate(true).open(&path)?;
    raw.set_len(MIB as u64)?;
    // SAFETY: nothing else uses the file while it is mapped.
    let mut map = unsafe { memmap2::MmapMut::map_mut(&raw)? };
    let mut previous = map.as_ptr();
    let mut moves = 0;
    let mut len = MIB;
    while len < GIB {
        len += MIB;
        drop(map);
        raw.set_len(len as u64)?;
        // SAFETY: as above.
        map = unsafe { memmap2::MmapMut::map_mut(&raw)? };
        map[len - MIB] = 1;
        if map.as_ptr() != previous {
            moves += 1;
            previous = map.as_ptr();
        }
        if len.is_power_of_two() {
            println!("memmap2     {:>5} MiB at {:p}", len / MIB, map.as_ptr());
        }
    }
    println!(
        "memmap2: 1 MiB -> 1 GiB in {} steps, {moves} moves (every pointer into the old mapping dangles), {:.1} ms",
        GIB / MIB - 1,
        start.elapsed().as_secs_f64() * 1e3
    );
    drop(map);
    std::fs::remove_file(&path)?;
    Ok(())
}
