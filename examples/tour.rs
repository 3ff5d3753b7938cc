//! A short tour of what virtual memory does, measured live: reserve 64 GiB, commit and touch
//! 256 MiB, decommit it, release. After each step it prints this process's resident memory
//! (RSS) and the system's commit charge as the OS reports them.
//!
//! Run: `cargo run --release --example tour`

use vmem::Reservation;

const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

fn mib(bytes: u64) -> String {
    format!("{:>9.1} MiB", bytes as f64 / MIB as f64)
}

fn report(step: &str, rss_start: usize, charge_start: Option<u64>) -> vmem::Result<()> {
    let rss = vmem::resident_bytes()?;
    let charge = vmem::memory_status()?.committed_bytes;
    let charge_delta = match (charge, charge_start) {
        (Some(now), Some(start)) => format!("{:>+9.1} MiB", (now as f64 - start as f64) / MIB as f64),
        _ => "      n/a".to_string(),
    };
    println!(
        "{step:<38} RSS {}  ({:>+7.1} MiB)   commit charge {charge_delta}",
        mib(rss as u64),
        (rss as f64 - rss_start as f64) / MIB as f64
    );
    Ok(())
}

fn main() -> vmem::Result<()> {
    println!("page size {} bytes, allocation granularity {} bytes", vmem::page_size(), vmem::allocation_granularity());
    let rss_start = vmem::resident_bytes()?;
    let charge_start = vmem::memory_status()?.committed_bytes;
    report("start", rss_start, charge_start)?;

    let reservation = Reservation::new(64 * GIB)?;
    report("reserve 64 GiB", rss_start, charge_start)?;

    let size = 256 * MIB;
    reservation.commit(0, size)?;
    report("commit 256 MiB", rss_start, charge_start)?;

    let base = reservation.as_ptr();
    for offset in (0..size).step_by(vmem::page_size()) {
        // SAFETY: the first 256 MiB are committed and read-write.
        unsafe { base.add(offset).write_volatile(1) };
    }
    report("touch every page of it", rss_start, charge_start)?;

    reservation.decommit(0, size)?;
    report("decommit it", rss_start, charge_start)?;

    drop(reservation);
    report("release the 64 GiB", rss_start, charge_start)?;
    Ok(())
}
