/* SPDX-License-Identifier: MIT */
/* The commands that act on a running master, found through its pid file:
 * stop, reload (signals) and status, connections (its control socket).
 * This side runs no event loop: plain blocking calls with time limits. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "wm_proc.h"

static pid_t running_master(bool quiet)
{
    const char *pf = wm__settings()->pid_file;
    pid_t pid = wm__pidfile_read(pf);
    if (!pid && !quiet)
        fprintf(stderr, "not running: no live master in the pid file %s\n", pf);
    return pid;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int wm__cli_stop(bool graceful, bool quiet)
{
    pid_t pid = running_master(quiet);
    if (!pid)
        return quiet ? 0 : 1;
    if (kill(pid, graceful ? SIGQUIT : SIGTERM) < 0) {
        fprintf(stderr, "cannot signal the master (pid %d): %s\n", (int)pid, strerror(errno));
        return 1;
    }
    printf("stopping master %d%s ...\n", (int)pid, graceful ? " gracefully" : "");
    fflush(stdout);
    /* The master waits for its processes; give it their time plus slack. */
    long limit = (long)(graceful ? wm__settings()->stop_timeout_ms : 0) + 15000;
    for (long waited = 0; waited < limit; waited += 20) {
        if (!wm__proc_alive(pid)) {
            printf("stopped\n");
            return 0;
        }
        sleep_ms(20);
    }
    fprintf(stderr, "master %d did not stop within %ld s\n", (int)pid, limit / 1000);
    return 1;
}

int wm__cli_reload(bool graceful)
{
    pid_t pid = running_master(false);
    if (!pid)
        return 1;
    if (kill(pid, graceful ? SIGUSR2 : SIGUSR1) < 0) {
        fprintf(stderr, "cannot signal the master (pid %d): %s\n", (int)pid, strerror(errno));
        return 1;
    }
    printf("reload%s requested: master %d replaces its processes one at a time\n",
           graceful ? " -g" : "", (int)pid);
    return 0;
}

/* ---- the control socket ------------------------------------------------------- */

static int ctl_connect(void)
{
    char path[4200];
    wm__ctl_path(path, sizeof path);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path)
        return -ENAMETOOLONG;
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        int err = -errno;
        close(fd);
        fprintf(stderr, "cannot reach the master's control socket %s: %s\n", path, strerror(-err));
        return err;
    }
    return fd;
}

static int full_io(int fd, void *buf, size_t len, bool writing)
{
    for (size_t done = 0; done < len;) {
        struct pollfd p = {fd, writing ? POLLOUT : POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            return WM_ETIMEDOUT;
        ssize_t n = writing ? write(fd, (char *)buf + done, len - done)
                            : read(fd, (char *)buf + done, len - done);
        if (n <= 0)
            return n == 0 ? WM_ECONNRESET : -errno;
        done += (size_t)n;
    }
    return WM_OK;
}

/* Sends one frame and prints the one that answers it. */
static int ask(int fd, const char *cmd)
{
    uint32_t n = (uint32_t)strlen(cmd) + 4;
    unsigned char h[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    if (full_io(fd, h, 4, true) || full_io(fd, (void *)cmd, n - 4, true) ||
        full_io(fd, h, 4, false))
        return WM_ECONNRESET;
    n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (n < 4 || n > 64u * 1024 * 1024)
        return WM_EPROTO;
    char *body = malloc(n - 4 + 1);
    if (!body)
        return WM_ENOMEM;
    int rc = full_io(fd, body, n - 4, false);
    if (rc == WM_OK)
        fwrite(body, 1, n - 4, stdout);
    free(body);
    fflush(stdout);
    return rc;
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig)
{
    interrupted = 1;
}

int wm__cli_query(const char *what, bool json, bool repeat)
{
    if (!running_master(false))
        return 1;
    int fd = ctl_connect();
    if (fd < 0)
        return 1;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%s%s", what, json ? " --json" : "");
    if (repeat)
        signal(SIGINT, on_interrupt);
    int rc;
    do {
        if (repeat)
            printf("\033[H\033[2J"); /* clear the screen, as top does */
        rc = ask(fd, cmd);
        if (rc != WM_OK) {
            fprintf(stderr, "no answer from the master: %s\n", wm_strerror(rc));
            break;
        }
        if (repeat)
            printf("\n(refreshing every second; Ctrl-C to quit)\n");
        for (int i = 0; repeat && i < 50 && !interrupted; i++)
            sleep_ms(20);
    } while (repeat && !interrupted);
    close(fd);
    return rc == WM_OK ? 0 : 1;
}
