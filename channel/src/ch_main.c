/* SPDX-License-Identifier: MIT */
/* channel-server: pub/sub and durable queues for processes and machines,
 * speaking MessagePack and walkor/channel's PHP format on one port. This
 * file reads the command line; ch_server.c is the server. Options come
 * first, then the wm command (start, stop, status...):
 *
 *   channel-server --listen 127.0.0.1:2206 --data var/channel.db start -d
 *
 * docs/channel.md is the user's guide; docs/protocol.md the wire format. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ch_int.h"
#include "svc_cli.h"

#define DEFAULT_LISTEN "127.0.0.1:2206"
#define DEFAULT_DATA "var/channel.db"

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] start|stop|restart|reload|status|connections [-d|-g]\n"
            "Pub/sub (subscribe, publish, publish_loop, glob patterns) and durable queues\n"
            "(enqueue, watch, ack, redelivery) over the frame protocol with MessagePack\n"
            "bodies; walkor/channel's PHP clients work on the same port.\n"
            "  --listen ADDR          HOST:PORT, [IPv6]:PORT, unix:///PATH or a frame:// URL\n"
            "                         (default " DEFAULT_LISTEN ")\n"
            "  --data FILE            the SQLite file for queues (default ./" DEFAULT_DATA ")\n"
            "  --auth SECRET          clients must send [id, \"auth\", SECRET] first\n"
            "  --max-buffer BYTES     unsent pushes one connection may hold (default %d)\n"
            "  --slow-policy POLICY   for a subscriber that reads too slowly:\n"
            "                         drop-oldest (default): past half the bound, pushes\n"
            "                         wait as whole messages in a backlog of the other\n"
            "                         half, which drops its oldest to make room;\n"
            "                         disconnect: past the bound, the connection is\n"
            "                         closed. Both are counted (stats, status).\n"
            "  --inflight N           queue messages a watcher holds unacked (default %d)\n"
            "  --visibility-ms MS     redeliver a message not acked in MS (default %d)\n"
            "  --max-frame BYTES      largest request frame (default %d)\n"
            "  --version              print the version\n"
            "  --help                 this text\n"
            "Commands and their options (--pid-file=, --log-file=, ...): see docs/operations.md.\n"
            "Example: %s --data /var/lib/channel.db --slow-policy disconnect start -d\n",
            prog, WM_CH_DEFAULT_MAX_BUFFER, WM_CH_DEFAULT_INFLIGHT, WM_CH_DEFAULT_VISIBILITY_MS,
            WM_CH_DEFAULT_MAX_FRAME, prog);
}

static int parse_count(const char *prog, const char *opt, const char *s, long max, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1 || v > max) {
        fprintf(stderr, "%s: %s wants a number from 1 to %ld, not '%s'\n", prog, opt, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Checks, before a master starts, that the data file opens (and is not in
 * use by another server), so a mistake is an exit status here rather than a
 * worker restarting with a back-off. Not in the worker process. */
static int check_data(const char *prog, const wm__ch_config_t *cfg, const char *command)
{
    if (!command || strcmp(command, "start") != 0 || getenv("WM_WORKER"))
        return 0;
    char err[512];
    wm__svc_make_parent_dir(cfg->data);
    wm__ch_persist_t *p = wm__ch_persist_open(cfg->data, err, sizeof err);
    if (!p) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    wm__ch_persist_close(p);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"auth", required_argument, NULL, 'a'},
                                         {"max-buffer", required_argument, NULL, 'b'},
                                         {"slow-policy", required_argument, NULL, 'p'},
                                         {"inflight", required_argument, NULL, 'i'},
                                         {"visibility-ms", required_argument, NULL, 't'},
                                         {"max-frame", required_argument, NULL, 'f'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static wm__ch_config_t cfg = {.data = DEFAULT_DATA,
                                  .max_frame = WM_CH_DEFAULT_MAX_FRAME,
                                  .max_buffer = WM_CH_DEFAULT_MAX_BUFFER,
                                  .slow_policy = WM_CH_SLOW_DROP_OLDEST,
                                  .inflight = WM_CH_DEFAULT_INFLIGHT,
                                  .visibility_ms = WM_CH_DEFAULT_VISIBILITY_MS};
    static char url[600];
    const char *listen = DEFAULT_LISTEN;
    long n;
    int opt;

    /* "+": stop at the first command word, so "start -d" reaches wm_run_all. */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            listen = optarg;
            break;
        case 'D':
            cfg.data = optarg;
            break;
        case 'a':
            if (!*optarg) {
                fprintf(stderr, "%s: --auth wants a non-empty secret\n", argv[0]);
                return 2;
            }
            cfg.auth = optarg;
            break;
        case 'b':
            if (wm__svc_parse_size(argv[0], "--max-buffer", optarg, &cfg.max_buffer) < 0)
                return 2;
            break;
        case 'p':
            if (strcmp(optarg, "drop-oldest") == 0)
                cfg.slow_policy = WM_CH_SLOW_DROP_OLDEST;
            else if (strcmp(optarg, "disconnect") == 0)
                cfg.slow_policy = WM_CH_SLOW_DISCONNECT;
            else {
                fprintf(stderr, "%s: --slow-policy is drop-oldest or disconnect, not '%s'\n",
                        argv[0], optarg);
                return 2;
            }
            break;
        case 'i':
            if (parse_count(argv[0], "--inflight", optarg, WM_CH_MAX_INFLIGHT, &n) < 0)
                return 2;
            cfg.inflight = (uint32_t)n;
            break;
        case 't':
            if (parse_count(argv[0], "--visibility-ms", optarg, 24L * 3600 * 1000, &n) < 0)
                return 2;
            cfg.visibility_ms = n;
            break;
        case 'f':
            if (wm__svc_parse_size(argv[0], "--max-frame", optarg, &cfg.max_frame) < 0)
                return 2;
            break;
        case 'V':
            printf("channel-server %s\n", WM_VERSION);
            return 0;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    cfg.listen = wm__svc_listen_url(listen, url, sizeof url);
    if (check_data(argv[0], &cfg, optind < argc ? argv[optind] : NULL) < 0)
        return 1;
    if (wm__ch_server_setup(&cfg) != WM_OK)
        return 1; /* the reason is logged */
    /* wm_run_all() sees argv[0] and the words after our options. */
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
