/* SPDX-License-Identifier: MIT */
/* multipart/form-data (RFC 7578 over RFC 2046's multipart syntax) for
 * wm_http_form_parse(): fields into the form's arena, file parts into
 * temporary files.
 *
 * The body is complete in memory, so the parser is one forward pass over
 * it: find a delimiter ("--" boundary at the very start, else CRLF "--"
 * boundary), read the part's header block, find the next delimiter with
 * memmem, and hand the bytes between to a field or a file. RFC 2046 forbids
 * the delimiter inside a part, so its first occurrence ends the part; bytes
 * that only start like it ("\r\n--bound" of "boundary") are content.
 *
 * Files are written with plain blocking write()s: the bytes are already in
 * memory and their size is bounded by the limits and the body, so the
 * stall is one bounded copy into the page cache. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "wm/error.h"
#include "wm/http_body.h"
#include "body_int.h"

#define MAX_BOUNDARY 70 /* RFC 2046 §5.1.1 */

/* What one part's headers say. Spans point into the body. */
typedef struct part {
    const char *name, *filename, *content_type;
    size_t name_len, filename_len, content_type_len;
    bool has_name, has_filename;
} part_t;

typedef struct mp {
    wm_http_form_t *f;
    const wm_http_form_opts_t *o;
    const char *body;
    size_t len;
    wm_http_body_error_t *err;
} mp_t;

/* RFC 2046's bchars, with a space allowed except at the end. */
static bool boundary_ok(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > MAX_BOUNDARY || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)b[i]) && !strchr("'()+_,-./:=? ", b[i]))
            return false;
    return true;
}

static int bad(mp_t *m, const char *at, const char *reason)
{
    return wm__body_error(m->err, WM_EPROTO, 400, (size_t)(at - m->body), "%s", reason);
}

/* ---- Part headers ---- */

/* A Content-Disposition parameter value at p (token or quoted-string, the
 * quotes dropped, \" and \\ unescaped) copied into the arena. Returns the
 * position after it, or NULL when malformed. Other backslashes stay as
 * they are: browsers send Windows paths like "C:\a\b.txt" unescaped. */
static const char *disposition_value(mp_t *m, const char *p, const char *end, const char **out,
                                     size_t *out_len)
{
    char *d = wm__arena_alloc(&m->f->arena, (size_t)(end - p) + 1);
    size_t n = 0;
    if (!d)
        return NULL;
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
                p++;
            d[n++] = *p;
        }
        if (p >= end)
            return NULL;
        p++;
    } else {
        while (p < end && *p != ';' && *p != ' ' && *p != '\t')
            d[n++] = *p++;
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
    return p;
}

/* filename*=UTF-8''caf%C3%A9.txt (RFC 8187) into the arena; false when the
 * charset is not UTF-8 or the encoding is bad (the plain filename is used
 * then). */
static bool ext_value_utf8(mp_t *m, const char *v, size_t n, const char **out, size_t *out_len)
{
    if (n < 7 || strncasecmp(v, "UTF-8'", 6) != 0)
        return false;
    const char *q = memchr(v + 6, '\'', n - 6); /* after the language tag */
    if (!q)
        return false;
    q++;
    size_t rest = (size_t)(v + n - q), o = 0;
    char *d = wm__arena_alloc(&m->f->arena, rest + 1);
    if (!d)
        return false;
    for (size_t i = 0; i < rest; i++) {
        if (q[i] != '%') {
            d[o++] = q[i];
            continue;
        }
        char hex[3] = {0};
        if (i + 2 >= rest || !isxdigit((unsigned char)q[i + 1]) ||
            !isxdigit((unsigned char)q[i + 2]))
            return false;
        memcpy(hex, q + i + 1, 2);
        d[o++] = (char)strtol(hex, NULL, 16);
        i += 2;
    }
    d[o] = '\0';
    *out = d;
    *out_len = o;
    return true;
}

/* form-data; name="field"; filename="a.txt"; filename*=UTF-8''a.txt */
static int parse_disposition(mp_t *m, const char *v, const char *end, part_t *pt)
{
    const char *p = v, *star = NULL;
    size_t star_len = 0;
    while (p < end && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    if ((size_t)(p - v) != 9 || strncasecmp(v, "form-data", 9) != 0)
        return bad(m, v, "a part's Content-Disposition is not form-data");
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
            p++;
        const char *pn = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        if (p >= end || *p != '=')
            return bad(m, pn, "bad Content-Disposition parameter");
        size_t pnl = (size_t)(p - pn);
        while (pnl && (pn[pnl - 1] == ' ' || pn[pnl - 1] == '\t'))
            pnl--;
        const char *val;
        size_t vl;
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (!(p = disposition_value(m, p, end, &val, &vl)))
            return bad(m, pn, "bad Content-Disposition parameter value");
        if (pnl == 4 && strncasecmp(pn, "name", 4) == 0) {
            pt->name = val, pt->name_len = vl, pt->has_name = true;
        } else if (pnl == 8 && strncasecmp(pn, "filename", 8) == 0) {
            pt->filename = val, pt->filename_len = vl, pt->has_filename = true;
        } else if (pnl == 9 && strncasecmp(pn, "filename*", 9) == 0) {
            star = val, star_len = vl;
        }
    }
    const char *fn;
    size_t fnl;
    if (star && ext_value_utf8(m, star, star_len, &fn, &fnl))
        pt->filename = fn, pt->filename_len = fnl, pt->has_filename = true;
    return WM_OK;
}

/* Reads the header block at p (which ends with an empty line), filling pt;
 * returns the content's start in *content. */
static int parse_part_headers(mp_t *m, const char *p, part_t *pt, const char **content)
{
    const char *end = m->body + m->len;
    size_t room = (size_t)(end - p);
    size_t limit = m->o->max_header_size + 2;
    const char *stop = room > limit ? p + limit : end;
    memset(pt, 0, sizeof *pt);
    for (;;) {
        const char *eol = p;
        while (eol + 1 < stop && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        if (eol + 1 >= stop) {
            if (stop < end)
                return wm__body_error(m->err, WM_EMSGSIZE, 413, (size_t)(p - m->body),
                                      "a part's headers are longer than %zu bytes",
                                      m->o->max_header_size);
            return bad(m, p, "truncated body: a part's headers do not end");
        }
        if (eol == p) {
            *content = p + 2;
            return WM_OK;
        }
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (!colon || colon == p)
            return bad(m, p, "a part header line without a name");
        for (const char *q = p; q < eol; q++)
            if (*q == '\r' || *q == '\n' || *q == '\0' || (q < colon && (*q == ' ' || *q == '\t')))
                return bad(m, q, "bad character in a part header");
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t nl = (size_t)(colon - p);
        if (nl == 19 && strncasecmp(p, "Content-Disposition", 19) == 0) {
            int rc = parse_disposition(m, v, ve, pt);
            if (rc != WM_OK)
                return rc;
        } else if (nl == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
            pt->content_type = v;
            pt->content_type_len = (size_t)(ve - v);
        }
        p = eol + 2;
    }
}

/* ---- Part bodies ---- */

static int add_field(mp_t *m, const part_t *pt, const char *data, size_t n)
{
    if (m->f->n_fields >= m->o->max_fields)
        return wm__body_error(m->err, WM_EMSGSIZE, 413, (size_t)(data - m->body),
                              "more than %zu fields", m->o->max_fields);
    if (n > m->o->max_field_size)
        return wm__body_error(m->err, WM_EMSGSIZE, 413, (size_t)(data - m->body),
                              "field \"%.40s\" is larger than %zu bytes", pt->name,
                              m->o->max_field_size);
    char *v = wm__arena_strndup(&m->f->arena, data, n);
    if (!v || wm__form_add_field(m->f, pt->name, pt->name_len, v, n) != WM_OK)
        return wm__body_error(m->err, WM_ENOMEM, 500, 0, "out of memory");
    return WM_OK;
}

/* Writes n bytes to a new mkstemp file under the temporary folder; its
 * path goes into the arena. */
static int write_temp(mp_t *m, const char *data, size_t n, const char **path_out)
{
    size_t dl = strlen(m->o->tmp_dir);
    char *path = wm__arena_alloc(&m->f->arena, dl + 32);
    if (!path)
        return wm__body_error(m->err, WM_ENOMEM, 500, 0, "out of memory");
    snprintf(path, dl + 32, "%s/wm-upload-XXXXXX", m->o->tmp_dir);
    int fd = mkostemp(path, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return wm__body_error(m->err, -errno, 500, 0, "cannot create an upload file in %.60s: %s",
                              m->o->tmp_dir, strerror(errno));
    size_t done = 0;
    int rc = WM_OK;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        done += (size_t)w;
    }
    if (close(fd) != 0 && rc == WM_OK)
        rc = -errno;
    if (rc != WM_OK) {
        unlink(path);
        return wm__body_error(m->err, rc, 500, 0, "cannot write an upload file: %s", strerror(-rc));
    }
    *path_out = path;
    return WM_OK;
}

static int add_file(mp_t *m, const part_t *pt, const char *data, size_t n)
{
    size_t at = (size_t)(data - m->body);
    if (m->f->n_uploads >= m->o->max_files)
        return wm__body_error(m->err, WM_EMSGSIZE, 413, at, "more than %zu files", m->o->max_files);
    if ((uint64_t)n > m->o->max_file_size)
        return wm__body_error(m->err, WM_EMSGSIZE, 413, at,
                              "file \"%.40s\" is larger than %llu bytes", pt->name,
                              (unsigned long long)m->o->max_file_size);
    wm_http_upload_t u = {.name = pt->name, .filename = pt->filename, .size = n};
    u.content_type = pt->content_type
                         ? wm__arena_strndup(&m->f->arena, pt->content_type, pt->content_type_len)
                         : "application/octet-stream";
    if (!u.content_type)
        return wm__body_error(m->err, WM_ENOMEM, 500, 0, "out of memory");
    int rc = write_temp(m, data, n, &u.path);
    if (rc != WM_OK)
        return rc;
    if (wm__form_add_upload(m->f, &u) != WM_OK) {
        unlink(u.path);
        return wm__body_error(m->err, WM_ENOMEM, 500, 0, "out of memory");
    }
    return WM_OK;
}

/* ---- The body ---- */

int wm__multipart_parse(wm_http_form_t *f, const char *boundary, const char *body, size_t len,
                        const wm_http_form_opts_t *opts, wm_http_body_error_t *err)
{
    mp_t m = {.f = f, .o = opts, .body = body, .len = len, .err = err};
    if (!boundary_ok(boundary))
        return bad(&m, body, "invalid multipart boundary");
    char delim[MAX_BOUNDARY + 5];
    size_t dl = (size_t)snprintf(delim, sizeof delim, "\r\n--%s", boundary);
    const char *end = body + len, *p;
    /* The first delimiter may open the body without the CRLF; anything
     * before it is a preamble, ignored. */
    if (len >= dl - 2 && memcmp(body, delim + 2, dl - 2) == 0)
        p = body + dl - 2;
    else if ((p = memmem(body, len, delim, dl)) != NULL)
        p += dl;
    else
        return bad(&m, end, "no multipart boundary in the body");
    for (;;) {
        /* p is right after a delimiter: "--" closes, else padding CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return WM_OK; /* the epilogue, if any, is ignored */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2)
            return bad(&m, p, "truncated body: it ends after a boundary");
        if (p[0] != '\r' || p[1] != '\n')
            return bad(&m, p, "junk after a multipart boundary");
        part_t pt;
        const char *content = NULL;
        int rc = parse_part_headers(&m, p + 2, &pt, &content);
        if (rc != WM_OK)
            return rc;
        if (!pt.has_name)
            return bad(&m, p, "a part without a Content-Disposition name");
        const char *next = memmem(content, (size_t)(end - content), delim, dl);
        if (!next)
            return bad(&m, end, "truncated body: a part has no closing boundary");
        size_t n = (size_t)(next - content);
        rc = pt.has_filename ? add_file(&m, &pt, content, n) : add_field(&m, &pt, content, n);
        if (rc != WM_OK)
            return rc;
        p = next + dl;
    }
}
