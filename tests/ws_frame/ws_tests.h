/* SPDX-License-Identifier: MIT */
/* The list of wm_ws_frame_tests cases, written once: ws_main.c expands it
 * into the case table and the prototypes. Also the helpers more than one
 * test file uses: building frames and checking that a stream gives the
 * same log whole, split at every byte, and a byte at a time. */
#ifndef WM_WS_TESTS_H
#define WM_WS_TESTS_H

#include "wm_test.h"
#include "ws_driver.h"

/* X(name): a case `name` implemented by `void test_name(void)`. */
#define WM_WS_CASES(X)                                                                             \
    X(header_fields)                                                                               \
    X(header_need)                                                                                 \
    X(header_errors)                                                                               \
    X(rfc_unmasked_text)                                                                           \
    X(rfc_masked_text)                                                                             \
    X(rfc_fragmented_text)                                                                         \
    X(rfc_ping_pong)                                                                               \
    X(rfc_256_binary)                                                                              \
    X(rfc_64k_binary)                                                                              \
    X(control_between_fragments)                                                                   \
    X(reader_errors)                                                                               \
    X(max_message)                                                                                 \
    X(close_payloads)                                                                              \
    X(after_close)                                                                                 \
    X(assembly_buffer_released)                                                                    \
    X(utf8_valid)                                                                                  \
    X(utf8_invalid)                                                                                \
    X(utf8_fragment_splits)                                                                        \
    X(writer_roundtrip)                                                                            \
    X(mask_reference)                                                                              \
    X(random_mask)                                                                                 \
    X(close_payload_builder)

#define WM_WS_DECLARE(name) void test_##name(void);
WM_WS_CASES(WM_WS_DECLARE)
#undef WM_WS_DECLARE

/* Appends one frame to out at *at: a header from the writer, then the
 * payload, masked with key when key is not NULL. */
static inline void ws_put_frame(uint8_t *out, size_t *at, bool fin, int opcode, const void *payload,
                                size_t n, const uint8_t *key)
{
    *at += wm__ws_write_header(out + *at, fin, opcode, n, key);
    if (n)
        memcpy(out + *at, payload, n);
    if (key)
        wm__ws_mask(out + *at, n, key, 0);
    *at += n;
}

/* The stream must log `expect` fed whole, split in two at every byte
 * (sampled past the first and last 64 bytes of a long stream), a byte at a
 * time, and a byte at a time calling only when ev.need is reached. */
static inline void ws_check_splits(const uint8_t *in, size_t n, bool is_server, size_t max,
                                   const char *expect)
{
    char *got = ws_drv_run(in, n, is_server, max, false, NULL, NULL);
    ASSERT_STR_EQ(got, expect);
    free(got);
    for (size_t k = 1; k < n; k++) {
        if (n > 4096 && k > 64 && k < n - 64 && k % 509 != 0)
            continue;
        size_t at = k;
        got = ws_drv_run(in, n, is_server, max, false, ws_drv_at, &at);
        if (strcmp(got, expect) != 0)
            WM_TEST_FAIL("split at %zu: \"%s\" vs \"%s\"", k, got, expect);
        free(got);
    }
    if (n <= 4096) {
        got = ws_drv_run(in, n, is_server, max, false, ws_drv_one, NULL);
        ASSERT_STR_EQ(got, expect);
        free(got);
    }
    got = ws_drv_run(in, n, is_server, max, true, ws_drv_one, NULL);
    ASSERT_STR_EQ(got, expect);
    free(got);
}

/* The log line of an error: "error <errno> <close code>\n". */
static inline const char *ws_err_line(int err, int code)
{
    static char line[64];
    snprintf(line, sizeof(line), "error %d %d\n", -err, code);
    return line;
}

#endif
