/* SPDX-License-Identifier: MIT */
/* Private: the master's state, shared by master.c, reload.c and query.c. */
#ifndef WM_MASTER_INT_H
#define WM_MASTER_INT_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "wm_int.h"

/* One child process. */
typedef struct wm__proc {
    pid_t pid;
    int widx, id;
    uint64_t started_ms;
    wm_conn_t *ctl; /* the socketpair to it */
    bool ready;     /* it sent "ready" */
    bool retiring;  /* replaced by a reload: draining, then gone */
    struct wm__proc *next;
} wm__proc_t;

/* One (worker, id) place that must always have a process. */
typedef struct wm__slot {
    int widx, id;
    wm__proc_t *current;
    uint64_t backoff_ms;
    wm_timer_id_t respawn_timer;
    bool ever_ready;
} wm__slot_t;

/* How processes of a worker ended: "exit 0" x3, "signal 9" x1. */
typedef struct wm__exit_stat {
    int widx, kind, code; /* kind 0: exit status, 1: signal */
    unsigned long count;
    struct wm__exit_stat *next;
} wm__exit_stat_t;

typedef struct wm__master {
    wm__proc_t *procs;
    wm__slot_t *slots;
    int nslots;
    wm__exit_stat_t *exits;
    bool stopping, graceful;
    wm_timer_id_t stop_timer;
    int ready_fd;
    time_t start_time;
} wm__master_t;

extern wm__master_t M;

wm__proc_t *wm__master_spawn(int widx, int id);
wm__proc_t *wm__master_find_pid(pid_t pid);
wm__slot_t *wm__master_slot(int widx, int id);
void wm__master_on_ready(wm__proc_t *p);
void wm__master_stop(bool graceful);

/* reload.c */
void wm__master_reload(bool graceful);
void wm__reload_cancel(void);
void wm__reload_on_ready(wm__proc_t *p);
/* Returns true when `p` was a reload's new process, now replaced by the old. */
bool wm__reload_on_exit(wm__proc_t *p);

/* query.c: the control socket, status and connections. */
int wm__query_listen(void);
void wm__query_close(void);
void wm__query_on_reply(wm__proc_t *p, const char *data, size_t len);

#endif
