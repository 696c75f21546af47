/* SPDX-License-Identifier: MIT */
/* The inotify backend: one watch per directory (inotify is not recursive),
 * read on the wm loop. The table maps watch descriptors to directories; the
 * kernel hands them out in increasing order per instance, so a plain array
 * indexed by wd stays small.
 *
 * Races the kernel leaves to us:
 *   - a directory created and filled before its watch exists: every new
 *     directory is scanned right after its watch is added and what is found
 *     is reported as created (a file may then be reported twice; the core's
 *     set merges it);
 *   - a directory moved within the tree keeps its watches under the old
 *     path: on IN_MOVED_FROM we drop the watches of the subtree, and the
 *     IN_MOVED_TO that follows (if it stays in the tree) watches it afresh;
 *   - the event queue overflowing (IN_Q_OVERFLOW): reported as a change of
 *     each root, since what was lost is unknown. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "fm_int.h"

#define WM_FM_MASK                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVED_FROM |              \
     IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define WM_FM_READ_BUDGET 64 /* reads of the inotify fd per wakeup */
#define WM_FM_LIMIT_FILE "/proc/sys/fs/inotify/max_user_watches"

typedef struct idir {
    wm__fm_root_t *root; /* NULL: a free slot */
    char *rel;
} idir_t;

typedef struct istate {
    int fd;
    struct event *ev;
    idir_t *dirs; /* indexed by wd */
    size_t cap, live;
    bool limit_hit; /* the watch-limit message was given */
} istate_t;

static int real_add_watch(int fd, const char *path, uint32_t mask)
{
    return inotify_add_watch(fd, path, mask);
}

int (*wm__fm_add_watch)(int fd, const char *path, uint32_t mask) = real_add_watch;

void wm__fm_watch_limit_text(char *buf, size_t len, const char *dir, const char *limit_file)
{
    char now[32] = "unknown";
    FILE *f = fopen(limit_file, "re");
    if (f) {
        if (!fgets(now, sizeof now, f))
            snprintf(now, sizeof now, "unknown");
        now[strcspn(now, "\n")] = '\0';
        fclose(f);
    }
    snprintf(
        buf, len,
        "cannot watch %s: the inotify watch limit is reached; raise "
        "fs.inotify.max_user_watches (now %s), e.g. sysctl fs.inotify.max_user_watches=524288, "
        "or use the polling backend",
        dir, now);
}

/* ---- the wd table --------------------------------------------------------------- */

static idir_t *dir_at(istate_t *st, int wd)
{
    return wd >= 0 && (size_t)wd < st->cap && st->dirs[wd].root ? &st->dirs[wd] : NULL;
}

static int dir_put(istate_t *st, int wd, wm__fm_root_t *root, const char *rel)
{
    if ((size_t)wd >= st->cap) {
        size_t cap = st->cap ? st->cap : 64;
        while (cap <= (size_t)wd)
            cap *= 2;
        idir_t *grown = realloc(st->dirs, cap * sizeof *grown);
        if (!grown)
            return WM_ENOMEM;
        memset(grown + st->cap, 0, (cap - st->cap) * sizeof *grown);
        st->dirs = grown;
        st->cap = cap;
    }
    char *copy = strdup(rel);
    if (!copy)
        return WM_ENOMEM;
    idir_t *d = &st->dirs[wd];
    if (d->root) /* the same directory again (a hard-linked or re-added path) */
        free(d->rel);
    else
        st->live++;
    d->root = root;
    d->rel = copy;
    return WM_OK;
}

static void dir_forget(istate_t *st, int wd)
{
    idir_t *d = dir_at(st, wd);
    if (!d)
        return;
    free(d->rel);
    d->rel = NULL;
    d->root = NULL;
    st->live--;
}

/* A directory left the tree (moved away): stop watching it and everything
 * under it. */
static void forget_subtree(istate_t *st, const wm__fm_root_t *root, const char *rel)
{
    size_t n = strlen(rel);
    for (size_t wd = 0; wd < st->cap; wd++) {
        idir_t *d = &st->dirs[wd];
        if (d->root != root || strncmp(d->rel, rel, n) != 0 || (d->rel[n] && d->rel[n] != '/'))
            continue;
        inotify_rm_watch(st->fd, (int)wd);
        dir_forget(st, (int)wd);
    }
}

/* ---- watching a tree ------------------------------------------------------------------ */

static bool entry_is_dir(const char *dirpath, const struct dirent *e)
{
    if (e->d_type != DT_UNKNOWN)
        return e->d_type == DT_DIR;
    struct stat s;
    char *p = wm__fm_join(dirpath, e->d_name);
    bool dir = p && lstat(p, &s) == 0 && S_ISDIR(s.st_mode);
    free(p);
    return dir;
}

static int watch_tree(wm_fm_t *fm, wm__fm_root_t *root, const char *rel, bool report);

/* Walks the directory just watched; with `report`, what is in it is new. */
static int scan_dir(wm_fm_t *fm, wm__fm_root_t *root, const char *rel, const char *full,
                    bool report)
{
    DIR *d = opendir(full);
    if (!d)
        return WM_OK; /* gone already: its parent's events say so */
    int rc = WM_OK;
    struct dirent *e;
    while (rc == WM_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *sub = wm__fm_join(rel, e->d_name);
        if (!sub) {
            rc = WM_ENOMEM;
            break;
        }
        bool is_dir = entry_is_dir(full, e);
        if (report)
            wm__fm_record(fm, root, sub, WM_FM_CREATED, is_dir);
        if (is_dir && wm__fm_dir_wanted(fm, sub))
            rc = watch_tree(fm, root, sub, report);
        free(sub);
    }
    closedir(d);
    return rc;
}

static int watch_tree(wm_fm_t *fm, wm__fm_root_t *root, const char *rel, bool report)
{
    istate_t *st = fm->be_state;
    char *full = *rel ? wm__fm_join(root->path, rel) : strdup(root->path);
    if (!full)
        return WM_ENOMEM;
    int rc = WM_OK;
    int wd = wm__fm_add_watch(st->fd, full, WM_FM_MASK);
    if (wd < 0) {
        rc = -errno;
        if (rc == -ENOSPC) {
            if (!st->limit_hit) {
                char msg[sizeof fm->error];
                wm__fm_watch_limit_text(msg, sizeof msg, full, WM_FM_LIMIT_FILE);
                wm__fm_error(fm, "%s", msg);
            }
            st->limit_hit = true;
        } else if (*rel && (rc == -ENOENT || rc == -ENOTDIR)) {
            rc = WM_OK; /* removed (or replaced by a file) before we got to it */
        } else {
            wm__fm_error(fm, "cannot watch %s: %s", full, wm_strerror(rc));
            if (*rel)
                rc = WM_OK; /* one unreadable subdirectory does not stop the rest */
        }
    } else if ((rc = dir_put(st, wd, root, rel)) == WM_OK) {
        rc = scan_dir(fm, root, rel, full, report);
    }
    free(full);
    return rc;
}

/* ---- events --------------------------------------------------------------------------- */

static void on_dir_event(wm_fm_t *fm, idir_t *d, const char *rel, uint32_t mask)
{
    istate_t *st = fm->be_state;
    wm__fm_root_t *root = d->root;
    if (mask & (IN_CREATE | IN_MOVED_TO)) {
        wm__fm_record(fm, root, rel, WM_FM_CREATED, true);
        if (wm__fm_dir_wanted(fm, rel))
            watch_tree(fm, root, rel, true);
    } else if (mask & (IN_DELETE | IN_MOVED_FROM)) {
        wm__fm_record(fm, root, rel, WM_FM_DELETED, true);
        if (mask & IN_MOVED_FROM)
            forget_subtree(st, root, rel);
    }
}

static void on_event(wm_fm_t *fm, const struct inotify_event *ev)
{
    istate_t *st = fm->be_state;
    if (ev->mask & IN_Q_OVERFLOW) {
        wm_log_warn("filemonitor: inotify's queue overflowed; some changes were lost");
        for (wm__fm_root_t *r = fm->roots; r; r = r->next)
            wm__fm_record(fm, r, ".", WM_FM_MODIFIED, true);
        return;
    }
    idir_t *d = dir_at(st, ev->wd);
    if (!d)
        return; /* a watch we dropped (moved away) still had events queued */
    if (ev->mask & IN_IGNORED) {
        dir_forget(st, ev->wd); /* the directory was deleted */
        return;
    }
    if (!ev->len)
        return; /* about the directory itself: its parent reports it */
    char *rel = wm__fm_join(d->rel, ev->name);
    if (!rel)
        return;
    if (ev->mask & IN_ISDIR)
        on_dir_event(fm, d, rel, ev->mask);
    else if (ev->mask & (IN_CREATE | IN_MOVED_TO))
        wm__fm_record(fm, d->root, rel, WM_FM_CREATED, false);
    else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
        wm__fm_record(fm, d->root, rel, WM_FM_DELETED, false);
    else
        wm__fm_record(fm, d->root, rel, WM_FM_MODIFIED, false);
    free(rel);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    wm_fm_t *fm = arg;
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (int i = 0; i < WM_FM_READ_BUDGET; i++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break; /* EAGAIN: drained */
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            on_event(fm, ev);
            p += sizeof *ev + ev->len;
        }
    }
}

/* ---- the backend ------------------------------------------------------------------------ */

static int inotify_init_state(wm_fm_t *fm)
{
    istate_t *st = calloc(1, sizeof *st);
    if (!st)
        return WM_ENOMEM;
    st->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (st->fd < 0) {
        int err = -errno;
        if (err == -EMFILE)
            wm__fm_error(fm, "cannot start inotify: the per-user instance limit is reached; "
                             "raise fs.inotify.max_user_instances or use the polling backend");
        else
            wm__fm_error(fm, "cannot start inotify: %s", wm_strerror(err));
        free(st);
        return err;
    }
    st->ev = event_new(wm_loop_base(), st->fd, EV_READ | EV_PERSIST, on_readable, fm);
    if (!st->ev || event_add(st->ev, NULL) < 0) {
        if (st->ev)
            event_free(st->ev);
        close(st->fd);
        free(st);
        return WM_ENOMEM;
    }
    fm->be_state = st;
    return WM_OK;
}

static int inotify_add_root(wm_fm_t *fm, wm__fm_root_t *r)
{
    return watch_tree(fm, r, "", false);
}

static size_t inotify_dir_count(const wm_fm_t *fm)
{
    const istate_t *st = fm->be_state;
    return st->live;
}

static void inotify_destroy(wm_fm_t *fm)
{
    istate_t *st = fm->be_state;
    if (!st)
        return;
    event_free(st->ev);
    close(st->fd);
    for (size_t i = 0; i < st->cap; i++)
        free(st->dirs[i].rel);
    free(st->dirs);
    free(st);
    fm->be_state = NULL;
}

const wm__fm_backend_t wm__fm_inotify = {"inotify", inotify_init_state, inotify_add_root,
                                         inotify_dir_count, inotify_destroy};
