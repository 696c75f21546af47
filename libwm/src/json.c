/* SPDX-License-Identifier: MIT */
/* JSON (wm/json.h): a strict RFC 8259 parser into an arena-backed tree, and
 * a writer into a growing buffer.
 *
 * The parser never recurses. It keeps two stacks of its own: one frame per
 * open array or object, and the values of every open container waiting for
 * their container to close (then they are copied into the arena as one
 * block, so an array is a plain C array of nodes). Depth is therefore a
 * number compared with a limit, not a risk to the C stack, and an error at
 * any point frees everything with the arena. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wm/error.h"
#include "wm/json.h"
#include "body_int.h"

typedef struct wm_json_member wm_json_member_t;

struct wm_json {
    unsigned char type; /* wm_json_type_t */
    bool b;
    size_t n; /* string length, element or member count */
    union {
        int64_t i;
        double d;
        const char *s;
        wm_json_t *items;
        wm_json_member_t *members;
    } u;
    const char *text; /* a number's text */
};

struct wm_json_member {
    const char *key;
    size_t key_len;
    wm_json_t value;
};

struct wm_json_doc {
    wm__arena_t arena;
    wm_json_t root;
};

/* ==== Parser ================================================================ */

typedef struct frame {
    bool object;
    size_t start;    /* first pending member of this container */
    const char *key; /* the key whose value is being parsed (objects) */
    size_t key_len;
} frame_t;

typedef struct parser {
    const char *begin, *p, *end;
    wm__arena_t *arena;
    size_t max_depth;
    frame_t *frames;
    size_t n_frames, cap_frames;
    wm_json_member_t *pending;
    size_t n_pending, cap_pending;
    wm_json_error_t *err;
    int code;
} parser_t;

static int fail_at(parser_t *ps, const char *at, int code, const char *reason)
{
    if (ps->code == WM_OK) {
        ps->code = code;
        if (ps->err) {
            ps->err->offset = (size_t)(at - ps->begin);
            snprintf(ps->err->reason, sizeof ps->err->reason, "%s", reason);
        }
    }
    return code;
}

static int fail(parser_t *ps, const char *reason)
{
    return fail_at(ps, ps->p, WM_EPROTO, reason);
}

static int oom(parser_t *ps)
{
    return fail_at(ps, ps->p, WM_ENOMEM, "out of memory");
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Grows a stack array to hold one more; false when out of memory. */
static bool reserve(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    if (ncap > SIZE_MAX / size)
        return false;
    void *na = realloc(*arr, ncap * size);
    if (!na)
        return false;
    *arr = na;
    *cap = ncap;
    return true;
}

/* ---- Strings ---- */

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* Decodes one \u escape (and its low surrogate) at p (pointing at 'u');
 * stores the code point and returns the bytes read after the '\\', or 0. */
static size_t unicode_escape(parser_t *ps, const char *p, uint32_t *cp)
{
    if (ps->end - p < 5 || hex4(p + 1) < 0)
        return fail_at(ps, p, WM_EPROTO, "\\u needs four hex digits"), 0;
    uint32_t hi = (uint32_t)hex4(p + 1);
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return fail_at(ps, p, WM_EPROTO, "lone low surrogate in \\u escape"), 0;
    if (hi < 0xD800 || hi > 0xDBFF) {
        *cp = hi;
        return 5;
    }
    if (ps->end - p < 11 || p[5] != '\\' || p[6] != 'u' || hex4(p + 7) < 0)
        return fail_at(ps, p, WM_EPROTO, "high surrogate not followed by a \\u low surrogate"), 0;
    uint32_t lo = (uint32_t)hex4(p + 7);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return fail_at(ps, p, WM_EPROTO, "high surrogate not followed by a low surrogate"), 0;
    *cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    return 11;
}

/* Parses the string whose '"' is at ps->p into the arena. */
static int parse_string(parser_t *ps, const char **out, size_t *out_len)
{
    const char *start = ++ps->p, *q = start;
    /* Find the closing quote first: the raw length bounds the decoded one
     * (every escape decodes to fewer bytes than it takes). */
    while (q < ps->end && *q != '"')
        q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
    if (q >= ps->end)
        return fail_at(ps, start - 1, WM_EPROTO, "unterminated string");
    char *dst = wm__arena_alloc(ps->arena, (size_t)(q - start) + 1);
    if (!dst)
        return oom(ps);
    size_t n = 0;
    const char *p = start;
    while (p < q) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return fail_at(ps, p, WM_EPROTO, "control character in string");
        if (c >= 0x80) {
            size_t l = utf8_len((const unsigned char *)p, (const unsigned char *)q);
            if (!l)
                return fail_at(ps, p, WM_EPROTO, "invalid UTF-8 in string");
            memcpy(dst + n, p, l);
            n += l;
            p += l;
            continue;
        }
        if (c != '\\') {
            dst[n++] = (char)c;
            p++;
            continue;
        }
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = p[1] ? strchr(from, p[1]) : NULL;
        if (e) {
            dst[n++] = to[e - from];
            p += 2;
        } else if (p[1] == 'u') {
            uint32_t cp;
            size_t used = unicode_escape(ps, p + 1, &cp);
            if (!used)
                return ps->code;
            n += put_utf8(dst + n, cp);
            p += 1 + used;
        } else
            return fail_at(ps, p, WM_EPROTO, "invalid escape in string");
    }
    dst[n] = '\0';
    ps->p = q + 1;
    *out = dst;
    *out_len = n;
    return WM_OK;
}

/* ---- Numbers ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads int64 from an integral literal; false when out of range. */
static bool parse_int64(const char *s, size_t len, int64_t *out)
{
    bool neg = *s == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t i = neg; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int parse_number(parser_t *ps, wm_json_t *v)
{
    const char *s = ps->p, *p = s, *e = ps->end;
    bool integral = true;
    if (p < e && *p == '-')
        p++;
    if (p >= e || !is_digit(*p))
        return fail_at(ps, s, WM_EPROTO, "invalid number");
    if (*p == '0') {
        p++;
        if (p < e && is_digit(*p))
            return fail_at(ps, s, WM_EPROTO, "leading zero in number");
    } else
        while (p < e && is_digit(*p))
            p++;
    if (p < e && *p == '.') {
        integral = false;
        if (++p >= e || !is_digit(*p))
            return fail_at(ps, p, WM_EPROTO, "digit expected after '.'");
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return fail_at(ps, p, WM_EPROTO, "digit expected in exponent");
        while (p < e && is_digit(*p))
            p++;
    }
    size_t len = (size_t)(p - s);
    char *text = wm__arena_strndup(ps->arena, s, len);
    if (!text)
        return oom(ps);
    v->text = text;
    v->n = len;
    if (integral && parse_int64(text, len, &v->u.i)) {
        v->type = WM_JSON_INT;
    } else {
        v->type = WM_JSON_DOUBLE;
        v->u.d = wm__strtod_c(text, NULL);
        if (isinf(v->u.d))
            return fail_at(ps, s, WM_EPROTO, "number out of range for a double");
    }
    ps->p = p;
    return WM_OK;
}

/* ---- Values and containers ---- */

static bool literal(parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

/* Parses a scalar at ps->p into *v, or opens a container (pushes a frame;
 * *opened says so). */
static int parse_value_start(parser_t *ps, wm_json_t *v, bool *opened)
{
    *opened = false;
    memset(v, 0, sizeof *v);
    if (ps->p >= ps->end)
        return fail(ps, "value expected, found the end");
    switch (*ps->p) {
    case '{':
    case '[':
        if (ps->n_frames >= ps->max_depth)
            return fail(ps, "nesting deeper than the limit");
        if (!reserve((void **)&ps->frames, &ps->cap_frames, ps->n_frames, sizeof(frame_t)))
            return oom(ps);
        ps->frames[ps->n_frames++] =
            (frame_t){.object = *ps->p == '{', .start = ps->n_pending, .key = NULL};
        ps->p++;
        *opened = true;
        return WM_OK;
    case '"':
        v->type = WM_JSON_STRING;
        return parse_string(ps, &v->u.s, &v->n);
    case 't':
    case 'f':
        v->type = WM_JSON_BOOL;
        v->b = *ps->p == 't';
        return literal(ps, v->b ? "true" : "false") ? WM_OK : fail(ps, "invalid literal");
    case 'n':
        v->type = WM_JSON_NULL;
        return literal(ps, "null") ? WM_OK : fail(ps, "invalid literal");
    default:
        if (*ps->p == '-' || is_digit(*ps->p))
            return parse_number(ps, v);
        return fail(ps, "value expected");
    }
}

/* Closes the top container: its pending members become one arena block. */
static int close_container(parser_t *ps, wm_json_t *v)
{
    frame_t *f = &ps->frames[--ps->n_frames];
    size_t n = ps->n_pending - f->start;
    const wm_json_member_t *m = n ? ps->pending + f->start : NULL; /* pending may be NULL */
    memset(v, 0, sizeof *v);
    v->n = n;
    if (f->object) {
        v->type = WM_JSON_OBJECT;
        if (n) {
            v->u.members = wm__arena_alloc(ps->arena, n * sizeof *m);
            if (!v->u.members)
                return oom(ps);
            memcpy(v->u.members, m, n * sizeof *m);
        }
    } else {
        v->type = WM_JSON_ARRAY;
        if (n) {
            v->u.items = wm__arena_alloc(ps->arena, n * sizeof(wm_json_t));
            if (!v->u.items)
                return oom(ps);
            for (size_t i = 0; i < n; i++)
                v->u.items[i] = m[i].value;
        }
    }
    ps->n_pending = f->start;
    ps->p++;
    return WM_OK;
}

/* Reads an object key and its ':' (ps->p at the key's '"'). */
static int parse_key(parser_t *ps)
{
    frame_t *f = &ps->frames[ps->n_frames - 1];
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, "object key (a string) expected");
    int rc = parse_string(ps, &f->key, &f->key_len);
    if (rc != WM_OK)
        return rc;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':')
        return fail(ps, "':' expected after an object key");
    ps->p++;
    return WM_OK;
}

/* After a complete value inside a container: stores it, then reads ',' or
 * the closing bracket. Returns WM_OK with *next_value set when another
 * value follows, or with *closed set (and *v the container) when the
 * container ended. */
static int after_value(parser_t *ps, wm_json_t *v, bool *next_value, bool *closed)
{
    frame_t *f = &ps->frames[ps->n_frames - 1];
    *next_value = *closed = false;
    if (!reserve((void **)&ps->pending, &ps->cap_pending, ps->n_pending, sizeof *ps->pending))
        return oom(ps);
    ps->pending[ps->n_pending++] = (wm_json_member_t){f->key, f->key_len, *v};
    skip_ws(ps);
    char want_end = f->object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        skip_ws(ps);
        *next_value = true;
        return f->object ? parse_key(ps) : WM_OK;
    }
    if (ps->p < ps->end && *ps->p == want_end) {
        *closed = true;
        return close_container(ps, v);
    }
    return fail(ps, f->object ? "expected ',' or '}' after an object member"
                              : "expected ',' or ']' after an array element");
}

/* Right after '{' or '[': an empty container closes at once; an object
 * reads its first key. Sets *closed when the container ended. */
static int after_open(parser_t *ps, wm_json_t *v, bool *closed)
{
    frame_t *f = &ps->frames[ps->n_frames - 1];
    skip_ws(ps);
    *closed = ps->p < ps->end && *ps->p == (f->object ? '}' : ']');
    if (*closed)
        return close_container(ps, v);
    return f->object ? parse_key(ps) : WM_OK;
}

static int parse_document(parser_t *ps, wm_json_t *root)
{
    wm_json_t v;
    bool opened, closed, next_value;
    for (;;) {
        skip_ws(ps);
        if (parse_value_start(ps, &v, &opened) != WM_OK)
            return ps->code;
        if (opened) {
            if (after_open(ps, &v, &closed) != WM_OK)
                return ps->code;
            if (!closed)
                continue; /* the first element or member value follows */
        }
        /* v is complete: hand it to its containers until one wants more. */
        for (;;) {
            if (ps->n_frames == 0) {
                *root = v;
                skip_ws(ps);
                return ps->p == ps->end ? WM_OK : fail(ps, "unexpected data after the value");
            }
            if (after_value(ps, &v, &next_value, &closed) != WM_OK)
                return ps->code;
            if (next_value)
                break;
        }
    }
}

int wm_json_parse(const char *text, size_t len, const wm_json_opts_t *opts, wm_json_doc_t **doc,
                  wm_json_error_t *err)
{
    size_t max_depth = opts && opts->max_depth ? opts->max_depth : WM_JSON_DEFAULT_MAX_DEPTH;
    size_t max_size = opts && opts->max_size ? opts->max_size : WM_JSON_DEFAULT_MAX_SIZE;
    *doc = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    parser_t ps = {.begin = text, .p = text, .end = text + len, .max_depth = max_depth, .err = err};
    if (len > max_size)
        return fail_at(&ps, text + max_size, WM_EMSGSIZE, "input longer than the size limit");
    wm_json_doc_t *d = calloc(1, sizeof *d);
    if (!d)
        return oom(&ps);
    ps.arena = &d->arena;
    int rc = parse_document(&ps, &d->root);
    free(ps.frames);
    free(ps.pending);
    if (rc != WM_OK) {
        wm_json_doc_free(d);
        return rc;
    }
    *doc = d;
    return WM_OK;
}

void wm_json_doc_free(wm_json_doc_t *doc)
{
    if (!doc)
        return;
    wm__arena_free(&doc->arena);
    free(doc);
}

/* ==== Accessors ============================================================== */

const wm_json_t *wm_json_root(const wm_json_doc_t *doc)
{
    return doc ? &doc->root : NULL;
}

wm_json_type_t wm_json_type(const wm_json_t *v)
{
    return v ? (wm_json_type_t)v->type : WM_JSON_NONE;
}

bool wm_json_is_null(const wm_json_t *v)
{
    return v && v->type == WM_JSON_NULL;
}

bool wm_json_as_bool(const wm_json_t *v, bool *out)
{
    if (!v || v->type != WM_JSON_BOOL)
        return false;
    *out = v->b;
    return true;
}

bool wm_json_as_int(const wm_json_t *v, int64_t *out)
{
    if (v && v->type == WM_JSON_INT) {
        *out = v->u.i;
        return true;
    }
    /* -2^63 is in range, 2^63 the first value past it; inside the range
     * the cast is defined and round-trips exactly for integral values. No
     * libm needed. */
    if (v && v->type == WM_JSON_DOUBLE && v->u.d >= -0x1p63 && v->u.d < 0x1p63 &&
        (double)(int64_t)v->u.d == v->u.d) {
        *out = (int64_t)v->u.d;
        return true;
    }
    return false;
}

bool wm_json_as_double(const wm_json_t *v, double *out)
{
    if (v && v->type == WM_JSON_INT)
        *out = (double)v->u.i;
    else if (v && v->type == WM_JSON_DOUBLE)
        *out = v->u.d;
    else
        return false;
    return true;
}

const char *wm_json_as_string(const wm_json_t *v, size_t *len)
{
    if (!v || v->type != WM_JSON_STRING)
        return NULL;
    if (len)
        *len = v->n;
    return v->u.s;
}

const char *wm_json_number_text(const wm_json_t *v)
{
    return v && (v->type == WM_JSON_INT || v->type == WM_JSON_DOUBLE) ? v->text : NULL;
}

size_t wm_json_size(const wm_json_t *v)
{
    return v && (v->type == WM_JSON_ARRAY || v->type == WM_JSON_OBJECT) ? v->n : 0;
}

const wm_json_t *wm_json_at(const wm_json_t *v, size_t i)
{
    return v && v->type == WM_JSON_ARRAY && i < v->n ? &v->u.items[i] : NULL;
}

const wm_json_t *wm_json_getn(const wm_json_t *v, const char *key, size_t len)
{
    if (!v || v->type != WM_JSON_OBJECT || !key)
        return NULL;
    for (size_t i = v->n; i-- > 0;) {
        const wm_json_member_t *m = &v->u.members[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0)
            return &m->value;
    }
    return NULL;
}

const wm_json_t *wm_json_get(const wm_json_t *v, const char *key)
{
    return key ? wm_json_getn(v, key, strlen(key)) : NULL;
}

const char *wm_json_key_at(const wm_json_t *v, size_t i, size_t *len)
{
    if (!v || v->type != WM_JSON_OBJECT || i >= v->n)
        return NULL;
    if (len)
        *len = v->u.members[i].key_len;
    return v->u.members[i].key;
}

const wm_json_t *wm_json_value_at(const wm_json_t *v, size_t i)
{
    return v && v->type == WM_JSON_OBJECT && i < v->n ? &v->u.members[i].value : NULL;
}

const wm_json_t *wm_json_get_path(const wm_json_t *v, const char *path)
{
    if (!path)
        return NULL;
    while (v && *path) {
        size_t n = strcspn(path, ".");
        bool digits = n > 0 && n < 20;
        for (size_t i = 0; i < n && digits; i++)
            digits = is_digit(path[i]);
        if (v->type == WM_JSON_ARRAY && digits)
            v = wm_json_at(v, strtoull(path, NULL, 10));
        else
            v = wm_json_getn(v, path, n);
        path += n;
        if (*path == '.')
            path++;
    }
    return v;
}

/* ==== Writer ================================================================= */

/* What the innermost open container expects next. */
enum { W_ARRAY_FIRST, W_ARRAY_NEXT, W_OBJ_KEY_FIRST, W_OBJ_KEY_NEXT, W_OBJ_VALUE };

struct wm_json_writer {
    char *buf;
    size_t len, cap;
    unsigned char *stack; /* one W_* per open container */
    size_t depth, stack_cap;
    bool top_done; /* the one top-level value is complete */
    int error;
};

wm_json_writer_t *wm_json_writer_new(void)
{
    return calloc(1, sizeof(wm_json_writer_t));
}

void wm_json_writer_free(wm_json_writer_t *w)
{
    if (!w)
        return;
    free(w->buf);
    free(w->stack);
    free(w);
}

static int w_fail(wm_json_writer_t *w, int code)
{
    if (w->error == WM_OK)
        w->error = code;
    return w->error;
}

static int w_put(wm_json_writer_t *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t ncap = w->cap ? w->cap : 256;
        while (ncap < w->len + n + 1) {
            if (ncap > SIZE_MAX / 2)
                return w_fail(w, WM_ENOMEM);
            ncap *= 2;
        }
        char *nb = realloc(w->buf, ncap);
        if (!nb)
            return w_fail(w, WM_ENOMEM);
        w->buf = nb;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
    return WM_OK;
}

/* Checks that a value may come now and writes the ',' before it. */
static int w_value_prefix(wm_json_writer_t *w)
{
    if (w->error)
        return w->error;
    if (w->depth == 0)
        return w->top_done ? w_fail(w, WM_EINVAL) : WM_OK;
    unsigned char *st = &w->stack[w->depth - 1];
    switch (*st) {
    case W_ARRAY_FIRST:
        *st = W_ARRAY_NEXT;
        return WM_OK;
    case W_ARRAY_NEXT:
        return w_put(w, ",", 1);
    case W_OBJ_VALUE:
        *st = W_OBJ_KEY_NEXT;
        return WM_OK;
    default:
        return w_fail(w, WM_EINVAL); /* a key is due */
    }
}

/* A scalar value: its prefix, its text, then the top level is done if it
 * was the top level. */
static int w_scalar(wm_json_writer_t *w, const char *s, size_t n)
{
    int rc = w_value_prefix(w);
    if (rc == WM_OK)
        rc = w_put(w, s, n);
    if (rc == WM_OK && w->depth == 0)
        w->top_done = true;
    return rc;
}

int wm_json_write_null(wm_json_writer_t *w)
{
    return w_scalar(w, "null", 4);
}

int wm_json_write_bool(wm_json_writer_t *w, bool b)
{
    return b ? w_scalar(w, "true", 4) : w_scalar(w, "false", 5);
}

int wm_json_write_int(wm_json_writer_t *w, int64_t i)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)i);
    return w_scalar(w, tmp, (size_t)n);
}

int wm_json_write_uint(wm_json_writer_t *w, uint64_t u)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)u);
    return w_scalar(w, tmp, (size_t)n);
}

int wm_json_write_double(wm_json_writer_t *w, double d)
{
    if (!isfinite(d))
        return wm_json_write_null(w);
    char tmp[40];
    int n = 0;
    /* The shortest of 15..17 significant digits that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
        n = wm__format_double_c(tmp, sizeof tmp - 2, prec, d);
        if (wm__strtod_c(tmp, NULL) == d)
            break;
    }
    if (!strpbrk(tmp, ".eE")) {
        memcpy(tmp + n, ".0", 3);
        n += 2;
    }
    return w_scalar(w, tmp, (size_t)n);
}

/* Writes `s` quoted and escaped; WM_EINVAL when it is not UTF-8. */
static int w_quoted(wm_json_writer_t *w, const char *s, size_t len)
{
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    int rc = w_put(w, "\"", 1);
    while (rc == WM_OK && p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        if (p > run && (rc = w_put(w, (const char *)run, (size_t)(p - run))) != WM_OK)
            break;
        if (p >= end)
            break;
        if (*p >= 0x80) {
            size_t l = utf8_len(p, end);
            if (!l)
                return w_fail(w, WM_EINVAL);
            rc = w_put(w, (const char *)p, l);
            p += l;
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t n = 2;
        const char *named = strchr("\"\\\b\f\n\r\t", *p);
        if (*p && named)
            esc[1] = "\"\\bfnrt"[named - "\"\\\b\f\n\r\t"];
        else {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hexd[*p >> 4];
            esc[5] = hexd[*p & 15];
            n = 6;
        }
        rc = w_put(w, esc, n);
        p++;
    }
    return rc == WM_OK ? w_put(w, "\"", 1) : rc;
}

int wm_json_write_stringn(wm_json_writer_t *w, const char *s, size_t len)
{
    int rc = w_value_prefix(w);
    if (rc == WM_OK)
        rc = w_quoted(w, s, len);
    if (rc == WM_OK && w->depth == 0)
        w->top_done = true;
    return rc;
}

int wm_json_write_string(wm_json_writer_t *w, const char *s)
{
    return wm_json_write_stringn(w, s, strlen(s));
}

int wm_json_write_keyn(wm_json_writer_t *w, const char *key, size_t len)
{
    if (w->error)
        return w->error;
    unsigned char *st = w->depth ? &w->stack[w->depth - 1] : NULL;
    if (!st || (*st != W_OBJ_KEY_FIRST && *st != W_OBJ_KEY_NEXT))
        return w_fail(w, WM_EINVAL);
    int rc = *st == W_OBJ_KEY_NEXT ? w_put(w, ",", 1) : WM_OK;
    if (rc == WM_OK)
        rc = w_quoted(w, key, len);
    if (rc == WM_OK)
        rc = w_put(w, ":", 1);
    *st = W_OBJ_VALUE;
    return rc;
}

int wm_json_write_key(wm_json_writer_t *w, const char *key)
{
    return wm_json_write_keyn(w, key, strlen(key));
}

static int w_begin(wm_json_writer_t *w, bool object)
{
    int rc = w_value_prefix(w);
    if (rc != WM_OK)
        return rc;
    if (!reserve((void **)&w->stack, &w->stack_cap, w->depth, 1))
        return w_fail(w, WM_ENOMEM);
    w->stack[w->depth++] = object ? W_OBJ_KEY_FIRST : W_ARRAY_FIRST;
    return w_put(w, object ? "{" : "[", 1);
}

static int w_end(wm_json_writer_t *w, bool object)
{
    if (w->error)
        return w->error;
    if (w->depth == 0)
        return w_fail(w, WM_EINVAL);
    unsigned char st = w->stack[w->depth - 1];
    bool ok = object ? st == W_OBJ_KEY_FIRST || st == W_OBJ_KEY_NEXT
                     : st == W_ARRAY_FIRST || st == W_ARRAY_NEXT;
    if (!ok)
        return w_fail(w, WM_EINVAL);
    w->depth--;
    if (w->depth == 0)
        w->top_done = true;
    return w_put(w, object ? "}" : "]", 1);
}

int wm_json_write_array_begin(wm_json_writer_t *w)
{
    return w_begin(w, false);
}

int wm_json_write_array_end(wm_json_writer_t *w)
{
    return w_end(w, false);
}

int wm_json_write_object_begin(wm_json_writer_t *w)
{
    return w_begin(w, true);
}

int wm_json_write_object_end(wm_json_writer_t *w)
{
    return w_end(w, true);
}

static int w_scalar_value(wm_json_writer_t *w, const wm_json_t *v)
{
    switch (v->type) {
    case WM_JSON_NULL:
        return wm_json_write_null(w);
    case WM_JSON_BOOL:
        return wm_json_write_bool(w, v->b);
    case WM_JSON_INT:
        return wm_json_write_int(w, v->u.i);
    case WM_JSON_DOUBLE:
        return wm_json_write_double(w, v->u.d);
    case WM_JSON_STRING:
        return wm_json_write_stringn(w, v->u.s, v->n);
    default:
        return w_fail(w, WM_EINVAL);
    }
}

/* Walks the tree with an explicit stack of (container, next index). */
int wm_json_write_value(wm_json_writer_t *w, const wm_json_t *v)
{
    typedef struct {
        const wm_json_t *c;
        size_t i;
    } wframe_t;
    wframe_t *st = NULL;
    size_t depth = 0, cap = 0;
    int rc = WM_OK;
    if (!v)
        return w_fail(w, WM_EINVAL);
    for (;;) {
        if (v && (v->type == WM_JSON_ARRAY || v->type == WM_JSON_OBJECT)) {
            if (!reserve((void **)&st, &cap, depth, sizeof *st)) {
                rc = w_fail(w, WM_ENOMEM);
                break;
            }
            st[depth++] = (wframe_t){v, 0};
            rc = w_begin(w, v->type == WM_JSON_OBJECT);
        } else if (v)
            rc = w_scalar_value(w, v);
        if (rc != WM_OK || depth == 0)
            break;
        /* The next value: the top container's next child, or close it. */
        v = NULL;
        wframe_t *f = &st[depth - 1];
        if (f->i < f->c->n) {
            size_t i = f->i++;
            if (f->c->type == WM_JSON_ARRAY)
                v = &f->c->u.items[i];
            else {
                const wm_json_member_t *m = &f->c->u.members[i];
                rc = wm_json_write_keyn(w, m->key, m->key_len);
                v = &m->value;
            }
        } else {
            rc = w_end(w, f->c->type == WM_JSON_OBJECT);
            depth--;
        }
        if (rc != WM_OK || (depth == 0 && !v))
            break;
    }
    free(st);
    return rc;
}

const char *wm_json_writer_text(const wm_json_writer_t *w, size_t *len)
{
    if (w->error)
        return NULL;
    if (len)
        *len = w->len;
    return w->buf ? w->buf : "";
}

bool wm_json_writer_done(const wm_json_writer_t *w)
{
    return !w->error && w->depth == 0 && w->top_done;
}

int wm_json_writer_error(const wm_json_writer_t *w)
{
    return w->error;
}

bool wm_json_is_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t n = utf8_len(p, end);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}
