//! `reserve_at`, `advise`, and the lock and protect guards, checked against what the OS
//! reports (Linux: `/proc/self/smaps` flags, locked bytes, faults in a child process).
#![cfg(target_os = "linux")]

mod common;

use vmem::{Advice, ErrorKind, PageState, Protection, Reservation};

const MIB: usize = 1 << 20;

/// The `VmFlags` line of the `/proc/self/smaps` entry that contains `address`.
fn vm_flags(address: usize) -> Vec<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                    inside = lo <= address && address < hi;
                    continue;
                }
            }
        }
        if inside {
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                return flags.split_whitespace().map(str::to_owned).collect();
            }
        }
    }
    panic!("no mapping holds {address:#x}");
}

/// A free, granularity-aligned range of `size` bytes (reserved and released again).
fn free_address(size: usize) -> usize {
    let probe = vmem::reserve(size).unwrap();
    // SAFETY: the probe is released once and not used afterwards.
    unsafe { vmem::release(probe.as_ptr(), size).unwrap() };
    probe.as_ptr() as usize
}

#[test]
fn reserve_at_refuses_bad_arguments() {
    let granularity = vmem::allocation_granularity();
    let err = vmem::reserve_at(0, MIB).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("null"), "{err}");
    let err = vmem::reserve_at(free_address(MIB) + 1, MIB).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("granularity"), "{err}");
    assert_eq!(vmem::reserve_at(free_address(MIB), 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    let near_end = usize::MAX & !(granularity - 1);
    assert_eq!(vmem::reserve_at(near_end, 2 * granularity).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(vmem::reserve_at(granularity, usize::MAX).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
}

#[test]
fn reserve_at_places_exactly_or_refuses_without_touching_what_is_there() {
    let taken = Reservation::new(4 * MIB).unwrap();
    taken.commit(0, 4 * MIB).unwrap();
    // SAFETY: committed and read-write.
    unsafe { taken.as_ptr().write_bytes(0x5A, 4 * MIB) };
    // Exactly on it, overlapping its tail, overlapping its head: refused.
    let base = taken.as_ptr() as usize;
    for (address, size) in [(base, 4 * MIB), (base + 2 * MIB, 4 * MIB), (base - MIB, 2 * MIB)] {
        let err = vmem::reserve_at(address, size).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
        assert!(err.to_string().contains("already mapped"), "{err}");
    }
    // What was there is untouched.
    // SAFETY: still committed; nothing else wrote to it.
    let bytes = unsafe { std::slice::from_raw_parts(taken.as_ptr(), 4 * MIB) };
    assert!(bytes.iter().all(|&b| b == 0x5A));
    assert!(vmem::query(taken.as_ptr(), 4 * MIB).unwrap().iter().all(|run| run.state == PageState::Committed));

    // A free range: placed exactly there, and usable.
    let address = free_address(8 * MIB);
    let r = Reservation::new_at(address, 8 * MIB).unwrap();
    assert_eq!(r.as_ptr() as usize, address);
    assert_eq!(r.len(), 8 * MIB);
    r.commit(0, MIB).unwrap();
    // SAFETY: committed and read-write.
    unsafe { r.as_ptr().write_bytes(1, MIB) };
    assert_eq!(vmem::query(r.as_ptr(), 8 * MIB).unwrap()[0].state, PageState::Committed);
    drop(r);
    // Released: the address is free again.
    let again = Reservation::new_at(address, 8 * MIB).unwrap();
    assert_eq!(again.as_ptr() as usize, address);
}

#[test]
fn advise_refuses_bad_arguments() {
    let r = Reservation::new(MIB).unwrap();
    // SAFETY: each call is refused before it reaches the OS.
    unsafe {
        assert_eq!(
            vmem::advise(std::ptr::null_mut(), 4096, Advice::Normal).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(vmem::advise(r.as_ptr(), 0, Advice::Normal).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            vmem::advise(r.as_ptr(), usize::MAX, Advice::Normal).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    assert_eq!(r.advise(0, 0, Advice::Random).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(r.advise(MIB - 1, 2, Advice::Random).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(r.advise(usize::MAX, 2, Advice::Random).unwrap_err().kind(), ErrorKind::OutOfBounds);
    // `Free` needs committed, writable pages, on every OS.
    let err = r.advise(0, MIB, Advice::Free).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    r.commit(0, MIB).unwrap();
    r.protect(0, 4096, Protection::Read).unwrap();
    assert_eq!(r.advise(0, MIB, Advice::Free).unwrap_err().kind(), ErrorKind::InvalidArgument);
    // Unmapped memory: refused by the OS, as the raw function documents.
    let address = free_address(MIB);
    // SAFETY: nothing is mapped there; madvise refuses without changing anything.
    let err = unsafe { vmem::advise(address as *mut u8, MIB, Advice::WillNeed) }.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

#[test]
fn advice_reaches_the_kernel() {
    let r = Reservation::with_alignment(4 * MIB, 2 * MIB).unwrap();
    r.commit(0, 4 * MIB).unwrap();
    let at = r.as_ptr() as usize;
    let expect = |advice: Advice, flag: &str, present: bool| {
        r.advise(0, 4 * MIB, advice).unwrap();
        let flags = vm_flags(at);
        assert_eq!(flags.iter().any(|f| f == flag), present, "{advice:?}: VmFlags {flags:?}");
    };
    expect(Advice::Sequential, "sr", true);
    expect(Advice::Random, "rr", true);
    expect(Advice::Random, "sr", false);
    expect(Advice::Normal, "rr", false);
    expect(Advice::DontDump, "dd", true);
    expect(Advice::DoDump, "dd", false);
    if std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
        expect(Advice::HugePages, "hg", true);
        expect(Advice::NoHugePages, "nh", true);
        expect(Advice::NoHugePages, "hg", false);
    }
    r.advise(0, 4 * MIB, Advice::WillNeed).unwrap();
}

#[test]
fn free_advice_keeps_pages_usable_and_reading_old_bytes_or_zeros() {
    let r = Reservation::new(8 * MIB).unwrap();
    r.commit(0, 8 * MIB).unwrap();
    // SAFETY: committed and read-write.
    unsafe { r.as_ptr().write_bytes(0xC3, 8 * MIB) };
    r.advise(0, 8 * MIB, Advice::Free).unwrap();
    // Still committed (commit charge kept) and accessible.
    assert!(r.is_writable(0, 8 * MIB));
    // SAFETY: still committed and read-write; each byte is the old one or zero.
    let bytes = unsafe { std::slice::from_raw_parts(r.as_ptr(), 8 * MIB) };
    assert!(bytes.iter().all(|&b| b == 0xC3 || b == 0));
    // A write makes the page ours again.
    // SAFETY: as above.
    unsafe { r.as_ptr().write_bytes(7, 8 * MIB) };
    assert!(bytes.iter().all(|&b| b == 7));
}

#[test]
fn free_advice_is_refused_for_file_views() {
    let path = std::env::temp_dir().join(format!("vmem-advice-{}", std::process::id()));
    let mut file = vmem::MappedFile::create(&path).unwrap();
    file.set_len(MIB).unwrap();
    file.write_at(0, &[9; MIB]).unwrap();
    let err = file.advise(0, MIB, Advice::Free).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().contains("private"), "{err}");
    file.advise(0, MIB, Advice::Sequential).unwrap();
    file.advise(0, MIB, Advice::WillNeed).unwrap();
    let mut back = vec![0; MIB];
    file.read_at(0, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 9));
    drop(file);
    std::fs::remove_file(&path).unwrap();
}

/// Locked bytes of the mapping holding `address` (smaps `Locked:`).
fn locked_bytes(address: usize) -> usize {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                    inside = lo <= address && address < hi;
                    continue;
                }
            }
        }
        if inside {
            if let Some(kb) = line.strip_prefix("Locked:") {
                return kb.trim().trim_end_matches("kB").trim().parse::<usize>().unwrap() * 1024;
            }
        }
    }
    panic!("no mapping holds {address:#x}");
}

#[test]
fn lock_guard_unlocks_on_drop_and_on_unlock() {
    let page = vmem::page_size();
    let r = Reservation::new(16 * page).unwrap();
    assert_eq!(r.lock_guard(0, page).unwrap_err().kind(), ErrorKind::InvalidArgument, "not committed");
    assert_eq!(r.lock_guard(0, 0).unwrap_err().kind(), ErrorKind::InvalidArgument);
    assert_eq!(r.lock_guard(0, 17 * page).unwrap_err().kind(), ErrorKind::OutOfBounds);
    r.commit(0, 16 * page).unwrap();
    let guard = match r.lock_guard(page + 1, 2 * page) {
        Ok(guard) => guard,
        // RLIMIT_MEMLOCK too small for three pages: nothing to check here.
        Err(e) if e.kind() == ErrorKind::PermissionDenied || e.kind() == ErrorKind::OutOfMemory => return,
        Err(e) => panic!("{e}"),
    };
    assert_eq!((guard.offset(), guard.len()), (page, 3 * page));
    let address = r.as_ptr() as usize + page;
    assert_eq!(locked_bytes(address), 3 * page);
    drop(guard);
    assert_eq!(locked_bytes(address), 0);
    let guard = r.lock_guard(0, 16 * page).unwrap();
    assert_eq!(locked_bytes(address), 16 * page);
    guard.unlock().unwrap();
    assert_eq!(locked_bytes(address), 0);
}

#[test]
fn protect_guard_restores_each_earlier_protection() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    assert_eq!(r.protect_guard(0, page, Protection::Read).unwrap_err().kind(), ErrorKind::InvalidArgument);
    r.commit(0, 4 * page).unwrap();
    r.protect(page, page, Protection::Read).unwrap();
    r.protect(2 * page, page, Protection::NoAccess).unwrap();
    let before: Vec<_> = r.query().unwrap().iter().map(|run| (run.start, run.size, run.protection)).collect();
    let guard = r.protect_guard(0, 4 * page, Protection::Read).unwrap();
    let during = r.query().unwrap();
    assert_eq!(during.len(), 1);
    assert_eq!(during[0].protection, Protection::Read);
    drop(guard);
    let after: Vec<_> = r.query().unwrap().iter().map(|run| (run.start, run.size, run.protection)).collect();
    assert_eq!(after, before);
    // The record agrees with the OS.
    assert!(r.is_writable(0, page));
    assert!(!r.is_writable(page, page));
    assert!(r.is_committed(2 * page, page));
}

#[test]
fn protect_guard_leaves_pages_decommitted_meanwhile_alone() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    r.commit(0, 4 * page).unwrap();
    let guard = r.protect_guard(0, 4 * page, Protection::Read).unwrap();
    r.decommit(page, 2 * page).unwrap();
    guard.restore().unwrap();
    let runs = r.query().unwrap();
    let states: Vec<_> = runs.iter().map(|run| (run.size / page, run.state, run.protection)).collect();
    assert_eq!(
        states,
        [
            (1, PageState::Committed, Protection::ReadWrite),
            (2, PageState::Reserved, Protection::NoAccess),
            (1, PageState::Committed, Protection::ReadWrite),
        ]
    );
    // The decommitted pages were not made accessible: they fault (checked in a child).
    let outcome = common::in_child("protect_guard_leaves_pages_decommitted_meanwhile_alone", || {
        let r = Reservation::new(4 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        let guard = r.protect_guard(0, 4 * page, Protection::Read).unwrap();
        r.decommit(page, 2 * page).unwrap();
        drop(guard);
        // SAFETY: deliberately faults: the page is decommitted.
        unsafe { r.as_ptr().add(page).write_volatile(1) };
    });
    assert_eq!(outcome.signal, Some(libc_sigsegv()), "{outcome:#?}");
}

#[test]
fn protect_guard_really_protects_until_dropped() {
    let outcome = common::in_child("protect_guard_really_protects_until_dropped", || {
        let r = Reservation::new(4096).unwrap();
        r.commit(0, 4096).unwrap();
        {
            let _guard = r.protect_guard(0, 4096, Protection::Read).unwrap();
        }
        // SAFETY: read-write again.
        unsafe { r.as_ptr().write_volatile(1) };
        println!("restored write ok");
        let _guard = r.protect_guard(0, 4096, Protection::Read).unwrap();
        // SAFETY: deliberately faults: the page is read-only while the guard lives.
        unsafe { r.as_ptr().write_volatile(2) };
    });
    assert!(outcome.stdout.contains("restored write ok"), "{outcome:#?}");
    assert_eq!(outcome.signal, Some(libc_sigsegv()), "{outcome:#?}");
}

#[test]
fn protect_guard_of_pages_committed_with_the_raw_functions() {
    let page = vmem::page_size();
    let r = Reservation::new(2 * page).unwrap();
    // SAFETY: inside our reservation; the record does not know, so the OS is asked.
    unsafe {
        vmem::commit(r.as_ptr(), 2 * page).unwrap();
        vmem::protect(r.as_ptr(), page, Protection::Read).unwrap();
    }
    let guard = r.protect_guard(0, 2 * page, Protection::NoAccess).unwrap();
    drop(guard);
    let runs: Vec<_> = r.query().unwrap().iter().map(|run| run.protection).collect();
    assert_eq!(runs, [Protection::Read, Protection::ReadWrite]);
}

fn libc_sigsegv() -> i32 {
    11
}
