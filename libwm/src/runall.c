/* SPDX-License-Identifier: MIT */
/* wm_run_all: the program's entry point. It parses the command, starts every
 * worker and runs the loop until asked to stop. In this version every
 * worker runs in this one process; the master/worker process model and the
 * stop/reload/status commands build on this entry point. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "wm_int.h"

static bool stop_requested;

static void usage(FILE *to, const char *prog)
{
    fprintf(to,
            "Usage: %s [program options] [start]\n"
            "\n"
            "Commands:\n"
            "  start      run every worker in the foreground (the default)\n"
            "  --help     show this help\n"
            "\n"
            "Stop with Ctrl-C or SIGTERM: connections are closed and on_worker_stop runs.\n"
            "Set WM_LOG_LEVEL=debug|info|warn|error for more or less logging.\n",
            prog);
}

static void on_stop_signal(int signum, void *user_data)
{
    wm_log_info("signal %d (%s): stopping", signum, strsignal(signum));
    wm_stop_all();
}

void wm_stop_all(void)
{
    stop_requested = true;
    wm_loop_stop();
}

static int start_workers(void)
{
    for (wm_worker_t *w = wm__workers(); w; w = w->next) {
        int rc = wm_worker_start(w);
        if (rc != WM_OK)
            return rc;
        wm_log_info("worker %s listening on %s", w->name, w->url_text);
    }
    return WM_OK;
}

int wm_run_all(int argc, char **argv)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : "wm";
    const char *cmd = argc > 1 ? argv[1] : "start";
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout, prog);
        return 0;
    }
    if (strcmp(cmd, "start") != 0 || argc > 2) {
        fprintf(stderr, "%s: unknown command '%s'\n\n", prog, argc > 2 ? argv[2] : cmd);
        usage(stderr, prog);
        return 1;
    }
    if (!wm__workers()) {
        fprintf(stderr, "%s: no worker to run: make one with wm_worker_new() first\n", prog);
        return 1;
    }
    int rc = start_workers();
    int sigint = rc == WM_OK ? wm_signal_add(SIGINT, on_stop_signal, NULL) : 0;
    int sigterm = rc == WM_OK ? wm_signal_add(SIGTERM, on_stop_signal, NULL) : 0;
    stop_requested = false;
    /* wm_loop_stop() from user code returns here without a stop request:
     * only wm_stop_all(), a signal, or an empty loop ends the program. */
    while (rc == WM_OK && !stop_requested) {
        if (event_base_dispatch(wm__base()) != 0)
            break;
    }
    if (sigint > 0)
        wm_signal_del(sigint);
    if (sigterm > 0)
        wm_signal_del(sigterm);
    wm__worker_free_all();
    wm_loop_free();
    return rc == WM_OK ? 0 : 1;
}
