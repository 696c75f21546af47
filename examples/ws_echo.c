/* SPDX-License-Identifier: MIT */
/* example-ws-echo: a WebSocket echo server on wm. Every message goes back
 * to its sender as it came: text stays text, binary stays binary. With
 * --tls CERT KEY it serves wss://. Subprotocols a client offers are
 * declined; pings are answered by the protocol.
 *
 *   example-ws-echo --listen websocket://127.0.0.1:8000 start
 *   example-ws-echo --listen websocket://127.0.0.1:8443 --tls server.crt server.key start
 *
 * Try it with node's ws, a browser, or `websocat ws://127.0.0.1:8000/`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <wm/wm.h>

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    if (wm_ws_msg_type(msg) == WM_WS_BINARY)
        wm_ws_send_binary(c, msg->data, msg->len);
    else
        wm_ws_send_text(c, msg->data, msg->len);
}

/* A client with several messages in flight gets the echoes of one read in
 * one write, not a system call each (wm_conn_set_batch_sends). */
static void on_open(wm_conn_t *c, void *user_data)
{
    wm_conn_set_batch_sends(c, true);
}

/* Back-pressure: a client that sends faster than it reads is paused until
 * its echoes have gone out. */
static void on_buffer_full(wm_conn_t *c, void *user_data)
{
    wm_conn_pause_recv(c);
}

static void on_buffer_drain(wm_conn_t *c, void *user_data)
{
    wm_conn_resume_recv(c);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|reload|status|connections] [-d|-g]\n"
            "Echoes every WebSocket message back to its sender.\n"
            "  --listen URL    where to listen (default websocket://0.0.0.0:8000)\n"
            "  --count N       processes (default 1)\n"
            "  --max-message BYTES  the largest message accepted (default 64 MiB)\n"
            "  --heartbeat S   ping clients silent for S seconds, close them after S more\n"
            "  --tls CERT KEY  serve wss:// with this certificate chain and key (PEM)\n"
            "  --help          this text\n"
            "Example: %s --listen websocket://127.0.0.1:8000 start\n",
            prog, prog);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"max-message", required_argument, NULL, 'm'},
                                         {"heartbeat", required_argument, NULL, 'b'},
                                         {"tls", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = "websocket://0.0.0.0:8000";
    const char *cert = NULL, *key = NULL;
    int count = 1, opt;
    long long max_message = 64ll * 1024 * 1024, heartbeat = 0;

    /* "+": stop at the first command word, so "start -d" reaches wm_run_all. */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            url = optarg;
            break;
        case 'c':
            count = atoi(optarg);
            if (count < 1) {
                fprintf(stderr, "%s: --count wants a number >= 1, not '%s'\n", argv[0], optarg);
                return 2;
            }
            break;
        case 'm':
            max_message = atoll(optarg);
            if (max_message < 1) {
                fprintf(stderr, "%s: --max-message wants a number >= 1\n", argv[0]);
                return 2;
            }
            break;
        case 'b':
            heartbeat = atoll(optarg);
            if (heartbeat < 1) {
                fprintf(stderr, "%s: --heartbeat wants seconds >= 1\n", argv[0]);
                return 2;
            }
            break;
        case 't': /* two values: CERT is the option's, KEY the next word */
            if (optind >= argc) {
                fprintf(stderr, "%s: --tls wants CERT and KEY\n", argv[0]);
                return 2;
            }
            cert = optarg;
            key = argv[optind++];
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
        return 1; /* the reason is logged */
    wm_worker_set_name(w, "ws-echo");
    if (cert && wm_worker_set_tls(w, cert, key) != WM_OK)
        return 1; /* the reason (missing file, key does not match) is logged */
    wm_worker_set_count(w, count);
    /* A message may be up to the max package size minus a frame header. */
    wm_worker_set_max_package(w, (size_t)max_message + 14);
    /* An echo of a large message must not be dropped for a full queue: the
     * limit is checked before a send, and full pauses the sender. */
    wm_worker_set_max_send_buffer(w, (size_t)max_message + 14);
    if (heartbeat)
        wm_ws_worker_set_heartbeat(w, (uint64_t)heartbeat * 1000, (uint64_t)heartbeat * 1000);
    wm_worker_on_connect(w, on_open, NULL);
    wm_worker_on_message(w, on_message, NULL);
    wm_worker_on_buffer_full(w, on_buffer_full, NULL);
    wm_worker_on_buffer_drain(w, on_buffer_drain, NULL);
    /* wm_run_all() sees argv[0] and the words after our options. */
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
