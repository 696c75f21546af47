/* SPDX-License-Identifier: MIT */
/* Process plumbing for the master and its workers: the program's path and
 * original command line (so workers can be started from the program now on
 * disk), process titles, pid files and daemonizing. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "wm_int.h"
#include "wm_proc.h"

extern char **environ;

/* ---- the program's path and command line --------------------------------- */

static char exe_path[PATH_MAX];
static char **orig_argv;
static int orig_argc;

/* Reads /proc/self/cmdline: the whole command line, including the options
 * the program parsed itself before calling wm_run_all. Kept on the heap. */
static int load_cmdline(void)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (ssize_t n; buf; len += (size_t)n) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
    }
    close(fd);
    if (!buf)
        return WM_ENOMEM;
    buf[len] = '\0';
    int argc = 0;
    for (size_t i = 0; i < len; i++)
        argc += buf[i] == '\0';
    orig_argv = calloc((size_t)argc + 1, sizeof *orig_argv);
    if (!orig_argv)
        return WM_ENOMEM;
    for (size_t i = 0; i < len && orig_argc < argc; i += strlen(buf + i) + 1)
        orig_argv[orig_argc++] = buf + i;
    return WM_OK;
}

int wm__proc_init(void)
{
    if (orig_argv)
        return WM_OK;
    /* The path, not the open file: after a rebuild the path names the new
     * program, which is what a reload must run. */
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n <= 0)
        return -errno;
    exe_path[n] = '\0';
    /* A rebuilt program replaced while we run shows as "path (deleted)". */
    char *del = strstr(exe_path, " (deleted)");
    if (del && del[10] == '\0')
        *del = '\0';
    return load_cmdline();
}

const char *wm__proc_exe(void)
{
    return exe_path;
}

char **wm__proc_argv(void)
{
    return orig_argv;
}

/* ---- process titles ---------------------------------------------------------- */

/* As nginx does: the argv strings and, after them, the environment strings
 * are one contiguous area; moving the environment to the heap frees all of
 * it for the title that ps and top show. */
static char *title_start, *title_end;

static void title_init(void)
{
    extern char *program_invocation_name; /* glibc: the original argv[0] */
    if (title_start || !program_invocation_name)
        return;
    char *end = program_invocation_name;
    for (int i = 0; i < orig_argc; i++)
        end += strlen(end) + 1;
    for (char **e = environ; *e; e++)
        if (*e == end)
            end += strlen(*e) + 1;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 1) * sizeof *env);
    if (!env)
        return;
    for (size_t i = 0; i < n; i++)
        env[i] = strdup(environ[i]);
    env[n] = NULL;
    environ = env;
    title_start = program_invocation_name;
    title_end = end;
    /* program_invocation_name itself points into the area we overwrite. */
    program_invocation_name = strdup(program_invocation_name);
}

void wm__proc_set_comm(const char *name)
{
    char comm[16];
    snprintf(comm, sizeof comm, "%s", name);
    prctl(PR_SET_NAME, comm, 0, 0, 0);
}

void wm__proc_set_title(const char *fmt, ...)
{
    char title[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(title, sizeof title, fmt, ap);
    va_end(ap);
    prctl(PR_SET_NAME, title + (strncmp(title, "wm: ", 4) == 0 ? 4 : 0), 0, 0, 0);
    title_init();
    if (!title_start || title_end <= title_start + 1)
        return;
    size_t room = (size_t)(title_end - title_start) - 1;
    size_t len = strlen(title);
    if (len > room)
        len = room;
    memcpy(title_start, title, len);
    memset(title_start + len, '\0', (size_t)(title_end - title_start) - len);
}

/* ---- pid files ---------------------------------------------------------------- */

bool wm__proc_alive(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    /* An exited process nobody has reaped yet still answers kill(0). */
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return true;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* the name may hold spaces */
    return !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

pid_t wm__pidfile_read(const char *path)
{
    FILE *f = fopen(path, "re");
    long pid = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 1 || !wm__proc_alive((pid_t)pid))
        return 0;
    return (pid_t)pid;
}

int wm__pidfile_write(const char *path, pid_t pid)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "%ld\n", (long)pid);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int err = -errno;
        unlink(tmp);
        return err;
    }
    return WM_OK;
}

/* ---- daemonizing ----------------------------------------------------------------- */

int wm__proc_daemonize(int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        /* The starting process waits until the master says it runs (or why
         * it could not), so `start -d` reports failures as a foreground
         * start would. */
        close(p[1]);
        char msg[1024];
        ssize_t n, len = 0;
        while (len < (ssize_t)sizeof msg - 1 &&
               (n = read(p[0], msg + len, sizeof msg - 1 - (size_t)len)) > 0)
            len += n;
        msg[len > 0 ? len : 0] = '\0';
        if (len > 2 && strncmp(msg, "ok ", 3) == 0) {
            printf("started in the background: %s", msg + 3);
            fflush(stdout);
            _exit(0);
        }
        fprintf(stderr, "start failed%s%s", len ? ": " : " (the master exited)\n", msg);
        _exit(1);
    }
    close(p[0]);
    setsid();
    /* A second fork: the master is not a session leader, so it can never
     * acquire a controlling terminal again. */
    pid = fork();
    if (pid < 0)
        _exit(1);
    if (pid > 0)
        _exit(0);
    umask(022);
    *ready_fd = p[1];
    return WM_OK;
}

int wm__proc_redirect_stdio(const char *stdout_file)
{
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int out = open(stdout_file ? stdout_file : "/dev/null",
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (in < 0 || out < 0) {
        int err = -errno;
        if (in >= 0)
            close(in);
        return err;
    }
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    close(in);
    close(out);
    return WM_OK;
}
