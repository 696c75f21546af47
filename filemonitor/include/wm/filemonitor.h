/* SPDX-License-Identifier: MIT */
/* FileMonitor: watch directory trees on the wm loop and get one callback per
 * burst of changes; plus the monitor worker, which rebuilds and reloads a
 * wm program when its sources change (the development loop).
 *
 * A monitor (wm_fm_t) watches one or more directories, recursively. New
 * directories are picked up as they appear (the files already in them are
 * reported), deleted ones are forgotten, and renames — including the
 * editors' save-by-rename (write a temporary file, rename it over the old
 * one) — are reported as changes of the paths involved. Changes are collected
 * in a set and reported once the tree has been quiet for the debounce window,
 * so a build writing a hundred files, or an editor's three-step save, makes
 * one callback.
 *
 * Backends: inotify (Linux; the default) or a stat walk every poll interval
 * comparing mtime, size and inode (for file systems without inotify: NFS,
 * some containers' bind mounts). Both report the same changes through the
 * same callback. Inotify's per-user watch limit is reported by name when hit.
 *
 * Patterns (wm_fm_include / wm_fm_exclude) are fnmatch(3) globs on the path
 * relative to the watched root, gitignore-style:
 *   "*.c"        no slash: matches the name at any depth
 *   "src/mod*.c" with a slash: matches the whole relative path (FNM_PATHNAME)
 *   "build/"     a trailing slash: only directories; the subtree is skipped
 * Excludes win over includes; with no include every file is included.
 * Editors' scratch files (*.swp, *.swx, *~, .#*, 4913) are excluded unless
 * WM_FM_NO_DEFAULT_EXCLUDES is set.
 *
 * Callbacks: the change callback runs on the loop, never from inside a
 * wm_fm_* call, once per burst; after wm_fm_free() it never runs again (the
 * changes still pending are dropped: a monitor has no requests to cancel).
 *
 * Ownership: strings passed in are copied. The change list given to the
 * callback is borrowed for the callback's duration. A monitor lives until
 * wm_fm_free(), which may be called from its own callback; wm_loop_free()
 * does not free it (free it first). `user_data` is borrowed. */
#ifndef WM_FILEMONITOR_H
#define WM_FILEMONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wm/wm.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct wm_fm wm_fm_t;

typedef enum wm_fm_backend {
    WM_FM_BACKEND_AUTO = 0, /* inotify; polling when inotify cannot start */
    WM_FM_BACKEND_INOTIFY = 1,
    WM_FM_BACKEND_POLL = 2
} wm_fm_backend_t;

/* What happened to a path during the burst (bits; a file written and then
 * deleted has both). Renames report the old path DELETED and the new one
 * CREATED (a save-by-rename: the saved file CREATED). */
#define WM_FM_CREATED 1u
#define WM_FM_MODIFIED 2u
#define WM_FM_DELETED 4u

/* Option flags. */
#define WM_FM_NO_DEFAULT_EXCLUDES 1u

#define WM_FM_DEFAULT_DEBOUNCE_MS 200
#define WM_FM_DEFAULT_POLL_MS 1000

/* Settings for wm_fm_new; a zeroed struct (or NULL) gives the defaults. */
typedef struct wm_fm_opts {
    wm_fm_backend_t backend;
    uint64_t debounce_ms;      /* quiet time before the callback; 0: 200 */
    uint64_t poll_interval_ms; /* polling backend's walk period; 0: 1000 */
    unsigned flags;            /* WM_FM_NO_DEFAULT_EXCLUDES */
} wm_fm_opts_t;

/* One changed path: the watched root as given, "/", the relative path. */
typedef struct wm_fm_change {
    const char *path;
    unsigned what; /* WM_FM_CREATED | WM_FM_MODIFIED | WM_FM_DELETED */
    bool is_dir;
} wm_fm_change_t;

/* Runs on the loop once per burst, with the `n` distinct changed paths
 * (sorted by path). `changes` is borrowed until the callback returns. The
 * monitor may be freed inside. */
typedef void (*wm_fm_change_cb)(wm_fm_t *fm, const wm_fm_change_t *changes, size_t n,
                                void *user_data);

/* Makes a monitor (nothing is watched yet). `opts` is copied; NULL means
 * defaults. Returns NULL when out of memory or when the inotify backend was
 * asked for and cannot start (the reason is logged). */
wm_fm_t *wm_fm_new(const wm_fm_opts_t *opts, wm_fm_change_cb cb, void *user_data);

/* Stops watching and frees the monitor; pending changes are dropped. Safe
 * inside the monitor's callback. NULL is ignored. */
void wm_fm_free(wm_fm_t *fm);

/* Adds an include or exclude pattern (copied; see the header comment). Call
 * before wm_fm_watch_add: directories already skipped are not revisited.
 * Returns WM_OK, WM_EINVAL for an empty pattern, or WM_ENOMEM. */
int wm_fm_include(wm_fm_t *fm, const char *pattern);
int wm_fm_exclude(wm_fm_t *fm, const char *pattern);

/* Watches the directory tree at `dir` (copied). Returns WM_OK, a negated
 * errno (WM_ENOENT, -ENOTDIR, …), or -ENOSPC when inotify's watch limit was
 * hit: the message, in wm_fm_last_error() and the log, names the limit
 * ("raise fs.inotify.max_user_watches (now N) or use the polling
 * backend"); the directories watched before the limit stay watched. With
 * WM_FM_BACKEND_AUTO the monitor instead switches to polling for every root
 * and returns WM_OK. */
int wm_fm_watch_add(wm_fm_t *fm, const char *dir);

/* Facts. */
const char *wm_fm_backend_name(const wm_fm_t *fm); /* "inotify" or "poll" */
/* Directories under watch (inotify watches, or directories walked). */
size_t wm_fm_dir_count(const wm_fm_t *fm);
/* The last error's text, "" when none. Borrowed until the next call. */
const char *wm_fm_last_error(const wm_fm_t *fm);

/* ---- The monitor worker -------------------------------------------------- */

/* Settings for wm_fm_add_monitor_worker. Strings and arrays are copied. */
typedef struct wm_fm_monitor_opts {
    const char *const *paths;    /* directories to watch, NULL-terminated */
    const char *const *includes; /* patterns, NULL-terminated, or NULL */
    const char *const *excludes; /* patterns, NULL-terminated, or NULL */
    /* Run with /bin/sh -c on a change, e.g. "cmake --build build"; its
     * output is logged line by line. NULL: reload without building. A
     * change during a build queues one more build. A build that fails
     * (non-zero exit) is logged with its status and does not reload. */
    const char *build_command;
    wm_fm_opts_t watch;    /* backend, debounce, poll interval */
    bool graceful;         /* reload -g (default: a plain reload) */
    bool force;            /* run even when the program is a daemon */
    uint64_t memory_limit; /* bytes: wm_set_memory_limit(); 0: none */
    const char *name;      /* worker name; NULL: "filemonitor" */
} wm_fm_monitor_opts_t;

/* Adds the monitor worker to the program: one process, listening on
 * nothing, not reloadable (it keeps watching through the reloads it
 * causes). On each burst of changes it runs the build command, without
 * blocking its loop, and when the build succeeds asks its master for a
 * reload (wm_reload_request) — which starts the rebuilt program from disk.
 * When the program runs as a daemon (start -d) the worker is not added
 * unless `force`: it is a development tool. Call it before wm_run_all(),
 * in code that runs in every process (as for any worker). Returns the
 * worker, or NULL when it was not added (daemon, bad options: logged). */
wm_worker_t *wm_fm_add_monitor_worker(const wm_fm_monitor_opts_t *opts);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
