/* SPDX-License-Identifier: MIT */
/* The worker side of connections: stopping a worker from inside a new
 * connection's on_connect (while more connections wait in the accept
 * queue), and running out of file descriptors on accept: the worker must
 * back off instead of spinning on a listening socket that stays readable,
 * and accept the waiting connections once descriptors are free again. */
#include "conn_util.h"

#include <sys/resource.h>
#include <sys/time.h>

static int n_connects, n_closes;

static void count_close(wm_conn_t *c, void *ud)
{
    tu_note_close(c);
    n_closes++;
}

static void stop_in_connect(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    n_connects++;
    wm_worker_stop(wm_conn_worker(c));
    ASSERT_EQ(wm_conn_state(c), WM_CONN_CLOSED);
    ASSERT_EQ(wm_conn_send(c, "x", 1), WM_ENOTCONN);
}

void test_worker_stop_in_connect(void)
{
    wm_worker_t *w = wm_worker_new("tcp://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_connect(w, stop_in_connect, NULL);
    wm_worker_on_close(w, count_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0);
    tu_wait_count(&n_closes, 1, 2000, "the first connection to be closed");
    tu_run_for(30);
    ASSERT_EQ(n_connects, 1);
    ASSERT_EQ(tu_check_each_closed_once(), 1);
    ASSERT_EQ(wm_worker_conn_count(w), 0);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    wm_worker_free(w);
    WM_TEST_CLEAN();
}

static void note_connect(wm_conn_t *c, void *ud)
{
    tu_note_open(c);
    n_connects++;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The lowest descriptor number not in use, which is how many are in use
 * when they are dense. */
static int fds_in_use(void)
{
    int fd = dup(0);
    ASSERT(fd >= 0);
    close(fd);
    return fd;
}

static void check_log_names_emfile(const char *path)
{
    static char text[8192];
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    unlink(path);
    text[n] = '\0';
    if (!strstr(text, "cannot accept"))
        WM_TEST_FAIL("no accept warning was logged: \"%s\"", text);
    if (!strstr(text, strerror(EMFILE)))
        WM_TEST_FAIL("the accept warning does not say \"%s\": \"%s\"", strerror(EMFILE), text);
}

void test_accept_emfile(void)
{
    const int n = 10;
    wm_worker_t *w = wm_worker_new("tcp://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_connect(w, note_connect, NULL);
    wm_worker_on_close(w, count_close, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    /* The warning goes to a file we read back: it must name the cause. */
    char log_path[64];
    tu_tmp_path(log_path, sizeof(log_path), "emfile", ".log");
    ASSERT_EQ(wm_log_set_file(log_path), WM_OK);
    tu_run_for(5); /* let the loop make whatever it makes lazily */
    int fds[10];
    for (int i = 0; i < n; i++)
        fds[i] = tu_tcp_connect("127.0.0.1", wm_worker_port(w), 0);

    /* Room for three accepted sockets only. */
    struct rlimit old, low;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)fds_in_use() + 3;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    double cpu0 = cpu_seconds();
    tu_run_for(300);
    double cpu = cpu_seconds() - cpu0;
    ASSERT_EQ(n_connects, 3);
    /* Spinning on EMFILE would burn the whole 300 ms. */
    ASSERT(cpu < 0.15);

    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    ASSERT_EQ(wm_log_set_file(NULL), WM_OK);
    tu_wait_count(&n_connects, n, 3000, "the waiting connections once descriptors are free");
    ASSERT_EQ(wm_worker_conn_count(w), n);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    tu_wait_count(&n_closes, n, 3000, "every on_close");
    ASSERT_EQ(tu_check_each_closed_once(), n);
    wm_worker_free(w);
    WM_TEST_CLEAN();
    /* Last, so that the behaviour above is checked even if the text is off. */
    check_log_names_emfile(log_path);
}
