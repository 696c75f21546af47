/* SPDX-License-Identifier: MIT */
/* Reload: replace every reloadable worker's processes, one at a time, with
 * the program now on disk. For each (worker, id) the master starts the new
 * process first and waits for its "ready" (it listens and on_worker_start
 * ran); only then is the old one told to drain. So every listener always has
 * a process accepting, and a new program that fails to start leaves the old
 * one serving. Non-reloadable workers get on_worker_reload instead. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "wm_proc.h"
#include "master_int.h"

static int *queue; /* slot indexes still to replace */
static int queued, next_up;
static bool running, graceful_now, again; /* again: a reload came in meanwhile */
static wm__proc_t *waiting_new, *waiting_old;
static wm_timer_id_t ready_timer;

static void step(void);

static void finish(void)
{
    running = false;
    free(queue);
    queue = NULL;
    queued = next_up = 0;
    wm_log_info("master: reload done");
    if (again && !M.stopping) {
        again = false;
        wm__master_reload(graceful_now);
    }
}

static void on_ready_timeout(wm_timer_id_t tid, void *ud)
{
    ready_timer = 0;
    wm__proc_t *p = waiting_new;
    if (!p)
        return;
    wm_log_error("reload: the new process %d of worker %s was not ready within 10 s; "
                 "stopping it and keeping the old one",
                 (int)p->pid, wm__worker_at(p->widx)->name);
    wm__slot_t *s = wm__master_slot(p->widx, p->id);
    if (s)
        s->current = waiting_old;
    p->retiring = true;
    kill(p->pid, SIGKILL);
    waiting_new = waiting_old = NULL;
    step();
}

/* Replaces the process of the next slot in the queue. */
static void step(void)
{
    while (next_up < queued && !M.stopping) {
        wm__slot_t *s = &M.slots[queue[next_up++]];
        waiting_old = s->current;
        waiting_new = wm__master_spawn(s->widx, s->id);
        if (!waiting_new)
            continue;
        s->current = waiting_new;
        ready_timer = wm_timer_add(10000, false, on_ready_timeout, NULL, NULL);
        return;
    }
    finish();
}

void wm__reload_on_ready(wm__proc_t *p)
{
    if (!running || p != waiting_new)
        return;
    if (ready_timer)
        wm_timer_del(ready_timer);
    ready_timer = 0;
    wm__proc_t *old = waiting_old;
    waiting_new = waiting_old = NULL;
    if (old) {
        const char *msg = graceful_now ? WM_CTL_RELOAD_GRACEFUL : WM_CTL_RELOAD;
        old->retiring = true;
        if (old->ctl)
            wm_conn_send(old->ctl, msg, strlen(msg));
        else
            kill(old->pid, graceful_now ? SIGUSR2 : SIGUSR1);
    }
    step();
}

bool wm__reload_on_exit(wm__proc_t *p)
{
    if (!running)
        return false;
    if (p == waiting_new) {
        /* The new program died before it was ready: keep the old one. */
        wm__slot_t *s = wm__master_slot(p->widx, p->id);
        wm_log_error("reload: the new process %d of worker %s died before it was ready; "
                     "keeping the old one",
                     (int)p->pid, wm__worker_at(p->widx)->name);
        if (s && waiting_old)
            s->current = waiting_old;
        if (ready_timer)
            wm_timer_del(ready_timer);
        ready_timer = 0;
        waiting_new = waiting_old = NULL;
        step();
        return true;
    }
    if (p == waiting_old)
        waiting_old = NULL; /* it died meanwhile; the new one takes over */
    return false;
}

void wm__reload_cancel(void)
{
    if (ready_timer)
        wm_timer_del(ready_timer);
    ready_timer = 0;
    waiting_new = waiting_old = NULL;
    running = false;
    free(queue);
    queue = NULL;
    queued = next_up = 0;
}

static void notify_non_reloadable(void)
{
    for (wm__proc_t *p = M.procs; p; p = p->next) {
        wm_worker_t *w = wm__worker_at(p->widx);
        if (w && !w->reloadable && !p->retiring && p->ctl)
            wm_conn_send(p->ctl, WM_CTL_RELOAD, strlen(WM_CTL_RELOAD));
    }
}

void wm__master_reload(bool graceful)
{
    if (M.stopping)
        return;
    if (running) {
        again = true; /* after this one, run another with the newest code */
        graceful_now = graceful;
        return;
    }
    queue = malloc((size_t)(M.nslots ? M.nslots : 1) * sizeof *queue);
    if (!queue) {
        wm_log_error("master: reload: out of memory");
        return;
    }
    for (int i = 0; i < M.nslots; i++) {
        wm_worker_t *w = wm__worker_at(M.slots[i].widx);
        if (w && w->reloadable)
            queue[queued++] = i;
    }
    wm_log_info("master: reload%s of %d process(es) from %s", graceful ? " -g" : "", queued,
                wm__proc_exe());
    running = true;
    graceful_now = graceful;
    notify_non_reloadable();
    step();
}
