// vmem.h - the C API of vmem: virtual address space, directly.
//
// Reserve address space without using memory, commit the pages you need, decommit them so
// the memory really goes back to the OS, protect, lock, query and release; and a bump arena
// built on that. The API is that of the public-domain header library `vmem.h` by Jakub
// Tomšů (https://github.com/jakubtomsu/vmem), implemented in Rust by the `vmem` crate and
// shipped as a compiled library: this header declares it, there is no VMEM_IMPLEMENTATION.
//
// BUILD AND LINK
//      cargo build --profile release-c -p vmem-c
//          -> target/release-c/libvmem.a and target/release-c/libvmem.so
//      Static:  cc -std=c11 -I ffi/include app.c target/release-c/libvmem.a -lpthread -ldl -lm
//      Shared:  cc -std=c11 -I ffi/include app.c -L target/release-c -lvmem
//                   -Wl,-rpath,"$PWD/target/release-c"
//      The header is C99 and C++11 clean (-Wall -Wextra -pedantic).
//
// ERRORS
//      No function aborts, asserts or crashes on bad input. A function that can fail returns
//      0 (VMemResult_Error), NULL, or a zeroed VMemArena, and then vmem_get_error_message()
//      says what was wrong, e.g.
//          "vmem_release: the pointer is not a live reservation made by vmem_reserve or
//           vmem_alloc (never reserved, or released already) (address 0x1000, 4096 bytes)"
//      The message is per thread. Every successful call of a function that can fail empties
//      it, so an empty message means the last such call on this thread succeeded.
//      Functions documented "cannot fail" (the sizes, vmem_get_protect_name, the *_is_valid
//      checks, vmem_init, vmem_get_error_message) never touch it.
//
// SAFETY NETS
//      Every reservation made here is recorded. Commit, decommit, protect, lock, unlock and
//      release refuse any range that is not inside one live reservation (a pointer never
//      reserved, released already, or from malloc), instead of changing memory someone
//      else owns. A release waits for commits, decommits, protects and locks of other
//      threads to finish, so they never act on released memory.
//
// DIFFERENCES FROM THE ORIGINAL vmem.h
//      - No vmem_init needed: vmem_get_page_size() is never 0. vmem_init still exists.
//      - Reserved memory is inaccessible until committed, on every OS (the original maps it
//        read-write on Linux, where any stray access silently succeeds). The protection
//        given to vmem_alloc_protect is checked but, as on Windows, only committing grants
//        access.
//      - vmem_decommit really returns memory and commit charge on Linux (the original used
//        madvise(MADV_DONTNEED), which keeps the commit charge); pages read zero when
//        committed again.
//      - vmem_commit, vmem_decommit and vmem_release return VMemResult. The first
//        generation of vmem.h declared `void vmem_commit(void*, size_t)` (and
//        vmem_decommit, vmem_free) returning nothing; the later one returns VMemResult.
//        This header follows the later one: a void function cannot report the errors
//        this library checks for. Callers that ignore the result still compile.
//      - Failures never assert (the original calls assert(0) in VMEM_ON_ERROR).
//      - Pointers that are not ours, zero sizes, NULL and invalid protections are errors.
//      - vmem_query_range_info works on Linux (the original: "not supported").
//      - vmem_unlock of pages that are not locked succeeds.
//      - VMemArena has a fourth field, `used`, and bump allocation:
//        vmem_arena_push, vmem_arena_reset, vmem_arena_checkpoint, vmem_arena_rewind.
//      - VMemGrowArena (vmem_grow_arena_*): the Rust vmem::Arena behind an opaque handle,
//        an arena with no size limit that chains reserved blocks and never moves memory.
//      - vmem_alloc, vmem_alloc_commited, vmem_commit and vmem_arena_is_valid are exported
//        functions (static inline in the original), callable through function pointers.
//      - vmem_free, the middle generation's name for vmem_release, is provided too.
//        VMEM_ON_ERROR, VMEM_NO_ERROR_CHECKING and the *_fast helpers are not.
//
// THREADS
//      Every function may be called from any thread. A VMemArena or VMemGrowArena is not
//      synchronized: one thread at a time per arena.
//
// LICENSE
//      MIT OR Apache-2.0, like the rest of vmem.

#if !defined(VMEM_FFI_VMEM_H)
#define VMEM_FFI_VMEM_H

#include <stddef.h>
#include <stdint.h>

// Specifiers for every function declaration, e.g. `__declspec(dllimport)` with a Windows
// DLL. Empty by default.
#if !defined(VMEM_FUNC)
#define VMEM_FUNC
#endif

#if defined(__cplusplus)
extern "C" {
#endif

///////////////////////////////////////////////////////////////////////////////////////////
// Types
//

// A size in bytes.
typedef size_t VMemSize;

// Success or failure, usable in an `if`: `if(vmem_commit(p, n)) { ... }`.
typedef int VMemResult;

typedef enum VMemResult_ {
    VMemResult_Error = 0,   // false: vmem_get_error_message() says why
    VMemResult_Success = 1, // true
} VMemResult_;

// A page protection: one of the VMemProtect_ values.
typedef uint8_t VMemProtect;

typedef enum VMemProtect_ {
    VMemProtect_Invalid = 0,      // Not a protection. Refused by every function that takes one.
                                  // vmem_query_range_info reports it for unmapped address space.
    VMemProtect_NoAccess = 1,     // Any access faults.
    VMemProtect_Read = 2,         // Reads only.
    VMemProtect_ReadWrite = 3,    // Reads and writes: what vmem_commit gives.
    VMemProtect_Execute = 4,      // Execution only (most CPUs allow reads too).
    VMemProtect_ExecuteRead = 5,  // Execution and reads.
    VMemProtect_ExecuteReadWrite = 6, // Everything. Hardened systems may refuse it.
    VMemProtect_COUNT = 7,
} VMemProtect_;

// The machine's physical memory.
typedef struct VMemUsageStatus {
    VMemSize total_physical_bytes; // installed (usable by the OS)
    VMemSize avail_physical_bytes; // available without swapping (Linux: MemAvailable)
} VMemUsageStatus;

// A run of adjacent pages with the same state and protection.
typedef struct VMemRangeInfo {
    void* ptr;            // first byte of the run (page-aligned)
    VMemSize size_bytes;  // length of the run, a multiple of the page size
    uint8_t is_commited;  // 1: committed; 0: reserved only, or not mapped at all
    VMemProtect protect;  // committed pages: their protection; reserved pages:
                          // VMemProtect_NoAccess; unmapped address space: VMemProtect_Invalid
} VMemRangeInfo;

// A bump allocator over one block of reserved memory, committed as it grows.
//
// A plain struct you own and may copy, but use one copy: the functions update the struct
// you pass. Every call checks that the fields are consistent (mem not NULL, size_bytes not
// 0, used <= commited <= size_bytes) and refuses an arena that is not; a zeroed arena is
// invalid. Not thread-safe: one thread at a time per arena.
//
// The first three fields are the original vmem.h's; `used` is new.
typedef struct VMemArena {
    uint8_t* mem;        // first byte of the arena's memory: page-aligned, inside a
                         // reservation made by vmem_reserve / vmem_alloc
    VMemSize size_bytes; // capacity in bytes
    VMemSize commited;   // bytes from `mem` that are committed (every page holding one is)
    VMemSize used;       // bytes from `mem` handed out by vmem_arena_push, padding included
} VMemArena;

///////////////////////////////////////////////////////////////////////////////////////////
// Sizes and set-up
//

// Optional. Asks the OS for the page size and allocation granularity now, so that the first
// call needing them does not. Nothing requires it. Cannot fail.
VMEM_FUNC void vmem_init(void);

// The page size in bytes (4096, 16384, 65536...): the unit of commit, decommit, protect and
// lock. Asked of the OS once, then cached; never 0, with or without vmem_init. Cannot fail.
VMEM_FUNC size_t vmem_get_page_size(void);

// The same value as vmem_get_page_size(). Cannot fail.
VMEM_FUNC VMemSize vmem_query_page_size(void);

// The alignment of every reservation's base in bytes: 64 KiB on Windows, the page size
// elsewhere. Never 0. Cannot fail.
VMEM_FUNC VMemSize vmem_get_allocation_granularity(void);

// The same value as vmem_get_allocation_granularity(). Cannot fail.
VMEM_FUNC VMemSize vmem_query_allocation_granularity(void);

///////////////////////////////////////////////////////////////////////////////////////////
// Reserving and releasing address space
//

// Reserves at least `num_bytes` of address space, rounded up to whole pages, and returns its
// base (aligned to the allocation granularity). It costs no memory and no commit charge, and
// any access to it faults until it is committed (vmem_commit).
// Returns NULL on failure: zero size, or no room in the address space (ulimit -v).
// Cost: one system call.
VMEM_FUNC void* vmem_reserve(size_t num_bytes);

// The later name of vmem_reserve: reserves `num_bytes` of inaccessible address space.
// Release it with vmem_dealloc (or vmem_release). Returns NULL on failure.
VMEM_FUNC void* vmem_alloc(VMemSize num_bytes);

// Reserves like vmem_alloc after checking that `protect` is a valid VMemProtect_ value
// (NULL if not). As on Windows, the protection grants no access to reserved memory: pages
// get their protection when committed (vmem_commit_protect).
VMEM_FUNC void* vmem_alloc_protect(VMemSize num_bytes, VMemProtect protect);

// Reserves `num_bytes` and commits all of it read-write: ready to use, reading zero.
// Returns NULL (and keeps nothing reserved) on failure. Cost: two system calls.
VMEM_FUNC void* vmem_alloc_commited(VMemSize num_bytes);

// Releases a whole reservation: its address space and any memory committed in it go back to
// the OS. `ptr` must be the base returned by vmem_reserve / vmem_alloc*, and `num_bytes` the
// size it was reserved with (any size that rounds up to the same number of pages).
// Errors: NULL, zero size, a pointer that is not the base of a live reservation (never
// reserved, released already, inside one, from malloc), a different size.
// Nothing may use the memory afterwards. Cost: one system call.
VMEM_FUNC VMemResult vmem_release(void* ptr, size_t num_bytes);

// The later name of vmem_release. `num_allocated_bytes` is the size given to vmem_alloc.
VMEM_FUNC VMemResult vmem_dealloc(void* ptr, VMemSize num_allocated_bytes);

// The middle generation's name for vmem_release: releases a whole reservation.
VMEM_FUNC VMemResult vmem_free(void* ptr, VMemSize num_bytes);

///////////////////////////////////////////////////////////////////////////////////////////
// Committing, decommitting, protecting
//
// These act on every page holding a byte of [ptr, ptr + num_bytes), which must lie inside
// one live reservation. Each is one system call (vmem_commit_protect with a protection other
// than read-write: two).
//

// Commits the pages read-write: they are backed by memory when first touched. Pages
// committed for the first time, or again after vmem_decommit, read zero; pages already
// committed keep their contents (and become read-write).
// Errors: NULL, zero size, a range outside our reservations, the OS refusing to back the
// pages (commit limit, RLIMIT_DATA; then the pages keep the state they had).
VMEM_FUNC VMemResult vmem_commit(void* ptr, size_t num_bytes);

// Commits like vmem_commit, then sets the protection `protect`. An invalid `protect` is
// refused before anything changes. If the OS refuses the protection (e.g. ExecuteReadWrite
// on a hardened system), the pages stay committed read-write.
VMEM_FUNC VMemResult vmem_commit_protect(void* ptr, VMemSize num_bytes, VMemProtect protect);

// Decommits the pages: their memory and commit charge go back to the OS (RSS drops), they
// stay reserved, become inaccessible, and read zero when committed again.
// Nothing may read or write them until then.
VMEM_FUNC VMemResult vmem_decommit(void* ptr, size_t num_bytes);

// Sets the protection of the pages. They should be committed: Windows refuses reserved
// pages, while on Unix giving a reserved page access commits it.
// Errors: as vmem_commit, plus an invalid `protect`, or a protection the OS forbids.
VMEM_FUNC VMemResult vmem_protect(void* ptr, VMemSize num_bytes, VMemProtect protect);

// Treats [ptr, ptr + num_bytes) as a region whose first `prev_commited` bytes are committed,
// and commits or decommits the difference so that its first `commited` bytes are (both
// rounded up to pages). `ptr` must be page-aligned; neither count may exceed `num_bytes`.
// Only the difference changes: pages that stay committed keep contents and protection.
VMEM_FUNC VMemResult vmem_partially_commit_region(void* ptr, VMemSize num_bytes, VMemSize prev_commited,
                                                  VMemSize commited);

///////////////////////////////////////////////////////////////////////////////////////////
// Locking
//

// Locks the pages in physical memory: they are faulted in now and never swapped out until
// unlocked. They must be committed and accessible. Bounded by RLIMIT_MEMLOCK (ulimit -l) on
// Unix and the working-set size on Windows: past it this fails with a message saying so.
VMEM_FUNC VMemResult vmem_lock(void* ptr, VMemSize num_bytes);

// Unlocks the pages, so the OS may swap them out. Pages that are not locked are fine.
VMEM_FUNC VMemResult vmem_unlock(void* ptr, VMemSize num_bytes);

///////////////////////////////////////////////////////////////////////////////////////////
// Queries
//

// The machine's total and available physical memory. On failure both fields are 0.
VMEM_FUNC VMemUsageStatus vmem_query_usage_status(void);

// Describes the pages covering [ptr, ptr + num_bytes) (widened to whole pages) as runs of
// adjacent pages with the same state and protection, in address order, written to
// `out_buf[0..]`. Returns how many were written, at most `buf_max_items`; 0 on failure.
// If the last run written ends before ptr + num_bytes, there were more: ask again from its
// end. Any address may be asked about (unmapped space: is_commited 0, VMemProtect_Invalid).
// Linux: reads /proc/self/smaps (microseconds to milliseconds). Linux cannot tell
// "committed, no access" from "reserved": an inaccessible page is reported committed while
// the kernel still charges memory for it (it was written before), reserved otherwise.
// Errors: NULL `ptr` or `out_buf`, zero `num_bytes` or `buf_max_items`, a range that wraps.
VMEM_FUNC VMemSize vmem_query_range_info(void* ptr, VMemSize num_bytes, VMemRangeInfo* out_buf,
                                         VMemSize buf_max_items);

///////////////////////////////////////////////////////////////////////////////////////////
// Errors and names
//

// This thread's message about the last failed call, e.g. "vmem_commit: the size is zero
// (address 0x7f0000000000, 0 bytes)". Never NULL; empty ("") before any failure and after
// any successful call of a function that can fail. The text lives in a per-thread buffer
// (1024 bytes, NUL included; longer messages are cut) that the next failing call on this
// thread overwrites: copy it to keep it. Cannot fail.
VMEM_FUNC const char* vmem_get_error_message(void);

// The name of a protection: "NoAccess", "Read", "ReadWrite", "Execute", "ExecuteRead",
// "ExecuteReadWrite"; "Invalid" for VMemProtect_Invalid and "<Unknown>" for any other value.
// A static string, never NULL. Cannot fail.
VMEM_FUNC const char* vmem_get_protect_name(VMemProtect protect);

///////////////////////////////////////////////////////////////////////////////////////////
// Alignment
//

// Rounds `address` up to the next (or current) multiple of `align`, a positive power of two.
// Returns 0 (and sets the message) when `align` is zero, negative or not a power of two, or
// when the result would overflow; since a success empties the message, a 0 result can be
// told apart from an error.
VMEM_FUNC uintptr_t vmem_align_forward(uintptr_t address, int align);

// Rounds `address` down to the previous (or current) multiple of `align`, a positive power
// of two. Returns 0 (and sets the message) when `align` is not.
VMEM_FUNC uintptr_t vmem_align_backward(uintptr_t address, int align);

// 1 if `address` is a multiple of `align`, 0 if not. Returns 0 and sets the message when
// `align` is not a positive power of two; every other call empties the message (so an empty
// message tells "not aligned" from "invalid alignment").
VMEM_FUNC VMemResult vmem_is_aligned(uintptr_t address, int align);

///////////////////////////////////////////////////////////////////////////////////////////
// Arena
//
// Typical use:
//      VMemArena arena = vmem_arena_init_alloc((size_t)1 << 30); // 1 GiB, nothing committed
//      if(!vmem_arena_is_valid(&arena)) { puts(vmem_get_error_message()); return 1; }
//      float* xs = (float*)vmem_arena_push(&arena, 1000 * sizeof(float), _Alignof(float));
//      VMemSize mark = vmem_arena_checkpoint(&arena);
//      ... vmem_arena_push scratch data ...
//      vmem_arena_rewind(&arena, mark);  // frees the scratch data, keeps the memory
//      vmem_arena_reset(&arena);         // frees everything, returns the memory to the OS
//      vmem_arena_deinit_dealloc(&arena);
//
// Cost: a push that fits in memory this thread has checked is a few comparisons, a
// thread-local read and an atomic load (no system call, no lock). The first push past it
// checks the struct's `commited` against the library's record of the reservation (a read
// lock and a search), so a stale copy of the struct is never handed decommitted memory, and
// commits more where needed: as much as is committed, from 64 KiB to 64 MiB at a time (the
// Rust arena's rule; one system call), never past size_bytes. Memory is never moved;
// pointers stay valid until a rewind past them, a reset, or deinit.
//

// Makes an arena over [mem, mem + size_bytes), which must be page-aligned and inside one live
// reservation from vmem_reserve / vmem_alloc (a whole one, or part of one: several arenas may
// share a reservation). Commits nothing: commited and used start at 0. You still own the
// memory: release it yourself (vmem_arena_deinit_dealloc only works if the arena covers
// exactly one whole reservation). Returns a zeroed, invalid arena on failure.
VMEM_FUNC VMemArena vmem_arena_init(void* mem, VMemSize size_bytes);

// Reserves `size_bytes` (nothing committed yet) and makes an arena over it; free it with
// vmem_arena_deinit_dealloc. Returns a zeroed, invalid arena on failure.
VMEM_FUNC VMemArena vmem_arena_init_alloc(VMemSize size_bytes);

// Releases the arena's memory (which must be exactly one whole reservation, as from
// vmem_arena_init_alloc) and zeroes *arena. On failure *arena is left unchanged.
VMEM_FUNC VMemResult vmem_arena_deinit_dealloc(VMemArena* arena);

// Commits or decommits so that exactly the first `commited` bytes of the arena (rounded up
// to pages) are committed, and stores `commited` in arena->commited. Use it to run the arena
// as a growable array over arena->mem, as with the original. Refuses more than size_bytes,
// and less than arena->used (what push handed out: rewind or reset first).
VMEM_FUNC VMemResult vmem_arena_set_commited(VMemArena* arena, VMemSize commited);

// 1 if `arena` is not NULL, its fields are consistent and its memory is inside a live
// reservation; 0 otherwise. Cannot fail (and never touches the error message).
VMEM_FUNC VMemResult vmem_arena_is_valid(const VMemArena* arena);

// Hands out `size` bytes aligned to `align` (a power of two, e.g. _Alignof(T) or
// alignof(T)), committing more memory when needed. Fresh pages read zero; memory handed out
// again after a rewind keeps what was written there.
// Returns NULL when the arena is full (size_bytes reached) or invalid, `size` is zero or
// `align` is not a power of two, or the OS refuses to commit.
VMEM_FUNC void* vmem_arena_push(VMemArena* arena, size_t size, size_t align);

// Frees everything the arena handed out and decommits all its memory (one system call), so
// RSS and commit charge really drop. To free everything but keep the memory committed for
// the next round, use vmem_arena_rewind(arena, 0).
VMEM_FUNC VMemResult vmem_arena_reset(VMemArena* arena);

// The arena's current position (arena->used), for vmem_arena_rewind. Returns 0 and sets the
// message for an invalid arena (a success empties it).
VMEM_FUNC VMemSize vmem_arena_checkpoint(const VMemArena* arena);

// Frees everything pushed since `checkpoint` was taken; memory stays committed for reuse.
// Refuses a checkpoint ahead of the current position (taken before an earlier rewind or
// reset). vmem_arena_rewind(arena, 0) frees everything.
VMEM_FUNC VMemResult vmem_arena_rewind(VMemArena* arena, VMemSize checkpoint);

///////////////////////////////////////////////////////////////////////////////////////////
// Growing arena: the Rust vmem::Arena
//
// An arena you never size: it reserves a large block of address space (the library default,
// 64 GiB on 64-bit systems, costing no memory), commits it in steps as you push, and when a
// block is full reserves and chains another one, so it grows without limit (unless max_bytes
// says otherwise) and never moves what it handed out. Its state is behind an opaque handle,
// so C code cannot corrupt it; a destroyed or made-up handle is an error, not a crash.
//
// Typical use:
//      VMemGrowArena* arena = vmem_grow_arena_create(NULL); // defaults; NULL on failure
//      if(!arena) { puts(vmem_get_error_message()); return 1; }
//      Node* n = (Node*)vmem_grow_arena_push(arena, sizeof(Node), _Alignof(Node));
//      VMemGrowArenaMark mark = vmem_grow_arena_checkpoint(arena);
//      ... vmem_grow_arena_push scratch data ...
//      vmem_grow_arena_rewind(arena, mark); // frees the scratch data, keeps the memory
//      vmem_grow_arena_reset(arena);        // frees everything, returns the memory
//      vmem_grow_arena_destroy(arena);
//
// Cost: a push is a short function call: a check that the handle is live (a shared lock
// and a binary search), an alignment round-up, a compare and a pointer bump. Every
// commit_step bytes, one system call; each new block, one more.
//

// Opaque: only pointers to it exist.
typedef struct VMemGrowArena VMemGrowArena;

// Settings for vmem_grow_arena_create. A zeroed struct means every default.
typedef struct VMemGrowArenaConfig {
    VMemSize block_size;   // address space reserved per block (0: the library default,
                           // 64 GiB on 64-bit systems)
    VMemSize commit_step;  // committed at a time as the arena grows (0: 1 MiB)
    VMemSize max_bytes;    // the most address space reserved in all blocks (0: unbounded)
    VMemSize retain_bytes; // bytes kept committed across vmem_grow_arena_reset (0: none)
    int huge_pages;        // non-zero: ask the OS for transparent huge pages
    int no_prefault;       // non-zero: do not fault each commit step in at once
} VMemGrowArenaConfig;

// A position in an arena, for vmem_grow_arena_rewind. Opaque: copy it, do not edit it.
typedef struct VMemGrowArenaMark {
    VMemSize opaque[4];
} VMemGrowArenaMark;

// Creates an arena with `config`'s settings (NULL: the defaults). Reserves nothing until the
// first push. Returns NULL on failure (e.g. commit_step larger than any address space).
VMEM_FUNC VMemGrowArena* vmem_grow_arena_create(const VMemGrowArenaConfig* config);

// Releases all the arena's memory and the handle. Refuses NULL and handles that are not
// live (destroyed already, or never made by vmem_grow_arena_create).
VMEM_FUNC VMemResult vmem_grow_arena_destroy(VMemGrowArena* arena);

// Hands out `size` bytes aligned to `align` (a power of two), reserving and committing more
// memory when needed. Fresh memory reads zero; memory handed out again after a rewind, or
// kept by retain_bytes across a reset, keeps what was written there (use
// vmem_grow_arena_push_zeroed to clear it). Returns NULL when
// `size` is zero, `align` is not a power of two, max_bytes is reached or the OS refuses.
VMEM_FUNC void* vmem_grow_arena_push(VMemGrowArena* arena, size_t size, size_t align);

// As vmem_grow_arena_push, and the bytes read zero.
VMEM_FUNC void* vmem_grow_arena_push_zeroed(VMemGrowArena* arena, size_t size, size_t align);

// The arena's current position, for vmem_grow_arena_rewind. An invalid arena gives a zeroed
// mark (which rewinds to the start) and sets the message.
VMEM_FUNC VMemGrowArenaMark vmem_grow_arena_checkpoint(const VMemGrowArena* arena);

// Frees everything pushed since `mark` was taken; memory stays committed for reuse (blocks
// chained since are released). Refuses a mark of another arena, an edited one, and one
// taken after a position since rewound or reset; nothing changes then.
VMEM_FUNC VMemResult vmem_grow_arena_rewind(VMemGrowArena* arena, VMemGrowArenaMark mark);

// Frees everything, releases chained blocks and decommits all but retain_bytes, so RSS and
// commit charge really drop.
VMEM_FUNC VMemResult vmem_grow_arena_reset(VMemGrowArena* arena);

// Bytes handed out (alignment padding included), committed, and reserved. 0 (and the
// message is set) for an invalid arena; a valid one empties the message.
VMEM_FUNC VMemSize vmem_grow_arena_allocated_bytes(const VMemGrowArena* arena);
VMEM_FUNC VMemSize vmem_grow_arena_committed_bytes(const VMemGrowArena* arena);
VMEM_FUNC VMemSize vmem_grow_arena_reserved_bytes(const VMemGrowArena* arena);

// 1 if `arena` is a live handle from vmem_grow_arena_create, 0 otherwise. Cannot fail.
VMEM_FUNC VMemResult vmem_grow_arena_is_valid(const VMemGrowArena* arena);

///////////////////////////////////////////////////////////////////////////////////////////
// Mapped files that grow in place: the Rust vmem::MappedFile
//
// A memory-mapped file whose mapping never moves: opening reserves max_size bytes of
// address space (no memory), maps the file into the front of it, and each growth maps the
// new part right behind the old one. Pointers into the mapping stay valid for the file's
// whole life, however it grows. Only [vmem_file_ptr(f), vmem_file_ptr(f) + vmem_file_len(f))
// may be accessed: nothing past the end of the file is ever mapped for you to touch.
//
// Typical use:
//      VMemFile* f = vmem_file_open("data.bin", VMemFileFlag_Create, (VMemSize)1 << 30);
//      if(!f) { puts(vmem_get_error_message()); return 1; }
//      unsigned char* base = (unsigned char*)vmem_file_ptr(f);
//      vmem_file_grow(f, 1 << 20);          // the file is 1 MiB, mapped at base
//      base[0] = 42;
//      vmem_file_grow(f, 256 << 20);        // 256 MiB, still at base
//      vmem_file_flush(f);                  // durable on disk
//      vmem_file_close(f);
//
// Hazards: if another process truncates the file under the mapping, touching the lost
// pages raises SIGBUS; if it writes the file, the bytes change under you. A full disk is an
// error from vmem_file_grow (the blocks are allocated with fallocate where the file system
// can), and so is a length past RLIMIT_FSIZE (checked before the file is extended, so no
// SIGXFSZ is raised). One thread at a time per VMemFile.
//
// Cost: grow is fallocate (or ftruncate) plus one mmap; flush is msync(MS_SYNC).
//

// Opaque: only pointers to it exist.
typedef struct VMemFile VMemFile;

// Flags for vmem_file_open, or-ed together (0: open an existing file read-write).
typedef int VMemFileFlags;
enum {
    VMemFileFlag_ReadOnly = 1, // map read-only; growing is refused
    VMemFileFlag_Create = 2,   // create the file if it does not exist
    VMemFileFlag_Truncate = 4  // empty the file when opening it
};

// Opens the file at `path` (NUL-terminated) and maps it, reserving `max_size` bytes of address
// space for it (0: the library default, 64 GiB on 64-bit systems, or the file's length if
// larger). Returns NULL on failure: a NULL path, unknown flags, a missing file without
// VMemFileFlag_Create, a file longer than max_size, no room for max_size.
VMEM_FUNC VMemFile* vmem_file_open(const char* path, VMemFileFlags flags, VMemSize max_size);

// Unmaps and closes the file and frees the handle. It does not flush: what was written is in
// the OS's page cache and reaches the file, but only vmem_file_flush makes it durable against
// a crash of the machine. Refuses NULL and handles that are not live.
VMEM_FUNC VMemResult vmem_file_close(VMemFile* file);

// Grows the file to `new_len` bytes, in place (the new bytes read zero). Refuses a smaller
// length, a length past max_size, a read-only file; a full disk or RLIMIT_FSIZE is an error
// and leaves the file and the mapping as they were.
VMEM_FUNC VMemResult vmem_file_grow(VMemFile* file, VMemSize new_len);

// Sets the file's length, growing as vmem_file_grow does or shrinking (the pages past the
// new end are unmapped, then the file is truncated).
VMEM_FUNC VMemResult vmem_file_set_len(VMemFile* file, VMemSize new_len);

// Writes every modified page back to the file and waits until it is on disk (msync MS_SYNC;
// FlushViewOfFile + FlushFileBuffers on Windows).
VMEM_FUNC VMemResult vmem_file_flush(VMemFile* file);

// The same for the pages holding the bytes [offset, offset + size) (size 0: nothing to do).
VMEM_FUNC VMemResult vmem_file_flush_range(VMemFile* file, VMemSize offset, VMemSize size);

// The first byte of the mapping, the same for the file's whole life. NULL for an invalid file
// (and the message says why).
VMEM_FUNC void* vmem_file_ptr(const VMemFile* file);

// The file's length, and the most it can grow to (the address space reserved). 0 (and the
// message is set) for an invalid file; a valid one empties the message.
VMEM_FUNC VMemSize vmem_file_len(const VMemFile* file);
VMEM_FUNC VMemSize vmem_file_max_size(const VMemFile* file);

// 1 if `file` is a live handle from vmem_file_open, 0 otherwise. Cannot fail.
VMEM_FUNC VMemResult vmem_file_is_valid(const VMemFile* file);

#if defined(__cplusplus)
} // extern "C"
#endif

#endif // !defined(VMEM_FFI_VMEM_H)
