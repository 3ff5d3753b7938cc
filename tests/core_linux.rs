//! What the core layer promises, checked against what Linux reports: RSS, the commit
//! charge, faults in child processes, and failures under resource limits.
#![cfg(target_os = "linux")]

mod common;

use common::{committed_as, in_child, rss, set_limit};
use rustix::process::{Resource, Signal};
use vmem::{ErrorKind, PageState, Protection, Reservation};

const MIB: usize = 1 << 20;
const GIB: usize = 1 << 30;

/// The commit charge is system-wide; other processes move it too. Allow this much noise.
const CHARGE_NOISE: i64 = 96 << 20;

fn touch_every_page(r: &Reservation, offset: usize, len: usize) {
    let page = vmem::page_size();
    for at in (offset..offset + len).step_by(page) {
        // SAFETY: callers only pass committed, writable ranges of `r`.
        unsafe { r.as_ptr().add(at).write_volatile(1) };
    }
}

#[test]
fn reserving_64_gib_costs_no_memory_and_no_commit_charge() {
    // In a child: RSS is process-wide, and sibling tests allocate and free concurrently.
    in_child(
        "reserving_64_gib_costs_no_memory_and_no_commit_charge",
        reserving_64_gib_costs_no_memory_and_no_commit_charge_body,
    )
    .assert_success();
}

fn reserving_64_gib_costs_no_memory_and_no_commit_charge_body() {
    let rss_before = rss();
    let charge_before = committed_as() as i64;
    let r = Reservation::new(64 * GIB).unwrap();
    let rss_after = rss();
    let charge_after = committed_as() as i64;
    assert_eq!(r.len(), 64 * GIB);
    assert!(rss_after.abs_diff(rss_before) < 4 * MIB, "RSS moved {rss_before} -> {rss_after}");
    assert!((charge_after - charge_before).abs() < CHARGE_NOISE, "charge moved {charge_before} -> {charge_after}");
    assert_eq!(
        r.query().unwrap(),
        [vmem::RegionInfo {
            start: r.as_ptr() as usize,
            size: 64 * GIB,
            state: PageState::Reserved,
            protection: Protection::NoAccess
        }]
    );
}

#[test]
fn reading_reserved_memory_faults_in_a_child() {
    let outcome = in_child("reading_reserved_memory_faults_in_a_child", || {
        let r = Reservation::new(MIB).unwrap();
        // SAFETY: deliberately unsound: the page is reserved, so this read must fault.
        let value = unsafe { r.as_ptr().add(4096).read_volatile() };
        println!("read {value}");
    });
    assert_eq!(outcome.signal, Some(Signal::SEGV.as_raw()), "{outcome:#?}");
}

#[test]
fn writing_reserved_memory_faults_in_a_child() {
    let outcome = in_child("writing_reserved_memory_faults_in_a_child", || {
        let r = Reservation::new(MIB).unwrap();
        // SAFETY: deliberately unsound: the page is reserved, so this write must fault.
        unsafe { r.as_ptr().write_volatile(1) };
    });
    assert_eq!(outcome.signal, Some(Signal::SEGV.as_raw()), "{outcome:#?}");
}

#[test]
fn a_guard_page_faults_and_the_page_before_it_does_not() {
    let outcome = in_child("a_guard_page_faults_and_the_page_before_it_does_not", || {
        let page = vmem::page_size();
        let r = Reservation::new(3 * page).unwrap();
        r.commit(0, 3 * page).unwrap();
        r.guard(2 * page, page).unwrap();
        // SAFETY: the last byte before the guard is committed and writable.
        unsafe { r.as_ptr().add(2 * page - 1).write_volatile(7) };
        println!("before guard: ok");
        // SAFETY: deliberately unsound: the guard page must fault.
        unsafe { r.as_ptr().add(2 * page).write_volatile(7) };
        println!("after guard: no fault");
    });
    assert_eq!(outcome.signal, Some(Signal::SEGV.as_raw()), "{outcome:#?}");
    assert!(outcome.stdout.contains("before guard: ok"), "{outcome:#?}");
    assert!(!outcome.stdout.contains("after guard"), "{outcome:#?}");
}

#[test]
fn protection_is_enforced_in_a_child() {
    let outcome = in_child("protection_is_enforced_in_a_child", || {
        let page = vmem::page_size();
        let r = Reservation::new(page).unwrap();
        r.commit(0, page).unwrap();
        r.protect(0, page, Protection::Read).unwrap();
        // SAFETY: the page is committed and readable.
        assert_eq!(unsafe { r.as_ptr().read_volatile() }, 0);
        println!("read ok");
        // SAFETY: deliberately unsound: the page is read-only, so this write must fault.
        unsafe { r.as_ptr().write_volatile(1) };
    });
    assert_eq!(outcome.signal, Some(Signal::SEGV.as_raw()), "{outcome:#?}");
    assert!(outcome.stdout.contains("read ok"));
}

#[test]
fn committed_memory_reads_zero_and_recommit_keeps_contents() {
    let size = 4 * MIB;
    let r = Reservation::new(size).unwrap();
    r.commit(0, size).unwrap();
    // SAFETY: the whole range is committed and read-write.
    let bytes = unsafe { core::slice::from_raw_parts_mut(r.as_ptr(), size) };
    assert!(bytes.iter().all(|&b| b == 0));
    bytes.fill(0x5A);
    r.commit(0, size).unwrap();
    // SAFETY: still committed.
    let bytes = unsafe { core::slice::from_raw_parts(r.as_ptr(), size) };
    assert!(bytes.iter().all(|&b| b == 0x5A));
}

#[test]
fn decommit_returns_rss_and_commit_charge_and_recommit_reads_zero() {
    // In a child: RSS is process-wide, and sibling tests allocate and free concurrently.
    in_child(
        "decommit_returns_rss_and_commit_charge_and_recommit_reads_zero",
        decommit_returns_rss_and_commit_charge_and_recommit_reads_zero_body,
    )
    .assert_success();
}

fn decommit_returns_rss_and_commit_charge_and_recommit_reads_zero_body() {
    let size = 256 * MIB;
    let r = Reservation::new(GIB).unwrap();
    // Committed_AS is system-wide: other processes (sibling tests under a sanitizer, say)
    // move it too. The charge must match in one of a few attempts; RSS, which is this
    // process's own, must match in every one.
    let mut charges = Vec::new();
    for _attempt in 0..5 {
        let rss_start = rss();
        let charge_start = committed_as() as i64;

        r.commit(0, size).unwrap();
        let charge_committed = committed_as() as i64;
        touch_every_page(&r, 0, size);
        let rss_touched = rss();

        r.decommit(0, size).unwrap();
        let rss_decommitted = rss();
        let charge_decommitted = committed_as() as i64;

        assert!(rss_touched >= rss_start + size - 8 * MIB, "touching did not raise RSS: {rss_start} -> {rss_touched}");
        assert!(rss_decommitted < rss_start + 8 * MIB, "RSS after decommit: {rss_start} -> {rss_decommitted}");
        let charged = charge_committed - charge_start;
        let returned = charge_committed - charge_decommitted;
        charges.push((charged, returned));
        if (charged - size as i64).abs() < CHARGE_NOISE && (returned - size as i64).abs() < CHARGE_NOISE {
            break;
        }
    }
    let (charged, returned) = *charges.last().unwrap();
    assert!(
        (charged - size as i64).abs() < CHARGE_NOISE && (returned - size as i64).abs() < CHARGE_NOISE,
        "commit charged / decommit returned (bytes, for {size}) in each attempt: {charges:?}"
    );

    r.commit(0, size).unwrap();
    // SAFETY: committed again.
    let bytes = unsafe { core::slice::from_raw_parts(r.as_ptr(), size) };
    assert!(bytes.iter().step_by(4096).all(|&b| b == 0));
}

#[test]
fn prefault_raises_rss_without_touching() {
    // In a child: RSS is process-wide, and sibling tests free memory concurrently.
    in_child("prefault_raises_rss_without_touching", prefault_body).assert_success();
}

fn prefault_body() {
    let size = 64 * MIB;
    let r = Reservation::new(size).unwrap();
    r.commit(0, size).unwrap();
    let before = rss();
    r.prefault(0, size).unwrap();
    let after = rss();
    assert!(after >= before + size - 4 * MIB, "prefault: {before} -> {after}");
    // Prefaulting reserved memory is refused, not a crash.
    r.decommit(0, MIB).unwrap();
    assert_eq!(r.prefault(0, size).unwrap_err().kind(), ErrorKind::InvalidArgument);
}

#[test]
fn huge_page_advice_is_taken_or_unsupported() {
    let huge = vmem::huge_page_size().unwrap_or(2 * MIB);
    let r = Reservation::with_alignment(4 * huge, huge).unwrap();
    match r.advise_huge_pages(0, r.len()) {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}"),
    }
    r.commit(0, r.len()).unwrap();
    touch_every_page(&r, 0, r.len());
}

#[test]
fn too_large_reserve_under_rlimit_as_is_out_of_address_space() {
    let outcome = in_child("too_large_reserve_under_rlimit_as_is_out_of_address_space", || {
        set_limit(Resource::As, 2 << 30);
        let err = Reservation::new(4 << 30).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace);
        let text = err.to_string();
        assert!(text.contains("RLIMIT_AS") && text.contains(&(2u64 << 30).to_string()), "{text}");
        // The process is fine and can still reserve what fits.
        let small = Reservation::new(64 * MIB).unwrap();
        small.commit(0, MIB).unwrap();
        println!("{text}");
    });
    if common::under_sanitizer() {
        eprintln!("skipped under AddressSanitizer (its shadow memory exceeds any RLIMIT_AS)");
        return;
    }
    outcome.assert_success();
}

#[test]
fn too_large_commit_under_rlimit_data_is_out_of_memory_and_keeps_data() {
    let outcome = in_child("too_large_commit_under_rlimit_data_is_out_of_memory_and_keeps_data", || {
        let r = Reservation::new(GIB).unwrap();
        r.commit(0, MIB).unwrap();
        // SAFETY: the first MiB is committed and read-write.
        unsafe { r.as_ptr().write_bytes(0xC3, MIB) };
        set_limit(Resource::Data, 256 * MIB as u64);
        let err = r.commit(MIB, 512 * MIB).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfMemory);
        let text = err.to_string();
        assert!(text.starts_with("commit of 536870912 bytes at 0x"), "{text}");
        assert!(text.contains("RLIMIT_DATA is 268435456"), "{text}");
        assert!(text.contains("os error 12"), "{text}");
        // SAFETY: the first MiB is still committed: a failed commit changes nothing.
        let kept = unsafe { core::slice::from_raw_parts(r.as_ptr(), MIB) };
        assert!(kept.iter().all(|&b| b == 0xC3));
        let runs = r.query().unwrap();
        assert_eq!((runs[0].state, runs[0].size), (PageState::Committed, MIB));
        assert_eq!(runs[1].state, PageState::Reserved);
        // A commit that fits still works.
        r.commit(MIB, MIB).unwrap();
    });
    outcome.assert_success();
}

#[test]
fn lock_past_rlimit_memlock_is_an_error() {
    let outcome = in_child("lock_past_rlimit_memlock_is_an_error", || {
        // CAP_IPC_LOCK (root has it) lifts RLIMIT_MEMLOCK: drop it so the limit applies.
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        let mut caps = capabilities(None).unwrap();
        caps.effective.remove(CapabilitySet::IPC_LOCK);
        set_capabilities(None, caps).unwrap();
        set_limit(Resource::Memlock, 64 * 1024);
        let r = Reservation::new(16 * MIB).unwrap();
        r.commit(0, 16 * MIB).unwrap();
        let err = r.lock(0, 16 * MIB).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::OutOfMemory | ErrorKind::PermissionDenied), "{err}");
        assert!(err.to_string().contains("RLIMIT_MEMLOCK is 65536"), "{err}");
        // The process lives on: a lock within the limit works, and the data is intact.
        // SAFETY: the range is committed and read-write.
        unsafe { r.as_ptr().write(9) };
        r.lock(0, vmem::page_size()).unwrap();
        r.unlock(0, vmem::page_size()).unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { r.as_ptr().read() }, 9);
    });
    outcome.assert_success();
}

#[test]
fn lock_and_unlock_committed_memory() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    r.commit(0, 2 * page).unwrap();
    // Locking within the default limit works (or is refused by a zero limit with an error).
    if let Err(e) = r.lock(0, 2 * page) {
        assert!(matches!(e.kind(), ErrorKind::OutOfMemory | ErrorKind::PermissionDenied), "{e}");
    } else {
        r.unlock(0, 2 * page).unwrap();
    }
    // Pages that are not committed cannot be locked.
    let err = r.lock(0, 3 * page).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("not committed"), "{err}");
}

#[test]
fn query_agrees_with_what_was_done() {
    let page = vmem::page_size();
    let r = Reservation::new(8 * page).unwrap();
    r.commit(page, 3 * page).unwrap();
    r.protect(2 * page, page, Protection::Read).unwrap();
    r.commit(6 * page, page).unwrap();
    let base = r.as_ptr() as usize;
    let runs: Vec<_> =
        r.query().unwrap().iter().map(|run| (run.start - base, run.size, run.state, run.protection)).collect();
    assert_eq!(
        runs,
        [
            (0, page, PageState::Reserved, Protection::NoAccess),
            (page, page, PageState::Committed, Protection::ReadWrite),
            (2 * page, page, PageState::Committed, Protection::Read),
            (3 * page, page, PageState::Committed, Protection::ReadWrite),
            (4 * page, 2 * page, PageState::Reserved, Protection::NoAccess),
            (6 * page, page, PageState::Committed, Protection::ReadWrite),
            (7 * page, page, PageState::Reserved, Protection::NoAccess),
        ]
    );
    // A committed page that was written keeps being reported committed when made inaccessible.
    // SAFETY: page 1 is committed and read-write.
    unsafe { r.as_ptr().add(page).write(1) };
    r.protect(page, page, Protection::NoAccess).unwrap();
    let run = r.query_range(page, 1).unwrap()[0];
    assert_eq!((run.state, run.protection), (PageState::Committed, Protection::NoAccess));
}

#[test]
fn query_past_a_reservation_reports_free_pages() {
    let page = vmem::page_size();
    // Reserve three pages and release the last two so that the space after the first is free.
    let r = Reservation::new(3 * page).unwrap();
    let (base, len) = r.into_raw();
    // SAFETY: the tail two pages are ours and unused; Linux may unmap part of a mapping.
    unsafe { rustix::mm::munmap(base.as_ptr().add(page).cast(), len - page).unwrap() };
    let runs = vmem::query(base.as_ptr(), 3 * page).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[0].state, runs[0].size), (PageState::Reserved, page));
    assert_eq!((runs[1].state, runs[1].size), (PageState::Free, 2 * page));
    // SAFETY: the first page is the rest of the reservation.
    unsafe { vmem::release(base.as_ptr(), page).unwrap() };
}

#[test]
fn memory_status_is_plausible() {
    let status = vmem::memory_status().unwrap();
    assert!(status.total_physical_bytes >= 64 * MIB as u64);
    assert!(status.available_physical_bytes <= status.total_physical_bytes);
    assert!(status.committed_bytes.is_some() && status.commit_limit_bytes.is_some());
    assert!(vmem::huge_page_size().is_none_or(|h| h.is_power_of_two()));
}
