//! The C ABI with arbitrary arguments: ranges inside our reservations (aligned or not,
//! running past the end), pointers that are not ours (null, small integers, the stack, the
//! heap, the top of the address space), zero and huge sizes, invalid protections, stale and
//! made-up arena handles. No call may crash; every failure must return 0/NULL with a
//! message, every success must empty it; committed memory keeps what was written and
//! reads zero after a decommit.
#![no_main]

use core::ffi::c_void;
use std::ffi::CStr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use vmem_ffi as c;

const PAGES: usize = 8;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Target {
    /// Reservation `r`, from byte `offset`, `len` bytes (possibly past its end).
    Ours { r: u8, offset: u16, len: u32 },
    /// A pointer that is not ours.
    Foreign { which: u8, len: u64 },
}

#[derive(Arbitrary, Debug)]
enum Op {
    Reserve(u8),
    Release { r: u8, size_delta: i8 },
    Commit(Target),
    Decommit(Target),
    Protect(Target, u8),
    CommitProtect(Target, u8),
    Lock(Target),
    Write { r: u8, page: u8, value: u8 },
    Check { r: u8, page: u8 },
    Query(Target),
    Align { address: usize, align: i32 },
    ArenaPush { size: u32, align: u16 },
    ArenaRewind(u32),
    GrowPush { size: u32, align: u16 },
    GrowStale,
}

struct Reservation {
    base: *mut u8,
    /// Per page: `Some(byte at its start)` when committed read-write and known, `None`
    /// when not accessible (or its protection was changed: never touched again until a
    /// commit makes it read-write).
    pages: [Option<u8>; PAGES],
}

fn message() -> String {
    // SAFETY: the library returns a NUL-terminated per-thread buffer that lives as long as
    // the thread.
    unsafe { CStr::from_ptr(c::vmem_get_error_message()) }.to_string_lossy().into_owned()
}

/// A failure must leave a message naming the function; a success must empty it.
fn check_message(ok: bool, function: &str) {
    let m = message();
    if ok {
        assert!(m.is_empty(), "{function} succeeded but left a message: {m}");
    } else {
        assert!(m.starts_with(function), "{function} failed with message {m:?}");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let page = c::vmem_get_page_size();
    let mut live: Vec<Reservation> = Vec::new();
    let stack_byte = 0u8;
    let heap = Box::new([0u8; 64]);
    let foreign = |which: u8| -> *mut u8 {
        match which % 6 {
            0 => core::ptr::null_mut(),
            1 => 1 as *mut u8,
            2 => page as *mut u8,
            3 => &stack_byte as *const u8 as *mut u8,
            4 => heap.as_ptr() as *mut u8,
            _ => (usize::MAX - page + 1) as *mut u8,
        }
    };
    // A range and, when it lies inside a live reservation, that reservation's index and
    // the pages it touches.
    let resolve = |live: &Vec<Reservation>, t: Target| -> (*mut u8, usize, Option<(usize, usize, usize)>) {
        match t {
            Target::Ours { r, offset, len } if !live.is_empty() => {
                let i = usize::from(r) % live.len();
                let offset = usize::from(offset) % (PAGES * page);
                let len = len as usize;
                let inside = len != 0 && offset + len <= PAGES * page;
                let pages = inside.then(|| (i, offset / page, (offset + len).div_ceil(page)));
                (live[i].base.wrapping_add(offset), len, pages)
            }
            Target::Ours { len, .. } => (foreign(0), len as usize, None),
            Target::Foreign { which, len } => (foreign(which), len as usize, None),
        }
    };
    let mut arena = c::vmem_arena_init_alloc(64 * page);
    // SAFETY: `arena` is a valid, readable struct.
    assert_eq!(unsafe { c::vmem_arena_is_valid(&arena) }, 1);
    // SAFETY: one thread; the arena is destroyed at the end.
    let grow = unsafe { c::vmem_grow_arena_create(core::ptr::null()) };
    assert!(!grow.is_null());
    let mut destroyed = None;

    for op in ops {
        match op {
            Op::Reserve(kind) => {
                if live.len() < 4 {
                    let base = match kind % 3 {
                        0 => c::vmem_reserve(PAGES * page),
                        1 => c::vmem_alloc(PAGES * page),
                        _ => c::vmem_alloc_commited(PAGES * page),
                    }
                    .cast::<u8>();
                    check_message(!base.is_null(), "vmem_");
                    assert!(!base.is_null());
                    let state = if kind % 3 == 2 { Some(0) } else { None };
                    live.push(Reservation { base, pages: [state; PAGES] });
                }
            }
            Op::Release { r, size_delta } => {
                if !live.is_empty() {
                    let i = usize::from(r) % live.len();
                    let size = (PAGES * page).wrapping_add_signed(isize::from(size_delta) * page as isize);
                    // SAFETY: nothing uses the reservation after a successful release.
                    let ok = unsafe { c::vmem_release(live[i].base.cast(), size) } == 1;
                    check_message(ok, "vmem_release");
                    assert_eq!(ok, size_delta == 0, "release with a size off by {size_delta} pages");
                    if ok {
                        live.swap_remove(i);
                    }
                }
            }
            Op::Commit(t) => {
                let (ptr, len, inside) = resolve(&live, t);
                // SAFETY: the library refuses ranges that are not ours.
                let ok = unsafe { c::vmem_commit(ptr.cast(), len) } == 1;
                check_message(ok, "vmem_commit");
                assert_eq!(ok, inside.is_some(), "commit of {len} bytes at {ptr:?}");
                if let Some((i, first, end)) = inside {
                    for p in &mut live[i].pages[first..end] {
                        // Recommitting keeps known contents; fresh pages read zero. Pages
                        // whose state is unknown stay unchecked.
                        if p.is_none() {
                            *p = None;
                        }
                    }
                }
            }
            Op::Decommit(t) => {
                let (ptr, len, inside) = resolve(&live, t);
                // SAFETY: the model never touches decommitted pages.
                let ok = unsafe { c::vmem_decommit(ptr.cast(), len) } == 1;
                check_message(ok, "vmem_decommit");
                assert_eq!(ok, inside.is_some());
                if let Some((i, first, end)) = inside {
                    // Committed again, they must read zero: commit them now and check.
                    // SAFETY: inside our reservation.
                    assert_eq!(unsafe { c::vmem_commit(ptr.cast(), len) }, 1);
                    for p in first..end {
                        // SAFETY: committed read-write just now.
                        let byte = unsafe { live[i].base.add(p * page).read_volatile() };
                        assert_eq!(byte, 0, "a recommitted page does not read zero");
                        live[i].pages[p] = Some(0);
                    }
                }
            }
            Op::Protect(t, prot) | Op::CommitProtect(t, prot) => {
                let commit = matches!(op, Op::CommitProtect(..));
                let (ptr, len, inside) = resolve(&live, t);
                // SAFETY: the model stops touching every page whose protection changed.
                let ok = unsafe {
                    if commit {
                        c::vmem_commit_protect(ptr.cast(), len, prot)
                    } else {
                        c::vmem_protect(ptr.cast(), len, prot)
                    }
                } == 1;
                check_message(ok, if commit { "vmem_commit_protect" } else { "vmem_protect" });
                let valid = (c::VMemProtect_NoAccess..c::VMemProtect_COUNT).contains(&prot);
                if inside.is_none() || !valid {
                    assert!(!ok, "protect of a bad range or protection {prot} succeeded");
                }
                if let (true, Some((i, first, end))) = (ok, inside) {
                    for p in &mut live[i].pages[first..end] {
                        *p = None;
                    }
                }
            }
            Op::Lock(t) => {
                let (ptr, len, inside) = resolve(&live, t);
                // SAFETY: locking does not change contents.
                let ok = unsafe { c::vmem_lock(ptr.cast(), len) } == 1;
                check_message(ok, "vmem_lock");
                if inside.is_none() {
                    assert!(!ok);
                }
                if ok {
                    // SAFETY: as above.
                    assert_eq!(unsafe { c::vmem_unlock(ptr.cast(), len) }, 1);
                }
            }
            Op::Write { r, page: p, value } => {
                if !live.is_empty() {
                    let i = usize::from(r) % live.len();
                    let p = usize::from(p) % PAGES;
                    if live[i].pages[p].is_some() {
                        // SAFETY: the model knows the page is committed read-write.
                        unsafe { live[i].base.add(p * page).write_volatile(value) };
                        live[i].pages[p] = Some(value);
                    }
                }
            }
            Op::Check { r, page: p } => {
                if !live.is_empty() {
                    let i = usize::from(r) % live.len();
                    let p = usize::from(p) % PAGES;
                    if let Some(v) = live[i].pages[p] {
                        // SAFETY: committed read-write, per the model.
                        assert_eq!(unsafe { live[i].base.add(p * page).read_volatile() }, v);
                    }
                }
            }
            Op::Query(t) => {
                let (ptr, len, _) = resolve(&live, t);
                let mut info = [core::mem::MaybeUninit::<c::VMemRangeInfo>::zeroed(); 4];
                // SAFETY: `info` has room for 4 entries.
                let n = unsafe {
                    c::vmem_query_range_info(ptr.cast::<c_void>(), len, info.as_mut_ptr().cast(), info.len())
                };
                check_message(n != 0, "vmem_query_range_info");
                assert!(n <= info.len());
            }
            Op::Align { address, align } => {
                let up = c::vmem_align_forward(address, align);
                let valid = align > 0 && (align & (align - 1)) == 0;
                if valid {
                    let a = align as usize;
                    if let Some(expected) = address.checked_next_multiple_of(a) {
                        assert_eq!(up, expected);
                    }
                    assert_eq!(c::vmem_align_backward(address, align), address & !(a - 1));
                    assert_eq!(c::vmem_is_aligned(address, align), i32::from(address % a == 0));
                } else {
                    assert_eq!(up, 0);
                    assert_eq!(c::vmem_is_aligned(address, align), 0);
                }
            }
            Op::ArenaPush { size, align } => {
                let align = usize::from(align);
                // SAFETY: `arena` is ours and valid.
                let p = unsafe { c::vmem_arena_push(&mut arena, size as usize, align) }.cast::<u8>();
                check_message(!p.is_null(), "vmem_arena_push");
                if !p.is_null() {
                    assert!(align.is_power_of_two() && p as usize % align == 0);
                    // SAFETY: the arena handed out `size` writable bytes.
                    unsafe {
                        p.write_bytes(0x5A, size as usize);
                        assert_eq!(p.add(size as usize - 1).read(), 0x5A);
                    }
                }
            }
            Op::ArenaRewind(to) => {
                let used = arena.used;
                // SAFETY: nothing uses the arena's memory past `to`.
                let ok = unsafe { c::vmem_arena_rewind(&mut arena, to as usize) } == 1;
                check_message(ok, "vmem_arena_rewind");
                assert_eq!(ok, (to as usize) <= used);
            }
            Op::GrowPush { size, align } => {
                let align = usize::from(align);
                // SAFETY: one thread; `grow` is live.
                let p = unsafe { c::vmem_grow_arena_push(grow, size as usize % (1 << 22), align) }.cast::<u8>();
                check_message(!p.is_null(), "vmem_grow_arena_push");
                if !p.is_null() {
                    // SAFETY: handed out just now.
                    unsafe { p.write_bytes(1, size as usize % (1 << 22)) };
                }
            }
            Op::GrowStale => {
                // A destroyed handle is refused, whatever is asked of it.
                let stale = *destroyed.get_or_insert_with(|| {
                    // SAFETY: a fresh handle, destroyed at once and never used again but to
                    // be refused.
                    unsafe {
                        let h = c::vmem_grow_arena_create(core::ptr::null());
                        assert_eq!(c::vmem_grow_arena_destroy(h), 1);
                        h
                    }
                });
                // SAFETY: the library checks the handle before using it.
                unsafe {
                    assert!(c::vmem_grow_arena_push(stale, 8, 8).is_null());
                    check_message(false, "vmem_grow_arena_push");
                    assert_eq!(c::vmem_grow_arena_destroy(stale), 0);
                    assert_eq!(c::vmem_grow_arena_is_valid(stale), 0);
                }
            }
        }
    }
    for r in live {
        // SAFETY: nothing uses the reservations any more.
        assert_eq!(unsafe { c::vmem_release(r.base.cast(), PAGES * page) }, 1);
    }
    // SAFETY: as above.
    unsafe {
        assert_eq!(c::vmem_arena_deinit_dealloc(&mut arena), 1);
        assert_eq!(c::vmem_grow_arena_destroy(grow), 1);
    }
});
