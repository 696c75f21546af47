/* SPDX-License-Identifier: MIT */
/* GlobalData's SQLite side: the data lives in memory (gd_store.c) and in one
 * SQLite file in WAL mode, table kv(k BLOB PRIMARY KEY, v BLOB, exp INTEGER).
 * The loop never touches the disk after start: writes are queued here and
 * one writer thread commits them.
 *
 * Why a thread and not the loop. Redis with appendfsync always fsyncs on its
 * main thread, once per loop iteration, before it answers; while the disk
 * syncs (0.1-2 ms here, SQLite FULL does ~7,000 commits/s) nothing else
 * happens, not even reads. With one writer thread the loop keeps reading,
 * answering reads that do not depend on an unsynced write, and queueing new
 * writes while a commit runs; the writer then takes everything queued as the
 * next transaction. That is group commit with no timer: batches grow with the
 * load (one row when idle, thousands under load), which is what keeps
 * --durability full near the speed of batched writes (300,000 rows/s). The
 * cost is a copy of each written key and value into the queue and a mutex
 * per write, both small next to a syscall.
 *
 * The writer posts the highest committed sequence number back to the loop
 * through an eventfd; the server then releases the replies that waited for
 * it (gd_server.c). Sequence numbers grow by one per queued write, and
 * batches commit in order, so "committed >= n" means every write up to n is
 * in the file.
 *
 * Durability levels (docs/globaldata.md says what each promises):
 *   full    synchronous=FULL; the writer commits as soon as anything waits;
 *           replies wait for their commit.
 *   normal  synchronous=NORMAL; replies go at once; the writer commits what
 *           arrived at most every NORMAL_INTERVAL_MS.
 *   none    synchronous=OFF; replies go at once; commits every
 *           NONE_INTERVAL_MS, never fsynced.
 * A commit that fails (disk full, I/O error) is rolled back and retried
 * every RETRY_MS, logged each time; replies in full mode keep waiting, so no
 * write is ever acknowledged that is not in the file. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "gd_int.h"

#define NORMAL_INTERVAL_MS 10
#define NONE_INTERVAL_MS 1000
#define RETRY_MS 100
#define STOP_RETRIES 20 /* failing commits tried while stopping before giving up */

typedef struct op {
    uint64_t seq;
    int64_t exp;
    uint32_t klen;
    size_t vlen;
    bool del;
    bool superseded; /* a later write of the same key is in the batch */
    char *data;      /* key bytes, then value bytes */
} op_t;

typedef struct opvec {
    op_t *v;
    size_t len, cap;
} opvec_t;

struct wm__gd_persist {
    sqlite3 *db;
    sqlite3_stmt *put, *del;
    wm__gd_durability_t durability;
    char path[512];

    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    opvec_t queue;   /* under mu */
    bool stopping;   /* under mu */
    uint32_t *slots; /* the writer's: batch_dedup's table */
    size_t nslots;
    uint64_t seed;

    uint64_t next_seq; /* the loop's */
    _Atomic uint64_t committed, commits, rows, failures, queued;

    int efd;
    struct event *ev;
    wm__gd_commit_cb cb;
    void *user_data;
};

static void set_err(char *err, size_t errlen, const char *what, sqlite3 *db)
{
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rc;
    }
    return SQLITE_OK;
}

static const char *sync_pragma(wm__gd_durability_t d)
{
    return d == WM_GD_DURABILITY_FULL     ? "PRAGMA synchronous=FULL"
           : d == WM_GD_DURABILITY_NORMAL ? "PRAGMA synchronous=NORMAL"
                                          : "PRAGMA synchronous=OFF";
}

/* WAL with an exclusive lock: no shared-memory file, and a second server on
 * the same file fails at once (SQLITE_BUSY) instead of diverging. The lock
 * is taken by the first write, which the schema step makes. */
static int configure(wm__gd_persist_t *p, char *err, size_t errlen)
{
    sqlite3 *db = p->db;
    if (exec_sql(db, "PRAGMA locking_mode=EXCLUSIVE", err, errlen) != SQLITE_OK ||
        exec_sql(db, "PRAGMA journal_mode=WAL", err, errlen) != SQLITE_OK ||
        exec_sql(db, sync_pragma(p->durability), err, errlen) != SQLITE_OK ||
        exec_sql(db,
                 "BEGIN IMMEDIATE;"
                 "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL,"
                 " exp INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
                 "COMMIT",
                 err, errlen) != SQLITE_OK)
        return WM_EINVAL;
    sqlite3_stmt *st = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        snprintf(err, errlen, "the file could not be put in WAL mode");
        return WM_EINVAL;
    }
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO kv(k, v, exp) VALUES(?, ?, ?)", -1, &p->put,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "DELETE FROM kv WHERE k = ?", -1, &p->del, NULL) != SQLITE_OK) {
        set_err(err, errlen, "prepare", db);
        return WM_EINVAL;
    }
    return WM_OK;
}

wm__gd_persist_t *wm__gd_persist_open(const char *path, wm__gd_durability_t durability, char *err,
                                      size_t errlen)
{
    wm__gd_persist_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->durability = durability;
    p->efd = -1;
    if (getrandom(&p->seed, sizeof p->seed, 0) != (ssize_t)sizeof p->seed)
        p->seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    snprintf(p->path, sizeof p->path, "%s", path);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    /* NOMUTEX: the loop's thread uses the handle until the writer starts,
     * and only the writer afterwards; pthread_create orders the two. */
    int rc = sqlite3_open_v2(
        path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, path, p->db);
        goto fail;
    }
    if (configure(p, err, errlen) != WM_OK) {
        if (sqlite3_errcode(p->db) == SQLITE_BUSY || strstr(err, "locked"))
            snprintf(err, errlen, "%s is in use by another process (a second server?)", path);
        goto fail;
    }
    return p;
fail:
    sqlite3_finalize(p->put);
    sqlite3_finalize(p->del);
    sqlite3_close(p->db);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    return NULL;
}

int wm__gd_persist_load(wm__gd_persist_t *p, wm__gd_store_t *s, int64_t now_ms, size_t *loaded,
                        size_t *dropped, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = WM_OK;
    *loaded = *dropped = 0;
    if (sqlite3_prepare_v2(p->db, "SELECT k, v, exp FROM kv", -1, &st, NULL) != SQLITE_OK) {
        set_err(err, errlen, "load", p->db);
        return WM_EINVAL;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = sqlite3_column_blob(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        const char *v = sqlite3_column_blob(st, 1);
        size_t vlen = (size_t)sqlite3_column_bytes(st, 1);
        int64_t exp = sqlite3_column_int64(st, 2);
        if (exp != 0 && exp <= now_ms) {
            (*dropped)++;
            continue;
        }
        /* The file is ours, but a value that is not one whole object would
         * break every reply it went into: skip it rather than serve it. */
        if (klen > WM_GD_MAX_KEY || !v ||
            wm__gd_mp_check(v, vlen, WM_GD_MAX_DEPTH) != (ssize_t)vlen) {
            wm_log_warn("globaldata: %s: skipping a malformed row (key of %zu bytes)", p->path,
                        klen);
            (*dropped)++;
            continue;
        }
        if (!wm__gd_store_put(s, k ? k : "", klen, v, vlen, exp)) {
            snprintf(err, errlen, "out of memory after %zu keys", *loaded);
            rc = WM_ENOMEM;
            break;
        }
        (*loaded)++;
    }
    if (rc == WM_OK && step != SQLITE_DONE) {
        set_err(err, errlen, "load", p->db);
        rc = WM_EINVAL;
    }
    sqlite3_finalize(st);
    if (rc == WM_OK && *dropped > 0) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM kv WHERE exp != 0 AND exp <= %lld",
                 (long long)now_ms);
        if (exec_sql(p->db, sql, err, errlen) != SQLITE_OK)
            rc = WM_EINVAL;
    }
    return rc;
}

/* ---- The writer thread --------------------------------------------------- */

static void ops_clear(opvec_t *v)
{
    for (size_t i = 0; i < v->len; i++)
        free(v->v[i].data);
    v->len = 0;
}

static int apply_op(wm__gd_persist_t *p, const op_t *o)
{
    sqlite3_stmt *st = o->del ? p->del : p->put;
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, o->data, (int)o->klen, SQLITE_STATIC);
    if (!o->del) {
        sqlite3_bind_blob(st, 2, o->data + o->klen, (int)o->vlen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, o->exp);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static bool same_key(const op_t *a, const op_t *b)
{
    return a->klen == b->klen && memcmp(a->data, b->data, a->klen) == 0;
}

/* Marks every write that a later write of the same key in the batch
 * replaces. An open-addressing table of op indexes (+1; 0 is empty), at
 * most half full, walked from the newest op back. Without memory for the
 * table nothing is marked: every op is applied, in order, as before. */
static void batch_dedup(wm__gd_persist_t *p, opvec_t *b)
{
    size_t need = 16;
    while (need < 2 * b->len)
        need *= 2;
    if (need > p->nslots) {
        uint32_t *t = realloc(p->slots, need * sizeof *t);
        if (!t)
            return;
        p->slots = t;
        p->nslots = need;
    }
    size_t mask = need - 1;
    memset(p->slots, 0, need * sizeof *p->slots);
    for (size_t i = b->len; i-- > 0;) {
        op_t *o = &b->v[i];
        size_t j = wm__gd_hash_key(p->seed, o->data, o->klen) & mask;
        for (; p->slots[j]; j = (j + 1) & mask)
            if (same_key(&b->v[p->slots[j] - 1], o))
                break;
        o->superseded = p->slots[j] != 0;
        if (!o->superseded)
            p->slots[j] = (uint32_t)(i + 1);
    }
}

/* One transaction for the whole batch. Returns the SQLite result; *rows is
 * how many rows it wrote. */
static int commit_batch(wm__gd_persist_t *p, const opvec_t *b, size_t *rows)
{
    int rc = sqlite3_exec(p->db, "BEGIN", NULL, NULL, NULL);
    *rows = 0;
    for (size_t i = 0; rc == SQLITE_OK && i < b->len; i++) {
        if (b->v[i].superseded)
            continue;
        rc = apply_op(p, &b->v[i]);
        (*rows)++;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(p->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        wm_log_error("globaldata: %s: committing %zu writes failed: %s; retrying in %d ms", p->path,
                     b->len, sqlite3_errmsg(p->db), RETRY_MS);
        sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool stopping(wm__gd_persist_t *p)
{
    pthread_mutex_lock(&p->mu);
    bool s = p->stopping;
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void commit_with_retry(wm__gd_persist_t *p, opvec_t *b)
{
    size_t rows = 0;
    batch_dedup(p, b);
    for (int tries_while_stopping = 0;;) {
        if (commit_batch(p, b, &rows) == SQLITE_OK)
            break;
        atomic_fetch_add(&p->failures, 1);
        if (stopping(p) && ++tries_while_stopping >= STOP_RETRIES) {
            wm_log_error("globaldata: %s: giving up on %zu writes at shutdown", p->path, b->len);
            return;
        }
        sleep_ms(RETRY_MS);
    }
    atomic_fetch_add(&p->commits, 1);
    atomic_fetch_add(&p->rows, rows);
    atomic_fetch_sub(&p->queued, b->len);
    atomic_store(&p->committed, b->v[b->len - 1].seq);
    uint64_t one = 1;
    ssize_t w = write(p->efd, &one, sizeof one); /* wakes the loop; a full counter is fine */
    (void)w;
}

/* Waits out the batching interval of normal and none (not of full), waking
 * early when the server stops. Called with mu held. */
static void wait_interval(wm__gd_persist_t *p)
{
    if (p->durability == WM_GD_DURABILITY_FULL)
        return;
    int ms = p->durability == WM_GD_DURABILITY_NORMAL ? NORMAL_INTERVAL_MS : NONE_INTERVAL_MS;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (long)ms * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    while (!p->stopping && pthread_cond_timedwait(&p->cv, &p->mu, &until) != ETIMEDOUT) {
    }
}

static void *writer_main(void *arg)
{
    wm__gd_persist_t *p = arg;
    opvec_t batch = {0};
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->queue.len == 0 && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->queue.len == 0)
            break; /* stopping, and everything is written */
        opvec_t t = p->queue;
        p->queue = batch;
        batch = t;
        pthread_mutex_unlock(&p->mu);
        commit_with_retry(p, &batch);
        ops_clear(&batch);
        pthread_mutex_lock(&p->mu);
        wait_interval(p);
    }
    pthread_mutex_unlock(&p->mu);
    free(batch.v);
    return NULL;
}

/* ---- The loop's side ----------------------------------------------------- */

static void on_committed(evutil_socket_t fd, short what, void *arg)
{
    wm__gd_persist_t *p = arg;
    uint64_t n;
    while (read(p->efd, &n, sizeof n) == (ssize_t)sizeof n) {
    }
    if (p->cb)
        p->cb(atomic_load(&p->committed), p->user_data);
}

int wm__gd_persist_start(wm__gd_persist_t *p, wm__gd_commit_cb cb, void *user_data)
{
    p->cb = cb;
    p->user_data = user_data;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0)
        return -errno;
    p->ev = event_new(wm_loop_base(), p->efd, EV_READ | EV_PERSIST, on_committed, p);
    if (!p->ev || event_add(p->ev, NULL) != 0)
        return WM_ENOMEM;
    if (pthread_create(&p->thread, NULL, writer_main, p) != 0)
        return WM_ENOMEM;
    p->started = true;
    return WM_OK;
}

static uint64_t enqueue(wm__gd_persist_t *p, bool del, const char *key, size_t klen,
                        const char *val, size_t vlen, int64_t exp)
{
    char *data = malloc(klen + vlen + 1);
    if (!data)
        return 0;
    memcpy(data, key, klen);
    if (vlen)
        memcpy(data + klen, val, vlen);
    pthread_mutex_lock(&p->mu);
    if (p->queue.len == p->queue.cap) {
        size_t cap = p->queue.cap ? p->queue.cap * 2 : 1024;
        op_t *v = realloc(p->queue.v, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&p->mu);
            free(data);
            return 0;
        }
        p->queue.v = v;
        p->queue.cap = cap;
    }
    uint64_t seq = ++p->next_seq;
    p->queue.v[p->queue.len++] = (op_t){
        .seq = seq, .exp = exp, .klen = (uint32_t)klen, .vlen = vlen, .del = del, .data = data};
    if (p->queue.len == 1)
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    atomic_fetch_add(&p->queued, 1);
    return seq;
}

uint64_t wm__gd_persist_put(wm__gd_persist_t *p, const char *key, size_t klen, const char *val,
                            size_t vlen, int64_t expire_at)
{
    return enqueue(p, false, key, klen, val, vlen, expire_at);
}

uint64_t wm__gd_persist_del(wm__gd_persist_t *p, const char *key, size_t klen)
{
    return enqueue(p, true, key, klen, NULL, 0, 0);
}

uint64_t wm__gd_persist_committed(const wm__gd_persist_t *p)
{
    return atomic_load(&((wm__gd_persist_t *)p)->committed);
}

void wm__gd_persist_get_stats(wm__gd_persist_t *p, wm__gd_persist_stats_t *st)
{
    st->queued = atomic_load(&p->queued);
    st->commits = atomic_load(&p->commits);
    st->rows = atomic_load(&p->rows);
    st->failures = atomic_load(&p->failures);
    st->committed = atomic_load(&p->committed);
}

void wm__gd_persist_close(wm__gd_persist_t *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stopping = true;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (p->ev)
        event_free(p->ev);
    if (p->efd >= 0)
        close(p->efd);
    ops_clear(&p->queue);
    free(p->queue.v);
    free(p->slots);
    sqlite3_finalize(p->put);
    sqlite3_finalize(p->del);
    sqlite3_close(p->db);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
