/* SPDX-License-Identifier: MIT */
/* wm-filemonitor: watch directories and, on each burst of changes, run a
 * command or send a signal to a process — usable with any program, wm or
 * not. The command runs through /bin/sh with the terminal's output and with
 * WM_FM_PATHS (the changed paths, one a line) in its environment; a change
 * while it runs queues one more run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <wm/filemonitor.h>

#define WM_FM_PATHS_MAX 65536 /* bytes of WM_FM_PATHS passed to --run */

static struct {
    const char *run, *pid_file;
    pid_t pid;
    int sig;
    pid_t child;
    bool queued;
    char paths[WM_FM_PATHS_MAX];
} cli = {.sig = SIGUSR1};

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: wm-filemonitor [options] PATH...\n"
            "Watches the directories PATH... (recursively) and on each burst of changes runs\n"
            "a command or signals a process.\n"
            "\n"
            "  --include PAT     report only files matching PAT (repeatable); PAT is a glob:\n"
            "                    '*.c' matches names at any depth, 'src/*.c' relative paths\n"
            "  --exclude PAT     ignore PAT (repeatable); 'build/' skips a directory tree\n"
            "  --debounce MS     report after MS ms without changes (default %d)\n"
            "  --poll [MS]       poll with a stat walk every MS ms (default %d) instead of\n"
            "                    inotify, for file systems inotify does not see\n"
            "  --run CMD         run CMD with /bin/sh -c; the changed paths are in\n"
            "                    $WM_FM_PATHS, one a line\n"
            "  --signal SIG      the signal to send (default USR1: a wm program's reload)\n"
            "  --pid PID         send it to PID\n"
            "  --pid-file FILE   send it to the pid read from FILE at each change\n"
            "  --help            this text\n",
            WM_FM_DEFAULT_DEBOUNCE_MS, WM_FM_DEFAULT_POLL_MS);
}

static int parse_signal(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"TERM", SIGTERM},
                 {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"KILL", SIGKILL}};
    if (!strncmp(s, "SIG", 3))
        s += 3;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcasecmp(s, names[i].name))
            return names[i].sig;
    char *end;
    long n = strtol(s, &end, 10);
    return *s && !*end && n > 0 && n < 65 ? (int)n : -1;
}

static bool is_number(const char *s)
{
    return s && *s && strspn(s, "0123456789") == strlen(s);
}

/* ---- actions ------------------------------------------------------------------ */

static void run_command(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("WM_FM_PATHS", cli.paths, 1);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execl("/bin/sh", "sh", "-c", cli.run, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        fprintf(stderr, "wm-filemonitor: cannot run '%s': %s\n", cli.run, strerror(errno));
    cli.child = pid > 0 ? pid : 0;
}

static void send_signal(void)
{
    pid_t pid = cli.pid;
    if (cli.pid_file) {
        FILE *f = fopen(cli.pid_file, "re");
        long n = 0;
        if (!f || fscanf(f, "%ld", &n) != 1)
            n = 0;
        if (f)
            fclose(f);
        pid = (pid_t)n;
        if (pid <= 0) {
            fprintf(stderr, "wm-filemonitor: no pid in %s\n", cli.pid_file);
            return;
        }
    }
    if (kill(pid, cli.sig) < 0)
        fprintf(stderr, "wm-filemonitor: cannot signal %d: %s\n", (int)pid, strerror(errno));
    else
        fprintf(stderr, "wm-filemonitor: sent %s to %d\n", strsignal(cli.sig), (int)pid);
}

static void on_change(wm_fm_t *fm, const wm_fm_change_t *changes, size_t n, void *ud)
{
    size_t used = 0;
    cli.paths[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(cli.paths + used, sizeof cli.paths - used, "%s%s", i ? "\n" : "",
                         changes[i].path);
        if (k < 0 || (size_t)k >= sizeof cli.paths - used)
            break;
        used += (size_t)k;
    }
    fprintf(stderr, "wm-filemonitor: %zu change(s): %s%s\n", n, changes[0].path,
            n > 1 ? ", ..." : "");
    if (cli.run) {
        if (cli.child)
            cli.queued = true;
        else
            run_command();
    }
    if (cli.pid || cli.pid_file)
        send_signal();
}

static void on_sigchld(int signum, void *ud)
{
    int st;
    if (!cli.child || waitpid(cli.child, &st, WNOHANG) != cli.child)
        return;
    cli.child = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "wm-filemonitor: '%s' failed (%s %d)\n", cli.run,
                WIFEXITED(st) ? "exit status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    if (cli.queued) {
        cli.queued = false;
        run_command();
    }
}

static void on_stop_signal(int signum, void *ud)
{
    wm_loop_stop();
}

/* ---- main ----------------------------------------------------------------------- */

/* The command line: patterns, paths and options point into argv. */
typedef struct args {
    wm_fm_opts_t opts;
    const char **incl, **excl, **paths;
    size_t ni, ne, np;
} args_t;

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool needs = strcmp(o, "--include") == 0 || strcmp(o, "--exclude") == 0 ||
                     strcmp(o, "--debounce") == 0 || strcmp(o, "--run") == 0 ||
                     strcmp(o, "--signal") == 0 || strcmp(o, "--pid") == 0 ||
                     strcmp(o, "--pid-file") == 0;
        if (needs && !val) {
            fprintf(stderr, "wm-filemonitor: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(o, "--include")) {
            a->incl[a->ni++] = argv[++i];
        } else if (!strcmp(o, "--exclude")) {
            a->excl[a->ne++] = argv[++i];
        } else if (!strcmp(o, "--debounce") && is_number(val)) {
            a->opts.debounce_ms = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(o, "--poll")) {
            a->opts.backend = WM_FM_BACKEND_POLL;
            if (is_number(val))
                a->opts.poll_interval_ms = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(o, "--run")) {
            cli.run = argv[++i];
        } else if (!strcmp(o, "--signal") && parse_signal(val) > 0) {
            cli.sig = parse_signal(argv[++i]);
        } else if (!strcmp(o, "--pid") && is_number(val)) {
            cli.pid = (pid_t)atol(argv[++i]);
        } else if (!strcmp(o, "--pid-file")) {
            cli.pid_file = argv[++i];
        } else if (o[0] == '-' && o[1]) {
            fprintf(stderr, "wm-filemonitor: bad option or value: %s%s%s\n\n", o, needs ? " " : "",
                    needs ? val : "");
            usage(stderr);
            return 2;
        } else {
            a->paths[a->np++] = o;
        }
    }
    if (!a->np || (!cli.run && !cli.pid && !cli.pid_file)) {
        fprintf(stderr, "wm-filemonitor: %s\n\n",
                a->np ? "give --run CMD, --pid PID or --pid-file FILE" : "give a PATH to watch");
        usage(stderr);
        return 2;
    }
    return -1;
}

static int watch(const args_t *a)
{
    wm_fm_t *fm = wm_fm_new(&a->opts, on_change, NULL);
    int rc = fm ? WM_OK : WM_ENOMEM;
    for (size_t i = 0; rc == WM_OK && i < a->ni; i++)
        rc = wm_fm_include(fm, a->incl[i]);
    for (size_t i = 0; rc == WM_OK && i < a->ne; i++)
        rc = wm_fm_exclude(fm, a->excl[i]);
    for (size_t i = 0; rc == WM_OK && i < a->np; i++)
        if ((rc = wm_fm_watch_add(fm, a->paths[i])) != WM_OK)
            fprintf(stderr, "wm-filemonitor: cannot watch %s: %s\n", a->paths[i],
                    *wm_fm_last_error(fm) ? wm_fm_last_error(fm) : wm_strerror(rc));
    if (rc == WM_OK) {
        fprintf(stderr, "wm-filemonitor: watching %zu director%s (%s)\n", wm_fm_dir_count(fm),
                wm_fm_dir_count(fm) == 1 ? "y" : "ies", wm_fm_backend_name(fm));
        wm_signal_add(SIGCHLD, on_sigchld, NULL);
        wm_signal_add(SIGINT, on_stop_signal, NULL);
        wm_signal_add(SIGTERM, on_stop_signal, NULL);
        wm_loop_run();
    }
    wm_fm_free(fm);
    wm_loop_free();
    return rc == WM_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    args_t a = {.incl = calloc((size_t)argc, sizeof(char *)),
                .excl = calloc((size_t)argc, sizeof(char *)),
                .paths = calloc((size_t)argc, sizeof(char *))};
    int rc = a.incl && a.excl && a.paths ? parse_args(argc, argv, &a) : 1;
    if (rc < 0)
        rc = watch(&a);
    free(a.incl);
    free(a.excl);
    free(a.paths);
    return rc;
}
