// Exercises every function of vmem.h, successes and failures, the way a C program would.
// Compiled as C99, C11, C++11 and C++20 with -Wall -Wextra -Werror -pedantic, linked
// statically and dynamically, and run under valgrind (ffi/tests/valgrind.sh).
// Prints "api: N checks passed" and exits 0, or lists the failed checks and exits 1.

#include "vmem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h> /* getpid, for a file name of this process's own */

static int checks = 0;
static int failures = 0;

static void check(int ok, const char* what, int line) {
    checks++;
    if(!ok) {
        failures++;
        fprintf(stderr, "api.c:%d: check failed: %s (message: \"%s\")\n", line, what, vmem_get_error_message());
    }
}

// The last call failed: the message starts with `function` and mentions `needle`.
static void check_error(const char* function, const char* needle, int line) {
    const char* message = vmem_get_error_message();
    checks++;
    if(message == NULL || strncmp(message, function, strlen(function)) != 0 || strstr(message, needle) == NULL) {
        failures++;
        fprintf(stderr, "api.c:%d: expected an error from %s mentioning \"%s\", got \"%s\"\n", line, function,
                needle, message ? message : "(null)");
    }
}

#define CHECK(cond) check((cond) ? 1 : 0, #cond, __LINE__)
#define CHECK_ERROR(function, needle) check_error(function, needle, __LINE__)
#define CHECK_NO_ERROR() check(vmem_get_error_message()[0] == '\0', "the message is empty", __LINE__)

static size_t page;

static int all_bytes(const uint8_t* p, size_t n, uint8_t value) {
    size_t i;
    for(i = 0; i < n; i++) {
        if(p[i] != value) return 0;
    }
    return 1;
}

static void test_sizes(void) {
    CHECK(vmem_get_page_size() > 0); // before vmem_init: never 0
    vmem_init();
    page = vmem_get_page_size();
    CHECK(page >= 4096 && (page & (page - 1)) == 0);
    CHECK(vmem_query_page_size() == page);
    CHECK(vmem_get_allocation_granularity() >= page);
    CHECK(vmem_get_allocation_granularity() % page == 0);
    CHECK(vmem_query_allocation_granularity() == vmem_get_allocation_granularity());
}

static void test_reserve_release(void) {
    int on_stack = 0;
    void* from_malloc = malloc(64);
    uint8_t* p = (uint8_t*)vmem_reserve(16 * page);
    CHECK(p != NULL);
    CHECK_NO_ERROR();
    CHECK(vmem_is_aligned((uintptr_t)p, (int)vmem_get_allocation_granularity()));
    CHECK(vmem_release(p, 16 * page) == VMemResult_Success);
    CHECK_NO_ERROR();
    CHECK(vmem_release(p, 16 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "not a live reservation");

    CHECK(vmem_reserve(0) == NULL);
    CHECK_ERROR("vmem_reserve", "zero");
    CHECK(vmem_reserve(SIZE_MAX) == NULL);
    CHECK_ERROR("vmem_reserve", "");
    CHECK(vmem_release(NULL, page) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "null");

    p = (uint8_t*)vmem_reserve(4 * page);
    CHECK(p != NULL);
    CHECK(vmem_release(p, 0) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "zero");
    CHECK(vmem_release(p, 2 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "size");
    CHECK(vmem_release(p + page, 3 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "not its base");
    CHECK(vmem_release(&on_stack, page) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "not a live reservation");
    CHECK(vmem_release(from_malloc, 64) == VMemResult_Error);
    CHECK_ERROR("vmem_release", "not a live reservation");
    CHECK(vmem_release(p, 4 * page - 1) == VMemResult_Success); // rounds to the same pages
    free(from_malloc);

    // The later names.
    p = (uint8_t*)vmem_alloc(3 * page);
    CHECK(p != NULL);
    CHECK(vmem_dealloc(p, 3 * page) == VMemResult_Success);
    CHECK(vmem_dealloc(p, 3 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_dealloc", "not a live reservation");
    CHECK(vmem_alloc(0) == NULL);
    CHECK_ERROR("vmem_alloc", "zero");
    // The middle generation's name.
    p = (uint8_t*)vmem_reserve(2 * page);
    CHECK(vmem_free(p, 2 * page) == VMemResult_Success);
    CHECK_NO_ERROR();
    CHECK(vmem_free(p, 2 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_free", "not a live reservation");

    p = (uint8_t*)vmem_alloc_protect(page, VMemProtect_ReadWrite);
    CHECK(p != NULL);
    CHECK(vmem_dealloc(p, page) == VMemResult_Success);
    CHECK(vmem_alloc_protect(page, VMemProtect_Invalid) == NULL);
    CHECK_ERROR("vmem_alloc_protect", "protection");
    CHECK(vmem_alloc_protect(page, VMemProtect_COUNT) == NULL);
    CHECK_ERROR("vmem_alloc_protect", "protection is 7");
    CHECK(vmem_alloc_protect(page, 200) == NULL);
    CHECK_ERROR("vmem_alloc_protect", "protection is 200");

    p = (uint8_t*)vmem_alloc_commited(3 * page);
    CHECK(p != NULL);
    CHECK(all_bytes(p, 3 * page, 0));
    memset(p, 7, 3 * page);
    CHECK(all_bytes(p, 3 * page, 7));
    CHECK(vmem_dealloc(p, 3 * page) == VMemResult_Success);
    CHECK(vmem_alloc_commited(0) == NULL);
    CHECK_ERROR("vmem_alloc_commited", "zero");
}

static void test_commit_decommit_protect(void) {
    int on_stack = 0;
    VMemRangeInfo info[4];
    uint8_t* base = (uint8_t*)vmem_reserve(64 * page);
    CHECK(base != NULL);

    CHECK(vmem_commit(base, 2 * page) == VMemResult_Success);
    CHECK_NO_ERROR();
    CHECK(all_bytes(base, 2 * page, 0));
    memset(base, 0x5A, 2 * page);
    CHECK(vmem_commit(base + 1, 1) == VMemResult_Success); // committed pages keep their contents
    CHECK(all_bytes(base, 2 * page, 0x5A));
    CHECK(vmem_decommit(base, 2 * page) == VMemResult_Success);
    CHECK(vmem_commit(base, 2 * page) == VMemResult_Success);
    CHECK(all_bytes(base, 2 * page, 0)); // decommitted pages come back zeroed

    CHECK(vmem_commit(NULL, page) == VMemResult_Error);
    CHECK_ERROR("vmem_commit", "null");
    CHECK(vmem_commit(base, 0) == VMemResult_Error);
    CHECK_ERROR("vmem_commit", "zero");
    CHECK(vmem_commit(base + 63 * page, 2 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_commit", "past the end of its reservation");
    CHECK(vmem_commit(&on_stack, sizeof on_stack) == VMemResult_Error);
    CHECK_ERROR("vmem_commit", "not inside a live reservation");
    CHECK(vmem_decommit(&on_stack, sizeof on_stack) == VMemResult_Error);
    CHECK_ERROR("vmem_decommit", "not inside a live reservation");
    CHECK(vmem_decommit(NULL, page) == VMemResult_Error);
    CHECK_ERROR("vmem_decommit", "null");
    CHECK(vmem_decommit(base, 0) == VMemResult_Error);
    CHECK_ERROR("vmem_decommit", "zero");

    // Protection.
    CHECK(vmem_commit_protect(base + 4 * page, page, VMemProtect_Read) == VMemResult_Success);
    CHECK(vmem_query_range_info(base + 4 * page, page, info, 4) == 1);
    CHECK(info[0].is_commited == 1 && info[0].protect == VMemProtect_Read);
    CHECK(base[4 * page] == 0);
    CHECK(vmem_commit_protect(base, page, VMemProtect_Invalid) == VMemResult_Error);
    CHECK_ERROR("vmem_commit_protect", "protection is 0");
    CHECK(vmem_commit_protect(base, page, 42) == VMemResult_Error);
    CHECK_ERROR("vmem_commit_protect", "protection is 42");
    CHECK(vmem_commit_protect(&on_stack, 1, VMemProtect_ReadWrite) == VMemResult_Error);
    CHECK_ERROR("vmem_commit_protect", "not inside a live reservation");

    base[0] = 99;
    CHECK(vmem_protect(base, page, VMemProtect_NoAccess) == VMemResult_Success);
    CHECK(vmem_query_range_info(base, page, info, 4) == 1);
    CHECK(info[0].protect == VMemProtect_NoAccess);
    CHECK(vmem_protect(base, page, VMemProtect_ReadWrite) == VMemResult_Success);
    CHECK(base[0] == 99); // protection changes keep the contents
    CHECK(vmem_protect(base, page, VMemProtect_Invalid) == VMemResult_Error);
    CHECK_ERROR("vmem_protect", "protection");
    CHECK(vmem_protect(base, page, VMemProtect_COUNT) == VMemResult_Error);
    CHECK_ERROR("vmem_protect", "protection is 7");
    CHECK(vmem_protect(&on_stack, 1, VMemProtect_ReadWrite) == VMemResult_Error);
    CHECK_ERROR("vmem_protect", "not inside a live reservation");
    CHECK(vmem_protect(NULL, 1, VMemProtect_ReadWrite) == VMemResult_Error);
    CHECK_ERROR("vmem_protect", "null");
    CHECK(vmem_protect(base, 0, VMemProtect_ReadWrite) == VMemResult_Error);
    CHECK_ERROR("vmem_protect", "zero");

    // Region commits: only the difference changes.
    CHECK(vmem_decommit(base, 64 * page) == VMemResult_Success);
    CHECK(vmem_partially_commit_region(base, 16 * page, 0, 3 * page) == VMemResult_Success);
    base[3 * page - 1] = 1;
    CHECK(vmem_partially_commit_region(base, 16 * page, 3 * page, 3 * page - 10) == VMemResult_Success);
    CHECK(base[3 * page - 1] == 1); // same pages: nothing changed
    CHECK(vmem_partially_commit_region(base, 16 * page, 3 * page, page) == VMemResult_Success);
    CHECK(vmem_query_range_info(base, 3 * page, info, 4) == 2);
    CHECK(info[0].is_commited == 1 && info[0].size_bytes == page);
    CHECK(info[1].is_commited == 0 && info[1].size_bytes == 2 * page);
    CHECK(vmem_partially_commit_region(base, 16 * page, page, 17 * page) == VMemResult_Error);
    CHECK_ERROR("vmem_partially_commit_region", "more than the region's size");
    CHECK(vmem_partially_commit_region(base, 16 * page, 17 * page, page) == VMemResult_Error);
    CHECK_ERROR("vmem_partially_commit_region", "prev_commited is");
    CHECK(vmem_partially_commit_region(base + 1, 16 * page, 0, page) == VMemResult_Error);
    CHECK_ERROR("vmem_partially_commit_region", "page boundary");
    CHECK(vmem_partially_commit_region(base, 65 * page, 0, page) == VMemResult_Error);
    CHECK_ERROR("vmem_partially_commit_region", "past the end");
    CHECK(vmem_partially_commit_region(NULL, page, 0, page) == VMemResult_Error);
    CHECK_ERROR("vmem_partially_commit_region", "null");
    CHECK(vmem_partially_commit_region(&on_stack, 1, 0, 1) == VMemResult_Error);
    CHECK_ERROR("vmem_partially_commit_region", "not inside");

    CHECK(vmem_release(base, 64 * page) == VMemResult_Success);
    // Released memory is not ours any more.
    CHECK(vmem_commit(base, page) == VMemResult_Error);
    CHECK_ERROR("vmem_commit", "not inside a live reservation");
    CHECK(vmem_decommit(base, page) == VMemResult_Error);
    CHECK_ERROR("vmem_decommit", "not inside a live reservation");
    CHECK(vmem_protect(base, page, VMemProtect_Read) == VMemResult_Error);
    CHECK_ERROR("vmem_protect", "not inside a live reservation");
}

static void test_lock(void) {
    int on_stack = 0;
    uint8_t* p = (uint8_t*)vmem_alloc_commited(2 * page);
    CHECK(p != NULL);
    if(vmem_lock(p, page)) {
        CHECK_NO_ERROR();
        CHECK(vmem_unlock(p, page) == VMemResult_Success);
    } else {
        // A locked-memory limit of zero (ulimit -l 0) is possible: an error, not a crash.
        CHECK_ERROR("vmem_lock", "");
        printf("note: vmem_lock refused: %s\n", vmem_get_error_message());
    }
    CHECK(vmem_unlock(p + page, page) == VMemResult_Success); // not locked: fine
    CHECK(vmem_decommit(p + page, page) == VMemResult_Success);
    CHECK(vmem_lock(p + page, page) == VMemResult_Error); // not committed
    CHECK_ERROR("vmem_lock", "not committed");
    CHECK(vmem_lock(NULL, page) == VMemResult_Error);
    CHECK_ERROR("vmem_lock", "null");
    CHECK(vmem_lock(p, 0) == VMemResult_Error);
    CHECK_ERROR("vmem_lock", "zero");
    CHECK(vmem_lock(&on_stack, 1) == VMemResult_Error);
    CHECK_ERROR("vmem_lock", "not inside a live reservation");
    CHECK(vmem_unlock(&on_stack, 1) == VMemResult_Error);
    CHECK_ERROR("vmem_unlock", "not inside a live reservation");
    CHECK(vmem_unlock(NULL, 1) == VMemResult_Error);
    CHECK_ERROR("vmem_unlock", "null");
    CHECK(vmem_unlock(p, 0) == VMemResult_Error);
    CHECK_ERROR("vmem_unlock", "zero");
    CHECK(vmem_dealloc(p, 2 * page) == VMemResult_Success);
}

static void test_queries(void) {
    VMemRangeInfo info[8];
    VMemUsageStatus status = vmem_query_usage_status();
    uint8_t* q = (uint8_t*)vmem_reserve(3 * page);
    CHECK_NO_ERROR();
    CHECK(status.total_physical_bytes > 0);
    CHECK(status.avail_physical_bytes <= status.total_physical_bytes);

    CHECK(q != NULL);
    CHECK(vmem_commit_protect(q + page, page, VMemProtect_Read) == VMemResult_Success);
    memset(info, 0xFF, sizeof info);
    CHECK(vmem_query_range_info(q, 3 * page, info, 8) == 3);
    CHECK_NO_ERROR();
    CHECK(info[0].ptr == (void*)q && info[0].size_bytes == page);
    CHECK(info[0].is_commited == 0 && info[0].protect == VMemProtect_NoAccess);
    CHECK(info[1].ptr == (void*)(q + page) && info[1].size_bytes == page);
    CHECK(info[1].is_commited == 1 && info[1].protect == VMemProtect_Read);
    CHECK(info[2].ptr == (void*)(q + 2 * page) && info[2].size_bytes == page);
    CHECK(info[2].is_commited == 0 && info[2].protect == VMemProtect_NoAccess);
    // A short buffer gets the first runs.
    CHECK(vmem_query_range_info(q, 3 * page, info, 1) == 1);
    CHECK(info[0].ptr == (void*)q && info[1].ptr == (void*)(q + page));
    // Widened to whole pages.
    CHECK(vmem_query_range_info(q + page + 1, 1, info, 8) == 1);
    CHECK(info[0].ptr == (void*)(q + page) && info[0].protect == VMemProtect_Read);
    // The second page of the address space is never mapped (Linux: vm.mmap_min_addr).
    CHECK(vmem_query_range_info((void*)(uintptr_t)page, page, info, 8) == 1);
    CHECK(info[0].is_commited == 0 && info[0].protect == VMemProtect_Invalid);

    CHECK(vmem_query_range_info(NULL, page, info, 8) == 0);
    CHECK_ERROR("vmem_query_range_info", "null");
    CHECK(vmem_query_range_info(q, 0, info, 8) == 0);
    CHECK_ERROR("vmem_query_range_info", "zero");
    CHECK(vmem_query_range_info(q, page, NULL, 8) == 0);
    CHECK_ERROR("vmem_query_range_info", "output buffer is null");
    CHECK(vmem_query_range_info(q, page, info, 0) == 0);
    CHECK_ERROR("vmem_query_range_info", "room for 0");
    CHECK(vmem_query_range_info((void*)(UINTPTR_MAX - 10), 100, info, 8) == 0);
    CHECK_ERROR("vmem_query_range_info", "end of the address space");
    CHECK(vmem_release(q, 3 * page) == VMemResult_Success);
}

static void test_names(void) {
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_Invalid), "Invalid") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_NoAccess), "NoAccess") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_Read), "Read") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_ReadWrite), "ReadWrite") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_Execute), "Execute") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_ExecuteRead), "ExecuteRead") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_ExecuteReadWrite), "ExecuteReadWrite") == 0);
    CHECK(strcmp(vmem_get_protect_name(VMemProtect_COUNT), "<Unknown>") == 0);
    CHECK(strcmp(vmem_get_protect_name(255), "<Unknown>") == 0);
}

static void test_alignment(void) {
    CHECK(vmem_align_forward(5000, 4096) == 8192);
    CHECK_NO_ERROR();
    CHECK(vmem_align_forward(8192, 4096) == 8192);
    CHECK(vmem_align_forward(0, 8) == 0);
    CHECK_NO_ERROR(); // a 0 result, but no error
    CHECK(vmem_align_forward(1, 1) == 1);
    CHECK(vmem_align_forward(5, 0) == 0);
    CHECK_ERROR("vmem_align_forward", "zero");
    CHECK(vmem_align_forward(5, 3) == 0);
    CHECK_ERROR("vmem_align_forward", "not a power of two");
    CHECK(vmem_align_forward(5, -8) == 0);
    CHECK_ERROR("vmem_align_forward", "negative");
    CHECK(vmem_align_forward(UINTPTR_MAX - 5, 4096) == 0);
    CHECK_ERROR("vmem_align_forward", "overflows");

    CHECK(vmem_align_backward(5000, 4096) == 4096);
    CHECK_NO_ERROR();
    CHECK(vmem_align_backward(UINTPTR_MAX, 2) == UINTPTR_MAX - 1);
    CHECK(vmem_align_backward(5000, 0) == 0);
    CHECK_ERROR("vmem_align_backward", "zero");
    CHECK(vmem_align_backward(5000, 12) == 0);
    CHECK_ERROR("vmem_align_backward", "not a power of two");
    CHECK(vmem_align_backward(5000, -4) == 0);
    CHECK_ERROR("vmem_align_backward", "negative");

    CHECK(vmem_is_aligned(8192, 4096) == 1);
    CHECK(vmem_is_aligned(100, 64) == 0);
    CHECK(vmem_is_aligned(0, 1) == 1);
    CHECK(vmem_is_aligned(64, 0) == 0);
    CHECK(vmem_is_aligned(64, -64) == 0);
    CHECK(vmem_is_aligned(64, 48) == 0);
}

static void test_messages(void) {
    const char* message;
    CHECK(vmem_reserve(0) == NULL);
    message = vmem_get_error_message();
    CHECK(message != NULL && strlen(message) > 0);
    CHECK(strncmp(message, "vmem_reserve", 12) == 0);
    CHECK(vmem_get_page_size() > 0); // cannot fail: leaves the message alone
    CHECK(strlen(vmem_get_error_message()) > 0);
    CHECK(vmem_is_aligned(3, 2) == 0); // can fail, succeeded ("not aligned"): empties it
    CHECK_NO_ERROR();
    CHECK(vmem_is_aligned(4, 3) == 0); // an invalid alignment: an error, not "not aligned"
    CHECK(strncmp(vmem_get_error_message(), "vmem_is_aligned", 15) == 0);
    CHECK(vmem_align_forward(1, 2) == 2); // can fail, succeeded: empties it
    CHECK_NO_ERROR();
}

static void test_arena(void) {
    int on_stack = 0;
    VMemArena a = vmem_arena_init_alloc((size_t)1 << 20);
    VMemArena copy, zero;
    VMemSize mark;
    uint8_t *p1, *p2, *p3, *r;
    memset(&zero, 0, sizeof zero);

    CHECK(vmem_arena_is_valid(&a) == 1);
    CHECK_NO_ERROR();
    CHECK(a.mem != NULL && a.size_bytes == ((size_t)1 << 20) && a.commited == 0 && a.used == 0);

    p1 = (uint8_t*)vmem_arena_push(&a, 100, 8);
    CHECK(p1 == a.mem);
    CHECK_NO_ERROR();
    CHECK(a.used == 100);
    CHECK(a.commited >= 100 && a.commited <= a.size_bytes && a.commited % page == 0);
    CHECK(all_bytes(p1, 100, 0));
    memset(p1, 0xAB, 100);
    p2 = (uint8_t*)vmem_arena_push(&a, 16, 64);
    CHECK(p2 != NULL && (uintptr_t)p2 % 64 == 0 && p2 >= p1 + 100);
    CHECK(a.used == (size_t)(p2 + 16 - a.mem));

    CHECK(vmem_arena_push(&a, 0, 8) == NULL);
    CHECK_ERROR("vmem_arena_push", "zero");
    CHECK(vmem_arena_push(&a, 8, 3) == NULL);
    CHECK_ERROR("vmem_arena_push", "not a power of two");
    CHECK(vmem_arena_push(&a, 8, 0) == NULL);
    CHECK_ERROR("vmem_arena_push", "not a power of two");
    CHECK(vmem_arena_push(NULL, 8, 8) == NULL);
    CHECK_ERROR("vmem_arena_push", "null");

    // Checkpoints.
    mark = vmem_arena_checkpoint(&a);
    CHECK_NO_ERROR();
    CHECK(mark == a.used);
    p3 = (uint8_t*)vmem_arena_push(&a, 200000, 16); // past the first commit step
    CHECK(p3 != NULL);
    CHECK(a.commited >= a.used);
    memset(p3, 1, 200000);
    CHECK(vmem_arena_rewind(&a, mark) == VMemResult_Success);
    CHECK(a.used == mark);
    CHECK(a.commited >= 200000); // rewinding keeps memory committed
    CHECK(vmem_arena_rewind(&a, mark + 1) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_rewind", "ahead of the arena's position");
    CHECK(vmem_arena_checkpoint(NULL) == 0);
    CHECK_ERROR("vmem_arena_checkpoint", "null");
    CHECK(vmem_arena_rewind(NULL, 0) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_rewind", "null");

    // Full.
    CHECK(vmem_arena_push(&a, a.size_bytes, 1) == NULL);
    CHECK_ERROR("vmem_arena_push", "full");
    CHECK(a.used == mark); // unchanged
    CHECK(vmem_arena_push(&a, SIZE_MAX, 1) == NULL);
    CHECK_ERROR("vmem_arena_push", "full");
    r = (uint8_t*)vmem_arena_push(&a, a.size_bytes - a.used, 1); // exactly the rest
    CHECK(r != NULL);
    CHECK(a.used == a.size_bytes && a.commited == a.size_bytes);
    r[a.size_bytes - mark - 1] = 5; // the last byte is usable
    CHECK(vmem_arena_push(&a, 1, 1) == NULL);
    CHECK_ERROR("vmem_arena_push", "full");

    // Reset returns the memory; fresh pages read zero.
    CHECK(vmem_arena_reset(&a) == VMemResult_Success);
    CHECK(a.used == 0 && a.commited == 0);
    p1 = (uint8_t*)vmem_arena_push(&a, 100, 1);
    CHECK(p1 == a.mem && all_bytes(p1, 100, 0));
    CHECK(vmem_arena_rewind(&a, 0) == VMemResult_Success);
    CHECK(a.used == 0 && a.commited > 0);

    // Manual commits, as with the original arena.
    CHECK(vmem_arena_set_commited(&a, 3 * page) == VMemResult_Success);
    CHECK(a.commited == 3 * page);
    a.mem[3 * page - 1] = 1;
    CHECK(vmem_arena_set_commited(&a, a.size_bytes + 1) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_set_commited", "more than the arena's size_bytes");
    CHECK(vmem_arena_push(&a, 2 * page, 1) != NULL);
    CHECK(vmem_arena_set_commited(&a, page) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_set_commited", "handed out");
    CHECK(vmem_arena_set_commited(&a, 2 * page) == VMemResult_Success);
    CHECK(vmem_arena_set_commited(NULL, page) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_set_commited", "null");

    // Corrupt or invalid arenas are refused.
    copy = a;
    copy.used = copy.commited + 1;
    CHECK(vmem_arena_is_valid(&copy) == 0);
    CHECK(vmem_arena_push(&copy, 1, 1) == NULL);
    CHECK_ERROR("vmem_arena_push", "corrupt");
    copy = a;
    copy.commited = copy.size_bytes + 1;
    CHECK(vmem_arena_reset(&copy) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_reset", "corrupt");
    CHECK(vmem_arena_is_valid(&zero) == 0);
    CHECK(vmem_arena_is_valid(NULL) == 0);
    CHECK(vmem_arena_push(&zero, 1, 1) == NULL);
    CHECK_ERROR("vmem_arena_push", "not initialized");
    CHECK(vmem_arena_reset(NULL) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_reset", "null");

    copy = a;
    CHECK(vmem_arena_is_valid(&copy) == 1);
    CHECK(vmem_arena_deinit_dealloc(&a) == VMemResult_Success);
    CHECK_NO_ERROR();
    CHECK(a.mem == NULL && a.size_bytes == 0 && a.commited == 0 && a.used == 0);
    CHECK(vmem_arena_is_valid(&a) == 0);
    CHECK(vmem_arena_deinit_dealloc(&a) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_deinit_dealloc", "not initialized");
    CHECK(vmem_arena_deinit_dealloc(NULL) == VMemResult_Error);
    CHECK_ERROR("vmem_arena_deinit_dealloc", "null");
    // A copy of a freed arena is not valid: its memory is not reserved any more.
    CHECK(vmem_arena_is_valid(&copy) == 0);

    a = vmem_arena_init_alloc(0);
    CHECK(vmem_arena_is_valid(&a) == 0);
    CHECK_ERROR("vmem_arena_init_alloc", "zero");

    // A capacity that is not a multiple of the page size.
    a = vmem_arena_init_alloc(1000);
    CHECK(vmem_arena_push(&a, 1000, 1) != NULL);
    CHECK(a.commited == 1000);
    CHECK(vmem_arena_push(&a, 1, 1) == NULL);
    CHECK_ERROR("vmem_arena_push", "full");
    CHECK(vmem_arena_deinit_dealloc(&a) == VMemResult_Success);

    // Two arenas sharing one reservation.
    {
        uint8_t* block = (uint8_t*)vmem_reserve(8 * page);
        VMemArena left = vmem_arena_init(block, 4 * page);
        VMemArena right = vmem_arena_init(block + 4 * page, 4 * page);
        uint8_t *l, *rr;
        CHECK(vmem_arena_is_valid(&left) && vmem_arena_is_valid(&right));
        l = (uint8_t*)vmem_arena_push(&left, 4 * page, 1);
        rr = (uint8_t*)vmem_arena_push(&right, 4 * page, 1);
        CHECK(l == block && rr == block + 4 * page);
        memset(l, 1, 4 * page);
        memset(rr, 2, 4 * page);
        CHECK(vmem_arena_reset(&left) == VMemResult_Success);
        CHECK(all_bytes(rr, 4 * page, 2)); // the neighbour is untouched
        CHECK(vmem_arena_deinit_dealloc(&left) == VMemResult_Error); // not a whole reservation
        CHECK_ERROR("vmem_arena_deinit_dealloc", "size");
        CHECK(vmem_arena_deinit_dealloc(&right) == VMemResult_Error);
        CHECK_ERROR("vmem_arena_deinit_dealloc", "not its base");

        a = vmem_arena_init(block + 1, page);
        CHECK(vmem_arena_is_valid(&a) == 0);
        CHECK_ERROR("vmem_arena_init", "page boundary");
        a = vmem_arena_init(block, 9 * page);
        CHECK(vmem_arena_is_valid(&a) == 0);
        CHECK_ERROR("vmem_arena_init", "past the end");
        a = vmem_arena_init(block, 0);
        CHECK_ERROR("vmem_arena_init", "zero");
        a = vmem_arena_init(NULL, page);
        CHECK_ERROR("vmem_arena_init", "null");
        a = vmem_arena_init(&on_stack, sizeof on_stack);
        CHECK(vmem_arena_is_valid(&a) == 0);
        CHECK_ERROR("vmem_arena_init", "not inside a live reservation");

        CHECK(vmem_release(block, 8 * page) == VMemResult_Success);
        CHECK(vmem_arena_is_valid(&right) == 0);
        CHECK(vmem_arena_push(&right, 1, 1) == NULL); // full, and not committable
    }
}

static void test_grow_arena(void) {
    int on_stack = 0;
    VMemGrowArenaConfig config;
    VMemGrowArena *g, *other;
    VMemGrowArenaMark mark, stale, forged;
    uint8_t *p, *q, *z, *big, *first;
    size_t i;

    g = vmem_grow_arena_create(NULL); // the defaults
    CHECK(g != NULL);
    CHECK_NO_ERROR();
    CHECK(vmem_grow_arena_is_valid(g) == 1);
    CHECK(vmem_grow_arena_reserved_bytes(g) == 0); // nothing before the first push
    p = (uint8_t*)vmem_grow_arena_push(g, 100, 64);
    CHECK(p != NULL && (uintptr_t)p % 64 == 0);
    CHECK(all_bytes(p, 100, 0));
    memset(p, 0xAB, 100);
    CHECK(vmem_grow_arena_allocated_bytes(g) >= 100);
    CHECK(vmem_grow_arena_committed_bytes(g) >= 100);
    CHECK(vmem_grow_arena_reserved_bytes(g) >= vmem_grow_arena_committed_bytes(g));

    mark = vmem_grow_arena_checkpoint(g);
    CHECK_NO_ERROR();
    q = (uint8_t*)vmem_grow_arena_push(g, 3000, 8);
    CHECK(q != NULL && q >= p + 100);
    memset(q, 0xCD, 3000);
    CHECK(vmem_grow_arena_rewind(g, mark) == VMemResult_Success);
    CHECK_NO_ERROR();
    z = (uint8_t*)vmem_grow_arena_push_zeroed(g, 3000, 8);
    CHECK(z == q && all_bytes(z, 3000, 0)); // reused, and cleared
    CHECK(all_bytes(p, 100, 0xAB));         // before the mark: kept

    // Marks that do not fit are refused and change nothing.
    stale = vmem_grow_arena_checkpoint(g);
    CHECK(vmem_grow_arena_rewind(g, mark) == VMemResult_Success);
    CHECK(vmem_grow_arena_rewind(g, stale) == VMemResult_Error); // ahead of the position
    CHECK_ERROR("vmem_grow_arena_rewind", "stale");
    forged = mark;
    forged.opaque[2] += 1; // a position no push produced
    CHECK(vmem_grow_arena_rewind(g, forged) == VMemResult_Error);
    CHECK_ERROR("vmem_grow_arena_rewind", "stale");
    other = vmem_grow_arena_create(NULL);
    CHECK(vmem_grow_arena_rewind(other, mark) == VMemResult_Error);
    CHECK_ERROR("vmem_grow_arena_rewind", "another arena");
    CHECK(vmem_grow_arena_destroy(other) == VMemResult_Success);

    // Bad arguments.
    CHECK(vmem_grow_arena_push(g, 0, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "zero");
    CHECK(vmem_grow_arena_push(g, 8, 3) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "not a power of two");
    CHECK(vmem_grow_arena_push(g, 8, 0) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "not a power of two");
    CHECK(vmem_grow_arena_push(g, SIZE_MAX, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "larger than any allocation");
    CHECK(vmem_grow_arena_push_zeroed(g, 0, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push_zeroed", "zero");

    // Reset returns the memory.
    big = (uint8_t*)vmem_grow_arena_push(g, (size_t)8 << 20, 16);
    CHECK(big != NULL);
    memset(big, 1, (size_t)8 << 20);
    CHECK(vmem_grow_arena_committed_bytes(g) >= ((size_t)8 << 20));
    CHECK(vmem_grow_arena_reset(g) == VMemResult_Success);
    CHECK(vmem_grow_arena_allocated_bytes(g) == 0 && vmem_grow_arena_committed_bytes(g) == 0);
    CHECK(vmem_grow_arena_destroy(g) == VMemResult_Success);
    CHECK_NO_ERROR();

    // Small blocks: the arena chains new ones and never moves what it handed out.
    memset(&config, 0, sizeof config);
    config.block_size = 16 * page;
    config.commit_step = page;
    config.max_bytes = 64 * page;
    g = vmem_grow_arena_create(&config);
    CHECK(g != NULL);
    first = (uint8_t*)vmem_grow_arena_push(g, 8, 8);
    CHECK(first != NULL);
    memset(first, 0x5A, 8);
    for(i = 0; i < 40; i++) {
        q = (uint8_t*)vmem_grow_arena_push(g, page, 8);
        CHECK(q != NULL);
        if(q) memset(q, (int)i, page);
    }
    CHECK(all_bytes(first, 8, 0x5A));
    CHECK(vmem_grow_arena_reserved_bytes(g) > 16 * page); // more than one block
    CHECK(vmem_grow_arena_reserved_bytes(g) <= 64 * page);
    CHECK(vmem_grow_arena_push(g, 64 * page, 8) == NULL); // past max_bytes
    CHECK_ERROR("vmem_grow_arena_push", "maximum");
    CHECK(all_bytes(first, 8, 0x5A)); // a failed push loses nothing
    CHECK(vmem_grow_arena_destroy(g) == VMemResult_Success);

    // Settings that cannot work.
    memset(&config, 0, sizeof config);
    config.commit_step = SIZE_MAX;
    CHECK(vmem_grow_arena_create(&config) == NULL);
    CHECK_ERROR("vmem_grow_arena_create", "overflows");

    // Handles that are not live: NULL, destroyed, made up.
    CHECK(vmem_grow_arena_destroy(g) == VMemResult_Error);
    CHECK_ERROR("vmem_grow_arena_destroy", "not a live arena");
    CHECK(vmem_grow_arena_push(g, 8, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "not a live arena");
    CHECK(vmem_grow_arena_is_valid(g) == 0);
    CHECK(vmem_grow_arena_is_valid(NULL) == 0);
    CHECK(vmem_grow_arena_is_valid((VMemGrowArena*)(void*)&on_stack) == 0);
    CHECK(vmem_grow_arena_push((VMemGrowArena*)(void*)&on_stack, 8, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "not a live arena");
    CHECK(vmem_grow_arena_destroy(NULL) == VMemResult_Error);
    CHECK_ERROR("vmem_grow_arena_destroy", "null");
    CHECK(vmem_grow_arena_push(NULL, 8, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push", "null");
    CHECK(vmem_grow_arena_push_zeroed(NULL, 8, 8) == NULL);
    CHECK_ERROR("vmem_grow_arena_push_zeroed", "null");
    mark = vmem_grow_arena_checkpoint(NULL);
    CHECK(mark.opaque[0] == 0 && mark.opaque[1] == 0 && mark.opaque[2] == 0 && mark.opaque[3] == 0);
    CHECK_ERROR("vmem_grow_arena_checkpoint", "null");
    CHECK(vmem_grow_arena_rewind(NULL, mark) == VMemResult_Error);
    CHECK_ERROR("vmem_grow_arena_rewind", "null");
    CHECK(vmem_grow_arena_reset(NULL) == VMemResult_Error);
    CHECK_ERROR("vmem_grow_arena_reset", "null");
    CHECK(vmem_grow_arena_allocated_bytes(NULL) == 0);
    CHECK(vmem_grow_arena_committed_bytes(g) == 0);
    CHECK(vmem_grow_arena_reserved_bytes(g) == 0);
}

static void test_file(void) {
    char path[256];
    VMemFile* f;
    VMemFile* ro;
    unsigned char* base;
    FILE* raw;
    int c;
    snprintf(path, sizeof path, "/tmp/vmem-api-file-%ld.bin", (long)getpid());
    remove(path);

    CHECK(vmem_file_open(NULL, 0, 0) == NULL);
    CHECK_ERROR("vmem_file_open", "null");
    CHECK(vmem_file_open(path, 0, 0) == NULL); // does not exist, no Create flag
    CHECK_ERROR("vmem_file_open", "");
    CHECK(vmem_file_open(path, 64, 0) == NULL);
    CHECK_ERROR("vmem_file_open", "unknown flags");

    f = vmem_file_open(path, VMemFileFlag_Create | VMemFileFlag_Truncate, (VMemSize)1 << 30);
    CHECK(f != NULL);
    if(!f) return;
    CHECK_NO_ERROR();
    CHECK(vmem_file_is_valid(f) == VMemResult_Success);
    CHECK(vmem_file_len(f) == 0);
    CHECK(vmem_file_max_size(f) == (VMemSize)1 << 30);
    base = (unsigned char*)vmem_file_ptr(f);
    CHECK(base != NULL);
    CHECK(vmem_file_grow(f, 1 << 20) == VMemResult_Success);
    CHECK(vmem_file_len(f) == 1 << 20);
    base[0] = 'v';
    base[(1 << 20) - 1] = 'm';
    CHECK(vmem_file_grow(f, 256 << 20) == VMemResult_Success);
    CHECK(vmem_file_ptr(f) == base); // grown in place
    CHECK(base[0] == 'v' && base[(1 << 20) - 1] == 'm' && base[(256 << 20) - 1] == 0);
    CHECK(vmem_file_grow(f, 10) == VMemResult_Error);
    CHECK_ERROR("vmem_file_grow", "smaller");
    CHECK(vmem_file_grow(f, ((VMemSize)1 << 30) + 1) == VMemResult_Error);
    CHECK_ERROR("vmem_file_grow", "max_size");
    CHECK(vmem_file_set_len(f, 3) == VMemResult_Success);
    CHECK(vmem_file_len(f) == 3);
    CHECK(vmem_file_flush(f) == VMemResult_Success);
    CHECK_NO_ERROR();
    CHECK(vmem_file_flush_range(f, 0, 3) == VMemResult_Success);
    CHECK(vmem_file_flush_range(f, 2, 2) == VMemResult_Error);
    CHECK_ERROR("vmem_file_flush_range", "past the end");
    CHECK(vmem_file_close(f) == VMemResult_Success);
    CHECK(vmem_file_is_valid(f) == VMemResult_Error);
    CHECK(vmem_file_close(f) == VMemResult_Error);
    CHECK_ERROR("vmem_file_close", "not a live file");

    // What the mapping wrote is in the file.
    raw = fopen(path, "rb");
    CHECK(raw != NULL);
    if(raw) {
        c = fgetc(raw);
        CHECK(c == 'v');
        fclose(raw);
    }

    ro = vmem_file_open(path, VMemFileFlag_ReadOnly, 0);
    CHECK(ro != NULL);
    if(ro) {
        CHECK(vmem_file_len(ro) == 3);
        CHECK(((const unsigned char*)vmem_file_ptr(ro))[0] == 'v');
        CHECK(vmem_file_grow(ro, 100) == VMemResult_Error);
        CHECK_ERROR("vmem_file_grow", "read-only");
        CHECK(vmem_file_close(ro) == VMemResult_Success);
    }
    CHECK(vmem_file_open(path, VMemFileFlag_ReadOnly | VMemFileFlag_Create, 0) == NULL);
    CHECK(vmem_file_open(path, 0, 2) == NULL); // longer than max_size
    CHECK_ERROR("vmem_file_open", "max_size");

    // NULL and made-up handles are errors, not crashes.
    CHECK(vmem_file_ptr(NULL) == NULL);
    CHECK_ERROR("vmem_file_ptr", "null");
    CHECK(vmem_file_set_len(NULL, 1) == VMemResult_Error);
    CHECK(vmem_file_flush((VMemFile*)&checks) == VMemResult_Error);
    CHECK_ERROR("vmem_file_flush", "not a live file");
    CHECK(vmem_file_len(NULL) == 0);
    CHECK(vmem_file_max_size((const VMemFile*)&checks) == 0);
    CHECK(vmem_file_is_valid(NULL) == VMemResult_Error);
    remove(path);
}

int main(void) {
    test_sizes();
    test_reserve_release();
    test_commit_decommit_protect();
    test_lock();
    test_queries();
    test_names();
    test_alignment();
    test_messages();
    test_arena();
    test_grow_arena();
    test_file();
    if(failures) {
        printf("api: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("api: %d checks passed\n", checks);
    return 0;
}
