//! A second outside review's attacks on the C handles (`VMemGrowArena`, `VMemFile`): made-up
//! pointers, destroyed handles, a handle of one kind passed as the other, and destroy racing
//! use from two threads. Each is an error, never a crash or another object's use.

use std::ffi::CStr;
use std::ptr;

use vmem_ffi::*;

fn message() -> String {
    // SAFETY: `vmem_get_error_message` returns a NUL-terminated string, never NULL.
    unsafe { CStr::from_ptr(vmem_get_error_message()) }.to_string_lossy().into_owned()
}

/// A file handle is never a live arena handle, nor the other way round: each kind counted
/// its handles from 16 on its own, so the first file's handle was the first arena's, and a
/// file passed where an arena goes (a `void *` mix-up in C) pushed into that arena instead of
/// being refused.
#[test]
fn a_handle_of_one_kind_is_not_a_live_handle_of_the_other() {
    let path = std::env::temp_dir().join(format!("vmem-ffi-attacks-{}\0", std::process::id()));
    let c_path = path.to_str().unwrap();
    // SAFETY: one thread per object; the path is NUL-terminated; nothing is used after it is
    // destroyed or closed; the mix-ups are refused before any object is reached.
    unsafe {
        let mut arenas = Vec::new();
        let mut files = Vec::new();
        for _ in 0..4 {
            let arena = vmem_grow_arena_create(ptr::null());
            assert!(!arena.is_null(), "{}", message());
            arenas.push(arena);
            let file = vmem_file_open(c_path.as_ptr().cast(), VMemFileFlag_Create, 1 << 20);
            assert!(!file.is_null(), "{}", message());
            files.push(file);
        }
        for &file in &files {
            let as_arena = file.cast::<VMemGrowArena>();
            assert_eq!(vmem_grow_arena_is_valid(as_arena), 0, "a file handle {file:?} is a live arena");
            assert!(vmem_grow_arena_push(as_arena, 8, 8).is_null(), "pushed into an arena through a file handle");
        }
        for &arena in &arenas {
            assert_eq!(vmem_file_is_valid(arena.cast()), 0, "an arena handle {arena:?} is a live file");
            assert_eq!(vmem_file_len(arena.cast()), 0);
        }
        for arena in arenas {
            assert_eq!(vmem_grow_arena_destroy(arena), 1);
        }
        for file in files {
            assert_eq!(vmem_file_close(file), 1);
        }
    }
    std::fs::remove_file(path.to_str().unwrap().trim_end_matches('\0')).unwrap();
}

/// Made-up pointers of every shape (null, small numbers, aligned and not, the top of the
/// address space, a real heap and stack address) and destroyed handles: errors that set the
/// message, never a dereference.
#[test]
fn made_up_and_destroyed_handles_are_errors() {
    let on_stack = 0u64;
    let on_heap = Box::new(0u64);
    // SAFETY: one thread; none of these pointers is dereferenced by the library (refused).
    unsafe {
        let destroyed = vmem_grow_arena_create(ptr::null());
        assert_eq!(vmem_grow_arena_destroy(destroyed), 1);
        let made_up = [
            ptr::null_mut(),
            1usize as *mut VMemGrowArena,
            8usize as *mut VMemGrowArena,
            usize::MAX as *mut VMemGrowArena,
            (usize::MAX & !15) as *mut VMemGrowArena,
            (&on_stack as *const u64).cast_mut().cast(),
            (&*on_heap as *const u64).cast_mut().cast(),
            destroyed,
        ];
        for &p in &made_up {
            assert_eq!(vmem_grow_arena_is_valid(p), 0, "{p:?}");
            assert!(vmem_grow_arena_push(p, 8, 8).is_null(), "{p:?}");
            assert!(!message().is_empty());
            assert_eq!(vmem_grow_arena_reset(p), 0, "{p:?}");
            assert_eq!(vmem_grow_arena_rewind(p, VMemGrowArenaMark::default()), 0);
            assert_eq!(vmem_grow_arena_allocated_bytes(p), 0);
            assert_eq!(vmem_grow_arena_checkpoint(p), VMemGrowArenaMark::default());
            assert_eq!(vmem_grow_arena_destroy(p), 0, "{p:?}");
            let f = p.cast::<VMemFile>();
            assert_eq!(vmem_file_is_valid(f), 0);
            assert!(vmem_file_ptr(f).is_null());
            assert_eq!(vmem_file_grow(f, 4096), 0);
            assert_eq!(vmem_file_close(f), 0);
        }
    }
    assert_eq!(*on_heap, 0);
}

/// One thread destroys a handle while another keeps using it (against the header's rule,
/// which the registry makes safe anyway: a call holds the handle's read lock): every call
/// either ran on the live arena or was refused; none touched a destroyed one.
#[test]
fn destroy_racing_use_is_an_error_never_a_crash() {
    for _ in 0..50 {
        // SAFETY: the handle is used by two threads at once on purpose (see above); memory
        // it hands out is never touched.
        unsafe {
            let arena = vmem_grow_arena_create(ptr::null());
            assert!(!arena.is_null());
            let handle = arena as usize;
            let user = std::thread::spawn(move || {
                let arena = handle as *mut VMemGrowArena;
                let mut pushed = 0;
                while pushed < 200_000 && !vmem_grow_arena_push(arena, 64, 16).is_null() {
                    pushed += 1;
                    let _ = vmem_grow_arena_allocated_bytes(arena);
                }
                if pushed < 200_000 {
                    assert!(message().contains("not a live arena"), "{}", message());
                }
                pushed
            });
            std::thread::yield_now();
            assert_eq!(vmem_grow_arena_destroy(arena), 1);
            user.join().unwrap();
            assert_eq!(vmem_grow_arena_is_valid(arena), 0);
        }
    }
}
