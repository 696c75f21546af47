/* SPDX-License-Identifier: MIT */
/* The list of wm_http_parser_tests cases, written once: http_main.c expands
 * it into the case table and the prototypes (as tests/libwm_unit/unit.h
 * does). Also the helpers more than one test file uses. */
#ifndef WM_HTTP_TESTS_H
#define WM_HTTP_TESTS_H

#include "http_parse.h"

/* X(name): a case `name` implemented by `void test_name(void)`. */
#define WM_HTTP_CASES(X)                                                                           \
    X(request_basic)                                                                               \
    X(request_header_lookup)                                                                       \
    X(request_target_forms)                                                                        \
    X(request_line_errors)                                                                         \
    X(request_line_endings)                                                                        \
    X(request_leading_empty_lines)                                                                 \
    X(request_field_errors)                                                                        \
    X(request_field_ows)                                                                           \
    X(request_empty_field_block)                                                                   \
    X(request_too_many_fields)                                                                     \
    X(request_header_bytes_limit)                                                                  \
    X(request_uri_limit)                                                                           \
    X(request_framing)                                                                             \
    X(request_content_length_values)                                                               \
    X(request_host_rules)                                                                          \
    X(request_connection_flags)                                                                    \
    X(request_last_len_hint)                                                                       \
    X(request_guard_page)                                                                          \
    X(chunked_basic)                                                                               \
    X(chunked_hex_digits)                                                                          \
    X(chunked_extensions)                                                                          \
    X(chunked_trailers)                                                                            \
    X(chunked_errors)                                                                              \
    X(chunked_max_body)                                                                            \
    X(chunked_sticky_error)                                                                        \
    X(chunked_split_every_byte)                                                                    \
    X(chunked_guard_page)                                                                          \
    X(stream_transcript)                                                                           \
    X(stream_split_every_byte)                                                                     \
    X(stream_one_byte_at_a_time)                                                                   \
    X(stream_errors_split)

#define WM_HTTP_DECLARE(name) void test_##name(void);
WM_HTTP_CASES(WM_HTTP_DECLARE)
#undef WM_HTTP_DECLARE

/* The default limits, with max_headers small enough for a stack array. */
static inline wm__http_limits_t http_test_limits(void)
{
    wm__http_limits_t l = {WM_HTTP_DEFAULT_MAX_HEADER_BYTES, 32, WM_HTTP_DEFAULT_MAX_URI,
                           WM_HTTP_DEFAULT_MAX_BODY};
    return l;
}

/* A page of readable memory followed by a PROT_NONE page: bytes placed to
 * end exactly at the boundary fault on any read past them. */
char *http_guard_page(size_t *page_size);
void http_guard_page_free(char *page, size_t page_size);

#endif
