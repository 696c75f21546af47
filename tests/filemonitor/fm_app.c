/* SPDX-License-Identifier: MIT */
/* fm_app: the "user's program" of the end-to-end tests. An HTTP worker
 * answers "<VERSION> <pid>"; with --src it also runs the monitor worker,
 * which rebuilds this very file with --build and reloads gracefully. The
 * test copies this source, builds it, starts it, edits VERSION and watches
 * the new code come up. /grow allocates and touches 128 MB (kept), for the
 * memory watchdog (--mem-limit MB).
 *
 *   fm_app --listen URL [--src DIR --build CMD] [--mem-limit MB] COMMAND ... */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wm/filemonitor.h>

#define VERSION "v1"

static char *hoard[64]; /* /grow's memory, reachable (no leak report at exit) */
static int hoarded;

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    const wm_http_request_t *req = msg->extra;
    if (strcmp(wm_http_request_path(req), "/grow") == 0) {
        char *p = hoarded < 64 ? malloc(128u << 20) : NULL;
        if (p)
            memset(p, 1, 128u << 20); /* resident, and kept */
        if (p)
            hoard[hoarded++] = p;
    }
    char body[64];
    int n = snprintf(body, sizeof body, "%s %d\n", VERSION, (int)getpid());
    wm_http_reply(c, 200, "text/plain", body, (size_t)n);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"src", required_argument, NULL, 's'},
                                         {"build", required_argument, NULL, 'b'},
                                         {"mem-limit", required_argument, NULL, 'm'},
                                         {NULL, 0, NULL, 0}};
    const char *url = NULL, *src = NULL, *build = NULL;
    uint64_t mem_mb = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (opt == 'l')
            url = optarg;
        else if (opt == 's')
            src = optarg;
        else if (opt == 'b')
            build = optarg;
        else if (opt == 'm')
            mem_mb = strtoull(optarg, NULL, 10);
        else
            return 2;
    }
    wm_worker_t *w = url ? wm_worker_new(url) : NULL;
    if (!w)
        return 2;
    wm_worker_set_name(w, "app");
    wm_worker_on_message(w, on_message, NULL);
    if (mem_mb)
        wm_set_memory_limit(mem_mb << 20);
    if (src) {
        const char *paths[] = {src, NULL};
        const char *includes[] = {"*.c", "*.h", NULL};
        wm_fm_monitor_opts_t m = {.paths = paths,
                                  .includes = includes,
                                  .build_command = build,
                                  .watch = {.debounce_ms = 100},
                                  .graceful = true};
        if (!wm_fm_add_monitor_worker(&m))
            return 2;
    }
    return wm_run_all(argc - optind + 1, (argv[optind - 1] = argv[0], argv + optind - 1));
}
