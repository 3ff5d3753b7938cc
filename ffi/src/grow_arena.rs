//! `VMemGrowArena`: the Rust [`vmem_core::Arena`] behind an opaque C handle.
//!
//! Unlike `VMemArena` (one fixed block the caller describes in a struct), this arena chains
//! new reserved blocks when one is full, so it has no size limit unless asked for one, and
//! it keeps its state where C cannot corrupt it. Handles are recorded while they live, so a
//! handle that was destroyed already, or was never one, is an error and not a crash. A
//! handle is a number, never reused, not the arena's address: the heap hands a destroyed
//! arena's address to the next one, which would make the old handle live again.

use core::alloc::Layout;
use core::ffi::{c_int, c_void};
use core::ptr::{self, NonNull};

use vmem_core::arena::Checkpoint;
use vmem_core::{Arena, ErrorKind};

use crate::message::{call, infallible, Failure, Outcome};
use crate::registry::Handles;
use crate::types::{VMemResult, VMemResult_Error, VMemResult_Success, VMemSize};

/// An arena created by [`vmem_grow_arena_create`]; C sees only handles to it (opaque
/// pointers that are numbers, see the module docs).
pub struct VMemGrowArena {
    arena: Arena,
}

/// Settings for [`vmem_grow_arena_create`]. All zero means the defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VMemGrowArenaConfig {
    /// Address space reserved per block, in bytes (0: the library default,
    /// [`DEFAULT_RESERVE_BYTES`](vmem_core::DEFAULT_RESERVE_BYTES), 64 GiB on 64-bit
    /// systems).
    pub block_size: VMemSize,
    /// How much is committed at a time as the arena grows (0: 1 MiB).
    pub commit_step: VMemSize,
    /// The most address space the arena may reserve in all (0: unbounded).
    pub max_bytes: VMemSize,
    /// Bytes kept committed across [`vmem_grow_arena_reset`] (0: return everything).
    pub retain_bytes: VMemSize,
    /// Non-zero: ask for transparent huge pages.
    pub huge_pages: c_int,
    /// Non-zero: do not fault each commit step in at once (for sparse use).
    pub no_prefault: c_int,
}

/// A position in a [`VMemGrowArena`], for [`vmem_grow_arena_rewind`]. Opaque.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VMemGrowArenaMark {
    /// The checkpoint's words; only [`vmem_grow_arena_checkpoint`] makes valid ones.
    pub opaque: [VMemSize; 4],
}

/// The live handles.
static ARENAS: Handles<VMemGrowArena> = Handles::new(
    "the arena pointer is null",
    "the pointer is not a live arena from vmem_grow_arena_create (never one, or destroyed already)",
);

/// Runs `body` with the object behind `handle`, after checking that it is live.
fn with_arena<T>(
    function: &'static str,
    handle: *const VMemGrowArena,
    body: impl FnOnce(&Arena) -> Outcome<T>,
) -> Outcome<T> {
    ARENAS.with(function, handle, |object| body(&object.arena))
}

/// As [`with_arena`], mutably.
///
/// # Safety
/// No other thread may use the object during the call (the header's one-thread rule), and no
/// pointer the call invalidates may be used afterwards.
unsafe fn with_arena_mut<T>(
    function: &'static str,
    handle: *mut VMemGrowArena,
    body: impl FnOnce(&mut Arena) -> Outcome<T>,
) -> Outcome<T> {
    // SAFETY: forwarded from the caller.
    unsafe { ARENAS.with_mut(function, handle, |object| body(&mut object.arena)) }
}

/// Creates an arena with `config`'s settings (NULL or all zero: the defaults). Reserves
/// nothing until the first push. Returns NULL and sets the message on failure.
///
/// # Safety
/// `config` must be NULL or point to a readable `VMemGrowArenaConfig`.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_create(config: *const VMemGrowArenaConfig) -> *mut VMemGrowArena {
    const F: &str = "vmem_grow_arena_create";
    call(F, ptr::null_mut(), || {
        let config = if config.is_null() {
            VMemGrowArenaConfig::default()
        } else {
            // SAFETY: not null, and the caller promises it is readable.
            unsafe { config.read() }
        };
        // vmem.h promises that fresh memory reads zero: C reads what it did not write.
        let mut builder = Arena::builder()
            .huge_pages(config.huge_pages != 0)
            .prefault(config.no_prefault == 0)
            .fresh_memory_reads_zero(true);
        if config.block_size != 0 {
            builder = builder.block_size(config.block_size);
        }
        if config.commit_step != 0 {
            builder = builder.commit_step(config.commit_step);
        }
        if config.max_bytes != 0 {
            builder = builder.max_bytes(config.max_bytes);
        }
        builder = builder.retain_bytes(config.retain_bytes);
        let arena = builder.build()?;

        ARENAS.create(F, VMemGrowArena { arena })
    })
}

/// Frees everything the arena handed out, releases its memory and the handle.
///
/// # Safety
/// `arena` must not be in use by another thread; nothing may use memory it handed out, nor
/// the handle, afterwards.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_destroy(arena: *mut VMemGrowArena) -> VMemResult {
    const F: &str = "vmem_grow_arena_destroy";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises exclusive use, and that nothing uses the object afterwards.
        unsafe { ARENAS.destroy(F, arena)? };
        Ok(VMemResult_Success)
    })
}

/// Hands out `size` bytes aligned to `align` (a power of two), reserving and committing
/// more memory when needed. Returns NULL when `size` is zero, `align` is not a power of
/// two, the arena's maximum is reached or the OS refuses memory.
///
/// # Safety
/// `arena` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_push(arena: *mut VMemGrowArena, size: usize, align: usize) -> *mut c_void {
    const F: &str = "vmem_grow_arena_push";
    call(F, ptr::null_mut(), || with_arena(F, arena, |a| push(F, a, size, align).map(|p| p.as_ptr().cast())))
}

/// As [`vmem_grow_arena_push`], and the bytes read zero (memory reused after a rewind is
/// cleared; fresh pages already are).
///
/// # Safety
/// `arena` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_push_zeroed(
    arena: *mut VMemGrowArena,
    size: usize,
    align: usize,
) -> *mut c_void {
    const F: &str = "vmem_grow_arena_push_zeroed";
    call(F, ptr::null_mut(), || {
        with_arena(F, arena, |a| {
            let p = push(F, a, size, align)?;
            // SAFETY: the arena just handed out `size` writable bytes at `p`.
            unsafe { p.as_ptr().write_bytes(0, size) };
            Ok(p.as_ptr().cast())
        })
    })
}

fn push(function: &'static str, arena: &Arena, size: usize, align: usize) -> Outcome<NonNull<u8>> {
    if size == 0 {
        return Err(Failure::invalid(function, "the size is zero"));
    }
    let layout = Layout::from_size_align(size, align).map_err(|_| {
        if align.is_power_of_two() {
            Failure::new(ErrorKind::OutOfMemory, function, "the size is larger than any allocation can be")
                .with("size", size as u64)
        } else {
            Failure::invalid(function, "the alignment is not a power of two").with("alignment", align as u64)
        }
    })?;
    Ok(arena.try_alloc_layout(layout)?)
}

/// The arena's current position, for [`vmem_grow_arena_rewind`]. Returns an all-zero mark
/// (which rewinds to the start) and sets the message for an invalid arena.
///
/// # Safety
/// `arena` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_checkpoint(arena: *const VMemGrowArena) -> VMemGrowArenaMark {
    const F: &str = "vmem_grow_arena_checkpoint";
    call(F, VMemGrowArenaMark::default(), || {
        with_arena(F, arena, |a| Ok(VMemGrowArenaMark { opaque: a.checkpoint().to_words() }))
    })
}

/// Frees everything pushed since `mark` was taken; memory stays committed for reuse (blocks
/// chained since are released). Refuses a mark from another arena or one taken after a
/// position that was since rewound or reset; nothing changes then.
///
/// # Safety
/// `arena` must not be in use by another thread; nothing may use memory pushed after `mark`.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_rewind(arena: *mut VMemGrowArena, mark: VMemGrowArenaMark) -> VMemResult {
    const F: &str = "vmem_grow_arena_rewind";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises exclusive use and that nothing uses what is freed.
        unsafe {
            with_arena_mut(F, arena, |a| {
                a.rewind(Checkpoint::from_words(mark.opaque))?;
                Ok(VMemResult_Success)
            })
        }
    })
}

/// Frees everything, releases chained blocks and decommits all but `retain_bytes` of the
/// first, so memory use really drops.
///
/// # Safety
/// `arena` must not be in use by another thread; nothing may use memory it handed out.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_reset(arena: *mut VMemGrowArena) -> VMemResult {
    const F: &str = "vmem_grow_arena_reset";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises exclusive use and that nothing uses what is freed.
        unsafe {
            with_arena_mut(F, arena, |a| {
                a.reset();
                Ok(VMemResult_Success)
            })
        }
    })
}

/// Which of an arena's sizes [`stat`] reads.
#[derive(Clone, Copy)]
enum Stat {
    Allocated,
    Committed,
    Reserved,
}

fn stat(function: &'static str, arena: *const VMemGrowArena, which: Stat) -> VMemSize {
    call(function, 0, || {
        ARENAS.with(function, arena, |object| {
            let a = &object.arena;
            Ok(match which {
                Stat::Allocated => a.allocated_bytes(),
                Stat::Committed => a.committed_bytes(),
                Stat::Reserved => a.reserved_bytes(),
            })
        })
    })
}

/// Bytes handed out (alignment padding included); 0 (and the message is set) for an invalid arena.
///
/// # Safety
/// `arena` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_allocated_bytes(arena: *const VMemGrowArena) -> VMemSize {
    stat("vmem_grow_arena_allocated_bytes", arena, Stat::Allocated)
}

/// Bytes committed in all blocks; 0 (and the message is set) for an invalid arena.
///
/// # Safety
/// `arena` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_committed_bytes(arena: *const VMemGrowArena) -> VMemSize {
    stat("vmem_grow_arena_committed_bytes", arena, Stat::Committed)
}

/// Bytes of address space reserved in all blocks; 0 (and the message is set) for an invalid arena.
///
/// # Safety
/// `arena` must not be in use by another thread.
#[no_mangle]
pub unsafe extern "C" fn vmem_grow_arena_reserved_bytes(arena: *const VMemGrowArena) -> VMemSize {
    stat("vmem_grow_arena_reserved_bytes", arena, Stat::Reserved)
}

/// 1 if `arena` is a live handle from [`vmem_grow_arena_create`], 0 otherwise. Never touches
/// the error message.
#[no_mangle]
pub extern "C" fn vmem_grow_arena_is_valid(arena: *const VMemGrowArena) -> VMemResult {
    infallible("vmem_grow_arena_is_valid", VMemResult_Error, || VMemResult::from(ARENAS.is_live(arena)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_rewind_reset_destroy() {
        // SAFETY: one thread; nothing is used after it is freed.
        unsafe {
            let a = vmem_grow_arena_create(ptr::null());
            assert!(!a.is_null());
            assert_eq!(vmem_grow_arena_is_valid(a), 1);
            let p = vmem_grow_arena_push(a, 100, 64).cast::<u8>();
            assert!(!p.is_null() && p as usize % 64 == 0);
            p.write_bytes(7, 100);
            let mark = vmem_grow_arena_checkpoint(a);
            let q = vmem_grow_arena_push(a, 1000, 8).cast::<u8>();
            q.write_bytes(9, 1000);
            assert_eq!(vmem_grow_arena_rewind(a, mark), 1);
            let z = vmem_grow_arena_push_zeroed(a, 1000, 8).cast::<u8>();
            assert_eq!(z, q);
            assert!((0..1000).all(|i| *z.add(i) == 0));
            assert_eq!(*p.add(99), 7);
            let forged = VMemGrowArenaMark { opaque: [mark.opaque[0], mark.opaque[1], mark.opaque[2] + 1, 0] };
            assert_eq!(vmem_grow_arena_rewind(a, forged), 0);
            assert_eq!(vmem_grow_arena_reset(a), 1);
            assert_eq!(vmem_grow_arena_allocated_bytes(a), 0);
            assert_eq!(vmem_grow_arena_destroy(a), 1);
            assert_eq!(vmem_grow_arena_is_valid(a), 0);
            assert_eq!(vmem_grow_arena_destroy(a), 0);
            assert!(vmem_grow_arena_push(a, 8, 8).is_null());
        }
    }
}
