//! `VMemArena`: a bump allocator over one block of our reserved memory, committed as it
//! grows, with the original `vmem.h` arena calls and the Rust [`vmem_core::Arena`]'s
//! push/reset/checkpoint/rewind model.
//!
//! The arena is a plain C struct the caller owns, so every call first checks that its
//! fields are consistent. A stale copy of the struct (one that still claims memory another
//! copy's reset decommitted) must not be handed decommitted memory, so a push never trusts
//! `commited` alone: it checks the claim against the reservation's own record in the
//! registry, and remembers the answer per thread (a small cache, voided whenever any call
//! anywhere takes write access away from pages: see `registry::GENERATION`). A push that
//! fits in memory this thread has checked is a few comparisons, a thread-local read and an
//! atomic load; a push past it checks the registry (a read lock and a search) and, where
//! needed, commits more by the Rust arena's rule ([`vmem_core::arena::default_commit_step`]: as
//! much as is committed, from 64 KiB to 64 MiB; one system call). A stale claim is
//! repaired by committing it again (committed pages keep their contents).

use core::cell::Cell;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::Ordering;

use vmem_core::ErrorKind;

use crate::commit::partially_commit;
use crate::message::{call, Failure, Outcome};
use crate::registry::{self, Change, GENERATION};
use crate::types::{VMemArena, VMemResult, VMemResult_Error, VMemResult_Success, VMemSize};

/// Reads and checks the arena behind `arena`.
///
/// # Safety
/// `arena` must be null or point to a readable `VMemArena`.
unsafe fn load(function: &'static str, arena: *const VMemArena) -> Outcome<VMemArena> {
    if arena.is_null() {
        return Err(Failure::invalid(function, "the arena pointer is null"));
    }
    // SAFETY: not null, and the caller promises it points to a readable `VMemArena`.
    let a = unsafe { arena.read() };
    check(function, &a)?;
    Ok(a)
}

/// Checks that an arena's fields are consistent.
fn check(function: &'static str, a: &VMemArena) -> Outcome<()> {
    if a.mem.is_null() || a.size_bytes == 0 {
        return Err(Failure::invalid(
            function,
            "the arena is not initialized (mem is NULL or size_bytes is 0): use vmem_arena_init or vmem_arena_init_alloc",
        ));
    }
    if (a.mem as usize).checked_add(a.size_bytes).is_none() {
        return Err(Failure::invalid(function, "the arena runs past the end of the address space")
            .at(a.mem as usize, a.size_bytes));
    }
    if a.commited > a.size_bytes {
        return Err(Failure::invalid(function, "the arena is corrupt: commited is larger than size_bytes")
            .at(a.mem as usize, a.size_bytes)
            .with("commited", a.commited as u64));
    }
    if a.used > a.commited {
        return Err(Failure::invalid(function, "the arena is corrupt: used is larger than commited")
            .at(a.mem as usize, a.size_bytes)
            .with("used", a.used as u64));
    }
    Ok(())
}

/// Writes `a` back through `arena`.
///
/// # Safety
/// `arena` must point to a writable `VMemArena` (it was read by [`load`]).
unsafe fn store(arena: *mut VMemArena, a: VMemArena) {
    // SAFETY: the caller promises `arena` is writable.
    unsafe { arena.write(a) };
}

/// Makes `a` an arena over `[mem, mem + size_bytes)`, which must be page-aligned and inside
/// one live reservation made by `vmem_reserve`/`vmem_alloc`. Commits nothing: `commited`
/// and `used` start at 0. The caller still owns the memory: release it with `vmem_release`
/// (or, when the arena covers exactly one whole reservation, `vmem_arena_deinit_dealloc`).
///
/// Returns a zeroed (invalid) arena on failure.
#[no_mangle]
pub extern "C" fn vmem_arena_init(mem: *mut c_void, size_bytes: VMemSize) -> VMemArena {
    const F: &str = "vmem_arena_init";
    call(F, VMemArena::INVALID, || {
        let mem = mem.cast::<u8>();
        registry::check_range(F, mem, size_bytes)?;
        if !vmem_core::is_aligned(mem as usize, vmem_core::page_size()) {
            return Err(Failure::invalid(F, "the arena's memory does not start at a page boundary")
                .at(mem as usize, size_bytes)
                .with("page size", vmem_core::page_size() as u64));
        }
        Ok(VMemArena { mem, size_bytes, commited: 0, used: 0 })
    })
}

/// Reserves `size_bytes` (nothing is committed yet) and makes an arena over it. Free it with
/// [`vmem_arena_deinit_dealloc`]. Returns a zeroed (invalid) arena on failure.
#[no_mangle]
pub extern "C" fn vmem_arena_init_alloc(size_bytes: VMemSize) -> VMemArena {
    const F: &str = "vmem_arena_init_alloc";
    call(F, VMemArena::INVALID, || {
        let mem = registry::reserve(F, size_bytes)?;
        Ok(VMemArena { mem, size_bytes, commited: 0, used: 0 })
    })
}

/// Releases the arena's memory, which must be exactly one whole reservation (as from
/// [`vmem_arena_init_alloc`]), and zeroes `*arena`. Leaves `*arena` unchanged on failure.
///
/// # Safety
/// `arena` must be NULL or point to a writable `VMemArena`; nothing may use the arena's
/// memory afterwards.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_deinit_dealloc(arena: *mut VMemArena) -> VMemResult {
    const F: &str = "vmem_arena_deinit_dealloc";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises `arena` is null or valid.
        let a = unsafe { load(F, arena)? };
        // SAFETY: the caller promises nothing uses the memory afterwards.
        unsafe { registry::release(F, a.mem, a.size_bytes)? };
        // SAFETY: `load` read it, so it is valid; the caller promises it is writable.
        unsafe { store(arena, VMemArena::INVALID) };
        Ok(VMemResult_Success)
    })
}

/// Commits or decommits so that exactly the first `commited` bytes of the arena (rounded up
/// to pages) are committed, and records `commited`. Refuses to go past `size_bytes` or below
/// `used` (rewind or reset first).
///
/// # Safety
/// `arena` must be NULL or point to a writable `VMemArena`; nothing may use decommitted
/// memory.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_set_commited(arena: *mut VMemArena, commited: VMemSize) -> VMemResult {
    const F: &str = "vmem_arena_set_commited";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises `arena` is null or valid.
        let mut a = unsafe { load(F, arena)? };
        if commited > a.size_bytes {
            return Err(Failure::invalid(F, "cannot commit more than the arena's size_bytes")
                .at(a.mem as usize, a.size_bytes)
                .with("commited", commited as u64));
        }
        if commited < a.used {
            return Err(Failure::invalid(
                F,
                "cannot decommit memory the arena has handed out (rewind or reset it first)",
            )
            .at(a.mem as usize, a.size_bytes)
            .with("used", a.used as u64));
        }
        // SAFETY: only pages past `used` are decommitted: the arena handed none of them out.
        unsafe { partially_commit(F, a.mem, a.size_bytes, a.commited, commited)? };
        a.commited = commited;
        // SAFETY: read by `load`, writable by the caller's promise.
        unsafe { store(arena, a) };
        Ok(VMemResult_Success)
    })
}

/// `1` when `arena` is not NULL, its fields are consistent (non-NULL `mem`, non-zero
/// `size_bytes`, `used <= commited <= size_bytes`) and its memory is inside a live
/// reservation; `0` otherwise. Never touches the error message.
///
/// # Safety
/// `arena` must be NULL or point to a readable `VMemArena`.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_is_valid(arena: *const VMemArena) -> VMemResult {
    crate::message::infallible("vmem_arena_is_valid", VMemResult_Error, || {
        if arena.is_null() {
            return VMemResult_Error;
        }
        // SAFETY: not null, and the caller promises it is readable.
        let a = unsafe { arena.read() };
        VMemResult::from(check("", &a).is_ok() && registry::contains(a.mem, a.size_bytes))
    })
}

/// Hands out `size` bytes aligned to `align` (a power of two) from the arena, committing more
/// memory when needed. Returns NULL when the arena is full or invalid, `size` is zero or
/// `align` is not a power of two. Fresh pages read zero; memory reused after a rewind keeps
/// what was written.
///
/// # Safety
/// `arena` must be NULL or point to a writable `VMemArena`.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_push(arena: *mut VMemArena, size: VMemSize, align: VMemSize) -> *mut c_void {
    const F: &str = "vmem_arena_push";
    call(F, ptr::null_mut(), || {
        // SAFETY: the caller promises `arena` is null or valid.
        let mut a = unsafe { load(F, arena)? };
        if size == 0 {
            return Err(Failure::invalid(F, "the size is zero"));
        }
        if !align.is_power_of_two() {
            return Err(Failure::invalid(F, "the alignment is not a power of two").with("alignment", align as u64));
        }
        let base = a.mem as usize;
        // No overflow: `used <= size_bytes` and `base + size_bytes` fits (checked by `load`).
        let cursor = base.wrapping_add(a.used);
        let full = || {
            Failure::new(ErrorKind::OutOfMemory, F, "the arena is full")
                .at(cursor, size)
                .with("size_bytes", a.size_bytes as u64)
        };
        let start = cursor.checked_next_multiple_of(align).ok_or_else(full)?;
        let end = start.checked_add(size).ok_or_else(full)?;
        let end_offset = end.checked_sub(base).filter(|&e| e <= a.size_bytes).ok_or_else(full)?;
        if end_offset > a.commited || !checked_writable(&a) {
            ensure_writable(F, &mut a, end_offset)?;
        }
        a.used = end_offset;
        // SAFETY: read by `load`, writable by the caller's promise.
        unsafe { store(arena, a) };
        Ok(a.mem.wrapping_add(start.wrapping_sub(base)).cast())
    })
}

/// What this thread last checked of an arena: at registry generation `generation`, the
/// first `writable` bytes of the arena at `mem` (of `size_bytes`) were committed and
/// writable.
#[derive(Clone, Copy)]
struct Checked {
    mem: usize,
    size_bytes: usize,
    writable: usize,
    generation: u64,
}

const UNCHECKED: Checked = Checked { mem: 0, size_bytes: 0, writable: 0, generation: u64::MAX };

std::thread_local! {
    /// A few arenas per thread (a program often pushes into two or three in turn), indexed
    /// by the page number of `mem`.
    static CHECKED: [Cell<Checked>; 4] = const { [const { Cell::new(UNCHECKED) }; 4] };
}

fn slot(mem: usize) -> usize {
    // The page size is a power of two, never 0: a shift and a mask.
    (mem >> vmem_core::page_size().trailing_zeros()) & 3
}

/// Whether this thread checked that all `a.commited` bytes of `a` are committed and
/// writable, and no call since could have taken that away.
#[inline]
fn checked_writable(a: &VMemArena) -> bool {
    let mem = a.mem as usize;
    CHECKED
        .try_with(|cache| {
            let c = cache.get(slot(mem)).map_or(UNCHECKED, Cell::get);
            c.mem == mem
                && c.size_bytes == a.size_bytes
                && a.commited <= c.writable
                && c.generation == GENERATION.load(Ordering::Acquire)
        })
        .unwrap_or(false)
}

/// Makes sure the first `needed` bytes of `a` (and all it claims as `commited`) are
/// committed and writable, checking the claim against the reservation's record instead of
/// trusting it, and commits what is missing: a step past `needed` by the Rust arena's rule
/// ([`vmem_core::arena::default_commit_step`])
/// past `needed`, or the end of the arena. Remembers the answer for this thread.
fn ensure_writable(function: &'static str, a: &mut VMemArena, needed: usize) -> Outcome<()> {
    // Read before the check: a call that takes access away after it bumps the generation,
    // so what we remember is void from then on.
    let generation = GENERATION.load(Ordering::Acquire);
    let page = vmem_core::page_size();
    registry::with_reservation(function, a.mem, a.size_bytes, Change::Widens, |reservation, offset| {
        let trusted = a.commited == 0 || reservation.is_writable(offset, a.commited);
        if !trusted || needed > a.commited {
            let step = vmem_core::arena::default_commit_step(a.commited);
            let target = vmem_core::align_up(needed.saturating_add(step), page)
                .unwrap_or(usize::MAX)
                .max(a.commited)
                .min(a.size_bytes);
            // A claim we could not confirm is committed again from the start: committed
            // pages keep their contents, so nothing another copy of the struct wrote is lost.
            let from = if trusted { vmem_core::align_up(a.commited, page)? } else { 0 };
            let to = vmem_core::align_up(target, page)?;
            if let Some(more) = to.checked_sub(from).filter(|&n| n > 0) {
                let start = offset.checked_add(from).ok_or_else(|| Failure::invalid(function, "offset overflows"))?;
                reservation.commit(start, more)?;
            }
            a.commited = target;
        }
        let entry = Checked { mem: a.mem as usize, size_bytes: a.size_bytes, writable: a.commited, generation };
        let _ = CHECKED.try_with(|cache| cache.get(slot(entry.mem)).map(|c| c.set(entry)));
        Ok(())
    })
}

/// Frees everything the arena handed out and decommits all its memory (one system call), so
/// memory use really drops. To keep the memory committed for reuse, rewind to 0 instead.
///
/// # Safety
/// `arena` must be NULL or point to a writable `VMemArena`; nothing may use memory the arena
/// handed out.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_reset(arena: *mut VMemArena) -> VMemResult {
    const F: &str = "vmem_arena_reset";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises `arena` is null or valid.
        let mut a = unsafe { load(F, arena)? };
        // SAFETY: the caller promises nothing uses the arena's memory any more.
        unsafe { partially_commit(F, a.mem, a.size_bytes, a.commited, 0)? };
        a.commited = 0;
        a.used = 0;
        // SAFETY: read by `load`, writable by the caller's promise.
        unsafe { store(arena, a) };
        Ok(VMemResult_Success)
    })
}

/// The arena's position (its `used` bytes), for [`vmem_arena_rewind`]. Returns 0 and sets
/// the message for an invalid arena; a successful call empties the message.
///
/// # Safety
/// `arena` must be NULL or point to a readable `VMemArena`.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_checkpoint(arena: *const VMemArena) -> VMemSize {
    const F: &str = "vmem_arena_checkpoint";
    // SAFETY: the caller promises `arena` is null or valid.
    call(F, 0, || Ok(unsafe { load(F, arena)? }.used))
}

/// Frees everything pushed since `checkpoint` was taken. Memory stays committed for reuse.
/// Refuses a checkpoint ahead of the current position (taken before an earlier rewind or
/// reset).
///
/// # Safety
/// `arena` must be NULL or point to a writable `VMemArena`; nothing may use memory pushed
/// after the checkpoint.
#[no_mangle]
pub unsafe extern "C" fn vmem_arena_rewind(arena: *mut VMemArena, checkpoint: VMemSize) -> VMemResult {
    const F: &str = "vmem_arena_rewind";
    call(F, VMemResult_Error, || {
        // SAFETY: the caller promises `arena` is null or valid.
        let mut a = unsafe { load(F, arena)? };
        if checkpoint > a.used {
            return Err(Failure::invalid(
                F,
                "the checkpoint is ahead of the arena's position (it was taken before a rewind or reset)",
            )
            .with("used", a.used as u64)
            .with("checkpoint", checkpoint as u64));
        }
        a.used = checkpoint;
        // SAFETY: read by `load`, writable by the caller's promise.
        unsafe { store(arena, a) };
        Ok(VMemResult_Success)
    })
}
