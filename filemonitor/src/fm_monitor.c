/* SPDX-License-Identifier: MIT */
/* The monitor worker: one process, listening on nothing, that watches the
 * program's sources and on each burst of changes runs the build command and
 * asks its master for a reload once the build succeeds. The build runs as a
 * child (/bin/sh -c, in its own process group so a stop can end all of it);
 * its output comes back through a pipe read on the loop and is logged line
 * by line, and its exit is learnt from SIGCHLD, so the loop never waits.
 * A change during a build queues exactly one more build: several changes
 * during a long build need only one rebuild after it. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fm_int.h"

typedef struct monitor {
    char **paths, **includes, **excludes;
    char *build_command, *name;
    wm_fm_opts_t watch;
    bool graceful, force;
    /* In the monitor process. */
    wm_fm_t *fm;
    pid_t build_pid;
    int build_status; /* valid once build_pid is reaped */
    bool build_reaped, build_eof, queued;
    uint64_t build_started_ms, change_ms;
    int out_fd;
    struct event *out_ev;
    struct evbuffer *out;
    int sigchld_watch;
} monitor_t;

/* ---- copies of the options ------------------------------------------------------ */

static void strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static char **strv_copy(const char *const *v, bool *ok)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    if (!out) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!(out[i] = strdup(v[i])))
            *ok = false;
    return out;
}

static void monitor_free(void *arg)
{
    monitor_t *m = arg;
    strv_free(m->paths);
    strv_free(m->includes);
    strv_free(m->excludes);
    free(m->build_command);
    free(m->name);
    if (m->out)
        evbuffer_free(m->out);
    free(m);
}

/* ---- the build ------------------------------------------------------------------- */

static void start_build(monitor_t *m);

static void request_reload(monitor_t *m)
{
    wm_log_info("filemonitor: reloading (%llu ms after the change)",
                (unsigned long long)(wm_now_ms() - m->change_ms));
    wm_reload_request(m->graceful);
}

static void log_output_lines(monitor_t *m, bool all)
{
    char *line;
    size_t len;
    while ((line = evbuffer_readln(m->out, &len, EVBUFFER_EOL_LF))) {
        wm_log_info("filemonitor: build: %s", line);
        free(line);
    }
    len = evbuffer_get_length(m->out);
    if (all && len) {
        wm_log_info("filemonitor: build: %.*s", (int)len, (char *)evbuffer_pullup(m->out, -1));
        evbuffer_drain(m->out, len);
    }
}

/* Both ends are in: the child exited and its output reached EOF. */
static void build_done(monitor_t *m)
{
    log_output_lines(m, true);
    if (m->out_ev)
        event_free(m->out_ev);
    close(m->out_fd);
    m->out_ev = NULL;
    m->out_fd = -1;
    m->build_pid = 0;
    uint64_t ms = wm_now_ms() - m->build_started_ms;
    int st = m->build_status;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        wm_log_info("filemonitor: build succeeded in %llu ms", (unsigned long long)ms);
        if (!m->queued)
            request_reload(m);
    } else if (WIFEXITED(st)) {
        wm_log_error("filemonitor: build failed with exit status %d after %llu ms; not reloading",
                     WEXITSTATUS(st), (unsigned long long)ms);
    } else {
        wm_log_error("filemonitor: build killed by signal %d after %llu ms; not reloading",
                     WTERMSIG(st), (unsigned long long)ms);
    }
    if (m->queued) {
        /* Sources changed while it ran: the result is stale already. */
        m->queued = false;
        start_build(m);
    }
}

static void on_build_output(evutil_socket_t fd, short what, void *arg)
{
    monitor_t *m = arg;
    int n = evbuffer_read(m->out, fd, 65536);
    if (n > 0) {
        log_output_lines(m, false);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    m->build_eof = true;
    event_del(m->out_ev);
    if (m->build_reaped)
        build_done(m);
}

static void on_sigchld(int signum, void *arg)
{
    monitor_t *m = arg;
    int st;
    if (!m->build_pid || m->build_reaped || waitpid(m->build_pid, &st, WNOHANG) != m->build_pid)
        return;
    m->build_reaped = true;
    m->build_status = st;
    if (m->build_eof)
        build_done(m);
}

/* In the child: its own process group, output into the pipe. */
static void exec_build(const char *cmd, int out)
{
    setpgid(0, 0);
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    dprintf(2, "cannot run /bin/sh: %s\n", strerror(errno));
    _exit(127);
}

static void start_build(monitor_t *m)
{
    if (!m->build_command) {
        request_reload(m);
        return;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        wm_log_error("filemonitor: cannot run the build: %s", strerror(errno));
        return;
    }
    wm_log_info("filemonitor: building: %s", m->build_command);
    m->build_started_ms = wm_now_ms();
    pid_t pid = fork();
    if (pid == 0)
        exec_build(m->build_command, fds[1]);
    close(fds[1]);
    if (pid < 0) {
        wm_log_error("filemonitor: cannot run the build: %s", strerror(errno));
        close(fds[0]);
        return;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    m->build_pid = pid;
    m->build_reaped = m->build_eof = false;
    m->out_fd = fds[0];
    m->out_ev = event_new(wm_loop_base(), fds[0], EV_READ | EV_PERSIST, on_build_output, m);
    if (m->out_ev)
        event_add(m->out_ev, NULL);
    else
        m->build_eof = true; /* out of memory: the status still comes */
}

/* ---- watching ---------------------------------------------------------------------- */

static void on_change(wm_fm_t *fm, const wm_fm_change_t *changes, size_t n, void *arg)
{
    monitor_t *m = arg;
    if (m->build_pid) {
        m->queued = true;
        wm_log_info("filemonitor: %zu change(s) during the build (%s, …): one more build queued", n,
                    changes[0].path);
        return;
    }
    m->change_ms = wm_now_ms();
    wm_log_info("filemonitor: %zu change(s): %s%s", n, changes[0].path, n > 1 ? ", …" : "");
    start_build(m);
}

static int watch_start(monitor_t *m)
{
    m->fm = wm_fm_new(&m->watch, on_change, m);
    if (!m->fm)
        return WM_ENOMEM;
    int rc = WM_OK;
    for (char **p = m->includes; rc == WM_OK && p && *p; p++)
        rc = wm_fm_include(m->fm, *p);
    for (char **p = m->excludes; rc == WM_OK && p && *p; p++)
        rc = wm_fm_exclude(m->fm, *p);
    for (char **p = m->paths; rc == WM_OK && p && *p; p++)
        if ((rc = wm_fm_watch_add(m->fm, *p)) != WM_OK)
            wm_log_error("filemonitor: cannot watch %s: %s", *p, wm_strerror(rc));
    return rc;
}

static void on_monitor_start(wm_worker_t *w, void *arg)
{
    monitor_t *m = arg;
    m->out_fd = -1;
    if (wm_daemonized() && !m->force) {
        wm_log_info("filemonitor: off, the program runs as a daemon (set force to watch anyway)");
        return;
    }
    if (watch_start(m) != WM_OK) {
        wm_fm_free(m->fm);
        m->fm = NULL;
        return;
    }
    m->sigchld_watch = wm_signal_add(SIGCHLD, on_sigchld, m);
    wm_log_info("filemonitor: watching %zu director%s (%s)%s%s", wm_fm_dir_count(m->fm),
                wm_fm_dir_count(m->fm) == 1 ? "y" : "ies", wm_fm_backend_name(m->fm),
                m->build_command ? "; build: " : "", m->build_command ? m->build_command : "");
}

static void on_monitor_stop(wm_worker_t *w, void *arg)
{
    monitor_t *m = arg;
    wm_fm_free(m->fm);
    m->fm = NULL;
    if (m->build_pid && !m->build_reaped) {
        kill(-m->build_pid, SIGTERM); /* the whole build, not only the shell */
        waitpid(m->build_pid, NULL, 0);
    }
    m->build_pid = 0;
    if (m->out_ev)
        event_free(m->out_ev);
    if (m->out_fd >= 0)
        close(m->out_fd);
    m->out_ev = NULL;
    m->out_fd = -1;
    if (m->sigchld_watch > 0)
        wm_signal_del(m->sigchld_watch);
    m->sigchld_watch = 0;
}

wm_worker_t *wm_fm_add_monitor_worker(const wm_fm_monitor_opts_t *opts)
{
    if (!opts || !opts->paths || !opts->paths[0]) {
        wm_log_error("filemonitor: the monitor worker needs at least one path to watch");
        return NULL;
    }
    monitor_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    bool ok = true;
    m->paths = strv_copy(opts->paths, &ok);
    m->includes = strv_copy(opts->includes, &ok);
    m->excludes = strv_copy(opts->excludes, &ok);
    m->build_command = opts->build_command ? strdup(opts->build_command) : NULL;
    m->name = strdup(opts->name ? opts->name : "filemonitor");
    m->out = evbuffer_new();
    m->watch = opts->watch;
    m->graceful = opts->graceful;
    m->force = opts->force;
    m->out_fd = -1;
    wm_worker_t *w = NULL;
    if (ok && m->name && m->out && (!opts->build_command || m->build_command))
        w = wm_worker_new(NULL);
    if (!w) {
        monitor_free(m);
        wm_log_error("filemonitor: cannot add the monitor worker: out of memory");
        return NULL;
    }
    if (opts->memory_limit)
        wm_set_memory_limit(opts->memory_limit);
    wm_worker_set_name(w, m->name);
    wm_worker_set_reloadable(w, false);
    wm_worker_set_user_data(w, m, monitor_free);
    wm_worker_on_worker_start(w, on_monitor_start, m);
    wm_worker_on_worker_stop(w, on_monitor_stop, m);
    return w;
}
