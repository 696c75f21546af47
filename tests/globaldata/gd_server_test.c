/* SPDX-License-Identifier: MIT */
/* globaldata-server against real processes: each case starts servers
 * (master + one worker) on a loopback port picked at run time, with its own
 * data folder, and talks to them with gd_client.h. Servers are stopped by
 * pid (SIGTERM, or SIGKILL in the crash cases); the case process is a child
 * subreaper, so a worker whose master was killed is reaped here too.
 *
 * Covered: every operation and its errors, pipelining, expiry (also across a
 * restart), auth, increments and cas races from several processes, restart
 * with each durability, SIGKILL under concurrent write load with
 * --durability full (every acknowledged write is there afterwards), bad
 * input while another client keeps working, unix sockets, a second server
 * on the same file, and the Workerman (PHP) format byte for byte. */
#include "gd_proc.h"

/* ---- Every operation ----------------------------------------------------- */

static void test_ops(void)
{
    gd_proc_t s;
    proc_init(&s, NULL);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    gdc_resp_t r;

    r = must(gdc_call(&c, "ping", ""), WM_GD_OK);
    ASSERT(gdc_is_str(r.result, "pong"));
    /* get / set / add / delete / exists */
    r = must(gdc_call(&c, "get", "s", "a"), WM_GD_NOT_FOUND);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_NIL);
    must(gdc_call(&c, "set", "ss", "a", "hello"), WM_GD_OK);
    r = must(gdc_call(&c, "get", "s", "a"), WM_GD_OK);
    ASSERT(gdc_is_str(r.result, "hello"));
    must(gdc_call(&c, "add", "si", "a", (int64_t)1), WM_GD_EXISTS);
    must(gdc_call(&c, "add", "si", "b", (int64_t)1), WM_GD_OK);
    r = must(gdc_call(&c, "exists", "s", "b"), WM_GD_OK);
    ASSERT(r.result.type == MSGPACK_OBJECT_BOOLEAN && r.result.via.boolean);
    r = must(gdc_call(&c, "delete", "s", "b"), WM_GD_OK);
    ASSERT(r.result.via.boolean);
    r = must(gdc_call(&c, "delete", "s", "b"), WM_GD_OK);
    ASSERT(!r.result.via.boolean);
    r = must(gdc_call(&c, "exists", "s", "b"), WM_GD_OK);
    ASSERT(!r.result.via.boolean);
    /* A stored nil is not a missing key; values come back byte for byte. */
    must(gdc_call(&c, "set", "sn", "nil"), WM_GD_OK);
    r = must(gdc_call(&c, "get", "s", "nil"), WM_GD_OK);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_NIL);
    must(gdc_call(&c, "set", "sr", "u8", "\xcc\x05", (size_t)2), WM_GD_OK);
    {
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        gdc_build(&c, &out, "get", "s", "u8");
        ASSERT_EQ(gdc_write_all(c.fd, out.data, out.size), 0);
        ssize_t n = gdc_read_frame(&c);
        /* [id, 0, cc 05]: the value as it was given, not re-encoded. */
        ASSERT_GE(n, 3);
        ASSERT_MEM_EQ(c.buf + n - 3, "\x00\xcc\x05", 3);
        msgpack_sbuffer_destroy(&out);
    }
    const char nested[] = "\x82\xa1x\x93\x01\xcb\x3f\xf8\0\0\0\0\0\0\xc3\xa1y\xc4\x02\x00\xff";
    must(gdc_call(&c, "set", "sr", "nested", nested, sizeof nested - 1), WM_GD_OK);
    r = must(gdc_call(&c, "get", "s", "nested"), WM_GD_OK);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_MAP);
    ASSERT_EQ(r.result.via.map.size, 2);

    /* increment */
    must(gdc_call(&c, "set", "si", "n", (int64_t)40), WM_GD_OK);
    r = must(gdc_call(&c, "increment", "s", "n"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 41);
    r = must(gdc_call(&c, "increment", "si", "n", (int64_t)-50), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), -9);
    must(gdc_call(&c, "increment", "s", "missing"), WM_GD_NOT_FOUND);
    must(gdc_call(&c, "increment", "s", "a"), WM_GD_NOT_INTEGER);
    must(gdc_call(&c, "increment", "ss", "n", "x"), WM_GD_BAD_REQUEST);
    must(gdc_call(&c, "set", "si", "big", INT64_MAX - 1), WM_GD_OK);
    must(gdc_call(&c, "increment", "s", "big"), WM_GD_OK);
    must(gdc_call(&c, "increment", "s", "big"), WM_GD_OVERFLOW);
    r = must(gdc_call(&c, "get", "s", "big"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), INT64_MAX);
    must(gdc_call(&c, "set", "si", "small", INT64_MIN), WM_GD_OK);
    must(gdc_call(&c, "increment", "si", "small", (int64_t)-1), WM_GD_OVERFLOW);

    /* cas: equal by value whatever the encoding */
    must(gdc_call(&c, "cas", "sii", "missing", (int64_t)1, (int64_t)2), WM_GD_NOT_FOUND);
    must(gdc_call(&c, "cas", "sri", "u8", "\x05", (size_t)1, (int64_t)6), WM_GD_OK);
    r = must(gdc_call(&c, "cas", "sii", "u8", (int64_t)5, (int64_t)7), WM_GD_MISMATCH);
    ASSERT_EQ(gdc_int(r.result), 6);
    must(gdc_call(&c, "cas", "srs", "nested", nested, sizeof nested - 1, "flat"), WM_GD_OK);
    r = must(gdc_call(&c, "get", "s", "nested"), WM_GD_OK);
    ASSERT(gdc_is_str(r.result, "flat"));

    /* mset / mget */
    {
        const char mset[] = "\x83\xa2m1\x01\xa2m2\xa2v2\xa2m3\xc0";
        must(gdc_call(&c, "mset", "r", mset, sizeof mset - 1), WM_GD_OK);
        const char *keys[] = {"m1", "nope", "m3", "m2"};
        r = must(gdc_call(&c, "mget", "A", (size_t)4, keys), WM_GD_OK);
        ASSERT_EQ(r.result.type, MSGPACK_OBJECT_MAP);
        ASSERT_EQ(r.result.via.map.size, 3);
        ASSERT_EQ(gdc_int(gdc_map_get(r.result, "m1")), 1);
        ASSERT(gdc_is_str(gdc_map_get(r.result, "m2"), "v2"));
        must(gdc_call(&c, "mset", "s", "notamap"), WM_GD_BAD_REQUEST);
        must(gdc_call(&c, "mget", "s", "notanarray"), WM_GD_BAD_REQUEST);
    }

    /* ttl / expire / persist */
    r = must(gdc_call(&c, "ttl", "s", "a"), WM_GD_OK);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_NIL);
    must(gdc_call(&c, "expire", "si", "a", (int64_t)60000), WM_GD_OK);
    r = must(gdc_call(&c, "ttl", "s", "a"), WM_GD_OK);
    ASSERT(gdc_int(r.result) > 59000 && gdc_int(r.result) <= 60000);
    r = must(gdc_call(&c, "persist", "s", "a"), WM_GD_OK);
    ASSERT(r.result.via.boolean);
    r = must(gdc_call(&c, "persist", "s", "a"), WM_GD_OK);
    ASSERT(!r.result.via.boolean);
    must(gdc_call(&c, "ttl", "s", "missing"), WM_GD_NOT_FOUND);
    must(gdc_call(&c, "expire", "si", "missing", (int64_t)5), WM_GD_NOT_FOUND);
    must(gdc_call(&c, "expire", "si", "a", (int64_t)0), WM_GD_BAD_REQUEST);
    must(gdc_call(&c, "set", "ssi", "a", "x", (int64_t)-1), WM_GD_BAD_REQUEST);
    must(gdc_call(&c, "set", "ssi", "t", "x", (int64_t)60000), WM_GD_OK);
    must(gdc_call(&c, "set", "ss", "t", "y"), WM_GD_OK); /* set clears the ttl */
    r = must(gdc_call(&c, "ttl", "s", "t"), WM_GD_OK);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_NIL);

    /* keys by prefix, paged with the cursor */
    char key[32];
    for (int i = 0; i < 250; i++) {
        snprintf(key, sizeof key, "page:%03d", i);
        must(gdc_call(&c, "set", "si", key, (int64_t)i), WM_GD_OK);
    }
    int seen = 0;
    char cursor[64] = "";
    bool first = true;
    for (;;) {
        r = first ? must(gdc_call(&c, "keys", "sni", "page:", (int64_t)100), WM_GD_OK)
                  : must(gdc_call(&c, "keys", "ssi", "page:", cursor, (int64_t)100), WM_GD_OK);
        first = false;
        ASSERT_EQ(r.result.type, MSGPACK_OBJECT_ARRAY);
        ASSERT_EQ(r.result.via.array.size, 2);
        msgpack_object next = r.result.via.array.ptr[0], list = r.result.via.array.ptr[1];
        for (uint32_t i = 0; i < list.via.array.size; i++) {
            snprintf(key, sizeof key, "page:%03d", seen++);
            ASSERT(gdc_is_str(list.via.array.ptr[i], key));
        }
        if (next.type == MSGPACK_OBJECT_NIL)
            break;
        snprintf(cursor, sizeof cursor, "%.*s", (int)next.via.str.size, next.via.str.ptr);
    }
    ASSERT_EQ(seen, 250);
    must(gdc_call(&c, "keys", "sni", "page:", (int64_t)1001), WM_GD_BAD_REQUEST);
    r = must(gdc_call(&c, "keys", ""), WM_GD_OK);
    ASSERT_EQ(r.result.via.array.ptr[1].via.array.size, 100);

    r = must(gdc_call(&c, "stats", ""), WM_GD_OK);
    ASSERT(gdc_int(gdc_map_get(r.result, "keys")) > 250);
    ASSERT(gdc_is_str(gdc_map_get(r.result, "durability"), "normal"));
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- Errors and bad input ------------------------------------------------ */

/* Sends raw bytes on a fresh connection and expects it to be closed
 * (after an optional nil-id error), while `other` keeps working. */
static void expect_closed(gd_proc_t *s, gdc_t *other, const char *bytes, size_t n, bool error_first)
{
    gdc_t c = connect_to(s);
    ASSERT_EQ(gdc_write_all(c.fd, bytes, n), 0);
    if (error_first) {
        gdc_resp_t r = gdc_recv(&c);
        ASSERT_EQ(r.rc, 0);
        ASSERT(!r.has_id);
        ASSERT_EQ(r.status, WM_GD_BAD_REQUEST);
    }
    ASSERT(gdc_closed_within(&c, 3000));
    gdc_close(&c);
    must(gdc_call(other, "ping", ""), WM_GD_OK);
}

static void test_errors(void)
{
    static const char *const extra[] = {"--max-value", "1000", "--max-frame", "65536", NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    gdc_resp_t r;

    /* Errors with an id: the connection stays. */
    r = must(gdc_call(&c, "get", "i", (int64_t)5), WM_GD_BAD_REQUEST);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_STR);
    char big[1100];
    memset(big, 'k', sizeof big);
    must(gdc_call(&c, "get", "b", big, (size_t)1025), WM_GD_TOO_LARGE);
    must(gdc_call(&c, "get", "b", big, (size_t)1024), WM_GD_NOT_FOUND);
    must(gdc_call(&c, "set", "sb", "k", big, (size_t)1000), WM_GD_TOO_LARGE);
    must(gdc_call(&c, "set", "sb", "k", big, (size_t)990), WM_GD_OK);
    const char mset_big[] = "\x81\xa1k\xc5\x04\x00"; /* bin16 of 1024: over 1000 */
    char mb[1100];
    memcpy(mb, mset_big, 6);
    memset(mb + 6, 0, 1024);
    must(gdc_call(&c, "mset", "r", mb, (size_t)1030), WM_GD_TOO_LARGE);
    must(gdc_call(&c, "auth", "i", (int64_t)1), WM_GD_BAD_REQUEST);
    /* Unknown op, wrong arity: raw bodies with an id. */
    {
        const char unknown[] = "\x92\x07\xa4nope", arity[] = "\x92\x08\xa3get";
        ASSERT_EQ(gdc_send_frame(&c, unknown, sizeof unknown - 1), 0);
        r = gdc_recv(&c);
        ASSERT_EQ(r.rc, 0);
        ASSERT_EQ(r.id, 7);
        ASSERT_EQ(r.status, WM_GD_UNKNOWN_OP);
        ASSERT_EQ(gdc_send_frame(&c, arity, sizeof arity - 1), 0);
        r = gdc_recv(&c);
        ASSERT_EQ(r.id, 8);
        ASSERT_EQ(r.status, WM_GD_BAD_REQUEST);
    }
    /* [5]: an id but no op: answered with the id, the connection stays. */
    ASSERT_EQ(gdc_send_frame(&c, "\x91\x05", 2), 0);
    r = gdc_recv(&c);
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.id, 5);
    ASSERT_EQ(r.status, WM_GD_BAD_REQUEST);
    must(gdc_call(&c, "ping", ""), WM_GD_OK);

    /* Closed connections; `c` keeps working after each. */
    expect_closed(&s, &c, "\x00\x00\x00\x09\xdf\x0f\xff\xff\xff", 9, true); /* map32 bomb */
    expect_closed(&s, &c, "\x00\x00\x00\x0a\xdd\xff\xff\xff\xff\x00", 10, true);
    expect_closed(&s, &c, "\x00\x00\x00\x05\xc1", 5, true);       /* never-used byte */
    expect_closed(&s, &c, "\x00\x00\x00\x06\x91\xa1", 6, true);   /* truncated */
    expect_closed(&s, &c, "\x00\x00\x00\x06\x91\xa1", 6, true);   /* truncated */
    expect_closed(&s, &c, "\x00\x00\x00\x07hello\x00", 7, false); /* length 7, 5 bytes */
    expect_closed(&s, &c, "\x00\x00\x00\x08junk", 8, true);       /* not msgpack */
    expect_closed(&s, &c, "\x00\x00\x00\x02", 4, false);          /* length < 4 */
    expect_closed(&s, &c, "\x00\x10\x00\x01", 4, false);          /* over max frame */
    expect_closed(&s, &c, "\x00\x00\x00\x06\x91\xa0", 6, true);   /* id not uint */
    /* Nesting 100 deep. */
    {
        char deep[4 + 9 + 100 + 1];
        memcpy(deep, "\x00\x00\x00\x72\x94\x01\xa3set\xa1k", 12);
        memset(deep + 12, 0x91, 100);
        deep[112] = (char)0xc0;
        deep[3] = 113;
        expect_closed(&s, &c, deep, 113, true);
    }
    r = must(gdc_call(&c, "stats", ""), WM_GD_OK);
    ASSERT(gdc_int(gdc_map_get(r.result, "errors")) >= 10);
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- Pipelining ---------------------------------------------------------- */

static void test_pipeline(void)
{
    gd_proc_t s;
    proc_init(&s, NULL);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    enum { N = 600 };
    uint64_t ids[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "p%d", i / 3);
        if (i % 3 == 0)
            ids[i] = gdc_build(&c, &out, "set", "si", key, (int64_t)i);
        else if (i % 3 == 1)
            ids[i] = gdc_build(&c, &out, "get", "s", key);
        else
            ids[i] = gdc_build(&c, &out, "increment", "s", key);
    }
    ASSERT_EQ(gdc_write_all(c.fd, out.data, out.size), 0); /* all at once */
    for (int i = 0; i < N; i++) {
        gdc_resp_t r = gdc_recv(&c);
        ASSERT_EQ(r.rc, 0);
        ASSERT_EQ(r.id, ids[i]); /* in request order */
        ASSERT_EQ(r.status, WM_GD_OK);
        if (i % 3 == 1)
            ASSERT_EQ(gdc_int(r.result), i - 1);
        if (i % 3 == 2)
            ASSERT_EQ(gdc_int(r.result), i - 1);
    }
    msgpack_sbuffer_destroy(&out);
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- Expiry -------------------------------------------------------------- */

static void test_expiry(void)
{
    gd_proc_t s;
    proc_init(&s, NULL);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    gdc_resp_t r;
    must(gdc_call(&c, "set", "ssi", "short", "x", (int64_t)200), WM_GD_OK);
    r = must(gdc_call(&c, "ttl", "s", "short"), WM_GD_OK);
    ASSERT(gdc_int(r.result) > 0 && gdc_int(r.result) <= 200);
    /* The active sweep: 100 keys nobody reads again. */
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "sweep%d", i);
        must(gdc_call(&c, "add", "sii", key, (int64_t)i, (int64_t)100), WM_GD_OK);
    }
    must(gdc_call(&c, "set", "ssi", "long", "y", (int64_t)2500), WM_GD_OK);
    must(gdc_call(&c, "set", "ssi", "gone-at-restart", "z", (int64_t)700), WM_GD_OK);
    sleep_ms(400);
    r = must(gdc_call(&c, "stats", ""), WM_GD_OK);
    /* Swept without being read: the 100 and "short". */
    ASSERT_EQ(gdc_int(gdc_map_get(r.result, "keys")), 2);
    ASSERT_EQ(gdc_int(gdc_map_get(r.result, "expired")), 101);
    must(gdc_call(&c, "get", "s", "short"), WM_GD_NOT_FOUND);
    /* Expiry survives a restart: times are absolute. */
    gdc_close(&c);
    proc_stop(&s);
    sleep_ms(400);
    proc_start(&s);
    c = connect_to(&s);
    must(gdc_call(&c, "get", "s", "gone-at-restart"), WM_GD_NOT_FOUND);
    r = must(gdc_call(&c, "ttl", "s", "long"), WM_GD_OK);
    ASSERT(gdc_int(r.result) > 0 && gdc_int(r.result) < 2500 - 700);
    sleep_ms((int)gdc_int(r.result) + 50);
    must(gdc_call(&c, "get", "s", "long"), WM_GD_NOT_FOUND);
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- Auth ---------------------------------------------------------------- */

static void test_auth(void)
{
    static const char *const extra[] = {"--auth", "s3cret", NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    must(gdc_call(&c, "get", "s", "k"), WM_GD_AUTH_REQUIRED);
    must(gdc_call(&c, "ping", ""), WM_GD_OK);
    must(gdc_call(&c, "auth", "s", "wrong"), WM_GD_AUTH_FAILED);
    ASSERT(gdc_closed_within(&c, 3000));
    gdc_close(&c);
    c = connect_to(&s);
    must(gdc_call(&c, "auth", "s", "s3cre"), WM_GD_AUTH_FAILED);
    gdc_close(&c);
    c = connect_to(&s);
    gdc_resp_t r = must(gdc_call(&c, "auth", "s", "s3cret"), WM_GD_OK);
    ASSERT(r.result.type == MSGPACK_OBJECT_BOOLEAN && r.result.via.boolean);
    must(gdc_call(&c, "set", "si", "k", (int64_t)1), WM_GD_OK);
    must(gdc_call(&c, "get", "s", "k"), WM_GD_OK);
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- Several processes --------------------------------------------------- */

/* Runs `fn(port, i)` in `n` child processes and checks they all exit 0. */
static void run_children(int n, uint16_t port, void (*fn)(uint16_t, int))
{
    pid_t pids[16];
    for (int i = 0; i < n; i++) {
        fflush(stderr);
        pids[i] = fork();
        ASSERT(pids[i] >= 0);
        if (pids[i] == 0) {
            fn(port, i);
            _exit(0);
        }
    }
    for (int i = 0; i < n; i++) {
        int st;
        ASSERT_EQ(waitpid(pids[i], &st, 0), pids[i]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            WM_TEST_FAIL("child %d ended with status 0x%x", i, st);
    }
}

enum { INCRS = 3000 };

static void incr_child(uint16_t port, int who)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, port), 0);
    /* In windows of 50 pipelined requests. */
    for (int done = 0; done < INCRS; done += 50) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        for (int i = 0; i < 50; i++)
            gdc_build(&c, &out, "increment", "s", "counter");
        ASSERT_EQ(gdc_write_all(c.fd, out.data, out.size), 0);
        for (int i = 0; i < 50; i++)
            ASSERT_EQ(gdc_recv(&c).status, WM_GD_OK);
        msgpack_sbuffer_destroy(&out);
    }
    gdc_close(&c);
}

static void test_incr_procs(void)
{
    gd_proc_t s;
    proc_init(&s, NULL);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    must(gdc_call(&c, "set", "si", "counter", (int64_t)0), WM_GD_OK);
    run_children(2, s.port, incr_child);
    gdc_resp_t r = must(gdc_call(&c, "get", "s", "counter"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 2 * INCRS);
    gdc_close(&c);
    proc_cleanup(&s);
}

enum { CAS_WINS = 300 };

static void cas_child(uint16_t port, int who)
{
    gdc_t c;
    ASSERT_EQ(gdc_connect(&c, port), 0);
    int wins = 0, losses = 0;
    gdc_resp_t r = gdc_call(&c, "get", "s", "cas");
    ASSERT_EQ(r.status, WM_GD_OK);
    int64_t cur = gdc_int(r.result);
    while (wins < CAS_WINS) {
        r = gdc_call(&c, "cas", "sii", "cas", cur, cur + 1);
        ASSERT_EQ(r.rc, 0);
        if (r.status == WM_GD_OK) {
            wins++;
            cur++;
        } else {
            ASSERT_EQ(r.status, WM_GD_MISMATCH);
            cur = gdc_int(r.result); /* the mismatch carries the current value */
            losses++;
        }
    }
    fprintf(stderr, "cas child %d: %d wins, %d losses\n", who, wins, losses);
    gdc_close(&c);
}

static void test_cas_race(void)
{
    gd_proc_t s;
    proc_init(&s, NULL);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    must(gdc_call(&c, "set", "si", "cas", (int64_t)0), WM_GD_OK);
    run_children(3, s.port, cas_child);
    gdc_resp_t r = must(gdc_call(&c, "get", "s", "cas"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 3 * CAS_WINS);
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- Restarts ------------------------------------------------------------ */

static void restart_with(const char *durability)
{
    const char *extra[] = {"--durability", durability, NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1000);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(key, sizeof key, "r%04d", i);
        msgpack_pack_str_with_body(&pk, key, (size_t)n);
        msgpack_pack_int64(&pk, i * 7);
    }
    must(gdc_call(&c, "mset", "r", sb.data, sb.size), WM_GD_OK);
    must(gdc_call(&c, "delete", "s", "r0005"), WM_GD_OK);
    must(gdc_call(&c, "increment", "si", "r0006", (int64_t)1), WM_GD_OK);
    gdc_close(&c);
    proc_stop(&s);
    proc_start(&s);
    c = connect_to(&s);
    gdc_resp_t r = must(gdc_call(&c, "stats", ""), WM_GD_OK);
    ASSERT_EQ(gdc_int(gdc_map_get(r.result, "keys")), 999);
    must(gdc_call(&c, "get", "s", "r0005"), WM_GD_NOT_FOUND);
    r = must(gdc_call(&c, "get", "s", "r0006"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 43);
    r = must(gdc_call(&c, "get", "s", "r0999"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 999 * 7);
    msgpack_sbuffer_destroy(&sb);
    gdc_close(&c);
    proc_cleanup(&s);
}

static void test_restart(void)
{
    restart_with("full");
    restart_with("normal");
    restart_with("none");
}

static void test_memory(void)
{
    static const char *const extra[] = {"--memory", NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    must(gdc_call(&c, "set", "si", "k", (int64_t)1), WM_GD_OK);
    gdc_resp_t r = must(gdc_call(&c, "stats", ""), WM_GD_OK);
    ASSERT(gdc_is_str(gdc_map_get(r.result, "durability"), "memory"));
    gdc_close(&c);
    proc_stop(&s);
    struct stat st;
    ASSERT(stat(s.db, &st) != 0); /* no file was made */
    proc_start(&s);
    c = connect_to(&s);
    must(gdc_call(&c, "get", "s", "k"), WM_GD_NOT_FOUND);
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- SIGKILL under load with --durability full --------------------------- */

enum { WRITERS = 3, ROUNDS = 5, WINDOW = 32 };

typedef struct shared_acks {
    _Atomic int64_t acked[WRITERS]; /* sets acknowledged, in order */
    _Atomic int64_t incr_acked;     /* increments acknowledged */
    _Atomic int64_t incr_sent;      /* increments sent */
    int round;
} shared_acks_t;

static shared_acks_t *acks;

/* Writes "w<who>-r<round>-<i>" = i with WINDOW requests in flight until the
 * connection dies; records how many were acknowledged (replies come in
 * order, so the acknowledged ones are exactly 0..acked-1). */
static void kill_writer(uint16_t port, int who)
{
    gdc_t c;
    if (gdc_connect(&c, port) != 0)
        _exit(3);
    gdc_timeouts(c.fd, 30);
    int64_t sent = 0, got = 0;
    char key[48];
    bool incr = who == WRITERS; /* the last child increments */
    for (;;) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        while (sent - got < WINDOW) {
            if (incr) {
                gdc_build(&c, &out, "increment", "s", "kill-counter");
                atomic_fetch_add(&acks->incr_sent, 1);
            } else {
                snprintf(key, sizeof key, "w%d-r%d-%lld", who, acks->round, (long long)sent);
                gdc_build(&c, &out, "set", "si", key, sent);
            }
            sent++;
        }
        int wrc = gdc_write_all(c.fd, out.data, out.size);
        msgpack_sbuffer_destroy(&out);
        if (wrc != 0)
            break;
        gdc_resp_t r = gdc_recv(&c);
        if (r.rc != 0)
            break;
        if (r.status != WM_GD_OK)
            _exit(4);
        got++;
        if (incr)
            atomic_fetch_add(&acks->incr_acked, 1);
        else
            atomic_store(&acks->acked[who], got);
    }
    gdc_close(&c);
}

static void start_writers(uint16_t port, pid_t *pids)
{
    for (int i = 0; i <= WRITERS; i++) {
        fflush(stderr);
        pids[i] = fork();
        ASSERT(pids[i] >= 0);
        if (pids[i] == 0) {
            kill_writer(port, i);
            _exit(0);
        }
    }
}

static void check_round(gdc_t *c, int round, const int64_t *acked)
{
    char key[48];
    for (int w = 0; w < WRITERS; w++) {
        /* Pipelined gets of every acknowledged key. */
        for (int64_t base = 0; base < acked[w]; base += 200) {
            msgpack_sbuffer out;
            msgpack_sbuffer_init(&out);
            int64_t n = acked[w] - base < 200 ? acked[w] - base : 200;
            for (int64_t i = 0; i < n; i++) {
                snprintf(key, sizeof key, "w%d-r%d-%lld", w, round, (long long)(base + i));
                gdc_build(c, &out, "get", "s", key);
            }
            ASSERT_EQ(gdc_write_all(c->fd, out.data, out.size), 0);
            for (int64_t i = 0; i < n; i++) {
                gdc_resp_t r = gdc_recv(c);
                ASSERT_EQ(r.rc, 0);
                if (r.status != WM_GD_OK)
                    WM_TEST_FAIL("round %d: writer %d's acknowledged key %lld is lost", round, w,
                                 (long long)(base + i));
                ASSERT_EQ(gdc_int(r.result), base + i);
            }
            msgpack_sbuffer_destroy(&out);
        }
    }
}

static void test_kill9_full(void)
{
    static const char *const extra[] = {"--durability", "full", NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    acks = mmap(NULL, sizeof *acks, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT(acks != MAP_FAILED);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    must(gdc_call(&c, "set", "si", "kill-counter", (int64_t)0), WM_GD_OK);
    gdc_close(&c);
    int64_t acked[ROUNDS][WRITERS];
    srand((unsigned)getpid());
    for (int round = 0; round < ROUNDS; round++) {
        for (int w = 0; w < WRITERS; w++)
            atomic_store(&acks->acked[w], 0);
        acks->round = round;
        pid_t pids[WRITERS + 1];
        start_writers(s.port, pids);
        sleep_ms(300 + rand() % 400);
        proc_kill9(&s);
        for (int i = 0; i <= WRITERS; i++)
            waitpid(pids[i], NULL, 0);
        int64_t total = 0;
        for (int w = 0; w < WRITERS; w++)
            total += acked[round][w] = atomic_load(&acks->acked[w]);
        fprintf(stderr, "round %d: %lld sets and %lld increments acknowledged before SIGKILL\n",
                round, (long long)total, (long long)atomic_load(&acks->incr_acked));
        ASSERT_GT(total, 0);
        proc_start(&s);
        c = connect_to(&s);
        for (int r = 0; r <= round; r++)
            check_round(&c, r, acked[r]);
        /* Every acknowledged increment is there; unacknowledged ones may be. */
        gdc_resp_t r = must(gdc_call(&c, "get", "s", "kill-counter"), WM_GD_OK);
        ASSERT_GE(gdc_int(r.result), atomic_load(&acks->incr_acked));
        ASSERT_LE(gdc_int(r.result), atomic_load(&acks->incr_sent));
        /* Count from what survived, so the next round's bound is exact. */
        atomic_store(&acks->incr_acked, gdc_int(r.result));
        atomic_store(&acks->incr_sent, gdc_int(r.result));
        gdc_close(&c);
    }
    proc_cleanup(&s);
}

/* ---- Odds and ends ------------------------------------------------------- */

static void test_second_server(void)
{
    gd_proc_t s, t;
    proc_init(&s, NULL);
    proc_start(&s);
    proc_init(&t, NULL);
    snprintf(t.db, sizeof t.db, "%s", s.db);
    int st;
    ASSERT_EQ(proc_start_status(&t, &st), -1);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "grep -q 'in use by another process' %s", t.log);
    ASSERT_EQ(system(cmd), 0);
    gdc_t c = connect_to(&s);
    must(gdc_call(&c, "ping", ""), WM_GD_OK);
    gdc_close(&c);
    proc_cleanup(&t);
    proc_cleanup(&s);
}

static void test_unix_socket(void)
{
    char path[128], listen[160];
    gd_proc_t s;
    proc_init(&s, NULL);
    snprintf(path, sizeof path, "%s/gd.sock", s.dir);
    snprintf(listen, sizeof listen, "unix://%s", path);
    const char *argv[] = {GD_SERVER_BIN, "--listen", listen,    "--data",
                          s.db,          "start",    s.pidfile, NULL};
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(s.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        execv(argv[0], (char **)argv);
        _exit(127);
    }
    s.master = pid;
    gdc_t c;
    int i;
    for (i = 0; i < 500 && gdc_connect_unix(&c, path) != 0; i++)
        sleep_ms(10);
    ASSERT_LT(i, 500);
    must(gdc_call(&c, "set", "ss", "u", "nix"), WM_GD_OK);
    gdc_resp_t r = must(gdc_call(&c, "get", "s", "u"), WM_GD_OK);
    ASSERT(gdc_is_str(r.result, "nix"));
    gdc_close(&c);
    proc_cleanup(&s);
}

/* ---- walkor/GlobalData's format ------------------------------------------ */

/* Sends one PHP request (a frame with a serialize() body, built by hand from
 * the format's description) and checks the reply's bytes. */
static void php_expect(gdc_t *c, const char *req, const char *reply)
{
    ASSERT_EQ(gdc_send_frame(c, req, strlen(req)), 0);
    ssize_t n = gdc_read_frame(c);
    ASSERT_GE(n, 0);
    c->buf[n] = '\0';
    ASSERT_STR_EQ(c->buf, reply);
}

/* Every command byte for byte, a float, the cas md5, and values crossing
 * between the PHP and the MessagePack formats on one server. */
static void test_php_format(void)
{
    gd_proc_t s;
    proc_init(&s, NULL);
    proc_start(&s);
    gdc_t php = connect_to(&s);
    gdc_t mp = connect_to(&s);

    /* The frame header by hand: "ping" is 00 00 00 08 'ping' and gets no
     * answer; set k = 0.1 is answered b:1; in a 8-byte frame. */
    static const char ping[] = "\x00\x00\x00\x08ping";
    ASSERT_EQ(gdc_write_all(php.fd, ping, 8), 0);
    static const char set[] =
        "a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:1:\"k\";s:5:\"value\";d:0.1;}";
    unsigned char head[4] = {0, 0, 0, (unsigned char)(sizeof set - 1 + 4)};
    ASSERT_EQ(gdc_write_all(php.fd, head, 4), 0);
    ASSERT_EQ(gdc_write_all(php.fd, set, sizeof set - 1), 0);
    char reply[8];
    ASSERT_EQ(gdc_read_all(php.fd, reply, 8), 0);
    ASSERT_MEM_EQ(reply,
                  "\x00\x00\x00\x08"
                  "b:1;",
                  8);

    /* A MessagePack client reads the float PHP wrote: cb 3f b9 99 99 99 99 99 9a. */
    gdc_resp_t r = must(gdc_call(&mp, "get", "s", "k"), WM_GD_OK);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_FLOAT64);
    ASSERT(r.result.via.f64 == 0.1);
    php_expect(&php, "a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:1:\"k\";}", "d:0.1;");

    /* cas: md5(serialize(0.1)) = md5("d:0.1;"); a wrong md5 fails. */
    php_expect(&php,
               "a:4:{s:3:\"cmd\";s:3:\"cas\";s:3:\"md5\";s:32:\"dcca48101505dd86b703689a604fe3c4\";"
               "s:3:\"key\";s:1:\"k\";s:5:\"value\";i:5;}",
               "b:0;");
    php_expect(&php,
               "a:4:{s:3:\"cmd\";s:3:\"cas\";s:3:\"md5\";s:32:\"33dd01eec3d5706fd646e0d2723d0650\";"
               "s:3:\"key\";s:1:\"k\";s:5:\"value\";i:5;}",
               "b:1;");
    r = must(gdc_call(&mp, "get", "s", "k"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 5);
    /* cas on a missing key compares with md5(serialize(null)) = md5("N;"). */
    php_expect(&php,
               "a:4:{s:3:\"cmd\";s:3:\"cas\";s:3:\"md5\";s:32:\"dcca48101505dd86b703689a604fe3c4\";"
               "s:3:\"key\";s:2:\"c2\";s:5:\"value\";s:2:\"hi\";}",
               "b:1;");
    r = must(gdc_call(&mp, "get", "s", "c2"), WM_GD_OK);
    ASSERT(gdc_is_str(r.result, "hi"));

    /* increment: by an int, by a float, a missing key. */
    php_expect(&php, "a:3:{s:3:\"cmd\";s:9:\"increment\";s:3:\"key\";s:1:\"k\";s:4:\"step\";i:2;}",
               "i:7;");
    php_expect(&php,
               "a:3:{s:3:\"cmd\";s:9:\"increment\";s:3:\"key\";s:1:\"k\";s:4:\"step\";d:0.5;}",
               "d:7.5;");
    php_expect(&php,
               "a:3:{s:3:\"cmd\";s:9:\"increment\";s:3:\"key\";s:4:\"none\";s:4:\"step\";i:1;}",
               "b:0;");
    r = must(gdc_call(&mp, "get", "s", "k"), WM_GD_OK);
    ASSERT(r.result.type == MSGPACK_OBJECT_FLOAT64 && r.result.via.f64 == 7.5);

    /* add, delete, get of a missing key. */
    php_expect(&php, "a:3:{s:3:\"cmd\";s:3:\"add\";s:3:\"key\";s:1:\"k\";s:5:\"value\";b:1;}",
               "b:0;");
    php_expect(&php,
               "a:3:{s:3:\"cmd\";s:3:\"add\";s:3:\"key\";s:1:\"a\";s:5:\"value\";"
               "a:2:{s:1:\"x\";i:-1;i:7;N;}}",
               "b:1;");
    r = must(gdc_call(&mp, "get", "s", "a"), WM_GD_OK);
    ASSERT_EQ(r.result.type, MSGPACK_OBJECT_MAP);
    ASSERT_EQ(gdc_int(gdc_map_get(r.result, "x")), -1);
    php_expect(&php, "a:2:{s:3:\"cmd\";s:6:\"delete\";s:3:\"key\";s:1:\"a\";}", "b:1;");
    php_expect(&php, "a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:1:\"a\";}", "N;");
    must(gdc_call(&mp, "get", "s", "a"), WM_GD_NOT_FOUND);

    /* MessagePack in, PHP out: a list is a PHP list, a map a PHP array. */
    static const char list[] = {(char)0x92, 0x01, (char)0xa1, 'a'};
    must(gdc_call(&mp, "set", "sr", "m", list, sizeof list), WM_GD_OK);
    php_expect(&php, "a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:1:\"m\";}",
               "a:2:{i:0;i:1;i:1;s:1:\"a\";}");
    must(gdc_call(&mp, "set", "si", "n", (int64_t)-3), WM_GD_OK);
    php_expect(&php, "a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:1:\"n\";}", "i:-3;");
    gdc_close(&php);

    /* A bad request is answered serialize('bad request') and closed; an
     * unknown cmd as the original does; an object is never instantiated. */
    static const char *const bad[] = {
        "a:1:{s:3:\"cmd\";s:3:\"get\";}",
        "a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:1:\"o\";s:5:\"value\";O:8:\"stdClass\":0:{}}",
        "a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:1:\"k\"", /* truncated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gdc_t c = connect_to(&s);
        php_expect(&c, bad[i], "s:11:\"bad request\";");
        ASSERT(gdc_closed_within(&c, 3000));
        gdc_close(&c);
    }
    gdc_t c = connect_to(&s);
    php_expect(&c, "a:2:{s:3:\"cmd\";s:4:\"flip\";s:3:\"key\";s:1:\"k\";}",
               "s:12:\"bad cmd flip\";");
    ASSERT(gdc_closed_within(&c, 3000));
    gdc_close(&c);
    must(gdc_call(&mp, "get", "s", "o"), WM_GD_NOT_FOUND);
    must(gdc_call(&mp, "ping", ""), WM_GD_OK);
    gdc_close(&mp);
    proc_cleanup(&s);
}

/* With --auth the PHP format (which has no way to authenticate) is refused. */
static void test_php_auth(void)
{
    static const char *const extra[] = {"--auth", "s3cret", NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    ASSERT_EQ(gdc_send_frame(&c, "ping", 4), 0);
    php_expect(&c, "a:2:{s:3:\"cmd\";s:3:\"get\";s:3:\"key\";s:1:\"k\";}",
               "s:66:\"bad request: this server requires auth, which the PHP format lacks\";");
    ASSERT(gdc_closed_within(&c, 3000));
    gdc_close(&c);
    proc_cleanup(&s);
}

/* With --durability full, a PHP write acknowledged just before a SIGKILL is
 * there after the restart. */
static void test_php_full(void)
{
    static const char *const extra[] = {"--durability", "full", NULL};
    gd_proc_t s;
    proc_init(&s, extra);
    proc_start(&s);
    gdc_t c = connect_to(&s);
    char req[128], key[16];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "p%03d", i);
        snprintf(req, sizeof req,
                 "a:3:{s:3:\"cmd\";s:3:\"set\";s:3:\"key\";s:4:\"%s\";s:5:\"value\";i:%d;}", key,
                 i);
        php_expect(&c, req, "b:1;");
    }
    gdc_close(&c);
    proc_kill9(&s);
    proc_start(&s);
    c = connect_to(&s);
    gdc_resp_t r = must(gdc_call(&c, "get", "s", "p199"), WM_GD_OK);
    ASSERT_EQ(gdc_int(r.result), 199);
    r = must(gdc_call(&c, "stats", ""), WM_GD_OK);
    ASSERT_EQ(gdc_int(gdc_map_get(r.result, "keys")), 200);
    gdc_close(&c);
    proc_cleanup(&s);
}

static void test_cli(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s --version | grep -q '^globaldata-server %s$'", GD_SERVER_BIN,
             WM_VERSION);
    ASSERT_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s --help | grep -q -- '--durability'", GD_SERVER_BIN);
    ASSERT_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s --durability fast start 2>/dev/null", GD_SERVER_BIN);
    int st = system(cmd);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

static const wm_test_case_t cases[] = {{"ops", test_ops},
                                       {"errors", test_errors},
                                       {"pipeline", test_pipeline},
                                       {"expiry", test_expiry},
                                       {"auth", test_auth},
                                       {"incr_procs", test_incr_procs},
                                       {"cas_race", test_cas_race},
                                       {"restart", test_restart},
                                       {"memory", test_memory},
                                       {"kill9_full", test_kill9_full},
                                       {"second_server", test_second_server},
                                       {"unix_socket", test_unix_socket},
                                       {"php_format", test_php_format},
                                       {"php_auth", test_php_auth},
                                       {"php_full", test_php_full},
                                       {"cli", test_cli},
                                       {NULL, NULL}};

int main(int argc, char **argv)
{
    return wm_test_main(argc, argv, cases);
}
