/* SPDX-License-Identifier: MIT */
/* The polling backend, for file systems inotify does not see (NFS, FUSE,
 * some container mounts): every poll interval it walks each root (lstat of
 * every entry, skipping excluded directories), sorts the listing by path
 * and merges it with the previous one. A path only in the new listing was
 * created, only in the old one deleted; a file whose mtime, size or inode
 * differs was modified (a new inode — a save-by-rename — counts as
 * created, as inotify's IN_MOVED_TO does). Directories report creation and
 * deletion only: their mtime changes with every entry.
 *
 * Cost: one lstat per entry per interval, on the loop. For a source tree of
 * a few thousand files whose metadata is cached this takes a millisecond or
 * two; prefer inotify where it works, and keep the interval near a second. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "fm_int.h"

typedef struct pentry {
    char *rel;
    int64_t mtime_ns;
    int64_t size;
    uint64_t ino;
    bool is_dir;
} pentry_t;

typedef struct listing {
    pentry_t *v;
    size_t n, cap;
} listing_t;

typedef struct proot {
    wm__fm_root_t *root;
    listing_t last;
    struct proot *next;
} proot_t;

typedef struct pstate {
    proot_t *roots;
    struct event *tick;
} pstate_t;

static void listing_free(listing_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].rel);
    free(l->v);
    *l = (listing_t){0};
}

static int listing_add(listing_t *l, char *rel, const struct stat *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        pentry_t *grown = realloc(l->v, cap * sizeof *grown);
        if (!grown)
            return WM_ENOMEM;
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = (pentry_t){rel, (int64_t)s->st_mtim.tv_sec * 1000000000 + s->st_mtim.tv_nsec,
                              (int64_t)s->st_size, (uint64_t)s->st_ino, S_ISDIR(s->st_mode)};
    return WM_OK;
}

static int walk(wm_fm_t *fm, const char *root, const char *rel, listing_t *out)
{
    char *full = *rel ? wm__fm_join(root, rel) : strdup(root);
    DIR *d = full ? opendir(full) : NULL;
    if (!d) {
        int err = full ? -errno : WM_ENOMEM;
        free(full);
        return *rel && err != WM_ENOMEM ? WM_OK : err; /* a subdirectory may vanish */
    }
    int rc = WM_OK;
    struct dirent *e;
    while (rc == WM_OK && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *sub = wm__fm_join(rel, e->d_name), *path = wm__fm_join(full, e->d_name);
        struct stat s;
        if (!sub || !path) {
            rc = WM_ENOMEM;
        } else if (lstat(path, &s) == 0) {
            bool is_dir = S_ISDIR(s.st_mode);
            bool wanted = is_dir ? wm__fm_dir_wanted(fm, sub) : wm__fm_file_wanted(fm, sub);
            if (wanted && (rc = listing_add(out, sub, &s)) == WM_OK) {
                if (is_dir)
                    rc = walk(fm, root, sub, out);
                sub = NULL; /* the listing owns it */
            }
        }
        free(sub);
        free(path);
    }
    closedir(d);
    free(full);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const pentry_t *)a)->rel, ((const pentry_t *)b)->rel);
}

static int snapshot(wm_fm_t *fm, const wm__fm_root_t *root, listing_t *out)
{
    *out = (listing_t){0};
    int rc = walk(fm, root->path, "", out);
    if (rc != WM_OK) {
        listing_free(out);
        return rc;
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, entry_cmp);
    return WM_OK;
}

static void compare(wm_fm_t *fm, const wm__fm_root_t *root, const listing_t *a, const listing_t *b)
{
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].rel, b->v[j].rel);
        if (c < 0) {
            wm__fm_record(fm, root, a->v[i].rel, WM_FM_DELETED, a->v[i].is_dir);
            i++;
        } else if (c > 0) {
            wm__fm_record(fm, root, b->v[j].rel, WM_FM_CREATED, b->v[j].is_dir);
            j++;
        } else {
            const pentry_t *x = &a->v[i++], *y = &b->v[j++];
            if (x->is_dir != y->is_dir || x->ino != y->ino)
                wm__fm_record(fm, root, y->rel, WM_FM_CREATED, y->is_dir);
            else if (!y->is_dir && (x->mtime_ns != y->mtime_ns || x->size != y->size))
                wm__fm_record(fm, root, y->rel, WM_FM_MODIFIED, false);
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    wm_fm_t *fm = arg;
    pstate_t *st = fm->be_state;
    for (proot_t *p = st->roots; p; p = p->next) {
        listing_t now;
        int rc = snapshot(fm, p->root, &now);
        if (rc != WM_OK) {
            /* The root itself is gone (or out of memory): report what it
             * held as deleted, once, and keep polling for its return. */
            now = (listing_t){0};
        }
        compare(fm, p->root, &p->last, &now);
        listing_free(&p->last);
        p->last = now;
    }
}

static int poll_init(wm_fm_t *fm)
{
    pstate_t *st = calloc(1, sizeof *st);
    if (!st)
        return WM_ENOMEM;
    st->tick = event_new(wm_loop_base(), -1, EV_PERSIST, on_tick, fm);
    struct timeval tv = {(time_t)(fm->opts.poll_interval_ms / 1000),
                         (suseconds_t)(fm->opts.poll_interval_ms % 1000) * 1000};
    if (!st->tick || event_add(st->tick, &tv) < 0) {
        if (st->tick)
            event_free(st->tick);
        free(st);
        return WM_ENOMEM;
    }
    fm->be_state = st;
    return WM_OK;
}

static int poll_add_root(wm_fm_t *fm, wm__fm_root_t *r)
{
    pstate_t *st = fm->be_state;
    struct stat s;
    if (stat(r->path, &s) < 0)
        return -errno;
    if (!S_ISDIR(s.st_mode))
        return -ENOTDIR;
    proot_t *p = calloc(1, sizeof *p);
    if (!p)
        return WM_ENOMEM;
    int rc = snapshot(fm, r, &p->last);
    if (rc != WM_OK) {
        free(p);
        return rc;
    }
    p->root = r;
    proot_t **tail = &st->roots;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
    return WM_OK;
}

static size_t poll_dir_count(const wm_fm_t *fm)
{
    const pstate_t *st = fm->be_state;
    size_t n = 0;
    for (const proot_t *p = st->roots; p; p = p->next) {
        n++;
        for (size_t i = 0; i < p->last.n; i++)
            n += p->last.v[i].is_dir;
    }
    return n;
}

static void poll_destroy(wm_fm_t *fm)
{
    pstate_t *st = fm->be_state;
    if (!st)
        return;
    event_free(st->tick);
    while (st->roots) {
        proot_t *p = st->roots;
        st->roots = p->next;
        listing_free(&p->last);
        free(p);
    }
    free(st);
    fm->be_state = NULL;
}

const wm__fm_backend_t wm__fm_poll = {"poll", poll_init, poll_add_root, poll_dir_count,
                                      poll_destroy};
