// Many threads at once: per-thread error messages, reserve/commit/release churn, and races
// between a release and other threads' operations on the same range, which must end in
// errors, never in crashes. Prints "threads: ok" and exits 0 on success.

#define _POSIX_C_SOURCE 200809L

#include "vmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 200

static size_t page;
static int failed[THREADS];

static void* churn(void* arg) {
    int id = (int)(intptr_t)arg;
    int round;
    for(round = 0; round < ROUNDS; round++) {
        size_t size = (size_t)(1 + (round + id) % 16) * page;
        uint8_t* p = (uint8_t*)vmem_reserve(size);
        if(p == NULL || !vmem_commit(p, size)) {
            failed[id] = 1;
            break;
        }
        memset(p, id + 1, size);
        if(p[size - 1] != (uint8_t)(id + 1)) failed[id] = 1;
        // A failure here writes this thread's message only.
        if(vmem_release(p, size + page) || strstr(vmem_get_error_message(), "vmem_release") == NULL) failed[id] = 1;
        if(!vmem_decommit(p, size) || !vmem_release(p, size)) failed[id] = 1;
        // A success emptied this thread's message, whatever the others do.
        if(vmem_get_error_message()[0] != '\0') failed[id] = 1;
    }
    return NULL;
}

struct race {
    uint8_t* base;
    size_t size;
    int released; // how many releases succeeded
    pthread_mutex_t lock;
};

static void* race_release(void* arg) {
    struct race* r = (struct race*)arg;
    if(vmem_release(r->base, r->size)) {
        pthread_mutex_lock(&r->lock);
        r->released++;
        pthread_mutex_unlock(&r->lock);
    } else if(strstr(vmem_get_error_message(), "not a live reservation") == NULL) {
        fprintf(stderr, "unexpected release error: %s\n", vmem_get_error_message());
        r->released = 100;
    }
    return NULL;
}

static void* race_commit(void* arg) {
    struct race* r = (struct race*)arg;
    // Either before the release (success) or after it (refused): never on freed memory.
    if(!vmem_commit(r->base, r->size) && strstr(vmem_get_error_message(), "not inside a live reservation") == NULL) {
        fprintf(stderr, "unexpected commit error: %s\n", vmem_get_error_message());
        r->released = 100;
    }
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    int i, round, bad = 0;
    page = vmem_get_page_size();

    for(i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, churn, (void*)(intptr_t)i);
    for(i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    for(i = 0; i < THREADS; i++) bad |= failed[i];
    if(bad) {
        fprintf(stderr, "threads: churn failed\n");
        return 1;
    }

    for(round = 0; round < 50; round++) {
        struct race r;
        r.size = 8 * page;
        r.base = (uint8_t*)vmem_reserve(r.size);
        r.released = 0;
        pthread_mutex_init(&r.lock, NULL);
        if(r.base == NULL) return 1;
        for(i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, i % 2 ? race_commit : race_release, &r);
        for(i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&r.lock);
        if(r.released != 1) {
            fprintf(stderr, "threads: %d releases of one reservation succeeded\n", r.released);
            return 1;
        }
    }
    printf("threads: ok\n");
    return 0;
}
