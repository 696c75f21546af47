/* SPDX-License-Identifier: MIT */
/* Unit tests for GlobalData's codec (gd_proto.c) and store (gd_store.c):
 * the validating pre-scan against bombs and truncation (every prefix of
 * valid input), request and response decoding with their error reasons,
 * value equality across encodings, and the store's hash, ordered scan with
 * a cursor, and expiry heap; the writer's batches (gd_persist.c): only the
 * last write of a key in a batch is applied, and the file ends up right;
 * globaldata-cli's JSON <-> MessagePack mapping (gd_json.c) for what JSON
 * cannot say (bin, ext, keys that are not strings, bytes that are not
 * UTF-8) and for numbers at the edges. */
#include "wm_test.h"

#include <stdlib.h>
#include <unistd.h>

#include "gd_int.h"
#include "gd_json.h"

static size_t unhex(const char *hex, char *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        if (*hex == ' ') {
            hex--;
            continue;
        }
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

static ssize_t check_hex(const char *hex)
{
    char b[256];
    size_t n = unhex(hex, b);
    return wm__mp_check(b, n, WM_GD_MAX_DEPTH);
}

static void test_check_bombs(void)
{
    /* map32 claiming 2^28 pairs, array32 claiming 2^32-1, str32 of 4 GiB. */
    ASSERT_EQ(check_hex("df0fffffff"), WM_EAGAIN);
    ASSERT_EQ(check_hex("ddffffffff00"), WM_EAGAIN);
    ASSERT_EQ(check_hex("dbffffffff61"), WM_EAGAIN);
    ASSERT_EQ(check_hex("c1"), WM_EPROTO);
    ASSERT_EQ(check_hex("9f"), WM_EAGAIN);
    /* Nesting: 64 arrays pass, 65 do not. */
    char deep[80];
    memset(deep, (char)0x91, sizeof deep);
    deep[64] = (char)0xc0;
    ASSERT_EQ(wm__mp_check(deep, 65, WM_GD_MAX_DEPTH), 65);
    deep[64] = (char)0x91;
    deep[65] = (char)0xc0;
    ASSERT_EQ(wm__mp_check(deep, 66, WM_GD_MAX_DEPTH), WM_EPROTO);
    ASSERT_EQ(check_hex("c0"), 1);
    ASSERT_EQ(check_hex("c0c0"), 1); /* one object; the caller checks the rest */
}

/* Every prefix of a valid object is "need more", never success or a crash;
 * each prefix sits in its own exact-size allocation so ASan sees overreads. */
static void test_check_prefixes(void)
{
    const char *samples[] = {
        "9401a3736574a16b05", /* [1,"set","k",5] */
        "85a16101a162cb3ff8000000000000a163c4020102a164d6ff00000001a16592c3c2", /* a map */
        "dc0003c0ccffd080",                                                     /* array16 */
        "c70301616263",                                                         /* ext8 */
        "cf0000000000000001d3ffffffffffffffff", /* not one object: 2 */
    };
    for (size_t s = 0; s < 4; s++) {
        char b[256];
        size_t n = unhex(samples[s], b);
        ASSERT_EQ(wm__mp_check(b, n, WM_GD_MAX_DEPTH), (ssize_t)n);
        for (size_t k = 0; k < n; k++) {
            char *p = malloc(k ? k : 1);
            memcpy(p, b, k);
            ASSERT_EQ(wm__mp_check(p, k, WM_GD_MAX_DEPTH), WM_EAGAIN);
            free(p);
        }
    }
}

static void test_req_decode(void)
{
    char b[256];
    wm__gd_req_t r;
    const char *why = NULL;
    size_t n = unhex("9401a3736574a16b05", b);
    ASSERT_EQ(wm__gd_req_decode(b, n, &r, &why), WM_OK);
    ASSERT_EQ(r.id, 1);
    ASSERT_EQ(r.op, WM_GD_OP_SET);
    ASSERT_EQ(r.argc, 2);
    ASSERT_EQ(r.argv[1].n, 1);
    ASSERT_EQ(r.argv[1].p[0], 5);

    struct {
        const char *hex;
        bool has_id;
        int op;
        const char *why_part;
    } bad[] = {
        {"c0", false, -1, "array"},
        {"90", false, -1, "array"},
        {"91a161", false, -1, "unsigned"},
        {"91ff", false, -1, "unsigned"},
        {"9107", true, -1, "array"},
        {"920705", true, -1, "string"},
        {"9207a3666f6f", true, -1, "unknown op"},
        {"9207a3676574", true, WM_GD_OP_GET, "arguments"},
        {"9207a3676574c0", false, -1, "bytes after"},
        {"df0fffffff", false, -1, "truncated"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = unhex(bad[i].hex, b);
        ASSERT_EQ(wm__gd_req_decode(b, n, &r, &why), WM_EPROTO);
        ASSERT_EQ(r.has_id, bad[i].has_id);
        if (bad[i].op >= 0)
            ASSERT_EQ(r.op, bad[i].op);
        if (!strstr(why, bad[i].why_part))
            WM_TEST_FAIL("%s: reason '%s' lacks '%s'", bad[i].hex, why, bad[i].why_part);
    }
}

static void test_resp_roundtrip(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    wm__gd_resp_begin(&pk, 300, WM_GD_MISMATCH);
    msgpack_pack_int64(&pk, -5);
    wm__gd_resp_t r;
    const char *why;
    ASSERT_EQ(wm__gd_resp_decode(sb.data, sb.size, &r, &why), WM_OK);
    ASSERT(r.has_id);
    ASSERT_EQ(r.id, 300);
    ASSERT_EQ(r.status, WM_GD_MISMATCH);
    int64_t v;
    ASSERT_EQ(wm__mp_span_int64(r.result, &v), WM_OK);
    ASSERT_EQ(v, -5);
    msgpack_sbuffer_clear(&sb);
    wm__gd_resp_error(&pk, NULL, WM_GD_BAD_REQUEST, "x");
    ASSERT_EQ(wm__gd_resp_decode(sb.data, sb.size, &r, &why), WM_OK);
    ASSERT(!r.has_id);
    ASSERT_EQ(sb.size, 5);
    ASSERT_MEM_EQ(sb.data, "\x93\xc0\x0a\xa1x", 5);
    msgpack_sbuffer_destroy(&sb);
}

static bool eq_hex(const char *a, const char *b)
{
    char x[64], y[64];
    size_t n = unhex(a, x), m = unhex(b, y);
    return wm__mp_equal((wm__mp_span_t){x, n}, (wm__mp_span_t){y, m});
}

static void test_equal(void)
{
    ASSERT(eq_hex("05", "cc05"));
    ASSERT(eq_hex("05", "cf0000000000000005"));
    ASSERT(eq_hex("ff", "d0ff"));
    ASSERT(eq_hex("ff", "d3ffffffffffffffff"));
    ASSERT(!eq_hex("05", "06"));
    ASSERT(eq_hex("ca3fc00000", "cb3ff8000000000000")); /* 1.5 as f32 and f64 */
    ASSERT(eq_hex("a3616263", "d903616263"));
    ASSERT(!eq_hex("a3616263", "c403616263")); /* str is not bin */
    ASSERT(eq_hex("92a16101", "dc0002a16101"));
    ASSERT(!eq_hex("92a16101", "92a16102"));
    ASSERT(eq_hex("81a16101", "de0001a16101"));
    ASSERT(!eq_hex("c0", "c2"));
    ASSERT(eq_hex("d40102", "c7010102"));
}

static int expired_seen;
static void count_expired(const char *key, size_t klen, void *ud)
{
    expired_seen++;
}

typedef struct keys_out {
    char all[4096];
    int n;
} keys_out_t;

static void add_key(const char *key, size_t klen, void *ud)
{
    keys_out_t *o = ud;
    strncat(o->all, key, klen);
    strcat(o->all, ",");
    o->n++;
}

static void test_store(void)
{
    wm__gd_store_t *s = wm__gd_store_new(count_expired, NULL);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        int n = snprintf(key, sizeof key, "k%05d", i);
        ASSERT(wm__gd_store_put(s, key, (size_t)n, "\x01", 1, i % 2 ? 1000 : 0) != NULL);
    }
    ASSERT_EQ(wm__gd_store_count(s), 5000);
    ASSERT_EQ(wm__gd_store_expiring(s), 2500);
    ASSERT(wm__gd_store_find(s, "k00002", 6, 500) != NULL);
    /* Lazy expiry. */
    ASSERT(wm__gd_store_find(s, "k00001", 6, 1000) == NULL);
    ASSERT_EQ(expired_seen, 1);
    /* Active expiry with a budget. */
    ASSERT_EQ(wm__gd_store_expire_due(s, 999, 100), 0);
    ASSERT_EQ(wm__gd_store_expire_due(s, 1000, 100), 100);
    ASSERT_EQ(wm__gd_store_expire_due(s, 1000, 100000), 2399);
    ASSERT_EQ(wm__gd_store_count(s), 2500);
    ASSERT_EQ(wm__gd_store_expiring(s), 0);

    /* Scan in pages of 7 with a cursor: every even key once, in order. */
    const char *cur = NULL;
    size_t clen = 0;
    char cbuf[32];
    int pages = 0, total = 0;
    char last[32] = "";
    for (;;) {
        keys_out_t o = {{0}, 0};
        const char *next;
        size_t nlen;
        bool more = wm__gd_store_scan(s, "k0", 2, cur, clen, 7, 0, add_key, &o, &next, &nlen);
        total += o.n;
        pages++;
        ASSERT(strncmp(o.all, last, strlen(last)) > 0 || !*last);
        snprintf(last, sizeof last, "%.6s", o.all);
        if (!more)
            break;
        memcpy(cbuf, next, nlen);
        cur = cbuf;
        clen = nlen;
    }
    ASSERT_EQ(total, 2500);
    ASSERT_EQ(pages, 358);
    /* Prefix that matches one key; a prefix with none. */
    keys_out_t o = {{0}, 0};
    const char *next;
    size_t nlen;
    ASSERT(!wm__gd_store_scan(s, "k04998", 6, NULL, 0, 10, 0, add_key, &o, &next, &nlen));
    ASSERT_STR_EQ(o.all, "k04998,");
    ASSERT(!wm__gd_store_scan(s, "z", 1, NULL, 0, 10, 0, add_key, &o, &next, &nlen));
    /* Delete and replace. */
    wm__gd_entry_t *e = wm__gd_store_find(s, "k00010", 6, 0);
    ASSERT(e != NULL);
    wm__gd_store_delete(s, e);
    ASSERT(wm__gd_store_find(s, "k00010", 6, 0) == NULL);
    e = wm__gd_store_put(s, "k00012", 6, "\xa2hi", 3, 0);
    size_t vlen;
    ASSERT_MEM_EQ(wm__gd_entry_value(e, &vlen), "\xa2hi", 3);
    ASSERT_EQ(wm__gd_store_count(s), 2499);
    /* The empty key is a key. */
    ASSERT(wm__gd_store_put(s, "", 0, "\xc0", 1, 0) != NULL);
    ASSERT(wm__gd_store_find(s, "", 0, 0) != NULL);
    wm__gd_store_free(s);
}

static const char *value_of(wm__gd_store_t *s, const char *key)
{
    static char buf[64];
    size_t vlen;
    wm__gd_entry_t *e = wm__gd_store_find(s, key, strlen(key), 0);
    if (!e)
        return NULL;
    const char *v = wm__gd_entry_value(e, &vlen);
    snprintf(buf, sizeof buf, "%.*s", (int)vlen, v);
    return buf;
}

/* Writes queued before the writer starts form one batch: repeated keys
 * collapse to their last write, puts and deletes alike, and the file holds
 * exactly what the order of writes says. */
static void test_persist_batch(void)
{
    char dir[] = "/tmp/wm-gd-unit.XXXXXX", path[64], err[256];
    ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/gd.db", dir);
    wm__gd_persist_t *p = wm__gd_persist_open(path, WM_GD_DURABILITY_FULL, err, sizeof err);
    ASSERT(p != NULL);
    uint64_t seq = 0;
    for (int i = 0; i < 1000; i++) { /* a: 1000 writes, the last "\xa3999" */
        char v[8];
        int n = snprintf(v, sizeof v, "%c%d", (char)(0xa0 | (i < 10 ? 1 : i < 100 ? 2 : 3)), i);
        seq = wm__gd_persist_put(p, "a", 1, v, (size_t)n, 0);
    }
    wm__gd_persist_put(p, "b", 1, "\x01", 1, 0);
    wm__gd_persist_del(p, "b", 1); /* b: put, then delete */
    wm__gd_persist_del(p, "c", 1); /* c: delete, then put */
    wm__gd_persist_put(p, "c", 1, "\x03", 1, 0);
    wm__gd_persist_put(p, "cc", 2, "\x04", 1, 0); /* a different key of the same start */
    seq = wm__gd_persist_put(p, "", 0, "\xc0", 1, 0);
    ASSERT_EQ(seq, 1006);
    ASSERT_EQ(wm__gd_persist_start(p, NULL, NULL), WM_OK);
    wm__gd_persist_stats_t st;
    for (int i = 0; i < 500; i++) {
        wm__gd_persist_get_stats(p, &st);
        if (st.committed == seq)
            break;
        usleep(10000);
    }
    ASSERT_EQ(st.committed, seq);
    ASSERT_EQ(st.commits, 1);
    ASSERT_EQ(st.rows, 5); /* a, b (delete), c, cc and "" */
    ASSERT_EQ(st.queued, 0);
    wm__gd_persist_close(p);

    p = wm__gd_persist_open(path, WM_GD_DURABILITY_FULL, err, sizeof err);
    ASSERT(p != NULL);
    wm__gd_store_t *s = wm__gd_store_new(NULL, NULL);
    size_t loaded, dropped;
    ASSERT_EQ(wm__gd_persist_load(p, s, 0, &loaded, &dropped, err, sizeof err), WM_OK);
    ASSERT_EQ(loaded, 4);
    ASSERT_STR_EQ(value_of(s, "a"), "\xa3"
                                    "999");
    ASSERT(value_of(s, "b") == NULL);
    ASSERT_STR_EQ(value_of(s, "c"), "\x03");
    ASSERT_STR_EQ(value_of(s, "cc"), "\x04");
    ASSERT_STR_EQ(value_of(s, ""), "\xc0");
    wm__gd_store_free(s);
    wm__gd_persist_close(p);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
}

/* MessagePack (hex) to JSON; NULL when refused. */
static const char *mp_json(const char *hex)
{
    static char out[512];
    char b[256];
    size_t n = unhex(hex, b);
    wm_json_writer_t *w = wm_json_writer_new();
    ASSERT(w != NULL);
    int rc = wm__gd_msgpack_to_json(b, n, w);
    const char *text = rc == WM_OK ? wm_json_writer_text(w, NULL) : NULL;
    if (text)
        snprintf(out, sizeof out, "%s", text);
    wm_json_writer_free(w);
    return text ? out : NULL;
}

/* JSON to MessagePack, as hex without spaces; NULL when refused. */
static const char *json_mp(const char *json)
{
    static char out[512];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wm_json_error_t err;
    int rc = wm__gd_json_to_msgpack(json, strlen(json), &sb, &err);
    for (size_t i = 0; i < sb.size && 2 * i + 2 < sizeof out; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned char)sb.data[i]);
    out[2 * sb.size < sizeof out ? 2 * sb.size : 0] = '\0';
    if (rc != WM_OK)
        ASSERT_EQ(sb.size, 0); /* nothing half-written */
    msgpack_sbuffer_destroy(&sb);
    return rc == WM_OK ? out : NULL;
}

static void test_json_values(void)
{
    /* What JSON cannot say: bin (here not UTF-8: Latin-1), ext, float32,
     * keys that are not strings, a container key inside such a key. */
    ASSERT_STR_EQ(mp_json("83 a16b c402fffe 05 93c0d40102ca3f800000 9101 81c301"),
                  "{\"k\":\"\xc3\xbf\xc3\xbe\",\"5\":[null,null,1.0],\"[1]\":{\"true\":1}}");
    ASSERT_STR_EQ(mp_json("81 91 81 9101 02 00"), "{\"[{\\\"[...]\\\":2}]\":0}");
    ASSERT_STR_EQ(mp_json("a3 61ff62"), "\"a\xc3\xbf"
                                        "b\""); /* str that is not UTF-8 */
    ASSERT_STR_EQ(mp_json("cf ffffffffffffffff"), "18446744073709551615");
    ASSERT_STR_EQ(mp_json("d3 8000000000000000"), "-9223372036854775808");
    ASSERT(mp_json("91") == NULL);   /* cut short */
    ASSERT(mp_json("0102") == NULL); /* two objects */
    ASSERT(mp_json("") == NULL);

    /* Numbers: int64, then uint64, then float64. */
    ASSERT_STR_EQ(json_mp("[1,-1,18446744073709551615]"), "9301ffcfffffffffffffffff");
    ASSERT_STR_EQ(json_mp("-9223372036854775808"), "d38000000000000000");
    ASSERT_STR_EQ(json_mp("-9223372036854775809"), "cbc3e0000000000000");
    ASSERT_STR_EQ(json_mp("18446744073709551616"), "cb43f0000000000000");
    ASSERT_STR_EQ(json_mp("1.0"), "cb3ff0000000000000");
    /* Strings decoded, "\u0000" kept; objects in order with duplicates. */
    ASSERT_STR_EQ(json_mp("\"\\u00eb\\ud83d\\ude00\\u0000\""), "a7c3abf09f988000");
    ASSERT_STR_EQ(json_mp("{\"a\":1,\"a\":2}"), "82a16101a16102");
    ASSERT(json_mp("[1,") == NULL);
    ASSERT(json_mp("\"\\ud800\"") == NULL);
    ASSERT(json_mp("1e400") == NULL);
    /* Nesting: what the server takes, and one level more refused. */
    char deep[200];
    memset(deep, '[', 63);
    memset(deep + 63, ']', 63);
    deep[126] = '\0';
    ASSERT(json_mp(deep) != NULL);
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = '\0';
    ASSERT(json_mp(deep) == NULL);
}

static const wm_test_case_t cases[] = {{"check_bombs", test_check_bombs},
                                       {"check_prefixes", test_check_prefixes},
                                       {"req_decode", test_req_decode},
                                       {"resp_roundtrip", test_resp_roundtrip},
                                       {"equal", test_equal},
                                       {"store", test_store},
                                       {"persist_batch", test_persist_batch},
                                       {"json_values", test_json_values},
                                       {NULL, NULL}};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
