// Touches memory in the state named by argv[1]; the test expects SIGSEGV (or SIGBUS) for
// every state but "committed", which must exit 0. Shows that reserved, decommitted and
// read-only memory is really inaccessible, rather than taking the header's word for it.

#include "vmem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
    const size_t page = vmem_get_page_size();
    volatile uint8_t* p = (volatile uint8_t*)vmem_reserve(4 * page);
    VMemArena arena;
    if(argc != 2 || p == NULL) {
        fprintf(stderr, "usage: fault reserved|decommitted|readonly|noaccess|arena-reset|grow-arena-reset|committed\n");
        return 2;
    }
    if(strcmp(argv[1], "reserved") == 0) {
        p[0] = 1; // never committed
    } else if(strcmp(argv[1], "decommitted") == 0) {
        if(!vmem_commit((void*)p, page)) return 3;
        p[0] = 1;
        if(!vmem_decommit((void*)p, page)) return 3;
        p[0] = 1;
    } else if(strcmp(argv[1], "readonly") == 0) {
        if(!vmem_commit_protect((void*)p, page, VMemProtect_Read)) return 3;
        if(p[0] != 0) return 3; // reading is fine
        p[0] = 1;
    } else if(strcmp(argv[1], "noaccess") == 0) {
        if(!vmem_commit_protect((void*)p, page, VMemProtect_NoAccess)) return 3;
        return p[0];
    } else if(strcmp(argv[1], "arena-reset") == 0) {
        volatile uint8_t* q;
        arena = vmem_arena_init_alloc(page);
        q = (volatile uint8_t*)vmem_arena_push(&arena, 16, 8);
        if(q == NULL) return 3;
        q[0] = 1;
        if(!vmem_arena_reset(&arena)) return 3;
        q[0] = 1; // reset decommitted it
    } else if(strcmp(argv[1], "grow-arena-reset") == 0) {
        volatile uint8_t* q;
        VMemGrowArena* grow = vmem_grow_arena_create(NULL);
        if(grow == NULL) return 3;
        q = (volatile uint8_t*)vmem_grow_arena_push(grow, 16, 8);
        if(q == NULL) return 3;
        q[0] = 1;
        if(!vmem_grow_arena_reset(grow)) return 3;
        q[0] = 1; // reset decommitted it (retain_bytes is 0)
    } else if(strcmp(argv[1], "committed") == 0) {
        if(!vmem_commit((void*)(p + page), 2 * page)) return 3;
        p[page] = 1;
        p[3 * page - 1] = 2;
        if(p[page] + p[3 * page - 1] != 3) return 3;
        if(!vmem_release((void*)p, 4 * page)) return 3;
        return 0;
    } else {
        return 2;
    }
    fprintf(stderr, "fault: %s memory was accessible\n", argv[1]);
    return 1;
}
