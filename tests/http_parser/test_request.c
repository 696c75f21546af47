/* SPDX-License-Identifier: MIT */
/* Request head tests: what wm__http_parse_request accepts, what it refuses
 * and with which status. Every table row is also parsed from each of its
 * prefixes, in an exact-size copy, and must give WM_EAGAIN or the very
 * result of the whole (the parser decides left to right, so a split never
 * changes an answer). */
#include <sys/mman.h>

#include "wm_test.h"
#include "http_tests.h"

/* A row: input (NULs allowed, thanks to sizeof), and the expected outcome:
 * 200 for a parsed head, 0 for WM_EAGAIN, else the error status. */
typedef struct row {
    const char *in;
    size_t len;
    int status;
} row_t;
#define R(s, st)                                                                                   \
    {                                                                                              \
        (s), sizeof(s) - 1, (st)                                                                   \
    }

static wm__http_header_t hdrs[128];

/* Parses an exact-size copy of in[0, len). Returns 200, 0 (WM_EAGAIN) or the
 * error status, and leaves the return value in *ret. */
static int parse_copy(const char *in, size_t len, size_t last_len, const wm__http_limits_t *lim,
                      wm__http_request_t *r, ssize_t *ret, const char **why)
{
    char *copy = malloc(len ? len : 1);
    ASSERT(copy != NULL);
    memcpy(copy, in, len);
    memset(r, 0, sizeof(*r));
    r->headers = hdrs;
    int status = -1;
    *why = NULL;
    ssize_t n = wm__http_parse_request(copy, len, last_len, lim, r, &status, why);
    free(copy);
    *ret = n;
    if (n > 0)
        return 200;
    if (n == WM_EAGAIN)
        return 0;
    ASSERT(n == WM_EPROTO || n == WM_EMSGSIZE);
    ASSERT(*why != NULL);
    return status;
}

/* Every prefix gives WM_EAGAIN or the same answer as the whole. */
static void check_prefixes(const char *in, size_t len, const wm__http_limits_t *lim, int status,
                           ssize_t ret)
{
    wm__http_request_t r;
    const char *why;
    for (size_t k = 0; k < len; k++) {
        ssize_t n;
        int st = parse_copy(in, k, 0, lim, &r, &n, &why);
        if (st != 0 && (st != status || n != ret))
            WM_TEST_FAIL("prefix %zu of \"%.*s\": %d (%zd) vs %d (%zd) for the whole", k, (int)len,
                         in, st, n, status, ret);
    }
}

static void run_rows(const row_t *rows, size_t n, const wm__http_limits_t *lim)
{
    for (size_t i = 0; i < n; i++) {
        wm__http_request_t r;
        const char *why;
        ssize_t ret;
        int st = parse_copy(rows[i].in, rows[i].len, 0, lim, &r, &ret, &why);
        if (st != rows[i].status)
            WM_TEST_FAIL("row %zu \"%.*s\": got %d (%s), want %d", i, (int)rows[i].len, rows[i].in,
                         st, why ? why : "-", rows[i].status);
        if (st == 200 && (size_t)ret != rows[i].len)
            WM_TEST_FAIL("row %zu: head length %zd, want %zu", i, ret, rows[i].len);
        check_prefixes(rows[i].in, rows[i].len, lim, st, ret);
    }
}
#define RUN_ROWS(rows, lim) run_rows((rows), sizeof(rows) / sizeof((rows)[0]), (lim))

static bool span_is(wm__http_span_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}
#define ASSERT_SPAN(s, lit)                                                                        \
    do {                                                                                           \
        if (!span_is((s), (lit)))                                                                  \
            WM_TEST_FAIL("%s: \"%.*s\" vs \"%s\"", #s, (int)(s).len, (s).p, (lit));                \
    } while (0)

/* Parses a whole C string in place (spans into s) with `lim`. */
static ssize_t parse_str(const char *s, const wm__http_limits_t *lim, wm__http_request_t *r,
                         int *status)
{
    memset(r, 0, sizeof(*r));
    r->headers = hdrs;
    const char *why = NULL;
    return wm__http_parse_request(s, strlen(s), 0, lim, r, status, &why);
}

void test_request_basic(void)
{
    wm__http_limits_t lim = http_test_limits();
    const char *s = "GET /hello/world?a=1&b=2 HTTP/1.1\r\nHost: example.com\r\n"
                    "User-Agent: t/1.0\r\nAccept: */*\r\n\r\nNEXT";
    wm__http_request_t r;
    int status = 0;
    ssize_t n = parse_str(s, &lim, &r, &status);
    ASSERT_EQ(n, strlen(s) - 4);
    ASSERT_SPAN(r.method, "GET");
    ASSERT_SPAN(r.target, "/hello/world?a=1&b=2");
    ASSERT_SPAN(r.path, "/hello/world");
    ASSERT_SPAN(r.query, "a=1&b=2");
    ASSERT_SPAN(r.host, "example.com");
    ASSERT_EQ(r.version_minor, 1);
    ASSERT_EQ(r.nheaders, 3);
    ASSERT_SPAN(r.headers[0].name, "Host");
    ASSERT_SPAN(r.headers[1].value, "t/1.0");
    ASSERT_SPAN(r.headers[2].name, "Accept");
    ASSERT_SPAN(r.headers[2].value, "*/*");
    ASSERT_EQ(r.body_kind, WM_HTTP_BODY_NONE);
    ASSERT_EQ(r.content_length, 0);
    ASSERT(r.keep_alive);
    ASSERT(!r.expect_continue && !r.upgrade);
    /* Zero copies: the spans are the input's own bytes. */
    ASSERT(r.method.p == s && r.path.p == s + 4);
    ASSERT(r.headers[0].value.p == strstr(s, "example.com"));

    /* No query: an empty span at the end of the path, not NULL. */
    ASSERT_GT(parse_str("POST /x HTTP/1.0\r\n\r\n", &lim, &r, &status), 0);
    ASSERT_SPAN(r.path, "/x");
    ASSERT(r.query.p != NULL && r.query.len == 0);
    ASSERT_EQ(r.version_minor, 0);
    ASSERT(!r.keep_alive);
}

void test_request_header_lookup(void)
{
    wm__http_limits_t lim = http_test_limits();
    wm__http_request_t r;
    int status;
    ASSERT_GT(parse_str("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nContent-Type: t\r\n\r\n",
                        &lim, &r, &status),
              0);
    const wm__http_span_t *v = wm__http_header(&r, "x-A");
    ASSERT(v != NULL);
    ASSERT_SPAN(*v, "1"); /* the first one */
    v = wm__http_header(&r, "CONTENT-TYPE");
    ASSERT(v != NULL);
    ASSERT_SPAN(*v, "t");
    ASSERT(wm__http_header(&r, "Content-Typ") == NULL);
    ASSERT(wm__http_header(&r, "Content-Type-X") == NULL);
    ASSERT(wm__http_header(&r, "") == NULL);
}

void test_request_target_forms(void)
{
    wm__http_limits_t lim = http_test_limits();
    wm__http_request_t r;
    int status = 0;
    /* absolute-form: the authority wins over Host (RFC 9112 §3.2.2). */
    ASSERT_GT(parse_str("GET http://Example.com:8080/p/q?x=1 HTTP/1.1\r\nHost: other\r\n\r\n", &lim,
                        &r, &status),
              0);
    ASSERT_SPAN(r.host, "Example.com:8080");
    ASSERT_SPAN(r.path, "/p/q");
    ASSERT_SPAN(r.query, "x=1");
    ASSERT_GT(parse_str("GET HTTPS://h?z HTTP/1.1\r\nHost: h\r\n\r\n", &lim, &r, &status), 0);
    ASSERT_SPAN(r.host, "h");
    ASSERT_EQ(r.path.len, 0);
    ASSERT_SPAN(r.query, "z");
    ASSERT_GT(parse_str("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &lim, &r, &status), 0);
    ASSERT_SPAN(r.path, "*");
    ASSERT_EQ(r.query.len, 0);

    static const row_t rows[] = {
        R("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400),           /* * is for OPTIONS */
        R("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n", 400),      /* neither form */
        R("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 501),   /* not a proxy */
        R("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400),    /* not http(s) */
        R("GET http:/// HTTP/1.1\r\nHost: h\r\n\r\n", 400),    /* empty authority */
        R("GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400), /* userinfo (RFC 9110 §4.2.4) */
        R("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 200),
        R("GET h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        R("GET /\xc3\xa9?\xff HTTP/1.1\r\nHost: h\r\n\r\n", 200), /* obs-text, left to the app */
    };
    RUN_ROWS(rows, &lim);
}

void test_request_line_errors(void)
{
    wm__http_limits_t lim = http_test_limits();
    static const row_t rows[] = {
        R("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 200),
        R(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400), /* empty method */
        R("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400), /* two spaces */
        R("GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        R("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400), /* trailing space */
        R("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400), /* HTAB is not SP here */
        R("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),  /* not a token */
        R("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        R("GET /a\x01z HTTP/1.1\r\nHost: h\r\n\r\n", 400), /* control in target */
        R("GET /a\x7fz HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        R("GET / http/1.1\r\nHost: h\r\n\r\n", 400), /* case-sensitive (RFC 9112 §2.3) */
        R("GET / HTTP/1\r\nHost: h\r\n\r\n", 400),
        R("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400),
        R("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400),
        R("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        R("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505),
        R("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 200), /* read as 1.1 (RFC 9110 §2.5) */
        R("GET /\r\n\r\n", 400),                     /* HTTP/0.9 simple request */
        R("GET\r\n\r\n", 400),
        R("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505), /* the HTTP/2 preface */
        R("GET / HTTP/1.1", 0),
    };
    RUN_ROWS(rows, &lim);
    wm__http_request_t r;
    int status;
    ASSERT_GT(parse_str("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &lim, &r, &status), 0);
    ASSERT_EQ(r.version_minor, 1);
    ASSERT_EQ(parse_str("GET / HTTP/2.0\r\nHost: h\r\n\r\n", &lim, &r, &status), WM_EPROTO);
    ASSERT_EQ(status, 505);
}

/* Lone LF ends a line (RFC 9112 §2.2 allows it); a CR must be followed by
 * LF everywhere in the head. */
void test_request_line_endings(void)
{
    wm__http_limits_t lim = http_test_limits();
    static const row_t rows[] = {
        R("GET / HTTP/1.1\nHost: h\n\n", 200),
        R("GET / HTTP/1.1\r\nHost: h\n\r\n", 200),
        R("GET / HTTP/1.1\rHost: h\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\n\rX", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\n\r", 0), /* the CR may yet be CRLF */
        R("GET / HTTP/1.1\r", 0),
    };
    RUN_ROWS(rows, &lim);
}

void test_request_leading_empty_lines(void)
{
    wm__http_limits_t lim = http_test_limits();
    static const row_t rows[] = {
        R("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 200),
        R("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 200),
        R("\n\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        R("\r\n\r\n\r\n", 0),
    };
    RUN_ROWS(rows, &lim);
    wm__http_request_t r;
    int status;
    const char *s = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    ASSERT_EQ(parse_str(s, &lim, &r, &status), strlen(s));
    ASSERT(r.method.p == s + 2);
}

void test_request_field_errors(void)
{
    wm__http_limits_t lim = http_test_limits();
    static const row_t rows[] = {
        R("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400), /* space before colon (§5.1) */
        R("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400), /* obs-fold */
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400),       /* space before the first field */
        R("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400), /* empty name */
        R("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX(: v\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400), /* controls in values */
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[0m\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: a\tz\r\n\r\n", 200),             /* HTAB is fine */
        R("GET / HTTP/1.1\r\nHost: h\r\nX: \x80\xff\r\n\r\n", 200),         /* obs-text too */
        R("GET / HTTP/1.1\r\nHost: h\r\nX-!#$%&'*+.^_`|~: v\r\n\r\n", 200), /* every tchar */
    };
    RUN_ROWS(rows, &lim);
    /* Folding is refused as such, not as a field with an odd name. */
    wm__http_request_t r;
    const char *why;
    ssize_t ret;
    const char *fold = "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n";
    ASSERT_EQ(parse_copy(fold, strlen(fold), 0, &lim, &r, &ret, &why), 400);
    ASSERT_STR_EQ(why, "obsolete line folding");
    const char *ctl = "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n";
    ASSERT_EQ(parse_copy(ctl, strlen(ctl), 0, &lim, &r, &ret, &why), 400);
    ASSERT_STR_EQ(why, "control character in field value");
}

void test_request_field_ows(void)
{
    wm__http_limits_t lim = http_test_limits();
    wm__http_request_t r;
    int status;
    ASSERT_GT(parse_str("GET / HTTP/1.1\r\nHost:h\r\nA: \t a  b \t\r\nB:\r\nC: \t \r\n\r\n", &lim,
                        &r, &status),
              0);
    ASSERT_EQ(r.nheaders, 4);
    ASSERT_SPAN(r.headers[0].value, "h");
    ASSERT_SPAN(r.headers[1].value, "a  b");
    ASSERT_EQ(r.headers[2].value.len, 0);
    ASSERT(r.headers[2].value.p != NULL);
    ASSERT_EQ(r.headers[3].value.len, 0);
}

void test_request_empty_field_block(void)
{
    wm__http_limits_t lim = http_test_limits();
    wm__http_request_t r;
    int status;
    const char *s = "GET / HTTP/1.0\r\n\r\n";
    ASSERT_EQ(parse_str(s, &lim, &r, &status), strlen(s));
    ASSERT_EQ(r.nheaders, 0);
    ASSERT(r.host.p != NULL && r.host.len == 0);
    ASSERT(!r.keep_alive);
    /* With room for no fields at all. */
    lim.max_headers = 0;
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(wm__http_parse_request(s, strlen(s), 0, &lim, &r, &status, &(const char *){NULL}),
              strlen(s));
}

void test_request_too_many_fields(void)
{
    wm__http_limits_t lim = http_test_limits();
    lim.max_headers = 3;
    static const row_t rows[] = {
        R("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", 200),
        R("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431),
        /* Decided at the fourth line's first byte, before it ends. */
        R("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC", 431),
        R("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 200),
    };
    RUN_ROWS(rows, &lim);
}

void test_request_header_bytes_limit(void)
{
    wm__http_limits_t lim = http_test_limits();
    const char *head = "GET / HTTP/1.1\r\nHost: h\r\nX: 0123456789\r\n\r\n";
    size_t n = strlen(head);
    wm__http_request_t r;
    const char *why;
    ssize_t ret;
    /* Exactly at the limit: fine; one byte over: 431. */
    lim.max_header_bytes = n;
    ASSERT_EQ(parse_copy(head, n, 0, &lim, &r, &ret, &why), 200);
    lim.max_header_bytes = n - 1;
    ASSERT_EQ(parse_copy(head, n, 0, &lim, &r, &ret, &why), 431);
    ASSERT_EQ(ret, WM_EMSGSIZE);
    check_prefixes(head, n, &lim, 431, WM_EMSGSIZE);
    /* An unfinished head is refused once it reaches the limit, not left to
     * wait for an end that would be too late anyway. */
    lim.max_header_bytes = 20;
    ASSERT_EQ(parse_copy(head, 19, 0, &lim, &r, &ret, &why), 0);
    ASSERT_EQ(parse_copy(head, 20, 0, &lim, &r, &ret, &why), 431);
    ASSERT_EQ(parse_copy(head, n, 0, &lim, &r, &ret, &why), 431);
    /* A syntax error inside the limit still says 400. */
    const char *bad = "GET / HTTP/1.1\r\nBad : x\r\nX: 0123456789";
    ASSERT_EQ(parse_copy(bad, strlen(bad), 0, &lim, &r, &ret, &why), 400);
}

void test_request_uri_limit(void)
{
    wm__http_limits_t lim = http_test_limits();
    lim.max_uri = 10;
    static const row_t rows[] = {
        R("GET /123456789 HTTP/1.1\r\nHost: h\r\n\r\n", 200),
        R("GET /1234567890 HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        R("GET /1234567890", 414), /* known before the target ends */
        R("GET /123456789", 0),
    };
    RUN_ROWS(rows, &lim);
}

/* RFC 9112 §6.3, with the smuggling-prone cases refused. */
void test_request_framing(void)
{
    wm__http_limits_t lim = http_test_limits();
    lim.max_body = 1000;
    static const row_t rows[] = {
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 200),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", 200),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, \r\n\r\n", 200),
        /* both framings */
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
          400),
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
          400),
        /* final coding not chunked: §6.3 says 400 */
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
          "identity\r\n\r\n",
          400),
        /* chunked last, but another coding first: 501 (§6.1) */
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
          "chunked\r\n\r\n",
          501),
        R("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        /* HTTP/1.0 has no transfer codings */
        R("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        /* Content-Length repeated, even equal, or as a list */
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400),
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n", 200),
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", 413),
        /* a look-alike name is just a field */
        R("POST / HTTP/1.1\r\nHost: h\r\nContent-Length-X: 5\r\nTransfer-Encoding2: x\r\n\r\n",
          200),
    };
    RUN_ROWS(rows, &lim);

    wm__http_request_t r;
    int status;
    ASSERT_GT(
        parse_str("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 42\r\n\r\n", &lim, &r, &status),
        0);
    ASSERT_EQ(r.body_kind, WM_HTTP_BODY_LENGTH);
    ASSERT_EQ(r.content_length, 42);
    ASSERT_GT(
        parse_str("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &lim, &r, &status), 0);
    ASSERT_EQ(r.body_kind, WM_HTTP_BODY_NONE);
    ASSERT_GT(parse_str("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &lim,
                        &r, &status),
              0);
    ASSERT_EQ(r.body_kind, WM_HTTP_BODY_CHUNKED);
    ASSERT_EQ(r.content_length, 0);
    ASSERT_EQ(
        parse_str("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n", &lim, &r, &status),
        WM_EMSGSIZE);
    ASSERT_EQ(status, 413);
}

void test_request_content_length_values(void)
{
    wm__http_limits_t lim = http_test_limits();
    lim.max_body = UINT64_MAX;
    static const row_t rows[] = {
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n", 200),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5.0\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: \xd9\xa5\r\n\r\n", 400), /* Arabic 5 */
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n", 200),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),
        R("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
    };
    RUN_ROWS(rows, &lim);
    wm__http_request_t r;
    int status;
    ASSERT_GT(parse_str("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n",
                        &lim, &r, &status),
              0);
    ASSERT(r.content_length == UINT64_MAX);
    ASSERT_GT(
        parse_str("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length:  007 \r\n\r\n", &lim, &r, &status),
        0);
    ASSERT_EQ(r.content_length, 7);
}

/* RFC 9112 §3.2: exactly one Host in 1.1, at most one in 1.0, and a valid one. */
void test_request_host_rules(void)
{
    wm__http_limits_t lim = http_test_limits();
    static const row_t rows[] = {
        R("GET / HTTP/1.1\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),
        R("GET / HTTP/1.0\r\n\r\n", 200),
        R("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: ../x\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 200),
        R("GET / HTTP/1.1\r\nHost: xn--bcher-kva.example:80\r\n\r\n", 200),
        R("GET / HTTP/1.1\r\nHost:\r\n\r\n", 200), /* empty is allowed (§3.2) */
        R("GET http://a/ HTTP/1.1\r\n\r\n", 400),  /* absolute-form still needs Host in 1.1 */
    };
    RUN_ROWS(rows, &lim);
    wm__http_request_t r;
    int status;
    ASSERT_GT(parse_str("GET / HTTP/1.1\r\nHOST: Example.ORG:81\r\n\r\n", &lim, &r, &status), 0);
    ASSERT_SPAN(r.host, "Example.ORG:81");
}

void test_request_connection_flags(void)
{
    static const struct {
        const char *in;
        bool keep_alive, upgrade, expect;
    } rows[] = {
        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true, false, false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false, false, false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false, false, false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: x\r\nConnection: close\r\n\r\n", false, false,
         false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", true, false, false},
        {"GET / HTTP/1.0\r\n\r\n", false, false, false},
        {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false, false},
        {"GET / HTTP/1.0\r\nConnection:  Keep-Alive \r\n\r\n", true, false, false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: "
         "websocket\r\n\r\n",
         true, true, false},
        {"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", true, false, false},
        {"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n", true, false, false},
        {"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n", true,
         false, true},
        {"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\n", true, false,
         false},
        /* RFC 9110 §10.1.1: ignored in an HTTP/1.0 request */
        {"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", false, false,
         false},
    };
    wm__http_limits_t lim = http_test_limits();
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        wm__http_request_t r;
        int status;
        ssize_t n = parse_str(rows[i].in, &lim, &r, &status);
        if (n <= 0)
            WM_TEST_FAIL("row %zu: %zd", i, n);
        if (r.keep_alive != rows[i].keep_alive || r.upgrade != rows[i].upgrade ||
            r.expect_continue != rows[i].expect)
            WM_TEST_FAIL("row %zu: keep_alive %d upgrade %d expect %d", i, r.keep_alive, r.upgrade,
                         r.expect_continue);
    }
}

/* The last_len shortcut: a head growing a byte at a time gives the same
 * result as parsing it whole, and errors it deferred show at the end. */
void test_request_last_len_hint(void)
{
    wm__http_limits_t lim = http_test_limits();
    static const row_t rows[] = {
        R("GET /a?b HTTP/1.1\r\nHost: h\r\nX: 1\r\n\r\n", 200),
        R("GET /a?b HTTP/1.1\nHost: h\nX: 1\n\n", 200),
        R("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 200),
        R("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        R("GET / HTTP/1.1\r\nHost: h\r\nX: \x01\r\n\r\n", 400),
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t last = 0;
        int st = 0;
        ssize_t ret = 0;
        for (size_t k = 1; k <= rows[i].len; k++) {
            wm__http_request_t r;
            const char *why;
            st = parse_copy(rows[i].in, k, last, &lim, &r, &ret, &why);
            if (st != 0)
                break;
            last = k;
        }
        ASSERT_EQ(st, rows[i].status);
        if (st == 200)
            ASSERT_EQ(ret, rows[i].len);
    }
    /* Deferred: with the hint, a bad field waits for the end of the head. */
    const char *bad = "GET / HTTP/1.1\r\nHost : h\r\nX: 1";
    wm__http_request_t r;
    const char *why;
    ssize_t ret;
    ASSERT_EQ(parse_copy(bad, strlen(bad), strlen(bad) - 1, &lim, &r, &ret, &why), 0);
    ASSERT_EQ(parse_copy(bad, strlen(bad), 0, &lim, &r, &ret, &why), 400);
    /* ...but not past the size limit. */
    lim.max_header_bytes = strlen(bad);
    ASSERT_EQ(parse_copy(bad, strlen(bad), strlen(bad) - 1, &lim, &r, &ret, &why), 400);
}

char *http_guard_page(size_t *page_size)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(p != MAP_FAILED);
    ASSERT_EQ(mprotect(p + ps, ps, PROT_NONE), 0);
    *page_size = ps;
    return p;
}

void http_guard_page_free(char *page, size_t page_size)
{
    munmap(page, 2 * page_size);
}

/* Each prefix of each input ends exactly at a PROT_NONE page: one byte read
 * past len is a SIGSEGV (picohttpparser's test.c does the same). */
void test_request_guard_page(void)
{
    static const char *inputs[] = {
        "GET /x?y HTTP/1.1\r\nHost: h\r\nA:  b \r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\nHost: h\n\n",
        "\r\n\r\nPOST http://h/p HTTP/1.0\r\nContent-Length: 12\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb",
        "GET / HTTP/1.1\r\nHost: h\r\n \r\n",
    };
    wm__http_limits_t lim = http_test_limits();
    size_t ps;
    char *page = http_guard_page(&ps);
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        size_t n = strlen(inputs[i]);
        for (size_t k = 0; k <= n; k++) {
            char *at = page + ps - k;
            memcpy(at, inputs[i], k);
            /* Without the last_len hint, and with it (the shortcut's scan). */
            for (size_t last = 0; last < (k ? 2u : 1u); last++) {
                wm__http_request_t r;
                memset(&r, 0, sizeof(r));
                r.headers = hdrs;
                int status;
                const char *why;
                ssize_t ret =
                    wm__http_parse_request(at, k, last ? k - 1 : 0, &lim, &r, &status, &why);
                ASSERT(ret == WM_EAGAIN || ret == WM_EPROTO || (ret > 0 && (size_t)ret <= k));
            }
        }
    }
    http_guard_page_free(page, ps);
}
