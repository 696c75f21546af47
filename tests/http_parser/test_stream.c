/* SPDX-License-Identifier: MIT */
/* Pipelined requests as a server reads them (http_driver.h): heads, bodies
 * by Content-Length and chunked, a stray CRLF, an unfinished last request.
 * The log of the whole stream is checked line by line, then the stream is
 * fed split at every byte position and one byte at a time (with and without
 * the last_len hint): every schedule must write the same log. */
#include "wm_test.h"
#include "http_tests.h"
#include "http_driver.h"

static const char transcript[] =
    "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n"
    "\r\n"
    "GET http://h2/b HTTP/1.0\nConnection: keep-alive\n\n"
    "PUT /c HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
    "Connection: close\r\n\r\nabc"
    "GET /partial HTTP/1.1\r\nHo";

static const char transcript_log[] =
    "REQUEST 32 method=GET target=/a?x=1 path=/a query=x=1 host=h v=1.1 body=0 cl=0 ka=1 ex=0 "
    "up=0\n"
    "  name=Host value=h\n"
    "REQUEST 51 method=POST target=/form path=/form query= host=h v=1.1 body=1 cl=5 ka=1 ex=0 "
    "up=0\n"
    "  name=Host value=h\n"
    "  name=Content-Length value=5\n"
    "BODY 68656c6c6f\n"
    "REQUEST 58 method=POST target=/up path=/up query= host=h v=1.1 body=2 cl=0 ka=1 ex=0 up=0\n"
    "  name=Host value=h\n"
    "  name=Transfer-Encoding value=chunked\n"
    "BODY 57696b697065646961\n"
    "REQUEST 51 method=GET target=http://h2/b path=/b query= host=h2 v=1.0 body=0 cl=0 ka=1 "
    "ex=0 up=0\n"
    "  name=Connection value=keep-alive\n"
    "REQUEST 88 method=PUT target=/c path=/c query= host=h v=1.1 body=1 cl=3 ka=0 ex=1 up=0\n"
    "  name=Host value=h\n"
    "  name=Expect value=100-continue\n"
    "  name=Content-Length value=3\n"
    "  name=Connection value=close\n"
    "BODY 616263\n"
    "END state=0 consumed=322\n";

/* Streams that end in an error, each somewhere else. */
static const char *const bad_streams[] = {
    /* smuggling: both framings on the second request */
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
    "0\r\n\r\n",
    /* a chunked body with a bad chunk after a good one */
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n",
    /* a body longer than its Content-Length runs into the next head */
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokX GET / HTTP/1.1\r\n\r\n",
    /* an error early in an unfinished head (the hint defers it) */
    "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nBad Name: x\r\n",
    /* a bare CR in the second head */
    "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\rHost: h\r\n\r\n",
};

typedef struct split {
    size_t first;
    int calls;
} split_t;

static size_t split_piece(void *arg)
{
    split_t *s = arg;
    return s->calls++ == 0 ? s->first : SIZE_MAX;
}

static size_t one_byte(void *arg)
{
    return 1;
}

static wm__http_limits_t stream_limits(void)
{
    wm__http_limits_t lim = http_test_limits();
    lim.max_body = 1024;
    return lim;
}

static void assert_same_log(const char *what, size_t at, const char *want, const char *got)
{
    if (strcmp(want, got) != 0)
        WM_TEST_FAIL("%s %zu: log differs\n--- whole:\n%s--- this one:\n%s", what, at, want, got);
}

void test_stream_transcript(void)
{
    wm__http_limits_t lim = stream_limits();
    char *log = drv_run(transcript, sizeof(transcript) - 1, &lim, false, NULL, NULL);
    assert_same_log("expected", 0, transcript_log, log);
    free(log);
}

static void split_everywhere(const char *stream, size_t len, const char *want)
{
    wm__http_limits_t lim = stream_limits();
    for (size_t k = 1; k < len; k++) {
        for (int hint = 0; hint < 2; hint++) {
            split_t s = {k, 0};
            char *log = drv_run(stream, len, &lim, hint, split_piece, &s);
            assert_same_log("split at", k, want, log);
            free(log);
        }
    }
}

void test_stream_split_every_byte(void)
{
    split_everywhere(transcript, sizeof(transcript) - 1, transcript_log);
}

void test_stream_one_byte_at_a_time(void)
{
    wm__http_limits_t lim = stream_limits();
    for (int hint = 0; hint < 2; hint++) {
        char *log = drv_run(transcript, sizeof(transcript) - 1, &lim, hint, one_byte, NULL);
        assert_same_log("one byte at a time, hint", (size_t)hint, transcript_log, log);
        free(log);
    }
}

void test_stream_errors_split(void)
{
    wm__http_limits_t lim = stream_limits();
    for (size_t i = 0; i < sizeof(bad_streams) / sizeof(bad_streams[0]); i++) {
        size_t len = strlen(bad_streams[i]);
        char *want = drv_run(bad_streams[i], len, &lim, false, NULL, NULL);
        if (!strstr(want, "ERROR 400 "))
            WM_TEST_FAIL("stream %zu: no 400 in\n%s", i, want);
        split_everywhere(bad_streams[i], len, want);
        for (int hint = 0; hint < 2; hint++) {
            char *log = drv_run(bad_streams[i], len, &lim, hint, one_byte, NULL);
            assert_same_log("one byte at a time, stream", i, want, log);
            free(log);
        }
        free(want);
    }
}
