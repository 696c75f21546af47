/* SPDX-License-Identifier: MIT */
/* example-http-hello: the smallest HTTP server on wm. Every request gets
 * "Hello, wm" as text/plain, except /events, a Server-Sent Events stream
 * of the time (`curl -N http://127.0.0.1:8080/events`). Keep-alive,
 * pipelining, HTTP/1.0 and the protocol's own error answers come from the
 * http:// protocol. With --tls CERT KEY it answers over HTTPS.
 *
 *   example-http-hello --listen http://127.0.0.1:8080 start
 *   example-http-hello --listen http://127.0.0.1:8443 --tls server.crt server.key start
 */
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wm/wm.h>

/* /events: a Server-Sent Events stream with the time, every second. The
 * timer keeps the connection's id, not the pointer: the client may leave
 * between two ticks. */
static void clock_tick(wm_timer_id_t id, void *user_data)
{
    wm_conn_t *c = wm_conn_find((uint64_t)(uintptr_t)user_data);
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    if (!c || wm_http_sse_send(c, "tick", now, now) == WM_ENOTCONN)
        wm_timer_del(id);
}

static void start_clock(wm_conn_t *c)
{
    if (wm_http_sse_start(c, NULL) < 0)
        return;
    wm_http_sse_keepalive(c, 15000);
    wm_timer_add(1000, true, clock_tick, (void *)(uintptr_t)wm_conn_id(c), NULL);
}

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    static const char hello[] = "Hello, wm";
    const wm_http_request_t *req = msg->extra;
    if (strcmp(wm_http_request_path(req), "/events") == 0) {
        start_clock(c);
        return;
    }
    wm_http_reply(c, 200, "text/plain", hello, sizeof hello - 1);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|reload|status|connections] [-d|-g]\n"
            "Answers every HTTP request with \"Hello, wm\"; /events streams the time (SSE).\n"
            "  --listen URL  where to listen (default http://0.0.0.0:8080)\n"
            "  --count N     processes (default 1)\n"
            "  --tls CERT KEY  serve HTTPS with this certificate chain and key (PEM)\n"
            "  --help        this text\n"
            "Example: %s --listen http://127.0.0.1:8080 start\n",
            prog, prog);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"tls", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = "http://0.0.0.0:8080";
    const char *cert = NULL, *key = NULL;
    int count = 1, opt;

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
    wm_worker_set_name(w, "http-hello");
    if (cert && wm_worker_set_tls(w, cert, key) != WM_OK)
        return 1; /* the reason (missing file, key does not match) is logged */
    wm_worker_set_count(w, count);
    wm_worker_on_message(w, on_message, NULL);
    /* wm_run_all() sees argv[0] and the words after our options. */
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
