/* SPDX-License-Identifier: MIT */
/* The way out: the frame header writer read back by the reader for every
 * length encoding (RFC 6455 §5.2), masking against a byte-by-byte reference
 * at every offset and alignment (§5.3), keys from getrandom(2), and close
 * payloads (§5.5.1). */
#include "ws_tests.h"

void test_writer_roundtrip(void)
{
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    static const size_t hlen[] = {2, 2, 2, 4, 4, 4, 10, 10};
    static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];
        uint8_t *pay = malloc(n + 1), *in = malloc(n + WM_WS_MAX_HEADER);
        ASSERT(pay && in);
        for (size_t j = 0; j < n; j++)
            pay[j] = (uint8_t)(j * 31 + i);
        for (int masked = 0; masked < 2; masked++) {
            for (int op = WM_WS_OP_TEXT; op <= WM_WS_OP_BINARY; op++) {
                if (op == WM_WS_OP_TEXT)
                    memset(pay, 'a', n); /* ASCII, so valid UTF-8 */
                uint8_t hdr[WM_WS_MAX_HEADER];
                size_t h = wm__ws_write_header(hdr, true, op, n, masked ? key : NULL);
                ASSERT_EQ(h, hlen[i] + (masked ? 4 : 0));
                size_t at = 0;
                ws_put_frame(in, &at, true, op, pay, n, masked ? key : NULL);
                ASSERT_EQ(at, h + n);
                ASSERT_MEM_EQ(in, hdr, h);
                /* The parser reads back what the writer wrote. */
                wm__ws_frame_t f;
                int code;
                const char *why;
                ASSERT_EQ(wm__ws_parse_header(in, at, &f, &code, &why), (ssize_t)h);
                ASSERT(f.fin && f.masked == masked && f.opcode == op && f.len == n);
                wm__ws_reader_t r;
                wm__ws_reader_init(&r, masked, 0);
                wm__ws_event_t ev;
                ASSERT_EQ(wm__ws_reader_feed(&r, in, at, &ev), (ssize_t)at);
                ASSERT_EQ(ev.type, WM_WS_EV_MESSAGE);
                ASSERT_EQ(ev.opcode, op);
                ASSERT_EQ(ev.len, n);
                ASSERT(ev.data == in + h); /* zero copy: unmasked in place */
                ASSERT_MEM_EQ(ev.data, pay, n);
                wm__ws_reader_free(&r);
            }
        }
        free(pay);
        free(in);
    }
    /* Non-final and control frames, and a 64-bit length's bytes. */
    uint8_t hdr[WM_WS_MAX_HEADER];
    ASSERT_EQ(wm__ws_write_header(hdr, false, WM_WS_OP_CONT, 3, NULL), 2);
    ASSERT(hdr[0] == 0x00 && hdr[1] == 0x03);
    ASSERT_EQ(wm__ws_write_header(hdr, true, WM_WS_OP_PING, 125, NULL), 2);
    ASSERT(hdr[0] == 0x89 && hdr[1] == 0x7d);
    ASSERT_EQ(wm__ws_write_header(hdr, true, WM_WS_OP_BINARY, 0x0102030405060708u, NULL), 10);
    static const uint8_t want[] = {0x82, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8};
    ASSERT_MEM_EQ(hdr, want, sizeof(want));
}

void test_mask_reference(void)
{
    static const uint8_t key[4] = {0x01, 0x23, 0x45, 0x89};
    uint8_t base[80], got[80 + 8], ref[80];
    for (size_t i = 0; i < sizeof(base); i++)
        base[i] = (uint8_t)(i * 13 + 5);
    for (size_t align = 0; align < 8; align++) {
        for (size_t off = 0; off < 9; off++) {
            for (size_t len = 0; len <= 72; len++) {
                memcpy(got + align, base, len);
                memcpy(ref, base, len);
                for (size_t i = 0; i < len; i++)
                    ref[i] ^= key[(off + i) % 4];
                wm__ws_mask(got + align, len, key, off);
                if (memcmp(got + align, ref, len) != 0)
                    WM_TEST_FAIL("align %zu offset %zu len %zu", align, off, len);
                wm__ws_mask(got + align, len, key, off); /* twice restores */
                ASSERT_MEM_EQ(got + align, base, len);
            }
        }
    }
    /* In pieces: masking [0, a) then [a, n) at offset a is masking [0, n). */
    for (size_t a = 0; a <= 40; a++) {
        memcpy(got, base, 40);
        memcpy(ref, base, 40);
        wm__ws_mask(ref, 40, key, 0);
        wm__ws_mask(got, a, key, 0);
        wm__ws_mask(got + a, 40 - a, key, a);
        ASSERT_MEM_EQ(got, ref, 40);
    }
}

void test_random_mask(void)
{
    uint8_t keys[16][4];
    for (int i = 0; i < 16; i++)
        ASSERT_EQ(wm__ws_random_mask(keys[i]), WM_OK);
    /* 16 equal 32-bit keys from a CSPRNG would be a broken kernel. */
    int same = 0;
    for (int i = 1; i < 16; i++)
        same += memcmp(keys[0], keys[i], 4) == 0;
    ASSERT_LT(same, 15);
}

void test_close_payload_builder(void)
{
    uint8_t out[WM_WS_MAX_CONTROL];
    ASSERT_EQ(wm__ws_close_payload(out, 0, "ignored", 7), 0);
    ASSERT_EQ(wm__ws_close_payload(out, 1000, "bye", 3), 5);
    ASSERT_MEM_EQ(out,
                  "\x03\xe8"
                  "bye",
                  5);
    ASSERT_EQ(wm__ws_close_payload(out, 4001, NULL, 0), 2);
    ASSERT(out[0] == 0x0f && out[1] == 0xa1);
    /* 122 ASCII bytes then a 2-byte character would end at 124: the cut at
     * 123 falls inside it, so it is left out. */
    char reason[200];
    memset(reason, 'r', sizeof(reason));
    memcpy(reason + 122, "\xce\xba", 2);
    size_t n = wm__ws_close_payload(out, 1001, reason, sizeof(reason));
    ASSERT_EQ(n, 2 + 122);
    uint32_t st = 0;
    ASSERT(wm__ws_utf8_check(&st, out + 2, n - 2) && st == 0);
    memset(reason, 'r', sizeof(reason));
    memcpy(reason + 121, "\xce\xba", 2);
    ASSERT_EQ(wm__ws_close_payload(out, 1001, reason, sizeof(reason)), 2 + 123);
    /* What it builds, the reader accepts. */
    uint8_t in[WM_WS_MAX_HEADER + WM_WS_MAX_CONTROL];
    size_t at = 0;
    n = wm__ws_close_payload(out, 3000, "done", 4);
    ws_put_frame(in, &at, true, WM_WS_OP_CLOSE, out, n, NULL);
    ws_check_splits(in, at, false, 0, "close 3000 done\npending 0\n");
}
