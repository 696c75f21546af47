/* SPDX-License-Identifier: MIT */
/* The file session store, as PHP's files handler: `sess_<id>` per session in
 * one folder, the file's mtime being the session's last use.
 *
 * Every access goes through the folder's descriptor (openat, renameat,
 * unlinkat), opened once when the store is made: a name is always a single
 * component built from a checked id, so nothing can point outside the
 * folder, and renaming the folder's path away later does not redirect us.
 * Files are opened with O_NOFOLLOW, so a symlink planted as `sess_<id>` is
 * refused rather than followed.
 *
 * A save writes `.sess_<id>.<pid>.tmp` and renames it over `sess_<id>`:
 * rename is atomic, so a reader sees the old file or the new one, never a
 * half-written one, and a process killed mid-write leaves only a temporary
 * file, which the collector removes once it is older than the lifetime.
 * The pid keeps two processes saving the same session from writing into
 * one temporary file; within a process saves do not interleave (they are
 * synchronous).
 *
 * This is blocking disk I/O on the loop, as Workerman's file handler: a few
 * microseconds per call on a local disk, more for the collector's readdir
 * of a large folder. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wm_int.h"
#include "http_session_int.h"

#define PREFIX "sess_"
#define NAME_MAX_LEN 96 /* ".sess_" + id + "." + pid + ".tmp" fits */

typedef struct file_store {
    int dirfd;
} file_store_t;

static void name_of(char out[NAME_MAX_LEN], const char *id)
{
    snprintf(out, NAME_MAX_LEN, PREFIX "%s", id);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Whether a file last modified at `st` is older than `lifetime` seconds. */
static bool stale(const struct stat *st, int64_t lifetime, int64_t now)
{
    int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    return now - mtime > lifetime * 1000000000;
}

/* Reads the whole file into a malloc()ed buffer; reads at most one byte
 * past the size limit, so that an oversized file costs a bounded read and
 * still fails to decode. */
static int read_all(int fd, size_t size_hint, void **data, size_t *len)
{
    size_t cap =
        size_hint < WM_HTTP_SESSION_MAX_SIZE ? size_hint + 1 : WM_HTTP_SESSION_MAX_SIZE + 1;
    char *buf = malloc(cap);
    size_t got = 0;
    if (!buf)
        return WM_ENOMEM;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            free(buf);
            return err;
        }
        got += (size_t)n;
        if (got == cap && cap <= WM_HTTP_SESSION_MAX_SIZE) {
            /* The file grew since fstat: read on, up to the limit. */
            size_t ncap =
                cap * 2 > WM_HTTP_SESSION_MAX_SIZE + 1 ? WM_HTTP_SESSION_MAX_SIZE + 1 : cap * 2;
            char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb)
                break;
            buf = nb;
            cap = ncap;
        }
    }
    *data = buf;
    *len = got;
    return WM_OK;
}

static int file_load(void *impl, const char *id, int64_t lifetime, void **data, size_t *len)
{
    file_store_t *fs = impl;
    char name[NAME_MAX_LEN];
    name_of(name, id);
    int fd = openat(fs->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    /* ELOOP: a symlink posing as a session, which is not one of ours. */
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP ? WM_ENOENT : -errno;
    struct stat st;
    int rc = WM_OK;
    if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = WM_ENOENT; /* not ours: never read a fifo or a device */
    else if (stale(&st, lifetime, now_ns()))
        rc = WM_ENOENT; /* the collector removes it */
    else
        rc = read_all(fd, (size_t)st.st_size, data, len);
    close(fd);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return WM_OK;
}

static int file_save(void *impl, const char *id, const void *data, size_t len, int64_t lifetime)
{
    file_store_t *fs = impl;
    char name[NAME_MAX_LEN], tmp[NAME_MAX_LEN];
    name_of(name, id);
    snprintf(tmp, sizeof tmp, "." PREFIX "%s.%ld.tmp", id, (long)getpid());
    int fd = openat(fs->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, data, len);
    if (close(fd) != 0 && rc == WM_OK)
        rc = -errno;
    if (rc == WM_OK && renameat(fs->dirfd, tmp, fs->dirfd, name) != 0)
        rc = -errno;
    if (rc != WM_OK)
        unlinkat(fs->dirfd, tmp, 0);
    return rc;
}

static int file_touch(void *impl, const char *id, int64_t lifetime)
{
    file_store_t *fs = impl;
    char name[NAME_MAX_LEN];
    name_of(name, id);
    struct stat st;
    if (fstatat(fs->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? WM_ENOENT : -errno;
    if (!S_ISREG(st.st_mode) || stale(&st, lifetime, now_ns()))
        return WM_ENOENT;
    if (utimensat(fs->dirfd, name, NULL, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? WM_ENOENT : -errno;
    return WM_OK;
}

static int file_remove(void *impl, const char *id)
{
    file_store_t *fs = impl;
    char name[NAME_MAX_LEN];
    name_of(name, id);
    if (unlinkat(fs->dirfd, name, 0) != 0 && errno != ENOENT)
        return -errno;
    return WM_OK;
}

/* Whether a folder entry is one of ours: `sess_<id>`, or a temporary
 * `.sess_<id>.<pid>.tmp`. Anything else in the folder is left alone. */
static bool is_our_file(const char *name)
{
    size_t plen = strlen(PREFIX), idlen = WM_HTTP_SESSION_ID_LEN;
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    bool tmp = name[0] == '.';
    if (tmp)
        name++;
    if (strncmp(name, PREFIX, plen) != 0 || strnlen(name + plen, idlen) < idlen)
        return false;
    memcpy(id, name + plen, idlen);
    id[idlen] = '\0';
    if (!wm_http_session_id_valid(id))
        return false;
    const char *rest = name + plen + idlen;
    if (!tmp)
        return *rest == '\0';
    size_t rlen = strlen(rest);
    return rest[0] == '.' && rlen > 5 && strcmp(rest + rlen - 4, ".tmp") == 0;
}

static int file_gc(void *impl, int64_t lifetime)
{
    file_store_t *fs = impl;
    /* fdopendir takes the descriptor it is given: hand it a duplicate, and
     * rewind, since duplicates share the read position. */
    int fd = fcntl(fs->dirfd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = -errno;
        close(fd);
        return err;
    }
    rewinddir(d);
    int removed = 0;
    int64_t now = now_ns();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (!is_our_file(de->d_name) ||
            fstatat(fs->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        /* Another process may have saved it since the stat; as with PHP's
         * collector, that session is then lost (it was idle a lifetime). */
        if (S_ISREG(st.st_mode) && stale(&st, lifetime, now) &&
            unlinkat(fs->dirfd, de->d_name, 0) == 0 && de->d_name[0] != '.')
            removed++;
    }
    closedir(d);
    return removed;
}

static void file_free(void *impl)
{
    file_store_t *fs = impl;
    if (!fs)
        return;
    close(fs->dirfd);
    free(fs);
}

static const wm_http_session_store_ops_t file_ops = {
    .load = file_load,
    .save = file_save,
    .touch = file_touch,
    .remove = file_remove,
    .gc = file_gc,
    .free = file_free,
};

wm_http_session_store_t *wm_http_session_store_file_new(const char *dir)
{
    if (!dir || !*dir) {
        wm_log_error("session file store: no folder given");
        return NULL;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        wm_log_error("session file store: cannot make %s: %s", dir, strerror(errno));
        return NULL;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        wm_log_error("session file store: cannot open the folder %s: %s", dir, strerror(errno));
        return NULL;
    }
    file_store_t *fs = malloc(sizeof *fs);
    if (!fs) {
        close(fd);
        return NULL;
    }
    fs->dirfd = fd;
    return wm_http_session_store_new(&file_ops, fs);
}
