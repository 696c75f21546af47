/* SPDX-License-Identifier: MIT */
/* The master process: binds the listening sockets, starts `count` processes
 * per worker by fork + exec of the program on disk (so a reload runs a
 * rebuilt program), restarts any that die (with a back-off for one that dies
 * at once every time), replaces them one at a time on reload, stops them,
 * and answers `status` and `connections` on a control socket beside its pid
 * file. It runs no user callback after start and holds no connection but
 * its control channels. Signals only set work for the loop. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "wm_int.h"
#include "wm_proc.h"
#include "master_int.h"

#define WM_BACKOFF_MIN_MS 100
#define WM_BACKOFF_MAX_MS 10000
#define WM_QUICK_DEATH_MS 1000    /* a process dying sooner than this backs off */
#define WM_READY_TIMEOUT_MS 10000 /* a reloaded process must be ready by then */

wm__master_t M;

/* ---- process list ---------------------------------------------------------- */

wm__proc_t *wm__master_find_pid(pid_t pid)
{
    for (wm__proc_t *p = M.procs; p; p = p->next)
        if (p->pid == pid)
            return p;
    return NULL;
}

static void proc_unlink(wm__proc_t *p)
{
    for (wm__proc_t **pp = &M.procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->ctl) {
        wm_conn_on_close(p->ctl, NULL, NULL);
        wm_conn_destroy(p->ctl);
    }
    free(p);
}

/* ---- starting processes ------------------------------------------------------ */

static void on_proc_message(wm_conn_t *c, const wm_msg_t *m, void *ud);

/* The channel ends before or after SIGCHLD tells us the process ended;
 * either way the connection is freed by the loop, so forget it here. */
static void on_proc_ctl_close(wm_conn_t *c, void *ud)
{
    wm__proc_t *p = ud;
    p->ctl = NULL;
}

/* In the child, between fork and exec: only async-signal-safe work, plus
 * setenv (the child is single-threaded). */
static void exec_worker(int widx, int id, int lfd, int cfd)
{
    char spec[64], master[32];
    snprintf(spec, sizeof spec, "%d:%d:%d:%d", widx, id, lfd, cfd);
    snprintf(master, sizeof master, "%d", (int)getppid());
    setenv(WM_ENV_WORKER, spec, 1);
    setenv(WM_ENV_SETTINGS, master, 1);
    /* The two descriptors the worker keeps survive exec; all else closes. */
    if (lfd >= 0)
        fcntl(lfd, F_SETFD, 0);
    fcntl(cfd, F_SETFD, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The title goes in as argv[0]: rewriting argv later, as the master does
     * for its own, would clobber the option strings (optarg) the program
     * keeps, and worker processes run the program's code. */
    char **argv = wm__proc_argv();
    char title[512];
    wm_worker_t *w = wm__worker_at(widx);
    snprintf(title, sizeof title, "wm: worker %s %s", w->name, w->url_text);
    argv[0] = title;
    execv(wm__proc_exe(), argv);
    dprintf(2, "wm: cannot run %s: %s\n", wm__proc_exe(), strerror(errno));
    _exit(127);
}

wm__proc_t *wm__master_spawn(int widx, int id)
{
    wm_worker_t *w = wm__worker_at(widx);
    int sv[2];
    if (!w || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        wm_log_error("cannot start a process for worker #%d: %s", widx, strerror(errno));
        return NULL;
    }
    wm__proc_t *p = calloc(1, sizeof *p);
    pid_t pid = p ? fork() : -1;
    if (pid == 0)
        exec_worker(widx, id, w->fd, sv[1]);
    close(sv[1]);
    if (pid < 0) {
        wm_log_error("cannot start a process for worker %s: %s", w->name, strerror(errno));
        close(sv[0]);
        free(p);
        return NULL;
    }
    p->pid = pid;
    p->widx = widx;
    p->id = id;
    p->started_ms = wm_now_ms();
    p->ctl = wm__conn_adopt(sv[0], &wm_protocol_frame);
    if (p->ctl) {
        wm_conn_set_user_data(p->ctl, p, NULL);
        wm_conn_on_message(p->ctl, on_proc_message, p);
        wm_conn_on_close(p->ctl, on_proc_ctl_close, p);
    }
    p->next = M.procs;
    M.procs = p;
    wm_log_debug("worker %s: started process %d (id %d)", w->name, (int)pid, id);
    return p;
}

static void on_respawn(wm_timer_id_t tid, void *arg);

/* Starts the slot's process; if that fails (fork: out of memory or
 * processes), tries again later instead of leaving the slot empty. */
static void slot_fill(wm__slot_t *s)
{
    s->current = wm__master_spawn(s->widx, s->id);
    if (!s->current && !M.stopping)
        s->respawn_timer = wm_timer_add(WM_BACKOFF_MAX_MS, false, on_respawn, s, NULL);
}

static void on_respawn(wm_timer_id_t tid, void *arg)
{
    wm__slot_t *s = arg;
    s->respawn_timer = 0;
    if (!M.stopping && !s->current)
        slot_fill(s);
}

/* ---- children that end ---------------------------------------------------------- */

static void count_exit(int widx, int status, char *how, size_t len)
{
    wm__exit_stat_t *e = M.exits;
    int kind = WIFSIGNALED(status) ? 1 : 0;
    int code = kind ? WTERMSIG(status) : WEXITSTATUS(status);
    if (kind)
        snprintf(how, len, "killed by signal %d (%s)", code, strsignal(code));
    else
        snprintf(how, len, "exited with status %d", code);
    for (; e; e = e->next)
        if (e->widx == widx && e->kind == kind && e->code == code)
            break;
    if (!e && (e = calloc(1, sizeof *e))) {
        e->widx = widx;
        e->kind = kind;
        e->code = code;
        e->next = M.exits;
        M.exits = e;
    }
    if (e)
        e->count++;
}

static void slot_lost(wm__slot_t *s, wm__proc_t *p, const char *how)
{
    wm_worker_t *w = wm__worker_at(p->widx);
    uint64_t lived = wm_now_ms() - p->started_ms;
    s->current = NULL;
    if (lived < WM_QUICK_DEATH_MS) {
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : WM_BACKOFF_MIN_MS;
        if (s->backoff_ms > WM_BACKOFF_MAX_MS)
            s->backoff_ms = WM_BACKOFF_MAX_MS;
    } else {
        s->backoff_ms = 0;
    }
    char when[48] = "";
    if (s->backoff_ms)
        snprintf(when, sizeof when, " in %llu ms (it died quickly)",
                 (unsigned long long)s->backoff_ms);
    wm_log_warn("worker %s process %d (id %d) %s after %llu ms; restarting%s", w->name, (int)p->pid,
                p->id, how, (unsigned long long)lived, when);
    if (s->backoff_ms)
        s->respawn_timer = wm_timer_add(s->backoff_ms, false, on_respawn, s, NULL);
    else
        slot_fill(s);
}

static void reap_one(pid_t pid, int status)
{
    wm__proc_t *p = wm__master_find_pid(pid);
    if (!p)
        return;
    char how[96];
    count_exit(p->widx, status, how, sizeof how);
    wm__slot_t *s = wm__master_slot(p->widx, p->id);
    if (wm__reload_on_exit(p)) {
        /* A reload's new process that died before it was ready: the reload
         * put the old one back in its place. */
    } else if (M.stopping || p->retiring) {
        wm_log_debug("worker %s process %d %s", wm__worker_at(p->widx)->name, (int)pid, how);
        if (s && s->current == p)
            s->current = NULL;
    } else if (s && s->current == p) {
        slot_lost(s, p, how);
    }
    proc_unlink(p);
}

static void on_sigchld(int signum, void *ud)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        reap_one(pid, status);
    if (M.stopping && !M.procs)
        wm_loop_stop();
}

/* ---- messages from worker processes ------------------------------------------ */

static void on_proc_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    wm__proc_t *p = ud;
    if (m->len == strlen(WM_CTL_READY) && !memcmp(m->data, WM_CTL_READY, m->len)) {
        p->ready = true;
        wm__master_on_ready(p);
        return;
    }
    wm__query_on_reply(p, m->data, m->len);
}

/* ---- stop ------------------------------------------------------------------------ */

static void on_stop_deadline(wm_timer_id_t tid, void *ud)
{
    M.stop_timer = 0;
    for (wm__proc_t *p = M.procs; p; p = p->next) {
        wm_log_warn("process %d did not stop in time: killing it", (int)p->pid);
        kill(p->pid, SIGKILL);
    }
}

void wm__master_stop(bool graceful)
{
    if (M.stopping) {
        if (!graceful && M.graceful) {
            /* A second, plain stop during a graceful one: stop now. */
            M.graceful = false;
            for (wm__proc_t *p = M.procs; p; p = p->next)
                if (p->ctl)
                    wm_conn_send(p->ctl, WM_CTL_STOP, strlen(WM_CTL_STOP));
                else
                    kill(p->pid, SIGTERM);
            if (M.stop_timer)
                wm_timer_del(M.stop_timer);
            M.stop_timer = wm_timer_add(5000, false, on_stop_deadline, NULL, NULL);
        }
        return;
    }
    wm_log_info("master: stopping%s", graceful ? " gracefully" : "");
    M.stopping = true;
    /* Close our copies of the listening sockets, so that once the workers
     * close theirs new clients are refused at once instead of waiting in a
     * backlog nobody will serve. (A reload keeps them: the socket must
     * outlive every process.) */
    for (wm_worker_t *w = wm__workers(); w; w = w->next)
        wm__worker_stop_accepting(w);
    M.graceful = graceful;
    wm__reload_cancel();
    for (int i = 0; i < M.nslots; i++) {
        if (M.slots[i].respawn_timer)
            wm_timer_del(M.slots[i].respawn_timer);
        M.slots[i].respawn_timer = 0;
    }
    const char *msg = graceful ? WM_CTL_STOP_GRACEFUL : WM_CTL_STOP;
    for (wm__proc_t *p = M.procs; p; p = p->next) {
        if (p->ctl)
            wm_conn_send(p->ctl, msg, strlen(msg));
        else
            kill(p->pid, SIGTERM);
    }
    uint64_t limit = (graceful ? wm__settings()->stop_timeout_ms : 0) + 5000;
    M.stop_timer = wm_timer_add(limit, false, on_stop_deadline, NULL, NULL);
    if (!M.procs)
        wm_loop_stop();
}

static void on_master_signal(int signum, void *ud)
{
    switch (signum) {
    case SIGINT:
    case SIGTERM:
        wm__master_stop(false);
        break;
    case SIGQUIT:
        wm__master_stop(true);
        break;
    case SIGUSR1:
        wm__master_reload(false);
        break;
    case SIGUSR2:
        wm__master_reload(true);
        break;
    default:
        break;
    }
}

/* ---- start ----------------------------------------------------------------------- */

wm__slot_t *wm__master_slot(int widx, int id)
{
    for (int i = 0; i < M.nslots; i++)
        if (M.slots[i].widx == widx && M.slots[i].id == id)
            return &M.slots[i];
    return NULL;
}

static int bind_all(void)
{
    int n = 0;
    for (wm_worker_t *w = wm__workers(); w; w = w->next) {
        n += w->count;
        /* reuse_port workers bind in each process; check the address here
         * anyway so a mistake is reported before anything starts. */
        int rc = wm_worker_listen(w);
        if (rc != WM_OK)
            return rc;
        if (w->reuse_port) {
            close(w->fd);
            w->fd = -1;
            w->listening = false;
        }
    }
    M.slots = calloc((size_t)n, sizeof *M.slots);
    if (!M.slots)
        return WM_ENOMEM;
    int widx = 0;
    for (wm_worker_t *w = wm__workers(); w; w = w->next, widx++)
        for (int id = 0; id < w->count; id++)
            M.slots[M.nslots++] = (wm__slot_t){.widx = widx, .id = id};
    return WM_OK;
}

/* Every process reported ready once: tell whoever waits for `start -d`. */
static void report_started(const char *extra)
{
    if (M.ready_fd < 0)
        return;
    dprintf(M.ready_fd, "ok master pid %d, pid file %s%s\n", (int)getpid(),
            wm__settings()->pid_file, extra);
    close(M.ready_fd);
    M.ready_fd = -1;
}

void wm__master_on_ready(wm__proc_t *p)
{
    wm__slot_t *s = wm__master_slot(p->widx, p->id);
    if (s && s->current == p)
        s->ever_ready = true;
    wm__reload_on_ready(p);
    if (M.ready_fd < 0)
        return;
    for (int i = 0; i < M.nslots; i++)
        if (!M.slots[i].ever_ready)
            return;
    report_started("");
}

static void on_start_deadline(wm_timer_id_t tid, void *ud)
{
    report_started(" (some worker processes are not ready yet: see the log)");
}

static void watch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGUSR1, SIGUSR2, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        wm_signal_add(sigs[i], on_master_signal, NULL);
    wm_signal_add(SIGCHLD, on_sigchld, NULL);
}

static void master_cleanup(void)
{
    wm__query_close();
    char path[4200];
    wm__ctl_path(path, sizeof path);
    unlink(path);
    if (wm__pidfile_read(wm__settings()->pid_file) == getpid())
        unlink(wm__settings()->pid_file);
    while (M.exits) {
        wm__exit_stat_t *e = M.exits;
        M.exits = e->next;
        free(e);
    }
    free(M.slots);
}

/* Code before wm_run_all() runs again in every worker process; in the
 * master its timers and connections would run user callbacks, which the
 * master never does. Drop them, and say where they belong. */
static void drop_user_objects(void)
{
    size_t timers = wm_timer_count();
    if (timers) {
        wm_log_warn("master: %zu timer(s) made before wm_run_all() will not run in the master "
                    "(they run in each worker process; add them in on_worker_start instead)",
                    timers);
        wm_timer_del_all();
    }
    wm__conn_destroy_all();
}

int wm__master_run(int ready_fd)
{
    M.ready_fd = ready_fd;
    drop_user_objects();
    M.start_time = time(NULL);
    wm__proc_set_title("wm: master %s", wm__proc_exe());
    int rc = bind_all();
    if (rc == WM_OK)
        rc = wm__query_listen();
    if (rc == WM_OK)
        rc = wm__pidfile_write(wm__settings()->pid_file, getpid());
    if (rc != WM_OK) {
        if (ready_fd >= 0)
            dprintf(ready_fd, "%s (see the log)\n", wm_strerror(rc));
        master_cleanup();
        return 1;
    }
    watch_signals();
    wm_log_info("master %d: starting %d process(es); pid file %s", (int)getpid(), M.nslots,
                wm__settings()->pid_file);
    for (int i = 0; i < M.nslots; i++)
        slot_fill(&M.slots[i]);
    if (M.ready_fd >= 0)
        wm_timer_add(5000, false, on_start_deadline, NULL, NULL);
    while (!(M.stopping && !M.procs))
        if (wm_loop_run() != WM_OK)
            break;
    wm_log_info("master %d: stopped", (int)getpid());
    master_cleanup();
    return 0;
}
