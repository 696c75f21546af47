/* SPDX-License-Identifier: MIT */
/* Logging: one line per event, "YYYY-MM-DD HH:MM:SS.mmm pid LEVEL text", to
 * stderr or to a file. Every wm component logs through here, so a user sees
 * one stream. Lines are written with a single write(2), so processes sharing a
 * log file do not interleave within a line. */
#ifndef WM_LOG_H
#define WM_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef enum wm_log_level {
    WM_LOG_DEBUG = 0,
    WM_LOG_INFO = 1,
    WM_LOG_WARN = 2,
    WM_LOG_ERROR = 3,
    WM_LOG_OFF = 4
} wm_log_level_t;

/* Lines below `level` are dropped. Default: WM_LOG_INFO, or the value of the
 * environment variable WM_LOG_LEVEL (debug, info, warn, error, off) when set. */
void wm_log_set_level(wm_log_level_t level);
wm_log_level_t wm_log_get_level(void);

/* Sends lines to `path` (opened for append, created 0644), or back to stderr
 * when `path` is NULL. `path` is copied. Returns WM_OK or a negated errno; on
 * failure the previous destination stays. */
int wm_log_set_file(const char *path);

/* Parses "debug", "info", "warn", "error" or "off". Returns the level, or -1. */
int wm_log_level_parse(const char *name);

void wm_log(wm_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wm_logv(wm_log_level_t level, const char *fmt, va_list ap);

#define wm_log_debug(...) wm_log(WM_LOG_DEBUG, __VA_ARGS__)
#define wm_log_info(...) wm_log(WM_LOG_INFO, __VA_ARGS__)
#define wm_log_warn(...) wm_log(WM_LOG_WARN, __VA_ARGS__)
#define wm_log_error(...) wm_log(WM_LOG_ERROR, __VA_ARGS__)

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
