/* SPDX-License-Identifier: MIT */
/* Channel's queue store on disk: one SQLite file in WAL mode, table
 * msgs(id INTEGER PRIMARY KEY, queue BLOB, data BLOB, ready_at INTEGER).
 * Inserts and deletes go through the shared group-commit writer
 * (common/src/svc_sqlite.c) with synchronous=FULL and no batching pause: an
 * enqueue is confirmed only after its transaction is fsynced, and every
 * insert or ack that arrives while a commit runs joins the next one. Acked
 * messages are deleted the same way, batched with the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_int.h"

enum { OP_INSERT, OP_DELETE };

struct wm__ch_persist {
    sqlite3 *db;
    sqlite3_stmt *ins, *del;
    wm__svc_writer_t *writer;
};

static int apply_op(sqlite3 *db, const wm__svc_op_t *o, void *user_data)
{
    wm__ch_persist_t *p = user_data;
    sqlite3_stmt *st = o->kind == OP_DELETE ? p->del : p->ins;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, o->a);
    if (o->kind == OP_INSERT) {
        sqlite3_bind_blob(st, 2, o->data, (int)o->klen, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, o->data + o->klen, (int)o->vlen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, o->b);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

wm__ch_persist_t *wm__ch_persist_open(const char *path, char *err, size_t errlen)
{
    wm__ch_persist_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->db = wm__svc_db_open(path, "PRAGMA synchronous=FULL",
                            "CREATE TABLE IF NOT EXISTS msgs (id INTEGER PRIMARY KEY,"
                            " queue BLOB NOT NULL, data BLOB NOT NULL,"
                            " ready_at INTEGER NOT NULL DEFAULT 0);",
                            err, errlen);
    if (!p->db)
        goto fail;
    if (sqlite3_prepare_v2(p->db, "INSERT INTO msgs(id, queue, data, ready_at) VALUES(?, ?, ?, ?)",
                           -1, &p->ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(p->db, "DELETE FROM msgs WHERE id = ?", -1, &p->del, NULL) !=
            SQLITE_OK) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(p->db));
        goto fail;
    }
    p->writer = wm__svc_writer_new(p->db, "channel", path, 0, apply_op, p);
    if (!p->writer) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return p;
fail:
    sqlite3_finalize(p->ins);
    sqlite3_finalize(p->del);
    sqlite3_close(p->db);
    free(p);
    return NULL;
}

int wm__ch_persist_load(wm__ch_persist_t *p, wm__ch_load_cb cb, void *user_data, uint64_t *max_id,
                        char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    *max_id = 0;
    if (sqlite3_prepare_v2(p->db, "SELECT id, queue, data, ready_at FROM msgs ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(err, errlen, "load: %s", sqlite3_errmsg(p->db));
        return WM_EINVAL;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
        const char *q = sqlite3_column_blob(st, 1);
        size_t qlen = (size_t)sqlite3_column_bytes(st, 1);
        const char *d = sqlite3_column_blob(st, 2);
        size_t dlen = (size_t)sqlite3_column_bytes(st, 2);
        *max_id = id;
        /* The file is ours, but a row that would break every push it went
         * into is skipped rather than served. */
        if (!q || qlen == 0 || qlen > WM_CH_MAX_NAME || !d ||
            wm__mp_check(d, dlen, WM_MP_MAX_DEPTH) != (ssize_t)dlen) {
            wm_log_warn("channel: skipping malformed message %llu", (unsigned long long)id);
            continue;
        }
        cb(id, q, qlen, d, dlen, sqlite3_column_int64(st, 3), user_data);
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) {
        snprintf(err, errlen, "load: %s", sqlite3_errmsg(p->db));
        return WM_EINVAL;
    }
    return WM_OK;
}

int wm__ch_persist_start(wm__ch_persist_t *p, wm__svc_commit_cb cb, void *user_data)
{
    return wm__svc_writer_start(p->writer, cb, user_data);
}

uint64_t wm__ch_persist_insert(wm__ch_persist_t *p, uint64_t id, const char *queue, size_t qlen,
                               const char *data, size_t dlen, int64_t ready_at)
{
    return wm__svc_writer_add(p->writer, OP_INSERT, (int64_t)id, ready_at, queue, qlen, data, dlen);
}

uint64_t wm__ch_persist_delete(wm__ch_persist_t *p, uint64_t id)
{
    return wm__svc_writer_add(p->writer, OP_DELETE, (int64_t)id, 0, NULL, 0, NULL, 0);
}

uint64_t wm__ch_persist_committed(const wm__ch_persist_t *p)
{
    return wm__svc_writer_committed(p->writer);
}

void wm__ch_persist_get_stats(wm__ch_persist_t *p, wm__svc_writer_stats_t *st)
{
    wm__svc_writer_get_stats(p->writer, st);
}

void wm__ch_persist_close(wm__ch_persist_t *p)
{
    if (!p)
        return;
    wm__svc_writer_free(p->writer);
    sqlite3_finalize(p->ins);
    sqlite3_finalize(p->del);
    sqlite3_close(p->db);
    free(p);
}
