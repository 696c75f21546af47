/* SPDX-License-Identifier: MIT */
/* wm_proc_fixture: the program the process-model tests start. It parses its
 * own options, makes its workers and hands the rest of the command line
 * (start, stop -g, reload, status --json, ...) to wm_run_all(), as a user's
 * program does. Every answer names the build and the process that served it,
 * "v<VERSION> <pid> <line>", so a test can tell which process (and, after a
 * rebuild and a reload, which program) answered. The same source is built a
 * second time with -DFIXTURE_VERSION=2 as wm_proc_fixture_v2: the "rebuilt"
 * program of the reload test.
 *
 *   --text URL            the text worker "fixture" (one answer per line)
 *   --count N             its processes (default 1)
 *   --slow-ms N           answer each line after N ms, from a timer
 *   --crash-on-start      abort() in on_worker_start (the back-off test)
 *   --user NAME           run the text worker's processes as NAME
 *   --non-reloadable URL  a second text worker "keeper" that reload leaves
 *                         running; its on_worker_reload prints
 *                         "reloaded <pid>" to stdout and logs it
 *   --outgoing URL        each "fixture" process opens an outgoing connection
 *                         to URL in on_worker_start and keeps it open
 *   --greeting WORD       logs "greeting 'WORD'" in on_worker_start, from the
 *                         optarg pointer kept as getopt left it: a program's
 *                         own options must survive wm_run_all in its workers
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wm/wm.h>

#ifndef FIXTURE_VERSION
#define FIXTURE_VERSION 1
#endif

static struct {
    uint64_t slow_ms;
    bool crash_on_start;
    const char *outgoing;
    const char *greeting;
} opt;

/* ---- answers ------------------------------------------------------------ */

static void answer(wm_conn_t *c, const char *data, size_t len)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "v%d %d %.*s", FIXTURE_VERSION, (int)getpid(),
                     (int)(len > 400 ? 400 : len), data);
    wm_conn_send(c, buf, (size_t)n);
}

/* A delayed answer: the connection is found again by id, since it may have
 * closed while the timer ran. */
typedef struct delayed {
    uint64_t conn_id;
    size_t len;
    char line[];
} delayed_t;

static void on_delay(wm_timer_id_t tid, void *ud)
{
    delayed_t *d = ud;
    wm_conn_t *c = wm_conn_find(d->conn_id);
    if (c)
        answer(c, d->line, d->len);
}

static void on_message(wm_conn_t *c, const wm_msg_t *m, void *ud)
{
    if (!opt.slow_ms) {
        answer(c, m->data, m->len);
        return;
    }
    delayed_t *d = malloc(sizeof *d + m->len + 1);
    if (!d)
        return;
    d->conn_id = wm_conn_id(c);
    d->len = m->len;
    memcpy(d->line, m->data, m->len);
    d->line[m->len] = '\0';
    if (!wm_timer_add(opt.slow_ms, false, on_delay, d, free))
        free(d);
}

/* ---- worker callbacks -------------------------------------------------- */

static void on_outgoing_close(wm_conn_t *c, void *ud)
{
    wm_log_info("fixture %d: outgoing connection to %s closed", (int)getpid(), opt.outgoing);
}

static void on_worker_start(wm_worker_t *w, void *ud)
{
    wm_log_info("fixture v%d: worker %s id %d started in process %d", FIXTURE_VERSION,
                wm_worker_name(w), wm_worker_id(w), (int)getpid());
    if (opt.greeting)
        wm_log_info("fixture %d: greeting '%s'", (int)getpid(), opt.greeting);
    if (opt.crash_on_start) {
        wm_log_info("fixture %d: crashing on start as asked", (int)getpid());
        abort();
    }
    if (opt.outgoing) {
        wm_conn_t *c = wm_conn_new(opt.outgoing);
        if (!c) {
            wm_log_error("fixture: bad --outgoing URL %s", opt.outgoing);
            return;
        }
        wm_conn_on_close(c, on_outgoing_close, NULL);
        if (wm_conn_connect(c) != WM_OK)
            wm_conn_destroy(c);
        else
            wm_conn_send(c, "hello from the fixture", 22);
    }
}

static void on_keeper_reload(wm_worker_t *w, void *ud)
{
    printf("reloaded %d\n", (int)getpid());
    fflush(stdout);
    wm_log_info("fixture: worker %s process %d: on_worker_reload ran", wm_worker_name(w),
                (int)getpid());
}

/* The keeper's own status line (wm_worker_on_status), checked by
 * proc_status.sh in both status forms. */
static void on_keeper_status(wm_worker_t *w, char *buf, size_t len, void *ud)
{
    snprintf(buf, len, "keeper_pid=%d answered=yes", (int)getpid());
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [--text URL] [--count N] [--slow-ms N] [--crash-on-start]\n"
            "          [--user NAME] [--non-reloadable URL] [--outgoing URL] [--greeting WORD]\n"
            "          COMMAND ...\n"
            "Answers each line with \"v%d <pid> <line>\" (see the file's head).\n",
            prog, FIXTURE_VERSION);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"text", required_argument, NULL, 't'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"slow-ms", required_argument, NULL, 's'},
                                         {"crash-on-start", no_argument, NULL, 'x'},
                                         {"user", required_argument, NULL, 'u'},
                                         {"non-reloadable", required_argument, NULL, 'n'},
                                         {"outgoing", required_argument, NULL, 'o'},
                                         {"greeting", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *text = NULL, *keeper = NULL, *user = NULL;
    int count = 1, o;
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            text = optarg;
            break;
        case 'c':
            count = atoi(optarg);
            break;
        case 's':
            opt.slow_ms = strtoull(optarg, NULL, 10);
            break;
        case 'x':
            opt.crash_on_start = true;
            break;
        case 'u':
            user = optarg;
            break;
        case 'n':
            keeper = optarg;
            break;
        case 'o':
            /* Copied: wm_run_all overwrites the argv strings with the
             * process title (see --greeting). */
            opt.outgoing = strdup(optarg);
            break;
        case 'g':
            opt.greeting = optarg; /* kept as is, as many programs do */
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!text || count < 1) {
        usage(stderr, argv[0]);
        return 2;
    }
    wm_worker_t *w = wm_worker_new(text);
    if (!w)
        return 1;
    wm_worker_set_name(w, "fixture");
    wm_worker_set_count(w, count);
    if (user)
        wm_worker_set_user(w, user, NULL);
    wm_worker_on_worker_start(w, on_worker_start, NULL);
    wm_worker_on_message(w, on_message, NULL);
    if (keeper) {
        wm_worker_t *k = wm_worker_new(keeper);
        if (!k)
            return 1;
        wm_worker_set_name(k, "keeper");
        wm_worker_set_reloadable(k, false);
        wm_worker_on_worker_reload(k, on_keeper_reload, NULL);
        wm_worker_on_status(k, on_keeper_status, NULL);
        wm_worker_on_message(k, on_message, NULL);
    }
    /* wm_run_all sees argv[0] and the words after our options. */
    argv[optind - 1] = argv[0];
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
