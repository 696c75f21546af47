/* SPDX-License-Identifier: MIT */
/* A worker process: the master ran this program again with WM_WORKER set;
 * wm_run_all lands here. It runs one worker on the listening socket it
 * inherited (or its own, with reuse_port), reports to the master over a
 * socketpair, and ends in one of three ways:
 *   stop       now: every connection is destroyed;
 *   stop -g    stop accepting; end when the last connection closes (or at
 *              the stop timeout); reload -g is the same;
 *   reload     stop accepting; close each connection as soon as it is idle
 *              (nothing buffered either way), end when none is left.
 * Outgoing connections never hold a stop up. */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "wm_int.h"
#include "wm_proc.h"

static wm_worker_t *self;
static wm_conn_t *ctl;
static struct event *qps_ev, *deadline_ev;
static uint64_t n_requests, n_send_failures, last_requests;
static double qps;
static bool ending;

void wm__stats_request(void)
{
    n_requests++;
}

void wm__stats_send_failure(void)
{
    n_send_failures++;
}

/* ---- ending ------------------------------------------------------------- */

static void finish(void)
{
    if (!self)
        return;
    wm_worker_stop(self); /* destroys what is left; runs on_worker_stop */
    self = NULL;
    wm_loop_stop();
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    wm_log_warn("stop timeout: closing %zu connection(s) still open",
                self ? wm_worker_conn_count(self) : 0);
    finish();
}

/* The last connection of a draining worker closed. */
void wm__worker_drained(wm_worker_t *w)
{
    if (w && w == self && ending && w->draining && w->nconns == 0)
        finish();
}

static void close_if_idle(wm_conn_t *c, void *ud)
{
    wm__conn_close_if_idle(c);
}

static void begin_end(bool graceful, bool close_idle)
{
    if (ending && !graceful && !close_idle && self) {
        finish(); /* a plain stop overrides a graceful one in progress */
        return;
    }
    if (ending || !self)
        return;
    ending = true;
    if (!graceful && !close_idle) {
        finish();
        return;
    }
    wm__worker_stop_accepting(self);
    self->draining = true;
    self->close_idle = close_idle;
    uint64_t ms = wm__settings()->stop_timeout_ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    deadline_ev = evtimer_new(wm__base(), on_deadline, NULL);
    if (deadline_ev)
        evtimer_add(deadline_ev, &tv);
    if (close_idle)
        wm_worker_foreach_conn(self, close_if_idle, NULL);
    wm__worker_drained(self); /* self is NULL if closing the idle ones ended it */
}

static void on_reload(bool graceful)
{
    if (self->reloadable) {
        begin_end(graceful, !graceful);
    } else if (self->on_reload) {
        self->on_reload(self, self->on_reload_ud);
    }
}

/* ---- reports to the master ---------------------------------------------- */

static unsigned long rss_kb(void)
{
    unsigned long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (unsigned long)(sysconf(_SC_PAGESIZE) / 1024);
}

/* The worker's own line (wm_worker_on_status), after a newline: the
 * master's field() stops at it, so the figures before stay readable. */
static int append_info(char *buf, size_t len, int n)
{
    if (!self || !self->on_status || n < 0 || (size_t)n + 2 >= len)
        return n;
    buf[n] = '\n';
    char *info = buf + n + 1;
    info[0] = '\0';
    self->on_status(self, info, len - (size_t)n - 1, self->on_status_ud);
    info[len - (size_t)n - 2] = '\0';
    info[strcspn(info, "\n")] = '\0';
    return info[0] ? n + 1 + (int)strlen(info) : n;
}

static void reply_status(const char *qid)
{
    char buf[1024];
    int n = snprintf(buf, 512,
                     "status %s pid=%d id=%d mem_kb=%lu conns=%zu timers=%zu requests=%llu "
                     "send_fail=%llu qps=%.0f state=%s",
                     qid, (int)getpid(), self ? self->id : -1, rss_kb(),
                     self ? wm_worker_conn_count(self) : 0, wm_timer_count(),
                     (unsigned long long)n_requests, (unsigned long long)n_send_failures, qps,
                     ending ? "draining" : "idle");
    n = append_info(buf, sizeof buf, n);
    wm_conn_send(ctl, buf, (size_t)n);
}

static void append_conn(wm_conn_t *c, void *ud)
{
    struct evbuffer *out = ud;
    evbuffer_add_printf(out, "\n%llu\t%s\t%s:%u\t%s\t%llu\t%llu\t%zu\t%zu",
                        (unsigned long long)wm_conn_id(c), c->proto->name, wm_conn_local_ip(c),
                        wm_conn_local_port(c), wm_conn_remote_address(c),
                        (unsigned long long)c->bytes_read, (unsigned long long)c->bytes_written,
                        wm_conn_send_queue(c), wm_conn_recv_queue(c));
}

static void reply_connections(const char *qid)
{
    struct evbuffer *out = evbuffer_new();
    if (!out)
        return;
    evbuffer_add_printf(out, "connections %s pid=%d", qid, (int)getpid());
    if (self)
        wm_worker_foreach_conn(self, append_conn, out);
    size_t len = evbuffer_get_length(out);
    wm_conn_send(ctl, evbuffer_pullup(out, -1), len);
    evbuffer_free(out);
}

static void on_ctl_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    char cmd[64] = "", arg[32] = "";
    char line[128];
    size_t n = m->len < sizeof line - 1 ? m->len : sizeof line - 1;
    memcpy(line, m->data, n);
    line[n] = '\0';
    sscanf(line, "%63s %31s", cmd, arg);
    if (!strcmp(cmd, WM_CTL_STATUS))
        reply_status(arg);
    else if (!strcmp(cmd, WM_CTL_CONNECTIONS))
        reply_connections(arg);
    else if (!strcmp(cmd, WM_CTL_STOP))
        begin_end(false, false);
    else if (!strcmp(cmd, WM_CTL_STOP_GRACEFUL))
        begin_end(true, false);
    else if (!strcmp(cmd, WM_CTL_RELOAD))
        on_reload(false);
    else if (!strcmp(cmd, WM_CTL_RELOAD_GRACEFUL))
        on_reload(true);
    else
        wm_log_warn("worker: unknown message from the master: %s", line);
}

static void on_ctl_close(wm_conn_t *c, void *ud)
{
    ctl = NULL;
    if (!ending)
        wm_log_warn("worker %s: the master is gone; stopping", self ? self->name : "?");
    begin_end(false, false);
}

/* The memory watchdog (wm_set_memory_limit), as webman's monitor: a process
 * over the limit ends as on a reload (each connection closes once idle) and
 * the master starts a fresh one. Non-reloadable workers keep state a restart
 * would lose, so they are only warned about. */
static void check_memory(void)
{
    uint64_t limit = wm__settings()->memory_limit;
    if (!limit || ending || !self)
        return;
    uint64_t rss = (uint64_t)rss_kb() * 1024;
    if (rss <= limit)
        return;
    if (!self->reloadable) {
        static bool warned;
        if (!warned)
            wm_log_warn("worker %s process %d uses %llu KB, over the memory limit of %llu KB; "
                        "not restarted (the worker is not reloadable)",
                        self->name, (int)getpid(), (unsigned long long)(rss / 1024),
                        (unsigned long long)(limit / 1024));
        warned = true;
        return;
    }
    wm_log_warn("worker %s process %d uses %llu KB, over the memory limit of %llu KB: "
                "restarting it",
                self->name, (int)getpid(), (unsigned long long)(rss / 1024),
                (unsigned long long)(limit / 1024));
    begin_end(false, true);
}

static void on_qps_tick(evutil_socket_t fd, short what, void *arg)
{
    qps = (double)(n_requests - last_requests);
    last_requests = n_requests;
    check_memory();
}

/* ---- signals (a user may signal a worker directly, as with Workerman) ----- */

static void on_signal(int signum, void *ud)
{
    switch (signum) {
    case SIGTERM:
        begin_end(false, false);
        break;
    case SIGQUIT:
        begin_end(true, false);
        break;
    case SIGUSR1:
        on_reload(false);
        break;
    case SIGUSR2:
        on_reload(true);
        break;
    default: /* SIGINT, SIGHUP: the master coordinates the stop */
        break;
    }
}

/* ---- start ------------------------------------------------------------------ */

static int switch_user(wm_worker_t *w)
{
    if (!w->user)
        return WM_OK;
    struct passwd *pw = getpwnam(w->user);
    if (!pw) {
        wm_log_error("worker %s: no user '%s' on this machine", w->name, w->user);
        return WM_EINVAL;
    }
    gid_t gid = pw->pw_gid;
    if (w->group) {
        struct group *gr = getgrnam(w->group);
        if (!gr) {
            wm_log_error("worker %s: no group '%s' on this machine", w->name, w->group);
            return WM_EINVAL;
        }
        gid = gr->gr_gid;
    }
    if (getuid() == pw->pw_uid && getgid() == gid)
        return WM_OK;
    if (setgid(gid) < 0 || initgroups(pw->pw_name, gid) < 0 || setuid(pw->pw_uid) < 0) {
        int err = -errno;
        wm_log_error("worker %s: cannot run as user %s: %s (start the master as root, or "
                     "remove the user setting)",
                     w->name, w->user, wm_strerror(err));
        return err;
    }
    return WM_OK;
}

static int adopt_listener(wm_worker_t *w, int lfd)
{
    if (lfd < 0)
        return wm_worker_listen(w); /* reuse_port: a socket of our own */
    /* Inherited from the master, which unlinks a unix socket's path. */
    wm__worker_adopt_listener(w, lfd, false);
    return WM_OK;
}

static void watch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        wm_signal_add(sigs[i], on_signal, NULL);
}

int wm__worker_process_run(const char *spec, pid_t master_pid)
{
    int index, id, lfd, cfd;
    if (sscanf(spec, "%d:%d:%d:%d", &index, &id, &lfd, &cfd) != 4) {
        wm_log_error("bad %s='%s' in the environment", WM_ENV_WORKER, spec);
        return 1;
    }
    self = wm__worker_at(index);
    if (!self) {
        wm_log_error("worker #%d does not exist in this program: it must make the same "
                     "workers, in the same order, on every run",
                     index);
        return 1;
    }
    self->id = id;
    if (adopt_listener(self, lfd) != WM_OK)
        return 1;
    if (switch_user(self) != WM_OK)
        return WM_EXIT_CONFIG;
    /* A backstop for the control channel: if the master dies, so do we. Set
     * after the user switch, which clears it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    if (master_pid > 0 && getppid() != master_pid)
        return 0;                  /* the master died before we got here */
    wm__proc_set_comm(self->name); /* the title came in as argv[0] */
    ctl = wm__conn_adopt(cfd, &wm_protocol_frame);
    if (!ctl)
        return 1;
    wm_conn_on_message(ctl, on_ctl_message, NULL);
    wm_conn_on_close(ctl, on_ctl_close, NULL);
    watch_signals();
    qps_ev = event_new(wm__base(), -1, EV_PERSIST, on_qps_tick, NULL);
    struct timeval sec = {1, 0};
    if (qps_ev)
        event_add(qps_ev, &sec);
    wm_worker_t *me = self;
    if (wm_worker_start(me) != WM_OK)
        return 1;
    if (ctl)
        wm_conn_send(ctl, WM_CTL_READY, strlen(WM_CTL_READY));
    wm_loop_run();
    if (self)
        finish();
    if (ctl)
        wm_conn_destroy(ctl);
    if (qps_ev)
        event_free(qps_ev);
    if (deadline_ev)
        event_free(deadline_ev);
    qps_ev = deadline_ev = NULL;
    return 0;
}
