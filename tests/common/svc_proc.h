/* SPDX-License-Identifier: MIT */
/* Real server processes for the tests of globaldata-server and
 * channel-server: start one (master + one worker) on a loopback port picked
 * at run time with its own data folder, wait until it answers, stop it by
 * pid (SIGTERM, or SIGKILL for the crash cases). The case process becomes a
 * child subreaper so that a worker whose master was killed is reaped here
 * too. Header-only; each service's header (gd_proc.h, ch_proc.h) says how to
 * see that its server answers and which pid its worker has. */
#ifndef SVC_PROC_H
#define SVC_PROC_H

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "wm_test.h"

typedef struct svc_proc svc_proc_t;
struct svc_proc {
    pid_t master;
    uint16_t port;
    const char *bin;
    char dir[64];
    char db[128];
    char pidfile[128];
    char log[128];
    const char *extra[8];
    int (*ready)(svc_proc_t *s);        /* 0 once the server answers */
    pid_t (*worker_pid)(svc_proc_t *s); /* the worker process, asked of the server */
};

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

static inline void dump_log(const svc_proc_t *s)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tail -n 30 %s >&2", s->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

/* `tag` names the temp folder and files (/tmp/wm-TAG.XXXXXX/TAG.db ...). */
static inline void svc_proc_init(svc_proc_t *s, const char *tag, const char *bin,
                                 const char *const *extra, int (*ready)(svc_proc_t *),
                                 pid_t (*worker_pid)(svc_proc_t *))
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/wm-%s.XXXXXX", tag);
    ASSERT(mkdtemp(s->dir) != NULL);
    snprintf(s->db, sizeof s->db, "%s/%s.db", s->dir, tag);
    snprintf(s->pidfile, sizeof s->pidfile, "--pid-file=%s/%s.pid", s->dir, tag);
    snprintf(s->log, sizeof s->log, "%s/%s.log", s->dir, tag);
    for (int i = 0; extra && extra[i] && i < 7; i++)
        s->extra[i] = extra[i];
    s->bin = bin;
    s->ready = ready;
    s->worker_pid = worker_pid;
    s->port = free_port();
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Starts the server and waits until s->ready says it answers. Returns 0, or -1 when
 * it exited (its status in *status). */
static inline int proc_start_status(svc_proc_t *s, int *status)
{
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", s->port);
    const char *argv[24] = {s->bin, "--listen", listen, "--data", s->db};
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
        if (s->ready(s) == 0)
            return 0;
        sleep_ms(10);
    }
    dump_log(s);
    WM_TEST_FAIL("the server did not answer within 10 s");
}

static inline void proc_start(svc_proc_t *s)
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

static inline void proc_stop(svc_proc_t *s)
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

static inline void proc_cleanup(svc_proc_t *s)
{
    proc_stop(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s->dir);
    ASSERT_EQ(system(cmd), 0);
}

/* SIGKILL for the worker holding the data; the master is stopped first so
 * it cannot start another, then killed too. Nothing runs a shutdown. */
static inline void proc_kill9(svc_proc_t *s)
{
    pid_t w = s->worker_pid(s);
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

#endif
