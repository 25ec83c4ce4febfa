/*
 * counting_alloc.h: an allocator for wsx_allocator_set that counts every
 * allocation, reallocation and free of the library (bytes included, from the
 * sizes the library passes), so a program can show at exit that every byte
 * the library allocated went through it and was freed.
 *
 *   counting_alloc_install();     // first thing in main(), before any wsx call
 *   int status = counting_alloc_run(work, arg);           // the program, on a thread
 *   return counting_alloc_report("prog") ? status : 1;   // after every wsx_*_free
 *
 * The work runs on a thread of its own, joined before the tally: the one
 * thing the library keeps per thread (the last error message of a failed
 * call, for wsx_last_error_message) is freed when its thread ends.
 */
#ifndef WSX_EXAMPLE_COUNTING_ALLOC_H
#define WSX_EXAMPLE_COUNTING_ALLOC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "wsx.h"

typedef struct counting_alloc {
    atomic_ulong allocations, frees, reallocations;
    atomic_ulong bytes_allocated, bytes_freed;
} counting_alloc;

static counting_alloc counting_alloc_stats;

static void *counting_malloc(void *user_data, size_t size) {
    counting_alloc *c = user_data;
    void *p = malloc(size);
    if (p) {
        atomic_fetch_add(&c->allocations, 1);
        atomic_fetch_add(&c->bytes_allocated, size);
    }
    return p;
}

static void *counting_realloc(void *user_data, void *ptr, size_t old_size, size_t new_size) {
    counting_alloc *c = user_data;
    void *p = realloc(ptr, new_size);
    if (p) {
        /* The old block is gone, a new one of new_size lives. */
        atomic_fetch_add(&c->reallocations, 1);
        atomic_fetch_add(&c->bytes_freed, old_size);
        atomic_fetch_add(&c->bytes_allocated, new_size);
    }
    return p;
}

static void counting_free(void *user_data, void *ptr, size_t size) {
    counting_alloc *c = user_data;
    atomic_fetch_add(&c->frees, 1);
    atomic_fetch_add(&c->bytes_freed, size);
    free(ptr);
}

/* Installs the counting allocator; exits the program if the library refuses. */
static void counting_alloc_install(void) {
    wsx_allocator a = {0};
    a.struct_size = sizeof a;
    a.user_data = &counting_alloc_stats;
    a.malloc_fn = counting_malloc;
    a.realloc_fn = counting_realloc;
    a.free_fn = counting_free;
    wsx_result r = wsx_allocator_set(&a);
    if (r != WSX_OK) {
        fprintf(stderr, "wsx_allocator_set: %s (%s)\n", wsx_last_error_message(), wsx_result_str(r));
        exit(1);
    }
}

typedef struct counting_alloc_job {
    int (*fn)(void *arg);
    void *arg;
    int status;
} counting_alloc_job;

static void *counting_alloc_thread(void *p) {
    counting_alloc_job *job = p;
    job->status = job->fn(job->arg);
    return NULL;
}

/* Runs fn(arg) on a thread and joins it; returns what fn returned. */
static int counting_alloc_run(int (*fn)(void *arg), void *arg) {
    counting_alloc_job job = {fn, arg, 1};
    pthread_t thread;
    if (pthread_create(&thread, NULL, counting_alloc_thread, &job) != 0) {
        return 1;
    }
    pthread_join(thread, NULL);
    return job.status;
}

/* Prints the tally; returns 1 when the library allocated through us and
 * freed every block and every byte, 0 otherwise. */
static int counting_alloc_report(const char *prog) {
    counting_alloc *c = &counting_alloc_stats;
    unsigned long n = atomic_load(&c->allocations), f = atomic_load(&c->frees);
    unsigned long ba = atomic_load(&c->bytes_allocated), bf = atomic_load(&c->bytes_freed);
    printf("%s: allocator: %lu allocations, %lu reallocations, %lu frees, %lu bytes allocated, %lu bytes freed, %lu bytes live\n",
           prog, n, atomic_load(&c->reallocations), f, ba, bf, ba - bf);
    fflush(stdout);
    if (n == 0) {
        fprintf(stderr, "%s: the library allocated nothing through the counting allocator\n", prog);
        return 0;
    }
    if (n != f || ba != bf) {
        fprintf(stderr, "%s: leaked %lu blocks, %lu bytes\n", prog, n - f, ba - bf);
        return 0;
    }
    return 1;
}

#endif
