/* SPDX-License-Identifier: MIT */
/* example-chat: a line-based chat room. Every line a client sends goes to
 * every other client, prefixed with the sender's connection id, and everyone
 * hears when someone joins or leaves. It shows how to reach the other
 * connections of a worker with wm_worker_foreach_conn() and how to keep a
 * peer-controlled size bounded (wm_worker_set_max_package). A room lives in
 * one process, so the worker runs a single process.
 *
 *   example-chat --listen text://127.0.0.1:2350 start     then: nc 127.0.0.1 2350
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <wm/wm.h>

#define MAX_LINE 4096 /* longest line a client may send */
#define MAX_NOTE (MAX_LINE + 64)

/* One outgoing line and who it is not for. */
typedef struct note {
    const wm_conn_t *from;
    const char *text;
    size_t len;
} note_t;

static void send_one(wm_conn_t *c, void *user_data)
{
    const note_t *n = user_data;
    if (c != n->from)
        wm_conn_send(c, n->text, n->len);
}

/* Sends a formatted line to every connection of the worker but `from`. */
static void broadcast(wm_conn_t *from, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broadcast(wm_conn_t *from, const char *fmt, ...)
{
    char buf[MAX_NOTE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    note_t note = {from, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1};
    wm_worker_foreach_conn(wm_conn_worker(from), send_one, &note);
}

static void on_connect(wm_conn_t *c, void *user_data)
{
    char hello[64];
    int n = snprintf(hello, sizeof(hello), "* welcome, you are #%" PRIu64, wm_conn_id(c));
    wm_conn_send(c, hello, (size_t)n);
    broadcast(c, "* #%" PRIu64 " joined", wm_conn_id(c));
}

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    broadcast(c, "#%" PRIu64 ": %.*s", wm_conn_id(c), (int)msg->len, msg->data);
}

static void on_close(wm_conn_t *c, void *user_data)
{
    broadcast(c, "* #%" PRIu64 " left", wm_conn_id(c));
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|reload|status|connections] [-d|-g]\n"
            "A chat room: each line a client sends goes to every other client.\n"
            "  --listen URL  text address to listen on (default text://0.0.0.0:2350)\n"
            "  --help        this text\n"
            "Example: %s --listen text://127.0.0.1:2350 start   (then: nc 127.0.0.1 2350)\n",
            prog, prog);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = "text://0.0.0.0:2350";
    int opt;

    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            url = optarg;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    wm_worker_t *w = wm_worker_new(url);
    if (w == NULL)
        return 1;
    wm_worker_set_name(w, "chat");
    wm_worker_set_max_package(w, MAX_LINE);
    wm_worker_on_connect(w, on_connect, NULL);
    wm_worker_on_message(w, on_message, NULL);
    wm_worker_on_close(w, on_close, NULL);

    argv[optind - 1] = argv[0]; /* wm_run_all sees argv[0] + the command words */
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
