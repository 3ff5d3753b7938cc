//! The contract points that the OS families used to disagree on (issue 19), checked where
//! this suite runs: unlocking pages that are not locked succeeds; a range outside any
//! reservation is `InvalidArgument` for commit, protect, lock and unlock (as on Windows);
//! locking reserved pages is `InvalidArgument`; a reservation larger than the address space
//! is `OutOfAddressSpace` (the kind the arena's fallback retries smaller on); a forked child
//! sees the ring buffer's double mapping whole and shares its bytes.

use vmem::{ErrorKind, Reservation};

#[cfg(unix)]
mod common;

#[test]
fn unlocking_pages_that_are_not_locked_succeeds() {
    let page = vmem::page_size();
    let r = Reservation::new(8 * page).unwrap();
    r.commit(0, 4 * page).unwrap();
    // Committed pages never locked, reserved pages, and both at once.
    r.unlock(0, 2 * page).unwrap();
    r.unlock(4 * page, 4 * page).unwrap();
    r.unlock(0, 8 * page).unwrap();
    // A range mixing locked and unlocked pages: every page ends up unlocked.
    match r.lock(page, page) {
        Ok(()) => {
            let locked = r.as_ptr() as usize + page;
            if let Some(kib) = locked_kib(locked) {
                assert!(kib > 0, "the page is not locked");
            }
            r.unlock(0, 8 * page).unwrap();
            if let Some(kib) = locked_kib(locked) {
                assert_eq!(kib, 0, "a page stayed locked");
            }
            // Unlocking it again is still harmless.
            r.unlock(page, page).unwrap();
        }
        // A locked-memory limit of zero is possible; then the lock is an error, not a crash.
        Err(e) => assert!(matches!(e.kind(), ErrorKind::OutOfMemory | ErrorKind::PermissionDenied), "{e}"),
    }
    let ring = vmem::RingBuffer::with_capacity(1).unwrap();
    ring.unlock().unwrap();
}

#[test]
fn locking_reserved_pages_is_invalid_argument() {
    let page = vmem::page_size();
    let r = Reservation::new(4 * page).unwrap();
    let err = r.lock(0, page).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    r.commit(0, page).unwrap();
    let err = r.lock(0, 2 * page).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}

#[test]
fn a_reservation_larger_than_the_address_space_is_out_of_address_space() {
    // 4 PiB: more than any user address space of today's 64-bit systems (128 TiB on x86-64
    // Linux and Windows, 64 PiB with 5-level paging only when asked for with a hint).
    let size = 1usize << 52;
    let err = vmem::reserve(size).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfAddressSpace, "{err}");
    assert_eq!(Reservation::new(size).unwrap_err().kind(), ErrorKind::OutOfAddressSpace);
    // The arena's fallback: a block that large is retried smaller until one fits.
    let arena = vmem::Arena::builder().block_size(size).build().unwrap();
    let value = arena.try_alloc(7u64).map_err(|(_, e)| e).unwrap();
    assert_eq!(*value, 7);
}

/// Commit, protect, lock and unlock of pages outside any reservation: on Unix they fail with
/// `ENOMEM` like a commit limit does; `msync` tells the two apart. Each call goes to a
/// two-page range released just before it: too small for the heap's own mappings (glibc and
/// ASan map far larger blocks), and in a child process, so no other thread maps it meanwhile.
#[cfg(unix)]
#[test]
fn a_range_outside_any_reservation_is_invalid_argument() {
    let outcome = common::in_child("a_range_outside_any_reservation_is_invalid_argument", || {
        let page = vmem::page_size();
        let released = || {
            let base = vmem::reserve(2 * page).unwrap().as_ptr();
            // SAFETY: the whole reservation is ours; nothing refers to it after the release.
            unsafe { vmem::release(base, 2 * page).unwrap() };
            base
        };
        // SAFETY: nothing is mapped at each range: each call only asks the OS, which refuses.
        // These are exactly the misuses the calls' contracts forbid, made here on purpose.
        let results = unsafe {
            [
                ("commit", vmem::commit(released(), 2 * page)),
                ("protect", vmem::protect(released(), page, vmem::Protection::Read)),
                ("lock", vmem::lock(released(), page)),
                ("unlock", vmem::unlock(released(), page)),
            ]
        };
        for (name, result) in results {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name}: {err}");
            assert!(err.to_string().contains("not mapped"), "{name}: {err}");
        }
    });
    outcome.assert_success();
}

/// The same on Linux without a child process: one page above address zero is below
/// `vm.mmap_min_addr`, so nothing is ever mapped there.
#[cfg(target_os = "linux")]
#[test]
fn a_range_below_mmap_min_addr_is_invalid_argument() {
    let page = vmem::page_size();
    let low = page as *mut u8;
    // SAFETY: nothing is mapped at `low`; each call only asks the OS, which refuses.
    unsafe {
        assert_eq!(vmem::commit(low, page).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(vmem::protect(low, page, vmem::Protection::Read).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(vmem::lock(low, page).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert_eq!(vmem::unlock(low, page).unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}

/// A reservation with a hole in the middle: commit of the whole range is `InvalidArgument`
/// and leaves the mapped parts as they were.
#[cfg(unix)]
#[test]
fn a_range_with_a_hole_is_invalid_argument() {
    let outcome = common::in_child("a_range_with_a_hole_is_invalid_argument", || {
        let page = vmem::page_size();
        let base = vmem::reserve(3 * page).unwrap().as_ptr();
        // SAFETY: the middle page of our own reservation; nothing refers to it.
        unsafe { rustix::mm::munmap(base.add(page).cast(), page).unwrap() };
        // SAFETY: the range is ours except for the hole, which the OS refuses.
        unsafe {
            let err = vmem::commit(base, 3 * page).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            let err = vmem::unlock(base, 3 * page).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
            // The parts around the hole are still reservations that work.
            vmem::commit(base, page).unwrap();
            base.write(1);
            vmem::unlock(base, page).unwrap();
            rustix::mm::munmap(base.cast(), page).unwrap();
            rustix::mm::munmap(base.add(2 * page).cast(), page).unwrap();
        }
    });
    outcome.assert_success();
}

/// What a `fork`ed child sees of a ring buffer: the whole double mapping (a write across the
/// wrap reads back as one slice) over the same bytes as its parent (shared, not copied).
#[cfg(unix)]
#[test]
fn a_forked_child_sees_the_double_mapping_and_shares_the_bytes() {
    let mut ring = vmem::RingBuffer::with_capacity(1).unwrap();
    let cap = ring.capacity();
    // Two unread bytes just before the end: the next write starts 4 bytes before the wrap.
    ring.push_slice(&vec![0; cap - 4]);
    ring.advance_read(cap - 6).unwrap();
    // SAFETY: fork duplicates this process; the child only copies bytes, compares them and
    // calls `_exit`, all of which are safe in a child of a multi-threaded process (no heap,
    // no locks).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let written = ring.push_slice(b"ABCDEFGH");
        let ok = written == 8 && ring.readable() == b"\0\0ABCDEFGH";
        // SAFETY: ends the child at once, without running the parent's atexit handlers.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status), "the child died at the wrap: status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child read the wrapped write wrongly");
    // The parent's free space starts where the child wrote: the child's bytes are there.
    assert_eq!(&ring.writable()[..8], b"ABCDEFGH");
}

/// Elsewhere the locked state of a page cannot be read.
#[cfg(not(target_os = "linux"))]
fn locked_kib(_addr: usize) -> Option<u64> {
    None
}

/// The `Locked:` kilobytes of the `/proc/self/smaps` mapping that contains `addr`.
#[cfg(target_os = "linux")]
fn locked_kib(addr: usize) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((start, end)) = range.split_once('-') {
                if let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) {
                    inside = (start..end).contains(&addr);
                    continue;
                }
            }
        }
        if inside {
            if let Some(value) = line.strip_prefix("Locked:") {
                return Some(value.trim().trim_end_matches("kB").trim().parse().unwrap());
            }
        }
    }
    panic!("no mapping contains {addr:#x}");
}
