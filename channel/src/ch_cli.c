/* SPDX-License-Identifier: MIT */
/* channel-cli: Channel from the command line, for operators and scripts.
 * publish and enqueue use the blocking client (wm_ch_sync_*); subscribe and
 * watch run the asynchronous one on a wm loop until Ctrl-C (SIGINT or
 * SIGTERM), and ride out server restarts as any client does.
 * Output, one message a line, flushed at once:
 *   subscribe: EVENT<TAB>DATA
 *   watch:     QUEUE<TAB>ID<TAB>DATA   (acknowledged once printed)
 * DATA is the payload of a str or bin; any other value (from a PHP client,
 * say) is shown as "msgpack:" and its bytes in hex.
 * Exit status: 0 ok, 1 a server answer that is not OK, 2 bad usage, 3 the
 * server could not be reached. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wm/channel.h>
#include <wm/loop.h>

#define MAX_EVENTS 1000

static void usage(FILE *f)
{
    fprintf(f, "usage: channel-cli [--server URL] [--auth SECRET] COMMAND ARGS\n"
               "  publish EVENT DATA        publish; prints how many subscribers got it\n"
               "  enqueue QUEUE DATA [--delay MS]\n"
               "                            store a queue message; prints its id\n"
               "  subscribe EVENT...        print events as they arrive (EVENT<TAB>DATA)\n"
               "                            until Ctrl-C; EVENT may be a glob (news.*)\n"
               "  watch QUEUE               print queue messages (QUEUE<TAB>ID<TAB>DATA)\n"
               "                            and acknowledge each, until Ctrl-C\n"
               "  --server URL   HOST:PORT or unix:///PATH (default 127.0.0.1:2206)\n"
               "  --auth SECRET  the server's --auth secret\n");
}

static int exit_code(int rc)
{
    return rc == WM_OK ? 0 : rc <= -4200 && rc > -4300 ? 1 : 3;
}

/* ---- publish, enqueue ---------------------------------------------------- */

static int one_shot(const char *url, const wm_ch_options_t *opt, bool enqueue, const char *name,
                    const char *data, uint64_t delay_ms)
{
    wm_ch_sync_t *s = wm_ch_sync_new(url, opt);
    if (!s) {
        fprintf(stderr, "channel-cli: bad --server address\n");
        return 2;
    }
    uint64_t out = 0;
    int rc = enqueue ? wm_ch_sync_enqueue(s, name, data, strlen(data), delay_ms, &out)
                     : wm_ch_sync_publish(s, name, data, strlen(data), &out);
    if (rc == WM_OK)
        printf("%llu\n", (unsigned long long)out);
    else
        fprintf(stderr, "channel-cli: %s\n", wm_ch_sync_last_error(s));
    wm_ch_sync_free(s);
    return exit_code(rc);
}

/* ---- subscribe, watch ---------------------------------------------------- */

static void print_data(const wm_ch_msg_t *m)
{
    if (m->data) {
        fwrite(m->data, 1, m->len, stdout);
    } else {
        fputs("msgpack:", stdout);
        for (size_t i = 0; i < m->mp_len; i++)
            printf("%02x", (unsigned char)m->mp[i]);
    }
    putchar('\n');
    fflush(stdout);
}

static void on_event(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    (void)c, (void)user_data;
    printf("%s\t", m->name);
    print_data(m);
}

static void on_queue(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    (void)user_data;
    printf("%s\t%llu\t", m->name, (unsigned long long)m->id);
    print_data(m);
    wm_ch_ack(c, m->id);
}

static void on_stop(int signum, void *user_data)
{
    (void)signum, (void)user_data;
    wm_loop_stop();
}

static int listen_loop(const char *url, const wm_ch_options_t *opt, bool watch, char **names, int n)
{
    wm_ch_client_t *c = wm_ch_client_new(url, opt);
    if (!c) {
        fprintf(stderr, "channel-cli: bad --server address\n");
        return 2;
    }
    int rc = WM_OK;
    if (watch)
        rc = wm_ch_watch(c, names[0], 0, on_queue, NULL);
    else if ((rc = wm_ch_on(c, NULL, on_event, NULL)) == WM_OK)
        rc = wm_ch_subscribe(c, (const char *const *)names, (size_t)n);
    if (rc != WM_OK) {
        fprintf(stderr, "channel-cli: names are 1 to 255 bytes\n");
        wm_ch_client_free(c);
        return 2;
    }
    wm_signal_add(SIGINT, on_stop, NULL);
    wm_signal_add(SIGTERM, on_stop, NULL);
    wm_loop_run();
    wm_ch_client_free(c);
    wm_loop_free();
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = "127.0.0.1:2206";
    wm_ch_options_t opt = {0};
    uint64_t delay_ms = 0;
    char *rest[MAX_EVENTS + 1];
    int n = 0;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--server") && i + 1 < argc) {
            url = argv[i + 1], i += 2;
        } else if (!strcmp(a, "--auth") && i + 1 < argc) {
            opt.auth = argv[i + 1], i += 2;
        } else if (!strcmp(a, "--delay") && i + 1 < argc) {
            delay_ms = strtoull(argv[i + 1], NULL, 10), i += 2;
        } else if ((a[0] == '-' && a[1] == '-') || n > MAX_EVENTS) {
            usage(stderr);
            return 2;
        } else {
            rest[n++] = argv[i++];
        }
    }
    const char *cmd = n ? rest[0] : "";
    if (!strcmp(cmd, "publish") && n == 3)
        return one_shot(url, &opt, false, rest[1], rest[2], 0);
    if (!strcmp(cmd, "enqueue") && n == 3)
        return one_shot(url, &opt, true, rest[1], rest[2], delay_ms);
    if (!strcmp(cmd, "subscribe") && n >= 2)
        return listen_loop(url, &opt, false, rest + 1, n - 1);
    if (!strcmp(cmd, "watch") && n == 2)
        return listen_loop(url, &opt, true, rest + 1, 1);
    usage(stderr);
    return 2;
}
