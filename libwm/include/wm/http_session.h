/* SPDX-License-Identifier: MIT */
/* HTTP sessions, as Workerman's Session: a cookie carries a random session
 * id, a store keeps each session's data (string keys -> byte-string values)
 * between requests.
 *
 *   static wm_http_session_config_t cfg;        // set up once, in main:
 *   wm_http_session_config_init(&cfg, wm_http_session_store_file_new("/var/lib/app/sess"));
 *
 *   // in on_message:
 *   wm_http_session_t *s = wm_http_session_start(&cfg, req);   // loads
 *   wm_http_session_set_str(s, "user", "ann");
 *   wm_http_response_t *resp = wm_http_response_new(200);
 *   wm_http_session_commit(s, resp);     // saves, adds Set-Cookie, frees s
 *   wm_http_send(c, resp);
 *
 * Ids. A session id is 24 bytes from getrandom(2) (192 bits) in base64url:
 * 32 characters of [A-Za-z0-9_-]. A cookie whose value is not exactly that
 * shape is ignored and never reaches a store (nor a file name). An id of the
 * right shape that the store does not hold (unknown, expired, forged) is not
 * adopted either: the session gets a fresh id ("strict mode", as PHP's
 * session.use_strict_mode), so an attacker cannot plant an id in a victim's
 * browser and wait for it to log in (session fixation). Call
 * wm_http_session_regenerate_id() after a login all the same.
 *
 * Lazy sessions. A session that holds nothing and is not in the store is
 * never saved and gets no cookie: a visitor who stores nothing costs no
 * write. A session cookie sent for such a session (unknown id, destroyed
 * session) is expired in the answer.
 *
 * Lifetime. The store forgets a session that was neither saved nor touched
 * for the config's `lifetime` seconds (PHP's gc_maxlifetime, 1440 by
 * default): loading it then finds nothing, and the store's garbage
 * collector, run on a timer in each process that starts sessions, removes
 * its data. Commit saves a changed session and touches an unchanged one, so
 * the lifetime counts from the last request that used the session.
 *
 * Concurrency. A session is loaded by start and written back by commit,
 * with no lock between: two requests of the same session handled at the same
 * time (in two processes, or one answered later from a callback) both see
 * the data as loaded, and the last commit wins, as with PHP's handlers
 * without locking and with Workerman. Keep what must not be lost that way
 * (counters shared by concurrent requests) in a database.
 *
 * Blocking. The file store reads and writes small files with blocking
 * system calls on the loop (as Workerman's file handler does), and the
 * garbage collector reads the whole folder. A load or a touch takes
 * microseconds; a save creates a file and renames it over the old one,
 * which took 0.3 to 1.2 ms on ext4 mounted with `discard` (about 700 saving
 * requests/s for one process, against 10,000 with the memory store). Put the
 * folder on a local disk, not on a network file system; a site that saves
 * on most requests wants the memory store or a store of its own.
 *
 * Not thread-safe; one loop per process, like the rest of wm. */
#ifndef WM_HTTP_SESSION_H
#define WM_HTTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define WM_HTTP_SESSION_ID_LEN 32              /* characters of a session id */
#define WM_HTTP_SESSION_DEFAULT_LIFETIME 1440  /* seconds, as PHP */
#define WM_HTTP_SESSION_DEFAULT_GC_INTERVAL 60 /* seconds */
#define WM_HTTP_SESSION_KEY_MAX 255            /* bytes in a key */
#define WM_HTTP_SESSION_MAX_KEYS 1024          /* keys in one session */
#define WM_HTTP_SESSION_MAX_SIZE (1024 * 1024) /* bytes of one serialized session */

/* ---- Stores ---------------------------------------------------------------- */

/* A store keeps serialized sessions by id. Two come with wm (memory, files);
 * a user writes another (Redis, GlobalData, SQL) by filling in these
 * operations. Every operation runs on the loop and must return promptly.
 * `id` is always a valid id (wm_http_session_id_valid: 32 characters of
 * [A-Za-z0-9_-]), checked before any operation is called, so it is safe in a
 * file name or a key. `lifetime` is the idle lifetime in seconds of the
 * config in use: data neither saved nor touched for longer is gone.
 * Return WM_OK or a negative WM_E* code. The bytes are opaque to the store
 * (the format is described at the end of this header). */
typedef struct wm_http_session_store_ops {
    /* Finds the data of `id`. On WM_OK, *data is a malloc()ed copy that the
     * caller frees with free(), *len its size (0 allowed, *data may then be
     * NULL). WM_ENOENT when the store holds no live session `id` (never
     * saved, removed, or idle for more than `lifetime`). */
    int (*load)(void *impl, const char *id, int64_t lifetime, void **data, size_t *len);
    /* Stores `len` bytes (borrowed for the call) as the data of `id`,
     * replacing what was there, and restarts its idle time. A reader must
     * never see a partly written value. */
    int (*save)(void *impl, const char *id, const void *data, size_t len, int64_t lifetime);
    /* Restarts the idle time of `id` without changing its data. WM_ENOENT
     * when it is not there (then the caller saves instead). */
    int (*touch)(void *impl, const char *id, int64_t lifetime);
    /* Forgets `id`. WM_OK also when it was not there. */
    int (*remove)(void *impl, const char *id);
    /* Removes every session idle for more than `lifetime`; returns how many
     * (>= 0) or an error. NULL for a store that expires data by itself. */
    int (*gc)(void *impl, int64_t lifetime);
    /* Frees `impl`; NULL when there is nothing to free. */
    void (*free)(void *impl);
} wm_http_session_store_ops_t;

typedef struct wm_http_session_store wm_http_session_store_t;

/* Makes a store from `ops` (borrowed: it must outlive the store, usually a
 * static const) and `impl` (owned by the store from now on: ops->free(impl)
 * runs in wm_http_session_store_free, and also when this call fails).
 * `ops` needs load, save, touch and remove. Returns NULL when out of memory
 * or for missing operations (logged). */
wm_http_session_store_t *wm_http_session_store_new(const wm_http_session_store_ops_t *ops,
                                                   void *impl);

/* The memory store: a hash table in this process, with an idle time per
 * session. Each process has its own: with a worker count above 1, a
 * session lives only in the process that made it, and a browser whose next
 * request reaches another process starts over. Use it with one process, for
 * tests, or behind a balancer that keeps a client on one process; use the
 * file store (or your own) otherwise. The data goes away with the process.
 * Returns NULL when out of memory. */
wm_http_session_store_t *wm_http_session_store_memory_new(void);

/* The file store, as PHP's files handler: one file `sess_<id>` per session
 * in `dir` (made with mode 0700 when missing; its parent must exist),
 * written 0600 to a temporary file `.sess_<id>.<pid>.tmp` in the same folder
 * and renamed over the old one, so that a crash never leaves a half-written
 * session (there is no fsync: a power loss may lose the latest writes). A
 * file's mtime is its session's last use: touch sets it, and load and the
 * garbage collector compare it with `lifetime`. Processes that share the
 * folder share the sessions (last write wins, see the top of this header).
 * Files are opened without following symlinks. `dir` is copied (opened
 * once, here). Returns NULL when `dir` cannot be made or opened or is not
 * a folder (logged), or when out of memory. */
wm_http_session_store_t *wm_http_session_store_file_new(const char *dir);

/* Stops the store's garbage-collection timer and frees it (ops->free).
 * Every session started on it must have been committed or freed, and
 * configs that name it are no longer usable. NULL is ignored. */
void wm_http_session_store_free(wm_http_session_store_t *st);

/* The store's operations, for tools and tests (an admin page that ends a
 * user's session, say). Each checks `id` with wm_http_session_id_valid()
 * and returns WM_EINVAL for a bad one before the store sees it; otherwise
 * they return what the store's operation returns. */
int wm_http_session_store_load(wm_http_session_store_t *st, const char *id, int64_t lifetime,
                               void **data, size_t *len);
int wm_http_session_store_save(wm_http_session_store_t *st, const char *id, const void *data,
                               size_t len, int64_t lifetime);
int wm_http_session_store_touch(wm_http_session_store_t *st, const char *id, int64_t lifetime);
int wm_http_session_store_remove(wm_http_session_store_t *st, const char *id);
/* Runs the garbage collector now. Returns the number of sessions removed, 0
 * for a store without one, or an error. */
int wm_http_session_store_gc(wm_http_session_store_t *st, int64_t lifetime);

/* ---- Configuration ----------------------------------------------------------- */

/* Plain data, read by every call that is given it: set it up once (with
 * wm_http_session_config_init, then change fields) and keep it alive, with
 * the strings it points to, as long as sessions are started with it. */
typedef struct wm_http_session_config {
    wm_http_session_store_t *store; /* borrowed; required */
    const char *cookie_name;        /* "WMSESSID" (a token) */
    const char *cookie_path;        /* "/"; NULL: no Path */
    const char *cookie_domain;      /* NULL: no Domain (the cookie is the host's) */
    bool cookie_secure;             /* false; set it when served over https */
    bool cookie_http_only;          /* true: scripts in the page cannot read the id */
    const char *cookie_same_site;   /* "Lax"; "Strict", "None" (needs Secure) or NULL */
    int64_t cookie_max_age;         /* 0: a browser-session cookie (no Max-Age, PHP's
                                       default); > 0: Max-Age in seconds */
    int64_t lifetime;               /* idle seconds before the store forgets a session:
                                       WM_HTTP_SESSION_DEFAULT_LIFETIME */
    int64_t gc_interval;            /* seconds between garbage collections of the store in
                                       each process: WM_HTTP_SESSION_DEFAULT_GC_INTERVAL,
                                       or `lifetime` when that is shorter */
} wm_http_session_config_t;

/* Fills `cfg` with the defaults above and `store`. */
void wm_http_session_config_init(wm_http_session_config_t *cfg, wm_http_session_store_t *store);

/* ---- Sessions ------------------------------------------------------------------ */

typedef struct wm_http_session wm_http_session_t;

/* Starts the session of `req`: reads the cookie cfg->cookie_name, and loads
 * the session when the id is well formed and the store holds it; otherwise
 * the session is new and empty, with a fresh id. Stored data that does not
 * decode (a corrupt or truncated file) gives an empty session under the same
 * id, logged as a warning; a store error gives a new session, logged as an
 * error. The first start with a store arms its garbage-collection timer in
 * this process (cfg->gc_interval).
 * `cfg` is borrowed until the session ends; `req` only during the call.
 * Returns the session, which the caller ends with wm_http_session_commit()
 * or wm_http_session_free(), or NULL when out of memory, when the random
 * source fails, or for a config without a store (logged). */
wm_http_session_t *wm_http_session_start(const wm_http_session_config_t *cfg,
                                         const wm_http_request_t *req);

/* As wm_http_session_start, with the id given instead of read from a
 * request: `cookie_value` is the value the client sent (borrowed during
 * the call), or NULL when it sent none. For ids that travel another way
 * (a WebSocket handshake's query, a test). */
wm_http_session_t *wm_http_session_start_id(const wm_http_session_config_t *cfg,
                                            const char *cookie_value);

/* The session id (WM_HTTP_SESSION_ID_LEN characters, NUL-terminated),
 * borrowed until the session ends or its id changes (regenerate, destroy). */
const char *wm_http_session_id(const wm_http_session_t *s);

/* Whether the session was not loaded from the store (no valid cookie,
 * unknown id, regenerated or destroyed since). */
bool wm_http_session_is_new(const wm_http_session_t *s);

/* The value of `key`, or NULL when the session has none. *len (if `len` is
 * not NULL) gets its size. The bytes are followed by a NUL that is not part
 * of the value. Borrowed: valid until `key` is set or deleted, the session
 * cleared, or the session ends. */
const void *wm_http_session_get(const wm_http_session_t *s, const char *key, size_t *len);

/* The value of `key` as a C string (it ends at its first NUL byte, if it has
 * one), or NULL. Borrowed as wm_http_session_get. */
const char *wm_http_session_get_str(const wm_http_session_t *s, const char *key);

/* Whether the session has `key`. */
bool wm_http_session_has(const wm_http_session_t *s, const char *key);

/* Sets `key` (1..WM_HTTP_SESSION_KEY_MAX bytes) to `len` bytes of `value`;
 * both are copied. Returns WM_OK, WM_EINVAL (empty or long key, NULL value
 * with a length), WM_EMSGSIZE (the session would pass WM_HTTP_SESSION_MAX_KEYS
 * keys or WM_HTTP_SESSION_MAX_SIZE bytes; nothing changed) or WM_ENOMEM. */
int wm_http_session_set(wm_http_session_t *s, const char *key, const void *value, size_t len);

/* wm_http_session_set with strlen(value) bytes. */
int wm_http_session_set_str(wm_http_session_t *s, const char *key, const char *value);

/* Removes `key`. Returns WM_OK, or WM_ENOENT when it was not there. */
int wm_http_session_delete(wm_http_session_t *s, const char *key);

/* Removes every key (the session stays, with its id). */
void wm_http_session_clear(wm_http_session_t *s);

/* The keys, in the order they were first set: index 0 .. count-1, NULL past
 * the end. Borrowed until the next change to the session. */
size_t wm_http_session_count(const wm_http_session_t *s);
const char *wm_http_session_key_at(const wm_http_session_t *s, size_t i);

/* Gives the session a fresh id and keeps its data, which commit saves under
 * the new id (and sends the new cookie). With `delete_old`, the data stored
 * under the old id is removed from the store now; without, it stays there
 * until it expires (a request still in flight with the old cookie finds
 * it). Call it when privileges change (login). Returns WM_OK, or an error of
 * the random source (then the id is unchanged) or of the store's remove
 * (the new id is in place all the same). */
int wm_http_session_regenerate_id(wm_http_session_t *s, bool delete_old);

/* Ends the session: removes it from the store now and empties it. Its
 * commit expires the cookie (Max-Age=0), unless something is set after the
 * destroy: that starts a new session with a fresh id. Returns WM_OK or the
 * store's remove error (the session is emptied all the same). */
int wm_http_session_destroy(wm_http_session_t *s);

/* Ends the session and writes it back: a session that changed (or was
 * regenerated) is saved, an unchanged one touched (its idle time restarts).
 * Adds the Set-Cookie to `resp` when the client does not have the id yet
 * (new, regenerated), or the expiring one for a destroyed session or an
 * unknown cookie. `resp` may be NULL (nothing is added; a new id is then
 * lost to the client). Always frees `s`. Returns WM_OK, the store's error
 * (logged; no cookie is added for an id that could not be saved), or
 * WM_EINVAL when the config's cookie fields are refused by
 * wm_http_response_cookie (a name that is not a token, a path with ';'). */
int wm_http_session_commit(wm_http_session_t *s, wm_http_response_t *resp);

/* Ends the session without writing anything (the store keeps what it had;
 * a regenerate's or destroy's removal has happened already). NULL is
 * ignored. */
void wm_http_session_free(wm_http_session_t *s);

/* Whether `id` has the shape of a session id: exactly
 * WM_HTTP_SESSION_ID_LEN characters of [A-Za-z0-9_-]. */
bool wm_http_session_id_valid(const char *id);

/* Writes a fresh id (WM_HTTP_SESSION_ID_LEN characters and a NUL) into
 * `out`. Returns WM_OK or a negated errno of getrandom(2). */
int wm_http_session_id_new(char out[WM_HTTP_SESSION_ID_LEN + 1]);

/* ---- The stored format ------------------------------------------------------------
 * What a store is given and returns, version 1 (all integers big-endian):
 *   "WMS" 0x01                  4 bytes: magic and format version
 *   count                       u32: number of entries
 *   count x { klen              u8, 1..255
 *             key               klen bytes, no NUL
 *             vlen              u32
 *             value }           vlen bytes
 * Nothing follows the last entry, no key appears twice, and the whole is at
 * most WM_HTTP_SESSION_MAX_SIZE bytes with at most WM_HTTP_SESSION_MAX_KEYS
 * entries. Anything else is corrupt: wm_http_session_start then gives an
 * empty session. A later version changes the fourth byte. */

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
