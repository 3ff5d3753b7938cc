//! A second outside review's attacks on code added recently: `Reservation`'s guards and
//! advice, the typed arena helpers, `SyncArena`'s checkpoints and `Allocator`, and the pool.
//! Anything that could crash runs in a child process.
mod common;

#[cfg(target_os = "linux")]
mod half_way {
    use super::common;
    use vmem::{Advice, Protection, Reservation};

    /// Whether the kernel can write the byte at `ptr` (a `read` from a pipe into it:
    /// `EFAULT` if the page is not writable). Needs no memory and no mapping.
    fn os_writable(ptr: *mut u8) -> bool {
        let mut fds = [0; 2];
        // SAFETY: plain system calls on a fresh pipe; `read` copies one byte to `ptr` only
        // if the page is writable, and fails with EFAULT otherwise.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            assert_eq!(libc::write(fds[1], b"x".as_ptr().cast(), 1), 1);
            let n = libc::read(fds[0], ptr.cast(), 1);
            libc::close(fds[0]);
            libc::close(fds[1]);
            n == 1
        }
    }

    /// Sanitizers map memory of their own all the time: the tests that use up the map slots
    /// cannot run under them.
    fn under_a_sanitizer() -> bool {
        let under = std::env::var_os("VMEM_UNDER_ASAN").is_some() || cfg!(vmem_tsan);
        if under {
            println!("skipped under a sanitizer: it needs map slots of its own");
        }
        under
    }

    /// The process's map slots used up (Linux `vm.max_map_count`), until dropped.
    struct MapSlotsUsedUp {
        filler: *mut u8,
        filler_len: usize,
        singles: Vec<*mut libc::c_void>,
    }

    impl MapSlotsUsedUp {
        fn new() -> MapSlotsUsedUp {
            let page = vmem::page_size();
            let filler_pages = 200_000;
            let filler = vmem::reserve(filler_pages * page).unwrap().as_ptr();
            let mut made = 0;
            for i in (0..filler_pages).step_by(2) {
                // SAFETY: a page of our own filler reservation.
                if unsafe { libc::mprotect(filler.add(i * page).cast(), page, libc::PROT_READ) } != 0 {
                    break;
                }
                made += 1;
            }
            assert!(made < filler_pages / 2, "never ran out of map slots");
            let mut singles = Vec::with_capacity(64);
            for i in 0..64 {
                let prot = if i % 2 == 0 { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_EXEC };
                // SAFETY: a fresh private mapping where the kernel likes; unmapped on drop.
                let p = unsafe {
                    libc::mmap(std::ptr::null_mut(), page, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
                };
                if p == libc::MAP_FAILED {
                    break;
                }
                singles.push(p);
            }
            MapSlotsUsedUp { filler, filler_len: filler_pages * page, singles }
        }
    }

    impl Drop for MapSlotsUsedUp {
        fn drop(&mut self) {
            // SAFETY: our filler reservation and single mappings, whole, unused.
            unsafe {
                vmem::release(self.filler, self.filler_len).unwrap();
                for &p in &self.singles {
                    libc::munmap(p, vmem::page_size());
                }
            }
        }
    }

    /// `protect_guard` whose `mprotect` fails after changing part of the range (Linux works
    /// mapping by mapping; the second mapping, split apart from the first by `DontDump`,
    /// cannot be split again without a map slot) must not leave the record vouching for the
    /// old protection. It did: `is_writable` said yes for a page the OS had made read-only,
    /// and `prefault`, trusting the record, touched it on kernels before 5.14 (a SIGSEGV).
    #[test]
    fn a_protect_guard_that_fails_half_way_leaves_no_false_record() {
        if under_a_sanitizer() {
            return;
        }
        common::in_child("half_way::a_protect_guard_that_fails_half_way_leaves_no_false_record", || {
            let page = vmem::page_size();
            let r = Reservation::new(4 * page).unwrap();
            r.commit(0, 4 * page).unwrap();
            // Two mappings of equal protection: the record has one run, the OS two.
            r.advise(2 * page, 2 * page, Advice::DontDump).unwrap();
            let slots = MapSlotsUsedUp::new();
            let result = r.protect_guard(0, 3 * page, Protection::Read).map(drop);
            let changed = !os_writable(r.as_ptr());
            drop(slots);
            println!("protect_guard: {result:?}; page 0 made read-only: {changed}");
            assert!(result.is_err() && changed, "the set-up did not fail half-way");
            assert!(!r.is_writable(0, page), "the record says read-write for a page the OS made read-only");
            assert!(r.prefault(0, page).is_err());
            r.protect(0, 4 * page, Protection::ReadWrite).unwrap();
            assert!(r.is_writable(0, 4 * page) && os_writable(r.as_ptr()));
        })
        .assert_success();
    }

    /// The same for a guard's restore: the record kept the guard's read-write for pages the
    /// half-way restore had made read-only again.
    #[test]
    fn a_restore_that_fails_half_way_leaves_no_false_record() {
        if under_a_sanitizer() {
            return;
        }
        common::in_child("half_way::a_restore_that_fails_half_way_leaves_no_false_record", || {
            let page = vmem::page_size();
            let r = Reservation::new(4 * page).unwrap();
            r.commit(0, 4 * page).unwrap();
            r.advise(2 * page, 2 * page, Advice::DontDump).unwrap();
            // Pages 0-2 read-only (three mappings now: 0-1, 2, 3), then read-write under a guard,
            // which saves one run 0-2 read-only.
            r.protect(0, 3 * page, Protection::Read).unwrap();
            let guard = r.protect_guard(0, 3 * page, Protection::ReadWrite).unwrap();
            assert!(r.is_writable(0, 4 * page) && os_writable(r.as_ptr()));
            let slots = MapSlotsUsedUp::new();
            let result = guard.restore();
            let changed = !os_writable(r.as_ptr());
            drop(slots);
            println!("restore: {result:?}; page 0 made read-only: {changed}");
            assert!(result.is_err() && changed, "the set-up did not fail half-way");
            assert!(!r.is_writable(0, page), "the record says read-write for a page the OS made read-only");
            assert!(r.prefault(0, page).is_err());
            r.protect(0, 4 * page, Protection::ReadWrite).unwrap();
            assert!(r.is_writable(0, 4 * page) && os_writable(r.as_ptr()));
        })
        .assert_success();
    }
}
