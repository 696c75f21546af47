/* SPDX-License-Identifier: MIT */
/* globaldata-cli: one GlobalData operation from the command line, for
 * operators and scripts, on the blocking client (wm_gd_sync_*). Values go in
 * and come out as JSON, converted by gd_json.c on libwm's JSON module.
 * Exit status: 0 ok, 1 the key was not found (get, ttl) or another server
 * answer, 2 bad usage, 3 the server could not be reached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <wm/globaldata.h>

#include "gd_json.h"

#define MAX_SERVERS 64

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

/* ---- Values as JSON ------------------------------------------------------ */

/* Prints one value (its encoded bytes) as JSON and a newline. */
static int print_json(const wm_gd_val_t *v)
{
    wm_json_writer_t *w = wm_json_writer_new();
    int rc = w ? wm__gd_msgpack_to_json(v->mp, v->mp_len, w) : WM_ENOMEM;
    size_t len;
    const char *text = rc == WM_OK ? wm_json_writer_text(w, &len) : NULL;
    if (text) {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    } else {
        fprintf(stderr, "globaldata-cli: cannot show the value as JSON: %s\n", wm_strerror(rc));
    }
    wm_json_writer_free(w);
    return text ? 0 : 1;
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
        wm_json_error_t err = {0, ""};
        msgpack_sbuffer_init(&mp);
        if ((rc = wm__gd_json_to_msgpack(argv[2], strlen(argv[2]), &mp, &err)) != WM_OK) {
            if (rc == WM_ENOMEM)
                fprintf(stderr, "globaldata-cli: out of memory reading the value\n");
            else
                fprintf(stderr,
                        "globaldata-cli: the value is not valid JSON at byte %zu (%s): %s\n",
                        err.offset, err.reason, argv[2]);
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
            if (print_json(&v) != 0)
                return 1;
        }
        return 0;
    } else {
        usage(stderr);
        return 2;
    }
    if (rc != WM_OK)
        return report(rc, &v);
    return print_json(&v);
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
