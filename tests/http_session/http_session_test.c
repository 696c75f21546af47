/* SPDX-License-Identifier: MIT */
/* wm_http_session_tests: HTTP sessions (wm/http_session.h).
 *
 * The store cases run twice, once on the memory store and once on the file
 * store (mem_* and file_*), from one list: set/get/delete, persistence
 * across start/commit, lazy sessions, regenerate with and without removing
 * the old id, destroy, expiry (load, touch, the collector called and on its
 * timer), malformed and unknown ids, corrupt and truncated data. Then the
 * file store alone (layout, symlinks, names that try to leave the folder,
 * foreign files), ids (alphabet, uniqueness), the codec, and the Set-Cookie
 * fields on a real worker driven by a raw socket.
 *
 * `--serve PORTFILE mem|file DIR` runs the counter server for curl_test.sh
 * until SIGTERM. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>

#include "wm_test.h"
#include "wm/http_session.h"

/* ---- Fixture: a store in a fresh folder -------------------------------------- */

static char tmpdir[64];   /* the case's folder */
static char storedir[96]; /* the file store's folder, inside it */
static wm_http_session_store_t *st;
static wm_http_session_config_t cfg;
static bool file_store;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void fixture_run(bool file, void (*fn)(void))
{
    strcpy(tmpdir, "/tmp/wm-sess.XXXXXX");
    ASSERT(mkdtemp(tmpdir) != NULL);
    snprintf(storedir, sizeof storedir, "%s/s", tmpdir);
    file_store = file;
    st = file ? wm_http_session_store_file_new(storedir) : wm_http_session_store_memory_new();
    ASSERT(st != NULL);
    wm_http_session_config_init(&cfg, st);
    fn();
    wm_http_session_store_free(st);
    nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    WM_TEST_CLEAN();
}

/* Commits `s` with no response and returns the id it was saved under. */
static void commit_id(wm_http_session_t *s, char id[WM_HTTP_SESSION_ID_LEN + 1])
{
    memcpy(id, wm_http_session_id(s), WM_HTTP_SESSION_ID_LEN + 1);
    ASSERT_EQ(wm_http_session_commit(s, NULL), WM_OK);
}

static bool stored(const char *id)
{
    void *data;
    size_t len;
    int rc = wm_http_session_store_load(st, id, cfg.lifetime, &data, &len);
    ASSERT(rc == WM_OK || rc == WM_ENOENT);
    free(data);
    return rc == WM_OK;
}

/* A session with n=`n` saved; its id in `id`. */
static void saved_session(const char *n, char id[WM_HTTP_SESSION_ID_LEN + 1])
{
    wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
    ASSERT_EQ(wm_http_session_set_str(s, "n", n), WM_OK);
    commit_id(s, id);
}

/* The names in the store's folder, sorted into one string ("a b c"). */
static void folder_names(const char *dir, char *out, size_t cap)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    ASSERT(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
            strncat(out, list[i]->d_name, cap - strlen(out) - 2);
            strcat(out, " ");
        }
        free(list[i]);
    }
    free(list);
}

/* ---- Cases for both stores ------------------------------------------------------ */

static void set_get_delete(void)
{
    wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
    ASSERT(s != NULL);
    ASSERT(wm_http_session_is_new(s));
    ASSERT(wm_http_session_id_valid(wm_http_session_id(s)));
    ASSERT_EQ(wm_http_session_count(s), 0);
    ASSERT(wm_http_session_get(s, "a", NULL) == NULL);

    ASSERT_EQ(wm_http_session_set_str(s, "user", "ann"), WM_OK);
    ASSERT_EQ(wm_http_session_set(s, "bin", "x\0y", 3), WM_OK);
    ASSERT_EQ(wm_http_session_set(s, "empty", NULL, 0), WM_OK);
    ASSERT_STR_EQ(wm_http_session_get_str(s, "user"), "ann");
    size_t len = 99;
    const char *bin = wm_http_session_get(s, "bin", &len);
    ASSERT_EQ(len, 3);
    ASSERT_MEM_EQ(bin, "x\0y", 3);
    ASSERT_STR_EQ(wm_http_session_get_str(s, "bin"), "x");
    ASSERT_STR_EQ(wm_http_session_get_str(s, "empty"), "");
    ASSERT(wm_http_session_has(s, "empty"));
    ASSERT(!wm_http_session_has(s, "nope"));

    /* Replacing keeps the key's place; keys come in first-set order. */
    ASSERT_EQ(wm_http_session_set_str(s, "user", "bob"), WM_OK);
    ASSERT_STR_EQ(wm_http_session_get_str(s, "user"), "bob");
    ASSERT_EQ(wm_http_session_count(s), 3);
    ASSERT_STR_EQ(wm_http_session_key_at(s, 0), "user");
    ASSERT_STR_EQ(wm_http_session_key_at(s, 1), "bin");
    ASSERT_STR_EQ(wm_http_session_key_at(s, 2), "empty");
    ASSERT(wm_http_session_key_at(s, 3) == NULL);

    ASSERT_EQ(wm_http_session_delete(s, "bin"), WM_OK);
    ASSERT_EQ(wm_http_session_delete(s, "bin"), WM_ENOENT);
    ASSERT_EQ(wm_http_session_count(s), 2);
    ASSERT_STR_EQ(wm_http_session_key_at(s, 1), "empty");

    /* Bad keys and the limits. */
    char long_key[WM_HTTP_SESSION_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    ASSERT_EQ(wm_http_session_set_str(s, "", "v"), WM_EINVAL);
    ASSERT_EQ(wm_http_session_set_str(s, long_key, "v"), WM_EINVAL);
    long_key[WM_HTTP_SESSION_KEY_MAX] = '\0';
    ASSERT_EQ(wm_http_session_set_str(s, long_key, "v"), WM_OK);
    ASSERT_EQ(wm_http_session_set(s, "x", NULL, 5), WM_EINVAL);
    char *big = calloc(1, WM_HTTP_SESSION_MAX_SIZE);
    ASSERT_EQ(wm_http_session_set(s, "big", big, WM_HTTP_SESSION_MAX_SIZE), WM_EMSGSIZE);
    ASSERT(!wm_http_session_has(s, "big"));
    ASSERT_EQ(wm_http_session_set(s, "big", big, WM_HTTP_SESSION_MAX_SIZE / 2), WM_OK);
    free(big);
    wm_http_session_clear(s);
    ASSERT_EQ(wm_http_session_count(s), 0);
    for (int i = 0; i < WM_HTTP_SESSION_MAX_KEYS; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        ASSERT_EQ(wm_http_session_set_str(s, k, "v"), WM_OK);
    }
    ASSERT_EQ(wm_http_session_set_str(s, "one-more", "v"), WM_EMSGSIZE);
    ASSERT_EQ(wm_http_session_set_str(s, "k7", "replaced"), WM_OK);
    wm_http_session_free(s);
}

static void persistence(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], id2[WM_HTTP_SESSION_ID_LEN + 1];
    wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
    ASSERT_EQ(wm_http_session_set_str(s, "a", "1"), WM_OK);
    ASSERT_EQ(wm_http_session_set(s, "b", "\0\1\2", 3), WM_OK);
    commit_id(s, id);
    ASSERT(stored(id));

    for (int round = 2; round <= 5; round++) {
        s = wm_http_session_start_id(&cfg, id);
        ASSERT(!wm_http_session_is_new(s));
        ASSERT_STR_EQ(wm_http_session_id(s), id);
        ASSERT_EQ(atoi(wm_http_session_get_str(s, "a")), round - 1);
        size_t len;
        ASSERT_MEM_EQ(wm_http_session_get(s, "b", &len), "\0\1\2", 3);
        ASSERT_EQ(len, 3);
        char v[16];
        snprintf(v, sizeof v, "%d", round);
        ASSERT_EQ(wm_http_session_set_str(s, "a", v), WM_OK);
        commit_id(s, id2);
        ASSERT_STR_EQ(id2, id);
    }
    /* Unchanged: touched, still there, still the same. */
    s = wm_http_session_start_id(&cfg, id);
    commit_id(s, id2);
    s = wm_http_session_start_id(&cfg, id);
    ASSERT_STR_EQ(wm_http_session_get_str(s, "a"), "5");
    /* Deleting the last key saves an empty session, which stays. */
    ASSERT_EQ(wm_http_session_delete(s, "a"), WM_OK);
    ASSERT_EQ(wm_http_session_delete(s, "b"), WM_OK);
    commit_id(s, id2);
    s = wm_http_session_start_id(&cfg, id);
    ASSERT(!wm_http_session_is_new(s));
    ASSERT_EQ(wm_http_session_count(s), 0);
    /* A session freed without commit writes nothing. */
    ASSERT_EQ(wm_http_session_set_str(s, "lost", "1"), WM_OK);
    wm_http_session_free(s);
    s = wm_http_session_start_id(&cfg, id);
    ASSERT(!wm_http_session_has(s, "lost"));
    wm_http_session_free(s);
}

static void lazy(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
    ASSERT_EQ(wm_http_session_get_str(s, "n"), NULL);
    commit_id(s, id);
    ASSERT(!stored(id));
    /* Set then cleared: still nothing to keep. */
    s = wm_http_session_start_id(&cfg, NULL);
    ASSERT_EQ(wm_http_session_set_str(s, "n", "1"), WM_OK);
    wm_http_session_clear(s);
    commit_id(s, id);
    ASSERT(!stored(id));
}

static void regenerate_keep_old(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], nid[WM_HTTP_SESSION_ID_LEN + 1];
    saved_session("7", id);
    wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
    ASSERT_EQ(wm_http_session_regenerate_id(s, false), WM_OK);
    ASSERT(strcmp(wm_http_session_id(s), id) != 0);
    ASSERT(wm_http_session_id_valid(wm_http_session_id(s)));
    ASSERT(wm_http_session_is_new(s));
    ASSERT_STR_EQ(wm_http_session_get_str(s, "n"), "7");
    ASSERT_EQ(wm_http_session_set_str(s, "user", "ann"), WM_OK);
    commit_id(s, nid);

    s = wm_http_session_start_id(&cfg, nid);
    ASSERT(!wm_http_session_is_new(s));
    ASSERT_STR_EQ(wm_http_session_get_str(s, "n"), "7");
    ASSERT_STR_EQ(wm_http_session_get_str(s, "user"), "ann");
    wm_http_session_free(s);
    /* The old id keeps the data it had. */
    s = wm_http_session_start_id(&cfg, id);
    ASSERT_STR_EQ(wm_http_session_id(s), id);
    ASSERT(!wm_http_session_has(s, "user"));
    ASSERT_STR_EQ(wm_http_session_get_str(s, "n"), "7");
    wm_http_session_free(s);
}

static void regenerate_delete_old(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], nid[WM_HTTP_SESSION_ID_LEN + 1];
    saved_session("8", id);
    wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
    ASSERT_EQ(wm_http_session_regenerate_id(s, true), WM_OK);
    ASSERT(!stored(id)); /* gone at once, before the commit */
    commit_id(s, nid);
    ASSERT(stored(nid));
    s = wm_http_session_start_id(&cfg, nid);
    ASSERT_STR_EQ(wm_http_session_get_str(s, "n"), "8");
    wm_http_session_free(s);
    /* The old cookie now gets a fresh, empty session. */
    s = wm_http_session_start_id(&cfg, id);
    ASSERT(wm_http_session_is_new(s));
    ASSERT(strcmp(wm_http_session_id(s), id) != 0);
    ASSERT_EQ(wm_http_session_count(s), 0);
    wm_http_session_free(s);
}

static void destroy(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], nid[WM_HTTP_SESSION_ID_LEN + 1];
    saved_session("9", id);
    wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
    ASSERT_EQ(wm_http_session_destroy(s), WM_OK);
    ASSERT(!stored(id));
    ASSERT_EQ(wm_http_session_count(s), 0);
    commit_id(s, nid);
    ASSERT(!stored(nid)); /* nothing set after the destroy: nothing saved */

    /* Set after a destroy: a new session under a fresh id. */
    saved_session("10", id);
    s = wm_http_session_start_id(&cfg, id);
    ASSERT_EQ(wm_http_session_destroy(s), WM_OK);
    ASSERT_EQ(wm_http_session_set_str(s, "flash", "bye"), WM_OK);
    commit_id(s, nid);
    ASSERT(strcmp(nid, id) != 0);
    ASSERT(!stored(id));
    s = wm_http_session_start_id(&cfg, nid);
    ASSERT_STR_EQ(wm_http_session_get_str(s, "flash"), "bye");
    ASSERT(!wm_http_session_has(s, "n"));
    wm_http_session_free(s);
}

static void expiry(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], id2[WM_HTTP_SESSION_ID_LEN + 1];
    char tid[WM_HTTP_SESSION_ID_LEN + 1];
    cfg.lifetime = 1;
    saved_session("1", id);
    saved_session("1", id2);
    saved_session("1", tid);
    ASSERT_EQ(wm_http_session_store_gc(st, 1), 0);
    /* A use within the lifetime restarts it: touched at 0.6 s, alive at 1.2 s. */
    usleep(600 * 1000);
    wm_http_session_t *s = wm_http_session_start_id(&cfg, tid);
    ASSERT(!wm_http_session_is_new(s));
    ASSERT_EQ(wm_http_session_commit(s, NULL), WM_OK);
    usleep(600 * 1000);
    /* `id` is past its lifetime: loading finds nothing even before a
     * collection (the memory store drops it then and there). */
    s = wm_http_session_start_id(&cfg, id);
    ASSERT(wm_http_session_is_new(s));
    ASSERT(strcmp(wm_http_session_id(s), id) != 0);
    wm_http_session_free(s);
    ASSERT_EQ(wm_http_session_store_touch(st, id, 1), WM_ENOENT);
    s = wm_http_session_start_id(&cfg, tid);
    ASSERT(!wm_http_session_is_new(s));
    wm_http_session_free(s);
    /* The collector takes `id2` (never loaded since), and `id` from the
     * folder, and leaves `tid`. */
    ASSERT_EQ(wm_http_session_store_gc(st, 1), file_store ? 2 : 1);
    ASSERT_EQ(wm_http_session_store_gc(st, 1), 0);
    ASSERT(!stored(id2));
    ASSERT(stored(tid));
    if (file_store) {
        char names[512], want[128];
        folder_names(storedir, names, sizeof names);
        snprintf(want, sizeof want, "sess_%s ", tid);
        ASSERT_STR_EQ(names, want);
    }
}

/* Many sessions, half of them expired: each id finds its own data or
 * nothing, never a neighbour's (hash chains, growth, removal mid-chain). */
static void many(void)
{
    enum { N = 300 };
    static char ids[2 * N][WM_HTTP_SESSION_ID_LEN + 1];
    cfg.lifetime = 1;
    for (int i = 0; i < 2 * N; i++) {
        if (i == N)
            usleep(1100 * 1000); /* the first half expires */
        wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
        ASSERT_EQ(wm_http_session_set_str(s, "me", wm_http_session_id(s)), WM_OK);
        commit_id(s, ids[i]);
    }
    for (int i = 0; i < 2 * N; i++) {
        wm_http_session_t *s = wm_http_session_start_id(&cfg, ids[i]);
        if (i < N) {
            ASSERT(wm_http_session_is_new(s));
            ASSERT_EQ(wm_http_session_count(s), 0);
        } else {
            ASSERT(!wm_http_session_is_new(s));
            ASSERT_STR_EQ(wm_http_session_get_str(s, "me"), ids[i]);
        }
        wm_http_session_free(s);
    }
    ASSERT_EQ(wm_http_session_store_gc(st, 1), file_store ? N : 0);
    for (int i = N; i < 2 * N; i++)
        ASSERT_EQ(wm_http_session_store_remove(st, ids[i]), WM_OK);
    ASSERT_EQ(wm_http_session_store_gc(st, 0), 0);
}

static void stop_loop(wm_timer_id_t id, void *ud)
{
    wm_loop_stop();
}

static void gc_timer(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    cfg.lifetime = 1;
    cfg.gc_interval = 1;
    size_t timers = wm_timer_count();
    saved_session("1", id); /* the first start arms the collector */
    ASSERT_EQ(wm_timer_count(), timers + 1);
    ASSERT(wm_timer_add(2500, false, stop_loop, NULL, NULL) > 0);
    ASSERT_EQ(wm_loop_run(), WM_OK);
    /* The timer's collection took it: nothing left for a manual one. */
    ASSERT_EQ(wm_http_session_store_gc(st, 1), 0);
    ASSERT(!stored(id));
    if (file_store) {
        char names[256];
        folder_names(storedir, names, sizeof names);
        ASSERT_STR_EQ(names, "");
    }
}

static void malformed_ids(void)
{
    static const char *const bad[] = {
        "",
        "short",
        "../../../../../../../../etc/passwd",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 31 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 33 */
        "AAAAAAAAAAAAAAA/AAAAAAAAAAAAAAAA",  /* 32 with a slash */
        "AAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAA%AAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAA AAAAAAAAAAAAAAAA",
        "..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAA\303\251AAAAAAAAAAAAAAA", /* 32 bytes with a non-ASCII letter */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wm_http_session_t *s = wm_http_session_start_id(&cfg, bad[i]);
        ASSERT(s != NULL);
        ASSERT(wm_http_session_is_new(s));
        ASSERT(wm_http_session_id_valid(wm_http_session_id(s)));
        ASSERT(strcmp(wm_http_session_id(s), bad[i]) != 0);
        ASSERT_EQ(wm_http_session_set_str(s, "n", "1"), WM_OK);
        ASSERT_EQ(wm_http_session_commit(s, NULL), WM_OK);
        ASSERT(!wm_http_session_id_valid(bad[i]));
        ASSERT_EQ(wm_http_session_store_save(st, bad[i], "x", 1, 60), WM_EINVAL);
        ASSERT_EQ(wm_http_session_store_touch(st, bad[i], 60), WM_EINVAL);
        ASSERT_EQ(wm_http_session_store_remove(st, bad[i]), WM_EINVAL);
        void *d;
        size_t len;
        ASSERT_EQ(wm_http_session_store_load(st, bad[i], 60, &d, &len), WM_EINVAL);
    }
    ASSERT(!wm_http_session_id_valid(NULL));
}

static void unknown_id(void)
{
    /* Well formed, but never issued: not adopted (strict mode). */
    const char *forged = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    ASSERT(wm_http_session_id_valid(forged));
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    wm_http_session_t *s = wm_http_session_start_id(&cfg, forged);
    ASSERT(wm_http_session_is_new(s));
    ASSERT(strcmp(wm_http_session_id(s), forged) != 0);
    ASSERT_EQ(wm_http_session_set_str(s, "n", "1"), WM_OK);
    commit_id(s, id);
    ASSERT(stored(id));
    ASSERT(!stored(forged));
}

/* Every prefix of a good session, garbage, and a wrong version: each loads
 * as an empty session under the same id, which the commit rewrites. */
static void corrupt_data(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    saved_session("12345", id);
    void *good;
    size_t glen;
    ASSERT_EQ(wm_http_session_store_load(st, id, 60, &good, &glen), WM_OK);
    ASSERT_EQ(glen, 8 + 1 + 1 + 4 + 5);
    unsigned char v2[sizeof "WMS\2\0\0\0\0" - 1];
    memcpy(v2, "WMS\2\0\0\0\0", sizeof v2);
    for (size_t cut = 0; cut <= glen + 2; cut++) {
        const void *bytes = good;
        size_t len = cut;
        if (cut == glen) /* a good length, wrong version */
            bytes = v2, len = sizeof v2;
        if (cut == glen + 1) /* garbage */
            bytes = "GET / HTTP/1.1\r\n", len = 16;
        if (cut == glen + 2) /* a good session with a byte after it */
            bytes = good, len = glen + 1;
        void *buf = calloc(1, glen + 1);
        memcpy(buf, bytes, len <= glen ? len : glen);
        ASSERT_EQ(wm_http_session_store_save(st, id, buf, len, 60), WM_OK);
        free(buf);
        wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
        ASSERT_STR_EQ(wm_http_session_id(s), id);
        ASSERT(!wm_http_session_is_new(s));
        ASSERT_EQ(wm_http_session_count(s), 0);
        ASSERT_EQ(wm_http_session_commit(s, NULL), WM_OK);
        /* Rewritten: now it loads cleanly as an empty session. */
        void *d;
        size_t dlen;
        ASSERT_EQ(wm_http_session_store_load(st, id, 60, &d, &dlen), WM_OK);
        ASSERT_EQ(dlen, 8);
        ASSERT_MEM_EQ(d, "WMS\1\0\0\0\0", 8);
        free(d);
    }
    free(good);
}

/* ---- The file store alone ------------------------------------------------------- */

static void file_layout(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], names[256], want[128], path[256];
    saved_session("1", id);
    folder_names(storedir, names, sizeof names);
    snprintf(want, sizeof want, "sess_%s ", id);
    ASSERT_STR_EQ(names, want); /* no temporary file left */
    struct stat sb;
    snprintf(path, sizeof path, "%s/sess_%s", storedir, id);
    ASSERT_EQ(stat(path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0600);
    ASSERT_EQ(stat(storedir, &sb), 0);
    ASSERT_EQ(sb.st_mode & 0777, 0700);
    /* The file is the documented format. */
    FILE *f = fopen(path, "rb");
    unsigned char buf[64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    ASSERT_EQ(n, 8 + 1 + 1 + 4 + 1);
    ASSERT_MEM_EQ(buf,
                  "WMS\1\0\0\0\1\1n\0\0\0\1"
                  "1",
                  n);
}

/* Names built from ids never leave the folder; symlinks planted as session
 * files are neither read nor written through. */
static void file_paths_stay_inside(void)
{
    char before[512], after[512], path[256], target[256];
    folder_names(tmpdir, before, sizeof before);
    static const char *const tries[] = {
        "../escape", "../../tmp/escape", "/tmp/escape", "sess_../../x", "..", "."};
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        ASSERT_EQ(wm_http_session_store_save(st, tries[i], "x", 1, 60), WM_EINVAL);
        wm_http_session_t *s = wm_http_session_start_id(&cfg, tries[i]);
        ASSERT_EQ(wm_http_session_set_str(s, "n", "1"), WM_OK);
        ASSERT_EQ(wm_http_session_commit(s, NULL), WM_OK);
    }
    folder_names(tmpdir, after, sizeof after);
    ASSERT_STR_EQ(after, before); /* only the store's folder, as before */
    ASSERT_EQ(access("/tmp/escape", F_OK), -1);

    /* A symlink posing as a session, pointing at a file outside. */
    const char *id = "SymlinkSymlinkSymlinkSymlink0123";
    snprintf(target, sizeof target, "%s/outside", tmpdir);
    FILE *f = fopen(target, "w");
    fwrite("WMS\1\0\0\0\0", 1, 8, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/sess_%s", storedir, id);
    ASSERT_EQ(symlink(target, path), 0);
    wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
    ASSERT(wm_http_session_is_new(s)); /* not followed */
    wm_http_session_free(s);
    ASSERT_NE(wm_http_session_store_touch(st, id, 60), WM_OK);
    /* A save replaces the link itself; the target keeps its bytes. */
    ASSERT_EQ(wm_http_session_store_save(st, id, "new", 3, 60), WM_OK);
    struct stat sb;
    ASSERT_EQ(lstat(path, &sb), 0);
    ASSERT(S_ISREG(sb.st_mode));
    ASSERT_EQ(stat(target, &sb), 0);
    ASSERT_EQ(sb.st_size, 8);
}

/* The collector removes only its own stale files: old session and
 * temporary files go, a user's file with an old mtime stays. */
static void file_gc_own_files_only(void)
{
    static const char *const names[] = {
        "notes.txt",
        "sess_short",
        "sess_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ".sess_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB.123.tmp",
        ".sess_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", storedir, names[i]);
        FILE *f = fopen(path, "w");
        ASSERT(f != NULL);
        fclose(f);
        struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
        ASSERT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
    }
    char id[WM_HTTP_SESSION_ID_LEN + 1], got[512], want[512];
    saved_session("fresh", id);
    ASSERT_EQ(wm_http_session_store_gc(st, 60), 1); /* the temporary file is not counted */
    folder_names(storedir, got, sizeof got);
    /* The new session's random id sorts before or after "short". */
    bool id_first = strcmp(id, "short") < 0;
    snprintf(want, sizeof want, ".sess_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC notes.txt sess_%s sess_%s ",
             id_first ? id : "short", id_first ? "short" : id);
    ASSERT_STR_EQ(got, want);
}

static void file_oversized(void)
{
    char id[WM_HTTP_SESSION_ID_LEN + 1], path[256];
    saved_session("1", id);
    snprintf(path, sizeof path, "%s/sess_%s", storedir, id);
    FILE *f = fopen(path, "ab");
    for (int i = 0; i < WM_HTTP_SESSION_MAX_SIZE / 1024 + 2; i++) {
        char k[1024] = {0};
        fwrite(k, 1, sizeof k, f);
    }
    fclose(f);
    wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
    ASSERT(!wm_http_session_is_new(s));
    ASSERT_EQ(wm_http_session_count(s), 0);
    wm_http_session_free(s);
}

static void file_store_bad_folder(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/a-file", tmpdir);
    fclose(fopen(path, "w"));
    ASSERT(wm_http_session_store_file_new(path) == NULL);
    snprintf(path, sizeof path, "%s/no/such/parent", tmpdir);
    ASSERT(wm_http_session_store_file_new(path) == NULL);
    ASSERT(wm_http_session_store_file_new("") == NULL);
}

/* ---- Ids and the codec ---------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, WM_HTTP_SESSION_ID_LEN);
}

static void ids(void)
{
    enum { N = 50000 };
    char(*all)[WM_HTTP_SESSION_ID_LEN + 1] = calloc(N, sizeof *all);
    int seen[256] = {0};
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(wm_http_session_id_new(all[i]), WM_OK);
        ASSERT_EQ(strlen(all[i]), WM_HTTP_SESSION_ID_LEN);
        ASSERT(wm_http_session_id_valid(all[i]));
        for (int j = 0; j < WM_HTTP_SESSION_ID_LEN; j++)
            seen[(unsigned char)all[i][j]]++;
    }
    qsort(all, N, sizeof *all, cmp_id);
    for (int i = 1; i < N; i++)
        ASSERT(cmp_id(all[i - 1], all[i]) != 0);
    free(all);
    /* Exactly the 64 base64url characters, each near 1/64 of the draws. */
    int kinds = 0;
    double expect = (double)N * WM_HTTP_SESSION_ID_LEN / 64;
    for (int c = 0; c < 256; c++) {
        if (!seen[c])
            continue;
        kinds++;
        ASSERT((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_');
        ASSERT_DBL_NEAR(seen[c] / expect, 1.0, 0.05);
    }
    ASSERT_EQ(kinds, 64);
}

/* The codec through a store of our own: it records the bytes it is given
 * and hands back what a case puts in it, which also shows that a user's
 * store plugs in through the public interface. */
typedef struct rec_store {
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    unsigned char bytes[4096];
    size_t len;
    bool has;
    int saves, touches, removes;
} rec_store_t;

static int rec_load(void *impl, const char *id, int64_t lifetime, void **data, size_t *len)
{
    rec_store_t *r = impl;
    if (!r->has || strcmp(id, r->id) != 0)
        return WM_ENOENT;
    *data = malloc(r->len + 1);
    memcpy(*data, r->bytes, r->len);
    *len = r->len;
    return WM_OK;
}

static int rec_save(void *impl, const char *id, const void *data, size_t len, int64_t lifetime)
{
    rec_store_t *r = impl;
    ASSERT(len <= sizeof r->bytes);
    strcpy(r->id, id);
    memcpy(r->bytes, data, len);
    r->len = len;
    r->has = true;
    r->saves++;
    return WM_OK;
}

static int rec_touch(void *impl, const char *id, int64_t lifetime)
{
    rec_store_t *r = impl;
    r->touches++;
    return r->has && strcmp(id, r->id) == 0 ? WM_OK : WM_ENOENT;
}

static int rec_remove(void *impl, const char *id)
{
    rec_store_t *r = impl;
    r->removes++;
    if (strcmp(id, r->id) == 0)
        r->has = false;
    return WM_OK;
}

static const wm_http_session_store_ops_t rec_ops = {
    .load = rec_load, .save = rec_save, .touch = rec_touch, .remove = rec_remove};

static void put_raw(rec_store_t *r, const void *bytes, size_t len)
{
    memcpy(r->bytes, bytes, len);
    r->len = len;
    r->has = true;
}

static size_t loaded_count(const char *id)
{
    wm_http_session_t *s = wm_http_session_start_id(&cfg, id);
    ASSERT(!wm_http_session_is_new(s));
    size_t n = wm_http_session_count(s);
    wm_http_session_free(s);
    return n;
}

#define RAW(r, lit) put_raw((r), (lit), sizeof(lit) - 1)

static void codec_and_custom_store(void)
{
    static const wm_http_session_store_ops_t no_save = {.load = rec_load, .touch = rec_touch};
    ASSERT(wm_http_session_store_new(&no_save, NULL) == NULL);
    rec_store_t *r = calloc(1, sizeof *r);
    wm_http_session_store_t *rs = wm_http_session_store_new(&rec_ops, r);
    wm_http_session_config_init(&cfg, rs);

    wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
    ASSERT_EQ(wm_http_session_set_str(s, "ab", "xyz"), WM_OK);
    ASSERT_EQ(wm_http_session_set(s, "e", "", 0), WM_OK);
    char id[WM_HTTP_SESSION_ID_LEN + 1];
    commit_id(s, id);
    ASSERT_EQ(r->saves, 1);
    static const unsigned char want[] = "WMS\1\0\0\0\2"
                                        "\2ab\0\0\0\3xyz"
                                        "\1e\0\0\0\0";
    ASSERT_EQ(r->len, sizeof want - 1);
    ASSERT_MEM_EQ(r->bytes, want, sizeof want - 1);
    /* Unchanged: a touch, no save. */
    s = wm_http_session_start_id(&cfg, id);
    commit_id(s, id);
    ASSERT_EQ(r->saves, 1);
    ASSERT_EQ(r->touches, 1);

    ASSERT_EQ(loaded_count(id), 2);
    RAW(r, "WMS\1\0\0\0\0");
    ASSERT_EQ(loaded_count(id), 0);
    RAW(r, "WMS\1\0\0\0\1\1k\0\0\0\0");
    ASSERT_EQ(loaded_count(id), 1);
    /* Each of these is corrupt, and loads empty. */
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"WMS\1\0\0\0\2\1k\0\0\0\0\1k\0\0\0\0", 20}, /* key repeated */
        {"WMS\1\0\0\0\1\0\0\0\0\0", 13},             /* empty key */
        {"WMS\1\0\0\0\1\2k\0\0\0\0\0", 16},          /* NUL in a key */
        {"WMS\1\0\0\0\1\1k\0\0\0\1", 14},            /* value cut */
        {"WMS\1\0\0\0\1\1k\xff\xff\xff\xff", 14},    /* value length huge */
        {"WMS\1\xff\xff\xff\xff\1k\0\0\0\0", 14},    /* count huge */
        {"WMS\1\0\0\0\0x", 9},                       /* trailing byte */
        {"WMS\1\0\0\0\2\1k\0\0\0\0", 14},            /* count too large */
        {"WMS\1\0\0\0", 7},                          /* short header */
        {"wms\1\0\0\0\0", 8},                        /* bad magic */
        {"WMS\0\0\0\0\0", 8},                        /* version 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        put_raw(r, bad[i].bytes, bad[i].len);
        ASSERT_EQ(loaded_count(id), 0);
    }
    /* Destroy: remove, and the commit saves nothing. */
    RAW(r, "WMS\1\0\0\0\1\1k\0\0\0\0");
    s = wm_http_session_start_id(&cfg, id);
    ASSERT_EQ(wm_http_session_destroy(s), WM_OK);
    ASSERT_EQ(r->removes, 1);
    int saves = r->saves;
    ASSERT_EQ(wm_http_session_commit(s, NULL), WM_OK);
    ASSERT_EQ(r->saves, saves);
    ASSERT(!r->has);
    wm_http_session_store_free(rs); /* no free op: the test frees r */
    free(r);
    WM_TEST_CLEAN();
}

/* ---- The counter server ------------------------------------------------------------- */

static wm_http_session_config_t cfg_alt; /* /alt: every cookie attribute */

static void answer(wm_conn_t *c, wm_http_session_t *s, const char *body)
{
    wm_http_response_t *r = wm_http_response_new(200);
    ASSERT(r != NULL);
    ASSERT_EQ(wm_http_response_header(r, "Content-Type", "text/plain"), WM_OK);
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid()); /* which process answered */
    ASSERT_EQ(wm_http_response_header(r, "X-Pid", pid), WM_OK);
    ASSERT_EQ(wm_http_response_body(r, body, strlen(body)), WM_OK);
    ASSERT_EQ(wm_http_session_commit(s, r), WM_OK);
    int rc = wm_http_send(c, r);
    ASSERT(rc == WM_SENT || rc == WM_QUEUED || rc == WM_ENOTCONN);
}

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *ud)
{
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    wm_http_session_t *s = wm_http_session_start(strcmp(path, "/alt") == 0 ? &cfg_alt : &cfg, req);
    ASSERT(s != NULL);
    char body[128];
    if (strcmp(path, "/logout") == 0) {
        ASSERT_EQ(wm_http_session_destroy(s), WM_OK);
        snprintf(body, sizeof body, "bye\n");
    } else if (strcmp(path, "/login") == 0) {
        ASSERT_EQ(wm_http_session_regenerate_id(s, true), WM_OK);
        ASSERT_EQ(wm_http_session_set_str(s, "user", "ann"), WM_OK);
        snprintf(body, sizeof body, "hello\n");
    } else if (strcmp(path, "/peek") == 0) {
        const char *n = wm_http_session_get_str(s, "n");
        snprintf(body, sizeof body, "n=%s\n", n ? n : "none");
    } else { /* /count and /alt */
        const char *n = wm_http_session_get_str(s, "n");
        char v[24];
        snprintf(v, sizeof v, "%lld", (n ? atoll(n) : 0) + 1);
        ASSERT_EQ(wm_http_session_set_str(s, "n", v), WM_OK);
        snprintf(body, sizeof body, "n=%s\n", v);
    }
    answer(c, s, body);
}

static void make_alt_config(void)
{
    cfg_alt = cfg;
    cfg_alt.cookie_name = "ALT";
    cfg_alt.cookie_path = "/app";
    cfg_alt.cookie_domain = "example.com";
    cfg_alt.cookie_secure = true;
    cfg_alt.cookie_http_only = false;
    cfg_alt.cookie_same_site = "Strict";
    cfg_alt.cookie_max_age = 3600;
}

static wm_worker_t *start_server(void)
{
    make_alt_config();
    wm_worker_t *w = wm_worker_new("http://127.0.0.1:0");
    ASSERT(w != NULL);
    wm_worker_on_message(w, on_message, NULL);
    ASSERT_EQ(wm_worker_start(w), WM_OK);
    return w;
}

/* A blocking exchange on a fresh connection, with the loop run meanwhile:
 * sends `req` and returns the whole answer (Connection: close) in `out`. */
static void exchange(const wm_worker_t *w, const char *req, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(wm_worker_port(w))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ASSERT_EQ(send(fd, req, strlen(req), 0), (long long)strlen(req));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t len = 0;
    uint64_t end = wm_now_ms() + 3000;
    for (;;) {
        event_base_loop(wm_loop_base(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n == 0)
            break;
        if (n > 0)
            len += (size_t)n;
        else
            usleep(1000);
        ASSERT(wm_now_ms() < end);
    }
    out[len] = '\0';
    close(fd);
}

/* The value of the Set-Cookie for `name` in `resp`, into `val` ("" when
 * none); returns the whole line's rest (attributes) in `attrs`. */
static bool set_cookie(const char *resp, const char *name, char *val, char *attrs)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\nSet-Cookie: %s=", name);
    const char *p = strstr(resp, pat);
    val[0] = attrs[0] = '\0';
    if (!p)
        return false;
    p += strlen(pat);
    size_t vlen = strcspn(p, ";\r");
    memcpy(val, p, vlen);
    val[vlen] = '\0';
    size_t alen = strcspn(p + vlen, "\r");
    memcpy(attrs, p + vlen, alen);
    attrs[alen] = '\0';
    return true;
}

#define GET(path, cookie) "GET " path " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" cookie "\r\n"

static void cookie_fields(void)
{
    wm_worker_t *w = start_server();
    char resp[4096], id[64], attrs[256], req[256];

    /* No cookie: a new session, and its cookie with the defaults. */
    exchange(w, GET("/count", ""), resp, sizeof resp);
    ASSERT(strstr(resp, "\r\n\r\nn=1\n") != NULL);
    ASSERT(set_cookie(resp, "WMSESSID", id, attrs));
    ASSERT(wm_http_session_id_valid(id));
    ASSERT_STR_EQ(attrs, "; Path=/; HttpOnly; SameSite=Lax");

    /* The cookie back: the same session, no Set-Cookie. */
    snprintf(req, sizeof req, GET("/count", "Cookie: WMSESSID=%s\r\n"), id);
    exchange(w, req, resp, sizeof resp);
    ASSERT(strstr(resp, "\r\n\r\nn=2\n") != NULL);
    ASSERT(strstr(resp, "Set-Cookie") == NULL);

    /* A page that only reads: no Set-Cookie either, and the visitor without
     * a session gets none (lazy). */
    exchange(w, req, resp, sizeof resp);
    ASSERT(strstr(resp, "n=3") != NULL);
    exchange(w, GET("/peek", ""), resp, sizeof resp);
    ASSERT(strstr(resp, "n=none") != NULL);
    ASSERT(strstr(resp, "Set-Cookie") == NULL);

    /* Forged and malformed cookies: a fresh id each time. */
    char fresh[64];
    exchange(w, GET("/count", "Cookie: WMSESSID=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"), resp,
             sizeof resp);
    ASSERT(strstr(resp, "n=1") != NULL);
    ASSERT(set_cookie(resp, "WMSESSID", fresh, attrs));
    ASSERT(wm_http_session_id_valid(fresh));
    ASSERT(strcmp(fresh, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") != 0);
    exchange(w, GET("/count", "Cookie: WMSESSID=../../etc/passwd\r\n"), resp, sizeof resp);
    ASSERT(set_cookie(resp, "WMSESSID", fresh, attrs));
    ASSERT(wm_http_session_id_valid(fresh));
    /* A reading page with an unknown cookie expires it. */
    exchange(w, GET("/peek", "Cookie: WMSESSID=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"), resp,
             sizeof resp);
    ASSERT(set_cookie(resp, "WMSESSID", fresh, attrs));
    ASSERT_STR_EQ(fresh, "");
    ASSERT_STR_EQ(attrs, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Path=/; HttpOnly; "
                         "SameSite=Lax");

    /* Login regenerates: a new cookie, the old id is dead. */
    snprintf(req, sizeof req, GET("/login", "Cookie: WMSESSID=%s\r\n"), id);
    exchange(w, req, resp, sizeof resp);
    char nid[64];
    ASSERT(set_cookie(resp, "WMSESSID", nid, attrs));
    ASSERT(strcmp(nid, id) != 0);
    snprintf(req, sizeof req, GET("/peek", "Cookie: WMSESSID=%s\r\n"), id);
    exchange(w, req, resp, sizeof resp);
    ASSERT(strstr(resp, "n=none") != NULL);
    snprintf(req, sizeof req, GET("/peek", "Cookie: WMSESSID=%s\r\n"), nid);
    exchange(w, req, resp, sizeof resp);
    ASSERT(strstr(resp, "n=3") != NULL);

    /* Logout: the cookie is expired; the id no longer works. */
    snprintf(req, sizeof req, GET("/logout", "Cookie: WMSESSID=%s\r\n"), nid);
    exchange(w, req, resp, sizeof resp);
    ASSERT(set_cookie(resp, "WMSESSID", fresh, attrs));
    ASSERT_STR_EQ(fresh, "");
    ASSERT(strstr(attrs, "; Max-Age=0;") != NULL);
    snprintf(req, sizeof req, GET("/peek", "Cookie: WMSESSID=%s\r\n"), nid);
    exchange(w, req, resp, sizeof resp);
    ASSERT(strstr(resp, "n=none") != NULL);

    /* Every attribute of the config. */
    exchange(w, GET("/alt", ""), resp, sizeof resp);
    ASSERT(set_cookie(resp, "ALT", id, attrs));
    ASSERT(wm_http_session_id_valid(id));
    ASSERT_STR_EQ(attrs, "; Max-Age=3600; Domain=example.com; Path=/app; Secure; SameSite=Strict");

    /* A config the cookie layer refuses: commit says so. */
    cfg.cookie_path = "/a;b";
    wm_http_session_t *s = wm_http_session_start_id(&cfg, NULL);
    ASSERT_EQ(wm_http_session_set_str(s, "n", "1"), WM_OK);
    wm_http_response_t *r = wm_http_response_new(200);
    ASSERT_EQ(wm_http_session_commit(s, r), WM_EINVAL);
    wm_http_response_free(r);

    wm_worker_free(w);
}

/* ---- The table ------------------------------------------------------------------------ */

#define BOTH(fn)                                                                                   \
    static void mem_##fn(void)                                                                     \
    {                                                                                              \
        fixture_run(false, fn);                                                                    \
    }                                                                                              \
    static void file_##fn(void)                                                                    \
    {                                                                                              \
        fixture_run(true, fn);                                                                     \
    }
#define FILE_ONLY(fn)                                                                              \
    static void file_only_##fn(void)                                                               \
    {                                                                                              \
        fixture_run(true, fn);                                                                     \
    }

BOTH(set_get_delete)
BOTH(persistence)
BOTH(lazy)
BOTH(regenerate_keep_old)
BOTH(regenerate_delete_old)
BOTH(destroy)
BOTH(expiry)
BOTH(gc_timer)
BOTH(many)
BOTH(malformed_ids)
BOTH(unknown_id)
BOTH(corrupt_data)
BOTH(cookie_fields)
FILE_ONLY(file_layout)
FILE_ONLY(file_paths_stay_inside)
FILE_ONLY(file_gc_own_files_only)
FILE_ONLY(file_oversized)
FILE_ONLY(file_store_bad_folder)

#define BOTH_ROWS(fn)                                                                              \
    {"mem_" #fn, mem_##fn},                                                                        \
    {                                                                                              \
        "file_" #fn, file_##fn                                                                     \
    }
#define FILE_ROW(fn)                                                                               \
    {                                                                                              \
#fn, file_only_##fn                                                                        \
    }

static const wm_test_case_t cases[] = {
    BOTH_ROWS(set_get_delete),
    BOTH_ROWS(persistence),
    BOTH_ROWS(lazy),
    BOTH_ROWS(regenerate_keep_old),
    BOTH_ROWS(regenerate_delete_old),
    BOTH_ROWS(destroy),
    BOTH_ROWS(expiry),
    BOTH_ROWS(gc_timer),
    BOTH_ROWS(many),
    BOTH_ROWS(malformed_ids),
    BOTH_ROWS(unknown_id),
    BOTH_ROWS(corrupt_data),
    BOTH_ROWS(cookie_fields),
    FILE_ROW(file_layout),
    FILE_ROW(file_paths_stay_inside),
    FILE_ROW(file_gc_own_files_only),
    FILE_ROW(file_oversized),
    FILE_ROW(file_store_bad_folder),
    {"ids", ids},
    {"codec_and_custom_store", codec_and_custom_store},
    {NULL, NULL},
};

/* ---- --serve PORTFILE mem|file DIR: the counter server for curl_test.sh ----------- */

static void stop_on_signal(int signum, void *ud)
{
    wm_loop_stop();
}

static int serve(const char *portfile, const char *kind, const char *dir)
{
    st = strcmp(kind, "file") == 0 ? wm_http_session_store_file_new(dir)
                                   : wm_http_session_store_memory_new();
    if (!st)
        return 1;
    wm_http_session_config_init(&cfg, st);
    wm_worker_t *w = start_server();
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return 1;
    fprintf(f, "%u\n", wm_worker_port(w));
    fclose(f);
    rename(tmp, portfile); /* the script never reads half a port */
    wm_signal_add(SIGTERM, stop_on_signal, NULL);
    wm_loop_run();
    wm_worker_free(w);
    wm_http_session_store_free(st);
    wm_loop_free();
    return 0;
}

/* --serve-all URL mem|file DIR COMMAND...: the same pages on two worker
 * processes under a master (wm_run_all takes COMMAND: start, stop, ...),
 * each with its own SO_REUSEPORT socket so the kernel spreads connections
 * over both. */
static int serve_all(int argc, char **argv)
{
    st = strcmp(argv[3], "file") == 0 ? wm_http_session_store_file_new(argv[4])
                                      : wm_http_session_store_memory_new();
    wm_worker_t *w = wm_worker_new(argv[2]);
    if (!st || !w)
        return 1;
    wm_http_session_config_init(&cfg, st);
    make_alt_config();
    wm_worker_set_name(w, "sessions");
    wm_worker_set_count(w, 2);
    wm_worker_set_reuse_port(w, true);
    wm_worker_on_message(w, on_message, NULL);
    argv[4] = argv[0];
    return wm_run_all(argc - 4, argv + 4);
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "--serve-all") == 0)
        return serve_all(argc, argv);
    if (argc == 5 && strcmp(argv[1], "--serve") == 0)
        return serve(argv[2], argv[3], argv[4]);
    return wm_test_main(argc, argv, cases);
}
