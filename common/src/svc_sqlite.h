/* SPDX-License-Identifier: MIT */
/* The SQLite side shared by globaldata-server and channel-server: opening a
 * data file the way both want it (WAL, an exclusive lock so a second server
 * on the same file fails at once, a schema), and the writer thread that
 * commits queued writes in groups (svc_sqlite.c explains why a thread and
 * how batches form). Each server keeps its own table, statements and what a
 * write means; the writer only orders, batches, retries and reports.
 * Private to the project: nothing here is public API. */
#ifndef WM_SVC_SQLITE_H
#define WM_SVC_SQLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Opens (creating) `path` read-write with SQLITE_OPEN_NOMUTEX, sets
 * locking_mode=EXCLUSIVE, journal_mode=WAL and `sync_pragma` (e.g. "PRAGMA
 * synchronous=FULL"), runs `schema_sql` inside BEGIN IMMEDIATE ... COMMIT
 * (which takes the lock) and checks that WAL took. Returns the handle, or
 * NULL with `err` filled ("... is in use by another process" when locked). */
sqlite3 *wm__svc_db_open(const char *path, const char *sync_pragma, const char *schema_sql,
                         char *err, size_t errlen);

/* Runs `sql`; on failure fills `err` and returns the SQLite code. */
int wm__svc_db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);

/* One queued write. The writer copies key and value into `data` (key bytes,
 * then value bytes); `kind`, `a` and `b` mean what the server says. */
typedef struct wm__svc_op {
    uint64_t seq;
    int kind;
    int64_t a, b;
    uint32_t klen;
    size_t vlen;
    bool superseded; /* the writer's: a later write of the key is in the batch */
    char *data;
} wm__svc_op_t;

/* Applies one write inside the writer's open transaction, on the writer
 * thread. Returns SQLITE_OK or the SQLite error (the batch is then rolled
 * back and retried whole). */
typedef int (*wm__svc_apply_cb)(sqlite3 *db, const wm__svc_op_t *op, void *user_data);

/* Runs on the loop after a transaction committed: every write with a
 * sequence number <= committed is in the file. */
typedef void (*wm__svc_commit_cb)(uint64_t committed, void *user_data);

typedef struct wm__svc_writer wm__svc_writer_t;

typedef struct wm__svc_writer_stats {
    uint64_t queued;    /* writes waiting for the writer */
    uint64_t commits;   /* transactions committed */
    uint64_t rows;      /* rows written (a write superseded in its batch is not) */
    uint64_t failures;  /* transactions that failed (and were retried) */
    uint64_t committed; /* highest committed sequence number */
} wm__svc_writer_stats_t;

/* Makes a writer for `db` (borrowed; the caller closes it after
 * wm__svc_writer_free). After a batch commits the writer waits
 * `interval_ms` before taking the next (0: commit as soon as anything
 * waits). `name` and `path` prefix its log lines (copied). NULL when out of
 * memory. */
wm__svc_writer_t *wm__svc_writer_new(sqlite3 *db, const char *name, const char *path,
                                     int interval_ms, wm__svc_apply_cb apply, void *apply_ud);

/* Declares that each write replaces the whole row of its key (GlobalData's
 * put and delete): in a batch, only the last write of each key is applied.
 * Under pipelined load on a few hot keys that is most of the rows (50 keys
 * x 16 in flight: 800 upserts per commit for 50 rows). Call before start. */
void wm__svc_writer_last_write_wins(wm__svc_writer_t *w);

/* Starts the thread and the loop's completion event (an eventfd on the
 * current wm loop). Until then the loop's thread may use `db` itself. */
int wm__svc_writer_start(wm__svc_writer_t *w, wm__svc_commit_cb cb, void *user_data);

/* Queues a write. Returns its sequence number (> 0, growing by one per
 * write), or 0 when out of memory. Never blocks on the disk. */
uint64_t wm__svc_writer_add(wm__svc_writer_t *w, int kind, int64_t a, int64_t b, const void *key,
                            size_t klen, const void *val, size_t vlen);

/* The highest sequence number known committed (read on the loop). */
uint64_t wm__svc_writer_committed(const wm__svc_writer_t *w);
void wm__svc_writer_get_stats(wm__svc_writer_t *w, wm__svc_writer_stats_t *st);

/* Commits everything queued (retrying a failing commit a few times), stops
 * the thread and frees the writer; `db` stays open. Blocks. NULL ignored. */
void wm__svc_writer_free(wm__svc_writer_t *w);

#endif
