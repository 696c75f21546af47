/* SPDX-License-Identifier: MIT */
/* A tiny test harness for wm's C tests.
 *
 * Each test binary lists its cases in one table and calls wm_test_main().
 * Every case runs in its own forked process with a fresh loop, so a crash or
 * a hang in one case (a 20 s alarm, WM_TEST_TIMEOUT to change) fails that case
 * only. Assertions print both values. A case ends by checking that nothing
 * was left on the loop (WM_TEST_CLEAN()).
 *
 * Usage:
 *   static void test_x(void) { ASSERT_EQ(1 + 1, 2); }
 *   static const wm_test_case_t cases[] = { {"x", test_x}, {NULL, NULL} };
 *   int main(int argc, char **argv) { return wm_test_main(argc, argv, cases); }
 * Run one case: ./binary NAME; list them: ./binary --list. */
#ifndef WM_TEST_H
#define WM_TEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wm/wm.h"

typedef struct wm_test_case {
    const char *name;
    void (*fn)(void);
} wm_test_case_t;

#define WM_TEST_FAIL(...)                                                                          \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define ASSERT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            WM_TEST_FAIL("assertion failed: %s", #cond);                                           \
    } while (0)

#define ASSERT_CMP(a, op, b, fmt, type)                                                            \
    do {                                                                                           \
        type a_ = (type)(a), b_ = (type)(b);                                                       \
        if (!(a_ op b_))                                                                           \
            WM_TEST_FAIL("%s %s %s: " fmt " vs " fmt, #a, #op, #b, a_, b_);                        \
    } while (0)

#define ASSERT_EQ(a, b) ASSERT_CMP(a, ==, b, "%lld", long long)
#define ASSERT_NE(a, b) ASSERT_CMP(a, !=, b, "%lld", long long)
#define ASSERT_LT(a, b) ASSERT_CMP(a, <, b, "%lld", long long)
#define ASSERT_LE(a, b) ASSERT_CMP(a, <=, b, "%lld", long long)
#define ASSERT_GT(a, b) ASSERT_CMP(a, >, b, "%lld", long long)
#define ASSERT_GE(a, b) ASSERT_CMP(a, >=, b, "%lld", long long)
#define ASSERT_DBL_NEAR(a, b, eps)                                                                 \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (a_ - b_ > (eps) || b_ - a_ > (eps))                                                    \
            WM_TEST_FAIL("%s ~ %s: %g vs %g (eps %g)", #a, #b, a_, b_, (double)(eps));             \
    } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            WM_TEST_FAIL("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)",                 \
                         b_ ? b_ : "(null)");                                                      \
    } while (0)
#define ASSERT_MEM_EQ(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            WM_TEST_FAIL("%s == %s: the %zu bytes differ", #a, #b, (size_t)(n));                   \
    } while (0)

/* Nothing may be left on the loop at the end of a case: no timers, no
 * connections waiting to be freed. Frees the loop. */
#define WM_TEST_CLEAN()                                                                            \
    do {                                                                                           \
        ASSERT_EQ(wm_timer_count(), 0);                                                            \
        wm_loop_free();                                                                            \
    } while (0)

static inline int wm_test_run_one(const wm_test_case_t *tc)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        const char *t = getenv("WM_TEST_TIMEOUT");
        alarm(t ? (unsigned)atoi(t) : 20);
        tc->fn();
        wm_loop_free();
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFSIGNALED(st))
        fprintf(stderr, "  case %s: killed by signal %d%s\n", tc->name, WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
    return 1;
}

static inline int wm_test_main(int argc, char **argv, const wm_test_case_t *cases)
{
    int passed = 0, failed = 0;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (const wm_test_case_t *tc = cases; tc->name; tc++)
            printf("%s\n", tc->name);
        return 0;
    }
    for (const wm_test_case_t *tc = cases; tc->name; tc++) {
        if (argc > 1) {
            int chosen = 0;
            for (int i = 1; i < argc; i++)
                chosen |= strcmp(argv[i], tc->name) == 0;
            if (!chosen)
                continue;
        }
        int rc = wm_test_run_one(tc);
        printf("%s %s\n", rc ? "FAIL" : "ok  ", tc->name);
        fflush(stdout);
        rc ? failed++ : passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed || passed == 0 ? 1 : 0;
}

#endif
