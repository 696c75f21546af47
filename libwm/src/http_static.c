/* SPDX-License-Identifier: MIT */
/* File responses and the static-file server of wm/http.h.
 *
 * wm_http_send_file opens the file, decides the status from the request's
 * validators and Range (304, 206, 416 or 200), and hands the head plus an
 * (fd, offset, length) segment to http.c (wm__http_send_file), which queues
 * the segment on the connection's output evbuffer: evbuffer_write turns it
 * into sendfile() calls, so file bytes never pass through user space.
 *
 * wm_http_static_serve maps a request path to a file under a root. Every
 * check is on the decoded, normalized path and then again on the realpath of
 * the result, because lexical checks alone miss symlinks and realpath alone
 * would happily resolve "/../../etc" before anyone looked. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wm_int.h"
#include "http_int.h"

/* ---- Content types ------------------------------------------------------- */

static const struct {
    const char *ext, *type;
} mime_table[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"bmp", "image/bmp"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
};

const char *wm_http_mime_type(const char *name)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base)
        for (size_t i = 0; i < sizeof mime_table / sizeof *mime_table; i++)
            if (strcasecmp(dot + 1, mime_table[i].ext) == 0)
                return mime_table[i].type;
    return "application/octet-stream";
}

/* ---- Validators ------------------------------------------------------------ */

/* A strong validator, as nginx's: size and mtime change whenever the bytes
 * do (mtime in nanoseconds, so two writes within a second differ too). */
static void etag_of(const struct stat *st, char out[64])
{
    unsigned long long ns = (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
                            (unsigned long long)st->st_mtim.tv_nsec;
    snprintf(out, 64, "\"%llx-%llx\"", (unsigned long long)st->st_size, ns);
}

/* Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); the obsolete
 * forms are rare enough that a sender using them just gets a 200. Returns
 * -1 when it is not one. */
static time_t parse_imf_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4];
    int d, y, h, mi, sec, n = 0;
    if (sscanf(s, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &h, &mi, &sec,
               &n) != 6 ||
        n == 0 || s[n] != '\0')
        return -1;
    const char *m = strstr(months, mon);
    if (!m || (m - months) % 3 != 0 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = (int)(m - months) / 3,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    return timegm(&tm);
}

/* Whether `etag` is in the If-None-Match list `list` (weak comparison, RFC
 * 9110 §13.1.2: "W/" prefixes do not matter). */
static bool etag_listed(const char *list, const char *etag)
{
    const char *p = list;
    size_t elen = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        const char *end = p;
        if (*p == '"') {
            end = strchr(p + 1, '"');
            if (!end)
                return false;
            end++;
        } else {
            while (*end && *end != ',')
                end++;
        }
        if ((size_t)(end - p) == elen && strncmp(p, etag, elen) == 0)
            return true;
        p = end;
    }
    return false;
}

/* Whether the client's cached copy is current: 304. */
static bool not_modified(const wm_http_request_t *req, const struct stat *st, const char *etag)
{
    const char *inm = wm_http_request_header(req, "If-None-Match");
    if (inm)
        return etag_listed(inm, etag); /* §13.2.2: If-Modified-Since is then ignored */
    const char *ims = wm_http_request_header(req, "If-Modified-Since");
    if (!ims)
        return false;
    time_t t = parse_imf_date(ims);
    return t != -1 && st->st_mtim.tv_sec <= t;
}

/* ---- Range ------------------------------------------------------------------ */

enum { RANGE_NONE, RANGE_ONE, RANGE_UNSATISFIABLE };

static bool parse_u64(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*s))
        return false;
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *out = v;
    return true;
}

/* One "bytes=" range against `size`. Anything we do not serve as one range
 * (several ranges, another unit, bad syntax) is RANGE_NONE: the whole file,
 * which RFC 9110 §14.2 allows. */
static int parse_range(const char *v, uint64_t size, uint64_t *off, uint64_t *len)
{
    if (strncasecmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return RANGE_NONE;
    const char *p = v + 6;
    while (*p == ' ')
        p++;
    uint64_t a, b;
    if (*p == '-') { /* the last n bytes */
        p++;
        if (!parse_u64(&p, &b) || *p)
            return RANGE_NONE;
        if (b == 0 || size == 0)
            return RANGE_UNSATISFIABLE;
        *len = b < size ? b : size;
        *off = size - *len;
        return RANGE_ONE;
    }
    if (!parse_u64(&p, &a) || *p++ != '-')
        return RANGE_NONE;
    if (*p == '\0') {
        b = UINT64_MAX;
    } else if (!parse_u64(&p, &b) || *p || b < a) {
        return RANGE_NONE;
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return RANGE_ONE;
}

/* If-Range (§13.1.5): the range applies only when the validator is the
 * current one; a date must match exactly (and is only strong when the file
 * is older than a second, which we do not bother to check). */
static bool if_range_ok(const wm_http_request_t *req, const struct stat *st, const char *etag)
{
    const char *ir = wm_http_request_header(req, "If-Range");
    if (!ir)
        return true;
    if (ir[0] == '"')
        return strcmp(ir, etag) == 0;
    time_t t = parse_imf_date(ir);
    return t != -1 && t == st->st_mtim.tv_sec;
}

/* ---- File responses ------------------------------------------------------------ */

static int reply_text(wm_conn_t *c, int status, const char *extra_name, const char *extra_value)
{
    wm_http_response_t *r = wm_http_response_new(status);
    if (!r)
        return WM_ENOMEM;
    char body[64];
    int n = snprintf(body, sizeof body, "%s\n", wm_http_reason(status));
    int rc = wm_http_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    if (rc == WM_OK && extra_name)
        rc = wm_http_response_header(r, extra_name, extra_value);
    if (rc == WM_OK)
        rc = wm_http_response_body(r, body, (size_t)n);
    if (rc != WM_OK) {
        wm_http_response_free(r);
        return rc;
    }
    return wm_http_send(c, r);
}

/* Answers with the open regular file `fd` (taken). `type_name` picks the
 * Content-Type when `content_type` is NULL. */
static int send_fd(wm_conn_t *c, const wm_http_request_t *req, int fd, const struct stat *st,
                   const char *type_name, const char *content_type)
{
    char etag[64], lastmod[64], crange[96];
    etag_of(st, etag);
    wm__http_imf_date(st->st_mtim.tv_sec, lastmod);
    const char *method = wm_http_request_method(req);
    bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
    uint64_t size = (uint64_t)st->st_size, off = 0, len = size;
    int status = 200;
    if ((get || head) && not_modified(req, st, etag)) {
        status = 304;
    } else if (get || head) {
        /* HEAD answers as GET would, Range included (§9.3.2). */
        const char *range = wm_http_request_header(req, "Range");
        int kind =
            range && if_range_ok(req, st, etag) ? parse_range(range, size, &off, &len) : RANGE_NONE;
        if (kind == RANGE_UNSATISFIABLE) {
            close(fd);
            snprintf(crange, sizeof crange, "bytes */%llu", (unsigned long long)size);
            return reply_text(c, 416, "Content-Range", crange);
        }
        if (kind == RANGE_ONE) {
            status = 206;
            snprintf(crange, sizeof crange, "bytes %llu-%llu/%llu", (unsigned long long)off,
                     (unsigned long long)(off + len - 1), (unsigned long long)size);
        } else {
            off = 0;
            len = size;
        }
    }
    wm_http_response_t *r = wm_http_response_new(status);
    int rc = r ? WM_OK : WM_ENOMEM;
    if (rc == WM_OK && status != 304)
        rc = wm_http_response_header(r, "Content-Type",
                                     content_type ? content_type : wm_http_mime_type(type_name));
    if (rc == WM_OK)
        rc = wm_http_response_header(r, "Last-Modified", lastmod);
    if (rc == WM_OK)
        rc = wm_http_response_header(r, "ETag", etag);
    if (rc == WM_OK && status != 304)
        rc = wm_http_response_header(r, "Accept-Ranges", "bytes");
    if (rc == WM_OK && status == 206)
        rc = wm_http_response_header(r, "Content-Range", crange);
    if (rc != WM_OK) {
        close(fd);
        wm_http_response_free(r);
        return rc;
    }
    return wm__http_send_file(c, r, fd, off, len);
}

/* Opens `path` for sending: the fd, or -(the status to answer). */
static int open_file(const char *path, int extra_flags, struct stat *st)
{
    /* O_NONBLOCK: opening a FIFO must not hang the loop (it is refused
     * below anyway); regular files ignore the flag. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | extra_flags);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG ? -404 : -403;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -403;
    }
    return fd;
}

int wm_http_send_file(wm_conn_t *c, const wm_http_request_t *req, const char *path,
                      const char *content_type)
{
    if (!c || !req || !path)
        return WM_EINVAL;
    struct stat st;
    int fd = open_file(path, 0, &st);
    if (fd < 0)
        return reply_text(c, -fd, NULL, NULL);
    return send_fd(c, req, fd, &st, path, content_type);
}

/* ---- The static-file server ------------------------------------------------------ */

typedef struct static_host {
    char *name; /* lower case, no port */
    char *root; /* realpath */
} static_host_t;

struct wm_http_static {
    char *root; /* realpath, or NULL */
    char *index;
    static_host_t *hosts;
    size_t nhosts;
};

/* The realpath of a directory, or NULL (logged). */
static char *root_resolve(const char *root)
{
    char *r = realpath(root, NULL);
    struct stat st;
    if (!r || stat(r, &st) != 0 || !S_ISDIR(st.st_mode)) {
        wm_log_error("static files: root '%s' is not a directory: %s", root,
                     r ? "not a directory" : strerror(errno));
        free(r);
        return NULL;
    }
    return r;
}

wm_http_static_t *wm_http_static_new(const char *root)
{
    wm_http_static_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->index = strdup("index.html");
    if (!s->index || (root && !(s->root = root_resolve(root)))) {
        wm_http_static_free(s);
        return NULL;
    }
    return s;
}

void wm_http_static_free(wm_http_static_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nhosts; i++) {
        free(s->hosts[i].name);
        free(s->hosts[i].root);
    }
    free(s->hosts);
    free(s->root);
    free(s->index);
    free(s);
}

/* The host name without its port, lower-cased into out. */
static void host_key(const char *host, char *out, size_t cap)
{
    size_t n = 0;
    const char *end;
    if (host[0] == '[') { /* [v6]:port */
        end = strchr(host, ']');
        end = end ? end + 1 : host + strlen(host);
    } else {
        end = strchr(host, ':');
        if (!end)
            end = host + strlen(host);
    }
    for (const char *p = host; p < end && n + 1 < cap; p++)
        out[n++] = (char)tolower((unsigned char)*p);
    /* A trailing dot names the same host ("example.com."). */
    if (n > 0 && out[n - 1] == '.')
        n--;
    out[n] = '\0';
}

int wm_http_static_add_host(wm_http_static_t *s, const char *host, const char *root)
{
    if (!s || !host || !*host || !root)
        return WM_EINVAL;
    char key[256];
    host_key(host, key, sizeof key);
    char *r = root_resolve(root);
    if (!r)
        return WM_EINVAL;
    for (size_t i = 0; i < s->nhosts; i++) {
        if (strcmp(s->hosts[i].name, key) == 0) {
            free(s->hosts[i].root);
            s->hosts[i].root = r;
            return WM_OK;
        }
    }
    static_host_t *h = realloc(s->hosts, (s->nhosts + 1) * sizeof *h);
    char *name = strdup(key);
    if (!h || !name) {
        if (h)
            s->hosts = h;
        free(name);
        free(r);
        return WM_ENOMEM;
    }
    s->hosts = h;
    s->hosts[s->nhosts].name = name;
    s->hosts[s->nhosts++].root = r;
    return WM_OK;
}

int wm_http_static_set_index(wm_http_static_t *s, const char *name)
{
    if (!s || (name &&
               (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)))
        return WM_EINVAL;
    char *dup = NULL;
    if (name && !(dup = strdup(name)))
        return WM_ENOMEM;
    free(s->index);
    s->index = dup;
    return WM_OK;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes `path` once and resolves its "." and ".." segments into `out`
 * ("a/b", no leading or trailing '/'; "" for the root). Returns 0, or the
 * status to answer: 400 for a bad or dangerous escape, 403 for a ".."
 * above the root. Decoding happens before the segments are looked at, so
 * "%2e%2e" is a ".." like any other; an encoded '/' is refused rather than
 * decoded, so it can never form new segments. */
static int path_normalize(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    const char *p = path;
    if (*p != '/')
        return 400;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char seg[NAME_MAX + 1];
        size_t sl = 0;
        for (; *p && *p != '/'; p++) {
            char ch = *p;
            if (ch == '%') {
                int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
                if (lo < 0)
                    return 400;
                ch = (char)(hi * 16 + lo);
                if (ch == '\0' || ch == '/')
                    return 400;
                p += 2;
            }
            if (sl + 1 >= sizeof seg)
                return 404; /* no file has a name that long */
            seg[sl++] = ch;
        }
        seg[sl] = '\0';
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            if (n == 0)
                return 403; /* above the root */
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--; /* the '/' before the dropped segment */
            continue;
        }
        if (n + (n ? 1 : 0) + sl + 1 > cap)
            return 404;
        if (n)
            out[n++] = '/';
        memcpy(out + n, seg, sl);
        n += sl;
    }
    out[n] = '\0';
    return 0;
}

/* Whether `path` (a realpath) is `root` or below it. */
static bool under_root(const char *path, const char *root)
{
    size_t rl = strlen(root);
    if (strcmp(root, "/") == 0)
        return path[0] == '/';
    return strncmp(path, root, rl) == 0 && (path[rl] == '\0' || path[rl] == '/');
}

/* Resolves `full` and checks it stays under `root`. Returns 0 with the
 * realpath in *real (to free), 404 when it does not exist, 403 when it
 * leaves the root or may not be looked at. */
static int resolve_under(const char *full, const char *root, char **real)
{
    *real = realpath(full, NULL);
    if (!*real)
        return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG ? 404 : 403;
    if (!under_root(*real, root)) {
        wm_log_debug("static files: '%s' resolves to '%s', outside the root: refused", full, *real);
        free(*real);
        *real = NULL;
        return 403;
    }
    return 0;
}

static const char *root_for(const wm_http_static_t *s, const wm_http_request_t *req)
{
    char key[256];
    host_key(wm_http_request_host(req), key, sizeof key);
    for (size_t i = 0; i < s->nhosts; i++)
        if (strcmp(s->hosts[i].name, key) == 0)
            return s->hosts[i].root;
    return s->root;
}

/* 301 to the directory's path with a '/' added, so that the index page's
 * relative links resolve inside the directory. */
static int redirect_slash(wm_conn_t *c, const wm_http_request_t *req)
{
    const char *path = wm_http_request_path(req), *query = wm_http_request_query(req);
    size_t need = strlen(path) + strlen(query) + 3;
    char *loc = malloc(need);
    if (!loc)
        return WM_ENOMEM;
    snprintf(loc, need, "%s/%s%s", path, *query ? "?" : "", query);
    int rc = reply_text(c, 301, "Location", loc);
    free(loc);
    return rc;
}

int wm_http_static_serve(wm_http_static_t *s, wm_conn_t *c, const wm_http_request_t *req)
{
    if (!s || !c || !req)
        return WM_EINVAL;
    const char *root = root_for(s, req);
    if (!root)
        return WM_ENOENT;
    char rel[PATH_MAX];
    int status = path_normalize(wm_http_request_path(req), rel, sizeof rel);
    if (status == 404)
        return WM_ENOENT;
    if (status)
        return reply_text(c, status, NULL, NULL);
    char full[PATH_MAX + 1];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", root, rel) >= sizeof full)
        return WM_ENOENT;
    char *real = NULL;
    status = resolve_under(full, root, &real);
    struct stat st;
    if (status == 0 && stat(real, &st) != 0)
        status = 404;
    if (status == 0 && S_ISDIR(st.st_mode)) {
        const char *path = wm_http_request_path(req);
        if (path[strlen(path) - 1] != '/') {
            free(real);
            return redirect_slash(c, req);
        }
        if (!s->index) {
            status = 403;
        } else {
            snprintf(full, sizeof full, "%s/%s", real, s->index);
            free(real);
            status = resolve_under(full, root, &real);
            if (status == 404)
                status = 403; /* a directory without its index */
        }
    }
    if (status == 404) {
        free(real);
        return WM_ENOENT;
    }
    const char *method = wm_http_request_method(req);
    if (status == 0 && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        free(real);
        return reply_text(c, 405, "Allow", "GET, HEAD");
    }
    int fd = -403;
    /* O_NOFOLLOW: the checked path has no symlink left in it; one swapped in
     * as its last component since then is refused rather than followed. */
    if (status == 0)
        fd = open_file(real, O_NOFOLLOW, &st);
    if (fd < 0) {
        free(real);
        return -fd == 404 ? WM_ENOENT : reply_text(c, status ? status : -fd, NULL, NULL);
    }
    int rc = send_fd(c, req, fd, &st, real, NULL);
    free(real);
    return rc;
}
