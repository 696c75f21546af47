/* SPDX-License-Identifier: MIT */
/* Logging to stderr or a file: "2026-11-23 02:10:00.123 12345 INFO text".
 * Each line is formatted into one buffer and written with one write(2) on an
 * O_APPEND descriptor, so lines from several processes never interleave. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wm_int.h"

static int log_level = -1; /* -1: not read from the environment yet */
static int log_fd = 2;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

int wm_log_level_parse(const char *name)
{
    static const char *const lower[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; name && i < 5; i++)
        if (strcasecmp(name, lower[i]) == 0)
            return i;
    if (name && strcasecmp(name, "warning") == 0)
        return WM_LOG_WARN;
    return -1;
}

wm_log_level_t wm_log_get_level(void)
{
    if (log_level < 0) {
        int l = wm_log_level_parse(getenv("WM_LOG_LEVEL"));
        log_level = l >= 0 ? l : WM_LOG_INFO;
    }
    return (wm_log_level_t)log_level;
}

void wm_log_set_level(wm_log_level_t level)
{
    log_level = level;
}

int wm_log_set_file(const char *path)
{
    if (!path) {
        if (log_fd != 2)
            close(log_fd);
        log_fd = 2;
        return WM_OK;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    if (log_fd != 2)
        close(log_fd);
    log_fd = fd;
    return WM_OK;
}

void wm_logv(wm_log_level_t level, const char *fmt, va_list ap)
{
    if (level < wm_log_get_level() || level >= WM_LOG_OFF)
        return;
    int saved_errno = errno;
    char line[2048];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - n, ".%03d %d %s ", (int)(tv.tv_usec / 1000),
                  (int)getpid(), level_names[level]);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, (size_t)n);
    (void)w; /* nowhere to report a failing log */
    errno = saved_errno;
}

void wm_log(wm_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wm_logv(level, fmt, ap);
    va_end(ap);
}
