//! An outside review's attacks on `Reservation`'s page record: calls that fail half-way,
//! every `&self` method racing every other, sizes and ranges at the limits, and raw-part
//! round trips. Anything that could crash runs in a child process.
#![cfg(unix)]
mod common;

use vmem::{ErrorKind, Protection, Reservation};

/// Whether the kernel can write the byte at `ptr` (a `read` from a pipe into it: `EFAULT`
/// if the page is not writable). Needs no memory and no mapping, unlike a query.
#[cfg(target_os = "linux")]
fn os_writable(ptr: *mut u8) -> bool {
    let mut fds = [0; 2];
    // SAFETY: plain system calls on a fresh pipe; `read` copies one byte to `ptr` only if
    // the page is writable, and fails with EFAULT otherwise.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        assert_eq!(libc::write(fds[1], b"x".as_ptr().cast(), 1), 1);
        let n = libc::read(fds[0], ptr.cast(), 1);
        libc::close(fds[0]);
        libc::close(fds[1]);
        n == 1
    }
}

/// A `protect` that fails after the OS changed part of the range (Linux `mprotect` works
/// mapping by mapping and stops at the first that cannot be split, here for lack of map
/// slots) must not leave the record vouching for the old protection: the reservation then
/// said the read-only pages were writable (`is_writable`), and `prefault` trusted it (on
/// kernels before 5.14, whose prefault touches the pages, a SIGSEGV).
#[cfg(target_os = "linux")]
#[test]
fn a_protect_that_fails_half_way_leaves_no_false_record() {
    common::in_child("a_protect_that_fails_half_way_leaves_no_false_record", || {
        let page = vmem::page_size();
        // Two mappings: pages 0-1 read-write, pages 2-3 committed with no access.
        let r = Reservation::new(4 * page).unwrap();
        r.commit(0, 4 * page).unwrap();
        r.protect(2 * page, 2 * page, Protection::NoAccess).unwrap();
        // Written, so the first mapping stays charged when made read-only and cannot merge
        // with the part of the second that becomes read-only too (never written: uncharged).
        r.prefault(0, 2 * page).unwrap();
        // Use up the process's map slots: every other page of a filler reservation made
        // readable is a mapping of its own.
        let filler_pages = 200_000;
        let filler = vmem::reserve(filler_pages * page).unwrap().as_ptr();
        let mut made = 0;
        for i in (0..filler_pages).step_by(2) {
            // SAFETY: a page of our own filler reservation.
            let rc = unsafe { libc::mprotect(filler.add(i * page).cast(), page, libc::PROT_READ) };
            if rc != 0 {
                break;
            }
            made += 1;
        }
        assert!(made < filler_pages / 2, "never ran out of map slots");
        // That refusal needed two slots; take the last ones with single mappings (of two
        // protections in turn, so that neighbours do not merge).
        let mut singles = Vec::new();
        for i in 0.. {
            let prot = if i % 2 == 0 { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_EXEC };
            // SAFETY: a fresh private mapping where the kernel likes; unmapped below.
            let p =
                unsafe { libc::mmap(std::ptr::null_mut(), page, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
            if p == libc::MAP_FAILED {
                break;
            }
            singles.push(p);
        }
        // Pages 0-2 read-only: the first mapping changes whole, the second must be split
        // at page 3, which needs a slot there is not.
        let result = r.protect(0, 3 * page, Protection::Read);
        let changed = !os_writable(r.as_ptr());
        println!("protect: {result:?}; page 0 writable: {}", !changed);
        if result.is_err() && changed {
            assert!(!r.is_writable(0, page), "the record still says read-write for a page the OS made read-only");
            let err = r.prefault(0, page).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        }
        // SAFETY: our filler reservation and single mappings, whole, unused.
        unsafe {
            vmem::release(filler, filler_pages * page).unwrap();
            for p in singles {
                libc::munmap(p, page);
            }
        }
        // With slots again, the record and the OS agree after any call.
        r.protect(0, 3 * page, Protection::Read).unwrap();
        assert!(!r.is_writable(0, page));
        r.protect(0, 4 * page, Protection::ReadWrite).unwrap();
        assert!(r.is_writable(0, 4 * page));
        r.prefault(0, 4 * page).unwrap();
    })
    .assert_success();
}
