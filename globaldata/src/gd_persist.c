/* SPDX-License-Identifier: MIT */
/* GlobalData's SQLite side: the data lives in memory (gd_store.c) and in one
 * SQLite file in WAL mode, table kv(k BLOB PRIMARY KEY, v BLOB, exp INTEGER).
 * The loop never touches the disk after start: writes are queued to the
 * shared group-commit writer (common/src/svc_sqlite.c, which explains the
 * thread and the batching) and applied here, on its thread, as upserts and
 * deletes.
 *
 * Durability levels (docs/globaldata.md says what each promises):
 *   full    synchronous=FULL; the writer commits as soon as anything waits;
 *           replies wait for their commit (gd_server.c).
 *   normal  synchronous=NORMAL; replies go at once; the writer commits what
 *           arrived at most every NORMAL_INTERVAL_MS.
 *   none    synchronous=OFF; replies go at once; commits every
 *           NONE_INTERVAL_MS, never fsynced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gd_int.h"
#include "svc_sqlite.h"

#define NORMAL_INTERVAL_MS 10
#define NONE_INTERVAL_MS 1000

enum { OP_PUT, OP_DEL };

struct wm__gd_persist {
    sqlite3 *db;
    sqlite3_stmt *put, *del;
    wm__svc_writer_t *writer;
    char path[512];
};

static void set_err(char *err, size_t errlen, const char *what, sqlite3 *db)
{
    snprintf(err, errlen, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

static const char *sync_pragma(wm__gd_durability_t d)
{
    return d == WM_GD_DURABILITY_FULL     ? "PRAGMA synchronous=FULL"
           : d == WM_GD_DURABILITY_NORMAL ? "PRAGMA synchronous=NORMAL"
                                          : "PRAGMA synchronous=OFF";
}

static int interval_ms(wm__gd_durability_t d)
{
    return d == WM_GD_DURABILITY_FULL     ? 0
           : d == WM_GD_DURABILITY_NORMAL ? NORMAL_INTERVAL_MS
                                          : NONE_INTERVAL_MS;
}

/* On the writer's thread, inside its transaction. */
static int apply_op(sqlite3 *db, const wm__svc_op_t *o, void *user_data)
{
    wm__gd_persist_t *p = user_data;
    sqlite3_stmt *st = o->kind == OP_DEL ? p->del : p->put;
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, o->data, (int)o->klen, SQLITE_STATIC);
    if (o->kind == OP_PUT) {
        sqlite3_bind_blob(st, 2, o->data + o->klen, (int)o->vlen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, o->a);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

wm__gd_persist_t *wm__gd_persist_open(const char *path, wm__gd_durability_t durability, char *err,
                                      size_t errlen)
{
    wm__gd_persist_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(p->path, sizeof p->path, "%s", path);
    p->db = wm__svc_db_open(path, sync_pragma(durability),
                            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL,"
                            " exp INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
                            err, errlen);
    if (!p->db)
        goto fail;
    if (sqlite3_prepare_v2(p->db, "INSERT OR REPLACE INTO kv(k, v, exp) VALUES(?, ?, ?)", -1,
                           &p->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(p->db, "DELETE FROM kv WHERE k = ?", -1, &p->del, NULL) != SQLITE_OK) {
        set_err(err, errlen, "prepare", p->db);
        goto fail;
    }
    p->writer = wm__svc_writer_new(p->db, "globaldata", path, interval_ms(durability), apply_op, p);
    if (!p->writer) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* A put or a delete replaces the key's whole row. */
    wm__svc_writer_last_write_wins(p->writer);
    return p;
fail:
    sqlite3_finalize(p->put);
    sqlite3_finalize(p->del);
    sqlite3_close(p->db);
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
        if (klen > WM_GD_MAX_KEY || !v || wm__mp_check(v, vlen, WM_GD_MAX_DEPTH) != (ssize_t)vlen) {
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
        if (wm__svc_db_exec(p->db, sql, err, errlen) != SQLITE_OK)
            rc = WM_EINVAL;
    }
    return rc;
}

int wm__gd_persist_start(wm__gd_persist_t *p, wm__gd_commit_cb cb, void *user_data)
{
    return wm__svc_writer_start(p->writer, cb, user_data);
}

uint64_t wm__gd_persist_put(wm__gd_persist_t *p, const char *key, size_t klen, const char *val,
                            size_t vlen, int64_t expire_at)
{
    return wm__svc_writer_add(p->writer, OP_PUT, expire_at, 0, key, klen, val, vlen);
}

uint64_t wm__gd_persist_del(wm__gd_persist_t *p, const char *key, size_t klen)
{
    return wm__svc_writer_add(p->writer, OP_DEL, 0, 0, key, klen, NULL, 0);
}

uint64_t wm__gd_persist_committed(const wm__gd_persist_t *p)
{
    return wm__svc_writer_committed(p->writer);
}

void wm__gd_persist_get_stats(wm__gd_persist_t *p, wm__gd_persist_stats_t *st)
{
    wm__svc_writer_stats_t ws;
    wm__svc_writer_get_stats(p->writer, &ws);
    st->queued = ws.queued;
    st->commits = ws.commits;
    st->rows = ws.rows;
    st->failures = ws.failures;
    st->committed = ws.committed;
}

void wm__gd_persist_close(wm__gd_persist_t *p)
{
    if (!p)
        return;
    wm__svc_writer_free(p->writer);
    sqlite3_finalize(p->put);
    sqlite3_finalize(p->del);
    sqlite3_close(p->db);
    free(p);
}
