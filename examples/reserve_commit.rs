//! The raw layer in a few lines: reserve address space, commit part of it, use it, give the
//! memory back, and ask the OS what the pages are. (`vmem tour` does the same and more, and
//! shows what the OS reports after each step.)
//!
//! Run: `cargo run --example reserve_commit`

use vmem::{PageState, Protection, Reservation};

fn main() -> vmem::Result<()> {
    let page = vmem::page_size();
    let r = Reservation::new(64 << 30)?; // 64 GiB of address space: no memory yet
    r.commit(0, 16 * page)?; // 16 pages, reading zero
                             // SAFETY: the first 16 pages are committed and read-write.
    let bytes = unsafe { std::slice::from_raw_parts_mut(r.as_ptr(), 16 * page) };
    bytes.fill(7);
    r.protect(0, page, Protection::Read)?; // the first page is read-only now
    r.decommit(8 * page, 8 * page)?; // half the memory goes back to the OS
    for run in r.query_range(0, 32 * page)? {
        println!("{:#x} {:>8} bytes {:?} {}", run.start, run.size, run.state, run.protection);
    }
    assert_eq!(r.query_range(8 * page, page)?[0].state, PageState::Reserved);
    Ok(()) // dropping `r` releases the 64 GiB
}
