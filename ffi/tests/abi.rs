//! The C ABI called from Rust, on every platform (the C programs of `c_programs.rs` run on
//! Linux only): the same contract, checked where CI has no C toolchain set up.

use std::ffi::{c_void, CStr};
use std::ptr;

use vmem_ffi::*;

/// Runs the test `name`'s `body` in a child process (this binary re-executed with only that
/// test), so that a crash is a test failure and not the end of the run.
#[cfg(unix)]
fn in_child(name: &str, body: fn()) {
    const CHILD: &str = "VMEM_FFI_TEST_CHILD";
    if std::env::var(CHILD).as_deref() == Ok(name) {
        body();
        std::process::exit(0);
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .unwrap();
    assert!(output.status.success(), "child {name} failed: {output:?}");
}

fn message() -> String {
    // SAFETY: `vmem_get_error_message` returns a NUL-terminated string, never NULL.
    unsafe { CStr::from_ptr(vmem_get_error_message()) }.to_string_lossy().into_owned()
}

fn assert_failed(function: &str, needle: &str) {
    let text = message();
    assert!(text.starts_with(function) && text.contains(needle), "expected {function} … {needle}, got {text:?}");
}

fn page() -> usize {
    vmem_get_page_size()
}

#[test]
fn sizes_need_no_init() {
    assert!(vmem_get_page_size().is_power_of_two());
    vmem_init();
    assert_eq!(vmem_query_page_size(), vmem_get_page_size());
    assert_eq!(vmem_get_allocation_granularity() % page(), 0);
    assert_eq!(vmem_query_allocation_granularity(), vmem_get_allocation_granularity());
}

#[test]
fn reserve_commit_use_release() {
    let size = 16 * page();
    let base = vmem_reserve(size).cast::<u8>();
    assert!(!base.is_null());
    assert_eq!(base as usize % vmem_get_allocation_granularity(), 0);
    // SAFETY: our reservation; we touch only committed pages and release it once.
    unsafe {
        assert_eq!(vmem_commit(base.cast(), 2 * page()), VMemResult_Success);
        assert_eq!(message(), "");
        base.write_bytes(0x5A, 2 * page());
        assert_eq!(vmem_decommit(base.cast(), 2 * page()), VMemResult_Success);
        assert_eq!(vmem_commit(base.cast(), 2 * page()), VMemResult_Success);
        assert_eq!(*base.add(page()), 0, "decommitted pages come back zeroed");
        assert_eq!(vmem_commit_protect(base.cast(), page(), VMemProtect_Read), VMemResult_Success);
        assert_eq!(*base, 0);
        assert_eq!(vmem_protect(base.cast(), page(), VMemProtect_ReadWrite), VMemResult_Success);
        *base = 1;
        assert_eq!(vmem_release(base.cast(), size), VMemResult_Success);
        assert_eq!(vmem_release(base.cast(), size), VMemResult_Error);
        assert_failed("vmem_release", "not a live reservation");
        assert_eq!(vmem_commit(base.cast(), page()), VMemResult_Error);
        assert_failed("vmem_commit", "not inside a live reservation");
    }
}

#[test]
fn foreign_and_invalid_arguments_are_errors() {
    let mut on_stack = 0u64;
    let local = ptr::addr_of_mut!(on_stack).cast::<c_void>();
    let base = vmem_alloc(4 * page());
    // SAFETY: every call below is refused before it touches memory, except the last release
    // of our own reservation.
    unsafe {
        assert_eq!(vmem_release(local, 8), VMemResult_Error);
        assert_failed("vmem_release", "not a live reservation");
        assert_eq!(vmem_decommit(local, 8), VMemResult_Error);
        assert_failed("vmem_decommit", "not inside a live reservation");
        assert_eq!(vmem_protect(local, 8, VMemProtect_NoAccess), VMemResult_Error);
        assert_failed("vmem_protect", "not inside a live reservation");
        assert_eq!(vmem_lock(local, 8), VMemResult_Error);
        assert_failed("vmem_lock", "not inside a live reservation");
        assert_eq!(vmem_commit(ptr::null_mut(), 8), VMemResult_Error);
        assert_failed("vmem_commit", "null");
        assert_eq!(vmem_commit(base, 0), VMemResult_Error);
        assert_failed("vmem_commit", "zero");
        assert_eq!(vmem_commit(base, 5 * page()), VMemResult_Error);
        assert_failed("vmem_commit", "past the end of its reservation");
        assert_eq!(vmem_protect(base, page(), 0), VMemResult_Error);
        assert_failed("vmem_protect", "protection is 0");
        assert_eq!(vmem_commit_protect(base, page(), VMemProtect_COUNT), VMemResult_Error);
        assert_failed("vmem_commit_protect", "protection is 7");
        assert_eq!(vmem_dealloc(base, page()), VMemResult_Error);
        assert_failed("vmem_dealloc", "size");
        assert_eq!(vmem_dealloc(base.cast::<u8>().add(page()).cast(), 3 * page()), VMemResult_Error);
        assert_failed("vmem_dealloc", "not its base");
        assert_eq!(vmem_dealloc(base, 4 * page()), VMemResult_Success);
    }
    assert!(vmem_reserve(0).is_null());
    assert_failed("vmem_reserve", "zero");
    assert!(vmem_alloc_protect(page(), 9).is_null());
    assert_failed("vmem_alloc_protect", "protection is 9");
    assert!(vmem_alloc_commited(0).is_null());
}

#[test]
fn alignment() {
    assert_eq!(vmem_align_forward(5000, 4096), 8192);
    assert_eq!(vmem_align_forward(0, 8), 0);
    assert_eq!(message(), "");
    assert_eq!(vmem_align_forward(1, 3), 0);
    assert_failed("vmem_align_forward", "not a power of two");
    assert_eq!(vmem_align_forward(usize::MAX, 2), 0);
    assert_failed("vmem_align_forward", "overflows");
    assert_eq!(vmem_align_backward(5000, 4096), 4096);
    assert_eq!(vmem_align_backward(5000, -1), 0);
    assert_failed("vmem_align_backward", "negative");
    assert_eq!(vmem_is_aligned(8192, 4096), 1);
    assert_eq!(vmem_is_aligned(8192, 0), 0);
}

#[test]
fn names_and_status() {
    // SAFETY: the names are static NUL-terminated strings.
    let name = |p| unsafe { CStr::from_ptr(vmem_get_protect_name(p)) }.to_str().unwrap().to_string();
    assert_eq!(name(VMemProtect_ExecuteRead), "ExecuteRead");
    assert_eq!(name(VMemProtect_Invalid), "Invalid");
    assert_eq!(name(99), "<Unknown>");
    let status = vmem_query_usage_status();
    assert!(status.total_physical_bytes > 0);
    assert!(status.avail_physical_bytes <= status.total_physical_bytes);
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", windows))]
fn range_info() {
    let base = vmem_reserve(3 * page()).cast::<u8>();
    let mut runs = [VMemRangeInfo::default(); 4];
    // SAFETY: our reservation; `runs` has room for 4 entries.
    unsafe {
        assert_eq!(vmem_commit_protect(base.add(page()).cast(), page(), VMemProtect_Read), VMemResult_Success);
        assert_eq!(vmem_query_range_info(base.cast(), 3 * page(), runs.as_mut_ptr(), 4), 3);
        assert_eq!((runs[0].is_commited, runs[0].protect), (0, VMemProtect_NoAccess));
        assert_eq!((runs[1].is_commited, runs[1].protect), (1, VMemProtect_Read));
        assert_eq!(runs[1].ptr, base.add(page()).cast());
        assert_eq!(runs[1].size_bytes, page());
        assert_eq!(vmem_query_range_info(base.cast(), 3 * page(), runs.as_mut_ptr(), 1), 1);
        assert_eq!(vmem_query_range_info(base.cast(), 3 * page(), ptr::null_mut(), 4), 0);
        assert_failed("vmem_query_range_info", "null");
        assert_eq!(vmem_release(base.cast(), 3 * page()), VMemResult_Success);
    }
}

#[test]
fn arena() {
    let mut arena = vmem_arena_init_alloc(1 << 20);
    // SAFETY: `arena` is a valid arena; we use pushed memory only while it is live.
    unsafe {
        assert_eq!(vmem_arena_is_valid(&arena), 1);
        let a = vmem_arena_push(&mut arena, 24, 8).cast::<u64>();
        assert_eq!(a.cast(), arena.mem);
        a.write(7);
        let mark = vmem_arena_checkpoint(&arena);
        let b = vmem_arena_push(&mut arena, 100_000, 4096).cast::<u8>();
        assert_eq!(b as usize % 4096, 0);
        b.write_bytes(1, 100_000);
        assert!(arena.commited >= arena.used && arena.used >= 100_000);
        assert_eq!(vmem_arena_rewind(&mut arena, mark), VMemResult_Success);
        assert_eq!(arena.used, 24);
        assert_eq!(vmem_arena_rewind(&mut arena, mark + 1), VMemResult_Error);
        assert_failed("vmem_arena_rewind", "ahead");
        assert!(vmem_arena_push(&mut arena, 2 << 20, 1).is_null());
        assert_failed("vmem_arena_push", "full");
        assert!(vmem_arena_push(&mut arena, 0, 1).is_null());
        assert!(vmem_arena_push(&mut arena, 1, 6).is_null());
        assert_eq!(vmem_arena_reset(&mut arena), VMemResult_Success);
        assert_eq!((arena.used, arena.commited), (0, 0));
        assert_eq!(vmem_arena_set_commited(&mut arena, 2 * page()), VMemResult_Success);
        arena.mem.add(2 * page() - 1).write(1);
        assert_eq!(vmem_arena_set_commited(&mut arena, (1 << 20) + 1), VMemResult_Error);
        let copy = arena;
        assert_eq!(vmem_arena_deinit_dealloc(&mut arena), VMemResult_Success);
        assert_eq!(arena, VMemArena::default());
        assert_eq!(vmem_arena_is_valid(&copy), 0);
        assert_eq!(vmem_arena_is_valid(ptr::null()), 0);
        assert!(vmem_arena_push(ptr::null_mut(), 1, 1).is_null());
        assert_failed("vmem_arena_push", "null");
    }
}

#[test]
fn messages_are_per_thread() {
    assert!(vmem_reserve(0).is_null());
    std::thread::spawn(|| {
        assert_eq!(message(), "");
        assert_eq!(vmem_align_backward(1, 0), 0);
        assert_failed("vmem_align_backward", "zero");
    })
    .join()
    .unwrap();
    assert_failed("vmem_reserve", "zero");
}

/// `vmem_protect` refuses reserved pages, as Windows does and as the original library's own
/// tests expect ("only the first page should be committed"), and changes nothing.
#[test]
fn protect_refuses_pages_that_are_not_committed() {
    let size = 4 * page();
    let base = vmem_reserve(size).cast::<u8>();
    assert!(!base.is_null());
    // SAFETY: our reservation, released once at the end.
    unsafe {
        assert_eq!(vmem_commit(base.cast(), page()), VMemResult_Success);
        for protect in [VMemProtect_NoAccess, VMemProtect_Read, VMemProtect_ReadWrite] {
            assert_eq!(vmem_protect(base.cast(), 2 * page(), protect), VMemResult_Error);
            assert_failed("vmem_protect", "not committed");
        }
        // Nothing changed: the first page is still read-write, the rest reserved.
        *base = 1;
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", windows))]
        {
            let mut info = VMemRangeInfo::default();
            assert_eq!(vmem_query_range_info(base.add(page()).cast(), page(), &mut info, 1), 1);
            assert_eq!(info.is_commited, 0);
        }
        // Committed pages take any protection, and stay committed through no-access.
        assert_eq!(vmem_protect(base.cast(), page(), VMemProtect_NoAccess), VMemResult_Success);
        assert_eq!(vmem_protect(base.cast(), page(), VMemProtect_ReadWrite), VMemResult_Success);
        assert_eq!(*base, 1);
        assert_eq!(vmem_lock(base.add(page()).cast(), page()), VMemResult_Error);
        assert_failed("vmem_lock", "not committed");
        assert_eq!(vmem_release(base.cast(), size), VMemResult_Success);
    }
}

/// A stale copy of a `VMemArena` (taken before another copy's reset decommitted the
/// memory) used to be handed decommitted memory by `vmem_arena_push`, because push trusted
/// the copy's `commited`. Now the claim is checked, and repaired by committing again.
#[test]
#[cfg(unix)]
fn arena_push_checks_a_stale_copy() {
    in_child("arena_push_checks_a_stale_copy", arena_push_checks_a_stale_copy_body);
}

#[cfg(unix)]
fn arena_push_checks_a_stale_copy_body() {
    let size = 1 << 20;
    let mut arena = vmem_arena_init_alloc(size);
    // SAFETY: valid arenas; every pointer written to is one push just returned.
    unsafe {
        let p = vmem_arena_push(&mut arena, 1000, 8).cast::<u8>();
        assert!(!p.is_null());
        p.write_bytes(1, 1000);
        let stale = arena; // a copy that still claims the memory is committed
        assert!(stale.commited >= 1000);
        assert_eq!(vmem_arena_reset(&mut arena), VMemResult_Success); // decommits everything
        let mut stale = stale;
        let q = vmem_arena_push(&mut stale, 100, 8).cast::<u8>();
        assert!(!q.is_null(), "{}", message());
        q.write_bytes(2, 100); // faulted (SIGSEGV) before: the page was decommitted
        assert_eq!(*q, 2);
        // The same after a protect that takes write access away.
        let r = vmem_arena_push(&mut stale, 100, 8).cast::<u8>();
        let before_protect = stale;
        let page_start = (r as usize) & !(page() - 1);
        assert_eq!(vmem_protect(page_start as *mut c_void, page(), VMemProtect_Read), VMemResult_Success);
        let mut copy = before_protect;
        let s = vmem_arena_push(&mut copy, 8, 8).cast::<u8>();
        assert!(!s.is_null(), "{}", message());
        s.write(3); // the push made the page writable again (a commit) before handing it out
        assert_eq!(vmem_arena_deinit_dealloc(&mut copy), VMemResult_Success);
    }
}

/// Two arenas pushed in turn on one thread both keep the fast path (the per-thread check
/// cache has room for a few arenas), and each still sees a reset of the other's memory.
#[test]
fn arena_push_alternating_arenas() {
    let mut a = vmem_arena_init_alloc(1 << 20);
    let mut b = vmem_arena_init_alloc(1 << 20);
    // SAFETY: valid arenas; every pointer written to is one push just returned.
    unsafe {
        for i in 0..10_000u32 {
            let x = vmem_arena_push(&mut a, 4, 4).cast::<u32>();
            let y = vmem_arena_push(&mut b, 4, 4).cast::<u32>();
            assert!(!x.is_null() && !y.is_null());
            x.write(i);
            y.write(i);
        }
        assert_eq!(vmem_arena_reset(&mut a), VMemResult_Success);
        let x = vmem_arena_push(&mut a, 4, 4).cast::<u32>();
        assert_eq!(*x, 0, "memory after a reset reads zero");
        assert_eq!(vmem_arena_deinit_dealloc(&mut a), VMemResult_Success);
        assert_eq!(vmem_arena_deinit_dealloc(&mut b), VMemResult_Success);
    }
}

/// The message rules, walked for every function the header declares: a function that can
/// fail sets the message (naming itself) when it fails and empties it when it succeeds; a
/// function that cannot fail leaves it alone.
#[test]
fn every_function_keeps_the_message_rules() {
    use std::ffi::c_char;
    type Call = Box<dyn Fn()>;
    let page = page();
    let stale = || {
        assert!(vmem_reserve(0).is_null());
        assert!(message().starts_with("vmem_reserve"));
    };
    let dir = std::env::temp_dir().join(format!("vmem-messages-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::ffi::CString::new(dir.join("f").to_str().unwrap()).unwrap();
    let path_ptr = path.as_ptr() as usize;
    let fresh = move || vmem_reserve(4 * page).cast::<u8>();
    let committed = move || {
        let p = fresh();
        // SAFETY: our reservation.
        unsafe { vmem_commit(p.cast(), page) };
        p
    };
    let bogus = 0x1000 as *mut c_void;
    // SAFETY (all closures): valid arguments are our own reservations and handles, made just
    // before; invalid ones are refused by the library (null, foreign, stale).
    let cases: Vec<(&str, bool, Call, Option<Call>)> = unsafe {
        vec![
            ("vmem_init", false, Box::new(|| vmem_init()), None),
            ("vmem_get_page_size", false, Box::new(|| ignore(vmem_get_page_size())), None),
            ("vmem_query_page_size", false, Box::new(|| ignore(vmem_query_page_size())), None),
            ("vmem_get_allocation_granularity", false, Box::new(|| ignore(vmem_get_allocation_granularity())), None),
            (
                "vmem_query_allocation_granularity",
                false,
                Box::new(|| ignore(vmem_query_allocation_granularity())),
                None,
            ),
            ("vmem_get_protect_name", false, Box::new(|| ignore(vmem_get_protect_name(99))), None),
            ("vmem_get_error_message", false, Box::new(|| ignore(vmem_get_error_message())), None),
            (
                "vmem_reserve",
                true,
                Box::new(move || ignore(vmem_release(fresh().cast(), 4 * page))),
                Some(Box::new(|| ignore(vmem_reserve(0)))),
            ),
            (
                "vmem_alloc",
                true,
                Box::new(move || ignore(vmem_dealloc(vmem_alloc(page), page))),
                Some(Box::new(|| ignore(vmem_alloc(0)))),
            ),
            (
                "vmem_alloc_protect",
                true,
                Box::new(move || ignore(vmem_dealloc(vmem_alloc_protect(page, VMemProtect_Read), page))),
                Some(Box::new(move || ignore(vmem_alloc_protect(page, 99)))),
            ),
            (
                "vmem_alloc_commited",
                true,
                Box::new(move || ignore(vmem_dealloc(vmem_alloc_commited(page), page))),
                Some(Box::new(|| ignore(vmem_alloc_commited(0)))),
            ),
            (
                "vmem_release",
                true,
                Box::new(move || ignore(vmem_release(fresh().cast(), 4 * page))),
                Some(Box::new(move || ignore(vmem_release(bogus, page)))),
            ),
            (
                "vmem_dealloc",
                true,
                Box::new(move || ignore(vmem_dealloc(fresh().cast(), 4 * page))),
                Some(Box::new(move || ignore(vmem_dealloc(bogus, page)))),
            ),
            (
                "vmem_free",
                true,
                Box::new(move || ignore(vmem_free(fresh().cast(), 4 * page))),
                Some(Box::new(move || ignore(vmem_free(bogus, page)))),
            ),
            (
                "vmem_commit",
                true,
                Box::new(move || ignore(vmem_commit(fresh().cast(), page))),
                Some(Box::new(move || ignore(vmem_commit(bogus, page)))),
            ),
            (
                "vmem_commit_protect",
                true,
                Box::new(move || ignore(vmem_commit_protect(fresh().cast(), page, VMemProtect_Read))),
                Some(Box::new(move || ignore(vmem_commit_protect(fresh().cast(), page, 0)))),
            ),
            (
                "vmem_decommit",
                true,
                Box::new(move || ignore(vmem_decommit(committed().cast(), page))),
                Some(Box::new(move || ignore(vmem_decommit(bogus, page)))),
            ),
            (
                "vmem_protect",
                true,
                Box::new(move || ignore(vmem_protect(committed().cast(), page, VMemProtect_Read))),
                Some(Box::new(move || ignore(vmem_protect(fresh().cast(), page, VMemProtect_Read)))),
            ),
            (
                "vmem_lock",
                true,
                Box::new(move || {
                    let p = committed();
                    if vmem_lock(p.cast(), page) == VMemResult_Success {
                        vmem_unlock(p.cast(), page);
                    }
                    assert!(message().is_empty() || message().starts_with("vmem_lock"));
                    vmem_unlock(p.cast(), page);
                }),
                Some(Box::new(move || ignore(vmem_lock(fresh().cast(), page)))),
            ),
            (
                "vmem_unlock",
                true,
                Box::new(move || ignore(vmem_unlock(committed().cast(), page))),
                Some(Box::new(move || ignore(vmem_unlock(bogus, page)))),
            ),
            (
                "vmem_partially_commit_region",
                true,
                Box::new(move || ignore(vmem_partially_commit_region(fresh().cast(), 4 * page, 0, page))),
                Some(Box::new(move || ignore(vmem_partially_commit_region(bogus, page, 0, page)))),
            ),
            ("vmem_query_usage_status", true, Box::new(|| ignore(vmem_query_usage_status())), None),
            (
                "vmem_query_range_info",
                true,
                Box::new(move || {
                    let mut r = [VMemRangeInfo::default(); 2];
                    vmem_query_range_info(fresh().cast(), page, r.as_mut_ptr(), 2);
                }),
                Some(Box::new(move || ignore(vmem_query_range_info(fresh().cast(), page, ptr::null_mut(), 2)))),
            ),
            (
                "vmem_align_forward",
                true,
                Box::new(|| ignore(vmem_align_forward(3, 4))),
                Some(Box::new(|| ignore(vmem_align_forward(3, 3)))),
            ),
            (
                "vmem_align_backward",
                true,
                Box::new(|| ignore(vmem_align_backward(3, 4))),
                Some(Box::new(|| ignore(vmem_align_backward(3, 0)))),
            ),
            (
                "vmem_is_aligned",
                true,
                Box::new(|| ignore(vmem_is_aligned(3, 4))),
                Some(Box::new(|| ignore(vmem_is_aligned(3, -4)))),
            ),
            (
                "vmem_arena_init",
                true,
                Box::new(move || ignore(vmem_arena_init(fresh().cast(), 4 * page))),
                Some(Box::new(move || ignore(vmem_arena_init(bogus, page)))),
            ),
            (
                "vmem_arena_init_alloc",
                true,
                Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_deinit_dealloc(&mut a);
                    vmem_arena_init_alloc(page);
                }),
                Some(Box::new(|| ignore(vmem_arena_init_alloc(0)))),
            ),
            (
                "vmem_arena_deinit_dealloc",
                true,
                Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_deinit_dealloc(&mut a);
                }),
                Some(Box::new(|| ignore(vmem_arena_deinit_dealloc(ptr::null_mut())))),
            ),
            (
                "vmem_arena_set_commited",
                true,
                Box::new(move || {
                    let mut a = vmem_arena_init_alloc(4 * page);
                    vmem_arena_set_commited(&mut a, page);
                }),
                Some(Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_set_commited(&mut a, 2 * page);
                })),
            ),
            (
                "vmem_arena_is_valid",
                false,
                Box::new(move || {
                    let a = vmem_arena_init_alloc(page);
                    stale_again();
                    vmem_arena_is_valid(&a);
                }),
                None,
            ),
            (
                "vmem_arena_push",
                true,
                Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_push(&mut a, 8, 8);
                }),
                Some(Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_push(&mut a, 0, 8);
                })),
            ),
            (
                "vmem_arena_reset",
                true,
                Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_reset(&mut a);
                }),
                Some(Box::new(|| ignore(vmem_arena_reset(ptr::null_mut())))),
            ),
            (
                "vmem_arena_checkpoint",
                true,
                Box::new(move || {
                    let a = vmem_arena_init_alloc(page);
                    stale_again();
                    vmem_arena_checkpoint(&a);
                }),
                Some(Box::new(|| ignore(vmem_arena_checkpoint(ptr::null())))),
            ),
            (
                "vmem_arena_rewind",
                true,
                Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_rewind(&mut a, 0);
                }),
                Some(Box::new(move || {
                    let mut a = vmem_arena_init_alloc(page);
                    vmem_arena_rewind(&mut a, 5);
                })),
            ),
            (
                "vmem_grow_arena_create",
                true,
                Box::new(|| ignore(vmem_grow_arena_destroy(vmem_grow_arena_create(ptr::null())))),
                Some(Box::new(|| {
                    let c = VMemGrowArenaConfig { commit_step: usize::MAX, ..Default::default() };
                    vmem_grow_arena_create(&c);
                })),
            ),
            (
                "vmem_grow_arena_destroy",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_destroy(a);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_destroy(bogus.cast())))),
            ),
            (
                "vmem_grow_arena_push",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_push(a, 8, 8);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_push(bogus.cast(), 8, 8)))),
            ),
            (
                "vmem_grow_arena_push_zeroed",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_push_zeroed(a, 8, 8);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_push_zeroed(bogus.cast(), 8, 8)))),
            ),
            (
                "vmem_grow_arena_checkpoint",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_checkpoint(a);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_checkpoint(bogus.cast())))),
            ),
            (
                "vmem_grow_arena_rewind",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    let m = vmem_grow_arena_checkpoint(a);
                    stale_again();
                    vmem_grow_arena_rewind(a, m);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_rewind(bogus.cast(), VMemGrowArenaMark::default())))),
            ),
            (
                "vmem_grow_arena_reset",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_reset(a);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_reset(bogus.cast())))),
            ),
            (
                "vmem_grow_arena_allocated_bytes",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_allocated_bytes(a);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_allocated_bytes(bogus.cast())))),
            ),
            (
                "vmem_grow_arena_committed_bytes",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_committed_bytes(a);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_committed_bytes(bogus.cast())))),
            ),
            (
                "vmem_grow_arena_reserved_bytes",
                true,
                Box::new(|| {
                    let a = vmem_grow_arena_create(ptr::null());
                    stale_again();
                    vmem_grow_arena_reserved_bytes(a);
                }),
                Some(Box::new(move || ignore(vmem_grow_arena_reserved_bytes(bogus.cast())))),
            ),
            ("vmem_grow_arena_is_valid", false, Box::new(move || ignore(vmem_grow_arena_is_valid(bogus.cast()))), None),
            (
                "vmem_file_open",
                true,
                Box::new(move || {
                    ignore(vmem_file_close(vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20)))
                }),
                Some(Box::new(|| ignore(vmem_file_open(ptr::null(), 0, 0)))),
            ),
            (
                "vmem_file_close",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_close(f);
                }),
                Some(Box::new(move || ignore(vmem_file_close(bogus.cast())))),
            ),
            (
                "vmem_file_grow",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_grow(f, page);
                }),
                Some(Box::new(move || ignore(vmem_file_grow(bogus.cast(), page)))),
            ),
            (
                "vmem_file_set_len",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_set_len(f, page);
                }),
                Some(Box::new(move || ignore(vmem_file_set_len(bogus.cast(), page)))),
            ),
            (
                "vmem_file_flush",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_flush(f);
                }),
                Some(Box::new(move || ignore(vmem_file_flush(bogus.cast())))),
            ),
            (
                "vmem_file_flush_range",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    vmem_file_grow(f, page);
                    stale_again();
                    vmem_file_flush_range(f, 0, page);
                }),
                Some(Box::new(move || ignore(vmem_file_flush_range(bogus.cast(), 0, page)))),
            ),
            (
                "vmem_file_ptr",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_ptr(f);
                }),
                Some(Box::new(move || ignore(vmem_file_ptr(bogus.cast())))),
            ),
            (
                "vmem_file_len",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_len(f);
                }),
                Some(Box::new(move || ignore(vmem_file_len(bogus.cast())))),
            ),
            (
                "vmem_file_max_size",
                true,
                Box::new(move || {
                    let f = vmem_file_open(path_ptr as *const c_char, VMemFileFlag_Create, 1 << 20);
                    stale_again();
                    vmem_file_max_size(f);
                }),
                Some(Box::new(move || ignore(vmem_file_max_size(bogus.cast())))),
            ),
            ("vmem_file_is_valid", false, Box::new(move || ignore(vmem_file_is_valid(bogus.cast()))), None),
        ]
    };
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/vmem.h")).unwrap();
    let declared: Vec<&str> = header
        .split("VMEM_FUNC ")
        .skip(1)
        .filter_map(|decl| decl.split('(').next()?.split_whitespace().last())
        .map(|name| name.trim_start_matches('*'))
        .collect();
    for name in &declared {
        assert!(cases.iter().any(|c| c.0 == *name), "no message case for {name}");
    }
    for (name, fallible, valid, invalid) in &cases {
        stale();
        valid();
        if *fallible {
            assert_eq!(message(), "", "{name} succeeded: the message must be empty");
        } else {
            assert!(message().starts_with("vmem_reserve"), "{name} cannot fail: it must leave the message alone");
        }
        if let Some(invalid) = invalid {
            stale();
            invalid();
            assert!(message().starts_with(name), "{name} failed: the message must name it, got {:?}", message());
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Discards a result (the cases look at the message, not at what the call returned).
fn ignore<T>(_: T) {}

/// A failing call, to leave a message behind (in the middle of a case, after its set-up).
fn stale_again() {
    assert!(vmem_reserve(0).is_null());
}

/// A push whose check of the registry runs while another thread decommits a copy of the same
/// arena must not remember "writable" for the pages being decommitted. Decommit bumped
/// `GENERATION` *before* it took the pages away, so a check that read the bumped generation
/// and then saw the pages still committed cached a stale answer at the current generation:
/// the next push of a copy that claims those pages was handed decommitted memory. A third
/// thread holding the reservation's page record (an `mlock` of a few MiB faults them in under
/// the record's lock) lines up both threads behind it, so the losing order happens often.
#[test]
#[cfg(target_os = "linux")]
fn arena_push_check_racing_a_decommit_is_not_cached() {
    in_child("arena_push_check_racing_a_decommit_is_not_cached", arena_push_check_racing_a_decommit_body);
}

/// A copy of a C arena struct, to hand to another thread as a C program would.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy)]
struct Sendable(VMemArena);
// SAFETY: the struct is plain data (a pointer into our reservation and three sizes).
#[cfg(target_os = "linux")]
unsafe impl Send for Sendable {}

#[cfg(target_os = "linux")]
fn arena_push_check_racing_a_decommit_body() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const LOCKED: usize = 4 << 20;
    let size = 16 << 20;
    let mut arena = vmem_arena_init_alloc(size);
    let mem = arena.mem as usize;
    // SAFETY: the last 4 MiB of the arena's reservation are only locked and unlocked by the
    // holder thread; the arena never pushes that far (its pushes stay below 1 MiB).
    assert_eq!(unsafe { vmem_commit((mem + size - LOCKED) as *mut c_void, LOCKED) }, VMemResult_Success);
    let stop = AtomicBool::new(false);
    // Both threads of a round raise it, then wait for it to reach 2 per round (atomics, not a
    // `Barrier`, so that ThreadSanitizer sees the edge: std is not instrumented).
    let arrived = AtomicUsize::new(0);
    let meet = |round: usize| {
        arrived.fetch_add(1, Ordering::AcqRel);
        while arrived.load(Ordering::Acquire) < 2 * (round + 1) {
            std::thread::yield_now();
        }
    };
    let mut stale_rounds = 0;
    std::thread::scope(|s| {
        let holder = s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: committed above, used by nobody else.
                unsafe {
                    vmem_lock((mem + size - LOCKED) as *mut c_void, LOCKED);
                    vmem_unlock((mem + size - LOCKED) as *mut c_void, LOCKED);
                }
            }
        });
        for round in 0..1000 {
            // SAFETY: valid arena; no pushed memory is used across a reset.
            unsafe {
                assert_eq!(vmem_arena_reset(&mut arena), VMemResult_Success);
                assert!(!vmem_arena_push(&mut arena, 8, 8).is_null()); // commits 64 KiB
            }
            let copy = Sendable(arena);
            let meet = &meet;
            std::thread::scope(|r| {
                let resetter = r.spawn(move || {
                    let mut copy = copy;
                    meet(round);
                    // SAFETY: a copy of a valid arena; nothing uses its memory meanwhile.
                    assert_eq!(unsafe { vmem_arena_reset(&mut copy.0) }, VMemResult_Success);
                });
                meet(round);
                // Past `commited`: checks the registry, then commits more.
                // SAFETY: valid arena.
                assert!(!unsafe { vmem_arena_push(&mut arena, 64 << 10, 8) }.is_null());
                resetter.join().unwrap();
            });
            // The reset above is over: every page of the copy's claim is decommitted. A push of
            // `arena` (which claims them too) must commit them again before handing them out.
            // SAFETY: valid arena; the pointer is checked before it is used.
            unsafe {
                assert_eq!(vmem_arena_rewind(&mut arena, 0), VMemResult_Success);
                let p = vmem_arena_push(&mut arena, 8, 8);
                assert!(!p.is_null());
                let runs = vmem_core::query(p.cast(), 8).unwrap();
                if runs[0].protection != vmem_core::Protection::ReadWrite {
                    stale_rounds += 1;
                } else {
                    p.cast::<u64>().write(1);
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        holder.join().unwrap();
    });
    assert_eq!(stale_rounds, 0, "pushes handed out decommitted memory (a write there is a SIGSEGV)");
    // SAFETY: valid arena, unused from now on.
    assert_eq!(unsafe { vmem_arena_deinit_dealloc(&mut arena) }, VMemResult_Success);
}

/// `vmem.h` promises that a grow arena's fresh memory reads zero ("Fresh memory reads zero;
/// memory handed out again after a rewind keeps what was written"). Since the warm cache, a
/// new arena's block may be the region a destroyed arena (or any Rust structure of the same
/// region size) left in the cache, with what it wrote: `vmem_grow_arena_push` then hands out
/// bytes the program never wrote in this arena. (A C program that relies on the promise,
/// e.g. for zero-initialised structs with pointers, reads garbage.) The C grow arena now
/// builds its `Arena` with `fresh_memory_reads_zero`: its blocks never come from the cache.
#[test]
fn grow_arena_fresh_memory_reads_zero_after_another_arena() {
    let len = 256 << 10;
    for _ in 0..4 {
        // SAFETY: NULL config means defaults; the handles are destroyed once.
        unsafe {
            let first = vmem_grow_arena_create(ptr::null());
            let p = vmem_grow_arena_push(first, len, 8).cast::<u8>();
            assert!(!p.is_null());
            p.write_bytes(0xAB, len);
            assert_eq!(vmem_grow_arena_destroy(first), VMemResult_Success);
            let second = vmem_grow_arena_create(ptr::null());
            let q = vmem_grow_arena_push(second, len, 8).cast::<u8>();
            assert!(!q.is_null());
            let dirty = std::slice::from_raw_parts(q, len).iter().filter(|&&b| b != 0).count();
            assert_eq!(vmem_grow_arena_destroy(second), VMemResult_Success);
            assert_eq!(dirty, 0, "a fresh arena's first push handed out {dirty} bytes another arena wrote");
        }
    }
}

/// `vmem.h`: "a destroyed or made-up handle is an error, not a crash". A handle is the
/// address of the arena's heap block, and the allocator hands a freed block's address to the
/// next arena created: the destroyed handle is then live again, and calls with it reach the
/// other arena.
#[test]
fn a_destroyed_grow_arena_handle_stays_an_error() {
    // SAFETY: NULL config means defaults; every handle is destroyed once.
    unsafe {
        let mut reused = 0;
        for _ in 0..16 {
            let old = vmem_grow_arena_create(ptr::null());
            assert!(!old.is_null());
            assert_eq!(vmem_grow_arena_destroy(old), VMemResult_Success);
            let new = vmem_grow_arena_create(ptr::null());
            assert!(!new.is_null());
            if new == old {
                reused += 1;
            }
            let p = vmem_grow_arena_push(old, 8, 8);
            let destroyed_again = vmem_grow_arena_destroy(old);
            if destroyed_again == VMemResult_Error {
                assert_eq!(vmem_grow_arena_destroy(new), VMemResult_Success);
            }
            assert!(p.is_null(), "a push through a destroyed handle succeeded (it reached another arena)");
            assert_eq!(destroyed_again, VMemResult_Error, "a destroyed handle destroyed another arena");
        }
        println!("{reused} of 16 new arenas got the destroyed one's address");
    }
}
