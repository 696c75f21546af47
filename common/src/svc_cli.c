/* SPDX-License-Identifier: MIT */
/* Command-line helpers shared by globaldata-server and channel-server
 * (svc_cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "svc_cli.h"

/* "127.0.0.1:2207" -> "frame://127.0.0.1:2207"; "unix:///p" ->
 * "frame+unix:///p"; a URL with a scheme is taken as it is. */
const char *wm__svc_listen_url(const char *addr, char *buf, size_t len)
{
    if (strncmp(addr, "unix://", 7) == 0)
        snprintf(buf, len, "frame+%s", addr);
    else if (strstr(addr, "://"))
        snprintf(buf, len, "%s", addr);
    else
        snprintf(buf, len, "frame://%s", addr);
    return buf;
}

int wm__svc_parse_size(const char *prog, const char *opt, const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 16 || v > (1ull << 31)) {
        fprintf(stderr, "%s: %s wants a number of bytes from 16 to 2^31, not '%s'\n", prog, opt, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

void wm__svc_make_parent_dir(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    mkdir(dir, 0755); /* EEXIST is fine; other failures show when SQLite opens */
}
