/* SPDX-License-Identifier: MIT */
/* Private: the monitor's state and the small interface its backends
 * (fm_inotify.c, fm_poll.c) implement, as redis's ae_epoll.c / ae_select.c
 * sit behind ae.c. The core (fm_core.c) owns the roots, the patterns and
 * the set of pending changes; a backend only finds changes and reports each
 * with wm__fm_record(). */
#ifndef WM_FM_INT_H
#define WM_FM_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wm/filemonitor.h"

/* A watched directory tree, as the user named it. */
typedef struct wm__fm_root {
    char *path; /* without a trailing slash ("/" stays "/") */
    struct wm__fm_root *next;
} wm__fm_root_t;

typedef struct wm__fm_backend {
    const char *name;
    /* Allocates the backend's state in fm->be_state. WM_OK or WM_E*. */
    int (*init)(wm_fm_t *fm);
    /* Starts watching `r` (already on fm->roots): files already there are
     * not reported. WM_OK or a negated errno (-ENOSPC: watch limit). */
    int (*add_root)(wm_fm_t *fm, wm__fm_root_t *r);
    size_t (*dir_count)(const wm_fm_t *fm);
    /* Frees the state; no callback runs after. */
    void (*destroy)(wm_fm_t *fm);
} wm__fm_backend_t;

extern const wm__fm_backend_t wm__fm_inotify;
extern const wm__fm_backend_t wm__fm_poll;

/* One pending change, before it is merged and reported. */
typedef struct wm__fm_pending {
    const wm__fm_root_t *root;
    char *rel;
    unsigned what;
    bool is_dir;
} wm__fm_pending_t;

struct wm_fm {
    wm_fm_opts_t opts;
    wm_fm_change_cb cb;
    void *user_data;
    const wm__fm_backend_t *be;
    void *be_state;
    wm__fm_root_t *roots;
    char **includes, **excludes;
    size_t n_includes, n_excludes;
    wm__fm_pending_t *pending;
    size_t n_pending, cap_pending;
    struct event *debounce_ev;
    bool in_callback, free_requested;
    char error[512];
};

/* Whether a directory (relative path, "" for the root) is walked and
 * watched: no exclude pattern matches it. */
bool wm__fm_dir_wanted(const wm_fm_t *fm, const char *rel);
/* Whether changes of a file are reported: no exclude matches and an
 * include does (or there is none). */
bool wm__fm_file_wanted(const wm_fm_t *fm, const char *rel);
/* A backend saw `what` happen to root/rel: filtered, added to the pending
 * set, and the debounce window starts again. */
void wm__fm_record(wm_fm_t *fm, const wm__fm_root_t *root, const char *rel, unsigned what,
                   bool is_dir);
/* "dir/name" (or "name" when dir is ""), malloc'd; NULL when out of memory. */
char *wm__fm_join(const char *dir, const char *name);
/* Sets the last error text and logs it. */
void wm__fm_error(wm_fm_t *fm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* fm_inotify.c: inotify_add_watch, replaceable by tests to simulate the
 * watch limit (ENOSPC) without changing the system's settings. */
extern int (*wm__fm_add_watch)(int fd, const char *path, uint32_t mask);
/* The watch-limit message for `dir`, naming the current limit (read from
 * `limit_file`, /proc/sys/fs/inotify/max_user_watches), into buf. */
void wm__fm_watch_limit_text(char *buf, size_t len, const char *dir, const char *limit_file);

#endif
