/* SPDX-License-Identifier: MIT */
/* The WebSocket opening handshake's pieces that need no connection: the
 * accept key (SHA-1 and base64 from OpenSSL), the client key, token lists,
 * and the client's parser for the server's answer head. See ws_handshake.h. */
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "wm/error.h"
#include "ws_handshake.h"

/* RFC 6455 §1.3: the GUID every server appends to the client's key. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void wm__ws_accept_key(const char *key, size_t key_len, char out[WM_WS_ACCEPT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
              EVP_DigestUpdate(md, key, key_len) == 1 &&
              EVP_DigestUpdate(md, ws_guid, sizeof ws_guid - 1) == 1 &&
              EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 20;
    EVP_MD_CTX_free(md);
    if (!ok) {
        out[0] = '\0'; /* never matches a peer's value */
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, digest, 20);
}

static bool is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

bool wm__ws_key_valid(const char *key, size_t len)
{
    if (len != WM_WS_KEY_LEN || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!is_b64(key[i]))
            return false;
    return true;
}

int wm__ws_make_key(char out[WM_WS_KEY_LEN + 1])
{
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            got += (size_t)n;
    }
    EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw);
    return WM_OK;
}

void wm__ws_each_token(const char *value, size_t len,
                       bool (*fn)(const char *item, size_t n, void *arg), void *arg)
{
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *a = p, *b = stop;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && !fn(a, (size_t)(b - a), arg))
            return;
        p = stop + 1;
    }
}

typedef struct token_find {
    const char *token;
    bool found;
} token_find_t;

static bool token_match(const char *item, size_t n, void *arg)
{
    token_find_t *f = arg;
    if (n == strlen(f->token) && strncasecmp(item, f->token, n) == 0)
        f->found = true;
    return !f->found;
}

bool wm__ws_has_token(const char *value, size_t len, const char *token)
{
    token_find_t f = {token, false};
    wm__ws_each_token(value, len, token_match, &f);
    return f.found;
}

/* ---- The answer head ----------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* field-vchar, SP, HTAB, obs-text (RFC 9110 §5.5): no other controls. */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool all_value_chars(const char *p, const char *end)
{
    for (; p < end; p++)
        if (!is_value_char((unsigned char)*p))
            return false;
    return true;
}

/* "HTTP/1.x SP 3DIGIT [SP reason]" in line[0, n) (the end of line removed). */
static int parse_status_line(const char *line, size_t n, wm__ws_response_t *resp, const char **why)
{
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ') {
        *why = "the answer is not HTTP/1.x";
        return WM_EPROTO;
    }
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9') {
            *why = "bad status code";
            return WM_EPROTO;
        }
        status = status * 10 + (line[i] - '0');
    }
    if (status < 100 || (n > 12 && line[12] != ' ') || !all_value_chars(line + 12, line + n)) {
        *why = "bad status line";
        return WM_EPROTO;
    }
    resp->status = status;
    resp->version_minor = line[7] - '0';
    resp->reason.p = line + (n > 12 ? 13 : 12);
    resp->reason.len = n > 12 ? n - 13 : 0;
    return WM_OK;
}

/* "name: value" in line[0, n). */
static int parse_field(const char *line, size_t n, wm__http_header_t *h, const char **why)
{
    const char *end = line + n, *p = line;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == line || p == end || *p != ':') {
        *why = line[0] == ' ' || line[0] == '\t' ? "obsolete line folding" : "bad header field";
        return WM_EPROTO;
    }
    h->name.p = line;
    h->name.len = (size_t)(p - line);
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    const char *v_end = end;
    while (v_end > p && (v_end[-1] == ' ' || v_end[-1] == '\t'))
        v_end--;
    if (!all_value_chars(p, v_end)) {
        *why = "a control character in a header value";
        return WM_EPROTO;
    }
    h->value.p = p;
    h->value.len = (size_t)(v_end - p);
    return WM_OK;
}

ssize_t wm__ws_parse_response(const char *buf, size_t len, size_t max_headers,
                              wm__ws_response_t *resp, const char **why)
{
    size_t lim = len < WM_WS_MAX_RESPONSE_HEAD ? len : WM_WS_MAX_RESPONSE_HEAD;
    const char *p = buf, *end = buf + lim;
    resp->nheaders = 0;
    *why = NULL;
    for (bool first = true;; first = false) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if (len < WM_WS_MAX_RESPONSE_HEAD)
                return WM_EAGAIN;
            *why = "the answer head is too large";
            return WM_EMSGSIZE;
        }
        size_t n = (size_t)(nl - p);
        if (n && p[n - 1] == '\r')
            n--; /* CRLF; a lone LF is tolerated as RFC 9112 §2.2 allows */
        int rc;
        if (first) {
            rc = parse_status_line(p, n, resp, why);
        } else if (n == 0) {
            return (ssize_t)(nl + 1 - buf);
        } else if (resp->nheaders == max_headers) {
            *why = "too many header fields in the answer";
            return WM_EMSGSIZE;
        } else {
            rc = parse_field(p, n, &resp->headers[resp->nheaders], why);
            resp->nheaders += rc == WM_OK;
        }
        if (rc != WM_OK)
            return rc;
        p = nl + 1;
    }
}

const wm__http_span_t *wm__ws_response_header(const wm__ws_response_t *resp, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < resp->nheaders; i++) {
        const wm__http_header_t *h = &resp->headers[i];
        if (h->name.len == n && strncasecmp(h->name.p, name, n) == 0)
            return &h->value;
    }
    return NULL;
}
