/* SPDX-License-Identifier: MIT */
/* Forms (wm/http_body.h): the form object shared by both form encodings,
 * application/x-www-form-urlencoded bodies and query strings, the
 * Content-Type parsing that picks a parser, JSON bodies, and the uploads'
 * move/keep/free. The multipart parser itself is in http_multipart.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "wm/error.h"
#include "wm/http_body.h"
#include "body_int.h"

/* ==== Errors and options ===================================================== */

int wm__body_error(wm_http_body_error_t *err, int code, int status, size_t offset, const char *fmt,
                   ...)
{
    if (err) {
        err->status = status;
        err->offset = offset;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
    }
    return code;
}

int wm_http_reply_body_error(wm_conn_t *c, const wm_http_body_error_t *err)
{
    wm_http_response_t *r = wm_http_response_new(err->status >= 400 ? err->status : 400);
    if (!r)
        return WM_ENOMEM;
    char body[sizeof err->reason + 1];
    int n = snprintf(body, sizeof body, "%s\n", err->reason);
    if (wm_http_response_header(r, "Content-Type", "text/plain; charset=utf-8") != WM_OK ||
        wm_http_response_header(r, "Connection", "close") != WM_OK ||
        wm_http_response_body(r, body, (size_t)n) != WM_OK) {
        wm_http_response_free(r);
        return WM_ENOMEM;
    }
    return wm_http_send(c, r);
}

wm_http_form_opts_t wm__form_opts(const wm_http_form_opts_t *opts)
{
    wm_http_form_opts_t o = opts ? *opts : (wm_http_form_opts_t){0};
    if (!o.max_fields)
        o.max_fields = WM_HTTP_FORM_DEFAULT_MAX_FIELDS;
    if (!o.max_field_size)
        o.max_field_size = WM_HTTP_FORM_DEFAULT_MAX_FIELD_SIZE;
    if (!o.max_files)
        o.max_files = WM_HTTP_FORM_DEFAULT_MAX_FILES;
    if (!o.max_file_size)
        o.max_file_size = UINT64_MAX;
    if (!o.max_header_size)
        o.max_header_size = WM_HTTP_FORM_DEFAULT_MAX_HEADER_SIZE;
    if (!o.tmp_dir || !*o.tmp_dir) {
        const char *t = getenv("TMPDIR");
        o.tmp_dir = t && *t ? t : "/tmp";
    }
    return o;
}

/* ==== The form object ========================================================= */

wm_http_form_t *wm__form_new(void)
{
    return calloc(1, sizeof(wm_http_form_t));
}

/* Makes room for one more element in a form's array. */
static bool grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *na = ncap <= SIZE_MAX / size ? realloc(*arr, ncap * size) : NULL;
    if (!na)
        return false;
    *arr = na;
    *cap = ncap;
    return true;
}

int wm__form_add_field(wm_http_form_t *f, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
    if (!grow((void **)&f->fields, &f->cap_fields, f->n_fields, sizeof *f->fields))
        return WM_ENOMEM;
    f->fields[f->n_fields++] = (wm_http_field_t){name, name_len, value, value_len};
    return WM_OK;
}

int wm__form_add_upload(wm_http_form_t *f, const wm_http_upload_t *u)
{
    if (!grow((void **)&f->uploads, &f->cap_uploads, f->n_uploads, sizeof *f->uploads))
        return WM_ENOMEM;
    f->uploads[f->n_uploads++] = (wm__upload_t){*u, true};
    return WM_OK;
}

void wm_http_form_free(wm_http_form_t *form)
{
    if (!form)
        return;
    for (size_t i = 0; i < form->n_uploads; i++)
        if (form->uploads[i].owned)
            unlink(form->uploads[i].pub.path);
    free(form->fields);
    free(form->uploads);
    wm__arena_free(&form->arena);
    free(form);
}

size_t wm_http_form_count(const wm_http_form_t *form)
{
    return form ? form->n_fields : 0;
}

const wm_http_field_t *wm_http_form_field_at(const wm_http_form_t *form, size_t i)
{
    return form && i < form->n_fields ? &form->fields[i] : NULL;
}

const wm_http_field_t *wm_http_form_next(const wm_http_form_t *form, const char *name,
                                         const wm_http_field_t *prev)
{
    if (!form || !name)
        return NULL;
    size_t i = prev ? (size_t)(prev - form->fields) + 1 : 0;
    size_t n = strlen(name);
    for (; i < form->n_fields; i++)
        if (form->fields[i].name_len == n && memcmp(form->fields[i].name, name, n) == 0)
            return &form->fields[i];
    return NULL;
}

const char *wm_http_form_get(const wm_http_form_t *form, const char *name, size_t *len)
{
    const wm_http_field_t *f = wm_http_form_next(form, name, NULL);
    if (f && len)
        *len = f->value_len;
    return f ? f->value : NULL;
}

size_t wm_http_form_file_count(const wm_http_form_t *form)
{
    return form ? form->n_uploads : 0;
}

const wm_http_upload_t *wm_http_form_file_at(const wm_http_form_t *form, size_t i)
{
    return form && i < form->n_uploads ? &form->uploads[i].pub : NULL;
}

const wm_http_upload_t *wm_http_form_file(const wm_http_form_t *form, const char *name)
{
    for (size_t i = 0; form && name && i < form->n_uploads; i++)
        if (strcmp(form->uploads[i].pub.name, name) == 0)
            return &form->uploads[i].pub;
    return NULL;
}

/* The form's own record of `u`, or NULL when `u` is not one of its uploads. */
static wm__upload_t *own_upload(wm_http_form_t *form, const wm_http_upload_t *u)
{
    for (size_t i = 0; form && i < form->n_uploads; i++)
        if (&form->uploads[i].pub == u)
            return &form->uploads[i];
    return NULL;
}

int wm_http_upload_keep(wm_http_form_t *form, const wm_http_upload_t *upload)
{
    wm__upload_t *u = own_upload(form, upload);
    if (!u)
        return WM_EINVAL;
    u->owned = false;
    return WM_OK;
}

/* Copies src to dest (for a move across file systems). Blocking, as the
 * header says. */
static int copy_file(const char *src, const char *dest)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = WM_OK;
    if (in < 0)
        return -errno;
    out = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = -errno;
        goto done;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -errno;
                goto done;
            }
            off += w;
        }
    }
done:
    if (out >= 0 && close(out) != 0 && rc == WM_OK)
        rc = -errno;
    close(in);
    if (rc != WM_OK && out >= 0)
        unlink(dest);
    return rc;
}

int wm_http_upload_move_to(wm_http_form_t *form, const wm_http_upload_t *upload, const char *dest)
{
    wm__upload_t *u = own_upload(form, upload);
    if (!u || !u->owned || !dest || !*dest)
        return WM_EINVAL;
    char *path = wm__arena_strndup(&form->arena, dest, strlen(dest));
    if (!path)
        return WM_ENOMEM;
    if (rename(u->pub.path, dest) != 0) {
        if (errno != EXDEV)
            return -errno;
        int rc = copy_file(u->pub.path, dest);
        if (rc != WM_OK)
            return rc;
        unlink(u->pub.path);
    }
    u->pub.path = path;
    u->owned = false;
    return WM_OK;
}

/* ==== Content-Type =========================================================== */

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Reads a token or a quoted-string at *pp into val[vcap] (unquoted).
 * Returns false when malformed or too long. */
static bool param_value(const char **pp, char *val, size_t vcap)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (!*p || (unsigned char)*p < 0x20 || *p == 0x7F) {
                if (*p != '\t')
                    return false;
            }
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 >= vcap)
                return false;
            val[n++] = *p;
        }
        p++;
    } else {
        for (; is_tchar((unsigned char)*p); p++) {
            if (n + 1 >= vcap)
                return false;
            val[n++] = *p;
        }
        if (n == 0)
            return false;
    }
    val[n] = '\0';
    *pp = p;
    return true;
}

bool wm__media_type(const char *content_type, char *type, size_t cap, const char *param,
                    char *value, size_t vcap, bool *found)
{
    const char *p = skip_ows(content_type ? content_type : "");
    size_t n = 0;
    bool slash = false;
    if (found)
        *found = false;
    for (; is_tchar((unsigned char)*p) || (*p == '/' && !slash); p++) {
        slash |= *p == '/';
        if (n + 1 >= cap)
            return false;
        type[n++] = (char)tolower((unsigned char)*p);
    }
    type[n] = '\0';
    if (!slash || type[0] == '/' || type[n - 1] == '/')
        return false;
    char name[64], val[256];
    for (;;) {
        p = skip_ows(p);
        if (!*p)
            return true;
        if (*p++ != ';')
            return false;
        p = skip_ows(p);
        if (!*p)
            return true; /* a trailing ';' is harmless */
        size_t nl = 0;
        for (; is_tchar((unsigned char)*p); p++)
            if (nl + 1 < sizeof name)
                name[nl++] = *p;
        name[nl] = '\0';
        if (nl == 0 || *p++ != '=' || !param_value(&p, val, sizeof val))
            return false;
        if (param && strcasecmp(name, param) == 0 && found && !*found) {
            if (strlen(val) + 1 > vcap)
                return false;
            strcpy(value, val);
            *found = true;
        }
    }
}

bool wm_http_is_json_type(const char *content_type)
{
    char type[128];
    if (!wm__media_type(content_type, type, sizeof type, NULL, NULL, 0, NULL))
        return false;
    size_t n = strlen(type);
    return strcmp(type, "application/json") == 0 || (n > 5 && strcmp(type + n - 5, "+json") == 0);
}

/* ==== urlencoded ============================================================== */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes n bytes of s ('+' a space, %XX a byte) into out (room for n).
 * Returns the decoded length, or -1 with *bad set to the offset of a
 * malformed escape. */
static ssize_t url_decode(const char *s, size_t n, char *out, size_t *bad)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+')
            out[o++] = ' ';
        else if (s[i] != '%')
            out[o++] = s[i];
        else {
            /* Both digits must be there: i + 2 < n. */
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi < 0 ? -1 : hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                *bad = i;
                return -1;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        }
    }
    return (ssize_t)o;
}

/* Decodes one span into the form's arena. */
static int decode_into(wm_http_form_t *f, const char *s, size_t n, size_t base, const char *what,
                       const char **out, size_t *out_len, wm_http_body_error_t *err)
{
    char *d = wm__arena_alloc(&f->arena, n + 1);
    if (!d)
        return wm__body_error(err, WM_ENOMEM, 500, base, "out of memory");
    size_t bad = 0;
    ssize_t l = url_decode(s, n, d, &bad);
    if (l < 0)
        return wm__body_error(err, WM_EPROTO, 400, base + bad, "bad %%-escape in a field %s", what);
    d[l] = '\0';
    *out = d;
    *out_len = (size_t)l;
    return WM_OK;
}

static int urlencoded_into(wm_http_form_t *f, const char *data, size_t len,
                           const wm_http_form_opts_t *o, wm_http_body_error_t *err)
{
    size_t pos = 0;
    while (pos < len) {
        const char *pair = data + pos;
        const char *amp = memchr(pair, '&', len - pos);
        size_t plen = amp ? (size_t)(amp - pair) : len - pos;
        size_t at = pos;
        pos += plen + 1;
        if (plen == 0)
            continue;
        if (f->n_fields >= o->max_fields)
            return wm__body_error(err, WM_EMSGSIZE, 413, at, "more than %zu fields", o->max_fields);
        const char *eq = memchr(pair, '=', plen);
        size_t nlen = eq ? (size_t)(eq - pair) : plen;
        size_t vlen = eq ? plen - nlen - 1 : 0;
        const char *name = NULL, *value = NULL;
        size_t name_len = 0, value_len = 0;
        int rc = decode_into(f, pair, nlen, at, "name", &name, &name_len, err);
        if (rc == WM_OK)
            rc = decode_into(f, eq ? eq + 1 : "", vlen, at + nlen + 1, "value", &value, &value_len,
                             err);
        /* The limit is on the decoded value, as for a multipart field. */
        if (rc == WM_OK && value_len > o->max_field_size)
            return wm__body_error(err, WM_EMSGSIZE, 413, at, "a field is larger than %zu bytes",
                                  o->max_field_size);
        if (rc == WM_OK && (rc = wm__form_add_field(f, name, name_len, value, value_len)) != WM_OK)
            wm__body_error(err, rc, 500, at, "out of memory");
        if (rc != WM_OK)
            return rc;
    }
    return WM_OK;
}

int wm_http_urlencoded_parse(const char *data, size_t len, const wm_http_form_opts_t *opts,
                             wm_http_form_t **form, wm_http_body_error_t *err)
{
    wm_http_form_opts_t o = wm__form_opts(opts);
    *form = NULL;
    wm_http_form_t *f = wm__form_new();
    if (!f)
        return wm__body_error(err, WM_ENOMEM, 500, 0, "out of memory");
    int rc = urlencoded_into(f, data, len, &o, err);
    if (rc != WM_OK) {
        wm_http_form_free(f);
        return rc;
    }
    *form = f;
    return WM_OK;
}

int wm_http_request_query_form(const wm_http_request_t *req, const wm_http_form_opts_t *opts,
                               wm_http_form_t **form, wm_http_body_error_t *err)
{
    const char *q = wm_http_request_query(req);
    return wm_http_urlencoded_parse(q, strlen(q), opts, form, err);
}

int wm_http_request_query_param(const wm_http_request_t *req, const char *name, char *out,
                                size_t out_size)
{
    const char *q = wm_http_request_query(req);
    size_t qlen = strlen(q), nlen = strlen(name), bad;
    /* Checked whole first: a malformed query is an error wherever the
     * malformed escape is. The decoded query is never longer. */
    char *tmp = malloc(qlen + 1);
    if (!tmp)
        return WM_ENOMEM;
    int rc = url_decode(q, qlen, tmp, &bad) < 0 ? WM_EPROTO : WM_ENOENT;
    for (const char *p = q; rc == WM_ENOENT && *p;) {
        size_t plen = strcspn(p, "&");
        size_t kl = strcspn(p, "=");
        if (kl > plen)
            kl = plen;
        ssize_t dl = url_decode(p, kl, tmp, &bad);
        if (plen && dl == (ssize_t)nlen && memcmp(tmp, name, nlen) == 0) {
            const char *v = kl < plen ? p + kl + 1 : p + kl;
            ssize_t vl = url_decode(v, (size_t)(p + plen - v), tmp, &bad);
            if ((size_t)vl >= out_size)
                rc = WM_ENOBUFS;
            else {
                memcpy(out, tmp, (size_t)vl);
                out[vl] = '\0';
                rc = (int)vl;
            }
        }
        p += plen + (p[plen] == '&');
    }
    free(tmp);
    return rc;
}

/* ==== One entry point for both form kinds, and JSON ============================ */

int wm_http_form_parse_body(const char *content_type, const void *body, size_t len,
                            const wm_http_form_opts_t *opts, wm_http_form_t **form,
                            wm_http_body_error_t *err)
{
    char type[128], boundary[128];
    bool has_boundary = false;
    *form = NULL;
    if (!content_type || !wm__media_type(content_type, type, sizeof type, "boundary", boundary,
                                         sizeof boundary, &has_boundary))
        return wm__body_error(err, WM_EPROTO, content_type ? 400 : 415, 0,
                              content_type ? "malformed Content-Type" : "no Content-Type");
    if (strcmp(type, "application/x-www-form-urlencoded") == 0)
        return wm_http_urlencoded_parse(body, len, opts, form, err);
    if (strcmp(type, "multipart/form-data") != 0)
        return wm__body_error(err, WM_EPROTO, 415, 0, "Content-Type %s is not a form", type);
    if (!has_boundary)
        return wm__body_error(err, WM_EPROTO, 400, 0, "multipart/form-data without a boundary");
    wm_http_form_opts_t o = wm__form_opts(opts);
    wm_http_form_t *f = wm__form_new();
    if (!f)
        return wm__body_error(err, WM_ENOMEM, 500, 0, "out of memory");
    int rc = wm__multipart_parse(f, boundary, body, len, &o, err);
    if (rc != WM_OK) {
        wm_http_form_free(f);
        return rc;
    }
    *form = f;
    return WM_OK;
}

int wm_http_form_parse(const wm_http_request_t *req, const wm_http_form_opts_t *opts,
                       wm_http_form_t **form, wm_http_body_error_t *err)
{
    size_t len;
    const char *body = wm_http_request_body(req, &len);
    return wm_http_form_parse_body(wm_http_request_header(req, "Content-Type"), body, len, opts,
                                   form, err);
}

int wm_http_request_json(const wm_http_request_t *req, const wm_json_opts_t *opts,
                         wm_json_doc_t **doc, wm_http_body_error_t *err)
{
    const char *type = wm_http_request_header(req, "Content-Type");
    *doc = NULL;
    if (!wm_http_is_json_type(type))
        return wm__body_error(err, WM_EPROTO, 415, 0, "Content-Type %.60s is not JSON",
                              type ? type : "(none)");
    size_t len;
    const char *body = wm_http_request_body(req, &len);
    wm_json_error_t je;
    int rc = wm_json_parse(body, len, opts, doc, &je);
    if (rc != WM_OK)
        wm__body_error(err, rc,
                       rc == WM_EPROTO     ? 400
                       : rc == WM_EMSGSIZE ? 413
                                           : 500,
                       je.offset, "invalid JSON at byte %zu: %s", je.offset, je.reason);
    return rc;
}
