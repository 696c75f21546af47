/* SPDX-License-Identifier: MIT */
/* globaldata-server: shared variables for processes and machines, kept in
 * memory and in SQLite. This file reads the command line; gd_server.c is the
 * server. Options come first, then the wm command (start, stop, status...):
 *
 *   globaldata-server --listen 127.0.0.1:2207 --data var/gd.db start -d
 *
 * docs/globaldata.md is the user's guide; docs/protocol.md the wire format. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gd_int.h"
#include "svc_cli.h"

#define DEFAULT_LISTEN "127.0.0.1:2207"
#define DEFAULT_DATA "var/globaldata.db"

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] start|stop|restart|reload|status|connections [-d|-g]\n"
            "Shared variables (get, set, add, cas, increment, expiry, ...) over the frame\n"
            "protocol with MessagePack bodies, kept in memory and in SQLite.\n"
            "  --listen ADDR        HOST:PORT, [IPv6]:PORT, unix:///PATH or a frame:// URL\n"
            "                       (default " DEFAULT_LISTEN ")\n"
            "  --data FILE          the SQLite data file (default ./" DEFAULT_DATA ")\n"
            "  --memory             keep nothing on disk\n"
            "  --durability LEVEL   full: a write is answered once committed and fsynced\n"
            "                       (group commit); normal (default): answered at once,\n"
            "                       committed within 10 ms; none: committed each second,\n"
            "                       never fsynced\n"
            "  --auth SECRET        clients must send [id, \"auth\", SECRET] first\n"
            "  --max-value BYTES    largest stored value (default %d)\n"
            "  --max-frame BYTES    largest request frame (default %d)\n"
            "  --version            print the version\n"
            "  --help               this text\n"
            "Commands and their options (--pid-file=, --log-file=, ...): see docs/operations.md.\n"
            "Example: %s --data /var/lib/gd.db --durability full start -d\n",
            prog, WM_GD_DEFAULT_MAX_VALUE, WM_GD_DEFAULT_MAX_FRAME, prog);
}

/* Checks, before a master starts, that the data file opens (and is not in
 * use by another server), so a mistake is an exit status here rather than a
 * worker restarting with a back-off. Not in the worker process (the master
 * runs this program again there with WM_WORKER set). */
static int check_data(const char *prog, const wm__gd_config_t *cfg, const char *command)
{
    if (cfg->memory || !command || strcmp(command, "start") != 0 || getenv("WM_WORKER"))
        return 0;
    char err[512];
    wm__svc_make_parent_dir(cfg->data);
    wm__gd_persist_t *p = wm__gd_persist_open(cfg->data, cfg->durability, err, sizeof err);
    if (!p) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    wm__gd_persist_close(p);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"memory", no_argument, NULL, 'm'},
                                         {"durability", required_argument, NULL, 'u'},
                                         {"auth", required_argument, NULL, 'a'},
                                         {"max-value", required_argument, NULL, 'v'},
                                         {"max-frame", required_argument, NULL, 'f'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    static wm__gd_config_t cfg = {.data = DEFAULT_DATA,
                                  .durability = WM_GD_DURABILITY_NORMAL,
                                  .max_value = WM_GD_DEFAULT_MAX_VALUE,
                                  .max_frame = WM_GD_DEFAULT_MAX_FRAME};
    static char url[600];
    const char *listen = DEFAULT_LISTEN;
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
        case 'm':
            cfg.memory = true;
            break;
        case 'u':
            if (strcmp(optarg, "full") == 0)
                cfg.durability = WM_GD_DURABILITY_FULL;
            else if (strcmp(optarg, "normal") == 0)
                cfg.durability = WM_GD_DURABILITY_NORMAL;
            else if (strcmp(optarg, "none") == 0)
                cfg.durability = WM_GD_DURABILITY_NONE;
            else {
                fprintf(stderr, "%s: --durability is full, normal or none, not '%s'\n", argv[0],
                        optarg);
                return 2;
            }
            break;
        case 'a':
            if (!*optarg) {
                fprintf(stderr, "%s: --auth wants a non-empty secret\n", argv[0]);
                return 2;
            }
            cfg.auth = optarg;
            break;
        case 'v':
            if (wm__svc_parse_size(argv[0], "--max-value", optarg, &cfg.max_value) < 0)
                return 2;
            break;
        case 'f':
            if (wm__svc_parse_size(argv[0], "--max-frame", optarg, &cfg.max_frame) < 0)
                return 2;
            break;
        case 'V':
            printf("globaldata-server %s\n", WM_VERSION);
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
    if (wm__gd_server_setup(&cfg) != WM_OK)
        return 1; /* the reason is logged */
    /* wm_run_all() sees argv[0] and the words after our options. */
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
