/* SPDX-License-Identifier: MIT */
/* Private: the process model (master, worker processes, the command line)
 * shared by proc.c, master.c, wproc.c, cli.c and runall.c. */
#ifndef WM_PROC_H
#define WM_PROC_H

#include <stdarg.h>
#include <sys/types.h>

#include "wm_int.h"

/* Environment a worker process is started with by its master. */
#define WM_ENV_WORKER "WM_WORKER"   /* "<index>:<id>:<listen fd|-1>:<ctl fd>" */
#define WM_ENV_SETTINGS "WM_MASTER" /* "<master pid>" */

/* Exit status of a worker that cannot become its user. */
#define WM_EXIT_CONFIG 78

/* Settings (runall.c). */
typedef struct wm__settings {
    char pid_file[4096];
    char log_file[4096];
    char stdout_file[4096];
    uint64_t stop_timeout_ms;
    uint64_t memory_limit; /* bytes of RSS a worker process may use; 0: no limit */
    bool daemon;           /* start -d */
} wm__settings_t;
wm__settings_t *wm__settings(void);
/* "<pid file>.sock": the master's control socket. */
void wm__ctl_path(char *buf, size_t len);

/* proc.c */
int wm__proc_init(void);
const char *wm__proc_exe(void);
char **wm__proc_argv(void);
/* The master's title, written over its own command line (ps shows it).
 * Only for the master: it runs no program code after start, so nothing
 * reads the option strings it overwrites. */
void wm__proc_set_title(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The short name top shows (15 characters). */
void wm__proc_set_comm(const char *name);
/* Whether `pid` runs (a zombie that has exited does not). */
bool wm__proc_alive(pid_t pid);
pid_t wm__pidfile_read(const char *path);
int wm__pidfile_write(const char *path, pid_t pid);
int wm__proc_daemonize(int *ready_fd);
int wm__proc_redirect_stdio(const char *stdout_file);

/* master.c: runs the master; returns the exit status. */
int wm__master_run(int ready_fd);

/* wproc.c: runs worker number `index` with the inherited fds; returns the
 * exit status. */
int wm__worker_process_run(const char *spec, pid_t master_pid);
/* Counters a worker process reports in `status`. */
void wm__stats_request(void);
void wm__stats_send_failure(void);

/* cli.c: the commands that talk to a running master. */
int wm__cli_stop(bool graceful, bool quiet);
int wm__cli_reload(bool graceful);
int wm__cli_query(const char *what, bool json, bool repeat);

/* The control messages (frame protocol, text bodies). */
#define WM_CTL_READY "ready"
#define WM_CTL_STATUS "status"
#define WM_CTL_CONNECTIONS "connections"
#define WM_CTL_STOP "stop"
#define WM_CTL_STOP_GRACEFUL "stop-g"
#define WM_CTL_RELOAD "reload"
#define WM_CTL_RELOAD_GRACEFUL "reload-g"

/* Adopts a connected stream socket as a connection (frame protocol, no
 * worker): used for the master<->worker channels. */
wm_conn_t *wm__conn_adopt(int fd, const wm_protocol_t *proto);
/* A worker not on the user's list: the master's control socket. */
wm_worker_t *wm__worker_new_hidden(const char *url);

#endif
