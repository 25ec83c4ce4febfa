/*
 * A tiny self-checking harness for the C tests: CHECK counts, a failure
 * prints where and why, and SUMMARY prints "N checks passed, M failed" and
 * gives the exit status. Plus helpers to drive a loop until a condition.
 */
#ifndef WSX_TEST_HARNESS_H
#define WSX_TEST_HARNESS_H


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "wsx.h"

static int checks_passed = 0;
static int checks_failed = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (cond) {                                                                       \
            checks_passed++;                                                              \
        } else {                                                                          \
            checks_failed++;                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,       \
                    __LINE__, #cond, wsx_last_error_message());                           \
        }                                                                                 \
    } while (0)

#define CHECK_RESULT(call, expected)                                                      \
    do {                                                                                  \
        wsx_result check_r_ = (call);                                                     \
        if (check_r_ == (expected)) {                                                     \
            checks_passed++;                                                              \
        } else {                                                                          \
            checks_failed++;                                                              \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",      \
                    __FILE__, __LINE__, #call, wsx_result_str(check_r_),                  \
                    wsx_result_str(expected), wsx_last_error_message());                  \
        }                                                                                 \
    } while (0)

#define CHECK_OK(call) CHECK_RESULT(call, WSX_OK)

#define RUN(test)                                                                         \
    do {                                                                                  \
        int failed_before_ = checks_failed;                                               \
        test();                                                                           \
        printf("%s %s\n", checks_failed == failed_before_ ? "ok  " : "FAIL", #test);      \
        fflush(stdout);                                                                   \
    } while (0)

static inline int summary(const char *program) {
    printf("%s: %d checks passed, %d failed\n", program, checks_passed, checks_failed);
    return checks_failed == 0 && checks_passed > 0 ? 0 : 1;
}

static inline long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls `loop` until `*flag` is non-zero or `timeout_ms` passed; returns `*flag`. */
static inline int poll_until(wsx_loop *loop, volatile int *flag, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    while (!*flag && now_ms() < deadline) {
        wsx_result r = wsx_loop_poll(loop, 10);
        if (r != WSX_OK) {
            fprintf(stderr, "poll failed: %s: %s\n", wsx_result_str(r), wsx_last_error_message());
            return *flag;
        }
    }
    return *flag;
}

/* Polls `loop` until `*count` reaches `target` or `timeout_ms` passed. */
static inline int poll_until_count(wsx_loop *loop, volatile int *count, int target, int timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    while (*count < target && now_ms() < deadline) {
        if (wsx_loop_poll(loop, 10) != WSX_OK) break;
    }
    return *count >= target;
}

#endif
