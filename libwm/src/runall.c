/* SPDX-License-Identifier: MIT */
/* wm_run_all: the program's entry point, as Workerman's Worker::runAll().
 * The same call does one of three things:
 *   - in a process the master started (WM_WORKER in the environment): run
 *     that one worker (wproc.c);
 *   - for `start`/`restart`: become the master (master.c), in the
 *     foreground or as a daemon;
 *   - for the other commands: act on the master already running (cli.c). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/un.h>

#include "wm_int.h"
#include "wm_proc.h"

static wm__settings_t settings = {.stop_timeout_ms = 30000};
static wm_role_t role = WM_ROLE_SINGLE;
static bool stop_requested;
static pid_t master_pid; /* in a worker process: the master that started it */

wm__settings_t *wm__settings(void)
{
    return &settings;
}

wm_role_t wm_process_role(void)
{
    return role;
}

static void set_path(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

void wm_set_pid_file(const char *path)
{
    set_path(settings.pid_file, sizeof settings.pid_file, path);
}

void wm_set_log_file(const char *path)
{
    set_path(settings.log_file, sizeof settings.log_file, path);
}

void wm_set_stdout_file(const char *path)
{
    set_path(settings.stdout_file, sizeof settings.stdout_file, path);
}

void wm_set_stop_timeout(uint64_t ms)
{
    settings.stop_timeout_ms = ms;
}

/* The control socket sits beside the pid file; a path too long for a unix
 * socket falls back to a name in /tmp derived from it. */
void wm__ctl_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s.sock", settings.pid_file);
    if (strlen(buf) < sizeof(((struct sockaddr_un *)0)->sun_path))
        return;
    unsigned long h = 5381;
    for (const char *p = settings.pid_file; *p; p++)
        h = h * 33 + (unsigned char)*p;
    snprintf(buf, len, "/tmp/wm-%lx.sock", h);
}

/* /tmp/wm_<program path with / as _>.pid, as Workerman names its pid file
 * after the start file, so two programs never share one. */
static void default_paths(void)
{
    if (!settings.pid_file[0]) {
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%.200s", wm__proc_exe()[0] ? wm__proc_exe() : "wm");
        for (char *p = name; *p; p++)
            if (*p == '/')
                *p = '_';
        snprintf(settings.pid_file, sizeof settings.pid_file, "/tmp/wm%.200s.pid", name);
    }
    if (!settings.log_file[0]) {
        snprintf(settings.log_file, sizeof settings.log_file, "%.*s.log",
                 (int)(strlen(settings.pid_file) - (strstr(settings.pid_file, ".pid") ? 4 : 0)),
                 settings.pid_file);
    }
}

static void usage(FILE *to, const char *prog)
{
    fprintf(to,
            "Usage: %s [program options] COMMAND [command options]\n"
            "\n"
            "Commands:\n"
            "  start [-d]            start the master and its worker processes; -d: as a daemon\n"
            "  stop [-g]             stop; -g: let open connections finish first\n"
            "  restart [-d] [-g]     stop, then start\n"
            "  reload [-g]           replace worker processes one by one with the program on "
            "disk;\n"
            "                        -g: old processes finish their connections first\n"
            "  status [-d] [--json]  show the master and every process; -d: refresh each "
            "second\n"
            "  connections [--json]  list every connection of every process\n"
            "\n"
            "Options (after the command):\n"
            "  --pid-file=PATH       where the master's pid is kept (default /tmp/wm<path>.pid)\n"
            "  --log-file=PATH       the daemon's log (default: the pid file with .log)\n"
            "  --stdout-file=PATH    where a daemon's stdout goes (default /dev/null)\n"
            "  --stop-timeout=SEC    how long stop -g and reload wait for connections (30)\n"
            "\n"
            "Logging: WM_LOG_LEVEL=debug|info|warn|error (default info).\n",
            prog);
}

typedef struct cmdline {
    const char *cmd;
    bool daemon, graceful, json;
} cmdline_t;

static int parse(int argc, char **argv, cmdline_t *cl)
{
    memset(cl, 0, sizeof *cl);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            cl->cmd = "help";
        else if (!strcmp(a, "-d"))
            cl->daemon = true;
        else if (!strcmp(a, "-g"))
            cl->graceful = true;
        else if (!strcmp(a, "--json"))
            cl->json = true;
        else if (!strncmp(a, "--pid-file=", 11))
            wm_set_pid_file(a + 11);
        else if (!strncmp(a, "--log-file=", 11))
            wm_set_log_file(a + 11);
        else if (!strncmp(a, "--stdout-file=", 14))
            wm_set_stdout_file(a + 14);
        else if (!strncmp(a, "--stop-timeout=", 15))
            wm_set_stop_timeout((uint64_t)(atof(a + 15) * 1000));
        else if (!cl->cmd && a[0] != '-')
            cl->cmd = a;
        else {
            fprintf(stderr, "%s: unknown option '%s'\n\n", argv[0], a);
            return WM_EINVAL;
        }
    }
    return WM_OK;
}

void wm_stop_all(void)
{
    stop_requested = true;
    if (role == WM_ROLE_WORKER)
        kill(getpid(), SIGTERM); /* the worker's own orderly stop */
    else if (role == WM_ROLE_MASTER)
        kill(getpid(), SIGTERM);
    else
        wm_loop_stop();
}

int wm_reload_request(bool graceful)
{
    int sig = graceful ? SIGUSR2 : SIGUSR1;
    pid_t to;
    if (role == WM_ROLE_WORKER)
        to = master_pid > 0 ? master_pid : getppid();
    else if (role == WM_ROLE_MASTER)
        to = getpid();
    else {
        wm_log_warn("reload requested, but this program runs no master (wm_run_all start)");
        return WM_EINVAL;
    }
    if (kill(to, sig) < 0) {
        int err = -errno;
        wm_log_error("cannot ask the master (pid %d) to reload: %s", (int)to, wm_strerror(err));
        return err;
    }
    return WM_OK;
}

bool wm_daemonized(void)
{
    return settings.daemon;
}

void wm_set_memory_limit(uint64_t bytes)
{
    settings.memory_limit = bytes;
}

static int finish(int rc)
{
    wm__worker_free_all();
    wm_loop_free();
    return rc;
}

static int run_worker_process(const char *spec)
{
    role = WM_ROLE_WORKER;
    char copy[64];
    snprintf(copy, sizeof copy, "%s", spec);
    const char *m = getenv(WM_ENV_SETTINGS);
    pid_t master = m ? (pid_t)atoi(m) : 0;
    master_pid = master;
    /* Processes the worker starts itself must not take it for their own. */
    unsetenv(WM_ENV_WORKER);
    unsetenv(WM_ENV_SETTINGS);
    return finish(wm__worker_process_run(copy, master));
}

static int start(const char *prog, bool daemon)
{
    pid_t pid = wm__pidfile_read(settings.pid_file);
    if (pid) {
        fprintf(stderr,
                "%s: already running (master pid %d, pid file %s): use stop, restart or reload\n",
                prog, (int)pid, settings.pid_file);
        return 1;
    }
    if (!wm__workers()) {
        fprintf(stderr, "%s: no worker to run: make one with wm_worker_new() first\n", prog);
        return 1;
    }
    int ready_fd = -1;
    if (daemon) {
        fflush(stdout);
        fflush(stderr);
        if (wm__proc_daemonize(&ready_fd) != WM_OK) {
            perror("cannot daemonize");
            return 1;
        }
        if (wm_log_set_file(settings.log_file) != WM_OK)
            dprintf(ready_fd, "cannot open the log file %s\n", settings.log_file);
        wm__proc_redirect_stdio(settings.stdout_file[0] ? settings.stdout_file : NULL);
        if (wm__loop_exists())
            event_reinit(wm__base());
    }
    role = WM_ROLE_MASTER;
    return finish(wm__master_run(ready_fd));
}

int wm_run_all(int argc, char **argv)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : "wm";
    cmdline_t cl;
    if (parse(argc, argv, &cl) != WM_OK) {
        usage(stderr, prog);
        return 2;
    }
    if (wm__proc_init() != WM_OK) {
        fprintf(stderr, "%s: cannot read /proc/self: is /proc mounted?\n", prog);
        return 1;
    }
    default_paths();
    settings.daemon = cl.daemon;
    const char *spec = getenv(WM_ENV_WORKER);
    if (spec) {
        /* A daemon's workers log where the master does; their stderr is the
         * stdout file. They parse the same command line, so they know. */
        if (cl.daemon && wm_log_set_file(settings.log_file) != WM_OK)
            wm_log_error("cannot open the log file %s", settings.log_file);
        return run_worker_process(spec);
    }
    const char *cmd = cl.cmd ? cl.cmd : "";
    if (!strcmp(cmd, "start"))
        return start(prog, cl.daemon);
    if (!strcmp(cmd, "restart")) {
        if (wm__cli_stop(cl.graceful, true) != 0)
            return 1;
        return start(prog, cl.daemon);
    }
    if (!strcmp(cmd, "stop"))
        return wm__cli_stop(cl.graceful, false);
    if (!strcmp(cmd, "reload"))
        return wm__cli_reload(cl.graceful);
    if (!strcmp(cmd, "status"))
        return wm__cli_query("status", cl.json, cl.daemon);
    if (!strcmp(cmd, "connections"))
        return wm__cli_query("connections", cl.json, false);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout, prog);
        return 0;
    }
    if (*cmd)
        fprintf(stderr, "%s: unknown command '%s'\n\n", prog, cmd);
    usage(stderr, prog);
    return 1;
}
