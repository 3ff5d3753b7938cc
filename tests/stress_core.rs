//! Stress for the core layer: many reservations alive at once, and long
//! reserve / commit / decommit / release cycles that must leave RSS where it started.
#![cfg(target_os = "linux")]

mod common;

use vmem::Reservation;

/// 10,000 reservations alive at once, each with its own committed page holding its index.
#[test]
fn ten_thousand_reservations_alive_at_once() {
    let page = vmem::page_size();
    let count = 10_000;
    let mut all = Vec::with_capacity(count);
    for i in 0..count {
        let r = Reservation::new(4 * page).unwrap();
        r.commit(page, page).unwrap();
        // SAFETY: the second page is committed and read-write.
        unsafe { r.as_ptr().add(page).cast::<u64>().write(i as u64) };
        all.push(r);
    }
    let mut bases: Vec<usize> = all.iter().map(|r| r.as_ptr() as usize).collect();
    bases.sort_unstable();
    assert!(bases.windows(2).all(|w| w[1] - w[0] >= 4 * page), "reservations overlap");
    for (i, r) in all.iter().enumerate() {
        // SAFETY: as above.
        assert_eq!(unsafe { r.as_ptr().add(page).cast::<u64>().read() }, i as u64);
    }
    drop(all);
}

/// Cycles of reserve 64 MiB → commit → touch → decommit → release leave RSS where it was.
/// In a child process: RSS is process-wide, and the other tests of this file change it.
#[test]
fn cycles_return_rss_to_start() {
    common::in_child("cycles_return_rss_to_start", || {
        let size = 64 << 20;
        let page = vmem::page_size();
        let cycle = || {
            let r = Reservation::new(size).unwrap();
            r.commit(0, size).unwrap();
            for offset in (0..size).step_by(page) {
                // SAFETY: the whole range is committed and read-write.
                unsafe { r.as_ptr().add(offset).write(1) };
            }
            r.decommit(0, size).unwrap();
            r.commit(0, size).unwrap();
            // SAFETY: committed again; decommitted memory must read zero.
            assert_eq!(unsafe { r.as_ptr().add(size / 2).read() }, 0);
            drop(r);
        };
        // Warm up the allocator and the code paths once, then measure.
        cycle();
        let before = common::rss();
        for _ in 0..200 {
            cycle();
        }
        let after = common::rss();
        let grown = after.saturating_sub(before);
        assert!(grown < 8 << 20, "RSS grew by {grown} bytes over 200 cycles of 64 MiB");
    })
    .assert_success();
}

/// Many commit/decommit steps inside one reservation never leave more than a handful of
/// mappings behind (each protection change can split a mapping; decommit must coalesce).
#[test]
fn commit_decommit_steps_do_not_leak_mappings() {
    let page = vmem::page_size();
    let r = Reservation::new(1024 * page).unwrap();
    for round in 0..20 {
        for i in (0..1024).step_by(2) {
            r.commit(i * page, page).unwrap();
        }
        r.decommit(0, 1024 * page).unwrap();
        let runs = r.query().unwrap();
        assert_eq!(runs.len(), 1, "round {round}: {runs:?}");
    }
}
