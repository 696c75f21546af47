/* SPDX-License-Identifier: MIT */
/* globaldata-cli: one GlobalData operation from the command line, for
 * operators and scripts, on the blocking client (wm_gd_sync_*). Values go in
 * and come out as JSON. The JSON reader and writer here are minimal (UTF-8
 * passes through, \uXXXX escapes of the BMP are decoded, surrogate pairs
 * too); they are to be replaced by libwm's JSON module once it lands.
 * Exit status: 0 ok, 1 the key was not found (get, ttl) or another server
 * answer, 2 bad usage, 3 the server could not be reached. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <wm/globaldata.h>

#define MAX_SERVERS 64
#define MAX_DEPTH 64

static void usage(FILE *f)
{
    fprintf(f, "usage: globaldata-cli [--server URL]... [--auth SECRET] COMMAND ARGS\n"
               "  get KEY                    print the value as JSON\n"
               "  set KEY JSON [--ttl SECS]  store a JSON value (as MessagePack)\n"
               "  delete KEY                 print true or false\n"
               "  incr KEY [STEP]            print the new value\n"
               "  ttl KEY                    print the seconds left, or null\n"
               "  keys [PREFIX]              print the keys, one a line (every server)\n"
               "  stats                      print each server's counters as JSON\n"
               "  --server URL   HOST:PORT or unix:///PATH (default 127.0.0.1:2207;\n"
               "                 repeat for several servers, in the same order as the apps)\n"
               "  --auth SECRET  the server's --auth secret\n"
               "  --timeout MS   per request (default 5000)\n");
}

/* ---- JSON -> MessagePack -------------------------------------------------- */

typedef struct jreader {
    const char *p, *end;
    msgpack_packer *pk;
    msgpack_sbuffer *tmp;
} jreader_t;

static void skip_ws(jreader_t *r)
{
    while (r->p < r->end && isspace((unsigned char)*r->p))
        r->p++;
}

static void put_utf8(msgpack_sbuffer *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    }
    msgpack_sbuffer_write(b, u, n);
}

static int hex4(const char *p, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d = isdigit(c)    ? c - '0'
                                         : isxdigit(c) ? (tolower(c) - 'a' + 10)
                                                       : -1;
        if (d < 0)
            return -1;
        *out = *out << 4 | (unsigned)d;
    }
    return 0;
}

/* A JSON string into r->tmp (decoded). */
static int read_string(jreader_t *r)
{
    msgpack_sbuffer_clear(r->tmp);
    r->p++; /* the quote */
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c != '\\') {
            msgpack_sbuffer_write(r->tmp, &c, 1);
            continue;
        }
        if (r->p >= r->end)
            return -1;
        c = *r->p++;
        const char *simple = strchr("\"\\/bfnrt", c);
        if (simple && c) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            msgpack_sbuffer_write(r->tmp, &map[simple - "\"\\/bfnrt"], 1);
            continue;
        }
        unsigned cp, lo;
        if (c != 'u' || r->end - r->p < 4 || hex4(r->p, &cp) != 0)
            return -1;
        r->p += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && r->end - r->p >= 6 && r->p[0] == '\\' &&
            r->p[1] == 'u' && hex4(r->p + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            r->p += 6;
        }
        put_utf8(r->tmp, cp);
    }
    if (r->p >= r->end)
        return -1;
    r->p++;
    return 0;
}

static int read_value(jreader_t *r, int depth);

/* Arrays and objects: the count is known only at the end, so the elements
 * go to a nested buffer first. */
static int read_container(jreader_t *r, int depth, bool object)
{
    msgpack_sbuffer body, tmp;
    msgpack_packer pk;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    jreader_t inner = {r->p + 1, r->end, &pk, &tmp};
    uint32_t n = 0;
    int rc = 0;
    skip_ws(&inner);
    if (inner.p < inner.end && *inner.p == (object ? '}' : ']')) {
        inner.p++;
    } else {
        for (;;) {
            skip_ws(&inner);
            if (object) {
                if (inner.p >= inner.end || *inner.p != '"' || read_string(&inner) != 0) {
                    rc = -1;
                    break;
                }
                msgpack_pack_str_with_body(&pk, tmp.data, tmp.size);
                skip_ws(&inner);
                if (inner.p >= inner.end || *inner.p++ != ':') {
                    rc = -1;
                    break;
                }
            }
            if ((rc = read_value(&inner, depth + 1)) != 0)
                break;
            n++;
            skip_ws(&inner);
            if (inner.p < inner.end && *inner.p == ',') {
                inner.p++;
                continue;
            }
            if (inner.p < inner.end && *inner.p == (object ? '}' : ']')) {
                inner.p++;
                break;
            }
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        object ? msgpack_pack_map(r->pk, n) : msgpack_pack_array(r->pk, n);
        if (body.size)
            r->pk->callback(r->pk->data, body.data, body.size);
        r->p = inner.p;
    }
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&tmp);
    return rc;
}

static int read_number(jreader_t *r)
{
    char buf[64], *end;
    size_t n = 0;
    bool is_float = false;
    while (r->p + n < r->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", r->p[n])) {
        is_float |= r->p[n] == '.' || r->p[n] == 'e' || r->p[n] == 'E';
        n++;
    }
    memcpy(buf, r->p, n);
    buf[n] = '\0';
    if (n == 0)
        return -1;
    if (!is_float) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0' && errno == 0) {
            msgpack_pack_int64(r->pk, v);
            r->p += n;
            return 0;
        }
    }
    double d = strtod(buf, &end);
    if (*end != '\0')
        return -1;
    msgpack_pack_double(r->pk, d);
    r->p += n;
    return 0;
}

static bool word(jreader_t *r, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return false;
    r->p += n;
    return true;
}

static int read_value(jreader_t *r, int depth)
{
    skip_ws(r);
    if (r->p >= r->end || depth > MAX_DEPTH)
        return -1;
    switch (*r->p) {
    case '{':
        return read_container(r, depth, true);
    case '[':
        return read_container(r, depth, false);
    case '"':
        if (read_string(r) != 0)
            return -1;
        return msgpack_pack_str_with_body(r->pk, r->tmp->data, r->tmp->size);
    case 't':
        return word(r, "true") ? msgpack_pack_true(r->pk) : -1;
    case 'f':
        return word(r, "false") ? msgpack_pack_false(r->pk) : -1;
    case 'n':
        return word(r, "null") ? msgpack_pack_nil(r->pk) : -1;
    default:
        return read_number(r);
    }
}

static int json_to_msgpack(const char *json, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_sbuffer tmp;
    msgpack_sbuffer_init(&tmp);
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    jreader_t r = {json, json + strlen(json), &pk, &tmp};
    int rc = read_value(&r, 0);
    skip_ws(&r);
    msgpack_sbuffer_destroy(&tmp);
    return rc == 0 && r.p == r.end ? 0 : -1;
}

/* ---- MessagePack -> JSON -------------------------------------------------- */

static void print_string(const char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_json(const wm_gd_val_t *v)
{
    wm_gd_val_t k, e;
    switch (v->type) {
    case WM_GD_TYPE_NIL:
    case WM_GD_TYPE_EXT:
        fputs("null", stdout);
        break;
    case WM_GD_TYPE_BOOL:
        fputs(v->b ? "true" : "false", stdout);
        break;
    case WM_GD_TYPE_INT:
        printf("%lld", (long long)v->i);
        break;
    case WM_GD_TYPE_UINT:
        printf("%llu", (unsigned long long)v->u);
        break;
    case WM_GD_TYPE_FLOAT:
        printf("%.17g", v->f);
        break;
    case WM_GD_TYPE_STR:
    case WM_GD_TYPE_BIN:
        print_string(v->data, v->len);
        break;
    case WM_GD_TYPE_ARRAY:
    case WM_GD_TYPE_MAP:
        putchar(v->type == WM_GD_TYPE_MAP ? '{' : '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                putchar(',');
            wm_gd_val_at(v, i, &k, &e);
            if (v->type == WM_GD_TYPE_MAP) {
                if (k.type == WM_GD_TYPE_STR || k.type == WM_GD_TYPE_BIN)
                    print_string(k.data, k.len);
                else {
                    putchar('"');
                    print_json(&k); /* a non-string key, quoted */
                    putchar('"');
                }
                putchar(':');
            }
            print_json(&e);
        }
        putchar(v->type == WM_GD_TYPE_MAP ? '}' : ']');
        break;
    }
}

/* ---- Commands ------------------------------------------------------------- */

static int report(int rc, const wm_gd_val_t *v)
{
    if (rc == WM_OK)
        return 0;
    if (v && v->type == WM_GD_TYPE_STR && !wm_gd_val_is_str(v, wm_gd_strerror(rc)))
        fprintf(stderr, "globaldata-cli: %s: %.*s\n", wm_gd_strerror(rc), (int)v->len, v->data);
    else
        fprintf(stderr, "globaldata-cli: %s\n", wm_gd_strerror(rc));
    return rc == WM_ECONNREFUSED || rc == WM_ENOTCONN || rc == WM_ETIMEDOUT ||
                   rc == WM_ECONNRESET || rc == WM_EDNS
               ? 3
               : 1;
}

static int cmd_keys(wm_gd_sync_t *s, const char *prefix)
{
    for (size_t i = 0; i < wm_gd_sync_server_count(s); i++) {
        char cursor[1100] = "";
        bool more = true;
        while (more) {
            wm_gd_val_t v, next, list, k;
            int rc = wm_gd_sync_keys(s, i, prefix, cursor[0] ? cursor : NULL, 1000, &v);
            if (rc != WM_OK)
                return report(rc, &v);
            wm_gd_val_at(&v, 0, NULL, &next);
            wm_gd_val_at(&v, 1, NULL, &list);
            for (size_t j = 0; j < list.len; j++) {
                wm_gd_val_at(&list, j, NULL, &k);
                printf("%.*s\n", (int)k.len, k.data);
            }
            more = next.type == WM_GD_TYPE_STR && next.len < sizeof cursor;
            if (more)
                snprintf(cursor, sizeof cursor, "%.*s", (int)next.len, next.data);
        }
    }
    return 0;
}

static int run(wm_gd_sync_t *s, int argc, char **argv, uint64_t ttl_s)
{
    const char *cmd = argv[0];
    wm_gd_val_t v;
    int rc;
    if (!strcmp(cmd, "get") && argc == 2) {
        rc = wm_gd_sync_get(s, argv[1], &v);
    } else if (!strcmp(cmd, "set") && argc == 3) {
        msgpack_sbuffer mp;
        msgpack_sbuffer_init(&mp);
        if (json_to_msgpack(argv[2], &mp) != 0) {
            fprintf(stderr, "globaldata-cli: the value is not valid JSON: %s\n", argv[2]);
            msgpack_sbuffer_destroy(&mp);
            return 2;
        }
        rc = wm_gd_sync_set(s, argv[1], wm_gd_msgpack(mp.data, mp.size), ttl_s * 1000, &v);
        msgpack_sbuffer_destroy(&mp);
        if (rc == WM_OK)
            return 0;
    } else if (!strcmp(cmd, "delete") && argc == 2) {
        rc = wm_gd_sync_delete(s, argv[1], &v);
    } else if (!strcmp(cmd, "incr") && (argc == 2 || argc == 3)) {
        char *end;
        long long step = argc == 3 ? strtoll(argv[2], &end, 10) : 1;
        if (argc == 3 && (*end || !*argv[2])) {
            fprintf(stderr, "globaldata-cli: the step is an integer\n");
            return 2;
        }
        rc = wm_gd_sync_increment(s, argv[1], step, &v);
    } else if (!strcmp(cmd, "ttl") && argc == 2) {
        rc = wm_gd_sync_ttl(s, argv[1], &v);
        if (rc == WM_OK && v.type == WM_GD_TYPE_INT) {
            printf("%.3f\n", (double)v.i / 1000.0);
            return 0;
        }
    } else if (!strcmp(cmd, "keys") && argc <= 2) {
        return cmd_keys(s, argc == 2 ? argv[1] : NULL);
    } else if (!strcmp(cmd, "stats") && argc == 1) {
        for (size_t i = 0; i < wm_gd_sync_server_count(s); i++) {
            if ((rc = wm_gd_sync_stats(s, i, &v)) != WM_OK)
                return report(rc, &v);
            print_json(&v);
            putchar('\n');
        }
        return 0;
    } else {
        usage(stderr);
        return 2;
    }
    if (rc != WM_OK)
        return report(rc, &v);
    print_json(&v);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv)
{
    const char *servers[MAX_SERVERS];
    wm_gd_options_t opt = {.servers = servers};
    uint64_t ttl_s = 0;
    int i = 1, n = 0;
    char *rest[4];
    while (i < argc) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--server") && i + 1 < argc && opt.server_count < MAX_SERVERS) {
            servers[opt.server_count++] = argv[i + 1], i += 2;
        } else if (!strcmp(a, "--auth") && i + 1 < argc) {
            opt.auth = argv[i + 1], i += 2;
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            opt.timeout_ms = strtoull(argv[i + 1], NULL, 10), i += 2;
        } else if (!strcmp(a, "--ttl") && i + 1 < argc) {
            ttl_s = strtoull(argv[i + 1], NULL, 10), i += 2;
            if (ttl_s == 0) {
                fprintf(stderr, "globaldata-cli: --ttl takes a positive number of seconds\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1] == '-') {
            usage(stderr);
            return 2;
        } else if (n < 4) {
            rest[n++] = argv[i++];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (n == 0) {
        usage(stderr);
        return 2;
    }
    if (opt.server_count == 0)
        servers[opt.server_count++] = "127.0.0.1:2207";
    wm_gd_sync_t *s = wm_gd_sync_new(&opt);
    if (!s) {
        fprintf(stderr, "globaldata-cli: bad --server address\n");
        return 2;
    }
    int rc = run(s, n, rest, ttl_s);
    wm_gd_sync_free(s);
    return rc;
}
