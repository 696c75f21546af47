/* SPDX-License-Identifier: MIT */
/* bench-raw-echo: the anchor for bench/run echo. A TCP echo server written
 * the way a libevent user would write it: an evconnlistener accepts, each
 * connection is a socket bufferevent, and the read callback moves the input
 * buffer to the output buffer with evbuffer_add_buffer(). One process, one
 * thread, default event_base. Accepted sockets get TCP_NODELAY, as wm's do,
 * so that the two differ only in their event code.
 *
 *   bench-raw-echo --port 9001 [--host 127.0.0.1]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void on_read(struct bufferevent *bev, void *arg)
{
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct event_base *base = evconnlistener_get_base(l);
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(arg);
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s --port PORT [--host IP]\n"
            "A raw libevent TCP echo server (the anchor for bench/run echo).\n"
            "  --port PORT   port to listen on (required)\n"
            "  --host IP     IPv4 address to bind (default 127.0.0.1)\n"
            "  --help        this text\n"
            "Example: %s --port 9001\n",
            prog, prog);
}

static int parse_args(int argc, char **argv, struct sockaddr_in *sin)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"host", required_argument, NULL, 'H'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *host = "127.0.0.1";
    long port = 0;
    int opt;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (opt == 'p') {
            port = strtol(optarg, NULL, 10);
        } else if (opt == 'H') {
            host = optarg;
        } else if (opt == 'h') {
            usage(stdout, argv[0]);
            exit(0);
        } else {
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (port < 1 || port > 65535 || optind != argc ||
        inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        fprintf(stderr, "%s: needs --port 1..65535 and an IPv4 --host; try --help\n", argv[0]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sin;
    if (parse_args(argc, argv, &sin) != 0)
        return 2;

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evconnlistener *l =
        evconnlistener_new_bind(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                -1, (struct sockaddr *)&sin, sizeof(sin));
    if (l == NULL) {
        perror("bench-raw-echo: listen");
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(l);
    event_base_free(base);
    return 0;
}
