/* SPDX-License-Identifier: MIT */
/* What the load generators share: a monotonic clock and CPU use, their own
 * and a server process's, so that each can tell whether the server (and not
 * itself) was the bottleneck of a run. Header-only: each load generator is a
 * single file. */
#ifndef WM_BENCH_UTIL_H
#define WM_BENCH_UTIL_H

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's user + system CPU time so far, in seconds. */
static inline double bench_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of another process from /proc, in seconds; -1 if unknown. */
static inline double bench_proc_cpu_s(long pid)
{
    char path[64], line[1024];
    unsigned long ut, st;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    char *p = ok ? strrchr(line, ')') : NULL; /* the command name may hold spaces */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The CPU time of the N processes PIDS together, in seconds; -1 if any is
 * unknown or N is 0. */
static inline double bench_procs_cpu_s(const long *pids, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double s = bench_proc_cpu_s(pids[i]);
        if (s < 0)
            return -1;
        sum += s;
    }
    return n > 0 ? sum : -1;
}

/* S seconds as a struct timeval, for libevent's timers. */
static inline struct timeval bench_tv(double s)
{
    struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    return tv;
}

#endif
