/* SPDX-License-Identifier: MIT */
/* example-echo: the smallest wm server. It listens on raw tcp://, line-based
 * text:// and length-prefixed frame:// addresses and sends every message
 * back as it came; the protocol frames the reply the same way. It shows the
 * shape of every wm program: parse your own options, make workers, set
 * callbacks, then hand the rest of the command line (start, stop, status, ...)
 * to wm_run_all(). Its on_message is also what bench/run measures.
 *
 *   example-echo --tcp tcp://127.0.0.1:9000 --text text://127.0.0.1:9001 start
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <wm/wm.h>

#define MAX_ADDRS 16

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    wm_conn_send(c, msg->data, msg->len);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|reload|status|connections] [-d|-g]\n"
            "Echoes every message back on each address it listens on.\n"
            "  --tcp URL     raw bytes, e.g. tcp://0.0.0.0:2345 (repeatable)\n"
            "  --text URL    one message per line, e.g. text://0.0.0.0:2346 (repeatable)\n"
            "  --frame URL   4-byte length + payload, e.g. frame://0.0.0.0:2347 (repeatable)\n"
            "  --count N     processes per address (default 1)\n"
            "  --help        this text\n"
            "Without --tcp/--text/--frame it listens on the three example addresses above;\n"
            "with any of them, on exactly those given.\n"
            "Example: %s --tcp tcp://127.0.0.1:9000 start\n",
            prog, prog);
}

static int add_worker(const char *url, int count)
{
    wm_worker_t *w = wm_worker_new(url);
    if (w == NULL)
        return -1; /* the reason is logged */
    wm_worker_set_name(w, "echo");
    wm_worker_set_count(w, count);
    wm_worker_on_message(w, on_message, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tcp", required_argument, NULL, 't'},   {"text", required_argument, NULL, 'x'},
        {"frame", required_argument, NULL, 'f'}, {"count", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    const char *urls[MAX_ADDRS];
    int nurls = 0, count = 1, opt;

    /* "+": stop at the first command word, so "start -d" reaches wm_run_all. */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 't':
        case 'x':
        case 'f':
            if (nurls == MAX_ADDRS) {
                fprintf(stderr, "%s: at most %d addresses\n", argv[0], MAX_ADDRS);
                return 2;
            }
            urls[nurls++] = optarg;
            break;
        case 'c':
            count = atoi(optarg);
            if (count < 1) {
                fprintf(stderr, "%s: --count wants a number >= 1, not '%s'\n", argv[0], optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    if (nurls == 0) {
        urls[nurls++] = "tcp://0.0.0.0:2345";
        urls[nurls++] = "text://0.0.0.0:2346";
        urls[nurls++] = "frame://0.0.0.0:2347";
    }
    for (int i = 0; i < nurls; i++) {
        if (add_worker(urls[i], count) != 0)
            return 1;
    }
    /* wm_run_all() sees argv[0] and the words after our options. */
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
