/* SPDX-License-Identifier: MIT */
/* Real globaldata-server processes for the tests: start one (master + one
 * worker) on a loopback port picked at run time with its own data folder,
 * wait until it answers, stop it by pid (SIGTERM, or SIGKILL for the crash
 * cases). The case process becomes a child subreaper so that a worker whose
 * master was killed is reaped here too. Header-only, shared by
 * gd_server_test.c and gd_client_test.c. */
#ifndef GD_PROC_H
#define GD_PROC_H

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>

#include "wm_test.h"

#include "gd_client.h"

typedef struct gd_proc {
    pid_t master;
    uint16_t port;
    char dir[64];
    char db[128];
    char pidfile[128];
    char log[128];
    const char *extra[8];
} gd_proc_t;

static inline uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    ASSERT(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline void dump_log(const gd_proc_t *s)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tail -n 30 %s >&2", s->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

static inline void proc_init(gd_proc_t *s, const char *const *extra)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/wm-gd.XXXXXX");
    ASSERT(mkdtemp(s->dir) != NULL);
    snprintf(s->db, sizeof s->db, "%s/gd.db", s->dir);
    snprintf(s->pidfile, sizeof s->pidfile, "--pid-file=%s/gd.pid", s->dir);
    snprintf(s->log, sizeof s->log, "%s/gd.log", s->dir);
    for (int i = 0; extra && extra[i] && i < 7; i++)
        s->extra[i] = extra[i];
    s->port = free_port();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Starts the server and waits until it answers ping. Returns 0, or -1 when
 * it exited (its status in *status). */
static inline int proc_start_status(gd_proc_t *s, int *status)
{
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", s->port);
    const char *argv[24] = {GD_SERVER_BIN, "--listen", listen, "--data", s->db};
    int n = 5;
    for (int i = 0; s->extra[i]; i++)
        argv[n++] = s->extra[i];
    argv[n++] = "start";
    argv[n++] = s->pidfile;
    argv[n] = NULL;
    fflush(stderr);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    s->master = pid;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            s->master = 0;
            return -1;
        }
        gdc_t c;
        if (gdc_connect(&c, s->port) == 0) {
            gdc_resp_t r = gdc_call(&c, "ping", "");
            gdc_close(&c);
            if (r.rc == 0)
                return 0;
        }
        sleep_ms(10);
    }
    dump_log(s);
    WM_TEST_FAIL("the server did not answer within 10 s");
}

static inline void proc_start(gd_proc_t *s)
{
    int st;
    if (proc_start_status(s, &st) != 0) {
        dump_log(s);
        WM_TEST_FAIL("the server exited at start (status %d)", st);
    }
}

/* Reaps every child that has ended (workers orphaned to us included). */
static inline void reap(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static inline void proc_stop(gd_proc_t *s)
{
    if (!s->master)
        return;
    kill(s->master, SIGTERM);
    int st;
    ASSERT_EQ(waitpid(s->master, &st, 0), s->master);
    s->master = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        dump_log(s);
        WM_TEST_FAIL("the master ended with status 0x%x", st);
    }
    reap();
}

static inline void proc_cleanup(gd_proc_t *s)
{
    proc_stop(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s->dir);
    ASSERT_EQ(system(cmd), 0);
}

static inline pid_t worker_pid(gd_proc_t *s)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, s->port), 0);
    gdc_resp_t r = gdc_call(&c, "stats", "");
    ASSERT_EQ(r.rc, 0);
    pid_t pid = (pid_t)gdc_int(gdc_map_get(r.result, "pid"));
    gdc_close(&c);
    ASSERT_GT(pid, 0);
    return pid;
}

/* SIGKILL for the worker holding the data; the master is stopped first so
 * it cannot start another, then killed too. Nothing runs a shutdown. */
static inline void proc_kill9(gd_proc_t *s)
{
    pid_t w = worker_pid(s);
    kill(s->master, SIGSTOP);
    kill(w, SIGKILL);
    kill(s->master, SIGKILL);
    waitpid(s->master, NULL, 0);
    s->master = 0;
    /* The worker was the master's child; as subreaper we reap it. */
    for (int i = 0; i < 500 && kill(w, 0) == 0; i++) {
        reap();
        sleep_ms(10);
    }
    ASSERT(kill(w, 0) != 0);
}

static inline gdc_t connect_to(gd_proc_t *s)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, s->port), 0);
    return c;
}

#define ASSERT_STATUS(r, st)                                                                       \
    do {                                                                                           \
        gdc_resp_t r_ = (r);                                                                       \
        ASSERT_EQ(r_.rc, 0);                                                                       \
        ASSERT_EQ(r_.status, (st));                                                                \
    } while (0)

static inline gdc_resp_t must(gdc_resp_t r, uint32_t status)
{
    if (r.rc != 0)
        WM_TEST_FAIL("no response (connection ended or bad frame)");
    if (r.status != status) {
        char text[200] = "";
        if (r.result.type == MSGPACK_OBJECT_STR)
            snprintf(text, sizeof text, "%.*s", (int)r.result.via.str.size, r.result.via.str.ptr);
        WM_TEST_FAIL("status %u, expected %u (%s)", r.status, status, text);
    }
    return r;
}

#endif
