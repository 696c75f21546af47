/* SPDX-License-Identifier: MIT */
/* A session's data in memory (an ordered list of key/value items) and its
 * stored format, version 1, as wm/http_session.h describes it. There is no
 * I/O here: stores hand us bytes and take bytes.
 *
 * A list rather than a hash table: sessions hold a handful of keys, and
 * WM_HTTP_SESSION_MAX_KEYS caps the linear searches (and the duplicate check
 * of decoding) at a size where they cost microseconds. */
#include <stdlib.h>
#include <string.h>

#include "wm_int.h"
#include "http_session_int.h"

static const unsigned char magic[4] = {'W', 'M', 'S', 1};

static size_t item_size(size_t klen, size_t vlen)
{
    return 1 + klen + 4 + vlen;
}

void wm__sess_data_init(wm__sess_data_t *d)
{
    memset(d, 0, sizeof *d);
    d->size = WM__SESS_HEADER_SIZE;
}

void wm__sess_data_clear(wm__sess_data_t *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->items[i].key);
        free(d->items[i].val);
    }
    free(d->items);
    wm__sess_data_init(d);
}

long wm__sess_data_find(const wm__sess_data_t *d, const char *key, size_t klen)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].klen == klen && memcmp(d->items[i].key, key, klen) == 0)
            return (long)i;
    return -1;
}

/* A copy of `len` bytes with a NUL after them. */
static char *dup_nul(const void *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s) {
        if (len)
            memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

static int replace_value(wm__sess_data_t *d, size_t i, const void *val, size_t vlen)
{
    wm__sess_item_t *it = &d->items[i];
    size_t size = d->size - it->vlen + vlen;
    if (size > WM_HTTP_SESSION_MAX_SIZE)
        return WM_EMSGSIZE;
    char *v = dup_nul(val, vlen);
    if (!v)
        return WM_ENOMEM;
    free(it->val);
    it->val = v;
    it->vlen = vlen;
    d->size = size;
    return WM_OK;
}

static int append_item(wm__sess_data_t *d, const char *key, size_t klen, const void *val,
                       size_t vlen)
{
    size_t size = d->size + item_size(klen, vlen);
    if (d->n >= WM_HTTP_SESSION_MAX_KEYS || size > WM_HTTP_SESSION_MAX_SIZE)
        return WM_EMSGSIZE;
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 8;
        wm__sess_item_t *ni = realloc(d->items, ncap * sizeof *ni);
        if (!ni)
            return WM_ENOMEM;
        d->items = ni;
        d->cap = ncap;
    }
    char *k = dup_nul(key, klen), *v = dup_nul(val, vlen);
    if (!k || !v) {
        free(k);
        free(v);
        return WM_ENOMEM;
    }
    d->items[d->n++] = (wm__sess_item_t){.key = k, .klen = klen, .val = v, .vlen = vlen};
    d->size = size;
    return WM_OK;
}

int wm__sess_data_set(wm__sess_data_t *d, const char *key, size_t klen, const void *val,
                      size_t vlen)
{
    if (klen == 0 || klen > WM_HTTP_SESSION_KEY_MAX || memchr(key, '\0', klen) || (!val && vlen))
        return WM_EINVAL;
    long i = wm__sess_data_find(d, key, klen);
    return i >= 0 ? replace_value(d, (size_t)i, val, vlen) : append_item(d, key, klen, val, vlen);
}

void wm__sess_data_del(wm__sess_data_t *d, size_t i)
{
    wm__sess_item_t *it = &d->items[i];
    d->size -= item_size(it->klen, it->vlen);
    free(it->key);
    free(it->val);
    memmove(it, it + 1, (d->n - i - 1) * sizeof *it);
    d->n--;
}

/* ---- The stored format ---------------------------------------------------- */

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int wm__sess_data_encode(const wm__sess_data_t *d, void **out, size_t *len)
{
    unsigned char *buf = malloc(d->size), *p = buf;
    if (!buf)
        return WM_ENOMEM;
    memcpy(p, magic, 4);
    p = put_u32(p + 4, (uint32_t)d->n);
    for (size_t i = 0; i < d->n; i++) {
        const wm__sess_item_t *it = &d->items[i];
        *p++ = (unsigned char)it->klen;
        memcpy(p, it->key, it->klen);
        p = put_u32(p + it->klen, (uint32_t)it->vlen);
        memcpy(p, it->val, it->vlen);
        p += it->vlen;
    }
    *out = buf;
    *len = (size_t)(p - buf);
    return WM_OK;
}

/* Reads one item at *at; WM_EPROTO when it runs past `end` or breaks a
 * rule. Every length is checked against the bytes left before anything is
 * allocated, so a lying length costs nothing. */
static int decode_item(wm__sess_data_t *d, const unsigned char **at, const unsigned char *end,
                       const char **why)
{
    const unsigned char *p = *at;
    size_t left = (size_t)(end - p);
    size_t klen = left ? p[0] : 0;
    if (left < 1 + klen + 4) {
        *why = "truncated entry";
        return WM_EPROTO;
    }
    const char *key = (const char *)p + 1;
    size_t vlen = get_u32(p + 1 + klen);
    if (vlen > left - (1 + klen + 4)) {
        *why = "value runs past the end";
        return WM_EPROTO;
    }
    if (klen == 0 || memchr(key, '\0', klen)) {
        *why = "bad key";
        return WM_EPROTO;
    }
    if (wm__sess_data_find(d, key, klen) >= 0) {
        *why = "key repeated";
        return WM_EPROTO;
    }
    int rc = append_item(d, key, klen, p + 1 + klen + 4, vlen);
    if (rc == WM_EMSGSIZE) {
        *why = "over the size limits";
        rc = WM_EPROTO;
    }
    *at = p + 1 + klen + 4 + vlen;
    return rc;
}

int wm__sess_data_decode(wm__sess_data_t *d, const void *buf, size_t len, const char **why)
{
    const char *dummy;
    const unsigned char *p = buf, *end = p + len;
    if (!why)
        why = &dummy;
    *why = NULL;
    if (len < WM__SESS_HEADER_SIZE) {
        *why = "shorter than the header";
        return WM_EPROTO;
    }
    if (memcmp(p, magic, 3) != 0) {
        *why = "not a session (bad magic)";
        return WM_EPROTO;
    }
    if (p[3] != magic[3]) {
        *why = "unknown format version";
        return WM_EPROTO;
    }
    if (len > WM_HTTP_SESSION_MAX_SIZE) {
        *why = "over the size limit";
        return WM_EPROTO;
    }
    uint32_t count = get_u32(p + 4);
    /* Each entry takes at least 6 bytes: a count that the bytes cannot hold
     * is refused before the loop. */
    if (count > WM_HTTP_SESSION_MAX_KEYS || count > (len - WM__SESS_HEADER_SIZE) / 6) {
        *why = "entry count too large";
        return WM_EPROTO;
    }
    p += WM__SESS_HEADER_SIZE;
    int rc = WM_OK;
    for (uint32_t i = 0; i < count && rc == WM_OK; i++)
        rc = decode_item(d, &p, end, why);
    if (rc == WM_OK && p != end) {
        *why = "bytes after the last entry";
        rc = WM_EPROTO;
    }
    if (rc != WM_OK)
        wm__sess_data_clear(d);
    if (rc == WM_ENOMEM)
        *why = "out of memory";
    return rc;
}
