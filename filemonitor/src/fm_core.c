/* SPDX-License-Identifier: MIT */
/* The file monitor's core: roots, include/exclude patterns, and the set of
 * pending changes that a backend fills and the debounce timer reports in one
 * callback once the tree has been quiet for the window. The set is kept as
 * an append-only array, sorted and merged when reported (or when it grows
 * large during a long burst), which is cheaper than a hash for the usual
 * handful of paths and bounds memory when one file is written many times. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "fm_int.h"

#define WM_FM_COMPACT_AT 4096 /* pending entries before a merge mid-burst */

/* Editors' scratch files: vim's swap files and its "4913" write test,
 * backups ending in ~, emacs lock files. */
static const char *const default_excludes[] = {"*.swp", "*.swx", "*~", ".#*", "4913", NULL};

/* ---- errors and paths ------------------------------------------------------ */

void wm__fm_error(wm_fm_t *fm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fm->error, sizeof fm->error, fmt, ap);
    va_end(ap);
    wm_log_error("filemonitor: %s", fm->error);
}

char *wm__fm_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *s = malloc(dl + nl + 2);
    if (!s)
        return NULL;
    if (dl) {
        memcpy(s, dir, dl);
        s[dl++] = '/';
    }
    memcpy(s + dl, name, nl + 1);
    return s;
}

/* ---- patterns ------------------------------------------------------------------ */

/* gitignore-style: a trailing slash matches directories only; a pattern
 * with a slash matches the whole relative path, one without matches the
 * last component at any depth. */
static bool pattern_match(const char *pat, const char *rel, bool is_dir)
{
    char buf[1024];
    size_t n = strlen(pat);
    if (n && pat[n - 1] == '/') {
        if (!is_dir)
            return false;
        n--;
    }
    if (n >= sizeof buf)
        return false;
    memcpy(buf, pat, n);
    buf[n] = '\0';
    const char *p = buf[0] == '/' ? buf + 1 : buf;
    if (strchr(p, '/'))
        return fnmatch(p, rel, FNM_PATHNAME | FNM_PERIOD) == 0;
    const char *base = strrchr(rel, '/');
    return fnmatch(p, base ? base + 1 : rel, 0) == 0;
}

static bool any_match(char *const *pats, size_t n, const char *rel, bool is_dir)
{
    for (size_t i = 0; i < n; i++)
        if (pattern_match(pats[i], rel, is_dir))
            return true;
    return false;
}

bool wm__fm_dir_wanted(const wm_fm_t *fm, const char *rel)
{
    return !*rel || !any_match(fm->excludes, fm->n_excludes, rel, true);
}

bool wm__fm_file_wanted(const wm_fm_t *fm, const char *rel)
{
    if (any_match(fm->excludes, fm->n_excludes, rel, false))
        return false;
    return !fm->n_includes || any_match(fm->includes, fm->n_includes, rel, false);
}

static int add_pattern(char ***list, size_t *n, const char *pattern)
{
    if (!pattern || !*pattern)
        return WM_EINVAL;
    char **grown = realloc(*list, (*n + 1) * sizeof **list);
    if (!grown)
        return WM_ENOMEM;
    *list = grown;
    if (!(grown[*n] = strdup(pattern)))
        return WM_ENOMEM;
    (*n)++;
    return WM_OK;
}

int wm_fm_include(wm_fm_t *fm, const char *pattern)
{
    return add_pattern(&fm->includes, &fm->n_includes, pattern);
}

int wm_fm_exclude(wm_fm_t *fm, const char *pattern)
{
    return add_pattern(&fm->excludes, &fm->n_excludes, pattern);
}

/* ---- the pending set ------------------------------------------------------------- */

static int pending_cmp(const void *a, const void *b)
{
    const wm__fm_pending_t *x = a, *y = b;
    if (x->root != y->root)
        return x->root < y->root ? -1 : 1;
    return strcmp(x->rel, y->rel);
}

/* Sorts the set and merges entries for the same path (their bits OR'ed). */
static void pending_compact(wm_fm_t *fm)
{
    if (fm->n_pending < 2)
        return;
    qsort(fm->pending, fm->n_pending, sizeof *fm->pending, pending_cmp);
    size_t out = 0;
    for (size_t i = 1; i < fm->n_pending; i++) {
        wm__fm_pending_t *last = &fm->pending[out], *e = &fm->pending[i];
        if (pending_cmp(last, e) == 0) {
            last->what |= e->what;
            last->is_dir = e->is_dir;
            free(e->rel);
        } else {
            fm->pending[++out] = *e;
        }
    }
    fm->n_pending = out + 1;
}

static void pending_clear(wm__fm_pending_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].rel);
    free(p);
}

static int pending_add(wm_fm_t *fm, const wm__fm_root_t *root, const char *rel, unsigned what,
                       bool is_dir)
{
    if (fm->n_pending >= WM_FM_COMPACT_AT && fm->n_pending == fm->cap_pending)
        pending_compact(fm);
    if (fm->n_pending == fm->cap_pending) {
        size_t cap = fm->cap_pending ? fm->cap_pending * 2 : 16;
        wm__fm_pending_t *grown = realloc(fm->pending, cap * sizeof *grown);
        if (!grown)
            return WM_ENOMEM;
        fm->pending = grown;
        fm->cap_pending = cap;
    }
    char *copy = strdup(rel);
    if (!copy)
        return WM_ENOMEM;
    fm->pending[fm->n_pending++] = (wm__fm_pending_t){root, copy, what, is_dir};
    return WM_OK;
}

void wm__fm_record(wm_fm_t *fm, const wm__fm_root_t *root, const char *rel, unsigned what,
                   bool is_dir)
{
    bool wanted = is_dir ? wm__fm_dir_wanted(fm, rel) : wm__fm_file_wanted(fm, rel);
    if (!wanted || !*rel)
        return;
    if (pending_add(fm, root, rel, what, is_dir) != WM_OK) {
        wm_log_error("filemonitor: out of memory recording a change of %s/%s", root->path, rel);
        return;
    }
    struct timeval tv = {(time_t)(fm->opts.debounce_ms / 1000),
                         (suseconds_t)(fm->opts.debounce_ms % 1000) * 1000};
    evtimer_add(fm->debounce_ev, &tv); /* re-adding a pending timer restarts it */
}

static void monitor_release(wm_fm_t *fm);

/* The window passed with no new change: report the set. */
static void on_debounce(evutil_socket_t fd, short what, void *arg)
{
    wm_fm_t *fm = arg;
    pending_compact(fm);
    wm__fm_pending_t *batch = fm->pending;
    size_t n = fm->n_pending;
    fm->pending = NULL;
    fm->n_pending = fm->cap_pending = 0;
    wm_fm_change_t *changes = calloc(n ? n : 1, sizeof *changes);
    size_t ok = 0;
    for (size_t i = 0; changes && i < n; i++) {
        char *path = wm__fm_join(batch[i].root->path, batch[i].rel);
        if (path)
            changes[ok++] = (wm_fm_change_t){path, batch[i].what, batch[i].is_dir};
    }
    if (ok && fm->cb) {
        fm->in_callback = true;
        fm->cb(fm, changes, ok, fm->user_data);
        fm->in_callback = false;
    }
    for (size_t i = 0; i < ok; i++)
        free((char *)changes[i].path);
    free(changes);
    pending_clear(batch, n);
    if (fm->free_requested)
        monitor_release(fm);
}

/* ---- the monitor ------------------------------------------------------------------ */

static int backend_start(wm_fm_t *fm, const wm__fm_backend_t *be)
{
    fm->be = be;
    int rc = be->init(fm);
    if (rc != WM_OK)
        fm->be = NULL;
    return rc;
}

wm_fm_t *wm_fm_new(const wm_fm_opts_t *opts, wm_fm_change_cb cb, void *user_data)
{
    struct event_base *base = wm_loop_base();
    wm_fm_t *fm = base ? calloc(1, sizeof *fm) : NULL;
    if (!fm)
        return NULL;
    if (opts)
        fm->opts = *opts;
    if (!fm->opts.debounce_ms)
        fm->opts.debounce_ms = WM_FM_DEFAULT_DEBOUNCE_MS;
    if (!fm->opts.poll_interval_ms)
        fm->opts.poll_interval_ms = WM_FM_DEFAULT_POLL_MS;
    fm->cb = cb;
    fm->user_data = user_data;
    fm->debounce_ev = evtimer_new(base, on_debounce, fm);
    if (!fm->debounce_ev)
        goto fail;
    if (!(fm->opts.flags & WM_FM_NO_DEFAULT_EXCLUDES))
        for (const char *const *p = default_excludes; *p; p++)
            if (wm_fm_exclude(fm, *p) != WM_OK)
                goto fail;
    int rc = WM_OK;
    if (fm->opts.backend == WM_FM_BACKEND_POLL) {
        rc = backend_start(fm, &wm__fm_poll);
    } else if ((rc = backend_start(fm, &wm__fm_inotify)) != WM_OK &&
               fm->opts.backend == WM_FM_BACKEND_AUTO) {
        wm_log_warn("filemonitor: inotify is not available (%s): polling every %llu ms instead",
                    fm->error, (unsigned long long)fm->opts.poll_interval_ms);
        rc = backend_start(fm, &wm__fm_poll);
    }
    if (rc != WM_OK)
        goto fail;
    return fm;
fail:
    monitor_release(fm);
    return NULL;
}

/* Inotify hit its watch limit under WM_FM_BACKEND_AUTO: watch every root by
 * polling instead, so the program still sees every change. */
static int switch_to_polling(wm_fm_t *fm)
{
    wm_log_warn("filemonitor: switching to the polling backend (every %llu ms)",
                (unsigned long long)fm->opts.poll_interval_ms);
    fm->be->destroy(fm);
    int rc = backend_start(fm, &wm__fm_poll);
    for (wm__fm_root_t *r = fm->roots; r && rc == WM_OK; r = r->next)
        rc = fm->be->add_root(fm, r);
    return rc;
}

int wm_fm_watch_add(wm_fm_t *fm, const char *dir)
{
    if (!dir || !*dir)
        return WM_EINVAL;
    wm__fm_root_t *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(dir))) {
        free(r);
        return WM_ENOMEM;
    }
    size_t n = strlen(r->path);
    while (n > 1 && r->path[n - 1] == '/')
        r->path[--n] = '\0';
    wm__fm_root_t **tail = &fm->roots;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    int rc = fm->be->add_root(fm, r);
    if (rc == -ENOSPC && fm->be == &wm__fm_inotify && fm->opts.backend == WM_FM_BACKEND_AUTO)
        rc = switch_to_polling(fm);
    if (rc != WM_OK && rc != -ENOSPC) {
        *tail = NULL; /* not watched at all */
        free(r->path);
        free(r);
    }
    return rc;
}

static void monitor_release(wm_fm_t *fm)
{
    if (fm->be)
        fm->be->destroy(fm);
    if (fm->debounce_ev)
        event_free(fm->debounce_ev);
    pending_clear(fm->pending, fm->n_pending);
    while (fm->roots) {
        wm__fm_root_t *r = fm->roots;
        fm->roots = r->next;
        free(r->path);
        free(r);
    }
    for (size_t i = 0; i < fm->n_includes; i++)
        free(fm->includes[i]);
    for (size_t i = 0; i < fm->n_excludes; i++)
        free(fm->excludes[i]);
    free(fm->includes);
    free(fm->excludes);
    free(fm);
}

void wm_fm_free(wm_fm_t *fm)
{
    if (!fm)
        return;
    if (fm->in_callback) {
        /* The callback's change list is still in use: free on return. */
        fm->free_requested = true;
        fm->cb = NULL;
        return;
    }
    monitor_release(fm);
}

const char *wm_fm_backend_name(const wm_fm_t *fm)
{
    return fm->be ? fm->be->name : "none";
}

size_t wm_fm_dir_count(const wm_fm_t *fm)
{
    return fm->be ? fm->be->dir_count(fm) : 0;
}

const char *wm_fm_last_error(const wm_fm_t *fm)
{
    return fm->error;
}
